//! The ledger's state as a fold over its events, and the rules that admit an event to it.
//!
//! [`State::admit`] decides whether an event may be appended (the author is a party whose
//! role may record the kind and whose key signed it; the facts it refers to exist), and
//! [`State::decide`] computes a claim's decision by the rules of `docs/validation.md`, in
//! their fixed order. [`State::apply`] folds an admitted event in. All three are pure: the
//! same events in the same order give the same state on any machine.
//!
//! Invariant: `apply` never fails for an event `admit` accepted, and `admit` never reads
//! anything but the state and the event.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::date::{Month, Period};
use crate::error::CoreError;
use crate::event::{
    Attributes, Event, OutcomeClawedBack, OutcomeRejected, OutcomeVerified, Payload, Purpose,
    RejectReason, Role, SelfSufficiency,
};
use crate::ids::ParticipantRef;
use crate::money::Money;

pub use crate::flows::{Flow, FlowKind, Flows};
use crate::terms::{Attribute, AttributeValue, Eligibility, OutcomeTerms, Subject, Terms};

/// What a claim is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ClaimSubject {
    /// A participant.
    Participant(ParticipantRef),
    /// A company.
    Company(String),
}

/// One version of a contract's terms.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TermsVersion {
    /// The first business day it governs.
    pub effective_from: NaiveDate,
    /// The seq of the event that recorded it.
    pub seq: u64,
    /// The TOML text.
    pub text: String,
    /// The parsed terms, parsed once on first use (every admission reads them).
    #[serde(skip)]
    parsed: std::sync::OnceLock<Result<std::sync::Arc<Terms>, String>>,
}

impl TermsVersion {
    fn new(effective_from: NaiveDate, seq: u64, text: String) -> TermsVersion {
        TermsVersion {
            effective_from,
            seq,
            text,
            parsed: std::sync::OnceLock::new(),
        }
    }

    /// The parsed terms.
    pub fn terms(&self, contract: &str) -> Result<std::sync::Arc<Terms>, CoreError> {
        self.parsed
            .get_or_init(|| {
                crate::terms::parse(contract, &self.text)
                    .map(std::sync::Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(CoreError::invalid)
    }
}

/// A contract's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ContractState {
    /// Terms versions, oldest first.
    pub versions: Vec<TermsVersion>,
    /// Parties: id → (role, public key), from the terms and later registrations.
    pub parties: BTreeMap<String, (Role, [u8; 32])>,
    /// Enrolled participants.
    pub participants: BTreeMap<ParticipantRef, Participant>,
    /// Registered companies.
    pub companies: BTreeSet<String>,
    /// Claims by seq.
    pub claims: BTreeMap<u64, Claim>,
    /// Recorded months: participant → month index → (seq, status).
    pub months: BTreeMap<ParticipantRef, Months>,
    /// Retention checks per participant, in log order (retracted ones are skipped when read).
    #[serde(default)]
    pub retention: BTreeMap<ParticipantRef, Vec<RetentionCheck>>,
    /// Money recorded as moving or owed outside statements, by seq.
    pub flows: Flows,
    /// Issued statements, in log order.
    pub issued: Vec<Issued>,
    /// The cumulative entitlement the last issued statement settled (key → amount), which
    /// the next statement subtracts. Derived: recomputed when the issue event is applied.
    pub settled: Option<std::sync::Arc<crate::settle::Settled>>,
    /// The settlement engine's running totals at the end of the last issued statement's
    /// period, kept while no fact folded in since could change an amount of a settled
    /// period ([`State::apply`] drops it otherwise), so that the next statement computes only
    /// its own periods. Derived, like `settled`.
    pub resume: Option<std::sync::Arc<crate::settle::Carry>>,
}

/// A participant's recorded months, sorted by month: (month index, seq, status). A sorted
/// vector rather than a map: a participant has a few dozen months, and a snapshot of
/// millions of them decodes as flat runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Months(Vec<(i32, u64, SelfSufficiency)>);

impl Months {
    /// The seq and status recorded for `month`.
    pub fn get(&self, month: &i32) -> Option<(u64, SelfSufficiency)> {
        self.0
            .binary_search_by_key(month, |m| m.0)
            .ok()
            .map(|i| (self.0[i].1, self.0[i].2))
    }

    /// Records `month`, replacing what was recorded for it.
    pub fn insert(&mut self, month: i32, (seq, status): (u64, SelfSufficiency)) {
        match self.0.binary_search_by_key(&month, |m| m.0) {
            Ok(i) => self.0[i] = (month, seq, status),
            Err(i) => self.0.insert(i, (month, seq, status)),
        }
    }

    /// Keeps the months for which `keep(month, seq, status)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(i32, u64, SelfSufficiency) -> bool) {
        self.0
            .retain(|&(month, seq, status)| keep(month, seq, status));
    }

    /// The months in `range`, in order.
    pub fn range(
        &self,
        range: std::ops::RangeInclusive<i32>,
    ) -> impl Iterator<Item = (i32, u64, SelfSufficiency)> + '_ {
        let start = self.0.partition_point(|m| m.0 < *range.start());
        self.0[start..]
            .iter()
            .take_while(move |m| m.0 <= *range.end())
            .copied()
    }
}

/// An issued statement, as the log records it, with what the engine recomputed for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Issued {
    /// The seq of the `settlement-issued` event.
    pub seq: u64,
    /// The period.
    pub period: Period,
    /// The hash the issuer recorded.
    pub recorded_hash: [u8; 32],
    /// The log position it covers (equal to `seq`).
    pub log_position: u64,
    /// The engine's recomputation of it at that position, or why it failed.
    pub recomputed: Result<crate::settle::IssuedSummary, String>,
}

/// An enrolled participant.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Participant {
    /// The seq of the enrolment.
    pub seq: u64,
    /// The start date.
    pub start: NaiveDate,
    /// The ESF+ categories at entry.
    pub attributes: StoredAttributes,
    /// The leaving date, once recorded.
    pub left: Option<NaiveDate>,
}

/// The attributes validation reads, kept in the state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StoredAttributes {
    /// Age at entry.
    pub age_at_entry: Option<u8>,
    /// ISCED level.
    pub isced: Option<u8>,
    /// Home party.
    pub home_party: Option<String>,
    /// Gender.
    pub gender: Option<crate::event::Gender>,
    /// Labour-market status at entry.
    pub entry_status: Option<crate::event::EntryStatus>,
    /// The yes-or-no categories, in the order of [`FLAGS`]: 2 bits each, 0 not recorded,
    /// 1 no, 2 yes.
    pub flags: u16,
}

/// The yes-or-no attributes kept in [`StoredAttributes::flags`], in order.
const FLAGS: [Attribute; 6] = [
    Attribute::Disability,
    Attribute::ThirdCountryNational,
    Attribute::ForeignBackground,
    Attribute::Minority,
    Attribute::Homeless,
    Attribute::Rural,
];

impl From<&Attributes> for StoredAttributes {
    fn from(a: &Attributes) -> StoredAttributes {
        let values = [
            a.disability,
            a.third_country_national,
            a.foreign_background,
            a.minority,
            a.homeless,
            a.rural,
        ];
        let flags = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let code: u16 = match v {
                    None => 0,
                    Some(false) => 1,
                    Some(true) => 2,
                };
                code << (2 * i)
            })
            .fold(0, |all, bits| all | bits);
        StoredAttributes {
            age_at_entry: a.age_at_entry,
            isced: a.isced,
            home_party: a.home_party.clone(),
            gender: a.gender,
            entry_status: a.entry_status,
            flags,
        }
    }
}

impl StoredAttributes {
    /// The recorded value of `attribute`, if any.
    pub fn value(&self, attribute: Attribute) -> Option<AttributeValue<'static>> {
        use crate::event::{EntryStatus, Gender};
        match attribute {
            Attribute::AgeAtEntry => self.age_at_entry.map(|v| AttributeValue::Number(v.into())),
            Attribute::Isced => self.isced.map(|v| AttributeValue::Number(v.into())),
            Attribute::Gender => self.gender.map(|g| {
                AttributeValue::Category(match g {
                    Gender::Woman => "woman",
                    Gender::Man => "man",
                    Gender::NonBinary => "non-binary",
                })
            }),
            Attribute::EntryStatus => self.entry_status.map(|e| {
                AttributeValue::Category(match e {
                    EntryStatus::Unemployed => "unemployed",
                    EntryStatus::LongTermUnemployed => "long-term-unemployed",
                    EntryStatus::Inactive => "inactive",
                    EntryStatus::Employed => "employed",
                })
            }),
            flag => {
                let i = FLAGS.iter().position(|f| *f == flag)?;
                match (self.flags >> (2 * i)) & 0b11 {
                    1 => Some(AttributeValue::Flag(false)),
                    2 => Some(AttributeValue::Flag(true)),
                    _ => None,
                }
            }
        }
    }

    /// The first of `rules` the attributes do not meet.
    pub fn first_unmet<'r>(&self, rules: &'r [Eligibility]) -> Option<&'r Eligibility> {
        rules
            .iter()
            .find(|rule| !rule.admits(self.value(rule.attribute)))
    }
}

/// A recorded retention check: the participant was in an activity over a span of days.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct RetentionCheck {
    /// Its seq.
    pub seq: u64,
    /// The activity.
    pub activity: crate::event::Activity,
    /// Hours a week, when recorded.
    pub hours_per_week: Option<u16>,
    /// The first day.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
}

/// The retention checks, recorded before seq `before` and not retracted, that cover every
/// day of the sustainment span of a claim (`activity_start` for 7 × `weeks` days) under
/// `terms`; `None` when they leave a day uncovered (or the claim has no activity start).
pub fn retention_cover(
    contract: &ContractState,
    retracted: &BTreeSet<u64>,
    participant: &ParticipantRef,
    activity_start: Option<NaiveDate>,
    weeks: u32,
    terms: &crate::terms::RetentionTerms,
    before: u64,
) -> Option<Vec<u64>> {
    let start = activity_start?;
    let last = start
        .checked_add_days(Days::new(7 * u64::from(weeks)))?
        .pred_opt()?;
    let mut checks: Vec<&RetentionCheck> = contract
        .retention
        .get(participant)
        .into_iter()
        .flatten()
        .filter(|c| c.seq < before && !retracted.contains(&c.seq))
        .filter(|c| terms.activities.contains(&c.activity))
        .filter(|c| {
            terms
                .min_hours_per_week
                .is_none_or(|min| c.hours_per_week.is_some_and(|h| h >= min))
        })
        .filter(|c| c.to >= start && c.from <= last)
        .collect();
    checks.sort_by_key(|c| (c.from, c.seq));
    // Walk the span: each check must start on or before the first uncovered day.
    let mut covered_to = start.pred_opt()?;
    let mut used = Vec::new();
    for check in checks {
        if covered_to >= last {
            break;
        }
        if check.from > covered_to.succ_opt()? {
            return None;
        }
        if check.to > covered_to {
            covered_to = check.to;
            used.push(check.seq);
        }
    }
    (covered_to >= last).then_some(used)
}

/// A claim and what became of it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claim {
    /// The subject.
    pub subject: ClaimSubject,
    /// The outcome code.
    pub outcome: String,
    /// When it was achieved.
    pub achieved: NaiveDate,
    /// When the activity behind a sustainment clock started.
    pub activity_start: Option<NaiveDate>,
    /// The decision, once made: (seq, decision date, accepted or the reason).
    pub decision: Option<(u64, NaiveDate, Result<(), RejectReason>)>,
    /// The claw-back, if any: (seq, date).
    pub clawed_back: Option<(u64, NaiveDate)>,
}

/// The whole ledger's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct State {
    /// Contracts by id.
    pub contracts: BTreeMap<String, ContractState>,
    /// Seqs retracted by corrections.
    pub retracted: BTreeSet<u64>,
    /// The number of events applied.
    pub applied: u64,
    /// A statement already computed for the `settlement-issued` event about to be applied
    /// (see [`State::prepare_issue`]); never persisted.
    #[serde(skip)]
    prepared: Option<Prepared>,
}

/// A statement computed at `seq` for `contract` and `period`, with its entitlement.
#[derive(Clone, Debug)]
struct Prepared {
    seq: u64,
    contract: String,
    period: Period,
    result: std::sync::Arc<(crate::settle::Statement, crate::settle::Entitlement)>,
}

/// Who signed a record, as the ledger saw it.
#[derive(Clone, Copy, Debug)]
pub struct Signer<'a> {
    /// The record's public key.
    pub public_key: &'a [u8; 32],
}

fn refuse<T>(reason: impl Into<String>) -> Result<T, CoreError> {
    Err(CoreError::invalid(reason))
}

/// A refusal under one of the rules of `docs/validation.md` that have a reason code: the
/// code leads the reason (`not-the-payer: …`), so a caller or a test can tell the rules apart.
fn refuse_as<T>(code: &'static str, reason: impl std::fmt::Display) -> Result<T, CoreError> {
    Err(CoreError::invalid(format!("{code}: {reason}")))
}

/// The roles that may record each kind unless the contract says otherwise.
pub fn default_roles(kind: &str) -> &'static [Role] {
    use Role::*;
    match kind {
        "contract-registered" | "contract-amended" | "party-registered" => &[Commissioner],
        "participant-enrolled" | "company-registered" | "monthly-status-recorded" => {
            &[Commissioner]
        }
        "participant-left" | "participant-followed-up" | "retention-recorded" => {
            &[Commissioner, Provider]
        }
        "outcome-claimed" | "cost-recorded" => &[Provider, Intermediary],
        "outcome-verified" | "outcome-rejected" | "outcome-clawed-back" => {
            &[Commissioner, Evaluator]
        }
        "funds-committed" | "funds-disbursed" => {
            &[Commissioner, Investor, Funder, Guarantor, Intermediary]
        }
        "payment-recorded" => &[
            Commissioner,
            Investor,
            Funder,
            Guarantor,
            Intermediary,
            Provider,
        ],
        "guarantee-called" => &[Guarantor, Provider, Commissioner],
        "settlement-issued" => &[Commissioner, Intermediary],
        "dispute-opened" | "dispute-evidence-attached" | "dispute-resolved" => &[
            Commissioner,
            Provider,
            Investor,
            Funder,
            Guarantor,
            Evaluator,
            Intermediary,
        ],
        "correction" => &[
            Commissioner,
            Provider,
            Investor,
            Funder,
            Guarantor,
            Evaluator,
            Intermediary,
        ],
        _ => &[],
    }
}

impl ContractState {
    /// The terms in force on `date` (the latest version effective on or before it; the
    /// first version before it starts).
    pub fn terms_on(&self, date: NaiveDate) -> Option<&TermsVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= date)
            .or(self.versions.first())
    }
}

impl State {
    /// The terms in force for `contract` on `date`.
    pub fn terms(
        &self,
        contract: &str,
        date: NaiveDate,
    ) -> Result<std::sync::Arc<Terms>, CoreError> {
        self.contracts
            .get(contract)
            .and_then(|c| c.terms_on(date))
            .ok_or_else(|| CoreError::invalid(format!("contract {contract} is not registered")))?
            .terms(contract)
    }

    /// Checks that `event`, signed by `signer`, may be appended now. `seq` is the seq it
    /// would get. Returns the terms that governed the check, when there were any.
    pub fn admit(&self, seq: u64, event: &Event, signer: Signer<'_>) -> Result<(), CoreError> {
        let kind = event.kind();
        if let Payload::ContractRegistered(p) = &event.payload {
            if self.contracts.contains_key(&event.contract) {
                let seq = self
                    .contracts
                    .get(&event.contract)
                    .and_then(|c| c.versions.first());
                return refuse(format!(
                    "contract {} is already registered (seq {}); `pbr contract amend` changes its terms",
                    event.contract,
                    seq.map_or(0, |v| v.seq)
                ));
            }
            return check_registration(event, &p.terms, &p.terms_hash, signer);
        }
        let Some(contract) = self.contracts.get(&event.contract) else {
            return refuse(format!("contract {} is not registered", event.contract));
        };
        if let Payload::ContractAmended(p) = &event.payload {
            check_registration(event, &p.terms, &p.terms_hash, signer)?;
        }
        let terms = self.terms(&event.contract, event.business_date)?;
        // The author: a party of the contract, signing with its key, in a role allowed.
        let Some((role, key)) = contract.parties.get(&event.author) else {
            return refuse_as(
                "not-a-party",
                format_args!(
                    "{} is not a party of contract {}",
                    event.author, event.contract
                ),
            );
        };
        if key != signer.public_key {
            return refuse_as(
                "wrong-key",
                format_args!("the record is not signed with {}'s key", event.author),
            );
        }
        let allowed: Vec<Role> = match terms.permissions.iter().find(|p| p.kind == kind) {
            Some(permission) => permission.roles.clone(),
            None => default_roles(kind).to_vec(),
        };
        if !allowed.contains(role) {
            return refuse_as(
                "role-not-allowed",
                format_args!("a {} may not record {kind}", role_name(*role)),
            );
        }
        self.check_party(contract, &terms, event, *role)?;
        let currency = terms.contract.currency;
        let participant =
            |required: bool| -> Result<Option<&Participant>, CoreError> {
                match (event.participant, required) {
                    (Some(p), _) => contract.participants.get(&p).map(Some).ok_or_else(|| {
                        CoreError::invalid(format!("participant {p} is not enrolled"))
                    }),
                    (None, true) => refuse(format!("{kind} needs a participant")),
                    (None, false) => Ok(None),
                }
            };
        let money = |amount: &crate::money::Money| {
            if amount.currency == currency {
                Ok(())
            } else {
                refuse(format!(
                    "the contract's currency is {currency}, not {}",
                    amount.currency
                ))
            }
        };
        let party = |id: &str| {
            if contract.parties.contains_key(id) {
                Ok(())
            } else {
                refuse(format!(
                    "{id} is not a party of contract {}",
                    event.contract
                ))
            }
        };
        match &event.payload {
            Payload::ContractRegistered(_) | Payload::ContractAmended(_) => Ok(()),
            Payload::PartyRegistered(p) => {
                crate::ids::check_name("party id", &p.party)?;
                if contract.parties.contains_key(&p.party) {
                    refuse(format!("{} is already a party", p.party))
                } else {
                    Ok(())
                }
            }
            Payload::ParticipantEnrolled(p) => {
                let Some(participant) = event.participant else {
                    return refuse("participant-enrolled needs a participant");
                };
                if contract.participants.contains_key(&participant) {
                    return refuse(format!("participant {participant} is already enrolled"));
                }
                if let Some(max) = terms.enrolment.as_ref().and_then(|e| e.max_participants)
                    && contract.participants.len() as u64 >= u64::from(max)
                {
                    return refuse(format!("the contract enrols at most {max} participants"));
                }
                if let Some(home) = &p.attributes.home_party {
                    party(home)?;
                }
                if p.attributes.isced.is_some_and(|level| level > 8) {
                    return refuse("an ISCED level is 0 to 8");
                }
                if let Some(enrolment) = terms.enrolment.as_ref().filter(|e| e.refuse_at_enrolment)
                {
                    let start = event.business_date;
                    if start < enrolment.from.0 || start > enrolment.to.0 {
                        return refuse_as(
                            "outside-enrolment-window",
                            format_args!(
                                "the contract enrols from {} to {}, not on {start}",
                                enrolment.from.0, enrolment.to.0
                            ),
                        );
                    }
                    let attributes = StoredAttributes::from(&p.attributes);
                    if let Some(rule) = attributes.first_unmet(&enrolment.eligibility) {
                        return refuse_as(
                            "outside-target-group",
                            format_args!(
                                "the contract's target group needs {}, and the participant's \
                                 is {}",
                                rule.describe(),
                                match attributes.value(rule.attribute) {
                                    None => "not recorded".to_owned(),
                                    Some(AttributeValue::Number(n)) => n.to_string(),
                                    Some(AttributeValue::Category(c)) => c.to_owned(),
                                    Some(AttributeValue::Flag(f)) =>
                                        (if f { "yes" } else { "no" }).to_owned(),
                                }
                            ),
                        );
                    }
                }
                Ok(())
            }
            Payload::ParticipantLeft(_) => {
                let Some(p) = participant(true)? else {
                    return refuse("participant-left needs a participant");
                };
                let months = terms
                    .enrolment
                    .as_ref()
                    .and_then(|e| e.participation_months);
                let last = match months {
                    Some(months) => Some(
                        p.start
                            .checked_add_months(chrono::Months::new(months))
                            .ok_or_else(|| CoreError::invalid("start date out of range"))?,
                    ),
                    None => None,
                };
                if event.business_date < p.start
                    || last.is_some_and(|last| event.business_date > last)
                {
                    return refuse_as(
                        "left-outside-participation",
                        format_args!(
                            "the participant started on {}{}; it cannot leave on {}",
                            p.start,
                            match (months, last) {
                                (Some(months), Some(last)) => format!(
                                    " and participates at most {months} months, until {last}"
                                ),
                                _ => String::new(),
                            },
                            event.business_date
                        ),
                    );
                }
                Ok(())
            }
            Payload::ParticipantFollowedUp(_) => participant(true).map(|_| ()),
            Payload::CompanyRegistered(p) => {
                crate::ids::check_name("company id", &p.company)?;
                if contract.companies.contains(&p.company) {
                    refuse(format!("company {} is already registered", p.company))
                } else {
                    Ok(())
                }
            }
            Payload::OutcomeClaimed(p) => {
                let Some(outcome) = terms.outcomes.iter().find(|o| o.code == p.outcome) else {
                    return refuse(format!(
                        "{} is not an outcome of contract {}",
                        p.outcome, event.contract
                    ));
                };
                if *role != outcome.claimed_by {
                    return refuse_as(
                        "role-not-allowed",
                        format_args!(
                            "a {} claims {}, not a {}",
                            role_name(outcome.claimed_by),
                            p.outcome,
                            role_name(*role)
                        ),
                    );
                }
                let achieved = crate::date::from_days(p.achieved)?;
                if event.business_date < achieved {
                    return refuse_as(
                        "claimed-before-achieved",
                        format_args!(
                            "{} is claimed on {} but achieved on {achieved}: an outcome is \
                             claimed once it is achieved",
                            p.outcome, event.business_date
                        ),
                    );
                }
                if let Some(weeks) = outcome.sustain_weeks {
                    let Some(start) = p.activity_start else {
                        return refuse_as(
                            "no-activity-start",
                            format_args!(
                                "{} is sustained {weeks} weeks: the claim must give the activity \
                                 start its clock runs from",
                                p.outcome
                            ),
                        );
                    };
                    let start = crate::date::from_days(start)?;
                    let reached = start
                        .checked_add_days(Days::new(7 * u64::from(weeks)))
                        .ok_or_else(|| CoreError::invalid("activity start out of range"))?;
                    if achieved < reached {
                        return refuse_as(
                            "sustainment-not-reached",
                            format_args!(
                                "{} needs {weeks} weeks from the activity start {start}, so it \
                                 is achieved on {reached} at the earliest, not {achieved}",
                                p.outcome
                            ),
                        );
                    }
                }
                match (outcome.subject, &p.company) {
                    (Subject::Participant, None) => participant(true).map(|_| ()),
                    (Subject::Company, Some(company)) if event.participant.is_none() => {
                        if contract.companies.contains(company) {
                            Ok(())
                        } else {
                            refuse(format!("company {company} is not registered"))
                        }
                    }
                    (Subject::Participant, Some(_)) => {
                        refuse(format!("{} is a participant outcome", p.outcome))
                    }
                    _ => refuse(format!(
                        "{} is a company outcome: name the company, not a participant",
                        p.outcome
                    )),
                }
            }
            Payload::OutcomeVerified(p) => {
                self.check_decision(contract, &terms, p.claim_seq, *role)?;
                if let Some(claim) = contract.claims.get(&p.claim_seq)
                    && event.business_date < claim.achieved
                {
                    return refuse_as(
                        "verified-before-achieved",
                        format_args!(
                            "claim {} was achieved on {}; it cannot be verified on {}",
                            p.claim_seq, claim.achieved, event.business_date
                        ),
                    );
                }
                // A decision records what the rules give, never what someone asserts.
                match self.decide(&event.contract, p.claim_seq, event.business_date, true)? {
                    Ok(()) => Ok(()),
                    Err(reason) => refuse(format!(
                        "claim {} cannot be accepted: the rules reject it ({})",
                        p.claim_seq,
                        reason_text(reason)
                    )),
                }
            }
            Payload::OutcomeRejected(p) => {
                self.check_decision(contract, &terms, p.claim_seq, *role)?;
                // The evidence is the verifier's judgement; every other reason must be the
                // first rule that fails.
                let evidence_valid = p.reason != RejectReason::Evidence;
                match self.decide(
                    &event.contract,
                    p.claim_seq,
                    event.business_date,
                    evidence_valid,
                )? {
                    Err(reason) if reason == p.reason => Ok(()),
                    Err(reason) => refuse(format!(
                        "claim {} fails {} first, not {}",
                        p.claim_seq,
                        reason_text(reason),
                        reason_text(p.reason)
                    )),
                    Ok(()) => refuse(format!(
                        "claim {} passes every rule; it cannot be rejected for {}",
                        p.claim_seq,
                        reason_text(p.reason)
                    )),
                }
            }
            Payload::OutcomeClawedBack(p) => match contract.claims.get(&p.claim_seq) {
                Some(Claim {
                    decision: Some((_, decided, Ok(()))),
                    clawed_back: None,
                    ..
                }) if event.business_date < *decided => refuse(format!(
                    "claim {} was accepted on {decided}; a claw-back cannot be dated before it",
                    p.claim_seq
                )),
                Some(Claim {
                    decision: Some((_, _, Ok(()))),
                    clawed_back: None,
                    ..
                }) => Ok(()),
                Some(Claim {
                    clawed_back: Some(_),
                    ..
                }) => refuse(format!("claim {} is already clawed back", p.claim_seq)),
                Some(_) => refuse(format!("claim {} was not accepted", p.claim_seq)),
                None => refuse(format!(
                    "seq {} is not a claim of contract {}",
                    p.claim_seq, event.contract
                )),
            },
            Payload::RetentionRecorded(p) => {
                participant(true)?;
                if p.to < p.from {
                    return refuse("a retention span ends before it starts");
                }
                Ok(())
            }
            Payload::MonthlyStatusRecorded(p) => {
                let participant_ref = event.participant;
                participant(true)?;
                let recorded = participant_ref
                    .and_then(|r| contract.months.get(&r))
                    .and_then(|months| months.get(&p.month));
                match recorded {
                    Some((seq, _)) => refuse(format!(
                        "the status of {} is already recorded (seq {seq}); correct that event first",
                        Month::from_index(p.month)
                    )),
                    None => Ok(()),
                }
            }
            Payload::FundsCommitted(p) => party(&p.from).and(party(&p.to)).and(money(&p.amount)),
            Payload::FundsDisbursed(p) => party(&p.from).and(party(&p.to)).and(money(&p.amount)),
            Payload::CostRecorded(p) => party(&p.party).and(money(&p.amount)),
            Payload::PaymentRecorded(p) => party(&p.from).and(party(&p.to)).and(money(&p.amount)),
            Payload::GuaranteeCalled(p) => party(&p.guarantor)
                .and(party(&p.beneficiary))
                .and(money(&p.amount)),
            Payload::SettlementIssued(p) => {
                let period = p.period.parse::<Period>()?;
                if Period::containing(terms.contract.settlement, period.last_day()) != period {
                    return refuse(format!(
                        "contract {} does not settle by {}",
                        event.contract, p.period
                    ));
                }
                if p.log_position != seq {
                    return refuse(format!(
                        "a statement covers every event before it: log_position must be {seq}"
                    ));
                }
                if let Some(last) = contract.issued.last()
                    && period <= last.period
                {
                    return refuse(format!(
                        "{} is settled up to {} (seq {}); issue a later period",
                        event.contract, last.period, last.seq
                    ));
                }
                Ok(())
            }
            Payload::DisputeOpened(p) => self.check_earlier(seq, p.about_seq),
            Payload::DisputeEvidenceAttached(p) => self.check_earlier(seq, p.dispute_seq),
            Payload::DisputeResolved(p) => self.check_earlier(seq, p.dispute_seq),
            Payload::Correction(p) => {
                self.check_earlier(seq, p.retracts_seq)?;
                if self.retracted.contains(&p.retracts_seq) {
                    return refuse(format!("seq {} is already retracted", p.retracts_seq));
                }
                if contract.issued.iter().any(|i| i.seq == p.retracts_seq) {
                    return refuse(format!(
                        "seq {} is an issued statement, which is never rewritten: the next \
                         statement adjusts it",
                        p.retracts_seq
                    ));
                }
                Ok(())
            }
        }
    }

    /// Authority by party (`docs/validation.md`, "Who may assert what"): past the role, the
    /// author must be the party the fact is about: the payer of a claim (or a delegate) for
    /// its decision, a side of a payment for the payment, the party whose cost it is, …
    fn check_party(
        &self,
        contract: &ContractState,
        terms: &Terms,
        event: &Event,
        role: Role,
    ) -> Result<(), CoreError> {
        let author = event.author.as_str();
        let positive = |amount: &Money| {
            if amount.minor > 0 {
                Ok(())
            } else {
                refuse_as(
                    "not-positive",
                    format_args!(
                        "the amount must be more than 0.00, not {} (a correction retracts a \
                         wrong amount)",
                        amount.to_decimal()
                    ),
                )
            }
        };
        let sides = |from: &str, to: &str| {
            if author == from || author == to {
                Ok(())
            } else {
                refuse_as(
                    "not-a-side",
                    format_args!(
                        "{author} may not record money moving from {from} to {to}: only {from} \
                         or {to} may"
                    ),
                )
            }
        };
        // A commissioner speaks for its own citizens: about a participant with a home party,
        // only that party (or a role other than commissioner the kind allows) may record.
        let home = |participant: Option<&Participant>| match participant
            .and_then(|p| p.attributes.home_party.as_deref())
        {
            Some(home) if role == Role::Commissioner && home != author => refuse_as(
                "not-the-home-party",
                format_args!("the participant's home party is {home}, not {author}"),
            ),
            _ => Ok(()),
        };
        let participant = event
            .participant
            .and_then(|p| contract.participants.get(&p));
        match &event.payload {
            Payload::ParticipantEnrolled(p) => match &p.attributes.home_party {
                Some(home) if role == Role::Commissioner && home != author => refuse_as(
                    "not-the-home-party",
                    format_args!("{author} may not enrol a participant whose home party is {home}"),
                ),
                _ => Ok(()),
            },
            Payload::ParticipantLeft(_)
            | Payload::ParticipantFollowedUp(_)
            | Payload::RetentionRecorded(_)
            | Payload::MonthlyStatusRecorded(_) => home(participant),
            Payload::OutcomeClaimed(p) => {
                let Some(outcome) = terms.outcomes.iter().find(|o| o.code == p.outcome) else {
                    return Ok(()); // refused below, naming the outcome
                };
                let claimants = claimants(contract, outcome);
                if claimants.iter().any(|c| c == author) {
                    Ok(())
                } else {
                    refuse_as(
                        "not-a-claimant",
                        format_args!(
                            "{author} may not claim {}: its claimants are {}",
                            p.outcome,
                            claimants.join(", ")
                        ),
                    )
                }
            }
            Payload::OutcomeVerified(OutcomeVerified { claim_seq })
            | Payload::OutcomeRejected(OutcomeRejected { claim_seq, .. })
            | Payload::OutcomeClawedBack(OutcomeClawedBack { claim_seq, .. }) => {
                let Some(claim) = contract.claims.get(claim_seq) else {
                    return Ok(()); // refused below, naming the seq
                };
                let Some(outcome) = terms.outcomes.iter().find(|o| o.code == claim.outcome) else {
                    return Ok(());
                };
                let mut deciders = paying_parties(contract, outcome, &claim.subject);
                deciders.extend(outcome.verifiers.iter().cloned());
                if deciders.iter().any(|d| d == author) {
                    Ok(())
                } else {
                    refuse_as(
                        "not-the-payer",
                        format_args!(
                            "{author} may not decide or claw back claim {claim_seq} of {}: only \
                             the party that pays it or a party the terms delegate to may ({})",
                            claim.outcome,
                            if deciders.is_empty() {
                                "none is known".to_owned()
                            } else {
                                deciders.join(", ")
                            }
                        ),
                    )
                }
            }
            Payload::FundsCommitted(p) => sides(&p.from, &p.to).and(positive(&p.amount)),
            Payload::FundsDisbursed(p) => sides(&p.from, &p.to).and(positive(&p.amount)),
            Payload::PaymentRecorded(p) => sides(&p.from, &p.to).and(positive(&p.amount)),
            Payload::GuaranteeCalled(p) => {
                sides(&p.guarantor, &p.beneficiary).and(positive(&p.amount))
            }
            Payload::CostRecorded(p) => {
                if p.party != author {
                    return refuse_as(
                        "not-own-cost",
                        format_args!("{author} may not record a cost of {}", p.party),
                    );
                }
                positive(&p.amount)
            }
            Payload::SettlementIssued(_) => {
                let issuers = issuers(terms);
                if issuers.iter().any(|i| i == author) {
                    Ok(())
                } else {
                    refuse_as(
                        "not-an-issuer",
                        format_args!(
                            "{author} may not issue statements of {}: the terms name {}",
                            event.contract,
                            if issuers.is_empty() {
                                "no issuer".to_owned()
                            } else {
                                issuers.join(", ")
                            }
                        ),
                    )
                }
            }
            _ => Ok(()),
        }
    }

    fn check_earlier(&self, seq: u64, other: u64) -> Result<(), CoreError> {
        if other < seq {
            Ok(())
        } else {
            refuse(format!("seq {other} is not an earlier event"))
        }
    }

    fn check_decision(
        &self,
        contract: &ContractState,
        terms: &Terms,
        claim_seq: u64,
        role: Role,
    ) -> Result<(), CoreError> {
        let Some(claim) = contract.claims.get(&claim_seq) else {
            return refuse(format!("seq {claim_seq} is not a claim of this contract"));
        };
        if claim.decision.is_some() {
            return refuse(format!("claim {claim_seq} is already decided"));
        }
        if let Some((seq, _)) = claim.clawed_back {
            return refuse(format!(
                "claim {claim_seq} was clawed back (seq {seq}); correct the claw-back before \
                 deciding it again"
            ));
        }
        if self.retracted.contains(&claim_seq) {
            return refuse(format!("claim {claim_seq} was retracted"));
        }
        let verifier = terms
            .outcomes
            .iter()
            .find(|o| o.code == claim.outcome)
            .map(|o| o.verified_by);
        if verifier != Some(role) {
            return refuse_as(
                "role-not-allowed",
                format_args!(
                    "a {} may not decide claims of {}",
                    role_name(role),
                    claim.outcome
                ),
            );
        }
        Ok(())
    }

    /// The decision on claim `claim_seq` on `decision_date`, given the verifier's judgement
    /// of the evidence: accepted, or the first rule that fails, in the order of
    /// `docs/validation.md`. Caps are not a reason: they limit what is paid, at settlement.
    pub fn decide(
        &self,
        contract_id: &str,
        claim_seq: u64,
        decision_date: NaiveDate,
        evidence_valid: bool,
    ) -> Result<Result<(), RejectReason>, CoreError> {
        let contract = self.contracts.get(contract_id).ok_or_else(|| {
            CoreError::invalid(format!("contract {contract_id} is not registered"))
        })?;
        let claim = contract.claims.get(&claim_seq).ok_or_else(|| {
            CoreError::invalid(format!(
                "seq {claim_seq} is not a claim of contract {contract_id}"
            ))
        })?;
        let terms = self.terms(contract_id, decision_date)?;
        let outcome = terms
            .outcomes
            .iter()
            .find(|o| o.code == claim.outcome)
            .ok_or_else(|| {
                CoreError::invalid(format!(
                    "{} is not an outcome of the terms in force",
                    claim.outcome
                ))
            })?;
        Ok(self.rules(
            contract,
            &terms,
            outcome,
            claim,
            claim_seq,
            decision_date,
            evidence_valid,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn rules(
        &self,
        contract: &ContractState,
        terms: &Terms,
        outcome: &OutcomeTerms,
        claim: &Claim,
        claim_seq: u64,
        decided: NaiveDate,
        evidence_valid: bool,
    ) -> Result<(), RejectReason> {
        let participant = match &claim.subject {
            ClaimSubject::Participant(p) => contract.participants.get(p),
            ClaimSubject::Company(_) => None,
        };
        // 1. Enrolment window: the participant's start date.
        if let (Some(p), Some(window)) = (participant, &terms.enrolment)
            && (p.start < window.from.0 || p.start > window.to.0)
        {
            return Err(RejectReason::EnrolmentWindow);
        }
        // 2. Eligibility by attributes at entry: the contract's target group, then the
        // outcome's own conditions.
        if let Some(p) = participant {
            let target = terms
                .enrolment
                .as_ref()
                .map_or(&[][..], |e| e.eligibility.as_slice());
            if p.attributes.first_unmet(target).is_some()
                || p.attributes.first_unmet(&outcome.eligibility).is_some()
            {
                return Err(RejectReason::Eligibility);
            }
        }
        // 3. Outcome window: the achievement date (for a sustainment clock, the date the
        // clock reaches the required weeks).
        let achieved = match (outcome.sustain_weeks, claim.activity_start) {
            (Some(weeks), Some(start)) => start
                .checked_add_days(Days::new(7 * u64::from(weeks)))
                .unwrap_or(claim.achieved)
                .max(claim.achieved),
            _ => claim.achieved,
        };
        if outcome.achieved_by.is_some_and(|by| achieved > by.0) {
            return Err(RejectReason::OutcomeWindow);
        }
        // 4. Claim deadline: the decision date.
        if outcome.claim_deadline.is_some_and(|by| decided > by.0) {
            return Err(RejectReason::ClaimDeadline);
        }
        // 5. Evidence, as the verifier judged it; for an outcome the terms prove by
        // retention checks, the checks recorded so far must cover its sustainment span.
        if !evidence_valid {
            return Err(RejectReason::Evidence);
        }
        if let (Some(retention), Some(weeks), ClaimSubject::Participant(p)) =
            (&outcome.retention, outcome.sustain_weeks, &claim.subject)
            && retention_cover(
                contract,
                &self.retracted,
                p,
                claim.activity_start,
                weeks,
                retention,
                u64::MAX,
            )
            .is_none()
        {
            return Err(RejectReason::Retention);
        }
        // 6. Duplicate: the subject already has max-claims accepted claims of it (claw-backs
        // keep their claim key).
        let accepted = |code: &str, before: Option<NaiveDate>| -> Vec<&Claim> {
            contract
                .claims
                .iter()
                .filter(|(seq, c)| {
                    **seq != claim_seq
                        && c.subject == claim.subject
                        && c.outcome == code
                        && !self.retracted.contains(seq)
                        && matches!(c.decision, Some((_, date, Ok(()))) if before.is_none_or(|b| date <= b))
                })
                .map(|(_, c)| c)
                .collect()
        };
        if accepted(&outcome.code, None).len() as u64 >= u64::from(outcome.max_claims) {
            return Err(RejectReason::Duplicate);
        }
        // 7. Mutual exclusivity: an excluded outcome accepted first and not clawed back on or
        // before this decision (a clawed-back outcome was never due, so it excludes nothing).
        if outcome.excludes.iter().any(|code| {
            accepted(code, None)
                .iter()
                .any(|c| c.clawed_back.is_none_or(|(_, date)| date > decided))
        }) {
            return Err(RejectReason::MutuallyExclusive);
        }
        // 8. Prerequisites: accepted with an earlier or same-day decision, and not clawed back
        // on or before this decision.
        let satisfied = |code: &String| {
            accepted(code, Some(decided))
                .iter()
                .any(|c| c.clawed_back.is_none_or(|(_, date)| date > decided))
        };
        if !outcome.requires.iter().all(satisfied) {
            return Err(RejectReason::Prerequisite);
        }
        if !outcome.requires_any.is_empty() && !outcome.requires_any.iter().any(satisfied) {
            return Err(RejectReason::Prerequisite);
        }
        Ok(())
    }

    /// Hands `apply` the statement the caller computed for the `settlement-issued` event it is
    /// about to append at `seq`, so that it is not computed twice. The state at `seq` is the
    /// same either way, so the result is too; a mismatch of seq, contract or period is
    /// ignored and `apply` computes.
    pub fn prepare_issue(
        &mut self,
        seq: u64,
        contract: &str,
        period: Period,
        statement: crate::settle::Statement,
        entitlement: crate::settle::Entitlement,
    ) {
        self.prepared = Some(Prepared {
            seq,
            contract: contract.to_owned(),
            period,
            result: std::sync::Arc::new((statement, entitlement)),
        });
    }

    /// Drops a statement handed over by [`State::prepare_issue`] that was not used.
    pub fn forget_prepared(&mut self) {
        self.prepared = None;
    }

    /// Folds an admitted event in as an auditor does: a `settlement-issued` event's statement
    /// is recomputed from its contract's first period, not from the carry the previous
    /// statement left (`pbr audit` and the audit report take no shortcut on trust).
    pub fn apply_recomputing(&mut self, seq: u64, event: &Event) -> Result<(), CoreError> {
        if let Payload::SettlementIssued(_) = &event.payload
            && let Some(contract) = self.contracts.get_mut(&event.contract)
        {
            contract.resume = None;
        }
        self.apply(seq, event)
    }

    /// Folds an admitted event in.
    pub fn apply(&mut self, seq: u64, event: &Event) -> Result<(), CoreError> {
        self.applied = seq + 1;
        self.drop_stale_carries(event);
        let date = event.business_date;
        match &event.payload {
            Payload::ContractRegistered(p) => {
                let terms = crate::terms::parse(&event.contract, &p.terms)
                    .map_err(|e| CoreError::invalid(e.to_string()))?;
                let contract = self.contracts.entry(event.contract.clone()).or_default();
                contract.versions.push(TermsVersion::new(
                    terms.contract.start.0,
                    seq,
                    p.terms.clone(),
                ));
                set_parties(contract, &terms)?;
            }
            Payload::ContractAmended(p) => {
                let terms = crate::terms::parse(&event.contract, &p.terms)
                    .map_err(|e| CoreError::invalid(e.to_string()))?;
                let contract = self.contract_mut(&event.contract)?;
                let from = crate::date::from_days(p.effective_from)?;
                contract
                    .versions
                    .push(TermsVersion::new(from, seq, p.terms.clone()));
                contract.versions.sort_by_key(|v| (v.effective_from, v.seq));
                set_parties(contract, &terms)?;
            }
            Payload::PartyRegistered(p) => {
                self.contract_mut(&event.contract)?
                    .parties
                    .insert(p.party.clone(), (p.role, p.public_key));
            }
            Payload::ParticipantEnrolled(p) => {
                if let Some(participant) = event.participant {
                    let attributes = StoredAttributes::from(&p.attributes);
                    self.contract_mut(&event.contract)?.participants.insert(
                        participant,
                        Participant {
                            seq,
                            start: date,
                            attributes,
                            left: None,
                        },
                    );
                }
            }
            Payload::ParticipantLeft(_) => {
                if let Some(participant) = event.participant
                    && let Some(p) = self
                        .contract_mut(&event.contract)?
                        .participants
                        .get_mut(&participant)
                {
                    p.left = Some(date);
                }
            }
            Payload::CompanyRegistered(p) => {
                self.contract_mut(&event.contract)?
                    .companies
                    .insert(p.company.clone());
            }
            Payload::OutcomeClaimed(p) => {
                let subject = match (&p.company, event.participant) {
                    (Some(company), _) => ClaimSubject::Company(company.clone()),
                    (None, Some(participant)) => ClaimSubject::Participant(participant),
                    (None, None) => return refuse("a claim needs a subject"),
                };
                let claim = Claim {
                    subject,
                    outcome: p.outcome.clone(),
                    achieved: crate::date::from_days(p.achieved)?,
                    activity_start: p.activity_start.map(crate::date::from_days).transpose()?,
                    decision: None,
                    clawed_back: None,
                };
                self.contract_mut(&event.contract)?
                    .claims
                    .insert(seq, claim);
            }
            Payload::OutcomeVerified(p) => {
                self.set_decision(&event.contract, p.claim_seq, seq, date, Ok(()))?
            }
            Payload::OutcomeRejected(p) => {
                self.set_decision(&event.contract, p.claim_seq, seq, date, Err(p.reason))?
            }
            Payload::OutcomeClawedBack(p) => {
                if let Some(claim) = self
                    .contract_mut(&event.contract)?
                    .claims
                    .get_mut(&p.claim_seq)
                {
                    claim.clawed_back = Some((seq, date));
                }
            }
            Payload::MonthlyStatusRecorded(p) => {
                if let Some(participant) = event.participant {
                    self.contract_mut(&event.contract)?
                        .months
                        .entry(participant)
                        .or_default()
                        .insert(p.month, (seq, p.status));
                }
            }
            Payload::RetentionRecorded(p) => {
                if let Some(participant) = event.participant {
                    let check = RetentionCheck {
                        seq,
                        activity: p.activity,
                        hours_per_week: p.hours_per_week,
                        from: crate::date::from_days(p.from)?,
                        to: crate::date::from_days(p.to)?,
                    };
                    self.contract_mut(&event.contract)?
                        .retention
                        .entry(participant)
                        .or_default()
                        .push(check);
                }
            }
            Payload::FundsCommitted(p) => self.add_flow(
                event,
                seq,
                FlowKind::Committed,
                &p.from,
                &p.to,
                p.amount,
                Some(p.purpose),
            )?,
            Payload::FundsDisbursed(p) => self.add_flow(
                event,
                seq,
                FlowKind::Disbursed,
                &p.from,
                &p.to,
                p.amount,
                Some(p.purpose),
            )?,
            Payload::CostRecorded(p) => {
                self.add_flow(event, seq, FlowKind::Cost, &p.party, "", p.amount, None)?
            }
            Payload::PaymentRecorded(p) => self.add_flow(
                event,
                seq,
                FlowKind::Payment,
                &p.from,
                &p.to,
                p.amount,
                None,
            )?,
            Payload::GuaranteeCalled(p) => self.add_flow(
                event,
                seq,
                FlowKind::GuaranteeCalled,
                &p.guarantor,
                &p.beneficiary,
                p.amount,
                None,
            )?,
            Payload::SettlementIssued(p) => {
                let period = p.period.parse::<Period>()?;
                // The state is exactly the prefix the statement covers (log_position = seq),
                // so the engine recomputes it here, once, for the next statement and for
                // balances. A failure is kept, not raised: apply never fails an admitted event.
                let prepared = self
                    .prepared
                    .take()
                    .filter(|p| p.seq == seq && p.contract == event.contract && p.period == period);
                let recomputed = match prepared {
                    Some(p) => Ok(p.result.as_ref().clone()),
                    None => crate::settle::settle(self, &event.contract, period, seq),
                };
                let contract = self.contract_mut(&event.contract)?;
                let recomputed = recomputed.and_then(|(statement, entitlement)| {
                    let summary = crate::settle::IssuedSummary::of(&statement, &entitlement)?;
                    let previous = contract.settled.as_deref();
                    let settled = crate::settle::Settled::of(previous, &entitlement, seq);
                    Ok((summary, settled, entitlement.carry()))
                });
                let recomputed = match recomputed {
                    Ok((summary, settled, carry)) => {
                        contract.settled = Some(std::sync::Arc::new(settled));
                        contract.resume = Some(std::sync::Arc::new(carry));
                        Ok(summary)
                    }
                    Err(e) => {
                        contract.resume = None;
                        Err(e.reason)
                    }
                };
                contract.issued.push(Issued {
                    seq,
                    period,
                    recorded_hash: p.statement_hash,
                    log_position: p.log_position,
                    recomputed,
                });
            }
            Payload::Correction(p) => {
                self.retracted.insert(p.retracts_seq);
                self.undo(p.retracts_seq);
            }
            _ => {}
        }
        Ok(())
    }

    /// Drops the settlement carry of every contract `event` could change a settled period
    /// of, before it is folded in: the next statement of such a contract computes from the
    /// first period and shows the change as adjustment lines. Anything not known to stay out
    /// of the settled periods drops the carry, so a fact this does not foresee costs time,
    /// never a wrong statement (a property test compares both ways of settling).
    fn drop_stale_carries(&mut self, event: &Event) {
        if let Payload::Correction(_) = event.payload {
            // A retraction can reach any contract's facts.
            for contract in self.contracts.values_mut() {
                contract.resume = None;
            }
            return;
        }
        let Some(contract) = self.contracts.get_mut(&event.contract) else {
            return;
        };
        let (Some(_), Some(issued)) = (&contract.resume, contract.issued.last()) else {
            return;
        };
        let settled_to = issued.period.last_day();
        if reaches_back(contract, event, settled_to) {
            contract.resume = None;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_flow(
        &mut self,
        event: &Event,
        seq: u64,
        kind: FlowKind,
        from: &str,
        to: &str,
        amount: Money,
        purpose: Option<Purpose>,
    ) -> Result<(), CoreError> {
        let flow = Flow {
            date: event.business_date,
            kind,
            from,
            to,
            amount,
            purpose,
        };
        self.contract_mut(&event.contract)?.flows.insert(seq, flow)
    }

    /// Makes a retracted event stop counting where validation and settlement read it.
    fn undo(&mut self, retracted: u64) {
        for contract in self.contracts.values_mut() {
            for months in contract.months.values_mut() {
                months.retain(|_, seq, _| seq != retracted);
            }
            contract.flows.remove(retracted);
            for claim in contract.claims.values_mut() {
                if claim
                    .decision
                    .as_ref()
                    .is_some_and(|(seq, _, _)| *seq == retracted)
                {
                    claim.decision = None;
                }
                if claim.clawed_back.is_some_and(|(seq, _)| seq == retracted) {
                    claim.clawed_back = None;
                }
            }
        }
    }

    fn set_decision(
        &mut self,
        contract: &str,
        claim_seq: u64,
        seq: u64,
        date: NaiveDate,
        decision: Result<(), RejectReason>,
    ) -> Result<(), CoreError> {
        if let Some(claim) = self.contract_mut(contract)?.claims.get_mut(&claim_seq) {
            claim.decision = Some((seq, date, decision));
        }
        Ok(())
    }

    fn contract_mut(&mut self, id: &str) -> Result<&mut ContractState, CoreError> {
        self.contracts
            .get_mut(id)
            .ok_or_else(|| CoreError::invalid(format!("contract {id} is not registered")))
    }
}

/// Whether folding `event` into `contract` could change what the settlement engine computes
/// for a period ending on or before `settled_to`. Each arm follows what the engine reads
/// (`settle::engine`): statuses by month, decisions and claw-backs by date (and the one they
/// replace), disbursements and costs by date, participants by start and months, the terms.
fn reaches_back(contract: &ContractState, event: &Event, settled_to: NaiveDate) -> bool {
    let settled = |date: NaiveDate| date <= settled_to;
    let decision_date = |claim_seq: u64| {
        contract
            .claims
            .get(&claim_seq)
            .and_then(|c| c.decision.map(|(_, date, _)| date))
    };
    match &event.payload {
        // A month's status pays in its own period or in a later run's; it can break or
        // join runs, but only from its month on.
        Payload::MonthlyStatusRecorded(p) => settled(Month::from_index(p.month).first_day()),
        // A decision pays (or not) in the period of its date, and replaces an earlier one.
        Payload::OutcomeVerified(p) => {
            settled(event.business_date) || decision_date(p.claim_seq).is_some_and(settled)
        }
        Payload::OutcomeRejected(p) => {
            settled(event.business_date) || decision_date(p.claim_seq).is_some_and(settled)
        }
        Payload::OutcomeClawedBack(p) => {
            let before = contract
                .claims
                .get(&p.claim_seq)
                .and_then(|c| c.clawed_back.map(|(_, date)| date));
            settled(event.business_date) || before.is_some_and(settled)
        }
        // The facility's cash moves with disbursements and costs in their period; payments,
        // commitments and guarantee calls are balances, not entitlement.
        Payload::FundsDisbursed(_) | Payload::CostRecorded(_) => settled(event.business_date),
        Payload::PaymentRecorded(_) | Payload::FundsCommitted(_) | Payload::GuaranteeCalled(_) => {
            false
        }
        // A new participant counts from the months recorded for them, all still to come;
        // enrolling one again moves their window.
        Payload::ParticipantEnrolled(_) => event.participant.is_none_or(|p| {
            contract.participants.contains_key(&p) || contract.months.contains_key(&p)
        }),
        // What the engine does not read.
        Payload::ParticipantLeft(_)
        | Payload::ParticipantFollowedUp(_)
        | Payload::PartyRegistered(_)
        | Payload::CompanyRegistered(_)
        | Payload::OutcomeClaimed(_)
        | Payload::RetentionRecorded(_)
        | Payload::SettlementIssued(_)
        | Payload::DisputeOpened(_)
        | Payload::DisputeEvidenceAttached(_)
        | Payload::DisputeResolved(_) => false,
        // New terms, a correction, and any kind added later: assume the worst.
        _ => true,
    }
}

fn set_parties(contract: &mut ContractState, terms: &Terms) -> Result<(), CoreError> {
    for party in &terms.parties {
        let public_key = crate::ids::verifier_key_public_key(&party.key).ok_or_else(|| {
            CoreError::invalid(format!("the key of {} is not a verifier key", party.id))
        })?;
        contract
            .parties
            .insert(party.id.clone(), (party.role, public_key));
    }
    Ok(())
}

/// A registration or amendment: the hash matches, the terms load, and the author is a
/// commissioner of those terms signing with the key they name.
fn check_registration(
    event: &Event,
    text: &str,
    hash: &[u8; 32],
    signer: Signer<'_>,
) -> Result<(), CoreError> {
    if blake3::hash(text.as_bytes()).as_bytes() != hash {
        return refuse("terms_hash is not the BLAKE3 hash of the terms");
    }
    let terms = crate::terms::parse(&event.contract, text)
        .map_err(|e| CoreError::invalid(e.to_string()))?;
    if terms.contract.id != event.contract {
        return refuse(format!(
            "the terms are of contract {}, not {}",
            terms.contract.id, event.contract
        ));
    }
    let Some(party) = terms.parties.iter().find(|p| p.id == event.author) else {
        return refuse(format!("{} is not a party of the terms", event.author));
    };
    if party.role != Role::Commissioner {
        return refuse("only a commissioner registers or amends a contract");
    }
    if crate::ids::verifier_key_public_key(&party.key).as_ref() != Some(signer.public_key) {
        return refuse(format!(
            "the record is not signed with the key the terms give {}",
            event.author
        ));
    }
    Ok(())
}

impl State {
    /// The enrolled participant whose reference starts with `prefix` (4 to 64 hex digits):
    /// people know a participant by the first digits a table shows, so a unique prefix names
    /// one. None, or several, is an error that says which.
    pub fn find_participant(&self, prefix: &str) -> Result<ParticipantRef, CoreError> {
        let prefix = prefix.trim().to_ascii_lowercase();
        if prefix.len() < 4 || prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return refuse(format!(
                "{prefix:?} is not a participant reference or a prefix of one (4 to 64 hex digits)"
            ));
        }
        let mut found: BTreeSet<ParticipantRef> = BTreeSet::new();
        for contract in self.contracts.values() {
            for reference in contract.participants.keys() {
                if reference.to_string().starts_with(&prefix) {
                    found.insert(*reference);
                }
            }
        }
        let mut found = found.into_iter();
        match (found.next(), found.next()) {
            (Some(one), None) => Ok(one),
            (None, _) => refuse(format!(
                "no enrolled participant's reference starts with {prefix}"
            )),
            (Some(first), Some(second)) => refuse(format!(
                "{prefix} starts the references of {} participants ({}…, {}…{}): give more digits",
                2 + found.len(),
                &first.to_string()[..12],
                &second.to_string()[..12],
                if found.len() > 0 { ", …" } else { "" }
            )),
        }
    }
}

/// A correction may retract only what its own author recorded (`docs/validation.md`, "Who
/// may assert what"): the state does not keep every event's author, so the caller reads the
/// retracted event's author from the log and passes it here, after [`State::admit`].
pub fn check_correction_author(event: &Event, retracted_author: &str) -> Result<(), CoreError> {
    match &event.payload {
        Payload::Correction(p) if event.author != retracted_author => refuse_as(
            "not-the-author",
            format_args!(
                "{} may not retract seq {}, which {retracted_author} recorded: only the author of a \
                 fact corrects it (a dispute is how another party contests it)",
                event.author, p.retracts_seq
            ),
        ),
        _ => Ok(()),
    }
}

/// The parties that pay claims of `outcome` about `subject`: its payer, its payers, or the
/// participant's home party (none when it has none).
pub fn paying_parties(
    contract: &ContractState,
    outcome: &OutcomeTerms,
    subject: &ClaimSubject,
) -> Vec<String> {
    match (&outcome.payer, &outcome.payers) {
        (Some(payer), _) if payer == "home-party" => match subject {
            ClaimSubject::Participant(p) => contract
                .participants
                .get(p)
                .and_then(|p| p.attributes.home_party.clone())
                .into_iter()
                .collect(),
            ClaimSubject::Company(_) => Vec::new(),
        },
        (Some(payer), _) => vec![payer.clone()],
        (None, Some(payers)) => payers.clone(),
        (None, None) => Vec::new(),
    }
}

/// The parties that may claim `outcome`: its `claimants`; else its payee, when the payee has
/// the `claimed-by` role; else every party of that role.
pub fn claimants(contract: &ContractState, outcome: &OutcomeTerms) -> Vec<String> {
    if !outcome.claimants.is_empty() {
        return outcome.claimants.clone();
    }
    match contract.parties.get(&outcome.payee) {
        Some((role, _)) if *role == outcome.claimed_by => vec![outcome.payee.clone()],
        _ => contract
            .parties
            .iter()
            .filter(|(_, (role, _))| *role == outcome.claimed_by)
            .map(|(id, _)| id.clone())
            .collect(),
    }
}

/// The parties that may issue statements: the terms' `issuers`, else the one commissioner.
pub fn issuers(terms: &Terms) -> Vec<String> {
    if !terms.contract.issuers.is_empty() {
        return terms.contract.issuers.clone();
    }
    let commissioners: Vec<String> = terms
        .parties
        .iter()
        .filter(|p| p.role == Role::Commissioner)
        .map(|p| p.id.clone())
        .collect();
    // Terms validation refuses several commissioners without `issuers`; a party registered
    // later never issues unless amended terms name it.
    if commissioners.len() == 1 {
        commissioners
    } else {
        Vec::new()
    }
}

/// A rejection reason's name, as `docs/format.md` §8.3 spells it.
pub fn reason_text(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::EnrolmentWindow => "enrolment-window",
        RejectReason::Eligibility => "eligibility",
        RejectReason::OutcomeWindow => "outcome-window",
        RejectReason::ClaimDeadline => "claim-deadline",
        RejectReason::Evidence => "evidence",
        RejectReason::Duplicate => "duplicate",
        RejectReason::MutuallyExclusive => "mutually-exclusive",
        RejectReason::Prerequisite => "prerequisite",
        RejectReason::Retention => "retention",
    }
}

/// A role's name in messages.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Commissioner => "commissioner",
        Role::Provider => "provider",
        Role::Investor => "investor",
        Role::Funder => "funder",
        Role::Guarantor => "guarantor",
        Role::Evaluator => "evaluator",
        Role::Intermediary => "intermediary",
    }
}

#[cfg(test)]
mod months_tests {
    use super::{Months, SelfSufficiency::*};

    #[test]
    fn months_stay_sorted_and_replace_by_month() {
        let mut months = Months::default();
        for (month, seq, status) in [(5, 1, Full), (3, 2, None), (4, 3, Partial), (3, 4, Full)] {
            months.insert(month, (seq, status));
        }
        assert_eq!(months.get(&3), Some((4, Full)));
        assert_eq!(months.get(&6), Option::None);
        let all: Vec<_> = months.range(0..=9).collect();
        assert_eq!(all, vec![(3, 4, Full), (4, 3, Partial), (5, 1, Full)]);
        assert_eq!(months.range(4..=4).count(), 1);
        let (after, before) = (6, 5);
        assert_eq!(months.range(after..=before).count(), 0, "an empty window");
        months.retain(|_, seq, _| seq != 3);
        assert_eq!(
            months.range(0..=9).map(|m| m.0).collect::<Vec<_>>(),
            vec![3, 5]
        );
    }
}

#[cfg(test)]
mod find_participant_tests {
    use super::*;

    fn reference(first: u8, second: u8) -> ParticipantRef {
        let mut bytes = [7u8; 32];
        bytes[0] = first;
        bytes[1] = second;
        ParticipantRef(bytes)
    }

    fn state() -> State {
        let mut state = State::default();
        let participant = |seq| Participant {
            seq,
            start: NaiveDate::default(),
            attributes: StoredAttributes::default(),
            left: None,
        };
        let mut a = ContractState::default();
        a.participants.insert(reference(0xab, 0x12), participant(1));
        a.participants.insert(reference(0xab, 0x13), participant(2));
        let mut b = ContractState::default();
        // The same citizen in a second contract is one participant.
        b.participants.insert(reference(0xab, 0x12), participant(3));
        b.participants.insert(reference(0xcd, 0x00), participant(4));
        state.contracts.insert("a".into(), a);
        state.contracts.insert("b".into(), b);
        state
    }

    #[test]
    fn a_unique_prefix_names_one_participant() {
        let state = state();
        assert_eq!(state.find_participant("ab12"), Ok(reference(0xab, 0x12)));
        assert_eq!(state.find_participant("CD00"), Ok(reference(0xcd, 0x00)));
        let full = reference(0xab, 0x13).to_string();
        assert_eq!(state.find_participant(&full), Ok(reference(0xab, 0x13)));
        let reason = |prefix: &str| {
            state
                .find_participant(prefix)
                .err()
                .map(|e| e.reason)
                .unwrap_or_default()
        };
        assert!(
            reason("ab1").contains("4 to 64 hex digits"),
            "{}",
            reason("ab1")
        );
        assert!(reason("ab1z").contains("4 to 64 hex digits"));
        assert!(reason("ab11").contains("no enrolled participant"));
    }

    #[test]
    fn a_prefix_of_several_says_how_many_and_asks_for_more_digits() {
        let mut state = state();
        // ab12… and ab13… share "ab1"; make two share four digits.
        let Some(a) = state.contracts.get_mut("a") else {
            panic!("contract a is in the state")
        };
        a.participants.insert(
            reference(0xab, 0x12).with_last(1),
            Participant {
                seq: 9,
                start: NaiveDate::default(),
                attributes: StoredAttributes::default(),
                left: None,
            },
        );
        let reason = state
            .find_participant("ab12")
            .err()
            .map(|e| e.reason)
            .unwrap_or_default();
        assert!(reason.contains("2 participants"), "{reason}");
        assert!(reason.contains("give more digits"), "{reason}");
    }

    impl ParticipantRef {
        fn with_last(mut self, byte: u8) -> ParticipantRef {
            self.0[31] = byte;
            self
        }
    }
}
