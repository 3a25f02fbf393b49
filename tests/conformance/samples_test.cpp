// The blog-system sample: its policies and inventory must produce exactly
// what samples/blog-system/expectations.yaml says, with the same rules as
// `cnpc query --flows --expect`: an expected "denied" also accepts a flow
// allowed at L3/L4 whose request is denied at L7, unless an l7 expectation is
// spelled out.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cnpc/compiler/frontend.h"
#include "cnpc/ir/diagnostics.h"
#include "cnpc/ir/evaluator.h"

namespace cnpc {
namespace {

namespace fs = std::filesystem;

const fs::path kSample = fs::path(CNPC_SOURCE_DIR) / "samples" / "blog-system";

std::string Describe(const frontend::FlowQuery& q) {
  std::ostringstream s;
  s << q.loc.file << ':' << q.loc.line << " '" << q.name << "' " << q.src << " -> " << q.dst
    << ' ' << q.proto;
  if (q.port) s << '/' << *q.port;
  if (q.has_http) s << ' ' << q.http_method << ' ' << q.http_path;
  if (q.dns_name) s << " dns " << *q.dns_name;
  return s.str();
}

class BlogSystem : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_directory(kSample)) << kSample;
    std::vector<std::string> paths = {(kSample / "policies").string(),
                                      (kSample / "inventory.yaml").string()};
    frontend::load_paths(paths, {}, result_, diags_);
    for (const auto& d : diags_.all())
      EXPECT_NE(d.severity, ir::Severity::Error) << ir::render_text(diags_, d, false);
    EXPECT_EQ(result_.rejected_objects, 0u);
    evaluator_.emplace(result_.policies, result_.inventory);
    queries_ = frontend::load_flow_queries((kSample / "expectations.yaml").string(), diags_);
    for (const auto& d : diags_.all())
      ASSERT_NE(d.severity, ir::Severity::Error) << ir::render_text(diags_, d, false);
  }

  // The same translation as `cnpc query` (compiler/cli/query.cpp build_flow).
  std::optional<ir::Flow> BuildFlow(const frontend::FlowQuery& q) {
    ir::Flow f;
    auto src = evaluator_->resolve(q.src, &f.src_ip);
    auto dst = evaluator_->resolve(q.dst, &f.dst_ip);
    if (!src || !dst) {
      ADD_FAILURE() << Describe(q) << ": unknown endpoint " << (src ? q.dst : q.src);
      return std::nullopt;
    }
    f.src = *src;
    f.dst = *dst;
    auto proto = ir::parse_proto(q.proto);
    if (!proto || *proto == ir::Proto::Any) {
      ADD_FAILURE() << Describe(q) << ": bad protocol";
      return std::nullopt;
    }
    f.proto = *proto;
    f.ip_proto = uint8_t(*proto);
    if (f.proto == ir::Proto::ICMP || f.proto == ir::Proto::ICMPv6) {
      f.icmp_type = uint8_t(q.icmp_type.value_or(0));
    } else {
      if (!q.port) {
        ADD_FAILURE() << Describe(q) << ": no port";
        return std::nullopt;
      }
      f.port = uint16_t(*q.port);
    }
    if (q.has_http) {
      ir::L7Request r;
      r.kind = ir::L7Kind::Http;
      r.http.method = q.http_method;
      r.http.path = q.http_path;
      r.http.host = q.http_host;
      r.http.headers = q.http_headers;
      f.l7 = r;
    } else if (q.dns_name) {
      ir::L7Request r;
      r.kind = ir::L7Kind::Dns;
      r.dns_name = *q.dns_name;
      f.l7 = r;
    }
    return f;
  }

  frontend::LoadResult result_;
  ir::Diagnostics diags_;
  std::optional<ir::Evaluator> evaluator_;
  std::vector<frontend::FlowQuery> queries_;
};

TEST_F(BlogSystem, LoadsPoliciesAndInventory) {
  EXPECT_GE(result_.policy_objects, 4u);
  EXPECT_FALSE(result_.policies.rules.empty());
  for (const char* ep : {"blog-system/web", "blog-system/was", "blog-system/mysql",
                         "blog-system/stray", "kube-system/coredns"})
    EXPECT_TRUE(evaluator_->resolve(ep, nullptr).has_value()) << ep;
}

TEST_F(BlogSystem, EveryExpectationHolds) {
  ASSERT_FALSE(queries_.empty()) << "no flows in expectations.yaml";
  size_t checked = 0;
  for (const auto& q : queries_) {
    SCOPED_TRACE(Describe(q));
    ASSERT_TRUE(q.expect_verdict || q.expect_l7_verdict) << "flow without an expectation";
    auto flow = BuildFlow(q);
    if (!flow) continue;
    const ir::Decision d = evaluator_->decide(*flow);
    const std::string verdict = ir::to_string(d.verdict);
    const std::optional<std::string> l7 =
        d.l7_verdict ? std::optional<std::string>(ir::to_string(*d.l7_verdict)) : std::nullopt;
    if (q.expect_verdict) {
      const bool l7_denied = l7 == std::optional<std::string>("denied");
      if (*q.expect_verdict == "denied" && !q.expect_l7_verdict && verdict == "allowed") {
        EXPECT_TRUE(l7_denied) << "expected denied (at L3/L4 or L7), got allowed with l7 "
                               << l7.value_or("-");
      } else {
        EXPECT_EQ(verdict, *q.expect_verdict);
      }
      // An unqualified "allowed" means the request, if any, passes too.
      if (*q.expect_verdict == "allowed" && !q.expect_l7_verdict) {
        EXPECT_FALSE(l7_denied) << "allowed at L3/L4 but the request is denied at L7";
      }
    }
    if (q.expect_l7_verdict) {
      EXPECT_EQ(l7.value_or("(none)"), *q.expect_l7_verdict);
      EXPECT_TRUE(d.l7_enforced) << "an L7 verdict without L7 enforcement";
    }
    ++checked;
  }
  EXPECT_EQ(checked, queries_.size());
}

}  // namespace
}  // namespace cnpc
