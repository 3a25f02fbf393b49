#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "cli.h"

namespace cnpc::cli {

LoadedInputs load_inputs(const InputOptions& in, ir::Diagnostics& diags) {
  LoadedInputs out;
  frontend::LoadOptions options;
  options.enable_l7_proxy = in.enable_l7_proxy;
  options.enable_icmp_rules = in.enable_icmp_rules;
  options.enable_node_selector_labels = in.enable_node_selector_labels;
  options.cluster_name = in.cluster_name;
  frontend::load_paths(in.paths, options, out.result, diags);
  frontend::load_paths(in.inventory, options, out.result, diags);
  if (!in.dns_cache.empty()) out.dns = frontend::load_dns_cache(in.dns_cache, diags);

  out.eval.enforcement = in.policy_enforcement == "always"  ? ir::EnforcementMode::Always
                         : in.policy_enforcement == "never" ? ir::EnforcementMode::Never
                                                            : ir::EnforcementMode::Default;
  out.eval.audit_mode = in.policy_audit_mode;
  out.eval.allow_localhost =
      in.allow_localhost == "policy" ? ir::AllowLocalhost::Policy : ir::AllowLocalhost::Always;
  return out;
}

bool use_color(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color && *no_color) return false;
  const char* term = std::getenv("TERM");
  if (term && std::string(term) == "dumb") return false;
  return isatty(fd);
}

void write_output(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text << std::flush;
    return;
  }
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw OutputError("cannot write " + tmp.string());
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw OutputError("cannot write " + path + ": " + ec.message());
  }
}

void print_input_diagnostics(const ir::Diagnostics& diags) {
  bool color = use_color(STDERR_FILENO);
  for (const auto& d : diags.all()) std::cerr << ir::render_text(diags, d, color);
}

}  // namespace cnpc::cli
