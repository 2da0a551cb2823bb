//! `pbr-bench`: how fast the event log appends, verifies and proves, and how much memory a full
//! verification needs, on this machine, in this run.
//!
//! Absolute figures vary by machine (disk, cores, whatever else is running), so each figure is
//! printed beside the raw limit of the same work measured in the same run, and the ratio between
//! them is what the targets are about:
//! - append: `Log::append` against SHA-256 leaf and node hashing plus sled alone writing the
//!   same record bytes (target ≥ 50 %);
//! - verify: `Log::verify` on 2 threads against SHA-256 leaf and node hashing plus Ed25519
//!   `verify_strict` alone on 2 threads over the same records in memory (target ≥ 80 %), and
//!   its peak memory at two log lengths, which should not grow with the length;
//! - proof: inclusion and consistency proofs on a large log against the same proofs from an
//!   in-memory tree (target: p99 under 5 ms), and `pbr export --tiles` of that log in MB/s
//!   beside writing the same bytes as the same files (each synced and renamed into place);
//! - import: the `pbr import` binary on a CSV of cost-recorded rows against Ed25519 signing
//!   and leaf hashing on 2 threads plus sled alone writing the same records (target ≥ 50 %),
//!   and its peak memory at two file lengths into ledgers of the same final length, which
//!   should not grow with the file's length;
//! - settle: settling one quarter and computing the balances of a contract with 100,000
//!   participants and a monthly status for each over three years (about 3.6 M events), warm
//!   from the durable projections (target < 1 s) and cold, rebuilding them from the log
//!   (target < 30 s, peak memory < 2 GiB), with the replay rate beside a raw scan and decode
//!   of the same log.
//!
//! Context lines give the raw Ed25519 signing rate and BLAKE3 throughput. Inputs come from fixed
//! seeds, so two runs do the same work. This is a tool, not a test: it never runs in CI.
//! Run it with `cargo run --release -p pbr-bench -- all` and record the output, with the machine
//! and the date, in `docs/performance.md`. `all` leaves out `import`, which takes minutes and
//! gigabytes of disk at its default million rows: run it on its own, after building the binary
//! it measures, with `cargo build --release -p pbr-cli` then
//! `cargo run --release -p pbr-bench -- import`. `settle` is left out too (minutes of
//! generation, gigabytes of disk): `cargo run --release -p pbr-bench -- settle
//! [--participants N] [--years Y]`.

mod append;
mod context;
mod data;
mod import;
mod memory;
mod proof;
mod report;
mod settle;
mod synth;
mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Parser, ValueEnum};

use crate::report::Report;

/// The error of every fallible step; this is a tool, so errors only need to be readable.
type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Benchmarks of the pbr event log, each beside the raw machine limit of the same work.
#[derive(Parser)]
#[command(name = "pbr-bench")]
struct Cli {
    /// Which benchmark to run.
    #[arg(value_enum)]
    which: Which,
    /// Records in the verify benchmark's larger ledger; the smaller one holds a quarter.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(4..))]
    events: u64,
    /// Records in the proof benchmark's ledger.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(2..))]
    proof_events: u64,
    /// Rows of the import benchmark's larger CSV; the smaller one holds a quarter, imported
    /// both into an empty ledger and onto one of the other three quarters.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(4..))]
    rows: u64,
    /// The `pbr` binary the import benchmark runs (default: `pbr` beside this binary, as
    /// `cargo build --release -p pbr-cli` puts it).
    #[arg(long, value_name = "FILE")]
    pbr: Option<PathBuf>,
    /// Print only the JSON summary line.
    #[arg(long)]
    json: bool,
    /// Participants of the settle benchmark's contract.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    participants: u64,
    /// Years of monthly statuses in the settle benchmark.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    years: u32,
    /// Quarters whose statements the settle benchmark issues while building its ledger, from
    /// the first (default: every quarter before the one it settles, as a commissioner
    /// settling quarterly would have).
    #[arg(long)]
    issued: Option<u32>,
    /// Where temporary ledgers go (default: the system temporary directory). Appends fsync, so
    /// put it on the disk you care about, not on tmpfs.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// settle: build the synthetic ledger in DIR and keep it, or reuse the one there, instead
    /// of a temporary one (internal: the ledger a child process measures).
    #[arg(long, value_name = "DIR")]
    ledger: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    Append,
    Verify,
    Proof,
    /// The `pbr import` binary (build it first); not in `all`: minutes and gigabytes.
    Import,
    /// Settle a quarter and compute balances, warm and cold, on a synthetic ledger; not in
    /// `all`: minutes and gigabytes.
    Settle,
    /// Append, verify and proof.
    All,
    /// Internal: verify `--ledger` in a fresh process and print its timing and memory as JSON.
    #[value(hide = true)]
    VerifyChild,
    /// Internal: settle warm on `--ledger` in a fresh process; prints JSON.
    #[value(hide = true)]
    SettleWarm,
    /// Internal: settle cold on `--ledger` in a fresh process; prints JSON.
    #[value(hide = true)]
    SettleCold,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Append => "append",
            Which::Verify => "verify",
            Which::Proof => "proof",
            Which::Import => "import",
            Which::Settle => "settle",
            Which::All => "all",
            Which::VerifyChild => "verify-child",
            Which::SettleWarm => "settle-warm",
            Which::SettleCold => "settle-cold",
        }
    }

    fn runs(self, benchmark: Which) -> bool {
        self == benchmark
            || (self == Which::All && !matches!(benchmark, Which::Import | Which::Settle))
    }
}

fn main() -> BenchResult<()> {
    let cli = Cli::parse();
    if cli.which == Which::VerifyChild {
        let ledger = cli.ledger.ok_or("verify-child needs --ledger")?;
        return verify::child(&ledger);
    }
    if let Some(mode) = match cli.which {
        Which::SettleWarm => Some(settle::Mode::Warm),
        Which::SettleCold => Some(settle::Mode::Cold),
        _ => None,
    } {
        let ledger = cli
            .ledger
            .as_deref()
            .ok_or("settle children need --ledger")?;
        return settle::child(mode, ledger, shape(&cli)?);
    }
    if cli.which.runs(Which::Settle) {
        // Refuse a bad --issued before spending a minute on the context lines.
        shape(&cli)?;
    }
    let base = cli.dir.clone().unwrap_or_else(std::env::temp_dir);
    let mut report = Report::new(cli.json);
    report.header(cli.which.name(), &base);
    let peak_resettable = memory::reset_peak();
    context::run(&mut report);
    run_benchmarks(&cli, &base, &mut report, peak_resettable)?;
    report.finish();
    Ok(())
}

fn run_benchmarks(
    cli: &Cli,
    base: &Path,
    report: &mut Report,
    peak_resettable: bool,
) -> BenchResult<()> {
    let needs_pool = cli.which.runs(Which::Append) || cli.which.runs(Which::Verify);
    let pool = if needs_pool {
        // The verify ledger reuses the append pool, so both see the same ~200-byte events.
        let len = append::POOL_LEN.max(usize::try_from(cli.events)?);
        report.progress(&format!(
            "signing {len} records on {} threads",
            data::THREADS
        ));
        let start = Instant::now();
        let pool = data::signed_records(data::POOL_SEED, 0..len as u64, append::EVENT_LEN);
        report.progress(&format!("signed in {:.1} s", start.elapsed().as_secs_f64()));
        pool
    } else {
        Vec::new()
    };
    if cli.which.runs(Which::Append) {
        append::run(report, base, &pool)?;
        memory::report_peak(report, "append", peak_resettable);
    }
    if cli.which.runs(Which::Verify) {
        verify::run(report, base, &pool, usize::try_from(cli.events)?)?;
        memory::report_peak(report, "verify", peak_resettable);
    }
    if cli.which.runs(Which::Proof) {
        proof::run(report, base, cli.proof_events)?;
        memory::report_peak(report, "proof", peak_resettable);
    }
    if cli.which.runs(Which::Import) {
        let pbr = match &cli.pbr {
            Some(pbr) => pbr.clone(),
            None => std::env::current_exe()?.with_file_name("pbr"),
        };
        import::run(report, base, &pbr, cli.rows)?;
        memory::report_peak(report, "import", peak_resettable);
    }
    if cli.which.runs(Which::Settle) {
        settle::run(report, base, shape(cli)?, cli.ledger.as_deref())?;
        memory::report_peak(report, "settle", peak_resettable);
    }
    Ok(())
}

/// The synthetic ledger the settle benchmark measures.
fn shape(cli: &Cli) -> BenchResult<synth::Shape> {
    synth::Shape::new(cli.participants, cli.years, cli.issued)
}
