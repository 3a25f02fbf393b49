/* Benchmark baseline (c): a linear rule chain walked as iptables walks a
 * chain: rule after rule, in precedence order (denies, then L7 redirects,
 * then allows; each by rule id), until the first rule that matches; none
 * matches -> the default drop.
 *
 * A rule is {peer identity range, protocol index (0xFF: any protocol and
 * port), port range, verdict, rule id}, in the array map ipt_rules; the
 * number of rules is ipt_config[0]. The peer is the identity class from the
 * same ipcache lookup as the others (an iptables rule would match an ipset
 * of addresses instead: one hash lookup per rule, so this chain is a
 * generous model of iptables).
 *
 * The walk: bpf_loop(n, callback) (kernel >= 5.17): the verifier checks the
 * callback once whatever n is (and inlines the loop around a direct call of
 * the callback), so one object serves 10 and 10,000 rules. A plain bounded
 * loop does not verify at these sizes: with short-circuit matching the
 * verifier gives up after ~1,300 iterations ("The sequence of 8193 jumps is
 * too complex": a pending state per undecidable jump), with branch-free
 * matching already at IPT_MAX = 512 ("BPF program is too large. Processed
 * 1000001 insn": every exit iteration is a new path through the finish).
 */
#define CNPC_NO_EVENTS 1
#include "cnpc/bpf/cnpc.h"

#define IPT_MAX 32768

#define IPT_ANY_PROTO 0xFF

struct ipt_rule {
  __u32 peer_lo, peer_hi;
  __u16 port_lo, port_hi;
  __u8 pidx;    /* CNPC_P_*, or IPT_ANY_PROTO */
  __u8 verdict; /* CNPC_ALLOW, CNPC_REDIRECT or CNPC_DROP (a deny rule) */
  __u16 pad;
  __u32 rule;
};

_Static_assert(sizeof(struct ipt_rule) == 20, "ipt_rule");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, IPT_MAX);
  __type(key, __u32);
  __type(value, struct ipt_rule);
} ipt_rules SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} ipt_config SEC(".maps");

struct ipt_walk {
  __u32 peer;
  __u16 dport;
  __u8 pidx;
  __u8 verdict; /* 0 while no rule matched */
  __u32 rule;
};

/* Branch-free (one conditional jump per rule, the match itself): what
 * iptables' rule matching does with its compare-and-combine, and cheaper
 * than five unpredictable jumps. Operands are below 2^32, so the sign bit
 * of the 64-bit difference is the comparison. */
#define IPT_GE(a, b) (1 ^ (((__u64)(a) - (__u64)(b)) >> 63))     /* a >= b */
#define IPT_EQ(a, b) ((((__u64)((a) ^ (b))) - 1) >> 63)         /* a == b */

static __always_inline __u64 ipt_match(const struct ipt_rule *r, const struct ipt_walk *w) {
  return IPT_GE(w->peer, r->peer_lo) & IPT_GE(r->peer_hi, w->peer) &
         (IPT_EQ(r->pidx, IPT_ANY_PROTO) |
          (IPT_EQ(r->pidx, w->pidx) & IPT_GE(w->dport, r->port_lo) & IPT_GE(r->port_hi, w->dport)));
}

static long ipt_step(__u32 i, void *ctx) {
  struct ipt_walk *w = ctx;
  struct ipt_rule *r = bpf_map_lookup_elem(&ipt_rules, &i);
  if (!r) return 1;
  if (!ipt_match(r, w)) return 0;
  w->verdict = r->verdict;
  w->rule = r->rule;
  return 1; /* first match: stop */
}

static __always_inline void ipt_walk(struct ipt_walk *w) {
  __u32 zero = 0;
  __u32 *n = bpf_map_lookup_elem(&ipt_config, &zero);
  if (!n) return;
  bpf_loop(*n, ipt_step, w, 0);
}

SEC("tc")
int ipt_ingress(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int parsed = cnpc_parse(skb, &p);
  if (parsed > 0) return TC_ACT_OK;
  __u32 rule = CNPC_NO_RULE, peer = CNPC_NO_RULE;
  __u8 reason = CNPC_REASON_NONE, verdict;
  if (parsed < 0) {
    verdict = CNPC_DROP;
    reason = CNPC_REASON_MALFORMED;
  } else if (p.later_fragment) {
    verdict = CNPC_DROP;
    reason = CNPC_REASON_FRAGMENT;
  } else {
    peer = cnpc_class_of(&p, p.saddr);
    struct ipt_walk w = {.peer = peer, .dport = p.dport, .pidx = p.pidx, .verdict = 0, .rule = CNPC_NO_RULE};
    ipt_walk(&w);
    if (w.verdict) {
      verdict = w.verdict;
      rule = w.rule;
      if (verdict == CNPC_DROP) reason = CNPC_REASON_POLICY_DENY;
    } else {
      verdict = CNPC_DROP;
      reason = CNPC_REASON_POLICY_DENIED;
    }
  }
  return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, verdict, reason, rule, CNPC_NO_RULE, peer, 0);
}

char _license[] SEC("license") = "GPL";
