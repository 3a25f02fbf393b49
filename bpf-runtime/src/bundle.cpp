// LoadedBundle: a cnpc-bundle/1 directory (docs/bundle-format.md) in the kernel.
#include <fcntl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "cnpc/runtime/runtime.h"
#include "internal.h"

namespace cnpc::runtime {
namespace {

using json = nlohmann::json;
using detail::errno_text;
using detail::Fd;

constexpr const char* kFormat = "cnpc-bundle/1";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(p.string() + ": cannot read");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

json parse_json(const std::string& dir, const std::string& name, const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw std::runtime_error("bundle " + dir + ": " + name + ": " + e.what());
  }
}

// A manifest path must stay inside the bundle.
bool safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : std::filesystem::path(p))
    if (part == ".." || part == ".") return false;
  return true;
}

std::string maps_file_of(const std::string& object) {
  const std::string suffix = ".bpf.o";
  if (object.size() > suffix.size() && object.ends_with(suffix))
    return object.substr(0, object.size() - suffix.size()) + ".maps.json";
  return object + ".maps.json";
}

// Little-endian (host) integer of `size` bytes.
void put_int(uint8_t* out, size_t size, uint64_t v, const std::string& what) {
  if (size < 8 && v >> (8 * size)) throw std::runtime_error(what + ": " + std::to_string(v) + " does not fit");
  for (size_t i = 0; i < size && i < 8; i++) out[i] = uint8_t(v >> (8 * i));
}

}  // namespace

struct LoadedBundle::Impl {
  // Declaration order is teardown order reversed: the ring buffer goes
  // first, then the objects, then the shared maps.
  Fd ipcache, events, ct, steer, proxy_ports;  // the maps every object shares
  std::vector<detail::ObjectPtr> objects;
  std::vector<ProgramInfo> programs;
  std::map<uint32_t, size_t> by_class;
  std::map<std::string, size_t> by_endpoint;
  std::vector<Event> pending;
  detail::RingBufferPtr ring;
};

LoadedBundle::LoadedBundle(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoadedBundle::LoadedBundle(LoadedBundle&&) noexcept = default;
LoadedBundle& LoadedBundle::operator=(LoadedBundle&&) noexcept = default;
LoadedBundle::~LoadedBundle() = default;

// A function-try-block: a JSON file of the wrong shape (nlohmann's
// type_error, out_of_range) becomes the documented std::runtime_error.
LoadedBundle LoadedBundle::load(const std::string& dir, int reuse_ct_fd) try {
  namespace fs = std::filesystem;
  detail::init_libbpf();
  auto fail = [&](const std::string& msg) -> std::runtime_error {
    return std::runtime_error("bundle " + dir + ": " + msg);
  };

  // 1. The manifest: every file is read once, hashed, and used from memory
  // (objects are opened from these bytes, so what was checked is what loads).
  json manifest = parse_json(dir, "manifest.json", read_file(fs::path(dir) / "manifest.json"));
  if (!manifest.is_object() || manifest.value("format", "") != kFormat)
    throw fail("manifest.json: format is not " + std::string(kFormat));
  std::map<std::string, std::string> files;
  for (const auto& f : manifest.value("files", json::array())) {
    std::string path = f.value("path", ""), want = f.value("sha256", "");
    if (!safe_relative(path)) throw fail("manifest.json: bad file path '" + path + "'");
    std::string bytes = read_file(fs::path(dir) / path);
    std::string got = sha256_hex(bytes);
    if (got != want) throw fail(path + ": sha256 " + got + " does not match the manifest's " + want);
    files[path] = std::move(bytes);
  }
  auto listed = [&](const std::string& name) -> const std::string& {
    auto it = files.find(name);
    if (it == files.end()) throw fail(name + " is not listed in manifest.json");
    return it->second;
  };

  json metadata = parse_json(dir, "metadata.json", listed("metadata.json"));
  json ipcache_json = parse_json(dir, "ipcache.json", listed("ipcache.json"));

  auto impl = std::make_unique<Impl>();

  // 2. The shared maps, created once as cnpc.h defines them.
  bpf_map_create_opts lpm_opts{};
  lpm_opts.sz = sizeof(lpm_opts);
  lpm_opts.map_flags = BPF_F_NO_PREALLOC;  // LPM tries require it
  impl->ipcache = Fd(bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, kIpcacheMap, sizeof(IpcacheKey),
                                    sizeof(IpcacheValue), kIpcacheMaxEntries, &lpm_opts));
  if (impl->ipcache.get() < 0) throw fail("cannot create cnpc_ipcache: " + errno_text(errno));
  impl->events = Fd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, kEventsMap, 0, 0, kEventsRingBytes, nullptr));
  if (impl->events.get() < 0) throw fail("cannot create cnpc_events: " + errno_text(errno));
  // Connection tracking outlives a reload: its keys are addresses, not classes.
  impl->ct = Fd(reuse_ct_fd >= 0 ? ::fcntl(reuse_ct_fd, F_DUPFD_CLOEXEC, 0)
                                 : bpf_map_create(BPF_MAP_TYPE_LRU_HASH, kCtMap, kCtKeyBytes, kCtValueBytes,
                                                  kCtMaxEntries, nullptr));
  if (impl->ct.get() < 0) throw fail("cannot create cnpc_ct: " + errno_text(errno));
  impl->steer = Fd(bpf_map_create(BPF_MAP_TYPE_HASH, kSteerMap, sizeof(SteerKey), sizeof(uint32_t),
                                  kSteerMaxEntries, nullptr));
  if (impl->steer.get() < 0) throw fail("cannot create cnpc_steer: " + errno_text(errno));
  impl->proxy_ports = Fd(bpf_map_create(BPF_MAP_TYPE_ARRAY, kProxyPortsMap, sizeof(uint32_t), sizeof(uint32_t),
                                        kProxyPortsEntries, nullptr));
  if (impl->proxy_ports.get() < 0) throw fail("cannot create cnpc_proxy_ports: " + errno_text(errno));

  // 3. Every object, reusing the shared maps.
  for (const auto& p : metadata.value("programs", json::array())) {
    ProgramInfo info;
    info.object = p.value("object", "");
    for (const auto& c : p.value("classes", json::array())) info.classes.push_back(c.get<uint32_t>());
    const std::string& bytes = listed(info.object);
    std::string name = info.object.substr(0, info.object.find('.'));

    auto open = [&] {
      bpf_object_open_opts opts{};
      opts.sz = sizeof(opts);
      opts.object_name = name.c_str();
      return bpf_object__open_mem(bytes.data(), bytes.size(), &opts);
    };
    auto share = [&](bpf_object* obj) {
      // Refuse an object built against another cnpc.h: reuse_fd would
      // silently swap its map for ours.
      struct Shared {
        const char* name;
        int fd;
        bpf_map_type type;
        uint32_t key, value, max;
      } shared[] = {
          {kIpcacheMap, impl->ipcache.get(), BPF_MAP_TYPE_LPM_TRIE, sizeof(IpcacheKey),
           sizeof(IpcacheValue), kIpcacheMaxEntries},
          {kEventsMap, impl->events.get(), BPF_MAP_TYPE_RINGBUF, 0, 0, kEventsRingBytes},
          {kCtMap, impl->ct.get(), BPF_MAP_TYPE_LRU_HASH, kCtKeyBytes, kCtValueBytes, kCtMaxEntries},
          {kSteerMap, impl->steer.get(), BPF_MAP_TYPE_HASH, sizeof(SteerKey), sizeof(uint32_t), kSteerMaxEntries},
          {kProxyPortsMap, impl->proxy_ports.get(), BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), sizeof(uint32_t),
           kProxyPortsEntries},
      };
      for (const auto& s : shared) {
        bpf_map* m = bpf_object__find_map_by_name(obj, s.name);
        if (!m) continue;  // a program that never looks up or emits
        if (bpf_map__type(m) != s.type || bpf_map__key_size(m) != s.key ||
            bpf_map__value_size(m) != s.value || bpf_map__max_entries(m) != s.max)
          throw fail(info.object + ": map " + s.name + " differs from cnpc.h's definition");
        if (int err = bpf_map__reuse_fd(m, s.fd); err != 0)
          throw fail(info.object + ": reusing " + s.name + ": " + errno_text(-err));
      }
    };
    impl->objects.push_back(detail::load_object("bundle " + dir + ": " + info.object, open, share, &info.load_ns));
    bpf_object* obj = impl->objects.back().get();

    for (auto [prog_name, fd, insns, verified] :
         {std::tuple{"cnpc_ingress", &info.ingress_fd, &info.ingress_insns, &info.ingress_verified_insns},
          std::tuple{"cnpc_egress", &info.egress_fd, &info.egress_insns, &info.egress_verified_insns}}) {
      bpf_program* prog = bpf_object__find_program_by_name(obj, prog_name);
      if (!prog) throw fail(info.object + ": no program " + prog_name);
      *fd = bpf_program__fd(prog);
      auto counts = detail::prog_insns(*fd);
      *insns = counts.xlated;
      *verified = counts.verified;
    }

    // Table maps: {"map": [{"key": K, "value": V | [u64 words]}]}, in the
    // file programs[].maps names (null: none), else prog-<hash>.maps.json.
    std::string maps_name = maps_file_of(info.object);
    bool has_maps = files.contains(maps_name);
    if (p.contains("maps")) {
      has_maps = !p["maps"].is_null();
      if (has_maps) {
        maps_name = p["maps"].get<std::string>();
        listed(maps_name);
      }
    }
    if (has_maps) {
      json tables = parse_json(dir, maps_name, files[maps_name]);
      for (const auto& [map_name, entries] : tables.items()) {
        bpf_map* m = bpf_object__find_map_by_name(obj, map_name.c_str());
        if (!m || map_name == kIpcacheMap || map_name == kEventsMap || map_name == kCtMap ||
            map_name == kSteerMap || map_name == kProxyPortsMap)
          throw fail(maps_name + ": " + info.object + " has no table map " + map_name);
        // Integer keys, one value per key: what the format describes (a
        // per-CPU map would read ncpus values from our one-value buffer).
        if (bpf_map__type(m) != BPF_MAP_TYPE_ARRAY && bpf_map__type(m) != BPF_MAP_TYPE_HASH)
          throw fail(maps_name + ": " + map_name + " is not an array or hash map");
        size_t key_size = bpf_map__key_size(m), value_size = bpf_map__value_size(m);
        std::vector<uint8_t> key(key_size), value(value_size);
        for (const auto& e : entries) {
          std::string what = maps_name + ": " + map_name;
          std::fill(key.begin(), key.end(), 0);
          std::fill(value.begin(), value.end(), 0);
          put_int(key.data(), key_size, e.at("key").get<uint64_t>(), what + " key");
          const json& v = e.at("value");
          if (v.is_array()) {
            if (v.size() * 8 > value_size)
              throw fail(what + ": " + std::to_string(v.size()) + " words exceed the value size " +
                         std::to_string(value_size));
            for (size_t i = 0; i < v.size(); i++) put_int(&value[8 * i], 8, v[i].get<uint64_t>(), what);
          } else {
            put_int(value.data(), value_size, v.get<uint64_t>(), what + " value");
          }
          if (bpf_map_update_elem(bpf_map__fd(m), key.data(), value.data(), BPF_ANY) != 0)
            throw fail(what + ": update: " + errno_text(errno));
        }
      }
    } else if (!p.contains("maps") && fs::exists(fs::path(dir) / maps_name)) {
      throw fail(maps_name + " is not listed in manifest.json");
    }

    size_t index = impl->programs.size();
    for (uint32_t c : info.classes)
      if (!impl->by_class.emplace(c, index).second)
        throw fail("metadata.json: class " + std::to_string(c) + " is in two programs");
    impl->programs.push_back(std::move(info));
  }

  for (const auto& e : metadata.value("endpoints", json::array())) {
    if (!e.contains("program") || e["program"].is_null()) continue;  // no program of its own
    std::string object = e["program"].get<std::string>();
    size_t i = 0;
    while (i < impl->programs.size() && impl->programs[i].object != object) i++;
    if (i == impl->programs.size())
      throw fail("metadata.json: endpoint " + e.value("name", "") + " names unknown program " + object);
    impl->by_endpoint[e.value("name", "")] = i;
  }

  LoadedBundle bundle(std::move(impl));
  for (const auto& e : ipcache_json) {
    try {
      bundle.ipcache_update(e.at("prefix").get<std::string>(), e.at("class").get<uint32_t>());
    } catch (const std::exception& ex) {
      throw fail(std::string("ipcache.json: ") + ex.what());
    }
  }

  auto on_event = [](void* ctx, void* data, size_t size) -> int {
    Event ev{};
    std::memcpy(&ev, data, std::min(size, sizeof(ev)));
    static_cast<std::vector<Event>*>(ctx)->push_back(ev);
    return 0;
  };
  bundle.impl_->ring.reset(ring_buffer__new(bundle.impl_->events.get(), on_event, &bundle.impl_->pending, nullptr));
  if (!bundle.impl_->ring) throw fail("ring_buffer__new: " + errno_text(errno));
  return bundle;
} catch (const json::exception& e) {
  throw std::runtime_error("bundle " + dir + ": " + e.what());
}

const std::vector<ProgramInfo>& LoadedBundle::programs() const { return impl_->programs; }

const ProgramInfo& LoadedBundle::program_for_class(uint32_t class_id) const {
  auto it = impl_->by_class.find(class_id);
  if (it == impl_->by_class.end()) throw std::out_of_range("no program for class " + std::to_string(class_id));
  return impl_->programs[it->second];
}

const ProgramInfo* LoadedBundle::program_for_endpoint(const std::string& name) const {
  auto it = impl_->by_endpoint.find(name);
  return it == impl_->by_endpoint.end() ? nullptr : &impl_->programs[it->second];
}

void LoadedBundle::ipcache_update(const std::string& prefix, uint32_t class_id) {
  IpcacheKey key = ipcache_key(prefix);
  IpcacheValue value{class_id};
  if (bpf_map_update_elem(impl_->ipcache.get(), &key, &value, BPF_ANY) != 0)
    throw std::runtime_error("ipcache update " + prefix + ": " + errno_text(errno));
}

void LoadedBundle::ipcache_delete(const std::string& prefix) {
  IpcacheKey key = ipcache_key(prefix);
  if (bpf_map_delete_elem(impl_->ipcache.get(), &key) != 0 && errno != ENOENT)
    throw std::runtime_error("ipcache delete " + prefix + ": " + errno_text(errno));
}

int LoadedBundle::events_fd() const { return impl_->events.get(); }
int LoadedBundle::ipcache_fd() const { return impl_->ipcache.get(); }
int LoadedBundle::ct_fd() const { return impl_->ct.get(); }

void LoadedBundle::steer_update(const SteerKey& key, uint32_t kind) {
  if (bpf_map_update_elem(impl_->steer.get(), &key, &kind, BPF_ANY) != 0)
    throw std::runtime_error("cnpc_steer update: " + errno_text(errno));
}

void LoadedBundle::set_proxy_port(uint32_t kind, uint16_t port) {
  uint32_t value = port;
  if (bpf_map_update_elem(impl_->proxy_ports.get(), &kind, &value, BPF_ANY) != 0)
    throw std::runtime_error("cnpc_proxy_ports update: " + errno_text(errno));
}

std::vector<Event> LoadedBundle::drain_events() {
  if (int n = ring_buffer__consume(impl_->ring.get()); n < 0)
    throw std::runtime_error("ring buffer: " + errno_text(-n));
  return std::exchange(impl_->pending, {});
}

}  // namespace cnpc::runtime
