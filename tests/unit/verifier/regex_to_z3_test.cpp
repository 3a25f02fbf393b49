// translate_re2 against RE2 itself: for every corpus pattern, Z3's
// membership verdict must equal RE2::FullMatch on hand-written, random and
// Z3-generated strings, and Z3's witnesses (in and out of the language) must
// be confirmed by RE2. Every solver call has a timeout; an unknown is
// reported, never read as sat or unsat.
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <z3++.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cnpc/ir/evaluator.h"
#include "regex_to_z3.h"

using cnpc::verifier::printable_ascii_regex;
using cnpc::verifier::printable_ascii_string;
using cnpc::verifier::translate_re2;

namespace {

constexpr unsigned kTimeoutMs = 2000;

enum class Verdict { kSat, kUnsat, kUnknown };

const char* name(Verdict v) { return v == Verdict::kSat ? "sat" : v == Verdict::kUnsat ? "unsat" : "unknown"; }

// Raw bytes: Z3_mk_string would read backslash escapes.
z3::expr string_val(z3::context& ctx, const std::string& s) {
  return z3::expr(ctx, Z3_mk_lstring(ctx, unsigned(s.size()), s.data()));
}

// Printable form for failure messages.
std::string show(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out + "\"";
}

bool is_printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

struct Solved {
  Verdict verdict = Verdict::kUnknown;
  std::string model;  // the value of s when sat
  double ms = 0;
};

// One check of the given constraints on the string variable s.
Solved solve(z3::context& ctx, const std::vector<z3::expr>& constraints, const z3::expr& s) {
  z3::solver solver(ctx);
  z3::params p(ctx);
  p.set("timeout", kTimeoutMs);
  solver.set(p);
  for (const auto& c : constraints) solver.add(c);
  auto t0 = std::chrono::steady_clock::now();
  z3::check_result r = solver.check();
  Solved out;
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.verdict = r == z3::sat ? Verdict::kSat : r == z3::unsat ? Verdict::kUnsat : Verdict::kUnknown;
  if (out.verdict == Verdict::kSat) out.model = solver.get_model().eval(s, true).get_string();
  return out;
}

z3::expr intersect(z3::context& ctx, const std::vector<z3::expr>& rs) {
  z3::expr_vector v(ctx);
  for (const auto& r : rs) v.push_back(r);
  return z3::re_intersect(v);
}

// Z3's verdict on value ∈ L(r), asked as s == value ∧ in_re(s, r).
Solved member(z3::context& ctx, const z3::expr& r, const std::string& value) {
  z3::expr s = ctx.string_const("s");
  return solve(ctx, {s == string_val(ctx, value), z3::in_re(s, r)}, s);
}

// The same question for many values: in_re(s, r) stays asserted and each
// s == value is checked in its own scope (cheaper than a solver per value).
class Membership {
 public:
  Membership(z3::context& ctx, const z3::expr& r) : ctx_(ctx), solver_(ctx), s_(ctx.string_const("s")) {
    z3::params p(ctx);
    p.set("timeout", kTimeoutMs);
    solver_.set(p);
    solver_.add(z3::in_re(s_, r));
  }
  Solved check(const std::string& value) {
    solver_.push();
    solver_.add(s_ == string_val(ctx_, value));
    auto t0 = std::chrono::steady_clock::now();
    z3::check_result r = solver_.check();
    Solved out;
    out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    out.verdict = r == z3::sat ? Verdict::kSat : r == z3::unsat ? Verdict::kUnsat : Verdict::kUnknown;
    solver_.pop();
    return out;
  }

 private:
  z3::context& ctx_;
  z3::solver solver_;
  z3::expr s_;
};

// A printable string in (or out of) L(r), other than `avoid`. One membership
// in an intersection: the form Z3 4.8.12 decides best.
Solved witness(z3::context& ctx, const z3::expr& r, bool in, const std::vector<std::string>& avoid = {}) {
  z3::expr s = ctx.string_const("s");
  z3::expr lang = intersect(ctx, {printable_ascii_regex(ctx), in ? r : z3::re_complement(r)});
  std::vector<z3::expr> cs{z3::in_re(s, lang)};
  for (const auto& a : avoid) cs.push_back(s != string_val(ctx, a));
  return solve(ctx, cs, s);
}

// Strings every pattern is tried on: typical L7 values, edge cases, and
// non-printable characters (the translation is exact over all of ASCII).
const std::vector<std::string>& common_samples() {
  static const std::vector<std::string> samples = {
      "", "a", "b", "c", "k", "K", "s", "S", "x", "y", "ab", "abc", "aa", "aaa", "aaaaa", "aaaaaa", "bc", "ac",
      "/", "//", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/x", "/api/v2/resources", "/api/v1/x/status",
      "/public", "/public/x", "/path1", "/path1/", "/healthz", "/healthz/", "/v1/users/42", "/v1/groups/",
      "/v1/users/4a", "/metrics", "/index.html", "/static/a.css", "/users/bob/profile", "/x/admin/y",
      "/search?q=z", "/files/a.txt", "/private", "/private/", "/_health", "/_healthz", "/a/1", "/%7Euser/x",
      "GET", "POST", "PUT", "PATCH", "DELETE", "get", "Get", "post", "HEAD", "OPTIONS",
      "api.example.com", "x.example.com", "example.com", ".example.com", "example.com:8080", "www.example.org",
      "db.internal", "a.svc.cluster.local", "my-svc.svc.cluster.local", "A.svc.cluster.local", "10.0.0.1",
      "cilium.io.", "www.cilium.io.", "sub.cilium.io.", "subx.cilium.io.", "a.b.cilium.io.", "x.cilium.io",
      "api-1.svc.local.", "afoob.bar.", "foo.bar.", ".", "a.b.example.com.",
      "\n", "a\n", "\na", "a\nb", "\t", "\x7f", std::string(1, '\0'), "\x01", "a.b", "a\\b", "-", "]", "a{,3}", "x{",
      " ", "a b", "{", "*", "?", "A", "a0", "a\x0f""0", "a\x0f", "B", "AB", "\x1f", "~", "ss", "sS", "kk",
      "xz", "yz", "xyzw", "xxw", "cd", "acbd", "y", "xy", "ba", "bc", "ac", "abcabc", "ababab", "abababab",
  };
  return samples;
}

// Random strings over a mix of the pattern's own characters and the rest
// of ASCII, mostly printable.
std::vector<std::string> random_samples(const std::string& pattern, std::mt19937& rng, int count) {
  std::string alphabet = pattern + "abcksSK/.-_09 \n";
  std::vector<std::string> out;
  std::uniform_int_distribution<int> len(0, 12), pick(0, 99), printable(0x20, 0x7e), any(0, 0x7f);
  for (int i = 0; i < count; ++i) {
    std::string s;
    for (int n = len(rng); n > 0; --n) {
      int p = pick(rng);
      if (p < 70 && !alphabet.empty())
        s += alphabet[std::uniform_int_distribution<size_t>(0, alphabet.size() - 1)(rng)];
      else if (p < 95)
        s += char(printable(rng));
      else
        s += char(any(rng));
    }
    out.push_back(s);
  }
  return out;
}

// Near misses around a string in the language: drop, duplicate, change.
std::vector<std::string> mutations(const std::string& s) {
  std::vector<std::string> out{s + "a", "a" + s, s + "/", s + "\n"};
  if (!s.empty()) {
    out.push_back(s.substr(1));
    out.push_back(s.substr(0, s.size() - 1));
    out.push_back(s + s);
    std::string t = s;
    t[t.size() / 2] = t[t.size() / 2] == 'x' ? 'y' : 'x';
    out.push_back(t);
    t = s;
    t[0] = char(std::toupper(static_cast<unsigned char>(t[0])));
    out.push_back(t);
  }
  return out;
}

struct CorpusEntry {
  std::string kind;  // ok, empty, all, reject
  std::string pattern;
  std::string source;  // the corpus line, for messages
};

std::vector<CorpusEntry> load_corpus() {
  auto path = std::filesystem::path(__FILE__).parent_path() / "regex_corpus.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<CorpusEntry> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto sp = line.find(' ');
    std::string kind = line.substr(0, sp);
    std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (kind == "dns") {
      out.push_back({"ok", cnpc::ir::dns_pattern_to_regex(rest), line});
    } else if (kind == "dns-all") {
      out.push_back({"all", cnpc::ir::dns_pattern_to_regex(rest), line});
    } else {
      EXPECT_TRUE(kind == "ok" || kind == "empty" || kind == "all" || kind == "reject") << line;
      out.push_back({kind, rest, line});
    }
  }
  // Not expressible as a corpus line.
  out.push_back({"ok", "", "(the empty pattern)"});
  out.push_back({"ok", "a\nb", "(literal newline)"});
  out.push_back({"ok", std::string("a\0b", 3), "(literal NUL)"});
  return out;
}

std::unique_ptr<RE2> compile(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return std::make_unique<RE2>(pattern, opts);
}

// Differential check of one translated pattern; returns the number of
// mismatches and adds to unknowns. Failures are reported through gtest.
struct PatternReport {
  int samples = 0, mismatches = 0, unknowns = 0;
  double member_max_ms = 0, member_total_ms = 0, in_ms = 0, out_ms = 0;
  Verdict in = Verdict::kUnknown, out = Verdict::kUnknown;
};

PatternReport check_pattern(z3::context& ctx, const std::string& pattern, const z3::expr& r,
                            std::vector<std::string> samples, const std::string& label) {
  PatternReport rep;
  auto re = compile(pattern);
  EXPECT_TRUE(re->ok()) << label;

  // Witnesses first: they seed further samples.
  std::vector<std::string> in_witnesses;
  Solved w = witness(ctx, r, true);
  rep.in = w.verdict;
  rep.in_ms = w.ms;
  if (w.verdict == Verdict::kSat) {
    EXPECT_TRUE(is_printable(w.model)) << label << " witness " << show(w.model);
    EXPECT_TRUE(RE2::FullMatch(w.model, *re)) << label << ": Z3 witness " << show(w.model) << " rejected by RE2";
    in_witnesses.push_back(w.model);
    Solved w2 = witness(ctx, r, true, in_witnesses);
    if (w2.verdict == Verdict::kSat) {
      EXPECT_TRUE(RE2::FullMatch(w2.model, *re)) << label << ": Z3 witness " << show(w2.model) << " rejected by RE2";
      in_witnesses.push_back(w2.model);
    }
    if (w2.verdict == Verdict::kUnknown) ++rep.unknowns;
  }
  Solved o = witness(ctx, r, false);
  rep.out = o.verdict;
  rep.out_ms = o.ms;
  if (o.verdict == Verdict::kSat) {
    EXPECT_TRUE(is_printable(o.model)) << label << " witness " << show(o.model);
    EXPECT_FALSE(RE2::FullMatch(o.model, *re)) << label << ": Z3 non-member " << show(o.model) << " accepted by RE2";
    samples.push_back(o.model);
  }
  rep.unknowns += (w.verdict == Verdict::kUnknown) + (o.verdict == Verdict::kUnknown);
  for (const auto& s : in_witnesses) {
    samples.push_back(s);
    for (auto& m : mutations(s)) samples.push_back(std::move(m));
  }
  std::sort(samples.begin(), samples.end());
  samples.erase(std::unique(samples.begin(), samples.end()), samples.end());

  Membership membership(ctx, r);
  for (const auto& s : samples) {
    Solved m = membership.check(s);
    ++rep.samples;
    rep.member_max_ms = std::max(rep.member_max_ms, m.ms);
    rep.member_total_ms += m.ms;
    if (m.verdict == Verdict::kUnknown) {
      ++rep.unknowns;
      ADD_FAILURE() << label << ": membership of " << show(s) << " is unknown";
      continue;
    }
    bool z3_says = m.verdict == Verdict::kSat;
    bool re2_says = RE2::FullMatch(s, *re);
    if (z3_says != re2_says) {
      ++rep.mismatches;
      ADD_FAILURE() << label << ": " << show(s) << " Z3 " << z3_says << " RE2 " << re2_says;
    }
  }
  return rep;
}

TEST(RegexToZ3, Corpus) {
  auto corpus = load_corpus();
  ASSERT_GE(corpus.size(), 60u);
  std::mt19937 rng(20240611);
  int translated = 0, rejected = 0, mismatches = 0, unknowns = 0, samples = 0;
  double slowest_witness = 0;
  std::string slowest;
  std::ostringstream table;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& e : corpus) {
    z3::context ctx;
    auto t = translate_re2(ctx, e.pattern);
    std::string label = "pattern " + show(e.pattern) + " [" + e.source + "]";
    if (e.kind == "reject") {
      EXPECT_FALSE(t.regex.has_value()) << label << " should be rejected";
      EXPECT_FALSE(t.error.empty()) << label;
      ++rejected;
      table << "  reject  " << show(e.pattern) << ": " << t.error << "\n";
      continue;
    }
    if (!t.regex) {
      ADD_FAILURE() << label << " untranslatable: " << t.error;
      continue;
    }
    ++translated;
    std::vector<std::string> s = common_samples();
    for (auto& r : random_samples(e.pattern, rng, 25)) s.push_back(std::move(r));
    PatternReport rep = check_pattern(ctx, e.pattern, *t.regex, s, label);
    mismatches += rep.mismatches;
    unknowns += rep.unknowns;
    samples += rep.samples;
    Verdict want_in = e.kind == "empty" ? Verdict::kUnsat : Verdict::kSat;
    Verdict want_out = e.kind == "all" ? Verdict::kUnsat : Verdict::kSat;
    EXPECT_EQ(name(rep.in), std::string(name(want_in))) << label << ": member witness";
    EXPECT_EQ(name(rep.out), std::string(name(want_out))) << label << ": non-member witness";
    double w = std::max(rep.in_ms, rep.out_ms);
    if (w > slowest_witness) slowest_witness = w, slowest = e.pattern;
    char buf[160];
    std::snprintf(buf, sizeof buf, "  %-6s  in %-5s %7.1f ms  out %-5s %7.1f ms  member max %6.1f ms (%3d)  ",
                  e.kind.c_str(), name(rep.in), rep.in_ms, name(rep.out), rep.out_ms, rep.member_max_ms, rep.samples);
    table << buf << show(e.pattern) << "\n";
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s", table.str().c_str());
  std::printf("corpus: %d translated, %d rejected, %d membership checks, %d mismatches, %d unknowns, "
              "slowest witness %.1f ms (%s), %.1f s\n",
              translated, rejected, samples, mismatches, unknowns, slowest_witness, show(slowest).c_str(), total);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(unknowns, 0);
}

TEST(RegexToZ3, EmptyPatternMatchesOnlyEmptyString) {
  z3::context ctx;
  auto t = translate_re2(ctx, "");
  ASSERT_TRUE(t.regex) << t.error;
  EXPECT_EQ(member(ctx, *t.regex, "").verdict, Verdict::kSat);
  EXPECT_EQ(member(ctx, *t.regex, "a").verdict, Verdict::kUnsat);
  Solved w = witness(ctx, *t.regex, true, {""});
  EXPECT_EQ(w.verdict, Verdict::kUnsat);
}

TEST(RegexToZ3, ErrorsNameTheConstruct) {
  z3::context ctx;
  EXPECT_NE(translate_re2(ctx, "\\bx").error.find("word boundary"), std::string::npos);
  EXPECT_NE(translate_re2(ctx, "\\pL").error.find("Unicode class"), std::string::npos);
  EXPECT_NE(translate_re2(ctx, "(a)\\1").error.find("invalid RE2 pattern"), std::string::npos);
  EXPECT_NE(translate_re2(ctx, "(?m)a^b").error.find("(?m)"), std::string::npos);
}

TEST(RegexToZ3, PrintableAsciiString) {
  z3::context ctx;
  z3::expr s = ctx.string_const("s");
  auto holds = [&](const std::string& v) {
    return solve(ctx, {s == string_val(ctx, v), printable_ascii_string(ctx, s)}, s).verdict;
  };
  EXPECT_EQ(holds(""), Verdict::kSat);
  EXPECT_EQ(holds(" ~az/.-"), Verdict::kSat);
  EXPECT_EQ(holds("a\nb"), Verdict::kUnsat);
  EXPECT_EQ(holds(std::string(1, '\x7f')), Verdict::kUnsat);
  EXPECT_EQ(holds(std::string(1, '\x1f')), Verdict::kUnsat);
}

// Containment questions the verifier asks (is every request one rule allows
// also allowed by another?), as one membership in an intersection.
TEST(RegexToZ3, Differences) {
  struct Case {
    std::string a, b;
    bool a_minus_b_empty;
  };
  auto dns = cnpc::ir::dns_pattern_to_regex;
  std::vector<Case> cases = {
      {"/api/v1/.*", "/api/.*", true},
      {"/api/.*", "/api/v1/.*", false},
      {"/v1/(users|groups)/[0-9]+", "/v1/.*", true},
      {"/v1/.*", "/v1/(users|groups)/[0-9]+", false},
      {dns("sub*.cilium.io"), dns("*.cilium.io"), true},
      {dns("*.cilium.io"), dns("sub*.cilium.io"), false},
      {dns("*.cilium.io"), dns("*"), true},
      {"[a-z0-9-]+\\.svc\\.cluster\\.local", ".*\\.example\\.com", false},
      {"[a-z0-9-]+\\.svc\\.cluster\\.local", ".*\\.local", true},
      {"GET", "GET|POST", true},
      {"(?i)get", "GET", false},
      {"^/healthz$", "/healthz", true},
      {"/healthz", "^/healthz$", true},
      {".*\\.example\\.com", "[^.]+\\.example\\.com", false},
      {"/public.*", "/public/.*", false},
      {"/users/[^/]+/profile", "/users/.*", true},
      {"[0-9]{2,4}", "[0-9]+", true},
      {"[0-9]+", "[0-9]{2,4}", false},
  };
  std::printf("difference queries (printable ∩ A ∩ ¬B):\n");
  for (const auto& c : cases) {
    z3::context ctx;
    auto ta = translate_re2(ctx, c.a), tb = translate_re2(ctx, c.b);
    ASSERT_TRUE(ta.regex && tb.regex) << c.a << " / " << c.b;
    z3::expr s = ctx.string_const("s");
    z3::expr lang = intersect(ctx, {printable_ascii_regex(ctx), *ta.regex, z3::re_complement(*tb.regex)});
    Solved r = solve(ctx, {z3::in_re(s, lang)}, s);
    std::printf("  %-5s %7.1f ms  %s minus %s\n", name(r.verdict), r.ms, show(c.a).c_str(), show(c.b).c_str());
    ASSERT_NE(r.verdict, Verdict::kUnknown) << c.a << " minus " << c.b;
    EXPECT_EQ(r.verdict == Verdict::kUnsat, c.a_minus_b_empty) << c.a << " minus " << c.b;
    if (r.verdict == Verdict::kSat) {
      EXPECT_TRUE(RE2::FullMatch(r.model, *compile(c.a))) << show(r.model);
      EXPECT_FALSE(RE2::FullMatch(r.model, *compile(c.b))) << show(r.model);
    }
  }
}

// Random patterns: translation either fails cleanly or agrees with RE2.
TEST(RegexToZ3, FuzzAgreesOrRejects) {
  static const std::vector<std::string> tokens = {
      "a", "b", "k", "s", "S", "/", ".", "-", "\\.", "*", "+", "?", "|", "(", ")", "(?:", "(?i)", "(?s)", "(?m)",
      "[", "]", "[^", "^", "$", "\\", "{", "}", ",", "0", "2", "{2}", "{1,3}", "\\d", "\\w", "\\s", "\\W", "\\A",
      "\\z", "\\b", "\\x41", "[[:alpha:]]", "\\Q", "\\E", "\\n", "\\pL", "\xc5\xbf", " ", "x", "??", "*?"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> tok(0, tokens.size() - 1);
  std::uniform_int_distribution<int> len(1, 10);
  int translated = 0, rejected = 0, invalid = 0, checks = 0, unknowns = 0;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> probes = {"", "a", "b", "k", "K", "s", "S", "ab", "aa", "/", ".", "-", "\n", "a\n",
                                     "ks", "abab", "A", "0", "x", "a.b", "//", " ", "bb", "sk", "ba"};
  for (int i = 0; i < 400; ++i) {
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(15)) break;
    std::string p;
    for (int n = len(rng); n > 0; --n) p += tokens[tok(rng)];
    z3::context ctx;
    auto t = translate_re2(ctx, p);  // must not crash or throw
    auto re = compile(p);
    if (!re->ok()) {
      EXPECT_FALSE(t.regex) << show(p) << " is invalid for RE2";
      ++invalid;
      continue;
    }
    if (!t.regex) {
      EXPECT_FALSE(t.error.empty());
      ++rejected;
      continue;
    }
    ++translated;
    std::vector<std::string> samples = probes;
    Solved w = witness(ctx, *t.regex, true);
    if (w.verdict == Verdict::kSat) {
      EXPECT_TRUE(RE2::FullMatch(w.model, *re)) << show(p) << " witness " << show(w.model);
      for (auto& m : mutations(w.model)) samples.push_back(std::move(m));
    }
    for (const auto& s : samples) {
      Solved m = member(ctx, *t.regex, s);
      ++checks;
      if (m.verdict == Verdict::kUnknown) {
        ++unknowns;
        continue;
      }
      EXPECT_EQ(m.verdict == Verdict::kSat, RE2::FullMatch(s, *re)) << show(p) << " on " << show(s);
    }
  }
  std::printf("fuzz: %d translated, %d rejected, %d invalid, %d checks, %d unknowns\n", translated, rejected, invalid,
              checks, unknowns);
  EXPECT_EQ(unknowns, 0);
  EXPECT_GT(translated, 100);
}

}  // namespace
