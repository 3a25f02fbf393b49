// The verifier: Z3 proofs about a policy set, on the evaluator's identity
// classes. The only library that links Z3.
//
// Every answer that names a flow carries a concrete witness, and every
// witness is re-checked with the reference evaluator before it is returned;
// a solver timeout is reported as unknown, never as "holds".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"

namespace cnpc::verifier {

struct Options {
  unsigned timeout_ms = 10000;  // per solver call
  unsigned jobs = 2;            // worker threads (one Z3 context each)
};

// A concrete flow that demonstrates a finding or a difference.
struct Witness {
  ir::Flow flow;
  std::string text;  // "blog-system/web -> blog-system/mysql 3306/TCP"
};

struct Finding {
  std::string check;  // registry name, e.g. "shadowed-allow"
  ir::Severity severity = ir::Severity::Warning;
  std::string message;
  ir::SourceLocation loc;
  std::vector<std::pair<ir::SourceLocation, std::string>> related;  // the rules involved
  std::optional<Witness> witness;
};

// Everything `cnpc lint` proves beyond validation. `with_inventory` enables
// the checks that only make sense for a real inventory (empty-selector).
std::vector<Finding> lint(const ir::Evaluator& ev, const Options& options, bool with_inventory);

// Findings into the diagnostics engine (witness and rules as notes).
void report(const std::vector<Finding>& findings, ir::Diagnostics& diags);

// The L3/L4 verdict and the L7 verdict of one concrete flow, as Z3 decides
// it from the encoding (the differential tests compare this with decide()).
struct Z3Verdict {
  enum class Answer { Allowed, Denied, Unknown };
  Answer l34 = Answer::Unknown;
  Answer l7 = Answer::Unknown;  // only when the flow carries a request
};
// Builds the encoding once, then decides many concrete flows against it.
class FlowDecider {
 public:
  FlowDecider(const ir::Evaluator& ev, const Options& options);
  ~FlowDecider();
  Z3Verdict decide(const ir::Flow& flow);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string describe(const ir::Evaluator& ev, const ir::Flow& flow);

// ------------------------------------------------------------------ diff

struct PortRange {
  uint16_t first = 0, last = 0;
  bool operator==(const PortRange&) const = default;
};

// Flows whose verdict differs between two policy sets, grouped by what
// changed and why: sources and destinations that behave alike on the same
// ports with the same rules responsible are one group.
struct DiffGroup {
  enum class Change { NewlyAllowed, NewlyDenied, RequestNewlyAllowed, RequestNewlyDenied };
  Change change = Change::NewlyAllowed;
  std::vector<std::string> sources, destinations;  // endpoint names (world as cidr:IP)
  ir::Proto proto = ir::Proto::TCP;
  std::vector<PortRange> ports;  // ICMP: types
  std::string side;              // "egress" / "ingress": where the verdict changed
  std::vector<ir::Origin> base_rules, head_rules;  // responsible on each side
  Witness witness;                                 // decided by both evaluators
};

struct DiffResult {
  std::vector<DiffGroup> groups;
  bool truncated = false;  // more differences than the report cap
  bool unknown = false;    // the solver gave up: the list may be incomplete
};

struct DiffInput {
  const ir::PolicySet* base = nullptr;
  const ir::PolicySet* head = nullptr;
  const ir::Inventory* inventory = nullptr;
  ir::EvalOptions eval;
  std::vector<ir::DnsCacheEntry> dns;
};
DiffResult diff(const DiffInput& input, const Options& options, size_t max_pairs = 200);
std::string to_string(DiffGroup::Change c);

}  // namespace cnpc::verifier
