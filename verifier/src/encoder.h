// The Z3 model of the reference evaluator. Private to verifier/.
//
// It mirrors ir/src/evaluator.cpp clause by clause (the differential tests
// hold the two together): identities are class ids, addresses, protocol and
// port are bit-vectors, L7 request fields are strings.
#pragma once

#include <z3++.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"

namespace cnpc::verifier {

using ClassSet = std::vector<uint32_t>;  // sorted class ids

// The variables of one flow (and of its L7 request).
struct FlowVars {
  z3::expr src, dst;          // class ids
  z3::expr v6;                // address family of the flow
  z3::expr src_ip4, dst_ip4;  // bv32, meaningful for world endpoints
  z3::expr src_ip6, dst_ip6;  // bv128
  z3::expr proto;             // bv8 IP protocol number
  z3::expr port;              // bv16 destination port
  z3::expr icmp;              // bv8 ICMP type
  z3::expr method, path, host;  // HTTP request
  std::vector<std::pair<std::string, z3::expr>> header_present;  // per header name in rules
  std::vector<std::pair<std::string, z3::expr>> header_value;
  z3::expr dns_name;
};

// Which rules take part (a rule "removed" for redundancy checks is masked).
using RuleMask = std::vector<bool>;

// Per-direction enforcement of each class: by default the evaluator's; a
// diff encodes two policy sets over one class partition with their own.
struct Enforcement {
  ClassSet applies[2], enforced[2], default_deny[2];  // [0] ingress, [1] egress
};

// Everything about the class partition that formulas need, computed once
// and shared (read-only) by the encoders of all worker threads.
struct ClassModel {
  explicit ClassModel(const ir::Evaluator& ev);
  const ir::Evaluator& ev;
  uint32_t class_count = 0;
  unsigned class_bits = 1;
  uint32_t world_class = 0;
  std::vector<ClassSet> subjects;  // per rule: the classes it selects
  // Per rule, per peer (selector kinds): the peer classes it admits, grouped
  // by the subject classes that admit them (fromRequires depend on the subject).
  std::vector<std::vector<std::vector<std::pair<ClassSet, ClassSet>>>> peer_groups;
  Enforcement enforcement;
  ClassSet pod_classes, host_classes;
  std::vector<std::string> header_names;  // lower-case names the HTTP rules test
  // Ingress named ports resolve against the destination's own ports: per
  // (name, protocol), the classes that resolve it, grouped by the number.
  std::map<std::pair<std::string, ir::Proto>, std::vector<std::pair<uint16_t, ClassSet>>> ingress_named_ports;
};

class Encoder {
 public:
  Encoder(z3::context& ctx, const ir::Evaluator& ev);
  Encoder(z3::context& ctx, std::shared_ptr<const ClassModel> model);

  FlowVars flow(const std::string& prefix);
  // Class ids in range, a known protocol, printable L7 strings.
  z3::expr well_formed(const FlowVars& f);
  // The two halves: ids and protocol; the domain of the L7 strings. Solvers
  // decide faster without the string domain (an unsat answer without it is
  // final), so checks try that first (checks.cpp).
  z3::expr well_formed_core(const FlowVars& f);
  z3::expr string_domain(const FlowVars& f);
  // A preference for witnesses that read like real requests (common
  // methods, plain paths and names); callers try it first and drop it when
  // it makes the formula unsatisfiable.
  z3::expr readable(const FlowVars& f);
  // Constrains the variables to one concrete flow (every variable gets a value).
  z3::expr fix(const FlowVars& f, const ir::Flow& flow);
  void assignment(const FlowVars& f, const ir::Flow& flow, z3::expr_vector& vars,
                  z3::expr_vector& values);
  // A concrete flow from a model; `request` adds an L7 request of that kind.
  ir::Flow extract(const z3::model& m, const FlowVars& f, ir::L7Kind request);

  z3::expr in_set(const z3::expr& cls, const ClassSet& set);
  const ClassSet& subjects(ir::RuleId r) { return model_->subjects[r]; }

  // One rule's match for its own direction (subject, peer, L3/L4).
  z3::expr rule_match(ir::RuleId r, const FlowVars& f);
  // The L3/L4 verdict of one side; a masked rule does not exist.
  z3::expr side_allowed(ir::Direction d, const FlowVars& f, const RuleMask* mask = nullptr);
  z3::expr allowed(const FlowVars& f, const RuleMask* mask = nullptr);
  // Whether one side's verdict is a drop by an explicit deny.
  z3::expr side_denied_by_rule(ir::Direction d, const FlowVars& f, const RuleMask* mask = nullptr);

  // L7 of one side for a request of `kind`: enforced, and the request passes.
  z3::expr l7_enforced(ir::Direction d, const FlowVars& f, const RuleMask* mask = nullptr);
  // Some allow entry of direction d other than port rule j of rule r
  // matches the flow at L3/L4 (no strings): what l7_allowed needs, besides
  // that entry's own L7 rules, for a request they reject to pass.
  z3::expr other_allow_entries(ir::Direction d, ir::RuleId r, size_t j, const FlowVars& f);
  z3::expr l7_allowed(ir::Direction d, const FlowVars& f, ir::L7Kind kind,
                      const RuleMask* mask = nullptr);
  // The request verdict of a flow allowed at L3/L4 (true when no side enforces L7).
  z3::expr request_allowed(const FlowVars& f, ir::L7Kind kind, const RuleMask* mask = nullptr);

  // Whether an allow entry's port rule `j` (with L7) is first to match.
  z3::expr port_rule_first(ir::RuleId r, size_t j, const FlowVars& f);
  z3::expr http_rules_match(const ir::L7Rules& l7, const FlowVars& f);
  z3::expr dns_rules_match(const ir::L7Rules& l7, const FlowVars& f);

  // Regexes that could not be translated (the L7 checks that need them are skipped and said so).
  const std::vector<std::string>& untranslatable() const { return untranslatable_; }

  // The enforcement that formulas built from now on use (nullptr: the
  // evaluator's own).
  void use_enforcement(const Enforcement* e) { enforcement_ = e ? e : &model_->enforcement; }
  // Side formulas built from now on leave out rules that select no class of
  // `domain` (nullptr: no restriction). Only sound for flows whose subject
  // is in the domain: callers constrain it.
  void restrict_to(const ClassSet* domain);
  Enforcement enforcement_of(const ir::Evaluator& other) const;

  uint32_t class_count() const { return model_->class_count; }
  z3::context& ctx() { return ctx_; }
  const ir::Evaluator& evaluator() const { return ev_; }
  // One incremental solver for formulas without strings (L3/L4 verdicts),
  // used with push/pop: making a solver costs more than such a query, and
  // lint asks tens of thousands of them.
  z3::solver& l34_solver(unsigned timeout_ms);

 private:
  struct Side {
    const z3::expr& subject(const FlowVars& f) const { return egress ? f.src : f.dst; }
    const z3::expr& peer(const FlowVars& f) const { return egress ? f.dst : f.src; }
    const z3::expr& peer_ip4(const FlowVars& f) const { return egress ? f.dst_ip4 : f.src_ip4; }
    const z3::expr& peer_ip6(const FlowVars& f) const { return egress ? f.dst_ip6 : f.src_ip6; }
    bool egress;
  };
  z3::expr peer_match(ir::RuleId r, const FlowVars& f);
  z3::expr l4_match(ir::RuleId r, const FlowVars& f);
  z3::expr port_rule_match(const ir::PortRule& pr, const FlowVars& f, ir::Direction d);
  z3::expr port_match(const ir::PortMatch& pm, const FlowVars& f, ir::Direction d);
  // The (first, last) key of the first matching port of a port rule, per
  // port: (key, "this port is the first to match"); the key is (first,
  // last) for a number, none for a name (its key is the flow's own port).
  using PortSpecKey = std::optional<std::pair<uint16_t, uint16_t>>;
  std::vector<std::pair<PortSpecKey, z3::expr>> port_keys(const ir::PortRule& pr, const FlowVars& f,
                                                           ir::Direction d);
  z3::expr cidr_match(const ir::Cidr& c, const z3::expr& ip4, const z3::expr& ip6,
                      const z3::expr& v6);
  z3::expr regex_match(const std::string& pattern, const z3::expr& s);
  z3::expr cls(uint32_t id) { return ctx_.bv_val(id, model_->class_bits); }
  bool in_domain(ir::RuleId r) const;

  z3::context& ctx_;
  std::shared_ptr<const ClassModel> model_;
  const ir::Evaluator& ev_;
  const Enforcement* enforcement_;
  const ClassSet* domain_ = nullptr;
  std::vector<uint32_t> domain_stamp_;  // per rule: domain_gen_ when it selects a class of the domain
  uint32_t domain_gen_ = 0;
  std::optional<z3::solver> l34_solver_;
  unsigned l34_timeout_ = 0;
  std::map<std::string, z3::expr> regex_cache_;
  std::vector<std::string> untranslatable_;
};

}  // namespace cnpc::verifier
