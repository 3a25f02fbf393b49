// DnsProxy in non-transparent mode on 127.0.0.1 with a fake resolver thread.
// Queries are built with res_mkquery; the fake resolver answers A and AAAA
// questions with one fixed record, except for names it must ignore.
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy.h"

namespace {

using namespace cnpc::agent;
using namespace std::chrono_literals;

int udp_socket_on_loopback(uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

std::string first_qname(const unsigned char* msg, size_t len) {
  ns_msg handle;
  ns_rr rr;
  if (ns_initparse(msg, static_cast<int>(len), &handle) != 0 || ns_parserr(&handle, ns_s_qd, 0, &rr) != 0) return "";
  return ns_rr_name(rr);
}

// Answers A with 192.0.2.1 and AAAA with 2001:db8::1; never answers names
// starting with "hang.".
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
      if (name.starts_with("hang.")) continue;
      ns_msg handle;
      ns_rr question;
      ns_initparse(buf, static_cast<int>(n), &handle);
      ns_parserr(&handle, ns_s_qd, 0, &question);
      int qlen = ns_skiprr(buf + HFIXEDSZ, buf + n, ns_s_qd, 1);
      std::string reply(reinterpret_cast<char*>(buf), HFIXEDSZ + static_cast<size_t>(qlen));
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
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
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
  void record(const ProxiedFlow&, const DnsExchange& exchange) override {
    std::lock_guard lock(mutex_);
    records_.push_back(exchange);
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

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool refuse_ = false;
  std::vector<ProxiedFlow> flows_;
  std::vector<DnsExchange> records_;
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

}  // namespace
