//! C2SP tlog-tiles paths against the spec's examples and other implementations' paths.

use std::path::{Path, PathBuf};

use pbr_log::error::TileError;
use pbr_log::tiles::{TileKind, TilePath, entries_path, tile_path};
use proptest::prelude::*;

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
