// cnpc_gen_cluster: a deterministic synthetic cluster for the scale benchmark
// (tests/bench/scale.sh). Not part of ctest.
//
//   cnpc_gen_cluster --policies N --pods M [--seed S] --out DIR
//
// writes DIR/inventory.yaml (Namespaces and Pods, as `kubectl get ns,pods -A
// -o yaml` prints them), DIR/base/policies.yaml (exactly N policies) and
// DIR/head/policies.yaml (the same with ONE policy changed: one more peer,
// the sandbox's playground, in one app's ingress allow), and prints the shape on stderr.
//
// The shape is a platform team's cluster, not random noise:
//   - namespaces of 20-50 pods; deployments of 1-20 replicas (mostly small)
//     whose replicas share labels app/tier/team/version, so one identity per
//     deployment (two for the ~15% with a canary version);
//   - kube-system (one kube-dns pod), monitoring (prometheus), ingress-nginx,
//     and a sandbox namespace that some namespaces deny;
//   - a call graph: frontends call backends, backends call backends and data
//     stores, workers call backends and data stores, ~20% of backends call a
//     backend in another namespace, some call the internet on 443;
//   - per namespace, in the order a team adopts policy: a default deny (with
//     DNS to kube-dns, "*" DNS rules in most namespaces), one ingress allow
//     per app from exactly its callers (HTTP L7 on ~35% of HTTP ports), one
//     egress allow per app to its callees (DNS L7 with specific names where
//     the namespace has no blanket DNS rule, toCIDRSet with except for the
//     internet, a few HTTP L7 egress rules), an ingress deny from the sandbox
//     in ~15%; ~10% of namespaces use Kubernetes NetworkPolicy instead;
//   - five CCNPs (kube-dns ingress, kube-system and prometheus allowed
//     everywhere, world denied on 22, the metadata address denied), with
//     enableDefaultDeny off so they do not isolate anyone;
//   - deliberate mistakes, a few %: a per-app prometheus rule the CCNP makes
//     redundant, an allow from world on 22 the CCNP deny shadows, a legacy
//     policy repeating a rule.
// Namespaces are policied one at a time until N is reached (partial
// adoption); when every namespace is policied and N is larger, the rest are
// "allow-<app>-from-<caller>" policies, as teams add one per consumer.
// Everything comes from one seeded std::mt19937_64 and our own
// distributions (no std:: distribution, whose output is not portable).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

// ------------------------------------------------------------ randomness

struct Rng {
  std::mt19937_64 g;
  explicit Rng(uint64_t seed) : g(seed) {}
  uint64_t next() { return g(); }
  // Uniform in [lo, hi], by rejection (no modulo bias, portable).
  int64_t range(int64_t lo, int64_t hi) {
    const uint64_t span = uint64_t(hi - lo) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t x;
    do x = next(); while (x >= limit);
    return lo + int64_t(x % span);
  }
  double unit() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
  bool coin(double p) { return unit() < p; }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[size_t(range(0, int64_t(v.size()) - 1))]; }
};

// Replicas: mostly 1-3, a tail up to 20.
int replicas(Rng& rng) {
  double u = rng.unit();
  if (u < 0.35) return int(rng.range(1, 2));
  if (u < 0.75) return int(rng.range(3, 5));
  if (u < 0.95) return int(rng.range(6, 10));
  return int(rng.range(11, 20));
}

// ------------------------------------------------------------ the cluster

struct Port {
  std::string name;
  int port;
  std::string proto;
};

struct App {
  std::string name, tier, team;
  int ns = 0;
  int replicas = 1;
  bool canary = false;            // a v2 slice with its own identity
  std::vector<Port> ports;        // [0] is the service port; "metrics" last
  bool http = false;              // the service port speaks HTTP
  std::vector<int> callees;       // apps it calls
  std::vector<int> callers;       // apps that call it
  bool internet = false;          // calls the internet on 443
  bool apiserver = false;         // talks to kube-apiserver
  std::map<std::string, std::string> labels;  // pod labels (v1)
};

struct Ns {
  std::string name, team, env;
  std::vector<int> apps;
  enum class Style { BlanketDns, PerAppDns, Knp } style = Style::BlanketDns;
  bool deny_sandbox = false;
  bool system = false;  // kube-system, monitoring, ingress-nginx, sandbox: no policies of their own
};

const std::vector<std::string> kWords = {
    "web",      "frontend", "checkout",  "cart",     "catalog",  "orders",   "payments", "users",
    "auth",     "search",   "recommend", "inventory", "shipping", "notify",  "email",    "reports",
    "billing",  "ledger",   "gateway",   "profile",  "reviews",  "pricing",  "quotes",   "media",
    "uploads",  "export",   "import",    "audit",    "session",  "tokens",   "accounts", "invoices",
    "fraud",    "ads",      "feed",      "chat",     "geo",      "tax",      "coupons",  "loyalty"};
const std::vector<std::string> kTeams = {"commerce", "identity", "platform", "data",   "growth",
                                         "payments", "search",   "mobile",   "ops",    "content",
                                         "risk",     "infra"};
const std::vector<std::string> kEnvs = {"prod", "staging", "dev"};

struct Datastore {
  const char* name;
  int port;
};
const std::vector<Datastore> kStores = {{"postgres", 5432}, {"mysql", 3306}, {"redis", 6379},
                                        {"mongo", 27017},   {"kafka", 9092}, {"memcached", 11211}};

struct Cluster {
  std::vector<Ns> namespaces;
  std::vector<App> apps;
  int kube_dns = -1, prometheus = -1, nginx = -1;
  int sandbox_ns = -1;
};

int add_app(Cluster& c, int ns, App a) {
  a.ns = ns;
  c.apps.push_back(std::move(a));
  c.namespaces[size_t(ns)].apps.push_back(int(c.apps.size()) - 1);
  return int(c.apps.size()) - 1;
}

int total_pods(const Cluster& c) {
  int n = 0;
  for (const auto& a : c.apps) n += a.replicas;
  return n;
}

Cluster make_cluster(Rng& rng, int pods) {
  Cluster c;
  auto system_ns = [&](const std::string& name) {
    Ns n;
    n.name = name;
    n.team = "platform";
    n.env = "prod";
    n.system = true;
    c.namespaces.push_back(n);
    return int(c.namespaces.size()) - 1;
  };
  {
    int ks = system_ns("kube-system");
    App dns;
    dns.name = "coredns";
    dns.tier = "system";
    dns.team = "platform";
    dns.replicas = 1;  // one kube-dns pod
    dns.ports = {{"dns", 53, "UDP"}, {"dns-tcp", 53, "TCP"}, {"metrics", 9153, "TCP"}};
    dns.labels = {{"k8s-app", "kube-dns"}};
    c.kube_dns = add_app(c, ks, dns);
    App ms;
    ms.name = "metrics-server";
    ms.tier = "system";
    ms.team = "platform";
    ms.replicas = 1;
    ms.ports = {{"https", 10250, "TCP"}};
    ms.labels = {{"k8s-app", "metrics-server"}};
    ms.apiserver = true;
    add_app(c, ks, ms);
  }
  {
    int mon = system_ns("monitoring");
    App p;
    p.name = "prometheus";
    p.tier = "system";
    p.team = "platform";
    p.replicas = 2;
    p.ports = {{"web", 9090, "TCP"}};
    p.labels = {{"app.kubernetes.io/name", "prometheus"}};
    c.prometheus = add_app(c, mon, p);
  }
  {
    int ing = system_ns("ingress-nginx");
    App p;
    p.name = "ingress-nginx-controller";
    p.tier = "system";
    p.team = "platform";
    p.replicas = 2;
    p.ports = {{"http", 80, "TCP"}, {"https", 443, "TCP"}};
    p.labels = {{"app.kubernetes.io/name", "ingress-nginx"}};
    c.nginx = add_app(c, ing, p);
  }
  {
    c.sandbox_ns = system_ns("sandbox");
    App p;
    p.name = "playground";
    p.tier = "backend";
    p.team = "growth";
    p.replicas = 2;
    p.ports = {{"http", 8080, "TCP"}};
    add_app(c, c.sandbox_ns, p);
  }

  // Team namespaces until the pod count is reached.
  int index = 0;
  while (total_pods(c) < pods) {
    Ns n;
    n.team = rng.pick(kTeams);
    n.env = rng.pick(kEnvs);
    n.name = n.team + "-" + n.env + "-" + std::to_string(index++);
    double u = rng.unit();
    n.style = u < 0.10 ? Ns::Style::Knp : u < 0.40 ? Ns::Style::PerAppDns : Ns::Style::BlanketDns;
    n.deny_sandbox = n.style != Ns::Style::Knp && rng.coin(0.15);
    c.namespaces.push_back(n);
    const int ns = int(c.namespaces.size()) - 1;
    int budget = std::min<int>(int(rng.range(20, 50)), pods - total_pods(c));
    std::set<std::string> used;
    auto fresh_name = [&](const std::string& base) {
      std::string name = base;
      for (int k = 2; used.count(name); ++k) name = base + "-" + std::to_string(k);
      used.insert(name);
      return name;
    };
    // A namespace has frontends, backends, workers and data stores.
    while (budget > 0) {
      App a;
      a.team = n.team;
      double t = rng.unit();
      a.tier = t < 0.15 ? "frontend" : t < 0.60 ? "backend" : t < 0.75 ? "worker" : "data";
      a.replicas = std::min(replicas(rng), budget);
      if (a.tier == "data") {
        const auto& s = rng.pick(kStores);
        a.name = fresh_name(s.name);
        a.ports = {{"tcp-" + std::string(s.name), s.port, "TCP"}};
        a.replicas = std::min(a.replicas, 3);
      } else if (a.tier == "frontend") {
        a.name = fresh_name(rng.pick(kWords) + "-ui");
        a.ports = {{"http", 8080, "TCP"}};
        a.http = true;
      } else if (a.tier == "backend") {
        a.name = fresh_name(rng.pick(kWords) + "-api");
        if (rng.coin(0.7)) {
          a.ports = {{"http", 8080, "TCP"}};
          a.http = true;
        } else {
          a.ports = {{"grpc", 9090, "TCP"}};
        }
        a.internet = rng.coin(0.15);
        a.apiserver = rng.coin(0.03);
      } else {
        a.name = fresh_name(rng.pick(kWords) + "-worker");
        a.internet = rng.coin(0.10);
      }
      a.ports.push_back({"metrics", 9102, "TCP"});
      a.canary = a.tier != "data" && a.replicas >= 4 && rng.coin(0.15);
      budget -= a.replicas;
      add_app(c, ns, a);
    }
  }

  // The call graph.
  auto tier_apps = [&](int ns, const std::string& tier) {
    std::vector<int> out;
    for (int a : c.namespaces[size_t(ns)].apps)
      if (c.apps[size_t(a)].tier == tier) out.push_back(a);
    return out;
  };
  std::vector<int> all_backends;
  for (size_t i = 0; i < c.apps.size(); ++i)
    if (c.apps[i].tier == "backend" && !c.namespaces[size_t(c.apps[i].ns)].system) all_backends.push_back(int(i));
  for (size_t i = 0; i < c.apps.size(); ++i) {
    App& a = c.apps[i];
    if (c.namespaces[size_t(a.ns)].system) continue;
    auto backends = tier_apps(a.ns, "backend"), data = tier_apps(a.ns, "data");
    std::erase(backends, int(i));
    auto call = [&](const std::vector<int>& from, int lo, int hi) {
      if (from.empty()) return;
      int n = int(rng.range(lo, hi));
      for (int k = 0; k < n; ++k) {
        int t = rng.pick(from);
        if (std::find(a.callees.begin(), a.callees.end(), t) == a.callees.end()) a.callees.push_back(t);
      }
    };
    if (a.tier == "frontend") call(backends, 1, 3);
    if (a.tier == "backend") {
      call(backends, 0, 2);
      call(data, 0, 2);
      if (rng.coin(0.2) && !all_backends.empty()) {
        int t = rng.pick(all_backends);
        if (c.apps[size_t(t)].ns != a.ns) a.callees.push_back(t);
      }
    }
    if (a.tier == "worker") {
      call(backends, 0, 1);
      call(data, 1, 2);
    }
  }
  for (size_t i = 0; i < c.apps.size(); ++i)
    for (int t : c.apps[i].callees) c.apps[size_t(t)].callers.push_back(int(i));
  for (size_t i = 0; i < c.apps.size(); ++i)
    if (c.apps[i].tier == "frontend") c.apps[i].callers.push_back(c.nginx);

  for (auto& a : c.apps)
    if (a.labels.empty()) a.labels = {{"app", a.name}, {"tier", a.tier}, {"team", a.team}, {"version", "v1"}};
  return c;
}

// ------------------------------------------------------------ policies

struct Sel {
  std::vector<std::pair<std::string, std::string>> labels;
  std::string expr_key;  // optional matchExpressions "In"
  std::vector<std::string> expr_values;
};

struct PortSpec {
  std::string port;  // number or name
  std::string proto;
};

struct HttpRule {
  std::string method, path;
};

struct DnsRule {
  bool pattern;
  std::string value;
};

struct GRule {
  enum class Kind { Endpoints, Entities, CidrSet, Empty } kind = Kind::Endpoints;
  std::vector<Sel> sels;
  std::vector<std::string> entities;
  std::string cidr;
  std::vector<std::string> except;
  std::vector<PortSpec> ports;
  std::vector<HttpRule> http;
  std::vector<DnsRule> dns;
};

struct GPolicy {
  std::string kind;  // CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy
  std::string name, ns;
  Sel subject;
  bool default_deny_off = false;
  bool has_ingress = false, has_egress = false;  // NetworkPolicy policyTypes
  std::vector<GRule> ingress, egress, ingress_deny, egress_deny;
};

const char* kNsLabel = "k8s:io.kubernetes.pod.namespace";

std::string q(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string sel_yaml(const Sel& s) {
  std::string out = "{";
  bool first = true;
  if (!s.labels.empty()) {
    out += "matchLabels: {";
    for (size_t i = 0; i < s.labels.size(); ++i)
      out += (i ? ", " : "") + q(s.labels[i].first) + ": " + q(s.labels[i].second);
    out += "}";
    first = false;
  }
  if (!s.expr_key.empty()) {
    out += std::string(first ? "" : ", ") + "matchExpressions: [{key: " + q(s.expr_key) +
           ", operator: In, values: [";
    for (size_t i = 0; i < s.expr_values.size(); ++i) out += (i ? ", " : "") + q(s.expr_values[i]);
    out += "]}]";
  }
  return out + "}";
}

void cilium_rule(std::ostream& o, const GRule& r, bool in) {
  const std::string pad = "    ";
  bool first = true;
  auto key = [&](const std::string& k) {
    o << pad << (first ? "- " : "  ") << k;
    first = false;
  };
  switch (r.kind) {
    case GRule::Kind::Empty: o << pad << "- {}\n"; return;
    case GRule::Kind::Endpoints:
      key(in ? "fromEndpoints:\n" : "toEndpoints:\n");
      for (const auto& s : r.sels) o << pad << "    - " << sel_yaml(s) << "\n";
      break;
    case GRule::Kind::Entities:
      key(in ? "fromEntities: [" : "toEntities: [");
      for (size_t i = 0; i < r.entities.size(); ++i) o << (i ? ", " : "") << r.entities[i];
      o << "]\n";
      break;
    case GRule::Kind::CidrSet:
      key(in ? "fromCIDRSet:\n" : "toCIDRSet:\n");
      o << pad << "    - cidr: " << r.cidr << "\n";
      if (!r.except.empty()) {
        o << pad << "      except: [";
        for (size_t i = 0; i < r.except.size(); ++i) o << (i ? ", " : "") << r.except[i];
        o << "]\n";
      }
      break;
  }
  if (r.ports.empty()) return;
  o << pad << "  toPorts:\n";
  o << pad << "    - ports:\n";
  for (const auto& p : r.ports) o << pad << "        - {port: " << q(p.port) << ", protocol: " << p.proto << "}\n";
  if (!r.http.empty()) {
    o << pad << "      rules:\n" << pad << "        http:\n";
    for (const auto& h : r.http) o << pad << "          - {method: " << q(h.method) << ", path: " << q(h.path) << "}\n";
  }
  if (!r.dns.empty()) {
    o << pad << "      rules:\n" << pad << "        dns:\n";
    for (const auto& d : r.dns)
      o << pad << "          - {" << (d.pattern ? "matchPattern: " : "matchName: ") << q(d.value) << "}\n";
  }
}

// NetworkPolicy peers: a selector naming another namespace becomes
// namespaceSelector + podSelector; an empty "all namespaces" selector is {}.
void knp_peer(std::ostream& o, const Sel& s) {
  Sel pod;
  std::string ns;
  for (const auto& [k, v] : s.labels)
    if (k == kNsLabel) ns = v;
    else pod.labels.emplace_back(k, v);
  o << "        - ";
  if (!ns.empty()) o << "namespaceSelector: {matchLabels: {\"kubernetes.io/metadata.name\": " << q(ns) << "}}\n          ";
  o << "podSelector: " << sel_yaml(pod) << "\n";
}

void emit(std::ostream& o, const GPolicy& p) {
  o << "---\n";
  if (p.kind == "NetworkPolicy") {
    o << "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n";
    o << "metadata:\n  name: " << p.name << "\n  namespace: " << p.ns << "\n";
    o << "spec:\n  podSelector: " << sel_yaml(p.subject) << "\n  policyTypes: [";
    o << (p.has_ingress ? "Ingress" : "") << (p.has_ingress && p.has_egress ? ", " : "")
      << (p.has_egress ? "Egress" : "") << "]\n";
    for (int dir = 0; dir < 2; ++dir) {
      const auto& rules = dir == 0 ? p.ingress : p.egress;
      if (rules.empty()) continue;
      o << (dir == 0 ? "  ingress:\n" : "  egress:\n");
      for (const auto& r : rules) {
        o << "    - " << (dir == 0 ? "from:\n" : "to:\n");
        for (const auto& s : r.sels) knp_peer(o, s);
        if (!r.ports.empty()) {
          o << "      ports:\n";
          for (const auto& pt : r.ports) o << "        - {protocol: " << pt.proto << ", port: " << pt.port << "}\n";
        }
      }
    }
    return;
  }
  const bool ccnp = p.kind == "CiliumClusterwideNetworkPolicy";
  o << "apiVersion: cilium.io/v2\nkind: " << p.kind << "\nmetadata:\n  name: " << p.name << "\n";
  if (!ccnp) o << "  namespace: " << p.ns << "\n";
  o << "spec:\n  endpointSelector: " << sel_yaml(p.subject) << "\n";
  if (p.default_deny_off) o << "  enableDefaultDeny: {ingress: false, egress: false}\n";
  auto section = [&](const char* name, const std::vector<GRule>& rules, bool in) {
    if (rules.empty()) return;
    o << "  " << name << ":\n";
    for (const auto& r : rules) cilium_rule(o, r, in);
  };
  section("ingress", p.ingress, true);
  section("ingressDeny", p.ingress_deny, true);
  section("egress", p.egress, false);
  section("egressDeny", p.egress_deny, false);
}

// ------------------------------------------------------------ the policy plan

struct Planner {
  Cluster& c;
  Rng& rng;
  size_t l7_http = 0, l7_dns = 0, deny_rules = 0, cidr_rules = 0, knps = 0, planted = 0;

  Sel app_sel(int app, int from_ns) const {
    const App& a = c.apps[size_t(app)];
    Sel s;
    if (a.ns != from_ns) s.labels.emplace_back(kNsLabel, c.namespaces[size_t(a.ns)].name);
    if (a.labels.count("app"))
      s.labels.emplace_back("app", a.name);
    else
      s.labels.assign(a.labels.begin(), a.labels.end()), s.labels.insert(s.labels.begin(), {kNsLabel, c.namespaces[size_t(a.ns)].name});
    return s;
  }
  Sel kube_dns_sel() const {
    Sel s;
    s.labels = {{kNsLabel, "kube-system"}, {"k8s-app", "kube-dns"}};
    return s;
  }
  PortSpec service_port(int app) const {
    const auto& p = c.apps[size_t(app)].ports.front();
    return {std::to_string(p.port), p.proto};
  }
  std::vector<HttpRule> http_rules(const App& a) {
    std::vector<HttpRule> h = {{"GET", "/api/v[0-9]+/.*"}};
    if (rng.coin(0.6)) h.push_back({"POST", "/api/v1/" + a.name.substr(0, a.name.find('-')) + "(/.*)?"});
    if (rng.coin(0.3)) h.push_back({"GET", "/healthz"});
    ++l7_http;
    return h;
  }

  GPolicy default_deny(const Ns& n) {
    GPolicy p;
    p.ns = n.name;
    p.name = "default-deny";
    if (n.style == Ns::Style::Knp) {
      p.kind = "NetworkPolicy";
      p.has_ingress = p.has_egress = true;
      return p;
    }
    p.kind = "CiliumNetworkPolicy";
    GRule empty;
    empty.kind = GRule::Kind::Empty;
    p.ingress.push_back(empty);
    GRule dns;
    dns.sels = {kube_dns_sel()};
    if (n.style == Ns::Style::BlanketDns) {
      if (rng.coin(0.8)) {
        dns.ports = {{"53", "ANY"}};
        dns.dns = {{true, "*"}};
        ++l7_dns;
      } else {
        dns.ports = {{"53", "UDP"}, {"53", "TCP"}};
      }
      p.egress.push_back(dns);
    } else {
      p.egress.push_back(empty);  // egress default deny; DNS per app
    }
    return p;
  }

  GPolicy knp_dns(const Ns& n) {
    GPolicy p;
    p.kind = "NetworkPolicy";
    p.ns = n.name;
    p.name = "allow-dns";
    p.has_egress = true;
    GRule r;
    r.sels = {kube_dns_sel()};
    r.ports = {{"53", "UDP"}, {"53", "TCP"}};
    p.egress.push_back(r);
    return p;
  }

  // Ingress allow for one app, from exactly its callers.
  std::optional<GPolicy> ingress_allow(int app) {
    const App& a = c.apps[size_t(app)];
    const Ns& n = c.namespaces[size_t(a.ns)];
    if (a.callers.empty()) return std::nullopt;
    GPolicy p;
    p.kind = n.style == Ns::Style::Knp ? "NetworkPolicy" : "CiliumNetworkPolicy";
    p.ns = n.name;
    p.name = "allow-" + a.name;
    p.subject.labels = {{"app", a.name}};
    p.has_ingress = true;
    GRule local, remote;
    // Callers in the namespace: by app, or (when they are all frontends) by tier.
    bool by_tier = true;
    for (int caller : a.callers)
      if (c.apps[size_t(caller)].ns == a.ns && c.apps[size_t(caller)].tier != "frontend") by_tier = false;
    bool any_local = false;
    for (int caller : a.callers) {
      if (c.apps[size_t(caller)].ns == a.ns) {
        any_local = true;
        if (!by_tier || !rng.coin(0.5)) local.sels.push_back(app_sel(caller, a.ns));
      } else {
        remote.sels.push_back(app_sel(caller, a.ns));
      }
    }
    if (any_local && local.sels.empty()) {
      Sel s;
      s.labels = {{"tier", "frontend"}};
      local.sels.push_back(s);
    }
    // Canary: select both versions explicitly sometimes.
    if (a.canary && !local.sels.empty() && rng.coin(0.5)) {
      p.subject.expr_key = "version";
      p.subject.expr_values = {"v1", "v2"};
    }
    for (GRule* r : {&local, &remote}) {
      if (r->sels.empty()) continue;
      r->ports = {service_port(app)};
      if (a.http && p.kind != "NetworkPolicy" && rng.coin(0.35)) r->http = http_rules(a);
      p.ingress.push_back(*r);
    }
    if (p.kind != "NetworkPolicy") {
      // Deliberate mistakes: the CCNP already lets prometheus scrape; the
      // CCNP denies world on 22.
      if (rng.coin(0.03)) {
        GRule scrape;
        scrape.sels = {app_sel(c.prometheus, a.ns)};
        scrape.ports = {{"metrics", "TCP"}};
        p.ingress.push_back(scrape);
        ++planted;
      }
      if (rng.coin(0.015)) {
        GRule ssh;
        ssh.kind = GRule::Kind::Entities;
        ssh.entities = {"world"};
        ssh.ports = {{"22", "TCP"}};
        p.ingress.push_back(ssh);
        ++planted;
      }
    }
    if (p.kind == "NetworkPolicy") ++knps;
    return p;
  }

  std::optional<GPolicy> egress_allow(int app) {
    const App& a = c.apps[size_t(app)];
    const Ns& n = c.namespaces[size_t(a.ns)];
    const bool per_app_dns = n.style == Ns::Style::PerAppDns;
    if (a.callees.empty() && !a.internet && !per_app_dns) return std::nullopt;
    GPolicy p;
    p.kind = n.style == Ns::Style::Knp ? "NetworkPolicy" : "CiliumNetworkPolicy";
    p.ns = n.name;
    p.name = a.name + "-egress";
    p.subject.labels = {{"app", a.name}};
    p.has_egress = true;
    // One rule per service port, peers grouped (at most 3 rules).
    std::map<std::string, GRule> by_port;
    for (int t : a.callees) {
      auto port = service_port(t);
      GRule& r = by_port[port.port + "/" + port.proto];
      r.sels.push_back(app_sel(t, a.ns));
      r.ports = {port};
    }
    for (auto& [k, r] : by_port) {
      if (p.egress.size() == 3) break;
      // A few clients are held to read-only calls at egress.
      if (p.kind != "NetworkPolicy" && k == "8080/TCP" && rng.coin(0.05)) {
        r.http = {{"GET", "/.*"}};
        ++l7_http;
      }
      p.egress.push_back(r);
    }
    if (a.internet) {
      GRule r;
      r.kind = GRule::Kind::CidrSet;
      r.cidr = "0.0.0.0/0";
      r.except = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"};
      r.ports = {{"443", "TCP"}};
      if (p.kind == "NetworkPolicy") {
        // KNP: ipBlock is not modelled by this generator; keep the CNP form.
        p.kind = "CiliumNetworkPolicy";
      }
      p.egress.push_back(r);
      ++cidr_rules;
    }
    if (a.apiserver && p.kind != "NetworkPolicy") {
      GRule r;
      r.kind = GRule::Kind::Entities;
      r.entities = {"kube-apiserver"};
      r.ports = {{"443", "TCP"}, {"6443", "TCP"}};
      p.egress.push_back(r);
    }
    if (per_app_dns) {
      GRule r;
      r.sels = {kube_dns_sel()};
      r.ports = {{"53", "ANY"}};
      r.dns = {{true, "*.svc.cluster.local"}, {true, "*." + n.name + ".svc.cluster.local"}};
      if (a.internet) r.dns.push_back({false, rng.coin(0.5) ? "api.stripe.com" : "hooks.slack.com"});
      p.egress.push_back(r);
      ++l7_dns;
    }
    if (p.egress.empty()) return std::nullopt;
    if (p.kind == "NetworkPolicy") ++knps;
    return p;
  }

  GPolicy deny_sandbox(const Ns& n) {
    GPolicy p;
    p.kind = "CiliumNetworkPolicy";
    p.ns = n.name;
    p.name = "deny-from-sandbox";
    GRule r;
    Sel s;
    s.labels = {{kNsLabel, "sandbox"}};
    r.sels = {s};
    p.ingress_deny.push_back(r);
    ++deny_rules;
    return p;
  }

  std::vector<GPolicy> ccnps() {
    std::vector<GPolicy> out;
    auto base = [&](const std::string& name) {
      GPolicy p;
      p.kind = "CiliumClusterwideNetworkPolicy";
      p.name = name;
      p.default_deny_off = true;
      return p;
    };
    {
      GPolicy p = base("kube-dns-ingress");
      p.default_deny_off = false;
      p.subject = kube_dns_sel();
      GRule r;
      r.kind = GRule::Kind::Entities;
      r.entities = {"cluster"};
      r.ports = {{"53", "UDP"}, {"53", "TCP"}};
      p.ingress.push_back(r);
      out.push_back(p);
    }
    {
      GPolicy p = base("allow-kube-system");
      GRule r;
      Sel s;
      s.labels = {{kNsLabel, "kube-system"}};
      r.sels = {s};
      p.ingress.push_back(r);
      out.push_back(p);
    }
    {
      GPolicy p = base("deny-world-ssh");
      GRule r;
      r.kind = GRule::Kind::Entities;
      r.entities = {"world"};
      r.ports = {{"22", "TCP"}};
      p.ingress_deny.push_back(r);
      ++deny_rules;
      out.push_back(p);
    }
    {
      GPolicy p = base("allow-prometheus-scrape");
      GRule r;
      Sel s;
      s.labels = {{kNsLabel, "monitoring"}, {"app.kubernetes.io/name", "prometheus"}};
      r.sels = {s};
      r.ports = {{"metrics", "TCP"}};
      p.ingress.push_back(r);
      out.push_back(p);
    }
    {
      GPolicy p = base("deny-cloud-metadata");
      GRule r;
      r.kind = GRule::Kind::CidrSet;
      r.cidr = "169.254.169.254/32";
      p.egress_deny.push_back(r);
      ++deny_rules;
      ++cidr_rules;
      out.push_back(p);
    }
    return out;
  }

  // The policies a namespace adopts, in order.
  std::vector<GPolicy> namespace_plan(int ns) {
    const Ns& n = c.namespaces[size_t(ns)];
    std::vector<GPolicy> out;
    out.push_back(default_deny(n));
    if (n.style == Ns::Style::Knp) out.push_back(knp_dns(n));
    if (n.deny_sandbox) out.push_back(deny_sandbox(n));
    for (int a : n.apps) {
      if (auto p = ingress_allow(a)) out.push_back(*p);
      if (auto p = egress_allow(a)) out.push_back(*p);
    }
    // A legacy policy that repeats one app's allow (deliberately redundant).
    if (n.style != Ns::Style::Knp && rng.coin(0.08))
      for (const auto& p : out)
        if (p.name.rfind("allow-", 0) == 0 && !p.ingress.empty() && p.ingress.front().http.empty()) {
          GPolicy legacy = p;
          legacy.name = p.name + "-legacy";
          legacy.ingress.resize(1);
          out.push_back(legacy);
          ++planted;
          break;
        }
    return out;
  }

  // One more consumer for a random app: "allow-<app>-from-<caller>".
  GPolicy extra(int serial) {
    std::vector<int> candidates;
    for (;;) {
      int app = int(rng.range(0, int64_t(c.apps.size()) - 1));
      const App& a = c.apps[size_t(app)];
      const Ns& n = c.namespaces[size_t(a.ns)];
      if (n.system || a.tier == "worker") continue;
      int caller;
      if (rng.coin(0.7)) {
        caller = rng.pick(n.apps);
      } else {
        caller = int(rng.range(0, int64_t(c.apps.size()) - 1));
      }
      if (caller == app || c.namespaces[size_t(c.apps[size_t(caller)].ns)].system) continue;
      GPolicy p;
      p.kind = n.style == Ns::Style::Knp ? "NetworkPolicy" : "CiliumNetworkPolicy";
      p.ns = n.name;
      p.name = "allow-" + a.name + "-from-" + c.apps[size_t(caller)].name + "-" + std::to_string(serial);
      p.subject.labels = {{"app", a.name}};
      p.has_ingress = true;
      GRule r;
      r.sels = {app_sel(caller, a.ns)};
      r.ports = {service_port(app)};
      if (a.http && p.kind != "NetworkPolicy" && rng.coin(0.1)) r.http = http_rules(a);
      p.ingress.push_back(r);
      if (p.kind == "NetworkPolicy") ++knps;
      return p;
    }
  }
};

// ------------------------------------------------------------ inventory

void emit_inventory(std::ostream& o, const Cluster& c) {
  o << "apiVersion: v1\nkind: List\nitems:\n";
  for (const auto& n : c.namespaces) {
    o << "  - apiVersion: v1\n    kind: Namespace\n    metadata:\n      name: " << n.name << "\n";
    o << "      labels: {\"kubernetes.io/metadata.name\": " << q(n.name) << ", team: " << q(n.team)
      << ", env: " << q(n.env) << "}\n";
  }
  uint32_t ip = (10u << 24) | (1u << 16);  // 10.1.0.0 upwards; node = pod / 30
  int pod_index = 0;
  Rng names(0x5eedull);
  for (const auto& a : c.apps) {
    const std::string hash = [&] {
      static const char* alnum = "bcdfghjklmnpqrstvwxz2456789";
      std::string h;
      for (int i = 0; i < 9; ++i) h += alnum[names.range(0, 26)];
      return h;
    }();
    for (int r = 0; r < a.replicas; ++r, ++pod_index) {
      auto labels = a.labels;
      if (a.canary && r >= a.replicas - std::max(1, a.replicas / 4)) labels["version"] = "v2";
      std::string suffix;
      for (int i = 0; i < 5; ++i) suffix += "bcdfghjklmnpqrstvwxz2456789"[names.range(0, 26)];
      const uint32_t addr = ip++;
      std::string ip_text = std::to_string(addr >> 24) + "." + std::to_string((addr >> 16) & 255) + "." +
                            std::to_string((addr >> 8) & 255) + "." + std::to_string(addr & 255);
      o << "  - apiVersion: v1\n    kind: Pod\n    metadata:\n";
      o << "      name: " << a.name << "-" << hash << "-" << suffix << "\n";
      o << "      namespace: " << c.namespaces[size_t(a.ns)].name << "\n";
      o << "      labels: {";
      size_t i = 0;
      for (const auto& [k, v] : labels) o << (i++ ? ", " : "") << q(k) << ": " << q(v);
      o << "}\n";
      o << "    spec:\n      nodeName: node-" << pod_index / 30 << "\n";
      o << "      serviceAccountName: " << a.name << "\n";
      o << "      containers:\n        - name: " << a.name << "\n          image: registry.example.com/"
        << a.team << "/" << a.name << ":1." << (pod_index % 7) << "\n";
      o << "          ports:\n";
      for (const auto& p : a.ports)
        o << "            - {name: " << p.name << ", containerPort: " << p.port << ", protocol: " << p.proto << "}\n";
      o << "    status:\n      phase: Running\n      podIP: " << ip_text << "\n      podIPs:\n        - ip: "
        << ip_text << "\n";
    }
  }
}

[[noreturn]] void usage() {
  std::cerr << "usage: cnpc_gen_cluster --policies N --pods M [--seed S] --out DIR\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  long policies = -1, pods = -1;
  uint64_t seed = 0xC11A5EEDull;
  std::string out_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--policies") policies = std::stol(value());
    else if (a == "--pods") pods = std::stol(value());
    else if (a == "--seed") seed = std::stoull(value(), nullptr, 0);
    else if (a == "--out") out_dir = value();
    else usage();
  }
  if (policies < 5 || pods < 10 || out_dir.empty()) usage();

  Rng rng(seed);
  Cluster c = make_cluster(rng, int(pods));
  Planner plan{c, rng};

  std::vector<GPolicy> all = plan.ccnps();
  size_t policied_ns = 0;
  for (size_t ns = 0; ns < c.namespaces.size() && long(all.size()) < policies; ++ns) {
    if (c.namespaces[ns].system) continue;
    for (auto& p : plan.namespace_plan(int(ns))) {
      if (long(all.size()) == policies) break;
      all.push_back(std::move(p));
    }
    ++policied_ns;
  }
  size_t extras = 0;
  while (long(all.size()) < policies) all.push_back(plan.extra(int(extras++)));

  // The head: one more peer in the ingress allow nearest the middle. The
  // new peer is the sandbox's playground, whose egress no policy enforces,
  // so the change shows in verdicts (a peer whose own egress is default
  // deny would change nothing end to end).
  std::vector<GPolicy> head = all;
  size_t changed = head.size();
  for (size_t k = 0; k < head.size() && changed == head.size(); ++k) {
    size_t i = (head.size() / 2 + k) % head.size();
    auto& p = head[i];
    if (p.kind != "CiliumNetworkPolicy" || p.name.rfind("allow-", 0) != 0 || p.ingress.empty() ||
        p.ingress.front().kind != GRule::Kind::Endpoints)
      continue;
    const Ns* n = nullptr;
    for (const auto& x : c.namespaces)
      if (x.name == p.ns) n = &x;
    if (!n || n->deny_sandbox) continue;
    Sel s;
    s.labels = {{kNsLabel, "sandbox"}, {"app", "playground"}};
    p.ingress.front().sels.push_back(s);
    changed = i;
  }
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(out_dir) / "base");
  fs::create_directories(fs::path(out_dir) / "head");
  auto write = [&](const fs::path& path, auto&& body) {
    std::ofstream f(path);
    body(f);
    if (!f) {
      std::cerr << "cnpc_gen_cluster: cannot write " << path << "\n";
      std::exit(1);
    }
  };
  write(fs::path(out_dir) / "inventory.yaml", [&](std::ostream& o) { emit_inventory(o, c); });
  write(fs::path(out_dir) / "base" / "policies.yaml", [&](std::ostream& o) {
    for (const auto& p : all) emit(o, p);
  });
  write(fs::path(out_dir) / "head" / "policies.yaml", [&](std::ostream& o) {
    for (const auto& p : head) emit(o, p);
  });

  // Shape, for the report.
  std::set<std::string> identities;
  size_t rules = 0;
  for (const auto& a : c.apps) {
    std::string id = c.namespaces[size_t(a.ns)].name;
    for (const auto& [k, v] : a.labels) id += "," + k + "=" + v;
    identities.insert(id);
    if (a.canary) identities.insert(id + ",v2");
  }
  for (const auto& p : all) rules += p.ingress.size() + p.egress.size() + p.ingress_deny.size() + p.egress_deny.size();
  std::map<std::string, size_t> kinds;
  for (const auto& p : all) ++kinds[p.kind];
  std::cerr << "namespaces " << c.namespaces.size() << " (policied " << policied_ns << "), deployments "
            << c.apps.size() << ", pods " << total_pods(c) << ", identities " << identities.size() << "\n"
            << "policies " << all.size() << " (CNP " << kinds["CiliumNetworkPolicy"] << ", CCNP "
            << kinds["CiliumClusterwideNetworkPolicy"] << ", KNP " << kinds["NetworkPolicy"] << "; per-consumer extras "
            << extras << "), rules " << rules << ", HTTP L7 " << plan.l7_http << ", DNS L7 " << plan.l7_dns
            << ", deny " << plan.deny_rules << ", CIDR " << plan.cidr_rules << ", planted mistakes " << plan.planted
            << "\n"
            << "head: one more peer in " << (changed < head.size() ? head[changed].ns + "/" + head[changed].name : "(none)")
            << "\n";
  return changed < head.size() ? 0 : 1;
}
