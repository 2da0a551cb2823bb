//! C2SP tlog-tiles: paths, the writer and the reader, against tessera's test log (a real
//! tlog-tiles implementation's output, byte for byte), the spec's examples, and our own log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pbr_log::error::TileError;
use pbr_log::hash::{EMPTY_ROOT, Hash, leaf_hash};
use pbr_log::merkle::{self, MemoryTree};
use pbr_log::tiles::{
    DirSource, TileKind, TilePath, TileReader, TileWriteSummary, entries_path, tile_path,
    tiles_for_size, write_tiles,
};
use pbr_log::{Log, Record};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::support::{key, record};

// ---------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------

const TESSERA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/interop/vectors/tiles/tessera-testdata/log"
);

const AZUL_SEEDS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/interop/vectors/tiles/azul-go-style-tile-paths"
);

#[test]
fn paths_as_the_spec_writes_them() {
    let cases: &[(TileKind, u64, u16, &str)] = &[
        (TileKind::Hashes(0), 1_234_067, 256, "tile/0/x001/x234/067"),
        (TileKind::Hashes(0), 0, 256, "tile/0/000"),
        (TileKind::Hashes(0), 0, 15, "tile/0/000.p/15"),
        (TileKind::Hashes(1), 1, 17, "tile/1/001.p/17"),
        (TileKind::Hashes(2), 0, 1, "tile/2/000.p/1"),
        (TileKind::Hashes(0), 273, 112, "tile/0/273.p/112"),
        (TileKind::Hashes(63), 999, 255, "tile/63/999.p/255"),
        (TileKind::Hashes(0), 1000, 256, "tile/0/x001/000"),
        (
            TileKind::Entries,
            1_234_067,
            5,
            "tile/entries/x001/x234/067.p/5",
        ),
        (TileKind::Entries, 0, 256, "tile/entries/000"),
        (
            TileKind::Hashes(7),
            u64::MAX,
            256,
            "tile/7/x018/x446/x744/x073/x709/x551/615",
        ),
    ];
    for &(kind, index, width, expected) in cases {
        let built = match kind {
            TileKind::Hashes(level) => tile_path(level, index, width).unwrap(),
            TileKind::Entries => entries_path(index, width).unwrap(),
        };
        assert_eq!(built, expected);
        let parsed = TilePath::parse(expected).unwrap();
        assert_eq!(
            (parsed.kind(), parsed.index(), parsed.width()),
            (kind, index, width),
            "{expected}"
        );
        assert_eq!(parsed.is_partial(), width < 256);
        assert_eq!(parsed.to_string(), expected);
    }
    for (level, width) in [(0, 0), (0, 257), (64, 1)] {
        assert!(matches!(
            tile_path(level, 0, width),
            Err(TileError::Path { .. })
        ));
    }
    assert!(entries_path(0, 0).is_err());
}

#[test]
fn malformed_paths_are_refused() {
    for bad in [
        "",
        "checkpoint",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0//000",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/data/000",
        "tile/Entries/000",
        "tile/0/0",
        "tile/0/00",
        "tile/0/0000",
        "tile/0/1a3",
        "tile/0/x001",
        "tile/0/001/002",
        "tile/0/x1/000",
        "tile/0/x000/001",
        "tile/0/x001/x002",
        "tile/0/000.p",
        "tile/0/000.p/",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/05",
        "tile/0/000.p/5/6",
        "tile/0/000.P/5",
        "tile/0/x001.p/5/000",
        "tile/0/../000",
        "tile/0/000\n",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/x001/x002/x003/x004/x005/x006/x007/008",
        "tile/entries/000.p/256",
    ] {
        assert!(
            matches!(TilePath::parse(bad), Err(TileError::Path { .. })),
            "{bad:?} was accepted"
        );
    }
}

/// azul's fuzz seeds are Go-style paths (`tile/<H>/<L>/<N>`, `data` for entries); none is a
/// C2SP path. The first five become one when the height is dropped, as trap 2 says to map.
#[test]
fn go_style_seed_paths_are_not_c2sp_paths() {
    let expected_without_height = [
        Some((TileKind::Hashes(0), 1, 256)),
        Some((TileKind::Hashes(0), 1, 5)),
        Some((TileKind::Hashes(5), 123_456_078, 256)),
        Some((TileKind::Hashes(5), 123_456_078, 2)),
        Some((TileKind::Hashes(0), 3_057_500, 256)),
        None, // groups without their x
        None, // a negative level
        None, // Go's `data`; C2SP says `entries` and bundles u16be-length entries
    ];
    for (number, expected) in (1..=8).zip(expected_without_height) {
        let raw =
            std::fs::read_to_string(Path::new(AZUL_SEEDS).join(format!("seed{number}"))).unwrap();
        let path = raw.trim_end_matches('\n');
        assert!(TilePath::parse(&raw).is_err(), "seed{number} raw");
        assert!(TilePath::parse(path).is_err(), "seed{number}: {path}");
        let (_, rest) = path["tile/".len()..].split_once('/').unwrap();
        let mapped = TilePath::parse(&format!("tile/{rest}"))
            .ok()
            .map(|p| (p.kind(), p.index(), p.width()));
        assert_eq!(mapped, expected, "seed{number} without its height: {path}");
    }
}

proptest! {
    /// Every index and width makes a path that parses back to itself.
    #[test]
    fn paths_parse_back(level in 0u8..=63, index in any::<u64>(), width in 1u16..=256) {
        let path = tile_path(level, index, width).unwrap();
        let parsed = TilePath::parse(&path).unwrap();
        prop_assert_eq!((parsed.level(), parsed.index(), parsed.width()), (Some(level), index, width));
        let path = entries_path(index, width).unwrap();
        let parsed = TilePath::parse(&path).unwrap();
        prop_assert_eq!((parsed.kind(), parsed.index(), parsed.width()), (TileKind::Entries, index, width));
    }
}

/// The path of the tessera directory, kept relative to the crate so the tests run wherever
/// the workspace is checked out beside `shared/`.
#[test]
fn the_interop_vectors_are_where_the_tests_look() {
    assert!(
        PathBuf::from(TESSERA).join("checkpoint").is_file(),
        "{TESSERA}"
    );
    assert!(
        PathBuf::from(AZUL_SEEDS).join("seed1").is_file(),
        "{AZUL_SEEDS}"
    );
}

// ---------------------------------------------------------------------------------------
// Reading: tessera's log
// ---------------------------------------------------------------------------------------

/// The verifier key of tessera's test log (its `testdata/build_log.sh`).
const TESSERA_VKEY: &str =
    "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";

/// The entries of tessera's test log, in order (interop README).
const WORDS: [&str; 15] = [
    "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf",
    "threeten", "fourten", "fivten",
];

fn reader(dir: &Path) -> TileReader<DirSource> {
    TileReader::new(DirSource::new(dir))
}

/// Every record of the tree of `size`, through `verify_all`.
fn read_all(dir: &Path, size: u64, root: &Hash) -> Result<Vec<Vec<u8>>, TileError> {
    let mut records = Vec::new();
    let summary = reader(dir).verify_all(size, root, |seq, bytes| {
        assert_eq!(seq, records.len() as u64);
        records.push(bytes.to_vec());
        Ok::<(), TileError>(())
    })?;
    assert_eq!(summary.records, size);
    Ok(records)
}

/// Every file under `dir`, by its path relative to `dir` with `/` separators.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("/");
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for (name, bytes) in files(from) {
        let path = to.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// The size and root of a C2SP checkpoint after checking its Ed25519 note signature by
/// `vkey` (C2SP signed-note): `— <name> base64(key_id ‖ signature)` over the body bytes.
fn open_checkpoint(text: &str, vkey: &str) -> (u64, Hash) {
    let mut parts = vkey.splitn(3, '+');
    let (name, id_hex, key_b64) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let key = BASE64.decode(key_b64).unwrap();
    assert_eq!((key.len(), key[0]), (33, 0x01), "an Ed25519 note key");
    let public: [u8; 32] = key[1..].try_into().unwrap();
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', 0x01]);
    hasher.update(public);
    let key_id = hasher.finalize()[..4].to_vec();
    assert_eq!(pbr_log::hex::encode(&key_id), id_hex);

    let split = text.find("\n\n").expect("a blank line ends the body");
    let (body, signatures) = (&text[..split + 1], &text[split + 2..]);
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    let mut verified = 0;
    for line in signatures.lines() {
        let (signer, signature) = line
            .strip_prefix("\u{2014} ")
            .unwrap()
            .split_once(' ')
            .unwrap();
        let signature = BASE64.decode(signature).unwrap();
        if signer == name && signature[..4] == key_id[..] {
            let signature = ed25519_dalek::Signature::from_bytes(
                signature[4..].try_into().expect("a 64-byte signature"),
            );
            verifying
                .verify_strict(body.as_bytes(), &signature)
                .unwrap();
            verified += 1;
        }
    }
    assert_eq!(verified, 1, "one signature by the log key");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "origin, size, root");
    assert_eq!(lines[0], name);
    let size = lines[1].parse().unwrap();
    let root = BASE64.decode(lines[2]).unwrap().try_into().unwrap();
    (size, root)
}

fn tessera_checkpoint(size: u64) -> String {
    std::fs::read_to_string(Path::new(TESSERA).join(format!("checkpoint.{size}"))).unwrap()
}

/// The errors of `verify_all` of the full tessera log after `damage` to a copy of it.
fn tampered_tessera(damage: impl FnOnce(&Path)) -> (TileError, TileError) {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(Path::new(TESSERA), copy.path());
    damage(copy.path());
    let (size, root) = open_checkpoint(&tessera_checkpoint(15), TESSERA_VKEY);
    let all = read_all(copy.path(), size, &root).unwrap_err();
    let one = (0..size)
        .find_map(|i| reader(copy.path()).record(i, size, &root).err())
        .expect("some record fails");
    (all, one)
}

#[test]
fn the_directory_source_reads_only_tile_paths() {
    let dir = tempfile::tempdir().unwrap();
    let source = DirSource::new(dir.path().join("tree"));
    std::fs::create_dir_all(dir.path().join("tree/tile/0")).unwrap();
    std::fs::write(dir.path().join("secret"), b"no").unwrap();
    std::fs::write(dir.path().join("tree/tile/0/000"), vec![0u8; 8193]).unwrap();
    use pbr_log::tiles::TileSource as _;
    for bad in [
        "../secret",
        "tile/0/../../../secret",
        "/etc/passwd",
        "tile/0/000/",
    ] {
        assert!(
            matches!(source.fetch(bad), Err(TileError::Path { .. })),
            "{bad}"
        );
    }
    assert!(source.fetch("tile/0/001").unwrap().is_none());
    let error = source.fetch("tile/0/000").unwrap_err();
    assert!(matches!(error, TileError::Malformed { .. }), "{error}");
    assert!(error.to_string().starts_with("tile/0/000: "), "{error}");
}

/// Every size of tessera's log, checkpoint signature first, then every record by
/// `verify_all` and by `record`, each proven under the signed root.
#[test]
fn tesseras_log_reads_and_verifies_at_every_size() {
    let reader = reader(Path::new(TESSERA));
    assert_eq!(reader.checkpoint_text().unwrap(), tessera_checkpoint(15));
    for checkpoint_size in 0..=15u64 {
        let (size, root) = open_checkpoint(&tessera_checkpoint(checkpoint_size), TESSERA_VKEY);
        assert_eq!(size, checkpoint_size);
        assert_eq!(reader.root(size).unwrap(), root, "size {size}");
        let records = read_all(Path::new(TESSERA), size, &root).unwrap();
        let words: Vec<Vec<u8>> = WORDS[..size as usize]
            .iter()
            .map(|w| w.as_bytes().to_vec())
            .collect();
        assert_eq!(records, words, "size {size}");
        for (index, word) in (0..size).zip(WORDS) {
            assert_eq!(reader.record(index, size, &root).unwrap(), word.as_bytes());
        }
        assert!(matches!(
            reader.record(size, size, &root),
            Err(TileError::OutOfRange(_))
        ));
    }
    assert_eq!(reader.root(0).unwrap(), EMPTY_ROOT);
}

#[test]
fn tampered_tessera_copies_are_refused_naming_the_file() {
    const BUNDLE: &str = "tile/entries/000.p/15";
    const TILE: &str = "tile/0/000.p/15";
    type Damage = Box<dyn FnOnce(&Path)>;
    let cases: Vec<(&str, Damage, &str)> = vec![
        (
            "a flipped byte in a record",
            Box::new(|dir: &Path| flip(&dir.join(BUNDLE), 3)),
            BUNDLE,
        ),
        (
            "a flipped byte in a length",
            Box::new(|dir: &Path| flip(&dir.join(BUNDLE), 1)),
            BUNDLE,
        ),
        (
            "a flipped byte in a hash TILE",
            Box::new(|dir: &Path| flip(&dir.join(TILE), 100)),
            TILE,
        ),
        (
            "a dropped hash TILE",
            Box::new(|dir: &Path| std::fs::remove_file(dir.join(TILE)).unwrap()),
            TILE,
        ),
        (
            "a dropped BUNDLE",
            Box::new(|dir: &Path| std::fs::remove_file(dir.join(BUNDLE)).unwrap()),
            BUNDLE,
        ),
        (
            "a truncated BUNDLE",
            Box::new(|dir: &Path| {
                let bytes = std::fs::read(dir.join(BUNDLE)).unwrap();
                std::fs::write(dir.join(BUNDLE), &bytes[..bytes.len() - 2]).unwrap();
            }),
            BUNDLE,
        ),
        (
            "a BUNDLE with one entry too many",
            Box::new(|dir: &Path| {
                let mut bytes = std::fs::read(dir.join(BUNDLE)).unwrap();
                bytes.extend_from_slice(b"\x00\x03six");
                std::fs::write(dir.join(BUNDLE), bytes).unwrap();
            }),
            BUNDLE,
        ),
        (
            "a hash TILE one byte long",
            Box::new(|dir: &Path| {
                let mut bytes = std::fs::read(dir.join(TILE)).unwrap();
                bytes.push(0);
                std::fs::write(dir.join(TILE), bytes).unwrap();
            }),
            TILE,
        ),
    ];
    for (what, damage, named) in cases {
        let (all, one) = tampered_tessera(damage);
        assert!(all.to_string().contains(named), "{what}: verify_all: {all}");
        assert!(one.to_string().contains(named), "{what}: record: {one}");
    }
}

// ---------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------

/// Records with the tree over them: the writer's source without a ledger.
struct Entries {
    records: Vec<Vec<u8>>,
    tree: MemoryTree,
}

impl Entries {
    fn new(records: Vec<Vec<u8>>) -> Entries {
        let mut tree = MemoryTree::new();
        for record in &records {
            tree.push(leaf_hash(record));
        }
        Entries { records, tree }
    }

    fn words() -> Entries {
        Entries::new(WORDS.iter().map(|w| w.as_bytes().to_vec()).collect())
    }

    fn numbered(len: u64) -> Entries {
        Entries::new(
            (0..len)
                .map(|i| format!("record {i}").into_bytes())
                .collect(),
        )
    }

    fn root(&self, size: u64) -> Hash {
        merkle::root(&self.tree, size).unwrap()
    }

    fn write(
        &self,
        dir: &Path,
        size: u64,
        checkpoint: &str,
    ) -> Result<TileWriteSummary, TileError> {
        write_tiles(
            dir,
            &self.tree,
            |seq| Ok(self.records[seq as usize].clone()),
            size,
            checkpoint,
        )
    }
}

/// A stand-in checkpoint: the writer copies the note text, it does not read it.
fn note(size: u64, root: &Hash) -> String {
    format!("test.example/tiles\n{size}\n{}\n", BASE64.encode(root))
}

/// Our writer, fed tessera's entries and checkpoints one size after another, rebuilds
/// tessera's directory file for file and byte for byte (its `checkpoint.<N>` copies aside).
#[test]
fn our_tiles_are_tesseras_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let entries = Entries::words();
    for size in 0..=15 {
        let checkpoint = tessera_checkpoint(size);
        let (_, root) = open_checkpoint(&checkpoint, TESSERA_VKEY);
        assert_eq!(
            entries.root(size),
            root,
            "our tree agrees with tessera's at {size}"
        );
        let summary = entries.write(dir.path(), size, &checkpoint).unwrap();
        // A bundle, a level-0 tile and the checkpoint are new at each size but 0.
        assert_eq!(
            summary.written,
            if size == 0 { 1 } else { 3 },
            "{summary:?}"
        );
    }
    let mut theirs = files(Path::new(TESSERA));
    theirs.retain(|name, _| !name.starts_with("checkpoint."));
    let ours = files(dir.path());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &theirs {
        assert!(ours[name] == *bytes, "{name} differs");
    }
}

/// The spec's example, written, read back and damaged: "a tree of size 70,000 will be represented by 273 full level 0 tiles,
/// one partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile of
/// width 17, and one partial level 2 tile of width 1".
#[test]
fn the_specs_tree_of_70000() {
    let size = 70_000;
    let entries = Entries::numbered(size);
    let root = entries.root(size);
    let dir = tempfile::tempdir().unwrap();
    let summary = entries.write(dir.path(), size, &note(size, &root)).unwrap();

    let mut expected: Vec<String> = vec!["checkpoint".into()];
    expected.extend((0..273).map(|n| format!("tile/0/{n:03}")));
    expected.extend((0..273).map(|n| format!("tile/entries/{n:03}")));
    expected.extend(
        [
            "tile/0/273.p/112",
            "tile/entries/273.p/112",
            "tile/1/000",
            "tile/1/001.p/17",
            "tile/2/000.p/1",
        ]
        .map(String::from),
    );
    expected.sort();
    let written: Vec<String> = files(dir.path()).into_keys().collect();
    assert_eq!(written, expected);
    let mut listed: Vec<String> = tiles_for_size(size).map(|t| t.to_string()).collect();
    listed.push("checkpoint".into());
    listed.sort();
    assert_eq!(listed, expected);
    assert_eq!(summary.written, expected.len() as u64);
    assert!(files(dir.path()).keys().all(|name| !name.contains(".tmp")));

    let reader = reader(dir.path());
    assert_eq!(reader.root(size).unwrap(), root);
    assert_eq!(reader.checkpoint_text().unwrap(), note(size, &root));
    assert!(read_all(dir.path(), size, &root).unwrap() == entries.records);
    for index in [0, 255, 256, 65_535, 65_536, 69_887, 69_888, 69_999] {
        assert_eq!(
            reader.record(index, size, &root).unwrap(),
            entries.records[index as usize]
        );
    }
    // Smaller trees are readable too wherever their partial tiles are not needed.
    for smaller in [256 * 273, 65_536, 256, 0] {
        assert_eq!(
            reader.root(smaller).unwrap(),
            entries.root(smaller),
            "{smaller}"
        );
    }

    // Damage anywhere is caught and the damaged file named, including full tiles at levels
    // 0 and 1, whose hashes are checked against the level above. One copy, repaired after
    // each case.
    let copy = tempfile::tempdir().unwrap();
    copy_tree(dir.path(), copy.path());
    for (damaged, flip_it) in [
        ("tile/0/100", true),
        ("tile/1/000", true),
        ("tile/1/001.p/17", true),
        ("tile/2/000.p/1", true),
        ("tile/0/273.p/112", true),
        ("tile/entries/050", true),
        ("tile/entries/273.p/112", true),
        ("tile/entries/050", false),
        ("tile/0/100", false),
        ("tile/1/000", false),
    ] {
        let file = copy.path().join(damaged);
        let original = std::fs::read(&file).unwrap();
        if flip_it {
            flip(&file, 5);
        } else {
            std::fs::remove_file(&file).unwrap();
        }
        let error = read_all(copy.path(), size, &root).unwrap_err();
        assert!(
            error.to_string().contains(damaged),
            "{damaged} (flipped: {flip_it}): {error}"
        );
        std::fs::write(&file, original).unwrap();
    }
    let error = read_all(copy.path(), size, &entries.root(size - 1)).unwrap_err();
    assert!(matches!(error, TileError::Disagrees { .. }), "{error}");
}

/// A ledger of our own, written at the sizes where tiles begin and end, read back: the root
/// is the log's, every record is the log's, and the files are exactly those the spec lists.
#[test]
fn a_logs_tiles_round_trip_at_edge_sizes() {
    let ledger = tempfile::tempdir().unwrap();
    let mut log = Log::create(&ledger.path().join("ledger"), "test.example/tiles").unwrap();
    let alice = key("alice", 1);
    let records: Vec<Record> = (0..520).map(|n| record(&alice, n)).collect();
    for batch in records.chunks(200) {
        log.append(batch).unwrap();
    }
    let shared = tempfile::tempdir().unwrap();
    for size in [0, 1, 2, 255, 256, 257, 511, 512, 513, 520] {
        let root = log.root_at(size).unwrap();
        let checkpoint = note(size, &root);
        let own = tempfile::tempdir().unwrap();
        log.write_tiles(own.path(), size, &checkpoint).unwrap();
        log.write_tiles(shared.path(), size, &checkpoint).unwrap();

        let mut expected: Vec<String> = tiles_for_size(size).map(|t| t.to_string()).collect();
        expected.push("checkpoint".into());
        expected.sort();
        assert_eq!(files(own.path()).into_keys().collect::<Vec<_>>(), expected);

        let reader = reader(own.path());
        assert_eq!(reader.root(size).unwrap(), root, "size {size}");
        let read = read_all(own.path(), size, &root).unwrap();
        for (seq, bytes) in (0..).zip(&read) {
            assert_eq!(*bytes, log.read_bytes(seq).unwrap(), "seq {seq} of {size}");
        }
        for index in [0, size / 2, size.saturating_sub(1)] {
            if index < size {
                assert_eq!(
                    reader.record(index, size, &root).unwrap(),
                    log.read_bytes(index).unwrap()
                );
            }
        }
    }
    // Each earlier size is still served whole from the shared directory: its partial tiles
    // stayed beside the later ones.
    for size in [0, 1, 2, 255, 256, 257, 511, 512, 513, 520] {
        let root = log.root_at(size).unwrap();
        assert_eq!(
            read_all(shared.path(), size, &root).unwrap().len() as u64,
            size
        );
    }
    assert!(matches!(
        log.write_tiles(shared.path(), 521, "x"),
        Err(TileError::OutOfRange(_))
    ));
}

#[test]
fn rewriting_at_a_larger_size_keeps_earlier_partial_tiles() {
    let entries = Entries::numbered(600);
    let dir = tempfile::tempdir().unwrap();
    let first = entries
        .write(dir.path(), 300, &note(300, &entries.root(300)))
        .unwrap();
    assert_eq!(first.written, 6, "{first:?}"); // 2 bundles, 2 level-0, 1 level-1, checkpoint

    let again = entries
        .write(dir.path(), 300, &note(300, &entries.root(300)))
        .unwrap();
    assert_eq!((again.written, again.unchanged), (0, 6), "{again:?}");

    let later = entries
        .write(dir.path(), 600, &note(600, &entries.root(600)))
        .unwrap();
    // Full tile and bundle 0 were there; the full tile and bundle 1 are new, as are the
    // partials of 600 and the checkpoint.
    assert_eq!((later.written, later.unchanged), (6, 2), "{later:?}");
    assert!(later.siblings_checked >= 3, "{later:?}");
    let names = files(dir.path());
    for kept in ["tile/0/001.p/44", "tile/entries/001.p/44", "tile/1/000.p/1"] {
        assert!(names.contains_key(kept), "{kept} was removed");
    }
    assert_eq!(
        names["checkpoint"],
        note(600, &entries.root(600)).into_bytes()
    );
    read_all(dir.path(), 300, &entries.root(300)).unwrap();
    read_all(dir.path(), 600, &entries.root(600)).unwrap();

    // Once the partial tiles of 300 are gone the reader falls back to the full ones.
    for partial in ["tile/0/001.p/44", "tile/entries/001.p/44"] {
        std::fs::remove_file(dir.path().join(partial)).unwrap();
    }
    let root = entries.root(300);
    assert!(read_all(dir.path(), 300, &root).unwrap() == entries.records[..300]);
    assert_eq!(
        reader(dir.path()).record(299, 300, &root).unwrap(),
        b"record 299"
    );
}

/// The directory always holds the tiles of its checkpoint's tree and of smaller ones, and
/// nothing else under `tile/` (what Go's check in `tools/pbrcheck` asks of an export): a
/// smaller tree over a larger one, or a stray file, is refused before anything is written.
#[test]
fn the_writer_refuses_a_directory_of_a_larger_tree_or_with_stray_files() {
    let entries = Entries::numbered(600);
    let dir = tempfile::tempdir().unwrap();
    let latest = note(600, &entries.root(600));
    entries.write(dir.path(), 600, &latest).unwrap();
    let before = files(dir.path());
    for smaller in [599, 512, 300, 0] {
        let error = entries
            .write(dir.path(), smaller, &note(smaller, &entries.root(smaller)))
            .unwrap_err();
        assert!(matches!(error, TileError::Conflict { .. }), "{error}");
        assert!(
            error.to_string().contains("beyond the tree of size"),
            "{error}"
        );
        assert!(
            files(dir.path()) == before,
            "{smaller} changed the directory"
        );
    }

    let stray = dir.path().join("tile/0/notes.txt");
    std::fs::write(&stray, b"hello").unwrap();
    let error = entries.write(dir.path(), 600, &latest).unwrap_err();
    assert!(error.to_string().contains("tile/0/notes.txt"), "{error}");
    std::fs::remove_file(&stray).unwrap();

    // A temporary file of an interrupted write is ours to remove.
    let temporary = dir.path().join("tile/0/002.p/.88.tmp");
    std::fs::write(&temporary, b"half").unwrap();
    entries.write(dir.path(), 600, &latest).unwrap();
    assert!(!temporary.exists());
    assert!(files(dir.path()) == before);
}

#[test]
fn a_differing_existing_file_fails_and_is_left_alone() {
    let entries = Entries::numbered(600);
    let dir = tempfile::tempdir().unwrap();
    let old = note(300, &entries.root(300));
    entries.write(dir.path(), 300, &old).unwrap();
    flip(&dir.path().join("tile/0/000"), 7);
    let damaged = std::fs::read(dir.path().join("tile/0/000")).unwrap();

    let error = entries
        .write(dir.path(), 600, &note(600, &entries.root(600)))
        .unwrap_err();
    assert!(matches!(error, TileError::Conflict { .. }), "{error}");
    assert!(error.to_string().contains("tile/0/000"), "{error}");
    assert_eq!(
        std::fs::read(dir.path().join("tile/0/000")).unwrap(),
        damaged
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(),
        old
    );
}

#[test]
fn an_earlier_partial_tile_that_disagrees_fails_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let words = Entries::words();
    let old = note(10, &words.root(10));
    words.write(dir.path(), 10, &old).unwrap();

    let mut other = WORDS.map(|w| w.as_bytes().to_vec()).to_vec();
    other[3] = b"FOUR".to_vec();
    let other = Entries::new(other);
    let error = other
        .write(dir.path(), 15, &note(15, &other.root(15)))
        .unwrap_err();
    assert!(matches!(error, TileError::Conflict { .. }), "{error}");
    assert!(error.to_string().contains("000.p/10"), "{error}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(),
        old
    );
    assert!(!dir.path().join("tile/0/000.p/15").exists());
}

/// Records that do not lead to the source's tree are refused before a tile of theirs is
/// written: a full tile is checked against its node, the rest against the root.
#[test]
fn the_writer_refuses_records_that_disagree_with_the_tree() {
    let entries = Entries::numbered(300);
    for (size, wrong_seq, first_unwritten) in [
        (300, 10, "tile/0/000"),
        (300, 280, "tile/0/001.p/44"),
        (15, 3, "tile/0/000.p/15"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let error = write_tiles(
            dir.path(),
            &entries.tree,
            |seq| {
                Ok(if seq == wrong_seq {
                    b"forged".to_vec()
                } else {
                    entries.records[seq as usize].clone()
                })
            },
            size,
            "checkpoint text",
        )
        .unwrap_err();
        assert!(matches!(error, TileError::Inconsistent(_)), "{error}");
        assert!(
            !dir.path().join(first_unwritten).exists(),
            "{size} {wrong_seq}"
        );
        assert!(!dir.path().join("checkpoint").exists());
    }
    let huge = Entries::new(vec![vec![0; 65_536]]);
    let dir = tempfile::tempdir().unwrap();
    let error = huge.write(dir.path(), 1, "x").unwrap_err();
    assert!(matches!(error, TileError::OutOfRange(_)), "{error}");
    let largest = Entries::new(vec![vec![7; 65_535]]);
    largest.write(dir.path(), 1, "x").unwrap();
    let root = largest.root(1);
    assert_eq!(
        reader(dir.path()).record(0, 1, &root).unwrap(),
        vec![7; 65_535]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Written at one size and then at a larger one into the same directory, a tree reads
    /// back at both sizes with the roots of the records.
    #[test]
    fn write_then_read_gives_the_same_root(first in 0u64..1400, extra in 0u64..600) {
        let second = first + extra;
        let entries = Entries::numbered(second);
        let dir = tempfile::tempdir().unwrap();
        for size in [first, second] {
            entries.write(dir.path(), size, &note(size, &entries.root(size))).unwrap();
        }
        for size in [first, second] {
            let root = entries.root(size);
            let reader = reader(dir.path());
            prop_assert_eq!(reader.root(size).unwrap(), root);
            let records = read_all(dir.path(), size, &root).unwrap();
            prop_assert!(records[..] == entries.records[..size as usize]);
            if size > 0 {
                prop_assert_eq!(
                    &reader.record(size - 1, size, &root).unwrap(),
                    &entries.records[size as usize - 1]
                );
            }
        }
    }
}

#[test]
fn a_reader_verifies_the_checkpoint_against_a_policy_then_fetches_records() {
    use crate::support::{checkpoint, ledger, log_key, witness_key};
    use pbr_log::policy::Policy;
    use pbr_log::tiles::{DirSource, TileReader};

    let (dir, mut log) = ledger(300);
    let witness = witness_key("w1", 7);
    let note = checkpoint(&mut log, Some(&witness), 1_767_139_200);
    let tiles = dir.path().join("tiles");
    log.write_tiles(&tiles, 300, &note.to_text()).unwrap();
    let policy = Policy::new(
        log_key().verifier_key(),
        vec![("w1".into(), witness.verifier_key())],
        None,
    );
    let reader = TileReader::new(DirSource::new(&tiles));
    let (read, check) = reader.verified_checkpoint(&policy).unwrap();
    assert_eq!(read, note);
    assert!(check.quorum_met, "{check:?}");
    for seq in [0, 255, 256, 299] {
        assert_eq!(
            reader
                .record(seq, read.checkpoint.size, &read.checkpoint.root)
                .unwrap(),
            log.read_bytes(seq).unwrap()
        );
    }
    // Another log key: refused. A witness that did not cosign: read, quorum not met.
    let stranger = Policy::new(
        crate::support::key(crate::support::ORIGIN, 99).verifier_key(),
        vec![],
        None,
    );
    assert!(reader.verified_checkpoint(&stranger).is_err());
    let absent = Policy::new(
        log_key().verifier_key(),
        vec![("w2".into(), witness_key("w2", 8).verifier_key())],
        None,
    );
    let (_, check) = reader.verified_checkpoint(&absent).unwrap();
    assert!(!check.quorum_met);
    assert_eq!(check.missing, vec!["w2".to_owned()]);
    // A checkpoint whose root the tiles do not lead to: refused.
    let mut other = log.checkpoint_body().unwrap();
    other.root[0] ^= 1;
    let forged = pbr_log::SignedCheckpoint::sign(other, &log_key()).unwrap();
    std::fs::write(tiles.join("checkpoint"), forged.to_text()).unwrap();
    assert!(reader.verified_checkpoint(&policy).is_err());
}
