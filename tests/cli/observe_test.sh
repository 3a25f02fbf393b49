#!/usr/bin/env bash
# cnpc observe end to end over tests/cli/observe_flows.json: jsonpb lines as
# the agent writes them (to_hubble_json) plus lines from Hubble's own export
# (a node_status line, an unwrapped flow), December 2025 to March 2026.
# Checks the scenario's audit export, every filter, the counts, compact
# lines, --follow, and the exit-2 errors.
# Usage: observe_test.sh <cnpc> <repo-root>
set -uo pipefail
check_split_stderr=1
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cnpc=$(realpath "$1")
root=$(realpath "$2")
F=$root/tests/cli/observe_flows.json
work=$(mktemp -d)
follow_pid=
trap '[[ -n $follow_pid ]] && kill "$follow_pid" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
lines() {  # lines NAME N ; $out has N lines
  local n=0
  [[ -n $out ]] && n=$(wc -l <<<"$out")
  [[ $n == "$2" ]]
  ok "$1: $n lines, want $2" $?
}
every() {  # every NAME TEXT ; every line of $out has TEXT
  ! grep -vqF -- "$2" <<<"$out"
  ok "$1: a line lacks '$2'" $?
}

O=("$cnpc" observe --file "$F")

# ------------------------------------------- the scenario's audit export
"$cnpc" observe --file "$F" --verdict DROPPED --since 2026-01-01T00:00:00Z --until 2026-01-31T23:59:59Z \
  --output json >security-events-jan.json
ok "audit export exit" $?
out=$(<security-events-jan.json)
lines "audit export" 5  # 00:00:00 and 23:59:59 are in; 23:59:59.5 and Dec 31 23:59:59.999 are out
if command -v jq >/dev/null; then
  out=$(jq -r '.flow | "\(.time) \(.source.pod_name) -> \(.destination.pod_name) (DROPPED)"' security-events-jan.json)
  ok "audit jq parses" $?
  n=$(wc -l <<<"$out")
  [[ $n == 5 ]]
  ok "audit jq count $n, want 5" $?
  contains "audit jq line" "2026-01-20T00:00:00Z debug-pod -> mysql-0 (DROPPED)"
  lacks "audit jq null" "null"
else
  every "audit .flow.time" '"time":"2026-01-'
  every "audit pod_name" '"pod_name":'
  every "audit verdict" '"verdict":"DROPPED"'
  contains "audit line" '"pod_name":"debug-pod"'
fi
out=$(<security-events-jan.json)
every "audit wrapped" '{"flow":{'

# ------------------------------------------------------------- filters
check verdict-forwarded 0 "${O[@]}" --all --verdict forwarded
lines verdict-forwarded 10
every verdict-forwarded " FORWARDED ("
check verdict-or 0 "${O[@]}" --all --verdict FORWARDED --verdict DROPPED
lines verdict-or 20
check verdict-bad 2 "${O[@]}" --verdict MAYBE

check namespace 0 "${O[@]}" --all --namespace kube-system
lines namespace 3
every namespace "kube-system/coredns"
check namespace-or 0 "${O[@]}" --all -n kube-system -n default
lines namespace-or 4
check namespace-and-verdict 0 "${O[@]}" --all -n kube-system --verdict DROPPED
lines namespace-and-verdict 1
contains namespace-and-verdict "RCode: Refused"

check pod-prefix 0 "${O[@]}" --all --pod blog-system/was
lines pod-prefix 9  # either side: web<->was (5) and was->mysql (4)
every pod-prefix "blog-system/was-5c7b9-fghij"
check pod-default-ns 0 "${O[@]}" --all --pod debug
lines pod-default-ns 1
contains pod-default-ns "default/debug-pod:41000"
check pod-bare-name-is-default 0 "${O[@]}" --all --pod web
lines pod-bare-name-is-default 0
grep -qF "default/web" <<<"$err"
ok "pod note names default/web" $?
# -n NS --pod POD means NS/POD (Hubble since cilium/cilium#28921), -A any namespace.
check pod-with-namespace-flag 0 "${O[@]}" --all -n blog-system --pod was
lines pod-with-namespace-flag 9
every pod-with-namespace-flag "blog-system/was-5c7b9-fghij"
check pod-all-namespaces 0 "${O[@]}" --all -A --pod was
lines pod-all-namespaces 9
check pod-all-namespaces-debug 0 "${O[@]}" --all -A --pod debug
lines pod-all-namespaces-debug 1
# One end only, and Hubble's other filters; different flags AND, a flag repeated ORs.
check from-pod 0 "${O[@]}" --all --from-pod blog-system/was
lines from-pod 6
check to-pod 0 "${O[@]}" --all --to-pod blog-system/mysql
lines to-pod 10
check from-and-to-pod 0 "${O[@]}" --all --from-pod blog-system/web --to-pod blog-system/mysql
lines from-and-to-pod 5
check to-namespace 0 "${O[@]}" --all --to-namespace kube-system
lines to-namespace 1
check from-namespace 0 "${O[@]}" --all --from-namespace kube-system
lines from-namespace 2
check label-with-source 0 "${O[@]}" --all -l k8s:app=was
lines label-with-source 8
check label-any-source 0 "${O[@]}" --all -l app=was
lines label-any-source 8
check to-label 0 "${O[@]}" --all --to-label app=mysql
lines to-label 9
check label-reserved 0 "${O[@]}" --all -l reserved:world
lines label-reserved 2
check port 0 "${O[@]}" --all --port 3306
lines port 10
check port-source-side 0 "${O[@]}" --all --port 34567
lines port-source-side 5
check http-status-class 0 "${O[@]}" --all --http-status 2+
lines http-status-class 1
check http-status-or 0 "${O[@]}" --all --http-status 4+ --http-status 2+
lines http-status-or 2
check http-method 0 "${O[@]}" --all --http-method post
lines http-method 1
check http-method-get 0 "${O[@]}" --all --http-method GET
lines http-method-get 3
check http-path 0 "${O[@]}" --all --http-path '^/api/'
lines http-path 4
check http-path-none 0 "${O[@]}" --all --http-path admin
lines http-path-none 0
check http-path-bad-regex 2 "${O[@]}" --all --http-path '('
check traffic-direction 0 "${O[@]}" --all --traffic-direction egress
lines traffic-direction 4
check drop-reason-deny 0 "${O[@]}" --all --drop-reason-desc POLICY_DENY
lines drop-reason-deny 1
check drop-reason-denied 0 "${O[@]}" --all --drop-reason-desc POLICY_DENIED
lines drop-reason-denied 7
check pod-or-and 0 "${O[@]}" --all --pod blog-system/mysql --pod default/debug --verdict FORWARDED
lines pod-or-and 3

check protocol-http 0 "${O[@]}" --all --protocol http
lines protocol-http 4
every protocol-http " http-"
contains protocol-http "http-response DROPPED (HTTP/1.1 403 3ms (POST http://was-service:8080/api/posts))"
check protocol-dns 0 "${O[@]}" --all --protocol DNS
lines protocol-dns 3
contains protocol-dns "dns-request FORWARDED (DNS Query was-service.blog-system.svc.cluster.local. A)"
check protocol-tcp 0 "${O[@]}" --all --protocol tcp
lines protocol-tcp 15
lacks protocol-tcp " dns-"
check protocol-udp-or-icmp 0 "${O[@]}" --all --protocol udp --protocol icmp
lines protocol-udp-or-icmp 5
check protocol-bad 2 "${O[@]}" --protocol smtp

check type-drop 0 "${O[@]}" --all --type drop
lines type-drop 8  # the L3/L4 drops; the two L7 denials are l7 events
check type-l7 0 "${O[@]}" --all -t l7
lines type-l7 7

# ---------------------------------------------------------- how many
check default-last-20 0 "${O[@]}"
lines default-last-20 20
check last 0 "${O[@]}" --last 3
lines last 3
contains last "Mar  2 10:00:00.000:"
lacks last "Feb 20 08:00:00.123:"
check last-with-filter 0 "${O[@]}" --verdict DROPPED --last 2
lines last-with-filter 2
contains last-with-filter "Feb 20 08:00:00.123:"
check first 0 "${O[@]}" --first 2
lines first 2
contains first "Dec 30 08:00:00.000:"
check first-and-last 2 "${O[@]}" --first 1 --last 1
check since-absolute 0 "${O[@]}" --since 2026-03-01
lines since-absolute 3
check since-date-hour 0 "${O[@]}" --since 2026-03-01T10 --until 2026-03-01T12:00
lines since-date-hour 1
check since-offset 0 "${O[@]}" --since 2026-03-01T12:30:00+01:00 --until 2026-03-01T11:30:00.5-00:30
lines since-offset 1  # 11:30Z to 12:00:00.5Z
check since-relative-none 0 "${O[@]}" --since 1h
lines since-relative-none 0
# Relative to now: a line stamped a few seconds ago is in, the fixture is not.
now_line=$(sed -n 4p "$F" | sed -E "s/2026-01-05T10:00:00.001Z/$(date -u +%Y-%m-%dT%H:%M:%SZ)/g")
cp "$F" recent.json
echo "$now_line" >>recent.json
check since-relative 0 "$cnpc" observe --file recent.json --since 5m
lines since-relative 1
check since-relative-compound 0 "$cnpc" observe --file recent.json --since 1h43m10s
lines since-relative-compound 1
check since-bad 2 "${O[@]}" --since yesterday

# ------------------------------------------------------------ compact
check compact 0 "${O[@]}" --all
contains compact "Jan  1 00:00:00.000: blog-system/web-stable-7d9f8-abcde:40002 (ID:3) -> blog-system/mysql-0:3306 (ID:5) Policy denied DROPPED (POLICY_DENIED)"
contains compact "Jan  5 10:00:00.002: blog-system/web-stable-7d9f8-abcde:34567 (ID:3) -> blog-system/was-5c7b9-fghij:8080 (ID:4) http-request FORWARDED (HTTP/1.1 GET http://was-service:8080/api/posts)"
contains compact "Jan  5 10:00:00.010: blog-system/web-stable-7d9f8-abcde:34567 (ID:3) <- blog-system/was-5c7b9-fghij:8080 (ID:4) http-response FORWARDED (HTTP/1.1 200 3ms (GET http://was-service:8080/api/posts))"
contains compact "Jan  5 10:00:00.001: blog-system/web-stable-7d9f8-abcde:34567 (ID:3) -> blog-system/was-5c7b9-fghij:8080 (ID:4) to-endpoint FORWARDED (TCP 8080)"
contains compact "Feb 11 11:11:11.000: 203.0.113.9 (ID:2) -> blog-system/web-stable-7d9f8-abcde (ID:3) Policy denied by denylist DROPPED (POLICY_DENY)"
contains compact "-> [2001:db8::1]:5353 (ID:2) from-endpoint FORWARDED (UDP 5353)"
contains compact "(ID:5) to-endpoint FORWARDED (TCP Flags: ACK)"  # Hubble's unwrapped export line
! grep -vqE '^[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}: [^ ]+ \(ID:[0-9]+\) (->|<-) [^ ]+ \(ID:[0-9]+\) [^()]+ (FORWARDED|DROPPED) \(.*\)$' <<<"$out"
ok "compact: every line has Hubble's shape" $?
check compact-policy-names 0 "${O[@]}" --all --print-policy-names --print-node-name --pod default/debug
contains compact-policy-names "Jan 20 00:00:00.000 [worker-1]: default/debug-pod:41000"
contains compact-policy-names "(POLICY_DENIED) [ingress-denied-by: blog-system/mysql-access-control]"
check jsonpb-roundtrip 0 "${O[@]}" --all -o jsonpb
lines jsonpb-roundtrip 20
contains jsonpb-roundtrip '"uuid":"5f0e8a4c-6f1b-4e5e-9d7a-2b1c3d4e5f60"'
contains jsonpb-roundtrip '{"flow":{"time":"2026-03-01T12:00:00Z","verdict":"FORWARDED"'  # the bare flow, wrapped
check stdin 0 "$cnpc" observe --file - --verdict DROPPED --all <"$F"
lines stdin 10

# ------------------------------------------------------------- follow
cp "$F" live.json
"$cnpc" observe --file live.json --follow --verdict DROPPED >follow.out 2>follow.err &
follow_pid=$!
wait_lines() {  # wait_lines N: until follow.out has N lines (5 s at most)
  for _ in $(seq 50); do
    [[ $(wc -l <follow.out) -ge $1 ]] && return 0
    sleep 0.1
  done
  return 1
}
sleep 0.5
out=$(<follow.out)
lines follow-no-history 0
sed -n 3p "$F" >>live.json  # a drop
sed -n 5p "$F" >>live.json  # forwarded: filtered out
wait_lines 1
out=$(<follow.out)
lines follow-appended 1
contains follow-appended "Jan  1 00:00:00.000: blog-system/web-stable-7d9f8-abcde:40002"
line12=$(sed -n 12p "$F")
printf '%s' "${line12:0:80}" >>live.json  # half a line: waits for the rest
sleep 0.5
printf '%s\n' "${line12:80}" >>live.json
wait_lines 2
out=$(<follow.out)
lines follow-split-line 2
: >live.json  # truncated (rotation): read again from the start
sleep 0.5
sed -n 2p "$F" >>live.json
wait_lines 3
out=$(<follow.out)
lines follow-truncated 3
contains follow-truncated "Dec 31 23:59:59.999:"
kill -TERM "$follow_pid"
wait "$follow_pid"
ok "follow exits 0 on SIGTERM" $?
follow_pid=
check follow-last 0 timeout --preserve-status -s INT 1 "$cnpc" observe --file "$F" --follow --last 2
lines follow-last 2

# ------------------------------------------------------------- errors
{
  sed -n 1,2p "$F"
  echo '{"flow": {"time": "2026-01-01T00:00:00Z", "verdict": }}'
} >bad.json
check malformed 2 "$cnpc" observe --file bad.json
lines malformed-no-partial-output 0
grep -qE "^bad\.json:3:[0-9]+: error: " <<<"$err"
ok "malformed names file:line:col ($err)" $?
printf '%s\n' '{"flow": {"time": "last tuesday"}}' >badtime.json
check bad-time 2 "$cnpc" observe --file badtime.json
grep -qF 'badtime.json:1:20: error: flow time "last tuesday" is not RFC 3339' <<<"$err"
ok "bad time names file:line:col ($err)" $?
printf '%s\n' '[1, 2]' >array.json
check not-an-object 2 "$cnpc" observe --file array.json
check missing-file 2 "$cnpc" observe --file does-not-exist.json
if [[ ! -e /run/cnpc/flows.json ]]; then
  check missing-default-log 2 "$cnpc" observe
  grep -qF "no flow log at /run/cnpc/flows.json: is cnpc-agent running? use --file" <<<"$err"
  ok "missing default log message ($err)" $?
fi

# --------------------------------------- cnpc map reads the same lines
check map-flows 0 "$cnpc" map --flows "$F"
contains map-flows '"blog-system/web" -> "blog-system/was" [label="TCP 8080\nHTTP GET /api/posts"];'

summary observe
