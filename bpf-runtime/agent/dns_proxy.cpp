// The DNS proxy over UDP and TCP, on the same port number. One thread
// receives datagrams (with their original destination in transparent mode)
// and queues them; a small fixed pool of workers judges each query, forwards
// allowed ones from a fresh socket carrying the admit mark, waits for the
// reply with the same ID and answers the client from the address it asked.
// The same thread accepts TCP connections (RFC 7766: 2-byte length-prefixed
// messages, possibly pipelined); each gets a thread that answers its queries
// in order over one kept upstream TCP connection. Messages are parsed with
// libresolv; only the fixed 12-byte header is touched by hand (flags and
// counts).
#include <arpa/nameser.h>
#include <resolv.h>

#include <netinet/tcp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>

#include "proxy.h"
#include "proxy_net.h"

namespace cnpc::agent {
namespace {

using namespace proxy_detail;
using Clock = std::chrono::steady_clock;

constexpr size_t kWorkers = 8;
constexpr size_t kMaxQueued = 1024;  // beyond this, queries are dropped (the client retries)
constexpr size_t kMaxDatagram = 65535;
constexpr size_t kMaxTcpClients = 512;  // beyond this, new TCP connections are closed at once
constexpr std::chrono::seconds kTcpIdleTimeout{30};
constexpr int kBindAttempts = 8;  // fresh UDP/TCP port pairs tried when the port is ephemeral
constexpr int kRcodeServfail = 2;
constexpr int kRcodeRefused = 5;

struct Query {
  std::string bytes;
  RawAddr client;
  std::optional<SocketAddr> original_dst;
};

struct Question {
  std::string name;
  uint16_t type = 0;
};

struct ParsedQuery {
  std::vector<Question> questions;
  size_t question_end = 0;  // the header and question section end here
};

const unsigned char* bytes_of(const std::string& message) {
  return reinterpret_cast<const unsigned char*>(message.data());
}

std::optional<ParsedQuery> parse_query(const std::string& bytes) {
  if (bytes.size() < HFIXEDSZ) return std::nullopt;
  const unsigned char* msg = bytes_of(bytes);
  if (msg[2] & 0x80) return std::nullopt;  // QR set: a response, not a query
  ns_msg handle;
  if (ns_initparse(msg, static_cast<int>(bytes.size()), &handle) != 0) return std::nullopt;
  int count = ns_msg_count(handle, ns_s_qd);
  if (count < 1) return std::nullopt;
  ParsedQuery parsed;
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&handle, ns_s_qd, i, &rr) != 0) return std::nullopt;
    Question question{ns_rr_name(rr), ns_rr_type(rr)};
    if (!question.name.empty() && question.name.back() == '.') question.name.pop_back();
    parsed.questions.push_back(std::move(question));
  }
  int skipped = ns_skiprr(msg + HFIXEDSZ, msg + bytes.size(), ns_s_qd, count);
  if (skipped < 0) return std::nullopt;
  parsed.question_end = HFIXEDSZ + static_cast<size_t>(skipped);
  return parsed;
}

std::string qtype_name(uint16_t type) {
  switch (type) {
    case ns_t_a: return "A";
    case ns_t_ns: return "NS";
    case ns_t_cname: return "CNAME";
    case ns_t_soa: return "SOA";
    case ns_t_ptr: return "PTR";
    case ns_t_mx: return "MX";
    case ns_t_txt: return "TXT";
    case ns_t_aaaa: return "AAAA";
    case ns_t_srv: return "SRV";
    case ns_t_naptr: return "NAPTR";
    case ns_t_caa: return "CAA";
    case 64: return "SVCB";
    case 65: return "HTTPS";
    case ns_t_any: return "ANY";
    default: return std::to_string(type);
  }
}

// An answer the proxy makes itself: the query's header and question with
// QR set, RA set (the client asked a recursive resolver), no records.
std::string error_reply(const std::string& query, size_t question_end, int rcode) {
  std::string reply = query.substr(0, question_end);
  auto flags_high = static_cast<unsigned char>(reply[2]);
  reply[2] = static_cast<char>((flags_high | 0x80) & ~0x06);  // QR; neither AA nor TC
  reply[3] = static_cast<char>(0x80 | rcode);                 // RA, RCODE
  for (size_t i = 6; i < HFIXEDSZ; ++i) reply[i] = 0;         // ANCOUNT, NSCOUNT, ARCOUNT
  return reply;
}

void read_answer(const std::string& reply, DnsExchange& exchange) {
  exchange.rcode = reply.size() >= HFIXEDSZ ? (bytes_of(reply)[3] & 0x0f) : kRcodeServfail;
  ns_msg handle;
  if (ns_initparse(bytes_of(reply), static_cast<int>(reply.size()), &handle) != 0) return;
  exchange.rcode = ns_msg_getflag(handle, ns_f_rcode);
  for (int i = 0; i < ns_msg_count(handle, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&handle, ns_s_an, i, &rr) != 0) break;
    char text[INET6_ADDRSTRLEN] = {};
    if (ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4)
      exchange.ips.emplace_back(inet_ntop(AF_INET, ns_rr_rdata(rr), text, sizeof(text)));
    else if (ns_rr_type(rr) == ns_t_aaaa && ns_rr_rdlen(rr) == 16)
      exchange.ips.emplace_back(inet_ntop(AF_INET6, ns_rr_rdata(rr), text, sizeof(text)));
  }
}

// The client's reply and what to record for one query.
struct Answered {
  std::string reply;
  DnsExchange exchange;
};

// The part of a query's life that does not depend on the transport: every
// question is judged (one denied makes the whole query REFUSED), allowed
// queries go to `forward`, whose failure (nullopt) the client sees as
// SERVFAIL. `forward(bool& stopped)` sets stopped when the proxy shuts down;
// then nullopt here: nothing is sent or recorded.
template <class Forward>
std::optional<Answered> answer_query(DnsJudge& judge, const ProxiedFlow& flow, const std::string& query,
                                     const ParsedQuery& parsed, Forward&& forward) {
  Answered out;
  out.exchange.qname = parsed.questions.front().name;
  out.exchange.allowed = true;
  for (const Question& question : parsed.questions) {
    out.exchange.qtypes.push_back(qtype_name(question.type));
    if (!judge.allow(flow, question.name)) out.exchange.allowed = false;
  }
  if (!out.exchange.allowed) {
    out.reply = error_reply(query, parsed.question_end, kRcodeRefused);
    return out;
  }
  bool stopped = false;
  std::optional<std::string> answer = forward(stopped);
  if (stopped) return std::nullopt;
  out.reply = answer ? std::move(*answer) : error_reply(query, parsed.question_end, kRcodeServfail);
  return out;
}

// After the reply went to the client.
void record_answer(DnsJudge& judge, const ProxiedFlow& flow, Answered& answered) {
  read_answer(answered.reply, answered.exchange);
  judge.record(flow, answered.exchange);
}

bool is_reply_to(const std::string& reply, const std::string& query) {
  return reply.size() >= HFIXEDSZ && reply[0] == query[0] && reply[1] == query[1] &&
         (static_cast<unsigned char>(reply[2]) & 0x80);
}

// ---- blocking-with-deadline I/O on non-blocking TCP sockets ----------------

enum class Io { Done, Timeout, Stopped, Closed, Failed };

int ms_until(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

// Waits for `events` on fd; also wakes on the stop signal (which wins).
Io wait_for(int fd, short events, Clock::time_point deadline, int stop_fd) {
  while (true) {
    if (Clock::now() >= deadline) return Io::Timeout;
    pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
    int ready = ::poll(fds, 2, ms_until(deadline) + 1);
    if (ready < 0 && errno != EINTR) return Io::Failed;
    if (fds[1].revents) return Io::Stopped;
    if (fds[0].revents) return Io::Done;  // errors and hangups too: the next call reports them
  }
}

Io send_all(int fd, std::string_view bytes, Clock::time_point deadline, int stop_fd) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno == EPIPE || errno == ECONNRESET ? Io::Closed : Io::Failed;
    if (Io waited = wait_for(fd, POLLOUT, deadline, stop_fd); waited != Io::Done) return waited;
  }
  return Io::Done;
}

// Reads exactly `size` more bytes into `out`; never past them, so the next
// message stays in the socket.
Io recv_exact(int fd, size_t size, std::string& out, Clock::time_point deadline, int stop_fd) {
  size_t want = out.size() + size;
  while (out.size() < want) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, std::min(sizeof(buf), want - out.size()), 0);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return Io::Closed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return errno == ECONNRESET ? Io::Closed : Io::Failed;
    if (Io waited = wait_for(fd, POLLIN, deadline, stop_fd); waited != Io::Done) return waited;
  }
  return Io::Done;
}

std::string with_length(const std::string& message) {
  std::string framed;
  framed.reserve(message.size() + 2);
  framed += static_cast<char>(message.size() >> 8);
  framed += static_cast<char>(message.size() & 0xff);
  framed += message;
  return framed;
}

size_t length_prefix(const std::string& bytes) {
  const unsigned char* p = bytes_of(bytes);
  return (static_cast<size_t>(p[0]) << 8) | p[1];
}

// One client's DNS-over-TCP connection: length-prefixed queries answered
// one at a time, in order, so pipelined queries simply wait in the buffer.
class TcpClient {
 public:
  TcpClient(const ProxyOptions& options, DnsJudge& judge, int stop_fd, UniqueFd client)
      : options_(options), judge_(judge), stop_fd_(stop_fd), client_(std::move(client)) {}

  void run() {
    auto flow = accepted_flow(client_.get(), options_);
    if (!flow) return;
    flow_ = *flow;
    auto mark = judge_.admit(flow_);
    if (!mark) {
      reset_on_close(client_.get());
      return;
    }
    mark_ = *mark;
    serve();
  }

 private:
  // Returns when the client is done, idle, broken or malformed, or on stop;
  // the destructor closes both sockets.
  void serve() {
    std::string in;
    bool eof = false;
    while (true) {
      while (in.size() >= 2) {
        size_t size = length_prefix(in);
        if (size < HFIXEDSZ) return;  // cannot be a DNS message: the framing is lost
        if (in.size() < 2 + size) break;
        std::string query = in.substr(2, size);
        in.erase(0, 2 + size);
        if (!serve_query(query)) return;
      }
      if (eof) return;  // a partial message at EOF is dropped
      auto idle_deadline = Clock::now() + kTcpIdleTimeout;
      if (wait_for(client_.get(), POLLIN, idle_deadline, stop_fd_) != Io::Done) return;
      char buf[16 * 1024];
      ssize_t n = ::recv(client_.get(), buf, sizeof(buf), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return;
      }
      if (n == 0) eof = true;  // half-closed: the buffered queries are still answered
      in.append(buf, static_cast<size_t>(n));
    }
  }

  bool serve_query(const std::string& query) {
    auto parsed = parse_query(query);
    if (!parsed) return false;
    auto answered = answer_query(judge_, flow_, query, *parsed, [&](bool& stopped) { return forward(query, stopped); });
    if (!answered) return false;
    if (send_all(client_.get(), with_length(answered->reply), Clock::now() + kTcpIdleTimeout, stop_fd_) != Io::Done)
      return false;
    record_answer(judge_, flow_, *answered);
    return true;
  }

  // Sends the query over the kept upstream connection and reads its reply
  // until upstream_timeout. A kept connection the resolver closed meanwhile
  // is reopened once. On failure the connection is dropped, so that a late
  // reply cannot be taken for the next query's.
  std::optional<std::string> forward(const std::string& query, bool& stopped) {
    auto deadline = Clock::now() + options_.upstream_timeout;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (upstream_ && !upstream_idle()) upstream_.reset();
      bool reused = static_cast<bool>(upstream_);
      if (!upstream_) {
        Io connected = connect_upstream(deadline);
        if (connected != Io::Done) {
          stopped = connected == Io::Stopped;
          return std::nullopt;
        }
      }
      std::string reply;
      Io io = exchange(query, deadline, reply);
      if (io == Io::Done) return reply;
      upstream_.reset();
      stopped = io == Io::Stopped;
      if (io != Io::Closed || !reused) return std::nullopt;
    }
    return std::nullopt;
  }

  // A kept connection with nothing to read and no hangup is still usable;
  // anything else (EOF, RST, unsolicited bytes) means start afresh.
  bool upstream_idle() const {
    pollfd fd{upstream_.get(), POLLIN, 0};
    return ::poll(&fd, 1, 0) == 0;
  }

  bool stop_requested() const {
    pollfd stop{stop_fd_, POLLIN, 0};
    return ::poll(&stop, 1, 0) > 0;
  }

  Io connect_upstream(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    UniqueFd fd = connect_marked(flow_.server, mark_, options_.transparent, static_cast<int>(std::max<int64_t>(left, 0)),
                                 stop_fd_);
    if (!fd) return stop_requested() ? Io::Stopped : Clock::now() >= deadline ? Io::Timeout : Io::Failed;
    upstream_ = std::move(fd);
    return Io::Done;
  }

  // Closed only when the connection ended before any byte of the reply (the
  // resolver may have closed an idle connection: worth one retry).
  Io exchange(const std::string& query, Clock::time_point deadline, std::string& reply) {
    if (Io sent = send_all(upstream_.get(), with_length(query), deadline, stop_fd_); sent != Io::Done) return sent;
    bool first = true;
    while (true) {
      std::string prefix;
      Io io = recv_exact(upstream_.get(), 2, prefix, deadline, stop_fd_);
      if (io != Io::Done) return io == Io::Closed && !(first && prefix.empty()) ? Io::Failed : io;
      first = false;
      size_t size = length_prefix(prefix);
      if (size < HFIXEDSZ) return Io::Failed;
      reply.clear();
      io = recv_exact(upstream_.get(), size, reply, deadline, stop_fd_);
      if (io != Io::Done) return io == Io::Closed ? Io::Failed : io;
      if (is_reply_to(reply, query)) return Io::Done;
      // Another ID: not ours (we never have two queries outstanding); skip it.
    }
  }

  const ProxyOptions& options_;
  DnsJudge& judge_;
  const int stop_fd_;
  UniqueFd client_, upstream_;
  ProxiedFlow flow_;
  uint32_t mark_ = 0;
};

}  // namespace

struct DnsProxy::Impl {
  Impl(ProxyOptions opts, DnsJudge& j) : options(std::move(opts)), judge(j) {
    if (!options.transparent && !options.upstream)
      throw std::runtime_error("DnsProxy: non-transparent mode needs an upstream");
    bind_listeners();
    if (options.transparent) {
      int one = 1;
      bool v6 = to_raw(SocketAddr{options.bind_ip, 0}).family() == AF_INET6;
      int rc = v6 ? ::setsockopt(listener.get(), SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one))
                  : ::setsockopt(listener.get(), SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one));
      if (rc != 0) throw sys_error("IP_RECVORIGDSTADDR");
    }
    receiver = std::thread([this] { receive_loop(); });
    try {
      for (size_t i = 0; i < kWorkers; ++i) workers.emplace_back([this] { work_loop(); });
    } catch (...) {
      shut_down();
      throw;
    }
  }

  ~Impl() { shut_down(); }

  // UDP and TCP on one port number, as resolvers expect. An ephemeral port
  // is the UDP socket's pick; its TCP twin may be taken, then a fresh pair
  // is tried.
  void bind_listeners() {
    for (int attempt = 1;; ++attempt) {
      listener = bind_listener(options, SOCK_DGRAM | SOCK_NONBLOCK);
      auto local = local_addr(listener.get());
      if (!local) throw sys_error("getsockname");
      port = local->port;
      ProxyOptions tcp_options = options;
      tcp_options.port = port;
      try {
        tcp_listener = bind_listener(tcp_options, SOCK_STREAM | SOCK_NONBLOCK);
      } catch (const std::runtime_error&) {
        if (options.port != 0 || attempt >= kBindAttempts) throw;
        continue;
      }
      if (::listen(tcp_listener.get(), 1024) != 0) throw sys_error("listen");
      return;
    }
  }

  void shut_down() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    wake_workers.notify_all();
    stop.raise();
    if (receiver.joinable()) receiver.join();
    for (std::thread& worker : workers) worker.join();
    workers.clear();
    // The receiver, their only other user, is gone.
    tcp_connections.join_all();
  }

  void receive_loop() {
    std::vector<char> buf(kMaxDatagram);
    alignas(cmsghdr) char control[256];
    while (true) {
      pollfd fds[3] = {{stop.fd(), POLLIN, 0}, {listener.get(), POLLIN, 0}, {tcp_listener.get(), POLLIN, 0}};
      if (::poll(fds, 3, -1) < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
      if (fds[2].revents & POLLIN) accept_tcp();
      if (!(fds[1].revents & POLLIN)) continue;
      while (true) {
        Query query;
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_name = query.client.get();
        msg.msg_namelen = sizeof(query.client.storage);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof(control);
        ssize_t n = ::recvmsg(listener.get(), &msg, 0);
        if (n < 0) break;  // EAGAIN: drained
        query.client.len = msg.msg_namelen;
        query.bytes.assign(buf.data(), static_cast<size_t>(n));
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
              (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR))
            query.original_dst = from_raw(reinterpret_cast<const sockaddr*>(CMSG_DATA(c)));
        }
        if (options.transparent && !query.original_dst) continue;
        std::lock_guard lock(mutex);
        if (queue.size() >= kMaxQueued) continue;
        queue.push_back(std::move(query));
        wake_workers.notify_one();
      }
    }
  }

  // A thread per connection, at most kMaxTcpClients (over it the client is
  // closed: it retries or falls back to UDP).
  void accept_tcp() {
    UniqueFd client(::accept4(tcp_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!client) return;
    tcp_connections.start(
        std::move(client), [this](UniqueFd fd) { TcpClient(options, judge, stop.fd(), std::move(fd)).run(); },
        kMaxTcpClients);
  }

  void work_loop() {
    while (true) {
      Query query;
      {
        std::unique_lock lock(mutex);
        wake_workers.wait(lock, [this] { return stopping || !queue.empty(); });
        if (stopping) return;
        query = std::move(queue.front());
        queue.pop_front();
      }
      handle(query);
    }
  }

  void handle(const Query& query) {
    auto parsed = parse_query(query.bytes);
    if (!parsed) return;  // not a query we can read: dropped
    ProxiedFlow flow;
    flow.client = from_raw(query.client.get());
    flow.server = options.transparent ? *query.original_dst : *options.upstream;
    flow.ip_proto = IPPROTO_UDP;
    auto mark = judge.admit(flow);
    if (!mark) return;
    auto answered = answer_query(judge, flow, query.bytes, *parsed,
                                 [&](bool& stopped) { return forward(query.bytes, flow.server, *mark, stopped); });
    if (!answered) return;
    send_reply(query, answered->reply);
    record_answer(judge, flow, *answered);
  }

  // Sends the query to the resolver and waits for its reply (same ID) until
  // upstream_timeout; nullopt on timeout or error.
  std::optional<std::string> forward(const std::string& query, const SocketAddr& server, uint32_t mark,
                                     bool& stopped) {
    RawAddr to;
    try {
      to = to_raw(server);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    UniqueFd fd(::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return std::nullopt;
    // The mark lets the datapath tell the proxy's own query from the pod's.
    if ((options.transparent || mark != 0) && !set_mark(fd.get(), mark)) return std::nullopt;
    // Connected: only datagrams from the resolver's address reach us.
    if (::connect(fd.get(), to.get(), to.len) != 0) return std::nullopt;
    if (::send(fd.get(), query.data(), query.size(), 0) != static_cast<ssize_t>(query.size())) return std::nullopt;
    auto deadline = Clock::now() + options.upstream_timeout;
    std::string reply(kMaxDatagram, '\0');
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) return std::nullopt;
      pollfd fds[2] = {{fd.get(), POLLIN, 0}, {stop.fd(), POLLIN, 0}};
      if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) return std::nullopt;
      if (fds[1].revents) {
        stopped = true;
        return std::nullopt;
      }
      ssize_t n = ::recv(fd.get(), reply.data(), reply.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return std::nullopt;  // e.g. ECONNREFUSED: nothing listens there
      }
      // The same ID with QR set; anything else is a stray or stale datagram.
      reply.resize(static_cast<size_t>(n));
      if (is_reply_to(reply, query)) return reply;
      reply.resize(kMaxDatagram);
    }
  }

  // The client's resolver only accepts the answer from the address it asked.
  void send_reply(const Query& query, const std::string& reply) {
    if (!options.transparent) {
      ::sendto(listener.get(), reply.data(), reply.size(), 0, query.client.get(), query.client.len);
      return;
    }
    RawAddr from = to_raw(*query.original_dst);
    UniqueFd fd(::socket(from.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return;
    int one = 1;
    int level = from.family() == AF_INET6 ? SOL_IPV6 : SOL_IP;
    int option = from.family() == AF_INET6 ? IPV6_TRANSPARENT : IP_TRANSPARENT;
    // IP_TRANSPARENT: bind to a foreign address; SO_REUSEADDR: concurrent
    // replies from the same resolver address.
    if (::setsockopt(fd.get(), level, option, &one, sizeof(one)) != 0 ||
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        ::bind(fd.get(), from.get(), from.len) != 0)
      return;
    ::sendto(fd.get(), reply.data(), reply.size(), 0, query.client.get(), query.client.len);
  }

  ProxyOptions options;
  DnsJudge& judge;
  StopSignal stop;
  UniqueFd listener;      // UDP
  UniqueFd tcp_listener;  // TCP, same port number
  uint16_t port = 0;
  std::mutex mutex;
  std::condition_variable wake_workers;
  std::deque<Query> queue;  // guarded by mutex
  bool stopping = false;    // guarded by mutex
  std::thread receiver;
  std::vector<std::thread> workers;
  ConnectionThreads tcp_connections;  // used by the receiver, then by shut_down after it joined
};

DnsProxy::DnsProxy(ProxyOptions options, DnsJudge& judge)
    : impl_(std::make_unique<Impl>(std::move(options), judge)) {}
DnsProxy::~DnsProxy() = default;
uint16_t DnsProxy::port() const { return impl_->port; }

}  // namespace cnpc::agent
