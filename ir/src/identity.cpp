#include "identity.h"

#include <map>
#include <tuple>

namespace cnpc::ir::detail {

SubjectKind subject_kind(Endpoint::Kind kind) {
  switch (kind) {
    case Endpoint::Kind::Pod: return SubjectKind::Pod;
    case Endpoint::Kind::Host:
    case Endpoint::Kind::RemoteNode: return SubjectKind::Node;
    default: return SubjectKind::None;
  }
}

uint32_t SelectorTable::intern(bool on_node_labels, const Selector& s) {
  SelectorKey key{on_node_labels, s};
  auto [it, inserted] = ids_.try_emplace(key, uint32_t(keys_.size()));
  if (inserted) keys_.push_back(std::move(key));
  return it->second;
}

void IdentityClasses::build(const std::vector<Endpoint>& endpoints,
                            const SelectorTable& selectors,
                            const std::function<std::string(const Endpoint&)>& refine) {
  words_ = (selectors.size() + 63) / 64;
  if (words_ == 0) words_ = 1;

  // Identities: (endpoint kind, labels, node labels).
  using IdentityKey = std::tuple<Endpoint::Kind, const LabelSet*, const LabelSet*>;
  struct KeyLess {
    bool operator()(const IdentityKey& a, const IdentityKey& b) const {
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
      if (*std::get<1>(a) != *std::get<1>(b)) return *std::get<1>(a) < *std::get<1>(b);
      return *std::get<2>(a) < *std::get<2>(b);
    }
  };
  std::map<IdentityKey, uint32_t, KeyLess> identity_ids;
  std::vector<uint32_t> endpoint_identity(endpoints.size());
  std::vector<uint32_t> identity_rep;
  for (uint32_t i = 0; i < endpoints.size(); ++i) {
    const auto& e = endpoints[i];
    IdentityKey key{e.kind, &e.labels, &e.node_labels};
    auto [it, inserted] = identity_ids.try_emplace(key, uint32_t(identity_rep.size()));
    if (inserted) identity_rep.push_back(i);
    endpoint_identity[i] = it->second;
  }
  identity_count_ = identity_rep.size();

  // Selector bitset per identity.
  std::vector<std::vector<uint64_t>> identity_bits(identity_rep.size(),
                                                   std::vector<uint64_t>(words_));
  for (uint32_t id = 0; id < identity_rep.size(); ++id) {
    const Endpoint& e = endpoints[identity_rep[id]];
    auto& bits = identity_bits[id];
    for (uint32_t s = 0; s < selectors.size(); ++s) {
      const SelectorKey& key = selectors.key(s);
      const LabelSet& labels = key.on_node_labels ? e.node_labels : e.labels;
      if (key.selector.matches(labels)) bits[s / 64] |= uint64_t(1) << (s % 64);
    }
  }

  // Classes: endpoints of the same kind with the same selector bitset and
  // the same refinement.
  using ClassKey = std::tuple<Endpoint::Kind, const std::vector<uint64_t>*, std::string>;
  struct ClassLess {
    bool operator()(const ClassKey& a, const ClassKey& b) const {
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
      if (*std::get<1>(a) != *std::get<1>(b)) return *std::get<1>(a) < *std::get<1>(b);
      return std::get<2>(a) < std::get<2>(b);
    }
  };
  std::map<ClassKey, uint32_t, ClassLess> class_ids;
  bits_.clear();
  endpoint_kind_.clear();
  representative_.clear();
  endpoint_class_.resize(endpoints.size());
  for (uint32_t i = 0; i < endpoints.size(); ++i) {
    const Endpoint& e = endpoints[i];
    const auto& bits = identity_bits[endpoint_identity[i]];
    auto [it, inserted] =
        class_ids.try_emplace({e.kind, &bits, refine(e)}, uint32_t(endpoint_kind_.size()));
    if (inserted) {
      endpoint_kind_.push_back(e.kind);
      representative_.push_back(i);
      bits_.insert(bits_.end(), bits.begin(), bits.end());
    }
    endpoint_class_[i] = it->second;
  }
}

}  // namespace cnpc::ir::detail
