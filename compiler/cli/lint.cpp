// cnpc lint: parse and validation findings (Z3 findings join with the verifier).
#include <unistd.h>

#include <iostream>

#include "cli.h"
#include "cnpc/ir/synthesize.h"
#include "cnpc/verifier/verifier.h"

namespace cnpc::cli {

int run_lint(const LintOptions& options) {
  ir::Diagnostics diags;
  LoadedInputs inputs = load_inputs(options.input, diags);
  const auto& loaded = inputs.result;
  if (options.verify && !loaded.policies.rules.empty()) {
    // Proofs are about an inventory: the given one, or one made from the
    // policies' own selectors.
    const bool real = !options.input.inventory.empty() || !loaded.inventory.endpoints.empty();
    ir::Inventory inventory =
        real ? loaded.inventory : ir::synthesize_inventory(loaded.policies, options.input.cluster_name);
    ir::Evaluator ev(loaded.policies, inventory, inputs.eval, inputs.dns);
    verifier::Options vopt;
    vopt.timeout_ms = options.timeout_ms;
    vopt.jobs = options.jobs;
    verifier::report(verifier::lint(ev, vopt, real), diags);
  }
  diags.sort();

  std::string text;
  if (options.format == "json") {
    text = render_diagnostics_json(diags);
  } else if (options.format == "sarif") {
    text = render_diagnostics_sarif(diags);
  } else {
    text = render_diagnostics_text(diags, options.output_file.empty() && use_color(STDOUT_FILENO));
    const auto& r = inputs.result;
    text += "cnpc: " + std::to_string(r.files) + " file(s), " + std::to_string(r.policy_objects) +
            " policy object(s) (" + std::to_string(r.rejected_objects) + " rejected), " +
            std::to_string(r.policies.rules.size()) + " rule(s), " +
            std::to_string(r.inventory.endpoints.size()) + " inventory endpoint(s)\n";
  }
  if (options.dump_ir) text += ir::print(inputs.result.policies);
  write_output(options.output_file, text);

  // An unreadable input or broken YAML is an input error, not a finding.
  for (const auto& d : diags.all())
    if (d.check == "io-error" || d.check == "yaml-syntax") return kExitUsage;
  const ir::Severity threshold =
      options.fail_on == "warning" ? ir::Severity::Warning : ir::Severity::Error;
  for (const auto& d : diags.all())
    if (d.severity >= threshold) return kExitFindings;
  return kExitClean;
}

}  // namespace cnpc::cli
