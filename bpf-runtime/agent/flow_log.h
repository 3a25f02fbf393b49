// The agent's flow log: Hubble jsonpb lines, written whole (one write per
// line under a lock) by the event loop and the proxies' threads alike.
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

 private:
  std::mutex mutex_;
  FILE* out_ = nullptr;
};

}  // namespace cnpc::agent
