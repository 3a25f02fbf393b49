// Findings against the evaluator: on random clusters, every proved claim
// must survive every random flow — a flow that contradicts a finding means
// the finding should not exist. (Witnesses are already re-checked inside
// the verifier; this covers the universal claims.)
#include <gtest/gtest.h>

#include <cstdlib>

#include "cnpc/ir/evaluator.h"
#include "cnpc/verifier/verifier.h"
#include "support/random_cluster.h"

using namespace cnpc;

namespace {

const ir::SideDecision& side_of(const ir::Decision& d, ir::Direction dir) {
  return dir == ir::Direction::Ingress ? d.ingress : d.egress;
}

std::optional<ir::RuleId> rule_at(const ir::PolicySet& ps, const ir::SourceLocation& loc) {
  for (ir::RuleId r = 0; r < ps.rules.size(); ++r)
    if (ps.rules[r].origin.loc == loc) return r;
  return std::nullopt;
}

size_t clusters() {
  const char* env = std::getenv("CNPC_FINDINGS_CLUSTERS");
  return env ? std::strtoull(env, nullptr, 10) : 20;
}

}  // namespace

TEST(FindingsDifferential, ClaimsHoldOnRandomFlows) {
  size_t checked = 0, claims = 0, unknown = 0;
  for (uint64_t seed = 1000; seed < 1000 + clusters(); ++seed) {
    cnpc::testing::RandomOptions opt;
    opt.pods = 10;
    opt.policies = 4 + int(seed % 5);
    auto cluster = cnpc::testing::random_cluster(seed, opt);
    auto loaded = cnpc::testing::load_cluster(cluster);
    const auto& ps = loaded.result.policies;
    ir::Evaluator ev(ps, loaded.result.inventory, {}, loaded.dns_cache);
    verifier::Options vopt;
    vopt.timeout_ms = 2000;  // unknowns are tolerated here; keep the run short
    auto findings = verifier::lint(ev, vopt, true);
    auto flows = cnpc::testing::random_flows(ev, seed, 1000);
    for (const auto& f : findings) {
      // An unknown claims nothing (that is the point): counted, not checked.
      if (f.check == "solver-unknown") ++unknown;
      auto r = rule_at(ps, f.loc);
      if (f.check == "shadowed-allow" && r) {
        ++claims;
        for (const auto& flow : flows) {
          auto d = ev.decide(flow);
          const auto& s = side_of(d, ps.rules[*r].direction);
          bool matched = std::count(s.allow_rules.begin(), s.allow_rules.end(), *r) > 0;
          ++checked;
          EXPECT_FALSE(matched && s.reason != ir::DropReason::PolicyDeny)
              << "seed " << seed << ": shadowed allow " << f.message << " admits " << verifier::describe(ev, flow);
        }
      }
      if ((f.check == "redundant-rule" || f.check == "ineffective-deny") && r) {
        ++claims;
        ir::PolicySet without = ps;
        without.rules.erase(without.rules.begin() + long(*r));
        ir::Evaluator ev2(without, loaded.result.inventory, {}, loaded.dns_cache);
        const auto dir = ps.rules[*r].direction;
        for (const auto& flow : flows) {
          auto a = ev.decide(flow), b = ev2.decide(flow);
          const auto& sa = side_of(a, dir);
          const auto& sb = side_of(b, dir);
          ++checked;
          bool same = (sa.verdict == ir::Verdict::Denied) == (sb.verdict == ir::Verdict::Denied) &&
                      (sa.verdict == ir::Verdict::Denied || sa.l7_allowed.value_or(true) == sb.l7_allowed.value_or(true));
          EXPECT_TRUE(same) << "seed " << seed << ": " << f.check << " " << f.message
                            << " but removing it changes " << verifier::describe(ev, flow);
        }
      }
      if (f.check == "dns-blocked" && f.witness) {
        ++claims;
        EXPECT_EQ(ev.decide(f.witness->flow).egress.verdict, ir::Verdict::Denied);
      }
    }
  }
  std::printf("findings differential: %zu claims checked against %zu flow decisions; %zu checks unknown\n",
              claims, checked, unknown);
  EXPECT_GT(claims, 0u);
  EXPECT_LT(unknown, claims / 4 + 3) << "too many solver timeouts";
}
