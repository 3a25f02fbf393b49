// build_packet, ipcache_key and sha256_hex: pure functions, checked byte by
// byte (no bpf() needed).
#include <arpa/inet.h>

#include <cstring>

#include "kernel_test.h"

using namespace cnpc::runtime;

namespace {

uint16_t be16(const std::vector<uint8_t>& b, size_t at) { return uint16_t(b[at] << 8 | b[at + 1]); }

std::vector<uint8_t> addr_bytes(int family, const char* text) {
  std::vector<uint8_t> out(family == 6 ? 16 : 4);
  EXPECT_EQ(inet_pton(family == 6 ? AF_INET6 : AF_INET, text, out.data()), 1);
  return out;
}

std::vector<uint8_t> slice(const std::vector<uint8_t>& b, size_t at, size_t n) {
  return {b.begin() + long(at), b.begin() + long(at + n)};
}

TEST(BuildPacket, Ipv4Tcp) {
  PacketSpec s;
  auto b = build_packet(s);
  ASSERT_EQ(b.size(), 14u + 20 + 20);
  EXPECT_EQ(be16(b, 12), 0x0800);
  EXPECT_EQ(b[14], 0x45);              // version 4, ihl 5
  EXPECT_EQ(be16(b, 16), 40);          // total length
  EXPECT_EQ(be16(b, 20), 0);           // not a fragment
  EXPECT_EQ(b[23], 6);                 // protocol
  EXPECT_EQ(slice(b, 26, 4), addr_bytes(4, "10.0.0.1"));
  EXPECT_EQ(slice(b, 30, 4), addr_bytes(4, "10.0.0.2"));
  EXPECT_EQ(be16(b, 34), 40000);
  EXPECT_EQ(be16(b, 36), 80);
  EXPECT_EQ(b[46], 0x50);  // data offset 5
  EXPECT_EQ(b[47], 0x02);  // SYN
  // The IPv4 header checksum is filled in (handy in packet dumps).
  uint32_t sum = 0;
  for (size_t i = 14; i < 34; i += 2) sum += be16(b, i);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  EXPECT_EQ(sum, 0xFFFFu);

  s.tcp_syn = false;
  EXPECT_EQ(build_packet(s)[47], 0x10);  // ACK
}

TEST(BuildPacket, Ipv4UdpSctpIcmp) {
  PacketSpec s;
  s.proto = 17;
  s.sport = 5353;
  s.dport = 53;
  auto udp = build_packet(s);
  ASSERT_EQ(udp.size(), 14u + 20 + 8);
  EXPECT_EQ(udp[23], 17);
  EXPECT_EQ(be16(udp, 34), 5353);
  EXPECT_EQ(be16(udp, 36), 53);
  EXPECT_EQ(be16(udp, 38), 8);  // UDP length

  s.proto = 132;
  auto sctp = build_packet(s);
  ASSERT_EQ(sctp.size(), 14u + 20 + 12);
  EXPECT_EQ(be16(sctp, 36), 53);

  s.proto = 1;
  s.icmp_type = 0;
  auto icmp = build_packet(s);
  ASSERT_EQ(icmp.size(), 14u + 20 + 8);
  EXPECT_EQ(icmp[34], 0);  // echo reply
}

TEST(BuildPacket, Ipv4Options) {
  PacketSpec s;
  s.ipv4_options_bytes = 12;
  auto b = build_packet(s);
  ASSERT_EQ(b.size(), 14u + 32 + 20);
  EXPECT_EQ(b[14], 0x48);  // ihl 8
  EXPECT_EQ(be16(b, 16), 52);
  EXPECT_EQ(b[34], 0x01);  // NOP
  EXPECT_EQ(be16(b, 46), 40000);
  EXPECT_EQ(be16(b, 48), 80);
  s.ipv4_options_bytes = 40;
  EXPECT_EQ(build_packet(s)[14], 0x4F);
  s.ipv4_options_bytes = 6;
  EXPECT_THROW(build_packet(s), std::invalid_argument);
  s.ipv4_options_bytes = 44;
  EXPECT_THROW(build_packet(s), std::invalid_argument);
}

TEST(BuildPacket, Ipv4Fragments) {
  PacketSpec s;
  s.fragment_first = true;
  auto first = build_packet(s);
  EXPECT_EQ(be16(first, 20), 0x2000);  // MF, offset 0
  EXPECT_EQ(be16(first, 36), 80);      // the first fragment has the L4 header
  s.fragment_first = false;
  s.fragment_later = true;
  auto later = build_packet(s);
  EXPECT_EQ(be16(later, 20), 1480 / 8);
  ASSERT_EQ(later.size(), 14u + 20 + 8);
  EXPECT_EQ(later[34], 0xAB);  // payload, not ports
}

TEST(BuildPacket, Ipv6WithExtensionHeaders) {
  PacketSpec s;
  s.family = 6;
  s.src = "fd00::1";
  s.dst = "fd00::2";
  auto plain = build_packet(s);
  ASSERT_EQ(plain.size(), 14u + 40 + 20);
  EXPECT_EQ(be16(plain, 12), 0x86DD);
  EXPECT_EQ(plain[14] >> 4, 6);
  EXPECT_EQ(be16(plain, 18), 20);  // payload length
  EXPECT_EQ(plain[20], 6);         // next header
  EXPECT_EQ(slice(plain, 22, 16), addr_bytes(6, "fd00::1"));
  EXPECT_EQ(slice(plain, 38, 16), addr_bytes(6, "fd00::2"));
  EXPECT_EQ(be16(plain, 56), 80);

  s.ipv6_ext_headers = {0, 60};
  auto ext = build_packet(s);
  ASSERT_EQ(ext.size(), 14u + 40 + 16 + 20);
  EXPECT_EQ(ext[20], 0);     // hop-by-hop first
  EXPECT_EQ(ext[54], 60);    // then destination options
  EXPECT_EQ(ext[55], 0);     // 8 bytes
  EXPECT_EQ(ext[56], 1);     // PadN
  EXPECT_EQ(ext[62], 6);     // then TCP
  EXPECT_EQ(be16(ext, 72), 80);
  EXPECT_EQ(be16(ext, 18), 36);

  s.ipv6_ext_headers = {43};
  auto routing = build_packet(s);
  EXPECT_EQ(routing[20], 43);
  EXPECT_EQ(routing[54], 6);
}

TEST(BuildPacket, Ipv6Fragments) {
  PacketSpec s;
  s.family = 6;
  s.src = "fd00::1";
  s.dst = "fd00::2";
  s.ipv6_ext_headers = {0};
  s.fragment_first = true;
  auto first = build_packet(s);
  ASSERT_EQ(first.size(), 14u + 40 + 8 + 8 + 20);
  EXPECT_EQ(first[20], 0);
  EXPECT_EQ(first[54], 44);  // hop-by-hop, then the fragment header
  EXPECT_EQ(first[62], 6);
  EXPECT_EQ(be16(first, 64), 0x0001);  // offset 0, M
  EXPECT_EQ(be16(first, 72), 80);
  s.fragment_first = false;
  s.fragment_later = true;
  auto later = build_packet(s);
  EXPECT_EQ(be16(later, 64), 1480);  // offset 185 << 3, no M
  EXPECT_EQ(later[70], 0xAB);
}

TEST(BuildPacket, TruncateArpAndErrors) {
  PacketSpec s;
  s.truncate_to = 20;
  EXPECT_EQ(build_packet(s).size(), 20u);
  s.truncate_to = 1000;  // longer than the frame: kept
  EXPECT_EQ(build_packet(s).size(), 54u);

  PacketSpec arp;
  arp.ethertype = 0x0806;
  auto a = build_packet(arp);
  ASSERT_EQ(a.size(), 60u);
  EXPECT_EQ(be16(a, 12), 0x0806);
  EXPECT_EQ(be16(a, 14), 1);       // Ethernet
  EXPECT_EQ(be16(a, 16), 0x0800);  // IPv4
  EXPECT_EQ(slice(a, 28, 4), addr_bytes(4, "10.0.0.1"));
  EXPECT_EQ(slice(a, 38, 4), addr_bytes(4, "10.0.0.2"));

  PacketSpec bad;
  bad.src = "fd00::1";  // family 4
  EXPECT_THROW(build_packet(bad), std::invalid_argument);
  bad.family = 5;
  EXPECT_THROW(build_packet(bad), std::invalid_argument);
}

TEST(IpcacheKey, Ipv4AndIpv6) {
  IpcacheKey k = ipcache_key("10.1.2.3/16");
  EXPECT_EQ(k.prefixlen, 32u + 16);
  EXPECT_EQ(k.family, 4);
  EXPECT_EQ(k.pad[0] | k.pad[1] | k.pad[2], 0);
  uint8_t want[16] = {10, 1};  // host bits cleared
  EXPECT_EQ(std::memcmp(k.addr, want, 16), 0);

  k = ipcache_key("10.0.1.10");
  EXPECT_EQ(k.prefixlen, 64u);
  k = ipcache_key("0.0.0.0/0");
  EXPECT_EQ(k.prefixlen, 32u);

  k = ipcache_key("fd00::1/8");
  EXPECT_EQ(k.family, 6);
  EXPECT_EQ(k.prefixlen, 32u + 8);
  uint8_t want6[16] = {0xfd};
  EXPECT_EQ(std::memcmp(k.addr, want6, 16), 0);
  k = ipcache_key("fd00::1");
  EXPECT_EQ(k.prefixlen, 32u + 128);
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(k.addr)[15], 1);

  EXPECT_THROW(ipcache_key("10.0.0.0/33"), std::invalid_argument);
  EXPECT_THROW(ipcache_key("10.0.0.0/"), std::invalid_argument);
  EXPECT_THROW(ipcache_key("10.0.0.0/a"), std::invalid_argument);
  EXPECT_THROW(ipcache_key("fd00::/129"), std::invalid_argument);
  EXPECT_THROW(ipcache_key("pod-a"), std::invalid_argument);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Lengths around the padding boundary (55/56/64 bytes).
  EXPECT_EQ(sha256_hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256_hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256_hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

}  // namespace
