// L7 matching: what the proxy (Envoy, the DNS proxy, proxylib's Kafka
// parser) decides for one request against one rule.
#include <re2/re2.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "cnpc/ir/evaluator.h"

namespace cnpc::ir {

namespace {

// Compiled-regex cache: policies repeat the same few patterns. Lookups
// share the lock (the agent's proxy threads match concurrently); RE2
// objects never move once cached.
const RE2* compiled(const std::string& pattern) {
  static std::shared_mutex mu;
  static std::unordered_map<std::string, std::unique_ptr<RE2>> cache;
  {
    std::shared_lock lock(mu);
    if (auto it = cache.find(pattern); it != cache.end()) return it->second->ok() ? it->second.get() : nullptr;
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, opts);
  std::unique_lock lock(mu);
  auto& slot = cache[pattern];
  if (!slot) slot = std::move(re);
  return slot->ok() ? slot.get() : nullptr;
}

// Envoy's safe_regex must match the whole value.
bool full_match(const std::string& pattern, const std::string& value) {
  if (pattern.empty()) return true;
  const RE2* re = compiled(pattern);
  return re && RE2::FullMatch(value, *re);
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool iequal(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

std::string fqdn(std::string name) {
  name = lower(std::move(name));
  if (name.empty() || name.back() != '.') name += '.';
  return name;
}

}  // namespace

bool http_rule_matches(const HttpRule& rule, const HttpRequest& req) {
  if (!full_match(rule.method, req.method)) return false;
  if (!full_match(rule.path, req.path)) return false;
  if (!full_match(rule.host, req.host)) return false;
  for (const auto& want : rule.headers) {
    bool ok = std::any_of(req.headers.begin(), req.headers.end(), [&](const auto& h) {
      return iequal(h.first, want.name) && (!want.value || h.second == *want.value);
    });
    if (!ok) return false;
  }
  return true;
}

std::string dns_pattern_to_regex(const std::string& pattern) {
  std::string p = fqdn(pattern);
  if (p == "*.") return ".*";  // a lone '*' matches every name, the root included
  std::string re;
  for (char c : p) {
    if (c == '*')
      re += "[-a-zA-Z0-9_]*";
    else if (c == '.')
      re += "[.]";
    else
      re += c;
  }
  return re;
}

bool dns_pattern_matches(const std::string& pattern, const std::string& name) {
  std::string n = fqdn(name);
  if (fqdn(pattern) == "*.") return true;
  const RE2* re = compiled(dns_pattern_to_regex(pattern));
  return re && RE2::FullMatch(n, *re);
}

bool dns_rule_matches(const DnsRule& rule, const std::string& name) {
  if (!rule.match_name.empty()) return fqdn(rule.match_name) == fqdn(name);
  if (!rule.match_pattern.empty()) return dns_pattern_matches(rule.match_pattern, name);
  return false;
}

namespace {
const std::vector<std::string>& role_keys(const std::string& role) {
  static const std::vector<std::string> produce = {"produce", "metadata", "apiversions"};
  static const std::vector<std::string> consume = {
      "fetch",       "offsets",   "metadata",   "offsetcommit", "offsetfetch", "findcoordinator",
      "joingroup",   "heartbeat", "leavegroup", "syncgroup",    "apiversions"};
  static const std::vector<std::string> none;
  if (role == "produce") return produce;
  if (role == "consume") return consume;
  return none;
}
}  // namespace

bool kafka_rule_matches(const KafkaRule& rule, const KafkaRequest& req) {
  std::string key = lower(req.api_key);
  if (!rule.role.empty()) {
    const auto& keys = role_keys(lower(rule.role));
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) return false;
  }
  if (!rule.api_key.empty() && lower(rule.api_key) != key) return false;
  if (rule.api_version && *rule.api_version != req.api_version) return false;
  if (!rule.client_id.empty() && rule.client_id != req.client_id) return false;
  // Requests without a topic (e.g. apiversions) are not held to a topic.
  if (!rule.topic.empty() && !req.topic.empty() && rule.topic != req.topic) return false;
  return true;
}

}  // namespace cnpc::ir
