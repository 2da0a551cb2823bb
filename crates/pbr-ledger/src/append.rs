//! Appending facts: validate a whole batch against the contract and participant state, sign,
//! append atomically, and keep the projections current.
//!
//! A batch is all or nothing: every input is admitted against a working copy of the state
//! first (a later input sees the earlier ones); only then are the events signed, on every
//! thread the caller allows, and written as one log append. An input whose client id the
//! ledger already holds for the same fact is skipped and reported as a duplicate, so
//! re-running an import never counts anything twice; the same id for a different fact is an
//! error.

use std::collections::HashMap;

use chrono::NaiveDate;
use pbr_core::event::{Event, OutcomeRejected, OutcomeVerified, Payload};
use pbr_core::ids::EventId;
use pbr_core::state::{ClaimSubject, Signer, State};
use pbr_log::{Record, SignerKey};

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
        mut progress: impl FnMut(u64, u64),
    ) -> Result<AppendReport, LedgerError>
    where
        I: IntoIterator<Item = Result<(String, Input), LedgerError>>,
    {
        self.ensure_projections()?;
        self.ensure_index()?;
        let generation = crate::projection::begin_index_batch(&self.log)?;
        let public_keys: Vec<[u8; 32]> = keys.iter().map(|k| k.verifier_key().public_key).collect();
        let mut state = self.state.clone();
        let mut report = AppendReport::default();
        let threads = self.threads;
        let start = self.log.len();
        let mut next = start;
        let mut chunk_ids: HashMap<EventId, (u64, [u8; 32])> = HashMap::new();
        let mut pending = Vec::with_capacity(CHUNK);
        // The log batch borrows the log; the id index and the state are written through it
        // only at chunk ends, so the checks below read them through `lookup`.
        let mut batch = self.log.begin()?;
        let mut done = 0u64;
        // Chunk k is signed on worker threads while this thread validates chunk k + 1; its ids
        // stay visible to the checks until it is written.
        let scoped = std::thread::scope(|scope| -> Result<(), LedgerError> {
            let mut in_flight: Option<(Signing<'_>, IdIndex)> = None;
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
                let in_flight_ids = in_flight.as_ref().map(|(_, ids)| ids);
                let known = match chunk_ids
                    .get(&id)
                    .or_else(|| in_flight_ids.and_then(|ids| ids.get(&id)))
                {
                    Some(entry) => Some(*entry),
                    None => lookup(&batch, &id, generation, start..next)?,
                };
                let resolve = |claim: &ClaimRef,
                               chunk_ids: &HashMap<EventId, (u64, [u8; 32])>|
                 -> Result<u64, LedgerError> {
                    match claim {
                        ClaimRef::Seq(seq) => Ok(*seq),
                        ClaimRef::Id(claim_id) => match chunk_ids
                            .get(claim_id)
                            .or_else(|| in_flight_ids.and_then(|ids| ids.get(claim_id)))
                        {
                            Some((seq, _)) => Ok(*seq),
                            None => lookup(&batch, claim_id, generation, start..next)?
                                .map(|(seq, _)| seq)
                                .ok_or_else(|| {
                                    rejected(&where_, format!("no claim has the id {claim_id}"))
                                }),
                        },
                    }
                };
                let seq = next;
                let (event, signed) = match input {
                    Input::Signed(record) => {
                        let event = Event::decode(&record.event_bytes)
                            .map_err(|e| rejected(&where_, e.reason))?;
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
                        let claim_seq = resolve(&claim, &chunk_ids)?;
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
                let digest = match &event.payload {
                    Payload::OutcomeVerified(_)
                    | Payload::OutcomeRejected(_)
                    | Payload::OutcomeClawedBack(_) => crate::projection::fact_digest(&event),
                    _ => crate::projection::fact_digest_of_bytes(&encoded),
                };
                if let Some((existing, earlier)) = known {
                    if earlier != digest {
                        return Err(rejected(
                            &where_,
                            format!("id {id} already names a different fact (seq {existing})"),
                        ));
                    }
                    let _ = existing;
                    report.duplicates += 1;
                    continue;
                }
                let (public_key, work) = match signed {
                    Some(record) => (record.public_key, Pending::Signed(record)),
                    None => {
                        let Some(key) = keys.iter().position(|k| k.name() == event.author) else {
                            // Say what is wrong with the author before asking for a key: admission
                            // with no key names a non-party or a role that may not record the kind.
                            let no_key = [0u8; 32];
                            return Err(
                                match state.admit(
                                    seq,
                                    &event,
                                    Signer {
                                        public_key: &no_key,
                                    },
                                ) {
                                    Err(e) if !e.reason.contains("is not signed with") => {
                                        rejected(&where_, e.reason)
                                    }
                                    _ => rejected(
                                        &where_,
                                        format!(
                                            "no key given for author {} (pass --key)",
                                            event.author
                                        ),
                                    ),
                                },
                            );
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
                state
                    .admit(
                        seq,
                        &event,
                        Signer {
                            public_key: &public_key,
                        },
                    )
                    .map_err(|e| rejected(&where_, e.reason))?;
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
                chunk_ids.insert(event.id, (seq, digest));
                report.appended += 1;
                *report.kinds.entry(event.kind()).or_default() += 1;
                if report.first.len() < REPORT_FIRST {
                    report.first.push((where_, seq, event.kind()));
                }
                pending.push(work);
                next += 1;
                if pending.len() == CHUNK {
                    if let Some((signing, ids)) = in_flight.take() {
                        write_chunk(&mut batch, signing.join()?, ids, generation)?;
                    }
                    let signing =
                        Signing::start(scope, std::mem::take(&mut pending), keys, threads);
                    in_flight = Some((signing, std::mem::take(&mut chunk_ids)));
                    progress(done, 0);
                }
            }
            if let Some((signing, ids)) = in_flight.take() {
                write_chunk(&mut batch, signing.join()?, ids, generation)?;
            }
            let last = Signing::start(scope, std::mem::take(&mut pending), keys, threads).join()?;
            write_chunk(&mut batch, last, std::mem::take(&mut chunk_ids), generation)
        });
        scoped?;
        report.seqs = start..next;
        if batch.is_empty() {
            batch.abort()?;
        } else {
            batch.commit()?;
            self.state = state;
            self.set_indexed(next)?;
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

/// The id index entry of `id` as the batch under way sees it: a committed event with that id,
/// or one the batch (of `generation`) wrote for one of its `seqs`.
fn lookup(
    batch: &pbr_log::Batch<'_>,
    id: &EventId,
    generation: u64,
    seqs: std::ops::Range<u64>,
) -> Result<Option<(u64, [u8; 32])>, LedgerError> {
    crate::projection::lookup_index(
        batch.log(),
        id,
        &crate::projection::Own { generation, seqs },
    )
}

/// The ids a chunk appends: id → (seq, fact digest).
type IdIndex = HashMap<EventId, (u64, [u8; 32])>;

/// Writes a signed chunk into the batch and indexes its ids.
fn write_chunk(
    batch: &mut pbr_log::Batch<'_>,
    records: Vec<Record>,
    chunk_ids: HashMap<EventId, (u64, [u8; 32])>,
    generation: u64,
) -> Result<(), LedgerError> {
    if records.is_empty() {
        return Ok(());
    }
    batch.write(&records)?;
    crate::projection::write_index(batch.log(), chunk_ids, generation)
}

/// A chunk being signed on worker threads.
struct Signing<'scope> {
    parts: Vec<std::thread::ScopedJoinHandle<'scope, Result<Vec<Record>, LedgerError>>>,
}

impl<'scope> Signing<'scope> {
    fn start<'env>(
        scope: &'scope std::thread::Scope<'scope, 'env>,
        pending: Vec<Pending>,
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
        Signing { parts }
    }

    fn join(self) -> Result<Vec<Record>, LedgerError> {
        let mut records = Vec::new();
        for part in self.parts {
            // A signing thread only panics on a bug; surface it.
            records.extend(part.join().expect("signing thread panicked")?);
        }
        Ok(records)
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
