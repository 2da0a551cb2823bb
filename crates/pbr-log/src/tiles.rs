//! The log as a C2SP `tlog-tiles` tree (DESIGN §3 "Tiles"): paths, a writer of static export
//! directories, and a reader that checks what it fetches against a root the caller trusts.
//!
//! A tree of size N is served as `checkpoint`, hash tiles `tile/<L>/<N>[.p/<W>]` and entry
//! bundles `tile/entries/<N>[.p/<W>]` (`specs/tlog-tiles.md`, "Merkle Tree" and "Log
//! entries"). The hash at position `i` of tile `n` at level `L` is the RFC 6962 hash of the
//! complete subtree of height `8·L` whose first leaf is `(n·256 + i)·256^L`, that is
//! [`NodeSource::node`]`(8·L, n·256 + i)`. An entry bundle holds the records themselves, each
//! as a big-endian u16 length followed by the record bytes, so a record is at most 65,535
//! bytes (DESIGN §3 "Record bytes").
//!
//! Invariants:
//! - The writer computes every hash from the record bytes it bundles, checks each full tile
//!   against the source's tree and the whole against its root before it writes anything
//!   partial, writes each file atomically, never overwrites a tile with other bytes, and
//!   writes `checkpoint` last, after every tile is durable.
//! - The reader believes nothing it fetches until it has tied it to the root the caller gave:
//!   [`TileReader::record`] verifies an inclusion proof built from tile hashes, and
//!   [`TileReader::verify_all`] checks every tile top-down from the root before it hands a
//!   record to the caller.
//! - Memory is bounded whatever the tree size: one bundle (at most 16 MiB) and one tile per
//!   level (8 KiB each) at a time.
//!
//! Checking the checkpoint's signatures is not done here: the caller verifies the note and
//! passes its size and root.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::cache;
use crate::error::TileError;
use crate::hash::{EMPTY_ROOT, Hash, leaf_hash};
use crate::hex;
use crate::merkle::{self, Frontier, NodeSource};
use crate::store::Log;

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
/// Tiles a [`TileReader`] keeps between calls.
const CACHE_TILES: usize = 16;
/// Directories the writer remembers to `fsync` before it syncs them all.
const DIRTY_DIRS: usize = 64;

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

/// The root of a complete subtree over a power-of-two run of hashes.
fn fold(hashes: &[Hash]) -> Hash {
    cache::fold(hashes.to_vec())
}

/// Splits a bundle into exactly `count` entries, refusing trailing or missing bytes.
fn bundle_entries<'a>(
    bytes: &'a [u8],
    count: u16,
    path: &TilePath,
) -> Result<Vec<&'a [u8]>, TileError> {
    let malformed = |reason: String| TileError::Malformed {
        path: path.to_string(),
        reason,
    };
    if bytes.len() > MAX_BUNDLE_LEN {
        return Err(malformed(format!(
            "{} bytes is more than a bundle can hold ({MAX_BUNDLE_LEN})",
            bytes.len()
        )));
    }
    let mut entries = Vec::with_capacity(usize::from(count));
    let mut rest = bytes;
    for number in 0..count {
        let [high, low, tail @ ..] = rest else {
            return Err(malformed(format!(
                "ends after {number} entries where {count} are expected"
            )));
        };
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        let (entry, tail) = tail.split_at_checked(len).ok_or_else(|| {
            malformed(format!(
                "entry {number} claims {len} bytes but only {} follow",
                tail.len()
            ))
        })?;
        entries.push(entry);
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(malformed(format!(
            "{} bytes follow its {count} entries",
            rest.len()
        )));
    }
    Ok(entries)
}

fn hashes_of(bytes: &[u8]) -> Vec<Hash> {
    bytes
        .chunks_exact(HASH_LEN)
        .map(|chunk| {
            let mut hash = [0u8; HASH_LEN];
            hash.copy_from_slice(chunk);
            hash
        })
        .collect()
}

/// The content of `file`, if it exists; more than `limit` bytes is read as `limit + 1`, so
/// that it compares unequal to anything valid without being read whole.
fn read_capped(file: &Path, limit: usize) -> Result<Option<Vec<u8>>, TileError> {
    let io = |source| TileError::Io {
        path: file.to_owned(),
        source,
    };
    let handle = match File::open(file) {
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        other => other.map_err(io)?,
    };
    let mut bytes = Vec::new();
    handle
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(Some(bytes))
}

// ---------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------

/// What [`write_tiles`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileWriteSummary {
    /// Files written (tiles, bundles and the checkpoint).
    pub written: u64,
    /// Files already present with exactly the bytes the tree gives, left untouched.
    pub unchanged: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Tiles of other widths found beside the ones written (partial tiles of earlier sizes,
    /// or a full tile of a larger one) and checked against the tree.
    pub siblings_checked: u64,
}

/// Writes into `dir` everything a C2SP client of the tree of `size` leaves needs: every full
/// hash tile and entry bundle, the rightmost partial tile of each level and the partial
/// bundle, then `checkpoint` (the note text, byte for byte) last.
///
/// Hashes are computed from the records `read_record(0 .. size)`, not copied from `source`;
/// `source` is the tree they must agree with: each full tile's hash is compared with its node
/// before the tile is written, and the root of the records with `source`'s root of `size`
/// before anything partial is. The caller checks that `checkpoint` is a note of that size and
/// root.
///
/// A file that exists with the bytes the tree gives is left alone; one with other bytes
/// fails the write ([`TileError::Conflict`]) without touching it. Partial tiles left by an
/// export of another size stay, and must agree with the tree on the hashes and entries they
/// share. A directory holding a larger tree, or files under `tile/` that are not tiles, is
/// refused before anything is written, so the directory always holds exactly the tiles of
/// its checkpoint's tree and of smaller ones. Every file is written to a temporary name in
/// its directory, `fsync`ed and renamed; every directory written is `fsync`ed before the
/// checkpoint is. One writer at a time.
pub fn write_tiles<S, R>(
    dir: &Path,
    source: &S,
    mut read_record: R,
    size: u64,
    checkpoint: &str,
) -> Result<TileWriteSummary, TileError>
where
    S: NodeSource,
    S::Error: std::error::Error + Send + Sync + 'static,
    R: FnMut(u64) -> Result<Vec<u8>, S::Error>,
{
    if checkpoint.len() > MAX_CHECKPOINT_LEN {
        return Err(TileError::OutOfRange(format!(
            "the checkpoint is {} bytes, more than {MAX_CHECKPOINT_LEN}",
            checkpoint.len()
        )));
    }
    let from_source = |error: S::Error| TileError::Source(Box::new(error));
    let mut out = Output::new(dir)?;
    out.check_directory(size)?;
    let mut frontier = Frontier::new();
    let mut closed: Vec<(u8, u64, Hash)> = Vec::with_capacity(LEVELS);
    let mut tiles: Vec<Vec<Hash>> = vec![Vec::new(); LEVELS];
    let mut bundle: Vec<u8> = Vec::new();
    for seq in 0..size {
        let bytes = read_record(seq).map_err(from_source)?;
        let len = u16::try_from(bytes.len()).map_err(|_| {
            TileError::OutOfRange(format!(
                "record at seq {seq} is {} bytes, more than an entry bundle can hold \
                 ({MAX_ENTRY_LEN})",
                bytes.len()
            ))
        })?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(&bytes);
        frontier.push(leaf_hash(&bytes), |level, index, hash| {
            if level % 8 == 0 {
                // Levels are below 64, so level / 8 is below 8.
                closed.push(((level / 8) as u8, index, *hash));
            }
        });
        for (level, node_index, hash) in closed.drain(..) {
            let Some(tile) = tiles.get_mut(usize::from(level)) else {
                return Err(TileError::OutOfRange(format!("tile level {level}")));
            };
            tile.push(hash);
            if tile.len() == usize::from(TILE_WIDTH) {
                let index = node_index >> 8;
                let path = TilePath::hashes(level, index, TILE_WIDTH)?;
                let expected = source
                    .node(8 * (u32::from(level) + 1), index)
                    .map_err(from_source)?;
                if fold(tile) != expected {
                    return Err(TileError::Inconsistent(format!(
                        "the records under {path} do not hash to the tree's node ({}, {index}); \
                         run `pbr verify`",
                        8 * (u32::from(level) + 1)
                    )));
                }
                out.put(&path, &tile_bytes(tile))?;
                tile.clear();
            }
        }
        if (seq + 1).is_multiple_of(u64::from(TILE_WIDTH)) {
            out.put(&TilePath::entries(seq >> 8, TILE_WIDTH)?, &bundle)?;
            bundle.clear();
        }
    }
    let expected = merkle::root(source, size).map_err(from_source)?;
    if frontier.root() != expected {
        return Err(TileError::Inconsistent(format!(
            "the first {size} records do not lead to the tree's root {}; run `pbr verify`",
            hex::encode(&expected)
        )));
    }
    if !bundle.is_empty() {
        let width = (size % u64::from(TILE_WIDTH)) as u16;
        out.put(&TilePath::entries(size >> 8, width)?, &bundle)?;
    }
    for (level, tile) in (0u8..).zip(&tiles) {
        if !tile.is_empty() {
            // A partial tile holds fewer than 256 hashes.
            let path = TilePath::hashes(
                level,
                size.checked_shr(8 * (u32::from(level) + 1)).unwrap_or(0),
                tile.len() as u16,
            )?;
            out.put(&path, &tile_bytes(tile))?;
        }
    }
    out.finish(checkpoint.as_bytes())
}

impl Log {
    /// Writes the tile tree of the first `size` records into `dir` with `checkpoint` (a
    /// signed note of that size and root, which the caller has checked), as [`write_tiles`]
    /// does: the records are read one by one and checked against the log's Merkle caches.
    pub fn write_tiles(
        &self,
        dir: &Path,
        size: u64,
        checkpoint: &str,
    ) -> Result<TileWriteSummary, TileError> {
        if size > self.len() {
            return Err(TileError::OutOfRange(format!(
                "tree size {size} is beyond the end of the log ({} records)",
                self.len()
            )));
        }
        write_tiles(dir, self, |seq| self.read_bytes(seq), size, checkpoint)
    }
}

fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// The export directory being written.
struct Output {
    dir: PathBuf,
    summary: TileWriteSummary,
    /// Directories whose entries changed since they were last `fsync`ed.
    dirty: BTreeSet<PathBuf>,
}

impl Output {
    fn new(dir: &Path) -> Result<Output, TileError> {
        let mut output = Output {
            dir: dir.to_owned(),
            summary: TileWriteSummary::default(),
            dirty: BTreeSet::new(),
        };
        output.ensure_dir(dir)?;
        Ok(output)
    }

    /// Writes `bytes` as tile `path`, unless it is there already.
    fn put(&mut self, path: &TilePath, bytes: &[u8]) -> Result<(), TileError> {
        let file = self.dir.join(path.to_string());
        self.check_siblings(path, bytes)?;
        match read_capped(&file, path.max_len())? {
            Some(existing) if existing == bytes => {
                self.summary.unchanged += 1;
                Ok(())
            }
            Some(existing) => Err(TileError::Conflict {
                path: file,
                reason: format!(
                    "exists with other content ({} bytes) than the tree gives ({} bytes)",
                    existing.len(),
                    bytes.len()
                ),
            }),
            None => self.write(&file, bytes),
        }
    }

    /// Checks the other widths of tile `path` already in the directory (partial tiles of
    /// earlier sizes, a full tile of a larger one) against `bytes` on what they share.
    fn check_siblings(&mut self, path: &TilePath, bytes: &[u8]) -> Result<(), TileError> {
        let full = path.full();
        let partial_dir = self.dir.join(format!("{full}.p"));
        let mut siblings = Vec::new();
        if path.is_partial() {
            siblings.push((full, self.dir.join(full.to_string())));
        }
        match fs::read_dir(&partial_dir) {
            Err(error) if error.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(TileError::Io {
                    path: partial_dir,
                    source,
                });
            }
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|source| TileError::Io {
                        path: partial_dir.clone(),
                        source,
                    })?;
                    // Names that are not a width (such as a temporary file) are not tiles.
                    let name = entry.file_name();
                    let Some(width) = name
                        .to_str()
                        .and_then(|name| decimal(name, u64::from(TILE_WIDTH) - 1))
                        .filter(|width| *width > 0 && *width != u64::from(path.width))
                    else {
                        continue;
                    };
                    let sibling = TilePath::new(path.kind, path.index, width as u16)?;
                    siblings.push((sibling, entry.path()));
                }
            }
        }
        siblings.sort();
        for (sibling, file) in siblings {
            let Some(existing) = read_capped(&file, sibling.max_len())? else {
                continue;
            };
            self.summary.siblings_checked += 1;
            let conflict = |reason: String| TileError::Conflict {
                path: file.clone(),
                reason,
            };
            match path.kind {
                TileKind::Hashes(_) if existing.len() != usize::from(sibling.width) * HASH_LEN => {
                    return Err(conflict(format!(
                        "is {} bytes, not {} hashes",
                        existing.len(),
                        sibling.width
                    )));
                }
                TileKind::Hashes(_) => {}
                TileKind::Entries => {
                    bundle_entries(&existing, sibling.width, &sibling)
                        .map_err(|error| conflict(error.to_string()))?;
                }
            }
            // Both are sequences of hashes or of length-prefixed entries (which no other
            // sequence of entries begins with unless it holds the same ones), so agreeing on
            // what they share is one being a byte prefix of the other.
            let shared = bytes.len().min(existing.len());
            if bytes.get(..shared) != existing.get(..shared) {
                return Err(conflict(format!(
                    "disagrees with the tree on the {} it shares with {path}",
                    match path.kind {
                        TileKind::Hashes(_) => "hashes",
                        TileKind::Entries => "entries",
                    }
                )));
            }
        }
        Ok(())
    }

    /// Refuses a directory whose `tile/` holds anything but tiles of the tree of `size`,
    /// before anything is written: a file that is not a tile path, or a tile of a larger
    /// tree (an export of a larger size; going back would leave a tree whose checkpoint
    /// does not cover its files). Temporary files of an interrupted write are removed.
    fn check_directory(&self, size: u64) -> Result<(), TileError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TileError::Io { path, source }
        };
        let mut pending = vec![self.dir.join("tile")];
        while let Some(dir) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                Err(error) if error.kind() == ErrorKind::NotFound => continue,
                other => other.map_err(io(&dir))?,
            };
            for entry in entries {
                let entry = entry.map_err(io(&dir))?;
                let path = entry.path();
                if entry.file_type().map_err(io(&path))?.is_dir() {
                    pending.push(path);
                    continue;
                }
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    fs::remove_file(&path).map_err(io(&path))?;
                    continue;
                }
                let tile = path
                    .strip_prefix(&self.dir)
                    .ok()
                    .and_then(|relative| {
                        let parts: Option<Vec<&str>> = relative
                            .components()
                            .map(|c| c.as_os_str().to_str())
                            .collect();
                        TilePath::parse(&parts?.join("/")).ok()
                    })
                    .ok_or_else(|| TileError::Conflict {
                        path: path.clone(),
                        reason: "is not a C2SP tile path, and tile/ holds tiles only".to_owned(),
                    })?;
                let level = tile.level().unwrap_or(0);
                if tile_width(size, level, tile.index()).is_none_or(|width| tile.width() > width) {
                    return Err(TileError::Conflict {
                        path,
                        reason: format!(
                            "lies beyond the tree of size {size}: this directory holds a larger \
                             tree, so write the smaller one into another"
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes `file` atomically: a temporary file in the same directory, `fsync`, rename.
    fn write(&mut self, file: &Path, bytes: &[u8]) -> Result<(), TileError> {
        let parent = file.parent().unwrap_or(&self.dir).to_owned();
        self.ensure_dir(&parent)?;
        let name = file
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temporary = parent.join(format!(".{name}.tmp"));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TileError::Io { path, source }
        };
        let written = File::create(&temporary)
            .and_then(|mut handle| {
                handle.write_all(bytes)?;
                handle.sync_all()
            })
            .map_err(io(&temporary))
            .and_then(|()| fs::rename(&temporary, file).map_err(io(file)));
        if written.is_err() {
            // Best effort: a temporary file left behind is not a tile path, and the next
            // write removes it anyway.
            let _ = fs::remove_file(&temporary);
        }
        written?;
        self.summary.written += 1;
        self.summary.bytes_written += bytes.len() as u64;
        self.mark_dirty(parent)
    }

    /// Creates `dir` and its missing ancestors, remembering the directories that changed.
    fn ensure_dir(&mut self, dir: &Path) -> Result<(), TileError> {
        if dir.is_dir() {
            return Ok(());
        }
        if let Some(parent) = dir.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            self.ensure_dir(parent)?;
            self.mark_dirty(parent.to_owned())?;
        }
        match fs::create_dir(dir) {
            Err(error) if error.kind() != ErrorKind::AlreadyExists => Err(TileError::Io {
                path: dir.to_owned(),
                source: error,
            }),
            _ => Ok(()),
        }
    }

    fn mark_dirty(&mut self, dir: PathBuf) -> Result<(), TileError> {
        self.dirty.insert(dir);
        if self.dirty.len() >= DIRTY_DIRS {
            self.sync_dirs()?;
        }
        Ok(())
    }

    fn sync_dirs(&mut self) -> Result<(), TileError> {
        for dir in std::mem::take(&mut self.dirty) {
            File::open(&dir)
                .and_then(|handle| handle.sync_all())
                .map_err(|source| TileError::Io { path: dir, source })?;
        }
        Ok(())
    }

    /// Makes every tile durable, then writes the checkpoint (replacing an older one).
    fn finish(mut self, checkpoint: &[u8]) -> Result<TileWriteSummary, TileError> {
        self.sync_dirs()?;
        let file = self.dir.join(CHECKPOINT_PATH);
        if read_capped(&file, MAX_CHECKPOINT_LEN)?.as_deref() == Some(checkpoint) {
            self.summary.unchanged += 1;
        } else {
            self.write(&file, checkpoint)?;
            self.sync_dirs()?;
        }
        Ok(self.summary)
    }
}

// ---------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------

/// Where a [`TileReader`] fetches files: a directory here, an HTTP mirror elsewhere.
pub trait TileSource {
    /// The bytes at `path` (relative to the tree's prefix: `checkpoint` or a tile path),
    /// `None` if there is no such file. A source may refuse a file over
    /// [`TilePath::max_len`] (or [`MAX_CHECKPOINT_LEN`]); the reader checks lengths anyway.
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, TileError>;
}

impl<T: TileSource + ?Sized> TileSource for &T {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, TileError> {
        (**self).fetch(path)
    }
}

/// A tile tree in a directory, as [`write_tiles`] writes it.
#[derive(Clone, Debug)]
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    /// The tree whose `checkpoint` is `dir/checkpoint`.
    pub fn new(dir: impl Into<PathBuf>) -> DirSource {
        DirSource { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl TileSource for DirSource {
    /// Reads only `checkpoint` and valid tile paths, so a path from a request can never leave
    /// the directory, and never more than the largest valid file of that path.
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, TileError> {
        let limit = if path == CHECKPOINT_PATH {
            MAX_CHECKPOINT_LEN
        } else {
            TilePath::parse(path)?.max_len()
        };
        let bytes = read_capped(&self.dir.join(path), limit)?;
        if let Some(bytes) = &bytes
            && bytes.len() > limit
        {
            return Err(TileError::Malformed {
                path: path.to_owned(),
                reason: format!("is larger than {limit} bytes"),
            });
        }
        Ok(bytes)
    }
}

/// What [`TileReader::verify_all`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileVerifySummary {
    /// Records checked and handed to the callback.
    pub records: u64,
    /// Hash tiles checked.
    pub hash_tiles: u64,
    /// Entry bundles checked.
    pub bundles: u64,
}

type Tile = Arc<Vec<Hash>>;

/// Reads a tile tree from a [`TileSource`], trusting only the size and root the caller
/// verified (from the checkpoint). Safe to share between threads; it keeps a few recently
/// fetched tiles.
#[derive(Debug)]
pub struct TileReader<S> {
    source: S,
    /// Recently read hash tiles: the path asked for, the path read (the full tile when a
    /// partial one was missing) and its first `width` hashes.
    cache: Mutex<Vec<(TilePath, TilePath, Tile)>>,
}

impl<S: TileSource> TileReader<S> {
    /// A reader of `source`.
    pub fn new(source: S) -> TileReader<S> {
        TileReader {
            source,
            cache: Mutex::new(Vec::new()),
        }
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The `checkpoint` file as it is, unverified.
    pub fn checkpoint_text(&self) -> Result<String, TileError> {
        let bytes = self
            .source
            .fetch(CHECKPOINT_PATH)?
            .ok_or_else(|| TileError::Missing {
                path: CHECKPOINT_PATH.to_owned(),
            })?;
        if bytes.len() > MAX_CHECKPOINT_LEN {
            return Err(TileError::Malformed {
                path: CHECKPOINT_PATH.to_owned(),
                reason: format!("is larger than {MAX_CHECKPOINT_LEN} bytes"),
            });
        }
        String::from_utf8(bytes).map_err(|_| TileError::Malformed {
            path: CHECKPOINT_PATH.to_owned(),
            reason: "is not UTF-8".to_owned(),
        })
    }

    /// The `checkpoint` file, verified against a trust policy: parsed as a C2SP checkpoint,
    /// signed by one of the policy's log keys, its cosignatures judged (whether the quorum
    /// is met is the caller's to require: a mirror may follow a log before its quorum
    /// cosigns), and its root recomputed from the hash tiles. Then [`TileReader::record`]
    /// and [`TileReader::verify_all`] take its size and root.
    pub fn verified_checkpoint(
        &self,
        policy: &crate::policy::Policy,
    ) -> Result<(crate::note::SignedCheckpoint, crate::policy::PolicyCheck), TileError> {
        let text = self.checkpoint_text()?;
        let malformed = |reason: String| TileError::Malformed {
            path: CHECKPOINT_PATH.to_owned(),
            reason,
        };
        let note = crate::note::SignedCheckpoint::parse(&text).map_err(|e| malformed(e.0))?;
        let check = policy.check(&note).map_err(|e| malformed(e.0))?;
        let (size, root) = (note.checkpoint.size, note.checkpoint.root);
        if self.root(size)? != root {
            return Err(TileError::Disagrees {
                path: CHECKPOINT_PATH.to_owned(),
                reason: format!("the hash tiles of size {size} do not lead to its root"),
            });
        }
        Ok((note, check))
    }

    /// The root of the tree of `size` leaves, computed from its partial hash tiles (the only
    /// ones it depends on). Unverified: compare it with a checkpoint's root.
    pub fn root(&self, size: u64) -> Result<Hash, TileError> {
        merkle::root(&self.nodes(size), size)
    }

    /// The record at `index` of the tree of `size` leaves and `root`, after checking that its
    /// leaf hash is included under `root` by a proof built from the hash tiles.
    pub fn record(&self, index: u64, size: u64, root: &Hash) -> Result<Vec<u8>, TileError> {
        if index >= size {
            return Err(TileError::OutOfRange(format!(
                "seq {index} is not in a tree of size {size}"
            )));
        }
        let bundle_index = index >> 8;
        let width = tile_width(size, 0, bundle_index)
            .ok_or_else(|| TileError::OutOfRange(format!("bundle {bundle_index}")))?;
        let (path, bytes, fetched_width) = self.fetch_bundle(bundle_index, width)?;
        let entries = bundle_entries(&bytes, fetched_width, &path)?;
        let entry = entries
            .get((index & 0xff) as usize)
            .ok_or_else(|| TileError::OutOfRange(format!("seq {index} in {path}")))?;
        let leaf = leaf_hash(entry);
        let proof = merkle::inclusion_proof(&self.nodes(size), index, size)?;
        if merkle::verify_inclusion(index, size, &leaf, &proof, root) {
            return Ok(entry.to_vec());
        }
        // Find the file at fault the way `verify_all` would: the partial tiles against the
        // root, the full tiles above the record's level-0 tile, then the bundle.
        let mut walk = Walk::new(self, size);
        walk.check_edge(root)?;
        let leaves = walk.verified_tile(0, bundle_index)?;
        let reason = if leaves.get((index & 0xff) as usize) == Some(&leaf) {
            "is not included in the tree by the hash tiles, which changed while read"
        } else {
            "does not hash to its leaf in the hash tiles"
        };
        Err(TileError::Disagrees {
            path: path.to_string(),
            reason: format!(
                "record at seq {index} {reason} (tree size {size}, root {})",
                hex::encode(root)
            ),
        })
    }

    /// Reads the whole tree of `size` leaves and `root` in order, checking every hash tile and
    /// entry bundle, and calls `each(seq, record_bytes)` for every record once its bundle is
    /// proven to be in the tree, so a mirror can append as it goes.
    ///
    /// The partial tiles must lead to `root`; each full tile must hash to its entry in the
    /// tile above (checked top-down, so the tile named in an error is the one at fault); each
    /// bundle's entries must hash to the level-0 tile. The records are also folded into a
    /// fresh tree whose root must be `root`. An error of `each` stops the walk.
    pub fn verify_all<E, F>(
        &self,
        size: u64,
        root: &Hash,
        mut each: F,
    ) -> Result<TileVerifySummary, TileError>
    where
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
        F: FnMut(u64, &[u8]) -> Result<(), E>,
    {
        let mut walk = Walk::new(self, size);
        walk.check_edge(root)?;
        let mut frontier = Frontier::new();
        let bundles = size.div_ceil(u64::from(TILE_WIDTH));
        for bundle_index in 0..bundles {
            let width = tile_width(size, 0, bundle_index)
                .ok_or_else(|| TileError::OutOfRange(format!("bundle {bundle_index}")))?;
            let leaves = walk.verified_tile(0, bundle_index)?;
            let (path, bytes, fetched_width) = self.fetch_bundle(bundle_index, width)?;
            let entries = bundle_entries(&bytes, fetched_width, &path)?;
            let first = bundle_index << 8;
            let entries = entries.get(..usize::from(width)).ok_or_else(|| {
                TileError::Inconsistent(format!("{path} has fewer than {width} entries"))
            })?;
            let hashes: Vec<Hash> = entries.iter().map(|entry| leaf_hash(entry)).collect();
            if let Some(offset) = (0..hashes.len()).find(|&i| hashes.get(i) != leaves.get(i)) {
                return Err(TileError::Disagrees {
                    path: path.to_string(),
                    reason: format!(
                        "entry {offset} (seq {}) does not hash to its leaf in {}",
                        first + offset as u64,
                        TilePath::hashes(0, bundle_index, width)?
                    ),
                });
            }
            walk.summary.bundles += 1;
            for ((offset, entry), leaf) in (0u64..).zip(entries).zip(hashes) {
                frontier.push(leaf, |_, _, _| {});
                each(first + offset, entry).map_err(|error| TileError::Source(error.into()))?;
                walk.summary.records += 1;
            }
        }
        if frontier.size() != size || frontier.root() != *root {
            return Err(TileError::Inconsistent(format!(
                "the {} records read do not lead to the root {} of size {size}",
                frontier.size(),
                hex::encode(root)
            )));
        }
        Ok(walk.summary)
    }

    /// The complete subtrees of the tree of `size` leaves as its hash tiles give them,
    /// unverified: a proof built from them counts only once it verifies against a root the
    /// caller trusts (a mirror builds consistency proofs and fork evidence from them).
    pub fn node_source(&self, size: u64) -> impl NodeSource<Error = TileError> + '_ {
        self.nodes(size)
    }

    fn nodes(&self, size: u64) -> TileNodes<impl Fn(u8, u64, u16) -> Result<Tile, TileError>> {
        TileNodes {
            size,
            tile: move |level, index, width| Ok(self.hash_tile(level, index, width)?.1),
        }
    }

    /// Hash tile `(level, index)` of `width` hashes, from the cache or the source; a missing
    /// partial tile is read from the full tile of the same index, as the spec allows.
    fn hash_tile(&self, level: u8, index: u64, width: u16) -> Result<(TilePath, Tile), TileError> {
        let path = TilePath::hashes(level, index, width)?;
        if let Some(cached) = self.cached(&path) {
            return Ok(cached);
        }
        let (fetched, bytes) = self.fetch_with_fallback(&path)?;
        let expected = usize::from(fetched.width) * HASH_LEN;
        if bytes.len() != expected {
            return Err(TileError::Malformed {
                path: fetched.to_string(),
                reason: format!(
                    "is {} bytes, not {} hashes of 32 bytes",
                    bytes.len(),
                    fetched.width
                ),
            });
        }
        let mut hashes = hashes_of(&bytes);
        hashes.truncate(usize::from(width));
        let tile = Arc::new(hashes);
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_TILES {
            cache.remove(0);
        }
        cache.push((path, fetched, Arc::clone(&tile)));
        Ok((fetched, tile))
    }

    fn cached(&self, path: &TilePath) -> Option<(TilePath, Tile)> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .iter()
            .find(|(asked, _, _)| asked == path)
            .map(|(_, fetched, tile)| (*fetched, Arc::clone(tile)))
    }

    /// Bundle `index` of `width` entries: the path read, its bytes and how many entries that
    /// file holds (256 when a missing partial bundle was read from the full one).
    fn fetch_bundle(&self, index: u64, width: u16) -> Result<(TilePath, Vec<u8>, u16), TileError> {
        let (fetched, bytes) = self.fetch_with_fallback(&TilePath::entries(index, width)?)?;
        Ok((fetched, bytes, fetched.width))
    }

    fn fetch_with_fallback(&self, path: &TilePath) -> Result<(TilePath, Vec<u8>), TileError> {
        let limited = |path: TilePath, bytes: Vec<u8>| {
            if bytes.len() > path.max_len() {
                return Err(TileError::Malformed {
                    path: path.to_string(),
                    reason: format!("is larger than {} bytes", path.max_len()),
                });
            }
            Ok((path, bytes))
        };
        if let Some(bytes) = self.source.fetch(&path.to_string())? {
            return limited(*path, bytes);
        }
        if path.is_partial()
            && let Some(bytes) = self.source.fetch(&path.full().to_string())?
        {
            return limited(path.full(), bytes);
        }
        Err(TileError::Missing {
            path: path.to_string(),
        })
    }
}

/// The tree's complete subtrees as the hash tiles give them: node `(level, index)` is read
/// from tile level `level / 8`, folding `2^(level mod 8)` consecutive hashes.
struct TileNodes<F> {
    size: u64,
    tile: F,
}

impl<F: Fn(u8, u64, u16) -> Result<Tile, TileError>> NodeSource for TileNodes<F> {
    type Error = TileError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, TileError> {
        let out_of_range = || {
            TileError::OutOfRange(format!(
                "node ({level}, {index}) is not in a tree of size {}",
                self.size
            ))
        };
        let tile_level = u8::try_from(level / 8)
            .ok()
            .filter(|l| usize::from(*l) < LEVELS)
            .ok_or_else(out_of_range)?;
        let run = 1u64 << (level % 8);
        let first = index.checked_mul(run).ok_or_else(out_of_range)?;
        let tile_index = first >> 8;
        let offset = (first & 0xff) as usize;
        let width = tile_width(self.size, tile_level, tile_index).ok_or_else(out_of_range)?;
        let hashes = (self.tile)(tile_level, tile_index, width)?;
        let run = hashes
            .get(offset..offset + run as usize)
            .ok_or_else(out_of_range)?;
        Ok(fold(run))
    }
}

/// The state of [`TileReader::verify_all`]: the tiles verified so far, one per level.
struct Walk<'a, S> {
    reader: &'a TileReader<S>,
    size: u64,
    /// The rightmost partial tile of each level, verified against the root.
    edge: [Option<(u64, Tile)>; LEVELS],
    /// The last full tile verified at each level.
    current: [Option<(u64, Tile)>; LEVELS],
    summary: TileVerifySummary,
}

impl<'a, S: TileSource> Walk<'a, S> {
    fn new(reader: &'a TileReader<S>, size: u64) -> Walk<'a, S> {
        Walk {
            reader,
            size,
            edge: Default::default(),
            current: Default::default(),
            summary: TileVerifySummary::default(),
        }
    }

    /// Fetches the partial tile of every level once and checks that they lead to `root`:
    /// the root of a tree depends on its partial tiles alone.
    fn check_edge(&mut self, root: &Hash) -> Result<(), TileError> {
        let mut paths = Vec::new();
        for level in 0..LEVELS as u8 {
            let index = self
                .size
                .checked_shr(8 * (u32::from(level) + 1))
                .unwrap_or(0);
            if let Some(width) = tile_width(self.size, level, index)
                && width < TILE_WIDTH
            {
                let (path, tile) = self.reader.hash_tile(level, index, width)?;
                paths.push(path.to_string());
                self.edge[usize::from(level)] = Some((index, tile));
                self.summary.hash_tiles += 1;
            }
        }
        let edge = &self.edge;
        let nodes = TileNodes {
            size: self.size,
            tile: |level: u8, index: u64, _width: u16| {
                edge.get(usize::from(level))
                    .and_then(Option::as_ref)
                    .filter(|(edge_index, _)| *edge_index == index)
                    .map(|(_, tile)| Arc::clone(tile))
                    .ok_or_else(|| {
                        TileError::Inconsistent(format!(
                            "the root needs tile ({level}, {index}), which is not partial"
                        ))
                    })
            },
        };
        let computed = if self.size == 0 {
            EMPTY_ROOT
        } else {
            merkle::root(&nodes, self.size)?
        };
        if computed != *root {
            return Err(TileError::Disagrees {
                path: if paths.is_empty() {
                    "the empty tree".to_owned()
                } else {
                    paths.join(", ")
                },
                reason: format!(
                    "these partial tiles give the root {}, not {} for size {}",
                    hex::encode(&computed),
                    hex::encode(root),
                    self.size
                ),
            });
        }
        Ok(())
    }

    /// Tile `(level, index)`, verified: a partial one by [`Walk::check_edge`], a full one
    /// against its hash in the verified tile above.
    fn verified_tile(&mut self, level: u8, index: u64) -> Result<Tile, TileError> {
        let slot = usize::from(level);
        let width = tile_width(self.size, level, index).ok_or_else(|| {
            TileError::OutOfRange(format!(
                "tile ({level}, {index}) is not in a tree of size {}",
                self.size
            ))
        })?;
        if width < TILE_WIDTH {
            return self
                .edge
                .get(slot)
                .and_then(Option::as_ref)
                .filter(|(edge_index, _)| *edge_index == index)
                .map(|(_, tile)| Arc::clone(tile))
                .ok_or_else(|| TileError::Inconsistent(format!("tile ({level}, {index})")));
        }
        if let Some((current, tile)) = self.current.get(slot).and_then(Option::as_ref)
            && *current == index
        {
            return Ok(Arc::clone(tile));
        }
        // A full tile at level `level` is one hash of level `level + 1`, which exists
        // because the tree covers all of it.
        let above = self.verified_tile(level + 1, index >> 8)?;
        let expected = above
            .get((index & 0xff) as usize)
            .ok_or_else(|| TileError::Inconsistent(format!("tile ({level}, {index})")))?;
        let (path, tile) = self.reader.hash_tile(level, index, TILE_WIDTH)?;
        if fold(&tile) != *expected {
            return Err(TileError::Disagrees {
                path: path.to_string(),
                reason: format!(
                    "its hashes do not hash to its entry in {}",
                    TilePath::hashes(
                        level + 1,
                        index >> 8,
                        tile_width(self.size, level + 1, index >> 8).unwrap_or(TILE_WIDTH)
                    )?
                ),
            });
        }
        self.summary.hash_tiles += 1;
        if let Some(current) = self.current.get_mut(slot) {
            *current = Some((index, Arc::clone(&tile)));
        }
        Ok(tile)
    }
}
