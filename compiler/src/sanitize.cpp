// Cilium's policy validation on parsed YAML; see sanitize.h.
//
// Baseline: cilium/cilium ed90dd5e (1.17.0-dev). The messages below are the
// inner error strings of Rule.Sanitize (the "Invalid CiliumNetworkPolicy
// spec: " wrapper is left off, as the caret already says where the rule is),
// Kubernetes field errors for NetworkPolicy, and the exact Go library error
// texts (netip, strconv, regexp) that Cilium wraps.
//
// Deny sections: Rule.Sanitize walks only `ingress` and `egress` at the
// baseline, so Cilium accepts ingressDeny/egressDeny entries that the same
// checks would reject in an allow section. Nothing in decoding catches CIDR
// or port syntax either (both are plain strings in Go). At resolution time a
// bad deny CIDR is silently dropped (CIDRSlice.GetAsEndpointSelectors skips
// it) and a bad deny port is read by `p, _ := strconv.ParseUint(...)` as 0
// (every port) or, when out of range, 65535. Both change what the deny
// covers without any error, so they are reported as *warnings* under the
// same checks (invalid-cidr, invalid-port) with Cilium's would-be message
// and a hint. Sanitize-only rules (peer combinations, L7, entities,
// selectors, ICMP family/count) are not reported on deny sections. ICMP type
// names are checked at JSON decode time (ICMPField.UnmarshalJSON), so an
// unknown name is an error everywhere, deny sections included.

#include "sanitize.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "yaml_util.h"

namespace cnpc::frontend {

namespace {

using ir::Severity;
using ir::SourceLocation;

// ---------------------------------------------------------------------------
// Go formatting helpers.

bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_ascii_digit(char c) { return c >= '0' && c <= '9'; }
char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

std::string to_lower(std::string s) {
  for (auto& c : s) c = ascii_lower(c);
  return s;
}
std::string to_upper(std::string s) {
  for (auto& c : s) c = (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c;
  return s;
}

bool equal_fold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

// Length of the valid UTF-8 sequence at s[i], or 0 when it is invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = static_cast<unsigned char>(s[i]);
  size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

// Go's strconv.Quote (as used by %q), close enough for policy text.
std::string go_quote(std::string_view s) {
  std::string out = "\"";
  char buf[8];
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_len(s, i);
      if (n == 0) {
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
    ++i;
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------
// Go's net/netip parsers (Go 1.22 messages). `sloppy` mimics the
// Kubernetes API server's ParseCIDRSloppy, which allows leading zeros.

struct GoAddr {
  bool v6 = false;
  bool zone = false;
  std::array<uint8_t, 16> b{};  // IPv4 uses b[0..3]
};

struct GoPrefix {
  GoAddr addr;
  int bits = 0;
};

std::string addr_err(const std::string& in, const std::string& msg, std::string_view at = {}) {
  std::string e = "ParseAddr(" + go_quote(in) + "): " + msg;
  if (!at.empty()) e += " (at " + go_quote(at) + ")";
  return e;
}

// Parses the IPv4 dotted quad in[off, end) into out[0..3].
std::optional<std::string> parse_ipv4_fields(const std::string& in, size_t off, size_t end,
                                             uint8_t* out, bool sloppy) {
  int val = 0, pos = 0, dig_len = 0;
  std::string_view s(in.data() + off, end - off);
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (is_ascii_digit(c)) {
      if (!sloppy && dig_len == 1 && val == 0)
        return addr_err(in, "IPv4 field has octet with leading zero");
      val = val * 10 + (c - '0');
      ++dig_len;
      if (val > 255) return addr_err(in, "IPv4 field has value >255");
    } else if (c == '.') {
      if (i == 0 || i == s.size() - 1 || s[i - 1] == '.')
        return addr_err(in, "IPv4 field must have at least one digit", s.substr(i));
      if (pos == 3) return addr_err(in, "IPv4 address too long");
      out[pos++] = uint8_t(val);
      val = 0;
      dig_len = 0;
    } else {
      return addr_err(in, "unexpected character", s.substr(i));
    }
  }
  if (pos < 3) return addr_err(in, "IPv4 address too short");
  out[3] = uint8_t(val);
  return std::nullopt;
}

std::optional<std::string> parse_ipv6(const std::string& in, GoAddr& a, bool sloppy) {
  std::string_view s = in;
  std::string_view zone;
  if (auto pct = s.find('%'); pct != std::string_view::npos) {
    zone = s.substr(pct + 1);
    s = s.substr(0, pct);
    if (zone.empty()) return addr_err(in, "zone must be a non-empty string");
    a.zone = true;
  }
  a.v6 = true;
  auto& ip = a.b;
  int ellipsis = -1;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) return std::nullopt;
  }
  int i = 0;
  while (i < 16) {
    size_t off = 0;
    uint32_t acc = 0;
    for (; off < s.size(); ++off) {
      char c = s[off];
      if (is_ascii_digit(c))
        acc = (acc << 4) + uint32_t(c - '0');
      else if (c >= 'a' && c <= 'f')
        acc = (acc << 4) + uint32_t(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        acc = (acc << 4) + uint32_t(c - 'A' + 10);
      else
        break;
      if (off > 3) return addr_err(in, "each group must have 4 or less digits", s);
      if (acc > 0xffff) return addr_err(in, "IPv6 field has value >=2^16", s);
    }
    if (off == 0) return addr_err(in, "each colon-separated field must have at least one digit", s);
    if (off < s.size() && s[off] == '.') {
      if (ellipsis < 0 && i != 12)
        return addr_err(in, "embedded IPv4 address must replace the final 2 fields of the address",
                        s);
      if (i + 4 > 16)
        return addr_err(in, "too many hex fields to fit an embedded IPv4 at the end of the address",
                        s);
      size_t end = in.size();
      if (!zone.empty()) end -= zone.size() + 1;
      if (auto e = parse_ipv4_fields(in, end - s.size(), end, &ip[size_t(i)], sloppy)) return e;
      i += 4;
      s = {};
      break;
    }
    ip[size_t(i)] = uint8_t(acc >> 8);
    ip[size_t(i) + 1] = uint8_t(acc);
    i += 2;
    s.remove_prefix(off);
    if (s.empty()) break;
    if (s[0] != ':') return addr_err(in, "unexpected character, want colon", s);
    if (s.size() == 1) return addr_err(in, "colon must be followed by more characters", s);
    s.remove_prefix(1);
    if (s[0] == ':') {
      if (ellipsis >= 0) return addr_err(in, "multiple :: in address", s);
      ellipsis = i;
      s.remove_prefix(1);
      if (s.empty()) break;
    }
  }
  if (!s.empty()) return addr_err(in, "trailing garbage after address", s);
  if (i < 16) {
    if (ellipsis < 0) return addr_err(in, "address string too short");
    int n = 16 - i;
    for (int j = i - 1; j >= ellipsis; --j) ip[size_t(j + n)] = ip[size_t(j)];
    for (int j = ellipsis; j < ellipsis + n; ++j) ip[size_t(j)] = 0;
  } else if (ellipsis >= 0) {
    return addr_err(in, "the :: must expand to at least one field of zeros", s);
  }
  return std::nullopt;
}

// netip.ParseAddr: returns the error text, or nullopt and fills `a`.
std::optional<std::string> parse_addr(const std::string& s, GoAddr& a, bool sloppy = false) {
  a = GoAddr{};
  for (char c : s) {
    if (c == '.') return parse_ipv4_fields(s, 0, s.size(), a.b.data(), sloppy);
    if (c == ':') return parse_ipv6(s, a, sloppy);
    if (c == '%') return addr_err(s, "missing IPv6 address");
  }
  return addr_err(s, "unable to parse IP");
}

// netip.ParsePrefix: returns the error text, or nullopt and fills `p`.
std::optional<std::string> parse_prefix(const std::string& s, GoPrefix& p, bool sloppy = false) {
  const std::string head = "netip.ParsePrefix(" + go_quote(s) + "): ";
  auto slash = s.rfind('/');
  if (slash == std::string::npos) return head + "no '/'";
  if (auto e = parse_addr(s.substr(0, slash), p.addr, sloppy)) return head + *e;
  if (p.addr.v6 && p.addr.zone) return head + "IPv6 zones cannot be present in a prefix";
  std::string bits = s.substr(slash + 1);
  std::string bad = head + "bad bits after slash: " + go_quote(bits);
  if (!sloppy && bits.size() > 1 && (bits[0] < '1' || bits[0] > '9')) return bad;
  // Atoi overflows past 18 digits; below that a big number is just too long.
  if (bits.empty() || bits.size() > 18 || !std::all_of(bits.begin(), bits.end(), is_ascii_digit))
    return bad;
  long long n = std::stoll(bits);
  if (n > (p.addr.v6 ? 128 : 32)) return head + "prefix length out of range";
  p.bits = int(n);
  return std::nullopt;
}

// netip.Prefix.Contains: same family and the first p.bits bits agree.
bool prefix_contains(const GoPrefix& p, const GoAddr& a) {
  if (p.addr.v6 != a.v6 || a.zone) return false;
  for (int bit = 0; bit < p.bits; ++bit) {
    uint8_t mask = uint8_t(0x80u >> (bit % 8));
    if ((p.addr.b[size_t(bit / 8)] & mask) != (a.b[size_t(bit / 8)] & mask)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Go's strconv.

bool underscore_ok(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' &&
      (ascii_lower(s[1]) == 'b' || ascii_lower(s[1]) == 'o' || ascii_lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = ascii_lower(s[1]) == 'x';
  }
  for (; i < s.size(); ++i) {
    char l = ascii_lower(s[i]);
    if (is_ascii_digit(s[i]) || (hex && l >= 'a' && l <= 'f')) {
      saw = '0';
      continue;
    }
    if (s[i] == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// strconv.ParseUint(s, 0, 16). Returns the value, or the *NumError text.
struct UintResult {
  std::optional<uint16_t> value;
  std::string error;
  bool range_error = false;
};

UintResult go_parse_uint16(const std::string& s0) {
  const std::string head = "strconv.ParseUint: parsing " + go_quote(s0) + ": ";
  UintResult syntax{std::nullopt, head + "invalid syntax", false};
  UintResult range{std::nullopt, head + "value out of range", true};
  if (s0.empty()) return syntax;
  std::string_view s = s0;
  unsigned base = 10;
  if (s[0] == '0') {
    char p = s.size() >= 3 ? ascii_lower(s[1]) : '\0';
    base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 8;
    s.remove_prefix(p == 'b' || p == 'o' || p == 'x' ? 2 : 1);
  }
  bool underscores = false;
  uint64_t n = 0;
  for (char c : s) {
    unsigned d;
    char l = ascii_lower(c);
    if (c == '_') {
      underscores = true;
      continue;
    } else if (is_ascii_digit(c)) {
      d = unsigned(c - '0');
    } else if (l >= 'a' && l <= 'z') {
      d = unsigned(l - 'a' + 10);
    } else {
      return syntax;
    }
    if (d >= base) return syntax;
    n = n * base + d;
    if (n > 0xffff) return range;
  }
  if (underscores && !underscore_ok(s0)) return syntax;
  return {uint16_t(n), {}, false};
}

// strconv.ParseInt(s, 10, bitSize) for small ranges; nullopt on any error.
std::optional<int64_t> go_parse_int10(const std::string& s, int64_t lo, int64_t hi) {
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  if (v.empty()) return std::nullopt;
  int64_t n = 0;
  for (char c : v) {
    if (!is_ascii_digit(c)) return std::nullopt;
    n = n * 10 + (c - '0');
    if (n > (int64_t(1) << 40)) return std::nullopt;
  }
  if (neg) n = -n;
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

// intstr.IntValue() != 0 for a string: Atoi's result, where an overflow
// still yields a (clamped, non-zero) value.
bool go_atoi_nonzero(const std::string& s) {
  std::string_view v = s;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) v.remove_prefix(1);
  if (v.empty() || !std::all_of(v.begin(), v.end(), is_ascii_digit)) return false;
  return v.find_first_not_of('0') != std::string_view::npos;
}

// A plain (unquoted) YAML scalar that JSON would carry as an integer.
std::optional<int64_t> yaml_int(const YAML::Node& n) {
  if (!n.IsDefined() || !n.IsScalar() || n.Tag() != "?") return std::nullopt;
  return go_parse_int10(n.Scalar(), -(int64_t(1) << 40), int64_t(1) << 40);
}

// ---------------------------------------------------------------------------
// Go's regexp error texts for RE2's error codes (the two share a lineage).

std::string_view go_regexp_code(RE2::ErrorCode code) {
  switch (code) {
    case RE2::ErrorBadEscape:
      return "invalid escape sequence";
    case RE2::ErrorBadCharClass:
      return "invalid character class";
    case RE2::ErrorBadCharRange:
      return "invalid character class range";
    case RE2::ErrorMissingBracket:
      return "missing closing ]";
    case RE2::ErrorMissingParen:
      return "missing closing )";
    case RE2::ErrorUnexpectedParen:
      return "unexpected )";
    case RE2::ErrorTrailingBackslash:
      return "trailing backslash at end of expression";
    case RE2::ErrorRepeatArgument:
      return "missing argument to repetition operator";
    case RE2::ErrorRepeatSize:
      return "invalid repeat count";
    case RE2::ErrorRepeatOp:
      return "invalid nested repetition operator";
    case RE2::ErrorBadPerlOp:
      return "invalid or unsupported Perl syntax";
    case RE2::ErrorBadUTF8:
      return "invalid UTF-8";
    case RE2::ErrorBadNamedCapture:
      return "invalid named capture";
    case RE2::ErrorPatternTooLarge:
      return "expression too large";
    default:
      return "regexp/syntax: internal error";
  }
}

// ---------------------------------------------------------------------------
// Kubernetes validation (apimachinery/pkg/util/validation).

const RE2& qualified_name_re() {
  static const RE2 re("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
  return re;
}
const RE2& label_value_re() {
  static const RE2 re("(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?");
  return re;
}
const RE2& dns1123_subdomain_re() {
  static const RE2 re("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  return re;
}

std::string regex_error(const std::string& msg, const std::string& fmt,
                        std::initializer_list<const char*> examples) {
  std::string out = msg + " (e.g. ";
  bool first = true;
  for (const char* e : examples) {
    if (!first) out += " or ";
    first = false;
    out += std::string("'") + e + "', ";
  }
  return out + "regex used for validation is '" + fmt + "')";
}

constexpr const char* kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr const char* kQualifiedNameErr =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

std::vector<std::string> is_dns1123_subdomain(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back("must be no more than 253 characters");
  if (!RE2::FullMatch(v, dns1123_subdomain_re()))
    errs.push_back(regex_error(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", {"example.com"}));
  return errs;
}

std::vector<std::string> is_qualified_name(const std::string& value) {
  std::vector<std::string> errs;
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    auto slash = value.find('/', start);
    parts.push_back(value.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  std::string name;
  if (parts.size() == 1) {
    name = parts[0];
  } else if (parts.size() == 2) {
    const std::string& prefix = parts[0];
    name = parts[1];
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (const auto& m : is_dns1123_subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  } else {
    errs.push_back(
        "a qualified name " +
        regex_error(kQualifiedNameErr, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part must be no more than 63 characters");
  }
  if (!RE2::FullMatch(name, qualified_name_re()))
    errs.push_back("name part " + regex_error(kQualifiedNameErr, kQualifiedNameFmt,
                                              {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> is_valid_label_value(const std::string& v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back("must be no more than 63 characters");
  if (!RE2::FullMatch(v, label_value_re()))
    errs.push_back(regex_error(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
        "'.', and must start and end with an alphanumeric character",
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  return errs;
}

// validation.IsValidPortName (NetworkPolicy named ports).
std::vector<std::string> is_valid_port_name(const std::string& p) {
  std::vector<std::string> errs;
  if (p.size() > 15) errs.push_back("must be no more than 15 characters");
  bool charset = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || is_ascii_digit(c) || c == '-';
  });
  if (!charset)
    errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (std::none_of(p.begin(), p.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
    errs.push_back("must contain at least one letter (a-z)");
  if (p.find("--") != std::string::npos) errs.push_back("must not contain consecutive hyphens");
  if (!p.empty() && (p.front() == '-' || p.back() == '-'))
    errs.push_back("must not begin or end with a hyphen");
  return errs;
}

// field.Error texts.
std::string field_invalid(const std::string& path, const std::string& quoted_value,
                          const std::string& detail) {
  return path + ": Invalid value: " + quoted_value + ": " + detail;
}

// labels.GetExtendedKeyFrom: "k8s:app" -> "k8s.app", "app" -> "any.app",
// "$host" and "reserved.host" -> "reserved.host"; a "=value" tail is dropped.
std::string extended_key(const std::string& key) {
  std::string src, next;
  if (key.empty()) {
  } else if (key[0] == '$') {
    src = "reserved";
    next = key.substr(1);
  } else if (auto colon = key.find(':'); colon != std::string::npos) {
    src = key.substr(0, colon);
    next = key.substr(colon + 1);
  } else if (key.rfind("reserved.", 0) == 0) {
    src = "reserved";
    next = key.substr(9);
  } else {
    next = key;
  }
  if (src.empty()) src = "any";
  if (auto eq = next.find('='); eq != std::string::npos) next = next.substr(0, eq);
  return src + "." + next;
}

// ---------------------------------------------------------------------------
// Tables.

struct IcmpName {
  const char* name;
  uint8_t code;
};

constexpr IcmpName kIcmpV4[] = {
    {"EchoReply", 0},
    {"DestinationUnreachable", 3},
    {"Redirect", 5},
    {"Echo", 8},
    {"EchoRequest", 8},
    {"RouterAdvertisement", 9},
    {"RouterSelection", 10},
    {"TimeExceeded", 11},
    {"ParameterProblem", 12},
    {"Timestamp", 13},
    {"TimestampReply", 14},
    {"Photuris", 40},
    {"ExtendedEchoRequest", 42},
    {"ExtendedEchoReply", 43},
};

constexpr IcmpName kIcmpV6[] = {
    {"DestinationUnreachable", 1},
    {"PacketTooBig", 2},
    {"TimeExceeded", 3},
    {"ParameterProblem", 4},
    {"EchoRequest", 128},
    {"EchoReply", 129},
    {"MulticastListenerQuery", 130},
    {"MulticastListenerReport", 131},
    {"MulticastListenerDone", 132},
    {"RouterSolicitation", 133},
    {"RouterAdvertisement", 134},
    {"NeighborSolicitation", 135},
    {"NeighborAdvertisement", 136},
    {"RedirectMessage", 137},
    {"RouterRenumbering", 138},
    {"ICMPNodeInformationQuery", 139},
    {"ICMPNodeInformationResponse", 140},
    {"InverseNeighborDiscoverySolicitation", 141},
    {"InverseNeighborDiscoveryAdvertisement", 142},
    {"HomeAgentAddressDiscoveryRequest", 144},
    {"HomeAgentAddressDiscoveryReply", 145},
    {"MobilePrefixSolicitation", 146},
    {"MobilePrefixAdvertisement", 147},
    {"DuplicateAddressRequestCodeSuffix", 157},
    {"DuplicateAddressConfirmationCodeSuffix", 158},
    {"ExtendedEchoRequest", 160},
    {"ExtendedEchoReply", 161},
};

// EntitySelectorMapping keys (entity.go); world-ipv4/6 are not in the CRD enum
// but Go accepts them.
constexpr std::string_view kEntities[] = {
    "all",     "world",     "world-ipv4",  "world-ipv6", "cluster", "host",           "init",
    "ingress", "unmanaged", "remote-node", "health",     "none",    "kube-apiserver",
};

// kafka.APIKeyMap keys.
constexpr std::string_view kKafkaApiKeys[] = {
    "produce",
    "fetch",
    "offsets",
    "metadata",
    "leaderandisr",
    "stopreplica",
    "updatemetadata",
    "controlledshutdown",
    "offsetcommit",
    "offsetfetch",
    "findcoordinator",
    "joingroup",
    "heartbeat",
    "leavegroup",
    "syncgroup",
    "describegroups",
    "listgroups",
    "saslhandshake",
    "apiversions",
    "createtopics",
    "deletetopics",
    "deleterecords",
    "initproducerid",
    "offsetforleaderepoch",
    "addpartitionstotxn",
    "addoffsetstotxn",
    "endtxn",
    "writetxnmarkers",
    "txnoffsetcommit",
    "describeacls",
    "createacls",
    "deleteacls",
    "describeconfigs",
    "alterconfigs",
};

// The L3 peer fields, YAML name and Go name (rule_validation.go l3Members).
struct PeerField {
  const char* yaml;
  const char* go;
};
constexpr PeerField kIngressPeers[] = {
    {"fromEndpoints", "FromEndpoints"}, {"fromCIDR", "FromCIDR"},   {"fromCIDRSet", "FromCIDRSet"},
    {"fromEntities", "FromEntities"},   {"fromNodes", "FromNodes"}, {"fromGroups", "FromGroups"},
};
constexpr PeerField kEgressPeers[] = {
    {"toCIDR", "ToCIDR"},         {"toCIDRSet", "ToCIDRSet"},   {"toEndpoints", "ToEndpoints"},
    {"toEntities", "ToEntities"}, {"toServices", "ToServices"}, {"toFQDNs", "ToFQDNs"},
    {"toGroups", "ToGroups"},     {"toNodes", "ToNodes"},
};

constexpr size_t kMaxPorts = 40;
constexpr size_t kMaxIcmpFields = 40;

const char* const kDenyCidrHint =
    "Cilium does not validate ingressDeny/egressDeny, so it accepts the policy and silently "
    "ignores this entry";

// ---------------------------------------------------------------------------
// The walker.

size_t seq_len(const YAML::Node& n) { return n.IsDefined() && n.IsSequence() ? n.size() : 0; }

// `n` when it is a sequence, else an empty one (so loops skip malformed input).
YAML::Node seq(const YAML::Node& n) {
  return n.IsDefined() && n.IsSequence() ? n : YAML::Node(YAML::NodeType::Sequence);
}

std::string scalar_or_empty(const YAML::Node& n) { return scalar_of(n).value_or(""); }

class Sanitizer {
 public:
  Sanitizer(const std::string& file, const LoadOptions& options, ir::Diagnostics& diags,
            std::string kind)
      : file_(file),
        options_(options),
        diags_(diags),
        kind_(std::move(kind)),
        fold_(kind_ == "CiliumRule") {}

  void cilium_object(const YAML::Node& obj);
  void rule(const YAML::Node& r);
  void network_policy(const YAML::Node& obj);

 private:
  // A bare rule is decoded by Go's encoding/json, which matches field names
  // case-insensitively (exact match first); CRD objects are pruned to exact
  // names by the API server, and Kubernetes decoding is case-sensitive.
  YAML::Node get(const YAML::Node& map, const std::string& key) const {
    return fold_ ? go_json_member(map, key) : member(map, key);
  }
  SourceLocation kloc(const YAML::Node& map, const std::string& key) const {
    if (map.IsDefined() && map.IsMap()) {
      for (auto it = map.begin(); it != map.end(); ++it)
        if (it->first.IsScalar() && it->first.Scalar() == key) return loc_of(it->first, file_);
      if (fold_)
        for (auto it = map.begin(); it != map.end(); ++it)
          if (it->first.IsScalar() && equal_fold(it->first.Scalar(), key))
            return loc_of(it->first, file_);
    }
    return loc_of(map, file_);
  }
  SourceLocation at(const YAML::Node& n) const { return loc_of(n, file_); }
  // The value when it is a real node, else its key (or the map).
  SourceLocation value_loc(const YAML::Node& map, const std::string& key) const {
    YAML::Node v = get(map, key);
    return present(v) ? at(v) : kloc(map, key);
  }

  ir::Diagnostic& report(std::string_view check, SourceLocation loc, std::string msg) {
    return diags_.report(check, std::move(loc), std::move(msg));
  }
  ir::Diagnostic& report(std::string_view check, Severity sev, SourceLocation loc,
                         std::string msg) {
    return diags_.report(check, sev, std::move(loc), std::move(msg));
  }
  void warn(std::string_view check, SourceLocation loc, std::string msg, std::string hint) {
    diags_.report(check, Severity::Warning, std::move(loc), std::move(msg)).hint = std::move(hint);
  }

  // countL7Rules. Its map gets all three keys as soon as one port rule has
  // non-empty `rules` (even `http: []` or generic l7proto rules), and Cilium
  // tests len(map) > 0 for the proxy and host-ingress checks.
  struct L7Count {
    size_t dns = 0, http = 0, kafka = 0;
    std::optional<SourceLocation> first_rules;  // `rules` key of the first non-empty one
  };
  L7Count count_l7(const YAML::Node& to_ports) const;
  SourceLocation l7_kind_loc(const YAML::Node& to_ports, const char* kind) const;
  bool l7_empty(const YAML::Node& rules) const;

  void ingress_rule(const YAML::Node& r);
  void egress_rule(const YAML::Node& r);
  void common_checks(const YAML::Node& r, bool ingress);
  void deny_rule(const YAML::Node& r, bool ingress);
  void peer_combinations(const YAML::Node& r, std::span<const PeerField> peers);
  void port_rule(const YAML::Node& pr, bool ingress);
  struct PortResult {
    bool ok = false;
    bool zero = false;
    std::string protocol;
  };
  PortResult port_protocol(const YAML::Node& pp, bool has_dns);
  void deny_port(const YAML::Node& pp);
  void l7_rules(const YAML::Node& rules, const YAML::Node& ports);
  void http_rule(const YAML::Node& h);
  void kafka_rule(const YAML::Node& k);
  void dns_rule(const YAML::Node& d);
  void fqdn_selector(const YAML::Node& f);
  void icmp_rule(const YAML::Node& ir, bool allow);
  void cidr(const YAML::Node& c, bool deny);
  void cidr_rule(const YAML::Node& c, bool deny);
  void entity(const YAML::Node& e);
  void selector(const YAML::Node& sel);
  void selectors(const YAML::Node& list) {
    for (const auto& s : seq(list)) selector(s);
  }
  void regex(const YAML::Node& n, const std::string& hint);

  void knp_selector(const YAML::Node& sel, const std::string& path,
                    const std::string& cilium_prefix);
  void knp_peer(const YAML::Node& peer, const std::string& path);
  void knp_ip_block(const YAML::Node& ipb, const std::string& path);
  void knp_port(const YAML::Node& port, const std::string& path);

  const std::string& file_;
  const LoadOptions& options_;
  ir::Diagnostics& diags_;
  std::string kind_;
  bool fold_ = false;
  bool host_ = false;  // the rule has a nodeSelector (host policy)
};

// CNP/CCNP envelope (cnp_types.go / ccnp_types.go Parse).
void Sanitizer::cilium_object(const YAML::Node& obj) {
  if (!obj.IsMap()) return;
  YAML::Node meta = member(obj, "metadata");
  if (scalar_or_empty(member(meta, "name")).empty() &&
      scalar_or_empty(member(meta, "generateName")).empty()) {
    // The API server names generateName objects before Parse sees them.
    SourceLocation loc = meta.IsDefined() ? key_loc(obj, "metadata", file_) : at(obj);
    report("invalid-policy", loc, kind_ + " must have name");
  }
  YAML::Node spec = member(obj, "spec");
  YAML::Node specs = member(obj, "specs");
  if (!present(spec) && !present(specs)) {
    report("invalid-policy", at(obj), "Invalid " + kind_ + " spec(s): empty policy");
    return;
  }
  if (present(spec)) {
    rule(spec);
    // Checked after Sanitize, for `spec` only (not `specs`), and only in CNP.
    if (kind_ == "CiliumNetworkPolicy" && spec.IsMap() && present(member(spec, "nodeSelector")))
      report("invalid-policy", key_loc(spec, "nodeSelector", file_),
             "Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector");
  }
  for (const auto& r : seq(specs)) rule(r);
}

// Rule.Sanitize.
void Sanitizer::rule(const YAML::Node& r) {
  if (!r.IsDefined() || !r.IsMap()) return;
  YAML::Node es = get(r, "endpointSelector");
  YAML::Node ns = get(r, "nodeSelector");
  if (!present(es) && !present(ns))
    report("invalid-policy", at(r), "rule must have one of EndpointSelector or NodeSelector");
  else if (present(es) && present(ns))
    report("invalid-policy", kloc(r, "nodeSelector"),
           "rule cannot have both EndpointSelector and NodeSelector");
  if (present(es)) selector(es);
  if (present(ns)) selector(ns);
  host_ = present(ns);
  for (const auto& i : seq(get(r, "ingress")))
    if (i.IsMap()) ingress_rule(i);
  for (const auto& e : seq(get(r, "egress")))
    if (e.IsMap()) egress_rule(e);
  for (const auto& i : seq(get(r, "ingressDeny")))
    if (i.IsMap()) deny_rule(i, true);
  for (const auto& e : seq(get(r, "egressDeny")))
    if (e.IsMap()) deny_rule(e, false);
}

// "Combining %s and %s": Go ranges over a map, so Cilium names the pair in
// random order; we name them in YAML order and point at the second field.
void Sanitizer::peer_combinations(const YAML::Node& r, std::span<const PeerField> peers) {
  const PeerField* first = nullptr;
  for (auto it = r.begin(); it != r.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& key = it->first.Scalar();
    for (const auto& p : peers) {
      if (!(fold_ ? equal_fold(key, p.yaml) : key == p.yaml)) continue;
      if (seq_len(it->second) > 0 && first != &p) {
        if (!first)
          first = &p;
        else
          report("invalid-peer", loc_of(it->first, file_),
                 std::string("Combining ") + first->go + " and " + p.go + " is not supported yet");
      }
      break;
    }
  }
}

bool Sanitizer::l7_empty(const YAML::Node& rules) const {
  if (!present(rules) || !rules.IsMap()) return true;
  return !present(get(rules, "http")) && !present(get(rules, "kafka")) &&
         !present(get(rules, "dns")) && scalar_or_empty(get(rules, "l7proto")).empty() &&
         !present(get(rules, "l7"));
}

// countL7Rules: list lengths of DNS/HTTP/Kafka over non-empty `rules`.
Sanitizer::L7Count Sanitizer::count_l7(const YAML::Node& to_ports) const {
  L7Count c;
  for (const auto& pr : seq(to_ports)) {
    YAML::Node rules = get(pr, "rules");
    if (l7_empty(rules)) continue;
    if (!c.first_rules) c.first_rules = kloc(pr, "rules");
    c.http += seq_len(get(rules, "http"));
    c.kafka += seq_len(get(rules, "kafka"));
    c.dns += seq_len(get(rules, "dns"));
  }
  return c;
}

// The key of the first non-empty `kind` list.
SourceLocation Sanitizer::l7_kind_loc(const YAML::Node& to_ports, const char* kind) const {
  for (const auto& pr : seq(to_ports)) {
    YAML::Node rules = get(pr, "rules");
    if (!l7_empty(rules) && seq_len(get(rules, kind)) > 0) return kloc(rules, kind);
  }
  return at(to_ports);
}

// Checks shared by IngressRule.sanitize and EgressRule.sanitize.
void Sanitizer::common_checks(const YAML::Node& r, bool ingress) {
  YAML::Node to_ports = get(r, "toPorts");
  YAML::Node icmps = get(r, "icmps");
  L7Count l7 = count_l7(to_ports);
  if (l7.first_rules) {
    if (ingress && host_)
      report("invalid-l7", *l7.first_rules, "L7 policy is not supported on host ingress yet");
    if (!options_.enable_l7_proxy)
      report("invalid-l7", *l7.first_rules,
             "L7 policy is not supported since L7 proxy is not enabled");
    // PortRule's "DNS rules are not allowed on ingress" is always pre-empted
    // by this check, so it is never the message Cilium returns.
    if (ingress && l7.dns > 0)
      report("invalid-l7", l7_kind_loc(to_ports, "dns"),
             "L7 protocol DNS is not supported on ingress yet");
    // Host egress supports only DNS at the baseline.
    if (!ingress && host_ && l7.http > 0)
      report("invalid-l7", l7_kind_loc(to_ports, "http"),
             "L7 protocol HTTP is not supported on host egress yet");
    if (!ingress && host_ && l7.kafka > 0)
      report("invalid-l7", l7_kind_loc(to_ports, "kafka"),
             "L7 protocol Kafka is not supported on host egress yet");
  }
  if (seq_len(icmps) > 0 && !options_.enable_icmp_rules)
    report("agent-flag-required", Severity::Error, kloc(r, "icmps"),
           "ICMP rules can only be applied when the \"enable-icmp-rules\" flag is set");
  if (seq_len(icmps) > 0 && seq_len(to_ports) > 0)
    report("invalid-peer", kloc(r, "icmps"),
           "The ICMPs block may only be present without ToPorts. Define a separate rule to use "
           "ToPorts.");
  const char* nodes = ingress ? "fromNodes" : "toNodes";
  if (seq_len(get(r, nodes)) > 0 && !options_.enable_node_selector_labels)
    warn("agent-flag-required", kloc(r, nodes),
         "FromNodes/ToNodes rules can only be applied when the \"enable-node-selector-labels\" "
         "flag is set",
         "the agent rejects this policy unless it runs with --enable-node-selector-labels");
  selectors(get(r, ingress ? "fromEndpoints" : "toEndpoints"));
  selectors(get(r, ingress ? "fromRequires" : "toRequires"));
  for (const auto& pr : seq(to_ports)) port_rule(pr, ingress);
  for (const auto& ir : seq(icmps)) icmp_rule(ir, true);
  selectors(get(r, nodes));
  for (const auto& c : seq(get(r, ingress ? "fromCIDR" : "toCIDR"))) cidr(c, false);
  for (const auto& c : seq(get(r, ingress ? "fromCIDRSet" : "toCIDRSet"))) cidr_rule(c, false);
  for (const auto& e : seq(get(r, ingress ? "fromEntities" : "toEntities"))) entity(e);
}

void Sanitizer::ingress_rule(const YAML::Node& r) {
  peer_combinations(r, kIngressPeers);
  common_checks(r, true);
}

void Sanitizer::egress_rule(const YAML::Node& r) {
  peer_combinations(r, kEgressPeers);
  // l3DependentL4Support: only ToServices cannot carry ToPorts.
  if (seq_len(get(r, "toServices")) > 0 && seq_len(get(r, "toPorts")) > 0)
    report("invalid-peer", kloc(r, "toPorts"),
           "Combining ToServices and ToPorts is not supported yet");
  common_checks(r, false);
  for (const auto& f : seq(get(r, "toFQDNs"))) fqdn_selector(f);
}

// See the file comment: deny sections get decode-time errors and warnings.
void Sanitizer::deny_rule(const YAML::Node& r, bool ingress) {
  for (const auto& c : seq(get(r, ingress ? "fromCIDR" : "toCIDR"))) cidr(c, true);
  for (const auto& c : seq(get(r, ingress ? "fromCIDRSet" : "toCIDRSet"))) cidr_rule(c, true);
  for (const auto& pr : seq(get(r, "toPorts")))
    for (const auto& pp : seq(get(pr, "ports"))) deny_port(pp);
  for (const auto& ir : seq(get(r, "icmps"))) icmp_rule(ir, false);
}

// PortRule.sanitize.
void Sanitizer::port_rule(const YAML::Node& pr, bool ingress) {
  if (!pr.IsMap()) return;
  YAML::Node rules = get(pr, "rules");
  const bool empty = l7_empty(rules);
  const bool has_dns = !empty && seq_len(get(rules, "dns")) > 0;

  YAML::Node server_names = get(pr, "serverNames");
  if (seq_len(server_names) > 0 && !empty && !present(get(pr, "terminatingTLS")))
    report("invalid-l7", kloc(pr, "serverNames"),
           "ServerNames are not allowed with L7 rules without TLS termination");
  for (const auto& sn : seq(server_names))
    if (sn.IsNull() || (sn.IsScalar() && sn.Scalar().empty()))
      report("invalid-l7", at(sn), "Empty server name is not allowed");

  YAML::Node ports = get(pr, "ports");
  if (seq_len(ports) > kMaxPorts)
    report("invalid-port", kloc(pr, "ports"),
           "too many ports, the max is " + std::to_string(kMaxPorts));
  std::optional<SourceLocation> zero_port;
  for (const auto& pp : seq(ports)) {
    if (!pp.IsMap()) continue;
    PortResult res = port_protocol(pp, has_dns);
    if (!res.ok) continue;
    if (res.zero && !zero_port) zero_port = value_loc(pp, "port");
    // DNS L7 may use TCP, UDP or ANY; every other L7 needs TCP.
    if (!empty && !has_dns && res.protocol != "TCP")
      report("invalid-l7", present(get(pp, "protocol")) ? value_loc(pp, "protocol") : at(pp),
             "L7 rules can only apply to TCP (not " + res.protocol + ") except for DNS rules");
  }

  YAML::Node listener = get(pr, "listener");
  if (present(listener)) {
    std::string name = scalar_or_empty(get(listener, "name"));
    if (ingress)
      report("invalid-l7", kloc(pr, "listener"),
             "Listener is not allowed on ingress (" + name + ")");
    if (!empty)
      report("invalid-l7", kloc(pr, "listener"),
             "Listener is not allowed with L7 rules (" + name + ")");
  }

  if (!empty) {
    if (zero_port) report("invalid-l7", *zero_port, "L7 rules can not be used when a port is 0");
    l7_rules(rules, ports);
  }
}

// PortProtocol.sanitize: the first error only, as in Cilium.
Sanitizer::PortResult Sanitizer::port_protocol(const YAML::Node& pp, bool has_dns) {
  PortResult res;
  YAML::Node port = get(pp, "port");
  if (present(port) && !port.IsScalar()) return res;  // malformed: the schema's finding
  std::string text = scalar_or_empty(port);
  if (text.empty()) {
    report("invalid-port", present(port) ? at(port) : at(pp), "Port must be specified");
    return res;
  }
  if (!is_iana_svc_name(text)) {
    UintResult n = go_parse_uint16(text);
    if (!n.value) {
      report("invalid-port", at(port), "Unable to parse port: " + n.error);
      return res;
    }
    res.zero = *n.value == 0;
    YAML::Node end = get(pp, "endPort");
    auto end_port = yaml_int(end);
    if (has_dns && end_port && *end_port > *n.value) {
      report("invalid-l7", at(end), "DNS rules do not support port ranges");
      return res;
    }
  }
  YAML::Node proto = get(pp, "protocol");
  std::string p = to_upper(scalar_or_empty(proto));
  if (p.empty()) p = "ANY";
  if (p != "TCP" && p != "UDP" && p != "SCTP" && p != "ANY") {
    report("invalid-port", value_loc(pp, "protocol"),
           "invalid protocol " + go_quote(p) + ", must be { tcp | udp | sctp | any }");
    return res;
  }
  res.ok = true;
  res.protocol = p;
  return res;
}

void Sanitizer::deny_port(const YAML::Node& pp) {
  if (!pp.IsMap()) return;
  YAML::Node port = get(pp, "port");
  if (present(port) && !port.IsScalar()) return;
  std::string text = scalar_or_empty(port);
  const std::string unvalidated =
      "Cilium does not validate ingressDeny/egressDeny, so it accepts "
      "the policy and reads this port as ";
  if (text.empty()) {
    warn("invalid-port", present(port) ? at(port) : at(pp), "Port must be specified",
         unvalidated + "0: the deny covers every port");
    return;
  }
  if (is_iana_svc_name(text)) return;
  UintResult n = go_parse_uint16(text);
  if (!n.value)
    warn("invalid-port", at(port), "Unable to parse port: " + n.error,
         unvalidated + (n.range_error ? "65535" : "0: the deny covers every port"));
}

// L7Rules.sanitize.
void Sanitizer::l7_rules(const YAML::Node& rules, const YAML::Node& ports) {
  std::vector<SourceLocation> kinds;  // keys of the L7 kinds present
  for (auto it = rules.begin(); it != rules.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string& k = it->first.Scalar();
    auto is = [&](const char* name) { return fold_ ? equal_fold(k, name) : k == name; };
    if (((is("http") || is("kafka") || is("dns")) && present(it->second)) ||
        (is("l7proto") && !scalar_or_empty(it->second).empty()))
      kinds.push_back(loc_of(it->first, file_));
  }
  for (const auto& h : seq(get(rules, "http"))) http_rule(h);
  for (const auto& k : seq(get(rules, "kafka"))) kafka_rule(k);
  if (present(get(rules, "dns"))) {
    if (seq_len(ports) == 0)
      report("invalid-l7", kloc(rules, "dns"), "Port 53 must be specified for DNS rules");
    for (const auto& d : seq(get(rules, "dns"))) dns_rule(d);
  }
  const bool has_proto = !scalar_or_empty(get(rules, "l7proto")).empty();
  if (present(get(rules, "l7")) && !has_proto)
    report("invalid-l7", kloc(rules, "l7"),
           "'l7' may only be specified when a 'l7proto' is also specified");
  if (has_proto) {
    // PortRuleL7.Sanitize: no empty keys.
    for (const auto& entry : seq(get(rules, "l7"))) {
      if (!entry.IsMap()) continue;
      for (auto it = entry.begin(); it != entry.end(); ++it)
        if (it->first.IsNull() || (it->first.IsScalar() && it->first.Scalar().empty()))
          report("invalid-l7", loc_of(it->first, file_), "Empty key not allowed");
    }
  }
  if (kinds.size() > 1)
    report("invalid-l7", kinds[1], "multiple L7 protocol rule types specified in single rule");
}

void Sanitizer::regex(const YAML::Node& n, const std::string& hint) {
  auto text = scalar_of(n);
  if (!text || text->empty()) return;
  if (auto err = go_regexp_error(*text)) {
    auto& d = report("invalid-http", at(n), *err);
    d.hint = hint;
  }
}

// PortRuleHTTP.Sanitize.
void Sanitizer::http_rule(const YAML::Node& h) {
  if (!h.IsMap()) return;
  regex(get(h, "path"), "");
  regex(get(h, "method"), "");
  // Cilium does not compile `host`, but Envoy's RE2 matcher must.
  regex(get(h, "host"),
        "Cilium accepts an invalid host regex, but Envoy rejects the listener and the policy "
        "never takes effect");
  for (const auto& m : seq(get(h, "headerMatches"))) {
    if (!m.IsMap()) continue;
    if (scalar_or_empty(get(m, "name")).empty())
      report("invalid-http", at(m), "Header name missing");
    std::string action = scalar_or_empty(get(m, "mismatch"));
    if (!action.empty() && action != "LOG" && action != "ADD" && action != "DELETE" &&
        action != "REPLACE")
      report("invalid-http", value_loc(m, "mismatch"), "Invalid header action: " + action);
    YAML::Node secret = get(m, "secret");
    if (present(secret) && scalar_or_empty(get(secret, "name")).empty())
      report("invalid-http", kloc(m, "secret"), "Secret name missing");
  }
}

// kafka.PortRule.Sanitize.
void Sanitizer::kafka_rule(const YAML::Node& k) {
  if (!k.IsMap()) return;
  std::string role = scalar_or_empty(get(k, "role"));
  std::string key = scalar_or_empty(get(k, "apiKey"));
  if (!role.empty() && !key.empty()) {
    report("invalid-kafka", kloc(k, "apiKey"),
           "cannot set both Role " + go_quote(role) + " and APIKey " + go_quote(key) + " together");
  } else {
    if (!key.empty() && std::find(std::begin(kKafkaApiKeys), std::end(kKafkaApiKeys),
                                  to_lower(key)) == std::end(kKafkaApiKeys))
      report("invalid-kafka", value_loc(k, "apiKey"), "invalid Kafka APIKey " + go_quote(key));
    std::string r = to_lower(role);
    if (!role.empty() && r != "produce" && r != "consume")
      report("invalid-kafka", value_loc(k, "role"), "invalid Kafka Role " + go_quote(role));
  }
  std::string version = scalar_or_empty(get(k, "apiVersion"));
  if (!version.empty() && !go_parse_int10(version, 0, 32767))
    report("invalid-kafka", value_loc(k, "apiVersion"),
           "invalid Kafka APIVersion " + go_quote(version));
  std::string topic = scalar_or_empty(get(k, "topic"));
  if (topic.size() > 255) {
    report("invalid-kafka", value_loc(k, "topic"), "kafka topic exceeds maximum len of 255");
  } else if (!topic.empty()) {
    // TopicValidChar is `^[a-zA-Z0-9\\._\\-]+$` in a raw string, so a
    // backslash is allowed too.
    bool ok = std::all_of(topic.begin(), topic.end(), [](char c) {
      return is_ascii_alpha(c) || is_ascii_digit(c) || c == '.' || c == '_' || c == '-' ||
             c == '\\';
    });
    if (!ok)
      report("invalid-kafka", value_loc(k, "topic"), "invalid Kafka Topic name " + go_quote(topic));
  }
}

bool match_name_chars_ok(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' || c == '_' || c == '.';
  });
}
bool match_pattern_chars_ok(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_ascii_alpha(c) || is_ascii_digit(c) || c == '-' || c == '_' || c == '.' || c == '*';
  });
}
std::string bad_match_name(const std::string& s) {
  return "Invalid characters in MatchName: \"" + s +
         "\". Only 0-9, a-z, A-Z and . and - characters are allowed";
}
std::string bad_match_pattern(const std::string& s) {
  return "Invalid characters in MatchPattern: \"" + s +
         "\". Only 0-9, a-z, A-Z and ., - and * characters are allowed";
}

// PortRuleDNS.Sanitize. matchpattern.Validate's own error cannot fire after
// the character check, so it is not reproduced.
void Sanitizer::dns_rule(const YAML::Node& d) {
  if (!d.IsMap()) return;
  std::string name = scalar_or_empty(get(d, "matchName"));
  std::string pattern = scalar_or_empty(get(d, "matchPattern"));
  if (!name.empty() && !match_name_chars_ok(name))
    report("invalid-dns", value_loc(d, "matchName"), bad_match_name(name));
  if (!pattern.empty() && !match_pattern_chars_ok(pattern))
    report("invalid-dns", value_loc(d, "matchPattern"), bad_match_pattern(pattern));
}

// FQDNSelector.sanitize.
void Sanitizer::fqdn_selector(const YAML::Node& f) {
  if (!f.IsMap()) return;
  std::string name = scalar_or_empty(get(f, "matchName"));
  std::string pattern = scalar_or_empty(get(f, "matchPattern"));
  if (!name.empty() && !pattern.empty()) {
    report("invalid-dns", kloc(f, "matchPattern"),
           "only one of MatchName or MatchPattern is allowed in an FQDNSelector");
    return;
  }
  if (!name.empty() && !match_name_chars_ok(name))
    report("invalid-dns", value_loc(f, "matchName"), bad_match_name(name));
  if (!pattern.empty() && !match_pattern_chars_ok(pattern))
    report("invalid-dns", value_loc(f, "matchPattern"), bad_match_pattern(pattern));
}

// ICMPRule.verify (allow sections) plus ICMPField.UnmarshalJSON (everywhere).
void Sanitizer::icmp_rule(const YAML::Node& ir, bool allow) {
  if (!ir.IsMap()) return;
  YAML::Node fields = get(ir, "fields");
  if (allow && seq_len(fields) > kMaxIcmpFields)
    report("invalid-icmp", kloc(ir, "fields"),
           "too many types, the max is " + std::to_string(kMaxIcmpFields));
  for (const auto& f : seq(fields)) {
    if (!f.IsMap()) continue;
    YAML::Node fam = get(f, "family");
    std::string family = scalar_or_empty(fam);
    if (allow && !family.empty() && family != "IPv4" && family != "IPv6")
      report("invalid-icmp", at(fam), "wrong family: " + family);
    // IntOrString: an unquoted integer is an int; a string is a name unless
    // Atoi reads it as non-zero (the exact test Cilium makes).
    YAML::Node type = get(f, "type");
    if (!type.IsDefined() || !type.IsScalar() || yaml_int(type)) continue;
    const std::string& t = type.Scalar();
    if (t == "0" || go_atoi_nonzero(t)) continue;
    if (icmp_type_from_name(t, family == "IPv6")) continue;
    // The API server defaults an omitted family to IPv4 before Cilium
    // decodes a CRD; a bare rule keeps it empty.
    std::string shown = present(fam) ? family : (kind_ == "CiliumRule" ? "" : "IPv4");
    report("invalid-icmp", at(type), "ICMP type " + t + " not found in " + shown);
  }
}

// CIDR.sanitize: a prefix or a bare address.
void Sanitizer::cidr(const YAML::Node& c, bool deny) {
  if (!c.IsNull() && !c.IsScalar()) return;
  std::string text = scalar_or_empty(c);
  std::string err;
  if (text.empty()) {
    err = "IP must be specified";
  } else {
    GoPrefix p;
    GoAddr a;
    if (!parse_prefix(text, p)) return;
    auto e = parse_addr(text, a);
    if (!e) return;
    err = "unable to parse CIDR: " + *e;
  }
  if (deny)
    warn("invalid-cidr", at(c), err, kDenyCidrHint);
  else
    report("invalid-cidr", at(c), err);
}

// CIDRRule.sanitize: prefix form only; excepts inside the prefix.
void Sanitizer::cidr_rule(const YAML::Node& c, bool deny) {
  if (!c.IsMap()) return;
  if (!scalar_or_empty(get(c, "cidrGroupRef")).empty()) return;
  auto emit = [&](SourceLocation loc, std::string msg) {
    if (deny)
      warn("invalid-cidr", std::move(loc), std::move(msg), kDenyCidrHint);
    else
      report("invalid-cidr", std::move(loc), std::move(msg));
  };
  std::string text = scalar_or_empty(get(c, "cidr"));
  GoPrefix prefix;
  if (auto e = parse_prefix(text, prefix)) {
    emit(value_loc(c, "cidr"), "Unable to parse CIDRRule " + go_quote(text) + ": " + *e);
    return;
  }
  for (const auto& x : seq(get(c, "except"))) {
    if (!x.IsNull() && !x.IsScalar()) continue;
    std::string ex = scalar_or_empty(x);
    GoPrefix except;
    if (auto e = parse_prefix(ex, except)) {
      emit(at(x), *e);
    } else if (!deny && !prefix_contains(prefix, except.addr)) {
      // Containment is harmless in a deny; only parse errors drop entries.
      emit(at(x), "allow CIDR prefix " + text + " does not contain exclude CIDR prefix " + ex);
    }
  }
}

void Sanitizer::entity(const YAML::Node& e) {
  if (!e.IsNull() && !e.IsScalar()) return;
  std::string name = scalar_or_empty(e);
  if (std::find(std::begin(kEntities), std::end(kEntities), name) == std::end(kEntities))
    report("invalid-entity", at(e), "unsupported entity: " + name);
}

// EndpointSelector.sanitize: Kubernetes label-selector validation of the
// selector with Cilium's extended keys ("k8s:app" is checked as "k8s.app",
// "app" as "any.app"). One finding per field error (Cilium aggregates them).
void Sanitizer::selector(const YAML::Node& sel) {
  if (!sel.IsDefined() || !sel.IsMap()) return;
  const std::string head = "invalid label selector: ";
  YAML::Node labels = get(sel, "matchLabels");
  if (labels.IsDefined() && labels.IsMap()) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      std::string key = extended_key(it->first.Scalar());
      for (const auto& m : is_qualified_name(key))
        report("invalid-selector", loc_of(it->first, file_),
               head + field_invalid("matchLabels", go_quote(key), m));
      if (!it->second.IsNull() && !it->second.IsScalar()) continue;
      std::string value = scalar_or_empty(it->second);
      for (const auto& m : is_valid_label_value(value))
        report("invalid-selector", at(it->second),
               head + field_invalid("matchLabels", go_quote(value), m));
    }
  }
  size_t i = 0;
  for (const auto& e : seq(get(sel, "matchExpressions"))) {
    std::string path = "matchExpressions[" + std::to_string(i++) + "]";
    if (!e.IsMap()) continue;
    std::string op = scalar_or_empty(get(e, "operator"));
    YAML::Node values = get(e, "values");
    if (op == "In" || op == "NotIn") {
      if (seq_len(values) == 0)
        report("invalid-selector", present(values) ? at(values) : at(e),
               head + path +
                   ".values: Required value: must be specified when `operator` is 'In' "
                   "or 'NotIn'");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (seq_len(values) > 0)
        report("invalid-selector", kloc(e, "values"),
               head + path +
                   ".values: Forbidden: may not be specified when `operator` is "
                   "'Exists' or 'DoesNotExist'");
    } else {
      report(
          "invalid-selector", value_loc(e, "operator"),
          head + field_invalid(path + ".operator", go_quote(op), "not a valid selector operator"));
    }
    std::string key = extended_key(scalar_or_empty(get(e, "key")));
    for (const auto& m : is_qualified_name(key))
      report("invalid-selector", value_loc(e, "key"),
             head + field_invalid(path + ".key", go_quote(key), m));
    size_t j = 0;
    for (const auto& v : seq(values)) {
      std::string vpath = path + ".values[" + std::to_string(j++) + "]";
      if (!v.IsNull() && !v.IsScalar()) continue;
      std::string value = scalar_or_empty(v);
      for (const auto& m : is_valid_label_value(value))
        report("invalid-selector", at(v), head + field_invalid(vpath, go_quote(value), m));
    }
  }
}

// ---------------------------------------------------------------------------
// Kubernetes NetworkPolicy: the API server's ValidateNetworkPolicy (messages
// are its field errors) and then what Cilium's ParseNetworkPolicy +
// Rule.Sanitize reject on top.

void Sanitizer::network_policy(const YAML::Node& obj) {
  if (!obj.IsMap()) return;
  YAML::Node meta = member(obj, "metadata");
  if (scalar_or_empty(member(meta, "name")).empty() &&
      scalar_or_empty(member(meta, "generateName")).empty())
    report("invalid-policy", meta.IsDefined() ? key_loc(obj, "metadata", file_) : at(obj),
           "metadata.name: Required value: name or generateName is required");
  YAML::Node spec = member(obj, "spec");
  if (!spec.IsDefined() || !spec.IsMap()) return;
  knp_selector(member(spec, "podSelector"), "spec.podSelector", "k8s.");
  for (const char* dir : {"ingress", "egress"}) {
    const bool in = dir == std::string_view("ingress");
    size_t i = 0;
    for (const auto& r : seq(member(spec, dir))) {
      std::string path = std::string("spec.") + dir + "[" + std::to_string(i++) + "]";
      if (!r.IsMap()) continue;
      size_t j = 0;
      for (const auto& port : seq(member(r, "ports")))
        knp_port(port, path + ".ports[" + std::to_string(j++) + "]");
      j = 0;
      const char* peers = in ? "from" : "to";
      for (const auto& peer : seq(member(r, peers)))
        knp_peer(peer, path + "." + peers + "[" + std::to_string(j++) + "]");
    }
  }
}

// ValidateLabelSelector with the field path, then Cilium's check of the same
// selector with translated keys ("k8s." + key; namespace selector keys also
// get "io.cilium.k8s.namespace.labels.") that can overflow the 63/253 limits.
void Sanitizer::knp_selector(const YAML::Node& sel, const std::string& path,
                             const std::string& cilium_prefix) {
  if (!sel.IsDefined() || !sel.IsMap()) return;
  const std::string cilium_hint =
      "Kubernetes accepts this key, but Cilium's translation prefixes it with \"" + cilium_prefix +
      "\" and then rejects the policy";
  // `rel` is the path inside the selector, as Cilium's own error shows it.
  auto key_errors = [&](const std::string& raw, const std::string& rel, SourceLocation loc) {
    auto errs = is_qualified_name(raw);
    for (const auto& m : errs)
      report("invalid-selector", loc, field_invalid(path + "." + rel, go_quote(raw), m));
    if (!errs.empty()) return;
    std::string key = cilium_prefix + raw;
    for (const auto& m : is_qualified_name(key))
      report("invalid-selector", loc,
             "invalid label selector: " + field_invalid(rel, go_quote(key), m))
          .hint = cilium_hint;
  };
  YAML::Node labels = member(sel, "matchLabels");
  if (labels.IsDefined() && labels.IsMap()) {
    for (auto it = labels.begin(); it != labels.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      key_errors(it->first.Scalar(), "matchLabels", loc_of(it->first, file_));
      if (!it->second.IsNull() && !it->second.IsScalar()) continue;
      std::string value = scalar_or_empty(it->second);
      for (const auto& m : is_valid_label_value(value))
        report("invalid-selector", at(it->second),
               field_invalid(path + ".matchLabels", go_quote(value), m));
    }
  }
  size_t i = 0;
  for (const auto& e : seq(member(sel, "matchExpressions"))) {
    std::string rel = "matchExpressions[" + std::to_string(i++) + "]";
    std::string epath = path + "." + rel;
    if (!e.IsMap()) continue;
    std::string op = scalar_or_empty(member(e, "operator"));
    YAML::Node values = member(e, "values");
    if (op == "In" || op == "NotIn") {
      if (seq_len(values) == 0)
        report("invalid-selector", present(values) ? at(values) : at(e),
               epath +
                   ".values: Required value: must be specified when `operator` is 'In' or "
                   "'NotIn'");
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (seq_len(values) > 0)
        report("invalid-selector", key_loc(e, "values", file_),
               epath +
                   ".values: Forbidden: may not be specified when `operator` is 'Exists' or "
                   "'DoesNotExist'");
    } else {
      YAML::Node opn = member(e, "operator");
      report("invalid-selector", present(opn) ? at(opn) : at(e),
             field_invalid(epath + ".operator", go_quote(op), "not a valid selector operator"));
    }
    YAML::Node keyn = member(e, "key");
    key_errors(scalar_or_empty(keyn), rel + ".key", present(keyn) ? at(keyn) : at(e));
    size_t j = 0;
    for (const auto& v : seq(values)) {
      std::string vpath = epath + ".values[" + std::to_string(j++) + "]";
      if (!v.IsNull() && !v.IsScalar()) continue;
      std::string value = scalar_or_empty(v);
      for (const auto& m : is_valid_label_value(value))
        report("invalid-selector", at(v), field_invalid(vpath, go_quote(value), m));
    }
  }
}

void Sanitizer::knp_peer(const YAML::Node& peer, const std::string& path) {
  if (!peer.IsMap()) return;
  YAML::Node pod = member(peer, "podSelector");
  YAML::Node ns = member(peer, "namespaceSelector");
  YAML::Node ipb = member(peer, "ipBlock");
  int n = int(present(pod)) + int(present(ns)) + int(present(ipb));
  if (n == 0) report("invalid-peer", at(peer), path + ": Required value: must specify a peer");
  if (present(ipb) && n > 1)
    report("invalid-peer", key_loc(peer, "ipBlock", file_),
           path + ": Forbidden: may not specify both ipBlock and another peer");
  if (present(pod)) knp_selector(pod, path + ".podSelector", "k8s.");
  if (present(ns))
    knp_selector(ns, path + ".namespaceSelector", "k8s.io.cilium.k8s.namespace.labels.");
  if (present(ipb)) knp_ip_block(ipb, path + ".ipBlock");
}

void Sanitizer::knp_ip_block(const YAML::Node& ipb, const std::string& path) {
  if (!ipb.IsMap()) return;
  YAML::Node cidr_node = member(ipb, "cidr");
  std::string text = scalar_or_empty(cidr_node);
  if (text.empty()) {
    report("invalid-cidr", present(cidr_node) ? at(cidr_node) : at(ipb),
           path + ".cidr: Required value");
    return;
  }
  GoPrefix loose;
  if (parse_prefix(text, loose, /*sloppy=*/true)) {
    report("invalid-cidr", at(cidr_node),
           field_invalid(path + ".cidr", go_quote(text), "not a valid CIDR"));
    return;
  }
  // Cilium's CIDRRule.sanitize uses netip, which is stricter (leading zeros).
  const char* hint = "Kubernetes accepts this CIDR, but Cilium's translation rejects the policy";
  GoPrefix strict;
  const bool strict_ok = !parse_prefix(text, strict);
  if (!strict_ok)
    report("invalid-cidr", at(cidr_node),
           "Unable to parse CIDRRule " + go_quote(text) + ": " + *parse_prefix(text, strict))
        .hint = hint;
  size_t i = 0;
  for (const auto& x : seq(member(ipb, "except"))) {
    std::string xpath = path + ".except[" + std::to_string(i++) + "]";
    if (!x.IsNull() && !x.IsScalar()) continue;
    std::string ex = scalar_or_empty(x);
    GoPrefix e;
    if (parse_prefix(ex, e, true)) {
      report("invalid-cidr", at(x), field_invalid(xpath, go_quote(ex), "not a valid CIDR"));
      return;  // ValidateIPBlock stops at the first bad except
    }
    // net.IPNet semantics: masked networks, strictly longer except mask.
    if (!prefix_contains(loose, e.addr) || loose.bits >= e.bits) {
      report("invalid-cidr", at(x),
             field_invalid(xpath, go_quote(ex), "must be a strict subset of `cidr`"));
      continue;
    }
    if (auto err = parse_prefix(ex, e)) report("invalid-cidr", at(x), *err).hint = hint;
  }
}

void Sanitizer::knp_port(const YAML::Node& port, const std::string& path) {
  if (!port.IsMap()) return;
  YAML::Node proto = member(port, "protocol");
  if (present(proto) && proto.IsScalar()) {
    const std::string& p = proto.Scalar();
    if (p != "TCP" && p != "UDP" && p != "SCTP")
      report("invalid-port", at(proto),
             path + ".protocol: Unsupported value: " + go_quote(p) +
                 ": supported values: \"TCP\", \"UDP\", \"SCTP\"");
  }
  YAML::Node num = member(port, "port");
  YAML::Node end = member(port, "endPort");
  auto end_val = yaml_int(end);
  auto range_msg = "must be between 1 and 65535, inclusive";
  if (present(num) && num.IsScalar()) {
    if (auto p = yaml_int(num)) {
      if (*p < 1 || *p > 65535)
        report("invalid-port", at(num),
               field_invalid(path + ".port", std::to_string(*p), range_msg));
      if (end_val) {
        // The bad value shown is the port, as in ValidateNetworkPolicyPort.
        if (*end_val < *p)
          report("invalid-port", at(end),
                 field_invalid(path + ".endPort", std::to_string(*p),
                               "must be greater than or equal to `port`"));
        if (*end_val < 1 || *end_val > 65535)
          report("invalid-port", at(end),
                 field_invalid(path + ".endPort", std::to_string(*end_val), range_msg));
      }
    } else {
      if (end_val)
        report("invalid-port", at(end),
               field_invalid(path + ".endPort", std::to_string(*end_val),
                             "may not be specified when `port` is non-numeric"));
      for (const auto& m : is_valid_port_name(num.Scalar()))
        report("invalid-port", at(num), field_invalid(path + ".port", go_quote(num.Scalar()), m));
    }
  } else if (end_val) {
    report("invalid-port", at(end),
           field_invalid(path + ".endPort", std::to_string(*end_val),
                         "may not be specified when `port` is not specified"));
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API.

void sanitize_object(const YAML::Node& object, const std::string& kind, const std::string& file,
                     const LoadOptions& options, ir::Diagnostics& diags) {
  try {
    Sanitizer s(file, options, diags, kind);
    if (kind == "CiliumRule")
      s.rule(object);
    else if (kind == "NetworkPolicy")
      s.network_policy(object);
    else if (kind == "CiliumNetworkPolicy" || kind == "CiliumClusterwideNetworkPolicy")
      s.cilium_object(object);
  } catch (const std::exception&) {
    // yaml-cpp throws on some malformed trees; what was reported stands.
  }
}

YAML::Node go_json_member(const YAML::Node& map, const std::string& key) {
  YAML::Node exact = member(map, key);
  if (exact.IsDefined() || !map.IsDefined() || !map.IsMap()) return exact;
  for (auto it = map.begin(); it != map.end(); ++it)
    if (it->first.IsScalar() && equal_fold(it->first.Scalar(), key)) return it->second;
  return YAML::Node(YAML::NodeType::Undefined);
}

std::optional<uint8_t> icmp_type_from_name(const std::string& name, bool v6) {
  auto find = [&](const auto& table) -> std::optional<uint8_t> {
    for (const auto& e : table)
      if (name == e.name) return e.code;
    return std::nullopt;
  };
  return v6 ? find(kIcmpV6) : find(kIcmpV4);
}

bool is_iana_svc_name(const std::string& s) {
  if (s.empty() || s.size() > 15) return false;
  bool letter = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (is_ascii_alpha(c)) {
      letter = true;
    } else if (c == '-') {
      if (i == 0 || i + 1 == s.size() || s[i - 1] == '-') return false;
    } else if (!is_ascii_digit(c)) {
      return false;
    }
  }
  return letter;
}

std::optional<uint16_t> parse_port_number(const std::string& text) {
  if (is_iana_svc_name(text)) return std::nullopt;
  return go_parse_uint16(text).value;
}

std::optional<std::string> go_regexp_error(const std::string& pattern) {
  // Go (1.22+) accepts (?<name>re) like (?P<name>re); this RE2 may not.
  std::string p;
  p.reserve(pattern.size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      p += pattern[i];
      p += pattern[++i];
      continue;
    }
    if (pattern.compare(i, 3, "(?<") == 0 && i + 3 < pattern.size() && pattern[i + 3] != '=' &&
        pattern[i + 3] != '!') {
      p += "(?P<";
      i += 2;
      continue;
    }
    p += pattern[i];
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  RE2 re(p, opts);
  if (re.ok()) return std::nullopt;
  std::string arg = re.error_arg();
  if (re.error_code() == RE2::ErrorPatternTooLarge) arg = pattern;  // Go's ErrLarge shows it all
  return "error parsing regexp: " + std::string(go_regexp_code(re.error_code())) + ": `" + arg +
         "`";
}

}  // namespace cnpc::frontend
