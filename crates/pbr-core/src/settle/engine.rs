//! The cumulative entitlement `E(p, L)`: every amount the contract makes due from its first
//! period through `p`, from the events of a log prefix, computed period by period because
//! the mechanisms are sequential (caps are consumed in order, a waterfall fills its tiers, a
//! facility carries cash and debt from one period to the next).
//!
//! Everything here is driven by the terms: no scenario, party or outcome is named in code.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::date::{Calendar, Month, Period};
use crate::error::CoreError;
use crate::event::{Purpose, RejectReason, SelfSufficiency};
use crate::ids::ParticipantRef;
use crate::money::{Currency, Money, Ratio, Rounding};
use crate::state::{ClaimSubject, ContractState, FlowKind};
use crate::terms::{
    LimitOn, NegativeNet, OrderKey, OutcomeTerms, SplitRemainder, Terms, TierRule, WaterfallSource,
};

/// Identifies an amount across recomputations: the same key in two recomputations is the
/// same entitlement, possibly changed by what was learnt in between.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LineKey {
    /// The period the amount belongs to.
    pub accrual: Period,
    /// The rule, e.g. `outcome:O8` (`docs/settlement.md`).
    pub rule: String,
    /// `participant:<ref>` or `company:<id>`, for amounts about one subject.
    pub subject: Option<String>,
    /// Who pays.
    pub from: String,
    /// Who is paid.
    pub to: String,
    /// The claim, for amounts of one claim.
    pub claim: Option<u64>,
}

/// The rules whose lines record an amount without moving money between their two parties
/// (`docs/settlement.md`, "Which lines move money"): a facility write-off forgives what the
/// borrower still owes, and the draws it forgives already moved that money.
pub const MEMO_RULES: [&str; 1] = ["facility:write-off"];

impl LineKey {
    /// Whether an amount under this key moves money from `from` to `to`: not when both are
    /// the same party (savings measured, a tier a waterfall's own party retains) and not for
    /// a [`MEMO_RULES`] rule. Every reader of statements (postings, totals, balances,
    /// budgets, INDIGO) asks this one question.
    pub fn moves_money(&self) -> bool {
        self.from != self.to && !MEMO_RULES.contains(&self.rule.as_str())
    }
}

/// Which cap limited an amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cap {
    /// The per-participant cap.
    Participant,
    /// The per-company cap.
    Company,
    /// The per-period cap.
    Period,
    /// The contract cap.
    Contract,
}

impl Cap {
    /// The name in statements.
    pub fn name(self) -> &'static str {
        match self {
            Cap::Participant => "participant",
            Cap::Company => "company",
            Cap::Period => "period",
            Cap::Contract => "contract",
        }
    }
}

/// One amount of the cumulative entitlement, with how it came about.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Its key.
    pub key: LineKey,
    /// The amount.
    pub amount: Money,
    /// The events (by seq) that produced it.
    pub events: Vec<u64>,
    /// The cap that bit, if any.
    pub cap: Option<Cap>,
    /// The arithmetic of each amount merged into this one, formatted only on demand
    /// ([`Entry::calc`]): a cumulative entitlement holds every amount since the contract
    /// began, and a statement shows the arithmetic of a few.
    calc: Vec<Calc>,
}

impl Entry {
    /// The arithmetic, for statements and `pbr explain`: each merged amount's, joined by `; `.
    pub fn calc(&self) -> String {
        let mut text = String::new();
        for (i, part) in self.calc.iter().enumerate() {
            if i > 0 {
                text.push_str("; ");
            }
            // Invariant: formatting into a String cannot fail.
            write!(text, "{part}").expect("writing to a String");
        }
        text
    }
}

/// The arithmetic behind one amount, kept as data until a statement shows it.
#[derive(Clone, Debug)]
enum Calc {
    /// Already formatted (amounts that are few: one per period or party).
    Text(String),
    /// Months of a qualified sustainment run (one per participant, status and period).
    Months {
        /// `full` or `partial`.
        status: &'static str,
        /// The months (indices, see [`Month::index`]).
        months: Vec<i32>,
        /// The month the run qualified.
        qualified: i32,
        /// The price of a month.
        price: Money,
        /// `price × months`, before caps.
        total: Money,
        /// The cap's arithmetic, empty when no cap bit.
        cap: String,
    },
}

impl From<String> for Calc {
    fn from(text: String) -> Calc {
        Calc::Text(text)
    }
}

impl std::fmt::Display for Calc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Calc::Text(text) => f.write_str(text),
            Calc::Months {
                status,
                months,
                qualified,
                price,
                total,
                cap,
            } => {
                let count = months.len();
                write!(
                    f,
                    "{count} {status} month{} (",
                    if count == 1 { "" } else { "s" }
                )?;
                for (i, month) in months.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Month::from_index(*month))?;
                }
                write!(
                    f,
                    "; run qualified {}) × {} = {}{cap}",
                    Month::from_index(*qualified),
                    price.to_decimal(),
                    total.to_decimal()
                )
            }
        }
    }
}

/// What a decision or claw-back did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionResult {
    /// Accepted (and paid what caps allowed).
    Accepted,
    /// Rejected for a reason.
    Rejected(RejectReason),
    /// Recovered.
    ClawedBack,
}

/// A decision or claw-back, with what it paid.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The claim.
    pub claim_seq: u64,
    /// The decision or claw-back event.
    pub event_seq: u64,
    /// `participant:<ref>` or `company:<id>`.
    pub subject: String,
    /// The outcome code.
    pub outcome: String,
    /// The decision date.
    pub date: NaiveDate,
    /// The period it settles in.
    pub period: Period,
    /// What it did.
    pub result: DecisionResult,
    /// The price of the outcome (for a claw-back: the net it recovers).
    pub price: Money,
    /// What it pays (negative for a claw-back).
    pub amount: Money,
    /// The cap that bit.
    pub cap: Option<Cap>,
}

/// A liquidity facility's position at a period's end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacilityPosition {
    /// The borrower's cash.
    pub cash: Money,
    /// The balance outstanding.
    pub outstanding: Money,
    /// The total ever drawn.
    pub drawn: Money,
}

/// The cumulative entitlement through a period.
#[derive(Clone, Debug)]
pub struct Entitlement {
    /// The last period included.
    pub through: Period,
    /// The contract's final period (the one holding its end date).
    pub final_period: Period,
    /// The currency.
    pub currency: Currency,
    /// Every amount, in the order the engine created them.
    pub entries: Vec<Entry>,
    /// Every decision and claw-back, in processing order.
    pub decisions: Vec<Decision>,
    /// The facility's position at the end of each period.
    pub facility: BTreeMap<Period, FacilityPosition>,
    /// Per guarantor: what it stands to lose at `through` (`min(outstanding, maximum)`).
    pub exposure: BTreeMap<String, Money>,
    /// Per reimbursed party: co-financing due for payments whose reimbursement period comes
    /// after `through`.
    pub receivable: BTreeMap<String, Money>,
    /// The period the engine went on from, when it resumed from an issued statement's
    /// [`Carry`] ([`entitlement_after`]): then `entries` and `decisions` hold only the periods
    /// after it, the ones before being exactly what that statement settled.
    pub resumed_after: Option<Period>,
    index: KeyIndex,
    /// What the engine carried out of `through`.
    carried: Running,
}

impl Entitlement {
    /// The amount under `key`, zero if none.
    pub fn amount(&self, key: &LineKey) -> Money {
        self.entry(key)
            .map_or(Money::zero(self.currency), |entry| entry.amount)
    }

    /// The entry under `key`.
    pub fn entry(&self, key: &LineKey) -> Option<&Entry> {
        self.index.get(&self.entries, key).map(|i| &self.entries[i])
    }

    /// What the next statement needs to go on from the end of `through` instead of from the
    /// contract's first period: the running totals, with the per-period ones no later
    /// period reads dropped.
    pub fn carry(&self) -> Carry {
        let r = &self.carried;
        let keep_from = self.through.minus(r.max_lag);
        Carry {
            through: self.through,
            paid_subject: r
                .paid_subject
                .iter()
                .map(|(s, m)| (s.clone(), *m))
                .collect(),
            paid_total: r.paid_total,
            paid_claim: r.paid_claim.clone(),
            forward: r.forward.clone(),
            // Co-financing reads what payers paid `lag` periods back.
            paid_by_payer: r
                .paid_by_payer
                .iter()
                .filter(|((period, _), _)| r.max_lag > 0 && *period > keep_from)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tier_paid: r.tier_paid.iter().map(|(t, m)| (*t as u64, *m)).collect(),
            tier_received: r
                .tier_received
                .iter()
                .map(|(p, m)| (p.clone(), *m))
                .collect(),
            facility: r.facility,
        }
    }
}

/// The engine's running totals at the end of a period: what the periods after it start
/// from. An issued statement keeps the carry of its period in the state, so the next
/// statement computes only its own periods ([`entitlement_after`]) unless a fact recorded
/// since could change a settled period (`State::apply` drops the carry then).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carry {
    /// The last period it covers.
    pub through: Period,
    paid_subject: BTreeMap<String, Money>,
    paid_total: Money,
    paid_claim: BTreeMap<u64, (String, Vec<(String, Money)>)>,
    forward: BTreeMap<(String, String), Money>,
    paid_by_payer: BTreeMap<(Period, String), (Money, Vec<u64>)>,
    tier_paid: BTreeMap<u64, Money>,
    tier_received: BTreeMap<String, Money>,
    facility: Option<FacilityPosition>,
}

/// The engine's running totals, as it works (see [`Carry`] for the stored form).
#[derive(Clone, Debug)]
struct Running {
    /// Net outcome payments per subject, over the contract.
    paid_subject: HashMap<String, Money>,
    /// Net outcome payments over the contract.
    paid_total: Money,
    /// What each accepted, not clawed-back claim paid: its payee and each payer's share.
    paid_claim: BTreeMap<u64, (String, Vec<(String, Money)>)>,
    /// Negative nets carried forward per (payer, payee).
    forward: BTreeMap<(String, String), Money>,
    /// Outcome payments after carry-forward, per (period, payer), with their events.
    paid_by_payer: BTreeMap<(Period, String), (Money, Vec<u64>)>,
    /// Waterfall: paid per tier, received per party.
    tier_paid: HashMap<usize, Money>,
    tier_received: HashMap<String, Money>,
    facility: Option<FacilityPosition>,
    /// The longest co-financing lag of any terms version: how far back a period reads
    /// `paid_by_payer`.
    max_lag: u32,
}

impl Running {
    fn new(currency: Currency) -> Running {
        Running {
            paid_subject: HashMap::new(),
            paid_total: Money::zero(currency),
            paid_claim: BTreeMap::new(),
            forward: BTreeMap::new(),
            paid_by_payer: BTreeMap::new(),
            tier_paid: HashMap::new(),
            tier_received: HashMap::new(),
            facility: None,
            max_lag: 0,
        }
    }

    fn from_carry(carry: &Carry) -> Running {
        Running {
            paid_subject: carry
                .paid_subject
                .iter()
                .map(|(s, m)| (s.clone(), *m))
                .collect(),
            paid_total: carry.paid_total,
            paid_claim: carry.paid_claim.clone(),
            forward: carry.forward.clone(),
            paid_by_payer: carry.paid_by_payer.clone(),
            tier_paid: carry
                .tier_paid
                .iter()
                .map(|(t, m)| (*t as usize, *m))
                .collect(),
            tier_received: carry
                .tier_received
                .iter()
                .map(|(p, m)| (p.clone(), *m))
                .collect(),
            facility: carry.facility,
            max_lag: 0,
        }
    }
}

/// Where each key's entry is, without a second copy of the keys: entries by a 64-bit hash of
/// their key, and by the key itself only for a key whose hash an earlier key already took.
#[derive(Clone, Debug, Default)]
struct KeyIndex {
    by_hash: HashMap<u64, usize>,
    collided: HashMap<LineKey, usize>,
}

impl KeyIndex {
    fn hash(key: &LineKey) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        key.hash(&mut hasher);
        hasher.finish()
    }

    fn get(&self, entries: &[Entry], key: &LineKey) -> Option<usize> {
        match self.by_hash.get(&Self::hash(key)) {
            Some(&i) if entries[i].key == *key => Some(i),
            Some(_) => self.collided.get(key).copied(),
            None => None,
        }
    }

    /// Records that `entries[i]` holds `key`, which is not in the index yet.
    fn insert(&mut self, key: &LineKey, i: usize) {
        match self.by_hash.entry(Self::hash(key)) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.clone(), i);
            }
        }
    }
}

/// Where the engine gets the terms for a date.
pub enum TermsSource<'a> {
    /// The contract's own versions: the one in force on the date.
    Versions(&'a str, &'a ContractState),
    /// One set of terms for every date (`pbr what-if`).
    Fixed(Arc<Terms>),
}

impl TermsSource<'_> {
    fn at(&self, date: NaiveDate) -> Result<Arc<Terms>, CoreError> {
        match self {
            TermsSource::Versions(id, contract) => contract
                .terms_on(date)
                .ok_or_else(|| CoreError::invalid(format!("contract {id} has no terms")))?
                .terms(id),
            TermsSource::Fixed(terms) => Ok(terms.clone()),
        }
    }
}

/// A claim action to process in a period.
struct Item {
    date: NaiveDate,
    subject: ClaimSubject,
    outcome: String,
    claim_seq: u64,
    event_seq: u64,
    action: Action,
}

#[derive(Clone, Copy)]
enum Action {
    Decided(Result<(), RejectReason>),
    ClawBack,
}

/// A sort key part of the processing order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Date(NaiveDate),
    Text(String),
    Number(u64),
}

/// Months of one participant's qualified runs paid in one period.
struct PaidMonths {
    participant: ParticipantRef,
    status: SelfSufficiency,
    months: Vec<(i32, u64)>,
    qualified: i32,
}

/// The sustainment parameters that decide which months are paid when.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct RunRules {
    run_months: u32,
    counting: crate::terms::Counting,
    window_months: u32,
    partial_counts: bool,
    calendar: Calendar,
}

struct Runs {
    by_period: BTreeMap<Period, Vec<PaidMonths>>,
    /// Each participant with a qualified run, and the period of its first qualification, in
    /// participant order.
    achievers: Vec<(ParticipantRef, Period)>,
}

fn subject_name(subject: &ClaimSubject) -> String {
    match subject {
        ClaimSubject::Participant(p) => format!("participant:{p}"),
        ClaimSubject::Company(c) => format!("company:{c}"),
    }
}

fn amount_of(terms: &Terms, amount: &crate::terms::Amount) -> Result<Money, CoreError> {
    amount
        .money(terms.contract.currency)
        .map_err(CoreError::invalid)
}

/// The running state of the simulation.
struct Engine<'a> {
    contract: &'a ContractState,
    retracted: &'a BTreeSet<u64>,
    currency: Currency,
    /// The first period it computes: the contract's first, or the one after a carry.
    start: Period,
    out: Entitlement,
    /// The running totals.
    run: Running,
    /// Net outcome payments in the current period.
    paid_period: Money,
    /// The current period's outcome-family net per (payer, payee), with its events.
    pairs: BTreeMap<String, BTreeMap<String, (Money, Vec<u64>)>>,
    /// Outcome payments after carry-forward, per (period, payee); a period reads only its
    /// own, so a carry does not keep them.
    received_by_payee: BTreeMap<(Period, String), Money>,
    runs: HashMap<RunRules, Arc<Runs>>,
}

/// Computes the cumulative entitlement through `through`, from the contract's first period.
pub fn entitlement(
    contract: &ContractState,
    retracted: &BTreeSet<u64>,
    source: &TermsSource<'_>,
    through: Period,
) -> Result<Entitlement, CoreError> {
    run(contract, retracted, source, None, through)
}

/// Computes the entitlement of the periods after `carry.through` through `through`, going
/// on from `carry`, the running totals an issued statement left. The caller vouches that
/// nothing recorded since that statement changes a period up to `carry.through` (the state
/// keeps a carry only while that holds); then every amount of those periods is what that
/// statement settled, and the amounts of the later periods are those a run from the first
/// period would compute.
pub fn entitlement_after(
    contract: &ContractState,
    retracted: &BTreeSet<u64>,
    source: &TermsSource<'_>,
    carry: &Carry,
    through: Period,
) -> Result<Entitlement, CoreError> {
    run(contract, retracted, source, Some(carry), through)
}

fn run(
    contract: &ContractState,
    retracted: &BTreeSet<u64>,
    source: &TermsSource<'_>,
    carry: Option<&Carry>,
    through: Period,
) -> Result<Entitlement, CoreError> {
    let last_terms = source.at(through.last_day())?;
    let calendar = last_terms.contract.settlement;
    // Periods of another calendar never meet this one's in the loop below (a year is after
    // every quarter): refuse, rather than run without end or find nothing.
    if Period::containing(calendar, through.last_day()) != through {
        return Err(CoreError::invalid(format!(
            "{through} is not a settlement period of terms that settle every {}",
            calendar.noun()
        )));
    }
    let currency = last_terms.contract.currency;
    let first_terms = match contract.versions.first() {
        Some(_) if matches!(source, TermsSource::Versions(..)) => {
            source.at(contract.versions[0].effective_from)?
        }
        _ => last_terms.clone(),
    };
    let first = Period::containing(calendar, first_terms.contract.start.0);
    let final_period = Period::containing(calendar, last_terms.contract.end.0);
    let start = carry.map_or(first, |c| c.through.next());
    let zero = Money::zero(currency);
    let mut engine = Engine {
        contract,
        retracted,
        currency,
        start,
        out: Entitlement {
            through,
            final_period,
            currency,
            entries: Vec::new(),
            decisions: Vec::new(),
            facility: BTreeMap::new(),
            exposure: BTreeMap::new(),
            receivable: BTreeMap::new(),
            resumed_after: carry.map(|c| c.through),
            index: KeyIndex::default(),
            carried: Running::new(currency),
        },
        run: carry.map_or_else(|| Running::new(currency), Running::from_carry),
        paid_period: zero,
        pairs: BTreeMap::new(),
        received_by_payee: BTreeMap::new(),
        runs: HashMap::new(),
    };
    engine.run.max_lag = max_lag(source)?;
    let mut items = engine.claim_items(calendar, start, through);
    let flows = engine.flows_by_period(calendar, start, through)?;
    let mut period = start;
    while period <= through {
        let terms = source.at(period.last_day())?;
        let period_items = items.remove(&period).unwrap_or_default();
        engine.period(source, &terms, period, period_items, &flows)?;
        period = period.next();
    }
    engine.finish(&last_terms, through)?;
    engine.out.carried = engine.run;
    Ok(engine.out)
}

/// The longest co-financing lag of the terms `source` can give.
fn max_lag(source: &TermsSource<'_>) -> Result<u32, CoreError> {
    let lag = |terms: &Terms| terms.co_financing.iter().map(|c| c.lag).max().unwrap_or(0);
    match source {
        TermsSource::Versions(id, contract) => contract
            .versions
            .iter()
            .try_fold(0, |most, v| Ok(most.max(lag(&*v.terms(id)?)))),
        TermsSource::Fixed(terms) => Ok(lag(terms)),
    }
}

impl<'a> Engine<'a> {
    fn zero(&self) -> Money {
        Money::zero(self.currency)
    }

    /// Every decision and claw-back from `start` through `through`, bucketed by the period
    /// it settles in.
    fn claim_items(
        &self,
        calendar: Calendar,
        start: Period,
        through: Period,
    ) -> BTreeMap<Period, Vec<Item>> {
        let mut items: BTreeMap<Period, Vec<Item>> = BTreeMap::new();
        let mut push = |date: NaiveDate, item: Item| {
            let period = Period::containing(calendar, date);
            if start <= period && period <= through {
                items.entry(period).or_default().push(item);
            }
        };
        for (&seq, claim) in &self.contract.claims {
            if self.retracted.contains(&seq) {
                continue;
            }
            let decided = claim
                .decision
                .map(|(event_seq, date, result)| (event_seq, date, Action::Decided(result)));
            let clawed = claim
                .clawed_back
                .map(|(event_seq, date)| (event_seq, date, Action::ClawBack));
            for (event_seq, date, action) in decided.into_iter().chain(clawed) {
                push(
                    date,
                    Item {
                        date,
                        subject: claim.subject.clone(),
                        outcome: claim.outcome.clone(),
                        claim_seq: seq,
                        event_seq,
                        action,
                    },
                );
            }
        }
        items
    }

    /// Recorded money flows from `start` through `through`, bucketed by period.
    fn flows_by_period(
        &self,
        calendar: Calendar,
        start: Period,
        through: Period,
    ) -> Result<BTreeMap<Period, Vec<(u64, crate::state::Flow<'a>)>>, CoreError> {
        let contract: &'a ContractState = self.contract;
        let mut flows: BTreeMap<Period, Vec<(u64, crate::state::Flow<'a>)>> = BTreeMap::new();
        // Only what the facility's cash sequence reads: a ledger may hold millions of costs.
        let read = |flow: &crate::state::Flow<'_>| {
            matches!(flow.kind, FlowKind::Disbursed | FlowKind::Cost)
        };
        for (seq, flow) in contract
            .flows
            .loaded()?
            .iter()
            .filter(|(_, flow)| read(flow))
        {
            let period = Period::containing(calendar, flow.date);
            if start <= period && period <= through {
                flows.entry(period).or_default().push((seq, flow));
            }
        }
        Ok(flows)
    }

    /// Adds `amount` under `key`, merging with an earlier amount of the same key.
    fn add(
        &mut self,
        key: LineKey,
        amount: Money,
        events: Vec<u64>,
        cap: Option<Cap>,
        calc: impl Into<Calc>,
    ) -> Result<(), CoreError> {
        let calc = calc.into();
        let outcome_family = key.rule.starts_with("outcome:")
            || key.rule.starts_with("clawback:")
            || key.rule.starts_with("sustainment:");
        if outcome_family {
            // Look up before inserting: the pair exists for all but its first line.
            match self
                .pairs
                .get_mut(&key.from)
                .and_then(|to| to.get_mut(&key.to))
            {
                Some(sum) => {
                    sum.0 = sum.0.checked_add(amount)?;
                    sum.1.extend(&events);
                }
                None => {
                    self.pairs
                        .entry(key.from.clone())
                        .or_default()
                        .insert(key.to.clone(), (amount, events.clone()));
                }
            }
        }
        match self.out.index.get(&self.out.entries, &key) {
            Some(i) => {
                let entry = &mut self.out.entries[i];
                entry.amount = entry.amount.checked_add(amount)?;
                entry.events.extend(events);
                entry.cap = entry.cap.or(cap);
                entry.calc.push(calc);
            }
            None => {
                self.out.index.insert(&key, self.out.entries.len());
                self.out.entries.push(Entry {
                    key,
                    amount,
                    events,
                    cap,
                    calc: vec![calc],
                });
            }
        }
        Ok(())
    }

    fn period(
        &mut self,
        source: &TermsSource<'_>,
        terms: &Terms,
        period: Period,
        mut items: Vec<Item>,
        flows: &BTreeMap<Period, Vec<(u64, crate::state::Flow<'_>)>>,
    ) -> Result<(), CoreError> {
        self.paid_period = self.zero();
        self.pairs.clear();
        // 1. Claims, in the contract's processing order (the claim's seq breaks ties).
        let order = &terms.contract.processing_order;
        let sort_key = |item: &Item| -> Vec<Part> {
            let mut key: Vec<Part> = order
                .iter()
                .map(|k| match k {
                    OrderKey::DecisionDate => Part::Date(item.date),
                    OrderKey::Subject => Part::Text(subject_name(&item.subject)),
                    OrderKey::Outcome => Part::Text(item.outcome.clone()),
                    OrderKey::Seq => Part::Number(item.claim_seq),
                })
                .collect();
            key.push(Part::Number(item.event_seq));
            key
        };
        items.sort_by_cached_key(sort_key);
        for item in items {
            self.claim(source, period, item)?;
        }
        // 2. Months of qualified runs.
        if let Some(s) = &terms.sustainment {
            self.sustainment(terms, s, period)?;
        }
        // 3. The period's net per payer and payee, with negative nets carried forward.
        self.carry_forward(terms, period)?;
        // 4. Savings, measured `register-lag` periods earlier.
        let savings = match &terms.savings {
            Some(s) => Some(self.savings(terms, s, period)?),
            None => None,
        };
        // 5. The waterfall.
        let mut waterfall_in: BTreeMap<String, Money> = BTreeMap::new();
        if let Some(w) = &terms.waterfall {
            let inflow = match w.source {
                WaterfallSource::Savings => savings.unwrap_or(self.zero()),
                WaterfallSource::OutcomePayments => self.received(period, &w.party)?,
            };
            waterfall_in = self.waterfall(terms, w, period, inflow)?;
        }
        // 6. The facility's cash sequence.
        if let Some(f) = &terms.facility {
            self.facility(terms, f, period, flows.get(&period), &waterfall_in)?;
        }
        // 7. Co-financing of payments `lag` periods earlier.
        for c in &terms.co_financing {
            let source_period = period.minus(c.lag);
            let mut payers = c.reimburses.clone();
            payers.sort();
            for party in payers {
                let Some((paid, events)) = self
                    .run
                    .paid_by_payer
                    .get(&(source_period, party.clone()))
                    .cloned()
                else {
                    continue;
                };
                let amount = paid.mul_ratio(c.share.0, terms.contract.rounding)?;
                if amount.minor == 0 {
                    continue;
                }
                let calc = format!(
                    "{} × {} paid by {party} in {source_period} = {}",
                    c.share.0,
                    paid.to_decimal(),
                    amount.to_decimal()
                );
                self.add(
                    LineKey {
                        accrual: period,
                        rule: format!("co-financing:{}", c.funder),
                        subject: None,
                        from: c.funder.clone(),
                        to: party,
                        claim: None,
                    },
                    amount,
                    events,
                    None,
                    calc,
                )?;
            }
        }
        Ok(())
    }

    /// The outcome payments `party` receives in `period`, after carry-forward.
    fn received(&self, period: Period, party: &str) -> Result<Money, CoreError> {
        Ok(self
            .received_by_payee
            .get(&(period, party.to_owned()))
            .copied()
            .unwrap_or(self.zero()))
    }

    fn claim(
        &mut self,
        source: &TermsSource<'_>,
        period: Period,
        item: Item,
    ) -> Result<(), CoreError> {
        let subject = subject_name(&item.subject);
        let zero = self.zero();
        let mut decision = Decision {
            claim_seq: item.claim_seq,
            event_seq: item.event_seq,
            subject: subject.clone(),
            outcome: item.outcome.clone(),
            date: item.date,
            period,
            result: DecisionResult::Accepted,
            price: zero,
            amount: zero,
            cap: None,
        };
        match item.action {
            Action::Decided(Err(reason)) => {
                decision.result = DecisionResult::Rejected(reason);
            }
            Action::Decided(Ok(())) => {
                let terms = source.at(item.date)?;
                let Some(outcome) = terms.outcomes.iter().find(|o| o.code == item.outcome) else {
                    // Under other terms (`what-if`) the outcome may not be priced at all.
                    self.out.decisions.push(decision);
                    return Ok(());
                };
                let priced = terms.outcome_price(outcome)?;
                let price = priced.amount()?;
                let mut price_calc = priced.calc()?;
                // Which retention checks proved the milestone (`explain` shows them).
                let mut events = vec![item.claim_seq, item.event_seq];
                if let (Some(retention), Some(weeks), ClaimSubject::Participant(p)) =
                    (&outcome.retention, outcome.sustain_weeks, &item.subject)
                {
                    let start = self
                        .contract
                        .claims
                        .get(&item.claim_seq)
                        .and_then(|c| c.activity_start);
                    if let Some(checks) = crate::state::retention_cover(
                        self.contract,
                        self.retracted,
                        p,
                        start,
                        weeks,
                        retention,
                        item.event_seq,
                    ) {
                        let seqs: Vec<String> = checks.iter().map(u64::to_string).collect();
                        price_calc.push_str(&format!(
                            "; {weeks} weeks from {} retained by the checks at seq {}",
                            start.map_or_else(String::new, |d| d.to_string()),
                            seqs.join(", ")
                        ));
                        events.extend(checks);
                    }
                }
                let (amount, cap, cap_calc) = self.capped(&terms, &item.subject, price)?;
                let payee = outcome.payee.clone();
                let payers = self.payers(&terms, outcome, &item.subject)?;
                let shares = split(amount, &payers, terms.contract.split_remainder)?;
                for (payer, share) in &shares {
                    let mut calc = price_calc.clone();
                    calc.push_str(&cap_calc);
                    if shares.len() > 1 {
                        calc.push_str(&format!(
                            "; split {} ways: {} to {payer}",
                            shares.len(),
                            share.to_decimal()
                        ));
                    }
                    self.add(
                        LineKey {
                            accrual: period,
                            rule: format!("outcome:{}", item.outcome),
                            subject: Some(subject.clone()),
                            from: payer.clone(),
                            to: payee.clone(),
                            claim: Some(item.claim_seq),
                        },
                        *share,
                        events.clone(),
                        cap,
                        calc,
                    )?;
                }
                self.count_paid(&subject, amount)?;
                self.run.paid_claim.insert(item.claim_seq, (payee, shares));
                decision.price = price;
                decision.amount = amount;
                decision.cap = cap;
            }
            Action::ClawBack => {
                let (payee, paid) = self
                    .run
                    .paid_claim
                    .remove(&item.claim_seq)
                    .unwrap_or_default();
                let mut total = zero;
                for (payer, share) in &paid {
                    let recovered = share.checked_neg()?;
                    total = total.checked_add(recovered)?;
                    self.add(
                        LineKey {
                            accrual: period,
                            rule: format!("clawback:{}", item.outcome),
                            subject: Some(subject.clone()),
                            from: payer.clone(),
                            to: payee.clone(),
                            claim: Some(item.claim_seq),
                        },
                        recovered,
                        vec![item.claim_seq, item.event_seq],
                        None,
                        format!(
                            "recovers the {} paid on claim {}",
                            share.to_decimal(),
                            item.claim_seq
                        ),
                    )?;
                }
                self.count_paid(&subject, total)?;
                decision.result = DecisionResult::ClawedBack;
                decision.price = total.checked_neg()?;
                decision.amount = total;
            }
        }
        self.out.decisions.push(decision);
        Ok(())
    }

    fn count_paid(&mut self, subject: &str, amount: Money) -> Result<(), CoreError> {
        match self.run.paid_subject.get_mut(subject) {
            Some(paid) => *paid = paid.checked_add(amount)?,
            None => {
                self.run.paid_subject.insert(subject.to_owned(), amount);
            }
        }
        self.run.paid_total = self.run.paid_total.checked_add(amount)?;
        self.paid_period = self.paid_period.checked_add(amount)?;
        Ok(())
    }

    /// `price` limited by the caps on net amounts: the subject's, the period's, then the
    /// contract's; when two bind equally the first is named.
    fn capped(
        &self,
        terms: &Terms,
        subject: &ClaimSubject,
        price: Money,
    ) -> Result<(Money, Option<Cap>, String), CoreError> {
        let Some(caps) = &terms.caps else {
            return Ok((price, None, String::new()));
        };
        let subject_key = subject_name(subject);
        let paid_subject = self
            .run
            .paid_subject
            .get(&subject_key)
            .copied()
            .unwrap_or(self.zero());
        let subject_cap = match subject {
            ClaimSubject::Participant(_) => {
                caps.per_participant.as_ref().map(|a| (Cap::Participant, a))
            }
            ClaimSubject::Company(_) => caps.per_company.as_ref().map(|a| (Cap::Company, a)),
        };
        let mut limits = Vec::new();
        if let Some((kind, cap)) = subject_cap {
            limits.push((kind, amount_of(terms, cap)?, paid_subject));
        }
        if let Some(cap) = &caps.per_period {
            limits.push((Cap::Period, amount_of(terms, cap)?, self.paid_period));
        }
        if let Some(cap) = &caps.contract {
            limits.push((Cap::Contract, amount_of(terms, cap)?, self.run.paid_total));
        }
        let mut amount = price;
        let mut named = None;
        let mut calc = String::new();
        for (kind, cap, paid) in limits {
            let headroom = cap.checked_sub(paid)?;
            let headroom = if headroom.minor < 0 {
                self.zero()
            } else {
                headroom
            };
            if headroom < amount {
                amount = headroom;
                named = Some(kind);
                calc = format!(
                    "; {} cap {} − paid {} = headroom {}",
                    kind.name(),
                    cap.to_decimal(),
                    paid.to_decimal(),
                    headroom.to_decimal()
                );
            }
        }
        Ok((amount, named, calc))
    }

    /// The paying parties of an outcome for a subject.
    fn payers(
        &self,
        terms: &Terms,
        outcome: &OutcomeTerms,
        subject: &ClaimSubject,
    ) -> Result<Vec<String>, CoreError> {
        match (&outcome.payer, &outcome.payers) {
            (Some(payer), _) if payer == "home-party" => {
                let home = match subject {
                    ClaimSubject::Participant(p) => self
                        .contract
                        .participants
                        .get(p)
                        .and_then(|p| p.attributes.home_party.clone()),
                    ClaimSubject::Company(_) => None,
                };
                home.map(|h| vec![h]).ok_or_else(|| {
                    CoreError::invalid(format!(
                        "{} is paid by the home party, and {} has none",
                        outcome.code,
                        subject_name(subject)
                    ))
                })
            }
            (Some(payer), _) => Ok(vec![payer.clone()]),
            (None, Some(payers)) => {
                let mut payers = payers.clone();
                payers.sort();
                Ok(payers)
            }
            (None, None) => Err(CoreError::invalid(format!(
                "{} of {} names no payer",
                outcome.code, terms.contract.id
            ))),
        }
    }

    fn run_rules(&mut self, terms: &Terms, s: &crate::terms::SustainmentTerms) -> Arc<Runs> {
        let rules = RunRules {
            run_months: s.run_months,
            counting: s.counting,
            window_months: s.window_months,
            partial_counts: s.partial_price.is_some(),
            calendar: terms.contract.settlement,
        };
        if let Some(runs) = self.runs.get(&rules) {
            return runs.clone();
        }
        let runs = Arc::new(self.compute_runs(rules));
        self.runs.insert(rules, runs.clone());
        runs
    }

    /// Which months of which participant are paid in which period under `rules`: a run of
    /// counted months inside the participant's window (consecutive, or accumulated over the
    /// window when the terms say `cumulative`) qualifies at its `run_months`-th month; its
    /// months up to then are paid in that month's period, later ones in their own.
    fn compute_runs(&self, rules: RunRules) -> Runs {
        let mut by_period: BTreeMap<Period, Vec<PaidMonths>> = BTreeMap::new();
        let mut achievers: Vec<(ParticipantRef, Period)> = Vec::new();
        let period_of =
            |index: i32| Period::containing(rules.calendar, Month::from_index(index).last_day());
        // Months paid before the first period computed were paid by the statement the engine
        // goes on from; the runs still start at the window's start, to count them.
        let start_month = Month::of(self.start.first_day()).index();
        for (participant, p) in &self.contract.participants {
            if self.retracted.contains(&p.seq) {
                continue;
            }
            let Some(months) = self.contract.months.get(participant) else {
                continue;
            };
            let first = Month::of(p.start).index();
            let last = first + rules.window_months as i32 - 1;
            let counts = |status: SelfSufficiency| {
                status == SelfSufficiency::Full
                    || (rules.partial_counts && status == SelfSufficiency::Partial)
            };
            let mut run: Vec<(i32, u64, SelfSufficiency)> = Vec::new();
            let mut flush = |run: &mut Vec<(i32, u64, SelfSufficiency)>| {
                if run.len() >= rules.run_months as usize && rules.run_months > 0 {
                    let qualified = run[rules.run_months as usize - 1].0;
                    // Runs come in month order, so the first is the earliest qualification.
                    if achievers.last().is_none_or(|(p, _)| p != participant) {
                        achievers.push((*participant, period_of(qualified)));
                    }
                    let mut groups: BTreeMap<(Period, u8), PaidMonths> = BTreeMap::new();
                    for &(month, seq, status) in run.iter() {
                        let paid_in = month.max(qualified);
                        if paid_in < start_month {
                            continue;
                        }
                        let period = period_of(paid_in);
                        groups
                            .entry((period, status as u8))
                            .or_insert_with(|| PaidMonths {
                                participant: *participant,
                                status,
                                months: Vec::new(),
                                qualified,
                            })
                            .months
                            .push((month, seq));
                    }
                    for ((period, _), paid) in groups {
                        by_period.entry(period).or_default().push(paid);
                    }
                }
                run.clear();
            };
            let mut previous: Option<i32> = None;
            for (month, seq, status) in months.range(first..=last) {
                let contiguous = previous.is_some_and(|p| p + 1 == month);
                let breaks = !counts(status) || !contiguous;
                if breaks && rules.counting == crate::terms::Counting::Consecutive {
                    flush(&mut run);
                }
                if counts(status) {
                    run.push((month, seq, status));
                }
                previous = Some(month);
            }
            flush(&mut run);
        }
        Runs {
            by_period,
            achievers,
        }
    }

    fn sustainment(
        &mut self,
        terms: &Terms,
        s: &crate::terms::SustainmentTerms,
        period: Period,
    ) -> Result<(), CoreError> {
        let runs = self.run_rules(terms, s);
        let Some(paid) = runs.by_period.get(&period) else {
            return Ok(());
        };
        let full = amount_of(terms, &s.full_price)?;
        let partial = match &s.partial_price {
            Some(price) => amount_of(terms, price)?,
            None => self.zero(),
        };
        for group in paid {
            let (name, price) = match group.status {
                SelfSufficiency::Partial => ("partial", partial),
                _ => ("full", full),
            };
            let count = group.months.len() as i64;
            let total = price.checked_mul(count)?;
            let subject = ClaimSubject::Participant(group.participant);
            let (amount, cap, cap_calc) = self.capped(terms, &subject, total)?;
            let calc = Calc::Months {
                status: name,
                months: group.months.iter().map(|(m, _)| *m).collect(),
                qualified: group.qualified,
                price,
                total,
                cap: cap_calc,
            };
            let subject_name = subject_name(&subject);
            let payer = self.home_or(&s.payer, &group.participant, "sustainment")?;
            self.add(
                LineKey {
                    accrual: period,
                    rule: format!("sustainment:{name}"),
                    subject: Some(subject_name.clone()),
                    from: payer,
                    to: s.payee.clone(),
                    claim: None,
                },
                amount,
                group.months.iter().map(|(_, seq)| *seq).collect(),
                cap,
                calc,
            )?;
            self.count_paid(&subject_name, amount)?;
        }
        Ok(())
    }

    /// Nets the period's outcome payments per (payer, payee); a negative net is carried
    /// forward when the contract says so. Records what each payer paid, for co-financing.
    fn carry_forward(&mut self, terms: &Terms, period: Period) -> Result<(), CoreError> {
        let mut pairs: BTreeMap<(String, String), (Money, Vec<u64>)> =
            std::mem::take(&mut self.pairs)
                .into_iter()
                .flat_map(|(from, to)| {
                    to.into_iter()
                        .map(move |(to, sum)| ((from.clone(), to), sum))
                })
                .collect();
        // What earlier periods carried forward is owed now.
        for ((payer, payee), carried) in std::mem::take(&mut self.run.forward) {
            let calc = format!("{} carried from {}", carried.to_decimal(), period.prev());
            self.add(
                LineKey {
                    accrual: period,
                    rule: "carry-forward".into(),
                    subject: None,
                    from: payer.clone(),
                    to: payee.clone(),
                    claim: None,
                },
                carried,
                Vec::new(),
                None,
                calc,
            )?;
            let pair = pairs
                .entry((payer, payee))
                .or_insert((Money::zero(self.currency), Vec::new()));
            pair.0 = pair.0.checked_add(carried)?;
        }
        for ((payer, payee), (mut net, events)) in pairs {
            if net.minor < 0 && terms.contract.negative_net == NegativeNet::CarryForward {
                self.run.forward.insert((payer.clone(), payee.clone()), net);
                let calc = format!("net {} carried to {}", net.to_decimal(), period.next());
                self.add(
                    LineKey {
                        accrual: period,
                        rule: "carry-forward".into(),
                        subject: None,
                        from: payer.clone(),
                        to: payee.clone(),
                        claim: None,
                    },
                    net.checked_neg()?,
                    Vec::new(),
                    None,
                    calc,
                )?;
                net = self.zero();
            }
            let zero = self.zero();
            let received = self
                .received_by_payee
                .entry((period, payee))
                .or_insert(zero);
            *received = received.checked_add(net)?;
            let paid = self
                .run
                .paid_by_payer
                .entry((period, payer))
                .or_insert((zero, Vec::new()));
            paid.0 = paid.0.checked_add(net)?;
            paid.1.extend(events);
        }
        Ok(())
    }

    fn savings(
        &mut self,
        terms: &Terms,
        s: &crate::terms::SavingsTerms,
        period: Period,
    ) -> Result<Money, CoreError> {
        let measured = period.minus(s.register_lag);
        let from = Month::of(measured.first_day())
            .index()
            .max(s.measure_from.0.index());
        let to = Month::of(measured.last_day())
            .index()
            .min(s.measure_to.0.index());
        // The months of each party whose savings they are: the one party, or each
        // participant's home party (`party = "home-party"`).
        let mut by_party: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for (participant, p) in &self.contract.participants {
            if self.retracted.contains(&p.seq) {
                continue;
            }
            if let Some(months) = self.contract.months.get(participant)
                && from <= to
            {
                let full: Vec<u64> = months
                    .range(from..=to)
                    .filter(|(_, _, status)| *status == SelfSufficiency::Full)
                    .map(|(_, seq, _)| seq)
                    .collect();
                if !full.is_empty() {
                    let party = self.home_or(&s.party, participant, "savings")?;
                    by_party.entry(party).or_default().extend(full);
                }
            }
        }
        let price = terms.savings_price(s)?;
        let mut total = self.zero();
        for (party, mut events) in by_party {
            events.sort_unstable();
            let count = events.len() as i64;
            let amount = price.times(count)?;
            total = total.checked_add(amount)?;
            let calc = price.calc(&format!("{count} off-benefit months of {measured}"), count)?;
            self.add(
                LineKey {
                    accrual: period,
                    rule: "savings".into(),
                    subject: None,
                    from: party.clone(),
                    to: party,
                    claim: None,
                },
                amount,
                events,
                None,
                calc,
            )?;
        }
        Ok(total)
    }

    /// `party`, or for `home-party` the participant's home party at entry (an error naming
    /// the rule when it has none).
    fn home_or(
        &self,
        party: &str,
        participant: &ParticipantRef,
        rule: &str,
    ) -> Result<String, CoreError> {
        if party != "home-party" {
            return Ok(party.to_owned());
        }
        self.contract
            .participants
            .get(participant)
            .and_then(|p| p.attributes.home_party.clone())
            .ok_or_else(|| {
                CoreError::invalid(format!(
                    "{rule} is booked to the home party, and participant {participant} has none"
                ))
            })
    }

    /// Passes `inflow` down the tiers; returns what each party received this period.
    fn waterfall(
        &mut self,
        terms: &Terms,
        w: &crate::terms::WaterfallTerms,
        period: Period,
        inflow: Money,
    ) -> Result<BTreeMap<String, Money>, CoreError> {
        let mut received = BTreeMap::new();
        if inflow.minor <= 0 {
            return Ok(received);
        }
        let zero = self.zero();
        let mut remaining = inflow;
        for (i, tier) in w.tiers.iter().enumerate() {
            let tier_paid = self.run.tier_paid.get(&i).copied().unwrap_or(zero);
            let (mut take, mut calc) = match tier.rule {
                TierRule::Fill => {
                    let limit = match &tier.limit {
                        Some(limit) => amount_of(terms, limit)?,
                        None => zero,
                    };
                    let room = limit.checked_sub(tier_paid)?;
                    let room = if room.minor < 0 { zero } else { room };
                    (
                        remaining.min(room),
                        format!(
                            "min(remaining {}, limit {} − paid {})",
                            remaining.to_decimal(),
                            limit.to_decimal(),
                            tier_paid.to_decimal()
                        ),
                    )
                }
                TierRule::Share => {
                    let share = tier.share.map_or(Ratio::one(), |s| s.0);
                    let take = remaining.mul_ratio(share, terms.contract.rounding)?;
                    (
                        take,
                        format!("{share} × remaining {}", remaining.to_decimal()),
                    )
                }
                TierRule::Remainder => (remaining, format!("remaining {}", remaining.to_decimal())),
            };
            if let Some(cap) = &tier.cap_total {
                let cap = amount_of(terms, cap)?;
                let got = self
                    .run
                    .tier_received
                    .get(&tier.to)
                    .copied()
                    .unwrap_or(zero);
                let room = cap.checked_sub(got)?;
                let room = if room.minor < 0 { zero } else { room };
                if room < take {
                    calc.push_str(&format!(
                        " = {}; capped at total {} − received {} = {}",
                        take.to_decimal(),
                        cap.to_decimal(),
                        got.to_decimal(),
                        room.to_decimal()
                    ));
                    take = room;
                }
            }
            if take.minor < 0 {
                take = zero;
            }
            remaining = remaining.checked_sub(take)?;
            self.run.tier_paid.insert(i, tier_paid.checked_add(take)?);
            let got = self
                .run
                .tier_received
                .get(&tier.to)
                .copied()
                .unwrap_or(zero);
            self.run
                .tier_received
                .insert(tier.to.clone(), got.checked_add(take)?);
            if take.minor != 0 {
                let r = received.entry(tier.to.clone()).or_insert(zero);
                *r = r.checked_add(take)?;
                calc.push_str(&format!(" → {}", take.to_decimal()));
                self.add(
                    LineKey {
                        accrual: period,
                        rule: format!("waterfall:{}", tier.label),
                        subject: None,
                        from: w.party.clone(),
                        to: tier.to.clone(),
                        claim: None,
                    },
                    take,
                    Vec::new(),
                    None,
                    calc,
                )?;
            }
        }
        Ok(received)
    }

    fn facility(
        &mut self,
        terms: &Terms,
        f: &crate::terms::FacilityTerms,
        period: Period,
        flows: Option<&Vec<(u64, crate::state::Flow<'_>)>>,
        waterfall_in: &BTreeMap<String, Money>,
    ) -> Result<(), CoreError> {
        let zero = self.zero();
        let mut position = self.run.facility.unwrap_or(FacilityPosition {
            cash: zero,
            outstanding: zero,
            drawn: zero,
        });
        // 1. Receive: outcome payments, waterfall tiers and recorded funding; pay costs.
        let outcome = self.received(period, &f.borrower)?;
        let mut cash = position.cash.checked_add(outcome)?;
        if let Some(tier) = waterfall_in.get(&f.borrower) {
            cash = cash.checked_add(*tier)?;
        }
        let mut events = Vec::new();
        for (seq, flow) in flows.into_iter().flatten() {
            let facility_flow = matches!(
                flow.purpose,
                Some(Purpose::FacilityDraw | Purpose::Repayment | Purpose::Fee)
            );
            match flow.kind {
                FlowKind::Disbursed if !facility_flow && flow.to == f.borrower => {
                    cash = cash.checked_add(flow.amount)?;
                    events.push(*seq);
                }
                FlowKind::Disbursed if !facility_flow && flow.from == f.borrower => {
                    cash = cash.checked_sub(flow.amount)?;
                    events.push(*seq);
                }
                FlowKind::Cost if flow.from == f.borrower => {
                    cash = cash.checked_sub(flow.amount)?;
                    events.push(*seq);
                }
                _ => {}
            }
        }
        let limit = amount_of(terms, &f.limit)?;
        let key = |rule: &str, from: &str, to: &str| LineKey {
            accrual: period,
            rule: rule.to_owned(),
            subject: None,
            from: from.to_owned(),
            to: to.to_owned(),
            claim: None,
        };
        // 2. Draw the shortfall within the limit, or repay what is outstanding.
        if cash.minor < 0 {
            let used = match f.limit_on {
                LimitOn::TotalDrawn => position.drawn,
                LimitOn::Outstanding => position.outstanding,
            };
            let room = limit.checked_sub(used)?;
            let room = if room.minor < 0 { zero } else { room };
            let draw = cash.checked_neg()?.min(room);
            if draw.minor > 0 {
                cash = cash.checked_add(draw)?;
                position.outstanding = position.outstanding.checked_add(draw)?;
                position.drawn = position.drawn.checked_add(draw)?;
                let calc = format!(
                    "shortfall {}; limit {} − used {} = room {}",
                    draw.to_decimal(),
                    limit.to_decimal(),
                    used.to_decimal(),
                    room.to_decimal()
                );
                self.add(
                    key("facility:draw", &f.lender, &f.borrower),
                    draw,
                    events.clone(),
                    None,
                    calc,
                )?;
            }
        } else if position.outstanding.minor > 0 {
            let repay = cash.min(position.outstanding);
            if repay.minor > 0 {
                cash = cash.checked_sub(repay)?;
                let calc = format!(
                    "min(cash {}, outstanding {})",
                    cash.checked_add(repay)?.to_decimal(),
                    position.outstanding.to_decimal()
                );
                position.outstanding = position.outstanding.checked_sub(repay)?;
                self.add(
                    key("facility:repayment", &f.borrower, &f.lender),
                    repay,
                    events.clone(),
                    None,
                    calc,
                )?;
            }
        }
        // 3. At the final settlement: the fee if everything is repaid, the loss otherwise.
        if period == self.out.final_period {
            if position.outstanding.minor == 0 {
                if let Some(fee) = &f.fee {
                    let basis = match f.fee_on {
                        LimitOn::TotalDrawn => position.drawn,
                        LimitOn::Outstanding => position.outstanding,
                    };
                    let due = basis.mul_ratio(fee.0, terms.contract.rounding)?;
                    let paid = due.min(if cash.minor < 0 { zero } else { cash });
                    if paid.minor > 0 {
                        cash = cash.checked_sub(paid)?;
                        let calc = format!(
                            "min({} × {} = {}, cash {})",
                            fee.0,
                            basis.to_decimal(),
                            due.to_decimal(),
                            cash.checked_add(paid)?.to_decimal()
                        );
                        self.add(
                            key("facility:fee", &f.borrower, &f.lender),
                            paid,
                            Vec::new(),
                            None,
                            calc,
                        )?;
                    }
                }
            } else if let Some(g) = &terms.guarantee {
                let maximum = amount_of(terms, &g.maximum)?;
                let covered = position.outstanding.min(maximum);
                let calc = format!(
                    "outstanding {} at the final settlement; guarantee up to {}",
                    position.outstanding.to_decimal(),
                    maximum.to_decimal()
                );
                if g.guarantor != f.lender {
                    self.add(
                        key("guarantee:loss", &g.guarantor, &f.lender),
                        covered,
                        Vec::new(),
                        None,
                        calc.clone(),
                    )?;
                }
                self.add(
                    key("facility:write-off", &f.lender, &f.borrower),
                    covered,
                    Vec::new(),
                    None,
                    calc,
                )?;
                position.outstanding = position.outstanding.checked_sub(covered)?;
            }
        }
        position.cash = cash;
        self.run.facility = Some(position);
        self.out.facility.insert(period, position);
        Ok(())
    }

    /// After the last period: the success bonus (at the final settlement) and the
    /// positions at `through`.
    fn finish(&mut self, terms: &Terms, through: Period) -> Result<(), CoreError> {
        if through >= self.out.final_period
            && let Some(b) = &terms.success_bonus
        {
            let final_period = self.out.final_period;
            let enrolled: Vec<&ParticipantRef> = self
                .contract
                .participants
                .iter()
                .filter(|(_, p)| !self.retracted.contains(&p.seq))
                .map(|(r, _)| r)
                .collect();
            let mut achievers: BTreeSet<String> = BTreeSet::new();
            if let Some(s) = &terms.sustainment {
                let runs = self.run_rules(terms, s);
                for (participant, period) in &runs.achievers {
                    if *period <= final_period {
                        achievers.insert(format!("participant:{participant}"));
                    }
                }
            }
            for claim_seq in self.run.paid_claim.keys() {
                if let Some(claim) = self.contract.claims.get(claim_seq)
                    && let ClaimSubject::Participant(p) = &claim.subject
                {
                    achievers.insert(format!("participant:{p}"));
                }
            }
            let count = achievers.len() as i64;
            let total = enrolled.len() as i64;
            let threshold = b.threshold.0;
            let met = total > 0
                && i128::from(count) * i128::from(threshold.denominator)
                    >= i128::from(threshold.numerator) * i128::from(total);
            let bonus = amount_of(terms, &b.amount)?;
            let amount = if met { bonus } else { self.zero() };
            let calc = format!(
                "{count} of {total} participants achieved; threshold {threshold}: {}",
                if met { "due" } else { "not due" }
            );
            self.add(
                LineKey {
                    accrual: final_period,
                    rule: "success-bonus".into(),
                    subject: None,
                    from: b.payer.clone(),
                    to: b.payee.clone(),
                    claim: None,
                },
                amount,
                Vec::new(),
                None,
                calc,
            )?;
        }
        // Guarantee exposure at `through`.
        if let (Some(g), Some(position)) = (&terms.guarantee, self.run.facility) {
            let maximum = amount_of(terms, &g.maximum)?;
            self.out
                .exposure
                .insert(g.guarantor.clone(), position.outstanding.min(maximum));
        }
        // Co-financing receivable: payments of the last `lag` periods, not yet reimbursed.
        for c in &terms.co_financing {
            for party in &c.reimburses {
                let mut due = self.zero();
                let mut period = through;
                for _ in 0..c.lag {
                    if let Some((paid, _)) = self.run.paid_by_payer.get(&(period, party.clone())) {
                        let rounding: Rounding = terms.contract.rounding;
                        due = due.checked_add(paid.mul_ratio(c.share.0, rounding)?)?;
                    }
                    period = period.prev();
                }
                let zero = self.zero();
                let entry = self.out.receivable.entry(party.clone()).or_insert(zero);
                *entry = entry.checked_add(due)?;
            }
        }
        Ok(())
    }
}

/// Splits `amount` equally among `payers` (in id order): each gets the floor of its share
/// and the leftover minor units go to the first or the last.
fn split(
    amount: Money,
    payers: &[String],
    remainder: SplitRemainder,
) -> Result<Vec<(String, Money)>, CoreError> {
    let n = payers.len() as i64;
    if n == 0 {
        return Err(CoreError::invalid("an outcome needs a payer"));
    }
    let each = amount.minor.div_euclid(n);
    let left = amount.minor - each * n;
    let lucky = match remainder {
        SplitRemainder::FirstParty => 0,
        SplitRemainder::LastParty => payers.len() - 1,
    };
    Ok(payers
        .iter()
        .enumerate()
        .map(|(i, payer)| {
            let minor = if i == lucky { each + left } else { each };
            (payer.clone(), Money::from_minor(minor, amount.currency))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_gives_the_leftover_to_the_first_party_in_id_order() -> Result<(), CoreError> {
        let payers: Vec<String> = ["K1", "K2", "K3"].iter().map(|s| s.to_string()).collect();
        let shares = split(
            Money::from_minor(2_500_000, Currency::DKK),
            &payers,
            SplitRemainder::FirstParty,
        )?;
        let minors: Vec<i64> = shares.iter().map(|(_, m)| m.minor).collect();
        assert_eq!(minors, vec![833_334, 833_333, 833_333]);
        let shares = split(
            Money::from_minor(2_500_000, Currency::DKK),
            &payers,
            SplitRemainder::LastParty,
        )?;
        let minors: Vec<i64> = shares.iter().map(|(_, m)| m.minor).collect();
        assert_eq!(minors, vec![833_333, 833_333, 833_334]);
        Ok(())
    }
}
