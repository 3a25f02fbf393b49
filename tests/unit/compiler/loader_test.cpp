// Inputs that break yaml-cpp 0.7 on its own: the frontend must answer with
// an error at a location, quickly, never hang or exhaust memory.
#include <gtest/gtest.h>

#include "cnpc/compiler/frontend.h"

using namespace cnpc;

namespace {
const ir::Diagnostic* load_error(const std::string& text, ir::Diagnostics& diags) {
  frontend::LoadResult r;
  frontend::load_text("x.yaml", text, {}, r, diags);
  for (const auto& d : diags.all())
    if (d.severity == ir::Severity::Error) return &d;
  return nullptr;
}
}  // namespace

TEST(Loader, StrayCommaAfterAFlowNodeIsAnErrorNotAHang) {
  ir::Diagnostics diags;
  auto* d = load_error("{},\n", diags);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->check, "yaml-syntax");
  EXPECT_EQ(d->loc.line, 1);
}

TEST(Loader, ExcessiveAliasingIsRejectedAsKubectlDoes) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 9; ++k) text += ", " + prev;
    text += "]\n";
  }
  ir::Diagnostics diags;
  auto* d = load_error(text, diags);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->message, "document contains excessive aliasing");
}

TEST(Loader, DeepNestingIsAnError) {
  ir::Diagnostics diags;
  auto* d = load_error(std::string(5000, '[') + "\n", diags);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->check, "yaml-syntax");
}
