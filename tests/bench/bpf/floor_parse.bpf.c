/* Benchmark floor 2: parse the headers (cnpc_parse, the parser every
 * generated program uses) and finish as a generated program does (mark, tc
 * action; no event), without looking anything up or deciding. The parsed
 * fields a decision reads (protocol index, port, source address) are kept
 * alive so clang cannot drop their loads. */
#define CNPC_NO_EVENTS 1
#include "cnpc/bpf/cnpc.h"

#define KEEP(x) asm volatile("" : : "r"(x))

SEC("tc")
int floor_parse(struct __sk_buff *skb) {
  struct cnpc_pkt p;
  int parsed = cnpc_parse(skb, &p);
  if (parsed > 0) return TC_ACT_OK;
  if (parsed < 0)
    return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_DROP, CNPC_REASON_MALFORMED, CNPC_NO_RULE,
                       CNPC_NO_RULE, CNPC_NO_RULE, 0);
  KEEP(p.pidx);
  KEEP(p.dport);
  KEEP(p.saddr[0]);
  KEEP(p.later_fragment);
  return cnpc_finish(skb, &p, CNPC_DIR_INGRESS, CNPC_ALLOW, CNPC_REASON_NONE, CNPC_NO_RULE,
                     CNPC_NO_RULE, CNPC_NO_RULE, 0);
}

char _license[] SEC("license") = "GPL";
