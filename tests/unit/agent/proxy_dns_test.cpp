// DnsProxy in non-transparent mode on 127.0.0.1 with fake resolver threads
// (one over UDP, one over TCP). Queries are built with res_mkquery; the fake
// resolvers answer A and AAAA questions with one fixed record, except for
// names they must ignore.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "loopback.h"
#include "proxy.h"

namespace {

using namespace cnpc::agent;
using namespace std::chrono_literals;

int udp_socket_on_loopback(uint16_t& port) { return cnpc::agent::testing::bind_loopback(SOCK_DGRAM, port); }

std::string first_qname(const unsigned char* msg, size_t len) {
  ns_msg handle;
  ns_rr rr;
  if (ns_initparse(msg, static_cast<int>(len), &handle) != 0 || ns_parserr(&handle, ns_s_qd, 0, &rr) != 0) return "";
  return ns_rr_name(rr);
}

// Answers A with 192.0.2.1 and AAAA with 2001:db8::1; nothing for names
// starting with "hang.".
std::optional<std::string> fake_answer(const unsigned char* buf, size_t n) {
  std::string name = first_qname(buf, n);
  if (name.starts_with("hang.")) return std::nullopt;
  ns_msg handle;
  ns_rr question;
  ns_initparse(buf, static_cast<int>(n), &handle);
  ns_parserr(&handle, ns_s_qd, 0, &question);
  int qlen = ns_skiprr(buf + HFIXEDSZ, buf + n, ns_s_qd, 1);
  std::string reply(reinterpret_cast<const char*>(buf), HFIXEDSZ + static_cast<size_t>(qlen));
  reply[2] = static_cast<char>(0x81);  // QR, RD
  reply[3] = static_cast<char>(0x80);  // RA, NOERROR
  reply[7] = 1;                        // ANCOUNT = 1
  reply[9] = reply[11] = 0;
  reply += std::string("\xc0\x0c", 2);  // the name: a pointer to the question's
  unsigned type = ns_rr_type(question);
  reply += static_cast<char>(type >> 8);
  reply += static_cast<char>(type & 0xff);
  reply += std::string("\x00\x01\x00\x00\x00\x3c", 6);  // IN, TTL 60
  if (type == ns_t_aaaa) {
    in6_addr addr{};
    inet_pton(AF_INET6, "2001:db8::1", &addr);
    reply += std::string("\x00\x10", 2);
    reply.append(reinterpret_cast<char*>(&addr), 16);
  } else {
    reply += std::string("\x00\x04\xc0\x00\x02\x01", 6);  // 192.0.2.1
  }
  return reply;
}

// The resolver over UDP (see fake_answer).
class FakeResolver {
 public:
  FakeResolver() {
    fd_ = udp_socket_on_loopback(port_);
    if (::pipe(stop_pipe_) != 0) std::abort();
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeResolver() {
    (void)!::write(stop_pipe_[1], "x", 1);
    thread_.join();
    ::close(fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

 private:
  void loop() {
    unsigned char buf[4096];
    while (true) {
      pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {fd_, POLLIN, 0}};
      ::poll(fds, 2, -1);
      if (fds[0].revents) return;
      sockaddr_storage from{};
      socklen_t from_len = sizeof(from);
      ssize_t n = ::recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n < HFIXEDSZ) continue;
      std::string name = first_qname(buf, static_cast<size_t>(n));
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(name);
      }
      auto reply = fake_answer(buf, static_cast<size_t>(n));
      if (!reply) continue;
      ::sendto(fd_, reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
    }
  }

  uint16_t port_ = 0;
  int fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> seen_;
};

// Denies names under deny.example; can refuse every flow.
class TestDnsJudge : public DnsJudge {
 public:
  std::optional<uint32_t> admit(const ProxiedFlow& flow) override {
    std::lock_guard lock(mutex_);
    flows_.push_back(flow);
    if (refuse_) return std::nullopt;
    return 0u;
  }
  bool allow(const ProxiedFlow&, const std::string& qname) override {
    return !qname.ends_with("deny.example");
  }
  void record(const ProxiedFlow& flow, const DnsExchange& exchange) override {
    std::lock_guard lock(mutex_);
    records_.push_back(exchange);
    record_flows_.push_back(flow);
    changed_.notify_all();
  }
  void refuse_all() {
    std::lock_guard lock(mutex_);
    refuse_ = true;
  }
  std::vector<DnsExchange> wait_records(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return records_.size() >= count; });
    return records_;
  }
  std::vector<DnsExchange> records() {
    std::lock_guard lock(mutex_);
    return records_;
  }
  std::vector<ProxiedFlow> flows() {
    std::lock_guard lock(mutex_);
    return flows_;
  }
  std::vector<ProxiedFlow> record_flows() {
    std::lock_guard lock(mutex_);
    return record_flows_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool refuse_ = false;
  std::vector<ProxiedFlow> flows_;
  std::vector<DnsExchange> records_;
  std::vector<ProxiedFlow> record_flows_;
};

std::string make_query(const std::string& name, int type, uint16_t id) {
  unsigned char buf[512];
  int len = res_mkquery(ns_o_query, name.c_str(), ns_c_in, type, nullptr, 0, nullptr, buf, sizeof(buf));
  if (len < 0) return "";
  buf[0] = static_cast<unsigned char>(id >> 8);
  buf[1] = static_cast<unsigned char>(id & 0xff);
  return std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
}

uint16_t message_id(const std::string& msg) {
  return static_cast<uint16_t>((static_cast<unsigned char>(msg[0]) << 8) | static_cast<unsigned char>(msg[1]));
}
int rcode_of(const std::string& msg) { return static_cast<unsigned char>(msg[3]) & 0x0f; }
int count_of(const std::string& msg, int offset) {
  return (static_cast<unsigned char>(msg[offset]) << 8) | static_cast<unsigned char>(msg[offset + 1]);
}

class DnsClient {
 public:
  explicit DnsClient(uint16_t proxy_port, std::chrono::milliseconds wait = 10s) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(proxy_port);
    // Connected: the kernel drops replies from any other address or port,
    // as a stub resolver would.
    ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  ~DnsClient() { ::close(fd_); }
  std::optional<std::string> ask(const std::string& query) {
    if (::send(fd_, query.data(), query.size(), 0) < 0) return std::nullopt;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
};

class DnsProxyTest : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds timeout = 5000ms) {
    ProxyOptions options;
    options.bind_ip = "127.0.0.1";
    options.port = 0;
    options.transparent = false;
    options.upstream = SocketAddr{"127.0.0.1", resolver.port()};
    options.upstream_timeout = timeout;
    proxy = std::make_unique<DnsProxy>(options, judge);
  }

  FakeResolver resolver;
  TestDnsJudge judge;
  std::unique_ptr<DnsProxy> proxy;
};

TEST_F(DnsProxyTest, AllowedNameGetsTheResolversAnswer) {
  start();
  DnsClient client(proxy->port());
  auto reply = client.ask(make_query("www.example.com", ns_t_a, 0x1234));
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 0x1234);
  EXPECT_EQ(rcode_of(*reply), 0);
  EXPECT_EQ(count_of(*reply, 6), 1);  // ANCOUNT
  EXPECT_EQ(resolver.seen(), std::vector<std::string>{"www.example.com"});

  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].qname, "www.example.com");
  EXPECT_EQ(records[0].qtypes, std::vector<std::string>{"A"});
  EXPECT_EQ(records[0].rcode, 0);
  EXPECT_EQ(records[0].ips, std::vector<std::string>{"192.0.2.1"});
  EXPECT_TRUE(records[0].allowed);

  auto flows = judge.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].ip_proto, IPPROTO_UDP);
  EXPECT_EQ(flows[0].client.ip, "127.0.0.1");
  EXPECT_EQ(flows[0].server, (SocketAddr{"127.0.0.1", resolver.port()}));
}

TEST_F(DnsProxyTest, AaaaAnswerIsRecorded) {
  start();
  DnsClient client(proxy->port());
  auto reply = client.ask(make_query("v6.example.com.", ns_t_aaaa, 7));
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 7);
  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].qname, "v6.example.com");  // no trailing dot
  EXPECT_EQ(records[0].qtypes, std::vector<std::string>{"AAAA"});
  EXPECT_EQ(records[0].ips, std::vector<std::string>{"2001:db8::1"});
}

TEST_F(DnsProxyTest, DeniedNameIsRefused) {
  start();
  DnsClient client(proxy->port());
  std::string query = make_query("x.deny.example", ns_t_a, 0xbeef);
  auto reply = client.ask(query);
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 0xbeef);
  EXPECT_EQ(rcode_of(*reply), 5);
  EXPECT_TRUE(static_cast<unsigned char>((*reply)[2]) & 0x80);  // QR
  EXPECT_EQ(count_of(*reply, 4), 1);                           // the question is kept
  EXPECT_EQ(count_of(*reply, 6), 0);                           // no answers
  EXPECT_EQ(first_qname(reinterpret_cast<const unsigned char*>(reply->data()), reply->size()), "x.deny.example");
  EXPECT_EQ(reply->substr(HFIXEDSZ), query.substr(HFIXEDSZ));  // same question bytes
  EXPECT_TRUE(resolver.seen().empty());

  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].allowed);
  EXPECT_EQ(records[0].rcode, 5);
  EXPECT_TRUE(records[0].ips.empty());
}

TEST_F(DnsProxyTest, ResolverTimeoutGivesServfail) {
  start(200ms);
  DnsClient client(proxy->port());
  auto reply = client.ask(make_query("hang.example.com", ns_t_a, 42));
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 42);
  EXPECT_EQ(rcode_of(*reply), 2);
  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].rcode, 2);
  EXPECT_TRUE(records[0].allowed);
}

TEST_F(DnsProxyTest, AdmitRefusalDropsTheQuery) {
  judge.refuse_all();
  start();
  DnsClient client(proxy->port(), 500ms);
  EXPECT_FALSE(client.ask(make_query("www.example.com", ns_t_a, 1)));
  EXPECT_EQ(judge.flows().size(), 1u);
  EXPECT_TRUE(judge.records().empty());
  EXPECT_TRUE(resolver.seen().empty());
}

TEST_F(DnsProxyTest, ConcurrentQueriesAreAnsweredEach) {
  start(300ms);
  // A hanging query must not hold up the others.
  DnsClient hanging(proxy->port());
  std::string hang_query = make_query("hang.example.com", ns_t_a, 9);
  std::thread slow([&] { EXPECT_TRUE(hanging.ask(hang_query)); });
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 8; ++i)
    clients.emplace_back([&, i] {
      DnsClient client(proxy->port());
      auto reply = client.ask(make_query("n" + std::to_string(i) + ".example.com", ns_t_a, static_cast<uint16_t>(100 + i)));
      if (reply && message_id(*reply) == 100 + i && rcode_of(*reply) == 0) ++answered;
    });
  for (auto& t : clients) t.join();
  slow.join();
  EXPECT_EQ(answered.load(), 8);
}

TEST_F(DnsProxyTest, GarbageIsIgnored) {
  start();
  DnsClient client(proxy->port(), 300ms);
  EXPECT_FALSE(client.ask("not a dns message"));
  // Still serving.
  DnsClient again(proxy->port());
  EXPECT_TRUE(again.ask(make_query("www.example.com", ns_t_a, 3)));
}

// ---- DNS over TCP -----------------------------------------------------------

std::string framed(const std::string& message) {
  std::string out;
  out += static_cast<char>(message.size() >> 8);
  out += static_cast<char>(message.size() & 0xff);
  out += message;
  return out;
}

// Reads exactly n bytes (blocking, up to the socket's receive timeout).
bool read_exact(int fd, size_t n, std::string& out) {
  while (n > 0) {
    char buf[4096];
    ssize_t got = ::recv(fd, buf, std::min(n, sizeof(buf)), 0);
    if (got <= 0) return false;
    out.append(buf, static_cast<size_t>(got));
    n -= static_cast<size_t>(got);
  }
  return true;
}

std::optional<std::string> read_framed(int fd) {
  std::string prefix, message;
  if (!read_exact(fd, 2, prefix)) return std::nullopt;
  size_t size = (static_cast<size_t>(static_cast<unsigned char>(prefix[0])) << 8) |
                static_cast<unsigned char>(prefix[1]);
  if (!read_exact(fd, size, message)) return std::nullopt;
  return message;
}

// The resolver over TCP: length-prefixed messages, answered in order with
// fake_answer. Modes for the proxy's upstream reconnection: hang up after
// every answer, or hang up on a connection's second query without answering
// it (as a resolver closing an idle connection just as the query arrives).
class FakeTcpResolver {
 public:
  enum class Mode { Normal, CloseAfterAnswer, HangUpOnSecondQuery };
  explicit FakeTcpResolver(Mode mode = Mode::Normal) : mode_(mode) {
    listener_ = cnpc::agent::testing::bind_loopback(SOCK_STREAM, port_);
    if (listener_ < 0) std::abort();
    if (::pipe(stop_pipe_) != 0) std::abort();
    thread_ = std::thread([this] { loop(); });
  }
  ~FakeTcpResolver() {
    (void)!::write(stop_pipe_[1], "x", 1);
    thread_.join();
    for (Conn& conn : conns_) ::close(conn.fd);
    ::close(listener_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  // Synchronization only (not a timing assertion): until `count` queries arrived.
  void wait_seen(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return seen_.size() >= count; });
  }
  int connections() {
    std::lock_guard lock(mutex_);
    return connections_;
  }

 private:
  struct Conn {
    int fd;
    std::string in;
    int queries = 0;
  };

  void loop() {
    while (true) {
      std::vector<pollfd> fds = {{stop_pipe_[0], POLLIN, 0}, {listener_, POLLIN, 0}};
      for (const Conn& conn : conns_) fds.push_back({conn.fd, POLLIN, 0});
      ::poll(fds.data(), fds.size(), -1);
      if (fds[0].revents) return;
      // Connections first: their indices in fds match conns_ before any change.
      for (size_t i = conns_.size(); i-- > 0;)
        if (fds[2 + i].revents && !serve(conns_[i])) {
          ::close(conns_[i].fd);
          conns_.erase(conns_.begin() + static_cast<std::ptrdiff_t>(i));
        }
      if (fds[1].revents & POLLIN) {
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          conns_.push_back({fd, "", 0});
          std::lock_guard lock(mutex_);
          ++connections_;
        }
      }
    }
  }

  // False: close the connection.
  bool serve(Conn& conn) {
    char buf[4096];
    ssize_t n = ::recv(conn.fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    conn.in.append(buf, static_cast<size_t>(n));
    while (conn.in.size() >= 2) {
      size_t size = (static_cast<size_t>(static_cast<unsigned char>(conn.in[0])) << 8) |
                    static_cast<unsigned char>(conn.in[1]);
      if (conn.in.size() < 2 + size) break;
      std::string query = conn.in.substr(2, size);
      conn.in.erase(0, 2 + size);
      const auto* msg = reinterpret_cast<const unsigned char*>(query.data());
      {
        std::lock_guard lock(mutex_);
        seen_.push_back(first_qname(msg, query.size()));
        changed_.notify_all();
      }
      if (++conn.queries == 2 && mode_ == Mode::HangUpOnSecondQuery) return false;
      auto reply = fake_answer(msg, query.size());
      if (!reply) continue;
      std::string out = framed(*reply);
      if (::send(conn.fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) return false;
      if (mode_ == Mode::CloseAfterAnswer) return false;
    }
    return true;
  }

  const Mode mode_;
  uint16_t port_ = 0;
  int listener_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::vector<Conn> conns_;  // the resolver thread's
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> seen_;
  int connections_ = 0;
};

class TcpDnsClient {
 public:
  explicit TcpDnsClient(uint16_t proxy_port) { fd_ = cnpc::agent::testing::connect_loopback(proxy_port, connected_); }
  ~TcpDnsClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send_raw(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  std::optional<std::string> read_reply() { return read_framed(fd_); }
  std::optional<std::string> ask(const std::string& query) {
    if (!send_raw(framed(query))) return std::nullopt;
    return read_reply();
  }
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  // How the proxy ended the connection: 0 for a FIN, the errno of a reset
  // (ECONNRESET); -1 when it sent data instead or did not end it in time.
  int wait_end() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    if (n == 0) return 0;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    return -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class DnsProxyTcpTest : public ::testing::Test {
 protected:
  void start(std::chrono::milliseconds timeout = 5000ms) {
    ProxyOptions options;
    options.bind_ip = "127.0.0.1";
    options.port = 0;
    options.transparent = false;
    options.upstream = SocketAddr{"127.0.0.1", resolver->port()};
    options.upstream_timeout = timeout;
    proxy = std::make_unique<DnsProxy>(options, judge);
  }

  std::unique_ptr<FakeTcpResolver> resolver = std::make_unique<FakeTcpResolver>();
  TestDnsJudge judge;
  std::unique_ptr<DnsProxy> proxy;
};

TEST_F(DnsProxyTcpTest, AllowedNameGetsTheResolversAnswer) {
  start();
  TcpDnsClient client(proxy->port());
  ASSERT_TRUE(client.connected());
  auto reply = client.ask(make_query("www.example.com", ns_t_a, 0x1234));
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 0x1234);
  EXPECT_EQ(rcode_of(*reply), 0);
  EXPECT_EQ(count_of(*reply, 6), 1);  // ANCOUNT
  EXPECT_EQ(resolver->seen(), std::vector<std::string>{"www.example.com"});

  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].qname, "www.example.com");
  EXPECT_EQ(records[0].qtypes, std::vector<std::string>{"A"});
  EXPECT_EQ(records[0].rcode, 0);
  EXPECT_EQ(records[0].ips, std::vector<std::string>{"192.0.2.1"});
  EXPECT_TRUE(records[0].allowed);

  auto flows = judge.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].ip_proto, IPPROTO_TCP);
  EXPECT_EQ(flows[0].client.ip, "127.0.0.1");
  EXPECT_EQ(flows[0].server, (SocketAddr{"127.0.0.1", resolver->port()}));
}

TEST_F(DnsProxyTcpTest, DeniedNameIsRefused) {
  start();
  TcpDnsClient client(proxy->port());
  std::string query = make_query("x.deny.example", ns_t_a, 0xbeef);
  auto reply = client.ask(query);
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 0xbeef);
  EXPECT_EQ(rcode_of(*reply), 5);
  EXPECT_TRUE(static_cast<unsigned char>((*reply)[2]) & 0x80);  // QR
  EXPECT_EQ(count_of(*reply, 4), 1);                           // the question is kept
  EXPECT_EQ(count_of(*reply, 6), 0);                           // no answers
  EXPECT_EQ(reply->substr(HFIXEDSZ), query.substr(HFIXEDSZ));  // same question bytes
  EXPECT_TRUE(resolver->seen().empty());

  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].qname, "x.deny.example");
  EXPECT_FALSE(records[0].allowed);
  EXPECT_EQ(records[0].rcode, 5);
  EXPECT_TRUE(records[0].ips.empty());
}

TEST_F(DnsProxyTcpTest, PipelinedQueriesAreAnsweredInOrder) {
  start();
  TcpDnsClient client(proxy->port());
  // One write: the denied query, answerable at once, waits behind the
  // allowed one, which needs the resolver.
  ASSERT_TRUE(client.send_raw(framed(make_query("www.example.com", ns_t_a, 1)) +
                              framed(make_query("x.deny.example", ns_t_aaaa, 2))));
  auto first = client.read_reply();
  auto second = client.read_reply();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(message_id(*first), 1);
  EXPECT_EQ(rcode_of(*first), 0);
  EXPECT_EQ(count_of(*first, 6), 1);
  EXPECT_EQ(message_id(*second), 2);
  EXPECT_EQ(rcode_of(*second), 5);
  EXPECT_EQ(resolver->seen(), std::vector<std::string>{"www.example.com"});

  auto records = judge.wait_records(2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].qname, "www.example.com");
  EXPECT_TRUE(records[0].allowed);
  EXPECT_EQ(records[1].qname, "x.deny.example");
  EXPECT_EQ(records[1].qtypes, std::vector<std::string>{"AAAA"});
  EXPECT_FALSE(records[1].allowed);
  EXPECT_EQ(judge.flows().size(), 1u);  // admitted once per connection
}

TEST_F(DnsProxyTcpTest, HalfClosedClientStillGetsEveryAnswer) {
  start();
  TcpDnsClient client(proxy->port());
  ASSERT_TRUE(client.send_raw(framed(make_query("a.example.com", ns_t_a, 10)) +
                              framed(make_query("b.example.com", ns_t_a, 11))));
  client.shutdown_write();
  auto first = client.read_reply();
  auto second = client.read_reply();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(message_id(*first), 10);
  EXPECT_EQ(message_id(*second), 11);
  EXPECT_EQ(client.wait_end(), 0);  // then a FIN
}

TEST_F(DnsProxyTcpTest, EveryQueryIsRecordedOnceAsTcp) {
  start();
  {
    TcpDnsClient client(proxy->port());
    EXPECT_TRUE(client.ask(make_query("a.example.com", ns_t_a, 1)));
    EXPECT_TRUE(client.ask(make_query("x.deny.example", ns_t_a, 2)));
    EXPECT_TRUE(client.ask(make_query("b.example.com", ns_t_aaaa, 3)));
  }
  proxy.reset();  // joins every thread: no record can come later
  auto records = judge.records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].qname, "a.example.com");
  EXPECT_EQ(records[1].qname, "x.deny.example");
  EXPECT_EQ(records[2].qname, "b.example.com");
  EXPECT_EQ(records[2].ips, std::vector<std::string>{"2001:db8::1"});
  for (const ProxiedFlow& flow : judge.record_flows()) EXPECT_EQ(flow.ip_proto, IPPROTO_TCP);
  EXPECT_EQ(judge.flows().size(), 1u);
}

TEST_F(DnsProxyTcpTest, ResolverTimeoutGivesServfailAndTheConnectionGoesOn) {
  start(200ms);
  TcpDnsClient client(proxy->port());
  auto reply = client.ask(make_query("hang.example.com", ns_t_a, 42));
  ASSERT_TRUE(reply);
  EXPECT_EQ(message_id(*reply), 42);
  EXPECT_EQ(rcode_of(*reply), 2);
  // The next query gets a fresh upstream connection (the old one may still
  // bring the late answer to the first).
  auto next = client.ask(make_query("www.example.com", ns_t_a, 43));
  ASSERT_TRUE(next);
  EXPECT_EQ(message_id(*next), 43);
  EXPECT_EQ(rcode_of(*next), 0);

  auto records = judge.wait_records(2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].rcode, 2);
  EXPECT_TRUE(records[0].allowed);
  EXPECT_EQ(records[1].rcode, 0);
}

TEST_F(DnsProxyTcpTest, UpstreamConnectionIsKeptAcrossQueries) {
  start();
  TcpDnsClient client(proxy->port());
  for (uint16_t id = 1; id <= 3; ++id) {
    auto reply = client.ask(make_query("www.example.com", ns_t_a, id));
    ASSERT_TRUE(reply);
    EXPECT_EQ(message_id(*reply), id);
  }
  EXPECT_EQ(resolver->connections(), 1);
}

TEST_F(DnsProxyTcpTest, UpstreamClosedIsReopened) {
  resolver = std::make_unique<FakeTcpResolver>(FakeTcpResolver::Mode::CloseAfterAnswer);
  start();
  TcpDnsClient client(proxy->port());
  for (uint16_t id = 1; id <= 3; ++id) {
    auto reply = client.ask(make_query("www.example.com", ns_t_a, id));
    ASSERT_TRUE(reply);
    EXPECT_EQ(message_id(*reply), id);
    EXPECT_EQ(rcode_of(*reply), 0);
  }
  EXPECT_EQ(resolver->connections(), 3);
}

TEST_F(DnsProxyTcpTest, QueryOnAKeptConnectionTheResolverClosedIsRetried) {
  resolver = std::make_unique<FakeTcpResolver>(FakeTcpResolver::Mode::HangUpOnSecondQuery);
  start();
  TcpDnsClient client(proxy->port());
  auto first = client.ask(make_query("a.example.com", ns_t_a, 1));
  ASSERT_TRUE(first);
  auto second = client.ask(make_query("b.example.com", ns_t_a, 2));
  ASSERT_TRUE(second);
  EXPECT_EQ(message_id(*second), 2);
  EXPECT_EQ(rcode_of(*second), 0);  // not SERVFAIL: resent on a new connection
  EXPECT_EQ(resolver->connections(), 2);
  EXPECT_EQ(resolver->seen(), (std::vector<std::string>{"a.example.com", "b.example.com", "b.example.com"}));
}

TEST_F(DnsProxyTcpTest, AdmitRefusalResetsTheConnection) {
  judge.refuse_all();
  start();
  TcpDnsClient client(proxy->port());
  ASSERT_TRUE(client.connected());
  EXPECT_EQ(client.wait_end(), ECONNRESET);
  EXPECT_EQ(judge.flows().size(), 1u);
  EXPECT_TRUE(judge.records().empty());
}

TEST_F(DnsProxyTcpTest, MalformedLengthClosesTheConnection) {
  start();
  TcpDnsClient client(proxy->port());
  ASSERT_TRUE(client.send_raw(std::string("\x00\x03" "abc", 5)));  // shorter than a DNS header
  EXPECT_NE(client.wait_end(), -1);
  // Others are still served.
  TcpDnsClient again(proxy->port());
  EXPECT_TRUE(again.ask(make_query("www.example.com", ns_t_a, 3)));
  proxy.reset();
  EXPECT_EQ(judge.records().size(), 1u);
}

TEST_F(DnsProxyTcpTest, MalformedMessageClosesTheConnection) {
  start();
  TcpDnsClient client(proxy->port());
  EXPECT_TRUE(client.ask(make_query("www.example.com", ns_t_a, 1)));
  ASSERT_TRUE(client.send_raw(framed("not a dns message at all")));
  EXPECT_NE(client.wait_end(), -1);
  proxy.reset();
  EXPECT_EQ(judge.records().size(), 1u);
  EXPECT_EQ(resolver->seen().size(), 1u);
}

TEST_F(DnsProxyTcpTest, UdpAndTcpShareThePort) {
  start();
  DnsClient udp(proxy->port());
  auto refused = udp.ask(make_query("x.deny.example", ns_t_a, 5));  // answered by the proxy itself
  ASSERT_TRUE(refused);
  EXPECT_EQ(rcode_of(*refused), 5);
  TcpDnsClient tcp(proxy->port());
  auto reply = tcp.ask(make_query("www.example.com", ns_t_a, 6));
  ASSERT_TRUE(reply);
  EXPECT_EQ(rcode_of(*reply), 0);
  auto flows = judge.flows();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].ip_proto + flows[1].ip_proto, IPPROTO_UDP + IPPROTO_TCP);
}

TEST_F(DnsProxyTcpTest, StoppingClosesConnectionsWithoutAnswering) {
  start(std::chrono::minutes(10));
  TcpDnsClient idle(proxy->port());
  TcpDnsClient waiting(proxy->port());
  ASSERT_TRUE(waiting.send_raw(framed(make_query("hang.example.com", ns_t_a, 7))));
  resolver->wait_seen(1);  // the query is with the resolver, which never answers
  ASSERT_EQ(resolver->seen().size(), 1u);
  proxy.reset();  // must not wait for the upstream timeout
  EXPECT_EQ(waiting.wait_end(), 0);  // closed, no SERVFAIL
  EXPECT_EQ(idle.wait_end(), 0);
  EXPECT_TRUE(judge.records().empty());
}

}  // namespace
