// cnpc query --who-can-reach / --reachable-from: every peer of an endpoint
// with the ports and L7 rules on which it is allowed. The analysis is
// ir/reach (exact over atoms); this file only resolves the target and renders.
#include <algorithm>
#include <array>
#include <cctype>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli.h"
#include "cnpc/ir/reach.h"

namespace cnpc::cli {

using json = nlohmann::ordered_json;

namespace {

std::string upper(std::string s) {
  for (auto& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// How a peer is named in text: world entries by their addresses.
std::string peer_text(const ir::ReachEntry& e) {
  if (e.kind != ir::ReachEntry::Kind::World) return e.name;
  std::string out = e.name == "world" ? "world" : "world " + e.name;
  if (!e.fqdns.empty()) {
    out += " (";
    for (size_t i = 0; i < e.fqdns.size(); ++i) out += (i ? ", " : "") + e.fqdns[i];
    out += ")";
  }
  return out;
}

std::vector<std::string> policy_refs(const ir::PolicySet& policies, const ir::ReachEntry& e,
                                     bool with_localhost = true) {
  std::vector<std::string> out;
  for (ir::RuleId r : e.rules) {
    std::string ref = policies.rules[r].origin.policy_ref();
    if (std::find(out.begin(), out.end(), ref) == out.end()) out.push_back(ref);
  }
  if (e.via_localhost && with_localhost) out.push_back("allow-localhost");
  return out;
}

std::vector<std::string> rule_locations(const ir::PolicySet& policies, const ir::ReachEntry& e) {
  std::vector<std::string> out;
  for (ir::RuleId r : e.rules) {
    const auto& loc = policies.rules[r].origin.loc;
    std::string s = loc.file + ":" + std::to_string(loc.line);
    if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  }
  return out;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string filter_text(const ir::ReachFilter& f) {
  if (!f.proto && !f.port) return "all protocols and ports";
  std::string out = f.proto ? to_string(*f.proto) : "TCP/UDP/SCTP";
  if (f.port)
    out += (f.proto == ir::Proto::ICMP || f.proto == ir::Proto::ICMPv6 ? " type " : " port ") +
           std::to_string(*f.port);
  return out;
}

std::string render_text(const ir::Evaluator& ev, const std::string& target, bool who,
                        const ir::ReachFilter& filter, const std::vector<ir::ReachEntry>& entries) {
  std::ostringstream out;
  if (entries.empty()) {
    out << (who ? "nothing can reach " + target : target + " can reach nothing") << " ("
        << filter_text(filter) << ")\n";
    return out.str();
  }
  out << (who ? "who can reach " + target : "reachable from " + target) << " (" << filter_text(filter)
      << "):\n";
  // One row per allowed range; the peer's columns only on its first row.
  std::vector<std::array<std::string, 6>> rows = {{"PEER", "KIND", "COUNT", "ALLOWED", "L7", "RULES"}};
  for (const auto& e : entries) {
    const auto summary = ir::summarize(e.allowed);
    for (size_t i = 0; i < summary.size(); ++i) {
      std::array<std::string, 6> row;
      if (i == 0) {
        row[0] = peer_text(e);
        row[1] = to_string(e.kind);
        row[2] = e.kind == ir::ReachEntry::Kind::World || e.kind == ir::ReachEntry::Kind::Entity
                     ? "-"
                     : std::to_string(e.members.size());
        row[5] = join(policy_refs(ev.policies(), e), ", ");
        // Allowed with no rule at all: neither side is in default deny.
        if (row[5].empty()) row[5] = "(open)";
      }
      row[3] = summary[i].text();
      row[4] = summary[i].l7.empty() ? "-" : join(summary[i].l7, "; ");
      rows.push_back(std::move(row));
    }
  }
  std::array<size_t, 6> width{};
  for (const auto& r : rows)
    for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
  for (const auto& r : rows) {
    std::string line = "  ";
    for (size_t c = 0; c < r.size(); ++c) {
      line += r[c];
      if (c + 1 < r.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
  return out.str();
}

json labels_json(const ir::LabelSet& labels) {
  json out = json::object();
  for (const auto& l : labels.labels) out[l.source + ":" + l.key] = l.value;
  return out;
}

// One allowed range as JSON (ICMP ranges are types, not ports).
json allowed_json(const ir::AllowedSummary& s) {
  json j = {{"proto", s.proto}};
  j[s.proto == "ICMP" || s.proto == "ICMPv6" ? "types" : "ports"] = s.ports;
  j["l7"] = s.l7;
  return j;
}

json render_json(const ir::Evaluator& ev, const std::string& target, bool who,
                 const ir::ReachFilter& filter, const std::vector<ir::ReachEntry>& entries) {
  json peers = json::array();
  for (const auto& e : entries) {
    json p = {{"kind", to_string(e.kind)}, {"name", e.name}};
    if (!e.namespace_.empty()) p["namespace"] = e.namespace_;
    p["labels"] = labels_json(e.labels);
    if (e.kind == ir::ReachEntry::Kind::World) {
      json cidrs = json::array();
      for (const auto& c : e.cidrs) cidrs.push_back(c.to_string());
      p["cidrs"] = cidrs;
      if (!e.fqdns.empty()) p["fqdns"] = e.fqdns;
    } else {
      p["count"] = e.members.size();
      json members = json::array();
      for (auto id : e.members) members.push_back(ev.endpoints()[id].display());
      p["members"] = members;
    }
    json allowed = json::array();
    for (const auto& s : ir::summarize(e.allowed)) allowed.push_back(allowed_json(s));
    p["allowed"] = allowed;
    p["rules"] = rule_locations(ev.policies(), e);
    p["policies"] = policy_refs(ev.policies(), e, false);
    p["via_localhost"] = e.via_localhost;
    peers.push_back(std::move(p));
  }
  json f = json::object();
  if (filter.proto) f["proto"] = to_string(*filter.proto);
  if (filter.port) f[filter.proto == ir::Proto::ICMP || filter.proto == ir::Proto::ICMPv6 ? "type" : "port"] = *filter.port;
  return {{"target", target},
          {"direction", who ? "who-can-reach" : "reachable-from"},
          {"filter", f},
          {"peers", peers}};
}

}  // namespace

int run_reach(const QueryOptions& options) {
  if (!options.who_can_reach.empty() && !options.reachable_from.empty()) {
    std::cerr << "cnpc query: error: give either --who-can-reach or --reachable-from, not both\n";
    return kExitUsage;
  }
  const bool who = !options.who_can_reach.empty();
  const std::string target = who ? options.who_can_reach : options.reachable_from;

  ir::Diagnostics diags;
  LoadedInputs inputs = load_inputs(options.input, diags);
  // Answers about a policy set that failed to load would be guesses.
  if (diags.has_errors()) {
    diags.sort();
    print_input_diagnostics(diags);
    std::cerr << "cnpc: error: inputs have errors; no answer given\n";
    return kExitUsage;
  }
  if (!diags.all().empty()) print_input_diagnostics(diags);

  ir::Evaluator ev(inputs.result.policies, inputs.result.inventory, inputs.eval, inputs.dns);
  std::optional<ir::IpAddr> ip;
  auto id = ev.resolve(target, &ip);
  if (!id) {
    std::vector<std::string> names;
    for (const auto& e : ev.endpoints()) names.push_back(e.display());
    std::string msg = "cnpc query: error: unknown endpoint '" + target +
                      "' (use NAMESPACE/POD, node:NAME, entity:NAME or cidr:IP)";
    if (auto best = ir::closest_match(target, names); !best.empty()) msg += "; did you mean '" + best + "'?";
    std::cerr << msg << '\n';
    return kExitUsage;
  }
  if (*id == ev.world() && !ip) {
    std::cerr << "cnpc query: error: world has no single answer; name an address with cidr:IP\n";
    return kExitUsage;
  }

  // --proto narrows when given; --port alone means TCP, as for flow queries.
  ir::ReachFilter filter;
  std::string proto = upper(options.proto);
  if (proto.empty() && options.port >= 0) proto = "TCP";
  if (!proto.empty()) {
    auto p = ir::parse_proto(proto);
    if (!p) {
      std::cerr << "cnpc query: error: unknown protocol '" << options.proto
                << "' (TCP, UDP, SCTP, ANY, ICMP, ICMPv6)\n";
      return kExitUsage;
    }
    if (*p != ir::Proto::Any) filter.proto = *p;
  }
  const bool icmp = filter.proto == ir::Proto::ICMP || filter.proto == ir::Proto::ICMPv6;
  if (icmp) {
    int type = options.icmp_type >= 0 ? options.icmp_type : options.port;
    if (type > 255) {
      std::cerr << "cnpc query: error: an ICMP type is 0..255\n";
      return kExitUsage;
    }
    if (type >= 0) filter.port = uint16_t(type);
  } else if (options.port >= 0) {
    filter.port = uint16_t(options.port);
  }

  const std::string shown = ip ? "cidr:" + ip->to_string() : ev.endpoints()[*id].display();
  auto entries = who ? ir::who_can_reach(ev, *id, filter, ip) : ir::reachable_from(ev, *id, filter, ip);
  std::string text = options.format == "json"
                         ? render_json(ev, shown, who, filter, entries).dump(2) + "\n"
                         : render_text(ev, shown, who, filter, entries);
  write_output(options.output_file, text);
  return kExitClean;
}

}  // namespace cnpc::cli
