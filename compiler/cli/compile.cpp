// cnpc compile: the bundle a node agent loads.
#include <iostream>

#include "cli.h"
#include "cnpc/codegen/codegen.h"

namespace cnpc::cli {

int run_compile(const CompileOptions& options) {
  ir::Diagnostics diags;
  LoadedInputs inputs = load_inputs(options.input, diags);
  if (diags.has_errors()) {
    diags.sort();
    print_input_diagnostics(diags);
    std::cerr << "cnpc: error: inputs have errors; no bundle written\n";
    return kExitUsage;
  }
  if (!diags.all().empty()) print_input_diagnostics(diags);
  ir::Evaluator ev(inputs.result.policies, inputs.result.inventory, inputs.eval, inputs.dns);

  codegen::Options copt;
  copt.clang = options.clang;
  copt.include_dir = options.bpf_include.empty() ? CNPC_BPF_INCLUDE_DIR : options.bpf_include;
  copt.mode = options.mode == "inline" ? codegen::Mode::Inline
              : options.mode == "table" ? codegen::Mode::Table
                                        : codegen::Mode::Auto;
  copt.events = !options.no_events;
  copt.conntrack = !options.no_conntrack;
  copt.jobs = options.jobs;
  copt.cnpc_version = CNPC_VERSION;
  copt.inputs = options.input.paths;
  for (const auto& f : options.input.inventory) copt.inputs.push_back(f);
  // Directories hash file by file.
  std::vector<std::string> files;
  for (const auto& p : copt.inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file()) files.push_back(it->path().string());
    } else {
      files.push_back(p);
    }
  }
  copt.inputs = files;

  codegen::Report report;
  ir::Diagnostics cdiags;
  if (!codegen::compile_bundle(ev, options.output_dir, copt, report, cdiags)) {
    print_input_diagnostics(cdiags);
    return kExitInternal;
  }
  if (options.explain) {
    for (const auto& p : report.programs) {
      std::cout << p.object << "  (" << p.endpoints.size() << " endpoint(s): ";
      for (size_t i = 0; i < p.endpoints.size() && i < 4; ++i) std::cout << (i ? ", " : "") << p.endpoints[i];
      if (p.endpoints.size() > 4) std::cout << ", ...";
      std::cout << ")\n";
      for (const auto* d : {&p.ingress, &p.egress})
        std::cout << "  " << (d == &p.ingress ? "ingress" : "egress ") << ": " << d->mode << ", "
                  << d->entries << " entries" << (d->table_cells ? ", " + std::to_string(d->table_cells) + " table cells" : "")
                  << " — " << d->why << '\n';
    }
  }
  std::cerr << "cnpc: wrote " << options.output_dir << ": " << report.programs.size() << " program(s) for "
            << report.classes << " identity class(es), " << report.world_atoms << " world atom(s), "
            << report.ipcache_entries << " ipcache entries in " << report.compile_seconds << " s\n";
  return kExitClean;
}

}  // namespace cnpc::cli
