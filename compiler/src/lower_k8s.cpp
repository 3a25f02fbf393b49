// networking.k8s.io/v1 NetworkPolicy -> IR, translated the way Cilium
// translates it (pkg/k8s/network_policy.go): each from/to peer becomes its
// own entry with the ports copied onto it.
#include <algorithm>

#include "lower.h"
#include "sanitize.h"
#include "yaml_util.h"

namespace cnpc::frontend {

namespace {

using ir::Requirement;
using ir::Selector;
using ir::SelectorOp;

std::vector<YAML::Node> seq(const YAML::Node& n) {
  std::vector<YAML::Node> out;
  if (n.IsSequence())
    for (const auto& e : n) out.push_back(e);
  return out;
}

void merge(Selector& into, const Selector& from) {
  into.requirements.insert(into.requirements.end(), from.requirements.begin(),
                           from.requirements.end());
  std::sort(into.requirements.begin(), into.requirements.end());
}

class K8sLowering {
 public:
  K8sLowering(const ObjectContext& ctx, ir::PolicySet& out) : ctx_(ctx), out_(out) {}

  void lower(const YAML::Node& object) {
    YAML::Node spec = member(object, "spec");
    ir::Spec s;
    s.origin = origin(spec, "spec");
    s.subject.selector = lower_selector(member(spec, "podSelector"), "k8s");
    s.subject.selector.requirements.push_back(namespace_is());
    std::sort(s.subject.selector.requirements.begin(), s.subject.selector.requirements.end());
    subject_ = s.subject;

    // policyTypes defaults to Ingress, plus Egress when egress rules exist.
    bool ingress = false, egress = false;
    YAML::Node types = member(spec, "policyTypes");
    if (types.IsSequence() && types.size() > 0) {
      for (const auto& t : types) {
        if (!t.IsScalar()) continue;
        ingress |= t.Scalar() == "Ingress";
        egress |= t.Scalar() == "Egress";
      }
    } else {
      ingress = true;
      egress = member(spec, "egress").IsSequence() && member(spec, "egress").size() > 0;
    }
    // A selected type always yields a section: with no rules it is
    // `ingress: [{}]`, default deny that allows nothing.
    s.sections.has_ingress = ingress;
    s.sections.has_egress = egress;
    out_.specs.push_back(s);
    if (ingress) lower_section(spec, "ingress", "from", ir::Direction::Ingress);
    if (egress) lower_section(spec, "egress", "to", ir::Direction::Egress);
  }

 private:
  ir::Origin origin(const YAML::Node& node, const std::string& path) const {
    return {loc_of(node, ctx_.file), "NetworkPolicy", ctx_.namespace_, ctx_.name, path};
  }

  Requirement namespace_is() const {
    return {"k8s", kNamespaceLabel, SelectorOp::In, {ctx_.namespace_}};
  }

  void lower_section(const YAML::Node& spec, const char* key, const char* peers_key,
                     ir::Direction dir) {
    auto rules = seq(member(spec, key));
    for (size_t i = 0; i < rules.size(); ++i) {
      std::string path = std::string("spec.") + key + "[" + std::to_string(i) + "]";
      const YAML::Node& rule = rules[i];
      std::vector<ir::PortRule> ports = lower_ports(member(rule, "ports"));
      auto peers = seq(member(rule, peers_key));
      if (peers.empty()) {
        // No from/to: every identity, world included (no namespace added).
        ir::Peer all;
        all.kind = ir::Peer::Kind::Endpoints;
        all.loc = loc_of(rule, ctx_.file);
        emit(dir, {all}, ports, rule, path);
        continue;
      }
      for (size_t j = 0; j < peers.size(); ++j) {
        auto peer = lower_peer(peers[j]);
        if (!peer) continue;  // a peer with no selector is ignored, as Cilium does
        emit(dir, {*peer}, ports, peers[j],
             path + "." + peers_key + "[" + std::to_string(j) + "]");
      }
    }
  }

  void emit(ir::Direction dir, std::vector<ir::Peer> peers, const std::vector<ir::PortRule>& ports,
            const YAML::Node& node, const std::string& path) {
    ir::Rule r;
    r.direction = dir;
    r.action = ir::Action::Allow;
    r.subject = subject_;
    r.peers = std::move(peers);
    r.port_rules = ports;
    r.origin = origin(node, path);
    out_.rules.push_back(std::move(r));
  }

  std::optional<ir::Peer> lower_peer(const YAML::Node& n) {
    ir::Peer p;
    p.loc = loc_of(n, ctx_.file);
    YAML::Node block = member(n, "ipBlock");
    if (present(block)) {
      auto c = ir::Cidr::parse(scalar_of(member(block, "cidr")).value_or(""));
      if (!c) return std::nullopt;  // reported by sanitize
      p.kind = ir::Peer::Kind::Cidr;
      p.cidr = *c;
      for (const auto& e : seq(member(block, "except")))
        if (auto ex = ir::Cidr::parse(e.IsScalar() ? e.Scalar() : "")) p.except.push_back(*ex);
      return p;
    }
    YAML::Node pods = member(n, "podSelector");
    YAML::Node nss = member(n, "namespaceSelector");
    if (!present(pods) && !present(nss)) return std::nullopt;
    p.kind = ir::Peer::Kind::Endpoints;
    if (present(pods)) p.selector = lower_selector(pods, "k8s");
    if (present(nss)) {
      Selector ns = lower_selector(nss, "k8s", kNamespaceLabelsPrefix);
      // namespaceSelector: {} means every namespace (pods only).
      if (ns.requirements.empty())
        ns.requirements.push_back({"k8s", kNamespaceLabel, SelectorOp::Exists, {}});
      merge(p.selector, ns);
    } else {
      p.selector.requirements.push_back(namespace_is());
      std::sort(p.selector.requirements.begin(), p.selector.requirements.end());
    }
    return p;
  }

  std::vector<ir::PortRule> lower_ports(const YAML::Node& ports) {
    std::vector<ir::PortRule> out;
    for (const auto& p : seq(ports)) {
      ir::PortMatch m;
      m.loc = loc_of(p, ctx_.file);
      // NetworkPolicy's protocol defaults to TCP (not ANY as in Cilium).
      m.proto = ir::parse_proto(scalar_of(member(p, "protocol")).value_or("TCP"))
                    .value_or(ir::Proto::TCP);
      auto port = scalar_of(member(p, "port"));
      if (!port) {
        m.first = 0;
        m.last = 65535;  // no port: every port of the protocol
      } else if (auto num = parse_port_number(*port)) {
        m.first = m.last = *num;
        if (*num == 0) m.last = 65535;
        if (auto end = scalar_of(member(p, "endPort")))
          if (auto e = parse_port_number(*end); e && *e > *num) m.last = *e;
      } else {
        m.name = *port;
        for (auto& c : m.name) c = char(std::tolower(static_cast<unsigned char>(c)));
      }
      ir::PortRule pr;
      pr.loc = m.loc;
      pr.ports.push_back(std::move(m));
      out.push_back(std::move(pr));
    }
    return out;
  }

  const ObjectContext& ctx_;
  ir::PolicySet& out_;
  ir::Subject subject_;
};

}  // namespace

void lower_k8s_object(const YAML::Node& object, const ObjectContext& ctx, ir::PolicySet& out,
                      ir::Diagnostics&) {
  K8sLowering(ctx, out).lower(object);
}

}  // namespace cnpc::frontend
