// Semantic diff of two policy sets. Both are encoded over one class
// partition (that of their union), each with its own rules and its own
// enforcement; Z3 finds a flow whose verdict differs, the evaluators
// confirm it and measure the ports around it, and the (source, destination,
// protocol) it covers is blocked before the next search.
#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "cnpc/verifier/verifier.h"
#include "encoder.h"

namespace cnpc::verifier {

using ir::Direction;
using ir::RuleId;

std::string to_string(DiffGroup::Change c) {
  switch (c) {
    case DiffGroup::Change::NewlyAllowed: return "newly allowed";
    case DiffGroup::Change::NewlyDenied: return "newly denied";
    case DiffGroup::Change::RequestNewlyAllowed: return "request newly allowed";
    case DiffGroup::Change::RequestNewlyDenied: return "request newly denied";
  }
  return "?";
}

namespace {

int dir_index(Direction d) { return d == Direction::Ingress ? 0 : 1; }

// What a class's side looks like in one policy set: its rules (by content,
// not by file position) and its enforcement.
std::string side_signature(const ir::Evaluator& ev, ir::EndpointId rep, Direction d) {
  uint32_t cls = ev.class_of(rep);
  std::vector<std::string> rules;
  for (RuleId r : ev.rules_of(cls, d)) rules.push_back(ir::print(ev.policies().rules[r]));
  std::sort(rules.begin(), rules.end());
  auto e = ev.enforcement(cls, d);
  std::string sig = std::to_string(e.applies) + std::to_string(e.enforced) + std::to_string(e.default_deny);
  for (const auto& r : rules) sig += "\n" + r;
  return sig;
}

// Port boundaries of both policy sets: between two consecutive boundaries
// every rule treats all ports alike, so one port stands for the interval.
std::vector<PortRange> port_atoms(const ir::Evaluator& ev, const std::vector<const ir::PolicySet*>& sets,
                                  ir::Proto proto) {
  std::set<uint32_t> cuts = {0, 65536};
  for (const auto* ps : sets)
    for (const auto& r : ps->rules)
      for (const auto& pr : r.port_rules)
        for (const auto& pm : pr.ports) {
          if (!pm.name.empty()) {
            for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e)
              if (auto p = ev.named_port(r.direction, e, pm.name, proto)) {
                cuts.insert(*p);
                cuts.insert(uint32_t(*p) + 1);
              }
            continue;
          }
          cuts.insert(pm.first);
          cuts.insert(uint32_t(pm.last) + 1);
        }
  std::vector<PortRange> atoms;
  for (auto it = cuts.begin(); std::next(it) != cuts.end(); ++it)
    atoms.push_back({uint16_t(*it), uint16_t(*std::next(it) - 1)});
  return atoms;
}

std::vector<PortRange> icmp_atoms(const std::vector<const ir::PolicySet*>& sets, bool v6) {
  std::set<uint16_t> types;
  for (const auto* ps : sets)
    for (const auto& r : ps->rules)
      for (const auto& m : r.icmps)
        if (m.v6 == v6) types.insert(m.type);
  std::vector<PortRange> atoms;
  for (auto t : types) atoms.push_back({t, t});
  for (uint16_t t = 0; t < 256; ++t)
    if (!types.count(t)) {
      atoms.push_back({t, t});  // stands for every type no rule names
      break;
    }
  return atoms;
}

bool allowed(const ir::Decision& d) { return d.verdict != ir::Verdict::Denied; }

std::vector<std::string> origins_text(const std::vector<ir::Origin>& origins) {
  std::vector<std::string> out;
  for (const auto& o : origins) out.push_back(o.kind + " " + o.policy_ref() + " " + o.path);
  return out;
}

std::vector<std::string> class_members(const ir::Evaluator& ev, uint32_t cls,
                                       const std::optional<ir::IpAddr>& ip) {
  std::vector<std::string> out;
  for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e) {
    if (ev.class_of(e) != cls) continue;
    const auto& ep = ev.endpoints()[e];
    out.push_back(ep.kind == ir::Endpoint::Kind::World && ip ? "cidr:" + ip->to_string() : ep.display());
  }
  return out;
}

// The side where two decisions differ, and the rules that decided there.
struct Responsibility {
  std::string side;
  std::vector<ir::Origin> base, head;
};

std::vector<ir::Origin> side_origins(const ir::PolicySet& ps, const ir::SideDecision& s) {
  std::vector<ir::Origin> out;
  auto add = [&](const ir::Origin& o) {
    if (std::find(out.begin(), out.end(), o) == out.end()) out.push_back(o);
  };
  if (!s.applies || !s.enforced) return out;
  if (s.reason == ir::DropReason::PolicyDeny)
    for (auto r : s.deny_rules) add(ps.rules[r].origin);
  else if (s.reason == ir::DropReason::PolicyDenied)
    for (auto sp : s.enforcing_specs) add(ps.specs[sp].origin);
  else if (s.l7_allowed)
    for (auto r : s.l7_rules) add(ps.rules[r].origin);
  else
    for (auto r : s.allow_rules) add(ps.rules[r].origin);
  return out;
}

Responsibility responsibility(const ir::PolicySet& base, const ir::PolicySet& head,
                              const ir::Decision& b, const ir::Decision& h) {
  auto differs = [](const ir::SideDecision& x, const ir::SideDecision& y) {
    return x.verdict != y.verdict || x.l7_allowed != y.l7_allowed;
  };
  Responsibility r;
  const bool egress = differs(b.egress, h.egress);
  r.side = egress ? "egress" : "ingress";
  r.base = side_origins(base, egress ? b.egress : b.ingress);
  r.head = side_origins(head, egress ? h.egress : h.ingress);
  return r;
}

}  // namespace

DiffResult diff(const DiffInput& in, const Options& options, size_t max_pairs) {
  const ir::PolicySet& base = *in.base;
  const ir::PolicySet& head = *in.head;
  ir::PolicySet both = base;
  both.rules.insert(both.rules.end(), head.rules.begin(), head.rules.end());
  both.specs.insert(both.specs.end(), head.specs.begin(), head.specs.end());
  RuleMask base_mask(both.rules.size(), false), head_mask(both.rules.size(), false);
  for (size_t i = 0; i < base.rules.size(); ++i) base_mask[i] = true;
  for (size_t i = base.rules.size(); i < both.rules.size(); ++i) head_mask[i] = true;

  ir::Evaluator ev(both, *in.inventory, in.eval, in.dns);
  ir::Evaluator ev_base(base, *in.inventory, in.eval, in.dns);
  ir::Evaluator ev_head(head, *in.inventory, in.eval, in.dns);
  if (ev.endpoints().size() != ev_base.endpoints().size())
    throw std::runtime_error("diff: endpoint tables differ");

  z3::context ctx;
  Encoder enc(ctx, ev);
  FlowVars f = enc.flow("d_");
  const Enforcement eb = enc.enforcement_of(ev_base), eh = enc.enforcement_of(ev_head);
  enc.use_enforcement(&eb);
  z3::expr ab = enc.allowed(f, &base_mask);
  z3::expr hb = enc.request_allowed(f, ir::L7Kind::Http, &base_mask);
  z3::expr db = enc.request_allowed(f, ir::L7Kind::Dns, &base_mask);
  enc.use_enforcement(&eh);
  z3::expr ah = enc.allowed(f, &head_mask);
  z3::expr hh = enc.request_allowed(f, ir::L7Kind::Http, &head_mask);
  z3::expr dh = enc.request_allowed(f, ir::L7Kind::Dns, &head_mask);
  enc.use_enforcement(nullptr);

  // Only a side whose rules or enforcement changed can change a verdict.
  ClassSet changed[2];
  for (uint32_t c = 0; c < enc.class_count(); ++c)
    for (Direction d : {Direction::Ingress, Direction::Egress}) {
      ir::EndpointId rep = ev.representative(c);
      if (side_signature(ev_base, rep, d) != side_signature(ev_head, rep, d))
        changed[dir_index(d)].push_back(c);
    }
  DiffResult result;
  if (changed[0].empty() && changed[1].empty()) return result;

  z3::expr l34 = ab != ah;
  z3::expr http = ab && ah && hb != hh;
  z3::expr dns = ab && ah && db != dh;
  z3::solver solver(ctx);
  z3::params p(ctx);
  p.set("timeout", options.timeout_ms);
  solver.set(p);
  solver.add(enc.well_formed(f));
  solver.add(enc.in_set(f.src, changed[1]) || enc.in_set(f.dst, changed[0]));
  solver.add(l34 || http || dns);

  const std::vector<const ir::PolicySet*> sets = {&base, &head};
  struct Entry {
    DiffGroup group;
    uint32_t src_cls, dst_cls;
  };
  std::vector<Entry> entries;
  z3::expr readable = enc.readable(f);
  for (size_t pairs = 0;; ++pairs) {
    // Prefer a witness that reads like a real request.
    solver.push();
    solver.add(readable);
    auto r = solver.check();
    std::optional<z3::model> nice;
    if (r == z3::sat) nice = solver.get_model();
    solver.pop();
    if (!nice) r = solver.check();
    if (r == z3::unknown) {
      result.unknown = true;
      break;
    }
    if (r == z3::unsat) break;
    if (pairs == max_pairs) {
      result.truncated = true;
      break;
    }
    z3::model m = nice ? *nice : solver.get_model();
    ir::L7Kind kind = m.eval(l34, true).is_true()    ? ir::L7Kind::None
                      : m.eval(http, true).is_true() ? ir::L7Kind::Http
                                                     : ir::L7Kind::Dns;
    ir::Flow w = enc.extract(m, f, kind);
    ir::Decision b = ev_base.decide(w), h = ev_head.decide(w);
    const bool l7_change = kind != ir::L7Kind::None;
    bool confirmed = l7_change ? (allowed(b) && allowed(h) && b.l7_verdict != h.l7_verdict)
                               : allowed(b) != allowed(h);
    if (!confirmed)
      throw std::runtime_error("verifier and evaluator disagree on a diff witness: " + describe(ev, w));

    Entry e;
    e.src_cls = ev.class_of(w.src);
    e.dst_cls = ev.class_of(w.dst);
    DiffGroup& g = e.group;
    g.proto = w.proto;
    if (l7_change)
      g.change = h.l7_verdict == ir::Verdict::Allowed ? DiffGroup::Change::RequestNewlyAllowed
                                                       : DiffGroup::Change::RequestNewlyDenied;
    else
      g.change = allowed(h) ? DiffGroup::Change::NewlyAllowed : DiffGroup::Change::NewlyDenied;
    auto resp = responsibility(base, head, b, h);
    g.side = resp.side;
    g.base_rules = resp.base;
    g.head_rules = resp.head;
    g.witness = Witness{w, describe(ev, w)};
    g.sources = class_members(ev, e.src_cls, w.src_ip);
    g.destinations = class_members(ev, e.dst_cls, w.dst_ip);

    // The ports around the witness that change the same way.
    const bool icmp = w.proto == ir::Proto::ICMP || w.proto == ir::Proto::ICMPv6;
    if (l7_change) {
      g.ports.push_back({w.port, w.port});
    } else {
      for (const auto& atom : icmp ? icmp_atoms(sets, w.proto == ir::Proto::ICMPv6) : port_atoms(ev, sets, w.proto)) {
        ir::Flow probe = w;
        if (icmp)
          probe.icmp_type = uint8_t(atom.first);
        else
          probe.port = atom.first;
        ir::Decision pb = ev_base.decide(probe), ph = ev_head.decide(probe);
        if (allowed(pb) == allowed(ph) || allowed(ph) != allowed(h)) continue;
        if (!g.ports.empty() && g.ports.back().last + 1 == atom.first)
          g.ports.back().last = atom.last;
        else
          g.ports.push_back(atom);
      }
    }
    entries.push_back(std::move(e));

    const unsigned bits = f.src.get_sort().bv_size();
    z3::expr same_pair = f.src == ctx.bv_val(entries.back().src_cls, bits) &&
                         f.dst == ctx.bv_val(entries.back().dst_cls, bits) &&
                         f.proto == ctx.bv_val(unsigned(w.ip_proto), 8);
    solver.add(l7_change ? !(same_pair && f.port == ctx.bv_val(unsigned(w.port), 16)) : !same_pair);
  }

  // Merge pairs that changed the same way for the same reasons: first the
  // sources of one destination, then destinations with the same sources.
  auto key = [](const DiffGroup& g, bool with_dst) {
    std::string k = to_string(g.change) + "|" + g.side + "|" + ir::to_string(g.proto) + "|";
    for (const auto& r : g.ports) k += std::to_string(r.first) + "-" + std::to_string(r.last) + ",";
    for (const auto& o : origins_text(g.base_rules)) k += "|b:" + o;
    for (const auto& o : origins_text(g.head_rules)) k += "|h:" + o;
    if (g.change == DiffGroup::Change::RequestNewlyAllowed || g.change == DiffGroup::Change::RequestNewlyDenied)
      k += "|w:" + g.witness.text;
    if (with_dst)
      for (const auto& d : g.destinations) k += "|d:" + d;
    return k;
  };
  std::map<std::string, DiffGroup> by_dst;
  for (auto& e : entries) {
    auto [it, fresh] = by_dst.try_emplace(key(e.group, true), e.group);
    if (!fresh)
      for (const auto& s : e.group.sources)
        if (std::find(it->second.sources.begin(), it->second.sources.end(), s) == it->second.sources.end())
          it->second.sources.push_back(s);
  }
  std::map<std::string, DiffGroup> merged;
  for (auto& [k, g] : by_dst) {
    std::sort(g.sources.begin(), g.sources.end());
    std::string k2 = key(g, false);
    for (const auto& s : g.sources) k2 += "|s:" + s;
    auto [it, fresh] = merged.try_emplace(k2, g);
    if (!fresh)
      for (const auto& d : g.destinations)
        if (std::find(it->second.destinations.begin(), it->second.destinations.end(), d) == it->second.destinations.end())
          it->second.destinations.push_back(d);
  }
  for (auto& [k, g] : merged) {
    std::sort(g.destinations.begin(), g.destinations.end());
    result.groups.push_back(std::move(g));
  }
  return result;
}

}  // namespace cnpc::verifier
