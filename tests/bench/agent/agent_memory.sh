#!/usr/bin/env bash
# Memory of cnpc-agent enforcing N endpoints (default 1,000) on this node.
# Not part of ctest: root, BPF, and it creates N veth pairs. Run from
# a Release build with the benchmarks configured (-DCNPC_BENCH=ON):
#
#   tests/bench/agent/agent_memory.sh [--build DIR] [--endpoints N] [--policies P] [--reloads K]
#
# It generates a cluster of N pods and P policies (cnpc_gen_cluster), compiles
# it, creates one veth pair per pod (its "host-side veth"; the peer stays in
# the host namespace), starts cnpc-agent on all of them and reports, once every
# endpoint is attached: the agent's resident memory (VmRSS, VmHWM), the
# kernel memory its BPF maps and programs hold (the memlock of each map and
# program fd, /proc/PID/fdinfo), and the same after each of K reloads
# (default 3: memory must not grow from one to the next). Results:
# docs/benchmarks-agent.md.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$root/build" endpoints=1000 policies=100 reloads=3
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --endpoints) endpoints="$2"; shift 2 ;;
    --policies) policies="$2"; shift 2 ;;
    --reloads) reloads="$2"; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--endpoints N] [--policies P] [--reloads K]" >&2; exit 2 ;;
  esac
done
[[ $(id -u) == 0 ]] || { echo "needs root" >&2; exit 2; }
cnpc=$build/compiler/cnpc agent=$build/bpf-runtime/agent/cnpc-agent gen=$build/tests/bench/cnpc_gen_cluster
for f in "$cnpc" "$agent" "$gen"; do [[ -x $f ]] || { echo "missing $f (build with -DCNPC_BENCH=ON)" >&2; exit 2; }; done

work=$(mktemp -d /tmp/cnpc-agent-mem.XXXXXX)
agent_pid= ifaces=()
cleanup() {
  [[ -n $agent_pid ]] && { kill -TERM "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; }
  for i in "${ifaces[@]}"; do ip link del "$i" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

"$gen" --policies "$policies" --pods "$endpoints" --out "$work/cluster" >/dev/null || exit 1
"$cnpc" compile "$work/cluster/base" --inventory "$work/cluster/inventory.yaml" -o "$work/bundle" 2>"$work/compile.log" ||
  { cat "$work/compile.log"; exit 1; }
# One veth pair per pod endpoint of the bundle.
node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const eps = m.endpoints.filter(e => e.ips && e.ips.length && e.program).slice(0, +process.argv[2]);
  console.log(JSON.stringify(eps.map((e, i) => ({name: e.name, ip: e.ips[0], interface: "cnpcm" + i}))));
' "$work/bundle/metadata.json" "$endpoints" >"$work/endpoints.json"
n=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).length)' "$work/endpoints.json")
for ((i = 0; i < n; i++)); do
  ip link add "cnpcm$i" type veth peer name "cnpcp$i" && ip link set "cnpcm$i" up && ifaces+=("cnpcm$i") || exit 1
done

kib() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$agent_pid/status"; }
# Kernel memory of the agent's BPF objects: the memlock of each distinct
# map and program (libbpf dups the shared maps' fds into every object: count
# each map_id / prog_id once), and how much of it is maps.
bpf_kib() {
  local f
  for f in /proc/$agent_pid/fdinfo/*; do
    awk '$1 == "map_id:" || $1 == "prog_id:" {id = $1 $2} $1 == "memlock:" {m = $2} END {if (id != "") print id, m}' "$f" 2>/dev/null
  done | sort -u | awk '{t += $2; if ($1 ~ /^map/) m += $2} END {printf "%d KiB (maps %d KiB)", t / 1024, m / 1024}'
}
start=$(date +%s%N)
"$agent" --bundle "$work/bundle" --endpoints "$work/endpoints.json" --pin-dir "" --events "$work/flows.json" \
  2>"$work/agent.log" &
agent_pid=$!
until grep -q "attached $n endpoints" "$work/agent.log"; do
  kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log"; exit 1; }
  sleep 0.1
done
attach_ms=$(( ($(date +%s%N) - start) / 1000000 ))
programs=$(grep -o '([0-9]* programs)' "$work/agent.log" | head -1)
sleep 1
echo "endpoints: $n, policies: $policies, bundle: $programs, start to all attached: ${attach_ms} ms"
echo "after attach: VmRSS $(kib VmRSS) KiB, VmHWM $(kib VmHWM) KiB, BPF maps+programs $(bpf_kib)"
for ((r = 1; r <= reloads; r++)); do
  kill -HUP "$agent_pid"
  until (( $(grep -c reloaded "$work/agent.log") >= r )); do sleep 0.1; done
  sleep 1
  echo "after reload $r: VmRSS $(kib VmRSS) KiB, VmHWM $(kib VmHWM) KiB, BPF maps+programs $(bpf_kib)"
done
