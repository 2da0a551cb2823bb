#!/usr/bin/env python3
"""Self-tests for tools/verify_statement.py against the golden statement vectors.

Run: python3 -m unittest tools/test_verify_statement.py   or   python3 tools/test_verify_statement.py
Needs: blake3.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from datetime import date
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import verify_statement as vs  # noqa: E402
from blake3 import blake3  # noqa: E402

VERIFIER = os.path.join(HERE, "verify_statement.py")
VECTORS = os.path.join(HERE, "..", "tests", "vectors")
ERROR_LINE = re.compile(r"^[^\n]+: [^\n]+\n$")


def load_vector(name: str) -> dict[str, Any]:
    with open(os.path.join(VECTORS, name), encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


A = load_vector("statement-a-2013-Q4.json")  # decisions (a rejection, a claw-back, a cap), previous, waterfall
DEMO = load_vector("statement-demo.json")  # 21 lines, a facility, no decisions


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The verifier as a separate process, as CI and auditors run it."""
    return subprocess.run([sys.executable, VERIFIER, *args], capture_output=True, text=True)


def run_here(*args: str) -> subprocess.CompletedProcess[str]:
    """vs.main() in this process, captured like `run` (fast, for the many tamper cases)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = vs.main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def rehash(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement with its `hash` recomputed: a forger who also fixes the hash."""
    statement["hash"] = vs.statement_hash(statement)
    return statement


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.count = 0

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def write(self, doc: Any, raw: str | None = None) -> str:
        self.count += 1
        path = os.path.join(self.tmp, f"s{self.count}.json")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(raw if raw is not None else json.dumps(doc, ensure_ascii=False, indent=2))
        return path

    def assert_ok(self, doc: Any, process: bool = False) -> str:
        proc = (run if process else run_here)(self.write(doc))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        self.assertTrue(proc.stdout.startswith("ok: statement "), proc.stdout)
        self.assertEqual(proc.stdout.count("\n"), 1)
        return proc.stdout

    def assert_fails(self, doc: Any, *reasons: str, raw: str | None = None) -> str:
        proc = run_here(self.write(doc, raw))
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertNotIn("Traceback", proc.stderr)
        self.assertNotIn("internal error", proc.stderr)
        self.assertRegex(proc.stderr, ERROR_LINE)
        for reason in reasons:
            self.assertIn(reason, proc.stderr)
        return proc.stderr

    @staticmethod
    def vector(v: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(v)

    @staticmethod
    def bare(v: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(v["statement"])


class VectorTests(Base):
    """Both golden vectors are reproduced from the JSON alone (format.md §9)."""

    def test_vectors_verify(self) -> None:
        for name, v in (("a-2013-Q4", A), ("demo", DEMO)):
            with self.subTest(vector=name):
                out = self.assert_ok(self.vector(v), process=True)
                self.assertIn("equal to canonical_hex", out)
                self.assertIn(v["hash"], out)
                out = self.assert_ok(self.bare(v), process=True)  # as `pbr settle --json` prints it
                self.assertNotIn("canonical_hex", out)

    def test_canonical_bytes_and_hash(self) -> None:
        for v in (A, DEMO):
            enc = vs.canonical_bytes(vs.parse_statement(copy.deepcopy(v["statement"])))
            self.assertEqual(bytes(enc.buf).hex(), v["canonical_hex"])
            self.assertEqual(blake3(bytes(enc.buf)).hexdigest(), v["hash"])
            self.assertEqual(vs.statement_hash(v["statement"]), v["statement"]["hash"])

    def test_issued_seq_is_not_hashed(self) -> None:
        """`pbr settle --json` adds issued_seq; it is not part of the statement or its hash."""
        s = self.bare(A)
        s["issued_seq"] = None
        self.assert_ok(s)
        s["issued_seq"] = 85
        self.assert_fails(s, "issued_seq is 85 but log_position is 84")
        s["issued_seq"] = 84
        self.assert_ok(s)

    def test_field_names_in_messages(self) -> None:
        """A difference from canonical_hex is located: byte offset and field."""
        v = self.vector(A)
        v["statement"]["lines"][4]["cap"] = None  # option tag 01 -> 00
        enc = vs.canonical_bytes(vs.parse_statement(copy.deepcopy(A["statement"])))
        offset = enc.paths.index("lines[4].cap (option tag)")
        self.assert_fails(v, f"lines[4].cap (option tag): canonical bytes rebuilt from the statement "
                             f"differ from canonical_hex at byte {enc.starts[offset]} ")


class TamperTests(Base):
    """Each tampered copy is rejected, and for its own reason.

    With a vector, the rebuilt bytes are compared with canonical_hex first, which names the field;
    a bare statement is checked for its arithmetic, then against its own hash.
    """

    def test_changed_line_amount(self) -> None:
        v = self.vector(A)
        v["statement"]["lines"][0]["amount"] = "3600.00"
        self.assert_fails(v, "lines[0].amount: canonical bytes rebuilt from the statement differ "
                             "from canonical_hex at byte ")
        s = self.bare(A)
        s["lines"][0]["amount"] = "3600.00"
        self.assert_fails(s, "postings[0].amount: dwp -3500.00 on line 1, but the line "
                             "(3600.00 from dwp to spv) posts -3600.00 on dwp and 3600.00 on spv")
        # consistent forgery: postings and totals follow the line; only the hash catches it
        s["postings"][0]["amount"], s["postings"][1]["amount"] = "-3600.00", "3600.00"
        s["totals"][0].update(pays="9200.00", net="-9200.00")
        s["totals"][3].update(receives="9200.00", net="100.00")
        self.assert_fails(s, "hash: the statement says a01df17de796", "BLAKE3 of its canonical bytes is ")

    def test_changed_calc(self) -> None:
        v = self.vector(DEMO)
        v["statement"]["lines"][20]["calc"] = "min(cash 24949.50, outstanding 128114.01)"  # same length
        self.assert_fails(v, "lines[20].calc: canonical bytes")
        v["statement"]["lines"][20]["calc"] += " "
        self.assert_fails(v, "lines[20].calc (length): canonical bytes")
        s = self.bare(DEMO)
        s["lines"][20]["calc"] = "min(cash 24949.50, outstanding 128114.01)"
        self.assert_fails(s, "hash: the statement says dd4a3efd8787")

    def test_removed_decision(self) -> None:
        v = self.vector(A)
        del v["statement"]["decisions"][0]  # the rejected duplicate, which pays nothing
        self.assert_fails(v, "decisions (count): canonical bytes")
        s = self.bare(A)
        del s["decisions"][2]
        self.assert_fails(s, "hash: the statement says a01df17de796")

    def test_swapped_posting_sign(self) -> None:
        s = self.bare(A)
        p = s["postings"]
        p[0]["amount"], p[1]["amount"] = p[1]["amount"], p[0]["amount"]  # dwp +3500, spv -3500
        self.assert_fails(s, "postings[0].amount: dwp 3500.00 on line 1, but the line (3500.00 from dwp "
                             "to spv) posts -3500.00 on dwp and 3500.00 on spv")
        s = self.bare(A)
        s["postings"][2]["amount"] = "-3300.00"  # one sign flipped on the claw-back line
        self.assert_fails(s, "postings[2].amount: dwp -3300.00 on line 2")
        v = self.vector(DEMO)
        v["statement"]["postings"][41]["amount"] = "-24949.50"
        self.assert_fails(v, "postings[41].amount: canonical bytes")

    def test_changed_previous_log_position(self) -> None:
        v = self.vector(A)
        v["statement"]["previous"]["log_position"] = 82
        self.assert_fails(v, "previous.log_position: canonical bytes")
        s = self.bare(A)
        s["previous"]["log_position"] = 82
        self.assert_fails(s, "previous.log_position is 82 but previous.seq is 83")
        s["previous"]["seq"] = 82  # consistent with itself: only the hash catches it
        self.assert_fails(s, "hash: the statement says a01df17de796")
        s = self.bare(DEMO)
        s["previous"] = None
        self.assert_fails(s, "hash: the statement says dd4a3efd8787")

    def test_changed_final(self) -> None:
        for v in (A, DEMO):
            t = self.vector(v)
            t["statement"]["final"] = True
            self.assert_fails(t, "final: canonical bytes")
            s = self.bare(v)
            s["final"] = True
            self.assert_fails(s, "hash: the statement says " + v["hash"][:12])
        s = self.bare(A)
        s["final"] = 1
        self.assert_fails(s, "final must be true or false, got 1")

    def test_wrong_hash(self) -> None:
        wrong = "00" * 32
        v = self.vector(A)
        v["statement"]["hash"] = wrong
        self.assert_fails(v, f"hash: the statement says {wrong}, BLAKE3 of its canonical bytes is {A['hash']}")
        s = self.bare(DEMO)
        s["hash"] = DEMO["hash"][:-1] + "d"
        self.assert_fails(s, "hash: the statement says", f"is {DEMO['hash']}")
        s["hash"] = DEMO["hash"].upper()
        self.assert_fails(s, "hash must be 64 lowercase hex digits")
        v = self.vector(DEMO)
        v["hash"] = wrong  # the vector's own hash field
        self.assert_fails(v, "vector hash: ")
        v = self.vector(DEMO)
        v["canonical_hex"] = v["canonical_hex"][:-2] + "02"  # last byte of facility.drawn
        self.assert_fails(v, "facility.drawn: canonical bytes")
        v["canonical_hex"] = DEMO["canonical_hex"] + "00"
        self.assert_fails(v, "after the end of the rebuilt bytes: canonical bytes", "canonical_hex 8679)")


class ArithmeticTests(Base):
    """settlement.md's promises, each on a statement whose hash has been recomputed."""

    def test_line_numbering(self) -> None:
        s = self.bare(A)
        s["lines"][1]["n"], s["lines"][2]["n"] = 3, 2
        self.assert_fails(rehash(s), "lines[1].n is 3, expected 2 (lines are numbered 1..N)")

    def test_posting_counts(self) -> None:
        s = self.bare(A)
        del s["postings"][1]
        self.assert_fails(rehash(s), "postings: lines[0] (n=1) has 1 postings, a non-memo line has exactly 2")
        s = self.bare(A)
        s["postings"][13]["line"] = 8
        self.assert_fails(rehash(s), "postings[13].line 8 names no line (there are 7)")
        s = self.bare(A)
        s["postings"][1]["party"] = "provider"
        self.assert_fails(rehash(s), "postings[1].amount: provider 3500.00 on line 1")
        s = self.bare(A)
        s["postings"][1].update(party="dwp", amount="-3500.00")  # the debit twice
        self.assert_fails(rehash(s), "postings[1].amount: dwp -3500.00 on line 1")

    def test_account(self) -> None:
        s = self.bare(A)
        s["postings"][10]["account"] = s["postings"][11]["account"] = "outcome-payments"
        self.assert_fails(rehash(s), "postings[10].account is 'outcome-payments', expected 'waterfall'")

    def test_memo_lines(self) -> None:
        """A retained waterfall tier (from = to) and a 0.00 line are memo lines: no postings, no totals."""
        s = self.bare(A)
        s["lines"].append({"n": 8, "rule": "waterfall:retained", "accrual": "2013-Q4", "adjustment": False,
                           "subject": None, "from": "spv", "to": "spv", "claim": None, "amount": "500.00",
                           "events": [], "cap": None, "calc": "retained 500.00"})
        s["lines"].append({"n": 9, "rule": "success-bonus", "accrual": "2013-Q4", "adjustment": False,
                           "subject": None, "from": "dwp", "to": "provider", "claim": None,
                           "amount": "0.00", "events": [], "cap": None, "calc": "threshold not met"})
        self.assert_ok(rehash(s))
        t = copy.deepcopy(s)
        t["postings"] += [{"line": 8, "party": "spv", "account": "waterfall", "amount": "-500.00"},
                          {"line": 8, "party": "spv", "account": "waterfall", "amount": "500.00"}]
        self.assert_fails(rehash(t), "postings[14]: lines[7] (n=8) is a memo line")
        t = copy.deepcopy(s)
        t["totals"][3].update(pays="9600.00", net="-500.00")
        self.assert_fails(rehash(t), "totals[3].pays is 9600.00 but spv's non-memo lines pay 9100.00")

    def test_a_facility_write_off_is_a_memo_line(self) -> None:
        """settlement.md, "Which lines move money": a write-off names lender and borrower but
        moves nothing, so postings on it (the loss counted a second time) fail."""
        s = self.bare(A)
        s["lines"].append({"n": 8, "rule": "facility:write-off", "accrual": "2013-Q4", "adjustment": False,
                           "subject": None, "from": "investor", "to": "spv", "claim": None,
                           "amount": "700.00", "events": [], "cap": None, "calc": "outstanding 700.00"})
        self.assert_ok(rehash(s))
        t = copy.deepcopy(s)
        t["postings"] += [{"line": 8, "party": "investor", "account": "facility", "amount": "-700.00"},
                          {"line": 8, "party": "spv", "account": "facility", "amount": "700.00"}]
        self.assert_fails(rehash(t), "postings[14]: lines[7] (n=8) is a memo line")

    def test_postings_sum_to_zero(self) -> None:
        """A posting on a memo line is caught first; a sum is checked after the per-line rules."""
        s = self.bare(A)
        s["lines"][0]["to"] = "dwp"  # now a memo line, with two postings left over
        self.assert_fails(rehash(s), "postings[0]: lines[0] (n=1) is a memo line")
        vs.check_arithmetic(vs.parse_statement(self.bare(DEMO)))  # raises on a failure

    def test_totals(self) -> None:
        s = self.bare(A)
        s["totals"][1]["receives"] = "4300.01"
        self.assert_fails(rehash(s), "totals[1].receives is 4300.01 but investor's non-memo lines receive 4300.00")
        s = self.bare(A)
        s["totals"][1]["net"] = "4300.01"  # net is not hashed: checked as receives - pays
        self.assert_fails(s, "totals[1].net is 4300.01, not receives − pays = 4300.00")
        s = self.bare(A)
        del s["totals"][2]
        self.assert_fails(rehash(s), "totals: party 'provider' has non-memo lines but no totals entry")
        s = self.bare(A)
        s["totals"][0], s["totals"][1] = s["totals"][1], s["totals"][0]
        self.assert_fails(rehash(s), "totals[1].party 'dwp' is not after 'investor'")

    def test_unhashed_fields_are_checked(self) -> None:
        """from/to, net and a decision's reason are not hashed as such, so they are checked."""
        s = self.bare(A)
        s["to"] = "2013-12-30"
        self.assert_fails(s, "from/to: 2013-10-01..2013-12-30 is not period 2013-Q4")
        s = self.bare(A)
        s["decisions"][1]["reason"] = "evidence"
        self.assert_fails(s, "decisions[1].reason must be null for a result of accepted")
        s = self.bare(A)
        s["decisions"][0]["result"] = "accepted"  # with its rejection reason left in place
        self.assert_fails(s, "decisions[0].reason must be null")
        s = self.bare(A)
        s["decisions"][0]["reason"] = "evidence"  # a rejection's reason is what is hashed
        self.assert_fails(s, "hash: the statement says")
        s = self.bare(A)
        s["decisions"][0]["reason"] = "wrong-date"
        self.assert_fails(s, "decisions[0].reason must be a reject-reason of format.md §8.3")


class ParsingTests(Base):
    def test_amounts_are_exact(self) -> None:
        self.assertEqual(vs.amount("-3300.00", "x"), -330000)
        self.assertEqual(vs.amount("0.07", "x"), 7)
        self.assertEqual(vs.amount("92233720368547758.07", "x"), 2**63 - 1)
        self.assertEqual(vs.amount("-92233720368547758.08", "x"), -(2**63))
        for bad in ("92233720368547758.08", "1.5", "1.500", "01.00", "+1.00", "1", "-0.00", " 1.00",
                    "1e3", "1.0O", "١.00", 1200.0, 120000, None):
            with self.subTest(amount=bad), self.assertRaises(vs.VerifyError):
                vs.amount(bad, "x")
        for minor in (0, 7, -7, 100, -330000, 2**63 - 1, -(2**63)):
            self.assertEqual(vs.amount(vs.fmt(minor), "x"), minor)

    def test_float_amount_is_rejected(self) -> None:
        s = self.bare(A)
        s["lines"][0]["amount"] = 3500.0
        self.assert_fails(s, "lines[0].amount must be an amount string")

    def test_encodings(self) -> None:
        """format.md §8.1, by hand."""
        e = vs.Encoder()
        e.string("impact60", "s")
        e.option(None, e.u64, "o")
        e.option(41, e.u64, "o")
        e.day(vs.day("1970-01-02", "d"), "d")
        e.day(vs.day("1969-12-31", "d"), "d")
        e.i64(-330000, "i")
        e.bool(True, "b")
        e.u32(2, "u")
        self.assertEqual(bytes(e.buf).hex(),
                         "0800000000000000" + b"impact60".hex() + "00" + "01" + "2900000000000000"
                         + "01000000" + "ffffffff" + "f0f6faffffffffff" + "01" + "02000000")
        self.assertEqual(vs.period("2025-Q3", "p"), (date(2025, 7, 1), date(2025, 9, 30)))
        self.assertEqual(vs.period("2024-02", "p"), (date(2024, 2, 1), date(2024, 2, 29)))
        self.assertEqual(vs.period("2025", "p"), (date(2025, 1, 1), date(2025, 12, 31)))
        for bad in ("2025-Q5", "2025-13", "25", "2025-Q3 ", "0000", "2025-7"):
            with self.subTest(period=bad), self.assertRaises(vs.VerifyError):
                vs.period(bad, "p")

    def test_format_md_field_order(self) -> None:
        """The encoder writes the fields format.md §9 lists, in its order (a document change must reach it)."""
        with open(os.path.join(HERE, "..", "docs", "format.md"), encoding="utf-8") as f:
            doc = f.read()
        section = doc[doc.index("## 9. Settlement statements"):]
        block = section[section.index("```\n") + 4:]
        block = block[:block.index("```")]
        typed = re.compile(r"\b(string|bool|enum|u64|u32|i64|day|option<[a-z0-9]+>)\s+([a-z_]+)")
        doc_fields = [m.group(2) for m in typed.finditer(block) if not block.startswith(", then", m.end())]
        # a statement with every option present and one of every repeated item
        s = self.bare(A)
        s["decisions"] = s["decisions"][7:8]  # capped
        s["lines"] = s["lines"][4:5]  # capped
        s["totals"] = s["totals"][:1]
        s["postings"] = s["postings"][:1]
        s["facility"] = {"cash": "1.00", "outstanding": "2.00", "drawn": "3.00"}
        enc = vs.canonical_bytes(vs.parse_statement(s))
        leaves: list[str] = []
        for path in enc.paths:
            if not path.endswith((" (count)", " (length)", " (option tag)")):
                leaf = re.sub(r"\[\d+\]", "", path).split(".")[-1]
                if not leaves or leaves[-1] != leaf:
                    leaves.append(leaf)
        self.assertEqual(leaves, doc_fields)
        self.assertIn("option<(i64 cash, i64 outstanding, i64 drawn)>   facility", block)
        self.assertIn("option<(u64 seq, string period, u64 log_position)>   previous", block)

    def test_strict_json(self) -> None:
        raw = json.dumps(A["statement"])
        self.assert_fails(None, "invalid JSON: duplicate key 'final'", raw=raw[:-1] + ', "final": true}')
        self.assert_fails(None, "invalid JSON", raw=raw[:-1])
        self.assert_fails(None, "invalid JSON: invalid constant NaN", raw=raw.replace('"final": false', '"final": NaN'))
        s = self.bare(A)
        s["note"] = "unhashed text"
        self.assert_fails(s, "statement: unknown field 'note'")
        s = self.bare(A)
        del s["facility"]
        self.assert_fails(s, "statement: missing field 'facility'")
        s = self.bare(A)
        s["lines"][0]["calc"] = "\ud800"
        self.assert_fails(s, "lines[0].calc is not valid UTF-8", raw=json.dumps(s))
        v = self.vector(A)
        v["extra"] = 1
        self.assert_fails(v, "vector: unknown field 'extra'")

    def test_usage_errors_exit_2(self) -> None:
        self.assertEqual(run().returncode, 2)
        self.assertEqual(run("a.json", "b.json").returncode, 2)
        proc = run(os.path.join(self.tmp, "absent.json"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("cannot read", proc.stderr)

    def test_failure_exits_1_with_one_line(self) -> None:
        s = self.bare(A)
        s["hash"] = "00" * 32
        path = self.write(s)
        proc = run(path)
        self.assertEqual((proc.returncode, proc.stdout), (1, ""))
        self.assertRegex(proc.stderr, ERROR_LINE)
        self.assertTrue(proc.stderr.startswith(f"{path}: hash: the statement says "), proc.stderr)


if __name__ == "__main__":
    unittest.main()
