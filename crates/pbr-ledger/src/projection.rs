//! The durable, incremental projections: the folded state and the index of client ids.
//!
//! - `projection.state`: key `state` → `u32 LE version ‖ u64 LE applied ‖ u32 LE pages`, and
//!   key `page ‖ u32 BE i` → the `i`th [`PAGE_BYTES`] of `bincode(State)`: the state after the
//!   first `applied` events, in pages so that neither saving nor loading it holds the whole
//!   encoding (nor sled a value that large). The header is written after the pages.
//! - `projection.flows`: key `u16 BE length ‖ contract id ‖ u32 BE n` → block `n` of that
//!   contract's money flows, as [`pbr_core::flows::Flows::take_sealed`] handed it out. The
//!   snapshot keeps only each stored block's first and last seq and the last, open block, so
//!   neither an import nor the snapshot holds a flow per cost; anything that reads flows
//!   (settlement, balances, reports) gets a state with the blocks put back
//!   ([`Ledger::state`]). Blocks are written before any snapshot that refers to them; a block
//!   past what the snapshot refers to (a failed batch's) is overwritten by the next one.
//! - `projection.ids`: client event id → seq, for every event appended, as sorted runs of
//!   packed blocks (`id_runs.rs`), with key `indexed` → u64 BE, the number of leading events
//!   whose ids it holds. An entry is trusted only after reading the event at its seq and
//!   finding that id there, which also gives the fact digest that tells a repeated fact from
//!   a different fact under the same id (see [`fact_digest`]); an entry a failed batch left
//!   names a seq that is past the log or holds another event, and is ignored. Reading costs
//!   nothing on a large import, where almost no id is found. An index of an older form (one
//!   key per id) is dropped and rebuilt from the log.
//!
//! Both are caches, each with its own watermark, caught up from the log on first use: the
//! state by anything that reads it ([`Ledger::state`]), the index only by an append, the one
//! thing that needs it. So settling from the log alone (a lost or rebuilt projection) folds
//! the events once and writes no index, and a crash between a log append and either write
//! loses nothing. [`Ledger::rebuild_projections`] derives both from `events` alone. The id
//! index is permanent in the sense that matters: it is derived from the log, so a
//! re-imported id is recognised however long ago it was first appended.

use pbr_core::event::Event;
use pbr_core::ids::EventId;
use pbr_core::state::State;

use crate::id_runs::IdRuns;
use crate::{Ledger, LedgerError};

/// Bumped whenever `State`'s shape or the id index changes; an older snapshot (and with it
/// the index) is rebuilt from the log.
const SNAPSHOT_VERSION: u32 = 10;
/// The largest page of a state snapshot.
const PAGE_BYTES: usize = 1 << 20;

/// What identifies a fact for duplicate detection, from the event and its encoding `bytes`:
/// for a decision or a claw-back, the claim, the action, the date and the author (re-deciding
/// a claim later may not give the same result, but it is the same fact); for anything else,
/// the bytes with `recorded_at` zeroed (an import repeated later records the same fact at
/// another time).
pub(crate) fn fact_digest(event: &Event, bytes: &[u8]) -> [u8; 32] {
    use pbr_core::event::Payload;
    let action = |what: &str, claim_seq: u64| {
        let text = format!(
            "{what}\u{1f}{}\u{1f}{claim_seq}\u{1f}{}\u{1f}{}",
            event.contract, event.business_date, event.author
        );
        *blake3::hash(text.as_bytes()).as_bytes()
    };
    match &event.payload {
        Payload::OutcomeVerified(p) => action("decide", p.claim_seq),
        Payload::OutcomeRejected(p) => action("decide", p.claim_seq),
        Payload::OutcomeClawedBack(p) => action(&format!("claw-back {:?}", p.reason), p.claim_seq),
        _ => fact_digest_of_bytes(bytes),
    }
}

/// [`fact_digest`] of an event that is not a decision or claw-back, from its encoding: the
/// bytes with `recorded_at` (the eight bytes before the 16-byte id at the end) zeroed.
fn fact_digest_of_bytes(bytes: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    match bytes.len().checked_sub(24) {
        Some(at) => {
            hasher.update(&bytes[..at]);
            hasher.update(&[0u8; 8]);
            hasher.update(&bytes[at + 8..]);
        }
        None => {
            hasher.update(bytes);
        }
    }
    *hasher.finalize().as_bytes()
}

const STATE_KEY: &[u8] = b"state";
/// The projection tree of stored blocks of flows.
pub(crate) const FLOWS_TREE: &str = "flows";
/// Events folded between two spills of flows while the state catches up, so that folding a
/// long log holds at most about this many flows in memory.
const SPILL_EVERY: u64 = 65_536;
/// Ids written at a time (sorted) while catching the index up, so memory stays bounded.
const INDEX_SLICE: usize = 65_536;

fn config() -> impl bincode::config::Config {
    bincode::config::legacy()
}

impl Ledger {
    pub(crate) fn projection_error(seq: u64, reason: impl Into<String>) -> LedgerError {
        LedgerError::Projection {
            seq,
            reason: reason.into(),
        }
    }

    /// The state folded from every event, loading and catching up the projections first,
    /// with every contract's flows in memory.
    pub fn state(&mut self) -> Result<&State, LedgerError> {
        self.ensure_complete()?;
        Ok(&self.state)
    }

    /// The state folded from every event, with the flows of its contracts possibly stored
    /// away: cheaper than [`Ledger::state`] on a ledger of millions of flows, for reading
    /// anything but flows (terms, parties, participants, claims). Reading flows from it
    /// fails ([`pbr_core::flows::Flows::loaded`]).
    pub fn state_without_flows(&mut self) -> Result<&State, LedgerError> {
        self.ensure_projections()?;
        Ok(&self.state)
    }

    /// [`Ledger::ensure_projections`], then the stored blocks of flows put back, for anything
    /// that reads flows. Blocks that are missing or do not match the snapshot (a damaged
    /// cache) make the state be folded again from the log, once; a failure to read them is
    /// returned.
    pub(crate) fn ensure_complete(&mut self) -> Result<(), LedgerError> {
        self.ensure_projections()?;
        let flows = self.log.projection_tree(FLOWS_TREE)?;
        match restore_flows(&flows, &mut self.state, None) {
            Err(LedgerError::Projection { .. }) => {}
            other => return other,
        }
        self.log.drop_projection_tree("state")?;
        self.log.drop_projection_tree(FLOWS_TREE)?;
        self.loaded = false;
        self.state = State::default();
        self.ensure_projections()?;
        let flows = self.log.projection_tree(FLOWS_TREE)?;
        restore_flows(&flows, &mut self.state, None)
    }

    /// Loads the state snapshot and folds in the events after it. The state's flows may be
    /// partly stored away: fine for validating appends, not for reading flows
    /// ([`Ledger::ensure_complete`]).
    pub(crate) fn ensure_projections(&mut self) -> Result<(), LedgerError> {
        if self.loaded {
            return Ok(());
        }
        let tree = self.log.projection_tree("state")?;
        let flows = self.log.projection_tree(FLOWS_TREE)?;
        self.state = match load_snapshot(&tree)? {
            Some(state) if state.applied <= self.log.len() => state,
            _ => State::default(),
        };
        let from = self.state.applied;
        for entry in self.log.iter_from(from) {
            let (seq, event) = decoded(entry)?;
            before_apply(&flows, &mut self.state, &event)?;
            self.state
                .apply(seq, &event)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
            if (seq + 1 - from).is_multiple_of(SPILL_EVERY) {
                spill_flows(&flows, &mut self.state)?;
            }
        }
        self.loaded = true;
        if self.state.applied > from {
            spill_flows(&flows, &mut self.state)?;
            self.save_snapshot()?;
        }
        Ok(())
    }

    /// Catches the id index up with the log: indexes the ids of the events after its
    /// watermark, in slices, then moves the watermark to the log's length. With no watermark
    /// (a new, dropped or older index) it starts afresh from the first event. Exclusive, as
    /// is everything that writes the index: its run numbers and the removal of blocks of
    /// runs that never counted assume one writer (`id_runs.rs`). Returns the index, open, so
    /// that callers do not open it again.
    pub(crate) fn ensure_index(&mut self) -> Result<IdRuns, LedgerError> {
        let mut runs = IdRuns::open(&self.log)?;
        let indexed = runs.indexed()?;
        let len = self.log.len();
        if indexed >= len {
            return Ok(runs);
        }
        if indexed == 0 {
            drop(runs);
            self.log.drop_projection_tree("ids")?;
            runs = IdRuns::open(&self.log)?;
        }
        let mut ids = Vec::with_capacity(INDEX_SLICE);
        for entry in self.log.iter_from(indexed) {
            let (seq, event) = decoded(entry)?;
            ids.push((event.id, seq));
            if ids.len() >= INDEX_SLICE {
                runs.add(std::mem::take(&mut ids))?;
            }
        }
        runs.add(ids)?;
        runs.flush()?;
        runs.set_indexed(len)?;
        self.log.flush()?;
        Ok(runs)
    }

    /// Records that the id index covers the first `len` events (flushed with the next flush).
    pub(crate) fn set_indexed(&mut self, len: u64) -> Result<(), LedgerError> {
        IdRuns::open(&self.log)?.set_indexed(len)
    }

    /// Writes the state snapshot, then flushes.
    pub(crate) fn save_snapshot(&self) -> Result<(), LedgerError> {
        let applied = self.state.applied;
        // A fresh tree for each snapshot: sled keeps a rewritten value as a delta on its
        // page, and reading a page with many such deltas reads each superseded snapshot too
        // (after 11 quarters of appends at 20,000 participants: 133 ms and 400 MiB to load a
        // 21 MB snapshot, against 30 ms and 116 MiB written once). A crash in between loses
        // only the cache: without its header the next read folds the state from the log.
        self.log.drop_projection_tree("state")?;
        let tree = self.log.projection_tree("state")?;
        let mut pages = PageWriter::new(&tree, PAGE_BYTES);
        bincode::serde::encode_into_std_write(&self.state, &mut pages, config())
            .map_err(|e| Self::projection_error(applied, e.to_string()))?;
        std::io::Write::flush(&mut pages)
            .map_err(|e| Self::projection_error(applied, e.to_string()))?;
        let mut header = SNAPSHOT_VERSION.to_le_bytes().to_vec();
        header.extend_from_slice(&applied.to_le_bytes());
        header.extend_from_slice(&pages.written.to_le_bytes());
        tree.insert(STATE_KEY, header)
            .map_err(|e| LedgerError::Log(e.into()))?;
        self.log.flush()?;
        Ok(())
    }

    /// The seq of the committed event with client id `id`, if the ledger holds one.
    pub fn seq_of_id(&mut self, id: &EventId) -> Result<Option<u64>, LedgerError> {
        let ids = self.ensure_index()?;
        Ok(lookup_index(&self.log, &ids, id, self.log.len())?.map(|(seq, _)| seq))
    }

    /// Rebuilds the state from `events` alone, and marks the id index for rebuilding from
    /// scratch by the next append (or [`Ledger::rebuild_index`]), which drops it first:
    /// dropping millions of keys is the index's cost, not the state's.
    pub fn rebuild_projections(&mut self) -> Result<(), LedgerError> {
        self.log.drop_projection_tree("state")?;
        self.log.drop_projection_tree(FLOWS_TREE)?;
        self.set_indexed(0)?;
        self.loaded = false;
        self.state = State::default();
        self.ensure_projections()
    }

    /// Rebuilds the id index from `events` alone, now rather than at the next append.
    pub fn rebuild_index(&mut self) -> Result<(), LedgerError> {
        self.set_indexed(0)?;
        self.ensure_index().map(drop)
    }

    /// The state as it was after the first `len` events: "what did we know at this log
    /// position". Replays from the start; the projections are not touched.
    pub fn state_at(&self, len: u64) -> Result<State, LedgerError> {
        self.fold(len, State::apply)
    }

    /// [`Ledger::state_at`] as an auditor folds it: every issued statement recomputed from
    /// its contract's first period ([`State::apply_recomputing`]).
    pub fn audited_state_at(&self, len: u64) -> Result<State, LedgerError> {
        self.fold(len, State::apply_recomputing)
    }

    fn fold(
        &self,
        len: u64,
        apply: impl Fn(&mut State, u64, &Event) -> Result<(), pbr_core::CoreError>,
    ) -> Result<State, LedgerError> {
        let mut state = State::default();
        for entry in self.log.iter_from(0) {
            let (seq, event) = decoded(entry)?;
            if seq >= len {
                break;
            }
            apply(&mut state, seq, &event).map_err(|e| Self::projection_error(seq, e.reason))?;
        }
        Ok(state)
    }

    /// The log length as known at `recorded_at_micros`: the number of leading events recorded
    /// at or before it.
    pub fn len_known_at(&self, recorded_at_micros: i64) -> Result<u64, LedgerError> {
        let mut len = 0;
        for entry in self.log.iter_from(0) {
            let (seq, event) = decoded(entry)?;
            if event.recorded_at_micros > recorded_at_micros {
                break;
            }
            len = seq + 1;
        }
        Ok(len)
    }

    /// The bytes of the current state in a form that does not depend on which blocks of
    /// flows were stored when: every flow in memory, encoded as if no block had been stored.
    /// For comparing a rebuilt projection with an incremental one, or with a fold
    /// ([`Ledger::state_at`]).
    pub fn state_bytes(&mut self) -> Result<Vec<u8>, LedgerError> {
        self.ensure_complete()?;
        let mut state = self.state.clone();
        for contract in state.contracts.values_mut() {
            contract
                .flows
                .forget_stored()
                .map_err(|e| Self::projection_error(state.applied, e.reason))?;
        }
        bincode::serde::encode_to_vec(&state, config())
            .map_err(|e| Self::projection_error(self.state.applied, e.to_string()))
    }

    /// The size of the state snapshot as saved (stored blocks of flows not included).
    pub fn snapshot_len(&mut self) -> Result<usize, LedgerError> {
        self.ensure_projections()?;
        bincode::serde::encode_to_vec(&self.state, config())
            .map(|bytes| bytes.len())
            .map_err(|e| Self::projection_error(self.state.applied, e.to_string()))
    }
}

/// The key of block `number` of `contract`'s flows in `projection.flows`.
fn flow_block_key(contract: &str, number: usize) -> Result<Vec<u8>, LedgerError> {
    let too_many = |what: &str| Ledger::projection_error(0, format!("{what} of {contract}"));
    let len = u16::try_from(contract.len()).map_err(|_| too_many("the id"))?;
    let number = u32::try_from(number).map_err(|_| too_many("the blocks of flows"))?;
    let mut key = Vec::with_capacity(2 + contract.len() + 4);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(contract.as_bytes());
    key.extend_from_slice(&number.to_be_bytes());
    Ok(key)
}

/// Stores every full block of every contract's flows in `tree` and drops it from memory.
/// Done before a snapshot of `state` is saved, which refers to the blocks.
pub(crate) fn spill_flows(tree: &sled::Tree, state: &mut State) -> Result<(), LedgerError> {
    for (id, contract) in &mut state.contracts {
        for (number, block) in contract.flows.take_sealed() {
            tree.insert(flow_block_key(id, number)?, block)
                .map_err(|e| LedgerError::Log(e.into()))?;
        }
    }
    Ok(())
}

/// Puts the stored blocks of `only`'s flows (every contract's, if `None`) back in memory.
pub(crate) fn restore_flows(
    tree: &sled::Tree,
    state: &mut State,
    only: Option<&str>,
) -> Result<(), LedgerError> {
    let applied = state.applied;
    let State {
        contracts,
        retracted,
        ..
    } = state;
    for (id, contract) in contracts.iter_mut() {
        let away = contract.flows.away();
        if away == 0 || only.is_some_and(|only| only != id) {
            continue;
        }
        let mut blocks = Vec::with_capacity(away);
        for number in 0..away {
            let block = tree
                .get(flow_block_key(id, number)?)
                .map_err(|e| LedgerError::Log(e.into()))?
                .ok_or_else(|| {
                    Ledger::projection_error(
                        applied,
                        format!("block {number} of the flows of {id} is not stored"),
                    )
                })?;
            blocks.push(block.to_vec());
        }
        contract
            .flows
            .restore(blocks, retracted)
            .map_err(|e| Ledger::projection_error(applied, format!("{id}: {}", e.reason)))?;
    }
    Ok(())
}

/// What folding `event` into `state` needs first: a statement's contract's flows in memory,
/// since applying `settlement-issued` recomputes the statement.
pub(crate) fn before_apply(
    flows: &sled::Tree,
    state: &mut State,
    event: &Event,
) -> Result<(), LedgerError> {
    if matches!(event.payload, pbr_core::event::Payload::SettlementIssued(_)) {
        restore_flows(flows, state, Some(&event.contract))?;
    }
    Ok(())
}

/// A record read from the log, decoded down to its event.
fn decoded(
    entry: Result<(u64, sled::IVec), pbr_log::LogError>,
) -> Result<(u64, Event), LedgerError> {
    let (seq, bytes) = entry?;
    let record = pbr_log::Record::decode(&bytes)
        .map_err(|source| LedgerError::Log(pbr_log::LogError::BadRecord { seq, source }))?;
    let event =
        Event::decode(&record.event_bytes).map_err(|e| Ledger::projection_error(seq, e.reason))?;
    Ok((seq, event))
}

/// The seq and fact digest of the event with client id `id`, if the index names one that
/// holds it: the entry's seq must be below `readable` (the committed log, plus whatever the
/// batch under way has written) and the event there must carry `id`. An entry that fails
/// either, such as one a failed batch left, is ignored. The digest is recomputed from the
/// stored event, so the index need not keep it.
pub(crate) fn lookup_index(
    log: &pbr_log::Log,
    ids: &IdRuns,
    id: &EventId,
    readable: u64,
) -> Result<Option<(u64, [u8; 32])>, LedgerError> {
    let mut found = None;
    ids.candidates(id, |seq| {
        if seq >= readable {
            return Ok(false);
        }
        let record = log.read(seq)?;
        let event = Event::decode(&record.event_bytes).map_err(|e| LedgerError::Projection {
            seq,
            reason: e.reason,
        })?;
        if event.id != *id {
            return Ok(false);
        }
        found = Some((seq, fact_digest(&event, &record.event_bytes)));
        Ok(true)
    })?;
    Ok(found)
}

/// The saved state, if the tree holds a whole snapshot of this version. A snapshot that does
/// not decode is no snapshot (the caller folds the log instead); a failed read is an error.
fn load_snapshot(tree: &sled::Tree) -> Result<Option<State>, LedgerError> {
    let Some(header) = tree
        .get(STATE_KEY)
        .map_err(|e| LedgerError::Log(e.into()))?
    else {
        return Ok(None);
    };
    let Some((version, applied, pages)) = parse_header(&header) else {
        return Ok(None);
    };
    if version != SNAPSHOT_VERSION {
        return Ok(None);
    }
    Ok(read_pages::<State>(tree, pages)?.filter(|state| state.applied == applied))
}

/// Decodes a `T` from the first `pages` pages of `tree`: `None` unless they hold exactly
/// one; an error if reading the tree fails.
fn read_pages<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    pages: u32,
) -> Result<Option<T>, LedgerError> {
    let mut reader = PageReader {
        tree,
        pages,
        next: 0,
        page: sled::IVec::default(),
        at: 0,
        failed: None,
    };
    let decoded: Result<T, _> = bincode::serde::decode_from_reader(&mut reader, config());
    if let Some(e) = reader.failed {
        return Err(LedgerError::Log(e.into()));
    }
    let whole = reader.next == pages && reader.at == reader.page.len();
    Ok(decoded.ok().filter(|_| whole))
}

fn parse_header(header: &[u8]) -> Option<(u32, u64, u32)> {
    let version = u32::from_le_bytes(header.get(..4)?.try_into().ok()?);
    let applied = u64::from_le_bytes(header.get(4..12)?.try_into().ok()?);
    let pages = u32::from_le_bytes(header.get(12..16)?.try_into().ok()?);
    (header.len() == 16).then_some((version, applied, pages))
}

fn page_key(i: u32) -> [u8; 8] {
    let mut key = *b"page\0\0\0\0";
    key[4..].copy_from_slice(&i.to_be_bytes());
    key
}

/// Writes an encoding into a tree page by page.
struct PageWriter<'a> {
    tree: &'a sled::Tree,
    page: Vec<u8>,
    limit: usize,
    written: u32,
}

impl<'a> PageWriter<'a> {
    fn new(tree: &'a sled::Tree, limit: usize) -> PageWriter<'a> {
        PageWriter {
            tree,
            page: Vec::with_capacity(limit),
            limit,
            written: 0,
        }
    }

    /// Stores the page filled so far, if it holds anything.
    fn write_page(&mut self) -> std::io::Result<()> {
        if self.page.is_empty() {
            return Ok(());
        }
        let key = page_key(self.written);
        self.tree
            .insert(key, self.page.as_slice())
            .map_err(std::io::Error::other)?;
        self.page.clear();
        self.written = self
            .written
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("a state snapshot of more than 2^32 pages"))?;
        Ok(())
    }
}

impl std::io::Write for PageWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.page.len() == self.limit {
            self.write_page()?;
        }
        let n = data.len().min(self.limit - self.page.len());
        self.page.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Stores the page filled so far (a short page reads back like any other).
    fn flush(&mut self) -> std::io::Result<()> {
        self.write_page()
    }
}

/// Reads an encoding back from its pages, holding one page at a time.
struct PageReader<'a> {
    tree: &'a sled::Tree,
    pages: u32,
    next: u32,
    page: sled::IVec,
    at: usize,
    /// A read of the tree that failed (bincode's error type cannot carry it).
    failed: Option<sled::Error>,
}

impl PageReader<'_> {
    /// Moves to the next page; false at the end or on a failed read.
    fn turn(&mut self) -> bool {
        if self.next == self.pages {
            return false;
        }
        match self.tree.get(page_key(self.next)) {
            Ok(Some(page)) if !page.is_empty() => {
                self.page = page;
                self.at = 0;
                self.next += 1;
                true
            }
            Ok(_) => false,
            Err(e) => {
                self.failed = Some(e);
                false
            }
        }
    }
}

impl bincode::de::read::Reader for PageReader<'_> {
    fn read(&mut self, bytes: &mut [u8]) -> Result<(), bincode::error::DecodeError> {
        let mut filled = 0;
        while filled < bytes.len() {
            if self.at == self.page.len() && !self.turn() {
                return Err(bincode::error::DecodeError::UnexpectedEnd {
                    additional: bytes.len() - filled,
                });
            }
            let n = (bytes.len() - filled).min(self.page.len() - self.at);
            bytes[filled..filled + n].copy_from_slice(&self.page[self.at..self.at + n]);
            self.at += n;
            filled += n;
        }
        Ok(())
    }

    fn peek_read(&mut self, n: usize) -> Option<&[u8]> {
        self.page.get(self.at..self.at.checked_add(n)?)
    }

    fn consume(&mut self, n: usize) {
        self.at += n;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn tree() -> (tempfile::TempDir, sled::Tree) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = sled::Config::new()
            .path(dir.path())
            .open()
            .expect("a sled database");
        let tree = db.open_tree("pages").expect("a tree");
        (dir, tree)
    }

    fn write(tree: &sled::Tree, value: &impl serde::Serialize, limit: usize) -> u32 {
        let mut pages = PageWriter::new(tree, limit);
        bincode::serde::encode_into_std_write(value, &mut pages, config()).expect("encodes");
        pages.flush().expect("stores the last page");
        pages.written
    }

    #[test]
    fn an_encoding_reads_back_across_pages_and_only_whole() {
        let value: Vec<(u64, String)> = (0..500).map(|i| (i * 7, format!("name {i}"))).collect();
        for limit in [1, 7, 64, 4096, PAGE_BYTES] {
            let (_dir, tree) = tree();
            let pages = write(&tree, &value, limit);
            let expected = bincode::serde::encode_to_vec(&value, config())
                .expect("encodes")
                .len()
                .div_ceil(limit);
            assert_eq!(pages as usize, expected, "limit {limit}");
            let back: Option<Vec<(u64, String)>> = read_pages(&tree, pages).expect("reads");
            assert_eq!(back.as_ref(), Some(&value), "limit {limit}");
            if pages > 1 {
                // Fewer pages than were written, or a page missing: no value.
                let short: Option<Vec<(u64, String)>> =
                    read_pages(&tree, pages - 1).expect("reads");
                assert_eq!(short, None, "limit {limit}");
                tree.remove(page_key(pages / 2)).expect("removes");
                let holed: Option<Vec<(u64, String)>> = read_pages(&tree, pages).expect("reads");
                assert_eq!(holed, None, "limit {limit}");
            }
        }
    }

    #[test]
    fn pages_past_the_value_make_it_no_value() {
        let (_dir, tree) = tree();
        let pages = write(&tree, &vec![1u64, 2, 3], 8);
        tree.insert(page_key(pages), &[0u8; 8]).expect("inserts");
        let extra: Option<Vec<u64>> = read_pages(&tree, pages + 1).expect("reads");
        assert_eq!(extra, None);
        let whole: Option<Vec<u64>> = read_pages(&tree, pages).expect("reads");
        assert_eq!(whole, Some(vec![1, 2, 3]));
    }
}
