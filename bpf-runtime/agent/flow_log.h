// The agent's flow log: Hubble jsonpb lines, appended whole under a lock by
// the event loop and the proxies' threads alike, and flushed by the event
// loop every 100 ms — not per line: a proxy writes one per request, and a
// write(2) each would cost the proxy ~10% of its throughput.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

#include "hubble_flow.h"

namespace cnpc::agent {

class FlowLog {
 public:
  // path "-": standard output. Creates the parent directory when missing.
  // Throws std::runtime_error.
  explicit FlowLog(const std::string& path);
  FlowLog(const FlowLog&) = delete;
  FlowLog& operator=(const FlowLog&) = delete;
  ~FlowLog();
  void write(const FlowRecord& record);
  void flush();

 private:
  std::mutex mutex_;
  FILE* out_ = nullptr;
};

}  // namespace cnpc::agent
