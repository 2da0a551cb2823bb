//! Full verification: `Log::verify` on 2 threads against BLAKE3 plus Ed25519 alone, and the
//! peak memory of a verification at two log lengths.
//!
//! Each verification runs in a fresh child process (this binary, `verify-child`), so its peak
//! RSS is its own and not the high-water mark of the ledgers built here. The raw limit is the
//! work no verifier can skip, on the same records in memory: the BLAKE3 leaf hash of every
//! record's bytes and one `verify_strict` per record, split over 2 threads, with the two
//! public keys decoded once.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ed25519_dalek::{Signature, VerifyingKey};
use pbr_log::{Log, Record, VerifyOptions};
use serde_json::{Value, json};

use crate::BenchResult;
use crate::data::{self, THREADS};
use crate::memory;
use crate::report::{Report, Throughput};

/// Records per append while building the ledgers.
const BUILD_BATCH: usize = 10_000;
/// Full verification reaches at least 80 % of the raw limit.
const TARGET_RATIO: f64 = 0.8;

/// What a child process measured.
struct ChildRun {
    records: u64,
    seconds: f64,
    rss_open_kib: u64,
    peak_kib: u64,
    peak_reset: bool,
}

pub(crate) fn run(
    report: &mut Report,
    base: &Path,
    pool: &[Record],
    events: usize,
) -> BenchResult<()> {
    report.section(
        "verify: Log::verify (2 threads) vs SHA-256 leaf + node and verify_strict (2 threads)",
    );
    if pool.len() < events {
        return Err(format!("the record pool holds {} records, not {events}", pool.len()).into());
    }
    let dir = tempfile::tempdir_in(base)?;
    let sizes = [events / 4, events];
    let mut runs = Vec::new();
    // The smaller ledger first: were peaks cumulative, the larger one would still show.
    for size in sizes {
        let ledger = dir.path().join(format!("ledger-{size}"));
        report.progress(&format!("verify: building a ledger of {size} records"));
        let build_seconds = build(&ledger, &pool[..size])?;
        report.progress(&format!("verify: built in {build_seconds:.1} s; verifying"));
        runs.push(run_child(&ledger)?);
    }
    let largest = runs.last().ok_or("no verify run")?;
    report.progress("verify: raw limit");
    let raw = raw_rate(&pool[..events])?;
    report.throughput(&Throughput {
        key: "verify_threads_2",
        name: &format!("verify, {events} records, {THREADS} threads"),
        ours: largest.records as f64 / largest.seconds,
        raw,
        unit: "rec/s",
        min_ratio: Some(TARGET_RATIO),
    });
    report_memory(report, &runs);
    Ok(())
}

/// Builds a ledger of `records` in batches; returns the seconds taken.
fn build(ledger: &Path, records: &[Record]) -> BenchResult<f64> {
    let start = Instant::now();
    let mut log = Log::create(ledger, "bench")?;
    for chunk in records.chunks(BUILD_BATCH) {
        log.append(chunk)?;
    }
    Ok(start.elapsed().as_secs_f64())
}

fn report_memory(report: &mut Report, runs: &[ChildRun]) {
    for run in runs {
        report.context(
            &format!("verify_{}_rss_after_open_mib", run.records),
            &format!("verify {} records: RSS after open", run.records),
            memory::mib(run.rss_open_kib),
            "MiB",
        );
        report.context(
            &format!("verify_{}_peak_above_open_mib", run.records),
            &format!("verify {} records: peak RSS above that", run.records),
            memory::mib(run.peak_kib.saturating_sub(run.rss_open_kib)),
            "MiB",
        );
    }
    if let [small, large] = runs {
        let growth = large.peak_kib.saturating_sub(large.rss_open_kib) as f64
            / small.peak_kib.saturating_sub(small.rss_open_kib).max(1) as f64;
        report.context(
            "verify_peak_growth",
            &format!(
                "verify peak growth for {}x the records",
                large.records / small.records.max(1)
            ),
            growth,
            "x",
        );
    }
    report.note(
        "each size verified in a fresh process: RSS after Log::open, then its peak above that \
         during Log::verify",
    );
    if runs.iter().any(|run| !run.peak_reset) {
        report.note("could not reset VmHWM in the child: its peak includes opening the ledger");
    }
}

/// Runs `verify-child` on `ledger` in a fresh process and reads what it measured.
fn run_child(ledger: &Path) -> BenchResult<ChildRun> {
    let output = Command::new(std::env::current_exe()?)
        .arg("verify-child")
        .arg("--ledger")
        .arg(ledger)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "verify-child failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let value: Value = serde_json::from_slice(&output.stdout)?;
    let number = |key: &str| {
        value[key]
            .as_u64()
            .ok_or(format!("verify-child sent no {key}"))
    };
    Ok(ChildRun {
        records: number("records")?,
        seconds: value["seconds"]
            .as_f64()
            .ok_or("verify-child sent no seconds")?,
        rss_open_kib: number("rss_open_kib")?,
        peak_kib: number("peak_kib")?,
        peak_reset: value["peak_reset"].as_bool().unwrap_or(false),
    })
}

/// The child side: opens `ledger`, resets the peak, verifies, prints one JSON line.
pub(crate) fn child(ledger: &Path) -> BenchResult<()> {
    let log = Log::open(ledger)?;
    let peak_reset = memory::reset_peak();
    let rss_open_kib = memory::current_kib().ok_or("no VmRSS in /proc/self/status")?;
    let start = Instant::now();
    let options = VerifyOptions {
        threads: THREADS,
        incremental: false,
    };
    let verified = log.verify(options, None, |_, _| {})?;
    let seconds = start.elapsed().as_secs_f64();
    let peak_kib = memory::peak_kib().ok_or("no VmHWM in /proc/self/status")?;
    let line = json!({
        "records": verified.len,
        "seconds": seconds,
        "rss_open_kib": rss_open_kib,
        "peak_kib": peak_kib,
        "peak_reset": peak_reset,
    });
    println!("{line}");
    Ok(())
}

/// Records per second of SHA-256 leaf and node hash + `verify_strict` on [`THREADS`]
/// threads, in memory.
fn raw_rate(records: &[Record]) -> BenchResult<f64> {
    let encoded = data::encode_all(records);
    let keys: Vec<([u8; 32], VerifyingKey)> = data::signing_keys()
        .iter()
        .map(|key| (key.verifying_key().to_bytes(), key.verifying_key()))
        .collect();
    let items: Vec<(&Record, &Vec<u8>)> = records.iter().zip(&encoded).collect();
    let start = Instant::now();
    let failures: usize = data::parallel_chunks(&items, |part| {
        let mut message = Vec::new();
        part.iter()
            .filter(|(record, bytes)| !raw_check(record, bytes, &keys, &mut message))
            .count()
    })
    .into_iter()
    .sum();
    let elapsed = start.elapsed();
    if failures > 0 {
        return Err(format!("{failures} records failed the raw check").into());
    }
    Ok(records.len() as f64 / elapsed.as_secs_f64())
}

/// The irreducible per-record work of a verifier; `message` is a reused buffer.
fn raw_check(
    record: &Record,
    bytes: &[u8],
    keys: &[([u8; 32], VerifyingKey)],
    message: &mut Vec<u8>,
) -> bool {
    // The RFC 6962 leaf hash and, amortised, one interior node (n − 1 for n leaves).
    let leaf = pbr_log::hash::leaf_hash(bytes);
    std::hint::black_box(pbr_log::hash::node_hash(&leaf, &leaf));
    let Some((_, key)) = keys.iter().find(|(public, _)| *public == record.public_key) else {
        return false;
    };
    message.clear();
    message.extend_from_slice(pbr_log::record::EVENT_SIGNING_CONTEXT);
    message.extend_from_slice(&record.event_bytes);
    key.verify_strict(message, &Signature::from_bytes(&record.signature))
        .is_ok()
}
