// cnpc query: can SRC reach DST on a port (with a request)? One flow from
// flags, or many from a --flows file, optionally checked against expectations.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"

namespace cnpc::cli {

using nlohmann::json;

namespace {

struct Answer {
  frontend::FlowQuery query;
  ir::Flow flow;
  ir::Decision decision;
  std::optional<bool> expectation_met;
};

class InputError : public std::runtime_error {
 public:
  InputError(ir::SourceLocation loc, std::string msg)
      : std::runtime_error(std::move(msg)), loc(std::move(loc)) {}
  ir::SourceLocation loc;
};

std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

ir::EndpointId resolve(const ir::Evaluator& ev, const std::string& ref,
                       std::optional<ir::IpAddr>& ip, const ir::SourceLocation& loc) {
  if (auto id = ev.resolve(ref, &ip)) return *id;
  std::vector<std::string> names;
  for (const auto& e : ev.endpoints()) names.push_back(e.display());
  std::string msg = "unknown endpoint '" + ref + "' (use NAMESPACE/POD, cidr:IP or entity:NAME)";
  if (auto best = ir::closest_match(ref, names); !best.empty()) msg += "; did you mean '" + best + "'?";
  throw InputError(loc, msg);
}

ir::Flow build_flow(const ir::Evaluator& ev, const frontend::FlowQuery& q) {
  ir::Flow f;
  f.src = resolve(ev, q.src, f.src_ip, q.loc);
  f.dst = resolve(ev, q.dst, f.dst_ip, q.loc);
  auto proto = ir::parse_proto(q.proto);
  if (!proto || *proto == ir::Proto::Any)
    throw InputError(q.loc, "unknown protocol '" + q.proto + "' (TCP, UDP, SCTP, ICMP, ICMPv6)");
  f.proto = *proto;
  f.ip_proto = uint8_t(*proto);
  if (f.proto == ir::Proto::ICMP || f.proto == ir::Proto::ICMPv6) {
    if (!q.icmp_type || *q.icmp_type < 0 || *q.icmp_type > 255)
      throw InputError(q.loc, "an ICMP flow needs an ICMP type 0..255 (--icmp-type)");
    f.icmp_type = uint8_t(*q.icmp_type);
  } else {
    if (!q.port || *q.port < 0 || *q.port > 65535)
      throw InputError(q.loc, "a " + to_string(f.proto) + " flow needs a port 0..65535 (--port)");
    f.port = uint16_t(*q.port);
  }
  if (q.has_http) {
    if (f.proto != ir::Proto::TCP) throw InputError(q.loc, "an HTTP request needs --proto TCP");
    ir::L7Request req;
    req.kind = ir::L7Kind::Http;
    req.http.method = q.http_method;
    req.http.path = q.http_path;
    req.http.host = q.http_host;
    req.http.headers = q.http_headers;
    f.l7 = req;
  } else if (q.dns_name) {
    ir::L7Request req;
    req.kind = ir::L7Kind::Dns;
    req.dns_name = *q.dns_name;
    f.l7 = req;
  }
  return f;
}

std::string verdict_word(const ir::Decision& d) {
  if (d.verdict == ir::Verdict::Audit) return "AUDIT";
  if (d.verdict == ir::Verdict::Denied) return "DENIED";
  if (d.l7_verdict == ir::Verdict::Denied) return "DENIED";
  return "ALLOWED";
}

// A world endpoint is named by the address the flow gave it.
std::string endpoint_name(const ir::Evaluator& ev, ir::EndpointId id,
                          const std::optional<ir::IpAddr>& ip) {
  if (ip && ev.endpoints()[id].kind == ir::Endpoint::Kind::World) return "cidr:" + ip->to_string();
  return ev.endpoints()[id].display();
}

std::string flow_text(const ir::Evaluator& ev, const Answer& a) {
  std::ostringstream out;
  out << endpoint_name(ev, a.flow.src, a.flow.src_ip) << " -> "
      << endpoint_name(ev, a.flow.dst, a.flow.dst_ip);
  if (a.flow.proto == ir::Proto::ICMP || a.flow.proto == ir::Proto::ICMPv6)
    out << " " << to_string(a.flow.proto) << " type " << int(a.flow.icmp_type);
  else
    out << " " << a.flow.port << "/" << to_string(a.flow.proto);
  if (a.query.has_http) out << " HTTP " << a.query.http_method << " " << a.query.http_path;
  if (a.query.dns_name) out << " DNS " << *a.query.dns_name;
  return out.str();
}

std::string origin_text(const ir::Origin& o) {
  std::ostringstream out;
  out << o.loc.file << ':' << o.loc.line << ':' << o.loc.column << ": " << o.kind << ' '
      << o.policy_ref() << ' ' << o.path;
  return out.str();
}

void side_text(std::ostringstream& out, const ir::Evaluator& ev, const ir::SideDecision& s,
               const char* dir, const std::string& who) {
  const auto& policies = ev.policies();
  out << "  " << dir << " of " << who << ": ";
  if (!s.applies) {
    out << "no policy applies (not a local endpoint)\n";
    return;
  }
  if (!s.enforced) {
    out << "not enforced (no policy selects it for " << dir << "): allowed\n";
    return;
  }
  auto rules = [&](const std::vector<ir::RuleId>& ids, const char* indent = "    ") {
    for (auto r : ids) out << indent << origin_text(policies.rules[r].origin) << '\n';
  };
  if (s.reason == ir::DropReason::PolicyDeny) {
    out << "DENIED by deny rule(s):\n";
    rules(s.deny_rules);
  } else if (s.reason == ir::DropReason::PolicyDenied) {
    out << "DENIED: default deny, no rule allows it; default deny comes from:\n";
    for (size_t spec : s.enforcing_specs) out << "    " << origin_text(policies.specs[spec].origin) << '\n';
  } else if (s.allow_rules.empty() && s.localhost_allowed) {
    out << "allowed (--allow-localhost=always)\n";
  } else if (s.allow_rules.empty()) {
    out << "allowed (enableDefaultDeny: false, no deny matches)\n";
  } else {
    out << "allowed by:\n";
    rules(s.allow_rules);
  }
  if (s.l7_enforced) {
    out << "    L7 (" << to_string(s.l7_kind) << ") enforced on this port";
    if (s.l7_allowed) {
      out << (*s.l7_allowed ? ": request allowed by\n" : ": request DENIED; rules considered:\n");
      rules(s.l7_rules, "      ");
    } else {
      out << '\n';
    }
  }
}

// --explain: every rule that selects the endpoint on this side, and why it
// matched or not; where default deny comes from; why L7 is (not) enforced.
void explain_side(std::ostringstream& out, const ir::Evaluator& ev, const Answer& a,
                  const ir::SideDecision& s, ir::Direction dir) {
  const auto& policies = ev.policies();
  const ir::EndpointId self = dir == ir::Direction::Ingress ? a.flow.dst : a.flow.src;
  if (!s.applies) return;
  out << "    enforcement: ";
  if (ev.options().enforcement == ir::EnforcementMode::Never)
    out << "off (--policy-enforcement=never)\n";
  else if (!s.enforced)
    out << "off: no rule selects it for " << to_string(dir) << '\n';
  else if (!s.default_deny)
    out << "on, default allow: every selecting rule has enableDefaultDeny." << to_string(dir) << ": false\n";
  else if (s.enforcing_specs.empty())
    out << "on, default deny (--policy-enforcement=always or an init endpoint)\n";
  else {
    out << "on, default deny because these select it and have " << to_string(dir) << " rules:\n";
    for (size_t sp : s.enforcing_specs) out << "      " << origin_text(policies.specs[sp].origin) << '\n';
  }
  const auto& rules = ev.rules_of(ev.class_of(self), dir);
  if (rules.empty()) return;
  out << "    rules selecting it (" << rules.size() << "):\n";
  for (ir::RuleId r : rules) {
    const auto& rule = policies.rules[r];
    auto t = ev.trace(r, a.flow);
    const char* result = t.peer_matches && t.l4_matches
                             ? (rule.action == ir::Action::Deny ? "matches: DENY" : "matches: allow")
                         : !t.peer_matches && !t.l4_matches ? "no match: peer and port differ"
                         : !t.peer_matches                  ? "no match: peer differs"
                                                            : "no match: port/protocol differ";
    out << "      " << to_string(rule.action) << ' ' << origin_text(rule.origin) << "  -> " << result << '\n';
  }
  if (s.verdict == ir::Verdict::Denied) return;
  if (s.l7_enforced) {
    out << "    L7: enforced (" << to_string(s.l7_kind)
        << "): a matching allow carries " << to_string(s.l7_kind) << " rules for this port";
    bool voided = false;
    for (ir::RuleId r : s.l7_rules)
      if (policies.rules[r].port_rules.empty() ||
          std::none_of(policies.rules[r].port_rules.begin(), policies.rules[r].port_rules.end(),
                       [](const ir::PortRule& pr) { return pr.l7.kind != ir::L7Kind::None; }))
        voided = true;
    out << (voided ? "; an allow without L7 for this peer admits every request (L7 wildcard)\n" : "\n");
  } else if (!s.allow_rules.empty()) {
    out << "    L7: not enforced: no matching allow carries L7 rules for this port\n";
  }
}

std::string answer_text(const ir::Evaluator& ev, const Answer& a, bool explain) {
  std::ostringstream out;
  const auto& d = a.decision;
  if (a.expectation_met) out << (*a.expectation_met ? "PASS " : "FAIL ");
  out << verdict_word(d) << "  " << flow_text(ev, a);
  if (!a.query.name.empty()) out << "  [" << a.query.name << "]";
  out << '\n';
  if (d.verdict != ir::Verdict::Allowed)
    out << "  reason: " << (d.reason == ir::DropReason::PolicyDeny ? "denied by an explicit deny rule"
                                                                   : "default deny, no allow rule matches")
        << (d.verdict == ir::Verdict::Audit ? " (audit mode: forwarded)" : "") << '\n';
  if (d.l7_verdict == ir::Verdict::Denied)
    out << "  L7: request denied"
        << (a.query.has_http ? " (HTTP 403 Access denied)" : a.query.dns_name ? " (DNS REFUSED)" : "")
        << '\n';
  side_text(out, ev, d.egress, "egress", endpoint_name(ev, a.flow.src, a.flow.src_ip));
  if (explain) explain_side(out, ev, a, d.egress, ir::Direction::Egress);
  side_text(out, ev, d.ingress, "ingress", endpoint_name(ev, a.flow.dst, a.flow.dst_ip));
  if (explain) explain_side(out, ev, a, d.ingress, ir::Direction::Ingress);
  if (a.expectation_met && !*a.expectation_met) {
    out << "  expected verdict " << a.query.expect_verdict.value_or("-");
    if (a.query.expect_l7_verdict) out << ", l7_verdict " << *a.query.expect_l7_verdict;
    out << '\n';
  }
  return out.str();
}

json origin_json(const ir::Origin& o, const char* side, const char* role) {
  return {{"file", o.loc.file},      {"line", o.loc.line},  {"column", o.loc.column},
          {"kind", o.kind},          {"namespace", o.namespace_}, {"name", o.name},
          {"path", o.path},          {"side", side},        {"role", role}};
}

json answer_json(const ir::Evaluator& ev, const Answer& a) {
  const auto& d = a.decision;
  const auto& policies = ev.policies();
  json rules = json::array();
  auto add_side = [&](const ir::SideDecision& s, const char* side) {
    if (!s.applies) return;
    if (s.reason == ir::DropReason::PolicyDeny)
      for (auto r : s.deny_rules) rules.push_back(origin_json(policies.rules[r].origin, side, "deny"));
    else if (s.reason == ir::DropReason::PolicyDenied)
      for (auto sp : s.enforcing_specs)
        rules.push_back(origin_json(policies.specs[sp].origin, side, "default-deny"));
    else {
      for (auto r : s.allow_rules) rules.push_back(origin_json(policies.rules[r].origin, side, "allow"));
      if (s.l7_allowed)
        for (auto r : s.l7_rules)
          rules.push_back(origin_json(policies.rules[r].origin, side, *s.l7_allowed ? "l7-allow" : "l7-considered"));
    }
  };
  // When one side drops, only that side decided.
  bool egress_dropped = d.egress.verdict == ir::Verdict::Denied;
  bool ingress_dropped = d.ingress.verdict == ir::Verdict::Denied;
  if (egress_dropped || !ingress_dropped) add_side(d.egress, "egress");
  if (ingress_dropped || !egress_dropped) add_side(d.ingress, "ingress");
  json j = {{"src", endpoint_name(ev, a.flow.src, a.flow.src_ip)},
            {"dst", endpoint_name(ev, a.flow.dst, a.flow.dst_ip)},
            {"proto", to_string(a.flow.proto)},
            {"verdict", to_string(d.verdict)},
            {"reason", d.reason == ir::DropReason::None ? json(nullptr) : json(to_string(d.reason))},
            {"l7_enforced", d.l7_enforced},
            {"l7_verdict", d.l7_verdict ? json(to_string(*d.l7_verdict)) : json(nullptr)},
            {"rules", rules}};
  if (a.flow.proto == ir::Proto::ICMP || a.flow.proto == ir::Proto::ICMPv6)
    j["icmp_type"] = a.flow.icmp_type;
  else
    j["port"] = a.flow.port;
  if (!a.query.name.empty()) j["name"] = a.query.name;
  if (a.expectation_met) j["expectation_met"] = *a.expectation_met;
  return j;
}

bool expectation_met(const frontend::FlowQuery& q, const ir::Decision& d) {
  if (q.expect_verdict && *q.expect_verdict != to_string(d.verdict)) {
    // "denied" for a request denied at L7 also counts, unless l7 is spelled out.
    bool l7_denied = d.l7_verdict == ir::Verdict::Denied;
    if (!(*q.expect_verdict == "denied" && l7_denied && !q.expect_l7_verdict)) return false;
  }
  if (q.expect_l7_verdict) {
    if (!d.l7_verdict || *q.expect_l7_verdict != to_string(*d.l7_verdict)) return false;
  }
  if (q.expect_verdict && *q.expect_verdict == "allowed" && d.l7_verdict == ir::Verdict::Denied &&
      !q.expect_l7_verdict)
    return false;
  return true;
}

}  // namespace

int run_query(const QueryOptions& options) {
  ir::Diagnostics diags;
  LoadedInputs inputs = load_inputs(options.input, diags);
  std::vector<frontend::FlowQuery> queries;
  if (!options.flows_file.empty()) {
    queries = frontend::load_flow_queries(options.flows_file, diags);
  } else {
    frontend::FlowQuery q;
    q.src = options.from;
    q.dst = options.to;
    q.proto = options.proto.empty() ? "TCP" : upper(options.proto);
    if (options.port >= 0) q.port = options.port;
    if (options.icmp_type >= 0) q.icmp_type = options.icmp_type;
    if (!options.http_method.empty() || !options.http_path.empty() || !options.http_host.empty() ||
        !options.http_headers.empty()) {
      q.has_http = true;
      q.http_method = options.http_method.empty() ? "GET" : options.http_method;
      q.http_path = options.http_path.empty() ? "/" : options.http_path;
      q.http_host = options.http_host;
      for (const auto& h : options.http_headers) {
        auto colon = h.find(':');
        std::string key = h.substr(0, colon), value;
        if (colon != std::string::npos) {
          value = h.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
        }
        q.http_headers.emplace_back(key, value);
      }
    }
    if (!options.dns_name.empty()) q.dns_name = options.dns_name;
    q.loc = {"<command line>", 0, 0};
    queries.push_back(q);
  }
  // Answers about a policy set that failed to load would be guesses.
  if (diags.has_errors()) {
    diags.sort();
    print_input_diagnostics(diags);
    std::cerr << "cnpc: error: inputs have errors; no answer given\n";
    return kExitUsage;
  }
  if (!diags.all().empty()) print_input_diagnostics(diags);

  ir::Evaluator ev(inputs.result.policies, inputs.result.inventory, inputs.eval, inputs.dns);
  std::vector<Answer> answers;
  try {
    for (const auto& q : queries) {
      Answer a;
      a.query = q;
      a.flow = build_flow(ev, q);
      a.decision = ev.decide(a.flow);
      if (q.expect_verdict || q.expect_l7_verdict) a.expectation_met = expectation_met(q, a.decision);
      answers.push_back(std::move(a));
    }
  } catch (const InputError& e) {
    ir::Diagnostics bad;
    bad.report("missing-field", e.loc, e.what());
    print_input_diagnostics(bad);
    return kExitUsage;
  }

  std::string text;
  if (options.format == "json") {
    json out = json::array();
    for (const auto& a : answers) out.push_back(answer_json(ev, a));
    // A single flow from flags prints one object, a --flows file an array.
    text = (options.flows_file.empty() ? out[0] : out).dump(2) + "\n";
  } else {
    size_t failed = 0, checked = 0;
    for (const auto& a : answers) {
      text += answer_text(ev, a, options.explain);
      if (a.expectation_met) {
        ++checked;
        failed += !*a.expectation_met;
      }
    }
    if (checked)
      text += std::to_string(checked - failed) + " passed, " + std::to_string(failed) + " failed\n";
  }
  write_output(options.output_file, text);
  for (const auto& a : answers)
    if (a.expectation_met && !*a.expectation_met) return kExitFindings;
  return kExitClean;
}

}  // namespace cnpc::cli
