// cnpc-agent: enforce a cnpc bundle on local endpoints (see agent.h).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "agent.h"

int main(int argc, char** argv) {
  CLI::App app{"cnpc-agent: attach a cnpc bundle's programs to local endpoints"};
  cnpc::agent::Options opt;
  bool once = false, watch = false;
  app.add_option("--bundle", opt.bundle, "bundle directory (cnpc compile -o)")->required();
  app.add_option("--endpoints", opt.endpoints, "YAML/JSON list of {name: NS/POD, ip, interface}")->required();
  app.add_option("--pin-dir", opt.pin_dir, "bpffs directory for the shared maps (\"\" disables pinning)")
      ->capture_default_str();
  app.add_option("--events", opt.events, "append flows as Hubble jsonpb lines here (\"-\": stdout)")
      ->capture_default_str();
  app.add_option("--node-name", opt.node_name, "node_name of the flows (default: the host name)");
  app.add_flag("!--no-proxy", opt.proxies, "no L7 proxies: L7 rules are not enforced, their flows pass at L3/L4");
  app.add_option("--http-proxy-port", opt.http_proxy_port, "HTTP proxy port on 127.0.0.1")->capture_default_str();
  app.add_option("--dns-proxy-port", opt.dns_proxy_port, "DNS proxy port on 127.0.0.1")->capture_default_str();
  app.add_option("--lock-file", opt.lock_file, "held while the agent runs: one agent per node")->capture_default_str();
  app.add_flag("--watch", watch, "also reload when the bundle's manifest.json changes (polled every second)");
  app.add_flag("--once", once, "attach, write pending events, detach and exit");
  CLI11_PARSE(app, argc, argv);

  // Signals arrive through a signalfd: the main loop handles them synchronously.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) {
    std::perror("cnpc-agent: signalfd");
    return 1;
  }

  try {
    cnpc::agent::Agent agent(opt);
    if (once) {
      agent.write_events();
      return 0;
    }
    int ticks = 0;
    for (bool running = true; running;) {
      pollfd p{sfd, POLLIN, 0};
      ::poll(&p, 1, 100);  // events are drained every 100 ms
      signalfd_siginfo si;
      while (::read(sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) agent.reload();
        else running = false;
      }
      agent.write_events();
      if (watch && ++ticks % 10 == 0) agent.reload_if_changed();  // manifest poll: every second
    }
  } catch (const std::exception& e) {
    std::cerr << "cnpc-agent: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
