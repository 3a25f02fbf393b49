// Loading cnpc bundles into the kernel and running packets through them.
//
// The only part of cnpc that talks to bpf(2) (through libbpf, which stays a
// private dependency: nothing here includes its headers). Used by the agent,
// the kernel tests (BPF_PROG_TEST_RUN against the reference evaluator) and
// the benchmarks. Every call that fails throws std::runtime_error with the
// reason (errno text, libbpf's messages, the verifier log).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cnpc/runtime/abi.h"

namespace cnpc::runtime {

// Whether this process can load and run BPF programs (root or CAP_BPF +
// CAP_NET_ADMIN, bpf() not disabled): it loads a two-instruction tc program
// and test-runs it once. When not, `why` (if given) says why.
bool bpf_available(std::string* why);

// What to put on the wire. The frame is Ethernet + IPv4/IPv6 + L4, no
// payload; checksums are left zero (tc test runs do not check them).
struct PacketSpec {
  int family = 4;  // 4 or 6
  std::string src = "10.0.0.1", dst = "10.0.0.2";  // textual addresses of `family`
  uint8_t proto = 6;  // TCP 6, UDP 17, SCTP 132, ICMP 1, ICMPv6 58; others get 8 payload bytes
  uint16_t sport = 40000, dport = 80;
  uint8_t icmp_type = 8;
  int ipv4_options_bytes = 0;  // multiple of 4, up to 40 (NOPs)
  // Next-header codes (0 hop-by-hop, 43 routing, 60 destination options)
  // inserted in this order before L4 (and before a fragment header), 8 bytes each.
  std::vector<uint8_t> ipv6_ext_headers;
  // First: offset 0 with MF (IPv4) or a fragment header with M (IPv6).
  // Later: offset 1480, the last fragment. A later fragment carries 8
  // payload bytes instead of the L4 header.
  bool fragment_first = false, fragment_later = false;
  size_t truncate_to = 0;  // cut the frame to this many bytes (0: keep)
  uint16_t ethertype = 0x0800;  // 0x86DD is set for family 6; other values (ARP 0x0806): no IP header
  bool tcp_syn = true;  // SYN, else ACK
};
// Throws std::invalid_argument on a bad address or option length.
std::vector<uint8_t> build_packet(const PacketSpec& spec);

struct RunResult {
  int retval = -1;        // the tc action (kTcActOk, kTcActShot)
  uint32_t mark = 0;      // skb->mark after the run
  int verdict = 0;        // decoded from a cnpc mark (kAllow…), 0 when unmarked
  int reason = 0;         // kReason*
  uint32_t duration_ns = 0;  // mean ns per run as the kernel reports it
};
// BPF_PROG_TEST_RUN of a tc program on `packet` (at least 14 bytes: the
// kernel refuses shorter frames), `repeat` times. The skb's ifindex is 1 (lo).
RunResult test_run(int prog_fd, const std::vector<uint8_t>& packet, uint32_t repeat = 1);

// The ipcache key of "10.0.1.0/24", "fd00::1/128" or a bare address (a host
// prefix). Host bits are cleared. Throws std::invalid_argument.
IpcacheKey ipcache_key(std::string_view prefix);

// SHA-256 as lower-case hex (the manifest's hashes).
std::string sha256_hex(std::string_view bytes);

struct ProgramInfo {
  std::string object;  // file name inside the bundle, e.g. "prog-3f2a….bpf.o"
  std::vector<uint32_t> classes;  // metadata.json programs[].classes
  int ingress_fd = -1, egress_fd = -1;  // cnpc_ingress, cnpc_egress
  // Instructions after verification (xlated, what runs) and instructions
  // the verifier processed (its cost; the budget is 1,000,000).
  uint32_t ingress_insns = 0, egress_insns = 0;
  uint32_t ingress_verified_insns = 0, egress_verified_insns = 0;
  uint64_t load_ns = 0;  // wall time of open + load (verification) of this object
};

class LoadedBundle {
 public:
  // Verifies manifest.json (format, every listed file's sha256; metadata,
  // ipcache, objects and maps files must be listed), then loads every
  // object of metadata.json programs[] through the verifier with one shared
  // cnpc_ipcache and one shared cnpc_events (bpf_map__reuse_fd), fills the
  // ipcache from ipcache.json and each object's table maps from the
  // file programs[].maps names (else prog-<hash>.maps.json). Throws
  // std::runtime_error (with the libbpf / verifier log when loading failed).
  // Not thread-safe; test_run() on its fds is.
  // reuse_ct_fd: the cnpc_ct of the bundle this one replaces, so that
  // connections established before a reload stay established.
  static LoadedBundle load(const std::string& dir, int reuse_ct_fd = -1);

  LoadedBundle(LoadedBundle&&) noexcept;
  LoadedBundle& operator=(LoadedBundle&&) noexcept;
  ~LoadedBundle();  // closes every program and map

  const std::vector<ProgramInfo>& programs() const;
  // The program enforcing for a class (metadata.json programs[].classes);
  // throws std::out_of_range when no program lists it.
  const ProgramInfo& program_for_class(uint32_t class_id) const;
  // Via metadata.json endpoints[].program; nullptr for an unknown endpoint.
  const ProgramInfo* program_for_endpoint(const std::string& name) const;

  // Pod churn: an ipcache update, never a reload.
  void ipcache_update(const std::string& prefix, uint32_t class_id);
  void ipcache_delete(const std::string& prefix);  // no-op when absent

  int events_fd() const;
  int ipcache_fd() const;
  int ct_fd() const;

  // Steering to the L7 proxies (cnpc_steer, cnpc_proxy_ports; see cnpc.h).
  void steer_update(const SteerKey& key, uint32_t kind);
  void set_proxy_port(uint32_t kind, uint16_t port);  // kind kProxyOn: 1 when any proxy runs
  // Events submitted since the last drain (non-blocking). The ring holds
  // 1 MiB (~13k events); programs drop events, never packets, when full.
  std::vector<Event> drain_events();

 private:
  struct Impl;
  explicit LoadedBundle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One object on its own (tests, benchmarks of hand-written programs): open,
// load every program and map, look them up by name.
class LoadedObject {
 public:
  static LoadedObject load(const std::string& path);

  LoadedObject(LoadedObject&&) noexcept;
  LoadedObject& operator=(LoadedObject&&) noexcept;
  ~LoadedObject();

  int program_fd(const std::string& name) const;  // throws std::out_of_range
  int map_fd(const std::string& name) const;      // throws std::out_of_range
  uint32_t verified_insns(const std::string& prog) const;  // processed by the verifier
  uint32_t xlated_insns(const std::string& prog) const;    // after verification
  uint64_t load_ns() const;

  // Raw map access; key and value must have the map's key/value sizes.
  void map_update(const std::string& map, const void* key, const void* value);
  bool map_lookup(const std::string& map, const void* key, void* value) const;
  void map_delete(const std::string& map, const void* key);  // no-op when absent

 private:
  struct Impl;
  explicit LoadedObject(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cnpc::runtime
