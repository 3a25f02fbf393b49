// The agent's judge for both proxies: which L7 tables apply to a proxied
// flow (the client's egress, the server's ingress), what they say about a
// request, and the Hubble flow record of each exchange. Its state is
// swapped whole on reload; requests in flight finish under the state they
// started with, the next ones see the new one.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "endpoint_index.h"
#include "flow_log.h"
#include "l7_policy.h"
#include "proxy.h"

namespace cnpc::agent {

struct L7State {
  L7State(L7Policy p, EndpointIndex i);
  L7Policy policy;
  EndpointIndex index;
  // policy.redirects() by (class, direction): which tables judge which flows.
  std::map<std::pair<uint32_t, int>, std::vector<L7Redirect>> redirects;
};

class L7Enforcer final : public HttpJudge, public DnsJudge {
 public:
  L7Enforcer(FlowLog& log, std::string node_name) : log_(log), node_name_(std::move(node_name)) {}
  void update(std::shared_ptr<const L7State> state);

  // Both proxies: SO_MARK kProxyMark | the client's class, so the
  // destination's ingress program judges the upstream connection as the
  // client's.
  std::optional<uint32_t> admit(const ProxiedFlow& flow) override;
  bool allow(const ProxiedFlow& flow, const ir::HttpRequest& request) override;
  void record(const ProxiedFlow& flow, const HttpExchange& exchange) override;
  bool allow(const ProxiedFlow& flow, const std::string& qname) override;
  void record(const ProxiedFlow& flow, const DnsExchange& exchange) override;

 private:
  struct Judgement {
    bool allowed = true;
    bool ingress = false;        // decided by the server's ingress table (else the client's egress)
    std::vector<uint32_t> rules;  // the deciding rules
  };
  std::shared_ptr<const L7State> state() const;
  template <class Judge>
  Judgement judge(const L7State& s, const ProxiedFlow& flow, ir::L7Kind kind, Judge&& judge_one) const;
  FlowRecord base_record(const L7State& s, const ProxiedFlow& flow, const Judgement& j) const;
  void write_exchange(const FlowRecord& request, const std::function<void(FlowRecord&)>& fill_response);

  FlowLog& log_;
  std::string node_name_;
  mutable std::mutex mutex_;
  std::shared_ptr<const L7State> state_;
};

}  // namespace cnpc::agent
