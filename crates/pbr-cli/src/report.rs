//! The report commands: `report esf`, `report indigo`, `report budget`, `report audit`
//! (`docs/reports.md`).
//!
//! The ledger gives the state (for the contract list and the retracted seqs) and streams the
//! log; `pbr-report` folds the events into micro-records and renders the table.

use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory;
use pbr_core::date::Period;
use pbr_core::event::{Event, Payload};
use pbr_core::state::State;
use pbr_ledger::{Cover, Ledger, LedgerError, LogError, VerifyOptions};
use pbr_report::audit::{
    AuditInput, AuditReport, CheckpointInfo, Trail, TrustBasis, Verification, Verified,
    VerifyFailure,
};
use pbr_report::esf::Records;
use pbr_report::{DateRange, ReportError};

use crate::atomic::{Existing, check_target, write_file};
use crate::cli::{AuditFormat, BudgetLayout, Cli, ReportFormat};
use crate::commands::{input, open, parse_verifier_keys};
use crate::output::{out, outln, progress};

fn report_error(error: ReportError) -> anyhow::Error {
    match error {
        ReportError::Input(reason) => input(reason),
        other => other.into(),
    }
}

/// The contract named (which must be registered), or the ledger's only one.
pub(crate) fn contract_of(state: &State, contract: Option<String>) -> Result<String> {
    if let Some(contract) = contract {
        if !state.contracts.contains_key(&contract) {
            return Err(input(format!("contract {contract} is not registered")));
        }
        return Ok(contract);
    }
    let ids: Vec<&String> = state.contracts.keys().collect();
    match ids.as_slice() {
        [only] => Ok((*only).clone()),
        [] => Err(input("the ledger has no contract yet")),
        _ => Err(input(format!(
            "the ledger has {} contracts ({}): name one with --contract",
            ids.len(),
            ids.iter()
                .map(|id| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The format asked for: `--format`, or JSON with `--json` and CSV without; CSV with
/// `--json` is a usage error.
fn resolve_format(format: Option<ReportFormat>, json: bool) -> ReportFormat {
    match (format, json) {
        (Some(ReportFormat::Csv), true) => Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--format csv cannot be used with --json, which prints JSON",
            )
            .exit(),
        (Some(format), _) => format,
        (None, true) => ReportFormat::Json,
        (None, false) => ReportFormat::Csv,
    }
}

/// `pbr report esf`: the ESF+ common indicators of one contract's participants.
pub(crate) fn esf(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    operation: Option<String>,
    period: Option<String>,
    format: Option<ReportFormat>,
    out: Option<(PathBuf, Existing)>,
    json: bool,
) -> Result<()> {
    let format = resolve_format(format, json);
    refuse_existing(out.as_ref())?;
    let period = period
        .as_deref()
        .map(DateRange::parse)
        .transpose()
        .map_err(report_error)?;
    let mut ledger = open(ledger_dir)?;
    let state = ledger.state()?;
    let contract = contract_of(state, contract)?;
    let mut records = Records::new(contract.clone(), state.retracted.clone());
    let mut latest: Option<chrono::NaiveDate> = None;
    let len = ledger.log().len();
    for entry in ledger.log().iter_from(0) {
        let (seq, bytes) = entry?;
        if seq >= len {
            break;
        }
        let record = pbr_log::Record::decode(&bytes)
            .map_err(|source| LedgerError::Log(LogError::BadRecord { seq, source }))?;
        let event = Event::decode(&record.event_bytes).map_err(|e| LedgerError::Projection {
            seq,
            reason: e.reason,
        })?;
        if event.contract == contract {
            latest = latest.max(Some(event.business_date));
        }
        records.push(seq, &event);
    }
    let report = records.report(operation.as_deref().unwrap_or(&contract), period);
    // The workbook's time comes from the data: the contract's latest business date.
    let created = latest.map_or_else(|| "1980-01-01".to_owned(), |d| d.to_string());
    emit(
        format,
        out.as_ref(),
        "ESF+ indicators",
        &created,
        || Ok(report.to_csv()),
        || report.to_json().map_err(report_error),
        vec![("Incomplete records", report.incomplete_rows())],
    )?;
    // The completeness rule names the incomplete records; JSON holds them, and beside a
    // table they are said on standard error, so that the CSV stays one table.
    if format != ReportFormat::Json {
        note_incomplete(&report.incomplete);
    }
    Ok(())
}

/// How many incomplete records the note on standard error names one by one; JSON and the
/// workbook name every one.
const NOTE_INCOMPLETE: usize = 50;

/// Says on standard error which records are incomplete and what they lack.
fn note_incomplete(incomplete: &[pbr_report::esf::Incomplete]) {
    if incomplete.is_empty() {
        return;
    }
    eprintln!(
        "note: {} participant record(s) lack a required attribute (the ESF+ completeness \
         rule); each counts as unknown in the indicators that need it:",
        incomplete.len()
    );
    for record in incomplete.iter().take(NOTE_INCOMPLETE) {
        eprintln!("  {}  lacks {}", record.short(), record.missing.join(", "));
    }
    if incomplete.len() > NOTE_INCOMPLETE {
        eprintln!(
            "  and {} more: --format json or xlsx names every one",
            incomplete.len() - NOTE_INCOMPLETE
        );
    }
}

/// Writes a report in `format`, to `out` or standard output. XLSX holds the CSV's cells in
/// its first sheet, then the `extra` sheets (name and rows), and goes to a file only.
fn emit(
    format: ReportFormat,
    out: Option<&(PathBuf, Existing)>,
    sheet: &str,
    created: &str,
    csv: impl FnOnce() -> Result<String>,
    json: impl FnOnce() -> Result<String>,
    extra: Vec<(&str, Vec<Vec<pbr_report::xlsx::Cell>>)>,
) -> Result<()> {
    let bytes = match format {
        ReportFormat::Csv => csv()?.into_bytes(),
        ReportFormat::Json => {
            let mut text = json()?;
            text.push('\n');
            text.into_bytes()
        }
        ReportFormat::Xlsx => {
            if out.is_none() {
                Cli::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--format xlsx writes a file: give --out FILE",
                    )
                    .exit();
            }
            let mut workbook =
                pbr_report::xlsx::Workbook::new(created).map_err(|e| input(e.to_string()))?;
            workbook
                .csv_sheet(sheet, &csv()?)
                .map_err(|e| input(e.to_string()))?;
            for (name, rows) in extra {
                workbook
                    .sheet(name, rows)
                    .map_err(|e| input(e.to_string()))?;
            }
            workbook.to_bytes().map_err(|e| input(e.to_string()))?
        }
    };
    write_report(out, &bytes)
}

/// Writes a report's bytes to `out`, whole or not at all (an existing file only with
/// `--force`), or to standard output.
fn write_report(out: Option<&(PathBuf, Existing)>, bytes: &[u8]) -> Result<()> {
    match out {
        None => out!("{}", String::from_utf8_lossy(bytes)),
        Some((path, existing)) => write_file(path, bytes, *existing)?,
    }
    Ok(())
}

/// Refuses an `--out` file that exists (without `--force`) before any work is done; the
/// write checks again.
fn refuse_existing(out: Option<&(PathBuf, Existing)>) -> Result<()> {
    match out {
        Some((path, existing)) => check_target(path, *existing),
        None => Ok(()),
    }
}

/// `pbr report indigo`: the INDIGO project JSON of one contract, from its terms and the
/// settlement engine's entitlement through `--through` (by default its final period).
pub(crate) fn indigo(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    through: Option<String>,
) -> Result<()> {
    let through = through
        .as_deref()
        .map(|text| {
            text.parse::<pbr_core::date::Period>()
                .map_err(|e| input(format!("--through: {}", e.reason)))
        })
        .transpose()?;
    let mut ledger = open(ledger_dir)?;
    let state = ledger.state()?;
    let contract = contract_of(state, contract)?;
    let project = pbr_report::indigo::export(state, &contract, through).map_err(report_error)?;
    outln!("{}", project.to_json().map_err(report_error)?);
    Ok(())
}

/// `pbr report budget`: one party's budget view of one contract, per year and budget line,
/// from the entitlement its issued statements settled and the money recorded outside them,
/// in the long layout or the wide one (years as columns).
#[allow(clippy::too_many_arguments)]
pub(crate) fn budget(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    party: String,
    year: Option<i32>,
    layout: BudgetLayout,
    format: Option<ReportFormat>,
    out: Option<(PathBuf, Existing)>,
    json: bool,
) -> Result<()> {
    let format = resolve_format(format, json);
    refuse_existing(out.as_ref())?;
    let mut ledger = open(ledger_dir)?;
    let state = ledger.state()?;
    let contract = contract_of(state, contract)?;
    let budget =
        pbr_report::budget::Budget::of(&contract, &state.contracts[&contract], &party, year)
            .map_err(report_error)?;
    // The workbook's time comes from the data: the end of the last year shown.
    let created = budget.years.last().map_or_else(
        || "1980-01-01".to_owned(),
        |y| format!("{:04}-12-31", y.year),
    );
    emit(
        format,
        out.as_ref(),
        "Budget",
        &created,
        || {
            match layout {
                BudgetLayout::Long => budget.to_csv(),
                BudgetLayout::Wide => budget.to_wide_csv(),
            }
            .map_err(report_error)
        },
        || {
            match layout {
                BudgetLayout::Long => budget.to_json(),
                BudgetLayout::Wide => budget.to_wide_json(),
            }
            .map_err(report_error)
        },
        Vec::new(),
    )
}

/// The usage error of a command line that asks for something its flags rule out.
/// The state of the first `len` events folded as an auditor folds them
/// ([`Ledger::audited_state_at`]: every issued statement recomputed from its contract's
/// first period), and the [`Trail`] of `contract` collected on the way: every event, each
/// statement of the contract as the replay recomputes it, then the events that the
/// contract's disputes and corrections refer to.
fn audited_replay(
    ledger: &Ledger,
    contract: &str,
    len: u64,
) -> Result<(State, Trail), LedgerError> {
    let mut state = State::default();
    let mut trail = Trail::new(contract);
    for entry in ledger.log().iter_from(0) {
        let (seq, bytes) = entry?;
        if seq >= len {
            break;
        }
        let record = pbr_log::Record::decode(&bytes)
            .map_err(|source| LedgerError::Log(LogError::BadRecord { seq, source }))?;
        let projection = |reason: String| LedgerError::Projection { seq, reason };
        let event = Event::decode(&record.event_bytes).map_err(|e| projection(e.reason))?;
        if let Payload::SettlementIssued(p) = &event.payload
            && event.contract == contract
            && let Ok(period) = p.period.parse::<Period>()
        {
            // As `State::apply_recomputing`: from the first period, not the carry. The
            // statement is computed once, here, and handed to `apply`; one that cannot be
            // computed is left to `apply`, which keeps why.
            if let Some(c) = state.contracts.get_mut(contract) {
                c.resume = None;
            }
            if let Ok((statement, entitlement)) =
                pbr_core::settle::settle(&state, contract, period, seq)
            {
                trail.statement(seq, &statement);
                state.prepare_issue(seq, contract, period, statement, entitlement);
            }
        }
        trail.push(seq, &event);
        state
            .apply_recomputing(seq, &event)
            .map_err(|e| projection(e.reason))?;
        state.forget_prepared();
    }
    for seq in trail.referenced() {
        // A seq the log cannot give is shown by number alone.
        if let Ok(event) = ledger.event_at(seq) {
            trail.describe(seq, &event);
        }
    }
    Ok((state, trail))
}

fn usage(kind: clap::error::ErrorKind, message: &str) -> ! {
    Cli::command().error(kind, message).exit()
}

/// `pbr report audit`: verifies the whole log, replays it from seq 0, and renders what an
/// auditor checks of one contract (`docs/reports.md`, "Audit report"). The report is
/// written whatever the audit finds, so that it shows the failure; a failure then ends the
/// command with exit code 5 (`VERIFY_FAILED`), so that a script notices.
pub(crate) fn audit(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    format: Option<AuditFormat>,
    out: Option<(PathBuf, Existing)>,
    keys: &[String],
    json: bool,
) -> Result<()> {
    let format = match (format, json) {
        (Some(AuditFormat::Html), true) => usage(
            clap::error::ErrorKind::ArgumentConflict,
            "--format html cannot be used with --json, which prints JSON",
        ),
        (Some(format), _) => format,
        (None, true) => AuditFormat::Json,
        (None, false) => AuditFormat::Html,
    };
    if format == AuditFormat::Xlsx && out.is_none() {
        usage(
            clap::error::ErrorKind::MissingRequiredArgument,
            "--format xlsx writes a file: give --out FILE",
        );
    }
    refuse_existing(out.as_ref())?;
    let trusted = parse_verifier_keys(keys)?;
    // The report verifies the log and shows a damaged one as failed.
    let mut ledger = crate::commands::open_to_verify(ledger_dir)?;
    let contract = contract_of(ledger.state()?, contract)?;
    let quorum = ledger
        .quorums()?
        .into_iter()
        .find(|q| q.contract == contract)
        .map(|q| q.log.into_iter().chain(q.signers).collect::<Vec<_>>());

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bar = progress(json, "verifying");
    let verified = ledger.verify(
        VerifyOptions {
            threads,
            incremental: false,
        },
        (!trusted.is_empty()).then_some(trusted.as_slice()),
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    // The verdict rests on the latest checkpoint, which must cover the whole log: the report
    // shows balances and charts of every event.
    let trust = match &verified {
        Ok(report) => Some(ledger.trust_check(
            report,
            Cover::Log {
                records: report.len,
            },
        )?),
        Err(_) => None,
    };
    let outcome = match &verified {
        Ok(report) => Ok(Verified {
            root: report.root,
            chain_head: report.chain_head,
        }),
        Err(LedgerError::Verify(failure)) => Err(VerifyFailure {
            first_bad_seq: failure.seq,
            reason: failure.reason.clone(),
        }),
        Err(other) => Err(VerifyFailure {
            first_bad_seq: None,
            reason: other.to_string(),
        }),
    };
    // A verification that passed read every stored checkpoint; one that failed says why,
    // and the report then lists the checkpoints it can still read, unverified.
    let stored = match ledger.log().checkpoints() {
        Ok(stored) => stored,
        Err(_) if verified.is_err() => Vec::new(),
        Err(error) => return Err(LedgerError::from(error).into()),
    };
    let trusted_witness_keys: Vec<pbr_log::VerifierKey> = if trusted.is_empty() {
        ledger.log().verifier_keys().unwrap_or_default()
    } else {
        trusted.clone()
    }
    .into_iter()
    .filter(pbr_log::VerifierKey::is_witness)
    .collect();
    let checkpoints = stored
        .iter()
        .map(|note| {
            let c = &note.checkpoint;
            let signed_by = verified.as_ref().ok().and_then(|report| {
                report
                    .checkpoints
                    .iter()
                    .find(|(size, _)| *size == c.size)
                    .map(|(_, signers)| signers.clone())
            });
            // A format-2 checkpoint carries no time; its witnesses' cosignatures do. The
            // latest of those the verification accepted is when the quorum last saw it.
            let time = trusted_witness_keys
                .iter()
                .filter(|key| {
                    // Only the contract's quorum says when the tree was seen.
                    let id = format!("{}+{}", key.name, pbr_log::hex::encode(&key.key_id));
                    quorum.as_ref().is_none_or(|quorum| quorum.contains(&id))
                })
                .filter_map(|key| note.cosignature_time(key).ok().flatten())
                .max();
            CheckpointInfo {
                size: c.size,
                time,
                root: c.root,
                signed_by,
            }
        })
        .collect();

    let mut command = format!(
        "pbr --ledger LEDGER report audit --contract {contract} --format {}",
        match format {
            AuditFormat::Html => "html",
            AuditFormat::Json => "json",
            AuditFormat::Xlsx => "xlsx --out FILE",
        }
    );
    for key in &trusted {
        command.push_str(&format!(" --key {key}"));
    }
    let input = AuditInput {
        origin: ledger.log().origin().to_owned(),
        contract,
        verification: Verification {
            records: ledger.log().len(),
            trust: if trusted.is_empty() {
                TrustBasis::Ledger
            } else {
                TrustBasis::Given(trusted.iter().map(ToString::to_string).collect())
            },
            outcome,
        },
        checkpoints,
        quorum,
        trust,
        command,
        made_by: format!("pbr {}", env!("CARGO_PKG_VERSION")),
    };
    // The auditor's recomputation: a replay of every event from seq 0, not the projections,
    // each statement recomputed from the contract's first period.
    let contract = input.contract.clone();
    let replay = audited_replay(&ledger, &contract, ledger.log().len()).map_err(|e| e.to_string());
    let report = AuditReport::build(
        input,
        replay
            .as_ref()
            .map(|(state, trail)| (state, trail))
            .map_err(Clone::clone),
    );
    let bytes = match format {
        AuditFormat::Html => report.to_html().into_bytes(),
        AuditFormat::Json => {
            let mut text = report.to_json().map_err(report_error)?;
            text.push('\n');
            text.into_bytes()
        }
        AuditFormat::Xlsx => report.to_xlsx().map_err(report_error)?,
    };
    write_report(out.as_ref(), &bytes)?;
    if !report.ok() {
        return Err(LedgerError::Mismatch(format!(
            "the audit failed (the report shows it): {}",
            report.failures().join("; ")
        ))
        .into());
    }
    Ok(())
}
