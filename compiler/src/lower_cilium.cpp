// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy -> IR rules, with
// namespace scoping made explicit (pkg/k8s/apis/cilium.io/utils/utils.go).
#include <algorithm>

#include "lower.h"
#include "sanitize.h"
#include "yaml_util.h"

namespace cnpc::frontend {

using ir::Requirement;
using ir::Selector;
using ir::SelectorOp;

ir::Selector lower_selector(const YAML::Node& node, const std::string& default_source,
                            const std::string& key_prefix) {
  Selector sel;
  auto split = [&](const std::string& raw, Requirement& req) {
    auto colon = raw.find(':');
    if (colon != std::string::npos && key_prefix.empty()) {
      req.source = raw.substr(0, colon);
      req.key = raw.substr(colon + 1);
    } else {
      req.source = default_source;
      req.key = key_prefix + raw;
    }
  };
  YAML::Node labels = member(node, "matchLabels");
  if (labels.IsMap())
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      Requirement req;
      split(it->first.Scalar(), req);
      req.op = SelectorOp::In;
      req.values = {it->second.IsScalar() ? it->second.Scalar() : ""};
      sel.requirements.push_back(std::move(req));
    }
  YAML::Node exprs = member(node, "matchExpressions");
  if (exprs.IsSequence())
    for (const auto& e : exprs) {
      Requirement req;
      split(scalar_of(member(e, "key")).value_or(""), req);
      std::string op = scalar_of(member(e, "operator")).value_or("");
      req.op = op == "NotIn"         ? SelectorOp::NotIn
               : op == "Exists"      ? SelectorOp::Exists
               : op == "DoesNotExist" ? SelectorOp::DoesNotExist
                                     : SelectorOp::In;
      YAML::Node values = member(e, "values");
      if (values.IsSequence())
        for (const auto& v : values)
          if (v.IsScalar()) req.values.push_back(v.Scalar());
      std::sort(req.values.begin(), req.values.end());
      sel.requirements.push_back(std::move(req));
    }
  std::sort(sel.requirements.begin(), sel.requirements.end());
  return sel;
}

namespace {

bool is_namespace_key(const Requirement& r) {
  return (r.source == "k8s" || r.source == "any") &&
         (r.key == kNamespaceLabel || r.key.rfind(kNamespaceLabelsPrefix, 0) == 0);
}

bool has_reserved(const Selector& s) {
  return std::any_of(s.requirements.begin(), s.requirements.end(),
                     [](const Requirement& r) { return r.source == "reserved"; });
}

void add_requirement(Selector& s, Requirement r) {
  s.requirements.push_back(std::move(r));
  std::sort(s.requirements.begin(), s.requirements.end());
}

Requirement namespace_is(const std::string& ns) {
  return {"k8s", kNamespaceLabel, SelectorOp::In, {ns}};
}

class RuleLowering {
 public:
  RuleLowering(const ObjectContext& ctx, ir::PolicySet& out, ir::Diagnostics& diags)
      : ctx_(ctx), out_(out), diags_(diags) {}

  void lower(const YAML::Node& rule, const std::string& path) {
    ir::Spec spec;
    spec.origin = origin(rule, path);
    YAML::Node es = member(rule, "endpointSelector");
    YAML::Node ns = member(rule, "nodeSelector");
    if (present(ns)) {
      spec.subject.node = true;
      spec.subject.selector = lower_selector(ns, "any");
    } else {
      spec.subject.selector = lower_selector(es, "any");
      scope_subject(spec.subject.selector, es);
    }
    subject_ = spec.subject;
    subject_init_ = std::any_of(
        subject_.selector.requirements.begin(), subject_.selector.requirements.end(),
        [](const Requirement& r) { return r.source == "reserved" && r.key == "init"; });

    auto count = [&](const char* key) {
      YAML::Node n = member(rule, key);
      return n.IsSequence() ? n.size() : 0;
    };
    spec.sections.has_ingress = count("ingress") + count("ingressDeny") > 0;
    spec.sections.has_egress = count("egress") + count("egressDeny") > 0;
    YAML::Node edd = member(rule, "enableDefaultDeny");
    if (auto v = scalar_of(member(edd, "ingress"))) spec.sections.default_deny_ingress = *v != "false";
    if (auto v = scalar_of(member(edd, "egress"))) spec.sections.default_deny_egress = *v != "false";
    out_.specs.push_back(spec);

    lower_section(rule, "ingress", ir::Direction::Ingress, ir::Action::Allow, path);
    lower_section(rule, "ingressDeny", ir::Direction::Ingress, ir::Action::Deny, path);
    lower_section(rule, "egress", ir::Direction::Egress, ir::Action::Allow, path);
    lower_section(rule, "egressDeny", ir::Direction::Egress, ir::Action::Deny, path);
  }

 private:
  ir::Origin origin(const YAML::Node& node, const std::string& path) const {
    return {loc_of(node, ctx_.file),
            ctx_.kind == "CiliumRule" ? std::string("CiliumNetworkPolicy") : ctx_.kind,
            ctx_.namespace_, ctx_.name, path};
  }

  bool namespaced() const { return ctx_.kind == "CiliumNetworkPolicy"; }
  bool clusterwide() const { return ctx_.kind == "CiliumClusterwideNetworkPolicy"; }

  // A CNP can only select pods of its own namespace.
  void scope_subject(Selector& sel, const YAML::Node& node) {
    if (!namespaced()) return;
    for (const auto& r : sel.requirements)
      if (r.key == kNamespaceLabel && is_namespace_key(r) &&
          !(r.op == SelectorOp::In && r.values == std::vector<std::string>{ctx_.namespace_}))
        diags_.report("namespace-override", loc_of(node, ctx_.file),
                      "endpointSelector names namespace '" +
                          (r.values.empty() ? std::string("?") : r.values[0]) +
                          "'; Cilium replaces it with the policy's namespace '" + ctx_.namespace_ +
                          "'");
    std::erase_if(sel.requirements, [](const Requirement& r) {
      return r.key == kNamespaceLabel && is_namespace_key(r);
    });
    add_requirement(sel, namespace_is(ctx_.namespace_));
  }

  // Peer endpoint selectors: CNP adds its namespace, CCNP requires some
  // namespace (pods only), unless the selector already speaks of namespaces
  // or reserved identities.
  void scope_peer(Selector& sel) const {
    bool has_ns = std::any_of(sel.requirements.begin(), sel.requirements.end(), is_namespace_key);
    if (has_ns || has_reserved(sel)) return;
    if (namespaced()) add_requirement(sel, namespace_is(ctx_.namespace_));
    if (clusterwide() && !subject_init_)
      add_requirement(sel, {"k8s", kNamespaceLabel, SelectorOp::Exists, {}});
  }

  void lower_section(const YAML::Node& rule, const char* key, ir::Direction dir,
                     ir::Action action, const std::string& path) {
    YAML::Node section = member(rule, key);
    if (!section.IsSequence()) return;
    for (size_t i = 0; i < section.size(); ++i)
      lower_entry(section[i], dir, action, path + "." + key + "[" + std::to_string(i) + "]");
  }

  void lower_entry(const YAML::Node& entry, ir::Direction dir, ir::Action action,
                   const std::string& path) {
    ir::Rule r;
    r.direction = dir;
    r.action = action;
    r.subject = subject_;
    r.origin = origin(entry, path);
    const bool in = dir == ir::Direction::Ingress;

    std::vector<ir::Peer> peers;
    bool any_l3 = false;
    auto field = [&](const char* name) {
      YAML::Node n = member(entry, name);
      if (present(n)) any_l3 = true;
      return n;
    };
    for (const auto& n : seq(field(in ? "fromEndpoints" : "toEndpoints"))) {
      ir::Peer p;
      p.kind = ir::Peer::Kind::Endpoints;
      p.selector = lower_selector(n, "any");
      scope_peer(p.selector);
      p.loc = loc_of(n, ctx_.file);
      peers.push_back(std::move(p));
    }
    for (const auto& n : seq(field(in ? "fromCIDR" : "toCIDR")))
      if (auto c = ir::Cidr::parse(n.IsScalar() ? n.Scalar() : "")) {
        ir::Peer p;
        p.kind = ir::Peer::Kind::Cidr;
        p.cidr = *c;
        p.loc = loc_of(n, ctx_.file);
        peers.push_back(std::move(p));
      }
    for (const auto& n : seq(field(in ? "fromCIDRSet" : "toCIDRSet"))) lower_cidr_rule(n, peers);
    for (const auto& n : seq(field(in ? "fromEntities" : "toEntities")))
      if (n.IsScalar()) lower_entity(n.Scalar(), loc_of(n, ctx_.file), peers);
    for (const auto& n : seq(field(in ? "fromNodes" : "toNodes"))) {
      ir::Peer p;
      p.kind = ir::Peer::Kind::Nodes;
      p.selector = lower_selector(n, "any");
      p.loc = loc_of(n, ctx_.file);
      peers.push_back(std::move(p));
    }
    for (const auto& n : seq(field(in ? "fromGroups" : "toGroups")))
      unresolved(n, in ? "fromGroups" : "toGroups", "cloud provider groups", peers);
    if (!in) {
      for (const auto& n : seq(field("toServices")))
        unresolved(n, "toServices", "service endpoints", peers);
      for (const auto& n : seq(field("toFQDNs"))) {
        ir::Peer p;
        p.kind = ir::Peer::Kind::Fqdn;
        p.fqdn_name = dns_name(scalar_of(member(n, "matchName")).value_or(""));
        p.fqdn_pattern = dns_name(scalar_of(member(n, "matchPattern")).value_or(""));
        p.loc = loc_of(n, ctx_.file);
        peers.push_back(std::move(p));
      }
    }
    if (any_l3) r.peers = std::move(peers);

    for (const auto& n : seq(member(entry, in ? "fromRequires" : "toRequires"))) {
      Selector s = lower_selector(n, "any");
      scope_peer(s);
      r.requires_.push_back(std::move(s));
    }

    YAML::Node to_ports = member(entry, "toPorts");
    bool ports_given = to_ports.IsSequence() && to_ports.size() > 0;
    for (const auto& pr : seq(to_ports)) lower_port_rule(pr, r);
    for (const auto& icmp : seq(member(entry, "icmps")))
      for (const auto& f : seq(member(icmp, "fields"))) {
        ir::IcmpMatch m;
        m.v6 = scalar_of(member(f, "family")).value_or("IPv4") == "IPv6";
        std::string type = scalar_of(member(f, "type")).value_or("");
        if (auto num = parse_port_number(type); num && *num <= 255) {
          m.type = uint8_t(*num);
        } else if (auto named = icmp_type_from_name(type, m.v6)) {
          m.type = *named;
        } else {
          continue;  // a type above 255 never matches; bad names are rejected by sanitize
        }
        m.loc = loc_of(f, ctx_.file);
        r.icmps.push_back(m);
      }
    bool icmps_given = member(entry, "icmps").IsSequence() && member(entry, "icmps").size() > 0;
    // L4 given but nothing usable in it (toPorts entries without ports, ICMP
    // types that cannot occur) creates no L4 filter, so the entry allows
    // nothing; so does "{}" (no L3, no L4).
    if (((ports_given || icmps_given) && r.port_rules.empty() && r.icmps.empty()) ||
        (!any_l3 && !ports_given && !icmps_given))
      r.matches_nothing = true;
    r.auth_mode = scalar_of(member(member(entry, "authentication"), "mode")).value_or("");
    out_.rules.push_back(std::move(r));
  }

  static std::vector<YAML::Node> seq(const YAML::Node& n) {
    std::vector<YAML::Node> out;
    if (n.IsSequence())
      for (const auto& e : n) out.push_back(e);
    return out;
  }

  static std::string dns_name(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }

  void unresolved(const YAML::Node& n, const char* field, const char* what,
                  std::vector<ir::Peer>& peers) {
    ir::Peer p;
    p.kind = ir::Peer::Kind::Unresolved;
    p.description = field;
    p.loc = loc_of(n, ctx_.file);
    diags_.report("unsupported-feature", p.loc,
                  std::string(field) + " needs " + what +
                      " that cnpc cannot resolve offline; this peer matches nothing here");
    peers.push_back(std::move(p));
  }

  void lower_cidr_rule(const YAML::Node& n, std::vector<ir::Peer>& peers) {
    if (present(member(n, "cidrGroupRef"))) {
      unresolved(n, "cidrGroupRef", "a CiliumCIDRGroup", peers);
      return;
    }
    auto c = ir::Cidr::parse(scalar_of(member(n, "cidr")).value_or(""));
    if (!c) return;  // reported by sanitize
    ir::Peer p;
    p.kind = ir::Peer::Kind::Cidr;
    p.cidr = *c;
    for (const auto& e : seq(member(n, "except")))
      if (auto ex = ir::Cidr::parse(e.IsScalar() ? e.Scalar() : "")) p.except.push_back(*ex);
    p.loc = loc_of(n, ctx_.file);
    peers.push_back(std::move(p));
  }

  void lower_entity(const std::string& name, const ir::SourceLocation& loc,
                    std::vector<ir::Peer>& peers) {
    auto add = [&](std::vector<Requirement> reqs) {
      ir::Peer p;
      p.kind = ir::Peer::Kind::Entity;
      p.entity = name;
      p.selector.requirements = std::move(reqs);
      p.loc = loc;
      peers.push_back(std::move(p));
    };
    auto reserved = [](const std::string& key) {
      return Requirement{"reserved", key, SelectorOp::Exists, {}};
    };
    if (name == "all") {
      add({});
    } else if (name == "world" || name == "world-ipv4" || name == "world-ipv6") {
      add({reserved("world")});
    } else if (name == "cluster") {
      for (const char* r : {"host", "remote-node", "init", "ingress", "health", "unmanaged",
                            "kube-apiserver"})
        add({reserved(r)});
      add({{"k8s", kClusterLabel, SelectorOp::In, {ctx_.options->cluster_name}}});
    } else if (name == "host" || name == "remote-node" || name == "kube-apiserver" ||
               name == "health" || name == "init" || name == "ingress" || name == "unmanaged" ||
               name == "none") {
      add({reserved(name)});  // "none" selects reserved:none, which nothing carries
    }
  }

  void lower_port_rule(const YAML::Node& n, ir::Rule& r) {
    ir::PortRule pr;
    pr.loc = loc_of(n, ctx_.file);
    for (const auto& p : seq(member(n, "ports"))) {
      ir::PortMatch m;
      m.loc = loc_of(p, ctx_.file);
      m.proto = ir::parse_proto(scalar_of(member(p, "protocol")).value_or("")).value_or(
          ir::Proto::Any);
      std::string port = scalar_of(member(p, "port")).value_or("");
      auto num = parse_port_number(port);
      if (!num && !is_iana_svc_name(port)) {
        // Only unsanitized deny sections get here: Cilium reads such a port
        // as 0 (every port), or 65535 when the number is out of range.
        bool digits = !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
        num = uint16_t(digits ? 65535 : 0);
      }
      if (!num) {
        m.name = dns_name(port);  // named ports are lower-cased
      } else if (*num == 0) {
        m.first = 0;
        m.last = 65535;
      } else {
        m.first = m.last = *num;
        if (auto end = scalar_of(member(p, "endPort")))
          if (auto e = parse_port_number(*end); e && *e > *num) m.last = *e;
      }
      pr.ports.push_back(std::move(m));
    }
    if (pr.ports.empty()) return;
    lower_l7(member(n, "rules"), pr.l7);
    r.port_rules.push_back(std::move(pr));
  }

  void lower_l7(const YAML::Node& rules, ir::L7Rules& l7) {
    if (!rules.IsMap()) return;
    for (const auto& h : seq(member(rules, "http"))) {
      ir::HttpRule hr;
      hr.loc = loc_of(h, ctx_.file);
      hr.method = scalar_of(member(h, "method")).value_or("");
      hr.path = scalar_of(member(h, "path")).value_or("");
      hr.host = scalar_of(member(h, "host")).value_or("");
      for (const auto& hd : seq(member(h, "headers"))) {
        std::string text = hd.IsScalar() ? hd.Scalar() : "";
        auto space = text.find(' ');
        ir::HttpHeaderMatch m;
        m.name = text.substr(0, space);
        if (!m.name.empty() && m.name.back() == ':') m.name.pop_back();
        if (space != std::string::npos) m.value = text.substr(space + 1);
        hr.headers.push_back(std::move(m));
      }
      for (const auto& hm : seq(member(h, "headerMatches"))) {
        // A mismatch action logs or rewrites instead of denying.
        if (present(member(hm, "mismatch"))) continue;
        ir::HttpHeaderMatch m;
        m.name = scalar_of(member(hm, "name")).value_or("");
        if (auto v = scalar_of(member(hm, "value"))) m.value = *v;
        if (present(member(hm, "secret")))
          diags_.report("unsupported-feature", loc_of(hm, ctx_.file),
                        "headerMatches secret cannot be read offline; matching on 'value' only");
        hr.headers.push_back(std::move(m));
      }
      l7.http.push_back(std::move(hr));
    }
    for (const auto& d : seq(member(rules, "dns"))) {
      ir::DnsRule dr;
      dr.loc = loc_of(d, ctx_.file);
      dr.match_name = dns_name(scalar_of(member(d, "matchName")).value_or(""));
      dr.match_pattern = dns_name(scalar_of(member(d, "matchPattern")).value_or(""));
      l7.dns.push_back(std::move(dr));
    }
    for (const auto& k : seq(member(rules, "kafka"))) {
      ir::KafkaRule kr;
      kr.loc = loc_of(k, ctx_.file);
      kr.role = scalar_of(member(k, "role")).value_or("");
      kr.api_key = scalar_of(member(k, "apiKey")).value_or("");
      if (auto v = scalar_of(member(k, "apiVersion"))) {
        // Base 10, as Cilium's strconv.Atoi reads it ("010" is 10).
        if (!v->empty() && v->size() <= 5 && v->find_first_not_of("0123456789") == std::string::npos)
          kr.api_version = std::stoi(*v);
      }
      kr.client_id = scalar_of(member(k, "clientID")).value_or("");
      kr.topic = scalar_of(member(k, "topic")).value_or("");
      l7.kafka.push_back(std::move(kr));
    }
    if (!l7.http.empty()) l7.kind = ir::L7Kind::Http;
    else if (!l7.dns.empty()) l7.kind = ir::L7Kind::Dns;
    else if (!l7.kafka.empty()) l7.kind = ir::L7Kind::Kafka;
    else if (auto proto = scalar_of(member(rules, "l7proto"))) {
      l7.kind = ir::L7Kind::Generic;
      l7.generic_proto = *proto;
    }
  }

  const ObjectContext& ctx_;
  ir::PolicySet& out_;
  ir::Diagnostics& diags_;
  ir::Subject subject_;
  bool subject_init_ = false;
};

}  // namespace

void lower_cilium_rule(const YAML::Node& rule, const std::string& path, const ObjectContext& ctx,
                       ir::PolicySet& out, ir::Diagnostics& diags) {
  RuleLowering(ctx, out, diags).lower(rule, path);
}

void lower_cilium_object(const YAML::Node& object, const ObjectContext& ctx, ir::PolicySet& out,
                         ir::Diagnostics& diags) {
  YAML::Node spec = member(object, "spec");
  if (spec.IsMap()) lower_cilium_rule(spec, "spec", ctx, out, diags);
  YAML::Node specs = member(object, "specs");
  if (specs.IsSequence())
    for (size_t i = 0; i < specs.size(); ++i)
      if (specs[i].IsMap())
        lower_cilium_rule(specs[i], "specs[" + std::to_string(i) + "]", ctx, out, diags);
}

}  // namespace cnpc::frontend
