#!/usr/bin/env bash
# Validates cnpc's SARIF with Microsoft's SARIF multitool (installed by
# .ci/install-deps into build/tools): no errors allowed.
set -euo pipefail
cnpc=$1
root=$2
tool=$root/build/tools/node_modules/.bin/sarif-multitool
if [[ ! -x $tool ]]; then
  if [[ ${CI:-} == true ]]; then echo "sarif-multitool missing in CI" >&2; exit 1; fi
  echo "SKIP: sarif-multitool not installed (run .ci/install-deps)"; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
# A report with findings of several kinds, and a clean one.
"$cnpc" lint tests/golden/cases samples/blog-system/policies -o sarif --output-file "$work/findings.sarif" || true
"$cnpc" lint samples/blog-system/policies -o sarif --output-file "$work/clean.sarif"
for f in "$work"/*.sarif; do
  out=$("$tool" validate "$f" 2>&1) || { echo "$out"; echo "validation failed: $f"; exit 1; }
  echo "$out" | grep -E ': error ' && { echo "SARIF errors in $f"; exit 1; }
  echo "valid: $(basename "$f") ($(echo "$out" | grep -c ': warning ' || true) warnings)"
done
