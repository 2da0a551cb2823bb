//! Balances per party and contract, by double entry over the issued statements and the
//! recorded money events (`docs/settlement.md`, "Balances JSON").

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Value, json};

use crate::error::CoreError;
use crate::event::Purpose;
use crate::money::{Currency, Money};
use crate::state::{ContractState, FlowKind};

/// One party's balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyBalance {
    /// The party.
    pub party: String,
    /// Due to it by issued statements (+) or from it (−), net.
    pub accrued: Money,
    /// Recorded payments, net.
    pub paid: Money,
    /// `accrued − paid`.
    pub outstanding: Money,
    /// Disbursed by it.
    pub invested: Money,
    /// Disbursed to it.
    pub funding_received: Money,
    /// Its recorded costs.
    pub costs: Money,
    /// Returned to it by waterfall tiers and facility repayments and fees.
    pub returned: Money,
    /// Savings measured for it (memo).
    pub savings: Money,
    /// As guarantor: what it stands to lose.
    pub guarantee_exposure: Money,
    /// Co-financing due to it for payments already settled.
    pub co_financing_receivable: Money,
    /// `accrued + funding_received − invested − costs + savings`.
    pub net: Money,
}

impl PartyBalance {
    /// A party with nothing yet.
    pub fn zero(party: &str, currency: Currency) -> PartyBalance {
        let zero = Money::zero(currency);
        PartyBalance {
            party: party.to_owned(),
            accrued: zero,
            paid: zero,
            outstanding: zero,
            invested: zero,
            funding_received: zero,
            costs: zero,
            returned: zero,
            savings: zero,
            guarantee_exposure: zero,
            co_financing_receivable: zero,
            net: zero,
        }
    }
}

/// The balances of every party of `contract`, from the issued statements of periods ending
/// on or before `effective` (all, if none) and the money events dated on or before it.
pub fn balances(
    contract: &ContractState,
    currency: Currency,
    effective: Option<NaiveDate>,
) -> Result<Vec<PartyBalance>, CoreError> {
    let zero = Money::zero(currency);
    let mut rows: BTreeMap<String, PartyBalance> = contract
        .parties
        .keys()
        .map(|party| (party.clone(), PartyBalance::zero(party, currency)))
        .collect();
    let in_effect = |date: NaiveDate| effective.is_none_or(|d| date <= d);
    fn add(
        rows: &mut BTreeMap<String, PartyBalance>,
        party: &str,
        zero: Money,
        field: impl Fn(&mut PartyBalance) -> &mut Money,
        amount: Money,
    ) -> Result<(), CoreError> {
        let row = rows
            .entry(party.to_owned())
            .or_insert_with(|| PartyBalance::zero(party, zero.currency));
        let slot = field(row);
        *slot = slot.checked_add(amount)?;
        Ok(())
    }
    let mut last = None;
    for issued in contract
        .issued
        .iter()
        .filter(|i| in_effect(i.period.last_day()))
    {
        let summary = issued.recomputed.as_ref().map_err(|reason| {
            CoreError::invalid(format!(
                "the statement issued at seq {} cannot be recomputed: {reason}",
                issued.seq
            ))
        })?;
        for (party, amount) in &summary.accrued {
            add(&mut rows, party, zero, |r| &mut r.accrued, *amount)?;
        }
        for (party, amount) in &summary.returned {
            add(&mut rows, party, zero, |r| &mut r.returned, *amount)?;
        }
        for (party, amount) in &summary.savings {
            add(&mut rows, party, zero, |r| &mut r.savings, *amount)?;
        }
        last = Some(summary);
    }
    if let Some(summary) = last {
        for (party, amount) in &summary.exposure {
            add(
                &mut rows,
                party,
                zero,
                |r| &mut r.guarantee_exposure,
                *amount,
            )?;
        }
        for (party, amount) in &summary.receivable {
            add(
                &mut rows,
                party,
                zero,
                |r| &mut r.co_financing_receivable,
                *amount,
            )?;
        }
    }
    for (_, flow) in contract
        .flows
        .loaded()?
        .iter()
        .filter(|(_, f)| in_effect(f.date))
    {
        match flow.kind {
            // Facility flows are what statements compute (`facility:*` lines, in `accrued`);
            // a recorded copy of one would count it twice. The engine's cash sequence skips
            // them for the same reason.
            FlowKind::Disbursed
                if matches!(
                    flow.purpose,
                    Some(Purpose::FacilityDraw | Purpose::Repayment | Purpose::Fee)
                ) => {}
            FlowKind::Disbursed => {
                add(&mut rows, flow.from, zero, |r| &mut r.invested, flow.amount)?;
                add(
                    &mut rows,
                    flow.to,
                    zero,
                    |r| &mut r.funding_received,
                    flow.amount,
                )?;
            }
            FlowKind::Payment | FlowKind::GuaranteeCalled => {
                add(
                    &mut rows,
                    flow.from,
                    zero,
                    |r| &mut r.paid,
                    flow.amount.checked_neg()?,
                )?;
                add(&mut rows, flow.to, zero, |r| &mut r.paid, flow.amount)?;
            }
            FlowKind::Cost => add(&mut rows, flow.from, zero, |r| &mut r.costs, flow.amount)?,
            FlowKind::Committed => {}
        }
    }
    rows.into_values()
        .map(|mut row| {
            row.outstanding = row.accrued.checked_sub(row.paid)?;
            row.net = row
                .accrued
                .checked_add(row.funding_received)?
                .checked_sub(row.invested)?
                .checked_sub(row.costs)?
                .checked_add(row.savings)?;
            Ok(row)
        })
        .collect()
}

/// A balance row as `docs/settlement.md` shows it.
pub fn to_json(row: &PartyBalance) -> Value {
    let money = |m: Money| Value::String(m.to_decimal().to_string());
    json!({
        "party": row.party,
        "accrued": money(row.accrued),
        "paid": money(row.paid),
        "outstanding": money(row.outstanding),
        "invested": money(row.invested),
        "funding_received": money(row.funding_received),
        "costs": money(row.costs),
        "returned": money(row.returned),
        "savings": money(row.savings),
        "guarantee_exposure": money(row.guarantee_exposure),
        "co_financing_receivable": money(row.co_financing_receivable),
        "net": money(row.net),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Flow;

    fn flow<'a>(from: &'a str, to: &'a str, minor: i64, purpose: Purpose) -> Flow<'a> {
        Flow {
            date: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap_or_default(),
            kind: FlowKind::Disbursed,
            from,
            to,
            amount: Money::from_minor(minor, Currency::DKK),
            purpose: Some(purpose),
        }
    }

    #[test]
    fn a_recorded_facility_draw_does_not_count_beside_the_statements() -> Result<(), CoreError> {
        let mut contract = ContractState::default();
        contract
            .flows
            .insert(1, flow("fund", "provider", 72_000_000, Purpose::Grant))?;
        contract.flows.insert(
            2,
            flow("lender", "provider", 1_000_000, Purpose::FacilityDraw),
        )?;
        let rows = balances(&contract, Currency::DKK, None)?;
        let provider = rows.iter().find(|r| r.party == "provider");
        let lender = rows.iter().find(|r| r.party == "lender");
        assert_eq!(provider.map(|r| r.funding_received.minor), Some(72_000_000));
        assert_eq!(lender.map(|r| r.invested.minor), None);
        Ok(())
    }
}
