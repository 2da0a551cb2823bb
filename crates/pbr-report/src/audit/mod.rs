//! The audit report (`docs/reports.md`, "Audit report"): in one document, what an auditor
//! checks of a contract's ledger.
//!
//! - the verification of the whole log (records, Merkle root, chain head, the first bad seq
//!   if any) and of its checkpoints (who signed each, whether the contract's quorum did), and
//!   which keys the signatures were checked against: verifier keys given from outside, or the
//!   keys the ledger stores, which are no trust anchor;
//! - every statement issued for the contract, recomputed and matched with its recorded hash;
//! - the terms in force and every amendment with its effective date, the disputes (opened,
//!   evidence, resolved), the corrections with their reasons, and each issued statement
//!   matched against the payments recorded for it ([`history`]);
//! - the balances per party, and three charts (cumulative settled and paid per party, the
//!   facility outstanding and the guarantee exposure, the participants with a paid outcome).
//!
//! The caller (the CLI) verifies the log with `pbr-ledger` and fills the plain-data
//! [`AuditInput`]: this crate depends on `pbr-core` only, so the verification result comes
//! in as owned strings and hashes, never as `pbr-log` types. The statements, balances and
//! charts are derived here from the [`State`] of one replay of the log from seq 0 (not the
//! projections, which are caches), and the sections of [`history`] from that state and the
//! [`Trail`] the caller collected during the same replay, so every figure comes from the
//! same recomputation.
//!
//! The verdict is `pbr_core::verdict`'s, from the [`TrustCheck`] the caller made of its
//! verification: it rests on the latest checkpoint, and is "passed" only under keys given
//! from outside that carry every contract's quorum on a checkpoint covering the whole log.
//!
//! A failure does not stop the report: a verification that fails, a quorum not met under the
//! given keys, a log that cannot be replayed, a statement that does not match are each shown
//! in the report, and [`AuditReport::ok`] is false, so the CLI writes the report and exits
//! non-zero.
//!
//! The report is deterministic: no clock (the workbook is dated by the latest checkpoint),
//! no hash-map order, no floating point (chart coordinates are integer arithmetic).

mod history;
pub mod html;
mod json;
mod series;
mod sheets;
mod svg;

use pbr_core::date::Period;
use pbr_core::money::Currency;
use pbr_core::settle::balance::{PartyBalance, balances};
use pbr_core::state::State;
use pbr_core::verdict::{Keys, TrustCheck, Verdict};

pub use history::{
    CorrectionRow, Described, DisputeRow, EventRef, Evidence, LATE_NOT_ASSESSED, PairMatch,
    PaymentMatch, PaymentStatus, Payments, Resolution, Sections, StatementPayments, TermsHistory,
    TermsVersionRow, Trail, Unmatched, VersionStatus,
};
pub use series::{Charts, Series};

/// Where the keys that checked the checkpoint signatures came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustBasis {
    /// Verifier keys given by the auditor (`--key`), obtained from the parties out of band:
    /// a trust anchor. Each as `<name>+<key id>+<base64>`.
    Given(Vec<String>),
    /// The verifier keys stored in the ledger: a convenience, never a trust anchor, since
    /// whoever can rewrite the ledger can rewrite them too.
    Ledger,
}

/// What a verification that passed established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The Merkle root recomputed from every record.
    pub root: [u8; 32],
    /// The chain head recomputed from every record.
    pub chain_head: [u8; 32],
}

/// Why a verification failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyFailure {
    /// The first bad sequence number, when one can be named.
    pub first_bad_seq: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

/// The verification of the whole log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The number of records in the log.
    pub records: u64,
    /// The keys the checkpoint signatures were checked against.
    pub trust: TrustBasis,
    /// What it established, or why it failed.
    pub outcome: Result<Verified, VerifyFailure>,
}

/// A stored checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The number of records it covers.
    pub size: u64,
    /// When the quorum's witnesses last saw it: the latest timestamp of their
    /// cosignatures that verified (Unix seconds); `None` when none of them cosigned it (a
    /// format-2 checkpoint carries no time of its own).
    pub time: Option<u64>,
    /// The Merkle root it signs.
    pub root: [u8; 32],
    /// The keys whose signatures verified, as `name+keyid`; `None` when the verification
    /// failed before it could say.
    pub signed_by: Option<Vec<String>>,
}

/// What the caller establishes about the ledger before the report is derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditInput {
    /// The ledger id that its checkpoints name.
    pub origin: String,
    /// The contract the report is about.
    pub contract: String,
    /// The verification of the whole log.
    pub verification: Verification,
    /// The stored checkpoints, in size order.
    pub checkpoints: Vec<CheckpointInfo>,
    /// The contract's checkpoint quorum as `name+keyid`, `None` when its terms name none.
    pub quorum: Option<Vec<String>>,
    /// What the verification says about trust (the latest checkpoint, what it must cover,
    /// every contract's quorum); `None` when the verification failed.
    pub trust: Option<TrustCheck>,
    /// The command that reproduces the report (without the ledger's path), for the footer.
    pub command: String,
    /// The program that made it, e.g. `pbr 0.1.0`.
    pub made_by: String,
}

/// One issued statement, recomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementCheck {
    /// The seq of its `settlement-issued` event.
    pub seq: u64,
    /// Its period.
    pub period: Period,
    /// The hash its issuer recorded.
    pub recorded: [u8; 32],
    /// The hash recomputed from the log before it, or why it could not be.
    pub recomputed: Result<[u8; 32], String>,
}

impl StatementCheck {
    /// Whether the recomputation matches the recorded hash.
    pub fn matches(&self) -> bool {
        self.recomputed.as_ref().is_ok_and(|h| *h == self.recorded)
    }
}

/// The balances and charts, which need every issued statement recomputed.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Per party, as `pbr balance` computes them.
    pub balances: Vec<PartyBalance>,
    /// The chart series.
    pub charts: Charts,
}

/// What the replay of the log gives for the contract.
#[derive(Clone, Debug)]
pub struct Recomputed {
    /// The contract's currency.
    pub currency: Currency,
    /// The number of events replayed.
    pub log_position: u64,
    /// The contract's issued statements, in log order.
    pub statements: Vec<StatementCheck>,
    /// The balances and charts, or why they cannot be computed (a statement that cannot be
    /// recomputed).
    pub figures: Result<Figures, String>,
    /// The terms and amendments, disputes, corrections and payment matching.
    pub sections: Sections,
}

/// The audit report of one contract's ledger.
#[derive(Clone, Debug)]
pub struct AuditReport {
    /// What the caller established.
    pub input: AuditInput,
    /// What the replay gives, or why the log could not be replayed.
    pub recomputed: Result<Recomputed, String>,
}

impl AuditReport {
    /// The report from the caller's verification and the state of one replay of the log
    /// from seq 0 with the trail collected during it (or why the replay failed).
    pub fn build(input: AuditInput, replay: Result<(&State, &Trail), String>) -> AuditReport {
        let recomputed = replay.and_then(|(state, trail)| recompute(state, trail, &input.contract));
        AuditReport { input, recomputed }
    }

    /// Whether nothing failed: the log verifies and replays, every issued statement of the
    /// contract matches its recomputation, and, under keys given with `--key`, the latest
    /// checkpoint covers the log and carries every contract's quorum. Without given keys
    /// nothing fails for want of trust, but the verdict is not "passed" either
    /// ([`AuditReport::verdict`]).
    pub fn ok(&self) -> bool {
        self.failures().is_empty()
    }

    /// The verdict: passed, FAILED, or trust not established, with its first line
    /// (`pbr_core::verdict`).
    pub fn verdict(&self) -> Verdict {
        let keys = match self.input.verification.trust {
            TrustBasis::Given(_) => Keys::Given,
            TrustBasis::Ledger => Keys::Ledger,
        };
        Verdict::of(
            keys,
            self.input.trust.as_ref(),
            &self.own_failures(),
            &self.facts(),
        )
    }

    /// What the audit established when nothing failed, for the verdict's first line.
    fn facts(&self) -> String {
        let contract = &self.input.contract;
        match self.statement_counts() {
            Some((0, _)) | None => {
                format!("the log verifies; no statement of {contract} has been issued yet")
            }
            Some((issued, _)) => format!(
                "the log verifies, and all {issued} issued statements of {contract} match \
                 their recomputation from the log"
            ),
        }
    }

    /// What failed, one sentence each, a failure of trust under the given keys first; empty
    /// when nothing did.
    pub fn failures(&self) -> Vec<String> {
        let mut failures: Vec<String> = self
            .input
            .trust
            .as_ref()
            .and_then(TrustCheck::failure)
            .into_iter()
            .collect();
        failures.extend(self.own_failures());
        failures
    }

    /// What failed besides trust: the verification, the replay, the statements.
    fn own_failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        if let Err(failure) = &self.input.verification.outcome {
            failures.push(match failure.first_bad_seq {
                Some(seq) => format!("verification failed at seq {seq}: {}", failure.reason),
                None => format!("verification failed: {}", failure.reason),
            });
        }
        match &self.recomputed {
            Err(reason) => failures.push(format!("the log cannot be replayed: {reason}")),
            Ok(recomputed) => {
                let differing = recomputed.statements.iter().filter(|s| !s.matches());
                let count = differing.count();
                if count > 0 {
                    failures.push(format!(
                        "{count} of {} issued statements do not match their recomputation",
                        recomputed.statements.len()
                    ));
                }
                if let Err(reason) = &recomputed.figures {
                    failures.push(format!("the balances cannot be computed: {reason}"));
                }
            }
        }
        failures
    }

    /// The document time of the workbook, from the data: the latest checkpoint's time
    /// (`YYYY-MM-DDTHH:MM:SSZ`), or 1980-01-01 (the earliest time a ZIP entry holds) when
    /// the ledger has no checkpoint.
    pub fn created(&self) -> String {
        self.input
            .checkpoints
            .iter()
            .filter_map(|c| c.time)
            .max()
            .and_then(utc_time)
            .unwrap_or_else(|| "1980-01-01".to_owned())
    }

    /// The number of issued statements and of those that match, when the log replays.
    pub fn statement_counts(&self) -> Option<(usize, usize)> {
        let recomputed = self.recomputed.as_ref().ok()?;
        let matching = recomputed.statements.iter().filter(|s| s.matches()).count();
        Some((recomputed.statements.len(), matching))
    }
}

/// The quorum signers missing from a checkpoint's `signed_by`.
fn missing<'a>(quorum: &'a [String], signed_by: &[String]) -> Vec<&'a str> {
    quorum
        .iter()
        .filter(|s| !signed_by.contains(s))
        .map(String::as_str)
        .collect()
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`; `None` outside chrono's range.
fn utc_time(seconds: u64) -> Option<String> {
    let seconds = i64::try_from(seconds).ok()?;
    let time = chrono::DateTime::from_timestamp(seconds, 0)?;
    Some(time.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// The statements, balances, charts and sections of `contract` in the replayed `state`.
fn recompute(state: &State, trail: &Trail, contract_id: &str) -> Result<Recomputed, String> {
    let contract = state
        .contracts
        .get(contract_id)
        .ok_or_else(|| format!("contract {contract_id} is not registered in the replayed log"))?;
    let terms = contract
        .versions
        .last()
        .ok_or_else(|| format!("contract {contract_id} has no terms"))?
        .terms(contract_id)
        .map_err(|e| e.reason)?;
    let currency = terms.contract.currency;
    let statements = contract
        .issued
        .iter()
        .map(|issued| StatementCheck {
            seq: issued.seq,
            period: issued.period,
            recorded: issued.recorded_hash,
            recomputed: issued
                .recomputed
                .as_ref()
                .map(|summary| summary.hash)
                .map_err(Clone::clone),
        })
        .collect();
    let figures = balances(contract, currency, None)
        .map_err(|e| e.reason)
        .and_then(|balances| {
            let charts = Charts::of(contract, currency, terms.contract.settlement)?;
            Ok(Figures { balances, charts })
        });
    let sections = Sections::of(state, contract, trail, currency);
    Ok(Recomputed {
        currency,
        log_position: state.applied,
        statements,
        figures,
        sections,
    })
}

/// Formats an integer with `,` between groups of three digits: `-1,234,567`.
fn group_thousands(value: i128) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An amount in minor units as the decimal string every JSON of pbr uses (`-976835.50`).
/// Exact: integer arithmetic only.
pub(crate) fn decimal_minor(minor: i128, currency: Currency) -> String {
    let digits = currency.minor_digits();
    let sign = if minor < 0 { "-" } else { "" };
    if digits == 0 {
        return format!("{sign}{}", minor.unsigned_abs());
    }
    let scale = 10u128.pow(digits);
    let whole = minor.unsigned_abs() / scale;
    let fraction = minor.unsigned_abs() % scale;
    format!("{sign}{whole}.{fraction:0width$}", width = digits as usize)
}

/// An amount in minor units as major units with the currency's decimals and thousands
/// separators: `-976,835.50`. Exact: integer arithmetic only.
pub(crate) fn format_minor(minor: i128, currency: Currency) -> String {
    let digits = currency.minor_digits();
    if digits == 0 {
        return group_thousands(minor);
    }
    let scale = 10i128.pow(digits);
    let whole = group_thousands(minor.abs() / scale);
    let fraction = minor.abs() % scale;
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{whole}.{fraction:0width$}", width = digits as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pbr_core::money::Money;

    #[test]
    fn amounts_are_grouped_exactly() {
        let dkk = Currency::DKK;
        assert_eq!(format_minor(0, dkk), "0.00");
        assert_eq!(format_minor(5, dkk), "0.05");
        assert_eq!(format_minor(-5, dkk), "-0.05");
        assert_eq!(format_minor(-97_683_550, dkk), "-976,835.50");
        assert_eq!(format_minor(108_000_000, dkk), "1,080,000.00");
        assert_eq!(format_minor(99_999, dkk), "999.99");
        assert_eq!(format_minor(100_000, dkk), "1,000.00");
        assert_eq!(
            format_minor(i128::from(i64::MIN), dkk),
            "-92,233,720,368,547,758.08"
        );
        assert_eq!(group_thousands(-1_234_567), "-1,234,567");
        assert_eq!(decimal_minor(-97_683_550, dkk), "-976835.50");
        assert_eq!(decimal_minor(-5, dkk), "-0.05");
        assert_eq!(decimal_minor(0, dkk), "0.00");
        assert_eq!(
            decimal_minor(i128::from(i64::MIN), dkk),
            Money::from_minor(i64::MIN, dkk).to_decimal().to_string()
        );
        assert_eq!(group_thousands(123), "123");
    }

    #[test]
    fn the_workbook_is_dated_by_the_latest_checkpoint() {
        let checkpoint = |size, time| CheckpointInfo {
            size,
            time: Some(time),
            root: [0; 32],
            signed_by: None,
        };
        let mut input = AuditInput {
            origin: "o".into(),
            contract: "c".into(),
            verification: Verification {
                records: 0,
                trust: TrustBasis::Ledger,
                outcome: Err(VerifyFailure {
                    first_bad_seq: None,
                    reason: "r".into(),
                }),
            },
            checkpoints: vec![],
            quorum: None,
            trust: None,
            command: String::new(),
            made_by: String::new(),
        };
        let report = AuditReport::build(input.clone(), Err("no".into()));
        assert_eq!(report.created(), "1980-01-01");
        input.checkpoints = vec![checkpoint(40, 1_768_435_200), checkpoint(2, 1_700_000_000)];
        let report = AuditReport::build(input, Err("no".into()));
        assert_eq!(report.created(), "2026-01-15T00:00:00Z");
        assert_eq!(
            report.failures(),
            ["verification failed: r", "the log cannot be replayed: no"]
        );
        assert!(!report.ok());
    }
}
