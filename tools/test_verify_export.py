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
from typing import Any

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
        self.assert_ok(self.verify_lines(self.export([])))
        self.assert_fails(self.verify_lines(self.export([], mk.checkpoint_for(self.records[:1], PARTIES))),
                          "checkpoint size 1 but the export has 0 records")


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


    def test_sample_export(self) -> None:
        """The golden export the Rust code writes (its demo ledger) passes, every event decoded (§5, §8)."""
        path = os.path.join(HERE, "..", "tests", "vectors", "sample-export.jsonl")
        with open(path, encoding="utf-8") as f:
            keys = json.loads(f.read().splitlines()[-1])["verifier_keys"]
        proc = run("export", path, *[a for k in keys for a in ("--key", k)])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertTrue(proc.stdout.startswith("ok: "), proc.stdout)

if __name__ == "__main__":
    unittest.main()
