//! Settlement at scale: settle one quarter and compute the balances of a contract with N
//! participants and a monthly status for each of them over Y years (100,000 × 3 years ≈
//! 3.6 M events by default), warm from the durable projections and cold from the log, beside
//! the raw limit of reading the same log.
//!
//! The ledger comes from [`crate::synth`] (deterministic; built through `Ledger::append`,
//! with the statement of every quarter before the settled one issued through `Ledger::issue`
//! as it closes, or of the first `--issued Q`). Building it is timed for information only.
//! Each measurement then runs in a fresh child process (this binary, `settle-warm` or
//! `settle-cold`), so that its time and peak memory are its own and not the generator's:
//!
//! - warm: `Ledger::open`, then `Ledger::settle` of the last quarter in which every
//!   participant has all three months (2026-Q4 for 3 years) and `Ledger::balances(contract,
//!   At::Head, None)`; the state comes from the saved snapshot. Target: under 1 s, open
//!   included. It runs twice: the first open after a process wrote the ledger also replays
//!   sled's own log since sled's last snapshot; the second is the steady state.
//! - cold: `Ledger::open`, `Ledger::rebuild_projections` (drops both projections, folds
//!   every event again and saves the snapshot; the client-id index, which only appends use,
//!   is rebuilt by the next append), then the same settle and balances. Target: under 30 s. Its peak RSS (VmHWM, which includes what the
//!   open left resident) is the memory target: under 2 GiB.
//! - replay rate: events / the time of `rebuild_projections`, beside the raw limit measured
//!   in the same child right after: a scan of the same log that reads every record from sled
//!   (`Log::iter_from(0)`) and decodes the record and its event, and nothing else. No target
//!   is set for the ratio; it says how much of the replay is the fold and the projections'
//!   writes rather than reading the log. A fold alone (`Ledger::state_at(len)`, no writes) is
//!   timed too, for information, and so is rebuilding the id index (`Ledger::rebuild_index`),
//!   which the first append after a cold start pays.
//!
//! Warm and cold must give the same statement (same hash); the run fails otherwise. The log
//! was just written, so its files are in the OS page cache in both paths: neither figure
//! includes reading the disk. Not part of `all` (minutes of generation, about 4 GB of disk at
//! the default size). `--ledger DIR` builds the ledger in DIR and keeps it, or reuses it if it
//! is there, so the measurements can be repeated without generating again.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use pbr_core::date::Period;
use pbr_core::event::Event;
use pbr_ledger::{At, Ledger};
use serde_json::{Value, json};

use crate::BenchResult;
use crate::memory;
use crate::report::{Bound, Report, Throughput};
use crate::synth::{self, Shape};

const WARM_MAX_S: f64 = 1.0;
const COLD_MAX_S: f64 = 30.0;
const COLD_MAX_PEAK_MIB: f64 = 2048.0;

/// Which child.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    Warm,
    Cold,
}

impl Mode {
    fn arg(self) -> &'static str {
        match self {
            Mode::Warm => "settle-warm",
            Mode::Cold => "settle-cold",
        }
    }
}

pub(crate) fn run(
    report: &mut Report,
    base: &Path,
    shape: Shape,
    keep: Option<&Path>,
) -> BenchResult<()> {
    let period = shape.settled_quarter();
    report.section(&format!(
        "settle: {} participants × {} years, {} statements issued; settle {period} + balances",
        shape.participants, shape.years, shape.issued
    ));
    let temp = tempfile::tempdir_in(base)?;
    let ledger = match keep {
        Some(dir) => dir.to_owned(),
        None => temp.path().join("ledger"),
    };
    if ledger.exists() {
        report.progress(&format!(
            "settle: reusing the ledger in {}",
            ledger.display()
        ));
        let len = Ledger::open(&ledger)?.log().len();
        if len != shape.events() {
            return Err(format!(
                "{} holds {len} events, not the {} of {} participants × {} years",
                ledger.display(),
                shape.events(),
                shape.participants,
                shape.years
            )
            .into());
        }
        report.detail(
            "settle_ledger",
            "ledger (reused, not generated in this run)",
            &ledger.display().to_string(),
        );
    } else {
        report.progress(&format!(
            "settle: generating {} events into {}",
            shape.events(),
            ledger.display()
        ));
        let start = Instant::now();
        let built = synth::build(report, &ledger, shape)?;
        let seconds = start.elapsed().as_secs_f64();
        report_build(report, &built, seconds);
    }
    report.context(
        "settle_ledger_disk_mb",
        "ledger size on disk",
        dir_bytes(&ledger)? as f64 / 1e6,
        "MB",
    );
    report.progress("settle: warm (fresh process)");
    let first = run_child(Mode::Warm, &ledger, shape)?;
    report.progress("settle: warm again (fresh process)");
    let warm = run_child(Mode::Warm, &ledger, shape)?;
    report.progress("settle: cold (fresh process)");
    let cold = run_child(Mode::Cold, &ledger, shape)?;
    for run in [&first, &cold] {
        if run["hash"] != warm["hash"] || run["lines"] != warm["lines"] {
            return Err(format!(
                "the statements differ: {} lines {} against {} lines {}",
                run["lines"], run["hash"], warm["lines"], warm["hash"]
            )
            .into());
        }
    }
    let events = number(&cold, "events")?;
    let part = |run: &Value, key: &str| number(run, key);

    report.bound(&Bound {
        key: "settle_warm_first_s",
        name: "warm, 1st open after writing: open+settle+bal.",
        value: part(&first, "total_s")?,
        unit: "s",
        max: WARM_MAX_S,
    });
    report.context(
        "settle_warm_first_open_s",
        "  of which Ledger::open",
        part(&first, "open_s")? * 1000.0,
        "ms",
    );
    report.bound(&Bound {
        key: "settle_warm_s",
        name: &format!("warm: open + settle {period} + balances"),
        value: part(&warm, "total_s")?,
        unit: "s",
        max: WARM_MAX_S,
    });
    for (key, label) in [
        ("open_s", "Ledger::open"),
        ("load_s", "load the state snapshot"),
        ("settle_s", "settle"),
        ("balances_s", "balances"),
    ] {
        report.context(
            &format!("settle_warm_{key}"),
            &format!("  warm: {label}"),
            part(&warm, key)? * 1000.0,
            "ms",
        );
    }
    report.bound(&Bound {
        key: "settle_cold_s",
        name: &format!("cold: open + rebuild + settle {period} + bal."),
        value: part(&cold, "total_s")?,
        unit: "s",
        max: COLD_MAX_S,
    });
    for (key, label) in [
        ("open_s", "Ledger::open"),
        ("replay_s", "rebuild_projections"),
        ("settle_s", "settle"),
        ("balances_s", "balances"),
    ] {
        report.context(
            &format!("settle_cold_{key}"),
            &format!("  cold: {label}"),
            part(&cold, key)?,
            "s",
        );
    }
    let raw_rate = events / part(&cold, "raw_s")?;
    report.throughput(&Throughput {
        key: "settle_replay",
        name: &format!("replay (rebuild_projections), {events} events"),
        ours: events / part(&cold, "replay_s")?,
        raw: raw_rate,
        unit: "ev/s",
        min_ratio: None,
    });
    report.throughput(&Throughput {
        key: "settle_fold",
        name: "fold only (state_at(len), no writes)",
        ours: events / part(&cold, "fold_s")?,
        raw: raw_rate,
        unit: "ev/s",
        min_ratio: None,
    });
    report.context(
        "settle_index_s",
        "rebuild the id index (the next append's, not cold's)",
        part(&cold, "index_s")?,
        "s",
    );
    report.context(
        "settle_raw_mb_per_s",
        "raw: sled scan + record and event decode",
        part(&cold, "raw_bytes")? / part(&cold, "raw_s")? / 1e6,
        "MB/s",
    );
    report.bound(&Bound {
        key: "settle_cold_peak_rss_mib",
        name: "cold: peak RSS of the process",
        value: memory::mib(part(&cold, "peak_kib")? as u64),
        unit: "MiB",
        max: COLD_MAX_PEAK_MIB,
    });
    report.context(
        "settle_cold_rss_after_open_mib",
        "  cold: RSS after open",
        memory::mib(part(&cold, "rss_open_kib")? as u64),
        "MiB",
    );
    report.context(
        "settle_cold_rss_state_mib",
        "  cold: RSS with the state rebuilt",
        memory::mib(part(&cold, "rss_state_kib")? as u64),
        "MiB",
    );
    report.context(
        "settle_warm_peak_rss_mib",
        "warm: peak RSS of the process",
        memory::mib(part(&warm, "peak_kib")? as u64),
        "MiB",
    );
    report.context(
        "settle_warm_rss_state_mib",
        "  warm: RSS with the state loaded",
        memory::mib(part(&warm, "rss_state_kib")? as u64),
        "MiB",
    );
    report.context(
        "settle_snapshot_mb",
        "state snapshot (bincode)",
        part(&warm, "snapshot_bytes")? / 1e6,
        "MB",
    );
    report.context(
        "settle_statement_lines",
        &format!("statement {period}: lines"),
        part(&warm, "lines")?,
        "lines",
    );
    report.detail(
        "settle_statement_hash",
        &format!("statement {period}: hash (warm = cold)"),
        warm["hash"].as_str().unwrap_or("?"),
    );
    if let Some(rows) = warm["balances"].as_array() {
        for row in rows {
            let party = row["party"].as_str().unwrap_or("?");
            report.detail(
                &format!("settle_balance_{party}"),
                &format!("balance {party}: accrued / net"),
                &format!(
                    "{} / {}",
                    row["accrued"].as_str().unwrap_or("?"),
                    row["net"].as_str().unwrap_or("?")
                ),
            );
        }
    }
    report.note(
        "warm and cold each run in a fresh process; the log's files are in the OS page cache \
         (just written or just read), so neither includes reading the disk",
    );
    report.note(
        "the 1st warm open after a process wrote the ledger replays sled's log since its last \
         snapshot; the 2nd warm run is the steady state, and its parts are shown",
    );
    report.note(
        "cold = the state rebuilt from `events` alone: every event decoded and folded, the \
         snapshot saved (the client-id index is the next append's to rebuild, timed apart); \
         raw = the same scan and decode with nothing done with the events",
    );
    report.note(
        "the peak RSS of this process below is the generator's; warm and cold ran in children",
    );
    if !(warm["peak_reset"].as_bool().unwrap_or(false)
        && cold["peak_reset"].as_bool().unwrap_or(false))
    {
        report.note("could not reset VmHWM in a child: its peak includes opening the ledger");
    }
    drop(temp);
    Ok(())
}

fn report_build(report: &mut Report, built: &synth::Built, seconds: f64) {
    report.context(
        "settle_events",
        "events generated",
        built.events as f64,
        "events",
    );
    report.context("settle_generate_s", "generation wall time", seconds, "s");
    report.context(
        "settle_append_ev_per_s",
        "  Ledger::append rate",
        built.events as f64 / built.append.as_secs_f64(),
        "ev/s",
    );
    report.context(
        "settle_issue_s",
        &format!("  Ledger::issue, {} statements", built.issued.len()),
        built.issue.as_secs_f64(),
        "s",
    );
    for (period, lines, took) in &built.issued {
        report.context(
            &format!("settle_issue_{period}_s"),
            &format!("    issue {period} ({lines} lines)"),
            took.as_secs_f64(),
            "s",
        );
    }
}

fn number(value: &Value, key: &str) -> BenchResult<f64> {
    value[key]
        .as_f64()
        .ok_or_else(|| format!("the settle child sent no {key}").into())
}

/// The bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> BenchResult<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += dir_bytes(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Runs `mode` on `ledger` in a fresh process and reads what it measured.
fn run_child(mode: Mode, ledger: &Path, shape: Shape) -> BenchResult<Value> {
    let output = Command::new(std::env::current_exe()?)
        .arg(mode.arg())
        .arg("--ledger")
        .arg(ledger)
        .arg("--participants")
        .arg(shape.participants.to_string())
        .arg("--years")
        .arg(shape.years.to_string())
        .arg("--issued")
        .arg(shape.issued.to_string())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            mode.arg(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The child side: measures `mode` on `ledger` and prints one JSON line.
pub(crate) fn child(mode: Mode, ledger: &Path, shape: Shape) -> BenchResult<()> {
    let period = shape.settled_quarter();
    let start = Instant::now();
    let mut opened = Ledger::open(ledger)?;
    let open_s = start.elapsed().as_secs_f64();
    let peak_reset = memory::reset_peak();
    let rss_open_kib = memory::current_kib().ok_or("no VmRSS in /proc/self/status")?;
    let mut line = json!({
        "open_s": open_s,
        "rss_open_kib": rss_open_kib,
        "peak_reset": peak_reset,
        "events": opened.log().len(),
    });
    let prepare = Instant::now();
    match mode {
        Mode::Warm => {
            let applied = opened.state()?.applied;
            if applied != opened.log().len() {
                return Err(format!(
                    "the snapshot was behind the log ({applied} of {} events): not warm",
                    opened.log().len()
                )
                .into());
            }
            line["load_s"] = json!(prepare.elapsed().as_secs_f64());
        }
        Mode::Cold => {
            opened.rebuild_projections()?;
            line["replay_s"] = json!(prepare.elapsed().as_secs_f64());
        }
    }
    line["rss_state_kib"] = json!(memory::current_kib().ok_or("no VmRSS in /proc/self/status")?);
    settle_and_balances(&mut opened, period, &mut line)?;
    line["total_s"] = json!(start.elapsed().as_secs_f64());
    line["peak_kib"] = json!(memory::peak_kib().ok_or("no VmHWM in /proc/self/status")?);
    match mode {
        Mode::Warm => {
            line["snapshot_bytes"] = json!(opened.snapshot_len()?);
        }
        Mode::Cold => {
            let len = opened.log().len();
            let fold = Instant::now();
            let state = opened.state_at(len)?;
            line["fold_s"] = json!(fold.elapsed().as_secs_f64());
            drop(state);
            let (raw_s, raw_bytes) = raw_scan(&opened)?;
            line["raw_s"] = json!(raw_s);
            line["raw_bytes"] = json!(raw_bytes);
            let index = Instant::now();
            opened.rebuild_index()?;
            line["index_s"] = json!(index.elapsed().as_secs_f64());
        }
    }
    println!("{line}");
    Ok(())
}

/// Settles `period` and computes the balances, timing each; adds the times and what the
/// parent checks and prints to `line`.
fn settle_and_balances(ledger: &mut Ledger, period: Period, line: &mut Value) -> BenchResult<()> {
    let start = Instant::now();
    let statement = ledger.settle(synth::CONTRACT, period)?;
    line["settle_s"] = json!(start.elapsed().as_secs_f64());
    let start = Instant::now();
    let (_, rows) = ledger.balances(synth::CONTRACT, At::Head, None)?;
    line["balances_s"] = json!(start.elapsed().as_secs_f64());
    line["balances"] = rows
        .iter()
        .map(|row| {
            json!({
                "party": row.party,
                "accrued": row.accrued.to_decimal().to_string(),
                "net": row.net.to_decimal().to_string(),
            })
        })
        .collect();
    line["lines"] = json!(statement.lines.len());
    line["hash"] = json!(pbr_core::ids::hex(&statement.hash));
    Ok(())
}

/// The raw limit: every record read from sled, the record and its event decoded, nothing
/// else. Returns the seconds and the record bytes read.
fn raw_scan(ledger: &Ledger) -> BenchResult<(f64, u64)> {
    let start = Instant::now();
    let mut bytes = 0u64;
    for entry in ledger.log().iter_from(0) {
        let (seq, value) = entry?;
        bytes += value.len() as u64;
        let record = pbr_log::Record::decode(&value)
            .map_err(|e| format!("seq {seq}: the record does not decode: {e}"))?;
        let event = Event::decode(&record.event_bytes)
            .map_err(|e| format!("seq {seq}: the event does not decode: {}", e.reason))?;
        std::hint::black_box(event);
    }
    Ok((start.elapsed().as_secs_f64(), bytes))
}
