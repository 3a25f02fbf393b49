// Differential proof: the reference evaluator and the Z3 encoding decide
// every generated flow alike — the L3/L4 verdict and, for requests, the L7
// verdict. CNPC_DIFF_FLOWS sets the total number of random flows (CI runs
// 100,000); a mismatch writes a reproducer under $CNPC_REPRO_DIR (or /tmp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/evaluator.h"
#include "cnpc/ir/synthesize.h"
#include "cnpc/verifier/verifier.h"
#include "support/random_cluster.h"

using namespace cnpc;
using Answer = verifier::Z3Verdict::Answer;

namespace {

size_t total_flows() {
  const char* env = std::getenv("CNPC_DIFF_FLOWS");
  return env ? std::strtoull(env, nullptr, 10) : 20000;
}

struct Tally {
  size_t flows = 0, requests = 0, unknown = 0, mismatches = 0;
};

// Compares one flow; returns false on a mismatch.
bool agree(const ir::Evaluator& ev, verifier::FlowDecider& z3, const ir::Flow& flow, Tally& t,
           std::string* why) {
  ir::Decision d = ev.decide(flow);
  verifier::Z3Verdict v = z3.decide(flow);
  ++t.flows;
  if (v.l34 == Answer::Unknown) {
    ++t.unknown;
    return true;
  }
  const bool ev_allowed = d.verdict != ir::Verdict::Denied;
  if (ev_allowed != (v.l34 == Answer::Allowed)) {
    *why = std::string("L3/L4: evaluator ") + (ev_allowed ? "allowed" : "denied") + ", Z3 the opposite";
    return false;
  }
  if (flow.l7 && ev_allowed && (flow.l7->kind == ir::L7Kind::Http || flow.l7->kind == ir::L7Kind::Dns)) {
    ++t.requests;
    if (v.l7 == Answer::Unknown) {
      ++t.unknown;
      return true;
    }
    const bool ev_l7 = d.l7_verdict == ir::Verdict::Allowed;
    if (ev_l7 != (v.l7 == Answer::Allowed)) {
      *why = std::string("L7: evaluator ") + (ev_l7 ? "allowed" : "denied") + ", Z3 the opposite";
      return false;
    }
  }
  return true;
}

std::string repro_dir() {
  const char* env = std::getenv("CNPC_REPRO_DIR");
  return env ? env : (std::filesystem::temp_directory_path() / "cnpc-repro").string();
}

}  // namespace

TEST(Differential, RandomClustersEvaluatorAgreesWithZ3) {
  const size_t want = total_flows();
  const size_t per_cluster = 2000;
  Tally t;
  for (uint64_t seed = 1; t.flows < want; ++seed) {
    auto cluster = cnpc::testing::random_cluster(seed, cnpc::testing::sweep_cluster_options(seed));
    auto loaded = cnpc::testing::load_cluster(cluster);
    ir::EvalOptions eopt = cnpc::testing::sweep_eval_options(seed, /*with_audit=*/false);
    ir::Evaluator ev(loaded.result.policies, loaded.result.inventory, eopt, loaded.dns_cache);
    verifier::FlowDecider z3(ev, {});
    auto flows = cnpc::testing::random_flows(ev, seed, std::min(per_cluster, want - t.flows));
    for (const auto& flow : flows) {
      std::string why;
      if (!agree(ev, z3, flow, t, &why)) {
        ++t.mismatches;
        cnpc::testing::write_repro(repro_dir() + "/seed-" + std::to_string(seed), cluster, &ev, {flow});
        ADD_FAILURE() << "seed " << seed << ": " << why << "\n  " << verifier::describe(ev, flow)
                      << "\n  reproducer in " << repro_dir();
        if (t.mismatches > 10) return;
      }
    }
  }
  std::printf("differential: %zu flows (%zu with requests), %zu unknown, %zu mismatches\n", t.flows,
              t.requests, t.unknown, t.mismatches);
  EXPECT_EQ(t.unknown, 0u) << "the solver gave up on some flows";
}

TEST(Differential, SampleEveryPairAndPort) {
  frontend::LoadResult r;
  ir::Diagnostics diags;
  std::vector<std::string> paths = {std::string(CNPC_SOURCE_DIR) + "/samples/blog-system"};
  frontend::load_paths(paths, {}, r, diags);
  ASSERT_FALSE(diags.has_errors());
  ir::Evaluator ev(r.policies, r.inventory);
  verifier::FlowDecider z3(ev, {});
  Tally t;
  for (ir::EndpointId s = 0; s < ev.endpoints().size(); ++s)
    for (ir::EndpointId d = 0; d < ev.endpoints().size(); ++d)
      for (auto proto : {ir::Proto::TCP, ir::Proto::UDP})
        for (uint16_t port : {53, 80, 3306, 8080, 9090}) {
          ir::Flow f;
          f.src = s;
          f.dst = d;
          f.proto = proto;
          f.ip_proto = uint8_t(proto);
          f.port = port;
          if (ev.endpoints()[s].kind == ir::Endpoint::Kind::World) f.src_ip = ir::IpAddr::parse("203.0.113.9");
          if (ev.endpoints()[d].kind == ir::Endpoint::Kind::World) f.dst_ip = ir::IpAddr::parse("203.0.113.9");
          for (int variant = 0; variant < 3; ++variant) {
            if (variant == 1) {
              if (proto != ir::Proto::TCP) continue;
              f.l7 = ir::L7Request{};
              f.l7->http = {"GET", "/api/posts", "", {}};
            } else if (variant == 2) {
              f.l7 = ir::L7Request{};
              f.l7->kind = ir::L7Kind::Dns;
              f.l7->dns_name = port == 53 ? "was-service.blog-system.svc.cluster.local" : "example.com";
            }
            std::string why;
            EXPECT_TRUE(agree(ev, z3, f, t, &why)) << why << ": " << verifier::describe(ev, f);
          }
        }
  EXPECT_EQ(t.unknown, 0u);
}

// Every corpus file that loads, over an inventory synthesized from its own
// selectors, with random flows.
TEST(Differential, CorpusWithSynthesizedInventory) {
  namespace fs = std::filesystem;
  const fs::path corpus = fs::path(CNPC_SHARED_DIR) / "corpus";
  if (!fs::exists(corpus)) GTEST_SKIP() << "corpus not found at " << corpus;
  Tally t;
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) {
    auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".yaml" && ext != ".json")) continue;
    frontend::LoadResult r;
    ir::Diagnostics diags;
    std::vector<std::string> paths = {entry.path().string()};
    frontend::load_paths(paths, {}, r, diags);
    if (diags.has_errors() || r.policies.rules.empty()) continue;
    ++files;
    ir::Inventory inv = r.inventory.endpoints.empty() ? ir::synthesize_inventory(r.policies) : r.inventory;
    ir::Evaluator ev(r.policies, inv);
    verifier::FlowDecider z3(ev, {});
    for (const auto& flow : cnpc::testing::random_flows(ev, files, 300)) {
      std::string why;
      EXPECT_TRUE(agree(ev, z3, flow, t, &why))
          << entry.path() << ": " << why << ": " << verifier::describe(ev, flow);
    }
  }
  std::printf("corpus differential: %zu files, %zu flows, %zu unknown\n", files, t.flows, t.unknown);
  EXPECT_EQ(t.unknown, 0u);
}
