// Test frames (build_packet) and ipcache keys: pure functions, no bpf().
#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "cnpc/runtime/runtime.h"

namespace cnpc::runtime {
namespace {

constexpr uint16_t kEthIp = 0x0800, kEthIp6 = 0x86DD, kEthArp = 0x0806;
constexpr uint16_t kLaterFragmentOffset = 1480;  // bytes; a second fragment of a 1500-MTU packet

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
void set16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

void parse_addr(int family, const std::string& text, uint8_t* out) {
  if (inet_pton(family == 6 ? AF_INET6 : AF_INET, text.c_str(), out) != 1)
    throw std::invalid_argument("not an IPv" + std::to_string(family) + " address: '" + text + "'");
}

// L4 header (or, for a later fragment, payload standing in for it).
std::vector<uint8_t> l4_bytes(const PacketSpec& s) {
  std::vector<uint8_t> b;
  if (s.fragment_later) return std::vector<uint8_t>(8, 0xAB);  // not a header: ports must not be read
  switch (s.proto) {
    case 6:  // TCP: ports, seq, ack, data offset 5, flags, window, checksum, urgent
      put16(b, s.sport);
      put16(b, s.dport);
      put32(b, 1);
      put32(b, 0);
      b.push_back(5 << 4);
      b.push_back(s.tcp_syn ? 0x02 : 0x10);
      put16(b, 65535);
      put32(b, 0);
      break;
    case 17:  // UDP: ports, length, checksum
      put16(b, s.sport);
      put16(b, s.dport);
      put16(b, 8);
      put16(b, 0);
      break;
    case 132:  // SCTP common header: ports, verification tag, checksum
      put16(b, s.sport);
      put16(b, s.dport);
      put32(b, 0);
      put32(b, 0);
      break;
    case 1:
    case 58:  // ICMP / ICMPv6 echo: type, code, checksum, id, sequence
      b.push_back(s.icmp_type);
      b.push_back(0);
      put16(b, 0);
      put16(b, 1);
      put16(b, 1);
      break;
    default:
      b.assign(8, 0);
  }
  return b;
}

uint16_t ipv4_checksum(const uint8_t* h, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(h[i]) << 8 | h[i + 1];
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return uint16_t(~sum);
}

}  // namespace

std::vector<uint8_t> build_packet(const PacketSpec& s) {
  if (s.family != 4 && s.family != 6) throw std::invalid_argument("family must be 4 or 6");
  if (s.ipv4_options_bytes < 0 || s.ipv4_options_bytes > 40 || s.ipv4_options_bytes % 4)
    throw std::invalid_argument("ipv4_options_bytes must be a multiple of 4 up to 40");
  uint16_t ethertype = s.ethertype;
  if (s.family == 6 && ethertype == kEthIp) ethertype = kEthIp6;

  std::vector<uint8_t> b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};  // dst, src MAC
  put16(b, ethertype);

  if (ethertype != kEthIp && ethertype != kEthIp6) {
    if (ethertype == kEthArp) {  // request: who has dst? tell src
      uint8_t spa[4]{}, tpa[4]{};
      if (s.family == 4) {
        parse_addr(4, s.src, spa);
        parse_addr(4, s.dst, tpa);
      }
      put16(b, 1);
      put16(b, kEthIp);
      b.push_back(6);
      b.push_back(4);
      put16(b, 1);
      b.insert(b.end(), {0x02, 0, 0, 0, 0, 0x01});
      b.insert(b.end(), spa, spa + 4);
      b.insert(b.end(), 6, 0);
      b.insert(b.end(), tpa, tpa + 4);
    }
    b.resize(60, 0);  // minimum frame
  } else if (s.family == 4) {
    uint8_t src[4], dst[4];
    parse_addr(4, s.src, src);
    parse_addr(4, s.dst, dst);
    std::vector<uint8_t> l4 = l4_bytes(s);
    size_t ihl = 20 + size_t(s.ipv4_options_bytes);
    size_t ip_at = b.size();
    b.push_back(uint8_t(0x40 | ihl / 4));
    b.push_back(0);
    put16(b, uint16_t(ihl + l4.size()));
    put16(b, 0x1234);  // identification
    uint16_t frag = 0;
    if (s.fragment_first) frag = 0x2000;                         // MF, offset 0
    if (s.fragment_later) frag = kLaterFragmentOffset / 8;       // last fragment, offset 1480
    put16(b, frag);
    b.push_back(64);
    b.push_back(s.proto);
    put16(b, 0);
    b.insert(b.end(), src, src + 4);
    b.insert(b.end(), dst, dst + 4);
    b.insert(b.end(), size_t(s.ipv4_options_bytes), 0x01);  // NOP options
    set16(b, ip_at + 10, ipv4_checksum(&b[ip_at], ihl));
    b.insert(b.end(), l4.begin(), l4.end());
  } else {
    uint8_t src[16], dst[16];
    parse_addr(6, s.src, src);
    parse_addr(6, s.dst, dst);
    // The chain of next-header codes: extension headers, a fragment header, L4.
    std::vector<uint8_t> chain = s.ipv6_ext_headers;
    bool frag = s.fragment_first || s.fragment_later;
    if (frag) chain.push_back(44);
    std::vector<uint8_t> ext;
    for (size_t i = 0; i < chain.size(); i++) {
      uint8_t next = i + 1 < chain.size() ? chain[i + 1] : s.proto;
      ext.push_back(next);
      if (chain[i] == 44) {  // fragment: reserved, offset << 3 | M, identification
        ext.push_back(0);
        bool last_one = i + 1 == chain.size() && frag;
        uint16_t off = last_one && s.fragment_later ? kLaterFragmentOffset : 0;
        put16(ext, uint16_t(off | (last_one && s.fragment_first ? 1 : 0)));
        put32(ext, 0x1234);
      } else if (chain[i] == 43) {  // routing: length 0, type 0, segments left 0
        ext.insert(ext.end(), 7, 0);
      } else {  // hop-by-hop, destination options: length 0, PadN over the remaining 4 bytes
        ext.insert(ext.end(), {0, 1, 4, 0, 0, 0, 0});
      }
    }
    std::vector<uint8_t> l4 = l4_bytes(s);
    put32(b, 0x60000000u);
    put16(b, uint16_t(ext.size() + l4.size()));
    b.push_back(chain.empty() ? s.proto : chain[0]);
    b.push_back(64);
    b.insert(b.end(), src, src + 16);
    b.insert(b.end(), dst, dst + 16);
    b.insert(b.end(), ext.begin(), ext.end());
    b.insert(b.end(), l4.begin(), l4.end());
  }
  if (s.truncate_to && s.truncate_to < b.size()) b.resize(s.truncate_to);
  return b;
}

IpcacheKey ipcache_key(std::string_view prefix) {
  std::string text(prefix);
  int max_len = text.find(':') != std::string::npos ? 128 : 32;
  int len = max_len;
  if (size_t slash = text.find('/'); slash != std::string::npos) {
    std::string digits = text.substr(slash + 1);
    text.resize(slash);
    if (digits.empty() || digits.size() > 3 || digits.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("bad prefix length in '" + std::string(prefix) + "'");
    len = std::stoi(digits);
    if (len > max_len) throw std::invalid_argument("prefix length too long in '" + std::string(prefix) + "'");
  }
  IpcacheKey key{};
  uint8_t addr[16]{};
  if (inet_pton(max_len == 128 ? AF_INET6 : AF_INET, text.c_str(), addr) != 1)
    throw std::invalid_argument("not an address prefix: '" + std::string(prefix) + "'");
  for (int bit = len; bit < max_len; bit++) addr[bit / 8] &= uint8_t(~(0x80u >> (bit % 8)));
  key.prefixlen = 32 + uint32_t(len);
  key.family = max_len == 128 ? 6 : 4;
  std::memcpy(key.addr, addr, size_t(max_len / 8));
  return key;
}

}  // namespace cnpc::runtime
