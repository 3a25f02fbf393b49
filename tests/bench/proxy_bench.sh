#!/usr/bin/env bash
# HTTP proxy benchmark (docs/benchmarks-proxy.md): wrk straight to
# cnpc_e2e_http_server, then through cnpc_proxy_bench (HttpProxy,
# non-transparent, 127.0.0.1) in front of the same server. Prints requests/s
# and p99 latency of both and their ratio. Nothing asserts a timing.
#   tests/bench/proxy_bench.sh SERVER_BIN PROXY_BENCH_BIN [RULES]
# Environment: WRK_ARGS (default "-t2 -c50 -d10s"), PATH_UNDER_TEST
# (default /api/posts), SERVER_PORT, PROXY_PORT (defaults 18080, 18081).
set -euo pipefail

server_bin=${1:?usage: proxy_bench.sh SERVER_BIN PROXY_BENCH_BIN [RULES]}
proxy_bin=${2:?usage: proxy_bench.sh SERVER_BIN PROXY_BENCH_BIN [RULES]}
rules=${3:-0}
wrk_args=${WRK_ARGS:--t2 -c50 -d10s}
path=${PATH_UNDER_TEST:-/api/posts}
server_port=${SERVER_PORT:-18080}
proxy_port=${PROXY_PORT:-18081}
command -v wrk >/dev/null || { echo "wrk not found (Debian package wrk)" >&2; exit 1; }

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

"$server_bin" --listen "127.0.0.1:$server_port" & pids+=($!)
"$proxy_bin" --port "$proxy_port" --upstream "127.0.0.1:$server_port" --rules "$rules" >/dev/null & pids+=($!)

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  exit 1
}
wait_port "$server_port"
wait_port "$proxy_port"

# Sanity: the proxy really forwards (and allows) the path under test.
reply=$(exec 3<>"/dev/tcp/127.0.0.1/$proxy_port"; printf 'GET %s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' "$path" >&3; cat <&3)
grep -q "GET $path ok" <<<"$reply" || { echo "proxy did not forward: $reply" >&2; exit 1; }

# run_wrk PORT -> "REQUESTS_PER_SEC P99_MS"
run_wrk() {
  local out rps p99
  # shellcheck disable=SC2086
  out=$(wrk $wrk_args --latency "http://127.0.0.1:$1$path")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    grep "Non-2xx\|Socket errors" <<<"$out" >&2
  fi
  # wrk prints p99 as 850.00us, 1.23ms or 1.02s: normalise to ms.
  p99=$(awk -v v="$p99" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }')
  echo "$rps $p99"
}

read -r direct_rps direct_p99 < <(run_wrk "$server_port")
read -r proxy_rps proxy_p99 < <(run_wrk "$proxy_port")

echo "wrk $wrk_args --latency http://127.0.0.1:PORT$path   (proxy judge: $rules RE2 rules; 0 = allow-all)"
printf '%-8s %14s %10s\n' target "requests/s" "p99 ms"
printf '%-8s %14s %10s\n' direct "$direct_rps" "$direct_p99"
printf '%-8s %14s %10s\n' proxy "$proxy_rps" "$proxy_p99"
awk -v d="$direct_rps" -v p="$proxy_rps" -v dl="$direct_p99" -v pl="$proxy_p99" \
  'BEGIN { printf "proxy/direct: throughput %.2f, p99 latency %.2fx\n", p / d, pl / dl }'
