// Lowering of one policy object to IR rules. Private to the frontend; the
// input has already passed schema and sanitize checks.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <unordered_map>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/ir.h"

namespace cnpc::frontend {

struct ObjectContext {
  std::string file;
  std::string kind;        // CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy, CiliumRule
  std::string namespace_;  // policy namespace (namespaced kinds)
  std::string name;
  const LoadOptions* options = nullptr;
};

void lower_cilium_object(const YAML::Node& object, const ObjectContext& ctx, ir::PolicySet& out,
                         ir::Diagnostics& diags);
// A single rule of the `cilium policy import` format (no namespace scoping).
void lower_cilium_rule(const YAML::Node& rule, const std::string& path, const ObjectContext& ctx,
                       ir::PolicySet& out, ir::Diagnostics& diags);
void lower_k8s_object(const YAML::Node& object, const ObjectContext& ctx, ir::PolicySet& out,
                      ir::Diagnostics& diags);

// Inventory objects: Namespace, Pod, workloads, Node.
bool is_inventory_kind(const std::string& kind);
// `index` maps inventory.endpoints by name, workload and kind (duplicates).
void load_inventory_object(const YAML::Node& object, const std::string& kind,
                           const std::string& file, const LoadOptions& options,
                           ir::Inventory& out, std::unordered_map<std::string, size_t>& index,
                           ir::Diagnostics& diags);
// Recomputes namespace-derived identity labels once all namespaces are known.
void finalize_inventory(ir::Inventory& inventory);

// Shared by the lowerings: a k8s label selector with Cilium's source prefixes.
// `default_source` is the source for keys without one ("any" for Cilium
// policies, "k8s" for NetworkPolicy), `key_prefix` is prepended to keys
// (namespace selectors of NetworkPolicy).
ir::Selector lower_selector(const YAML::Node& node, const std::string& default_source,
                            const std::string& key_prefix = "");

inline constexpr const char* kNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kNamespaceLabelsPrefix = "io.cilium.k8s.namespace.labels.";
inline constexpr const char* kServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount";
inline constexpr const char* kClusterLabel = "io.cilium.k8s.policy.cluster";

}  // namespace cnpc::frontend
