#include "identity.h"

#include <map>
#include <tuple>

namespace cnpc::ir::detail {

SubjectKind subject_kind(const Endpoint& e) {
  switch (e.kind) {
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
                            const SelectorTable& selectors) {
  words_ = (selectors.size() + 63) / 64;
  if (words_ == 0) words_ = 1;

  // Identities: (subject kind, labels, node labels).
  using IdentityKey = std::tuple<SubjectKind, const LabelSet*, const LabelSet*>;
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
    IdentityKey key{subject_kind(e), &e.labels, &e.node_labels};
    auto [it, inserted] = identity_ids.try_emplace(key, uint32_t(identity_rep.size()));
    if (inserted) identity_rep.push_back(i);
    endpoint_identity[i] = it->second;
  }
  identity_count_ = identity_rep.size();

  // Classes: identities with the same kind and the same selector bitset.
  std::map<std::pair<SubjectKind, std::vector<uint64_t>>, uint32_t> class_ids;
  std::vector<uint32_t> identity_class(identity_rep.size());
  bits_.clear();
  class_kind_.clear();
  representative_.clear();
  std::vector<uint64_t> bits(words_);
  for (uint32_t id = 0; id < identity_rep.size(); ++id) {
    const Endpoint& e = endpoints[identity_rep[id]];
    std::fill(bits.begin(), bits.end(), 0);
    for (uint32_t s = 0; s < selectors.size(); ++s) {
      const SelectorKey& key = selectors.key(s);
      const LabelSet& labels = key.on_node_labels ? e.node_labels : e.labels;
      if (key.selector.matches(labels)) bits[s / 64] |= uint64_t(1) << (s % 64);
    }
    auto [it, inserted] =
        class_ids.try_emplace({subject_kind(e), bits}, uint32_t(class_kind_.size()));
    if (inserted) {
      class_kind_.push_back(subject_kind(e));
      representative_.push_back(identity_rep[id]);
      bits_.insert(bits_.end(), bits.begin(), bits.end());
    }
    identity_class[id] = it->second;
  }
  endpoint_class_.resize(endpoints.size());
  for (uint32_t i = 0; i < endpoints.size(); ++i)
    endpoint_class_[i] = identity_class[endpoint_identity[i]];
}

}  // namespace cnpc::ir::detail
