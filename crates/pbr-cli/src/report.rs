//! The report commands: `report esf`, `report indigo`, `report budget` (`docs/reports.md`).
//!
//! The ledger gives the state (for the contract list and the retracted seqs) and streams the
//! log; `pbr-report` folds the events into micro-records and renders the table.

use std::path::PathBuf;

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
fn contract_of(state: &State, contract: Option<String>) -> Result<String> {
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

/// `pbr report esf`: the ESF+ common indicators of one contract's participants.
pub(crate) fn esf(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    operation: Option<String>,
    period: Option<String>,
    format: Option<ReportFormat>,
    json: bool,
) -> Result<()> {
    let format = match (format, json) {
        (Some(ReportFormat::Csv), true) => Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--format csv cannot be used with --json, which prints JSON",
            )
            .exit(),
        (Some(format), _) => format,
        (None, true) => ReportFormat::Json,
        (None, false) => ReportFormat::Csv,
    };
    let period = period
        .as_deref()
        .map(DateRange::parse)
        .transpose()
        .map_err(report_error)?;
    let mut ledger = open(ledger_dir)?;
    let state = ledger.state()?;
    let contract = contract_of(state, contract)?;
    let mut records = Records::new(contract.clone(), state.retracted.clone());
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
        records.push(seq, &event);
    }
    let report = records.report(operation.as_deref().unwrap_or(&contract), period);
    match format {
        ReportFormat::Csv => out!("{}", report.to_csv()),
        ReportFormat::Json => outln!("{}", report.to_json().map_err(report_error)?),
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
    json: bool,
) -> Result<()> {
    let format = match (format, json) {
        (Some(ReportFormat::Csv), true) => Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--format csv cannot be used with --json, which prints JSON",
            )
            .exit(),
        (Some(format), _) => format,
        (None, true) => ReportFormat::Json,
        (None, false) => ReportFormat::Csv,
    };
    let mut ledger = open(ledger_dir)?;
    let state = ledger.state()?;
    let contract = contract_of(state, contract)?;
    let budget =
        pbr_report::budget::Budget::of(&contract, &state.contracts[&contract], &party, year)
            .map_err(report_error)?;
    match format {
        ReportFormat::Csv => out!("{}", budget.to_csv().map_err(report_error)?),
        ReportFormat::Json => outln!("{}", budget.to_json().map_err(report_error)?),
    }
    Ok(())
}
