#!/usr/bin/env bash
# cnpc observe over a large flow log (docs/observe.md, "Scale"): repeats the
# flows of tests/cli/observe_flows.json up to N lines (default 400,000, about
# 325 MB), then times the January DROPPED export and --last 20 with GNU
# time (wall seconds, peak RSS). Not part of ctest; nothing asserts a time.
#   tests/bench/observe_scale.sh [--build DIR] [--lines N]
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build" lines=400000
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --lines) lines="$2"; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--lines N]" >&2; exit 2 ;;
  esac
done
cnpc=$build/compiler/cnpc
[[ -x $cnpc ]] || { echo "missing $cnpc" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The fixture's flow lines (not its node_status line), over and over.
grep '^{"flow"' "$root/tests/cli/observe_flows.json" >"$work/one.json"
per=$(wc -l <"$work/one.json")
for ((i = 0; i < (lines + per - 1) / per; i++)); do cat "$work/one.json"; done | head -n "$lines" >"$work/flows.json"
echo "log: $(wc -l <"$work/flows.json") flows, $(($(stat -c %s "$work/flows.json") / 1000000)) MB"

run() {  # run LABEL ARGS...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$cnpc" observe --file "$work/flows.json" "$@" >"$work/out"
  read -r secs kb <"$work/time"
  echo "$label: $(wc -l <"$work/out") flows printed, ${secs} s, $((kb / 1024)) MB peak"
}
run "January DROPPED export" --verdict DROPPED --since 2026-01-01T00:00:00Z --until 2026-01-31T23:59:59Z -o json
run "--last 20" --last 20
