// The transparent L7 proxies of cnpc-agent: HTTP/1.1 (keep-alive and
// pipelining, parsed with http-parser) and DNS over UDP and TCP on one port
// (parsed with libresolv's ns_* functions). The datapath steers a flow's packets to the
// proxy's listening socket with bpf_sk_assign (docs/bpf-runtime.md), so the
// accepted socket's local address is the original destination. What to
// allow and what to record is the caller's: the proxies only move bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"

namespace cnpc::agent {

struct SocketAddr {
  std::string ip;  // textual IPv4 or IPv6
  uint16_t port = 0;
  bool operator==(const SocketAddr&) const = default;
};

// One proxied connection (HTTP) or query (DNS): the client and the
// destination it addressed.
struct ProxiedFlow {
  SocketAddr client, server;
  uint8_t ip_proto = 6;
};

struct HttpExchange {
  ir::HttpRequest request;  // method, path (the request target as sent), host, headers
  std::string url;          // http://HOST[:PORT]PATH as Hubble shows it
  int status = 0;           // the upstream's status, 403 when denied, 502/503 when upstream failed
  bool allowed = false;
  std::chrono::nanoseconds latency{0};  // request complete -> response headers
};

struct DnsExchange {
  std::string qname;                // as asked, without the trailing dot
  std::vector<std::string> qtypes;  // "A", "AAAA", … (numeric for unknown types)
  int rcode = 0;                    // of the answer the client got (5 REFUSED when denied)
  std::vector<std::string> ips;     // A/AAAA answers
  bool allowed = false;
};

// Decides for the HTTP proxy. Called from the proxy's threads, concurrently.
class HttpJudge {
 public:
  virtual ~HttpJudge() = default;
  // A new client connection: nullopt refuses it (the client gets a reset),
  // otherwise the SO_MARK for the proxy's upstream connection.
  virtual std::optional<uint32_t> admit(const ProxiedFlow& flow) = 0;
  virtual bool allow(const ProxiedFlow& flow, const ir::HttpRequest& request) = 0;
  // After the response (or the 403) was written to the client.
  virtual void record(const ProxiedFlow& flow, const HttpExchange& exchange) = 0;
};

// Decides for the DNS proxy. Called concurrently.
class DnsJudge {
 public:
  virtual ~DnsJudge() = default;
  virtual std::optional<uint32_t> admit(const ProxiedFlow& flow) = 0;  // nullopt: drop the query silently
  virtual bool allow(const ProxiedFlow& flow, const std::string& qname) = 0;
  virtual void record(const ProxiedFlow& flow, const DnsExchange& exchange) = 0;
};

struct ProxyOptions {
  std::string bind_ip = "0.0.0.0";
  uint16_t port = 0;         // 0: any free port (see port())
  bool transparent = true;   // IP_TRANSPARENT: accept steered traffic; upstream = original destination
  // Non-transparent mode (tests, benchmarks): every flow goes here.
  std::optional<SocketAddr> upstream;
  std::chrono::milliseconds upstream_timeout{5000};
};

class HttpProxy {
 public:
  // Binds and starts serving on its own threads. Throws std::runtime_error.
  HttpProxy(ProxyOptions options, HttpJudge& judge);
  HttpProxy(const HttpProxy&) = delete;
  HttpProxy& operator=(const HttpProxy&) = delete;
  ~HttpProxy();  // stops accepting, closes every connection, joins
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class DnsProxy {
 public:
  DnsProxy(ProxyOptions options, DnsJudge& judge);
  DnsProxy(const DnsProxy&) = delete;
  DnsProxy& operator=(const DnsProxy&) = delete;
  ~DnsProxy();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnpc::agent
