// The reference evaluator: Cilium's policy semantics as executable code.
//
// decide(flow) is the ground truth that the verifier's Z3 answers and the
// generated BPF programs are tested against, so it favours being obviously
// right; speed comes from precomputing identity classes (which selectors
// match which identity) once, not from cleverness per flow.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cnpc/ir/ir.h"

namespace cnpc::ir {

// Agent settings, named as Cilium names them.
enum class EnforcementMode { Default, Always, Never };  // --policy-enforcement
enum class AllowLocalhost { Always, Policy };           // --allow-localhost

struct EvalOptions {
  EnforcementMode enforcement = EnforcementMode::Default;
  bool audit_mode = false;  // --policy-audit-mode
  AllowLocalhost allow_localhost = AllowLocalhost::Always;
};

struct HttpRequest {
  std::string method, path, host;
  std::vector<std::pair<std::string, std::string>> headers;
};
struct KafkaRequest {
  std::string api_key;  // name, e.g. "produce"
  int api_version = 0;
  std::string client_id;
  std::string topic;
};
struct L7Request {
  L7Kind kind = L7Kind::Http;
  HttpRequest http;
  std::string dns_name;  // DNS query name
  KafkaRequest kafka;
};

using EndpointId = uint32_t;

struct Flow {
  EndpointId src = 0, dst = 0;
  // The address of a world endpoint (cidr:IP); ignored for other endpoints.
  std::optional<IpAddr> src_ip, dst_ip;
  Proto proto = Proto::TCP;  // TCP, UDP, SCTP, ICMP, ICMPv6 or any IP protocol number
  uint8_t ip_proto = 6;      // the raw protocol number (for protocols without a Proto name)
  uint16_t port = 0;         // destination port
  uint8_t icmp_type = 0;
  std::optional<L7Request> l7;
};

enum class Verdict { Allowed, Denied, Audit };
enum class DropReason { None, PolicyDenied, PolicyDeny };  // no allow / explicit deny
std::string to_string(Verdict v);
std::string to_string(DropReason r);

// What one side (the source's egress or the destination's ingress) decided.
struct SideDecision {
  bool applies = false;   // the endpoint is local and its policy was consulted
  bool enforced = false;  // at least one rule has this section (or mode always)
  bool default_deny = false;
  Verdict verdict = Verdict::Allowed;
  DropReason reason = DropReason::None;
  std::vector<RuleId> deny_rules;   // matching deny rules
  std::vector<RuleId> allow_rules;  // matching allow rules
  std::vector<size_t> enforcing_specs;  // specs that put the endpoint into default deny
  bool localhost_allowed = false;   // allowed by --allow-localhost=always
  bool l7_enforced = false;
  L7Kind l7_kind = L7Kind::None;
  std::optional<bool> l7_allowed;   // set when a request was given
  std::vector<RuleId> l7_rules;     // rules whose L7 (or L7 wildcard) decided the request
};

struct Decision {
  Verdict verdict = Verdict::Allowed;
  DropReason reason = DropReason::None;
  bool l7_enforced = false;
  // Set when a request was given and the flow is allowed at L3/L4.
  std::optional<Verdict> l7_verdict;
  SideDecision egress, ingress;
  // The rules that decided: the denies, else the default-deny specs'
  // origins, else the allows (and the L7 rules for a request).
  std::vector<Origin> deciding_origins(const PolicySet& policies) const;
};

class Evaluator {
 public:
  Evaluator(const PolicySet& policies, const Inventory& inventory, EvalOptions options = {},
            std::vector<DnsCacheEntry> dns_cache = {});
  ~Evaluator();
  Evaluator(Evaluator&&) noexcept;
  Evaluator& operator=(Evaluator&&) noexcept;

  // Inventory endpoints first, then one endpoint per reserved identity.
  const std::vector<Endpoint>& endpoints() const;
  // "ns/pod" (pod or workload name), "entity:NAME", "node:NAME", "cidr:IP".
  // A cidr: address that belongs to a pod resolves to that pod.
  std::optional<EndpointId> resolve(std::string_view ref, std::optional<IpAddr>* ip_out) const;
  std::optional<EndpointId> find_by_ip(const IpAddr& ip) const;
  EndpointId world() const;

  Decision decide(const Flow& flow) const;

  // Why one rule does or does not match a flow (cnpc query --explain).
  struct RuleTrace {
    bool selects_subject = false;  // its subject selector selects the rule's side
    bool peer_matches = false;
    bool l4_matches = false;
  };
  RuleTrace trace(RuleId r, const Flow& flow) const;

  // Identity classes: endpoints that every rule treats alike (same kind,
  // same selector matches, same named ports and DNS cache when used).
  size_t identity_count() const;
  size_t class_count() const;
  uint32_t class_of(EndpointId id) const;
  EndpointId representative(uint32_t cls) const;

  // The class view that the verifier and codegen encode: every fact about a
  // rule that depends on identities, precomputed per class.
  struct ClassEnforcement {
    bool applies = false;  // a local endpoint whose policy is consulted
    bool enforced = false;
    bool default_deny = false;
  };
  ClassEnforcement enforcement(uint32_t cls, Direction dir) const;
  bool rule_selects(RuleId r, uint32_t cls) const;
  // The rules (both actions) whose subject selects class `cls` in `dir`.
  const std::vector<RuleId>& rules_of(uint32_t cls, Direction dir) const;
  // Peer `i` of rule `r` (an Endpoints, Entity or Nodes peer) matches a peer
  // of class `peer_cls` when the subject is of class `subject_cls`
  // (fromRequires depend on the subject).
  bool peer_class_matches(RuleId r, size_t i, uint32_t subject_cls, uint32_t peer_cls) const;
  // What the DNS proxy has seen (toFQDNs); node-wide, as in Cilium.
  const std::vector<DnsCacheEntry>& dns_cache() const;
  // The port a named port resolves to for a flow to `dst` (see evaluator.cpp).
  std::optional<uint16_t> named_port(Direction dir, EndpointId dst, const std::string& name,
                                     Proto proto) const;
  const EvalOptions& options() const;

  const PolicySet& policies() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// L7 matching (full-match RE2 for HTTP, Cilium's DNS pattern language,
// Kafka role expansion). Exposed for the agent and for tests.
bool http_rule_matches(const HttpRule& rule, const HttpRequest& req);
bool dns_rule_matches(const DnsRule& rule, const std::string& name);
bool dns_pattern_matches(const std::string& pattern, const std::string& name);
bool kafka_rule_matches(const KafkaRule& rule, const KafkaRequest& req);
// Cilium's matchPattern as an RE2 regex over a lower-cased name with a trailing dot.
std::string dns_pattern_to_regex(const std::string& pattern);

// Canonical text dump of the IR (golden tests, `cnpc lint --dump-ir`).
std::string print(const PolicySet& policies);
std::string print(const Rule& rule);

}  // namespace cnpc::ir
