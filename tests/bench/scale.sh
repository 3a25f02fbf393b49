#!/usr/bin/env bash
# Scale benchmark of the verifier (issue 3). Not part of ctest; run by hand
# on an otherwise idle machine, from a Release build:
#
#   tests/bench/scale.sh [--build DIR] [--sizes "100x1000 1000x5000 ..."]
#                        [--timeout SECONDS] [--mem-limit MB] [--jobs N]
#                        [--commands "lint diff map"] [--keep]
#
# For each POLICIESxPODS size it generates a synthetic cluster with
# cnpc_gen_cluster (policies.yaml, inventory.yaml, and a head/ copy with one
# changed policy) into a temporary directory and measures, with
# /usr/bin/time, the wall time, peak RSS and CPU time (user + sys) of
#   cnpc lint BASE --inventory INV -o json          (all findings)
#   cnpc diff BASE --head HEAD --inventory INV -o json
#   cnpc map  BASE --inventory INV -o json
# Each run has a timeout (default 600 s) and is reported as "timeout" when
# it hits it, and an address-space cap (default half the RAM: the machine
# may be shared, and an unbounded run ends in the OOM killer), reported as
# "out of memory"; an exit code other than 0/1 is reported as "exit N" (lint
# exits 1 when it has findings at --fail-on; `map` exits 3 while it is not
# implemented). "identities" counts the pods' distinct label sets. The CPU
# time says how much of the wall time was waiting when the machine is busy.
# The default sizes are the whole 3x3 matrix, smallest first.
# Results: docs/benchmarks-verifier.md.
set -u

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$root/build"
sizes="100x1000 100x5000 1000x1000 1000x5000 100x20000 1000x20000 10000x1000 10000x5000 10000x20000"
limit=600
mem_mb=$(( $(awk '/MemTotal/{print $2}' /proc/meminfo) / 2048 ))
jobs=""
keep=0
commands="lint diff map"

while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --sizes) sizes="$2"; shift 2 ;;
    --timeout) limit="$2"; shift 2 ;;
    --mem-limit) mem_mb="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --commands) commands="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [ ! -x /usr/bin/time ]; then
  echo "scale.sh: /usr/bin/time is missing (GNU time; on Debian/Ubuntu: apt-get install time)." >&2
  echo "          The shell builtin 'time' cannot report peak memory, so nothing is measured." >&2
  exit 2
fi
if ! command -v timeout > /dev/null; then
  echo "scale.sh: 'timeout' (coreutils) is missing." >&2
  exit 2
fi
cnpc="$build/compiler/cnpc"
if [ ! -x "$cnpc" ]; then
  echo "scale.sh: $cnpc not found: build it first (cmake --build $build --target cnpc)." >&2
  exit 2
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/cnpc-scale.XXXXXX")"
if [ "$keep" = 0 ]; then trap 'rm -rf "$work"' EXIT; fi

gen="$build/tests/bench/cnpc_gen_cluster"
if [ ! -x "$gen" ]; then
  # Not built (CNPC_BENCH=OFF): it is one standalone file.
  gen="$work/cnpc_gen_cluster"
  echo "scale.sh: building the generator into $gen" >&2
  "${CXX:-c++}" -O2 -std=c++20 -o "$gen" "$here/gen_cluster.cpp" || exit 2
fi

jobs_arg=()
[ -n "$jobs" ] && jobs_arg=(--jobs "$jobs")

# run NAME CMD... -> prints "wall_s peak_MB" or "timeout" / "exit N"
run() {
  local name="$1"; shift
  local out="$dir/$name.out" err="$dir/$name.err" tm="$dir/$name.time"
  (ulimit -v $((mem_mb * 1024)) && exec /usr/bin/time -f '%e %M %U %S' -o "$tm" timeout -k 10 "$limit" "$@") \
    > "$out" 2> "$err"
  local rc=$?
  local wall rss user sys
  read -r wall rss user sys < <(tail -n 1 "$tm")
  echo "$name rc=$rc wall=${wall}s cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.2f", u+s}')s peak=$((rss / 1024))MB" >> "$work/log.txt"
  # Allocation failures under the cap surface as bad_alloc, abort or SIGSEGV.
  if [ "$rc" != 0 ] && [ "$rc" != 1 ] && [ "$rc" != 124 ] &&
     { grep -q -i -E 'bad_alloc|out of memory|cannot allocate' "$err" ||
       { [ "$rc" -ge 128 ] && [ $((rss / 1024)) -ge $((mem_mb / 2)) ]; }; }; then
    printf 'out of memory (> %d MB)' "$mem_mb"
  elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    printf 'timeout'
  elif [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
    printf 'exit %s' "$rc"
  else
    printf '%s s / %d MB (cpu %s)' "$wall" "$((rss / 1024))" "$(awk -v u="$user" -v s="$sys" 'BEGIN{printf "%.1f", u+s}')"
  fi
}

echo "cnpc scale benchmark: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, timeout ${limit}s, memory cap ${mem_mb} MB, $("$cnpc" --version)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "work dir: $work"
echo
printf '| %-8s | %-6s | %-10s | %-30s | %-30s | %-30s |\n' policies pods identities "lint: wall / peak (cpu s)" "diff: wall / peak (cpu s)" "map: wall / peak (cpu s)"
printf '|%s|%s|%s|%s|%s|%s|\n' ---------- -------- ------------ -------------------------------- -------------------------------- --------------------------------
for size in $sizes; do
  policies="${size%x*}"
  pods="${size#*x}"
  dir="$work/$size"
  mkdir -p "$dir"
  if ! "$gen" --policies "$policies" --pods "$pods" --out "$dir" 2> "$dir/shape.txt"; then
    echo "scale.sh: generator failed for $size:" >&2
    cat "$dir/shape.txt" >&2
    continue
  fi
  echo "== $size: $(tr '\n' ' ' < "$dir/shape.txt")" >> "$work/log.txt"
  identities="$(sed -n 's/.*identities \([0-9]*\).*/\1/p' "$dir/shape.txt")"
  lint=skipped diff=skipped map=skipped
  case " $commands " in *" lint "*)
    lint="$(run lint "$cnpc" lint "$dir/base" --inventory "$dir/inventory.yaml" -o json "${jobs_arg[@]}")" ;; esac
  case " $commands " in *" diff "*)
    diff="$(run diff "$cnpc" diff "$dir/base" --head "$dir/head" --inventory "$dir/inventory.yaml" -o json "${jobs_arg[@]}")" ;; esac
  case " $commands " in *" map "*)
    map="$(run map "$cnpc" map "$dir/base" --inventory "$dir/inventory.yaml" -o json)" ;; esac
  printf '| %8s | %6s | %10s | %-30s | %-30s | %-30s |\n' "$policies" "$pods" "$identities" "$lint" "$diff" "$map"
  [ "$keep" = 0 ] && rm -rf "$dir/base" "$dir/head" "$dir/inventory.yaml" "$dir"/*.out
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "details (exit codes, CPU time):"
cat "$work/log.txt"
