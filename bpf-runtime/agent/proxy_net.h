// Socket plumbing shared by the HTTP and DNS proxies (private to
// cnpc_proxy): owned descriptors, a stop signal every poller watches, and
// SocketAddr <-> sockaddr conversion.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <list>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "proxy.h"

namespace cnpc::agent::proxy_detail {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

inline std::runtime_error sys_error(const std::string& what) {
  std::string text = what;
  text += ": ";
  text += std::strerror(errno);
  return std::runtime_error(text);
}

// An eventfd that, once raised, stays readable: every poller that includes
// it wakes up, now and in any later poll, which is what shutdown needs.
class StopSignal {
 public:
  StopSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!fd_) throw sys_error("eventfd");
  }
  void raise() {
    uint64_t one = 1;
    (void)!::write(fd_.get(), &one, sizeof(one));
  }
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

struct RawAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

inline RawAddr to_raw(const SocketAddr& addr) {
  RawAddr raw;
  if (addr.ip.find(':') != std::string::npos) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&raw.storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(addr.port);
    if (inet_pton(AF_INET6, addr.ip.c_str(), &sin6->sin6_addr) != 1)
      throw std::runtime_error("bad IPv6 address: " + addr.ip);
    raw.len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&raw.storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(addr.port);
    if (inet_pton(AF_INET, addr.ip.c_str(), &sin->sin_addr) != 1)
      throw std::runtime_error("bad IPv4 address: " + addr.ip);
    raw.len = sizeof(sockaddr_in);
  }
  return raw;
}

inline SocketAddr from_raw(const sockaddr* sa) {
  SocketAddr out;
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    out.port = ntohs(sin6->sin6_port);
  } else if (sa->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    out.port = ntohs(sin->sin_port);
  }
  out.ip = text;
  return out;
}

inline std::string host_port(const SocketAddr& addr) {
  std::string out;
  if (addr.ip.find(':') != std::string::npos) {
    out += '[';
    out += addr.ip;
    out += ']';
  } else {
    out += addr.ip;
  }
  out += ':';
  out += std::to_string(addr.port);
  return out;
}

inline std::optional<SocketAddr> local_addr(int fd) {
  RawAddr raw;
  raw.len = sizeof(raw.storage);
  if (::getsockname(fd, raw.get(), &raw.len) != 0) return std::nullopt;
  return from_raw(raw.get());
}

inline std::optional<SocketAddr> peer_addr(int fd) {
  RawAddr raw;
  raw.len = sizeof(raw.storage);
  if (::getpeername(fd, raw.get(), &raw.len) != 0) return std::nullopt;
  return from_raw(raw.get());
}

// A bound socket for the proxy's listener. IP_TRANSPARENT lets it accept
// flows the datapath assigned to it whose destination is not local.
inline UniqueFd bind_listener(const ProxyOptions& options, int type) {
  RawAddr addr = to_raw(SocketAddr{options.bind_ip, options.port});
  UniqueFd fd(::socket(addr.family(), type | SOCK_CLOEXEC, 0));
  if (!fd) throw sys_error("proxy socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.transparent) {
    int level = addr.family() == AF_INET6 ? SOL_IPV6 : SOL_IP;
    int option = addr.family() == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT;
    if (::setsockopt(fd.get(), level, option, &one, sizeof(one)) != 0)
      throw sys_error("IP_TRANSPARENT (needs CAP_NET_ADMIN)");
  }
  if (::bind(fd.get(), addr.get(), addr.len) != 0)
    throw sys_error("bind " + host_port(SocketAddr{options.bind_ip, options.port}));
  return fd;
}

inline bool set_mark(int fd, uint32_t mark) {
  return ::setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0;
}

inline void set_nodelay(int fd) {
  int one = 1;  // requests and answers are small writes: no Nagle delay
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// close() then sends RST: how a refused client learns it was refused.
inline void reset_on_close(int fd) {
  linger hard{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
}

// The flow of an accepted TCP connection. Transparent: the accepted
// socket's local address is the destination the pod addressed; otherwise
// every flow is headed for the configured upstream.
inline std::optional<ProxiedFlow> accepted_flow(int fd, const ProxyOptions& options) {
  auto peer = peer_addr(fd);
  auto local = local_addr(fd);
  if (!peer || !local) return std::nullopt;
  ProxiedFlow flow;
  flow.client = *peer;
  flow.server = options.transparent ? *local : *options.upstream;
  flow.ip_proto = IPPROTO_TCP;
  return flow;
}

// A non-blocking TCP connection to `target` carrying `mark` (the datapath
// tells the proxy's own traffic by it; setting it needs CAP_NET_ADMIN, so
// only when there is one to set or in transparent mode). Waits up to
// timeout_ms for the handshake; an invalid fd on failure or stop.
inline UniqueFd connect_marked(const SocketAddr& target, uint32_t mark, bool transparent, int timeout_ms,
                               int stop_fd) {
  RawAddr addr;
  try {
    addr = to_raw(target);
  } catch (const std::exception&) {
    return {};
  }
  UniqueFd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return {};
  if ((transparent || mark != 0) && !set_mark(fd.get(), mark)) return {};
  if (::connect(fd.get(), addr.get(), addr.len) != 0) {
    if (errno != EINPROGRESS) return {};
    pollfd fds[2] = {{fd.get(), POLLOUT, 0}, {stop_fd, POLLIN, 0}};
    if (::poll(fds, 2, timeout_ms) <= 0 || fds[1].revents) return {};
    int error = 0;
    socklen_t len = sizeof(error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) return {};
  }
  set_nodelay(fd.get());
  return fd;
}

// A thread per accepted connection. Finished threads are joined at the next
// start() (or reap()), so they never pile up beyond the live ones. Used by
// one thread (the acceptor), then join_all() once it has stopped.
class ConnectionThreads {
 public:
  // Runs serve on a new thread that owns the connection. False — the
  // client is closed — when `cap` connections are live or no thread can be
  // started.
  bool start(UniqueFd client, std::function<void(UniqueFd)> serve, size_t cap = SIZE_MAX) {
    reap();
    if (live_.size() >= cap) return false;
    Worker& worker = live_.emplace_back();
    try {
      worker.thread = std::thread([&worker, fd = client.get(), serve = std::move(serve)] {
        serve(UniqueFd(fd));
        worker.done.store(true, std::memory_order_release);
      });
      (void)client.release();  // the thread owns it now
      return true;
    } catch (const std::system_error&) {
      live_.pop_back();
      return false;
    }
  }

  void reap() {
    for (auto it = live_.begin(); it != live_.end();) {
      if (it->done.load(std::memory_order_acquire)) {
        it->thread.join();
        it = live_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // After the stop signal: every connection thread watches it.
  void join_all() {
    for (Worker& worker : live_) worker.thread.join();
    live_.clear();
  }

 private:
  struct Worker {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::list<Worker> live_;
};

}  // namespace cnpc::agent::proxy_detail
