// Side inputs of `cnpc query`: the DNS cache and the --flows file.
#include <fstream>
#include <sstream>

#include "cnpc/compiler/frontend.h"
#include "yaml_util.h"

namespace cnpc::frontend {

namespace {

std::optional<YAML::Node> read_yaml(const std::string& path, ir::Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.report("io-error", {path, 0, 0}, "cannot open file");
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  diags.add_source(path, text.str());
  try {
    return YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    diags.report("yaml-syntax", {path, e.mark.line + 1, e.mark.column + 1}, e.msg);
    return std::nullopt;
  }
}

std::optional<int> int_of(const YAML::Node& n) {
  auto s = scalar_of(n);
  if (!s || s->empty()) return std::nullopt;
  try {
    size_t used = 0;
    int v = std::stoi(*s, &used);
    if (used != s->size()) return std::nullopt;
    return v;
  } catch (...) {
    return std::nullopt;
  }
}

}  // namespace

std::vector<ir::DnsCacheEntry> load_dns_cache(const std::string& path, ir::Diagnostics& diags) {
  std::vector<ir::DnsCacheEntry> out;
  auto doc = read_yaml(path, diags);
  if (!doc) return out;
  if (!doc->IsSequence()) {
    diags.report("invalid-type", loc_of(*doc, path), "DNS cache must be a list of {endpoint, name, ips}");
    return out;
  }
  for (const auto& item : *doc) {
    ir::DnsCacheEntry e;
    e.endpoint = scalar_of(member(item, "endpoint")).value_or("");
    e.name = scalar_of(member(item, "name")).value_or("");
    for (auto& c : e.name) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (!e.name.empty() && e.name.back() == '.') e.name.pop_back();
    YAML::Node ips = member(item, "ips");
    bool ok = !e.endpoint.empty() && !e.name.empty() && ips.IsSequence();
    if (ok)
      for (const auto& ip : ips) {
        auto parsed = ir::IpAddr::parse(ip.IsScalar() ? ip.Scalar() : "");
        if (!parsed) {
          diags.report("invalid-type", loc_of(ip, path), "not an IP address");
          ok = false;
          break;
        }
        e.ips.push_back(*parsed);
      }
    if (!ok) {
      diags.report("invalid-type", loc_of(item, path),
                   "DNS cache entry needs endpoint (NS/POD), name and a list of ips");
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<FlowQuery> load_flow_queries(const std::string& path, ir::Diagnostics& diags) {
  std::vector<FlowQuery> out;
  auto doc = read_yaml(path, diags);
  if (!doc) return out;
  // Either a bare list or {flows: [...]} (the expectations file shape).
  YAML::Node list = doc->IsMap() ? member(*doc, "flows") : *doc;
  if (!list.IsSequence()) {
    diags.report("invalid-type", loc_of(*doc, path), "flows file must be a list of flows");
    return out;
  }
  for (const auto& item : list) {
    FlowQuery q;
    q.loc = loc_of(item, path);
    q.name = scalar_of(member(item, "name")).value_or("");
    q.src = scalar_of(member(item, "src")).value_or("");
    q.dst = scalar_of(member(item, "dst")).value_or("");
    if (q.src.empty() || q.dst.empty()) {
      diags.report("missing-field", q.loc, "flow needs 'src' and 'dst'");
      continue;
    }
    q.proto = scalar_of(member(item, "proto")).value_or("TCP");
    bool bad = false;
    auto number = [&](const char* key, std::optional<int>& into) {
      YAML::Node n = member(item, key);
      if (!present(n)) return;
      into = int_of(n);
      if (!into) {
        diags.report("invalid-type", loc_of(n, path), std::string(key) + " must be an integer");
        bad = true;
      }
    };
    number("port", q.port);
    number("icmp_type", q.icmp_type);
    YAML::Node http = member(item, "http");
    if (present(http)) {
      q.has_http = true;
      q.http_method = scalar_of(member(http, "method")).value_or("GET");
      q.http_path = scalar_of(member(http, "path")).value_or("/");
      q.http_host = scalar_of(member(http, "host")).value_or("");
      YAML::Node headers = member(http, "headers");
      if (headers.IsMap())
        for (auto it = headers.begin(); it != headers.end(); ++it)
          q.http_headers.emplace_back(it->first.Scalar(), scalar_of(it->second).value_or(""));
    }
    if (auto dns = scalar_of(member(item, "dns"))) q.dns_name = *dns;
    YAML::Node expect = member(item, "expect");
    if (expect.IsScalar()) {
      q.expect_verdict = expect.Scalar();
    } else if (expect.IsMap()) {
      if (auto v = scalar_of(member(expect, "verdict"))) q.expect_verdict = *v;
      if (auto v = scalar_of(member(expect, "l7_verdict"))) q.expect_l7_verdict = *v;
    }
    for (const auto* v : {&q.expect_verdict, &q.expect_l7_verdict})
      if (*v && **v != "allowed" && **v != "denied" && **v != "audit") {
        diags.report("invalid-enum", loc_of(expect, path),
                     "expectation must be allowed, denied or audit, not '" + **v + "'");
        bad = true;
      }
    if (!bad) out.push_back(std::move(q));
  }
  return out;
}

}  // namespace cnpc::frontend
