//! The budget view for a party's economist (`docs/reports.md`, "Budget view"): per year and
//! budget line, what the contract did to one party's budget.
//!
//! Two sources, each by the date it belongs to:
//! - the entitlement the contract's issued statements settled ([`Settled`] of the last one,
//!   which is the engine's cumulative entitlement through its period), by the year of each
//!   amount's **accrual period**: an adjustment line of a later statement counts in the year
//!   of the period it corrects;
//! - the money events recorded outside statements (`funds-disbursed`, `cost-recorded`), by
//!   the year of their **business date**.
//!
//! Every line is signed by its effect on the party ([`Row::effect`]: + money in or saved, −
//! money out), and also in the convention of a Danish municipality's supplementary
//! appropriations ([`Row::appropriation`], the opposite sign: Brøndby budgets savings as a
//! negative and repayments as a positive *tillægsbevilling*). Over all years the net effect
//! is the party's `net` in `pbr balance`.
//!
//! Each line also has its total over the years shown ([`Budget::totals`]), and the view
//! renders in the long layout (a row per year and line, then the totals: [`Budget::to_csv`],
//! [`Budget::to_json`]) or the wide one economists use (lines as rows, years as columns and
//! a total column: [`Budget::to_wide_csv`], [`Budget::to_wide_json`]), the currency named in
//! every CSV row.
//!
//! [`Settled`]: pbr_core::settle::Settled

use std::collections::{BTreeMap, BTreeSet};

use chrono::Datelike;
use pbr_core::date::Period;
use pbr_core::event::Purpose;
use pbr_core::money::{Currency, Money};
use pbr_core::state::{ContractState, FlowKind};

use crate::ReportError;

/// A budget line of the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Line {
    /// Savings the terms expect: none can say today, so never filled.
    ExpectedSavings,
    /// Savings measured for the party (`savings` lines).
    RealisedSavings,
    /// Outcome payments the party pays.
    OutcomePaymentsMade,
    /// Outcome payments the party receives.
    OutcomePaymentsReceived,
    /// Waterfall tiers the party pays to others.
    RepaymentsToInvestors,
    /// Waterfall tiers others pay to the party.
    RepaymentsReceived,
    /// Grants and conditional grants disbursed to the party.
    GrantsReceived,
    /// Co-financing received (+) or paid as the funder (−).
    CoFinancing,
    /// Other funds disbursed to the party (working capital and the like).
    OtherFundsReceived,
    /// Funds the party disburses.
    FundsDisbursed,
    /// Facility draws: + to the borrower, − to the lender.
    FacilityDraws,
    /// Facility repayments: − to the borrower, + to the lender.
    FacilityRepayments,
    /// Facility fees: − to the borrower, + to the lender.
    FacilityFees,
    /// Guarantee losses and facility write-offs.
    GuaranteeLosses,
    /// The party's recorded costs.
    Costs,
    /// The sum of every other line.
    NetEffect,
}

/// One budget line of the reference table: its id, its name and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BudgetLine {
    /// The line.
    pub line: Line,
    /// The id in the CSV and JSON.
    pub id: &'static str,
    /// What an economist reads.
    pub name: &'static str,
    /// Where the amounts come from and how they are signed (effect on the party).
    pub source: &'static str,
}

/// Every budget line, in report order.
pub const LINES: &[BudgetLine] = &[
    BudgetLine {
        line: Line::ExpectedSavings,
        id: "expected-savings",
        name: "expected savings",
        source: "the terms; no section states expected savings, so always empty",
    },
    BudgetLine {
        line: Line::RealisedSavings,
        id: "realised-savings",
        name: "realised savings",
        source: "settled `savings` lines measured for the party (+); empty when the terms \
                 measure no savings for it",
    },
    BudgetLine {
        line: Line::OutcomePaymentsMade,
        id: "outcome-payments-made",
        name: "outcome payments made",
        source: "settled `outcome:*`, `clawback:*`, `sustainment:*`, `carry-forward` and \
                 `success-bonus` lines the party pays (−)",
    },
    BudgetLine {
        line: Line::OutcomePaymentsReceived,
        id: "outcome-payments-received",
        name: "outcome payments received",
        source: "the same lines, paid to the party (+)",
    },
    BudgetLine {
        line: Line::RepaymentsToInvestors,
        id: "repayments-to-investors",
        name: "repayments to investors",
        source: "settled `waterfall:*` tiers the party pays to another party (−)",
    },
    BudgetLine {
        line: Line::RepaymentsReceived,
        id: "repayments-received",
        name: "repayments received",
        source: "settled `waterfall:*` tiers another party pays to the party (+)",
    },
    BudgetLine {
        line: Line::GrantsReceived,
        id: "grants-received",
        name: "grants received",
        source: "`funds-disbursed` to the party for `grant` or `conditional-grant` (+)",
    },
    BudgetLine {
        line: Line::CoFinancing,
        id: "co-financing",
        name: "co-financing received or paid",
        source: "settled `co-financing:*` lines (+ to the reimbursed party, − to the funder) \
                 and `funds-disbursed` to the party for `co-financing` (+)",
    },
    BudgetLine {
        line: Line::OtherFundsReceived,
        id: "other-funds-received",
        name: "other funds received",
        source: "`funds-disbursed` to the party for any other purpose (+)",
    },
    BudgetLine {
        line: Line::FundsDisbursed,
        id: "funds-disbursed",
        name: "funds disbursed",
        source: "`funds-disbursed` by the party, except facility draws, repayments and fees, which statements count (−)",
    },
    BudgetLine {
        line: Line::FacilityDraws,
        id: "facility-draws",
        name: "facility draws",
        source: "settled `facility:draw` lines (+ borrower, − lender)",
    },
    BudgetLine {
        line: Line::FacilityRepayments,
        id: "facility-repayments",
        name: "facility repayments",
        source: "settled `facility:repayment` lines (− borrower, + lender)",
    },
    BudgetLine {
        line: Line::FacilityFees,
        id: "facility-fees",
        name: "facility fees",
        source: "settled `facility:fee` lines (− borrower, + lender)",
    },
    BudgetLine {
        line: Line::GuaranteeLosses,
        id: "guarantee-losses",
        name: "guarantee losses",
        source: "settled `guarantee:loss` lines (− guarantor, + lender); a `facility:write-off` \
                 moves no money, so a lender that is its own guarantor shows its loss as the \
                 draws never repaid",
    },
    BudgetLine {
        line: Line::Costs,
        id: "costs",
        name: "costs",
        source: "`cost-recorded` by the party (−)",
    },
    BudgetLine {
        line: Line::NetEffect,
        id: "net-effect",
        name: "net effect",
        source: "the sum of the lines above (empty ones count as nothing)",
    },
];

impl Line {
    /// The line's entry in [`LINES`].
    pub fn info(self) -> &'static BudgetLine {
        // Invariant: LINES holds every line once, in the enum's order (tested below).
        &LINES[self as usize]
    }
}

/// Which side of a settled amount the party is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// It pays (`from`).
    Pays,
    /// It is paid (`to`).
    Receives,
}

/// The budget line of a settled amount of `rule` for the party on `side`; `None` for a rule
/// this view does not know (`savings` is handled apart: it is a memo line).
fn settled_line(rule: &str, side: Side) -> Option<Line> {
    let family = rule.split_once(':').map_or(rule, |(family, _)| family);
    Some(match (family, rule, side) {
        ("outcome" | "clawback" | "sustainment", _, Side::Pays)
        | (_, "carry-forward" | "success-bonus", Side::Pays) => Line::OutcomePaymentsMade,
        ("outcome" | "clawback" | "sustainment", _, Side::Receives)
        | (_, "carry-forward" | "success-bonus", Side::Receives) => Line::OutcomePaymentsReceived,
        ("waterfall", _, Side::Pays) => Line::RepaymentsToInvestors,
        ("waterfall", _, Side::Receives) => Line::RepaymentsReceived,
        ("co-financing", _, _) => Line::CoFinancing,
        (_, "facility:draw", _) => Line::FacilityDraws,
        (_, "facility:repayment", _) => Line::FacilityRepayments,
        (_, "facility:fee", _) => Line::FacilityFees,
        (_, "guarantee:loss", _) => Line::GuaranteeLosses,
        _ => return None,
    })
}

/// The budget line of money disbursed to the party for `purpose`.
fn received_line(purpose: Option<Purpose>) -> Line {
    match purpose {
        Some(Purpose::Grant | Purpose::ConditionalGrant) => Line::GrantsReceived,
        Some(Purpose::CoFinancing) => Line::CoFinancing,
        _ => Line::OtherFundsReceived,
    }
}

/// One line of one year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The line.
    pub line: Line,
    /// Its effect on the party's budget: + money in or saved, − money out; `None` when the
    /// ledger does not measure it (expected savings; savings of a party the terms measure
    /// none for).
    pub effect: Option<Money>,
}

impl Row {
    /// The amount as a supplementary appropriation (*tillægsbevilling*): the opposite of the
    /// effect, so savings and income are negative and repayments, payments and costs
    /// positive, as Brøndby budgets them (`domain.md` §1.5, §4.4).
    pub fn appropriation(&self) -> Result<Option<Money>, ReportError> {
        self.effect
            .map(|m| m.checked_neg().map_err(overflow))
            .transpose()
    }
}

/// The lines of one calendar year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Year {
    /// The year.
    pub year: i32,
    /// Every line of [`LINES`], in that order.
    pub rows: Vec<Row>,
}

impl Year {
    /// The row of `line`.
    pub fn row(&self, line: Line) -> Option<&Row> {
        self.rows.iter().find(|r| r.line == line)
    }
}

/// A party's budget view of one contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The contract.
    pub contract: String,
    /// The party.
    pub party: String,
    /// The contract's currency.
    pub currency: Currency,
    /// The period of the last issued statement: settled amounts run through it; `None`
    /// when no statement is issued yet.
    pub settled_through: Option<Period>,
    /// The years, in order: every year of the contract's terms (and any other year holding
    /// an amount), or the one asked for.
    pub years: Vec<Year>,
}

fn overflow(e: pbr_core::CoreError) -> ReportError {
    ReportError::Render(e.reason)
}

/// Sums per (year, line).
#[derive(Default)]
struct Sums(BTreeMap<(i32, Line), Money>);

impl Sums {
    fn add(&mut self, year: i32, line: Line, amount: Money) -> Result<(), ReportError> {
        match self.0.get_mut(&(year, line)) {
            Some(sum) => *sum = sum.checked_add(amount).map_err(overflow)?,
            None => {
                self.0.insert((year, line), amount);
            }
        }
        Ok(())
    }
}

impl Budget {
    /// The budget view of `party` in the contract `contract_id` (whose state is `contract`),
    /// for every year, or for `year` only.
    ///
    /// Errors: the party is not one of the contract's, `year` is outside the contract and
    /// holds no amount, or an issued statement cannot be recomputed (as `pbr balance`).
    pub fn of(
        contract_id: &str,
        contract: &ContractState,
        party: &str,
        year: Option<i32>,
    ) -> Result<Budget, ReportError> {
        if !contract.parties.contains_key(party) {
            let parties: Vec<&str> = contract.parties.keys().map(String::as_str).collect();
            return Err(ReportError::Input(format!(
                "{party} is not a party of {contract_id} ({})",
                parties.join(", ")
            )));
        }
        // The terms: the years they span, whose savings they measure, the currency.
        let mut span: Option<(i32, i32)> = None;
        let mut measured = false;
        let mut currency = None;
        for version in &contract.versions {
            let terms = version
                .terms(contract_id)
                .map_err(|e| ReportError::Render(e.reason))?;
            let (start, end) = (terms.contract.start.0.year(), terms.contract.end.0.year());
            span = Some(span.map_or((start, end), |(s, e)| (s.min(start), e.max(end))));
            measured |= terms.savings.as_ref().is_some_and(|s| {
                s.party == party
                        // Savings by home party are measured for the municipalities.
                        || (s.party == "home-party"
                            && terms.parties.iter().any(|p| {
                                p.id == party && p.role == pbr_core::event::Role::Commissioner
                            }))
            });
            currency = Some(terms.contract.currency);
        }
        let currency = currency
            .ok_or_else(|| ReportError::Input(format!("contract {contract_id} has no terms")))?;
        if let Some(issued) = contract.issued.iter().find(|i| i.recomputed.is_err()) {
            let reason = issued.recomputed.as_ref().err().map_or("", String::as_str);
            return Err(ReportError::Input(format!(
                "the statement issued at seq {} cannot be recomputed: {reason}",
                issued.seq
            )));
        }

        let mut sums = Sums::default();
        // Settled amounts, by the year of their accrual period.
        if let Some(settled) = contract.settled.as_deref() {
            for (key, amount) in settled.iter() {
                let year = key.accrual.first_day().year();
                if key.rule == "savings" {
                    if key.to == party {
                        measured = true;
                        sums.add(year, Line::RealisedSavings, amount)?;
                    }
                    continue;
                }
                if !key.moves_money() {
                    // A memo line (a retained waterfall tier, a facility write-off): no
                    // money moves.
                    continue;
                }
                for (side, involved, signed) in [
                    (Side::Receives, key.to == party, amount),
                    (
                        Side::Pays,
                        key.from == party,
                        amount.checked_neg().map_err(overflow)?,
                    ),
                ] {
                    if !involved {
                        continue;
                    }
                    let line = settled_line(&key.rule, side).ok_or_else(|| {
                        ReportError::Render(format!("rule {} has no budget line", key.rule))
                    })?;
                    sums.add(year, line, signed)?;
                }
            }
        }
        // Money recorded outside statements, by the year of its business date.
        let flows = contract
            .flows
            .loaded()
            .map_err(|e| ReportError::Input(e.reason))?;
        for flow in flows.values() {
            let year = flow.date.year();
            match flow.kind {
                // A recorded copy of a facility flow: statements already count it
                // (`facility:*` lines), as `pbr balance` does.
                FlowKind::Disbursed
                    if matches!(
                        flow.purpose,
                        Some(Purpose::FacilityDraw | Purpose::Repayment | Purpose::Fee)
                    ) => {}
                FlowKind::Disbursed => {
                    if flow.to == party {
                        sums.add(year, received_line(flow.purpose), flow.amount)?;
                    }
                    if flow.from == party {
                        let out = flow.amount.checked_neg().map_err(overflow)?;
                        sums.add(year, Line::FundsDisbursed, out)?;
                    }
                }
                FlowKind::Cost if flow.from == party => {
                    let out = flow.amount.checked_neg().map_err(overflow)?;
                    sums.add(year, Line::Costs, out)?;
                }
                // Payments settle what statements made due (`pbr balance` shows them as
                // `paid`); a commitment is a promise, not money.
                _ => {}
            }
        }

        let mut years: BTreeSet<i32> = sums.0.keys().map(|&(year, _)| year).collect();
        if let Some((start, end)) = span {
            years.extend(start..=end);
        }
        if let Some(asked) = year {
            if !years.contains(&asked) {
                let span = span.map_or_else(String::new, |(s, e)| format!(" ({s}–{e})"));
                return Err(ReportError::Input(format!(
                    "year {asked} is outside {contract_id}{span} and holds no amount"
                )));
            }
            years = BTreeSet::from([asked]);
        }
        let zero = Money::zero(currency);
        let years = years
            .into_iter()
            .map(|year| {
                let mut net = zero;
                let mut rows = Vec::with_capacity(LINES.len());
                for info in LINES {
                    let effect = match info.line {
                        Line::ExpectedSavings => None,
                        Line::RealisedSavings if !measured => None,
                        Line::NetEffect => Some(net),
                        line => Some(sums.0.get(&(year, line)).copied().unwrap_or(zero)),
                    };
                    if info.line != Line::NetEffect
                        && let Some(amount) = effect
                    {
                        net = net.checked_add(amount).map_err(overflow)?;
                    }
                    rows.push(Row {
                        line: info.line,
                        effect,
                    });
                }
                Ok(Year { year, rows })
            })
            .collect::<Result<Vec<Year>, ReportError>>()?;
        Ok(Budget {
            contract: contract_id.to_owned(),
            party: party.to_owned(),
            currency,
            settled_through: contract.issued.last().map(|i| i.period),
            years,
        })
    }

    /// Each line's total over the years shown, in [`LINES`] order: the sum of its effects,
    /// `None` when the line is empty in every year (an amount the ledger does not measure).
    pub fn totals(&self) -> Result<Vec<Row>, ReportError> {
        LINES
            .iter()
            .map(|info| {
                let mut total: Option<Money> = None;
                for year in &self.years {
                    if let Some(amount) = year.row(info.line).and_then(|r| r.effect) {
                        total = Some(match total {
                            Some(sum) => sum.checked_add(amount).map_err(overflow)?,
                            None => amount,
                        });
                    }
                }
                Ok(Row {
                    line: info.line,
                    effect: total,
                })
            })
            .collect()
    }

    /// The view as CSV (RFC 4180, `\n` line ends) in the long layout: [`CSV_HEADER`], then
    /// one line per year and budget line, then one `total` line per budget line (its sum
    /// over the years shown); an amount the ledger does not measure is an empty cell. Every
    /// line names the currency.
    pub fn to_csv(&self) -> Result<String, ReportError> {
        let mut out = String::new();
        out.push_str(CSV_HEADER);
        out.push('\n');
        let currency = self.currency.code();
        let totals = self.totals()?;
        let years = self
            .years
            .iter()
            .flat_map(|year| year.rows.iter().map(|row| (year.year.to_string(), row)));
        let totals = totals.iter().map(|row| (TOTAL.to_owned(), row));
        for (year, row) in years.chain(totals) {
            let info = row.line.info();
            let cells = [
                year,
                csv_field(info.id),
                csv_field(info.name),
                cell(row.effect),
                cell(row.appropriation()?),
                currency.to_owned(),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        Ok(out)
    }

    /// The view as CSV in the wide layout, as economists lay out a budget: years as columns
    /// and budget lines as rows ([`Budget::wide_csv_header`]), first every line as its
    /// effect, then every line as its appropriation, each with its total over the years shown
    /// in the last column; an amount the ledger does not measure is an empty cell.
    pub fn to_wide_csv(&self) -> Result<String, ReportError> {
        let mut out = self.wide_csv_header();
        out.push('\n');
        let currency = self.currency.code();
        let lines = self.wide()?;
        // Two blocks: every line's effect, then every line's appropriation.
        for sign in [EFFECT, APPROPRIATION] {
            for wide in &lines {
                let info = wide.line.info();
                let (values, total) = if sign == EFFECT {
                    (&wide.effect, wide.effect_total)
                } else {
                    (&wide.appropriation, wide.appropriation_total)
                };
                let mut cells = vec![
                    csv_field(info.id),
                    csv_field(info.name),
                    sign.to_owned(),
                    currency.to_owned(),
                ];
                cells.extend(values.iter().map(|m| cell(*m)));
                cells.push(cell(total));
                out.push_str(&cells.join(","));
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// The wide layout's CSV header: `line,budget_line,sign,currency`, the years shown, and
    /// `total`.
    pub fn wide_csv_header(&self) -> String {
        let mut header = String::from("line,budget_line,sign,currency");
        for year in &self.years {
            header.push(',');
            header.push_str(&year.year.to_string());
        }
        header.push_str(",total");
        header
    }

    /// Every budget line across the years shown, with its totals.
    fn wide(&self) -> Result<Vec<WideLine>, ReportError> {
        let totals = self.totals()?;
        LINES
            .iter()
            .zip(totals)
            .map(|(info, total)| {
                let rows: Vec<Row> = self
                    .years
                    .iter()
                    .map(|year| {
                        year.row(info.line).copied().unwrap_or(Row {
                            line: info.line,
                            effect: None,
                        })
                    })
                    .collect();
                Ok(WideLine {
                    line: info.line,
                    effect: rows.iter().map(|r| r.effect).collect(),
                    appropriation: rows
                        .iter()
                        .map(Row::appropriation)
                        .collect::<Result<_, _>>()?,
                    effect_total: total.effect,
                    appropriation_total: total.appropriation()?,
                })
            })
            .collect()
    }

    /// The view as one line of JSON in the long layout, keys in the documented order;
    /// amounts are decimal strings, `null` when the ledger does not measure them.
    pub fn to_json(&self) -> Result<String, ReportError> {
        let json_row = |row: &Row| {
            let info = row.line.info();
            Ok(JsonRow {
                line: info.id,
                name: info.name,
                effect: money(row.effect),
                appropriation: money(row.appropriation()?),
            })
        };
        let years = self
            .years
            .iter()
            .map(|year| {
                let lines = year
                    .rows
                    .iter()
                    .map(json_row)
                    .collect::<Result<Vec<_>, ReportError>>()?;
                Ok(JsonYear {
                    year: year.year,
                    lines,
                })
            })
            .collect::<Result<Vec<_>, ReportError>>()?;
        let totals = self
            .totals()?
            .iter()
            .map(json_row)
            .collect::<Result<Vec<_>, ReportError>>()?;
        let json = JsonBudget {
            contract: &self.contract,
            party: &self.party,
            currency: self.currency.code(),
            settled_through: self.settled_through.map(|p| p.to_string()),
            years,
            totals,
        };
        serde_json::to_string(&json).map_err(|e| ReportError::Render(e.to_string()))
    }

    /// The view as one line of JSON in the wide layout: `years` lists the years, and each
    /// line holds its effects and appropriations aligned with them, and their totals.
    pub fn to_wide_json(&self) -> Result<String, ReportError> {
        let lines = self
            .wide()?
            .into_iter()
            .map(|wide| {
                let info = wide.line.info();
                JsonWideLine {
                    line: info.id,
                    name: info.name,
                    effect: wide.effect.into_iter().map(money).collect(),
                    effect_total: money(wide.effect_total),
                    appropriation: wide.appropriation.into_iter().map(money).collect(),
                    appropriation_total: money(wide.appropriation_total),
                }
            })
            .collect();
        let json = JsonWideBudget {
            contract: &self.contract,
            party: &self.party,
            currency: self.currency.code(),
            settled_through: self.settled_through.map(|p| p.to_string()),
            years: self.years.iter().map(|y| y.year).collect(),
            lines,
        };
        serde_json::to_string(&json).map_err(|e| ReportError::Render(e.to_string()))
    }
}

/// A CSV cell of an amount: two decimals, empty when the ledger does not measure it.
fn cell(m: Option<Money>) -> String {
    m.map_or_else(String::new, |m| m.to_decimal().to_string())
}

/// A JSON amount: a decimal string, `null` when the ledger does not measure it.
fn money(m: Option<Money>) -> Option<String> {
    m.map(|m| m.to_decimal().to_string())
}

/// One budget line across the years shown (the wide layout).
struct WideLine {
    line: Line,
    effect: Vec<Option<Money>>,
    appropriation: Vec<Option<Money>>,
    effect_total: Option<Money>,
    appropriation_total: Option<Money>,
}

/// The CSV header of the long layout.
pub const CSV_HEADER: &str = "year,line,budget_line,effect,appropriation,currency";

/// The `year` cell of the long layout's total lines, and the wide layout's last column.
pub const TOTAL: &str = "total";

/// The wide layout's `sign` of the effect rows.
pub const EFFECT: &str = "effect";

/// The wide layout's `sign` of the appropriation rows.
pub const APPROPRIATION: &str = "appropriation";

#[derive(serde::Serialize)]
struct JsonBudget<'a> {
    contract: &'a str,
    party: &'a str,
    currency: &'static str,
    settled_through: Option<String>,
    years: Vec<JsonYear>,
    totals: Vec<JsonRow>,
}

#[derive(serde::Serialize)]
struct JsonYear {
    year: i32,
    lines: Vec<JsonRow>,
}

#[derive(serde::Serialize)]
struct JsonRow {
    line: &'static str,
    name: &'static str,
    effect: Option<String>,
    appropriation: Option<String>,
}

#[derive(serde::Serialize)]
struct JsonWideBudget<'a> {
    contract: &'a str,
    party: &'a str,
    currency: &'static str,
    settled_through: Option<String>,
    years: Vec<i32>,
    lines: Vec<JsonWideLine>,
}

#[derive(serde::Serialize)]
struct JsonWideLine {
    line: &'static str,
    name: &'static str,
    effect: Vec<Option<String>>,
    effect_total: Option<String>,
    appropriation: Vec<Option<String>>,
    appropriation_total: Option<String>,
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_in_the_table_once_in_order() {
        let lines: Vec<Line> = LINES.iter().map(|l| l.line).collect();
        let mut sorted = lines.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(lines, sorted, "LINES follows the enum's order, once each");
        assert_eq!(lines.first(), Some(&Line::ExpectedSavings));
        assert_eq!(lines.last(), Some(&Line::NetEffect));
        assert_eq!(LINES.len(), Line::NetEffect as usize + 1, "every line");
        for (i, info) in LINES.iter().enumerate() {
            assert_eq!(info.line as usize, i);
            assert_eq!(info.line.info(), info);
        }
    }

    /// Every rule of `docs/settlement.md` but `savings` (a memo line, handled apart) has a
    /// line on both sides, so no settled amount is left out of the net effect.
    #[test]
    fn every_settlement_rule_has_a_budget_line() {
        let (made, received) = (Line::OutcomePaymentsMade, Line::OutcomePaymentsReceived);
        let (repays, repaid) = (Line::RepaymentsToInvestors, Line::RepaymentsReceived);
        let cases = [
            ("outcome:O1", made, received),
            ("clawback:O1", made, received),
            ("sustainment:full", made, received),
            ("sustainment:partial", made, received),
            ("carry-forward", made, received),
            ("success-bonus", made, received),
            ("waterfall:gain share", repays, repaid),
            ("co-financing:esf", Line::CoFinancing, Line::CoFinancing),
            ("facility:draw", Line::FacilityDraws, Line::FacilityDraws),
            (
                "facility:repayment",
                Line::FacilityRepayments,
                Line::FacilityRepayments,
            ),
            ("facility:fee", Line::FacilityFees, Line::FacilityFees),
            (
                "guarantee:loss",
                Line::GuaranteeLosses,
                Line::GuaranteeLosses,
            ),
        ];
        for (rule, pays, receives) in cases {
            assert_eq!(settled_line(rule, Side::Pays), Some(pays), "{rule}");
            assert_eq!(settled_line(rule, Side::Receives), Some(receives), "{rule}");
        }
        assert_eq!(settled_line("facility:other", Side::Pays), None);
        // A memo rule moves no money, so it has no budget line.
        assert_eq!(settled_line("facility:write-off", Side::Pays), None);
        assert_eq!(settled_line("something-new", Side::Receives), None);
    }

    #[test]
    fn disbursements_are_lined_by_purpose() {
        assert_eq!(received_line(Some(Purpose::Grant)), Line::GrantsReceived);
        assert_eq!(
            received_line(Some(Purpose::ConditionalGrant)),
            Line::GrantsReceived
        );
        assert_eq!(received_line(Some(Purpose::CoFinancing)), Line::CoFinancing);
        assert_eq!(
            received_line(Some(Purpose::WorkingCapital)),
            Line::OtherFundsReceived
        );
        assert_eq!(received_line(None), Line::OtherFundsReceived);
    }

    #[test]
    fn the_appropriation_is_the_opposite_of_the_effect() -> Result<(), ReportError> {
        let saving = Row {
            line: Line::RealisedSavings,
            effect: Some(Money::from_minor(2_588_460, Currency::DKK)),
        };
        let repayment = Row {
            line: Line::RepaymentsToInvestors,
            effect: Some(Money::from_minor(-2_588_460, Currency::DKK)),
        };
        let empty = Row {
            line: Line::ExpectedSavings,
            effect: None,
        };
        assert_eq!(
            saving.appropriation()?,
            Some(Money::from_minor(-2_588_460, Currency::DKK)),
            "savings: a negative supplementary appropriation"
        );
        assert_eq!(
            repayment.appropriation()?,
            Some(Money::from_minor(2_588_460, Currency::DKK)),
            "repayments: a positive one"
        );
        assert_eq!(empty.appropriation()?, None);
        Ok(())
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("costs"), "costs");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
    }
}
