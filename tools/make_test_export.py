#!/usr/bin/env python3
"""Write a small valid pbr export, independently of the pbr code (docs/format.md §1, §3, §4, §5).

Records carry random-ish opaque event bytes and are signed alternately by two
keys, `alice` and `bob`; the checkpoint (origin `test.example/ledger`) is
co-signed by both. The two verifier keys are printed to stdout, one per line.

    make_test_export.py OUT.jsonl [-n N] [--seed SEED] [--time T]

The helpers are also imported by tools/test_verify_export.py to build tampered exports.
The Merkle root here is computed by the recursive definition (RFC 9162 §2.1.1),
not the streaming stack the verifier uses, so the two cross-check each other.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import sys

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
    """§5: one JSON line per record, then the checkpoint line (each without its `\\n`)."""
    leaves, chains, _ = tree_heads(records)
    lines = [json.dumps({"seq": i, "record_hex": r.hex(), "leaf_hash": leaves[i].hex(),
                         "chain_hash": chains[i].hex(), "event": None}, separators=(",", ":"))
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
    """n records, alternately by alice and bob; sizes include 0 and a few hundred bytes."""
    rng, keys = random.Random(seed), parties()
    sizes = [0, 1, 31, 32, 33, 200, 700]
    return [sign_event(keys[i % 2][1], rng.randbytes(sizes[i % len(sizes)] if i < 7 else rng.randrange(0, 300)))
            for i in range(n)]


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
