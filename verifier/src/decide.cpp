// Concrete flows through the symbolic encoding: the verifier's own verdict
// for one flow, which the differential tests compare with the evaluator.
#include "cnpc/verifier/verifier.h"
#include "encoder.h"

namespace cnpc::verifier {

struct FlowDecider::Impl {
  Impl(const ir::Evaluator& ev, const Options& opt)
      : enc(ctx, ev), vars(enc.flow("q_")), options(opt),
        allowed(enc.allowed(vars)),
        http(enc.request_allowed(vars, ir::L7Kind::Http)),
        dns(enc.request_allowed(vars, ir::L7Kind::Dns)),
        wf(enc.well_formed(vars)) {}

  // Fixes the flow, then lets Z3 settle the formula: by simplification when
  // that reaches a constant, else with the solver.
  Z3Verdict::Answer settle(const z3::expr& fixed, const z3::expr& formula) {
    z3::solver solver(ctx);
    z3::params p(ctx);
    p.set("timeout", options.timeout_ms);
    solver.set(p);
    solver.add(wf && fixed);
    auto yes = solver.check(z3::expr_vector(ctx));
    if (yes != z3::sat) return Z3Verdict::Answer::Unknown;  // the flow itself is not well formed
    z3::expr_vector assumption(ctx);
    assumption.push_back(formula);
    auto a = solver.check(assumption);
    assumption[0] = !formula;
    auto b = solver.check(assumption);
    if (a == z3::sat && b == z3::unsat) return Z3Verdict::Answer::Allowed;
    if (a == z3::unsat && b == z3::sat) return Z3Verdict::Answer::Denied;
    return Z3Verdict::Answer::Unknown;
  }

  z3::context ctx;
  Encoder enc;
  FlowVars vars;
  Options options;
  z3::expr allowed, http, dns, wf;
};

FlowDecider::FlowDecider(const ir::Evaluator& ev, const Options& options)
    : impl_(std::make_unique<Impl>(ev, options)) {}
FlowDecider::~FlowDecider() = default;

Z3Verdict FlowDecider::decide(const ir::Flow& flow) {
  Impl& im = *impl_;
  z3::expr fixed = im.enc.fix(im.vars, flow);
  Z3Verdict v;
  v.l34 = im.settle(fixed, im.allowed);
  if (flow.l7 && v.l34 == Z3Verdict::Answer::Allowed) {
    if (flow.l7->kind == ir::L7Kind::Http) v.l7 = im.settle(fixed, im.http);
    if (flow.l7->kind == ir::L7Kind::Dns) v.l7 = im.settle(fixed, im.dns);
  }
  return v;
}

}  // namespace cnpc::verifier
