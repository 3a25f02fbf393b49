// Diagnostics as text (clang style), JSON and SARIF 2.1.0.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "cli.h"

namespace cnpc::cli {

using nlohmann::json;

std::string render_diagnostics_text(const ir::Diagnostics& diags, bool color) {
  std::string out;
  for (const auto& d : diags.all()) out += ir::render_text(diags, d, color);
  size_t errors = diags.count(ir::Severity::Error), warnings = diags.count(ir::Severity::Warning);
  auto plural = [](size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
  };
  if (errors || warnings) out += plural(errors, "error") + ", " + plural(warnings, "warning") + " generated.\n";
  return out;
}

std::string render_diagnostics_json(const ir::Diagnostics& diags) {
  json arr = json::array();
  for (const auto& d : diags.all()) {
    json j = {{"check", d.check},
              {"code", d.code},
              {"severity", std::string(ir::to_string(d.severity))},
              {"message", d.message},
              {"file", d.loc.file},
              {"line", d.loc.line},
              {"column", d.loc.column}};
    if (!d.hint.empty()) j["hint"] = d.hint;
    if (!d.notes.empty()) {
      json notes = json::array();
      for (const auto& [loc, text] : d.notes)
        notes.push_back({{"message", text}, {"file", loc.file}, {"line", loc.line}, {"column", loc.column}});
      j["notes"] = notes;
    }
    arr.push_back(std::move(j));
  }
  return arr.dump(2) + "\n";
}

namespace {
std::string sarif_level(ir::Severity s) { return std::string(ir::to_string(s)); }

// SARIF wants repository-relative URIs; keep relative paths as they are.
std::string artifact_uri(const std::string& file) {
  std::string uri = std::filesystem::path(file).lexically_normal().generic_string();
  if (uri.rfind("./", 0) == 0) uri = uri.substr(2);
  return uri;
}

json region(const ir::SourceLocation& loc) {
  json r = {{"startLine", std::max(loc.line, 1)}};
  if (loc.column > 0) r["startColumn"] = loc.column;
  return r;
}
}  // namespace

std::string render_diagnostics_sarif(const ir::Diagnostics& diags) {
  // One reporting descriptor per check that has results (ids stay stable:
  // they are the CNPC codes).
  std::set<std::string> used;
  for (const auto& d : diags.all()) used.insert(d.check);
  json rules = json::array();
  std::map<std::string, size_t> rule_index;
  for (const auto& c : ir::all_checks()) {
    if (!used.count(std::string(c.check))) continue;
    rule_index[std::string(c.check)] = rules.size();
    rules.push_back({{"id", std::string(c.code)},
                     {"name", std::string(c.check)},
                     {"shortDescription", {{"text", std::string(c.summary)}}},
                     {"fullDescription", {{"text", std::string(c.summary)}}},
                     {"help", {{"text", std::string(c.summary) + " (cnpc check '" + std::string(c.check) + "')"}}},
                     {"defaultConfiguration", {{"level", sarif_level(c.severity)}}},
                     {"properties", {{"tags", {"cilium", "network-policy"}}}}});
  }
  json results = json::array();
  for (const auto& d : diags.all()) {
    std::string text = d.message;
    if (!d.hint.empty()) text += " (" + d.hint + ")";
    json result = {{"ruleId", d.code},
                   {"ruleIndex", rule_index[d.check]},
                   {"level", sarif_level(d.severity)},
                   {"message", {{"text", text}}}};
    if (!d.loc.file.empty()) {
      result["locations"] = json::array({{{"physicalLocation",
                                           {{"artifactLocation", {{"uri", artifact_uri(d.loc.file)}}},
                                            {"region", region(d.loc)}}}}});
    }
    if (!d.notes.empty()) {
      json related = json::array();
      int id = 1;
      for (const auto& [loc, note] : d.notes) {
        if (loc.file.empty()) continue;
        related.push_back({{"id", id++},
                           {"message", {{"text", note}}},
                           {"physicalLocation",
                            {{"artifactLocation", {{"uri", artifact_uri(loc.file)}}},
                             {"region", region(loc)}}}});
      }
      if (!related.empty()) result["relatedLocations"] = related;
    }
    results.push_back(std::move(result));
  }
  json sarif = {
      {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
      {"version", "2.1.0"},
      {"runs",
       json::array({{{"tool",
                      {{"driver",
                        {{"name", "cnpc"},
                         {"semanticVersion", CNPC_VERSION},
                         {"rules", rules}}}}},
                     {"results", results}}})}};
  return sarif.dump(2) + "\n";
}

}  // namespace cnpc::cli
