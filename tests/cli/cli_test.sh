#!/usr/bin/env bash
# The cnpc driver end to end: exit codes, output shapes, error messages.
set -uo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cnpc=$1
root=$2
cd "$root"
S=samples/blog-system
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
check help 0 "$cnpc" --help
check lint-help 0 "$cnpc" lint --help
contains lint-help-example "Example"
check query-help 0 "$cnpc" query --help
contains query-help-example "Examples"
check version 0 "$cnpc" version
contains version-text "cnpc 0."
check no-subcommand 2 "$cnpc"
check unknown-flag 2 "$cnpc" lint --no-such-flag $S/policies
check bad-format 2 "$cnpc" lint -o xml $S/policies
check missing-path 2 "$cnpc" lint does/not/exist.yaml
contains missing-path-msg "does/not/exist.yaml: error: no such file or directory"

check lint-sample 0 "$cnpc" lint $S/policies --inventory $S/inventory.yaml
check lint-json 1 "$cnpc" lint tests/golden/cases/values.yaml -o json
json_eval lint-json-shape "Array.isArray(x) && x.length > 0 && x.every(f => f.check && /^CNPC\\d{4}$/.test(f.code) && ['error','warning','note'].includes(f.severity) && f.message && f.file && f.line > 0 && f.column > 0)"
check yaml-syntax 2 "$cnpc" lint tests/golden/cases/yaml-syntax.yaml
contains yaml-syntax-loc "yaml-syntax.yaml:8:10: error:"
check warning-only 0 "$cnpc" lint tests/golden/cases/unknown-field.yaml
check fail-on-warning 1 "$cnpc" lint tests/golden/cases/unknown-field.yaml --fail-on warning
check atomic-output 0 "$cnpc" lint $S/policies -o sarif --output-file "$work/out.sarif"
out=$(cat "$work/out.sarif")
json_eval sarif-shape "x.version === '2.1.0' && x.runs[0].tool.driver.name === 'cnpc' && Array.isArray(x.runs[0].tool.driver.rules) && x.runs[0].results.length === 0"
check unwritable-output 2 "$cnpc" lint $S/policies --output-file "$work/no/such/dir/out.txt"
[[ -z $(ls "$work") || ! -e $work/no ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: partial output left"; }

Q=("$cnpc" query $S/policies --inventory $S/inventory.yaml)
check query-get 0 "${Q[@]}" --from blog-system/web --to blog-system/was --port 8080 --http-method GET --http-path /api/posts -o json
json_eval query-get-json "x.verdict === 'allowed' && x.reason === null && x.l7_enforced === true && x.l7_verdict === 'allowed' && x.rules.length >= 2 && x.rules.every(r => r.file && r.line > 0)"
check query-post 0 "${Q[@]}" --from blog-system/web --to blog-system/was --port 8080 --http-method POST --http-path /api/posts
contains query-post-text "DENIED  blog-system/web -> blog-system/was 8080/TCP HTTP POST /api/posts"
contains query-post-403 "HTTP 403 Access denied"
check query-mysql 0 "${Q[@]}" --from blog-system/web --to blog-system/mysql --port 3306 -o json
json_eval query-mysql-json "x.verdict === 'denied' && x.reason === 'policy-denied' && x.l7_verdict === null"
check query-world 0 "${Q[@]}" --from cidr:203.0.113.7 --to blog-system/was --port 8080 -o json
json_eval query-world-json "x.verdict === 'denied' && x.src === 'cidr:203.0.113.7'"
check query-pod-ip 0 "${Q[@]}" --from cidr:10.0.2.20 --to blog-system/mysql --port 3306 -o json
json_eval query-pod-ip-json "x.verdict === 'allowed' && x.src === 'blog-system/was'"
check query-entity 0 "${Q[@]}" --from entity:host --to blog-system/mysql --port 3306 -o json
json_eval query-localhost "x.verdict === 'allowed'"
check query-localhost-policy 0 "${Q[@]}" --allow-localhost policy --from entity:host --to blog-system/mysql --port 3306 -o json
json_eval query-localhost-policy-json "x.verdict === 'denied'"
check query-audit 0 "${Q[@]}" --policy-audit-mode --from blog-system/web --to blog-system/mysql --port 3306 -o json
json_eval query-audit-json "x.verdict === 'audit' && x.reason === 'policy-denied'"
check query-never 0 "${Q[@]}" --policy-enforcement never --from blog-system/web --to blog-system/mysql --port 3306 -o json
json_eval query-never-json "x.verdict === 'allowed'"
check query-unknown 2 "${Q[@]}" --from blog-system/webb --to blog-system/was --port 8080
contains query-unknown-hint "did you mean 'blog-system/web'?"
check query-no-port 2 "${Q[@]}" --from blog-system/web --to blog-system/was
check query-no-target 2 "${Q[@]}" --from blog-system/web
check query-bad-inputs 2 "$cnpc" query tests/golden/cases/values.yaml --from a/b --to c/d --port 1
contains query-bad-inputs-msg "inputs have errors"
check query-flows 0 "${Q[@]}" --flows $S/expectations.yaml -o json
json_eval query-flows-json "Array.isArray(x) && x.length === 8 && x.every(a => a.expectation_met === true)"
cat > "$work/wrong.yaml" <<'YAML'
- src: blog-system/web
  dst: blog-system/mysql
  port: 3306
  expect: allowed
YAML
check query-expect-fails 1 "${Q[@]}" --flows "$work/wrong.yaml"
contains query-expect-fails-text "FAIL DENIED"

check query-explain 0 "${Q[@]}" --from blog-system/web --to blog-system/was --port 8080 --http-method POST --http-path /api/posts --explain
contains query-explain-default-deny "on, default deny because these select it and have ingress rules"
contains query-explain-rule "-> matches: allow"
contains query-explain-l7 "L7: enforced (http)"

# diff: a change that lets POST through, mirrored, and a set against itself.
mkdir -p "$work/head"
cp $S/policies/*.yaml "$work/head/"
sed -i 's/- method: GET/- method: "GET|POST"/' "$work/head/api-read-only.yaml"
D=("$cnpc" diff --inventory $S/inventory.yaml)
check diff-post 0 "${D[@]}" $S/policies --head "$work/head"
contains diff-post-text "request newly allowed: blog-system/web -> blog-system/was  TCP 8080  (ingress)"
contains diff-post-witness "HTTP POST"
check diff-mirror 0 "${D[@]}" "$work/head" --head $S/policies -o json
json_eval diff-mirror-json "x.groups.length === 1 && x.groups[0].change === 'request newly denied' && x.groups[0].head_rules.length === 1"
check diff-same 0 "${D[@]}" $S/policies --head $S/policies --fail-on-change
contains diff-same-text "no change in any verdict"
check diff-fail-on-change 1 "${D[@]}" $S/policies --head "$work/head" --fail-on-change -o markdown
contains diff-markdown "| change | from | to | ports | decided by (head) | witness |"

# lint's proved findings carry witnesses.
check lint-findings 0 "$cnpc" lint tests/golden/cases/findings.yaml
contains lint-shadowed "[CNPC0301]"
contains lint-witness "note: witness: shop/{app=batch} -> shop/{app=api} 9000/TCP"
check lint-findings-fail 1 "$cnpc" lint tests/golden/cases/findings.yaml --fail-on warning
check lint-no-verify 0 "$cnpc" lint tests/golden/cases/findings.yaml --no-verify --fail-on warning

summary
