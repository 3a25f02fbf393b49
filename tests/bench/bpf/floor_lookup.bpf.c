/* Benchmark floor 3: parse, look up the peer's identity class in the
 * ipcache (cnpc_class_of: the LPM lookup every implementation of the
 * benchmark does first), finish (mark, tc action; no event). The verdict
 * only says whether the peer is known; what a policy decision costs is
 * what an implementation adds on top of this floor. */
#define CNPC_NO_EVENTS 1
#include "cnpc/bpf/cnpc.h"

#define KEEP(x) asm volatile("" : : "r"(x))

SEC("tc")
int floor_lookup(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int parsed = cnpc_parse(skb, &p);
  if (parsed > 0) return TC_ACT_OK;
  if (parsed < 0)
    return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_DROP, CNPC_REASON_MALFORMED, CNPC_NO_RULE,
                       CNPC_NO_RULE, CNPC_NO_RULE, 0);
  __u32 peer = cnpc_class_of(&p, p.saddr);
  KEEP(p.pidx);
  KEEP(p.dport);
  KEEP(p.later_fragment);
  __u8 verdict = peer == 0xFFFFFFFFu ? CNPC_DROP : CNPC_ALLOW;
  return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, verdict, CNPC_REASON_NONE, CNPC_NO_RULE,
                     CNPC_NO_RULE, peer, 0);
}

char _license[] SEC("license") = "GPL";
