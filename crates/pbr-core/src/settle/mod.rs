//! Settlement: statements, their canonical bytes and hash, and balances.
//!
//! [`settle`] is a pure function of the state after a log prefix (which holds the terms
//! versions, the facts and what the last issued statement settled) and a period. It pays
//! the cumulative entitlement through the period (see [`engine`]) minus what the previous
//! issued statement settled, so a late fact becomes an adjustment line and an issued
//! statement is never rewritten. `docs/settlement.md` describes the rules and the JSON,
//! `docs/format.md` §9 the canonical bytes.

pub mod balance;
pub mod engine;
mod settled;

use std::collections::BTreeMap;

use bincode::Encode;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::date::Period;
use crate::error::CoreError;
use crate::money::{Currency, Money};
use crate::state::State;

pub use engine::{
    Cap, Carry, DecisionResult, Entitlement, FacilityPosition, LineKey, MEMO_RULES, TermsSource,
};
pub use settled::Settled;

/// The previous issued statement a statement builds on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Previous {
    /// The seq of its `settlement-issued` event.
    pub seq: u64,
    /// Its period.
    pub period: Period,
    /// Its log position.
    pub log_position: u64,
}

/// One amount of a statement.
#[derive(Clone, Debug)]
pub struct Line {
    /// 1-based position in the statement.
    pub n: u32,
    /// The rule, period, subject and parties.
    pub key: LineKey,
    /// Whether it adjusts an amount of an already-settled period.
    pub adjustment: bool,
    /// The amount due now.
    pub amount: Money,
    /// The events (by seq) behind it.
    pub events: Vec<u64>,
    /// The cap that bit.
    pub cap: Option<Cap>,
    /// The arithmetic.
    pub calc: String,
}

impl Line {
    /// A memo line records an amount without moving money: the same party on both sides,
    /// a rule that moves none ([`engine::MEMO_RULES`]), or nothing.
    pub fn is_memo(&self) -> bool {
        !self.key.moves_money() || self.amount.minor == 0
    }
}

/// One side of a line in double entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posting {
    /// The line.
    pub line: u32,
    /// The party.
    pub party: String,
    /// The account, named after the rule's family.
    pub account: String,
    /// Debit negative, credit positive.
    pub amount: Money,
}

/// What the lines make a party pay and receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Total {
    /// The party.
    pub party: String,
    /// Paid out.
    pub pays: Money,
    /// Received.
    pub receives: Money,
}

/// A settlement statement.
#[derive(Clone, Debug)]
pub struct Statement {
    /// The contract.
    pub contract: String,
    /// The period.
    pub period: Period,
    /// Whether it is the contract's final period.
    pub final_period: bool,
    /// The currency.
    pub currency: Currency,
    /// It covers the events with seq below this.
    pub log_position: u64,
    /// The statement it follows.
    pub previous: Option<Previous>,
    /// Decisions and claw-backs it covers.
    pub decisions: Vec<engine::Decision>,
    /// Its amounts.
    pub lines: Vec<Line>,
    /// Per party.
    pub totals: Vec<Total>,
    /// Double entry; sums to zero.
    pub postings: Vec<Posting>,
    /// The facility's position at the period's end.
    pub facility: Option<FacilityPosition>,
    /// BLAKE3 of the canonical bytes.
    pub hash: [u8; 32],
}

/// What balances need of an issued statement, kept in the state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuedSummary {
    /// The hash the engine computed.
    pub hash: [u8; 32],
    /// Per party: due to it (+) or from it (−), net.
    pub accrued: BTreeMap<String, Money>,
    /// Per party: received as return of or on money it put in (waterfall tiers, facility
    /// repayments and fees).
    pub returned: BTreeMap<String, Money>,
    /// Per party: savings measured (memo).
    pub savings: BTreeMap<String, Money>,
    /// Per guarantor: exposure after the statement.
    pub exposure: BTreeMap<String, Money>,
    /// Per reimbursed party: co-financing not yet due.
    pub receivable: BTreeMap<String, Money>,
}

impl IssuedSummary {
    /// The summary of a statement.
    pub fn of(
        statement: &Statement,
        entitlement: &Entitlement,
    ) -> Result<IssuedSummary, CoreError> {
        // What a party accrues is what the statement's totals make it receive less pay.
        let accrued = statement
            .totals
            .iter()
            .map(|t| Ok((t.party.clone(), t.receives.checked_sub(t.pays)?)))
            .collect::<Result<_, CoreError>>()?;
        let mut summary = IssuedSummary {
            hash: statement.hash,
            accrued,
            returned: BTreeMap::new(),
            savings: BTreeMap::new(),
            exposure: entitlement.exposure.clone(),
            receivable: entitlement.receivable.clone(),
        };
        let zero = Money::zero(statement.currency);
        let add = |map: &mut BTreeMap<String, Money>, party: &str, amount: Money| {
            let entry = map.entry(party.to_owned()).or_insert(zero);
            *entry = entry.checked_add(amount)?;
            Ok::<(), CoreError>(())
        };
        for line in &statement.lines {
            let rule = line.key.rule.as_str();
            if rule == "savings" {
                add(&mut summary.savings, &line.key.to, line.amount)?;
            }
            if line.is_memo() {
                continue;
            }
            if rule.starts_with("waterfall:")
                || rule == "facility:repayment"
                || rule == "facility:fee"
            {
                add(&mut summary.returned, &line.key.to, line.amount)?;
            }
        }
        Ok(summary)
    }
}

/// The statement of `period` for `contract`, from `state`, which must be the state after
/// the events with seq below `log_position`; with the cumulative entitlement it settles
/// ([`Settled::of`] keeps what the next statement needs of it).
pub fn settle(
    state: &State,
    contract_id: &str,
    period: Period,
    log_position: u64,
) -> Result<(Statement, Entitlement), CoreError> {
    let contract = state
        .contracts
        .get(contract_id)
        .ok_or_else(|| CoreError::invalid(format!("contract {contract_id} is not registered")))?;
    let terms = contract
        .terms_on(period.last_day())
        .ok_or_else(|| CoreError::invalid(format!("contract {contract_id} has no terms")))?
        .terms(contract_id)?;
    if Period::containing(terms.contract.settlement, period.last_day()) != period {
        return Err(CoreError::invalid(format!(
            "contract {contract_id} does not settle by {period}"
        )));
    }
    let previous = contract.issued.last().map(|i| Previous {
        seq: i.seq,
        period: i.period,
        log_position: i.log_position,
    });
    if let Some(previous) = &previous
        && period <= previous.period
    {
        return Err(CoreError::invalid(format!(
            "{contract_id} is settled up to {} (statement seq {}); settle a later period, or \
             `pbr explain {}` to see that statement",
            previous.period, previous.seq, previous.seq
        )));
    }
    let source = TermsSource::Versions(contract_id, contract);
    // Go on from where the previous statement stopped while the state still vouches for it
    // (no fact recorded since changes a settled period); otherwise start from the beginning.
    let carry = contract
        .resume
        .as_deref()
        .filter(|carry| previous.as_ref().is_some_and(|p| p.period == carry.through));
    let entitlement = match carry {
        Some(carry) => {
            engine::entitlement_after(contract, &state.retracted, &source, carry, period)?
        }
        None => engine::entitlement(contract, &state.retracted, &source, period)?,
    };
    let empty = Settled::default();
    let settled = contract.settled.as_deref().unwrap_or(&empty);
    let statement = assemble(
        contract_id,
        period,
        log_position,
        previous,
        &entitlement,
        settled,
    )?;
    Ok((statement, entitlement))
}

/// The statement: what `entitlement` adds to `settled`.
fn assemble(
    contract: &str,
    period: Period,
    log_position: u64,
    previous: Option<Previous>,
    entitlement: &Entitlement,
    settled: &Settled,
) -> Result<Statement, CoreError> {
    let currency = entitlement.currency;
    let settled_through = previous.as_ref().map(|p| p.period);
    let is_settled = |accrual: Period| settled_through.is_some_and(|q| accrual <= q);
    let mut lines = Vec::new();
    let mut push = |key: LineKey, amount: Money, adjustment: bool, events: Vec<u64>, cap, calc| {
        lines.push(Line {
            n: 0,
            key,
            adjustment,
            amount,
            events,
            cap,
            calc,
        });
    };
    for entry in &entitlement.entries {
        if !is_settled(entry.key.accrual) {
            let memo_zero = entry.amount.minor == 0
                && !entry.key.rule.starts_with("outcome:")
                && entry.key.rule != "success-bonus";
            if !memo_zero {
                push(
                    entry.key.clone(),
                    entry.amount,
                    false,
                    entry.events.clone(),
                    entry.cap,
                    entry.calc(),
                );
            }
            continue;
        }
        let before = settled.get(&entry.key).unwrap_or(Money::zero(currency));
        if entry.amount != before {
            let delta = entry.amount.checked_sub(before)?;
            let calc = format!(
                "recomputed {} ({}) − settled {}",
                entry.amount.to_decimal(),
                entry.calc(),
                before.to_decimal()
            );
            push(
                entry.key.clone(),
                delta,
                true,
                entry.events.clone(),
                entry.cap,
                calc,
            );
        }
    }
    // An amount settled before and not computed now is no longer due. A resumed entitlement
    // computed only the later periods, and the settled ones stand as settled.
    let vanished = match entitlement.resumed_after {
        None => Some(settled.iter()),
        Some(_) => None,
    };
    for (key, before) in vanished.into_iter().flatten() {
        if entitlement.entry(&key).is_none() && before.minor != 0 && is_settled(key.accrual) {
            let calc = format!("no longer due: settled {}", before.to_decimal());
            push(key, before.checked_neg()?, true, Vec::new(), None, calc);
        }
    }
    for (i, line) in lines.iter_mut().enumerate() {
        line.n = u32::try_from(i + 1).map_err(|_| CoreError::overflow())?;
    }
    let decisions: Vec<engine::Decision> = entitlement
        .decisions
        .iter()
        .filter(|d| {
            !is_settled(d.period)
                || previous
                    .as_ref()
                    .is_some_and(|p| d.event_seq >= p.log_position)
        })
        .cloned()
        .collect();
    let (totals, postings) = double_entry(&lines, currency)?;
    let mut statement = Statement {
        contract: contract.to_owned(),
        period,
        final_period: period == entitlement.final_period,
        currency,
        log_position,
        previous,
        decisions,
        lines,
        totals,
        postings,
        facility: entitlement.facility.get(&period).copied(),
        hash: [0; 32],
    };
    statement.hash = *blake3::hash(&statement.canonical_bytes()?).as_bytes();
    Ok(statement)
}

/// The family of a rule names its account: `outcome:O8` → `outcome-payments`.
fn account(rule: &str) -> &'static str {
    match rule.split(':').next().unwrap_or(rule) {
        "outcome" | "clawback" => "outcome-payments",
        "sustainment" => "sustainment",
        "waterfall" => "waterfall",
        "facility" => "facility",
        "guarantee" => "guarantee",
        "co-financing" => "co-financing",
        "success-bonus" => "success-bonus",
        "carry-forward" => "carry-forward",
        _ => "other",
    }
}

fn double_entry(
    lines: &[Line],
    currency: Currency,
) -> Result<(Vec<Total>, Vec<Posting>), CoreError> {
    let zero = Money::zero(currency);
    let mut totals: BTreeMap<String, (Money, Money)> = BTreeMap::new();
    let mut postings = Vec::new();
    for line in lines.iter().filter(|l| !l.is_memo()) {
        let account = account(&line.key.rule).to_owned();
        postings.push(Posting {
            line: line.n,
            party: line.key.from.clone(),
            account: account.clone(),
            amount: line.amount.checked_neg()?,
        });
        postings.push(Posting {
            line: line.n,
            party: line.key.to.clone(),
            account,
            amount: line.amount,
        });
        let from = totals.entry(line.key.from.clone()).or_insert((zero, zero));
        from.0 = from.0.checked_add(line.amount)?;
        let to = totals.entry(line.key.to.clone()).or_insert((zero, zero));
        to.1 = to.1.checked_add(line.amount)?;
    }
    let totals = totals
        .into_iter()
        .map(|(party, (pays, receives))| Total {
            party,
            pays,
            receives,
        })
        .collect();
    Ok((totals, postings))
}

/// The canonical form of a statement, in the field order of `docs/format.md` §9.
#[derive(Encode)]
struct Canonical<'a> {
    domain: &'a str,
    contract: &'a str,
    period: String,
    final_period: bool,
    currency: Currency,
    log_position: u64,
    previous: Option<(u64, String, u64)>,
    decisions: Vec<CanonicalDecision<'a>>,
    lines: Vec<CanonicalLine<'a>>,
    totals: Vec<(&'a str, i64, i64)>,
    postings: Vec<(u32, &'a str, &'a str, i64)>,
    facility: Option<(i64, i64, i64)>,
}

#[derive(Encode)]
struct CanonicalDecision<'a> {
    claim_seq: u64,
    event_seq: u64,
    subject: &'a str,
    outcome: &'a str,
    date: i32,
    result: &'static str,
    price: i64,
    amount: i64,
    cap: Option<&'static str>,
}

#[derive(Encode)]
struct CanonicalLine<'a> {
    n: u32,
    rule: &'a str,
    accrual: String,
    adjustment: bool,
    subject: Option<&'a str>,
    from: &'a str,
    to: &'a str,
    claim: Option<u64>,
    amount: i64,
    events: &'a [u64],
    cap: Option<&'static str>,
    calc: &'a str,
}

/// The domain separator at the start of a statement's canonical bytes.
pub const STATEMENT_DOMAIN: &str = "pbr statement v1";

/// `accepted`, `clawed-back` or the rejection reason.
pub fn result_text(result: DecisionResult) -> &'static str {
    match result {
        DecisionResult::Accepted => "accepted",
        DecisionResult::ClawedBack => "clawed-back",
        DecisionResult::Rejected(reason) => crate::state::reason_text(reason),
    }
}

fn day(date: NaiveDate) -> i32 {
    crate::date::to_days(date)
}

impl Statement {
    /// The bytes the hash covers: bincode `legacy()` of the fields in `docs/format.md` §9.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CoreError> {
        let canonical = Canonical {
            domain: STATEMENT_DOMAIN,
            contract: &self.contract,
            period: self.period.to_string(),
            final_period: self.final_period,
            currency: self.currency,
            log_position: self.log_position,
            previous: self
                .previous
                .as_ref()
                .map(|p| (p.seq, p.period.to_string(), p.log_position)),
            decisions: self
                .decisions
                .iter()
                .map(|d| CanonicalDecision {
                    claim_seq: d.claim_seq,
                    event_seq: d.event_seq,
                    subject: &d.subject,
                    outcome: &d.outcome,
                    date: day(d.date),
                    result: result_text(d.result),
                    price: d.price.minor,
                    amount: d.amount.minor,
                    cap: d.cap.map(Cap::name),
                })
                .collect(),
            lines: self
                .lines
                .iter()
                .map(|l| CanonicalLine {
                    n: l.n,
                    rule: &l.key.rule,
                    accrual: l.key.accrual.to_string(),
                    adjustment: l.adjustment,
                    subject: l.key.subject.as_deref(),
                    from: &l.key.from,
                    to: &l.key.to,
                    claim: l.key.claim,
                    amount: l.amount.minor,
                    events: &l.events,
                    cap: l.cap.map(Cap::name),
                    calc: &l.calc,
                })
                .collect(),
            totals: self
                .totals
                .iter()
                .map(|t| (t.party.as_str(), t.pays.minor, t.receives.minor))
                .collect(),
            postings: self
                .postings
                .iter()
                .map(|p| (p.line, p.party.as_str(), p.account.as_str(), p.amount.minor))
                .collect(),
            facility: self
                .facility
                .map(|f| (f.cash.minor, f.outstanding.minor, f.drawn.minor)),
        };
        bincode::encode_to_vec(&canonical, bincode::config::legacy())
            .map_err(|e| CoreError::invalid(format!("cannot encode the statement: {e}")))
    }

    /// The statement as `docs/settlement.md` shows it.
    pub fn to_json(&self) -> Value {
        let money = |m: Money| Value::String(m.to_decimal().to_string());
        json!({
            "contract": self.contract,
            "period": self.period.to_string(),
            "from": self.period.first_day().to_string(),
            "to": self.period.last_day().to_string(),
            "final": self.final_period,
            "currency": self.currency.code(),
            "log_position": self.log_position,
            "previous": self.previous.as_ref().map(|p| json!({
                "seq": p.seq, "period": p.period.to_string(), "log_position": p.log_position,
            })),
            "decisions": self.decisions.iter().map(|d| json!({
                "claim_seq": d.claim_seq,
                "event_seq": d.event_seq,
                "subject": d.subject,
                "outcome": d.outcome,
                "date": d.date.to_string(),
                "result": match d.result {
                    DecisionResult::Rejected(_) => "rejected",
                    other => result_text(other),
                },
                "reason": match d.result {
                    DecisionResult::Rejected(reason) => Some(crate::state::reason_text(reason)),
                    _ => None,
                },
                "price": money(d.price),
                "amount": money(d.amount),
                "cap": d.cap.map(Cap::name),
            })).collect::<Vec<_>>(),
            "lines": self.lines.iter().map(|l| json!({
                "n": l.n,
                "rule": l.key.rule,
                "accrual": l.key.accrual.to_string(),
                "adjustment": l.adjustment,
                "subject": l.key.subject,
                "claim": l.key.claim,
                "from": l.key.from,
                "to": l.key.to,
                "amount": money(l.amount),
                "events": l.events,
                "cap": l.cap.map(Cap::name),
                "calc": l.calc,
            })).collect::<Vec<_>>(),
            "totals": self.totals.iter().map(|t| json!({
                "party": t.party,
                "pays": money(t.pays),
                "receives": money(t.receives),
                "net": money(Money::from_minor(t.receives.minor - t.pays.minor, self.currency)),
            })).collect::<Vec<_>>(),
            "postings": self.postings.iter().map(|p| json!({
                "line": p.line, "party": p.party, "account": p.account, "amount": money(p.amount),
            })).collect::<Vec<_>>(),
            "facility": self.facility.map(|f| json!({
                "cash": money(f.cash), "outstanding": money(f.outstanding), "drawn": money(f.drawn),
            })),
            "hash": crate::ids::hex(&self.hash),
        })
    }
}
