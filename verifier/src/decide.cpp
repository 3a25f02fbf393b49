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
        dns(enc.request_allowed(vars, ir::L7Kind::Dns)) {}

  // With every variable fixed the formula is ground: Z3's simplifier
  // settles it. Should it leave a residue (a regex it cannot evaluate),
  // the solver decides, under the timeout.
  Z3Verdict::Answer settle(z3::expr_vector& vars, z3::expr_vector& values,
                           const z3::expr& formula) {
    z3::expr ground = z3::expr(formula).substitute(vars, values).simplify();
    if (ground.is_true()) return Z3Verdict::Answer::Allowed;
    if (ground.is_false()) return Z3Verdict::Answer::Denied;
    z3::solver solver(ctx);
    z3::params p(ctx);
    p.set("timeout", options.timeout_ms);
    solver.set(p);
    solver.add(ground);
    auto a = solver.check();
    z3::solver neg(ctx);
    neg.set(p);
    neg.add(!ground);
    auto b = neg.check();
    if (a == z3::sat && b == z3::unsat) return Z3Verdict::Answer::Allowed;
    if (a == z3::unsat && b == z3::sat) return Z3Verdict::Answer::Denied;
    return Z3Verdict::Answer::Unknown;
  }

  z3::context ctx;
  Encoder enc;
  FlowVars vars;
  Options options;
  z3::expr allowed, http, dns;
};

FlowDecider::FlowDecider(const ir::Evaluator& ev, const Options& options)
    : impl_(std::make_unique<Impl>(ev, options)) {}
FlowDecider::~FlowDecider() = default;

Z3Verdict FlowDecider::decide(const ir::Flow& flow) {
  Impl& im = *impl_;
  z3::expr_vector vars(im.ctx), values(im.ctx);
  im.enc.assignment(im.vars, flow, vars, values);
  Z3Verdict v;
  v.l34 = im.settle(vars, values, im.allowed);
  if (flow.l7 && v.l34 == Z3Verdict::Answer::Allowed) {
    if (flow.l7->kind == ir::L7Kind::Http) v.l7 = im.settle(vars, values, im.http);
    if (flow.l7->kind == ir::L7Kind::Dns) v.l7 = im.settle(vars, values, im.dns);
  }
  return v;
}

}  // namespace cnpc::verifier
