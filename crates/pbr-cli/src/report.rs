//! The report commands: `report esf`, `report indigo`, `report budget` (`docs/reports.md`).
//!
//! The ledger gives the state (for the contract list and the retracted seqs) and streams the
//! log; `pbr-report` folds the events into micro-records and renders the table.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::CommandFactory;
use pbr_core::event::Event;
use pbr_core::state::State;
use pbr_ledger::{LedgerError, LogError};
use pbr_report::esf::Records;
use pbr_report::{DateRange, ReportError};

use crate::cli::{Cli, ReportFormat};
use crate::commands::{input, open};
use crate::output::{out, outln};

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
    out: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let format = resolve_format(format, json);
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
        out.as_deref(),
        "ESF+ indicators",
        &created,
        || Ok(report.to_csv()),
        || report.to_json().map_err(report_error),
    )
}

/// Writes a report in `format`, to `out` or standard output. XLSX holds the CSV's cells in
/// one sheet, and goes to a file only.
fn emit(
    format: ReportFormat,
    out: Option<&Path>,
    sheet: &str,
    created: &str,
    csv: impl FnOnce() -> Result<String>,
    json: impl FnOnce() -> Result<String>,
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
            workbook.to_bytes().map_err(|e| input(e.to_string()))?
        }
    };
    match out {
        None => out!("{}", String::from_utf8_lossy(&bytes)),
        Some(path) => {
            let mut file = std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| input(format!("{}: {e}", path.display())))?;
            std::io::Write::write_all(&mut file, &bytes)
                .and_then(|()| file.sync_all())
                .map_err(|e| input(format!("{}: {e}", path.display())))?;
        }
    }
    Ok(())
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
/// from the entitlement its issued statements settled and the money recorded outside them.
pub(crate) fn budget(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    party: String,
    year: Option<i32>,
    format: Option<ReportFormat>,
    out: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let format = resolve_format(format, json);
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
        out.as_deref(),
        "Budget",
        &created,
        || budget.to_csv().map_err(report_error),
        || budget.to_json().map_err(report_error),
    )
}
