#!/usr/bin/env bash
# The bundle of the sample: golden L7 tables, metadata and ipcache (not the
# C text or the bytecode: object names, which hash the C, are left out),
# byte-identical output for the same inputs, and a failed compile that
# leaves the previous bundle untouched. UPDATE_GOLDEN=1 rewrites.
set -uo pipefail
cnpc=$1
root=$2
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
S=samples/blog-system
expected=tests/golden/expected/bundle
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }

"$cnpc" compile $S/policies --inventory $S/inventory.yaml -o "$work/b1" 2>/dev/null || bad "compile"
# Stable views: drop what hashes generated code.
node -e '
  const fs = require("fs");
  const m = JSON.parse(fs.readFileSync(process.argv[1]));
  delete m.programs;
  for (const e of m.endpoints) e.program = e.program ? "(object)" : null;
  process.stdout.write(JSON.stringify(m, null, 1) + "\n");' "$work/b1/metadata.json" > "$work/metadata.json"
cp "$work/b1/l7.json" "$work/b1/ipcache.json" "$work/"
for f in metadata.json l7.json ipcache.json; do
  if [[ ${UPDATE_GOLDEN:-0} == 1 ]]; then mkdir -p "$expected"; cp "$work/$f" "$expected/$f"; continue; fi
  if diff -u "$expected/$f" "$work/$f"; then ok; else bad "golden $f"; fi
done

# Same inputs -> byte-identical bundle.
"$cnpc" compile $S/policies --inventory $S/inventory.yaml -o "$work/b2" 2>/dev/null || bad "second compile"
if diff -r "$work/b1" "$work/b2" >/dev/null; then ok; else bad "bundles differ for the same inputs"; fi

# A failed compile leaves the previous bundle as it was.
before=$(sha256sum "$work/b1/manifest.json")
if "$cnpc" compile $S/policies --inventory $S/inventory.yaml -o "$work/b1" --clang /bin/false 2>/dev/null; then
  bad "compile with a failing clang succeeded"
else
  ok
fi
[[ $(sha256sum "$work/b1/manifest.json") == "$before" ]] && ok || bad "previous bundle changed"
ls "$work" | grep -q tmp && bad "temporary directory left behind" || ok

# The manifest lists every file with its hash.
node -e '
  const fs = require("fs"), crypto = require("crypto"), dir = process.argv[1];
  const m = JSON.parse(fs.readFileSync(dir + "/manifest.json"));
  const listed = m.files.map(f => f.path).sort();
  const actual = fs.readdirSync(dir).filter(f => f !== "manifest.json").sort();
  if (JSON.stringify(listed) !== JSON.stringify(actual)) process.exit(1);
  for (const f of m.files)
    if (crypto.createHash("sha256").update(fs.readFileSync(dir + "/" + f.path)).digest("hex") !== f.sha256) process.exit(1);
  if (m.inputs.length < 4) process.exit(1);' "$work/b1" && ok || bad "manifest hashes"

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
