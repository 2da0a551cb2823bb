//! The client-id index as sorted runs: the `projection.ids` tree.
//!
//! An index keyed by the ids themselves puts every new id at a random place in sled's B-tree,
//! whose leaves hold at most 16 entries: every leaf stays in use, so the cache fills with
//! them and sled's bookkeeping grows with each page. Here a batch's ids are buffered, sorted
//! and written once in order as a *run* of packed blocks; runs of the same size are merged
//! into one four times larger, reading and writing in order. The pages an append touches are
//! the ones it writes, so memory does not grow with the index (`docs/performance.md`,
//! "Import").
//!
//! Layout (`docs/format.md` §7):
//! - `layout` → u32 BE [`LAYOUT`]; a tree without it is of an older form and is rebuilt;
//! - `indexed` → u64 BE, how many leading events the index covers (the watermark);
//! - `d ‖ run (u64 BE)` → `level (u8) ‖ entries (u64 BE)`: the runs that count;
//! - `r ‖ run (u64 BE) ‖ last id (16 bytes)` → up to [`BLOCK_ENTRIES`] entries `id (16) ‖ seq
//!   (u64 BE)`, sorted by id, the last one's id in the key, so that one forward seek finds the
//!   only block of a run that can hold an id.
//!
//! A run counts once its `d` key is written, after its blocks; a merge writes its run's key and
//! removes those of the runs it merged in one sled batch, then removes their blocks. Blocks of
//! a run without a `d` key (a crash in between) are removed when the index is next opened.
//! An entry is only ever trusted after reading the event it names, so a run written by a
//! batch that failed is harmless.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use pbr_core::ids::EventId;

use crate::LedgerError;

/// The form of the tree this module writes.
const LAYOUT: u32 = 2;
const LAYOUT_KEY: &[u8] = b"layout";
const INDEXED_KEY: &[u8] = b"indexed";
const DIR: u8 = b'd';
const BLOCK: u8 = b'r';
/// Entries a block holds: 12 KiB.
const BLOCK_ENTRIES: usize = 512;
const ENTRY: usize = 24;
/// Entries buffered before they are written as a run.
const RUN_ENTRIES: usize = 65_536;
/// Runs of one level merged into one of the next.
const FANOUT: usize = 4;

fn sled_error(e: sled::Error) -> LedgerError {
    LedgerError::Log(e.into())
}

/// A run that counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    number: u64,
    level: u8,
    entries: u64,
}

/// The index of client ids: what [`IdRuns::candidates`] finds, the appending batch adds
/// with [`IdRuns::add`] and [`IdRuns::flush`].
pub(crate) struct IdRuns {
    tree: sled::Tree,
    /// The runs that count, newest entries first: by level, then by number, highest first.
    /// Lookups hold it shared; a merge takes it to swap its runs in and remove the old blocks
    /// (today on the same thread, but the index is `Sync` and stays correct if shared).
    runs: RwLock<Vec<Run>>,
    /// The next run number: above every number ever used, counted or not.
    next: AtomicU64,
    /// Entries added but not yet written, and how many chunks they came in.
    pending: Mutex<(Vec<(EventId, u64)>, usize)>,
    /// [`RUN_ENTRIES`] and [`BLOCK_ENTRIES`], smaller in tests.
    run_entries: usize,
    block_entries: usize,
}

impl IdRuns {
    /// Opens the index in `tree`; an index of an older form is dropped first (its watermark
    /// is then 0, so the caller rebuilds it from the log).
    pub(crate) fn open(log: &pbr_log::Log) -> Result<IdRuns, LedgerError> {
        let mut tree = log.projection_tree("ids")?;
        let layout = tree.get(LAYOUT_KEY).map_err(sled_error)?;
        if layout.as_deref() != Some(&LAYOUT.to_be_bytes()[..]) {
            if !tree.is_empty() {
                log.drop_projection_tree("ids")?;
                tree = log.projection_tree("ids")?;
            }
            tree.insert(LAYOUT_KEY, &LAYOUT.to_be_bytes())
                .map_err(sled_error)?;
        }
        let mut runs = Vec::new();
        for entry in tree.scan_prefix([DIR]) {
            let (key, value) = entry.map_err(sled_error)?;
            let number = key.get(1..9).and_then(|b| b.try_into().ok());
            let level = value.first().copied();
            let entries = value.get(1..9).and_then(|b| b.try_into().ok());
            match (number, level, entries) {
                (Some(number), Some(level), Some(entries)) if key.len() == 9 => runs.push(Run {
                    number: u64::from_be_bytes(number),
                    level,
                    entries: u64::from_be_bytes(entries),
                }),
                _ => {
                    return Err(LedgerError::Projection {
                        seq: 0,
                        reason: "the id index holds a run entry that does not decode".into(),
                    });
                }
            }
        }
        // Blocks of runs that never counted: remove them, and number new runs past them.
        let mut next = runs.iter().map(|r| r.number + 1).max().unwrap_or(0);
        let mut orphans = Vec::new();
        for key in tree.scan_prefix([BLOCK]).keys() {
            let key = key.map_err(sled_error)?;
            let number = key
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes);
            if let Some(number) = number {
                next = next.max(number + 1);
                if !runs.iter().any(|r| r.number == number) {
                    orphans.push(key);
                }
            }
        }
        for key in orphans {
            tree.remove(key).map_err(sled_error)?;
        }
        sort(&mut runs);
        Ok(IdRuns {
            tree,
            runs: RwLock::new(runs),
            next: AtomicU64::new(next),
            pending: Mutex::new((Vec::new(), 0)),
            run_entries: RUN_ENTRIES,
            block_entries: BLOCK_ENTRIES,
        })
    }

    /// The watermark: how many leading events the index covers.
    pub(crate) fn indexed(&self) -> Result<u64, LedgerError> {
        let value = self.tree.get(INDEXED_KEY).map_err(sled_error)?;
        Ok(value
            .as_deref()
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// Records that the index covers the first `len` events (flushed with the next flush).
    pub(crate) fn set_indexed(&self, len: u64) -> Result<(), LedgerError> {
        self.tree
            .insert(INDEXED_KEY, &len.to_be_bytes())
            .map_err(sled_error)?;
        Ok(())
    }

    /// Calls `check` with each seq the index holds for `id`, newest entry first, until it
    /// returns true.
    pub(crate) fn candidates(
        &self,
        id: &EventId,
        mut check: impl FnMut(u64) -> Result<bool, LedgerError>,
    ) -> Result<(), LedgerError> {
        let runs = self.runs.read().map_err(|_| poisoned())?;
        for run in runs.iter() {
            let from = block_key(run.number, &id.0);
            let to = block_key(run.number, &[0xff; 16]);
            let Some(block) = self.tree.range(from..=to).next() else {
                continue;
            };
            let (_, block) = block.map_err(sled_error)?;
            if let Some(seq) = find(&block, id)
                && check(seq)?
            {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Calls `f` with every id the runs hold (an id merged twice may come twice).
    pub(crate) fn for_each_id(&self, mut f: impl FnMut(EventId)) -> Result<(), LedgerError> {
        // Held shared, so that no merge removes blocks under the scan.
        let _runs = self.runs.read().map_err(|_| poisoned())?;
        for block in self.tree.scan_prefix([BLOCK]).values() {
            let block = block.map_err(sled_error)?;
            for entry in block.chunks_exact(ENTRY) {
                f(EventId(id_of(entry)));
            }
        }
        Ok(())
    }

    /// Adds one chunk's entries; returns how many chunks, oldest first, are now in the index
    /// (entries are buffered until a run's worth is there).
    pub(crate) fn add(&self, entries: Vec<(EventId, u64)>) -> Result<usize, LedgerError> {
        let mut pending = self.pending.lock().map_err(|_| poisoned())?;
        pending.0.extend(entries);
        pending.1 += 1;
        if pending.0.len() < self.run_entries {
            return Ok(0);
        }
        self.write_pending(&mut pending)
    }

    /// Writes whatever is buffered; returns how many chunks that put into the index.
    pub(crate) fn flush(&self) -> Result<usize, LedgerError> {
        let mut pending = self.pending.lock().map_err(|_| poisoned())?;
        self.write_pending(&mut pending)
    }

    fn write_pending(
        &self,
        pending: &mut (Vec<(EventId, u64)>, usize),
    ) -> Result<usize, LedgerError> {
        let chunks = std::mem::take(&mut pending.1);
        let mut entries = std::mem::take(&mut pending.0);
        if entries.is_empty() {
            return Ok(chunks);
        }
        // Stable: of two entries for one id, the later added stays last, and wins.
        entries.sort_by_key(|(id, _)| *id);
        let newest = entries
            .iter()
            .enumerate()
            .filter(|(i, (id, _))| entries.get(i + 1).is_none_or(|(next, _)| next != id));
        let run = self.write_run(0, newest.map(|(_, e)| Ok(*e)))?;
        self.publish(run, &[])?;
        self.merge()?;
        Ok(chunks)
    }

    /// Writes the blocks of a new run of `level` from entries sorted by id, one per id; the
    /// run does not count until it is published.
    fn write_run(
        &self,
        level: u8,
        entries: impl Iterator<Item = Result<(EventId, u64), LedgerError>>,
    ) -> Result<Run, LedgerError> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let mut block = Vec::with_capacity(self.block_entries * ENTRY);
        let mut count = 0u64;
        let mut last = [0u8; 16];
        for entry in entries {
            let (id, seq) = entry?;
            block.extend_from_slice(&id.0);
            block.extend_from_slice(&seq.to_be_bytes());
            last = id.0;
            count += 1;
            if block.len() == self.block_entries * ENTRY {
                self.tree
                    .insert(block_key(number, &last), block.as_slice())
                    .map_err(sled_error)?;
                block.clear();
            }
        }
        if !block.is_empty() {
            self.tree
                .insert(block_key(number, &last), block.as_slice())
                .map_err(sled_error)?;
        }
        Ok(Run {
            number,
            level,
            entries: count,
        })
    }

    /// Makes `run` count in place of `merged`, then removes the merged runs' blocks.
    fn publish(&self, run: Run, merged: &[Run]) -> Result<(), LedgerError> {
        let mut runs = self.runs.write().map_err(|_| poisoned())?;
        let mut batch = sled::Batch::default();
        let mut value = vec![run.level];
        value.extend_from_slice(&run.entries.to_be_bytes());
        batch.insert(&dir_key(run.number)[..], value);
        for old in merged {
            batch.remove(&dir_key(old.number)[..]);
        }
        self.tree.apply_batch(batch).map_err(sled_error)?;
        runs.retain(|r| !merged.contains(r));
        runs.push(run);
        sort(&mut runs);
        drop(runs);
        for old in merged {
            for key in run_blocks(&self.tree, old.number).keys() {
                self.tree
                    .remove(key.map_err(sled_error)?)
                    .map_err(sled_error)?;
            }
        }
        Ok(())
    }

    /// Merges [`FANOUT`] runs of a level into one of the next, from the lowest level up,
    /// while a level holds that many.
    fn merge(&self) -> Result<(), LedgerError> {
        loop {
            let group: Vec<Run> = {
                let runs = self.runs.read().map_err(|_| poisoned())?;
                let Some(level) = (0..=u8::MAX)
                    .find(|level| runs.iter().filter(|r| r.level == *level).count() >= FANOUT)
                else {
                    return Ok(());
                };
                // Oldest first: the newest run's entry wins a tie.
                let mut group: Vec<Run> =
                    runs.iter().filter(|r| r.level == level).copied().collect();
                group.sort_by_key(|r| r.number);
                group
            };
            let level = group[0].level.saturating_add(1);
            let mut sources = group
                .iter()
                .map(|run| RunEntries::new(&self.tree, run.number))
                .collect::<Vec<_>>();
            // Streamed: a merge holds one block of each run, never a run.
            let merged = std::iter::from_fn(|| next_merged(&mut sources));
            let run = self.write_run(level, merged)?;
            self.publish(run, &group)?;
        }
    }
}

/// The next entry of a merge: the smallest id at the head of any source, from the newest
/// source that holds it; every source holding it moves on.
fn next_merged(sources: &mut [RunEntries]) -> Option<Result<(EventId, u64), LedgerError>> {
    let mut best: Option<(usize, [u8; 16])> = None;
    for (i, source) in sources.iter_mut().enumerate() {
        match source.peek() {
            Ok(Some((id, _))) => {
                if best.is_none_or(|(_, b)| id <= b) {
                    best = Some((i, id));
                }
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
    }
    let (winner, id) = best?;
    let mut seq = 0;
    for (i, source) in sources.iter_mut().enumerate() {
        if let Ok(Some((head, head_seq))) = source.peek()
            && head == id
        {
            if i == winner {
                seq = head_seq;
            }
            source.advance();
        }
    }
    Some(Ok((EventId(id), seq)))
}

/// The entries of one run, in id order, a block at a time.
struct RunEntries {
    blocks: sled::Iter,
    block: sled::IVec,
    at: usize,
}

impl RunEntries {
    fn new(tree: &sled::Tree, number: u64) -> RunEntries {
        RunEntries {
            blocks: run_blocks(tree, number),
            block: sled::IVec::default(),
            at: 0,
        }
    }

    fn peek(&mut self) -> Result<Option<([u8; 16], u64)>, LedgerError> {
        while self.at + ENTRY > self.block.len() {
            match self.blocks.next() {
                Some(block) => {
                    self.block = block.map_err(sled_error)?.1;
                    self.at = 0;
                }
                None => return Ok(None),
            }
        }
        let entry = &self.block[self.at..self.at + ENTRY];
        Ok(Some((id_of(entry), seq_of(entry))))
    }

    fn advance(&mut self) {
        self.at += ENTRY;
    }
}

fn sort(runs: &mut [Run]) {
    runs.sort_by_key(|r| (r.level, std::cmp::Reverse(r.number)));
}

fn poisoned() -> LedgerError {
    LedgerError::Log(pbr_log::LogError::Storage(
        "the id index's lock was poisoned by a panic".into(),
    ))
}

fn dir_key(number: u64) -> [u8; 9] {
    let mut key = [DIR; 9];
    key[1..].copy_from_slice(&number.to_be_bytes());
    key
}

fn block_key(number: u64, id: &[u8; 16]) -> [u8; 25] {
    let mut key = [BLOCK; 25];
    key[1..9].copy_from_slice(&number.to_be_bytes());
    key[9..].copy_from_slice(id);
    key
}

/// The blocks of run `number`, in id order.
fn run_blocks(tree: &sled::Tree, number: u64) -> sled::Iter {
    tree.range(block_key(number, &[0; 16])..=block_key(number, &[0xff; 16]))
}

fn id_of(entry: &[u8]) -> [u8; 16] {
    let mut id = [0; 16];
    id.copy_from_slice(&entry[..16]);
    id
}

fn seq_of(entry: &[u8]) -> u64 {
    let mut seq = [0; 8];
    seq.copy_from_slice(&entry[16..ENTRY]);
    u64::from_be_bytes(seq)
}

/// The seq of `id` in a block, by binary search.
fn find(block: &[u8], id: &EventId) -> Option<u64> {
    let entries = block.len() / ENTRY;
    let (mut low, mut high) = (0, entries);
    while low < high {
        let mid = (low + high) / 2;
        let entry = &block[mid * ENTRY..(mid + 1) * ENTRY];
        match id_of(entry).cmp(&id.0) {
            std::cmp::Ordering::Less => low = mid + 1,
            std::cmp::Ordering::Greater => high = mid,
            std::cmp::Ordering::Equal => return Some(seq_of(entry)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A generator of test data (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    fn small(log: &pbr_log::Log) -> Result<IdRuns, LedgerError> {
        let mut runs = IdRuns::open(log)?;
        runs.run_entries = 5;
        runs.block_entries = 3;
        Ok(runs)
    }

    fn first(runs: &IdRuns, id: &EventId) -> Result<Option<u64>, LedgerError> {
        let mut found = None;
        runs.candidates(id, |seq| {
            found = Some(seq);
            Ok(true)
        })?;
        Ok(found)
    }

    /// The index answers as a map from id to the seq added last, across buffering, runs,
    /// merges and a reopening, for ids drawn from a small set (so that many repeat).
    #[test]
    fn behaves_as_a_map_whose_last_entry_wins() -> TestResult {
        for seed in 0..8u64 {
            let dir = tempfile::tempdir()?;
            let ledger = crate::Ledger::create(&dir.path().join("l"), "test/id-runs")?;
            let runs = small(ledger.log())?;
            let mut rng = Rng(seed);
            let mut model: BTreeMap<EventId, u64> = BTreeMap::new();
            let id = |n: u64| {
                let mut bytes = [0; 16];
                bytes.copy_from_slice(&blake3::hash(&n.to_be_bytes()).as_bytes()[..16]);
                EventId(bytes)
            };
            for seq in 0..400u64 {
                let chunk: Vec<(EventId, u64)> = (0..1 + rng.next() % 4)
                    .map(|k| (id(rng.next() % 150), seq * 8 + k))
                    .collect();
                for (id, seq) in &chunk {
                    model.insert(*id, *seq);
                }
                runs.add(chunk)?;
                if rng.next().is_multiple_of(17) {
                    runs.flush()?;
                }
            }
            runs.flush()?;
            let levels = runs.runs.read().map_err(|_| poisoned())?.clone();
            // At most FANOUT − 1 runs a level.
            for level in 0..=u8::MAX {
                assert!(levels.iter().filter(|r| r.level == level).count() < FANOUT);
            }
            let reopened = small(ledger.log())?;
            assert_eq!(*reopened.runs.read().map_err(|_| poisoned())?, levels);
            for runs in [&runs, &reopened] {
                for n in 0..200 {
                    assert_eq!(
                        first(runs, &id(n))?,
                        model.get(&id(n)).copied(),
                        "seed {seed}"
                    );
                }
                let mut ids = std::collections::BTreeSet::new();
                runs.for_each_id(|id| {
                    ids.insert(id);
                })?;
                assert!(model.keys().all(|id| ids.contains(id)));
            }
        }
        Ok(())
    }

    #[test]
    fn blocks_of_a_run_that_never_counted_are_removed_on_opening() -> TestResult {
        let dir = tempfile::tempdir()?;
        let ledger = crate::Ledger::create(&dir.path().join("l"), "test/id-runs")?;
        let runs = small(ledger.log())?;
        runs.add(vec![(EventId([1; 16]), 1), (EventId([2; 16]), 2)])?;
        runs.flush()?;
        let orphan = runs.write_run(0, [(EventId([3; 16]), 3)].into_iter().map(Ok))?;
        assert_eq!(first(&runs, &EventId([3; 16]))?, None);
        let blocks = |runs: &IdRuns| runs.tree.scan_prefix([BLOCK]).count();
        assert_eq!(blocks(&runs), 2);
        let reopened = small(ledger.log())?;
        assert_eq!(blocks(&reopened), 1);
        assert_eq!(first(&reopened, &EventId([2; 16]))?, Some(2));
        // New runs are numbered past the orphan's.
        assert!(reopened.next.load(Ordering::Relaxed) > orphan.number);
        Ok(())
    }
}
