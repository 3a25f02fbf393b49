// Identity classes: the evaluator's precomputed view of "which selectors
// match which endpoint". Private to ir/.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cnpc/ir/ir.h"

namespace cnpc::ir::detail {

// A selector evaluated either on identity labels or on a node's labels.
struct SelectorKey {
  bool on_node_labels = false;
  Selector selector;
  auto operator<=>(const SelectorKey&) const = default;
  bool operator==(const SelectorKey&) const = default;
};

// Which kind of subject an endpoint can be: pods take endpointSelector
// rules, nodes take nodeSelector rules, everything else takes none.
enum class SubjectKind : uint8_t { Pod = 0, Node = 1, None = 2 };
SubjectKind subject_kind(Endpoint::Kind kind);
inline SubjectKind subject_kind(const Endpoint& e) { return subject_kind(e.kind); }

class SelectorTable {
 public:
  uint32_t intern(bool on_node_labels, const Selector& s);
  size_t size() const { return keys_.size(); }
  const SelectorKey& key(uint32_t id) const { return keys_[id]; }

 private:
  std::map<SelectorKey, uint32_t> ids_;
  std::vector<SelectorKey> keys_;
};

// Endpoints with equal labels share an identity; identities that every
// selector treats alike (and that are the same kind of subject) share a class.
class IdentityClasses {
 public:
  // `refine(endpoint)` adds facts beyond labels that policies can observe
  // (named container ports, DNS cache entries); endpoints that differ in it
  // never share a class.
  void build(const std::vector<Endpoint>& endpoints, const SelectorTable& selectors,
             const std::function<std::string(const Endpoint&)>& refine);

  uint32_t class_of(uint32_t endpoint) const { return endpoint_class_[endpoint]; }
  bool matches(uint32_t cls, uint32_t selector) const {
    return (bits_[size_t(cls) * words_ + selector / 64] >> (selector % 64)) & 1u;
  }
  size_t identity_count() const { return identity_count_; }
  size_t class_count() const { return endpoint_kind_.size(); }
  SubjectKind kind(uint32_t cls) const { return subject_kind(endpoint_kind_[cls]); }
  Endpoint::Kind endpoint_kind(uint32_t cls) const { return endpoint_kind_[cls]; }
  // One endpoint of the class, to read labels from.
  uint32_t representative(uint32_t cls) const { return representative_[cls]; }

 private:
  size_t words_ = 0;
  size_t identity_count_ = 0;
  std::vector<uint64_t> bits_;  // class-major bitsets
  std::vector<uint32_t> endpoint_class_;
  std::vector<Endpoint::Kind> endpoint_kind_;
  std::vector<uint32_t> representative_;
};

}  // namespace cnpc::ir::detail
