/* Benchmark floor 1: an empty tc program. What BPF_PROG_TEST_RUN itself
 * costs per run (skb setup, the program call, the loop). Includes cnpc.h
 * like every other program of the benchmark, so its maps exist too. */
#define CNPC_NO_EVENTS 1
#include "cnpc/bpf/cnpc.h"

SEC("tc")
int floor_empty(struct __sk_buff *skb) {
  return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
