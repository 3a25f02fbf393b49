// cnpc diff: what a policy change does to traffic, for a pull request.
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "cnpc/ir/synthesize.h"
#include "cnpc/verifier/verifier.h"

namespace cnpc::cli {

using nlohmann::json;

namespace {

std::string ports_text(const verifier::DiffGroup& g) {
  const bool icmp = g.proto == ir::Proto::ICMP || g.proto == ir::Proto::ICMPv6;
  std::string out = to_string(g.proto);
  if (!icmp && g.ports.size() == 1 && g.ports[0].first == 0 && g.ports[0].last == 65535)
    return out + " any port";
  std::ostringstream s;
  s << out << (icmp ? " type " : " ");
  for (size_t i = 0; i < g.ports.size(); ++i) {
    s << (i ? "," : "") << g.ports[i].first;
    if (g.ports[i].last != g.ports[i].first) s << '-' << g.ports[i].last;
  }
  return s.str();
}

std::string names(const std::vector<std::string>& list, size_t max = 4) {
  std::string out;
  for (size_t i = 0; i < list.size() && i < max; ++i) out += (i ? ", " : "") + list[i];
  if (list.size() > max) out += " and " + std::to_string(list.size() - max) + " more";
  return out;
}

std::string origin_text(const ir::Origin& o) {
  return o.loc.file + ":" + std::to_string(o.loc.line) + " " + o.policy_ref() + " " + o.path;
}

std::string rules_text(const std::vector<ir::Origin>& rules, const char* none) {
  if (rules.empty()) return none;
  std::string out;
  for (size_t i = 0; i < rules.size(); ++i) out += (i ? "; " : "") + origin_text(rules[i]);
  return out;
}

json origins_json(const std::vector<ir::Origin>& rules) {
  json out = json::array();
  for (const auto& o : rules)
    out.push_back({{"file", o.loc.file}, {"line", o.loc.line}, {"column", o.loc.column},
                   {"kind", o.kind}, {"namespace", o.namespace_}, {"name", o.name}, {"path", o.path}});
  return out;
}

std::string render_text(const verifier::DiffResult& r) {
  std::ostringstream out;
  if (r.groups.empty()) out << "no change in any verdict\n";
  for (const auto& g : r.groups) {
    out << to_string(g.change) << ": " << names(g.sources) << " -> " << names(g.destinations) << "  "
        << ports_text(g) << "  (" << g.side << ")\n";
    out << "  witness: " << g.witness.text << '\n';
    out << "  base: " << rules_text(g.base_rules, "no policy") << '\n';
    out << "  head: " << rules_text(g.head_rules, "no policy") << '\n';
  }
  if (r.truncated) out << "(more changes exist than the report shows; narrow the inputs)\n";
  if (r.unknown) out << "warning: the solver gave up (timeout): the list may be incomplete\n";
  return out.str();
}

std::string render_markdown(const verifier::DiffResult& r) {
  std::ostringstream out;
  size_t allowed = 0, denied = 0;
  for (const auto& g : r.groups)
    (g.change == verifier::DiffGroup::Change::NewlyAllowed ||
             g.change == verifier::DiffGroup::Change::RequestNewlyAllowed
         ? allowed
         : denied)++;
  out << "### cnpc diff\n\n";
  if (r.groups.empty()) {
    out << "No flow changes its verdict.\n";
    return out.str();
  }
  out << "**" << allowed << "** group(s) newly allowed, **" << denied << "** newly denied.\n\n";
  out << "| change | from | to | ports | decided by (head) | witness |\n";
  out << "|---|---|---|---|---|---|\n";
  auto cell = [](std::string s) {
    for (size_t i = 0; (i = s.find('|', i)) != std::string::npos; i += 2) s.replace(i, 1, "\\|");
    return s;
  };
  for (const auto& g : r.groups)
    out << "| " << (g.change == verifier::DiffGroup::Change::NewlyAllowed ||
                            g.change == verifier::DiffGroup::Change::RequestNewlyAllowed
                        ? "🟢 "
                        : "🔴 ")
        << to_string(g.change) << " | " << cell(names(g.sources)) << " | "
        << cell(names(g.destinations)) << " | " << ports_text(g) << " | "
        << cell(rules_text(g.head_rules, "default")) << " | `" << cell(g.witness.text) << "` |\n";
  if (r.truncated) out << "\n_More changes exist than this report shows._\n";
  if (r.unknown) out << "\n⚠️ The solver timed out: this list may be incomplete.\n";
  return out.str();
}

json render_json(const verifier::DiffResult& r) {
  json groups = json::array();
  for (const auto& g : r.groups) {
    json ports = json::array();
    for (const auto& p : g.ports) ports.push_back({{"first", p.first}, {"last", p.last}});
    groups.push_back({{"change", to_string(g.change)},
                      {"side", g.side},
                      {"sources", g.sources},
                      {"destinations", g.destinations},
                      {"proto", to_string(g.proto)},
                      {"ports", ports},
                      {"witness", g.witness.text},
                      {"base_rules", origins_json(g.base_rules)},
                      {"head_rules", origins_json(g.head_rules)}});
  }
  return {{"groups", groups}, {"truncated", r.truncated}, {"unknown", r.unknown}};
}

}  // namespace

int run_diff(const DiffOptions& options) {
  ir::Diagnostics diags;
  LoadedInputs base = load_inputs(options.base, diags);
  InputOptions head_in = options.base;
  head_in.paths = options.head;
  head_in.inventory.clear();
  head_in.dns_cache.clear();
  ir::Diagnostics head_diags;
  LoadedInputs head = load_inputs(head_in, head_diags);
  for (const auto* d : {&diags, &head_diags})
    if (d->has_errors()) {
      print_input_diagnostics(*d);
      std::cerr << "cnpc: error: inputs have errors; no diff computed\n";
      return kExitUsage;
    }

  // Inventory: the given one, else one synthesized from both sides' selectors.
  ir::Inventory inventory = base.result.inventory;
  if (inventory.endpoints.empty()) {
    ir::PolicySet both = base.result.policies;
    both.rules.insert(both.rules.end(), head.result.policies.rules.begin(), head.result.policies.rules.end());
    both.specs.insert(both.specs.end(), head.result.policies.specs.begin(), head.result.policies.specs.end());
    inventory = ir::synthesize_inventory(both, options.base.cluster_name);
  }
  verifier::DiffInput in;
  in.base = &base.result.policies;
  in.head = &head.result.policies;
  in.inventory = &inventory;
  in.eval = base.eval;
  in.dns = base.dns;
  verifier::Options vopt;
  vopt.timeout_ms = options.timeout_ms;
  vopt.jobs = options.jobs;
  verifier::DiffResult r = verifier::diff(in, vopt);

  std::string text = options.format == "json"       ? render_json(r).dump(2) + "\n"
                     : options.format == "markdown" ? render_markdown(r)
                                                    : render_text(r);
  write_output(options.output_file, text);
  return options.fail_on_change && !r.groups.empty() ? kExitFindings : kExitClean;
}

}  // namespace cnpc::cli
