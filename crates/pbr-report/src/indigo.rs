//! The INDIGO export (`domain.md` §2): one contract as the project-level data of the GO Lab's
//! impact-bond data standard.
//!
//! [`export`] reads the contract's terms and the settlement engine's cumulative entitlement
//! through a period (the contract's final period by default) and writes the components the
//! ledger can fill: the outcome metrics and their prices, the payment plans (one per
//! settlement period), the outcome payments aggregated per metric × period × payer ×
//! recipient, the transactions (cash moving between organisations) and the results (validated
//! outcomes per metric, including those a cap left unpaid). Nothing below the project level
//! is written: no participant, pseudonym, company or claim appears, only counts and sums.
//!
//! `docs/reports.md` maps every field to its source and lists the fields the ledger cannot
//! fill, which are `null`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use pbr_core::CoreError;
use pbr_core::date::Period;
use pbr_core::event::Purpose;
use pbr_core::ids::ParticipantRef;
use pbr_core::money::{Currency, Money, RoundAt};
use pbr_core::settle::engine::entitlement;
use pbr_core::settle::{DecisionResult, Entitlement, TermsSource};
use pbr_core::state::{ContractState, FlowKind, State};
use pbr_core::terms::{
    Attribute, Counting, OutcomeTerms, Subject, Terms, TierRule, WaterfallSource,
};
use serde::Serialize;

use crate::ReportError;

/// The metric id of the months of qualified runs that are fully self-sufficient.
pub const SUSTAINMENT_FULL: &str = "sustainment:full";
/// The metric id of the months of qualified runs that are partly self-sufficient.
pub const SUSTAINMENT_PARTIAL: &str = "sustainment:partial";
/// The metric id of measured savings (off-benefit months).
pub const SAVINGS: &str = "savings";
/// The metric id of the success bonus.
pub const SUCCESS_BONUS: &str = "success-bonus";

/// An amount in the contract's currency: `{currency, amount, amount_usd}`. The amount is a
/// decimal string; `amount_usd` is always `null` (INDIGO converts).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MoneyField {
    /// ISO 4217.
    pub currency: String,
    /// A decimal string with the currency's minor digits, or `null` when unknown.
    pub amount: Option<String>,
    /// Always `null`.
    pub amount_usd: Option<String>,
}

impl MoneyField {
    fn of(currency: Currency, amount: Option<Money>) -> MoneyField {
        MoneyField {
            currency: currency.code().to_owned(),
            amount: amount.map(decimal),
            amount_usd: None,
        }
    }
}

/// A price: `{amount, amount_usd}` (the currency is the pricing's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Price {
    /// A decimal string, or `null` when the metric has no fixed price per unit.
    pub amount: Option<String>,
    /// Always `null`.
    pub amount_usd: Option<String>,
}

/// A maximum price: `{amount}`, which the terms never state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaximumPrice {
    /// Always `null`.
    pub amount: Option<String>,
}

/// A period: `{start_date, end_date}`, both included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DatePeriod {
    /// `YYYY-MM-DD`.
    pub start_date: String,
    /// `YYYY-MM-DD`.
    pub end_date: String,
}

impl DatePeriod {
    fn of(period: Period) -> DatePeriod {
        DatePeriod {
            start_date: period.first_day().to_string(),
            end_date: period.last_day().to_string(),
        }
    }
}

/// `dates`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Dates {
    /// Not recorded: `null`.
    pub outcomes_contract_signed: Option<String>,
    /// Not recorded: `null`.
    pub contracts_between_all_parties_signed: Option<String>,
    /// The terms' `[contract] start`.
    pub start_date_of_service_provision: Option<String>,
    /// The terms' `[contract] end`.
    pub anticipated_end_date_of_service_provision: Option<String>,
    /// Not recorded: `null`.
    pub actual_end_date_of_service_provision: Option<String>,
    /// The last day of the final settlement period.
    pub anticipated_completion_date: Option<String>,
    /// Not recorded: `null`.
    pub actual_completion_date: Option<String>,
}

/// `overall_project_finance`: the two fields the ledger can fill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finance {
    /// The contract cap (`[caps] contract`), `null` amount without one.
    pub maximum_potential_outcome_payment_v2: MoneyField,
    /// The sum of `outcome_payments`.
    pub total_outcome_payments_made: MoneyField,
}

/// `organisations[]`: a party of the contract, named by its party id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// The party id, which every `*_organisation_id` of the export refers to.
    pub id: String,
    /// The name in the terms, `null` for a party registered later.
    pub name: Option<String>,
    /// The party's role in the contract (a pbr field).
    pub role: pbr_core::event::Role,
    /// The `INDIGO-ORG-` id: not known to the ledger, `null`.
    pub indigo_id: Option<String>,
}

/// `outcome_metrics[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomeMetric {
    /// The outcome code, or `sustainment:full`, `sustainment:partial`, `savings`,
    /// `success-bonus`.
    pub id: String,
    /// The outcome's name in the terms, or the mechanism's definition.
    pub definition: Option<String>,
    /// Not in the terms: `null`.
    pub target_population: Option<String>,
    /// Not in the terms: `null`.
    pub targeted_number_of_service_users_or_beneficiaries_total: Option<u64>,
    /// `Individual` for participant outcomes, `Other` for company and project outcomes.
    pub unit_type_of_targeted_service_users_or_beneficiaries: &'static str,
    /// `Company` or `Project` with `Other`, `null` with `Individual`.
    pub unit_description_of_service_user_or_beneficiaries: Option<&'static str>,
    /// Not in the terms: `null`.
    pub outcome_metric_target: Option<String>,
    /// `Simple ex-post verification` for claimed outcomes, `null` otherwise.
    pub outcome_validation_method: Option<&'static str>,
    /// Not recorded (evidence is a hash): `null`.
    pub data_source_for_outcome_validation: Option<String>,
    /// Not in the terms: `null`.
    pub policy_sector: Option<String>,
    /// The rules of the rate card that define an achievement.
    pub notes: Option<String>,
}

/// `outcome_pricings[]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomePricing {
    /// The metric.
    pub outcome_metric_id: String,
    /// ISO 4217.
    pub currency: String,
    /// The price of one unit.
    pub price_per_unit: Price,
    /// Not in the terms: `{"amount": null}`.
    pub maximum_price_if_all_targets_achieved: MaximumPrice,
    /// Not in the terms: `null`.
    pub contracted_increases_to_outcome_pricing: Option<String>,
    /// Who pays whom, splits and caps.
    pub price_description: Option<String>,
}

/// `outcome_payment_plans[]`: one per settlement period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentPlan {
    /// The period id, e.g. `2013-Q2`.
    pub id: String,
    /// Its first and last day.
    pub period: DatePeriod,
}

/// `outcome_payments[]`: one metric, period, payer and recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomePayment {
    /// The settlement period's id.
    pub outcome_payment_plan_id: String,
    /// The metric; `null` for a negative net carried forward.
    pub outcome_metric_id: Option<String>,
    /// The settlement period.
    pub period: DatePeriod,
    /// The paying party.
    pub payer_organisation_id: String,
    /// The paid party.
    pub recipient_organisation_id: String,
    /// Always `Actual`: amounts due under the recorded decisions.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The net amount, claw-backs included (it may be negative).
    pub money: MoneyField,
}

/// `transactions[]`: money moving between organisations, other than outcome payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// Not known: `null`.
    pub investment_id: Option<String>,
    /// Not applicable: `null`.
    pub outcome_metric_id: Option<String>,
    /// The business date of a recorded flow, or the last day of the settlement period.
    pub date: String,
    /// Who pays.
    pub sending_organisation_id: String,
    /// Who is paid.
    pub receiving_organisation_id: String,
    /// The INDIGO type where the ledger knows it, `null` otherwise.
    pub transaction_type: Option<&'static str>,
    /// The amount.
    pub money: MoneyField,
    /// Where it comes from: a statement rule (`waterfall:principal`) or a recorded event
    /// kind (`funds-disbursed:grant`).
    pub notes: String,
}

/// `results[]`: one per metric, over the whole reported range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResultRow {
    /// The metric.
    pub outcome_metric_id: String,
    /// Always `Outcome level`.
    pub result_level: &'static str,
    /// `Final` through the final period, `Interim` before.
    pub result_type: &'static str,
    /// From the first day of the contract's first period to the last day of `through`.
    pub period: DatePeriod,
    /// Validated achievements, including those a cap left unpaid; rejected and clawed-back
    /// claims excluded. Months for sustainment and savings; 0 or 1 for the success bonus.
    pub outcomes_achieved: u64,
    /// Enrolled participants (registered companies for company outcomes).
    pub number_engaged_in_impact_bond: u64,
    /// Participants (companies) with at least one counted achievement; `null` for the
    /// success bonus.
    pub number_with_positive_social_outcomes: Option<u64>,
    /// The parties whose role verifies the outcome's claims, comma-separated; `null` for
    /// the mechanisms.
    pub outcomes_validator_organisation_ids: Option<String>,
    /// Not recorded: `null`.
    pub evaluation_documents_source_ids: Option<String>,
    /// Caps and claw-backs behind the count.
    pub notes: Option<String>,
}

/// The INDIGO project of one contract (its JSON is `docs/reports.md`'s).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Project {
    /// The contract (a pbr field).
    pub contract: String,
    /// The last settlement period included (a pbr field).
    pub through: String,
    /// The number of log events the state covers (a pbr field).
    pub log_position: u64,
    /// The `INDIGO-POJ-` id: assigned by INDIGO, `null`.
    pub id: Option<String>,
    /// The terms' `[contract] name`.
    pub name: String,
    /// Not recorded: `null`.
    pub stage_development: Option<String>,
    /// Dates from the terms.
    pub dates: Dates,
    /// Totals.
    pub overall_project_finance: Finance,
    /// The parties.
    pub organisations: Vec<Organisation>,
    /// The rate card and the payment mechanisms.
    pub outcome_metrics: Vec<OutcomeMetric>,
    /// Their prices.
    pub outcome_pricings: Vec<OutcomePricing>,
    /// The settlement periods.
    pub outcome_payment_plans: Vec<PaymentPlan>,
    /// Outcome payments per metric × period × payer × recipient.
    pub outcome_payments: Vec<OutcomePayment>,
    /// Other money between organisations.
    pub transactions: Vec<Transaction>,
    /// Achievements per metric.
    pub results: Vec<ResultRow>,
}

impl Project {
    /// The project as one line of JSON, keys in the documented order.
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string(self).map_err(|e| ReportError::Render(e.to_string()))
    }
}

fn decimal(money: Money) -> String {
    money.to_decimal().to_string()
}

fn core(error: CoreError) -> ReportError {
    ReportError::Input(error.reason)
}

/// A transaction's date, source label, sender and receiver.
type MoveKey = (String, String, String, String);

/// Where a statement line goes.
enum Use {
    /// An outcome payment of a metric (`None`: a carry-forward).
    Payment(Option<String>),
    /// A transaction of an INDIGO type, if known.
    Transaction(Option<&'static str>),
    /// Nothing moves: memo lines, savings, write-offs.
    Skip,
}

/// Classifies a statement line by its rule (`docs/settlement.md`).
fn classify(rule: &str, from: &str, to: &str, source: Option<WaterfallSource>) -> Use {
    if from == to || pbr_core::settle::MEMO_RULES.contains(&rule) {
        return Use::Skip;
    }
    if let Some(code) = rule
        .strip_prefix("outcome:")
        .or_else(|| rule.strip_prefix("clawback:"))
    {
        return Use::Payment(Some(code.to_owned()));
    }
    if rule.starts_with("waterfall:") {
        return match source {
            // Savings paid out of the commissioner's budget pay for outcomes.
            Some(WaterfallSource::Savings) => Use::Payment(Some(SAVINGS.to_owned())),
            // Outcome payments passed on by their recipient.
            _ => Use::Transaction(None),
        };
    }
    if rule.starts_with("co-financing:") {
        return Use::Transaction(Some("Grant"));
    }
    match rule {
        SUSTAINMENT_FULL | SUSTAINMENT_PARTIAL | SUCCESS_BONUS => {
            Use::Payment(Some(rule.to_owned()))
        }
        "carry-forward" => Use::Payment(None),
        "facility:draw" => Use::Transaction(Some("Debt")),
        "facility:repayment" => Use::Transaction(Some("Capital Repayment")),
        "facility:fee" => Use::Transaction(Some("Interest Payment")),
        "savings" => Use::Skip,
        // `guarantee:loss`, and any rule added later: money moves, of a type not known here.
        _ => Use::Transaction(None),
    }
}

/// The label and INDIGO type of a recorded flow, or `None` when it is not a transaction
/// between organisations (a commitment or a cost).
fn flow_type(kind: FlowKind, purpose: Option<Purpose>) -> Option<(String, Option<&'static str>)> {
    match kind {
        FlowKind::Disbursed => {
            let (name, indigo) = match purpose {
                Some(Purpose::WorkingCapital) => ("working-capital", None),
                Some(Purpose::Grant) => ("grant", Some("Grant")),
                Some(Purpose::ConditionalGrant) => ("conditional-grant", Some("Grant")),
                Some(Purpose::CoFinancing) => ("co-financing", Some("Grant")),
                Some(Purpose::FacilityDraw) => ("facility-draw", Some("Debt")),
                Some(Purpose::Repayment) => ("repayment", Some("Capital Repayment")),
                Some(Purpose::OutcomePayment) => ("outcome-payment", Some("Outcome Payment")),
                Some(Purpose::Fee) => ("fee", Some("Interest Payment")),
                None => ("", None),
            };
            let label = if name.is_empty() {
                "funds-disbursed".to_owned()
            } else {
                format!("funds-disbursed:{name}")
            };
            Some((label, indigo))
        }
        FlowKind::Payment => Some(("payment-recorded".to_owned(), None)),
        FlowKind::GuaranteeCalled => Some(("guarantee-called".to_owned(), None)),
        FlowKind::Committed | FlowKind::Cost => None,
    }
}

/// The terms versions of a contract, parsed once each, by the date they govern.
struct Versions<'a> {
    id: &'a str,
    contract: &'a ContractState,
    parsed: BTreeMap<u64, Arc<Terms>>,
}

impl<'a> Versions<'a> {
    fn new(id: &'a str, contract: &'a ContractState) -> Versions<'a> {
        Versions {
            id,
            contract,
            parsed: BTreeMap::new(),
        }
    }

    /// The terms in force on `date`.
    fn on(&mut self, date: chrono::NaiveDate) -> Result<Arc<Terms>, ReportError> {
        let version = self
            .contract
            .terms_on(date)
            .ok_or_else(|| ReportError::Input(format!("contract {} has no terms", self.id)))?;
        if let Some(terms) = self.parsed.get(&version.seq) {
            return Ok(terms.clone());
        }
        let terms = version.terms(self.id).map_err(core)?;
        self.parsed.insert(version.seq, terms.clone());
        Ok(terms)
    }

    /// Every version, newest first.
    fn newest_first(&self) -> Result<Vec<Arc<Terms>>, ReportError> {
        self.contract
            .versions
            .iter()
            .rev()
            .map(|v| v.terms(self.id).map_err(core))
            .collect()
    }
}

/// Achievements of one metric.
#[derive(Default)]
struct Tally {
    achieved: u64,
    subjects: BTreeSet<String>,
    capped_nothing: u64,
    capped_part: u64,
    clawed_back: u64,
}

/// What became of one claim through `through`.
struct ClaimOutcome {
    outcome: String,
    subject: String,
    accepted: Option<(Money, Money, bool)>,
    clawed_back: bool,
}

/// The INDIGO project of `contract` from `state`, through `through` (by default the final
/// settlement period of the latest terms). `through` must be a period of the contract's
/// settlement calendar, not before its first period.
pub fn export(
    state: &State,
    contract: &str,
    through: Option<Period>,
) -> Result<Project, ReportError> {
    let c = state
        .contracts
        .get(contract)
        .ok_or_else(|| ReportError::Input(format!("contract {contract} is not registered")))?;
    let first_version = c
        .versions
        .first()
        .ok_or_else(|| ReportError::Input(format!("contract {contract} has no terms")))?;
    let mut versions = Versions::new(contract, c);
    let latest = versions.newest_first()?.remove(0);
    let calendar = latest.contract.settlement;
    let through = match through {
        Some(period) => {
            if Period::containing(calendar, period.first_day()) != period {
                return Err(ReportError::Input(format!(
                    "period {period} is not a settlement period of {contract}, which settles \
                     every {}",
                    match calendar {
                        pbr_core::date::Calendar::Month => "month",
                        pbr_core::date::Calendar::Quarter => "quarter",
                        pbr_core::date::Calendar::Year => "year",
                    }
                )));
            }
            period
        }
        None => Period::containing(calendar, latest.contract.end.0),
    };
    let terms = versions.on(through.last_day())?;
    let first_terms = versions.on(first_version.effective_from)?;
    let first = Period::containing(calendar, first_terms.contract.start.0);
    if through < first {
        return Err(ReportError::Input(format!(
            "period {through} is before {contract}'s first settlement period, {first}"
        )));
    }
    let currency = terms.contract.currency;
    let ent = entitlement(
        c,
        &state.retracted,
        &TermsSource::Versions(contract, c),
        through,
    )
    .map_err(core)?;
    let final_period = ent.final_period;

    // Outcome payments and transactions from the statement lines.
    let mut payments: BTreeMap<(Period, Option<String>, String, String), Money> = BTreeMap::new();
    let mut moves: BTreeMap<MoveKey, (Option<&'static str>, Money)> = BTreeMap::new();
    for entry in &ent.entries {
        let key = &entry.key;
        let source = versions
            .on(key.accrual.last_day())?
            .waterfall
            .as_ref()
            .map(|w| w.source);
        match classify(&key.rule, &key.from, &key.to, source) {
            Use::Payment(metric) => {
                let slot = payments
                    .entry((key.accrual, metric, key.from.clone(), key.to.clone()))
                    .or_insert(Money::zero(currency));
                *slot = slot.checked_add(entry.amount).map_err(core)?;
            }
            Use::Transaction(kind) if entry.amount.minor != 0 => {
                let slot = moves
                    .entry((
                        key.accrual.last_day().to_string(),
                        key.rule.clone(),
                        key.from.clone(),
                        key.to.clone(),
                    ))
                    .or_insert((kind, Money::zero(currency)));
                slot.1 = slot.1.checked_add(entry.amount).map_err(core)?;
            }
            Use::Transaction(_) | Use::Skip => {}
        }
    }
    // Recorded money between organisations, dated through the period.
    for flow in c.flows.loaded().map_err(core)?.values() {
        if flow.date > through.last_day() || flow.from == flow.to {
            continue;
        }
        let Some((label, kind)) = flow_type(flow.kind, flow.purpose) else {
            continue;
        };
        let slot = moves
            .entry((
                flow.date.to_string(),
                label,
                flow.from.to_owned(),
                flow.to.to_owned(),
            ))
            .or_insert((kind, Money::zero(currency)));
        slot.1 = slot.1.checked_add(flow.amount).map_err(core)?;
    }

    let mut total = Money::zero(currency);
    let outcome_payments = payments
        .into_iter()
        .map(|((period, metric, from, to), amount)| {
            total = total.checked_add(amount)?;
            Ok(OutcomePayment {
                outcome_payment_plan_id: period.to_string(),
                outcome_metric_id: metric,
                period: DatePeriod::of(period),
                payer_organisation_id: from,
                recipient_organisation_id: to,
                kind: "Actual",
                money: MoneyField::of(currency, Some(amount)),
            })
        })
        .collect::<Result<Vec<_>, CoreError>>()
        .map_err(core)?;
    let transactions = moves
        .into_iter()
        .map(|((date, label, from, to), (kind, amount))| Transaction {
            investment_id: None,
            outcome_metric_id: None,
            date,
            sending_organisation_id: from,
            receiving_organisation_id: to,
            transaction_type: kind,
            money: MoneyField::of(currency, Some(amount)),
            notes: label,
        })
        .collect();

    let mut plans = Vec::new();
    let mut period = first;
    while period <= through {
        plans.push(PaymentPlan {
            id: period.to_string(),
            period: DatePeriod::of(period),
        });
        period = period.next();
    }

    let metrics = metric_ids(&terms, &ent);
    let tallies = tally(c, &ent)?;
    let all_versions = versions.newest_first()?;
    let engaged_participants = c
        .participants
        .values()
        .filter(|p| !state.retracted.contains(&p.seq) && p.start <= through.last_day())
        .count() as u64;
    let engaged_companies = c.companies.len() as u64;
    let mut outcome_metrics = Vec::new();
    let mut outcome_pricings = Vec::new();
    let mut results = Vec::new();
    let result_period = DatePeriod {
        start_date: first.first_day().to_string(),
        end_date: through.last_day().to_string(),
    };
    for id in &metrics {
        let outcome = std::iter::once(&terms)
            .chain(all_versions.iter())
            .find_map(|t| {
                t.outcomes
                    .iter()
                    .find(|o| &o.code == id)
                    .map(|o| (t.clone(), o.clone()))
            });
        let metric = describe(id, &terms, outcome.as_ref().map(|(t, o)| (t.as_ref(), o)))?;
        let empty = Tally::default();
        let tally = tallies.get(id.as_str()).unwrap_or(&empty);
        let company = metric.unit_description_of_service_user_or_beneficiaries == Some("Company");
        let validators = outcome.as_ref().map(|(_, o)| {
            c.parties
                .iter()
                .filter(|(_, (role, _))| *role == o.verified_by)
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        });
        results.push(ResultRow {
            outcome_metric_id: id.clone(),
            result_level: "Outcome level",
            result_type: if through >= final_period {
                "Final"
            } else {
                "Interim"
            },
            period: result_period.clone(),
            outcomes_achieved: tally.achieved,
            number_engaged_in_impact_bond: if company {
                engaged_companies
            } else {
                engaged_participants
            },
            number_with_positive_social_outcomes: (id != SUCCESS_BONUS)
                .then_some(tally.subjects.len() as u64),
            outcomes_validator_organisation_ids: validators.filter(|v| !v.is_empty()),
            evaluation_documents_source_ids: None,
            notes: tally.notes(),
        });
        outcome_pricings.push(pricing(
            id,
            &terms,
            outcome.as_ref().map(|(t, o)| (t.as_ref(), o)),
        )?);
        outcome_metrics.push(metric);
    }

    let names: BTreeMap<&str, &str> = terms
        .parties
        .iter()
        .chain(all_versions.iter().flat_map(|t| t.parties.iter()))
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .rev()
        .collect();
    let organisations = c
        .parties
        .iter()
        .map(|(id, (role, _))| Organisation {
            id: id.clone(),
            name: names.get(id.as_str()).map(|n| (*n).to_owned()),
            role: *role,
            indigo_id: None,
        })
        .collect();

    let cap = match terms.caps.as_ref().and_then(|caps| caps.contract.as_ref()) {
        Some(cap) => Some(cap.money(currency).map_err(ReportError::Input)?),
        None => None,
    };
    Ok(Project {
        contract: contract.to_owned(),
        through: through.to_string(),
        log_position: state.applied,
        id: None,
        name: terms.contract.name.clone(),
        stage_development: None,
        dates: Dates {
            outcomes_contract_signed: None,
            contracts_between_all_parties_signed: None,
            start_date_of_service_provision: Some(terms.contract.start.0.to_string()),
            anticipated_end_date_of_service_provision: Some(terms.contract.end.0.to_string()),
            actual_end_date_of_service_provision: None,
            anticipated_completion_date: Some(final_period.last_day().to_string()),
            actual_completion_date: None,
        },
        overall_project_finance: Finance {
            maximum_potential_outcome_payment_v2: MoneyField::of(currency, cap),
            total_outcome_payments_made: MoneyField::of(currency, Some(total)),
        },
        organisations,
        outcome_metrics,
        outcome_pricings,
        outcome_payment_plans: plans,
        outcome_payments,
        transactions,
        results,
    })
}

/// The metrics: every outcome of the terms and every outcome decided under earlier terms,
/// and the mechanisms of the terms that pay for results.
fn metric_ids(terms: &Terms, ent: &Entitlement) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = terms.outcomes.iter().map(|o| o.code.clone()).collect();
    ids.extend(ent.decisions.iter().map(|d| d.outcome.clone()));
    if let Some(s) = &terms.sustainment {
        ids.insert(SUSTAINMENT_FULL.to_owned());
        if s.partial_price.is_some() {
            ids.insert(SUSTAINMENT_PARTIAL.to_owned());
        }
    }
    if terms.savings.is_some() {
        ids.insert(SAVINGS.to_owned());
    }
    if terms.success_bonus.is_some() {
        ids.insert(SUCCESS_BONUS.to_owned());
    }
    for entry in &ent.entries {
        if !entry.key.moves_money() {
            continue;
        }
        if let rule @ (SUSTAINMENT_FULL | SUSTAINMENT_PARTIAL | SUCCESS_BONUS) =
            entry.key.rule.as_str()
        {
            ids.insert(rule.to_owned());
        }
    }
    ids
}

/// Achievements per metric: accepted claims that were not clawed back (whatever a cap let
/// them pay), months of qualified runs, off-benefit months measured, the bonus.
fn tally(c: &ContractState, ent: &Entitlement) -> Result<BTreeMap<String, Tally>, ReportError> {
    let mut claims: BTreeMap<u64, ClaimOutcome> = BTreeMap::new();
    for d in &ent.decisions {
        let claim = claims.entry(d.claim_seq).or_insert_with(|| ClaimOutcome {
            outcome: d.outcome.clone(),
            subject: d.subject.clone(),
            accepted: None,
            clawed_back: false,
        });
        match d.result {
            DecisionResult::Accepted => claim.accepted = Some((d.amount, d.price, d.cap.is_some())),
            DecisionResult::ClawedBack => claim.clawed_back = true,
            DecisionResult::Rejected(_) => {}
        }
    }
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for claim in claims.into_values() {
        let Some((amount, price, capped)) = claim.accepted else {
            continue;
        };
        let t = tallies.entry(claim.outcome).or_default();
        if claim.clawed_back {
            t.clawed_back += 1;
            continue;
        }
        t.achieved += 1;
        t.subjects.insert(claim.subject);
        if capped && amount.minor == 0 {
            t.capped_nothing += 1;
        } else if capped || amount < price {
            t.capped_part += 1;
        }
    }
    // Off-benefit months are events of participants; only their number leaves this function.
    let participant_of: BTreeMap<u64, &ParticipantRef> = c
        .months
        .iter()
        .flat_map(|(p, months)| {
            months
                .range(i32::MIN..=i32::MAX)
                .map(move |(_, seq, _)| (seq, p))
        })
        .collect();
    for entry in &ent.entries {
        let rule = entry.key.rule.as_str();
        match rule {
            SUSTAINMENT_FULL | SUSTAINMENT_PARTIAL => {
                let t = tallies.entry(rule.to_owned()).or_default();
                t.achieved += entry.events.len() as u64;
                if let Some(subject) = &entry.key.subject {
                    t.subjects.insert(subject.clone());
                }
            }
            SAVINGS => {
                let t = tallies.entry(SAVINGS.to_owned()).or_default();
                t.achieved += entry.events.len() as u64;
                for seq in &entry.events {
                    if let Some(p) = participant_of.get(seq) {
                        t.subjects.insert(format!("participant:{p}"));
                    }
                }
            }
            SUCCESS_BONUS => {
                let t = tallies.entry(SUCCESS_BONUS.to_owned()).or_default();
                t.achieved += u64::from(entry.amount.minor > 0);
            }
            _ => {}
        }
    }
    Ok(tallies)
}

impl Tally {
    fn notes(&self) -> Option<String> {
        let mut included = Vec::new();
        if self.capped_nothing > 0 {
            included.push(format!("{} not paid", self.capped_nothing));
        }
        if self.capped_part > 0 {
            included.push(format!("{} paid in part", self.capped_part));
        }
        let mut parts = Vec::new();
        if !included.is_empty() {
            parts.push(format!(
                "includes {} because of a cap",
                included.join(" and ")
            ));
        }
        if self.clawed_back > 0 {
            parts.push(format!("excludes {} clawed back", self.clawed_back));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The metric `id`, with the outcome of the rate card that defines it, if any.
fn describe(
    id: &str,
    terms: &Terms,
    outcome: Option<(&Terms, &OutcomeTerms)>,
) -> Result<OutcomeMetric, ReportError> {
    let mut metric = OutcomeMetric {
        id: id.to_owned(),
        definition: None,
        target_population: None,
        targeted_number_of_service_users_or_beneficiaries_total: None,
        unit_type_of_targeted_service_users_or_beneficiaries: "Individual",
        unit_description_of_service_user_or_beneficiaries: None,
        outcome_metric_target: None,
        outcome_validation_method: None,
        data_source_for_outcome_validation: None,
        policy_sector: None,
        notes: None,
    };
    if let Some((_, o)) = outcome {
        metric.definition = Some(o.name.clone());
        metric.outcome_validation_method = Some("Simple ex-post verification");
        if o.subject == Subject::Company {
            metric.unit_type_of_targeted_service_users_or_beneficiaries = "Other";
            metric.unit_description_of_service_user_or_beneficiaries = Some("Company");
        }
        metric.notes = Some(outcome_rules(o));
        return Ok(metric);
    }
    match id {
        SUSTAINMENT_FULL | SUSTAINMENT_PARTIAL => {
            if let Some(s) = &terms.sustainment {
                let status = if id == SUSTAINMENT_FULL {
                    "fully"
                } else {
                    "partly"
                };
                let counted = match s.counting {
                    Counting::Consecutive => "consecutive",
                    Counting::Cumulative => "counted",
                };
                metric.definition = Some(format!(
                    "A month {status} self-sufficient in a run of {} or more {counted} months \
                     within {} months of the participant's start",
                    s.run_months, s.window_months
                ));
            }
        }
        SAVINGS => {
            if let Some(s) = &terms.savings {
                metric.definition = Some(format!(
                    "An off-benefit month from {} to {}, settled {} period(s) after its own",
                    s.measure_from.0, s.measure_to.0, s.register_lag
                ));
            }
        }
        SUCCESS_BONUS => {
            metric.unit_type_of_targeted_service_users_or_beneficiaries = "Other";
            metric.unit_description_of_service_user_or_beneficiaries = Some("Project");
            if let Some(b) = &terms.success_bonus {
                metric.definition = Some(format!(
                    "At the final settlement, a share of at least {} of the enrolled \
                     participants achieved",
                    b.threshold.0
                ));
            }
        }
        _ => {}
    }
    Ok(metric)
}

/// The rules of a rate-card outcome, in words.
fn outcome_rules(o: &OutcomeTerms) -> String {
    let who = match o.subject {
        Subject::Participant => "participant",
        Subject::Company => "company",
    };
    let mut parts = vec![match o.max_claims {
        1 => format!("once per {who}"),
        n => format!("up to {n} times per {who}"),
    }];
    for e in &o.eligibility {
        let name = match e.attribute {
            Attribute::AgeAtEntry => "age at entry",
            Attribute::Isced => "ISCED level at entry",
            // The categories read as the terms write them.
            _ => {
                parts.push(e.describe());
                continue;
            }
        };
        match (e.min, e.max) {
            (Some(min), Some(max)) => parts.push(format!("{name} {min} to {max}")),
            (Some(min), None) => parts.push(format!("{name} at least {min}")),
            (None, Some(max)) => parts.push(format!("{name} at most {max}")),
            (None, None) => {}
        }
    }
    if let Some(weeks) = o.sustain_weeks {
        parts.push(format!("sustained {weeks} weeks"));
    }
    if !o.requires.is_empty() {
        parts.push(format!("requires {}", o.requires.join(" and ")));
    }
    if !o.requires_any.is_empty() {
        parts.push(format!("requires one of {}", o.requires_any.join(", ")));
    }
    if !o.excludes.is_empty() {
        parts.push(format!("not with {}", o.excludes.join(", ")));
    }
    if let Some(date) = o.achieved_by {
        parts.push(format!("achieved by {}", date.0));
    }
    if let Some(date) = o.claim_deadline {
        parts.push(format!("decided by {}", date.0));
    }
    parts.join("; ")
}

/// The price of the metric `id`.
fn pricing(
    id: &str,
    terms: &Terms,
    outcome: Option<(&Terms, &OutcomeTerms)>,
) -> Result<OutcomePricing, ReportError> {
    let currency = terms.contract.currency;
    let money =
        |amount: &pbr_core::terms::Amount| amount.money(currency).map_err(ReportError::Input);
    let mut price = None;
    let mut description = None;
    if let Some((t, o)) = outcome {
        price = Some(
            t.outcome_price(o)
                .and_then(|priced| priced.amount())
                .map_err(core)?,
        );
        let payers = match (&o.payer, &o.payers) {
            (Some(payer), _) if payer == "home-party" => {
                "paid by the participant's home party".to_owned()
            }
            (Some(payer), _) => format!("paid by {payer}"),
            (None, Some(payers)) => {
                let mut payers = payers.clone();
                payers.sort();
                let leftover = match t.contract.split_remainder {
                    pbr_core::terms::SplitRemainder::FirstParty => "first",
                    pbr_core::terms::SplitRemainder::LastParty => "last",
                };
                format!(
                    "split equally between {} (leftover minor units to the {leftover})",
                    payers.join(", ")
                )
            }
            (None, None) => "paid".to_owned(),
        };
        let mut text = format!("{payers} to {}", o.payee);
        if let Some(caps) = &t.caps {
            let mut limits = Vec::new();
            let subject = match o.subject {
                Subject::Participant => caps
                    .per_participant
                    .as_ref()
                    .map(|a| (a, "per participant")),
                Subject::Company => caps.per_company.as_ref().map(|a| (a, "per company")),
            };
            if let Some((amount, per)) = subject {
                limits.push(format!("{} {per}", decimal(money(amount)?)));
            }
            if let Some(amount) = &caps.per_period {
                limits.push(format!("{} per period", decimal(money(amount)?)));
            }
            if let Some(amount) = &caps.contract {
                limits.push(format!("{} over the contract", decimal(money(amount)?)));
            }
            if !limits.is_empty() {
                text.push_str(&format!("; net payments capped at {}", limits.join(", ")));
            }
        }
        description = Some(text);
    } else {
        match id {
            SUSTAINMENT_FULL | SUSTAINMENT_PARTIAL => {
                if let Some(s) = &terms.sustainment {
                    let amount = if id == SUSTAINMENT_FULL {
                        Some(&s.full_price)
                    } else {
                        s.partial_price.as_ref()
                    };
                    price = amount.map(money).transpose()?;
                    description = Some(format!(
                        "paid by {} to {} per month",
                        party_words(&s.payer),
                        s.payee
                    ));
                }
            }
            SAVINGS => {
                if let Some(s) = &terms.savings {
                    let valued = terms.savings_price(s).map_err(core)?;
                    let mut text = match terms.contract.round_at {
                        RoundAt::UnitPrice => format!(
                            "no fixed price: each month saves {} for {}",
                            valued.unit_calc().map_err(core)?,
                            party_words(&s.party)
                        ),
                        RoundAt::Total => format!(
                            "no fixed price: each month saves {} × {} for {}, rounded ({}) on \
                             each period's total",
                            decimal(valued.rate),
                            valued.ratio,
                            party_words(&s.party),
                            valued.rounding.name()
                        ),
                    };
                    if let Some(w) = terms
                        .waterfall
                        .as_ref()
                        .filter(|w| w.source == WaterfallSource::Savings)
                    {
                        let tiers = w
                            .tiers
                            .iter()
                            .filter(|tier| tier.to != w.party)
                            .map(|tier| {
                                let rule = match tier.rule {
                                    TierRule::Fill => match &tier.limit {
                                        Some(limit) => {
                                            format!("up to {} in total", decimal(money(limit)?))
                                        }
                                        None => "nothing".to_owned(),
                                    },
                                    TierRule::Share => match tier.share {
                                        Some(share) => format!("{} of the rest", share.0),
                                        None => "the rest".to_owned(),
                                    },
                                    TierRule::Remainder => "the rest".to_owned(),
                                };
                                let cap = match &tier.cap_total {
                                    Some(cap) => {
                                        format!(" (at most {} in all)", decimal(money(cap)?))
                                    }
                                    None => String::new(),
                                };
                                Ok(format!("{} to {}: {rule}{cap}", tier.label, tier.to))
                            })
                            .collect::<Result<Vec<_>, ReportError>>()?;
                        text.push_str(&format!(
                            "; {} pays out of the savings in tiers: {}",
                            w.party,
                            tiers.join("; ")
                        ));
                    }
                    description = Some(text);
                }
            }
            SUCCESS_BONUS => {
                if let Some(b) = &terms.success_bonus {
                    price = Some(money(&b.amount)?);
                    description = Some(format!(
                        "paid once by {} to {} at the final settlement if the threshold is met",
                        b.payer, b.payee
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(OutcomePricing {
        outcome_metric_id: id.to_owned(),
        currency: currency.code().to_owned(),
        price_per_unit: Price {
            amount: price.map(decimal),
            amount_usd: None,
        },
        maximum_price_if_all_targets_achieved: MaximumPrice { amount: None },
        contracted_increases_to_outcome_pricing: None,
        price_description: description,
    })
}

/// A party as the terms name it, in words: `home-party` is each participant's home party.
fn party_words(party: &str) -> &str {
    if party == "home-party" {
        "each participant's home party"
    } else {
        party
    }
}
