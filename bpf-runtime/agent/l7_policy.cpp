// l7.json -> per (class, direction) entry lists, judged as the evaluator's
// decide_l7 (ir/src/evaluator.cpp) judges a request. Only the HTTP path
// pre-filter (RE2::Set) is ours; every verdict comes from ir::*_matches.
#include "l7_policy.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

namespace cnpc::agent {

namespace {

using nlohmann::json;

// runtime::kDirIngress / kDirEgress (cnpc/runtime/abi.h; cnpc_l7 does not
// link the runtime, so the values are repeated here).
constexpr int kIngress = 0, kEgress = 1;

constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132, kIcmp = 1, kIcmp6 = 58;

struct Span {
  uint8_t proto = kTcp;
  uint16_t first = 0, last = 0;
};

struct Entry {
  uint32_t rule = kNoRuleId;
  ir::L7Kind kind = ir::L7Kind::None;
  bool all_peers = false;
  std::vector<uint32_t> peers;  // sorted
  bool all_ports = false;       // an L3-only allow: every protocol and port
  std::vector<Span> ports;
  std::vector<ir::HttpRule> http;
  std::vector<ir::DnsRule> dns;

  // RE2::Set over the HTTP rules' paths (nullptr: no usable set, try all).
  std::unique_ptr<RE2::Set> path_set;
  std::vector<uint32_t> set_rule;        // set pattern index -> index into http
  std::vector<uint32_t> any_path_rules;  // rules with an empty path: always candidates
};

struct Table {
  std::vector<Entry> entries;  // sorted by rule id (the evaluator's order)
};

uint64_t table_key(uint32_t class_id, int direction) {
  return (uint64_t(class_id) << 1) | uint64_t(direction == kEgress ? 1 : 0);
}

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  std::ostringstream msg;
  msg << "l7.json: " << where << ": " << what;
  throw std::runtime_error(msg.str());
}

const json& member(const json& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end()) fail(where, std::string("missing \"") + name + "\"");
  return *it;
}

std::string string_member(const json& obj, const char* name, const std::string& where,
                          bool required = false) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) {
    if (required) fail(where, std::string("missing \"") + name + "\"");
    return {};
  }
  if (!it->is_string()) fail(where, std::string("\"") + name + "\" must be a string");
  return it->get<std::string>();
}

uint32_t uint_value(const json& v, uint64_t max, const std::string& where, const char* name) {
  if (!v.is_number_unsigned() || v.get<uint64_t>() > max) {
    std::ostringstream msg;
    msg << "\"" << name << "\" must be an integer in 0.." << max;
    fail(where, msg.str());
  }
  return uint32_t(v.get<uint64_t>());
}

ir::L7Kind parse_kind(const std::string& s, const std::string& where) {
  if (s == "none") return ir::L7Kind::None;
  if (s == "http") return ir::L7Kind::Http;
  if (s == "dns") return ir::L7Kind::Dns;
  if (s == "kafka") return ir::L7Kind::Kafka;
  if (s == "l7proto") return ir::L7Kind::Generic;
  fail(where, "unknown kind \"" + s + "\"");
}

uint8_t parse_proto(const std::string& s, const std::string& where) {
  if (s == "TCP") return kTcp;
  if (s == "UDP") return kUdp;
  if (s == "SCTP") return kSctp;
  // ICMP entries carry types in first/last; they never cover a TCP/UDP request.
  if (s == "ICMP") return kIcmp;
  if (s == "ICMPv6") return kIcmp6;
  fail(where, "unknown proto \"" + s + "\"");
}

std::string at(const std::string& where, const char* field, size_t i) {
  std::ostringstream s;
  s << where << "." << field << "[" << i << "]";
  return s.str();
}

ir::HttpRule parse_http_rule(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "an HTTP rule must be an object");
  ir::HttpRule r;
  r.method = string_member(j, "method", where);
  r.path = string_member(j, "path", where);
  r.host = string_member(j, "host", where);
  if (auto it = j.find("headers"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) fail(where, "\"headers\" must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      const json& h = (*it)[i];
      std::string hw = at(where, "headers", i);
      if (!h.is_object()) fail(hw, "a header must be an object");
      ir::HttpHeaderMatch m;
      m.name = string_member(h, "name", hw, true);
      if (auto v = h.find("value"); v != h.end() && !v->is_null()) {
        if (!v->is_string()) fail(hw, "\"value\" must be a string or null");
        m.value = v->get<std::string>();
      }
      r.headers.push_back(std::move(m));
    }
  }
  return r;
}

ir::DnsRule parse_dns_rule(const json& j, const std::string& where) {
  if (!j.is_object()) fail(where, "a DNS rule must be an object");
  ir::DnsRule r;
  r.match_name = string_member(j, "matchName", where);
  r.match_pattern = string_member(j, "matchPattern", where);
  return r;
}

// The evaluator compiles each path with default options and treats a regex
// RE2 rejects as matching nothing: such a rule is never a candidate.
bool evaluator_compiles(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return RE2(pattern, opts).ok();
}

void build_path_set(Entry& e) {
  RE2::Options opts;
  opts.set_log_errors(false);
  // Room for large sets; patterns are admitted by evaluator_compiles
  // first, so this bound never changes which rules can match.
  opts.set_max_mem(int64_t(64) << 20);
  auto set = std::make_unique<RE2::Set>(opts, RE2::ANCHOR_BOTH);
  for (uint32_t i = 0; i < e.http.size(); ++i) {
    const std::string& path = e.http[i].path;
    if (path.empty()) {
      e.any_path_rules.push_back(i);
      continue;
    }
    if (!evaluator_compiles(path)) continue;  // never matches: not a candidate
    if (set->Add(path, nullptr) < 0) return;  // cannot happen after the check; be safe: no set
    e.set_rule.push_back(i);
  }
  if (e.set_rule.empty()) return;  // only empty or broken paths: candidates are any_path_rules
  if (!set->Compile()) {
    e.set_rule.clear();
    e.any_path_rules.clear();
    return;  // too large to compile: judge_http tries every rule
  }
  e.path_set = std::move(set);
}

Entry parse_entry(const json& j, const std::string& where, bool use_re2_set) {
  if (!j.is_object()) fail(where, "an entry must be an object");
  Entry e;
  e.rule = uint_value(member(j, "rule", where), 0xFFFFFFFEu, where, "rule");
  e.kind = parse_kind(string_member(j, "kind", where, true), where);

  const json& peers = member(j, "peers", where);
  if (peers.is_string() && peers.get<std::string>() == "all") {
    e.all_peers = true;
  } else if (peers.is_array()) {
    for (const auto& p : peers) e.peers.push_back(uint_value(p, 0xFFFFFFFFu, where, "peers"));
    std::sort(e.peers.begin(), e.peers.end());
  } else {
    fail(where, "\"peers\" must be \"all\" or an array of class ids");
  }

  const json& ports = member(j, "ports", where);
  if (ports.is_string() && ports.get<std::string>() == "all") {
    e.all_ports = true;
  } else if (ports.is_array()) {
    for (size_t i = 0; i < ports.size(); ++i) {
      const json& p = ports[i];
      std::string pw = at(where, "ports", i);
      if (!p.is_object()) fail(pw, "a port span must be an object");
      Span s;
      s.proto = parse_proto(string_member(p, "proto", pw, true), pw);
      s.first = uint16_t(uint_value(member(p, "first", pw), 65535, pw, "first"));
      s.last = uint16_t(uint_value(member(p, "last", pw), 65535, pw, "last"));
      if (s.first > s.last) fail(pw, "\"first\" is greater than \"last\"");
      e.ports.push_back(s);
    }
  } else {
    fail(where, "\"ports\" must be \"all\" or an array of spans");
  }

  if (auto it = j.find("rules"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) fail(where, "\"rules\" must be an array");
    for (size_t i = 0; i < it->size(); ++i) {
      std::string rw = at(where, "rules", i);
      if (e.kind == ir::L7Kind::Http) e.http.push_back(parse_http_rule((*it)[i], rw));
      if (e.kind == ir::L7Kind::Dns) e.dns.push_back(parse_dns_rule((*it)[i], rw));
      // Kafka and l7proto rules: the proxy judges only HTTP and DNS.
    }
  }
  if (e.kind == ir::L7Kind::Http && use_re2_set) build_path_set(e);
  return e;
}

bool covers_peer(const Entry& e, uint32_t peer) {
  return e.all_peers || std::binary_search(e.peers.begin(), e.peers.end(), peer);
}

// The span of `e` holding (proto, port); for an L3-only entry, nullptr
// with *l3_only set.
const Span* covering_span(const Entry& e, uint8_t proto, uint16_t port, bool* l3_only) {
  *l3_only = e.all_ports;
  if (e.all_ports) return nullptr;
  for (const Span& s : e.ports)
    if (s.proto == proto && port >= s.first && port <= s.last) return &s;
  return nullptr;
}

bool covers_entry(const Entry& e, uint32_t peer, uint8_t proto, uint16_t port) {
  if (!covers_peer(e, peer)) return false;
  bool l3_only = false;
  return covering_span(e, proto, port, &l3_only) || l3_only;
}

bool http_entry_matches(const Entry& e, const ir::HttpRequest& req) {
  if (e.path_set) {
    // Candidate rules: those whose path the set matched, plus the
    // path-less ones. Each is then checked in full by the evaluator's
    // matcher, so the set only saves work, it never decides.
    for (uint32_t i : e.any_path_rules)
      if (ir::http_rule_matches(e.http[i], req)) return true;
    thread_local std::vector<int> hits;
    hits.clear();
    RE2::Set::ErrorInfo err{};
    if (e.path_set->Match(req.path, &hits, &err)) {
      for (int h : hits)
        if (ir::http_rule_matches(e.http[e.set_rule[size_t(h)]], req)) return true;
      return false;
    }
    if (err.kind == RE2::Set::kNoError) return false;  // no path matched
    // The DFA ran out of memory (or similar): fall back to every rule.
  }
  return std::any_of(e.http.begin(), e.http.end(),
                     [&](const ir::HttpRule& r) { return ir::http_rule_matches(r, req); });
}

bool dns_entry_matches(const Entry& e, const std::string& fqdn) {
  return std::any_of(e.dns.begin(), e.dns.end(),
                     [&](const ir::DnsRule& r) { return ir::dns_rule_matches(r, fqdn); });
}

// decide_l7 on the entries covering (peer, proto, port):
//  - no entry covers: denied, no rules (the datapath would have dropped it);
//  - no L7 entry covers: L7 is not enforced there, allowed by the first
//    covering entry;
//  - else, in rule-id order, the first entry that admits allows the
//    request: an L7 entry of the request's kind whose rules match, or a
//    `none` entry (for DNS only when it is not L3-only and its span equals
//    the span of some covering L7 entry);
//  - else denied with every covering L7 entry's rule id (any L7 kind).
template <typename Matches>
L7Verdict judge(const Table* table, uint32_t peer, uint8_t proto, uint16_t port, ir::L7Kind req_kind,
                Matches&& matches) {
  L7Verdict v;
  if (!table) return v;
  const auto& entries = table->entries;
  uint32_t first_cover = kNoRuleId;
  bool l7_covers = false;
  for (const Entry& e : entries) {
    if (!covers_entry(e, peer, proto, port)) continue;
    if (first_cover == kNoRuleId) first_cover = e.rule;
    if (e.kind != ir::L7Kind::None) l7_covers = true;
  }
  if (first_cover == kNoRuleId) return v;
  if (!l7_covers) {
    v.allowed = true;
    v.rules.push_back(first_cover);
    return v;
  }
  // DNS: a `none` entry wildcards only when its span is also a covering L7 entry's.
  auto span_of_some_l7_entry = [&](const Span& span) {
    for (const Entry& other : entries) {
      if (other.kind == ir::L7Kind::None || !covers_peer(other, peer)) continue;
      bool l3_only = false;
      const Span* s = covering_span(other, proto, port, &l3_only);
      if (s && s->first == span.first && s->last == span.last) return true;
    }
    return false;
  };
  for (const Entry& e : entries) {
    if (!covers_peer(e, peer)) continue;
    bool l3_only = false;
    const Span* span = covering_span(e, proto, port, &l3_only);
    if (!span && !l3_only) continue;
    bool ok = false;
    if (e.kind == ir::L7Kind::None) {
      ok = req_kind != ir::L7Kind::Dns || (span && span_of_some_l7_entry(*span));
    } else {
      if (v.rules.empty() || v.rules.back() != e.rule) v.rules.push_back(e.rule);
      ok = e.kind == req_kind && matches(e);
    }
    if (ok) {
      v.allowed = true;
      v.rules.assign(1, e.rule);
      return v;
    }
  }
  return v;
}

// What the evaluator's matchers compare against: lower case, one trailing dot.
std::string normalize_qname(const std::string& qname) {
  std::string out = qname;
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (out.empty() || out.back() != '.') out.push_back('.');
  return out;
}

}  // namespace

struct L7Policy::Impl {
  std::unordered_map<uint64_t, Table> tables;

  const Table* find(uint32_t class_id, int direction) const {
    if (direction != kIngress && direction != kEgress) return nullptr;
    auto it = tables.find(table_key(class_id, direction));
    return it == tables.end() ? nullptr : &it->second;
  }
};

L7Policy::L7Policy() : impl_(std::make_unique<Impl>()) {}
L7Policy::L7Policy(L7Policy&&) noexcept = default;
L7Policy& L7Policy::operator=(L7Policy&&) noexcept = default;
L7Policy::~L7Policy() = default;

L7Policy L7Policy::parse(const std::string& json_text, Options options) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {
    fail("not JSON", e.what());
  }
  if (!doc.is_object()) fail("top level", "must be an object");
  const std::string format = string_member(doc, "format", "top level", true);
  if (format != "cnpc-l7/1") fail("format", "unsupported format \"" + format + "\" (want cnpc-l7/1)");
  const json& tables = member(doc, "tables", "top level");
  if (!tables.is_array()) fail("top level", "\"tables\" must be an array");

  L7Policy policy;
  for (size_t t = 0; t < tables.size(); ++t) {
    const json& tj = tables[t];
    const std::string where = at("", "tables", t).substr(1);
    if (!tj.is_object()) fail(where, "a table must be an object");
    const uint32_t class_id = uint_value(member(tj, "class", where), 0xFFFFFFFFu, where, "class");
    const std::string dir = string_member(tj, "direction", where, true);
    if (dir != "ingress" && dir != "egress") fail(where, "direction must be \"ingress\" or \"egress\"");
    const int direction = dir == "ingress" ? kIngress : kEgress;
    const json& ej = member(tj, "entries", where);
    if (!ej.is_array()) fail(where, "\"entries\" must be an array");
    Table table;
    for (size_t i = 0; i < ej.size(); ++i)
      table.entries.push_back(parse_entry(ej[i], at(where, "entries", i), options.use_re2_set));
    // codegen lists L7 entries before plain allows; the evaluator walks
    // rules by id, and the first admitting rule is the one we report.
    std::stable_sort(table.entries.begin(), table.entries.end(),
                     [](const Entry& a, const Entry& b) { return a.rule < b.rule; });
    if (!policy.impl_->tables.emplace(table_key(class_id, direction), std::move(table)).second)
      fail(where, "a second table for the same class and direction");
  }
  return policy;
}

L7Verdict L7Policy::judge_http(uint32_t class_id, int direction, uint32_t peer, uint8_t ip_proto,
                               uint16_t port, const ir::HttpRequest& request) const {
  return judge(impl_->find(class_id, direction), peer, ip_proto, port, ir::L7Kind::Http,
               [&](const Entry& e) { return http_entry_matches(e, request); });
}

L7Verdict L7Policy::judge_dns(uint32_t class_id, int direction, uint32_t peer, uint8_t ip_proto,
                              uint16_t port, const std::string& qname) const {
  const std::string name = normalize_qname(qname);
  return judge(impl_->find(class_id, direction), peer, ip_proto, port, ir::L7Kind::Dns,
               [&](const Entry& e) { return dns_entry_matches(e, name); });
}

bool L7Policy::covers(uint32_t class_id, int direction, uint32_t peer, uint8_t ip_proto,
                      uint16_t port) const {
  const Table* table = impl_->find(class_id, direction);
  if (!table) return false;
  return std::any_of(table->entries.begin(), table->entries.end(),
                     [&](const Entry& e) { return covers_entry(e, peer, ip_proto, port); });
}

std::vector<L7Redirect> L7Policy::redirects() const {
  // Stable output (tables by class then direction, entries by rule id) for
  // callers that diff or log it.
  std::vector<uint64_t> keys;
  for (const auto& kv : impl_->tables) keys.push_back(kv.first);
  std::sort(keys.begin(), keys.end());
  std::vector<L7Redirect> out;
  for (uint64_t key : keys) {
    for (const Entry& e : impl_->tables.at(key).entries) {
      if (e.kind != ir::L7Kind::Http && e.kind != ir::L7Kind::Dns && e.kind != ir::L7Kind::Kafka)
        continue;
      L7Redirect r;
      r.class_id = uint32_t(key >> 1);
      r.direction = (key & 1) ? kEgress : kIngress;
      if (!e.all_peers) r.peers = e.peers;
      r.kind = e.kind;
      r.rule = e.rule;
      // codegen never writes "all" ports on an L7 entry (only L3-only
      // allows have them); should one appear, it means every port of the
      // three port protocols, as a port-0 rule does.
      std::vector<Span> spans = e.all_ports ? std::vector<Span>{{kTcp, 0, 65535}, {kUdp, 0, 65535},
                                                                {kSctp, 0, 65535}}
                                            : e.ports;
      for (const Span& s : spans) {
        if (s.proto != kTcp && s.proto != kUdp && s.proto != kSctp) continue;  // ICMP: no proxy
        r.ip_proto = s.proto;
        r.first = s.first;
        r.last = s.last;
        out.push_back(r);
      }
    }
  }
  return out;
}

}  // namespace cnpc::agent
