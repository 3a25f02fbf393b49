// The HTTP/1.1 proxy. One thread per client connection polls the client, its
// upstream connection (opened at the first allowed request, then reused) and
// the proxy's stop signal. Both directions are parsed with http-parser:
// every request takes a slot in a FIFO at its end of headers (the judge
// decides there), and the client is only ever sent the head slot's
// response, so a 403 or 503 pipelined behind forwarded requests waits until
// their responses were relayed in full.
#include <fcntl.h>
#include <http_parser.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <list>
#include <string_view>
#include <system_error>
#include <thread>

#include "proxy.h"
#include "proxy_net.h"

namespace cnpc::agent {
namespace {

using namespace proxy_detail;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kClientIdleTimeout{60};
constexpr std::chrono::seconds kLingerTimeout{2};
// Stop reading a side while the buffer towards the other side is this full.
constexpr size_t kHighWater = 1 << 20;
// Exchanges in flight on one connection before the client stops being read.
constexpr size_t kMaxPipelined = 128;
constexpr size_t kReadChunk = 64 * 1024;

constexpr std::string_view kForbidden =
    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nAccess denied";

// A response the proxy makes itself. It always closes the connection except
// for 503: later pipelined requests may still get through.
std::string canned_response(int status, std::string_view reason, bool close) {
  std::string out = "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason;
  out += "\r\nContent-Type: text/plain\r\nContent-Length: ";
  out += std::to_string(reason.size());
  out += "\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += reason;
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

class Connection {
 public:
  Connection(const ProxyOptions& options, HttpJudge& judge, int stop_fd, UniqueFd client)
      : options_(options), judge_(judge), stop_fd_(stop_fd), client_(std::move(client)) {}

  void run() {
    auto flow = accepted_flow(client_.get(), options_);
    if (!flow) return;
    flow_ = *flow;
    auto mark = judge_.admit(flow_);
    if (!mark) {
      reset_client();
      return;
    }
    mark_ = *mark;
    set_nodelay(client_.get());
    http_parser_init(&request_parser_, HTTP_REQUEST);
    request_parser_.data = this;
    last_client_activity_ = Clock::now();
    if (serve()) close_client_gracefully();
  }

 private:
  struct Slot {
    HttpExchange exchange;
    bool forwarded = false;  // else `canned` is the whole response
    std::string canned;
    bool record = true;
    bool close_after = false;  // close the client once this response is out
    bool response_started = false;
    bool head_request = false;
    bool connect_request = false;
    Clock::time_point request_done;
  };
  enum class Disposition { Pending, Forward, Discard };

  // ---- the loop ---------------------------------------------------------

  // Returns whether the client should be closed gracefully (false: stopped
  // or broken, close at once).
  bool serve() {
    while (true) {
      if (!client_in_.empty() && !tunnel_) feed_client();
      emit_ready_slots();
      if (fatal_) return false;
      if (finished()) return true;

      pollfd fds[3] = {{stop_fd_, POLLIN, 0}, {client_.get(), 0, 0}, {upstream_.get(), 0, 0}};
      if (want_client_read()) fds[1].events |= POLLIN;
      if (!client_out_.empty()) fds[1].events |= POLLOUT;
      if (upstream_) {
        if (want_upstream_read()) fds[2].events |= POLLIN;
        if (!upstream_out_.empty()) fds[2].events |= POLLOUT;
      }
      int ready = ::poll(fds, upstream_ ? 3 : 2, poll_timeout_ms());
      if (ready < 0 && errno != EINTR) return false;
      if (fds[0].revents) return false;
      if (fds[1].revents & (POLLERR | POLLHUP)) return false;  // reset by the client
      if (upstream_ && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) read_upstream();
      if (fds[1].revents & POLLIN) read_client();
      if (fds[1].revents & POLLOUT) write_client();
      if (upstream_ && (fds[2].revents & POLLOUT)) write_upstream();
      check_timeouts();
    }
  }

  bool finished() const {
    if (tunnel_) return tunnel_closing_ && client_out_.empty() && upstream_out_.empty();
    return !reading_client_ && slots_.empty() && client_out_.empty();
  }

  bool want_client_read() const {
    if (tunnel_) return !tunnel_closing_ && upstream_out_.size() < kHighWater;
    return reading_client_ && !awaiting_upgrade_ && client_in_.size() < kHighWater &&
           upstream_out_.size() < kHighWater && slots_.size() < kMaxPipelined;
  }
  bool want_upstream_read() const {
    if (tunnel_) return !tunnel_closing_ && client_out_.size() < kHighWater;
    return client_out_.size() < kHighWater;
  }

  bool awaiting_upstream() const { return upstream_ && !slots_.empty() && slots_.front().forwarded; }

  int poll_timeout_ms() const {
    auto now = Clock::now();
    auto deadline = last_client_activity_ + kClientIdleTimeout;
    if (awaiting_upstream()) deadline = std::min(deadline, last_upstream_progress_ + options_.upstream_timeout);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    return static_cast<int>(std::clamp<long long>(left + 1, 0, 60'000));
  }

  void check_timeouts() {
    auto now = Clock::now();
    if (awaiting_upstream() && now - last_upstream_progress_ >= options_.upstream_timeout) {
      Slot& head = slots_.front();
      if (head.response_started) {
        close_after_flush();  // a response cut short cannot be repaired
      } else {
        make_canned(head, 504, canned_response(504, "Gateway Timeout", true));
        drop_upstream();
      }
    }
    if (tunnel_) return;
    if (slots_.empty() && client_out_.empty() && now - last_client_activity_ >= kClientIdleTimeout)
      reading_client_ = false;
  }

  // ---- client side ------------------------------------------------------

  void read_client() {
    char buf[kReadChunk];
    ssize_t n = ::read(client_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) fatal_ = true;
      return;
    }
    last_client_activity_ = Clock::now();
    if (n == 0) {
      client_eof_ = true;
      if (tunnel_) {
        tunnel_closing_ = true;
        return;
      }
      reading_client_ = false;
      if (in_request_) fatal_ = true;  // the client gave up mid-request
      return;
    }
    if (tunnel_) {
      upstream_out_.append(buf, static_cast<size_t>(n));
      return;
    }
    client_in_.append(buf, static_cast<size_t>(n));
    feed_client();
  }

  void feed_client() {
    size_t offset = 0;
    while (offset < client_in_.size() && reading_client_ && !awaiting_upgrade_ && !tunnel_ &&
           slots_.size() < kMaxPipelined) {
      size_t n = http_parser_execute(&request_parser_, &request_settings(), client_in_.data() + offset,
                                     client_in_.size() - offset);
      take_request_bytes(std::string_view(client_in_).substr(offset, n));
      offset += n;
      auto err = HTTP_PARSER_ERRNO(&request_parser_);
      if (err == HPE_PAUSED) {
        http_parser_pause(&request_parser_, 0);  // paused at a message's end
        continue;
      }
      if (err != HPE_OK) {
        reject_bad_request();
        break;
      }
      if (n == 0) break;
    }
    client_in_.erase(0, offset);
    if (tunnel_) {  // the upgrade was answered with 101 while these bytes waited
      upstream_out_ += client_in_;
      client_in_.clear();
    }
  }

  // The bytes the parser just consumed belong to the request being parsed:
  // held until its headers are judged, then forwarded or dropped.
  void take_request_bytes(std::string_view bytes) {
    switch (disposition_) {
      case Disposition::Pending:
        pending_request_bytes_ += bytes;
        break;
      case Disposition::Forward:
        upstream_out_ += pending_request_bytes_;
        upstream_out_ += bytes;
        pending_request_bytes_.clear();
        last_upstream_progress_ = Clock::now();
        break;
      case Disposition::Discard:
        pending_request_bytes_.clear();
        break;
    }
  }

  void reject_bad_request() {
    std::string response = canned_response(400, "Bad Request", true);
    if (current_ && in_request_) {
      if (current_ == &slots_.front() && current_->response_started) {
        fatal_ = true;
        return;
      }
      make_canned(*current_, 400, std::move(response));
    } else {
      Slot slot;
      slot.canned = std::move(response);
      slot.record = false;  // no request to speak of
      slot.close_after = true;
      slot.request_done = Clock::now();
      slots_.push_back(std::move(slot));
    }
    current_ = nullptr;
    disposition_ = Disposition::Discard;
    reading_client_ = false;
  }

  void write_client() {
    ssize_t n = ::send(client_.get(), client_out_.data(), client_out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) fatal_ = true;
      return;
    }
    client_out_.erase(0, static_cast<size_t>(n));
    client_bytes_written_ += static_cast<uint64_t>(n);
    last_client_activity_ = Clock::now();
    while (!unrecorded_.empty() && unrecorded_.front().first <= client_bytes_written_) {
      judge_.record(flow_, unrecorded_.front().second);
      unrecorded_.pop_front();
    }
  }

  void emit(std::string_view bytes) {
    client_out_ += bytes;
    client_bytes_queued_ += bytes.size();
  }

  // ---- request parser callbacks ----------------------------------------

  static Connection& self(http_parser* parser) { return *static_cast<Connection*>(parser->data); }

  static const http_parser_settings& request_settings() {
    static const http_parser_settings settings = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_message_begin = [](http_parser* p) { return self(p).on_request_begin(); };
      s.on_url = [](http_parser* p, const char* at, size_t len) {
        self(p).request_.path.append(at, len);
        return 0;
      };
      s.on_header_field = [](http_parser* p, const char* at, size_t len) {
        return self(p).on_header_field(at, len);
      };
      s.on_header_value = [](http_parser* p, const char* at, size_t len) {
        Connection& c = self(p);
        c.in_header_value_ = true;
        c.header_value_.append(at, len);
        return 0;
      };
      s.on_headers_complete = [](http_parser* p) { return self(p).on_request_headers(); };
      s.on_message_complete = [](http_parser* p) { return self(p).on_request_complete(); };
      return s;
    }();
    return settings;
  }

  int on_request_begin() {
    request_ = ir::HttpRequest{};
    header_name_.clear();
    header_value_.clear();
    in_header_value_ = false;
    disposition_ = Disposition::Pending;
    in_request_ = true;
    return 0;
  }

  void finish_header() {
    request_.headers.emplace_back(std::move(header_name_), std::move(header_value_));
    header_name_.clear();
    header_value_.clear();
    in_header_value_ = false;
  }

  int on_header_field(const char* at, size_t len) {
    if (in_header_value_) finish_header();  // a field after a value starts a new header
    header_name_.append(at, len);
    return 0;
  }

  int on_request_headers() {
    if (in_header_value_ || !header_name_.empty()) finish_header();
    request_.method = http_method_str(static_cast<http_method>(request_parser_.method));
    for (const auto& [name, value] : request_.headers)
      if (iequals(name, "host")) {
        request_.host = value;
        break;
      }
    Slot slot;
    slot.request_done = Clock::now();
    slot.exchange.request = request_;
    slot.exchange.url = exchange_url();
    slot.exchange.allowed = judge_.allow(flow_, request_);
    if (!slot.exchange.allowed) {
      make_canned(slot, 403, std::string(kForbidden));
      disposition_ = Disposition::Discard;
    } else if (!ensure_upstream()) {
      make_canned(slot, 503, canned_response(503, "Service Unavailable", false));
      disposition_ = Disposition::Discard;
    } else {
      slot.forwarded = true;
      slot.head_request = request_parser_.method == HTTP_HEAD;
      slot.connect_request = request_parser_.method == HTTP_CONNECT;
      disposition_ = Disposition::Forward;
    }
    slots_.push_back(std::move(slot));
    current_ = &slots_.back();
    return 0;
  }

  std::string exchange_url() const {
    const std::string& target = request_.path;
    if (target.starts_with("http://") || target.starts_with("https://")) return target;  // absolute-form
    std::string url = "http://";
    url += request_.host.empty() ? host_port(flow_.server) : request_.host;
    url += target;
    return url;
  }

  int on_request_complete() {
    in_request_ = false;
    bool keep_alive = http_should_keep_alive(&request_parser_) != 0;
    if (current_) {
      current_->request_done = Clock::now();
      if (!keep_alive) current_->close_after = true;
    }
    if (!keep_alive) reading_client_ = false;
    if (request_parser_.upgrade) {
      // What follows is another protocol if the upstream agrees (101, or 2xx
      // to CONNECT): hold the client's bytes until its answer.
      if (disposition_ == Disposition::Forward) {
        awaiting_upgrade_ = true;
      } else {
        if (current_) current_->close_after = true;
        reading_client_ = false;
      }
    }
    current_ = nullptr;
    // Stop so that http_parser_execute returns exactly at the message's end.
    http_parser_pause(&request_parser_, 1);
    return 0;
  }

  // ---- response ordering -------------------------------------------------

  void make_canned(Slot& slot, int status, std::string response) {
    slot.forwarded = false;
    slot.canned = std::move(response);
    slot.exchange.status = status;
    if (status != 403 && status != 503) slot.close_after = true;
    if (&slot == current_) disposition_ = Disposition::Discard;
  }

  void emit_ready_slots() {
    while (!slots_.empty() && !slots_.front().forwarded) {
      Slot& head = slots_.front();
      head.exchange.latency = std::max(Clock::duration::zero(), Clock::now() - head.request_done);
      emit(head.canned);
      complete_head();
    }
  }

  void complete_head() {
    Slot& head = slots_.front();
    if (head.record) unrecorded_.emplace_back(client_bytes_queued_, std::move(head.exchange));
    bool close = head.close_after;
    if (current_ == &head) current_ = nullptr;
    slots_.pop_front();
    if (close) close_after_flush();
  }

  // The client gets what is already queued for it, then the connection closes.
  void close_after_flush() {
    reading_client_ = false;
    slots_.clear();
    current_ = nullptr;
    disposition_ = Disposition::Discard;
    awaiting_upgrade_ = false;
    drop_upstream();
  }

  // ---- upstream side ----------------------------------------------------

  bool ensure_upstream() {
    if (upstream_) return true;
    UniqueFd fd = connect_marked(flow_.server, mark_, options_.transparent,
                                 static_cast<int>(options_.upstream_timeout.count()), stop_fd_);
    if (!fd) return false;
    upstream_ = std::move(fd);
    upstream_in_.clear();
    upstream_out_.clear();
    http_parser_init(&response_parser_, HTTP_RESPONSE);
    response_parser_.data = this;
    response_complete_ = false;
    last_upstream_progress_ = Clock::now();
    return true;
  }

  void drop_upstream() {
    upstream_.reset();
    upstream_in_.clear();
    upstream_out_.clear();
    if (tunnel_) tunnel_closing_ = true;
  }

  void write_upstream() {
    ssize_t n = ::send(upstream_.get(), upstream_out_.data(), upstream_out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) upstream_closed();
      return;
    }
    upstream_out_.erase(0, static_cast<size_t>(n));
    last_upstream_progress_ = Clock::now();
  }

  void read_upstream() {
    char buf[kReadChunk];
    ssize_t n = ::read(upstream_.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) upstream_closed();
      return;
    }
    if (n == 0) {
      if (tunnel_) {
        tunnel_closing_ = true;
        upstream_.reset();
        return;
      }
      // EOF ends a response whose body runs to the connection's close.
      if (!slots_.empty() && slots_.front().forwarded && slots_.front().response_started) {
        http_parser_execute(&response_parser_, &response_settings(), nullptr, 0);
        if (response_complete_) {
          response_complete_ = false;
          finish_response();
        }
      }
      upstream_closed();
      return;
    }
    last_upstream_progress_ = Clock::now();
    if (tunnel_) {
      emit(std::string_view(buf, static_cast<size_t>(n)));
      return;
    }
    upstream_in_.append(buf, static_cast<size_t>(n));
    feed_upstream();
  }

  void feed_upstream() {
    size_t offset = 0;
    while (offset < upstream_in_.size() && upstream_) {
      if (tunnel_) {
        emit(std::string_view(upstream_in_).substr(offset));
        offset = upstream_in_.size();
        break;
      }
      emit_ready_slots();
      if (slots_.empty() || !slots_.front().forwarded) {
        // Bytes nobody asked for: the upstream is broken.
        upstream_in_.clear();
        upstream_closed();
        return;
      }
      size_t n = http_parser_execute(&response_parser_, &response_settings(), upstream_in_.data() + offset,
                                     upstream_in_.size() - offset);
      if (n > 0) {
        slots_.front().response_started = true;
        emit(std::string_view(upstream_in_).substr(offset, n));
      }
      offset += n;
      auto err = HTTP_PARSER_ERRNO(&response_parser_);
      if (err == HPE_PAUSED) {
        http_parser_pause(&response_parser_, 0);
      } else if (err != HPE_OK) {
        close_after_flush();  // the upstream spoke garbage mid-response
        return;
      }
      if (response_complete_) {
        response_complete_ = false;
        finish_response();
      } else if (n == 0) {
        break;
      }
    }
    upstream_in_.erase(0, std::min(offset, upstream_in_.size()));
  }

  static const http_parser_settings& response_settings() {
    static const http_parser_settings settings = [] {
      http_parser_settings s;
      http_parser_settings_init(&s);
      s.on_headers_complete = [](http_parser* p) { return self(p).on_response_headers(); };
      s.on_message_complete = [](http_parser* p) {
        self(p).response_complete_ = true;
        http_parser_pause(p, 1);
        return 0;
      };
      return s;
    }();
    return settings;
  }

  int on_response_headers() {
    Slot& head = slots_.front();
    int status = response_parser_.status_code;
    if (status >= 200 || status == 101) {
      head.exchange.status = status;
      head.exchange.latency = std::max(Clock::duration::zero(), Clock::now() - head.request_done);
    }
    if (head.connect_request && status >= 200 && status < 300) return 2;  // tunnel, no body
    if (head.head_request) return 1;  // a response to HEAD has no body whatever it says
    return 0;
  }

  void finish_response() {
    int status = response_parser_.status_code;
    if (status < 200 && status != 101) return;  // interim (100 Continue): the real one follows
    bool upgraded = response_parser_.upgrade != 0;
    bool keep_alive = http_should_keep_alive(&response_parser_) != 0;
    complete_head();
    if (upgraded && awaiting_upgrade_) {
      tunnel_ = true;
      awaiting_upgrade_ = false;
      upstream_out_ += client_in_;
      client_in_.clear();
      return;
    }
    awaiting_upgrade_ = false;  // upgrade declined: HTTP goes on
    if (!keep_alive) close_after_flush();
  }

  void upstream_closed() {
    bool outstanding = false;
    for (const Slot& slot : slots_) outstanding = outstanding || slot.forwarded;
    drop_upstream();
    if (tunnel_ || !outstanding) return;  // an idle keep-alive close: reconnect when needed
    emit_ready_slots();
    if (slots_.empty()) return;
    Slot& head = slots_.front();
    if (head.response_started)
      close_after_flush();
    else
      make_canned(head, 502, canned_response(502, "Bad Gateway", true));
  }

  // ---- closing ----------------------------------------------------------

  void reset_client() {
    linger hard{1, 0};  // close() sends RST
    ::setsockopt(client_.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    client_.reset();
  }

  // Closing with unread input would make the kernel send RST, which can
  // destroy the response in flight: shut down writing, drain, then close.
  void close_client_gracefully() {
    upstream_.reset();
    if (!client_eof_) {
      ::shutdown(client_.get(), SHUT_WR);
      auto deadline = Clock::now() + kLingerTimeout;
      char buf[4096];
      while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) break;
        pollfd fds[2] = {{client_.get(), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
        if (::poll(fds, 2, static_cast<int>(left)) <= 0 || fds[1].revents) break;
        ssize_t n = ::read(client_.get(), buf, sizeof(buf));
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
      }
    }
    client_.reset();
  }

  const ProxyOptions& options_;
  HttpJudge& judge_;
  const int stop_fd_;
  UniqueFd client_, upstream_;
  ProxiedFlow flow_;
  uint32_t mark_ = 0;

  http_parser request_parser_{}, response_parser_{};
  // The request being parsed.
  ir::HttpRequest request_;
  std::string header_name_, header_value_;
  bool in_header_value_ = false;
  bool in_request_ = false;
  Disposition disposition_ = Disposition::Pending;
  std::string pending_request_bytes_;
  Slot* current_ = nullptr;  // its slot while still queued (deque keeps references on push/pop at the ends)

  std::deque<Slot> slots_;
  std::string client_in_, client_out_, upstream_in_, upstream_out_;
  uint64_t client_bytes_queued_ = 0, client_bytes_written_ = 0;
  // Exchanges to record once the client's output passed their last byte.
  std::deque<std::pair<uint64_t, HttpExchange>> unrecorded_;

  bool reading_client_ = true;
  bool client_eof_ = false;
  bool awaiting_upgrade_ = false;
  bool tunnel_ = false, tunnel_closing_ = false;
  bool response_complete_ = false;
  bool fatal_ = false;
  Clock::time_point last_client_activity_, last_upstream_progress_;
};

}  // namespace

struct HttpProxy::Impl {
  Impl(ProxyOptions opts, HttpJudge& j) : options(std::move(opts)), judge(j) {
    if (!options.transparent && !options.upstream)
      throw std::runtime_error("HttpProxy: non-transparent mode needs an upstream");
    listener = bind_listener(options, SOCK_STREAM | SOCK_NONBLOCK);
    if (::listen(listener.get(), 1024) != 0) throw sys_error("listen");
    auto local = local_addr(listener.get());
    if (!local) throw sys_error("getsockname");
    port = local->port;
    acceptor = std::thread([this] { accept_loop(); });
  }

  ~Impl() {
    stop.raise();
    acceptor.join();
    connections.join_all();
  }

  void accept_loop() {
    while (true) {
      pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
      int ready = ::poll(fds, 2, 1000);
      connections.reap();
      if (ready < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
      if (!(fds[1].revents & POLLIN)) continue;
      UniqueFd client(::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!client) continue;
      connections.start(std::move(client),
                        [this](UniqueFd fd) { Connection(options, judge, stop.fd(), std::move(fd)).run(); });
    }
  }

  ProxyOptions options;
  HttpJudge& judge;
  StopSignal stop;
  UniqueFd listener;
  uint16_t port = 0;
  ConnectionThreads connections;  // used by the acceptor, then by ~Impl after it joined
  std::thread acceptor;
};

HttpProxy::HttpProxy(ProxyOptions options, HttpJudge& judge)
    : impl_(std::make_unique<Impl>(std::move(options), judge)) {}
HttpProxy::~HttpProxy() = default;
uint16_t HttpProxy::port() const { return impl_->port; }

}  // namespace cnpc::agent
