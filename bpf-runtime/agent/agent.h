// cnpc-agent: loads a bundle, attaches each endpoint's programs to its
// host-side veth (tc, clsact), keeps the ipcache, pins the shared maps,
// runs the L7 proxies the datapath steers to, writes flows as Hubble jsonpb
// lines and swaps bundles atomically on reload.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cnpc/runtime/runtime.h"
#include "flow_log.h"
#include "l7_enforcer.h"
#include "proxy.h"
#include "proxy_route.h"
#include "tc.h"

namespace cnpc::agent {

struct EndpointSpec {
  std::string name;       // NS/POD, as metadata.json endpoints[].name
  std::string ip;         // A.B.C.D (or an IPv6 address)
  std::string interface;  // the host-side veth
};
// A YAML or JSON list of {name, ip, interface}; throws std::runtime_error.
std::vector<EndpointSpec> read_endpoints(const std::string& path);

struct Options {
  std::string bundle, endpoints, pin_dir = "/sys/fs/bpf/cnpc";
  std::string events = kDefaultFlowLog;  // "-": standard output
  std::string node_name;                 // "" = the host name
  bool proxies = true;                   // run the HTTP and DNS proxies
  // One agent per node: held (flock) while it runs. Holding it, the agent
  // takes over the filters a crashed predecessor left attached.
  std::string lock_file = "/run/cnpc/agent.lock";
  uint16_t http_proxy_port = 15001, dns_proxy_port = 15053;  // on 127.0.0.1
};

class Agent {
 public:
  // Loads the bundle, fills the ipcache, attaches every endpoint, pins the
  // shared maps. Throws std::runtime_error; whatever was attached is undone.
  explicit Agent(Options options);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  ~Agent();  // detaches every filter, removes the pins (and the mount) it made

  // Loads the bundle again and swaps the programs in place. On any failure
  // logs the reason and keeps the running programs (fail closed); false then.
  bool reload();
  // Reloads when manifest.json changed since the last attempt.
  void reload_if_changed();
  // Writes the events submitted since the last call.
  void write_events();

 private:
  struct Generation;  // one loaded bundle with what the agent derives from it
  struct Attachment {
    EndpointSpec spec;
    int ifindex = 0;
    // Declaration order is teardown order reversed: filters go before the qdisc.
    std::unique_ptr<Clsact> qdisc;
    std::unique_ptr<TcFilter> pod_egress;   // cnpc_egress at tc ingress of the host veth
    std::unique_ptr<TcFilter> pod_ingress;  // cnpc_ingress at tc egress of the host veth
  };

  std::unique_ptr<Generation> load_generation(int reuse_ct_fd) const;
  void write_events(Generation& gen);
  void pin_maps(const Generation& gen);
  void unpin();

  // The node's agent lock (flock; the kernel drops it if the process dies).
  // First member: released last, once the proxies and filters are gone.
  class NodeLock {
   public:
    explicit NodeLock(const std::string& path);  // throws when another agent holds it
    NodeLock(const NodeLock&) = delete;
    NodeLock& operator=(const NodeLock&) = delete;
    ~NodeLock();

   private:
    int fd_ = -1;
  };
  NodeLock lock_;
  Options options_;
  std::vector<EndpointSpec> endpoints_;
  // Declaration order is teardown order reversed: the programs go before
  // the route and the proxies, the proxies before the enforcer and the log.
  std::unique_ptr<FlowLog> log_;
  std::unique_ptr<L7Enforcer> enforcer_;
  std::unique_ptr<HttpProxy> http_proxy_;
  std::unique_ptr<DnsProxy> dns_proxy_;
  std::unique_ptr<ProxyRoute> route_;
  std::unique_ptr<Generation> gen_;
  std::vector<Attachment> attached_;
  std::string last_manifest_;  // manifest.json of the last load attempt
  std::string mounted_at_;  // a bpffs this agent mounted
  bool created_pin_dir_ = false;
  std::vector<std::string> pins_;
};

}  // namespace cnpc::agent
