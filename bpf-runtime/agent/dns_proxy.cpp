// The DNS proxy over UDP. One thread receives datagrams (with their original
// destination in transparent mode) and queues them; a small fixed pool of
// workers judges each query, forwards allowed ones from a fresh socket
// carrying the admit mark, waits for the reply with the same ID and answers
// the client from the address it asked. Messages are parsed with libresolv;
// only the fixed 12-byte header is touched by hand (flags and counts).
#include <arpa/nameser.h>
#include <resolv.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
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

}  // namespace

struct DnsProxy::Impl {
  Impl(ProxyOptions opts, DnsJudge& j) : options(std::move(opts)), judge(j) {
    if (!options.transparent && !options.upstream)
      throw std::runtime_error("DnsProxy: non-transparent mode needs an upstream");
    listener = bind_listener(options, SOCK_DGRAM | SOCK_NONBLOCK);
    if (options.transparent) {
      int one = 1;
      bool v6 = to_raw(SocketAddr{options.bind_ip, 0}).family() == AF_INET6;
      int rc = v6 ? ::setsockopt(listener.get(), SOL_IPV6, IPV6_RECVORIGDSTADDR, &one, sizeof(one))
                  : ::setsockopt(listener.get(), SOL_IP, IP_RECVORIGDSTADDR, &one, sizeof(one));
      if (rc != 0) throw sys_error("IP_RECVORIGDSTADDR");
    }
    auto local = local_addr(listener.get());
    if (!local) throw sys_error("getsockname");
    port = local->port;
    receiver = std::thread([this] { receive_loop(); });
    try {
      for (size_t i = 0; i < kWorkers; ++i) workers.emplace_back([this] { work_loop(); });
    } catch (...) {
      shut_down();
      throw;
    }
  }

  ~Impl() { shut_down(); }

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
  }

  void receive_loop() {
    std::vector<char> buf(kMaxDatagram);
    alignas(cmsghdr) char control[256];
    while (true) {
      pollfd fds[2] = {{stop.fd(), POLLIN, 0}, {listener.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[0].revents) return;
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

    DnsExchange exchange;
    exchange.qname = parsed->questions.front().name;
    exchange.allowed = true;
    for (const Question& question : parsed->questions) {
      exchange.qtypes.push_back(qtype_name(question.type));
      if (!judge.allow(flow, question.name)) exchange.allowed = false;
    }
    std::string reply;
    if (!exchange.allowed) {
      reply = error_reply(query.bytes, parsed->question_end, kRcodeRefused);
    } else {
      bool stopped = false;
      auto answer = forward(query.bytes, flow.server, *mark, stopped);
      if (stopped) return;
      reply = answer ? std::move(*answer) : error_reply(query.bytes, parsed->question_end, kRcodeServfail);
    }
    send_reply(query, reply);
    read_answer(reply, exchange);
    judge.record(flow, exchange);
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
      if (n >= static_cast<ssize_t>(HFIXEDSZ) && reply[0] == query[0] && reply[1] == query[1] &&
          (static_cast<unsigned char>(reply[2]) & 0x80)) {
        reply.resize(static_cast<size_t>(n));
        return reply;
      }
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
  UniqueFd listener;
  uint16_t port = 0;
  std::mutex mutex;
  std::condition_variable wake_workers;
  std::deque<Query> queue;  // guarded by mutex
  bool stopping = false;    // guarded by mutex
  std::thread receiver;
  std::vector<std::thread> workers;
};

DnsProxy::DnsProxy(ProxyOptions options, DnsJudge& judge)
    : impl_(std::make_unique<Impl>(std::move(options), judge)) {}
DnsProxy::~DnsProxy() = default;
uint16_t DnsProxy::port() const { return impl_->port; }

}  // namespace cnpc::agent
