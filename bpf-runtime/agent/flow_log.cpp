#include "flow_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace cnpc::agent {

FlowLog::FlowLog(const std::string& path) {
  if (path == "-") {
    out_ = stdout;
    return;
  }
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  out_ = std::fopen(path.c_str(), "a");
  if (!out_) throw std::runtime_error("cannot open the flow log " + path + ": " + std::strerror(errno));
  // Large enough that a burst between two flushes rarely splits a line.
  std::setvbuf(out_, nullptr, _IOFBF, 1 << 20);
}

FlowLog::~FlowLog() {
  if (out_ && out_ != stdout) std::fclose(out_);
}

void FlowLog::write(const FlowRecord& record) {
  std::string line = to_hubble_json(record).dump();
  line += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
}

void FlowLog::flush() {
  std::lock_guard lock(mutex_);
  std::fflush(out_);
}

}  // namespace cnpc::agent
