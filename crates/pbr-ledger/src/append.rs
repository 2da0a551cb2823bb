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

/// What an append did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// `(where, seq, kind)` for every event appended, in order.
    pub appended: Vec<(String, u64, &'static str)>,
    /// `(where, existing seq)` for every input skipped because its id holds the same fact.
    pub duplicates: Vec<(String, u64)>,
    /// `(where, claim seq, reason)` for every rejected claim (the rejection is appended too).
    pub rejections: Vec<(String, u64, String)>,
}

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
    pub fn append(
        &mut self,
        inputs: Vec<(String, Input)>,
        keys: &[SignerKey],
        now_micros: i64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<AppendReport, LedgerError> {
        let total = inputs.len() as u64;
        self.ensure_projections()?;
        let mut state = self.state.clone();
        let mut batch: Vec<Event> = Vec::new();
        let mut batch_ids: HashMap<EventId, u64> = HashMap::new();
        let mut pending = Vec::with_capacity(inputs.len());
        let mut report = AppendReport::default();
        let next_seq = self.log.len();
        for (done, (where_, input)) in inputs.into_iter().enumerate() {
            let seq = next_seq + batch.len() as u64;
            // The id first: a repeated fact is skipped before anything is recomputed.
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
            if let Some(existing) = batch_ids
                .get(&id)
                .copied()
                .map(Ok)
                .or_else(|| self.seq_of_id(&id).transpose())
                .transpose()?
            {
                let earlier = match existing.checked_sub(next_seq) {
                    Some(index) => batch[index as usize].clone(),
                    None => self.event_at(existing)?,
                };
                if !same_fact(&earlier, &input, &state, &batch_ids, self)? {
                    return Err(rejected(
                        &where_,
                        format!("id {id} already names a different fact (seq {existing})"),
                    ));
                }
                report.duplicates.push((where_, existing));
                continue;
            }
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
                    let claim_seq = resolve_claim(&claim, &batch_ids, self)
                        .map_err(|reason| rejected(&where_, reason))?;
                    let payload = match action {
                        ClaimAction::ClawBack(reason) => {
                            Payload::OutcomeClawedBack(pbr_core::event::OutcomeClawedBack {
                                claim_seq,
                                reason,
                            })
                        }
                        ClaimAction::Decide { evidence_valid } => {
                            match state
                                .decide(&contract, claim_seq, date, evidence_valid)
                                .map_err(|e| rejected(&where_, e.reason))?
                            {
                                Ok(()) => Payload::OutcomeVerified(OutcomeVerified { claim_seq }),
                                Err(reason) => {
                                    report.rejections.push((
                                        where_.clone(),
                                        claim_seq,
                                        crate::reason_name(reason).to_owned(),
                                    ));
                                    Payload::OutcomeRejected(OutcomeRejected { claim_seq, reason })
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
                    let bytes = event.encode().map_err(|e| rejected(&where_, e.reason))?;
                    (
                        keys[key].verifier_key().public_key,
                        Pending::Sign { bytes, key },
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
            batch_ids.insert(event.id, seq);
            report.appended.push((where_, seq, event.kind()));
            batch.push(event);
            pending.push(work);
            if done % 4096 == 0 {
                progress(done as u64, total);
            }
        }
        if !pending.is_empty() {
            let records = sign_all(pending, keys, self.threads)?;
            self.log.append(&records)?;
            self.state = state;
            self.save_projections(&batch_ids)?;
        }
        progress(total, total);
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

fn resolve_claim(
    claim: &ClaimRef,
    batch_ids: &HashMap<EventId, u64>,
    ledger: &Ledger,
) -> Result<u64, String> {
    match claim {
        ClaimRef::Seq(seq) => Ok(*seq),
        ClaimRef::Id(id) => match batch_ids.get(id) {
            Some(seq) => Ok(*seq),
            None => ledger
                .seq_of_id(id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no claim has the id {id}")),
        },
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

/// Whether `input` states the same fact as the event its id already names. `recorded_at`
/// differs between imports and does not count; a decision is the same fact when it acts on
/// the same claim on the same day by the same author.
fn same_fact(
    earlier: &Event,
    input: &Input,
    _state: &State,
    batch_ids: &HashMap<EventId, u64>,
    ledger: &Ledger,
) -> Result<bool, LedgerError> {
    Ok(match input {
        Input::Event(event) => {
            *event
                == Event {
                    recorded_at_micros: event.recorded_at_micros,
                    ..earlier.clone()
                }
        }
        Input::Signed(record) => {
            Event::decode(&record.event_bytes).is_ok_and(|event| event == *earlier)
        }
        Input::OnClaim {
            contract,
            claim,
            date,
            action,
            author,
            ..
        } => {
            let claim_seq = resolve_claim(claim, batch_ids, ledger).ok();
            let acted_on = match (&earlier.payload, action) {
                (Payload::OutcomeVerified(p), ClaimAction::Decide { .. }) => Some(p.claim_seq),
                (Payload::OutcomeRejected(p), ClaimAction::Decide { .. }) => Some(p.claim_seq),
                (Payload::OutcomeClawedBack(p), ClaimAction::ClawBack(reason))
                    if p.reason == *reason =>
                {
                    Some(p.claim_seq)
                }
                _ => None,
            };
            acted_on.is_some()
                && acted_on == claim_seq
                && earlier.contract == *contract
                && earlier.business_date == *date
                && earlier.author == *author
        }
    })
}

/// Signs every pending event, on `threads` threads, keeping the order.
fn sign_all(
    pending: Vec<Pending>,
    keys: &[SignerKey],
    threads: usize,
) -> Result<Vec<Record>, LedgerError> {
    let sign = |work: Pending| -> Result<Record, LedgerError> {
        match work {
            Pending::Signed(record) => Ok(record),
            Pending::Sign { bytes, key } => {
                Record::sign(bytes, keys[key].signing_key()).map_err(|source| {
                    LedgerError::Log(pbr_log::LogError::Rejected { index: 0, source })
                })
            }
        }
    };
    let threads = threads.min(pending.len() / 256).max(1);
    if threads == 1 {
        return pending.into_iter().map(sign).collect();
    }
    let part = pending.len().div_ceil(threads);
    let mut parts: Vec<Vec<Pending>> = Vec::with_capacity(threads);
    let mut rest = pending;
    while !rest.is_empty() {
        let tail = rest.split_off(part.min(rest.len()));
        parts.push(rest);
        rest = tail;
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                scope.spawn(move || part.into_iter().map(sign).collect::<Result<Vec<_>, _>>())
            })
            .collect();
        let mut records = Vec::new();
        for handle in handles {
            // A signing thread only panics on a bug; surface it.
            records.extend(handle.join().expect("signing thread panicked")?);
        }
        Ok(records)
    })
}
