#include "proxy_route.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "cnpc/runtime/abi.h"

namespace cnpc::agent {
namespace {

// Runs iproute2's `ip` without a shell; returns its exit status and stderr.
int run_ip(const std::vector<std::string>& args, std::string* err) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::dup2(pipefd[1], 2);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    std::vector<char*> argv{const_cast<char*>("ip")};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execvp("ip", argv.data());
    std::perror("ip");
    ::_exit(127);
  }
  ::close(pipefd[1]);
  char buf[512];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof(buf))) > 0;)
    if (err) err->append(buf, size_t(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string to_proxy_mark() {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%x",
                runtime::make_mark(runtime::kRedirect, runtime::kReasonToProxy));
  return buf;
}

}  // namespace

ProxyRoute::ProxyRoute(int table) : table_(table) {
  std::string t = std::to_string(table), err;
  // A rule left by an agent that died: replace, do not stack.
  run_ip({"rule", "del", "fwmark", to_proxy_mark(), "lookup", t}, nullptr);
  if (run_ip({"route", "replace", "local", "0.0.0.0/0", "dev", "lo", "table", t}, &err) != 0)
    throw std::runtime_error("ip route replace local 0.0.0.0/0 dev lo table " + t + ": " + err);
  if (run_ip({"rule", "add", "fwmark", to_proxy_mark(), "lookup", t, "pref", "90"}, &err) != 0) {
    run_ip({"route", "flush", "table", t}, nullptr);
    throw std::runtime_error("ip rule add fwmark " + to_proxy_mark() + " lookup " + t + ": " + err);
  }
}

ProxyRoute::~ProxyRoute() {
  std::string t = std::to_string(table_);
  run_ip({"rule", "del", "fwmark", to_proxy_mark(), "lookup", t}, nullptr);
  run_ip({"route", "flush", "table", t}, nullptr);
}

}  // namespace cnpc::agent
