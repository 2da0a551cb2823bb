//! pbr's trees and the C2SP notes it relies on, checked with another implementation:
//! Cloudflare azul's `signed_note` 0.2.0 and `tlog_tiles` 0.2.0 from crates.io (a Rust port
//! of Go's `sumdb/note` and `sumdb/tlog`).
//!
//! What those releases offer, and what the tests below lean on:
//! - `signed_note`: `Note::from_bytes` / `Note::verify(&impl Verifiers)` / `Note::text`, with
//!   `StandardVerifier::new(vkey)` for Ed25519 (type 0x01) only. There is no cosignature/v1
//!   (0x04) verifier, but the `Verifier` trait is open, so [`CosignatureV1`] supplies one.
//! - `tlog_tiles`: `Checkpoint::from_bytes` for the note text; `check_record` / `prove_record`
//!   (inclusion) and `check_tree` / `prove_tree` (consistency) over a `HashReader`; `Tile`
//!   with Go-style paths `tile/<H>/<L>/<N>` (height in the path, entries as `data`), not C2SP
//!   `tile/<L>/<N>`, so [`TesseraTiles`] maps them.

use pbr_log::hash::{Hash, leaf_hash};
use pbr_log::merkle::{
    MemoryTree, NodeSource, consistency_proof, inclusion_proof, root, verify_consistency,
    verify_inclusion,
};
use signed_note::{
    Note, NoteError, StandardVerifier, Verifier, VerifierError, VerifierList, key_id,
};
use tlog_tiles::{
    Checkpoint, HashReader, Tile, TileHashReader, TileReader, check_record, check_tree,
    prove_record, prove_tree, split_stored_hash_index, stored_hash_index, tree_hash,
};

const TESSERA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/interop/vectors/tiles/tessera-testdata/log"
);
const SKYLIGHT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/interop/vectors/tiles/sunlight-skylight/testdata"
);

/// The tessera test log's key (a test key, from its `testdata/build_log.sh`).
const TESSERA_VKEY: &str =
    "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";

/// The entries of the tessera test log, in order (interop README).
const TESSERA_WORDS: [&str; 15] = [
    "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf",
    "threeten", "fourten", "fivten",
];

fn tessera_tree() -> (MemoryTree, Vec<Hash>) {
    let leaves: Vec<Hash> = TESSERA_WORDS
        .iter()
        .map(|word| leaf_hash(word.as_bytes()))
        .collect();
    let mut tree = MemoryTree::new();
    for leaf in &leaves {
        tree.push(*leaf);
    }
    (tree, leaves)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn theirs(hashes: &[Hash]) -> Vec<tlog_tiles::Hash> {
    hashes.iter().map(|hash| tlog_tiles::Hash(*hash)).collect()
}

fn ours(hashes: &[tlog_tiles::Hash]) -> Vec<Hash> {
    hashes.iter().map(|hash| hash.0).collect()
}

/// `tlog_tiles`'s view of a pbr tree: Go's stored-hash index is a (level, index) pair, the
/// same complete subtrees [`NodeSource`] serves.
struct PbrHashes<'a>(&'a MemoryTree);

impl HashReader for PbrHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes
            .iter()
            .map(|&index| {
                let (level, n) = split_stored_hash_index(index);
                let Ok(hash) = self.0.node(u32::from(level), n);
                tlog_tiles::Hash(hash)
            })
            .collect())
    }
}

/// Every signed checkpoint of the tessera log (sizes 0 to 15) verifies with `signed_note`,
/// parses with `tlog_tiles`, and names the root pbr computes over the same entries.
#[test]
fn tessera_checkpoints_verify_with_signed_note_and_name_pbrs_roots() {
    let verifiers = VerifierList::new(vec![Box::new(StandardVerifier::new(TESSERA_VKEY).unwrap())]);
    let (tree, _) = tessera_tree();
    for size in 0..=15u64 {
        let text = read(&format!("{TESSERA}/checkpoint.{size}"));
        let note = Note::from_bytes(&text).unwrap();
        let (verified, unverified) = note.verify(&verifiers).unwrap();
        assert_eq!(verified.len(), 1);
        assert_eq!(verified[0].name(), "example.com/log/testdata");
        assert_eq!(verified[0].id(), 0x33d7_b496);
        assert!(unverified.is_empty());
        assert_eq!(note.to_bytes(), text, "the note re-encodes byte for byte");

        let checkpoint = Checkpoint::from_bytes(note.text()).unwrap();
        assert_eq!(checkpoint.origin(), "example.com/log/testdata");
        assert_eq!(checkpoint.size(), size);
        assert_eq!(checkpoint.extension(), "");
        assert_eq!(
            checkpoint.hash().0,
            root(&tree, size).unwrap(),
            "size {size}"
        );
    }
    assert_eq!(
        read(&format!("{TESSERA}/checkpoint")),
        read(&format!("{TESSERA}/checkpoint.15"))
    );

    // A changed byte in the body fails; a note signed by no known key is refused.
    let text = String::from_utf8(read(&format!("{TESSERA}/checkpoint"))).unwrap();
    let forged = Note::from_bytes(text.replacen("\n15\n", "\n16\n", 1).as_bytes()).unwrap();
    assert!(matches!(
        forged.verify(&verifiers),
        Err(NoteError::InvalidSignature { .. })
    ));
    let unknown = VerifierList::new(Vec::new());
    assert!(matches!(
        Note::from_bytes(text.as_bytes()).unwrap().verify(&unknown),
        Err(NoteError::UnverifiedNote)
    ));
}

/// pbr's inclusion and consistency proofs over the tessera entries are byte for byte
/// `tlog_tiles`'s, and each side's verifier accepts the other's, for every size and index.
#[test]
fn proofs_agree_with_tlog_tiles_both_ways() {
    let (tree, leaves) = tessera_tree();
    let reader = PbrHashes(&tree);
    for size in 1..=15u64 {
        let tree_root = root(&tree, size).unwrap();
        assert_eq!(tree_hash(size, &reader).unwrap().0, tree_root);
        for index in 0..size {
            let leaf = leaves[index as usize];
            let ours_path = inclusion_proof(&tree, index, size).unwrap();
            let their_path = prove_record(size, index, &reader).unwrap();
            assert_eq!(ours(&their_path), ours_path, "inclusion {index} in {size}");
            check_record(
                &theirs(&ours_path),
                size,
                tlog_tiles::Hash(tree_root),
                index,
                tlog_tiles::Hash(leaf),
            )
            .unwrap();
            assert!(verify_inclusion(
                index,
                size,
                &leaf,
                &ours(&their_path),
                &tree_root
            ));
        }
        for first in 1..=size {
            let first_root = root(&tree, first).unwrap();
            let ours_path = consistency_proof(&tree, first, size).unwrap();
            let their_path = prove_tree(size, first, &reader).unwrap();
            assert_eq!(
                ours(&their_path),
                ours_path,
                "consistency {first} -> {size}"
            );
            check_tree(
                &theirs(&ours_path),
                size,
                tlog_tiles::Hash(tree_root),
                first,
                tlog_tiles::Hash(first_root),
            )
            .unwrap();
            assert!(verify_consistency(
                first,
                size,
                &first_root,
                &tree_root,
                &ours(&their_path)
            ));
        }
    }
    // The one reading that differs: a consistency proof from the empty tree, which pbr
    // accepts with an empty path (DESIGN §3) and Go's `tlog`, like this port, refuses.
    let full = tree.root();
    assert!(verify_consistency(
        0,
        15,
        &pbr_log::hash::EMPTY_ROOT,
        &full,
        &[]
    ));
    assert!(
        check_tree(
            &Vec::new(),
            15,
            tlog_tiles::Hash(full),
            0,
            tlog_tiles::EMPTY_HASH
        )
        .is_err()
    );
}

/// The tessera log's C2SP hash tiles, read through `tlog_tiles`'s tile machinery.
struct TesseraTiles;

impl TileReader for TesseraTiles {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|tile| {
                // Go's `tile/8/0/000.p/15` is C2SP's `tile/0/000.p/15` (trap 2 of the
                // interop README); entry tiles (`data`) are never asked for here.
                assert!(!tile.is_data());
                let path = tile.path().replacen("tile/8/", "tile/", 1);
                std::fs::read(format!("{TESSERA}/{path}"))
                    .map_err(|e| tlog_tiles::Error::InvalidInput(format!("{path}: {e}")))
            })
            .collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

#[test]
fn tessera_tiles_through_tlog_tiles_match_pbrs_tree() {
    let (tree, leaves) = tessera_tree();
    let checkpoint = Note::from_bytes(&read(&format!("{TESSERA}/checkpoint"))).unwrap();
    let checkpoint = Checkpoint::from_bytes(checkpoint.text()).unwrap();
    assert_eq!(checkpoint.hash().0, tree.root());

    // Every partial tile of the log is the leaf hashes pbr computes, in order.
    for width in 1..=15u32 {
        let data = read(&format!("{TESSERA}/tile/0/000.p/{width}"));
        assert_eq!(data, leaves[..width as usize].concat(), "width {width}");
        let tile = Tile::new(8, 0, 0, width, false);
        for (index, leaf) in leaves[..width as usize].iter().enumerate() {
            let stored = stored_hash_index(0, index as u64);
            assert_eq!(tile.hash_at_index(&data, stored).unwrap().0, *leaf);
        }
    }

    // A hash reader over the tiles checks them against the signed root, then proves.
    let hashes = TileHashReader::new(15, *checkpoint.hash(), &TesseraTiles);
    assert_eq!(tree_hash(15, &hashes).unwrap().0, tree.root());
    for index in 0..15u64 {
        let path = prove_record(15, index, &hashes).unwrap();
        assert_eq!(ours(&path), inclusion_proof(&tree, index, 15).unwrap());
        assert!(verify_inclusion(
            index,
            15,
            &leaves[index as usize],
            &ours(&path),
            &tree.root()
        ));
    }

    // Its path parser speaks Go's layout only.
    let go = Tile::from_path("tile/8/0/000.p/15").unwrap();
    assert_eq!(
        (go.height(), go.level(), go.level_index(), go.width()),
        (8, 0, 0, 15)
    );
    assert!(Tile::from_path("tile/0/000.p/15").is_err());
    assert!(Tile::from_path("tile/entries/000.p/15").is_err());
}

/// A cosignature/v1 (type 0x04) verifier for `signed_note`, which has none: the signature
/// after the key id is `u64 BE timestamp ‖ Ed25519 signature` over
/// `"cosignature/v1\ntime <timestamp>\n" ‖ note text` (C2SP tlog-cosignature).
struct CosignatureV1 {
    name: String,
    id: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl CosignatureV1 {
    fn new(vkey: &str) -> CosignatureV1 {
        use base64::Engine as _;
        let mut parts = vkey.splitn(3, '+');
        let name = parts.next().unwrap().to_owned();
        let id = u32::from_str_radix(parts.next().unwrap(), 16).unwrap();
        let key = base64::engine::general_purpose::STANDARD
            .decode(parts.next().unwrap())
            .unwrap();
        assert_eq!(key[0], 0x04, "a cosignature/v1 key");
        assert_eq!(key_id(&name, &key), id, "signed_note's key id agrees");
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key[1..].try_into().unwrap()).unwrap();
        CosignatureV1 { name, id, key }
    }
}

impl Verifier for CosignatureV1 {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <&[u8; 72]>::try_from(sig) else {
            return false;
        };
        let (time, signature) = sig.split_at(8);
        let time = u64::from_be_bytes(time.try_into().unwrap());
        let mut message = format!("cosignature/v1\ntime {time}\n").into_bytes();
        message.extend_from_slice(msg);
        let signature = ed25519_dalek::Signature::from_bytes(signature.try_into().unwrap());
        self.key.verify_strict(&message, &signature).is_ok()
    }
}

#[test]
fn signed_note_takes_a_cosignature_v1_verifier_through_its_trait() {
    let witness = "witness.example.org+b8a2cf20+BFLN3yikSfFkVAJtrnh/CiY3Zozkoy7clp+P7XB28qUN";
    let keys = std::fs::read_to_string(format!("{SKYLIGHT}/witness/witness.v0.json")).unwrap();
    assert!(keys.contains(witness));
    // Its own verifier knows only Ed25519 note keys (0x01).
    assert!(matches!(
        StandardVerifier::new(witness),
        Err(VerifierError::Alg)
    ));

    let text = read(&format!(
        "{SKYLIGHT}/witness/000de184301123b9278c086a7d9f68c9577e83872224c197058fd90784ea9706/checkpoint"
    ));
    let note = Note::from_bytes(&text).unwrap();
    let verifiers = VerifierList::new(vec![Box::new(CosignatureV1::new(witness))]);
    let (verified, unverified) = note.verify(&verifiers).unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].name(), "witness.example.org");
    assert_eq!(
        u64::from_be_bytes(verified[0].signature()[..8].try_into().unwrap()),
        1_767_139_200
    );
    // The log's RFC 6962 TreeHeadSignature (0x05) is a key it does not know: kept aside.
    assert_eq!(unverified.len(), 1);
    assert_eq!(unverified[0].name(), "rome2026h1.example.org");

    let text = String::from_utf8(text).unwrap();
    let forged = Note::from_bytes(text.replacen("\n300\n", "\n301\n", 1).as_bytes()).unwrap();
    assert!(matches!(
        forged.verify(&verifiers),
        Err(NoteError::InvalidSignature { .. })
    ));
}

/// The golden tlog-proof receipt, checked end to end by the other implementation: its note
/// by `signed_note`, its checkpoint by `tlog_tiles`, its path by `check_record`, as the
/// C2SP tlog-proof steps 2 and 4 say.
#[test]
fn the_golden_receipt_verifies_with_their_crates() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/vectors/tessera-entry-7.tlog-proof"
    ))
    .unwrap();
    let receipt = pbr_log::TlogProof::parse(&text).unwrap();
    let note = Note::from_bytes(receipt.checkpoint().as_bytes()).unwrap();
    let verifiers = VerifierList::new(vec![Box::new(StandardVerifier::new(TESSERA_VKEY).unwrap())]);
    note.verify(&verifiers).unwrap();
    let checkpoint = Checkpoint::from_bytes(note.text()).unwrap();
    let leaf = leaf_hash(b"eit");
    check_record(
        &theirs(receipt.path()),
        checkpoint.size(),
        *checkpoint.hash(),
        receipt.index(),
        tlog_tiles::Hash(leaf),
    )
    .unwrap();
    receipt
        .verify(&leaf, checkpoint.size(), &checkpoint.hash().0)
        .unwrap();
}
