#include <arpa/inet.h>

#include <cstring>

#include "cnpc/ir/ir.h"

namespace cnpc::ir {

std::optional<IpAddr> IpAddr::parse(const std::string& text) {
  IpAddr ip;
  if (text.find(':') != std::string::npos) {
    in6_addr a6{};
    if (inet_pton(AF_INET6, text.c_str(), &a6) != 1) return std::nullopt;
    ip.v6 = true;
    std::memcpy(ip.bytes.data(), &a6, 16);
    return ip;
  }
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) != 1) return std::nullopt;
  std::memcpy(ip.bytes.data(), &a4, 4);
  return ip;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

namespace {
int width(bool v6) { return v6 ? 128 : 32; }

bool prefix_equal(const IpAddr& a, const IpAddr& b, int prefix) {
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), b.bytes.data(), size_t(full)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = uint8_t(0xff << (8 - rest));
  return (a.bytes[size_t(full)] & mask) == (b.bytes[size_t(full)] & mask);
}
}  // namespace

std::optional<Cidr> Cidr::parse(const std::string& text) {
  auto slash = text.find('/');
  auto ip = IpAddr::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int prefix = width(ip->v6);
  if (slash != std::string::npos) {
    std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3) return std::nullopt;
    for (char c : p)
      if (c < '0' || c > '9') return std::nullopt;
    prefix = std::stoi(p);
    if (prefix > width(ip->v6)) return std::nullopt;
  }
  Cidr c;
  c.prefix = prefix;
  c.addr.v6 = ip->v6;
  for (int bit = 0; bit < prefix; ++bit)
    if (ip->bytes[size_t(bit / 8)] & (0x80 >> (bit % 8)))
      c.addr.bytes[size_t(bit / 8)] |= uint8_t(0x80 >> (bit % 8));
  return c;
}

bool Cidr::contains(const IpAddr& ip) const {
  return ip.v6 == addr.v6 && prefix_equal(addr, ip, prefix);
}

bool Cidr::contains(const Cidr& other) const {
  return other.addr.v6 == addr.v6 && other.prefix >= prefix &&
         prefix_equal(addr, other.addr, prefix);
}

std::string Cidr::to_string() const { return addr.to_string() + "/" + std::to_string(prefix); }

}  // namespace cnpc::ir
