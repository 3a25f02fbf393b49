// L7Policy::judge_http: RE2::Set candidate selection vs trying every rule.
//
//   BM_JudgeHttp/set:1/rules:N   RE2::Set over the entry's paths, then the
//                                candidates checked with ir::http_rule_matches
//   BM_JudgeHttp/set:0/rules:N   BASELINE: ir::http_rule_matches on every rule
//
// One HTTP entry of N rules (N = 10, 100, 1000): methods GET/POST/PUT/DELETE,
// paths /api/v1/<resource>/[0-9]+, /api/v2/<resource>, /static/<resource>/.*
// and /api/v1/<resource>/[0-9]+/items/[0-9]+, every fifth rule with a header
// and every seventh with a host. 4,096 pre-built requests, half built to
// match some rule, half not (wrong method, unknown resource, missing header).
// One iteration = one request. Nothing asserts a timing; the summary prints
// the speed-up per size and checks that both modes agree on every request.
//
//   taskset -c 0 ./cnpc_l7_bench
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "l7_policy.h"

namespace {

using cnpc::agent::L7Policy;
using cnpc::ir::HttpRequest;
using nlohmann::json;

constexpr size_t kRequests = 4096;  // power of two: index with a mask
constexpr uint32_t kSeed = 0x17B3Cu;
const char* const kMethods[] = {"GET", "POST", "PUT", "DELETE"};

std::string resource(size_t i) {
  std::ostringstream s;
  s << "res" << i;
  return s.str();
}

struct RuleShape {
  std::string method;
  int path_kind;  // 0 /api/v1/R/[0-9]+, 1 /api/v2/R, 2 /static/R/.*, 3 /api/v1/R/[0-9]+/items/[0-9]+
  std::string res;
  bool header, host;
};

RuleShape shape(size_t i) {
  return {kMethods[i % 4], int((i / 4) % 4), resource(i), i % 5 == 0, i % 7 == 3};
}

std::string path_regex(const RuleShape& r) {
  std::ostringstream p;
  switch (r.path_kind) {
    case 0: p << "/api/v1/" << r.res << "/[0-9]+"; break;
    case 1: p << "/api/v2/" << r.res; break;
    case 2: p << "/static/" << r.res << "/.*"; break;
    default: p << "/api/v1/" << r.res << "/[0-9]+/items/[0-9]+"; break;
  }
  return p.str();
}

std::string l7_json(size_t rules) {
  json list = json::array();
  for (size_t i = 0; i < rules; ++i) {
    RuleShape r = shape(i);
    json headers = json::array();
    if (r.header) headers.push_back({{"name", "X-Tenant"}, {"value", "acme"}});
    list.push_back({{"method", r.method},
                    {"path", path_regex(r)},
                    {"host", r.host ? "api\\.example\\.com" : ""},
                    {"headers", headers}});
  }
  json entry = {{"rule", 0},
                {"kind", "http"},
                {"peers", json::array({1})},
                {"ports", json::array({{{"proto", "TCP"}, {"first", 8080}, {"last", 8080}}})},
                {"rules", list}};
  return json{{"format", "cnpc-l7/1"},
              {"tables", json::array({{{"class", 0}, {"direction", "ingress"}, {"entries", json::array({entry})}}})}}
      .dump();
}

std::vector<HttpRequest> requests(size_t rules) {
  std::mt19937 rng(kSeed + uint32_t(rules));
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  std::vector<HttpRequest> out;
  for (size_t k = 0; k < kRequests; ++k) {
    RuleShape r = shape(below(rules));
    HttpRequest q;
    q.method = r.method;
    q.host = "api.example.com";
    std::ostringstream path;
    switch (r.path_kind) {
      case 0: path << "/api/v1/" << r.res << "/" << below(100000); break;
      case 1: path << "/api/v2/" << r.res; break;
      case 2: path << "/static/" << r.res << "/img/logo-" << below(50) << ".png"; break;
      default: path << "/api/v1/" << r.res << "/" << below(1000) << "/items/" << below(1000); break;
    }
    q.path = path.str();
    if (r.header) q.headers.emplace_back("x-tenant", "acme");
    q.headers.emplace_back("user-agent", "bench/1.0");
    if (k % 2 == 1) {  // make it miss, one of three ways
      switch (below(3)) {
        case 0: q.method = r.method == "GET" ? "PATCH" : "HEAD"; break;
        case 1: q.path = "/api/v1/unknown-" + std::to_string(below(1000)) + "/7"; break;
        default:
          if (r.header) q.headers.clear();
          else q.path += "/extra";
          break;
      }
    }
    out.push_back(std::move(q));
  }
  return out;
}

struct Fixture {
  L7Policy policy;
  std::vector<HttpRequest> reqs;
};

const Fixture& fixture(bool use_set, size_t rules) {
  static std::map<std::pair<bool, size_t>, Fixture> cache;
  auto it = cache.find({use_set, rules});
  if (it == cache.end())
    it = cache.emplace(std::make_pair(use_set, rules),
                       Fixture{L7Policy::parse(l7_json(rules), {use_set}), requests(rules)})
             .first;
  return it->second;
}

void BM_JudgeHttp(benchmark::State& state) {
  const bool use_set = state.range(0) != 0;
  const size_t rules = size_t(state.range(1));
  const Fixture& f = fixture(use_set, rules);
  size_t i = 0, allowed = 0;
  for (auto _ : state) {
    auto v = f.policy.judge_http(0, 0, 1, 6, 8080, f.reqs[i++ & (kRequests - 1)]);
    allowed += v.allowed;
    benchmark::DoNotOptimize(v);
  }
  state.counters["allowed%"] = 100.0 * double(allowed) / double(state.iterations());
}
BENCHMARK(BM_JudgeHttp)->ArgNames({"set", "rules"})->ArgsProduct({{1, 0}, {10, 100, 1000}});

// Records per-run times for the summary.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::pair<bool, size_t>, double> ns;  // (set, rules) -> ns per request
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      std::string name = r.benchmark_name();
      bool set = name.find("set:1") != std::string::npos;
      size_t rules = std::stoul(name.substr(name.find("rules:") + 6));
      ns[{set, rules}] = r.GetAdjustedCPUTime();  // default unit: ns
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();

  std::printf("\nsummary (CPU time per request):\n");
  for (size_t rules : {10, 100, 1000}) {
    auto s = reporter.ns.find({true, rules}), q = reporter.ns.find({false, rules});
    if (s == reporter.ns.end() || q == reporter.ns.end()) continue;
    std::printf("  %5zu rules: RE2::Set %8.0f ns, sequential %9.0f ns, speed-up %.1fx\n", rules,
                s->second, q->second, q->second / s->second);
  }
  // Both modes must reach the same verdict on every request.
  size_t disagreements = 0, checked = 0;
  for (size_t rules : {10, 100, 1000}) {
    const Fixture& a = fixture(true, rules);
    const Fixture& b = fixture(false, rules);
    for (const auto& q : a.reqs) {
      ++checked;
      auto x = a.policy.judge_http(0, 0, 1, 6, 8080, q), y = b.policy.judge_http(0, 0, 1, 6, 8080, q);
      disagreements += x.allowed != y.allowed || x.rules != y.rules;
    }
  }
  std::printf("  agreement: %zu/%zu requests judged alike\n", checked - disagreements, checked);
  return disagreements == 0 ? 0 : 2;
}
