// The L7 proxy's view of a bundle's l7.json (format cnpc-l7/1, see
// docs/bundle-format.md "L7 tables"): per (identity class, direction), the
// allow entries of that direction in precedence order. Judges one HTTP
// request or DNS query exactly as the evaluator does (ir::http_rule_matches,
// ir::dns_rule_matches); an RE2::Set over each entry's paths picks the HTTP
// rules worth checking instead of trying every rule in turn.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"
#include "cnpc/ir/ir.h"

namespace cnpc::agent {

inline constexpr uint32_t kNoRuleId = 0xFFFFFFFFu;

struct L7Verdict {
  bool allowed = false;
  // allowed: the rule id of the entry that admitted the request (the lowest
  // admitting rule id: the evaluator's SideDecision::l7_rules.front()).
  // denied: the rule ids of the L7 entries that covered (peer, port) and
  // whose rules the request failed (the policies that decided), in order.
  std::vector<uint32_t> rules;
};

// A port span of an L7 entry: the datapath sends its traffic to the proxy.
struct L7Redirect {
  uint32_t class_id = 0;
  int direction = 0;                           // runtime::kDirIngress / kDirEgress
  std::optional<std::vector<uint32_t>> peers;  // nullopt: every peer
  uint8_t ip_proto = 6;                        // 6 TCP, 17 UDP, 132 SCTP
  uint16_t first = 0, last = 0;
  ir::L7Kind kind = ir::L7Kind::Http;
  uint32_t rule = kNoRuleId;
};

class L7Policy {
 public:
  struct Options {
    // false: try every HTTP rule of an entry in turn (the baseline the
    // benchmark compares RE2::Set candidate selection against).
    bool use_re2_set = true;
  };
  // Parses l7.json text. Throws std::runtime_error naming what is wrong.
  static L7Policy parse(const std::string& json_text, Options options);
  static L7Policy parse(const std::string& json_text) { return parse(json_text, Options{}); }
  L7Policy();  // no tables: nothing is redirected
  L7Policy(L7Policy&&) noexcept;
  L7Policy& operator=(L7Policy&&) noexcept;
  ~L7Policy();

  // class_id/direction: the endpoint whose table applies (the destination
  // for ingress, the source for egress); peer: the other side's class;
  // ip_proto/port: the destination's. A request no entry covers is denied
  // with no rules.
  L7Verdict judge_http(uint32_t class_id, int direction, uint32_t peer, uint8_t ip_proto, uint16_t port,
                       const ir::HttpRequest& request) const;
  // qname as on the wire, any case, with or without the trailing dot.
  L7Verdict judge_dns(uint32_t class_id, int direction, uint32_t peer, uint8_t ip_proto, uint16_t port,
                      const std::string& qname) const;
  // Whether some entry of the table covers (peer, proto, port): the L3/L4
  // part of the allow (deny rules are not in l7.json; the datapath has them).
  bool covers(uint32_t class_id, int direction, uint32_t peer, uint8_t ip_proto, uint16_t port) const;
  // Every port span of an entry with HTTP, DNS or Kafka rules.
  std::vector<L7Redirect> redirects() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnpc::agent
