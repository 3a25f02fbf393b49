// File walking, YAML parsing and dispatch of each object to its checks and
// lowering. An object with errors is reported and skipped as a whole, as
// Cilium rejects a policy as a whole.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "cnpc/compiler/frontend.h"
#include "lower.h"
#include "sanitize.h"
#include "schema.h"
#include "yaml_guard.h"
#include "yaml_util.h"

namespace cnpc::frontend {

namespace fs = std::filesystem;

namespace {

bool is_manifest(const fs::path& p) {
  auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

std::vector<std::string> expand(std::span<const std::string> paths, ir::Diagnostics& diags) {
  std::vector<std::string> files;
  for (const auto& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && is_manifest(it->path())) found.push_back(it->path().string());
      if (ec) diags.report("io-error", {path, 0, 0}, "cannot read directory: " + ec.message());
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      diags.report("io-error", {path, 0, 0}, "no such file or directory");
    }
  }
  return files;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

class ObjectLoader {
 public:
  ObjectLoader(const std::string& file, const LoadOptions& options, LoadResult& out,
               ir::Diagnostics& diags)
      : file_(file), options_(options), out_(out), diags_(diags) {}

  void load_document(const YAML::Node& doc) {
    if (!doc.IsDefined() || doc.IsNull()) return;
    if (doc.IsSequence()) {  // `cilium policy import` format: a bare list of rules
      for (size_t i = 0; i < doc.size(); ++i) load_bare_rule(doc[i], i);
      return;
    }
    if (!doc.IsMap()) {
      diags_.report("unsupported-kind", loc_of(doc, file_), "document is not an object; skipped");
      return;
    }
    const std::string kind = scalar_of(member(doc, "kind")).value_or("");
    const std::string api = scalar_of(member(doc, "apiVersion")).value_or("");
    YAML::Node items = member(doc, "items");
    if (kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0 && items.IsSequence()) {
      for (const auto& item : items) load_document(item);
      return;
    }
    if (kind.empty()) {
      if (present(member(doc, "endpointSelector")) || present(member(doc, "nodeSelector"))) {
        load_bare_rule(doc, 0);
        return;
      }
      diags_.report("unsupported-kind", loc_of(doc, file_), "object has no 'kind'; skipped");
      return;
    }
    if (kind == "CiliumNetworkPolicy" || kind == "CiliumClusterwideNetworkPolicy") {
      if (api != "cilium.io/v2") {
        diags_.report("unsupported-kind", key_loc(doc, "apiVersion", file_),
                      "apiVersion '" + api + "' of " + kind + " is not supported (want cilium.io/v2); skipped");
        return;
      }
      load_policy(doc, kind);
    } else if (kind == "NetworkPolicy") {
      if (api != "networking.k8s.io/v1") {
        diags_.report("unsupported-kind", key_loc(doc, "apiVersion", file_),
                      "apiVersion '" + api + "' of NetworkPolicy is not supported (want networking.k8s.io/v1); skipped");
        return;
      }
      load_policy(doc, kind);
    } else if (is_inventory_kind(kind)) {
      load_inventory_object(doc, kind, file_, options_, out_.inventory, out_.endpoint_index, diags_);
    } else if (starts_with(api, "cilium.io/") || starts_with(api, "policy.networking.k8s.io/")) {
      diags_.report("unsupported-kind", loc_of(doc, file_),
                    kind + " is not evaluated by cnpc; skipped");
    }
    // Other Kubernetes kinds (Service, ConfigMap, ...) are not policy: ignored.
  }

 private:
  void load_policy(const YAML::Node& doc, const std::string& kind) {
    ++out_.policy_objects;
    YAML::Node metadata = member(doc, "metadata");
    ObjectContext ctx;
    ctx.file = file_;
    ctx.kind = kind;
    ctx.name = scalar_of(member(metadata, "name")).value_or("");
    if (kind != "CiliumClusterwideNetworkPolicy") {
      ctx.namespace_ = scalar_of(member(metadata, "namespace")).value_or("");
      if (ctx.namespace_.empty()) ctx.namespace_ = "default";  // as kubectl apply would
    }
    ctx.options = &options_;

    const size_t checkpoint = diags_.checkpoint();
    const SchemaKind schema = kind == "CiliumNetworkPolicy" ? SchemaKind::CiliumNetworkPolicy
                              : kind == "NetworkPolicy"      ? SchemaKind::NetworkPolicy
                                                             : SchemaKind::CiliumClusterwideNetworkPolicy;
    check_schema(doc, schema, file_, diags_);
    if (!diags_.errors_since(checkpoint)) sanitize_object(doc, kind, file_, options_, diags_);
    if (diags_.errors_since(checkpoint)) {
      ++out_.rejected_objects;
      return;
    }
    replace_duplicate(ctx, doc);
    if (kind == "NetworkPolicy")
      lower_k8s_object(doc, ctx, out_.policies, diags_);
    else
      lower_cilium_object(doc, ctx, out_.policies, diags_);
  }

  void load_bare_rule(const YAML::Node& rule, size_t index) {
    ++out_.policy_objects;
    ObjectContext ctx;
    ctx.file = file_;
    ctx.kind = "CiliumRule";
    ctx.name = fs::path(file_).filename().string() + "[" + std::to_string(index) + "]";
    ctx.options = &options_;
    const size_t checkpoint = diags_.checkpoint();
    if (!rule.IsMap()) {
      diags_.report("invalid-type", loc_of(rule, file_), "rule must be an object");
    } else {
      sanitize_object(rule, "CiliumRule", file_, options_, diags_);
    }
    if (diags_.errors_since(checkpoint)) {
      ++out_.rejected_objects;
      return;
    }
    FoldCaseKeys fold(true);
    lower_cilium_rule(rule, "[" + std::to_string(index) + "]", ctx, out_.policies, diags_);
  }

  // kubectl apply semantics: the later object of the same kind and name wins.
  void replace_duplicate(const ObjectContext& ctx, const YAML::Node& doc) {
    auto same = [&](const ir::Origin& o) {
      return o.kind == ctx.kind && o.namespace_ == ctx.namespace_ && o.name == ctx.name;
    };
    auto it = std::find_if(out_.policies.specs.begin(), out_.policies.specs.end(),
                           [&](const ir::Spec& s) { return same(s.origin); });
    if (it == out_.policies.specs.end()) return;
    auto& d = diags_.report("duplicate-object", loc_of(doc, file_),
                            ctx.kind + " '" + it->origin.policy_ref() +
                                "' is defined more than once; this definition replaces the earlier one");
    d.notes.push_back({it->origin.loc, "earlier definition"});
    std::erase_if(out_.policies.specs, [&](const ir::Spec& s) { return same(s.origin); });
    std::erase_if(out_.policies.rules, [&](const ir::Rule& r) { return same(r.origin); });
  }

  const std::string& file_;
  const LoadOptions& options_;
  LoadResult& out_;
  ir::Diagnostics& diags_;
};

}  // namespace

void load_text(const std::string& file_name, const std::string& text, const LoadOptions& options,
               LoadResult& out, ir::Diagnostics& diags) {
  ++out.files;
  if (auto problem = yaml_guard::precheck(text)) {
    diags.report("yaml-syntax", {file_name, problem->mark.line + 1, problem->mark.column + 1}, problem->message);
    return;
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    ir::SourceLocation loc{file_name, e.mark.line >= 0 ? e.mark.line + 1 : 0,
                           e.mark.column >= 0 ? e.mark.column + 1 : 0};
    diags.report("yaml-syntax", loc, e.msg.empty() ? "invalid YAML" : e.msg);
    return;
  }
  ObjectLoader loader(file_name, options, out, diags);
  for (const auto& doc : docs) {
    try {
      loader.load_document(doc);
    } catch (const YAML::Exception& e) {
      // yaml-cpp can still throw on conversions of odd nodes: report, never crash.
      diags.report("yaml-syntax", loc_of(doc, file_name), std::string("cannot read object: ") + e.what());
    }
  }
  finalize_inventory(out.inventory);
}

void load_paths(std::span<const std::string> paths, const LoadOptions& options, LoadResult& out,
                ir::Diagnostics& diags) {
  for (const auto& file : expand(paths, diags)) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      diags.report("io-error", {file, 0, 0}, "cannot open file");
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    diags.add_source(file, text.str());
    load_text(file, text.str(), options, out, diags);
  }
}

}  // namespace cnpc::frontend
