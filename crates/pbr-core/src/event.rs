//! The event vocabulary: every fact a ledger records, and its canonical bytes.
//!
//! An event is encoded with bincode 2 `legacy()` in the order DESIGN §3 fixes:
//! `kind (u32) ‖ contract (string) ‖ participant (option of 32 bytes) ‖ business date (i32
//! days since 1970-01-01) ‖ payload (the kind's fields, no tag of its own) ‖ author (string) ‖
//! recorded_at (i64 µs since the Unix epoch, UTC) ‖ id (16 bytes)`.
//! `docs/format.md` §8 documents every kind to the byte.
//!
//! Invariants: kinds and the variants of every enum here are append-only (a position is a
//! tag); no field holds free text, a name or any other personal data about a citizen: only
//! identifiers, categories, dates, amounts and hashes.

use bincode::de::Decoder;
use bincode::enc::Encoder;
use bincode::error::{DecodeError, EncodeError};
use bincode::{Decode, Encode};
use chrono::NaiveDate;

use crate::date;
use crate::error::CoreError;
use crate::ids::{EventId, ParticipantRef};
use crate::money::Money;

/// The largest encoded event accepted (the record format's limit).
pub const MAX_EVENT_LEN: usize = 1 << 20;

/// A party's role in a contract. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Buys outcomes: a municipality, a ministry, a jobcentre.
    Commissioner,
    /// Delivers the intervention.
    Provider,
    /// Funds the work up front and is repaid on results.
    Investor,
    /// Contributes money without repayment: a foundation, the EU Social Fund.
    Funder,
    /// Guarantees a deficit or a facility.
    Guarantor,
    /// Evaluates or audits.
    Evaluator,
    /// Holds the contract between the others (an SPV, a programme operator).
    Intermediary,
}

/// Gender, as ESF+ reports it. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Gender {
    /// Woman.
    Woman,
    /// Man.
    Man,
    /// Non-binary.
    NonBinary,
}

/// Labour-market status at entry (ESF+ EECO01–04). Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum EntryStatus {
    /// Unemployed, less than 12 months.
    Unemployed,
    /// Unemployed 12 months or more.
    LongTermUnemployed,
    /// Not in the labour force.
    Inactive,
    /// Employed, including self-employed.
    Employed,
}

/// Situation on leaving or six months after (ESF+ EECR01–05). Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ResultStatus {
    /// In employment, including self-employment.
    Employed,
    /// In education or training.
    Education,
    /// Searching for a job.
    JobSearching,
    /// Unemployed and not searching.
    Unemployed,
    /// Not in the labour force.
    Inactive,
}

/// The ESF+ attributes of a participant at entry, as categories only. `None` means not
/// collected, which matters for ESF+'s completeness rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, serde::Serialize)]
pub struct Attributes {
    /// Gender.
    pub gender: Option<Gender>,
    /// Age in whole years at entry.
    pub age_at_entry: Option<u8>,
    /// Labour-market status at entry.
    pub entry_status: Option<EntryStatus>,
    /// ISCED 2011 level of the highest education completed (0..=8).
    pub isced: Option<u8>,
    /// The party that pays for this participant's outcomes, when the contract says "home
    /// municipality".
    pub home_party: Option<String>,
    /// Participant with disabilities (EECO12).
    pub disability: Option<bool>,
    /// Third-country national (EECO13).
    pub third_country_national: Option<bool>,
    /// Foreign background (EECO14).
    pub foreign_background: Option<bool>,
    /// Minority (EECO15).
    pub minority: Option<bool>,
    /// Homeless or affected by housing exclusion (EECO16).
    pub homeless: Option<bool>,
    /// From a rural area (EECO17).
    pub rural: Option<bool>,
}

/// Why a claim was rejected: the validation rule that failed first, in the fixed order
/// of `docs/validation.md`. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// The participant was enrolled outside the enrolment window.
    EnrolmentWindow,
    /// An attribute at entry makes the participant ineligible for this outcome.
    Eligibility,
    /// The outcome was achieved after the outcome window.
    OutcomeWindow,
    /// The decision came after the claim deadline.
    ClaimDeadline,
    /// The evidence failed validation.
    Evidence,
    /// The outcome was already claimed and accepted for this subject.
    Duplicate,
    /// A mutually exclusive outcome was accepted first.
    MutuallyExclusive,
    /// A required outcome has not been accepted.
    Prerequisite,
    /// The retention checks the outcome requires do not cover its sustainment span.
    Retention,
}

/// Why an accepted outcome is clawed back. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ClawbackReason {
    /// An audit found the outcome not achieved.
    AuditFinding,
    /// The evidence turned out invalid.
    EvidenceInvalid,
}

/// An activity behind a retention check. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Activity {
    /// Paid work.
    Employment,
    /// Self-employment.
    SelfEmployment,
    /// Education or training.
    Education,
}

/// Self-sufficiency in a month (`domain.md` §4.3). Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SelfSufficiency {
    /// On public maintenance.
    None,
    /// Partly self-sufficient (e.g. a job plus supplementary benefit, or a flexjob).
    Partial,
    /// Fully self-sufficient: no week with a maintenance-benefit code.
    Full,
}

/// What money moves for. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// An investor's working capital.
    WorkingCapital,
    /// A grant, not repayable.
    Grant,
    /// A grant repaid only on results (the DSI *betinget tilskud*).
    ConditionalGrant,
    /// A co-financer's reimbursement (e.g. the EU Social Fund).
    CoFinancing,
    /// A draw on a liquidity facility.
    FacilityDraw,
    /// A repayment of a facility or an investment.
    Repayment,
    /// An outcome payment.
    OutcomePayment,
    /// A fee or a return.
    Fee,
}

/// Why a dispute is opened. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DisputeReason {
    /// An amount is contested.
    Amount,
    /// Whether an outcome was achieved is contested.
    Outcome,
    /// Evidence is contested.
    Evidence,
    /// A date is contested.
    Date,
}

/// How a dispute ended. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// The disputing party was right; a correction follows.
    Upheld,
    /// The record stands.
    Dismissed,
    /// The parties agreed; a correction or payment follows.
    Settled,
}

/// Why an event is retracted. Append only.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum CorrectionReason {
    /// A data-entry error.
    DataEntry,
    /// The same fact was recorded twice.
    Duplicate,
    /// Recorded for the wrong participant or company.
    WrongSubject,
    /// Recorded with the wrong date.
    WrongDate,
    /// A dispute was upheld.
    DisputeUpheld,
}

macro_rules! payloads {
    ($( $(#[$doc:meta])* $kind:ident = $tag:literal $name:literal { $( $(#[$fdoc:meta])* $field:ident : $ty:ty ),* $(,)? } )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, serde::Serialize)]
            pub struct $kind { $( $(#[$fdoc])* pub $field: $ty ),* }
        )*

        /// The kind-specific part of an event. The tag of a kind is fixed forever.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Payload { $( $(#[$doc])* $kind($kind) ),* }

        impl Payload {
            /// The kind's tag, the first four bytes of an encoded event.
            pub fn tag(&self) -> u32 {
                match self { $( Payload::$kind(_) => $tag ),* }
            }

            /// The kind's name in `docs/format.md`, JSON and the CLI.
            pub fn kind_name(&self) -> &'static str {
                match self { $( Payload::$kind(_) => $name ),* }
            }

            /// The payload's JSON object (`docs/format.md` §8).
            pub fn to_json(&self) -> serde_json::Value {
                // Serializing these plain structs into a JSON value cannot fail.
                match self { $( Payload::$kind(fields) => serde_json::to_value(fields).unwrap_or_default() ),* }
            }

            fn encode_fields<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
                match self { $( Payload::$kind(fields) => fields.encode(encoder) ),* }
            }

            fn decode_fields<C, D: Decoder<Context = C>>(tag: u32, decoder: &mut D) -> Result<Payload, DecodeError> {
                match tag {
                    $( $tag => Ok(Payload::$kind(<$kind as Decode<C>>::decode(decoder)?)), )*
                    other => Err(DecodeError::OtherString(format!("unknown event kind {other}"))),
                }
            }
        }

        /// Every kind's tag and name, in tag order.
        pub const KINDS: &[(u32, &str)] = &[ $( ($tag, $name) ),* ];
    };
}

payloads! {
    /// Contract terms take effect: the TOML text exactly as registered, and its BLAKE3 hash.
    ContractRegistered = 0 "contract-registered" {
        /// The terms, as TOML text.
        terms: String,
        /// `BLAKE3(terms)`.
        #[serde(with = "crate::json::hex32")]
        terms_hash: [u8; 32],
    }
    /// New terms take effect from a date; earlier periods keep the terms they had.
    ContractAmended = 1 "contract-amended" {
        /// The new terms, as TOML text.
        terms: String,
        /// `BLAKE3(terms)`.
        #[serde(with = "crate::json::hex32")]
        terms_hash: [u8; 32],
        /// The first business day the new terms govern (days since 1970-01-01).
        #[serde(with = "crate::json::day")]
        effective_from: i32,
    }
    /// A party joins the contract with a role and a signing key.
    PartyRegistered = 2 "party-registered" {
        /// The party id.
        party: String,
        /// Its role.
        role: Role,
        /// Its Ed25519 public key.
        #[serde(with = "crate::json::hex32")]
        public_key: [u8; 32],
    }
    /// A citizen is referred and enrolled; the business date is the start date.
    ParticipantEnrolled = 3 "participant-enrolled" {
        /// Categories at entry.
        attributes: Attributes,
    }
    /// A participant leaves; the ESF+ leaving record (within four weeks).
    ParticipantLeft = 4 "participant-left" {
        /// Situation on leaving.
        status: ResultStatus,
        /// Whether a qualification was gained.
        qualification_gained: bool,
    }
    /// The ESF+ follow-up six months after leaving.
    ParticipantFollowedUp = 5 "participant-followed-up" {
        /// Situation six months after leaving.
        status: ResultStatus,
        /// Whether an employed participant's situation improved (EECR06), if known.
        improved: Option<bool>,
    }
    /// A company joins a double-sided programme.
    CompanyRegistered = 6 "company-registered" {
        /// The company id.
        company: String,
    }
    /// A provider claims an outcome; the business date is the claim date.
    OutcomeClaimed = 7 "outcome-claimed" {
        /// The outcome code of the rate card.
        outcome: String,
        /// The company, for company-side outcomes (the participant is then absent).
        company: Option<String>,
        /// When the outcome was achieved (days since 1970-01-01).
        #[serde(with = "crate::json::day")]
        achieved: i32,
        /// When the activity behind a sustainment clock started, if any.
        #[serde(with = "crate::json::optional_day")]
        activity_start: Option<i32>,
        /// BLAKE3 of the evidence document, which stays outside the ledger.
        #[serde(with = "crate::json::optional_hex32")]
        evidence: Option<[u8; 32]>,
    }
    /// The verifier accepts a claim; the business date is the decision date.
    OutcomeVerified = 8 "outcome-verified" {
        /// The seq of the claim.
        claim_seq: u64,
    }
    /// The verifier rejects a claim, naming the first rule that failed.
    OutcomeRejected = 9 "outcome-rejected" {
        /// The seq of the claim.
        claim_seq: u64,
        /// The first failing rule.
        reason: RejectReason,
    }
    /// An accepted outcome is recovered; the business date is the audit decision date.
    OutcomeClawedBack = 10 "outcome-clawed-back" {
        /// The seq of the claim.
        claim_seq: u64,
        /// Why.
        reason: ClawbackReason,
    }
    /// A retention check: the participant was in an activity over a span of days.
    RetentionRecorded = 11 "retention-recorded" {
        /// The activity.
        activity: Activity,
        /// Hours a week, when it matters.
        hours_per_week: Option<u16>,
        /// The first day (days since 1970-01-01).
        #[serde(with = "crate::json::day")]
        from: i32,
        /// The last day.
        #[serde(with = "crate::json::day")]
        to: i32,
    }
    /// A month's self-sufficiency status from the registers.
    MonthlyStatusRecorded = 12 "monthly-status-recorded" {
        /// The month, as `year × 12 + month − 1`.
        #[serde(with = "crate::json::month")]
        month: i32,
        /// The status.
        status: SelfSufficiency,
    }
    /// Money promised: investment, grant, facility, co-financing.
    FundsCommitted = 13 "funds-committed" {
        /// The payer.
        from: String,
        /// The payee.
        to: String,
        /// The amount.
        amount: Money,
        /// What for.
        purpose: Purpose,
    }
    /// Money moved under a commitment.
    FundsDisbursed = 14 "funds-disbursed" {
        /// The payer.
        from: String,
        /// The payee.
        to: String,
        /// The amount.
        amount: Money,
        /// What for.
        purpose: Purpose,
    }
    /// A party's delivery cost for the period of the business date.
    CostRecorded = 15 "cost-recorded" {
        /// Whose cost.
        party: String,
        /// The amount.
        amount: Money,
    }
    /// A settlement statement is issued: its hash, its period and the log position it
    /// was computed from.
    SettlementIssued = 16 "settlement-issued" {
        /// The period, e.g. `2025-Q3`.
        period: String,
        /// BLAKE3 of the statement's canonical bytes.
        #[serde(with = "crate::json::hex32")]
        statement_hash: [u8; 32],
        /// The statement covers the events with seq below this.
        log_position: u64,
    }
    /// A payment was made.
    PaymentRecorded = 17 "payment-recorded" {
        /// The payer.
        from: String,
        /// The payee.
        to: String,
        /// The amount.
        amount: Money,
        /// The settlement it pays, if any.
        settlement_seq: Option<u64>,
    }
    /// A guarantee is called.
    GuaranteeCalled = 18 "guarantee-called" {
        /// The guarantor.
        guarantor: String,
        /// Who is paid.
        beneficiary: String,
        /// The amount.
        amount: Money,
    }
    /// A party disputes an event.
    DisputeOpened = 19 "dispute-opened" {
        /// The seq of the disputed event.
        about_seq: u64,
        /// What is disputed.
        reason: DisputeReason,
    }
    /// Evidence is attached to a dispute (by hash; the document stays outside).
    DisputeEvidenceAttached = 20 "dispute-evidence-attached" {
        /// The seq of the dispute.
        dispute_seq: u64,
        /// BLAKE3 of the evidence document.
        #[serde(with = "crate::json::hex32")]
        evidence: [u8; 32],
    }
    /// A dispute is closed.
    DisputeResolved = 21 "dispute-resolved" {
        /// The seq of the dispute.
        dispute_seq: u64,
        /// How.
        resolution: Resolution,
    }
    /// An earlier event is retracted; it stays in the log, and projections skip it.
    Correction = 22 "correction" {
        /// The seq of the retracted event.
        retracts_seq: u64,
        /// Why.
        reason: CorrectionReason,
    }
}

impl Payload {
    /// Checks the dates and months inside the payload against the range of
    /// `docs/format.md` §8.1 (the envelope's business date is checked when it is decoded).
    fn check_ranges(&self) -> Result<(), CoreError> {
        let day = |days: i32| date::from_days(days).map(|_| ());
        match self {
            Payload::ContractAmended(p) => day(p.effective_from),
            Payload::OutcomeClaimed(p) => {
                day(p.achieved)?;
                p.activity_start.map_or(Ok(()), day)
            }
            Payload::RetentionRecorded(p) => day(p.from).and(day(p.to)),
            Payload::MonthlyStatusRecorded(p) => date::check_month_index(p.month).map(|_| ()),
            _ => Ok(()),
        }
    }
}

/// One event: the envelope and its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The contract it belongs to.
    pub contract: String,
    /// The participant it is about, if any.
    pub participant: Option<ParticipantRef>,
    /// The business date that decides outcomes and periods.
    pub business_date: NaiveDate,
    /// The kind-specific fields.
    pub payload: Payload,
    /// The party that asserts it and signs it.
    pub author: String,
    /// When it entered the log: microseconds since the Unix epoch, UTC. Set by the writer.
    pub recorded_at_micros: i64,
    /// The client-assigned id; appending an existing id is a no-op.
    pub id: EventId,
}

impl Encode for Event {
    fn encode<E: Encoder>(&self, encoder: &mut E) -> Result<(), EncodeError> {
        self.payload.tag().encode(encoder)?;
        self.contract.encode(encoder)?;
        self.participant.encode(encoder)?;
        date::to_days(self.business_date).encode(encoder)?;
        self.payload.encode_fields(encoder)?;
        self.author.encode(encoder)?;
        self.recorded_at_micros.encode(encoder)?;
        self.id.encode(encoder)
    }
}

impl<C> Decode<C> for Event {
    fn decode<D: Decoder<Context = C>>(decoder: &mut D) -> Result<Event, DecodeError> {
        let tag = u32::decode(decoder)?;
        let contract = String::decode(decoder)?;
        let participant = Option::<ParticipantRef>::decode(decoder)?;
        let days = i32::decode(decoder)?;
        let business_date =
            date::from_days(days).map_err(|e| DecodeError::OtherString(e.reason))?;
        let payload = Payload::decode_fields(tag, decoder)?;
        payload
            .check_ranges()
            .map_err(|e| DecodeError::OtherString(e.reason))?;
        Ok(Event {
            contract,
            participant,
            business_date,
            payload,
            author: String::decode(decoder)?,
            recorded_at_micros: i64::decode(decoder)?,
            id: EventId::decode(decoder)?,
        })
    }
}

impl Event {
    /// The canonical bytes (bincode `legacy()`), which the author signs.
    pub fn encode(&self) -> Result<Vec<u8>, CoreError> {
        date::from_days(date::to_days(self.business_date))?;
        self.payload.check_ranges()?;
        let bytes = bincode::encode_to_vec(self, bincode::config::legacy())
            .map_err(|e| CoreError::invalid(format!("event does not encode: {e}")))?;
        if bytes.len() > MAX_EVENT_LEN {
            return Err(CoreError::invalid(format!(
                "event of {} bytes is too large",
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Decodes canonical bytes, refusing trailing bytes and anything over the size limit.
    pub fn decode(bytes: &[u8]) -> Result<Event, CoreError> {
        let config = bincode::config::legacy().with_limit::<MAX_EVENT_LEN>();
        let (event, read): (Event, usize) = bincode::decode_from_slice(bytes, config)
            .map_err(|e| CoreError::invalid(format!("event does not decode: {e}")))?;
        if read != bytes.len() {
            return Err(CoreError::invalid(format!(
                "{} trailing bytes after the event",
                bytes.len() - read
            )));
        }
        Ok(event)
    }

    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        self.payload.kind_name()
    }

    /// The event as JSON (`docs/format.md` §8): the form of an export line's `event` field.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind(),
            "contract": self.contract,
            "participant": self.participant.map(|p| p.to_string()),
            "date": self.business_date.to_string(),
            "payload": self.payload.to_json(),
            "author": self.author,
            "recorded_at": self.recorded_at_micros,
            "id": self.id.to_string(),
        })
    }
}
