// Tests for Cilium's own validation (compiler/src/sanitize.cpp): one or more
// cases per message, checking check name, exact text and line:column.
#include "sanitize.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace cnpc::frontend {
namespace {

using ir::Severity;

// Runs sanitize_object over every document of `yaml` (kind from the
// document, or `kind` for bare rules) and returns the findings.
std::vector<ir::Diagnostic> run(std::string yaml, LoadOptions opts = {},
                                const std::string& kind = "") {
  if (!yaml.empty() && yaml[0] == '\n') yaml.erase(0, 1);  // raw strings start with \n
  ir::Diagnostics diags;
  for (const auto& doc : YAML::LoadAll(yaml)) {
    if (!kind.empty()) {
      sanitize_object(doc, kind, "t.yaml", opts, diags);
    } else {
      sanitize_object(doc, doc["kind"].Scalar(), "t.yaml", opts, diags);
    }
  }
  return diags.all();
}

std::string dump(const std::vector<ir::Diagnostic>& ds) {
  std::ostringstream out;
  for (const auto& d : ds)
    out << "  " << d.loc.line << ":" << d.loc.column << " " << d.check << " ["
        << to_string(d.severity) << "] " << d.message << "\n";
  return out.str();
}

// Exactly one finding, with this check, message and position.
void expect_one(const std::vector<ir::Diagnostic>& ds, const std::string& check,
                const std::string& message, int line, int column,
                Severity severity = Severity::Error) {
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].check, check);
  EXPECT_EQ(ds[0].message, message);
  EXPECT_EQ(ds[0].loc.file, "t.yaml");
  EXPECT_EQ(ds[0].loc.line, line) << dump(ds);
  EXPECT_EQ(ds[0].loc.column, column) << dump(ds);
  EXPECT_EQ(ds[0].severity, severity);
}

// A finding with this message exists at this position.
void expect_has(const std::vector<ir::Diagnostic>& ds, const std::string& check,
                const std::string& message, int line, int column) {
  for (const auto& d : ds)
    if (d.check == check && d.message == message && d.loc.line == line && d.loc.column == column)
      return;
  ADD_FAILURE() << "missing " << line << ":" << column << " " << check << " " << message << "\n"
                << dump(ds);
}

// A CNP whose spec body (indented by two) follows `spec:` on line 5.
std::string cnp(const std::string& body) {
  return "apiVersion: cilium.io/v2\n"
         "kind: CiliumNetworkPolicy\n"
         "metadata:\n"
         "  name: p\n"
         "spec:\n"
         "  endpointSelector: {}\n" +
         body;
}

// --- envelope -------------------------------------------------------------

TEST(SanitizeEnvelope, CnpMustHaveName) {
  auto ds = run(R"(
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  namespace: x
spec:
  endpointSelector: {}
)");
  expect_one(ds, "invalid-policy", "CiliumNetworkPolicy must have name", 3, 1);
}

TEST(SanitizeEnvelope, CcnpMustHaveNameAndEmptyPolicy) {
  auto ds = run(R"(
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata:
  name: ""
)");
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-policy", "CiliumClusterwideNetworkPolicy must have name", 3, 1);
  expect_has(ds, "invalid-policy", "Invalid CiliumClusterwideNetworkPolicy spec(s): empty policy",
             1, 1);
}

TEST(SanitizeEnvelope, EmptyPolicyWhenSpecIsNull) {
  auto ds = run(R"(
kind: CiliumNetworkPolicy
metadata: {name: a}
spec: null
)");
  expect_one(ds, "invalid-policy", "Invalid CiliumNetworkPolicy spec(s): empty policy", 1, 1);
}

TEST(SanitizeEnvelope, NodeSelectorOnlyRejectedInCnpSpec) {
  auto ds = run(R"(
kind: CiliumNetworkPolicy
metadata: {name: a}
spec:
  nodeSelector: {}
specs:
- nodeSelector: {}
)");
  expect_one(ds, "invalid-policy",
             "Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector", 4, 3);
  // A CCNP may use it.
  EXPECT_TRUE(run(R"(
kind: CiliumClusterwideNetworkPolicy
metadata: {name: a}
spec:
  nodeSelector: {}
)")
                  .empty());
}

TEST(SanitizeRule, MustHaveOneSelector) {
  auto ds = run(R"(
kind: CiliumNetworkPolicy
metadata: {name: a}
specs:
- ingress: []
)");
  expect_one(ds, "invalid-policy", "rule must have one of EndpointSelector or NodeSelector", 4, 3);
}

TEST(SanitizeRule, NotBothSelectors) {
  auto ds = run(R"(
kind: CiliumClusterwideNetworkPolicy
metadata: {name: a}
spec:
  endpointSelector: {}
  nodeSelector: {}
)");
  expect_one(ds, "invalid-policy", "rule cannot have both EndpointSelector and NodeSelector", 5, 3);
}

// --- peers ----------------------------------------------------------------

TEST(SanitizePeers, CombiningFromEndpointsAndFromCidr) {
  auto ds = run(cnp(R"(  ingress:
  - fromEndpoints:
    - {}
    fromCIDR:
    - 10.0.0.0/8
)"));
  expect_one(ds, "invalid-peer", "Combining FromEndpoints and FromCIDR is not supported yet", 10,
             5);
}

TEST(SanitizePeers, FromCidrPlusFromCidrSetIsRejected) {
  auto ds = run(cnp(R"(  ingress:
  - fromCIDRSet:
    - cidr: 10.0.0.0/8
    fromCIDR: [192.168.0.0/16]
)"));
  expect_one(ds, "invalid-peer", "Combining FromCIDRSet and FromCIDR is not supported yet", 10, 5);
}

TEST(SanitizePeers, EgressToFqdnsAndToEndpoints) {
  auto ds = run(cnp(R"(  egress:
  - toFQDNs:
    - matchName: cilium.io
    toEndpoints: [{}]
    toEntities: [world]
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-peer", "Combining ToFQDNs and ToEndpoints is not supported yet", 10, 5);
  expect_has(ds, "invalid-peer", "Combining ToFQDNs and ToEntities is not supported yet", 11, 5);
}

TEST(SanitizePeers, EmptyListsDoNotCount) {
  EXPECT_TRUE(run(cnp(R"(  ingress:
  - fromEndpoints: [{}]
    fromCIDR: []
    fromEntities: null
)"))
                  .empty());
}

TEST(SanitizePeers, ToServicesAndToPorts) {
  auto ds = run(cnp(R"(  egress:
  - toServices:
    - k8sService: {serviceName: s, namespace: n}
    toPorts:
    - ports: [{port: "80"}]
)"));
  expect_one(ds, "invalid-peer", "Combining ToServices and ToPorts is not supported yet", 10, 5);
}

TEST(SanitizePeers, IcmpsWithToPorts) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "80"}]
    icmps:
    - fields: [{type: 8}]
)"));
  expect_one(ds, "invalid-peer",
             "The ICMPs block may only be present without ToPorts. Define a separate rule to use "
             "ToPorts.",
             10, 5);
}

// --- agent flags ----------------------------------------------------------

TEST(SanitizeFlags, IcmpRulesNeedTheFlag) {
  LoadOptions opts;
  opts.enable_icmp_rules = false;
  auto ds = run(cnp(R"(  ingress:
  - icmps:
    - fields: [{type: 8}]
)"),
                opts);
  expect_one(ds, "agent-flag-required",
             "ICMP rules can only be applied when the \"enable-icmp-rules\" flag is set", 8, 5,
             Severity::Error);
}

TEST(SanitizeFlags, NodesNeedTheFlagSoftly) {
  std::string y = cnp(R"(  egress:
  - toNodes:
    - matchLabels: {role: db}
)");
  auto ds = run(y);
  expect_one(ds, "agent-flag-required",
             "FromNodes/ToNodes rules can only be applied when the \"enable-node-selector-labels\" "
             "flag is set",
             8, 5, Severity::Warning);
  LoadOptions opts;
  opts.enable_node_selector_labels = true;
  EXPECT_TRUE(run(y, opts).empty());
}

TEST(SanitizeFlags, L7NeedsTheProxy) {
  LoadOptions opts;
  opts.enable_l7_proxy = false;
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{method: GET}]
)"),
                opts);
  expect_one(ds, "invalid-l7", "L7 policy is not supported since L7 proxy is not enabled", 10, 7);
}

TEST(SanitizeFlags, AnyNonEmptyRulesNeedTheProxy) {
  // countL7Rules' map is non-empty for generic l7proto rules and empty lists.
  LoadOptions opts;
  opts.enable_l7_proxy = false;
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
    - ports: [{port: "81", protocol: TCP}]
      rules: {l7proto: r2d2}
)"),
                opts);
  expect_one(ds, "invalid-l7", "L7 policy is not supported since L7 proxy is not enabled", 11, 7);
}

// --- ports ----------------------------------------------------------------

TEST(SanitizePorts, TooManyPorts) {
  std::string ports;
  for (int i = 0; i < 41; ++i) ports += "{port: \"" + std::to_string(1000 + i) + "\"},";
  auto ds = run(cnp("  ingress:\n  - toPorts:\n    - ports: [" + ports + "]\n"));
  expect_one(ds, "invalid-port", "too many ports, the max is 40", 9, 7);
}

TEST(SanitizePorts, PortMustBeSpecified) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports:
      - port: ""
      - protocol: UDP
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-port", "Port must be specified", 10, 15);
  expect_has(ds, "invalid-port", "Port must be specified", 11, 9);
}

TEST(SanitizePorts, UnableToParsePort) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports:
      - port: "80-90"
      - port: "70000"
      - port: "0x10"
      - port: "1_000"
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-port",
             "Unable to parse port: strconv.ParseUint: parsing \"80-90\": invalid syntax", 10, 15);
  expect_has(ds, "invalid-port",
             "Unable to parse port: strconv.ParseUint: parsing \"70000\": value out of range", 11,
             15);
}

TEST(SanitizePorts, InvalidProtocolInBareRule) {
  // The CRD enum stops this for CNPs; a bare rule reaches L4Proto.Validate.
  auto ds = run(R"(
endpointSelector: {}
egress:
- toPorts:
  - ports:
    - {port: "80", protocol: icmp}
    - {port: "81", protocol: tcp}
)",
                {}, "CiliumRule");
  expect_one(ds, "invalid-port", "invalid protocol \"ICMP\", must be { tcp | udp | sctp | any }", 5,
             30);
}

TEST(SanitizePorts, ParsePortNumberHelper) {
  EXPECT_EQ(parse_port_number("80"), 80);
  EXPECT_EQ(parse_port_number("0"), 0);
  EXPECT_EQ(parse_port_number("010"), 8);              // octal, as ParseUint(s, 0, 16)
  EXPECT_EQ(parse_port_number("0b11"), std::nullopt);  // an IANA name: letters and digits
  EXPECT_EQ(parse_port_number("1_000"), 1000);
  EXPECT_EQ(parse_port_number("0x10"), std::nullopt);  // a name, not 16
  EXPECT_EQ(parse_port_number("http"), std::nullopt);
  EXPECT_EQ(parse_port_number("65536"), std::nullopt);
  EXPECT_EQ(parse_port_number("08"), std::nullopt);
  EXPECT_EQ(parse_port_number(""), std::nullopt);
  EXPECT_TRUE(is_iana_svc_name("dns-tcp"));
  EXPECT_FALSE(is_iana_svc_name("dns--tcp"));
  EXPECT_FALSE(is_iana_svc_name("-dns"));
  EXPECT_FALSE(is_iana_svc_name("1234"));
  EXPECT_FALSE(is_iana_svc_name("abcdefghijklmnop"));
}

// --- L7 -------------------------------------------------------------------

TEST(SanitizeL7, HttpNeedsTcpIncludingOmittedProtocol) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports:
      - port: "80"
        protocol: UDP
      - port: "81"
      rules:
        http: [{}]
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-l7", "L7 rules can only apply to TCP (not UDP) except for DNS rules", 11,
             19);
  expect_has(ds, "invalid-l7", "L7 rules can only apply to TCP (not ANY) except for DNS rules", 12,
             9);
}

TEST(SanitizeL7, DnsMayUseUdpAndAny) {
  EXPECT_TRUE(run(cnp(R"(  egress:
  - toPorts:
    - ports:
      - port: "53"
        protocol: ANY
      rules:
        dns: [{matchPattern: "*"}]
)"))
                  .empty());
}

TEST(SanitizeL7, PortZeroWithL7) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "0", protocol: TCP}]
      rules:
        http: [{path: /}]
)"));
  expect_one(ds, "invalid-l7", "L7 rules can not be used when a port is 0", 9, 22);
}

TEST(SanitizeL7, DnsOnIngress) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "53", protocol: UDP}]
      rules:
        dns:
        - matchName: a.b
)"));
  expect_one(ds, "invalid-l7", "L7 protocol DNS is not supported on ingress yet", 11, 9);
}

TEST(SanitizeL7, DnsPortRangeAndMissingPort) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "53", endPort: 54, protocol: UDP}]
      rules:
        dns: [{matchName: a.b}]
    - rules:
        dns: [{matchName: a.b}]
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-l7", "DNS rules do not support port ranges", 9, 37);
  expect_has(ds, "invalid-l7", "Port 53 must be specified for DNS rules", 13, 9);
}

TEST(SanitizeL7, MultipleKindsAndL7WithoutProto) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: []
        kafka: []
    - ports: [{port: "81", protocol: TCP}]
      rules:
        l7:
        - {"": x}
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-l7", "multiple L7 protocol rule types specified in single rule", 12, 9);
  expect_has(ds, "invalid-l7", "'l7' may only be specified when a 'l7proto' is also specified", 15,
             9);
}

TEST(SanitizeL7, GenericL7EmptyKey) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        l7proto: r2d2
        l7:
        - {cmd: READ, "": x}
)"));
  expect_one(ds, "invalid-l7", "Empty key not allowed", 13, 23);
}

TEST(SanitizeL7, HostPolicyL7) {
  auto ds = run(R"(
kind: CiliumClusterwideNetworkPolicy
metadata: {name: h}
spec:
  nodeSelector: {}
  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http: [{}]
  egress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        kafka: [{}]
    - ports: [{port: "53", protocol: UDP}]
      rules:
        dns: [{matchName: a.b}]
)");
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-l7", "L7 policy is not supported on host ingress yet", 8, 7);
  expect_has(ds, "invalid-l7", "L7 protocol Kafka is not supported on host egress yet", 14, 9);
}

TEST(SanitizeL7, Listener) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      listener:
        envoyConfig: {kind: CiliumEnvoyConfig, name: cec}
        name: lst
  egress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      listener: {envoyConfig: {name: cec}, name: lst}
      rules:
        http: [{}]
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-l7", "Listener is not allowed on ingress (lst)", 10, 7);
  expect_has(ds, "invalid-l7", "Listener is not allowed with L7 rules (lst)", 16, 7);
}

TEST(SanitizeL7, ServerNames) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [a.com, ""]
      rules:
        http: [{}]
    - ports: [{port: "443", protocol: TCP}]
      serverNames: [b.com]
      terminatingTLS: {secret: {name: s}}
      rules:
        http: [{}]
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-l7", "ServerNames are not allowed with L7 rules without TLS termination",
             10, 7);
  expect_has(ds, "invalid-l7", "Empty server name is not allowed", 10, 28);
}

// --- HTTP -----------------------------------------------------------------

TEST(SanitizeHttp, PathAndMethodMustCompile) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http:
        - path: "/a(b"
          method: "GE[T"
        - path: "/x**"
          host: "a\\q"
)"));
  ASSERT_EQ(ds.size(), 4u) << dump(ds);
  expect_has(ds, "invalid-http", "error parsing regexp: missing closing ): `/a(b`", 12, 17);
  expect_has(ds, "invalid-http", "error parsing regexp: missing closing ]: `[T`", 13, 19);
  expect_has(ds, "invalid-http", "error parsing regexp: invalid nested repetition operator: `**`",
             14, 17);
  expect_has(ds, "invalid-http", "error parsing regexp: invalid escape sequence: `\\q`", 15, 17);
}

TEST(SanitizeHttp, HeaderMatches) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        http:
        - headerMatches:
          - {value: x}
          - {name: X, mismatch: DROP}
          - {name: Y, secret: {namespace: n}}
)"));
  ASSERT_EQ(ds.size(), 3u) << dump(ds);
  expect_has(ds, "invalid-http", "Header name missing", 13, 13);
  expect_has(ds, "invalid-http", "Invalid header action: DROP", 14, 33);
  expect_has(ds, "invalid-http", "Secret name missing", 15, 23);
}

TEST(SanitizeHttp, GoRegexpHelper) {
  EXPECT_EQ(go_regexp_error("/public/.*"), std::nullopt);
  EXPECT_EQ(go_regexp_error("(?<name>x)"), std::nullopt);  // Go 1.22 syntax
  EXPECT_EQ(go_regexp_error("a)"), "error parsing regexp: unexpected ): `a)`");
  EXPECT_EQ(go_regexp_error("x{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
  EXPECT_EQ(go_regexp_error("*"),
            "error parsing regexp: missing argument to repetition operator: `*`");
  EXPECT_EQ(go_regexp_error("a\\"),
            "error parsing regexp: trailing backslash at end of expression: ``");
}

// --- DNS / FQDN -----------------------------------------------------------

TEST(SanitizeDns, FqdnSelectorMessages) {
  auto ds = run(cnp(R"(  egress:
  - toFQDNs:
    - matchName: a.com
      matchPattern: "*.a.com"
    - matchName: "a b.com"
    - matchPattern: "[a].com"
)"));
  ASSERT_EQ(ds.size(), 3u) << dump(ds);
  expect_has(ds, "invalid-dns",
             "only one of MatchName or MatchPattern is allowed in an FQDNSelector", 10, 7);
  expect_has(ds, "invalid-dns",
             "Invalid characters in MatchName: \"a b.com\". Only 0-9, a-z, A-Z and . and - "
             "characters are allowed",
             11, 18);
  expect_has(ds, "invalid-dns",
             "Invalid characters in MatchPattern: \"[a].com\". Only 0-9, a-z, A-Z and ., - and * "
             "characters are allowed",
             12, 21);
}

TEST(SanitizeDns, DnsRuleCharacters) {
  auto ds = run(cnp(R"(  egress:
  - toPorts:
    - ports: [{port: "53", protocol: ANY}]
      rules:
        dns:
        - matchPattern: "*.cilium.io"
          matchName: "bad/name"
)"));
  expect_one(ds, "invalid-dns",
             "Invalid characters in MatchName: \"bad/name\". Only 0-9, a-z, A-Z and . and - "
             "characters are allowed",
             13, 22);
}

// --- Kafka ----------------------------------------------------------------

TEST(SanitizeKafka, Messages) {
  auto ds = run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "9092", protocol: TCP}]
      rules:
        kafka:
        - {role: produce, apiKey: fetch}
        - {apiKey: nosuch}
        - {role: admin}
        - {apiVersion: "-1"}
        - {topic: "a/b"}
        - {apiKey: Produce, topic: "a.b_c-d", apiVersion: "32767"}
)"));
  ASSERT_EQ(ds.size(), 5u) << dump(ds);
  expect_has(ds, "invalid-kafka", "cannot set both Role \"produce\" and APIKey \"fetch\" together",
             12, 27);
  expect_has(ds, "invalid-kafka", "invalid Kafka APIKey \"nosuch\"", 13, 20);
  expect_has(ds, "invalid-kafka", "invalid Kafka Role \"admin\"", 14, 18);
  expect_has(ds, "invalid-kafka", "invalid Kafka APIVersion \"-1\"", 15, 24);
  expect_has(ds, "invalid-kafka", "invalid Kafka Topic name \"a/b\"", 16, 19);
}

TEST(SanitizeKafka, TopicTooLong) {
  auto ds =
      run(cnp("  ingress:\n  - toPorts:\n    - ports: [{port: \"9092\", protocol: TCP}]\n"
              "      rules:\n        kafka:\n        - topic: " +
              std::string(256, 't') + "\n"));
  expect_one(ds, "invalid-kafka", "kafka topic exceeds maximum len of 255", 12, 18);
}

// --- ICMP -----------------------------------------------------------------

TEST(SanitizeIcmp, TooManyTypesAndWrongFamily) {
  std::string fields;
  for (int i = 0; i < 41; ++i) fields += "{type: " + std::to_string(i) + "},";
  auto ds = run(cnp("  ingress:\n  - icmps:\n    - fields: [" + fields +
                    "]\n    - fields:\n      - {family: IPv5, type: 8}\n"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-icmp", "too many types, the max is 40", 9, 7);
  expect_has(ds, "invalid-icmp", "wrong family: IPv5", 11, 18);
}

TEST(SanitizeIcmp, UnknownTypeNames) {
  auto ds = run(cnp(R"(  ingress:
  - icmps:
    - fields:
      - type: EchoRequest
      - {family: IPv6, type: NeighborSolicitation}
      - type: NeighborSolicitation
      - {family: IPv6, type: Photuris}
      - type: "8"
  ingressDeny:
  - icmps:
    - fields:
      - type: Bogus
)"));
  ASSERT_EQ(ds.size(), 3u) << dump(ds);
  expect_has(ds, "invalid-icmp", "ICMP type NeighborSolicitation not found in IPv4", 12, 15);
  expect_has(ds, "invalid-icmp", "ICMP type Photuris not found in IPv6", 13, 30);
  // Decoding fails before Sanitize, so deny sections are checked too.
  expect_has(ds, "invalid-icmp", "ICMP type Bogus not found in IPv4", 18, 15);
}

TEST(SanitizeIcmp, BareRuleFamilyIsNotDefaulted) {
  auto ds = run(R"(
endpointSelector: {}
ingress:
- icmps:
  - fields: [{type: Nope}]
)",
                {}, "CiliumRule");
  expect_one(ds, "invalid-icmp", "ICMP type Nope not found in ", 4, 21);
}

TEST(SanitizeIcmp, TypeNameHelper) {
  EXPECT_EQ(icmp_type_from_name("EchoRequest", false), 8);
  EXPECT_EQ(icmp_type_from_name("EchoRequest", true), 128);
  EXPECT_EQ(icmp_type_from_name("Echo", false), 8);
  EXPECT_EQ(icmp_type_from_name("Echo", true), std::nullopt);
  EXPECT_EQ(icmp_type_from_name("ExtendedEchoReply", true), 161);
  EXPECT_EQ(icmp_type_from_name("echoRequest", false), std::nullopt);
}

// --- entities, CIDRs ------------------------------------------------------

TEST(SanitizeEntities, Unsupported) {
  auto ds = run(cnp(R"(  egress:
  - toEntities: [world, world-ipv4, kube-apiserver, internet]
)"));
  expect_one(ds, "invalid-entity", "unsupported entity: internet", 8, 53);
}

TEST(SanitizeCidr, CidrMessages) {
  auto ds = run(cnp(R"(  egress:
  - toCIDR:
    - ""
    - 10.0.0.0/33
    - 10.0.0.1
    - "fe80::1%eth0"
    - 2001:db8::/129
    - 10.01.0.0/16
)"));
  ASSERT_EQ(ds.size(), 4u) << dump(ds);
  expect_has(ds, "invalid-cidr", "IP must be specified", 9, 7);
  expect_has(ds, "invalid-cidr",
             "unable to parse CIDR: ParseAddr(\"10.0.0.0/33\"): unexpected character (at \"/33\")",
             10, 7);
  expect_has(ds, "invalid-cidr",
             "unable to parse CIDR: ParseAddr(\"2001:db8::/129\"): each colon-separated field must "
             "have at least one digit (at \"/129\")",
             13, 7);
  expect_has(ds, "invalid-cidr",
             "unable to parse CIDR: ParseAddr(\"10.01.0.0/16\"): IPv4 field has octet with leading "
             "zero",
             14, 7);
}

TEST(SanitizeCidr, CidrRuleMessages) {
  auto ds = run(cnp(R"(  ingress:
  - fromCIDRSet:
    - cidr: 10.0.0.1
    - cidr: 10.0.0.0/8
      except: [10.1.0.0/16, 11.0.0.0/16, "::/64", 10.2.0.0]
    - cidrGroupRef: group
)"));
  ASSERT_EQ(ds.size(), 4u) << dump(ds);
  expect_has(ds, "invalid-cidr",
             "Unable to parse CIDRRule \"10.0.0.1\": netip.ParsePrefix(\"10.0.0.1\"): no '/'", 9,
             13);
  expect_has(ds, "invalid-cidr",
             "allow CIDR prefix 10.0.0.0/8 does not contain exclude CIDR prefix 11.0.0.0/16", 11,
             29);
  expect_has(ds, "invalid-cidr",
             "allow CIDR prefix 10.0.0.0/8 does not contain exclude CIDR prefix ::/64", 11, 42);
  expect_has(ds, "invalid-cidr", "netip.ParsePrefix(\"10.2.0.0\"): no '/'", 11, 51);
}

// --- selectors ------------------------------------------------------------

TEST(SanitizeSelectors, OperatorValues) {
  auto ds = run(cnp(R"(  ingress:
  - fromEndpoints:
    - matchExpressions:
      - {key: app, operator: In}
      - key: app
        operator: Exists
        values: [x]
      - {key: app, operator: in, values: [x]}
)"));
  ASSERT_EQ(ds.size(), 3u) << dump(ds);
  expect_has(ds, "invalid-selector",
             "invalid label selector: matchExpressions[0].values: Required value: must be "
             "specified when `operator` is 'In' or 'NotIn'",
             10, 9);
  expect_has(ds, "invalid-selector",
             "invalid label selector: matchExpressions[1].values: Forbidden: may not be specified "
             "when `operator` is 'Exists' or 'DoesNotExist'",
             13, 9);
  expect_has(ds, "invalid-selector",
             "invalid label selector: matchExpressions[2].operator: Invalid value: \"in\": not a "
             "valid selector operator",
             14, 30);
}

TEST(SanitizeSelectors, KeysAndValuesUseCiliumExtendedKeys) {
  auto ds = run(cnp(R"(  ingress:
  - fromEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        "reserved:host": ""
        app.kubernetes.io/name: ok
        "bad key": x
        team: "-bad"
)"));
  ASSERT_EQ(ds.size(), 2u) << dump(ds);
  expect_has(ds, "invalid-selector",
             "invalid label selector: matchLabels: Invalid value: \"any.bad key\": name part must "
             "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
             13, 9);
  expect_has(ds, "invalid-selector",
             "invalid label selector: matchLabels: Invalid value: \"-bad\": a valid label must be "
             "an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
             "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
             "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
             14, 15);
}

TEST(SanitizeSelectors, SourcePrefixCountsTowardsTheNameLimit) {
  // 60 characters is a fine Kubernetes label name, but Cilium checks "any." + key.
  std::string key(60, 'k');
  auto ds =
      run("kind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec:\n  endpointSelector:\n"
          "    matchLabels:\n      " +
          key + ": v\n");
  expect_one(ds, "invalid-selector",
             "invalid label selector: matchLabels: Invalid value: \"any." + key +
                 "\": name part must be no more than 63 characters",
             6, 7);
}

// --- deny sections ----------------------------------------------------------

TEST(SanitizeDeny, OnlyDecodeAndSyntaxFindings) {
  auto ds = run(cnp(R"(  ingressDeny:
  - fromEndpoints: [{}]
    fromCIDR: [bogus]
    fromEntities: [internet]
    toPorts:
    - ports: [{port: "80/tcp"}, {port: "99999"}, {port: http}]
  egressDeny:
  - toCIDRSet:
    - cidr: 10.0.0.0/8
      except: [11.0.0.0/8]
)"));
  ASSERT_EQ(ds.size(), 3u) << dump(ds);
  for (const auto& d : ds) EXPECT_EQ(d.severity, Severity::Warning);
  expect_has(ds, "invalid-cidr", "unable to parse CIDR: ParseAddr(\"bogus\"): unable to parse IP",
             9, 16);
  expect_has(ds, "invalid-port",
             "Unable to parse port: strconv.ParseUint: parsing \"80/tcp\": invalid syntax", 12, 22);
  expect_has(ds, "invalid-port",
             "Unable to parse port: strconv.ParseUint: parsing \"99999\": value out of range", 12,
             40);
}

// --- bare rules -------------------------------------------------------------

TEST(SanitizeBareRule, FieldNamesMatchCaseInsensitively) {
  // `cilium policy import` JSON goes through Go's encoding/json: "HTTP" is `http`.
  auto ds = run(R"(
{"endpointSelector": {},
 "ingress": [{"toPorts": [{"ports": [{"port": "80", "protocol": "udp"}],
                           "rules": {"HTTP": [{"method": "GET"}]}}]}]}
)",
                {}, "CiliumRule");
  expect_one(ds, "invalid-l7", "L7 rules can only apply to TCP (not UDP) except for DNS rules", 2,
             65);
}

TEST(SanitizeBareRule, CrdObjectsMatchExactly) {
  // The API server prunes "HTTP" from a CNP, so it carries no L7 rules.
  EXPECT_TRUE(run(cnp(R"(  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: UDP}]
      rules: {HTTP: [{}]}
)"))
                  .empty());
  auto rule = YAML::Load("{Egress: [1], egress: [2], toPORTS: 3}");
  EXPECT_EQ(go_json_member(rule, "egress")[0].Scalar(), "2");  // exact match wins
  EXPECT_EQ(go_json_member(rule, "toPorts").Scalar(), "3");
  EXPECT_FALSE(go_json_member(rule, "ingress").IsDefined());
  EXPECT_FALSE(go_json_member(YAML::Load("[1]"), "egress").IsDefined());
}

TEST(SanitizeDeny, HintsSayWhatCiliumDoes) {
  auto ds = run(cnp(R"(  egressDeny:
  - toPorts:
    - ports: [{port: ""}]
)"));
  ASSERT_EQ(ds.size(), 1u) << dump(ds);
  EXPECT_EQ(ds[0].severity, Severity::Warning);
  EXPECT_EQ(ds[0].message, "Port must be specified");
  EXPECT_NE(ds[0].hint.find("every port"), std::string::npos) << ds[0].hint;
}

// --- NetworkPolicy ----------------------------------------------------------

std::string knp(const std::string& body) {
  return "apiVersion: networking.k8s.io/v1\n"
         "kind: NetworkPolicy\n"
         "metadata:\n"
         "  name: k\n"
         "spec:\n"
         "  podSelector: {}\n" +
         body;
}

TEST(SanitizeNetworkPolicy, IpBlock) {
  auto ds = run(knp(R"(  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/16
        except: [10.0.1.0/24, 10.1.0.0/24, 10.0.0.0/16]
    - ipBlock:
        cidr: 10.0.0.0/33
    - ipBlock:
        cidr: 010.0.0.0/8
        except: [010.1.0.0/16]
)"));
  ASSERT_EQ(ds.size(), 5u) << dump(ds);
  expect_has(ds, "invalid-cidr",
             "spec.ingress[0].from[0].ipBlock.except[1]: Invalid value: \"10.1.0.0/24\": must be a "
             "strict subset of `cidr`",
             11, 31);
  expect_has(ds, "invalid-cidr",
             "spec.ingress[0].from[0].ipBlock.except[2]: Invalid value: \"10.0.0.0/16\": must be a "
             "strict subset of `cidr`",
             11, 44);
  expect_has(ds, "invalid-cidr",
             "spec.ingress[0].from[1].ipBlock.cidr: Invalid value: \"10.0.0.0/33\": not a valid "
             "CIDR",
             13, 15);
  // Kubernetes parses leading zeros, Cilium's netip does not.
  expect_has(ds, "invalid-cidr",
             "Unable to parse CIDRRule \"010.0.0.0/8\": netip.ParsePrefix(\"010.0.0.0/8\"): "
             "ParseAddr(\"010.0.0.0\"): IPv4 field has octet with leading zero",
             15, 15);
  expect_has(ds, "invalid-cidr",
             "netip.ParsePrefix(\"010.1.0.0/16\"): ParseAddr(\"010.1.0.0\"): IPv4 field has octet "
             "with leading zero",
             16, 18);
}

TEST(SanitizeNetworkPolicy, Ports) {
  auto ds = run(knp(R"(  egress:
  - ports:
    - {port: 90, endPort: 80}
    - {port: http, endPort: 81}
    - {endPort: 82}
    - {port: 0}
    - {port: "80"}
    - {port: 8080, endPort: 8090, protocol: TCP}
    - {port: 53, protocol: ICMP}
)"));
  ASSERT_EQ(ds.size(), 6u) << dump(ds);
  expect_has(ds, "invalid-port",
             "spec.egress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to "
             "`port`",
             9, 27);
  expect_has(ds, "invalid-port",
             "spec.egress[0].ports[1].endPort: Invalid value: 81: may not be specified when `port` "
             "is non-numeric",
             10, 29);
  expect_has(ds, "invalid-port",
             "spec.egress[0].ports[2].endPort: Invalid value: 82: may not be specified when `port` "
             "is not specified",
             11, 17);
  expect_has(ds, "invalid-port",
             "spec.egress[0].ports[3].port: Invalid value: 0: must be between 1 and 65535, "
             "inclusive",
             12, 14);
  expect_has(
      ds, "invalid-port",
      "spec.egress[0].ports[4].port: Invalid value: \"80\": must contain at least one letter "
      "(a-z)",
      13, 14);
  expect_has(ds, "invalid-port",
             "spec.egress[0].ports[6].protocol: Unsupported value: \"ICMP\": supported values: "
             "\"TCP\", \"UDP\", \"SCTP\"",
             15, 28);
}

TEST(SanitizeNetworkPolicy, PeersAndSelectors) {
  std::string long_key(30, 'n');
  auto ds =
      run(knp("  ingress:\n  - from:\n    - {}\n"
              "    - podSelector: {}\n      ipBlock: {cidr: 10.0.0.0/8}\n"
              "    - namespaceSelector:\n        matchLabels:\n          " +
              long_key +
              ": x\n"
              "    - podSelector:\n        matchExpressions:\n"
              "        - {key: app, operator: In}\n"));
  ASSERT_EQ(ds.size(), 4u) << dump(ds);
  expect_has(ds, "invalid-peer", "spec.ingress[0].from[0]: Required value: must specify a peer", 9,
             7);
  expect_has(ds, "invalid-peer",
             "spec.ingress[0].from[1]: Forbidden: may not specify both ipBlock and another peer",
             11, 7);
  // Valid in Kubernetes, but Cilium's namespace-label prefix pushes it past 63.
  expect_has(ds, "invalid-selector",
             "invalid label selector: matchLabels: Invalid value: "
             "\"k8s.io.cilium.k8s.namespace.labels." +
                 long_key + "\": name part must be no more than 63 characters",
             14, 11);
  expect_has(ds, "invalid-selector",
             "spec.ingress[0].from[3].podSelector.matchExpressions[0].values: Required value: must "
             "be specified when `operator` is 'In' or 'NotIn'",
             17, 11);
}

TEST(SanitizeNetworkPolicy, MissingName) {
  auto ds = run("kind: NetworkPolicy\nmetadata: {namespace: x}\nspec: {podSelector: {}}\n");
  expect_one(ds, "invalid-policy",
             "metadata.name: Required value: name or generateName is required", 2, 1);
}

// --- robustness -------------------------------------------------------------

TEST(SanitizeRobustness, MalformedNodesNeverCrash) {
  const char* docs[] = {
      "kind: CiliumNetworkPolicy\nmetadata: 3\nspec: [1, 2]\n",
      "kind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec: {endpointSelector: 5, ingress: 7}\n",
      "kind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec: {endpointSelector: {matchLabels: [1], "
      "matchExpressions: {a: b}}, ingress: [1, [2], {toPorts: 3}, {toPorts: [{ports: 5, rules: "
      "[]}, {ports: [[1]], rules: {http: 5, dns: {a: 1}, l7: 3}}]}]}\n",
      "kind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec: {endpointSelector: {}, egress: "
      "[{toCIDR: [{a: 1}], toCIDRSet: [3, {cidr: [1], except: 4}], icmps: [{fields: [3, {type: "
      "[1]}]}], toFQDNs: [1], toEntities: [{}]}]}\n",
      "kind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: 3, ingress: [{from: 3, "
      "ports: [{port: [1], endPort: x}]}, 5], egress: {a: 1}}\n",
      "kind: NetworkPolicy\nspec: 3\n",
  };
  for (const char* d : docs) {
    ir::Diagnostics diags;
    auto node = YAML::Load(d);
    EXPECT_NO_THROW(sanitize_object(node, node["kind"].Scalar(), "t.yaml", {}, diags)) << d;
  }
  ir::Diagnostics diags;
  EXPECT_NO_THROW(sanitize_object(YAML::Node(), "CiliumRule", "t.yaml", {}, diags));
  EXPECT_NO_THROW(sanitize_object(YAML::Load("[1,2]"), "CiliumNetworkPolicy", "t", {}, diags));
}

// --- the shared corpus --------------------------------------------------------

#ifdef CNPC_SHARED_DIR
// Which upstream files Cilium (at the baseline, default agent flags) rejects.
TEST(SanitizeCorpus, OnlyKnownFilesHaveErrors) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(CNPC_SHARED_DIR) / "corpus" / "cilium";
  if (!fs::is_directory(dir)) GTEST_SKIP() << dir << " not found";
  const std::map<std::string, std::set<std::string>> expected = {
      // [newer] file: `protocol: VRRP` with no port.
      {"examples__policies__host__allow-extended-protocols.yaml", {"invalid-port"}},
      // `operator: "in"`: the CRD enum and ValidateLabelSelector are case-sensitive.
      {"examples__policies__l3__match-expressions__and-statement.yaml", {"invalid-selector"}},
      {"examples__policies__l3__match-expressions__or-statement.yaml", {"invalid-selector"}},
      // Templates: NODE_WITHOUT_CILIUM_IP is substituted by the test harness.
      {"test__k8s__manifests__ccnp-host-ingress-from-cidr-to-ports.yaml", {"invalid-cidr"}},
      {"test__k8s__manifests__ccnp-host-policy-nodeport-tests.yaml", {"invalid-cidr"}},
      {"test__k8s__manifests__cnp-ingress-from-cidr-to-ports.yaml", {"invalid-cidr"}},
  };
  std::map<std::string, std::set<std::string>> got;
  std::function<void(const YAML::Node&, const std::string&, ir::Diagnostics&)> visit =
      [&](const YAML::Node& doc, const std::string& f, ir::Diagnostics& d) {
        if (doc.IsSequence()) {
          for (const auto& r : doc) sanitize_object(r, "CiliumRule", f, {}, d);
          return;
        }
        if (!doc.IsMap() || !doc["kind"].IsScalar()) return;
        std::string kind = doc["kind"].Scalar();
        if (kind == "List")
          for (const auto& i : doc["items"]) visit(i, f, d);
        else
          sanitize_object(doc, kind, f, {}, d);
      };
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".md")) continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    ir::Diagnostics d;
    for (const auto& doc : YAML::LoadAll(text.str())) visit(doc, name, d);
    for (const auto& x : d.all())
      if (x.severity == Severity::Error) got[name].insert(x.check);
  }
  EXPECT_EQ(got, expected);
}
#endif

}  // namespace
}  // namespace cnpc::frontend
