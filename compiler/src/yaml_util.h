// Small helpers over yaml-cpp shared by the frontend's passes.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <optional>
#include <string>

#include "cnpc/ir/ir.h"

namespace cnpc::frontend {

// yaml-cpp marks are 0-based; ours are 1-based.
inline ir::SourceLocation loc_of(const YAML::Node& node, const std::string& file) {
  if (!node.IsDefined()) return {file, 0, 0};
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

// The scalar text of a node, or nullopt when it is not a scalar.
inline std::optional<std::string> scalar_of(const YAML::Node& node) {
  if (!node.IsDefined() || !node.IsScalar()) return std::nullopt;
  return node.Scalar();
}

// Rules of the `cilium policy import` format are decoded by Go's
// encoding/json, which matches field names case-insensitively ("HTTP" for
// "http"). While a FoldCaseKeys is alive, member() does the same.
inline thread_local bool fold_case_keys = false;
struct FoldCaseKeys {
  bool saved = fold_case_keys;
  explicit FoldCaseKeys(bool on) { fold_case_keys = on; }
  ~FoldCaseKeys() { fold_case_keys = saved; }
};

inline bool key_equals(const std::string& a, const std::string& b) {
  if (!fold_case_keys) return a == b;
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// A map member without yaml-cpp's habit of inserting on operator[] for
// non-const nodes; undefined when `node` is not a map or has no such key.
inline YAML::Node member(const YAML::Node& node, const std::string& key) {
  if (!node.IsDefined() || !node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = node.begin(); it != node.end(); ++it)
    if (it->first.IsScalar() && key_equals(it->first.Scalar(), key)) return it->second;
  return YAML::Node(YAML::NodeType::Undefined);
}

// Where a map key sits (for "unknown field" carets), or the map itself.
inline ir::SourceLocation key_loc(const YAML::Node& map, const std::string& key,
                                  const std::string& file) {
  if (map.IsDefined() && map.IsMap())
    for (auto it = map.begin(); it != map.end(); ++it)
      if (it->first.IsScalar() && key_equals(it->first.Scalar(), key)) return loc_of(it->first, file);
  return loc_of(map, file);
}

// YAML null (`~`, `null`, empty value) counts as absent, as in Kubernetes.
inline bool present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

}  // namespace cnpc::frontend
