// cnpc: one binary, one subcommand per job. CLI11 parses; everything else
// lives in the stage libraries.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "cli.h"

using namespace cnpc::cli;

namespace {

void add_input_options(CLI::App& cmd, InputOptions& in, bool paths_required) {
  auto* paths = cmd.add_option("PATH", in.paths, "Policy files or directories (walked recursively)");
  if (paths_required) paths->required();
  // One value per occurrence, so `--inventory F PATH` leaves PATH positional.
  cmd.add_option("--inventory", in.inventory,
                 "Namespaces, Pods, workloads and Nodes (e.g. kubectl get ns,pods -A -o yaml); repeatable")
      ->allow_extra_args(false)
      ->check(CLI::ExistingPath);
  cmd.add_option("--policy-enforcement", in.policy_enforcement, "Agent enforcement mode")
      ->check(CLI::IsMember({"default", "always", "never"}));
  cmd.add_flag("--policy-audit-mode", in.policy_audit_mode,
               "Audit mode: would-be drops are forwarded and reported as AUDIT");
  cmd.add_option("--allow-localhost", in.allow_localhost, "Whether the host may always reach local endpoints")
      ->check(CLI::IsMember({"always", "policy"}));
  cmd.add_option("--dns-cache", in.dns_cache,
                 "YAML list of {endpoint: NS/POD, name, ips: [...]} seen by the DNS proxy (for toFQDNs)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--cluster-name", in.cluster_name, "Cluster name (for the 'cluster' entity)");
  cmd.add_flag("!--disable-l7-proxy", in.enable_l7_proxy, "Reject L7 rules as an agent without the proxy does");
  cmd.add_flag("!--disable-icmp-rules", in.enable_icmp_rules, "Reject ICMP rules (enable-icmp-rules=false)");
  cmd.add_flag("--enable-node-selector-labels", in.enable_node_selector_labels,
               "Accept fromNodes/toNodes");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cnpc: compiler and verifier for Cilium network policy"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("cnpc ") + CNPC_VERSION);

  LintOptions lint;
  auto* lint_cmd = app.add_subcommand("lint", "Validate policies as Cilium would and report findings");
  add_input_options(*lint_cmd, lint.input, true);
  lint_cmd->add_option("-o,--output", lint.format, "Report format")
      ->check(CLI::IsMember({"text", "json", "sarif"}));
  lint_cmd->add_option("--fail-on", lint.fail_on, "Exit 1 on findings at or above this severity")
      ->check(CLI::IsMember({"error", "warning"}));
  lint_cmd->add_option("--output-file", lint.output_file, "Write the report here (atomically)");
  lint_cmd->add_flag("--dump-ir", lint.dump_ir, "Append the lowered IR to a text report");
  lint_cmd->add_flag("!--no-verify", lint.verify, "Skip the Z3-proved findings (validation only)");
  lint_cmd->add_option("--timeout", lint.timeout_ms, "Per solver call, in milliseconds")
      ->check(CLI::Range(1u, 600000u));
  lint_cmd->add_option("--jobs", lint.jobs, "Solver threads")->check(CLI::Range(1u, 64u));
  lint_cmd->footer(
      "Example:\n  cnpc lint policies/ --inventory cluster.yaml -o sarif --output-file cnpc.sarif\n"
      "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or input error, 3 internal error.");

  QueryOptions query;
  auto* query_cmd = app.add_subcommand("query", "Answer whether a flow is allowed, and by which rules");
  add_input_options(*query_cmd, query.input, true);
  query_cmd->add_option("--from", query.from, "Source: NAMESPACE/POD, cidr:IP or entity:NAME");
  query_cmd->add_option("--to", query.to, "Destination: NAMESPACE/POD, cidr:IP or entity:NAME");
  query_cmd->add_option("--proto", query.proto, "TCP, UDP, SCTP, ICMP or ICMPv6");
  query_cmd->add_option("--port", query.port, "Destination port")->check(CLI::Range(0, 65535));
  query_cmd->add_option("--icmp-type", query.icmp_type, "ICMP type")->check(CLI::Range(0, 255));
  query_cmd->add_option("--http-method", query.http_method, "HTTP request method");
  query_cmd->add_option("--http-path", query.http_path, "HTTP request path (with query string)");
  query_cmd->add_option("--http-host", query.http_host, "HTTP Host / :authority");
  query_cmd->add_option("--http-header", query.http_headers, "HTTP header 'Key: Value' (repeatable)");
  query_cmd->add_option("--dns-name", query.dns_name, "DNS query name (for ports with DNS rules)");
  query_cmd->add_option("--flows", query.flows_file,
                        "YAML list of flows {src, dst, proto, port, icmp_type, http, dns, expect}")
      ->check(CLI::ExistingFile);
  query_cmd->add_option("-o,--output", query.format, "Answer format")
      ->check(CLI::IsMember({"text", "json"}));
  query_cmd->add_option("--output-file", query.output_file, "Write the answer here (atomically)");
  query_cmd->add_flag("--explain", query.explain,
                      "Show the whole chain: default deny, allows, denies, and why L7 is enforced");
  query_cmd->add_option("--who-can-reach", query.who_can_reach,
                        "NAMESPACE/POD: every source that can reach it (with --port to narrow)");
  query_cmd->add_option("--reachable-from", query.reachable_from,
                        "NAMESPACE/POD: every destination it can reach (with --port to narrow)");
  query_cmd->footer(
      "Examples:\n"
      "  cnpc query policies/ --inventory cluster.yaml --from blog-system/web --to blog-system/was \\\n"
      "      --port 8080 --http-method POST --http-path /api/posts\n"
      "  cnpc query policies/ --inventory cluster.yaml --flows flows.yaml -o json\n"
      "Flows with 'expect' are checked: exit 1 when an expectation fails.");

  DiffOptions diff;
  auto* diff_cmd = app.add_subcommand("diff", "Flows allowed on one side and not the other, with witnesses");
  add_input_options(*diff_cmd, diff.base, true);
  diff_cmd->add_option("--head", diff.head, "The changed policy files or directories")->required();
  diff_cmd->add_option("-o,--output", diff.format, "Report format")
      ->check(CLI::IsMember({"text", "json", "markdown"}));
  diff_cmd->add_option("--output-file", diff.output_file, "Write the report here (atomically)");
  diff_cmd->add_flag("--fail-on-change", diff.fail_on_change, "Exit 1 when any verdict changes");
  diff_cmd->add_option("--timeout", diff.timeout_ms, "Per solver call, in milliseconds")
      ->check(CLI::Range(1u, 600000u));
  diff_cmd->add_option("--jobs", diff.jobs, "Solver threads")->check(CLI::Range(1u, 64u));
  diff_cmd->footer(
      "Example:\n  cnpc diff main/policies --head policies --inventory cluster.yaml -o markdown\n"
      "Exit codes: 0 (or 1 with --fail-on-change when something changed), 2 input error.");

  MapOptions map;
  auto* map_cmd = app.add_subcommand("map", "The allowed-communication graph between workloads");
  add_input_options(*map_cmd, map.input, false);
  map_cmd->add_option("-o,--output", map.format, "Graph format")
      ->check(CLI::IsMember({"dot", "json", "svg"}));
  map_cmd->add_option("--output-file", map.output_file, "Write the graph here (atomically)");
  map_cmd->add_option("--flows", map.flows_file, "Observed flows (JSON lines as cnpc observe writes them)")
      ->check(CLI::ExistingFile);
  map_cmd->footer(
      "Example:\n  cnpc map policies/ --inventory cluster.yaml -o svg --output-file map.svg");

  CompileOptions compile;
  auto* compile_cmd = app.add_subcommand("compile", "Generate and compile the eBPF bundle for a node agent");
  add_input_options(*compile_cmd, compile.input, true);
  compile_cmd->add_option("-o,--output", compile.output_dir, "Bundle directory (replaced atomically)")->required();
  compile_cmd->add_flag("--explain-codegen", compile.explain, "Print the cost model's choice per program");
  compile_cmd->add_option("--codegen-mode", compile.mode, "Force inline compare chains or tables")
      ->check(CLI::IsMember({"auto", "inline", "table"}));
  compile_cmd->add_flag("--no-events", compile.no_events, "Programs without ring-buffer verdict events");
  compile_cmd->add_flag("--no-conntrack", compile.no_conntrack,
                        "Decide every packet on its own (replies are not recognised; for tests and benchmarks)");
  compile_cmd->add_option("--clang", compile.clang, "The clang that compiles BPF C");
  compile_cmd->add_option("--bpf-include", compile.bpf_include, "Directory with cnpc/bpf/cnpc.h");
  compile_cmd->add_option("--jobs", compile.jobs, "Parallel compiles")->check(CLI::Range(1u, 64u));
  compile_cmd->footer(
      "Example:\n  cnpc compile policies/ --inventory cluster.yaml -o bundle/ --explain-codegen\n"
      "A failed compile leaves the previous bundle untouched (exit 3; 2 for input errors).");

  ObserveOptions observe;
  auto* observe_cmd = app.add_subcommand("observe", "Show the agent's flows, filtered as hubble observe does");
  observe_cmd->add_option("--file,--input-file", observe.file,
                          std::string("Hubble jsonpb lines to read ('-' = stdin); default: the agent's ") +
                              kDefaultFlowLog);
  // One value per occurrence: the same flag twice matches either value.
  observe_cmd->add_option("--verdict", observe.verdicts, "FORWARDED, DROPPED, AUDIT, REDIRECTED, ERROR, TRACED, TRANSLATED")
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"FORWARDED", "DROPPED", "AUDIT", "REDIRECTED", "ERROR", "TRACED", "TRANSLATED"},
                            CLI::ignore_case));
  observe_cmd->add_option("-n,--namespace", observe.namespaces, "Source or destination namespace")
      ->allow_extra_args(false);
  observe_cmd->add_option("--pod", observe.pods,
                          "[NAMESPACE/]POD-NAME-PREFIX, source or destination (no namespace: the --namespace ones, "
                          "any with -A, else default)")
      ->allow_extra_args(false);
  observe_cmd->add_flag("-A,--all-namespaces", observe.all_namespaces, "--pod names without a namespace match in any");
  observe_cmd->add_option("--from-namespace", observe.from_namespaces, "Source namespace")->allow_extra_args(false);
  observe_cmd->add_option("--to-namespace", observe.to_namespaces, "Destination namespace")->allow_extra_args(false);
  observe_cmd->add_option("--from-pod", observe.from_pods, "Source [NAMESPACE/]POD-NAME-PREFIX")->allow_extra_args(false);
  observe_cmd->add_option("--to-pod", observe.to_pods, "Destination [NAMESPACE/]POD-NAME-PREFIX")->allow_extra_args(false);
  observe_cmd->add_option("-l,--label", observe.labels, "Source or destination label: key=value, k8s:app=web, reserved:world")
      ->allow_extra_args(false);
  observe_cmd->add_option("--from-label", observe.from_labels, "Source label")->allow_extra_args(false);
  observe_cmd->add_option("--to-label", observe.to_labels, "Destination label")->allow_extra_args(false);
  observe_cmd->add_option("--port", observe.ports, "Source or destination L4 port")->allow_extra_args(false);
  observe_cmd->add_option("--http-status", observe.http_statuses, "HTTP status code prefix: 404, 5+")
      ->allow_extra_args(false);
  observe_cmd->add_option("--http-method", observe.http_methods, "HTTP method")->allow_extra_args(false);
  observe_cmd->add_option("--http-path", observe.http_paths, "HTTP path (a regular expression, searched)")
      ->allow_extra_args(false);
  observe_cmd->add_option("--traffic-direction", observe.traffic_directions, "ingress or egress")
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"ingress", "egress"}, CLI::ignore_case));
  observe_cmd->add_option("--drop-reason-desc", observe.drop_reasons, "Drop reason, e.g. POLICY_DENIED")
      ->allow_extra_args(false);
  observe_cmd->add_option("--protocol", observe.protocols, "http, dns, kafka (L7) or tcp, udp, sctp, icmp, icmpv4, icmpv6")
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"http", "dns", "kafka", "tcp", "udp", "sctp", "icmp", "icmpv4", "icmpv6"},
                            CLI::ignore_case));
  observe_cmd->add_option("-t,--type", observe.types, "Event type: l7, drop, trace, policy-verdict")
      ->allow_extra_args(false)
      ->check(CLI::IsMember({"l7", "drop", "trace", "policy-verdict"}, CLI::ignore_case));
  observe_cmd->add_option("--since", observe.since,
                          "Flows at or after: RFC 3339, YYYY-MM-DD[THH[:MM[:SS]]] (UTC), or a duration ago (3s, 4m, 1h43m)");
  observe_cmd->add_option("--until", observe.until, "Flows at or before (same forms as --since)");
  observe_cmd->add_option("--last", observe.last, "The last N matching flows (default 20 when nothing else bounds)")
      ->check(CLI::NonNegativeNumber);
  observe_cmd->add_option("--first", observe.first, "The first N matching flows")->check(CLI::NonNegativeNumber);
  observe_cmd->add_flag("--all", observe.all, "Every matching flow in the log");
  observe_cmd->add_flag("-f,--follow", observe.follow, "Keep printing flows as the agent appends them (until Ctrl-C)");
  observe_cmd->add_option("-o,--output", observe.format, "compact (default), or json/jsonpb: one flow response per line")
      ->check(CLI::IsMember({"compact", "json", "jsonpb"}));
  observe_cmd->add_flag("--print-policy-names", observe.print_policy_names,
                        "compact: append the policies that allowed or denied each flow");
  observe_cmd->add_flag("--print-node-name", observe.print_node_name, "compact: print the node after the time");
  observe_cmd->footer(
      "Examples:\n"
      "  cnpc observe --verdict DROPPED --namespace blog-system\n"
      "  cnpc observe --protocol http --pod blog-system/web -f\n"
      "  cnpc observe --file flows.json --verdict DROPPED --since 2026-01-01T00:00:00Z \\\n"
      "      --until 2026-01-31T23:59:59Z --output json > security-events-jan.json\n"
      "Exit codes: 0 ok (also when nothing matched), 2 bad flags, a missing log or a malformed line.");

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return kExitUsage;
  }

  try {
    if (*version_cmd) {
      std::cout << "cnpc " << CNPC_VERSION << '\n';
      return kExitClean;
    }
    if (*lint_cmd) return run_lint(lint);
    if (*query_cmd) {
      if (!query.who_can_reach.empty() || !query.reachable_from.empty()) return run_reach(query);
      if (query.flows_file.empty() && (query.from.empty() || query.to.empty())) {
        std::cerr << "cnpc query: error: give --from and --to, --flows FILE, --who-can-reach or --reachable-from\n";
        return kExitUsage;
      }
      return run_query(query);
    }
    if (*diff_cmd) return run_diff(diff);
    if (*observe_cmd) return run_observe(observe);
    if (*compile_cmd) {
      if (compile.input.inventory.empty()) {
        std::cerr << "cnpc compile: error: --inventory is required (programs are per endpoint identity)\n";
        return kExitUsage;
      }
      return run_compile(compile);
    }
    if (*map_cmd) {
      if (map.input.paths.empty() && map.flows_file.empty()) {
        std::cerr << "cnpc map: error: give policy paths, or --flows FILE\n";
        return kExitUsage;
      }
      return run_map(map);
    }
  } catch (const OutputError& e) {
    std::cerr << "cnpc: error: " << e.what() << '\n';
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "cnpc: internal error: " << e.what() << '\n';
    return kExitInternal;
  }
  return kExitUsage;
}
