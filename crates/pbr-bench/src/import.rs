//! Import: the real `pbr import` binary on a CSV of cost-recorded rows, against the raw work
//! of the same records in this process, and the binary's peak memory at two file lengths.
//!
//! The binary, not the ledger crate: an import costs the whole command (reading and parsing the
//! file, validating every row against the contract, signing, appending, projections), and the
//! command is what users run. Each ledger is made with `pbr init` and
//! `pbr contract register` of scenario A's terms (GBP; the dwp and provider demo keys), and a
//! CSV of N rows `cost-recorded,scenario-a,2013-09-30,provider,cost-<n>,provider,<amount>`
//! with pseudo-random amounts from a fixed seed. None of that is timed.
//!
//! - Ours: the wall time of `pbr import FILE.csv --key dwp.key --key provider.key`, from spawn
//!   to exit; events/s = N / that time.
//! - Memory: the child's `VmHWM`, polled from `/proc/<pid>/status` every 20 ms while it runs
//!   (it is monotonic, so the last value read before the exit is its peak, short of at most
//!   the last 20 ms), importing N/4 and N rows into fresh ledgers. sled keeps a page table in
//!   memory for every page of the database: it grows with the ledger, not the file, and any
//!   command that opens the ledger holds it. So the target, a peak independent of the file's
//!   length, is on the import's peak less the peak of `pbr log` opening the ledger the import
//!   left and showing its first event (polled every millisecond): at most 1.25 times as much
//!   at N rows as at N/4. Reported beside it: the peaks themselves, the open's, and the peak
//!   of N/4 rows imported onto a ledger of 3N/4 events, which ends at N events too.
//! - Raw: the work no import of N records can skip, in memory: Ed25519 signing of N events of
//!   the size `pbr` wrote (read back from the ledger) and the BLAKE3 leaf hash of each record's
//!   bytes, on 2 threads, then sled `apply_batch` of those bytes in batches of 10,000 and one
//!   flush at the end, as `pbr import` appends all rows or none in one durable batch. Target:
//!   at least 50 % of raw.
//!
//! The import fails the run (non-zero exit) if `pbr import` fails or appends fewer rows than
//! the file holds. It is not part of `all`, being minutes of work and gigabytes of disk at the
//! default million rows: build the binary with `cargo build --release -p pbr-cli` (the same
//! target directory), then run `cargo run --release -p pbr-bench -- import [--rows N]`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pbr_log::{Log, Record, SignerKey};

use crate::BenchResult;
use crate::append::{self, Flush};
use crate::data::{self, SplitMix64, THREADS};
use crate::memory;
use crate::report::{Growth, Report, Throughput};

/// Scenario A's terms, registered in every ledger here.
const CONTRACT_TERMS: &str = include_str!("../../../tests/scenarios/a/contract.toml");
const CONTRACT_ID: &str = "scenario-a";
/// The commissioner, who registers the contract.
const COMMISSIONER: &str = "dwp";
/// The provider, who records the costs.
const PROVIDER: &str = "provider";
const COST_DATE: &str = "2013-09-30";
const CSV_HEADER: &str = "kind,contract,date,author,id,party,amount";
/// The derivation context of the demo keys (`pbr_ledger::sample::demo_key`).
const DEMO_KEY_CONTEXT: &str = "pbr demo key v1";
const AMOUNT_SEED: u64 = 0x696d_706f_7274_616d;
const RAW_EVENT_SEED: u64 = 0x696d_706f_7274_7277;
/// Amounts run from 1.00 to 999.99.
const MIN_PENCE: u64 = 100;
const PENCE_SPAN: u64 = 99_900;
const RAW_BATCH: usize = 10_000;
const POLL: Duration = Duration::from_millis(20);
/// Opening a ledger takes a fraction of a second: its peak is polled this often.
const OPEN_POLL: Duration = Duration::from_millis(1);
const TARGET_RATIO: f64 = 0.5;
/// "Independent of the file's length", allowing for noise and sled's page cache.
const MAX_PEAK_GROWTH: f64 = 1.25;
const BYTES_PER_MB: f64 = 1_000_000.0;

/// One `pbr import` of a fresh ledger.
struct ImportRun {
    rows: u64,
    seconds: f64,
    peak_kib: u64,
}

/// What the child process did.
struct Child {
    status: ExitStatus,
    elapsed: Duration,
    peak_kib: Option<u64>,
}

pub(crate) fn run(report: &mut Report, base: &Path, pbr: &Path, rows: u64) -> BenchResult<()> {
    report.section(&format!(
        "import: pbr import vs sign + leaf hash ({THREADS} threads) + sled apply_batch"
    ));
    if !pbr.is_file() {
        return Err(format!(
            "{}: no pbr binary; build it with `cargo build --release -p pbr-cli` into the same \
             target directory, or pass --pbr",
            pbr.display()
        )
        .into());
    }
    report.detail(
        "import_pbr_binary",
        "pbr binary",
        &pbr.display().to_string(),
    );
    let quarter = rows / 4;
    let fresh_quarter = Bench::fresh(base, pbr)?;
    let small = fresh_quarter.import(report, 0, quarter)?;
    let small_open = fresh_quarter.open_peak(report, quarter)?;
    drop(fresh_quarter);
    let fresh_whole = Bench::fresh(base, pbr)?;
    let large = fresh_whole.import(report, 0, rows)?;
    let large_open = fresh_whole.open_peak(report, rows)?;
    let event_len = last_event_len(&fresh_whole.ledger, rows)?;
    drop(fresh_whole);
    // A quarter of the file onto a ledger that then holds as many events as the whole one.
    let topped_up = Bench::fresh(base, pbr)?;
    topped_up.import(report, 0, rows - quarter)?;
    let on_top = topped_up.import(report, rows - quarter, quarter)?;
    drop(topped_up);

    report.progress(&format!("import: raw limit for {rows} records"));
    let (signing, writing) = raw_work(base, rows, event_len)?;
    report.context(
        "import_raw_sign_hash_s",
        &format!("raw: sign + leaf hash, {THREADS} threads"),
        signing.as_secs_f64(),
        "s",
    );
    report.context(
        "import_raw_sled_s",
        &format!("raw: sled apply_batch of {RAW_BATCH} + 1 flush"),
        writing.as_secs_f64(),
        "s",
    );
    report.throughput(&Throughput {
        key: "import",
        name: &format!("import, {rows} cost-recorded rows"),
        ours: large.rows as f64 / large.seconds,
        raw: rows as f64 / (signing + writing).as_secs_f64(),
        unit: "ev/s",
        min_ratio: Some(TARGET_RATIO),
    });
    report.growth(&Growth {
        key: "import_own_peak_rss",
        name: "import peak RSS less opening its ledger",
        small_size: small.rows,
        small_mib: memory::mib(small.peak_kib.saturating_sub(small_open)),
        large_size: large.rows,
        large_mib: memory::mib(large.peak_kib.saturating_sub(large_open)),
        max_growth: Some(MAX_PEAK_GROWTH),
    });
    report.growth(&Growth {
        key: "import_peak_rss_fresh",
        name: "import peak RSS of pbr, fresh ledgers",
        small_size: small.rows,
        small_mib: memory::mib(small.peak_kib),
        large_size: large.rows,
        large_mib: memory::mib(large.peak_kib),
        max_growth: None,
    });
    report.growth(&Growth {
        key: "open_peak_rss",
        name: "peak RSS of opening the ledger (pbr log)",
        small_size: quarter,
        small_mib: memory::mib(small_open),
        large_size: rows,
        large_mib: memory::mib(large_open),
        max_growth: None,
    });
    report.growth(&Growth {
        key: "import_peak_rss_same_ledger",
        name: &format!("import peak RSS, {quarter} rows onto {}", rows - quarter),
        small_size: on_top.rows,
        small_mib: memory::mib(on_top.peak_kib),
        large_size: large.rows,
        large_mib: memory::mib(large.peak_kib),
        max_growth: None,
    });
    report.note(&format!(
        "ours is the wall time of the whole command on a fresh ledger; raw is the same {} \
         records of {}-byte events, in memory",
        rows, event_len
    ));
    report.note(&format!(
        "the target is the import's peak less the peak of `pbr log` opening the ledger it \
         leaves: sled's page table of the ledger, which any command holds, grows with the \
         ledger, not the file; the last line imports {quarter} rows onto a ledger of {} \
         events, ending, like the whole file, at {rows}",
        rows - quarter
    ));
    report.note(&format!(
        "peak RSS is VmHWM of the pbr process, polled every {} ms; this process's peak below \
         is the raw limit's (every record in memory, sled with its default cache as in append)",
        POLL.as_millis()
    ));
    Ok(())
}

/// A ledger made for the benchmark: scenario A's contract registered, the two demo keys
/// beside it, all in a directory removed when this is dropped.
struct Bench<'a> {
    pbr: &'a Path,
    dir: tempfile::TempDir,
    keys: [PathBuf; 2],
    ledger: PathBuf,
}

impl<'a> Bench<'a> {
    /// A fresh ledger with `pbr init` and `pbr contract register`.
    fn fresh(base: &Path, pbr: &'a Path) -> BenchResult<Bench<'a>> {
        let dir = tempfile::tempdir_in(base)?;
        let keys = write_keys(dir.path())?;
        let terms = dir.path().join("contract.toml");
        std::fs::write(&terms, CONTRACT_TERMS)?;
        let ledger = dir.path().join("ledger");
        // Scenario A's terms name their log, test/a.
        run_pbr(
            pbr,
            [
                Path::new("init").as_os_str(),
                ledger.as_os_str(),
                "--origin".as_ref(),
                "test/a".as_ref(),
            ],
        )?;
        run_pbr(
            pbr,
            [
                "--ledger".as_ref(),
                ledger.as_os_str(),
                "contract".as_ref(),
                "register".as_ref(),
                terms.as_os_str(),
                "--key".as_ref(),
                keys[0].as_os_str(),
            ],
        )?;
        Ok(Bench {
            pbr,
            dir,
            keys,
            ledger,
        })
    }

    /// Writes a CSV of `rows` rows from `cost-<first>` on, runs `pbr import` on it, reports
    /// the run and checks that it appended every row.
    fn import(&self, report: &mut Report, first: u64, rows: u64) -> BenchResult<ImportRun> {
        let dir = self.dir.path();
        let csv = dir.join("costs.csv");
        // Keys and labels name the ledger's length before the import when it is not empty.
        let (key, label) = if first == 0 {
            (format!("import_{rows}"), format!("import {rows} rows"))
        } else {
            (
                format!("import_{rows}_onto_{first}"),
                format!("import {rows} rows onto {first}"),
            )
        };
        report.progress(&format!("{label}: writing the file"));
        let csv_bytes = write_csv(&csv, first, rows)?;
        report.progress(&format!("{label}: pbr import"));
        let mut command = Command::new(self.pbr);
        command
            .arg("--ledger")
            .arg(&self.ledger)
            .arg("import")
            .arg(&csv);
        for key in &self.keys {
            command.arg("--key").arg(key);
        }
        command
            .stdout(File::create(dir.join("import.stdout"))?)
            .stderr(File::create(dir.join("import.stderr"))?);
        let child = timed(command, POLL)?;
        let stdout = std::fs::read_to_string(dir.join("import.stdout"))?;
        let stderr = std::fs::read_to_string(dir.join("import.stderr"))?;
        let last_line = stdout.lines().last().unwrap_or("").to_owned();

        report.context(
            &format!("{key}_csv_mb"),
            &format!("{label}: CSV size"),
            csv_bytes as f64 / BYTES_PER_MB,
            "MB",
        );
        report.detail(
            &format!("{key}_exit_status"),
            &format!("{label}: pbr exit status"),
            &child.status.to_string(),
        );
        report.detail(
            &format!("{key}_last_stdout_line"),
            &format!("{label}: last stdout line"),
            &last_line,
        );
        if !child.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(
                format!("pbr {label} failed ({}): {}", child.status, tail.join("\n")).into(),
            );
        }
        let appended = last_line
            .split_once(" appended")
            .and_then(|(count, _)| count.parse::<u64>().ok());
        if appended != Some(rows) {
            return Err(format!("pbr {label} did not append them all: {last_line:?}").into());
        }
        let seconds = child.elapsed.as_secs_f64();
        report.context(
            &format!("{key}_wall_s"),
            &format!("{label}: wall time"),
            seconds,
            "s",
        );
        report.context(
            &format!("{key}_ev_per_s"),
            &format!("{label}: rate"),
            rows as f64 / seconds,
            "ev/s",
        );
        let peak_kib = child
            .peak_kib
            .ok_or("no VmHWM of the pbr process was read")?;
        report.context(
            &format!("{key}_peak_rss_mib"),
            &format!("{label}: peak RSS of pbr"),
            memory::mib(peak_kib),
            "MiB",
        );
        Ok(ImportRun {
            rows,
            seconds,
            peak_kib,
        })
    }

    /// The peak RSS of `pbr log` showing the first event: what opening a ledger of `events`
    /// events costs any command.
    fn open_peak(&self, report: &mut Report, events: u64) -> BenchResult<u64> {
        let stderr = self.dir.path().join("log.stderr");
        let mut command = Command::new(self.pbr);
        command
            .arg("--ledger")
            .arg(&self.ledger)
            .args(["log", "--from-seq", "0", "--to-seq", "1"])
            .stdout(Stdio::null())
            .stderr(File::create(&stderr)?);
        let child = timed(command, OPEN_POLL)?;
        if !child.status.success() {
            let message = std::fs::read_to_string(&stderr)?;
            return Err(format!(
                "pbr log on {events} events failed ({}): {}",
                child.status,
                message.trim()
            )
            .into());
        }
        let peak_kib = child
            .peak_kib
            .ok_or("no VmHWM of the pbr process was read")?;
        report.context(
            &format!("open_{events}_peak_rss_mib"),
            &format!("pbr log on {events} events: peak RSS"),
            memory::mib(peak_kib),
            "MiB",
        );
        Ok(peak_kib)
    }
}

/// A demo key: anyone can recompute it from its name (`pbr_ledger::sample::demo_key`).
fn demo_key(name: &str) -> BenchResult<SignerKey> {
    let seed = blake3::derive_key(DEMO_KEY_CONTEXT, name.as_bytes());
    Ok(SignerKey::from_seed(name, seed)?)
}

/// Writes `dwp.key` and `provider.key` in `dir`; returns their paths, commissioner first.
fn write_keys(dir: &Path) -> BenchResult<[PathBuf; 2]> {
    let mut paths = Vec::new();
    for name in [COMMISSIONER, PROVIDER] {
        let key = demo_key(name)?;
        // A guard against the contract and the demo key derivation drifting apart.
        let public = key.verifier_key().to_string();
        if !CONTRACT_TERMS.contains(&format!("\"{public}\"")) {
            return Err(format!("scenario A's terms do not name the demo key {public}").into());
        }
        let path = dir.join(format!("{name}.key"));
        std::fs::write(&path, key.to_text())?;
        paths.push(path);
    }
    paths
        .try_into()
        .map_err(|_| "expected two key files".into())
}

/// Writes the CSV of `rows` cost-recorded rows, ids from `cost-<first>` on; returns its size in
/// bytes.
fn write_csv(path: &Path, first: u64, rows: u64) -> BenchResult<u64> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "{CSV_HEADER}")?;
    let mut rng = SplitMix64::new(AMOUNT_SEED ^ first);
    for n in first..first + rows {
        let pence = MIN_PENCE + rng.below(PENCE_SPAN);
        writeln!(
            out,
            "cost-recorded,{CONTRACT_ID},{COST_DATE},{PROVIDER},cost-{n},{PROVIDER},{}.{:02}",
            pence / 100,
            pence % 100
        )?;
    }
    out.flush()?;
    Ok(out.get_ref().metadata()?.len())
}

/// Runs a preparatory `pbr` command to completion; its failure fails the benchmark.
fn run_pbr<'a>(pbr: &Path, args: impl IntoIterator<Item = &'a std::ffi::OsStr>) -> BenchResult<()> {
    let args: Vec<_> = args.into_iter().collect();
    let output = Command::new(pbr)
        .args(&args)
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "pbr {} failed ({}): {}",
            args.iter()
                .map(|arg| arg.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(())
}

/// Runs `command` (a `pbr` command, its output already redirected), timing it from spawn to
/// exit while another thread polls its peak RSS.
fn timed(mut command: Command, poll: Duration) -> BenchResult<Child> {
    command.stdin(Stdio::null());
    let done = AtomicBool::new(false);
    let start = Instant::now();
    let mut child = command.spawn()?;
    let pid = child.id();
    let (status, elapsed, peak_kib) = std::thread::scope(|scope| {
        let poller = scope.spawn(|| poll_peak(pid, &done, poll));
        let status = child.wait();
        let elapsed = start.elapsed();
        done.store(true, Ordering::Relaxed);
        // The poller panics only on a bug in this tool; let it surface.
        let peak = poller.join().expect("peak poller panicked");
        (status, elapsed, peak)
    });
    Ok(Child {
        status: status?,
        elapsed,
        peak_kib,
    })
}

/// The last `VmHWM` of `pid` read before `done`; `None` if none could be read.
fn poll_peak(pid: u32, done: &AtomicBool, poll: Duration) -> Option<u64> {
    let mut peak = None;
    while !done.load(Ordering::Relaxed) {
        if let Some(kib) = memory::peak_kib_of(pid) {
            peak = Some(kib);
        }
        std::thread::sleep(poll);
    }
    peak
}

/// The event size of the last record of `ledger`, which must hold at least `rows` records.
fn last_event_len(ledger: &Path, rows: u64) -> BenchResult<usize> {
    let log = Log::open(ledger)?;
    if log.len() < rows {
        return Err(format!("the ledger holds {} records, not {rows}", log.len()).into());
    }
    Ok(log.read(log.len() - 1)?.event_bytes.len())
}

/// The raw work of `rows` records of `event_len`-byte events: the time to sign them and hash
/// each record's bytes on [`THREADS`] threads, and the time sled takes to store those bytes.
fn raw_work(base: &Path, rows: u64, event_len: usize) -> BenchResult<(Duration, Duration)> {
    let key = demo_key(PROVIDER)?;
    let signing_key = key.signing_key();
    let events: Vec<Vec<u8>> = (0..rows)
        .map(|index| data::event_bytes(RAW_EVENT_SEED, index, event_len))
        .collect();
    let start = Instant::now();
    let encoded: Vec<Vec<u8>> = data::parallel_chunks(&events, |part| {
        part.iter()
            .map(|event| {
                // `sign` and `encode` fail only on an event over MAX_EVENT_LEN; these are
                // the size of a cost-recorded event.
                let record =
                    Record::sign(event.clone(), signing_key).expect("bench event is small");
                // The leaf and node hashes are in `raw_write`.
                record.encode().expect("bench event is small")
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let signing = start.elapsed();
    drop(events);
    let writing = append::raw_write(base, &encoded, RAW_BATCH, Flush::AtEnd)?;
    Ok((signing, writing))
}
