/* Benchmark baseline (b): the policy decision as Cilium's datapath makes
 * it (cilium/cilium bpf/lib/policy.h, __policy_can_access), hand-written
 * on cnpc's parser and ipcache so that only the decision differs.
 *
 * - One policy map per endpoint: an LPM trie keyed
 *   {sec_label, egress bit, protocol, dport (big-endian)}, full prefix 64
 *   bits. An entry wildcards from the right: dport partially (port ranges
 *   as CIDR-like prefixes, Cilium >= 1.16), then the protocol (only with
 *   the whole port). "Any identity" cannot be a prefix (the identity comes
 *   first), so it is stored as sec_label 0 and needs a second lookup.
 * - Lookup order: L3 lookup (identity/proto/port -> identity/proto/ANY ->
 *   identity/ANY/ANY by longest prefix); a deny there returns at once;
 *   else the L4-only lookup (0/proto/port -> 0/proto/ANY -> 0/ANY/ANY);
 *   the L4-only entry wins if it is a deny, or there is no L3 entry, or it
 *   has a higher proxy-port priority, or the same priority and a longer
 *   proto+port prefix; otherwise the L3 entry. No entry: drop.
 * - Deny precedence inside one lookup is the agent's job, as in Cilium's
 *   mapstate: an entry covered by a shorter entry of higher precedence
 *   (deny > redirect > allow) of the same identity carries that entry's
 *   verdict. The benchmark's map filler does this.
 * - The ipcache holds Cilium-style security identities (class + 256), so
 *   identity 0 stays free for "any".
 *
 * Not modelled (Cilium does them, cnpc's programs do not): conntrack, the
 * policy stats map, auth, verdict notifications. Events are off, as in the
 * other programs measured against it. */
#define CNPC_NO_EVENTS 1
#include "cnpc/bpf/cnpc.h"

struct policy_key {
  __u32 prefixlen; /* struct bpf_lpm_trie_key's header */
  __u32 sec_label;
  __u8 egress : 1, pad : 7;
  __u8 protocol;
  __be16 dport;
};

#define POLICY_FULL_PREFIX 64

struct policy_entry {
  __be16 proxy_port;
  __u8 deny : 1, reserved : 2, lpm_prefix_length : 5;
  __u8 auth_type : 7, has_explicit_auth_type : 1;
  __u8 proxy_port_priority;
  __u8 pad1;
  __u16 pad2;
  __u32 cookie; /* the benchmark stores the cnpc rule id here */
};

_Static_assert(sizeof(struct policy_key) == 12, "policy_key");
_Static_assert(sizeof(struct policy_entry) == 12, "policy_entry");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1 << 16); /* Cilium's --bpf-policy-map-max ceiling (default 16384) */
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct policy_key);
  __type(value, struct policy_entry);
} cilium_policy_v2 SEC(".maps");

#define WORLD_ID 2

static __always_inline int cilium_decide(const struct cnpc_pkt *p, __u32 remote_id, __u8 egress,
                                         __u32 *rule, __u8 *reason) {
  const struct policy_entry *policy, *l4policy, *chosen;
  struct policy_key key = {
      .prefixlen = POLICY_FULL_PREFIX,
      .sec_label = remote_id,
      .egress = egress,
      .pad = 0,
      .protocol = p->proto,
      .dport = bpf_htons(p->dport), /* the ICMP type for ICMP, as with enable_icmp_rule */
  };

  /* L3 lookup: exact identity, LPM over protocol and port. */
  policy = bpf_map_lookup_elem(&cilium_policy_v2, &key);
  if (policy && policy->deny) {
    chosen = policy;
    goto check;
  }
  /* L4-only lookup: identity 0. */
  key.sec_label = 0;
  l4policy = bpf_map_lookup_elem(&cilium_policy_v2, &key);
  if (l4policy &&
      (l4policy->deny || !policy || l4policy->proxy_port_priority > policy->proxy_port_priority ||
       (l4policy->proxy_port_priority == policy->proxy_port_priority &&
        l4policy->lpm_prefix_length > policy->lpm_prefix_length))) {
    chosen = l4policy;
    goto check;
  }
  if (policy) {
    chosen = policy;
    goto check;
  }
  if (p->later_fragment) {
    *reason = CNPC_REASON_FRAGMENT;
    return CNPC_DROP;
  }
  *reason = CNPC_REASON_POLICY_DENIED;
  return CNPC_DROP;

check:
  *rule = chosen->cookie;
  if (chosen->deny) {
    *reason = CNPC_REASON_POLICY_DENY;
    return CNPC_DROP;
  }
  return chosen->proxy_port ? CNPC_REDIRECT : CNPC_ALLOW;
}

SEC("tc")
int cilium_ingress(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int parsed = cnpc_parse(skb, &p);
  if (parsed > 0) return TC_ACT_OK;
  __u32 rule = CNPC_NO_RULE, peer = CNPC_NO_RULE;
  __u8 reason = CNPC_REASON_NONE, verdict;
  if (parsed < 0) {
    verdict = CNPC_DROP;
    reason = CNPC_REASON_MALFORMED;
  } else if (p.later_fragment) {
    /* As cnpc's programs do (Cilium drops untracked fragments too). */
    verdict = CNPC_DROP;
    reason = CNPC_REASON_FRAGMENT;
  } else {
    peer = cnpc_class_of(&p, p.saddr);
    if (peer == 0xFFFFFFFFu) peer = WORLD_ID;
    verdict = cilium_decide(&p, peer, 0, &rule, &reason);
  }
  return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, verdict, reason, rule, CNPC_NO_RULE, peer, 0);
}

char _license[] SEC("license") = "GPL";
