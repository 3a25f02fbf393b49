// Generated programs against the reference evaluator, in the kernel:
// every bundle loads through the verifier, and BPF_PROG_TEST_RUN decides
// every flow as decide() does, side by side (the source's egress program,
// the destination's ingress program). CNPC_BPF_FLOWS sets the number of
// random flows (CI: 100,000).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "cnpc/codegen/codegen.h"
#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/evaluator.h"
#include "cnpc/ir/synthesize.h"
#include "cnpc/runtime/runtime.h"
#include "kernel_test.h"
#include "support/random_cluster.h"

namespace fs = std::filesystem;
using namespace cnpc;

namespace {

struct Expected {
  int verdict;
  int reason;
};

Expected expected_side(const ir::SideDecision& s, bool audit) {
  if (!s.applies || !s.enforced) return {runtime::kAllow, runtime::kReasonNone};
  if (s.verdict == ir::Verdict::Denied) {
    int reason = s.reason == ir::DropReason::PolicyDeny ? runtime::kReasonPolicyDeny : runtime::kReasonPolicyDenied;
    return {audit ? runtime::kAudit : runtime::kDrop, reason};
  }
  return {s.l7_enforced ? runtime::kRedirect : runtime::kAllow, runtime::kReasonNone};
}

// A bundle compiled into a fresh temporary directory and loaded.
struct Compiled {
  fs::path dir;
  runtime::LoadedBundle bundle;
  ~Compiled() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

std::unique_ptr<Compiled> compile_and_load(const ir::Evaluator& ev, codegen::Mode mode, const std::string& tag,
                                           bool conntrack = false, size_t row_slots = 16) {
  fs::path dir = fs::temp_directory_path() / ("cnpc-codegen-test-" + tag + "-" + std::to_string(getpid()));
  codegen::Options opt;
  opt.include_dir = CNPC_BPF_INCLUDE_DIR;
  opt.mode = mode;
  opt.conntrack = conntrack;  // differential runs compare stateless decisions
  opt.table_row_slots = row_slots;  // 0 forces the (peer, atom) hash tables
  codegen::Report report;
  ir::Diagnostics diags;
  if (!codegen::compile_bundle(ev, dir.string(), opt, report, diags)) {
    for (const auto& d : diags.all()) ADD_FAILURE() << d.message;
    return nullptr;
  }
  return std::unique_ptr<Compiled>(new Compiled{dir, runtime::LoadedBundle::load(dir.string())});
}

// Test addresses for endpoints the inventory gives none (reserved entities).
std::map<ir::EndpointId, std::string> give_addresses(const ir::Evaluator& ev, runtime::LoadedBundle& b) {
  std::map<ir::EndpointId, std::string> out;
  int n = 1;
  for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e) {
    const auto& ep = ev.endpoints()[e];
    if (ep.kind == ir::Endpoint::Kind::World || ep.kind == ir::Endpoint::Kind::Pod || !ep.ips.empty()) continue;
    std::string ip = "169.254.77." + std::to_string(n++);
    b.ipcache_update(ip + "/32", ev.class_of(e));
    out[e] = ip;
  }
  return out;
}

struct Tally {
  size_t flows = 0, skipped = 0, mismatches = 0;
};

// Runs one flow through both programs and compares each side.
void check_flow(const ir::Evaluator& ev, runtime::LoadedBundle& b,
                const std::map<ir::EndpointId, std::string>& extra, ir::Flow flow, Tally& t,
                const std::string& where) {
  auto address = [&](ir::EndpointId id, std::optional<ir::IpAddr>& given) -> std::optional<ir::IpAddr> {
    const auto& ep = ev.endpoints()[id];
    if (ep.kind == ir::Endpoint::Kind::World) {
      if (!given) given = ir::IpAddr::parse("198.51.100.77");
      return given;
    }
    if (!ep.ips.empty()) return ep.ips.front();
    if (auto it = extra.find(id); it != extra.end()) return ir::IpAddr::parse(it->second);
    return std::nullopt;
  };
  auto src = address(flow.src, flow.src_ip);
  auto dst = address(flow.dst, flow.dst_ip);
  const bool icmp6 = flow.proto == ir::Proto::ICMPv6, icmp4 = flow.proto == ir::Proto::ICMP;
  if (!src || !dst || src->v6 != dst->v6 || (icmp6 && !src->v6) || (icmp4 && src->v6)) {
    ++t.skipped;
    return;
  }
  runtime::PacketSpec spec;
  spec.family = src->v6 ? 6 : 4;
  spec.src = src->to_string();
  spec.dst = dst->to_string();
  spec.proto = flow.proto == ir::Proto::Any ? flow.ip_proto : uint8_t(flow.proto);
  spec.dport = flow.port;
  spec.icmp_type = flow.icmp_type;
  auto packet = runtime::build_packet(spec);

  flow.l7.reset();  // the datapath decides L3/L4 (and whether to redirect)
  ir::Decision d = ev.decide(flow);
  const bool audit = ev.options().audit_mode;
  ++t.flows;
  for (bool egress : {true, false}) {
    const ir::EndpointId self = egress ? flow.src : flow.dst;
    Expected want = expected_side(egress ? d.egress : d.ingress, audit);
    int got_verdict = runtime::kAllow, got_reason = runtime::kReasonNone;
    if (ev.endpoints()[self].kind == ir::Endpoint::Kind::Pod) {
      const auto& prog = b.program_for_class(ev.class_of(self));
      auto r = runtime::test_run(egress ? prog.egress_fd : prog.ingress_fd, packet);
      got_verdict = r.verdict;
      got_reason = r.reason;
    }
    if (got_verdict != want.verdict || got_reason != want.reason) {
      ++t.mismatches;
      ADD_FAILURE() << where << ": " << (egress ? "egress" : "ingress") << " of "
                    << ev.endpoints()[self].display() << " for " << spec.src << " -> " << spec.dst
                    << " proto " << int(spec.proto) << " port/type " << (icmp4 || icmp6 ? flow.icmp_type : flow.port)
                    << ": BPF verdict " << got_verdict << " reason " << got_reason << ", evaluator "
                    << want.verdict << " reason " << want.reason;
    }
  }
}

size_t total_flows() {
  const char* env = std::getenv("CNPC_BPF_FLOWS");
  return env ? std::strtoull(env, nullptr, 10) : 20000;
}

}  // namespace

TEST(Codegen, SampleBundleAgreesWithEvaluator) {
  CNPC_REQUIRE_BPF();
  frontend::LoadResult r;
  ir::Diagnostics diags;
  std::vector<std::string> paths = {std::string(CNPC_SOURCE_DIR) + "/samples/blog-system"};
  frontend::load_paths(paths, {}, r, diags);
  ASSERT_FALSE(diags.has_errors());
  for (int variant = 0; variant < 3; ++variant) {
    auto mode = variant == 0 ? codegen::Mode::Inline : codegen::Mode::Table;
    ir::Evaluator ev(r.policies, r.inventory);
    auto c = compile_and_load(ev, mode, "sample", false, variant == 2 ? 0 : 16);
    ASSERT_TRUE(c);
    auto extra = give_addresses(ev, c->bundle);
    Tally t;
    for (ir::EndpointId s = 0; s < ev.endpoints().size(); ++s)
      for (ir::EndpointId d = 0; d < ev.endpoints().size(); ++d)
        for (auto proto : {ir::Proto::TCP, ir::Proto::UDP, ir::Proto::SCTP, ir::Proto::ICMP})
          for (uint16_t port : {0, 53, 80, 3306, 8080, 9090}) {
            ir::Flow f;
            f.src = s;
            f.dst = d;
            f.proto = proto;
            f.ip_proto = uint8_t(proto);
            f.port = port;
            f.icmp_type = uint8_t(port & 0xff);
            check_flow(ev, c->bundle, extra, f, t, "sample");
          }
    for (const auto& p : c->bundle.programs())
      std::printf("sample %s %s: ingress %u, egress %u verified insns, load %.1f ms\n",
                  variant == 0 ? "inline" : variant == 1 ? "table-rows" : "table-hash", p.object.c_str(),
                  p.ingress_verified_insns, p.egress_verified_insns, p.load_ns / 1e6);
    EXPECT_EQ(t.mismatches, 0u);
    EXPECT_GT(t.flows, 500u);
  }
}

// Edge packets, each with its documented verdict (docs/codegen.md).
TEST(Codegen, EdgePacketsOnTheSample) {
  CNPC_REQUIRE_BPF();
  frontend::LoadResult r;
  ir::Diagnostics diags;
  std::vector<std::string> paths = {std::string(CNPC_SOURCE_DIR) + "/samples/blog-system"};
  frontend::load_paths(paths, {}, r, diags);
  ir::Evaluator ev(r.policies, r.inventory);
  auto c = compile_and_load(ev, codegen::Mode::Auto, "edge");
  ASSERT_TRUE(c);
  const auto& was = *c->bundle.program_for_endpoint("blog-system/was");
  runtime::PacketSpec base;
  base.src = "10.0.1.10";  // web
  base.dst = "10.0.2.20";  // was
  base.dport = 8080;
  auto run = [&](runtime::PacketSpec s) { return runtime::test_run(was.ingress_fd, runtime::build_packet(s)); };
  EXPECT_EQ(run(base).verdict, runtime::kRedirect) << "web -> was:8080 goes to the L7 proxy";
  auto opts = base;
  opts.ipv4_options_bytes = 20;
  EXPECT_EQ(run(opts).verdict, runtime::kRedirect) << "IPv4 options are skipped by the parser";
  auto first = base;
  first.fragment_first = true;
  EXPECT_EQ(run(first).verdict, runtime::kRedirect) << "a first fragment carries the ports";
  auto later = base;
  later.fragment_later = true;
  auto rl = run(later);
  EXPECT_EQ(rl.verdict, runtime::kDrop);
  EXPECT_EQ(rl.reason, runtime::kReasonFragment) << "later fragments: no ports, dropped when enforced";
  auto cut = base;
  cut.truncate_to = 14 + 20 + 2;  // half of the ports
  auto rc = run(cut);
  if (rc.retval >= 0) {
    EXPECT_EQ(rc.verdict, runtime::kDrop);
    EXPECT_EQ(rc.reason, runtime::kReasonMalformed);
  }
  auto arp = base;
  arp.ethertype = 0x0806;
  auto ra = run(arp);
  EXPECT_EQ(ra.retval, runtime::kTcActOk);
  EXPECT_EQ(ra.verdict, 0) << "ARP passes unmarked";
  auto stray = base;
  stray.src = "10.0.1.40";
  auto rs = run(stray);
  EXPECT_EQ(rs.verdict, runtime::kDrop);
  EXPECT_EQ(rs.reason, runtime::kReasonPolicyDenied);
  EXPECT_EQ(rs.retval, runtime::kTcActShot);
  // Pod churn: a new pod of web's class is a map update, no recompile.
  c->bundle.ipcache_update("10.0.1.11/32", ev.class_of(*ev.resolve("blog-system/web", nullptr)));
  auto churn = base;
  churn.src = "10.0.1.11";
  EXPECT_EQ(run(churn).verdict, runtime::kRedirect);
  // Events carry the verdict and the rule.
  c->bundle.drain_events();
  run(stray);
  auto events = c->bundle.drain_events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().verdict, runtime::kDrop);
}

TEST(Codegen, RandomClustersAgreeWithEvaluator) {
  CNPC_REQUIRE_BPF();
  const size_t want = total_flows();
  const size_t per_cluster = 5000;
  Tally t;
  for (uint64_t seed = 1; t.flows < want; ++seed) {
    auto cluster = cnpc::testing::random_cluster(seed, cnpc::testing::sweep_cluster_options(seed));
    auto loaded = cnpc::testing::load_cluster(cluster);
    ir::EvalOptions eopt = cnpc::testing::sweep_eval_options(seed, /*with_audit=*/true);
    ir::Evaluator ev(loaded.result.policies, loaded.result.inventory, eopt, loaded.dns_cache);
    // Auto, tables as per-peer rows, tables as (peer, atom) hashes.
    auto mode = seed % 3 == 1 ? codegen::Mode::Auto : codegen::Mode::Table;
    auto c = compile_and_load(ev, mode, "seed" + std::to_string(seed), false, seed % 3 == 0 ? 0 : 16);
    ASSERT_TRUE(c) << "seed " << seed;
    auto extra = give_addresses(ev, c->bundle);
    for (auto& flow : cnpc::testing::random_flows(ev, seed, std::min(per_cluster, want - t.flows))) {
      check_flow(ev, c->bundle, extra, flow, t, "seed " + std::to_string(seed));
      if (t.mismatches > 20) return;
    }
  }
  std::printf("BPF differential: %zu flows compared (%zu skipped: no address or mixed families), %zu mismatches\n",
              t.flows, t.skipped, t.mismatches);
  EXPECT_EQ(t.mismatches, 0u);
}

TEST(Codegen, CorpusBundlesPassTheVerifier) {
  CNPC_REQUIRE_BPF();
  const fs::path corpus = fs::path(CNPC_SHARED_DIR) / "corpus";
  if (!fs::exists(corpus)) GTEST_SKIP() << "corpus not found at " << corpus;
  size_t bundles = 0, programs = 0;
  uint32_t max_insns = 0;
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".json")) continue;
    frontend::LoadResult r;
    ir::Diagnostics diags;
    std::vector<std::string> paths = {entry.path().string()};
    frontend::load_paths(paths, {}, r, diags);
    if (diags.has_errors() || r.policies.rules.empty()) continue;
    ir::Inventory inv = r.inventory.endpoints.empty() ? ir::synthesize_inventory(r.policies) : r.inventory;
    ir::Evaluator ev(r.policies, inv);
    auto c = compile_and_load(ev, codegen::Mode::Auto, "corpus");
    ASSERT_TRUE(c) << entry.path();
    ++bundles;
    for (const auto& p : c->bundle.programs()) {
      ++programs;
      max_insns = std::max({max_insns, p.ingress_verified_insns, p.egress_verified_insns});
    }
  }
  std::printf("corpus: %zu bundles, %zu programs loaded; most verified instructions in one program: %u\n",
              bundles, programs, max_insns);
  EXPECT_GT(bundles, 100u);
}

// Connection tracking: a reply of an allowed connection passes a policy
// that would drop it as a new flow; without the forward packet it drops.
TEST(Codegen, RepliesOfAllowedConnectionsPass) {
  CNPC_REQUIRE_BPF();
  frontend::LoadResult r;
  ir::Diagnostics diags;
  std::vector<std::string> paths = {std::string(CNPC_SOURCE_DIR) + "/samples/blog-system"};
  frontend::load_paths(paths, {}, r, diags);
  ir::Evaluator ev(r.policies, r.inventory);
  auto c = compile_and_load(ev, codegen::Mode::Auto, "ct", /*conntrack=*/true);
  ASSERT_TRUE(c);
  const auto& was = *c->bundle.program_for_endpoint("blog-system/was");
  runtime::PacketSpec reply;  // mysql:3306 -> was:41000, the SYN-ACK
  reply.src = "10.0.3.30";
  reply.dst = "10.0.2.20";
  reply.sport = 3306;
  reply.dport = 41000;
  reply.tcp_syn = false;
  EXPECT_EQ(runtime::test_run(was.ingress_fd, runtime::build_packet(reply)).verdict, runtime::kDrop)
      << "no connection yet: api-read-only drops it";
  runtime::PacketSpec forward;  // was:41000 -> mysql:3306, allowed by was-egress
  forward.src = "10.0.2.20";
  forward.dst = "10.0.3.30";
  forward.sport = 41000;
  forward.dport = 3306;
  EXPECT_EQ(runtime::test_run(was.egress_fd, runtime::build_packet(forward)).verdict, runtime::kAllow);
  EXPECT_EQ(runtime::test_run(was.ingress_fd, runtime::build_packet(reply)).verdict, runtime::kAllow)
      << "the reply of an allowed connection passes";
}
