// OpenAPI v3 structural validation, following what kube-apiserver does for
// custom resources:
//  * values are typed as kubectl's YAML-to-JSON conversion types them
//    (YAML 1.1 plain scalars: `yes` is a boolean, `80` an integer, `"80"` a
//    string);
//  * a map member whose value is null counts as absent (the API server
//    prunes non-nullable nulls before validating);
//  * keywords apply only to values of their type (pattern and maxLength to
//    strings, minimum to numbers, maxItems to arrays), so an int-or-string
//    field can carry both a pattern and a range;
//  * fields the schema does not define are pruned: a warning, not an error.
#include "schema.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "yaml_util.h"

namespace cnpc::frontend {

namespace schema_data {
extern const char* const kCiliumNetworkPolicy;
extern const char* const kCiliumClusterwideNetworkPolicy;
extern const char* const kNetworkPolicy;
}  // namespace schema_data

namespace {

// ---------------------------------------------------------------------------
// Data values, typed the way the API server sees them.

enum class Kind { Null, Bool, Int, Float, String, Object, Array };

struct Value {
  Kind kind = Kind::Null;
  std::string text;        // scalar text (canonical for Int and Bool)
  double number = 0;       // Int and Float
  bool int_overflow = false;
};

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "number";
    case Kind::String: return "string";
    case Kind::Object: return "object";
    case Kind::Array: return "array";
  }
  return "null";
}

std::optional<bool> yaml11_bool(std::string_view s) {
  static constexpr std::string_view kTrue[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
                                               "True", "TRUE", "on",  "On",  "ON"};
  static constexpr std::string_view kFalse[] = {"n",     "N",     "no",  "No",  "NO", "false",
                                                "False", "FALSE", "off", "Off", "OFF"};
  for (auto t : kTrue)
    if (s == t) return true;
  for (auto f : kFalse)
    if (s == f) return false;
  return std::nullopt;
}

// Integers as Go's strconv.ParseInt(s, 0, 64) reads them after go-yaml drops
// underscores: optional sign, then 0x / 0o / 0b / leading-0 octal / decimal.
bool parse_yaml_int(std::string_view s, Value& out) {
  std::string t;
  for (char c : s)
    if (c != '_') t += c;
  if (t.empty()) return false;
  bool neg = false;
  size_t i = 0;
  if (t[0] == '+' || t[0] == '-') {
    neg = t[0] == '-';
    i = 1;
  }
  std::string_view digits(t);
  digits.remove_prefix(i);
  if (digits.empty()) return false;
  int base = 10;
  if (digits.size() > 1 && digits[0] == '0') {
    char p = digits[1];
    if (p == 'x' || p == 'X') base = 16, digits.remove_prefix(2);
    else if (p == 'o' || p == 'O') base = 8, digits.remove_prefix(2);
    else if (p == 'b' || p == 'B') base = 2, digits.remove_prefix(2);
    else base = 8, digits.remove_prefix(1);
  }
  if (digits.empty()) return false;
  unsigned long long mag = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), mag, base);
  if (ptr != digits.data() + digits.size()) return false;
  out.kind = Kind::Int;
  if (ec == std::errc::result_out_of_range || mag > (neg ? 9223372036854775808ull : 9223372036854775807ull)) {
    // Still an integer to YAML (go-yaml falls back to a float), but too big.
    out.int_overflow = true;
    out.number = neg ? -1e19 : 1e19;
    out.text = std::string(s);
    return true;
  }
  if (ec != std::errc()) return false;
  const long long v = neg ? static_cast<long long>(0 - mag) : static_cast<long long>(mag);
  out.number = static_cast<double>(v);
  out.text = std::to_string(v);
  return true;
}

bool parse_yaml_float(std::string_view s, Value& out) {
  static const RE2 kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  std::string t;
  for (char c : s)
    if (c != '_') t += c;
  if (t == ".inf" || t == ".Inf" || t == ".INF" || t == "+.inf" || t == "+.Inf" || t == "+.INF") {
    out = {Kind::Float, std::string(s), HUGE_VAL, false};
    return true;
  }
  if (t == "-.inf" || t == "-.Inf" || t == "-.INF") {
    out = {Kind::Float, std::string(s), -HUGE_VAL, false};
    return true;
  }
  if (t == ".nan" || t == ".NaN" || t == ".NAN") {
    out = {Kind::Float, std::string(s), NAN, false};
    return true;
  }
  if (!RE2::FullMatch(t, kFloat)) return false;
  out.kind = Kind::Float;
  out.text = std::string(s);
  out.number = std::strtod(t.c_str(), nullptr);
  return true;
}

Value classify(const YAML::Node& node) {
  Value v;
  if (!node.IsDefined() || node.IsNull()) return v;
  if (node.IsSequence()) {
    v.kind = Kind::Array;
    return v;
  }
  if (node.IsMap()) {
    v.kind = Kind::Object;
    return v;
  }
  const std::string& s = node.Scalar();
  const std::string& tag = node.Tag();
  v.kind = Kind::String;
  v.text = s;
  // "!" marks quoted and block scalars: always strings.
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return v;
  const bool plain = tag == "?" || tag.empty();
  if (plain || tag == "tag:yaml.org,2002:bool")
    if (auto b = yaml11_bool(s)) {
      v.kind = Kind::Bool;
      v.text = *b ? "true" : "false";
      return v;
    }
  if (plain || tag == "tag:yaml.org,2002:int") {
    Value n;
    if (parse_yaml_int(s, n)) return n;
  }
  if (plain || tag == "tag:yaml.org,2002:float") {
    Value f;
    if (parse_yaml_float(s, f)) return f;
  }
  if (tag == "tag:yaml.org,2002:null") return Value{};
  return v;
}

// ---------------------------------------------------------------------------
// Compiled schema.

struct Schema;
using SchemaPtr = std::unique_ptr<Schema>;

struct Schema {
  std::vector<std::string> types;
  bool int_or_string = false;
  bool nullable = false;
  bool preserve_unknown = false;
  bool has_properties = false;
  std::vector<std::pair<std::string, SchemaPtr>> properties;
  std::vector<std::string> property_names;
  SchemaPtr additional;             // additionalProperties as a schema (or `true`)
  bool additional_forbidden = false;  // additionalProperties: false
  SchemaPtr items;
  std::vector<std::string> required;
  bool has_enum = false;
  std::vector<Value> enum_values;
  std::string pattern_text;
  std::unique_ptr<RE2> pattern;
  std::string format;
  std::optional<double> minimum, maximum;
  bool exclusive_minimum = false, exclusive_maximum = false;
  std::optional<long long> max_items, min_items, max_length, min_length, max_properties,
      min_properties;
  std::vector<SchemaPtr> one_of, any_of, all_of;
  SchemaPtr not_schema;
  // Nothing but `required` (plus `properties: {x: {}}`): the CRDs' way of
  // saying "this field must be present". Drives friendlier oneOf messages.
  bool required_only = false;
  // Nothing but `type`: anyOf [{type: integer}, {type: string}].
  bool type_only = false;
  bool empty = true;  // `{}`: accepts anything
};

std::optional<double> number_of(const YAML::Node& n) {
  if (!n.IsScalar()) return std::nullopt;
  Value v = classify(n);
  if (v.kind == Kind::Int || v.kind == Kind::Float) return v.number;
  return std::nullopt;
}

std::optional<long long> count_of(const YAML::Node& n) {
  auto d = number_of(n);
  if (!d) return std::nullopt;
  return static_cast<long long>(*d);
}

bool truthy(const YAML::Node& n) { return n.IsScalar() && yaml11_bool(n.Scalar()) == true; }

SchemaPtr compile(const YAML::Node& node) {
  auto s = std::make_unique<Schema>();
  if (!node.IsMap()) return s;
  bool only_required = true, only_type = true;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    const std::string key = it->first.Scalar();
    const YAML::Node value = it->second;
    s->empty = false;
    if (key != "required" && key != "properties") only_required = false;
    if (key != "type") only_type = false;
    if (key == "type") {
      if (value.IsScalar()) s->types.push_back(value.Scalar());
      else if (value.IsSequence())
        for (const auto& t : value)
          if (t.IsScalar()) s->types.push_back(t.Scalar());
    } else if (key == "x-kubernetes-int-or-string") {
      s->int_or_string = truthy(value);
    } else if (key == "nullable") {
      s->nullable = truthy(value);
    } else if (key == "x-kubernetes-preserve-unknown-fields") {
      s->preserve_unknown = truthy(value);
    } else if (key == "properties" && value.IsMap()) {
      s->has_properties = true;
      for (auto p = value.begin(); p != value.end(); ++p) {
        if (!p->first.IsScalar()) continue;
        s->property_names.push_back(p->first.Scalar());
        s->properties.emplace_back(p->first.Scalar(), compile(p->second));
        if (!s->properties.back().second->empty) only_required = false;
      }
    } else if (key == "additionalProperties") {
      if (value.IsMap()) s->additional = compile(value);
      else if (value.IsScalar() && yaml11_bool(value.Scalar()) == false)
        s->additional_forbidden = true;
      else
        s->additional = std::make_unique<Schema>();
    } else if (key == "items" && value.IsMap()) {
      s->items = compile(value);
    } else if (key == "required" && value.IsSequence()) {
      for (const auto& r : value)
        if (r.IsScalar()) s->required.push_back(r.Scalar());
    } else if (key == "enum" && value.IsSequence()) {
      s->has_enum = true;
      for (const auto& e : value) s->enum_values.push_back(classify(e));
    } else if (key == "pattern" && value.IsScalar()) {
      s->pattern_text = value.Scalar();
      RE2::Options opts;
      opts.set_log_errors(false);
      auto re = std::make_unique<RE2>(s->pattern_text, opts);
      if (re->ok()) s->pattern = std::move(re);
    } else if (key == "format" && value.IsScalar()) {
      s->format = value.Scalar();
    } else if (key == "minimum") {
      s->minimum = number_of(value);
    } else if (key == "maximum") {
      s->maximum = number_of(value);
    } else if (key == "exclusiveMinimum") {
      s->exclusive_minimum = truthy(value);
    } else if (key == "exclusiveMaximum") {
      s->exclusive_maximum = truthy(value);
    } else if (key == "maxItems") {
      s->max_items = count_of(value);
    } else if (key == "minItems") {
      s->min_items = count_of(value);
    } else if (key == "maxLength") {
      s->max_length = count_of(value);
    } else if (key == "minLength") {
      s->min_length = count_of(value);
    } else if (key == "maxProperties") {
      s->max_properties = count_of(value);
    } else if (key == "minProperties") {
      s->min_properties = count_of(value);
    } else if ((key == "oneOf" || key == "anyOf" || key == "allOf") && value.IsSequence()) {
      auto& list = key == "oneOf" ? s->one_of : key == "anyOf" ? s->any_of : s->all_of;
      for (const auto& sub : value) list.push_back(compile(sub));
    } else if (key == "not" && value.IsMap()) {
      s->not_schema = compile(value);
    }
    // description, default, example, x-kubernetes-list-type and the like do
    // not constrain a single value.
  }
  s->required_only = !s->empty && only_required && !s->required.empty();
  s->type_only = !s->empty && only_type && !s->types.empty();
  return s;
}

const Schema& schema_for(SchemaKind kind) {
  // Parsed once; the embedded texts are ours and covered by unit tests, so a
  // parse failure falls back to an accept-everything schema rather than abort.
  auto load = [](const char* text) {
    try {
      return compile(YAML::Load(text));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "cnpc: internal error: embedded schema: %s\n", e.what());
      return std::make_unique<Schema>();
    }
  };
  switch (kind) {
    case SchemaKind::CiliumNetworkPolicy: {
      static const SchemaPtr s = load(schema_data::kCiliumNetworkPolicy);
      return *s;
    }
    case SchemaKind::CiliumClusterwideNetworkPolicy: {
      static const SchemaPtr s = load(schema_data::kCiliumClusterwideNetworkPolicy);
      return *s;
    }
    case SchemaKind::NetworkPolicy: break;
  }
  static const SchemaPtr s = load(schema_data::kNetworkPolicy);
  return *s;
}

// ---------------------------------------------------------------------------
// Formats (the subset kube-apiserver validates that these schemas use).

bool parse_ipv4_sloppy(std::string_view s) {
  // Leading zeros are accepted, as Kubernetes' ParseCIDRSloppy does.
  int parts = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 4) v = v * 10 + unsigned(s[i++] - '0');
    if (i == start || i - start > 3 || v > 255) return false;
    ++parts;
    if (i == s.size()) break;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
  return parts == 4;
}

bool valid_ip(std::string_view s, int& bits) {
  if (s.find(':') != std::string_view::npos) {
    unsigned char buf[16];
    bits = 128;
    return inet_pton(AF_INET6, std::string(s).c_str(), buf) == 1;
  }
  bits = 32;
  return parse_ipv4_sloppy(s);
}

bool valid_cidr(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return false;
  int bits = 0;
  if (!valid_ip(s.substr(0, slash), bits)) return false;
  std::string_view len = s.substr(slash + 1);
  if (len.empty() || len.size() > 3) return false;
  int n = 0;
  for (char c : len) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  return n <= bits;
}

// false: the string violates the format. Unknown formats always pass, as in
// Kubernetes (idn-hostname, for one, is not checked by the API server).
bool string_format_ok(const std::string& format, const std::string& s) {
  int bits = 0;
  if (format == "cidr") return valid_cidr(s);
  if (format == "ipv4") return s.find(':') == std::string::npos && valid_ip(s, bits);
  if (format == "ipv6") return s.find(':') != std::string::npos && valid_ip(s, bits);
  if (format == "date-time" || format == "datetime") {
    static const RE2 kDateTime(
        R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
    return RE2::FullMatch(s, kDateTime);
  }
  return true;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// ---------------------------------------------------------------------------
// Messages.

// A value as the API server quotes it: Go %q for strings, bare numbers.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 120;
  std::string out = "\"";
  size_t shown = 0;
  for (unsigned char c : s) {
    if (++shown > kMax) {
      out += "...";
      break;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

std::string show(const Value& v) {
  switch (v.kind) {
    case Kind::String: return quote(v.text);
    case Kind::Int:
    case Kind::Float:
    case Kind::Bool: return v.text;
    default: return quote(kind_name(v.kind));
  }
}

std::string shown_path(const std::string& path) { return path.empty() ? "<root>" : path; }

std::string field_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string format_number(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15)
    return std::to_string(static_cast<long long>(d));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// "a" | "a" or "b" | "a", "b" or "c"
std::string alternatives(const std::vector<std::string>& names, const char* last = " or ") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? last : ", ";
    out += names[i];
  }
  return out;
}

std::string type_list(const Schema& s) {
  std::vector<std::string> types = s.types;
  if (s.int_or_string) types = {"integer", "string"};
  std::string out;
  for (size_t i = 0; i < types.size(); ++i) {
    if (i > 0) out += " or ";
    out += types[i];
  }
  return out;
}

bool type_matches(const Value& v, std::string_view t) {
  if (t == "string") return v.kind == Kind::String;
  if (t == "integer")
    return v.kind == Kind::Int ||
           (v.kind == Kind::Float && std::isfinite(v.number) && v.number == std::floor(v.number));
  if (t == "number") return v.kind == Kind::Int || v.kind == Kind::Float;
  if (t == "boolean") return v.kind == Kind::Bool;
  if (t == "object") return v.kind == Kind::Object;
  if (t == "array") return v.kind == Kind::Array;
  if (t == "null") return v.kind == Kind::Null;
  return true;  // unknown type names constrain nothing
}

bool type_ok(const Value& v, const Schema& s) {
  if (s.int_or_string) return type_matches(v, "integer") || type_matches(v, "string");
  if (s.types.empty()) return true;
  for (const auto& t : s.types)
    if (type_matches(v, t)) return true;
  return false;
}

bool same_value(const Value& a, const Value& b) {
  const bool an = a.kind == Kind::Int || a.kind == Kind::Float;
  const bool bn = b.kind == Kind::Int || b.kind == Kind::Float;
  if (an && bn) return a.number == b.number && !a.int_overflow && !b.int_overflow;
  return a.kind == b.kind && a.text == b.text;
}

// ---------------------------------------------------------------------------
// The checker.

struct Member {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

std::vector<Member> members_of(const YAML::Node& map) {
  std::vector<Member> out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    Member m;
    m.key_node = it->first;
    m.value = it->second;
    if (m.key_node.IsScalar()) m.key = m.key_node.Scalar();
    out.push_back(std::move(m));
  }
  return out;
}

const Member* find_member(const std::vector<Member>& ms, const std::string& key) {
  for (const auto& m : ms)
    if (m.key_node.IsScalar() && m.key == key) return &m;
  return nullptr;
}

bool has_value(const std::vector<Member>& ms, const std::string& key) {
  const Member* m = find_member(ms, key);
  return m && present(m->value);
}

class Checker {
 public:
  // `diags` null: a probe for oneOf/anyOf/not, which only counts errors.
  Checker(const std::string& file, ir::Diagnostics* diags) : file_(file), diags_(diags) {}

  size_t errors() const { return errors_; }

  void validate(const YAML::Node& node, const Schema& s, const std::string& path) {
    if (!node.IsDefined()) return;
    const Value v = classify(node);
    if (v.kind == Kind::Null) {
      if (s.nullable || (s.types.empty() && !s.int_or_string)) return;
      error("invalid-type", node,
            shown_path(path) + ": Invalid value: \"null\": must be of type " + type_list(s));
      return;
    }
    if (!type_ok(v, s)) {
      error("invalid-type", node,
            shown_path(path) + ": Invalid value: " + quote(kind_name(v.kind)) +
                ": must be of type " + type_list(s));
      return;
    }
    if (s.has_enum) check_enum(node, v, s, path);
    switch (v.kind) {
      case Kind::String: check_string(node, v, s, path); break;
      case Kind::Int:
      case Kind::Float: check_number(node, v, s, path); break;
      case Kind::Array: check_array(node, s, path); break;
      case Kind::Object: check_object(node, s, path); break;
      default: break;
    }
    check_combinators(node, v, s, path);
  }

 private:
  void error(std::string_view check, const YAML::Node& at, std::string message) {
    error_at(check, loc_of(at, file_), std::move(message));
  }
  void error_at(std::string_view check, ir::SourceLocation loc, std::string message) {
    ++errors_;
    if (diags_) diags_->report(check, std::move(loc), std::move(message));
  }

  bool probing() const { return diags_ == nullptr; }

  size_t probe(const YAML::Node& node, const Schema& s, const std::string& path) const {
    Checker sub(file_, nullptr);
    sub.validate(node, s, path);
    return sub.errors();
  }

  void check_enum(const YAML::Node& node, const Value& v, const Schema& s,
                  const std::string& path) {
    for (const auto& e : s.enum_values)
      if (same_value(v, e)) return;
    std::string allowed;
    std::vector<std::string> names;
    for (size_t i = 0; i < s.enum_values.size(); ++i) {
      if (i > 0) allowed += ", ";
      allowed += show(s.enum_values[i]);
      names.push_back(s.enum_values[i].text);
    }
    ++errors_;
    if (probing()) return;
    auto& d = diags_->report("invalid-enum", loc_of(node, file_),
                             shown_path(path) + ": Unsupported value: " + show(v) +
                                 ": supported values: " + allowed);
    if (v.kind == Kind::String)
      if (auto best = ir::closest_match(v.text, names); !best.empty())
        d.hint = "did you mean '" + best + "'?";
  }

  void check_string(const YAML::Node& node, const Value& v, const Schema& s,
                    const std::string& path) {
    const std::string p = shown_path(path);
    const size_t len = utf8_length(v.text);
    if (s.max_length && static_cast<long long>(len) > *s.max_length)
      error("invalid-range", node,
            p + ": Too long: may not be more than " + std::to_string(*s.max_length) +
                " characters (" + quote(v.text) + " has " + std::to_string(len) + ")");
    if (s.min_length && static_cast<long long>(len) < *s.min_length)
      error("invalid-range", node,
            p + ": Invalid value: " + quote(v.text) + ": should be at least " +
                std::to_string(*s.min_length) + " chars long");
    // Go's regexp MatchString: unanchored search, like RE2::PartialMatch.
    if (s.pattern && !RE2::PartialMatch(v.text, *s.pattern))
      error("invalid-pattern", node,
            p + ": Invalid value: " + quote(v.text) + ": should match '" + s.pattern_text + "'");
    if (!s.format.empty() && !string_format_ok(s.format, v.text))
      error("invalid-pattern", node,
            p + ": Invalid value: " + quote(v.text) + ": must be of type " + s.format);
  }

  void check_number(const YAML::Node& node, const Value& v, const Schema& s,
                    const std::string& path) {
    const std::string p = shown_path(path) + ": Invalid value: " + v.text + ": ";
    if (v.int_overflow || (s.format == "int32" && (v.number < -2147483648.0 ||
                                                   v.number > 2147483647.0))) {
      error("invalid-range", node,
            p + "must be of type " + (s.format.empty() ? std::string("int64") : s.format));
      return;
    }
    if (s.minimum) {
      const bool bad = s.exclusive_minimum ? !(v.number > *s.minimum) : !(v.number >= *s.minimum);
      if (bad)
        error("invalid-range", node,
              p + "should be greater than " + (s.exclusive_minimum ? "" : "or equal to ") +
                  format_number(*s.minimum));
    }
    if (s.maximum) {
      const bool bad = s.exclusive_maximum ? !(v.number < *s.maximum) : !(v.number <= *s.maximum);
      if (bad)
        error("invalid-range", node,
              p + "should be less than " + (s.exclusive_maximum ? "" : "or equal to ") +
                  format_number(*s.maximum));
    }
  }

  void check_array(const YAML::Node& node, const Schema& s, const std::string& path) {
    const long long n = static_cast<long long>(node.size());
    if (s.max_items && n > *s.max_items)
      error("invalid-range", node,
            shown_path(path) + ": Too many: " + std::to_string(n) + ": must have at most " +
                std::to_string(*s.max_items) + " items");
    if (s.min_items && n < *s.min_items)
      error("invalid-range", node,
            shown_path(path) + ": Invalid value: " + std::to_string(n) +
                ": should have at least " + std::to_string(*s.min_items) + " items");
    if (!s.items) return;
    for (size_t i = 0; i < node.size(); ++i)
      validate(node[i], *s.items, path + "[" + std::to_string(i) + "]");
  }

  void check_object(const YAML::Node& node, const Schema& s, const std::string& path) {
    const auto ms = members_of(node);
    size_t count = 0;
    for (const auto& m : ms) {
      if (!m.key_node.IsScalar()) {
        error("invalid-type", m.key_node,
              shown_path(path) + ": Invalid value: " + quote(kind_name(classify(m.key_node).kind)) +
                  ": map keys must be strings");
        continue;
      }
      ++count;
      const Schema* prop = nullptr;
      for (const auto& [name, sub] : s.properties)
        if (name == m.key) {
          prop = sub.get();
          break;
        }
      if (prop) {
        // A null member is pruned by the API server: absent, not invalid.
        if (present(m.value)) validate(m.value, *prop, field_path(path, m.key));
      } else if (s.additional) {
        if (present(m.value)) validate(m.value, *s.additional, path + "[" + m.key + "]");
      } else if ((s.has_properties || s.additional_forbidden) && !s.preserve_unknown) {
        unknown_field(m, s, path);
      }
    }
    for (const auto& r : s.required)
      if (!has_value(ms, r))
        error("missing-field", node, field_path(path, r) + ": Required value");
    if (s.max_properties && static_cast<long long>(count) > *s.max_properties)
      error("invalid-range", node,
            shown_path(path) + ": Too many: " + std::to_string(count) + ": must have at most " +
                std::to_string(*s.max_properties) + " items");
    if (s.min_properties && static_cast<long long>(count) < *s.min_properties)
      error("invalid-range", node,
            shown_path(path) + ": Invalid value: " + std::to_string(count) +
                ": should have at least " + std::to_string(*s.min_properties) + " items");
  }

  void unknown_field(const Member& m, const Schema& s, const std::string& path) {
    // Pruned, so it never fails validation: probes ignore it.
    if (probing()) return;
    std::string msg = path.empty() ? "unknown field " + quote(m.key)
                                   : path + ": unknown field " + quote(m.key);
    auto& d = diags_->report("unknown-field", loc_of(m.key_node, file_), std::move(msg));
    if (auto best = ir::closest_match(m.key, s.property_names); !best.empty())
      d.hint = "did you mean '" + best + "'?";
  }

  // The names a required-only branch asks for: "endpointSelector".
  static std::string branch_name(const Schema& b) {
    std::string out;
    for (size_t i = 0; i < b.required.size(); ++i) {
      if (i > 0) out += " and ";
      out += quote(b.required[i]);
    }
    return out;
  }

  static bool all_required_only(const std::vector<SchemaPtr>& branches) {
    for (const auto& b : branches)
      if (!b->required_only) return false;
    return !branches.empty();
  }

  static bool all_type_only(const std::vector<SchemaPtr>& branches) {
    for (const auto& b : branches)
      if (!b->type_only) return false;
    return !branches.empty();
  }

  void check_combinators(const YAML::Node& node, const Value& v, const Schema& s,
                         const std::string& path) {
    const std::string p = shown_path(path);
    if (!s.one_of.empty()) check_choice(node, v, s.one_of, path, /*exactly_one=*/true);
    if (!s.any_of.empty()) check_choice(node, v, s.any_of, path, /*exactly_one=*/false);
    for (const auto& b : s.all_of)
      if (probe(node, *b, path) > 0)
        error("missing-field", node,
              p + ": Invalid value: " + quote(kind_name(v.kind)) +
                  ": must match all of the allOf schemas");
    if (s.not_schema && probe(node, *s.not_schema, path) == 0)
      error("missing-field", node,
            p + ": Invalid value: " + quote(kind_name(v.kind)) +
                ": must not match the schema in 'not'");
  }

  void check_choice(const YAML::Node& node, const Value& v, const std::vector<SchemaPtr>& branches,
                    const std::string& path, bool exactly_one) {
    std::vector<size_t> matched;
    for (size_t i = 0; i < branches.size(); ++i)
      if (probe(node, *branches[i], path) == 0) matched.push_back(i);
    const bool ok = exactly_one ? matched.size() == 1 : !matched.empty();
    if (ok) return;
    const std::string p = shown_path(path);
    const char* word = exactly_one ? "oneOf" : "anyOf";
    if (all_required_only(branches) && v.kind == Kind::Object) {
      std::vector<std::string> names;
      for (const auto& b : branches) names.push_back(branch_name(*b));
      if (matched.empty()) {
        error("missing-field", node,
              p + ": Required value: " + (exactly_one ? "exactly one" : "at least one") +
                  " of " + alternatives(names) + " must be set");
        return;
      }
      // Several set where only one may be: point at the second one.
      std::vector<std::string> found;
      for (size_t i : matched) found.push_back(names[i]);
      const std::string& second = branches[matched[1]]->required.front();
      error_at("missing-field", key_loc(node, second, file_),
               p + ": Invalid value: \"object\": only one of " + alternatives(names) +
                   " may be set, found " + alternatives(found, " and "));
      return;
    }
    if (all_type_only(branches) && matched.empty()) {
      std::vector<std::string> types;
      for (const auto& b : branches) types.push_back(type_list(*b));
      error("invalid-type", node,
            p + ": Invalid value: " + quote(kind_name(v.kind)) + ": must be of type " +
                alternatives(types));
      return;
    }
    error("missing-field", node,
          p + ": Invalid value: " + quote(kind_name(v.kind)) + ": must match " +
              (exactly_one ? "exactly one" : "at least one") + " of the " + word +
              " schemas, matched " + std::to_string(matched.size()));
  }

  const std::string& file_;
  ir::Diagnostics* diags_;
  size_t errors_ = 0;
};

}  // namespace

void check_schema(const YAML::Node& object, SchemaKind kind, const std::string& file,
                  ir::Diagnostics& diags) {
  try {
    Checker checker(file, &diags);
    checker.validate(object, schema_for(kind), "");
  } catch (const std::exception& e) {
    // yaml-cpp throws on misuse only; a finding beats a crash.
    diags.report("invalid-type", loc_of(object, file),
                 std::string("internal error while checking the schema: ") + e.what());
  }
}

}  // namespace cnpc::frontend
