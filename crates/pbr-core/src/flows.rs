//! The money flows a contract's state keeps, as one compact table.
//!
//! Every `funds-committed`, `funds-disbursed`, `cost-recorded`, `payment-recorded` and
//! `guarantee-called` event becomes a flow, and a ledger of costs recorded per participant
//! holds millions of them. As a map of structs with two owned party names each, a flow cost
//! about 150 bytes of memory and as much again in every state snapshot; here it costs the
//! bytes of its fields, delta-encoded against the flow before it (8 to 12 bytes for a cost
//! recorded the same day as the last one), with party names and currencies kept once each in
//! small tables.
//!
//! Layout of `bytes`: records in increasing seq order, in blocks of [`BLOCK`] records. Each
//! record is
//!
//! | field | encoding |
//! | --- | --- |
//! | seq | varint of the difference from the record before in the block (the seq itself for a block's first record) |
//! | business date | zigzag varint of the days since 0001-01-01 minus the record before's (itself for a block's first) |
//! | tag | one byte: `kind × 9 + purpose` (purpose 0 = none, 1–8 the [`Purpose`] in declaration order); bit 7 set once the flow is removed |
//! | from, to | varints, indices into `parties` |
//! | currency | varint, an index into `currencies` |
//! | amount | zigzag varint of the minor units |
//!
//! A removed flow (its event retracted by a correction) keeps its bytes with the tag's high
//! bit set, so that removing never moves the records after it. Nothing here is part of the
//! ledger's format: the table lives in the state snapshot and the ledger's flow store,
//! caches that are rebuilt from `events` when their version changes.
//!
//! **Stored blocks.** A block is self-contained (its first record is encoded against zeros),
//! so a full block can leave memory: [`Flows::take_sealed`] hands every block but the last to
//! the caller (the ledger stores them in a tree of its own, `docs/format.md` §7) and keeps
//! only their first and last seqs. Appending a million costs then holds one block of them, not
//! nine megabytes. A table with blocks away can take new flows and removals, but cannot be
//! read: [`Flows::loaded`] refuses until [`Flows::restore`] has put the blocks back, so that
//! settlement never runs on part of the flows. A stored block's bytes carry no removal marks;
//! restoring marks the flows whose seqs the state's retracted set holds, so the stored bytes
//! and the snapshot are the same whichever order the blocks were stored and the corrections
//! folded in.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::CoreError;
use crate::event::Purpose;
use crate::money::{Currency, Money};

/// Records per block: a lookup by seq decodes at most this many.
const BLOCK: usize = 128;
/// The longest record: six varints of up to ten bytes and the tag.
const MAX_RECORD: usize = 6 * 10 + 1;
/// The tag bit of a removed flow.
const REMOVED: u8 = 0x80;
/// Purposes per kind in a tag: none and the eight [`Purpose`]s.
const PURPOSES: u8 = 9;

/// Money moving or owed, as recorded by a party (not computed by a statement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow<'a> {
    /// The business date.
    pub date: NaiveDate,
    /// What kind of record.
    pub kind: FlowKind,
    /// Who pays (for a cost: whose cost).
    pub from: &'a str,
    /// Who is paid (for a cost: empty).
    pub to: &'a str,
    /// How much.
    pub amount: Money,
    /// What for, where the event says.
    pub purpose: Option<Purpose>,
}

/// The event kind behind a [`Flow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlowKind {
    /// `funds-committed`: promised, not moved.
    Committed,
    /// `funds-disbursed`.
    Disbursed,
    /// `cost-recorded`.
    Cost,
    /// `payment-recorded`.
    Payment,
    /// `guarantee-called`.
    GuaranteeCalled,
}

impl FlowKind {
    fn code(self) -> u8 {
        match self {
            FlowKind::Committed => 0,
            FlowKind::Disbursed => 1,
            FlowKind::Cost => 2,
            FlowKind::Payment => 3,
            FlowKind::GuaranteeCalled => 4,
        }
    }

    fn from_code(code: u8) -> Option<FlowKind> {
        Some(match code {
            0 => FlowKind::Committed,
            1 => FlowKind::Disbursed,
            2 => FlowKind::Cost,
            3 => FlowKind::Payment,
            4 => FlowKind::GuaranteeCalled,
            _ => return None,
        })
    }
}

fn purpose_code(purpose: Option<Purpose>) -> u8 {
    match purpose {
        None => 0,
        Some(Purpose::WorkingCapital) => 1,
        Some(Purpose::Grant) => 2,
        Some(Purpose::ConditionalGrant) => 3,
        Some(Purpose::CoFinancing) => 4,
        Some(Purpose::FacilityDraw) => 5,
        Some(Purpose::Repayment) => 6,
        Some(Purpose::OutcomePayment) => 7,
        Some(Purpose::Fee) => 8,
    }
}

fn purpose_from_code(code: u8) -> Option<Option<Purpose>> {
    Some(match code {
        0 => None,
        1 => Some(Purpose::WorkingCapital),
        2 => Some(Purpose::Grant),
        3 => Some(Purpose::ConditionalGrant),
        4 => Some(Purpose::CoFinancing),
        5 => Some(Purpose::FacilityDraw),
        6 => Some(Purpose::Repayment),
        7 => Some(Purpose::OutcomePayment),
        8 => Some(Purpose::Fee),
        _ => return None,
    })
}

/// A contract's flows by seq: a map from seq to [`Flow`] that stores each flow in a few bytes,
/// and whose full blocks can be stored elsewhere (see the module documentation).
#[derive(Clone, Default)]
pub struct Flows {
    parties: Vec<String>,
    currencies: Vec<Currency>,
    /// The records of the blocks in memory: blocks `away..`.
    bytes: Vec<u8>,
    /// The first seq and the byte offset of each block in memory.
    blocks: Vec<(u64, usize)>,
    /// The first and last seq of each leading block stored elsewhere (block `i` under
    /// number `i`), whether or not it is also in memory.
    stored: Vec<(u64, u64)>,
    /// How many leading blocks are not in memory: 0 (the table is whole) or `stored.len()`.
    away: usize,
    /// Records in the last block, removed ones included.
    in_last_block: usize,
    /// The seq and day of the last record.
    last: Option<(u64, i64)>,
}

/// A stored block handed out by [`Flows::take_sealed`]: its number and its bytes.
pub type SealedBlock = (usize, Vec<u8>);

/// A [`Flows`] with every block in memory, which can be read.
#[derive(Clone, Copy)]
pub struct Loaded<'a>(&'a Flows);

/// A record as stored: indices instead of names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Raw {
    seq: u64,
    day: i64,
    tag: u8,
    from: usize,
    to: usize,
    currency: usize,
    minor: i64,
}

impl<'a> Loaded<'a> {
    /// The flows in seq order.
    pub fn iter(self) -> Iter<'a> {
        self.0.iter()
    }

    /// The flows in seq order, without their seqs.
    pub fn values(self) -> impl Iterator<Item = Flow<'a>> + Clone + 'a {
        self.iter().map(|(_, flow)| flow)
    }

    /// The seqs of the flows, in order.
    pub fn seqs(self) -> impl Iterator<Item = u64> + 'a {
        self.iter().map(|(seq, _)| seq)
    }

    /// The flow under `seq`, if there is one.
    pub fn get(self, seq: u64) -> Option<Flow<'a>> {
        let (raw, _) = self.0.find(seq)?;
        Some(self.0.flow(&raw))
    }

    /// The flows not removed.
    pub fn len(self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }
}

impl Flows {
    /// No flows.
    pub fn new() -> Flows {
        Flows::default()
    }

    /// The table for reading, if every block is in memory. The ledger restores stored blocks
    /// before anything reads flows; an error here means a reader was handed a state whose
    /// flows were not restored.
    pub fn loaded(&self) -> Result<Loaded<'_>, CoreError> {
        if self.away == 0 {
            Ok(Loaded(self))
        } else {
            Err(CoreError::invalid(format!(
                "{} blocks of flows are not loaded",
                self.away
            )))
        }
    }

    /// Forgets that blocks were stored, as if the table had always been whole: for comparing
    /// tables whatever blocks each has stored. Refused while blocks are away.
    pub fn forget_stored(&mut self) -> Result<(), CoreError> {
        self.loaded()?;
        self.stored.clear();
        Ok(())
    }

    /// How many leading blocks are stored elsewhere and not in memory.
    pub fn away(&self) -> usize {
        self.away
    }

    /// Records `flow` under `seq`, replacing a flow already there. Flows come in increasing
    /// seq order as the log is folded, and are appended in place; a seq at or below the last
    /// one rebuilds the table, which a table with stored blocks refuses.
    pub fn insert(&mut self, seq: u64, flow: Flow<'_>) -> Result<(), CoreError> {
        match self.last {
            Some((last, _)) if seq <= last => {
                if !self.stored.is_empty() {
                    return Err(CoreError::invalid(format!(
                        "flow seq {seq} comes after seq {last}, which is stored"
                    )));
                }
                let mut all: Vec<(u64, Owned)> = self
                    .iter()
                    .filter(|(s, _)| *s != seq)
                    .map(|(s, f)| (s, Owned::of(f)))
                    .collect();
                let at = all.partition_point(|(s, _)| *s < seq);
                all.insert(at, (seq, Owned::of(flow)));
                let mut rebuilt = Flows::new();
                for (s, f) in &all {
                    rebuilt.push(*s, f.as_flow());
                }
                *self = rebuilt;
            }
            _ => self.push(seq, flow),
        }
        Ok(())
    }

    /// Appends a flow whose seq is above every seq in the table.
    fn push(&mut self, seq: u64, flow: Flow<'_>) {
        let from = intern(&mut self.parties, flow.from);
        let to = intern(&mut self.parties, flow.to);
        let currency = match self
            .currencies
            .iter()
            .position(|c| *c == flow.amount.currency)
        {
            Some(i) => i,
            None => {
                self.currencies.push(flow.amount.currency);
                self.currencies.len() - 1
            }
        };
        // Grow by an eighth rather than doubling: the table is most of a large state, and
        // on Linux the allocator moves a large block's pages instead of copying them.
        if self.bytes.capacity() - self.bytes.len() < MAX_RECORD {
            self.bytes
                .reserve_exact(self.bytes.capacity() / 8 + MAX_RECORD * BLOCK);
        }
        let day = i64::from(Datelike::num_days_from_ce(&flow.date));
        let (prev_seq, prev_day) = match self.last {
            Some(last) if self.in_last_block < BLOCK => last,
            _ => {
                self.blocks.push((seq, self.bytes.len()));
                self.in_last_block = 0;
                (0, 0)
            }
        };
        put_varint(&mut self.bytes, seq - prev_seq);
        put_varint(&mut self.bytes, zigzag(day - prev_day));
        self.bytes
            .push(flow.kind.code() * PURPOSES + purpose_code(flow.purpose));
        put_varint(&mut self.bytes, from as u64);
        put_varint(&mut self.bytes, to as u64);
        put_varint(&mut self.bytes, currency as u64);
        put_varint(&mut self.bytes, zigzag(flow.amount.minor));
        self.in_last_block += 1;
        self.last = Some((seq, day));
    }

    /// Removes the flow under `seq`, if memory holds it. A flow in a block that is away stays
    /// in the store: [`Flows::restore`] removes it again from the retracted seqs.
    pub fn remove(&mut self, seq: u64) {
        if let Some((_, tag_at)) = self.find(seq) {
            self.bytes[tag_at] |= REMOVED;
        }
    }

    /// Takes every block but the last out of memory. Returns the ones not stored before, each
    /// with its number and its bytes without removal marks, which the caller must store under
    /// that number before it saves any state of this table (a snapshot refers to them).
    pub fn take_sealed(&mut self) -> Vec<SealedBlock> {
        let Some(&(_, keep_from)) = self.blocks.last() else {
            return Vec::new();
        };
        if self.blocks.len() == 1 {
            return Vec::new();
        }
        let mut sealed = Vec::new();
        for (i, window) in self.blocks.windows(2).enumerate() {
            let number = self.away + i;
            if number < self.stored.len() {
                continue;
            }
            let (first, start) = window[0];
            let (_, end) = window[1];
            let mut block = self.bytes[start..end].to_vec();
            let last = unmark(&mut block);
            self.stored.push((first, last));
            sealed.push((number, block));
        }
        self.bytes.drain(..keep_from);
        let last_block = self.blocks.len() - 1;
        self.blocks.drain(..last_block);
        for block in &mut self.blocks {
            block.1 -= keep_from;
        }
        self.away = self.stored.len();
        sealed
    }

    /// Puts the blocks that are away back, `blocks[i]` being block `i` as
    /// [`Flows::take_sealed`] handed it out, and removes the flows among them whose seqs are in
    /// `retracted`. Every record is checked, and each block against the seqs it was stored
    /// with.
    pub fn restore(
        &mut self,
        blocks: Vec<Vec<u8>>,
        retracted: &std::collections::BTreeSet<u64>,
    ) -> Result<(), CoreError> {
        if blocks.len() != self.away {
            return Err(CoreError::invalid(format!(
                "{} blocks of flows are away, {} given",
                self.away,
                blocks.len()
            )));
        }
        if self.away == 0 {
            return Ok(());
        }
        let total = blocks.iter().map(Vec::len).sum::<usize>() + self.bytes.len();
        let mut bytes = Vec::with_capacity(total);
        let mut index = Vec::with_capacity(blocks.len() + self.blocks.len());
        for (number, block) in blocks.into_iter().enumerate() {
            let (first, last) = self.stored[number];
            let records = self.check_block(&block).map_err(|reason| {
                CoreError::invalid(format!("stored block {number} of flows: {reason}"))
            })?;
            if records.first() != Some(&first) || records.last() != Some(&last) {
                return Err(CoreError::invalid(format!(
                    "stored block {number} of flows does not hold seqs {first} to {last}"
                )));
            }
            index.push((first, bytes.len()));
            bytes.extend_from_slice(&block);
        }
        let shift = bytes.len();
        index.extend(self.blocks.iter().map(|&(first, at)| (first, at + shift)));
        bytes.extend_from_slice(&self.bytes);
        self.bytes = bytes;
        self.blocks = index;
        self.away = 0;
        let stored_seqs = self.stored[0].0..=self.stored[self.stored.len() - 1].1;
        for &seq in retracted.range(stored_seqs) {
            self.remove(seq);
        }
        Ok(())
    }

    /// The seqs of a stored block's records, after checking each as [`Flows::from_parts`]
    /// does; a block holds at most [`BLOCK`] records in increasing seq order.
    fn check_block(&self, block: &[u8]) -> Result<Vec<u64>, String> {
        let mut seqs = Vec::with_capacity(BLOCK);
        let mut at = 0;
        let mut prev = (0, 0);
        while at < block.len() {
            let start = at;
            let (raw, _) = decode(block, &mut at, prev)
                .ok_or_else(|| format!("the record at byte {start} is truncated"))?;
            self.check_raw(&raw, prev.0, seqs.is_empty())?;
            seqs.push(raw.seq);
            prev = (raw.seq, raw.day);
        }
        if seqs.len() > BLOCK {
            return Err(format!("{} records in one block", seqs.len()));
        }
        Ok(seqs)
    }

    /// Whether a decoded record can be read: its indices and codes in range, its seq after
    /// `prev_seq` unless it is `first`.
    fn check_raw(&self, raw: &Raw, prev_seq: u64, first: bool) -> Result<(), String> {
        if !first && raw.seq <= prev_seq {
            return Err(format!("flow seq {} is out of order", raw.seq));
        }
        let tag = raw.tag & !REMOVED;
        if raw.from >= self.parties.len()
            || raw.to >= self.parties.len()
            || raw.currency >= self.currencies.len()
            || FlowKind::from_code(tag / PURPOSES).is_none()
            || purpose_from_code(tag % PURPOSES).is_none()
            || day_to_date(raw.day).is_none()
        {
            return Err(format!("flow seq {} does not decode", raw.seq));
        }
        Ok(())
    }

    /// The flows in memory in seq order; [`Loaded::iter`] for reading.
    fn iter(&self) -> Iter<'_> {
        Iter {
            flows: self,
            at: 0,
            block: 0,
            prev: (0, 0),
        }
    }

    /// The live record under `seq` and the offset of its tag byte.
    fn find(&self, seq: u64) -> Option<(Raw, usize)> {
        let block = self.blocks.partition_point(|(first, _)| *first <= seq);
        let (_, start) = *self.blocks.get(block.checked_sub(1)?)?;
        let end = self.blocks.get(block).map_or(self.bytes.len(), |b| b.1);
        let mut at = start;
        let mut prev = (0, 0);
        while at < end {
            let (raw, tag_at) = decode(&self.bytes, &mut at, prev)?;
            prev = (raw.seq, raw.day);
            if raw.seq == seq {
                return (raw.tag & REMOVED == 0).then_some((raw, tag_at));
            }
            if raw.seq > seq {
                return None;
            }
        }
        None
    }

    fn flow(&self, raw: &Raw) -> Flow<'_> {
        // Every index and code was checked when the record was written by `push` or read by
        // `Flows::from_parts`, so these lookups cannot miss.
        let tag = raw.tag & !REMOVED;
        Flow {
            date: day_to_date(raw.day).expect("a flow's day was checked when it was stored"),
            kind: FlowKind::from_code(tag / PURPOSES).expect("a flow's kind was checked"),
            from: &self.parties[raw.from],
            to: &self.parties[raw.to],
            amount: Money::from_minor(raw.minor, self.currencies[raw.currency]),
            purpose: purpose_from_code(tag % PURPOSES).expect("a flow's purpose was checked"),
        }
    }

    /// Rebuilds a table from its stored parts, checking every record, so that reading a
    /// flow afterwards cannot fail. The blocks the parts list as stored are away.
    fn from_parts(parts: Parts) -> Result<Flows, String> {
        let Parts {
            parties,
            currencies,
            stored,
            bytes: Bytes(bytes),
        } = parts;
        for pair in stored.windows(2) {
            if pair[1].0 <= pair[0].1 {
                return Err(format!("stored block at seq {} is out of order", pair[1].0));
            }
        }
        if stored.iter().any(|(first, last)| last < first) {
            return Err("a stored block ends before it starts".to_owned());
        }
        let mut flows = Flows {
            parties,
            currencies,
            bytes: Vec::new(),
            blocks: Vec::new(),
            away: stored.len(),
            stored,
            in_last_block: 0,
            last: None,
        };
        let stored_last = flows.stored.last().map(|(_, last)| *last);
        let mut at = 0;
        let mut prev = (0, 0);
        while at < bytes.len() {
            let start = at;
            let first = flows.last.is_none() || flows.in_last_block == BLOCK;
            if first {
                prev = (0, 0);
            }
            let (raw, _) = decode(&bytes, &mut at, prev)
                .ok_or_else(|| format!("flow record at byte {start} is truncated"))?;
            let after = flows.last.map(|(seq, _)| seq).or(stored_last);
            if after.is_some_and(|last| raw.seq <= last) {
                return Err(format!("flow seq {} is out of order", raw.seq));
            }
            flows.check_raw(&raw, 0, true)?;
            if first {
                flows.blocks.push((raw.seq, start));
                flows.in_last_block = 0;
            }
            flows.in_last_block += 1;
            flows.last = Some((raw.seq, raw.day));
            prev = (raw.seq, raw.day);
        }
        if flows.last.is_none()
            && let Some(last) = stored_last
        {
            // Only stored blocks: the next flow starts a block of its own.
            flows.last = Some((last, 0));
            flows.in_last_block = BLOCK;
        }
        flows.bytes = bytes;
        Ok(flows)
    }

    /// The bytes a snapshot keeps: the blocks not stored.
    fn unstored_bytes(&self) -> &[u8] {
        let from = self
            .blocks
            .get(self.stored.len() - self.away)
            .map_or(self.bytes.len(), |(_, at)| *at);
        &self.bytes[from..]
    }
}

/// Clears the removal marks of a block's records; returns the seq of its last record.
fn unmark(block: &mut [u8]) -> u64 {
    let mut at = 0;
    let mut prev = (0, 0);
    while at < block.len() {
        // The block was written by `push` or checked when it was read.
        let (raw, tag_at) =
            decode(block, &mut at, prev).expect("a flow record was checked when it was stored");
        block[tag_at] &= !REMOVED;
        prev = (raw.seq, raw.day);
    }
    prev.0
}

fn intern(names: &mut Vec<String>, name: &str) -> usize {
    match names.iter().position(|n| n == name) {
        Some(i) => i,
        None => {
            names.push(name.to_owned());
            names.len() - 1
        }
    }
}

fn day_to_date(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day).ok()?)
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        n |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte < 0x80 {
            return Some(n);
        }
    }
    None
}

/// Decodes the record at `at` given the seq and day of the record before it in its block
/// (zeros for a block's first), moving `at` past it; also the offset of its tag.
fn decode(bytes: &[u8], at: &mut usize, prev: (u64, i64)) -> Option<(Raw, usize)> {
    let seq = prev.0.checked_add(get_varint(bytes, at)?)?;
    let day = prev.1.checked_add(unzigzag(get_varint(bytes, at)?))?;
    let tag_at = *at;
    let tag = *bytes.get(tag_at)?;
    *at += 1;
    let index = |at: &mut usize| usize::try_from(get_varint(bytes, at)?).ok();
    let from = index(at)?;
    let to = index(at)?;
    let currency = index(at)?;
    let minor = unzigzag(get_varint(bytes, at)?);
    Some((
        Raw {
            seq,
            day,
            tag,
            from,
            to,
            currency,
            minor,
        },
        tag_at,
    ))
}

/// The flows of a [`Flows`] in seq order, removed ones skipped.
#[derive(Clone)]
pub struct Iter<'a> {
    flows: &'a Flows,
    at: usize,
    /// The index of the next block's start.
    block: usize,
    prev: (u64, i64),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (u64, Flow<'a>);

    fn next(&mut self) -> Option<(u64, Flow<'a>)> {
        let bytes = &self.flows.bytes;
        while self.at < bytes.len() {
            if self
                .flows
                .blocks
                .get(self.block)
                .is_some_and(|(_, start)| *start == self.at)
            {
                self.prev = (0, 0);
                self.block += 1;
            }
            // Every record was written by `push` or checked by `from_parts`.
            let (raw, _) = decode(bytes, &mut self.at, self.prev)
                .expect("a flow record was checked when it was stored");
            self.prev = (raw.seq, raw.day);
            if raw.tag & REMOVED == 0 {
                return Some((raw.seq, self.flows.flow(&raw)));
            }
        }
        None
    }
}

impl fmt::Debug for Flows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A flow with owned names, for rebuilding a table.
#[derive(Debug)]
struct Owned {
    date: NaiveDate,
    kind: FlowKind,
    from: String,
    to: String,
    amount: Money,
    purpose: Option<Purpose>,
}

impl Owned {
    fn of(flow: Flow<'_>) -> Owned {
        Owned {
            date: flow.date,
            kind: flow.kind,
            from: flow.from.to_owned(),
            to: flow.to.to_owned(),
            amount: flow.amount,
            purpose: flow.purpose,
        }
    }

    fn as_flow(&self) -> Flow<'_> {
        Flow {
            date: self.date,
            kind: self.kind,
            from: &self.from,
            to: &self.to,
            amount: self.amount,
            purpose: self.purpose,
        }
    }
}

/// What a snapshot stores of a [`Flows`]: the first and last seq of each stored block, and
/// the bytes of the blocks after them; the block index is rebuilt when it is read.
#[derive(Clone, Serialize, Deserialize)]
struct Parts {
    parties: Vec<String>,
    currencies: Vec<Currency>,
    stored: Vec<(u64, u64)>,
    bytes: Bytes,
}

/// A byte vector serialized as one byte string rather than a sequence of numbers.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bytes, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(byte) = seq.next_element()? {
                    out.push(byte);
                }
                Ok(Bytes(out))
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

impl Serialize for Flows {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct PartsRef<'a> {
            parties: &'a [String],
            currencies: &'a [Currency],
            stored: &'a [(u64, u64)],
            bytes: BytesRef<'a>,
        }
        struct BytesRef<'a>(&'a [u8]);
        impl Serialize for BytesRef<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_bytes(self.0)
            }
        }
        PartsRef {
            parties: &self.parties,
            currencies: &self.currencies,
            stored: &self.stored,
            bytes: BytesRef(self.unstored_bytes()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Flows {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Flows, D::Error> {
        Flows::from_parts(Parts::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn owned(seq_flows: &BTreeMap<u64, Owned>) -> Vec<(u64, Flow<'_>)> {
        seq_flows.iter().map(|(s, f)| (*s, f.as_flow())).collect()
    }

    fn arb_flow() -> impl Strategy<Value = Owned> {
        (
            -200_000i32..200_000,
            0u8..5,
            0u8..9,
            prop::sample::select(vec!["", "dwp", "provider", "investor", "esf"]),
            prop::sample::select(vec!["", "dwp", "provider", "investor"]),
            any::<i64>(),
            prop::sample::select(vec![Currency::DKK, Currency::EUR, Currency::GBP]),
        )
            .prop_map(|(day, kind, purpose, from, to, minor, currency)| Owned {
                // Days around 2000-01-01, before and after the common era's start.
                date: NaiveDate::from_num_days_from_ce_opt(730_000 + day)
                    .expect("in chrono's range"),
                kind: FlowKind::from_code(kind).expect("0..5"),
                from: from.to_owned(),
                to: to.to_owned(),
                amount: Money::from_minor(minor, currency),
                purpose: purpose_from_code(purpose).expect("0..9"),
            })
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64, usize),
        Remove(u64),
        /// Store the sealed blocks away (only while inserting in seq order).
        Spill,
    }

    proptest! {
        /// The table behaves as a map from seq to flow under any inserts and removals, and
        /// reads back from its serialized bytes as the same map.
        #[test]
        fn behaves_as_a_map_and_round_trips(
            flows in prop::collection::vec(arb_flow(), 1..40),
            ops in prop::collection::vec(
                prop_oneof![
                    4 => (0u64..2_000, any::<prop::sample::Index>())
                        .prop_map(|(s, i)| Op::Insert(s, i.index(usize::MAX))),
                    1 => (0u64..2_000).prop_map(Op::Remove),
                    1 => Just(Op::Spill),
                ],
                0..1_200,
            ),
            ascending in any::<bool>(),
        ) {
            let mut table = Flows::new();
            let mut model: BTreeMap<u64, usize> = BTreeMap::new();
            // The blocks taken out, by number, and every seq removed (the state's retracted
            // set: removing is for good, and a removed seq is never inserted again).
            let mut store: Vec<Vec<u8>> = Vec::new();
            let mut retracted = std::collections::BTreeSet::new();
            let mut next = 0u64;
            for op in ops {
                match op {
                    Op::Insert(seq, i) => {
                        // Mostly in seq order, as a fold inserts; sometimes anywhere.
                        let seq = if ascending { next += 1 + seq % 3; next } else { seq };
                        let i = i % flows.len();
                        table.insert(seq, flows[i].as_flow()).expect("no block is stored");
                        model.insert(seq, i);
                    }
                    Op::Remove(seq) => {
                        let seq = if ascending { seq.min(next) } else { seq };
                        table.remove(seq);
                        model.remove(&seq);
                        retracted.insert(seq);
                    }
                    Op::Spill if ascending => {
                        for (number, block) in table.take_sealed() {
                            prop_assert_eq!(number, store.len());
                            store.push(block);
                        }
                        prop_assert!(table.blocks.len() <= 1);
                    }
                    Op::Spill => {}
                }
            }
            let expected: BTreeMap<u64, Owned> = model
                .iter()
                .map(|(s, i)| (*s, Owned::of(flows[*i].as_flow())))
                .collect();
            let expected = owned(&expected);
            // Through a snapshot and back, then with the stored blocks put back.
            let bytes = bincode::serde::encode_to_vec(&table, bincode::config::legacy())
                .expect("encodes");
            let (mut back, _): (Flows, usize) =
                bincode::serde::decode_from_slice(&bytes, bincode::config::legacy())
                    .expect("decodes");
            prop_assert_eq!(back.away(), store.len());
            prop_assert_eq!(table.loaded().is_ok(), store.is_empty());
            for table in [&mut table, &mut back] {
                table.restore(store.clone(), &retracted).expect("the blocks it gave out");
                let loaded = table.loaded().expect("restored");
                prop_assert_eq!(loaded.iter().collect::<Vec<_>>(), expected.clone());
                prop_assert_eq!(loaded.len(), expected.len());
                for (seq, flow) in &expected {
                    prop_assert_eq!(loaded.get(*seq), Some(*flow));
                }
            }
        }
    }

    #[test]
    fn stored_blocks_and_snapshots_do_not_depend_on_when_blocks_left() {
        // A correction folded in while its block is in memory, or after the block was stored:
        // the same stored bytes and the same snapshot either way.
        let fill = |table: &mut Flows, seqs: std::ops::Range<u64>| {
            for seq in seqs {
                table
                    .insert(seq, cost("provider", seq as i64, 1).as_flow())
                    .expect("in order");
            }
        };
        let retracted: std::collections::BTreeSet<u64> = [5, 300].into();
        let mut early = Flows::new();
        fill(&mut early, 0..400);
        early.remove(5);
        early.remove(300);
        let early_blocks = early.take_sealed();
        let mut late = Flows::new();
        fill(&mut late, 0..200);
        let mut late_blocks = late.take_sealed();
        late.remove(5);
        fill(&mut late, 200..400);
        late.remove(300);
        late_blocks.extend(late.take_sealed());
        assert_eq!(early_blocks, late_blocks);
        let snapshot = |table: &Flows| {
            bincode::serde::encode_to_vec(table, bincode::config::legacy()).expect("encodes")
        };
        assert_eq!(snapshot(&early), snapshot(&late));
        let blocks: Vec<Vec<u8>> = early_blocks.into_iter().map(|(_, b)| b).collect();
        late.restore(blocks, &retracted).expect("its blocks");
        let seqs: Vec<u64> = late.loaded().expect("restored").seqs().collect();
        let expected: Vec<u64> = (0..400).filter(|s| !retracted.contains(s)).collect();
        assert_eq!(seqs, expected);
    }

    #[test]
    fn a_stored_block_that_does_not_match_is_refused() {
        let mut table = Flows::new();
        for seq in 0..300 {
            table
                .insert(seq, cost("provider", 100, 1).as_flow())
                .expect("in order");
        }
        let blocks: Vec<Vec<u8>> = table.take_sealed().into_iter().map(|(_, b)| b).collect();
        assert_eq!(blocks.len(), 2);
        assert!(table.loaded().is_err(), "blocks are away");
        let none = std::collections::BTreeSet::new();
        let mut swapped = table.clone();
        let err = swapped
            .restore(vec![blocks[1].clone(), blocks[0].clone()], &none)
            .expect_err("blocks out of order");
        assert!(err.reason.contains("does not hold seqs"), "{err}");
        let mut short = table.clone();
        assert!(short.restore(vec![blocks[0].clone()], &none).is_err());
        let mut cut = blocks.clone();
        cut[1].pop();
        assert!(table.clone().restore(cut, &none).is_err());
        assert!(
            table.insert(10, cost("provider", 1, 1).as_flow()).is_err(),
            "out of order behind a stored block"
        );
        table.restore(blocks, &none).expect("its own blocks");
        assert_eq!(table.loaded().expect("restored").len(), 300);
    }

    fn cost(from: &str, minor: i64, day: u32) -> Owned {
        Owned {
            date: NaiveDate::from_ymd_opt(2013, 9, day).expect("a day of September"),
            kind: FlowKind::Cost,
            from: from.to_owned(),
            to: String::new(),
            amount: Money::from_minor(minor, Currency::GBP),
            purpose: None,
        }
    }

    #[test]
    fn a_cost_like_the_last_one_takes_a_few_bytes() {
        let mut table = Flows::new();
        for seq in 0..10_000u64 {
            table
                .insert(
                    seq + 2,
                    cost("provider", 100 + (seq as i64 * 7919) % 99_900, 30).as_flow(),
                )
                .expect("in order");
        }
        // seq delta 1, day delta 0, tag, from, to, currency: one byte each; the amount 1 to 3.
        assert!(
            table.bytes.len() <= 10_000 * 9,
            "{} bytes",
            table.bytes.len()
        );
        assert_eq!(table.loaded().expect("whole").len(), 10_000);
    }

    #[test]
    fn a_damaged_table_is_refused_when_read() {
        let mut table = Flows::new();
        table
            .insert(1, cost("provider", 100, 1).as_flow())
            .expect("in order");
        table
            .insert(2, cost("provider", 200, 2).as_flow())
            .expect("in order");
        let mut bytes =
            bincode::serde::encode_to_vec(&table, bincode::config::legacy()).expect("encodes");
        // The last byte is the second flow's amount; without it the record is cut short.
        let len_at = bytes.len() - table.bytes.len() - 8;
        let short = (table.bytes.len() as u64 - 1).to_le_bytes();
        bytes[len_at..len_at + 8].copy_from_slice(&short);
        bytes.pop();
        let err = bincode::serde::decode_from_slice::<Flows, _>(&bytes, bincode::config::legacy())
            .expect_err("a truncated record");
        assert!(err.to_string().contains("truncated"), "{err}");
        // A party index past the table.
        let mut parts = Parts {
            parties: table.parties.clone(),
            currencies: table.currencies.clone(),
            stored: Vec::new(),
            bytes: Bytes(table.bytes.clone()),
        };
        assert!(Flows::from_parts(parts.clone()).is_ok());
        // seq (1 byte), day (3), tag (1), then `from`.
        parts.bytes.0[5] = 5;
        assert!(Flows::from_parts(parts).is_err());
    }
}
