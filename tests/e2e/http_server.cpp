// A small HTTP/1.1 server for the e2e tests and the proxy benchmark: answers
// every request (any method, keep-alive, pipelined) with 200 and the body
// "METHOD TARGET ok\n". Requests are parsed with http-parser; each thread
// runs its own epoll loop over its own SO_REUSEPORT listener, so the kernel
// spreads connections and no state is shared.
//   cnpc_e2e_http_server --listen IP:PORT [--threads N]   (N > 1 needs a fixed PORT)
#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct Connection {
  int fd = -1;
  http_parser parser{};
  std::string method, target, out;
  bool close_after_write = false;
};

int on_url(http_parser* parser, const char* at, size_t len) {
  static_cast<Connection*>(parser->data)->target.append(at, len);
  return 0;
}

int on_message_begin(http_parser* parser) {
  auto* conn = static_cast<Connection*>(parser->data);
  conn->target.clear();
  return 0;
}

int on_message_complete(http_parser* parser) {
  auto* conn = static_cast<Connection*>(parser->data);
  conn->method = http_method_str(static_cast<http_method>(parser->method));
  std::string body = conn->method;
  body += ' ';
  body += conn->target;
  body += " ok\n";
  bool keep_alive = http_should_keep_alive(parser) != 0;
  std::string& out = conn->out;
  out += "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += keep_alive ? "\r\n\r\n" : "\r\nConnection: close\r\n\r\n";
  if (parser->method != HTTP_HEAD) out += body;
  if (!keep_alive) {
    conn->close_after_write = true;
    http_parser_pause(parser, 1);  // nothing after this request is answered
  }
  return 0;
}

const http_parser_settings& settings() {
  static const http_parser_settings s = [] {
    http_parser_settings init;
    http_parser_settings_init(&init);
    init.on_message_begin = on_message_begin;
    init.on_url = on_url;
    init.on_message_complete = on_message_complete;
    return init;
  }();
  return s;
}

int make_listener(const sockaddr_in& addr) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1024) != 0) {
    std::perror("http_server: listen");
    std::exit(1);
  }
  return fd;
}

// Writes what it can; false when the connection should be closed.
bool flush(Connection& conn) {
  while (!conn.out.empty()) {
    ssize_t n = send(conn.fd, conn.out.data(), conn.out.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    conn.out.erase(0, static_cast<size_t>(n));
  }
  return !conn.close_after_write;
}

void serve(int listener) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, std::unique_ptr<Connection>> conns;
  std::vector<epoll_event> events(256);
  std::vector<char> buf(64 * 1024);
  auto drop = [&](int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns.erase(fd);
  };
  while (true) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        while (true) {
          int c = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          auto conn = std::make_unique<Connection>();
          conn->fd = c;
          http_parser_init(&conn->parser, HTTP_REQUEST);
          conn->parser.data = conn.get();
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          conns[c] = std::move(conn);
        }
        continue;
      }
      auto it = conns.find(fd);
      if (it == conns.end()) continue;
      Connection& conn = *it->second;
      bool keep = true;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t got = read(fd, buf.data(), buf.size());
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
          keep = false;
        } else if (got > 0 && !conn.close_after_write) {
          size_t parsed = http_parser_execute(&conn.parser, &settings(), buf.data(), static_cast<size_t>(got));
          auto err = HTTP_PARSER_ERRNO(&conn.parser);
          if (err != HPE_OK && err != HPE_PAUSED) {
            conn.out += "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            conn.close_after_write = true;
          }
          (void)parsed;
        }
      }
      if (keep) keep = flush(conn);
      if (!keep) {
        drop(fd);
        continue;
      }
      epoll_event mod{};
      mod.events = conn.out.empty() ? EPOLLIN : (EPOLLIN | EPOLLOUT);
      mod.data.fd = fd;
      epoll_ctl(ep, EPOLL_CTL_MOD, fd, &mod);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_at;
  int threads = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--listen" && i + 1 < argc) {
      listen_at = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s --listen IP:PORT [--threads N]\n", argv[0]);
      return 2;
    }
  }
  auto colon = listen_at.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || inet_pton(AF_INET, listen_at.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "http_server: --listen IP:PORT (IPv4) required\n");
    return 2;
  }
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(listen_at.c_str() + colon + 1)));
  std::vector<std::thread> workers;
  for (int i = 1; i < threads; ++i) workers.emplace_back([addr] { serve(make_listener(addr)); });
  serve(make_listener(addr));
}
