//! The audit report's chart series, per settlement period, from one contract's replayed
//! state (`docs/reports.md`, "Audit report", "Charts").
//!
//! The time axis is every settlement period of the contract's calendar from the first to the
//! last that holds an amount: an issued statement, a settled amount's accrual period or a
//! recorded payment. Each series has one value per period:
//!
//! - **settled**, per party: the cumulative net the issued statements settled for it (what
//!   it receives less what it pays), at the period of each statement; the last value is the
//!   party's `accrued` in `pbr balance`;
//! - **paid**, per party that pays or is paid: the cumulative `payment-recorded` and
//!   `guarantee-called` amounts (+ received, − paid) by business date; the last value is its
//!   `paid`;
//! - **facility outstanding**, per lender and borrower: settled `facility:draw` less
//!   `facility:repayment` and `facility:write-off`, by accrual period, as the issued
//!   statements settle them now;
//! - **guarantee exposure**, per guarantor: what each issued statement says the guarantor
//!   stands to lose, carried forward to the next statement;
//! - **achievers**: the participants whose settled `outcome:*`, `clawback:*` and
//!   `sustainment:*` amounts through the period add up to more than zero.
//!
//! Only counts and sums leave this module: no participant reference does.

use std::collections::{BTreeMap, BTreeSet};

use pbr_core::date::{Calendar, Period};
use pbr_core::money::Currency;
use pbr_core::state::{ContractState, FlowKind};

/// One line of a chart: a name and one value per period of [`Charts::periods`], in minor
/// units of the currency (or a count, for achievers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// A party, or `lender → borrower` for a facility.
    pub name: String,
    /// One value per period.
    pub values: Vec<i64>,
}

/// A facility's outstanding balance per period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FacilitySeries {
    /// The lender.
    pub lender: String,
    /// The borrower.
    pub borrower: String,
    /// The balance outstanding at each period's end, in minor units.
    pub values: Vec<i64>,
}

/// Every chart series of the audit report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charts {
    /// The currency of the amounts.
    pub currency: Currency,
    /// The time axis: consecutive settlement periods.
    pub periods: Vec<Period>,
    /// Cumulative settled net per party (every party of the contract).
    pub settled: Vec<Series>,
    /// Cumulative recorded payments per party that has any.
    pub paid: Vec<Series>,
    /// The outstanding balance of each facility.
    pub facility: Vec<FacilitySeries>,
    /// The guarantee exposure of each guarantor.
    pub exposure: Vec<Series>,
    /// The number of participants with a paid outcome, through each period.
    pub achievers: Vec<i64>,
}

/// Sums per name and period, in minor units.
type Sums = BTreeMap<String, BTreeMap<Period, i64>>;

fn add(sums: &mut Sums, name: &str, period: Period, amount: i64) -> Result<(), String> {
    let slot = sums
        .entry(name.to_owned())
        .or_default()
        .entry(period)
        .or_insert(0);
    *slot = slot
        .checked_add(amount)
        .ok_or_else(|| format!("the sums of {name} overflow"))?;
    Ok(())
}

/// The running total of `amounts` at each of `periods`.
fn cumulative(periods: &[Period], amounts: &BTreeMap<Period, i64>) -> Result<Vec<i64>, String> {
    let mut total: i64 = 0;
    let mut values = Vec::with_capacity(periods.len());
    // Amounts before the first period cannot exist (the axis starts at the earliest one).
    for period in periods {
        if let Some(amount) = amounts.get(period) {
            total = total
                .checked_add(*amount)
                .ok_or_else(|| "a cumulative sum overflows".to_owned())?;
        }
        values.push(total);
    }
    Ok(values)
}

impl Charts {
    /// The series of `contract`, whose amounts are in `currency` and whose settlement
    /// periods follow `calendar` (the latest terms'); every period is mapped into that
    /// calendar, so that a calendar changed by an amendment still gives one axis.
    pub fn of(
        contract: &ContractState,
        currency: Currency,
        calendar: Calendar,
    ) -> Result<Charts, String> {
        let period_of = |period: Period| Period::containing(calendar, period.last_day());
        let settled = contract.settled.as_deref();
        let payments = contract
            .flows
            .loaded()
            .map_err(|e| e.reason)?
            .values()
            .filter(|f| matches!(f.kind, FlowKind::Payment | FlowKind::GuaranteeCalled));

        let mut used: BTreeSet<Period> = BTreeSet::new();
        used.extend(contract.issued.iter().map(|i| period_of(i.period)));
        used.extend(
            settled
                .iter()
                .flat_map(|s| s.iter().map(|(k, _)| period_of(k.accrual))),
        );
        used.extend(
            payments
                .clone()
                .map(|f| Period::containing(calendar, f.date)),
        );
        let periods = match (used.first(), used.last()) {
            (Some(&first), Some(&last)) => {
                let mut periods = vec![first];
                let mut period = first;
                while period < last {
                    period = period.next();
                    periods.push(period);
                }
                periods
            }
            _ => Vec::new(),
        };

        // Settled per party, at each statement's period.
        let mut sums = Sums::new();
        for party in contract.parties.keys() {
            sums.insert(party.clone(), BTreeMap::new());
        }
        let mut exposures = Sums::new();
        for issued in &contract.issued {
            let summary = issued.recomputed.as_ref().map_err(|reason| {
                format!(
                    "the statement issued at seq {} cannot be recomputed: {reason}",
                    issued.seq
                )
            })?;
            let period = period_of(issued.period);
            for (party, amount) in &summary.accrued {
                add(&mut sums, party, period, amount.minor)?;
            }
            // Each statement states the exposure after it; the series carries the latest.
            for (guarantor, amount) in &summary.exposure {
                exposures
                    .entry(guarantor.clone())
                    .or_default()
                    .insert(period, amount.minor);
            }
        }
        let series = |sums: &Sums| -> Result<Vec<Series>, String> {
            sums.iter()
                .map(|(name, amounts)| {
                    Ok(Series {
                        name: name.clone(),
                        values: cumulative(&periods, amounts)?,
                    })
                })
                .collect()
        };
        let settled_series = series(&sums)?;

        // Recorded payments, by business date.
        let mut paid = Sums::new();
        for flow in payments {
            let period = Period::containing(calendar, flow.date);
            let out = flow
                .amount
                .minor
                .checked_neg()
                .ok_or_else(|| "a payment overflows".to_owned())?;
            add(&mut paid, flow.from, period, out)?;
            add(&mut paid, flow.to, period, flow.amount.minor)?;
        }

        // Facilities and achievers, from the entitlement the last statement settled.
        let mut facilities: BTreeMap<(String, String), BTreeMap<Period, i64>> = BTreeMap::new();
        let mut subjects = Sums::new();
        for (key, amount) in settled.iter().flat_map(|s| s.iter()) {
            let period = period_of(key.accrual);
            let rule = key.rule.as_str();
            // A draw is lent by `from` to `to`; a repayment goes back from the borrower.
            let facility_change = match rule {
                "facility:draw" => Some(((&key.from, &key.to), Some(amount.minor))),
                "facility:repayment" => Some(((&key.to, &key.from), amount.minor.checked_neg())),
                "facility:write-off" => Some(((&key.from, &key.to), amount.minor.checked_neg())),
                _ => None,
            };
            if let Some(((lender, borrower), change)) = facility_change {
                let change = change.ok_or_else(|| "a facility amount overflows".to_owned())?;
                let slot = facilities
                    .entry((lender.clone(), borrower.clone()))
                    .or_default()
                    .entry(period)
                    .or_insert(0);
                *slot = slot
                    .checked_add(change)
                    .ok_or_else(|| "a facility sum overflows".to_owned())?;
            }
            let outcome = ["outcome:", "clawback:", "sustainment:"]
                .iter()
                .any(|prefix| rule.starts_with(prefix));
            if let Some(subject) = key.subject.as_deref()
                && outcome
                && subject.starts_with("participant:")
            {
                add(&mut subjects, subject, period, amount.minor)?;
            }
        }
        let facility = facilities
            .into_iter()
            .map(|((lender, borrower), amounts)| {
                Ok(FacilitySeries {
                    lender,
                    borrower,
                    values: cumulative(&periods, &amounts)?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let exposure = exposures
            .into_iter()
            .map(|(name, by_period)| Series {
                name,
                values: carried_forward(&periods, &by_period),
            })
            .collect();
        let mut achievers = vec![0i64; periods.len()];
        for amounts in subjects.values() {
            for (count, total) in achievers.iter_mut().zip(cumulative(&periods, amounts)?) {
                *count += i64::from(total > 0);
            }
        }
        Ok(Charts {
            currency,
            settled: settled_series,
            paid: series(&paid)?,
            facility,
            exposure,
            achievers,
            periods,
        })
    }
}

/// The latest value stated at or before each of `periods` (0 before the first).
fn carried_forward(periods: &[Period], stated: &BTreeMap<Period, i64>) -> Vec<i64> {
    periods
        .iter()
        .map(|p| stated.range(..=*p).next_back().map_or(0, |(_, v)| *v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbr_core::money::Money;
    use pbr_core::state::Flow;

    fn quarter(year: i32, quarter: u32) -> Period {
        Period::Quarter { year, quarter }
    }

    fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn payments_alone_span_the_axis_and_sum_per_party() -> Result<(), String> {
        let mut contract = ContractState::default();
        let flow = |from: &'static str, to: &'static str, minor, on, kind| Flow {
            date: on,
            kind,
            from,
            to,
            amount: Money::from_minor(minor, Currency::DKK),
            purpose: None,
        };
        let inserted = [
            (
                3,
                flow("city", "provider", 500, date(2024, 2, 1), FlowKind::Payment),
            ),
            (
                9,
                flow("city", "provider", 250, date(2024, 8, 1), FlowKind::Payment),
            ),
            // Money that is not a payment draws nothing.
            (
                10,
                flow("fund", "provider", 9, date(2025, 8, 1), FlowKind::Disbursed),
            ),
        ];
        for (seq, flow) in inserted {
            contract.flows.insert(seq, flow).map_err(|e| e.reason)?;
        }
        let charts = Charts::of(&contract, Currency::DKK, Calendar::Quarter)?;
        assert_eq!(
            charts.periods,
            [quarter(2024, 1), quarter(2024, 2), quarter(2024, 3)]
        );
        let paid: Vec<(&str, &[i64])> = charts
            .paid
            .iter()
            .map(|s| (s.name.as_str(), s.values.as_slice()))
            .collect();
        assert_eq!(
            paid,
            [
                ("city", [-500, -500, -750].as_slice()),
                ("provider", [500, 500, 750].as_slice())
            ]
        );
        assert_eq!(charts.achievers, [0, 0, 0]);
        assert!(charts.facility.is_empty() && charts.exposure.is_empty());
        Ok(())
    }

    #[test]
    fn facility_exposure_and_achievers_follow_the_settled_amounts() -> Result<(), String> {
        use pbr_core::settle::{IssuedSummary, LineKey, Settled};
        use pbr_core::state::Issued;

        let dkk = |minor| Money::from_minor(minor, Currency::DKK);
        let key = |accrual, rule: &str, subject: Option<&str>, from: &str, to: &str| LineKey {
            accrual,
            rule: rule.into(),
            subject: subject.map(Into::into),
            from: from.into(),
            to: to.into(),
            claim: None,
        };
        let (a, b) = ("participant:aa", "participant:bb");
        let mut contract = ContractState {
            settled: Some(std::sync::Arc::new(Settled::new(
                9,
                BTreeMap::from([
                    (
                        key(quarter(2024, 1), "facility:draw", None, "bank", "spv"),
                        dkk(100),
                    ),
                    (
                        key(quarter(2024, 2), "facility:repayment", None, "spv", "bank"),
                        dkk(30),
                    ),
                    (
                        key(quarter(2024, 3), "facility:write-off", None, "bank", "spv"),
                        dkk(70),
                    ),
                    (
                        key(quarter(2024, 1), "sustainment:full", Some(a), "city", "spv"),
                        dkk(50),
                    ),
                    (
                        key(quarter(2024, 2), "outcome:O1", Some(b), "city", "spv"),
                        dkk(100),
                    ),
                    (
                        key(quarter(2024, 3), "clawback:O1", Some(b), "city", "spv"),
                        dkk(-100),
                    ),
                    // A company's outcome and a capped one (0.00) count no participant.
                    (
                        key(
                            quarter(2024, 2),
                            "outcome:C1",
                            Some("company:x"),
                            "city",
                            "spv",
                        ),
                        dkk(9),
                    ),
                    (
                        key(
                            quarter(2024, 2),
                            "outcome:O2",
                            Some("participant:cc"),
                            "city",
                            "spv",
                        ),
                        dkk(0),
                    ),
                ])
                .iter()
                .map(|(key, amount)| (key, *amount)),
            ))),
            ..ContractState::default()
        };
        let summary = |exposure| IssuedSummary {
            hash: [0; 32],
            accrued: BTreeMap::from([("spv".to_owned(), dkk(10)), ("city".to_owned(), dkk(-10))]),
            returned: BTreeMap::new(),
            savings: BTreeMap::new(),
            exposure: BTreeMap::from([("fund".to_owned(), dkk(exposure))]),
            receivable: BTreeMap::new(),
        };
        for (seq, period, exposure) in [(4, quarter(2024, 1), 80), (9, quarter(2024, 3), 0)] {
            contract.issued.push(Issued {
                seq,
                period,
                recorded_hash: [0; 32],
                log_position: seq,
                recomputed: Ok(summary(exposure)),
            });
        }
        let charts = Charts::of(&contract, Currency::DKK, Calendar::Quarter)?;
        assert_eq!(charts.periods.len(), 3);
        assert_eq!(charts.facility.len(), 1);
        let facility = &charts.facility[0];
        assert_eq!(
            (facility.lender.as_str(), facility.borrower.as_str()),
            ("bank", "spv")
        );
        assert_eq!(facility.values, [100, 70, 0]);
        assert_eq!(
            charts.exposure[0].values,
            [80, 80, 0],
            "carried to the next statement"
        );
        assert_eq!(
            charts.achievers,
            [1, 2, 1],
            "b's claw-back takes b out again"
        );
        let settled: Vec<&[i64]> = charts.settled.iter().map(|s| s.values.as_slice()).collect();
        assert_eq!(
            settled,
            [[-10, -10, -20].as_slice(), [10, 10, 20].as_slice()]
        );
        Ok(())
    }

    #[test]
    fn nothing_recorded_gives_no_periods() -> Result<(), String> {
        let charts = Charts::of(&ContractState::default(), Currency::EUR, Calendar::Month)?;
        assert!(charts.periods.is_empty() && charts.settled.is_empty());
        Ok(())
    }

    #[test]
    fn stated_values_carry_forward() {
        let periods = [quarter(2024, 1), quarter(2024, 2), quarter(2024, 3)];
        let stated = BTreeMap::from([(quarter(2024, 2), 7)]);
        assert_eq!(carried_forward(&periods, &stated), [0, 7, 7]);
    }
}
