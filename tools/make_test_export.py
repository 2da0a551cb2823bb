#!/usr/bin/env python3
"""Write a small valid pbr export, independently of the pbr code (docs/format.md §1, §3, §4, §5).

Records carry real events (§8: monthly-status-recorded, outcome-claimed and
cost-recorded in turn, with pseudo-random values) and are signed alternately by two
keys, `alice` and `bob`; each export line's `event` is the event's JSON form. The
checkpoint (origin `test.example/ledger`) is co-signed by both. The two verifier keys
are printed to stdout, one per line.

    make_test_export.py OUT.jsonl [-n N] [--seed SEED] [--time T]

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


def signing_key(label: str) -> SigningKey:
    """A deterministic key, so the generated export is reproducible."""
    return SigningKey(hashlib.sha256(b"pbr test key " + label.encode()).digest())


def public_key(sk: SigningKey) -> bytes:
    return bytes(sk.verify_key)


def key_id(name: str, pk: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]


def verifier_key(name: str, pk: bytes) -> str:
    b64 = base64.b64encode(b"\x01" + pk).decode()
    return f"{name}+{key_id(name, pk).hex()}+{b64}"


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
    return blake3(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return blake3(b"\x01" + left + right).digest()


def chain_hash(prev: bytes, leaf: bytes) -> bytes:
    return blake3(b"\x02" + prev + leaf).digest()


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle tree hash over leaf hashes (a one-leaf tree is its leaf)."""
    if not leaves:
        return blake3(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two < n
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def note_body(origin: str, size: int, root: bytes, chain: bytes, time: int) -> str:
    r, c = base64.b64encode(root).decode(), base64.b64encode(chain).decode()
    return f"{origin}\n{size}\n{r}\nchain {c}\ntime {time}\n"


def sig_line(name: str, sk: SigningKey, body: str, as_key: bytes | None = None) -> str:
    """One `— name base64(key_id || sig)` line; `as_key` lets a test claim another key's id."""
    kid = key_id(name, as_key if as_key is not None else public_key(sk))
    sig = sk.sign(body.encode()).signature
    return f"\u2014 {name} {base64.b64encode(kid + sig).decode()}\n"


def signed_note(body: str, signers: list[tuple[str, SigningKey]]) -> str:
    return body + "\n" + "".join(sig_line(name, sk, body) for name, sk in signers)


def tree_heads(records: list[bytes]) -> tuple[list[bytes], list[bytes], bytes]:
    """(leaf hashes, chain hashes, Merkle root) of a list of records."""
    leaves = [leaf_hash(r) for r in records]
    chains, prev = [], bytes(32)
    for leaf in leaves:
        prev = chain_hash(prev, leaf)
        chains.append(prev)
    return leaves, chains, mth(leaves)


def export_lines(records: list[bytes], note: str, vkeys: list[str]) -> list[str]:
    """§5: one JSON line per record, then the checkpoint line (each without its `\\n`).

    `event` is the JSON form of the record's event when this module made it, else null.
    """
    leaves, chains, _ = tree_heads(records)
    lines = [json.dumps({"seq": i, "record_hex": r.hex(), "leaf_hash": leaves[i].hex(),
                         "chain_hash": chains[i].hex(), "event": EVENTS.get(event_bytes_of(r))},
                        separators=(",", ":"))
             for i, r in enumerate(records)]
    lines.append(json.dumps({"checkpoint": note, "verifier_keys": vkeys}, separators=(",", ":")))
    return lines


def checkpoint_for(records: list[bytes], signers: list[tuple[str, SigningKey]],
                   origin: str = ORIGIN, time: int = 1_700_000_000) -> str:
    _, chains, root = tree_heads(records)
    return signed_note(note_body(origin, len(records), root, chains[-1] if chains else bytes(32), time), signers)


def parties() -> list[tuple[str, SigningKey]]:
    return [("alice", signing_key("alice")), ("bob", signing_key("bob"))]


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
    ap.add_argument("--time", type=int, default=1_700_000_000)
    args = ap.parse_args()
    keys = parties()
    records = make_records(args.n, args.seed)
    vkeys = [verifier_key(name, public_key(sk)) for name, sk in keys]
    write_export(args.out, records, checkpoint_for(records, keys, time=args.time), vkeys)
    print("\n".join(vkeys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
