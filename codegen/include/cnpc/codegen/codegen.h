// codegen/: the IR as specialized eBPF programs (BPF C -> clang -target
// bpf) plus the tables and metadata a node agent loads. The only library
// that drives Clang/LLVM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"

namespace cnpc::codegen {

enum class Mode { Auto, Inline, Table };

struct Options {
  std::string clang = "clang";           // the BPF compiler (run as a process)
  std::string include_dir;               // bpf-runtime/include (the shared BPF header)
  std::string sys_include_dir = CNPC_BPF_SYS_INCLUDE_DIR;  // asm/types.h (build-configured)
  Mode mode = Mode::Auto;                // force inline or table lowering (tests, benchmarks)
  size_t inline_max_entries = 24;        // cost model: above this, lower a direction to tables
  size_t table_row_slots = 16;           // tables: port spans per peer row; more -> pair hash
  bool events = true;                    // emit ring-buffer verdict events
  bool conntrack = true;                 // replies of allowed connections skip policy
  unsigned jobs = 2;                     // parallel clang processes
  std::string cnpc_version = "0.0.0";
  std::vector<std::string> inputs;       // input files, hashed into the manifest
};

// What the cost model chose for one program direction.
struct DirectionPlan {
  std::string mode;  // "open" (not enforced), "inline", "table"
  size_t entries = 0;
  // The rules the direction's decision can name, ascending: the policies a
  // default-deny drop of this program belongs to (the agent names them).
  std::vector<uint32_t> rule_ids;
  size_t table_cells = 0;
  std::string why;
};

struct ProgramReport {
  std::string object;  // prog-<hash>.bpf.o
  std::vector<uint32_t> classes;
  std::vector<std::string> endpoints;
  DirectionPlan ingress, egress;
};

struct Report {
  std::vector<ProgramReport> programs;
  size_t classes = 0, world_atoms = 0, ipcache_entries = 0;
  double compile_seconds = 0;
};

// Writes the bundle to `out_dir` atomically; a failure leaves any previous
// bundle untouched and is reported in `diags`. Returns false on failure.
bool compile_bundle(const ir::Evaluator& ev, const std::string& out_dir, const Options& options,
                    Report& report, ir::Diagnostics& diags);

// The generated C of every distinct program, without compiling (tests).
std::vector<std::pair<std::string, std::string>> generate_sources(const ir::Evaluator& ev,
                                                                  const Options& options);

}  // namespace cnpc::codegen
