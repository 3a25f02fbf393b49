// Flow events in Hubble's jsonpb shape (flow.proto marshalled with
// UseProtoNames, one GetFlowsResponse per line: {"flow": {...},
// "node_name": ..., "time": ...}), so `hubble observe --input-file`, jq
// snippets written for Hubble and `cnpc observe` read them alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace cnpc::agent {

// Where cnpc-agent writes flows and `cnpc observe` reads them by default.
inline constexpr const char* kDefaultFlowLog = "/run/cnpc/flows.json";

struct FlowEndpoint {
  std::string ip;
  uint16_t port = 0;
  uint32_t identity = 0;  // the identity class (0: unknown)
  std::string ns, pod;    // empty when not a pod
  std::vector<std::string> labels;  // "k8s:app=web", "reserved:world", …
};

struct FlowPolicy {
  std::string kind, ns, name;  // e.g. CiliumNetworkPolicy blog-system api-read-only
};

struct FlowHttp {
  int code = 0;
  std::string method, url, protocol = "HTTP/1.1";
  std::vector<std::pair<std::string, std::string>> headers;
};

struct FlowDns {
  std::string query;  // with the trailing dot, as Hubble prints it
  std::vector<std::string> ips, qtypes;
  int rcode = 0;
};

struct FlowRecord {
  int64_t time_ns = 0;       // Unix time
  std::string verdict;       // FORWARDED DROPPED AUDIT REDIRECTED
  std::string drop_reason;   // "" or POLICY_DENIED / POLICY_DENY (number derived)
  uint8_t ip_proto = 6;      // 6 TCP, 17 UDP, 132 SCTP, 1 ICMP, 58 ICMPv6
  uint8_t icmp_type = 0;     // ICMP flows only (their ports stay 0)
  bool ipv6 = false;
  FlowEndpoint source, destination;
  std::string traffic_direction;  // INGRESS EGRESS
  bool l7 = false;                // Type L7 (else L3_L4)
  std::string l7_type = "RESPONSE";
  uint64_t latency_ns = 0;
  std::optional<FlowHttp> http;
  std::optional<FlowDns> dns;
  // The policies that decided: *_allowed_by when forwarded, *_denied_by when dropped.
  std::vector<FlowPolicy> policies;
  std::optional<bool> is_reply;
  std::string node_name;
};

// {"flow": {...}, "node_name": ..., "time": ...}
nlohmann::json to_hubble_json(const FlowRecord& record);
// RFC 3339, UTC, as protojson writes a Timestamp: 0, 3, 6 or 9 fractional
// digits, whichever keeps every non-zero one ("2026-01-05T10:00:00Z",
// "2026-01-05T10:00:00.120Z", "2026-01-05T10:00:00.123456789Z").
std::string rfc3339(int64_t unix_ns);

}  // namespace cnpc::agent
