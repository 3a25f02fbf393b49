#include "endpoint_index.h"

#include <arpa/inet.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace cnpc::agent {
namespace {

using nlohmann::json;

// Parses "A.B.C.D" or an IPv6 address into 16 bytes; family 0 when invalid.
int parse_ip(const std::string& text, unsigned char* out) {
  std::fill(out, out + 16, 0);
  if (inet_pton(AF_INET, text.c_str(), out) == 1) return 4;
  if (inet_pton(AF_INET6, text.c_str(), out) == 1) return 6;
  return 0;
}

bool prefix_contains(const unsigned char* net, int length, const unsigned char* addr) {
  int full = length / 8, rest = length % 8;
  if (!std::equal(net, net + full, addr)) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (net[full] & mask) == (addr[full] & mask);
}

std::string host_key(int family, const unsigned char* addr) {
  std::string key(1, char(family));
  key.append(reinterpret_cast<const char*>(addr), family == 4 ? 4 : 16);
  return key;
}

std::vector<std::string> split_labels(const std::string& joined) {
  std::vector<std::string> out;
  std::istringstream in(joined);
  for (std::string label; std::getline(in, label, ',');)
    if (!label.empty()) out.push_back(label);
  return out;
}

// Cilium's reserved identities (pkg/identity/numericidentity.go); 0 for other classes.
uint32_t reserved_identity(const std::string& kind, const std::vector<std::string>& labels) {
  if (kind == "host") return 1;
  if (kind == "world") return 2;
  if (kind == "remote-node") return 6;
  static const std::pair<const char*, uint32_t> reserved[] = {
      {"reserved:unmanaged", 3}, {"reserved:health", 4},         {"reserved:init", 5},
      {"reserved:kube-apiserver", 7}, {"reserved:ingress", 8}};
  for (const auto& [label, id] : reserved)
    if (std::find(labels.begin(), labels.end(), label) != labels.end()) return id;
  return 0;
}

}  // namespace

EndpointIndex::EndpointIndex(const std::string& metadata_json, const std::string& ipcache_json,
                             const std::vector<std::pair<std::string, std::string>>& endpoints) {
  json meta, ipcache;
  try {
    meta = json::parse(metadata_json);
    ipcache = json::parse(ipcache_json);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("bundle metadata: ") + e.what());
  }
  auto add_prefix = [&](const std::string& ip, int length, uint32_t class_id) {
    Prefix p;
    p.family = parse_ip(ip, p.addr);
    if (p.family == 0) throw std::runtime_error("bundle ipcache: bad address " + ip);
    p.length = length < 0 ? (p.family == 4 ? 32 : 128) : length;
    p.class_id = class_id;
    prefixes_.push_back(p);
  };
  auto split_name = [](const std::string& name) {
    size_t slash = name.find('/');
    return slash == std::string::npos ? std::pair{std::string(), name}
                                      : std::pair{name.substr(0, slash), name.substr(slash + 1)};
  };
  std::map<std::string, uint32_t> class_of_endpoint;
  for (const auto& c : meta.at("classes")) {
    uint32_t id = c.at("id").get<uint32_t>();
    labels_[id] = split_labels(c.value("labels", ""));
    identities_[id] = reserved_identity(c.value("kind", ""), labels_[id]);
    if (identities_[id] == 0) identities_[id] = 256 + id;
  }
  for (const auto& e : meta.at("endpoints")) {
    std::string name = e.at("name");
    uint32_t class_id = e.at("class").get<uint32_t>();
    class_of_endpoint[name] = class_id;
    pods_of_class_[class_id].push_back(split_name(name));
    for (const auto& ip : e.value("ips", json::array())) pod_by_ip_[ip.get<std::string>()] = split_name(name);
  }
  // The agent's endpoints first: an address newer than the compile's inventory wins.
  for (const auto& [name, ip] : endpoints) {
    auto it = class_of_endpoint.find(name);
    if (it == class_of_endpoint.end()) continue;
    add_prefix(ip, -1, it->second);
    pod_by_ip_[ip] = split_name(name);
  }
  for (const auto& entry : ipcache) {
    std::string prefix = entry.at("prefix");
    size_t slash = prefix.find('/');
    int length = slash == std::string::npos ? -1 : std::stoi(prefix.substr(slash + 1));
    add_prefix(prefix.substr(0, slash), length, entry.at("class").get<uint32_t>());
  }
  // Host entries by exact address (the agent's endpoints were added first:
  // they win), the rest longest prefix first.
  std::vector<Prefix> networks;
  for (const auto& p : prefixes_) {
    if (p.length == (p.family == 4 ? 32 : 128))
      hosts_.emplace(host_key(p.family, p.addr), p.class_id);
    else
      networks.push_back(p);
  }
  std::stable_sort(networks.begin(), networks.end(),
                   [](const Prefix& a, const Prefix& b) { return a.length > b.length; });
  prefixes_ = std::move(networks);
  for (const auto& r : meta.at("rules"))
    rules_[r.at("id").get<uint32_t>()] = {r.value("kind", ""), r.value("namespace", ""), r.value("name", "")};
}

ResolvedAddress EndpointIndex::resolve(const std::string& ip) const {
  ResolvedAddress out;
  unsigned char addr[16];
  int family = parse_ip(ip, addr);
  if (auto host = hosts_.find(host_key(family, addr)); host != hosts_.end()) {
    out.class_id = host->second;
  } else {
    for (const auto& p : prefixes_) {
      if (p.family == family && prefix_contains(p.addr, p.length, addr)) {
        out.class_id = p.class_id;
        break;
      }
    }
  }
  if (auto pod = pod_by_ip_.find(ip); pod != pod_by_ip_.end()) std::tie(out.ns, out.pod) = pod->second;
  if (auto labels = labels_.find(out.class_id); labels != labels_.end()) out.labels = labels->second;
  return out;
}

FlowEndpoint EndpointIndex::endpoint(const std::string& ip, uint16_t port) const {
  ResolvedAddress r = resolve(ip);
  FlowEndpoint e;
  e.ip = ip;
  e.port = port;
  e.identity = identity_of(r.class_id);
  e.ns = r.ns;
  e.pod = r.pod;
  e.labels = r.labels;
  return e;
}

uint32_t EndpointIndex::identity_of(uint32_t class_id) const {
  auto it = identities_.find(class_id);
  return it == identities_.end() ? 0 : it->second;
}

FlowEndpoint EndpointIndex::endpoint_of_class(uint32_t class_id, const std::string& ip, uint16_t port) const {
  FlowEndpoint e;
  e.ip = ip;
  e.port = port;
  e.identity = identity_of(class_id);
  if (auto labels = labels_.find(class_id); labels != labels_.end()) e.labels = labels->second;
  static const std::string ns_label = "k8s:io.kubernetes.pod.namespace=";
  for (const auto& label : e.labels)
    if (label.rfind(ns_label, 0) == 0) e.ns = label.substr(ns_label.size());
  if (auto pods = pods_of_class_.find(class_id); pods != pods_of_class_.end() && pods->second.size() == 1)
    std::tie(e.ns, e.pod) = pods->second.front();
  return e;
}

std::optional<FlowPolicy> EndpointIndex::policy_of_rule(uint32_t rule_id) const {
  auto it = rules_.find(rule_id);
  if (it == rules_.end()) return std::nullopt;
  return it->second;
}

std::vector<FlowPolicy> EndpointIndex::policies_of(const std::vector<uint32_t>& rule_ids) const {
  std::vector<FlowPolicy> out;
  for (uint32_t id : rule_ids) {
    auto p = policy_of_rule(id);
    if (!p) continue;
    bool seen = std::any_of(out.begin(), out.end(), [&](const FlowPolicy& q) {
      return q.kind == p->kind && q.ns == p->ns && q.name == p->name;
    });
    if (!seen) out.push_back(*p);
  }
  return out;
}

}  // namespace cnpc::agent
