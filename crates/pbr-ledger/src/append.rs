//! Appending facts: validate a whole batch against the contract and participant state, sign,
//! append atomically, and keep the projections current.
//!
//! A batch is all or nothing: every input is admitted against a working copy of the state
//! first (a later input sees the earlier ones), and only then is the batch signed and written
//! as one log append. An input whose client id the ledger already holds is skipped and
//! reported as a duplicate, so re-running an import never counts anything twice.

use std::collections::HashMap;

use chrono::NaiveDate;
use pbr_core::event::{Event, OutcomeRejected, OutcomeVerified, Payload};
use pbr_core::ids::EventId;
use pbr_core::state::Signer;
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
    /// Which input, as the caller named it (`file:line`, `--participant`, …).
    pub where_: String,
    /// Why.
    pub reason: String,
}

/// What an append did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// `(where, seq, kind)` for every event appended, in order.
    pub appended: Vec<(String, u64, &'static str)>,
    /// `(where, existing seq)` for every input skipped because its id exists.
    pub duplicates: Vec<(String, u64)>,
    /// `(where, claim seq, reason)` for every rejected claim (the rejection is appended too).
    pub rejections: Vec<(String, u64, String)>,
}

impl Ledger {
    /// Validates, signs and appends `inputs` as one batch, or nothing. Each input carries
    /// where it came from, for errors. `keys` are the private keys of the authors this
    /// caller may sign for; `now_micros` becomes every event's `recorded_at`.
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
        let mut batch_ids: HashMap<EventId, u64> = HashMap::new();
        let mut records = Vec::with_capacity(inputs.len());
        let mut report = AppendReport::default();
        let next_seq = self.log.len();
        let reject = |where_: &str, reason: String| {
            LedgerError::Rejected(Rejected {
                where_: where_.to_owned(),
                reason,
            })
        };
        for (done, (where_, input)) in inputs.into_iter().enumerate() {
            let seq = next_seq + records.len() as u64;
            let (event, record) = match input {
                Input::Signed(record) => {
                    record
                        .verify()
                        .map_err(|e| reject(&where_, format!("signature: {e}")))?;
                    let event = Event::decode(&record.event_bytes)
                        .map_err(|e| reject(&where_, e.reason))?;
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
                        ClaimRef::Id(claim_id) => match batch_ids.get(&claim_id) {
                            Some(seq) => *seq,
                            None => self.seq_of_id(&claim_id)?.ok_or_else(|| {
                                reject(&where_, format!("no claim has the id {claim_id}"))
                            })?,
                        },
                    };
                    let payload = match action {
                        ClaimAction::ClawBack(reason) => {
                            Payload::OutcomeClawedBack(pbr_core::event::OutcomeClawedBack {
                                claim_seq,
                                reason,
                            })
                        }
                        ClaimAction::Decide { evidence_valid } => {
                            let decision = state
                                .decide(&contract, claim_seq, date, evidence_valid)
                                .map_err(|e| reject(&where_, e.reason))?;
                            match decision {
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
                    let participant = state
                        .contracts
                        .get(&contract)
                        .and_then(|c| c.claims.get(&claim_seq))
                        .and_then(|c| match &c.subject {
                            pbr_core::state::ClaimSubject::Participant(p) => Some(*p),
                            pbr_core::state::ClaimSubject::Company(_) => None,
                        });
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
            if let Some(existing) = batch_ids
                .get(&event.id)
                .copied()
                .or(self.seq_of_id(&event.id)?)
            {
                report.duplicates.push((where_, existing));
                continue;
            }
            let record = match record {
                Some(record) => record,
                None => {
                    let key = keys
                        .iter()
                        .find(|k| k.name() == event.author)
                        .ok_or_else(|| {
                            reject(&where_, format!("no key given for author {}", event.author))
                        })?;
                    let bytes = event.encode().map_err(|e| reject(&where_, e.reason))?;
                    Record::sign(bytes, key.signing_key())
                        .map_err(|e| reject(&where_, e.to_string()))?
                }
            };
            state
                .admit(
                    seq,
                    &event,
                    Signer {
                        public_key: &record.public_key,
                    },
                )
                .map_err(|e| reject(&where_, e.reason))?;
            state
                .apply(seq, &event)
                .map_err(|e| reject(&where_, e.reason))?;
            batch_ids.insert(event.id, seq);
            report.appended.push((where_, seq, event.kind()));
            records.push(record);
            if done % 4096 == 0 {
                progress(done as u64, total);
            }
        }
        if !records.is_empty() {
            self.log.append(&records)?;
            self.state = state;
            self.save_projections(&batch_ids)?;
        }
        progress(total, total);
        Ok(report)
    }
}
