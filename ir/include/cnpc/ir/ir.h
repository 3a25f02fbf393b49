// The policy IR: plain value types, no behaviour beyond matching helpers.
//
// Everything the frontend lowers lands here with namespace scoping already
// made explicit, so the evaluator, the verifier and codegen never need to
// know which kind of object (CNP, CCNP, KNP) a rule came from.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cnpc::ir {

// ---------------------------------------------------------------- locations

// 1-based line and column; 0 means unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  bool operator==(const SourceLocation&) const = default;
  auto operator<=>(const SourceLocation&) const = default;
};

// Where a rule came from: every finding, query answer and flow event maps
// back to one of these.
struct Origin {
  SourceLocation loc;
  std::string kind;       // CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy
  std::string namespace_; // empty for cluster-scoped objects
  std::string name;
  std::string path;       // YAML path, e.g. spec.ingress[0]
  bool operator==(const Origin&) const = default;
  // "ns/name" or "name".
  std::string policy_ref() const {
    return namespace_.empty() ? name : namespace_ + "/" + name;
  }
};

// ------------------------------------------------------------------- labels

// A Cilium label: source ("k8s", "reserved", ...), key and value.
struct Label {
  std::string source;
  std::string key;
  std::string value;
  bool operator==(const Label&) const = default;
  auto operator<=>(const Label&) const = default;
};

// Sorted, duplicate-free set of labels (the identity of an endpoint).
struct LabelSet {
  std::vector<Label> labels;
  void add(Label l);
  bool operator==(const LabelSet&) const = default;
  auto operator<=>(const LabelSet&) const = default;
  std::string to_string() const;  // "k8s:app=web,reserved:host"
};

enum class SelectorOp { In, NotIn, Exists, DoesNotExist };

// One requirement of a label selector. source "any" matches every source.
struct Requirement {
  std::string source = "any";
  std::string key;
  SelectorOp op = SelectorOp::In;
  std::vector<std::string> values;
  bool operator==(const Requirement&) const = default;
  auto operator<=>(const Requirement&) const = default;
};

// A label selector (matchLabels folded into In requirements). The empty
// selector matches every identity, world included.
struct Selector {
  std::vector<Requirement> requirements;
  bool matches(const LabelSet& labels) const;
  std::string to_string() const;
  bool operator==(const Selector&) const = default;
  auto operator<=>(const Selector&) const = default;
};

// ---------------------------------------------------------------- addresses

struct IpAddr {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4 bytes
  static std::optional<IpAddr> parse(const std::string& text);
  std::string to_string() const;
  bool operator==(const IpAddr&) const = default;
  auto operator<=>(const IpAddr&) const = default;
};

struct Cidr {
  IpAddr addr;  // host bits zeroed
  int prefix = 0;
  // Accepts "a.b.c.d/n", "x::/n" and bare addresses (a host route).
  static std::optional<Cidr> parse(const std::string& text);
  bool contains(const IpAddr& ip) const;
  bool contains(const Cidr& other) const;
  std::string to_string() const;
  bool operator==(const Cidr&) const = default;
  auto operator<=>(const Cidr&) const = default;
};

// ------------------------------------------------------------------- protos

enum class Proto : uint8_t { Any = 0, ICMP = 1, TCP = 6, UDP = 17, ICMPv6 = 58, SCTP = 132 };
std::string to_string(Proto p);
std::optional<Proto> parse_proto(const std::string& text);  // case-insensitive

// ------------------------------------------------------------------- peers

// The peer of an ingress (source) or egress (destination) entry.
struct Peer {
  enum class Kind {
    Endpoints,  // fromEndpoints/toEndpoints (also KNP pod/namespace selectors)
    Entity,     // fromEntities/toEntities, lowered to a reserved-label selector
    Cidr,       // fromCIDR/fromCIDRSet/ipBlock: matches world addresses only
    Fqdn,       // toFQDNs: matches addresses the DNS cache learned for the name
    Nodes,      // fromNodes/toNodes: node label selector on host/remote-node
    Unresolved, // toServices, toGroups: kept for display, matches nothing
  };
  Kind kind = Kind::Endpoints;
  Selector selector;             // Endpoints, Entity, Nodes
  std::string entity;            // Entity: the name as written
  Cidr cidr;                     // Cidr
  std::vector<Cidr> except;      // Cidr
  std::string fqdn_name;         // Fqdn: exact name (lower-case, no trailing dot)
  std::string fqdn_pattern;      // Fqdn: matchPattern
  std::string description;       // Unresolved: what it was
  SourceLocation loc;
  bool operator==(const Peer&) const = default;
};

// ------------------------------------------------------------------- ports

// A port or port range with its protocol. A named port is resolved against
// the destination endpoint's container ports when a flow is decided.
struct PortMatch {
  Proto proto = Proto::Any;  // Any = TCP, UDP and SCTP
  uint16_t first = 0;        // first == 0 && last == 65535: every port
  uint16_t last = 65535;
  std::string name;          // non-empty for a named port
  SourceLocation loc;
  bool operator==(const PortMatch&) const = default;
};

struct IcmpMatch {
  bool v6 = false;
  uint8_t type = 0;
  SourceLocation loc;
  bool operator==(const IcmpMatch&) const = default;
};

// ----------------------------------------------------------------------- L7

struct HttpHeaderMatch {
  std::string name;
  std::optional<std::string> value;  // nullopt: presence only
  bool operator==(const HttpHeaderMatch&) const = default;
};

// Empty fields are not checked. method/path/host are full-match RE2.
struct HttpRule {
  std::string method, path, host;
  std::vector<HttpHeaderMatch> headers;
  SourceLocation loc;
  bool operator==(const HttpRule&) const = default;
};

struct DnsRule {
  std::string match_name;     // lower-case, no trailing dot
  std::string match_pattern;  // Cilium pattern: '*' never crosses a dot
  SourceLocation loc;
  bool operator==(const DnsRule&) const = default;
};

struct KafkaRule {
  std::string role;          // produce | consume | ""
  std::string api_key;       // name, e.g. "produce"
  std::optional<int> api_version;
  std::string client_id;
  std::string topic;
  SourceLocation loc;
  bool operator==(const KafkaRule&) const = default;
};

enum class L7Kind { None, Http, Dns, Kafka, Generic };
std::string to_string(L7Kind k);

struct L7Rules {
  L7Kind kind = L7Kind::None;
  std::vector<HttpRule> http;
  std::vector<DnsRule> dns;
  std::vector<KafkaRule> kafka;
  std::string generic_proto;  // l7proto (not evaluated: reported as such)
  bool operator==(const L7Rules&) const = default;
};

// One entry of toPorts: the ports plus the L7 rules that apply on them.
struct PortRule {
  std::vector<PortMatch> ports;  // never empty in a lowered rule
  L7Rules l7;
  SourceLocation loc;
  bool operator==(const PortRule&) const = default;
};

// --------------------------------------------------------------------- rules

enum class Direction { Ingress, Egress };
enum class Action { Allow, Deny };
std::string to_string(Direction d);
std::string to_string(Action a);

// Which endpoints a rule applies to.
struct Subject {
  bool node = false;  // nodeSelector: selects the host endpoint by node labels
  Selector selector;
  bool operator==(const Subject&) const = default;
};

// One lowered entry of ingress / ingressDeny / egress / egressDeny.
//
// Peers: nullopt = no L3 constraint (any identity, world included);
// an empty vector = the field was given but is empty, so nothing matches.
// Ports and ICMP: both empty = every protocol and port.
struct Rule {
  Direction direction = Direction::Ingress;
  Action action = Action::Allow;
  Subject subject;
  std::optional<std::vector<Peer>> peers;
  std::vector<Selector> requires_;  // fromRequires / toRequires
  std::vector<PortRule> port_rules;
  std::vector<IcmpMatch> icmps;
  bool matches_nothing = false;  // "{}" entry: no L3, no L4 (allows nothing)
  std::string auth_mode;         // authentication.mode, if any
  Origin origin;
  bool operator==(const Rule&) const = default;
};

// Per-direction opt-out of default deny for the rules of one policy spec.
struct SectionFlags {
  bool has_ingress = false;  // ingress or ingressDeny has at least one entry
  bool has_egress = false;
  bool default_deny_ingress = true;
  bool default_deny_egress = true;
};

// The subject and section flags of one spec: needed even when a section has
// no usable entries (ingress: [{}] enables default deny and allows nothing).
struct Spec {
  Subject subject;
  SectionFlags sections;
  Origin origin;
};

using RuleId = uint32_t;

struct PolicySet {
  std::vector<Rule> rules;
  std::vector<Spec> specs;
};

// ---------------------------------------------------------------- inventory

struct ContainerPort {
  std::string name;
  uint16_t port = 0;
  Proto proto = Proto::TCP;
  bool operator==(const ContainerPort&) const = default;
};

// An endpoint the evaluator can decide flows for: a pod (or a workload's
// pod template), a node, or a reserved identity such as world.
struct Endpoint {
  enum class Kind { Pod, Host, RemoteNode, World, Reserved };
  Kind kind = Kind::Pod;
  std::string namespace_;
  std::string name;          // pod or workload name; entity name for reserved
  std::string workload;      // "Deployment" etc. for a pod template, "Node" for a node
  LabelSet labels;           // full identity labels (k8s:, reserved:, ...)
  LabelSet node_labels;      // Host/RemoteNode: the node's labels
  std::vector<IpAddr> ips;
  std::vector<ContainerPort> ports;
  SourceLocation loc;
  std::string display() const;  // "ns/name" or "entity:world"
};

struct Namespace {
  std::string name;
  std::map<std::string, std::string> labels;
  SourceLocation loc;
};

struct Inventory {
  std::vector<Namespace> namespaces;
  std::vector<Endpoint> endpoints;  // pods, workloads and nodes (no reserved ones)
  std::string cluster_name = "default";
};

// A name -> addresses mapping the DNS proxy has seen for one endpoint.
struct DnsCacheEntry {
  std::string endpoint;  // "ns/pod"
  std::string name;      // lower-case, no trailing dot
  std::vector<IpAddr> ips;
};

}  // namespace cnpc::ir
