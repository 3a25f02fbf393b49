// The bundle: generate, compile (clang as a process, in parallel), write
// metadata, then swap the directory into place atomically.
#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "cnpc/codegen/codegen.h"
#include "emit.h"
#include "model.h"

extern char** environ;

namespace cnpc::codegen {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string sha256_hex(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << data;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Runs a command without a shell; returns its exit status and stderr (read
// from a pipe until the child closes it, so a long error cannot block it).
int run(const std::vector<std::string>& argv, std::string& err) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    err = "cannot run " + argv[0] + ": " + std::string(strerror(errno));
    return -1;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  err.clear();
  char buf[4096];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof(buf))) > 0;) err.append(buf, size_t(n));
  close(pipefd[0]);
  if (rc != 0) {
    err = "cannot run " + argv[0] + ": " + std::string(strerror(rc));
    return -1;
  }
  int status = -1;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

json origin_json(const ir::Origin& o) {
  return {{"file", o.loc.file}, {"line", o.loc.line}, {"column", o.loc.column}, {"kind", o.kind},
          {"namespace", o.namespace_}, {"name", o.name}, {"path", o.path}};
}

const char* pidx_name(uint8_t p) {
  static const char* names[] = {"TCP", "UDP", "SCTP", "ICMP", "ICMPv6", "other"};
  return p < kPidxCount ? names[p] : "?";
}

// L7 tables: per subject class and direction, every allow entry that
// matters to the proxy — entries with L7 rules, and the entries without
// L7 that wildcard them (docs/bundle-format.md, "L7 tables").
json l7_tables(const ir::Evaluator& ev, const DatapathModel& m) {
  json tables = json::array();
  const auto& ps = ev.policies();
  for (const auto& s : m.subjects)
    for (int d = 0; d < 2; ++d) {
      const auto& dm = s.dir[d];
      bool has_l7 = std::any_of(dm.entries.begin(), dm.entries.end(),
                                [](const Entry& e) { return e.category == kRedirect; });
      if (!has_l7 || !dm.enforced) continue;
      json entries = json::array();
      for (const auto& e : dm.entries) {
        if (e.category == kDeny) continue;
        const ir::Rule& rule = ps.rules[e.rule];
        json ports = json::array();
        for (const auto& p : e.ports)
          ports.push_back({{"proto", pidx_name(p.pidx)}, {"first", p.first}, {"last", p.last}});
        json entry = {{"rule", e.rule},
                      {"peers", e.all_peers ? json("all") : json(e.peers)},
                      {"ports", e.all_ports ? json("all") : ports}};
        // The L7 rules of the port rule this entry stands for.
        const ir::L7Rules* l7 =
            e.category == kRedirect ? &rule.port_rules[size_t(e.port_rule)].l7 : nullptr;
        if (l7) {
          entry["kind"] = ir::to_string(l7->kind);
          json rules = json::array();
          for (const auto& h : l7->http) {
            json headers = json::array();
            for (const auto& hd : h.headers)
              headers.push_back({{"name", hd.name}, {"value", hd.value ? json(*hd.value) : json(nullptr)}});
            rules.push_back({{"method", h.method}, {"path", h.path}, {"host", h.host}, {"headers", headers}});
          }
          for (const auto& dn : l7->dns)
            rules.push_back({{"matchName", dn.match_name}, {"matchPattern", dn.match_pattern}});
          for (const auto& k : l7->kafka)
            rules.push_back({{"role", k.role}, {"apiKey", k.api_key},
                             {"apiVersion", k.api_version ? json(*k.api_version) : json(nullptr)},
                             {"clientID", k.client_id}, {"topic", k.topic}});
          entry["rules"] = rules;
        } else {
          entry["kind"] = "none";  // an allow without L7: a wildcard for the peers it covers
        }
        entries.push_back(entry);
      }
      tables.push_back({{"class", s.class_id}, {"direction", d == 0 ? "ingress" : "egress"},
                        {"entries", entries}});
    }
  return {{"format", "cnpc-l7/1"}, {"tables", tables}};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> generate_sources(const ir::Evaluator& ev,
                                                                  const Options& options) {
  DatapathModel m = build_model(ev);
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string, bool> seen;
  for (const auto& s : m.subjects) {
    auto p = emit_program(ev, m, s, options);
    std::string name = "prog-" + sha256_hex(p.source).substr(0, 16);
    if (!seen.emplace(name, true).second) continue;
    out.emplace_back(name, p.source);
  }
  return out;
}

bool compile_bundle(const ir::Evaluator& ev, const std::string& out_dir, const Options& options,
                    Report& report, ir::Diagnostics& diags) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path target = fs::absolute(fs::path(out_dir)).lexically_normal();
  const fs::path tmp = target.parent_path() / (target.filename().string() + ".tmp-" + std::to_string(getpid()));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  try {
    fs::create_directories(tmp);
    DatapathModel m = build_model(ev);
    report.classes = m.class_count;
    report.world_atoms = m.world_atoms.size();
    report.ipcache_entries = m.ipcache.size();

    // Programs, one per distinct shape.
    struct Program {
      std::string name, source, maps;
      std::vector<uint32_t> classes;
      DirectionPlan plan[2];
    };
    std::vector<Program> programs;
    std::map<std::string, size_t> by_name;
    std::map<uint32_t, std::string> program_of_class;
    for (const auto& s : m.subjects) {
      auto p = emit_program(ev, m, s, options);
      std::string name = "prog-" + sha256_hex(p.source + p.maps_json).substr(0, 16);
      auto [it, fresh] = by_name.try_emplace(name, programs.size());
      if (fresh) programs.push_back({name, p.source, p.maps_json, {}, {p.plan[0], p.plan[1]}});
      programs[it->second].classes.push_back(s.class_id);
      program_of_class[s.class_id] = name + ".bpf.o";
    }
    for (const auto& p : programs) {
      write_file(tmp / (p.name + ".bpf.c"), p.source);
      if (!p.maps.empty()) write_file(tmp / (p.name + ".maps.json"), p.maps);
    }

    // clang -target bpf, in parallel; debug paths mapped so output is stable.
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::vector<std::string> errors;
    auto worker = [&] {
      for (size_t i = next++; i < programs.size(); i = next++) {
        const auto& p = programs[i];
        std::string err;
        std::vector<std::string> argv = {options.clang, "-O2", "-g", "-target", "bpf", "-Wall",
                                         "-Wno-unused-function",
                                         "-fdebug-prefix-map=" + tmp.string() + "=/cnpc",
                                         "-fdebug-prefix-map=" + options.include_dir + "=/cnpc/include",
                                         "-I" + options.include_dir, "-I" + options.sys_include_dir, "-c",
                                         (tmp / (p.name + ".bpf.c")).string(), "-o",
                                         (tmp / (p.name + ".bpf.o")).string()};
        if (run(argv, err) != 0) {
          std::lock_guard<std::mutex> lock(mu);
          errors.push_back(p.name + ".bpf.c: " + err);
        }
      }
    };
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < std::max(1u, options.jobs); ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    if (!errors.empty()) throw std::runtime_error("BPF compile failed: " + errors.front());

    // Metadata.
    json classes = json::array();
    for (uint32_t c = 0; c < m.class_count; ++c) {
      const auto& rep = ev.endpoints()[ev.representative(c)];
      json members = json::array();
      for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e)
        if (ev.class_of(e) == c) members.push_back(ev.endpoints()[e].display());
      static const char* kinds[] = {"pod", "host", "remote-node", "world", "reserved"};
      classes.push_back({{"id", c}, {"kind", kinds[int(rep.kind)]}, {"labels", rep.labels.to_string()},
                         {"endpoints", members}});
    }
    for (size_t i = 0; i < m.world_atoms.size(); ++i)
      classes.push_back({{"id", m.world_class_base + i}, {"kind", "world"},
                         {"labels", "reserved:world,cidr:" + m.world_atoms[i].to_string()},
                         {"endpoints", json::array()}});
    json endpoints = json::array();
    for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e) {
      const auto& ep = ev.endpoints()[e];
      if (ep.kind == ir::Endpoint::Kind::World) continue;
      json ips = json::array();
      for (const auto& ip : ep.ips) ips.push_back(ip.to_string());
      uint32_t c = ev.class_of(e);
      endpoints.push_back({{"name", ep.display()}, {"class", c}, {"ips", ips},
                           {"program", program_of_class.count(c) ? json(program_of_class[c]) : json(nullptr)}});
    }
    json rules = json::array();
    for (ir::RuleId r = 0; r < ev.policies().rules.size(); ++r) {
      const auto& rule = ev.policies().rules[r];
      json j = origin_json(rule.origin);
      j["id"] = r;
      j["direction"] = ir::to_string(rule.direction);
      j["action"] = ir::to_string(rule.action);
      rules.push_back(j);
    }
    json progs = json::array();
    for (const auto& p : programs) {
      auto plan_json = [](const DirectionPlan& d) {
        return json{{"mode", d.mode},   {"entries", d.entries}, {"rule_ids", d.rule_ids},
                    {"table_cells", d.table_cells}, {"why", d.why}};
      };
      progs.push_back({{"object", p.name + ".bpf.o"}, {"source", p.name + ".bpf.c"},
                       {"maps", p.maps.empty() ? json(nullptr) : json(p.name + ".maps.json")},
                       {"classes", p.classes}, {"ingress", plan_json(p.plan[0])},
                       {"egress", plan_json(p.plan[1])}});
      ProgramReport pr;
      pr.object = p.name + ".bpf.o";
      pr.classes = p.classes;
      pr.ingress = p.plan[0];
      pr.egress = p.plan[1];
      for (uint32_t c : p.classes)
        for (ir::EndpointId e = 0; e < ev.endpoints().size(); ++e)
          if (ev.class_of(e) == c) pr.endpoints.push_back(ev.endpoints()[e].display());
      report.programs.push_back(std::move(pr));
    }
    json metadata = {{"format", "cnpc-bundle/1"}, {"classes", classes}, {"endpoints", endpoints},
                     {"rules", rules}, {"programs", progs}, {"world_class_base", m.world_class_base},
                     {"host_classes", m.host_classes}};
    write_file(tmp / "metadata.json", metadata.dump(1) + "\n");
    json ipcache = json::array();
    for (const auto& e : m.ipcache) ipcache.push_back({{"prefix", e.prefix}, {"class", e.class_id}});
    write_file(tmp / "ipcache.json", ipcache.dump(1) + "\n");
    write_file(tmp / "l7.json", l7_tables(ev, m).dump(1) + "\n");

    // Manifest last: every file with its hash, and the inputs' hashes.
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(tmp)) files.push_back(entry.path().filename().string());
    std::sort(files.begin(), files.end());
    json file_list = json::array();
    for (const auto& f : files) file_list.push_back({{"path", f}, {"sha256", sha256_hex(read_file(tmp / f))}});
    json inputs = json::array();
    std::vector<std::string> input_paths = options.inputs;
    std::sort(input_paths.begin(), input_paths.end());
    for (const auto& in : input_paths) inputs.push_back({{"path", in}, {"sha256", sha256_hex(read_file(in))}});
    json manifest = {{"format", "cnpc-bundle/1"}, {"cnpc_version", options.cnpc_version},
                     {"inputs", inputs}, {"files", file_list}};
    write_file(tmp / "manifest.json", manifest.dump(1) + "\n");

    // Swap into place: exchange with the old bundle, or rename when new.
    if (fs::exists(target)) {
      if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0)
        throw std::runtime_error("cannot replace " + target.string() + ": " + strerror(errno));
      fs::remove_all(tmp, ec);  // now holds the previous bundle
    } else {
      fs::rename(tmp, target);
    }
  } catch (const std::exception& e) {
    fs::remove_all(tmp, ec);
    diags.report("codegen-failed", {out_dir, 0, 0}, e.what());
    return false;
  }
  report.compile_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return true;
}

}  // namespace cnpc::codegen
