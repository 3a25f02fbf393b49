// cnpc observe: `hubble observe` over the agent's flow log (or any file of
// Hubble jsonpb lines): the same filters with the same logic (a flag given
// twice matches either value, different flags must all match), the same
// --last/--first/--since/--until/--follow, and the compact or jsonpb output.
// docs/observe.md is the user's page.
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <sstream>
#include <tuple>

#include "cli.h"

namespace cnpc::cli {

using json = nlohmann::ordered_json;  // re-serialized lines keep the input's key order

namespace {

constexpr int64_t kNsPerSec = 1000000000;
// Hubble prints this many flows when nothing says how many (defaults.FlowPrintCount).
constexpr int64_t kDefaultLast = 20;
// How often --follow looks at the file again.
constexpr int kFollowPollMs = 200;

// A line that is not a flow: reported as FILE:LINE:COL and exit 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string upper(std::string s) {
  for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// ------------------------------------------------------------------ times

// Reads exactly `width` digits at `pos`.
std::optional<int> digits(const std::string& s, size_t& pos, size_t width) {
  if (pos + width > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < width; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  pos += width;
  return v;
}

bool expect(const std::string& s, size_t& pos, char c) {
  if (pos < s.size() && s[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

// RFC 3339 (any fraction, Z or an offset) and, when `date_forms`, Hubble's
// YYYY-MM-DD[THH[:MM[:SS]]] in UTC. Unix nanoseconds.
std::optional<int64_t> parse_timestamp(const std::string& s, bool date_forms) {
  size_t pos = 0;
  std::tm tm{};
  auto year = digits(s, pos, 4);
  if (!year || !expect(s, pos, '-')) return std::nullopt;
  auto month = digits(s, pos, 2);
  if (!month || !expect(s, pos, '-')) return std::nullopt;
  auto day = digits(s, pos, 2);
  if (!day) return std::nullopt;
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31) return std::nullopt;
  int64_t frac_ns = 0, offset_s = 0;
  const auto finish = [&]() -> std::optional<int64_t> {
    if (pos != s.size()) return std::nullopt;
    const int64_t secs = int64_t(timegm(&tm)) - offset_s;
    return secs * kNsPerSec + frac_ns;
  };
  if (pos == s.size()) return date_forms ? finish() : std::nullopt;
  if (!expect(s, pos, 'T') && !expect(s, pos, 't')) return std::nullopt;
  auto hour = digits(s, pos, 2);
  if (!hour || *hour > 23) return std::nullopt;
  tm.tm_hour = *hour;
  if (pos == s.size()) return date_forms ? finish() : std::nullopt;
  if (!expect(s, pos, ':')) return std::nullopt;
  auto minute = digits(s, pos, 2);
  if (!minute || *minute > 59) return std::nullopt;
  tm.tm_min = *minute;
  if (pos == s.size()) return date_forms ? finish() : std::nullopt;
  if (!expect(s, pos, ':')) return std::nullopt;
  auto second = digits(s, pos, 2);
  if (!second || *second > 60) return std::nullopt;
  tm.tm_sec = *second;
  if (pos == s.size()) return date_forms ? finish() : std::nullopt;
  if (expect(s, pos, '.')) {
    int64_t scale = kNsPerSec / 10;
    size_t start = pos;
    for (; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
      frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
    }
    if (pos == start) return std::nullopt;
  }
  if (expect(s, pos, 'Z') || expect(s, pos, 'z')) return finish();
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos++] == '-' ? -1 : 1;
    auto oh = digits(s, pos, 2);
    if (!oh || !expect(s, pos, ':')) return std::nullopt;
    auto om = digits(s, pos, 2);
    if (!om) return std::nullopt;
    offset_s = sign * (int64_t(*oh) * 3600 + int64_t(*om) * 60);
    return finish();
  }
  return std::nullopt;
}

// A Go duration as Hubble's --since takes it: 3s, 4m, 1h43m, 1.5h, 250ms.
std::optional<int64_t> parse_duration_ns(const std::string& s) {
  static const std::regex whole(R"(^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$)");
  if (!std::regex_match(s, whole)) return std::nullopt;
  static const std::regex part(R"(([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h))");
  double total = 0;
  for (std::sregex_iterator it(s.begin(), s.end(), part), end; it != end; ++it) {
    const double value = std::stod((*it)[1].str());
    const std::string unit = (*it)[2].str();
    const double scale = unit == "h" ? 3600e9 : unit == "m" ? 60e9 : unit == "s" ? 1e9 : unit == "ms" ? 1e6
                         : unit == "ns" ? 1.0 : 1e3;
    total += value * scale;
  }
  return int64_t(total);
}

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

// --since / --until: a duration means that long before now.
std::optional<int64_t> parse_user_time(const std::string& s) {
  if (auto d = parse_duration_ns(s)) return now_ns() - *d;
  return parse_timestamp(s, true);
}

// ------------------------------------------------------------------ flows

const json& member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string str(const json& j, const char* key) {
  const json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

int64_t num(const json& j, const char* key) {
  const json& v = member(j, key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {  // protojson writes 64-bit integers as strings
    try {
      return std::stoll(v.get<std::string>());
    } catch (const std::exception&) {
    }
  }
  return 0;
}

struct Flow {
  json response;  // {"flow": {...}, "node_name": ..., "time": ...}
  std::optional<int64_t> time_ns;
  const json& flow() const { return response["flow"]; }
};

// Column of a JSON syntax error and its message without nlohmann's prefix.
std::pair<size_t, std::string> describe(const json::parse_error& e) {
  std::string msg = e.what();
  if (auto col = msg.find("column "); col != std::string::npos)
    if (auto colon = msg.find(": ", col); colon != std::string::npos) msg = msg.substr(colon + 2);
  return {e.byte == 0 ? 1 : e.byte, msg};
}

std::string where(const std::string& name, size_t line, size_t col) {
  std::ostringstream out;
  out << name << ':' << line << ':' << col << ": error: ";
  return out.str();
}

// One line: a GetFlowsResponse with a flow, or a bare flow (what older
// `hubble observe -o json` wrote), wrapped like the first. Other responses
// (node_status, lost_events) are not flows and are skipped.
std::optional<Flow> parse_line(const std::string& text, const std::string& name, size_t line_no) {
  if (text.find_first_not_of(" \t\r") == std::string::npos) return std::nullopt;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    auto [col, msg] = describe(e);
    throw InputError(where(name, line_no, col) + "not a JSON flow: " + msg);
  }
  const size_t first_col = text.find_first_not_of(" \t") + 1;
  if (!j.is_object()) throw InputError(where(name, line_no, first_col) + "expected a JSON object (a Hubble flow)");
  Flow f;
  if (j.contains("flow")) {
    if (!j["flow"].is_object())
      throw InputError(where(name, line_no, first_col) + "\"flow\" is not an object");
    f.response = std::move(j);
  } else if (j.contains("node_status") || j.contains("lost_events") || j.contains("agent_event") ||
             j.contains("debug_event")) {
    return std::nullopt;
  } else {
    // GetFlowsResponse's own order: flow, node_name, time.
    json node_name = j.contains("node_name") ? j["node_name"] : json();
    json time = j.contains("time") ? j["time"] : json();
    f.response = json::object();
    f.response["flow"] = std::move(j);
    if (!node_name.is_null()) f.response["node_name"] = std::move(node_name);
    if (!time.is_null()) f.response["time"] = std::move(time);
  }
  const json& time = member(f.flow(), "time");
  if (time.is_string()) {
    f.time_ns = parse_timestamp(time.get<std::string>(), false);
    if (!f.time_ns) {
      const auto at = text.find(time.get<std::string>());
      throw InputError(where(name, line_no, at == std::string::npos ? first_col : at + 1) +
                       "flow time \"" + time.get<std::string>() + "\" is not RFC 3339");
    }
  } else if (!time.is_null()) {
    throw InputError(where(name, line_no, first_col) + "flow time is not a string");
  }
  return f;
}

// ---------------------------------------------------------------- filters

// Which end of a flow a filter looks at: --pod (either), --from-pod, --to-pod.
enum class Side { Either, From, To };

struct PodFilter {
  std::string ns, prefix;
  bool defaulted_ns = false;
};

struct Filter {
  std::vector<std::string> verdicts;   // upper case
  // One group per flag (--namespace, --from-namespace, …): a group with
  // values must match (OR within it), as Hubble ANDs its flags.
  std::vector<std::pair<Side, std::vector<std::string>>> namespaces, labels;
  std::vector<std::pair<Side, std::vector<PodFilter>>> pods;
  std::vector<std::string> protocols;  // lower case
  std::vector<std::string> types;      // lower case
  std::vector<uint16_t> ports;
  std::vector<std::string> http_statuses, http_methods;  // methods upper case
  std::vector<std::regex> http_paths;
  std::vector<std::string> directions, drop_reasons;  // upper case
  std::optional<int64_t> since, until;

  bool matches(const Flow& f) const {
    const json& flow = f.flow();
    const json& src = member(flow, "source");
    const json& dst = member(flow, "destination");
    auto on_side = [&](Side side, auto&& pred) {
      return (side != Side::To && pred(src)) || (side != Side::From && pred(dst));
    };
    if (!verdicts.empty() && !any_of(verdicts, [&](const std::string& v) { return upper(str(flow, "verdict")) == v; }))
      return false;
    for (const auto& [side, values] : namespaces)
      if (!any_of(values, [&](const std::string& ns) {
            return on_side(side, [&](const json& ep) { return str(ep, "namespace") == ns; });
          }))
        return false;
    for (const auto& [side, values] : pods)
      if (!any_of(values, [&](const PodFilter& p) {
            return on_side(side, [&](const json& ep) { return pod_matches(ep, p); });
          }))
        return false;
    for (const auto& [side, values] : labels)
      if (!any_of(values, [&](const std::string& l) {
            return on_side(side, [&](const json& ep) { return label_matches(ep, l); });
          }))
        return false;
    if (!protocols.empty() && !any_of(protocols, [&](const std::string& p) { return protocol_matches(flow, p); }))
      return false;
    if (!types.empty() && !any_of(types, [&](const std::string& t) { return type_matches(flow, t); })) return false;
    if (!ports.empty() && !any_of(ports, [&](uint16_t port) { return port_matches(flow, port); })) return false;
    const json& http = member(member(flow, "l7"), "http");
    if (!http_statuses.empty() && !any_of(http_statuses, [&](const std::string& s) { return status_matches(http, s); }))
      return false;
    if (!http_methods.empty() &&
        !any_of(http_methods, [&](const std::string& m) { return upper(str(http, "method")) == m; }))
      return false;
    if (!http_paths.empty() && !any_of(http_paths, [&](const std::regex& re) { return path_matches(http, re); }))
      return false;
    if (!directions.empty() &&
        !any_of(directions, [&](const std::string& d) { return str(flow, "traffic_direction") == d; }))
      return false;
    if (!drop_reasons.empty() &&
        !any_of(drop_reasons, [&](const std::string& r) { return str(flow, "drop_reason_desc") == r; }))
      return false;
    if ((since || until) && !f.time_ns) return false;
    if (since && *f.time_ns < *since) return false;
    if (until && *f.time_ns > *until) return false;
    return true;
  }

 private:
  template <typename T, typename Pred>
  static bool any_of(const std::vector<T>& v, Pred pred) {
    return std::any_of(v.begin(), v.end(), pred);
  }

  static bool pod_matches(const json& ep, const PodFilter& p) {
    return (p.ns.empty() || str(ep, "namespace") == p.ns) && str(ep, "pod_name").rfind(p.prefix, 0) == 0 &&
           !str(ep, "pod_name").empty();
  }

  // Hubble's label filter: "source:key=value" matches that label exactly;
  // without a source ("app=web", "app") any source; without a value, the
  // key's presence.
  static bool label_matches(const json& ep, const std::string& want) {
    const json& labels = member(ep, "labels");
    if (!labels.is_array()) return false;
    const bool has_source = want.find(':') != std::string::npos && want.find(':') < want.find('=');
    const bool has_value = want.find('=') != std::string::npos;
    for (const auto& l : labels) {
      if (!l.is_string()) continue;
      std::string label = l.get<std::string>();
      if (!has_source) label = label.substr(label.find(':') == std::string::npos ? 0 : label.find(':') + 1);
      if (!has_value) label = label.substr(0, label.find('='));
      if (label == want) return true;
    }
    return false;
  }

  static bool port_matches(const json& flow, uint16_t port) {
    const json& l4 = member(flow, "l4");
    for (const char* p : {"TCP", "UDP", "SCTP"}) {
      const json& ports = member(l4, p);
      if (ports.is_object() && (num(ports, "source_port") == port || num(ports, "destination_port") == port))
        return true;
    }
    return false;
  }

  // "404" is a prefix of the code; "5+" any 5xx (Hubble's form).
  static bool status_matches(const json& http, std::string want) {
    const int64_t code = num(http, "code");
    if (code == 0) return false;
    if (!want.empty() && want.back() == '+') want.pop_back();
    return std::to_string(code).rfind(want, 0) == 0;
  }

  static bool path_matches(const json& http, const std::regex& re) {
    const std::string url = str(http, "url");
    if (url.empty()) return false;
    // The path of http://host[:port]/path?query
    size_t start = url.find("://");
    start = url.find('/', start == std::string::npos ? 0 : start + 3);
    return start != std::string::npos && std::regex_search(url.substr(start), re);
  }

  static bool protocol_matches(const json& flow, const std::string& p) {
    const json& l7 = member(flow, "l7");
    const json& l4 = member(flow, "l4");
    if (p == "http" || p == "dns" || p == "kafka") return member(l7, p.c_str()).is_object();
    if (p == "icmp") return member(l4, "ICMPv4").is_object() || member(l4, "ICMPv6").is_object();
    if (p == "icmpv4") return member(l4, "ICMPv4").is_object();
    if (p == "icmpv6") return member(l4, "ICMPv6").is_object();
    return member(l4, upper(p).c_str()).is_object();  // tcp udp sctp
  }

  // Hubble's --type names the monitor event; flows without one are typed
  // from what they carry.
  static bool type_matches(const json& flow, const std::string& t) {
    int64_t event = num(member(flow, "event_type"), "type");
    if (event == 0) event = str(flow, "Type") == "L7" ? 129 : str(flow, "verdict") == "DROPPED" ? 1 : 4;
    if (t == "l7") return event == 129;
    if (t == "drop") return event == 1;
    if (t == "trace") return event == 4;
    if (t == "policy-verdict") return event == 5;
    return false;
  }
};

// ---------------------------------------------------------------- compact

// Cilium's trace observation points (pkg/monitor/api/types.go), by sub_type.
std::string trace_point(int64_t sub_type) {
  static const char* const kNames[] = {"to-endpoint", "to-proxy",     "to-host",      "to-stack",
                                       "to-overlay",  "from-endpoint", "from-proxy",  "from-host",
                                       "from-stack",  "from-overlay", "from-network", "to-network"};
  if (sub_type >= 0 && sub_type < int64_t(std::size(kNames))) return kNames[sub_type];
  return "trace";
}

// Hubble's words for the policy drop reasons.
std::string drop_reason_text(int64_t reason) {
  switch (reason) {
    case 133: return "Policy denied";
    case 181: return "Policy denied by denylist";
    case 189: return "Authentication required";
    default: {
      std::ostringstream out;
      out << "drop-reason:" << reason;
      return out.str();
    }
  }
}

std::string policy_match_text(int64_t match) {
  static const char* const kNames[] = {"none", "L3-Only", "L3-L4", "L4-Only", "all", "L3-Proto", "Proto-Only"};
  if (match >= 0 && match < int64_t(std::size(kNames))) return kNames[match];
  return "unknown";
}

// printer.go's GetFlowType.
std::string flow_type(const json& flow) {
  const json& l7 = member(flow, "l7");
  if (l7.is_object()) {
    std::string proto = "l7";
    for (const char* p : {"http", "dns", "kafka"})
      if (member(l7, p).is_object()) proto = p;
    std::string type = lower(str(l7, "type"));
    return proto + "-" + (type.empty() ? "unknown" : type);
  }
  const json& event = member(flow, "event_type");
  const int64_t sub_type = num(event, "sub_type");
  switch (num(event, "type")) {
    case 4: return trace_point(sub_type);
    case 1: return drop_reason_text(sub_type != 0 ? sub_type : num(flow, "drop_reason"));
    case 5: {
      std::string s = "policy-verdict:" + policy_match_text(num(flow, "policy_match_type"));
      if (const std::string dir = str(flow, "traffic_direction"); !dir.empty()) s += " " + dir;
      return s;
    }
    default: return "UNKNOWN";
  }
}

std::string l4_port(const json& flow, const char* key) {
  const json& l4 = member(flow, "l4");
  for (const char* p : {"TCP", "UDP", "SCTP"})
    if (const json& inner = member(l4, p); inner.is_object()) {
      const int64_t port = num(inner, key);
      return port == 0 ? std::string() : std::to_string(port);
    }
  return {};
}

// printer.go's Hostname with IP translation on: ns/pod, else the address.
std::string host(const json& flow, const char* side, const char* ip_key, const char* port_key) {
  const json& ep = member(flow, side);
  std::string h;
  if (const std::string pod = str(ep, "pod_name"); !pod.empty()) {
    const std::string ns = str(ep, "namespace");
    h = ns.empty() ? pod : ns + "/" + pod;
  } else {
    h = str(member(flow, "IP"), ip_key);
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    if (h.empty()) h = "N/A";
  }
  if (const std::string port = l4_port(flow, port_key); !port.empty()) h += ":" + port;
  return h;
}

std::string stamp_milli(const std::optional<int64_t>& ns) {
  if (!ns) return "N/A";
  int64_t secs = *ns / kNsPerSec, rem = *ns % kNsPerSec;
  if (rem < 0) {
    rem += kNsPerSec;
    --secs;
  }
  const std::time_t t = std::time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s %2d %02d:%02d:%02d.%03d", kMonths[tm.tm_mon], tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, int(rem / 1000000));
  return buf;
}

std::string policy_names(const json& flow) {
  std::string out;
  for (const char* key : {"ingress_allowed_by", "egress_allowed_by", "ingress_denied_by", "egress_denied_by"}) {
    const json& list = member(flow, key);
    if (!list.is_array() || list.empty()) continue;
    std::string names;
    for (const auto& p : list) {
      if (!names.empty()) names += ", ";
      const std::string ns = str(p, "namespace");
      names += ns.empty() ? str(p, "name") : ns + "/" + str(p, "name");
    }
    std::string label = key;
    std::replace(label.begin(), label.end(), '_', '-');
    out.append(" [").append(label).append(": ").append(names).append("]");
  }
  return out;
}

struct CompactStyle {
  bool node_name = false;
  bool policy_names = false;
};

// TIME [NODE]: SRC (ID:n) -> DST (ID:n) TYPE VERDICT (SUMMARY)
std::string compact_line(const Flow& f, const CompactStyle& style) {
  const json& flow = f.flow();
  std::string src = host(flow, "source", "source", "source_port");
  std::string dst = host(flow, "destination", "destination", "destination_port");
  std::string src_id = "(ID:" + std::to_string(num(member(flow, "source"), "identity")) + ")";
  std::string dst_id = "(ID:" + std::to_string(num(member(flow, "destination"), "identity")) + ")";
  // A reply is printed from the initiator's side, as Hubble does; with
  // neither is_reply nor a direction, which way it went is unknown.
  std::string arrow = "->";
  const json& reply = member(flow, "is_reply");
  if (reply.is_boolean() && reply.get<bool>()) {
    std::swap(src, dst);
    std::swap(src_id, dst_id);
    arrow = "<-";
  } else if (!reply.is_boolean() && str(flow, "traffic_direction").empty()) {
    arrow = "<>";
  }
  // The reason of an L3/L4 drop is what the reader needs; L7 drops keep
  // their request summary (the reason there is the response itself).
  std::string summary = str(flow, "Summary");
  const std::string reason = str(flow, "drop_reason_desc");
  if (str(flow, "verdict") == "DROPPED" && !reason.empty() && !member(flow, "l7").is_object()) summary = reason;

  std::string line = stamp_milli(f.time_ns);
  if (style.node_name) {
    std::string node = str(flow, "node_name");
    if (node.empty()) node = str(f.response, "node_name");
    line.append(" [").append(node).append("]");
  }
  line.append(": ").append(src).append(" ").append(src_id).append(" ").append(arrow).append(" ");
  line.append(dst).append(" ").append(dst_id).append(" ").append(flow_type(flow)).append(" ");
  line.append(str(flow, "verdict").empty() ? "VERDICT_UNKNOWN" : str(flow, "verdict"));
  line.append(" (").append(summary).append(")");
  if (style.policy_names) line += policy_names(flow);
  line += '\n';
  return line;
}

// ------------------------------------------------------------------- run

volatile std::sig_atomic_t g_stop = 0;
void on_stop_signal(int) { g_stop = 1; }

class Observer {
 public:
  Observer(const ObserveOptions& o, Filter filter)
      : filter_(std::move(filter)), jsonpb_(o.format != "compact"),
        style_{o.print_node_name, o.print_policy_names} {}

  std::string render(const Flow& f) const {
    if (jsonpb_) return f.response.dump() + "\n";
    return compact_line(f, style_);
  }
  bool matches(const Flow& f) const { return filter_.matches(f); }

 private:
  Filter filter_;
  bool jsonpb_;
  CompactStyle style_;
};

// Splits `buffer` into complete lines from `start`; returns where the
// unfinished tail begins. With `flush_tail`, a tail without its newline is
// a line too (the end of a file read once).
template <typename OnLine>
size_t for_each_line(const std::string& buffer, size_t start, bool flush_tail, OnLine on_line) {
  size_t pos = start;
  while (pos < buffer.size()) {
    const size_t nl = buffer.find('\n', pos);
    if (nl == std::string::npos) {
      if (!flush_tail) return pos;
      on_line(buffer.substr(pos));
      return buffer.size();
    }
    if (!on_line(buffer.substr(pos, nl - pos))) return nl + 1;
    pos = nl + 1;
  }
  return pos;
}

bool write_stdout(const std::string& text) {
  if (text.empty()) return true;
  return std::fwrite(text.data(), 1, text.size(), stdout) == text.size() && std::fflush(stdout) == 0;
}

bool read_all(std::istream& in, std::string& out) {
  std::ostringstream buf;
  buf << in.rdbuf();
  out = buf.str();
  return !in.bad();
}

}  // namespace

int run_observe(const ObserveOptions& o) {
  Filter filter;
  for (const auto& v : o.verdicts) filter.verdicts.push_back(upper(v));
  for (auto [side, values] : {std::pair{Side::Either, &o.namespaces}, std::pair{Side::From, &o.from_namespaces},
                              std::pair{Side::To, &o.to_namespaces}})
    if (!values->empty()) filter.namespaces.emplace_back(side, *values);
  for (auto [side, values] : {std::pair{Side::Either, &o.labels}, std::pair{Side::From, &o.from_labels},
                              std::pair{Side::To, &o.to_labels}})
    if (!values->empty()) filter.labels.emplace_back(side, *values);
  // A pod without a namespace: the --namespace ones (as Hubble since
  // cilium/cilium#28921, and kubectl), any with -A, else default.
  auto pod_filters = [&](const std::vector<std::string>& names) {
    std::vector<PodFilter> out;
    for (const auto& p : names) {
      PodFilter pf;
      if (auto slash = p.find('/'); slash != std::string::npos) {
        pf.ns = p.substr(0, slash);
        pf.prefix = p.substr(slash + 1);
      } else if (o.all_namespaces) {
        pf.prefix = p;  // any namespace (pf.ns empty)
      } else if (!o.namespaces.empty()) {
        pf.prefix = p;
        for (const auto& ns : o.namespaces) {
          pf.ns = ns;
          out.push_back(pf);
        }
        continue;
      } else {
        pf.ns = "default";
        pf.prefix = p;
        pf.defaulted_ns = true;
      }
      out.push_back(pf);
    }
    return out;
  };
  for (auto [side, values] :
       {std::pair{Side::Either, &o.pods}, std::pair{Side::From, &o.from_pods}, std::pair{Side::To, &o.to_pods}})
    if (!values->empty()) filter.pods.emplace_back(side, pod_filters(*values));
  filter.ports = o.ports;
  filter.http_statuses = o.http_statuses;
  for (const auto& m : o.http_methods) filter.http_methods.push_back(upper(m));
  for (const auto& p : o.http_paths) {
    try {
      filter.http_paths.emplace_back(p, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      std::cerr << "cnpc observe: error: --http-path " << p << ": " << e.what() << '\n';
      return kExitUsage;
    }
  }
  for (const auto& d : o.traffic_directions) filter.directions.push_back(upper(d));
  for (const auto& r : o.drop_reasons) filter.drop_reasons.push_back(upper(r));
  for (const auto& p : o.protocols) filter.protocols.push_back(lower(p));
  for (const auto& t : o.types) filter.types.push_back(lower(t));
  for (auto [text, target, flag] : {std::tuple{&o.since, &filter.since, "--since"},
                                    std::tuple{&o.until, &filter.until, "--until"}}) {
    if (text->empty()) continue;
    *target = parse_user_time(*text);
    if (!*target) {
      std::cerr << "cnpc observe: error: " << flag << " \"" << *text
                << "\": expected RFC 3339 (2026-01-01T00:00:00Z), YYYY-MM-DD[THH[:MM[:SS]]] or a duration (1h43m)\n";
      return kExitUsage;
    }
  }
  if (o.first >= 0 && o.last >= 0) {
    std::cerr << "cnpc observe: error: --first and --last cannot be combined\n";
    return kExitUsage;
  }
  if (o.first >= 0 && o.follow) {
    std::cerr << "cnpc observe: error: --first and --follow cannot be combined\n";
    return kExitUsage;
  }

  // How many of the matching flows already in the log to print (Hubble's
  // rules): -1 all of them.
  int64_t last = o.last;
  if (o.all) last = -1;
  else if (o.last < 0 && o.first < 0) {
    const bool bounded = !o.since.empty() || !o.until.empty();
    last = bounded ? -1 : o.follow ? 0 : kDefaultLast;
  }

  const bool from_stdin = o.file == "-";
  const std::string path = o.file.empty() ? kDefaultFlowLog : o.file;
  const std::string name = from_stdin ? "<stdin>" : path;
  if (!from_stdin) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
      if (o.file.empty())
        std::cerr << "cnpc observe: error: no flow log at " << path << ": is cnpc-agent running? use --file\n";
      else
        std::cerr << "cnpc observe: error: " << path << ": " << std::strerror(errno) << '\n';
      return kExitUsage;
    }
  }

  Observer observer(o, filter);
  size_t line_no = 0;
  auto warn_default_namespace = [&](size_t printed) {
    if (printed != 0) return;
    for (const auto& group : filter.pods)
      for (const auto& p : group.second)
        if (p.defaulted_ns)
          std::cerr << "cnpc observe: note: --pod " << p.prefix << " means default/" << p.prefix
                    << " (as in Hubble); write NAMESPACE/" << p.prefix << ", add -n NAMESPACE or -A for another\n";
  };

  try {
    if (from_stdin && o.follow) {
      // A pipe has no "already there": every matching line is streamed.
      std::signal(SIGINT, on_stop_signal);
      std::signal(SIGTERM, on_stop_signal);
      std::string text;
      while (!g_stop && std::getline(std::cin, text)) {
        auto f = parse_line(text, name, ++line_no);
        if (f && observer.matches(*f) && !write_stdout(observer.render(*f))) return kExitClean;
      }
      return kExitClean;
    }

    // The log as it is now, streamed line by line (a month of flows need not
    // fit in memory; only the matches' rendered lines are kept). With
    // --follow an unterminated last line may be half written by the agent:
    // it waits for its newline.
    std::ifstream file;
    if (!from_stdin) {
      file.open(path, std::ios::binary);
      if (!file) {
        std::cerr << "cnpc observe: error: cannot read " << path << ": " << std::strerror(errno) << '\n';
        return kExitUsage;
      }
    }
    std::istream& in = from_stdin ? std::cin : file;
    std::deque<std::string> kept;  // rendered: the first N, the last N, or all of them
    size_t consumed = 0;           // bytes of the complete lines read
    std::string text;
    while (std::getline(in, text)) {
      const bool complete = !in.eof();  // getline stopped at a newline
      if (!complete && o.follow) break;  // half written: --follow reads it when it is whole
      consumed += text.size() + (complete ? 1 : 0);
      auto f = parse_line(text, name, ++line_no);
      if (!f || !observer.matches(*f)) continue;
      if (o.first >= 0) {
        if (int64_t(kept.size()) >= o.first) break;
        kept.push_back(observer.render(*f));
        continue;
      }
      if (last == 0) continue;
      kept.push_back(observer.render(*f));
      if (last > 0 && int64_t(kept.size()) > last) kept.pop_front();
    }
    if (in.bad()) {
      std::cerr << "cnpc observe: error: cannot read " << name << ": " << std::strerror(errno) << '\n';
      return kExitUsage;
    }
    const size_t printed = kept.size();
    // Output only once the whole input was read: a bad line prints nothing.
    for (const auto& line : kept)
      if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size()) return kExitClean;
    if (std::fflush(stdout) != 0) return kExitClean;
    if (!o.follow) {
      warn_default_namespace(printed);
      return kExitClean;
    }

    // --follow: poll the file, start over when it was truncated or replaced
    // (log rotation), until SIGINT/SIGTERM.
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    struct stat st{};
    ::stat(path.c_str(), &st);
    ino_t inode = st.st_ino;
    off_t offset = off_t(consumed);
    std::string pending;
    while (!g_stop) {
      timespec pause{0, kFollowPollMs * 1000000L};
      nanosleep(&pause, nullptr);
      if (g_stop) break;
      if (::stat(path.c_str(), &st) != 0) continue;  // mid-rotation
      if (st.st_ino != inode || st.st_size < offset) {
        inode = st.st_ino;
        offset = 0;
        line_no = 0;
        pending.clear();
      }
      if (st.st_size == offset) continue;
      std::ifstream in(path, std::ios::binary);
      if (!in) continue;
      in.seekg(offset);
      std::string chunk;
      read_all(in, chunk);
      offset += off_t(chunk.size());
      pending += chunk;
      std::string batch;
      const size_t used = for_each_line(pending, 0, false, [&](const std::string& text) {
        auto f = parse_line(text, name, ++line_no);
        if (f && observer.matches(*f)) batch += observer.render(*f);
        return true;
      });
      pending.erase(0, used);
      if (!write_stdout(batch)) return kExitClean;
    }
    return kExitClean;
  } catch (const InputError& e) {
    std::cout.flush();
    std::cerr << e.what() << '\n';
    return kExitUsage;
  }
}

}  // namespace cnpc::cli
