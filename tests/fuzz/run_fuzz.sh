#!/usr/bin/env bash
# Runs the frontend fuzzer for a while, outside ctest.
#
#   tests/fuzz/run_fuzz.sh [BUILD_DIR] [SECONDS] [extra libFuzzer flags...]
#
# BUILD_DIR defaults to build-fuzz (configured with -DCNPC_FUZZ=ON and clang),
# SECONDS to 300. The seed corpus is copied to $WORK (default
# /tmp/cnpc-fuzz/corpus), which keeps growing between runs; crash, leak,
# timeout and OOM reproducers go to /tmp/cnpc-fuzz/artifacts/. Set JOBS=N to
# run N fuzzing processes (the machine has 2 cores; the default is 1).
#
# Reproduce a finding:  BUILD_DIR/tests/fuzz/cnpc_frontend_fuzz ARTIFACT
# Minimise it:          BUILD_DIR/tests/fuzz/cnpc_frontend_fuzz -minimize_crash=1 -runs=10000 ARTIFACT
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${1:-$root/build-fuzz}"
seconds="${2:-300}"
shift $(( $# > 2 ? 2 : $# ))

fuzzer="$build/tests/fuzz/cnpc_frontend_fuzz"
if [[ ! -x "$fuzzer" ]]; then
  echo "no fuzzer at $fuzzer; build it first:" >&2
  echo "  cmake -S $root -B $build -G Ninja -DCNPC_FUZZ=ON -DCNPC_BENCH=OFF \\" >&2
  echo "        -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  echo "  ninja -C $build cnpc_frontend_fuzz" >&2
  exit 2
fi

base="${CNPC_FUZZ_DIR:-/tmp/cnpc-fuzz}"
work="${WORK:-$base/corpus}"
artifacts="$base/artifacts"
mkdir -p "$work" "$artifacts"
cp -n "$here"/corpus/* "$work"/ 2>/dev/null || true

jobs="${JOBS:-1}"
par=()
if (( jobs > 1 )); then par=(-jobs="$jobs" -workers="$jobs"); fi

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
cd "$base"
set -x
exec "$fuzzer" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/frontend.dict" \
  -artifact_prefix="$artifacts/" \
  -print_final_stats=1 \
  "${par[@]}" "$@" \
  "$work"
