// One diagnostics engine for every stage: a finding has a stable code, a
// kebab-case check name, a severity and a source location. Rendering to
// text, JSON and SARIF happens in the driver from this one list.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cnpc/ir/ir.h"

namespace cnpc::ir {

enum class Severity { Note = 0, Warning = 1, Error = 2 };
std::string_view to_string(Severity s);

// The registry of checks. Codes never change meaning once published.
struct CheckInfo {
  std::string_view code;   // CNPC0101
  std::string_view check;  // unknown-field
  Severity severity;
  std::string_view summary;
};
std::span<const CheckInfo> all_checks();
const CheckInfo& check_info(std::string_view check);  // aborts on an unknown name

struct Diagnostic {
  Severity severity = Severity::Error;
  std::string check;  // kebab-case name from the registry
  std::string code;   // CNPC0xxx
  std::string message;
  SourceLocation loc;
  std::vector<std::pair<SourceLocation, std::string>> notes;
  std::string hint;  // e.g. "did you mean 'fromEndpoints'?"
};

class Diagnostics {
 public:
  // Records a finding of a registered check, with the check's default severity.
  Diagnostic& report(std::string_view check, SourceLocation loc, std::string message);
  // Same, with an explicit severity.
  Diagnostic& report(std::string_view check, Severity severity, SourceLocation loc,
                     std::string message);

  // Source text for caret rendering.
  void add_source(const std::string& file, std::string text);
  const std::string* source_line(const std::string& file, int line) const;

  const std::vector<Diagnostic>& all() const { return diags_; }
  size_t count(Severity s) const;
  bool has_errors() const { return count(Severity::Error) > 0; }
  // Sort by file, line, column, severity (stable goldens).
  void sort();
  // Errors recorded since a checkpoint (used to skip lowering a bad object).
  size_t checkpoint() const { return diags_.size(); }
  bool errors_since(size_t checkpoint) const;

 private:
  std::vector<Diagnostic> diags_;
  std::map<std::string, std::vector<std::string>> sources_;
};

// Clang-style rendering: "file:line:col: error: message [CNPC0101]" plus the
// source line and a caret. `color` adds ANSI colours.
std::string render_text(const Diagnostics& diags, const Diagnostic& d, bool color);

// Levenshtein distance, for "did you mean" suggestions.
size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small distance, or empty.
std::string closest_match(std::string_view word, std::span<const std::string> candidates);

}  // namespace cnpc::ir
