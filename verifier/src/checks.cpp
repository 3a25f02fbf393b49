// The lint checks the verifier proves. Each check is a set of independent
// jobs (one per rule or per class group) run on worker threads, each with
// its own Z3 context; results are put back in job order so output is stable.
#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cnpc/verifier/verifier.h"
#include "encoder.h"

namespace cnpc::verifier {

using ir::Direction;
using ir::RuleId;

namespace {

enum class Sat { Yes, No, Unknown };

// The solver's answer to what it was given; the model when satisfiable.
Sat outcome(z3::solver& solver, std::optional<z3::model>* model) {
  switch (solver.check()) {
    case z3::sat:
      if (model) *model = solver.get_model();
      return Sat::Yes;
    case z3::unsat: return Sat::No;
    default: return Sat::Unknown;
  }
}

Sat check(z3::context& ctx, const z3::expr& formula, unsigned timeout_ms,
          std::optional<z3::model>* model = nullptr) {
  z3::solver solver(ctx);
  z3::params p(ctx);
  p.set("timeout", timeout_ms);
  solver.set(p);
  solver.add(formula);
  return outcome(solver, model);
}

// Z3 4.8.12 is much faster without the strings' domain (printable ASCII,
// lower-case names): unsat there is final, and a model that happens to lie
// in the domain is a model. Only otherwise is the domain added.
Sat check_in_domain(Encoder& enc, const FlowVars& f, const z3::expr& formula, unsigned timeout_ms,
                    std::optional<z3::model>* model = nullptr) {
  auto& ctx = enc.ctx();
  const z3::expr domain = enc.string_domain(f);
  std::optional<z3::model> m;
  Sat first = check(ctx, formula, std::max(1u, timeout_ms / 2), &m);
  if (first == Sat::No) return Sat::No;
  if (first == Sat::Yes && m->eval(domain, true).is_true()) {
    if (model) *model = m;
    return Sat::Yes;
  }
  return check(ctx, formula && domain, timeout_ms, model);
}

// A formula without strings (an L3/L4 verdict) on the encoder's
// incremental solver: no string domain to add, no solver to build.
Sat check_l34(Encoder& enc, const z3::expr& formula, unsigned timeout_ms,
              std::optional<z3::model>* model = nullptr) {
  z3::solver& solver = enc.l34_solver(timeout_ms);
  struct Scope {
    z3::solver& s;
    explicit Scope(z3::solver& s) : s(s) { s.push(); }
    ~Scope() { s.pop(); }
  } scope(solver);
  solver.add(formula);
  return outcome(solver, model);
}

std::string origin_text(const ir::Origin& o) {
  return o.kind + " " + o.policy_ref() + " " + o.path;
}

// Runs jobs on `jobs` threads; each thread owns a context and an encoder.
using Job = std::function<void(Encoder&, std::vector<Finding>&)>;
std::vector<Finding> run(const std::shared_ptr<const ClassModel>& model, const Options& options,
                         const std::vector<Job>& jobs) {
  std::vector<std::vector<Finding>> results(jobs.size());
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  std::string error;
  auto worker = [&] {
    z3::context ctx;
    Encoder enc(ctx, model);
    for (size_t i = next++; i < jobs.size(); i = next++) {
      try {
        jobs[i](enc, results[i]);
        enc.restrict_to(nullptr);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.empty()) error = e.what();
      }
    }
  };
  unsigned n = std::max(1u, std::min<unsigned>(options.jobs, unsigned(jobs.size())));
  std::vector<std::thread> threads;
  for (unsigned t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (!error.empty()) throw std::runtime_error(error);
  std::vector<Finding> out;
  for (auto& r : results)
    for (auto& f : r) out.push_back(std::move(f));
  return out;
}

// A witness that the evaluator does not confirm means the encoding and the
// evaluator disagree: an internal error, never a finding.
void confirm(bool ok, const std::string& what, const ir::Evaluator& ev, const ir::Flow& flow) {
  if (!ok)
    throw std::runtime_error("verifier and evaluator disagree on the witness of " + what + ": " +
                             describe(ev, flow));
}

Finding unknown(const std::string& what, const ir::Origin& origin) {
  Finding f;
  f.check = "solver-unknown";
  f.severity = ir::Severity::Note;
  f.loc = origin.loc;
  f.message = what + " could not be decided within the timeout (unknown)";
  return f;
}

// Removing the only entry of a section changes enforcement itself; the
// redundancy checks only claim what holds with the sections unchanged.
bool removal_keeps_sections(const ir::PolicySet& ps, RuleId r) {
  const ir::Rule& rule = ps.rules[r];
  if (rule.origin.kind == "NetworkPolicy") return true;  // policyTypes keep the section
  auto spec_of = [](const std::string& path) { return path.substr(0, path.find('.')); };
  size_t same = 0;
  for (const auto& other : ps.rules)
    if (other.direction == rule.direction && other.origin.kind == rule.origin.kind &&
        other.origin.namespace_ == rule.origin.namespace_ && other.origin.name == rule.origin.name &&
        spec_of(other.origin.path) == spec_of(rule.origin.path))
      ++same;
  return same > 1;
}

bool has_l7(const ir::PolicySet& ps, ir::L7Kind kind) {
  for (const auto& r : ps.rules)
    for (const auto& pr : r.port_rules)
      if (pr.l7.kind == kind) return true;
  return false;
}

bool is_host(const ir::Evaluator& ev, ir::EndpointId id) {
  return ev.endpoints()[id].kind == ir::Endpoint::Kind::Host;
}

// ------------------------------------------------------------ rule checks

void shadowed_allow(Encoder& enc, RuleId r, const Options& opt, std::vector<Finding>& out) {
  const ir::Evaluator& ev = enc.evaluator();
  const ir::Rule& rule = ev.policies().rules[r];
  const ClassSet domain = enc.subjects(r);  // rule_match keeps the subject inside it
  enc.restrict_to(&domain);
  FlowVars f = enc.flow("f_");
  z3::expr base = enc.well_formed_core(f) && enc.rule_match(r, f);
  std::optional<z3::model> m;
  Sat any = check_l34(enc, base, opt.timeout_ms, &m);
  if (any == Sat::Unknown) return out.push_back(unknown("shadowed-allow for " + origin_text(rule.origin), rule.origin));
  if (any == Sat::No) return;  // matches nothing: other checks speak of that
  Sat open = check_l34(enc, base && !enc.side_denied_by_rule(rule.direction, f), opt.timeout_ms);
  if (open == Sat::Unknown) return out.push_back(unknown("shadowed-allow for " + origin_text(rule.origin), rule.origin));
  if (open == Sat::Yes) return;
  ir::Flow w = enc.extract(*m, f, ir::L7Kind::None);
  ir::Decision d = ev.decide(w);
  const auto& side = rule.direction == Direction::Ingress ? d.ingress : d.egress;
  confirm(side.reason == ir::DropReason::PolicyDeny &&
              std::count(side.allow_rules.begin(), side.allow_rules.end(), r),
          "shadowed-allow", ev, w);
  Finding fd;
  fd.check = "shadowed-allow";
  fd.loc = rule.origin.loc;
  fd.message = "every flow this allow admits is denied by deny rules (" + origin_text(rule.origin) + ")";
  for (RuleId dr : side.deny_rules)
    fd.related.push_back({ev.policies().rules[dr].origin.loc, "denied by " + origin_text(ev.policies().rules[dr].origin)});
  fd.witness = Witness{w, describe(ev, w)};
  out.push_back(std::move(fd));
}

void redundant(Encoder& enc, RuleId r, const Options& opt, std::vector<Finding>& out) {
  const ir::Evaluator& ev = enc.evaluator();
  const auto& ps = ev.policies();
  const ir::Rule& rule = ps.rules[r];
  if (!removal_keeps_sections(ps, r)) return;
  const ClassSet domain = enc.subjects(r);
  enc.restrict_to(&domain);
  FlowVars f = enc.flow("f_");
  const Direction d = rule.direction;
  RuleMask mask(ps.rules.size(), true);
  mask[r] = false;
  const z3::expr& subject = rule.direction == Direction::Ingress ? f.dst : f.src;
  z3::expr wf = enc.well_formed_core(f) && enc.in_set(subject, domain);
  // The rule must matter somewhere to be called redundant (not dead).
  std::optional<z3::model> m;
  Sat any = check_l34(enc, wf && enc.rule_match(r, f), opt.timeout_ms, &m);
  const std::string what = (rule.action == ir::Action::Allow ? "redundant-rule for " : "ineffective-deny for ") + origin_text(rule.origin);
  if (any == Sat::Unknown) return out.push_back(unknown(what, rule.origin));
  if (any == Sat::No) return;
  z3::expr full = enc.side_allowed(d, f), without = enc.side_allowed(d, f, &mask);
  // Removing it changes some verdict: L3/L4 first (most rules stop here),
  // the request verdicts (strings) only when those agree.
  Sat l34 = check_l34(enc, wf && full != without, opt.timeout_ms);
  if (l34 == Sat::Unknown) return out.push_back(unknown(what, rule.origin));
  if (l34 == Sat::Yes) return;
  for (ir::L7Kind k : {ir::L7Kind::Http, ir::L7Kind::Dns}) {
    if (!has_l7(ps, k)) continue;
    z3::expr diff = full && without && enc.l7_allowed(d, f, k) != enc.l7_allowed(d, f, k, &mask);
    Sat s = check_in_domain(enc, f, wf && diff, opt.timeout_ms);
    if (s == Sat::Unknown) return out.push_back(unknown(what, rule.origin));
    if (s == Sat::Yes) return;
  }
  if (!enc.untranslatable().empty()) return;  // L7 part not proved

  ir::Flow w = enc.extract(*m, f, ir::L7Kind::None);
  ir::Decision dec = ev.decide(w);
  const auto& side = d == Direction::Ingress ? dec.ingress : dec.egress;
  Finding fd;
  fd.loc = rule.origin.loc;
  if (rule.action == ir::Action::Allow) {
    confirm(std::count(side.allow_rules.begin(), side.allow_rules.end(), r) > 0 ||
                side.reason == ir::DropReason::PolicyDeny,
            "redundant-rule", ev, w);
    fd.check = "redundant-rule";
    fd.message = "removing this allow changes no verdict (" + origin_text(rule.origin) + ")";
    for (RuleId o : side.allow_rules)
      if (o != r) fd.related.push_back({ps.rules[o].origin.loc, "also allowed by " + origin_text(ps.rules[o].origin)});
    for (RuleId o : side.deny_rules)
      fd.related.push_back({ps.rules[o].origin.loc, "denied anyway by " + origin_text(ps.rules[o].origin)});
  } else {
    confirm(std::count(side.deny_rules.begin(), side.deny_rules.end(), r) > 0, "ineffective-deny", ev, w);
    fd.check = "ineffective-deny";
    fd.message = "this deny never changes a verdict: what it matches is denied or never allowed anyway (" +
                 origin_text(rule.origin) + ")";
    for (RuleId o : side.deny_rules)
      if (o != r) fd.related.push_back({ps.rules[o].origin.loc, "also denied by " + origin_text(ps.rules[o].origin)});
  }
  fd.witness = Witness{w, describe(ev, w)};
  out.push_back(std::move(fd));
}

void l7_voided(Encoder& enc, RuleId r, size_t j, const Options& opt, std::vector<Finding>& out) {
  const ir::Evaluator& ev = enc.evaluator();
  const auto& ps = ev.policies();
  const ir::Rule& rule = ps.rules[r];
  const ir::PortRule& pr = rule.port_rules[j];
  if (pr.l7.kind != ir::L7Kind::Http && pr.l7.kind != ir::L7Kind::Dns) return;
  auto& ctx = enc.ctx();
  const ClassSet domain = enc.subjects(r);
  enc.restrict_to(&domain);
  FlowVars f = enc.flow("f_");
  const Direction d = rule.direction;
  const bool egress = d == Direction::Egress;
  z3::expr subject_peer = enc.rule_match(r, f) && enc.port_rule_first(r, j, f);
  z3::expr own = pr.l7.kind == ir::L7Kind::Http ? enc.http_rules_match(pr.l7, f) : enc.dns_rules_match(pr.l7, f);
  if (!enc.untranslatable().empty()) return;
  // A request these L7 rules reject passes anyway, from a peer other than
  // the host (allow-localhost wildcards the host on purpose).
  z3::expr peer = egress ? f.dst : f.src;
  z3::expr not_host = z3::ult(peer, ctx.bv_val(enc.class_count(), peer.get_sort().bv_size()));
  for (uint32_t c = 0; c < enc.class_count(); ++c)
    if (is_host(ev, ev.representative(c))) not_host = not_host && peer != ctx.bv_val(c, peer.get_sort().bv_size());
  // A request these rules reject passes only where L7 is not enforced or
  // another allow entry matches the flow: an L3/L4 question, and almost
  // always unsat, which settles the check without strings.
  z3::expr allowed = enc.side_allowed(d, f);
  Sat other = check_l34(enc, enc.well_formed_core(f) && subject_peer && not_host && allowed &&
                                 (!enc.l7_enforced(d, f) || enc.other_allow_entries(d, r, j, f)),
                        opt.timeout_ms);
  if (other == Sat::No) return;
  z3::expr formula = enc.well_formed_core(f) && subject_peer && not_host && allowed && !own &&
                     enc.l7_allowed(d, f, pr.l7.kind);
  std::optional<z3::model> m;
  Sat s = check_in_domain(enc, f, formula, opt.timeout_ms, &m);
  if (s == Sat::Unknown) return out.push_back(unknown("l7-voided for " + origin_text(rule.origin), rule.origin));
  if (s == Sat::No) return;
  // A witness that reads like a real request, when there is one.
  if (std::optional<z3::model> nicer;
      check(ctx, formula && enc.string_domain(f) && enc.readable(f), opt.timeout_ms / 4 + 1, &nicer) == Sat::Yes)
    m = nicer;
  ir::Flow w = enc.extract(*m, f, pr.l7.kind);
  ir::Decision dec = ev.decide(w);
  const auto& side = egress ? dec.egress : dec.ingress;
  confirm(side.l7_enforced && side.l7_allowed == true, "l7-voided", ev, w);
  Finding fd;
  fd.check = "l7-voided";
  fd.loc = pr.loc;
  fd.message = "these " + ir::to_string(pr.l7.kind) +
               " rules are void for some peers: an allow without L7 on the same port admits requests they reject (" +
               origin_text(rule.origin) + ")";
  for (RuleId o : side.l7_rules)
    if (o != r) fd.related.push_back({ps.rules[o].origin.loc, "L7 wildcard from " + origin_text(ps.rules[o].origin)});
  fd.witness = Witness{w, describe(ev, w)};
  out.push_back(std::move(fd));
}

void parser_conflict(Encoder& enc, RuleId a, size_t ja, RuleId b, size_t jb, const Options& opt,
                     std::vector<Finding>& out) {
  const ir::Evaluator& ev = enc.evaluator();
  const auto& ps = ev.policies();
  enc.restrict_to(nullptr);
  FlowVars f = enc.flow("f_");
  z3::expr formula = enc.well_formed_core(f) && enc.rule_match(a, f) && enc.port_rule_first(a, ja, f) &&
                     enc.rule_match(b, f) && enc.port_rule_first(b, jb, f);
  std::optional<z3::model> m;
  Sat s = check_l34(enc, formula, opt.timeout_ms, &m);
  const ir::Rule& ra = ps.rules[a];
  const ir::Rule& rb = ps.rules[b];
  if (s == Sat::Unknown) return out.push_back(unknown("l7-parser-conflict for " + origin_text(rb.origin), rb.origin));
  if (s == Sat::No) return;
  ir::Flow w = enc.extract(*m, f, ir::L7Kind::None);
  ir::Decision dec = ev.decide(w);
  const auto& side = ra.direction == Direction::Ingress ? dec.ingress : dec.egress;
  confirm(std::count(side.allow_rules.begin(), side.allow_rules.end(), a) &&
              std::count(side.allow_rules.begin(), side.allow_rules.end(), b),
          "l7-parser-conflict", ev, w);
  Finding fd;
  fd.check = "l7-parser-conflict";
  fd.severity = ir::Severity::Error;
  fd.loc = rb.port_rules[jb].loc;
  fd.message = ir::to_string(rb.port_rules[jb].l7.kind) + " rules here and " +
               ir::to_string(ra.port_rules[ja].l7.kind) +
               " rules elsewhere apply to the same port of the same endpoint; Cilium cannot merge "
               "different L7 parsers and fails to regenerate the endpoint";
  fd.related.push_back({ra.port_rules[ja].loc, "the other parser: " + origin_text(ra.origin)});
  fd.witness = Witness{w, describe(ev, w)};
  out.push_back(std::move(fd));
}

// ----------------------------------------------------------- class checks

// Classes that every side check treats alike: same rules, same enforcement,
// same named ports. One job per group, reported on its representative.
struct ClassGroup {
  std::vector<uint32_t> classes;
};

std::vector<ClassGroup> group_classes(const ir::Evaluator& ev, Direction d) {
  std::map<std::tuple<std::vector<RuleId>, bool, bool, std::string>, ClassGroup> groups;
  for (uint32_t c = 0; c < ev.class_count(); ++c) {
    const auto& rep = ev.endpoints()[ev.representative(c)];
    if (rep.kind != ir::Endpoint::Kind::Pod) continue;
    auto e = ev.enforcement(c, d);
    if (!e.enforced) continue;
    std::string ports;
    for (const auto& p : rep.ports) ports += p.name + "/" + std::to_string(p.port) + ";";
    groups[{ev.rules_of(c, d), e.enforced, e.default_deny, ports}].classes.push_back(c);
  }
  std::vector<ClassGroup> out;
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

std::string endpoints_text(const ir::Evaluator& ev, const std::vector<uint32_t>& classes) {
  std::vector<std::string> names;
  for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e)
    if (std::find(classes.begin(), classes.end(), ev.class_of(e)) != classes.end())
      names.push_back(ev.endpoints()[e].display());
  std::string out;
  for (size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > 5) out += " and " + std::to_string(names.size() - 5) + " more";
  return out;
}

std::vector<size_t> enforcing_specs(const ir::Evaluator& ev, uint32_t cls, Direction d) {
  ir::Flow probe;
  probe.src = probe.dst = ev.representative(cls);
  probe.port = 1;
  ir::Decision dec = ev.decide(probe);
  return (d == Direction::Ingress ? dec.ingress : dec.egress).enforcing_specs;
}

void isolated(Encoder& enc, const ClassGroup& g, Direction d, const Options& opt,
              std::vector<Finding>& out) {
  const ir::Evaluator& ev = enc.evaluator();
  auto& ctx = enc.ctx();
  FlowVars f = enc.flow("f_");
  const bool egress = d == Direction::Egress;
  const uint32_t cls = g.classes.front();
  const ClassSet domain = {cls};
  enc.restrict_to(&domain);
  const unsigned bits = f.src.get_sort().bv_size();
  z3::expr subject = (egress ? f.src : f.dst) == ctx.bv_val(cls, bits);
  z3::expr peer = egress ? f.dst : f.src;
  z3::expr not_host = ctx.bool_val(true);
  for (uint32_t c = 0; c < enc.class_count(); ++c)
    if (is_host(ev, ev.representative(c))) not_host = not_host && peer != ctx.bv_val(c, bits);
  auto specs = enforcing_specs(ev, cls, d);
  if (specs.empty()) return;
  const ir::Origin& origin = ev.policies().specs[specs.front()].origin;
  Sat s = check_l34(enc, enc.well_formed_core(f) && subject && not_host && enc.side_allowed(d, f), opt.timeout_ms);
  if (s == Sat::Unknown) return out.push_back(unknown("isolated-workload", origin));
  if (s == Sat::Yes) return;
  Finding fd;
  fd.check = "isolated-workload";
  fd.loc = origin.loc;
  fd.message = endpoints_text(ev, g.classes) +
               (egress ? " can reach nothing: egress default deny and no allow rule can match"
                       : " cannot be reached by anything but its node: ingress default deny and no allow rule can match");
  for (size_t sp : specs)
    fd.related.push_back({ev.policies().specs[sp].origin.loc, "default deny from " + origin_text(ev.policies().specs[sp].origin)});
  out.push_back(std::move(fd));
}

void dns_blocked(Encoder& enc, const ClassGroup& g, const std::vector<uint32_t>& dns_classes,
                 const Options& opt, std::vector<Finding>& out) {
  const ir::Evaluator& ev = enc.evaluator();
  auto& ctx = enc.ctx();
  FlowVars f = enc.flow("f_");
  const uint32_t cls = g.classes.front();
  const ClassSet domain = {cls};
  enc.restrict_to(&domain);
  const unsigned bits = f.src.get_sort().bv_size();
  auto specs = enforcing_specs(ev, cls, Direction::Egress);
  if (specs.empty()) return;
  const ir::Origin& origin = ev.policies().specs[specs.front()].origin;
  z3::expr to_dns = f.src == ctx.bv_val(cls, bits) && enc.in_set(f.dst, dns_classes) &&
                    f.proto == ctx.bv_val(17, 8) && f.port == ctx.bv_val(53, 16);
  Sat s = check_l34(enc, enc.well_formed_core(f) && to_dns && enc.side_allowed(Direction::Egress, f), opt.timeout_ms);
  if (s == Sat::Unknown) return out.push_back(unknown("dns-blocked", origin));
  if (s == Sat::Yes) return;
  ir::Flow w;
  w.src = ev.representative(cls);
  w.dst = ev.representative(dns_classes.front());
  w.proto = ir::Proto::UDP;
  w.ip_proto = 17;
  w.port = 53;
  ir::Decision dec = ev.decide(w);
  confirm(dec.egress.verdict == ir::Verdict::Denied, "dns-blocked", ev, w);
  Finding fd;
  fd.check = "dns-blocked";
  fd.loc = origin.loc;
  fd.message = endpoints_text(ev, g.classes) +
               ": egress default deny blocks DNS to kube-dns on 53/UDP; name resolution will fail";
  for (size_t sp : specs)
    fd.related.push_back({ev.policies().specs[sp].origin.loc, "egress default deny from " + origin_text(ev.policies().specs[sp].origin)});
  fd.witness = Witness{w, describe(ev, w)};
  out.push_back(std::move(fd));
}

void empty_selectors(const ir::Evaluator& ev, std::vector<Finding>& out) {
  const auto& ps = ev.policies();
  // Subjects, once per spec.
  for (const auto& spec : ps.specs) {
    bool any = false;
    for (uint32_t c = 0; c < ev.class_count() && !any; ++c) {
      auto kind = ev.endpoints()[ev.representative(c)].kind;
      bool subject_kind = spec.subject.node ? (kind == ir::Endpoint::Kind::Host || kind == ir::Endpoint::Kind::RemoteNode)
                                            : kind == ir::Endpoint::Kind::Pod;
      // Identity-class facts come from the rules; re-match the selector here.
      any = subject_kind && (spec.subject.node ? spec.subject.selector.matches(ev.endpoints()[ev.representative(c)].node_labels)
                                               : spec.subject.selector.matches(ev.endpoints()[ev.representative(c)].labels));
    }
    if (any) continue;
    Finding fd;
    fd.check = "empty-selector";
    fd.loc = spec.origin.loc;
    fd.message = std::string(spec.subject.node ? "nodeSelector " : "endpointSelector ") +
                 spec.subject.selector.to_string() + " of " + origin_text(spec.origin) +
                 " selects no endpoint of the inventory";
    out.push_back(std::move(fd));
  }
  // Endpoint peers.
  for (RuleId r = 0; r < ps.rules.size(); ++r) {
    const auto& rule = ps.rules[r];
    if (!rule.peers) continue;
    for (size_t i = 0; i < rule.peers->size(); ++i) {
      const ir::Peer& p = (*rule.peers)[i];
      if (p.kind != ir::Peer::Kind::Endpoints) continue;
      bool any = false;
      for (uint32_t c = 0; c < ev.class_count() && !any; ++c)
        any = p.selector.matches(ev.endpoints()[ev.representative(c)].labels);
      if (any) continue;
      Finding fd;
      fd.check = "empty-selector";
      fd.loc = p.loc;
      fd.message = "peer selector " + p.selector.to_string() + " of " + origin_text(rule.origin) +
                   " matches no endpoint of the inventory";
      out.push_back(std::move(fd));
    }
  }
}

}  // namespace

std::string describe(const ir::Evaluator& ev, const ir::Flow& flow) {
  auto name = [&](ir::EndpointId id, const std::optional<ir::IpAddr>& ip) {
    if (ip && ev.endpoints()[id].kind == ir::Endpoint::Kind::World) return "cidr:" + ip->to_string();
    return ev.endpoints()[id].display();
  };
  std::ostringstream out;
  out << name(flow.src, flow.src_ip) << " -> " << name(flow.dst, flow.dst_ip) << ' ';
  if (flow.proto == ir::Proto::ICMP || flow.proto == ir::Proto::ICMPv6)
    out << to_string(flow.proto) << " type " << int(flow.icmp_type);
  else
    out << flow.port << '/' << to_string(flow.proto);
  if (flow.l7) {
    const auto& req = *flow.l7;
    if (req.kind == ir::L7Kind::Http) {
      out << " HTTP " << req.http.method << " \"" << req.http.path << '"';
      if (!req.http.host.empty()) out << " host \"" << req.http.host << '"';
      for (const auto& [k, v] : req.http.headers) out << " [" << k << ": " << v << ']';
    } else if (req.kind == ir::L7Kind::Dns) {
      out << " DNS \"" << req.dns_name << '"';
    }
  }
  return out.str();
}

std::vector<Finding> lint(const ir::Evaluator& ev, const Options& options, bool with_inventory) {
  std::vector<Finding> findings;
  if (ev.options().enforcement == ir::EnforcementMode::Never) return findings;
  const auto& ps = ev.policies();
  std::vector<Job> jobs;
  for (RuleId r = 0; r < ps.rules.size(); ++r) {
    const auto& rule = ps.rules[r];
    if (rule.action == ir::Action::Allow)
      jobs.push_back([r, &options](Encoder& e, auto& out) { shadowed_allow(e, r, options, out); });
    jobs.push_back([r, &options](Encoder& e, auto& out) { redundant(e, r, options, out); });
    if (rule.action == ir::Action::Allow)
      for (size_t j = 0; j < rule.port_rules.size(); ++j)
        if (rule.port_rules[j].l7.kind != ir::L7Kind::None)
          jobs.push_back([r, j, &options](Encoder& e, auto& out) { l7_voided(e, r, j, options, out); });
  }
  auto model = std::make_shared<const ClassModel>(ev);
  // Parser conflicts: pairs of L7 port rules of different kinds, same
  // direction, whose rules select a common class (else no flow has both:
  // no job; the pairs grow with the square of the L7 rules).
  auto share_subject = [&](RuleId a, RuleId b) {
    const ClassSet &x = model->subjects[a], &y = model->subjects[b];
    for (auto i = x.begin(), k = y.begin(); i != x.end() && k != y.end();) {
      if (*i == *k) return true;
      if (*i < *k) ++i; else ++k;
    }
    return false;
  };
  std::vector<std::pair<RuleId, size_t>> l7_rules;
  for (RuleId r = 0; r < ps.rules.size(); ++r)
    for (size_t j = 0; j < ps.rules[r].port_rules.size(); ++j)
      if (ps.rules[r].action == ir::Action::Allow && ps.rules[r].port_rules[j].l7.kind != ir::L7Kind::None)
        l7_rules.emplace_back(r, j);
  for (size_t x = 0; x < l7_rules.size(); ++x)
    for (size_t y = x + 1; y < l7_rules.size(); ++y) {
      const RuleId a = l7_rules[x].first, b = l7_rules[y].first;
      const size_t ja = l7_rules[x].second, jb = l7_rules[y].second;  // plain names: clang 14 lambdas
      if (ps.rules[a].direction != ps.rules[b].direction) continue;
      if (ps.rules[a].port_rules[ja].l7.kind == ps.rules[b].port_rules[jb].l7.kind) continue;
      if (!share_subject(a, b)) continue;
      jobs.push_back([=, &options](Encoder& e, auto& out) { parser_conflict(e, a, ja, b, jb, options, out); });
    }
  for (Direction d : {Direction::Ingress, Direction::Egress})
    for (const auto& g : group_classes(ev, d))
      jobs.push_back([g, d, &options](Encoder& e, auto& out) { isolated(e, g, d, options, out); });
  // kube-dns: pods labelled k8s-app=kube-dns in kube-system.
  std::vector<uint32_t> dns_classes;
  for (ir::EndpointId id = 0; id < ev.endpoints().size(); ++id) {
    const auto& e = ev.endpoints()[id];
    bool kube_dns = e.namespace_ == "kube-system" &&
                    std::any_of(e.labels.labels.begin(), e.labels.labels.end(), [](const ir::Label& l) {
                      return l.source == "k8s" && l.key == "k8s-app" && l.value == "kube-dns";
                    });
    if (kube_dns && e.kind == ir::Endpoint::Kind::Pod) dns_classes.push_back(ev.class_of(id));
  }
  std::sort(dns_classes.begin(), dns_classes.end());
  dns_classes.erase(std::unique(dns_classes.begin(), dns_classes.end()), dns_classes.end());
  if (!dns_classes.empty())
    for (const auto& g : group_classes(ev, Direction::Egress))
      jobs.push_back([g, dns_classes, &options](Encoder& e, auto& out) { dns_blocked(e, g, dns_classes, options, out); });

  findings = run(model, options, jobs);
  // A shadowed allow is also redundant; the shadowing is the news.
  std::vector<ir::SourceLocation> shadowed;
  for (const auto& f : findings)
    if (f.check == "shadowed-allow") shadowed.push_back(f.loc);
  std::erase_if(findings, [&](const Finding& f) {
    return f.check == "redundant-rule" &&
           std::find(shadowed.begin(), shadowed.end(), f.loc) != shadowed.end();
  });
  if (with_inventory) empty_selectors(ev, findings);

  // Regexes the translation could not take: said once each.
  {
    z3::context ctx;
    Encoder enc(ctx, model);
    FlowVars f = enc.flow("u_");
    for (const auto& r : ps.rules)
      for (const auto& pr : r.port_rules) {
        if (pr.l7.kind == ir::L7Kind::Http) (void)enc.http_rules_match(pr.l7, f);
        if (pr.l7.kind == ir::L7Kind::Dns) (void)enc.dns_rules_match(pr.l7, f);
      }
    std::vector<std::string> seen;
    for (const auto& u : enc.untranslatable()) {
      if (std::find(seen.begin(), seen.end(), u) != seen.end()) continue;
      seen.push_back(u);
      Finding fd;
      fd.check = "l7-untranslatable";
      fd.severity = ir::Severity::Note;
      fd.message = "regex " + u + "; L7 checks that need it are skipped";
      findings.push_back(std::move(fd));
    }
  }
  return findings;
}

void report(const std::vector<Finding>& findings, ir::Diagnostics& diags) {
  for (const auto& f : findings) {
    auto& d = diags.report(f.check, f.severity, f.loc, f.message);
    if (f.witness) d.notes.push_back({f.loc, "witness: " + f.witness->text});
    for (const auto& rel : f.related) d.notes.push_back(rel);
  }
}

}  // namespace cnpc::verifier
