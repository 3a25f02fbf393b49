#!/usr/bin/env bash
# cnpc map and cnpc query --who-can-reach/--reachable-from end to end on the
# blog sample: DOT clusters and edges, JSON shapes, SVG through Graphviz (or
# the clear error without it), observed maps from Hubble jsonpb flows.
# Usage: map_test.sh <cnpc> <repo-root>
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cnpc=$1
root=$2
cd "$root"
S=samples/blog-system
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
edge() {  # edge NAME FROM TO TEXT... ; the DOT edge line FROM -> TO has every TEXT
  local name=$1 line
  line=$(grep -F -- "\"$2\" -> \"$3\" [" <<<"$out")
  shift 3
  if [[ -z $line ]]; then failed=$((failed + 1)); echo "FAIL $name: no edge"; return; fi
  for t in "$@"; do
    grep -qF -- "$t" <<<"$line"
    ok "$name: edge lacks '$t' ($line)" $?
  done
}
M=("$cnpc" map $S/policies --inventory $S/inventory.yaml)
Q=("$cnpc" query $S/policies --inventory $S/inventory.yaml)

# ---------------------------------------------------------------- map: DOT
check map-dot 0 "${M[@]}"
dot_out=$out
contains map-digraph "digraph cnpc {"
contains map-cluster-blog 'subgraph "cluster_blog-system" {'
contains map-cluster-blog-label 'label="blog-system";'
contains map-cluster-kube 'subgraph "cluster_kube-system" {'
contains map-world-node '"world" [label="world", shape=hexagon'
edge map-web-was blog-system/web blog-system/was 'TCP 8080' 'HTTP GET /api/.*'
edge map-was-mysql blog-system/was blog-system/mysql 'TCP 3306'
edge map-web-dns blog-system/web kube-system/coredns 'ANY 53' 'DNS *.svc.cluster.local'
lacks map-no-web-mysql '"blog-system/web" -> "blog-system/mysql"'
lacks map-no-stray-was '"blog-system/stray" -> "blog-system/was"'
# allow-localhost edges are by design, not drawn.
lacks map-no-host-was 'host+ingress+init+kube-apiserver+remote-node+unmanaged" -> "blog-system/was"'
check map-deterministic 0 "${M[@]}"
[[ $out == "$dot_out" ]]
ok "map-deterministic: two runs differ" $?

check map-output-file 0 "${M[@]}" --output-file "$work/map.dot"
[[ $(cat "$work/map.dot") == "$dot_out" && -z $(ls "$work" | grep '\.tmp\.') ]]
ok "map-output-file: file differs from stdout or temp left" $?
check map-unwritable 2 "${M[@]}" --output-file "$work/no/such/dir/map.dot"

# --------------------------------------------------------------- map: JSON
check map-json 0 "${M[@]}" -o json
json_eval map-json-shape "Array.isArray(x.nodes) && Array.isArray(x.edges) && x.mode === 'policy' && x.nodes.every(n => n.id && n.kind) && x.edges.every(e => e.from && e.to && Array.isArray(e.ports) && Array.isArray(e.l7))"
json_eval map-json-web-was "x.edges.some(e => e.from === 'blog-system/web' && e.to === 'blog-system/was' && e.ports.join() === 'TCP 8080' && e.l7.join() === 'HTTP GET /api/.*' && e.rules.length === 2)"
json_eval map-json-was-mysql "x.edges.some(e => e.from === 'blog-system/was' && e.to === 'blog-system/mysql' && e.ports.join() === 'TCP 3306' && e.l7.length === 0)"
json_eval map-json-nodes "['blog-system/web','blog-system/was','blog-system/mysql','kube-system/coredns'].every(id => x.nodes.some(n => n.id === id && n.count === 1))"

# ---------------------------------------------------------------- map: SVG
if command -v dot >/dev/null; then
  check map-svg 0 "${M[@]}" -o svg
  contains map-svg-root "<svg"
  contains map-svg-title "<title>cnpc</title>"
  contains map-svg-edge "TCP 3306"
else
  echo "SKIP map-svg: Graphviz 'dot' not installed"
fi
# The pipe itself, with a stand-in dot that counts what it was fed.
mkdir -p "$work/bin"
printf '#!/bin/sh\n[ "$1" = "-Tsvg" ] || exit 9\nprintf "<svg>%%s</svg>\\n" "$(wc -c)"\n' >"$work/bin/dot"
chmod +x "$work/bin/dot"
check map-svg-pipe 0 env PATH="$work/bin:$PATH" "${M[@]}" -o svg
[[ $out == "<svg>${#dot_out}</svg>" || $out == "<svg>$(printf '%s\n' "$dot_out" | wc -c)</svg>" ]]
ok "map-svg-pipe: dot was not fed the whole DOT ($out)" $?
printf '#!/bin/sh\necho "Error: syntax error" >&2\nexit 1\n' >"$work/bin/dot"
check map-svg-dot-fails 2 env PATH="$work/bin:$PATH" "${M[@]}" -o svg
contains map-svg-dot-fails-msg "dot -Tsvg failed"
mkdir -p "$work/empty"
check map-svg-no-graphviz 2 env PATH="$work/empty" "${M[@]}" -o svg
contains map-svg-no-graphviz-msg "Graphviz"
contains map-svg-no-graphviz-hint "-o dot"

# ----------------------------------------------------------- map: --flows
cat >"$work/flows.jsonl" <<'EOF'
{"flow":{"time":"2026-01-05T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.0.1.10","destination":"10.0.2.20"},"l4":{"TCP":{"source_port":40000,"destination_port":8080}},"source":{"namespace":"blog-system","pod_name":"web","labels":["k8s:app=web"]},"destination":{"namespace":"blog-system","pod_name":"was","labels":["k8s:app=was"]},"Type":"L7","l7":{"type":"REQUEST","http":{"method":"GET","url":"http://was-service:8080/api/posts"}}},"node_name":"worker-1"}
{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.2.20","destination":"10.0.1.10"},"l4":{"TCP":{"source_port":8080,"destination_port":40000}},"source":{"namespace":"blog-system","pod_name":"was","labels":["k8s:app=was"]},"destination":{"namespace":"blog-system","pod_name":"web","labels":["k8s:app=web"]},"l7":{"type":"RESPONSE","http":{"code":200,"method":"GET","url":"http://was-service:8080/api/posts"}},"is_reply":true}}
{"flow":{"verdict":"DROPPED","IP":{"source":"10.0.1.10","destination":"10.0.3.30"},"l4":{"TCP":{"destination_port":3306}},"source":{"namespace":"blog-system","pod_name":"web","labels":["k8s:app=web"]},"destination":{"namespace":"blog-system","pod_name":"mysql","labels":["k8s:app=mysql"]},"drop_reason_desc":"POLICY_DENIED"}}
{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.2.20","destination":"10.0.3.30"},"l4":{"TCP":{"destination_port":3306}},"source":{"namespace":"blog-system","pod_name":"was","labels":["k8s:app=was"]},"destination":{"namespace":"blog-system","pod_name":"mysql","labels":["k8s:app=mysql"]}}}
{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.1.10","destination":"10.0.0.53"},"l4":{"UDP":{"destination_port":53}},"source":{"namespace":"blog-system","pod_name":"web","labels":["k8s:app=web"]},"destination":{"namespace":"kube-system","pod_name":"coredns","labels":["k8s:k8s-app=kube-dns"]},"l7":{"type":"REQUEST","dns":{"query":"was-service.blog-system.svc.cluster.local."}}}}
EOF
check map-observed 0 "$cnpc" map --flows "$work/flows.jsonl"
contains map-observed-comment "observed communication"
edge map-observed-web-was blog-system/web blog-system/was 'TCP 8080' 'HTTP GET /api/posts'
edge map-observed-was-mysql blog-system/was blog-system/mysql 'TCP 3306'
edge map-observed-dns blog-system/web kube-system/kube-dns 'UDP 53' 'DNS was-service.blog-system.svc.cluster.local'
lacks map-observed-no-dropped '"blog-system/web" -> "blog-system/mysql"'
lacks map-observed-no-reply '"blog-system/was" -> "blog-system/web"'
check map-observed-json 0 "$cnpc" map --flows "$work/flows.jsonl" -o json
json_eval map-observed-json-shape "x.mode === 'observed' && x.edges.length === 3 && x.edges.every(e => e.observed && e.flows >= 1)"

check map-both 0 "${M[@]}" --flows "$work/flows.jsonl"
edge map-both-web-was blog-system/web blog-system/was 'TCP 8080' 'HTTP GET /api/.*' 'style=bold' 'seen: TCP 8080, HTTP GET /api/posts'
edge map-both-was-mysql blog-system/was blog-system/mysql 'style=bold'
edge map-both-unobserved blog-system/was kube-system/coredns 'style=dashed'
lacks map-both-no-red 'color=red'
# A forwarded flow the policies deny is marked.
echo '{"flow":{"verdict":"FORWARDED","l4":{"TCP":{"destination_port":3306}},"source":{"namespace":"blog-system","pod_name":"web"},"destination":{"namespace":"blog-system","pod_name":"mysql"}}}' >>"$work/flows.jsonl"
check map-both-unexpected 0 "${M[@]}" --flows "$work/flows.jsonl"
edge map-both-unexpected-edge blog-system/web blog-system/mysql 'color=red' 'not allowed by policy'
echo 'not json' >"$work/bad.jsonl"
check map-bad-flows 2 "$cnpc" map --flows "$work/bad.jsonl"
contains map-bad-flows-loc "bad.jsonl:1: error:"
check map-nothing 2 "$cnpc" map

# ------------------------------------------------- query: reachability sets
check who-was 0 "${Q[@]}" --who-can-reach blog-system/was
contains who-was-header "who can reach blog-system/was"
contains who-was-web "blog-system/web  pod"
contains who-was-l7 "TCP 8080  HTTP GET /api/.*"
contains who-was-host "allow-localhost"
lacks who-was-no-stray "blog-system/stray"
check who-was-json 0 "${Q[@]}" --who-can-reach blog-system/was -o json
json_eval who-was-json-shape "x.target === 'blog-system/was' && x.direction === 'who-can-reach' && x.peers.length === 2"
json_eval who-was-json-web "x.peers[0].name === 'blog-system/web' && x.peers[0].kind === 'pod' && x.peers[0].count === 1 && x.peers[0].labels['k8s:app'] === 'web' && JSON.stringify(x.peers[0].allowed) === JSON.stringify([{proto: 'TCP', ports: '8080', l7: ['HTTP GET /api/.*']}]) && x.peers[0].rules.every(r => /\\.yaml:\\d+$/.test(r))"
json_eval who-was-json-host "x.peers[1].name === 'entity:host' && x.peers[1].kind === 'entity' && x.peers[1].via_localhost && x.peers[1].allowed[0].proto === 'any'"
check who-mysql-json 0 "${Q[@]}" --who-can-reach blog-system/mysql -o json --allow-localhost policy
json_eval who-mysql-only-was "x.peers.length === 1 && x.peers[0].name === 'blog-system/was' && x.peers[0].allowed.length === 1 && x.peers[0].allowed[0].proto === 'TCP' && x.peers[0].allowed[0].ports === '3306'"
check who-was-port 0 "${Q[@]}" --who-can-reach blog-system/was --port 9090 --allow-localhost policy
contains who-was-port-none "nothing can reach blog-system/was (TCP port 9090)"
check from-web 0 "${Q[@]}" --reachable-from blog-system/web -o json
json_eval from-web-json "x.direction === 'reachable-from' && x.peers.map(p => p.name).join() === 'blog-system/was,kube-system/coredns' && x.peers[1].allowed[0].proto === 'ANY' && x.peers[1].allowed[0].l7.includes('DNS *.svc.cluster.local')"
check who-unknown 2 "${Q[@]}" --who-can-reach blog-system/wass
contains who-unknown-hint "did you mean 'blog-system/was'"
check who-both 2 "${Q[@]}" --who-can-reach blog-system/was --reachable-from blog-system/web
check who-world 2 "${Q[@]}" --who-can-reach entity:world
check who-cidr 0 "${Q[@]}" --reachable-from cidr:203.0.113.7 -o json
json_eval who-cidr-json "x.target === 'cidr:203.0.113.7' && x.peers.every(p => p.name !== 'blog-system/was')"

summary map_test
