#include "encoder.h"

#include <algorithm>
#include <iterator>

#include "regex_to_z3.h"

namespace cnpc::verifier {

using ir::Direction;
using ir::Proto;
using ir::RuleId;

namespace {

int dir_index(Direction d) { return d == Direction::Ingress ? 0 : 1; }

z3::expr any_of(z3::context& ctx, const std::vector<z3::expr>& terms) {
  if (terms.empty()) return ctx.bool_val(false);
  if (terms.size() == 1) return terms[0];
  z3::expr_vector v(ctx);
  for (const auto& t : terms) v.push_back(t);
  return z3::mk_or(v);
}

z3::expr all_of(z3::context& ctx, const std::vector<z3::expr>& terms) {
  if (terms.empty()) return ctx.bool_val(true);
  if (terms.size() == 1) return terms[0];
  z3::expr_vector v(ctx);
  for (const auto& t : terms) v.push_back(t);
  return z3::mk_and(v);
}

// A string literal taken byte for byte (string_val would read \u{..} escapes).
z3::expr lit(z3::context& ctx, const std::string& s) {
  return z3::expr(ctx, Z3_mk_lstring(ctx, unsigned(s.size()), s.data()));
}

uint32_t ip4_value(const ir::IpAddr& ip) {
  return (uint32_t(ip.bytes[0]) << 24) | (uint32_t(ip.bytes[1]) << 16) |
         (uint32_t(ip.bytes[2]) << 8) | uint32_t(ip.bytes[3]);
}

z3::expr ip6_val(z3::context& ctx, const ir::IpAddr& ip) {
  // bv128 from two 64-bit halves.
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; ++i) hi = (hi << 8) | ip.bytes[size_t(i)];
  for (int i = 8; i < 16; ++i) lo = (lo << 8) | ip.bytes[size_t(i)];
  return z3::concat(ctx.bv_val(hi, 64), ctx.bv_val(lo, 64));
}

ir::IpAddr ip6_from(const z3::expr& v) {
  // Z3 prints large bit-vector numerals in decimal; convert through a
  // decimal string to 16 bytes.
  std::string dec = v.get_decimal_string(0);
  ir::IpAddr ip;
  ip.v6 = true;
  // Repeated division by 256 of the decimal string.
  for (int i = 15; i >= 0; --i) {
    std::string q;
    unsigned rem = 0;
    for (char c : dec) {
      rem = rem * 10 + unsigned(c - '0');
      unsigned digit = rem / 256;
      rem %= 256;
      if (!q.empty() || digit) q += char('0' + digit);
    }
    ip.bytes[size_t(i)] = uint8_t(rem);
    dec = q.empty() ? "0" : q;
  }
  return ip;
}

}  // namespace

ClassModel::ClassModel(const ir::Evaluator& ev) : ev(ev) {
  class_count = uint32_t(ev.class_count());
  while ((1u << class_bits) < class_count + 1) ++class_bits;
  world_class = ev.class_of(ev.world());
  const auto& rules = ev.policies().rules;
  subjects.resize(rules.size());
  for (uint32_t c = 0; c < class_count; ++c) {
    for (Direction d : {Direction::Ingress, Direction::Egress}) {
      auto e = ev.enforcement(c, d);
      int i = dir_index(d);
      if (e.applies) enforcement.applies[i].push_back(c);
      if (e.enforced) enforcement.enforced[i].push_back(c);
      if (e.default_deny) enforcement.default_deny[i].push_back(c);
      for (RuleId r : ev.rules_of(c, d)) subjects[r].push_back(c);
    }
    auto kind = ev.endpoints()[ev.representative(c)].kind;
    if (kind == ir::Endpoint::Kind::Pod) pod_classes.push_back(c);
    if (kind == ir::Endpoint::Kind::Host) host_classes.push_back(c);
  }
  // Requirements make a peer's classes depend on the subject's; without
  // any, one subject stands for all.
  const bool any_requires = std::any_of(rules.begin(), rules.end(),
                                        [](const ir::Rule& r) { return !r.requires_.empty(); });
  peer_groups.resize(rules.size());
  for (RuleId r = 0; r < rules.size(); ++r) {
    const auto& rule = rules[r];
    if (!rule.peers) continue;
    peer_groups[r].resize(rule.peers->size());
    for (size_t i = 0; i < rule.peers->size(); ++i) {
      auto kind = (*rule.peers)[i].kind;
      if (kind != ir::Peer::Kind::Endpoints && kind != ir::Peer::Kind::Entity &&
          kind != ir::Peer::Kind::Nodes)
        continue;
      if (subjects[r].empty()) continue;
      auto peers_for = [&](uint32_t s) {
        ClassSet set;
        for (uint32_t pc = 0; pc < class_count; ++pc)
          if (ev.peer_class_matches(r, i, s, pc)) set.push_back(pc);
        return set;
      };
      if (!any_requires) {
        peer_groups[r][i].push_back({subjects[r], peers_for(subjects[r].front())});
        continue;
      }
      std::map<ClassSet, ClassSet> by_peers;
      for (uint32_t s : subjects[r]) by_peers[peers_for(s)].push_back(s);
      for (auto& [peers, subj] : by_peers) peer_groups[r][i].push_back({subj, peers});
    }
  }
  for (const auto& r : rules) {
    if (r.direction != Direction::Ingress) continue;
    for (const auto& pr : r.port_rules)
      for (const auto& pm : pr.ports)
        for (Proto proto : {Proto::TCP, Proto::UDP, Proto::SCTP}) {
          if (pm.name.empty() || ingress_named_ports.count({pm.name, proto})) continue;
          std::map<uint16_t, ClassSet> by_port;
          for (uint32_t c = 0; c < class_count; ++c)
            if (auto port = ev.named_port(Direction::Ingress, ev.representative(c), pm.name, proto))
              by_port[*port].push_back(c);
          auto& groups = ingress_named_ports[{pm.name, proto}];
          for (auto& [port, set] : by_port) groups.emplace_back(port, std::move(set));
        }
  }
  for (const auto& r : rules)
    for (const auto& pr : r.port_rules)
      for (const auto& h : pr.l7.http)
        for (const auto& hd : h.headers) {
          std::string name = hd.name;
          for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
          if (std::find(header_names.begin(), header_names.end(), name) == header_names.end())
            header_names.push_back(name);
        }
}

Encoder::Encoder(z3::context& ctx, const ir::Evaluator& ev)
    : Encoder(ctx, std::make_shared<const ClassModel>(ev)) {}

Encoder::Encoder(z3::context& ctx, std::shared_ptr<const ClassModel> model)
    : ctx_(ctx), model_(std::move(model)), ev_(model_->ev), enforcement_(&model_->enforcement) {}

void Encoder::restrict_to(const ClassSet* domain) {
  domain_ = domain;
  if (!domain) return;
  // The rules that select a class of the domain, once: every side formula
  // asks about every rule.
  if (domain_stamp_.size() != model_->subjects.size()) domain_stamp_.assign(model_->subjects.size(), 0);
  ++domain_gen_;
  for (uint32_t c : *domain)
    for (Direction d : {Direction::Ingress, Direction::Egress})
      for (RuleId r : ev_.rules_of(c, d)) domain_stamp_[r] = domain_gen_;
}

bool Encoder::in_domain(RuleId r) const { return !domain_ || domain_stamp_[r] == domain_gen_; }

z3::solver& Encoder::l34_solver(unsigned timeout_ms) {
  if (!l34_solver_ || l34_timeout_ != timeout_ms) {
    l34_solver_.emplace(ctx_);
    z3::params p(ctx_);
    p.set("timeout", timeout_ms);
    l34_solver_->set(p);
    l34_timeout_ = timeout_ms;
  }
  return *l34_solver_;
}

// The enforcement another evaluator (same inventory, other policies)
// assigns to this encoder's classes, through their representatives.
Enforcement Encoder::enforcement_of(const ir::Evaluator& other) const {
  Enforcement out;
  for (uint32_t c = 0; c < model_->class_count; ++c)
    for (Direction d : {Direction::Ingress, Direction::Egress}) {
      auto e = other.enforcement(other.class_of(ev_.representative(c)), d);
      int i = dir_index(d);
      if (e.applies) out.applies[i].push_back(c);
      if (e.enforced) out.enforced[i].push_back(c);
      if (e.default_deny) out.default_deny[i].push_back(c);
    }
  return out;
}

FlowVars Encoder::flow(const std::string& p) {
  auto bv = [&](const char* name, unsigned w) { return ctx_.bv_const((p + name).c_str(), w); };
  auto str = [&](const char* name) { return ctx_.string_const((p + name).c_str()); };
  FlowVars f{bv("src", model_->class_bits), bv("dst", model_->class_bits), ctx_.bool_const((p + "v6").c_str()),
             bv("src_ip4", 32),      bv("dst_ip4", 32),      bv("src_ip6", 128),
             bv("dst_ip6", 128),     bv("proto", 8),         bv("port", 16),
             bv("icmp", 8),          str("method"),          str("path"),
             str("host"),            {},                     {},
             str("dns")};
  for (const auto& h : model_->header_names) {
    f.header_present.emplace_back(h, ctx_.bool_const((p + "hp_" + h).c_str()));
    f.header_value.emplace_back(h, ctx_.string_const((p + "hv_" + h).c_str()));
  }
  return f;
}

z3::expr Encoder::well_formed_core(const FlowVars& f) {
  std::vector<z3::expr> c = {z3::ult(f.src, cls(model_->class_count)), z3::ult(f.dst, cls(model_->class_count))};
  std::vector<z3::expr> protos;
  for (int p : {1, 6, 17, 58, 132}) protos.push_back(f.proto == ctx_.bv_val(p, 8));
  c.push_back(any_of(ctx_, protos));
  // ICMP matches its family.
  c.push_back(z3::implies(f.proto == ctx_.bv_val(1, 8), !f.v6));
  c.push_back(z3::implies(f.proto == ctx_.bv_val(58, 8), f.v6));
  return all_of(ctx_, c);
}

z3::expr Encoder::string_domain(const FlowVars& f) {
  std::vector<z3::expr> c;
  // The requests we reason about: an HTTP method is an upper-case token, a
  // path starts with '/', a DNS name is lower-case letters, digits, '-', '_'
  // and dots. Witnesses then read like real requests.
  c.push_back(regex_match("[A-Z]+", f.method));
  c.push_back(printable_ascii_string(ctx_, f.path) && z3::prefixof(ctx_.string_val("/"), f.path));
  c.push_back(printable_ascii_string(ctx_, f.host));
  c.push_back(regex_match("[-a-z0-9_.]*", f.dns_name) && !z3::suffixof(ctx_.string_val("."), f.dns_name));
  for (const auto& [name, v] : f.header_value) c.push_back(printable_ascii_string(ctx_, v));
  return all_of(ctx_, c);
}

z3::expr Encoder::well_formed(const FlowVars& f) { return well_formed_core(f) && string_domain(f); }

z3::expr Encoder::readable(const FlowVars& f) {
  std::vector<z3::expr> methods;
  for (const char* m : {"GET", "POST", "PUT", "DELETE", "PATCH"})
    methods.push_back(f.method == ctx_.string_val(m));
  return any_of(ctx_, methods) && regex_match("/[a-z0-9/._-]*", f.path) &&
         regex_match("[a-z0-9.-]*", f.host) && regex_match("[a-z0-9.-]*", f.dns_name);
}

z3::expr Encoder::fix(const FlowVars& f, const ir::Flow& flow) {
  z3::expr_vector vars(ctx_), values(ctx_);
  assignment(f, flow, vars, values);
  std::vector<z3::expr> c;
  for (unsigned i = 0; i < vars.size(); ++i) c.push_back(vars[i] == values[i]);
  return all_of(ctx_, c);
}

void Encoder::assignment(const FlowVars& f, const ir::Flow& flow, z3::expr_vector& vars,
                         z3::expr_vector& values) {
  auto set = [&](const z3::expr& var, const z3::expr& value) {
    vars.push_back(var);
    values.push_back(value);
  };
  set(f.src, cls(ev_.class_of(flow.src)));
  set(f.dst, cls(ev_.class_of(flow.dst)));
  set(f.proto, ctx_.bv_val(unsigned(flow.proto == Proto::Any ? flow.ip_proto : uint8_t(flow.proto)), 8));
  set(f.port, ctx_.bv_val(unsigned(flow.port), 16));
  set(f.icmp, ctx_.bv_val(unsigned(flow.icmp_type), 8));
  // The address family: from a world address, else from the endpoints'.
  auto address = [&](ir::EndpointId id, const std::optional<ir::IpAddr>& given) -> std::optional<ir::IpAddr> {
    const auto& e = ev_.endpoints()[id];
    if (e.kind == ir::Endpoint::Kind::World) return given;
    if (!e.ips.empty()) return e.ips.front();
    return std::nullopt;
  };
  auto src_ip = address(flow.src, flow.src_ip), dst_ip = address(flow.dst, flow.dst_ip);
  // Addresses only matter for world endpoints (CIDR and FQDN peers), so the
  // family is the world address's; pods' own addresses come second.
  const bool src_world = ev_.endpoints()[flow.src].kind == ir::Endpoint::Kind::World;
  const bool dst_world = ev_.endpoints()[flow.dst].kind == ir::Endpoint::Kind::World;
  bool v6 = flow.proto == Proto::ICMPv6;
  if (src_world && src_ip) v6 = src_ip->v6;
  else if (dst_world && dst_ip) v6 = dst_ip->v6;
  else if (src_ip) v6 = src_ip->v6;
  else if (dst_ip) v6 = dst_ip->v6;
  set(f.v6, ctx_.bool_val(v6));
  // Unused address variables get a fixed value too, so a fixed flow is ground.
  auto pin = [&](const std::optional<ir::IpAddr>& ip, const z3::expr& ip4, const z3::expr& ip6) {
    set(ip4, ctx_.bv_val(ip && !ip->v6 ? ip4_value(*ip) : 0u, 32));
    set(ip6, ip && ip->v6 ? ip6_val(ctx_, *ip) : ctx_.bv_val(0, 128));
  };
  pin(src_ip, f.src_ip4, f.src_ip6);
  pin(dst_ip, f.dst_ip4, f.dst_ip6);
  ir::L7Request none;
  const ir::L7Request& req = flow.l7 ? *flow.l7 : none;
  set(f.method, lit(ctx_, flow.l7 ? req.http.method : "GET"));
  set(f.path, lit(ctx_, flow.l7 ? req.http.path : "/"));
  set(f.host, lit(ctx_, req.http.host));
  for (size_t i = 0; i < model_->header_names.size(); ++i) {
    const auto& name = model_->header_names[i];
    auto it = std::find_if(req.http.headers.begin(), req.http.headers.end(), [&](const auto& h) {
      std::string n = h.first;
      for (auto& ch : n) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      return n == name;
    });
    set(f.header_present[i].second, ctx_.bool_val(it != req.http.headers.end()));
    set(f.header_value[i].second, lit(ctx_, it != req.http.headers.end() ? it->second : ""));
  }
  std::string dns = req.dns_name;
  for (auto& ch : dns) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (!dns.empty() && dns.back() == '.') dns.pop_back();
  set(f.dns_name, lit(ctx_, dns));
}

ir::Flow Encoder::extract(const z3::model& m, const FlowVars& f, ir::L7Kind request) {
  auto num = [&](const z3::expr& e) { return m.eval(e, true).get_numeral_uint64(); };
  ir::Flow flow;
  uint32_t src_cls = uint32_t(num(f.src)), dst_cls = uint32_t(num(f.dst));
  flow.src = ev_.representative(src_cls);
  flow.dst = ev_.representative(dst_cls);
  uint8_t proto = uint8_t(num(f.proto));
  flow.proto = Proto(proto);
  flow.ip_proto = proto;
  bool v6 = m.eval(f.v6, true).is_true();
  if (flow.proto == Proto::ICMP || flow.proto == Proto::ICMPv6)
    flow.icmp_type = uint8_t(num(f.icmp));
  else
    flow.port = uint16_t(num(f.port));
  auto ip = [&](const z3::expr& ip4, const z3::expr& ip6) {
    if (v6) return ip6_from(m.eval(ip6, true));
    ir::IpAddr a;
    uint32_t v = uint32_t(num(ip4));
    a.bytes[0] = uint8_t(v >> 24);
    a.bytes[1] = uint8_t(v >> 16);
    a.bytes[2] = uint8_t(v >> 8);
    a.bytes[3] = uint8_t(v);
    return a;
  };
  if (src_cls == model_->world_class) flow.src_ip = ip(f.src_ip4, f.src_ip6);
  if (dst_cls == model_->world_class) flow.dst_ip = ip(f.dst_ip4, f.dst_ip6);
  if (request != ir::L7Kind::None) {
    ir::L7Request req;
    req.kind = request;
    auto str = [&](const z3::expr& e) { return m.eval(e, true).get_string(); };
    if (request == ir::L7Kind::Http) {
      req.http.method = str(f.method);
      req.http.path = str(f.path);
      req.http.host = str(f.host);
      for (size_t i = 0; i < model_->header_names.size(); ++i)
        if (m.eval(f.header_present[i].second, true).is_true())
          req.http.headers.emplace_back(model_->header_names[i], str(f.header_value[i].second));
    } else if (request == ir::L7Kind::Dns) {
      req.dns_name = str(f.dns_name);
    }
    flow.l7 = req;
  }
  return flow;
}

z3::expr Encoder::in_set(const z3::expr& c, const ClassSet& set) {
  if (set.empty()) return ctx_.bool_val(false);
  if (set.size() == model_->class_count) return z3::ult(c, cls(model_->class_count));
  // Runs of consecutive ids become ranges.
  std::vector<z3::expr> terms;
  for (size_t i = 0; i < set.size();) {
    size_t j = i;
    while (j + 1 < set.size() && set[j + 1] == set[j] + 1) ++j;
    if (i == j)
      terms.push_back(c == cls(set[i]));
    else
      terms.push_back(z3::uge(c, cls(set[i])) && z3::ule(c, cls(set[j])));
    i = j + 1;
  }
  return any_of(ctx_, terms);
}

z3::expr Encoder::cidr_match(const ir::Cidr& c, const z3::expr& ip4, const z3::expr& ip6,
                             const z3::expr& v6) {
  if (c.prefix == 0) return c.addr.v6 ? v6 : !v6;
  if (!c.addr.v6) {
    unsigned hi = 31, lo = unsigned(32 - c.prefix);
    uint32_t bits = ip4_value(c.addr) >> lo;
    return !v6 && ip4.extract(hi, lo) == ctx_.bv_val(bits, unsigned(c.prefix));
  }
  unsigned lo = unsigned(128 - c.prefix);
  z3::expr want = ip6_val(ctx_, c.addr).extract(127, lo);
  return v6 && ip6.extract(127, lo) == want;
}

z3::expr Encoder::peer_match(RuleId r, const FlowVars& f) {
  const ir::Rule& rule = ev_.policies().rules[r];
  if (rule.matches_nothing) return ctx_.bool_val(false);
  if (!rule.peers) return ctx_.bool_val(true);
  const Side side{rule.direction == Direction::Egress};
  const z3::expr& S = side.subject(f);
  const z3::expr& P = side.peer(f);
  std::vector<z3::expr> terms;
  const auto& peers = *rule.peers;
  for (size_t i = 0; i < peers.size(); ++i) {
    const ir::Peer& p = peers[i];
    switch (p.kind) {
      case ir::Peer::Kind::Endpoints:
      case ir::Peer::Kind::Entity:
      case ir::Peer::Kind::Nodes: {
        const auto& groups = model_->peer_groups[r][i];
        if (groups.size() == 1) {
          terms.push_back(in_set(P, groups.front().second));
        } else {
          for (const auto& [subj, peer_set] : groups)
            terms.push_back(in_set(S, subj) && in_set(P, peer_set));
        }
        break;
      }
      case ir::Peer::Kind::Cidr: {
        z3::expr m = P == cls(model_->world_class) &&
                     cidr_match(p.cidr, side.peer_ip4(f), side.peer_ip6(f), f.v6);
        for (const auto& ex : p.except) m = m && !cidr_match(ex, side.peer_ip4(f), side.peer_ip6(f), f.v6);
        terms.push_back(m);
        break;
      }
      case ir::Peer::Kind::Fqdn: {
        // Addresses the DNS proxy learned for matching names (node-wide).
        std::vector<z3::expr> ips;
        for (const auto& entry : ev_.dns_cache()) {
          bool ok = !p.fqdn_name.empty() ? entry.name == p.fqdn_name
                                         : ir::dns_pattern_matches(p.fqdn_pattern, entry.name);
          if (!ok) continue;
          for (const auto& ip : entry.ips)
            ips.push_back(ip.v6 ? (f.v6 && side.peer_ip6(f) == ip6_val(ctx_, ip))
                                : (!f.v6 && side.peer_ip4(f) == ctx_.bv_val(ip4_value(ip), 32)));
        }
        terms.push_back(P == cls(model_->world_class) && any_of(ctx_, ips));
        break;
      }
      case ir::Peer::Kind::Unresolved: break;
    }
  }
  return any_of(ctx_, terms);
}

z3::expr Encoder::port_match(const ir::PortMatch& pm, const FlowVars& f, Direction d) {
  z3::expr proto_ok = pm.proto == Proto::Any ? ctx_.bool_val(true)
                                             : f.proto == ctx_.bv_val(unsigned(pm.proto), 8);
  if (pm.name.empty())
    return proto_ok && z3::uge(f.port, ctx_.bv_val(unsigned(pm.first), 16)) &&
           z3::ule(f.port, ctx_.bv_val(unsigned(pm.last), 16));
  // Named port: per protocol, what the evaluator resolves it to.
  std::vector<z3::expr> terms;
  for (Proto proto : {Proto::TCP, Proto::UDP, Proto::SCTP}) {
    if (pm.proto != Proto::Any && pm.proto != proto) continue;
    z3::expr on_proto = f.proto == ctx_.bv_val(unsigned(proto), 8);
    if (d == Direction::Egress) {  // cluster-wide: independent of the destination
      if (auto port = ev_.named_port(d, 0, pm.name, proto))
        terms.push_back(on_proto && f.port == ctx_.bv_val(unsigned(*port), 16));
      continue;
    }
    // Classes grouped by the number; with a domain, only its classes (the
    // destination is the subject, which the domain holds).
    for (const auto& [port, set] : model_->ingress_named_ports.at({pm.name, proto})) {
      ClassSet inside;
      if (domain_)
        std::set_intersection(set.begin(), set.end(), domain_->begin(), domain_->end(),
                              std::back_inserter(inside));
      const ClassSet& classes = domain_ ? inside : set;
      if (!classes.empty())
        terms.push_back(on_proto && in_set(f.dst, classes) && f.port == ctx_.bv_val(unsigned(port), 16));
    }
  }
  return any_of(ctx_, terms);
}

z3::expr Encoder::port_rule_match(const ir::PortRule& pr, const FlowVars& f, Direction d) {
  std::vector<z3::expr> terms;
  for (const auto& pm : pr.ports) terms.push_back(port_match(pm, f, d));
  return any_of(ctx_, terms);
}

std::vector<std::pair<Encoder::PortSpecKey, z3::expr>> Encoder::port_keys(const ir::PortRule& pr,
                                                                          const FlowVars& f, Direction d) {
  std::vector<std::pair<PortSpecKey, z3::expr>> out;
  z3::expr none_before = ctx_.bool_val(true);
  for (const auto& pm : pr.ports) {
    z3::expr m = port_match(pm, f, d);
    PortSpecKey key;
    if (pm.name.empty()) key = std::make_pair(pm.first, pm.last);
    out.emplace_back(key, none_before && m);
    none_before = none_before && !m;
  }
  return out;
}

z3::expr Encoder::l4_match(RuleId r, const FlowVars& f) {
  const ir::Rule& rule = ev_.policies().rules[r];
  if (rule.port_rules.empty() && rule.icmps.empty()) return ctx_.bool_val(true);
  z3::expr icmp4 = f.proto == ctx_.bv_val(1, 8), icmp6 = f.proto == ctx_.bv_val(58, 8);
  std::vector<z3::expr> terms;
  for (const auto& m : rule.icmps)
    terms.push_back((m.v6 ? icmp6 : icmp4) && f.icmp == ctx_.bv_val(unsigned(m.type), 8));
  if (!rule.port_rules.empty()) {
    z3::expr l4proto = f.proto == ctx_.bv_val(6, 8) || f.proto == ctx_.bv_val(17, 8) ||
                       f.proto == ctx_.bv_val(132, 8);
    std::vector<z3::expr> ports;
    for (const auto& pr : rule.port_rules) ports.push_back(port_rule_match(pr, f, rule.direction));
    terms.push_back(l4proto && any_of(ctx_, ports));
  }
  return any_of(ctx_, terms);
}

z3::expr Encoder::rule_match(RuleId r, const FlowVars& f) {
  const ir::Rule& rule = ev_.policies().rules[r];
  const Side side{rule.direction == Direction::Egress};
  return in_set(side.subject(f), model_->subjects[r]) && peer_match(r, f) && l4_match(r, f);
}

z3::expr Encoder::side_denied_by_rule(Direction d, const FlowVars& f, const RuleMask* mask) {
  const Side side{d == Direction::Egress};
  const int di = dir_index(d);
  std::vector<z3::expr> denies;
  const auto& rules = ev_.policies().rules;
  for (RuleId r = 0; r < rules.size(); ++r) {
    if (rules[r].direction != d || rules[r].action != ir::Action::Deny) continue;
    if (mask && !(*mask)[r]) continue;
    if (!in_domain(r)) continue;
    denies.push_back(rule_match(r, f));
  }
  return in_set(side.subject(f), enforcement_->enforced[di]) && any_of(ctx_, denies);
}

z3::expr Encoder::side_allowed(Direction d, const FlowVars& f, const RuleMask* mask) {
  const Side side{d == Direction::Egress};
  const int di = dir_index(d);
  const z3::expr& S = side.subject(f);
  std::vector<z3::expr> allows, denies;
  const auto& rules = ev_.policies().rules;
  for (RuleId r = 0; r < rules.size(); ++r) {
    if (rules[r].direction != d) continue;
    if (mask && !(*mask)[r]) continue;
    if (!in_domain(r)) continue;
    (rules[r].action == ir::Action::Allow ? allows : denies).push_back(rule_match(r, f));
  }
  z3::expr localhost = ctx_.bool_val(false);
  if (d == Direction::Ingress && ev_.options().allow_localhost == ir::AllowLocalhost::Always)
    localhost = in_set(S, model_->pod_classes) && in_set(side.peer(f), model_->host_classes);
  return !in_set(S, enforcement_->enforced[di]) ||
         (!any_of(ctx_, denies) &&
          (any_of(ctx_, allows) || !in_set(S, enforcement_->default_deny[di]) || localhost));
}

z3::expr Encoder::allowed(const FlowVars& f, const RuleMask* mask) {
  return side_allowed(Direction::Egress, f, mask) && side_allowed(Direction::Ingress, f, mask);
}

z3::expr Encoder::port_rule_first(RuleId r, size_t j, const FlowVars& f) {
  const ir::Rule& rule = ev_.policies().rules[r];
  z3::expr m = port_rule_match(rule.port_rules[j], f, rule.direction);
  for (size_t k = 0; k < j; ++k) m = m && !port_rule_match(rule.port_rules[k], f, rule.direction);
  return m;
}

z3::expr Encoder::regex_match(const std::string& pattern, const z3::expr& s) {
  if (pattern.empty()) return ctx_.bool_val(true);  // an empty field is not checked
  auto it = regex_cache_.find(pattern);
  if (it == regex_cache_.end()) {
    RegexTranslation t = translate_re2_printable(ctx_, pattern);  // every string variable is printable ASCII
    if (!t.regex) {
      untranslatable_.push_back(pattern + ": " + t.error);
      it = regex_cache_.emplace(pattern, ctx_.bool_val(false)).first;  // marked, see below
      // An untranslatable regex makes the L7 answer unknown: the caller
      // checks untranslatable() before trusting any L7 result.
      return ctx_.bool_val(false);
    }
    it = regex_cache_.emplace(pattern, *t.regex).first;
  }
  if (it->second.is_bool()) return ctx_.bool_val(false);
  return z3::in_re(s, it->second);
}

z3::expr Encoder::http_rules_match(const ir::L7Rules& l7, const FlowVars& f) {
  std::vector<z3::expr> rules;
  for (const auto& h : l7.http) {
    std::vector<z3::expr> c = {regex_match(h.method, f.method), regex_match(h.path, f.path),
                               regex_match(h.host, f.host)};
    for (const auto& want : h.headers) {
      std::string name = want.name;
      for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      for (size_t i = 0; i < model_->header_names.size(); ++i) {
        if (model_->header_names[i] != name) continue;
        z3::expr m = f.header_present[i].second;
        if (want.value) m = m && f.header_value[i].second == lit(ctx_, *want.value);
        c.push_back(m);
      }
    }
    rules.push_back(all_of(ctx_, c));
  }
  return any_of(ctx_, rules);
}

// The evaluator matches patterns against the name with a trailing dot; the
// name variable has none, so the regex drops its final "[.]" rather than
// the formula concatenating one (Z3 4.8.12 is far slower on the concat).
std::string dns_regex_without_dot(const std::string& pattern) {
  std::string re = ir::dns_pattern_to_regex(pattern);
  if (re.size() >= 3 && re.compare(re.size() - 3, 3, "[.]") == 0) re.resize(re.size() - 3);
  return re;
}

z3::expr Encoder::dns_rules_match(const ir::L7Rules& l7, const FlowVars& f) {
  std::vector<z3::expr> rules;
  for (const auto& d : l7.dns) {
    if (!d.match_name.empty())
      rules.push_back(f.dns_name == lit(ctx_, d.match_name));
    else if (!d.match_pattern.empty())
      rules.push_back(d.match_pattern == "*" ? ctx_.bool_val(true)
                                             : regex_match(dns_regex_without_dot(d.match_pattern), f.dns_name));
  }
  return any_of(ctx_, rules);
}

z3::expr Encoder::l7_enforced(Direction d, const FlowVars& f, const RuleMask* mask) {
  const Side enforced_side{d == Direction::Egress};
  std::vector<z3::expr> terms;
  const auto& rules = ev_.policies().rules;
  for (RuleId r = 0; r < rules.size(); ++r) {
    const auto& rule = rules[r];
    if (rule.direction != d || rule.action != ir::Action::Allow) continue;
    if (mask && !(*mask)[r]) continue;
    if (!in_domain(r)) continue;
    const Side side{d == Direction::Egress};
    z3::expr base = in_set(side.subject(f), model_->subjects[r]) && peer_match(r, f);
    for (size_t j = 0; j < rule.port_rules.size(); ++j)
      if (rule.port_rules[j].l7.kind != ir::L7Kind::None)
        terms.push_back(base && port_rule_first(r, j, f) &&
                        (f.proto == ctx_.bv_val(6, 8) || f.proto == ctx_.bv_val(17, 8) ||
                         f.proto == ctx_.bv_val(132, 8)));
  }
  return in_set(enforced_side.subject(f), enforcement_->enforced[dir_index(d)]) && any_of(ctx_, terms);
}

z3::expr Encoder::other_allow_entries(Direction d, RuleId r0, size_t j0, const FlowVars& f) {
  const Side side{d == Direction::Egress};
  const auto& rules = ev_.policies().rules;
  z3::expr l4proto = f.proto == ctx_.bv_val(6, 8) || f.proto == ctx_.bv_val(17, 8) ||
                     f.proto == ctx_.bv_val(132, 8);
  std::vector<z3::expr> terms;
  for (RuleId r = 0; r < rules.size(); ++r) {
    const auto& rule = rules[r];
    if (rule.direction != d || rule.action != ir::Action::Allow) continue;
    if (!in_domain(r)) continue;
    z3::expr base = in_set(side.subject(f), model_->subjects[r]) && peer_match(r, f) && l4proto;
    if (rule.port_rules.empty() && rule.icmps.empty()) {
      terms.push_back(base);
      continue;
    }
    for (size_t j = 0; j < rule.port_rules.size(); ++j)
      if (r != r0 || j != j0) terms.push_back(base && port_rule_first(r, j, f));
  }
  return any_of(ctx_, terms);
}

z3::expr Encoder::l7_allowed(Direction d, const FlowVars& f, ir::L7Kind kind,
                             const RuleMask* mask) {
  const Side side{d == Direction::Egress};
  const auto& rules = ev_.policies().rules;
  z3::expr l4proto = f.proto == ctx_.bv_val(6, 8) || f.proto == ctx_.bv_val(17, 8) ||
                     f.proto == ctx_.bv_val(132, 8);
  // Matched allow entries: (first-match formula, port key, L7); an L3-only
  // entry has no port rule and no L7.
  struct Match {
    z3::expr m;
    const ir::L7Rules* l7;
    bool has_port;
    std::vector<std::pair<PortSpecKey, z3::expr>> keys;  // DNS only: the port spec that matched
  };
  static const ir::L7Rules kNone;
  std::vector<Match> matches;
  for (RuleId r = 0; r < rules.size(); ++r) {
    const auto& rule = rules[r];
    if (rule.direction != d || rule.action != ir::Action::Allow) continue;
    if (mask && !(*mask)[r]) continue;
    if (!in_domain(r)) continue;
    z3::expr base = in_set(side.subject(f), model_->subjects[r]) && peer_match(r, f) && l4proto;
    if (rule.port_rules.empty() && rule.icmps.empty()) {
      matches.push_back({base, &kNone, false, {}});
      continue;
    }
    for (size_t j = 0; j < rule.port_rules.size(); ++j)
      matches.push_back({base && port_rule_first(r, j, f), &rule.port_rules[j].l7, true,
                         kind == ir::L7Kind::Dns ? port_keys(rule.port_rules[j], f, d)
                                                 : std::vector<std::pair<PortSpecKey, z3::expr>>{}});
  }
  std::vector<z3::expr> ok;
  if (d == Direction::Ingress && ev_.options().allow_localhost == ir::AllowLocalhost::Always)
    ok.push_back(in_set(side.subject(f), model_->pod_classes) && in_set(side.peer(f), model_->host_classes));
  // The L7 wildcard. For HTTP and Kafka any allow without L7 counts
  // (Envoy's wildcard-port rule); for DNS only one with the same port spec
  // as a matching entry with L7. Entries grouped by the spec that matched,
  // so this stays linear in the entries (pairwise, a diff of 1,000
  // policies had hundreds of thousands of terms).
  if (kind == ir::L7Kind::Dns) {
    std::map<std::pair<uint16_t, uint16_t>, std::vector<z3::expr>> plain, with_l7;
    std::vector<z3::expr> plain_named, l7_named;
    for (const auto& a : matches) {
      if (!a.has_port) continue;
      const bool l7 = a.l7->kind != ir::L7Kind::None;
      for (const auto& [key, first] : a.keys) {
        if (key)
          (l7 ? with_l7 : plain)[*key].push_back(a.m && first);
        else
          (l7 ? l7_named : plain_named).push_back(a.m && first);
      }
    }
    auto port_is = [&](uint16_t p) { return f.port == ctx_.bv_val(unsigned(p), 16); };
    for (const auto& [key, terms] : plain)
      if (auto it = with_l7.find(key); it != with_l7.end())
        ok.push_back(any_of(ctx_, terms) && any_of(ctx_, it->second));
    if (!plain_named.empty() && !l7_named.empty()) ok.push_back(any_of(ctx_, plain_named) && any_of(ctx_, l7_named));
    // A name's spec (port, port) equals a one-port spec on that port.
    if (!plain_named.empty())
      for (const auto& [key, terms] : with_l7)
        if (key.first == key.second) ok.push_back(any_of(ctx_, plain_named) && port_is(key.first) && any_of(ctx_, terms));
    if (!l7_named.empty())
      for (const auto& [key, terms] : plain)
        if (key.first == key.second) ok.push_back(any_of(ctx_, terms) && port_is(key.first) && any_of(ctx_, l7_named));
  }
  for (const auto& a : matches) {
    if (a.l7->kind == ir::L7Kind::None) {
      if (kind != ir::L7Kind::Dns) ok.push_back(a.m);
    } else if (a.l7->kind == kind) {
      z3::expr req = kind == ir::L7Kind::Http  ? http_rules_match(*a.l7, f)
                     : kind == ir::L7Kind::Dns ? dns_rules_match(*a.l7, f)
                                               : ctx_.bool_val(false);
      ok.push_back(a.m && req);
    }
  }
  return !l7_enforced(d, f, mask) || any_of(ctx_, ok);
}

z3::expr Encoder::request_allowed(const FlowVars& f, ir::L7Kind kind, const RuleMask* mask) {
  return l7_allowed(Direction::Egress, f, kind, mask) && l7_allowed(Direction::Ingress, f, kind, mask);
}

}  // namespace cnpc::verifier
