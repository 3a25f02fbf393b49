/* An object the verifier must reject (a packet read without a bounds
 * check): the loader's error must carry the verifier log. */
#include "cnpc/bpf/cnpc.h"

SEC("tc")
int cnpc_ingress(struct __sk_buff *skb) {
  __u32 *data = (void *)(long)skb->data;
  return *data == 0 ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int cnpc_egress(struct __sk_buff *skb) {
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
