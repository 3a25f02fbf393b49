#pragma once
// RE2 patterns (Envoy safe_regex, full-match semantics) as Z3 regular
// expressions. See docs/regex-translation.md for the supported subset and
// the encodings chosen for Z3 4.8.12.
#include <z3++.h>

#include <optional>
#include <string>

namespace cnpc::verifier {

struct RegexTranslation {
  std::optional<z3::expr> regex;  // a Z3 regular expression (sort RegLan/re of String); nullopt when untranslatable
  std::string error;              // why not, e.g. "backreference \\1 is not supported" / "Unicode class \\pL"
};

// A Z3 regex whose language is exactly { s : RE2::FullMatch(s, pattern) } over the ASCII alphabet (chars 0..127).
RegexTranslation translate_re2(z3::context& ctx, const std::string& pattern);

// The same pattern for the verifier's domain: a Z3 regex whose language
// agrees with RE2::FullMatch on printable-ASCII strings (0x20..0x7e) and is
// unspecified on strings with other characters. That freedom lets `.*`
// become re.all and [^/]* "no '/' anywhere", which Z3 4.8.12 decides far
// faster (seconds become milliseconds). Use it for variables constrained by
// printable_ascii_string.
RegexTranslation translate_re2_printable(z3::context& ctx, const std::string& pattern);

// The alphabet restriction every L7 string variable gets: printable ASCII (0x20..0x7e), the domain of HTTP methods, paths, hosts and DNS names we reason about.
z3::expr printable_ascii_string(z3::context& ctx, const z3::expr& s);

// The regex behind printable_ascii_string. Z3 4.8.12 decides a single
// membership in an intersection far better than several memberships of the
// same variable: prefer in_re(s, re_intersect({printable_ascii_regex, r1,
// re_complement(r2)})) over printable_ascii_string(s) && in_re(s, r1) &&
// !in_re(s, r2) (see docs/regex-translation.md for measurements).
z3::expr printable_ascii_regex(z3::context& ctx);

}  // namespace cnpc::verifier
