// The frontend: YAML/JSON manifests in, IR and diagnostics out.
//
// It is the only stage that links yaml-cpp. Every lowered value carries the
// file:line:col it came from; anything Cilium (or its CRD schema) would
// reject is reported with Cilium's own message and is not lowered.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/ir.h"

namespace cnpc::frontend {

// Cilium agent settings that change what validation accepts.
struct LoadOptions {
  bool enable_l7_proxy = true;              // --enable-l7-proxy
  bool enable_icmp_rules = true;            // --enable-icmp-rules
  bool enable_node_selector_labels = false; // --enable-node-selector-labels
  std::string cluster_name = "default";     // --cluster-name (the `cluster` entity)
};

struct LoadResult {
  ir::PolicySet policies;
  ir::Inventory inventory;
  size_t files = 0;
  size_t policy_objects = 0;     // CNP/CCNP/KNP objects read (valid or not)
  size_t rejected_objects = 0;   // objects with errors, not lowered
  // The loader's: inventory.endpoints by name, workload and kind, so a
  // duplicate is found without a scan (quadratic at 20,000 pods).
  std::unordered_map<std::string, size_t> endpoint_index;
};

// Reads every file (directories recursively: *.yaml, *.yml, *.json) and
// appends policies and inventory objects (Namespace, Pod, workloads, Node)
// to `out`. Errors go to `diags`; a bad object is skipped, never guessed.
void load_paths(std::span<const std::string> paths, const LoadOptions& options,
                LoadResult& out, ir::Diagnostics& diags);

// Parses one in-memory document set (used by tests and the fuzzer).
void load_text(const std::string& file_name, const std::string& text,
               const LoadOptions& options, LoadResult& out, ir::Diagnostics& diags);

// --dns-cache FILE: a YAML list of {endpoint: NS/POD, name, ips: [...]}.
std::vector<ir::DnsCacheEntry> load_dns_cache(const std::string& path, ir::Diagnostics& diags);

// One flow of a --flows file (or expectations file), endpoints still as written.
struct FlowQuery {
  std::string name;  // optional label for reports
  std::string src, dst;  // NS/POD, cidr:IP or entity:NAME
  std::string proto = "TCP";
  std::optional<int> port;
  std::optional<int> icmp_type;
  bool has_http = false;
  std::string http_method, http_path, http_host;
  std::vector<std::pair<std::string, std::string>> http_headers;
  std::optional<std::string> dns_name;
  // Optional expectations: "allowed" | "denied" (| "audit").
  std::optional<std::string> expect_verdict, expect_l7_verdict;
  ir::SourceLocation loc;
};
std::vector<FlowQuery> load_flow_queries(const std::string& path, ir::Diagnostics& diags);

}  // namespace cnpc::frontend
