//! Proof latency on a large log: inclusion and consistency paths (and the full JSON proofs
//! against a stored checkpoint) from `Log`, against the same paths from an in-memory tree of
//! every complete subtree, the floor that no storage can beat.
//!
//! The ledger is reopened before measuring, as `pbr proof` would open it, and each proof is
//! timed on its own, for pseudo-random seqs and sizes from a fixed seed.

use std::path::Path;
use std::time::{Duration, Instant};

use pbr_log::hash::leaf_hash;
use pbr_log::merkle::{self, MemoryTree};
use pbr_log::{Log, SignedCheckpoint, SignerKey};

use crate::BenchResult;
use crate::data::{self, SplitMix64};
use crate::report::{Latency, LatencyFigure, Report, Throughput};

/// Records per append while building; small events keep a 1M-record build to about a minute.
const BUILD_BATCH: u64 = 10_000;
const EVENT_LEN: usize = 50;
const RECORD_SEED: u64 = 0x7072_6f6f_662d_6576;
const SAMPLE_SEED: u64 = 0x7072_6f6f_662d_7371;
const CHECKPOINT_SEED: [u8; 32] = [0x33; 32];
const SAMPLES: usize = 1_000;
const TARGET_P99_US: f64 = 5_000.0;

/// Where building the ledger spent its time.
#[derive(Default)]
struct BuildTimes {
    signing: Duration,
    appending: Duration,
}

pub(crate) fn run(report: &mut Report, base: &Path, total: u64) -> BenchResult<()> {
    report.section("proof: Log proofs vs the same paths from an in-memory tree");
    let dir = tempfile::tempdir_in(base)?;
    let ledger = dir.path().join("ledger");
    let (tree, times) = build(report, &ledger, total)?;
    report.context(
        "proof_build_sign_s",
        &format!("build {total} records: signing ({} threads)", data::THREADS),
        times.signing.as_secs_f64(),
        "s",
    );
    report.context(
        "proof_build_append_s",
        &format!("build {total} records: Log::append, batch {BUILD_BATCH}"),
        times.appending.as_secs_f64(),
        "s",
    );
    // As `pbr proof` does: open the ledger, then prove, with nothing of it cached yet.
    let start = Instant::now();
    let log = Log::open(&ledger)?;
    report.context(
        "proof_open_ms",
        &format!("Log::open of {total} records"),
        start.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    let start = Instant::now();
    log.inclusion_proof(total / 2, None)?;
    report.context(
        "proof_first_inclusion_proof_ms",
        "first Log::inclusion_proof after open (cold)",
        start.elapsed().as_secs_f64() * 1e3,
        "ms",
    );
    measure(report, &log, &tree)?;
    tiles(report, &log, dir.path())?;
    Ok(())
}

/// `pbr export --tiles` of the whole log against writing the same bytes as the same number of
/// files, each created, written, synced and renamed into place, one after the other: the raw
/// limit of any static tile tree that is whole or absent file by file.
fn tiles(report: &mut Report, log: &Log, base: &Path) -> BenchResult<()> {
    report.progress("proof: exporting tiles");
    let note = log
        .latest_checkpoint()?
        .ok_or("the bench ledger has no checkpoint")?;
    let out = base.join("tiles");
    let start = Instant::now();
    let summary = log.write_tiles(&out, note.checkpoint.size, &note.to_text())?;
    let ours = start.elapsed();
    // The same files' sizes, read back, written again as plain files.
    let mut sizes = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                sizes.push(entry.metadata()?.len() as usize);
            }
        }
    }
    let bytes: u64 = sizes.iter().map(|&n| n as u64).sum();
    let raw_dir = base.join("raw-files");
    std::fs::create_dir(&raw_dir)?;
    let filler = vec![0x5a_u8; sizes.iter().copied().max().unwrap_or(0)];
    let start = Instant::now();
    for (n, &len) in sizes.iter().enumerate() {
        use std::io::Write as _;
        let temporary = raw_dir.join(format!("{n}.tmp"));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&filler[..len])?;
        file.sync_all()?;
        std::fs::rename(&temporary, raw_dir.join(n.to_string()))?;
    }
    let raw = start.elapsed();
    let mb = bytes as f64 / 1e6;
    report.context(
        "tiles_files",
        &format!("tile export: files ({} written)", summary.written),
        sizes.len() as f64,
        "files",
    );
    report.throughput(&Throughput {
        key: "tiles_export",
        name: "Log::write_tiles of the whole log",
        ours: mb / ours.as_secs_f64(),
        raw: mb / raw.as_secs_f64(),
        unit: "MB/s",
        min_ratio: None,
    });
    Ok(())
}

/// Builds the ledger and, outside the timings, the same tree in memory.
fn build(report: &Report, ledger: &Path, total: u64) -> BenchResult<(MemoryTree, BuildTimes)> {
    let mut log = Log::create(ledger, "bench")?;
    let mut tree = MemoryTree::new();
    let mut times = BuildTimes::default();
    for first in (0..total).step_by(BUILD_BATCH as usize) {
        let end = (first + BUILD_BATCH).min(total);
        let start = Instant::now();
        let records = data::signed_records(RECORD_SEED, first..end, EVENT_LEN);
        times.signing += start.elapsed();
        let start = Instant::now();
        log.append(&records)?;
        times.appending += start.elapsed();
        for bytes in data::encode_all(&records) {
            tree.push(leaf_hash(&bytes));
        }
        if end % (total / 10).max(1) < BUILD_BATCH {
            report.progress(&format!("proof: built {end} of {total} records"));
        }
    }
    if tree.root() != log.root() {
        return Err("the in-memory tree and the log disagree on the root".into());
    }
    store_checkpoint(&mut log)?;
    Ok((tree, times))
}

fn store_checkpoint(log: &mut Log) -> BenchResult<()> {
    let key = SignerKey::from_seed(log.origin(), CHECKPOINT_SEED)?;
    let note = SignedCheckpoint::sign(log.checkpoint_body()?, &key)?;
    log.store_checkpoint(&note)?;
    Ok(())
}

fn measure(report: &mut Report, log: &Log, tree: &MemoryTree) -> BenchResult<()> {
    let size = log.len();
    let mut rng = SplitMix64::new(SAMPLE_SEED);
    let seqs: Vec<u64> = (0..SAMPLES).map(|_| rng.below(size)).collect();
    let firsts: Vec<u64> = (0..SAMPLES).map(|_| 1 + rng.below(size)).collect();
    // One untimed pass, so that every figure below is a warm-cache figure and none of them
    // depends on the order they are measured in.
    for (&seq, &first) in seqs.iter().zip(&firsts) {
        log.inclusion_proof(seq, None)?;
        log.consistency_proof(first, None)?;
    }

    let (raw, raw_paths) = time_each(&seqs, |seq| merkle::inclusion_proof(tree, seq, size))?;
    let (ours, paths) = time_each(&seqs, |seq| log.inclusion_path(seq, size))?;
    same(&paths, &raw_paths, "inclusion path")?;
    latency(
        report,
        "proof_inclusion_path",
        "Log::inclusion_path",
        ours,
        raw,
    );
    let (ours, proofs) = time_each(&seqs, |seq| log.inclusion_proof(seq, None))?;
    let paths: Vec<_> = proofs.into_iter().map(|proof| proof.path).collect();
    same(&paths, &raw_paths, "inclusion proof")?;
    latency(
        report,
        "proof_inclusion_proof",
        "Log::inclusion_proof (JSON form)",
        ours,
        raw,
    );

    let (raw, raw_paths) = time_each(&firsts, |first| {
        merkle::consistency_proof(tree, first, size)
    })?;
    let (ours, paths) = time_each(&firsts, |first| log.consistency_path(first, size))?;
    same(&paths, &raw_paths, "consistency path")?;
    latency(
        report,
        "proof_consistency_path",
        "Log::consistency_path",
        ours,
        raw,
    );
    let (ours, proofs) = time_each(&firsts, |first| log.consistency_proof(first, None))?;
    let paths: Vec<_> = proofs.into_iter().map(|proof| proof.path).collect();
    same(&paths, &raw_paths, "consistency proof")?;
    latency(
        report,
        "proof_consistency_proof",
        "Log::consistency_proof (JSON form)",
        ours,
        raw,
    );
    report.note(&format!(
        "warm cache; {SAMPLES} pseudo-random seqs/sizes in a log of {size}; every path checked against the raw one"
    ));
    Ok(())
}

fn latency(report: &mut Report, key: &str, name: &str, ours: Latency, raw: Latency) {
    report.latency(&LatencyFigure {
        key,
        name,
        ours,
        raw,
        max_p99_us: TARGET_P99_US,
    });
}

/// Times `work` once per input; returns the latency distribution and the outputs, in input
/// order.
fn time_each<T, E>(
    inputs: &[u64],
    mut work: impl FnMut(u64) -> Result<T, E>,
) -> Result<(Latency, Vec<T>), E> {
    let mut durations = Vec::with_capacity(inputs.len());
    let mut outputs = Vec::with_capacity(inputs.len());
    for &input in inputs {
        let start = Instant::now();
        let output = work(input)?;
        durations.push(start.elapsed());
        outputs.push(output);
    }
    Ok((summarize(durations), outputs))
}

fn same<T: PartialEq>(ours: &[T], raw: &[T], what: &str) -> BenchResult<()> {
    match ours.iter().zip(raw).position(|(a, b)| a != b) {
        None => Ok(()),
        Some(index) => {
            Err(format!("{what} number {index} differs from the in-memory tree's").into())
        }
    }
}

/// Median, p99 and max in microseconds (nearest-rank percentiles).
fn summarize(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    if samples.is_empty() {
        return Latency {
            median_us: 0.0,
            p99_us: 0.0,
            max_us: 0.0,
        };
    }
    let micros = |duration: Duration| duration.as_secs_f64() * 1e6;
    let rank = |fraction: f64| {
        let index = (fraction * samples.len() as f64).ceil() as usize;
        // `samples` is not empty, so the rank is in 1..=len.
        micros(samples[index.clamp(1, samples.len()) - 1])
    };
    Latency {
        median_us: rank(0.5),
        p99_us: rank(0.99),
        max_us: micros(samples[samples.len() - 1]),
    }
}
