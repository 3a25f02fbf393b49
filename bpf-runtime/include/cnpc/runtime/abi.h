// The user-space view of what generated BPF programs share with the loader:
// the ipcache key/value, the ring-buffer event and the verdict mark.
//
// Mirrors bpf-runtime/include/cnpc/bpf/cnpc.h, which can only be compiled
// for the BPF target. The static_asserts below pin sizes and offsets; the
// kernel test program (tests/kernel/programs/test_prog.bpf.c) asserts the
// same numbers on the BPF side, so a change to one side breaks the build
// until the other follows.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cnpc::runtime {

// skb->mark = kMark | verdict << 8 | reason
inline constexpr uint32_t kMark = 0xC0000000u;
inline constexpr uint32_t kMarkMask = 0xFFFF0000u;

// Verdicts
inline constexpr int kAllow = 1;
inline constexpr int kDrop = 2;
inline constexpr int kRedirect = 3;  // allowed, to the L7 proxy
inline constexpr int kAudit = 4;     // would drop; forwarded in audit mode

// Reasons
inline constexpr int kReasonNone = 0;
inline constexpr int kReasonPolicyDenied = 1;  // default deny, no allow rule
inline constexpr int kReasonPolicyDeny = 2;    // an explicit deny rule
inline constexpr int kReasonMalformed = 3;     // truncated or invalid headers
inline constexpr int kReasonFragment = 4;      // a non-first fragment: no L4 header
inline constexpr int kReasonProxyDown = 5;     // L7 rules apply but their proxy is not listening
inline constexpr int kReasonToProxy = 6;       // REDIRECT: handed to the proxy's socket

// SO_MARK of the proxy's upstream sockets: kProxyMark | the client's class.
inline constexpr uint32_t kProxyMark = 0xB0000000u;
inline constexpr uint32_t kProxyMarkMask = 0xFF000000u;
// L7 kinds of cnpc_steer values and indexes of cnpc_proxy_ports.
inline constexpr uint32_t kL7Http = 1;
inline constexpr uint32_t kL7Dns = 2;
inline constexpr uint32_t kL7Kafka = 3;
inline constexpr uint32_t kProxyOn = 0;  // cnpc_proxy_ports[0]: non-zero when any proxy runs
inline constexpr uint32_t kAnyPeer = 0xFFFFFFFFu;

// Directions (of the endpoint the program enforces for)
inline constexpr int kDirIngress = 0;
inline constexpr int kDirEgress = 1;

// Protocol indexes of the port tables (cnpc_pkt.pidx)
inline constexpr int kPTcp = 0;
inline constexpr int kPUdp = 1;
inline constexpr int kPSctp = 2;
inline constexpr int kPIcmp = 3;
inline constexpr int kPIcmp6 = 4;
inline constexpr int kPOther = 5;

inline constexpr uint32_t kNoRule = 0xFFFFFFFFu;
inline constexpr uint32_t kNoClass = 0xFFFFFFFFu;  // cnpc_class_of() without an ipcache entry

// tc actions (linux/pkt_cls.h)
inline constexpr int kTcActOk = 0;
inline constexpr int kTcActShot = 2;

// Map names every generated object uses.
inline constexpr const char* kIpcacheMap = "cnpc_ipcache";
inline constexpr const char* kEventsMap = "cnpc_events";
inline constexpr const char* kCtMap = "cnpc_ct";
inline constexpr const char* kSteerMap = "cnpc_steer";
inline constexpr const char* kProxyPortsMap = "cnpc_proxy_ports";
// Their definitions in cnpc.h (the loader creates them once with these).
inline constexpr uint32_t kIpcacheMaxEntries = 1u << 20;
inline constexpr uint32_t kEventsRingBytes = 1u << 20;
inline constexpr uint32_t kCtMaxEntries = 1u << 16;
inline constexpr uint32_t kCtKeyBytes = 40;  // struct cnpc_ct_key
inline constexpr uint32_t kCtValueBytes = 8;
inline constexpr uint32_t kSteerMaxEntries = 1u << 16;
inline constexpr uint32_t kProxyPortsEntries = 4;

// struct cnpc_steer_key: (endpoint class, peer class or kAnyPeer, port, IP protocol, kDir*).
struct SteerKey {
  uint32_t class_id;
  uint32_t peer;
  uint16_t port;  // host order
  uint8_t proto;
  uint8_t direction;
};
static_assert(sizeof(SteerKey) == 12);

// struct cnpc_pkt: the parser's output (test programs copy it to maps).
struct ParsedPkt {
  uint32_t saddr[4];  // network byte order, as on the wire
  uint32_t daddr[4];
  uint16_t sport;  // host order
  uint16_t dport;  // host order; the ICMP type for ICMP
  uint8_t family;  // 4 or 6
  uint8_t proto;   // IP protocol number
  uint8_t pidx;    // kP*
  uint8_t later_fragment;
};
static_assert(sizeof(ParsedPkt) == 40);
static_assert(offsetof(ParsedPkt, sport) == 32 && offsetof(ParsedPkt, dport) == 34);
static_assert(offsetof(ParsedPkt, family) == 36 && offsetof(ParsedPkt, later_fragment) == 39);

// struct cnpc_ipcache_key: LPM over (family, padding, address); prefixlen
// counts the 32 bits of family + padding, then the address prefix.
struct IpcacheKey {
  uint32_t prefixlen;
  uint8_t family;  // 4 or 6
  uint8_t pad[3];  // zero
  uint32_t addr[4];  // network byte order; IPv4 in addr[0], the rest zero
};
static_assert(sizeof(IpcacheKey) == 24);
static_assert(offsetof(IpcacheKey, family) == 4 && offsetof(IpcacheKey, addr) == 8);

// struct cnpc_ipcache_value
struct IpcacheValue {
  uint32_t class_id;
};
static_assert(sizeof(IpcacheValue) == 4);

// struct cnpc_event: one per program run, in the cnpc_events ring buffer.
struct Event {
  uint64_t timestamp_ns;  // bpf_ktime_get_ns()
  uint32_t saddr[4];      // network byte order
  uint32_t daddr[4];
  uint16_t sport;  // host order
  uint16_t dport;
  uint8_t family;
  uint8_t proto;
  uint8_t direction;  // kDir*
  uint8_t verdict;    // kAllow…
  uint8_t reason;     // kReason*
  uint8_t pad[3];
  uint32_t rule_id;  // index into metadata.json rules, or kNoRule
  uint32_t subject_class;
  uint32_t peer_class;
  uint32_t ifindex;
};
static_assert(sizeof(Event) == 72);
static_assert(offsetof(Event, saddr) == 8 && offsetof(Event, daddr) == 24);
static_assert(offsetof(Event, sport) == 40 && offsetof(Event, dport) == 42);
static_assert(offsetof(Event, family) == 44 && offsetof(Event, proto) == 45);
static_assert(offsetof(Event, direction) == 46 && offsetof(Event, verdict) == 47);
static_assert(offsetof(Event, reason) == 48 && offsetof(Event, rule_id) == 52);
static_assert(offsetof(Event, subject_class) == 56 && offsetof(Event, peer_class) == 60);
static_assert(offsetof(Event, ifindex) == 64);

// The verdict and reason of a mark; 0 and 0 when the mark is not ours.
inline constexpr bool is_cnpc_mark(uint32_t mark) { return (mark & kMarkMask) == kMark; }
inline constexpr int mark_verdict(uint32_t mark) { return is_cnpc_mark(mark) ? int(mark >> 8 & 0xFF) : 0; }
inline constexpr int mark_reason(uint32_t mark) { return is_cnpc_mark(mark) ? int(mark & 0xFF) : 0; }
inline constexpr uint32_t make_mark(int verdict, int reason) {
  return kMark | uint32_t(verdict) << 8 | uint32_t(reason);
}

}  // namespace cnpc::runtime
