// The policy route that delivers steered packets to the proxies: the
// datapath marks a packet it assigned to a proxy socket (bpf_sk_assign)
// with CNPC_MARK | REDIRECT << 8 | TO_PROXY, and this rule sends exactly
// that mark to a table whose default route is local — without it the
// kernel would forward the packet to its original destination.
#pragma once

#include <string>

namespace cnpc::agent {

class ProxyRoute {
 public:
  // Adds `ip rule fwmark MARK lookup TABLE` and `local 0.0.0.0/0 dev lo`
  // in TABLE (iproute2). Throws std::runtime_error with ip's message.
  explicit ProxyRoute(int table = 2004);
  ProxyRoute(const ProxyRoute&) = delete;
  ProxyRoute& operator=(const ProxyRoute&) = delete;
  ~ProxyRoute();  // removes both

 private:
  int table_;
};

}  // namespace cnpc::agent
