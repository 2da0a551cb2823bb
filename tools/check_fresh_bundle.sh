#!/usr/bin/env bash
# Builds a demo ledger with the real `pbr` binary, writes a settlement bundle and a
# participant bundle, and checks that both verifiers (`pbr bundle verify` and
# tools/verify_bundle.py, written from docs/format.md alone) accept them and reject tampered
# copies: one flipped byte in a record, a missing record, a forged checkpoint signature and a
# changed statement amount. Usage: check_fresh_bundle.sh PATH/TO/pbr
set -euo pipefail
pbr=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$pbr" --json demo "$work/ledger" >"$work/demo.json"
# The parties' keys, as a partner would have them from the other parties.
keys=$(python3 -c 'import json,sys; print(" ".join("--key " + k for k in json.load(sys.stdin)["verifier_keys"]))' <"$work/demo.json")
last=$("$pbr" --ledger "$work/ledger" --json audit | python3 -c 'import json,sys; print(json.load(sys.stdin)["statements"][-1]["seq"])')
participant=$("$pbr" --ledger "$work/ledger" --json explain "$last" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lines"][0]["subject"].split(":")[1])')
"$pbr" --ledger "$work/ledger" bundle --settlement "$last" --out "$work/settlement.json"
"$pbr" --ledger "$work/ledger" bundle --participant "$participant" --out "$work/participant.json"

# The genuine bundles pass both verifiers.
for bundle in settlement participant; do
  "$pbr" bundle verify "$work/$bundle.json" $keys
  python3 "$here/verify_bundle.py" "$work/$bundle.json" $keys
done

# Each tampered copy must fail both, with exit 5 from pbr and 1 from the script.
tamper() { python3 - "$work/$1.json" "$work/t.json" "$2" <<'PY'
import json, sys
src, dst, how = sys.argv[1:]
b = json.load(open(src, encoding="utf-8"))
cited = b["statements"][0]["explanation"][0]["events"][0]["seq"]
record = next(r for r in b["records"] if r["seq"] == cited)
if how == "flip":
    h = record["record_hex"]; record["record_hex"] = h[:60] + ("0" if h[60] != "0" else "1") + h[61:]
elif how == "missing":
    b["records"].remove(record)
    for name in b["manifest"]:
        b["manifest"][name] = [s for s in b["manifest"][name] if s != cited]
elif how == "signature":
    note = b["checkpoint"]; i = note.rindex(" ") + 40  # inside the signature, past the key id
    b["checkpoint"] = note[:i] + ("A" if note[i] != "A" else "B") + note[i + 1:]
elif how == "amount":
    line = b["statements"][0]["statement"]["lines"][0]
    line["amount"] = "1" + line["amount"]
    b["statements"][0]["explanation"][0]["amount"] = line["amount"]
open(dst, "w", encoding="utf-8").write(json.dumps(b, indent=2, ensure_ascii=False) + "\n")
PY
}
rejected=0
for bundle in settlement participant; do
  for how in flip missing signature amount; do
    tamper "$bundle" "$how"
    set +e
    "$pbr" bundle verify "$work/t.json" $keys >/dev/null 2>"$work/err"
    code=$?
    set -e
    if [ "$code" -ne 5 ]; then
      echo "FAIL: pbr bundle verify exited $code on a $bundle bundle with $how: $(cat "$work/err")" >&2
      exit 1
    fi
    echo "pbr rejected ($bundle, $how): $(cat "$work/err")"
    if python3 "$here/verify_bundle.py" "$work/t.json" $keys 2>"$work/err"; then
      echo "FAIL: verify_bundle.py accepted a $bundle bundle with $how" >&2
      exit 1
    fi
    echo "verify_bundle.py rejected ($bundle, $how): $(cat "$work/err")"
    rejected=$((rejected + 1))
  done
done
echo "dispute bundles: 2 genuine accepted by both verifiers, $rejected tampered copies rejected by both"
