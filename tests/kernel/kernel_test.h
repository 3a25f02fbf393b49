// Shared by the kernel tests: the BPF precondition and the test object.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "cnpc/runtime/runtime.h"

namespace cnpc::kernel_test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::strcmp(ci, "true") == 0;
}

// Skips the test with the reason when BPF is unavailable; in CI (which runs
// as root) that is a failure, never a silent pass.
#define CNPC_REQUIRE_BPF()                                                               \
  do {                                                                                   \
    std::string why_;                                                                    \
    if (!cnpc::runtime::bpf_available(&why_)) {                                          \
      if (cnpc::kernel_test::in_ci()) FAIL() << "BPF unavailable under CI=true: " << why_; \
      GTEST_SKIP() << "BPF unavailable: " << why_;                                       \
    }                                                                                    \
  } while (0)

// tests/kernel/programs/test_prog.bpf.c's test_out value.
struct TestResult {
  runtime::ParsedPkt pkt;
  int32_t ret;
  uint32_t src_class, dst_class, runs;
};
static_assert(sizeof(TestResult) == 56);

}  // namespace cnpc::kernel_test
