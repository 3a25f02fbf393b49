// Shared by the runtime's sources: RAII for fds and libbpf objects, and the
// capture of libbpf's messages (the verifier log) for exceptions.
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace cnpc::runtime::detail {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};
using ObjectPtr = std::unique_ptr<bpf_object, ObjectCloser>;

struct RingBufferFree {
  void operator()(ring_buffer* r) const { ring_buffer__free(r); }
};
using RingBufferPtr = std::unique_ptr<ring_buffer, RingBufferFree>;

// While alive, libbpf's warnings and infos on this thread (not debug
// output) are collected instead of printed to stderr.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::string* previous_;
};

// Installs the print callback once per process (libbpf's is global).
void init_libbpf();

std::string errno_text(int err);  // "Operation not permitted (errno 1)"

// Opens (`open` returns a bpf_object* or nullptr with errno set), runs
// `prepare` (map reuse, checks), loads; throws std::runtime_error with
// libbpf's messages and the verifier log. `label` names the object in errors.
template <class Open, class Prepare>
ObjectPtr load_object(const std::string& label, Open&& open, Prepare&& prepare, uint64_t* load_ns);

struct ProgInsns {
  uint32_t xlated = 0, verified = 0;
};
ProgInsns prog_insns(int prog_fd);

inline uint64_t now_ns() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

[[noreturn]] void throw_load_error(const std::string& what, const LogCapture& log);

template <class Open, class Prepare>
ObjectPtr load_object(const std::string& label, Open&& open, Prepare&& prepare, uint64_t* load_ns) {
  init_libbpf();
  LogCapture log;
  uint64_t start = now_ns();
  ObjectPtr obj(open());
  if (!obj) throw_load_error(label + ": cannot open BPF object: " + errno_text(errno), log);
  prepare(obj.get());
  if (int err = bpf_object__load(obj.get()); err != 0)
    throw_load_error(label + ": load failed: " + errno_text(-err), log);
  if (load_ns) *load_ns = now_ns() - start;
  return obj;
}

}  // namespace cnpc::runtime::detail
