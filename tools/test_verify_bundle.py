#!/usr/bin/env python3
"""Self-tests for tools/verify_bundle.py against the golden bundle vector.

tests/vectors/bundle-demo-settlement.json is the demo ledger's 2024-Q3 statement bundle,
written by `pbr bundle` (a Rust test keeps it byte-stable). The genuine vector must verify,
and every tampered copy must be rejected with the failure it contains.

Run: python3 -m unittest tools/test_verify_bundle.py   or   python3 tools/test_verify_bundle.py
Needs: blake3, PyNaCl.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import verify_bundle as vb  # noqa: E402
import verify_statement as vs  # noqa: E402
from blake3 import blake3  # noqa: E402

VERIFIER = os.path.join(HERE, "verify_bundle.py")
VECTOR = os.path.join(HERE, "..", "tests", "vectors", "bundle-demo-settlement.json")
# The demo jobcentre's and provider's verifier keys (crates/pbr-ledger/src/sample.rs; their
# seeds are public), which co-sign the demo checkpoint.
JOBCENTRE = "aalborg-jobcenter+29d3dfbd+Ab5Vk6ZAUYwGQzwWH/3L+4zDBEdA/bp0KiHLFR0OHG8q"
PROVIDER = "fokus-provider+2fe9f922+AZHJBJeT9ho37sTCyF1iek2DhEWjXHW9LT9xHyrQgRV2"
INVESTOR = "dsk-investor+4f7b00ad+AVPksDUJW1y/mPao0znqvJobb2FJoq+gShz9Nla099pJ"
KEYS = ["--key", JOBCENTRE, "--key", PROVIDER]

with open(VECTOR, encoding="utf-8") as f:
    GENUINE: dict[str, Any] = json.load(f)
STATEMENT_SEQ = GENUINE["request"]["settlement"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The verifier as a separate process, as CI and auditors run it."""
    return subprocess.run([sys.executable, VERIFIER, *args], capture_output=True, text=True)


def run_here(*args: str) -> subprocess.CompletedProcess[str]:
    """vb.main() in this process, captured like `run` (fast, for the many tamper cases)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = vb.main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def flip(text: str, at: int) -> str:
    return text[:at] + ("1" if text[at] == "0" else "0") + text[at + 1:]


def record_of(b: dict[str, Any], seq: int) -> dict[str, Any]:
    return next(r for r in b["records"] if r["seq"] == seq)


def remove(b: dict[str, Any], seq: int, from_manifest: bool) -> None:
    b["records"] = [r for r in b["records"] if r["seq"] != seq]
    if from_manifest:
        for name in vb.MANIFEST_KEYS:
            b["manifest"][name] = [s for s in b["manifest"][name] if s != seq]


class BundleTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, doc: Any, name: str = "bundle.json") -> str:
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return path

    def rejected(self, tamper: Callable[[dict[str, Any]], None], expected: str, *keys: str) -> None:
        b = copy.deepcopy(GENUINE)
        tamper(b)
        path = self.write(b)
        result = run_here(path, *(keys or KEYS))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertTrue(result.stderr.startswith(f"{path}: "), result.stderr)
        self.assertIn(expected, result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, "one line")


class GenuineTest(BundleTest):
    def test_the_vector_verifies_in_a_separate_process(self) -> None:
        result = run(VECTOR, *KEYS)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith(f"ok: bundle of statement seq {STATEMENT_SEQ} "))
        self.assertIn("signed by aalborg-jobcenter+29d3dfbd, fokus-provider+2fe9f922", result.stdout)
        self.assertIn("quorum of impact60-demo met", result.stdout)

    def test_python_writes_the_same_bytes_as_pbr(self) -> None:
        """The layout of §10.1: json.dumps(indent=2, ensure_ascii=False) and a newline."""
        with open(VECTOR, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(json.dumps(GENUINE, indent=2, ensure_ascii=False) + "\n", text)

    def test_the_bundled_statement_is_the_hash_its_record_signs(self) -> None:
        s = GENUINE["statements"][0]["statement"]
        issued = record_of(GENUINE, STATEMENT_SEQ)["event"]["payload"]
        self.assertEqual(vs.statement_hash(s), issued["statement_hash"])

    def test_one_quorum_signer_is_enough_to_verify_but_the_quorum_is_not_met(self) -> None:
        result = run_here(self.write(GENUINE), "--key", PROVIDER)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("quorum of impact60-demo not met: missing aalborg-jobcenter+29d3dfbd", result.stdout)

    def test_the_bundle_keys_are_trusted_only_when_asked_with_a_warning(self) -> None:
        path = self.write(GENUINE)
        result = run_here(path)
        self.assertEqual(result.returncode, 1)
        self.assertIn("no trusted keys", result.stderr)
        result = run_here(path, "--trust-bundle-keys")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("not a trust anchor", result.stderr)


class TamperTest(BundleTest):
    """Each tamper the issue names, and the other lies a bundle can tell, is rejected."""

    cited = GENUINE["statements"][0]["statement"]["lines"][0]["events"][0]

    def test_a_flipped_byte_in_a_record(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            r = record_of(b, self.cited)
            r["record_hex"] = flip(r["record_hex"], 60)
        self.rejected(tamper, f"seq {self.cited}: the record bytes do not hash to its leaf_hash")

    def test_a_flipped_byte_with_its_leaf_hash_recomputed(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            r = record_of(b, self.cited)
            r["record_hex"] = flip(r["record_hex"], 60)
            r["leaf_hash"] = blake3(b"\x00" + bytes.fromhex(r["record_hex"])).hexdigest()
        self.rejected(tamper, f"seq {self.cited}: the inclusion path does not lead to the checkpoint's root")

    def test_a_flipped_signature_byte_with_hashes_and_path_unchanged_fails_the_leaf(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            r = record_of(b, self.cited)
            r["record_hex"] = flip(r["record_hex"], len(r["record_hex"]) - 2)
        self.rejected(tamper, f"seq {self.cited}: the record bytes do not hash to its leaf_hash")

    def test_a_missing_record(self) -> None:
        self.rejected(lambda b: remove(b, self.cited, False),
                      f"manifest.cited lists seq {self.cited}, but the bundle has no record of it")

    def test_a_missing_record_left_out_of_the_manifest_too(self) -> None:
        self.rejected(lambda b: remove(b, self.cited, True),
                      f"seq {self.cited}, cited by line 1 of the statement issued at seq {STATEMENT_SEQ}, "
                      "is missing from the bundle")

    def test_a_missing_previous_statement(self) -> None:
        previous = GENUINE["statements"][0]["statement"]["previous"]["seq"]
        self.rejected(lambda b: remove(b, previous, True),
                      f"the previous statement it names (seq {previous}, 2024-Q2)")

    def test_a_missing_contract_record(self) -> None:
        self.rejected(lambda b: remove(b, 0, True),
                      "no bundled contract record before it gives 'aalborg-jobcenter' a key")

    def test_a_forged_checkpoint_signature(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            note = b["checkpoint"]
            # Base64 character 56 after the space is in byte 42 of key id (4) ‖ R (32) ‖ S
            # (32): a low-order byte of S, so the signature stays well-formed and only fails
            # to verify (a byte of R could make it no curve point at all).
            at = note.rindex(" ") + 1 + 56
            b["checkpoint"] = note[:at] + ("A" if note[at] != "A" else "B") + note[at + 1:]
        self.rejected(tamper, "checkpoint: signature by trusted key 'fokus-provider': signature does not verify")

    def test_a_checkpoint_signed_by_no_trusted_key(self) -> None:
        self.rejected(lambda b: None, "checkpoint has no valid signature from a trusted key", "--key", INVESTOR)

    def test_a_changed_statement_amount(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            b["statements"][0]["statement"]["lines"][0]["amount"] = "99999.00"
        self.rejected(tamper, f"the statement issued at seq {STATEMENT_SEQ}: postings[0].amount")

    def test_a_rewritten_statement_with_its_own_hash_recomputed(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            s = b["statements"][0]["statement"]
            s["lines"][0]["calc"] = "agreed by phone"
            s["hash"] = vs.statement_hash(s)
            b["statements"][0]["explanation"][0]["calc"] = "agreed by phone"
        self.rejected(tamper, "is not the statement_hash")

    def test_a_decoded_event_that_is_not_its_bytes(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            record_of(b, self.cited)["event"]["date"] = "2024-01-01"
        self.rejected(tamper, f"seq {self.cited}: event.date does not match the record's event bytes")

    def test_an_edited_explanation(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            b["statements"][0]["explanation"][1]["calc"] = "= 0.00"
        self.rejected(tamper, "explanation.calc of line 2 does not match the statement and its records")

    def test_an_explanation_citing_the_wrong_kind(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            b["statements"][0]["explanation"][0]["events"][0]["kind"] = "outcome-verified"
        self.rejected(tamper, "explanation.events of line 1 does not match")

    def test_a_dropped_explanation_line(self) -> None:
        self.rejected(lambda b: b["statements"][0]["explanation"].pop(),
                      "the explanation covers lines [1], but the lines in scope are [1, 2]")

    def test_records_out_of_order(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            b["records"][1], b["records"][2] = b["records"][2], b["records"][1]
        self.rejected(tamper, "records[2]: seq")

    def test_an_unlisted_record(self) -> None:
        self.rejected(lambda b: b["manifest"]["cited"].remove(self.cited),
                      f"seq {self.cited} is in the bundle but not in its manifest")

    def test_a_cited_list_that_claims_too_much(self) -> None:
        self.rejected(lambda b: b["manifest"]["cited"].insert(0, 0),
                      "manifest.cited lists seq 0, which nothing in the bundle cites")

    def test_another_statement_than_asked_for(self) -> None:
        self.rejected(lambda b: b["request"].update(settlement=137),
                      "a settlement bundle holds exactly the statement issued at seq 137")

    def test_a_checkpoint_of_another_ledger(self) -> None:
        self.rejected(lambda b: b.update(origin="elsewhere.example/x"), "checkpoint: it is of ledger")


class UnreadableTest(BundleTest):
    def test_files_that_are_not_bundles_exit_2(self) -> None:
        for text, expected in [("not json", "not JSON"), ("[]", "not a dispute bundle"),
                               ('{"format": "pbr bundle v0"}', "not a dispute bundle: format is 'pbr bundle v0'")]:
            result = run_here(self.write(text), *KEYS)
            self.assertEqual(result.returncode, 2, text)
            self.assertIn(expected, result.stderr)
        result = run_here(os.path.join(self.dir.name, "missing.json"), *KEYS)
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot read", result.stderr)

    def test_a_malformed_key_is_a_usage_error(self) -> None:
        result = run_here(VECTOR, "--key", "nobody")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--key", result.stderr)


class RulesTest(unittest.TestCase):
    """§10.3's relevance rules, on synthetic events."""

    @staticmethod
    def event(kind: str, participant: str | None = None, **payload: Any) -> tuple[dict[str, Any], bytes]:
        return {"kind": kind, "participant": participant, "payload": payload}, b""

    def test_refs_names_every_seq_field(self) -> None:
        self.assertEqual(vb.refs(self.event("outcome-clawed-back", claim_seq=4)[0]), [4])
        self.assertEqual(vb.refs(self.event("correction", retracts_seq=9)[0]), [9])
        self.assertEqual(vb.refs(self.event("dispute-opened", about_seq=2)[0]), [2])
        self.assertEqual(vb.refs(self.event("dispute-resolved", dispute_seq=3)[0]), [3])
        self.assertEqual(vb.refs(self.event("payment-recorded", settlement_seq=None)[0]), [])
        self.assertEqual(vb.refs(self.event("monthly-status-recorded")[0]), [])

    def test_a_participant_record_names_them_or_refers_to_one_that_does(self) -> None:
        p = "ab" * 32
        events = {
            1: self.event("participant-enrolled", p),
            2: self.event("dispute-opened", None, about_seq=1),
            3: self.event("dispute-resolved", None, dispute_seq=2),
        }
        b = {"manifest": {"contract": [], "participant": [1, 2, 3], "settlements": [], "cited": [1, 2]},
             "statements": []}
        vb.check_manifest(b, events, f"participant:{p}")
        events[4] = self.event("cost-recorded", None)
        b["manifest"]["participant"] = [1, 2, 3, 4]
        with self.assertRaises(vb.VerifyError) as e:
            vb.check_manifest(b, events, f"participant:{p}")
        self.assertIn("seq 4 is listed as about participant", e.exception.reason)

    def test_seq_lists_count_up(self) -> None:
        self.assertEqual(vb.seq_list([1, 5, 9], "x"), [1, 5, 9])
        for bad in ([2, 2], [3, 1], [-1], ["1"], None):
            with self.assertRaises(vb.VerifyError):
                vb.seq_list(bad, "x")


if __name__ == "__main__":
    unittest.main()
