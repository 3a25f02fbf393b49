#include "cnpc/ir/diagnostics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace cnpc::ir {

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::Note: return "note";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "error";
}

namespace {
// CNPC00xx input, CNPC01xx schema, CNPC02xx Cilium validation,
// CNPC03xx verifier findings, CNPC04xx codegen (reserved).
constexpr CheckInfo kChecks[] = {
    {"CNPC0001", "yaml-syntax", Severity::Error, "The file is not valid YAML or JSON."},
    {"CNPC0002", "io-error", Severity::Error, "A file or directory could not be read."},
    {"CNPC0003", "unsupported-kind", Severity::Warning,
     "An object of a cilium.io or networking kind that cnpc does not evaluate."},
    {"CNPC0004", "invalid-inventory", Severity::Error,
     "An inventory object (Namespace, Pod, workload, Node) is malformed."},
    {"CNPC0005", "duplicate-object", Severity::Warning,
     "Two objects share kind, namespace and name; the later one wins, as with kubectl apply."},
    {"CNPC0101", "unknown-field", Severity::Warning,
     "A field the CRD schema does not define; the API server prunes it, so it has no effect."},
    {"CNPC0102", "invalid-type", Severity::Error, "A value has the wrong type for its field."},
    {"CNPC0103", "invalid-enum", Severity::Error, "A value is not one of the allowed values."},
    {"CNPC0104", "invalid-pattern", Severity::Error,
     "A string does not match the pattern the CRD schema requires."},
    {"CNPC0105", "invalid-range", Severity::Error,
     "A number or list is outside the bounds the CRD schema allows."},
    {"CNPC0106", "missing-field", Severity::Error,
     "A required field is missing, or none/several of mutually exclusive fields are set."},
    {"CNPC0201", "invalid-policy", Severity::Error,
     "The policy object is rejected by Cilium (name, empty spec, nodeSelector misuse)."},
    {"CNPC0202", "invalid-selector", Severity::Error, "A label selector is not valid."},
    {"CNPC0203", "invalid-peer", Severity::Error,
     "An ingress or egress entry combines peer kinds Cilium does not support together."},
    {"CNPC0204", "invalid-cidr", Severity::Error, "A CIDR or CIDR rule is not valid."},
    {"CNPC0205", "invalid-port", Severity::Error, "A port, port range or protocol is not valid."},
    {"CNPC0206", "invalid-l7", Severity::Error,
     "L7 rules are used where Cilium does not allow them."},
    {"CNPC0207", "invalid-http", Severity::Error,
     "An HTTP rule has a method, path or host that is not a valid RE2 regex."},
    {"CNPC0208", "invalid-dns", Severity::Error, "A DNS or FQDN name or pattern is not valid."},
    {"CNPC0209", "invalid-kafka", Severity::Error, "A Kafka rule is not valid."},
    {"CNPC0210", "invalid-icmp", Severity::Error, "An ICMP rule is not valid."},
    {"CNPC0211", "invalid-entity", Severity::Error, "An entity name is not supported."},
    {"CNPC0212", "unsupported-feature", Severity::Warning,
     "A feature cnpc cannot resolve offline (toServices, toGroups, ...); it matches nothing here."},
    {"CNPC0213", "namespace-override", Severity::Warning,
     "A CiliumNetworkPolicy subject names another namespace; Cilium replaces it with the policy's."},
    {"CNPC0214", "agent-flag-required", Severity::Warning,
     "The rule needs a Cilium agent flag that is off by default."},
    {"CNPC0301", "shadowed-allow", Severity::Warning,
     "Every flow this allow rule admits is denied by deny rules: the allow has no effect."},
    {"CNPC0302", "redundant-rule", Severity::Warning,
     "Removing this rule changes no verdict: other rules already allow what it allows."},
    {"CNPC0303", "l7-voided", Severity::Warning,
     "These L7 rules are void for some peers: an allow without L7 on the same port admits every request."},
    {"CNPC0304", "l7-parser-conflict", Severity::Error,
     "Two rules put different L7 parsers on one port of one endpoint; Cilium fails to resolve its policy."},
    {"CNPC0305", "empty-selector", Severity::Warning,
     "A subject or peer selector matches no endpoint of the inventory."},
    {"CNPC0306", "dns-blocked", Severity::Warning,
     "Pods in egress default deny cannot reach kube-dns on port 53: name resolution fails."},
    {"CNPC0307", "isolated-workload", Severity::Warning,
     "Default deny without an allow that can match: nothing reaches the workload, or it reaches nothing."},
    {"CNPC0308", "ineffective-deny", Severity::Warning,
     "This deny rule never changes a verdict: what it matches is denied or never allowed anyway."},
    {"CNPC0309", "solver-unknown", Severity::Note,
     "The solver could not decide a check within the timeout; nothing is claimed about it."},
    {"CNPC0310", "l7-untranslatable", Severity::Note,
     "An L7 regex uses a construct the verifier cannot translate to Z3; L7 checks skip it."},
    {"CNPC0401", "codegen-failed", Severity::Error,
     "The bundle could not be generated or compiled; any previous bundle is left untouched."},
};
}  // namespace

std::span<const CheckInfo> all_checks() { return kChecks; }

const CheckInfo& check_info(std::string_view check) {
  for (const auto& c : kChecks)
    if (c.check == check) return c;
  std::fprintf(stderr, "cnpc: internal error: unknown check '%.*s'\n", int(check.size()),
               check.data());
  std::abort();
}

Diagnostic& Diagnostics::report(std::string_view check, SourceLocation loc,
                                std::string message) {
  return report(check, check_info(check).severity, std::move(loc), std::move(message));
}

Diagnostic& Diagnostics::report(std::string_view check, Severity severity, SourceLocation loc,
                                std::string message) {
  const auto& info = check_info(check);
  Diagnostic d;
  d.severity = severity;
  d.check = std::string(info.check);
  d.code = std::string(info.code);
  d.message = std::move(message);
  d.loc = std::move(loc);
  diags_.push_back(std::move(d));
  return diags_.back();
}

void Diagnostics::add_source(const std::string& file, std::string text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  sources_[file] = std::move(lines);
}

const std::string* Diagnostics::source_line(const std::string& file, int line) const {
  auto it = sources_.find(file);
  if (it == sources_.end() || line < 1 || size_t(line) > it->second.size()) return nullptr;
  return &it->second[size_t(line) - 1];
}

size_t Diagnostics::count(Severity s) const {
  return size_t(std::count_if(diags_.begin(), diags_.end(),
                              [s](const Diagnostic& d) { return d.severity == s; }));
}

void Diagnostics::sort() {
  std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.loc != b.loc) return a.loc < b.loc;
    return a.severity > b.severity;
  });
}

bool Diagnostics::errors_since(size_t checkpoint) const {
  for (size_t i = checkpoint; i < diags_.size(); ++i)
    if (diags_[i].severity == Severity::Error) return true;
  return false;
}

namespace {
const char* severity_color(Severity s) {
  switch (s) {
    case Severity::Error: return "\033[1;31m";
    case Severity::Warning: return "\033[1;35m";
    case Severity::Note: return "\033[1;36m";
  }
  return "";
}

void render_location(std::ostringstream& out, const SourceLocation& loc) {
  if (loc.file.empty()) {
    out << "cnpc";
    return;
  }
  out << loc.file;
  if (loc.line > 0) out << ':' << loc.line;
  if (loc.line > 0 && loc.column > 0) out << ':' << loc.column;
}

void render_caret(std::ostringstream& out, const Diagnostics& diags, const SourceLocation& loc,
                  bool color) {
  const std::string* src = diags.source_line(loc.file, loc.line);
  if (!src) return;
  out << *src << '\n';
  std::string pad;
  for (int i = 1; i < loc.column && size_t(i - 1) < src->size(); ++i)
    pad += ((*src)[size_t(i - 1)] == '\t') ? '\t' : ' ';
  out << pad << (color ? "\033[1;32m^\033[0m" : "^") << '\n';
}
}  // namespace

std::string render_text(const Diagnostics& diags, const Diagnostic& d, bool color) {
  std::ostringstream out;
  if (color) out << "\033[1m";
  render_location(out, d.loc);
  out << ": ";
  if (color) out << severity_color(d.severity);
  out << to_string(d.severity) << ": ";
  if (color) out << "\033[0m\033[1m";
  out << d.message << " [" << d.code << ']';
  if (color) out << "\033[0m";
  out << '\n';
  render_caret(out, diags, d.loc, color);
  if (!d.hint.empty()) {
    render_location(out, d.loc);
    out << ": " << (color ? "\033[1;36mnote:\033[0m " : "note: ") << d.hint << '\n';
  }
  for (const auto& [loc, text] : d.notes) {
    render_location(out, loc);
    out << ": " << (color ? "\033[1;36mnote:\033[0m " : "note: ") << text << '\n';
    render_caret(out, diags, loc, color);
  }
  return out.str();
}

// Optimal string alignment distance: a swapped pair of letters ("form" for
// "from") is one typo, not two.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string closest_match(std::string_view word, std::span<const std::string> candidates) {
  std::string best;
  // Within a third of the word (at least one edit): "ICMP" must not suggest "TCP".
  size_t best_dist = std::max<size_t>(1, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    // Case-only differences are the most likely typo of all.
    bool same_ci = word.size() == c.size() &&
                   std::equal(word.begin(), word.end(), c.begin(), [](char x, char y) {
                     return std::tolower(static_cast<unsigned char>(x)) ==
                            std::tolower(static_cast<unsigned char>(y));
                   });
    if (same_ci) d = 0;
    if (d < best_dist) {
      best_dist = d;
      best = c;
    }
  }
  return best;
}

}  // namespace cnpc::ir
