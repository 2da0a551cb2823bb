//! The audit report as one line of JSON, keys in the documented order
//! (`docs/reports.md`, "Audit report", "JSON").
//!
//! Where the same facts come from `pbr verify --json`, `pbr audit --json` and
//! `pbr balance --json`, the keys and forms are theirs (`records`, `root`, `chain_head`,
//! `checkpoint_keys`; each checkpoint's `size`, `signed_by` and `quorum`; each statement's
//! `seq` … `matches`; each balance row), so a script can compare them field by field.

use pbr_core::money::{Currency, Money};
use pbr_core::settle::balance::to_json as balance_json;
use pbr_core::verdict::{Keys, TrustCheck};
use serde::Serialize;
use serde_json::{Value, json};

use super::{
    AuditReport, Charts, LATE_NOT_ASSESSED, Sections, StatementCheck, TrustBasis, decimal_minor,
};
use crate::ReportError;

#[derive(Serialize)]
struct Report<'a> {
    report: &'static str,
    origin: &'a str,
    contract: &'a str,
    ok: bool,
    verdict: String,
    trust: &'static str,
    trust_checkpoint: Option<u64>,
    missing: Option<Vec<String>>,
    failures: Vec<String>,
    verification: Verification<'a>,
    checkpoints: Vec<Checkpoint<'a>>,
    replay: Replay<'a>,
    currency: Option<&'static str>,
    statements: Option<Vec<Statement<'a>>>,
    terms: Option<Value>,
    payments: Option<Value>,
    disputes: Option<Value>,
    corrections: Option<Value>,
    balances: Option<Vec<Value>>,
    charts: Option<ChartsJson>,
    reproduce: &'a str,
    made_by: &'a str,
}

#[derive(Serialize)]
struct Verification<'a> {
    ok: bool,
    records: u64,
    root: Option<String>,
    chain_head: Option<String>,
    first_bad_seq: Option<u64>,
    error: Option<&'a str>,
    checkpoint_keys: &'static str,
    trusted_keys: &'a [String],
}

#[derive(Serialize)]
struct Checkpoint<'a> {
    size: u64,
    time: Option<u64>,
    root: String,
    signed_by: Option<&'a [String]>,
    quorum: Option<Vec<Quorum<'a>>>,
}

#[derive(Serialize)]
struct Quorum<'a> {
    contract: &'a str,
    met: bool,
    missing: Vec<&'a str>,
}

#[derive(Serialize)]
struct Replay<'a> {
    ok: bool,
    log_position: Option<u64>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct Statement<'a> {
    seq: u64,
    contract: &'a str,
    period: String,
    recorded_hash: String,
    recomputed_hash: Option<String>,
    error: Option<&'a str>,
    matches: bool,
}

#[derive(Serialize)]
struct ChartsJson {
    periods: Vec<String>,
    settled: Vec<PartyValues>,
    paid: Vec<PartyValues>,
    facility_outstanding: Vec<FacilityValues>,
    guarantee_exposure: Vec<PartyValues>,
    achievers: Vec<i64>,
}

#[derive(Serialize)]
struct PartyValues {
    party: String,
    values: Vec<String>,
}

#[derive(Serialize)]
struct FacilityValues {
    lender: String,
    borrower: String,
    values: Vec<String>,
}

/// Minor units as the decimal string every JSON of pbr uses (`"-976835.50"`).
fn amounts(values: &[i64], currency: Currency) -> Vec<String> {
    values
        .iter()
        .map(|v| Money::from_minor(*v, currency).to_decimal().to_string())
        .collect()
}

fn charts_json(charts: &Charts) -> ChartsJson {
    let currency = charts.currency;
    let parties = |series: &[super::Series]| {
        series
            .iter()
            .map(|s| PartyValues {
                party: s.name.clone(),
                values: amounts(&s.values, currency),
            })
            .collect()
    };
    ChartsJson {
        periods: charts.periods.iter().map(ToString::to_string).collect(),
        settled: parties(&charts.settled),
        paid: parties(&charts.paid),
        facility_outstanding: charts
            .facility
            .iter()
            .map(|f| FacilityValues {
                lender: f.lender.clone(),
                borrower: f.borrower.clone(),
                values: amounts(&f.values, currency),
            })
            .collect(),
        guarantee_exposure: parties(&charts.exposure),
        achievers: charts.achievers.clone(),
    }
}

fn date(value: Option<chrono::NaiveDate>) -> Value {
    value.map_or(Value::Null, |d| Value::String(d.to_string()))
}

/// `terms`: the version in force and every version (`docs/reports.md`, "JSON").
fn terms_json(sections: &Sections) -> Value {
    let terms = &sections.terms;
    let versions: Vec<Value> = terms
        .versions
        .iter()
        .map(|v| {
            json!({
                "seq": v.seq,
                "kind": if v.amendment { "contract-amended" } else { "contract-registered" },
                "recorded_on": date(v.recorded_on),
                "recorded_by": v.by,
                "effective_from": v.effective_from.to_string(),
                "until": date(v.until),
                "terms_hash": v.hash.map(|h| pbr_core::ids::hex(&h)),
                "status": v.status.as_str(),
                "retracted": v.retracted,
            })
        })
        .collect();
    json!({
        "as_of": date(terms.as_of),
        "in_force_seq": terms.in_force().map(|v| v.seq),
        "versions": versions,
    })
}

/// `payments`: each issued statement matched against its payments, and the payments
/// matched to none.
fn payments_json(sections: &Sections, currency: Currency) -> Value {
    let payments = &sections.payments;
    let amount = |minor: i128| decimal_minor(minor, currency);
    let statements: Vec<Value> = payments
        .statements
        .iter()
        .map(|s| {
            let pairs: Vec<Value> = s
                .pairs
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|p| {
                    json!({
                        "from": p.from,
                        "to": p.to,
                        "due": amount(p.due),
                        "paid": amount(p.paid),
                        "remaining": amount(p.remaining()),
                        "status": p.status().as_str(),
                    })
                })
                .collect();
            let matched: Vec<Value> = s
                .payments
                .iter()
                .map(|p| {
                    json!({
                        "seq": p.seq,
                        "date": p.date.to_string(),
                        "from": p.from,
                        "to": p.to,
                        "amount": amount(p.amount),
                        "matched": if p.named { "named" } else { "oldest-first" },
                    })
                })
                .collect();
            json!({
                "seq": s.seq,
                "period": s.period.to_string(),
                "status": s.status().as_str(),
                "due": amount(s.due()),
                "paid": amount(s.paid()),
                "outstanding": amount(s.outstanding()),
                "overpaid": amount(s.overpaid()),
                "last_paid": date(s.last_paid()),
                "late": "not assessed",
                "error": s.pairs.as_ref().err(),
                "pairs": pairs,
                "payments": matched,
            })
        })
        .collect();
    let unmatched: Vec<Value> = payments
        .unmatched
        .iter()
        .map(|u| {
            json!({
                "seq": u.seq,
                "date": u.date.to_string(),
                "from": u.from,
                "to": u.to,
                "amount": decimal_minor(u.amount, u.currency),
                "currency": u.currency.code(),
                "why": u.why,
            })
        })
        .collect();
    json!({
        "late_rule": LATE_NOT_ASSESSED,
        "statements": statements,
        "unmatched": unmatched,
    })
}

fn disputes_json(sections: &Sections) -> Value {
    Value::Array(
        sections
            .disputes
            .iter()
            .map(|d| {
                let evidence: Vec<Value> = d
                    .evidence
                    .iter()
                    .map(|e| {
                        json!({
                            "seq": e.seq,
                            "date": e.on.to_string(),
                            "by": e.by,
                            "hash": pbr_core::ids::hex(&e.hash),
                        })
                    })
                    .collect();
                json!({
                    "seq": d.seq,
                    "opened_on": d.opened_on.to_string(),
                    "opened_by": d.by,
                    "about_seq": d.about.seq,
                    "about_kind": d.about.event.as_ref().map(|e| e.kind),
                    "reason": d.reason,
                    "evidence": evidence,
                    "resolution": d.resolution.as_ref().map(|r| json!({
                        "seq": r.seq,
                        "date": r.on.to_string(),
                        "by": r.by,
                        "resolution": r.resolution,
                    })),
                    "status": d.status(),
                    "retracted": d.retracted,
                })
            })
            .collect(),
    )
}

fn corrections_json(sections: &Sections) -> Value {
    Value::Array(
        sections
            .corrections
            .iter()
            .map(|c| {
                let retracted = c.retracts.event.as_ref();
                json!({
                    "seq": c.seq,
                    "date": c.on.to_string(),
                    "by": c.by,
                    "retracts_seq": c.retracts.seq,
                    "retracts_kind": retracted.map(|e| e.kind),
                    "retracts_date": date(retracted.map(|e| e.date)),
                    "retracts_author": retracted.map(|e| e.author.as_str()),
                    "reason": c.reason,
                })
            })
            .collect(),
    )
}

fn statement<'a>(contract: &'a str, s: &'a StatementCheck) -> Statement<'a> {
    Statement {
        seq: s.seq,
        contract,
        period: s.period.to_string(),
        recorded_hash: pbr_core::ids::hex(&s.recorded),
        recomputed_hash: s.recomputed.as_ref().ok().map(|h| pbr_core::ids::hex(h)),
        error: s.recomputed.as_ref().err().map(String::as_str),
        matches: s.matches(),
    }
}

impl AuditReport {
    /// The report as one line of JSON (no trailing newline).
    pub fn to_json(&self) -> Result<String, ReportError> {
        let input = &self.input;
        let verification = &input.verification;
        let verified = verification.outcome.as_ref().ok();
        let failure = verification.outcome.as_ref().err();
        let (checkpoint_keys, trusted_keys): (&str, &[String]) = match &verification.trust {
            TrustBasis::Given(keys) => ("given", keys),
            TrustBasis::Ledger => ("ledger", &[]),
        };
        let checkpoints = input
            .checkpoints
            .iter()
            .map(|c| Checkpoint {
                size: c.size,
                time: c.time,
                root: pbr_core::ids::hex(&c.root),
                signed_by: c.signed_by.as_deref(),
                quorum: c.signed_by.as_ref().map(|signed_by| {
                    input
                        .quorum
                        .iter()
                        .map(|quorum| {
                            let missing = super::missing(quorum, signed_by);
                            Quorum {
                                contract: &input.contract,
                                met: missing.is_empty(),
                                missing,
                            }
                        })
                        .collect()
                }),
            })
            .collect();
        let recomputed = self.recomputed.as_ref().ok();
        let figures = recomputed.and_then(|r| r.figures.as_ref().ok());
        let verdict = self.verdict();
        // Judged only under keys given with `--key`: the ledger's own keys are no anchor.
        let judged = input.trust.as_ref().filter(|t| t.keys == Keys::Given);
        let report = Report {
            report: "audit",
            origin: &input.origin,
            contract: &input.contract,
            ok: self.ok(),
            verdict: verdict.line,
            trust: verdict.trust.as_str(),
            trust_checkpoint: judged.and_then(|t| t.latest.as_ref()).map(|c| c.size),
            missing: judged.map(TrustCheck::missing),
            failures: self.failures(),
            verification: Verification {
                ok: verified.is_some(),
                records: verification.records,
                root: verified.map(|v| pbr_core::ids::hex(&v.root)),
                chain_head: verified.map(|v| pbr_core::ids::hex(&v.chain_head)),
                first_bad_seq: failure.and_then(|f| f.first_bad_seq),
                error: failure.map(|f| f.reason.as_str()),
                checkpoint_keys,
                trusted_keys,
            },
            checkpoints,
            replay: Replay {
                ok: recomputed.is_some(),
                log_position: recomputed.map(|r| r.log_position),
                error: self.recomputed.as_ref().err().map(String::as_str),
            },
            currency: recomputed.map(|r| r.currency.code()),
            statements: recomputed.map(|r| {
                r.statements
                    .iter()
                    .map(|s| statement(&input.contract, s))
                    .collect()
            }),
            terms: recomputed.map(|r| terms_json(&r.sections)),
            payments: recomputed.map(|r| payments_json(&r.sections, r.currency)),
            disputes: recomputed.map(|r| disputes_json(&r.sections)),
            corrections: recomputed.map(|r| corrections_json(&r.sections)),
            balances: figures.map(|f| f.balances.iter().map(balance_json).collect()),
            charts: figures.map(|f| charts_json(&f.charts)),
            reproduce: &input.command,
            made_by: &input.made_by,
        };
        serde_json::to_string(&report).map_err(|e| ReportError::Render(e.to_string()))
    }
}
