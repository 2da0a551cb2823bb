#!/usr/bin/env bash
# Checks that pbr's format-2 outputs verify with Go's reference transparency-log code
# (golang.org/x/mod/sumdb/note and sumdb/tlog) through tools/pbrcheck.
#
# Usage (from the repository root): bash tools/check_go_interop.sh target/debug/pbr
#
#   1. builds pbrcheck offline (Debian golang-go + golang-golang-x-mod-dev, GOPATH mode),
#      checks gofmt and go vet, and runs its Go tests;
#   2. runs it on the C2SP interop vectors (../shared/interop, or $PBR_INTEROP_DIR):
#      the genuine tessera tile log must pass, every tampered copy must fail;
#   3. (once pbr writes tiles) runs pbr itself: a demo ledger, its tiles, proofs and
#      receipt, each checked by pbrcheck, and tampered copies rejected.
#
# Needs: go (>= 1.19) and x/mod under $PBRCHECK_GOPATH (default /usr/share/gocode):
#   apt-get install -y golang-go golang-golang-x-mod-dev
# Part 3 also needs python3. PBRCHECK_REQUIRE_PBR=1 makes a pbr without
# `export --tiles` an error instead of a skip.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 PBR_BINARY" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
pbr=$1
case $pbr in /*) ;; *) pbr=$PWD/$pbr ;; esac
interop=${PBR_INTEROP_DIR:-$repo/../shared/interop}
gopath=${PBRCHECK_GOPATH:-/usr/share/gocode}

work=$(mktemp -d)
# Copies of read-only vectors stay read-only unless made writable: rm needs that.
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

fail() {
  echo "check_go_interop: FAIL: $*" >&2
  exit 1
}

[ -x "$pbr" ] || fail "no pbr binary at $pbr (build it first: cargo build)"
[ -d "$interop/vectors" ] || fail "no interop vectors at $interop (set PBR_INTEROP_DIR)"
interop=$(cd "$interop" && pwd)
command -v go >/dev/null || fail "no go; apt-get install -y golang-go golang-golang-x-mod-dev"
[ -d "$gopath/src/golang.org/x/mod/sumdb/tlog" ] ||
  fail "no golang.org/x/mod under $gopath; apt-get install -y golang-golang-x-mod-dev (or set PBRCHECK_GOPATH)"

# ---------------------------------------------------------------------------------------
# 1. Build pbrcheck: GOPATH mode, no module downloads, a throw-away build cache.
export GO111MODULE=off GOFLAGS='' GOPATH="$gopath" GOCACHE="$work/gocache" GOTOOLCHAIN=local
pbrcheck="$work/pbrcheck"
(cd "$here/pbrcheck" && timeout 300 go build -o "$pbrcheck" .) || fail "go build"
unformatted=$(gofmt -l "$here/pbrcheck")
[ -z "$unformatted" ] || fail "not gofmt'ed: $unformatted"
(cd "$here/pbrcheck" && timeout 300 go vet .) || fail "go vet"
(cd "$here/pbrcheck" && PBR_INTEROP_DIR="$interop" timeout 300 go test -count=1 .) || fail "go test"
echo "ok: pbrcheck built with $(go version | cut -d' ' -f3), gofmt and vet clean, go test passed"

# The vectors are as copied (their README lists the sums).
(cd "$interop" && timeout 60 sha256sum --quiet -c SHA256SUMS) || fail "interop vectors differ from SHA256SUMS"

# must_pass NAME ARGS...: pbrcheck ARGS must succeed.
must_pass() {
  local name=$1
  shift
  if ! timeout 120 "$pbrcheck" "$@" >"$work/out" 2>"$work/err"; then
    fail "$name: rejected: $(cat "$work/err")"
  fi
  echo "ok: $name: $(tail -n 1 "$work/out")"
}

# must_fail NAME WANT ARGS...: pbrcheck ARGS must fail with exit status 1 (a verification
# failure, not a usage error, a crash or a timeout) and one line "pbrcheck: error: ..."
# containing WANT, so that a tamper rejected for the wrong reason is noticed too.
must_fail() {
  local name=$1 want=$2 status=0
  shift 2
  timeout 120 "$pbrcheck" "$@" >"$work/out" 2>"$work/err" || status=$?
  [ "$status" -ne 0 ] || fail "$name: accepted"
  [ "$status" -eq 1 ] || fail "$name: exit status $status, want 1: $(cat "$work/err")"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$name: stderr is not one line: $(cat "$work/err")"
  grep -q '^pbrcheck: error: ' "$work/err" || fail "$name: no 'pbrcheck: error:' line: $(cat "$work/err")"
  grep -qF -- "$want" "$work/err" || fail "$name: error does not mention '$want': $(cat "$work/err")"
  echo "ok: rejected $name: $(cut -c18- "$work/err")"
}

# flip FILE OFFSET: xor the byte at OFFSET with 0x01, and make sure the file changed.
flip() {
  local file=$1 off=$2 byte
  cp "$file" "$work/before"
  byte=$(od -An -tu1 -j "$off" -N 1 "$file" | tr -d ' \n')
  [ -n "$byte" ] || fail "flip: $file has no byte at $off"
  # shellcheck disable=SC2059 # the format is the escaped byte itself
  printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$file" bs=1 seek="$off" conv=notrunc status=none
  ! cmp -s "$file" "$work/before" || fail "flip: $file unchanged"
}

# write_hex FILE OFFSET HEX: overwrite bytes of FILE at OFFSET with HEX's bytes.
write_hex() {
  # shellcheck disable=SC2059 # the format is the escaped bytes themselves
  printf "$(printf '%s' "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# tile_path LEVEL N W: the C2SP path of tile N (0/1/... or entries) of width W (256 = full).
tile_path() {
  local level=$1 n=$2 w=$3 s
  s=$(printf '%03d' $((n % 1000)))
  while [ "$n" -ge 1000 ]; do
    n=$((n / 1000))
    s=$(printf 'x%03d/%s' $((n % 1000)) "$s")
  done
  if [ "$w" -ge 256 ]; then echo "tile/$level/$s"; else echo "tile/$level/$s.p/$w"; fi
}

# fresh_copy DIR: a writable copy of DIR at $work/copy.
fresh_copy() {
  chmod -R u+w "$work/copy" 2>/dev/null || true
  rm -rf "$work/copy"
  cp -R "$1" "$work/copy"
  chmod -R u+w "$work/copy"
}

# ---------------------------------------------------------------------------------------
# 2. The interop vectors.
tessera="$interop/vectors/tiles/tessera-testdata/log"
tkey=example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx
sumdb_key=sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8
sky_witness=witness.example.org+b8a2cf20+BFLN3yikSfFkVAJtrnh/CiY3Zozkoy7clp+P7XB28qUN

must_pass "tessera tile log (15 entries)" tiles "$tessera" --log-key "$tkey" --quorum 0
for n in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
  must_pass "tessera checkpoint.$n" checkpoint "$tessera/checkpoint.$n" --log-key "$tkey" --quorum 0
done

# The empty log: checkpoint.0 and no tiles; tiles beside it are beyond its tree.
mkdir "$work/empty"
cp "$tessera/checkpoint.0" "$work/empty/checkpoint"
must_pass "tessera's empty log (checkpoint.0, no tiles)" tiles "$work/empty" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
cp "$tessera/checkpoint.0" "$work/copy/checkpoint"
must_fail "tiles beside an empty log's checkpoint" "beyond the checkpoint's tree of size 0" \
  tiles "$work/copy" --log-key "$tkey" --quorum 0

# Entry 14 ("fivten") in the bundle the walk reads, and in an older partial bundle.
fresh_copy "$tessera"
flip "$work/copy/tile/entries/000.p/15" $(($(wc -c <"$work/copy/tile/entries/000.p/15") - 2))
must_fail "a flipped byte in entry bundle 000.p/15" "entry 14" tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
flip "$work/copy/tile/entries/000.p/7" 3
must_fail "a flipped byte in the older entry bundle 000.p/7" "tile/entries/000.p/7 does not agree" \
  tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
head -c -1 "$tessera/tile/entries/000.p/15" >"$work/copy/tile/entries/000.p/15"
must_fail "a truncated entry bundle" "tile/entries/000.p/15: entry 14" tiles "$work/copy" --log-key "$tkey" --quorum 0
# Entry 14 and its leaf hash in the level-0 tile forged together: only the root can tell.
fresh_copy "$tessera"
bundle15="$work/copy/tile/entries/000.p/15"
[ "$(tail -c 6 "$bundle15")" = fivten ] || fail "tessera entry 14 is not 'fivten'"
printf 'fivtem' | dd of="$bundle15" bs=1 seek=$(($(wc -c <"$bundle15") - 6)) conv=notrunc status=none
write_hex "$work/copy/tile/0/000.p/15" $((14 * 32)) "$(printf '\0fivtem' | sha256sum | cut -c1-64)"
must_fail "entry 14 and its leaf hash forged together" "the 15 entries under tile/entries have root" \
  tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
rm "$work/copy/tile/entries/000.p/15"
must_fail "a missing entry bundle" "tile/entries/000.p/15 is missing" tiles "$work/copy" --log-key "$tkey" --quorum 0

# Hash tiles: the one the tree hash uses, and an older partial one.
fresh_copy "$tessera"
flip "$work/copy/tile/0/000.p/15" 100
must_fail "a flipped byte in hash tile 0/000.p/15" "tile/0/000.p/15 does not agree" tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
flip "$work/copy/tile/0/000.p/3" 40
must_fail "a flipped byte in the older hash tile 0/000.p/3" "tile/0/000.p/3 does not agree" \
  tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
cp "$tessera/tile/0/000.p/15" "$work/copy/tile/0/000.p/16"
must_fail "a tile beyond the checkpoint" "beyond the checkpoint" tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
cp "$tessera/tile/0/000.p/15" "$work/copy/tile/0/000.p/015"
must_fail "a file that is not a C2SP tile path" "not a C2SP tlog-tiles path" tiles "$work/copy" --log-key "$tkey" --quorum 0

# The checkpoint: its root, its size, its signature, its signer, its cosigners.
fresh_copy "$tessera"
flip "$work/copy/checkpoint" $(($(head -n 2 "$tessera/checkpoint" | wc -c) + 5))
must_fail "a flipped byte in the checkpoint root" "invalid signature" tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
sed '2s/15/14/' "$tessera/checkpoint" >"$work/copy/checkpoint"
must_fail "a changed checkpoint size" "invalid signature" tiles "$work/copy" --log-key "$tkey" --quorum 0
fresh_copy "$tessera"
flip "$work/copy/checkpoint" $(($(wc -c <"$tessera/checkpoint") - 10))
must_fail "a flipped byte in the log signature" "invalid signature" tiles "$work/copy" --log-key "$tkey" --quorum 0
must_fail "a checkpoint signed by another log" "no verifiable signatures" \
  tiles "$tessera" --log-key "$sumdb_key" --quorum 0
must_fail "a witness that did not cosign" "cosigned by 0 of the 1 witnesses given, quorum is 1" \
  tiles "$tessera" --log-key "$tkey" --witness "$sky_witness"
# (Cosignature/v1 lines themselves are checked in go test: skylight's real ones, and
# checkpoints cosigned there by test witnesses.)
echo "ok: interop vectors: genuine log accepted, every tampered copy rejected"

# ---------------------------------------------------------------------------------------
# 3. pbr itself. Runs once pbr has `export --tiles`; until then it is skipped.
# Expected commands (DESIGN §3): `pbr --json demo DIR` prints JSON with "policy" (a C2SP
# tlog-policy text, as main's demo prints on 2026-12-07) or at least verifier_keys (the log
# key, type 0x01, and witness keys, type 0x04); `pbr --ledger DIR export --tiles TILEDIR`; `pbr --ledger DIR proof --seq 5
# --json`; `pbr --ledger DIR proof --consistency --from M --to N --json`;
# `pbr --ledger DIR proof --seq 5 --format tlog-proof`.
if ! timeout 30 "$pbr" export --help 2>&1 | grep -q -- '--tiles'; then
  [ "${PBRCHECK_REQUIRE_PBR:-0}" != 1 ] || fail "$pbr has no 'export --tiles'"
  echo "SKIP: $pbr has no 'export --tiles' yet: pbr's own outputs not checked"
  exit 0
fi
command -v python3 >/dev/null || fail "part 3 needs python3"

ledger="$work/demo"
timeout 300 "$pbr" --json demo "$ledger" >"$work/demo.json" || fail "pbr demo"
# The trust policy, from the demo's own output: its C2SP tlog-policy text ("policy") when
# there is one, as --log-key/--witness/--quorum (pbrcheck takes a quorum of k of n witnesses,
# so nested groups are refused); else verifier_keys by their type byte, all witnesses needed.
mapfile -t trust < <(python3 - "$work/demo.json" <<'PY'
import base64, json, sys
demo = json.load(open(sys.argv[1]))
def flags(log, witnesses, quorum):
    print("--log-key"); print(log)
    for w in witnesses:
        print("--witness"); print(w)
    print("--quorum"); print(quorum)
if demo.get("policy"):
    logs, witnesses, groups, quorum = [], {}, {}, None
    for line in demo["policy"].splitlines():
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "log":
            logs.append(f[1])
        elif f[0] == "witness":
            witnesses[f[1]] = f[2]
        elif f[0] == "group":
            groups[f[1]] = (f[2], f[3:])
        elif f[0] == "quorum":
            quorum = f[1]
    if len(logs) != 1 or quorum is None:
        sys.exit("policy: want one log line and a quorum line")
    if quorum == "none":
        flags(logs[0], [], 0)
    elif quorum in witnesses:
        flags(logs[0], [witnesses[quorum]], 1)
    elif quorum in groups and all(m in witnesses for m in groups[quorum][1]):
        k, members = groups[quorum]
        k = {"all": len(members), "any": 1}.get(k) or int(k)
        flags(logs[0], [witnesses[m] for m in members], k)
    else:
        sys.exit(f"policy: quorum {quorum} is not a witness or a group of witnesses")
else:
    logs, witnesses = [], []
    for vkey in demo["verifier_keys"]:
        kind = base64.b64decode(vkey.split("+", 2)[2])[0]
        {1: logs, 4: witnesses}.get(kind, []).append(vkey)
    if len(logs) != 1:
        sys.exit(f"want one log key (type 0x01) in verifier_keys, found {len(logs)}")
    flags(logs[0], witnesses, len(witnesses))
PY
)
[ "${#trust[@]}" -ge 2 ] || fail "no trust policy from pbr --json demo"
echo "ok: trust from pbr demo: ${trust[*]}"

tiles="$work/tiles"
timeout 300 "$pbr" --ledger "$ledger" export --tiles "$tiles" >/dev/null || fail "pbr export --tiles"
must_pass "pbr checkpoint" checkpoint "$tiles/checkpoint" "${trust[@]}"
must_pass "pbr tiles" tiles "$tiles" "${trust[@]}"
size=$(sed -n 2p "$tiles/checkpoint")
[ "$size" -gt 10 ] || fail "demo log of size $size: too small for the proofs below"

# The JSON Lines export: same checkpoint as the tiles; record 5's bytes for --record.
timeout 300 "$pbr" --ledger "$ledger" export --out "$work/export.jsonl" >/dev/null || fail "pbr export"
python3 - "$work/export.jsonl" "$tiles/checkpoint" "$work/record5" <<'PY' || fail "export and tiles disagree"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
if lines[-1]["checkpoint"] != open(sys.argv[2]).read():
    sys.exit("the export's checkpoint is not the tiles' checkpoint")
rec = next(l for l in lines if l.get("seq") == 5)
open(sys.argv[3], "wb").write(bytes.fromhex(rec["record_hex"]))
PY

timeout 120 "$pbr" --ledger "$ledger" proof --seq 5 --json >"$work/incl.json" || fail "pbr proof --seq 5"
must_pass "pbr inclusion proof of 5" inclusion "$work/incl.json" --record "$work/record5" "${trust[@]}"
timeout 120 "$pbr" --ledger "$ledger" proof --seq 5 --format tlog-proof >"$work/receipt" || fail "pbr proof --format tlog-proof"
must_pass "pbr tlog-proof receipt of 5" receipt "$work/receipt" --record "$work/record5" "${trust[@]}"
for from in 0 1 10 "$size"; do
  timeout 120 "$pbr" --ledger "$ledger" proof --consistency --from "$from" --to "$size" --json >"$work/cons.json" ||
    fail "pbr proof --consistency --from $from --to $size"
  must_pass "pbr consistency proof $from -> $size" consistency "$work/cons.json" "${trust[@]}"
done
timeout 120 "$pbr" --ledger "$ledger" proof --consistency --from 10 --to "$size" --json >"$work/cons.json"

# Tampered pbr outputs.
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
def other(h):  # the same hash with its first hex digit changed
    return ("1" if h[0] == "0" else "0") + h[1:]
p = json.load(open(f"{w}/incl.json"))
json.dump(dict(p, leaf_hash=other(p["leaf_hash"])), open(f"{w}/incl-leaf.json", "w"))
json.dump(dict(p, path=[other(p["path"][0])] + p["path"][1:]), open(f"{w}/incl-path.json", "w"))
json.dump(dict(p, leaf_index=p["leaf_index"] + 1), open(f"{w}/incl-index.json", "w"))
c = json.load(open(f"{w}/cons.json"))
json.dump(dict(c, path=c["path"][:-1] + [other(c["path"][-1])]), open(f"{w}/cons-path.json", "w"))
json.dump(dict(c, first_root=other(c["first_root"])), open(f"{w}/cons-root.json", "w"))
r = open(f"{w}/receipt").read().split("\n")
r[2] = ("B" if r[2][0] == "A" else "A") + r[2][1:]  # the first proof hash
open(f"{w}/receipt-path", "w").write("\n".join(r))
PY
must_fail "pbr inclusion proof with another leaf hash" "hashes to leaf" inclusion "$work/incl-leaf.json" --record "$work/record5" "${trust[@]}"
must_fail "pbr inclusion proof with a changed path" "invalid transparency proof" inclusion "$work/incl-path.json" "${trust[@]}"
must_fail "pbr inclusion proof with another index" "invalid transparency proof" inclusion "$work/incl-index.json" "${trust[@]}"
must_fail "pbr consistency proof with a changed path" "invalid transparency proof" consistency "$work/cons-path.json" "${trust[@]}"
must_fail "pbr consistency proof with another first root" "invalid transparency proof" consistency "$work/cons-root.json" "${trust[@]}"
must_fail "pbr receipt with a changed path" "invalid transparency proof" receipt "$work/receipt-path" --record "$work/record5" "${trust[@]}"
# The bundle and level-0 tile the walk reads for the last entries, then the first file of
# each in path order (for a small log an older partial one, which must agree as well).
n=$(((size - 1) / 256))
for rel in "$(tile_path entries "$n" $((size - n * 256)))" "$(cd "$tiles" && find tile/entries -type f | sort | head -n 1)"; do
  fresh_copy "$tiles"
  flip "$work/copy/$rel" 3
  must_fail "pbr tiles with a flipped byte in $rel" "$rel" tiles "$work/copy" "${trust[@]}"
done
for rel in "$(tile_path 0 "$n" $((size - n * 256)))" "$(cd "$tiles" && find tile/0 -type f | sort | head -n 1)"; do
  fresh_copy "$tiles"
  flip "$work/copy/$rel" 40
  must_fail "pbr tiles with a flipped byte in $rel" "$rel does not agree" tiles "$work/copy" "${trust[@]}"
done
echo "ok: pbr's checkpoint, tiles, proofs and receipt verify with Go's reference code"
