//! The durable, incremental projections: the folded state and the index of client ids.
//!
//! - `projection.state`: key `state` → `u32 LE version ‖ u64 LE applied ‖ bincode(State)`, the
//!   state after the first `applied` events.
//! - `projection.ids`: client event id (16 bytes) → seq (u64 BE) ‖ fact digest (32 bytes), for
//!   every event appended. The digest tells a repeated fact from a different fact under the
//!   same id without reading the event (see [`fact_digest`]). An entry whose seq is not a
//!   committed event with that id (left by a rolled-back batch) is ignored.
//!
//! Both are caches: on first use the ledger loads the snapshot and catches up from `applied`
//! by folding the events after it (re-indexing their ids), so a crash between a log append
//! and the snapshot write loses nothing; [`Ledger::rebuild_projections`] derives both from
//! `events` alone. The id index is permanent in the sense that matters: it is derived from
//! the log, so a re-imported id is recognised however long ago it was first appended.

use std::collections::HashMap;

use pbr_core::event::Event;
use pbr_core::ids::EventId;
use pbr_core::state::State;

use crate::{Ledger, LedgerError};

/// Bumped whenever `State`'s shape or the id index changes; an older snapshot (and with it
/// the index) is rebuilt from the log.
const SNAPSHOT_VERSION: u32 = 4;

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
        if self.state.applied == 0 {
            self.log.drop_projection_tree("ids")?;
        }
        let from = self.state.applied;
        let mut ids = HashMap::new();
        for entry in self.log.iter_from(from) {
            let (seq, bytes) = entry?;
            let record = pbr_log::Record::decode(&bytes)
                .map_err(|source| LedgerError::Log(pbr_log::LogError::BadRecord { seq, source }))?;
            let event = Event::decode(&record.event_bytes)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
            self.state
                .apply(seq, &event)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
            ids.insert(event.id, (seq, fact_digest(&event)));
            // Index in slices, so that catching up a long log keeps memory bounded.
            if ids.len() >= 65_536 {
                self.write_ids(&std::mem::take(&mut ids))?;
            }
        }
        self.loaded = true;
        if self.state.applied > from {
            self.save_projections(&ids)?;
        }
        Ok(())
    }

    /// Writes the ids of newly applied events and the state snapshot, then flushes.
    pub(crate) fn save_projections(
        &self,
        new_ids: &HashMap<EventId, (u64, [u8; 32])>,
    ) -> Result<(), LedgerError> {
        self.write_ids(new_ids)?;
        self.save_snapshot()
    }

    fn write_ids(&self, new_ids: &HashMap<EventId, (u64, [u8; 32])>) -> Result<(), LedgerError> {
        write_index(&self.log, new_ids.iter().map(|(id, entry)| (*id, *entry)))
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
        Ok(self.lookup_id(id, 0..0)?.map(|(seq, _)| seq))
    }

    /// The index entry of `id`: valid when its seq is a committed event with that id, or lies
    /// in `batch` (the seqs of the batch under way, whose ids this batch wrote).
    pub(crate) fn lookup_id(
        &self,
        id: &EventId,
        batch: std::ops::Range<u64>,
    ) -> Result<Option<(u64, [u8; 32])>, LedgerError> {
        lookup_index(&self.log, id, batch)
    }

    /// Rebuilds both projections from `events` alone.
    pub fn rebuild_projections(&mut self) -> Result<(), LedgerError> {
        self.log.drop_projection_tree("state")?;
        self.log.drop_projection_tree("ids")?;
        self.loaded = false;
        self.state = State::default();
        self.ensure_projections()
    }

    /// The state as it was after the first `len` events: "what did we know at this log
    /// position". Replays from the start; the projections are not touched.
    pub fn state_at(&self, len: u64) -> Result<State, LedgerError> {
        let mut state = State::default();
        for entry in self.log.iter_from(0) {
            let (seq, bytes) = entry?;
            if seq >= len {
                break;
            }
            let record = pbr_log::Record::decode(&bytes)
                .map_err(|source| LedgerError::Log(pbr_log::LogError::BadRecord { seq, source }))?;
            let event = Event::decode(&record.event_bytes)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
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
            let (seq, bytes) = entry?;
            let record = pbr_log::Record::decode(&bytes)
                .map_err(|source| LedgerError::Log(pbr_log::LogError::BadRecord { seq, source }))?;
            let event = Event::decode(&record.event_bytes)
                .map_err(|e| Self::projection_error(seq, e.reason))?;
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

/// Writes id index entries: id → seq (u64 BE) ‖ fact digest.
pub(crate) fn write_index(
    log: &pbr_log::Log,
    entries: impl IntoIterator<Item = (EventId, (u64, [u8; 32]))>,
) -> Result<(), LedgerError> {
    let mut batch = sled::Batch::default();
    for (id, (seq, digest)) in entries {
        let mut value = seq.to_be_bytes().to_vec();
        value.extend_from_slice(&digest);
        batch.insert(&id.0, value);
    }
    let ids = log.projection_tree("ids")?;
    ids.apply_batch(batch)
        .map_err(|e| LedgerError::Log(e.into()))
}

/// The index entry of `id`, if it is valid: its seq lies in `in_batch` (the batch under way,
/// which wrote it), or is a committed event that has that id. An entry left by a rolled-back
/// batch fails both and is ignored.
pub(crate) fn lookup_index(
    log: &pbr_log::Log,
    id: &EventId,
    in_batch: std::ops::Range<u64>,
) -> Result<Option<(u64, [u8; 32])>, LedgerError> {
    let ids = log.projection_tree("ids")?;
    let Some(value) = ids.get(id.0).map_err(|e| LedgerError::Log(e.into()))? else {
        return Ok(None);
    };
    let (Some(seq), Some(digest)) = (
        value
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes),
        value.get(8..40).and_then(|b| <[u8; 32]>::try_from(b).ok()),
    ) else {
        return Ok(None);
    };
    if in_batch.contains(&seq) {
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
