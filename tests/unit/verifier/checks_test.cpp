// One test per lint check: the policy, the expected finding, its witness
// (confirmed by the evaluator inside the verifier), and the absence of the
// finding where it must not fire.
#include <gtest/gtest.h>

#include <algorithm>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/evaluator.h"
#include "cnpc/verifier/verifier.h"

using namespace cnpc;

namespace {

const char* kInventory = R"(
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
- {apiVersion: v1, kind: Namespace, metadata: {name: kube-system}}
- apiVersion: v1
  kind: Pod
  metadata: {name: web, namespace: shop, labels: {app: web}}
  status: {podIP: 10.0.0.1}
- apiVersion: v1
  kind: Pod
  metadata: {name: api, namespace: shop, labels: {app: api}}
  spec: {containers: [{name: api, ports: [{name: http, containerPort: 8080}]}]}
  status: {podIP: 10.0.0.2}
- apiVersion: v1
  kind: Pod
  metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
  status: {podIP: 10.0.0.53}
)";

struct Lint {
  std::vector<verifier::Finding> findings;
  std::vector<const verifier::Finding*> of(const std::string& check) const {
    std::vector<const verifier::Finding*> out;
    for (const auto& f : findings)
      if (f.check == check) out.push_back(&f);
    return out;
  }
};

Lint lint(const std::string& policies) {
  frontend::LoadResult r;
  ir::Diagnostics diags;
  frontend::load_text("policy.yaml", policies, {}, r, diags);
  frontend::load_text("inventory.yaml", kInventory, {}, r, diags);
  for (const auto& d : diags.all()) ADD_FAILURE() << ir::render_text(diags, d, false);
  ir::Evaluator ev(r.policies, r.inventory);
  verifier::Options opt;
  opt.timeout_ms = 5000;
  return {verifier::lint(ev, opt, true)};
}

std::string cnp(const std::string& name, const std::string& spec) {
  return "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: " + name +
         ", namespace: shop}\nspec:\n" + spec + "---\n";
}

const std::string kApi = "  endpointSelector: {matchLabels: {app: api}}\n";
const std::string kWeb = "  endpointSelector: {matchLabels: {app: web}}\n";

}  // namespace

TEST(Checks, ShadowedAllow) {
  auto l = lint(cnp("p", kApi +
                           "  ingress:\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "    toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n"
                           "  - fromEntities: [world]\n"
                           "  ingressDeny:\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"));
  auto f = l.of("shadowed-allow");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->loc.line, 7);
  ASSERT_TRUE(f[0]->witness);
  EXPECT_EQ(f[0]->witness->text.rfind("shop/web -> shop/api 8080/TCP", 0), 0u) << f[0]->witness->text;
  EXPECT_EQ(f[0]->related.size(), 1u);
}

TEST(Checks, RedundantRuleNamesTheCoveringRule) {
  auto l = lint(cnp("p", kApi +
                           "  ingress:\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "    toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "    toPorts: [{ports: [{port: '8000', endPort: 8090, protocol: TCP}]}]\n"));
  auto f = l.of("redundant-rule");
  ASSERT_EQ(f.size(), 1u) << "only the narrower rule is redundant";
  EXPECT_EQ(f[0]->loc.line, 7);
  ASSERT_EQ(f[0]->related.size(), 1u);
  EXPECT_EQ(f[0]->related[0].first.line, 9);
}

TEST(Checks, OnlyEntryOfASectionIsNeverCalledRedundant) {
  // Removing it would switch default deny off: that changes verdicts.
  auto l = lint(cnp("p", kApi + "  ingress:\n  - fromEntities: [all]\n"));
  EXPECT_TRUE(l.of("redundant-rule").empty());
}

TEST(Checks, IneffectiveDeny) {
  auto l = lint(cnp("p", kApi +
                           "  ingress:\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "  ingressDeny:\n"
                           "  - fromEntities: [world]\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "    toPorts: [{ports: [{port: '22', protocol: TCP}]}]\n"));
  auto f = l.of("ineffective-deny");
  ASSERT_EQ(f.size(), 1u) << "the world deny changes nothing; the port-22 deny does";
  EXPECT_EQ(f[0]->loc.line, 9);
}

TEST(Checks, L7VoidedWithARequestWitness) {
  auto l = lint(cnp("p", kApi +
                           "  ingress:\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "    toPorts:\n"
                           "    - ports: [{port: '8080', protocol: TCP}]\n"
                           "      rules: {http: [{method: GET, path: /api/.*}]}\n"
                           "  - toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n"));
  auto f = l.of("l7-voided");
  ASSERT_EQ(f.size(), 1u);
  ASSERT_TRUE(f[0]->witness);
  ASSERT_TRUE(f[0]->witness->flow.l7);
  const auto& req = f[0]->witness->flow.l7->http;
  EXPECT_FALSE(req.method == "GET" && req.path.rfind("/api/", 0) == 0) << f[0]->witness->text;
  EXPECT_NE(f[0]->witness->text.find("HTTP"), std::string::npos);
}

TEST(Checks, L7NotVoidedForOtherPeers) {
  auto l = lint(cnp("p", kApi +
                           "  ingress:\n"
                           "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                           "    toPorts:\n"
                           "    - ports: [{port: '8080', protocol: TCP}]\n"
                           "      rules: {http: [{method: GET}]}\n"
                           "  - fromEntities: [world]\n"
                           "    toPorts: [{ports: [{port: '9090', protocol: TCP}]}]\n"));
  EXPECT_TRUE(l.of("l7-voided").empty());
}

TEST(Checks, L7ParserConflict) {
  auto l = lint(cnp("http", kApi +
                              "  ingress:\n"
                              "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                              "    toPorts:\n"
                              "    - ports: [{port: '9092', protocol: TCP}]\n"
                              "      rules: {http: [{method: GET}]}\n") +
                cnp("kafka", kApi +
                               "  ingress:\n"
                               "  - fromEndpoints: [{matchLabels: {app: web}}]\n"
                               "    toPorts:\n"
                               "    - ports: [{port: '9092', protocol: TCP}]\n"
                               "      rules: {kafka: [{topic: orders}]}\n"));
  auto f = l.of("l7-parser-conflict");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0]->severity, ir::Severity::Error);
  ASSERT_TRUE(f[0]->witness);
  EXPECT_NE(f[0]->witness->text.find("9092/TCP"), std::string::npos);
}

TEST(Checks, EmptySelector) {
  auto l = lint(cnp("p", "  endpointSelector: {matchLabels: {app: ghost}}\n"
                         "  ingress:\n"
                         "  - fromEndpoints: [{matchLabels: {app: phantom}}]\n"));
  auto f = l.of("empty-selector");
  ASSERT_EQ(f.size(), 2u);
  EXPECT_NE(f[0]->message.find("app=ghost"), std::string::npos);
  EXPECT_NE(f[1]->message.find("app=phantom"), std::string::npos);
}

TEST(Checks, DnsBlocked) {
  auto l = lint(cnp("p", kWeb +
                           "  egress:\n"
                           "  - toEndpoints: [{matchLabels: {app: api}}]\n"
                           "    toPorts: [{ports: [{port: '8080', protocol: TCP}]}]\n"));
  auto f = l.of("dns-blocked");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0]->message.find("shop/web"), std::string::npos);
  ASSERT_TRUE(f[0]->witness);
  EXPECT_EQ(f[0]->witness->text, "shop/web -> kube-system/coredns 53/UDP");
}

TEST(Checks, DnsAllowedIsNotReported) {
  auto l = lint(cnp("p", kWeb +
                           "  egress:\n"
                           "  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]\n"
                           "    toPorts: [{ports: [{port: '53', protocol: ANY}]}]\n"));
  EXPECT_TRUE(l.of("dns-blocked").empty());
}

TEST(Checks, IsolatedWorkload) {
  auto l = lint(cnp("p", kApi + "  ingress:\n  - {}\n"));
  auto f = l.of("isolated-workload");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0]->message.find("shop/api cannot be reached"), std::string::npos);
}

TEST(Checks, BlogSampleIsClean) {
  frontend::LoadResult r;
  ir::Diagnostics diags;
  std::vector<std::string> paths = {std::string(CNPC_SOURCE_DIR) + "/samples/blog-system"};
  frontend::load_paths(paths, {}, r, diags);
  ASSERT_FALSE(diags.has_errors());
  ir::Evaluator ev(r.policies, r.inventory);
  auto findings = verifier::lint(ev, {}, true);
  for (const auto& f : findings) ADD_FAILURE() << f.check << ": " << f.message;
}
