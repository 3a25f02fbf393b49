#include "model.h"

#include <algorithm>
#include <map>
#include <set>

namespace cnpc::codegen {

using ir::Direction;
using ir::RuleId;

namespace {

std::vector<uint8_t> pidx_of(ir::Proto p) {
  switch (p) {
    case ir::Proto::Any: return {kTcp, kUdp, kSctp};
    case ir::Proto::TCP: return {kTcp};
    case ir::Proto::UDP: return {kUdp};
    case ir::Proto::SCTP: return {kSctp};
    default: return {};
  }
}

ir::Proto proto_of(uint8_t pidx) {
  return pidx == kTcp ? ir::Proto::TCP : pidx == kUdp ? ir::Proto::UDP : ir::Proto::SCTP;
}

// Spans of `a` not covered by `b` (both per protocol index).
std::vector<PortSpan> subtract(const std::vector<PortSpan>& a, const std::vector<PortSpan>& b) {
  std::vector<PortSpan> out;
  for (const auto& s : a) {
    std::vector<PortSpan> pieces = {s};
    for (const auto& cut : b) {
      if (cut.pidx != s.pidx) continue;
      std::vector<PortSpan> next;
      for (const auto& p : pieces) {
        if (cut.last < p.first || cut.first > p.last) {
          next.push_back(p);
          continue;
        }
        if (cut.first > p.first) next.push_back({p.pidx, p.first, uint16_t(cut.first - 1)});
        if (cut.last < p.last) next.push_back({p.pidx, uint16_t(cut.last + 1), p.last});
      }
      pieces = std::move(next);
    }
    out.insert(out.end(), pieces.begin(), pieces.end());
  }
  return out;
}

void normalize(std::vector<PortSpan>& spans) {
  std::sort(spans.begin(), spans.end());
  std::vector<PortSpan> out;
  for (const auto& s : spans) {
    if (!out.empty() && out.back().pidx == s.pidx && uint32_t(out.back().last) + 1 >= s.first) {
      out.back().last = std::max(out.back().last, s.last);
      continue;
    }
    out.push_back(s);
  }
  spans = std::move(out);
}

}  // namespace

DatapathModel build_model(const ir::Evaluator& ev) {
  DatapathModel m;
  const auto& ps = ev.policies();
  m.class_count = uint32_t(ev.class_count());
  m.world_class_base = m.class_count;
  m.audit = ev.options().audit_mode;
  const uint32_t world = ev.class_of(ev.world());

  // World atoms: every prefix the policies (or the DNS cache) name, plus
  // the default routes; the ipcache's longest-prefix match picks the atom.
  std::set<ir::Cidr> prefixes = {*ir::Cidr::parse("0.0.0.0/0"), *ir::Cidr::parse("::/0")};
  bool fqdn = false;
  for (const auto& r : ps.rules)
    if (r.peers)
      for (const auto& p : *r.peers) {
        if (p.kind == ir::Peer::Kind::Cidr) {
          prefixes.insert(p.cidr);
          prefixes.insert(p.except.begin(), p.except.end());
        }
        fqdn |= p.kind == ir::Peer::Kind::Fqdn;
      }
  if (fqdn)
    for (const auto& entry : ev.dns_cache())
      for (const auto& ip : entry.ips) prefixes.insert(ir::Cidr{ip, ip.v6 ? 128 : 32});
  m.world_atoms.assign(prefixes.begin(), prefixes.end());

  // ipcache: endpoint addresses, then the world atoms.
  std::set<std::string> seen;
  for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e) {
    const auto& ep = ev.endpoints()[e];
    if (ep.kind == ir::Endpoint::Kind::World) continue;
    for (const auto& ip : ep.ips) {
      std::string prefix = ip.to_string() + (ip.v6 ? "/128" : "/32");
      if (seen.insert(prefix).second) m.ipcache.push_back({prefix, ev.class_of(e)});
    }
  }
  for (size_t i = 0; i < m.world_atoms.size(); ++i)
    if (seen.insert(m.world_atoms[i].to_string()).second)
      m.ipcache.push_back({m.world_atoms[i].to_string(), m.world_class_base + uint32_t(i)});

  for (uint32_t c = 0; c < m.class_count; ++c)
    if (ev.endpoints()[ev.representative(c)].kind == ir::Endpoint::Kind::Host) m.host_classes.push_back(c);

  auto atoms_where = [&](auto pred) {
    std::vector<uint32_t> out;
    for (size_t i = 0; i < m.world_atoms.size(); ++i)
      if (pred(m.world_atoms[i])) out.push_back(m.world_class_base + uint32_t(i));
    return out;
  };
  auto all_atoms = atoms_where([](const ir::Cidr&) { return true; });

  for (uint32_t c = 0; c < m.class_count; ++c) {
    if (ev.endpoints()[ev.representative(c)].kind != ir::Endpoint::Kind::Pod) continue;
    SubjectModel sm;
    sm.class_id = c;
    for (Direction d : {Direction::Ingress, Direction::Egress}) {
      DirectionModel& dm = sm.dir[d == Direction::Ingress ? 0 : 1];
      auto e = ev.enforcement(c, d);
      dm.enforced = e.enforced;
      dm.default_deny = e.default_deny;
      if (d == Direction::Ingress && ev.options().allow_localhost == ir::AllowLocalhost::Always)
        dm.localhost_peers = m.host_classes;
      for (RuleId r : ev.rules_of(c, d)) {
        const ir::Rule& rule = ps.rules[r];
        if (rule.matches_nothing) continue;
        Entry base;
        base.rule = r;
        if (!rule.peers) {
          base.all_peers = true;
        } else {
          std::set<uint32_t> peers;
          for (size_t i = 0; i < rule.peers->size(); ++i) {
            const ir::Peer& p = (*rule.peers)[i];
            switch (p.kind) {
              case ir::Peer::Kind::Endpoints:
              case ir::Peer::Kind::Entity:
              case ir::Peer::Kind::Nodes:
                for (uint32_t pc = 0; pc < m.class_count; ++pc)
                  if (ev.peer_class_matches(r, i, c, pc)) {
                    if (pc == world)
                      peers.insert(all_atoms.begin(), all_atoms.end());
                    else
                      peers.insert(pc);
                  }
                break;
              case ir::Peer::Kind::Cidr:
                for (uint32_t a : atoms_where([&](const ir::Cidr& x) {
                       return p.cidr.contains(x) &&
                              std::none_of(p.except.begin(), p.except.end(),
                                           [&](const ir::Cidr& ex) { return ex.contains(x); });
                     }))
                  peers.insert(a);
                break;
              case ir::Peer::Kind::Fqdn:
                for (const auto& entry : ev.dns_cache()) {
                  bool ok = !p.fqdn_name.empty() ? entry.name == p.fqdn_name
                                                 : ir::dns_pattern_matches(p.fqdn_pattern, entry.name);
                  if (!ok) continue;
                  for (const auto& ip : entry.ips)
                    for (uint32_t a : atoms_where([&](const ir::Cidr& x) {
                           return x.prefix == (ip.v6 ? 128 : 32) && x.contains(ip);
                         }))
                      peers.insert(a);
                }
                break;
              case ir::Peer::Kind::Unresolved: break;
            }
          }
          if (peers.empty()) continue;
          base.peers.assign(peers.begin(), peers.end());
        }
        const Category matched = rule.action == ir::Action::Deny ? kDeny : kAllow;
        if (rule.port_rules.empty() && rule.icmps.empty()) {
          Entry e2 = base;
          e2.category = matched;
          e2.all_ports = true;
          dm.entries.push_back(std::move(e2));
          continue;
        }
        if (!rule.icmps.empty()) {
          Entry e2 = base;
          e2.category = matched;
          for (const auto& icmp : rule.icmps)
            e2.ports.push_back({uint8_t(icmp.v6 ? kIcmp6 : kIcmp), icmp.type, icmp.type});
          normalize(e2.ports);
          dm.entries.push_back(std::move(e2));
        }
        // Port rules, with the evaluator's first-match: a port is decided by
        // the first port rule of the entry that covers it.
        std::vector<PortSpan> earlier;
        for (size_t j = 0; j < rule.port_rules.size(); ++j) {
          const ir::PortRule& pr = rule.port_rules[j];
          std::vector<PortSpan> spans;
          for (const auto& pm : pr.ports)
            for (uint8_t px : pidx_of(pm.proto)) {
              if (pm.name.empty()) {
                spans.push_back({px, pm.first, pm.last});
              } else if (auto port = ev.named_port(d, ev.representative(c), pm.name, proto_of(px))) {
                spans.push_back({px, *port, *port});
              }
            }
          normalize(spans);
          std::vector<PortSpan> own = subtract(spans, earlier);
          earlier.insert(earlier.end(), spans.begin(), spans.end());
          normalize(earlier);
          normalize(own);
          if (own.empty()) continue;
          Entry e2 = base;
          e2.port_rule = int(j);
          e2.category = rule.action == ir::Action::Deny ? kDeny
                        : pr.l7.kind != ir::L7Kind::None ? kRedirect
                                                          : kAllow;
          e2.ports = std::move(own);
          dm.entries.push_back(std::move(e2));
        }
      }
      std::stable_sort(dm.entries.begin(), dm.entries.end(), [](const Entry& a, const Entry& b) {
        if (a.category != b.category) return a.category > b.category;
        return a.rule < b.rule;
      });
    }
    m.subjects.push_back(std::move(sm));
  }
  return m;
}

uint32_t datapath_class(const ir::Evaluator& ev, const DatapathModel& m, ir::EndpointId id,
                        const std::optional<ir::IpAddr>& ip) {
  if (ev.endpoints()[id].kind != ir::Endpoint::Kind::World || !ip) return ev.class_of(id);
  int best = -1, best_len = -1;
  for (size_t i = 0; i < m.world_atoms.size(); ++i)
    if (m.world_atoms[i].contains(*ip) && m.world_atoms[i].prefix > best_len) {
      best = int(i);
      best_len = m.world_atoms[i].prefix;
    }
  return m.world_class_base + uint32_t(best);
}

}  // namespace cnpc::codegen
