// cnpc_datapath_bench: what a packet costs in cnpc's generated programs,
// next to Cilium's datapath design and an iptables-style chain, deciding
// the same policy (docs/benchmarks-datapath.md).
//
// For N = 10, 100, 1,000, 10,000 ingress rules of one subject endpoint
// (synthetic: distinct peer identities and ports, port ranges, UDP, team
// selectors, L4-only and L3-only rules, L7 redirects, some denies):
//   - compiles the policy with cnpc's codegen (codegen::compile_bundle, timed:
//     the bundle compile time), auto mode, plus the forced mode auto did not
//     pick, plus auto with events on; loads each bundle (load time, verified
//     instructions);
//   - loads the floors (empty, parse, parse + ipcache lookup) and the two
//     baselines (tests/bench/bpf/*.bpf.c), and fills their ipcache and policy
//     maps from the SAME policy, derived here from the IR and the evaluator
//     (not from codegen's model);
//   - checks that every implementation returns the evaluator's verdict and
//     reason for four packets (first: matches rule 0, a deny; first allow:
//     matches the first allow rule; last: matches the last rule; miss:
//     matches nothing -> default drop), and aborts on any disagreement;
//     checks that a new pod of an existing class is one ipcache update;
//   - measures each with BPF_PROG_TEST_RUN (repeat 1e6, the kernel's mean ns
//     per run), median of 5 runs, implementations interleaved within a run.
//     Events on: repeat 1e4 with the ring drained around each run (a full
//     ring makes events free). Runs that would take longer than
//     --max-seconds (the chain at 10,000 rules) get a smaller repeat, marked.
// Needs root (BPF). Pins itself to one CPU (the last unless --cpu):
//   ./cnpc_datapath_bench [--rules 10,100,1000,10000] [--repeat N] [--runs N]
//                         [--cpu N] [--json FILE] [--keep DIR] [--inline-max N]
//                         [--max-seconds S] [--no-chain] [--event-repeat N]
#include <arpa/inet.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cnpc/codegen/codegen.h"
#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/evaluator.h"
#include "cnpc/runtime/runtime.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace cnpc;

namespace {

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "cnpc_datapath_bench: %s\n", msg.c_str());
  std::exit(1);
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ------------------------------------------------------------ the policy set

uint16_t port_of(size_t i) { return uint16_t(1024 + 5 * i); }
std::string peer_ip(size_t k) {
  return "10.2." + std::to_string(k / 250) + "." + std::to_string(k % 250 + 1);
}
constexpr const char* kSubjectIp = "10.1.0.1";
constexpr size_t kTeamSize = 20;

// What rule i is (declaration order = rule id order: the deny policies come first).
struct RuleShape {
  bool deny = false;
  enum Peer { One, Team, Any } peer = One;
  size_t peer_index = 0;  // the peer pod (One) or team (Team)
  bool all_ports = false;
  bool udp = false;
  uint16_t first = 0, last = 0;
  bool l7 = false;
};

std::vector<RuleShape> plan_rules(size_t n) {
  const size_t denies = std::max<size_t>(1, n / 20);
  std::vector<RuleShape> out(n);
  for (size_t i = 0; i < n; ++i) {
    RuleShape& r = out[i];
    r.peer_index = i;
    r.first = r.last = port_of(i);
    if (i < denies) {
      r.deny = true;
      if (i == 0) continue;  // L3/L4 deny, TCP: the first-match packet
      switch (i % 4) {
        case 1:  // L4-only deny of a port range, any peer
          r.peer = RuleShape::Any;
          r.last = r.first + 3;
          break;
        case 2:  // L3-only deny of a peer that also has an allow (deny wins over it),
                 // never the peer of the first or the last allow
          r.peer_index = denies + 1 + (i * 7919) % std::max<size_t>(1, n - 2 - denies);
          r.all_ports = true;
          break;
        default:
          r.udp = i % 3 == 0;
      }
      continue;
    }
    if (i == denies || i == n - 1) continue;  // L3/L4 allow, one TCP port: the first-allow and last-match packets
    switch (i % 20) {
      case 3: r.peer = RuleShape::Any; break;                            // L4-only allow
      case 7: r.all_ports = true; break;                                 // L3-only allow
      case 11: r.l7 = true; break;                                       // HTTP: redirect
      case 13: r.peer = RuleShape::Team; r.peer_index = i / kTeamSize; break;  // a team of pods
    }
    if (!r.all_ports && i % 5 == 4) r.last = r.first + 3;  // port range
    if (!r.all_ports && !r.l7 && i % 10 == 9) r.udp = true;
  }
  return out;
}

std::string rule_yaml(const RuleShape& r) {
  std::ostringstream y;
  const char* dash = "    - ";
  const char* ind = "      ";
  bool first_key = true;
  auto key = [&]() -> const char* {
    const char* k = first_key ? dash : ind;
    first_key = false;
    return k;
  };
  if (r.peer == RuleShape::One)
    y << key() << "fromEndpoints:\n" << ind << "  - matchLabels:\n" << ind << "      app: peer-" << r.peer_index << "\n";
  else if (r.peer == RuleShape::Team)
    y << key() << "fromEndpoints:\n" << ind << "  - matchLabels:\n" << ind << "      team: team-" << r.peer_index << "\n";
  if (!r.all_ports) {
    y << key() << "toPorts:\n" << ind << "  - ports:\n"
      << ind << "      - port: \"" << r.first << "\"\n";
    if (r.last != r.first) y << ind << "        endPort: " << r.last << "\n";
    y << ind << "        protocol: " << (r.udp ? "UDP" : "TCP") << "\n";
    if (r.l7)
      y << ind << "    rules:\n" << ind << "      http:\n" << ind << "        - method: GET\n"
        << ind << "          path: \"/api/.*\"\n";
  }
  return y.str();
}

std::string policy_yaml(size_t n) {
  auto rules = plan_rules(n);
  std::ostringstream y;
  y << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench\n  labels:\n"
    << "    kubernetes.io/metadata.name: bench\n";
  auto pod = [&](const std::string& name, const std::string& labels, const std::string& ip) {
    y << "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: " << name << "\n  namespace: bench\n  labels:\n"
      << labels << "spec:\n  containers:\n    - name: c\n      image: x\nstatus:\n  podIP: " << ip
      << "\n  podIPs:\n    - ip: " << ip << "\n";
  };
  pod("subject", "    app: subject\n", kSubjectIp);
  for (size_t k = 0; k < n; ++k)
    pod("peer-" + std::to_string(k),
        "    app: peer-" + std::to_string(k) + "\n    team: team-" + std::to_string(k / kTeamSize) + "\n",
        peer_ip(k));
  // Ten entries per policy, denies first (ingressDeny), then allows.
  constexpr size_t kPerPolicy = 10;
  for (size_t i = 0; i < n;) {
    const bool deny = rules[i].deny;
    y << "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: "
      << (deny ? "deny-" : "allow-") << i << "\n  namespace: bench\nspec:\n  endpointSelector:\n"
      << "    matchLabels:\n      app: subject\n  " << (deny ? "ingressDeny" : "ingress") << ":\n";
    for (size_t k = 0; k < kPerPolicy && i < n && rules[i].deny == deny; ++k, ++i) y << rule_yaml(rules[i]);
  }
  return y.str();
}

// ------------------------------------------------- the policy as a datapath
//
// Derived from the IR and the evaluator's class view, independently of
// codegen's model: per rule of the subject's ingress, its peer classes (or
// any) and its port spans (or every protocol and port), in precedence order.

struct Span {
  uint8_t pidx;
  uint16_t first, last;
};
enum Cat : int { kNone = 0, kAllowC = 1, kRedirectC = 2, kDenyC = 3 };

struct BenchEntry {
  ir::RuleId rule;
  Cat cat;
  bool all_peers = false;
  std::vector<uint32_t> peers;  // evaluator class ids
  bool all_ports = false;
  std::vector<Span> ports;
};

std::vector<BenchEntry> derive_entries(const ir::Evaluator& ev, uint32_t subject) {
  std::vector<BenchEntry> out;
  const auto& ps = ev.policies();
  const uint32_t world = ev.class_of(ev.world());
  for (ir::RuleId r : ev.rules_of(subject, ir::Direction::Ingress)) {
    const ir::Rule& rule = ps.rules[r];
    if (rule.matches_nothing) continue;
    if (!rule.icmps.empty()) die("ICMP rules are not part of the synthetic set");
    BenchEntry base{r, kNone, false, {}, false, {}};
    if (!rule.peers) {
      base.all_peers = true;
    } else {
      std::set<uint32_t> peers;
      for (size_t i = 0; i < rule.peers->size(); ++i) {
        if ((*rule.peers)[i].kind != ir::Peer::Kind::Endpoints) die("only endpoint peers are synthesized");
        for (uint32_t pc = 0; pc < ev.class_count(); ++pc)
          if (ev.peer_class_matches(r, i, subject, pc)) {
            if (pc == world) die("a synthesized peer selector matched world");
            peers.insert(pc);
          }
      }
      if (peers.empty()) continue;
      base.peers.assign(peers.begin(), peers.end());
    }
    if (rule.port_rules.empty()) {
      BenchEntry e = base;
      e.cat = rule.action == ir::Action::Deny ? kDenyC : kAllowC;
      e.all_ports = true;
      out.push_back(e);
      continue;
    }
    // First match among a rule's port rules: a port belongs to the first
    // port rule naming it (matters for L7 only; one port rule here).
    std::vector<Span> earlier;
    for (const auto& pr : rule.port_rules) {
      BenchEntry e = base;
      e.cat = rule.action == ir::Action::Deny ? kDenyC : pr.l7.kind != ir::L7Kind::None ? kRedirectC : kAllowC;
      for (const auto& pm : pr.ports) {
        if (!pm.name.empty()) die("named ports are not synthesized");
        std::vector<uint8_t> pidx;
        if (pm.proto == ir::Proto::Any) pidx = {0, 1, 2};
        else if (pm.proto == ir::Proto::TCP) pidx = {0};
        else if (pm.proto == ir::Proto::UDP) pidx = {1};
        else if (pm.proto == ir::Proto::SCTP) pidx = {2};
        for (uint8_t px : pidx) {
          for (const auto& s : earlier)
            if (s.pidx == px && !(s.last < pm.first || s.first > pm.last))
              die("overlapping port rules within one rule are not synthesized");
          e.ports.push_back({px, pm.first, pm.last});
        }
      }
      earlier.insert(earlier.end(), e.ports.begin(), e.ports.end());
      out.push_back(e);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const BenchEntry& a, const BenchEntry& b) {
    if (a.cat != b.cat) return a.cat > b.cat;
    return a.rule < b.rule;
  });
  return out;
}

constexpr uint8_t kProtoOfPidx[] = {6, 17, 132, 1, 58};

// ------------------------------------------------------- Cilium's policy map

struct PolicyKey {
  uint32_t prefixlen;
  uint32_t sec_label;
  uint8_t egress;  // bit 0; 7 bits of padding
  uint8_t protocol;
  uint16_t dport;  // network order
};
static_assert(sizeof(PolicyKey) == 12);
struct PolicyEntry {
  uint16_t proxy_port;  // network order
  uint8_t deny_prefix;  // deny:1, reserved:2, lpm_prefix_length:5 (LSB first)
  uint8_t auth;
  uint8_t proxy_port_priority;
  uint8_t pad1;
  uint16_t pad2;
  uint32_t cookie;
};
static_assert(sizeof(PolicyEntry) == 12);

constexpr uint32_t kIdentityBase = 256;  // Cilium's first cluster-local identity

// [lo, hi] as CIDR-like prefixes over 16 bits: (value, prefix bits).
std::vector<std::pair<uint16_t, int>> port_prefixes(uint32_t lo, uint32_t hi) {
  std::vector<std::pair<uint16_t, int>> out;
  while (lo <= hi) {
    int bits = 16;
    while (bits > 0) {
      uint32_t size = 1u << (16 - (bits - 1));
      uint32_t mask = size - 1;
      if ((lo & mask) != 0 || lo + size - 1 > hi) break;
      --bits;
    }
    out.push_back({uint16_t(lo), bits});
    lo += 1u << (16 - bits);
  }
  return out;
}

struct CiliumMap {
  // (identity, protocol, port, proto+port prefix bits) -> (category, rule)
  struct K {
    uint32_t id;
    uint8_t proto;
    uint16_t port;
    int plen;  // 0: any protocol; 8: protocol, any port; 8 + k: k port bits
    auto operator<=>(const K&) const = default;
  };
  std::map<K, std::pair<Cat, uint32_t>> entries;
  size_t raw_entries = 0;
};

// What Cilium's agent writes for one endpoint's ingress: an entry per
// (identity, proto/port prefix), deny > redirect > allow on the same key,
// and an entry covered by a shorter entry of higher precedence (same
// identity) takes that entry's verdict (mapstate's deny precedence, here
// extended to redirects, as the 2-lookup datapath needs).
CiliumMap cilium_entries(const std::vector<BenchEntry>& entries) {
  CiliumMap m;
  auto put = [&](const CiliumMap::K& k, Cat c, uint32_t rule) {
    ++m.raw_entries;
    auto [it, fresh] = m.entries.try_emplace(k, c, rule);
    if (!fresh && c > it->second.first) it->second = {c, rule};
  };
  for (const auto& e : entries) {
    std::vector<uint32_t> ids;
    if (e.all_peers) ids = {0};
    else
      for (uint32_t p : e.peers) ids.push_back(p + kIdentityBase);
    for (uint32_t id : ids) {
      if (e.all_ports) {
        put({id, 0, 0, 0}, e.cat, e.rule);
        continue;
      }
      for (const auto& s : e.ports)
        for (auto [value, bits] : port_prefixes(s.first, s.last))
          put({id, kProtoOfPidx[s.pidx], value, 8 + bits}, e.cat, e.rule);
    }
  }
  auto original = m.entries;
  for (auto& [k, v] : m.entries) {
    for (int q = 0; q < k.plen; ++q) {
      if (q > 0 && q < 8) continue;
      CiliumMap::K cover{k.id, uint8_t(q >= 8 ? k.proto : 0),
                         uint16_t(q > 8 ? (k.port & (0xFFFFu << (24 - q))) : 0), q};
      auto it = original.find(cover);
      if (it != original.end() && it->second.first > v.first) v = it->second;
    }
  }
  return m;
}

// ------------------------------------------------------ the iptables chain

struct IptRule {
  uint32_t peer_lo, peer_hi;
  uint16_t port_lo, port_hi;
  uint8_t pidx, verdict;
  uint16_t pad;
  uint32_t rule;
};
static_assert(sizeof(IptRule) == 20);

std::vector<IptRule> iptables_rules(const std::vector<BenchEntry>& entries) {
  std::vector<IptRule> out;
  for (const auto& e : entries) {
    const uint8_t verdict = e.cat == kDenyC ? runtime::kDrop : e.cat == kRedirectC ? runtime::kRedirect : runtime::kAllow;
    std::vector<std::pair<uint32_t, uint32_t>> ranges;  // consecutive classes, as one ipset
    if (e.all_peers) ranges = {{0, 0xFFFFFFFFu}};
    else
      for (uint32_t p : e.peers)
        if (!ranges.empty() && ranges.back().second + 1 == p) ranges.back().second = p;
        else ranges.push_back({p, p});
    for (auto [lo, hi] : ranges) {
      if (e.all_ports) {
        out.push_back({lo, hi, 0, 65535, 0xFF, verdict, 0, e.rule});
        continue;
      }
      for (const auto& s : e.ports) out.push_back({lo, hi, s.first, s.last, s.pidx, verdict, 0, e.rule});
    }
  }
  return out;
}

// ------------------------------------------------------------ measurements

struct Impl {
  std::string name;   // row label
  std::string mode;   // inline / table / -
  int fd = -1;
  uint32_t verified = 0, xlated = 0;
  double load_ms = 0, compile_ms = 0, fill_ms = 0;
  runtime::LoadedBundle* events = nullptr;  // events on: measured with a small repeat, ring drained around each run
  std::vector<std::vector<double>> samples;  // [packet][run]
  std::vector<uint32_t> repeat;              // [packet]: what was used (capped by --max-seconds)
  std::vector<double> median;                // [packet]
};

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Options {
  std::vector<size_t> sizes = {10, 100, 1000, 10000};
  uint32_t repeat = 1000000;
  uint32_t event_repeat = 10000;
  int runs = 5;
  int cpu = -1;
  size_t inline_max_rules = 1000;  // skip forced inline above this many rules (clang: minutes, GBs)
  bool chain = true;                // --no-chain: skip the iptables chain (quick runs)
  double max_seconds = 20;          // cap one test run: repeat shrinks (not below 1e4) for slow chains
  std::string json_out, keep_dir;
  std::string bpf_dir = CNPC_BENCH_BPF_DIR;
};

struct Packet {
  std::string name;
  size_t peer;  // peer-<peer> sends it
  ir::EndpointId src;
  uint16_t dport;
  std::vector<uint8_t> bytes;
  int want_verdict = 0, want_reason = 0;
};

const char* verdict_name(int v) {
  switch (v) {
    case runtime::kAllow: return "ALLOW";
    case runtime::kDrop: return "DROP";
    case runtime::kRedirect: return "REDIRECT";
    case runtime::kAudit: return "AUDIT";
  }
  return "?";
}

void fill_ipcache(runtime::LoadedObject& obj, const json& ipcache, uint32_t offset) {
  for (const auto& e : ipcache) {
    runtime::IpcacheKey key = runtime::ipcache_key(e.at("prefix").get<std::string>());
    runtime::IpcacheValue v{e.at("class").get<uint32_t>() + offset};
    obj.map_update(runtime::kIpcacheMap, &key, &v);
  }
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) die("cannot read " + p.string());
  return json::parse(in);
}

struct Bundle {
  fs::path dir;
  std::unique_ptr<runtime::LoadedBundle> loaded;
  codegen::Report report;
  double compile_ms = 0;
  std::string ingress_mode;
  ~Bundle() {
    loaded.reset();
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

std::unique_ptr<Bundle> compile(const ir::Evaluator& ev, codegen::Mode mode, bool events, const std::string& tag,
                                const Options& o) {
  auto b = std::make_unique<Bundle>();
  b->dir = fs::temp_directory_path() / ("cnpc-dpbench-" + tag + "-" + std::to_string(getpid()));
  codegen::Options opt;
  opt.include_dir = CNPC_BPF_INCLUDE_DIR;
  opt.mode = mode;
  opt.events = events;
  // Every run decides: with connection tracking, the repeated packet of an
  // allowed flow would take the established fast path after its first run.
  opt.conntrack = false;
  opt.jobs = 2;
  ir::Diagnostics diags;
  double t0 = now_s();
  if (!codegen::compile_bundle(ev, b->dir.string(), opt, b->report, diags)) {
    std::string msg;
    for (const auto& d : diags.all()) msg += d.message + "\n";
    throw std::runtime_error("compile_bundle (" + tag + "): " + msg.substr(0, 2000));
  }
  b->compile_ms = (now_s() - t0) * 1e3;
  if (!o.keep_dir.empty()) {
    fs::path keep = fs::path(o.keep_dir) / tag;
    std::error_code ec;
    fs::remove_all(keep, ec);
    fs::create_directories(keep.parent_path());
    fs::copy(b->dir, keep, fs::copy_options::recursive);
  }
  b->loaded = std::make_unique<runtime::LoadedBundle>(runtime::LoadedBundle::load(b->dir.string()));
  return b;
}

std::string fmt(double v, int prec = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

struct SizeResult {
  size_t rules;
  size_t entries, cilium_entries, cilium_raw, ipt_rows, classes;
  std::vector<Impl> impls;
  double frontend_s, evaluator_s;
};

SizeResult run_size(size_t n, const Options& o) {
  SizeResult res{};
  res.rules = n;
  std::printf("\n== %zu rules ==\n", n);
  std::fflush(stdout);

  // The policy set, through the frontend as a user's YAML would go.
  double t0 = now_s();
  std::string yaml = policy_yaml(n);
  frontend::LoadResult lr;
  ir::Diagnostics diags;
  frontend::load_text("bench-" + std::to_string(n) + ".yaml", yaml, {}, lr, diags);
  if (diags.has_errors()) {
    std::string msg;
    for (const auto& d : diags.all()) msg += d.message + "\n";
    die("synthetic policy rejected: " + msg.substr(0, 2000));
  }
  res.frontend_s = now_s() - t0;
  t0 = now_s();
  ir::Evaluator ev(lr.policies, lr.inventory);
  auto subject_ep = ev.resolve("bench/subject", nullptr);
  if (!subject_ep) die("no subject endpoint");
  const uint32_t subject = ev.class_of(*subject_ep);
  if (ev.rules_of(subject, ir::Direction::Ingress).size() != n)
    die("the subject has " + std::to_string(ev.rules_of(subject, ir::Direction::Ingress).size()) +
        " ingress rules, expected " + std::to_string(n));
  auto entries = derive_entries(ev, subject);
  res.evaluator_s = now_s() - t0;
  res.entries = entries.size();
  res.classes = ev.class_count();

  // The three packets, with the evaluator's verdict for each.
  auto rules = plan_rules(n);
  auto ep = [&](size_t k) {
    auto id = ev.resolve("bench/peer-" + std::to_string(k), nullptr);
    if (!id) die("no peer-" + std::to_string(k));
    return *id;
  };
  const size_t first_allow = std::max<size_t>(1, n / 20);
  std::vector<Packet> packets = {
      {"first", 0, ep(0), port_of(0), {}},
      {"first allow", first_allow, ep(first_allow), port_of(first_allow), {}},
      {"last", n - 1, ep(n - 1), port_of(n - 1), {}},
      {"miss", n - 1, ep(n - 1), 1, {}},
  };
  for (auto& p : packets) {
    runtime::PacketSpec spec;
    spec.src = peer_ip(p.peer);
    spec.dst = kSubjectIp;
    spec.proto = 6;
    spec.dport = p.dport;
    p.bytes = runtime::build_packet(spec);
    ir::Flow f;
    f.src = p.src;
    f.dst = *subject_ep;
    f.proto = ir::Proto::TCP;
    f.ip_proto = 6;
    f.port = p.dport;
    auto d = ev.decide(f).ingress;
    if (!d.applies || !d.enforced) die("the subject's ingress is not enforced");
    if (d.verdict == ir::Verdict::Denied) {
      p.want_verdict = runtime::kDrop;
      p.want_reason = d.reason == ir::DropReason::PolicyDeny ? runtime::kReasonPolicyDeny : runtime::kReasonPolicyDenied;
    } else {
      p.want_verdict = d.l7_enforced ? runtime::kRedirect : runtime::kAllow;
      p.want_reason = runtime::kReasonNone;
    }
    // The packets are what they claim to be.
    const ir::RuleId first_rule = ev.rules_of(subject, ir::Direction::Ingress).front();
    const ir::RuleId last_rule = ev.rules_of(subject, ir::Direction::Ingress).back();
    if (p.name == "first" && std::find(d.deny_rules.begin(), d.deny_rules.end(), first_rule) == d.deny_rules.end())
      die("the first-match packet does not match the first rule");
    if (p.name == "last" && d.allow_rules != std::vector<ir::RuleId>{last_rule})
      die("the last-match packet does not match (only) the last rule");
    if (p.name == "first allow" && (d.allow_rules.size() != 1 || !d.deny_rules.empty() ||
                                    lr.policies.rules[d.allow_rules[0]].action != ir::Action::Allow))
      die("the first-allow packet does not match exactly one allow rule");
    if (p.name == "miss" && (!d.allow_rules.empty() || !d.deny_rules.empty()))
      die("the miss packet matches a rule");
  }

  std::vector<Impl>& impls = res.impls;
  std::vector<std::unique_ptr<Bundle>> bundles;
  std::vector<std::unique_ptr<runtime::LoadedObject>> objects;

  // (a) cnpc: auto, events off.
  auto add_bundle = [&](codegen::Mode mode, bool events, const std::string& label) -> bool {
    const std::string tag = std::to_string(n) + "-" + label;
    std::unique_ptr<Bundle> b;
    try {
      b = compile(ev, mode, events, tag, o);
    } catch (const std::exception& e) {
      std::string what = e.what();
      std::printf("  %-22s FAILED: %s\n", label.c_str(), what.substr(0, 600).c_str());
      Impl im;
      im.name = label;
      im.mode = "FAILED";
      im.fd = -1;
      impls.push_back(im);
      return false;
    }
    const auto& prog = b->loaded->program_for_class(subject);
    Impl im;
    im.name = label;
    for (const auto& pr : b->report.programs)
      for (uint32_t c : pr.classes)
        if (c == subject) im.mode = pr.ingress.mode;
    im.fd = prog.ingress_fd;
    im.verified = prog.ingress_verified_insns;
    im.xlated = prog.ingress_insns;
    im.load_ms = prog.load_ns / 1e6;
    im.compile_ms = b->compile_ms;
    if (events) im.events = b->loaded.get();
    std::printf("  %-22s mode %-6s compile %8.1f ms  load %7.1f ms  verified %7u  xlated %6u\n", label.c_str(),
                im.mode.c_str(), im.compile_ms, im.load_ms, im.verified, im.xlated);
    std::fflush(stdout);
    impls.push_back(std::move(im));
    bundles.push_back(std::move(b));
    return true;
  };
  add_bundle(codegen::Mode::Auto, false, "cnpc auto");
  const std::string auto_mode = impls.back().mode;
  if (auto_mode != "table") add_bundle(codegen::Mode::Table, false, "cnpc forced table");
  if (auto_mode != "inline") {
    if (n <= o.inline_max_rules)
      add_bundle(codegen::Mode::Inline, false, "cnpc forced inline");
    else
      std::printf("  cnpc forced inline     skipped (--inline-max %zu)\n", o.inline_max_rules);
  }
  add_bundle(codegen::Mode::Auto, true, "cnpc auto + events");

  // The ipcache every other program gets: the bundle's.
  const json ipcache = read_json(bundles.front()->dir / "ipcache.json");

  auto load_obj = [&](const std::string& file, const std::string& prog, const std::string& label,
                      uint32_t ipcache_offset) -> runtime::LoadedObject& {
    auto obj = std::make_unique<runtime::LoadedObject>(runtime::LoadedObject::load(o.bpf_dir + "/" + file));
    Impl im;
    im.name = label;
    im.mode = "-";
    im.fd = obj->program_fd(prog);
    im.verified = obj->verified_insns(prog);
    im.xlated = obj->xlated_insns(prog);
    im.load_ms = obj->load_ns() / 1e6;
    double t = now_s();
    fill_ipcache(*obj, ipcache, ipcache_offset);
    im.fill_ms = (now_s() - t) * 1e3;  // ipcache only; policy maps add theirs below
    impls.push_back(std::move(im));
    objects.push_back(std::move(obj));
    return *objects.back();
  };
  load_obj("floor_empty.bpf.o", "floor_empty", "floor: empty", 0);
  load_obj("floor_parse.bpf.o", "floor_parse", "floor: parse", 0);
  load_obj("floor_lookup.bpf.o", "floor_lookup", "floor: parse+lookup", 0);

  // (b) Cilium's design.
  {
    double t = now_s();
    CiliumMap cm = cilium_entries(entries);
    auto& obj = load_obj("cilium_style.bpf.o", "cilium_ingress", "cilium-style", kIdentityBase);
    for (const auto& [k, v] : cm.entries) {
      PolicyKey key{};
      key.prefixlen = 40 + k.plen;
      key.sec_label = k.id;
      key.egress = 0;
      key.protocol = k.proto;
      key.dport = htons(k.port);
      PolicyEntry val{};
      val.proxy_port = v.first == kRedirectC ? htons(15001) : 0;
      val.deny_prefix = uint8_t((v.first == kDenyC ? 1 : 0) | (k.plen << 3));
      val.proxy_port_priority = v.first == kRedirectC ? 1 : 0;
      val.cookie = v.second;
      obj.map_update("cilium_policy_v2", &key, &val);
    }
    impls.back().fill_ms = (now_s() - t) * 1e3;
    res.cilium_entries = cm.entries.size();
    res.cilium_raw = cm.raw_entries;
  }
  // (c) iptables-style chains.
  if (o.chain) {
    auto rows = iptables_rules(entries);
    res.ipt_rows = rows.size();
    auto fill = [&](runtime::LoadedObject& obj) {
      for (uint32_t i = 0; i < rows.size(); ++i) obj.map_update("ipt_rules", &i, &rows[i]);
      uint32_t zero = 0, count = uint32_t(rows.size());
      obj.map_update("ipt_config", &zero, &count);
    };
    double t = now_s();
    fill(load_obj("iptables_chain.bpf.o", "ipt_ingress", "iptables chain", 0));
    impls.back().fill_ms = (now_s() - t) * 1e3;
  }
  std::printf("  %zu entries; cilium-style map %zu keys (%zu before merging); iptables chain %zu rows; %zu classes\n",
              entries.size(), res.cilium_entries, res.cilium_raw, res.ipt_rows, res.classes);

  // Every implementation, every packet: the evaluator's verdict, or abort.
  for (auto& im : impls) {
    if (im.fd < 0) continue;
    for (const auto& p : packets) {
      if (im.events) im.events->drain_events();
      auto r = runtime::test_run(im.fd, p.bytes, 1);
      if (im.name.rfind("floor", 0) == 0) continue;  // floors decide nothing
      if (r.verdict != p.want_verdict || r.reason != p.want_reason)
        die(std::to_string(n) + " rules, " + im.name + ", packet " + p.name + ": verdict " + verdict_name(r.verdict) +
            " reason " + std::to_string(r.reason) + ", evaluator " + verdict_name(p.want_verdict) + " reason " +
            std::to_string(p.want_reason));
    }
  }
  // Pod churn: a new pod of the last rule's peer class is one ipcache
  // update in the loaded bundle, no recompile, and is decided like its class.
  if (impls.front().name == "cnpc auto" && impls.front().fd >= 0) {
    const std::string ip = "10.3.0.1";
    bundles.front()->loaded->ipcache_update(ip + "/32", ev.class_of(packets[2].src));
    runtime::PacketSpec spec;
    spec.src = ip;
    spec.dst = kSubjectIp;
    spec.dport = packets[2].dport;
    auto r = runtime::test_run(impls.front().fd, runtime::build_packet(spec), 1);
    if (r.verdict != packets[2].want_verdict) die("pod churn: the new pod is not decided like its class");
    bundles.front()->loaded->ipcache_delete(ip + "/32");
    std::printf("  pod churn: a new pod of an existing class is one ipcache update, decided %s without a recompile\n",
                verdict_name(r.verdict));
  }
  std::printf("  verdicts agree with the evaluator:");
  for (const auto& p : packets) std::printf(" %s %s/%d;", p.name.c_str(), verdict_name(p.want_verdict), p.want_reason);
  std::printf("\n");
  std::fflush(stdout);

  // Repeat per (implementation, packet): o.repeat unless one run would
  // take longer than --max-seconds (the iptables chain at 10,000 rules).
  for (auto& im : impls) {
    im.samples.assign(packets.size(), {});
    im.repeat.assign(packets.size(), im.events ? o.event_repeat : o.repeat);
    if (im.fd < 0 || im.events) continue;
    for (size_t pi = 0; pi < packets.size(); ++pi) {
      double ns = std::max<double>(1, runtime::test_run(im.fd, packets[pi].bytes, 1000).duration_ns);
      double fit = o.max_seconds * 1e9 / ns;
      if (fit < o.repeat) im.repeat[pi] = uint32_t(std::max(1e4, fit));
    }
  }
  // Measure: runs outermost, implementations interleaved within each run.
  for (int run = 0; run < o.runs; ++run)
    for (auto& im : impls) {
      if (im.fd < 0) continue;
      for (size_t pi = 0; pi < packets.size(); ++pi) {
        if (im.events) {
          // The ring holds ~13k events: drain, then run fewer than that, so
          // every run emits its event (a full ring would make events free).
          im.events->drain_events();
          auto r = runtime::test_run(im.fd, packets[pi].bytes, o.event_repeat);
          im.samples[pi].push_back(r.duration_ns);
          auto ev_count = im.events->drain_events().size();
          if (ev_count < o.event_repeat) die("events lost: " + std::to_string(ev_count));
        } else {
          auto r = runtime::test_run(im.fd, packets[pi].bytes, im.repeat[pi]);
          im.samples[pi].push_back(r.duration_ns);
        }
      }
    }
  for (auto& im : impls) {
    im.median.clear();
    for (auto& s : im.samples) im.median.push_back(s.empty() ? -1 : median_of(s));
  }
  for (const auto& im : impls) {
    if (im.fd < 0) continue;
    std::printf("  %-22s", im.name.c_str());
    for (size_t pi = 0; pi < packets.size(); ++pi) std::printf(" %s %6.1f", packets[pi].name.c_str(), im.median[pi]);
    std::printf(" ns   runs:");
    for (size_t pi = 0; pi < packets.size(); ++pi) {
      std::printf(" [");
      for (double v : im.samples[pi]) std::printf(" %.0f", v);
      std::printf(" ]");
    }
    std::printf("\n");
  }
  std::fflush(stdout);
  return res;
}

const Impl* find(const SizeResult& r, const std::string& name) {
  for (const auto& im : r.impls)
    if (im.name == name && im.fd >= 0) return &im;
  return nullptr;
}

constexpr const char* kPacketNames[] = {"first", "first allow", "last", "miss"};
constexpr int kPackets = 4;

void print_tables(const std::vector<SizeResult>& results, const Options& o) {
  std::printf("\n## ns per packet (median of %d runs, BPF_PROG_TEST_RUN repeat %u; events rows: repeat %u)\n\n", o.runs,
              o.repeat, o.event_repeat);
  std::printf("| rules | implementation | mode | first | first allow | last | miss | verified insns | xlated insns | load ms | compile ms | map fill ms |\n");
  std::printf("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results)
    for (const auto& im : r.impls) {
      if (im.fd < 0) {
        std::printf("| %zu | %s | failed | | | | | | | | | |\n", r.rules, im.name.c_str());
        continue;
      }
      std::printf("| %zu | %s | %s", r.rules, im.name.c_str(), im.mode.c_str());
      for (int i = 0; i < kPackets; ++i)
        std::printf(" | %s%s", fmt(im.median[i], 0).c_str(), im.repeat[i] < o.repeat && !im.events ? "*" : "");
      std::printf(" | %u | %u | %s | %s | %s |\n", im.verified, im.xlated, fmt(im.load_ms).c_str(),
                  im.compile_ms > 0 ? fmt(im.compile_ms, 0).c_str() : "-", im.fill_ms > 0 ? fmt(im.fill_ms, 2).c_str() : "-");
    }
  std::printf("\n\\* a capped repeat (one run of %u would take more than %.0f s): see the JSON for the repeat used.\n",
              o.repeat, o.max_seconds);
  std::printf("\n## ours (cnpc auto) / cilium-style, and the decision's cost: ns above the parse+lookup floor\n\n");
  std::printf("| rules | ours/cilium: first | first allow | last | miss | ours − floor: first | first allow | last | miss "
              "| cilium − floor: first | first allow | last | miss |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : results) {
    const Impl* ours = find(r, "cnpc auto");
    const Impl* cil = find(r, "cilium-style");
    const Impl* floor = find(r, "floor: parse+lookup");
    if (!ours || !cil || !floor) continue;
    std::printf("| %zu", r.rules);
    for (int i = 0; i < kPackets; ++i) std::printf(" | %s", fmt(ours->median[i] / cil->median[i], 2).c_str());
    for (int i = 0; i < kPackets; ++i) std::printf(" | %s", fmt(ours->median[i] - floor->median[i], 0).c_str());
    for (int i = 0; i < kPackets; ++i) std::printf(" | %s", fmt(cil->median[i] - floor->median[i], 0).c_str());
    std::printf(" |\n");
  }
  std::printf("\n## targets\n\n");
  for (const auto& r : results) {
    const Impl* ours = find(r, "cnpc auto");
    const Impl* cil = find(r, "cilium-style");
    const Impl* floor = find(r, "floor: parse+lookup");
    if (!ours || !cil || !floor) continue;
    if (r.rules == 1000) {
      std::printf("- 1,000 rules, ours <= 0.7 x cilium-style:");
      for (int i = 0; i < kPackets; ++i) {
        double ratio = ours->median[i] / cil->median[i];
        std::printf(" %s %.2f %s;", kPacketNames[i], ratio, ratio <= 0.7 ? "met" : "MISSED");
      }
      std::printf("\n");
    }
    if (r.rules == 10) {
      std::printf("- 10 rules, ours within 10 ns of the parse+lookup floor:");
      for (int i = 0; i < kPackets; ++i) {
        double d = ours->median[i] - floor->median[i];
        std::printf(" %s %+.0f ns %s;", kPacketNames[i], d, d <= 10 ? "met" : "MISSED");
      }
      std::printf("\n");
    }
  }
}

json to_json(const std::vector<SizeResult>& results, const Options& o) {
  json out;
  out["repeat"] = o.repeat;
  out["event_repeat"] = o.event_repeat;
  out["runs"] = o.runs;
  out["cpu"] = o.cpu;
  for (const auto& r : results) {
    json s;
    s["rules"] = r.rules;
    s["entries"] = r.entries;
    s["cilium_map_keys"] = r.cilium_entries;
    s["iptables_rows"] = r.ipt_rows;
    s["classes"] = r.classes;
    s["frontend_s"] = r.frontend_s;
    s["evaluator_s"] = r.evaluator_s;
    for (const auto& im : r.impls) {
      json j;
      j["name"] = im.name;
      j["mode"] = im.mode;
      if (im.fd >= 0) {
        for (int i = 0; i < kPackets; ++i) j["ns"][kPacketNames[i]] = im.median[i];
        j["samples"] = im.samples;
        j["repeat"] = im.repeat;
        j["verified_insns"] = im.verified;
        j["xlated_insns"] = im.xlated;
        j["load_ms"] = im.load_ms;
        j["compile_ms"] = im.compile_ms;
        j["fill_ms"] = im.fill_ms;
      }
      s["implementations"].push_back(j);
    }
    out["sizes"].push_back(s);
  }
  return out;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

std::vector<size_t> parse_sizes(const std::string& s) {
  std::vector<size_t> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoul(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--rules") o.sizes = parse_sizes(next());
    else if (a == "--repeat") o.repeat = uint32_t(std::stoul(next()));
    else if (a == "--event-repeat") o.event_repeat = uint32_t(std::stoul(next()));
    else if (a == "--runs") o.runs = std::stoi(next());
    else if (a == "--cpu") o.cpu = std::stoi(next());
    else if (a == "--json") o.json_out = next();
    else if (a == "--keep") o.keep_dir = next();
    else if (a == "--inline-max") o.inline_max_rules = std::stoul(next());
    else if (a == "--max-seconds") o.max_seconds = std::stod(next());
    else if (a == "--no-chain") o.chain = false;
    else if (a == "--bpf-dir") o.bpf_dir = next();
    else if (a == "-h" || a == "--help") {
      std::printf("usage: %s [--rules 10,100,1000,10000] [--repeat 1000000] [--runs 5] [--cpu N]\n"
                  "          [--event-repeat 10000] [--inline-max 1000] [--max-seconds 20] [--no-chain]\n"
                  "          [--json FILE] [--keep DIR] [--bpf-dir DIR]\n",
                  argv[0]);
      return 0;
    } else die("unknown argument " + a);
  }
  for (auto n : o.sizes)
    if (n < 2 || n > 12000) die("--rules: each size must be in [2, 12000]");
  if (o.event_repeat > 12000) die("--event-repeat: at most 12000 (the ring holds ~13k events)");
  std::string why;
  if (!runtime::bpf_available(&why)) die("BPF not available: " + why);
  if (o.cpu < 0) o.cpu = int(sysconf(_SC_NPROCESSORS_ONLN)) - 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(o.cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) die("cannot pin to CPU " + std::to_string(o.cpu));
  {
    std::ifstream stats("/proc/sys/kernel/bpf_stats_enabled");
    int on = 0;
    if (stats >> on && on) std::printf("warning: kernel.bpf_stats_enabled=1 adds ~20 ns per run\n");
  }
  std::printf("cnpc_datapath_bench: pinned to CPU %d, repeat %u, %d runs, median; load average %s\n", o.cpu,
              o.repeat, o.runs, loadavg().c_str());
  std::vector<SizeResult> results;
  for (size_t n : o.sizes) results.push_back(run_size(n, o));
  print_tables(results, o);
  std::printf("\nload average at the end: %s\n", loadavg().c_str());
  if (!o.json_out.empty()) {
    std::ofstream out(o.json_out);
    out << to_json(results, o).dump(1) << "\n";
  }
  return 0;
}
