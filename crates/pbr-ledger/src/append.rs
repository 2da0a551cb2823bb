//! Appending facts: validate a whole batch against the contract and participant state, sign,
//! append atomically, and keep the projections current.
//!
//! A batch is all or nothing: every input is admitted against a working copy of the state
//! first (a later input sees the earlier ones); only then are the events signed, on every
//! thread the caller allows, and written as one log append. An input whose client id the
//! ledger already holds for the same fact is skipped and reported as a duplicate, so
//! re-running an import never counts anything twice; the same id for a different fact is an
//! error.
//!
//! A large batch streams through two kinds of thread, chunk by chunk (see
//! [`Ledger::append_results`]): the caller's validates, writes records and fills the id
//! index; workers sign. Invariants that keep that safe:
//! - a chunk's index entries are written only after its records, so an entry the batch
//!   finds in the index always names a record it can read;
//! - until the index reports a chunk written (it buffers ids into sorted runs), its ids stay
//!   in memory ([`BatchIds`]), so no id of the batch is ever looked for only where it is not
//!   yet;
//! - the batch commits only after every index write has succeeded, and the index watermark
//!   moves only after the commit, so it never claims an entry that was not written.

use std::collections::HashMap;

use chrono::NaiveDate;
use pbr_core::event::{Event, OutcomeRejected, OutcomeVerified, Payload};
use pbr_core::ids::EventId;
use pbr_core::state::{ClaimSubject, Signer, State};
use pbr_log::VerifierKey;
use pbr_log::{Record, SignerKey};

use crate::id_filter::IdFilter;
use crate::id_runs::IdRuns;

use crate::{Ledger, LedgerError};

/// How a decision names the claim it decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClaimRef {
    /// By sequence number.
    Seq(u64),
    /// By the client id of the claim event (in this batch or earlier).
    Id(EventId),
}

/// What to do to a claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimAction {
    /// The verifier's decision: the ledger applies the contract's rules in their fixed
    /// order and records `outcome-verified`, or `outcome-rejected` with the first failing
    /// rule; `evidence_valid` is the verifier's judgement of the evidence.
    Decide {
        /// Whether the verifier found the evidence valid.
        evidence_valid: bool,
    },
    /// Recover an accepted outcome.
    ClawBack(pbr_core::event::ClawbackReason),
}

/// One fact to append.
#[derive(Clone, Debug)]
pub enum Input {
    /// An event, complete but for `recorded_at`, which the ledger sets.
    Event(Event),
    /// An action on a claim named by seq or by client id: a decision or a claw-back.
    OnClaim {
        /// The contract.
        contract: String,
        /// The claim.
        claim: ClaimRef,
        /// The business date (the decision or audit date).
        date: NaiveDate,
        /// What to do.
        action: ClaimAction,
        /// The acting party.
        author: String,
        /// The client id.
        id: EventId,
    },
    /// A record signed elsewhere, whose event must decode and pass the same checks.
    Signed(Record),
}

impl Input {
    /// The input with its client id replaced by one derived from its fact: for an event, its
    /// canonical bytes with `recorded_at` and the id zeroed, so that the author, the
    /// participant's pseudonym and every field count, and how a value was typed (`1000` or
    /// `1000.00`) does not; for an action on a claim, the contract, the claim, the date, the
    /// action and the author. The one-fact commands give their facts these ids, so that
    /// running one twice records its fact once. A record signed elsewhere keeps its id.
    pub fn with_content_id(self) -> Result<Input, pbr_core::CoreError> {
        const DOMAIN: &[u8] = b"pbr one fact";
        match self {
            Input::Event(event) => {
                let blank = Event {
                    recorded_at_micros: 0,
                    id: EventId([0; 16]),
                    ..event.clone()
                };
                let digest = blake3::hash(&blank.encode()?);
                let id = EventId::derived(DOMAIN, &pbr_core::ids::hex(digest.as_bytes()));
                Ok(Input::Event(Event { id, ..event }))
            }
            Input::OnClaim {
                contract,
                claim,
                date,
                action,
                author,
                id: _,
            } => {
                let claim_text = match claim {
                    ClaimRef::Seq(seq) => format!("seq {seq}"),
                    ClaimRef::Id(id) => format!("id {id}"),
                };
                let action_text = match action {
                    ClaimAction::Decide { evidence_valid } => format!(
                        "decide {}",
                        if evidence_valid { "valid" } else { "invalid" }
                    ),
                    ClaimAction::ClawBack(reason) => format!(
                        "claw-back {}",
                        serde_json::to_value(reason)
                            .ok()
                            .as_ref()
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                    ),
                };
                let text = format!(
                    "{contract}\u{1f}{claim_text}\u{1f}{date}\u{1f}{action_text}\u{1f}{author}"
                );
                Ok(Input::OnClaim {
                    id: EventId::derived(DOMAIN, &text),
                    contract,
                    claim,
                    date,
                    action,
                    author,
                })
            }
            Input::Signed(record) => Ok(Input::Signed(record)),
        }
    }
}

/// One input that could not be appended, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{where_}: {reason}")]
pub struct Rejected {
    /// Which input, as the caller named it (`file:line`, `command line:1`, …).
    pub where_: String,
    /// Why.
    pub reason: String,
}

/// What an append did. Its size does not grow with the batch, except for the list of
/// rejected claims, each of which someone needs to see.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// How many events were appended.
    pub appended: u64,
    /// The seqs they got.
    pub seqs: std::ops::Range<u64>,
    /// How many of each kind.
    pub kinds: std::collections::BTreeMap<&'static str, u64>,
    /// `(where, seq, kind)` of the first [`REPORT_FIRST`] events appended.
    pub first: Vec<(String, u64, &'static str)>,
    /// How many inputs were skipped because their id already holds the same fact.
    pub duplicates: u64,
    /// `(where, seq)` of the first [`REPORT_FIRST`] inputs skipped as duplicates: where the
    /// input came from, and the seq of the event that already records its fact.
    pub already_recorded: Vec<(String, u64)>,
    /// `(where, claim seq, reason)` for every rejected claim (the rejection is appended too).
    pub rejections: Vec<(String, u64, String)>,
}

/// How many appended events an [`AppendReport`] lists by name.
pub const REPORT_FIRST: usize = 20;

/// An event validated and waiting to be signed (or already signed elsewhere).
enum Pending {
    Sign { bytes: Vec<u8>, key: usize },
    Signed(Record),
}

fn rejected(where_: &str, reason: impl Into<String>) -> LedgerError {
    LedgerError::Rejected(Rejected {
        where_: where_.to_owned(),
        reason: reason.into(),
    })
}

impl Ledger {
    /// How many threads sign a batch (the CLI sets the machine's cores; default 1).
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = threads.max(1);
    }

    /// Whether an input whose id already holds the same fact is refused rather than skipped
    /// (default: skipped, so that running a command twice records its fact once). A mirror
    /// refuses: it copies a log record for record, and a log never holds a fact twice.
    pub fn set_refuse_duplicates(&mut self, refuse: bool) {
        self.refuse_duplicates = refuse;
    }

    /// Validates, signs and appends `inputs` as one batch, or nothing. Each input carries
    /// where it came from, for errors. `keys` are the private keys of the authors this
    /// caller may sign for; `now_micros` becomes `recorded_at` of every event it signs.
    ///
    /// The inputs stream: they are validated, signed and written [`CHUNK`] at a time inside
    /// one log batch that commits only at the end, so memory holds the state and one chunk,
    /// however many inputs there are; an error anywhere rolls the whole batch back.
    pub fn append<I>(
        &mut self,
        inputs: I,
        keys: &[SignerKey],
        now_micros: i64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<AppendReport, LedgerError>
    where
        I: IntoIterator<Item = (String, Input)>,
    {
        self.append_results(inputs.into_iter().map(Ok), keys, now_micros, &mut progress)
    }

    /// [`Ledger::append`] for inputs that may themselves fail to read (an import's rows):
    /// the first error rolls the batch back and is returned.
    pub fn append_results<I>(
        &mut self,
        inputs: I,
        keys: &[SignerKey],
        now_micros: i64,
        progress: impl FnMut(u64, u64),
    ) -> Result<AppendReport, LedgerError>
    where
        I: IntoIterator<Item = Result<(String, Input), LedgerError>>,
    {
        // The index is caught up before it is opened: catching up may drop and rebuild it.
        let ids = self.ensure_index()?;
        self.append_indexing(inputs, keys, now_micros, progress, &ids)
    }

    /// [`Ledger::append_results`], looking ids up in and writing the batch's entries to
    /// `sink`, opened after the index was caught up.
    ///
    /// Workers sign chunk k while this thread validates chunk k + 1; this thread writes
    /// chunk k's records, then its ids into the index (buffered into sorted runs, merged as
    /// they add up). Until the index says a chunk is in it, the chunk's ids stay in memory
    /// for the checks, so an id is never looked for where it is not yet. The batch commits
    /// only after every index write has succeeded; the index watermark moves only after the
    /// commit.
    ///
    /// The index is written here rather than on a thread of its own so that every page it
    /// reads and writes is allocated in one heap: on a writer thread of its own, glibc kept
    /// 20 to 50 MiB more in that thread's arena, more or less depending on timing
    /// (`docs/performance.md`, "Import: id index written on the validating thread").
    fn append_indexing<I>(
        &mut self,
        inputs: I,
        keys: &[SignerKey],
        now_micros: i64,
        mut progress: impl FnMut(u64, u64),
        sink: &(impl IndexSink + ?Sized),
    ) -> Result<AppendReport, LedgerError>
    where
        I: IntoIterator<Item = Result<(String, Input), LedgerError>>,
    {
        self.ensure_projections()?;
        let flows = self.log.projection_tree(crate::projection::FLOWS_TREE)?;
        let public_keys: Vec<[u8; 32]> = keys.iter().map(|k| k.verifier_key().public_key).collect();
        let mut state = self.state.clone();
        let mut report = AppendReport::default();
        let threads = self.threads;
        let refuse_duplicates = self.refuse_duplicates;
        let start = self.log.len();
        let mut next = start;
        let mut seen = BatchIds::new(sink.index(), start);
        let mut pending = Vec::with_capacity(CHUNK);
        let mut recent: std::collections::VecDeque<(u64, String)> =
            std::collections::VecDeque::with_capacity(3 * CHUNK + 1);
        // The log batch borrows the log; the checks below read committed events and the
        // batch's written records through it.
        let origin = self.log.origin().to_owned();
        // The log key this ledger's terms must name: the one the caller bound it to (the
        // server's own), else the one the terms in force name; the first terms of a batch
        // naming one bind the rest of it.
        let mut bound_key: Option<VerifierKey> = match &self.log_key {
            Some(key) => Some(key.clone()),
            None => bound_log_key(&state),
        };
        let mut batch = self.log.begin()?;
        let mut done = 0u64;
        let scoped = std::thread::scope(|scope| -> Result<(), LedgerError> {
            let mut in_flight: Option<Signing<'_>> = None;
            for item in inputs {
                let (where_, input) = item?;
                done += 1;
                let id = match &input {
                    Input::Event(event) => event.id,
                    Input::OnClaim { id, .. } => *id,
                    Input::Signed(record) => {
                        // A bad signature is refused even on a record the ledger already holds.
                        record
                            .verify()
                            .map_err(|e| rejected(&where_, format!("signature: {e}")))?;
                        Event::decode(&record.event_bytes)
                            .map_err(|e| rejected(&where_, e.reason))?
                            .id
                    }
                };
                // Whatever the batch has written is readable; an index entry past it is not
                // the batch's (its own unwritten ids are in memory).
                let readable = start + batch.len();
                let known = seen.find(batch.log(), &id, readable)?;
                let seq = next;
                let (event, signed) = match input {
                    Input::Signed(record) => {
                        let event = Event::decode(&record.event_bytes)
                            .map_err(|e| rejected(&where_, e.reason))?;
                        check_not_future(&event, now_micros, &where_)?;
                        (event, Some(record))
                    }
                    Input::Event(event) => (
                        Event {
                            recorded_at_micros: now_micros,
                            ..event
                        },
                        None,
                    ),
                    Input::OnClaim {
                        contract,
                        claim,
                        date,
                        action,
                        author,
                        id,
                    } => {
                        let claim_seq = match claim {
                            ClaimRef::Seq(seq) => seq,
                            ClaimRef::Id(claim_id) => seen
                                .find(batch.log(), &claim_id, readable)?
                                .map(|(seq, _)| seq)
                                .ok_or_else(|| {
                                    rejected(&where_, format!("no claim has the id {claim_id}"))
                                })?,
                        };
                        let payload = match action {
                            ClaimAction::ClawBack(reason) => {
                                Payload::OutcomeClawedBack(pbr_core::event::OutcomeClawedBack {
                                    claim_seq,
                                    reason,
                                })
                            }
                            ClaimAction::Decide { evidence_valid } => {
                                if known.is_some() {
                                    // A repeated decision: the same fact whatever the rules say now.
                                    Payload::OutcomeVerified(OutcomeVerified { claim_seq })
                                } else {
                                    match state
                                        .decide(&contract, claim_seq, date, evidence_valid)
                                        .map_err(|e| rejected(&where_, e.reason))?
                                    {
                                        Ok(()) => {
                                            Payload::OutcomeVerified(OutcomeVerified { claim_seq })
                                        }
                                        Err(reason) => Payload::OutcomeRejected(OutcomeRejected {
                                            claim_seq,
                                            reason,
                                        }),
                                    }
                                }
                            }
                        };
                        let participant = claim_participant(&state, &contract, claim_seq);
                        let event = Event {
                            contract,
                            participant,
                            business_date: date,
                            payload,
                            author,
                            recorded_at_micros: now_micros,
                            id,
                        };
                        (event, None)
                    }
                };
                // Encode once: the bytes are signed, and (but for decisions) digested.
                let encoded = match &signed {
                    Some(record) => record.event_bytes.clone(),
                    None => event.encode().map_err(|e| rejected(&where_, e.reason))?,
                };
                let digest = crate::projection::fact_digest(&event, &encoded);
                if let Some((existing, earlier)) = known {
                    if earlier != digest {
                        // Registering a contract again (with another party's key, say) is
                        // refused for what it is, not for its id.
                        if let Payload::ContractRegistered(_) = &event.payload
                            && let Some(contract) = state.contracts.get(&event.contract)
                        {
                            return Err(rejected(
                                &where_,
                                format!(
                                    "contract {} is already registered (seq {}); \
                                     `pbr contract amend` changes its terms",
                                    event.contract,
                                    contract.versions.first().map_or(existing, |v| v.seq)
                                ),
                            ));
                        }
                        return Err(rejected(
                            &where_,
                            format!("id {id} already names a different fact (seq {existing})"),
                        ));
                    }
                    if refuse_duplicates {
                        // A copy of a log must hold every record it copies: a skipped
                        // duplicate would shift every seq after it.
                        return Err(rejected(
                            &where_,
                            format!(
                                "id {id} records a fact the log already holds (seq {existing}); \
                                 a log holds each fact once"
                            ),
                        ));
                    }
                    report.duplicates += 1;
                    if report.already_recorded.len() < REPORT_FIRST {
                        report.already_recorded.push((where_, existing));
                    }
                    continue;
                }
                let (public_key, work) = match signed {
                    Some(record) => (record.public_key, Pending::Signed(record)),
                    None => {
                        let Some(key) = keys.iter().position(|k| k.name() == event.author) else {
                            return Err(no_key(&state, seq, &event, &where_));
                        };
                        (
                            public_keys[key],
                            Pending::Sign {
                                bytes: encoded,
                                key,
                            },
                        )
                    }
                };
                let presigned = matches!(work, Pending::Signed(_));
                if let Some(reason) = wrong_log(&event, &origin, presigned, &mut bound_key) {
                    return Err(rejected(&where_, reason));
                }
                crate::projection::before_apply(&flows, &mut state, &event)?;
                state
                    .admit(
                        seq,
                        &event,
                        Signer {
                            public_key: &public_key,
                        },
                    )
                    .map_err(|e| rejected(&where_, e.reason))?;
                if let Payload::Correction(p) = &event.payload {
                    let author = recent
                        .iter()
                        .find(|(s, _)| *s == p.retracts_seq)
                        .map(|(_, author)| Ok(author.clone()))
                        .unwrap_or_else(|| {
                            let record = batch.log().read(p.retracts_seq)?;
                            Event::decode(&record.event_bytes)
                                .map(|e| e.author)
                                .map_err(|e| rejected(&where_, e.reason))
                        })?;
                    pbr_core::state::check_correction_author(&event, &author)
                        .map_err(|e| rejected(&where_, e.reason))?;
                }
                state
                    .apply(seq, &event)
                    .map_err(|e| rejected(&where_, e.reason))?;
                if let Payload::OutcomeRejected(p) = &event.payload {
                    report.rejections.push((
                        where_.clone(),
                        p.claim_seq,
                        pbr_core::state::reason_text(p.reason).to_owned(),
                    ));
                }
                seen.insert(event.id, seq, digest);
                // The authors of the events not yet readable from the batch (the chunk being
                // filled and the one being signed), for corrections that retract them.
                recent.push_back((seq, event.author.clone()));
                if recent.len() > 3 * CHUNK {
                    recent.pop_front();
                }
                report.appended += 1;
                *report.kinds.entry(event.kind()).or_default() += 1;
                if report.first.len() < REPORT_FIRST {
                    report.first.push((where_, seq, event.kind()));
                }
                pending.push(work);
                next += 1;
                if pending.len() == CHUNK {
                    // Full blocks of flows leave memory a chunk at a time.
                    crate::projection::spill_flows(&flows, &mut state)?;
                    // Signing starts before the previous chunk is written, so that the
                    // workers are busy while this thread writes.
                    let entries = seen.close_chunk();
                    let signing =
                        Signing::start(scope, std::mem::take(&mut pending), entries, keys, threads);
                    if let Some(previous) = in_flight.replace(signing) {
                        seen.written(write_chunk(&mut batch, previous, sink)?);
                    }
                    progress(done, 0);
                }
            }
            if let Some(signing) = in_flight.take() {
                seen.written(write_chunk(&mut batch, signing, sink)?);
            }
            let entries = seen.close_chunk();
            let last = Signing::start(scope, std::mem::take(&mut pending), entries, keys, threads);
            write_chunk(&mut batch, last, sink)?;
            // No lookup follows: what the flush writes need not leave memory.
            sink.flush().map(drop)
        });
        scoped?;
        report.seqs = start..next;
        if let Some(prepared) = self.prepared.as_mut() {
            // Preparing: the batch was validated and signed as if it were appended; keep
            // its records and roll it back.
            for seq in start..next {
                prepared.push(batch.log().read(seq)?);
            }
            batch.abort()?;
        } else if batch.is_empty() {
            batch.abort()?;
        } else {
            // The blocks go before the commit: the snapshot after it refers to them.
            crate::projection::spill_flows(&flows, &mut state)?;
            batch.commit()?;
            self.state = state;
            sink.index().set_indexed(next)?;
            self.save_snapshot()?;
        }
        progress(done, done);
        Ok(report)
    }

    /// The event at `seq`.
    pub fn event_at(&self, seq: u64) -> Result<Event, LedgerError> {
        let record = self.log.read(seq)?;
        Event::decode(&record.event_bytes).map_err(|e| LedgerError::Projection {
            seq,
            reason: e.reason,
        })
    }
}

/// How far ahead of the ledger's clock a record signed elsewhere may say it was recorded:
/// five minutes, for clocks that disagree a little (`docs/validation.md`).
pub const FUTURE_TOLERANCE_MICROS: i64 = 5 * 60 * 1_000_000;

/// Refuses a record whose `recorded_at` lies ahead of `now_micros` by more than
/// [`FUTURE_TOLERANCE_MICROS`]: as the last record, it would make `--known-at` hide every
/// record after it, and no fact is recorded in the future.
fn check_not_future(event: &Event, now_micros: i64, where_: &str) -> Result<(), LedgerError> {
    if event.recorded_at_micros > now_micros.saturating_add(FUTURE_TOLERANCE_MICROS) {
        let at = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros).map_or_else(
                || format!("{micros} µs"),
                |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            )
        };
        return Err(rejected(
            where_,
            format!(
                "recorded-in-the-future: the record says it was recorded at {}, after the \
                 ledger's clock ({}) by more than five minutes",
                at(event.recorded_at_micros),
                at(now_micros)
            ),
        ));
    }
    Ok(())
}

/// The refusal of an event whose author has no key here: what is wrong with the author, if
/// anything (admission without a key names a non-party or a role that may not record the
/// kind), else the missing key.
fn no_key(state: &State, seq: u64, event: &Event, where_: &str) -> LedgerError {
    let no_key = [0u8; 32];
    match state.admit(
        seq,
        event,
        Signer {
            public_key: &no_key,
        },
    ) {
        Err(e) if !e.reason.contains("is not signed with") => rejected(where_, e.reason),
        _ => rejected(
            where_,
            format!("no key given for author {} (pass --key)", event.author),
        ),
    }
}

fn claim_participant(
    state: &State,
    contract: &str,
    claim_seq: u64,
) -> Option<pbr_core::ids::ParticipantRef> {
    match &state
        .contracts
        .get(contract)?
        .claims
        .get(&claim_seq)?
        .subject
    {
        ClaimSubject::Participant(p) => Some(*p),
        ClaimSubject::Company(_) => None,
    }
}

/// How many inputs are validated, signed and written together.
pub const CHUNK: usize = 4096;

/// The ids of a chunk: id → (seq, fact digest).
type IdIndex = HashMap<EventId, (u64, [u8; 32])>;

/// A chunk's id index entries, (id, seq), as [`IndexSink::add`] takes them.
type IndexEntries = Vec<(EventId, u64)>;

/// How a batch finds the ids it has seen: the ones it gave out, and the index's.
///
/// The batch's own ids that the index tree may not hold yet stay in memory, chunk by chunk:
/// the chunk being filled, then the closed chunks (being signed, or written but still in the
/// index's buffer), newest last; at most a few chunks, so memory does not grow with the batch.
/// Anything else is looked up in the index, behind an [`IdFilter`] once the batch has made
/// enough lookups to pay for reading every id of the index into one.
struct BatchIds<'t> {
    open: IdIndex,
    closed: std::collections::VecDeque<IdIndex>,
    index: &'t IdRuns,
    filter: Option<IdFilter>,
    /// Index lookups made without a filter.
    lookups: u64,
    /// After how many lookups the filter pays: the ids the index held at the start, over
    /// [`KEYS_READ_PER_LOOKUP`].
    filter_after: u64,
    /// The ids the index held at the start, to size the filter.
    indexed: u64,
}

/// How many index keys a full scan reads in the time of one lookup of an absent id, about:
/// 0.5 µs a key (a million ids) against 3.5 µs a lookup (250,000 ids), and lookups slow as
/// the index grows (`docs/performance.md`, "Import").
const KEYS_READ_PER_LOOKUP: u64 = 8;

impl<'t> BatchIds<'t> {
    /// For a batch appending to a log whose first `indexed` events the index covers.
    fn new(index: &'t IdRuns, indexed: u64) -> BatchIds<'t> {
        BatchIds {
            open: IdIndex::default(),
            closed: Default::default(),
            index,
            filter: None,
            lookups: 0,
            filter_after: indexed / KEYS_READ_PER_LOOKUP,
            indexed,
        }
    }

    /// The seq and fact digest of the event with `id`, if the batch gave it out or the log
    /// holds it; records past `readable` are not the log's yet (see
    /// [`crate::projection::lookup_index`]).
    fn find(
        &mut self,
        log: &pbr_log::Log,
        id: &EventId,
        readable: u64,
    ) -> Result<Option<(u64, [u8; 32])>, LedgerError> {
        if let Some(entry) = self.in_memory(id) {
            return Ok(Some(entry));
        }
        if self.filter.is_none() {
            self.lookups += 1;
            if self.lookups > self.filter_after {
                self.build_filter()?;
            }
        }
        if self
            .filter
            .as_ref()
            .is_some_and(|filter| !filter.may_contain(id))
        {
            return Ok(None);
        }
        crate::projection::lookup_index(log, self.index, id, readable)
    }

    fn in_memory(&self, id: &EventId) -> Option<(u64, [u8; 32])> {
        self.open
            .get(id)
            .or_else(|| self.closed.iter().rev().find_map(|chunk| chunk.get(id)))
            .copied()
    }

    /// Reads every id of the index into a new filter, with the ids in memory: together they
    /// are every id the batch could find (a chunk leaves memory only after the index has
    /// written it).
    fn build_filter(&mut self) -> Result<(), LedgerError> {
        let mut filter = IdFilter::with_capacity(self.indexed.saturating_mul(2));
        self.index.for_each_id(|id| filter.insert(&id))?;
        for chunk in std::iter::once(&self.open).chain(&self.closed) {
            for id in chunk.keys() {
                filter.insert(id);
            }
        }
        self.filter = Some(filter);
        Ok(())
    }

    fn insert(&mut self, id: EventId, seq: u64, digest: [u8; 32]) {
        if let Some(filter) = &mut self.filter {
            filter.insert(&id);
        }
        self.open.insert(id, (seq, digest));
    }

    /// Closes the open chunk; returns its index entries, in no particular order (the index
    /// sorts them).
    fn close_chunk(&mut self) -> IndexEntries {
        let chunk = std::mem::take(&mut self.open);
        let entries = chunk.iter().map(|(id, (seq, _))| (*id, *seq)).collect();
        self.closed.push_back(chunk);
        entries
    }

    /// Forgets the oldest `chunks` closed chunks: the index tree holds them now.
    fn written(&mut self, chunks: usize) {
        self.closed.drain(..chunks.min(self.closed.len()));
    }
}

/// Where a batch's id index entries go: the index (a stand-in in tests).
pub(crate) trait IndexSink {
    /// Adds one chunk's entries; returns how many chunks, oldest first, the index now holds.
    fn add(&self, entries: IndexEntries) -> Result<usize, LedgerError>;
    /// Writes what is buffered; returns how many more chunks the index now holds.
    fn flush(&self) -> Result<usize, LedgerError>;
    /// The index, for lookups.
    fn index(&self) -> &IdRuns;
}

impl IndexSink for IdRuns {
    fn add(&self, entries: IndexEntries) -> Result<usize, LedgerError> {
        IdRuns::add(self, entries)
    }

    fn flush(&self) -> Result<usize, LedgerError> {
        IdRuns::flush(self)
    }

    fn index(&self) -> &IdRuns {
        self
    }
}

/// Writes a signed chunk into the batch, then its ids into the index (after its records, so
/// an entry found there always names a record the batch can read); returns how many chunks,
/// oldest first, the index took in (it buffers ids into sorted runs).
fn write_chunk(
    batch: &mut pbr_log::Batch<'_>,
    signing: Signing<'_>,
    sink: &(impl IndexSink + ?Sized),
) -> Result<usize, LedgerError> {
    let (records, entries) = signing.join()?;
    if records.is_empty() {
        return Ok(0);
    }
    batch.write(&records)?;
    sink.add(entries)
}

/// A chunk being signed on worker threads, with its index entries.
struct Signing<'scope> {
    parts: Vec<std::thread::ScopedJoinHandle<'scope, Result<Vec<Record>, LedgerError>>>,
    entries: IndexEntries,
}

impl<'scope> Signing<'scope> {
    fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        pending: Vec<Pending>,
        entries: IndexEntries,
        keys: &'env [SignerKey],
        threads: usize,
    ) -> Signing<'scope> {
        let part_len = pending.len().div_ceil(threads.max(1)).max(1);
        let mut parts = Vec::new();
        let mut rest = pending;
        while !rest.is_empty() {
            let tail = rest.split_off(part_len.min(rest.len()));
            let part = std::mem::replace(&mut rest, tail);
            parts.push(scope.spawn(move || sign_all(part, keys)));
        }
        Signing { parts, entries }
    }

    fn join(self) -> Result<(Vec<Record>, IndexEntries), LedgerError> {
        let mut records = Vec::new();
        for part in self.parts {
            // A signing thread only panics on a bug; surface it.
            records.extend(part.join().expect("signing thread panicked")?);
        }
        Ok((records, self.entries))
    }
}

/// Signs pending events in order, on the calling thread ([`Signing`] spreads chunks over
/// threads).
fn sign_all(pending: Vec<Pending>, keys: &[SignerKey]) -> Result<Vec<Record>, LedgerError> {
    pending
        .into_iter()
        .map(|work| match work {
            Pending::Signed(record) => Ok(record),
            Pending::Sign { bytes, key } => {
                Record::sign(bytes, keys[key].signing_key()).map_err(|source| {
                    LedgerError::Log(pbr_log::LogError::Rejected { index: 0, source })
                })
            }
        })
        .collect()
}

/// Why terms a registration or amendment carries cannot enter this log, if they cannot:
/// format 2 binds a contract to one log, so its terms must name `[log]` with this ledger's
/// origin, and its records cannot be replayed into another log (`docs/decisions.md`).
/// Terms registered before format 2 name no `[log]`: they arrive only already signed (a
/// migrated ledger's export, restored or imported), and are admitted as they are; terms this
/// ledger signs must name it.
///
/// Every contract of a log names the same log key (`bound`): the key that signs its
/// checkpoints. Terms naming another are refused, so that no one who can sign terms (any
/// stranger, with terms naming themselves as commissioner) can name a log key of their own
/// and stop the operator's key from signing checkpoints; the first terms naming a key bind
/// an unbound ledger to it. Rotating the log key is not supported yet.
fn wrong_log(
    event: &pbr_core::event::Event,
    origin: &str,
    presigned: bool,
    bound: &mut Option<VerifierKey>,
) -> Option<String> {
    let text = match &event.payload {
        Payload::ContractRegistered(p) => &p.terms,
        Payload::ContractAmended(p) => &p.terms,
        _ => return None,
    };
    // Terms that do not parse are refused by the state's own check, with the reason.
    let terms = pbr_core::terms::parse(&event.contract, text).ok()?;
    match &terms.log {
        None if presigned => None,
        None => Some(format!(
            "the terms name no [log] (the origin and log key of the ledger they belong to); \
             this ledger is {origin}"
        )),
        Some(log) if log.origin != origin => Some(format!(
            "the terms are for the log {}, but this ledger is {origin}",
            log.origin
        )),
        Some(log) => {
            // A key that does not parse is refused by the terms' own check.
            let key = VerifierKey::parse(&log.key).ok()?;
            match bound {
                Some(bound) if *bound != key => Some(format!(
                    "the terms name the log key {key}, but this log's checkpoints are signed \
                     by {bound}: every contract of a log names its one log key"
                )),
                Some(_) => None,
                None => {
                    *bound = Some(key);
                    None
                }
            }
        }
    }
}

/// The log key the terms in force name (the first contract's that names one).
fn bound_log_key(state: &pbr_core::state::State) -> Option<VerifierKey> {
    state.contracts.iter().find_map(|(id, contract)| {
        let terms = contract.versions.last()?.terms(id).ok()?;
        VerifierKey::parse(&terms.log.as_ref()?.key).ok()
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use pbr_core::event::{ContractRegistered, CostRecorded};
    use pbr_core::money::{Currency, Money};

    use super::*;
    use crate::sample::demo_key;

    type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

    /// The real index, unbuffered: it writes each chunk as it comes, so a chunk leaves the
    /// batch's memory at once; after `good` chunks it fails, as a full disk would.
    struct TestIndex {
        runs: IdRuns,
        good: AtomicUsize,
    }

    impl IndexSink for TestIndex {
        fn add(&self, entries: IndexEntries) -> Result<usize, LedgerError> {
            let left = self.good.load(Ordering::SeqCst);
            if left == 0 {
                return Err(LedgerError::Log(pbr_log::LogError::Storage(
                    "no space left on device (test)".into(),
                )));
            }
            self.good.store(left - 1, Ordering::SeqCst);
            self.runs.add(entries)?;
            self.runs.flush()
        }

        fn flush(&self) -> Result<usize, LedgerError> {
            self.runs.flush()
        }

        fn index(&self) -> &IdRuns {
            &self.runs
        }
    }

    fn keys() -> Vec<SignerKey> {
        ["dwp", "provider"].map(demo_key).to_vec()
    }

    fn date(year: i32, month: u32, day: u32) -> TestResult<NaiveDate> {
        Ok(NaiveDate::from_ymd_opt(year, month, day).ok_or("not a date")?)
    }

    /// A ledger holding scenario A's contract.
    fn ledger(dir: &std::path::Path) -> TestResult<Ledger> {
        let mut ledger = Ledger::create(&dir.join("l"), "test/a")?;
        let terms = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/scenarios/a/contract.toml"),
        )?;
        let event = Event {
            contract: "scenario-a".into(),
            participant: None,
            business_date: date(2013, 1, 1)?,
            payload: Payload::ContractRegistered(ContractRegistered {
                terms_hash: *blake3::hash(terms.as_bytes()).as_bytes(),
                terms,
            }),
            author: "dwp".into(),
            recorded_at_micros: 0,
            id: EventId([9; 16]),
        };
        let terms = vec![("terms".to_owned(), Input::Event(event))];
        ledger.append(terms, &keys(), 1, |_, _| {})?;
        Ok(ledger)
    }

    /// `n` costs the provider records, each with an id of its own.
    fn costs(n: u32) -> TestResult<Vec<(String, Input)>> {
        let date = date(2013, 8, 1)?;
        Ok((0..n)
            .map(|i| {
                let event = Event {
                    contract: "scenario-a".into(),
                    participant: None,
                    business_date: date,
                    payload: Payload::CostRecorded(CostRecorded {
                        party: "provider".into(),
                        amount: Money::from_minor(i64::from(i) + 1, Currency::GBP),
                    }),
                    author: "provider".into(),
                    recorded_at_micros: 0,
                    id: EventId::derived(b"test", &i.to_string()),
                };
                (format!("cost {i}"), Input::Event(event))
            })
            .collect())
    }

    #[test]
    fn a_failing_index_write_fails_the_batch_and_leaves_the_ledger_as_it_was() -> TestResult {
        let dir = tempfile::tempdir()?;
        let mut ledger = ledger(dir.path())?;
        ledger.set_threads(2);
        let before = (
            ledger.log().len(),
            ledger.log().root(),
            ledger.state_bytes()?,
        );
        // Four chunks: the index takes the first, then fails.
        let n = 3 * CHUNK as u32 + 10;
        let sink = TestIndex {
            runs: IdRuns::open(ledger.log())?,
            good: AtomicUsize::new(1),
        };
        let inputs = costs(n)?.into_iter().map(Ok);
        let Err(error) = ledger.append_indexing(inputs, &keys(), 5, |_, _| {}, &sink) else {
            return Err("a failed index write must fail the batch".into());
        };
        assert!(error.to_string().contains("no space left"), "{error}");
        let after = (
            ledger.log().len(),
            ledger.log().root(),
            ledger.state_bytes()?,
        );
        assert_eq!(after, before);
        // The entries the index did write name seqs the batch never committed: the same
        // facts are appended in full, and known afterwards.
        let report = ledger.append(costs(n)?, &keys(), 6, |_, _| {})?;
        assert_eq!((report.appended, report.duplicates), (u64::from(n), 0));
        let report = ledger.append(costs(n)?, &keys(), 7, |_, _| {})?;
        assert_eq!((report.appended, report.duplicates), (0, u64::from(n)));
        Ok(())
    }

    #[test]
    fn an_id_repeated_after_its_chunk_left_memory_is_found_in_the_index() -> TestResult {
        // Each chunk leaves memory as soon as it is written, so ids repeated chunks later are
        // found only by looking in the index: duplicates, not appended twice; and the same id
        // for a different fact is refused.
        let dir = tempfile::tempdir()?;
        let mut ledger = ledger(dir.path())?;
        let n = 4 * CHUNK as u32 + 10;
        let mut inputs = costs(n)?;
        let again: Vec<_> = costs(n)?.into_iter().step_by(397).collect();
        let repeats = again.len() as u64;
        inputs.extend(again);
        let before = ledger.log().len();
        let sink = TestIndex {
            runs: IdRuns::open(ledger.log())?,
            good: AtomicUsize::new(usize::MAX),
        };
        let inputs = inputs.into_iter().map(Ok);
        let report = ledger.append_indexing(inputs, &keys(), 5, |_, _| {}, &sink)?;
        assert_eq!(
            (report.appended, report.duplicates),
            (u64::from(n), repeats)
        );
        assert_eq!(ledger.log().len(), before + u64::from(n));
        // On a fresh ledger, the same batch ending with cost 0 under the id of cost 1, given
        // chunks ago: another fact, refused.
        let dir = tempfile::tempdir()?;
        let mut fresh = self::ledger(dir.path())?;
        let mut inputs = costs(n)?;
        let (where_, Input::Event(mut other)) = inputs[0].clone() else {
            return Err("costs() builds events".into());
        };
        let (_, Input::Event(first)) = &inputs[1] else {
            return Err("costs() builds events".into());
        };
        other.id = first.id;
        inputs.push((where_, Input::Event(other)));
        let sink = TestIndex {
            runs: IdRuns::open(fresh.log())?,
            good: AtomicUsize::new(usize::MAX),
        };
        let inputs = inputs.into_iter().map(Ok);
        let Err(error) = fresh.append_indexing(inputs, &keys(), 6, |_, _| {}, &sink) else {
            return Err("a reused id for another fact must be refused".into());
        };
        assert!(
            error.to_string().contains("already names a different fact"),
            "{error}"
        );
        Ok(())
    }
}
