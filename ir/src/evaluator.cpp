#include "cnpc/ir/evaluator.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "identity.h"

namespace cnpc::ir {

std::string to_string(Verdict v) {
  switch (v) {
    case Verdict::Allowed: return "allowed";
    case Verdict::Denied: return "denied";
    case Verdict::Audit: return "audit";
  }
  return "?";
}

std::string to_string(DropReason r) {
  switch (r) {
    case DropReason::None: return "none";
    case DropReason::PolicyDenied: return "policy-denied";
    case DropReason::PolicyDeny: return "policy-deny";
  }
  return "?";
}

namespace {

using detail::IdentityClasses;
using detail::SelectorTable;
using detail::SubjectKind;

constexpr int kIngress = 0, kEgress = 1;
constexpr int kAllow = 0, kDeny = 1;
int dir_index(Direction d) { return d == Direction::Ingress ? kIngress : kEgress; }

bool has_label(const Endpoint& e, const std::string& source, const std::string& key) {
  for (const auto& l : e.labels.labels)
    if (l.source == source && l.key == key) return true;
  return false;
}

// The reserved identities every cluster has, besides its pods and nodes.
std::vector<Endpoint> reserved_endpoints() {
  std::vector<Endpoint> out;
  auto add = [&](Endpoint::Kind kind, const std::string& name) {
    Endpoint e;
    e.kind = kind;
    e.name = name;
    e.labels.add({"reserved", name, ""});
    out.push_back(std::move(e));
  };
  add(Endpoint::Kind::World, "world");
  add(Endpoint::Kind::Host, "host");
  add(Endpoint::Kind::RemoteNode, "remote-node");
  add(Endpoint::Kind::Reserved, "kube-apiserver");
  add(Endpoint::Kind::Reserved, "health");
  add(Endpoint::Kind::Reserved, "init");
  add(Endpoint::Kind::Reserved, "unmanaged");
  add(Endpoint::Kind::Reserved, "ingress");
  return out;
}

// Which port of a rule matched, to decide L7 wildcarding.
struct L4Match {
  int port_rule = -1;  // -1: L3-only or ICMP entry
  uint16_t first = 0, last = 0;
};

}  // namespace

struct Evaluator::Impl {
  PolicySet policies;
  EvalOptions options;
  std::vector<Endpoint> endpoints;
  EndpointId world_id = 0;
  std::unordered_map<std::string, EndpointId> by_name;
  std::map<IpAddr, EndpointId> by_ip;
  // What the DNS proxy learned. The name -> address mapping is node-wide in
  // Cilium (every endpoint's toFQDNs sees it), whichever pod asked.
  std::vector<DnsCacheEntry> dns;

  SelectorTable selectors;
  IdentityClasses classes;
  std::vector<uint32_t> subject_selector;            // per rule
  std::vector<std::vector<uint32_t>> peer_selectors; // per rule, per peer (or ~0u)
  std::vector<std::vector<uint32_t>> requires_selectors;  // per rule
  std::vector<uint32_t> spec_selector;               // per spec

  struct DirInfo {
    std::vector<RuleId> rules;
    bool has_section = false;
    bool default_deny = false;
    std::vector<size_t> enforcing_specs;
    std::vector<uint32_t> requires_[2];  // allow, deny
  };
  struct ClassInfo {
    DirInfo dir[2];
  };
  std::vector<ClassInfo> class_info;

  void build();
  bool subject_matches(uint32_t cls, bool node_subject, uint32_t selector) const;
  Evaluator::ClassEnforcement enforcement(uint32_t cls, Direction dir) const;
  bool peer_matches(RuleId id, const DirInfo& di, EndpointId peer,
                    const std::optional<IpAddr>& peer_ip) const;
  std::optional<L4Match> l4_match(const Rule& rule, const Flow& flow) const;
  std::optional<uint16_t> named_port(Direction dir, const Endpoint& dst, const std::string& name,
                                     Proto proto) const;
  std::map<std::pair<std::string, Proto>, std::set<uint16_t>> cluster_named_ports;
  SideDecision side(Direction dir, EndpointId self, EndpointId peer,
                    const std::optional<IpAddr>& peer_ip, const Flow& flow) const;
  void decide_l7(const Flow& flow, const std::vector<std::pair<RuleId, L4Match>>& matches,
                 SideDecision& s) const;
};

void Evaluator::Impl::build() {
  auto& rules = policies.rules;
  subject_selector.resize(rules.size());
  peer_selectors.resize(rules.size());
  requires_selectors.resize(rules.size());
  for (RuleId r = 0; r < rules.size(); ++r) {
    const Rule& rule = rules[r];
    subject_selector[r] = selectors.intern(rule.subject.node, rule.subject.selector);
    if (rule.peers)
      for (const Peer& p : *rule.peers) {
        uint32_t id = ~0u;
        if (p.kind == Peer::Kind::Endpoints || p.kind == Peer::Kind::Entity)
          id = selectors.intern(false, p.selector);
        else if (p.kind == Peer::Kind::Nodes)
          id = selectors.intern(true, p.selector);
        peer_selectors[r].push_back(id);
      }
    for (const Selector& s : rule.requires_)
      requires_selectors[r].push_back(selectors.intern(false, s));
  }
  for (const Spec& spec : policies.specs)
    spec_selector.push_back(selectors.intern(spec.subject.node, spec.subject.selector));

  // Ingress named ports resolve per endpoint: when policies use them,
  // endpoints with different named ports cannot share a class.
  bool named_ports = false;
  for (const Rule& rule : rules)
    for (const auto& pr : rule.port_rules)
      for (const auto& pm : pr.ports) named_ports |= !pm.name.empty() && rule.direction == Direction::Ingress;
  classes.build(endpoints, selectors, [&](const Endpoint& e) {
    std::string key;
    if (named_ports)
      for (const auto& cp : e.ports)
        key += cp.name + "/" + std::to_string(cp.port) + "/" + to_string(cp.proto) + ";";
    return key;
  });

  class_info.assign(classes.class_count(), {});
  for (uint32_t cls = 0; cls < classes.class_count(); ++cls) {
    ClassInfo& ci = class_info[cls];
    for (RuleId r = 0; r < rules.size(); ++r) {
      const Rule& rule = rules[r];
      if (!subject_matches(cls, rule.subject.node, subject_selector[r])) continue;
      DirInfo& di = ci.dir[dir_index(rule.direction)];
      di.rules.push_back(r);
      auto& reqs = di.requires_[rule.action == Action::Allow ? kAllow : kDeny];
      reqs.insert(reqs.end(), requires_selectors[r].begin(), requires_selectors[r].end());
    }
    for (size_t s = 0; s < policies.specs.size(); ++s) {
      const Spec& spec = policies.specs[s];
      if (!subject_matches(cls, spec.subject.node, spec_selector[s])) continue;
      const bool has[2] = {spec.sections.has_ingress, spec.sections.has_egress};
      const bool deny[2] = {spec.sections.default_deny_ingress, spec.sections.default_deny_egress};
      for (int d : {kIngress, kEgress}) {
        if (!has[d]) continue;
        ci.dir[d].has_section = true;
        if (deny[d]) {
          ci.dir[d].default_deny = true;
          ci.dir[d].enforcing_specs.push_back(s);
        }
      }
    }
    for (auto& di : ci.dir)
      for (auto& reqs : di.requires_) {
        std::sort(reqs.begin(), reqs.end());
        reqs.erase(std::unique(reqs.begin(), reqs.end()), reqs.end());
      }
  }
}

Evaluator::ClassEnforcement Evaluator::Impl::enforcement(uint32_t cls, Direction dir) const {
  Evaluator::ClassEnforcement out;
  const SubjectKind kind = classes.kind(cls);
  if (kind == SubjectKind::None) return out;
  out.applies = true;
  if (options.enforcement == EnforcementMode::Never) return out;
  const DirInfo& di = class_info[cls].dir[dir_index(dir)];
  out.enforced = di.has_section;
  out.default_deny = di.default_deny;
  // Mode "always" and endpoints whose labels are not yet known (init) are
  // enforced even when no rule selects them.
  const Endpoint& rep = endpoints[classes.representative(cls)];
  if (kind == SubjectKind::Pod &&
      (options.enforcement == EnforcementMode::Always || has_label(rep, "reserved", "init"))) {
    if (!out.enforced) out.default_deny = true;
    out.enforced = true;
  }
  return out;
}

bool Evaluator::Impl::subject_matches(uint32_t cls, bool node_subject, uint32_t selector) const {
  SubjectKind want = node_subject ? SubjectKind::Node : SubjectKind::Pod;
  return classes.kind(cls) == want && classes.matches(cls, selector);
}

bool Evaluator::Impl::peer_matches(RuleId id, const DirInfo& di, EndpointId peer,
                                   const std::optional<IpAddr>& peer_ip) const {
  const Rule& rule = policies.rules[id];
  if (rule.matches_nothing) return false;
  if (!rule.peers) return true;  // no L3 constraint: any identity, world included
  const Endpoint& pe = endpoints[peer];
  const uint32_t peer_cls = classes.class_of(peer);
  const auto& reqs = di.requires_[rule.action == Action::Allow ? kAllow : kDeny];
  const auto& peers = *rule.peers;
  for (size_t i = 0; i < peers.size(); ++i) {
    const Peer& p = peers[i];
    switch (p.kind) {
      case Peer::Kind::Endpoints: {
        if (!classes.matches(peer_cls, peer_selectors[id][i])) break;
        // fromRequires/toRequires are ANDed into every endpoint selector.
        bool ok = std::all_of(reqs.begin(), reqs.end(),
                              [&](uint32_t s) { return classes.matches(peer_cls, s); });
        if (ok) return true;
        break;
      }
      case Peer::Kind::Entity:
        if (classes.matches(peer_cls, peer_selectors[id][i])) return true;
        break;
      case Peer::Kind::Nodes:
        if (detail::subject_kind(pe) == SubjectKind::Node &&
            classes.matches(peer_cls, peer_selectors[id][i]))
          return true;
        break;
      case Peer::Kind::Cidr: {
        // CIDR selectors never match in-cluster endpoints.
        if (pe.kind != Endpoint::Kind::World) break;
        if (!peer_ip) {
          if (p.cidr.prefix == 0 && p.except.empty()) return true;  // 0.0.0.0/0 == world
          break;
        }
        if (!p.cidr.contains(*peer_ip)) break;
        bool excepted = std::any_of(p.except.begin(), p.except.end(),
                                    [&](const Cidr& c) { return c.contains(*peer_ip); });
        if (!excepted) return true;
        break;
      }
      case Peer::Kind::Fqdn: {
        if (pe.kind != Endpoint::Kind::World || !peer_ip) break;
        for (const auto& entry : dns) {
          bool name_ok = !p.fqdn_name.empty() ? entry.name == p.fqdn_name
                                               : dns_pattern_matches(p.fqdn_pattern, entry.name);
          if (name_ok && std::find(entry.ips.begin(), entry.ips.end(), *peer_ip) != entry.ips.end())
            return true;
        }
        break;
      }
      case Peer::Kind::Unresolved: break;
    }
  }
  return false;
}

// Ingress named ports resolve against the subject's (the destination's) own
// container ports. Egress ones resolve against every pod's named ports in
// the cluster, and a name that maps to two numbers resolves to nothing
// (Cilium's NamedPortMultiMap, ErrDuplicateNamedPorts).
std::optional<uint16_t> Evaluator::Impl::named_port(Direction dir, const Endpoint& dst,
                                                   const std::string& name, Proto proto) const {
  if (dir == Direction::Ingress) {
    for (const auto& cp : dst.ports)
      if (cp.name == name && cp.proto == proto) return cp.port;
    return std::nullopt;
  }
  auto it = cluster_named_ports.find({name, proto});
  if (it == cluster_named_ports.end() || it->second.size() != 1) return std::nullopt;
  return *it->second.begin();
}

std::optional<L4Match> Evaluator::Impl::l4_match(const Rule& rule, const Flow& flow) const {
  const bool icmp = flow.proto == Proto::ICMP || flow.proto == Proto::ICMPv6;
  if (rule.port_rules.empty() && rule.icmps.empty()) return L4Match{};  // L3-only: everything
  if (icmp) {
    for (const auto& m : rule.icmps)
      if (m.v6 == (flow.proto == Proto::ICMPv6) && m.type == flow.icmp_type) return L4Match{};
    return std::nullopt;
  }
  if (flow.proto != Proto::TCP && flow.proto != Proto::UDP && flow.proto != Proto::SCTP)
    return std::nullopt;
  const Endpoint& dst = endpoints[flow.dst];
  for (size_t i = 0; i < rule.port_rules.size(); ++i) {
    for (const PortMatch& pm : rule.port_rules[i].ports) {
      if (pm.proto != Proto::Any && pm.proto != flow.proto) continue;
      if (!pm.name.empty()) {
        if (named_port(rule.direction, dst, pm.name, flow.proto) == flow.port)
          return L4Match{int(i), flow.port, flow.port};
        continue;
      }
      if (flow.port >= pm.first && flow.port <= pm.last) return L4Match{int(i), pm.first, pm.last};
    }
  }
  return std::nullopt;
}

SideDecision Evaluator::Impl::side(Direction dir, EndpointId self, EndpointId peer,
                                   const std::optional<IpAddr>& peer_ip, const Flow& flow) const {
  SideDecision s;
  const Endpoint& e = endpoints[self];
  const SubjectKind kind = detail::subject_kind(e);
  if (kind == SubjectKind::None) return s;
  s.applies = true;
  if (options.enforcement == EnforcementMode::Never) return s;

  const uint32_t cls = classes.class_of(self);
  const DirInfo& di = class_info[cls].dir[dir_index(dir)];
  const Evaluator::ClassEnforcement enf = enforcement(cls, dir);
  s.enforced = enf.enforced;
  s.default_deny = enf.default_deny;
  s.enforcing_specs = di.enforcing_specs;
  if (!s.enforced) return s;

  if (dir == Direction::Ingress && kind == SubjectKind::Pod &&
      options.allow_localhost == AllowLocalhost::Always &&
      endpoints[peer].kind == Endpoint::Kind::Host)
    s.localhost_allowed = true;

  std::vector<std::pair<RuleId, L4Match>> allows;
  for (RuleId r : di.rules) {
    const Rule& rule = policies.rules[r];
    if (!peer_matches(r, di, peer, peer_ip)) continue;
    auto m = l4_match(rule, flow);
    if (!m) continue;
    if (rule.action == Action::Deny) {
      s.deny_rules.push_back(r);
    } else {
      s.allow_rules.push_back(r);
      allows.emplace_back(r, *m);
    }
  }
  if (!s.deny_rules.empty()) {  // deny wins, whatever the specificity
    s.verdict = Verdict::Denied;
    s.reason = DropReason::PolicyDeny;
    return s;
  }
  if (allows.empty() && !s.localhost_allowed) {
    if (s.default_deny) {
      s.verdict = Verdict::Denied;
      s.reason = DropReason::PolicyDenied;
    }
    return s;
  }
  decide_l7(flow, allows, s);
  return s;
}

// On a port with L7 rules the proxy sees the traffic; a request passes when
// any matching allow entry admits it. A matching allow without L7 admits
// everything (Cilium's L7 wildcard). For HTTP and Kafka that holds for any
// such entry — L3-only, port 0, a range — because Envoy's policy for the
// peer carries it as a wildcard-port rule (pkg/envoy/xds_server.go). The
// DNS proxy sees only the DNS port's own filter: there only an entry for
// the same port spec counts.
void Evaluator::Impl::decide_l7(const Flow& flow,
                                const std::vector<std::pair<RuleId, L4Match>>& allows,
                                SideDecision& s) const {
  std::vector<std::pair<uint16_t, uint16_t>> l7_ports;
  for (const auto& [r, m] : allows) {
    if (m.port_rule < 0) continue;
    const PortRule& pr = policies.rules[r].port_rules[size_t(m.port_rule)];
    if (pr.l7.kind == L7Kind::None) continue;
    if (!s.l7_enforced) s.l7_kind = pr.l7.kind;
    s.l7_enforced = true;
    l7_ports.emplace_back(m.first, m.last);
  }
  if (!s.l7_enforced || !flow.l7) return;

  bool allowed = s.localhost_allowed;  // allow-localhost=always wildcards L7 for the host
  std::vector<RuleId> considered;
  static const PortRule kNoPorts;  // stands for an L3-only entry
  for (const auto& [r, m] : allows) {
    const PortRule& pr = m.port_rule < 0 ? kNoPorts : policies.rules[r].port_rules[size_t(m.port_rule)];
    const L7Request& req = *flow.l7;
    bool ok = false;
    if (m.port_rule < 0 || pr.l7.kind == L7Kind::None) {
      ok = flow.l7->kind != L7Kind::Dns ||
           (m.port_rule >= 0 && std::find(l7_ports.begin(), l7_ports.end(),
                                          std::make_pair(m.first, m.last)) != l7_ports.end());
    } else {
      considered.push_back(r);
      if (pr.l7.kind != req.kind) continue;
      switch (pr.l7.kind) {
        case L7Kind::Http:
          ok = std::any_of(pr.l7.http.begin(), pr.l7.http.end(),
                           [&](const HttpRule& h) { return http_rule_matches(h, req.http); });
          break;
        case L7Kind::Dns:
          ok = std::any_of(pr.l7.dns.begin(), pr.l7.dns.end(),
                           [&](const DnsRule& d) { return dns_rule_matches(d, req.dns_name); });
          break;
        case L7Kind::Kafka:
          ok = std::any_of(pr.l7.kafka.begin(), pr.l7.kafka.end(),
                           [&](const KafkaRule& k) { return kafka_rule_matches(k, req.kafka); });
          break;
        default: break;
      }
    }
    if (ok) {
      allowed = true;
      if (std::find(s.l7_rules.begin(), s.l7_rules.end(), r) == s.l7_rules.end())
        s.l7_rules.push_back(r);
    }
  }
  s.l7_allowed = allowed;
  if (!allowed) s.l7_rules = std::move(considered);
}

Evaluator::Evaluator(const PolicySet& policies, const Inventory& inventory, EvalOptions options,
                     std::vector<DnsCacheEntry> dns_cache)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.policies = policies;
  im.options = options;
  im.endpoints = inventory.endpoints;
  for (auto& e : reserved_endpoints()) im.endpoints.push_back(std::move(e));
  for (EndpointId i = 0; i < im.endpoints.size(); ++i) {
    const Endpoint& e = im.endpoints[i];
    if (e.kind == Endpoint::Kind::World) im.world_id = i;
    im.by_name.try_emplace(e.display(), i);
    for (const auto& ip : e.ips) im.by_ip.try_emplace(ip, i);
  }
  for (const auto& e : im.endpoints)
    if (e.kind == Endpoint::Kind::Pod)
      for (const auto& cp : e.ports)
        if (!cp.name.empty()) im.cluster_named_ports[{cp.name, cp.proto}].insert(cp.port);
  im.dns = std::move(dns_cache);
  im.build();
}

Evaluator::~Evaluator() = default;
Evaluator::Evaluator(Evaluator&&) noexcept = default;
Evaluator& Evaluator::operator=(Evaluator&&) noexcept = default;

const std::vector<Endpoint>& Evaluator::endpoints() const { return impl_->endpoints; }
const PolicySet& Evaluator::policies() const { return impl_->policies; }
EndpointId Evaluator::world() const { return impl_->world_id; }
size_t Evaluator::identity_count() const { return impl_->classes.identity_count(); }
size_t Evaluator::class_count() const { return impl_->classes.class_count(); }
uint32_t Evaluator::class_of(EndpointId id) const { return impl_->classes.class_of(id); }

Evaluator::ClassEnforcement Evaluator::enforcement(uint32_t cls, Direction dir) const {
  return impl_->enforcement(cls, dir);
}

bool Evaluator::rule_selects(RuleId r, uint32_t cls) const {
  const Rule& rule = impl_->policies.rules[r];
  return impl_->subject_matches(cls, rule.subject.node, impl_->subject_selector[r]);
}

const std::vector<RuleId>& Evaluator::rules_of(uint32_t cls, Direction dir) const {
  return impl_->class_info[cls].dir[dir_index(dir)].rules;
}

bool Evaluator::peer_class_matches(RuleId r, size_t i, uint32_t subject_cls,
                                   uint32_t peer_cls) const {
  const Impl& im = *impl_;
  const Rule& rule = im.policies.rules[r];
  const Peer& p = (*rule.peers)[i];
  const uint32_t sel = im.peer_selectors[r][i];
  switch (p.kind) {
    case Peer::Kind::Endpoints: {
      if (!im.classes.matches(peer_cls, sel)) return false;
      const auto& di = im.class_info[subject_cls].dir[dir_index(rule.direction)];
      const auto& reqs = di.requires_[rule.action == Action::Allow ? kAllow : kDeny];
      return std::all_of(reqs.begin(), reqs.end(),
                         [&](uint32_t q) { return im.classes.matches(peer_cls, q); });
    }
    case Peer::Kind::Entity: return im.classes.matches(peer_cls, sel);
    case Peer::Kind::Nodes:
      return im.classes.kind(peer_cls) == SubjectKind::Node && im.classes.matches(peer_cls, sel);
    default: return false;
  }
}

const std::vector<DnsCacheEntry>& Evaluator::dns_cache() const { return impl_->dns; }

std::optional<uint16_t> Evaluator::named_port(Direction dir, EndpointId dst, const std::string& name,
                                              Proto proto) const {
  return impl_->named_port(dir, impl_->endpoints[dst], name, proto);
}

const EvalOptions& Evaluator::options() const { return impl_->options; }

EndpointId Evaluator::representative(uint32_t cls) const {
  return impl_->classes.representative(cls);
}

std::optional<EndpointId> Evaluator::find_by_ip(const IpAddr& ip) const {
  auto it = impl_->by_ip.find(ip);
  if (it == impl_->by_ip.end()) return std::nullopt;
  return it->second;
}

std::optional<EndpointId> Evaluator::resolve(std::string_view ref,
                                             std::optional<IpAddr>* ip_out) const {
  std::string text(ref);
  if (text.rfind("cidr:", 0) == 0) {
    auto ip = IpAddr::parse(text.substr(5));
    if (!ip) return std::nullopt;
    if (auto pod = find_by_ip(*ip)) return pod;
    if (ip_out) *ip_out = ip;
    return impl_->world_id;
  }
  if (text.rfind("entity:", 0) == 0 && text.substr(7) == "world") return impl_->world_id;
  auto it = impl_->by_name.find(text);
  if (it == impl_->by_name.end()) return std::nullopt;
  return it->second;
}

Evaluator::RuleTrace Evaluator::trace(RuleId r, const Flow& flow) const {
  const Impl& im = *impl_;
  const Rule& rule = im.policies.rules[r];
  const bool ingress = rule.direction == Direction::Ingress;
  const EndpointId self = ingress ? flow.dst : flow.src;
  const EndpointId peer = ingress ? flow.src : flow.dst;
  const Endpoint& pe = im.endpoints[peer];
  std::optional<IpAddr> peer_ip = ingress ? flow.src_ip : flow.dst_ip;
  if (pe.kind != Endpoint::Kind::World) peer_ip = pe.ips.empty() ? std::nullopt : std::optional(pe.ips.front());
  RuleTrace t;
  const uint32_t cls = im.classes.class_of(self);
  t.selects_subject = im.subject_matches(cls, rule.subject.node, im.subject_selector[r]);
  const auto& di = im.class_info[cls].dir[dir_index(rule.direction)];
  t.peer_matches = im.peer_matches(r, di, peer, peer_ip);
  t.l4_matches = im.l4_match(rule, flow).has_value();
  return t;
}

Decision Evaluator::decide(const Flow& flow) const {
  const Impl& im = *impl_;
  auto address = [&](EndpointId id, const std::optional<IpAddr>& given) -> std::optional<IpAddr> {
    const Endpoint& e = im.endpoints[id];
    if (e.kind == Endpoint::Kind::World) return given;
    if (!e.ips.empty()) return e.ips.front();
    return std::nullopt;
  };
  const auto src_ip = address(flow.src, flow.src_ip);
  const auto dst_ip = address(flow.dst, flow.dst_ip);

  Decision d;
  d.egress = im.side(Direction::Egress, flow.src, flow.dst, dst_ip, flow);
  d.ingress = im.side(Direction::Ingress, flow.dst, flow.src, src_ip, flow);
  const SideDecision* denied = d.egress.verdict == Verdict::Denied   ? &d.egress
                               : d.ingress.verdict == Verdict::Denied ? &d.ingress
                                                                      : nullptr;
  if (denied) {
    d.verdict = im.options.audit_mode ? Verdict::Audit : Verdict::Denied;
    d.reason = denied->reason;
  }
  d.l7_enforced = d.egress.l7_enforced || d.ingress.l7_enforced;
  if (flow.l7 && d.verdict != Verdict::Denied) {
    bool ok = d.egress.l7_allowed.value_or(true) && d.ingress.l7_allowed.value_or(true);
    d.l7_verdict = ok ? Verdict::Allowed : Verdict::Denied;  // audit mode never covers L7
  }
  return d;
}

std::vector<Origin> Decision::deciding_origins(const PolicySet& policies) const {
  std::vector<Origin> out;
  auto add_rules = [&](const std::vector<RuleId>& ids) {
    for (RuleId r : ids) {
      const Origin& o = policies.rules[r].origin;
      if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
    }
  };
  auto add_side = [&](const SideDecision& s) {
    if (!s.applies) return;
    if (s.reason == DropReason::PolicyDeny) {
      add_rules(s.deny_rules);
    } else if (s.reason == DropReason::PolicyDenied) {
      for (size_t spec : s.enforcing_specs) {
        const Origin& o = policies.specs[spec].origin;
        if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
      }
    } else if (s.l7_allowed.has_value()) {
      add_rules(s.l7_rules);
    } else {
      add_rules(s.allow_rules);
    }
  };
  if (verdict != Verdict::Allowed && reason != DropReason::None) {
    // Only the side that dropped the flow decided it.
    const SideDecision& s = egress.verdict == Verdict::Denied ? egress : ingress;
    add_side(s);
    return out;
  }
  add_side(egress);
  add_side(ingress);
  return out;
}

}  // namespace cnpc::ir
