#include "support/random_cluster.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string_view>

namespace cnpc::testing {

namespace {

// ===================================================================== rng

// std::mt19937_64's output sequence is fixed by the standard; the
// distributions below are ours, so results do not depend on the library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : e_(mix(seed)) {}
  uint64_t next() { return e_(); }
  // Uniform in [0, n), by rejection (no modulo bias).
  uint64_t below(uint64_t n) {
    if (n <= 1) return 0;
    const uint64_t max = std::numeric_limits<uint64_t>::max();
    const uint64_t limit = max - max % n;
    uint64_t x;
    do x = e_();
    while (x >= limit);
    return x % n;
  }
  int range(int lo, int hi) { return lo + int(below(uint64_t(hi - lo + 1))); }  // inclusive
  bool chance(int percent) { return int(below(100)) < percent; }
  template <class C>
  const auto& pick(const C& c) {
    return *(std::begin(c) + std::ptrdiff_t(below(uint64_t(std::size(c)))));
  }
  // Index drawn with the given (non-negative) weights; 0 when all are zero.
  size_t weighted(std::initializer_list<int> w) {
    int total = 0;
    for (int x : w) total += std::max(x, 0);
    if (total == 0) return 0;
    int r = int(below(uint64_t(total)));
    size_t i = 0;
    for (int x : w) {
      if (r < std::max(x, 0)) return i;
      r -= std::max(x, 0);
      ++i;
    }
    return 0;
  }

 private:
  // splitmix64 of the seed, so that nearby seeds give unrelated streams.
  static uint64_t mix(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::mt19937_64 e_;
};

// ==================================================================== yaml

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

bool plain_key(std::string_view k) {
  if (k.empty() || !std::isalpha(static_cast<unsigned char>(k[0]))) return false;
  return std::all_of(k.begin(), k.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// A YAML value: scalar (already rendered), sequence or mapping (ordered).
struct Y {
  enum class K { Scalar, List, Map } k = K::Map;
  std::string text;
  std::vector<Y> items;
  // Mapping entries as two parallel vectors: std::pair<std::string, Y>
  // would need Y complete here; std::vector<Y> does not (C++17).
  std::vector<std::string> keys;
  std::vector<Y> values;

  static Y str(std::string_view s) {
    Y y;
    y.k = K::Scalar;
    y.text = quote(s);
    return y;
  }
  static Y raw(std::string s) {
    Y y;
    y.k = K::Scalar;
    y.text = std::move(s);
    return y;
  }
  static Y num(long long v) { return raw(std::to_string(v)); }
  static Y boolean(bool b) { return raw(b ? "true" : "false"); }
  static Y list() {
    Y y;
    y.k = K::List;
    return y;
  }
  static Y map() { return Y{}; }
  Y& add(std::string key, Y v) {
    keys.push_back(std::move(key));
    values.push_back(std::move(v));
    return *this;
  }
  Y& push(Y v) {
    items.push_back(std::move(v));
    return *this;
  }
  bool inline_form() const {
    return k == K::Scalar || (k == K::List && items.empty()) || (k == K::Map && keys.empty());
  }
  std::string inline_text() const {
    if (k == K::Scalar) return text;
    return k == K::List ? "[]" : "{}";
  }
};

void emit_after_key(const Y& v, int indent, std::string& out);

// A non-empty mapping or sequence in block style; with `inline_first` the
// first line continues the current one (after "- ").
void emit_block(const Y& y, int indent, bool inline_first, std::string& out) {
  bool first = true;
  if (y.k == Y::K::Map) {
    for (size_t i = 0; i < y.keys.size(); ++i) {
      const std::string& key = y.keys[i];
      const Y& v = y.values[i];
      if (!(first && inline_first)) out.append(size_t(indent), ' ');
      first = false;
      out += plain_key(key) ? key : quote(key);
      out += ':';
      emit_after_key(v, indent + 2, out);
    }
  } else {
    for (const auto& it : y.items) {
      if (!(first && inline_first)) out.append(size_t(indent), ' ');
      first = false;
      out += "- ";
      if (it.inline_form())
        out += it.inline_text() + "\n";
      else
        emit_block(it, indent + 2, true, out);
    }
  }
}

void emit_after_key(const Y& v, int indent, std::string& out) {
  if (v.inline_form()) {
    out += " " + v.inline_text() + "\n";
    return;
  }
  out += "\n";
  emit_block(v, indent, false, out);
}

std::string emit_document(const Y& y) {
  std::string out;
  emit_block(y, 0, false, out);
  return out;
}

// =============================================================== addresses

int addr_bits(const ir::IpAddr& a) { return a.v6 ? 128 : 32; }
bool get_bit(const ir::IpAddr& a, int i) { return (a.bytes[size_t(i / 8)] >> (7 - i % 8)) & 1; }
void set_bit(ir::IpAddr& a, int i, bool v) {
  const uint8_t m = uint8_t(0x80u >> (i % 8));
  if (v)
    a.bytes[size_t(i / 8)] |= m;
  else
    a.bytes[size_t(i / 8)] &= uint8_t(~m);
}
ir::IpAddr fill_from(ir::IpAddr a, int from, bool v) {
  for (int i = from; i < addr_bits(a); ++i) set_bit(a, i, v);
  return a;
}
ir::IpAddr cidr_first(const ir::Cidr& c) { return fill_from(c.addr, c.prefix, false); }
ir::IpAddr cidr_last(const ir::Cidr& c) { return fill_from(c.addr, c.prefix, true); }
ir::IpAddr random_bits(ir::IpAddr a, int from, int to, Rng& rng) {
  for (int i = from; i < to; ++i) set_bit(a, i, rng.chance(50));
  return a;
}
ir::IpAddr random_in(const ir::Cidr& c, Rng& rng) {
  return random_bits(c.addr, c.prefix, addr_bits(c.addr), rng);
}
// a + delta (delta = +1 or -1), or nullopt on wrap-around.
std::optional<ir::IpAddr> step(ir::IpAddr a, int delta) {
  for (int i = addr_bits(a) - 1; i >= 0; --i) {
    const bool b = get_bit(a, i);
    set_bit(a, i, !b);
    if (delta > 0 ? !b : b) return a;  // no carry/borrow left
  }
  return std::nullopt;
}
ir::Cidr make_cidr(ir::IpAddr a, int prefix) {
  ir::Cidr c;
  c.addr = fill_from(a, prefix, false);
  c.prefix = prefix;
  return c;
}
ir::Cidr must_cidr(const char* text) { return *ir::Cidr::parse(text); }

// =========================================================== vocabularies

struct Vocab {
  const char* key;
  std::vector<const char*> values;
};
const std::vector<Vocab>& pod_vocab() {
  static const std::vector<Vocab> v = {
      {"app", {"web", "api", "db", "cache", "worker", "frontend"}},
      {"tier", {"frontend", "backend", "data"}},
      {"team", {"red", "blue"}},
      {"env", {"prod", "staging"}},
      {"version", {"v1", "v2"}},
  };
  return v;
}
const std::vector<Vocab>& ns_vocab() {
  static const std::vector<Vocab> v = {
      {"env", {"prod", "staging", "dev"}},
      {"team", {"red", "blue"}},
  };
  return v;
}

constexpr const char* kNsKey = "io.kubernetes.pod.namespace";
constexpr const char* kNsLabels = "io.cilium.k8s.namespace.labels.";

const std::vector<const char*> kEntities = {"world", "cluster", "host", "remote-node",
                                            "kube-apiserver", "all"};
const std::vector<const char*> kRareEntities = {"health", "init", "unmanaged", "ingress", "none"};

const std::vector<const char*> kHttpMethods = {"GET",     "POST",       "PUT",       "DELETE",
                                               "PATCH",   "HEAD",       "GET|HEAD",  "(GET|POST)",
                                               "PUT|PATCH", "GET"};
const std::vector<const char*> kHttpPaths = {
    "/api/.*",       "/v[0-9]+/items",       "/healthz",   "/",
    "/public/.*",    "/api/v1/users/[0-9]+", "/admin(/.*)?", "/static/[a-z]+\\.css",
    "/metrics",      "/api/v[12]/orders/?"};
const std::vector<const char*> kHttpHosts = {"api.example.com", "shop.local", ".*\\.example\\.com",
                                             "[a-z]+\\.internal"};
const std::vector<const char*> kHttpHeaders = {"X-Team: blue", "X-Debug", "Authorization",
                                               "X-Env: prod"};
const std::vector<const char*> kDnsNames = {"kubernetes.default.svc.cluster.local",
                                            "api.example.com", "www.example.com.",
                                            "API.Example.COM"};
// "*" (every name) is drawn separately and rarely: it voids the rest.
const std::vector<const char*> kDnsPatterns = {"*.svc.cluster.local", "*.*.svc.cluster.local",
                                               "*.example.com", "api.*.example.com",
                                               "*.amazonaws.com"};
const std::vector<const char*> kFqdnNames = {"api.example.com", "www.example.com",
                                             "cdn.example.net", "example.org",
                                             "s3.amazonaws.com"};
const std::vector<const char*> kFqdnPatterns = {"*.example.com", "*.amazonaws.com", "cdn.*.net",
                                                "*"};
// Names the DNS cache knows: the toFQDNs names plus names that only patterns
// (or nothing) match.
const std::vector<const char*> kCacheNames = {"api.example.com", "www.example.com",
                                              "cdn.example.net", "example.org",
                                              "s3.amazonaws.com", "login.example.com",
                                              "a.b.example.com", "evil.example.org"};

const std::vector<int> kPortPool = {80,   443,  8080, 8443, 5432, 3306, 6379, 9090,
                                    9000, 9100, 53,   514,  3868, 1,    65535, 22};
const std::vector<const char*> kPortNames = {"http",  "metrics", "dns",    "grpc",
                                             "postgres", "redis", "syslog", "http-alt",
                                             "admin"};

const std::vector<const char*> kV4Bases = {"192.0.2.0/24",   "198.51.100.0/24", "203.0.113.0/24",
                                           "10.0.0.0/8",     "172.16.0.0/12",   "0.0.0.0/0",
                                           "100.64.0.0/10",  "8.8.8.0/24"};
const std::vector<const char*> kV6Bases = {"2001:db8::/32", "2001:db8:1::/48", "fd00::/64", "::/0",
                                           "2606:4700::/32"};

struct IcmpName {
  const char* name;
  int type;
};
const std::vector<IcmpName> kIcmp4Names = {
    {"EchoReply", 0},  {"DestinationUnreachable", 3}, {"Echo", 8},
    {"EchoRequest", 8}, {"TimeExceeded", 11},          {"Redirect", 5},
    {"ParameterProblem", 12}, {"Timestamp", 13}};
const std::vector<IcmpName> kIcmp6Names = {{"EchoRequest", 128},
                                           {"EchoReply", 129},
                                           {"PacketTooBig", 2},
                                           {"NeighborSolicitation", 135},
                                           {"NeighborAdvertisement", 136},
                                           {"DestinationUnreachable", 1}};

// ================================================================= cluster

struct ContainerPortModel {
  std::string name;
  int port;
  std::string proto;
};
struct PodModel {
  std::string ns, name, sa, node;
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<ContainerPortModel> ports;
  std::vector<std::string> ips;
};
struct NsModel {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
};

enum class Kind { Cnp, Ccnp, Knp };

class Generator {
 public:
  Generator(uint64_t seed, const RandomOptions& o, RandomCluster& out)
      : rng_(seed), opt_(o), out_(out) {}

  void run() {
    make_namespaces();
    make_pods();
    emit_inventory();
    if (opt_.fqdn) make_dns_cache();
    std::string docs;
    for (int i = 0; i < opt_.policies; ++i) {
      Kind kind = Kind(rng_.weighted({60, opt_.ccnp ? 20 : 0, opt_.knp ? 20 : 0}));
      Y obj = kind == Kind::Knp ? knp(i) : cilium(i, kind);
      if (!docs.empty()) docs += "---\n";
      docs += emit_document(obj);
    }
    out_.policies_yaml = docs;
  }

 private:
  void feat(const std::string& k) { ++out_.features[k]; }

  // ------------------------------------------------------------ inventory

  void make_namespaces() {
    static const std::vector<const char*> names = {"shop", "billing", "monitoring", "tenant-a",
                                                   "tenant-b", "data", "edge", "ops"};
    for (int i = 0; i < std::max(opt_.namespaces, 1); ++i) {
      NsModel n;
      n.name = i < int(names.size()) ? names[size_t(i)] : "ns-" + std::to_string(i);
      for (const auto& v : ns_vocab())
        if (rng_.chance(70)) n.labels.emplace_back(v.key, rng_.pick(v.values));
      nss_.push_back(std::move(n));
    }
  }

  std::string fresh_v4(int ns_index) {
    for (;;) {
      // One draw per statement: the operands of + are unsequenced.
      const int third = rng_.range(0, 3);
      const int fourth = rng_.range(2, 254);
      std::string ip = "10." + std::to_string(ns_index + 1) + "." + std::to_string(third) + "." +
                       std::to_string(fourth);
      if (used_ips_.insert(ip).second) return ip;
    }
  }

  static std::vector<ContainerPortModel> ports_for(const std::string& app, Rng& rng) {
    std::vector<ContainerPortModel> p;
    if (app == "web") p = {{"http", 80, "TCP"}, {"metrics", 9090, "TCP"}};
    else if (app == "frontend") p = {{"http", 8080, "TCP"}, {"metrics", 9090, "TCP"}};
    else if (app == "api") {
      p = {{"http", 8080, "TCP"}, {"grpc", 9000, "TCP"}, {"metrics", 9090, "TCP"}};
      if (rng.chance(40)) p.push_back({"http-alt", 8443, "TCP"});
    } else if (app == "db") {
      p = {rng.chance(50) ? ContainerPortModel{"postgres", 5432, "TCP"}
                          : ContainerPortModel{"mysql", 3306, "TCP"}};
    } else if (app == "cache") p = {{"redis", 6379, "TCP"}, {"metrics", 9121, "TCP"}};
    else if (app == "worker") p = {{"metrics", 9100, "TCP"}, {"syslog", 514, "UDP"}};
    else if (rng.chance(50)) p = {{"http", rng.pick(std::vector<int>{80, 8000, 3000}), "TCP"}};
    if (rng.chance(10)) p.push_back({"diameter", 3868, "SCTP"});
    if (rng.chance(10)) p.push_back({"dns", 5353, "UDP"});  // a "dns" that is not 53
    if (rng.chance(8)) p.push_back({"admin", 9901, rng.chance(50) ? "TCP" : "UDP"});
    if (rng.chance(8)) p.clear();  // no declared ports at all
    return p;
  }

  void make_pods() {
    for (int i = 0; i < opt_.pods; ++i) {
      PodModel p;
      const int ns_index = int(rng_.below(nss_.size()));
      p.ns = nss_[size_t(ns_index)].name;
      std::string app;
      if (rng_.chance(88)) app = rng_.pick(pod_vocab()[0].values);
      p.name = (app.empty() ? std::string("pod") : app) + "-" + std::to_string(i);
      if (!app.empty()) p.labels.emplace_back("app", app);
      for (size_t k = 1; k < pod_vocab().size(); ++k)
        if (rng_.chance(45)) p.labels.emplace_back(pod_vocab()[k].key, rng_.pick(pod_vocab()[k].values));
      if (p.labels.empty()) feat("pod:no-labels");
      if (rng_.chance(25)) p.sa = rng_.pick(std::vector<const char*>{"api-sa", "reader", "default"});
      p.node = "worker-" + std::to_string(rng_.range(1, 3));
      p.ports = ports_for(app, rng_);
      const int ipk = int(rng_.weighted({55, 37, 5, 3}));  // v4, dual, v6-only, none
      if (ipk == 0 || ipk == 1) p.ips.push_back(fresh_v4(ns_index));
      if (ipk == 1 || ipk == 2) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "fd00::%x:%x", unsigned(ns_index + 1), unsigned(i + 1));
        p.ips.push_back(buf);
        feat("pod:ipv6");
      }
      if (ipk == 2) feat("pod:ipv6-only");
      if (ipk == 3) feat("pod:no-ip");
      for (const auto& cp : p.ports) {
        feat("pod:port-" + cp.proto);
        port_names_.insert(cp.name);
      }
      pods_.push_back(std::move(p));
    }
    // kube-system with kube-dns.
    PodModel dns;
    dns.ns = "kube-system";
    dns.name = "coredns";
    dns.node = "worker-1";
    dns.sa = "coredns";
    dns.labels = {{"k8s-app", "kube-dns"}};
    dns.ports = {{"dns", 53, "UDP"}, {"dns-tcp", 53, "TCP"}, {"metrics", 9153, "TCP"}};
    dns.ips.push_back("10.250.0.10");
    if (rng_.chance(50)) dns.ips.push_back("fd00::53");
    pods_.push_back(std::move(dns));
  }

  void emit_inventory() {
    std::vector<Y> objs;
    std::vector<NsModel> all = nss_;
    all.push_back({"kube-system", {}});
    for (const auto& n : all) {
      Y meta = Y::map();
      meta.add("name", Y::str(n.name));
      if (!n.labels.empty() || rng_.chance(50)) {
        Y labels = Y::map();
        labels.add("kubernetes.io/metadata.name", Y::str(n.name));
        for (const auto& [k, v] : n.labels) labels.add(k, Y::str(v));
        meta.add("labels", labels);
      }
      Y obj = Y::map();
      obj.add("apiVersion", Y::str("v1")).add("kind", Y::str("Namespace")).add("metadata", meta);
      objs.push_back(std::move(obj));
    }
    for (const auto& p : pods_) {
      Y meta = Y::map();
      meta.add("name", Y::str(p.name)).add("namespace", Y::str(p.ns));
      if (!p.labels.empty()) {
        Y labels = Y::map();
        for (const auto& [k, v] : p.labels) labels.add(k, Y::str(v));
        meta.add("labels", labels);
      }
      Y container = Y::map();
      container.add("name", Y::str("main")).add("image", Y::str("example/" + p.name + ":1.0"));
      if (!p.ports.empty()) {
        Y ports = Y::list();
        for (const auto& cp : p.ports) {
          Y port = Y::map();
          port.add("name", Y::str(cp.name)).add("containerPort", Y::num(cp.port));
          if (cp.proto != "TCP" || rng_.chance(60)) port.add("protocol", Y::str(cp.proto));
          ports.push(port);
        }
        container.add("ports", ports);
      }
      Y spec = Y::map();
      spec.add("nodeName", Y::str(p.node));
      if (!p.sa.empty()) spec.add("serviceAccountName", Y::str(p.sa));
      spec.add("containers", Y::list().push(container));
      Y obj = Y::map();
      obj.add("apiVersion", Y::str("v1")).add("kind", Y::str("Pod")).add("metadata", meta).add(
          "spec", spec);
      if (!p.ips.empty()) {
        Y status = Y::map();
        status.add("podIP", Y::str(p.ips[0]));
        Y ips = Y::list();
        for (const auto& ip : p.ips) ips.push(Y::map().add("ip", Y::str(ip)));
        status.add("podIPs", ips);
        obj.add("status", status);
      }
      objs.push_back(std::move(obj));
    }
    if (rng_.chance(40)) {  // kubectl get -o yaml prints a List
      Y list = Y::map();
      Y items = Y::list();
      for (auto& o : objs) items.push(std::move(o));
      list.add("apiVersion", Y::str("v1")).add("kind", Y::str("List")).add("items", items);
      out_.inventory_yaml = emit_document(list);
      feat("inventory:list");
    } else {
      std::string docs;
      for (const auto& o : objs) {
        if (!docs.empty()) docs += "---\n";
        docs += emit_document(o);
      }
      out_.inventory_yaml = docs;
    }
  }

  void make_dns_cache() {
    std::vector<ir::IpAddr> shared;
    for (const auto& p : pods_) {
      if (!rng_.chance(60)) continue;
      const int n = rng_.range(1, 3);
      std::set<std::string> names;
      for (int i = 0; i < n; ++i) {
        std::string name = rng_.pick(kCacheNames);
        if (!names.insert(name).second) continue;
        ir::DnsCacheEntry e;
        e.endpoint = p.ns + "/" + p.name;
        e.name = name;
        const int ips = rng_.range(1, 2);
        for (int k = 0; k < ips; ++k) {
          ir::IpAddr ip;
          if (!shared.empty() && rng_.chance(20)) {
            ip = rng_.pick(shared);  // one address behind two names
            feat("fqdn:shared-ip");
          } else if (rng_.chance(25)) {
            ip = random_in(must_cidr("2001:db8:f00d::/64"), rng_);
          } else {
            ip = random_in(rng_.chance(50) ? must_cidr("203.0.113.0/24") : must_cidr("198.51.100.0/24"),
                           rng_);
          }
          if (std::find(e.ips.begin(), e.ips.end(), ip) == e.ips.end()) e.ips.push_back(ip);
          shared.push_back(ip);
        }
        out_.dns_cache.push_back(std::move(e));
        feat("fqdn:cache-entry");
      }
    }
  }

  // ------------------------------------------------------------ selectors

  // A key as a CNP may write it: bare (any:), k8s: or any: prefixed.
  std::string cilium_key(const std::string& key) {
    switch (rng_.weighted({75, 20, 5})) {
      case 1: feat("selector:k8s-prefix"); return "k8s:" + key;
      case 2: feat("selector:any-prefix"); return "any:" + key;
      default: return key;
    }
  }

  Y expression(const std::string& key, const std::vector<const char*>& values, const char* op) {
    Y e = Y::map();
    e.add("key", Y::str(key)).add("operator", Y::str(op));
    if (std::string_view(op) == "In" || std::string_view(op) == "NotIn") {
      Y vals = Y::list();
      std::set<std::string> seen;
      const int n = rng_.range(1, 2);
      for (int i = 0; i < n; ++i) {
        std::string v = rng_.pick(values);
        if (seen.insert(v).second) vals.push(Y::str(v));
      }
      e.add("values", vals);
    }
    feat(std::string("selector:op-") + op);
    return e;
  }

  // matchLabels and/or matchExpressions over the pod vocabulary; never empty.
  // `cilium` adds source prefixes; `extra` adds requirements first.
  Y vocab_selector(bool cilium, std::vector<std::pair<std::string, std::string>> extra = {},
                   std::vector<Y> extra_exprs = {}) {
    Y labels = Y::map();
    Y exprs = Y::list();
    for (auto& [k, v] : extra) labels.add(k, Y::str(v));
    for (auto& e : extra_exprs) exprs.push(std::move(e));
    std::set<std::string> used;
    const int nlabels = int(rng_.weighted({15, 60, 25}));
    for (int i = 0; i < nlabels; ++i) {
      const auto& v = rng_.pick(pod_vocab());
      if (!used.insert(v.key).second) continue;
      // One draw per statement: argument evaluation order is unspecified.
      std::string key = cilium ? cilium_key(v.key) : v.key;
      labels.add(key, Y::str(rng_.pick(v.values)));
    }
    if (rng_.chance(35) || (labels.keys.empty() && exprs.items.empty())) {
      const int nexpr = rng_.range(1, 2);
      for (int i = 0; i < nexpr; ++i) {
        const auto& v = rng_.pick(pod_vocab());
        if (!used.insert(v.key).second) continue;
        static const std::vector<const char*> ops = {"In", "NotIn", "Exists", "DoesNotExist"};
        std::string key = cilium ? cilium_key(v.key) : v.key;
        exprs.push(expression(key, v.values, rng_.pick(ops)));
      }
      if (labels.keys.empty() && exprs.items.empty())
        labels.add("app", Y::str(rng_.pick(pod_vocab()[0].values)));
    }
    Y sel = Y::map();
    if (!labels.keys.empty()) {
      sel.add("matchLabels", labels);
      feat("selector:matchLabels");
    }
    if (!exprs.items.empty()) {
      sel.add("matchExpressions", exprs);
      feat("selector:matchExpressions");
    }
    return sel;
  }

  const std::string& random_ns(bool include_kube_system) {
    static const std::string ks = "kube-system";
    if (include_kube_system && rng_.chance(15)) return ks;
    return rng_.pick(nss_).name;
  }

  Y kube_dns_selector() {
    feat("peer:kube-dns");
    Y labels = Y::map();
    labels.add(rng_.chance(70) ? std::string("k8s:") + kNsKey : std::string(kNsKey),
               Y::str("kube-system"));
    labels.add(rng_.chance(50) ? "k8s:k8s-app" : "k8s-app", Y::str("kube-dns"));
    return Y::map().add("matchLabels", labels);
  }

  // A fromEndpoints/toEndpoints/fromRequires selector of a CNP or CCNP.
  Y peer_selector(bool egress) {
    switch (rng_.weighted({12, 45, 15, 6, 7, 5, egress ? 7 : 0, 3})) {
      case 0: feat("peer:empty-selector"); return Y::map();
      case 1: return vocab_selector(true);
      case 2:
        feat("peer:explicit-namespace");
        return vocab_selector(true, {{rng_.chance(60) ? std::string("k8s:") + kNsKey : std::string(kNsKey),
                                      random_ns(true)}});
      case 3:
        feat("peer:explicit-namespace");
        return Y::map().add("matchLabels",
                            Y::map().add(std::string("k8s:") + kNsKey, Y::str(random_ns(true))));
      case 4: {
        feat("peer:namespace-labels");
        const auto& v = rng_.pick(ns_vocab());
        if (rng_.chance(50))
          return Y::map().add("matchLabels", Y::map().add(std::string("k8s:") + kNsLabels + v.key,
                                                          Y::str(rng_.pick(v.values))));
        return vocab_selector(true, {{std::string("k8s:") + kNsLabels + v.key, rng_.pick(v.values)}});
      }
      case 5: {
        feat("peer:namespace-expression");
        std::vector<const char*> names;
        for (const auto& n : nss_) names.push_back(n.name.c_str());
        names.push_back("kube-system");
        std::vector<Y> e;
        e.push_back(expression(std::string("k8s:") + kNsKey, names, rng_.chance(70) ? "In" : "NotIn"));
        if (rng_.chance(50)) return Y::map().add("matchExpressions", Y::list().push(e[0]));
        return vocab_selector(true, {}, std::move(e));
      }
      case 6: return kube_dns_selector();
      default: {
        feat("peer:reserved-selector");
        const char* r = rng_.pick(std::vector<const char*>{"reserved:host", "reserved:world",
                                                           "reserved:remote-node"});
        if (rng_.chance(50)) return Y::map().add("matchLabels", Y::map().add(r, Y::str("")));
        Y e = Y::map();
        e.add("key", Y::str(r)).add("operator", Y::str("Exists"));
        return Y::map().add("matchExpressions", Y::list().push(e));
      }
    }
  }

  // ---------------------------------------------------------------- CIDRs

  ir::Cidr random_prefix(bool v6, int max_extra) {
    ir::Cidr base = must_cidr(v6 ? rng_.pick(kV6Bases) : rng_.pick(kV4Bases));
    const int bits = v6 ? 128 : 32;
    int len = std::min(bits, base.prefix + rng_.range(0, max_extra));
    ir::IpAddr a = random_bits(base.addr, base.prefix, len, rng_);
    return make_cidr(a, len);
  }

  // A fromCIDR/toCIDR value: a prefix, sometimes a host route or a prefix
  // with host bits set (net.ParseCIDR and netip.ParsePrefix accept it). A
  // bare address passes Cilium's sanitize but not the CRD's `format: cidr`.
  std::string cidr_text(bool v6) {
    ir::Cidr c = random_prefix(v6, 12);
    const int bits = v6 ? 128 : 32;
    if (rng_.chance(12)) {
      feat("cidr:host-route");
      return random_bits(c.addr, c.prefix, bits, rng_).to_string() + "/" + std::to_string(bits);
    }
    if (c.prefix > 0 && c.prefix < bits && rng_.chance(4)) {
      feat("cidr:host-bits-set");
      ir::IpAddr a = c.addr;
      set_bit(a, bits - 1, true);
      return a.to_string() + "/" + std::to_string(c.prefix);
    }
    return c.to_string();
  }

  // A CIDRSet entry / ipBlock: cidr plus excepts strictly inside it.
  Y cidr_rule(bool v6, bool knp) {
    ir::Cidr c = random_prefix(v6, 10);
    const int bits = v6 ? 128 : 32;
    Y r = Y::map();
    r.add("cidr", Y::str(c.to_string()));
    if (v6) feat("cidr:ipv6");
    if (c.prefix < bits && rng_.chance(60)) {
      Y ex = Y::list();
      const int n = rng_.range(1, 2);
      std::set<std::string> seen;
      for (int i = 0; i < n; ++i) {
        int len = std::min(bits, c.prefix + rng_.range(1, 8));
        ir::Cidr e = make_cidr(random_bits(c.addr, c.prefix, len, rng_), len);
        if (seen.insert(e.to_string()).second) ex.push(Y::str(e.to_string()));
      }
      if (!knp && rng_.chance(5)) {
        ex.push(Y::str(c.to_string()));  // excepts the whole prefix
        feat("cidr:except-everything");
      }
      r.add("except", ex);
      feat("cidr:except");
    }
    return r;
  }

  // ---------------------------------------------------------------- ports

  std::string proto_choice(bool allow_omit) {
    switch (rng_.weighted({40, 20, 8, 12, allow_omit ? 20 : 0})) {
      case 0: feat("proto:TCP"); return "TCP";
      case 1: feat("proto:UDP"); return "UDP";
      case 2: feat("proto:SCTP"); return "SCTP";
      case 3: feat("proto:ANY"); return "ANY";
      default: feat("proto:omitted"); return "";
    }
  }

  int pool_port() {
    if (!hot_ports_.empty() && rng_.chance(30)) return rng_.pick(hot_ports_);
    int p = rng_.chance(80) ? rng_.pick(kPortPool) : rng_.range(1024, 65535);
    hot_ports_.push_back(p);
    return p;
  }

  // One L4 PortProtocol (no L7 on it).
  Y l4_port() {
    Y p = Y::map();
    switch (rng_.weighted({50, 20, 5, opt_.named_ports ? 17 : 0})) {
      case 0: p.add("port", Y::str(std::to_string(pool_port()))); feat("port:number"); break;
      case 1: {
        int start = rng_.chance(50) ? pool_port() : rng_.range(1, 60000);
        int end;
        switch (rng_.weighted({70, 10, 8, 7, 5})) {
          case 0: end = std::min(65535, start + rng_.pick(std::vector<int>{1, 7, 99, 1000})); feat("port:range"); break;
          case 1: end = 65535; feat("port:range-to-65535"); break;
          case 2: end = start; feat("port:range-single"); break;
          case 3: end = std::max(0, start - rng_.range(1, 10)); feat("port:range-inverted"); break;
          default: start = 1; end = rng_.pick(std::vector<int>{1023, 1024, 65535}); feat("port:range"); break;
        }
        p.add("port", Y::str(std::to_string(start))).add("endPort", Y::num(end));
        break;
      }
      case 2: p.add("port", Y::str("0")); feat("port:zero"); break;
      default: {
        std::string name = rng_.pick(kPortNames);
        p.add("port", Y::str(name));
        feat("port:named");
        if (rng_.chance(5)) {
          p.add("endPort", Y::num(rng_.range(1, 65535)));  // ignored for a named port
          feat("port:named-with-endPort");
        }
        break;
      }
    }
    std::string proto = proto_choice(true);
    if (!proto.empty()) p.add("protocol", Y::str(proto));
    return p;
  }

  Y l4_port_rule() {
    Y ports = Y::list();
    const int n = int(rng_.weighted({0, 65, 25, 10}));
    for (int i = 0; i < n; ++i) ports.push(l4_port());
    return Y::map().add("ports", ports);
  }

  // A regex from a pool, sometimes an alternation of two.
  Y http_rule() {
    Y h = Y::map();
    if (rng_.chance(6)) {
      feat("l7:http-empty-rule");
      return h;  // {} allows every request
    }
    if (rng_.chance(70)) h.add("method", Y::str(rng_.pick(kHttpMethods)));
    if (rng_.chance(75) || h.keys.empty()) h.add("path", Y::str(rng_.pick(kHttpPaths)));
    if (rng_.chance(20)) {
      h.add("host", Y::str(rng_.pick(kHttpHosts)));
      feat("l7:http-host");
    }
    if (rng_.chance(20)) {
      Y hs = Y::list();
      hs.push(Y::str(rng_.pick(kHttpHeaders)));
      h.add("headers", hs);
      feat("l7:http-headers");
    }
    if (rng_.chance(8)) {
      Y hm = Y::map();
      hm.add("name", Y::str("X-Tenant")).add("value", Y::str(rng_.pick(std::vector<const char*>{"a", "b"})));
      h.add("headerMatches", Y::list().push(hm));
      feat("l7:http-headerMatches");
    }
    return h;
  }

  // An HTTP port rule: TCP, single non-zero ports (numbers or names).
  Y http_port_rule() {
    Y ports = Y::list();
    const int n = rng_.chance(80) ? 1 : 2;
    for (int i = 0; i < n; ++i) {
      Y p = Y::map();
      if (opt_.named_ports && rng_.chance(25)) {
        p.add("port", Y::str(rng_.chance(75) ? "http" : "http-alt"));
        feat("l7:http-named-port");
      } else {
        int port = rng_.pick(std::vector<int>{80, 8080, 443, 9000, 8443});
        p.add("port", Y::str(std::to_string(port)));
      }
      p.add("protocol", Y::str("TCP"));
      ports.push(p);
    }
    Y http = Y::list();
    const int nr = int(rng_.weighted({0, 55, 30, 15}));
    for (int i = 0; i < nr; ++i) http.push(http_rule());
    feat("l7:http");
    return Y::map().add("ports", ports).add("rules", Y::map().add("http", http));
  }

  Y dns_port_rule() {
    Y port = Y::map();
    port.add("port", Y::str("53")).add("protocol", Y::str(rng_.chance(50) ? "UDP" : "ANY"));
    Y dns = Y::list();
    const int n = rng_.range(1, 3);
    for (int i = 0; i < n; ++i) {
      if (rng_.chance(35)) {
        dns.push(Y::map().add("matchName", Y::str(rng_.pick(kDnsNames))));
        feat("l7:dns-matchName");
      } else {
        const bool all = rng_.chance(6);
        dns.push(Y::map().add("matchPattern", Y::str(all ? "*" : rng_.pick(kDnsPatterns))));
        feat(all ? "l7:dns-matchPattern-star" : "l7:dns-matchPattern");
      }
    }
    feat("l7:dns");
    return Y::map().add("ports", Y::list().push(port)).add("rules", Y::map().add("dns", dns));
  }

  Y icmps(bool) {
    Y fields = Y::list();
    const int n = rng_.range(1, 3);
    for (int i = 0; i < n; ++i) {
      Y f = Y::map();
      const bool v6 = rng_.chance(35);
      if (v6) {
        f.add("family", Y::str("IPv6"));
        feat("icmp:ipv6");
      } else if (rng_.chance(50)) {
        f.add("family", Y::str("IPv4"));
      } else {
        feat("icmp:family-omitted");
      }
      if (rng_.chance(40)) {
        const auto& nm = v6 ? rng_.pick(kIcmp6Names) : rng_.pick(kIcmp4Names);
        f.add("type", Y::str(nm.name));
        feat("icmp:named");
      } else {
        int t = rng_.chance(80) ? (v6 ? rng_.pick(std::vector<int>{128, 129, 1, 135})
                                      : rng_.pick(std::vector<int>{0, 3, 8, 11}))
                                : rng_.range(0, 255);
        if (rng_.chance(15)) {
          f.add("type", Y::str(std::to_string(t)));  // IntOrString as a string
          feat("icmp:numeric-string");
        } else {
          f.add("type", Y::num(t));
        }
        feat("icmp:numeric");
      }
      fields.push(f);
    }
    return Y::list().push(Y::map().add("fields", fields));
  }

  // ------------------------------------------------------------- entries

  enum class L3 { None, Endpoints, Entities, Cidr, CidrSet, Fqdn };

  // The L3 fields of one entry (as (key, value) pairs to share with a sibling).
  std::vector<std::pair<std::string, Y>> l3_fields(L3 kind, bool ingress, bool allow, bool& to_kube_dns) {
    const std::string pfx = ingress ? "from" : "to";
    std::vector<std::pair<std::string, Y>> out;
    switch (kind) {
      case L3::None: break;
      case L3::Endpoints: {
        Y list = Y::list();
        const int n = rng_.chance(75) ? 1 : 2;
        for (int i = 0; i < n; ++i) {
          if (to_kube_dns && i == 0) {
            list.push(kube_dns_selector());
          } else {
            list.push(peer_selector(!ingress));
          }
        }
        out.emplace_back(pfx + "Endpoints", list);
        feat(pfx + "Endpoints");
        if (opt_.requires_ && rng_.chance(30)) {
          Y req = Y::list().push(peer_selector(false));
          out.emplace_back(pfx + "Requires", req);
          feat("requires:" + pfx + "Requires");
        }
        break;
      }
      case L3::Entities: {
        Y list = Y::list();
        const int n = rng_.chance(75) ? 1 : 2;
        for (int i = 0; i < n; ++i) {
          std::string e = rng_.chance(93) ? rng_.pick(kEntities) : rng_.pick(kRareEntities);
          list.push(Y::str(e));
          feat("entity:" + e);
        }
        out.emplace_back(pfx + "Entities", list);
        break;
      }
      case L3::Cidr: {
        Y list = Y::list();
        const int n = rng_.chance(70) ? 1 : 2;
        for (int i = 0; i < n; ++i) {
          const bool v6 = rng_.chance(30);
          if (v6) feat("cidr:ipv6");
          list.push(Y::str(cidr_text(v6)));
        }
        out.emplace_back(pfx + "CIDR", list);
        feat("cidr:" + pfx + "CIDR");
        break;
      }
      case L3::CidrSet: {
        Y list = Y::list();
        const int n = rng_.chance(70) ? 1 : 2;
        for (int i = 0; i < n; ++i) list.push(cidr_rule(rng_.chance(30), false));
        out.emplace_back(pfx + "CIDRSet", list);
        feat("cidr:" + pfx + "CIDRSet");
        break;
      }
      case L3::Fqdn: {
        Y list = Y::list();
        const int n = rng_.chance(70) ? 1 : 2;
        for (int i = 0; i < n; ++i) {
          if (rng_.chance(50)) {
            list.push(Y::map().add("matchName", Y::str(rng_.pick(kFqdnNames))));
            feat("fqdn:matchName");
          } else {
            list.push(Y::map().add("matchPattern", Y::str(rng_.pick(kFqdnPatterns))));
            feat("fqdn:matchPattern");
          }
        }
        out.emplace_back("toFQDNs", list);
        break;
      }
    }
    (void)allow;
    return out;
  }

  L3 pick_l3(bool ingress, bool allow) {
    const bool cidr = opt_.cidr;
    return L3(1 + rng_.weighted({40, 16, cidr ? 12 : 0, cidr ? 12 : 0,
                                 (opt_.fqdn && !ingress && allow) ? 14 : 0}));
  }

  static Y entry_of(const std::vector<std::pair<std::string, Y>>& fields) {
    Y e = Y::map();
    for (const auto& [k, v] : fields) e.add(k, v);
    return e;
  }

  // One or more entries of a section (a sibling may follow an L7 entry).
  std::vector<Y> entries(bool ingress, bool allow) {
    const std::string pfx = ingress ? "from" : "to";
    const bool icmp = opt_.icmp;
    enum Shape { L3Ports, L3Only, PortsOnly, L3Icmp, IcmpOnly, Empty, EmptyList, RequiresOnly };
    Shape shape = Shape(rng_.weighted({34, allow ? 18 : 30, 16, icmp ? 6 : 0, icmp ? 4 : 0, 3, 4,
                                       opt_.requires_ ? 3 : 0}));
    std::vector<Y> out;
    if (shape == Empty) {
      feat("entry:empty");
      out.push_back(Y::map());
      return out;
    }
    if (shape == EmptyList) {
      feat("entry:empty-list");
      Y e = Y::map();
      std::string field = pfx + rng_.pick(std::vector<const char*>{"Endpoints", "Entities", "CIDR"});
      if (field == pfx + "CIDR" && !opt_.cidr) field = pfx + "Endpoints";
      e.add(field, Y::list());
      if (rng_.chance(50)) e.add("toPorts", Y::list().push(l4_port_rule()));
      out.push_back(std::move(e));
      return out;
    }
    if (shape == RequiresOnly) {
      feat("requires:only");
      out.push_back(Y::map().add(pfx + "Requires", Y::list().push(peer_selector(false))));
      return out;
    }
    L3 l3 = (shape == PortsOnly || shape == IcmpOnly) ? L3::None : pick_l3(ingress, allow);
    // L7 (allow sections only): DNS on egress port 53, HTTP anywhere.
    enum L7 { NoL7, Http, Dns } l7 = NoL7;
    if (allow && opt_.l7 && (shape == L3Ports || shape == PortsOnly)) {
      l7 = L7(rng_.weighted({55, 30, ingress ? 0 : 15}));
    }
    bool to_kube_dns = l7 == Dns && l3 == L3::Endpoints && rng_.chance(70);
    auto fields = l3_fields(l3, ingress, allow, to_kube_dns);
    Y e = entry_of(fields);
    Y l7_ports;  // the ports of the L7 rule, for a wildcard sibling
    switch (shape) {
      case L3Ports:
      case PortsOnly: {
        Y prs = Y::list();
        if (l7 == Http) {
          Y pr = http_port_rule();
          l7_ports = pr.values[0];
          prs.push(std::move(pr));
        } else if (l7 == Dns) {
          Y pr = dns_port_rule();
          l7_ports = pr.values[0];
          prs.push(std::move(pr));
        }
        if (prs.items.empty() || rng_.chance(20)) prs.push(l4_port_rule());
        if (rng_.chance(3)) {
          prs.push(Y::map());  // a port rule without ports: no L4 filter
          feat("port:rule-without-ports");
        }
        e.add("toPorts", prs);
        feat(shape == PortsOnly ? "entry:ports-only" : "entry:l3-and-ports");
        break;
      }
      case L3Only: feat("entry:l3-only"); break;
      case L3Icmp:
      case IcmpOnly:
        e.add("icmps", icmps(allow));
        feat(shape == IcmpOnly ? "entry:icmp-only" : "entry:l3-and-icmp");
        break;
      default: break;
    }
    out.push_back(std::move(e));
    // Cilium's L7 wildcard: an allow for the same port without L7.
    if (l7 != NoL7 && rng_.chance(40)) {
      Y pr = Y::map().add("ports", l7_ports);
      switch (rng_.weighted({45, 35, 20})) {
        case 0: {
          Y s = entry_of(fields);
          s.add("toPorts", Y::list().push(pr));
          out.push_back(std::move(s));
          feat("l7:wildcard-sibling-same-peer");
          break;
        }
        case 1:
          out.push_back(Y::map().add("toPorts", Y::list().push(pr)));
          feat("l7:wildcard-sibling-any-peer");
          break;
        default:
          if (!fields.empty()) {
            out.push_back(entry_of(fields));  // L3-only does not void L7
            feat("l7:l3-only-sibling");
          }
          break;
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- rules

  Y subject_selector(Kind kind, const std::string& ns) {
    if (kind == Kind::Cnp) {
      switch (rng_.weighted({12, 80, 8})) {
        case 0: feat("subject:empty"); return Y::map();
        case 1: return vocab_selector(true);
        default:
          feat("subject:own-namespace");
          return vocab_selector(true, {{std::string("k8s:") + kNsKey, ns}});
      }
    }
    switch (rng_.weighted({15, 60, 20, 5})) {
      case 0: feat("subject:empty"); return Y::map();
      case 1: return vocab_selector(true);
      case 2:
        feat("subject:ccnp-namespace");
        return vocab_selector(true, {{std::string("k8s:") + kNsKey, random_ns(true)}});
      default:
        feat("subject:ccnp-reserved-init");
        return Y::map().add("matchLabels", Y::map().add("reserved:init", Y::str("")));
    }
  }

  Y rule(Kind kind, const std::string& ns) {
    Y r = Y::map();
    r.add("endpointSelector", subject_selector(kind, ns));
    if (rng_.chance(15)) r.add("description", Y::str("generated rule"));
    bool sec[4] = {rng_.chance(65), rng_.chance(55), opt_.deny && rng_.chance(25),
                   opt_.deny && rng_.chance(20)};
    if (!sec[0] && !sec[1] && !sec[2] && !sec[3] && rng_.chance(90)) sec[rng_.below(2)] = true;
    static const char* names[4] = {"ingress", "egress", "ingressDeny", "egressDeny"};
    for (int s = 0; s < 4; ++s) {
      if (!sec[s]) {
        if (rng_.chance(3)) {
          r.add(names[s], Y::list());  // present but empty: no section
          feat("section:empty-list");
        }
        continue;
      }
      const bool ingress = s == 0 || s == 2;
      const bool allow = s < 2;
      Y list = Y::list();
      const int n = int(rng_.weighted({0, 50, 35, 15}));
      for (int i = 0; i < n; ++i)
        for (auto& e : entries(ingress, allow)) list.push(std::move(e));
      r.add(names[s], list);
      feat(std::string("section:") + names[s]);
    }
    if (rng_.chance(20)) {
      Y edd = Y::map();
      if (rng_.chance(60)) edd.add("ingress", Y::boolean(!rng_.chance(80)));
      if (rng_.chance(60)) edd.add("egress", Y::boolean(!rng_.chance(80)));
      for (size_t i = 0; i < edd.keys.size(); ++i)
        if (edd.values[i].text == "false") feat("enableDefaultDeny:" + edd.keys[i] + "-false");
      r.add("enableDefaultDeny", edd);
    }
    return r;
  }

  Y cilium(int index, Kind kind) {
    const bool cnp = kind == Kind::Cnp;
    const std::string ns = cnp ? random_ns(true) : "";
    feat(cnp ? "kind:CNP" : "kind:CCNP");
    Y meta = Y::map();
    meta.add("name", Y::str((cnp ? "cnp-" : "ccnp-") + std::to_string(index)));
    if (cnp) meta.add("namespace", Y::str(ns));
    Y obj = Y::map();
    obj.add("apiVersion", Y::str("cilium.io/v2"))
        .add("kind", Y::str(cnp ? "CiliumNetworkPolicy" : "CiliumClusterwideNetworkPolicy"))
        .add("metadata", meta);
    switch (rng_.weighted({60, 35, 5})) {
      case 0: obj.add("spec", rule(kind, ns)); break;
      case 1: {
        Y specs = Y::list();
        const int n = rng_.range(1, 3);
        for (int i = 0; i < n; ++i) specs.push(rule(kind, ns));
        obj.add("specs", specs);
        feat("object:specs");
        break;
      }
      default: {
        obj.add("spec", rule(kind, ns));
        obj.add("specs", Y::list().push(rule(kind, ns)));
        feat("object:spec-and-specs");
        break;
      }
    }
    return obj;
  }

  // ------------------------------------------------------------------ KNP

  Y knp_ns_selector() {
    if (rng_.chance(35)) {
      feat("knp:namespaceSelector-empty");
      return Y::map();
    }
    if (rng_.chance(40)) {
      return Y::map().add("matchLabels",
                          Y::map().add("kubernetes.io/metadata.name", Y::str(random_ns(true))));
    }
    const auto& v = rng_.pick(ns_vocab());
    if (rng_.chance(70)) return Y::map().add("matchLabels", Y::map().add(v.key, Y::str(rng_.pick(v.values))));
    static const std::vector<const char*> ops = {"In", "NotIn", "Exists", "DoesNotExist"};
    return Y::map().add("matchExpressions", Y::list().push(expression(v.key, v.values, rng_.pick(ops))));
  }

  Y knp_peer() {
    switch (rng_.weighted({30, 25, 20, opt_.cidr ? 25 : 0})) {
      case 0: feat("knp:podSelector"); return Y::map().add("podSelector", rng_.chance(20) ? Y::map() : vocab_selector(false));
      case 1: feat("knp:namespaceSelector"); return Y::map().add("namespaceSelector", knp_ns_selector());
      case 2:
        feat("knp:pod-and-namespace");
        return Y::map()
            .add("podSelector", rng_.chance(20) ? Y::map() : vocab_selector(false))
            .add("namespaceSelector", knp_ns_selector());
      default: feat("knp:ipBlock"); return Y::map().add("ipBlock", cidr_rule(rng_.chance(30), true));
    }
  }

  Y knp_port() {
    Y p = Y::map();
    switch (rng_.weighted({30, 30, 20, 10})) {
      case 1: p.add("protocol", Y::str("TCP")); break;
      case 2: p.add("protocol", Y::str("UDP")); break;
      case 3: p.add("protocol", Y::str("SCTP")); break;
      default: feat("knp:protocol-omitted"); break;
    }
    switch (rng_.weighted({55, opt_.named_ports ? 20 : 0, 10, 15})) {
      case 0: p.add("port", Y::num(std::max(1, pool_port()))); break;
      case 1: p.add("port", Y::str(rng_.pick(kPortNames))); feat("knp:named-port"); break;
      case 2: feat("knp:port-omitted"); break;
      default: {
        int start = std::max(1, rng_.chance(50) ? pool_port() : rng_.range(1, 60000));
        int end = std::min(65535, start + rng_.pick(std::vector<int>{0, 1, 10, 1000}));
        p.add("port", Y::num(start)).add("endPort", Y::num(end));
        feat("knp:endPort");
        break;
      }
    }
    return p;
  }

  Y knp_rule(bool ingress) {
    const char* peers = ingress ? "from" : "to";
    Y r = Y::map();
    if (rng_.chance(10)) {
      feat("knp:rule-empty");
      return r;
    }
    if (!ingress && rng_.chance(25)) {  // the classic DNS egress
      feat("knp:dns-egress");
      Y peer = Y::map();
      peer.add("namespaceSelector",
               Y::map().add("matchLabels", Y::map().add("kubernetes.io/metadata.name", Y::str("kube-system"))));
      if (rng_.chance(60))
        peer.add("podSelector", Y::map().add("matchLabels", Y::map().add("k8s-app", Y::str("kube-dns"))));
      r.add(peers, Y::list().push(peer));
      Y ports = Y::list();
      ports.push(Y::map().add("protocol", Y::str("UDP")).add("port", Y::num(53)));
      if (rng_.chance(60)) ports.push(Y::map().add("protocol", Y::str("TCP")).add("port", Y::num(53)));
      r.add("ports", ports);
      return r;
    }
    if (rng_.chance(75)) {
      Y list = Y::list();
      const int n = rng_.chance(70) ? 1 : 2;
      for (int i = 0; i < n; ++i) list.push(knp_peer());
      r.add(peers, list);
    } else {
      feat("knp:no-peers");
    }
    if (rng_.chance(60)) {
      Y ports = Y::list();
      const int n = rng_.chance(70) ? 1 : 2;
      for (int i = 0; i < n; ++i) ports.push(knp_port());
      r.add("ports", ports);
    }
    return r;
  }

  Y knp(int index) {
    feat("kind:KNP");
    const std::string ns = random_ns(true);
    Y spec = Y::map();
    if (rng_.chance(25)) {
      spec.add("podSelector", Y::map());
      feat("knp:podSelector-empty");
    } else {
      spec.add("podSelector", vocab_selector(false));
    }
    bool ingress = true, egress = false;
    switch (rng_.weighted({30, 25, 15, 30})) {
      case 0:
        feat("knp:policyTypes-omitted");
        egress = rng_.chance(40);
        break;
      case 1: spec.add("policyTypes", Y::list().push(Y::str("Ingress"))); feat("knp:policyTypes-Ingress"); break;
      case 2:
        spec.add("policyTypes", Y::list().push(Y::str("Egress")));
        ingress = false;
        egress = true;
        feat("knp:policyTypes-Egress");
        break;
      default:
        spec.add("policyTypes", Y::list().push(Y::str("Ingress")).push(Y::str("Egress")));
        egress = true;
        feat("knp:policyTypes-both");
        break;
    }
    for (int d = 0; d < 2; ++d) {
      const bool in = d == 0;
      if (!(in ? ingress : egress)) continue;
      const int n = int(rng_.weighted({15, 45, 30, 10}));
      if (n == 0) {
        if (rng_.chance(50)) spec.add(in ? "ingress" : "egress", Y::list());
        feat(in ? "knp:ingress-none" : "knp:egress-none");
        continue;
      }
      Y list = Y::list();
      for (int i = 0; i < n; ++i) list.push(knp_rule(in));
      spec.add(in ? "ingress" : "egress", list);
    }
    Y obj = Y::map();
    obj.add("apiVersion", Y::str("networking.k8s.io/v1"))
        .add("kind", Y::str("NetworkPolicy"))
        .add("metadata", Y::map().add("name", Y::str("knp-" + std::to_string(index))).add("namespace", Y::str(ns)))
        .add("spec", spec);
    return obj;
  }

  Rng rng_;
  const RandomOptions& opt_;
  RandomCluster& out_;
  std::vector<NsModel> nss_;
  std::vector<PodModel> pods_;
  std::set<std::string> used_ips_;
  std::set<std::string> port_names_;
  std::vector<int> hot_ports_;
};

// =============================================================== regexes

// A tiny sampler for the regexes policies use: literals, '.', classes,
// groups with alternation, ?, *, +, {n,m}. Anything else: nullopt.
struct RNode;
struct RItem {
  std::shared_ptr<RNode> node;
  int min = 1, max = 1;
};
struct RNode {
  enum class T { Lit, Any, Class, Group, Empty } t = T::Lit;
  char c = 0;
  std::vector<std::pair<unsigned char, unsigned char>> ranges;
  bool negated = false;
  std::vector<std::vector<RItem>> alts;
};

class RegexParser {
 public:
  explicit RegexParser(std::string_view p) : p_(p) {}
  std::optional<std::vector<std::vector<RItem>>> parse() {
    auto a = alts();
    if (!ok_ || i_ != p_.size()) return std::nullopt;
    return a;
  }

 private:
  std::vector<std::vector<RItem>> alts() {
    std::vector<std::vector<RItem>> out(1);
    while (ok_ && i_ < p_.size() && p_[i_] != ')') {
      if (p_[i_] == '|') {
        ++i_;
        out.emplace_back();
        continue;
      }
      RItem it;
      it.node = atom();
      if (!ok_) break;
      quant(it);
      out.back().push_back(std::move(it));
    }
    return out;
  }
  void cls_escape(char e, RNode& n) {
    switch (e) {
      case 'd': n.ranges.push_back({'0', '9'}); break;
      case 'w': n.ranges.insert(n.ranges.end(), {{'a', 'z'}, {'A', 'Z'}, {'0', '9'}, {'_', '_'}}); break;
      case 's': n.ranges.push_back({' ', ' '}); break;
      default: n.ranges.push_back({static_cast<unsigned char>(e), static_cast<unsigned char>(e)});
    }
  }
  std::shared_ptr<RNode> atom() {
    auto n = std::make_shared<RNode>();
    char c = p_[i_++];
    switch (c) {
      case '(': {
        if (i_ < p_.size() && p_[i_] == '?') {
          if (p_.substr(i_, 2) == "?:") {
            i_ += 2;
          } else {
            ok_ = false;
            return n;
          }
        }
        n->t = RNode::T::Group;
        n->alts = alts();
        if (i_ >= p_.size() || p_[i_] != ')') ok_ = false;
        ++i_;
        return n;
      }
      case '[': {
        n->t = RNode::T::Class;
        if (i_ < p_.size() && p_[i_] == '^') {
          n->negated = true;
          ++i_;
        }
        bool first = true;
        while (i_ < p_.size() && (p_[i_] != ']' || first)) {
          first = false;
          unsigned char lo = static_cast<unsigned char>(p_[i_++]);
          if (lo == '\\' && i_ < p_.size()) {
            cls_escape(p_[i_++], *n);
            continue;
          }
          if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
            unsigned char hi = static_cast<unsigned char>(p_[i_ + 1]);
            i_ += 2;
            n->ranges.push_back({lo, hi});
          } else {
            n->ranges.push_back({lo, lo});
          }
        }
        if (i_ >= p_.size()) ok_ = false;
        ++i_;
        return n;
      }
      case '.': n->t = RNode::T::Any; return n;
      case '^':
      case '$': n->t = RNode::T::Empty; return n;
      case '\\': {
        if (i_ >= p_.size()) {
          ok_ = false;
          return n;
        }
        char e = p_[i_++];
        if (e == 'd' || e == 'w' || e == 's') {
          n->t = RNode::T::Class;
          cls_escape(e, *n);
        } else if (std::isalnum(static_cast<unsigned char>(e))) {
          ok_ = false;  // \b, \A, \pL, ...
        } else {
          n->c = e;
        }
        return n;
      }
      case '*':
      case '+':
      case '?':
      case '{':
      case ')': ok_ = false; return n;
      default: n->c = c; return n;
    }
  }
  void quant(RItem& it) {
    if (i_ >= p_.size()) return;
    char c = p_[i_];
    if (c == '*') {
      it.min = 0, it.max = 2, ++i_;
    } else if (c == '+') {
      it.min = 1, it.max = 2, ++i_;
    } else if (c == '?') {
      it.min = 0, it.max = 1, ++i_;
    } else if (c == '{') {
      size_t close = p_.find('}', i_);
      if (close == std::string_view::npos) {
        ok_ = false;
        return;
      }
      std::string body(p_.substr(i_ + 1, close - i_ - 1));
      i_ = close + 1;
      try {
        size_t comma = body.find(',');
        it.min = std::stoi(body.substr(0, comma));
        if (comma == std::string::npos) it.max = it.min;
        else if (comma + 1 == body.size()) it.max = it.min + 2;
        else it.max = std::stoi(body.substr(comma + 1));
      } catch (...) {
        ok_ = false;
        return;
      }
      it.max = std::min(it.max, it.min + 3);
    } else {
      return;
    }
    if (i_ < p_.size() && p_[i_] == '?') ++i_;  // lazy: same language
  }

  std::string_view p_;
  size_t i_ = 0;
  bool ok_ = true;
};

void sample_alts(const std::vector<std::vector<RItem>>& alts, Rng& rng, std::string& out);

void sample_node(const RNode& n, Rng& rng, std::string& out) {
  static const std::string any = "abcxyz019-_/.";
  switch (n.t) {
    case RNode::T::Lit: out += n.c; break;
    case RNode::T::Empty: break;
    case RNode::T::Any: out += any[rng.below(any.size())]; break;
    case RNode::T::Class: {
      if (!n.negated) {
        if (n.ranges.empty()) break;
        const auto& [lo, hi] = rng.pick(n.ranges);
        out += char(lo + rng.below(uint64_t(std::max(0, int(hi) - int(lo)) + 1)));
        break;
      }
      for (int tries = 0; tries < 32; ++tries) {
        char c = char(rng.range(0x21, 0x7e));
        bool in = std::any_of(n.ranges.begin(), n.ranges.end(), [&](const auto& r) {
          return static_cast<unsigned char>(c) >= r.first && static_cast<unsigned char>(c) <= r.second;
        });
        if (!in) {
          out += c;
          break;
        }
      }
      break;
    }
    case RNode::T::Group: sample_alts(n.alts, rng, out); break;
  }
}

void sample_alts(const std::vector<std::vector<RItem>>& alts, Rng& rng, std::string& out) {
  const auto& seq = rng.pick(alts);
  for (const auto& it : seq) {
    const int reps = rng.range(it.min, std::max(it.min, it.max));
    for (int r = 0; r < reps; ++r) sample_node(*it.node, rng, out);
  }
}

// A string the regex (probably) fully matches; for regexes outside the
// sampler's subset, the pattern with its metacharacters stripped.
std::string sample_regex(const std::string& re, Rng& rng) {
  if (auto ast = RegexParser(re).parse()) {
    std::string out;
    sample_alts(*ast, rng, out);
    return out;
  }
  std::string out;
  for (char c : re)
    if (!std::strchr("\\^$.|?*+()[]{}", c)) out += c;
  return out;
}

// A near miss: one small edit.
std::string mutate(std::string s, Rng& rng) {
  switch (rng.below(6)) {
    case 0: return s + (rng.chance(50) ? "x" : "/");
    case 1: if (!s.empty()) s.pop_back(); return s;
    case 2:
      for (auto& c : s)
        if (std::isalpha(static_cast<unsigned char>(c))) {
          c = char(std::isupper(static_cast<unsigned char>(c)) ? std::tolower(c) : std::toupper(c));
          break;
        }
      return s;
    case 3: return "/x" + s;
    case 4:
      for (auto& c : s)
        if (std::isdigit(static_cast<unsigned char>(c))) {
          c = 'x';
          return s;
        }
      return s + "1";
    default: return s + " ";
  }
}

// ================================================================= flows

const std::vector<const char*> kReqMethods = {"GET", "POST", "PUT", "DELETE", "PATCH",
                                              "HEAD", "OPTIONS", "get", "CONNECT"};
const std::vector<const char*> kReqPaths = {
    "/",           "/api/v1/users", "/api/",          "/api",        "/v1/items",
    "/v10/items",  "/vx/items",     "/healthz",       "/admin",      "/admin/users",
    "/public/index.html", "/static/site.css", "/metrics", "/API/v1", "/api/v2/orders"};
const std::vector<const char*> kReqHosts = {"",          "api.example.com", "API.example.com",
                                            "shop.local", "evil.com",        "x.example.com",
                                            "db.internal"};
const std::vector<const char*> kQueryNames = {
    "kubernetes.default.svc.cluster.local", "api.example.com", "www.example.com", "evil.com",
    "svc.cluster.local", "a.b.svc.cluster.local", "cluster.local", "db.shop.svc.cluster.local."};

uint8_t ip_proto_of(ir::Proto p) { return uint8_t(p); }

class FlowGen {
 public:
  FlowGen(const ir::Evaluator& ev, uint64_t seed) : ev_(ev), rng_(seed ^ 0xF10Bull), eps_(ev.endpoints()) {
    for (ir::EndpointId i = 0; i < eps_.size(); ++i) {
      const auto& e = eps_[i];
      if (e.kind == ir::Endpoint::Kind::Pod) pods_.push_back(i);
      else if (e.kind != ir::Endpoint::Kind::World) others_.push_back(i);
      for (const auto& cp : e.ports) ports_.push_back(cp.port);
    }
    const auto& ps = ev.policies();
    for (ir::RuleId r = 0; r < ps.rules.size(); ++r) {
      const auto& rule = ps.rules[r];
      if (rule.peers)
        for (const auto& p : *rule.peers)
          if (p.kind == ir::Peer::Kind::Cidr) {
            cidrs_.push_back(p.cidr);
            for (const auto& e : p.except) excepts_.push_back(e);
          }
      for (size_t i = 0; i < rule.port_rules.size(); ++i) {
        const auto& pr = rule.port_rules[i];
        for (const auto& m : pr.ports) {
          if (!m.name.empty()) continue;
          for (int v : {int(m.first), int(m.last), int(m.first) - 1, int(m.last) + 1,
                        (int(m.first) + int(m.last)) / 2})
            if (v >= 0 && v <= 65535) ports_.push_back(uint16_t(v));
        }
        if (pr.l7.kind == ir::L7Kind::Http) http_.push_back(&pr);
        if (pr.l7.kind == ir::L7Kind::Dns) dns_.push_back(&pr.l7);
        if (pr.l7.kind != ir::L7Kind::None &&
            (l7_rules_.empty() || l7_rules_.back() != r))
          l7_rules_.push_back(r);
      }
      for (const auto& m : rule.icmps) (m.v6 ? icmp6_ : icmp4_).push_back(m.type);
    }
    for (int t : {0, 3, 8, 11}) icmp4_.push_back(uint8_t(t));
    for (int t : {1, 2, 128, 129, 135, 136}) icmp6_.push_back(uint8_t(t));
    for (int p : kPortPool) ports_.push_back(uint16_t(p));
    subjects_.resize(ps.rules.size());
  }

  ir::Flow make() {
    ir::Flow f;
    if (!ps().rules.empty() && rng_.chance(55) && guided(f)) return f;
    random_flow(f);
    return f;
  }

 private:
  const ir::PolicySet& ps() const { return ev_.policies(); }

  // -------------------------------------------------------- endpoints/IPs

  // The endpoint that owns `ip` (a pod) or world with that address.
  void place(const ir::IpAddr& ip, ir::EndpointId& id, std::optional<ir::IpAddr>& ip_out) {
    if (auto pod = ev_.find_by_ip(ip)) {
      id = *pod;
      ip_out.reset();
      return;
    }
    id = ev_.world();
    ip_out = ip;
  }

  ir::IpAddr random_world_ip(std::optional<bool> v6) {
    const bool six = v6 ? *v6 : rng_.chance(30);
    switch (rng_.weighted({45, 20, 35})) {
      case 0:
        if (!cidrs_.empty()) {
          for (int tries = 0; tries < 4; ++tries) {
            const auto& c = rng_.pick(cidrs_);
            if (c.addr.v6 == six) return near(c);
          }
        }
        [[fallthrough]];
      case 1:
        if (!excepts_.empty()) {
          for (int tries = 0; tries < 4; ++tries) {
            const auto& c = rng_.pick(excepts_);
            if (c.addr.v6 == six) return near(c);
          }
        }
        [[fallthrough]];
      default:
        return random_in(must_cidr(six ? rng_.pick(kV6Bases) : rng_.pick(kV4Bases)), rng_);
    }
  }

  // An address on, just outside or inside `c`.
  ir::IpAddr near(const ir::Cidr& c) {
    switch (rng_.weighted({20, 20, 12, 12, 36})) {
      case 0: return cidr_first(c);
      case 1: return cidr_last(c);
      case 2:
        if (auto a = step(cidr_first(c), -1)) return *a;
        return cidr_first(c);
      case 3:
        if (auto a = step(cidr_last(c), +1)) return *a;
        return cidr_last(c);
      default: return random_in(c, rng_);
    }
  }

  void world_endpoint(ir::EndpointId& id, std::optional<ir::IpAddr>& ip, std::optional<bool> v6) {
    place(random_world_ip(v6), id, ip);
  }

  // pod / reserved / world (with an address).
  void random_endpoint(ir::EndpointId& id, std::optional<ir::IpAddr>& ip, std::optional<bool> v6,
                       int pod_weight = 65) {
    ip.reset();
    switch (rng_.weighted({pods_.empty() ? 0 : pod_weight, others_.empty() ? 0 : 12, 23})) {
      case 0: id = rng_.pick(pods_); return;
      case 1: id = rng_.pick(others_); return;
      default: world_endpoint(id, ip, v6); return;
    }
  }

  // ------------------------------------------------------------- L4 / L7

  void random_l4(ir::Flow& f) {
    switch (rng_.weighted({45, 20, 8, 14, 13})) {
      case 0: f.proto = ir::Proto::TCP; break;
      case 1: f.proto = ir::Proto::UDP; break;
      case 2: f.proto = ir::Proto::SCTP; break;
      case 3: f.proto = ir::Proto::ICMP; break;
      default: f.proto = ir::Proto::ICMPv6; break;
    }
    f.ip_proto = ip_proto_of(f.proto);
    if (f.proto == ir::Proto::ICMP || f.proto == ir::Proto::ICMPv6) {
      const auto& pool = f.proto == ir::Proto::ICMP ? icmp4_ : icmp6_;
      f.icmp_type = rng_.chance(90) ? rng_.pick(pool) : uint8_t(rng_.below(256));
      f.port = 0;
      return;
    }
    const auto& dst = eps_[f.dst];
    switch (rng_.weighted({60, dst.ports.empty() ? 0 : 20, 15, 2})) {
      case 0: f.port = rng_.pick(ports_); break;
      case 1: {
        const auto& cp = rng_.pick(dst.ports);
        f.port = cp.port;
        if (rng_.chance(60)) {
          f.proto = cp.proto;
          f.ip_proto = ip_proto_of(f.proto);
        }
        break;
      }
      case 2: f.port = uint16_t(rng_.range(1, 65535)); break;
      default: f.port = 0; break;
    }
  }

  ir::HttpRequest http_request(const ir::HttpRule* rule) {
    ir::HttpRequest req;
    req.method = rule && !rule->method.empty() && rng_.chance(70) ? sample_regex(rule->method, rng_)
                                                                 : std::string(rng_.pick(kReqMethods));
    if (rule && !rule->path.empty()) {
      switch (rng_.weighted({60, 25, 15})) {
        case 0: req.path = sample_regex(rule->path, rng_); break;
        case 1: req.path = mutate(sample_regex(rule->path, rng_), rng_); break;
        default: req.path = rng_.pick(kReqPaths); break;
      }
    } else {
      req.path = rng_.pick(kReqPaths);
    }
    if (rule && !rule->host.empty() && rng_.chance(70)) {
      req.host = sample_regex(rule->host, rng_);
      if (rng_.chance(20)) req.host = mutate(req.host, rng_);
    } else {
      req.host = rng_.pick(kReqHosts);
    }
    if (rule)
      for (const auto& h : rule->headers) {
        if (!rng_.chance(75)) continue;
        std::string name = h.name;
        if (rng_.chance(30))
          for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        std::string value = h.value ? *h.value : "1";
        if (h.value && rng_.chance(20)) value += "x";
        req.headers.emplace_back(name, value);
      }
    if (rng_.chance(15)) req.headers.emplace_back("X-Request-Id", "abc123");
    return req;
  }

  std::string dns_query(const ir::DnsRule* rule) {
    std::string name;
    if (rule && rng_.chance(15)) rule = nullptr;  // some unrelated name
    if (rule && !rule->match_name.empty()) {
      name = rule->match_name;
      switch (rng_.weighted({45, 12, 10, 33})) {
        case 1:
          for (auto& c : name) c = char(std::toupper(static_cast<unsigned char>(c)));
          break;
        case 2: name += "."; break;
        case 3:  // near misses
          switch (rng_.below(4)) {
            case 0: name = "x" + name; break;
            case 1: name = "www." + name; break;
            case 2: name = name.find('.') == std::string::npos ? name + "x" : name.substr(name.find('.') + 1); break;
            default: name += ".evil"; break;
          }
          break;
        default: break;
      }
      return name;
    }
    if (rule && !rule->match_pattern.empty() && rule->match_pattern != "*") {
      for (char c : rule->match_pattern) {
        if (c != '*') {
          name += c;
          continue;
        }
        switch (rng_.weighted({55, 10, 22, 13})) {
          case 0: name += rng_.pick(std::vector<const char*>{"foo", "a1", "kube-dns", "x-y"}); break;
          case 1: break;  // '*' matches the empty label part too
          case 2: name += "a.b"; break;  // '*' never crosses a dot
          default: name += "_x"; break;
        }
      }
      if (rng_.chance(20)) name = rng_.chance(50) ? mutate(name, rng_) : name + ".evil";
      if (rng_.chance(10)) name += ".";
      return name;
    }
    return rng_.pick(kQueryNames);
  }

  void maybe_random_l7(ir::Flow& f) {
    if (f.proto == ir::Proto::TCP && f.port != 53 && rng_.chance(30)) {
      ir::L7Request r;
      r.kind = ir::L7Kind::Http;
      const ir::PortRule* pr = http_.empty() || rng_.chance(20) ? nullptr : rng_.pick(http_);
      r.http = http_request(pr && !pr->l7.http.empty() ? &rng_.pick(pr->l7.http) : nullptr);
      f.l7 = std::move(r);
      // Half of the time, also on that rule's port (a number, or what the
      // destination calls the named port).
      if (pr && rng_.chance(50)) {
        const ir::PortMatch& pm = rng_.pick(pr->ports);
        if (pm.name.empty()) {
          f.port = pm.first;
        } else {
          for (const auto& cp : eps_[f.dst].ports)
            if (cp.name == pm.name && cp.proto == ir::Proto::TCP) f.port = cp.port;
        }
      }
    } else if (f.port == 53 && (f.proto == ir::Proto::UDP || f.proto == ir::Proto::TCP) &&
               rng_.chance(60)) {
      ir::L7Request r;
      r.kind = ir::L7Kind::Dns;
      const ir::L7Rules* l7 = dns_.empty() || rng_.chance(20) ? nullptr : rng_.pick(dns_);
      r.dns_name = dns_query(l7 && !l7->dns.empty() ? &rng_.pick(l7->dns) : nullptr);
      f.l7 = std::move(r);
    }
  }

  // ------------------------------------------------------------- flows

  void random_flow(ir::Flow& f) {
    random_endpoint(f.src, f.src_ip, std::nullopt);
    const bool src_local = eps_[f.src].kind == ir::Endpoint::Kind::Pod;
    random_endpoint(f.dst, f.dst_ip, std::nullopt, src_local ? 65 : 400);
    random_l4(f);
    maybe_random_l7(f);
  }

  const std::vector<ir::EndpointId>& subjects(ir::RuleId r) {
    auto& slot = subjects_[r];
    if (!slot) {
      slot.emplace();
      for (ir::EndpointId i = 0; i < eps_.size(); ++i)
        if (ev_.rule_selects(r, ev_.class_of(i))) slot->push_back(i);
    }
    return *slot;
  }

  // A flow aimed at rule r: a subject it selects, a peer it names, a port it lists.
  bool guided(ir::Flow& f) {
    // Rules with L7 get extra attention: their requests are the interesting ones.
    const ir::RuleId r = !l7_rules_.empty() && rng_.chance(35)
                             ? rng_.pick(l7_rules_)
                             : ir::RuleId(rng_.below(ps().rules.size()));
    const ir::Rule& rule = ps().rules[r];
    const auto& subs = subjects(r);
    if (subs.empty()) return false;
    const ir::EndpointId self = rng_.pick(subs);
    const bool ingress = rule.direction == ir::Direction::Ingress;

    // The L4 part first: ICMP family steers the world address family.
    const ir::PortRule* chosen_pr = nullptr;
    const ir::PortMatch* chosen_pm = nullptr;
    bool icmp = false;
    std::optional<bool> v6;
    if (!rule.icmps.empty() && (rule.port_rules.empty() || rng_.chance(50))) {
      const auto& m = rng_.pick(rule.icmps);
      icmp = true;
      f.proto = m.v6 ? ir::Proto::ICMPv6 : ir::Proto::ICMP;
      f.icmp_type = rng_.chance(80) ? m.type : uint8_t(m.type + (rng_.chance(50) ? 1 : 255));
      v6 = m.v6;
    } else if (!rule.port_rules.empty() && rng_.chance(90)) {
      chosen_pr = &rng_.pick(rule.port_rules);
      chosen_pm = &rng_.pick(chosen_pr->ports);
    }

    // The peer.
    ir::EndpointId peer = 0;
    std::optional<ir::IpAddr> peer_ip;
    bool placed = false;
    if (rule.peers && !rule.peers->empty() && rng_.chance(85)) {
      const size_t i = rng_.below(rule.peers->size());
      const ir::Peer& p = (*rule.peers)[i];
      switch (p.kind) {
        case ir::Peer::Kind::Endpoints:
        case ir::Peer::Kind::Entity:
        case ir::Peer::Kind::Nodes: {
          std::vector<ir::EndpointId> cands;
          for (ir::EndpointId e = 0; e < eps_.size(); ++e)
            if (ev_.peer_class_matches(r, i, ev_.class_of(self), ev_.class_of(e))) cands.push_back(e);
          if (!cands.empty() && rng_.chance(85)) {
            peer = rng_.pick(cands);
            if (peer == ev_.world()) world_endpoint(peer, peer_ip, v6);
            placed = true;
          }
          break;
        }
        case ir::Peer::Kind::Cidr: {
          const ir::Cidr& c = !p.except.empty() && rng_.chance(35) ? rng_.pick(p.except) : p.cidr;
          ir::IpAddr ip = rng_.chance(8) ? random_world_ip(!c.addr.v6) : near(c);  // other family
          place(ip, peer, peer_ip);
          placed = true;
          break;
        }
        case ir::Peer::Kind::Fqdn: {
          if (ingress) break;
          // The cache is node-wide; prefer what the subject itself resolved.
          std::vector<const ir::DnsCacheEntry*> entries, own;
          for (const auto& e : ev_.dns_cache()) {
            entries.push_back(&e);
            if (e.endpoint == eps_[self].display()) own.push_back(&e);
          }
          if (!own.empty() && rng_.chance(70)) entries = own;
          if (!entries.empty() && rng_.chance(85)) {
            const auto& e = *rng_.pick(entries);
            if (!e.ips.empty()) {
              place(rng_.pick(e.ips), peer, peer_ip);
              placed = true;
            }
          }
          break;
        }
        default: break;
      }
    }
    if (!placed) random_endpoint(peer, peer_ip, v6);

    if (ingress) {
      f.src = peer;
      f.src_ip = peer_ip;
      f.dst = self;
      f.dst_ip.reset();
    } else {
      f.src = self;
      f.src_ip.reset();
      f.dst = peer;
      f.dst_ip = peer_ip;
    }

    if (icmp) {
      f.ip_proto = ip_proto_of(f.proto);
      f.port = 0;
      return true;
    }
    if (!chosen_pm) {
      random_l4(f);
      maybe_random_l7(f);
      return true;
    }
    // Port and protocol from the chosen PortMatch.
    static const ir::Proto l4[] = {ir::Proto::TCP, ir::Proto::UDP, ir::Proto::SCTP};
    f.proto = chosen_pm->proto == ir::Proto::Any || rng_.chance(8) ? rng_.pick(l4) : chosen_pm->proto;
    const ir::Endpoint& dst = eps_[f.dst];
    if (!chosen_pm->name.empty()) {
      std::vector<const ir::ContainerPort*> named;
      for (const auto& cp : dst.ports)
        if (cp.name == chosen_pm->name) named.push_back(&cp);
      if (!named.empty() && rng_.chance(85)) {
        const auto* cp = rng_.pick(named);
        f.port = cp->port;
        if (rng_.chance(90)) f.proto = cp->proto;
      } else {
        f.port = rng_.pick(ports_);
      }
    } else {
      const int first = chosen_pm->first, last = chosen_pm->last;
      int port;
      switch (rng_.weighted({25, 25, 10, 10, 30})) {
        case 0: port = first; break;
        case 1: port = last; break;
        case 2: port = first - 1; break;
        case 3: port = last + 1; break;
        default: port = first + int(rng_.below(uint64_t(std::max(0, last - first) + 1))); break;
      }
      f.port = uint16_t(std::clamp(port, 0, 65535));
    }
    f.ip_proto = ip_proto_of(f.proto);
    // L7 for the chosen port rule.
    // L7 only where a proxy could see it: HTTP over TCP, DNS on port 53.
    const auto& l7 = chosen_pr->l7;
    const bool dns_port = f.port == 53 && (f.proto == ir::Proto::UDP || f.proto == ir::Proto::TCP);
    if (l7.kind == ir::L7Kind::Http && f.proto == ir::Proto::TCP && f.port != 53 && rng_.chance(80)) {
      ir::L7Request req;
      req.kind = ir::L7Kind::Http;
      req.http = http_request(l7.http.empty() ? nullptr : &rng_.pick(l7.http));
      f.l7 = std::move(req);
    } else if (l7.kind == ir::L7Kind::Dns && dns_port && rng_.chance(80)) {
      ir::L7Request req;
      req.kind = ir::L7Kind::Dns;
      req.dns_name = dns_query(l7.dns.empty() ? nullptr : &rng_.pick(l7.dns));
      f.l7 = std::move(req);
    } else if (l7.kind == ir::L7Kind::None || rng_.chance(50)) {
      maybe_random_l7(f);
    }
    return true;
  }

  const ir::Evaluator& ev_;
  Rng rng_;
  const std::vector<ir::Endpoint>& eps_;
  std::vector<ir::EndpointId> pods_, others_;
  std::vector<ir::Cidr> cidrs_, excepts_;
  std::vector<uint16_t> ports_;
  std::vector<uint8_t> icmp4_, icmp6_;
  std::vector<const ir::PortRule*> http_;
  std::vector<const ir::L7Rules*> dns_;
  std::vector<ir::RuleId> l7_rules_;
  std::vector<std::optional<std::vector<ir::EndpointId>>> subjects_;
};

std::string endpoint_ref(const ir::Evaluator& ev, ir::EndpointId id, const std::optional<ir::IpAddr>& ip) {
  const auto& e = ev.endpoints()[id];
  if (e.kind == ir::Endpoint::Kind::World && ip) return "cidr:" + ip->to_string();
  return e.display();
}

}  // namespace

// ================================================================== public

RandomCluster random_cluster(uint64_t seed, const RandomOptions& options) {
  RandomCluster out;
  Generator(seed, options, out).run();
  return out;
}

LoadedCluster load_cluster(const RandomCluster& cluster, ir::Diagnostics* diags_out) {
  ir::Diagnostics diags;
  diags.add_source("inventory.yaml", cluster.inventory_yaml);
  diags.add_source("policies.yaml", cluster.policies_yaml);
  LoadedCluster out;
  frontend::LoadOptions lo;
  frontend::load_text("inventory.yaml", cluster.inventory_yaml, lo, out.result, diags);
  frontend::load_text("policies.yaml", cluster.policies_yaml, lo, out.result, diags);
  if (diags.has_errors()) {
    std::fprintf(stderr, "load_cluster: the generated cluster does not load:\n");
    for (const auto& d : diags.all()) std::fprintf(stderr, "%s\n", ir::render_text(diags, d, false).c_str());
    std::fprintf(stderr, "--- inventory.yaml\n%s--- policies.yaml\n%s", cluster.inventory_yaml.c_str(),
                 cluster.policies_yaml.c_str());
    std::abort();
  }
  out.dns_cache = cluster.dns_cache;
  if (diags_out) *diags_out = std::move(diags);
  return out;
}

std::vector<ir::Flow> random_flows(const ir::Evaluator& ev, uint64_t seed, size_t count) {
  std::vector<ir::Flow> out;
  out.reserve(count);
  FlowGen gen(ev, seed);
  for (size_t i = 0; i < count; ++i) out.push_back(gen.make());
  return out;
}

std::string flow_to_yaml(const ir::Evaluator& ev, const ir::Flow& f) {
  std::string out = "- src: " + quote(endpoint_ref(ev, f.src, f.src_ip)) + "\n";
  out += "  dst: " + quote(endpoint_ref(ev, f.dst, f.dst_ip)) + "\n";
  out += "  proto: " + ir::to_string(f.proto) + "\n";
  if (f.proto == ir::Proto::ICMP || f.proto == ir::Proto::ICMPv6)
    out += "  icmp_type: " + std::to_string(f.icmp_type) + "\n";
  else
    out += "  port: " + std::to_string(f.port) + "\n";
  if (f.l7 && f.l7->kind == ir::L7Kind::Http) {
    const auto& h = f.l7->http;
    out += "  http: {method: " + quote(h.method) + ", path: " + quote(h.path) + ", host: " + quote(h.host);
    if (!h.headers.empty()) {
      out += ", headers: {";
      for (size_t i = 0; i < h.headers.size(); ++i)
        out += (i ? ", " : "") + quote(h.headers[i].first) + ": " + quote(h.headers[i].second);
      out += "}";
    }
    out += "}\n";
  } else if (f.l7 && f.l7->kind == ir::L7Kind::Dns) {
    out += "  dns: " + quote(f.l7->dns_name) + "\n";
  }
  return out;
}

std::string dns_cache_to_yaml(const std::vector<ir::DnsCacheEntry>& cache) {
  if (cache.empty()) return "[]\n";
  std::string out;
  for (const auto& e : cache) {
    out += "- endpoint: " + quote(e.endpoint) + "\n  name: " + quote(e.name) + "\n  ips: [";
    for (size_t i = 0; i < e.ips.size(); ++i) out += (i ? ", " : "") + quote(e.ips[i].to_string());
    out += "]\n";
  }
  return out;
}

bool write_repro(const std::string& dir, const RandomCluster& cluster, const ir::Evaluator* ev,
                 const std::vector<ir::Flow>& flows) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return false;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream out(dir + "/" + name, std::ios::binary);
    out << text;
    return bool(out);
  };
  bool ok = write("policies.yaml", cluster.policies_yaml) && write("inventory.yaml", cluster.inventory_yaml);
  if (!cluster.dns_cache.empty()) ok = ok && write("dns-cache.yaml", dns_cache_to_yaml(cluster.dns_cache));
  if (ev && !flows.empty()) {
    std::string text;
    for (const auto& f : flows) text += flow_to_yaml(*ev, f);
    ok = ok && write("flows.yaml", text);
  }
  return ok;
}

RandomOptions sweep_cluster_options(uint64_t seed) {
  RandomOptions opt;
  opt.fqdn = seed % 3 == 0;
  opt.requires_ = seed % 4 == 0;
  opt.pods = 8 + int(seed % 10);
  opt.policies = 3 + int(seed % 8);
  return opt;
}

ir::EvalOptions sweep_eval_options(uint64_t seed, bool with_audit) {
  ir::EvalOptions eopt;
  if (seed % 7 == 0) eopt.allow_localhost = ir::AllowLocalhost::Policy;
  if (seed % 11 == 0) eopt.enforcement = ir::EnforcementMode::Always;
  if (with_audit && seed % 13 == 0) eopt.audit_mode = true;
  return eopt;
}

}  // namespace cnpc::testing
