// Reachability sets: who can reach an endpoint, and what it can reach, with
// the ports and L7 rules on which each peer is allowed.
//
// Exact by construction, not sampled: the L4 space is cut into atoms (port
// ranges, ICMP type ranges, "other IP protocols") and the world's address
// space into address atoms, such that no rule of the policy set tells two
// points of one atom apart. One Evaluator::decide per (peer class, atom) then
// decides every flow of the atom; allowed atoms are merged back into ranges.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"

namespace cnpc::ir {

// ------------------------------------------------------------------- atoms

// An inclusive range of ports (TCP, UDP, SCTP) or of ICMP types (ICMP,
// ICMPv6) inside which every decision is the same. Proto::Any stands for
// every other IP protocol (only L3-only rules allow those); its range is 0-0.
struct PortAtom {
  Proto proto = Proto::TCP;
  uint16_t first = 0, last = 65535;
  bool operator==(const PortAtom&) const = default;
};

// Atoms from the numeric PortMatch and IcmpMatch boundaries of the policy
// set (first, last + 1, 0, 65536; types t, t + 1). Named ports are not
// resolvable without an inventory: see the Evaluator overload.
std::vector<PortAtom> port_atoms(const PolicySet& policies);
// Also cut at what every named port resolves to (Evaluator::named_port) for
// every destination endpoint.
std::vector<PortAtom> port_atoms(const Evaluator& ev);

// An inclusive range of addresses of one family.
struct AddrRange {
  IpAddr first, last;
  bool operator==(const AddrRange&) const = default;
};

// World address atoms, both families: cut at the network address and one
// past the broadcast address of every CIDR peer and except, and around every
// address of the DNS cache (toFQDNs).
std::vector<AddrRange> address_atoms(const Evaluator& ev);

// A prefix with excepted sub-prefixes, as Cilium's CIDRSet writes it.
struct CidrSet {
  Cidr cidr;
  std::vector<Cidr> except;
  std::string to_string() const;  // "0.0.0.0/0 except 10.0.0.0/8"
  bool operator==(const CidrSet&) const = default;
};

// The shortest exact description of a set of address ranges as CIDR sets
// (fewest prefixes written, excepts included). Ranges may be unsorted.
std::vector<CidrSet> describe_addresses(std::vector<AddrRange> ranges);

// ------------------------------------------------------------------ queries

struct ReachFilter {
  std::optional<Proto> proto;    // TCP, UDP, SCTP (port), ICMP, ICMPv6 (type)
  std::optional<uint16_t> port;  // a port, or an ICMP type with an ICMP proto;
                                 // without proto: that port on TCP, UDP and SCTP
  // Which peers to enumerate.
  bool pods = true, nodes = true, entities = true, world = true;
};

// The L7 rules in force on one allowed range, as the proxy applies them.
struct L7Constraint {
  bool enforced = false;  // the flow goes through the proxy
  bool wildcard = false;  // enforced, but an allow without L7 (or allow-localhost) admits every request
  // "HTTP GET /api/.*", "DNS *.svc.cluster.local", ...; prefixed with
  // "egress: " / "ingress: " when both sides enforce L7.
  std::vector<std::string> rules;
  // What to print: rules, "L7 wildcard", or nothing.
  std::vector<std::string> text() const;
  bool operator==(const L7Constraint&) const = default;
};

// An allowed range of one protocol.
struct AllowedRange {
  Proto proto = Proto::TCP;  // Any: every other IP protocol
  uint16_t first = 0, last = 0;
  L7Constraint l7;
  bool operator==(const AllowedRange&) const = default;
};

// Presentation of a list of allowed ranges: TCP, UDP and SCTP with the same
// range and L7 fold into "ANY" (Cilium's protocol ANY), and everything at
// once (all ports, all ICMP types, other protocols, no L7) into "any".
struct AllowedSummary {
  std::string proto;  // TCP UDP SCTP ANY ICMP ICMPv6 other any
  std::string ports;  // "8080", "8000-8090", "0-65535"; ICMP: types "8"; other/any: "any"
  std::vector<std::string> l7;
  std::string text() const;  // "TCP 8080", "ICMP type 8", "any"
};
std::vector<AllowedSummary> summarize(const std::vector<AllowedRange>& allowed);

// One peer, or a group of peers with the same identity and the same answer.
struct ReachEntry {
  enum class Kind { Pod, Workload, World, Entity, Node };
  Kind kind = Kind::Pod;
  std::string name;        // "ns/web", "entity:host", "node:n1"; world: "world" or the CIDR sets
  std::string namespace_;  // pods and workloads
  LabelSet labels;         // identity labels of the group
  std::vector<EndpointId> members;  // pods, workloads, nodes, entities (empty for world)
  std::vector<CidrSet> cidrs;       // world: the addresses, described
  std::vector<AddrRange> addresses; // world: the same, as ranges
  std::vector<std::string> fqdns;   // world: DNS cache names of the single addresses (/32, /128) in the set
  std::vector<AllowedRange> allowed;  // sorted by protocol, then port
  std::vector<RuleId> rules;          // allow rules (both sides) of the allowed flows
  bool via_localhost = false;  // allowed (at least partly) by --allow-localhost=always alone
  bool operator==(const ReachEntry&) const = default;
};
std::string to_string(ReachEntry::Kind kind);  // pod workload world entity node

// Every source that can send to `target` (sorted: pods and workloads, nodes,
// entities, world). `target_ip` gives a world target its address.
std::vector<ReachEntry> who_can_reach(const Evaluator& ev, EndpointId target,
                                      const ReachFilter& filter = {},
                                      std::optional<IpAddr> target_ip = std::nullopt);
// Every destination that `source` can send to.
std::vector<ReachEntry> reachable_from(const Evaluator& ev, EndpointId source,
                                       const ReachFilter& filter = {},
                                       std::optional<IpAddr> source_ip = std::nullopt);

// The name of a group of endpoints with one identity: the one member's
// display name, else "ns/<workload>" from the names they share.
std::string peer_group_name(const Evaluator& ev, const std::vector<EndpointId>& members);

// The name pods of one workload share: "web" for web-7d4b9c8f5-x2kqz,
// "db" for db-0 (generated suffixes dropped).
std::string workload_base_name(const std::string& pod_name);
// Human-readable L7 rule: "HTTP GET /api/.*", "DNS *.svc.cluster.local".
std::string l7_rule_text(const HttpRule& rule);
std::string l7_rule_text(const DnsRule& rule);
std::string l7_rule_text(const KafkaRule& rule);

}  // namespace cnpc::ir
