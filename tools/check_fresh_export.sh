#!/usr/bin/env bash
# Builds a demo ledger with the real `pbr` binary, exports it, and checks that the outside
# verifier (tools/verify_export.py, written from docs/format.md alone) accepts the format-2
# export, its proofs and its tiles (`pbr export --tiles`) under the demo's trust policy
# (DIR/demo-keys/policy: the log key and the quorum of witness keys), and rejects tampered copies,
# each for the reason it contains.
# Several tampers are re-signed with the demo's own private keys (DIR/demo-keys/*.key), so that
# only the lie they carry can make them fail. Usage: check_fresh_export.sh PATH/TO/pbr
set -euo pipefail
pbr=$1
here=$(cd "$(dirname "$0")" && pwd)
verify="python3 $here/verify_export.py"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$pbr" demo "$work/ledger" >/dev/null
keys_dir="$work/ledger/demo-keys"
policy="$keys_dir/policy"
"$pbr" --ledger "$work/ledger" export --out "$work/export.jsonl" >/dev/null
"$pbr" --ledger "$work/ledger" proof --seq 99 --json >"$work/inclusion.json"
"$pbr" --ledger "$work/ledger" proof --seq 99 --format tlog-proof >"$work/receipt.tlog-proof"
record() { sed -n "$(($1 + 1))p" "$work/export.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["record_hex"])'; }
"$pbr" --ledger "$work/ledger" proof --consistency --from 40 --json >"$work/consistency.json"
"$pbr" --ledger "$work/ledger" checkpoint show --size 40 >"$work/old.note"
# The same trust given as keys: the log key and the witness keys the policy names.
keys=$(python3 -c 'import re,sys; print(" ".join("--key " + k for k in re.findall(r"\S+\+[0-9a-f]{8}\+\S+", open(sys.argv[1]).read())))' "$policy")

# The genuine articles pass, under the policy and under the same keys.
$verify export "$work/export.jsonl" --policy "$policy"
$verify export "$work/export.jsonl" $keys
$verify inclusion "$work/inclusion.json" --policy "$policy"
$verify receipt "$work/receipt.tlog-proof" --policy "$policy" --record-hex "$(record 99)"
$verify consistency "$work/consistency.json" --policy "$policy" --old-checkpoint "$work/old.note"

# Each tampered copy must fail, with the reason it contains.
rejected=0
must_fail() {  # what, file, kind, expected reason, extra arguments...
  local what=$1 file=$2 kind=$3 reason=$4
  shift 4
  if $verify "$kind" "$file" --policy "$policy" "$@" 2>"$work/err"; then
    echo "FAIL: the verifier accepted $what" >&2
    exit 1
  fi
  if ! grep -qF -- "$reason" "$work/err"; then
    echo "FAIL: $what was rejected, but not for the reason it contains ($reason): $(cat "$work/err")" >&2
    exit 1
  fi
  echo "rejected ($what): $(cat "$work/err")"
  rejected=$((rejected + 1))
}
tamper() { python3 - "$here" "$keys_dir" "$work/export.jsonl" "$work/t.jsonl" "$1" <<'PY'
import hashlib, json, sys
here, keys_dir, src, dst, how = sys.argv[1:]
sys.path.insert(0, here)
import make_test_export as mk
from blake3 import blake3

lines = open(src, encoding="utf-8").read().splitlines()
tail = json.loads(lines[-1])
note = tail["checkpoint"]
signers = mk.signers_in(keys_dir)  # the demo's private keys
body = note.split("\n\n", 1)[0] + "\n"
origin = body.split("\n")[0]
witnesses = [line.split(" ")[1] for line in note.split("\n\n", 1)[1].splitlines()[1:]]
assert mk.resigned(note, signers) == note, "re-signing the genuine note must give it back, byte for byte"

def rehashed(records):
    """The event lines for these records, numbered from 0, every hash recomputed (format 2)."""
    out, chain = [], bytes(32)
    for i, (rec, event) in enumerate(records):
        chain = blake3(b"\x02" + chain + rec).digest()
        out.append(json.dumps({"seq": i, "record_hex": rec.hex(), "leaf_hash": hashlib.sha256(b"\x00" + rec).hexdigest(),
                               "chain_hash": chain.hex(), "event": event}, separators=(",", ":")))
    return out

events = [json.loads(x) for x in lines[:-1]]
records = [(bytes.fromhex(e["record_hex"]), e["event"]) for e in events]
if how == "flip":
    o = events[17]; h = o["record_hex"]; o["record_hex"] = h[:40] + ("0" if h[40] != "0" else "1") + h[41:]
    lines[17] = json.dumps(o, separators=(",", ":"))
elif how == "drop":
    del lines[50]
elif how == "drop-rehashed":
    lines = rehashed(records[:49] + records[50:]) + lines[-1:]
elif how == "duplicate":
    lines.insert(50, lines[49])
elif how == "duplicate-rehashed":
    lines = rehashed(records[:50] + records[49:-1]) + lines[-1:]
elif how == "swap":
    lines[3], lines[4] = lines[4], lines[3]
elif how == "swap-rehashed":
    lines = rehashed(records[:3] + [records[4], records[3]] + records[5:]) + lines[-1:]
elif how == "leaf":
    o = events[8]; o["leaf_hash"] = "00" * 32; lines[8] = json.dumps(o, separators=(",", ":"))
elif how == "truncate":
    lines = lines[:-2] + lines[-1:]
elif how == "forged-cosignature":
    tail["checkpoint"] = mk.flipped_signature(note, witnesses[0], 50)  # a low byte of S: well-formed, does not verify
elif how == "missing-cosignature":
    tail["checkpoint"] = mk.without_signature(note, witnesses[-1])
elif how == "forged-log-signature":
    tail["checkpoint"] = mk.flipped_signature(note, origin, 40)
elif how == "wrong-origin":  # the genuine keys sign a body that names another log
    tail["checkpoint"] = mk.resigned(note, signers, body.replace(origin, "other.pbr.example/impact60", 1))
elif how == "untrusted-log-key":  # another key under the log's name, the witnesses' cosignatures intact
    tail["checkpoint"] = mk.resigned(note, signers, log_key=mk.signing_key("not the demo's log key"))
elif how == "extension-line":  # signed by the genuine log key and cosigned by the genuine witnesses
    tail["checkpoint"] = mk.resigned(note, signers, body + "extension\n")
elif how == "format-1":
    del tail["format"]
else:
    raise SystemExit(f"unknown tamper {how}")
if how in ("forged-cosignature", "missing-cosignature", "forged-log-signature", "wrong-origin",
           "untrusted-log-key", "extension-line", "format-1"):
    lines[-1] = json.dumps(tail, separators=(",", ":"), ensure_ascii=False)
open(dst, "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
}
while IFS='|' read -r how reason; do
  tamper "$how"
  must_fail "an export with $how" "$work/t.jsonl" export "$reason"
done <<'CASES'
flip|:18: seq 17: 
drop|:51: seq 51, expected 50
drop-rehashed|checkpoint size 618 but the export has 617 records
duplicate|:51: seq 49, expected 50
duplicate-rehashed|checkpoint root does not match the recomputed Merkle root
swap|:4: seq 4, expected 3
swap-rehashed|checkpoint root does not match the recomputed Merkle root
leaf|:9: seq 8: leaf_hash does not match the record
truncate|checkpoint size 618 but the export has 617 records
forged-cosignature|the cosignature of aalborg-jobcenter-witness+1045156a: signature does not verify
missing-cosignature|does not meet the quorum
forged-log-signature|the signature of demo.pbr.example/impact60+920324bf: signature does not verify
wrong-origin|origin 'other.pbr.example/impact60' is not a log of your trust input
untrusted-log-key|no signature by the log key of 'demo.pbr.example/impact60'
extension-line|extension line(s) after the root
format-1|this is a format-1 export
CASES

# The proofs: a flipped path, a checkpoint short of the quorum, a kept checkpoint that lies.
python3 - "$work/inclusion.json" "$work/t.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1])); h = p["path"][2]; p["path"][2] = ("1" if h[0] == "0" else "0") + h[1:]
json.dump(p, open(sys.argv[2], "w"))
PY
must_fail "a flipped inclusion path" "$work/t.json" inclusion "does not verify"
python3 - "$work/inclusion.json" "$work/t.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["checkpoint"] = "\n".join(x for x in p["checkpoint"].split("\n") if "fokus-provider-witness" not in x)
json.dump(p, open(sys.argv[2], "w"))
PY
must_fail "an inclusion proof whose checkpoint lacks a cosignature" "$work/t.json" inclusion "embedded checkpoint does not meet the quorum"
python3 - "$here" "$work/old.note" "$work/t.note" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import make_test_export as mk
note = open(sys.argv[2], encoding="utf-8").read()
open(sys.argv[3], "w", encoding="utf-8").write(mk.flipped_signature(note, note.split("\n")[0], 40))
PY
must_fail "a kept checkpoint with a forged log signature" "$work/consistency.json" consistency \
  "old checkpoint: the signature of demo.pbr.example/impact60+920324bf" --old-checkpoint "$work/t.note"
"$pbr" --ledger "$work/ledger" checkpoint show >"$work/t.note"
must_fail "a kept checkpoint of another size" "$work/consistency.json" consistency \
  "old checkpoint (size 618) does not match first=40" --old-checkpoint "$work/t.note"
must_fail "a receipt checked against another record" "$work/receipt.tlog-proof" receipt \
  "does not verify for this leaf" --record-hex "$(record 100)"
python3 - "$here" "$work/receipt.tlog-proof" "$work/t.tlog-proof" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import make_test_export as mk
text = open(sys.argv[2], encoding="utf-8").read()
open(sys.argv[3], "w", encoding="utf-8").write(mk.without_signature(text, "aalborg-jobcenter-witness"))
PY
must_fail "a receipt whose checkpoint lacks a cosignature" "$work/t.tlog-proof" receipt \
  "receipt checkpoint does not meet the quorum" --record-hex "$(record 99)"

# The tiles (docs/format.md §6.3): the same log as a static C2SP tlog-tiles tree, checked under the
# same trust; a partial tile left from an earlier size that agrees with the tree is accepted.
"$pbr" --ledger "$work/ledger" export --tiles "$work/tiles" >/dev/null
$verify tiles "$work/tiles" --policy "$policy"
$verify tiles "$work/tiles" $keys
tile_tamper() {  # a copy of the tiles in $work/t-tiles, changed as $1 says
  rm -rf "$work/t-tiles"
  cp -R "$work/tiles" "$work/t-tiles"
  python3 - "$here" "$keys_dir" "$work/t-tiles" "$1" <<'PY'
import hashlib, os, sys
here, keys_dir, d, how = sys.argv[1:]
sys.path.insert(0, here)
import make_test_export as mk

def path(rel): return os.path.join(d, rel)
def read(rel):
    with open(path(rel), "rb") as f: return f.read()
def write(rel, data):
    os.makedirs(os.path.dirname(path(rel)), exist_ok=True)
    with open(path(rel), "wb") as f: f.write(data)
def flip(rel, offset):
    data = bytearray(read(rel)); data[offset] ^= 1; write(rel, bytes(data))
def bundle_entries(rel):
    data, pos, out = read(rel), 0, []
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 2], "big"); out.append(data[pos + 2:pos + 2 + n]); pos += 2 + n
    return out
def index(n):  # tlog-tiles: x001/x234/067
    digits = str(n).zfill(3 * ((len(str(n)) + 2) // 3)); groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + groups[-1:])
def rewrite_all(records):  # every bundle and hash tile of the tree of these records, from the spec's formula
    leaves, size = [mk.leaf_hash(r) for r in records], len(records)
    for n in range(0, size, 256):
        chunk = records[n:n + 256]
        write(f"tile/entries/{index(n // 256)}" + ("" if len(chunk) == 256 else f".p/{len(chunk)}"),
              b"".join(len(r).to_bytes(2, "big") + r for r in chunk))
    level = 0
    while size >> (8 * level):
        span = 256 ** level
        hashes = [mk.mth(leaves[j * span:(j + 1) * span]) for j in range(size >> (8 * level))]
        for n in range(0, len(hashes), 256):
            chunk = hashes[n:n + 256]
            write(f"tile/{level}/{index(n // 256)}" + ("" if len(chunk) == 256 else f".p/{len(chunk)}"), b"".join(chunk))
        level += 1

if how == "flip-bundle":
    flip("tile/entries/001", 5000)
elif how == "flip-tile":
    flip("tile/0/001", 32 * 156)
elif how == "flip-level-1":
    flip("tile/1/000.p/2", 40)
elif how == "drop-tile":
    os.remove(path("tile/1/000.p/2"))
elif how == "drop-bundle":
    os.remove(path("tile/entries/000"))
elif how == "truncate-bundle":
    os.truncate(path("tile/entries/002.p/106"), os.path.getsize(path("tile/entries/002.p/106")) - 1)
elif how == "trailing-byte":
    write("tile/entries/002.p/106", read("tile/entries/002.p/106") + b"\0")
elif how == "stray-file":
    write("tile/0/README", b"not a tile\n")
elif how == "beyond":
    write("tile/0/002", bytes(8192))
elif how == "earlier-agrees":  # the tiles a client of size 100 needed, as an earlier export left them
    first = bundle_entries("tile/entries/000")[:100]
    write("tile/entries/000.p/100", b"".join(len(r).to_bytes(2, "big") + r for r in first))
    write("tile/0/000.p/100", read("tile/0/000")[:3200])
elif how == "earlier-disagrees":
    write("tile/0/001.p/9", read("tile/0/000")[:288])
elif how == "swap-rehashed":  # two records swapped, every bundle and tile recomputed, the checkpoint kept
    records = [r for rel in ("tile/entries/000", "tile/entries/001", "tile/entries/002.p/106") for r in bundle_entries(rel)]
    records[3], records[4] = records[4], records[3]
    rewrite_all(records)
elif how == "forged-cosignature":
    note = read("checkpoint").decode()
    write("checkpoint", mk.flipped_signature(note, "aalborg-jobcenter-witness", 50).encode())
else:
    raise SystemExit(f"unknown tamper {how}")
PY
}
tile_tamper earlier-agrees
$verify tiles "$work/t-tiles" --policy "$policy"
while IFS='|' read -r how reason; do
  tile_tamper "$how"
  must_fail "tiles with $how" "$work/t-tiles" tiles "$reason"
done <<'CASES'
flip-bundle|t-tiles/tile/entries/001: entry 
flip-tile|t-tiles/tile/0/001: hash 156 (the tree's level-0 node 412) is not the hash recomputed from the entries
flip-level-1|t-tiles/tile/1/000.p/2: hash 1 (the tree's level-8 node 1) is not the hash recomputed from the entries
drop-tile|t-tiles/tile/1/000.p/2: missing: a client of the tree of size 618 needs this partial (width 2) hash tile
drop-bundle|t-tiles/tile/entries/000: missing
truncate-bundle|t-tiles/tile/entries/002.p/106: truncated: entry 105 (index 617)
trailing-byte|t-tiles/tile/entries/002.p/106: 1 trailing byte after the 106 entries
stray-file|t-tiles/tile/0/README: not a valid C2SP tile path
beyond|t-tiles/tile/0/002: beyond the checkpoint's tree
earlier-disagrees|t-tiles/tile/0/001.p/9: hash 0 (the tree's level-0 node 256) is not the tree's (as in tile/0/001)
swap-rehashed|t-tiles/tile/entries: the Merkle root of the 618 entries
forged-cosignature|t-tiles/checkpoint: checkpoint: the cosignature of aalborg-jobcenter-witness+1045156a: signature does not verify
CASES
echo "outside verifier: 9 genuine documents accepted, $rejected tampered copies rejected for their reasons"
