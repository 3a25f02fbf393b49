// np-guard's `onlineboutique_workloads` scenario: the NetworkPolicies of
// Online Boutique plus its Deployments, checked against np-guard's expected
// connectivity list (test_outputs/connlist/onlineboutique_workloads_connlist_output.txt).
//
// Every ordered pair of workloads (and the External entry, played by world
// addresses) is decided by the evaluator: a listed connection must be allowed
// on its ports, everything else must be denied on a sample of TCP/UDP ports
// that includes every port the list mentions.
//
// Where Cilium's semantics and np-guard's model could part ways:
//  * kube-dns: every egress policy allows UDP 53 to `namespaceSelector: {},
//    podSelector: {k8s-app: kube-dns}`. The scenario has no kube-dns pod, so
//    np-guard lists no DNS connection. In Cilium the selector matches pods
//    only (namespaceSelector {} means "any namespace", never world), so with
//    no such pod it allows nothing either: DNS to External and to every
//    workload is asserted denied.
//  * External: np-guard's 0.0.0.0-255.255.255.255 is Cilium's world identity.
//    A pod IP inside that range is the pod, not world (CIDR/ipBlock never
//    matches pods), so External is played by addresses outside the cluster.
//  * The host: np-guard does not model nodes. Cilium's default
//    --allow-localhost=always lets the local host into every pod, while a
//    remote node is an ordinary identity that these policies never allow;
//    both are asserted as Cilium behaviour, separately from np-guard's list.
//  * Self connections: np-guard omits a workload's connections to itself
//    (pod-to-own-IP traffic never leaves the pod's network namespace, so no
//    policy sees it); self pairs are not checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"

namespace cnpc {
namespace {

namespace fs = std::filesystem;

const fs::path kNpGuard =
    fs::path(CNPC_SHARED_DIR) / "corpus" / "k8s" / "np-guard-netpol-analyzer";
const fs::path kScenario = kNpGuard / "tests" / "onlineboutique_workloads";
const fs::path kConnlist =
    kNpGuard / "test_outputs" / "connlist" / "onlineboutique_workloads_connlist_output.txt";

const std::string kExternal = "External";
// Addresses that play np-guard's External entry.
const std::vector<std::string> kExternalRefs = {"cidr:8.8.8.8", "cidr:203.0.113.7"};

struct PortRange {
  ir::Proto proto;
  int first, last;
};

// One line of the connection list: "SRC => DST : CONNS".
struct Conn {
  bool all = false;
  std::vector<PortRange> ranges;
  bool allows(ir::Proto proto, int port) const {
    if (all) return true;
    return std::any_of(ranges.begin(), ranges.end(), [&](const PortRange& r) {
      return r.proto == proto && port >= r.first && port <= r.last;
    });
  }
};

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "default/frontend[Deployment]" -> "default/frontend"; "...[External]" -> External.
std::string Entity(const std::string& text) {
  std::string t = trim(text);
  if (t.find("[External]") != std::string::npos) return kExternal;
  auto bracket = t.find('[');
  return bracket == std::string::npos ? t : t.substr(0, bracket);
}

// "All Connections", "TCP 7070", "TCP 80,UDP 53", "TCP 1-100,200".
std::optional<Conn> ParseConns(const std::string& text, std::string& error) {
  Conn c;
  std::string t = trim(text);
  if (t == "All Connections") {
    c.all = true;
    return c;
  }
  std::optional<ir::Proto> proto;
  std::stringstream in(t);
  std::string item;
  while (std::getline(in, item, ',')) {
    item = trim(item);
    auto space = item.find(' ');
    std::string ports = item;
    if (space != std::string::npos) {
      proto = ir::parse_proto(item.substr(0, space));
      ports = trim(item.substr(space + 1));
    }
    if (!proto) {
      error = "no protocol in '" + t + "'";
      return std::nullopt;
    }
    auto dash = ports.find('-');
    try {
      int first = std::stoi(ports.substr(0, dash));
      int last = dash == std::string::npos ? first : std::stoi(ports.substr(dash + 1));
      c.ranges.push_back({*proto, first, last});
    } catch (...) {
      error = "bad ports '" + ports + "'";
      return std::nullopt;
    }
  }
  return c;
}

class OnlineBoutique : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(kScenario) || !fs::is_regular_file(kConnlist)) {
      std::cout << "np-guard corpus not found under " << kNpGuard << "; skipping\n";
      GTEST_SKIP() << "np-guard corpus not found under " << kNpGuard;
    }
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(kScenario))
      if (e.path().extension() == ".yaml") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    frontend::load_paths(files, {}, result_, diags_);
    for (const auto& d : diags_.all())
      EXPECT_NE(d.severity, ir::Severity::Error) << ir::render_text(diags_, d, false);
    EXPECT_EQ(result_.rejected_objects, 0u);
    evaluator_.emplace(result_.policies, result_.inventory);

    for (const auto& e : evaluator_->endpoints())
      if (!e.workload.empty() && e.workload != "Node") workloads_.push_back(e.display());
    std::sort(workloads_.begin(), workloads_.end());

    std::ifstream in(kConnlist);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (trim(line).empty()) continue;
      auto arrow = line.find("=>");
      auto colon = line.find(" : ");
      ASSERT_TRUE(arrow != std::string::npos && colon != std::string::npos)
          << kConnlist << ":" << n << ": cannot parse '" << line << "'";
      std::string error;
      auto conn = ParseConns(line.substr(colon + 3), error);
      ASSERT_TRUE(conn.has_value()) << kConnlist << ":" << n << ": " << error;
      expected_[{Entity(line.substr(0, arrow)), Entity(line.substr(arrow + 2, colon - arrow - 2))}] =
          *conn;
      for (const auto& r : conn->ranges) listed_ports_.insert(r.first), listed_ports_.insert(r.last);
    }
  }

  std::vector<std::string> Refs(const std::string& entity) const {
    return entity == kExternal ? kExternalRefs : std::vector<std::string>{entity};
  }

  ir::Decision Decide(const std::string& src, const std::string& dst, ir::Proto proto, int port) {
    ir::Flow f;
    auto s = evaluator_->resolve(src, &f.src_ip);
    auto d = evaluator_->resolve(dst, &f.dst_ip);
    if (!s || !d) {
      ADD_FAILURE() << "cannot resolve " << (s ? dst : src);
      return {};
    }
    f.src = *s;
    f.dst = *d;
    f.proto = proto;
    f.ip_proto = uint8_t(proto);
    if (proto == ir::Proto::ICMP)
      f.icmp_type = uint8_t(port);
    else
      f.port = uint16_t(port);
    return evaluator_->decide(f);
  }

  std::string Explain(const ir::Decision& d) const {
    std::string s = ir::to_string(d.verdict) + " (" + ir::to_string(d.reason) + ")";
    for (const auto& o : d.deciding_origins(result_.policies))
      s += "\n    " + o.loc.file + ":" + std::to_string(o.loc.line) + " " + o.policy_ref() + " " +
           o.path;
    return s;
  }

  // The sampled (proto, port) pairs: common ports, every port of the list,
  // both TCP and UDP, plus SCTP and ICMP echo.
  std::vector<std::pair<ir::Proto, int>> Samples() const {
    std::set<int> ports = listed_ports_;
    for (int p : {1, 53, 80, 443, 6379, 8443, 65535}) ports.insert(p);
    std::vector<std::pair<ir::Proto, int>> out;
    for (int p : ports) {
      out.push_back({ir::Proto::TCP, p});
      out.push_back({ir::Proto::UDP, p});
    }
    out.push_back({ir::Proto::SCTP, 9});
    out.push_back({ir::Proto::ICMP, 8});
    return out;
  }

  frontend::LoadResult result_;
  ir::Diagnostics diags_;
  std::optional<ir::Evaluator> evaluator_;
  std::vector<std::string> workloads_;
  std::map<std::pair<std::string, std::string>, Conn> expected_;
  std::set<int> listed_ports_;
};

TEST_F(OnlineBoutique, InventoryHasEveryWorkloadOfTheList) {
  EXPECT_EQ(workloads_.size(), 12u);
  EXPECT_EQ(expected_.size(), 17u);
  EXPECT_EQ(result_.policy_objects, 11u);
  for (const auto& [pair, conn] : expected_) {
    for (const auto& name : {pair.first, pair.second}) {
      if (name == kExternal) continue;
      EXPECT_TRUE(std::find(workloads_.begin(), workloads_.end(), name) != workloads_.end())
          << name << " is in the connection list but not in the inventory";
    }
  }
}

TEST_F(OnlineBoutique, AllPairsMatchTheConnectionList) {
  std::vector<std::string> entities = workloads_;
  entities.push_back(kExternal);
  const auto samples = Samples();
  size_t flows = 0, allowed = 0;
  for (const auto& src : entities) {
    for (const auto& dst : entities) {
      if (src == dst) continue;  // self connections: see the header comment
      auto it = expected_.find({src, dst});
      const Conn none;
      const Conn& conn = it == expected_.end() ? none : it->second;
      for (const auto& s : Refs(src))
        for (const auto& d : Refs(dst)) {
          // Every listed port range, at both ends.
          for (const auto& r : conn.ranges)
            for (int port : {r.first, r.last}) {
              auto dec = Decide(s, d, r.proto, port);
              ++flows;
              EXPECT_EQ(dec.verdict, ir::Verdict::Allowed)
                  << src << " => " << dst << " " << ir::to_string(r.proto) << " " << port
                  << " is listed by np-guard: " << Explain(dec);
            }
          for (const auto& [proto, port] : samples) {
            auto dec = Decide(s, d, proto, port);
            ++flows;
            const bool want = conn.allows(proto, port);
            allowed += dec.verdict == ir::Verdict::Allowed;
            if (want) {
              EXPECT_EQ(dec.verdict, ir::Verdict::Allowed)
                  << src << " => " << dst << " " << ir::to_string(proto) << " " << port
                  << " is listed by np-guard: " << Explain(dec);
            } else {
              EXPECT_EQ(dec.verdict, ir::Verdict::Denied)
                  << src << " => " << dst << " " << ir::to_string(proto) << " " << port
                  << " is not listed by np-guard: " << Explain(dec);
            }
          }
        }
    }
  }
  std::cout << "decided " << flows << " flows over " << entities.size() << " entities\n";
  EXPECT_GT(allowed, 0u);
}

// DNS: the policies allow UDP 53 only to kube-dns pods, and there are none.
TEST_F(OnlineBoutique, DnsRulesAllowNothingWithoutKubeDns) {
  for (const char* src : {"default/frontend", "default/checkoutservice",
                          "default/recommendationservice", "default/loadgenerator"}) {
    for (const auto& dst : kExternalRefs)
      EXPECT_EQ(Decide(src, dst, ir::Proto::UDP, 53).verdict, ir::Verdict::Denied) << src;
    EXPECT_EQ(Decide(src, "default/redis-cart", ir::Proto::UDP, 53).verdict, ir::Verdict::Denied)
        << src;
  }
}

// Cilium-specific: nodes are identities np-guard does not model.
TEST_F(OnlineBoutique, HostAndRemoteNodeFollowCiliumRules) {
  // --allow-localhost=always (Cilium's default): the local host reaches pods.
  auto d = Decide("entity:host", "default/frontend", ir::Proto::TCP, 8080);
  EXPECT_EQ(d.verdict, ir::Verdict::Allowed) << Explain(d);
  EXPECT_TRUE(d.ingress.localhost_allowed);
  // A remote node is not allowed by any of these policies.
  d = Decide("entity:remote-node", "default/frontend", ir::Proto::TCP, 8080);
  EXPECT_EQ(d.verdict, ir::Verdict::Denied) << Explain(d);
  EXPECT_EQ(d.reason, ir::DropReason::PolicyDenied);
  // redis-cart has no policy at all.
  d = Decide("entity:remote-node", "default/redis-cart", ir::Proto::TCP, 6379);
  EXPECT_EQ(d.verdict, ir::Verdict::Allowed) << Explain(d);
}

}  // namespace
}  // namespace cnpc
