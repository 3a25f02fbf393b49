// Unit tests of ir/: labels and selectors, addresses, L7 matchers,
// diagnostics rendering. Semantics end to end live in tests/conformance.
#include <gtest/gtest.h>

#include <set>

#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"

using namespace cnpc::ir;

namespace {
LabelSet labels(std::initializer_list<Label> ls) {
  LabelSet s;
  for (const auto& l : ls) s.add(l);
  return s;
}
Requirement req(std::string source, std::string key, SelectorOp op,
                std::vector<std::string> values = {}) {
  return {std::move(source), std::move(key), op, std::move(values)};
}
}  // namespace

TEST(Selector, EmptyMatchesEverything) {
  EXPECT_TRUE(Selector{}.matches(labels({})));
  EXPECT_TRUE(Selector{}.matches(labels({{"reserved", "world", ""}})));
}

TEST(Selector, AnySourceMatchesK8sLabel) {
  Selector s{{req("any", "app", SelectorOp::In, {"web"})}};
  EXPECT_TRUE(s.matches(labels({{"k8s", "app", "web"}})));
  EXPECT_FALSE(s.matches(labels({{"k8s", "app", "was"}})));
  Selector k8s_only{{req("k8s", "app", SelectorOp::In, {"web"})}};
  EXPECT_FALSE(k8s_only.matches(labels({{"container", "app", "web"}})));
}

TEST(Selector, Operators) {
  auto set = labels({{"k8s", "tier", "db"}});
  EXPECT_TRUE((Selector{{req("any", "tier", SelectorOp::NotIn, {"web"})}}).matches(set));
  EXPECT_FALSE((Selector{{req("any", "tier", SelectorOp::NotIn, {"db"})}}).matches(set));
  EXPECT_TRUE((Selector{{req("any", "env", SelectorOp::NotIn, {"prod"})}}).matches(set));
  EXPECT_TRUE((Selector{{req("any", "tier", SelectorOp::Exists)}}).matches(set));
  EXPECT_FALSE((Selector{{req("any", "tier", SelectorOp::DoesNotExist)}}).matches(set));
  EXPECT_TRUE((Selector{{req("any", "env", SelectorOp::DoesNotExist)}}).matches(set));
}

TEST(LabelSet, KeepsOneValuePerKeyAndSorts) {
  LabelSet s;
  s.add({"k8s", "b", "1"});
  s.add({"k8s", "a", "1"});
  s.add({"k8s", "b", "2"});
  EXPECT_EQ(s.to_string(), "k8s:a=1,k8s:b=2");
}

TEST(Cidr, ParsesAndContains) {
  auto c = Cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(c->contains(*IpAddr::parse("10.200.0.1")));
  EXPECT_FALSE(c->contains(*IpAddr::parse("11.0.0.1")));
  EXPECT_FALSE(c->contains(*IpAddr::parse("::1")));
  auto host = Cidr::parse("192.0.2.3");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->prefix, 32);
  auto v6 = Cidr::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*IpAddr::parse("2001:db8:1::5")));
  EXPECT_TRUE(v6->contains(*Cidr::parse("2001:db8:ff00::/40")));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/33"));
  EXPECT_FALSE(Cidr::parse("10.0.0/8"));
  EXPECT_FALSE(Cidr::parse("10.0.0.0/"));
}

TEST(Http, FullMatchIncludingQueryString) {
  HttpRule r;
  r.method = "GET";
  r.path = "/public";
  EXPECT_TRUE(http_rule_matches(r, {"GET", "/public", "", {}}));
  EXPECT_FALSE(http_rule_matches(r, {"GET", "/public/x", "", {}}));
  EXPECT_FALSE(http_rule_matches(r, {"GET", "/public?x=1", "", {}}));
  EXPECT_FALSE(http_rule_matches(r, {"POST", "/public", "", {}}));
  r.path = "/api/.*";
  EXPECT_TRUE(http_rule_matches(r, {"GET", "/api/posts?page=2", "", {}}));
  r.path = "/path1$";
  EXPECT_TRUE(http_rule_matches(r, {"GET", "/path1", "", {}}));
}

TEST(Http, Headers) {
  HttpRule r;
  r.headers = {{"X-My-Header", std::string("true")}, {"X-Present", std::nullopt}};
  EXPECT_TRUE(http_rule_matches(r, {"GET", "/", "", {{"x-my-header", "true"}, {"X-Present", ""}}}));
  EXPECT_FALSE(http_rule_matches(r, {"GET", "/", "", {{"X-My-Header", "false"}, {"X-Present", "1"}}}));
  EXPECT_FALSE(http_rule_matches(r, {"GET", "/", "", {{"X-My-Header", "true"}}}));
}

TEST(Dns, PatternsNeverCrossDots) {
  EXPECT_TRUE(dns_pattern_matches("*.cilium.io", "www.cilium.io"));
  EXPECT_FALSE(dns_pattern_matches("*.cilium.io", "cilium.io"));
  EXPECT_FALSE(dns_pattern_matches("*.cilium.io", "a.b.cilium.io"));
  EXPECT_TRUE(dns_pattern_matches("*cilium.io", "cilium.io"));
  EXPECT_TRUE(dns_pattern_matches("*cilium.io", "subcilium.io"));
  EXPECT_FALSE(dns_pattern_matches("*cilium.io", "www.cilium.io"));
  EXPECT_TRUE(dns_pattern_matches("sub*.cilium.io", "subdomain.cilium.io."));
  EXPECT_TRUE(dns_pattern_matches("*", "anything.at.all"));
  EXPECT_TRUE(dns_pattern_matches("*.cilium.io", "WWW.Cilium.IO"));
  DnsRule exact;
  exact.match_name = "cilium.io";
  EXPECT_TRUE(dns_rule_matches(exact, "CILIUM.io."));
  EXPECT_FALSE(dns_rule_matches(exact, "www.cilium.io"));
}

TEST(Kafka, RoleExpansion) {
  KafkaRule produce;
  produce.role = "produce";
  produce.topic = "orders";
  EXPECT_TRUE(kafka_rule_matches(produce, {"produce", 0, "", "orders"}));
  EXPECT_TRUE(kafka_rule_matches(produce, {"metadata", 0, "", "orders"}));
  EXPECT_FALSE(kafka_rule_matches(produce, {"fetch", 0, "", "orders"}));
  EXPECT_FALSE(kafka_rule_matches(produce, {"produce", 0, "", "payments"}));
  EXPECT_TRUE(kafka_rule_matches(produce, {"apiversions", 0, "", ""}));
}

TEST(Diagnostics, RendersClangStyleWithCaret) {
  Diagnostics diags;
  diags.add_source("p.yaml", "spec:\n  ingres:\n");
  auto& d = diags.report("unknown-field", {"p.yaml", 2, 3}, "spec: unknown field \"ingres\"");
  d.hint = "did you mean 'ingress'?";
  EXPECT_EQ(render_text(diags, d, false),
            "p.yaml:2:3: warning: spec: unknown field \"ingres\" [CNPC0101]\n"
            "  ingres:\n"
            "  ^\n"
            "p.yaml:2:3: note: did you mean 'ingress'?\n");
}

TEST(Diagnostics, ClosestMatch) {
  std::vector<std::string> fields = {"fromEndpoints", "fromCIDR", "toPorts", "fromEntities"};
  EXPECT_EQ(closest_match("fromEndpoint", fields), "fromEndpoints");
  EXPECT_EQ(closest_match("toports", fields), "toPorts");
  EXPECT_EQ(closest_match("zzzzzz", fields), "");
}

TEST(Diagnostics, EveryCheckHasAUniqueCode) {
  std::set<std::string_view> codes, names;
  for (const auto& c : all_checks()) {
    EXPECT_TRUE(codes.insert(c.code).second) << c.code;
    EXPECT_TRUE(names.insert(c.check).second) << c.check;
  }
}
