// Inventory objects -> endpoints with Cilium identity labels.
//
// A pod's identity is its labels under the k8s: source plus what Cilium
// derives: namespace, namespace labels, service account and cluster name.
#include <algorithm>
#include <map>

#include "lower.h"
#include "yaml_util.h"

namespace cnpc::frontend {

namespace {

const std::vector<std::string>& workload_kinds() {
  static const std::vector<std::string> kinds = {
      "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
      "ReplicationController"};
  return kinds;
}

std::map<std::string, std::string> string_map(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (n.IsMap())
    for (auto it = n.begin(); it != n.end(); ++it)
      if (it->first.IsScalar() && it->second.IsScalar())
        out[it->first.Scalar()] = it->second.Scalar();
  return out;
}

// Builds the identity of a pod (or pod template) from its pod spec.
ir::Endpoint pod_endpoint(const YAML::Node& metadata, const YAML::Node& pod_spec,
                          const std::string& ns, const std::string& name,
                          const LoadOptions& options) {
  ir::Endpoint e;
  e.kind = ir::Endpoint::Kind::Pod;
  e.namespace_ = ns;
  e.name = name;
  for (const auto& [k, v] : string_map(member(metadata, "labels"))) e.labels.add({"k8s", k, v});
  e.labels.add({"k8s", kNamespaceLabel, ns});
  std::string sa = scalar_of(member(pod_spec, "serviceAccountName"))
                       .value_or(scalar_of(member(pod_spec, "serviceAccount")).value_or("default"));
  e.labels.add({"k8s", kServiceAccountLabel, sa});
  e.labels.add({"k8s", kClusterLabel, options.cluster_name});
  for (const char* list : {"containers", "initContainers"}) {
    YAML::Node containers = member(pod_spec, list);
    if (!containers.IsSequence()) continue;
    for (const auto& c : containers) {
      YAML::Node ports = member(c, "ports");
      if (!ports.IsSequence()) continue;
      for (const auto& p : ports) {
        ir::ContainerPort cp;
        cp.name = scalar_of(member(p, "name")).value_or("");
        for (auto& ch : cp.name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        try {
          cp.port = uint16_t(std::stoi(scalar_of(member(p, "containerPort")).value_or("0")));
        } catch (...) {
          continue;
        }
        cp.proto = ir::parse_proto(scalar_of(member(p, "protocol")).value_or("TCP"))
                       .value_or(ir::Proto::TCP);
        e.ports.push_back(std::move(cp));
      }
    }
  }
  // A host-network pod has the host's identity, not its own.
  if (scalar_of(member(pod_spec, "hostNetwork")).value_or("false") == "true") {
    e.kind = ir::Endpoint::Kind::Host;
    e.labels = {};
    e.labels.add({"reserved", "host", ""});
  }
  return e;
}

}  // namespace

bool is_inventory_kind(const std::string& kind) {
  return kind == "Namespace" || kind == "Pod" || kind == "Node" ||
         std::find(workload_kinds().begin(), workload_kinds().end(), kind) !=
             workload_kinds().end();
}

namespace {
// kubectl apply semantics: a later object with the same kind and name
// replaces the earlier one.
std::string endpoint_key(const ir::Endpoint& e) {
  return e.display() + '\n' + e.workload + '\n' + std::to_string(int(e.kind));
}

void add_endpoint(ir::Inventory& out, std::unordered_map<std::string, size_t>& index, ir::Endpoint e,
                  ir::Diagnostics& diags) {
  if (index.size() != out.endpoints.size()) {  // endpoints added elsewhere: re-index
    index.clear();
    for (size_t i = 0; i < out.endpoints.size(); ++i) index.try_emplace(endpoint_key(out.endpoints[i]), i);
  }
  std::string key = endpoint_key(e);
  if (auto it = index.find(key); it != index.end()) {
    auto& existing = out.endpoints[it->second];
    auto& d = diags.report("duplicate-object", e.loc,
                           "'" + e.display() + "' is defined more than once; this definition replaces the earlier one");
    d.notes.push_back({existing.loc, "earlier definition"});
    existing = std::move(e);
    return;
  }
  index.emplace(std::move(key), out.endpoints.size());
  out.endpoints.push_back(std::move(e));
}
}  // namespace

void load_inventory_object(const YAML::Node& object, const std::string& kind,
                           const std::string& file, const LoadOptions& options,
                           ir::Inventory& out, std::unordered_map<std::string, size_t>& index,
                           ir::Diagnostics& diags) {
  YAML::Node metadata = member(object, "metadata");
  auto name = scalar_of(member(metadata, "name"));
  if (!name || name->empty()) {
    diags.report("invalid-inventory", loc_of(object, file), kind + " has no metadata.name");
    return;
  }
  std::string ns = scalar_of(member(metadata, "namespace")).value_or("default");
  if (ns.empty()) ns = "default";
  const ir::SourceLocation loc = loc_of(object, file);

  if (kind == "Namespace") {
    ir::Namespace n;
    n.name = *name;
    n.labels = string_map(member(metadata, "labels"));
    n.labels.try_emplace("kubernetes.io/metadata.name", *name);  // set by the API server
    n.loc = loc;
    for (auto& existing : out.namespaces)
      if (existing.name == n.name) {
        existing = std::move(n);  // the later definition wins, as with kubectl apply
        return;
      }
    out.namespaces.push_back(std::move(n));
    return;
  }
  if (kind == "Node") {
    ir::Endpoint e;
    e.kind = ir::Endpoint::Kind::RemoteNode;
    e.workload = "Node";
    e.name = *name;
    e.loc = loc;
    e.labels.add({"reserved", "remote-node", ""});
    for (const auto& [k, v] : string_map(member(metadata, "labels"))) e.node_labels.add({"k8s", k, v});
    YAML::Node addrs = member(member(object, "status"), "addresses");
    if (addrs.IsSequence())
      for (const auto& a : addrs)
        if (auto ip = ir::IpAddr::parse(scalar_of(member(a, "address")).value_or("")))
          e.ips.push_back(*ip);
    add_endpoint(out, index, std::move(e), diags);
    return;
  }
  if (kind == "Pod") {
    ir::Endpoint e = pod_endpoint(metadata, member(object, "spec"), ns, *name, options);
    e.loc = loc;
    YAML::Node status = member(object, "status");
    YAML::Node ips = member(status, "podIPs");
    if (ips.IsSequence())
      for (const auto& i : ips)
        if (auto ip = ir::IpAddr::parse(scalar_of(member(i, "ip")).value_or(""))) e.ips.push_back(*ip);
    if (e.ips.empty())
      if (auto ip = ir::IpAddr::parse(scalar_of(member(status, "podIP")).value_or("")))
        e.ips.push_back(*ip);
    add_endpoint(out, index, std::move(e), diags);
    return;
  }
  // Workload controllers stand for the pods their template creates.
  YAML::Node spec = member(object, "spec");
  if (kind == "CronJob") spec = member(member(spec, "jobTemplate"), "spec");
  YAML::Node tmpl = member(spec, "template");
  if (!tmpl.IsMap()) {
    diags.report("invalid-inventory", loc, kind + " " + ns + "/" + *name + " has no pod template");
    return;
  }
  ir::Endpoint e = pod_endpoint(member(tmpl, "metadata"), member(tmpl, "spec"), ns, *name, options);
  e.workload = kind;
  e.loc = loc;
  add_endpoint(out, index, std::move(e), diags);
}

void finalize_inventory(ir::Inventory& inventory) {
  std::map<std::string, const ir::Namespace*> by_name;
  for (const auto& n : inventory.namespaces) by_name[n.name] = &n;
  const std::string prefix = kNamespaceLabelsPrefix;
  for (auto& e : inventory.endpoints) {
    if (e.kind != ir::Endpoint::Kind::Pod) continue;
    std::erase_if(e.labels.labels,
                  [&](const ir::Label& l) { return l.key.rfind(prefix, 0) == 0; });
    std::map<std::string, std::string> labels;
    if (auto it = by_name.find(e.namespace_); it != by_name.end()) labels = it->second->labels;
    labels.try_emplace("kubernetes.io/metadata.name", e.namespace_);
    for (const auto& [k, v] : labels) e.labels.add({"k8s", prefix + k, v});
  }
}

}  // namespace cnpc::frontend
