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
use serde_json::Value;

use super::{AuditReport, Charts, StatementCheck, TrustBasis};
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
            balances: figures.map(|f| f.balances.iter().map(balance_json).collect()),
            charts: figures.map(|f| charts_json(&f.charts)),
            reproduce: &input.command,
            made_by: &input.made_by,
        };
        serde_json::to_string(&report).map_err(|e| ReportError::Render(e.to_string()))
    }
}
