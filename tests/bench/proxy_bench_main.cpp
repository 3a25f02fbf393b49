// Runs HttpProxy non-transparent on 127.0.0.1 in front of an upstream, for
// tests/bench/proxy_bench.sh. The judge admits everything and allows a
// request when one of N path rules (RE2, tried in order) matches; the only
// rule that matches the benchmark's /api/posts is the last one, so every
// request pays for all N (N = 0: allow-all without regex).
//   cnpc_proxy_bench --port P --upstream IP:PORT [--rules N]
#include <re2/re2.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "proxy.h"

namespace {

class BenchJudge : public cnpc::agent::HttpJudge {
 public:
  explicit BenchJudge(int rules) {
    for (int i = 0; i + 1 < rules; ++i) rules_.push_back(std::make_unique<RE2>("/internal/v" + std::to_string(i) + "/.*"));
    if (rules > 0) rules_.push_back(std::make_unique<RE2>("/api/.*"));
  }
  std::optional<uint32_t> admit(const cnpc::agent::ProxiedFlow&) override { return 0u; }
  bool allow(const cnpc::agent::ProxiedFlow&, const cnpc::ir::HttpRequest& request) override {
    if (rules_.empty()) return true;
    for (const auto& rule : rules_)
      if (RE2::FullMatch(request.path, *rule)) return true;
    return false;
  }
  void record(const cnpc::agent::ProxiedFlow&, const cnpc::agent::HttpExchange&) override {}

 private:
  std::vector<std::unique_ptr<RE2>> rules_;
};

}  // namespace

int main(int argc, char** argv) {
  cnpc::agent::ProxyOptions options;
  options.bind_ip = "127.0.0.1";
  options.transparent = false;
  int rules = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--port") {
      options.port = static_cast<uint16_t>(std::atoi(value.c_str()));
    } else if (flag == "--upstream") {
      auto colon = value.rfind(':');
      if (colon == std::string::npos) return 2;
      options.upstream = cnpc::agent::SocketAddr{value.substr(0, colon),
                                                 static_cast<uint16_t>(std::atoi(value.c_str() + colon + 1))};
    } else if (flag == "--rules") {
      rules = std::atoi(value.c_str());
    } else {
      return 2;
    }
  }
  if (!options.upstream || argc % 2 == 0) {
    std::fprintf(stderr, "usage: %s --port P --upstream IP:PORT [--rules N]\n", argv[0]);
    return 2;
  }
  // Block the signals before the proxy's threads start so only sigwait sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  BenchJudge judge(rules);
  cnpc::agent::HttpProxy proxy(options, judge);
  std::printf("listening on 127.0.0.1:%u\n", proxy.port());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  return 0;
}
