#include "l7_enforcer.h"

#include <algorithm>
#include <chrono>
#include <functional>

#include "cnpc/runtime/abi.h"

namespace cnpc::agent {
namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whether a table has rules of `kind` for (peer, proto, port): only then does it judge the request.
bool has_l7(const L7State& s, uint32_t class_id, int direction, uint32_t peer, uint8_t proto, uint16_t port,
            ir::L7Kind kind) {
  auto table = s.redirects.find({class_id, direction});
  if (table == s.redirects.end()) return false;
  for (const auto& r : table->second) {
    if (r.kind != kind || r.ip_proto != proto) continue;
    if (port < r.first || port > r.last) continue;
    if (!r.peers || std::find(r.peers->begin(), r.peers->end(), peer) != r.peers->end()) return true;
  }
  return false;
}

}  // namespace

L7State::L7State(L7Policy p, EndpointIndex i) : policy(std::move(p)), index(std::move(i)) {
  for (auto& r : policy.redirects()) redirects[{r.class_id, r.direction}].push_back(std::move(r));
}

void L7Enforcer::update(std::shared_ptr<const L7State> state) {
  std::lock_guard lock(mutex_);
  state_ = std::move(state);
}

std::shared_ptr<const L7State> L7Enforcer::state() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::optional<uint32_t> L7Enforcer::admit(const ProxiedFlow& flow) {
  auto s = state();
  if (!s) return std::nullopt;
  uint32_t client = s->index.resolve(flow.client.ip).class_id;
  if (client & runtime::kProxyMarkMask) return std::nullopt;  // no class (or one the mark cannot carry)
  return runtime::kProxyMark | client;
}

// Both tables that apply must allow: the client's egress rules and the
// server's ingress rules (the datapath enforced L3/L4 on both sides).
template <class Judge>
L7Enforcer::Judgement L7Enforcer::judge(const L7State& s, const ProxiedFlow& flow, ir::L7Kind kind,
                                        Judge&& judge_one) const {
  Judgement j;
  uint32_t client = s.index.resolve(flow.client.ip).class_id;
  uint32_t server = s.index.resolve(flow.server.ip).class_id;
  struct Side {
    uint32_t subject, peer;
    int direction;
  };
  for (Side side : {Side{client, server, runtime::kDirEgress}, Side{server, client, runtime::kDirIngress}}) {
    if (!has_l7(s, side.subject, side.direction, side.peer, flow.ip_proto, flow.server.port, kind))
      continue;
    L7Verdict v = judge_one(side.subject, side.direction, side.peer);
    j.ingress = side.direction == runtime::kDirIngress;
    j.rules = v.rules;
    if (!v.allowed) {
      j.allowed = false;
      return j;
    }
  }
  return j;
}

FlowRecord L7Enforcer::base_record(const L7State& s, const ProxiedFlow& flow, const Judgement& j) const {
  FlowRecord r;
  r.time_ns = now_ns();
  r.verdict = j.allowed ? "FORWARDED" : "DROPPED";
  r.drop_reason = j.allowed ? "" : "POLICY_DENIED";
  r.ip_proto = flow.ip_proto;
  r.ipv6 = flow.client.ip.find(':') != std::string::npos;
  r.source = s.index.endpoint(flow.client.ip, flow.client.port);
  r.destination = s.index.endpoint(flow.server.ip, flow.server.port);
  r.traffic_direction = j.ingress ? "INGRESS" : "EGRESS";
  r.l7 = true;
  r.l7_type = "REQUEST";
  r.policies = s.index.policies_of(j.rules);
  r.is_reply = false;
  r.node_name = node_name_;
  return r;
}

bool L7Enforcer::allow(const ProxiedFlow& flow, const ir::HttpRequest& request) {
  auto s = state();
  if (!s) return false;
  return judge(*s, flow, ir::L7Kind::Http, [&](uint32_t subject, int direction, uint32_t peer) {
           return s->policy.judge_http(subject, direction, peer, flow.ip_proto, flow.server.port, request);
         }).allowed;
}

// As Hubble: a REQUEST record from the client (DROPPED when denied), and
// for a forwarded exchange a RESPONSE record from the server back to the
// client (is_reply) with the status and the latency.
void L7Enforcer::write_exchange(const FlowRecord& request, const std::function<void(FlowRecord&)>& fill_response) {
  log_.write(request);
  if (request.verdict != "FORWARDED") return;
  FlowRecord response = request;
  std::swap(response.source, response.destination);
  response.l7_type = "RESPONSE";
  response.is_reply = true;
  fill_response(response);
  log_.write(response);
}

void L7Enforcer::record(const ProxiedFlow& flow, const HttpExchange& exchange) {
  auto s = state();
  if (!s) return;
  Judgement j = judge(*s, flow, ir::L7Kind::Http, [&](uint32_t subject, int direction, uint32_t peer) {
    return s->policy.judge_http(subject, direction, peer, flow.ip_proto, flow.server.port, exchange.request);
  });
  // What the client got decides the verdict (the rules may have changed since allow()).
  j.allowed = exchange.allowed;
  FlowRecord request = base_record(*s, flow, j);
  request.time_ns -= exchange.latency.count();  // when the request was judged
  FlowHttp http;
  http.method = exchange.request.method;
  http.url = exchange.url;
  if (!exchange.allowed) http.code = exchange.status;  // the proxy's own 403
  request.http = http;
  write_exchange(request, [&](FlowRecord& response) {
    response.time_ns += exchange.latency.count();
    response.latency_ns = uint64_t(exchange.latency.count());
    response.http->code = exchange.status;
  });
}

bool L7Enforcer::allow(const ProxiedFlow& flow, const std::string& qname) {
  auto s = state();
  if (!s) return false;
  return judge(*s, flow, ir::L7Kind::Dns, [&](uint32_t subject, int direction, uint32_t peer) {
           return s->policy.judge_dns(subject, direction, peer, flow.ip_proto, flow.server.port, qname);
         }).allowed;
}

void L7Enforcer::record(const ProxiedFlow& flow, const DnsExchange& exchange) {
  auto s = state();
  if (!s) return;
  Judgement j = judge(*s, flow, ir::L7Kind::Dns, [&](uint32_t subject, int direction, uint32_t peer) {
    return s->policy.judge_dns(subject, direction, peer, flow.ip_proto, flow.server.port, exchange.qname);
  });
  j.allowed = exchange.allowed;
  FlowRecord request = base_record(*s, flow, j);
  FlowDns dns;
  dns.query = exchange.qname + ".";
  dns.qtypes = exchange.qtypes;
  if (!exchange.allowed) dns.rcode = exchange.rcode;  // the proxy's own REFUSED
  request.dns = dns;
  write_exchange(request, [&](FlowRecord& response) {
    response.dns->ips = exchange.ips;
    response.dns->rcode = exchange.rcode;
  });
}

}  // namespace cnpc::agent
