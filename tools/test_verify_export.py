#!/usr/bin/env python3
"""Self-tests for tools/verify_export.py (format 2) against exports made by tools/make_test_export.py,
the C2SP / RFC 6962 interop vectors in ../shared/interop/vectors/, and the Rust-written vectors.

Run: python3 -m unittest discover -s tools -p 'test_*.py'   or   python3 tools/test_verify_export.py
Needs: blake3, PyNaCl.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections.abc import Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_test_export as mk  # noqa: E402
from blake3 import blake3  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402
import verify_export as ve  # noqa: E402

VERIFIER = os.path.join(HERE, "verify_export.py")
INTEROP = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "interop", "vectors"))
if not os.path.isdir(INTEROP):
    INTEROP = "/work/shared/interop/vectors"
L = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes.fromhex("01" + "00" * 31)
SMALL_ORDER = [bytes.fromhex(h) for h in (  # the 8 points of order 1, 2, 4, 8 (canonical encodings)
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0000000000000000000000000000000000000000000000000000000000000080",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa")]
ERROR_LINE = re.compile(r"^[^\n]+?(:\d+)?: [^\n]+\n$")

PARTIES = mk.parties()  # event keys: alice, bob
LOG = mk.log_signer()  # the log key, named after the origin
WITS = mk.witnesses()  # alice-witness, bob-witness
MALLORY = ("mallory", mk.signing_key("mallory"))
MALLORY_LOG = (mk.ORIGIN, mk.signing_key("mallory log"))  # the origin's name, another key
MALLORY_WIT = ("mallory-witness", mk.signing_key("mallory-witness"))
LOG_VKEY = mk.log_vkey()
LOG_LABEL = "+".join(LOG_VKEY.split("+", 2)[:2])  # name+keyid
WIT_VKEYS = mk.witness_vkeys()
VKEYS = [LOG_VKEY, *WIT_VKEYS]
KEY_ARGS = [a for k in VKEYS for a in ("--key", k)]
TMP = tempfile.TemporaryDirectory()
POLICY = os.path.join(TMP.name, "policy")
with open(POLICY, "w", encoding="utf-8") as _f:
    _f.write(mk.policy_text())
POLICY_ARGS = ["--policy", POLICY]
# The demo ledger's trust policy (docs/format.md §4.4; `pbr demo` writes it to DIR/demo-keys/policy).
DEMO_POLICY = """\
log demo.pbr.example/impact60+920324bf+AU75q9NFJxTd5msW+xdBjL55xRmko52K0FnCsjAPNnrv
witness aalborg-jobcenter aalborg-jobcenter-witness+1045156a+BN8q8GeZhXJyGEzgZTjIX4NeD0AwdMcbDGRbFKTux+Y3
witness fokus-provider fokus-provider-witness+25792e3d+BP7skQ72qm+m2ifzjdIZ2Z88PFICtbi6EoJvZLMEvw66
group quorum all aalborg-jobcenter fokus-provider
quorum quorum
"""


def tearDownModule() -> None:
    TMP.cleanup()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The verifier as a separate process, as CI and auditors run it."""
    return subprocess.run([sys.executable, VERIFIER, *args], capture_output=True, text=True)


def run_here(*args: str) -> subprocess.CompletedProcess[str]:
    """ve.main() in this process, captured like `run` (fast, for the many tamper cases)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = ve.main(list(args))
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def policy_of(text: str) -> ve.Policy:
    return ve.parse_policy(text.encode(), "test policy")


class Base(unittest.TestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.count = 0

    def tearDown(self) -> None:
        self._tmp.cleanup()

    def write(self, text: str, suffix: str = ".jsonl") -> str:
        self.count += 1
        path = os.path.join(self.tmp, f"f{self.count}{suffix}")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        return path

    def assert_ok(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout.startswith("ok: "), proc.stdout)
        self.assertEqual(proc.stdout.count("\n"), 1)

    def assert_fails(self, proc: subprocess.CompletedProcess[str], reason: str | None = None) -> None:
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        self.assertNotIn("internal error", proc.stderr)
        self.assertRegex(proc.stderr, ERROR_LINE)
        if reason:
            self.assertIn(reason, proc.stderr)


def body_of(records: list[bytes], origin: str = mk.ORIGIN) -> str:
    return mk.note_body(origin, len(records), mk.tree_heads(records)[2])


def format1_lines(records: list[bytes]) -> list[str]:
    """A genuine format-1 export (docs/format.md Appendix A): BLAKE3 tree, chain over leaf hashes,
    a five-line checkpoint signed by the parties' event keys, no `format` field."""
    leaves = [blake3(b"\x00" + r).digest() for r in records]
    chains, prev = [], bytes(32)
    for leaf in leaves:
        prev = blake3(b"\x02" + prev + leaf).digest()
        chains.append(prev)

    def tree(hs: list[bytes]) -> bytes:
        if len(hs) == 1:
            return hs[0]
        k = 1 << ((len(hs) - 1).bit_length() - 1)
        return blake3(b"\x01" + tree(hs[:k]) + tree(hs[k:])).digest()

    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    body = f"{mk.ORIGIN}\n{len(records)}\n{b64(tree(leaves))}\nchain {b64(chains[-1])}\ntime 1700000000\n"
    note = body + "\n" + "".join(mk.sig_line(n, sk, body) for n, sk in PARTIES)
    lines = [json.dumps({"seq": i, "record_hex": r.hex(), "leaf_hash": leaves[i].hex(), "chain_hash": chains[i].hex(),
                         "event": mk.EVENTS.get(mk.event_bytes_of(r))}, separators=(",", ":"))
             for i, r in enumerate(records)]
    vkeys = [mk.verifier_key(n, mk.public_key(sk)) for n, sk in PARTIES]
    return lines + [json.dumps({"checkpoint": note, "verifier_keys": vkeys}, separators=(",", ":"))]


class ExportTests(Base):
    records = mk.make_records(20)

    def export(self, records: list[bytes], note: str | None = None, vkeys: list[str] = VKEYS,
               fmt: int | None = 2) -> list[str]:
        return mk.export_lines(records, note if note is not None else mk.checkpoint_for(records), vkeys, fmt)

    def verify_lines(self, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
        return run_here("export", self.write("".join(x + "\n" for x in lines)), *(args or POLICY_ARGS))

    def edit(self, lines: list[str], i: int, **fields: object) -> list[str]:
        obj = json.loads(lines[i])
        obj.update(fields)
        return lines[:i] + [json.dumps(obj)] + lines[i + 1:]

    def with_note(self, note: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.verify_lines(self.export(self.records, note), *args)

    def test_valid_export(self) -> None:
        proc = run("export", self.write("".join(x + "\n" for x in self.export(self.records))), *POLICY_ARGS)
        self.assert_ok(proc)
        self.assertIn("20 records", proc.stdout)
        self.assertIn(f"signed by log key {LOG_LABEL}", proc.stdout)
        self.assertIn("cosigned by alice-witness, bob-witness (quorum all of (alice-witness, bob-witness) met)",
                      proc.stdout)
        self.assertIn(mk.mth([mk.leaf_hash(r) for r in self.records]).hex(), proc.stdout)
        self.assertIn(mk.tree_heads(self.records)[1][-1].hex(), proc.stdout)  # the chain head
        self.assert_ok(run("export", self.write("".join(x + "\n" for x in self.export(self.records))), *KEY_ARGS))

    def test_trust_given_as_keys(self) -> None:
        lines = self.export(self.records)
        self.assert_ok(self.verify_lines(lines, "--key", LOG_VKEY, "--quorum", "0"))
        self.assert_ok(self.verify_lines(lines, "--key", LOG_VKEY))  # no witness keys: quorum none
        proc = self.verify_lines(lines, "--key", LOG_VKEY, "--key", WIT_VKEYS[1])  # all given = bob
        self.assert_ok(proc)
        self.assertIn("cosigned by bob-witness", proc.stdout)
        self.assert_ok(self.verify_lines(lines, *KEY_ARGS, "--key", LOG_VKEY))  # a repeated key counts once
        self.assert_fails(self.verify_lines(lines, *KEY_ARGS, "--quorum", "3"), "--quorum 3: there are 2 witness keys")
        self.assert_fails(self.verify_lines(lines, "--key", WIT_VKEYS[0]), "no log key")
        proc = self.verify_lines(lines, "--trust-export-keys")
        self.assert_ok(proc)
        self.assertIn("not a trust anchor", proc.stderr)

    def test_usage_errors_exit_2(self) -> None:
        path = self.write("".join(x + "\n" for x in self.export(self.records)))
        for args in ([], ["--policy", POLICY, "--key", LOG_VKEY], ["--policy", POLICY, "--quorum", "1"],
                     [*KEY_ARGS, "--quorum", "-1"]):
            with self.subTest(args=args):
                proc = run_here("export", path, *args)
                self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(run("inclusion", path).returncode, 2)
        self.assertEqual(run_here("export", path, "--policy", POLICY, "--trust-export-keys").returncode, 2)

    def test_generator_cli_and_sizes(self) -> None:
        for n in (0, 1, 2, 3, 7, 8, 9, 33):
            out, policy = os.path.join(self.tmp, f"gen{n}.jsonl"), os.path.join(self.tmp, f"gen{n}.policy")
            gen = subprocess.run([sys.executable, os.path.join(HERE, "make_test_export.py"), out, "-n", str(n),
                                  "--policy", policy], capture_output=True, text=True, check=True)
            keys = gen.stdout.split()
            self.assertEqual(keys, VKEYS)
            self.assert_ok(run_here("export", out, "--policy", policy))
            self.assert_ok(run_here("export", out, *[a for k in keys for a in ("--key", k)]))

    # ---- the records

    def test_flipped_record_byte(self) -> None:
        rec = self.records[5]
        for offset in (0, 3, 12, len(rec) - 100, len(rec) - 50, len(rec) - 1):
            bad = bytearray(rec)
            bad[offset] ^= 0x01
            lines = self.edit(self.export(self.records), 5, record_hex=bad.hex())
            self.assert_fails(self.verify_lines(lines), "seq 5")

    def test_dropped_record(self) -> None:
        lines = self.export(self.records)
        self.assert_fails(self.verify_lines(lines[:7] + lines[8:]), ":8: seq 8, expected 7")
        self.assert_fails(self.verify_lines(lines[:-2] + lines[-1:]), "checkpoint size 20 but the export has 19")
        # every hash recomputed, the genuine checkpoint kept
        dropped = self.export(self.records[:7] + self.records[8:], mk.checkpoint_for(self.records))
        self.assert_fails(self.verify_lines(dropped), "checkpoint size 20 but the export has 19")

    def test_duplicated_record(self) -> None:
        lines = self.export(self.records)
        self.assert_fails(self.verify_lines(lines[:8] + [lines[7]] + lines[8:]), ":9: seq 7, expected 8")
        twice = self.records[:8] + [self.records[7]] + self.records[8:19]  # still 20 records
        self.assert_fails(self.verify_lines(self.export(twice, mk.checkpoint_for(self.records))),
                          "checkpoint root does not match the recomputed Merkle root")

    def test_swapped_records(self) -> None:
        lines = self.export(self.records)
        swapped = lines[:3] + [lines[4], lines[3]] + lines[5:]
        self.assert_fails(self.verify_lines(swapped), ":4: seq 4, expected 3")
        renumbered = self.edit(self.edit(swapped, 3, seq=3), 4, seq=4)
        self.assert_fails(self.verify_lines(renumbered), "seq 3: chain_hash")
        records = self.records[:3] + [self.records[4], self.records[3]] + self.records[5:]
        self.assert_fails(self.verify_lines(self.export(records, mk.checkpoint_for(self.records))),
                          "checkpoint root does not match")

    def test_changed_leaf_and_chain_hash(self) -> None:
        lines = self.export(self.records)
        self.assert_fails(self.verify_lines(self.edit(lines, 2, leaf_hash="00" * 32)), "seq 2: leaf_hash")
        self.assert_fails(self.verify_lines(self.edit(lines, 2, leaf_hash="AB" * 32)), "lowercase hex")
        blake3_leaf = blake3(b"\x00" + self.records[2]).hexdigest()  # the format-1 leaf
        self.assert_fails(self.verify_lines(self.edit(lines, 2, leaf_hash=blake3_leaf)), "seq 2: leaf_hash")
        # the format-1 chain, over the leaf hash rather than the record bytes
        prev = mk.tree_heads(self.records)[1][1]
        old_chain = blake3(b"\x02" + prev + mk.leaf_hash(self.records[2])).hexdigest()
        self.assert_fails(self.verify_lines(self.edit(lines, 2, chain_hash=old_chain)), "seq 2: chain_hash")

    def rebuilt(self, i: int, record: bytes) -> list[str]:
        """An export whose record i is replaced, with every hash and the checkpoint recomputed."""
        records = self.records[:i] + [record] + self.records[i + 1:]
        return self.export(records)

    def test_layout_rules(self) -> None:
        rec = self.records[6]
        self.assert_fails(self.verify_lines(self.rebuilt(6, rec + b"\x00")), "seq 6: record has 1 trailing bytes")
        self.assert_fails(self.verify_lines(self.rebuilt(6, rec[:-1])), "seq 6: record truncated")
        self.assert_fails(self.verify_lines(self.rebuilt(6, rec[:5])), "seq 6: record truncated")
        self.assert_fails(self.verify_lines(self.rebuilt(6, b"\x02" + rec[1:])), "format_version 2")
        huge = (1).to_bytes(2, "little") + (ve.MAX_EVENT_LEN + 1).to_bytes(8, "little")
        self.assert_fails(self.verify_lines(self.rebuilt(6, huge)), "exceeds the limit 65429")

    def test_record_size_limit(self) -> None:
        """A record is at most 65,535 bytes: n = 65,429 passes, one byte more fails (§3)."""
        def record(n: int) -> bytes:
            event = {"kind": "cost-recorded", "contract": "impact60", "participant": None, "date": "2024-05-01",
                     "payload": {"party": "", "amount": {"minor": 5, "currency": "DKK"}}, "author": "bob",
                     "recorded_at": 1_735_689_600_000_000, "id": "ab" * 16}
            event["payload"]["party"] = "p" * (n - len(mk.encode_event(event)))
            raw = mk.encode_event(event)
            self.assertEqual(len(raw), n)
            mk.EVENTS[raw] = event
            return mk.sign_event(PARTIES[1][1], raw)
        biggest = record(ve.MAX_EVENT_LEN)
        self.assertEqual(len(biggest), 65_535)
        self.assert_ok(self.verify_lines(self.rebuilt(7, biggest)))
        self.assert_fails(self.verify_lines(self.rebuilt(7, record(ve.MAX_EVENT_LEN + 1))),
                          "seq 7: record is 65536 bytes, more than 65,535")

    def test_a_key_serves_one_use_and_one_party(self) -> None:
        raw = mk.event_bytes_of(self.records[3])  # bob's event
        self.assert_fails(self.verify_lines(self.rebuilt(3, mk.sign_event(LOG[1], raw))),
                          f"seq 3: signed with the public key of {LOG_LABEL}, which your trust "
                          "input names as a log key")
        self.assert_fails(self.verify_lines(self.rebuilt(3, mk.sign_event(WITS[1][1], raw))), "as a witness key")
        raw = mk.event_bytes_of(self.records[2])  # alice's event, signed with bob's key
        self.assert_fails(self.verify_lines(self.rebuilt(2, mk.sign_event(PARTIES[1][1], raw))),
                          ":3: seq 2: signed by 'alice' with the key that signed 'bob''s record at seq 1")

    def test_small_order_public_key(self) -> None:
        event = b"forged"
        # identity key, R = identity, S = 0 satisfies [S]B = R + [k]A for every message
        forged = mk.encode_record(event, IDENTITY, IDENTITY + bytes(32))
        self.assert_fails(self.verify_lines(self.rebuilt(3, forged)), "seq 3: event signature: public key has small order")
        for point in SMALL_ORDER:
            self.assertEqual(ve.strict_verify(point, b"m", IDENTITY + bytes(32)), "public key has small order")
        # a real key with a small-order R
        pk = mk.public_key(PARTIES[0][1])
        record = mk.encode_record(event, pk, SMALL_ORDER[6] + (5).to_bytes(32, "little"))
        self.assert_fails(self.verify_lines(self.rebuilt(3, record)), "signature point R has small order")

    def test_non_canonical_s(self) -> None:
        rec = self.records[4]
        sig = rec[-64:]
        s = int.from_bytes(sig[32:], "little") + L
        bad = rec[:-32] + s.to_bytes(32, "little")
        self.assert_fails(self.verify_lines(self.rebuilt(4, bad)), "seq 4: event signature: signature S is not canonical")

    def test_non_canonical_point_encodings(self) -> None:
        p = 2**255 - 19
        for y in (p, p + 1, 2**255 - 1):
            enc = y.to_bytes(32, "little")
            self.assertIn("not canonical", ve.strict_verify(enc, b"m", IDENTITY + bytes(32)) or "")
        # x = 0 with the sign bit set (RFC 8032 §5.1.3 step 4)
        self.assertEqual(ve.check_point((1 | 1 << 255).to_bytes(32, "little"), "A"), "A is not a valid curve point")

    def test_curve_code(self) -> None:
        base = (15112221349535400772501151409588531511454012693041857206046113283949847762202,
                46316835694926478169428394003475163141307993866256225615783033603165251855960)
        self.assertEqual(ve.decompress(bytes.fromhex(
            "5866666666666666666666666666666666666666666666666666666666666666")), base)
        self.assertFalse(ve.has_small_order(base))
        for point in SMALL_ORDER:
            decoded = ve.decompress(point)
            assert decoded is not None
            self.assertTrue(ve.has_small_order(decoded))
        sk = PARTIES[0][1]
        self.assertIsNone(ve.strict_verify(mk.public_key(sk), b"msg", sk.sign(b"msg").signature))
        self.assertEqual(ve.strict_verify(mk.public_key(sk), b"msh", sk.sign(b"msg").signature),
                         "signature does not verify")

    # ---- the last line

    def test_format_1_export_is_refused(self) -> None:
        proc = self.verify_lines(format1_lines(self.records))  # genuine format 1, hashes and all
        self.assert_fails(proc, ":21: this is a format-1 export")
        self.assertIn("pbr migrate", proc.stderr)
        self.assert_fails(self.verify_lines(self.export(self.records, fmt=None)), ":21: this is a format-1 export")
        for fmt, shown in ((1, "1"), (3, "3"), ("2", "'2'"), (2.0, "2.0"), (True, "True"), (None, "None")):
            with self.subTest(fmt=fmt):
                lines = self.edit(self.export(self.records), 20, format=fmt)
                self.assert_fails(self.verify_lines(lines), f":21: export format {shown}: this verifier checks format 2")

    def test_checkpoint_line_fields(self) -> None:
        lines = self.export(self.records)
        self.assert_fails(self.verify_lines(self.edit(lines, 20, extra=1)),
                          ":21: checkpoint line must be an object with exactly the keys checkpoint, format, verifier_keys")
        self.assert_fails(self.verify_lines(self.edit(lines, 20, verifier_keys=["nobody"])),
                          ":21: verifier_keys: malformed verifier key")
        self.assert_fails(self.verify_lines(self.edit(lines, 20, verifier_keys="x")), "not a list of strings")
        self.assert_ok(self.verify_lines(self.edit(lines, 20, verifier_keys=[])))  # a convenience only

    # ---- the checkpoint: signatures and trust

    def test_forged_cosignature(self) -> None:
        body = body_of(self.records)
        log_line = mk.sig_line(*LOG, body)
        bob = mk.cosig_line(*WITS[1], body)
        alice_pk = mk.public_key(WITS[0][1])
        alice_id = mk.key_id("alice-witness", alice_pk, 4).hex()
        cases = [
            # mallory's key claiming alice-witness's name and key id
            (mk.cosig_line("alice-witness", MALLORY_WIT[1], body, as_key=alice_pk), "signature does not verify"),
            # alice's genuine key, but the line claims another time than the one signed
            (mk.cosig_line(*WITS[0], body, time=mk.TIME + 1, signed_time=mk.TIME), "signature does not verify"),
            # alice's cosignature of another tree
            (mk.cosig_line(*WITS[0], body_of(self.records[:19])), "signature does not verify"),
            # a plain note signature (64 bytes, no timestamp) under the witness key's id
            ("\u2014 alice-witness " + base64.b64encode(bytes.fromhex(alice_id) + WITS[0][1].sign(
                body.encode()).signature).decode() + "\n", "holds 64 bytes after the key id"),
            (mk.cosig_line(*WITS[0], body, time=0), "timestamp 0, not in 1..2^63-1"),
            (mk.cosig_line(*WITS[0], body, time=2**63), f"timestamp {2**63}, not in 1..2^63-1"),
        ]
        for line, reason in cases:
            with self.subTest(line=line, reason=reason):
                proc = self.with_note(body + "\n" + log_line + line + bob)
                self.assert_fails(proc, reason)
                self.assertIn(f"alice-witness+{alice_id}", proc.stderr)
        # a byte of the signature flipped (a low byte of S: still well-formed)
        good = mk.cosig_line(*WITS[0], body)
        raw = bytearray(base64.b64decode(good.split()[-1]))
        raw[-20] ^= 1
        flipped = f"\u2014 alice-witness {base64.b64encode(raw).decode()}\n"
        self.assert_fails(self.with_note(body + "\n" + log_line + flipped + bob),
                          f"the cosignature of alice-witness+{alice_id}: signature does not verify")
        # a payload of the wrong length under a trusted witness id
        short_line = f"\u2014 alice-witness {base64.b64encode(raw[:-1]).decode()}\n"
        self.assert_fails(self.with_note(body + "\n" + log_line + short_line + bob), "holds 71 bytes after the key id")
        self.assert_ok(self.with_note(body + "\n" + log_line + mk.cosig_line(*WITS[0], body, time=2**63 - 1) + bob))

    def test_missing_cosignature(self) -> None:
        body = body_of(self.records)
        only_bob = mk.signed_note(body, LOG, WITS[1:])
        self.assert_fails(self.with_note(only_bob),
                          "checkpoint does not meet the quorum all of (alice-witness, bob-witness): cosigned by bob-witness")
        self.assert_fails(self.with_note(mk.signed_note(body, LOG, [])), "cosigned by no witness you trust")
        bob_twice = only_bob + mk.cosig_line(*WITS[1], body, time=mk.TIME + 5)  # one key counts once
        self.assert_fails(self.with_note(bob_twice), "does not meet the quorum")
        mallory = only_bob + mk.cosig_line(*MALLORY_WIT, body)  # an untrusted witness does not count
        self.assert_fails(self.with_note(mallory), "does not meet the quorum")
        # what the trust input asks for is what counts
        self.assert_ok(self.with_note(only_bob, *KEY_ARGS, "--quorum", "1"))
        self.assert_ok(self.with_note(only_bob, "--policy", self.write(mk.policy_text("any"), ".policy")))
        self.assert_ok(self.with_note(only_bob, "--policy", self.write(mk.policy_text("1"), ".policy")))
        self.assert_ok(self.with_note(mk.signed_note(body, LOG, []), "--key", LOG_VKEY))

    def test_wrong_origin(self) -> None:
        other = "other.example/ledger"
        signed_by_other = mk.checkpoint_for(self.records, log=mk.log_signer(other), origin=other)
        self.assert_fails(self.with_note(signed_by_other),
                          f"origin {other!r} is not a log of your trust input (which names {mk.ORIGIN})")
        # the genuine log key signing a body that names another origin
        body = body_of(self.records, other)
        self.assert_fails(self.with_note(mk.signed_note(body, LOG, WITS)), f"origin {other!r} is not a log")
        # a trust input with both logs: one log's key does not sign for the other origin
        two_logs = mk.policy_text().replace("\n", f"\nlog {mk.log_vkey(other)}\n", 1)
        proc = self.with_note(mk.signed_note(body, LOG, WITS), "--policy", self.write(two_logs, ".policy"))
        self.assert_fails(proc, f"no signature by the log key of {other!r}")
        self.assert_ok(self.with_note(signed_by_other, "--policy", self.write(two_logs, ".policy")))

    def test_untrusted_log_key(self) -> None:
        body = body_of(self.records)
        # another key under the log's name: its key id differs, so its line is ignored
        self.assert_fails(self.with_note(mk.signed_note(body, MALLORY_LOG, WITS)),
                          f"no signature by the log key of {mk.ORIGIN!r} ({LOG_LABEL}) that you trust")
        # ... and claiming the log key's id, it is a forgery
        forged = body + "\n" + mk.sig_line(*MALLORY_LOG, body, as_key=mk.public_key(LOG[1]))
        forged += "".join(mk.cosig_line(n, sk, body) for n, sk in WITS)
        self.assert_fails(self.with_note(forged),
                          f"the signature of {LOG_LABEL}: signature does not verify")
        # no log line at all, every cosignature present
        cosigs_only = body + "\n" + "".join(mk.cosig_line(n, sk, body) for n, sk in WITS)
        self.assert_fails(self.with_note(cosigs_only), "no signature by the log key")
        # trusting mallory's log key instead
        mallory_log = mk.verifier_key(MALLORY_LOG[0], mk.public_key(MALLORY_LOG[1]))
        self.assert_fails(self.with_note(mk.checkpoint_for(self.records), "--key", mallory_log),
                          "no signature by the log key")
        # a witness key cannot stand in for the log key
        self.assert_fails(self.with_note(mk.signed_note(body, None, WITS)), "no signature by the log key")
        # log key line of the wrong length
        raw = base64.b64decode(mk.sig_line(*LOG, body).split()[-1]) + b"\x00" * 8
        long_line = f"\u2014 {mk.ORIGIN} {base64.b64encode(raw).decode()}\n"
        self.assert_fails(self.with_note(body + "\n" + long_line), "holds 72 bytes after the key id")

    def test_extension_lines_are_refused(self) -> None:
        _, chains, root = mk.tree_heads(self.records)
        r = base64.b64encode(root).decode()
        for body in (f"{mk.ORIGIN}\n20\n{r}\nextension\n",
                     f"{mk.ORIGIN}\n20\n{r}\nchain {base64.b64encode(chains[-1]).decode()}\ntime 5\n"):
            with self.subTest(body=body):  # properly signed by the log and cosigned by both witnesses
                self.assert_fails(self.with_note(mk.signed_note(body, LOG, WITS)), "extension line(s) after the root")

    def test_altered_checkpoint(self) -> None:
        root = mk.tree_heads(self.records)[2]
        note = mk.checkpoint_for(self.records)
        bad_root = bytes([root[0] ^ 1]) + root[1:]
        b64 = base64.b64encode
        unsigned = note.replace(b64(root).decode(), b64(bad_root).decode())
        self.assert_fails(self.with_note(unsigned), "root")
        resigned = mk.signed_note(mk.note_body(mk.ORIGIN, 20, bad_root), LOG, WITS)
        self.assert_fails(self.with_note(resigned), "checkpoint root does not match")
        self.assert_fails(self.with_note(mk.checkpoint_for(self.records[:19])), "checkpoint size 19")

    def test_signature_lines_that_are_ignored(self) -> None:
        body = body_of(self.records)
        genuine = mk.checkpoint_for(self.records)
        ignored = ["not a signature\n", "\u2014 x !!!\n", "\u2014 a b c\n", "\u2014  x AAAAAAAA\n", "\u2014 x\n",
                   "\u2014 x AA==\n",  # fewer than 4 bytes
                   mk.cosig_line(*MALLORY_WIT, body),  # unknown key
                   mk.cosig_line("alice-witness", MALLORY_WIT[1], body),  # alice's name, mallory's key id
                   mk.sig_line("alice-witness", MALLORY[1], body),  # alice's name, a type-0x01 id
                   mk.sig_line(*MALLORY_LOG, body)]  # the log's name, another key id
        self.assert_ok(self.with_note(genuine + "".join(ignored)))
        # the log line need not come first
        self.assert_ok(self.with_note(body + "\n" + "".join(mk.cosig_line(n, sk, body) for n, sk in WITS)
                                      + mk.sig_line(*LOG, body)))

    def test_checkpoint_syntax(self) -> None:
        root = mk.tree_heads(self.records)[2]
        r = base64.b64encode(root).decode()
        for body, reason in [
            (f"{mk.ORIGIN}\n020\n{r}\n", "tree size"),
            (f"{mk.ORIGIN}\n{2**64}\n{r}\n", "tree size"),
            (f"{mk.ORIGIN}\n２0\n{r}\n", "tree size"),
            (f"{mk.ORIGIN}\n20\n{r.rstrip('=')}\n", "base64"),
            (f"{mk.ORIGIN}\n20\n{r} \n", "base64"),
            (f"{mk.ORIGIN}\n20\n{base64.b64encode(root[:31]).decode()}\n", "root is 31 bytes"),
            (f"{mk.ORIGIN}\n20\n", "body has 2 lines, expected 3"),
            (f"test example\n20\n{r}\n", "origin"),
            (f"a+b\n20\n{r}\n", "origin"),
            (f"\n20\n{r}\n", "origin"),
        ]:
            with self.subTest(body=body):
                self.assert_fails(self.with_note(mk.signed_note(body, LOG, WITS)), reason)
        good = mk.checkpoint_for(self.records)
        body = body_of(self.records)
        for note, reason in [
            (body + mk.sig_line(*LOG, body), "not a signed note"),  # no blank line
            (body + "\n", "no signature lines"),
            (good[:-1], "not a signed note"),  # no final newline
            (good.replace("\n\u2014 alice", "\n\n\u2014 alice"), "an empty line among the signature lines"),
            (good + "\n", "an empty line among the signature lines"),
            (good + "x\r\n", "control character U+000D"),
            (good.replace(mk.ORIGIN, mk.ORIGIN + "\t"), "control character U+0009"),
            (good + "junk\n" * 100, "more than 100 signature lines"),
            (good + "\u2014 x " + "A" * 70000 + "\n", "larger than 65536 bytes"),
            (good + "\ud800\n", "not valid UTF-8"),
            (12, "checkpoint is not a string"),
        ]:
            with self.subTest(reason=reason):
                self.assert_fails(self.with_note(note), reason)  # type: ignore[arg-type]

    # ---- the stream

    def test_stream_errors(self) -> None:
        lines = self.export(self.records)
        text = "".join(x + "\n" for x in lines)
        cases = [
            (text[:-1], ":21: line does not end with a newline"),
            (text + "\n", ":22: data after the checkpoint line"),
            ("".join(x + "\n" for x in lines[:-1]), "no checkpoint line"),
            (text.replace(lines[2], lines[2][:-1]), ":3: invalid JSON"),
            (text.replace(lines[2], "[1,2]"), ":3: event line must be an object"),
            (text.replace(lines[2], lines[2][:-1] + ',"seq":2}'), ":3: invalid JSON: duplicate key"),
            (text.replace(lines[2], lines[2][:-1] + ',"x":NaN}'), ":3: invalid JSON"),
            (text.replace(lines[2], lines[2].replace('"seq":2', '"seq":2.0')), ":3: seq 2.0"),
            (text.replace(lines[2], lines[2].replace('"seq":2', '"seq":true')), ":3: seq True"),
            (text.replace(lines[2], lines[2].replace('"record_hex":"01', '"record_hex":"1')), ":3: seq 2: record_hex"),
            (text.replace(lines[2], lines[2].replace('"record_hex":"01', '"record_hex":"01 ')), ":3: seq 2: record_hex"),
        ]
        for bad, reason in cases:
            with self.subTest(reason=reason):
                self.assert_fails(run_here("export", self.write(bad), *POLICY_ARGS), reason)
        path = self.write("")
        with open(path, "wb") as f:
            f.write(b"\xff\xfe\n")
        self.assert_fails(run_here("export", path, *POLICY_ARGS), ":1: line is not valid UTF-8")
        self.assert_fails(run("export", os.path.join(self.tmp, "missing"), *POLICY_ARGS), "cannot read")
        self.assert_fails(run_here("export", self.write(text), "--key", "alice+00000000+AAAA"), "--key")
        bad_id = LOG_VKEY.replace("+d809ab46+", "+d809ab47+")
        self.assert_fails(run_here("export", self.write(text), "--key", bad_id), "key id does not match")
        self.assert_fails(run_here("export", self.write(text), "--policy", os.path.join(self.tmp, "nope")),
                          "cannot read the policy")

    def test_event_field_must_equal_the_decoding(self) -> None:
        lines = self.export(self.records)
        self.assertEqual(json.loads(lines[2])["event"]["kind"], "cost-recorded")
        event = json.loads(lines[2])["event"]
        minor = event["payload"]["amount"]["minor"]
        cases: list[tuple[object, str]] = [
            ({**event, "payload": {**event["payload"], "amount": {"minor": minor + 1, "currency": "DKK"}}},
             "seq 2: event does not match event_bytes at 'payload.amount.minor'"),
            ({**event, "payload": {**event["payload"], "amount": {"minor": float(minor), "currency": "DKK"}}},
             "at 'payload.amount.minor'"),
            ({**event, "payload": {**event["payload"], "party": "mallory"}}, "at 'payload.party'"),
            ({**event, "payload": {**event["payload"], "extra": 1}}, "at 'payload.extra'"),
            ({k: v for k, v in event.items() if k != "id"}, "at 'id'"),
            ({**event, "kind": "outcome-verified"}, "at 'kind'"),
            ({**event, "recorded_at": str(event["recorded_at"])}, "at 'recorded_at'"),
            ({**event, "participant": "00" * 32}, "at 'participant'"),
            ([event], "at 'event'"),
        ]
        for bad, reason in cases:
            with self.subTest(reason=reason):
                self.assert_fails(self.verify_lines(self.edit(lines, 2, event=bad)), reason)
        self.assert_ok(self.verify_lines(self.edit(lines, 2, event=event)))

    def test_null_event_is_an_error(self) -> None:
        lines = self.edit(self.export(self.records), 3, event=None)
        self.assert_fails(self.verify_lines(lines),
                          ":4: seq 3: event is null but event_bytes decodes to a monthly-status-recorded event")

    def test_event_bytes_must_decode(self) -> None:
        alice = PARTIES[0][1]
        good = mk.event_bytes_of(self.records[5])
        for raw, reason in ((b"", "truncated: kind"), (good[:-1], "truncated: id"),
                            (good + b"\x00", "1 trailing bytes"),
                            ((999).to_bytes(4, "little") + good[4:], "unknown kind tag 999"),
                            (b"opaque", "unknown kind tag 1902211183")):
            with self.subTest(reason=reason):
                self.assert_fails(self.verify_lines(self.rebuilt(5, mk.sign_event(alice, raw))),
                                  f"seq 5: event_bytes does not decode (format.md §8): {reason}")

    def test_empty_export(self) -> None:
        proc = self.verify_lines(self.export([]))
        self.assert_ok(proc)
        self.assertIn(f"root {hashlib.sha256(b'').hexdigest()}, chain head {'00' * 32}", proc.stdout)
        self.assert_fails(self.verify_lines(self.export([], mk.checkpoint_for(self.records[:1]))),
                          "checkpoint size 1 but the export has 0 records")


# ------------------------------------------------------------ tlog-policy

SPEC_EXAMPLE = """\
# the example of C2SP tlog-policy, with keys
log {log}

witness X1 {x1}
witness X2 {x2}
witness X3 {x3}
group X-witnesses 2 X1 X2 X3

  witness\tY1 {y1}   https://y1.example/
witness Y2 {y2}
witness Y3 {y3}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y"""


def wkey(name: str) -> str:
    return mk.verifier_key(name, mk.public_key(mk.signing_key(name)), 4)


SPEC_KEYS = {"log": LOG_VKEY, **{n.lower(): wkey(n) for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")}}


class PolicyTests(Base):
    def test_the_spec_example(self) -> None:
        p = policy_of(SPEC_EXAMPLE.format(**SPEC_KEYS))  # no final newline, tabs, a URL, comments
        self.assertEqual([k.label for k in p.logs], [LOG_LABEL])
        self.assertEqual(sorted(p.witnesses), ["X1", "X2", "X3", "Y1", "Y2", "Y3"])
        self.assertEqual(p.rule(), "all of (2 of (X1, X2, X3), any of (Y1, Y2, Y3))")
        for cosigned, met in [({"X1", "X2", "Y3"}, True), ({"X1", "X3", "Y1", "Y2"}, True),
                              ({"X1", "Y1", "Y2", "Y3"}, False), ({"X1", "X2", "X3"}, False), (set(), False)]:
            with self.subTest(cosigned=cosigned):
                self.assertEqual(p.met(cosigned), met)

    def test_quorum_none_and_single_witness(self) -> None:
        p = policy_of(f"log {LOG_VKEY}\nquorum none\n")
        self.assertTrue(p.met(set()))
        self.assertEqual(p.rule(), "none")
        p = policy_of(f"log {LOG_VKEY}\nwitness w {WIT_VKEYS[0]}\nquorum w\n")
        self.assertFalse(p.met(set()))
        self.assertTrue(p.met({"w"}))

    def test_errors(self) -> None:
        log, a, b = LOG_VKEY, WIT_VKEYS[0], WIT_VKEYS[1]
        for text, line, reason in [
            (f"log {log}\nquorum none\nquorum none\n", 3, "a second quorum line"),
            (f"log {log}\n", None, "no quorum line"),
            ("quorum none\n", None, "names no log"),
            (f"log {log}\nwitness a {a}\nwitness a {b}\nquorum a\n", 3, "already defined"),
            (f"log {log}\nwitness none {a}\nquorum none\n", 2, "already defined"),
            (f"log {log}\ngroup g any a\nquorum g\n", 2, "'a' is not defined on an earlier line"),
            (f"log {log}\nquorum g\nwitness a {a}\ngroup g any a\n", 2, "is not defined on an earlier line"),
            (f"log {log}\nwitness a {a}\ngroup g any a none\nquorum g\n", 3, "`none` cannot be a group member"),
            (f"log {log}\nwitness a {a}\ngroup g all a a\nquorum g\n", 3, "already listed as a group member"),
            (f"log {log}\nwitness a {a}\nwitness b {b}\ngroup g any a\ngroup h any a b\nquorum h\n", 5,
             "already listed as a group member"),
            (f"log {log}\nwitness a {a}\ngroup g 2 a\nquorum g\n", 3, "threshold '2' is not all, any or a number in 1..1"),
            (f"log {log}\nwitness a {a}\ngroup g 0 a\nquorum g\n", 3, "threshold '0'"),
            (f"log {log}\nwitness a {a}\ngroup g 01 a\nquorum g\n", 3, "threshold '01'"),
            (f"log {log}\nwitness a {a}\ngroup g a\nquorum g\n", 3, "a group line is"),
            (f"log {log}\nwitness a {a}\nquorum a b\n", 3, "a quorum line is"),
            (f"log {log} url extra\nquorum none\n", 1, "a log line is"),
            (f"log {log}\nwitness a\nquorum none\n", 2, "a witness line is"),
            (f"log {log}\nwitnesses a {a}\nquorum none\n", 2, "unknown line type 'witnesses'"),
            (f"log {a}\nquorum none\n", 1, "expected Ed25519 (0x01)"),
            (f"log {log}\nwitness a {log}\nquorum none\n", 2, "expected cosignature/v1 (0x04)"),
            (f"log {log}\nwitness a {a}\nwitness b {a}\nquorum none\n", 3, "a key serves one use and one party only"),
            (f"log {log}\nwitness a {mk.verifier_key('a', mk.public_key(LOG[1]), 4)}\nquorum none\n", 2,
             "a key serves one use"),
            (f"log {log}\nlog {log}\nquorum none\n", 2, "a key serves one use"),
            (f"log {log}\r\nquorum none\n", 1, "byte 0x0d is not allowed"),
            (f"log {log}\nquorum none\n\x00", 3, "byte 0x00 is not allowed"),
            (f"log {log[:-2]}AA\nquorum none\n", 1, "key id does not match"),
        ]:
            with self.subTest(reason=reason, text=text):
                with self.assertRaises(ve.VerifyError) as cm:
                    policy_of(text)
                self.assertIn(reason, cm.exception.reason)
                self.assertEqual(cm.exception.line, line)

    def test_comments_blank_lines_and_opaque_octets(self) -> None:
        text = (f"# policy\n\n   \t\n  # indented comment\nlog {LOG_VKEY} https://log.example/\n"
                f"witness t\u00e9moin {WIT_VKEYS[0]}\n# \u00e6\u00f8\u00e5\nquorum t\u00e9moin\n")
        p = ve.parse_policy(text.encode("utf-8"), "p")
        self.assertEqual(len(p.witnesses), 1)
        self.assertTrue(p.met(set(p.witnesses)))

    def test_policy_errors_on_the_command_line(self) -> None:
        export = self.write("".join(x + "\n" for x in mk.export_lines([], mk.checkpoint_for([]), VKEYS)))
        bad = self.write(f"log {LOG_VKEY}\nwitness a {WIT_VKEYS[0]}\nquorum b\n", ".policy")
        proc = run_here("export", export, "--policy", bad)
        self.assert_fails(proc, f"{bad}:3: quorum 'b' is not defined on an earlier line")

    def test_rekor_tiles_policy_uses_a_note_key_for_its_witness(self) -> None:
        """rekor-tiles' two-line policy names a witness by a type-0x01 key; pbr's witnesses are 0x04."""
        with open(os.path.join(INTEROP, "note", "rekor-tiles-witness", "policy.yaml"), "rb") as f:
            data = f.read()
        with self.assertRaises(ve.VerifyError) as cm:
            ve.parse_policy(data, "policy.yaml")
        self.assertEqual(cm.exception.line, 1)
        self.assertIn("is of type Ed25519 (0x01), expected cosignature/v1 (0x04)", cm.exception.reason)
        with open(os.path.join(INTEROP, "note", "rekor-tiles-witness", "private.key"), encoding="utf-8") as f:
            name, kind, sk = mk.private_key(f.read())
        self.assertEqual(mk.verifier_key(name, mk.public_key(sk), kind), data.split()[2].decode())


# ------------------------------------------------------------ §8 events

EVENT_VECTORS = os.path.join(HERE, "..", "tests", "vectors", "events.json")


def load_event_vectors() -> list[dict[str, Any]]:
    with open(EVENT_VECTORS, encoding="utf-8") as f:
        vectors: list[dict[str, Any]] = json.load(f)
    return vectors


def u32(n: int) -> bytes:
    return n.to_bytes(4, "little")


def patched(raw: bytes, offset: int, new: bytes) -> bytes:
    return raw[:offset] + new + raw[offset + len(new):]


class EventVocabularyTests(unittest.TestCase):
    """format.md §8 against tests/vectors/events.json (written by the Rust code)."""

    vectors = load_event_vectors()
    tags = {kind: tag for tag, (kind, _) in ve.KINDS.items()}

    def rejects(self, raw: bytes, *reasons: str) -> None:
        with self.assertRaises(ve.VerifyError) as cm:
            ve.decode_event(raw)
        self.assertTrue(any(r in cm.exception.reason for r in reasons), (cm.exception.reason, reasons))

    def raw(self, kind: str) -> tuple[bytes, dict[str, Any]]:
        (v,) = [v for v in self.vectors if v["kind"] == kind]
        return bytes.fromhex(v["event_hex"]), v["event"]

    @staticmethod
    def date_offset(event: dict[str, Any]) -> int:
        """Offset of the envelope's `date`: after the kind tag, contract and participant (§8.2)."""
        return 4 + 8 + len(event["contract"].encode()) + (1 if event["participant"] is None else 33)

    @staticmethod
    def tail_size(event: dict[str, Any]) -> int:
        """Bytes after the payload: author (string), recorded_at (i64), id (bytes16)."""
        return 8 + len(event["author"].encode()) + 8 + 16

    def test_vectors_decode_to_their_json(self) -> None:
        self.assertEqual({v["kind"] for v in self.vectors}, set(self.tags),
                         "the kinds of events.json and of the decoder's §8.4 table differ")
        self.assertEqual(len(self.vectors), len(ve.KINDS), "one vector per kind")
        self.assertEqual(sorted(ve.KINDS), list(range(len(ve.KINDS))), "tags are 0, 1, 2, ...")
        for v in self.vectors:
            with self.subTest(kind=v["kind"]):
                self.assertEqual(v["tag"], self.tags[v["kind"]])
                raw = bytes.fromhex(v["event_hex"])
                self.assertEqual(raw.hex(), v["event_hex"], "event_hex is lowercase")
                self.assertEqual(int.from_bytes(raw[:4], "little"), v["tag"])
                decoded = ve.decode_event(raw)
                self.assertEqual(decoded, v["event"])
                self.assertIsNone(ve.first_difference(decoded, v["event"]))  # exact types: true is not 1
                self.assertEqual(list(decoded["payload"]), [f for f, _ in ve.KINDS[v["tag"]][1]])

    def test_tables_transcribe_format_md(self) -> None:
        """The decoder's tables say what docs/format.md §8.2-§8.5 say (a document change must reach them)."""
        with open(os.path.join(HERE, "..", "docs", "format.md"), encoding="utf-8") as f:
            doc = f.read()

        def section(title: str) -> str:
            start = doc.index(f"\n### {title}")
            end = doc.find("\n#", start + 1)
            return doc[start:end if end >= 0 else len(doc)]

        def rows(title: str) -> list[list[str]]:
            return [[c.strip() for c in line.strip("|").split("|")]
                    for line in section(title).splitlines()[1:]
                    if line.startswith("| ") and not line.startswith("| -")]

        def ticked(text: str) -> list[str]:
            return re.findall(r"`([^`]+)`", text)

        enums = {ticked(name)[0]: tuple(ticked(variants)) for name, variants in rows("8.3")[1:]}
        self.assertEqual(enums, ve.ENUMS)
        field = re.compile(r"`([a-z_]+): ([a-z0-9<>-]+)`")
        kinds = {int(tag): (ticked(kind)[0], tuple(field.findall(spec))) for tag, kind, spec in rows("8.4")[1:]}
        self.assertEqual(kinds, ve.KINDS)
        attributes = tuple((name, ticked(typ)[0]) for names, typ in rows("8.5")[1:] for name in ticked(names))
        self.assertEqual(attributes, ve.STRUCTS["attributes"])
        envelope = [line.split()[:2] for line in section("8.2").split("```")[1].strip().splitlines()]
        self.assertEqual([(name, typ) for typ, name in envelope],
                         [("kind", "u32"), *ve.ENVELOPE_HEAD, ("payload", "..."), *ve.ENVELOPE_TAIL])
        self.assertIn("| `money` | `i64` minor units (øre, cent, penny), then `currency` |", section("8.1"))
        self.assertEqual(ve.STRUCTS["money"], (("minor", "i64"), ("currency", "currency")))

    def test_format_md_example(self) -> None:
        """§8.2: outcome-verified (a payload of one u64) is 72 bytes, laid out as the document says."""
        raw, event = self.raw("outcome-verified")
        self.assertEqual(len(raw), 72)
        self.assertEqual(event["payload"], {"claim_seq": 41})
        head = "08000000" + "0800000000000000" + b"impact60".hex() + "00"
        tail = "2900000000000000" + "0700000000000000" + b"aalborg".hex()
        self.assertEqual(raw[:21].hex(), head)
        self.assertEqual(raw[25:48].hex(), tail)

    def test_first_difference(self) -> None:
        self.assertIsNone(ve.first_difference({"a": {"b": 1}}, {"a": {"b": 1}}))
        self.assertEqual(ve.first_difference({"a": True}, {"a": 1}), ("a", True, 1))
        self.assertEqual(ve.first_difference({"a": 1}, {"a": 1.0}), ("a", 1, 1.0))
        self.assertEqual(ve.first_difference({"a": None, "b": 2}, {"b": 3}), ("a", None, ve.MISSING))
        self.assertEqual(ve.first_difference({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}), ("a.c", ve.MISSING, 2))

    def test_every_truncation_is_rejected(self) -> None:
        for v in self.vectors:
            raw = bytes.fromhex(v["event_hex"])
            for n in range(len(raw)):
                with self.subTest(kind=v["kind"], n=n):
                    self.rejects(raw[:n], "truncated", "exceeds the")

    def test_trailing_byte_is_rejected(self) -> None:
        for v in self.vectors:
            with self.subTest(kind=v["kind"]):
                self.rejects(bytes.fromhex(v["event_hex"]) + b"\x00", "1 trailing bytes")

    def test_unknown_kind_is_rejected(self) -> None:
        raw, _ = self.raw("outcome-verified")
        for tag in (len(ve.KINDS), 999, 2**32 - 1):
            self.rejects(u32(tag) + raw[4:], f"unknown kind tag {tag}")

    def test_unknown_enum_tag_is_rejected(self) -> None:
        checked = set()
        for v in self.vectors:
            typ = ve.KINDS[v["tag"]][1][-1][1]  # the last payload field, just before the tail
            while typ in ve.STRUCTS:
                typ = ve.STRUCTS[typ][-1][1]
            if typ not in ve.ENUMS:
                continue
            raw = bytes.fromhex(v["event_hex"])
            at = len(raw) - self.tail_size(v["event"]) - 4
            variants = ve.ENUMS[typ]
            with self.subTest(kind=v["kind"], enum=typ):
                self.assertLess(int.from_bytes(raw[at:at + 4], "little"), len(variants))
                last = ve.decode_event(patched(raw, at, u32(len(variants) - 1)))
                self.assertIn(variants[-1], json.dumps(last))
                for tag in (len(variants), 2**32 - 1):
                    self.rejects(patched(raw, at, u32(tag)), f"unknown {typ} tag {tag}")
            checked.add(typ)
        self.assertGreaterEqual(checked, {"currency", "purpose", "reject-reason", "self-sufficiency"})

    def test_bool_and_option_tags(self) -> None:
        raw, event = self.raw("participant-left")  # ..., qualification_gained: bool
        at = len(raw) - self.tail_size(event) - 1
        self.assertEqual(raw[at], 1)
        self.assertIs(ve.decode_event(patched(raw, at, b"\x00"))["payload"]["qualification_gained"], False)
        for b in (2, 0xFF):
            self.rejects(patched(raw, at, bytes([b])), f"bool byte {b}, expected 0 or 1")
        raw, event = self.raw("participant-followed-up")  # ..., improved: option<bool> (none)
        at = len(raw) - self.tail_size(event) - 1
        self.assertEqual(raw[at], 0)
        self.rejects(patched(raw, at, b"\x02"), "payload.improved: option tag 2")
        self.rejects(raw[:at] + b"\x01\x02" + raw[at + 1:], "payload.improved: bool byte 2")
        self.assertIs(ve.decode_event(raw[:at] + b"\x01\x01" + raw[at + 1:])["payload"]["improved"], True)
        participant = self.date_offset(event) - 33  # the envelope's option<bytes32>
        self.assertEqual(raw[participant], 1)
        self.rejects(patched(raw, participant, b"\x02"), "participant: option tag 2")

    def test_strings(self) -> None:
        raw, event = self.raw("outcome-verified")
        author = len(raw) - self.tail_size(event) + 8
        self.assertEqual(raw[author:author + 7], b"aalborg")
        for bad in (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"):
            with self.subTest(bad=bad):
                self.rejects(patched(raw, author, bad), "author: string is not valid UTF-8")
        self.assertEqual(ve.decode_event(patched(raw, author, "æø".encode()))["author"], "æøorg")
        for n in (len(raw), 2**63, 2**64 - 1):  # the contract's length, far beyond the bytes left
            self.rejects(patched(raw, 4, n.to_bytes(8, "little")), f"contract: string length {n} exceeds the")

    def test_days_and_months(self) -> None:
        raw, event = self.raw("monthly-status-recorded")  # payload: month: month, status
        day_at = self.date_offset(event)
        self.assertEqual(event["date"], ve.decode_event(raw)["date"])
        for days, text in ((0, "1970-01-01"), (-1, "1969-12-31"), (19723, "2024-01-01"), (19782, "2024-02-29"),
                           (-719162, "0001-01-01"), (2932896, "9999-12-31")):
            with self.subTest(days=days):
                out = ve.decode_event(patched(raw, day_at, days.to_bytes(4, "little", signed=True)))
                self.assertEqual(out["date"], text)
                self.assertEqual(mk.encode_event(out), patched(raw, day_at, days.to_bytes(4, "little", signed=True)))
        for days in (-719163, 2932897, -2**31, 2**31 - 1):
            with self.subTest(days=days):
                self.rejects(patched(raw, day_at, days.to_bytes(4, "little", signed=True)), f"date: day {days}")
        month_at = day_at + 4
        for index, text in ((2024 * 12 + 8, "2024-09"), (2024 * 12, "2024-01"), (2024 * 12 + 11, "2024-12"),
                            (12, "0001-01"), (10000 * 12 - 1, "9999-12")):
            with self.subTest(index=index):
                patch = patched(raw, month_at, index.to_bytes(4, "little", signed=True))
                self.assertEqual(ve.decode_event(patch)["payload"]["month"], text)
                self.assertEqual(mk.encode_event(ve.decode_event(patch)), patch)
        for index in (11, 0, -1, 10000 * 12, -2**31, 2**31 - 1):
            with self.subTest(index=index):
                self.rejects(patched(raw, month_at, index.to_bytes(4, "little", signed=True)),
                             f"payload.month: month index {index}")

    def test_encoder_round_trips(self) -> None:
        """make_test_export's encoder is a second, independent reading of §8."""
        self.assertEqual({k: t for k, (t, _) in mk.PAYLOADS.items()}, self.tags)
        self.assertEqual({k: tuple(v) for k, v in mk.VARIANTS.items()}, ve.ENUMS)
        for v in self.vectors:
            with self.subTest(kind=v["kind"]):
                raw = bytes.fromhex(v["event_hex"])
                self.assertEqual(mk.encode_event(v["event"]).hex(), v["event_hex"])
                self.assertEqual(mk.encode_event(ve.decode_event(raw)).hex(), v["event_hex"])
        for raw, event in mk.EVENTS.items():
            self.assertEqual(ve.decode_event(raw), event)
            self.assertEqual(mk.encode_event(event), raw)


# ------------------------------------------------------------------ proofs

def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over leaf hashes."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, leaves[:k]) + [mk.mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [mk.mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mk.mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, leaves[:k], complete) + [mk.mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [mk.mth(leaves[:k])]


def ref_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True) if 0 < m < len(leaves) else []


def flips(path: list[bytes]) -> Iterator[list[bytes]]:  # every path with one byte of one element changed
    for i, h in enumerate(path):
        for j in range(len(h)):
            yield path[:i] + [h[:j] + bytes([h[j] ^ 0x80]) + h[j + 1:]] + path[i + 1:]


class ProofTests(Base):
    N = 17
    records = mk.make_records(N, seed=7)
    leaves = [mk.leaf_hash(r) for r in records]

    def test_inclusion_all_pairs(self) -> None:
        for n in range(1, self.N + 1):
            root = mk.mth(self.leaves[:n])
            for m in range(n):
                path = ref_path(m, self.leaves[:n])
                self.assertTrue(ve.verify_inclusion(m, n, self.leaves[m], path, root), (m, n))
                for bad in flips(path):
                    self.assertFalse(ve.verify_inclusion(m, n, self.leaves[m], bad, root))
                self.assertFalse(ve.verify_inclusion(m, n, self.leaves[m], path + [root], root))
                if path:
                    self.assertFalse(ve.verify_inclusion(m, n, self.leaves[m], path[:-1], root))
                self.assertFalse(ve.verify_inclusion(n, n, self.leaves[m], path, root))
                if n > 1:
                    other = (m + 1) % n
                    self.assertFalse(ve.verify_inclusion(other, n, self.leaves[m], path, root))
        self.assertFalse(ve.verify_inclusion(0, 0, self.leaves[0], [], ve.EMPTY_ROOT))

    def test_consistency_all_pairs(self) -> None:
        roots = [mk.mth(self.leaves[:n]) for n in range(self.N + 1)]
        self.assertEqual(roots[0], ve.EMPTY_ROOT)
        self.assertEqual(roots[0].hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        for second in range(self.N + 1):
            for first in range(second + 1):
                path = ref_proof(first, self.leaves[:second])
                args = (first, second, roots[first], roots[second])
                self.assertTrue(ve.verify_consistency(*args, path), (first, second))
                for bad in flips(path):
                    self.assertFalse(ve.verify_consistency(*args, bad))
                if second > 0:
                    wrong = bytes([roots[first][0] ^ 1]) + roots[first][1:]
                    self.assertFalse(ve.verify_consistency(first, second, wrong, roots[second], path))
                    if first != second:
                        self.assertFalse(ve.verify_consistency(second, first, roots[second], roots[first], path))
                self.assertFalse(ve.verify_consistency(*args, path + [roots[0]]))
                if path:
                    self.assertFalse(ve.verify_consistency(*args, path[:-1]))
        self.assertFalse(ve.verify_consistency(0, 0, roots[0], roots[1], []))  # 0 -> 0: equal roots too

    def note(self, size: int, log: mk.Signer | None = None, wits: list[mk.Signer] | None = None,
             origin: str = mk.ORIGIN) -> str:
        return mk.checkpoint_for(self.records[:size], log, wits, origin=origin)

    def inclusion_json(self, m: int, n: int, **over: object) -> str:
        obj = {"leaf_index": m, "tree_size": n, "leaf_hash": self.leaves[m].hex(),
               "path": [h.hex() for h in ref_path(m, self.leaves[:n])],
               "root": mk.mth(self.leaves[:n]).hex(), "checkpoint": self.note(n)}
        obj.update(over)
        return self.write(json.dumps(obj), ".json")

    def consistency_json(self, a: int, b: int, **over: object) -> str:
        obj = {"first": a, "second": b, "first_root": mk.mth(self.leaves[:a]).hex(),
               "second_root": mk.mth(self.leaves[:b]).hex(),
               "path": [h.hex() for h in ref_proof(a, self.leaves[:b])], "checkpoint": self.note(b)}
        obj.update(over)
        return self.write(json.dumps(obj), ".json")

    def test_inclusion_cli(self) -> None:
        self.assert_ok(run("inclusion", self.inclusion_json(5, 17), *POLICY_ARGS))
        for m, n in ((0, 1), (16, 17), (7, 8), (0, 2)):
            self.assert_ok(run_here("inclusion", self.inclusion_json(m, n), *KEY_ARGS))
        path = [h.hex() for h in ref_path(5, self.leaves)]
        path[1] = path[1][:10] + ("0" if path[1][10] != "0" else "1") + path[1][11:]
        for proof, reason in [
            (self.inclusion_json(5, 17, path=path), "does not verify"),
            (self.inclusion_json(5, 16, checkpoint=self.note(17)), "size 17, expected 16"),
            (self.inclusion_json(5, 17, checkpoint=self.note(17, log=MALLORY_LOG)), "no signature by the log key"),
            (self.inclusion_json(5, 17, checkpoint=self.note(17, wits=WITS[:1])), "does not meet the quorum"),
            (self.inclusion_json(5, 17, leaf_index=-1), "leaf_index"),
            (self.inclusion_json(5, 17, path="x"), "path"),
            (self.inclusion_json(5, 17, path=path[:2] + [path[2][:62]]), "path[2] is 31 bytes, expected 32"),
            (self.write("{", ".json"), "invalid JSON"),
        ]:
            with self.subTest(reason=reason):
                self.assert_fails(run_here("inclusion", proof, *POLICY_ARGS), reason)

    def test_consistency_cli(self) -> None:
        self.assert_ok(run("consistency", self.consistency_json(5, 17), *POLICY_ARGS))
        for a, b in ((0, 0), (0, 17), (17, 17), (1, 17), (4, 17), (8, 16), (16, 17), (3, 5)):
            self.assert_ok(run_here("consistency", self.consistency_json(a, b), *POLICY_ARGS))
        empty = ve.EMPTY_ROOT.hex()
        self.assert_fails(run_here("consistency", self.consistency_json(0, 17, first_root="00" * 32), *POLICY_ARGS),
                          "does not verify")
        self.assert_fails(run_here("consistency", self.consistency_json(0, 17, path=[empty]), *POLICY_ARGS),
                          "does not verify")
        path = [h.hex() for h in ref_proof(5, self.leaves)]
        path[-1] = "00" * 32
        self.assert_fails(run_here("consistency", self.consistency_json(5, 17, path=path), *POLICY_ARGS),
                          "does not verify")
        self.assert_fails(run_here("consistency", self.consistency_json(17, 17, path=["00" * 32]), *POLICY_ARGS),
                          "does not verify")
        self.assert_fails(run_here("consistency", self.consistency_json(5, 17, checkpoint=self.note(16)), *POLICY_ARGS),
                          "expected 17")
        self.assert_fails(run_here("consistency", self.consistency_json(5, 17, checkpoint=self.note(17, wits=[])),
                                   *POLICY_ARGS), "embedded checkpoint does not meet the quorum")

    def test_old_checkpoint(self) -> None:
        proof = self.consistency_json(5, 17)
        old = lambda note: ("--old-checkpoint", self.write(note, ".note"))  # noqa: E731
        proc = run_here("consistency", proof, *POLICY_ARGS, *old(self.note(5)))
        self.assert_ok(proc)
        self.assertIn(f"the old checkpoint of size 5 is signed by {LOG_LABEL}", proc.stdout)
        # the witness quorum is not required of the old checkpoint; the log key's signature is
        self.assert_ok(run_here("consistency", proof, *POLICY_ARGS, *old(self.note(5, wits=[]))))
        body = mk.note_body(mk.ORIGIN, 5, mk.mth(self.leaves[:5]))
        forged_cosig = mk.signed_note(body, LOG) + mk.cosig_line("alice-witness", MALLORY_WIT[1], body,
                                                                 as_key=mk.public_key(WITS[0][1]))
        other = "other.example/ledger"
        for note, reason in ((self.note(6), "does not match first=5"),
                             (self.note(5, log=mk.log_signer(other), origin=other), "origin 'other.example/ledger'"),
                             (self.note(5, log=MALLORY_LOG), "old checkpoint: no signature by the log key"),
                             (self.note(5, log=MALLORY_LOG, wits=WITS), "old checkpoint: no signature by the log key"),
                             (forged_cosig, "old checkpoint: the cosignature of alice-witness"),
                             (mk.signed_note(body.replace("\n", "\nx\n", 3)[:-2], LOG), "old checkpoint"),
                             (mk.signed_note(body + "ext\n", LOG, WITS), "old checkpoint has 1 extension line(s)"),
                             ("garbage\n", "old checkpoint")):
            with self.subTest(reason=reason):
                args = old(note)
                proc = run_here("consistency", proof, *POLICY_ARGS, *args)
                self.assert_fails(proc, reason)
        proc = run_here("consistency", proof, *POLICY_ARGS, "--old-checkpoint", os.path.join(self.tmp, "none"))
        self.assert_fails(proc, "cannot read")

    def test_receipts(self) -> None:
        """§6.2: the inclusion proof as a C2SP tlog-proof@v1 text, checked for a record."""
        path = ref_path(5, self.leaves)
        rec = self.records[5].hex()

        def check(text: str, *args: str) -> subprocess.CompletedProcess[str]:
            return run_here("receipt", self.write(text, ".tlog-proof"), *POLICY_ARGS, *(args or ("--record-hex", rec)))
        good = mk.receipt(5, path, self.note(17))
        proc = run("receipt", self.write(good, ".tlog-proof"), *POLICY_ARGS, "--record-hex", rec)
        self.assert_ok(proc)
        self.assertIn(f"leaf 5 ({self.leaves[5].hex()}, a cost-recorded event) is in the tree of size 17",
                      proc.stdout)
        self.assert_ok(check(good, "--leaf-hash", self.leaves[5].hex()))
        self.assert_ok(check(mk.receipt(5, path, self.note(17), extra=b"ignored")))  # an extra line is ignored
        self.assert_ok(check(mk.receipt(0, [], self.note(1)), "--record-hex", self.records[0].hex()))
        flipped = path[:1] + [bytes([path[1][0] ^ 1]) + path[1][1:]] + path[2:]
        for text, args, reason in [
            (good, ("--record-hex", self.records[6].hex()), "does not verify for this leaf"),
            (good, ("--record-hex", self.records[5][:-1].hex()), "--record-hex: record truncated"),
            (good, ("--record-hex", (self.records[5][:-1] + bytes([self.records[5][-1] ^ 1])).hex()),
             "--record-hex: event signature"),
            (mk.receipt(5, flipped, self.note(17)), (), "does not verify"),
            (mk.receipt(6, path, self.note(17)), (), "does not verify"),
            (mk.receipt(5, path, self.note(17, wits=WITS[1:])), (), "receipt checkpoint does not meet the quorum"),
            (mk.receipt(5, path, self.note(17, log=MALLORY_LOG)), (), "no signature by the log key"),
            (good.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), (), "not 'c2sp.org/tlog-proof@v1'"),
            (good.replace("index 5", "index 05"), (), "no `index N` line"),
            (good.replace("\n\n", "\n", 1), (), "receipt"),
            (good.replace("index 5\n", "index 5\n\n", 1), (), "receipt"),
            (good.replace("\n\n", "\nAAAA\n\n", 1), (), "path line 6 is 3 bytes, expected 32"),
        ]:
            with self.subTest(reason=reason):
                self.assert_fails(check(text, *args), reason)
        proc = run_here("receipt", self.write(good, ".tlog-proof"), *POLICY_ARGS)
        self.assertEqual(proc.returncode, 2)  # the record (or its leaf hash) is required

    def export_of(self, records: list[bytes], note: str | None = None) -> str:
        return self.write("".join(x + "\n" for x in mk.export_lines(
            records, note if note is not None else mk.checkpoint_for(records), VKEYS)))

    def test_with_an_export(self) -> None:
        """DESIGN §3, format.md §6.1: with --export, a proof must be of a tree the export holds."""
        export = self.export_of(self.records)
        proc = run("inclusion", self.inclusion_json(5, 17), *POLICY_ARGS, "--export", export)
        self.assert_ok(proc)
        self.assertIn(f"; with the export {export} (verified, 17 records): the proof's tree of size 17 is a prefix "
                      "of it, leaf 5 is its record at seq 5, root is the root of its first 17 records", proc.stdout)
        self.assertNotIn("with the export", run_here("inclusion", self.inclusion_json(5, 17), *POLICY_ARGS).stdout)
        for proof in (self.inclusion_json(5, 8), self.inclusion_json(0, 1), self.inclusion_json(16, 17)):
            self.assert_ok(run_here("inclusion", proof, *POLICY_ARGS, "--export", export))
        for a, b in ((5, 17), (0, 17), (0, 0), (3, 5), (17, 17), (8, 8)):
            with self.subTest(first=a, second=b):
                proc = run_here("consistency", self.consistency_json(a, b), *POLICY_ARGS, "--export", export)
                self.assert_ok(proc)
                self.assertIn(f"first_root is the root of its first {a} records, root is the root of its first "
                              f"{b} records", proc.stdout)
        proc = run_here("consistency", self.consistency_json(5, 17), *POLICY_ARGS, "--export", export,
                        "--old-checkpoint", self.write(self.note(5), ".note"))
        self.assert_ok(proc)
        self.assertIn("the old checkpoint of size 5 is signed by", proc.stdout)
        receipt = self.write(mk.receipt(5, ref_path(5, self.leaves[:9]), self.note(9)), ".tlog-proof")
        proc = run_here("receipt", receipt, *POLICY_ARGS, "--record-hex", self.records[5].hex(), "--export", export)
        self.assert_ok(proc)
        self.assertIn("a cost-recorded event) is in the tree of size 9", proc.stdout)
        self.assertIn("leaf 5 is its record at seq 5, root is the root of its first 9 records", proc.stdout)

    def test_a_proof_larger_than_the_export_fails(self) -> None:
        export = self.export_of(self.records[:10])
        self.assert_ok(run_here("inclusion", self.inclusion_json(5, 10), *POLICY_ARGS, "--export", export))
        receipt = self.write(mk.receipt(5, ref_path(5, self.leaves), self.note(17)), ".tlog-proof")
        for kind, proof, args, size in (
                ("inclusion", self.inclusion_json(5, 17), (), 17),
                ("inclusion", self.inclusion_json(5, 11), (), 11),
                ("consistency", self.consistency_json(5, 17), (), 17),
                ("consistency", self.consistency_json(11, 11), (), 11),
                ("receipt", receipt, ("--leaf-hash", self.leaves[5].hex()), 17)):
            with self.subTest(kind=kind, size=size):
                self.assert_ok(run_here(kind, proof, *POLICY_ARGS, *args))  # valid on its own
                self.assert_fails(run_here(kind, proof, *POLICY_ARGS, *args, "--export", export),
                                  f"{proof}: the proof is of a tree of size {size}, larger than the export's 10 records")

    def test_a_proof_of_another_log_fails(self) -> None:
        other = mk.make_records(17, seed=8)
        forked = self.export_of(self.records[:16] + other[16:])  # the same first 16 records, another 17th
        for kind, proof, args, reason in (
                ("inclusion", self.inclusion_json(5, 17), (),
                 "the proof's root for size 17 is not the root of the export's first 17 records"),
                ("inclusion", self.inclusion_json(16, 17), (),
                 f"the proof's leaf 16 ({self.leaves[16].hex()}) is not the leaf of the export's record at seq 16 "
                 f"({mk.leaf_hash(other[16]).hex()})"),
                ("consistency", self.consistency_json(5, 17), (),
                 "the proof's root for size 17 is not the root of the export's first 17 records"),
                ("receipt", self.write(mk.receipt(5, ref_path(5, self.leaves), self.note(17)), ".tlog-proof"),
                 ("--record-hex", self.records[5].hex()),
                 "the proof's root for size 17 is not the root of the export's first 17 records")):
            with self.subTest(kind=kind, reason=reason):
                self.assert_fails(run_here(kind, proof, *POLICY_ARGS, *args, "--export", forked), reason)
        self.assert_ok(run_here("inclusion", self.inclusion_json(5, 16), *POLICY_ARGS, "--export", forked))
        self.assert_fails(run_here("consistency", self.consistency_json(5, 17), *POLICY_ARGS,
                                   "--export", self.export_of(other)),
                          "the proof's first_root for size 5 is not the root of the export's first 5 records")
        name = "other.example/ledger"
        elsewhere = self.export_of(self.records, mk.checkpoint_for(self.records, mk.log_signer(name), origin=name))
        self.assert_fails(run_here("inclusion", self.inclusion_json(5, 17), *KEY_ARGS, "--key", mk.log_vkey(name),
                                   "--export", elsewhere),
                          f"the proof is of the log {mk.ORIGIN!r}, the export of {name!r}")

    def test_the_export_is_verified(self) -> None:
        """The export is checked as `export` checks it, under the same trust input; its errors name it."""
        proof = self.inclusion_json(5, 8)
        lines = mk.export_lines(self.records, mk.checkpoint_for(self.records), VKEYS)
        obj = json.loads(lines[2])
        obj["record_hex"] = self.records[3].hex()
        tampered = self.write("".join(x + "\n" for x in lines[:2] + [json.dumps(obj)] + lines[3:]))
        self.assert_fails(run_here("inclusion", proof, *POLICY_ARGS, "--export", tampered),
                          f"{tampered}:3: seq 2: leaf_hash does not match the record")
        unwitnessed = self.export_of(self.records, mk.checkpoint_for(self.records, wits=WITS[:1]))
        self.assert_fails(run_here("inclusion", proof, *POLICY_ARGS, "--export", unwitnessed),
                          f"{unwitnessed}:18: checkpoint does not meet the quorum")
        missing = os.path.join(self.tmp, "none.jsonl")
        self.assert_fails(run_here("inclusion", proof, *POLICY_ARGS, "--export", missing), f"{missing}: cannot read")
        self.assert_fails(run_here("consistency", self.consistency_json(5, 8), *POLICY_ARGS, "--export", missing),
                          f"{missing}: cannot read")
        self.assertEqual(run_here("tiles", self.tmp, *POLICY_ARGS, "--export", missing).returncode, 2)
        self.assertEqual(run_here("export", missing, *POLICY_ARGS, "--export", missing).returncode, 2)

    def test_help_says_what_the_old_checkpoint_needs(self) -> None:
        proc = run("consistency", "--help")
        self.assertEqual(proc.returncode, 0)
        text = " ".join(proc.stdout.split())
        self.assertIn("signed by the trust input's log key", text)
        self.assertIn("quorum is NOT required of the old checkpoint", text)
        self.assertIn("--policy", text)


# ------------------------------------------------------- interop vectors

def b64d(text: str | None) -> bytes:
    return base64.b64decode(text) if text else b""


def vector_files(kind: str) -> list[str]:
    return sorted(glob.glob(os.path.join(glob.escape(os.path.join(INTEROP, "merkle", "transparency-dev", kind)),
                                         "**", "*.json"), recursive=True))


# transparency-dev/merkle's library errors for size1 = 0; format.md §3.4 accepts 0 -> n with an
# empty path and first_root = SHA-256("") (second_root is then bound by the signed checkpoint).
PBR_ACCEPTS = {"consistency/additional/size1-is-zero-and-size2-is-not-zero.json"}


@unittest.skipUnless(os.path.isdir(INTEROP), "the interop vectors (../shared/interop/vectors) are not here")
class InteropTests(Base):
    """Known answers from other implementations: RFC 6962 proofs, C2SP notes and cosignatures."""

    def test_transparency_dev_merkle_vectors(self) -> None:
        counts = {"inclusion": 0, "consistency": 0, "happy": 0}
        for kind in ("inclusion", "consistency"):
            for path in vector_files(kind):
                name = os.path.relpath(path, os.path.join(INTEROP, "merkle", "transparency-dev"))
                with open(path, encoding="utf-8") as f:
                    v = json.load(f)
                proof = [b64d(h) for h in v["proof"] or []]
                if kind == "inclusion":
                    got = ve.verify_inclusion(v["leafIdx"], v["treeSize"], b64d(v["leafHash"]), proof, b64d(v["root"]))
                else:
                    got = ve.verify_consistency(v["size1"], v["size2"], b64d(v["root1"]), b64d(v["root2"]), proof)
                want = not v["wantErr"] or name in PBR_ACCEPTS
                with self.subTest(vector=name):
                    self.assertEqual(got, want, v["desc"])
                counts[kind] += 1
                counts["happy"] += not v["wantErr"]
        self.assertGreaterEqual(counts["inclusion"], 90)
        self.assertGreaterEqual(counts["consistency"], 90)
        self.assertGreaterEqual(counts["happy"], 10)

    def test_happy_paths_through_the_command_line(self) -> None:
        """Each happy path as a pbr proof document, its root in a checkpoint signed by test keys."""
        ran = 0
        for kind in ("inclusion", "consistency"):
            for path in vector_files(kind):
                with open(path, encoding="utf-8") as f:
                    v = json.load(f)
                if v["wantErr"] or path.endswith("sizes-are-equal-one-and-proof-is-empty.json"):
                    continue  # (that one has 12-byte placeholder roots, which no checkpoint holds)
                hexes = [b64d(h).hex() for h in v["proof"] or []]
                if kind == "inclusion":
                    size, root = v["treeSize"], b64d(v["root"])
                    doc = {"leaf_index": v["leafIdx"], "tree_size": size, "leaf_hash": b64d(v["leafHash"]).hex(),
                           "path": hexes, "root": root.hex()}
                else:
                    size, root = v["size2"], b64d(v["root2"])
                    doc = {"first": v["size1"], "second": size, "first_root": b64d(v["root1"]).hex(),
                           "second_root": root.hex(), "path": hexes}
                doc["checkpoint"] = mk.signed_note(mk.note_body(mk.ORIGIN, size, root), LOG, WITS)
                with self.subTest(vector=path):
                    self.assert_ok(run_here(kind, self.write(json.dumps(doc), ".json"), *POLICY_ARGS))
                    if hexes:  # and one bit flipped
                        doc["path"] = [hexes[0][:-1] + ("0" if hexes[0][-1] != "0" else "1")] + hexes[1:]
                        self.assert_fails(run_here(kind, self.write(json.dumps(doc), ".json"), *POLICY_ARGS),
                                          "does not verify")
                ran += 1
        self.assertGreaterEqual(ran, 10)

    def test_a_real_certificate_transparency_log(self) -> None:
        """argon2020: entry 10000 in the tree of 961,984,011, and consistency from 3,654,490."""
        d = os.path.join(INTEROP, "merkle", "azul-ct-argon2020")

        def load(prefix: str) -> Any:
            (path,) = glob.glob(os.path.join(d, glob.escape(prefix) + "*"))
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        with open(os.path.join(d, "get-sth"), encoding="utf-8") as f:
            sth = json.load(f)
        entry = load("get-entries-start-10000")["entries"][0]
        leaf = mk.leaf_hash(base64.b64decode(entry["leaf_input"]))
        self.assertEqual(base64.b64encode(leaf).decode(), "nCs3mfIydh9x4CKyQ+u2xtmpxmFggA5MLymHwNQSlLg=")
        root, size = base64.b64decode(sth["sha256_root_hash"]), sth["tree_size"]
        path = [base64.b64decode(h) for h in load("get-proof-by-hash")["audit_path"]]
        self.assertTrue(ve.verify_inclusion(10000, size, leaf, path, root))
        self.assertFalse(ve.verify_inclusion(10001, size, leaf, path, root))
        self.assertFalse(ve.verify_inclusion(10000, size, leaf, next(flips(path)), root))
        old = base64.b64decode("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=")
        proof = [base64.b64decode(h) for h in load("get-sth-consistency")["consistency"]]
        self.assertTrue(ve.verify_consistency(3654490, size, old, root, proof))
        self.assertFalse(ve.verify_consistency(3654491, size, old, root, proof))
        self.assertFalse(ve.verify_consistency(3654490, size, old, root, proof[:-1]))

    # ---- C2SP notes

    TESSERA = os.path.join(INTEROP, "tiles", "tessera-testdata", "log")
    TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
    TESSERA_SIGNER = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"

    def tessera_entries(self) -> list[bytes]:
        """The entry bundle of the size-15 tree: each entry a u16 big-endian length and its bytes."""
        with open(os.path.join(self.TESSERA, "tile", "entries", "000.p", "15"), "rb") as f:
            data = f.read()
        entries = []
        while data:
            n = int.from_bytes(data[:2], "big")
            entries.append(data[2:2 + n])
            data = data[2 + n:]
        return entries

    def test_tessera_log_signatures(self) -> None:
        """A known answer for the log key's note signature: tessera's test log, every size 0..15."""
        entries = self.tessera_entries()
        self.assertEqual(b" ".join(entries), b"one two three four five six seven eit nain ten ileven twelf "
                                             b"threeten fourten fivten")
        leaves = [mk.leaf_hash(e) for e in entries]
        with open(os.path.join(self.TESSERA, "tile", "0", "000.p", "15"), "rb") as f:
            self.assertEqual(f.read(), b"".join(leaves))  # the level-0 hash tile is the leaf hashes
        policy = policy_of(f"log {self.TESSERA_VKEY}\nquorum none\n")
        name, kind, signer = mk.private_key(self.TESSERA_SIGNER)
        self.assertEqual(mk.verifier_key(name, mk.public_key(signer), kind), self.TESSERA_VKEY)
        for size in range(16):
            with self.subTest(size=size):
                with open(os.path.join(self.TESSERA, f"checkpoint.{size}"), encoding="utf-8") as f:
                    text = f.read()
                cp = ve.parse_checkpoint(text)
                self.assertEqual((cp.origin, cp.size), ("example.com/log/testdata", size))
                self.assertEqual(cp.root, mk.mth(leaves[:size]))
                signed = ve.check_checkpoint(cp, policy)
                self.assertEqual(signed.log.label, "example.com/log/testdata+33d7b496")
                # make_test_export's signer writes the same line, byte for byte (Ed25519 is deterministic)
                self.assertEqual(text, mk.signed_note(cp.body.decode(), (name, signer), []))
        with open(os.path.join(self.TESSERA, "checkpoint"), encoding="utf-8") as f:
            latest = f.read()
        self.assertEqual(ve.parse_checkpoint(latest).size, 15)
        for bad in (latest.replace("\n15\n", "\n14\n"), latest.replace("M9e0", "M9e1")):
            with self.assertRaises(ve.VerifyError):
                ve.check_checkpoint(ve.parse_checkpoint(bad), policy)
        with self.assertRaises(ve.VerifyError) as cm:  # a vkey of another name does not sign this origin
            ve.check_checkpoint(ve.parse_checkpoint(latest), policy_of(f"log {LOG_VKEY}\nquorum none\n"))
        self.assertIn("is not a log of your trust input", cm.exception.reason)

    SKYLIGHT = os.path.join(INTEROP, "tiles", "sunlight-skylight", "testdata")
    COSIGNED = [  # (checkpoint, the witness description with its vkey)
        ("witness/000de184301123b9278c086a7d9f68c9577e83872224c197058fd90784ea9706/checkpoint", "witness/witness.v0.json"),
        ("witness2/88ad7a28caeb0b2aa890fdf0304c2fcaf59fca2ee140134ff8c1300bac493482/checkpoint",
         "witness2/witness.v0.json"),
        ("witness/mirror/000de184301123b9278c086a7d9f68c9577e83872224c197058fd90784ea9706/checkpoint",
         "witness/mirror/mirror.v0.json"),
    ]

    def test_skylight_cosignatures(self) -> None:
        """Known answers for cosignature/v1: three witnesses' cosignatures, time 1767139200."""
        for note_path, json_path in self.COSIGNED:
            with self.subTest(note=note_path):
                with open(os.path.join(self.SKYLIGHT, json_path), encoding="utf-8") as f:
                    (text_key,) = json.load(f)["verifier_keys"]
                vk = ve.parse_vkey(text_key, (ve.WITNESS_KEY,))
                with open(os.path.join(self.SKYLIGHT, note_path), encoding="utf-8") as f:
                    note = f.read()
                cp = ve.parse_checkpoint(note)
                self.assertEqual((cp.origin[-12:], cp.size), (".example.org", 300))
                known = {(vk.name, vk.key_id): vk}
                good = ve.verify_note_lines(cp.body, cp.sig_lines, known)
                self.assertEqual(good, {vk.label: (vk, 1767139200)})
                # the log's RFC 6962 TreeHeadSignature line (type 0x05) is of a key we do not know: ignored
                if note_path.startswith("witness/000"):
                    self.assertEqual(len(cp.sig_lines), 2)
                line = next(s for s in cp.sig_lines if s.split(" ")[1] == vk.name)
                raw = base64.b64decode(line.split(" ")[2])
                for bad_raw, reason in [
                    (raw[:12] + bytes([raw[12] ^ 1]) + raw[13:], ""),  # a byte of R
                    (raw[:-1] + bytes([raw[-1] ^ 1]), ""),  # a byte of S
                    (raw[:4] + (1767139201).to_bytes(8, "big") + raw[12:], "does not verify"),  # another time
                ]:
                    forged = note.replace(line, f"\u2014 {vk.name} {base64.b64encode(bad_raw).decode()}")
                    cpf = ve.parse_checkpoint(forged)
                    with self.assertRaises(ve.VerifyError) as cm:
                        ve.verify_note_lines(cpf.body, cpf.sig_lines, known)
                    self.assertIn(f"the cosignature of {vk.label}", cm.exception.reason)
                    self.assertIn(reason, cm.exception.reason)
                with self.assertRaises(ve.VerifyError):  # the same cosignature on another tree
                    other = note.replace("\n300\n", "\n299\n")
                    cpo = ve.parse_checkpoint(other)
                    ve.verify_note_lines(cpo.body, cpo.sig_lines, known)
                # as a witness of a policy, with the log key unknown: the cosignature counts, the log does not
                fake_log = ve.parse_vkey(mk.verifier_key(cp.origin, mk.public_key(LOG[1])))
                policy = ve.Policy("test", logs=[fake_log], witnesses={"w": vk}, quorum="w")
                with self.assertRaises(ve.VerifyError) as cm:
                    ve.check_checkpoint(cp, policy)
                self.assertIn("no signature by the log key", cm.exception.reason)
        with open(os.path.join(self.SKYLIGHT, "witness", "checkpoint"), encoding="utf-8") as f:
            with self.assertRaises(ve.VerifyError):  # a decoy
                ve.parse_checkpoint(f.read())

    def test_skylight_key_ids(self) -> None:
        """The witness key ids are SHA-256(name || 0x0A || 0x04 || key)[:4] (tlog-cosignature)."""
        for _, json_path in self.COSIGNED:
            with open(os.path.join(self.SKYLIGHT, json_path), encoding="utf-8") as f:
                (text_key,) = json.load(f)["verifier_keys"]
            vk = ve.parse_vkey(text_key)
            self.assertEqual(vk.kind, 4)
            self.assertEqual(vk.text, text_key)
            self.assertEqual(mk.verifier_key(vk.name, vk.pk, 4), text_key)
            as_log = mk.verifier_key(vk.name, vk.pk, 1)  # the same key as type 0x01 has another id
            self.assertNotEqual(as_log.split("+")[1], text_key.split("+")[1])
            with self.assertRaises(ve.VerifyError) as cm:
                ve.parse_vkey(as_log.split("+")[0] + "+" + text_key.split("+")[1] + "+" + as_log.split("+", 2)[2])
            self.assertIn("key id does not match", cm.exception.reason)

    def test_signed_note_spec_example(self) -> None:
        """C2SP signed-note's example: a note that is not a checkpoint, and its vkey."""
        vk = ve.parse_vkey("example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
        note = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTg"
                "K7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
        body, lines = ve.split_note(note)
        self.assertEqual(ve.verify_note_lines(body, lines, {(vk.name, vk.key_id): vk}), {vk.label: (vk, None)})
        with self.assertRaises(ve.VerifyError):
            body, lines = ve.split_note(note.replace("example message", "example massage"))
            ve.verify_note_lines(body, lines, {(vk.name, vk.key_id): vk})
        with self.assertRaises(ve.VerifyError) as cm:
            ve.parse_checkpoint(note)
        self.assertIn("body has 1 lines, expected 3", cm.exception.reason)


# ------------------------------------------------------- Rust-written vectors

def vector(name: str) -> str:
    return os.path.join(HERE, "..", "tests", "vectors", name)


def is_format_2_note(note: str) -> bool:
    return note.split("\n\n", 1)[0].count("\n") == 2


class RustVectorTests(Base):
    """The golden vectors that the Rust code writes, checked by this independent code."""

    def demo_policy(self) -> list[str]:
        return ["--policy", self.write(DEMO_POLICY, ".policy")]

    def test_records_json(self) -> None:
        with open(vector("records.json"), encoding="utf-8") as f:
            vectors = json.load(f)
        keys = {}
        for key in vectors["keys"]:
            seed = bytes.fromhex(key["seed_hex"])
            pk = bytes(SigningKey(seed).verify_key)
            vk = ve.parse_vkey(key["verifier_key"])
            self.assertEqual((vk.name, vk.pk, vk.kind), (key["name"], pk, 1))
            keys[pk] = vk.name
        stack: list[bytes] = []
        chain = bytes(32)
        self.assertEqual(ve.stack_root(stack).hex(), vectors["roots"][0]["root"])
        self.assertEqual(vectors["roots"][0]["root"], hashlib.sha256(b"").hexdigest())
        for i, record in enumerate(vectors["records"]):
            self.assertEqual(record["seq"], i)
            raw = bytes.fromhex(record["record_hex"])
            parsed = ve.parse_record(raw)
            self.assertIsInstance(parsed, tuple, parsed)
            assert isinstance(parsed, tuple)
            event, pk, sig = parsed
            self.assertEqual(event.hex(), record["event_hex"])
            self.assertIn(pk, keys)
            self.assertIsNone(ve.strict_verify(pk, b"pbr-event-v1\n" + event, sig))
            leaf = ve.leaf_hash(raw)
            chain = ve.chain_hash(chain, raw)
            self.assertEqual(leaf.hex(), record["leaf_hash"])
            self.assertEqual(chain.hex(), record["chain_hash"])
            ve.stack_push(stack, i, leaf)
            self.assertEqual(ve.stack_root(stack).hex(), vectors["roots"][i + 1]["root"])

    def test_sample_export(self) -> None:
        """The golden export the Rust code writes (its demo ledger) passes under the demo's policy,
        every event decoded (§5, §8); while it is still a format-1 export, it is refused as one."""
        path = vector("sample-export.jsonl")
        with open(path, encoding="utf-8") as f:
            last = json.loads(f.read().splitlines()[-1])
        proc = run_here("export", path, *self.demo_policy())
        if "format" not in last:
            self.assert_fails(proc, "this is a format-1 export")
            return
        self.assert_ok(proc)
        self.assertIn("cosigned by aalborg-jobcenter, fokus-provider", proc.stdout)

    def test_sample_proofs(self) -> None:
        ran = 0
        for name, kind in (("sample-inclusion-proof.json", "inclusion"),
                           ("sample-inclusion-proof-at-40.json", "inclusion"),
                           ("sample-consistency-proof.json", "consistency")):
            with open(vector(name), encoding="utf-8") as f:
                doc = json.load(f)
            if not is_format_2_note(doc["checkpoint"]):
                continue  # not regenerated for format 2 yet
            with self.subTest(vector=name):
                self.assert_ok(run_here(kind, vector(name), *self.demo_policy()))
            ran += 1
        if not ran:
            self.skipTest("tests/vectors/sample-*-proof*.json still embed format-1 checkpoints")


# ------------------------------------------------------------------ tiles (format.md §6.3)

TESSERA_LOG = os.path.join(INTEROP, "tiles", "tessera-testdata", "log")
TESSERA_ARGS = ["--key", "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx",
                "--quorum", "0"]
TESSERA_WORDS = b"one two three four five six seven eit nain ten ileven twelf threeten fourten fivten".split()
PBR_BIN = os.environ.get("PBR_BIN") or os.path.join(HERE, "..", "target", "debug", "pbr")


def spec_index(n: int) -> str:
    """tlog-tiles, written from its text: zero-padded 3-digit elements, all but the last with an x."""
    digits = str(n)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + groups[-1:])


def spec_tiles(entries: list[bytes], size: int) -> dict[str, bytes]:
    """Every tile a client of a tree of `size` needs, {path: content}, straight from the spec's
    formula MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]) (reference code, slow and simple)."""
    leaves = [mk.leaf_hash(e) for e in entries[:size]]
    out = {}
    for n in range((size + 255) // 256):
        chunk = entries[256 * n:min(size, 256 * n + 256)]
        out[f"tile/entries/{spec_index(n)}" + ("" if len(chunk) == 256 else f".p/{len(chunk)}")] = b"".join(
            len(e).to_bytes(2, "big") + e for e in chunk)
    level = 0
    while size >> (8 * level):
        span, count = 256 ** level, size >> (8 * level)
        hashes = [leaves[j] if span == 1 else mk.mth(leaves[j * span:(j + 1) * span]) for j in range(count)]
        for n in range((count + 255) // 256):
            chunk = hashes[256 * n:256 * n + 256]
            out[f"tile/{level}/{spec_index(n)}" + ("" if len(chunk) == 256 else f".p/{len(chunk)}")] = b"".join(chunk)
        level += 1
    return out


def write_tree(root: str, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def make_tree(root: str, entries: list[bytes], note: str, earlier: tuple[int, ...] = ()) -> None:
    """A tlog-tiles tree of `entries` with its checkpoint, keeping the tiles of the `earlier` sizes too."""
    for size in (*earlier, len(entries)):
        write_tree(root, spec_tiles(entries, size))
    write_tree(root, {"checkpoint": note.encode()})


def raw_note(entries: list[bytes]) -> str:
    """A checkpoint over raw entries, signed by the test log key only (trust: RAW_ARGS)."""
    return mk.signed_note(mk.note_body(mk.ORIGIN, len(entries), mk.mth([mk.leaf_hash(e) for e in entries])), LOG)


RAW_ARGS = ["--key", LOG_VKEY, "--quorum", "0", "--raw-entries"]


def flip(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 1]))


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def append(path: str, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def writable_copy(src: str, dst: str) -> str:
    shutil.copytree(src, dst)
    for dirpath, _, files in os.walk(dst):
        os.chmod(dirpath, 0o755)
        for name in files:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return dst


class TileTests(Base):
    def copy(self, src: str) -> str:
        self.count += 1
        return writable_copy(src, os.path.join(self.tmp, f"tree{self.count}"))

    def test_index_encoding(self) -> None:
        for n, text in [(0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
                        (10 ** 9, "x001/x000/x000/000")]:
            self.assertEqual(ve.index_path(n), text)
            self.assertEqual(spec_index(n), text)

    def test_tile_paths(self) -> None:
        for rel, want in [("0/000", (0, 0, 256)), ("entries/000.p/15", (None, 0, 15)), ("63/000", (63, 0, 256)),
                          ("1/x001/x234/067.p/255", (1, 1234067, 255)), ("entries/x001/000", (None, 1000, 256)),
                          ("12/999.p/1", (12, 999, 1))]:
            tile = ve.parse_tile_path(rel)
            self.assertEqual(tile, ve.Tile(*want), rel)
            self.assertEqual(tile.path, "tile/" + rel)
        for rel in ["64/000", "00/000", "01/000", "-1/000", "0/0", "0/0000", "0/00a", "0/x000/001", "0/x001",
                    "0/x1/000", "0/000.p/0", "0/000.p/256", "0/000.p/015", "0/000.p", "0/000.p/", "0/000.p/1/2",
                    "8/0/000", "8/0/x001/x234/067", "data/000", "entries", "entries/000.p/1.gz", "0/000/",
                    "0/000.q/1", "/0/000", "0//000", "0/001 ", "level/000", "0/\u0661\u0662\u0663"]:
            self.assertIsNone(ve.parse_tile_path(rel), rel)

    def test_tiles_a_client_needs(self) -> None:
        """tlog-tiles' examples: a tree of 70,000 and a tree of 256."""
        paths = [t.path for t in ve.tiles_needed(70_000) if t.level is not None]
        self.assertEqual(len(paths), 273 + 1 + 1 + 1 + 1)
        self.assertEqual(paths[272:], ["tile/0/272", "tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17",
                                       "tile/2/000.p/1"])
        bundles = [t.path for t in ve.tiles_needed(70_000) if t.level is None]
        self.assertEqual((len(bundles), bundles[-1]), (274, "tile/entries/273.p/112"))
        self.assertEqual([t.path for t in ve.tiles_needed(256)], ["tile/entries/000", "tile/0/000", "tile/1/000.p/1"])
        self.assertEqual(list(ve.tiles_needed(0)), [])
        for size in (1, 15, 255, 256, 257, 511, 512, 513, 600):  # the reference writer's paths
            self.assertEqual(sorted(t.path for t in ve.tiles_needed(size)),
                             sorted(spec_tiles([b""] * size, size)), size)
        for size in (1, 257, 65_535, 65_536, 65_537, 70_000, 16_777_216):
            for t in ve.tiles_needed(size):  # each needed tile covers itself
                self.assertEqual(ve.covering_tile(t, size), t)

    # ---- tessera's test log: plain words, not pbr records

    def test_tessera_log_passes(self) -> None:
        proc = run("tiles", TESSERA_LOG, *TESSERA_ARGS, "--raw-entries")
        self.assert_ok(proc)
        self.assertIn("ok: 15 entries (raw: not checked as pbr records) in 1 entry bundle and 1 hash tile "
                      "(28 earlier partial tiles agreeing), origin example.com/log/testdata, root "
                      "aca6c38a90af86e5f5199ee0e4105ef2c03a05b27b8daff59e4e36eefdfcddcb", proc.stdout)
        # the reference writer makes the same files, byte for byte
        for size in range(1, 16):
            for rel, data in spec_tiles(TESSERA_WORDS, size).items():
                with open(os.path.join(TESSERA_LOG, rel), "rb") as f:
                    self.assertEqual(f.read(), data, rel)

    def test_tessera_log_is_no_pbr_log(self) -> None:
        self.assert_fails(run_here("tiles", TESSERA_LOG, *TESSERA_ARGS),
                          "tile/entries/000.p/15: entry 0 (seq 0): record truncated (3 bytes, header needs 10)")
        self.assert_fails(run_here("tiles", TESSERA_LOG, "--key", LOG_VKEY, "--quorum", "0", "--raw-entries"),
                          "checkpoint: origin 'example.com/log/testdata' is not a log of your trust input")

    def test_tessera_tampered(self) -> None:
        def bundle_offset(k: int) -> int:  # where entry k's bytes start in the bundle of 15
            return sum(2 + len(w) for w in TESSERA_WORDS[:k]) + 2

        def put(rel: str, data: bytes = b"") -> Any:
            return lambda d: write_tree(d, {rel: data})

        def rewrite_last_word(d: str) -> None:  # the bundle and its level-0 tile agree, the checkpoint does not
            words = TESSERA_WORDS[:14] + [b"fifteen"]
            write_tree(d, {k: v for k, v in spec_tiles(words, 15).items() if k.endswith(".p/15")})

        def older_checkpoint(d: str) -> None:
            shutil.copy(os.path.join(d, "checkpoint.14"), os.path.join(d, "checkpoint"))

        cases: list[tuple[str, Any, str]] = [
            ("a flipped byte in the bundle", lambda d: flip(f"{d}/tile/entries/000.p/15", bundle_offset(3)),
             "tile/entries/000.p/15: entry 3 (index 3) does not hash to hash 3 of tile/0/000.p/15"),
            ("a flipped byte in the last entry", lambda d: flip(f"{d}/tile/entries/000.p/15", bundle_offset(15) - 3),
             "tile/entries/000.p/15: entry 14 (index 14) does not hash"),
            ("a flipped byte in an earlier bundle", lambda d: flip(f"{d}/tile/entries/000.p/7", bundle_offset(5)),
             "tile/entries/000.p/7: entry 5 (index 5) is not the tree's (as in tile/entries/000.p/15)"),
            ("a flipped length in the bundle", lambda d: flip(f"{d}/tile/entries/000.p/15", 1),
             "tile/entries/000.p/15: "),
            ("a flipped byte in the hash tile", lambda d: flip(f"{d}/tile/0/000.p/15", 32 * 9 + 5),
             "tile/0/000.p/15: hash 9 (the tree's level-0 node 9) is not the hash recomputed from the entries"),
            ("a flipped byte in an earlier hash tile", lambda d: flip(f"{d}/tile/0/000.p/4", 32 * 3),
             "tile/0/000.p/4: hash 3 (the tree's level-0 node 3) is not the tree's (as in tile/0/000.p/15)"),
            ("a dropped hash tile", lambda d: os.remove(f"{d}/tile/0/000.p/15"),
             "tile/0/000.p/15: missing: a client of the tree of size 15 needs this partial (width 15) hash tile"),
            ("a dropped bundle", lambda d: os.remove(f"{d}/tile/entries/000.p/15"),
             "tile/entries/000.p/15: missing: a client of the tree of size 15 needs this partial (width 15) "
             "entry bundle"),
            ("a truncated bundle", lambda d: os.truncate(f"{d}/tile/entries/000.p/15", bundle_offset(15) - 4),
             "tile/entries/000.p/15: truncated: entry 14 (index 14) has the length 6, and 4 bytes follow"),
            ("a bundle cut after an entry",
             lambda d: os.truncate(f"{d}/tile/entries/000.p/15", bundle_offset(14) - 2),
             "tile/entries/000.p/15: truncated: the bundle ends after 14 entries, a partial (width 15) entry "
             "bundle holds 15"),
            ("a truncated earlier bundle",
             lambda d: os.truncate(f"{d}/tile/entries/000.p/3", bundle_offset(3) - 3),
             "tile/entries/000.p/3: truncated"),
            ("a bundle with a trailing byte", lambda d: append(f"{d}/tile/entries/000.p/15", b"\0"),
             "tile/entries/000.p/15: 1 trailing byte after the 15 entries"),
            ("a truncated hash tile", lambda d: os.truncate(f"{d}/tile/0/000.p/15", 32 * 15 - 1),
             "tile/0/000.p/15: 479 bytes: a partial (width 15) hash tile is 480 bytes"),
            ("a stray file in a tile directory", put("tile/0/000.p/15.orig"),
             "tile/0/000.p/15.orig: not a valid C2SP tile path"),
            ("a stray file under tile/", put("tile/README", b"hello"), "tile/README: not a valid C2SP tile path"),
            ("a Go-style tile path", put("tile/8/0/000.p/15", b"\0" * 480),
             "tile/8/0/000.p/15: not a valid C2SP tile path"),
            ("a non-canonical index", put("tile/0/x000/000.p/15", b"\0" * 480),
             "tile/0/x000/000.p/15: not a valid C2SP tile path"),
            ("a hash tile beyond the tree", put("tile/0/000.p/16", b"\0" * 512),
             "tile/0/000.p/16: beyond the checkpoint's tree: this partial (width 16) hash tile covers the tree's "
             "level-0 nodes 0..15, and the tree of size 15 has 15"),
            ("a full hash tile beyond the tree", put("tile/0/000", b"\0" * 8192),
             "tile/0/000: beyond the checkpoint's tree"),
            ("a level-1 tile beyond the tree", put("tile/1/000.p/1", b"\0" * 32),
             "tile/1/000.p/1: beyond the checkpoint's tree"),
            ("a bundle beyond the tree", put("tile/entries/001.p/1", b"\0\0"),
             "tile/entries/001.p/1: beyond the checkpoint's tree"),
            ("the entries and tile rewritten together", rewrite_last_word,
             "tile/entries: the Merkle root of the 15 entries, "),
            ("an older checkpoint with the newer tiles", older_checkpoint,
             "tile/0/000.p/15: beyond the checkpoint's tree: this partial (width 15) hash tile covers the tree's "
             "level-0 nodes 0..14, and the tree of size 14 has 14"),
            ("a forged log signature", lambda d: write_tree(d, {"checkpoint": mk.flipped_signature(
                read_bytes(f"{d}/checkpoint").decode(), "example.com/log/testdata", 40).encode()}),
             "checkpoint: checkpoint: the signature of example.com/log/testdata+33d7b496: signature does not verify"),
            ("no checkpoint", lambda d: os.remove(f"{d}/checkpoint"), "checkpoint: cannot read"),
            ("a symbolic link", lambda d: os.symlink("000.p/15", f"{d}/tile/0/000.p/link"),
             "tile/0/000.p/link: a symbolic link"),
            ("tile/ a file", lambda d: (shutil.rmtree(f"{d}/tile"), put("tile", b"x")(d)), "tile: not a directory"),
        ]
        for what, tamper, reason in cases:
            with self.subTest(what):
                d = self.copy(TESSERA_LOG)
                tamper(d)
                proc = run_here("tiles", d, *TESSERA_ARGS, "--raw-entries")
                self.assert_fails(proc, os.path.join(d, reason))

    def test_tessera_changes_that_keep_the_tree(self) -> None:
        """Logs MAY delete partial tiles once they are superseded; files beside tile/ are not the tree's."""
        d = self.copy(TESSERA_LOG)
        for k in range(1, 15):
            os.remove(f"{d}/tile/0/000.p/{k}")
        os.remove(f"{d}/tile/entries/000.p/7")
        write_tree(d, {"README": b"not a tile", "tile/0/000.p/6": spec_tiles(TESSERA_WORDS, 6)["tile/0/000.p/6"]})
        proc = run_here("tiles", d, *TESSERA_ARGS, "--raw-entries")
        self.assert_ok(proc)
        self.assertIn("(14 earlier partial tiles agreeing)", proc.stdout)
        # a client of size 14 needs the .p/14 tiles, and the .p/15 ones are beyond its tree
        d = self.copy(TESSERA_LOG)
        shutil.copy(f"{d}/checkpoint.14", f"{d}/checkpoint")
        os.remove(f"{d}/tile/0/000.p/15")
        os.remove(f"{d}/tile/entries/000.p/15")
        proc = run_here("tiles", d, *TESSERA_ARGS, "--raw-entries")
        self.assert_ok(proc)
        self.assertIn("ok: 14 entries (raw: not checked as pbr records) in 1 entry bundle and 1 hash tile "
                      "(26 earlier partial tiles agreeing)", proc.stdout)

    # ---- trees written here, from the spec's formula

    def test_trees_of_many_sizes(self) -> None:
        rng = __import__("random").Random(7)
        entries = [rng.randbytes(rng.choice((0, 1, 5, 40, 300))) for _ in range(65_536 + 300)]
        for size, earlier in [(0, ()), (1, ()), (2, (1,)), (255, (3, 254)), (256, (255,)), (257, (1, 256)),
                              (511, ()), (512, (300, 511)), (600, (1, 100, 256, 300, 513)),
                              (65_836, (65_536, 70, 256))]:
            with self.subTest(size=size):
                d = os.path.join(self.tmp, f"size{size}")
                make_tree(d, entries[:size], raw_note(entries[:size]), earlier)
                proc = run_here("tiles", d, *RAW_ARGS)
                self.assert_ok(proc)
                n_bundles = sum(1 for t in ve.tiles_needed(size) if t.level is None)
                n_tiles = sum(1 for t in ve.tiles_needed(size) if t.level is not None)
                self.assertIn(f"ok: {size} entries (raw: not checked as pbr records) in {n_bundles} entry "
                              f"bundle{'' if n_bundles == 1 else 's'} and {n_tiles} hash tile", proc.stdout)
                if size == 65_836:
                    self.assertEqual((n_bundles, n_tiles), (258, 258 + 2 + 1))
        d = os.path.join(self.tmp, "size65836")
        for rel, offset, reason in [
            ("tile/2/000.p/1", 31, "hash 0 (the tree's level-16 node 0) is not the hash recomputed from the entries"),
            ("tile/1/001.p/1", 0, "hash 0 (the tree's level-8 node 256) is not the hash recomputed"),
            ("tile/1/000", 32 * 200, "hash 200 (the tree's level-8 node 200) is not the hash recomputed"),
            ("tile/0/100", 32 * 17, "hash 17 (the tree's level-0 node 25617) is not the hash recomputed"),
            ("tile/1/000.p/1", 3, "hash 0 (the tree's level-8 node 0) is not the tree's (as in tile/1/000)"),
            ("tile/entries/000.p/70", 100, "is not the tree's (as in tile/entries/000): a bundle left from an "
                                           "earlier size must agree with the tree"),
            ("tile/entries/100", 7, "does not hash to hash 1 of tile/0/100, and the entries' Merkle root is not the "
                                    "checkpoint's"),
        ]:
            with self.subTest(flipped=rel):
                flip(os.path.join(d, rel), offset)
                try:
                    proc = run_here("tiles", d, *RAW_ARGS)
                finally:
                    flip(os.path.join(d, rel), offset)
                self.assert_fails(proc, reason)
                self.assertTrue(proc.stderr.startswith(f"{os.path.join(d, rel)}: "), proc.stderr)
        self.assert_ok(run_here("tiles", d, *RAW_ARGS))
        d = os.path.join(self.tmp, "size0")
        self.assertFalse(os.path.exists(os.path.join(d, "tile")))
        write_tree(d, {"tile/entries/000.p/1": b"\0\0"})
        self.assert_fails(run_here("tiles", d, *RAW_ARGS), "tile/entries/000.p/1: beyond the checkpoint's tree")

    def test_too_long_entry_cannot_be_framed(self) -> None:
        """A u16 length frames at most 65,535 bytes: a longer entry is read as a short one and the rest
        as garbage, so its tree cannot verify."""
        entries = [b"a" * 65_535, b"b"]
        d = os.path.join(self.tmp, "long")
        make_tree(d, entries, raw_note(entries))
        self.assert_ok(run_here("tiles", d, *RAW_ARGS))
        with open(os.path.join(d, "tile/entries/000.p/2"), "wb") as f:
            f.write((65_536 % 65_536).to_bytes(2, "big") + b"a" * 65_536 + b"\0\1b")
        self.assert_fails(run_here("tiles", d, *RAW_ARGS), "tile/entries/000.p/2: ")

    # ---- pbr records

    def pbr_tree(self, records: list[bytes], note: str | None = None) -> str:
        self.count += 1
        d = os.path.join(self.tmp, f"pbr{self.count}")
        make_tree(d, records, note if note is not None else mk.checkpoint_for(records))
        return d

    def test_pbr_records(self) -> None:
        records = mk.make_records(300)
        proc = run_here("tiles", self.pbr_tree(records), *POLICY_ARGS)
        self.assert_ok(proc)
        _, chains, root = mk.tree_heads(records)
        self.assertIn(f"ok: 300 records in 2 entry bundles and 3 hash tiles (0 earlier partial tiles agreeing), "
                      f"origin {mk.ORIGIN}, root {root.hex()}, chain head {chains[-1].hex()}, checkpoint signed by "
                      f"log key {LOG_LABEL}, cosigned by alice-witness, bob-witness", proc.stdout)
        export = run_here("export", self.write("".join(x + "\n" for x in mk.export_lines(
            records, mk.checkpoint_for(records), VKEYS))), *POLICY_ARGS)
        self.assertEqual(export.stdout.split(", checkpoint")[0].split(", origin")[1],
                         proc.stdout.split(", checkpoint")[0].split(", origin")[1])
        self.assert_ok(run_here("tiles", self.pbr_tree(records), *KEY_ARGS))
        self.assert_ok(run_here("tiles", self.pbr_tree(records), *POLICY_ARGS, "--raw-entries"))

    def test_pbr_records_that_are_refused(self) -> None:
        """Each tree is consistent and its checkpoint genuine: only the record is wrong."""
        records = mk.make_records(260)
        alice = PARTIES[0][1]
        event = mk.event_bytes_of(records[258])
        bad_sig = bytearray(records[258])
        bad_sig[-32] ^= 1  # the low byte of S: S stays canonical
        cases = [
            ("a signature that does not verify", 258, bytes(bad_sig),
             "tile/entries/001.p/4: entry 2 (seq 258): event signature: signature does not verify"),
            ("an event that does not decode", 258, mk.sign_event(alice, event + b"\0"),
             "entry 2 (seq 258): event_bytes does not decode (format.md §8): 1 trailing bytes"),
            ("bob's event signed with alice's key", 1, mk.sign_event(alice, mk.event_bytes_of(records[1])),
             "tile/entries/000: entry 1 (seq 1): signed by 'bob' with the key that signed 'alice'"),
            ("an event signed with the log key", 7, mk.sign_event(LOG[1], mk.event_bytes_of(records[7])),
             f"entry 7 (seq 7): signed with the public key of {LOG_LABEL}, which your trust input names as a "
             "log key"),
            ("format version 2", 100, b"\2" + records[100][1:], "entry 100 (seq 100): format_version 2, expected 1"),
            ("an empty entry", 0, b"",
             "tile/entries/000: entry 0 (seq 0): record truncated (0 bytes, header needs 10)"),
        ]
        for what, i, record, reason in cases:
            with self.subTest(what):
                changed = records[:i] + [record] + records[i + 1:]
                self.assert_fails(run_here("tiles", self.pbr_tree(changed), *POLICY_ARGS), reason)
                self.assert_ok(run_here("tiles", self.pbr_tree(changed), *POLICY_ARGS, "--raw-entries"))
        d = self.pbr_tree(records, mk.checkpoint_for(records, wits=WITS[:1]))
        self.assert_fails(run_here("tiles", d, *POLICY_ARGS), "checkpoint: checkpoint does not meet the quorum")
        self.assert_fails(run_here("tiles", d, *POLICY_ARGS, "--raw-entries"), "does not meet the quorum")

    def test_usage(self) -> None:
        self.assertEqual(run_here("tiles", self.tmp).returncode, 2)  # no trust input
        self.assertEqual(run_here("export", self.tmp, *POLICY_ARGS, "--raw-entries").returncode, 2)
        help_text = run("tiles", "--help").stdout
        self.assertIn("--raw-entries", help_text)
        self.assertIn("other logs' tiles", " ".join(help_text.split()))


def pos_99(bundle: bytes) -> int:
    pos = 0
    for _ in range(99):
        pos += 2 + int.from_bytes(bundle[pos:pos + 2], "big")
    return pos


class FreshTileExportTests(Base):
    """`pbr demo D` and `pbr --ledger D export --tiles T` with the binary built from this tree
    (`cargo build -p pbr-cli`; PBR_BIN overrides the path), checked under D/demo-keys/policy."""

    @classmethod
    def setUpClass(cls) -> None:
        if not os.access(PBR_BIN, os.X_OK):
            raise unittest.SkipTest(f"no pbr binary at {PBR_BIN}: run `cargo build -p pbr-cli` (or set PBR_BIN)")
        cls._work = tempfile.TemporaryDirectory()
        cls.ledger = os.path.join(cls._work.name, "D")
        cls.tiles = os.path.join(cls._work.name, "T")
        for args in (["demo", cls.ledger], ["--ledger", cls.ledger, "export", "--tiles", cls.tiles]):
            subprocess.run([PBR_BIN, *args], check=True, capture_output=True)
        cls.policy = ["--policy", os.path.join(cls.ledger, "demo-keys", "policy")]

    @classmethod
    def tearDownClass(cls) -> None:
        cls._work.cleanup()

    def test_genuine_tiles_pass(self) -> None:
        proc = run("tiles", self.tiles, *self.policy)
        self.assert_ok(proc)
        self.assertIn("in 3 entry bundles and 4 hash tiles", proc.stdout)
        self.assertIn("cosigned by aalborg-jobcenter, fokus-provider (quorum all of (aalborg-jobcenter, "
                      "fokus-provider) met)", proc.stdout)
        with open(os.path.join(self.tiles, "checkpoint"), encoding="utf-8") as f:
            size = ve.parse_checkpoint(f.read()).size
        self.assertEqual(sorted(t.path for t in ve.tiles_needed(size)),
                         sorted(os.path.relpath(os.path.join(p, n), self.tiles).replace(os.sep, "/")
                                for p, _, ns in os.walk(os.path.join(self.tiles, "tile")) for n in ns))
        export = os.path.join(self.tmp, "export.jsonl")
        subprocess.run([PBR_BIN, "--ledger", self.ledger, "export", "--out", export], check=True, capture_output=True)
        ex = run_here("export", export, *self.policy)
        self.assert_ok(ex)  # the same records, root and chain head as the export
        self.assertEqual(ex.stdout.split(", origin")[1], proc.stdout.split(", origin")[1])

    def test_earlier_partial_tiles_that_agree_pass(self) -> None:
        d = writable_copy(self.tiles, os.path.join(self.tmp, "t"))
        with open(f"{d}/tile/0/000", "rb") as f:
            level0 = f.read()
        with open(f"{d}/tile/entries/000", "rb") as f:
            bundle = f.read()
        pos = 0
        for _ in range(100):
            pos += 2 + int.from_bytes(bundle[pos:pos + 2], "big")
        write_tree(d, {"tile/0/000.p/100": level0[:3200], "tile/entries/000.p/100": bundle[:pos]})
        proc = run_here("tiles", d, *self.policy)
        self.assert_ok(proc)
        self.assertIn("(2 earlier partial tiles agreeing)", proc.stdout)
        write_tree(d, {"tile/entries/000.p/99": bundle[:pos]})  # 100 entries where 99 belong
        self.assert_fails(run_here("tiles", d, *self.policy),
                          f"{d}/tile/entries/000.p/99: {pos - pos_99(bundle)} trailing bytes after the 99 entries")

    def test_tampered_tiles_fail(self) -> None:
        def swap_two_records(d: str) -> None:  # every tile recomputed, the checkpoint kept
            with open(f"{d}/tile/entries/000", "rb") as f:
                data = f.read()
            records, pos = [], 0
            while pos < len(data):
                n = int.from_bytes(data[pos:pos + 2], "big")
                records.append(data[pos + 2:pos + 2 + n])
                pos += 2 + n
            records[3], records[4] = records[4], records[3]
            rest = []
            for rel in ("tile/entries/001", "tile/entries/002.p/106"):
                with open(f"{d}/{rel}", "rb") as f:
                    data = f.read()
                pos = 0
                while pos < len(data):
                    n = int.from_bytes(data[pos:pos + 2], "big")
                    rest.append(data[pos + 2:pos + 2 + n])
                    pos += 2 + n
            write_tree(d, spec_tiles(records + rest, len(records + rest)))

        cases: list[tuple[str, Any, str]] = [
            ("a flipped byte in a bundle", lambda d: flip(f"{d}/tile/entries/001", 5000), "tile/entries/001: entry "),
            ("a flipped byte in a hash tile", lambda d: flip(f"{d}/tile/0/001", 32 * 156),
             "tile/0/001: hash 156 (the tree's level-0 node 412) is not the hash recomputed from the entries"),
            ("a flipped byte in the level-1 tile", lambda d: flip(f"{d}/tile/1/000.p/2", 40),
             "tile/1/000.p/2: hash 1 (the tree's level-8 node 1) is not the hash recomputed from the entries"),
            ("a dropped tile", lambda d: os.remove(f"{d}/tile/1/000.p/2"),
             "tile/1/000.p/2: missing: a client of the tree of size 618 needs this partial (width 2) hash tile"),
            ("a truncated bundle", lambda d: os.truncate(f"{d}/tile/entries/002.p/106",
                                                         os.path.getsize(f"{d}/tile/entries/002.p/106") - 1),
             "tile/entries/002.p/106: truncated: entry 105 (index 617)"),
            ("a stray file", lambda d: write_tree(d, {"tile/0/notes.txt": b"x"}),
             "tile/0/notes.txt: not a valid C2SP tile path"),
            ("a tile beyond the tree", lambda d: write_tree(d, {"tile/0/002": bytes(8192)}),
             "tile/0/002: beyond the checkpoint's tree"),
            ("an earlier partial tile that disagrees", lambda d: write_tree(
                d, {"tile/0/001.p/9": read_bytes(f"{d}/tile/0/000")[:288]}),
             "tile/0/001.p/9: hash 0 (the tree's level-0 node 256) is not the tree's (as in tile/0/001)"),
            ("two records swapped, every tile recomputed", swap_two_records,
             "tile/entries: the Merkle root of the 618 entries, "),
        ]
        for what, tamper, reason in cases:
            with self.subTest(what):
                d = writable_copy(self.tiles, os.path.join(self.tmp, f"t{self.count}"))
                self.count += 1
                tamper(d)
                self.assert_fails(run_here("tiles", d, *self.policy), os.path.join(d, reason))


class DemoProofsWithExportTests(Base):
    """`verify_export.py inclusion|consistency|receipt ... --export FILE` (DESIGN §3, format.md §6.1) on
    proofs that the pbr binary built from this tree makes of its demo ledger D (618 records, a cosigned
    checkpoint at 40 too), of D+1 (D with one more record, signed and cosigned by D's witnesses) and of
    D+1' (D with another record instead), all under D/demo-keys/policy."""

    @classmethod
    def setUpClass(cls) -> None:
        if not os.access(PBR_BIN, os.X_OK):
            raise unittest.SkipTest(f"no pbr binary at {PBR_BIN}: run `cargo build -p pbr-cli` (or set PBR_BIN)")
        cls._work = tempfile.TemporaryDirectory()
        cls.demo = os.path.join(cls._work.name, "D")
        subprocess.run([PBR_BIN, "demo", cls.demo], check=True, capture_output=True)
        cls.policy = ["--policy", os.path.join(cls.demo, "demo-keys", "policy")]
        cls.bigger = cls.grown("D+1", "1000.00")
        cls.forked = cls.grown("D+1'", "2000.00")
        cls.exports = {}
        for ledger in (cls.demo, cls.bigger):
            cls.exports[ledger] = os.path.join(cls._work.name, os.path.basename(ledger) + ".jsonl")
            cls.pbr(ledger, "export", "--out", cls.exports[ledger])

    @classmethod
    def tearDownClass(cls) -> None:
        cls._work.cleanup()

    @classmethod
    def pbr(cls, ledger: str, *args: str) -> str:
        proc = subprocess.run([PBR_BIN, "--ledger", ledger, *args], capture_output=True, text=True)
        if proc.returncode != 0:
            raise AssertionError(f"pbr {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    @classmethod
    def grown(cls, name: str, amount: str) -> str:
        """A copy of the demo with one more record (a cost of `amount`), a checkpoint of 619 signed by the
        demo's log key and cosigned by its two witnesses, each with its own state copied from the demo."""
        ledger = os.path.join(cls._work.name, name)
        shutil.copytree(cls.demo, ledger)
        keys = os.path.join(ledger, "demo-keys")
        cls.pbr(ledger, "cost", "--contract", "impact60-demo", "--date", "2025-12-31", "--party", "fokus-provider",
                "--amount", amount, "--key", os.path.join(keys, "fokus-provider.key"))
        cls.pbr(ledger, "checkpoint", "sign", "--key", os.path.join(keys, "demo.pbr.example_impact60.key"))
        for witness in ("aalborg-jobcenter-witness", "fokus-provider-witness"):
            cls.pbr(ledger, "witness", "cosign", "--key", os.path.join(keys, f"{witness}.key"),
                    "--state", os.path.join(ledger, "demo-witnesses", witness))
        return ledger

    def proof(self, ledger: str, *args: str) -> str:
        return self.write(self.pbr(ledger, "proof", *args), ".proof")

    def record_hex(self, ledger: str, seq: int) -> str:
        with open(self.exports[ledger], encoding="utf-8") as f:
            for line in f:
                obj = json.loads(line)
                if obj.get("seq") == seq:
                    return obj["record_hex"]
        raise AssertionError(f"no seq {seq} in the export of {ledger}")

    def check(self, kind: str, proof: str, export: str | None, *args: str) -> subprocess.CompletedProcess[str]:
        return run_here(kind, proof, *self.policy, *args, *(("--export", export) if export else ()))

    def test_proofs_of_the_same_demo_pass(self) -> None:
        export = self.exports[self.demo]
        proc = run("inclusion", self.proof(self.demo, "--seq", "42", "--json"), *self.policy, "--export", export)
        self.assert_ok(proc)
        self.assertIn(f"; with the export {export} (verified, 618 records): the proof's tree of size 618 is a prefix "
                      "of it, leaf 42 is its record at seq 42, root is the root of its first 618 records", proc.stdout)
        proc = self.check("consistency", self.proof(self.demo, "--consistency", "--from", "40", "--json"), export)
        self.assert_ok(proc)
        self.assertIn("first_root is the root of its first 40 records, root is the root of its first 618 records",
                      proc.stdout)
        proc = self.check("receipt", self.proof(self.demo, "--seq", "617", "--format", "tlog-proof"), export,
                          "--record-hex", self.record_hex(self.demo, 617))
        self.assert_ok(proc)
        self.assertIn("leaf 617 is its record at seq 617, root is the root of its first 618 records", proc.stdout)

    def test_a_proof_of_a_prefix_passes(self) -> None:
        export = self.exports[self.demo]
        proc = self.check("inclusion", self.proof(self.demo, "--seq", "5", "--tree-size", "40", "--json"), export)
        self.assert_ok(proc)
        self.assertIn("the proof's tree of size 40 is a prefix of it, leaf 5 is its record at seq 5, root is the root "
                      "of its first 40 records", proc.stdout)
        proc = self.check("consistency", self.proof(self.demo, "--consistency", "--from", "7", "--to", "40", "--json"),
                          export)
        self.assert_ok(proc)
        self.assertIn("first_root is the root of its first 7 records, root is the root of its first 40 records",
                      proc.stdout)
        proc = self.check("receipt", self.proof(self.demo, "--seq", "39", "--tree-size", "40", "--format", "tlog-proof"),
                          export, "--record-hex", self.record_hex(self.demo, 39))
        self.assert_ok(proc)
        self.assertIn("in the tree of size 40 of demo.pbr.example/impact60", proc.stdout)
        # the demo's own proofs, of 618 records, against the export of D+1 (619 records)
        proc = self.check("inclusion", self.proof(self.demo, "--seq", "617", "--json"), self.exports[self.bigger])
        self.assert_ok(proc)
        self.assertIn("(verified, 619 records): the proof's tree of size 618 is a prefix of it", proc.stdout)

    def test_a_proof_of_a_larger_log_fails(self) -> None:
        export = self.exports[self.demo]
        reason = "the proof is of a tree of size 619, larger than the export's 618 records"
        for kind, proof, args in (
                ("inclusion", self.proof(self.bigger, "--seq", "5", "--json"), ()),
                ("inclusion", self.proof(self.bigger, "--seq", "618", "--json"), ()),
                ("consistency", self.proof(self.bigger, "--consistency", "--from", "618", "--json"), ()),
                ("receipt", self.proof(self.bigger, "--seq", "5", "--format", "tlog-proof"),
                 ("--record-hex", self.record_hex(self.demo, 5)))):
            with self.subTest(kind=kind, proof=proof):
                self.assert_ok(self.check(kind, proof, None, *args))  # valid on its own
                self.assert_fails(self.check(kind, proof, export, *args), f"{proof}: {reason}")
        proof = self.proof(self.bigger, "--seq", "5", "--json")
        self.assert_ok(self.check("inclusion", proof, self.exports[self.bigger]))  # and with its own export
        self.assert_fails(run("inclusion", proof, *self.policy, "--export", export), reason)

    def test_a_proof_whose_root_is_of_another_log_fails(self) -> None:
        """D+1' is D with another 619th record: a valid log of the same size, cosigned by the same witnesses."""
        export = self.exports[self.bigger]
        reason = "the proof's root for size 619 is not the root of the export's first 619 records"
        for kind, proof, args in (
                ("inclusion", self.proof(self.forked, "--seq", "5", "--json"), ()),
                ("consistency", self.proof(self.forked, "--consistency", "--from", "40", "--json"), ()),
                ("receipt", self.proof(self.forked, "--seq", "5", "--format", "tlog-proof"),
                 ("--record-hex", self.record_hex(self.bigger, 5)))):
            with self.subTest(kind=kind):
                self.assert_ok(self.check(kind, proof, None, *args))
                self.assert_fails(self.check(kind, proof, export, *args), f"{proof}: {reason}")
        proof = self.proof(self.forked, "--seq", "618", "--json")
        with open(proof, encoding="utf-8") as f:
            leaf = json.load(f)["leaf_hash"]
        self.assert_fails(self.check("inclusion", proof, export),
                          f"the proof's leaf 618 ({leaf}) is not the leaf of the export's record at seq 618")


if __name__ == "__main__":
    unittest.main()
