#!/usr/bin/env python3
"""Write a small valid pbr format-2 export, independently of the pbr code (docs/format.md §1, §3, §4, §5).

Records carry real events (§8: monthly-status-recorded, outcome-claimed and
cost-recorded in turn, with pseudo-random values) and are signed alternately by two
event keys, `alice` and `bob`; each export line's `event` is the event's JSON form. The
checkpoint (origin `test.example/ledger`) is a C2SP tlog-checkpoint signed by the log key
`test.example/ledger` and cosigned (cosignature/v1) by the witness keys `alice-witness` and
`bob-witness`. The verifier keys (log key first, then the witness keys) are printed to
stdout, one per line; --policy writes the matching C2SP tlog-policy (quorum: both witnesses).

    make_test_export.py OUT.jsonl [-n N] [--seed SEED] [--time T] [--policy FILE]

The helpers are also imported by tools/test_verify_export.py to build tampered exports.
The Merkle root here is computed by the recursive definition (RFC 9162 §2.1.1),
not the streaming stack the verifier uses, so the two cross-check each other.
Likewise `encode_event` is a second reading of format.md §8 (an encoder, built from
combinators), independent of the verifier's table-driven decoder.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import re
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from blake3 import blake3
from nacl.signing import SigningKey

ORIGIN = "test.example/ledger"
EVENT_PREFIX = b"pbr-event-v1\n"
LOG_TYPE, WITNESS_TYPE = 0x01, 0x04  # signed-note signature types
TIME = 1_700_000_000  # the cosignatures' default timestamp

Signer = tuple[str, SigningKey]  # (key name, key)


def signing_key(label: str) -> SigningKey:
    """A deterministic key, so the generated export is reproducible."""
    return SigningKey(hashlib.sha256(b"pbr test key " + label.encode()).digest())


def public_key(sk: SigningKey) -> bytes:
    return bytes(sk.verify_key)


def key_id(name: str, pk: bytes, kind: int = LOG_TYPE) -> bytes:
    """signed-note: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + pk).digest()[:4]


def verifier_key(name: str, pk: bytes, kind: int = LOG_TYPE) -> str:
    b64 = base64.b64encode(bytes([kind]) + pk).decode()
    return f"{name}+{key_id(name, pk, kind).hex()}+{b64}"


def private_key(text: str) -> tuple[str, int, SigningKey]:
    """A Go note signer key `PRIVATE+KEY+<name>+<key id>+<base64(type || seed)>` -> (name, type, key)."""
    prefix, word, name, kid, b64 = text.strip().split("+", 4)
    raw = base64.b64decode(b64, validate=True)
    if (prefix, word) != ("PRIVATE", "KEY") or len(raw) != 33:
        raise ValueError("not a PRIVATE+KEY+... signer key")
    sk = SigningKey(raw[1:])
    if key_id(name, public_key(sk), raw[0]).hex() != kid:
        raise ValueError("the key id does not match the key")
    return name, raw[0], sk


def encode_record(event: bytes, pk: bytes, sig: bytes) -> bytes:
    """§1.1: u16 LE version 1, u64 LE n, event, public key, signature."""
    return (1).to_bytes(2, "little") + len(event).to_bytes(8, "little") + event + pk + sig


def sign_event(sk: SigningKey, event: bytes) -> bytes:
    """§1.2: a record whose signature covers "pbr-event-v1\\n" || event."""
    sig = sk.sign(EVENT_PREFIX + event).signature
    return encode_record(event, public_key(sk), sig)


# ------------------------------------------------- §8 events: JSON form -> event_bytes

Encoder = Callable[[Any], bytes]


def _int(width: int, signed: bool) -> Encoder:
    def enc(v: Any) -> bytes:
        if type(v) is not int:
            raise ValueError(f"expected an integer, got {v!r}")
        return v.to_bytes(width, "little", signed=signed)  # OverflowError when out of range
    return enc


U8, U16, U32, U64, I32, I64 = (_int(1, False), _int(2, False), _int(4, False), _int(8, False),
                               _int(4, True), _int(8, True))


def _bool(v: Any) -> bytes:
    if type(v) is not bool:
        raise ValueError(f"expected a bool, got {v!r}")
    return b"\x01" if v else b"\x00"


def _string(v: Any) -> bytes:
    if type(v) is not str:
        raise ValueError(f"expected a string, got {v!r}")
    raw = v.encode("utf-8")
    return U64(len(raw)) + raw


def _fixed(size: int) -> Encoder:
    def enc(v: Any) -> bytes:
        if type(v) is not str or not re.fullmatch(f"[0-9a-f]{{{2 * size}}}", v):
            raise ValueError(f"expected {2 * size} lowercase hex digits, got {v!r}")
        return bytes.fromhex(v)
    return enc


B32, B16 = _fixed(32), _fixed(16)


def _option(inner: Encoder) -> Encoder:
    return lambda v: b"\x00" if v is None else b"\x01" + inner(v)


def _day(v: Any) -> bytes:
    if type(v) is not str or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v, re.ASCII):
        raise ValueError(f"expected YYYY-MM-DD, got {v!r}")
    return I32((date.fromisoformat(v) - date(1970, 1, 1)).days)


def _month(v: Any) -> bytes:
    m = re.fullmatch(r"(\d{4})-(\d{2})", v, re.ASCII) if type(v) is str else None
    if not m or not 1 <= int(m[2]) <= 12:
        raise ValueError(f"expected YYYY-MM, got {v!r}")
    return I32(int(m[1]) * 12 + int(m[2]) - 1)


VARIANTS: dict[str, list[str]] = {  # §8.3, tag = index
    "currency": ["DKK", "EUR", "GBP"],
    "role": ["commissioner", "provider", "investor", "funder", "guarantor", "evaluator", "intermediary"],
    "gender": ["woman", "man", "non-binary"],
    "entry-status": ["unemployed", "long-term-unemployed", "inactive", "employed"],
    "result-status": ["employed", "education", "job-searching", "unemployed", "inactive"],
    "reject-reason": ["enrolment-window", "eligibility", "outcome-window", "claim-deadline", "evidence",
                      "duplicate", "mutually-exclusive", "prerequisite", "retention"],
    "clawback-reason": ["audit-finding", "evidence-invalid"],
    "activity": ["employment", "self-employment", "education"],
    "self-sufficiency": ["none", "partial", "full"],
    "purpose": ["working-capital", "grant", "conditional-grant", "co-financing", "facility-draw",
                "repayment", "outcome-payment", "fee"],
    "dispute-reason": ["amount", "outcome", "evidence", "date"],
    "resolution": ["upheld", "dismissed", "settled"],
    "correction-reason": ["data-entry", "duplicate", "wrong-subject", "wrong-date", "dispute-upheld"],
}


def _enum(name: str) -> Encoder:
    def enc(v: Any) -> bytes:
        if v not in VARIANTS[name]:
            raise ValueError(f"{v!r} is not a {name}")
        return U32(VARIANTS[name].index(v))
    return enc


def _struct(*spec: tuple[str, Encoder]) -> Encoder:
    def enc(obj: Any) -> bytes:
        if not isinstance(obj, dict) or set(obj) != {n for n, _ in spec}:
            raise ValueError(f"expected an object with the keys {[n for n, _ in spec]}, got {obj!r}")
        return b"".join(e(obj[n]) for n, e in spec)
    return enc


MONEY = _struct(("minor", I64), ("currency", _enum("currency")))
OPT_BOOL = _option(_bool)
ATTRIBUTES = _struct(  # §8.5
    ("gender", _option(_enum("gender"))), ("age_at_entry", _option(U8)),
    ("entry_status", _option(_enum("entry-status"))), ("isced", _option(U8)),
    ("home_party", _option(_string)), ("disability", OPT_BOOL), ("third_country_national", OPT_BOOL),
    ("foreign_background", OPT_BOOL), ("minority", OPT_BOOL), ("homeless", OPT_BOOL), ("rural", OPT_BOOL))
TRANSFER = (("from", _string), ("to", _string), ("amount", MONEY))

PAYLOADS: dict[str, tuple[int, Encoder]] = {  # §8.4: kind -> (tag, payload encoder)
    "contract-registered": (0, _struct(("terms", _string), ("terms_hash", B32))),
    "contract-amended": (1, _struct(("terms", _string), ("terms_hash", B32), ("effective_from", _day))),
    "party-registered": (2, _struct(("party", _string), ("role", _enum("role")), ("public_key", B32))),
    "participant-enrolled": (3, _struct(("attributes", ATTRIBUTES))),
    "participant-left": (4, _struct(("status", _enum("result-status")), ("qualification_gained", _bool))),
    "participant-followed-up": (5, _struct(("status", _enum("result-status")), ("improved", OPT_BOOL))),
    "company-registered": (6, _struct(("company", _string))),
    "outcome-claimed": (7, _struct(("outcome", _string), ("company", _option(_string)), ("achieved", _day),
                                   ("activity_start", _option(_day)), ("evidence", _option(B32)))),
    "outcome-verified": (8, _struct(("claim_seq", U64))),
    "outcome-rejected": (9, _struct(("claim_seq", U64), ("reason", _enum("reject-reason")))),
    "outcome-clawed-back": (10, _struct(("claim_seq", U64), ("reason", _enum("clawback-reason")))),
    "retention-recorded": (11, _struct(("activity", _enum("activity")), ("hours_per_week", _option(U16)),
                                       ("from", _day), ("to", _day))),
    "monthly-status-recorded": (12, _struct(("month", _month), ("status", _enum("self-sufficiency")))),
    "funds-committed": (13, _struct(*TRANSFER, ("purpose", _enum("purpose")))),
    "funds-disbursed": (14, _struct(*TRANSFER, ("purpose", _enum("purpose")))),
    "cost-recorded": (15, _struct(("party", _string), ("amount", MONEY))),
    "settlement-issued": (16, _struct(("period", _string), ("statement_hash", B32), ("log_position", U64))),
    "payment-recorded": (17, _struct(*TRANSFER, ("settlement_seq", _option(U64)))),
    "guarantee-called": (18, _struct(("guarantor", _string), ("beneficiary", _string), ("amount", MONEY))),
    "dispute-opened": (19, _struct(("about_seq", U64), ("reason", _enum("dispute-reason")))),
    "dispute-evidence-attached": (20, _struct(("dispute_seq", U64), ("evidence", B32))),
    "dispute-resolved": (21, _struct(("dispute_seq", U64), ("resolution", _enum("resolution")))),
    "correction": (22, _struct(("retracts_seq", U64), ("reason", _enum("correction-reason")))),
}
ENVELOPE_KEYS = {"kind", "contract", "participant", "date", "payload", "author", "recorded_at", "id"}


def encode_event(event: dict[str, Any]) -> bytes:
    """§8.2: the bincode legacy() bytes of an event given in its JSON form."""
    if set(event) != ENVELOPE_KEYS:
        raise ValueError(f"event keys {sorted(event)}, expected {sorted(ENVELOPE_KEYS)}")
    if event["kind"] not in PAYLOADS:
        raise ValueError(f"unknown kind {event['kind']!r}")
    tag, payload = PAYLOADS[event["kind"]]
    return (U32(tag) + _string(event["contract"]) + _option(B32)(event["participant"]) + _day(event["date"])
            + payload(event["payload"]) + _string(event["author"]) + I64(event["recorded_at"])
            + B16(event["id"]))


EVENTS: dict[bytes, dict[str, Any]] = {}  # event_bytes -> JSON form, for every event made here


def sample_event(i: int, author: str, rng: random.Random) -> dict[str, Any]:
    """Event i of a test ledger: monthly-status-recorded, outcome-claimed, cost-recorded in turn."""
    def day() -> str:
        return date.fromordinal(date(2024, 1, 1).toordinal() + rng.randrange(0, 600)).isoformat()

    kind = ("monthly-status-recorded", "outcome-claimed", "cost-recorded")[i % 3]
    participant: str | None = rng.randbytes(32).hex()
    payload: dict[str, Any]
    if kind == "monthly-status-recorded":
        payload = {"month": f"{rng.choice((2024, 2025))}-{rng.randrange(1, 13):02d}",
                   "status": rng.choice(VARIANTS["self-sufficiency"])}
    elif kind == "outcome-claimed":
        payload = {"outcome": f"O{rng.randrange(1, 10)}", "company": rng.choice((None, "S1", "S27")),
                   "achieved": day(), "activity_start": rng.choice((None, day())),
                   "evidence": rng.choice((None, rng.randbytes(32).hex()))}
    else:
        participant = None
        payload = {"party": rng.choice(("fokus", "aalborg", "dsk")),
                   "amount": {"minor": rng.randrange(1, 10**9), "currency": rng.choice(("DKK", "EUR"))}}
    return {"kind": kind, "contract": "impact60", "participant": participant, "date": day(),
            "payload": payload, "author": author, "recorded_at": 1_735_689_600_000_000 + i * 1_000_003,
            "id": rng.randbytes(16).hex()}


def event_bytes_of(record: bytes) -> bytes:
    """§1.1: the event bytes of a well-formed record."""
    return record[10:10 + int.from_bytes(record[2:10], "little")]



def leaf_hash(record: bytes) -> bytes:
    """RFC 6962: SHA-256(0x00 || record bytes)."""
    return hashlib.sha256(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def chain_hash(prev: bytes, record: bytes) -> bytes:
    """§3.1: BLAKE3(0x02 || previous chain hash || record bytes)."""
    return blake3(b"\x02" + prev + record).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle tree hash over leaf hashes (a one-leaf tree is its leaf)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two < n
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def inclusion_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes, deepest sibling first."""
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return inclusion_path(m, leaves[:k]) + [mth(leaves[k:])]
    return inclusion_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def receipt(index: int, path: list[bytes], note: str, extra: bytes | None = None) -> str:
    """§6.2: a C2SP tlog-proof@v1 text for leaf `index`."""
    lines = ["c2sp.org/tlog-proof@v1"]
    if extra is not None:
        lines.append(f"extra {base64.b64encode(extra).decode()}")
    lines.append(f"index {index}")
    lines += [base64.b64encode(h).decode() for h in path]
    return "\n".join(lines) + "\n\n" + note


def note_body(origin: str, size: int, root: bytes) -> str:
    """§4.2: the three lines of a C2SP tlog-checkpoint."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sig_line(name: str, sk: SigningKey, body: str, as_key: bytes | None = None) -> str:
    """The log key's line `— name base64(key_id || Ed25519(body))`; `as_key` claims another key's id."""
    kid = key_id(name, as_key if as_key is not None else public_key(sk))
    sig = sk.sign(body.encode()).signature
    return f"\u2014 {name} {base64.b64encode(kid + sig).decode()}\n"


def cosig_line(name: str, sk: SigningKey, body: str, time: int = TIME, as_key: bytes | None = None,
               signed_time: int | None = None) -> str:
    """A cosignature/v1 line `— name base64(key_id || u64 BE time || Ed25519(message))`.

    `signed_time` signs another time than the one written (a forgery)."""
    kid = key_id(name, as_key if as_key is not None else public_key(sk), WITNESS_TYPE)
    message = f"cosignature/v1\ntime {time if signed_time is None else signed_time}\n{body}"
    sig = sk.sign(message.encode()).signature
    return f"\u2014 {name} {base64.b64encode(kid + time.to_bytes(8, 'big') + sig).decode()}\n"


def signed_note(body: str, log: Signer | None, witnesses: list[Signer] = (), time: int = TIME) -> str:  # type: ignore[assignment]
    """The note: body, blank line, the log key's line, then one cosignature per witness."""
    lines = sig_line(*log, body) if log is not None else ""
    return body + "\n" + lines + "".join(cosig_line(name, sk, body, time) for name, sk in witnesses)


# ---- tampering with a real note, for tools/check_fresh_*.sh (with the demo's private keys)

def signers_in(keys_dir: str) -> dict[str, SigningKey]:
    """The signer keys in a directory of `PRIVATE+KEY+...` files (`pbr demo` writes DIR/demo-keys), by name."""
    import os
    out = {}
    for file in sorted(os.listdir(keys_dir)):
        if file.endswith(".key"):
            with open(os.path.join(keys_dir, file), encoding="utf-8") as f:
                name, _, sk = private_key(f.read())
            out[name] = sk
    return out


def resigned(note: str, signers: dict[str, SigningKey], body: str | None = None,
             log_key: SigningKey | None = None) -> str:
    """The note over `body` (default: its own), signed by its log key (or `log_key` under the log's
    name) and cosigned by the witnesses that cosigned it, with their private keys from `signers`."""
    old_body, sigs = note.split("\n\n", 1)
    origin = old_body.split("\n")[0]
    body = body if body is not None else old_body + "\n"
    witnesses = [(line.split(" ")[1], int.from_bytes(base64.b64decode(line.split(" ")[2])[4:12], "big"))
                 for line in sigs.splitlines()[1:]]  # (name, timestamp), kept
    log = log_key if log_key is not None else signers[origin]
    return (body + "\n" + sig_line(origin, log, body)
            + "".join(cosig_line(w, signers[w], body, time) for w, time in witnesses))


def flipped_signature(note: str, name: str, offset: int) -> str:
    """The note with one byte (at `offset` of the decoded key id || ...) of key `name`'s line flipped."""
    out = []
    for line in note.split("\n"):
        if line.startswith(f"\u2014 {name} "):
            raw = bytearray(base64.b64decode(line.split(" ")[2]))
            raw[offset] ^= 1
            line = f"\u2014 {name} {base64.b64encode(raw).decode()}"
        out.append(line)
    return "\n".join(out)


def without_signature(note: str, name: str) -> str:
    return "\n".join(x for x in note.split("\n") if not x.startswith(f"\u2014 {name} "))


def tree_heads(records: list[bytes]) -> tuple[list[bytes], list[bytes], bytes]:
    """(leaf hashes, chain hashes, Merkle root) of a list of records."""
    leaves = [leaf_hash(r) for r in records]
    chains, prev = [], bytes(32)
    for r in records:
        prev = chain_hash(prev, r)
        chains.append(prev)
    return leaves, chains, mth(leaves)


def export_lines(records: list[bytes], note: str, vkeys: list[str], fmt: int | None = 2) -> list[str]:
    """§5: one JSON line per record, then the checkpoint line (each without its `\\n`).

    `event` is the JSON form of the record's event when this module made it, else null.
    `fmt=None` writes a format-1 style last line (no `format` field)."""
    leaves, chains, _ = tree_heads(records)
    lines = [json.dumps({"seq": i, "record_hex": r.hex(), "leaf_hash": leaves[i].hex(),
                         "chain_hash": chains[i].hex(), "event": EVENTS.get(event_bytes_of(r))},
                        separators=(",", ":"))
             for i, r in enumerate(records)]
    tail: dict[str, Any] = {} if fmt is None else {"format": fmt}
    tail.update(checkpoint=note, verifier_keys=vkeys)
    lines.append(json.dumps(tail, separators=(",", ":")))
    return lines


def parties() -> list[Signer]:
    """The event keys: the authors of the records."""
    return [("alice", signing_key("alice")), ("bob", signing_key("bob"))]


def log_signer(origin: str = ORIGIN) -> Signer:
    return (origin, signing_key("log " + origin))


def witnesses() -> list[Signer]:
    return [("alice-witness", signing_key("alice-witness")), ("bob-witness", signing_key("bob-witness"))]


def log_vkey(origin: str = ORIGIN) -> str:
    name, sk = log_signer(origin)
    return verifier_key(name, public_key(sk))


def witness_vkeys() -> list[str]:
    return [verifier_key(name, public_key(sk), WITNESS_TYPE) for name, sk in witnesses()]


def policy_text(quorum: str = "all", log: str | None = None, wits: list[str] | None = None) -> str:
    """A C2SP tlog-policy: the log, each witness under its key name, and a group of them all."""
    wits = witness_vkeys() if wits is None else wits
    lines = [f"log {log or log_vkey()}"]
    lines += [f"witness {w.split('+')[0]} {w}" for w in wits]
    if wits:
        lines.append(f"group everyone {quorum} {' '.join(w.split('+')[0] for w in wits)}")
    lines.append("quorum everyone" if wits else "quorum none")
    return "\n".join(lines) + "\n"


def checkpoint_for(records: list[bytes], log: Signer | None = None, wits: list[Signer] | None = None,
                   origin: str = ORIGIN, time: int = TIME) -> str:
    """The note for these records, signed by the log key and cosigned by the witnesses."""
    _, _, root = tree_heads(records)
    return signed_note(note_body(origin, len(records), root), log or log_signer(),
                       witnesses() if wits is None else wits, time)


def make_records(n: int, seed: int = 1) -> list[bytes]:
    """n records of sample events, alternately by alice and bob (the author of each event)."""
    rng, keys = random.Random(seed), parties()
    records = []
    for i in range(n):
        name, sk = keys[i % 2]
        event = sample_event(i, name, rng)
        raw = encode_event(event)
        EVENTS[raw] = event
        records.append(sign_event(sk, raw))
    return records


def write_export(path: str, records: list[bytes], note: str, vkeys: list[str]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in export_lines(records, note, vkeys)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("-n", type=int, default=20, help="number of records (default 20)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time", type=int, default=TIME, help="the cosignatures' timestamp")
    ap.add_argument("--policy", metavar="FILE", help="also write the C2SP tlog-policy that trusts it")
    args = ap.parse_args()
    records = make_records(args.n, args.seed)
    vkeys = [log_vkey(), *witness_vkeys()]
    write_export(args.out, records, checkpoint_for(records, time=args.time), vkeys)
    if args.policy:
        with open(args.policy, "w", encoding="utf-8", newline="\n") as f:
            f.write(policy_text())
    print("\n".join(vkeys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
