# Assertions shared by the CLI test scripts (sourced). Each counts into
# $passed / $failed and prints what failed; `summary` ends the script.
# check runs a command and keeps its output in $out: stdout and stderr
# together, or apart ($err) when the script sets check_split_stderr=1.
passed=0 failed=0 out= err=
check_split_stderr=${check_split_stderr:-0}

check() {  # check NAME EXPECTED_EXIT COMMAND...
  local name=$1 want=$2 got
  shift 2
  if [[ $check_split_stderr == 1 ]]; then
    local errfile
    errfile=$(mktemp)
    out=$("$@" 2>"$errfile")
    got=$?
    err=$(<"$errfile")
    rm -f "$errfile"
  else
    out=$("$@" 2>&1)
    got=$?
    err=
  fi
  if [[ $got == "$want" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $name: exit $got, want $want"
    echo "$out$err" | head -20
  fi
}
ok() {  # ok NAME CONDITION-EXIT-STATUS
  if [[ $2 == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $1"; echo "$out" | head -30; fi
}
contains() {  # contains NAME TEXT ; against $out
  grep -qF -- "$2" <<<"$out"
  ok "$1: output lacks '$2'" $?
}
lacks() {  # lacks NAME TEXT ; against $out
  ! grep -qF -- "$2" <<<"$out"
  ok "$1: output has '$2'" $?
}
json_eval() {  # json_eval NAME JS-EXPRESSION-ON-x ; against $out
  node -e "const x = JSON.parse(require('fs').readFileSync(0, 'utf8')); if (!($2)) process.exit(1)" <<<"$out"
  ok "$1: $2" $?
}
summary() {  # summary LABEL ; the result line and the script's exit status
  echo "${1:+$1: }$passed passed, $failed failed"
  [[ $failed == 0 ]]
}
