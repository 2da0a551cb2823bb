#!/usr/bin/env python3
"""Independent verifier for pbr ledger exports and proofs.

Implements docs/format.md (version 1) without using any pbr code:
  §1.1 record wire layout and its rejection rules, §1.2 strict Ed25519,
  §3 hashes, §3.1 hash chain, §3.2 Merkle root (streaming stack),
  §3.3/§3.4 inclusion and consistency proofs (RFC 9162 §2.1.3.2, §2.1.4.2),
  §4 checkpoints (C2SP signed notes), §4.1 verifier keys, §5 export, §6 proofs,
  §8 event vocabulary (every export line's `event` must be the decoding of its event bytes).

Needs only Python 3.11, `blake3` and `PyNaCl`:
  verify_export.py export FILE.jsonl [--key VKEY ...] [--trust-export-keys]
  verify_export.py inclusion PROOF.json --key VKEY ...
  verify_export.py consistency PROOF.json --key VKEY ... [--old-checkpoint NOTEFILE]
Exit 0 with one summary line on stdout, or 1 with one `FILE:LINE: reason` line on stderr.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from typing import IO, Any, NoReturn

import nacl.exceptions
import nacl.signing
from blake3 import blake3

MAX_EVENT_LEN = 1_048_576  # §1.1
MAX_LINE = 8 * 1024 * 1024  # bounds memory per export line (a full record is ~2 MiB of hex)
MAX_PROOF_FILE = 16 * 1024 * 1024
U64_MAX = 2**64 - 1
EVENT_PREFIX = b"pbr-event-v1\n"  # §1.2
EMPTY_ROOT = blake3(b"").digest()  # §3
ZERO32 = bytes(32)
SIG_PREFIX = "\u2014 "  # §4: EM DASH + space
DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
HEX = re.compile(r"(?:[0-9a-f]{2})*", re.ASCII)
B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)


class VerifyError(Exception):
    """A verification failure, reported as `FILE:LINE: reason`."""

    def __init__(self, reason: str, line: int | None = None, file: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.line, self.file = reason, line, file


def fail(reason: str, line: int | None = None) -> NoReturn:
    raise VerifyError(reason, line)


def short(value: Any) -> str:
    """repr() of an untrusted value, cut to keep error lines short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------- §3 hashes

def leaf_hash(record: bytes) -> bytes:
    return blake3(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return blake3(b"\x01" + left + right).digest()


def chain_hash(prev: bytes, leaf: bytes) -> bytes:
    return blake3(b"\x02" + prev + leaf).digest()


def stack_push(stack: list[bytes], index: int, leaf: bytes) -> None:
    """§3.2: add leaf `index`; the stack holds roots of complete subtrees (O(log n))."""
    h, j = leaf, index
    while j & 1:
        h = node_hash(stack.pop(), h)
        j >>= 1
    stack.append(h)


def stack_root(stack: list[bytes]) -> bytes:
    """§3.2: fold the stack from the top down (does not consume it)."""
    if not stack:
        return EMPTY_ROOT
    r = stack[-1]
    for h in reversed(stack[:-1]):
        r = node_hash(h, r)
    return r


# ------------------------------------------------- §1.2 strict Ed25519

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decompress(enc: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3 point decoding; None if `enc` is not a canonical curve point."""
    n = int.from_bytes(enc, "little")
    y, sign = n & ((1 << 255) - 1), n >> 255
    if y >= P:  # step 1: non-canonical y
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P  # step 2: x^2 = u/v
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vxx = v * x * x % P  # step 3: pick the square root, or fail
    if vxx == (-u) % P:
        x = x * SQRT_M1 % P
    elif vxx != u:
        return None
    if x == 0 and sign:  # step 4: x = 0 with the sign bit set is rejected
        return None
    if x & 1 != sign:
        x = P - x
    return x, y


def edwards_add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """Affine twisted Edwards addition (a = -1), complete on Ed25519."""
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P) % P,
            (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P)


def has_small_order(pt: tuple[int, int]) -> bool:
    """True if [8]pt is the identity (0, 1), i.e. pt is one of the 8 small-order points."""
    for _ in range(3):
        pt = edwards_add(pt, pt)
    return pt == (0, 1)


def check_point(enc: bytes, what: str) -> str | None:
    if int.from_bytes(enc, "little") & ((1 << 255) - 1) >= P:
        return f"{what} encoding is not canonical (y >= p)"
    pt = decompress(enc)
    if pt is None:
        return f"{what} is not a valid curve point"
    if has_small_order(pt):
        return f"{what} has small order"
    return None


def strict_verify(pk: bytes, msg: bytes, sig: bytes) -> str | None:
    """§1.2 strict verification; returns None if valid, else the reason."""
    if len(pk) != 32 or len(sig) != 64:
        return "bad key or signature length"
    if int.from_bytes(sig[32:], "little") >= L:
        return "signature S is not canonical (S >= L)"
    reason = check_point(pk, "public key") or check_point(sig[:32], "signature point R")
    if reason:
        return reason
    try:  # the cofactorless equation [S]B = R + [k]A, checked by libsodium
        nacl.signing.VerifyKey(pk).verify(msg, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError):
        return "signature does not verify"
    return None


# ------------------------------------------------------ §1.1 records

def parse_record(rec: bytes) -> tuple[bytes, bytes, bytes] | str:
    """Split a record into (event_bytes, public_key, signature), or return the reason it is bad."""
    if len(rec) < 10:
        return f"record truncated ({len(rec)} bytes, header needs 10)"
    version = int.from_bytes(rec[0:2], "little")
    if version != 1:
        return f"format_version {version}, expected 1"
    n = int.from_bytes(rec[2:10], "little")
    if n > MAX_EVENT_LEN:
        return f"event length {n} exceeds the limit {MAX_EVENT_LEN}"
    if len(rec) < 106 + n:
        return f"record truncated ({len(rec)} bytes, layout needs {106 + n})"
    if len(rec) > 106 + n:
        return f"record has {len(rec) - 106 - n} trailing bytes"
    return rec[10:10 + n], rec[10 + n:42 + n], rec[42 + n:106 + n]


# ------------------------------------------------- §8 event vocabulary
#
# The tables below are §8.3, §8.4, §8.5 and the money row of §8.1, transcribed.
# A type is written as in the document: a primitive of §8.1, `option<T>`, an enum of
# ENUMS, or a struct of STRUCTS.

ENUMS: dict[str, tuple[str, ...]] = {name: tuple(variants.split()) for name, variants in (  # §8.3
    # the position in the list is the u32 tag
    ("currency", "DKK EUR GBP"),
    ("role", "commissioner provider investor funder guarantor evaluator intermediary"),
    ("gender", "woman man non-binary"),
    ("entry-status", "unemployed long-term-unemployed inactive employed"),
    ("result-status", "employed education job-searching unemployed inactive"),
    ("reject-reason", "enrolment-window eligibility outcome-window claim-deadline evidence duplicate "
                      "mutually-exclusive prerequisite retention"),
    ("clawback-reason", "audit-finding evidence-invalid"),
    ("activity", "employment self-employment education"),
    ("self-sufficiency", "none partial full"),
    ("purpose", "working-capital grant conditional-grant co-financing facility-draw repayment "
                "outcome-payment fee"),
    ("dispute-reason", "amount outcome evidence date"),
    ("resolution", "upheld dismissed settled"),
    ("correction-reason", "data-entry duplicate wrong-subject wrong-date dispute-upheld"),
)}

Fields = tuple[tuple[str, str], ...]  # (field name, type), in wire order


def fields(spec: str) -> Fields:
    """`name: type, name: type, ...` -> ((name, type), ...)."""
    return tuple((name.strip(), typ.strip()) for name, typ in
                 (item.split(":") for item in spec.split(",")))


STRUCTS: dict[str, Fields] = {
    "money": fields("minor: i64, currency: currency"),  # §8.1
    "attributes": fields(  # §8.5
        "gender: option<gender>, age_at_entry: option<u8>, entry_status: option<entry-status>, "
        "isced: option<u8>, home_party: option<string>, disability: option<bool>, "
        "third_country_national: option<bool>, foreign_background: option<bool>, "
        "minority: option<bool>, homeless: option<bool>, rural: option<bool>"),
}

KINDS: dict[int, tuple[str, Fields]] = {tag: (kind, fields(spec)) for tag, kind, spec in (  # §8.4
    (0, "contract-registered", "terms: string, terms_hash: bytes32"),
    (1, "contract-amended", "terms: string, terms_hash: bytes32, effective_from: day"),
    (2, "party-registered", "party: string, role: role, public_key: bytes32"),
    (3, "participant-enrolled", "attributes: attributes"),
    (4, "participant-left", "status: result-status, qualification_gained: bool"),
    (5, "participant-followed-up", "status: result-status, improved: option<bool>"),
    (6, "company-registered", "company: string"),
    (7, "outcome-claimed", "outcome: string, company: option<string>, achieved: day, "
                           "activity_start: option<day>, evidence: option<bytes32>"),
    (8, "outcome-verified", "claim_seq: u64"),
    (9, "outcome-rejected", "claim_seq: u64, reason: reject-reason"),
    (10, "outcome-clawed-back", "claim_seq: u64, reason: clawback-reason"),
    (11, "retention-recorded", "activity: activity, hours_per_week: option<u16>, from: day, to: day"),
    (12, "monthly-status-recorded", "month: month, status: self-sufficiency"),
    (13, "funds-committed", "from: string, to: string, amount: money, purpose: purpose"),
    (14, "funds-disbursed", "from: string, to: string, amount: money, purpose: purpose"),
    (15, "cost-recorded", "party: string, amount: money"),
    (16, "settlement-issued", "period: string, statement_hash: bytes32, log_position: u64"),
    (17, "payment-recorded", "from: string, to: string, amount: money, settlement_seq: option<u64>"),
    (18, "guarantee-called", "guarantor: string, beneficiary: string, amount: money"),
    (19, "dispute-opened", "about_seq: u64, reason: dispute-reason"),
    (20, "dispute-evidence-attached", "dispute_seq: u64, evidence: bytes32"),
    (21, "dispute-resolved", "dispute_seq: u64, resolution: resolution"),
    (22, "correction", "retracts_seq: u64, reason: correction-reason"),
)}

# §8.2: the envelope around the payload (the u32 kind tag comes first)
ENVELOPE_HEAD = fields("contract: string, participant: option<bytes32>, date: day")
ENVELOPE_TAIL = fields("author: string, recorded_at: i64, id: bytes16")

INTS = {"u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
        "i32": (4, True), "i64": (8, True)}  # §8.1: little-endian, fixed width
BLOBS = {"bytes32": 32, "bytes16": 16}
EPOCH = date(1970, 1, 1)
MONTHS = range(1 * 12, 10000 * 12)  # 0001-01 .. 9999-12, the years a day can have


def option_of(typ: str) -> str | None:
    return typ[7:-1] if typ.startswith("option<") and typ.endswith(">") else None


def known_type(typ: str) -> bool:
    inner = option_of(typ)
    if inner is not None:
        return known_type(inner)
    return typ in INTS or typ in BLOBS or typ in ENUMS or typ in STRUCTS or typ in (
        "bool", "string", "day", "month")


def check_tables() -> None:
    """Every type named in the tables is defined (a typo in a table fails at import)."""
    for what, spec in [("envelope", ENVELOPE_HEAD + ENVELOPE_TAIL), *STRUCTS.items(), *KINDS.values()]:
        for name, typ in spec:
            if not known_type(typ):
                raise RuntimeError(f"{what}.{name}: unknown type {typ!r} in the §8 tables")


check_tables()


class EventReader:
    """Reads §8.1 values from event_bytes, refusing to read past the end."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        left = len(self.data) - self.pos
        if n > left:
            fail(f"truncated: {what} needs {n} bytes at offset {self.pos}, {left} left")
        self.pos += n
        return self.data[self.pos - n:self.pos]

    def integer(self, typ: str, what: str) -> int:
        size, signed = INTS[typ]
        return int.from_bytes(self.take(size, what), "little", signed=signed)

    def value(self, typ: str, what: str) -> Any:
        """Decode one value of type `typ` into its JSON form (§8.1)."""
        inner = option_of(typ)
        if inner is not None:
            flag = self.take(1, what)[0]
            if flag > 1:
                fail(f"{what}: option tag {flag}, expected 0 or 1")
            return self.value(inner, what) if flag else None
        if typ in INTS:
            return self.integer(typ, what)
        if typ in BLOBS:
            return self.take(BLOBS[typ], what).hex()
        if typ == "bool":
            b = self.take(1, what)[0]
            if b > 1:
                fail(f"{what}: bool byte {b}, expected 0 or 1")
            return b == 1
        if typ == "string":
            n = self.integer("u64", f"{what} length")
            if n > len(self.data) - self.pos:
                fail(f"{what}: string length {n} exceeds the {len(self.data) - self.pos} bytes left")
            try:
                return self.take(n, what).decode("utf-8")
            except UnicodeDecodeError:
                fail(f"{what}: string is not valid UTF-8")
        if typ == "day":
            days = self.integer("i32", what)
            try:
                d = EPOCH + timedelta(days=days)
            except OverflowError:
                fail(f"{what}: day {days} is not a date in years 0001..9999")
            return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
        if typ == "month":
            index = self.integer("i32", what)
            if index not in MONTHS:
                fail(f"{what}: month index {index} is not a month in years 0001..9999")
            return f"{index // 12:04d}-{index % 12 + 1:02d}"
        if typ in ENUMS:
            tag = self.integer("u32", what)
            if tag >= len(ENUMS[typ]):
                fail(f"{what}: unknown {typ} tag {tag} (known: 0..{len(ENUMS[typ]) - 1})")
            return ENUMS[typ][tag]
        return self.struct(STRUCTS[typ], what + ".")

    def struct(self, spec: Fields, prefix: str) -> dict[str, Any]:
        return {name: self.value(typ, prefix + name) for name, typ in spec}


def decode_event(event_bytes: bytes) -> dict[str, Any]:
    """§8: decode event_bytes into the JSON form of an export line's `event` field.

    Raises VerifyError on truncation, trailing bytes, an unknown kind or enum tag,
    invalid UTF-8, a bool or option tag other than 0/1, or a day/month outside 0001..9999.
    """
    r = EventReader(event_bytes)
    tag = r.integer("u32", "kind")
    if tag not in KINDS:
        fail(f"unknown kind tag {tag} (known: 0..{max(KINDS)})")
    kind, payload = KINDS[tag]
    event: dict[str, Any] = {"kind": kind}
    event.update(r.struct(ENVELOPE_HEAD, ""))
    event["payload"] = r.struct(payload, "payload.")
    event.update(r.struct(ENVELOPE_TAIL, ""))
    if r.pos != len(event_bytes):
        fail(f"{len(event_bytes) - r.pos} trailing bytes after the {kind} event")
    return event


class Missing:
    def __repr__(self) -> str:
        return "(absent)"


MISSING = Missing()


def first_difference(want: Any, got: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first key (dotted path) where the JSON value `got` differs from `want`, with both
    values there (MISSING for an absent key), or None if they are equal.

    Types are compared exactly: `true` is not `1` and `1.0` is not `1`.
    """
    if isinstance(want, dict) and isinstance(got, dict):
        for key in [*want, *(k for k in got if k not in want)]:
            sub = f"{path}.{key}" if path else key
            diff = first_difference(want.get(key, MISSING), got.get(key, MISSING), sub)
            if diff is not None:
                return diff
        return None
    if type(want) is not type(got) or want != got:
        return path or "event", want, got
    return None


# -------------------------------------------------- parsing helpers

def parse_hex(value: Any, what: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not HEX.fullmatch(value):
        fail(f"{what} is not lowercase hex")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        fail(f"{what} is {len(raw)} bytes, expected {size}")
    return raw


def parse_b64(text: str, what: str) -> bytes:
    """Strict standard base64 with padding (RFC 4648 §4), canonical encoding only."""
    if not B64.fullmatch(text) or len(text) % 4:
        fail(f"{what} is not padded standard base64")
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        fail(f"{what} is not canonical base64")
    return raw


def parse_uint(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= U64_MAX:
        fail(f"{what} must be a JSON integer in 0..2^64-1")
    return value


def loads_strict(text: str) -> Any:
    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise ValueError("duplicate key")
        return obj

    def no_constants(name: str) -> NoReturn:
        raise ValueError(f"invalid constant {name}")

    try:
        return json.loads(text, object_pairs_hook=no_dupes, parse_constant=no_constants)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, bad UTF-8, int too long
        fail(f"invalid JSON: {str(e)[:120]}")


def require_keys(obj: Any, keys: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != keys:
        fail(f"{what} must be an object with exactly the keys {', '.join(sorted(keys))}")
    return obj


# --------------------------------------------------- §4.1 verifier keys

def key_id(name: str, pk: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]


def valid_name(name: str) -> bool:
    """§4: origins and key names are printable ASCII (0x21..0x7e) other than '+'."""
    return bool(name) and all("!" <= c <= "~" and c != "+" for c in name)


def parse_verifier_key(text: str) -> tuple[str, bytes, bytes]:
    """`<name>+<8 hex>+<base64(0x01 || pk)>` -> (name, key_id, pk); split on the first two '+'."""
    parts = text.split("+", 2)
    if len(parts) != 3 or not valid_name(parts[0]):
        fail(f"malformed verifier key {short(text)}")
    name, kid_hex, b64 = parts
    if not re.fullmatch(r"[0-9a-f]{8}", kid_hex, re.ASCII):
        fail(f"verifier key {name!r}: key id is not 8 lowercase hex digits")
    raw = parse_b64(b64, f"verifier key {name!r}")
    if len(raw) != 33 or raw[0] != 0x01:
        fail(f"verifier key {name!r}: expected 0x01 followed by a 32-byte Ed25519 key")
    if key_id(name, raw[1:]).hex() != kid_hex:
        fail(f"verifier key {name!r}: key id does not match the key")
    return name, bytes.fromhex(kid_hex), raw[1:]


Trusted = dict[tuple[str, bytes], bytes]  # (name, key_id) -> public key


def trusted_keys(texts: list[str], where: str) -> Trusted:
    try:
        return {(n, k): pk for n, k, pk in map(parse_verifier_key, texts)}
    except VerifyError as e:
        fail(f"{where}: {e.reason}")


# ------------------------------------------------------ §4 checkpoints

def parse_note(note: Any) -> dict[str, Any]:
    """Parse a signed note (§4) strictly; returns its fields, body bytes and signature lines."""
    if not isinstance(note, str):
        fail("checkpoint is not a string")
    if not note.endswith("\n") or "\n\n" not in note:
        fail("checkpoint: not a signed note (needs body, blank line, signature lines)")
    split = note.index("\n\n")
    body, sigs = note[:split + 1], note[split + 2:]
    lines = body.split("\n")[:-1]
    if len(lines) != 5:
        fail(f"checkpoint: body has {len(lines)} lines, expected 5")
    origin, size, root, chain, time = lines
    if not valid_name(origin):
        fail(f"checkpoint: bad origin {short(origin)}")
    if not DECIMAL.fullmatch(size) or int(size) > U64_MAX:
        fail(f"checkpoint: bad tree size {short(size)}")
    if not chain.startswith("chain "):
        fail("checkpoint: fourth line does not start with 'chain '")
    if not time.startswith("time ") or not DECIMAL.fullmatch(time[5:]) or int(time[5:]) > U64_MAX:
        fail(f"checkpoint: bad time line {short(time)}")
    fields: dict[str, Any] = {"origin": origin, "size": int(size), "time": int(time[5:])}
    for key, text in (("root", root), ("chain", chain[6:])):
        raw = fields[key] = parse_b64(text, f"checkpoint {key}")
        if len(raw) != 32:
            fail(f"checkpoint: {key} is {len(raw)} bytes, expected 32")
    try:
        fields["body"] = body.encode("utf-8")
    except UnicodeEncodeError:
        fail("checkpoint is not valid UTF-8")
    fields["sig_lines"] = sigs.split("\n")[:-1]
    return fields


def note_signers(note: dict[str, Any], trusted: Trusted) -> list[str]:
    """§4: check signature lines against trusted keys; return the names that signed validly."""
    signers: list[str] = []
    for line in note["sig_lines"]:
        if not line.startswith(SIG_PREFIX) or " " not in line[len(SIG_PREFIX):]:
            continue  # other shape: ignored (C2SP)
        name, b64 = line[len(SIG_PREFIX):].split(" ", 1)
        try:
            raw = parse_b64(b64, "signature")
        except VerifyError:
            continue  # other shape: ignored
        if len(raw) < 4 or (name, raw[:4]) not in trusted:
            continue  # unknown key: ignored
        if len(raw) != 68:
            fail(f"checkpoint: signature by trusted key {name!r} is {len(raw) - 4} bytes, expected 64")
        reason = strict_verify(trusted[(name, raw[:4])], note["body"], raw[4:])
        if reason:
            fail(f"checkpoint: signature by trusted key {name!r}: {reason}")
        if name not in signers:
            signers.append(name)
    if not signers:
        fail("checkpoint has no valid signature from a trusted key")
    return signers


# ------------------------------------------------------------ §5 export

def check_event_line(obj: dict[str, Any], seq: int, prev_chain: bytes) -> tuple[bytes, bytes]:
    """§5 step 1 for one event line; returns (leaf, chain)."""
    obj = require_keys(obj, {"seq", "record_hex", "leaf_hash", "chain_hash", "event"}, "event line")
    if type(obj["seq"]) is not int or obj["seq"] != seq:
        fail(f"seq {short(obj['seq'])}, expected {seq}")
    record = parse_hex(obj["record_hex"], f"seq {seq}: record_hex")
    parsed = parse_record(record)
    if isinstance(parsed, str):
        fail(f"seq {seq}: {parsed}")
    event_bytes, pk, sig = parsed
    reason = strict_verify(pk, EVENT_PREFIX + event_bytes, sig)
    if reason:
        fail(f"seq {seq}: event signature: {reason}")
    leaf = leaf_hash(record)
    if parse_hex(obj["leaf_hash"], f"seq {seq}: leaf_hash", 32) != leaf:
        fail(f"seq {seq}: leaf_hash does not match the record")
    chain = chain_hash(prev_chain, leaf)
    if parse_hex(obj["chain_hash"], f"seq {seq}: chain_hash", 32) != chain:
        fail(f"seq {seq}: chain_hash does not match")
    try:  # §5, §8: `event` is the decoding of event_bytes, exactly
        decoded = decode_event(event_bytes)
    except VerifyError as e:
        fail(f"seq {seq}: event_bytes does not decode (format.md §8): {e.reason}")
    if obj["event"] is None:
        fail(f"seq {seq}: event is null but event_bytes decodes to a {decoded['kind']} event")
    diff = first_difference(decoded, obj["event"])
    if diff is not None:
        key, want, got = diff
        fail(f"seq {seq}: event does not match event_bytes at {key!r}: "
             f"the export has {short(got)}, event_bytes decode to {short(want)}")
    return leaf, chain


def read_lines(f: IO[bytes]) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) for each `\\n`-terminated line, bounded in length."""
    lineno = 0
    while raw := f.readline(MAX_LINE + 1):
        lineno += 1
        if len(raw) > MAX_LINE:
            fail(f"line longer than {MAX_LINE} bytes", lineno)
        if not raw.endswith(b"\n"):
            fail("line does not end with a newline", lineno)
        try:
            yield lineno, raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            fail("line is not valid UTF-8", lineno)


def cmd_export(path: str, keys: list[str], trust_export: bool) -> str:
    trusted = trusted_keys(keys, "--key")
    stack: list[bytes] = []
    chain, count, tail = ZERO32, 0, None
    with open(path, "rb") as f:
        for lineno, text in read_lines(f):
            try:
                if tail is not None:
                    fail("data after the checkpoint line")
                obj = loads_strict(text)
                if isinstance(obj, dict) and "checkpoint" in obj:
                    tail = (lineno, obj)
                    continue
                leaf, chain = check_event_line(obj, count, chain)
                stack_push(stack, count, leaf)
                count += 1
            except VerifyError as e:
                e.line = e.line or lineno
                raise
    if tail is None:
        fail("no checkpoint line at the end of the export")
    lineno, obj = tail
    try:
        obj = require_keys(obj, {"checkpoint", "verifier_keys"}, "checkpoint line")
        vkeys = obj["verifier_keys"]
        if not isinstance(vkeys, list) or not all(isinstance(k, str) for k in vkeys):
            fail("verifier_keys is not a list of strings")
        export_keys = trusted_keys(vkeys, "verifier_keys")
        if trust_export:
            print("warning: trusting the export's own verifier_keys; "
                  "they are not a trust anchor (format.md §4.1)", file=sys.stderr)
            trusted = {**export_keys, **trusted}
        if not trusted:
            fail("no trusted keys: give --key (or --trust-export-keys)")
        note = parse_note(obj["checkpoint"])
        root = stack_root(stack)
        if note["size"] != count:
            fail(f"checkpoint size {note['size']} but the export has {count} records")
        if note["root"] != root:
            fail("checkpoint root does not match the recomputed Merkle root")
        if note["chain"] != chain:
            fail("checkpoint chain head does not match the last chain_hash")
        signers = note_signers(note, trusted)
    except VerifyError as e:
        e.line = e.line or lineno
        raise
    return (f"ok: {count} records, origin {note['origin']}, root {root.hex()}, "
            f"checkpoint signed by {', '.join(signers)}")


# ------------------------------------------------------------ §6 proofs

def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, plus the two empty-path edge cases of format.md §3.4."""
    if first > second:
        return False
    if first == second or first == 0:
        return (not path and (first != second or first_root == second_root)
                and (first != 0 or first_root == EMPTY_ROOT))
    if not path:
        return False
    if first & (first - 1) == 0:  # exact power of two
        path = [first_root] + path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


def load_proof(path: str, keys: set[str]) -> dict[str, Any]:
    with open(path, "rb") as f:
        data = f.read(MAX_PROOF_FILE + 1)
    if len(data) > MAX_PROOF_FILE:
        fail("proof file too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail("proof file is not valid UTF-8")
    obj = require_keys(loads_strict(text), keys, "proof")
    if not isinstance(obj["path"], list):
        fail("path is not a list")
    obj["path"] = [parse_hex(h, f"path[{i}]", 32) for i, h in enumerate(obj["path"])]
    return obj


def checked_checkpoint(text: Any, size: int, root: bytes, trusted: Trusted) -> tuple[dict[str, Any], list[str]]:
    note = parse_note(text)
    if note["size"] != size:
        fail(f"embedded checkpoint has size {note['size']}, expected {size}")
    if note["root"] != root:
        fail("embedded checkpoint root does not match the proof's root")
    return note, note_signers(note, trusted)


def cmd_inclusion(path: str, keys: list[str]) -> str:
    trusted = trusted_keys(keys, "--key")
    p = load_proof(path, {"leaf_index", "tree_size", "leaf_hash", "path", "root", "checkpoint"})
    index, size = parse_uint(p["leaf_index"], "leaf_index"), parse_uint(p["tree_size"], "tree_size")
    leaf, root = parse_hex(p["leaf_hash"], "leaf_hash", 32), parse_hex(p["root"], "root", 32)
    if not verify_inclusion(index, size, leaf, p["path"], root):
        fail(f"inclusion proof for leaf {index} in tree of size {size} does not verify")
    _, signers = checked_checkpoint(p["checkpoint"], size, root, trusted)
    return (f"ok: leaf {index} ({leaf.hex()}) is in the tree of size {size}, root {root.hex()}, "
            f"checkpoint signed by {', '.join(signers)}")


def cmd_consistency(path: str, keys: list[str], old: str | None) -> str:
    trusted = trusted_keys(keys, "--key")
    p = load_proof(path, {"first", "second", "first_root", "second_root", "path", "checkpoint"})
    first, second = parse_uint(p["first"], "first"), parse_uint(p["second"], "second")
    r1, r2 = parse_hex(p["first_root"], "first_root", 32), parse_hex(p["second_root"], "second_root", 32)
    if not verify_consistency(first, second, r1, r2, p["path"]):
        fail(f"consistency proof from size {first} to {second} does not verify")
    note, signers = checked_checkpoint(p["checkpoint"], second, r2, trusted)
    if old is not None:
        try:
            with open(old, "rb") as f:
                old_note = parse_note(f.read(MAX_PROOF_FILE).decode("utf-8"))
            note_signers(old_note, trusted)
        except OSError as e:
            raise VerifyError(f"cannot read: {e.strerror or e}", file=old) from None
        except UnicodeDecodeError:
            raise VerifyError("old checkpoint is not valid UTF-8", file=old) from None
        except VerifyError as e:
            raise VerifyError(f"old {e.reason}", file=old) from None
        if old_note["origin"] != note["origin"]:
            fail(f"old checkpoint is for origin {old_note['origin']!r}, not {note['origin']!r}")
        if old_note["size"] != first or old_note["root"] != r1:
            fail(f"old checkpoint (size {old_note['size']}) does not match first={first} / first_root")
    return (f"ok: tree of size {first} is a prefix of tree of size {second}, root {r2.hex()}, "
            f"checkpoint signed by {', '.join(signers)}")


# ------------------------------------------------------------------ CLI

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verify pbr exports and proofs (docs/format.md).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="verify an export (format.md §5)")
    ex.add_argument("file")
    ex.add_argument("--key", action="append", default=[], metavar="VKEY", help="trusted verifier key")
    ex.add_argument("--trust-export-keys", action="store_true",
                    help="also trust the export's own verifier_keys (NOT a trust anchor)")
    inc = sub.add_parser("inclusion", help="verify an inclusion proof (format.md §6)")
    inc.add_argument("file")
    inc.add_argument("--key", action="append", required=True, metavar="VKEY")
    con = sub.add_parser("consistency", help="verify a consistency proof (format.md §6)")
    con.add_argument("file")
    con.add_argument("--key", action="append", required=True, metavar="VKEY")
    con.add_argument("--old-checkpoint", metavar="NOTEFILE", help="a checkpoint of size `first` you kept")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "export":
            summary = cmd_export(args.file, args.key, args.trust_export_keys)
        elif args.cmd == "inclusion":
            summary = cmd_inclusion(args.file, args.key)
        else:
            summary = cmd_consistency(args.file, args.key, args.old_checkpoint)
    except VerifyError as e:
        name = e.file or args.file
        where = name if e.line is None else f"{name}:{e.line}"
        print(f"{where}: {e.reason}".replace("\n", "\\n"), file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{args.file}: cannot read: {e.strerror or e}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug in this verifier, never a pass
        print(f"{args.file}: internal error: {type(e).__name__}: {e}".replace("\n", " "), file=sys.stderr)
        return 1
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
