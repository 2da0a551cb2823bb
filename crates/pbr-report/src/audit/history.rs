//! What an auditor looks for first besides the figures (`docs/reports.md`, "Audit report"):
//! the terms in force and every amendment, the disputes, the corrections, and each issued
//! statement matched against the payments recorded for it.
//!
//! The replayed [`State`] keeps the terms' versions, the issued statements and which seqs
//! corrections retracted, but not the events a replay does not need (a dispute changes no
//! amount) nor the fields of a payment it does not need (the statement a payment names),
//! nor each issued statement's lines. So the caller, while it replays the log, hands every
//! event to a [`Trail`] ([`Trail::push`]) and every issued statement of the contract as the
//! replay recomputes it ([`Trail::statement`]); the sections are then pure functions of the
//! state and the trail ([`Sections::of`]), ordered by seq, with amounts as integers in minor
//! units of the contract's currency.
//!
//! **Payment matching** (`docs/decisions.md`, "Payments are matched to statements by the
//! seq they name, else oldest first"): a statement calls, per pair of parties, for the net of
//! its lines that move money between them, paid by the party that owes. A `payment-recorded`
//! that names the statement (`settlement_seq`) counts toward it in full, on the pair of its
//! payer and payee (a payment the other way round counts negative); one that names none is
//! allocated oldest first to the statements issued before it that still call for money from
//! its payer to its payee, up to what each still calls for; what is left, a payment naming
//! no issued statement of the contract, and a payment in another currency are listed as not
//! matched. A retracted payment counts nowhere. A statement is *paid* when every pair got
//! exactly its due, *outstanding* when some pair got less, else *overpaid* when some pair got
//! more. Whether a payment was *late* is not assessed: the terms give no due date.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pbr_core::date::Period;
use pbr_core::event::{Event, Payload};
use pbr_core::money::Currency;
use pbr_core::settle::Statement;
use pbr_core::state::{ContractState, State};

/// What the report says of lateness: the terms give no due date to judge it by.
pub const LATE_NOT_ASSESSED: &str = "not assessed: the terms give no due date";

/// An event a row refers to: its seq, and its kind, business date and author when the log
/// could be read at that seq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRef {
    /// The seq.
    pub seq: u64,
    /// What the log holds there, when the caller could read it.
    pub event: Option<Described>,
}

/// The kind, business date, author and contract of a referred event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    /// The event kind, e.g. `payment-recorded`.
    pub kind: &'static str,
    /// Its business date.
    pub date: NaiveDate,
    /// Who recorded it.
    pub author: String,
    /// Its contract.
    pub contract: String,
}

impl EventRef {
    /// `seq 35 (payment-recorded, 2025-07-14, by aalborg-jobcenter)`, or `seq 35`.
    pub fn text(&self) -> String {
        match &self.event {
            Some(e) => format!("seq {} ({}, {}, by {})", self.seq, e.kind, e.date, e.author),
            None => format!("seq {}", self.seq),
        }
    }
}

#[derive(Clone, Debug)]
struct TermsRecord {
    by: String,
    on: NaiveDate,
    hash: [u8; 32],
}

#[derive(Clone, Debug)]
struct DisputeRecord {
    on: NaiveDate,
    by: String,
    about: u64,
    reason: String,
    evidence: Vec<Evidence>,
    resolutions: Vec<Resolution>,
}

#[derive(Clone, Debug)]
struct CorrectionRecord {
    seq: u64,
    on: NaiveDate,
    by: String,
    retracts: u64,
    reason: String,
}

#[derive(Clone, Debug)]
struct PaymentRecord {
    seq: u64,
    date: NaiveDate,
    from: String,
    to: String,
    minor: i128,
    currency: Currency,
    settlement: Option<u64>,
}

/// One pair's due in a statement: `from` pays `to` `due` minor units.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owed {
    from: String,
    to: String,
    due: i128,
}

/// What the report reads of the events themselves, collected while the caller replays the
/// log (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct Trail {
    contract: String,
    latest: Option<NaiveDate>,
    terms: BTreeMap<u64, TermsRecord>,
    disputes: BTreeMap<u64, DisputeRecord>,
    corrections: Vec<CorrectionRecord>,
    payments: Vec<PaymentRecord>,
    owed: BTreeMap<u64, Vec<Owed>>,
    described: BTreeMap<u64, Described>,
}

/// The name a kebab-case enum of the event format serializes to (`data-entry`).
fn name_of(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Trail {
    /// An empty trail for `contract`.
    pub fn new(contract: &str) -> Trail {
        Trail {
            contract: contract.to_owned(),
            ..Trail::default()
        }
    }

    /// Takes in the event at `seq`, in log order: the contract's terms, disputes,
    /// corrections and payments, and evidence and resolutions of its disputes whichever
    /// contract records them.
    pub fn push(&mut self, seq: u64, event: &Event) {
        let on = event.business_date;
        let by = || event.author.clone();
        match &event.payload {
            Payload::DisputeEvidenceAttached(p) => {
                if let Some(dispute) = self.disputes.get_mut(&p.dispute_seq) {
                    dispute.evidence.push(Evidence {
                        seq,
                        on,
                        by: by(),
                        hash: p.evidence,
                    });
                }
            }
            Payload::DisputeResolved(p) => {
                if let Some(dispute) = self.disputes.get_mut(&p.dispute_seq) {
                    dispute.resolutions.push(Resolution {
                        seq,
                        on,
                        by: by(),
                        resolution: name_of(&p.resolution),
                    });
                }
            }
            _ => {}
        }
        if event.contract != self.contract {
            return;
        }
        self.latest = self.latest.max(Some(on));
        match &event.payload {
            Payload::ContractRegistered(p) => {
                self.terms.insert(
                    seq,
                    TermsRecord {
                        by: by(),
                        on,
                        hash: p.terms_hash,
                    },
                );
            }
            Payload::ContractAmended(p) => {
                self.terms.insert(
                    seq,
                    TermsRecord {
                        by: by(),
                        on,
                        hash: p.terms_hash,
                    },
                );
            }
            Payload::DisputeOpened(p) => {
                self.disputes.insert(
                    seq,
                    DisputeRecord {
                        on,
                        by: by(),
                        about: p.about_seq,
                        reason: name_of(&p.reason),
                        evidence: Vec::new(),
                        resolutions: Vec::new(),
                    },
                );
            }
            Payload::Correction(p) => self.corrections.push(CorrectionRecord {
                seq,
                on,
                by: by(),
                retracts: p.retracts_seq,
                reason: name_of(&p.reason),
            }),
            Payload::PaymentRecorded(p) => self.payments.push(PaymentRecord {
                seq,
                date: on,
                from: p.from.clone(),
                to: p.to.clone(),
                minor: i128::from(p.amount.minor),
                currency: p.amount.currency,
                settlement: p.settlement_seq,
            }),
            _ => {}
        }
    }

    /// Takes in the statement the replay recomputed for the contract's `settlement-issued`
    /// event at `seq`: per pair of parties, the net of its lines that move money between
    /// them, owed by the party that pays on balance.
    pub fn statement(&mut self, seq: u64, statement: &Statement) {
        let mut net: BTreeMap<(&str, &str), i128> = BTreeMap::new();
        for line in statement.lines.iter().filter(|line| !line.is_memo()) {
            let (from, to) = (line.key.from.as_str(), line.key.to.as_str());
            // One entry per unordered pair, positive when the first party owes the second.
            let (pair, sign) = if from < to {
                ((from, to), 1)
            } else {
                ((to, from), -1)
            };
            *net.entry(pair).or_default() += sign * i128::from(line.amount.minor);
        }
        let owed = net
            .into_iter()
            .filter(|(_, minor)| *minor != 0)
            .map(|((a, b), minor)| {
                let (from, to) = if minor > 0 { (a, b) } else { (b, a) };
                Owed {
                    from: from.to_owned(),
                    to: to.to_owned(),
                    due: minor.abs(),
                }
            })
            .collect();
        self.owed.insert(seq, owed);
    }

    /// The seqs that the disputes and corrections refer to and that are not described yet:
    /// the caller reads each from the log and hands it to [`Trail::describe`].
    pub fn referenced(&self) -> Vec<u64> {
        let seqs: BTreeSet<u64> = self
            .disputes
            .values()
            .map(|d| d.about)
            .chain(self.corrections.iter().map(|c| c.retracts))
            .filter(|seq| !self.described.contains_key(seq))
            .collect();
        seqs.into_iter().collect()
    }

    /// Takes in the event at a referred `seq`, so that rows name its kind, date and author.
    pub fn describe(&mut self, seq: u64, event: &Event) {
        self.described.insert(
            seq,
            Described {
                kind: event.payload.kind_name(),
                date: event.business_date,
                author: event.author.clone(),
                contract: event.contract.clone(),
            },
        );
    }

    fn event_ref(&self, seq: u64) -> EventRef {
        EventRef {
            seq,
            event: self.described.get(&seq).cloned(),
        }
    }
}

/// Whether a version of the terms governs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionStatus {
    /// It governs the latest business date of the contract's log.
    InForce,
    /// A later version governs from a later date.
    Superseded,
    /// It governs from a date after the latest business date of the log.
    Scheduled,
    /// A version recorded later governs from the same date, so this one never governs.
    Replaced,
}

impl VersionStatus {
    /// In words: `in force`, `superseded`, `scheduled`, `replaced`.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::InForce => "in force",
            VersionStatus::Superseded => "superseded",
            VersionStatus::Scheduled => "scheduled",
            VersionStatus::Replaced => "replaced",
        }
    }
}

/// One version of the terms: the registration or an amendment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermsVersionRow {
    /// The seq of its `contract-registered` or `contract-amended` event.
    pub seq: u64,
    /// Whether it is an amendment (not the registration).
    pub amendment: bool,
    /// Who recorded it, when the trail saw the event.
    pub by: Option<String>,
    /// Its business date, when the trail saw the event.
    pub recorded_on: Option<NaiveDate>,
    /// The first day it governs.
    pub effective_from: NaiveDate,
    /// The last day it governs, the day before the next version's; `None` while it is the
    /// latest, or when it never governs.
    pub until: Option<NaiveDate>,
    /// The terms hash its event records (admission checks it is BLAKE3 of the text).
    pub hash: Option<[u8; 32]>,
    /// Whether it governs.
    pub status: VersionStatus,
    /// Whether a correction retracted its event (a replay still applies the terms).
    pub retracted: bool,
}

/// The terms' versions, oldest effective date first, and which governs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermsHistory {
    /// The date the version in force is judged at: the latest business date of the
    /// contract's log.
    pub as_of: Option<NaiveDate>,
    /// Every version, by effective date, then seq.
    pub versions: Vec<TermsVersionRow>,
}

impl TermsHistory {
    /// The version in force.
    pub fn in_force(&self) -> Option<&TermsVersionRow> {
        self.versions
            .iter()
            .find(|v| v.status == VersionStatus::InForce)
    }

    /// The number of amendments.
    pub fn amendments(&self) -> usize {
        self.versions.iter().filter(|v| v.amendment).count()
    }
}

/// Evidence attached to a dispute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The seq of the `dispute-evidence-attached` event.
    pub seq: u64,
    /// Its business date.
    pub on: NaiveDate,
    /// Who attached it.
    pub by: String,
    /// BLAKE3 of the document, which stays outside the ledger.
    pub hash: [u8; 32],
}

/// How a dispute was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The seq of the `dispute-resolved` event.
    pub seq: u64,
    /// Its business date.
    pub on: NaiveDate,
    /// Who resolved it.
    pub by: String,
    /// `upheld`, `dismissed` or `settled`.
    pub resolution: String,
}

/// A dispute, from its opening to its resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeRow {
    /// The seq of the `dispute-opened` event.
    pub seq: u64,
    /// Its business date.
    pub opened_on: NaiveDate,
    /// Who opened it.
    pub by: String,
    /// The disputed event.
    pub about: EventRef,
    /// `amount`, `outcome`, `evidence` or `date`.
    pub reason: String,
    /// The evidence attached, in log order (retracted evidence left out).
    pub evidence: Vec<Evidence>,
    /// The first resolution not retracted; `None` while the dispute is open.
    pub resolution: Option<Resolution>,
    /// Whether a correction retracted the opening.
    pub retracted: bool,
}

impl DisputeRow {
    /// `open`, `resolved: upheld`, …, or `retracted`.
    pub fn status(&self) -> String {
        match (&self.resolution, self.retracted) {
            (_, true) => "retracted".to_owned(),
            (Some(r), false) => format!("resolved: {}", r.resolution),
            (None, false) => "open".to_owned(),
        }
    }
}

/// A correction: an event retracted, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrectionRow {
    /// The seq of the `correction` event.
    pub seq: u64,
    /// Its business date.
    pub on: NaiveDate,
    /// Who recorded it (the author of the retracted fact).
    pub by: String,
    /// The retracted event.
    pub retracts: EventRef,
    /// `data-entry`, `duplicate`, `wrong-subject`, `wrong-date` or `dispute-upheld`.
    pub reason: String,
}

/// A pair's due in one statement and what was paid toward it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairMatch {
    /// The payer.
    pub from: String,
    /// The payee.
    pub to: String,
    /// What the statement calls for from `from` to `to`, in minor units (0 for a pair that
    /// was paid without being called for).
    pub due: i128,
    /// What the payments matched to the statement moved from `from` to `to`, net.
    pub paid: i128,
}

impl PairMatch {
    /// `due − paid`: more than 0 outstanding, less than 0 overpaid.
    pub fn remaining(&self) -> i128 {
        self.due - self.paid
    }

    /// The pair's status.
    pub fn status(&self) -> PaymentStatus {
        match self.remaining() {
            0 => PaymentStatus::Paid,
            r if r > 0 => PaymentStatus::Outstanding,
            _ => PaymentStatus::Overpaid,
        }
    }
}

/// A payment, or the part of one, matched to a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentMatch {
    /// The seq of the `payment-recorded` event.
    pub seq: u64,
    /// Its business date.
    pub date: NaiveDate,
    /// The payer.
    pub from: String,
    /// The payee.
    pub to: String,
    /// The amount matched to the statement, in minor units.
    pub amount: i128,
    /// Whether the payment names the statement (else it was allocated oldest first).
    pub named: bool,
}

/// Where a statement stands against the payments matched to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Every pair got exactly its due.
    Paid,
    /// Some pair got less than its due.
    Outstanding,
    /// No pair got less, and some got more.
    Overpaid,
    /// The statement calls for no payment, and none was matched to it.
    NothingDue,
    /// The statement cannot be recomputed, so what it calls for is not known.
    NotAssessed,
}

impl PaymentStatus {
    /// In words, as every format shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Paid => "paid",
            PaymentStatus::Outstanding => "outstanding",
            PaymentStatus::Overpaid => "overpaid",
            PaymentStatus::NothingDue => "nothing due",
            PaymentStatus::NotAssessed => "not assessed",
        }
    }
}

/// One issued statement matched against its payments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementPayments {
    /// The seq of its `settlement-issued` event.
    pub seq: u64,
    /// Its period.
    pub period: Period,
    /// Per pair of parties, by payer then payee; or why the statement cannot be matched.
    pub pairs: Result<Vec<PairMatch>, String>,
    /// The payments matched to it, in log order.
    pub payments: Vec<PaymentMatch>,
}

impl StatementPayments {
    fn pairs(&self) -> &[PairMatch] {
        self.pairs.as_deref().unwrap_or_default()
    }

    /// What it calls for, in minor units.
    pub fn due(&self) -> i128 {
        self.pairs().iter().map(|p| p.due).sum()
    }

    /// What the payments matched to it paid, net, in minor units.
    pub fn paid(&self) -> i128 {
        self.pairs().iter().map(|p| p.paid).sum()
    }

    /// What its pairs still lack.
    pub fn outstanding(&self) -> i128 {
        self.pairs().iter().map(|p| p.remaining().max(0)).sum()
    }

    /// What its pairs got beyond their due.
    pub fn overpaid(&self) -> i128 {
        self.pairs().iter().map(|p| (-p.remaining()).max(0)).sum()
    }

    /// The latest business date of the payments matched to it.
    pub fn last_paid(&self) -> Option<NaiveDate> {
        self.payments.iter().map(|p| p.date).max()
    }

    /// Where it stands.
    pub fn status(&self) -> PaymentStatus {
        let Ok(pairs) = &self.pairs else {
            return PaymentStatus::NotAssessed;
        };
        if pairs.iter().any(|p| p.remaining() > 0) {
            PaymentStatus::Outstanding
        } else if pairs.iter().any(|p| p.remaining() < 0) {
            PaymentStatus::Overpaid
        } else if pairs.is_empty() && self.payments.is_empty() {
            PaymentStatus::NothingDue
        } else {
            PaymentStatus::Paid
        }
    }

    /// Counts `amount` of payment `p` toward this statement.
    fn take(&mut self, p: &PaymentRecord, amount: i128, named: bool) {
        self.payments.push(PaymentMatch {
            seq: p.seq,
            date: p.date,
            from: p.from.clone(),
            to: p.to.clone(),
            amount,
            named,
        });
        let Ok(pairs) = &mut self.pairs else {
            return;
        };
        if let Some(pair) = pairs.iter_mut().find(|q| q.from == p.from && q.to == p.to) {
            pair.paid += amount;
        } else if let Some(pair) = pairs.iter_mut().find(|q| q.from == p.to && q.to == p.from) {
            pair.paid -= amount;
        } else {
            pairs.push(PairMatch {
                from: p.from.clone(),
                to: p.to.clone(),
                due: 0,
                paid: amount,
            });
            pairs.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        }
    }

    /// What it still calls for from `from` to `to`.
    fn open(&self, from: &str, to: &str) -> i128 {
        self.pairs()
            .iter()
            .find(|q| q.from == from && q.to == to)
            .map_or(0, |q| q.remaining().max(0))
    }
}

/// A payment, or what is left of one, matched to no statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmatched {
    /// The seq of the `payment-recorded` event.
    pub seq: u64,
    /// Its business date.
    pub date: NaiveDate,
    /// The payer.
    pub from: String,
    /// The payee.
    pub to: String,
    /// The amount not matched, in minor units of its own currency.
    pub amount: i128,
    /// Its currency.
    pub currency: Currency,
    /// Why it is not matched.
    pub why: String,
}

/// Every issued statement against the payments recorded for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payments {
    /// The issued statements, in log order.
    pub statements: Vec<StatementPayments>,
    /// The payments, or parts of them, matched to no statement, in log order.
    pub unmatched: Vec<Unmatched>,
}

impl Payments {
    /// How many statements have `status`.
    pub fn count(&self, status: PaymentStatus) -> usize {
        self.statements
            .iter()
            .filter(|s| s.status() == status)
            .count()
    }
}

/// The sections the trail adds to the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sections {
    /// The terms and their amendments.
    pub terms: TermsHistory,
    /// The disputes, by seq.
    pub disputes: Vec<DisputeRow>,
    /// The corrections, by seq.
    pub corrections: Vec<CorrectionRow>,
    /// The statements matched against their payments.
    pub payments: Payments,
}

impl Sections {
    /// The sections of `contract` (replayed into `state`) in `currency`, from `trail`.
    pub fn of(
        state: &State,
        contract: &ContractState,
        trail: &Trail,
        currency: Currency,
    ) -> Sections {
        let retracted = &state.retracted;
        let disputes = trail
            .disputes
            .iter()
            .map(|(&seq, d)| DisputeRow {
                seq,
                opened_on: d.on,
                by: d.by.clone(),
                about: trail.event_ref(d.about),
                reason: d.reason.clone(),
                evidence: d
                    .evidence
                    .iter()
                    .filter(|e| !retracted.contains(&e.seq))
                    .cloned()
                    .collect(),
                resolution: d
                    .resolutions
                    .iter()
                    .find(|r| !retracted.contains(&r.seq))
                    .cloned(),
                retracted: retracted.contains(&seq),
            })
            .collect();
        let corrections = trail
            .corrections
            .iter()
            .map(|c| CorrectionRow {
                seq: c.seq,
                on: c.on,
                by: c.by.clone(),
                retracts: trail.event_ref(c.retracts),
                reason: c.reason.clone(),
            })
            .collect();
        Sections {
            terms: terms_history(contract, trail, retracted),
            disputes,
            corrections,
            payments: match_payments(contract, trail, retracted, currency),
        }
    }
}

fn terms_history(
    contract: &ContractState,
    trail: &Trail,
    retracted: &BTreeSet<u64>,
) -> TermsHistory {
    let as_of = trail.latest;
    let in_force = as_of.and_then(|d| contract.terms_on(d)).map(|v| v.seq);
    let versions = contract
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let next = contract.versions.get(i + 1);
            let replaced = next.is_some_and(|n| n.effective_from <= v.effective_from);
            let status = if Some(v.seq) == in_force {
                VersionStatus::InForce
            } else if replaced {
                VersionStatus::Replaced
            } else if as_of.is_some_and(|d| v.effective_from > d) {
                VersionStatus::Scheduled
            } else {
                VersionStatus::Superseded
            };
            let record = trail.terms.get(&v.seq);
            TermsVersionRow {
                seq: v.seq,
                amendment: contract.versions.iter().any(|w| w.seq < v.seq),
                by: record.map(|r| r.by.clone()),
                recorded_on: record.map(|r| r.on),
                effective_from: v.effective_from,
                until: next
                    .filter(|_| !replaced)
                    .and_then(|n| n.effective_from.pred_opt()),
                hash: record.map(|r| r.hash),
                status,
                retracted: retracted.contains(&v.seq),
            }
        })
        .collect();
    TermsHistory { as_of, versions }
}

fn match_payments(
    contract: &ContractState,
    trail: &Trail,
    retracted: &BTreeSet<u64>,
    currency: Currency,
) -> Payments {
    let mut statements: Vec<StatementPayments> = contract
        .issued
        .iter()
        .map(|issued| StatementPayments {
            seq: issued.seq,
            period: issued.period,
            pairs: match (trail.owed.get(&issued.seq), &issued.recomputed) {
                (Some(owed), Ok(_)) => Ok(owed
                    .iter()
                    .map(|o| PairMatch {
                        from: o.from.clone(),
                        to: o.to.clone(),
                        due: o.due,
                        paid: 0,
                    })
                    .collect()),
                (_, Err(reason)) => Err(format!("the statement cannot be recomputed: {reason}")),
                (None, Ok(_)) => Err("the statement was not recomputed".to_owned()),
            },
            payments: Vec::new(),
        })
        .collect();
    let index: BTreeMap<u64, usize> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| (s.seq, i))
        .collect();
    let mut unmatched = Vec::new();
    let not_matched = |p: &PaymentRecord, amount: i128, why: String| Unmatched {
        seq: p.seq,
        date: p.date,
        from: p.from.clone(),
        to: p.to.clone(),
        amount,
        currency: p.currency,
        why,
    };
    // First every payment that names its statement, in full; then the others, oldest
    // statement first.
    let mut unnamed = Vec::new();
    for p in trail
        .payments
        .iter()
        .filter(|p| !retracted.contains(&p.seq))
    {
        if p.currency != currency {
            unmatched.push(not_matched(
                p,
                p.minor,
                format!(
                    "in {}, not the contract's {}",
                    p.currency.code(),
                    currency.code()
                ),
            ));
            continue;
        }
        match p.settlement {
            Some(named) => match index.get(&named) {
                Some(&i) => statements[i].take(p, p.minor, true),
                None => unmatched.push(not_matched(
                    p,
                    p.minor,
                    format!("names seq {named}, which is no statement issued for the contract"),
                )),
            },
            None => unnamed.push(p),
        }
    }
    for p in unnamed {
        let mut rest = p.minor;
        for statement in statements.iter_mut().filter(|s| s.seq < p.seq) {
            if rest <= 0 {
                break;
            }
            let take = rest.min(statement.open(&p.from, &p.to));
            if take > 0 {
                statement.take(p, take, false);
                rest -= take;
            }
        }
        if rest > 0 {
            let why = if rest == p.minor {
                format!(
                    "names no statement, and no statement issued before it still calls for \
                     money from {} to {}",
                    p.from, p.to
                )
            } else {
                format!(
                    "names no statement, and is more than the statements issued before it \
                     still call for from {} to {}",
                    p.from, p.to
                )
            };
            unmatched.push(not_matched(p, rest, why));
        }
    }
    unmatched.sort_by_key(|u| u.seq);
    Payments {
        statements,
        unmatched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbr_core::event::PaymentRecorded;
    use pbr_core::ids::EventId;
    use pbr_core::money::Money;
    use pbr_core::settle::IssuedSummary;
    use pbr_core::state::Issued;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("the tests give valid dates")
    }

    fn payment(seq: u64, from: &str, to: &str, minor: i64, named: Option<u64>) -> Event {
        Event {
            contract: "c".into(),
            participant: None,
            business_date: day("2025-07-14"),
            payload: Payload::PaymentRecorded(PaymentRecorded {
                from: from.into(),
                to: to.into(),
                amount: Money::from_minor(minor, Currency::DKK),
                settlement_seq: named,
            }),
            author: from.into(),
            recorded_at_micros: 0,
            id: EventId([seq as u8; 16]),
        }
    }

    fn issued(seq: u64, period: &str) -> Issued {
        Issued {
            seq,
            period: period.parse().expect("the tests give valid periods"),
            recorded_hash: [0; 32],
            log_position: seq,
            recomputed: Ok(IssuedSummary {
                hash: [0; 32],
                accrued: BTreeMap::new(),
                returned: BTreeMap::new(),
                savings: BTreeMap::new(),
                exposure: BTreeMap::new(),
                receivable: BTreeMap::new(),
            }),
        }
    }

    fn owed(from: &str, to: &str, due: i128) -> Owed {
        Owed {
            from: from.into(),
            to: to.into(),
            due,
        }
    }

    /// Two statements calling for 100.00 and 50.00 from `a` to `b`, and payments that name
    /// none, a seq that is no statement, or were retracted.
    #[test]
    fn payments_that_name_no_statement_pay_the_oldest_open_one() {
        let contract = ContractState {
            issued: vec![issued(10, "2025-Q1"), issued(20, "2025-Q2")],
            ..ContractState::default()
        };
        let mut state = State::default();
        state.retracted.insert(34);
        let mut trail = Trail::new("c");
        trail.owed.insert(10, vec![owed("a", "b", 10000)]);
        trail.owed.insert(20, vec![owed("a", "b", 5000)]);
        for (seq, event) in [
            // Before the second statement: only the first can take it.
            (15, payment(15, "a", "b", 6000, None)),
            (30, payment(30, "a", "b", 6000, None)),
            (31, payment(31, "a", "b", 4000, None)),
            (32, payment(32, "a", "b", 99, Some(11))),
            (33, payment(33, "b", "a", 500, Some(20))),
            (34, payment(34, "a", "b", 100000, Some(20))),
        ] {
            trail.push(seq, &event);
        }
        let payments = match_payments(&contract, &trail, &state.retracted, Currency::DKK);
        let [first, second] = &payments.statements[..] else {
            panic!("two statements: {payments:?}");
        };
        assert_eq!(first.status(), PaymentStatus::Paid);
        assert_eq!((first.due(), first.paid()), (10000, 10000));
        assert_eq!(
            first
                .payments
                .iter()
                .map(|p| (p.seq, p.amount, p.named))
                .collect::<Vec<_>>(),
            [(15, 6000, false), (30, 4000, false)]
        );
        // 20.00 of seq 30, 35.00 of seq 31 (paying back the 5.00 `b` paid `a`), and the
        // named 5.00 the other way round.
        assert_eq!(
            second
                .payments
                .iter()
                .map(|p| (p.seq, p.amount, p.named))
                .collect::<Vec<_>>(),
            [(33, 500, true), (30, 2000, false), (31, 3500, false)]
        );
        assert_eq!(second.status(), PaymentStatus::Paid);
        assert_eq!(second.paid(), 5000);
        let unmatched: Vec<_> = payments
            .unmatched
            .iter()
            .map(|u| (u.seq, u.amount))
            .collect();
        assert_eq!(unmatched, [(31, 500), (32, 99)]);
        assert!(payments.unmatched[1].why.contains("names seq 11"));
    }

    #[test]
    fn a_statement_is_outstanding_when_any_pair_lacks_even_if_another_got_more() {
        let mut statement = StatementPayments {
            seq: 1,
            period: "2025-Q1".parse().expect("a valid period"),
            pairs: Ok(vec![
                PairMatch {
                    from: "a".into(),
                    to: "b".into(),
                    due: 10,
                    paid: 0,
                },
                PairMatch {
                    from: "b".into(),
                    to: "c".into(),
                    due: 10,
                    paid: 0,
                },
            ]),
            payments: Vec::new(),
        };
        assert_eq!(statement.status(), PaymentStatus::Outstanding);
        let record = |from: &str, to: &str| PaymentRecord {
            seq: 2,
            date: day("2025-04-01"),
            from: from.into(),
            to: to.into(),
            minor: 0,
            currency: Currency::DKK,
            settlement: Some(1),
        };
        statement.take(&record("a", "b"), 15, true);
        assert_eq!(statement.status(), PaymentStatus::Outstanding);
        assert_eq!((statement.outstanding(), statement.overpaid()), (10, 5));
        statement.take(&record("b", "c"), 10, true);
        assert_eq!(statement.status(), PaymentStatus::Overpaid);
        statement.take(&record("b", "a"), 5, true);
        assert_eq!(statement.status(), PaymentStatus::Paid);
        statement.take(&record("x", "y"), 1, true);
        assert_eq!(statement.status(), PaymentStatus::Overpaid);
        statement.pairs = Err("no".into());
        assert_eq!(statement.status(), PaymentStatus::NotAssessed);
    }
}
