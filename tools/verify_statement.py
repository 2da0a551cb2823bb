#!/usr/bin/env python3
"""Independent verifier for pbr settlement statements.

Implements, from the documents alone and without any pbr code:
  docs/format.md §9   the canonical bytes of a statement (bincode 2 `legacy()`, §8.1 encodings,
                      §8.3 enumerations) and its hash, BLAKE3 of those bytes;
  docs/settlement.md  the statement JSON and the arithmetic it promises: lines numbered 1..N,
                      two postings per non-memo line (-amount on `from`, +amount on `to`), none
                      on a memo line (from = to, rule facility:write-off, or amount 0.00),
                      postings summing to zero, totals per party in id order.

Needs only Python 3.11 and `blake3`:
  verify_statement.py STATEMENT.json
STATEMENT.json is a statement as `pbr settle --json` or `pbr explain --json` prints it, or a
golden vector (tests/vectors/statement-*.json): {"statement": ..., "canonical_hex": ..., "hash": ...},
whose canonical bytes must also equal `canonical_hex` (a difference is reported with its byte
offset and the field there).
Exit 0 with one `ok: ...` line on stdout; 1 with one `FILE: reason` line on stderr when the
statement does not verify; 2 on a usage error (bad arguments, unreadable file).
Amounts are parsed to integer minor units exactly; no floating point is used anywhere.
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import json
import re
import struct
import sys
from datetime import date
from typing import Any, NoReturn

from blake3 import blake3

DOMAIN = "pbr statement v1"  # §9
U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
EPOCH = date(1970, 1, 1)
MAX_FILE = 64 * 1024 * 1024

CURRENCIES = ["DKK", "EUR", "GBP"]  # §8.3 `currency`, tag = position
REJECT_REASONS = ["enrolment-window", "eligibility", "outcome-window", "claim-deadline",
                  "evidence", "duplicate", "mutually-exclusive", "prerequisite", "retention"]  # §8.3
RESULTS = {"accepted", "rejected", "clawed-back"}  # settlement.md `result`
DECISION_CAPS = {"participant", "company", "period", "contract"}  # §9, settlement.md `cap`

# settlement.md: postings are "on the account named after the rule's family".
# `clawback:` is not in that sentence; the golden vector books it on outcome-payments.
ACCOUNTS = [("outcome:", "outcome-payments"), ("clawback:", "outcome-payments"),
            ("sustainment:", "sustainment"), ("waterfall:", "waterfall"), ("facility:", "facility"),
            ("guarantee:", "guarantee"), ("co-financing:", "co-financing"),
            ("success-bonus", "success-bonus"), ("carry-forward", "carry-forward")]

STATEMENT_KEYS = {"contract", "period", "from", "to", "final", "currency", "log_position", "previous",
                  "decisions", "lines", "totals", "postings", "facility", "hash"}
OPTIONAL_STATEMENT_KEYS = {"issued_seq"}  # `pbr settle --json` only; not part of the statement or hash
PREVIOUS_KEYS = {"seq", "period", "log_position"}
DECISION_KEYS = {"claim_seq", "event_seq", "subject", "outcome", "date", "result", "reason", "price",
                 "amount", "cap"}
LINE_KEYS = {"n", "rule", "accrual", "adjustment", "subject", "from", "to", "claim", "amount", "events",
             "cap", "calc"}
TOTAL_KEYS = {"party", "pays", "receives", "net"}
POSTING_KEYS = {"line", "party", "account", "amount"}
FACILITY_KEYS = {"cash", "outstanding", "drawn"}
VECTOR_KEYS = {"statement", "canonical_hex", "hash"}

AMOUNT = re.compile(r"(-?)(0|[1-9][0-9]*)\.([0-9]{2})", re.ASCII)
DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
PERIOD = re.compile(r"([0-9]{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?", re.ASCII)
HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)
HEX = re.compile(r"(?:[0-9a-f]{2})*", re.ASCII)
SUBJECT = re.compile(r"participant:[0-9a-f]{64}|company:.+", re.ASCII | re.DOTALL)


class VerifyError(Exception):
    """A verification failure: one line naming the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fail(reason: str) -> NoReturn:
    raise VerifyError(reason)


def short(value: Any) -> str:
    """repr() of an untrusted value, cut to keep error lines short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------ JSON parsing

def loads_strict(text: str) -> Any:
    """JSON without duplicate keys, NaN or Infinity (a duplicate key could hide a second value)."""
    def no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise ValueError(f"duplicate key {short(key)}")
            obj[key] = value
        return obj

    def no_constants(name: str) -> NoReturn:
        raise ValueError(f"invalid constant {name}")

    try:
        return json.loads(text, object_pairs_hook=no_dupes, parse_constant=no_constants)
    except (ValueError, RecursionError) as e:
        fail(f"invalid JSON: {str(e)[:120]}")


def obj(value: Any, keys: set[str], what: str, optional: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(f"{what} must be an object")
    missing = sorted(keys - set(value))
    if missing:
        fail(f"{what}: missing field {missing[0]!r}")
    extra = sorted(set(value) - keys - optional)
    if extra:
        fail(f"{what}: unknown field {extra[0]!r}")
    return value


def array(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        fail(f"{what} must be an array")
    return value


def uint(value: Any, what: str, top: int = U64_MAX) -> int:
    if type(value) is not int or not 0 <= value <= top:
        fail(f"{what} must be an integer in 0..{top}, got {short(value)}")
    return value


def boolean(value: Any, what: str) -> bool:
    if type(value) is not bool:
        fail(f"{what} must be true or false, got {short(value)}")
    return value


def text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        fail(f"{what} must be a string, got {short(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail(f"{what} is not valid UTF-8 (a lone surrogate)")
    return value


def amount(value: Any, what: str) -> int:
    """A JSON amount ("-3300.00") as exact integer minor units (-330000); no floats."""
    if not isinstance(value, str):
        fail(f"{what} must be an amount string like \"-3300.00\", got {short(value)}")
    m = AMOUNT.fullmatch(value)
    if not m or value == "-0.00":
        fail(f"{what} is not a canonical amount (\"-3300.00\"): {short(value)}")
    minor = int(m.group(2)) * 100 + int(m.group(3))
    minor = -minor if m.group(1) else minor
    if not I64_MIN <= minor <= I64_MAX:
        fail(f"{what} is out of the i64 range of minor units: {short(value)}")
    return minor


def fmt(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def day(value: Any, what: str) -> date:
    m = DAY.fullmatch(value) if isinstance(value, str) else None
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
    except ValueError:
        d = None
    if d is None:  # also refuses year 0000, outside §8.1's 0001-01-01..9999-12-31
        fail(f"{what} is not a date YYYY-MM-DD: {short(value)}")
    return d


def period(value: Any, what: str) -> tuple[date, date]:
    """A period ("2025-Q3", "2025-07", "2025") and its first and last day."""
    m = PERIOD.fullmatch(value) if isinstance(value, str) else None
    if not m or m.group(1) == "0000":
        fail(f"{what} is not a period (\"2025-Q3\", \"2025-07\" or \"2025\"): {short(value)}")
    year = int(m.group(1))
    if m.group(2):
        first, last = 3 * int(m.group(2)) - 2, 3 * int(m.group(2))
    elif m.group(3):
        first = last = int(m.group(3))
    else:
        first, last = 1, 12
    return date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1])


def option(value: Any, parse: Any, what: str) -> Any:
    return None if value is None else parse(value, what)


def subject(value: Any, what: str) -> str:
    s = text(value, what)
    if not SUBJECT.fullmatch(s):
        fail(f"{what} is not \"participant:<64 hex>\" or \"company:<id>\": {short(value)}")
    return s


# ------------------------------------------------- §8.1 / §9 canonical bytes

class Encoder:
    """bincode 2 `legacy()` (§8.1), remembering which field each byte belongs to."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.starts: list[int] = []
        self.paths: list[str] = []

    def put(self, data: bytes, path: str) -> None:
        if data:
            self.starts.append(len(self.buf))
            self.paths.append(path)
            self.buf += data

    def u8(self, v: int, path: str) -> None:
        self.put(struct.pack("<B", v), path)

    def u32(self, v: int, path: str) -> None:
        self.put(struct.pack("<I", v), path)

    def u64(self, v: int, path: str) -> None:
        self.put(struct.pack("<Q", v), path)

    def i32(self, v: int, path: str) -> None:
        self.put(struct.pack("<i", v), path)

    def i64(self, v: int, path: str) -> None:
        self.put(struct.pack("<q", v), path)

    def bool(self, v: bool, path: str) -> None:
        self.u8(1 if v else 0, path)

    def string(self, v: str, path: str) -> None:
        raw = v.encode("utf-8")
        self.u64(len(raw), f"{path} (length)")
        self.put(raw, path)

    def option(self, v: Any, put: Any, path: str) -> None:
        """`00` for none; `01` then the value."""
        if v is None:
            self.u8(0, f"{path} (option tag)")
        else:
            self.u8(1, f"{path} (option tag)")
            put(v, path)

    def day(self, d: date, path: str) -> None:
        self.i32((d - EPOCH).days, path)

    def count(self, n: int, path: str) -> None:
        self.u64(n, f"{path} (count)")

    def field_at(self, offset: int) -> str:
        if offset >= len(self.buf):
            return "after the end of the rebuilt bytes"
        return self.paths[bisect.bisect_right(self.starts, offset) - 1]


def canonical_bytes(s: dict[str, Any]) -> Encoder:
    """format.md §9, field by field, from a statement already checked by `parse_statement`."""
    e = Encoder()
    e.string(DOMAIN, "domain")
    e.string(s["contract"], "contract")
    e.string(s["period"], "period")
    e.bool(s["final"], "final")
    e.u32(CURRENCIES.index(s["currency"]), "currency")
    e.u64(s["log_position"], "log_position")

    def previous(p: dict[str, Any], path: str) -> None:
        e.u64(p["seq"], f"{path}.seq")
        e.string(p["period"], f"{path}.period")
        e.u64(p["log_position"], f"{path}.log_position")
    e.option(s["previous"], previous, "previous")

    e.count(len(s["decisions"]), "decisions")
    for i, d in enumerate(s["decisions"]):
        p = f"decisions[{i}]"
        e.u64(d["claim_seq"], f"{p}.claim_seq")
        e.u64(d["event_seq"], f"{p}.event_seq")
        e.string(d["subject"], f"{p}.subject")
        e.string(d["outcome"], f"{p}.outcome")
        e.day(day(d["date"], f"{p}.date"), f"{p}.date")
        # §9: "accepted", "clawed-back", or for a rejection its reason
        result = d["reason"] if d["result"] == "rejected" else d["result"]
        e.string(result, f"{p}.result" if d["result"] != "rejected" else f"{p}.reason")
        e.i64(amount(d["price"], f"{p}.price"), f"{p}.price")
        e.i64(amount(d["amount"], f"{p}.amount"), f"{p}.amount")
        e.option(d["cap"], e.string, f"{p}.cap")

    e.count(len(s["lines"]), "lines")
    for i, ln in enumerate(s["lines"]):
        p = f"lines[{i}]"
        e.u32(ln["n"], f"{p}.n")
        e.string(ln["rule"], f"{p}.rule")
        e.string(ln["accrual"], f"{p}.accrual")
        e.bool(ln["adjustment"], f"{p}.adjustment")
        e.option(ln["subject"], e.string, f"{p}.subject")
        e.string(ln["from"], f"{p}.from")
        e.string(ln["to"], f"{p}.to")
        e.option(ln["claim"], e.u64, f"{p}.claim")
        e.i64(amount(ln["amount"], f"{p}.amount"), f"{p}.amount")
        e.count(len(ln["events"]), f"{p}.events")
        for j, seq in enumerate(ln["events"]):
            e.u64(seq, f"{p}.events[{j}]")
        e.option(ln["cap"], e.string, f"{p}.cap")
        e.string(ln["calc"], f"{p}.calc")

    e.count(len(s["totals"]), "totals")
    for i, t in enumerate(s["totals"]):
        p = f"totals[{i}]"
        e.string(t["party"], f"{p}.party")
        e.i64(amount(t["pays"], f"{p}.pays"), f"{p}.pays")
        e.i64(amount(t["receives"], f"{p}.receives"), f"{p}.receives")

    e.count(len(s["postings"]), "postings")
    for i, q in enumerate(s["postings"]):
        p = f"postings[{i}]"
        e.u32(q["line"], f"{p}.line")
        e.string(q["party"], f"{p}.party")
        e.string(q["account"], f"{p}.account")
        e.i64(amount(q["amount"], f"{p}.amount"), f"{p}.amount")

    def facility(f: dict[str, Any], path: str) -> None:
        for k in ("cash", "outstanding", "drawn"):
            e.i64(amount(f[k], f"{path}.{k}"), f"{path}.{k}")
    e.option(s["facility"], facility, "facility")
    return e


def statement_hash(s: dict[str, Any]) -> str:
    """BLAKE3 of the canonical bytes, as 64 lowercase hex digits (the statement's `hash`)."""
    return blake3(bytes(canonical_bytes(parse_statement(s)).buf)).hexdigest()


# ------------------------------------------------------ the statement JSON

def parse_statement(s: Any) -> dict[str, Any]:
    """Types, shapes and value sets of settlement.md's statement JSON; returns it unchanged."""
    statement = obj(s, STATEMENT_KEYS, "statement", OPTIONAL_STATEMENT_KEYS)
    text(s["contract"], "contract")
    start, end = period(s["period"], "period")
    if day(s["from"], "from") != start or day(s["to"], "to") != end:
        fail(f"from/to: {s['from']}..{s['to']} is not period {s['period']} ({start}..{end})")
    boolean(s["final"], "final")
    if s["currency"] not in CURRENCIES:
        fail(f"currency must be one of {', '.join(CURRENCIES)}, got {short(s['currency'])}")
    uint(s["log_position"], "log_position")
    if s.get("issued_seq") is not None:
        uint(s["issued_seq"], "issued_seq")
    if s["previous"] is not None:
        p = obj(s["previous"], PREVIOUS_KEYS, "previous")
        uint(p["seq"], "previous.seq")
        period(p["period"], "previous.period")
        uint(p["log_position"], "previous.log_position")
    for i, d in enumerate(array(s["decisions"], "decisions")):
        w = f"decisions[{i}]"
        obj(d, DECISION_KEYS, w)
        uint(d["claim_seq"], f"{w}.claim_seq")
        uint(d["event_seq"], f"{w}.event_seq")
        subject(d["subject"], f"{w}.subject")
        text(d["outcome"], f"{w}.outcome")
        day(d["date"], f"{w}.date")
        if d["result"] not in RESULTS:
            fail(f"{w}.result must be accepted, rejected or clawed-back, got {short(d['result'])}")
        if d["result"] == "rejected":
            if d["reason"] not in REJECT_REASONS:
                fail(f"{w}.reason must be a reject-reason of format.md §8.3, got {short(d['reason'])}")
        elif d["reason"] is not None:
            fail(f"{w}.reason must be null for a result of {d['result']}, got {short(d['reason'])}")
        amount(d["price"], f"{w}.price")
        paid = amount(d["amount"], f"{w}.amount")
        if d["result"] == "rejected" and paid != 0:
            fail(f"{w}.amount must be 0.00 for a rejection, got {d['amount']}")
        if d["result"] == "clawed-back" and paid > 0:
            fail(f"{w}.amount must not be positive for a claw-back, got {d['amount']}")
        if d["cap"] is not None and d["cap"] not in DECISION_CAPS:
            fail(f"{w}.cap must be null or one of {', '.join(sorted(DECISION_CAPS))}, got {short(d['cap'])}")
    for i, ln in enumerate(array(s["lines"], "lines")):
        w = f"lines[{i}]"
        obj(ln, LINE_KEYS, w)
        uint(ln["n"], f"{w}.n", U32_MAX)
        text(ln["rule"], f"{w}.rule")
        period(ln["accrual"], f"{w}.accrual")
        boolean(ln["adjustment"], f"{w}.adjustment")
        option(ln["subject"], subject, f"{w}.subject")
        text(ln["from"], f"{w}.from")
        text(ln["to"], f"{w}.to")
        option(ln["claim"], uint, f"{w}.claim")
        amount(ln["amount"], f"{w}.amount")
        for j, seq in enumerate(array(ln["events"], f"{w}.events")):
            uint(seq, f"{w}.events[{j}]")
        option(ln["cap"], text, f"{w}.cap")
        text(ln["calc"], f"{w}.calc")
    for i, t in enumerate(array(s["totals"], "totals")):
        w = f"totals[{i}]"
        obj(t, TOTAL_KEYS, w)
        text(t["party"], f"{w}.party")
        for k in ("pays", "receives", "net"):
            amount(t[k], f"{w}.{k}")
    for i, q in enumerate(array(s["postings"], "postings")):
        w = f"postings[{i}]"
        obj(q, POSTING_KEYS, w)
        uint(q["line"], f"{w}.line", U32_MAX)
        text(q["party"], f"{w}.party")
        text(q["account"], f"{w}.account")
        amount(q["amount"], f"{w}.amount")
    if s["facility"] is not None:
        f = obj(s["facility"], FACILITY_KEYS, "facility")
        for k in sorted(FACILITY_KEYS):
            amount(f[k], f"facility.{k}")
    if not isinstance(s["hash"], str) or not HASH.fullmatch(s["hash"]):
        fail(f"hash must be 64 lowercase hex digits, got {short(s['hash'])}")
    return statement


# settlement.md, "Which lines move money": rules whose lines never move money.
MEMO_RULES = frozenset({"facility:write-off"})


def is_memo(ln: dict[str, Any]) -> bool:
    """settlement.md: memo lines (from = to, a memo rule, or amount 0.00) carry no postings."""
    return (ln["from"] == ln["to"] or ln["rule"] in MEMO_RULES
            or amount(ln["amount"], "amount") == 0)


def account_for(rule: str) -> str | None:
    for prefix, account in ACCOUNTS:
        if rule == prefix or (prefix.endswith(":") and rule.startswith(prefix)):
            return account
    return None


def check_arithmetic(s: dict[str, Any]) -> None:
    """What settlement.md promises about lines, postings and totals."""
    if s["previous"] is not None:
        p = s["previous"]
        if p["log_position"] != p["seq"]:
            fail(f"previous.log_position is {p['log_position']} but previous.seq is {p['seq']}: "
                 "a settlement-issued event carries log_position equal to its own seq")
        if p["seq"] >= s["log_position"]:
            fail(f"previous.seq {p['seq']} is not below log_position {s['log_position']}")
    if s.get("issued_seq") is not None:
        if s["issued_seq"] != s["log_position"]:
            fail(f"issued_seq is {s['issued_seq']} but log_position is {s['log_position']}: "
                 "a settlement-issued event carries log_position equal to its own seq")

    lines = s["lines"]
    for i, ln in enumerate(lines):
        if ln["n"] != i + 1:
            fail(f"lines[{i}].n is {ln['n']}, expected {i + 1} (lines are numbered 1..N)")

    by_line: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for i, q in enumerate(s["postings"]):
        if not 1 <= q["line"] <= len(lines):
            fail(f"postings[{i}].line {q['line']} names no line (there are {len(lines)})")
        by_line.setdefault(q["line"], []).append((i, q))

    pays: dict[str, int] = {}
    receives: dict[str, int] = {}
    for i, ln in enumerate(lines):
        w = f"lines[{i}] (n={ln['n']})"
        posts = by_line.get(ln["n"], [])
        a = amount(ln["amount"], f"lines[{i}].amount")
        if is_memo(ln):
            if posts:
                fail(f"postings[{posts[0][0]}]: {w} is a memo line (from = to, a memo rule or amount 0.00) "
                     "and must have no postings")
            continue
        pays[ln["from"]] = pays.get(ln["from"], 0) + a
        receives[ln["to"]] = receives.get(ln["to"], 0) + a
        if len(posts) != 2:
            fail(f"postings: {w} has {len(posts)} postings, a non-memo line has exactly 2")
        want = [(ln["from"], -a), (ln["to"], a)]
        for j, q in posts:  # each posting must use up one of the two the line makes
            got = (q["party"], amount(q["amount"], f"postings[{j}].amount"))
            if got in want:
                want.remove(got)
                continue
            fail(f"postings[{j}].amount: {q['party']} {q['amount']} on line {ln['n']}, but the line "
                 f"({ln['amount']} from {ln['from']} to {ln['to']}) posts {fmt(-a)} on {ln['from']} "
                 f"and {fmt(a)} on {ln['to']}")
        acct = account_for(ln["rule"])
        for j, q in posts:
            if q["account"] != posts[0][1]["account"] or (acct is not None and q["account"] != acct):
                fail(f"postings[{j}].account is {short(q['account'])}, expected "
                     f"{short(acct or posts[0][1]['account'])} for rule {short(ln['rule'])}")

    total = sum(amount(q["amount"], f"postings[{i}].amount") for i, q in enumerate(s["postings"]))
    if total != 0:
        fail(f"postings sum to {fmt(total)}, not 0.00")

    parties = [t["party"] for t in s["totals"]]
    for i in range(1, len(parties)):
        if parties[i - 1].encode() >= parties[i].encode():
            fail(f"totals[{i}].party {short(parties[i])} is not after {short(parties[i - 1])} "
                 "(totals are per party in id order)")
    for i, t in enumerate(s["totals"]):
        p = t["party"]
        want_pays, want_receives = pays.get(p, 0), receives.get(p, 0)
        got_pays, got_receives = amount(t["pays"], ""), amount(t["receives"], "")
        if got_pays != want_pays:
            fail(f"totals[{i}].pays is {t['pays']} but {p}'s non-memo lines pay {fmt(want_pays)}")
        if got_receives != want_receives:
            fail(f"totals[{i}].receives is {t['receives']} but {p}'s non-memo lines receive "
                 f"{fmt(want_receives)}")
        if amount(t["net"], "") != got_receives - got_pays:
            fail(f"totals[{i}].net is {t['net']}, not receives − pays = {fmt(got_receives - got_pays)}")
    for p in sorted({*pays, *receives} - set(parties)):
        fail(f"totals: party {short(p)} has non-memo lines but no totals entry")


# ------------------------------------------------------------------ verify

def verify(doc: Any) -> str:
    """Verify a statement or a golden vector; returns the summary, raises VerifyError."""
    vector = isinstance(doc, dict) and "statement" in doc
    if vector:
        obj(doc, {"statement"}, "vector", VECTOR_KEYS - {"statement"})
        s = parse_statement(doc["statement"])
    else:
        s = parse_statement(doc)
    enc = canonical_bytes(s)
    rebuilt = bytes(enc.buf)
    if vector and "canonical_hex" in doc:
        hx = doc["canonical_hex"]
        if not isinstance(hx, str) or not HEX.fullmatch(hx):
            fail("canonical_hex is not lowercase hex")
        given = bytes.fromhex(hx)
        if given != rebuilt:
            at = next((k for k in range(min(len(given), len(rebuilt))) if given[k] != rebuilt[k]),
                      min(len(given), len(rebuilt)))
            fail(f"{enc.field_at(at)}: canonical bytes rebuilt from the statement differ from canonical_hex "
                 f"at byte {at} (rebuilt {len(rebuilt)} bytes, canonical_hex {len(given)})")
    check_arithmetic(s)
    computed = blake3(rebuilt).hexdigest()
    if s["hash"] != computed:
        fail(f"hash: the statement says {s['hash']}, BLAKE3 of its canonical bytes is {computed}")
    if vector and "hash" in doc and doc["hash"] != computed:
        fail(f"vector hash: {short(doc['hash'])} is not the statement's hash {computed}")
    memo = sum(1 for ln in s["lines"] if is_memo(ln))
    return (f"ok: statement {s['contract']} {s['period']} at log position {s['log_position']}: "
            f"{len(s['decisions'])} decisions, {len(s['lines'])} lines ({memo} memo), "
            f"{len(s['postings'])} postings, {len(rebuilt)} canonical bytes"
            f"{' equal to canonical_hex' if vector and 'canonical_hex' in doc else ''}, hash {computed}")


# ------------------------------------------------------------------ CLI

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Verify a pbr settlement statement (docs/format.md §9, docs/settlement.md).")
    ap.add_argument("file", help="statement JSON (pbr settle/explain --json) or a statement vector")
    args = ap.parse_args(argv)  # exits 2 on a usage error
    try:
        with open(args.file, "rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as e:
        print(f"{args.file}: cannot read: {e.strerror or e}", file=sys.stderr)
        return 2
    try:
        if len(raw) > MAX_FILE:
            fail(f"file is larger than {MAX_FILE} bytes")
        try:
            doc_text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            fail(f"invalid UTF-8 at byte {e.start}")
        summary = verify(loads_strict(doc_text))
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
