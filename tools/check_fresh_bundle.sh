#!/usr/bin/env bash
# Builds a demo ledger with the real `pbr` binary, writes a settlement bundle and a
# participant bundle, and checks that both verifiers (`pbr bundle verify` and
# tools/verify_bundle.py, written from docs/format.md alone) accept them under the demo's trust
# (DIR/demo-keys/policy for the script; the same log and witness keys as --key for pbr) and
# reject tampered copies, the script each for the reason it contains: a flipped byte in a record,
# a missing record, a forged cosignature, a forged log signature, another log key, another
# origin, a checkpoint with an extension line (re-signed with the demo's own keys) and a changed
# statement amount. A missing cosignature fails the script's policy quorum; `pbr bundle verify`
# reports the contract's quorum as not met without failing (docs/format.md §10.4). `pbr bundle
# verify` must exit 5 on every other tampered copy; the copies it accepts are listed and fail the
# script at the end, after verify_bundle.py has been run on all of them.
# Usage: check_fresh_bundle.sh PATH/TO/pbr
set -euo pipefail
pbr=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$pbr" --json demo "$work/ledger" >"$work/demo.json"
keys_dir="$work/ledger/demo-keys"
policy="$keys_dir/policy"
# The same trust as keys, as a partner would have them from the other parties.
keys=$(python3 -c 'import re,sys; print(" ".join("--key " + k for k in re.findall(r"\S+\+[0-9a-f]{8}\+\S+", open(sys.argv[1]).read())))' "$policy")
last=$("$pbr" --ledger "$work/ledger" --json audit | python3 -c 'import json,sys; print(json.load(sys.stdin)["statements"][-1]["seq"])')
participant=$("$pbr" --ledger "$work/ledger" --json explain "$last" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lines"][0]["subject"].split(":")[1])')
"$pbr" --ledger "$work/ledger" bundle --settlement "$last" --out "$work/settlement.json" >/dev/null
"$pbr" --ledger "$work/ledger" bundle --participant "$participant" --out "$work/participant.json" >/dev/null

# The genuine bundles pass both verifiers.
for bundle in settlement participant; do
  "$pbr" bundle verify "$work/$bundle.json" $keys >/dev/null
  python3 "$here/verify_bundle.py" "$work/$bundle.json" --policy "$policy"
done

tamper() { python3 - "$here" "$keys_dir" "$work/$1.json" "$work/t.json" "$2" <<'PY'
import json, sys
here, keys_dir, src, dst, how = sys.argv[1:]
sys.path.insert(0, here)
import make_test_export as mk

b = json.load(open(src, encoding="utf-8"))
note = b["checkpoint"]
signers = mk.signers_in(keys_dir)  # the demo's private keys
assert mk.resigned(note, signers) == note, "re-signing the genuine note must give it back, byte for byte"
body = note.split("\n\n", 1)[0] + "\n"
origin = body.split("\n")[0]
witnesses = [line.split(" ")[1] for line in note.split("\n\n", 1)[1].splitlines()[1:]]
cited = b["statements"][0]["explanation"][0]["events"][0]["seq"]
record = next(r for r in b["records"] if r["seq"] == cited)
if how == "flip":
    h = record["record_hex"]; record["record_hex"] = h[:60] + ("0" if h[60] != "0" else "1") + h[61:]
elif how == "missing":
    b["records"].remove(record)
    for name in b["manifest"]:
        b["manifest"][name] = [s for s in b["manifest"][name] if s != cited]
elif how == "forged-cosignature":
    b["checkpoint"] = mk.flipped_signature(note, witnesses[-1], 50)  # a low byte of S
elif how == "forged-log-signature":
    b["checkpoint"] = mk.flipped_signature(note, origin, 40)
elif how == "untrusted-log-key":
    b["checkpoint"] = mk.resigned(note, signers, log_key=mk.signing_key("not the demo's log key"))
elif how == "wrong-origin":  # the genuine keys sign a body that names another log, which the bundle names too
    other = "other.pbr.example/impact60"
    b["checkpoint"] = mk.resigned(note, signers, body.replace(origin, other, 1))
    b["origin"] = other
elif how == "extension-line":
    b["checkpoint"] = mk.resigned(note, signers, body + "extension\n")
elif how == "missing-cosignature":
    b["checkpoint"] = mk.without_signature(note, witnesses[-1])
elif how == "amount":
    line = b["statements"][0]["statement"]["lines"][0]
    line["amount"] = "1" + line["amount"]
    b["statements"][0]["explanation"][0]["amount"] = line["amount"]
else:
    raise SystemExit(f"unknown tamper {how}")
open(dst, "w", encoding="utf-8").write(json.dumps(b, indent=2, ensure_ascii=False) + "\n")
PY
}
rejected=0
pbr_gaps=""
for bundle in settlement participant; do
  while IFS='|' read -r how reason; do
    tamper "$bundle" "$how"
    set +e
    "$pbr" bundle verify "$work/t.json" $keys >"$work/out" 2>"$work/err"
    code=$?
    set -e
    if [ "$how" = missing-cosignature ]; then
      # pbr reports the contract's quorum without failing on it; it must say it is not met.
      if [ "$code" -ne 0 ] || ! grep -q "quorum of impact60-demo not met" "$work/out"; then
        echo "FAIL: pbr bundle verify did not report the missing cosignature on a $bundle bundle (exit $code): $(cat "$work/out" "$work/err")" >&2
        exit 1
      fi
      echo "pbr reported ($bundle, $how): $(grep 'quorum of' "$work/out" | sed 's/^ *//')"
    elif [ "$code" -ne 5 ]; then
      # Noted, and the script fails at the end, after verify_bundle.py has met every case.
      echo "pbr ACCEPTED ($bundle, $how): exit $code: $(cat "$work/out" "$work/err" | head -c 600 | tr '\n' ' ')"
      pbr_gaps="$pbr_gaps $bundle/$how"
    else
      echo "pbr rejected ($bundle, $how): $(cat "$work/err")"
    fi
    if python3 "$here/verify_bundle.py" "$work/t.json" --policy "$policy" 2>"$work/err"; then
      echo "FAIL: verify_bundle.py accepted a $bundle bundle with $how" >&2
      exit 1
    fi
    if ! grep -qF -- "$reason" "$work/err"; then
      echo "FAIL: verify_bundle.py rejected a $bundle bundle with $how, but not for its reason ($reason): $(cat "$work/err")" >&2
      exit 1
    fi
    echo "verify_bundle.py rejected ($bundle, $how): $(cat "$work/err")"
    rejected=$((rejected + 1))
  done <<'CASES'
flip|the record bytes do not hash to its leaf_hash
missing|is missing from the bundle
forged-cosignature|checkpoint: the cosignature of fokus-provider-witness+25792e3d: signature does not verify
forged-log-signature|checkpoint: the signature of demo.pbr.example/impact60+920324bf: signature does not verify
untrusted-log-key|checkpoint: no signature by the log key of 'demo.pbr.example/impact60'
wrong-origin|checkpoint: origin 'other.pbr.example/impact60' is not a log of your trust input
extension-line|checkpoint has 1 extension line(s) after the root
missing-cosignature|checkpoint does not meet the quorum all of (aalborg-jobcenter, fokus-provider)
amount|postings[0].amount
CASES
done
if [ -n "$pbr_gaps" ]; then
  echo "FAIL: pbr bundle verify (exit 5 expected) accepted:$pbr_gaps; verify_bundle.py rejected all $rejected tampered copies" >&2
  exit 1
fi
echo "dispute bundles: 2 genuine accepted by both verifiers, $rejected tampered copies rejected by verify_bundle.py for their reasons, each rejected (or its quorum reported) by pbr"
