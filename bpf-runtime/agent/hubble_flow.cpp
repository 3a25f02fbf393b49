// FlowRecord -> one Hubble GetFlowsResponse in jsonpb form. protojson rules
// that matter to readers: proto field names, enums as names, 64-bit integers
// as strings, zero values (0, "", empty lists, unset messages) left out,
// BoolValue wrappers written whenever set, even when false.
#include "hubble_flow.h"

#include <cstdio>
#include <ctime>
#include <iterator>

namespace cnpc::agent {

using json = nlohmann::json;

namespace {

// flow.proto DropReason numbers for the descriptions the agent emits.
int drop_reason_number(const std::string& desc) {
  if (desc == "POLICY_DENIED") return 133;
  if (desc == "POLICY_DENY") return 181;
  if (desc == "AUTH_REQUIRED") return 189;
  return 0;
}

// Cilium monitor message types (pkg/monitor/api/types.go).
constexpr int kMessageTypeDrop = 1;
constexpr int kMessageTypeTrace = 4;
constexpr int kMessageTypeAccessLog = 129;
// Trace observation points: a packet leaving a pod is seen "from-endpoint",
// one delivered to it "to-endpoint" (TraceToLxc, 0, which protojson omits).
constexpr int kTraceFromEndpoint = 5;

void put_if(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

template <typename Int>
void put_if(json& j, const char* key, Int value) {
  if (value != 0) j[key] = value;
}

json endpoint_json(const FlowEndpoint& ep) {
  json j = json::object();
  put_if(j, "identity", ep.identity);
  put_if(j, "namespace", ep.ns);
  if (!ep.labels.empty()) j["labels"] = ep.labels;
  put_if(j, "pod_name", ep.pod);
  return j;
}

json l4_json(const FlowRecord& r) {
  const char* name = nullptr;
  switch (r.ip_proto) {
    case 6: name = "TCP"; break;
    case 17: name = "UDP"; break;
    case 132: name = "SCTP"; break;
    case 1: name = "ICMPv4"; break;
    case 58: name = "ICMPv6"; break;
    default: return nullptr;
  }
  json inner = json::object();
  if (r.ip_proto == 1 || r.ip_proto == 58) {
    put_if(inner, "type", unsigned(r.icmp_type));
  } else {
    put_if(inner, "source_port", unsigned(r.source.port));
    put_if(inner, "destination_port", unsigned(r.destination.port));
  }
  return json{{name, inner}};
}

std::string dns_rcode_name(int rcode) {
  static const char* const kNames[] = {"NoError", "FormErr", "ServFail", "NXDomain", "NotImp", "Refused"};
  if (rcode >= 0 && rcode < int(std::size(kNames))) return kNames[rcode];
  return "RCode " + std::to_string(rcode);
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// Short, in the spirit of Cilium's L7 parsers (pkg/hubble/parser/seven).
std::string summary(const FlowRecord& r) {
  std::string s;
  if (r.http) {
    const FlowHttp& h = *r.http;
    if (r.l7_type == "REQUEST") {
      s.append(h.protocol).append(" ").append(h.method).append(" ").append(h.url);
    } else {
      s.append(h.protocol).append(" ").append(std::to_string(h.code)).append(" ");
      s.append(std::to_string(r.latency_ns / 1000000)).append("ms (");
      s.append(h.method).append(" ").append(h.url).append(")");
    }
    return s;
  }
  if (r.dns) {
    const FlowDns& d = *r.dns;
    const std::string qtypes = join(d.qtypes, ",");
    if (r.l7_type == "REQUEST") {
      s.append("DNS Query ").append(d.query);
      if (!qtypes.empty()) s.append(" ").append(qtypes);
    } else if (d.rcode != 0) {
      s.append("DNS Answer RCode: ").append(dns_rcode_name(d.rcode)).append(" (Query ").append(d.query);
      if (!qtypes.empty()) s.append(" ").append(qtypes);
      s.append(")");
    } else {
      s.append("DNS Answer \"").append(join(d.ips, ",")).append("\" (Query ").append(d.query);
      if (!qtypes.empty()) s.append(" ").append(qtypes);
      s.append(")");
    }
    return s;
  }
  switch (r.ip_proto) {
    case 1: return "ICMPv4 type " + std::to_string(r.icmp_type);
    case 58: return "ICMPv6 type " + std::to_string(r.icmp_type);
    case 6: s = "TCP"; break;
    case 17: s = "UDP"; break;
    case 132: s = "SCTP"; break;
    default: return "IP protocol " + std::to_string(r.ip_proto);
  }
  if (r.destination.port != 0) s.append(" ").append(std::to_string(r.destination.port));
  return s;
}

}  // namespace

std::string rfc3339(int64_t unix_ns) {
  // Floor division so times before 1970 still get a non-negative fraction.
  int64_t secs = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  const std::time_t t = std::time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (nanos != 0) {
    if (nanos % 1000000 == 0)
      n += std::snprintf(buf + n, sizeof buf - n, ".%03lld", static_cast<long long>(nanos / 1000000));
    else if (nanos % 1000 == 0)
      n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(nanos / 1000));
    else
      n += std::snprintf(buf + n, sizeof buf - n, ".%09lld", static_cast<long long>(nanos));
  }
  std::string out(buf, n);
  out += 'Z';
  return out;
}

json to_hubble_json(const FlowRecord& r) {
  json f = json::object();
  const std::string time = rfc3339(r.time_ns);
  f["time"] = time;
  put_if(f, "verdict", r.verdict);
  if (!r.drop_reason.empty()) {
    put_if(f, "drop_reason", drop_reason_number(r.drop_reason));
    f["drop_reason_desc"] = r.drop_reason;
  }

  json ip = json::object();
  put_if(ip, "source", r.source.ip);
  put_if(ip, "destination", r.destination.ip);
  ip["ipVersion"] = r.ipv6 ? "IPv6" : "IPv4";
  f["IP"] = ip;
  if (json l4 = l4_json(r); !l4.is_null()) f["l4"] = l4;

  f["source"] = endpoint_json(r.source);
  f["destination"] = endpoint_json(r.destination);
  f["Type"] = r.l7 ? "L7" : "L3_L4";
  put_if(f, "node_name", r.node_name);

  if (r.l7) {
    json l7 = json::object();
    put_if(l7, "type", r.l7_type);
    if (r.latency_ns != 0) l7["latency_ns"] = std::to_string(r.latency_ns);  // uint64: a string in protojson
    if (r.http) {
      json h = json::object();
      put_if(h, "code", r.http->code);
      put_if(h, "method", r.http->method);
      put_if(h, "url", r.http->url);
      put_if(h, "protocol", r.http->protocol);
      if (!r.http->headers.empty()) {
        json headers = json::array();
        for (const auto& [key, value] : r.http->headers) headers.push_back({{"key", key}, {"value", value}});
        h["headers"] = headers;
      }
      l7["http"] = h;
    } else if (r.dns) {
      json d = json::object();
      put_if(d, "query", r.dns->query);
      if (!r.dns->ips.empty()) d["ips"] = r.dns->ips;
      put_if(d, "rcode", r.dns->rcode);
      if (!r.dns->qtypes.empty()) d["qtypes"] = r.dns->qtypes;
      l7["dns"] = d;
    }
    f["l7"] = l7;
  }

  if (r.is_reply) f["is_reply"] = *r.is_reply;
  put_if(f, "traffic_direction", r.traffic_direction);

  // Hubble's printer names a drop by its sub_type (the drop reason) and a
  // trace by its observation point, so both are filled in as Cilium does.
  json event = json::object();
  if (r.l7) {
    event["type"] = kMessageTypeAccessLog;
  } else if (r.verdict == "DROPPED") {
    event["type"] = kMessageTypeDrop;
    put_if(event, "sub_type", drop_reason_number(r.drop_reason));
  } else {
    event["type"] = kMessageTypeTrace;
    if (r.traffic_direction == "EGRESS") event["sub_type"] = kTraceFromEndpoint;
  }
  f["event_type"] = event;

  // A drop (and an audit: a drop that was let through) is decided by what
  // denies; anything forwarded by what allows.
  if (!r.policies.empty() && (r.traffic_direction == "INGRESS" || r.traffic_direction == "EGRESS")) {
    const bool denied = r.verdict == "DROPPED" || r.verdict == "AUDIT";
    const bool ingress = r.traffic_direction == "INGRESS";
    const char* key = ingress ? (denied ? "ingress_denied_by" : "ingress_allowed_by")
                              : (denied ? "egress_denied_by" : "egress_allowed_by");
    json by = json::array();
    for (const auto& p : r.policies) {
      json pj = json::object();
      put_if(pj, "name", p.name);
      put_if(pj, "namespace", p.ns);
      put_if(pj, "kind", p.kind);
      by.push_back(pj);
    }
    f[key] = by;
  }
  f["Summary"] = summary(r);

  json out = json::object();
  out["flow"] = f;
  put_if(out, "node_name", r.node_name);
  out["time"] = time;
  return out;
}

}  // namespace cnpc::agent
