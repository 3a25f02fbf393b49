// libFuzzer target: the YAML frontend, then the evaluator over what it loaded.
//
// Input: one manifest file (any bytes). The frontend must report problems as
// diagnostics and never crash, hang or leak; when it reports no errors, the
// evaluator is built over the result and decides a bounded set of flows
// between the loaded endpoints (pods, nodes, reserved identities, a world
// address), with and without L7 requests. Diagnostics are rendered and the
// IR printed, so those paths see fuzzed data too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"

namespace {

using namespace cnpc;

// Ports the loaded rules mention (bounded), plus a few fixed ones.
std::vector<uint16_t> interesting_ports(const ir::PolicySet& policies) {
  std::vector<uint16_t> ports = {53, 80};
  for (const auto& rule : policies.rules) {
    for (const auto& pr : rule.port_rules)
      for (const auto& pm : pr.ports) {
        ports.push_back(pm.first);
        if (pm.last != pm.first) ports.push_back(pm.last);
        if (ports.size() >= 6) return ports;
      }
  }
  return ports;
}

void decide_some(const ir::PolicySet& policies, const ir::Inventory& inventory) {
  ir::Evaluator eval(policies, inventory);
  const auto& eps = eval.endpoints();
  // The first few inventory endpoints and every reserved identity (they
  // come last), so pods, nodes, host and world all take part.
  std::vector<ir::EndpointId> ids;
  for (ir::EndpointId i = 0; i < eps.size() && ids.size() < 5; ++i) ids.push_back(i);
  const size_t reserved_from = inventory.endpoints.size();
  for (ir::EndpointId i = ir::EndpointId(reserved_from); i < eps.size(); ++i)
    if (std::find(ids.begin(), ids.end(), i) == ids.end()) ids.push_back(i);

  const std::vector<uint16_t> ports = interesting_ports(policies);
  const auto world_ip = ir::IpAddr::parse("192.168.1.7");
  const auto world_ip6 = ir::IpAddr::parse("2001:db8::7");

  ir::L7Request http;
  http.kind = ir::L7Kind::Http;
  http.http = {"GET", "/api/v1/items", "example.com", {{"X-Token", "abc"}}};
  ir::L7Request dns;
  dns.kind = ir::L7Kind::Dns;
  dns.dns_name = "db.svc.cluster.local";
  ir::L7Request kafka;
  kafka.kind = ir::L7Kind::Kafka;
  kafka.kafka = {"produce", 1, "client", "topic"};

  size_t n = 0;
  for (ir::EndpointId src : ids)
    for (ir::EndpointId dst : ids) {
      ir::Flow f;
      f.src = src;
      f.dst = dst;
      if (src == eval.world()) f.src_ip = (n & 1) ? world_ip6 : world_ip;
      if (dst == eval.world()) f.dst_ip = (n & 1) ? world_ip : world_ip6;
      const ir::Decision d0 = eval.decide(f);  // TCP port 0
      (void)d0.deciding_origins(eval.policies());
      for (uint16_t port : ports) {
        f.proto = ir::Proto::TCP;
        f.ip_proto = 6;
        f.port = port;
        f.l7.reset();
        (void)eval.decide(f).deciding_origins(eval.policies());
        f.l7 = (n % 3 == 0) ? http : (n % 3 == 1) ? dns : kafka;
        (void)eval.decide(f).deciding_origins(eval.policies());
        f.proto = ir::Proto::UDP;
        f.ip_proto = 17;
        f.l7 = dns;
        (void)eval.decide(f);
        ++n;
      }
      f.l7.reset();
      f.proto = ir::Proto::ICMP;
      f.ip_proto = 1;
      f.port = 0;
      f.icmp_type = 8;
      (void)eval.decide(f);
      f.proto = ir::Proto::ICMPv6;
      f.ip_proto = 58;
      f.icmp_type = 128;
      (void)eval.decide(f);
    }
  (void)eval.identity_count();
  (void)eval.class_count();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  frontend::LoadResult result;
  ir::Diagnostics diags;
  diags.add_source("fuzz.yaml", text);
  frontend::load_text("fuzz.yaml", text, {}, result, diags);

  diags.sort();
  for (const auto& d : diags.all()) (void)ir::render_text(diags, d, (size & 1) != 0);

  if (!diags.has_errors()) {
    (void)ir::print(result.policies);
    decide_some(result.policies, result.inventory);
  }
  return 0;
}
