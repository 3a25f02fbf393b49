// What the agent knows about addresses and rules of one loaded bundle:
// address -> identity class (longest prefix of ipcache.json, the agent's
// endpoints first), class -> labels, endpoint -> namespace/pod, rule id ->
// policy. Immutable once built; shared by the event writer and the proxies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hubble_flow.h"

namespace cnpc::agent {

struct ResolvedAddress {
  uint32_t class_id = 0xFFFFFFFFu;  // runtime::kNoClass when unknown
  std::string ns, pod;              // a local or inventory endpoint
  std::vector<std::string> labels;  // of the class
};

class EndpointIndex {
 public:
  // metadata.json and ipcache.json of a bundle (parsed JSON text); the
  // agent's endpoints (name NS/POD, ip) override the compile's addresses.
  // Throws std::runtime_error on malformed input.
  EndpointIndex(const std::string& metadata_json, const std::string& ipcache_json,
                const std::vector<std::pair<std::string, std::string>>& endpoints);

  ResolvedAddress resolve(const std::string& ip) const;  // textual IPv4/IPv6
  // FlowEndpoint for an address and port.
  FlowEndpoint endpoint(const std::string& ip, uint16_t port) const;
  // FlowEndpoint for a class seen at an address that is not its own (the
  // proxy's upstream connection carries the client's class in its mark):
  // the class's identity, labels and namespace; the pod when the class has
  // exactly one.
  FlowEndpoint endpoint_of_class(uint32_t class_id, const std::string& ip, uint16_t port) const;
  // Hubble's identity of a class, in Cilium's numbering: the reserved
  // identities by name (host 1, world 2, unmanaged 3, health 4, init 5,
  // remote-node 6, kube-apiserver 7, ingress 8), pod classes 256 + the
  // class id (Cilium's cluster-local identities start at 256); 0 unknown.
  uint32_t identity_of(uint32_t class_id) const;
  std::optional<FlowPolicy> policy_of_rule(uint32_t rule_id) const;
  // Distinct policies of some rules, in first-seen order.
  std::vector<FlowPolicy> policies_of(const std::vector<uint32_t>& rule_ids) const;

 private:
  struct Prefix {
    int family = 4;
    unsigned char addr[16] = {};
    int length = 0;
    uint32_t class_id = 0;
  };
  std::vector<Prefix> prefixes_;  // shorter than a host's, longest first
  std::map<std::string, uint32_t> hosts_;  // /32 and /128 entries by family byte + address bytes
  std::map<std::string, std::pair<std::string, std::string>> pod_by_ip_;  // ip -> (ns, pod)
  std::map<uint32_t, std::vector<std::string>> labels_;
  std::map<uint32_t, uint32_t> identities_;
  std::map<uint32_t, std::vector<std::pair<std::string, std::string>>> pods_of_class_;  // (ns, pod)
  std::map<uint32_t, FlowPolicy> rules_;
};

}  // namespace cnpc::agent
