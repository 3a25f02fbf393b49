// A deterministic synthetic cluster for the benchmarks: namespaces, pods with
// realistic labels and CiliumNetworkPolicy-like policies.
//
// The cluster is generated once as a small model and emitted two ways:
//   - directly as IR (PolicySet + Inventory), lowered the way the frontend
//     lowers a CNP (namespace-scoped subjects and peers, "any" label source),
//     so evaluator benchmarks do not pay for YAML parsing;
//   - as YAML manifests (Namespaces, Pods, CiliumNetworkPolicies), to time the
//     frontend on a realistic input and to cross-check the direct lowering.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"
#include "cnpc/ir/ir.h"

namespace cnpc::bench {

struct ClusterShape {
  int namespaces = 20;
  int pods = 5000;
  int policies = 1000;
  uint64_t seed = 0xC111A5EEDull;
};

struct SyntheticCluster {
  ir::PolicySet policies;
  ir::Inventory inventory;
  std::string yaml;  // empty unless requested
  // Shape statistics of the generated policies.
  size_t deny_rules = 0, l7_rules = 0, cidr_peers = 0, egress_rules = 0, port_ranges = 0;
};

SyntheticCluster generate_cluster(const ClusterShape& shape, bool with_yaml);

// Random pod-to-pod flows (half within one namespace), TCP/UDP, with ports
// drawn mostly from the ports the policies use. Endpoint ids index
// inventory.endpoints (the Evaluator keeps that order).
std::vector<ir::Flow> generate_flows(const ir::Inventory& inventory, size_t count, uint64_t seed);

}  // namespace cnpc::bench
