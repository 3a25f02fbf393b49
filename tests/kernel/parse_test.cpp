// cnpc.h's parser and ipcache lookup in the kernel: test_prog.bpf.c's
// test_parse writes what it parsed into test_out[0], which we read back.
#include <arpa/inet.h>

#include <cstring>
#include <iostream>

#include "kernel_test.h"

using namespace cnpc::runtime;
using cnpc::kernel_test::TestResult;

namespace {

class Parse : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    if (!bpf_available(&why)) return;
    try {
      obj_ = new LoadedObject(LoadedObject::load(CNPC_TEST_PROG));
    } catch (const std::exception& e) {
      load_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete obj_;
    obj_ = nullptr;
  }
  void SetUp() override {
    CNPC_REQUIRE_BPF();
    ASSERT_NE(obj_, nullptr) << load_error_;
  }

  struct Parsed {
    TestResult out;
    RunResult run;
  };
  Parsed parse(const PacketSpec& spec) { return parse_bytes(build_packet(spec)); }
  Parsed parse_bytes(const std::vector<uint8_t>& bytes) {
    uint32_t zero = 0;
    TestResult clean{};
    obj_->map_update("test_out", &zero, &clean);
    Parsed p{};
    p.run = test_run(obj_->program_fd("test_parse"), bytes);
    EXPECT_TRUE(obj_->map_lookup("test_out", &zero, &p.out));
    EXPECT_EQ(p.out.runs, 1u) << "test_parse did not run";
    return p;
  }
  void set_class(const std::string& prefix, uint32_t class_id) {
    IpcacheKey key = ipcache_key(prefix);
    IpcacheValue value{class_id};
    obj_->map_update(kIpcacheMap, &key, &value);
  }
  void clear_class(const std::string& prefix) {
    IpcacheKey key = ipcache_key(prefix);
    obj_->map_delete(kIpcacheMap, &key);
  }
  static void expect_parsed(const Parsed& p, int family, int proto, int pidx, int sport, int dport) {
    EXPECT_EQ(p.out.ret, 0);
    EXPECT_EQ(p.out.pkt.family, family);
    EXPECT_EQ(p.out.pkt.proto, proto);
    EXPECT_EQ(p.out.pkt.pidx, pidx);
    EXPECT_EQ(p.out.pkt.sport, sport);
    EXPECT_EQ(p.out.pkt.dport, dport);
    EXPECT_EQ(p.out.pkt.later_fragment, 0);
    EXPECT_EQ(p.run.retval, kTcActOk);
    EXPECT_EQ(p.run.verdict, kAllow);
    EXPECT_EQ(p.run.reason, kReasonNone);
  }
  static void expect_malformed(const Parsed& p) {
    EXPECT_EQ(p.out.ret, -1);
    EXPECT_EQ(p.run.retval, kTcActShot);
    EXPECT_EQ(p.run.mark, make_mark(kDrop, kReasonMalformed));
    EXPECT_EQ(p.run.verdict, kDrop);
    EXPECT_EQ(p.run.reason, kReasonMalformed);
  }

  static LoadedObject* obj_;
  static std::string load_error_;
};
LoadedObject* Parse::obj_ = nullptr;
std::string Parse::load_error_;

PacketSpec v6(PacketSpec s = {}) {
  s.family = 6;
  s.src = "fd00::1";
  s.dst = "fd00::2";
  return s;
}

TEST_F(Parse, Ipv4TcpUdpSctp) {
  PacketSpec s;
  auto tcp = parse(s);
  expect_parsed(tcp, 4, 6, kPTcp, 40000, 80);
  in_addr src{}, dst{};
  inet_pton(AF_INET, "10.0.0.1", &src);
  inet_pton(AF_INET, "10.0.0.2", &dst);
  EXPECT_EQ(tcp.out.pkt.saddr[0], src.s_addr);  // network order, as on the wire
  EXPECT_EQ(tcp.out.pkt.daddr[0], dst.s_addr);
  EXPECT_EQ(tcp.out.pkt.saddr[1] | tcp.out.pkt.saddr[2] | tcp.out.pkt.saddr[3], 0u);

  s.proto = 17;
  s.sport = 5353;
  s.dport = 53;
  expect_parsed(parse(s), 4, 17, kPUdp, 5353, 53);
  s.proto = 132;
  s.dport = 36412;
  expect_parsed(parse(s), 4, 132, kPSctp, 5353, 36412);
  s.proto = 47;  // GRE: no ports
  expect_parsed(parse(s), 4, 47, kPOther, 0, 0);
}

TEST_F(Parse, Ipv4Options) {
  for (int bytes : {4, 20, 40}) {
    PacketSpec s;
    s.ipv4_options_bytes = bytes;
    s.dport = 8080;
    SCOPED_TRACE(bytes);
    expect_parsed(parse(s), 4, 6, kPTcp, 40000, 8080);
  }
}

TEST_F(Parse, IcmpTypes) {
  PacketSpec s;
  s.proto = 1;
  s.icmp_type = 8;
  expect_parsed(parse(s), 4, 1, kPIcmp, 0, 8);
  s.icmp_type = 0;
  expect_parsed(parse(s), 4, 1, kPIcmp, 0, 0);
  PacketSpec s6 = v6();
  s6.proto = 58;
  s6.icmp_type = 128;
  expect_parsed(parse(s6), 6, 58, kPIcmp6, 0, 128);
  s6.icmp_type = 135;  // neighbour solicitation
  expect_parsed(parse(s6), 6, 58, kPIcmp6, 0, 135);
}

TEST_F(Parse, Ipv6ExtensionHeaders) {
  PacketSpec s = v6();
  auto plain = parse(s);
  expect_parsed(plain, 6, 6, kPTcp, 40000, 80);
  in6_addr src{};
  inet_pton(AF_INET6, "fd00::1", &src);
  EXPECT_EQ(std::memcmp(plain.out.pkt.saddr, &src, 16), 0);

  s.ipv6_ext_headers = {0, 60};  // hop-by-hop + destination options
  expect_parsed(parse(s), 6, 6, kPTcp, 40000, 80);
  s.ipv6_ext_headers = {0, 43, 60};
  s.proto = 17;
  s.dport = 53;
  expect_parsed(parse(s), 6, 17, kPUdp, 40000, 53);
  s.ipv6_ext_headers = {0, 60, 43, 60, 0};  // five: within the parser's six
  expect_parsed(parse(s), 6, 17, kPUdp, 40000, 53);
}

TEST_F(Parse, Fragments) {
  PacketSpec s;
  s.fragment_first = true;
  expect_parsed(parse(s), 4, 6, kPTcp, 40000, 80);  // the first fragment has ports

  s.fragment_first = false;
  s.fragment_later = true;
  auto later = parse(s);
  EXPECT_EQ(later.out.ret, 0);
  EXPECT_EQ(later.out.pkt.later_fragment, 1);
  EXPECT_EQ(later.out.pkt.proto, 6);
  EXPECT_EQ(later.out.pkt.sport, 0);  // payload bytes are not read as ports
  EXPECT_EQ(later.out.pkt.dport, 0);
  EXPECT_EQ(later.run.reason, kReasonFragment);

  PacketSpec s6 = v6();
  s6.ipv6_ext_headers = {0};
  s6.fragment_first = true;
  expect_parsed(parse(s6), 6, 6, kPTcp, 40000, 80);
  s6.fragment_first = false;
  s6.fragment_later = true;
  auto later6 = parse(s6);
  EXPECT_EQ(later6.out.ret, 0);
  EXPECT_EQ(later6.out.pkt.later_fragment, 1);
  EXPECT_EQ(later6.out.pkt.proto, 6);
  EXPECT_EQ(later6.out.pkt.dport, 0);
  EXPECT_EQ(later6.run.reason, kReasonFragment);

  // A later fragment needs no L4 bytes at all.
  s.truncate_to = 14 + 20;
  EXPECT_EQ(parse(s).out.ret, 0);
}

TEST_F(Parse, TruncatedHeadersAreMalformed) {
  // The kernel refuses to test-run frames shorter than an Ethernet header,
  // and (6.18 at least) IP frames whose fixed IPv4/IPv6 header is cut; the
  // parser's checks for those exist for the verifier and for real traffic.
  // Either outcome is right: refused, or parsed as malformed.
  auto refused_or_malformed = [&](const PacketSpec& spec) {
    auto bytes = build_packet(spec);
    try {
      test_run(obj_->program_fd("test_parse"), bytes);
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("Invalid argument"), std::string::npos) << e.what();
      return;
    }
    expect_malformed(parse_bytes(bytes));
  };
  PacketSpec s;
  for (size_t cut : {13, 14, 15, 33}) {  // no or a partial IPv4 header
    s.truncate_to = cut;
    SCOPED_TRACE(cut);
    refused_or_malformed(s);
  }
  s.ipv4_options_bytes = 8;
  s.truncate_to = 14 + 24;  // options cut: L4 lies beyond the end
  expect_malformed(parse(s));
  s.ipv4_options_bytes = 0;
  s.truncate_to = 14 + 20 + 3;  // 3 bytes of TCP: no destination port
  expect_malformed(parse(s));
  s.truncate_to = 14 + 20 + 4;  // both ports present: enough for the parser
  expect_parsed(parse(s), 4, 6, kPTcp, 40000, 80);
  s.truncate_to = 14 + 20;  // no L4 at all
  expect_malformed(parse(s));
  s.proto = 17;
  s.truncate_to = 14 + 20 + 2;
  expect_malformed(parse(s));
  s.proto = 132;
  expect_malformed(parse(s));
  s.proto = 1;
  s.truncate_to = 14 + 20;  // ICMP without its type byte
  expect_malformed(parse(s));

  PacketSpec s6 = v6();
  for (size_t cut : {14, 20, 14 + 39}) {  // no or a partial IPv6 header
    s6.truncate_to = cut;
    SCOPED_TRACE(cut);
    refused_or_malformed(s6);
  }
  s6.truncate_to = 14 + 40 + 3;
  expect_malformed(parse(s6));
  s6.ipv6_ext_headers = {0, 60};
  s6.truncate_to = 14 + 40 + 8 + 1;  // inside the second extension header
  expect_malformed(parse(s6));
  s6.truncate_to = 14 + 40 + 16 + 2;  // ports cut after both extension headers
  expect_malformed(parse(s6));
  s6.ipv6_ext_headers = {};
  s6.fragment_first = true;
  s6.truncate_to = 14 + 40 + 4;  // a cut fragment header
  expect_malformed(parse(s6));
  s6 = v6();
  s6.proto = 58;
  s6.truncate_to = 14 + 40;  // ICMPv6 without its type byte
  expect_malformed(parse(s6));
}

TEST_F(Parse, InvalidIpHeadersAreMalformed) {
  auto b = build_packet(PacketSpec{});
  b[14] = 0x65;  // version 6 under an IPv4 ethertype
  expect_malformed(parse_bytes(b));
  b[14] = 0x44;  // ihl 4 < 5
  expect_malformed(parse_bytes(b));
}

TEST_F(Parse, NonIpPassesUntouched) {
  for (uint16_t ethertype : {0x0806, 0x88CC, 0x8100}) {  // ARP, LLDP, VLAN tag
    PacketSpec s;
    s.ethertype = ethertype;
    SCOPED_TRACE(ethertype);
    auto p = parse(s);
    EXPECT_EQ(p.out.ret, 1);
    EXPECT_EQ(p.run.retval, kTcActOk);
    EXPECT_EQ(p.run.mark, 0u);
    EXPECT_EQ(p.run.verdict, 0);
  }
}

TEST_F(Parse, IpcacheLongestPrefixWins) {
  set_class("0.0.0.0/0", 4);
  set_class("10.0.0.0/8", 1);
  set_class("10.1.0.0/16", 2);
  set_class("10.1.2.3/32", 3);
  set_class("::/0", 5);
  set_class("fd00::/8", 6);
  set_class("fd00::1/128", 7);

  auto src_class = [&](int family, const char* src) {
    PacketSpec s;
    if (family == 6) s = v6();
    s.src = src;
    return parse(s).out.src_class;
  };
  EXPECT_EQ(src_class(4, "10.1.2.3"), 3u);
  EXPECT_EQ(src_class(4, "10.1.2.4"), 2u);
  EXPECT_EQ(src_class(4, "10.2.0.1"), 1u);
  EXPECT_EQ(src_class(4, "11.0.0.1"), 4u);
  EXPECT_EQ(src_class(6, "fd00::1"), 7u);
  EXPECT_EQ(src_class(6, "fd00::2"), 6u);
  EXPECT_EQ(src_class(6, "2001:db8::1"), 5u);
  // Same leading bytes as 10.1.2.3: the family in the key keeps them apart.
  EXPECT_EQ(src_class(6, "a01:203::"), 5u);

  PacketSpec both;
  both.src = "10.1.2.3";
  both.dst = "10.9.9.9";
  auto p = parse(both);
  EXPECT_EQ(p.out.src_class, 3u);
  EXPECT_EQ(p.out.dst_class, 1u);

  // Pod churn: the /32 goes, the /16 answers.
  clear_class("10.1.2.3/32");
  EXPECT_EQ(src_class(4, "10.1.2.3"), 2u);
  // No IPv4 default: a miss, even though ::/0 exists.
  clear_class("0.0.0.0/0");
  EXPECT_EQ(src_class(4, "11.0.0.1"), kNoClass);
  clear_class("::/0");
  EXPECT_EQ(src_class(6, "2001:db8::1"), kNoClass);
  for (const char* prefix : {"10.0.0.0/8", "10.1.0.0/16", "fd00::/8", "fd00::1/128"}) clear_class(prefix);
}

TEST_F(Parse, VerifiedInstructionCounts) {
  EXPECT_GT(obj_->xlated_insns("test_parse"), 20u);
  EXPECT_GE(obj_->verified_insns("test_parse"), obj_->xlated_insns("test_parse") / 2);
  EXPECT_EQ(obj_->xlated_insns("test_empty"), 2u);
  EXPECT_GT(obj_->load_ns(), 0u);
  EXPECT_THROW(obj_->program_fd("nope"), std::out_of_range);
  EXPECT_THROW(obj_->map_fd("nope"), std::out_of_range);
}

// Harness cost: the mean ns of BPF_PROG_TEST_RUN on an empty tc program
// (printed; benchmarks subtract it).
TEST_F(Parse, TestRunOverhead) {
  auto packet = build_packet(PacketSpec{});
  RunResult empty = test_run(obj_->program_fd("test_empty"), packet, 1000000);
  EXPECT_EQ(empty.retval, kTcActOk);
  RunResult parsed = test_run(obj_->program_fd("test_parse"), packet, 1000000);
  EXPECT_EQ(parsed.verdict, kAllow);
  std::cout << "[ overhead ] empty tc program: " << empty.duration_ns
            << " ns/run; test_parse (parse, 2 ipcache lookups, mark; the event only until the ring fills): "
            << parsed.duration_ns << " ns/run (repeat 1e6)\n";
  RecordProperty("empty_ns", int(empty.duration_ns));
  RecordProperty("parse_ns", int(parsed.duration_ns));
}

}  // namespace
