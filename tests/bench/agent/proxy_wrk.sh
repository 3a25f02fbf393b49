#!/usr/bin/env bash
# The transparent L7 path under load (docs/benchmarks-proxy.md): wrk in a
# client network namespace against cnpc_e2e_http_server in a server
# namespace, three ways in one run:
#   direct        no agent: veth + routing only
#   L3/L4 (BPF)   cnpc-agent attached, port 8081 allowed without L7 rules
#   L7 proxy      cnpc-agent attached, port 8080 with HTTP rules: every
#                 request goes through bpf_sk_assign to the agent's proxy,
#                 is judged (RE2::Set) and forwarded
# Prints requests/s and p99 latency of each and the ratios to direct.
# Root only; not part of ctest; nothing asserts a timing.
#   tests/bench/agent/proxy_wrk.sh [--build DIR]   (WRK_ARGS, default "-t2 -c50 -d10s")
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
build="$root/build"
[[ ${1:-} == --build ]] && build=$2
wrk_args=${WRK_ARGS:--t2 -c50 -d10s}
cnpc=$build/compiler/cnpc agent=$build/bpf-runtime/agent/cnpc-agent server=$build/tests/e2e/cnpc_e2e_http_server
for f in "$cnpc" "$agent" "$server"; do [[ -x $f ]] || { echo "missing $f" >&2; exit 2; }; done
[[ $(id -u) == 0 ]] || { echo "needs root" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk not found (Debian package wrk)" >&2; exit 2; }

declare -A IP=([client]=10.1.0.10 [server]=10.1.0.20)
work=$(mktemp -d /tmp/cnpc-wrk.XXXXXX) pids=() agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && { kill -TERM "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; }
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for pod in client server; do ip netns del "cnpc-wrk-$pod" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
sysctl -qw net.ipv4.ip_forward=1
for pod in client server; do
  ns=cnpc-wrk-$pod
  ip netns add "$ns" && ip link add "cnpcw-$pod" type veth peer name eth0 netns "$ns" || exit 1
  sysctl -qw "net.ipv6.conf.cnpcw-$pod.disable_ipv6=1"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.eth0.disable_ipv6=1
  ip link set "cnpcw-$pod" up
  sysctl -qw "net.ipv4.conf.cnpcw-$pod.proxy_arp=1"
  ip route add "${IP[$pod]}/32" dev "cnpcw-$pod"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "${IP[$pod]}/32" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default dev eth0
done
for port in 8080 8081; do
  ip netns exec cnpc-wrk-server "$server" --listen "${IP[server]}:$port" & pids+=($!)
done
sleep 0.3

mkdir -p "$work/policies"
cat >"$work/inventory.yaml" <<YAML
apiVersion: v1
kind: List
items:
  - {apiVersion: v1, kind: Namespace, metadata: {name: bench, labels: {kubernetes.io/metadata.name: bench}}}
  - {apiVersion: v1, kind: Pod, metadata: {name: client, namespace: bench, labels: {app: client}}, status: {podIP: ${IP[client]}}}
  - {apiVersion: v1, kind: Pod, metadata: {name: server, namespace: bench, labels: {app: server}}, status: {podIP: ${IP[server]}}}
YAML
cat >"$work/policies/server.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server, namespace: bench}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: "/api/.*"}
              - {method: POST, path: "/api/v1/orders"}
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "8081", protocol: TCP}]
YAML
"$cnpc" compile "$work/policies" --inventory "$work/inventory.yaml" -o "$work/bundle" 2>"$work/compile.log" ||
  { cat "$work/compile.log"; exit 1; }
printf '[{"name": "bench/client", "ip": "%s", "interface": "cnpcw-client"},\n {"name": "bench/server", "ip": "%s", "interface": "cnpcw-server"}]\n' \
  "${IP[client]}" "${IP[server]}" >"$work/endpoints.json"

# wrk_run LABEL PORT: "LABEL req/s p99" (p99 in ms)
run() {
  local out rps p99
  out=$(ip netns exec cnpc-wrk-client wrk $wrk_args --latency "http://${IP[server]}:$2/api/posts" 2>&1)
  if grep -q "Non-2xx" <<<"$out"; then echo "$1: non-2xx responses"; echo "$out" >&2; exit 1; fi
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub(/us$/, "", v); v /= 1000} else if (v ~ /ms$/) sub(/ms$/, "", v); else if (v ~ /s$/) {sub(/s$/, "", v); v *= 1000}; print v}' <<<"$out")
  echo "$1 $rps $p99"
}
results=()
results+=("$(run direct 8081)")
"$agent" --bundle "$work/bundle" --endpoints "$work/endpoints.json" --pin-dir "" --events "$work/flows.json" \
  2>"$work/agent.log" & agent_pid=$!
until grep -q "attached 2 endpoints" "$work/agent.log"; do
  kill -0 "$agent_pid" 2>/dev/null || { cat "$work/agent.log"; exit 1; }
  sleep 0.1
done
results+=("$(run l3l4 8081)")
results+=("$(run l7proxy 8080)")
echo "wrk $wrk_args, GET /api/posts, $(nproc) CPUs shared by wrk, the agent and the server"
printf '%-28s %12s %10s %12s %10s\n' path "requests/s" "p99 ms" "vs direct" "p99 ratio"
read -r _ base_rps base_p99 <<<"${results[0]}"
for r in "${results[@]}"; do
  read -r name rps p99 <<<"$r"
  case $name in direct) label="direct (no agent)";; l3l4) label="L3/L4 in BPF (port 8081)";; l7proxy) label="L7 proxy (port 8080)";; esac
  printf '%-28s %12s %10s %12s %10s\n' "$label" "$rps" "$p99" \
    "$(awk -v a="$rps" -v b="$base_rps" 'BEGIN {printf "%.2fx", a / b}')" \
    "$(awk -v a="$p99" -v b="$base_p99" 'BEGIN {printf "%.2fx", a / b}')"
done
flows=$(grep -c '"l7"' "$work/flows.json")
echo "L7 flow records written during the run: $flows"
