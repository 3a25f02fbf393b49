#include "agent.h"

#include <arpa/inet.h>
#include <sys/file.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace cnpc::agent {
namespace {

using nlohmann::json;
constexpr unsigned long kBpfFsMagic = 0xcafe4a11;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string read_file_or_empty(const std::string& path) {
  try {
    return read_file(path);
  } catch (const std::exception&) {
    return {};
  }
}

void log(const std::string& line) { std::cerr << "cnpc-agent: " << line << std::endl; }

const char* verdict_name(int v) {
  switch (v) {
    case runtime::kAllow: return "FORWARDED";
    case runtime::kDrop: return "DROPPED";
    case runtime::kRedirect: return "REDIRECTED";
    case runtime::kAudit: return "AUDIT";
    default: return "VERDICT_UNKNOWN";
  }
}

// Hubble's DropReason names for ours (flow.proto).
const char* drop_reason_name(int r) {
  switch (r) {
    case runtime::kReasonPolicyDenied: return "POLICY_DENIED";
    case runtime::kReasonPolicyDeny: return "POLICY_DENY";
    case runtime::kReasonMalformed: return "INVALID_PACKET_DROPPED";
    case runtime::kReasonFragment: return "FRAG_NOT_FOUND";
    case runtime::kReasonProxyDown: return "PROXY_REDIRECTION_NOT_SUPPORTED_FOR_PROTOCOL";
    default: return "";
  }
}

std::string address(int family, const uint32_t* a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
  return buf;
}

// bpf_ktime_get_ns() is CLOCK_MONOTONIC; flows carry Unix time.
int64_t unix_ns(uint64_t mono_ns) {
  timespec rt{}, mono{};
  clock_gettime(CLOCK_REALTIME, &rt);
  clock_gettime(CLOCK_MONOTONIC, &mono);
  int64_t offset = (int64_t(rt.tv_sec) - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
  return int64_t(mono_ns) + offset;
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof(buf) - 1) == 0 ? buf : "";
}

uint32_t steer_kind(ir::L7Kind kind) {
  switch (kind) {
    case ir::L7Kind::Http: return runtime::kL7Http;
    case ir::L7Kind::Dns: return runtime::kL7Dns;
    case ir::L7Kind::Kafka: return runtime::kL7Kafka;
    default: return 0;
  }
}

}  // namespace

std::vector<EndpointSpec> read_endpoints(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);  // JSON is YAML too
  } catch (const std::exception& e) {
    throw std::runtime_error("endpoints file " + path + ": " + e.what());
  }
  if (!root.IsSequence()) throw std::runtime_error("endpoints file " + path + ": expected a list");
  std::vector<EndpointSpec> out;
  for (const auto& n : root) {
    EndpointSpec e;
    try {
      e.name = n["name"].as<std::string>();
      e.ip = n["ip"].as<std::string>();
      e.interface = n["interface"].as<std::string>();
    } catch (const std::exception&) {
      throw std::runtime_error("endpoints file " + path + ": every entry needs name, ip and interface");
    }
    out.push_back(std::move(e));
  }
  return out;
}

// One loaded bundle and what the agent derives from its metadata.
struct Agent::Generation {
  Generation(runtime::LoadedBundle b, std::string m) : bundle(std::move(b)), manifest(std::move(m)) {}
  runtime::LoadedBundle bundle;
  std::string manifest;
  std::map<std::string, uint32_t> endpoint_class;       // endpoint name -> class
  std::map<std::string, std::vector<uint32_t>> enforcing[2];  // object -> rule ids, per kDir*
  struct Resolved {
    uint32_t class_id;
    const runtime::ProgramInfo* program;
  };
  std::vector<Resolved> resolved;  // per Agent::endpoints_, same order
  std::map<uint32_t, std::string> ifindex_names;  // filled when attached
  std::map<uint32_t, std::string> ifindex_objects;
  std::shared_ptr<const L7State> l7;  // l7.json and the address index
};

std::unique_ptr<Agent::Generation> Agent::load_generation(int reuse_ct_fd) const {
  std::string manifest = read_file(options_.bundle + "/manifest.json");
  // Everything is checked before anything is attached: manifest hashes,
  // the verifier, the table maps and the ipcache fill happen in load().
  auto gen = std::make_unique<Generation>(runtime::LoadedBundle::load(options_.bundle, reuse_ct_fd), manifest);
  // The files read here again must be the ones load() verified: the bundle
  // directory may have been swapped since (a compile lands mid-reload).
  json listed = json::parse(manifest).value("files", json::array());
  auto read_verified = [&](const std::string& name, bool required) -> std::string {
    for (const auto& f : listed) {
      if (f.value("path", "") != name) continue;
      std::string text = read_file(options_.bundle + "/" + name);
      if (runtime::sha256_hex(text) != f.value("sha256", ""))
        throw std::runtime_error(name + " changed while loading: the bundle was replaced; retry");
      return text;
    }
    if (required) throw std::runtime_error(name + " is not listed in manifest.json");
    return {};
  };
  std::string metadata_text = read_verified("metadata.json", true);
  json meta = json::parse(metadata_text);
  for (const auto& e : meta.at("endpoints")) gen->endpoint_class[e.at("name")] = e.at("class").get<uint32_t>();
  // Per program and direction, the rules its decision can name
  // (programs[].ingress/egress.rule_ids): a default-deny drop, which has no
  // rule, names the policies whose default deny it is.
  for (const auto& p : meta.at("programs")) {
    std::string object = p.at("object");
    for (auto [dir, key] : {std::pair{runtime::kDirIngress, "ingress"}, std::pair{runtime::kDirEgress, "egress"}})
      if (p.contains(key))
        for (const auto& id : p[key].value("rule_ids", json::array()))
          gen->enforcing[dir][object].push_back(id.get<uint32_t>());
  }
  for (const auto& ep : endpoints_) {
    auto it = gen->endpoint_class.find(ep.name);
    if (it == gen->endpoint_class.end())
      throw std::runtime_error("endpoint " + ep.name + " is not in the bundle's metadata");
    const runtime::ProgramInfo* prog = nullptr;
    try {
      prog = &gen->bundle.program_for_class(it->second);
    } catch (const std::out_of_range&) {
      throw std::runtime_error("endpoint " + ep.name + " (class " + std::to_string(it->second) +
                               ") has no program in the bundle");
    }
    // The endpoint's own address may be newer than the compile's inventory.
    gen->bundle.ipcache_update(ep.ip, it->second);
    gen->resolved.push_back({it->second, prog});
  }

  // L7: the tables the proxies judge with, and the steering the datapath
  // needs to hand them their flows.
  std::vector<std::pair<std::string, std::string>> named_ips;
  for (const auto& ep : endpoints_) named_ips.emplace_back(ep.name, ep.ip);
  std::string l7_text = read_verified("l7.json", false);
  gen->l7 = std::make_shared<const L7State>(
      l7_text.empty() ? L7Policy() : L7Policy::parse(l7_text),
      EndpointIndex(metadata_text, read_verified("ipcache.json", true), named_ips));
  size_t steer_entries = 0;
  std::set<uint32_t> kafka_rules;
  for (const auto& [table, redirects] : gen->l7->redirects) {
    for (const auto& r : redirects) {
      if (r.kind == ir::L7Kind::Kafka) kafka_rules.insert(r.rule);
      runtime::SteerKey key{};
      key.class_id = r.class_id;
      key.proto = r.ip_proto;
      key.direction = uint8_t(r.direction);
      std::vector<uint32_t> peers = r.peers ? *r.peers : std::vector<uint32_t>{runtime::kAnyPeer};
      for (uint32_t peer : peers) {
        key.peer = peer;
        for (uint32_t port = r.first; port <= r.last; ++port) {
          if (++steer_entries > runtime::kSteerMaxEntries)
            throw std::runtime_error("l7.json: more L7 ports than the steering map holds (" +
                                     std::to_string(runtime::kSteerMaxEntries) + ")");
          key.port = uint16_t(port);
          gen->bundle.steer_update(key, steer_kind(r.kind));
        }
      }
    }
  }
  // Said at every load: an L7 rule this agent cannot enforce passes at L3/L4.
  if (!kafka_rules.empty()) {
    std::ostringstream rules;
    for (uint32_t id : kafka_rules) rules << ' ' << id;
    log("warning: Kafka L7 rules are not enforced by this agent (no Kafka proxy): their ports pass at L3/L4; "
        "rule ids:" + rules.str());
  }
  if (!options_.proxies && !gen->l7->redirects.empty())
    log("warning: --no-proxy: the bundle's L7 rules are not enforced; their ports pass at L3/L4");
  if (options_.proxies) {
    gen->bundle.set_proxy_port(runtime::kL7Http, http_proxy_ ? http_proxy_->port() : 0);
    gen->bundle.set_proxy_port(runtime::kL7Dns, dns_proxy_ ? dns_proxy_->port() : 0);
    gen->bundle.set_proxy_port(runtime::kProxyOn, 1);
  }
  return gen;
}

Agent::NodeLock::NodeLock(const std::string& path) {
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error("cannot open the agent lock " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw std::runtime_error("another cnpc-agent is running on this node (it holds " + path + ")");
  }
}

Agent::NodeLock::~NodeLock() { ::close(fd_); }

Agent::Agent(Options options) : lock_(options.lock_file), options_(std::move(options)) {
  endpoints_ = read_endpoints(options_.endpoints);
  if (options_.node_name.empty()) options_.node_name = host_name();
  log_ = std::make_unique<FlowLog>(options_.events);
  enforcer_ = std::make_unique<L7Enforcer>(*log_, options_.node_name);
  try {
    if (options_.proxies) {
      // Listening before any program steers to them; the route last, so
      // nothing is delivered locally that no proxy would take.
      ProxyOptions http;
      http.bind_ip = "127.0.0.1";
      http.port = options_.http_proxy_port;
      http_proxy_ = std::make_unique<HttpProxy>(http, *enforcer_);
      ProxyOptions dns = http;
      dns.port = options_.dns_proxy_port;
      dns_proxy_ = std::make_unique<DnsProxy>(dns, *enforcer_);
      route_ = std::make_unique<ProxyRoute>();
    }
    last_manifest_ = read_file_or_empty(options_.bundle + "/manifest.json");
    gen_ = load_generation(-1);
    enforcer_->update(gen_->l7);
    for (size_t i = 0; i < endpoints_.size(); ++i) {
      const auto& ep = endpoints_[i];
      Attachment a;
      a.spec = ep;
      a.ifindex = int(if_nametoindex(ep.interface.c_str()));
      if (a.ifindex == 0) throw std::runtime_error("interface " + ep.interface + " of " + ep.name + ": " + std::strerror(errno));
      a.qdisc = std::make_unique<Clsact>(a.ifindex);
      // We hold the node's lock: a filter in our slot is a crashed agent's.
      a.pod_egress = std::make_unique<TcFilter>(a.ifindex, TcPoint::Ingress, gen_->resolved[i].program->egress_fd,
                                                /*take_over=*/true);
      a.pod_ingress = std::make_unique<TcFilter>(a.ifindex, TcPoint::Egress, gen_->resolved[i].program->ingress_fd,
                                                 /*take_over=*/true);
      gen_->ifindex_names[uint32_t(a.ifindex)] = ep.name;
      gen_->ifindex_objects[uint32_t(a.ifindex)] = gen_->resolved[i].program->object;
      attached_.push_back(std::move(a));
    }
    pin_maps(*gen_);
  } catch (...) {
    attached_.clear();
    unpin();
    throw;
  }
  std::string proxies = options_.proxies ? ", HTTP proxy on 127.0.0.1:" + std::to_string(http_proxy_->port()) +
                                               ", DNS proxy on 127.0.0.1:" + std::to_string(dns_proxy_->port())
                                         : ", no proxies";
  log("loaded " + options_.bundle + " (" + std::to_string(gen_->bundle.programs().size()) + " programs), attached " +
      std::to_string(attached_.size()) + " endpoints" + proxies);
}

Agent::~Agent() {
  if (gen_) write_events(*gen_);
  attached_.clear();  // filters first, then the qdiscs this agent created
  unpin();
  log("detached");  // the route, the proxies and then the lock go with the members
}

bool Agent::reload() {
  last_manifest_ = read_file_or_empty(options_.bundle + "/manifest.json");
  std::unique_ptr<Generation> next;
  try {
    next = load_generation(gen_->bundle.ct_fd());
  } catch (const std::exception& e) {
    log(std::string("reload failed, keeping the running programs: ") + e.what());
    return false;
  }
  // Swap every filter; on a failure put back the ones already swapped.
  size_t done = 0;
  try {
    for (; done < attached_.size(); ++done) {
      auto& a = attached_[done];
      const auto* prog = next->resolved[done].program;
      a.pod_egress->replace(prog->egress_fd);
      a.pod_ingress->replace(prog->ingress_fd);
      next->ifindex_names[uint32_t(a.ifindex)] = a.spec.name;
      next->ifindex_objects[uint32_t(a.ifindex)] = prog->object;
    }
  } catch (const std::exception& e) {
    for (size_t i = 0; i <= done && i < attached_.size(); ++i) {
      try {
        attached_[i].pod_egress->replace(gen_->resolved[i].program->egress_fd);
        attached_[i].pod_ingress->replace(gen_->resolved[i].program->ingress_fd);
      } catch (const std::exception& again) {
        log(std::string("rolling back ") + attached_[i].spec.name + ": " + again.what());
      }
    }
    log(std::string("reload failed, keeping the running programs: ") + e.what());
    return false;
  }
  write_events(*gen_);  // what the old programs emitted before the swap
  enforcer_->update(next->l7);  // requests judged from now on see the new rules
  gen_ = std::move(next);  // closes the old objects and maps
  try {
    pin_maps(*gen_);
  } catch (const std::exception& e) {
    log(std::string("reloaded, but pinning failed: ") + e.what());
  }
  log("reloaded " + options_.bundle + " (" + std::to_string(gen_->bundle.programs().size()) + " programs)");
  return true;
}

void Agent::reload_if_changed() {
  std::string m = read_file_or_empty(options_.bundle + "/manifest.json");
  // Mid-rename the file may be briefly missing: wait for the next poll.
  if (!m.empty() && m != last_manifest_) reload();
}

void Agent::write_events() {
  write_events(*gen_);
  log_->flush();  // the proxies' lines too
}

void Agent::write_events(Generation& gen) {
  const EndpointIndex& index = gen.l7->index;
  for (const auto& e : gen.bundle.drain_events()) {
    FlowRecord r;
    r.time_ns = unix_ns(e.timestamp_ns);
    r.verdict = verdict_name(e.verdict);
    r.drop_reason = e.verdict == runtime::kDrop || e.verdict == runtime::kAudit ? drop_reason_name(e.reason) : "";
    r.ip_proto = e.proto;
    r.ipv6 = e.family == 6;
    r.source = index.endpoint(address(e.family, e.saddr), e.sport);
    r.destination = index.endpoint(address(e.family, e.daddr), e.dport);
    // The program knows the peer's class; the address index the rest. An
    // ingress peer whose class is not its address's is the client the
    // proxy's upstream connection speaks for (its mark): show that client.
    FlowEndpoint& peer = e.direction == runtime::kDirIngress ? r.source : r.destination;
    if (e.peer_class != runtime::kNoClass) {
      if (e.direction == runtime::kDirIngress && e.peer_class != index.resolve(peer.ip).class_id)
        peer = index.endpoint_of_class(e.peer_class, peer.ip, peer.port);
      else
        peer.identity = index.identity_of(e.peer_class);
    }
    if (e.proto == 1 || e.proto == 58) {  // ICMP: the type is not a port
      r.icmp_type = uint8_t(e.dport);
      r.source.port = r.destination.port = 0;
    }
    r.traffic_direction = e.direction == runtime::kDirIngress ? "INGRESS" : "EGRESS";
    r.node_name = options_.node_name;
    std::vector<uint32_t> rules;
    if (e.rule_id != runtime::kNoRule) rules.push_back(e.rule_id);
    // A default-deny drop has no rule: name the policies whose default it is.
    if (e.rule_id == runtime::kNoRule && e.reason == runtime::kReasonPolicyDenied) {
      auto obj = gen.ifindex_objects.find(e.ifindex);
      if (obj != gen.ifindex_objects.end())
        for (uint32_t id : gen.enforcing[e.direction == runtime::kDirIngress ? 0 : 1][obj->second]) rules.push_back(id);
    }
    r.policies = index.policies_of(rules);
    log_->write(r);
  }
}

void Agent::pin_maps(const Generation& gen) {
  const std::string& dir = options_.pin_dir;
  if (dir.empty()) return;
  if (pins_.empty()) {  // first time: make sure the directory is on a bpffs
    auto is_bpffs = [](const std::string& d) {
      struct statfs st{};
      return ::statfs(d.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == kBpfFsMagic;
    };
    std::string parent = dir.substr(0, dir.find_last_of('/'));
    if (parent.empty()) parent = "/";
    struct stat st{};
    // A missing directory under an unmounted /sys/fs/bpf (sysfs refuses
    // mkdir): mount bpffs on the parent first, as Cilium does.
    if (::stat(dir.c_str(), &st) != 0 && !is_bpffs(parent) && parent.rfind("/sys/fs/bpf", 0) == 0) {
      if (::mount("bpffs", parent.c_str(), "bpf", 0, nullptr) != 0)
        throw std::runtime_error("mounting bpffs on " + parent + ": " + std::strerror(errno));
      mounted_at_ = parent;
    }
    if (::mkdir(dir.c_str(), 0700) == 0) {
      created_pin_dir_ = true;
    } else if (errno != EEXIST) {
      throw std::runtime_error("creating " + dir + ": " + std::strerror(errno));
    }
    if (!is_bpffs(dir)) {
      if (::mount("bpffs", dir.c_str(), "bpf", 0, nullptr) != 0)
        throw std::runtime_error("mounting bpffs on " + dir + ": " + std::strerror(errno));
      mounted_at_ = dir;
    }
  }
  pins_ = {dir + "/" + runtime::kIpcacheMap, dir + "/" + runtime::kEventsMap};
  pin_fd(gen.bundle.ipcache_fd(), pins_[0]);
  pin_fd(gen.bundle.events_fd(), pins_[1]);
}

void Agent::unpin() {
  for (const auto& p : pins_) ::unlink(p.c_str());
  pins_.clear();
  const std::string& dir = options_.pin_dir;
  if (mounted_at_ == dir && ::umount(dir.c_str()) == 0) mounted_at_.clear();
  if (created_pin_dir_ && ::rmdir(dir.c_str()) == 0) created_pin_dir_ = false;
  // A bpffs this agent mounted on the parent goes too (fails while others pin there: EBUSY is fine).
  if (!mounted_at_.empty() && ::umount(mounted_at_.c_str()) == 0) mounted_at_.clear();
}

}  // namespace cnpc::agent
