// A deterministic generator of random, realistic-but-nasty clusters and
// flows for differential tests (evaluator vs Z3, evaluator vs BPF).
//
// random_cluster(seed) writes YAML the way a user would (CNPs, CCNPs and
// NetworkPolicies plus an inventory of Namespaces and Pods), so every test
// that uses it also goes through the frontend. Every generated object is
// valid for Cilium and its CRD schema: the frontend loads it with zero
// errors (and zero warnings). random_flows(ev, seed) draws flows from what
// the *lowered* policies mention (ports, port-range edges, CIDR edges and
// excepts, named ports, L7 regexes and DNS patterns), so it works for any
// policy set, not only generated ones.
//
// Determinism: everything is derived from std::mt19937_64 (whose output the
// standard fixes) through our own distributions; nothing depends on hash
// order or on std:: distributions, so a seed reproduces the same cluster and
// flows on every platform and standard library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"
#include "cnpc/ir/ir.h"

namespace cnpc::testing {

struct RandomOptions {
  int namespaces = 3;       // plus kube-system with a kube-dns pod
  int pods = 12;
  int policies = 6;         // CNP/CCNP/KNP objects, each 1-3 specs/entries
  bool l7 = true;           // HTTP and DNS rules
  bool deny = true;
  bool cidr = true;         // CIDR / CIDRSet with except, IPv4 and IPv6
  bool named_ports = true;
  bool icmp = true;
  bool knp = true;          // Kubernetes NetworkPolicy too
  bool ccnp = true;
  bool fqdn = false;        // toFQDNs + a DNS cache
  bool requires_ = false;   // fromRequires/toRequires
};

struct RandomCluster {
  std::string policies_yaml;   // multi-document YAML
  std::string inventory_yaml;  // Namespaces and Pods (with IPs, container ports with names)
  std::vector<ir::DnsCacheEntry> dns_cache;  // when fqdn
  // How often each generated feature appears ("entity:world", "port:range",
  // "knp:ipBlock", ...): tests check that a sweep of seeds covers them all.
  std::map<std::string, size_t> features;
};

RandomCluster random_cluster(uint64_t seed, const RandomOptions& options = {});

// The differential tests' sweep: per seed, a cluster shape (sizes, toFQDNs,
// requires) and the agent settings to decide it under (allow-localhost,
// enforcement mode; audit mode when the decider models it).
RandomOptions sweep_cluster_options(uint64_t seed);
ir::EvalOptions sweep_eval_options(uint64_t seed, bool with_audit);

// Loads both documents through the frontend (aborting on any error
// diagnostic, printing them and the YAML). `diags`, if given, receives every
// diagnostic (warnings included).
struct LoadedCluster {
  frontend::LoadResult result;
  std::vector<ir::DnsCacheEntry> dns_cache;
};
LoadedCluster load_cluster(const RandomCluster& cluster, ir::Diagnostics* diags = nullptr);

// Random flows between the evaluator's endpoints (pods, reserved entities,
// world addresses drawn near the policies' CIDRs: inside, on the edges,
// inside excepts, the other family), protocols TCP/UDP/SCTP/ICMP/ICMPv6,
// ports biased to the policies' ports, range edges, named-port numbers and
// random ones; about 30% carry an HTTP request (TCP) or a DNS query (port
// 53), built from the policies' regexes and patterns so that some match and
// some almost match. About half the flows are aimed at one rule: a subject
// it selects, a peer it names, a port it lists.
//
// A world endpoint always carries an address that no pod owns (a pod's
// address *is* that pod), so every flow can be written as a --flows entry
// and resolved back to the same endpoints.
std::vector<ir::Flow> random_flows(const ir::Evaluator& ev, uint64_t seed, size_t count);

// Repro helpers: one entry of a `cnpc query --flows` file ("- src: ...",
// two-space indented mapping lines), and a --dns-cache file.
std::string flow_to_yaml(const ir::Evaluator& ev, const ir::Flow& flow);
std::string dns_cache_to_yaml(const std::vector<ir::DnsCacheEntry>& cache);
// Writes policies.yaml, inventory.yaml, dns-cache.yaml (when non-empty) and
// flows.yaml (when `flows` is non-empty) into `dir` (created if missing);
// returns false on an I/O error.
bool write_repro(const std::string& dir, const RandomCluster& cluster, const ir::Evaluator* ev = nullptr,
                 const std::vector<ir::Flow>& flows = {});

}  // namespace cnpc::testing
