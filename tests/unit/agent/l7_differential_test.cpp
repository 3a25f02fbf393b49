// Differential: RE2::Set candidate selection must never change a verdict.
// Random tables of tens of HTTP rules (regexes from a small grammar, some
// that RE2 rejects) and thousands of random requests, many built from the
// rules' own pieces so that they match; the set-based policy, the sequential
// one and a direct ir::http_rule_matches over every rule must agree.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "l7_policy.h"

namespace {

using cnpc::agent::L7Policy;
using cnpc::agent::L7Verdict;
using nlohmann::json;

constexpr int kIngress = 0;
constexpr uint8_t kTcp = 6;

// A regex piece and a way to produce text it matches.
struct Piece {
  std::string regex;
  std::vector<std::string> samples;  // strings that match `regex` in full
};

const std::vector<Piece>& path_pieces() {
  static const std::vector<Piece> pieces = {
      {"/api", {"/api"}},
      {"/v[12]", {"/v1", "/v2"}},
      {"/users", {"/users"}},
      {"/posts", {"/posts"}},
      {"/static", {"/static"}},
      {"/[0-9]+", {"/0", "/42", "/123456"}},
      {"/[a-z]+", {"/a", "/abc", "/zz"}},
      {"/.*", {"/", "/x/y", "/A%20b", "/\xc3\xa9t\xc3\xa9"}},
      {"(/admin)?", {"", "/admin"}},
      {"/(img|css|js)", {"/img", "/css", "/js"}},
      {"/\\d{2,4}", {"/12", "/1234"}},
      {"/[^/]*", {"/", "/x.y", "/Q-1"}},
      {"\\.json", {".json"}},
      {"/health(z)?", {"/health", "/healthz"}},
      {"/[A-Z][a-z]*", {"/A", "/Name"}},
  };
  return pieces;
}

// Regexes RE2 rejects: the evaluator's rule then matches nothing.
const std::vector<std::string>& broken_regexes() {
  static const std::vector<std::string> bad = {"/a(", "/[z-a]", "/x{2,1}", "/\\p{Nope}", "*/"};
  return bad;
}

struct GeneratedRule {
  json rule;
  std::vector<size_t> pieces;  // path pieces, to build matching requests
};

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  size_t below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

  GeneratedRule http_rule() {
    GeneratedRule g;
    std::string path;
    if (chance(0.08)) {
      path = "";  // any path
    } else if (chance(0.05)) {
      path = pick(broken_regexes());
    } else {
      size_t n = 1 + below(4);
      for (size_t i = 0; i < n; ++i) {
        size_t k = below(path_pieces().size());
        g.pieces.push_back(k);
        path += path_pieces()[k].regex;
      }
    }
    static const std::vector<std::string> methods = {"", "GET", "POST", "PUT", "DELETE", "GET|HEAD",
                                                     "P.*", "(PUT|PATCH)", "get", "("};
    static const std::vector<std::string> hosts = {"", "", "", "example\\.com", ".*\\.example\\.com",
                                                   "api\\..*", "[a-z]+\\.local"};
    json headers = json::array();
    if (chance(0.2)) {
      static const std::vector<std::string> names = {"X-Token", "x-env", "Accept"};
      static const std::vector<std::string> values = {"1", "prod", "text/html"};
      size_t n = 1 + below(2);
      for (size_t i = 0; i < n; ++i)
        headers.push_back({{"name", pick(names)}, {"value", chance(0.3) ? json(nullptr) : json(pick(values))}});
    }
    g.rule = {{"method", pick(methods)}, {"path", path}, {"host", pick(hosts)}, {"headers", headers}};
    return g;
  }

  cnpc::ir::HttpRequest request(const std::vector<GeneratedRule>& rules) {
    cnpc::ir::HttpRequest r;
    static const std::vector<std::string> methods = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "get", "("};
    static const std::vector<std::string> hosts = {"", "example.com", "api.example.com", "api.other.org",
                                                   "box.local", "EXAMPLE.COM"};
    r.method = pick(methods);
    r.host = pick(hosts);
    // Mostly paths built from some rule's pieces (so that rules match),
    // sometimes mutated or random.
    const GeneratedRule& g = pick(rules);
    if (!g.pieces.empty() && chance(0.8)) {
      for (size_t k : g.pieces) r.path += pick(path_pieces()[k].samples);
      if (chance(0.15)) mutate(r.path);
    } else {
      r.path = random_text(1 + below(20));
    }
    if (chance(0.5)) {
      static const std::vector<std::pair<std::string, std::string>> headers = {
          {"X-Token", "1"}, {"x-token", "prod"}, {"X-ENV", "prod"}, {"Accept", "text/html"}, {"accept", "1"}};
      size_t n = 1 + below(3);
      for (size_t i = 0; i < n; ++i) r.headers.push_back(pick(headers));
    }
    return r;
  }

 private:
  std::string random_text(size_t n) {
    static const std::string alphabet = "/abcxyz0129-_.%AZ?=&";
    std::string s = "/";
    for (size_t i = 0; i < n; ++i) s += alphabet[below(alphabet.size())];
    return s;
  }
  void mutate(std::string& s) {
    switch (below(3)) {
      case 0: if (!s.empty()) s.erase(below(s.size()), 1); break;
      case 1: s.insert(below(s.size() + 1), 1, "/x9."[below(4)]); break;
      default: s += "/"; break;
    }
  }
  std::mt19937 rng_;
};

TEST(L7PolicyDifferential, Re2SetAgreesWithSequentialAndDirectMatching) {
  Generator gen(20240611u);
  size_t allowed_total = 0, denied_total = 0, requests_total = 0;
  for (int table_round = 0; table_round < 12; ++table_round) {
    // Two HTTP entries for peer 1 on port 80 (rules 0 and 1), a third on
    // 81 for peer 2, so candidate selection runs per entry.
    std::vector<std::vector<GeneratedRule>> entry_rules(3);
    json entries = json::array();
    for (size_t e = 0; e < entry_rules.size(); ++e) {
      size_t n = 10 + gen.below(50);
      json rules = json::array();
      for (size_t i = 0; i < n; ++i) {
        entry_rules[e].push_back(gen.http_rule());
        rules.push_back(entry_rules[e].back().rule);
      }
      entries.push_back({{"rule", e},
                         {"kind", "http"},
                         {"peers", e < 2 ? json::array({1}) : json::array({2})},
                         {"ports", json::array({{{"proto", "TCP"}, {"first", e < 2 ? 80 : 81}, {"last", e < 2 ? 80 : 81}}})},
                         {"rules", rules}});
    }
    const std::string text = json{{"format", "cnpc-l7/1"},
                                  {"tables", json::array({{{"class", 0}, {"direction", "ingress"}, {"entries", entries}}})}}
                                 .dump();
    L7Policy with_set = L7Policy::parse(text, {true});
    L7Policy sequential = L7Policy::parse(text, {false});

    // The evaluator's view of each entry, parsed independently.
    auto direct = [&](size_t e, const cnpc::ir::HttpRequest& req) {
      for (const auto& g : entry_rules[e]) {
        cnpc::ir::HttpRule r;
        r.method = g.rule["method"];
        r.path = g.rule["path"];
        r.host = g.rule["host"];
        for (const auto& h : g.rule["headers"]) {
          cnpc::ir::HttpHeaderMatch m;
          m.name = h["name"];
          if (!h["value"].is_null()) m.value = h["value"].get<std::string>();
          r.headers.push_back(m);
        }
        if (cnpc::ir::http_rule_matches(r, req)) return true;
      }
      return false;
    };

    std::vector<GeneratedRule> all_rules;
    for (const auto& er : entry_rules) all_rules.insert(all_rules.end(), er.begin(), er.end());
    for (int i = 0; i < 800; ++i) {
      const cnpc::ir::HttpRequest req = gen.request(all_rules);
      for (uint32_t peer : {1u, 2u}) {
        const uint16_t port = peer == 1 ? 80 : 81;
        L7Verdict a = with_set.judge_http(0, kIngress, peer, kTcp, port, req);
        L7Verdict b = sequential.judge_http(0, kIngress, peer, kTcp, port, req);
        std::vector<uint32_t> want_rules;
        bool want = false;
        for (uint32_t e : peer == 1 ? std::vector<uint32_t>{0, 1} : std::vector<uint32_t>{2}) {
          if (direct(e, req)) {
            want = true;
            want_rules = {e};
            break;
          }
          want_rules.push_back(e);
        }
        ++requests_total;
        (want ? allowed_total : denied_total)++;
        ASSERT_EQ(a.allowed, want) << "RE2::Set, table " << table_round << ", " << req.method << " "
                                   << req.path << " host " << req.host;
        ASSERT_EQ(b.allowed, want) << "sequential, " << req.method << " " << req.path;
        ASSERT_EQ(a.rules, want_rules);
        ASSERT_EQ(b.rules, want_rules);
      }
    }
  }
  // The generator must exercise both outcomes, or the test proves little.
  EXPECT_EQ(requests_total, 12u * 800u * 2u);
  EXPECT_GT(allowed_total, requests_total / 10) << allowed_total << " allowed";
  EXPECT_GT(denied_total, requests_total / 10) << denied_total << " denied";
}

}  // namespace
