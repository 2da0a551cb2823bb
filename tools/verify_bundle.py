#!/usr/bin/env python3
"""Independent verifier for pbr dispute bundles (docs/format.md §10), format 2.

Implements §10's checks from the documents alone, without any pbr code, reusing the two
other outside verifiers for what they already implement:
  verify_export.py     §1 records and strict Ed25519, §3 SHA-256 leaf hashes and inclusion paths,
                       §4 C2SP checkpoints, cosignature/v1, verifier keys and the tlog-policy
                       trust input, §8 event decoding;
  verify_statement.py  §9 canonical statement bytes and hash, settlement.md's double entry.
On top of them: §10.4's author keys (from the bundled contract records, whose terms are TOML
read with Python's tomllib), terms hashes, statements against the hash their
settlement-issued record signs, explanations against the statements, the manifest, and
that every cited or referred-to record is present.

Needs only Python 3.11, `hashlib`, `blake3` and `PyNaCl`:
  verify_bundle.py BUNDLE.json --policy FILE            (a C2SP tlog-policy)
  verify_bundle.py BUNDLE.json --key VKEY [--key VKEY ...] [--quorum N]
                                   (the log key and witness keys; N of the witnesses, default all)
  verify_bundle.py BUNDLE.json --trust-bundle-keys     (the bundle's own keys: NOT a trust anchor)
The checkpoint must be signed by the trusted log key of the bundle's origin and meet the trust
input's quorum (give only the log key for none); whether it carries the quorum of the contract's
own terms ([checkpoint] quorum of the parties' witness-keys) is reported, never failed.
Exit 0 with one `ok: ...` line on stdout; 1 with one `FILE: reason` line on stderr when the
bundle does not verify; 2 when the file cannot be read as a bundle (unreadable, not UTF-8,
not JSON, not "pbr bundle v1") or on a usage error (a malformed key or policy included).
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from datetime import date
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import verify_export as ve  # noqa: E402
import verify_statement as vs  # noqa: E402
from blake3 import blake3  # noqa: E402

FORMAT = "pbr bundle v1"  # §10.1
MAX_FILE = 256 * 1024 * 1024
BUNDLE_KEYS = {"format", "request", "origin", "checkpoint", "untrusted_verifier_keys", "manifest",
               "records", "statements"}
REQUEST_KEYS = {"contract", "participant", "settlement"}
MANIFEST_KEYS = ("contract", "participant", "settlements", "cited")
RECORD_KEYS = {"seq", "record_hex", "leaf_hash", "event", "path"}
STATEMENT_KEYS = {"seq", "statement", "explanation"}
EXPLAINED_KEYS = {"line", "rule", "accrual", "adjustment", "subject", "claim", "from", "to", "amount",
                  "cap", "calc", "events"}
CONTRACT_KINDS = {"contract-registered", "contract-amended", "party-registered"}
# §10.3: the payload fields that name another seq.
REFS = {"outcome-verified": "claim_seq", "outcome-rejected": "claim_seq",
        "outcome-clawed-back": "claim_seq", "correction": "retracts_seq",
        "dispute-opened": "about_seq", "dispute-evidence-attached": "dispute_seq",
        "dispute-resolved": "dispute_seq", "payment-recorded": "settlement_seq"}

fail = ve.fail
VerifyError = ve.VerifyError


class Unreadable(Exception):
    """The file is not a `pbr bundle v1` document at all (exit 2)."""


def short(value: Any) -> str:
    return ve.short(value)


def refs(event: dict[str, Any]) -> list[int]:
    """The seqs an event's payload refers to (§10.3)."""
    field = REFS.get(event["kind"])
    value = event["payload"][field] if field else None
    return [] if value is None else [value]


def seq_list(value: Any, what: str) -> list[int]:
    """A list of seqs in strictly increasing order."""
    if not isinstance(value, list):
        fail(f"{what} is not a list")
    for i, seq in enumerate(value):
        ve.parse_uint(seq, f"{what}[{i}]")
        if i and seq <= value[i - 1]:
            fail(f"{what}: seq {seq} is not after seq {value[i - 1]}")
    return value


def vkey_of(text: Any, kind: int) -> ve.VKey | None:
    """A verifier key text of the given type (§4.1), or None when it is not one."""
    try:
        return ve.parse_vkey(text, (kind,))
    except VerifyError:
        return None


def vkey_public_key(text: Any) -> bytes | None:
    """The Ed25519 key of an event verifier key, `<name>+<8 hex>+<base64(0x01 || key)>`."""
    vk = vkey_of(text, ve.LOG_KEY)
    return vk.pk if vk is not None else None


# ------------------------------------------------------------------ §10.4 checks

def check_request(b: dict[str, Any]) -> str | None:
    """Returns the participant subject (`participant:<hex>`) or None for a settlement bundle."""
    r = ve.require_keys(b["request"], REQUEST_KEYS, "request")
    if not isinstance(r["contract"], str):
        fail("request.contract is not a string")
    if (r["participant"] is None) == (r["settlement"] is None):
        fail("request names neither or both of a participant and a settlement")
    if r["settlement"] is not None:
        ve.parse_uint(r["settlement"], "request.settlement")
        return None
    ve.parse_hex(r["participant"], "request.participant", 32)
    return f"participant:{r['participant']}"


def check_checkpoint(b: dict[str, Any], policy: ve.Policy) -> tuple[ve.Checkpoint, ve.Signed]:
    """§10.4 step 2: the checkpoint parses (§4.2), names the bundle's origin, is signed by the
    trusted log key of that origin, every trusted line is valid, and it meets the trust input's
    quorum (§4.4)."""
    if not isinstance(b["origin"], str):
        fail("origin is not a string")
    cp = ve.parse_checkpoint(b["checkpoint"])
    if cp.origin != b["origin"]:
        fail(f"checkpoint: it is of ledger {short(cp.origin)}, but the bundle says {short(b['origin'])}")
    return cp, ve.check_checkpoint(cp, policy)


def check_records(b: dict[str, Any], cp: ve.Checkpoint, contract: str) -> dict[int, tuple[dict[str, Any], bytes]]:
    """§10.4 step 3: each record's order, leaf hash, inclusion path, signature and event."""
    if not isinstance(b["records"], list):
        fail("records is not a list")
    size, root = cp.size, cp.root
    out: dict[int, tuple[dict[str, Any], bytes]] = {}
    last = None
    for i, r in enumerate(b["records"]):
        r = ve.require_keys(r, RECORD_KEYS, f"records[{i}]")
        seq = ve.parse_uint(r["seq"], f"records[{i}].seq")
        at = f"seq {seq}"
        if last is not None and seq <= last:
            fail(f"records[{i}]: seq {seq} is not after seq {last}: records are listed once each, by seq")
        last = seq
        if seq >= size:
            fail(f"{at}: beyond the checkpoint, which covers {size} records")
        record = ve.parse_hex(r["record_hex"], f"{at}: record_hex")
        if len(record) > ve.MAX_RECORD:
            fail(f"{at}: the record is {len(record)} bytes, more than {ve.MAX_RECORD:,}")
        leaf = ve.leaf_hash(record)
        if ve.parse_hex(r["leaf_hash"], f"{at}: leaf_hash", 32) != leaf:
            fail(f"{at}: the record bytes do not hash to its leaf_hash")
        if not isinstance(r["path"], list):
            fail(f"{at}: path is not a list")
        path = [ve.parse_hex(h, f"{at}: path[{j}]", 32) for j, h in enumerate(r["path"])]
        if not ve.verify_inclusion(seq, size, leaf, path, root):
            fail(f"{at}: the inclusion path does not lead to the checkpoint's root")
        parsed = ve.parse_record(record)
        if isinstance(parsed, str):
            fail(f"{at}: {parsed}")
        event_bytes, pk, sig = parsed
        reason = ve.strict_verify(pk, ve.EVENT_PREFIX + event_bytes, sig)
        if reason:
            fail(f"{at}: event signature: {reason}")
        try:
            decoded = ve.decode_event(event_bytes)
        except VerifyError as e:
            fail(f"{at}: the event bytes do not decode: {e.reason}")
        diff = ve.first_difference(decoded, r["event"])
        if diff is not None:
            fail(f"{at}: event.{diff[0]} does not match the record's event bytes")
        if decoded["contract"] != contract:
            fail(f"{at}: an event of contract {short(decoded['contract'])}, not {short(contract)}")
        out[seq] = (decoded, pk)
    return out


def load_terms(at: str, event: dict[str, Any], pk: bytes) -> dict[str, Any]:
    """A terms record: its hash, its contract id, and a commissioner author with that key."""
    p = event["payload"]
    if blake3(p["terms"].encode("utf-8")).hexdigest() != p["terms_hash"]:
        fail(f"{at}: terms_hash is not the BLAKE3 hash of the terms")
    try:
        terms = tomllib.loads(p["terms"])
    except tomllib.TOMLDecodeError as e:
        fail(f"{at}: the terms are not TOML: {e}")
    contract = terms.get("contract")
    if not isinstance(contract, dict) or contract.get("id") != event["contract"]:
        fail(f"{at}: the terms are not of contract {short(event['contract'])}")
    parties = terms.get("parties")
    if not isinstance(parties, list) or not all(isinstance(q, dict) for q in parties):
        fail(f"{at}: the terms have no list of parties")
    author = next((q for q in parties if q.get("id") == event["author"]), None)
    if author is None or author.get("role") != "commissioner" or vkey_public_key(author.get("key")) != pk:
        fail(f"{at}: not signed by a commissioner of these terms with the key they give it "
             f"(author {short(event['author'])})")
    check_key_uses(at, terms)
    return terms


def check_key_uses(at: str, terms: dict[str, Any]) -> None:
    """DESIGN §3: no public key serves two kinds (event, witness, log) nor two parties."""
    uses: dict[bytes, str] = {}

    def use(pk: bytes, what: str) -> None:
        if pk in uses:
            fail(f"{at}: the terms give one public key two uses ({uses[pk]} and {what})")
        uses[pk] = what

    log = terms.get("log")
    if isinstance(log, dict) and "key" in log:
        vk = vkey_of(log["key"], ve.LOG_KEY)
        if vk is None:
            fail(f"{at}: the terms' [log] key is not a log verifier key (type 0x01)")
        use(vk.pk, "the log key")
    for q in terms["parties"]:
        key = vkey_public_key(q.get("key"))
        if key is not None:
            use(key, f"the event key of {short(q.get('id'))}")
        if "witness-key" in q:
            vk = vkey_of(q["witness-key"], ve.WITNESS_KEY)
            if vk is None:
                fail(f"{at}: the witness-key of party {short(q.get('id'))} is not a witness verifier key (type 0x04)")
            use(vk.pk, f"the witness key of {short(q.get('id'))}")


def check_authors(events: dict[int, tuple[dict[str, Any], bytes]]) -> tuple[dict[str, bytes], list[tuple[date, int, dict[str, Any]]]]:
    """§10.4 step 4: every record is signed by the key the contract records before it give
    its author; returns the final keys and the terms records (effective date, seq, terms)."""
    keys: dict[str, bytes] = {}
    terms_records: list[tuple[date, int, dict[str, Any]]] = []
    for seq in sorted(events):
        event, pk = events[seq]
        at = f"seq {seq}"
        if event["kind"] in ("contract-registered", "contract-amended"):
            terms = load_terms(at, event, pk)
            for q in terms["parties"]:
                key = vkey_public_key(q.get("key"))
                if not isinstance(q.get("id"), str) or key is None:
                    fail(f"{at}: the key of party {short(q.get('id'))} is malformed")
                keys[q["id"]] = key
            if event["kind"] == "contract-amended":
                effective = date.fromisoformat(event["payload"]["effective_from"])
            else:
                start = terms["contract"].get("start")
                if not isinstance(start, date):
                    fail(f"{at}: the terms have no start date")
                effective = start
            terms_records.append((effective, seq, terms))
            continue
        if event["author"] not in keys:
            fail(f"{at}: no bundled contract record before it gives {short(event['author'])} a key")
        if keys[event["author"]] != pk:
            fail(f"{at}: signed with a key other than the one the bundled contract records give "
                 f"{short(event['author'])}")
        if event["kind"] == "party-registered":
            keys[event["payload"]["party"]] = bytes.fromhex(event["payload"]["public_key"])
    return keys, terms_records


def check_manifest(b: dict[str, Any], events: dict[int, tuple[dict[str, Any], bytes]], subject: str | None) -> None:
    """§10.4 step 5."""
    m = ve.require_keys(b["manifest"], set(MANIFEST_KEYS), "manifest")
    listed: set[int] = set()
    for name in MANIFEST_KEYS:
        for seq in seq_list(m[name], f"manifest.{name}"):
            if seq not in events:
                fail(f"manifest.{name} lists seq {seq}, but the bundle has no record of it")
            listed.add(seq)
    for seq in sorted(events):
        if seq not in listed:
            fail(f"seq {seq} is in the bundle but not in its manifest")
        kind = events[seq][0]["kind"]
        if (kind in CONTRACT_KINDS) != (seq in m["contract"]):
            fail(f"seq {seq} is a {kind} record missing from manifest.contract" if kind in CONTRACT_KINDS
                 else f"manifest.contract lists seq {seq}, a {kind}")
    if m["settlements"] != [s.get("seq") if isinstance(s, dict) else None for s in b["statements"]]:
        fail("manifest.settlements is not the list of the bundled statements' seqs")
    if subject is None:
        if m["participant"]:
            fail("manifest.participant must be empty in a settlement bundle")
        return
    participant = subject.split(":", 1)[1]
    if not m["participant"]:
        fail(f"manifest.participant lists no record about participant {participant}")
    about: set[int] = set()
    for seq in m["participant"]:
        event = events[seq][0]
        if event["participant"] != participant and not any(r in about for r in refs(event)):
            fail(f"seq {seq} is listed as about participant {participant} but neither names it "
                 "nor refers to a record about it")
        about.add(seq)


def scope(s: dict[str, Any], subject: str | None) -> list[dict[str, Any]]:
    return [ln for ln in s["lines"] if subject is None or ln["subject"] == subject]


def cites(s: dict[str, Any], subject: str | None) -> set[int]:
    """§10.3: what a statement cites within the bundle's scope."""
    out = {e for ln in scope(s, subject) for e in ln["events"]}
    for d in s["decisions"]:
        if subject is None or d["subject"] == subject:
            out |= {d["claim_seq"], d["event_seq"]}
    if s["previous"] is not None:
        out.add(s["previous"]["seq"])
    return out


def explained(ln: dict[str, Any], events: dict[int, tuple[dict[str, Any], bytes]]) -> dict[str, Any]:
    """§10.2: the explanation entry a statement line makes."""
    return {
        "line": ln["n"], "rule": ln["rule"], "accrual": ln["accrual"], "adjustment": ln["adjustment"],
        "subject": ln["subject"], "claim": ln["claim"], "from": ln["from"], "to": ln["to"],
        "amount": ln["amount"], "cap": ln["cap"], "calc": ln["calc"],
        "events": [{"seq": e, "kind": events[e][0]["kind"], "date": events[e][0]["date"],
                    "author": events[e][0]["author"]} for e in ln["events"]],
    }


def check_statements(b: dict[str, Any], events: dict[int, tuple[dict[str, Any], bytes]],
                     subject: str | None) -> tuple[list[str], set[int]]:
    """§10.4 step 6; returns a summary per statement and every seq the statements cite."""
    if not isinstance(b["statements"], list):
        fail("statements is not a list")
    settlement = b["request"]["settlement"]
    if settlement is not None and [s.get("seq") if isinstance(s, dict) else None
                                   for s in b["statements"]] != [settlement]:
        fail(f"a settlement bundle holds exactly the statement issued at seq {settlement}")
    summaries, all_cited, last = [], set(), None
    for i, entry in enumerate(b["statements"]):
        entry = ve.require_keys(entry, STATEMENT_KEYS, f"statements[{i}]")
        seq = ve.parse_uint(entry["seq"], f"statements[{i}].seq")
        at = f"the statement issued at seq {seq}"
        if last is not None and seq <= last:
            fail(f"statements[{i}]: seq {seq} is not after seq {last}")
        last = seq
        if seq not in events:
            fail(f"{at}: its settlement-issued record is missing")
        record = events[seq][0]
        if record["kind"] != "settlement-issued":
            fail(f"{at}: seq {seq} is a {record['kind']}, not a settlement-issued record")
        s = entry["statement"]
        if isinstance(s, dict) and "issued_seq" in s:
            fail(f"{at}: statements[{i}].statement: unknown field 'issued_seq'")
        try:
            vs.verify(s)  # §9 canonical bytes and hash = its "hash"; the double entry
        except vs.VerifyError as e:
            fail(f"{at}: {e.reason}")
        issued = record["payload"]
        if s["hash"] != issued["statement_hash"]:
            fail(f"{at}: its hash {s['hash']} is not the statement_hash {issued['statement_hash']} "
                 "its record signs")
        if (s["contract"], s["period"], s["log_position"]) != (record["contract"], issued["period"], issued["log_position"]) \
                or s["log_position"] != seq:
            fail(f"{at}: its contract, period or log position is not its record's")
        prev = s["previous"]
        if prev is not None:
            p = events.get(prev["seq"], ({"kind": None}, b""))[0]
            if p["kind"] != "settlement-issued" or p["payload"]["period"] != prev["period"] \
                    or p["payload"]["log_position"] != prev["log_position"]:
                fail(f"{at}: the previous statement it names (seq {prev['seq']}, {prev['period']}) is not "
                     "a bundled settlement-issued record of that period and log position")
        lines = scope(s, subject)
        if not isinstance(entry["explanation"], list):
            fail(f"{at}: explanation is not a list")
        want_n = [ln["n"] for ln in lines]
        got_n = [e.get("line") if isinstance(e, dict) else None for e in entry["explanation"]]
        if got_n != want_n:
            fail(f"{at}: the explanation covers lines {got_n}, but the lines in scope are {want_n}")
        for ln, e in zip(lines, entry["explanation"]):
            missing = next((c for c in ln["events"] if c not in events), None)
            if missing is not None:
                fail(f"seq {missing}, cited by line {ln['n']} of {at}, is missing from the bundle")
            ve.require_keys(e, EXPLAINED_KEYS, f"{at}: explanation of line {ln['n']}")
            diff = ve.first_difference(explained(ln, events), e)
            if diff is not None:
                fail(f"{at}: explanation.{diff[0]} of line {ln['n']} does not match the statement and its records")
        if subject is not None and not lines and not any(d["subject"] == subject for d in s["decisions"]):
            fail(f"{at}: no line or decision is about {subject}")
        cited = cites(s, subject)
        missing = next((c for c in sorted(cited) if c not in events), None)
        if missing is not None:
            fail(f"seq {missing}, cited by {at}, is missing from the bundle")
        all_cited |= cited
        summaries.append(f"{issued['period']} (seq {seq}, {len(lines)} lines explained)")
    return summaries, all_cited


def check_cited(b: dict[str, Any], events: dict[int, tuple[dict[str, Any], bytes]], cited: set[int]) -> None:
    """§10.4 step 7."""
    for seq in sorted(events):
        event = events[seq][0]
        for r in refs(event):
            if r not in events:
                fail(f"seq {r}, referred to by seq {seq} ({event['kind']}), is missing from the bundle")
            cited.add(r)
    listed = set(b["manifest"]["cited"])
    if cited - listed:
        fail(f"manifest.cited does not list seq {min(cited - listed)}, which is cited")
    if listed - cited:
        fail(f"manifest.cited lists seq {min(listed - cited)}, which nothing in the bundle cites")


def quorum_text(contract: str, origin: str, terms_records: list[tuple[date, int, dict[str, Any]]],
                signed: ve.Signed) -> str:
    """Whether the checkpoint carries the quorum of the contract's latest terms (a report only):
    the witness keys (`witness-key`) of the parties in `[checkpoint] quorum`, all of them or
    `threshold`, each counted when its cosignature verified under a key you trust."""
    if not terms_records:
        return ""
    terms = max(terms_records, key=lambda t: (t[0], t[1]))[2]
    notes = []
    log = terms.get("log")
    if isinstance(log, dict):
        if log.get("origin") not in (None, origin):
            notes.append(f"the terms of {contract} name the log {short(log.get('origin'))}, not {short(origin)}")
        log_key = vkey_of(log.get("key"), ve.LOG_KEY)
        if log_key is not None and log_key.label != signed.log.label:
            notes.append(f"the terms of {contract} name the log key {log_key.label}, not {signed.log.label}")
    checkpoint = terms.get("checkpoint")
    quorum = checkpoint.get("quorum") if isinstance(checkpoint, dict) else None
    if not isinstance(quorum, list) or not quorum:
        return "".join(f"; {n}" for n in notes)
    threshold = checkpoint.get("threshold", len(quorum))
    if type(threshold) is not int or not 1 <= threshold <= len(quorum):
        threshold = len(quorum)
    parties = {q.get("id"): q for q in terms.get("parties", []) if isinstance(q, dict)}
    cosigned = {vk.label for vk, _ in signed.cosigners.values()}
    missing, have = [], 0
    for party in quorum:
        vk = vkey_of(parties.get(party, {}).get("witness-key"), ve.WITNESS_KEY)
        if vk is None:
            missing.append(f"{party} (no witness key)")
        elif vk.label in cosigned:
            have += 1
        else:
            missing.append(f"{party} ({vk.label})")
    rule = "all" if threshold == len(quorum) else f"{threshold} of {len(quorum)}"
    notes.append(f"quorum of {contract} ({rule}) met" if have >= threshold
                 else f"quorum of {contract} ({rule}) not met: missing {', '.join(missing)}")
    return "".join(f"; {n}" for n in notes)


def verify(doc: Any, trust: ve.Trust, trust_bundle: bool) -> str:
    """Verifies a parsed bundle; returns the summary, raises VerifyError."""
    b = ve.require_keys(doc, BUNDLE_KEYS, "bundle")
    subject = check_request(b)
    contract = b["request"]["contract"]
    vkeys = b["untrusted_verifier_keys"]
    if not isinstance(vkeys, list) or not all(isinstance(k, str) for k in vkeys):
        fail("untrusted_verifier_keys is not a list of strings")
    for k in vkeys:
        try:
            ve.parse_vkey(k)
        except VerifyError as e:
            fail(f"untrusted_verifier_keys: {e.reason}")
    if trust_bundle:
        try:
            policy = ve.policy_from_keys([*trust.keys, *vkeys], trust.quorum,
                                         "--key and the bundle's untrusted_verifier_keys")
        except VerifyError as e:
            fail(e.reason)
    else:
        policy = trust.policy()
    cp, signed = check_checkpoint(b, policy)
    events = check_records(b, cp, contract)
    _, terms_records = check_authors(events)
    check_manifest(b, events, subject)
    summaries, cited = check_statements(b, events, subject)
    check_cited(b, events, cited)
    about = f"participant {subject.split(':', 1)[1]}" if subject else f"statement seq {b['request']['settlement']}"
    return (f"ok: bundle of {about} in {contract}: {len(events)} records in the checkpoint of size "
            f"{cp.size} (root {cp.root.hex()}) {signed.summary(policy)}"
            f"{quorum_text(contract, cp.origin, terms_records, signed)}; statements: "
            f"{', '.join(summaries) if summaries else 'none'}")


def load(path: str) -> Any:
    """The bundle document, or Unreadable."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as e:
        raise Unreadable(f"cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_FILE:
        raise Unreadable(f"larger than {MAX_FILE} bytes")
    try:
        doc = ve.loads_strict(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise Unreadable(f"not UTF-8 (byte {e.start})") from None
    except VerifyError as e:
        raise Unreadable(f"not JSON: {e.reason}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise Unreadable(f"not a dispute bundle: format is {short(found)}, not {FORMAT!r}")
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verify a pbr dispute bundle (docs/format.md §10, format 2).")
    ap.add_argument("file")
    ve.add_trust_args(ap)
    ap.add_argument("--trust-bundle-keys", action="store_true",
                    help="also trust the bundle's own untrusted_verifier_keys (NOT a trust anchor), as --key")
    args = ap.parse_args(argv)  # exits 2 on a usage error
    trust = ve.trust_of(ap, args, may_be_empty=args.trust_bundle_keys)
    try:  # a malformed key or policy is a usage error
        if not args.trust_bundle_keys:
            trust.policy()
        elif args.policy is not None:
            ap.error("--trust-bundle-keys goes with --key, not --policy")
        else:
            for k in args.key:
                ve.parse_vkey(k)
    except VerifyError as e:
        where = e.file or "--key"
        where = where if e.line is None else f"{where}:{e.line}"
        print(f"{where}: {e.reason}".replace("\n", "\\n"), file=sys.stderr)
        return 2
    try:
        doc = load(args.file)
        if args.trust_bundle_keys:
            print("warning: trusting the bundle's own verifier keys; they are not a trust anchor "
                  "(format.md §4.4)", file=sys.stderr)
        summary = verify(doc, trust, args.trust_bundle_keys)
    except Unreadable as e:
        print(f"{args.file}: {e}".replace("\n", "\\n"), file=sys.stderr)
        return 2
    except VerifyError as e:
        print(f"{args.file}: {e.reason}".replace("\n", "\\n"), file=sys.stderr)
        return 1
    except Exception as e:  # a bug in this verifier, never a pass
        print(f"{args.file}: internal error: {type(e).__name__}: {e}".replace("\n", " "), file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
