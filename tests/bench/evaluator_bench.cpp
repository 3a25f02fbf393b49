// Evaluator benchmarks on a synthetic cluster (see synthetic.h).
//
//   BM_BuildEvaluator/P/N   build the Evaluator (identity classes) for P policies x N pods
//   BM_Decide/P/N           Evaluator::decide() on pre-generated random pod-to-pod flows
//   BM_DecideAllowedOnly    the same on random flows the evaluator allows
//   BM_NaiveDecide/P/N      BASELINE: a naive decider that re-matches every rule's
//                           selectors against the labels, per flow (no classes)
//   BM_FrontendLoad/P/N     frontend::load_text() on the same cluster as YAML manifests
//
// Run on one core, e.g.:  taskset -c 0 ./cnpc_bench
// Nothing here asserts a timing. The summary at the end prints decide()'s
// speed-up over the baseline and the agreement checks (the naive decider and
// the frontend-loaded cluster must reach the same L3/L4 verdicts as the
// evaluator over the directly generated IR).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"
#include "synthetic.h"

namespace {

using namespace cnpc;

constexpr size_t kFlowCount = size_t(1) << 16;  // power of two: index with a mask
constexpr uint64_t kFlowSeed = 0xF1075EEDull;

int namespaces_for(int pods) { return std::max(2, pods / 250); }

std::string shape_name(const benchmark::State& state) {
  return "policies:" + std::to_string(state.range(0)) + "/pods:" + std::to_string(state.range(1));
}

bench::ClusterShape shape_of(const benchmark::State& state) {
  bench::ClusterShape s;
  s.policies = int(state.range(0));
  s.pods = int(state.range(1));
  s.namespaces = namespaces_for(s.pods);
  return s;
}

// One generated cluster, its evaluator and flows per shape, built on first use.
struct Fixture {
  bench::SyntheticCluster cluster;
  std::unique_ptr<ir::Evaluator> eval;
  std::vector<ir::Flow> flows;          // random pod-to-pod flows (mostly denied)
  std::vector<ir::Flow> allowed_flows;  // random flows the evaluator allows
};

const Fixture& fixture(const bench::ClusterShape& shape) {
  static std::map<std::pair<int, int>, std::unique_ptr<Fixture>> cache;
  auto& slot = cache[{shape.policies, shape.pods}];
  if (!slot) {
    slot = std::make_unique<Fixture>();
    slot->cluster = bench::generate_cluster(shape, /*with_yaml=*/false);
    slot->eval = std::make_unique<ir::Evaluator>(slot->cluster.policies, slot->cluster.inventory);
    slot->flows = bench::generate_flows(slot->cluster.inventory, kFlowCount, kFlowSeed);
    // Allowed flows walk both sides' rules in full: the costlier case.
    for (uint64_t round = 1; slot->allowed_flows.size() < kFlowCount && round <= 64; ++round)
      for (const ir::Flow& f :
           bench::generate_flows(slot->cluster.inventory, kFlowCount, kFlowSeed + round))
        if (slot->allowed_flows.size() < kFlowCount &&
            slot->eval->decide(f).verdict == ir::Verdict::Allowed)
          slot->allowed_flows.push_back(f);
  }
  return *slot;
}

// ===========================================================================
// BASELINE: naive decider.
//
// What a straightforward implementation does without identity classes: for
// every flow, walk every rule and every spec, and match their subject and
// peer selectors against the endpoints' labels. Simplified to the L3/L4
// semantics the synthetic cluster exercises: deny wins, then any matching
// allow, then default deny when a selecting spec has that section. L7 is
// not evaluated (an L3/L4 allow is an allow), CIDR and FQDN peers match no
// pod, nodes and reserved identities are not subjects.
// ===========================================================================
class NaiveDecider {
 public:
  NaiveDecider(const ir::PolicySet& policies, const std::vector<ir::Endpoint>& endpoints)
      : policies_(policies), endpoints_(endpoints) {}

  bool allowed(const ir::Flow& f) const {
    const ir::Endpoint& src = endpoints_[f.src];
    const ir::Endpoint& dst = endpoints_[f.dst];
    return side_allows(ir::Direction::Egress, src, dst, dst, f) &&
           side_allows(ir::Direction::Ingress, dst, src, dst, f);
  }

 private:
  bool side_allows(ir::Direction dir, const ir::Endpoint& self, const ir::Endpoint& peer,
                   const ir::Endpoint& dst, const ir::Flow& f) const {
    if (self.kind != ir::Endpoint::Kind::Pod) return true;
    bool section = false, default_deny = false;
    for (const ir::Spec& spec : policies_.specs) {
      if (spec.subject.node || !spec.subject.selector.matches(self.labels)) continue;
      const bool has = dir == ir::Direction::Ingress ? spec.sections.has_ingress
                                                     : spec.sections.has_egress;
      if (!has) continue;
      section = true;
      if (dir == ir::Direction::Ingress ? spec.sections.default_deny_ingress
                                        : spec.sections.default_deny_egress)
        default_deny = true;
    }
    if (!section) return true;
    bool allow = false;
    for (const ir::Rule& rule : policies_.rules) {
      if (rule.direction != dir || rule.subject.node || rule.matches_nothing) continue;
      if (!rule.subject.selector.matches(self.labels)) continue;
      if (!peer_matches(rule, peer) || !port_matches(rule, dst, f)) continue;
      if (rule.action == ir::Action::Deny) return false;
      allow = true;
    }
    return allow || !default_deny;
  }

  static bool peer_matches(const ir::Rule& rule, const ir::Endpoint& peer) {
    if (!rule.peers) return true;
    for (const ir::Peer& p : *rule.peers) {
      switch (p.kind) {
        case ir::Peer::Kind::Endpoints: {
          if (!p.selector.matches(peer.labels)) break;
          bool ok = true;
          for (const auto& req : rule.requires_) ok = ok && req.matches(peer.labels);
          if (ok) return true;
          break;
        }
        case ir::Peer::Kind::Entity:
          if (p.selector.matches(peer.labels)) return true;
          break;
        default: break;  // CIDR / FQDN / nodes / unresolved: never a pod
      }
    }
    return false;
  }

  static bool port_matches(const ir::Rule& rule, const ir::Endpoint& dst, const ir::Flow& f) {
    if (rule.port_rules.empty() && rule.icmps.empty()) return true;
    if (f.proto != ir::Proto::TCP && f.proto != ir::Proto::UDP && f.proto != ir::Proto::SCTP)
      return false;
    for (const auto& pr : rule.port_rules)
      for (const auto& pm : pr.ports) {
        if (pm.proto != ir::Proto::Any && pm.proto != f.proto) continue;
        if (!pm.name.empty()) {
          for (const auto& cp : dst.ports)
            if (cp.name == pm.name && cp.port == f.port && cp.proto == f.proto) return true;
          continue;
        }
        if (f.port >= pm.first && f.port <= pm.last) return true;
      }
    return false;
  }

  const ir::PolicySet& policies_;
  const std::vector<ir::Endpoint>& endpoints_;
};
// ======================================================= end of BASELINE ===

// Results collected for the summary printed after the run.
struct Summary {
  std::map<std::string, double> rate;         // benchmark name -> items/s
  std::map<std::string, std::string> checks;  // free-form lines
} g_summary;

void BM_BuildEvaluator(benchmark::State& state) {
  const bench::ClusterShape shape = shape_of(state);
  const bench::SyntheticCluster cluster = bench::generate_cluster(shape, false);
  size_t identities = 0, classes = 0;
  for (auto _ : state) {
    ir::Evaluator eval(cluster.policies, cluster.inventory);
    identities = eval.identity_count();
    classes = eval.class_count();
    benchmark::DoNotOptimize(classes);
  }
  state.counters["identities"] = double(identities);
  state.counters["classes"] = double(classes);
  state.counters["rules"] = double(cluster.policies.rules.size());
  state.counters["specs"] = double(cluster.policies.specs.size());
  state.counters["endpoints"] = double(cluster.inventory.endpoints.size());
  state.counters["deny_rules"] = double(cluster.deny_rules);
  state.counters["l7_rules"] = double(cluster.l7_rules);
  state.counters["cidr_peers"] = double(cluster.cidr_peers);
  state.counters["port_ranges"] = double(cluster.port_ranges);
  state.counters["egress_rules"] = double(cluster.egress_rules);
}

void decide_loop(benchmark::State& state, const Fixture& fx, const std::vector<ir::Flow>& flows) {
  const ir::Evaluator& eval = *fx.eval;
  if (flows.empty()) {
    state.SkipWithError("no flows");
    return;
  }
  const size_t n = flows.size();
  size_t i = 0, denied = 0;
  for (auto _ : state) {
    ir::Decision d = eval.decide(flows[i]);
    if (++i == n) i = 0;
    denied += d.verdict == ir::Verdict::Denied;
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["denied_pct"] =
      100.0 * double(denied) / double(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["flows"] = double(n);
  state.counters["classes"] = double(eval.class_count());
}

void BM_Decide(benchmark::State& state) {
  const Fixture& fx = fixture(shape_of(state));
  decide_loop(state, fx, fx.flows);
}

void BM_DecideAllowedOnly(benchmark::State& state) {
  const Fixture& fx = fixture(shape_of(state));
  decide_loop(state, fx, fx.allowed_flows);
}

void BM_NaiveDecide(benchmark::State& state) {
  const Fixture& fx = fixture(shape_of(state));
  const NaiveDecider naive(fx.cluster.policies, fx.eval->endpoints());
  const size_t mask = fx.flows.size() - 1;
  size_t i = 0;
  for (auto _ : state) {
    bool ok = naive.allowed(fx.flows[i++ & mask]);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  // Agreement with the evaluator's L3/L4 verdict (not timed).
  const size_t sample = std::min<size_t>(fx.flows.size(), 8192);
  size_t mismatches = 0;
  for (size_t k = 0; k < sample; ++k) {
    const bool a = naive.allowed(fx.flows[k]);
    const bool b = fx.eval->decide(fx.flows[k]).verdict != ir::Verdict::Denied;
    mismatches += a != b;
  }
  state.counters["verdict_mismatches"] = double(mismatches);
  state.counters["checked_flows"] = double(sample);
  g_summary.checks["naive " + shape_name(state) + " vs evaluator"] =
      std::to_string(mismatches) + " verdict mismatches over " + std::to_string(sample) + " flows";
}

void BM_FrontendLoad(benchmark::State& state) {
  const bench::ClusterShape shape = shape_of(state);
  const bench::SyntheticCluster cluster = bench::generate_cluster(shape, /*with_yaml=*/true);
  frontend::LoadResult last;
  size_t errors = 0, warnings = 0;
  std::string first_error;
  for (auto _ : state) {
    frontend::LoadResult result;
    ir::Diagnostics diags;
    frontend::load_text("synthetic.yaml", cluster.yaml, {}, result, diags);
    errors = diags.count(ir::Severity::Error);
    warnings = diags.count(ir::Severity::Warning);
    if (errors && first_error.empty())
      for (const auto& d : diags.all())
        if (d.severity == ir::Severity::Error) {
          first_error = ir::render_text(diags, d, false);
          break;
        }
    state.PauseTiming();
    last = std::move(result);  // keep the destructor out of the timing
    state.ResumeTiming();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(cluster.yaml.size()));
  state.counters["yaml_MB"] = double(cluster.yaml.size()) / 1e6;
  state.counters["rules"] = double(last.policies.rules.size());
  state.counters["policy_objects"] = double(last.policy_objects);
  state.counters["endpoints"] = double(last.inventory.endpoints.size());
  state.counters["errors"] = double(errors);
  state.counters["warnings"] = double(warnings);
  if (!first_error.empty()) std::fprintf(stderr, "frontend error: %s\n", first_error.c_str());

  // Cross-check (not timed): the frontend's lowering and the generator's
  // direct IR must reach the same verdicts on the same flows.
  ir::Evaluator from_yaml(last.policies, last.inventory);
  const Fixture& fx = fixture(shape);
  const size_t sample = std::min<size_t>(fx.flows.size(), 20000);
  size_t mismatches = 0, unresolved = 0;
  for (size_t k = 0; k < sample; ++k) {
    const ir::Flow& f = fx.flows[k];
    const auto& eps = fx.eval->endpoints();
    auto src = from_yaml.resolve(eps[f.src].display(), nullptr);
    auto dst = from_yaml.resolve(eps[f.dst].display(), nullptr);
    if (!src || !dst) {
      ++unresolved;
      continue;
    }
    ir::Flow g = f;
    g.src = *src;
    g.dst = *dst;
    mismatches += fx.eval->decide(f).verdict != from_yaml.decide(g).verdict;
  }
  state.counters["verdict_mismatches_vs_direct_ir"] = double(mismatches);
  state.counters["classes_yaml"] = double(from_yaml.class_count());
  state.counters["classes_direct"] = double(fx.eval->class_count());
  g_summary.checks["frontend " + shape_name(state) + " vs direct IR"] =
      std::to_string(mismatches) + " verdict mismatches, " + std::to_string(unresolved) +
      " unresolved endpoints over " + std::to_string(sample) + " flows; rules " +
      std::to_string(last.policies.rules.size()) + " vs " +
      std::to_string(fx.cluster.policies.rules.size()) + ", classes " +
      std::to_string(from_yaml.class_count()) + " vs " + std::to_string(fx.eval->class_count()) +
      ", " + std::to_string(errors) + " errors";
}

BENCHMARK(BM_BuildEvaluator)
    ->ArgNames({"policies", "pods"})
    ->Args({1000, 5000})
    ->Args({100, 1000})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decide)->ArgNames({"policies", "pods"})->Args({1000, 5000})->Args({100, 1000});
BENCHMARK(BM_DecideAllowedOnly)
    ->ArgNames({"policies", "pods"})
    ->Args({1000, 5000})
    ->Args({100, 1000});
BENCHMARK(BM_NaiveDecide)->ArgNames({"policies", "pods"})->Args({1000, 5000})->Args({100, 1000});
BENCHMARK(BM_FrontendLoad)
    ->ArgNames({"policies", "pods"})
    ->Args({1000, 5000})
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond);

// Records each run's items/s for the summary, then prints as usual.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  SummaryReporter()
      : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end() && run.run_type == Run::RT_Iteration)
        g_summary.rate[run.benchmark_name()] = it->second.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

void print_summary() {
  std::printf("\n== summary ==\n");
  for (const auto& [name, rate] : g_summary.rate) {
    if (name.rfind("BM_Decide", 0) != 0) continue;
    std::printf("%-46s %12.0f decisions/s (target 1,000,000/s: %s)\n", name.c_str(), rate,
                rate >= 1e6 ? "met" : "NOT met");
    if (name.rfind("BM_Decide/", 0) != 0) continue;  // the baseline ran the random flows
    const std::string naive = "BM_NaiveDecide/" + name.substr(name.find('/') + 1);
    if (auto it = g_summary.rate.find(naive); it != g_summary.rate.end() && it->second > 0)
      std::printf("%-46s %12.0f decisions/s -> evaluator is %.1fx faster\n", naive.c_str(),
                  it->second, rate / it->second);
  }
  for (const auto& [name, line] : g_summary.checks) std::printf("%s: %s\n", name.c_str(), line.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  print_summary();
  return 0;
}
