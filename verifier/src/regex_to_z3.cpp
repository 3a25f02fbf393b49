// RE2 syntax -> Z3 regular expressions.
//
// Three stages: parse the pattern into a small AST (RE2 validates it first,
// so the parser only has to agree with RE2 on patterns RE2 accepts), lower
// the zero-width assertions (^ $ \A \z) away under full-match semantics, and
// emit Z3 terms using encodings that Z3 4.8.12 handles well.
#include "regex_to_z3.h"

#include <re2/re2.h>

#include <algorithm>
#include <bitset>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace cnpc::verifier {

namespace {

// Thrown by every stage; translate_re2 turns it into RegexTranslation::error.
struct Untranslatable {
  std::string why;
};

[[noreturn]] void fail(std::string why) { throw Untranslatable{std::move(why)}; }

constexpr int kMaxDepth = 1000;      // nesting depth (RE2's own limit is 1000)
constexpr int kMaxNodes = 200000;    // AST nodes created while lowering anchors
constexpr int kMaxAnchorRepeat = 16; // counted repeats around anchors are unrolled

// The two non-ASCII runes whose case-fold orbit reaches ASCII: U+017F (long s)
// folds with s/S, U+212A (Kelvin sign) with k/K. They matter for (?i) classes
// and negations: RE2's (?i)\W excludes s and k because ſ and K are in \W.
constexpr char32_t kLongS = 0x17F;
constexpr char32_t kKelvin = 0x212A;

// A set of runes, exact on ASCII plus the two runes above; every other
// non-ASCII rune is irrelevant to matching ASCII strings.
struct CharClass {
  std::bitset<128> ascii;
  bool long_s = false;
  bool kelvin = false;

  void add_range(char32_t lo, char32_t hi) {
    for (char32_t c = lo; c <= hi && c < 128; ++c) ascii.set(c);
    if (lo <= kLongS && kLongS <= hi) long_s = true;
    if (lo <= kKelvin && kKelvin <= hi) kelvin = true;
  }
  void add(char32_t c) { add_range(c, c); }
  void add(const CharClass& o) {
    ascii |= o.ascii;
    long_s = long_s || o.long_s;
    kelvin = kelvin || o.kelvin;
  }
  // Complement over all of Unicode.
  void negate() {
    ascii.flip();
    long_s = !long_s;
    kelvin = !kelvin;
  }
  // Closure under simple case folding, what (?i) does to every atom.
  void fold() {
    for (char32_t c = 'a'; c <= 'z'; ++c) {
      char32_t u = c - 'a' + 'A';
      if (ascii[c] || ascii[u]) ascii.set(c), ascii.set(u);
    }
    bool s = ascii['s'] || long_s;
    ascii['s'] = ascii['S'] = long_s = s;
    bool k = ascii['k'] || kelvin;
    ascii['k'] = ascii['K'] = kelvin = k;
  }
};

enum class Op {
  kNoMatch,    // the empty language
  kEmpty,      // the empty string
  kClass,      // one character from cls
  kConcat,     // kids in sequence
  kAlt,        // any of kids
  kRepeat,     // kids[0] repeated min..max times (max < 0: unbounded)
  kBeginText,  // ^ (without m), \A
  kEndText,    // $ (without m), \z
  kBeginLine,  // ^ with (?m)
  kEndLine,    // $ with (?m)
};

struct Node;
using NodeP = std::shared_ptr<const Node>;

struct Node {
  Op op = Op::kEmpty;
  CharClass cls;
  std::vector<NodeP> kids;
  int min = 0, max = -1;
  // Set on the non-empty part of ne_of (see nonempty()), so that
  // "empty | nonempty(x)" can be folded back into x.
  NodeP ne_of;
  // Derived: matches the empty string (assertions count as empty), and
  // whether the node contains start / end assertions.
  bool nullable = true;
  bool has_start = false;
  bool has_end = false;
};

// Smart constructors. They keep the tree small (which matters for Z3) and
// compute the derived fields.
NodeP finish(Node n) {
  switch (n.op) {
    case Op::kNoMatch:
    case Op::kClass: n.nullable = false; break;
    case Op::kEmpty: n.nullable = true; break;
    case Op::kBeginText:
    case Op::kBeginLine: n.nullable = true, n.has_start = true; break;
    case Op::kEndText:
    case Op::kEndLine: n.nullable = true, n.has_end = true; break;
    case Op::kConcat:
    case Op::kAlt:
    case Op::kRepeat: {
      bool all = true, any = false;
      for (const auto& k : n.kids) {
        all = all && k->nullable;
        any = any || k->nullable;
        n.has_start = n.has_start || k->has_start;
        n.has_end = n.has_end || k->has_end;
      }
      if (n.op == Op::kConcat) n.nullable = all;
      if (n.op == Op::kAlt) n.nullable = any;
      if (n.op == Op::kRepeat) n.nullable = n.min == 0 || all;
      break;
    }
  }
  return std::make_shared<const Node>(std::move(n));
}

NodeP no_match() {
  static const NodeP n = finish(Node{Op::kNoMatch});
  return n;
}
NodeP empty() {
  static const NodeP n = finish(Node{Op::kEmpty});
  return n;
}
NodeP anchor(Op op) { return finish(Node{op}); }

NodeP char_class(const CharClass& c) {
  if (c.ascii.none()) return no_match();  // nothing an ASCII string can match
  Node n{Op::kClass};
  n.cls = c;
  return finish(std::move(n));
}

NodeP concat(const std::vector<NodeP>& items) {
  std::vector<NodeP> kids;
  for (const auto& i : items) {
    if (i->op == Op::kNoMatch) return no_match();
    if (i->op == Op::kEmpty) continue;
    if (i->op == Op::kConcat)
      kids.insert(kids.end(), i->kids.begin(), i->kids.end());
    else
      kids.push_back(i);
  }
  if (kids.empty()) return empty();
  if (kids.size() == 1) return kids[0];
  Node n{Op::kConcat};
  n.kids = std::move(kids);
  return finish(std::move(n));
}

NodeP alt(const std::vector<NodeP>& items) {
  std::vector<NodeP> kids;
  bool has_empty = false;
  CharClass chars;  // single-character alternatives merge into one class
  bool has_chars = false;
  auto add = [&](const NodeP& i) {
    if (i->op == Op::kNoMatch) return;
    if (i->op == Op::kEmpty) {
      has_empty = true;
    } else if (i->op == Op::kClass && !i->ne_of) {
      chars.add(i->cls);
      has_chars = true;
    } else if (std::find(kids.begin(), kids.end(), i) == kids.end()) {
      kids.push_back(i);
    }
  };
  for (const auto& i : items) {
    if (i->op == Op::kAlt)
      for (const auto& k : i->kids) add(k);
    else
      add(i);
  }
  if (has_chars) kids.insert(kids.begin(), char_class(chars));
  if (has_empty) {
    // "" | nonempty(x) is x when x is nullable: undo the split made for
    // anchors instead of growing the regex.
    bool absorbed = false;
    for (auto& k : kids) {
      if (k->ne_of && k->ne_of->nullable && !k->ne_of->has_start && !k->ne_of->has_end) {
        k = k->ne_of;
        absorbed = true;
        break;
      }
      // Only an assertion-free nullable node matches "" unconditionally.
      if (k->nullable && !k->has_start && !k->has_end) {
        absorbed = true;
        break;
      }
    }
    if (!absorbed) kids.insert(kids.begin(), empty());
  }
  if (kids.empty()) return no_match();
  if (kids.size() == 1) return kids[0];
  Node n{Op::kAlt};
  n.kids = std::move(kids);
  return finish(std::move(n));
}

NodeP repeat(const NodeP& x, int min, int max) {
  if (max == 0) return empty();
  if (x->op == Op::kNoMatch) return min == 0 ? empty() : no_match();
  if (x->op == Op::kEmpty) return empty();
  if (min == 1 && max == 1) return x;
  // (x*)* and friends: a star of a star is the inner star.
  if (x->op == Op::kRepeat && x->min == 0 && x->max < 0 && (min <= 1) && max < 0) return x;
  Node n{Op::kRepeat};
  n.kids = {x};
  n.min = min;
  n.max = max;
  return finish(std::move(n));
}

// ---------------------------------------------------------------------------
// Parsing

std::u32string decode_utf8(const std::string& s) {
  // RE2 has already rejected invalid UTF-8; stay defensive anyway.
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) fail("invalid UTF-8 in pattern");
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
      auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb >> 6) != 0x2) fail("invalid UTF-8 in pattern");
      c = (c << 6) | (cb & 0x3f);
    }
    out.push_back(c);
    i += len;
  }
  return out;
}

struct Flags {
  bool fold = false;        // (?i)
  bool dot_nl = false;      // (?s)
  bool multi_line = false;  // (?m)
};

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool is_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
int hex_value(char32_t c) {
  if (is_digit(c)) return int(c - '0');
  if (c >= 'a' && c <= 'f') return int(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return int(c - 'A' + 10);
  return -1;
}

std::string describe(char32_t c) {
  if (c >= 0x20 && c < 0x7f) return std::string(1, char(c));
  return "U+" + std::to_string(unsigned(c));
}

class Parser {
 public:
  explicit Parser(std::u32string p) : p_(std::move(p)) {}

  NodeP parse() {
    Flags f;
    NodeP n = parse_alt(f, 0);
    if (more()) fail("unexpected ')'");
    return n;
  }

 private:
  std::u32string p_;
  size_t pos_ = 0;

  bool more() const { return pos_ < p_.size(); }
  char32_t peek(size_t ahead = 0) const { return pos_ + ahead < p_.size() ? p_[pos_ + ahead] : 0; }
  bool at(size_t ahead, char32_t c) const { return pos_ + ahead < p_.size() && p_[pos_ + ahead] == c; }
  char32_t next() {
    if (!more()) fail("unexpected end of pattern");
    return p_[pos_++];
  }

  // Flags set by (?i) etc. last until the end of the enclosing group, across
  // '|' too, so they are shared by all alternatives of one group.
  NodeP parse_alt(Flags& f, int depth) {
    if (depth > kMaxDepth) fail("pattern nests too deeply");
    std::vector<NodeP> alts{parse_concat(f, depth)};
    while (more() && peek() == '|') {
      ++pos_;
      alts.push_back(parse_concat(f, depth));
    }
    return alt(alts);
  }

  NodeP parse_concat(Flags& f, int depth) {
    std::vector<NodeP> items;
    bool can_repeat = false;  // is there an atom for a quantifier to bind to
    auto quantify = [&](int min, int max) {
      if (!can_repeat || items.empty()) fail("repetition operator without operand");
      items.back() = repeat(items.back(), min, max);
      if (more() && peek() == '?') ++pos_;  // lazy: same language
    };
    while (more()) {
      char32_t c = peek();
      if (c == '|' || c == ')') break;
      switch (c) {
        case '(': {
          NodeP g = parse_group(f, depth);
          if (g) {
            items.push_back(g);
            can_repeat = true;
          } else {
            can_repeat = false;  // a flag group like (?i) is not an operand
          }
          break;
        }
        case '[':
          items.push_back(parse_class(f));
          can_repeat = true;
          break;
        case '*':
          ++pos_;
          quantify(0, -1);
          break;
        case '+':
          ++pos_;
          quantify(1, -1);
          break;
        case '?':
          ++pos_;
          quantify(0, 1);
          break;
        case '{': {
          int min = 0, max = 0;
          if (parse_braces(min, max)) {
            quantify(min, max);
          } else {
            ++pos_;  // not a repetition: a literal brace
            items.push_back(literal('{', f));
            can_repeat = true;
          }
          break;
        }
        case '.': {
          ++pos_;
          CharClass cc;
          cc.add_range(0, 0x10ffff);
          if (!f.dot_nl) cc.ascii.reset('\n');
          items.push_back(char_class(cc));
          can_repeat = true;
          break;
        }
        case '^':
          ++pos_;
          items.push_back(anchor(f.multi_line ? Op::kBeginLine : Op::kBeginText));
          can_repeat = true;
          break;
        case '$':
          ++pos_;
          items.push_back(anchor(f.multi_line ? Op::kEndLine : Op::kEndText));
          can_repeat = true;
          break;
        case '\\':
          parse_escape_atom(f, items);
          can_repeat = !items.empty();
          break;
        default:
          ++pos_;
          items.push_back(literal(c, f));
          can_repeat = true;
      }
    }
    return concat(items);
  }

  NodeP literal(char32_t c, const Flags& f) {
    CharClass cc;
    cc.add(c);
    if (f.fold) cc.fold();
    return char_class(cc);
  }

  // {n}, {n,}, {n,m}; anything else leaves pos_ alone and is a literal '{'.
  bool parse_braces(int& min, int& max) {
    size_t i = pos_ + 1;
    auto number = [&](int& out) {
      size_t start = i;
      long v = 0;
      while (i < p_.size() && is_digit(p_[i])) {
        v = v * 10 + long(p_[i] - '0');
        if (v > 100000) v = 100000;  // RE2 rejects > 1000 anyway
        ++i;
      }
      out = int(v);
      return i > start;
    };
    if (!number(min)) return false;
    if (i < p_.size() && p_[i] == '}') {
      max = min;
    } else if (i < p_.size() && p_[i] == ',') {
      ++i;
      if (i < p_.size() && p_[i] == '}') {
        max = -1;
      } else if (!number(max) || i >= p_.size() || p_[i] != '}') {
        return false;
      }
    } else {
      return false;
    }
    pos_ = i + 1;
    if (max >= 0 && max < min) fail("bad repetition range");
    return true;
  }

  // Returns nullptr for a flag-only group "(?i)" (the flags apply to f).
  NodeP parse_group(Flags& f, int depth) {
    ++pos_;  // '('
    Flags inner = f;
    if (more() && peek() == '?') {
      ++pos_;
      if (at(0, 'P') && at(1, '<')) {  // (?P<name>re)
        pos_ += 2;
        while (more() && peek() != '>') ++pos_;
        if (!more()) fail("unterminated group name");
        ++pos_;
      } else if (at(0, 'P')) {
        fail("named backreference is not supported");
      } else {
        bool negated = false, any = false;
        for (;;) {
          char32_t c = next();
          if (c == ':' && !any && !negated) break;  // (?:re)
          if (c == ':' || c == ')') {
            if (!any) fail("empty flag group");
            if (c == ')') {
              f = inner;
              return nullptr;
            }
            break;
          }
          if (c == '-') {
            if (negated) fail("bad flag group");
            negated = true;
            continue;
          }
          any = true;
          bool on = !negated;
          switch (c) {
            case 'i': inner.fold = on; break;
            case 's': inner.dot_nl = on; break;
            case 'm': inner.multi_line = on; break;
            case 'U': break;  // ungreedy: same language
            default: fail("unknown flag '" + describe(c) + "'");
          }
        }
      }
    }
    NodeP body = parse_alt(inner, depth + 1);
    if (!more() || peek() != ')') fail("missing ')'");
    ++pos_;
    return body;
  }

  // Perl classes \d \s \w and their negations; (?i) is applied here because
  // RE2 folds a negated group before negating it.
  static CharClass perl_class(char32_t c, const Flags& f) {
    CharClass cc;
    switch (c | 0x20) {
      case 'd': cc.add_range('0', '9'); break;
      case 's':
        cc.add('\t'), cc.add('\n'), cc.add('\f'), cc.add('\r'), cc.add(' ');
        break;
      case 'w':
        cc.add_range('0', '9'), cc.add_range('A', 'Z'), cc.add_range('a', 'z'), cc.add('_');
        break;
    }
    if (f.fold) cc.fold();
    if (c >= 'A' && c <= 'Z') cc.negate();
    return cc;
  }

  static bool is_perl_class(char32_t c) {
    return c == 'd' || c == 'D' || c == 's' || c == 'S' || c == 'w' || c == 'W';
  }

  // Escapes that stand for one rune (inside or outside a class). pos_ is just
  // after the backslash.
  char32_t parse_escape_rune() {
    char32_t c = next();
    switch (c) {
      case 'a': return 7;
      case 'f': return '\f';
      case 't': return '\t';
      case 'n': return '\n';
      case 'r': return '\r';
      case 'v': return '\v';
      case 'x': {
        if (more() && peek() == '{') {
          ++pos_;
          char32_t v = 0;
          int digits = 0;
          while (more() && peek() != '}') {
            int h = hex_value(next());
            if (h < 0) fail("bad \\x{...} escape");
            v = v * 16 + char32_t(h);
            if (v > 0x10ffff) fail("bad \\x{...} escape");
            ++digits;
          }
          if (!more() || digits == 0) fail("bad \\x{...} escape");
          ++pos_;
          return v;
        }
        int h1 = hex_value(next()), h2 = hex_value(next());
        if (h1 < 0 || h2 < 0) fail("bad \\x escape");
        return char32_t(h1 * 16 + h2);
      }
      default: break;
    }
    if (c >= '0' && c <= '7') {
      // \0, \0N, \0NN; \1-\7 need a second octal digit (a lone one would be
      // a backreference, which RE2 rejects).
      if (c != '0' && !(more() && peek() >= '0' && peek() <= '7'))
        fail("backreference \\" + describe(c) + " is not supported");
      char32_t v = c - '0';
      for (int k = 0; k < 2 && more() && peek() >= '0' && peek() <= '7'; ++k) v = v * 8 + (next() - '0');
      return v;
    }
    if (is_digit(c)) fail("backreference \\" + describe(c) + " is not supported");
    if (c < 0x80 && !is_alpha(c) && !is_digit(c)) return c;  // escaped punctuation
    fail("unsupported escape \\" + describe(c));
  }

  void parse_escape_atom(const Flags& f, std::vector<NodeP>& items) {
    ++pos_;  // backslash
    char32_t c = peek();
    if (!more()) fail("trailing backslash");
    switch (c) {
      case 'A': ++pos_; items.push_back(anchor(Op::kBeginText)); return;
      case 'z': ++pos_; items.push_back(anchor(Op::kEndText)); return;
      case 'b':
      case 'B': fail(std::string("word boundary \\") + char(c) + " is not supported");
      case 'p':
      case 'P': fail(std::string("Unicode class \\") + char(c) + " is not supported");
      case 'C': {  // any byte; on ASCII strings any character
        ++pos_;
        CharClass cc;
        cc.add_range(0, 0x10ffff);
        items.push_back(char_class(cc));
        return;
      }
      case 'Q': {  // literal text up to \E; a quantifier binds to its last rune
        ++pos_;
        while (more()) {
          if (peek() == '\\' && at(1, 'E')) {
            pos_ += 2;
            break;
          }
          items.push_back(literal(next(), f));
        }
        return;
      }
      default: break;
    }
    if (is_perl_class(c)) {
      ++pos_;
      items.push_back(char_class(perl_class(c, f)));
      return;
    }
    items.push_back(literal(parse_escape_rune(), f));
  }

  static bool posix_class(const std::u32string& name, CharClass& cc) {
    auto is = [&](const char* n) { return name == std::u32string(n, n + std::char_traits<char>::length(n)); };
    if (is("alnum")) cc.add_range('0', '9'), cc.add_range('A', 'Z'), cc.add_range('a', 'z');
    else if (is("alpha")) cc.add_range('A', 'Z'), cc.add_range('a', 'z');
    else if (is("ascii")) cc.add_range(0, 0x7f);
    else if (is("blank")) cc.add('\t'), cc.add(' ');
    else if (is("cntrl")) cc.add_range(0, 0x1f), cc.add(0x7f);
    else if (is("digit")) cc.add_range('0', '9');
    else if (is("graph")) cc.add_range('!', '~');
    else if (is("lower")) cc.add_range('a', 'z');
    else if (is("print")) cc.add_range(' ', '~');
    else if (is("punct")) cc.add_range('!', '/'), cc.add_range(':', '@'), cc.add_range('[', '`'), cc.add_range('{', '~');
    else if (is("space")) cc.add_range('\t', '\r'), cc.add(' ');
    else if (is("upper")) cc.add_range('A', 'Z');
    else if (is("word")) cc.add_range('0', '9'), cc.add_range('A', 'Z'), cc.add_range('a', 'z'), cc.add('_');
    else if (is("xdigit")) cc.add_range('0', '9'), cc.add_range('A', 'F'), cc.add_range('a', 'f');
    else return false;
    return true;
  }

  // One rune inside [...]: an escape or a plain rune.
  char32_t class_rune() {
    char32_t c = next();
    if (c != '\\') return c;
    return parse_escape_rune();
  }

  NodeP parse_class(const Flags& f) {
    ++pos_;  // '['
    bool negated = false;
    if (more() && peek() == '^') ++pos_, negated = true;
    CharClass cc;
    bool first = true;  // ']' right after '[' or '[^' is a literal
    for (;;) {
      if (!more()) fail("missing ']'");
      char32_t c = peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[' && at(1, ':')) {
        // [:name:] or [:^name:]; without a closing ":]" it is a literal '['.
        size_t end = p_.find(U":]", pos_ + 2);
        if (end != std::u32string::npos) {
          std::u32string name = p_.substr(pos_ + 2, end - pos_ - 2);
          bool neg = !name.empty() && name[0] == '^';
          if (neg) name.erase(0, 1);
          CharClass pc;
          if (!posix_class(name, pc)) fail("unknown POSIX class");
          if (f.fold) pc.fold();
          if (neg) pc.negate();
          cc.add(pc);
          pos_ = end + 2;
          continue;
        }
      }
      if (c == '\\' && (at(1, 'p') || at(1, 'P'))) fail("Unicode class \\p is not supported");
      if (c == '\\' && is_perl_class(peek(1))) {
        cc.add(perl_class(peek(1), f));
        pos_ += 2;
        continue;
      }
      char32_t lo = class_rune(), hi = lo;
      if (more() && peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
        ++pos_;
        hi = class_rune();
        if (hi < lo) fail("bad character class range");
      }
      CharClass r;
      r.add_range(lo, hi);
      if (f.fold) r.fold();
      cc.add(r);
    }
    if (negated) cc.negate();
    return char_class(cc);
  }
};

// ---------------------------------------------------------------------------
// Lowering assertions. lower(n, s, e) is the language of strings n matches
// when the match starts at the beginning of the text iff s and ends at the
// end of the text iff e. The whole pattern is lowered with s = e = true.

class Lowerer {
 public:
  NodeP lower(const NodeP& n, bool s, bool e) {
    if (!n->has_start && !n->has_end) return n;
    auto key = std::make_tuple(n.get(), s, e);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    NodeP r = lower_uncached(n, s, e);
    memo_[key] = r;
    return r;
  }

 private:
  std::map<std::tuple<const Node*, bool, bool>, NodeP> memo_;
  std::unordered_map<const Node*, NodeP> ne_memo_;
  std::map<std::tuple<const Node*, int, int>, NodeP> parts_;
  std::vector<NodeP> keep_;  // keeps memo keys alive (no address reuse)
  int budget_ = kMaxNodes;

  NodeP keep(NodeP n) {
    if (--budget_ < 0) fail("pattern too complex around anchors");
    keep_.push_back(n);
    return n;
  }

  // The non-empty strings of an assertion-free node, built structurally.
  NodeP nonempty(const NodeP& n) {
    if (!n->nullable) return n;
    if (auto it = ne_memo_.find(n.get()); it != ne_memo_.end()) return it->second;
    NodeP r;
    switch (n->op) {
      case Op::kNoMatch:
      case Op::kEmpty:
        r = no_match();
        break;
      case Op::kClass:
        r = n;
        break;
      case Op::kAlt: {
        std::vector<NodeP> parts;
        for (const auto& k : n->kids) parts.push_back(nonempty(k));
        r = alt(parts);
        break;
      }
      case Op::kConcat: {  // all kids nullable here
        std::vector<NodeP> rest(n->kids.begin() + 1, n->kids.end());
        NodeP tail = keep(concat(rest));
        std::vector<NodeP> head{nonempty(n->kids[0])};
        head.insert(head.end(), rest.begin(), rest.end());
        r = alt({concat(head), nonempty(tail)});
        break;
      }
      case Op::kRepeat: {
        const NodeP& x = n->kids[0];
        if (!x->nullable)  // then min == 0
          r = repeat(x, 1, n->max);
        else  // empty iterations are free, so min no longer matters
          r = concat({nonempty(x), repeat(x, 0, n->max < 0 ? -1 : n->max - 1)});
        break;
      }
      default:
        fail("internal: assertion in nonempty()");
    }
    if (r != n && r->op != Op::kNoMatch && !r->ne_of) {
      Node copy = *r;
      copy.ne_of = n;
      r = finish(std::move(copy));
    }
    keep(r);
    ne_memo_[n.get()] = r;
    return r;
  }

  NodeP lower_uncached(const NodeP& n, bool s, bool e) {
    switch (n->op) {
      case Op::kBeginText: return s ? empty() : no_match();
      case Op::kEndText: return e ? empty() : no_match();
      case Op::kBeginLine:
        if (!s) fail("(?m) ^ not at the start of the pattern is not supported");
        return empty();
      case Op::kEndLine:
        if (!e) fail("(?m) $ not at the end of the pattern is not supported");
        return empty();
      case Op::kAlt: {
        std::vector<NodeP> parts;
        for (const auto& k : n->kids) parts.push_back(lower(k, s, e));
        return keep(alt(parts));
      }
      case Op::kConcat: {
        // Split where everything left has no end assertion and everything
        // right no start assertion: then the halves are independent. This
        // keeps the common ^...$ and long literal runs linear.
        const auto& kids = n->kids;
        int last_start = -1, first_end = int(kids.size());
        for (int i = 0; i < int(kids.size()); ++i) {
          if (kids[i]->has_start) last_start = i;
          if (kids[i]->has_end && first_end == int(kids.size())) first_end = i;
        }
        // Sub-sequences are shared between contexts, so the memo sees them.
        auto part = [&](int from, int to) {
          auto key = std::make_tuple(n.get(), from, to);
          if (auto it = parts_.find(key); it != parts_.end()) return it->second;
          NodeP p = keep(concat(std::vector<NodeP>(kids.begin() + from, kids.begin() + to)));
          parts_.emplace(key, p);
          return p;
        };
        if (last_start < first_end) {
          int cut = last_start >= 0 ? last_start + 1 : first_end;
          if (cut > 0 && cut < int(kids.size()))
            return keep(concat({lower(part(0, cut), s, false), lower(part(cut, int(kids.size())), false, e)}));
        }
        return keep(lower_pair(kids[0], part(1, int(kids.size())), s, e));
      }
      case Op::kRepeat: return keep(lower_repeat(n, s, e));
      default: return n;
    }
  }

  // a.b where the split point is at the text start only if a matched empty
  // (and s), and at the text end only if b matched empty (and e).
  NodeP lower_pair(const NodeP& a, const NodeP& b, bool s, bool e) {
    if (!a->has_end && !b->has_start) return concat({lower(a, s, false), lower(b, false, e)});
    std::vector<NodeP> parts;
    // Each operand is lowered only in the contexts that can contribute, so
    // an unsupported (?m) anchor in a dead branch does not fail the pattern.
    NodeP a_se = lower(a, s, e);
    if (a_se->nullable && lower(b, s, e)->nullable) parts.push_back(empty());
    if (lower(a, s, false)->nullable) parts.push_back(nonempty(lower(b, s, e)));
    NodeP a_ne = nonempty(a_se);
    if (a_ne->op != Op::kNoMatch && lower(b, false, e)->nullable) parts.push_back(a_ne);
    NodeP a_sf = nonempty(lower(a, s, false));
    if (a_sf->op != Op::kNoMatch) parts.push_back(concat({a_sf, nonempty(lower(b, false, e))}));
    return alt(parts);
  }

  NodeP lower_repeat(const NodeP& n, bool s, bool e) {
    const NodeP& x = n->kids[0];
    if (n->min == 0 && n->max < 0) {
      // Empty iterations add nothing, so only non-empty ones count: the
      // first may touch the start, the last the end.
      NodeP only = nonempty(lower(x, s, e));
      NodeP first = nonempty(lower(x, s, false));
      NodeP last = nonempty(lower(x, false, e));
      NodeP mid = nonempty(lower(x, false, false));
      return alt({empty(), only, concat({first, repeat(mid, 0, -1), last})});
    }
    int copies = n->max < 0 ? n->min + 1 : n->max;
    if (copies > kMaxAnchorRepeat) fail("anchor inside a large counted repetition is not supported");
    std::vector<NodeP> items;
    NodeP opt = keep(alt({x, empty()}));
    for (int i = 0; i < n->min; ++i) items.push_back(x);
    if (n->max < 0)
      items.push_back(keep(repeat(x, 0, -1)));
    else
      for (int i = n->min; i < n->max; ++i) items.push_back(opt);
    return lower(keep(concat(items)), s, e);
  }
};

// ---------------------------------------------------------------------------
// The printable domain: drop every character outside 0x20..0x7e. On
// printable strings the language is unchanged; classes and literals that
// only held other characters become the empty language.

const std::bitset<128>& printable_set() {
  static const std::bitset<128> set = [] {
    std::bitset<128> b;
    for (int c = 0x20; c <= 0x7e; ++c) b.set(size_t(c));
    return b;
  }();
  return set;
}

NodeP restrict_printable(const NodeP& n, std::unordered_map<const Node*, NodeP>& memo) {
  if (auto it = memo.find(n.get()); it != memo.end()) return it->second;
  NodeP r = n;
  switch (n->op) {
    case Op::kClass: {
      CharClass cc = n->cls;
      cc.ascii &= printable_set();
      r = cc.ascii == n->cls.ascii ? n : char_class(cc);
      break;
    }
    case Op::kConcat:
    case Op::kAlt: {
      std::vector<NodeP> kids;
      bool changed = false;
      for (const auto& k : n->kids) {
        kids.push_back(restrict_printable(k, memo));
        changed = changed || kids.back() != k;
      }
      if (changed) r = n->op == Op::kConcat ? concat(kids) : alt(kids);
      break;
    }
    case Op::kRepeat: {
      NodeP x = restrict_printable(n->kids[0], memo);
      if (x != n->kids[0]) r = repeat(x, n->min, n->max);
      break;
    }
    default:
      break;
  }
  memo.emplace(n.get(), r);
  return r;
}

// ---------------------------------------------------------------------------
// Emission

z3::sort re_sort_of(z3::context& ctx) {
  z3::sort str = ctx.string_sort();
  return ctx.re_sort(str);
}

class Emitter {
 public:
  // printable_only: the node was restricted to printable characters and the
  // result only has to be right on printable strings, so characters outside
  // 0x20..0x7e are "don't care" wherever they make a term simpler.
  Emitter(z3::context& ctx, bool printable_only)
      : ctx_(ctx), re_sort_(re_sort_of(ctx)), printable_only_(printable_only) {}

  z3::expr emit(const NodeP& n) {
    if (auto it = memo_.find(n.get()); it != memo_.end()) return it->second;
    z3::expr r = emit_uncached(n);
    memo_.emplace(n.get(), r);
    keep_.push_back(n);
    return r;
  }

 private:
  z3::context& ctx_;
  z3::sort re_sort_;
  bool printable_only_;
  std::unordered_map<const Node*, z3::expr> memo_;
  std::vector<NodeP> keep_;
  std::optional<z3::expr> allchar_;

  // Z3_mk_string would interpret \u{..} escapes in the pattern's text;
  // Z3_mk_lstring takes the bytes as they are.
  z3::expr str(const std::string& s) {
    Z3_ast r = Z3_mk_lstring(ctx_, unsigned(s.size()), s.data());
    ctx_.check_error();
    return z3::expr(ctx_, r);
  }
  z3::expr lit(const std::string& s) { return z3::to_re(str(s)); }

  // re.allchar has no C API constructor in 4.8.12; parse it once.
  z3::expr allchar() {
    if (!allchar_) {
      z3::expr_vector v = ctx_.parse_string("(declare-const x String)(assert (str.in_re x re.allchar))");
      allchar_ = v[0].arg(1);
    }
    return *allchar_;
  }

  z3::expr union_of(const std::vector<z3::expr>& parts) {
    if (parts.empty()) return z3::re_empty(re_sort_);
    if (parts.size() == 1) return parts[0];
    std::vector<Z3_ast> args(parts.begin(), parts.end());
    Z3_ast r = Z3_mk_re_union(ctx_, unsigned(args.size()), args.data());
    ctx_.check_error();
    return z3::expr(ctx_, r);
  }

  z3::expr concat_of(const std::vector<z3::expr>& parts) {
    if (parts.empty()) return lit("");
    if (parts.size() == 1) return parts[0];
    std::vector<Z3_ast> args(parts.begin(), parts.end());
    Z3_ast r = Z3_mk_re_concat(ctx_, unsigned(args.size()), args.data());
    ctx_.check_error();
    return z3::expr(ctx_, r);
  }

  // Maximal runs of set characters: one literal or one range per run.
  std::vector<z3::expr> runs(const std::bitset<128>& set) {
    std::vector<z3::expr> parts;
    for (int c = 0; c < 128;) {
      if (!set[c]) {
        ++c;
        continue;
      }
      int hi = c;
      while (hi + 1 < 128 && set[hi + 1]) ++hi;
      if (hi == c)
        parts.push_back(lit(std::string(1, char(c))));
      else
        parts.push_back(z3::range(str(std::string(1, char(c))), str(std::string(1, char(hi)))));
      c = hi + 1;
    }
    return parts;
  }

  // The characters a class must admit, and those it may admit as well.
  std::bitset<128> dont_care() const { return printable_only_ ? ~printable_set() : std::bitset<128>(); }

  // Of set and set plus the don't-cares, the one with fewer runs.
  std::vector<z3::expr> simplest_runs(const std::bitset<128>& set) {
    std::vector<z3::expr> plain = runs(set);
    if (dont_care().none()) return plain;
    std::vector<z3::expr> wide = runs(set | dont_care());
    return wide.size() < plain.size() ? wide : plain;
  }

  // A class that admits every character that matters is any character:
  // non-ASCII characters are free, and re.allchar lets Z3 see re.all in its
  // stars.
  z3::expr emit_class(const CharClass& cc) {
    if ((cc.ascii | dont_care()).all()) return allchar();
    return union_of(simplest_runs(cc.ascii));
  }

  // Stars of classes: Z3 4.8.12 treats re.all natively, and decides "no
  // forbidden character anywhere" (a complement) better than a star over a
  // union of ranges when the class is most of the alphabet.
  z3::expr emit_class_star(const CharClass& cc) {
    std::bitset<128> need = printable_only_ ? printable_set() : ~std::bitset<128>();
    std::bitset<128> missing = need & ~cc.ascii;
    if (missing.none()) return z3::re_full(re_sort_);
    if (missing.count() * 2 <= need.count()) {
      z3::expr any = z3::re_full(re_sort_);
      return z3::re_complement(concat_of({any, union_of(simplest_runs(missing)), any}));
    }
    return z3::star(emit_class(cc));
  }

  z3::expr emit_uncached(const NodeP& n) {
    switch (n->op) {
      case Op::kNoMatch: return z3::re_empty(re_sort_);
      case Op::kEmpty: return lit("");
      case Op::kClass: return emit_class(n->cls);
      case Op::kAlt: {
        std::vector<z3::expr> parts;
        for (const auto& k : n->kids) parts.push_back(emit(k));
        return union_of(parts);
      }
      case Op::kConcat: {
        // Runs of single characters become one string literal.
        std::vector<z3::expr> parts;
        std::string text;
        for (const auto& k : n->kids) {
          if (k->op == Op::kClass && k->cls.ascii.count() == 1) {
            for (int c = 0; c < 128; ++c)
              if (k->cls.ascii[c]) text.push_back(char(c));
            continue;
          }
          if (!text.empty()) parts.push_back(lit(text)), text.clear();
          parts.push_back(emit(k));
        }
        if (!text.empty()) parts.push_back(lit(text));
        return concat_of(parts);
      }
      case Op::kRepeat: {
        const NodeP& x = n->kids[0];
        if (x->op == Op::kClass && n->max < 0) {
          z3::expr star = emit_class_star(x->cls);
          if (n->min == 0) return star;
          z3::expr one = emit(x);
          return concat_of({n->min == 1 ? one : one.loop(unsigned(n->min), unsigned(n->min)), star});
        }
        z3::expr r = emit(x);
        if (n->min == 0 && n->max < 0) return z3::star(r);
        if (n->min == 1 && n->max < 0) return z3::plus(r);
        if (n->min == 0 && n->max == 1) return z3::option(r);
        if (n->max < 0) return concat_of({r.loop(unsigned(n->min), unsigned(n->min)), z3::star(r)});
        return r.loop(unsigned(n->min), unsigned(n->max));
      }
      default:
        fail("internal: assertion left after lowering");
    }
  }
};

}  // namespace

namespace {

RegexTranslation translate(z3::context& ctx, const std::string& pattern, bool printable_only) {
  RegexTranslation out;
  try {
    RE2::Options opts;
    opts.set_log_errors(false);
    RE2 re(pattern, opts);
    if (!re.ok()) {
      out.error = "invalid RE2 pattern: " + re.error();
      return out;
    }
    NodeP ast = Parser(decode_utf8(pattern)).parse();
    Lowerer lowerer;
    NodeP flat = lowerer.lower(ast, true, true);
    if (printable_only) {
      std::unordered_map<const Node*, NodeP> memo;
      flat = restrict_printable(flat, memo);
    }
    Emitter emitter(ctx, printable_only);
    out.regex = emitter.emit(flat);
  } catch (const Untranslatable& u) {
    out.regex.reset();
    out.error = u.why;
  } catch (const z3::exception& ex) {
    out.regex.reset();
    out.error = std::string("Z3 error: ") + ex.msg();
  } catch (const std::exception& ex) {
    out.regex.reset();
    out.error = std::string("internal error: ") + ex.what();
  }
  return out;
}

}  // namespace

RegexTranslation translate_re2(z3::context& ctx, const std::string& pattern) {
  return translate(ctx, pattern, false);
}

RegexTranslation translate_re2_printable(z3::context& ctx, const std::string& pattern) {
  return translate(ctx, pattern, true);
}

z3::expr printable_ascii_regex(z3::context& ctx) {
  z3::expr lo(ctx, Z3_mk_lstring(ctx, 1, " "));
  z3::expr hi(ctx, Z3_mk_lstring(ctx, 1, "~"));
  return z3::star(z3::range(lo, hi));
}

z3::expr printable_ascii_string(z3::context& ctx, const z3::expr& s) {
  return z3::in_re(s, printable_ascii_regex(ctx));
}

}  // namespace cnpc::verifier
