// Canonical text form of the IR: one line per rule, stable across runs, so
// a golden file is just print(policies).
#include <sstream>

#include "cnpc/ir/evaluator.h"

namespace cnpc::ir {

namespace {
std::string port_text(const PortMatch& p) {
  std::ostringstream out;
  out << to_string(p.proto) << '/';
  if (!p.name.empty())
    out << p.name;
  else if (p.first == 0 && p.last == 65535)
    out << '*';
  else if (p.last != p.first)
    out << p.first << '-' << p.last;
  else
    out << p.first;
  return out.str();
}

std::string peer_text(const Peer& p) {
  switch (p.kind) {
    case Peer::Kind::Endpoints: return "endpoints" + p.selector.to_string();
    case Peer::Kind::Entity: return "entity:" + p.entity;
    case Peer::Kind::Nodes: return "nodes" + p.selector.to_string();
    case Peer::Kind::Cidr: {
      std::string out = "cidr:" + p.cidr.to_string();
      for (const auto& e : p.except) out += " except " + e.to_string();
      return out;
    }
    case Peer::Kind::Fqdn:
      return p.fqdn_name.empty() ? "fqdn-pattern:" + p.fqdn_pattern : "fqdn:" + p.fqdn_name;
    case Peer::Kind::Unresolved: return "unresolved:" + p.description;
  }
  return "?";
}

std::string l7_text(const L7Rules& l7) {
  std::ostringstream out;
  out << to_string(l7.kind) << '[';
  bool first = true;
  auto sep = [&] {
    if (!first) out << "; ";
    first = false;
  };
  for (const auto& h : l7.http) {
    sep();
    out << "method=" << h.method << " path=" << h.path;
    if (!h.host.empty()) out << " host=" << h.host;
    for (const auto& hd : h.headers) {
      out << " header=" << hd.name;
      if (hd.value) out << ':' << *hd.value;
    }
  }
  for (const auto& d : l7.dns) {
    sep();
    out << (d.match_name.empty() ? "pattern=" + d.match_pattern : "name=" + d.match_name);
  }
  for (const auto& k : l7.kafka) {
    sep();
    out << "role=" << k.role << " apiKey=" << k.api_key << " topic=" << k.topic;
  }
  if (l7.kind == L7Kind::Generic) out << l7.generic_proto;
  out << ']';
  return out.str();
}
}  // namespace

std::string print(const Rule& r) {
  std::ostringstream out;
  out << r.origin.policy_ref() << ' ' << r.origin.path << ": " << to_string(r.direction) << ' '
      << to_string(r.action) << ' ' << (r.subject.node ? "nodes" : "endpoints")
      << r.subject.selector.to_string();
  if (r.matches_nothing) {
    out << " nothing";
    return out.str();
  }
  out << (r.direction == Direction::Ingress ? " from " : " to ");
  if (!r.peers) {
    out << "*";
  } else {
    out << '[';
    for (size_t i = 0; i < r.peers->size(); ++i) out << (i ? ", " : "") << peer_text((*r.peers)[i]);
    out << ']';
  }
  for (const auto& req : r.requires_) out << " requires" << req.to_string();
  if (!r.port_rules.empty()) {
    out << " ports[";
    for (size_t i = 0; i < r.port_rules.size(); ++i) {
      const auto& pr = r.port_rules[i];
      out << (i ? "; " : "");
      for (size_t j = 0; j < pr.ports.size(); ++j) out << (j ? "," : "") << port_text(pr.ports[j]);
      if (pr.l7.kind != L7Kind::None) out << ' ' << l7_text(pr.l7);
    }
    out << ']';
  }
  if (!r.icmps.empty()) {
    out << " icmp[";
    for (size_t i = 0; i < r.icmps.size(); ++i)
      out << (i ? "," : "") << (r.icmps[i].v6 ? "v6:" : "v4:") << int(r.icmps[i].type);
    out << ']';
  }
  if (!r.auth_mode.empty()) out << " auth=" << r.auth_mode;
  return out.str();
}

std::string print(const PolicySet& policies) {
  std::ostringstream out;
  for (const auto& spec : policies.specs) {
    out << "spec " << spec.origin.policy_ref() << ' ' << spec.origin.path << ": "
        << (spec.subject.node ? "nodes" : "endpoints") << spec.subject.selector.to_string();
    if (spec.sections.has_ingress)
      out << " ingress" << (spec.sections.default_deny_ingress ? "(default-deny)" : "(default-allow)");
    if (spec.sections.has_egress)
      out << " egress" << (spec.sections.default_deny_egress ? "(default-deny)" : "(default-allow)");
    out << '\n';
  }
  for (const auto& r : policies.rules) out << print(r) << '\n';
  return out.str();
}

}  // namespace cnpc::ir
