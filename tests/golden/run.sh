#!/usr/bin/env bash
# Golden tests for deterministic text: `cnpc lint` on each case under
# cases/, in text, JSON and SARIF, compared with expected/<case>.<format>.
# UPDATE_GOLDEN=1 rewrites the expectations (review the diff).
set -uo pipefail
cnpc=$1
dir=$2
cd "$dir"
failed=0 passed=0
for input in cases/*.yaml; do
  name=$(basename "$input" .yaml)
  for format in text json sarif; do
    expected=expected/$name.$format
    actual=$(NO_COLOR=1 "$cnpc" lint "$input" -o "$format" 2>&1; echo "exit: $?")
    if [[ ${UPDATE_GOLDEN:-0} == 1 ]]; then
      mkdir -p expected
      printf '%s\n' "$actual" > "$expected"
      continue
    fi
    if diff -u "$expected" <(printf '%s\n' "$actual"); then
      passed=$((passed + 1))
    else
      echo "golden mismatch: $name ($format)"
      failed=$((failed + 1))
    fi
  done
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
