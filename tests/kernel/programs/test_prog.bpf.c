/* The kernel tests' hand-written object: cnpc.h's parser, ipcache lookup,
 * marks and events, plus the two entry points a bundle object must have,
 * so a test can wrap it in a hand-made bundle.
 *
 *   test_parse   parse + ipcache lookups, results into test_out[0]; mark:
 *                malformed -> DROP/MALFORMED, later fragment -> ALLOW/FRAGMENT,
 *                parsed -> ALLOW/NONE, non-IP -> untouched
 *   test_empty   returns TC_ACT_OK (test_run overhead)
 *   cnpc_ingress allows a peer whose bit 0 is set in cnpc_peer_bits_in[peer] (rule 7)
 *   cnpc_egress  denies TCP port 23 (rule 9, policy-deny), allows the rest (rule 8) */
#include "cnpc/bpf/cnpc.h"

/* The same numbers as cnpc/runtime/abi.h asserts on the C++ side. */
#define OFF(t, f) __builtin_offsetof(struct t, f)
_Static_assert(sizeof(struct cnpc_pkt) == 40, "cnpc_pkt");
_Static_assert(OFF(cnpc_pkt, sport) == 32 && OFF(cnpc_pkt, dport) == 34, "cnpc_pkt ports");
_Static_assert(OFF(cnpc_pkt, family) == 36 && OFF(cnpc_pkt, later_fragment) == 39, "cnpc_pkt tail");
_Static_assert(sizeof(struct cnpc_ipcache_key) == 24, "ipcache key");
_Static_assert(OFF(cnpc_ipcache_key, family) == 4 && OFF(cnpc_ipcache_key, addr) == 8, "ipcache key");
_Static_assert(sizeof(struct cnpc_ipcache_value) == 4, "ipcache value");
_Static_assert(sizeof(struct cnpc_event) == 72, "event");
_Static_assert(OFF(cnpc_event, saddr) == 8 && OFF(cnpc_event, daddr) == 24, "event addrs");
_Static_assert(OFF(cnpc_event, sport) == 40 && OFF(cnpc_event, dport) == 42, "event ports");
_Static_assert(OFF(cnpc_event, family) == 44 && OFF(cnpc_event, proto) == 45, "event family");
_Static_assert(OFF(cnpc_event, direction) == 46 && OFF(cnpc_event, verdict) == 47, "event verdict");
_Static_assert(OFF(cnpc_event, reason) == 48 && OFF(cnpc_event, rule_id) == 52, "event rule");
_Static_assert(OFF(cnpc_event, subject_class) == 56 && OFF(cnpc_event, peer_class) == 60, "event classes");
_Static_assert(OFF(cnpc_event, ifindex) == 64, "event ifindex");
_Static_assert(CNPC_MARK == 0xC0000000u && CNPC_MARK_MASK == 0xFFFF0000u, "mark");
_Static_assert(CNPC_ALLOW == 1 && CNPC_DROP == 2 && CNPC_REDIRECT == 3 && CNPC_AUDIT == 4, "verdicts");
_Static_assert(CNPC_REASON_POLICY_DENIED == 1 && CNPC_REASON_POLICY_DENY == 2 &&
               CNPC_REASON_MALFORMED == 3 && CNPC_REASON_FRAGMENT == 4, "reasons");
_Static_assert(CNPC_P_TCP == 0 && CNPC_P_UDP == 1 && CNPC_P_SCTP == 2 && CNPC_P_ICMP == 3 &&
               CNPC_P_ICMP6 == 4 && CNPC_P_OTHER == 5, "protocol indexes");

struct test_result {
  struct cnpc_pkt pkt;
  __s32 ret; /* cnpc_parse's */
  __u32 src_class;
  __u32 dst_class;
  __u32 runs;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct test_result);
} test_out SEC(".maps");

struct peer_bits {
  __u64 words[2];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, struct peer_bits);
} cnpc_peer_bits_in SEC(".maps");

/* Not fillable from maps.json (one value per CPU): the loader must refuse it. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} test_percpu SEC(".maps");

SEC("tc")
int test_parse(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int ret = cnpc_parse(skb, &p);
  __u32 zero = 0;
  struct test_result *out = bpf_map_lookup_elem(&test_out, &zero);
  if (!out) return TC_ACT_OK;
  out->pkt = p;
  out->ret = ret;
  out->src_class = out->dst_class = CNPC_NO_RULE;
  out->runs++;
  if (ret == 1) return TC_ACT_OK;
  if (ret < 0)
    return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_DROP, CNPC_REASON_MALFORMED, CNPC_NO_RULE,
                       CNPC_NO_RULE, CNPC_NO_RULE, 0);
  out->src_class = cnpc_class_of(&p, p.saddr);
  out->dst_class = cnpc_class_of(&p, p.daddr);
  return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_ALLOW,
                     p.later_fragment ? CNPC_REASON_FRAGMENT : CNPC_REASON_NONE, CNPC_NO_RULE,
                     out->dst_class, out->src_class, 0);
}

SEC("tc")
int test_empty(struct __sk_buff *skb) {
  return TC_ACT_OK;
}

SEC("tc")
int cnpc_ingress(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int ret = cnpc_parse(skb, &p);
  if (ret == 1) return TC_ACT_OK;
  if (ret < 0)
    return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_DROP, CNPC_REASON_MALFORMED, CNPC_NO_RULE,
                       CNPC_NO_RULE, CNPC_NO_RULE, 0);
  __u32 subject = cnpc_class_of(&p, p.daddr);
  __u32 peer = cnpc_class_of(&p, p.saddr);
  struct peer_bits *bits = bpf_map_lookup_elem(&cnpc_peer_bits_in, &peer);
  if (bits && (bits->words[0] & 1))
    return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_ALLOW, CNPC_REASON_NONE, 7, subject, peer, 0);
  return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_DROP, CNPC_REASON_POLICY_DENIED, CNPC_NO_RULE,
                     subject, peer, 0);
}

SEC("tc")
int cnpc_egress(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int ret = cnpc_parse(skb, &p);
  if (ret == 1) return TC_ACT_OK;
  if (ret < 0)
    return cnpc_finish(skb, &p, CNPC_DIR_EGRESS, CNPC_DROP, CNPC_REASON_MALFORMED, CNPC_NO_RULE,
                       CNPC_NO_RULE, CNPC_NO_RULE, 0);
  __u32 subject = cnpc_class_of(&p, p.saddr);
  __u32 peer = cnpc_class_of(&p, p.daddr);
  if (p.pidx == CNPC_P_TCP && !p.later_fragment && p.dport == 23)
    return cnpc_finish(skb, &p, CNPC_DIR_EGRESS, CNPC_DROP, CNPC_REASON_POLICY_DENY, 9, subject, peer, 0);
  return cnpc_finish(skb, &p, CNPC_DIR_EGRESS, CNPC_ALLOW, CNPC_REASON_NONE, 8, subject, peer, 0);
}

char LICENSE[] SEC("license") = "GPL";
