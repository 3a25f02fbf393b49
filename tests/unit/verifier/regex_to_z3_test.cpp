// translate_re2 and translate_re2_printable against RE2 itself: for every
// corpus pattern, Z3's membership verdict must equal RE2::FullMatch on
// hand-written, random and Z3-generated strings, and Z3's witnesses (in and
// out of the language) must be confirmed by RE2. Every solver call has a
// timeout; an unknown is reported, never read as sat or unsat.
#include <gtest/gtest.h>
#include <re2/re2.h>
#include <z3++.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
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
using cnpc::verifier::RegexTranslation;
using cnpc::verifier::translate_re2;
using cnpc::verifier::translate_re2_printable;

namespace {

constexpr unsigned kTimeoutMs = 2000;
constexpr unsigned kMemberTimeoutMs = 5000;  // concrete strings: milliseconds, but never flaky

// translate_re2 must agree with RE2 on every ASCII string,
// translate_re2_printable on every printable one.
enum class Mode { kExact, kPrintable };

const char* name(Mode m) { return m == Mode::kExact ? "exact" : "printable"; }

RegexTranslation translate(z3::context& ctx, const std::string& pattern, Mode mode) {
  return mode == Mode::kExact ? translate_re2(ctx, pattern) : translate_re2_printable(ctx, pattern);
}

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

// The alphabet a translation is exact on. (Z3 models of unrestricted
// queries may hold any character; Z3_get_lstring escapes those above 255.)
bool in_domain(const std::string& s, Mode mode) {
  if (mode == Mode::kPrintable) return is_printable(s);
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

struct Solved {
  Verdict verdict = Verdict::kUnknown;
  std::string model;  // the value of s when sat
  double ms = 0;
};

// One check of the given constraints on the string variable s.
Solved solve(z3::context& ctx, const std::vector<z3::expr>& constraints, const z3::expr& s,
             unsigned timeout_ms = kTimeoutMs) {
  z3::solver solver(ctx);
  z3::params p(ctx);
  p.set("timeout", timeout_ms);
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

// Z3's verdict on value ∈ L(r) for many values, asked as s == value ∧
// in_re(s, r). One solver, each check in its own scope: much cheaper than a
// solver per value. (Keeping in_re(s, r) asserted outside the scopes is
// slower still: Z3 then unrolls the regex instead of rewriting the literal.)
class Membership {
 public:
  Membership(z3::context& ctx, const z3::expr& r) : ctx_(ctx), solver_(ctx), s_(ctx.string_const("s")), r_(r) {
    z3::params p(ctx);
    p.set("timeout", kMemberTimeoutMs);
    solver_.set(p);
  }
  Solved check(const std::string& value) {
    solver_.push();
    solver_.add(s_ == string_val(ctx_, value));
    solver_.add(z3::in_re(s_, r_));
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
  z3::expr r_;
};

// "Is there a printable s with s ∈ L(p) for each positive and s ∉ L(p) for
// each negative pattern, s not in `avoid`?" Z3 4.8.12 has no single form
// that is fast both ways, so this tries three forms in turn, each in a fresh
// context (its heuristics depend on term creation order, so a context that
// timed out once can stay slow):
//   bare          one membership in the intersection, without the printable
//                 restriction (3 s): unsat is final (no string at all), a
//                 sat model is final if it happens to be printable;
//   separate      printable_ascii_string(s) and one membership per pattern
//                 (0.3 s): finds models fast, cannot prove emptiness;
//   intersection  one membership in printable ∩ ... (2 s): proves emptiness;
// and, on a loaded machine, separate again for 2 s.
struct Lit {
  std::string pattern;
  bool member;
};

struct Answer {
  Verdict verdict = Verdict::kUnknown;
  std::string model;
  double ms = 0;         // all forms tried
  const char* form = "";  // the one that answered
};

constexpr unsigned kQuickTimeoutMs = 300;
constexpr unsigned kBareTimeoutMs = 3000;

Solved ask_in_form(Mode mode, const std::vector<Lit>& lits, const std::vector<std::string>& avoid, int form,
                   unsigned timeout_ms) {
  z3::context ctx;
  z3::expr s = ctx.string_const("s");
  std::vector<z3::expr> langs, memberships;
  if (form == 2) langs.push_back(printable_ascii_regex(ctx));
  for (const auto& l : lits) {
    auto t = translate(ctx, l.pattern, mode);
    if (!t.regex) return {};
    langs.push_back(l.member ? *t.regex : z3::re_complement(*t.regex));
    memberships.push_back(l.member ? z3::in_re(s, *t.regex) : !z3::in_re(s, *t.regex));
  }
  std::vector<z3::expr> cs;
  if (form == 1) {
    cs.push_back(printable_ascii_string(ctx, s));
    cs.insert(cs.end(), memberships.begin(), memberships.end());
  } else {
    cs.push_back(z3::in_re(s, langs.size() == 1 ? langs[0] : intersect(ctx, langs)));
  }
  for (const auto& a : avoid) cs.push_back(s != string_val(ctx, a));
  return solve(ctx, cs, s, timeout_ms);
}

Answer ask(Mode mode, const std::vector<Lit>& lits, const std::vector<std::string>& avoid = {}) {
  Answer a;
  Solved bare = ask_in_form(mode, lits, avoid, 0, kBareTimeoutMs);
  a.ms += bare.ms;
  if (bare.verdict == Verdict::kUnsat || (bare.verdict == Verdict::kSat && is_printable(bare.model))) {
    a.verdict = bare.verdict, a.model = bare.model, a.form = "bare";
    return a;
  }
  Solved sep = ask_in_form(mode, lits, avoid, 1, kQuickTimeoutMs);
  a.ms += sep.ms;
  if (sep.verdict != Verdict::kUnknown) {
    a.verdict = sep.verdict, a.model = sep.model, a.form = "separate";
    return a;
  }
  Solved inter = ask_in_form(mode, lits, avoid, 2, kTimeoutMs);
  a.ms += inter.ms;
  a.verdict = inter.verdict, a.model = inter.model, a.form = "intersection";
  if (inter.verdict != Verdict::kUnknown) return a;
  // A loaded machine: give the model finder a longer second chance.
  Solved again = ask_in_form(mode, lits, avoid, 1, kTimeoutMs);
  a.ms += again.ms;
  a.verdict = again.verdict, a.model = again.model, a.form = "separate";
  return a;
}

// Strings every pattern is tried on: typical L7 values, edge cases, and
// non-printable characters (the translation is exact over all of ASCII).
const std::vector<std::string>& common_samples() {
  static const std::vector<std::string> samples = {
      "", "a", "b", "c", "k", "K", "s", "S", "x", "ab", "abc", "aa", "aaa", "aaaaaa", "ac",
      "/", "//", "/api", "/api/", "/api/v1/", "/api/v1/x", "/api/v2/resources", "/api/v1/x/status",
      "/public", "/public/x", "/path1", "/healthz", "/healthz/", "/v1/users/42", "/v1/groups/", "/metrics",
      "/index.html", "/static/a.css", "/users/bob/profile", "/x/admin/y", "/search?q=z", "/files/a.txt",
      "/private/", "/_healthz", "/a/1", "GET", "POST", "PATCH", "get", "Get", "HEAD",
      "api.example.com", "x.example.com", ".example.com", "example.com:8080", "www.example.org", "db.internal",
      "a.svc.cluster.local", "A.svc.cluster.local", "10.0.0.1", "cilium.io.", "sub.cilium.io.", "a.b.cilium.io.",
      "x.cilium.io", "api-1.svc.local.", "afoob.bar.", ".", "\n", "a\n", "a\nb", "\t", "\x7f",
      std::string(1, '\0'), "a.b", "a\\b", "-", "]", "a{,3}", "x{", " ", "{", "*", "A", "a0", "a\x0f""0",
      "\x1f", "~", "sS", "xz", "xyzw", "xxw", "acbd", "abab", "abcabc",
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
  out.push_back({"empty", "a\nb", "(literal newline)"});
  out.push_back({"empty", std::string("a\0b", 3), "(literal NUL)"});
  out.push_back({"ok", "a\nb|c", "(literal newline)"});
  return out;
}

std::unique_ptr<RE2> compile(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  return std::make_unique<RE2>(pattern, opts);
}

// Differential check of one pattern. Failures are reported through gtest.
struct PatternReport {
  int samples = 0, mismatches = 0;
  int member_unknowns = 0;   // concrete strings: never expected
  int witness_unknowns = 0;  // timeouts: tolerated in small numbers (slow machine)
  double member_max_ms = 0, member_total_ms = 0;
  Answer in, out;
};

PatternReport check_pattern(Mode mode, const std::string& pattern, std::vector<std::string> samples,
                            const std::string& label) {
  PatternReport rep;
  auto re = compile(pattern);
  EXPECT_TRUE(re->ok()) << label;

  // Witnesses first: they seed further samples.
  std::vector<std::string> in_witnesses;
  rep.in = ask(mode, {{pattern, true}});
  if (rep.in.verdict == Verdict::kSat) {
    EXPECT_TRUE(is_printable(rep.in.model)) << label << " witness " << show(rep.in.model);
    EXPECT_TRUE(RE2::FullMatch(rep.in.model, *re)) << label << ": Z3 witness " << show(rep.in.model) << " rejected by RE2";
    in_witnesses.push_back(rep.in.model);
    Answer again = ask(mode, {{pattern, true}}, in_witnesses);
    if (again.verdict == Verdict::kSat) {
      EXPECT_TRUE(is_printable(again.model)) << label << " witness " << show(again.model);
      EXPECT_TRUE(RE2::FullMatch(again.model, *re)) << label << ": Z3 witness " << show(again.model) << " rejected by RE2";
      in_witnesses.push_back(again.model);
    }
    rep.witness_unknowns += again.verdict == Verdict::kUnknown;
  }
  rep.out = ask(mode, {{pattern, false}});
  if (rep.out.verdict == Verdict::kSat) {
    EXPECT_TRUE(is_printable(rep.out.model)) << label << " witness " << show(rep.out.model);
    EXPECT_FALSE(RE2::FullMatch(rep.out.model, *re)) << label << ": Z3 non-member " << show(rep.out.model) << " accepted by RE2";
    samples.push_back(rep.out.model);
  }
  rep.witness_unknowns += (rep.in.verdict == Verdict::kUnknown) + (rep.out.verdict == Verdict::kUnknown);
  for (const auto& s : in_witnesses) {
    samples.push_back(s);
    for (auto& m : mutations(s)) samples.push_back(std::move(m));
  }
  std::erase_if(samples, [&](const std::string& v) { return !in_domain(v, mode); });
  std::sort(samples.begin(), samples.end());
  samples.erase(std::unique(samples.begin(), samples.end()), samples.end());

  z3::context ctx;
  auto t = translate(ctx, pattern, mode);
  if (!t.regex) return rep;
  Membership membership(ctx, *t.regex);
  for (const auto& s : samples) {
    Solved m = membership.check(s);
    ++rep.samples;
    rep.member_max_ms = std::max(rep.member_max_ms, m.ms);
    rep.member_total_ms += m.ms;
    if (m.verdict == Verdict::kUnknown) {
      ++rep.member_unknowns;
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

void run_corpus(Mode mode) {
  auto corpus = load_corpus();
  ASSERT_GE(corpus.size(), 60u);
  std::mt19937 rng(20240611);
  int translated = 0, rejected = 0, mismatches = 0, member_unknowns = 0, witness_unknowns = 0, samples = 0;
  double slowest_witness = 0, witness_ms = 0, member_ms = 0;
  std::string slowest;
  std::map<std::string, int> forms;
  std::ostringstream table;
  auto t0 = std::chrono::steady_clock::now();
  for (const auto& e : corpus) {
    std::string label = "pattern " + show(e.pattern) + " [" + e.source + "]";
    {
      z3::context ctx;
      auto t = translate(ctx, e.pattern, mode);
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
    }
    ++translated;
    std::vector<std::string> s = common_samples();
    for (auto& r : random_samples(e.pattern, rng, 30)) s.push_back(std::move(r));
    PatternReport rep = check_pattern(mode, e.pattern, s, label);
    mismatches += rep.mismatches;
    member_unknowns += rep.member_unknowns;
    witness_unknowns += rep.witness_unknowns;
    if (rep.witness_unknowns > 0) std::printf("  witness timed out %d time(s): %s\n", rep.witness_unknowns, label.c_str());
    samples += rep.samples;
    member_ms += rep.member_total_ms;
    witness_ms += rep.in.ms + rep.out.ms;
    ++forms[rep.in.form];
    ++forms[rep.out.form];
    Verdict want_in = e.kind == "empty" ? Verdict::kUnsat : Verdict::kSat;
    Verdict want_out = e.kind == "all" ? Verdict::kUnsat : Verdict::kSat;
    // An unknown is counted, never read as an answer.
    if (rep.in.verdict != Verdict::kUnknown) {
      EXPECT_EQ(name(rep.in.verdict), std::string(name(want_in))) << label << ": member witness";
    }
    if (rep.out.verdict != Verdict::kUnknown) {
      EXPECT_EQ(name(rep.out.verdict), std::string(name(want_out))) << label << ": non-member witness";
    }
    double w = std::max(rep.in.ms, rep.out.ms);
    if (w > slowest_witness) slowest_witness = w, slowest = e.pattern;
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "  %-6s  in %-5s %7.1f ms %-12s  out %-5s %7.1f ms %-12s  member max %5.1f ms (%3d)  ",
                  e.kind.c_str(), name(rep.in.verdict), rep.in.ms, rep.in.form, name(rep.out.verdict), rep.out.ms,
                  rep.out.form, rep.member_max_ms, rep.samples);
    table << buf << show(e.pattern) << "\n";
  }
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s", table.str().c_str());
  std::printf("%s corpus: %d translated, %d rejected; %d membership checks (%.1f s), %d mismatches, %d unknown; "
              "witnesses %.1f s, %d unknown, answered by:",
              name(mode), translated, rejected, samples, member_ms / 1000, mismatches, member_unknowns,
              witness_ms / 1000, witness_unknowns);
  for (const auto& [f, n] : forms) std::printf(" %s %d", f.c_str(), n);
  std::printf("; slowest witness %.1f ms (%s); %.1f s\n", slowest_witness, show(slowest).c_str(), total);
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(member_unknowns, 0);
  // Zero on an idle machine; a few timeouts when the machine is overloaded.
  EXPECT_LE(witness_unknowns, 5);
}

TEST(RegexToZ3, CorpusExact) { run_corpus(Mode::kExact); }

TEST(RegexToZ3, CorpusPrintable) { run_corpus(Mode::kPrintable); }

TEST(RegexToZ3, EmptyPatternMatchesOnlyEmptyString) {
  z3::context ctx;
  auto t = translate_re2(ctx, "");
  ASSERT_TRUE(t.regex) << t.error;
  Membership m(ctx, *t.regex);
  EXPECT_EQ(m.check("").verdict, Verdict::kSat);
  EXPECT_EQ(m.check("a").verdict, Verdict::kUnsat);
  EXPECT_EQ(m.check(" ").verdict, Verdict::kUnsat);
  EXPECT_EQ(ask(Mode::kExact, {{"", true}}, {""}).verdict, Verdict::kUnsat);
  EXPECT_EQ(ask(Mode::kPrintable, {{"", true}}, {""}).verdict, Verdict::kUnsat);
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
// also allowed by another?): a printable s in A and not in B.
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
      {dns("*"), dns("*.cilium.io"), false},
      {"[a-z0-9-]+\\.svc\\.cluster\\.local", ".*\\.example\\.com", false},
      {"[a-z0-9-]+\\.svc\\.cluster\\.local", ".*\\.local", true},
      {"GET", "GET|POST", true},
      {"GET|POST|PUT", "GET|POST", false},
      {"(?i)get", "GET", false},
      {"^/healthz$", "/healthz", true},
      {"/healthz", "^/healthz$", true},
      {".*\\.example\\.com", "[^.]+\\.example\\.com", false},
      {"/public.*", "/public/.*", false},
      {"/users/[^/]+/profile", "/users/.*", true},
      {"[0-9]{2,4}", "[0-9]+", true},
      {"[0-9]+", "[0-9]{2,4}", false},
      {"/api/v[0-9]+/items/[a-f0-9-]{36}", "/api/.*", true},
      {"/api/.*", "/api/v[0-9]+/items/[a-f0-9-]{36}", false},
  };
  std::printf("difference queries (printable s in A, not in B), translate_re2_printable:\n");
  for (const auto& c : cases) {
    Answer r = ask(Mode::kPrintable, {{c.a, true}, {c.b, false}});
    std::printf("  %-5s %7.1f ms %-12s  %s minus %s\n", name(r.verdict), r.ms, r.form, show(c.a).c_str(),
                show(c.b).c_str());
    EXPECT_NE(r.verdict, Verdict::kUnknown) << c.a << " minus " << c.b;
    if (r.verdict == Verdict::kUnknown) continue;
    EXPECT_EQ(r.verdict == Verdict::kUnsat, c.a_minus_b_empty) << c.a << " minus " << c.b;
    if (r.verdict == Verdict::kSat) {
      EXPECT_TRUE(is_printable(r.model)) << show(r.model);
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
  const std::vector<std::string> probes = {"",   "a",  "b",    "k", "K", "s",   "S",  "ab", "aa",
                                           "/",  ".",  "-",    "\n", "a\n", "ks", "abab", "A", "0",
                                           "x",  "a.b", "//",  " ", "bb", "sk", "ba", "aaa", "a/"};
  for (int i = 0; i < 400; ++i) {
    std::string p;
    for (int n = len(rng); n > 0; --n) p += tokens[tok(rng)];
    auto re = compile(p);
    for (Mode mode : {Mode::kExact, Mode::kPrintable}) {
      z3::context ctx;
      auto t = translate(ctx, p, mode);  // must not crash or throw
      if (!re->ok()) {
        EXPECT_FALSE(t.regex) << show(p) << " is invalid for RE2";
        invalid += mode == Mode::kExact;
        continue;
      }
      if (!t.regex) {
        EXPECT_FALSE(t.error.empty());
        rejected += mode == Mode::kExact;
        continue;
      }
      translated += mode == Mode::kExact;
      std::vector<std::string> samples = probes;
      // A quick model of the pattern, unrestricted: more samples near the language.
      z3::expr s = ctx.string_const("s");
      Solved w = solve(ctx, {z3::in_re(s, *t.regex)}, s, kQuickTimeoutMs);
      if (w.verdict == Verdict::kSat) {
        if (in_domain(w.model, mode)) {
          EXPECT_TRUE(RE2::FullMatch(w.model, *re)) << show(p) << " model " << show(w.model);
        }
        samples.push_back(w.model);
        for (auto& m : mutations(w.model)) samples.push_back(std::move(m));
      }
      std::erase_if(samples, [&](const std::string& v) { return !in_domain(v, mode); });
      Membership membership(ctx, *t.regex);
      for (const auto& v : samples) {
        Solved m = membership.check(v);
        ++checks;
        if (m.verdict == Verdict::kUnknown) {
          ++unknowns;
          continue;
        }
        EXPECT_EQ(m.verdict == Verdict::kSat, RE2::FullMatch(v, *re)) << name(mode) << " " << show(p) << " on " << show(v);
      }
    }
  }
  std::printf("fuzz: %d translated, %d rejected, %d invalid for RE2; %d membership checks, %d unknowns\n", translated,
              rejected, invalid, checks, unknowns);
  EXPECT_EQ(unknowns, 0);
  EXPECT_GT(translated, 100);
}

}  // namespace
