// The golden l7.json judged by L7Policy against the reference evaluator on
// the blog sample itself: every pod pair, a few ports, HTTP requests and DNS
// names; wherever the evaluator judges L7 on a side, L7Policy must reach the
// same verdict with the same deciding rules.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cnpc/compiler/frontend.h"
#include "l7_policy.h"

namespace {

using namespace cnpc;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(L7PolicyVsEvaluator, BlogSampleGoldenBundle) {
  const std::string root = CNPC_SOURCE_DIR;
  const std::string bundle = root + "/tests/golden/expected/bundle";
  frontend::LoadResult loaded;
  ir::Diagnostics diags;
  std::vector<std::string> paths = {root + "/samples/blog-system/policies",
                                    root + "/samples/blog-system/inventory.yaml"};
  frontend::load_paths(paths, {}, loaded, diags);
  ir::Evaluator ev(loaded.policies, loaded.inventory);
  const auto metadata = nlohmann::json::parse(read_text(bundle + "/metadata.json"));
  const agent::L7Policy policy = agent::L7Policy::parse(read_text(bundle + "/l7.json"));

  struct Pod {
    ir::EndpointId id;
    uint32_t cls;
  };
  std::vector<Pod> pods;
  for (const auto& e : metadata.at("endpoints")) {
    auto id = ev.resolve(e.at("name").get<std::string>(), nullptr);
    ASSERT_TRUE(id) << e.at("name");
    pods.push_back({*id, e.at("class").get<uint32_t>()});
  }
  ASSERT_GE(pods.size(), 4u);

  std::vector<ir::L7Request> requests;
  for (const char* m : {"GET", "POST"})
    for (const char* p : {"/api/posts", "/admin", "/api"}) {
      ir::L7Request r;
      r.kind = ir::L7Kind::Http;
      r.http.method = m;
      r.http.path = p;
      requests.push_back(r);
    }
  for (const char* n : {"was.blog-system.svc.cluster.local", "kube-dns.kube-system.svc.cluster.local.",
                        "example.com", "svc.cluster.local"}) {
    ir::L7Request r;
    r.kind = ir::L7Kind::Dns;
    r.dns_name = n;
    requests.push_back(r);
  }
  const std::vector<std::pair<ir::Proto, uint16_t>> ports = {
      {ir::Proto::TCP, 8080}, {ir::Proto::UDP, 53}, {ir::Proto::TCP, 53}, {ir::Proto::TCP, 3306}};

  size_t judged = 0, allowed = 0;
  for (const Pod& src : pods)
    for (const Pod& dst : pods)
      for (auto [proto, port] : ports)
        for (const auto& req : requests) {
          ir::Flow flow;
          flow.src = src.id;
          flow.dst = dst.id;
          flow.proto = proto;
          flow.ip_proto = proto == ir::Proto::TCP ? 6 : 17;
          flow.port = port;
          flow.l7 = req;
          const ir::Decision d = ev.decide(flow);
          struct Side {
            const ir::SideDecision& s;
            uint32_t self, peer;
            int dir;
          };
          for (const Side& side : {Side{d.ingress, dst.cls, src.cls, 0}, Side{d.egress, src.cls, dst.cls, 1}}) {
            if (!side.s.l7_allowed) continue;  // the evaluator did not judge L7 here
            SCOPED_TRACE(::testing::Message() << "class " << side.self << " dir " << side.dir << " peer "
                                              << side.peer << " port " << port << " "
                                              << (req.kind == ir::L7Kind::Http ? req.http.method + " " + req.http.path
                                                                                 : req.dns_name));
            ASSERT_TRUE(policy.covers(side.self, side.dir, side.peer, flow.ip_proto, port));
            const agent::L7Verdict v =
                req.kind == ir::L7Kind::Http
                    ? policy.judge_http(side.self, side.dir, side.peer, flow.ip_proto, port, req.http)
                    : policy.judge_dns(side.self, side.dir, side.peer, flow.ip_proto, port, req.dns_name);
            ++judged;
            allowed += v.allowed;
            EXPECT_EQ(v.allowed, *side.s.l7_allowed);
            std::vector<uint32_t> want(side.s.l7_rules.begin(), side.s.l7_rules.end());
            if (v.allowed && !want.empty()) want.resize(1);  // L7Verdict names the first admitting rule
            EXPECT_EQ(v.rules, want);
          }
        }
  // The sample has L7 on was's ingress and on both DNS egresses.
  EXPECT_GT(judged, 20u);
  EXPECT_GT(allowed, 0u);
  EXPECT_LT(allowed, judged);
}

}  // namespace
