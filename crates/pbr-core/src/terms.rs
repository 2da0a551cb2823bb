//! Contract terms: what a lawyer's technical annex says, as TOML data.
//!
//! [`Terms`] is the TOML document; `schemas/contract.schema.json` is generated from these
//! types (editors validate against it), and [`parse`] reads a document, checks every rule
//! the schema cannot express (references between sections, windows, shares), and reports the
//! first problem as `file:line: field: reason`.
//!
//! The terms only *state* the mechanics; the settlement engine computes with them. Amounts
//! are decimal strings in the contract's currency, ratios are `11/23`, `50%` or `0.70`,
//! dates are `YYYY-MM-DD` (quoted or bare TOML dates) and months `YYYY-MM`.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use chrono::NaiveDate;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::date::{Calendar, Month};
use crate::error::CoreError;
use crate::event::Role;
use crate::ids::check_name;
use crate::money::{Currency, DerivedPrice, Money, Ratio, RoundAt, Rounding};

/// A contract's terms, as written in TOML.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Terms {
    /// Identity, currency, rounding and the settlement calendar.
    pub contract: ContractSection,
    /// The log the contract's records belong to: its origin and log key.
    pub log: Option<LogTerms>,
    /// The parties, their roles and their verifier keys.
    pub parties: Vec<PartyTerms>,
    /// Which parties' witness cosignatures make a checkpoint count.
    pub checkpoint: Option<CheckpointTerms>,
    /// Which role may record which event kind, where the defaults do not fit.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Who may be enrolled, and when.
    pub enrolment: Option<EnrolmentTerms>,
    /// The rate card.
    #[serde(default)]
    pub outcomes: Vec<OutcomeTerms>,
    /// Caps on net outcome payments.
    pub caps: Option<CapsTerms>,
    /// Payment for runs of self-sufficient months.
    pub sustainment: Option<SustainmentTerms>,
    /// Payment out of measured savings.
    pub savings: Option<SavingsTerms>,
    /// How a payee passes money on: principal, capped return, remainder.
    pub waterfall: Option<WaterfallTerms>,
    /// A liquidity facility.
    pub facility: Option<FacilityTerms>,
    /// A deficit guarantee.
    pub guarantee: Option<GuaranteeTerms>,
    /// Co-financers' shares of payments.
    #[serde(default)]
    pub co_financing: Vec<CoFinancingTerms>,
    /// A bonus on a threshold of achievers.
    pub success_bonus: Option<SuccessBonusTerms>,
}

impl Terms {
    /// An amount of the terms in the contract's currency (validated when the terms were
    /// parsed).
    pub fn money(&self, amount: &Amount) -> Result<Money, CoreError> {
        amount
            .money(self.contract.currency)
            .map_err(CoreError::invalid)
    }

    /// The price of one claim of `outcome`: its own, or its fraction of the price of the
    /// outcome it is partial of.
    pub fn outcome_price<'t>(
        &'t self,
        outcome: &'t OutcomeTerms,
    ) -> Result<OutcomePrice<'t>, CoreError> {
        let Some(parent) = &outcome.partial_of else {
            let price = outcome.price.as_ref().ok_or_else(|| {
                CoreError::invalid(format!("outcome {} has no price", outcome.code))
            })?;
            return Ok(OutcomePrice::Own(self.money(price)?));
        };
        let fraction = outcome.fraction.ok_or_else(|| {
            CoreError::invalid(format!(
                "outcome {} has partial-of and no fraction",
                outcome.code
            ))
        })?;
        let rate = self
            .outcomes
            .iter()
            .find(|o| &o.code == parent)
            .and_then(|o| o.price.as_ref())
            .ok_or_else(|| {
                CoreError::invalid(format!("{parent} is not an outcome with a price"))
            })?;
        Ok(OutcomePrice::PartOf {
            parent,
            price: self.derived(self.money(rate)?, fraction.0),
        })
    }

    /// The savings of one off-benefit month: the monthly rate times the attribution.
    pub fn savings_price(&self, savings: &SavingsTerms) -> Result<DerivedPrice, CoreError> {
        Ok(self.derived(self.money(&savings.monthly_rate)?, savings.attribution.0))
    }

    /// `rate × ratio` as a price per unit, rounded as the contract says.
    fn derived(&self, rate: Money, ratio: Ratio) -> DerivedPrice {
        DerivedPrice {
            rate,
            ratio,
            rounding: self.contract.rounding,
            round_at: self.contract.round_at,
        }
    }
}

/// What one claim of an outcome is priced at ([`Terms::outcome_price`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomePrice<'t> {
    /// The outcome's own `price`.
    Own(Money),
    /// A fraction of another outcome's price (`partial-of`): one unit, so it is rounded once
    /// whatever `round-at` says.
    PartOf {
        /// The other outcome's code.
        parent: &'t str,
        /// Its price times the fraction.
        price: DerivedPrice,
    },
}

impl OutcomePrice<'_> {
    /// The price, rounded.
    pub fn amount(&self) -> Result<Money, CoreError> {
        match self {
            OutcomePrice::Own(price) => Ok(*price),
            OutcomePrice::PartOf { price, .. } => price.unit(),
        }
    }

    /// Its arithmetic for a statement: `price 1200.00`, or
    /// `price 1/3 of JOB: floor(1000.01 × 1/3) = 333.33`.
    pub fn calc(&self) -> Result<String, CoreError> {
        Ok(match self {
            OutcomePrice::Own(price) => format!("price {}", price.to_decimal()),
            OutcomePrice::PartOf { parent, price } => {
                format!("price {} of {parent}: {}", price.ratio, price.unit_calc()?)
            }
        })
    }
}

/// The `[contract]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ContractSection {
    /// The contract id events name (1-64 of `A-Z a-z 0-9 . _ -`).
    pub id: String,
    /// A human title.
    pub name: String,
    /// The currency of every amount.
    pub currency: Currency,
    /// How a derived amount is rounded to the minor unit, once, where it is created.
    pub rounding: Rounding,
    /// Where a price per unit derived from a rate and a ratio (savings per off-benefit
    /// month, a partial outcome) is rounded: `unit-price` (the default: each unit's price,
    /// then times the units) or `total` (the units' total, once).
    #[serde(default)]
    pub round_at: RoundAt,
    /// How often the contract settles; a period settles on its last day.
    pub settlement: Calendar,
    /// The first business day of the contract.
    pub start: DateField,
    /// The last business day; the final settlement is the period holding it.
    pub end: DateField,
    /// Who gets the minor units left over when an amount is split equally.
    #[serde(default)]
    pub split_remainder: SplitRemainder,
    /// What happens to a negative net period.
    #[serde(default)]
    pub negative_net: NegativeNet,
    /// The order in which claims decided in the same period are processed (caps are
    /// consumed in it).
    #[serde(default = "default_processing_order")]
    pub processing_order: Vec<OrderKey>,
    /// The parties that may issue statements. None: the contract's commissioner, when it has
    /// exactly one; a contract with several must name them.
    #[serde(default)]
    pub issuers: Vec<String>,
}

fn default_processing_order() -> Vec<OrderKey> {
    vec![OrderKey::DecisionDate, OrderKey::Subject, OrderKey::Outcome]
}

/// Who receives the leftover minor units of an equal split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SplitRemainder {
    /// The first party in id order (scenario D: K1).
    #[default]
    FirstParty,
    /// The last party in id order.
    LastParty,
}

/// How a negative net period is handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NegativeNet {
    /// Carried forward against the next period.
    #[default]
    CarryForward,
    /// Invoiced back from the payee at once.
    Invoice,
}

/// A key of the processing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrderKey {
    /// The decision (validation) date.
    DecisionDate,
    /// The participant reference or company id.
    Subject,
    /// The outcome code.
    Outcome,
    /// The claim's sequence number.
    Seq,
}

/// A party to the contract.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PartyTerms {
    /// The party id events name as author, payer or payee.
    pub id: String,
    /// Its role.
    pub role: Role,
    /// The organisation's name.
    pub name: String,
    /// Its event key's verifier key, `<id>+<key id>+<base64(0x01 ‖ key)>`, which signs its
    /// records (`pbr party keygen ID` prints it).
    pub key: String,
    /// Its witness key's verifier key, `<name>+<key id>+<base64(0x04 ‖ key)>`, which cosigns
    /// checkpoints (`pbr party keygen NAME --kind witness` prints it).
    pub witness_key: Option<String>,
}

/// The `[log]` table: the log a contract's records may be appended to.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LogTerms {
    /// The log's origin, e.g. `aalborg.dk/pbr/impact60`: a ledger of another origin refuses
    /// these terms, so the contract's records cannot be replayed into another log.
    pub origin: String,
    /// The log key's verifier key, named after the origin, type `0x01`
    /// (`pbr party keygen ORIGIN --kind log` prints it).
    pub key: String,
}

/// The `[checkpoint]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CheckpointTerms {
    /// The parties whose witness cosignatures a checkpoint needs to count.
    pub quorum: Vec<String>,
    /// How many of them must cosign; all of them when absent.
    pub threshold: Option<usize>,
}

/// An override of which roles may record an event kind.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Permission {
    /// The event kind, e.g. `outcome-claimed`.
    pub kind: String,
    /// The roles that may record it.
    pub roles: Vec<Role>,
}

/// The `[enrolment]` table.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnrolmentTerms {
    /// The first start date a participant may have.
    pub from: DateField,
    /// The last start date.
    pub to: DateField,
    /// At most this many participants.
    pub max_participants: Option<u32>,
    /// Participation lasts this many months from the start date, when the contract fixes it.
    pub participation_months: Option<u32>,
    /// The target group: conditions on the attributes at entry every participant must meet.
    #[serde(default)]
    pub eligibility: Vec<Eligibility>,
    /// Refuse an enrolment outside `from..to` or the target group when it is recorded; by
    /// default it is recorded and every claim about the participant is rejected
    /// (`enrolment-window`, `eligibility`), as scenario A does.
    #[serde(default)]
    pub refuse_at_enrolment: bool,
}

/// What an outcome is paid for: a participant or a company.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// A citizen, by participant reference.
    #[default]
    Participant,
    /// A company in a double-sided programme.
    Company,
}

/// One line of the rate card: an outcome with a `price` of its own, or one paid at a
/// `fraction` of another's (`partial-of`), which has no price of its own.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(extend(
    "if" = { "required": ["partial-of"] },
    "then" = { "not": { "required": ["price"] } },
    "else" = { "required": ["price"] }
))]
pub struct OutcomeTerms {
    /// The outcome code claims name.
    pub code: String,
    /// A human title.
    pub name: String,
    /// What it is paid for.
    #[serde(default)]
    pub subject: Subject,
    /// The price, in the contract's currency: required, except for an outcome paid at a
    /// fraction of another's (`partial-of`), which may not have one.
    pub price: Option<Amount>,
    /// The one paying party; or `home-party`, the participant's home party at entry.
    pub payer: Option<String>,
    /// Several paying parties sharing the price equally (with the split remainder rule).
    pub payers: Option<Vec<String>>,
    /// The party paid.
    pub payee: String,
    /// The role that claims it.
    #[serde(default = "default_claimant")]
    pub claimed_by: Role,
    /// The role that verifies claims.
    #[serde(default = "default_verifier")]
    pub verified_by: Role,
    /// How often it may be paid per subject (1: first achievement only).
    #[serde(default = "one")]
    pub max_claims: u32,
    /// The outcome window: the achievement date may not be later.
    pub achieved_by: Option<DateField>,
    /// The claim deadline: the decision date may not be later.
    pub claim_deadline: Option<DateField>,
    /// Conditions on the participant's attributes at entry.
    #[serde(default)]
    pub eligibility: Vec<Eligibility>,
    /// Outcomes that must have been accepted, with an earlier or same-day decision.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Outcomes of which at least one must have been accepted, with an earlier or same-day
    /// decision (scenario D: CO4 needs CO2 or CO3).
    #[serde(default)]
    pub requires_any: Vec<String>,
    /// Outcomes of which only the first accepted is paid.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// A sustainment clock: achieved `7 × weeks` days after the activity started.
    pub sustain_weeks: Option<u32>,
    /// A partial outcome: paid at `fraction` of the price of this other outcome, which has
    /// a price of its own.
    pub partial_of: Option<String>,
    /// The fraction, with `partial-of`.
    pub fraction: Option<RatioField>,
    /// The parties that may claim it (each of the `claimed-by` role). None: the payee, when
    /// it has that role; otherwise every party of that role.
    #[serde(default)]
    pub claimants: Vec<String>,
    /// Parties the paying parties delegate the decision to (each of the `verified-by` role):
    /// they may verify, reject and claw back claims of it besides the parties that pay.
    #[serde(default)]
    pub verifiers: Vec<String>,
    /// The retention checks that prove a sustained outcome: with `sustain-weeks`, a claim is
    /// accepted only if checks recorded before its decision cover every day from the activity
    /// start for 7 × weeks days.
    pub retention: Option<RetentionTerms>,
}

/// Which retention checks prove a sustainment milestone.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RetentionTerms {
    /// The activities that count: `employment`, `self-employment`, `education`.
    pub activities: Vec<crate::event::Activity>,
    /// At least this many hours a week (a check without hours does not count then).
    pub min_hours_per_week: Option<u16>,
}

fn default_claimant() -> Role {
    Role::Provider
}

fn default_verifier() -> Role {
    Role::Commissioner
}

fn one() -> u32 {
    1
}

/// A condition on an attribute at entry: a number (`age-at-entry`, `isced`) within `min`
/// and `max`; a category (`gender`, `entry-status`) among `in`; a yes-or-no category
/// (`disability`, `third-country-national`, `foreign-background`, `minority`, `homeless`,
/// `rural`) equal to `is`. An attribute not recorded meets no condition.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Eligibility {
    /// The attribute.
    pub attribute: Attribute,
    /// The smallest value allowed (a number).
    pub min: Option<u32>,
    /// The largest value allowed (a number).
    pub max: Option<u32>,
    /// The values allowed (a category), e.g. `["long-term-unemployed"]`.
    #[serde(default, rename = "in")]
    pub values: Vec<String>,
    /// The value required (a yes-or-no category).
    pub is: Option<bool>,
}

/// An attribute eligibility can test: the ESF+ categories recorded at enrolment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Attribute {
    /// Age in whole years at entry.
    AgeAtEntry,
    /// ISCED level at entry.
    Isced,
    /// Gender: `woman`, `man`, `non-binary`.
    Gender,
    /// Labour-market status at entry: `unemployed`, `long-term-unemployed`, `inactive`,
    /// `employed`.
    EntryStatus,
    /// With disabilities (EECO12).
    Disability,
    /// Third-country national (EECO13).
    ThirdCountryNational,
    /// Foreign background (EECO14).
    ForeignBackground,
    /// A minority (EECO15).
    Minority,
    /// Homeless or affected by housing exclusion (EECO16).
    Homeless,
    /// From a rural area (EECO17).
    Rural,
}

/// What kind of value an attribute has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeKind {
    /// A whole number, tested with `min` and `max`.
    Number,
    /// A category, tested with `in`; the values it can take.
    Category(&'static [&'static str]),
    /// Yes or no, tested with `is`.
    Flag,
}

impl Attribute {
    /// The kind of value, and for a category its values.
    pub fn kind(self) -> AttributeKind {
        match self {
            Attribute::AgeAtEntry | Attribute::Isced => AttributeKind::Number,
            Attribute::Gender => AttributeKind::Category(&["woman", "man", "non-binary"]),
            Attribute::EntryStatus => AttributeKind::Category(&[
                "unemployed",
                "long-term-unemployed",
                "inactive",
                "employed",
            ]),
            _ => AttributeKind::Flag,
        }
    }

    /// The name the terms use.
    pub fn name(self) -> &'static str {
        match self {
            Attribute::AgeAtEntry => "age-at-entry",
            Attribute::Isced => "isced",
            Attribute::Gender => "gender",
            Attribute::EntryStatus => "entry-status",
            Attribute::Disability => "disability",
            Attribute::ThirdCountryNational => "third-country-national",
            Attribute::ForeignBackground => "foreign-background",
            Attribute::Minority => "minority",
            Attribute::Homeless => "homeless",
            Attribute::Rural => "rural",
        }
    }
}

impl Eligibility {
    /// Whether a participant whose attribute has `value` meets the condition; `None` (not
    /// recorded) meets none.
    pub fn admits(&self, value: Option<AttributeValue<'_>>) -> bool {
        match value {
            Some(AttributeValue::Number(n)) => {
                self.min.is_none_or(|min| n >= min) && self.max.is_none_or(|max| n <= max)
            }
            Some(AttributeValue::Category(text)) => self.values.iter().any(|v| v == text),
            Some(AttributeValue::Flag(flag)) => self.is == Some(flag),
            None => false,
        }
    }

    /// The condition in words, for a refusal: `entry-status in [long-term-unemployed]`.
    pub fn describe(&self) -> String {
        let name = self.attribute.name();
        match self.attribute.kind() {
            AttributeKind::Number => match (self.min, self.max) {
                (Some(min), Some(max)) => format!("{name} {min} to {max}"),
                (Some(min), None) => format!("{name} at least {min}"),
                (None, Some(max)) => format!("{name} at most {max}"),
                (None, None) => name.to_owned(),
            },
            AttributeKind::Category(_) => format!("{name} in [{}]", self.values.join(", ")),
            AttributeKind::Flag => format!(
                "{name} is {}",
                if self.is == Some(true) { "yes" } else { "no" }
            ),
        }
    }
}

/// A participant's recorded value of an attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttributeValue<'a> {
    /// A number.
    Number(u32),
    /// A category, by its name in the terms.
    Category(&'a str),
    /// Yes or no.
    Flag(bool),
}

/// The `[caps]` table: limits on net paid amounts (claw-backs restore headroom).
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CapsTerms {
    /// Per participant, over the contract.
    pub per_participant: Option<Amount>,
    /// Per company, over the contract.
    pub per_company: Option<Amount>,
    /// Per settlement period.
    pub per_period: Option<Amount>,
    /// The whole contract.
    pub contract: Option<Amount>,
}

/// The `[sustainment]` table: paying months of runs of self-sufficiency (scenario C).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SustainmentTerms {
    /// A run of counted months qualifies at this many months.
    pub run_months: u32,
    /// Whether the months of a run must be consecutive (a month that does not count ends
    /// the run) or accumulate over the participant's window.
    #[serde(default)]
    pub counting: Counting,
    /// Each participant's window: this many months from the month of the start date.
    pub window_months: u32,
    /// The price of a fully self-sufficient month.
    pub full_price: Amount,
    /// The price of a partly self-sufficient month (none: partial months do not count).
    pub partial_price: Option<Amount>,
    /// Who pays; or `home-party`, each participant's home party at entry.
    pub payer: String,
    /// Who is paid.
    pub payee: String,
}

/// How the months of a sustainment run are counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Counting {
    /// Consecutive months: a month that does not count ends the run (IMPACT60).
    #[default]
    Consecutive,
    /// Months accumulate over the window, gaps allowed (a "cumulative" retention outcome).
    Cumulative,
}

/// The `[savings]` table: payment out of measured savings (scenario B).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SavingsTerms {
    /// The avoided cost of one off-benefit month, before attribution.
    pub monthly_rate: Amount,
    /// The share of the avoided cost attributed to the intervention.
    pub attribution: RatioField,
    /// The first month measured.
    pub measure_from: MonthField,
    /// The last month measured.
    pub measure_to: MonthField,
    /// Months of period *q* are settled at the end of period *q + lag*.
    #[serde(default)]
    pub register_lag: u32,
    /// The party whose savings they are; or `home-party`, each participant's home party at
    /// entry, for a contract of several municipalities.
    pub party: String,
}

/// The `[waterfall]` table: how money a party receives (or saves) is passed on, in tiers.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WaterfallTerms {
    /// What flows in: `outcome-payments` received by `party`, or `savings`.
    pub source: WaterfallSource,
    /// The party through which the money flows.
    pub party: String,
    /// The tiers, in order.
    pub tiers: Vec<Tier>,
}

/// What feeds a waterfall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WaterfallSource {
    /// The outcome payments the party receives each period.
    OutcomePayments,
    /// The savings measured for the party each period.
    Savings,
}

/// One tier of a waterfall.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Tier {
    /// A label for statements: `principal`, `return`, `gain share`.
    pub label: String,
    /// Who is paid.
    pub to: String,
    /// `fill`: everything until `limit` is paid in total; `share`: `share` of what reaches
    /// this tier; `remainder`: whatever is left.
    pub rule: TierRule,
    /// The cumulative amount a `fill` tier pays in total.
    pub limit: Option<Amount>,
    /// The fraction a `share` tier takes.
    pub share: Option<RatioField>,
    /// A cap on everything `to` receives from this waterfall, all tiers together (a return
    /// cap).
    pub cap_total: Option<Amount>,
}

/// How a tier takes its part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TierRule {
    /// Everything until a cumulative limit.
    Fill,
    /// A fraction of what reaches the tier.
    Share,
    /// Whatever is left.
    Remainder,
}

/// The `[facility]` table: a liquidity facility (scenario C).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FacilityTerms {
    /// The lender.
    pub lender: String,
    /// The borrower.
    pub borrower: String,
    /// The limit.
    pub limit: Amount,
    /// Whether the limit caps the total ever drawn or the outstanding balance.
    pub limit_on: LimitOn,
    /// The fee at the final settlement, as a share of `fee-on`.
    pub fee: Option<RatioField>,
    /// What the fee is a share of.
    #[serde(default)]
    pub fee_on: LimitOn,
}

/// What a facility limit or fee applies to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LimitOn {
    /// The total ever drawn.
    #[default]
    TotalDrawn,
    /// The balance outstanding.
    Outstanding,
}

/// The `[guarantee]` table: a deficit guarantee.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GuaranteeTerms {
    /// The guarantor.
    pub guarantor: String,
    /// Whose deficit it covers.
    pub beneficiary: String,
    /// The most it pays.
    pub maximum: Amount,
}

/// One co-financer (scenario D: the EU Social Fund).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CoFinancingTerms {
    /// The co-financer.
    pub funder: String,
    /// Its share of each reimbursed party's outcome payments in a period.
    pub share: RatioField,
    /// The parties it reimburses.
    pub reimburses: Vec<String>,
    /// Payments of period *q* are reimbursed at the end of period *q + lag*.
    #[serde(default)]
    pub lag: u32,
}

/// The `[success-bonus]` table (scenario C).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SuccessBonusTerms {
    /// The bonus.
    pub amount: Amount,
    /// The share of enrolled participants that must have a qualified run.
    pub threshold: RatioField,
    /// Who pays.
    pub payer: String,
    /// Who is paid.
    pub payee: String,
}

/// A date: `YYYY-MM-DD`, quoted or a bare TOML date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateField(pub NaiveDate);

impl<'de> Deserialize<'de> for DateField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DateField, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Text(String),
            Toml(toml::value::Datetime),
        }
        let text = match Repr::deserialize(deserializer)? {
            Repr::Text(text) => text,
            Repr::Toml(datetime) => datetime.to_string(),
        };
        crate::date::parse_date(&text)
            .map(DateField)
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for DateField {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date", "description": "YYYY-MM-DD" })
    }
}

/// A month, `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthField(pub Month);

impl<'de> Deserialize<'de> for MonthField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<MonthField, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map(MonthField)
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for MonthField {
    fn schema_name() -> Cow<'static, str> {
        "Month".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$" })
    }
}

/// An amount in the contract's currency, as a decimal string: `"1300.00"`. It is checked
/// against the currency when the terms are validated.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Amount(pub String);

impl JsonSchema for Amount {
    fn schema_name() -> Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
            "description": "a decimal amount in the contract's currency, e.g. \"1300.00\""
        })
    }
}

impl Amount {
    /// The amount in `currency`.
    pub fn money(&self, currency: Currency) -> Result<Money, String> {
        Money::parse(&self.0, currency).map_err(|e| e.reason)
    }
}

/// A ratio: `"11/23"`, `"50%"` or `"0.70"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RatioField(pub Ratio);

impl<'de> Deserialize<'de> for RatioField {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RatioField, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ratio::parse(&text)
            .map(RatioField)
            .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for RatioField {
    fn schema_name() -> Cow<'static, str> {
        "Ratio".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9]+/[0-9]+|[0-9]+(\\.[0-9]+)?%?)$",
            "description": "an exact fraction: \"11/23\", \"50%\" or \"0.70\""
        })
    }
}

/// A problem in a terms document, located for the person who wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermsError {
    /// The file.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// The field, as a dotted path (`outcomes[2].requires[0]`).
    pub field: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for TermsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}: {}", self.file, line, self.field, self.reason),
            None => write!(f, "{}: {}: {}", self.file, self.field, self.reason),
        }
    }
}

impl std::error::Error for TermsError {}

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Key(&'static str),
    Index(usize),
}

/// A semantic problem before it is located.
struct Problem {
    path: Vec<Step>,
    reason: String,
}

fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Step::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// Parses and validates a terms document. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Terms, TermsError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let table = toml::de::DeTable::parse(text).map_err(|e| TermsError {
        file: file.to_owned(),
        line: e.span().map(|span| line_of(span.start)),
        field: String::from("(syntax)"),
        reason: first_line(e.message()),
    })?;
    let spans = table.clone();
    let terms = Terms::deserialize(toml::de::Deserializer::from(table)).map_err(|e| {
        let line = e.span().map(|span| line_of(span.start));
        TermsError {
            file: file.to_owned(),
            line,
            field: line.map_or_else(String::new, |line| key_on_line(text, line)),
            reason: first_line(e.message()),
        }
    })?;
    if let Some(problem) = validate(&terms).into_iter().next() {
        let span = locate(&spans, &problem.path);
        return Err(TermsError {
            file: file.to_owned(),
            line: span.map(|span| line_of(span.start)),
            field: path_text(&problem.path),
            reason: problem.reason,
        });
    }
    Ok(terms)
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_owned()
}

/// The key written on `line` (`price` in `price = "1,300"`), for errors serde reports by
/// span only.
fn key_on_line(text: &str, line: usize) -> String {
    let content = text.lines().nth(line - 1).unwrap_or_default().trim();
    match content.split_once('=') {
        Some((key, _)) => key.trim().trim_matches('"').to_owned(),
        None => content.trim_matches(|c| c == '[' || c == ']').to_owned(),
    }
}

/// The span of the value at `path`, or of the nearest ancestor that exists.
fn locate(
    table: &toml::Spanned<toml::de::DeTable<'_>>,
    path: &[Step],
) -> Option<std::ops::Range<usize>> {
    use toml::de::DeValue;
    let mut span = Some(table.span());
    let mut current: Option<&DeValue<'_>> = None;
    let mut root: Option<&toml::de::DeTable<'_>> = Some(table.get_ref());
    for step in path {
        let next = match (step, root, current) {
            (Step::Key(key), Some(t), _) | (Step::Key(key), None, Some(DeValue::Table(t))) => {
                t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
            }
            (Step::Index(i), _, Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        span = Some(next.span());
        current = Some(next.get_ref());
        root = None;
    }
    span
}

/// Collects semantic problems with their paths.
struct Problems<'t> {
    list: Vec<Problem>,
    parties: BTreeSet<&'t str>,
    currency: Currency,
}

impl<'t> Problems<'t> {
    fn add(&mut self, path: Vec<Step>, reason: String) {
        self.list.push(Problem { path, reason });
    }

    /// `id` must name a party of the contract.
    fn party(&mut self, path: Vec<Step>, id: &str) {
        if !self.parties.contains(id) {
            self.add(path, format!("{id} is not a party of the contract"));
        }
    }

    /// `amount` must be a non-negative amount in the contract's currency.
    fn money(&mut self, path: Vec<Step>, amount: &Amount) {
        match amount.money(self.currency) {
            Ok(m) if m.minor >= 0 => {}
            Ok(_) => self.add(path, "must not be negative".into()),
            Err(reason) => self.add(path, reason),
        }
    }
}

/// A condition names the fields its attribute's kind takes, and only those.
fn check_eligibility(p: &mut Problems<'_>, path: Vec<Step>, rule: &Eligibility) {
    let name = rule.attribute.name();
    let problem = match rule.attribute.kind() {
        AttributeKind::Number => {
            let reversed = matches!((rule.min, rule.max), (Some(min), Some(max)) if min > max);
            if (rule.min.is_none() && rule.max.is_none()) || reversed {
                Some("give min and/or max, min not above max".to_owned())
            } else if !rule.values.is_empty() || rule.is.is_some() {
                Some(format!(
                    "{name} is a number: give min and/or max, not in or is"
                ))
            } else {
                None
            }
        }
        AttributeKind::Category(allowed) => {
            if rule.values.is_empty() || rule.min.is_some() || rule.max.is_some() {
                Some(format!(
                    "{name} is a category: give `in`, a list of {}",
                    allowed.join(", ")
                ))
            } else if rule.is.is_some() {
                Some(format!("{name} is a category: give in, not is"))
            } else {
                rule.values
                    .iter()
                    .find(|v| !allowed.contains(&v.as_str()))
                    .map(|v| format!("{v:?} is not a {name}: one of {}", allowed.join(", ")))
            }
        }
        AttributeKind::Flag => {
            if rule.is.is_none() || rule.min.is_some() || rule.max.is_some() {
                Some(format!("{name} is yes or no: give is = true or is = false"))
            } else if !rule.values.is_empty() {
                Some(format!("{name} is yes or no: give is, not in"))
            } else {
                None
            }
        }
    };
    if let Some(reason) = problem {
        p.add(path, reason);
    }
}

/// The three kinds of key (DESIGN §3 "Keys"): event keys of type `0x01` named after their
/// party, witness keys of type `0x04`, the log key of type `0x01` named after the origin; no
/// public key serves two kinds or two parties.
fn check_keys(terms: &Terms, p: &mut Problems<'_>) {
    use Step::{Index, Key};
    let mut seen: Vec<([u8; 32], Vec<Step>)> = Vec::new();
    let mut note = |p: &mut Problems<'_>, key: Option<[u8; 32]>, at: Vec<Step>| {
        let Some(key) = key else { return };
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            p.add(
                at,
                format!(
                    "this public key is already used at {}: event, witness and log keys are \
                     three different keys, one per party",
                    path_text(first)
                ),
            );
        } else {
            seen.push((key, at));
        }
    };
    for (i, party) in terms.parties.iter().enumerate() {
        let at = vec![Key("parties"), Index(i), Key("key")];
        match crate::ids::verifier_key_parts(&party.key) {
            Some((_, 0x04, _)) => p.add(
                at.clone(),
                "this is a witness key (type 0x04); key is the party's event key (type 0x01)"
                    .into(),
            ),
            Some((_, _, key)) => note(p, Some(key), at),
            None => {}
        }
        if let Some(witness) = &party.witness_key {
            let at = vec![Key("parties"), Index(i), Key("witness-key")];
            match crate::ids::verifier_key_parts(witness) {
                Some((_, 0x04, key)) => note(p, Some(key), at),
                Some(_) => p.add(
                    at,
                    "not a witness key: a witness key has type 0x04 (pbr party keygen NAME --kind witness)"
                        .into(),
                ),
                None => p.add(at, "not a verifier key (<name>+<key id>+<base64>)".into()),
            }
        }
    }
    if let Some(log) = &terms.log {
        if !crate::ids::valid_key_name(&log.origin) {
            p.add(
                vec![Key("log"), Key("origin")],
                "an origin is printable ASCII without spaces or '+'".into(),
            );
        }
        let at = vec![Key("log"), Key("key")];
        match crate::ids::verifier_key_parts(&log.key) {
            Some((name, 0x01, key)) if name == log.origin => note(p, Some(key), at),
            Some((name, 0x01, _)) => p.add(
                at,
                format!(
                    "the log key is named {name}, not after the origin {}",
                    log.origin
                ),
            ),
            Some(_) => p.add(at, "a log key has type 0x01".into()),
            None => p.add(at, "not a verifier key (<name>+<key id>+<base64>)".into()),
        }
    }
}

/// The checks the schema cannot express. Returns every problem, in document order of the
/// sections.
fn validate(terms: &Terms) -> Vec<Problem> {
    use Step::{Index, Key};
    let mut p = Problems {
        list: Vec::new(),
        parties: BTreeSet::new(),
        currency: terms.contract.currency,
    };
    let contract = &terms.contract;
    if let Err(e) = check_name("contract id", &contract.id) {
        p.add(vec![Key("contract"), Key("id")], e.reason);
    }
    if contract.end < contract.start {
        p.add(
            vec![Key("contract"), Key("end")],
            "the contract ends before it starts".into(),
        );
    }
    for (i, party) in terms.parties.iter().enumerate() {
        if let Err(e) = check_name("party id", &party.id) {
            p.add(vec![Key("parties"), Index(i), Key("id")], e.reason);
        }
        if !p.parties.insert(party.id.as_str()) {
            p.add(
                vec![Key("parties"), Index(i), Key("id")],
                format!("party {} is listed twice", party.id),
            );
        }
        match crate::ids::verifier_key_name(&party.key) {
            Some(name) if name == party.id => {}
            Some(name) => p.add(
                vec![Key("parties"), Index(i), Key("key")],
                format!("the key is named {name}, not {}", party.id),
            ),
            None => p.add(
                vec![Key("parties"), Index(i), Key("key")],
                "not a verifier key (<name>+<key id>+<base64>)".into(),
            ),
        }
    }
    if !terms
        .parties
        .iter()
        .any(|party| party.role == Role::Commissioner)
    {
        p.add(
            vec![Key("parties")],
            "the contract needs a party with role commissioner".into(),
        );
    }
    check_keys(terms, &mut p);
    if let Some(checkpoint) = &terms.checkpoint {
        for (i, id) in checkpoint.quorum.iter().enumerate() {
            p.party(vec![Key("checkpoint"), Key("quorum"), Index(i)], id);
            if checkpoint.quorum[..i].contains(id) {
                p.add(
                    vec![Key("checkpoint"), Key("quorum"), Index(i)],
                    format!("party {id} is listed twice"),
                );
            }
            let party = terms.parties.iter().find(|party| &party.id == id);
            if terms.log.is_some() && party.is_some_and(|party| party.witness_key.is_none()) {
                p.add(
                    vec![Key("checkpoint"), Key("quorum"), Index(i)],
                    format!("party {id} is in the quorum but the terms give it no witness-key"),
                );
            }
        }
        if let Some(threshold) = checkpoint.threshold
            && (threshold == 0 || threshold > checkpoint.quorum.len())
        {
            p.add(
                vec![Key("checkpoint"), Key("threshold")],
                format!(
                    "threshold {threshold} is not between 1 and the quorum's {} parties",
                    checkpoint.quorum.len()
                ),
            );
        }
    }
    let codes: BTreeSet<&str> = terms.outcomes.iter().map(|o| o.code.as_str()).collect();
    for (i, outcome) in terms.outcomes.iter().enumerate() {
        let at = |field: &'static str| vec![Key("outcomes"), Index(i), Key(field)];
        if let Err(e) = check_name("outcome code", &outcome.code) {
            p.add(at("code"), e.reason);
        }
        if terms.outcomes[..i].iter().any(|o| o.code == outcome.code) {
            p.add(
                at("code"),
                format!("outcome {} is listed twice", outcome.code),
            );
        }
        match (&outcome.price, &outcome.partial_of) {
            (Some(price), None) => p.money(at("price"), price),
            (None, None) => p.add(
                at("price"),
                "an outcome needs a price, or partial-of and fraction to be paid at a fraction \
                 of another's"
                    .into(),
            ),
            (Some(_), Some(parent)) => {
                let fraction = outcome
                    .fraction
                    .map_or_else(|| "its fraction".to_owned(), |f| f.0.to_string());
                p.add(
                    at("price"),
                    format!(
                        "a partial outcome takes no price: it is paid at {fraction} of \
                         {parent}'s price"
                    ),
                );
            }
            (None, Some(_)) => {}
        }
        match (&outcome.payer, &outcome.payers) {
            (Some(payer), None) if payer == "home-party" => {}
            (Some(payer), None) => p.party(at("payer"), payer),
            (None, Some(payers)) if !payers.is_empty() => {
                for (j, payer) in payers.iter().enumerate() {
                    p.party(
                        vec![Key("outcomes"), Index(i), Key("payers"), Index(j)],
                        payer,
                    );
                }
            }
            _ => p.add(at("payer"), "name exactly one of payer or payers".into()),
        }
        p.party(at("payee"), &outcome.payee);
        if outcome.max_claims == 0 {
            p.add(at("max-claims"), "must be at least 1".into());
        }
        for (j, code) in outcome.requires.iter().enumerate() {
            if !codes.contains(code.as_str()) || *code == outcome.code {
                p.add(
                    vec![Key("outcomes"), Index(i), Key("requires"), Index(j)],
                    format!("{code} is not another outcome of the rate card"),
                );
            }
        }
        for (j, code) in outcome.requires_any.iter().enumerate() {
            if !codes.contains(code.as_str()) || *code == outcome.code {
                p.add(
                    vec![Key("outcomes"), Index(i), Key("requires-any"), Index(j)],
                    format!("{code} is not another outcome of the rate card"),
                );
            }
        }
        for (j, code) in outcome.excludes.iter().enumerate() {
            if !codes.contains(code.as_str()) || *code == outcome.code {
                p.add(
                    vec![Key("outcomes"), Index(i), Key("excludes"), Index(j)],
                    format!("{code} is not another outcome of the rate card"),
                );
            }
        }
        match (&outcome.partial_of, &outcome.fraction) {
            (None, None) => {}
            (Some(parent), Some(fraction)) => {
                if !codes.contains(parent.as_str()) || *parent == outcome.code {
                    p.add(
                        at("partial-of"),
                        format!("{parent} is not another outcome of the rate card"),
                    );
                } else if terms
                    .outcomes
                    .iter()
                    .any(|o| o.code == *parent && o.partial_of.is_some())
                {
                    p.add(
                        at("partial-of"),
                        format!(
                            "{parent} is itself paid at a fraction of another outcome: name the \
                             outcome with the price"
                        ),
                    );
                }
                if !fraction.0.is_fraction() {
                    p.add(at("fraction"), "must be between 0 and 1".into());
                }
            }
            _ => p.add(at("fraction"), "partial-of and fraction go together".into()),
        }
        for (j, rule) in outcome.eligibility.iter().enumerate() {
            check_eligibility(
                &mut p,
                vec![Key("outcomes"), Index(i), Key("eligibility"), Index(j)],
                rule,
            );
        }
        if let (Some(window), Some(deadline)) = (&outcome.achieved_by, &outcome.claim_deadline)
            && deadline < window
        {
            p.add(
                at("claim-deadline"),
                "the claim deadline is before the end of the outcome window".into(),
            );
        }
        if let Some(retention) = &outcome.retention {
            if outcome.sustain_weeks.is_none() {
                p.add(
                    at("retention"),
                    "retention checks prove a sustained outcome: give sustain-weeks".into(),
                );
            }
            if retention.activities.is_empty() {
                p.add(at("retention"), "name the activities that count".into());
            }
        }
        for (field, list, role) in [
            ("claimants", &outcome.claimants, outcome.claimed_by),
            ("verifiers", &outcome.verifiers, outcome.verified_by),
        ] {
            for (j, id) in list.iter().enumerate() {
                let path = vec![Key("outcomes"), Index(i), Key(field), Index(j)];
                match terms.parties.iter().find(|party| party.id == *id) {
                    None => p.add(path, format!("{id} is not a party of the contract")),
                    Some(party) if party.role != role => p.add(
                        path,
                        format!(
                            "{id} is a {}, and claims of {} are {} by a {}",
                            crate::state::role_name(party.role),
                            outcome.code,
                            if field == "claimants" {
                                "made"
                            } else {
                                "decided"
                            },
                            crate::state::role_name(role)
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        // Someone must be able to decide: a paying party of the verifier role, or a delegate.
        if outcome.verifiers.is_empty() {
            let role_of = |id: &str| terms.parties.iter().find(|x| x.id == id).map(|x| x.role);
            let payers: Vec<&str> = match (&outcome.payer, &outcome.payers) {
                (Some(payer), None) if payer == "home-party" => Vec::new(),
                (Some(payer), None) => vec![payer.as_str()],
                (None, Some(payers)) => payers.iter().map(String::as_str).collect(),
                _ => Vec::new(),
            };
            let home = outcome.payer.as_deref() == Some("home-party");
            let undecidable: Vec<&str> = payers
                .iter()
                .copied()
                .filter(|id| role_of(id).is_some_and(|r| r != outcome.verified_by))
                .collect();
            if (home && outcome.verified_by != Role::Commissioner) || !undecidable.is_empty() {
                p.add(
                    at("verified-by"),
                    format!(
                        "claims of {} are decided by a party of role {}, and {} not of that \
                         role: name the parties the payers delegate to in `verifiers`",
                        outcome.code,
                        crate::state::role_name(outcome.verified_by),
                        if home {
                            "the home party that pays them (a commissioner) is".to_owned()
                        } else {
                            format!("the paying party {} is", undecidable.join(", "))
                        }
                    ),
                );
            }
        }
    }
    if contract.issuers.is_empty() {
        let commissioners = terms
            .parties
            .iter()
            .filter(|x| x.role == Role::Commissioner)
            .count();
        if commissioners > 1 {
            p.add(
                vec![Key("contract"), Key("issuers")],
                format!(
                    "{commissioners} commissioners: name the parties that may issue statements"
                ),
            );
        }
    }
    for (j, id) in contract.issuers.iter().enumerate() {
        p.party(vec![Key("contract"), Key("issuers"), Index(j)], id);
    }
    if let Some(enrolment) = &terms.enrolment {
        if enrolment.to < enrolment.from {
            p.add(
                vec![Key("enrolment"), Key("to")],
                "the window ends before it starts".into(),
            );
        }
        for (j, rule) in enrolment.eligibility.iter().enumerate() {
            check_eligibility(
                &mut p,
                vec![Key("enrolment"), Key("eligibility"), Index(j)],
                rule,
            );
        }
    }
    if let Some(caps) = &terms.caps {
        for (field, amount) in [
            ("per-participant", &caps.per_participant),
            ("per-company", &caps.per_company),
            ("per-period", &caps.per_period),
            ("contract", &caps.contract),
        ] {
            if let Some(amount) = amount {
                p.money(vec![Key("caps"), Key(field)], amount);
            }
        }
    }
    if let Some(s) = &terms.sustainment {
        if s.run_months == 0 {
            p.add(
                vec![Key("sustainment"), Key("run-months")],
                "must be at least 1".into(),
            );
        }
        p.money(vec![Key("sustainment"), Key("full-price")], &s.full_price);
        if let Some(partial) = &s.partial_price {
            p.money(vec![Key("sustainment"), Key("partial-price")], partial);
        }
        if s.payer != "home-party" {
            p.party(vec![Key("sustainment"), Key("payer")], &s.payer);
        }
        p.party(vec![Key("sustainment"), Key("payee")], &s.payee);
    }
    if let Some(s) = &terms.savings {
        p.money(vec![Key("savings"), Key("monthly-rate")], &s.monthly_rate);
        if !s.attribution.0.is_fraction() {
            p.add(
                vec![Key("savings"), Key("attribution")],
                "must be between 0 and 1".into(),
            );
        }
        if s.measure_to < s.measure_from {
            p.add(
                vec![Key("savings"), Key("measure-to")],
                "measurement ends before it starts".into(),
            );
        }
        if s.party != "home-party" {
            p.party(vec![Key("savings"), Key("party")], &s.party);
        } else if terms
            .waterfall
            .as_ref()
            .is_some_and(|w| w.source == WaterfallSource::Savings)
        {
            p.add(
                vec![Key("savings"), Key("party")],
                "savings measured for each home party cannot feed the one waterfall: name the \
                 party whose savings repay it"
                    .into(),
            );
        }
    }
    if let Some(w) = &terms.waterfall {
        p.party(vec![Key("waterfall"), Key("party")], &w.party);
        if w.source == WaterfallSource::Savings && terms.savings.is_none() {
            p.add(
                vec![Key("waterfall"), Key("source")],
                "a savings waterfall needs a [savings] table".into(),
            );
        }
        for (i, tier) in w.tiers.iter().enumerate() {
            let at =
                |field: &'static str| vec![Key("waterfall"), Key("tiers"), Index(i), Key(field)];
            p.party(at("to"), &tier.to);
            match tier.rule {
                TierRule::Fill if tier.limit.is_none() => {
                    p.add(at("limit"), "a fill tier needs a limit".into())
                }
                TierRule::Share if tier.share.is_none() => {
                    p.add(at("share"), "a share tier needs a share".into())
                }
                TierRule::Remainder if i + 1 != w.tiers.len() => p.add(
                    at("rule"),
                    "only the last tier can take the remainder".into(),
                ),
                _ => {}
            }
            if let Some(limit) = &tier.limit {
                p.money(at("limit"), limit);
            }
            if let Some(cap) = &tier.cap_total {
                p.money(at("cap-total"), cap);
            }
            if tier.share.is_some_and(|share| !share.0.is_fraction()) {
                p.add(at("share"), "must be between 0 and 1".into());
            }
        }
    }
    if let Some(f) = &terms.facility {
        p.party(vec![Key("facility"), Key("lender")], &f.lender);
        p.party(vec![Key("facility"), Key("borrower")], &f.borrower);
        p.money(vec![Key("facility"), Key("limit")], &f.limit);
    }
    if let Some(g) = &terms.guarantee {
        p.party(vec![Key("guarantee"), Key("guarantor")], &g.guarantor);
        p.party(vec![Key("guarantee"), Key("beneficiary")], &g.beneficiary);
        p.money(vec![Key("guarantee"), Key("maximum")], &g.maximum);
    }
    for (i, c) in terms.co_financing.iter().enumerate() {
        p.party(
            vec![Key("co-financing"), Index(i), Key("funder")],
            &c.funder,
        );
        for (j, party) in c.reimburses.iter().enumerate() {
            p.party(
                vec![Key("co-financing"), Index(i), Key("reimburses"), Index(j)],
                party,
            );
        }
        if !c.share.0.is_fraction() {
            p.add(
                vec![Key("co-financing"), Index(i), Key("share")],
                "must be between 0 and 1".into(),
            );
        }
    }
    if let Some(b) = &terms.success_bonus {
        p.money(vec![Key("success-bonus"), Key("amount")], &b.amount);
        p.party(vec![Key("success-bonus"), Key("payer")], &b.payer);
        p.party(vec![Key("success-bonus"), Key("payee")], &b.payee);
    }
    for (i, permission) in terms.permissions.iter().enumerate() {
        if !crate::event::KINDS
            .iter()
            .any(|(_, name)| *name == permission.kind)
        {
            p.add(
                vec![Key("permissions"), Index(i), Key("kind")],
                format!("{} is not an event kind", permission.kind),
            );
        }
    }
    p.list
}

/// The JSON schema of the terms, as committed in `schemas/contract.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Terms);
    // Serializing a schema value cannot fail.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
