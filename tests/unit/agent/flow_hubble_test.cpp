// to_hubble_json: the exact jsonpb Hubble writes for the flows our agent
// reports (whole objects compared, so a stray or missing key fails).
#include <gtest/gtest.h>

#include "hubble_flow.h"

namespace cnpc::agent {
namespace {

using json = nlohmann::json;

// 2026-01-05T10:00:00Z
constexpr int64_t kJan5 = 1767607200LL * 1000000000LL;

FlowEndpoint pod(const std::string& ip, uint16_t port, uint32_t identity, const std::string& name,
                 const std::string& app) {
  FlowEndpoint ep;
  ep.ip = ip;
  ep.port = port;
  ep.identity = identity;
  ep.ns = "blog-system";
  ep.pod = name;
  ep.labels = {"k8s:app=" + app, "k8s:io.kubernetes.pod.namespace=blog-system"};
  return ep;
}

TEST(Rfc3339, ProtojsonFractionDigits) {
  EXPECT_EQ(rfc3339(kJan5), "2026-01-05T10:00:00Z");
  EXPECT_EQ(rfc3339(kJan5 + 120000000), "2026-01-05T10:00:00.120Z");
  EXPECT_EQ(rfc3339(kJan5 + 123456000), "2026-01-05T10:00:00.123456Z");
  EXPECT_EQ(rfc3339(kJan5 + 123456789), "2026-01-05T10:00:00.123456789Z");
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(HubbleFlow, L3L4PolicyDrop) {
  FlowRecord r;
  r.time_ns = kJan5 + 1000000;
  r.verdict = "DROPPED";
  r.drop_reason = "POLICY_DENIED";
  r.ip_proto = 6;
  r.source = pod("10.0.1.5", 40000, 3, "web-6d4f9-abcde", "web");
  r.destination = pod("10.0.2.7", 3306, 5, "mysql-0", "mysql");
  r.traffic_direction = "INGRESS";
  r.policies = {{"CiliumNetworkPolicy", "blog-system", "mysql-access-control"}};
  r.node_name = "worker-1";

  const json want = json::parse(R"J({
    "flow": {
      "time": "2026-01-05T10:00:00.001Z",
      "verdict": "DROPPED",
      "drop_reason": 133,
      "drop_reason_desc": "POLICY_DENIED",
      "IP": {"source": "10.0.1.5", "destination": "10.0.2.7", "ipVersion": "IPv4"},
      "l4": {"TCP": {"source_port": 40000, "destination_port": 3306}},
      "source": {"identity": 3, "namespace": "blog-system",
                 "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=blog-system"],
                 "pod_name": "web-6d4f9-abcde"},
      "destination": {"identity": 5, "namespace": "blog-system",
                      "labels": ["k8s:app=mysql", "k8s:io.kubernetes.pod.namespace=blog-system"],
                      "pod_name": "mysql-0"},
      "Type": "L3_L4",
      "node_name": "worker-1",
      "traffic_direction": "INGRESS",
      "event_type": {"type": 1, "sub_type": 133},
      "ingress_denied_by": [{"name": "mysql-access-control", "namespace": "blog-system",
                             "kind": "CiliumNetworkPolicy"}],
      "Summary": "TCP 3306"
    },
    "node_name": "worker-1",
    "time": "2026-01-05T10:00:00.001Z"
  })J");
  EXPECT_EQ(to_hubble_json(r), want) << to_hubble_json(r).dump(2);
}

TEST(HubbleFlow, ExplicitDenyIs181) {
  FlowRecord r;
  r.verdict = "DROPPED";
  r.drop_reason = "POLICY_DENY";
  r.traffic_direction = "EGRESS";
  r.policies = {{"CiliumClusterwideNetworkPolicy", "", "deny-world"}};
  const json j = to_hubble_json(r)["flow"];
  EXPECT_EQ(j["drop_reason"], 181);
  EXPECT_EQ(j["event_type"], json::parse(R"J({"type": 1, "sub_type": 181})J"));
  EXPECT_EQ(j["egress_denied_by"], json::parse(R"J([{"name": "deny-world", "kind": "CiliumClusterwideNetworkPolicy"}])J"));
  EXPECT_FALSE(j.contains("ingress_denied_by"));
  EXPECT_FALSE(j.contains("egress_allowed_by"));
}

TEST(HubbleFlow, L7HttpForbidden) {
  FlowRecord r;
  r.time_ns = kJan5 + 123456789;
  r.verdict = "DROPPED";
  r.ip_proto = 6;
  r.source = pod("10.0.1.5", 34567, 3, "web-6d4f9-abcde", "web");
  r.destination = pod("10.0.2.9", 8080, 4, "was-7c9d8-fghij", "was");
  r.traffic_direction = "INGRESS";
  r.l7 = true;
  r.l7_type = "RESPONSE";
  r.latency_ns = 5000000000ULL;  // beyond 32 bits' worth of a JSON number in some readers
  r.http = FlowHttp{403, "POST", "http://was-service:8080/api/posts", "HTTP/1.1", {{"Content-Type", "application/json"}}};
  r.policies = {{"CiliumNetworkPolicy", "blog-system", "api-read-only"}};
  r.is_reply = true;

  const json want = json::parse(R"J({
    "flow": {
      "time": "2026-01-05T10:00:00.123456789Z",
      "verdict": "DROPPED",
      "IP": {"source": "10.0.1.5", "destination": "10.0.2.9", "ipVersion": "IPv4"},
      "l4": {"TCP": {"source_port": 34567, "destination_port": 8080}},
      "source": {"identity": 3, "namespace": "blog-system",
                 "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=blog-system"],
                 "pod_name": "web-6d4f9-abcde"},
      "destination": {"identity": 4, "namespace": "blog-system",
                      "labels": ["k8s:app=was", "k8s:io.kubernetes.pod.namespace=blog-system"],
                      "pod_name": "was-7c9d8-fghij"},
      "Type": "L7",
      "l7": {"type": "RESPONSE", "latency_ns": "5000000000",
             "http": {"code": 403, "method": "POST", "url": "http://was-service:8080/api/posts",
                      "protocol": "HTTP/1.1", "headers": [{"key": "Content-Type", "value": "application/json"}]}},
      "is_reply": true,
      "traffic_direction": "INGRESS",
      "event_type": {"type": 129},
      "ingress_denied_by": [{"name": "api-read-only", "namespace": "blog-system", "kind": "CiliumNetworkPolicy"}],
      "Summary": "HTTP/1.1 403 5000ms (POST http://was-service:8080/api/posts)"
    },
    "time": "2026-01-05T10:00:00.123456789Z"
  })J");
  EXPECT_EQ(to_hubble_json(r), want) << to_hubble_json(r).dump(2);
  EXPECT_TRUE(to_hubble_json(r)["flow"]["l7"]["latency_ns"].is_string());
}

TEST(HubbleFlow, HttpRequestForwardedAllowedBy) {
  FlowRecord r;
  r.verdict = "FORWARDED";
  r.traffic_direction = "INGRESS";
  r.l7 = true;
  r.l7_type = "REQUEST";
  r.http = FlowHttp{0, "GET", "http://was:8080/api/posts", "HTTP/1.1", {}};
  r.policies = {{"CiliumNetworkPolicy", "blog-system", "api-read-only"}};
  r.is_reply = false;
  const json f = to_hubble_json(r)["flow"];
  EXPECT_EQ(f["l7"], json::parse(R"J({"type": "REQUEST",
      "http": {"method": "GET", "url": "http://was:8080/api/posts", "protocol": "HTTP/1.1"}})J"));
  EXPECT_EQ(f["Summary"], "HTTP/1.1 GET http://was:8080/api/posts");
  EXPECT_EQ(f["is_reply"], false);  // a set BoolValue is written even when false
  EXPECT_TRUE(f.contains("ingress_allowed_by"));
  EXPECT_FALSE(f.contains("ingress_denied_by"));
}

TEST(HubbleFlow, DnsRefused) {
  FlowRecord r;
  r.time_ns = kJan5;
  r.verdict = "DROPPED";
  r.ip_proto = 17;
  r.source = pod("10.0.1.5", 53124, 3, "web-6d4f9-abcde", "web");
  r.destination.ip = "10.96.0.10";
  r.destination.port = 53;
  r.destination.identity = 102;
  r.destination.ns = "kube-system";
  r.destination.pod = "coredns-5d78c-xyz12";
  r.traffic_direction = "EGRESS";
  r.l7 = true;
  r.l7_type = "RESPONSE";
  r.dns = FlowDns{"evil.example.com.", {}, {"A"}, 5};

  const json want = json::parse(R"J({
    "flow": {
      "time": "2026-01-05T10:00:00Z",
      "verdict": "DROPPED",
      "IP": {"source": "10.0.1.5", "destination": "10.96.0.10", "ipVersion": "IPv4"},
      "l4": {"UDP": {"source_port": 53124, "destination_port": 53}},
      "source": {"identity": 3, "namespace": "blog-system",
                 "labels": ["k8s:app=web", "k8s:io.kubernetes.pod.namespace=blog-system"],
                 "pod_name": "web-6d4f9-abcde"},
      "destination": {"identity": 102, "namespace": "kube-system", "pod_name": "coredns-5d78c-xyz12"},
      "Type": "L7",
      "l7": {"type": "RESPONSE", "dns": {"query": "evil.example.com.", "rcode": 5, "qtypes": ["A"]}},
      "traffic_direction": "EGRESS",
      "event_type": {"type": 129},
      "Summary": "DNS Answer RCode: Refused (Query evil.example.com. A)"
    },
    "time": "2026-01-05T10:00:00Z"
  })J");
  EXPECT_EQ(to_hubble_json(r), want) << to_hubble_json(r).dump(2);
}

TEST(HubbleFlow, ZeroValuesOmitted) {
  FlowRecord r;  // nothing known but the protocol
  r.ip_proto = 17;
  r.ipv6 = true;
  const json j = to_hubble_json(r);
  EXPECT_FALSE(j.contains("node_name"));
  const json& f = j["flow"];
  EXPECT_EQ(f["IP"], json::parse(R"J({"ipVersion": "IPv6"})J"));
  EXPECT_EQ(f["l4"], json::parse(R"J({"UDP": {}})J"));
  EXPECT_EQ(f["source"], json::object());
  EXPECT_EQ(f["destination"], json::object());
  for (const char* key : {"verdict", "drop_reason", "drop_reason_desc", "l7", "is_reply", "traffic_direction",
                          "node_name", "ingress_allowed_by", "egress_allowed_by", "ingress_denied_by",
                          "egress_denied_by"})
    EXPECT_FALSE(f.contains(key)) << key;
  EXPECT_EQ(f["event_type"], json::parse(R"J({"type": 4})J"));
}

TEST(HubbleFlow, IcmpTypeAndTraceSubtype) {
  FlowRecord r;
  r.verdict = "FORWARDED";
  r.ip_proto = 1;
  r.icmp_type = 8;
  r.traffic_direction = "EGRESS";
  const json f = to_hubble_json(r)["flow"];
  EXPECT_EQ(f["l4"], json::parse(R"J({"ICMPv4": {"type": 8}})J"));
  EXPECT_EQ(f["event_type"], json::parse(R"J({"type": 4, "sub_type": 5})J"));
  EXPECT_EQ(f["Summary"], "ICMPv4 type 8");
}

}  // namespace
}  // namespace cnpc::agent
