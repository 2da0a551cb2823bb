//! The log as a C2SP `tlog-tiles` tree (DESIGN §3 "Tiles"): the paths of its files.
//!
//! A tree of size N is served as `checkpoint`, hash tiles `tile/<L>/<N>[.p/<W>]` and entry
//! bundles `tile/entries/<N>[.p/<W>]` (`specs/tlog-tiles.md`, "Merkle Tree" and "Log
//! entries"). The hash at position `i` of tile `n` at level `L` is the RFC 6962 hash of the
//! complete subtree of height `8·L` whose first leaf is `(n·256 + i)·256^L`, that is
//! [`NodeSource::node`](crate::merkle::NodeSource::node)`(8·L, n·256 + i)`. An entry bundle
//! holds the records themselves, each as a big-endian u16 length followed by the record
//! bytes, so a record is at most 65,535 bytes (DESIGN §3 "Record bytes").
//!
//! Invariant: each tile has one path. [`TilePath::parse`] accepts exactly what
//! [`TilePath`]'s `Display` writes, so a server mapping request paths to files (or a cache)
//! never sees two names for one tile, and Go's `tlog` paths (with a height, or `data`) are
//! refused rather than misread.

use std::fmt;

use crate::error::TileError;

/// Hashes in a full tile, and entries in a full bundle.
pub const TILE_WIDTH: u16 = 256;
/// Bytes of one hash in a tile.
pub const HASH_LEN: usize = 32;
/// Bytes of a full hash tile: 256 hashes of 32 bytes.
pub const MAX_TILE_LEN: usize = TILE_WIDTH as usize * HASH_LEN;
/// The largest entry a bundle can hold: its length is a u16.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;
/// Bytes of the largest possible bundle: 256 entries of 65,535 bytes, each with its length.
pub const MAX_BUNDLE_LEN: usize = TILE_WIDTH as usize * (2 + MAX_ENTRY_LEN);
/// The largest `checkpoint` file read or written.
pub const MAX_CHECKPOINT_LEN: usize = 64 * 1024;
/// The path of the checkpoint, relative to the tree's prefix.
pub const CHECKPOINT_PATH: &str = "checkpoint";
/// The highest level the spec allows in a path.
pub const MAX_LEVEL: u8 = 63;

/// Tile levels a tree with u64 sizes can have: level 7 holds subtrees of 2^56 leaves.
const LEVELS: usize = 8;
/// Index groups of three digits a u64 needs (20 digits).
const MAX_INDEX_GROUPS: usize = 7;

/// Whether a tile holds hashes (of a level) or entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TileKind {
    /// A hash tile of the given level (0 holds leaf hashes).
    Hashes(u8),
    /// An entry bundle.
    Entries,
}

/// A valid C2SP tile path: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
///
/// Its [`Display`](fmt::Display) is the path; [`TilePath::parse`] reads one back and accepts
/// exactly the strings `Display` produces, so each tile has one path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TilePath {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TilePath {
    /// The hash tile `index` of `level` holding `width` hashes (256 for a full tile).
    pub fn hashes(level: u8, index: u64, width: u16) -> Result<TilePath, TileError> {
        if level > MAX_LEVEL {
            return Err(TileError::Path {
                path: format!("tile/{level}/…"),
                reason: format!("level {level} is above {MAX_LEVEL}"),
            });
        }
        TilePath::new(TileKind::Hashes(level), index, width)
    }

    /// The entry bundle `index` holding `width` entries (256 for a full bundle).
    pub fn entries(index: u64, width: u16) -> Result<TilePath, TileError> {
        TilePath::new(TileKind::Entries, index, width)
    }

    fn new(kind: TileKind, index: u64, width: u16) -> Result<TilePath, TileError> {
        if width == 0 || width > TILE_WIDTH {
            let path = TilePath {
                kind,
                index,
                width: TILE_WIDTH,
            };
            return Err(TileError::Path {
                path: format!("{path}.p/{width}"),
                reason: format!("width {width} is not between 1 and 256"),
            });
        }
        Ok(TilePath { kind, index, width })
    }

    /// Parses a path relative to the tree's prefix, refusing anything the spec does not
    /// allow: Go's `tile/<H>/<L>/…` and `tile/<H>/data/…`, leading zeroes in a level or
    /// width, `.p/256`, a non-canonical index (`x000/…`) or one beyond u64.
    pub fn parse(path: &str) -> Result<TilePath, TileError> {
        let bad = |reason: &str| TileError::Path {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("does not start with tile/"))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or_else(|| bad("has no tile index"))?;
        let kind = if kind == "entries" {
            TileKind::Entries
        } else {
            let level = decimal(kind, u64::from(MAX_LEVEL))
                .ok_or_else(|| bad("the level is not a decimal from 0 to 63"))?;
            TileKind::Hashes(u8::try_from(level).map_err(|_| bad("level"))?)
        };
        let mut parts: Vec<&str> = rest.split('/').take(MAX_INDEX_GROUPS + 3).collect();
        if parts.len() > MAX_INDEX_GROUPS + 2 {
            return Err(bad("has too many elements"));
        }
        let mut width = TILE_WIDTH;
        if let [.., last_group, w] = parts[..]
            && let Some(group) = last_group.strip_suffix(".p")
        {
            let w = decimal(w, u64::from(TILE_WIDTH) - 1)
                .filter(|w| *w > 0)
                .ok_or_else(|| bad("the partial width is not a decimal from 1 to 255"))?;
            width = u16::try_from(w).map_err(|_| bad("width"))?;
            parts.truncate(parts.len() - 2);
            parts.push(group);
        }
        if parts.len() > MAX_INDEX_GROUPS {
            return Err(bad("the index has too many groups for a u64"));
        }
        let last = parts.len() - 1;
        let mut index: u64 = 0;
        for (position, part) in parts.iter().enumerate() {
            let digits = if position < last {
                part.strip_prefix('x')
                    .ok_or_else(|| bad("an index group other than the last lacks its x"))?
            } else {
                part
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("an index group is not three digits"));
            }
            let group = u64::from(
                digits
                    .bytes()
                    .fold(0u16, |n, b| n * 10 + u16::from(b - b'0')),
            );
            if position == 0 && last > 0 && group == 0 {
                return Err(bad("the index starts with x000"));
            }
            index = index
                .checked_mul(1000)
                .and_then(|n| n.checked_add(group))
                .ok_or_else(|| bad("the index is beyond u64"))?;
        }
        Ok(TilePath { kind, index, width })
    }

    /// Hashes or entries.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// The level of a hash tile; `None` for an entry bundle.
    pub fn level(&self) -> Option<u8> {
        match self.kind {
            TileKind::Hashes(level) => Some(level),
            TileKind::Entries => None,
        }
    }

    /// The tile's index within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The number of hashes or entries: 256 for a full tile, 1 to 255 for a partial one.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether this is a partial tile (`.p/<W>`).
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    /// The full tile of the same kind and index.
    pub fn full(&self) -> TilePath {
        TilePath {
            width: TILE_WIDTH,
            ..*self
        }
    }

    /// The largest valid content: `width` hashes exactly, or a bundle of `width` entries of
    /// at most 65,535 bytes each.
    pub fn max_len(&self) -> usize {
        match self.kind {
            TileKind::Hashes(_) => usize::from(self.width) * HASH_LEN,
            TileKind::Entries => usize::from(self.width) * (2 + MAX_ENTRY_LEN),
        }
    }
}

impl fmt::Display for TilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TileKind::Hashes(level) => write!(f, "tile/{level}/")?,
            TileKind::Entries => f.write_str("tile/entries/")?,
        }
        // Three-digit groups, most significant first, every one but the last behind an x:
        // 1234067 is x001/x234/067.
        let mut groups = [0u16; MAX_INDEX_GROUPS];
        let mut count = 0;
        let mut rest = self.index;
        loop {
            groups[count] = (rest % 1000) as u16;
            count += 1;
            rest /= 1000;
            if rest == 0 {
                break;
            }
        }
        for position in (1..count).rev() {
            write!(f, "x{:03}/", groups[position])?;
        }
        write!(f, "{:03}", groups[0])?;
        if self.is_partial() {
            write!(f, ".p/{}", self.width)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for TilePath {
    type Err = TileError;
    fn from_str(path: &str) -> Result<TilePath, TileError> {
        TilePath::parse(path)
    }
}

/// A decimal with no sign and no leading zero, at most `max`.
fn decimal(text: &str, max: u64) -> Option<u64> {
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if text.len() > 1 && text.starts_with('0') {
        return None;
    }
    text.parse::<u64>().ok().filter(|n| *n <= max)
}

/// The path of hash tile `index` at `level` with `width` hashes: `tile/<L>/<N>[.p/<W>]`.
pub fn tile_path(level: u8, index: u64, width: u16) -> Result<String, TileError> {
    Ok(TilePath::hashes(level, index, width)?.to_string())
}

/// The path of entry bundle `index` with `width` entries: `tile/entries/<N>[.p/<W>]`.
pub fn entries_path(index: u64, width: u16) -> Result<String, TileError> {
    Ok(TilePath::entries(index, width)?.to_string())
}

/// The width of tile `index` at tile level `level` in the tree of `size` leaves: 256 if it is
/// full, the partial width `⌊size / 256^level⌋ mod 256` if it is the rightmost partial tile,
/// `None` if the tree has no such tile (the spec forbids empty tiles).
pub fn tile_width(size: u64, level: u8, index: u64) -> Option<u16> {
    let shift = 8 * u32::from(level);
    let full = size.checked_shr(shift + 8).unwrap_or(0);
    if index < full {
        return Some(TILE_WIDTH);
    }
    let partial = size.checked_shr(shift).unwrap_or(0) % u64::from(TILE_WIDTH);
    // The remainder is below 256.
    (index == full && partial > 0).then_some(partial as u16)
}

/// The tiles a client of the tree of `size` leaves reads: for each level, every full tile and
/// the rightmost partial one; likewise for entry bundles. Bundles first, then level by level.
pub fn tiles_for_size(size: u64) -> impl Iterator<Item = TilePath> {
    let kinds = std::iter::once(TileKind::Entries)
        .chain((0..LEVELS as u8).map(TileKind::Hashes))
        .collect::<Vec<_>>();
    kinds.into_iter().flat_map(move |kind| {
        let level = match kind {
            TileKind::Hashes(level) => level,
            TileKind::Entries => 0,
        };
        let count = size.checked_shr(8 * u32::from(level)).unwrap_or(0);
        (0..count.div_ceil(u64::from(TILE_WIDTH))).filter_map(move |index| {
            let width = tile_width(size, level, index)?;
            Some(TilePath { kind, index, width })
        })
    })
}
