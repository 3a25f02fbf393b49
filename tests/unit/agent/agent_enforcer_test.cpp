// The agent's view of the sample's bundle (tests/golden/expected/bundle):
// addresses to pods and identities, and the L7 judge both proxies use,
// with the Hubble records it writes.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cnpc/runtime/abi.h"
#include "endpoint_index.h"
#include "flow_log.h"
#include "l7_enforcer.h"

namespace cnpc::agent {
namespace {

using nlohmann::json;

std::string read(const std::string& name) {
  std::ifstream in(std::string(CNPC_SOURCE_DIR) + "/tests/golden/expected/bundle/" + name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Class ids by endpoint name, from the golden metadata (not hard-coded).
uint32_t class_of(const std::string& endpoint) {
  const json metadata = json::parse(read("metadata.json"));  // outlives the loop
  for (const auto& e : metadata.at("endpoints"))
    if (e.at("name") == endpoint) return e.at("class").get<uint32_t>();
  ADD_FAILURE() << "no endpoint " << endpoint;
  return 0;
}

EndpointIndex sample_index(std::vector<std::pair<std::string, std::string>> endpoints = {}) {
  return EndpointIndex(read("metadata.json"), read("ipcache.json"), endpoints);
}

TEST(EndpointIndex, ResolvesPodsWorldAndRules) {
  EndpointIndex index = sample_index();
  ResolvedAddress web = index.resolve("10.0.1.10");
  EXPECT_EQ(web.class_id, class_of("blog-system/web"));
  EXPECT_EQ(web.ns, "blog-system");
  EXPECT_EQ(web.pod, "web");
  EXPECT_NE(std::find(web.labels.begin(), web.labels.end(), "k8s:app=web"), web.labels.end());
  EXPECT_EQ(index.identity_of(web.class_id), 256 + web.class_id);

  ResolvedAddress outside = index.resolve("192.0.2.7");
  EXPECT_TRUE(outside.pod.empty());
  EXPECT_EQ(index.identity_of(outside.class_id), 2u) << "reserved:world";
  EXPECT_NE(std::find(outside.labels.begin(), outside.labels.end(), "reserved:world"), outside.labels.end());
  EXPECT_EQ(index.identity_of(0xFFFFFFFFu), 0u);

  auto policy = index.policy_of_rule(0);
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->kind, "CiliumNetworkPolicy");
  EXPECT_FALSE(policy->name.empty());
  EXPECT_FALSE(index.policy_of_rule(100000));
}

TEST(EndpointIndex, AClassSeenAtAnotherAddress) {
  EndpointIndex index = sample_index();
  uint32_t web = class_of("blog-system/web");
  // The proxy's upstream leg: the host's address, web's class (one pod).
  FlowEndpoint e = index.endpoint_of_class(web, "192.168.0.1", 40000);
  EXPECT_EQ(e.ip, "192.168.0.1");
  EXPECT_EQ(e.identity, 256 + web);
  EXPECT_EQ(e.ns, "blog-system");
  EXPECT_EQ(e.pod, "web");
  EXPECT_NE(std::find(e.labels.begin(), e.labels.end(), "k8s:app=web"), e.labels.end());
}

TEST(EndpointIndex, AgentEndpointsOverrideTheCompiledAddresses) {
  // The pod moved to a new address after the compile.
  EndpointIndex index = sample_index({{"blog-system/was", "10.9.9.9"}});
  ResolvedAddress was = index.resolve("10.9.9.9");
  EXPECT_EQ(was.class_id, class_of("blog-system/was"));
  EXPECT_EQ(was.pod, "was");
}

class EnforcerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_path_ = std::filesystem::temp_directory_path() /
                ("cnpc-enforcer-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json");
    std::filesystem::remove(log_path_);
    log_ = std::make_unique<FlowLog>(log_path_.string());
    enforcer_ = std::make_unique<L7Enforcer>(*log_, "node-a");
    enforcer_->update(std::make_shared<const L7State>(L7Policy::parse(read("l7.json")), sample_index()));
  }
  void TearDown() override {
    enforcer_.reset();
    log_.reset();
    std::filesystem::remove(log_path_);
  }
  std::vector<json> flows() {
    log_->flush();
    std::vector<json> out;
    std::ifstream in(log_path_);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  static ir::HttpRequest request(const std::string& method, const std::string& path) {
    ir::HttpRequest r;
    r.method = method;
    r.path = path;
    r.host = "10.0.2.20:8080";
    return r;
  }

  std::filesystem::path log_path_;
  std::unique_ptr<FlowLog> log_;
  std::unique_ptr<L7Enforcer> enforcer_;
  ProxiedFlow web_to_was{{"10.0.1.10", 40000}, {"10.0.2.20", 8080}, 6};
  ProxiedFlow web_to_dns{{"10.0.1.10", 40001}, {"10.0.0.53", 53}, 17};
};

TEST_F(EnforcerTest, AdmitMarksTheUpstreamWithTheClientsClass) {
  auto mark = enforcer_->admit(web_to_was);
  ASSERT_TRUE(mark);
  EXPECT_EQ(*mark, runtime::kProxyMark | class_of("blog-system/web"));
}

TEST_F(EnforcerTest, HttpFollowsTheServersIngressRules) {
  EXPECT_TRUE(enforcer_->allow(web_to_was, request("GET", "/api/posts")));
  EXPECT_FALSE(enforcer_->allow(web_to_was, request("POST", "/api/posts")));
  EXPECT_FALSE(enforcer_->allow(web_to_was, request("GET", "/admin")));
}

TEST_F(EnforcerTest, DnsFollowsTheClientsEgressRules) {
  EXPECT_TRUE(enforcer_->allow(web_to_dns, std::string("was.blog-system.svc.cluster.local")));
  EXPECT_FALSE(enforcer_->allow(web_to_dns, std::string("example.com")));
}

TEST_F(EnforcerTest, RecordsHubbleFlowsNamingTheDecidingPolicy) {
  HttpExchange denied;
  denied.request = request("POST", "/api/posts");
  denied.url = "http://10.0.2.20:8080/api/posts";
  denied.status = 403;
  denied.allowed = false;
  enforcer_->record(web_to_was, denied);
  DnsExchange refused;
  refused.qname = "example.com";
  refused.qtypes = {"A"};
  refused.rcode = 5;
  refused.allowed = false;
  enforcer_->record(web_to_dns, refused);

  auto lines = flows();
  ASSERT_EQ(lines.size(), 2u);
  const json& http = lines[0].at("flow");
  EXPECT_EQ(http.at("verdict"), "DROPPED");
  EXPECT_EQ(http.at("Type"), "L7");
  EXPECT_EQ(http.at("traffic_direction"), "INGRESS");
  EXPECT_EQ(http.at("l7").at("http").at("code"), 403);
  EXPECT_EQ(http.at("l7").at("http").at("method"), "POST");
  EXPECT_EQ(http.at("source").at("pod_name"), "web");
  EXPECT_EQ(http.at("destination").at("pod_name"), "was");
  EXPECT_EQ(http.at("ingress_denied_by").at(0).at("name"), "api-read-only");
  EXPECT_EQ(http.at("node_name"), "node-a");

  const json& dns = lines[1].at("flow");
  EXPECT_EQ(dns.at("verdict"), "DROPPED");
  EXPECT_EQ(dns.at("traffic_direction"), "EGRESS");
  EXPECT_EQ(dns.at("l7").at("dns").at("query"), "example.com.");
  EXPECT_EQ(dns.at("l7").at("dns").at("rcode"), 5);
  EXPECT_EQ(dns.at("egress_denied_by").at(0).at("name"), "web-egress");
}

TEST_F(EnforcerTest, ForwardedExchangesRecordARequestAndAReply) {
  HttpExchange ok;
  ok.request = request("GET", "/api/posts");
  ok.url = "http://10.0.2.20:8080/api/posts";
  ok.status = 200;
  ok.allowed = true;
  ok.latency = std::chrono::milliseconds(3);
  enforcer_->record(web_to_was, ok);
  DnsExchange resolved;
  resolved.qname = "was.blog-system.svc.cluster.local";
  resolved.qtypes = {"A"};
  resolved.ips = {"10.0.2.20"};
  resolved.allowed = true;
  enforcer_->record(web_to_dns, resolved);

  auto lines = flows();
  ASSERT_EQ(lines.size(), 4u);
  const json& req = lines[0].at("flow");
  EXPECT_EQ(req.at("verdict"), "FORWARDED");
  EXPECT_EQ(req.at("l7").at("type"), "REQUEST");
  EXPECT_EQ(req.at("source").at("pod_name"), "web");
  EXPECT_FALSE(req.at("l7").at("http").contains("code")) << "a request has no status yet";
  EXPECT_EQ(req.at("ingress_allowed_by").at(0).at("name"), "api-read-only");
  const json& resp = lines[1].at("flow");
  EXPECT_EQ(resp.at("l7").at("type"), "RESPONSE");
  EXPECT_EQ(resp.at("source").at("pod_name"), "was") << "a response runs from the server";
  EXPECT_EQ(resp.at("destination").at("pod_name"), "web");
  EXPECT_EQ(resp.at("is_reply"), true);
  EXPECT_EQ(resp.at("l7").at("http").at("code"), 200);
  EXPECT_EQ(resp.at("l7").at("latency_ns"), "3000000");
  EXPECT_EQ(lines[2].at("flow").at("l7").at("type"), "REQUEST");
  const json& answer = lines[3].at("flow").at("l7").at("dns");
  EXPECT_EQ(answer.at("ips").at(0), "10.0.2.20");
  EXPECT_EQ(lines[3].at("flow").at("egress_allowed_by").at(0).at("name"), "web-egress");
}

TEST_F(EnforcerTest, WithoutStateNothingIsAdmitted) {
  L7Enforcer empty(*log_, "node-a");
  EXPECT_FALSE(empty.admit(web_to_was));
  EXPECT_FALSE(empty.allow(web_to_was, request("GET", "/api/posts")));
}

}  // namespace
}  // namespace cnpc::agent
