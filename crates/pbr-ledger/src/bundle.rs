//! Dispute bundles (`docs/format.md` §10): one JSON document that proves, to a stranger who
//! holds only the parties' public keys, what was recorded when and how an amount was
//! computed.
//!
//! A bundle is about one participant or one issued statement of one contract. It holds the
//! relevant records (their bytes, decoded events and inclusion paths), the signed checkpoint
//! the paths lead to, the contract's terms records, and each statement concerned with the
//! explanation of its lines. [`Ledger::bundle`] builds one from the log; [`verify`] checks one
//! without any ledger, and `tools/verify_bundle.py` does the same from the documents alone.
//!
//! Invariants: a bundle is a pure function of the log and the request (same ledger, same
//! request, same bytes); every seq a bundled statement cites, and every seq a bundled record
//! refers to, is itself in the bundle (the verifier rejects a bundle where one is missing);
//! the builder never returns a bundle that fails its own verification.

mod statement;
mod verify;

use std::collections::{BTreeMap, BTreeSet};

use pbr_core::date::Period;
use pbr_core::event::{Event, Payload};
use pbr_core::ids::ParticipantRef;
use pbr_core::settle::{Line, Statement, settle};
use pbr_core::state::State;
use pbr_log::SignedCheckpoint;
use serde::{Deserialize, Serialize};

pub use verify::{BundleError, BundleReport, KeysUsed, StatementReport, verify};

use crate::{Ledger, LedgerError};

/// The format tag every bundle starts with; another tag is another format.
pub const BUNDLE_FORMAT: &str = "pbr bundle v1";

/// What a bundle is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleAbout {
    /// Every record about one participant of a contract, and every statement that pays for
    /// them.
    Participant {
        /// The contract.
        contract: String,
        /// The participant.
        participant: ParticipantRef,
    },
    /// One issued statement: its `settlement-issued` record and everything its lines cite.
    Settlement {
        /// The seq of the `settlement-issued` record.
        seq: u64,
        /// The contract the caller expects it to be of, if it named one.
        contract: Option<String>,
    },
}

/// A dispute bundle, field for field as `docs/format.md` §10 lays it out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// What was asked for.
    pub request: Request,
    /// The ledger id, which the checkpoint names.
    pub origin: String,
    /// The signed note every inclusion path leads to.
    pub checkpoint: String,
    /// The verifier keys the ledger stores: a convenience, never a trust anchor.
    pub untrusted_verifier_keys: Vec<String>,
    /// Why each record is in the bundle.
    pub manifest: Manifest,
    /// The records, by seq.
    pub records: Vec<BundleRecord>,
    /// The statements concerned, by the seq of their `settlement-issued` record.
    pub statements: Vec<BundleStatement>,
}

/// What a bundle was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// The contract.
    pub contract: String,
    /// The participant (64 hex digits), for a participant bundle.
    pub participant: Option<String>,
    /// The seq of the `settlement-issued` record, for a settlement bundle.
    pub settlement: Option<u64>,
}

/// The seqs of the bundled records by the reason they are there; a record may have several.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The contract's `contract-registered`, `contract-amended` and `party-registered`
    /// records: they hold the terms and give every author its key.
    pub contract: Vec<u64>,
    /// The records about the participant (participant bundles only).
    pub participant: Vec<u64>,
    /// The `settlement-issued` records of the bundled statements.
    pub settlements: Vec<u64>,
    /// Every seq a bundled statement cites (an explained line's events, a decision's claim
    /// and decision, the previous statement) or a bundled record's payload refers to.
    pub cited: Vec<u64>,
}

/// One record with its inclusion path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    /// The sequence number, which is the leaf index.
    pub seq: u64,
    /// The record bytes (`docs/format.md` §1), hex.
    pub record_hex: String,
    /// `SHA-256(0x00 ‖ record bytes)`, the RFC 6962 leaf hash, hex.
    pub leaf_hash: String,
    /// The decoded event (§8.2).
    pub event: serde_json::Value,
    /// The RFC 9162 §2.1.3 inclusion path to the checkpoint's root, hex.
    pub path: Vec<String>,
}

/// One statement with its explanation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleStatement {
    /// The seq of its `settlement-issued` record.
    pub seq: u64,
    /// The statement JSON of `docs/settlement.md`, as `pbr explain --json` prints it.
    pub statement: serde_json::Value,
    /// Its lines in scope (all of them, or the participant's), with the events they cite.
    pub explanation: Vec<ExplainedLine>,
}

/// A statement line as `pbr explain` shows it: the line's fields and each cited event's
/// kind, business date and author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainedLine {
    /// The line's `n`.
    pub line: u32,
    /// The rule.
    pub rule: String,
    /// The accrual period.
    pub accrual: String,
    /// Whether it adjusts an already-settled period.
    pub adjustment: bool,
    /// `participant:<hex>` or `company:<id>`.
    pub subject: Option<String>,
    /// The claim.
    pub claim: Option<u64>,
    /// Who pays.
    pub from: String,
    /// Who is paid.
    pub to: String,
    /// The amount, two decimals.
    pub amount: String,
    /// The cap that bit.
    pub cap: Option<String>,
    /// The arithmetic.
    pub calc: String,
    /// The events it came from.
    pub events: Vec<CitedEvent>,
}

/// An event a line cites, as a reader wants it next to the arithmetic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitedEvent {
    /// Its seq.
    pub seq: u64,
    /// Its kind.
    pub kind: String,
    /// Its business date.
    pub date: String,
    /// The party that recorded it.
    pub author: String,
}

impl Bundle {
    /// The bundle as pbr writes it: pretty-printed JSON with two-space indentation, fields
    /// in the order of §10 (the event and statement objects keep their keys in byte order),
    /// and a final newline.
    pub fn to_text(&self) -> Result<String, LedgerError> {
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| LedgerError::Domain(format!("cannot write the bundle: {e}")))?;
        text.push('\n');
        Ok(text)
    }
}

/// The seqs an event's payload refers to: a decision's claim, a correction's retracted
/// event, a dispute's subject or dispute, a payment's settlement.
pub fn payload_refs(payload: &Payload) -> Vec<u64> {
    match payload {
        Payload::OutcomeVerified(p) => vec![p.claim_seq],
        Payload::OutcomeRejected(p) => vec![p.claim_seq],
        Payload::OutcomeClawedBack(p) => vec![p.claim_seq],
        Payload::Correction(p) => vec![p.retracts_seq],
        Payload::DisputeOpened(p) => vec![p.about_seq],
        Payload::DisputeEvidenceAttached(p) => vec![p.dispute_seq],
        Payload::DisputeResolved(p) => vec![p.dispute_seq],
        Payload::PaymentRecorded(p) => p.settlement_seq.into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Whether an event holds contract terms or registers a party's key.
pub fn is_contract_record(payload: &Payload) -> bool {
    matches!(
        payload,
        Payload::ContractRegistered(_) | Payload::ContractAmended(_) | Payload::PartyRegistered(_)
    )
}

/// The statement subject of a participant: `participant:<hex>`.
pub(crate) fn subject_of(participant: &ParticipantRef) -> String {
    format!("participant:{participant}")
}

/// The lines a bundle explains: all of them, or those about `subject`.
pub(crate) fn in_scope<'a>(
    lines: impl IntoIterator<Item = &'a Line>,
    subject: Option<&'a str>,
) -> impl Iterator<Item = &'a Line> {
    lines
        .into_iter()
        .filter(move |l| subject.is_none_or(|s| l.key.subject.as_deref() == Some(s)))
}

/// Whether a statement has a line or a decision about `subject`.
pub(crate) fn concerns(statement: &Statement, subject: &str) -> bool {
    statement
        .lines
        .iter()
        .any(|l| l.key.subject.as_deref() == Some(subject))
        || statement.decisions.iter().any(|d| d.subject == subject)
}

/// The seqs a statement cites within the scope of `subject` (every line and decision, or
/// those about the subject): the lines' events, the decisions' claims and decision events,
/// and the previous statement.
pub(crate) fn statement_cites(statement: &Statement, subject: Option<&str>) -> BTreeSet<u64> {
    let mut cites: BTreeSet<u64> = in_scope(&statement.lines, subject)
        .flat_map(|l| l.events.iter().copied())
        .collect();
    for d in &statement.decisions {
        if subject.is_none_or(|s| d.subject == s) {
            cites.insert(d.claim_seq);
            cites.insert(d.event_seq);
        }
    }
    if let Some(previous) = &statement.previous {
        cites.insert(previous.seq);
    }
    cites
}

fn decode(seq: u64, bytes: &[u8]) -> Result<Event, LedgerError> {
    let record = pbr_log::Record::decode(bytes)
        .map_err(|source| LedgerError::Log(pbr_log::LogError::BadRecord { seq, source }))?;
    Event::decode(&record.event_bytes).map_err(|e| LedgerError::Projection {
        seq,
        reason: e.reason,
    })
}

/// What a bundle is about, resolved against the ledger.
struct Target {
    contract: String,
    participant: Option<ParticipantRef>,
    settlement: Option<u64>,
    /// The checkpoint must cover this many records: up to the enrolment or the statement.
    min_size: u64,
}

/// What one replay of the log up to the checkpoint finds for a request.
struct Found {
    contract: Vec<u64>,
    participant: Vec<u64>,
    statements: Vec<(u64, Statement)>,
}

/// Records by seq: their bytes and decoded events.
type Records = BTreeMap<u64, (Vec<u8>, Event)>;

impl Ledger {
    /// Builds the dispute bundle of `about` against a stored checkpoint (see
    /// [`Ledger::bundle_checkpoint`]) and checks it as [`verify`] would, against the keys
    /// the ledger stores.
    ///
    /// An unknown participant, a seq that is not a `settlement-issued` record of the
    /// contract, or no checkpoint covering it yet are input errors; a statement that no
    /// longer matches its recomputation is a verification failure (`pbr audit` says more).
    pub fn bundle(&mut self, about: &BundleAbout) -> Result<Bundle, LedgerError> {
        let target = self.bundle_target(about)?;
        let note = self.bundle_checkpoint(&target.contract, target.min_size)?;
        let size = note.checkpoint.size;
        let subject = target.participant.as_ref().map(subject_of);
        let found = self.replay_for_bundle(&target, size)?;
        let mut cited: BTreeSet<u64> = BTreeSet::new();
        for (_, statement) in &found.statements {
            cited.extend(statement_cites(statement, subject.as_deref()));
        }
        let named = found
            .contract
            .iter()
            .chain(&found.participant)
            .chain(found.statements.iter().map(|(seq, _)| seq))
            .chain(&cited)
            .copied()
            .collect();
        let records = self.read_with_references(&target.contract, size, named, &mut cited)?;

        let statements = found
            .statements
            .iter()
            .map(|(seq, statement)| BundleStatement {
                seq: *seq,
                statement: statement.to_json(),
                explanation: in_scope(&statement.lines, subject.as_deref())
                    .map(|line| explain_line(line, |seq| records.get(&seq).map(|(_, e)| e)))
                    .collect(),
            })
            .collect();
        let bundle = Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            request: Request {
                contract: target.contract,
                participant: target.participant.map(|p| p.to_string()),
                settlement: target.settlement,
            },
            origin: self.log.origin().to_owned(),
            checkpoint: note.to_text(),
            untrusted_verifier_keys: self
                .log
                .verifier_keys()?
                .iter()
                .map(ToString::to_string)
                .collect(),
            manifest: Manifest {
                contract: found.contract,
                participant: found.participant,
                settlements: found.statements.iter().map(|(seq, _)| *seq).collect(),
                cited: cited.into_iter().collect(),
            },
            records: self.bundle_records(&records, size)?,
            statements,
        };
        // Never hand out a bundle that does not verify: check it as a stranger would.
        verify(&bundle.to_text()?, None).map_err(|e| {
            LedgerError::Mismatch(format!("the bundle fails its own verification: {e}"))
        })?;
        Ok(bundle)
    }

    /// The contract, participant or statement a request names, checked against the log.
    fn bundle_target(&mut self, about: &BundleAbout) -> Result<Target, LedgerError> {
        match about {
            BundleAbout::Participant {
                contract,
                participant,
            } => {
                let enrolled = self
                    .state()?
                    .contracts
                    .get(contract)
                    .ok_or_else(|| {
                        LedgerError::Domain(format!("contract {contract} is not registered"))
                    })?
                    .participants
                    .get(participant)
                    .ok_or_else(|| {
                        LedgerError::Domain(format!(
                            "participant {participant} is not enrolled in contract {contract}"
                        ))
                    })?;
                Ok(Target {
                    contract: contract.clone(),
                    participant: Some(*participant),
                    settlement: None,
                    min_size: enrolled.seq + 1,
                })
            }
            BundleAbout::Settlement { seq, contract } => {
                let event = self.event_at(*seq)?;
                if !matches!(event.payload, Payload::SettlementIssued(_)) {
                    return Err(LedgerError::Domain(format!(
                        "seq {seq} is a {}, not a settlement-issued event",
                        event.kind()
                    )));
                }
                if let Some(expected) = contract
                    && *expected != event.contract
                {
                    return Err(LedgerError::Domain(format!(
                        "seq {seq} is a statement of contract {}, not {expected}",
                        event.contract
                    )));
                }
                Ok(Target {
                    contract: event.contract,
                    participant: None,
                    settlement: Some(*seq),
                    min_size: seq + 1,
                })
            }
        }
    }

    /// Reads the records `named`, and every record their payloads refer to (adding each
    /// reference to `cited`), until nothing new is referred to. References point to earlier
    /// seqs, so this ends; each must be of `contract` and within the checkpoint's `size`.
    fn read_with_references(
        &self,
        contract: &str,
        size: u64,
        mut named: BTreeSet<u64>,
        cited: &mut BTreeSet<u64>,
    ) -> Result<Records, LedgerError> {
        let mut records = Records::new();
        let mut queue: Vec<u64> = named.iter().copied().collect();
        while let Some(seq) = queue.pop() {
            if seq >= size {
                return Err(LedgerError::Domain(format!(
                    "seq {seq} is needed but not covered by the checkpoint of size {size}"
                )));
            }
            let bytes = self.log.read_bytes(seq)?;
            let event = decode(seq, &bytes)?;
            if event.contract != contract {
                return Err(LedgerError::Domain(format!(
                    "seq {seq} is of contract {}, not {contract}: a bundle holds one contract",
                    event.contract
                )));
            }
            for referred in payload_refs(&event.payload) {
                cited.insert(referred);
                if named.insert(referred) {
                    queue.push(referred);
                }
            }
            records.insert(seq, (bytes, event));
        }
        Ok(records)
    }

    /// The records as a bundle holds them, each with its inclusion path in the tree of
    /// `size` records.
    fn bundle_records(
        &self,
        records: &Records,
        size: u64,
    ) -> Result<Vec<BundleRecord>, LedgerError> {
        records
            .iter()
            .map(|(seq, (bytes, event))| {
                Ok(BundleRecord {
                    seq: *seq,
                    record_hex: pbr_log::hex::encode(bytes),
                    leaf_hash: pbr_log::hex::encode(&pbr_log::hash::leaf_hash(bytes)),
                    event: event.to_json(),
                    path: self
                        .log
                        .inclusion_path(*seq, size)?
                        .iter()
                        .map(|h| pbr_log::hex::encode(h))
                        .collect(),
                })
            })
            .collect()
    }

    /// The checkpoint a bundle is proven against: of the stored checkpoints that cover the
    /// first `min_size` records, the latest that counts (signed by the contract's
    /// `[checkpoint] quorum`, or by two keys when the contract names none), or else the
    /// latest.
    pub fn bundle_checkpoint(
        &mut self,
        contract: &str,
        min_size: u64,
    ) -> Result<SignedCheckpoint, LedgerError> {
        let quorum = self.quorums()?.into_iter().find(|q| q.contract == contract);
        let notes = self.log.checkpoints()?;
        let latest = notes.last().map_or(0, |n| n.checkpoint.size);
        let counts = |note: &SignedCheckpoint| {
            let signers: BTreeSet<String> = note
                .signatures
                .iter()
                .map(|s| format!("{}+{}", s.name, pbr_log::hex::encode(&s.key_id)))
                .collect();
            let signers: Vec<String> = signers.into_iter().collect();
            match &quorum {
                Some(quorum) => quorum.missing(&signers).is_empty(),
                None => signers.len() >= 2,
            }
        };
        let covering: Vec<&SignedCheckpoint> = notes
            .iter()
            .filter(|n| n.checkpoint.size >= min_size)
            .collect();
        covering
            .iter()
            .rev()
            .find(|n| counts(n))
            .or(covering.last())
            .map(|n| (*n).clone())
            .ok_or_else(|| {
                LedgerError::Domain(format!(
                    "no checkpoint covers seq {} yet (the latest covers {latest} records): \
                     sign one with `pbr checkpoint sign`",
                    min_size.saturating_sub(1)
                ))
            })
    }

    /// One replay of the first `size` records: the contract's records, the records about
    /// `participant` (each event naming it, and each event referring to one of those), and
    /// the statements concerned, each recomputed from the state before its
    /// `settlement-issued` record.
    fn replay_for_bundle(&self, target: &Target, size: u64) -> Result<Found, LedgerError> {
        let (contract, participant) = (target.contract.as_str(), target.participant);
        let subject = participant.as_ref().map(subject_of);
        let mut found = Found {
            contract: Vec::new(),
            participant: Vec::new(),
            statements: Vec::new(),
        };
        let mut about: BTreeSet<u64> = BTreeSet::new();
        let mut state = State::default();
        for entry in self.log.iter_from(0) {
            let (seq, bytes) = entry?;
            if seq >= size {
                break;
            }
            let event = decode(seq, &bytes)?;
            if event.contract == contract {
                if is_contract_record(&event.payload) {
                    found.contract.push(seq);
                }
                if let Some(p) = participant
                    && (event.participant == Some(p)
                        || payload_refs(&event.payload)
                            .iter()
                            .any(|r| about.contains(r)))
                {
                    about.insert(seq);
                    found.participant.push(seq);
                }
                if let Payload::SettlementIssued(issued) = &event.payload
                    && target.settlement.is_none_or(|s| s == seq)
                {
                    let statement = recompute(&state, &event, issued, seq)?;
                    if subject.as_deref().is_none_or(|s| concerns(&statement, s)) {
                        check_recorded_hash(&statement, issued, seq)?;
                        found.statements.push((seq, statement));
                    }
                }
            }
            // A settlement bundle needs the state only up to its statement.
            if target.settlement.is_none_or(|s| seq < s) {
                state
                    .apply(seq, &event)
                    .map_err(|e| Self::projection_error(seq, e.reason))?;
            }
        }
        Ok(found)
    }
}

/// The statement a `settlement-issued` event at `seq` records, recomputed from the state
/// before it.
fn recompute(
    state: &State,
    event: &Event,
    issued: &pbr_core::event::SettlementIssued,
    seq: u64,
) -> Result<Statement, LedgerError> {
    let period = issued
        .period
        .parse::<Period>()
        .map_err(|e| LedgerError::Projection {
            seq,
            reason: e.reason,
        })?;
    let (statement, _) = settle(state, &event.contract, period, seq).map_err(|e| {
        LedgerError::Mismatch(format!(
            "the statement issued at seq {seq} cannot be recomputed: {}",
            e.reason
        ))
    })?;
    Ok(statement)
}

/// Refuses a statement whose recomputation no longer hashes to the hash its record signs:
/// a bundle could only show that it does not verify.
fn check_recorded_hash(
    statement: &Statement,
    issued: &pbr_core::event::SettlementIssued,
    seq: u64,
) -> Result<(), LedgerError> {
    if statement.hash == issued.statement_hash {
        return Ok(());
    }
    Err(LedgerError::Mismatch(format!(
        "the statement issued at seq {seq} does not match its recomputation (recorded {}, \
         recomputed {}): run `pbr audit`",
        pbr_core::ids::hex(&issued.statement_hash),
        pbr_core::ids::hex(&statement.hash)
    )))
}

/// A line with the kind, date and author of each event it cites (`event_of` finds a cited
/// event; a seq it does not find is left out, which a verifier reports).
pub(crate) fn explain_line<'a>(
    line: &Line,
    event_of: impl Fn(u64) -> Option<&'a Event>,
) -> ExplainedLine {
    ExplainedLine {
        line: line.n,
        rule: line.key.rule.clone(),
        accrual: line.key.accrual.to_string(),
        adjustment: line.adjustment,
        subject: line.key.subject.clone(),
        claim: line.key.claim,
        from: line.key.from.clone(),
        to: line.key.to.clone(),
        amount: line.amount.to_decimal().to_string(),
        cap: line.cap.map(|c| c.name().to_owned()),
        calc: line.calc.clone(),
        events: line
            .events
            .iter()
            .filter_map(|seq| event_of(*seq).map(|event| (seq, event)))
            .map(|(seq, event)| CitedEvent {
                seq: *seq,
                kind: event.kind().to_owned(),
                date: event.business_date.to_string(),
                author: event.author.clone(),
            })
            .collect(),
    }
}
