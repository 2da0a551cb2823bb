#!/usr/bin/env python3
"""Self-tests for tools/verify_bundle.py (format 2).

tests/vectors/bundle-demo-settlement.json is the demo ledger's 2024-Q3 statement bundle,
written by `pbr bundle` (a Rust test keeps it byte-stable). The tests re-key it: every bundled
record is re-signed with test event keys (the terms rewritten to name them, their witness keys
and a test log key), the tree of the checkpoint's size is rebuilt around the bundled records'
new leaves, and a checkpoint is signed by the test log key and cosigned by the quorum's
witness keys. That genuine format-2 bundle must verify, and every tampered copy must be
rejected with the failure it contains. The vector itself is checked too: under the demo's
policy when `pbr` has rewritten it in format 2, refused while it is still format 1.

Run: python3 -m unittest tools/test_verify_bundle.py   or   python3 tools/test_verify_bundle.py
Needs: blake3, PyNaCl.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import functools
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_test_export as mk  # noqa: E402
import verify_bundle as vb  # noqa: E402
import verify_statement as vs  # noqa: E402
from blake3 import blake3  # noqa: E402

VERIFIER = os.path.join(HERE, "verify_bundle.py")
VECTOR = os.path.join(HERE, "..", "tests", "vectors", "bundle-demo-settlement.json")
# The demo ledger's trust policy (docs/format.md §4.4; `pbr demo` writes it to DIR/demo-keys/policy).
DEMO_POLICY = """\
log demo.pbr.example/impact60+920324bf+AU75q9NFJxTd5msW+xdBjL55xRmko52K0FnCsjAPNnrv
witness aalborg-jobcenter aalborg-jobcenter-witness+1045156a+BN8q8GeZhXJyGEzgZTjIX4NeD0AwdMcbDGRbFKTux+Y3
witness fokus-provider fokus-provider-witness+25792e3d+BP7skQ72qm+m2ifzjdIZ2Z88PFICtbi6EoJvZLMEvw66
group quorum all aalborg-jobcenter fokus-provider
quorum quorum
"""

with open(VECTOR, encoding="utf-8") as f:
    VECTOR_DOC: dict[str, Any] = json.load(f)
STATEMENT_SEQ = VECTOR_DOC["request"]["settlement"]
ORIGIN = VECTOR_DOC["origin"]
QUORUM = ["aalborg-jobcenter", "fokus-provider"]  # the demo terms' [checkpoint] quorum


# ------------------------------------------------------------- re-keying

def event_key(party: str) -> mk.Signer:
    return party, mk.signing_key("bundle event " + party)


def witness_key(party: str) -> mk.Signer:
    return f"{party}-witness", mk.signing_key("bundle witness " + party)


LOG = (ORIGIN, mk.signing_key("bundle log"))
MALLORY_LOG = (ORIGIN, mk.signing_key("bundle mallory log"))


def vkey(signer: mk.Signer, kind: int = 1) -> str:
    return mk.verifier_key(signer[0], mk.public_key(signer[1]), kind)


def label(text: str) -> str:
    return "+".join(text.split("+", 2)[:2])


LOG_VKEY = vkey(LOG)
WITNESS_VKEYS = {p: vkey(witness_key(p), 4) for p in QUORUM}
POLICY_TEXT = (f"log {LOG_VKEY}\n" + "".join(f"witness {p} {WITNESS_VKEYS[p]}\n" for p in QUORUM)
               + f"group quorum all {' '.join(QUORUM)}\nquorum quorum\n")


def rewrite_terms(terms: str) -> str:
    """The terms naming the test keys: each party's `key` and `witness-key`, and `[log]`."""
    out: list[str] = []
    party, in_log = None, False
    for line in terms.split("\n"):
        if line.startswith("[log]"):
            in_log = True
            continue
        if in_log:
            if not line.startswith("["):
                continue
            in_log = False
        if line.startswith("[[parties]]"):
            party = None
            if not any(x.startswith("[log]") for x in out):
                out += ["[log]", f'origin = "{ORIGIN}"', f'key = "{LOG_VKEY}"', ""]
        m = re.fullmatch(r'id = "(.*)"', line)
        if m:
            party = m[1]
        if line.startswith("witness-key = "):
            continue
        if line.startswith("key = ") and party is not None:
            out += [f'key = "{vkey(event_key(party))}"', f'witness-key = "{vkey(witness_key(party), 4)}"']
            continue
        out.append(line)
    return "\n".join(out)


def rekey(doc: dict[str, Any], terms_edit: Callable[[str], str] = lambda t: t,
          cosigners: list[str] = QUORUM, log: mk.Signer = LOG, origin: str = ORIGIN,
          body_edit: Callable[[str], str] = lambda b: b) -> dict[str, Any]:
    """A format-2 bundle with the same records, re-signed by test keys (see the module doc)."""
    b = copy.deepcopy(doc)
    size = int(doc["checkpoint"].split("\n")[1])
    leaves = [hashlib.sha256(b"filler %d" % i).digest() for i in range(size)]
    for r in b["records"]:
        event = r["event"]
        if event["kind"] in ("contract-registered", "contract-amended"):
            terms = terms_edit(rewrite_terms(event["payload"]["terms"]))
            event["payload"]["terms"] = terms
            event["payload"]["terms_hash"] = blake3(terms.encode()).hexdigest()
        if event["kind"] == "party-registered":
            event["payload"]["public_key"] = mk.public_key(event_key(event["payload"]["party"])[1]).hex()
        raw = mk.encode_event(event)
        record = mk.sign_event(event_key(event["author"])[1], raw)
        r["record_hex"] = record.hex()
        leaves[r["seq"]] = mk.leaf_hash(record)
    for r in b["records"]:
        r["leaf_hash"] = leaves[r["seq"]].hex()
        r["path"] = [h.hex() for h in mk.inclusion_path(r["seq"], leaves)]
    body = body_edit(mk.note_body(origin, size, mk.mth(leaves)))
    b["checkpoint"] = mk.signed_note(body, log, [witness_key(p) for p in cosigners], time=1_768_435_200)
    b["untrusted_verifier_keys"] = sorted([LOG_VKEY, *(vkey(witness_key(p), 4) for p in cosigners)])
    return b


@functools.cache
def genuine() -> dict[str, Any]:
    return rekey(VECTOR_DOC)


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


def edit_line(b: dict[str, Any], name: str, change: Callable[[bytearray], None]) -> None:
    """Change the decoded bytes of the signature line of key `name` in the checkpoint."""
    lines = b["checkpoint"].split("\n")
    i = next(i for i, x in enumerate(lines) if x.startswith(f"\u2014 {name} "))
    raw = bytearray(base64.b64decode(lines[i].split(" ")[2]))
    change(raw)
    lines[i] = f"\u2014 {name} {base64.b64encode(raw).decode()}"
    b["checkpoint"] = "\n".join(lines)


class BundleTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.policy = self.write(POLICY_TEXT, "policy")
        self.keys = ["--policy", self.policy]

    def write(self, doc: Any, name: str = "bundle.json") -> str:
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return path

    def rejected(self, tamper: Callable[[dict[str, Any]], Any], expected: str, *keys: str,
                 base: dict[str, Any] | None = None) -> None:
        b = copy.deepcopy(base or genuine())
        tamper(b)
        path = self.write(b)
        result = run_here(path, *(keys or self.keys))
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertTrue(result.stderr.startswith(f"{path}: "), result.stderr)
        self.assertIn(expected, result.stderr)
        self.assertEqual(result.stderr.count("\n"), 1, "one line")

    def accepted(self, b: dict[str, Any], *keys: str) -> str:
        result = run_here(self.write(b), *(keys or self.keys))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith("ok: "), result.stdout)
        return result.stdout


class GenuineTest(BundleTest):
    def test_the_bundle_verifies_in_a_separate_process(self) -> None:
        result = run(self.write(genuine()), *self.keys)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith(f"ok: bundle of statement seq {STATEMENT_SEQ} "))
        self.assertIn(f"signed by log key {label(LOG_VKEY)}, cosigned by aalborg-jobcenter, fokus-provider "
                      "(quorum all of (aalborg-jobcenter, fokus-provider) met)", result.stdout)
        self.assertIn("quorum of impact60-demo (all) met", result.stdout)

    def test_trust_given_as_keys(self) -> None:
        keys = [a for k in [LOG_VKEY, *WITNESS_VKEYS.values()] for a in ("--key", k)]
        self.assertIn("quorum of impact60-demo (all) met", self.accepted(genuine(), *keys))
        out = self.accepted(genuine(), "--key", LOG_VKEY)  # the log key alone: no quorum required
        self.assertIn("cosigned by no trusted witness (no quorum required)", out)
        self.assertIn("quorum of impact60-demo (all) not met: missing aalborg-jobcenter "
                      f"({label(WITNESS_VKEYS['aalborg-jobcenter'])}), fokus-provider", out)
        out = self.accepted(genuine(), "--key", LOG_VKEY, "--key", WITNESS_VKEYS["fokus-provider"])
        self.assertIn("quorum of impact60-demo (all) not met: missing aalborg-jobcenter", out)

    def test_python_writes_the_same_bytes_as_pbr(self) -> None:
        """The layout of §10.1: json.dumps(indent=2, ensure_ascii=False) and a newline."""
        with open(VECTOR, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(json.dumps(VECTOR_DOC, indent=2, ensure_ascii=False) + "\n", text)

    def test_the_vector_written_by_pbr(self) -> None:
        """Verifies under the demo policy once pbr writes it in format 2; refused while format 1."""
        result = run_here(VECTOR, "--policy", self.write(DEMO_POLICY, "demo-policy"))
        if VECTOR_DOC["checkpoint"].split("\n\n")[0].count("\n") == 2:
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn("quorum of impact60-demo (all) met", result.stdout)
        else:
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn("checkpoint has 2 extension line(s) after the root", result.stderr)

    def test_the_bundled_statement_is_the_hash_its_record_signs(self) -> None:
        s = genuine()["statements"][0]["statement"]
        issued = record_of(genuine(), STATEMENT_SEQ)["event"]["payload"]
        self.assertEqual(vs.statement_hash(s), issued["statement_hash"])

    def test_the_bundle_keys_are_trusted_only_when_asked_with_a_warning(self) -> None:
        path = self.write(genuine())
        result = run_here(path)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no trust input", result.stderr)
        result = run_here(path, "--trust-bundle-keys")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("not a trust anchor", result.stderr)
        self.assertIn("quorum all of (aalborg-jobcenter-witness, fokus-provider-witness", result.stdout)


class TamperTest(BundleTest):
    """Each tamper the issue names, and the other lies a bundle can tell, is rejected."""

    cited = VECTOR_DOC["statements"][0]["statement"]["lines"][0]["events"][0]

    def test_a_flipped_byte_in_a_record(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            r = record_of(b, self.cited)
            r["record_hex"] = flip(r["record_hex"], 60)
        self.rejected(tamper, f"seq {self.cited}: the record bytes do not hash to its leaf_hash")

    def test_a_flipped_byte_with_its_leaf_hash_recomputed(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            r = record_of(b, self.cited)
            r["record_hex"] = flip(r["record_hex"], 60)
            r["leaf_hash"] = hashlib.sha256(b"\x00" + bytes.fromhex(r["record_hex"])).hexdigest()
        self.rejected(tamper, f"seq {self.cited}: the inclusion path does not lead to the checkpoint's root")

    def test_a_format_1_leaf_hash(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            r = record_of(b, self.cited)
            r["leaf_hash"] = blake3(b"\x00" + bytes.fromhex(r["record_hex"])).hexdigest()
        self.rejected(tamper, f"seq {self.cited}: the record bytes do not hash to its leaf_hash")

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
        previous = VECTOR_DOC["statements"][0]["statement"]["previous"]["seq"]
        self.rejected(lambda b: remove(b, previous, True),
                      f"the previous statement it names (seq {previous}, 2024-Q2)")

    def test_a_missing_contract_record(self) -> None:
        self.rejected(lambda b: remove(b, 0, True),
                      "no bundled contract record before it gives 'aalborg-jobcenter' a key")

    def test_a_forged_cosignature(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            def change(raw: bytearray) -> None:
                raw[50] ^= 1  # a low-order byte of S (bytes 44..75): well-formed, does not verify
            edit_line(b, "fokus-provider-witness", change)
        self.rejected(tamper, f"checkpoint: the cosignature of {label(WITNESS_VKEYS['fokus-provider'])}: "
                              "signature does not verify")

    def test_a_cosignature_with_another_time(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            def change(raw: bytearray) -> None:
                raw[11] ^= 1  # the timestamp's last byte
            edit_line(b, "aalborg-jobcenter-witness", change)
        self.rejected(tamper, "the cosignature of aalborg-jobcenter-witness")

    def test_a_forged_log_signature(self) -> None:
        def tamper(b: dict[str, Any]) -> None:
            def change(raw: bytearray) -> None:
                raw[40] ^= 1  # a low-order byte of S (bytes 36..67)
            edit_line(b, ORIGIN, change)
        self.rejected(tamper, f"checkpoint: the signature of {label(LOG_VKEY)}: signature does not verify")

    def test_a_missing_cosignature(self) -> None:
        one = rekey(VECTOR_DOC, cosigners=["aalborg-jobcenter"])
        self.rejected(lambda b: None, "checkpoint does not meet the quorum all of (aalborg-jobcenter, "
                                      "fokus-provider): cosigned by aalborg-jobcenter", base=one)
        # what the trust input does not ask for is reported
        out = self.accepted(one, "--key", LOG_VKEY, "--key", WITNESS_VKEYS["aalborg-jobcenter"])
        self.assertIn("quorum of impact60-demo (all) not met: missing fokus-provider", out)
        none = rekey(VECTOR_DOC, cosigners=[])
        self.rejected(lambda b: None, "cosigned by no witness you trust", base=none)

    def test_an_untrusted_log_key(self) -> None:
        self.rejected(lambda b: None, f"checkpoint: no signature by the log key of {ORIGIN!r} ({label(LOG_VKEY)})",
                      base=rekey(VECTOR_DOC, log=MALLORY_LOG))
        self.rejected(lambda b: None, "no signature by the log key", "--key", vkey(MALLORY_LOG))

    def test_a_checkpoint_of_another_ledger(self) -> None:
        self.rejected(lambda b: b.update(origin="elsewhere.example/x"), "checkpoint: it is of ledger")
        other = rekey(VECTOR_DOC, log=("elsewhere.example/x", LOG[1]), origin="elsewhere.example/x")
        self.rejected(lambda b: b.update(origin="elsewhere.example/x"),
                      "checkpoint: origin 'elsewhere.example/x' is not a log of your trust input", base=other)

    def test_a_checkpoint_with_an_extension_line(self) -> None:
        extended = rekey(VECTOR_DOC, body_edit=lambda body: body + "extension\n")
        self.rejected(lambda b: None, "checkpoint has 1 extension line(s) after the root", base=extended)

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

    def test_malformed_bundle_keys(self) -> None:
        self.rejected(lambda b: b["untrusted_verifier_keys"].append("nobody"),
                      "untrusted_verifier_keys: malformed verifier key")


class TermsTest(BundleTest):
    """What the contract's terms say about keys and the quorum."""

    def test_a_threshold_in_the_terms(self) -> None:
        one_of_two = rekey(VECTOR_DOC, cosigners=["fokus-provider"], terms_edit=lambda t: t.replace(
            'quorum = ["aalborg-jobcenter", "fokus-provider"]',
            'quorum = ["aalborg-jobcenter", "fokus-provider"]\nthreshold = 1'))
        keys = [a for k in [LOG_VKEY, *WITNESS_VKEYS.values()] for a in ("--key", k)]
        out = self.accepted(one_of_two, *keys, "--quorum", "1")
        self.assertIn("quorum of impact60-demo (1 of 2) met", out)

    def test_a_quorum_party_without_a_witness_key(self) -> None:
        def drop(terms: str) -> str:
            return re.sub(r'witness-key = "aalborg-jobcenter-witness[^"]*"\n', "", terms)
        out = self.accepted(rekey(VECTOR_DOC, terms_edit=drop))
        self.assertIn("quorum of impact60-demo (all) not met: missing aalborg-jobcenter (no witness key)", out)

    def test_terms_naming_another_log_key(self) -> None:
        other = vkey((ORIGIN, mk.signing_key("another log")))
        out = self.accepted(rekey(VECTOR_DOC, terms_edit=lambda t: t.replace(LOG_VKEY, other)))
        self.assertIn(f"the terms of impact60-demo name the log key {label(other)}, not {label(LOG_VKEY)}", out)

    def test_one_public_key_two_uses(self) -> None:
        def same(terms: str) -> str:  # fokus's witness key is its event key, as type 0x04
            pk = mk.public_key(event_key("fokus-provider")[1])
            return terms.replace(vkey(witness_key("fokus-provider"), 4), mk.verifier_key("fokus-provider-witness", pk, 4))
        self.rejected(lambda b: None, "seq 0: the terms give one public key two uses (the event key of "
                                      "'fokus-provider' and the witness key of 'fokus-provider')",
                      base=rekey(VECTOR_DOC, terms_edit=same))

    def test_a_witness_key_of_the_wrong_type(self) -> None:
        def wrong(terms: str) -> str:
            return terms.replace(vkey(witness_key("fokus-provider"), 4), vkey(witness_key("fokus-provider"), 1))
        self.rejected(lambda b: None, "the witness-key of party 'fokus-provider' is not a witness verifier key",
                      base=rekey(VECTOR_DOC, terms_edit=wrong))


class UnreadableTest(BundleTest):
    def test_files_that_are_not_bundles_exit_2(self) -> None:
        for text, expected in [("not json", "not JSON"), ("[]", "not a dispute bundle"),
                               ('{"format": "pbr bundle v0"}', "not a dispute bundle: format is 'pbr bundle v0'")]:
            result = run_here(self.write(text), *self.keys)
            self.assertEqual(result.returncode, 2, text)
            self.assertIn(expected, result.stderr)
        result = run_here(os.path.join(self.dir.name, "missing.json"), *self.keys)
        self.assertEqual(result.returncode, 2)
        self.assertIn("cannot read", result.stderr)

    def test_usage_errors_exit_2(self) -> None:
        path = self.write(genuine())
        result = run_here(path, "--key", "nobody")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--key: malformed verifier key", result.stderr)
        bad = self.write(f"log {LOG_VKEY}\nquorum nobody\n", "bad-policy")
        result = run_here(path, "--policy", bad)
        self.assertEqual(result.returncode, 2)
        self.assertIn(f"{bad}:2: quorum 'nobody' is not defined", result.stderr)
        for args in (["--policy", self.policy, "--key", LOG_VKEY], ["--policy", self.policy, "--trust-bundle-keys"],
                     ["--key", LOG_VKEY, "--quorum", "1"]):
            with self.subTest(args=args):
                result = run_here(path, *args)
                self.assertEqual(result.returncode, 2, result.stderr)


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
