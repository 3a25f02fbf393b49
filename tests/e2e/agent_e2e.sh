#!/usr/bin/env bash
# End-to-end test of cnpc-agent: the blog-system sample on network
# namespaces (one per pod, veth pairs cnpc-<pod> routed through the host),
# real servers (HTTP on was:8080, TCP on mysql:3306, dnsmasq on
# coredns:53) and clients (curl, bash /dev/tcp, dig): L3/L4 drops, L7
# HTTP 200/403 and DNS allow/REFUSED through the agent's proxies, Hubble
# flows read back with `cnpc observe`, a reload under load that loses no
# request, a refused broken bundle.
# usage: agent_e2e.sh CNPC CNPC_AGENT TCP_SERVER HTTP_SERVER SOURCE_DIR
set -u
CNPC=$(realpath "$1") AGENT=$(realpath "$2") SERVER=$(realpath "$3") HTTP_SERVER=$(realpath "$4") SRC=$(realpath "$5")
PODS=(web was mysql stray coredns)
declare -A IP=([web]=10.0.1.10 [was]=10.0.2.20 [mysql]=10.0.3.30 [stray]=10.0.1.40 [coredns]=10.0.0.53)
declare -A NS=([web]=blog-system [was]=blog-system [mysql]=blog-system [stray]=blog-system [coredns]=kube-system)
PIN=/sys/fs/bpf/cnpc-e2e
TO_PROXY_MARK=0xc0000306 PROXY_TABLE=2004

if [[ $(id -u) != 0 ]]; then
  echo "SKIP: agent-e2e needs root (network namespaces, tc, BPF)"
  [[ ${CI:-} == true ]] && { echo "FAIL: CI=true but not root"; exit 1; }
  exit 0
fi
for tool in ip tc timeout curl dig dnsmasq; do
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
  # The agent removes its policy route; a killed one would not.
  ip rule del fwmark "$TO_PROXY_MARK" lookup "$PROXY_TABLE" 2>/dev/null
  ip route flush table "$PROXY_TABLE" 2>/dev/null
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
  # IPv4 only: no router solicitations from link-local addresses (the
  # policies would drop them, and they are not the flows under test).
  sysctl -qw "net.ipv6.conf.cnpc-$pod.disable_ipv6=1"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv6.conf.eth0.disable_ipv6=1
  ip link set "cnpc-$pod" up
  sysctl -qw "net.ipv4.conf.cnpc-$pod.proxy_arp=1"
  ip route add "${IP[$pod]}/32" dev "cnpc-$pod"
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "${IP[$pod]}/32" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default dev eth0  # on-link: the host answers ARP for everyone
done
ip netns exec cnpc-e2e-mysql "$SERVER" 3306 & SERVER_PIDS+=($!)
ip netns exec cnpc-e2e-was "$HTTP_SERVER" --listen "${IP[was]}:8080" & SERVER_PIDS+=($!)
ip netns exec cnpc-e2e-coredns dnsmasq --keep-in-foreground --no-resolv --no-hosts --user=root \
  --listen-address="${IP[coredns]}" --bind-interfaces --port=53 --pid-file= \
  --address=/was.blog-system.svc.cluster.local/"${IP[was]}" --address=/example.com/192.0.2.80 \
  --log-queries --log-facility="$WORK/dnsmasq.log" & SERVER_PIDS+=($!)
sleep 0.3

# http FROM METHOD PATH: the status code curl got from was:8080 ("000": no response).
http() {
  ip netns exec "cnpc-e2e-$1" curl -s -o "$WORK/body" -w '%{http_code}' --max-time 3 -X "$2" \
    ${4:+--data "$4"} "http://${IP[was]}:8080$3" 2>/dev/null
}
http_is() { [[ $(http "$1" "$2" "$3" "${5:-}") == "$4" ]]; }
body_is() { [[ $(cat "$WORK/body" 2>/dev/null) == "$1" ]]; }
# dns FROM NAME: dig's status line and answers, through coredns.
dns() { ip netns exec "cnpc-e2e-$1" dig +time=2 +tries=1 @"${IP[coredns]}" "$2" A 2>&1; }
resolves() { dns "$1" "$2" | grep -q "status: NOERROR" && dns "$1" "$2" | grep -q "^$2\..*IN.*A.*$3"; }
refused() { dns "$1" "$2" | grep -q "status: REFUSED"; }

require "without the agent: was -> mysql:3306 connects (network sanity)" connects was mysql 3306
require "without the agent: web -> mysql:3306 connects (network sanity)" connects web mysql 3306
require "without the agent: web -> was GET /api/posts is 200 (network sanity)" http_is web GET /api/posts 200
require "without the agent: web resolves was.blog-system.svc.cluster.local (network sanity)" \
  resolves web was.blog-system.svc.cluster.local "${IP[was]}"

# --- bundle and agent
cp -r "$SRC/samples/blog-system" "$WORK/sample"
BUNDLE=$WORK/bundle
compile() { (cd "$WORK/sample" && "$CNPC" compile policies --inventory inventory.yaml -o "$BUNDLE" "$@") >"$WORK/compile.log" 2>&1; }
require "cnpc compile of the sample" compile
{
  echo "["
  sep=
  for pod in "${PODS[@]}"; do
    printf '%s{"name": "%s/%s", "ip": "%s", "interface": "cnpc-%s"}\n' "$sep" "${NS[$pod]}" "$pod" "${IP[$pod]}" "$pod"; sep=,
  done
  echo "]"
} >"$WORK/endpoints.json"
EVENTS=$WORK/flows.json LOG=$WORK/agent.log
"$AGENT" --bundle "$BUNDLE" --endpoints "$WORK/endpoints.json" --pin-dir "$PIN" --events "$EVENTS" \
  --node-name e2e-node --watch 2>"$LOG" &
AGENT_PID=$!
require "agent attaches with its proxies" wait_for 10 grep -q "attached 5 endpoints, HTTP proxy" "$LOG"
check "tc filters on cnpc-web (ingress and egress)" \
  bash -c "tc filter show dev cnpc-web ingress | grep -q bpf && tc filter show dev cnpc-web egress | grep -q bpf"
check "shared maps pinned under $PIN" test -e "$PIN/cnpc_ipcache" -a -e "$PIN/cnpc_events"
check "policy route to the proxies installed" bash -c "ip rule show | grep -q 'fwmark $TO_PROXY_MARK lookup $PROXY_TABLE'"

# L3/L4
check "was -> mysql:3306 connects (mysql-access-control allows was)" allowed was mysql 3306
check "web -> mysql:3306 is dropped (web-egress, mysql-access-control)" dropped web mysql 3306
check "stray -> mysql:3306 is dropped (mysql-access-control)" dropped stray mysql 3306
check "stray -> was:8080 is dropped (api-read-only)" http_is stray GET /api/posts 000
# L7 HTTP through the proxy
check "web -> was GET /api/posts is 200 (api-read-only allows GET /api/.*)" http_is web GET /api/posts 200
check "web -> was GET /api/posts: the server's body came through" body_is "GET /api/posts ok"
check "web -> was POST /api/posts is 403 (api-read-only)" http_is web POST /api/posts 403 '{"title":"x"}'
check "web -> was POST /api/posts: body 'Access denied'" body_is "Access denied"
check "web -> was GET /admin is 403 (path outside /api/.*)" http_is web GET /admin 403
# L7 DNS through the proxy
check "web resolves was.blog-system.svc.cluster.local (web-egress DNS rules)" \
  resolves web was.blog-system.svc.cluster.local "${IP[was]}"
check "web: example.com is REFUSED (outside *.svc.cluster.local)" refused web example.com
check "the refused query never reached coredns" bash -c "! grep -q 'query.*example.com' '$WORK/dnsmasq.log'"
check "the allowed query reached coredns" grep -q 'query.*was.blog-system.svc.cluster.local' "$WORK/dnsmasq.log"

# Flows: Hubble jsonpb lines, read back with cnpc observe
sleep 0.3  # the agent drains the ring every 100 ms
observe() { "$CNPC" observe --file "$EVENTS" "$@"; }
check "flows: every line is Hubble jsonpb ({\"flow\": …})" bash -c "! grep -v '^{\"flow\":' '$EVENTS' | grep -q ."
# The dropped flows, one line each (SYN retransmits repeat a flow).
dropped_flows() {
  observe --verdict DROPPED -o json --last 100000 | node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    const seen = new Set();
    for (const l of lines) {
      const f = JSON.parse(l).flow;
      const l4 = f.l4 && (f.l4.TCP || f.l4.UDP) || {};
      const what = f.l7 ? (f.l7.http ? "http " + f.l7.http.method + " " + f.l7.http.code : "dns " + f.l7.dns.query) : "L3_L4";
      const by = (f.ingress_denied_by || f.egress_denied_by || []).map(p => p.name).sort().join("+");
      seen.add(`${f.source.pod_name || f.IP.source} -> ${f.destination.pod_name || f.IP.destination}:${l4.destination_port} ${f.verdict} ${what} by ${by}`);
    }
    console.log([...seen].sort().join("\n"));'
}
dropped_flows >"$WORK/dropped.txt"
cat >"$WORK/dropped.expected" <<'TXT'
stray -> mysql:3306 DROPPED L3_L4 by mysql-access-control
stray -> was:8080 DROPPED L3_L4 by api-read-only
web -> coredns:53 DROPPED dns example.com. by web-egress
web -> mysql:3306 DROPPED L3_L4 by web-egress
web -> was:8080 DROPPED http GET 403 by api-read-only
web -> was:8080 DROPPED http POST 403 by api-read-only
TXT
check "observe --verdict DROPPED -o json: exactly the dropped flows, with the deciding policies" \
  diff -u "$WORK/dropped.expected" "$WORK/dropped.txt"
# Compact lines as Hubble prints them: the forwarded GET's response (was
# back to web) and the denied POST's request.
check "observe --protocol http: GET answered 200, POST dropped" \
  bash -c "'$CNPC' observe --file '$EVENTS' --protocol http --last 100 >'$WORK/http.txt' &&
           grep -q 'blog-system/web:[0-9]* (ID:[0-9]*) <- blog-system/was:8080 (ID:[0-9]*) http-response FORWARDED (HTTP/1.1 200 .*(GET http://.*/api/posts))' '$WORK/http.txt' &&
           grep -q 'blog-system/web:[0-9]* (ID:[0-9]*) -> blog-system/was:8080 (ID:[0-9]*) http-request DROPPED (HTTP/1.1 POST http://.*/api/posts)' '$WORK/http.txt' ||
           { cat '$WORK/http.txt'; false; }"
# The observed service map (the Hubble UI's dependency graph).
"$CNPC" map --flows "$EVENTS" >"$WORK/map.dot" 2>"$WORK/map.err"
check "map --flows: the observed graph has web -> was and was -> mysql" \
  bash -c "grep -q 'web.*->.*was' '$WORK/map.dot' && grep -q 'was.*->.*mysql' '$WORK/map.dot' ||
           { cat '$WORK/map.err'; head -c 2000 '$WORK/map.dot'; false; }"
check "observe --protocol dns: the query for was.blog-system.svc.cluster.local" \
  bash -c "'$CNPC' observe --file '$EVENTS' --protocol dns --last 100 | grep -q 'was.blog-system.svc.cluster.local'"

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
# ... and POST on was's API
sed -i 's|^              - method: GET$|              - method: POST\n                path: "/api/.*"\n              - method: GET|' \
  "$WORK/sample/policies/api-read-only.yaml"
require "the edited api-read-only allows POST" grep -q 'method: POST' "$WORK/sample/policies/api-read-only.yaml"
require "cnpc compile of the edited policies" compile
# Requests in flight across the reload: 100 GETs on one keep-alive
# connection at 20/s, and the reload in the middle of them.
ip netns exec cnpc-e2e-web curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 --rate 20/s \
  $(for i in $(seq 100); do echo "http://${IP[was]}:8080/api/posts?i=$i"; done) >"$WORK/inflight.txt" 2>&1 &
inflight=$!
sleep 2
reloads=$(count reloaded "$LOG")
kill -HUP "$AGENT_PID"
check "agent reloads on SIGHUP" wait_for 10 bash -c "(( \$(grep -c reloaded '$LOG') > $reloads ))"
wait "$inflight"
check "no request in flight lost across the reload: 100 x 200" \
  bash -c "[[ \$(grep -c '^200$' '$WORK/inflight.txt') == 100 ]]"
check "same agent process after reload" kill -0 "$AGENT_PID"
check "after reload: web -> was POST /api/posts is 200" http_is web POST /api/posts 200 '{"title":"x"}'
check "after reload: web -> was GET /admin still 403" http_is web GET /admin 403
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
check "broken bundle: stray -> was:8080 still dropped" http_is stray GET /api/posts 000
check "broken bundle: web -> was POST still 200 (the reloaded rules stay)" http_is web POST /api/posts 200 x

# --- --watch: POST is taken back and compiled over the broken bundle; the
# agent sees the new manifest and reloads by itself
reloads=$(count reloaded "$LOG")
cp "$SRC/samples/blog-system/policies/api-read-only.yaml" "$WORK/sample/policies/api-read-only.yaml"
require "cnpc compile over the broken bundle" compile
check "--watch: the agent reloads the new bundle without a signal" \
  wait_for 10 bash -c "(( \$(grep -c reloaded '$LOG') > $reloads ))"
check "after the watched reload: web -> was POST is 403 again" http_is web POST /api/posts 403 x
check "after the watched reload: web -> was GET is 200" http_is web GET /api/posts 200
check "after the watched reload: stray -> was:8080 dropped" http_is stray GET /api/posts 000

# --- one agent per node, and a crash: the programs stay and enforce (L7
# fails closed without its proxy); a new agent takes over in place
check "a second agent is refused while one runs" \
  bash -c "! '$AGENT' --bundle '$BUNDLE' --endpoints '$WORK/endpoints.json' --pin-dir '$PIN' --events '$WORK/second.json' \
             --once 2>'$WORK/second.log' && grep -q 'another cnpc-agent is running' '$WORK/second.log'"
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
check "agent killed: was -> mysql:3306 still connects (the programs stay)" allowed was mysql 3306
check "agent killed: stray -> mysql:3306 still dropped" dropped stray mysql 3306
check "agent killed: web -> was GET fails closed (no proxy to take it)" http_is web GET /api/posts 000
"$AGENT" --bundle "$BUNDLE" --endpoints "$WORK/endpoints.json" --pin-dir "$PIN" --events "$EVENTS" \
  --node-name e2e-node --watch 2>"$LOG.2" &
AGENT_PID=$!
check "a new agent takes over the crashed one's filters" wait_for 10 grep -q "attached 5 endpoints" "$LOG.2"
check "after the takeover: web -> was GET is 200" http_is web GET /api/posts 200
check "after the takeover: web -> was POST is 403" http_is web POST /api/posts 403 x
check "after the takeover: stray -> was:8080 dropped" http_is stray GET /api/posts 000
cat "$LOG.2" >>"$LOG"

# --- clean exit: filters and pins gone
kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; rc=$?; AGENT_PID=
check "agent exits 0 on SIGTERM" test "$rc" = 0
check "no cnpc filters left on cnpc-web" bash -c "! tc filter show dev cnpc-web ingress | grep -q bpf && ! tc filter show dev cnpc-web egress | grep -q bpf"
check "pins removed" test ! -e "$PIN/cnpc_ipcache"
check "policy route removed" bash -c "! ip rule show | grep -q 'fwmark $TO_PROXY_MARK'"
check "after detach: web -> mysql:3306 connects again (no program)" connects web mysql 3306

echo "--- agent log"; cat "$LOG"
echo "--- first events"; head -n 5 "$EVENTS"
echo "$PASS passed, $FAIL failed"
((FAIL == 0))
