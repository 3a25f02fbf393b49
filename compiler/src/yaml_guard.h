// A guard run before YAML::LoadAll: one event-only pass over the text.
//  - yaml-cpp 0.7's LoadAll never returns on a stray ',' after a top-level
//    flow node ("{},\n"): HandleNextDocument keeps returning true without
//    consuming input and LoadAll appends null documents until memory runs
//    out (jbeder/yaml-cpp#1040, fixed upstream by PR #1319, after 0.8.0).
//    A document that starts where the previous one started means no progress.
//  - Alias expansion: yaml-cpp shares aliased nodes, but the frontend walks
//    them once per reference, so a 1-2 KB manifest of nested aliases costs
//    minutes and gigabytes (a "billion laughs"). kubectl's YAML decoder
//    (go-yaml v2, via sigs.k8s.io/yaml) rejects such documents with
//    "document contains excessive aliasing"; the same rule is applied here
//    per document.
//  - The depth counter makes a nesting limit explicit (yaml-cpp 0.7 has its
//    own DeepRecursion guard at 2000 levels; a lower limit keeps stack use
//    small under sanitizers and in threads with small stacks).
#pragma once
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <map>
#include <optional>
#include <vector>
#include <sstream>
#include <string>

namespace cnpc::frontend::yaml_guard {

struct Problem {
  YAML::Mark mark;
  std::string message;
};

// go-yaml v2 (decode.go): the share of decoded nodes that may come from
// alias expansion, by document size in decoded nodes.
inline double allowed_alias_ratio(double decode_count) {
  constexpr double low = 400000, high = 4000000;
  if (decode_count <= low) return 0.99;
  if (decode_count >= high) return 0.10;
  return 0.99 - 0.89 * ((decode_count - low) / (high - low));
}

class Checker : public YAML::EventHandler {
 public:
  explicit Checker(int max_depth) : max_(max_depth) {}
  std::optional<YAML::Mark> doc_start;

  void OnDocumentStart(const YAML::Mark& m) override {
    doc_start = m;
    decode_ = alias_ = 0;
    sizes_.clear();
    open_.clear();
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t a) override { leaf(m, a); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                const std::string&) override { leaf(m, a); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t a) override {
    auto it = sizes_.find(a);
    const double size = it == sizes_.end() ? 0 : it->second;
    decode_ += 1 + size;
    alias_ += size;
    check(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                       YAML::EmitterStyle::value) override { open(m, a); }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t a,
                  YAML::EmitterStyle::value) override { open(m, a); }
  void OnMapEnd() override { close(); }

 private:
  void leaf(const YAML::Mark& m, YAML::anchor_t a) {
    decode_ += 1;
    if (a) sizes_[a] = 1;
    check(m);
  }
  void open(const YAML::Mark& m, YAML::anchor_t a) {
    if (int(open_.size()) >= max_)
      throw YAML::ParserException(m, "nesting deeper than " + std::to_string(max_) + " levels");
    open_.push_back({a, decode_});
    decode_ += 1;
    check(m);
  }
  void close() {
    if (open_.empty()) return;
    auto [a, start] = open_.back();
    open_.pop_back();
    if (a) sizes_[a] = decode_ - start;  // expanded size of the anchored subtree
  }
  void check(const YAML::Mark& m) {
    if (alias_ > 100 && decode_ > 1000 && alias_ / decode_ > allowed_alias_ratio(decode_))
      throw Excessive{m};
  }

 public:
  struct Excessive {
    YAML::Mark mark;
  };

 private:
  int max_;
  double decode_ = 0, alias_ = 0;
  std::map<YAML::anchor_t, double> sizes_;
  std::vector<std::pair<YAML::anchor_t, double>> open_;
};

// nullopt when YAML::LoadAll(text) is safe to call (it may still throw a
// YAML::Exception for ordinary syntax errors, as today).
inline std::optional<Problem> precheck(const std::string& text, int max_depth = 256) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  Checker handler(max_depth);
  std::optional<int> last_pos;
  try {
    for (;;) {
      handler.doc_start.reset();
      if (!parser.HandleNextDocument(handler)) break;
      const int pos = handler.doc_start ? handler.doc_start->pos : -1;
      if (last_pos && pos <= *last_pos)
        return Problem{handler.doc_start.value_or(YAML::Mark()),
                       "unexpected content at document level (yaml-cpp cannot make progress)"};
      last_pos = pos;
    }
  } catch (const Checker::Excessive& e) {
    return Problem{e.mark, "document contains excessive aliasing"};
  } catch (const YAML::Exception&) {
    return std::nullopt;  // LoadAll reports the same syntax error
  }
  return std::nullopt;
}

}  // namespace cnpc::frontend::yaml_guard
