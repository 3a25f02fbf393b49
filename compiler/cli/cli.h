// The cnpc driver: thin subcommands over the stage libraries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"
#include "hubble_flow.h"  // kDefaultFlowLog, shared with cnpc-agent

namespace cnpc::cli {

// Exit codes are API (docs/DESIGN.md).
inline constexpr int kExitClean = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 3;

// Inputs and agent settings shared by lint and query.
struct InputOptions {
  std::vector<std::string> paths;
  std::vector<std::string> inventory;
  std::string policy_enforcement = "default";
  bool policy_audit_mode = false;
  std::string allow_localhost = "always";
  std::string dns_cache;
  std::string cluster_name = "default";
  bool enable_l7_proxy = true;
  bool enable_icmp_rules = true;
  bool enable_node_selector_labels = false;
};

struct LoadedInputs {
  frontend::LoadResult result;
  ir::EvalOptions eval;
  std::vector<ir::DnsCacheEntry> dns;
};

// Loads policies, inventory and the DNS cache; diagnostics go to `diags`.
LoadedInputs load_inputs(const InputOptions& in, ir::Diagnostics& diags);

struct LintOptions {
  InputOptions input;
  std::string format = "text";  // text | json | sarif
  std::string fail_on = "error";
  std::string output_file;      // written atomically; stdout when empty
  bool dump_ir = false;
  bool verify = true;           // Z3 findings
  unsigned timeout_ms = 10000;  // per solver call
  unsigned jobs = 2;
};
int run_lint(const LintOptions& options);

struct QueryOptions {
  InputOptions input;
  std::string from, to;
  std::string proto;  // empty: TCP for a flow, every protocol for reach queries
  int port = -1;
  int icmp_type = -1;
  std::string http_method, http_path, http_host;
  std::vector<std::string> http_headers;  // "Key: Value"
  std::string dns_name;
  std::string flows_file;
  std::string format = "text";  // text | json
  std::string output_file;
  bool explain = false;             // the full chain on both sides
  std::string who_can_reach;        // NS/POD: the sources that can reach it
  std::string reachable_from;       // NS/POD: the destinations it can reach
};
int run_query(const QueryOptions& options);
// --who-can-reach / --reachable-from (compiler/cli/reach.cpp).
int run_reach(const QueryOptions& options);

struct DiffOptions {
  InputOptions base;                 // base paths and the shared settings
  std::vector<std::string> head;     // head paths
  std::string format = "text";       // text | json | markdown
  std::string output_file;
  bool fail_on_change = false;
  unsigned timeout_ms = 10000;
  unsigned jobs = 2;
};
int run_diff(const DiffOptions& options);

struct MapOptions {
  InputOptions input;
  std::string format = "dot";  // dot | json | svg
  std::string output_file;
  std::string flows_file;      // observed flows (Hubble jsonpb lines): the observed map
};
int run_map(const MapOptions& options);

struct CompileOptions {
  InputOptions input;
  std::string output_dir;
  std::string mode = "auto";   // auto | inline | table
  bool explain = false;        // print the cost model's choices
  bool no_events = false;
  bool no_conntrack = false;
  std::string clang = "clang";
  std::string bpf_include;     // default: the source tree's bpf-runtime/include
  unsigned jobs = 2;
};
int run_compile(const CompileOptions& options);

// Where cnpc-agent appends its Hubble jsonpb flow lines by default (its
// --events), and so where `cnpc observe` reads without --file.
using agent::kDefaultFlowLog;

// cnpc observe: Hubble's `observe` over a file of jsonpb lines (docs/observe.md).
struct ObserveOptions {
  std::string file;                  // "" = kDefaultFlowLog; "-" = stdin
  std::vector<std::string> verdicts, namespaces, pods, protocols, types;  // OR within, AND across
  std::vector<std::string> from_namespaces, to_namespaces, from_pods, to_pods;
  std::vector<std::string> labels, from_labels, to_labels;  // key=value, k8s:app=web, reserved:world
  std::vector<uint16_t> ports;                              // either side's L4 port
  std::vector<std::string> http_statuses, http_methods, http_paths;  // "404", "5+"; GET; a regex
  std::vector<std::string> traffic_directions, drop_reasons;          // ingress|egress; POLICY_DENIED
  bool all_namespaces = false;  // -A: a --pod without a namespace matches in any
  std::string since, until;          // RFC 3339, YYYY-MM-DD[THH[:MM[:SS]]] or a duration ago (1h43m)
  int64_t last = -1, first = -1;     // -1: not given
  bool all = false;
  bool follow = false;
  std::string format = "compact";    // compact | json | jsonpb
  bool print_policy_names = false;
  bool print_node_name = false;
};
int run_observe(const ObserveOptions& options);

// Rendering of diagnostics.
std::string render_diagnostics_text(const ir::Diagnostics& diags, bool color);
std::string render_diagnostics_json(const ir::Diagnostics& diags);
std::string render_diagnostics_sarif(const ir::Diagnostics& diags);

// An output that cannot be written: an I/O error (exit 2), not a bug.
struct OutputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Writes to `path` through a temporary file and rename, or to stdout.
void write_output(const std::string& path, const std::string& text);
bool use_color(int fd);
// Prints diagnostics of input loading to stderr (used by query).
void print_input_diagnostics(const ir::Diagnostics& diags);

}  // namespace cnpc::cli
