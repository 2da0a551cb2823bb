//! The audit report as a workbook: one sheet per table of the HTML page (`docs/reports.md`,
//! "Audit report", "XLSX"), written by the crate's deterministic XLSX writer and dated by
//! [`AuditReport::created`], never by the clock.

use pbr_core::money::{Currency, Money};
use pbr_core::settle::balance::PartyBalance;

use super::html::{
    checkpoint_time, quorum_text, signers_text, trust_state_text, trust_text, verdict_text,
};
use super::html::{disputes_summary_text, payments_summary_text, terms_in_force_text};
use super::{AuditReport, Charts, Sections, decimal_minor};
use crate::ReportError;
use crate::xlsx::{Cell, Workbook};

fn text(value: impl Into<String>) -> Cell {
    Cell::text(value)
}

fn int(value: u64) -> Cell {
    i64::try_from(value).map_or_else(|_| Cell::text(value.to_string()), Cell::Int)
}

fn money(minor: i64, currency: Currency) -> Cell {
    Cell::money(Money::from_minor(minor, currency))
}

fn amount(minor: i128, currency: Currency) -> Cell {
    Cell::Amount(decimal_minor(minor, currency))
}

fn date(value: Option<chrono::NaiveDate>) -> Cell {
    value.map_or(Cell::Empty, |d| text(d.to_string()))
}

fn header(names: &[&str]) -> Vec<Cell> {
    names.iter().map(|n| text(*n)).collect()
}

/// A balance column: the key `pbr balance --json` gives it, its name for a reader, and the
/// field.
pub(crate) struct BalanceColumn {
    pub(crate) key: &'static str,
    pub(crate) name: &'static str,
    pub(crate) field: fn(&PartyBalance) -> Money,
}

const fn column(
    key: &'static str,
    name: &'static str,
    field: fn(&PartyBalance) -> Money,
) -> BalanceColumn {
    BalanceColumn { key, name, field }
}

/// Every balance column, in `pbr balance --json`'s field order.
pub(crate) const BALANCE_COLUMNS: [BalanceColumn; 11] = [
    column("accrued", "accrued", |b| b.accrued),
    column("paid", "paid", |b| b.paid),
    column("outstanding", "outstanding", |b| b.outstanding),
    column("invested", "invested", |b| b.invested),
    column("funding_received", "funding received", |b| {
        b.funding_received
    }),
    column("costs", "costs", |b| b.costs),
    column("returned", "returned", |b| b.returned),
    column("savings", "savings", |b| b.savings),
    column("guarantee_exposure", "guarantee exposure", |b| {
        b.guarantee_exposure
    }),
    column("co_financing_receivable", "co-financing receivable", |b| {
        b.co_financing_receivable
    }),
    column("net", "net", |b| b.net),
];

impl AuditReport {
    /// The report as an XLSX workbook: sheets Audit, Checkpoints, Terms, Statements,
    /// Payments, Payment pairs, Payments matched, Payments not matched, Disputes,
    /// Corrections, Balances and Chart data.
    pub fn to_xlsx(&self) -> Result<Vec<u8>, ReportError> {
        let render = |e: crate::xlsx::XlsxError| ReportError::Render(e.to_string());
        let mut book = Workbook::new(&self.created()).map_err(render)?;
        book.sheet("Audit", self.summary_rows()).map_err(render)?;
        book.sheet("Checkpoints", self.checkpoint_rows())
            .map_err(render)?;
        let recomputed = self.recomputed.as_ref().ok();
        if let Some(recomputed) = recomputed {
            book.sheet("Terms", terms_rows(&recomputed.sections))
                .map_err(render)?;
            let mut rows = vec![header(&[
                "seq",
                "contract",
                "period",
                "recorded_hash",
                "recomputed_hash",
                "matches",
                "error",
            ])];
            for s in &recomputed.statements {
                rows.push(vec![
                    int(s.seq),
                    text(&self.input.contract),
                    text(s.period.to_string()),
                    text(pbr_core::ids::hex(&s.recorded)),
                    s.recomputed
                        .as_ref()
                        .map_or(Cell::Empty, |h| text(pbr_core::ids::hex(h))),
                    text(if s.matches() { "yes" } else { "no" }),
                    s.recomputed.as_ref().err().map_or(Cell::Empty, text),
                ]);
            }
            book.sheet("Statements", rows).map_err(render)?;
            payment_sheets(&mut book, &recomputed.sections, recomputed.currency).map_err(render)?;
            book.sheet("Disputes", dispute_rows(&recomputed.sections))
                .map_err(render)?;
            book.sheet("Corrections", correction_rows(&recomputed.sections))
                .map_err(render)?;
        }
        if let Some(figures) = recomputed.and_then(|r| r.figures.as_ref().ok()) {
            let mut names = vec!["party"];
            names.extend(BALANCE_COLUMNS.iter().map(|c| c.key));
            let mut rows = vec![header(&names)];
            for balance in &figures.balances {
                let mut row = vec![text(&balance.party)];
                row.extend(
                    BALANCE_COLUMNS
                        .iter()
                        .map(|c| Cell::money((c.field)(balance))),
                );
                rows.push(row);
            }
            book.sheet("Balances", rows).map_err(render)?;
            book.sheet("Chart data", chart_rows(&figures.charts))
                .map_err(render)?;
        }
        book.to_bytes().map_err(render)
    }

    fn summary_rows(&self) -> Vec<Vec<Cell>> {
        let input = &self.input;
        let verification = &input.verification;
        let mut rows = vec![
            header(&["field", "value"]),
            vec![text("verdict"), text(verdict_text(self))],
            vec![text("ledger origin"), text(&input.origin)],
            vec![text("contract"), text(&input.contract)],
            vec![text("records"), int(verification.records)],
        ];
        match &verification.outcome {
            Ok(verified) => {
                rows.push(vec![text("verification"), text("verified")]);
                rows.push(vec![
                    text("merkle root"),
                    text(pbr_core::ids::hex(&verified.root)),
                ]);
                rows.push(vec![
                    text("chain head"),
                    text(pbr_core::ids::hex(&verified.chain_head)),
                ]);
            }
            Err(failure) => {
                rows.push(vec![text("verification"), text("failed")]);
                rows.push(vec![
                    text("first bad seq"),
                    failure.first_bad_seq.map_or(Cell::Empty, int),
                ]);
                rows.push(vec![text("reason"), text(&failure.reason)]);
            }
        }
        rows.push(vec![
            text("checkpoint signatures checked against"),
            text(trust_text(&verification.trust)),
        ]);
        rows.push(vec![text("trust"), text(trust_state_text(self))]);
        let judged = input
            .trust
            .as_ref()
            .filter(|t| t.keys == pbr_core::verdict::Keys::Given);
        if let Some(check) = judged {
            rows.push(vec![
                text("trust checkpoint"),
                check.latest.as_ref().map_or(Cell::Empty, |c| int(c.size)),
            ]);
            rows.push(vec![
                text("missing signers"),
                text(check.missing().join(", ")),
            ]);
        }
        for failure in self.failures() {
            rows.push(vec![text("failure"), text(failure)]);
        }
        match &self.recomputed {
            Ok(recomputed) => {
                rows.push(vec![text("log position"), int(recomputed.log_position)]);
                rows.push(vec![text("currency"), text(recomputed.currency.code())]);
            }
            Err(reason) => rows.push(vec![text("replay"), text(reason)]),
        }
        if let Some((issued, matching)) = self.statement_counts() {
            rows.push(vec![text("issued statements"), int(issued as u64)]);
            rows.push(vec![text("statements matching"), int(matching as u64)]);
        }
        if let Ok(recomputed) = &self.recomputed {
            let sections = &recomputed.sections;
            rows.push(vec![
                text("terms in force"),
                text(terms_in_force_text(sections)),
            ]);
            rows.push(vec![
                text("payments"),
                text(payments_summary_text(sections)),
            ]);
            rows.push(vec![
                text("disputes"),
                text(disputes_summary_text(sections)),
            ]);
            rows.push(vec![
                text("corrections"),
                int(sections.corrections.len() as u64),
            ]);
        }
        rows.push(vec![text("reproduce"), text(&input.command)]);
        rows.push(vec![text("made by"), text(&input.made_by)]);
        rows
    }

    fn checkpoint_rows(&self) -> Vec<Vec<Cell>> {
        let mut rows = vec![header(&["size", "time", "root", "signed_by", "quorum"])];
        for c in &self.input.checkpoints {
            rows.push(vec![
                int(c.size),
                text(checkpoint_time(c.time)),
                text(pbr_core::ids::hex(&c.root)),
                c.signed_by
                    .as_ref()
                    .map_or_else(|| text("not verified"), |s| text(signers_text(s))),
                text(quorum_text(
                    self.input.quorum.as_deref(),
                    c.signed_by.as_deref(),
                )),
            ]);
        }
        rows
    }
}

/// One row per version of the terms.
fn terms_rows(sections: &Sections) -> Vec<Vec<Cell>> {
    let mut rows = vec![header(&[
        "seq",
        "kind",
        "recorded_on",
        "recorded_by",
        "effective_from",
        "until",
        "terms_hash",
        "status",
        "retracted",
    ])];
    for v in &sections.terms.versions {
        rows.push(vec![
            int(v.seq),
            text(if v.amendment {
                "contract-amended"
            } else {
                "contract-registered"
            }),
            date(v.recorded_on),
            v.by.as_ref().map_or(Cell::Empty, text),
            text(v.effective_from.to_string()),
            date(v.until),
            v.hash.map_or(Cell::Empty, |h| text(pbr_core::ids::hex(&h))),
            text(v.status.as_str()),
            text(if v.retracted { "yes" } else { "no" }),
        ]);
    }
    rows
}

/// The sheets Payments (one row per issued statement), Payment pairs, Payments matched and
/// Payments not matched.
fn payment_sheets(
    book: &mut Workbook,
    sections: &Sections,
    currency: Currency,
) -> Result<(), crate::xlsx::XlsxError> {
    let payments = &sections.payments;
    let mut rows = vec![header(&[
        "seq",
        "period",
        "status",
        "due",
        "paid",
        "outstanding",
        "overpaid",
        "last_paid",
        "late",
        "error",
    ])];
    let mut pairs = vec![header(&[
        "statement_seq",
        "period",
        "from",
        "to",
        "due",
        "paid",
        "remaining",
        "status",
    ])];
    let mut matched = vec![header(&[
        "seq",
        "date",
        "from",
        "to",
        "amount",
        "statement_seq",
        "matched",
    ])];
    for s in &payments.statements {
        rows.push(vec![
            int(s.seq),
            text(s.period.to_string()),
            text(s.status().as_str()),
            amount(s.due(), currency),
            amount(s.paid(), currency),
            amount(s.outstanding(), currency),
            amount(s.overpaid(), currency),
            date(s.last_paid()),
            text("not assessed"),
            s.pairs.as_ref().err().map_or(Cell::Empty, text),
        ]);
        for p in s.pairs.as_deref().unwrap_or_default() {
            pairs.push(vec![
                int(s.seq),
                text(s.period.to_string()),
                text(&p.from),
                text(&p.to),
                amount(p.due, currency),
                amount(p.paid, currency),
                amount(p.remaining(), currency),
                text(p.status().as_str()),
            ]);
        }
        for p in &s.payments {
            matched.push(vec![
                int(p.seq),
                text(p.date.to_string()),
                text(&p.from),
                text(&p.to),
                amount(p.amount, currency),
                int(s.seq),
                text(if p.named { "named" } else { "oldest-first" }),
            ]);
        }
    }
    let mut unmatched = vec![header(&[
        "seq", "date", "from", "to", "amount", "currency", "why",
    ])];
    for u in &payments.unmatched {
        unmatched.push(vec![
            int(u.seq),
            text(u.date.to_string()),
            text(&u.from),
            text(&u.to),
            amount(u.amount, u.currency),
            text(u.currency.code()),
            text(&u.why),
        ]);
    }
    book.sheet("Payments", rows)?;
    book.sheet("Payment pairs", pairs)?;
    book.sheet("Payments matched", matched)?;
    book.sheet("Payments not matched", unmatched)
}

/// One row per dispute event: the opening, each piece of evidence, the resolution.
fn dispute_rows(sections: &Sections) -> Vec<Vec<Cell>> {
    let mut rows = vec![header(&[
        "dispute_seq",
        "event",
        "seq",
        "date",
        "by",
        "detail",
        "status",
    ])];
    for d in &sections.disputes {
        let status = text(d.status());
        rows.push(vec![
            int(d.seq),
            text("opened"),
            int(d.seq),
            text(d.opened_on.to_string()),
            text(&d.by),
            text(format!("about {}; reason {}", d.about.text(), d.reason)),
            status.clone(),
        ]);
        for e in &d.evidence {
            rows.push(vec![
                int(d.seq),
                text("evidence"),
                int(e.seq),
                text(e.on.to_string()),
                text(&e.by),
                text(pbr_core::ids::hex(&e.hash)),
                status.clone(),
            ]);
        }
        if let Some(r) = &d.resolution {
            rows.push(vec![
                int(d.seq),
                text("resolved"),
                int(r.seq),
                text(r.on.to_string()),
                text(&r.by),
                text(&r.resolution),
                status.clone(),
            ]);
        }
    }
    rows
}

/// One row per correction.
fn correction_rows(sections: &Sections) -> Vec<Vec<Cell>> {
    let mut rows = vec![header(&[
        "seq",
        "date",
        "by",
        "retracts_seq",
        "retracts",
        "reason",
    ])];
    for c in &sections.corrections {
        rows.push(vec![
            int(c.seq),
            text(c.on.to_string()),
            text(&c.by),
            int(c.retracts.seq),
            text(c.retracts.text()),
            text(&c.reason),
        ]);
    }
    rows
}

/// One row per period, one column per series.
fn chart_rows(charts: &Charts) -> Vec<Vec<Cell>> {
    let mut names = vec!["period".to_owned()];
    names.extend(charts.settled.iter().map(|s| format!("settled {}", s.name)));
    names.extend(charts.paid.iter().map(|s| format!("paid {}", s.name)));
    names.extend(
        charts
            .facility
            .iter()
            .map(|f| format!("facility outstanding {} to {}", f.lender, f.borrower)),
    );
    names.extend(
        charts
            .exposure
            .iter()
            .map(|s| format!("guarantee exposure {}", s.name)),
    );
    names.push("achievers".to_owned());
    let mut rows = vec![names.into_iter().map(Cell::Text).collect::<Vec<_>>()];
    let currency = charts.currency;
    // Every series has one value per period (`Charts::of`); a missing one stays empty.
    let at = |values: &[i64], i: usize| values.get(i).map_or(Cell::Empty, |v| money(*v, currency));
    for (i, period) in charts.periods.iter().enumerate() {
        let mut row = vec![text(period.to_string())];
        let amounts = charts
            .settled
            .iter()
            .chain(&charts.paid)
            .map(|s| at(&s.values, i))
            .chain(charts.facility.iter().map(|f| at(&f.values, i)))
            .chain(charts.exposure.iter().map(|s| at(&s.values, i)));
        row.extend(amounts);
        row.push(
            charts
                .achievers
                .get(i)
                .map_or(Cell::Empty, |n| Cell::Int(*n)),
        );
        rows.push(row);
    }
    rows
}
