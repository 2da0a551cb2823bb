#!/usr/bin/env bash
# Builds a demo ledger with the real `pbr` binary, exports it, and checks that the outside
# verifier (tools/verify_export.py, written from docs/format.md alone) accepts the export and
# its proofs, and rejects tampered copies. Usage: check_fresh_export.sh PATH/TO/pbr
set -euo pipefail
pbr=$1
here=$(cd "$(dirname "$0")" && pwd)
verify="python3 $here/verify_export.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$pbr" demo "$work/ledger" >/dev/null
"$pbr" --ledger "$work/ledger" export --out "$work/export.jsonl"
"$pbr" --ledger "$work/ledger" proof --seq 99 --json >"$work/inclusion.json"
"$pbr" --ledger "$work/ledger" proof --consistency --from 40 --json >"$work/consistency.json"
"$pbr" --ledger "$work/ledger" checkpoint show --size 40 >"$work/old.note"
keys=$(tail -n 1 "$work/export.jsonl" | python3 -c 'import json,sys; print(" ".join("--key " + k for k in json.load(sys.stdin)["verifier_keys"]))')

# The genuine articles pass.
$verify export "$work/export.jsonl" $keys
$verify inclusion "$work/inclusion.json" $keys
$verify consistency "$work/consistency.json" $keys --old-checkpoint "$work/old.note"

# Each tampered copy must fail.
must_fail() {
  local what=$1 file=$2 kind=${3:-export}
  if $verify "$kind" "$file" $keys 2>"$work/err"; then
    echo "FAIL: the verifier accepted an export with $what" >&2
    exit 1
  fi
  echo "rejected ($what): $(cat "$work/err")"
}
tamper() { python3 - "$work/export.jsonl" "$work/t.jsonl" "$1" <<'PY'
import json, sys
src, dst, how = sys.argv[1:]
lines = open(src).read().splitlines()
if how == "flip":
    o = json.loads(lines[17]); h = o["record_hex"]; o["record_hex"] = h[:40] + ("0" if h[40] != "0" else "1") + h[41:]; lines[17] = json.dumps(o, separators=(",", ":"))
elif how == "delete":
    del lines[50]
elif how == "swap":
    lines[3], lines[4] = lines[4], lines[3]
elif how == "leaf":
    o = json.loads(lines[8]); o["leaf_hash"] = "00" * 32; lines[8] = json.dumps(o, separators=(",", ":"))
elif how == "signature":
    o = json.loads(lines[-1]); note = o["checkpoint"]; i = note.rindex(" ") + 40;  # inside the signature, past the 4-byte key id
    o["checkpoint"] = note[:i] + ("A" if note[i] != "A" else "B") + note[i + 1:]; lines[-1] = json.dumps(o)
elif how == "truncate":
    lines = lines[:-2] + lines[-1:]
open(dst, "w").write("\n".join(lines) + "\n")
PY
}
for how in flip delete swap leaf signature truncate; do
  tamper "$how"
  must_fail "$how" "$work/t.jsonl"
done
python3 - "$work/inclusion.json" "$work/t.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); h = p["path"][2]; p["path"][2] = ("1" if h[0] == "0" else "0") + h[1:]
json.dump(p, open(sys.argv[2], "w"))
PY
must_fail "a flipped inclusion path" "$work/t.json" inclusion
echo "outside verifier: 3 genuine documents accepted, 7 tampered copies rejected"
