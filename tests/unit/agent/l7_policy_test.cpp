// L7Policy on handwritten l7.json and on the sample's golden bundle.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "l7_policy.h"

namespace {

using cnpc::agent::L7Policy;
using cnpc::agent::L7Redirect;
using cnpc::agent::L7Verdict;
using cnpc::ir::HttpRequest;
using cnpc::ir::L7Kind;
using nlohmann::json;

constexpr int kIngress = 0, kEgress = 1;
constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132;

HttpRequest http(std::string method, std::string path, std::string host = "",
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.host = std::move(host);
  r.headers = std::move(headers);
  return r;
}

// Shaped like the blog sample: class 1 (was) admits GET /api/.* from class
// 0 (web) on 8080; class 0's egress has DNS to class 4 and a plain allow.
const char* kSampleLike = R"({"format": "cnpc-l7/1", "tables": [
  {"class": 1, "direction": "ingress", "entries": [
    {"rule": 0, "kind": "http", "peers": [0],
     "ports": [{"proto": "TCP", "first": 8080, "last": 8080}],
     "rules": [{"method": "GET", "path": "/api/.*", "host": "", "headers": []}]}]},
  {"class": 0, "direction": "egress", "entries": [
    {"rule": 2, "kind": "dns", "peers": [4],
     "ports": [{"proto": "TCP", "first": 53, "last": 53}, {"proto": "UDP", "first": 53, "last": 53},
               {"proto": "SCTP", "first": 53, "last": 53}],
     "rules": [{"matchName": "", "matchPattern": "*.svc.cluster.local"},
               {"matchName": "example.org", "matchPattern": ""}]},
    {"rule": 1, "kind": "none", "peers": [1], "ports": [{"proto": "TCP", "first": 8080, "last": 8080}]}]}]})";

TEST(L7Policy, HttpSampleLikeTable) {
  for (bool use_set : {true, false}) {
    SCOPED_TRACE(use_set ? "RE2::Set" : "sequential");
    L7Policy p = L7Policy::parse(kSampleLike, {use_set});

    L7Verdict get = p.judge_http(1, kIngress, 0, kTcp, 8080, http("GET", "/api/posts"));
    EXPECT_TRUE(get.allowed);
    EXPECT_EQ(get.rules, std::vector<uint32_t>{0});

    L7Verdict post = p.judge_http(1, kIngress, 0, kTcp, 8080, http("POST", "/api/posts"));
    EXPECT_FALSE(post.allowed);
    EXPECT_EQ(post.rules, std::vector<uint32_t>{0});

    // Full match: a prefix or a longer method is not enough.
    EXPECT_FALSE(p.judge_http(1, kIngress, 0, kTcp, 8080, http("GET", "/apix")).allowed);
    EXPECT_FALSE(p.judge_http(1, kIngress, 0, kTcp, 8080, http("GETS", "/api/x")).allowed);
    EXPECT_FALSE(p.judge_http(1, kIngress, 0, kTcp, 8080, http("GET", "x/api/x")).allowed);

    // Not covered: another peer, port, protocol, direction or class.
    for (L7Verdict v : {p.judge_http(1, kIngress, 3, kTcp, 8080, http("GET", "/api/posts")),
                        p.judge_http(1, kIngress, 0, kTcp, 8081, http("GET", "/api/posts")),
                        p.judge_http(1, kIngress, 0, kUdp, 8080, http("GET", "/api/posts")),
                        p.judge_http(1, kEgress, 0, kTcp, 8080, http("GET", "/api/posts")),
                        p.judge_http(7, kIngress, 0, kTcp, 8080, http("GET", "/api/posts")),
                        p.judge_http(1, 5, 0, kTcp, 8080, http("GET", "/api/posts"))}) {
      EXPECT_FALSE(v.allowed);
      EXPECT_TRUE(v.rules.empty());
    }
  }
}

TEST(L7Policy, Covers) {
  L7Policy p = L7Policy::parse(kSampleLike);
  EXPECT_TRUE(p.covers(1, kIngress, 0, kTcp, 8080));
  EXPECT_FALSE(p.covers(1, kIngress, 2, kTcp, 8080));
  EXPECT_FALSE(p.covers(1, kIngress, 0, kTcp, 80));
  EXPECT_TRUE(p.covers(0, kEgress, 1, kTcp, 8080));  // a kind-none entry covers too
  EXPECT_TRUE(p.covers(0, kEgress, 4, kSctp, 53));
  EXPECT_FALSE(p.covers(0, kEgress, 4, kTcp, 54));
  EXPECT_FALSE(p.covers(0, kIngress, 4, kUdp, 53));
  EXPECT_FALSE(L7Policy().covers(1, kIngress, 0, kTcp, 8080));
}

TEST(L7Policy, DnsPatternsNamesCaseAndTrailingDot) {
  L7Policy p = L7Policy::parse(kSampleLike);
  auto dns = [&](const std::string& q) { return p.judge_dns(0, kEgress, 4, kUdp, 53, q); };
  EXPECT_TRUE(dns("db.svc.cluster.local").allowed);
  EXPECT_EQ(dns("db.svc.cluster.local").rules, std::vector<uint32_t>{2});
  EXPECT_TRUE(dns("db.svc.cluster.local.").allowed);
  EXPECT_TRUE(dns("DB.Svc.Cluster.LOCAL.").allowed);
  EXPECT_TRUE(dns("my_db-1.svc.cluster.local").allowed);
  // '*' never crosses a dot (the golden sample adds "*.*.svc.cluster.local" for that).
  EXPECT_FALSE(dns("was.blog-system.svc.cluster.local").allowed);
  EXPECT_FALSE(dns("a.b.svc.cluster.local").allowed);
  EXPECT_FALSE(dns("svc.cluster.local").allowed);
  EXPECT_FALSE(dns("db.svc.cluster.local.evil.com").allowed);
  // matchName: exact, any case, with or without the trailing dot.
  EXPECT_TRUE(dns("example.org").allowed);
  EXPECT_TRUE(dns("EXAMPLE.ORG.").allowed);
  EXPECT_FALSE(dns("www.example.org").allowed);
  L7Verdict refused = dns("example.com");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.rules, std::vector<uint32_t>{2});
  // TCP and SCTP port 53 are covered by the same entry; 54 is not.
  EXPECT_TRUE(p.judge_dns(0, kEgress, 4, kTcp, 53, "x.svc.cluster.local").allowed);
  EXPECT_TRUE(p.judge_dns(0, kEgress, 4, kSctp, 53, "x.svc.cluster.local").allowed);
  L7Verdict other_port = p.judge_dns(0, kEgress, 4, kUdp, 54, "x.svc.cluster.local");
  EXPECT_FALSE(other_port.allowed);
  EXPECT_TRUE(other_port.rules.empty());
}

TEST(L7Policy, DnsLoneStarAndDoubleStar) {
  L7Policy p = L7Policy::parse(R"({"format": "cnpc-l7/1", "tables": [
    {"class": 0, "direction": "egress", "entries": [
      {"rule": 0, "kind": "dns", "peers": "all", "ports": [{"proto": "UDP", "first": 53, "last": 53}],
       "rules": [{"matchPattern": "*"}]},
      {"rule": 1, "kind": "dns", "peers": [9], "ports": [{"proto": "UDP", "first": 5353, "last": 5353}],
       "rules": [{"matchPattern": "*.*.cluster.local"}, {"matchPattern": "api.*.io"}]}]}]})");
  EXPECT_TRUE(p.judge_dns(0, kEgress, 123, kUdp, 53, "anything.at.all").allowed);
  EXPECT_TRUE(p.judge_dns(0, kEgress, 123, kUdp, 53, "").allowed);
  EXPECT_TRUE(p.judge_dns(0, kEgress, 9, kUdp, 5353, "a.b.cluster.local").allowed);
  EXPECT_FALSE(p.judge_dns(0, kEgress, 9, kUdp, 5353, "b.cluster.local").allowed);
  EXPECT_TRUE(p.judge_dns(0, kEgress, 9, kUdp, 5353, "API.github.IO").allowed);
  EXPECT_FALSE(p.judge_dns(0, kEgress, 9, kUdp, 5353, "api.x.y.io").allowed);
}

// Entries without L7 (kind none) wildcard HTTP on any port they cover,
// L3-only ones included; for DNS only when their span is the L7 entry's.
const char* kWithNoneEntries = R"({"format": "cnpc-l7/1", "tables": [
  {"class": 3, "direction": "ingress", "entries": [
    {"rule": 4, "kind": "http", "peers": [1, 2],
     "ports": [{"proto": "TCP", "first": 80, "last": 80}],
     "rules": [{"method": "GET", "path": "/public/.*"}]},
    {"rule": 6, "kind": "dns", "peers": [1, 2, 5, 6, 7],
     "ports": [{"proto": "UDP", "first": 53, "last": 53}],
     "rules": [{"matchName": "only.example.com"}]},
    {"rule": 9, "kind": "kafka", "peers": [1],
     "ports": [{"proto": "TCP", "first": 80, "last": 80}], "rules": [{"role": "produce"}]},
    {"rule": 2, "kind": "none", "peers": [2], "ports": "all"},
    {"rule": 7, "kind": "none", "peers": [5], "ports": [{"proto": "UDP", "first": 53, "last": 53}]},
    {"rule": 8, "kind": "none", "peers": [6], "ports": [{"proto": "UDP", "first": 50, "last": 60}]},
    {"rule": 5, "kind": "none", "peers": [7, 8], "ports": [{"proto": "TCP", "first": 9000, "last": 9999}]},
    {"rule": 3, "kind": "none", "peers": [6], "ports": [{"proto": "ICMP", "first": 8, "last": 8}]}]}]})";

TEST(L7Policy, KindNoneEntries) {
  for (bool use_set : {true, false}) {
    SCOPED_TRACE(use_set ? "RE2::Set" : "sequential");
    L7Policy p = L7Policy::parse(kWithNoneEntries, {use_set});
    // Peer 1: the HTTP entry and a Kafka entry cover port 80; a denial
    // names every L7 entry that covered, in rule order.
    L7Verdict denied = p.judge_http(3, kIngress, 1, kTcp, 80, http("GET", "/private"));
    EXPECT_FALSE(denied.allowed);
    EXPECT_EQ(denied.rules, (std::vector<uint32_t>{4, 9}));
    L7Verdict ok = p.judge_http(3, kIngress, 1, kTcp, 80, http("GET", "/public/x"));
    EXPECT_TRUE(ok.allowed);
    EXPECT_EQ(ok.rules, std::vector<uint32_t>{4});

    // Peer 2 also has an L3-only allow (rule 2, lower id): Envoy's
    // wildcard-port rule admits every HTTP request, and it is the first
    // admitting rule.
    L7Verdict wild = p.judge_http(3, kIngress, 2, kTcp, 80, http("DELETE", "/private"));
    EXPECT_TRUE(wild.allowed);
    EXPECT_EQ(wild.rules, std::vector<uint32_t>{2});
    // ...but not DNS: an L3-only entry is not the DNS port's filter.
    L7Verdict dns_l3 = p.judge_dns(3, kIngress, 2, kUdp, 53, "other.example.com");
    EXPECT_FALSE(dns_l3.allowed);
    EXPECT_EQ(dns_l3.rules, std::vector<uint32_t>{6});
    EXPECT_TRUE(p.judge_dns(3, kIngress, 2, kUdp, 53, "only.example.com").allowed);

    // Peer 5: a plain allow on exactly 53/UDP wildcards DNS.
    L7Verdict dns_same = p.judge_dns(3, kIngress, 5, kUdp, 53, "other.example.com");
    EXPECT_TRUE(dns_same.allowed);
    EXPECT_EQ(dns_same.rules, std::vector<uint32_t>{7});
    // Peer 6: its allow spans 50-60, not the L7 entry's 53: no wildcard.
    L7Verdict dns_range = p.judge_dns(3, kIngress, 6, kUdp, 53, "other.example.com");
    EXPECT_FALSE(dns_range.allowed);
    EXPECT_EQ(dns_range.rules, std::vector<uint32_t>{6});

    // A DNS query on the HTTP port: the HTTP entry covers, nothing admits.
    L7Verdict dns_on_http = p.judge_dns(3, kIngress, 1, kTcp, 80, "only.example.com");
    EXPECT_FALSE(dns_on_http.allowed);
    EXPECT_EQ(dns_on_http.rules, (std::vector<uint32_t>{4, 9}));

    // Only plain allows cover (no L7 there): L7 is not enforced, allowed.
    L7Verdict plain = p.judge_http(3, kIngress, 7, kTcp, 9090, http("PUT", "/x"));
    EXPECT_TRUE(plain.allowed);
    EXPECT_EQ(plain.rules, std::vector<uint32_t>{5});
    EXPECT_TRUE(p.judge_dns(3, kIngress, 6, kUdp, 55, "x.y").allowed);
    // An ICMP entry never covers TCP or UDP.
    EXPECT_FALSE(p.covers(3, kIngress, 6, kTcp, 8));
    EXPECT_TRUE(p.covers(3, kIngress, 6, 1, 8));
  }
}

TEST(L7Policy, HttpHostAndHeaders) {
  for (bool use_set : {true, false}) {
    SCOPED_TRACE(use_set ? "RE2::Set" : "sequential");
    L7Policy p = L7Policy::parse(R"({"format": "cnpc-l7/1", "tables": [
      {"class": 0, "direction": "egress", "entries": [
        {"rule": 0, "kind": "http", "peers": "all", "ports": [{"proto": "TCP", "first": 80, "last": 89}],
         "rules": [{"method": "", "path": "", "host": ".*\\.example\\.com",
                    "headers": [{"name": "X-Token", "value": "s3cret"}, {"name": "X-Trace", "value": null}]},
                   {"method": "GET|HEAD", "path": "/health"}]}]}]})",
                                 {use_set});
    auto judge = [&](const HttpRequest& r) { return p.judge_http(0, kEgress, 42, kTcp, 85, r).allowed; };
    EXPECT_TRUE(judge(http("POST", "/anything", "api.example.com", {{"x-token", "s3cret"}, {"X-TRACE", ""}})));
    EXPECT_FALSE(judge(http("POST", "/anything", "api.example.com", {{"x-token", "S3CRET"}, {"X-Trace", "1"}})));
    EXPECT_FALSE(judge(http("POST", "/anything", "api.example.com", {{"x-token", "s3cret"}})));
    EXPECT_FALSE(judge(http("POST", "/anything", "example.com", {{"X-Token", "s3cret"}, {"X-Trace", "1"}})));
    EXPECT_TRUE(judge(http("HEAD", "/health")));
    EXPECT_FALSE(judge(http("HEAD", "/health/")));
  }
}

// The evaluator treats a regex RE2 rejects as matching nothing; the RE2::Set
// must leave such a rule out and still find the others.
TEST(L7Policy, UncompilableRegexMatchesNothing) {
  const char* text = R"({"format": "cnpc-l7/1", "tables": [
    {"class": 0, "direction": "ingress", "entries": [
      {"rule": 0, "kind": "http", "peers": "all", "ports": [{"proto": "TCP", "first": 80, "last": 80}],
       "rules": [{"method": "GET", "path": "/a/(unclosed"},
                 {"method": "(", "path": "/b"},
                 {"method": "GET", "path": "/c/[0-9]+"},
                 {"method": "GET", "path": "/d/\\p{Nonsense}"}]}]}]})";
  for (bool use_set : {true, false}) {
    SCOPED_TRACE(use_set ? "RE2::Set" : "sequential");
    L7Policy p = L7Policy::parse(text, {use_set});
    auto judge = [&](const std::string& m, const std::string& path) {
      return p.judge_http(0, kIngress, 1, kTcp, 80, http(m, path)).allowed;
    };
    EXPECT_FALSE(judge("GET", "/a/(unclosed"));
    EXPECT_FALSE(judge("(", "/b"));
    EXPECT_FALSE(judge("GET", "/b"));
    EXPECT_TRUE(judge("GET", "/c/12"));
    EXPECT_FALSE(judge("GET", "/c/x"));
    EXPECT_FALSE(judge("GET", "/d/x"));
  }
}

TEST(L7Policy, EmptyHttpRuleListDeniesEverything) {
  L7Policy p = L7Policy::parse(R"({"format": "cnpc-l7/1", "tables": [
    {"class": 0, "direction": "ingress", "entries": [
      {"rule": 3, "kind": "http", "peers": "all", "ports": [{"proto": "TCP", "first": 80, "last": 80}],
       "rules": []}]}]})");
  L7Verdict v = p.judge_http(0, kIngress, 1, kTcp, 80, http("GET", "/"));
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.rules, std::vector<uint32_t>{3});
}

TEST(L7Policy, Redirects) {
  L7Policy p = L7Policy::parse(kWithNoneEntries);
  std::vector<L7Redirect> r = p.redirects();
  ASSERT_EQ(r.size(), 3u);  // http 80/TCP, dns 53/UDP, kafka 80/TCP; none entries redirect nothing
  EXPECT_EQ(r[0].rule, 4u);
  EXPECT_EQ(r[0].kind, L7Kind::Http);
  EXPECT_EQ(r[0].class_id, 3u);
  EXPECT_EQ(r[0].direction, kIngress);
  EXPECT_EQ(r[0].peers, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(r[0].ip_proto, kTcp);
  EXPECT_EQ(r[0].first, 80);
  EXPECT_EQ(r[0].last, 80);
  EXPECT_EQ(r[1].rule, 6u);
  EXPECT_EQ(r[1].kind, L7Kind::Dns);
  EXPECT_EQ(r[1].ip_proto, kUdp);
  EXPECT_EQ(r[2].rule, 9u);
  EXPECT_EQ(r[2].kind, L7Kind::Kafka);

  // "peers": "all" -> nullopt; "ports": "all" on an L7 entry (codegen never
  // writes it) -> every port of TCP, UDP and SCTP.
  L7Policy all = L7Policy::parse(R"({"format": "cnpc-l7/1", "tables": [
    {"class": 2, "direction": "egress", "entries": [
      {"rule": 1, "kind": "dns", "peers": "all", "ports": "all", "rules": []}]}]})");
  r = all.redirects();
  ASSERT_EQ(r.size(), 3u);
  for (const auto& x : r) {
    EXPECT_FALSE(x.peers.has_value());
    EXPECT_EQ(x.direction, kEgress);
    EXPECT_EQ(x.first, 0);
    EXPECT_EQ(x.last, 65535);
  }
  EXPECT_EQ(r[0].ip_proto, kTcp);
  EXPECT_EQ(r[1].ip_proto, kUdp);
  EXPECT_EQ(r[2].ip_proto, kSctp);
  EXPECT_TRUE(L7Policy().redirects().empty());
}

TEST(L7Policy, MalformedInputThrows) {
  auto bad_entry = [](const std::string& entry) {
    std::ostringstream s;
    s << R"({"format": "cnpc-l7/1", "tables": [{"class": 0, "direction": "ingress", "entries": [)" << entry
      << "]}]}";
    return s.str();
  };
  const std::vector<std::string> cases = {
      "",
      "{",
      "[]",
      R"({"tables": []})",
      R"({"format": "cnpc-l7/2", "tables": []})",
      R"({"format": 1, "tables": []})",
      R"({"format": "cnpc-l7/1"})",
      R"({"format": "cnpc-l7/1", "tables": {}})",
      R"({"format": "cnpc-l7/1", "tables": [{"class": 0, "direction": "sideways", "entries": []}]})",
      R"({"format": "cnpc-l7/1", "tables": [{"class": -1, "direction": "ingress", "entries": []}]})",
      R"({"format": "cnpc-l7/1", "tables": [{"class": 0, "direction": "ingress"}]})",
      R"({"format": "cnpc-l7/1", "tables": [{"class": 0, "direction": "ingress", "entries": []},
                                            {"class": 0, "direction": "ingress", "entries": []}]})",
      bad_entry(R"({"rule": 0, "kind": "gopher", "peers": "all", "ports": "all"})"),
      bad_entry(R"({"rule": 0, "peers": "all", "ports": "all"})"),
      bad_entry(R"({"rule": 0, "kind": "none", "peers": "some", "ports": "all"})"),
      bad_entry(R"({"rule": 0, "kind": "none", "peers": ["1"], "ports": "all"})"),
      bad_entry(R"({"rule": 0, "kind": "none", "peers": "all"})"),
      bad_entry(R"({"rule": 0, "kind": "none", "peers": "all", "ports": [{"proto": "QUIC", "first": 1, "last": 1}]})"),
      bad_entry(R"({"rule": 0, "kind": "none", "peers": "all", "ports": [{"proto": "TCP", "first": 9, "last": 1}]})"),
      bad_entry(R"({"rule": 0, "kind": "none", "peers": "all", "ports": [{"proto": "TCP", "first": 1, "last": 65536}]})"),
      bad_entry(R"({"rule": 0, "kind": "http", "peers": "all", "ports": "all", "rules": {}})"),
      bad_entry(R"({"rule": 0, "kind": "http", "peers": "all", "ports": "all", "rules": [{"path": 5}]})"),
      bad_entry(R"({"rule": 0, "kind": "http", "peers": "all", "ports": "all", "rules": [{"headers": [{"value": "x"}]}]})"),
      bad_entry(R"({"rule": 0, "kind": "http", "peers": "all", "ports": "all", "rules": [{"headers": [{"name": "a", "value": 1}]}]})"),
      bad_entry(R"({"rule": 0, "kind": "dns", "peers": "all", "ports": "all", "rules": ["*.com"]})"),
      bad_entry(R"({"rule": "0", "kind": "none", "peers": "all", "ports": "all"})"),
  };
  for (const auto& text : cases) {
    SCOPED_TRACE(text);
    EXPECT_THROW(L7Policy::parse(text), std::runtime_error);
  }
  // The message says where.
  try {
    L7Policy::parse(bad_entry(R"({"rule": 0, "kind": "gopher", "peers": "all", "ports": "all"})"));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("tables[0].entries[0]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("gopher"), std::string::npos) << e.what();
  }
  // An empty table list is fine.
  EXPECT_NO_THROW(L7Policy::parse(R"({"format": "cnpc-l7/1", "tables": []})"));
}

TEST(L7Policy, ConcurrentJudgesAgreeWithSerialOnes) {
  L7Policy p = L7Policy::parse(kWithNoneEntries);
  const std::vector<HttpRequest> reqs = {http("GET", "/public/a"), http("GET", "/private"),
                                         http("POST", "/public/b"), http("DELETE", "/")};
  std::vector<bool> serial;
  for (uint32_t peer : {1u, 2u, 7u})
    for (const auto& r : reqs) serial.push_back(p.judge_http(3, kIngress, peer, kTcp, 80, r).allowed);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 500; ++round) {
        size_t i = 0;
        for (uint32_t peer : {1u, 2u, 7u})
          for (const auto& r : reqs)
            if (p.judge_http(3, kIngress, peer, kTcp, 80, r).allowed != serial[i++]) ++mismatches[size_t(t)];
        if (p.judge_dns(3, kIngress, 1, kUdp, 53, "only.example.com").allowed != true) ++mismatches[size_t(t)];
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

// --- the sample's golden bundle -------------------------------------------

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kBundleDir = std::string(CNPC_SOURCE_DIR) + "/tests/golden/expected/bundle";

uint32_t class_of_endpoint(const json& metadata, const std::string& name) {
  for (const auto& e : metadata.at("endpoints"))
    if (e.at("name") == name) return e.at("class").get<uint32_t>();
  throw std::runtime_error("no endpoint " + name + " in metadata.json");
}

const json& rule_meta(const json& metadata, uint32_t id) {
  for (const auto& r : metadata.at("rules"))
    if (r.at("id") == id) return r;
  throw std::runtime_error("no rule " + std::to_string(id));
}

TEST(L7PolicyGoldenBundle, BlogSampleExpectations) {
  const json metadata = json::parse(read_text(kBundleDir + "/metadata.json"));
  const uint32_t web = class_of_endpoint(metadata, "blog-system/web");
  const uint32_t was = class_of_endpoint(metadata, "blog-system/was");
  const uint32_t mysql = class_of_endpoint(metadata, "blog-system/mysql");
  const uint32_t stray = class_of_endpoint(metadata, "blog-system/stray");
  const uint32_t dns = class_of_endpoint(metadata, "kube-system/coredns");

  for (bool use_set : {true, false}) {
    SCOPED_TRACE(use_set ? "RE2::Set" : "sequential");
    L7Policy p = L7Policy::parse(read_text(kBundleDir + "/l7.json"), {use_set});

    // web -> was:8080: GET /api/* only (api-read-only).
    L7Verdict get = p.judge_http(was, kIngress, web, kTcp, 8080, http("GET", "/api/posts"));
    EXPECT_TRUE(get.allowed);
    ASSERT_EQ(get.rules.size(), 1u);
    EXPECT_EQ(rule_meta(metadata, get.rules[0]).at("name"), "api-read-only");
    L7Verdict post = p.judge_http(was, kIngress, web, kTcp, 8080, http("POST", "/api/posts"));
    EXPECT_FALSE(post.allowed);
    ASSERT_EQ(post.rules.size(), 1u);
    EXPECT_EQ(rule_meta(metadata, post.rules[0]).at("name"), "api-read-only");
    EXPECT_FALSE(p.judge_http(was, kIngress, web, kTcp, 8080, http("GET", "/admin")).allowed);
    L7Verdict from_stray = p.judge_http(was, kIngress, stray, kTcp, 8080, http("GET", "/api/posts"));
    EXPECT_FALSE(from_stray.allowed);
    EXPECT_TRUE(from_stray.rules.empty());

    // web's DNS through kube-dns: cluster names only (web-egress).
    L7Verdict cluster = p.judge_dns(web, kEgress, dns, kUdp, 53, "was.blog-system.svc.cluster.local");
    EXPECT_TRUE(cluster.allowed);
    ASSERT_EQ(cluster.rules.size(), 1u);
    EXPECT_EQ(rule_meta(metadata, cluster.rules[0]).at("name"), "web-egress");
    EXPECT_TRUE(p.judge_dns(web, kEgress, dns, kTcp, 53, "WAS.blog-system.svc.cluster.local.").allowed);
    L7Verdict outside = p.judge_dns(web, kEgress, dns, kUdp, 53, "example.com");
    EXPECT_FALSE(outside.allowed);
    ASSERT_EQ(outside.rules.size(), 1u);
    EXPECT_EQ(rule_meta(metadata, outside.rules[0]).at("name"), "web-egress");
    // was has the same DNS rule (was-egress).
    EXPECT_TRUE(p.judge_dns(was, kEgress, dns, kUdp, 53, "mysql.blog-system.svc.cluster.local").allowed);
    EXPECT_FALSE(p.judge_dns(was, kEgress, dns, kUdp, 53, "example.com").allowed);

    // The redirected spans: 8080/TCP into was, 53 on three protocols out of web and was.
    EXPECT_TRUE(p.covers(was, kIngress, web, kTcp, 8080));
    EXPECT_TRUE(p.covers(web, kEgress, was, kTcp, 8080));  // web-egress's plain allow
    EXPECT_TRUE(p.covers(was, kEgress, mysql, kTcp, 3306));
    EXPECT_FALSE(p.covers(was, kIngress, web, kTcp, 80));
    std::vector<L7Redirect> r = p.redirects();
    ASSERT_EQ(r.size(), 7u);
    size_t http_spans = 0, dns_spans = 0;
    for (const auto& x : r) {
      if (x.kind == L7Kind::Http) {
        ++http_spans;
        EXPECT_EQ(x.class_id, was);
        EXPECT_EQ(x.direction, kIngress);
        EXPECT_EQ(x.peers, std::vector<uint32_t>{web});
        EXPECT_EQ(x.ip_proto, kTcp);
        EXPECT_EQ(x.first, 8080);
      } else {
        ++dns_spans;
        EXPECT_EQ(x.kind, L7Kind::Dns);
        EXPECT_EQ(x.direction, kEgress);
        EXPECT_EQ(x.peers, std::vector<uint32_t>{dns});
        EXPECT_EQ(x.first, 53);
        EXPECT_EQ(x.last, 53);
      }
    }
    EXPECT_EQ(http_spans, 1u);
    EXPECT_EQ(dns_spans, 6u);
  }
}

}  // namespace
