// ir/reach: who-can-reach / reachable-from over atoms. Hand-made policy
// sets pin the shape of the answers (ranges, holes, named ports, CIDR
// excepts, L7); a brute-force test holds the answers to decide() on random
// policy sets and random flows.
#include "cnpc/ir/reach.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

using namespace cnpc::ir;

namespace {

LabelSet pod_labels(const std::string& ns, const std::string& key, const std::string& value) {
  LabelSet s;
  s.add({"k8s", key, value});
  s.add({"k8s", "io.kubernetes.pod.namespace", ns});
  return s;
}

Endpoint pod(const std::string& ns, const std::string& name, const std::string& app,
             const std::string& ip, std::vector<ContainerPort> ports = {}, const std::string& key = "app") {
  Endpoint e;
  e.kind = Endpoint::Kind::Pod;
  e.namespace_ = ns;
  e.name = name;
  e.labels = pod_labels(ns, key, app);
  if (!ip.empty()) e.ips.push_back(*IpAddr::parse(ip));
  e.ports = std::move(ports);
  return e;
}

Selector app(const std::string& value, const std::string& key = "app") {
  return Selector{{Requirement{"any", key, SelectorOp::In, {value}}}};
}

Peer endpoints(const Selector& s) {
  Peer p;
  p.kind = Peer::Kind::Endpoints;
  p.selector = s;
  return p;
}

Peer cidr(const std::string& c, std::vector<std::string> except = {}) {
  Peer p;
  p.kind = Peer::Kind::Cidr;
  p.cidr = *Cidr::parse(c);
  for (const auto& e : except) p.except.push_back(*Cidr::parse(e));
  return p;
}

PortMatch ports(Proto proto, uint16_t first, uint16_t last) {
  PortMatch m;
  m.proto = proto;
  m.first = first;
  m.last = last;
  return m;
}

PortMatch named(Proto proto, const std::string& name) {
  PortMatch m;
  m.proto = proto;
  m.name = name;
  return m;
}

Rule rule(Direction dir, Action action, const Selector& subject, std::optional<std::vector<Peer>> peers,
          std::vector<PortRule> port_rules = {}) {
  Rule r;
  r.direction = dir;
  r.action = action;
  r.subject.selector = subject;
  r.peers = std::move(peers);
  r.port_rules = std::move(port_rules);
  static int serial = 0;
  r.origin.name = "p" + std::to_string(serial++);
  return r;
}

PortRule on(std::vector<PortMatch> ms, L7Rules l7 = {}) {
  PortRule pr;
  pr.ports = std::move(ms);
  pr.l7 = std::move(l7);
  return pr;
}

L7Rules http(std::vector<std::pair<std::string, std::string>> method_paths) {
  L7Rules l7;
  l7.kind = L7Kind::Http;
  for (const auto& [m, p] : method_paths) {
    HttpRule h;
    h.method = m;
    h.path = p;
    l7.http.push_back(h);
  }
  return l7;
}

L7Rules dns(std::vector<std::string> patterns) {
  L7Rules l7;
  l7.kind = L7Kind::Dns;
  for (const auto& p : patterns) {
    DnsRule d;
    d.match_pattern = p;
    l7.dns.push_back(d);
  }
  return l7;
}

// Adds the spec that puts the subject of `r` into default deny for its direction.
void add(PolicySet& ps, Rule r) {
  Spec s;
  s.subject = r.subject;
  s.origin = r.origin;
  (r.direction == Direction::Ingress ? s.sections.has_ingress : s.sections.has_egress) = true;
  ps.specs.push_back(s);
  ps.rules.push_back(std::move(r));
}

std::vector<std::string> texts(const ReachEntry& e) {
  std::vector<std::string> out;
  for (const auto& s : summarize(e.allowed)) out.push_back(s.text());
  return out;
}

std::vector<std::string> names(const std::vector<ReachEntry>& es) {
  std::vector<std::string> out;
  for (const auto& e : es) out.push_back(e.name);
  return out;
}

using Strings = std::vector<std::string>;

}  // namespace

// ------------------------------------------------------------------- atoms

TEST(PortAtoms, CutAtEveryBoundary) {
  PolicySet ps;
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::nullopt,
               {on({ports(Proto::TCP, 8000, 8090), ports(Proto::Any, 53, 53)})}));
  auto atoms = port_atoms(ps);
  auto has = [&](Proto p, uint16_t f, uint16_t l) {
    return std::find(atoms.begin(), atoms.end(), PortAtom{p, f, l}) != atoms.end();
  };
  EXPECT_TRUE(has(Proto::TCP, 0, 52));
  EXPECT_TRUE(has(Proto::TCP, 53, 53));
  EXPECT_TRUE(has(Proto::TCP, 54, 7999));
  EXPECT_TRUE(has(Proto::TCP, 8000, 8090));
  EXPECT_TRUE(has(Proto::TCP, 8091, 65535));
  EXPECT_TRUE(has(Proto::UDP, 53, 53));
  EXPECT_TRUE(has(Proto::UDP, 54, 65535));
  EXPECT_TRUE(has(Proto::SCTP, 53, 53));
  EXPECT_TRUE(has(Proto::ICMP, 0, 255));
  EXPECT_TRUE(has(Proto::ICMPv6, 0, 255));
  EXPECT_TRUE(has(Proto::Any, 0, 0));
  // Atoms tile each protocol's space exactly.
  for (Proto p : {Proto::TCP, Proto::UDP, Proto::SCTP}) {
    uint32_t next = 0;
    for (const auto& a : atoms)
      if (a.proto == p) {
        EXPECT_EQ(a.first, next);
        next = uint32_t(a.last) + 1;
      }
    EXPECT_EQ(next, 65536u);
  }
}

TEST(AddressAtoms, NetworkAndOnePastBroadcast) {
  PolicySet ps;
  add(ps, rule(Direction::Egress, Action::Allow, app("cli"),
               std::vector<Peer>{cidr("10.0.0.0/8", {"10.96.0.0/12"}), cidr("2001:db8::/32")}));
  Inventory inv;
  Evaluator ev(ps, inv);
  Strings got;
  for (const auto& a : address_atoms(ev)) got.push_back(a.first.to_string() + "-" + a.last.to_string());
  EXPECT_EQ(got, (Strings{"0.0.0.0-9.255.255.255", "10.0.0.0-10.95.255.255", "10.96.0.0-10.111.255.255",
                          "10.112.0.0-10.255.255.255", "11.0.0.0-255.255.255.255", "::-2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
                          "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
                          "2001:db9::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}));
}

TEST(DescribeAddresses, ShortestCidrSets) {
  auto range = [](const std::string& a, const std::string& b) {
    return AddrRange{*IpAddr::parse(a), *IpAddr::parse(b)};
  };
  auto text = [](const std::vector<CidrSet>& cs) {
    Strings out;
    for (const auto& c : cs) out.push_back(c.to_string());
    return out;
  };
  // Everything but 10.0.0.0/8: one prefix with an except beats eight prefixes.
  EXPECT_EQ(text(describe_addresses({range("0.0.0.0", "9.255.255.255"), range("11.0.0.0", "255.255.255.255")})),
            (Strings{"0.0.0.0/0 except 10.0.0.0/8"}));
  // Adjacent halves coalesce.
  EXPECT_EQ(text(describe_addresses({range("192.0.2.128", "192.0.2.255"), range("192.0.2.0", "192.0.2.127")})),
            (Strings{"192.0.2.0/24"}));
  // An unaligned range: fewest prefixes written (3 here, against 4 plain ones).
  EXPECT_EQ(text(describe_addresses({range("192.0.2.1", "192.0.2.6")})),
            (Strings{"192.0.2.0/29 except 192.0.2.0/32, 192.0.2.7/32"}));
  EXPECT_EQ(text(describe_addresses({range("192.0.2.2", "192.0.2.5")})),
            (Strings{"192.0.2.2/31", "192.0.2.4/31"}));
  EXPECT_EQ(text(describe_addresses({range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                                     range("0.0.0.0", "255.255.255.255")})),
            (Strings{"0.0.0.0/0", "::/0"}));
  EXPECT_TRUE(describe_addresses({}).empty());
}

// ----------------------------------------------------------------- answers

TEST(WhoCanReach, AdjacentRangesMerge) {
  PolicySet ps;
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("cli"))},
               {on({ports(Proto::TCP, 8000, 8090)})}));
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("cli"))},
               {on({ports(Proto::TCP, 8091, 8091)})}));
  Inventory inv;
  inv.endpoints = {pod("ns", "srv", "srv", "10.0.0.1"), pod("ns", "cli", "cli", "10.0.0.2")};
  Evaluator ev(ps, inv, {.allow_localhost = AllowLocalhost::Policy});
  auto es = who_can_reach(ev, 0);
  ASSERT_EQ(names(es), (Strings{"ns/cli"}));
  EXPECT_EQ(texts(es[0]), (Strings{"TCP 8000-8091"}));
  EXPECT_EQ(es[0].rules, (std::vector<RuleId>{0, 1}));
  EXPECT_EQ(es[0].members, (std::vector<EndpointId>{1}));

  ReachFilter f;
  f.port = 8050;
  es = who_can_reach(ev, 0, f);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(texts(es[0]), (Strings{"TCP 8050"}));
  f.port = 9000;
  EXPECT_TRUE(who_can_reach(ev, 0, f).empty());
  f.port.reset();
  f.proto = Proto::UDP;
  EXPECT_TRUE(who_can_reach(ev, 0, f).empty());
}

TEST(WhoCanReach, DenyHoleSplitsRange) {
  PolicySet ps;
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("cli"))},
               {on({ports(Proto::TCP, 8000, 8090)})}));
  add(ps, rule(Direction::Ingress, Action::Deny, app("srv"), std::vector<Peer>{endpoints(app("cli"))},
               {on({ports(Proto::TCP, 8040, 8042)})}));
  Inventory inv;
  inv.endpoints = {pod("ns", "srv", "srv", "10.0.0.1"), pod("ns", "cli", "cli", "10.0.0.2")};
  Evaluator ev(ps, inv, {.allow_localhost = AllowLocalhost::Policy});
  auto es = who_can_reach(ev, 0);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(texts(es[0]), (Strings{"TCP 8000-8039", "TCP 8043-8090"}));
}

TEST(WhoCanReach, NamedPortsResolvePerDestination) {
  PolicySet ps;
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("cli"))},
               {on({named(Proto::TCP, "http-api")})}));
  Inventory inv;
  inv.endpoints = {pod("ns", "srv-a", "srv", "10.0.0.1", {{"http-api", 8080, Proto::TCP}}),
                   pod("ns", "srv-b", "srv", "10.0.0.3", {{"http-api", 9090, Proto::TCP}}),
                   pod("ns", "cli", "cli", "10.0.0.2")};
  Evaluator ev(ps, inv, {.allow_localhost = AllowLocalhost::Policy});
  auto es = who_can_reach(ev, 0);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(texts(es[0]), (Strings{"TCP 8080"}));
  EXPECT_EQ(texts(who_can_reach(ev, 1)[0]), (Strings{"TCP 9090"}));
  // Same labels, different answers: two entries for the two replicas (cli
  // has no egress policy, so it also reaches itself, on anything).
  ReachFilter pods_only;
  pods_only.entities = pods_only.world = pods_only.nodes = false;
  auto out = reachable_from(ev, 2, pods_only);
  ASSERT_EQ(names(out), (Strings{"ns/cli", "ns/srv-a", "ns/srv-b"}));
  EXPECT_EQ(texts(out[0]), (Strings{"any"}));
  EXPECT_EQ(texts(out[1]), (Strings{"TCP 8080"}));
  EXPECT_EQ(texts(out[2]), (Strings{"TCP 9090"}));
}

TEST(ReachableFrom, CidrExceptGivesWorldRanges) {
  PolicySet ps;
  add(ps, rule(Direction::Egress, Action::Allow, app("cli"),
               std::vector<Peer>{cidr("10.0.0.0/8", {"10.96.0.0/12"})}, {on({ports(Proto::TCP, 443, 443)})}));
  add(ps, rule(Direction::Egress, Action::Allow, app("cli"), std::vector<Peer>{cidr("20.1.1.1/32")}));
  Inventory inv;
  inv.endpoints = {pod("ns", "cli", "cli", "10.0.0.2")};
  Evaluator ev(ps, inv);
  auto es = reachable_from(ev, 0);
  ASSERT_EQ(names(es), (Strings{"10.0.0.0/8 except 10.96.0.0/12", "20.1.1.1/32"}));
  EXPECT_EQ(es[0].kind, ReachEntry::Kind::World);
  EXPECT_EQ(texts(es[0]), (Strings{"TCP 443"}));
  EXPECT_EQ(texts(es[1]), (Strings{"any"}));
  ASSERT_EQ(es[0].addresses.size(), 2u);
  EXPECT_EQ(es[0].addresses[0].last.to_string(), "10.95.255.255");
  EXPECT_EQ(es[0].addresses[1].first.to_string(), "10.112.0.0");
}

TEST(ReachableFrom, FqdnAddressesAreNamed) {
  PolicySet ps;
  Peer p;
  p.kind = Peer::Kind::Fqdn;
  p.fqdn_name = "api.example.com";
  add(ps, rule(Direction::Egress, Action::Allow, app("cli"), std::vector<Peer>{p}, {on({ports(Proto::TCP, 443, 443)})}));
  Inventory inv;
  inv.endpoints = {pod("ns", "cli", "cli", "10.0.0.2")};
  Evaluator ev(ps, inv, {}, {{"ns/cli", "api.example.com", {*IpAddr::parse("198.51.100.7")}}});
  auto es = reachable_from(ev, 0);
  ASSERT_EQ(names(es), (Strings{"198.51.100.7/32"}));
  EXPECT_EQ(es[0].fqdns, (Strings{"api.example.com"}));
}

TEST(WhoCanReach, L7RulesAndWildcard) {
  PolicySet ps;
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("web"))},
               {on({ports(Proto::TCP, 8080, 8080)}, http({{"GET", "/api/.*"}, {"HEAD", ""}}))}));
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("admin"))},
               {on({ports(Proto::TCP, 8080, 8080)}, http({{"GET", "/api/.*"}}))}));
  // admin also has an L3-only allow: for HTTP that voids the L7 rules.
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("admin"))}));
  Inventory inv;
  inv.endpoints = {pod("ns", "srv", "srv", "10.0.0.1"), pod("ns", "web", "web", "10.0.0.2"),
                   pod("ns", "admin", "admin", "10.0.0.3")};
  Evaluator ev(ps, inv);
  auto es = who_can_reach(ev, 0);
  ASSERT_EQ(names(es), (Strings{"ns/admin", "ns/web", "entity:host"}));
  auto web = summarize(es[1].allowed);
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].text(), "TCP 8080");
  EXPECT_EQ(web[0].l7, (Strings{"HTTP GET /api/.*", "HTTP HEAD"}));
  // admin: any, except that 8080 goes through the proxy with a wildcard.
  bool wildcard_8080 = false;
  for (const auto& a : es[0].allowed)
    if (a.proto == Proto::TCP && a.first <= 8080 && a.last >= 8080) {
      EXPECT_TRUE(a.l7.enforced);
      wildcard_8080 = a.l7.wildcard;
    } else {
      EXPECT_FALSE(a.l7.enforced);
    }
  EXPECT_TRUE(wildcard_8080);
  // The host: allow-localhost, no L7 (no allow rule put it on the proxy).
  EXPECT_TRUE(es[2].via_localhost);
  EXPECT_EQ(texts(es[2]), (Strings{"any"}));
}

TEST(WhoCanReach, DnsWildcardOnlyOnSamePortSpec) {
  PolicySet ps;
  add(ps, rule(Direction::Egress, Action::Allow, app("cli"), std::vector<Peer>{endpoints(app("kube-dns", "k8s-app"))},
               {on({ports(Proto::Any, 53, 53)}, dns({"*.svc.cluster.local"}))}));
  // A range covering 53 does not void DNS rules (the DNS proxy sees only port 53's filter).
  add(ps, rule(Direction::Egress, Action::Allow, app("cli"), std::vector<Peer>{endpoints(app("kube-dns", "k8s-app"))},
               {on({ports(Proto::UDP, 50, 60)})}));
  Inventory inv;
  inv.endpoints = {pod("ns", "cli", "cli", "10.0.0.2"), pod("kube-system", "coredns", "kube-dns", "10.0.0.53", {}, "k8s-app")};
  Evaluator ev(ps, inv);
  auto es = reachable_from(ev, 0);
  ASSERT_EQ(names(es), (Strings{"kube-system/coredns"}));
  Strings got;
  for (const auto& s : summarize(es[0].allowed)) {
    std::string line = s.text();
    for (const auto& l : s.l7) line += " | " + l;
    got.push_back(line);
  }
  // TCP, UDP and SCTP 53 alike fold into ANY; UDP 53 keeps its DNS rules.
  EXPECT_EQ(got, (Strings{"ANY 53 | DNS *.svc.cluster.local", "UDP 50-52", "UDP 54-60"}));
}

TEST(WhoCanReach, IcmpTypes) {
  PolicySet ps;
  Rule r = rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("cli"))});
  r.icmps = {{false, 8, {}}, {true, 128, {}}};
  add(ps, r);
  Inventory inv;
  inv.endpoints = {pod("ns", "srv", "srv", "10.0.0.1"), pod("ns", "cli", "cli", "10.0.0.2")};
  Evaluator ev(ps, inv, {.allow_localhost = AllowLocalhost::Policy});
  auto es = who_can_reach(ev, 0);
  ASSERT_EQ(es.size(), 1u);
  EXPECT_EQ(texts(es[0]), (Strings{"ICMP type 8", "ICMPv6 type 128"}));
}

TEST(WhoCanReach, ReplicasCollapseWithCount) {
  PolicySet ps;
  add(ps, rule(Direction::Ingress, Action::Allow, app("srv"), std::vector<Peer>{endpoints(app("web"))},
               {on({ports(Proto::TCP, 80, 80)})}));
  Inventory inv;
  inv.endpoints = {pod("ns", "srv", "srv", "10.0.0.1"), pod("ns", "web-7d4b9c8f5-abcde", "web", "10.0.0.2"),
                   pod("ns", "web-7d4b9c8f5-fghij", "web", "10.0.0.3"),
                   pod("ns", "web-7d4b9c8f5-klmno", "web", "10.0.0.4")};
  Evaluator ev(ps, inv, {.allow_localhost = AllowLocalhost::Policy});
  auto es = who_can_reach(ev, 0);
  ASSERT_EQ(names(es), (Strings{"ns/web"}));
  EXPECT_EQ(es[0].members.size(), 3u);
  EXPECT_EQ(es[0].kind, ReachEntry::Kind::Pod);
  EXPECT_EQ(workload_base_name("db-0"), "db");
  EXPECT_EQ(workload_base_name("coredns"), "coredns");
  EXPECT_EQ(workload_base_name("api-server-5d8f7c9b4-x2kqz"), "api-server");
}

// The blog sample (samples/blog-system) as IR: the scenario's answers.
class BlogSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string ns = "blog-system";
    inv.endpoints = {pod(ns, "web", "web", "10.0.1.10", {{"http", 80, Proto::TCP}}),
                     pod(ns, "was", "was", "10.0.2.20", {{"http-api", 8080, Proto::TCP}}),
                     pod(ns, "mysql", "mysql", "10.0.3.30", {{"mysql", 3306, Proto::TCP}}),
                     pod(ns, "stray", "unknown", "10.0.1.40"),
                     pod("kube-system", "coredns", "kube-dns", "10.0.0.53",
                         {{"dns", 53, Proto::UDP}, {"dns-tcp", 53, Proto::TCP}}, "k8s-app")};
    Selector kube_dns = app("kube-dns", "k8s-app");
    add(ps, rule(Direction::Ingress, Action::Allow, app("was"), std::vector<Peer>{endpoints(app("web"))},
                 {on({ports(Proto::TCP, 8080, 8080)}, http({{"GET", "/api/.*"}}))}));
    add(ps, rule(Direction::Ingress, Action::Allow, app("mysql"), std::vector<Peer>{endpoints(app("was"))},
                 {on({ports(Proto::TCP, 3306, 3306)})}));
    for (auto [client, server, port] : {std::tuple{"web", "was", 8080}, std::tuple{"was", "mysql", 3306}}) {
      add(ps, rule(Direction::Egress, Action::Allow, app(client), std::vector<Peer>{endpoints(app(server))},
                   {on({ports(Proto::TCP, uint16_t(port), uint16_t(port))})}));
      add(ps, rule(Direction::Egress, Action::Allow, app(client), std::vector<Peer>{endpoints(kube_dns)},
                   {on({ports(Proto::Any, 53, 53)}, dns({"*.svc.cluster.local", "*.*.svc.cluster.local"}))}));
    }
  }
  PolicySet ps;
  Inventory inv;
};

TEST_F(BlogSystem, WasOnlyFromWebWithGetApi) {
  Evaluator ev(ps, inv);
  auto es = who_can_reach(ev, *ev.resolve("blog-system/was", nullptr));
  ASSERT_EQ(names(es), (Strings{"blog-system/web", "entity:host"}));
  auto web = summarize(es[0].allowed);
  ASSERT_EQ(web.size(), 1u);
  EXPECT_EQ(web[0].text(), "TCP 8080");
  EXPECT_EQ(web[0].l7, (Strings{"HTTP GET /api/.*"}));
  EXPECT_EQ(es[0].rules, (std::vector<RuleId>{0, 2}));  // was's ingress, web's egress
  // The node reaches its pods by design (--allow-localhost=always).
  EXPECT_TRUE(es[1].via_localhost);
  EXPECT_TRUE(es[1].rules.empty());
  EXPECT_EQ(texts(es[1]), (Strings{"any"}));
}

TEST_F(BlogSystem, MysqlOnlyFromWasOn3306) {
  Evaluator ev(ps, inv);
  auto es = who_can_reach(ev, *ev.resolve("blog-system/mysql", nullptr));
  ASSERT_EQ(names(es), (Strings{"blog-system/was", "entity:host"}));
  EXPECT_EQ(texts(es[0]), (Strings{"TCP 3306"}));
  EXPECT_TRUE(summarize(es[0].allowed)[0].l7.empty());
  // With --allow-localhost=policy the host is gone.
  Evaluator strict(ps, inv, {.allow_localhost = AllowLocalhost::Policy});
  EXPECT_EQ(names(who_can_reach(strict, 2)), (Strings{"blog-system/was"}));
}

TEST_F(BlogSystem, WebReachesWasAndDns) {
  Evaluator ev(ps, inv);
  auto es = reachable_from(ev, 0);
  ASSERT_EQ(names(es), (Strings{"blog-system/was", "kube-system/coredns"}));
  auto dns_lines = summarize(es[1].allowed);
  ASSERT_EQ(dns_lines.size(), 1u);
  EXPECT_EQ(dns_lines[0].text(), "ANY 53");
  EXPECT_EQ(dns_lines[0].l7, (Strings{"DNS *.svc.cluster.local", "DNS *.*.svc.cluster.local"}));
}

// ------------------------------------------------------------ brute force

namespace {

// A random cluster and policy set over a small port space, so random flows
// land on boundaries often.
struct Random {
  std::mt19937 rng;
  explicit Random(unsigned seed) : rng(seed) {}
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  bool coin(int percent) { return pick(100) < percent; }
};

const char* kApps[] = {"a", "b", "c"};
const char* kCidrs[] = {"192.0.2.0/24", "192.0.2.128/25", "198.51.100.0/24", "0.0.0.0/0", "2001:db8::/32"};
const char* kIps[] = {"192.0.2.1",  "192.0.2.130", "192.0.2.200", "198.51.100.9",
                      "203.0.113.5", "2001:db8::1", "2001:db9::1", "192.0.2.129"};

PolicySet random_policies(Random& r) {
  PolicySet ps;
  const int n = 2 + r.pick(6);
  for (int i = 0; i < n; ++i) {
    Direction dir = r.coin(50) ? Direction::Ingress : Direction::Egress;
    Action action = r.coin(20) ? Action::Deny : Action::Allow;
    std::optional<std::vector<Peer>> peers;
    if (!r.coin(15)) {
      peers.emplace();
      for (int k = 1 + r.pick(2); k > 0; --k) {
        int kind = r.pick(4);
        if (kind <= 1) {
          peers->push_back(endpoints(app(kApps[r.pick(3)])));
        } else if (kind == 2) {
          Peer p = cidr(kCidrs[r.pick(5)]);
          if (p.cidr.addr.v6 == false && p.cidr.prefix <= 24 && r.coin(50)) p.except.push_back(*Cidr::parse("192.0.2.128/26"));
          peers->push_back(p);
        } else {
          Peer p;
          p.kind = Peer::Kind::Entity;
          p.entity = r.coin(50) ? "world" : "host";
          p.selector = Selector{{Requirement{"reserved", p.entity, SelectorOp::Exists, {}}}};
          peers->push_back(p);
        }
      }
    }
    std::vector<PortRule> prs;
    std::vector<IcmpMatch> icmps;
    int l4 = r.pick(5);
    if (l4 <= 2) {
      for (int k = 1 + r.pick(2); k > 0; --k) {
        Proto proto = std::array{Proto::TCP, Proto::UDP, Proto::Any}[size_t(r.pick(3))];
        PortMatch m;
        if (r.coin(15)) {
          m = named(proto, r.coin(50) ? "web" : "dns");
        } else {
          uint16_t first = uint16_t(r.pick(40));
          m = ports(proto, first, uint16_t(first + (r.coin(50) ? 0 : r.pick(30))));
          if (r.coin(5)) m = ports(proto, 0, 65535);
        }
        L7Rules l7;
        if (action == Action::Allow && proto == Proto::TCP && r.coin(30)) l7 = http({{"GET", "/api/.*"}});
        if (action == Action::Allow && proto != Proto::TCP && r.coin(20)) l7 = dns({"*.example.com"});
        prs.push_back(on({m}, l7));
      }
    } else if (l4 == 3) {
      icmps.push_back({r.coin(30), uint8_t(r.coin(50) ? 8 : 0), {}});
    }
    Rule rl = rule(dir, action, app(kApps[r.pick(3)]), peers, prs);
    rl.icmps = icmps;
    Spec s;
    s.subject = rl.subject;
    (dir == Direction::Ingress ? s.sections.has_ingress : s.sections.has_egress) = true;
    s.sections.default_deny_ingress = s.sections.default_deny_egress = !r.coin(10);
    ps.specs.push_back(s);
    ps.rules.push_back(rl);
  }
  return ps;
}

Inventory random_inventory(Random& r) {
  Inventory inv;
  for (int i = 0; i < 5; ++i) {
    std::vector<ContainerPort> ports;
    if (r.coin(60)) ports.push_back({"web", uint16_t(10 + r.pick(30)), Proto::TCP});
    if (r.coin(30)) ports.push_back({"dns", 53, Proto::UDP});
    inv.endpoints.push_back(pod(r.coin(50) ? "ns1" : "ns2", "p" + std::to_string(i), kApps[r.pick(3)],
                                "10.1.0." + std::to_string(i + 1), ports));
  }
  return inv;
}

bool in_range(const IpAddr& ip, const AddrRange& a) {
  return ip.v6 == a.first.v6 && !(ip < a.first) && !(a.last < ip);
}

}  // namespace

TEST(ReachBruteForce, DecideAgreesWithReportedSets) {
  for (unsigned seed = 1; seed <= 200; ++seed) {
    Random r(seed);
    PolicySet ps = random_policies(r);
    Inventory inv = random_inventory(r);
    EvalOptions opts;
    opts.allow_localhost = r.coin(50) ? AllowLocalhost::Always : AllowLocalhost::Policy;
    Evaluator ev(ps, inv, opts);
    const auto& eps = ev.endpoints();
    std::map<EndpointId, std::vector<ReachEntry>> who, from;
    for (int trial = 0; trial < 300; ++trial) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " trial " + std::to_string(trial));
      EndpointId src = EndpointId(r.pick(int(eps.size()))), dst = EndpointId(r.pick(int(inv.endpoints.size())));
      if (r.coin(50)) std::swap(src, dst);  // pods on both sides, world on either
      Flow f;
      f.src = src;
      f.dst = dst;
      std::optional<IpAddr> world_ip;
      if (eps[src].kind == Endpoint::Kind::World || eps[dst].kind == Endpoint::Kind::World) {
        if (eps[src].kind == Endpoint::Kind::World && eps[dst].kind == Endpoint::Kind::World) continue;
        world_ip = *IpAddr::parse(kIps[r.pick(8)]);
        (eps[src].kind == Endpoint::Kind::World ? f.src_ip : f.dst_ip) = world_ip;
      }
      int p = r.pick(10);
      f.proto = p < 4 ? Proto::TCP : p < 7 ? Proto::UDP : p == 7 ? Proto::SCTP : p == 8 ? Proto::ICMP : Proto(47);
      f.ip_proto = uint8_t(f.proto);
      f.port = uint16_t(r.coin(95) ? r.pick(80) : r.pick(65536));
      f.icmp_type = uint8_t(r.coin(50) ? 8 : r.pick(256));
      if (f.proto == Proto::ICMP) f.port = 0;
      const Decision d = ev.decide(f);
      const bool allowed = d.verdict == Verdict::Allowed;

      // Ask from the side that is a pod: who can reach dst, or what src reaches.
      const bool ask_dst = eps[dst].kind != Endpoint::Kind::World && (eps[src].kind == Endpoint::Kind::World || r.coin(50));
      const EndpointId self = ask_dst ? dst : src, peer = ask_dst ? src : dst;
      auto& cache = ask_dst ? who : from;
      if (!cache.count(self)) cache[self] = ask_dst ? who_can_reach(ev, self) : reachable_from(ev, self);
      const AllowedRange* hit = nullptr;
      int entries = 0;
      for (const auto& e : cache[self]) {
        bool member = e.kind == ReachEntry::Kind::World
                          ? eps[peer].kind == Endpoint::Kind::World &&
                                std::any_of(e.addresses.begin(), e.addresses.end(),
                                            [&](const AddrRange& a) { return in_range(*world_ip, a); })
                          : std::find(e.members.begin(), e.members.end(), peer) != e.members.end();
        if (!member) continue;
        ++entries;
        for (const auto& a : e.allowed) {
          bool covers = a.proto == Proto::Any ? f.proto == Proto(47)
                        : a.proto == f.proto &&
                              (f.proto == Proto::ICMP ? f.icmp_type >= a.first && f.icmp_type <= a.last
                                                      : f.port >= a.first && f.port <= a.last);
          if (covers) hit = &a;
        }
      }
      EXPECT_LE(entries, 1) << "a peer is in one entry at most";
      ASSERT_EQ(allowed, hit != nullptr) << to_string(f.proto) << " port " << f.port << " type "
                                         << int(f.icmp_type) << " " << eps[src].display() << " -> "
                                         << eps[dst].display();
      if (!hit) continue;
      EXPECT_EQ(d.l7_enforced, hit->l7.enforced);
      // An unmatched request passes exactly when the L7 rules are voided.
      // Probe in the proxies' own language (skip sides that disagree).
      L7Kind kind = L7Kind::None;
      bool mixed = false;
      for (const SideDecision* s : {&d.egress, &d.ingress})
        if (s->l7_enforced) {
          mixed |= kind != L7Kind::None && kind != s->l7_kind;
          kind = s->l7_kind;
        }
      if (hit->l7.enforced && !mixed) {
        Flow probe = f;
        L7Request req;
        req.kind = kind;
        req.http.method = "PROBE";
        req.http.path = "/cnpc-probe";
        req.dns_name = "cnpc-probe.invalid";
        probe.l7 = req;
        EXPECT_EQ(ev.decide(probe).l7_verdict == Verdict::Allowed, hit->l7.wildcard);
      }
    }
  }
}
