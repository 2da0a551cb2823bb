#!/usr/bin/env python3
"""Self-tests for tools/verify_export.py against exports made by tools/make_test_export.py.

Run: python3 -m unittest tools/test_verify_export.py   or   python3 tools/test_verify_export.py
Needs: blake3, PyNaCl.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from collections.abc import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import make_test_export as mk  # noqa: E402
from nacl.signing import SigningKey  # noqa: E402
import verify_export as ve  # noqa: E402

VERIFIER = os.path.join(HERE, "verify_export.py")
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

PARTIES = mk.parties()
MALLORY = ("mallory", mk.signing_key("mallory"))
VKEYS = [mk.verifier_key(n, mk.public_key(sk)) for n, sk in PARTIES]
KEY_ARGS = [a for k in VKEYS for a in ("--key", k)]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, VERIFIER, *args], capture_output=True, text=True)


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


class ExportTests(Base):
    records = mk.make_records(20)

    def export(self, records: list[bytes], note: str | None = None, vkeys: list[str] = VKEYS) -> list[str]:
        return mk.export_lines(records, note if note is not None else mk.checkpoint_for(records, PARTIES), vkeys)

    def verify_lines(self, lines: list[str], *args: str) -> subprocess.CompletedProcess[str]:
        return run("export", self.write("".join(x + "\n" for x in lines)), *(args or KEY_ARGS))

    def edit(self, lines: list[str], i: int, **fields: object) -> list[str]:
        obj = json.loads(lines[i])
        obj.update(fields)
        return lines[:i] + [json.dumps(obj)] + lines[i + 1:]

    def test_valid_export(self) -> None:
        proc = self.verify_lines(self.export(self.records))
        self.assert_ok(proc)
        self.assertIn("20 records", proc.stdout)
        self.assertIn("signed by alice, bob", proc.stdout)
        self.assertIn(mk.mth([mk.leaf_hash(r) for r in self.records]).hex(), proc.stdout)

    def test_valid_with_one_key_and_with_export_keys(self) -> None:
        lines = self.export(self.records)
        proc = self.verify_lines(lines, "--key", VKEYS[1])
        self.assert_ok(proc)
        self.assertIn("signed by bob", proc.stdout)
        proc = self.verify_lines(lines, "--trust-export-keys")
        self.assert_ok(proc)
        self.assertIn("not a trust anchor", proc.stderr)

    def test_generator_cli_and_sizes(self) -> None:
        for n in (0, 1, 2, 3, 7, 8, 9, 33):
            out = os.path.join(self.tmp, f"gen{n}.jsonl")
            gen = subprocess.run([sys.executable, os.path.join(HERE, "make_test_export.py"), out, "-n", str(n)],
                                 capture_output=True, text=True, check=True)
            keys = gen.stdout.split()
            self.assertEqual(keys, VKEYS)
            self.assert_ok(run("export", out, *[a for k in keys for a in ("--key", k)]))

    def test_no_trusted_key(self) -> None:
        self.assert_fails(self.verify_lines(self.export(self.records), "--key", mk.verifier_key(
            MALLORY[0], mk.public_key(MALLORY[1]))), "no valid signature from a trusted key")
        self.assert_fails(run("export", self.write("".join(x + "\n" for x in self.export(self.records)))),
                          "no trusted keys")

    def test_flipped_record_byte(self) -> None:
        rec = self.records[5]
        for offset in (0, 3, 12, len(rec) - 100, len(rec) - 50, len(rec) - 1):
            bad = bytearray(rec)
            bad[offset] ^= 0x01
            lines = self.edit(self.export(self.records), 5, record_hex=bad.hex())
            self.assert_fails(self.verify_lines(lines), "seq 5")

    def test_deleted_line(self) -> None:
        lines = self.export(self.records)
        self.assert_fails(self.verify_lines(lines[:7] + lines[8:]), "seq 8, expected 7")
        self.assert_fails(self.verify_lines(lines[:-2] + lines[-1:]), "checkpoint size 20")

    def test_swapped_lines(self) -> None:
        lines = self.export(self.records)
        swapped = lines[:3] + [lines[4], lines[3]] + lines[5:]
        self.assert_fails(self.verify_lines(swapped), ":4: seq 4, expected 3")
        renumbered = self.edit(self.edit(swapped, 3, seq=3), 4, seq=4)
        self.assert_fails(self.verify_lines(renumbered), "seq 3: chain_hash")

    def test_changed_leaf_hash(self) -> None:
        lines = self.export(self.records)
        self.assert_fails(self.verify_lines(self.edit(lines, 2, leaf_hash="00" * 32)), "seq 2: leaf_hash")
        self.assert_fails(self.verify_lines(self.edit(lines, 2, leaf_hash="AB" * 32)), "lowercase hex")

    def test_untrusted_checkpoint_signatures(self) -> None:
        _, chains, root = mk.tree_heads(self.records)
        body = mk.note_body(mk.ORIGIN, 20, root, chains[-1], 1)
        self.assert_fails(self.verify_lines(self.export(self.records, mk.signed_note(body, [MALLORY]))),
                          "no valid signature from a trusted key")
        # mallory under alice's name but with her own key id: unknown key, ignored
        as_alice = body + "\n" + mk.sig_line("alice", MALLORY[1], body)
        self.assert_fails(self.verify_lines(self.export(self.records, as_alice)), "no valid signature")
        # mallory claiming alice's key id: a trusted key's line that fails is an error, even next to bob
        forged = body + "\n" + mk.sig_line("alice", MALLORY[1], body, as_key=mk.public_key(PARTIES[0][1]))
        forged += mk.sig_line("bob", PARTIES[1][1], body)
        self.assert_fails(self.verify_lines(self.export(self.records, forged)), "trusted key 'alice'")
        # junk and unknown lines are ignored when a trusted signature is present
        junk = mk.signed_note(body, PARTIES) + "not a signature\n\u2014 x !!!\n" + mk.sig_line(*MALLORY, body)
        self.assert_ok(self.verify_lines(self.export(self.records, junk)))

    def test_altered_checkpoint(self) -> None:
        _, chains, root = mk.tree_heads(self.records)
        note = mk.checkpoint_for(self.records, PARTIES)
        bad_root = bytes([root[0] ^ 1]) + root[1:]
        b64 = base64.b64encode
        unsigned = note.replace(b64(root).decode(), b64(bad_root).decode())
        self.assert_fails(self.verify_lines(self.export(self.records, unsigned)), "root")
        resigned = mk.signed_note(mk.note_body(mk.ORIGIN, 20, bad_root, chains[-1], 1), PARTIES)
        self.assert_fails(self.verify_lines(self.export(self.records, resigned)), "checkpoint root does not match")
        bad_chain = mk.signed_note(mk.note_body(mk.ORIGIN, 20, root, chains[-2], 1), PARTIES)
        self.assert_fails(self.verify_lines(self.export(self.records, bad_chain)), "chain head")
        prefix = mk.checkpoint_for(self.records[:19], PARTIES)
        self.assert_fails(self.verify_lines(self.export(self.records, prefix)), "checkpoint size 19")

    def test_checkpoint_syntax(self) -> None:
        _, chains, root = mk.tree_heads(self.records)
        r, c = base64.b64encode(root).decode(), base64.b64encode(chains[-1]).decode()
        good = f"{mk.ORIGIN}\n20\n{r}\nchain {c}\ntime 5\n"
        self.assert_ok(self.verify_lines(self.export(self.records, mk.signed_note(good, PARTIES))))
        for body, reason in [
            (f"{mk.ORIGIN}\n020\n{r}\nchain {c}\ntime 5\n", "tree size"),
            (f"{mk.ORIGIN}\n20\n{r}\nchain {c}\ntime 05\n", "time"),
            (f"{mk.ORIGIN}\n20\n{r}\nchain {c}\ntime -5\n", "time"),
            (f"{mk.ORIGIN}\n20\n{r}\nchain {c}\ntime 5\nextra\n", "6 lines"),
            (f"{mk.ORIGIN}\n20\n{r}\nchain  {c}\ntime 5\n", "base64"),
            (f"{mk.ORIGIN}\n20\n{r}\nchain: {c}\ntime 5\n", "chain"),
            (f"{mk.ORIGIN}\n20\n{r.rstrip('=')}\nchain {c}\ntime 5\n", "base64"),
            (f"test example\n20\n{r}\nchain {c}\ntime 5\n", "origin"),
            (f"a+b\n20\n{r}\nchain {c}\ntime 5\n", "origin"),
            (f"\n20\n{r}\nchain {c}\ntime 5\n", "origin"),
            (f"{mk.ORIGIN}\n２0\n{r}\nchain {c}\ntime 5\n", "tree size"),
        ]:
            with self.subTest(body=body):
                note = mk.signed_note(body, PARTIES)
                self.assert_fails(self.verify_lines(self.export(self.records, note)), reason)
        no_blank = good + mk.sig_line("alice", PARTIES[0][1], good)
        self.assert_fails(self.verify_lines(self.export(self.records, no_blank)), "checkpoint")

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
        self.assert_fails(self.verify_lines(self.rebuilt(6, huge)), "exceeds the limit")

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
                self.assert_fails(run("export", self.write(bad), *KEY_ARGS), reason)
        path = self.write("")
        with open(path, "wb") as f:
            f.write(b"\xff\xfe\n")
        self.assert_fails(run("export", path, *KEY_ARGS), ":1: line is not valid UTF-8")
        self.assert_fails(run("export", os.path.join(self.tmp, "missing"), *KEY_ARGS), "cannot read")
        self.assert_fails(run("export", self.write(text), "--key", "alice+00000000+AAAA"), "--key")
        bad_id = VKEYS[0].replace("+97b15736+", "+97b15737+")
        self.assert_fails(run("export", self.write(text), "--key", bad_id), "key id does not match")

    def test_empty_export(self) -> None:
        self.assert_ok(self.verify_lines(self.export([])))
        self.assert_fails(self.verify_lines(self.export([], mk.checkpoint_for(self.records[:1], PARTIES))),
                          "checkpoint size 1 but the export has 0 records")


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

    def note(self, size: int, signers: list[tuple[str, SigningKey]] = PARTIES, origin: str = mk.ORIGIN) -> str:
        return mk.checkpoint_for(self.records[:size], signers, origin=origin)

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
        for m, n in ((0, 1), (5, 17), (16, 17), (7, 8), (0, 2)):
            self.assert_ok(run("inclusion", self.inclusion_json(m, n), *KEY_ARGS))
        path = [h.hex() for h in ref_path(5, self.leaves)]
        path[1] = path[1][:10] + ("0" if path[1][10] != "0" else "1") + path[1][11:]
        self.assert_fails(run("inclusion", self.inclusion_json(5, 17, path=path), *KEY_ARGS), "does not verify")
        self.assert_fails(run("inclusion", self.inclusion_json(5, 16, checkpoint=self.note(17)), *KEY_ARGS),
                          "size 17, expected 16")
        self.assert_fails(run("inclusion", self.inclusion_json(5, 17, checkpoint=self.note(17, [MALLORY])),
                              *KEY_ARGS), "no valid signature")
        self.assert_fails(run("inclusion", self.inclusion_json(5, 17, leaf_index=-1), *KEY_ARGS), "leaf_index")
        self.assert_fails(run("inclusion", self.inclusion_json(5, 17, path="x"), *KEY_ARGS), "path")
        self.assert_fails(run("inclusion", self.write("{", ".json"), *KEY_ARGS), "invalid JSON")

    def test_consistency_cli(self) -> None:
        for a, b in ((0, 0), (0, 17), (17, 17), (1, 17), (4, 17), (5, 17), (8, 16), (16, 17), (3, 5)):
            self.assert_ok(run("consistency", self.consistency_json(a, b), *KEY_ARGS))
        proof = self.consistency_json(5, 17)
        self.assert_ok(run("consistency", proof, *KEY_ARGS, "--old-checkpoint", self.write(self.note(5), ".note")))
        for old, reason in ((self.note(6), "does not match first=5"),
                            (self.note(5, origin="other.example/ledger"), "origin"),
                            (self.note(5, [MALLORY]), "no valid signature"),
                            ("garbage\n", "old checkpoint")):
            with self.subTest(reason=reason):
                self.assert_fails(run("consistency", proof, *KEY_ARGS, "--old-checkpoint",
                                      self.write(old, ".note")), reason)
        path = [h.hex() for h in ref_proof(5, self.leaves)]
        path[-1] = "00" * 32
        self.assert_fails(run("consistency", self.consistency_json(5, 17, path=path), *KEY_ARGS), "does not verify")
        self.assert_fails(run("consistency", self.consistency_json(17, 17, path=["00" * 32]), *KEY_ARGS),
                          "does not verify")
        self.assert_fails(run("consistency", self.consistency_json(5, 17, checkpoint=self.note(16)), *KEY_ARGS),
                          "expected 17")


class RustVectorTests(unittest.TestCase):
    """The golden vectors that the Rust code writes, checked by this independent code."""

    VECTORS = os.path.join(HERE, "..", "tests", "vectors", "records.json")

    def test_records_json(self) -> None:
        with open(self.VECTORS, encoding="utf-8") as f:
            vectors = json.load(f)
        keys = {}
        for key in vectors["keys"]:
            seed = bytes.fromhex(key["seed_hex"])
            pk = bytes(SigningKey(seed).verify_key)
            name, kid, vpk = ve.parse_verifier_key(key["verifier_key"])
            self.assertEqual((name, vpk), (key["name"], pk))
            keys[pk] = name
        stack: list[bytes] = []
        chain = bytes(32)
        self.assertEqual(ve.stack_root(stack).hex(), vectors["roots"][0]["root"])
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
            chain = ve.chain_hash(chain, leaf)
            self.assertEqual(leaf.hex(), record["leaf_hash"])
            self.assertEqual(chain.hex(), record["chain_hash"])
            ve.stack_push(stack, i, leaf)
            self.assertEqual(ve.stack_root(stack).hex(), vectors["roots"][i + 1]["root"])


if __name__ == "__main__":
    unittest.main()
