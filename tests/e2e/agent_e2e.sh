#!/usr/bin/env bash
# End-to-end test of cnpc-agent: the blog-system sample on network
# namespaces (one per pod, veth pairs cnpc-<pod> routed through the host),
# real TCP connections, events, reload on SIGHUP and a refused broken bundle.
# usage: agent_e2e.sh CNPC CNPC_AGENT TCP_SERVER SOURCE_DIR
set -u
CNPC=$(realpath "$1") AGENT=$(realpath "$2") SERVER=$(realpath "$3") SRC=$(realpath "$4")
PODS=(web was mysql stray)
declare -A IP=([web]=10.0.1.10 [was]=10.0.2.20 [mysql]=10.0.3.30 [stray]=10.0.1.40)
PIN=/sys/fs/bpf/cnpc-e2e

if [[ $(id -u) != 0 ]]; then
  echo "SKIP: agent-e2e needs root (network namespaces, tc, BPF)"
  [[ ${CI:-} == true ]] && { echo "FAIL: CI=true but not root"; exit 1; }
  exit 0
fi
for tool in ip tc timeout; do
  command -v $tool >/dev/null || { echo "FAIL: $tool missing"; exit 1; }
done

WORK=$(mktemp -d /tmp/cnpc-e2e.XXXXXX)
AGENT_PID= SERVER_PIDS=() OLD_FORWARD=$(sysctl -n net.ipv4.ip_forward)
PASS=0 FAIL=0

cleanup() {
  [[ -n $AGENT_PID ]] && { kill -TERM "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; }
  for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for pod in "${PODS[@]}"; do
    ip netns del "cnpc-e2e-$pod" 2>/dev/null  # takes the veth pair with it
    ip link del "cnpc-$pod" 2>/dev/null
  done
  rm -f "$PIN/cnpc_ipcache" "$PIN/cnpc_events"; rmdir "$PIN" 2>/dev/null
  sysctl -qw net.ipv4.ip_forward="$OLD_FORWARD"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check() {  # check NAME COMMAND...: one result line
  local name=$1; shift
  if "$@"; then echo "PASS: $name"; PASS=$((PASS + 1)); else echo "FAIL: $name"; FAIL=$((FAIL + 1)); fi
}
# A full TCP handshake and the server's "ok" line, within 2 s.
connects() {  # connects FROM_POD TO_POD PORT
  ip netns exec "cnpc-e2e-$1" timeout 2 bash -c "exec 3<>/dev/tcp/${IP[$2]}/$3 && read -r -t 2 line <&3 && [[ \$line == ok ]]" 2>/dev/null
}
dropped() { ! connects "$@"; }
# An allowed flow completes its handshake: the programs track connections,
# so the reply passes the other side's policy (as Cilium's CT_REPLY does).
allowed() { connects "$@"; }
# A step the rest depends on: stop here (with the reason) when it fails.
require() {
  local name=$1; shift
  local before=$FAIL
  check "$name" "$@"
  ((FAIL == before)) || { echo "--- stopping: $name failed"; [[ -f $WORK/compile.log ]] && cat "$WORK/compile.log"
                     [[ -f $WORK/agent.log ]] && cat "$WORK/agent.log"; echo "$PASS passed, $FAIL failed"; exit 1; }
}
wait_for() {  # wait_for SECONDS COMMAND...
  local end=$((SECONDS + $1)); shift
  until "$@"; do ((SECONDS >= end)) && return 1; sleep 0.2; done
}
count() { grep -c "$1" "$2" 2>/dev/null || true; }

# --- network: one namespace per pod, /32 routes and proxy ARP on the host side
sysctl -qw net.ipv4.ip_forward=1
for pod in "${PODS[@]}"; do
  ns=cnpc-e2e-$pod
  ip netns add "$ns" || exit 1
  ip link add "cnpc-$pod" type veth peer name eth0 netns "$ns" || exit 1
  ip link set "cnpc-$pod" up
  sysctl -qw "net.ipv4.conf.cnpc-$pod.proxy_arp=1"
  ip route add "${IP[$pod]}/32" dev "cnpc-$pod"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "${IP[$pod]}/32" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default dev eth0  # on-link: the host answers ARP for everyone
done
for spec in was:8080 mysql:3306; do
  ip netns exec "cnpc-e2e-${spec%%:*}" "$SERVER" "${spec##*:}" & SERVER_PIDS+=($!)
done
sleep 0.3

require "without the agent: was -> mysql:3306 connects (network sanity)" connects was mysql 3306
require "without the agent: web -> mysql:3306 connects (network sanity)" connects web mysql 3306

# --- bundle and agent
cp -r "$SRC/samples/blog-system" "$WORK/sample"
BUNDLE=$WORK/bundle
compile() { (cd "$WORK/sample" && "$CNPC" compile policies --inventory inventory.yaml -o "$BUNDLE" "$@") >"$WORK/compile.log" 2>&1; }
require "cnpc compile of the sample" compile
{
  echo "["
  sep=
  for pod in "${PODS[@]}"; do
    printf '%s{"name": "blog-system/%s", "ip": "%s", "interface": "cnpc-%s"}\n' "$sep" "$pod" "${IP[$pod]}" "$pod"; sep=,
  done
  echo "]"
} >"$WORK/endpoints.json"
EVENTS=$WORK/events.jsonl LOG=$WORK/agent.log
"$AGENT" --bundle "$BUNDLE" --endpoints "$WORK/endpoints.json" --pin-dir "$PIN" --events "$EVENTS" 2>"$LOG" &
AGENT_PID=$!
require "agent attaches" wait_for 10 grep -q "attached 4 endpoints" "$LOG"
check "tc filters on cnpc-web (ingress and egress)" \
  bash -c "tc filter show dev cnpc-web ingress | grep -q bpf && tc filter show dev cnpc-web egress | grep -q bpf"
check "shared maps pinned under $PIN" test -e "$PIN/cnpc_ipcache" -a -e "$PIN/cnpc_events"

check "was -> mysql:3306 connects (mysql-access-control allows was)" allowed was mysql 3306
check "web -> mysql:3306 is dropped (web-egress, mysql-access-control)" dropped web mysql 3306
check "stray -> mysql:3306 is dropped (mysql-access-control)" dropped stray mysql 3306
check "stray -> was:8080 is dropped (api-read-only)" dropped stray was 8080
# Until the L7 proxy exists, REDIRECT (allowed, to the proxy) passes at L4.
check "web -> was:8080 connects at TCP level (verdict REDIRECT, no proxy yet)" allowed web was 8080
sleep 0.3  # the agent drains the ring every 100 ms
has_event() { grep -q "$1" "$EVENTS"; }
check "events: DROPPED naming mysql-access-control" \
  bash -c "grep '\"verdict\":\"DROPPED\"' '$EVENTS' | grep -q mysql-access-control"
check "events: DROPPED naming api-read-only" \
  bash -c "grep '\"verdict\":\"DROPPED\"' '$EVENTS' | grep -q api-read-only"
check "events: REDIRECTED web -> was:8080 names api-read-only and endpoint blog-system/was" \
  bash -c "grep '\"verdict\":\"REDIRECTED\"' '$EVENTS' | grep '\"destination_port\":8080' | grep -q 'api-read-only.*blog-system/was\|blog-system/was.*api-read-only'"

# --- reload: allow web -> mysql, SIGHUP, no restart
cat >"$WORK/sample/policies/allow-web-mysql.yaml" <<'YAML'
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: mysql-from-web
  namespace: blog-system
spec:
  endpointSelector:
    matchLabels:
      app: mysql
  ingress:
    - fromEndpoints:
        - matchLabels:
            app: web
      toPorts:
        - ports:
            - port: "3306"
              protocol: TCP
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: web-to-mysql
  namespace: blog-system
spec:
  endpointSelector:
    matchLabels:
      app: web
  egress:
    - toEndpoints:
        - matchLabels:
            app: mysql
      toPorts:
        - ports:
            - port: "3306"
              protocol: TCP
YAML
require "cnpc compile of the edited policies" compile
reloads=$(count reloaded "$LOG")
kill -HUP "$AGENT_PID"
check "agent reloads on SIGHUP" wait_for 10 bash -c "(( \$(grep -c reloaded '$LOG') > $reloads ))"
check "same agent process after reload" kill -0 "$AGENT_PID"
check "after reload: web -> mysql:3306 connects" allowed web mysql 3306
check "after reload: was -> mysql:3306 connects" allowed was mysql 3306
check "after reload: stray -> mysql:3306 still dropped" dropped stray mysql 3306

# --- a broken bundle is refused and the running programs stay
obj=$(ls "$BUNDLE"/prog-*.bpf.o | head -n1)
printf 'XXXX' | dd of="$obj" bs=1 seek=64 conv=notrunc status=none
kill -HUP "$AGENT_PID"
check "broken bundle: agent logs the refusal with its reason" \
  wait_for 10 bash -c "grep 'reload failed' '$LOG' | grep -qi 'sha256\|hash'"
check "broken bundle: agent still running" kill -0 "$AGENT_PID"
check "broken bundle: was -> mysql:3306 still connects" allowed was mysql 3306
check "broken bundle: web -> mysql:3306 still allowed" allowed web mysql 3306
check "broken bundle: stray -> was:8080 still dropped" dropped stray was 8080

# --- clean exit: filters and pins gone
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?; AGENT_PID=
check "agent exits 0 on SIGTERM" test "$rc" = 0
check "no cnpc filters left on cnpc-web" bash -c "! tc filter show dev cnpc-web ingress | grep -q bpf && ! tc filter show dev cnpc-web egress | grep -q bpf"
check "pins removed" test ! -e "$PIN/cnpc_ipcache"
check "after detach: web -> mysql:3306 connects again (no program)" connects web mysql 3306

echo "--- agent log"; cat "$LOG"
echo "--- first events"; head -n 5 "$EVENTS"
echo "$PASS passed, $FAIL failed"
((FAIL == 0))
