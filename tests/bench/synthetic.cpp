#include "synthetic.h"

#include <algorithm>
#include <array>
#include <optional>

namespace cnpc::bench {

namespace {

// splitmix64: deterministic on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return size_t(next() % n); }
  bool chance(int percent) { return int(below(100)) < percent; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

 private:
  uint64_t s_;
};

constexpr const char* kNamespaceLabel = "io.kubernetes.pod.namespace";
constexpr const char* kNamespaceLabelsPrefix = "io.cilium.k8s.namespace.labels.";
constexpr const char* kServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount";
constexpr const char* kClusterLabel = "io.cilium.k8s.policy.cluster";

// ------------------------------------------------------------------ model

struct MExpr {
  std::string key, op;
  std::vector<std::string> values;
};
struct MSel {
  std::vector<std::pair<std::string, std::string>> labels;  // keys as written
  std::vector<MExpr> exprs;
};
struct MPort {
  uint16_t port = 0;
  uint16_t end = 0;
  std::string proto;  // TCP | UDP | ANY
};
struct MHttp {
  std::string method, path;
};
struct MCidr {
  std::string cidr;
  std::vector<std::string> except;
};
struct MEntry {
  std::vector<MSel> endpoints;
  std::vector<MCidr> cidrs;
  std::vector<std::string> entities;
  std::vector<MPort> ports;
  std::vector<MHttp> http;
  std::vector<std::string> dns_patterns;
};
enum Section { kIngress = 0, kIngressDeny = 1, kEgress = 2, kEgressDeny = 3 };
constexpr std::array<const char*, 4> kSectionNames = {"ingress", "ingressDeny", "egress",
                                                      "egressDeny"};
struct MPolicy {
  std::string ns, name;
  MSel subject;
  std::vector<MEntry> sections[4];
  std::optional<bool> default_deny_ingress, default_deny_egress;
};
struct MPod {
  std::string ns, name, sa, ip, image;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, uint16_t>> ports;  // name, containerPort (TCP)
};
struct MNamespace {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
};
struct Model {
  std::vector<MNamespace> namespaces;
  std::vector<MPod> pods;
  std::vector<MPolicy> policies;
};

struct Role {
  const char* name;
  const char* tier;
  const char* port_name;
  uint16_t port;
};
const std::vector<Role>& roles() {
  static const std::vector<Role> r = {
      {"web", "frontend", "http", 8080},     {"api", "backend", "http", 8080},
      {"worker", "backend", "metrics", 9090}, {"db", "data", "postgres", 5432},
      {"cache", "data", "redis", 6379},       {"queue", "data", "kafka", 9092},
      {"scheduler", "backend", "http", 8080}, {"gateway", "frontend", "https", 8443},
      {"metrics", "backend", "metrics", 9090}, {"admin", "frontend", "https", 8443},
      {"batch", "backend", "http", 8080},     {"search", "backend", "http", 9200},
  };
  return r;
}

const std::vector<std::string> kNamespaceWords = {
    "payments", "checkout", "catalog",  "search",  "identity",     "ledger",   "billing",
    "shipping", "inventory", "analytics", "ml-serving", "notifications", "gateway", "auth",
    "reporting", "media",   "recommendations", "fraud", "orders", "support"};
const std::vector<std::string> kTeams = {"core",  "growth", "platform", "data",
                                         "money", "trust",  "infra",    "mobile"};
const std::vector<uint16_t> kPolicyPorts = {80,   443,  8080, 8443, 9090,  5432,
                                            3306, 6379, 9092, 9200, 27017, 11211};

// --------------------------------------------------------------- generation

Model make_model(const ClusterShape& shape) {
  Rng rng(shape.seed);
  Model m;
  const int nns = std::max(1, shape.namespaces);
  for (int i = 0; i < nns; ++i) {
    MNamespace ns;
    ns.name = kNamespaceWords[size_t(i) % kNamespaceWords.size()];
    if (size_t(i) >= kNamespaceWords.size()) ns.name += "-" + std::to_string(i);
    ns.labels = {{"team", kTeams[size_t(i) % kTeams.size()]},
                 {"env", i % 4 == 3 ? "staging" : "prod"},
                 {"kubernetes.io/metadata.name", ns.name}};
    m.namespaces.push_back(std::move(ns));
  }
  m.namespaces.push_back({"kube-system", {{"kubernetes.io/metadata.name", "kube-system"}}});

  auto ip_of = [](size_t i) {
    return "10." + std::to_string(1 + i / 65536) + "." + std::to_string((i / 256) % 256) + "." +
           std::to_string(i % 256);
  };
  // Two kube-dns pods, then the workload pods.
  for (int i = 0; i < 2 && i < shape.pods; ++i) {
    MPod p;
    p.ns = "kube-system";
    p.name = "coredns-5d78c9869d-" + std::to_string(i);
    p.sa = "coredns";
    p.ip = ip_of(m.pods.size());
    p.image = "registry.k8s.io/coredns/coredns:v1.11.1";
    p.labels = {{"k8s-app", "kube-dns"}, {"pod-template-hash", "5d78c9869d"}};
    p.ports = {{"dns", 53}, {"dns-tcp", 53}, {"metrics", 9153}};
    m.pods.push_back(std::move(p));
  }
  const auto& rs = roles();
  while (int(m.pods.size()) < shape.pods) {
    const size_t n = rng.below(size_t(nns));
    const Role& role = rs[rng.below(rs.size())];
    const auto& ns = m.namespaces[n];
    const size_t vr = rng.below(10);
    const std::string version = vr < 6 ? "v1" : vr < 9 ? "v2" : "v3";
    const bool canary = version == "v3" || rng.chance(5);
    MPod p;
    p.ns = ns.name;
    const std::string app = ns.name + "-" + role.name;
    p.name = app + "-" + version + "-" + std::to_string(m.pods.size());
    p.sa = rng.chance(80) ? app : "default";
    p.ip = ip_of(m.pods.size());
    p.image = "registry.example.com/" + app + ":" + version;
    p.labels = {{"app", app},
                {"tier", role.tier},
                {"version", version},
                {"track", canary ? "canary" : "stable"},
                {"team", ns.labels[0].second},
                {"app.kubernetes.io/part-of", ns.name}};
    p.ports = {{role.port_name, role.port}};
    if (role.port != 9090) p.ports.push_back({"metrics", 9090});
    m.pods.push_back(std::move(p));
  }

  auto app_sel = [&](const std::string& ns, const Role& role) {
    MSel s;
    s.labels = {{"app", ns + "-" + role.name}};
    return s;
  };
  auto pick_ports = [&](MEntry& e, bool allow_l7) {
    const size_t count = 1 + rng.below(2);
    for (size_t i = 0; i < count; ++i) {
      MPort p;
      const size_t kind = rng.below(100);
      if (kind < 15) {
        p.port = uint16_t(8000 + 100 * rng.below(3));
        p.end = uint16_t(p.port + 99);
        p.proto = "TCP";
      } else {
        p.port = kPolicyPorts[rng.below(kPolicyPorts.size())];
        p.proto = kind < 90 ? "TCP" : kind < 95 ? "UDP" : "ANY";
      }
      e.ports.push_back(p);
    }
    if (allow_l7 && e.ports.size() == 1 && e.ports[0].end == 0 && e.ports[0].proto == "TCP" &&
        rng.chance(30)) {
      e.http.push_back({"GET", "/api/v1/.*"});
      if (rng.chance(50)) e.http.push_back({"POST", "/api/v1/orders(/[0-9]+)?"});
    }
  };
  auto other_ns = [&](const std::string& self) {
    for (;;) {
      const std::string& n = m.namespaces[rng.below(size_t(nns))].name;
      if (n != self || nns == 1) return n;
    }
  };
  auto peer_selector = [&](const std::string& ns) {
    MSel s;
    const size_t form = rng.below(100);
    if (form < 55) {
      s = app_sel(ns, rs[rng.below(rs.size())]);
    } else if (form < 75) {
      const std::string other = other_ns(ns);
      s.labels = {{std::string("k8s:") + kNamespaceLabel, other},
                  {"app", other + "-" + rs[rng.below(rs.size())].name}};
    } else if (form < 90) {
      s.exprs.push_back({"tier", "In", {"frontend", "backend"}});
      if (rng.chance(50)) s.exprs.push_back({"team", "Exists", {}});
      if (rng.chance(50)) s.labels.push_back({"version", "v1"});
    } else {
      s.labels = {{"tier", "frontend"}};
      s.exprs.push_back({"track", "NotIn", {"canary"}});
      s.exprs.push_back({"version", "In", {"v1", "v2"}});
    }
    return s;
  };
  const MSel kube_dns = [] {
    MSel s;
    s.labels = {{std::string("k8s:") + kNamespaceLabel, "kube-system"}, {"k8s-app", "kube-dns"}};
    return s;
  }();

  for (int k = 0; k < shape.policies; ++k) {
    MPolicy p;
    p.ns = m.namespaces[size_t(k % nns)].name;
    const Role& role = rs[rng.below(rs.size())];
    p.subject = app_sel(p.ns, role);
    const size_t type = rng.below(100);
    if (type < 45) {  // ingress allow (some with egress too)
      p.name = std::string(role.name) + "-ingress-" + std::to_string(k);
      if (rng.chance(25)) p.subject.exprs.push_back({"version", "In", {"v1", "v2"}});
      const size_t entries = 1 + rng.below(3);
      for (size_t i = 0; i < entries; ++i) {
        MEntry e;
        if (rng.chance(10)) {
          e.cidrs.push_back({"192.168.0.0/16", {"192.168.1.0/24"}});
          if (rng.chance(50)) e.cidrs.push_back({"172.16.0.0/12", {}});
        } else if (rng.chance(3)) {
          e.entities.push_back("world");
        } else {
          e.endpoints.push_back(peer_selector(p.ns));
          if (rng.chance(20)) e.endpoints.push_back(peer_selector(p.ns));
        }
        if (rng.chance(85)) pick_ports(e, true);
        p.sections[kIngress].push_back(std::move(e));
      }
      if (rng.chance(20)) {
        MEntry e;
        e.endpoints.push_back(kube_dns);
        e.ports.push_back({53, 0, "ANY"});
        e.dns_patterns.push_back("*");
        p.sections[kEgress].push_back(std::move(e));
      }
    } else if (type < 57) {  // ingress deny
      p.name = std::string(role.name) + "-deny-" + std::to_string(k);
      if (rng.chance(30)) p.subject = MSel{{{"tier", "data"}}, {}};
      MEntry e;
      const size_t form = rng.below(3);
      if (form == 0) {
        e.endpoints.push_back(MSel{{{"track", "canary"}}, {}});
      } else if (form == 1) {
        MSel s;
        s.labels = {{std::string("k8s:") + kNamespaceLabel, other_ns(p.ns)}};
        e.endpoints.push_back(s);
      } else {
        e.cidrs.push_back({"0.0.0.0/0", {"10.0.0.0/8"}});
      }
      if (rng.chance(50)) e.ports.push_back({22, 0, "TCP"});
      p.sections[kIngressDeny].push_back(std::move(e));
      if (rng.chance(60)) p.default_deny_ingress = false;
    } else if (type < 95) {  // egress allow
      p.name = std::string(role.name) + "-egress-" + std::to_string(k);
      const size_t entries = 1 + rng.below(3);
      for (size_t i = 0; i < entries; ++i) {
        MEntry e;
        const size_t form = rng.below(100);
        if (form < 15) {
          e.cidrs.push_back({"0.0.0.0/0", {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}});
          e.ports.push_back({443, 0, "TCP"});
        } else if (form < 20) {
          e.entities.push_back("world");
          e.ports.push_back({443, 0, "TCP"});
        } else {
          e.endpoints.push_back(peer_selector(p.ns));
          pick_ports(e, true);
        }
        p.sections[kEgress].push_back(std::move(e));
      }
      if (rng.chance(70)) {
        MEntry e;
        e.endpoints.push_back(kube_dns);
        e.ports.push_back({53, 0, "ANY"});
        e.dns_patterns.push_back(rng.chance(50) ? "*" : "*.svc.cluster.local");
        p.sections[kEgress].push_back(std::move(e));
      }
    } else {  // egress deny
      p.name = std::string(role.name) + "-egress-deny-" + std::to_string(k);
      if (rng.chance(40)) p.subject = MSel{};  // every pod of the namespace
      MEntry e;
      if (rng.chance(50)) {
        e.cidrs.push_back({"169.254.169.254/32", {}});
      } else {
        MSel s;
        s.labels = {{std::string("k8s:") + kNamespaceLabel, other_ns(p.ns)}, {"tier", "data"}};
        e.endpoints.push_back(s);
        e.ports.push_back({5432, 0, "TCP"});
      }
      p.sections[kEgressDeny].push_back(std::move(e));
      if (rng.chance(70)) p.default_deny_egress = false;
    }
    m.policies.push_back(std::move(p));
  }
  return m;
}

// ------------------------------------------------------------- IR emitter

// Mirrors the frontend's lowering of a CiliumNetworkPolicy.
void split_key(const std::string& raw, ir::Requirement& r) {
  auto colon = raw.find(':');
  if (colon != std::string::npos) {
    r.source = raw.substr(0, colon);
    r.key = raw.substr(colon + 1);
  } else {
    r.source = "any";
    r.key = raw;
  }
}

ir::Selector lower(const MSel& s) {
  ir::Selector sel;
  for (const auto& [k, v] : s.labels) {
    ir::Requirement r;
    split_key(k, r);
    r.op = ir::SelectorOp::In;
    r.values = {v};
    sel.requirements.push_back(std::move(r));
  }
  for (const auto& e : s.exprs) {
    ir::Requirement r;
    split_key(e.key, r);
    r.op = e.op == "NotIn"          ? ir::SelectorOp::NotIn
           : e.op == "Exists"       ? ir::SelectorOp::Exists
           : e.op == "DoesNotExist" ? ir::SelectorOp::DoesNotExist
                                    : ir::SelectorOp::In;
    r.values = e.values;
    std::sort(r.values.begin(), r.values.end());
    sel.requirements.push_back(std::move(r));
  }
  std::sort(sel.requirements.begin(), sel.requirements.end());
  return sel;
}

bool is_namespace_key(const ir::Requirement& r) {
  return (r.source == "k8s" || r.source == "any") &&
         (r.key == kNamespaceLabel || r.key.rfind(kNamespaceLabelsPrefix, 0) == 0);
}

ir::Requirement namespace_is(const std::string& ns) {
  return {"k8s", kNamespaceLabel, ir::SelectorOp::In, {ns}};
}

ir::Selector lower_subject(const MSel& s, const std::string& ns) {
  ir::Selector sel = lower(s);
  std::erase_if(sel.requirements,
                [](const ir::Requirement& r) { return r.key == kNamespaceLabel && is_namespace_key(r); });
  sel.requirements.push_back(namespace_is(ns));
  std::sort(sel.requirements.begin(), sel.requirements.end());
  return sel;
}

ir::Selector lower_peer(const MSel& s, const std::string& ns) {
  ir::Selector sel = lower(s);
  bool scoped = std::any_of(sel.requirements.begin(), sel.requirements.end(), [](const auto& r) {
    return is_namespace_key(r) || r.source == "reserved";
  });
  if (!scoped) {
    sel.requirements.push_back(namespace_is(ns));
    std::sort(sel.requirements.begin(), sel.requirements.end());
  }
  return sel;
}

ir::Origin origin(const MPolicy& mp, std::string path) {
  ir::Origin o;
  o.kind = "CiliumNetworkPolicy";
  o.namespace_ = mp.ns;
  o.name = mp.name;
  o.path = std::move(path);
  return o;
}

void emit_ir(const Model& m, SyntheticCluster& out) {
  for (const auto& mp : m.policies) {
    ir::Spec spec;
    spec.subject.selector = lower_subject(mp.subject, mp.ns);
    spec.origin = origin(mp, "spec");
    spec.sections.has_ingress = !mp.sections[kIngress].empty() || !mp.sections[kIngressDeny].empty();
    spec.sections.has_egress = !mp.sections[kEgress].empty() || !mp.sections[kEgressDeny].empty();
    if (mp.default_deny_ingress) spec.sections.default_deny_ingress = *mp.default_deny_ingress;
    if (mp.default_deny_egress) spec.sections.default_deny_egress = *mp.default_deny_egress;
    out.policies.specs.push_back(spec);
    for (int sec = 0; sec < 4; ++sec) {
      for (size_t i = 0; i < mp.sections[sec].size(); ++i) {
        const MEntry& e = mp.sections[sec][i];
        ir::Rule r;
        r.direction = sec < 2 ? ir::Direction::Ingress : ir::Direction::Egress;
        r.action = sec % 2 == 0 ? ir::Action::Allow : ir::Action::Deny;
        r.subject = spec.subject;
        r.origin = origin(mp, std::string("spec.") + kSectionNames[size_t(sec)] + "[" +
                                  std::to_string(i) + "]");
        std::vector<ir::Peer> peers;
        for (const auto& s : e.endpoints) {
          ir::Peer p;
          p.kind = ir::Peer::Kind::Endpoints;
          p.selector = lower_peer(s, mp.ns);
          peers.push_back(std::move(p));
        }
        for (const auto& c : e.cidrs) {
          ir::Peer p;
          p.kind = ir::Peer::Kind::Cidr;
          p.cidr = *ir::Cidr::parse(c.cidr);
          for (const auto& x : c.except) p.except.push_back(*ir::Cidr::parse(x));
          peers.push_back(std::move(p));
          ++out.cidr_peers;
        }
        for (const auto& name : e.entities) {  // only "world" is generated
          ir::Peer p;
          p.kind = ir::Peer::Kind::Entity;
          p.entity = name;
          p.selector.requirements = {{"reserved", name, ir::SelectorOp::Exists, {}}};
          peers.push_back(std::move(p));
        }
        if (!e.endpoints.empty() || !e.cidrs.empty() || !e.entities.empty()) r.peers = std::move(peers);
        if (!e.ports.empty()) {
          ir::PortRule pr;
          for (const auto& mport : e.ports) {
            ir::PortMatch pm;
            pm.proto = ir::parse_proto(mport.proto).value_or(ir::Proto::Any);
            pm.first = pm.last = mport.port;
            if (mport.end > mport.port) {
              pm.last = mport.end;
              ++out.port_ranges;
            }
            pr.ports.push_back(pm);
          }
          for (const auto& h : e.http) pr.l7.http.push_back({h.method, h.path, "", {}, {}});
          for (const auto& d : e.dns_patterns) pr.l7.dns.push_back({"", d, {}});
          if (!pr.l7.http.empty()) pr.l7.kind = ir::L7Kind::Http;
          else if (!pr.l7.dns.empty()) pr.l7.kind = ir::L7Kind::Dns;
          if (pr.l7.kind != ir::L7Kind::None) ++out.l7_rules;
          r.port_rules.push_back(std::move(pr));
        }
        if (r.action == ir::Action::Deny) ++out.deny_rules;
        if (r.direction == ir::Direction::Egress) ++out.egress_rules;
        out.policies.rules.push_back(std::move(r));
      }
    }
  }

  for (const auto& ns : m.namespaces) {
    ir::Namespace n;
    n.name = ns.name;
    for (const auto& [k, v] : ns.labels) n.labels[k] = v;
    out.inventory.namespaces.push_back(std::move(n));
  }
  for (const auto& mp : m.pods) {
    ir::Endpoint e;
    e.kind = ir::Endpoint::Kind::Pod;
    e.namespace_ = mp.ns;
    e.name = mp.name;
    for (const auto& [k, v] : mp.labels) e.labels.add({"k8s", k, v});
    e.labels.add({"k8s", kNamespaceLabel, mp.ns});
    e.labels.add({"k8s", kServiceAccountLabel, mp.sa});
    e.labels.add({"k8s", kClusterLabel, "default"});
    for (const auto& ns : m.namespaces)
      if (ns.name == mp.ns)
        for (const auto& [k, v] : ns.labels)
          e.labels.add({"k8s", std::string(kNamespaceLabelsPrefix) + k, v});
    e.ips.push_back(*ir::IpAddr::parse(mp.ip));
    for (const auto& [name, port] : mp.ports) e.ports.push_back({name, port, ir::Proto::TCP});
    out.inventory.endpoints.push_back(std::move(e));
  }
}

// ----------------------------------------------------------- YAML emitter

std::string q(const std::string& s) {  // double-quoted YAML scalar
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void emit_selector(std::string& y, const MSel& s, const std::string& indent, bool first_dash) {
  // `indent` is the indentation of the selector's keys.
  std::string lead = first_dash ? indent.substr(0, indent.size() - 2) + "- " : indent;
  if (s.labels.empty() && s.exprs.empty()) {
    y += (first_dash ? indent.substr(0, indent.size() - 2) + "- " : indent) + "{}\n";
    return;
  }
  bool first = true;
  auto key_line = [&](const std::string& text) {
    y += (first ? lead : indent) + text + "\n";
    first = false;
  };
  if (!s.labels.empty()) {
    key_line("matchLabels:");
    for (const auto& [k, v] : s.labels) y += indent + "  " + q(k) + ": " + q(v) + "\n";
  }
  if (!s.exprs.empty()) {
    key_line("matchExpressions:");
    for (const auto& e : s.exprs) {
      y += indent + "  - key: " + q(e.key) + "\n";
      y += indent + "    operator: " + e.op + "\n";
      if (!e.values.empty()) {
        y += indent + "    values: [";
        for (size_t i = 0; i < e.values.size(); ++i) y += (i ? ", " : "") + q(e.values[i]);
        y += "]\n";
      }
    }
  }
}

void emit_yaml(const Model& m, std::string& y) {
  for (const auto& ns : m.namespaces) {
    y += "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns.name + "\n  labels:\n";
    for (const auto& [k, v] : ns.labels) y += "    " + q(k) + ": " + q(v) + "\n";
  }
  for (const auto& p : m.pods) {
    y += "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: " + p.name + "\n  namespace: " + p.ns +
         "\n  labels:\n";
    for (const auto& [k, v] : p.labels) y += "    " + q(k) + ": " + q(v) + "\n";
    y += "spec:\n  serviceAccountName: " + p.sa + "\n  containers:\n    - name: main\n      image: " +
         p.image + "\n      ports:\n";
    for (const auto& [name, port] : p.ports)
      y += "        - name: " + name + "\n          containerPort: " + std::to_string(port) +
           "\n          protocol: TCP\n";
    y += "status:\n  podIP: " + p.ip + "\n  podIPs:\n    - ip: " + p.ip + "\n";
  }
  for (const auto& p : m.policies) {
    y += "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: " + p.name +
         "\n  namespace: " + p.ns + "\nspec:\n";
    y += "  endpointSelector:\n";
    if (p.subject.labels.empty() && p.subject.exprs.empty())
      y.replace(y.size() - 1, 1, " {}\n");
    else
      emit_selector(y, p.subject, "    ", false);
    if (p.default_deny_ingress || p.default_deny_egress) {
      y += "  enableDefaultDeny:\n";
      if (p.default_deny_ingress)
        y += std::string("    ingress: ") + (*p.default_deny_ingress ? "true" : "false") + "\n";
      if (p.default_deny_egress)
        y += std::string("    egress: ") + (*p.default_deny_egress ? "true" : "false") + "\n";
    }
    for (int sec = 0; sec < 4; ++sec) {
      if (p.sections[sec].empty()) continue;
      const bool in = sec < 2;
      y += std::string("  ") + kSectionNames[size_t(sec)] + ":\n";
      for (const auto& e : p.sections[sec]) {
        bool first = true;
        auto field = [&](const std::string& name) {
          y += (first ? "    - " : "      ") + name + ":\n";
          first = false;
        };
        if (!e.endpoints.empty()) {
          field(in ? "fromEndpoints" : "toEndpoints");
          for (const auto& s : e.endpoints) emit_selector(y, s, "          ", true);
        }
        if (!e.cidrs.empty()) {
          field(in ? "fromCIDRSet" : "toCIDRSet");
          for (const auto& c : e.cidrs) {
            y += "        - cidr: " + c.cidr + "\n";
            if (!c.except.empty()) {
              y += "          except:\n";
              for (const auto& x : c.except) y += "            - " + x + "\n";
            }
          }
        }
        if (!e.entities.empty()) {
          field(in ? "fromEntities" : "toEntities");
          for (const auto& n : e.entities) y += "        - " + n + "\n";
        }
        if (!e.ports.empty()) {
          field("toPorts");
          y += "        - ports:\n";
          for (const auto& port : e.ports) {
            y += "            - port: " + q(std::to_string(port.port)) + "\n";
            y += "              protocol: " + port.proto + "\n";
            if (port.end) y += "              endPort: " + std::to_string(port.end) + "\n";
          }
          if (!e.http.empty() || !e.dns_patterns.empty()) {
            y += "          rules:\n";
            if (!e.http.empty()) {
              y += "            http:\n";
              for (const auto& h : e.http)
                y += "              - method: " + q(h.method) + "\n                path: " + q(h.path) + "\n";
            }
            if (!e.dns_patterns.empty()) {
              y += "            dns:\n";
              for (const auto& d : e.dns_patterns) y += "              - matchPattern: " + q(d) + "\n";
            }
          }
        }
      }
    }
  }
}

}  // namespace

SyntheticCluster generate_cluster(const ClusterShape& shape, bool with_yaml) {
  Model m = make_model(shape);
  SyntheticCluster out;
  emit_ir(m, out);
  if (with_yaml) {
    out.yaml.reserve(size_t(shape.pods) * 600 + size_t(shape.policies) * 1200);
    emit_yaml(m, out.yaml);
  }
  return out;
}

std::vector<ir::Flow> generate_flows(const ir::Inventory& inventory, size_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<ir::Flow> flows;
  flows.reserve(count);
  std::vector<std::vector<ir::EndpointId>> by_ns;
  std::vector<std::string> ns_names;
  std::vector<size_t> ns_of(inventory.endpoints.size());
  for (ir::EndpointId i = 0; i < inventory.endpoints.size(); ++i) {
    const auto& ns = inventory.endpoints[i].namespace_;
    auto it = std::find(ns_names.begin(), ns_names.end(), ns);
    size_t n = size_t(it - ns_names.begin());
    if (it == ns_names.end()) {
      ns_names.push_back(ns);
      by_ns.emplace_back();
    }
    by_ns[n].push_back(i);
    ns_of[i] = n;
  }
  const size_t total = inventory.endpoints.size();
  for (size_t i = 0; i < count; ++i) {
    ir::Flow f;
    f.src = ir::EndpointId(rng.below(total));
    if (rng.chance(50))
      f.dst = by_ns[ns_of[f.src]][rng.below(by_ns[ns_of[f.src]].size())];
    else
      f.dst = ir::EndpointId(rng.below(total));
    const size_t kind = rng.below(100);
    if (kind < 5) {  // DNS to kube-dns
      f.dst = ir::EndpointId(rng.below(std::min<size_t>(2, total)));
      f.proto = ir::Proto::UDP;
      f.port = 53;
    } else if (kind < 75) {
      f.port = kPolicyPorts[rng.below(kPolicyPorts.size())];
      f.proto = rng.chance(90) ? ir::Proto::TCP : ir::Proto::UDP;
    } else if (kind < 85) {
      f.port = uint16_t(8000 + rng.below(300));
      f.proto = ir::Proto::TCP;
    } else {
      f.port = uint16_t(1 + rng.below(65535));
      f.proto = rng.chance(80) ? ir::Proto::TCP : ir::Proto::UDP;
    }
    f.ip_proto = uint8_t(f.proto);
    flows.push_back(f);
  }
  return flows;
}

}  // namespace cnpc::bench
