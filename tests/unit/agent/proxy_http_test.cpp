// HttpProxy in non-transparent mode on 127.0.0.1: a real upstream server in
// a thread, real client sockets. No timing assertions: waits have generous
// deadlines that only turn a hang into a failure.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "loopback.h"
#include "proxy.h"

namespace {

using namespace cnpc::agent;
using namespace std::chrono_literals;

constexpr std::string_view kForbidden =
    "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nAccess denied";

int listen_loopback(uint16_t& port) { return cnpc::agent::testing::bind_loopback(SOCK_STREAM, port); }
using cnpc::agent::testing::send_all;

// What the upstream saw, one entry per complete request.
struct SeenRequest {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers)
      if (strcasecmp(n.c_str(), std::string(name).c_str()) == 0) return v;
    return "";
  }
};

// A keep-alive HTTP/1.1 server answering "METHOD TARGET ok\n". Targets with
// special behaviour: /slow answers after a pause (so later pipelined answers
// would overtake it if the proxy did not keep order), /hang never answers,
// /close answers with Connection: close.
class UpstreamServer {
 public:
  UpstreamServer() {
    listen_fd_ = listen_loopback(port_);
    if (::pipe(stop_pipe_) != 0) std::abort();
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~UpstreamServer() {
    (void)!::write(stop_pipe_[1], "x", 1);
    acceptor_.join();
    for (auto& t : connections_) t.join();
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
  }
  uint16_t port() const { return port_; }
  std::vector<SeenRequest> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }
  int connections() const { return accepted_.load(); }

 private:
  struct Session {
    UpstreamServer* server;
    int fd;
    SeenRequest current;
    bool in_value = false;
    std::string field, value;
    bool close = false;
  };

  void accept_loop() {
    while (true) {
      pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      ::poll(fds, 2, -1);
      if (fds[0].revents) return;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++accepted_;
      connections_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_message_begin = [](http_parser* p) {
      auto* s = static_cast<Session*>(p->data);
      s->current = {};
      s->field.clear();
      s->value.clear();
      s->in_value = false;
      return 0;
    };
    settings.on_url = [](http_parser* p, const char* at, size_t len) {
      static_cast<Session*>(p->data)->current.target.append(at, len);
      return 0;
    };
    settings.on_header_field = [](http_parser* p, const char* at, size_t len) {
      auto* s = static_cast<Session*>(p->data);
      if (s->in_value) {
        s->current.headers.emplace_back(s->field, s->value);
        s->field.clear();
        s->value.clear();
        s->in_value = false;
      }
      s->field.append(at, len);
      return 0;
    };
    settings.on_header_value = [](http_parser* p, const char* at, size_t len) {
      auto* s = static_cast<Session*>(p->data);
      s->in_value = true;
      s->value.append(at, len);
      return 0;
    };
    settings.on_headers_complete = [](http_parser* p) {
      auto* s = static_cast<Session*>(p->data);
      if (s->in_value) s->current.headers.emplace_back(s->field, s->value);
      s->current.method = http_method_str(static_cast<http_method>(p->method));
      return 0;
    };
    settings.on_body = [](http_parser* p, const char* at, size_t len) {
      static_cast<Session*>(p->data)->current.body.append(at, len);
      return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      auto* s = static_cast<Session*>(p->data);
      s->server->respond(*s);
      return 0;
    };
    Session session{this, fd, {}, false, {}, {}, false};
    http_parser parser;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &session;
    char buf[16384];
    while (!session.close) {
      pollfd fds[2] = {{stop_pipe_[0], POLLIN, 0}, {fd, POLLIN, 0}};
      ::poll(fds, 2, -1);
      if (fds[0].revents) break;
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      size_t parsed = http_parser_execute(&parser, &settings, buf, static_cast<size_t>(n));
      if (parsed != static_cast<size_t>(n)) break;
    }
    ::close(fd);
  }

  void respond(Session& s) {
    {
      std::lock_guard lock(mutex_);
      seen_.push_back(s.current);
    }
    const std::string& target = s.current.target;
    if (target == "/hang") return;
    if (target == "/slow") std::this_thread::sleep_for(200ms);
    std::string body = s.current.method;
    body += ' ';
    body += target;
    body += " ok\n";
    std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ";
    response += std::to_string(body.size());
    response += "\r\n";
    if (target == "/close") {
      response += "Connection: close\r\n";
      s.close = true;
    }
    response += "\r\n";
    if (s.current.method != "HEAD") response += body;
    send_all(s.fd, response);
  }

  uint16_t port_ = 0;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::list<std::thread> connections_;  // only the acceptor adds, joined after it
  std::mutex mutex_;
  std::vector<SeenRequest> seen_;
};

// Denies targets under /deny and every DELETE; records everything.
class TestJudge : public HttpJudge {
 public:
  std::optional<uint32_t> admit(const ProxiedFlow& flow) override {
    std::lock_guard lock(mutex_);
    admitted_.push_back(flow);
    if (refuse_) return std::nullopt;
    return 0u;
  }
  bool allow(const ProxiedFlow&, const cnpc::ir::HttpRequest& request) override {
    std::lock_guard lock(mutex_);
    asked_.push_back(request);
    return !request.path.starts_with("/deny") && request.method != "DELETE";
  }
  void record(const ProxiedFlow&, const HttpExchange& exchange) override {
    std::lock_guard lock(mutex_);
    records_.push_back(exchange);
    changed_.notify_all();
  }
  void refuse_all() {
    std::lock_guard lock(mutex_);
    refuse_ = true;
  }
  // Records are made after the client's bytes were written: wait for them.
  std::vector<HttpExchange> wait_records(size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 10s, [&] { return records_.size() >= count; });
    return records_;
  }
  std::vector<cnpc::ir::HttpRequest> asked() {
    std::lock_guard lock(mutex_);
    return asked_;
  }
  std::vector<ProxiedFlow> admitted() {
    std::lock_guard lock(mutex_);
    return admitted_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool refuse_ = false;
  std::vector<ProxiedFlow> admitted_;
  std::vector<cnpc::ir::HttpRequest> asked_;
  std::vector<HttpExchange> records_;
};

struct Response {
  int status = 0;
  std::string body;
  bool keep_alive = true;
};

// A client socket whose reads give up after 10 s (a hang becomes a failure).
class Client {
 public:
  explicit Client(uint16_t port) { fd_ = cnpc::agent::testing::connect_loopback(port, connected_); }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  bool send(std::string_view bytes) { return send_all(fd_, bytes); }
  int fd() const { return fd_; }

  // Reads until `head_requests.size()` responses were parsed (true entries
  // answer HEAD and carry no body).
  std::vector<Response> read(std::vector<bool> head_requests) {
    struct State {
      std::vector<bool> heads;
      std::vector<Response> done;
      Response current;
    } state{std::move(head_requests), {}, {}};
    http_parser_settings settings;
    http_parser_settings_init(&settings);
    settings.on_headers_complete = [](http_parser* p) {
      auto* s = static_cast<State*>(p->data);
      s->current.status = p->status_code;
      size_t index = s->done.size();
      return index < s->heads.size() && s->heads[index] ? 1 : 0;
    };
    settings.on_body = [](http_parser* p, const char* at, size_t len) {
      static_cast<State*>(p->data)->current.body.append(at, len);
      return 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      auto* s = static_cast<State*>(p->data);
      s->current.keep_alive = http_should_keep_alive(p) != 0;
      s->done.push_back(std::move(s->current));
      s->current = {};
      return 0;
    };
    http_parser_init(&parser_, HTTP_RESPONSE);
    parser_.data = &state;
    size_t want = state.heads.size();
    if (!leftover_.empty()) http_parser_execute(&parser_, &settings, leftover_.data(), leftover_.size());
    leftover_.clear();
    char buf[16384];
    while (state.done.size() < want) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      raw_.append(buf, static_cast<size_t>(n));
      size_t parsed = http_parser_execute(&parser_, &settings, buf, static_cast<size_t>(n));
      if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) break;
      (void)parsed;
    }
    return state.done;
  }

  std::string read_exact(size_t count) {
    std::string out;
    char buf[4096];
    while (out.size() < count) {
      ssize_t n = ::recv(fd_, buf, std::min(sizeof(buf), count - out.size()), 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // True once the proxy closed the connection (EOF or reset), no data first.
  bool closed_without_data() {
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
  }

  const std::string& raw() const { return raw_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  http_parser parser_{};
  std::string leftover_, raw_;
};

std::string get(std::string_view target, std::string_view extra_headers = "") {
  std::string out = "GET ";
  out += target;
  out += " HTTP/1.1\r\nHost: example.com\r\n";
  out += extra_headers;
  out += "\r\n";
  return out;
}

std::string with_body(std::string_view method, std::string_view target, std::string_view body) {
  std::string out(method);
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\nHost: example.com\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

class HttpProxyTest : public ::testing::Test {
 protected:
  void start(std::optional<SocketAddr> upstream_addr = std::nullopt,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    ProxyOptions options;
    options.bind_ip = "127.0.0.1";
    options.port = 0;
    options.transparent = false;
    options.upstream = upstream_addr ? *upstream_addr : SocketAddr{"127.0.0.1", upstream.port()};
    options.upstream_timeout = timeout;
    proxy = std::make_unique<HttpProxy>(options, judge);
  }

  // Declared before the proxy: destroyed after it.
  UpstreamServer upstream;
  TestJudge judge;
  std::unique_ptr<HttpProxy> proxy;
};

TEST_F(HttpProxyTest, AllowedGetGetsTheUpstreamResponse) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send(get("/api/posts?x=1", "X-Trace: abc\r\n")));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(responses[0].body, "GET /api/posts?x=1 ok\n");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("X-Trace"), "abc");

  auto asked = judge.asked();
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_EQ(asked[0].method, "GET");
  EXPECT_EQ(asked[0].path, "/api/posts?x=1");  // the request target with its query
  EXPECT_EQ(asked[0].host, "example.com");
  ASSERT_EQ(asked[0].headers.size(), 2u);
  EXPECT_EQ(asked[0].headers[1].first, "X-Trace");  // names as sent
  EXPECT_EQ(asked[0].headers[1].second, "abc");

  auto admitted = judge.admitted();
  ASSERT_EQ(admitted.size(), 1u);
  EXPECT_EQ(admitted[0].client.ip, "127.0.0.1");
  EXPECT_EQ(admitted[0].server, (SocketAddr{"127.0.0.1", upstream.port()}));
}

TEST_F(HttpProxyTest, DeniedPostGetsExact403AndNeverReachesUpstream) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send(with_body("POST", "/deny/posts", "secret=1")));
  EXPECT_EQ(client.read_exact(kForbidden.size()), kForbidden);
  // The connection stays usable.
  ASSERT_TRUE(client.send(get("/after")));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].body, "GET /after ok\n");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/after");
}

TEST_F(HttpProxyTest, KeepAliveMixedRequestsAnsweredInOrder) {
  start();
  Client client(proxy->port());
  const std::vector<std::pair<std::string, std::string>> steps = {
      {get("/a"), "GET /a ok\n"},
      {with_body("DELETE", "/b", ""), "Access denied"},
      {with_body("PUT", "/c", "data"), "PUT /c ok\n"},
      {get("/deny/d"), "Access denied"},
      {get("/e"), "GET /e ok\n"},
  };
  for (const auto& [request, body] : steps) {
    ASSERT_TRUE(client.send(request));
    auto responses = client.read({false});
    ASSERT_EQ(responses.size(), 1u) << request;
    EXPECT_EQ(responses[0].body, body);
    EXPECT_EQ(responses[0].status, body == "Access denied" ? 403 : 200);
  }
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].body, "data");
  EXPECT_EQ(upstream.connections(), 1);  // one upstream connection, reused
}

TEST_F(HttpProxyTest, PipelinedRequestsAnsweredInOrder) {
  start();
  Client client(proxy->port());
  std::string batch = get("/one") + get("/deny/two") + with_body("POST", "/three", "hello body") +
                      with_body("POST", "/deny/four", "secret body") + get("/five");
  ASSERT_TRUE(client.send(batch));
  auto responses = client.read({false, false, false, false, false});
  ASSERT_EQ(responses.size(), 5u);
  EXPECT_EQ(responses[0].body, "GET /one ok\n");
  EXPECT_EQ(responses[1].status, 403);
  EXPECT_EQ(responses[2].body, "POST /three ok\n");
  EXPECT_EQ(responses[3].status, 403);
  EXPECT_EQ(responses[4].body, "GET /five ok\n");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].target, "/one");
  EXPECT_EQ(seen[1].target, "/three");
  EXPECT_EQ(seen[1].body, "hello body");
  EXPECT_EQ(seen[2].target, "/five");
  EXPECT_EQ(seen[2].body, "");
}

// The 403 is ready at once, the response before it is not: it must wait.
TEST_F(HttpProxyTest, DeniedResponseWaitsForSlowEarlierResponse) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send(get("/slow") + get("/deny/x") + get("/after")));
  auto responses = client.read({false, false, false});
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "GET /slow ok\n");
  EXPECT_EQ(responses[1].status, 403);
  EXPECT_EQ(responses[2].body, "GET /after ok\n");
}

TEST_F(HttpProxyTest, HeadResponseHasNoBody) {
  start();
  Client client(proxy->port());
  std::string head = "HEAD /h HTTP/1.1\r\nHost: example.com\r\n\r\n";
  ASSERT_TRUE(client.send(head + get("/g")));
  auto responses = client.read({true, false});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(responses[0].body, "");
  EXPECT_EQ(responses[1].body, "GET /g ok\n");
}

TEST_F(HttpProxyTest, ChunkedBodyIsForwarded) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send("POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_TRUE(client.send("5\r\nhello\r\n"));
  ASSERT_TRUE(client.send("6\r\n world\r\n0\r\n\r\n"));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].body, "POST /upload ok\n");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].body, "hello world");
  EXPECT_EQ(seen[0].header("Transfer-Encoding"), "chunked");
}

TEST_F(HttpProxyTest, DeniedChunkedBodyIsDiscarded) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send(
      "POST /deny/upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n" +
      get("/next")));
  auto responses = client.read({false, false});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 403);
  EXPECT_EQ(responses[1].body, "GET /next ok\n");
  auto seen = upstream.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].target, "/next");
}

TEST_F(HttpProxyTest, AdmitRefusalClosesTheConnection) {
  judge.refuse_all();
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.connected());
  client.send(get("/x"));
  EXPECT_TRUE(client.closed_without_data());
  EXPECT_TRUE(judge.asked().empty());
  EXPECT_TRUE(upstream.seen().empty());
}

TEST_F(HttpProxyTest, MalformedRequestGets400AndClose) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send("THIS IS NOT HTTP\r\n\r\n"));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 400);
  EXPECT_TRUE(client.closed_without_data());
  EXPECT_TRUE(upstream.seen().empty());
}

TEST_F(HttpProxyTest, ClientConnectionCloseIsHonoured) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send(get("/bye", "Connection: close\r\n")));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].body, "GET /bye ok\n");
  EXPECT_TRUE(client.closed_without_data());
}

TEST_F(HttpProxyTest, UpstreamConnectionCloseIsHonoured) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send(get("/close")));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_FALSE(responses[0].keep_alive);
  EXPECT_TRUE(client.closed_without_data());
}

TEST_F(HttpProxyTest, UpstreamDownGives503) {
  uint16_t dead_port = 0;
  int placeholder = listen_loopback(dead_port);
  ::close(placeholder);  // nothing listens there any more
  start(SocketAddr{"127.0.0.1", dead_port});
  Client client(proxy->port());
  ASSERT_TRUE(client.send(get("/x") + get("/deny/y")));
  auto responses = client.read({false, false});
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 503);
  EXPECT_EQ(responses[1].status, 403);
  auto records = judge.wait_records(2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].status, 503);
  EXPECT_TRUE(records[0].allowed);
}

TEST_F(HttpProxyTest, UpstreamTimeoutGives504) {
  start(std::nullopt, std::chrono::milliseconds(200));
  Client client(proxy->port());
  ASSERT_TRUE(client.send(get("/hang")));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 504);
  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].status, 504);
}

TEST_F(HttpProxyTest, RecordsOneExchangeEach) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send(get("/one?q=2") + get("/deny/two")));
  ASSERT_EQ(client.read({false, false}).size(), 2u);
  auto records = judge.wait_records(2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].url, "http://example.com/one?q=2");
  EXPECT_EQ(records[0].status, 200);
  EXPECT_TRUE(records[0].allowed);
  EXPECT_EQ(records[0].request.method, "GET");
  EXPECT_EQ(records[1].url, "http://example.com/deny/two");
  EXPECT_EQ(records[1].status, 403);
  EXPECT_FALSE(records[1].allowed);
  EXPECT_GE(records[0].latency.count(), 0);
}

TEST_F(HttpProxyTest, UrlFallsBackToServerAddressWithoutHost) {
  start();
  Client client(proxy->port());
  ASSERT_TRUE(client.send("GET /nohost HTTP/1.0\r\n\r\n"));
  auto responses = client.read({false});
  ASSERT_EQ(responses.size(), 1u);
  auto records = judge.wait_records(1);
  ASSERT_EQ(records.size(), 1u);
  std::string expected = "http://127.0.0.1:";
  expected += std::to_string(upstream.port());
  expected += "/nohost";
  EXPECT_EQ(records[0].url, expected);
}

TEST_F(HttpProxyTest, DestructorStopsOpenConnections) {
  start();
  Client idle(proxy->port());
  Client busy(proxy->port());
  ASSERT_TRUE(busy.send(get("/hang")));
  // Both connections are served (admitted) before the proxy goes.
  for (int i = 0; i < 1000 && judge.admitted().size() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(judge.admitted().size(), 2u);
  proxy.reset();  // must return: joins every connection thread
  EXPECT_TRUE(idle.closed_without_data());
}

}  // namespace
