#include "cnpc/ir/synthesize.h"

#include <map>
#include <set>

namespace cnpc::ir {

namespace {

constexpr const char* kNamespace = "io.kubernetes.pod.namespace";
constexpr const char* kNamespaceLabels = "io.cilium.k8s.namespace.labels.";

struct PodSketch {
  std::string namespace_ = "default";
  std::map<std::string, std::string> labels;     // pod labels
  std::map<std::string, std::string> ns_labels;  // namespace labels it needs
  std::string service_account = "default";
};

// Labels that satisfy every requirement it can (contradictions are left
// unsatisfied: such a selector matches nothing anyway).
PodSketch sketch(const Selector& s) {
  PodSketch p;
  for (const auto& r : s.requirements) {
    if (r.source != "k8s" && r.source != "any") continue;  // reserved: not a pod
    std::string value;
    switch (r.op) {
      case SelectorOp::In: value = r.values.empty() ? "" : r.values[0]; break;
      case SelectorOp::Exists: value = "x"; break;
      case SelectorOp::NotIn: value = "cnpc-other"; break;
      case SelectorOp::DoesNotExist: continue;
    }
    if (r.key == kNamespace) {
      if (r.op != SelectorOp::NotIn) p.namespace_ = r.op == SelectorOp::Exists ? "default" : value;
    } else if (r.key.rfind(kNamespaceLabels, 0) == 0) {
      p.ns_labels[r.key.substr(std::string(kNamespaceLabels).size())] = value;
    } else if (r.key == "io.cilium.k8s.policy.serviceaccount") {
      p.service_account = value;
    } else if (r.key != "io.cilium.k8s.policy.cluster") {
      p.labels[r.key] = value;
    }
  }
  return p;
}

}  // namespace

Inventory synthesize_inventory(const PolicySet& policies, const std::string& cluster_name) {
  std::vector<PodSketch> sketches;
  for (const auto& spec : policies.specs)
    if (!spec.subject.node) sketches.push_back(sketch(spec.subject.selector));
  for (const auto& rule : policies.rules) {
    if (rule.peers)
      for (const auto& p : *rule.peers)
        if (p.kind == Peer::Kind::Endpoints) sketches.push_back(sketch(p.selector));
    for (const auto& req : rule.requires_) sketches.push_back(sketch(req));
  }
  PodSketch dns;
  dns.namespace_ = "kube-system";
  dns.labels["k8s-app"] = "kube-dns";
  dns.service_account = "coredns";
  sketches.push_back(dns);
  sketches.push_back(PodSketch{});  // a pod no selector names

  // Every named port the rules use, with one number each.
  std::vector<ContainerPort> named;
  std::set<std::string> names;
  for (const auto& rule : policies.rules)
    for (const auto& pr : rule.port_rules)
      for (const auto& pm : pr.ports)
        if (!pm.name.empty() && names.insert(pm.name).second)
          named.push_back({pm.name, uint16_t(20000 + named.size()),
                           pm.proto == Proto::Any ? Proto::TCP : pm.proto});

  Inventory inv;
  inv.cluster_name = cluster_name;
  std::map<std::string, std::map<std::string, std::string>> namespaces;
  for (const auto& s : sketches)
    for (const auto& [k, v] : s.ns_labels) namespaces[s.namespace_][k] = v;
  std::set<std::string> seen;
  for (const auto& s : sketches) {
    std::string key = s.namespace_ + "|" + s.service_account;
    for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    for (const auto& [k, v] : s.ns_labels) key += "|ns:" + k + "=" + v;
    if (!seen.insert(key).second) continue;
    Endpoint e;
    e.kind = Endpoint::Kind::Pod;
    e.namespace_ = s.namespace_;
    // Named by the labels that make it: "shop/{app=web}" says what it stands for.
    std::string name;
    for (const auto& [k, v] : s.labels) name += (name.empty() ? "" : ",") + k + "=" + v;
    for (const auto& [k, v] : s.ns_labels) name += (name.empty() ? "" : ",") + std::string("ns:") + k + "=" + v;
    e.name = s.labels.count("k8s-app") && s.labels.at("k8s-app") == "kube-dns" ? "coredns"
                                                                            : "{" + name + "}";
    for (const auto& [k, v] : s.labels) e.labels.add({"k8s", k, v});
    e.labels.add({"k8s", kNamespace, s.namespace_});
    e.labels.add({"k8s", "io.cilium.k8s.policy.serviceaccount", s.service_account});
    e.labels.add({"k8s", "io.cilium.k8s.policy.cluster", cluster_name});
    auto ns_labels = namespaces[s.namespace_];
    ns_labels.try_emplace("kubernetes.io/metadata.name", s.namespace_);
    for (const auto& [k, v] : ns_labels) e.labels.add({"k8s", std::string(kNamespaceLabels) + k, v});
    e.ports = named;
    if (e.name == "coredns" && !names.count("dns")) e.ports.push_back({"dns", 53, Proto::UDP});
    // Addresses in 10.255.0.0/16, out of the way of example CIDRs.
    IpAddr ip;
    ip.bytes = {10, 255, uint8_t(inv.endpoints.size() >> 8), uint8_t(inv.endpoints.size() & 0xff)};
    e.ips.push_back(ip);
    inv.endpoints.push_back(std::move(e));
  }
  for (const auto& [name, labels] : namespaces) inv.namespaces.push_back({name, labels, {}});
  return inv;
}

}  // namespace cnpc::ir
