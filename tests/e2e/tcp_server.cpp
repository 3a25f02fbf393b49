// A minimal TCP server for the e2e test (Debian minimal has no socat/nc):
// listens on PORT (all addresses), answers every connection with "ok\n".
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(std::atoi(argv[1])));
  if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) || listen(s, 64)) {
    std::perror("tcp_server");
    return 1;
  }
  for (;;) {
    int c = accept(s, nullptr, nullptr);
    if (c < 0) continue;
    (void)!write(c, "ok\n", 3);
    close(c);
  }
}
