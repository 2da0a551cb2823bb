//! C2SP tlog-tiles: paths, and the reader against tessera's test log (a real tlog-tiles
//! implementation's output) and damaged copies of it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use pbr_log::error::TileError;
use pbr_log::hash::{EMPTY_ROOT, Hash};
use pbr_log::tiles::{DirSource, TileKind, TilePath, TileReader, entries_path, tile_path};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

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
