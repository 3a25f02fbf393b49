// libbpf plumbing, bpf_available(), test_run() and LoadedObject.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "cnpc/runtime/runtime.h"
#include "internal.h"

namespace cnpc::runtime {
namespace detail {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

namespace {

thread_local std::string* t_capture = nullptr;

// Bounds one message: a failed 1M-instruction verification logs megabytes,
// and what matters is its start (the program) and its end (the error).
void append_bounded(std::string& out, std::string msg) {
  constexpr size_t kHead = 8 << 10, kTail = 56 << 10;
  if (msg.size() > kHead + kTail)
    msg = msg.substr(0, kHead) + "\n[… " + std::to_string(msg.size() - kHead - kTail) +
          " bytes of log cut …]\n" + msg.substr(msg.size() - kTail);
  out += msg;
  if (out.size() > 4 * (kHead + kTail)) out.erase(0, out.size() - 4 * (kHead + kTail));
}

int print_fn(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  if (!t_capture) return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  if (n <= 0) return n;
  std::string msg(size_t(n) + 1, '\0');
  vsnprintf(msg.data(), msg.size(), fmt, args);
  msg.resize(size_t(n));
  append_bounded(*t_capture, std::move(msg));
  return n;
}

}  // namespace

LogCapture::LogCapture() : previous_(t_capture) { t_capture = &text_; }
LogCapture::~LogCapture() { t_capture = previous_; }

void init_libbpf() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(print_fn); });
}

std::string errno_text(int err) {
  return std::string(strerror(err)) + " (errno " + std::to_string(err) + ")";
}

void throw_load_error(const std::string& what, const LogCapture& log) {
  std::string msg = what;
  if (!log.text().empty()) msg += "\n" + log.text();
  throw std::runtime_error(msg);
}

ProgInsns prog_insns(int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    throw std::runtime_error("bpf_obj_get_info_by_fd: " + errno_text(errno));
  return {info.xlated_prog_len / uint32_t(sizeof(bpf_insn)), info.verified_insns};
}

}  // namespace detail

using detail::errno_text;

bool bpf_available(std::string* why) {
  static std::once_flag once;
  static bool ok = false;
  static std::string reason;
  std::call_once(once, [] {
    detail::init_libbpf();
    detail::LogCapture log;  // keep probe failures off stderr
    // r0 = TC_ACT_OK; exit
    bpf_insn insns[2]{};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
    insns[1].code = BPF_JMP | BPF_EXIT;
    int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "cnpc_probe", "GPL", insns, 2, nullptr);
    if (fd < 0) {
      int err = errno;
      reason = "cannot load a BPF program: " + errno_text(err);
      if (err == EPERM || err == EACCES)
        reason += geteuid() != 0 ? "; run as root (or with CAP_BPF and CAP_NET_ADMIN)"
                                 : "; bpf() is denied (seccomp, lockdown or a container profile?)";
      else if (err == ENOSYS)
        reason += "; the kernel has no bpf() syscall";
      return;
    }
    detail::Fd prog(fd);
    try {
      test_run(prog.get(), std::vector<uint8_t>(64, 0));
      ok = true;
    } catch (const std::exception& e) {
      reason = std::string("BPF_PROG_TEST_RUN failed: ") + e.what();
    }
  });
  if (why) *why = reason;
  return ok;
}

RunResult test_run(int prog_fd, const std::vector<uint8_t>& packet, uint32_t repeat) {
  __sk_buff ctx{};
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = packet.data();
  opts.data_size_in = uint32_t(packet.size());
  opts.ctx_out = &ctx;
  opts.ctx_size_out = sizeof(ctx);
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(prog_fd, &opts) != 0)
    throw std::runtime_error("BPF_PROG_TEST_RUN (" + std::to_string(packet.size()) +
                             "-byte packet): " + errno_text(errno));
  RunResult r;
  r.retval = int(opts.retval);
  r.mark = ctx.mark;
  r.verdict = mark_verdict(ctx.mark);
  r.reason = mark_reason(ctx.mark);
  r.duration_ns = opts.duration;
  return r;
}

// ---- LoadedObject

struct LoadedObject::Impl {
  detail::ObjectPtr obj;
  uint64_t load_ns = 0;

  bpf_program* prog(const std::string& name) const {
    bpf_program* p = bpf_object__find_program_by_name(obj.get(), name.c_str());
    if (!p) throw std::out_of_range("no BPF program '" + name + "' in " + bpf_object__name(obj.get()));
    return p;
  }
  bpf_map* map(const std::string& name) const {
    bpf_map* m = bpf_object__find_map_by_name(obj.get(), name.c_str());
    if (!m) throw std::out_of_range("no BPF map '" + name + "' in " + bpf_object__name(obj.get()));
    return m;
  }
};

LoadedObject::LoadedObject(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LoadedObject::LoadedObject(LoadedObject&&) noexcept = default;
LoadedObject& LoadedObject::operator=(LoadedObject&&) noexcept = default;
LoadedObject::~LoadedObject() = default;

LoadedObject LoadedObject::load(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->obj = detail::load_object(
      path, [&] { return bpf_object__open_file(path.c_str(), nullptr); }, [](bpf_object*) {},
      &impl->load_ns);
  return LoadedObject(std::move(impl));
}

int LoadedObject::program_fd(const std::string& name) const { return bpf_program__fd(impl_->prog(name)); }
int LoadedObject::map_fd(const std::string& name) const { return bpf_map__fd(impl_->map(name)); }
uint32_t LoadedObject::verified_insns(const std::string& prog) const {
  return detail::prog_insns(program_fd(prog)).verified;
}
uint32_t LoadedObject::xlated_insns(const std::string& prog) const {
  return detail::prog_insns(program_fd(prog)).xlated;
}
uint64_t LoadedObject::load_ns() const { return impl_->load_ns; }

void LoadedObject::map_update(const std::string& map, const void* key, const void* value) {
  if (bpf_map_update_elem(map_fd(map), key, value, BPF_ANY) != 0)
    throw std::runtime_error("update of map " + map + ": " + errno_text(errno));
}

bool LoadedObject::map_lookup(const std::string& map, const void* key, void* value) const {
  if (bpf_map_lookup_elem(map_fd(map), key, value) == 0) return true;
  if (errno == ENOENT) return false;
  throw std::runtime_error("lookup in map " + map + ": " + errno_text(errno));
}

void LoadedObject::map_delete(const std::string& map, const void* key) {
  if (bpf_map_delete_elem(map_fd(map), key) != 0 && errno != ENOENT)
    throw std::runtime_error("delete from map " + map + ": " + errno_text(errno));
}

}  // namespace cnpc::runtime
