//! The durable, incremental projections: the folded state and the index of client ids.
//!
//! - `projection.state`: key `state` → `u32 LE version ‖ u64 LE applied ‖ bincode(State)`, the
//!   state after the first `applied` events.
//! - `projection.ids`: client event id (16 bytes) → seq (u64 BE) ‖ fact digest (32 bytes) ‖
//!   batch generation (u64 BE), for every event appended; key `indexed` → u64 BE, the number
//!   of leading events whose ids it holds; key `generation` → u64 BE, the last batch's
//!   generation (neither key is 16 bytes long, so neither is an id). The digest tells a
//!   repeated fact from a different fact under the same id without reading the event (see
//!   [`fact_digest`]). An entry is trusted when its seq is a committed event with that id, or
//!   when the batch under way wrote it (its generation and one of its seqs); anything else,
//!   such as an entry a failed batch left, is ignored.
//!
//! Both are caches, each with its own watermark, caught up from the log on first use: the
//! state by anything that reads it ([`Ledger::state`]), the index only by an append, the one
//! thing that needs it. So settling from the log alone (a lost or rebuilt projection) folds
//! the events once and writes no index, and a crash between a log append and either write
//! loses nothing. [`Ledger::rebuild_projections`] derives both from `events` alone. The id
//! index is permanent in the sense that matters: it is derived from the log, so a
//! re-imported id is recognised however long ago it was first appended.

use std::collections::HashMap;

use pbr_core::event::Event;
use pbr_core::ids::EventId;
use pbr_core::state::State;

use crate::{Ledger, LedgerError};

/// Bumped whenever `State`'s shape or the id index changes; an older snapshot (and with it
/// the index) is rebuilt from the log.
const SNAPSHOT_VERSION: u32 = 5;

/// What identifies a fact for duplicate detection: for a decision or a claw-back, the claim,
/// the action, the date and the author (re-deciding a claim later may not give the same
/// result, but it is the same fact); for anything else, the event's bytes with `recorded_at`
/// zeroed (an import repeated later records the same fact at another time).
pub(crate) fn fact_digest(event: &Event) -> [u8; 32] {
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
        _ => fact_digest_of_bytes(&event.encode().unwrap_or_default()),
    }
}

/// [`fact_digest`] of an event that is not a decision or claw-back, from its encoding: the
/// bytes with `recorded_at` (the eight bytes before the 16-byte id at the end) zeroed.
pub(crate) fn fact_digest_of_bytes(bytes: &[u8]) -> [u8; 32] {
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
/// The id index's watermark.
const INDEXED_KEY: &[u8] = b"indexed";
/// The generation of the id index's last batch.
const GENERATION_KEY: &[u8] = b"generation";
/// Ids written per sled batch while catching the index up, so memory stays bounded.
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

    /// The state folded from every event, loading and catching up the projections first.
    pub fn state(&mut self) -> Result<&State, LedgerError> {
        self.ensure_projections()?;
        Ok(&self.state)
    }

    pub(crate) fn ensure_projections(&mut self) -> Result<(), LedgerError> {
        if self.loaded {
            return Ok(());
        }
        let tree = self.log.projection_tree("state")?;
        let snapshot = tree
            .get(STATE_KEY)
            .map_err(|e| LedgerError::Log(e.into()))?;
        self.state = match snapshot.as_deref().and_then(decode_snapshot) {
            Some(state) if state.applied <= self.log.len() => state,
            _ => State::default(),
        };
        let from = self.state.applied;
        for entry in self.log.iter_from(from) {
            let (seq, event) = decoded(entry)?;
            self.state
                .apply(seq, &event)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
        }
        self.loaded = true;
        if self.state.applied > from {
            self.save_snapshot()?;
        }
        Ok(())
    }

    /// Catches the id index up with the log: indexes the ids of the events after its
    /// watermark, in slices, then moves the watermark to the log's length. With no watermark
    /// (a new, dropped or pre-watermark index) it starts afresh from the first event.
    pub(crate) fn ensure_index(&self) -> Result<(), LedgerError> {
        let indexed = self.indexed()?;
        let len = self.log.len();
        if indexed >= len {
            return Ok(());
        }
        if indexed == 0 {
            self.log.drop_projection_tree("ids")?;
        }
        let mut ids = HashMap::new();
        for entry in self.log.iter_from(indexed) {
            let (seq, event) = decoded(entry)?;
            ids.insert(event.id, (seq, fact_digest(&event)));
            if ids.len() >= INDEX_SLICE {
                write_index(&self.log, std::mem::take(&mut ids), 0)?;
            }
        }
        write_index(&self.log, ids, 0)?;
        self.set_indexed(len)?;
        self.log.flush()?;
        Ok(())
    }

    /// The id index's watermark: how many leading events it covers.
    fn indexed(&self) -> Result<u64, LedgerError> {
        index_counter(&self.log, INDEXED_KEY)
    }

    /// Records that the id index covers the first `len` events (flushed with the next flush).
    pub(crate) fn set_indexed(&self, len: u64) -> Result<(), LedgerError> {
        self.log
            .projection_tree("ids")?
            .insert(INDEXED_KEY, &len.to_be_bytes())
            .map_err(|e| LedgerError::Log(e.into()))?;
        Ok(())
    }

    /// Writes the state snapshot, then flushes.
    pub(crate) fn save_snapshot(&self) -> Result<(), LedgerError> {
        let mut bytes = SNAPSHOT_VERSION.to_le_bytes().to_vec();
        bytes.extend_from_slice(&self.state.applied.to_le_bytes());
        let state = bincode::serde::encode_to_vec(&self.state, config())
            .map_err(|e| Self::projection_error(self.state.applied, e.to_string()))?;
        bytes.extend_from_slice(&state);
        self.log
            .projection_tree("state")?
            .insert(STATE_KEY, bytes)
            .map_err(|e| LedgerError::Log(e.into()))?;
        self.log.flush()?;
        Ok(())
    }

    /// The seq of the committed event with client id `id`, if the ledger holds one.
    pub fn seq_of_id(&self, id: &EventId) -> Result<Option<u64>, LedgerError> {
        self.ensure_index()?;
        Ok(lookup_index(&self.log, id, &Own::NONE)?.map(|(seq, _)| seq))
    }

    /// Rebuilds the state from `events` alone, and marks the id index for rebuilding from
    /// scratch by the next append (or [`Ledger::rebuild_index`]), which drops it first:
    /// dropping millions of keys is the index's cost, not the state's.
    pub fn rebuild_projections(&mut self) -> Result<(), LedgerError> {
        self.log.drop_projection_tree("state")?;
        self.set_indexed(0)?;
        self.loaded = false;
        self.state = State::default();
        self.ensure_projections()
    }

    /// Rebuilds the id index from `events` alone, now rather than at the next append.
    pub fn rebuild_index(&mut self) -> Result<(), LedgerError> {
        self.set_indexed(0)?;
        self.ensure_index()
    }

    /// The state as it was after the first `len` events: "what did we know at this log
    /// position". Replays from the start; the projections are not touched.
    pub fn state_at(&self, len: u64) -> Result<State, LedgerError> {
        let mut state = State::default();
        for entry in self.log.iter_from(0) {
            let (seq, event) = decoded(entry)?;
            if seq >= len {
                break;
            }
            state
                .apply(seq, &event)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
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

    /// The bytes of the current state snapshot, for comparing a rebuilt projection with an
    /// incremental one.
    pub fn state_bytes(&mut self) -> Result<Vec<u8>, LedgerError> {
        self.ensure_projections()?;
        bincode::serde::encode_to_vec(&self.state, config())
            .map_err(|e| Self::projection_error(self.state.applied, e.to_string()))
    }
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

/// The id index entries an append may trust without reading the log: the ones it wrote
/// itself, for its own seqs.
pub(crate) struct Own {
    /// The batch's generation ([`begin_index_batch`]).
    pub generation: u64,
    /// The seqs the batch has given out so far.
    pub seqs: std::ops::Range<u64>,
}

impl Own {
    /// Outside a batch: no entry is trusted unread.
    const NONE: Own = Own {
        generation: 0,
        seqs: 0..0,
    };
}

/// Starts a batch's use of the id index: a generation no earlier batch had, so that entries a
/// failed batch left (for seqs a later batch gives out again) never pass for the later
/// batch's own. sled recovers a prefix of its writes, so an entry that survives a crash
/// carries a generation that survived too.
pub(crate) fn begin_index_batch(log: &pbr_log::Log) -> Result<u64, LedgerError> {
    let generation = index_counter(log, GENERATION_KEY)? + 1;
    log.projection_tree("ids")?
        .insert(GENERATION_KEY, &generation.to_be_bytes())
        .map_err(|e| LedgerError::Log(e.into()))?;
    Ok(generation)
}

/// One of the id index's counters (`indexed`, `generation`): a u64 BE, 0 when absent.
fn index_counter(log: &pbr_log::Log, key: &[u8]) -> Result<u64, LedgerError> {
    let value = log
        .projection_tree("ids")?
        .get(key)
        .map_err(|e| LedgerError::Log(e.into()))?;
    Ok(value
        .as_deref()
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes))
}

/// Writes id index entries: id → seq (u64 BE) ‖ fact digest ‖ generation (u64 BE).
pub(crate) fn write_index(
    log: &pbr_log::Log,
    entries: impl IntoIterator<Item = (EventId, (u64, [u8; 32]))>,
    generation: u64,
) -> Result<(), LedgerError> {
    let mut batch = sled::Batch::default();
    for (id, (seq, digest)) in entries {
        let mut value = Vec::with_capacity(48);
        value.extend_from_slice(&seq.to_be_bytes());
        value.extend_from_slice(&digest);
        value.extend_from_slice(&generation.to_be_bytes());
        batch.insert(&id.0, value);
    }
    let ids = log.projection_tree("ids")?;
    ids.apply_batch(batch)
        .map_err(|e| LedgerError::Log(e.into()))
}

/// The index entry of `id`, if it is to be trusted: `own` wrote it, or its seq is a committed
/// event that has that id. An entry left by a failed batch fails both and is ignored.
pub(crate) fn lookup_index(
    log: &pbr_log::Log,
    id: &EventId,
    own: &Own,
) -> Result<Option<(u64, [u8; 32])>, LedgerError> {
    let ids = log.projection_tree("ids")?;
    let Some(value) = ids.get(id.0).map_err(|e| LedgerError::Log(e.into()))? else {
        return Ok(None);
    };
    let field = |at: std::ops::Range<usize>| value.get(at);
    let (Some(seq), Some(digest), Some(generation)) = (
        field(0..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes),
        field(8..40).and_then(|b| <[u8; 32]>::try_from(b).ok()),
        field(40..48)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes),
    ) else {
        return Ok(None);
    };
    if generation == own.generation && own.seqs.contains(&seq) {
        return Ok(Some((seq, digest)));
    }
    if seq < log.len() {
        let record = log.read(seq)?;
        let event = Event::decode(&record.event_bytes).map_err(|e| LedgerError::Projection {
            seq,
            reason: e.reason,
        })?;
        if event.id == *id {
            return Ok(Some((seq, digest)));
        }
    }
    Ok(None)
}

fn decode_snapshot(bytes: &[u8]) -> Option<State> {
    let (version, rest) = bytes.split_at_checked(4)?;
    if u32::from_le_bytes(version.try_into().ok()?) != SNAPSHOT_VERSION {
        return None;
    }
    let (_applied, rest) = rest.split_at_checked(8)?;
    let (state, read): (State, usize) = bincode::serde::decode_from_slice(rest, config()).ok()?;
    (read == rest.len()).then_some(state)
}
