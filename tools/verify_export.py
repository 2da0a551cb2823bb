#!/usr/bin/env python3
"""Independent verifier for pbr ledger exports and proofs, format 2.

Implements docs/format.md (format 2, from DESIGN §3 "Fixed points") without using any pbr code:
  §1.1 record wire layout (at most 65,535 bytes) and its rejection rules, §1.2 strict Ed25519,
  §3 hashes: the RFC 6962 Merkle tree with SHA-256 (streaming stack) and the BLAKE3 chain over
  the record bytes, §3.3/§3.4 inclusion and consistency proofs (RFC 9162 §2.1.3.2, §2.1.4.2),
  §4 keys (C2SP vkeys of type 0x01 and 0x04), checkpoints (C2SP tlog-checkpoint signed notes,
  three body lines, no extension lines), cosignatures (C2SP tlog-cosignature, cosignature/v1)
  and trust (C2SP tlog-policy), §5 export, §6.1 proofs, §6.2 receipts (C2SP tlog-proof),
  §8 event vocabulary (every export line's `event` must be the decoding of its event bytes),
  §6.3 tiles (a static C2SP tlog-tiles tree, as `pbr export --tiles DIR` writes it).

Needs only Python 3.11, `hashlib`, `blake3` and `PyNaCl`:
  verify_export.py export FILE.jsonl TRUST [--trust-export-keys]
  verify_export.py inclusion PROOF.json TRUST [--export FILE.jsonl]
  verify_export.py consistency PROOF.json TRUST [--old-checkpoint NOTEFILE] [--export FILE.jsonl]
  verify_export.py receipt RECEIPT TRUST (--record-hex HEX | --leaf-hash HEX) [--export FILE.jsonl]
  verify_export.py tiles DIR TRUST [--raw-entries]
where TRUST is the trust input, taken out of band (from the contract the parties signed):
  --policy FILE             a C2SP tlog-policy file (`log`, `witness`, `group`, `quorum` lines), or
  --key VKEY ... [--quorum N]
                            the log key (type 0x01) and the witness keys (type 0x04), with the
                            number of distinct witness keys that must cosign (default: all given).
A checkpoint counts only if a log key of its origin signed it and the quorum of witnesses
cosigned it. The keys inside an export are a convenience, never trust (--trust-export-keys
uses them anyway, with a warning).
With --export, a proof or receipt is also checked with an export, which is verified as `export` does
under the same TRUST: the proof must be of a tree the export holds (same origin, tree size at most the
export's records, its roots those of the export's prefixes of those sizes, its leaf the export's record
at that seq; DESIGN §3: a proof larger than the export it is checked with fails).
`tiles` checks DIR/checkpoint against TRUST, every entry bundle up to its size (each entry a pbr
record whose signature verifies and whose event decodes; --raw-entries, for other logs' tiles, takes
the entries as opaque bytes), the Merkle root, every hash tile a client of that size needs, and every
other file under DIR/tile/ (a partial tile left from an earlier size must agree with the tree; a file
that is no C2SP tile path, or lies beyond the tree, is an error). Files beside DIR/tile/ are ignored.
Exit 0 with one summary line on stdout, or 1 with one `FILE:LINE: reason` (or `FILE: reason`) line
on stderr (a format-1 export is refused the same way); argparse exits 2 on a usage error.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import IO, Any, NoReturn

import nacl.exceptions
import nacl.signing
from blake3 import blake3

FORMAT = 2  # the export's last line says {"format": 2, ...}
MAX_RECORD = 65_535  # §1.1, §3: a record fits a tlog-tiles entry bundle
MAX_EVENT_LEN = MAX_RECORD - 106  # 65,429
MAX_LINE = 8 * 1024 * 1024  # bounds memory per export line
MAX_PROOF_FILE = 16 * 1024 * 1024
MAX_NOTE = 64 * 1024  # §4.2: a note is at most 64 KiB ...
MAX_SIG_LINES = 100  # ... with at most 100 signature lines
MAX_POLICY = 1024 * 1024
U64_MAX = 2**64 - 1
TIME_MAX = 2**63 - 1  # tlog-cosignature: a timestamp MUST NOT exceed 2^63 - 1
EVENT_PREFIX = b"pbr-event-v1\n"  # §1.2
COSIGNATURE_V1 = b"cosignature/v1\n"  # tlog-cosignature's header line
EMPTY_ROOT = hashlib.sha256(b"").digest()  # §3: e3b0c442...b855
ZERO32 = bytes(32)
SIG_PREFIX = "\u2014 "  # signed-note: EM DASH + space
LOG_KEY, WITNESS_KEY = 0x01, 0x04  # signed-note signature types (§4.1)
KEY_TYPES = {LOG_KEY: "Ed25519 (0x01)", WITNESS_KEY: "cosignature/v1 (0x04)"}
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

def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(record: bytes) -> bytes:
    """RFC 6962 leaf: SHA-256(0x00 || record bytes)."""
    return sha256(b"\x00" + record)


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node: SHA-256(0x01 || left || right)."""
    return sha256(b"\x01" + left + right)


def chain_hash(prev: bytes, record: bytes) -> bytes:
    """§3.1: chain_i = BLAKE3(0x02 || chain_(i-1) || record_bytes_i), over the record bytes."""
    return blake3(b"\x02" + prev + record).digest()


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


@functools.lru_cache(maxsize=1024)
def check_public_key(pk: bytes) -> str | None:
    """check_point for a public key, remembered: a log's records come from a few keys, and the
    small-order test is the slow part of verifying one (pure Python)."""
    return check_point(pk, "public key")


def strict_verify(pk: bytes, msg: bytes, sig: bytes) -> str | None:
    """§1.2 strict verification; returns None if valid, else the reason."""
    if len(pk) != 32 or len(sig) != 64:
        return "bad key or signature length"
    if int.from_bytes(sig[32:], "little") >= L:
        return "signature S is not canonical (S >= L)"
    reason = check_public_key(pk) or check_point(sig[:32], "signature point R")
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
        return (f"event length {n} exceeds the limit {MAX_EVENT_LEN} "
                f"(a record is at most {MAX_RECORD:,} bytes)")
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

def key_id(name: str, kind: int, pk: bytes) -> bytes:
    """signed-note: SHA-256(name || 0x0A || type || public key)[:4]."""
    return sha256(name.encode() + b"\n" + bytes([kind]) + pk)[:4]


def valid_name(name: str) -> bool:
    """§4.1: key names and origins are printable ASCII (0x21..0x7e) other than '+'."""
    return bool(name) and all("!" <= c <= "~" and c != "+" for c in name)


@dataclass(frozen=True)
class VKey:
    """A C2SP verifier key: `<name>+<8 hex key id>+<base64(type || 32-byte Ed25519 key)>`."""

    name: str
    kind: int  # LOG_KEY (0x01: note signatures, also event keys) or WITNESS_KEY (0x04: cosignature/v1)
    key_id: bytes
    pk: bytes

    @property
    def label(self) -> str:
        return f"{self.name}+{self.key_id.hex()}"

    @property
    def text(self) -> str:
        return f"{self.label}+{base64.b64encode(bytes([self.kind]) + self.pk).decode()}"


def parse_vkey(text: Any, kinds: tuple[int, ...] = (LOG_KEY, WITNESS_KEY)) -> VKey:
    """Parse a verifier key, split on its first two '+'; its key id must match name, type and key."""
    if not isinstance(text, str):
        fail(f"verifier key {short(text)} is not a string")
    parts = text.split("+", 2)
    if len(parts) != 3 or not valid_name(parts[0]):
        fail(f"malformed verifier key {short(text)}")
    name, kid_hex, b64 = parts
    if not re.fullmatch(r"[0-9a-f]{8}", kid_hex, re.ASCII):
        fail(f"verifier key {name!r}: key id is not 8 lowercase hex digits")
    raw = parse_b64(b64, f"verifier key {name!r}")
    if len(raw) != 33 or raw[0] not in KEY_TYPES:
        fail(f"verifier key {name!r}: expected type 0x01 or 0x04 followed by a 32-byte Ed25519 key")
    if raw[0] not in kinds:
        fail(f"verifier key {name!r} is of type {KEY_TYPES[raw[0]]}, expected "
             f"{' or '.join(KEY_TYPES[k] for k in kinds)}")
    if key_id(name, raw[0], raw[1:]).hex() != kid_hex:
        fail(f"verifier key {name!r}: key id does not match the key")
    return VKey(name, raw[0], bytes.fromhex(kid_hex), raw[1:])


# ------------------------------------------------------ §4.4 trust input

QUORUM_GROUP = "--quorum N"  # the group --quorum defines (a name no vkey can have: it has a space)


@dataclass
class Policy:
    """A C2SP tlog-policy: the trusted logs, the trusted witnesses and the quorum rule."""

    where: str  # "--key" or the policy file's name, for messages
    logs: list[VKey] = field(default_factory=list)
    witnesses: dict[str, VKey] = field(default_factory=dict)  # policy name -> witness key
    groups: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # name -> (k, members)
    quorum: str | None = None  # a witness or group name; None is `quorum none`

    def known(self) -> dict[tuple[str, bytes], VKey]:
        """The keys whose signature lines must verify, by (key name, key id)."""
        return {(k.name, k.key_id): k for k in [*self.logs, *self.witnesses.values()]}

    def keys(self) -> list[VKey]:
        return [*self.logs, *self.witnesses.values()]

    def witnessed(self, name: str, cosigned: set[str]) -> bool:
        if name in self.witnesses:
            return name in cosigned
        k, members = self.groups[name]
        return sum(self.witnessed(m, cosigned) for m in members) >= k

    def met(self, cosigned: set[str]) -> bool:
        return self.quorum is None or self.witnessed(self.quorum, cosigned)

    def rule(self, name: str | None = None) -> str:
        """The quorum rule in words, e.g. `all of (a, b)`, `2 of (x, y, z)`."""
        name = self.quorum if name is None else name
        if name is None:
            return "none"
        if name in self.witnesses:
            return name
        k, members = self.groups[name]
        count = "all" if k == len(members) > 1 else "any" if k == 1 < len(members) else str(k)
        return f"{count} of ({', '.join(self.rule(m) for m in members)})"


def add_key(policy: Policy, vk: VKey, what: str) -> None:
    """Rejects a public key given twice: one key serves one kind and one party only (DESIGN §3)."""
    for other in policy.keys():
        if other.pk == vk.pk:
            fail(f"{what}: the public key of {vk.label} is also that of {other.label}: "
                 "a key serves one use and one party only")


def parse_policy(data: bytes, where: str) -> Policy:
    """A C2SP tlog-policy file. Errors are VerifyError(reason, line) for `where`."""
    policy = Policy(where)
    names = {"none"}  # witnesses and groups share one namespace, with `none` predefined
    members_listed: set[str] = set()
    quorum_line = None
    for i, byte in enumerate(data):
        if byte < 0x20 and byte not in (0x09, 0x0A) or byte == 0x7F:
            raise VerifyError(f"byte 0x{byte:02x} is not allowed in a policy file",
                              data.count(b"\n", 0, i) + 1)
    text = data.decode("latin-1")  # octets with the high bit set are opaque (tlog-policy)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for no, line in enumerate(lines, 1):
        items = [x for x in re.split(r"[ \t]+", line) if x]
        if not items or items[0].startswith("#"):
            continue
        keyword, args = items[0], items[1:]
        try:
            if keyword == "log":
                if len(args) not in (1, 2):
                    fail("a log line is `log <vkey> [<url>]`")
                vk = parse_vkey(args[0], (LOG_KEY,))
                add_key(policy, vk, "log")
                policy.logs.append(vk)
            elif keyword == "witness":
                if len(args) not in (2, 3):
                    fail("a witness line is `witness <name> <vkey> [<url>]`")
                if args[0] in names:
                    fail(f"the name {args[0]!r} is already defined")
                vk = parse_vkey(args[1], (WITNESS_KEY,))
                add_key(policy, vk, f"witness {args[0]!r}")
                policy.witnesses[args[0]] = vk
                names.add(args[0])
            elif keyword == "group":
                if len(args) < 3:
                    fail("a group line is `group <name> all|any|<k> <name>...`")
                name, k_text, members = args[0], args[1], args[2:]
                if name in names:
                    fail(f"the name {name!r} is already defined")
                for m in members:
                    if m == "none":
                        fail("`none` cannot be a group member")
                    if m not in names:
                        fail(f"group {name!r}: {m!r} is not defined on an earlier line")
                    if m in members_listed:
                        fail(f"group {name!r}: {m!r} is already listed as a group member "
                             "(a name is listed as a member at most once)")
                    members_listed.add(m)
                n = len(members)
                if k_text == "all":
                    k = n
                elif k_text == "any":
                    k = 1
                elif re.fullmatch(r"[1-9][0-9]{0,8}", k_text, re.ASCII) and int(k_text) <= n:
                    k = int(k_text)
                else:
                    fail(f"group {name!r}: threshold {k_text!r} is not all, any or a number in 1..{n}")
                policy.groups[name] = (k, members)
                names.add(name)
            elif keyword == "quorum":
                if quorum_line is not None:
                    fail(f"a second quorum line (the first is line {quorum_line})")
                if len(args) != 1:
                    fail("a quorum line is `quorum <name>` or `quorum none`")
                if args[0] not in names:
                    fail(f"quorum {args[0]!r} is not defined on an earlier line")
                policy.quorum = None if args[0] == "none" else args[0]
                quorum_line = no
            else:
                fail(f"unknown line type {short(keyword)} (log, witness, group, quorum)")
        except VerifyError as e:
            e.line = no
            raise
    if quorum_line is None:
        fail("the policy has no quorum line (`quorum none` requires no cosignature)")
    if not policy.logs:
        fail("the policy names no log (a `log <vkey>` line with the log key of the ledger's origin)")
    return policy


def policy_from_keys(texts: list[str], quorum: int | None, where: str = "--key") -> Policy:
    """The trust input given as keys: log keys (0x01), witness keys (0x04) and a number."""
    policy = Policy(where)
    for text in dict.fromkeys(texts):  # the same key given twice counts once
        try:
            vk = parse_vkey(text)
        except VerifyError as e:
            fail(f"{where}: {e.reason}")
        add_key(policy, vk, where)
        if vk.kind == LOG_KEY:
            policy.logs.append(vk)
        elif vk.name in policy.witnesses:
            fail(f"{where}: two witness keys are named {vk.name!r}")
        else:
            policy.witnesses[vk.name] = vk
    if not policy.logs:
        fail(f"{where}: no log key (type 0x01, named after the log's origin) among the keys")
    n = len(policy.witnesses)
    k = n if quorum is None else quorum
    if not 0 <= k <= n:
        fail(f"--quorum {k}: there are {n} witness keys")
    if k:
        policy.groups[QUORUM_GROUP] = (k, sorted(policy.witnesses))
        policy.quorum = QUORUM_GROUP
    return policy


def read_policy(path: str) -> Policy:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_POLICY + 1)
    except OSError as e:
        raise VerifyError(f"cannot read the policy: {e.strerror or e}", file=path) from None
    if len(data) > MAX_POLICY:
        raise VerifyError("policy file too large", file=path)
    try:
        return parse_policy(data, path)
    except VerifyError as e:
        e.file = path
        raise


# ------------------------------------------------------ §4.2 checkpoints

@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes
    body: bytes  # the three lines, each with its \n
    sig_lines: list[str]


def split_note(text: Any, what: str = "checkpoint") -> tuple[bytes, list[str]]:
    """A C2SP signed note: (body bytes, signature lines). The body ends at the first blank line."""
    if not isinstance(text, str):
        fail(f"{what} is not a string")
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{what} is not valid UTF-8")
    if len(raw) > MAX_NOTE:
        fail(f"{what} is larger than {MAX_NOTE} bytes")
    control = next((c for c in text if c < " " and c != "\n"), None)
    if control is not None:
        fail(f"{what} contains the control character U+{ord(control):04X}")
    if not text.endswith("\n") or "\n\n" not in text:
        fail(f"{what}: not a signed note (needs a body, a blank line, signature lines)")
    split = text.index("\n\n")
    body, block = text[:split + 1], text[split + 2:]
    sig_lines = block.split("\n")[:-1]
    if not sig_lines:
        fail(f"{what}: no signature lines")
    if "" in sig_lines:
        fail(f"{what}: an empty line among the signature lines")
    if len(sig_lines) > MAX_SIG_LINES:
        fail(f"{what}: more than {MAX_SIG_LINES} signature lines")
    return body.encode("utf-8"), sig_lines


def parse_checkpoint(text: Any, what: str = "checkpoint") -> Checkpoint:
    """§4.2: a tlog-checkpoint with exactly three body lines: origin, tree size, base64 root."""
    body, sig_lines = split_note(text, what)
    lines = body.decode("utf-8").split("\n")[:-1]
    if len(lines) > 3:
        fail(f"{what} has {len(lines) - 3} extension line(s) after the root: "
             "a pbr checkpoint has exactly three body lines")
    if len(lines) < 3:
        fail(f"{what}: body has {len(lines)} lines, expected 3 (origin, tree size, root)")
    origin, size, root = lines
    if not valid_name(origin):
        fail(f"{what}: bad origin {short(origin)}")
    if not DECIMAL.fullmatch(size) or int(size) > U64_MAX:
        fail(f"{what}: bad tree size {short(size)}")
    raw = parse_b64(root, f"{what} root")
    if len(raw) != 32:
        fail(f"{what}: root is {len(raw)} bytes, expected 32")
    return Checkpoint(origin, int(size), raw, body, sig_lines)


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """tlog-cosignature: what a cosignature/v1 signs."""
    return COSIGNATURE_V1 + b"time %d\n" % timestamp + body


def verify_note_lines(body: bytes, sig_lines: list[str], known: dict[tuple[str, bytes], VKey],
                      what: str = "checkpoint") -> dict[str, tuple[VKey, int | None]]:
    """Checks every signature line of a known key; returns {key label: (key, timestamp or None)}.

    A line that is not `— <name> <base64 of at least 4 bytes>`, or whose (name, key id) is no
    known key, is ignored (signed-note). A known key's line must hold exactly the bytes of its
    type and verify strictly; otherwise the whole note is invalid.
    """
    good: dict[str, tuple[VKey, int | None]] = {}
    for line in sig_lines:
        if not line.startswith(SIG_PREFIX):
            continue
        parts = line[len(SIG_PREFIX):].split(" ")
        if len(parts) != 2 or not parts[0]:
            continue
        name, b64 = parts
        try:
            raw = parse_b64(b64, "signature")
        except VerifyError:
            continue
        vk = known.get((name, raw[:4])) if len(raw) >= 4 else None
        if vk is None:
            continue
        timestamp = None
        if vk.kind == LOG_KEY:
            if len(raw) != 4 + 64:
                fail(f"{what}: the line of {vk.label} holds {len(raw) - 4} bytes after the key id, "
                     "expected a 64-byte signature")
            message, sig = body, raw[4:]
        else:
            if len(raw) != 4 + 8 + 64:
                fail(f"{what}: the cosignature of {vk.label} holds {len(raw) - 4} bytes after the key id, "
                     "expected a timestamp and a signature (72)")
            timestamp = int.from_bytes(raw[4:12], "big")
            if not 1 <= timestamp <= TIME_MAX:
                fail(f"{what}: the cosignature of {vk.label} has timestamp {timestamp}, not in 1..2^63-1")
            message, sig = cosigned_message(body, timestamp), raw[12:]
        reason = strict_verify(vk.pk, message, sig)
        if reason:
            fail(f"{what}: the {'signature' if vk.kind == LOG_KEY else 'cosignature'} of {vk.label}: {reason}")
        good.setdefault(vk.label, (vk, timestamp))
    return good


@dataclass
class Signed:
    """Who signed a checkpoint, of the keys a policy trusts."""

    log: VKey
    cosigners: dict[str, tuple[VKey, int]]  # policy witness name -> (key, timestamp)
    quorum_met: bool

    def summary(self, policy: Policy) -> str:
        names = ", ".join(sorted(self.cosigners)) or "no trusted witness"
        quorum = ("no quorum required" if policy.quorum is None
                  else f"quorum {policy.rule()} {'met' if self.quorum_met else 'NOT met'}")
        return f"signed by log key {self.log.label}, cosigned by {names} ({quorum})"


def check_checkpoint(cp: Checkpoint, policy: Policy, what: str = "checkpoint",
                     need_quorum: bool = True) -> Signed:
    """§4.4: a log key of the checkpoint's origin signed it, every known line verifies, and
    (unless need_quorum is False) the policy's quorum of witnesses cosigned it."""
    logs = [k for k in policy.logs if k.name == cp.origin]
    if not logs:
        fail(f"{what}: origin {cp.origin!r} is not a log of your trust input "
             f"(which names {', '.join(sorted({k.name for k in policy.logs}))})")
    good = verify_note_lines(cp.body, cp.sig_lines, policy.known(), what)
    signed = [k for k in logs if k.label in good]
    if not signed:
        fail(f"{what}: no signature by the log key of {cp.origin!r} "
             f"({', '.join(k.label for k in logs)}) that you trust")
    cosigners = {name: (vk, good[vk.label][1] or 0) for name, vk in policy.witnesses.items() if vk.label in good}
    met = policy.met(set(cosigners))
    if need_quorum and not met:
        fail(f"{what} does not meet the quorum {policy.rule()}: cosigned by "
             f"{', '.join(sorted(cosigners)) or 'no witness you trust'}")
    return Signed(signed[0], cosigners, met)


# ------------------------------------------------------------ §5 export

def check_event_line(obj: Any, seq: int, prev_chain: bytes) -> tuple[bytes, bytes, bytes, str]:
    """§5 step 1 for one event line; returns (leaf, chain, public key, author)."""
    obj = require_keys(obj, {"seq", "record_hex", "leaf_hash", "chain_hash", "event"}, "event line")
    if type(obj["seq"]) is not int or obj["seq"] != seq:
        fail(f"seq {short(obj['seq'])}, expected {seq}")
    record = parse_hex(obj["record_hex"], f"seq {seq}: record_hex")
    if len(record) > MAX_RECORD:
        fail(f"seq {seq}: record is {len(record)} bytes, more than {MAX_RECORD:,}")
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
    chain = chain_hash(prev_chain, record)
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
    return leaf, chain, pk, decoded["author"]


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


def last_line(path: str) -> tuple[int, Any] | None:
    """(line number, parsed JSON) of a file's last line, or None when it cannot be had cheaply;
    lets a format-1 export be named as such before its hashes fail."""
    try:
        with open(path, "rb") as f:
            if not f.seekable():
                return None
            end = f.seek(0, os.SEEK_END)
            start = max(0, end - MAX_LINE - 2)
            f.seek(start)
            tail = f.read()
            if not tail.endswith(b"\n"):
                return None
            cut = tail.rfind(b"\n", 0, len(tail) - 1)
            if cut < 0 and start > 0:
                return None
            f.seek(0)
            count = 0
            while chunk := f.read(1 << 20):
                count += chunk.count(b"\n")
        return count, json.loads(tail[cut + 1:-1])
    except (OSError, ValueError, RecursionError):
        return None


def check_format(obj: dict[str, Any]) -> None:
    """§5: the last line says `"format": 2`; a format-1 export has no `format` field."""
    if "format" not in obj:
        fail("this is a format-1 export (its last line has no \"format\"): this verifier checks "
             "format 2; migrate the ledger (`pbr migrate`) and export it again, or check it as "
             "docs/format.md Appendix A says")
    if type(obj["format"]) is not int or obj["format"] != FORMAT:
        fail(f"export format {short(obj['format'])}: this verifier checks format {FORMAT}")


@dataclass
class Trust:
    """The trust input as given on the command line."""

    policy_file: str | None
    keys: list[str]
    quorum: int | None

    def policy(self, extra_keys: list[str] | None = None) -> Policy:
        if self.policy_file is not None:
            return read_policy(self.policy_file)
        return policy_from_keys([*self.keys, *(extra_keys or [])], self.quorum,
                                "--key and the export's verifier_keys" if extra_keys else "--key")


def check_key_uses(policy: Policy, signers: dict[bytes, tuple[str, int]]) -> None:
    """DESIGN §3: no public key serves two kinds (event, witness, log) nor two parties."""
    for vk in policy.keys():
        if vk.pk in signers:
            author, seq = signers[vk.pk]
            fail(f"seq {seq}: signed with the public key of {vk.label}, which your trust input names "
                 f"as a {'log' if vk.kind == LOG_KEY else 'witness'} key: a key serves one use only")


@dataclass
class Prefixes:
    """What a proof checked with an export (§6.1) needs from it, kept while the export is read once:
    the Merkle root of its first n records for each n in `sizes`, and the leaf hash of each seq in
    `seqs`. Memory stays bounded: a few hashes, besides the §3.2 stack."""

    sizes: set[int]
    seqs: set[int]
    roots: dict[int, bytes] = field(default_factory=dict)  # n -> root of records 0 .. n-1
    leaves: dict[int, bytes] = field(default_factory=dict)  # seq -> leaf hash
    records: int = 0  # how many records the export holds (its checkpoint's size), once verified
    origin: str = ""  # its checkpoint's origin, once verified

    def add(self, seq: int, leaf: bytes, stack: list[bytes]) -> None:
        """Called after leaf `seq` is pushed: the stack then holds the tree of the first seq + 1 records."""
        if seq in self.seqs:
            self.leaves[seq] = leaf
        if seq + 1 in self.sizes:
            self.roots[seq + 1] = stack_root(stack)


def cmd_export(path: str, trust: Trust, trust_export: bool, want: Prefixes | None = None) -> str:
    policy = None if trust_export else trust.policy()
    tail_line = last_line(path)
    if tail_line is not None and isinstance(tail_line[1], dict) and "checkpoint" in tail_line[1]:
        try:
            check_format(tail_line[1])
        except VerifyError as e:
            e.line = tail_line[0]
            raise
    stack: list[bytes] = []
    chain, count, tail = ZERO32, 0, None
    signers: dict[bytes, tuple[str, int]] = {}  # event public key -> (its author, first seq)
    with open(path, "rb") as f:
        for lineno, text in read_lines(f):
            try:
                if tail is not None:
                    fail("data after the checkpoint line")
                obj = loads_strict(text)
                if isinstance(obj, dict) and "checkpoint" in obj:
                    tail = (lineno, obj)
                    continue
                leaf, chain, pk, author = check_event_line(obj, count, chain)
                first = signers.setdefault(pk, (author, count))
                if first[0] != author:
                    fail(f"seq {count}: signed by {author!r} with the key that signed {first[0]!r}'s record "
                         f"at seq {first[1]}: a key serves one party only")
                stack_push(stack, count, leaf)
                if want is not None:
                    want.add(count, leaf, stack)
                count += 1
            except VerifyError as e:
                e.line = e.line or lineno
                raise
    if tail is None:
        fail("no checkpoint line at the end of the export")
    lineno, obj = tail
    try:
        check_format(obj)
        obj = require_keys(obj, {"format", "checkpoint", "verifier_keys"}, "checkpoint line")
        vkeys = obj["verifier_keys"]
        if not isinstance(vkeys, list) or not all(isinstance(k, str) for k in vkeys):
            fail("verifier_keys is not a list of strings")
        for k in vkeys:
            try:
                parse_vkey(k)
            except VerifyError as e:
                fail(f"verifier_keys: {e.reason}")
        if trust_export:
            print("warning: trusting the export's own verifier_keys; "
                  "they are not a trust anchor (format.md §4.4)", file=sys.stderr)
            policy = trust.policy(vkeys)
        assert policy is not None
        cp = parse_checkpoint(obj["checkpoint"])
        root = stack_root(stack)
        if cp.size != count:
            fail(f"checkpoint size {cp.size} but the export has {count} records")
        if cp.root != root:
            fail("checkpoint root does not match the recomputed Merkle root")
        signed = check_checkpoint(cp, policy)
        check_key_uses(policy, signers)
    except VerifyError as e:
        e.line = e.line or lineno
        raise
    if want is not None:
        want.records, want.origin = count, cp.origin
        if 0 in want.sizes:
            want.roots[0] = EMPTY_ROOT
    return (f"ok: {count} records, origin {cp.origin}, root {root.hex()}, chain head {chain.hex()}, "
            f"checkpoint {signed.summary(policy)}")


# ------------------------------------------------------------ §6 proofs

def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2 (every hash 32 bytes)."""
    if index >= size or len(leaf) != 32 or any(len(p) != 32 for p in path):
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
    """RFC 9162 §2.1.4.2 for 0 < first < second, plus format.md §3.4's two empty-path cases:
    first == second (equal roots) and first == 0 (first_root = SHA-256(""))."""
    if first > second or any(len(p) != 32 for p in path):
        return False
    if first == 0 or first == second:  # an empty path; for 0 -> 0 both rules hold
        if path or (first == second and first_root != second_root):
            return False
        return first != 0 or first_root == EMPTY_ROOT
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


def embedded_checkpoint(text: Any, size: int, root: bytes, policy: Policy) -> tuple[Checkpoint, Signed]:
    cp = parse_checkpoint(text, "embedded checkpoint")
    if cp.size != size:
        fail(f"embedded checkpoint has size {cp.size}, expected {size}")
    if cp.root != root:
        fail("embedded checkpoint root does not match the proof's root")
    return cp, check_checkpoint(cp, policy, "embedded checkpoint")


def against_export(export: str, trust: Trust, origin: str, roots: list[tuple[str, int, bytes]],
                   leaf: tuple[int, bytes] | None = None) -> str:
    """§6.1, DESIGN §3: a proof checked with an export must be of a tree the export holds.

    The export is verified as `export` does, under the same trust input, reading it once and keeping
    the roots of the prefixes the proof names. Then: the proof's checkpoint is of the export's origin;
    its tree size is at most the export's number of records; the leaf it proves (leaf index, leaf
    hash) is the export's record at that seq; and each root it states, given as (field name, size,
    root), is the Merkle root of the export's first `size` records. Returns what was checked, for the
    summary line; fails with the first difference.
    """
    size = max(n for _, n, _ in roots)
    want = Prefixes({n for _, n, _ in roots}, set() if leaf is None else {leaf[0]})
    try:
        cmd_export(export, trust, False, want)
    except VerifyError as e:
        e.file = e.file or export
        raise
    except OSError as e:
        raise VerifyError(f"cannot read: {e.strerror or e}", file=export) from None
    if origin != want.origin:
        fail(f"the proof is of the log {origin!r}, the export of {want.origin!r}")
    if size > want.records:
        fail(f"the proof is of a tree of size {size}, larger than the export's {want.records} records")
    held = [f"the proof's tree of size {size} is a prefix of it"]
    if leaf is not None:
        index, hash_ = leaf
        if want.leaves[index] != hash_:
            fail(f"the proof's leaf {index} ({hash_.hex()}) is not the leaf of the export's record at "
                 f"seq {index} ({want.leaves[index].hex()})")
        held.append(f"leaf {index} is its record at seq {index}")
    for name, n, root in roots:
        if want.roots[n] != root:
            fail(f"the proof's {name} for size {n} is not the root of the export's first {n} records")
        held.append(f"{name} is the root of its first {n} records")
    return f"; with the export {export} (verified, {want.records} records): {', '.join(held)}"


def cmd_inclusion(path: str, trust: Trust, export: str | None = None) -> str:
    policy = trust.policy()
    p = load_proof(path, {"leaf_index", "tree_size", "leaf_hash", "path", "root", "checkpoint"})
    index, size = parse_uint(p["leaf_index"], "leaf_index"), parse_uint(p["tree_size"], "tree_size")
    leaf, root = parse_hex(p["leaf_hash"], "leaf_hash", 32), parse_hex(p["root"], "root", 32)
    if not verify_inclusion(index, size, leaf, p["path"], root):
        fail(f"inclusion proof for leaf {index} in tree of size {size} does not verify")
    cp, signed = embedded_checkpoint(p["checkpoint"], size, root, policy)
    held = "" if export is None else against_export(export, trust, cp.origin, [("root", size, root)], (index, leaf))
    return (f"ok: leaf {index} ({leaf.hex()}) is in the tree of size {size}, root {root.hex()}, "
            f"checkpoint {signed.summary(policy)}{held}")


def cmd_consistency(path: str, trust: Trust, old: str | None, export: str | None = None) -> str:
    policy = trust.policy()
    p = load_proof(path, {"first", "second", "first_root", "second_root", "path", "checkpoint"})
    first, second = parse_uint(p["first"], "first"), parse_uint(p["second"], "second")
    r1, r2 = parse_hex(p["first_root"], "first_root", 32), parse_hex(p["second_root"], "second_root", 32)
    if not verify_consistency(first, second, r1, r2, p["path"]):
        fail(f"consistency proof from size {first} to {second} does not verify")
    cp, signed = embedded_checkpoint(p["checkpoint"], second, r2, policy)
    kept = ""
    if old is not None:
        try:
            with open(old, "rb") as f:
                data = f.read(MAX_NOTE + 1)
            old_cp = parse_checkpoint(data.decode("utf-8"), "old checkpoint")
            # The kept note needs the log key's signature; its cosignatures are checked when their
            # keys are trusted, but no quorum is required of it (it may predate the witnesses).
            old_signed = check_checkpoint(old_cp, policy, "old checkpoint", need_quorum=False)
        except OSError as e:
            raise VerifyError(f"cannot read: {e.strerror or e}", file=old) from None
        except UnicodeDecodeError:
            raise VerifyError("old checkpoint is not valid UTF-8", file=old) from None
        except VerifyError as e:
            raise VerifyError(e.reason, file=old) from None
        if old_cp.origin != cp.origin:
            fail(f"old checkpoint is for origin {old_cp.origin!r}, not {cp.origin!r}")
        if old_cp.size != first or old_cp.root != r1:
            fail(f"old checkpoint (size {old_cp.size}) does not match first={first} / first_root")
        kept = f"; the old checkpoint of size {first} is signed by {old_signed.log.label} and is its prefix"
    held = "" if export is None else against_export(
        export, trust, cp.origin, [("first_root", first, r1), ("root", second, r2)])
    return (f"ok: tree of size {first} is a prefix of tree of size {second}, root {r2.hex()}, "
            f"checkpoint {signed.summary(policy)}{kept}{held}")


RECEIPT_HEADER = "c2sp.org/tlog-proof@v1"


def parse_receipt(text: str) -> tuple[int, list[bytes], Checkpoint]:
    """§6.2: a C2SP tlog-proof@v1 text: the header, an optional `extra` line (ignored), `index N`,
    the inclusion path (one base64 SHA-256 hash a line), a blank line, the checkpoint."""
    if "\n\n" not in text:
        fail("receipt: no blank line before the checkpoint")
    head, note = text.split("\n\n", 1)
    lines = head.split("\n")
    if lines[0] != RECEIPT_HEADER:
        fail(f"receipt: the first line is {short(lines[0])}, not {RECEIPT_HEADER!r}")
    rest = lines[1:]
    if rest and rest[0].startswith("extra "):
        rest = rest[1:]  # opaque and unauthenticated (tlog-proof); pbr writes none
    if not rest or not rest[0].startswith("index ") or not DECIMAL.fullmatch(rest[0][6:]) \
            or int(rest[0][6:]) > U64_MAX:
        fail("receipt: no `index N` line (decimal, no leading zeros) after the header")
    path = []
    for i, line in enumerate(rest[1:]):
        raw = parse_b64(line, f"receipt: path line {i + 1}")
        if len(raw) != 32:
            fail(f"receipt: path line {i + 1} is {len(raw)} bytes, expected 32")
        path.append(raw)
    return int(rest[0][6:]), path, parse_checkpoint(note, "receipt checkpoint")


def cmd_receipt(path: str, trust: Trust, record_hex: str | None, leaf_hex: str | None,
                export: str | None = None) -> str:
    policy = trust.policy()
    with open(path, "rb") as f:
        data = f.read(MAX_PROOF_FILE + 1)
    if len(data) > MAX_PROOF_FILE:
        fail("receipt file too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail("receipt is not valid UTF-8")
    index, proof, cp = parse_receipt(text)
    what = ""
    if record_hex is not None:  # the leaf hash, computed from the record (tlog-proof step 1)
        record = parse_hex(record_hex, "--record-hex")
        parsed = parse_record(record)
        if isinstance(parsed, str):
            fail(f"--record-hex: {parsed}")
        event_bytes, pk, sig = parsed
        reason = strict_verify(pk, EVENT_PREFIX + event_bytes, sig)
        if reason:
            fail(f"--record-hex: event signature: {reason}")
        try:
            what = f", a {decode_event(event_bytes)['kind']} event"
        except VerifyError as e:
            fail(f"--record-hex: event_bytes does not decode (format.md §8): {e.reason}")
        leaf = leaf_hash(record)
    else:
        assert leaf_hex is not None
        leaf = parse_hex(leaf_hex, "--leaf-hash", 32)
    if not verify_inclusion(index, cp.size, leaf, proof, cp.root):
        fail(f"the receipt's inclusion proof for leaf {index} in the tree of size {cp.size} does not verify "
             "for this leaf")
    signed = check_checkpoint(cp, policy, "receipt checkpoint")
    held = "" if export is None else against_export(export, trust, cp.origin, [("root", cp.size, cp.root)],
                                                    (index, leaf))
    return (f"ok: leaf {index} ({leaf.hex()}{what}) is in the tree of size {cp.size} of {cp.origin}, "
            f"root {cp.root.hex()}, checkpoint {signed.summary(policy)}{held}")


# ------------------------------------------------------------ §6.3 tiles

TILE_WIDTH = 256  # tlog-tiles: a full tile holds 256 hashes (8,192 bytes), a full bundle 256 entries
TILE_PATH = re.compile(r"(entries|0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?", re.ASCII)
TILE_PATH_HELP = "tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>], with N written as x001/x234/067"


def index_path(n: int) -> str:
    """tlog-tiles: N in zero-padded three-digit elements, all but the last with an `x`
    (1234067 -> x001/x234/067); the one canonical spelling, with no leading `x000`."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        parts.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(parts))


@dataclass(frozen=True)
class Tile:
    """A tile of a tlog-tiles tree: an entry bundle (level None) or a hash tile of level L, which
    holds the tree's level-8·L nodes 256·N .. 256·N + W - 1 (W = 256: a full tile)."""

    level: int | None
    index: int
    width: int

    @property
    def path(self) -> str:
        """Its path in the tree's directory, e.g. `tile/0/x001/234.p/7`, `tile/entries/000`."""
        kind = "entries" if self.level is None else str(self.level)
        part = "" if self.width == TILE_WIDTH else f".p/{self.width}"
        return f"tile/{kind}/{index_path(self.index)}{part}"

    @property
    def what(self) -> str:
        shape = "full" if self.width == TILE_WIDTH else f"partial (width {self.width})"
        return f"{shape} {'entry bundle' if self.level is None else 'hash tile'}"


def parse_tile_path(rel: str) -> Tile | None:
    """The tile a path under `tile/` names (`0/x001/234.p/7`, `entries/000`), or None when it is
    no C2SP tile path: L in 0..63 without leading zeros, N canonical, W in 1..255 without leading zeros."""
    m = TILE_PATH.fullmatch(rel)
    if m is None:
        return None
    kind, n_text, w_text = m.groups()
    level = None if kind == "entries" else int(kind)
    if level is not None and level > 63:
        return None
    n = int(n_text.replace("x", "").replace("/", ""))
    width = TILE_WIDTH if w_text is None else int(w_text)
    if index_path(n) != n_text or w_text is not None and width >= TILE_WIDTH:
        return None
    return Tile(level, n, width)


def level_count(size: int, level: int | None) -> int:
    """How many nodes a tree of `size` entries has at tile level L (tree level 8·L): floor(size / 256^L);
    the entries are level 0's."""
    return size >> (8 * (level or 0))


def tiles_needed(size: int) -> Iterator[Tile]:
    """The tiles a client of a tree of `size` needs (tlog-tiles): the entry bundles, then for each
    level 0, 1, ... the full tiles and the rightmost partial tile of floor(size / 256^L) mod 256
    hashes (none when that is 0), while the level has a node."""
    for level in (None, *range(64)):
        count = level_count(size, level)
        if not count and level is not None:
            return
        for n in range(count // TILE_WIDTH):
            yield Tile(level, n, TILE_WIDTH)
        if count % TILE_WIDTH:
            yield Tile(level, count // TILE_WIDTH, count % TILE_WIDTH)


def covering_tile(tile: Tile, size: int) -> Tile:
    """The tile a client of `size` needs for the positions `tile` covers (the full tile of its index,
    or the level's rightmost partial tile): a tile within the tree is that tile or a prefix of it."""
    count = level_count(size, tile.level)
    if tile.index < count // TILE_WIDTH:
        return Tile(tile.level, tile.index, TILE_WIDTH)
    return Tile(tile.level, tile.index, count % TILE_WIDTH)


class TileTree:
    """Checks a static tlog-tiles tree (§6.3) in a directory against a checkpoint of `size`.

    Streams: it holds the Merkle frontier (a stack of at most 64 hashes), one entry, per level an
    open hash-tile file it reads 32 bytes at a time, the listings of the directories it is in, and
    (for an earlier partial tile) at most two tiles' bytes; never a whole bundle or list of tiles."""

    def __init__(self, root: str, size: int) -> None:
        self.root, self.size = root, size

    def fail_at(self, rel: str, reason: str) -> NoReturn:
        raise VerifyError(reason, file=os.path.join(self.root, rel))

    def open(self, rel: str, buffering: int = -1) -> IO[bytes]:
        try:
            return open(os.path.join(self.root, rel), "rb", buffering=buffering)
        except OSError as e:
            self.fail_at(rel, f"cannot read: {e.strerror or e}")

    def files(self, rel: str = "tile") -> Iterator[str]:
        """The regular files under tile/, as paths relative to the tree, in name order (one
        directory's listing at a time); anything else (a symbolic link, a device) is an error."""
        if rel == "tile":
            top = os.path.join(self.root, rel)
            if not os.path.lexists(top):
                return
            if os.path.islink(top):
                self.fail_at(rel, "a symbolic link: a tile tree holds regular files only")
            if not os.path.isdir(top):
                self.fail_at(rel, "not a directory")
        try:
            with os.scandir(os.path.join(self.root, rel)) as it:
                items = sorted((e.name, e.is_symlink(), e.is_dir(follow_symlinks=False),
                                e.is_file(follow_symlinks=False)) for e in it)
        except OSError as e:
            self.fail_at(rel, f"cannot list: {e.strerror or e}")
        for name, link, is_dir, is_file in items:
            sub = f"{rel}/{name}"
            if link:
                self.fail_at(sub, "a symbolic link: a tile tree holds regular files only")
            if is_dir:
                yield from self.files(sub)
            elif is_file:
                yield sub
            else:
                self.fail_at(sub, "not a regular file: a tile tree holds regular files only")

    def tile_of(self, rel: str) -> Tile:
        """The tile a file under tile/ is; an error for a path that is no C2SP tile path, a tile
        beyond the tree, or a hash tile whose length is not 32 bytes a hash."""
        tile = parse_tile_path(rel[len("tile/"):])
        if tile is None:
            self.fail_at(rel, f"not a valid C2SP tile path ({TILE_PATH_HELP})")
        count = level_count(self.size, tile.level)
        first, end = tile.index * TILE_WIDTH, tile.index * TILE_WIDTH + tile.width
        if end > count:
            what = ("entries" if tile.level is None else f"the tree's level-{8 * tile.level} nodes")
            self.fail_at(rel, f"beyond the checkpoint's tree: this {tile.what} covers {what} "
                              f"{first}..{end - 1}, and the tree of size {self.size} has {count}")
        if tile.level is not None:
            length = os.stat(os.path.join(self.root, rel)).st_size
            if length != 32 * tile.width:
                self.fail_at(rel, f"{length} bytes: a {tile.what} is {32 * tile.width} bytes "
                                  f"({tile.width} hashes of 32 bytes)")
        return tile

    def entries(self, tile: Tile) -> Iterator[bytes]:
        """The entries of a bundle, streamed: `u16 BE length ‖ bytes` each, exactly `width` of
        them (256 in a full bundle), nothing after them."""
        with self.open(tile.path) as f:
            for k in range(tile.width):
                head = f.read(2)
                if len(head) < 2:
                    self.fail_at(tile.path, f"truncated: the bundle ends after {k} entries"
                                            f"{' and 1 byte' if head else ''}, a {tile.what} holds {tile.width}")
                n = int.from_bytes(head, "big")
                data = f.read(n)
                if len(data) < n:
                    self.fail_at(tile.path, f"truncated: entry {k} (index {tile.index * TILE_WIDTH + k}) "
                                            f"has the length {n}, and {len(data)} bytes follow")
                yield data
            rest = len(f.read(1 << 16))
            if rest:
                self.fail_at(tile.path, f"{rest}{'+' if rest == 1 << 16 else ''} trailing "
                                        f"byte{'' if rest == 1 else 's'} after the {tile.width} entries "
                                        f"of this {tile.what}")


def cmd_tiles(root: str, trust: Trust, raw: bool) -> str:
    """§6.3: a static C2SP tlog-tiles tree, as `pbr export --tiles DIR` writes it.

    1. `checkpoint` is a checkpoint (§4.2) that counts under the trust input (§4.4);
    2. every file under tile/ is a C2SP tile path within the checkpoint's tree (hash tiles 32
       bytes a hash), and every tile a client of that size needs is there;
    3. the entry bundles up to the size, streamed in order, parse (u16 BE length ‖ entry, 256 in a
       full bundle, W in `.p/W`, no trailing bytes); each entry is a pbr record (§1.1) whose
       signature verifies (§1.2) and whose event decodes (§8), unless `raw` (another log's tiles);
    4. the Merkle root of the entries is the checkpoint's root, and every needed hash tile holds
       the hashes recomputed from the entries;
    5. every other tile (a partial tile left from an earlier size) is a prefix of the needed tile
       that covers its positions, that is, it agrees with the tree.
    When the root differs, the first entry whose leaf hash differs from its level-0 tile is named
    (the bundle, not the tile, is then wrong: the signed checkpoint decides)."""
    policy = trust.policy()
    tree = TileTree(root, 0)
    with tree.open("checkpoint") as f:
        data = f.read(MAX_NOTE + 1)
    try:
        if len(data) > MAX_NOTE:
            fail(f"checkpoint is larger than {MAX_NOTE} bytes")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            fail("checkpoint is not valid UTF-8")
        cp = parse_checkpoint(text)
        signed = check_checkpoint(cp, policy)
    except VerifyError as e:
        e.file = os.path.join(root, "checkpoint")
        raise
    tree.size = size = cp.size

    # 2. the files: names, extent and lengths first (no content is read)
    for rel in tree.files():
        tree.tile_of(rel)
    bundles = hash_tiles = 0
    for tile in tiles_needed(size):
        if not os.path.isfile(os.path.join(root, tile.path)):
            tree.fail_at(tile.path, f"missing: a client of the tree of size {size} needs this {tile.what}")
        if tile.level is None:
            bundles += 1
        else:
            hash_tiles += 1

    # 3, 4. stream the entries; compare each level-8·L node, as it completes, with its tile
    readers: dict[int, tuple[int, IO[bytes], str]] = {}  # level -> (tile index, open file, its path)
    mismatch: tuple[str, int, int, int] | None = None  # the first (tile path, position, level, node) that differs
    leaf_mismatch: tuple[int, str] | None = None  # the first entry whose leaf hash its level-0 tile lacks

    def compare(level: int, j: int, h: bytes) -> None:
        nonlocal mismatch, leaf_mismatch
        n, k = divmod(j, TILE_WIDTH)
        cur = readers.get(level)
        if cur is None or cur[0] != n:
            if cur is not None:
                cur[1].close()
            path = covering_tile(Tile(level, n, 1), size).path
            cur = readers[level] = (n, tree.open(path, buffering=0), path)
        if cur[1].read(32) != h:
            if mismatch is None:
                mismatch = (cur[2], k, level, j)
            if level == 0 and leaf_mismatch is None:
                leaf_mismatch = (j, cur[2])

    policy_keys = {vk.pk: vk for vk in policy.keys()}
    signers: dict[bytes, tuple[str, int]] = {}  # event public key -> (its author, first seq)
    stack: list[bytes] = []
    chain = ZERO32
    try:
        for bundle in (t for t in tiles_needed(size) if t.level is None):
            for k, entry in enumerate(tree.entries(bundle)):
                i = bundle.index * TILE_WIDTH + k
                if not raw:
                    check_tile_record(tree, bundle.path, k, i, entry, policy_keys, signers)
                    chain = chain_hash(chain, entry)
                h = leaf_hash(entry)
                compare(0, i, h)
                height, j = 0, i
                while j & 1:
                    h = node_hash(stack.pop(), h)
                    j >>= 1
                    height += 1
                    if height % 8 == 0:
                        compare(height // 8, ((i + 1) >> height) - 1, h)
                stack.append(h)
    finally:
        for _, f, _ in readers.values():
            f.close()
    tree_root = stack_root(stack)
    if tree_root != cp.root:
        if leaf_mismatch is not None:
            i, tile_path = leaf_mismatch
            tree.fail_at(covering_tile(Tile(None, i // TILE_WIDTH, 1), size).path,
                         f"entry {i % TILE_WIDTH} (index {i}) does not hash to hash {i % TILE_WIDTH} of {tile_path}, "
                         f"and the entries' Merkle root is not the checkpoint's: the entry is not the log's")
        tree.fail_at("tile/entries", f"the Merkle root of the {size} entries, {tree_root.hex()}, is not "
                                     f"the checkpoint's root {cp.root.hex()}")
    if mismatch is not None:
        path, k, level, j = mismatch
        tree.fail_at(path, f"hash {k} (the tree's level-{8 * level} node {j}) is not the hash "
                           f"recomputed from the entries")

    # 5. the other tiles: each a prefix of the needed tile that covers its positions
    earlier = 0
    for rel in tree.files():
        tile = tree.tile_of(rel)
        cover = covering_tile(tile, size)
        if cover == tile:
            continue
        earlier += 1
        if tile.level is not None:
            with tree.open(rel) as f, tree.open(cover.path) as g:
                mine, theirs = f.read(32 * tile.width), g.read(32 * tile.width)
            if mine != theirs:
                k = next(k for k in range(tile.width) if mine[32 * k:32 * k + 32] != theirs[32 * k:32 * k + 32])
                tree.fail_at(rel, f"hash {k} (the tree's level-{8 * tile.level} node {tile.index * TILE_WIDTH + k}) "
                                  f"is not the tree's (as in {cover.path}): a tile left from an earlier size "
                                  f"must agree with the tree")
        else:
            theirs_it = tree.entries(cover)
            try:
                for k, mine_entry in enumerate(tree.entries(tile)):
                    if mine_entry != next(theirs_it):
                        tree.fail_at(rel, f"entry {k} (index {tile.index * TILE_WIDTH + k}) is not the tree's "
                                          f"(as in {cover.path}): a bundle left from an earlier size must agree "
                                          f"with the tree")
            finally:
                theirs_it.close()

    what = ("entries (raw: not checked as pbr records)" if raw else "records")
    plural = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # noqa: E731
    chain_text = "" if raw else f", chain head {chain.hex()}"
    return (f"ok: {size} {what} in {plural(bundles, 'entry bundle')} and {plural(hash_tiles, 'hash tile')}"
            f" ({plural(earlier, 'earlier partial tile')} agreeing), origin {cp.origin}, root {tree_root.hex()}"
            f"{chain_text}, checkpoint {signed.summary(policy)}")


def check_tile_record(tree: TileTree, path: str, k: int, seq: int, entry: bytes,
                      policy_keys: dict[bytes, VKey], signers: dict[bytes, tuple[str, int]]) -> None:
    """A bundle's entry is a pbr record (§1.1) whose signature verifies (§1.2) and whose event
    decodes (§8); its key serves one party and is no log or witness key (DESIGN §3), as in §5."""
    where = f"entry {k} (seq {seq})"
    parsed = parse_record(entry)
    if isinstance(parsed, str):
        tree.fail_at(path, f"{where}: {parsed}")
    event_bytes, pk, sig = parsed
    reason = strict_verify(pk, EVENT_PREFIX + event_bytes, sig)
    if reason:
        tree.fail_at(path, f"{where}: event signature: {reason}")
    try:
        author = decode_event(event_bytes)["author"]
    except VerifyError as e:
        tree.fail_at(path, f"{where}: event_bytes does not decode (format.md §8): {e.reason}")
    first = signers.setdefault(pk, (author, seq))
    if first[0] != author:
        tree.fail_at(path, f"{where}: signed by {author!r} with the key that signed {first[0]!r}'s record "
                           f"at seq {first[1]}: a key serves one party only")
    if pk in policy_keys:
        vk = policy_keys[pk]
        tree.fail_at(path, f"{where}: signed with the public key of {vk.label}, which your trust input names "
                           f"as a {'log' if vk.kind == LOG_KEY else 'witness'} key: a key serves one use only")


# ------------------------------------------------------------------ CLI

TRUST_HELP = ("The trust input, taken out of band (from the contract the parties signed): --policy FILE, "
              "or --key for the log key and each witness key with --quorum. A checkpoint counts only if "
              "a log key of its origin signed it and the quorum of witnesses cosigned it.")


def add_trust_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("trust input", TRUST_HELP)
    g.add_argument("--policy", metavar="FILE", help="a C2SP tlog-policy file: `log <vkey>`, "
                   "`witness <name> <vkey>`, `group <name> all|any|<k> <names>`, `quorum <name>|none`")
    g.add_argument("--key", action="append", default=[], metavar="VKEY",
                   help="a trusted verifier key: the log key (type 0x01, named after the origin) or a "
                        "witness key (type 0x04); repeat")
    g.add_argument("--quorum", type=int, metavar="N",
                   help="with --key: how many distinct witness keys must cosign (default: all given)")


def add_export_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--export", metavar="FILE",
                   help="also check the proof with this export (format.md §5, §6.1): the export is verified as "
                        "`export` does, under the same trust input, and the proof must be of a tree it holds: "
                        "the same origin, a tree size at most its number of records, each root the proof states "
                        "(root, and first_root for consistency) the Merkle root of its first that many records, "
                        "and the proven leaf its record at that seq")


def trust_of(ap: argparse.ArgumentParser, args: argparse.Namespace, may_be_empty: bool = False) -> Trust:
    if args.policy is not None and (args.key or args.quorum is not None):
        ap.error("give either --policy or --key/--quorum, not both")
    if args.policy is None and not args.key and not may_be_empty:
        ap.error("no trust input: give --policy FILE, or --key VKEY for the log key and each witness key")
    if args.quorum is not None and args.quorum < 0:
        ap.error("--quorum must be 0 or more")
    return Trust(args.policy, args.key, args.quorum)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Verify pbr format-2 exports and proofs (docs/format.md).")
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="verify an export (format.md §5)")
    ex.add_argument("file")
    add_trust_args(ex)
    ex.add_argument("--trust-export-keys", action="store_true",
                    help="also trust the export's own verifier_keys (NOT a trust anchor), as --key")
    inc = sub.add_parser("inclusion", help="verify an inclusion proof (format.md §6.1)")
    inc.add_argument("file")
    add_trust_args(inc)
    add_export_arg(inc)
    con = sub.add_parser(
        "consistency", help="verify a consistency proof (format.md §6.1)",
        description="Verify a consistency proof and its embedded checkpoint (which must meet the trust "
                    "input's quorum). With --old-checkpoint, also check a checkpoint of size `first` you "
                    "kept: same origin, size and root `first_root`, and signed by the trust input's log "
                    "key; the cosignatures on it are checked when their keys are trusted, but the witness "
                    "quorum is NOT required of the old checkpoint.")
    con.add_argument("file")
    add_trust_args(con)
    con.add_argument("--old-checkpoint", metavar="NOTEFILE",
                     help="a checkpoint of size `first` you kept; it must carry the log key's signature "
                          "(no witness quorum is required of it)")
    add_export_arg(con)
    rec = sub.add_parser("receipt", help="verify a C2SP tlog-proof@v1 receipt (format.md §6.2) for a record")
    rec.add_argument("file")
    add_trust_args(rec)
    leaf = rec.add_mutually_exclusive_group(required=True)
    leaf.add_argument("--record-hex", metavar="HEX", help="the record the receipt is for (its layout and "
                      "signature are checked, and its leaf hash computed)")
    leaf.add_argument("--leaf-hash", metavar="HEX", help="or only the leaf hash, SHA-256(0x00 || record)")
    add_export_arg(rec)
    til = sub.add_parser(
        "tiles", help="verify a static C2SP tlog-tiles tree (format.md §6.3), as `pbr export --tiles DIR` writes it",
        description="Verify DIR/checkpoint against the trust input, then the tree under DIR/tile/: every entry "
                    "bundle up to the checkpoint's size parses (u16 big-endian length and entry, 256 entries in a "
                    "full bundle, W in a .p/W one, nothing after them) and each entry is a pbr record whose "
                    "signature verifies and whose event decodes; the entries' Merkle root is the checkpoint's; "
                    "every hash tile a client of that size needs (the full tiles and the rightmost partial tile "
                    "of each level) holds the hashes recomputed from the entries; every other tile (a partial "
                    "tile left from an earlier size) agrees with the tree; a file under DIR/tile/ that is no "
                    "C2SP tile path, or lies beyond the tree, is an error. Streams the bundles.")
    til.add_argument("file", metavar="DIR", help="the directory holding `checkpoint` and `tile/`")
    add_trust_args(til)
    til.add_argument("--raw-entries", action="store_true",
                     help="for other logs' tiles (e.g. tessera's test log): take the entries as opaque bytes "
                          "and skip the pbr record, signature and event checks; the checkpoint, the entry "
                          "bundles' framing, the Merkle root and every tile are still checked")
    args = ap.parse_args(argv)
    trust_export = args.cmd == "export" and args.trust_export_keys
    if trust_export and args.policy is not None:
        ap.error("--trust-export-keys goes with --key, not --policy")
    trust = trust_of(ap, args, may_be_empty=trust_export)
    try:
        if args.cmd == "export":
            summary = cmd_export(args.file, trust, args.trust_export_keys)
        elif args.cmd == "inclusion":
            summary = cmd_inclusion(args.file, trust, args.export)
        elif args.cmd == "receipt":
            summary = cmd_receipt(args.file, trust, args.record_hex, args.leaf_hash, args.export)
        elif args.cmd == "tiles":
            summary = cmd_tiles(args.file, trust, args.raw_entries)
        else:
            summary = cmd_consistency(args.file, trust, args.old_checkpoint, args.export)
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
