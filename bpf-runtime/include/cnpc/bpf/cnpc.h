/* Shared by every program cnpc generates: packet parsing, the identity
 * lookup (ipcache), verdict marks and flow events. The C++ side mirrors the
 * structs in cnpc/runtime/abi.h; keep the two in step (static_asserts there).
 *
 * Verdict of a program run: the tc return code (TC_ACT_OK / TC_ACT_SHOT)
 * plus skb->mark = CNPC_MARK | verdict << 8 | reason, which the agent's
 * proxy rules and the tests read. */
#ifndef CNPC_BPF_H
#define CNPC_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define CNPC_MARK 0xC0000000u
#define CNPC_MARK_MASK 0xFFFF0000u

/* Verdicts */
#define CNPC_ALLOW 1
#define CNPC_DROP 2
#define CNPC_REDIRECT 3 /* allowed, to the L7 proxy */
#define CNPC_AUDIT 4    /* would drop; forwarded in audit mode */

/* Reasons */
#define CNPC_REASON_NONE 0
#define CNPC_REASON_POLICY_DENIED 1 /* default deny, no allow rule */
#define CNPC_REASON_POLICY_DENY 2   /* an explicit deny rule */
#define CNPC_REASON_MALFORMED 3     /* truncated or invalid headers */
#define CNPC_REASON_FRAGMENT 4      /* a non-first fragment: no L4 header */
#define CNPC_REASON_PROXY_DOWN 5    /* L7 rules apply but their proxy is not listening */
#define CNPC_REASON_TO_PROXY 6      /* REDIRECT: handed to the proxy's socket (the agent's
                                       policy route delivers exactly these marks locally) */

/* Directions (of the endpoint the program enforces for) */
#define CNPC_DIR_INGRESS 0
#define CNPC_DIR_EGRESS 1

/* Protocol indexes of the port tables */
#define CNPC_P_TCP 0
#define CNPC_P_UDP 1
#define CNPC_P_SCTP 2
#define CNPC_P_ICMP 3
#define CNPC_P_ICMP6 4
#define CNPC_P_OTHER 5

#define CNPC_NO_RULE 0xFFFFFFFFu

/* Packets the agent's L7 proxy sends upstream carry (SO_MARK) the identity
 * class of the client they speak for: the destination's ingress program
 * judges them as that client's (deny rules included) and lets a REDIRECT
 * verdict through, since the proxy has judged the request. Pods cannot set
 * it: a mark does not survive the veth into the host namespace. */
#define CNPC_PROXY_MARK 0xB0000000u
#define CNPC_PROXY_MARK_MASK 0xFF000000u

/* L7 kinds of the steering map (and indexes of cnpc_proxy_ports). */
#define CNPC_L7_HTTP 1
#define CNPC_L7_DNS 2
#define CNPC_L7_KAFKA 3

struct cnpc_pkt {
  __u32 saddr[4];
  __u32 daddr[4];
  __u16 sport;
  __u16 dport;     /* host order; the ICMP type for ICMP */
  __u8 family;     /* 4 or 6 */
  __u8 proto;      /* IP protocol number */
  __u8 pidx;       /* CNPC_P_* */
  __u8 later_fragment;
};

/* ipcache: address -> identity class (LPM over family + address). */
struct cnpc_ipcache_key {
  __u32 prefixlen; /* 32 (family and padding) + address prefix length */
  __u8 family;
  __u8 pad[3];
  __u32 addr[4];
};

struct cnpc_ipcache_value {
  __u32 class_id;
};

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1 << 20);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct cnpc_ipcache_key);
  __type(value, struct cnpc_ipcache_value);
} cnpc_ipcache SEC(".maps");

/* Connection tracking: the tuple of every connection a program let
 * through, keyed with the direction that let it through (as Cilium's CT
 * keys carry CT_EGRESS / CT_INGRESS). A packet is established when its own
 * direction let its tuple through before, or when the other direction let
 * its reverse through (it is a reply): it then skips policy, as in Cilium —
 * an allowed connection's replies are never dropped, and a policy change
 * does not cut established flows. */
struct cnpc_ct_key {
  __u32 saddr[4];
  __u32 daddr[4];
  __u16 sport;
  __u16 dport; /* 0 for ICMP: a reply carries another type */
  __u8 family;
  __u8 proto;
  __u8 direction; /* CNPC_DIR_* of the program that let it through */
  __u8 pad;
};

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1 << 16);
  __type(key, struct cnpc_ct_key);
  __type(value, __u64); /* creation time (bpf_ktime_get_ns), CNPC_CT_PROXIED */
} cnpc_ct SEC(".maps");

/* A connection the datapath hands to the L7 proxy: its later packets go
 * to the proxy's socket too. */
#define CNPC_CT_PROXIED (1ULL << 63)
#define CNPC_CT_NEW 0
#define CNPC_CT_ESTABLISHED 1
#define CNPC_CT_ESTABLISHED_PROXIED 2

/* Steering to the L7 proxy, filled by the agent from l7.json: which
 * (endpoint class, direction, peer class, protocol, port) carry L7 rules of
 * which kind. peer CNPC_ANY_PEER stands for every peer. Looked up on the
 * source's egress path: bpf_sk_assign works only at tc ingress, which is
 * where a local endpoint's packets enter the host, so the destination's
 * ingress L7 rules are steered there too (as Cilium's local delivery
 * applies the destination's policy before the packet leaves the source). */
#define CNPC_ANY_PEER 0xFFFFFFFFu
struct cnpc_steer_key {
  __u32 class_id;
  __u32 peer;
  __u16 port;
  __u8 proto;
  __u8 direction;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1 << 16);
  __type(key, struct cnpc_steer_key);
  __type(value, __u32); /* CNPC_L7_* */
} cnpc_steer SEC(".maps");

/* The proxies' listening ports on 127.0.0.1, by CNPC_L7_* (0: none runs;
 * traffic for that kind then passes at L3/L4, as with no agent). Index 0
 * (CNPC_PROXY_ON) is non-zero when any proxy runs: without one, steering
 * costs a single array lookup. */
#define CNPC_PROXY_ON 0
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u32);
} cnpc_proxy_ports SEC(".maps");

struct cnpc_event {
  __u64 timestamp_ns;
  __u32 saddr[4];
  __u32 daddr[4];
  __u16 sport;
  __u16 dport;
  __u8 family;
  __u8 proto;
  __u8 direction;
  __u8 verdict;
  __u8 reason;
  __u8 pad[3];
  __u32 rule_id;      /* index into the bundle's rules metadata, or CNPC_NO_RULE */
  __u32 subject_class;
  __u32 peer_class;
  __u32 ifindex;
};

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} cnpc_events SEC(".maps");

/* Parses Ethernet, IPv4 (with options) or IPv6 (with extension headers),
 * then TCP/UDP/SCTP ports or the ICMP type. Returns 0, 1 for non-IP
 * traffic (left alone), or -1 for a malformed packet. */
static __always_inline int cnpc_parse(struct __sk_buff *skb, struct cnpc_pkt *p) {
  void *data = (void *)(long)skb->data;
  void *end = (void *)(long)skb->data_end;
  struct ethhdr *eth = data;
  void *l4;
  __builtin_memset(p, 0, sizeof(*p));
  if ((void *)(eth + 1) > end) return -1;
  __u16 h_proto = bpf_ntohs(eth->h_proto);
  if (h_proto == ETH_P_IP) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end) return -1;
    if (ip->version != 4 || ip->ihl < 5) return -1;
    p->family = 4;
    p->saddr[0] = ip->saddr;
    p->daddr[0] = ip->daddr;
    p->proto = ip->protocol;
    if (bpf_ntohs(ip->frag_off) & 0x1FFF) p->later_fragment = 1;
    l4 = (void *)ip + ip->ihl * 4;
  } else if (h_proto == ETH_P_IPV6) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > end) return -1;
    p->family = 6;
    __builtin_memcpy(p->saddr, &ip6->saddr, 16);
    __builtin_memcpy(p->daddr, &ip6->daddr, 16);
    __u8 next = ip6->nexthdr;
    l4 = ip6 + 1;
    /* Hop-by-hop, routing, destination options and fragment headers. */
#pragma unroll
    for (int i = 0; i < 6; i++) {
      if (next == 0 || next == 43 || next == 60) {
        __u8 *opt = l4;
        if ((void *)(opt + 2) > end) return -1;
        next = opt[0];
        l4 = opt + (opt[1] + 1) * 8;
      } else if (next == 44) {
        __u8 *frag = l4;
        if ((void *)(frag + 8) > end) return -1;
        next = frag[0];
        if (((frag[2] << 8) | frag[3]) & 0xFFF8) p->later_fragment = 1;
        l4 = frag + 8;
      } else {
        break;
      }
    }
    p->proto = next;
  } else {
    return 1;
  }
  switch (p->proto) {
    case IPPROTO_TCP: p->pidx = CNPC_P_TCP; break;
    case IPPROTO_UDP: p->pidx = CNPC_P_UDP; break;
    case IPPROTO_SCTP: p->pidx = CNPC_P_SCTP; break;
    case IPPROTO_ICMP: p->pidx = CNPC_P_ICMP; break;
    case IPPROTO_ICMPV6: p->pidx = CNPC_P_ICMP6; break;
    default: p->pidx = CNPC_P_OTHER; return 0;
  }
  if (p->later_fragment) return 0;
  if (p->pidx == CNPC_P_ICMP || p->pidx == CNPC_P_ICMP6) {
    __u8 *icmp = l4;
    if ((void *)(icmp + 1) > end) return -1;
    p->dport = icmp[0];
    return 0;
  }
  __u16 *ports = l4; /* TCP, UDP and SCTP all start with the two ports */
  if ((void *)(ports + 2) > end) return -1;
  p->sport = bpf_ntohs(ports[0]);
  p->dport = bpf_ntohs(ports[1]);
  return 0;
}

/* The identity class of an address; 0xFFFFFFFF when the ipcache has no entry. */
static __always_inline __u32 cnpc_class_of(const struct cnpc_pkt *p, const __u32 *addr) {
  struct cnpc_ipcache_key key = {};
  key.prefixlen = 32 + (p->family == 4 ? 32 : 128);
  key.family = p->family;
  key.addr[0] = addr[0];
  key.addr[1] = addr[1];
  key.addr[2] = addr[2];
  key.addr[3] = addr[3];
  struct cnpc_ipcache_value *v = bpf_map_lookup_elem(&cnpc_ipcache, &key);
  return v ? v->class_id : 0xFFFFFFFFu;
}

static __always_inline void cnpc_ct_key_of(const struct cnpc_pkt *p, int reverse, __u8 dir,
                                           struct cnpc_ct_key *k) {
  __builtin_memset(k, 0, sizeof(*k));
  const __u32 *a = reverse ? p->daddr : p->saddr, *b = reverse ? p->saddr : p->daddr;
  k->saddr[0] = a[0]; k->saddr[1] = a[1]; k->saddr[2] = a[2]; k->saddr[3] = a[3];
  k->daddr[0] = b[0]; k->daddr[1] = b[1]; k->daddr[2] = b[2]; k->daddr[3] = b[3];
  if (p->pidx != CNPC_P_ICMP && p->pidx != CNPC_P_ICMP6) {
    k->sport = reverse ? p->dport : p->sport;
    k->dport = reverse ? p->sport : p->dport;
  }
  k->family = p->family;
  k->proto = p->proto;
  k->direction = dir;
}

/* A later packet, or a reply, of a connection let through before:
 * CNPC_CT_NEW, CNPC_CT_ESTABLISHED or CNPC_CT_ESTABLISHED_PROXIED (a later
 * packet of a connection handed to the proxy; its replies come from the
 * proxy and are merely established). */
static __always_inline int cnpc_ct_established(const struct cnpc_pkt *p, __u8 dir) {
  struct cnpc_ct_key k;
  cnpc_ct_key_of(p, 0, dir, &k);
  __u64 *v = bpf_map_lookup_elem(&cnpc_ct, &k);
  if (v) return (*v & CNPC_CT_PROXIED) ? CNPC_CT_ESTABLISHED_PROXIED : CNPC_CT_ESTABLISHED;
  cnpc_ct_key_of(p, 1, dir == CNPC_DIR_INGRESS ? CNPC_DIR_EGRESS : CNPC_DIR_INGRESS, &k);
  return bpf_map_lookup_elem(&cnpc_ct, &k) ? CNPC_CT_ESTABLISHED : CNPC_CT_NEW;
}

static __always_inline void cnpc_ct_create(const struct cnpc_pkt *p, __u8 dir, int proxied) {
  struct cnpc_ct_key k;
  cnpc_ct_key_of(p, 0, dir, &k);
  __u64 v = bpf_ktime_get_ns() | (proxied ? CNPC_CT_PROXIED : 0);
  bpf_map_update_elem(&cnpc_ct, &k, &v, BPF_ANY);
}

/* The peer of an ingress decision: the class the proxy speaks for when the
 * packet comes from the proxy, else the source address's. */
static __always_inline __u32 cnpc_ingress_peer(struct __sk_buff *skb, const struct cnpc_pkt *p, int *from_proxy) {
  *from_proxy = (skb->mark & CNPC_PROXY_MARK_MASK) == CNPC_PROXY_MARK;
  if (*from_proxy) return skb->mark & ~CNPC_PROXY_MARK_MASK;
  return cnpc_class_of(p, p->saddr);
}

static __always_inline __u32 cnpc_steer_kind(__u32 class_id, __u8 dir, __u32 peer, const struct cnpc_pkt *p) {
  struct cnpc_steer_key k = {};
  k.class_id = class_id;
  k.peer = CNPC_ANY_PEER;
  k.port = p->dport;
  k.proto = p->proto;
  k.direction = dir;
  __u32 *kind = bpf_map_lookup_elem(&cnpc_steer, &k);
  if (kind) return *kind;
  k.peer = peer;
  kind = bpf_map_lookup_elem(&cnpc_steer, &k);
  return kind ? *kind : 0;
}

/* Hands the packet to the proxy's socket: the connection's own socket when
 * the proxy has accepted it, else the listener on 127.0.0.1:port (UDP: the
 * listener always). 0 when assigned, -1 when no proxy socket was found. */
static __always_inline int cnpc_assign_to_proxy(struct __sk_buff *skb, const struct cnpc_pkt *p, __u32 port) {
  struct bpf_sock_tuple t = {};
  struct bpf_sock *sk = 0;
  if (p->family != 4) return -1; /* IPv4 only (docs/bpf-runtime.md) */
  if (p->proto == IPPROTO_TCP) {
    t.ipv4.saddr = p->saddr[0];
    t.ipv4.daddr = p->daddr[0];
    t.ipv4.sport = bpf_htons(p->sport);
    t.ipv4.dport = bpf_htons(p->dport);
    sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
    if (sk) {
      if (sk->state != BPF_TCP_LISTEN) goto assign;
      bpf_sk_release(sk);
    }
    __builtin_memset(&t, 0, sizeof(t));
    t.ipv4.daddr = bpf_htonl(0x7f000001);
    t.ipv4.dport = bpf_htons((__u16)port);
    sk = bpf_skc_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
    if (!sk) return -1;
    if (sk->state != BPF_TCP_LISTEN) {
      bpf_sk_release(sk);
      return -1;
    }
  } else if (p->proto == IPPROTO_UDP) {
    t.ipv4.daddr = bpf_htonl(0x7f000001);
    t.ipv4.dport = bpf_htons((__u16)port);
    sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
    if (!sk) return -1;
  } else {
    return -1;
  }
assign:;
  long err = bpf_sk_assign(skb, sk, 0);
  bpf_sk_release(sk);
  return err ? -1 : 0;
}

/* On the source's egress path, after its own policy let the packet out:
 * should a proxy see it first — the source's egress L7 rules (verdict
 * REDIRECT) or the destination's ingress ones (the steering map)? Returns
 * the final verdict: REDIRECT with reason TO_PROXY when the packet was
 * handed to the proxy, DROP (PROXY_DOWN) when a proxy runs for its kind
 * but cannot take it, else the verdict unchanged (no proxy for the kind:
 * L3/L4 enforcement only, as with no agent). */
static __always_inline __u8 cnpc_steer_to_proxy(struct __sk_buff *skb, const struct cnpc_pkt *p, __u8 verdict,
                                                __u32 dst_class, __u8 *reason) {
  __u32 kind = 0, on_key = CNPC_PROXY_ON;
  __u32 *on = bpf_map_lookup_elem(&cnpc_proxy_ports, &on_key);
  if (!on || !*on) return verdict;
  if (p->later_fragment || (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)) return verdict;
  __u32 src_class = cnpc_class_of(p, p->saddr);
  if (verdict == CNPC_REDIRECT) kind = cnpc_steer_kind(src_class, CNPC_DIR_EGRESS, dst_class, p);
  if (!kind) kind = cnpc_steer_kind(dst_class, CNPC_DIR_INGRESS, src_class, p);
  __u32 *port = kind ? bpf_map_lookup_elem(&cnpc_proxy_ports, &kind) : 0;
  if (!port || !*port) return verdict;
  if (cnpc_assign_to_proxy(skb, p, *port) != 0) {
    *reason = CNPC_REASON_PROXY_DOWN;
    return CNPC_DROP;
  }
  *reason = CNPC_REASON_TO_PROXY;
  return CNPC_REDIRECT;
}

/* A later packet of a proxied connection: to the proxy's socket again. */
static __always_inline int cnpc_steer_established(struct __sk_buff *skb, const struct cnpc_pkt *p) {
  __u32 src_class = cnpc_class_of(p, p->saddr), dst_class = cnpc_class_of(p, p->daddr);
  __u32 kind = cnpc_steer_kind(src_class, CNPC_DIR_EGRESS, dst_class, p);
  if (!kind) kind = cnpc_steer_kind(dst_class, CNPC_DIR_INGRESS, src_class, p);
  __u32 *port = kind ? bpf_map_lookup_elem(&cnpc_proxy_ports, &kind) : 0;
  if (port && *port && cnpc_assign_to_proxy(skb, p, *port) == 0) {
    skb->mark = CNPC_MARK | ((__u32)CNPC_REDIRECT << 8) | CNPC_REASON_TO_PROXY;
    return TC_ACT_OK;
  }
  /* The proxy went away (or the rules changed): the connection cannot continue half-proxied. */
  skb->mark = CNPC_MARK | ((__u32)CNPC_DROP << 8) | CNPC_REASON_PROXY_DOWN;
  return TC_ACT_SHOT;
}

static __always_inline void cnpc_emit(struct __sk_buff *skb, const struct cnpc_pkt *p, __u8 dir,
                                      __u8 verdict, __u8 reason, __u32 rule, __u32 subject,
                                      __u32 peer) {
#ifdef CNPC_NO_EVENTS
  return;
#endif
  struct cnpc_event *e = bpf_ringbuf_reserve(&cnpc_events, sizeof(*e), 0);
  if (!e) return;
  e->timestamp_ns = bpf_ktime_get_ns();
  __builtin_memcpy(e->saddr, p->saddr, 16);
  __builtin_memcpy(e->daddr, p->daddr, 16);
  e->sport = p->sport;
  e->dport = p->dport;
  e->family = p->family;
  e->proto = p->proto;
  e->direction = dir;
  e->verdict = verdict;
  e->reason = reason;
  e->pad[0] = e->pad[1] = e->pad[2] = 0;
  e->rule_id = rule;
  e->subject_class = subject;
  e->peer_class = peer;
  e->ifindex = skb->ifindex;
  bpf_ringbuf_submit(e, 0);
}

/* Finishes a program run: mark, event, tc action. */
static __always_inline int cnpc_finish(struct __sk_buff *skb, const struct cnpc_pkt *p, __u8 dir,
                                       __u8 verdict, __u8 reason, __u32 rule, __u32 subject,
                                       __u32 peer, int audit) {
  if (verdict == CNPC_DROP && audit) verdict = CNPC_AUDIT;
  skb->mark = CNPC_MARK | ((__u32)verdict << 8) | reason;
  cnpc_emit(skb, p, dir, verdict, reason, rule, subject, peer);
  return verdict == CNPC_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

#endif /* CNPC_BPF_H */
