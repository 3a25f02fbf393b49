// Reachability sets over atoms (see reach.h for the exactness argument).
//
// Why atoms are exact: decide() looks at a port only through PortMatch
// ranges (first..last) and named-port resolutions, at an ICMP type only
// through IcmpMatch types, at a world address only through CIDR prefixes,
// excepts and DNS cache addresses, and at a peer only through its identity
// class. Cutting every axis at every such boundary leaves atoms on which all
// those tests are constant, so one decision per (peer class, atom) stands
// for every flow in it.
#include "cnpc/ir/reach.h"

#include <algorithm>
#include <map>
#include <set>

namespace cnpc::ir {

namespace {

// ---------------------------------------------------------------- addresses

// Addresses as integers: v4 in the low 32 bits. GCC/Clang's 128-bit integer
// keeps the arithmetic (one past broadcast, prefix masks) obvious.
using u128 = unsigned __int128;

int width(bool v6) { return v6 ? 128 : 32; }
u128 family_max(bool v6) { return v6 ? ~u128(0) : u128(0xffffffffu); }
u128 host_mask(bool v6, int prefix) {
  int bits = width(v6) - prefix;
  return bits >= 128 ? ~u128(0) : (u128(1) << bits) - 1;
}

u128 to_u128(const IpAddr& ip) {
  u128 v = 0;
  for (int i = 0; i < (ip.v6 ? 16 : 4); ++i) v = (v << 8) | ip.bytes[size_t(i)];
  return v;
}

IpAddr from_u128(u128 v, bool v6) {
  IpAddr ip;
  ip.v6 = v6;
  for (int i = (v6 ? 16 : 4) - 1; i >= 0; --i) {
    ip.bytes[size_t(i)] = uint8_t(v & 0xff);
    v >>= 8;
  }
  return ip;
}

Cidr make_cidr(u128 lo, int prefix, bool v6) {
  Cidr c;
  c.addr = from_u128(lo, v6);
  c.prefix = prefix;
  return c;
}

// Cuts the family's address line at `at` (the first address of a new atom).
void cut(std::set<u128>& cuts, bool v6, u128 at, bool past_end = false) {
  if (!past_end && at <= family_max(v6)) cuts.insert(at);
}

void cut_cidr(std::set<u128> (&cuts)[2], const Cidr& c) {
  const bool v6 = c.addr.v6;
  const u128 lo = to_u128(c.addr), hi = lo | host_mask(v6, c.prefix);
  cut(cuts[v6], v6, lo);
  cut(cuts[v6], v6, hi + 1, hi == family_max(v6));
}

// Sorted, coalesced ranges of one family.
using Ranges = std::vector<std::pair<u128, u128>>;

Ranges coalesce(Ranges rs) {
  std::sort(rs.begin(), rs.end());
  Ranges out;
  for (const auto& r : rs) {
    if (!out.empty() && (out.back().second >= r.first || out.back().second + 1 == r.first)) {
      out.back().second = std::max(out.back().second, r.second);
      continue;
    }
    out.push_back(r);
  }
  return out;
}

// Cheapest description of (ranges ∩ prefix): either the children's
// descriptions side by side, or the prefix minus the complement's prefixes.
struct Description {
  std::vector<CidrSet> in;
  size_t in_cost = 0;    // prefixes written, excepts included
  std::vector<Cidr> out;  // the complement within the prefix, as plain prefixes
};

Description describe(const Ranges& rs, u128 lo, int prefix, bool v6) {
  const u128 hi = lo | host_mask(v6, prefix);
  Description d;
  auto it = std::lower_bound(rs.begin(), rs.end(), lo,
                             [](const std::pair<u128, u128>& r, u128 v) { return r.second < v; });
  if (it == rs.end() || it->first > hi) {
    d.out.push_back(make_cidr(lo, prefix, v6));
    return d;
  }
  if (it->first <= lo && it->second >= hi) {
    d.in.push_back({make_cidr(lo, prefix, v6), {}});
    d.in_cost = 1;
    return d;
  }
  // Mixed: prefix < width, since a single address is either in or out.
  const Description l = describe(rs, lo, prefix + 1, v6);
  const Description r = describe(rs, lo | (u128(1) << (width(v6) - prefix - 1)), prefix + 1, v6);
  d.out = l.out;
  d.out.insert(d.out.end(), r.out.begin(), r.out.end());
  const size_t except_cost = 1 + d.out.size();
  if (except_cost < l.in_cost + r.in_cost) {
    d.in.push_back({make_cidr(lo, prefix, v6), d.out});
    d.in_cost = except_cost;
  } else {
    d.in = l.in;
    d.in.insert(d.in.end(), r.in.begin(), r.in.end());
    d.in_cost = l.in_cost + r.in_cost;
  }
  return d;
}

// ------------------------------------------------------------------ ports

bool is_port_proto(Proto p) { return p == Proto::TCP || p == Proto::UDP || p == Proto::SCTP; }
bool is_icmp(Proto p) { return p == Proto::ICMP || p == Proto::ICMPv6; }
constexpr Proto kPortProtos[] = {Proto::TCP, Proto::UDP, Proto::SCTP};
// The representative of "every other IP protocol" (GRE).
constexpr uint8_t kOtherIpProto = 47;

// What port_atoms cuts at, per protocol: [TCP, UDP, SCTP, ICMP, ICMPv6].
using PortCuts = std::map<Proto, std::set<uint32_t>>;

PortCuts numeric_cuts(const PolicySet& policies) {
  PortCuts cuts;
  for (Proto p : kPortProtos) cuts[p] = {0, 65536};
  cuts[Proto::ICMP] = {0, 256};
  cuts[Proto::ICMPv6] = {0, 256};
  for (const Rule& rule : policies.rules) {
    for (const PortRule& pr : rule.port_rules)
      for (const PortMatch& pm : pr.ports) {
        if (!pm.name.empty()) continue;
        for (Proto p : kPortProtos)
          if (pm.proto == Proto::Any || pm.proto == p) {
            cuts[p].insert(pm.first);
            cuts[p].insert(uint32_t(pm.last) + 1);
          }
      }
    for (const IcmpMatch& m : rule.icmps) {
      auto& c = cuts[m.v6 ? Proto::ICMPv6 : Proto::ICMP];
      c.insert(m.type);
      c.insert(uint32_t(m.type) + 1);
    }
  }
  return cuts;
}

std::vector<PortAtom> atoms_from(const PortCuts& cuts) {
  std::vector<PortAtom> out;
  for (Proto p : {Proto::TCP, Proto::UDP, Proto::SCTP, Proto::ICMP, Proto::ICMPv6}) {
    const auto& c = cuts.at(p);
    for (auto it = c.begin(); std::next(it) != c.end(); ++it)
      out.push_back({p, uint16_t(*it), uint16_t(*std::next(it) - 1)});
  }
  out.push_back({Proto::Any, 0, 0});
  return out;
}

// The port rule of `rule` that decide() picks for `f`: the first PortMatch
// (in order) that contains the port. Mirrors Evaluator::Impl::l4_match.
struct PortPick {
  int port_rule = -1;  // -1: an L3-only or ICMP entry
  uint16_t first = 0, last = 0;
};

std::optional<PortPick> pick_port(const Evaluator& ev, const Rule& rule, const Flow& f) {
  if (rule.port_rules.empty() && rule.icmps.empty()) return PortPick{};
  if (is_icmp(f.proto)) {
    for (const auto& m : rule.icmps)
      if (m.v6 == (f.proto == Proto::ICMPv6) && m.type == f.icmp_type) return PortPick{};
    return std::nullopt;
  }
  if (!is_port_proto(f.proto)) return std::nullopt;
  for (size_t i = 0; i < rule.port_rules.size(); ++i)
    for (const PortMatch& pm : rule.port_rules[i].ports) {
      if (pm.proto != Proto::Any && pm.proto != f.proto) continue;
      if (!pm.name.empty()) {
        if (ev.named_port(rule.direction, f.dst, pm.name, f.proto) == f.port)
          return PortPick{int(i), f.port, f.port};
        continue;
      }
      if (f.port >= pm.first && f.port <= pm.last) return PortPick{int(i), pm.first, pm.last};
    }
  return std::nullopt;
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

std::vector<std::string> l7_texts(const L7Rules& l7) {
  std::vector<std::string> out;
  for (const auto& h : l7.http) add_unique(out, l7_rule_text(h));
  for (const auto& d : l7.dns) add_unique(out, l7_rule_text(d));
  for (const auto& k : l7.kafka) add_unique(out, l7_rule_text(k));
  if (l7.kind == L7Kind::Generic) add_unique(out, "L7 " + l7.generic_proto + " (not evaluated)");
  return out;
}

// The L7 rules one side enforces on `f`, with Cilium's wildcarding as
// decide_l7 applies it (evaluator.cpp): for HTTP/Kafka any allow without L7
// voids the rules, for DNS only one on the same port spec; allow-localhost
// voids them for the host.
L7Constraint side_l7(const Evaluator& ev, const SideDecision& s, const Flow& f) {
  L7Constraint out;
  if (!s.l7_enforced) return out;
  out.enforced = true;
  const PolicySet& policies = ev.policies();
  std::vector<PortPick> picks;
  std::vector<std::pair<uint16_t, uint16_t>> l7_ports;
  for (RuleId r : s.allow_rules) {
    auto pick = pick_port(ev, policies.rules[r], f);
    if (!pick) continue;  // cannot happen: decide() matched it
    picks.push_back(*pick);
    if (pick->port_rule < 0) continue;
    const PortRule& pr = policies.rules[r].port_rules[size_t(pick->port_rule)];
    if (pr.l7.kind == L7Kind::None) continue;
    l7_ports.emplace_back(pick->first, pick->last);
    for (auto& t : l7_texts(pr.l7)) add_unique(out.rules, std::move(t));
  }
  for (size_t i = 0; i < picks.size(); ++i) {
    const PortPick& p = picks[i];
    const Rule& rule = policies.rules[s.allow_rules[i]];
    bool no_l7 = p.port_rule < 0 || rule.port_rules[size_t(p.port_rule)].l7.kind == L7Kind::None;
    if (!no_l7) continue;
    if (s.l7_kind != L7Kind::Dns ||
        (p.port_rule >= 0 && std::find(l7_ports.begin(), l7_ports.end(),
                                       std::make_pair(p.first, p.last)) != l7_ports.end()))
      out.wildcard = true;
  }
  if (s.localhost_allowed) out.wildcard = true;
  return out;
}

L7Constraint combine(const L7Constraint& egress, const L7Constraint& ingress) {
  if (!egress.enforced) return ingress;
  if (!ingress.enforced) return egress;
  L7Constraint out;
  out.enforced = true;
  if (egress.wildcard && ingress.wildcard) {
    out.wildcard = true;
  } else if (egress.wildcard) {
    out.rules = ingress.rules;
  } else if (ingress.wildcard) {
    out.rules = egress.rules;
  } else {
    // Both proxies filter: a request must pass both, so say which is which.
    for (const auto& r : egress.rules) out.rules.push_back("egress: " + r);
    for (const auto& r : ingress.rules) out.rules.push_back("ingress: " + r);
  }
  return out;
}

// ----------------------------------------------------------------- deciding

// One decision, reduced to what a reachability answer shows.
struct Outcome {
  bool allowed = false;
  L7Constraint l7;
  bool localhost = false;
  std::vector<RuleId> rules;
};

Flow atom_flow(const PortAtom& a, EndpointId src, EndpointId dst) {
  Flow f;
  f.src = src;
  f.dst = dst;
  if (a.proto == Proto::Any) {
    f.proto = Proto(kOtherIpProto);
    f.ip_proto = kOtherIpProto;
  } else {
    f.proto = a.proto;
    f.ip_proto = uint8_t(a.proto);
    if (is_icmp(a.proto))
      f.icmp_type = uint8_t(a.first);
    else
      f.port = a.first;
  }
  return f;
}

Outcome decide_atom(const Evaluator& ev, const Flow& f) {
  Outcome o;
  const Decision d = ev.decide(f);
  if (d.verdict != Verdict::Allowed) return o;
  o.allowed = true;
  o.l7 = combine(side_l7(ev, d.egress, f), side_l7(ev, d.ingress, f));
  o.localhost = d.ingress.localhost_allowed && d.ingress.allow_rules.empty();
  o.rules = d.egress.allow_rules;
  o.rules.insert(o.rules.end(), d.ingress.allow_rules.begin(), d.ingress.allow_rules.end());
  return o;
}

// The answer for one peer (or one address atom): merged allowed ranges.
struct PeerResult {
  std::vector<AllowedRange> allowed;
  std::vector<RuleId> rules;
  bool via_localhost = false;
  bool operator==(const PeerResult&) const = default;
};

PeerResult merge(const std::vector<PortAtom>& atoms, const std::vector<Outcome>& outcomes) {
  PeerResult r;
  std::set<RuleId> rules;
  for (size_t i = 0; i < atoms.size(); ++i) {
    const Outcome& o = outcomes[i];
    if (!o.allowed) continue;
    const PortAtom& a = atoms[i];
    rules.insert(o.rules.begin(), o.rules.end());
    r.via_localhost |= o.localhost;
    if (!r.allowed.empty()) {
      AllowedRange& last = r.allowed.back();
      if (last.proto == a.proto && a.proto != Proto::Any && uint32_t(last.last) + 1 == a.first &&
          last.l7 == o.l7) {
        last.last = a.last;
        continue;
      }
    }
    r.allowed.push_back({a.proto, a.first, a.last, o.l7});
  }
  r.rules.assign(rules.begin(), rules.end());
  return r;
}

// The atoms the filter keeps, clipped to the asked port or type.
std::vector<PortAtom> filter_atoms(std::vector<PortAtom> atoms, const ReachFilter& filter) {
  std::vector<PortAtom> out;
  for (PortAtom a : atoms) {
    if (filter.proto) {
      if (a.proto != *filter.proto) continue;
    } else if (filter.port && !is_port_proto(a.proto)) {
      continue;
    }
    if (filter.port) {
      if (*filter.port < a.first || *filter.port > a.last) continue;
      a.first = a.last = *filter.port;
    }
    out.push_back(a);
  }
  return out;
}

int kind_order(ReachEntry::Kind k) {
  switch (k) {
    case ReachEntry::Kind::Pod:
    case ReachEntry::Kind::Workload: return 0;
    case ReachEntry::Kind::Node: return 1;
    case ReachEntry::Kind::Entity: return 2;
    case ReachEntry::Kind::World: return 3;
  }
  return 4;
}

std::optional<ReachEntry::Kind> category(const Endpoint& e) {
  if (e.kind == Endpoint::Kind::World) return std::nullopt;  // by address instead
  if (e.workload == "Node") return ReachEntry::Kind::Node;
  if (e.kind == Endpoint::Kind::Pod || !e.namespace_.empty())
    return e.workload.empty() ? ReachEntry::Kind::Pod : ReachEntry::Kind::Workload;
  return ReachEntry::Kind::Entity;
}

bool wanted(ReachEntry::Kind k, const ReachFilter& f) {
  switch (k) {
    case ReachEntry::Kind::Pod:
    case ReachEntry::Kind::Workload: return f.pods;
    case ReachEntry::Kind::Node: return f.nodes;
    case ReachEntry::Kind::Entity: return f.entities;
    case ReachEntry::Kind::World: return f.world;
  }
  return false;
}

}  // namespace

std::string peer_group_name(const Evaluator& ev, const std::vector<EndpointId>& members) {
  const auto& eps = ev.endpoints();
  const Endpoint& first = eps[members.front()];
  if (members.size() == 1) return first.display();
  std::string base = first.workload.empty() ? workload_base_name(first.name) : first.name;
  std::string prefix = first.name;
  for (EndpointId id : members) {
    const Endpoint& e = eps[id];
    if ((e.workload.empty() ? workload_base_name(e.name) : e.name) != base) base.clear();
    size_t n = 0;
    while (n < prefix.size() && n < e.name.size() && prefix[n] == e.name[n]) ++n;
    prefix.resize(n);
  }
  if (base.empty()) {
    while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
    base = prefix.empty() ? first.name : prefix;
  }
  if (first.workload == "Node") return "node:" + base;
  return first.namespace_.empty() ? "entity:" + base : first.namespace_ + "/" + base;
}

namespace {

enum class Side { Source, Destination };  // which end of the flow the peers are

std::vector<ReachEntry> reach(const Evaluator& ev, EndpointId self, std::optional<IpAddr> self_ip,
                              Side peers_are, const ReachFilter& filter) {
  const auto& eps = ev.endpoints();
  const std::vector<PortAtom> atoms = filter_atoms(port_atoms(ev), filter);
  auto flow_for = [&](const PortAtom& a, EndpointId peer, const std::optional<IpAddr>& peer_ip) {
    Flow f = peers_are == Side::Source ? atom_flow(a, peer, self) : atom_flow(a, self, peer);
    (peers_are == Side::Source ? f.src_ip : f.dst_ip) = peer_ip;
    (peers_are == Side::Source ? f.dst_ip : f.src_ip) = self_ip;
    return f;
  };
  auto evaluate = [&](EndpointId peer, const std::optional<IpAddr>& peer_ip) {
    std::vector<Outcome> outcomes;
    outcomes.reserve(atoms.size());
    for (const PortAtom& a : atoms) outcomes.push_back(decide_atom(ev, flow_for(a, peer, peer_ip)));
    return merge(atoms, outcomes);
  };

  std::vector<ReachEntry> out;

  // Endpoints: one evaluation per identity class (decide() cannot tell two
  // endpoints of a class apart), then groups of equal identity and answer.
  std::map<uint32_t, size_t> class_result;  // class -> index into results
  std::vector<PeerResult> results;
  struct GroupKey {
    ReachEntry::Kind kind;
    std::string ns;
    const LabelSet* labels;
    const LabelSet* node_labels;
    size_t result;
    bool operator<(const GroupKey& o) const {
      if (kind != o.kind) return kind < o.kind;
      if (ns != o.ns) return ns < o.ns;
      if (*labels != *o.labels) return *labels < *o.labels;
      if (*node_labels != *o.node_labels) return *node_labels < *o.node_labels;
      return result < o.result;
    }
  };
  std::map<GroupKey, std::vector<EndpointId>> groups;
  for (EndpointId id = 0; id < eps.size(); ++id) {
    auto kind = category(eps[id]);
    if (!kind || !wanted(*kind, filter)) continue;
    const uint32_t cls = ev.class_of(id);
    auto it = class_result.find(cls);
    if (it == class_result.end()) {
      PeerResult r = evaluate(ev.representative(cls), std::nullopt);
      size_t idx = size_t(std::find(results.begin(), results.end(), r) - results.begin());
      if (idx == results.size()) results.push_back(std::move(r));
      it = class_result.emplace(cls, idx).first;
    }
    if (results[it->second].allowed.empty()) continue;
    GroupKey key{*kind, eps[id].namespace_, &eps[id].labels, &eps[id].node_labels, it->second};
    groups[key].push_back(id);
  }
  for (auto& [key, members] : groups) {
    ReachEntry e;
    e.kind = key.kind;
    e.namespace_ = key.ns;
    e.labels = *key.labels;
    e.members = members;
    e.name = peer_group_name(ev, members);
    const PeerResult& r = results[key.result];
    e.allowed = r.allowed;
    e.rules = r.rules;
    e.via_localhost = r.via_localhost;
    out.push_back(std::move(e));
  }

  // World: one evaluation per address atom, then the atoms with the same
  // answer become one entry, described as CIDR sets.
  if (filter.world) {
    std::vector<std::pair<PeerResult, std::vector<AddrRange>>> world;
    for (const AddrRange& a : address_atoms(ev)) {
      PeerResult r = evaluate(ev.world(), a.first);
      if (r.allowed.empty()) continue;
      auto it = std::find_if(world.begin(), world.end(), [&](const auto& w) { return w.first == r; });
      if (it == world.end()) {
        world.emplace_back(std::move(r), std::vector<AddrRange>{});
        it = std::prev(world.end());
      }
      it->second.push_back(a);
    }
    for (auto& [r, ranges] : world) {
      ReachEntry e;
      e.kind = ReachEntry::Kind::World;
      e.labels = eps[ev.world()].labels;
      e.cidrs = describe_addresses(ranges);
      // Hand back the coalesced ranges, not the atoms.
      e.addresses.clear();
      for (bool v6 : {false, true}) {
        Ranges rs;
        for (const auto& a : ranges)
          if (a.first.v6 == v6) rs.emplace_back(to_u128(a.first), to_u128(a.last));
        for (const auto& [lo, hi] : coalesce(rs)) e.addresses.push_back({from_u128(lo, v6), from_u128(hi, v6)});
      }
      const bool everything = e.cidrs.size() == 2 && e.cidrs[0].cidr.prefix == 0 &&
                              e.cidrs[1].cidr.prefix == 0 && e.cidrs[0].except.empty() &&
                              e.cidrs[1].except.empty();
      for (const auto& c : e.cidrs) e.name += (e.name.empty() ? "" : ", ") + c.to_string();
      if (everything) e.name = "world";
      // Name the single addresses the DNS proxy learned (toFQDNs answers);
      // a wide prefix that happens to contain one is not "that name".
      std::set<std::string> names;
      for (const auto& entry : ev.dns_cache())
        for (const auto& ip : entry.ips)
          for (const auto& c : e.cidrs)
            if (c.except.empty() && c.cidr.prefix == width(ip.v6) && c.cidr.addr == ip)
              names.insert(entry.name);
      e.fqdns.assign(names.begin(), names.end());
      e.allowed = r.allowed;
      e.rules = r.rules;
      e.via_localhost = r.via_localhost;
      out.push_back(std::move(e));
    }
  }

  std::stable_sort(out.begin(), out.end(), [](const ReachEntry& a, const ReachEntry& b) {
    if (kind_order(a.kind) != kind_order(b.kind)) return kind_order(a.kind) < kind_order(b.kind);
    return a.name < b.name;
  });
  return out;
}

std::string range_text(uint16_t first, uint16_t last) {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

}  // namespace

// ------------------------------------------------------------------ public

std::vector<PortAtom> port_atoms(const PolicySet& policies) {
  return atoms_from(numeric_cuts(policies));
}

std::vector<PortAtom> port_atoms(const Evaluator& ev) {
  PortCuts cuts = numeric_cuts(ev.policies());
  const auto n = EndpointId(ev.endpoints().size());
  for (const Rule& rule : ev.policies().rules)
    for (const PortRule& pr : rule.port_rules)
      for (const PortMatch& pm : pr.ports) {
        if (pm.name.empty()) continue;
        for (Proto p : kPortProtos) {
          if (pm.proto != Proto::Any && pm.proto != p) continue;
          // Egress names resolve cluster-wide (any destination will do);
          // ingress names against each destination's own ports.
          const EndpointId count = rule.direction == Direction::Egress ? std::min<EndpointId>(n, 1) : n;
          for (EndpointId dst = 0; dst < count; ++dst)
            if (auto port = ev.named_port(rule.direction, dst, pm.name, p)) {
              cuts[p].insert(*port);
              cuts[p].insert(uint32_t(*port) + 1);
            }
        }
      }
  return atoms_from(cuts);
}

std::vector<AddrRange> address_atoms(const Evaluator& ev) {
  std::set<u128> cuts[2];
  for (bool v6 : {false, true}) cuts[v6].insert(0);
  for (const Rule& rule : ev.policies().rules) {
    if (!rule.peers) continue;
    for (const Peer& p : *rule.peers) {
      if (p.kind != Peer::Kind::Cidr) continue;
      cut_cidr(cuts, p.cidr);
      for (const Cidr& e : p.except) cut_cidr(cuts, e);
    }
  }
  for (const auto& entry : ev.dns_cache())
    for (const IpAddr& ip : entry.ips) {
      const u128 v = to_u128(ip);
      cut(cuts[ip.v6], ip.v6, v);
      cut(cuts[ip.v6], ip.v6, v + 1, v == family_max(ip.v6));
    }
  std::vector<AddrRange> out;
  for (bool v6 : {false, true}) {
    for (auto it = cuts[v6].begin(); it != cuts[v6].end(); ++it) {
      auto next = std::next(it);
      const u128 last = next == cuts[v6].end() ? family_max(v6) : *next - 1;
      out.push_back({from_u128(*it, v6), from_u128(last, v6)});
    }
  }
  return out;
}

std::string CidrSet::to_string() const {
  std::string out = cidr.to_string();
  for (size_t i = 0; i < except.size(); ++i) out += (i ? ", " : " except ") + except[i].to_string();
  return out;
}

std::vector<CidrSet> describe_addresses(std::vector<AddrRange> ranges) {
  std::vector<CidrSet> out;
  for (bool v6 : {false, true}) {
    Ranges rs;
    for (const auto& r : ranges)
      if (r.first.v6 == v6) rs.emplace_back(to_u128(r.first), to_u128(r.last));
    if (rs.empty()) continue;
    Description d = describe(coalesce(std::move(rs)), 0, 0, v6);
    out.insert(out.end(), d.in.begin(), d.in.end());
  }
  return out;
}

std::vector<std::string> L7Constraint::text() const {
  if (!enforced) return {};
  if (wildcard) return {"L7 wildcard"};
  return rules;
}

std::vector<AllowedSummary> summarize(const std::vector<AllowedRange>& allowed) {
  std::vector<AllowedSummary> out;
  auto has = [&](Proto p, uint16_t first, uint16_t last, const L7Constraint& l7) {
    return std::any_of(allowed.begin(), allowed.end(), [&](const AllowedRange& a) {
      return a.proto == p && a.first == first && a.last == last && a.l7 == l7;
    });
  };
  // Everything: all ports of TCP/UDP/SCTP, all ICMP types, other protocols, no L7.
  const L7Constraint none;
  if (allowed.size() == 6 && has(Proto::TCP, 0, 65535, none) && has(Proto::UDP, 0, 65535, none) &&
      has(Proto::SCTP, 0, 65535, none) && has(Proto::ICMP, 0, 255, none) &&
      has(Proto::ICMPv6, 0, 255, none) && has(Proto::Any, 0, 0, none))
    return {{"any", "any", {}}};
  for (const AllowedRange& a : allowed) {
    AllowedSummary s;
    s.l7 = a.l7.text();
    if (a.proto == Proto::Any) {
      s.proto = "other";
      s.ports = "any";
    } else if (is_port_proto(a.proto)) {
      const bool all3 = has(Proto::TCP, a.first, a.last, a.l7) && has(Proto::UDP, a.first, a.last, a.l7) &&
                        has(Proto::SCTP, a.first, a.last, a.l7);
      if (all3 && a.proto != Proto::TCP) continue;  // folded into the TCP line
      s.proto = all3 ? "ANY" : to_string(a.proto);
      s.ports = range_text(a.first, a.last);
    } else {
      s.proto = to_string(a.proto);
      s.ports = range_text(a.first, a.last);
    }
    out.push_back(std::move(s));
  }
  // ANY lines keep their TCP position: sorted by protocol order of the input.
  return out;
}

std::string AllowedSummary::text() const {
  if (proto == "any") return "any";
  if (proto == "other") return "other IP protocols";
  if (proto == "ICMP" || proto == "ICMPv6")
    return proto + (ports.find('-') == std::string::npos ? " type " : " types ") + ports;
  return proto + " " + ports;
}

std::string to_string(ReachEntry::Kind kind) {
  switch (kind) {
    case ReachEntry::Kind::Pod: return "pod";
    case ReachEntry::Kind::Workload: return "workload";
    case ReachEntry::Kind::World: return "world";
    case ReachEntry::Kind::Entity: return "entity";
    case ReachEntry::Kind::Node: return "node";
  }
  return "?";
}

std::vector<ReachEntry> who_can_reach(const Evaluator& ev, EndpointId target,
                                      const ReachFilter& filter, std::optional<IpAddr> target_ip) {
  return reach(ev, target, std::move(target_ip), Side::Source, filter);
}

std::vector<ReachEntry> reachable_from(const Evaluator& ev, EndpointId source,
                                       const ReachFilter& filter, std::optional<IpAddr> source_ip) {
  return reach(ev, source, std::move(source_ip), Side::Destination, filter);
}

std::string workload_base_name(const std::string& pod_name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dash; (dash = pod_name.find('-', start)) != std::string::npos; start = dash + 1)
    parts.push_back(pod_name.substr(start, dash - start));
  parts.push_back(pod_name.substr(start));
  auto alnum = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    });
  };
  auto digits = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (parts.size() >= 2 && digits(parts.back())) {
    parts.pop_back();  // StatefulSet ordinal
  } else if (parts.size() >= 2 && parts.back().size() == 5 && alnum(parts.back())) {
    parts.pop_back();  // the pod's random suffix
    // A ReplicaSet's pod-template-hash (Deployment pods), or a Job's suffix.
    if (parts.size() >= 2 && parts.back().size() >= 6 && parts.back().size() <= 10 && alnum(parts.back()))
      parts.pop_back();
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "-" : "") + parts[i];
  return out;
}

std::string l7_rule_text(const HttpRule& r) {
  std::string out = "HTTP " + (r.method.empty() ? std::string("*") : r.method);
  if (!r.path.empty()) out += " " + r.path;
  if (!r.host.empty()) out += " host=" + r.host;
  for (const auto& h : r.headers) out += " header=" + h.name + (h.value ? ":" + *h.value : "");
  return out;
}

std::string l7_rule_text(const DnsRule& r) {
  return "DNS " + (r.match_name.empty() ? r.match_pattern : r.match_name);
}

std::string l7_rule_text(const KafkaRule& r) {
  std::string out = "Kafka";
  if (!r.role.empty()) out += " role=" + r.role;
  if (!r.api_key.empty()) out += " apiKey=" + r.api_key;
  if (r.api_version) out += " apiVersion=" + std::to_string(*r.api_version);
  if (!r.client_id.empty()) out += " clientID=" + r.client_id;
  if (!r.topic.empty()) out += " topic=" + r.topic;
  if (out == "Kafka") out += " *";
  return out;
}

}  // namespace cnpc::ir
