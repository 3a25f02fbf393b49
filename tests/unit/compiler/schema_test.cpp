// Structural (CRD OpenAPI) validation of policy objects.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "../../../compiler/schema/gen_schema.h"
#include "../../../compiler/src/schema.h"

namespace {

using cnpc::frontend::check_schema;
using cnpc::frontend::SchemaKind;
using cnpc::ir::Diagnostic;
using cnpc::ir::Diagnostics;
using cnpc::ir::Severity;

Diagnostics check(const std::string& text, SchemaKind kind = SchemaKind::CiliumNetworkPolicy) {
  Diagnostics diags;
  check_schema(YAML::Load(text), kind, "p.yaml", diags);
  return diags;
}

std::string dump(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags.all())
    out += d.check + " " + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.column) +
           " " + d.message + (d.hint.empty() ? "" : " [" + d.hint + "]") + "\n";
  return out;
}

// The only finding, which must be of `check`.
const Diagnostic& only(const Diagnostics& diags, const std::string& check) {
  EXPECT_EQ(diags.all().size(), 1u) << dump(diags);
  if (diags.all().empty()) {
    static Diagnostic none;
    return none;
  }
  EXPECT_EQ(diags.all()[0].check, check) << dump(diags);
  return diags.all()[0];
}

// A CNP with the given rule body lines under spec (two-space indented).
std::string cnp(const std::string& spec_body) {
  return "apiVersion: cilium.io/v2\n"
         "kind: CiliumNetworkPolicy\n"
         "metadata:\n"
         "  name: p\n"
         "spec:\n" +
         spec_body;
}

std::string ports_rule(const std::string& ports_items) {
  return cnp(
      "  endpointSelector: {}\n"
      "  ingress:\n"
      "  - toPorts:\n"
      "    - ports:\n" +
      ports_items);
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

bool same_tree(const YAML::Node& a, const YAML::Node& b) {
  if (a.Type() != b.Type()) return false;
  if (a.IsScalar()) return a.Scalar() == b.Scalar();
  if (a.size() != b.size()) return false;
  if (a.IsSequence()) {
    for (size_t i = 0; i < a.size(); ++i)
      if (!same_tree(a[i], b[i])) return false;
    return true;
  }
  if (a.IsMap()) {
    for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y)
      if (!same_tree(x->first, y->first) || !same_tree(x->second, y->second)) return false;
  }
  return true;
}

TEST(Schema, MinimalObjectsOfEveryKindAreClean) {
  EXPECT_EQ(dump(check(cnp("  endpointSelector: {}\n"))), "");
  EXPECT_EQ(dump(check("apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
                       "metadata: {name: p}\nspec:\n  nodeSelector: {}\n",
                       SchemaKind::CiliumClusterwideNetworkPolicy)),
            "");
  EXPECT_EQ(dump(check("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
                       "metadata: {name: p}\nspec:\n  podSelector: {}\n",
                       SchemaKind::NetworkPolicy)),
            "");
}

TEST(Schema, UnknownFieldWarnsWithHintAtTheKey) {
  auto diags = check(cnp(
      "  endpointSelector: {}\n"
      "  ingress:\n"
      "  - fromEndpoint:\n"
      "    - {}\n"));
  const auto& d = only(diags, "unknown-field");
  EXPECT_EQ(d.severity, Severity::Warning);
  EXPECT_EQ(d.message, "spec.ingress[0]: unknown field \"fromEndpoint\"");
  EXPECT_EQ(d.hint, "did you mean 'fromEndpoints'?");
  EXPECT_EQ(d.code, "CNPC0101");
  EXPECT_EQ(d.loc.file, "p.yaml");
  EXPECT_EQ(d.loc.line, 8);
  EXPECT_EQ(d.loc.column, 5);
  EXPECT_FALSE(diags.has_errors());
}

TEST(Schema, UnknownTopLevelFieldAndKeptDescriptionProperty) {
  // Rule.description is a real property: the generator must not strip it.
  auto diags = check(cnp("  endpointSelector: {}\n  description: why\n") + "spek: {}\n");
  const auto& d = only(diags, "unknown-field");
  EXPECT_EQ(d.message, "unknown field \"spek\"");
  EXPECT_EQ(d.hint, "did you mean 'spec'?");
}

TEST(Schema, ProtocolEnum) {
  auto diags = check(ports_rule("      - port: \"80\"\n        protocol: ICMP\n"));
  const auto& d = only(diags, "invalid-enum");
  EXPECT_EQ(d.message,
            "spec.ingress[0].toPorts[0].ports[0].protocol: Unsupported value: \"ICMP\": "
            "supported values: \"TCP\", \"UDP\", \"SCTP\", \"ANY\"");
  EXPECT_EQ(d.loc.line, 11);
  EXPECT_EQ(d.loc.column, 19);
}

TEST(Schema, EntityEnumSuggestsCase) {
  auto diags = check(cnp("  endpointSelector: {}\n  egress:\n  - toEntities: [World]\n"));
  const auto& d = only(diags, "invalid-enum");
  EXPECT_EQ(d.hint, "did you mean 'world'?");
}

TEST(Schema, FqdnPatterns) {
  const std::string head =
      "  endpointSelector: {}\n"
      "  egress:\n"
      "  - toFQDNs:\n";
  EXPECT_EQ(dump(check(cnp(head + "    - matchName: api.example.com\n"
                                  "    - matchPattern: \"*.example.com\"\n"))),
            "");
  auto d1 = check(cnp(head + "    - matchName: \"*.example.com\"\n"));
  EXPECT_EQ(only(d1, "invalid-pattern").message,
            "spec.egress[0].toFQDNs[0].matchName: Invalid value: \"*.example.com\": should "
            "match '^([-a-zA-Z0-9_]+[.]?)+$'");
  auto d2 = check(cnp(head + "    - matchPattern: \"*.exa mple.com\"\n"));
  EXPECT_EQ(only(d2, "invalid-pattern").loc.line, 9);
  // matchName and matchPattern are a oneOf.
  auto d3 = check(cnp(head + "    - matchName: a.com\n      matchPattern: \"*.a.com\"\n"));
  const auto& both = only(d3, "missing-field");
  EXPECT_EQ(both.message,
            "spec.egress[0].toFQDNs[0]: Invalid value: \"object\": only one of \"matchName\" or "
            "\"matchPattern\" may be set, found \"matchName\" and \"matchPattern\"");
  EXPECT_EQ(both.loc.line, 10);  // the second one
}

TEST(Schema, AtMost40PortsPerPortRule) {
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "      - port: \"" + std::to_string(1000 + i) + "\"\n";
  EXPECT_EQ(dump(check(ports_rule(forty))), "");
  auto diags = check(ports_rule(forty + "      - port: \"2000\"\n"));
  const auto& d = only(diags, "invalid-range");
  EXPECT_EQ(d.message,
            "spec.ingress[0].toPorts[0].ports: Too many: 41: must have at most 40 items");
  EXPECT_EQ(d.loc.line, 10);
}

TEST(Schema, WrongContainerTypes) {
  auto d1 = check(cnp("  endpointSelector:\n    matchLabels: [a, b]\n"));
  EXPECT_EQ(only(d1, "invalid-type").message,
            "spec.endpointSelector.matchLabels: Invalid value: \"array\": must be of type object");
  auto d2 = check(cnp("  endpointSelector: {}\n  ingress:\n    fromEndpoints: []\n"));
  EXPECT_EQ(only(d2, "invalid-type").message,
            "spec.ingress: Invalid value: \"object\": must be of type array");
  auto d3 = check(cnp("  endpointSelector: {}\n  egress:\n  - toCIDR: 10.0.0.0/8\n"));
  EXPECT_EQ(only(d3, "invalid-type").message,
            "spec.egress[0].toCIDR: Invalid value: \"string\": must be of type array");
}

TEST(Schema, ScalarsAreTypedLikeKubectl) {
  // An unquoted port is a YAML integer, and the CRD types port as a string.
  auto d1 = check(ports_rule("      - port: 80\n"));
  EXPECT_EQ(only(d1, "invalid-type").message,
            "spec.ingress[0].toPorts[0].ports[0].port: Invalid value: \"integer\": must be of "
            "type string");
  EXPECT_EQ(dump(check(ports_rule("      - port: \"80\"\n"))), "");
  EXPECT_EQ(dump(check(ports_rule("      - port: '80'\n"))), "");
  EXPECT_EQ(dump(check(ports_rule("      - port: http\n"))), "");
  // YAML 1.1 booleans: `yes` is not the string "yes".
  auto d2 = check(cnp("  endpointSelector:\n    matchLabels:\n      enabled: yes\n"));
  EXPECT_EQ(only(d2, "invalid-type").message,
            "spec.endpointSelector.matchLabels[enabled]: Invalid value: \"boolean\": must be of "
            "type string");
  EXPECT_EQ(dump(check(cnp("  endpointSelector:\n    matchLabels:\n      enabled: \"yes\"\n"))),
            "");
  // endPort is an integer; a quoted one is a string.
  auto d3 = check(ports_rule("      - port: \"80\"\n        endPort: \"90\"\n"));
  EXPECT_EQ(only(d3, "invalid-type").message,
            "spec.ingress[0].toPorts[0].ports[0].endPort: Invalid value: \"string\": must be of "
            "type integer");
  EXPECT_EQ(dump(check(ports_rule("      - port: \"80\"\n        endPort: 0x5A\n"))), "");
}

TEST(Schema, NumericRanges) {
  auto d1 = check(ports_rule("      - port: \"80\"\n        endPort: 70000\n"));
  EXPECT_EQ(only(d1, "invalid-range").message,
            "spec.ingress[0].toPorts[0].ports[0].endPort: Invalid value: 70000: should be less "
            "than or equal to 65535");
  auto d2 = check(ports_rule("      - port: \"80\"\n        endPort: -1\n"));
  EXPECT_EQ(only(d2, "invalid-range").message,
            "spec.ingress[0].toPorts[0].ports[0].endPort: Invalid value: -1: should be greater "
            "than or equal to 0");
  auto d3 = check(ports_rule("      - port: \"80\"\n        endPort: 99999999999999999999\n"));
  EXPECT_EQ(only(d3, "invalid-range").check, "invalid-range");
  // The CRD's port pattern is `^(numbers)|(names)$`: the anchors bind to one
  // alternative each, so "65536" passes on its "6553" prefix (Cilium's own
  // port parsing rejects it later). An empty or sign-led port does not.
  EXPECT_EQ(dump(check(ports_rule("      - port: \"65536\"\n"))), "");
  auto d4 = check(ports_rule("      - port: \"\"\n"));
  EXPECT_EQ(only(d4, "invalid-pattern").check, "invalid-pattern");
  auto d5 = check(ports_rule("      - port: \"-80\"\n"));
  EXPECT_EQ(only(d5, "invalid-pattern").check, "invalid-pattern");
}

TEST(Schema, StringLengths) {
  const std::string v64(64, 'a');
  auto diags = check(cnp("  endpointSelector:\n    matchLabels:\n      app: " + v64 + "\n"));
  const auto& d = only(diags, "invalid-range");
  EXPECT_NE(d.message.find("spec.endpointSelector.matchLabels[app]: Too long: may not be more "
                           "than 63 characters"),
            std::string::npos)
      << d.message;
  EXPECT_EQ(dump(check(cnp("  endpointSelector:\n    matchLabels:\n      app: " +
                           std::string(63, 'a') + "\n"))),
            "");
}

TEST(Schema, SubjectOneOf) {
  auto neither = check(cnp("  ingress:\n  - {}\n"));
  const auto& d1 = only(neither, "missing-field");
  EXPECT_EQ(d1.message,
            "spec: Required value: exactly one of \"endpointSelector\" or \"nodeSelector\" must "
            "be set");
  EXPECT_EQ(d1.loc.line, 6);
  auto both = check(cnp("  endpointSelector: {}\n  nodeSelector: {}\n"));
  const auto& d2 = only(both, "missing-field");
  EXPECT_EQ(d2.message,
            "spec: Invalid value: \"object\": only one of \"endpointSelector\" or \"nodeSelector\" "
            "may be set, found \"endpointSelector\" and \"nodeSelector\"");
  EXPECT_EQ(d2.loc.line, 7);
  // Each element of specs is checked the same way.
  auto specs = check(
      "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\n"
      "specs:\n- endpointSelector: {}\n- ingress: []\n");
  EXPECT_EQ(only(specs, "missing-field").message.substr(0, 25), "specs[1]: Required value:");
}

TEST(Schema, NullMembersCountAsAbsent) {
  EXPECT_EQ(dump(check(cnp("  endpointSelector: {}\n  ingress:\n  egress: ~\n"))), "");
  auto diags = check(cnp("  endpointSelector:\n  ingress: []\n"));
  EXPECT_EQ(only(diags, "missing-field").message.substr(0, 21), "spec: Required value:");
  // A null list element is still a type error.
  auto d2 = check(cnp("  endpointSelector: {}\n  ingress:\n  - ~\n"));
  EXPECT_EQ(only(d2, "invalid-type").message,
            "spec.ingress[0]: Invalid value: \"null\": must be of type object");
}

TEST(Schema, CidrRulesAndFormat) {
  const std::string head = "  endpointSelector: {}\n  egress:\n  - toCIDRSet:\n";
  EXPECT_EQ(dump(check(cnp(head + "    - cidr: 10.0.0.0/8\n      except: [10.1.0.0/16]\n"))),
            "");
  EXPECT_EQ(dump(check(cnp(head + "    - cidrGroupRef: my-group\n"))), "");
  auto both = check(cnp(head + "    - cidr: 10.0.0.0/8\n      cidrGroupRef: g\n"));
  EXPECT_EQ(only(both, "missing-field").check, "missing-field");
  auto neither = check(cnp(head + "    - except: [10.1.0.0/16]\n"));
  EXPECT_EQ(only(neither, "missing-field").message,
            "spec.egress[0].toCIDRSet[0]: Required value: exactly one of \"cidr\" or "
            "\"cidrGroupRef\" must be set");
  // format: cidr wants a prefix length; a bare IP does not pass the API server.
  auto bare = check(cnp("  endpointSelector: {}\n  egress:\n  - toCIDR: [10.0.0.1]\n"));
  EXPECT_EQ(only(bare, "invalid-pattern").message,
            "spec.egress[0].toCIDR[0]: Invalid value: \"10.0.0.1\": must be of type cidr");
  EXPECT_EQ(dump(check(cnp("  endpointSelector: {}\n  egress:\n"
                           "  - toCIDR: [\"2001:db8::/32\", 192.168.001.0/24, 0.0.0.0/0]\n"))),
            "");
  auto bad_len = check(cnp("  endpointSelector: {}\n  egress:\n  - toCIDR: [10.0.0.0/33]\n"));
  EXPECT_EQ(only(bad_len, "invalid-pattern").check, "invalid-pattern");
}

TEST(Schema, IcmpTypeIsIntOrString) {
  const std::string head =
      "  endpointSelector: {}\n  egress:\n  - icmps:\n    - fields:\n";
  EXPECT_EQ(dump(check(cnp(head + "      - type: 8\n        family: IPv4\n"
                                  "      - type: EchoRequest\n"
                                  "      - type: \"8\"\n"))),
            "");
  auto wrong = check(cnp(head + "      - type: true\n"));
  EXPECT_EQ(only(wrong, "invalid-type").message,
            "spec.egress[0].icmps[0].fields[0].type: Invalid value: \"boolean\": must be of type "
            "integer or string");
  auto name = check(cnp(head + "      - type: EchoBogus\n"));
  EXPECT_EQ(only(name, "invalid-pattern").check, "invalid-pattern");
  auto fam = check(cnp(head + "      - type: 8\n        family: IPv5\n"));
  EXPECT_EQ(only(fam, "invalid-enum").check, "invalid-enum");
  auto req = check(cnp(head + "      - family: IPv6\n"));
  EXPECT_EQ(only(req, "missing-field").message,
            "spec.egress[0].icmps[0].fields[0].type: Required value");
}

TEST(Schema, L7RulesAreAUnion) {
  const std::string head = ports_rule("      - port: \"80\"\n        protocol: TCP\n") +
                           "      rules:\n";
  EXPECT_EQ(dump(check(head + "        http:\n        - method: GET\n          path: /\n")), "");
  auto both = check(head + "        http: [{}]\n        dns: [{matchPattern: \"*\"}]\n");
  EXPECT_EQ(only(both, "missing-field").check, "missing-field");
  auto none = check(head + "        {}\n");
  EXPECT_EQ(only(none, "missing-field").message,
            "spec.ingress[0].toPorts[0].rules: Required value: exactly one of \"http\", "
            "\"kafka\", \"dns\" or \"l7proto\" must be set");
  auto kafka = check(head + "        kafka:\n        - role: eat\n");
  EXPECT_EQ(only(kafka, "invalid-enum").check, "invalid-enum");
}

TEST(Schema, SelectorExpressions) {
  auto diags = check(cnp(
      "  endpointSelector:\n"
      "    matchExpressions:\n"
      "    - key: app\n"
      "      operator: Equals\n"
      "      values: [a]\n"
      "    - operator: Exists\n"));
  ASSERT_EQ(diags.all().size(), 2u) << dump(diags);
  EXPECT_EQ(diags.all()[0].check, "invalid-enum");
  EXPECT_EQ(diags.all()[1].message, "spec.endpointSelector.matchExpressions[1].key: Required value");
}

TEST(Schema, ClusterwideNodeSelector) {
  const std::string ccnp =
      "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\n"
      "spec:\n  nodeSelector:\n    matchLabels: {role: worker}\n  ingress:\n"
      "  - fromEntities: [remote-node]\n";
  EXPECT_EQ(dump(check(ccnp, SchemaKind::CiliumClusterwideNetworkPolicy)), "");
  // Missing metadata is a schema error for both Cilium kinds.
  auto diags = check("apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\n"
                     "spec:\n  endpointSelector: {}\n",
                     SchemaKind::CiliumClusterwideNetworkPolicy);
  EXPECT_EQ(only(diags, "missing-field").message, "metadata: Required value");
}

TEST(Schema, KubernetesNetworkPolicy) {
  const std::string head =
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: "
      "n}\nspec:\n  podSelector:\n    matchLabels: {app: web}\n  policyTypes: [Ingress, "
      "Egress]\n";
  const auto K = SchemaKind::NetworkPolicy;
  EXPECT_EQ(dump(check(head +
                           "  ingress:\n"
                           "  - from:\n"
                           "    - namespaceSelector: {}\n"
                           "      podSelector: {matchLabels: {role: db}}\n"
                           "    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n"
                           "    ports:\n"
                           "    - {protocol: TCP, port: 80, endPort: 90}\n"
                           "    - {protocol: UDP, port: dns}\n"
                           "  egress:\n"
                           "  - to: [{podSelector: {}}]\n",
                       K)),
            "");
  auto proto = check(head + "  ingress:\n  - ports:\n    - {protocol: ICMP}\n", K);
  EXPECT_EQ(only(proto, "invalid-enum").message,
            "spec.ingress[0].ports[0].protocol: Unsupported value: \"ICMP\": supported values: "
            "\"TCP\", \"UDP\", \"SCTP\"");
  auto zero = check(head + "  ingress:\n  - ports:\n    - {port: 0}\n", K);
  EXPECT_EQ(only(zero, "invalid-range").message,
            "spec.ingress[0].ports[0].port: Invalid value: 0: should be greater than or equal to 1");
  auto upper = check(head + "  ingress:\n  - ports:\n    - {port: HTTP}\n", K);
  EXPECT_EQ(only(upper, "invalid-pattern").check, "invalid-pattern");
  auto digits = check(head + "  ingress:\n  - ports:\n    - {port: \"80\"}\n", K);
  EXPECT_EQ(only(digits, "invalid-pattern").check, "invalid-pattern");
  auto cidr = check(head + "  egress:\n  - to:\n    - ipBlock: {except: [10.0.0.0/8]}\n", K);
  EXPECT_EQ(only(cidr, "missing-field").message, "spec.egress[0].to[0].ipBlock.cidr: Required value");
  auto types = check(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
      "spec:\n  podSelector: {}\n  policyTypes: [ingress]\n",
      K);
  const auto& d = only(types, "invalid-enum");
  EXPECT_EQ(d.hint, "did you mean 'Ingress'?");
  auto typo = check(head + "  ingress:\n  - form: []\n", K);
  EXPECT_EQ(only(typo, "unknown-field").hint, "did you mean 'from'?");
}

TEST(Schema, NeverCrashesOnOddShapes) {
  const std::vector<std::string> docs = {
      "",
      "~",
      "42",
      "[1, 2, 3]",
      "spec: 5",
      "spec: [a]",
      "spec: {endpointSelector: 5, ingress: {a: b}, egress: [[], 1, x, {toPorts: 3}]}",
      "spec: {endpointSelector: {matchLabels: {? [a, b] : c}}}",
      "specs: {a: 1}",
      "specs: [~, 1, [], {ingress: [{toPorts: [{ports: [{port: [1]}], rules: [1]}]}]}]",
      "a: &x [*x]\nspec: {endpointSelector: {}, ingress: [{fromEndpoints: *x}]}",
      "spec: !!map {endpointSelector: !!str {}, ingress: !custom [1]}",
      "metadata: !!binary aGVsbG8=\nspec: {endpointSelector: {matchLabels: {a: !!int x}}}",
  };
  for (const auto& text : docs) {
    for (auto kind : {SchemaKind::CiliumNetworkPolicy, SchemaKind::CiliumClusterwideNetworkPolicy,
                      SchemaKind::NetworkPolicy}) {
      YAML::Node node;
      try {
        node = YAML::Load(text);
      } catch (const YAML::Exception&) {
        continue;
      }
      Diagnostics diags;
      EXPECT_NO_THROW(check_schema(node, kind, "f.yaml", diags)) << text;
    }
  }
  EXPECT_NO_THROW({
    Diagnostics diags;
    check_schema(YAML::Node(), SchemaKind::CiliumNetworkPolicy, "f.yaml", diags);
  });
}

// The committed stripped schemas are exactly what the generator makes from
// the CRDs in the shared corpus.
TEST(SchemaGen, CommittedFilesAreUpToDate) {
  const std::filesystem::path crds = std::filesystem::path(CNPC_SHARED_DIR) / "corpus" / "crds";
  if (!std::filesystem::exists(crds / "ciliumnetworkpolicies.yaml")) {
    std::cout << "skipping: no CRDs at " << crds << "\n";
    GTEST_SKIP() << "CRD corpus not found at " << crds;
  }
  const std::filesystem::path dir = std::filesystem::path(CNPC_SOURCE_DIR) / "compiler" / "schema";
  const std::pair<const char*, const char*> files[] = {
      {"ciliumnetworkpolicies.yaml", "ciliumnetworkpolicy.schema.yaml"},
      {"ciliumclusterwidenetworkpolicies.yaml", "ciliumclusterwidenetworkpolicy.schema.yaml"},
  };
  for (const auto& [crd, out] : files) {
    const std::string crd_text = read_file(crds / crd);
    const std::string generated = cnpc::schema_gen::render_schema_file(crd_text, crd);
    EXPECT_EQ(generated, read_file(dir / out))
        << out << " is stale; rebuild it with compiler/schema/gen_schema.cpp";
    // And the emitted YAML reads back as the same tree.
    const YAML::Node stripped = cnpc::schema_gen::strip_schema(
        cnpc::schema_gen::crd_version_schema(YAML::Load(crd_text), "v2"));
    EXPECT_TRUE(same_tree(stripped, YAML::Load(generated))) << out;
  }
}

// Every CNP, CCNP and KNP in the Cilium corpus passes, apart from the files
// listed here, which the real API server rejects too.
TEST(Schema, CiliumCorpus) {
  const std::filesystem::path dir = std::filesystem::path(CNPC_SHARED_DIR) / "corpus" / "cilium";
  if (!std::filesystem::exists(dir)) {
    std::cout << "skipping: no corpus at " << dir << "\n";
    GTEST_SKIP() << "corpus not found at " << dir;
  }
  const std::set<std::string> expected_rejects = {
      // A newer example: `protocol: VRRP` without a port needs a newer CRD
      // (the baseline enum is TCP/UDP/SCTP/ANY and `port` is required).
      "examples__policies__host__allow-extended-protocols.yaml",
      // `operator: "in"`: the CRD enum is case-sensitive ("In").
      "examples__policies__l3__match-expressions__and-statement.yaml",
      "examples__policies__l3__match-expressions__or-statement.yaml",
      // Test templates: NODE_WITHOUT_CILIUM_IP/32 is substituted before use.
      "test__k8s__manifests__ccnp-host-ingress-from-cidr-to-ports.yaml",
      "test__k8s__manifests__ccnp-host-policy-nodeport-tests.yaml",
      "test__k8s__manifests__cnp-ingress-from-cidr-to-ports.yaml",
  };
  std::vector<std::filesystem::path> paths;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const auto ext = e.path().extension();
    if (ext == ".yaml" || ext == ".yml" || ext == ".json") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  std::set<std::string> rejected;
  size_t objects = 0;
  for (const auto& path : paths) {
    std::vector<YAML::Node> docs;
    try {
      docs = YAML::LoadAll(read_file(path));
    } catch (const YAML::Exception& e) {
      ADD_FAILURE() << path << ": " << e.what();
      continue;
    }
    const std::string name = path.filename().string();
    for (const auto& doc : docs) {
      if (!doc.IsMap() || !doc["kind"].IsScalar()) continue;
      const std::string kind = doc["kind"].Scalar();
      SchemaKind sk;
      if (kind == "CiliumNetworkPolicy") sk = SchemaKind::CiliumNetworkPolicy;
      else if (kind == "CiliumClusterwideNetworkPolicy")
        sk = SchemaKind::CiliumClusterwideNetworkPolicy;
      else if (kind == "NetworkPolicy") sk = SchemaKind::NetworkPolicy;
      else continue;
      ++objects;
      Diagnostics diags;
      check_schema(doc, sk, name, diags);
      for (const auto& d : diags.all())
        std::cout << "  " << name << ":" << d.loc.line << ":" << d.loc.column << ": "
                  << cnpc::ir::to_string(d.severity) << ": " << d.message << " [" << d.check
                  << "]\n";
      if (diags.has_errors()) rejected.insert(name);
    }
  }
  std::cout << "  " << objects << " policy objects in " << paths.size() << " files, "
            << rejected.size() << " files rejected\n";
  EXPECT_GT(objects, 100u);
  EXPECT_EQ(rejected, expected_rejects);
}

}  // namespace
