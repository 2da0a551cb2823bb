//! Append throughput: `Log::append` against sled alone writing the same record bytes.
//!
//! Records are signed before the clock starts. Each batch size runs on a fresh ledger in its
//! own temporary directory. The raw limit is what any sled-backed log must at least do: the
//! RFC 6962 SHA-256 leaf hash of each record and one interior node hash (a tree of n leaves
//! has n − 1), one `apply_batch` of the record bytes keyed by u64 big-endian, then
//! `db.flush()`, per batch.

use std::path::Path;
use std::time::{Duration, Instant};

use pbr_log::{Log, Record};

use crate::BenchResult;
use crate::data;
use crate::report::{Report, Throughput};

/// The event size of the shared pool: a typical business event.
pub(crate) const EVENT_LEN: usize = 200;
/// `(batch size, number of batches)`.
const CASES: [(usize, usize); 3] = [(1, 500), (100, 200), (10_000, 20)];
/// The records the largest case needs.
pub(crate) const POOL_LEN: usize = 200_000;
const TARGET_RATIO: f64 = 0.5;

pub(crate) fn run(report: &mut Report, base: &Path, pool: &[Record]) -> BenchResult<()> {
    report.section(
        "append: Log::append vs SHA-256 leaf + node, sled apply_batch + flush of the same bytes",
    );
    let encoded = data::encode_all(pool);
    for (batch, batches) in CASES {
        let len = batch * batches;
        if pool.len() < len {
            return Err(format!("the record pool holds {} records, not {len}", pool.len()).into());
        }
        report.progress(&format!("append: {batches} batches of {batch}"));
        let raw = raw_rate(base, &encoded[..len], batch)?;
        let ours = log_rate(base, &pool[..len], batch)?;
        report.throughput(&Throughput {
            key: &format!("append_batch_{batch}"),
            name: &format!("append, batch {batch} ({batches} batches)"),
            ours,
            raw,
            unit: "rec/s",
            min_ratio: Some(TARGET_RATIO),
        });
    }
    report.note("each batch is durable (flushed) before the next starts, in both columns");
    Ok(())
}

/// Records per second through `Log::append` on a fresh ledger.
fn log_rate(base: &Path, records: &[Record], batch: usize) -> BenchResult<f64> {
    let dir = tempfile::tempdir_in(base)?;
    let mut log = Log::create(&dir.path().join("ledger"), "bench")?;
    let start = Instant::now();
    for chunk in records.chunks(batch) {
        log.append(chunk)?;
    }
    let elapsed = start.elapsed();
    drop(log);
    Ok(records.len() as f64 / elapsed.as_secs_f64())
}

/// When the raw limit flushes sled.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flush {
    /// After every batch: each batch is durable before the next starts, as with
    /// `Log::append` per batch.
    EachBatch,
    /// Once, after the last batch: one durable write of everything, as with one
    /// `Log::append` of all the records.
    AtEnd,
}

/// Records per second through a bare sled tree: the same bytes, keys and flushes.
fn raw_rate(base: &Path, encoded: &[Vec<u8>], batch: usize) -> BenchResult<f64> {
    let elapsed = raw_write(base, encoded, batch, Flush::EachBatch)?;
    Ok(encoded.len() as f64 / elapsed.as_secs_f64())
}

/// The time a bare sled tree in a fresh directory under `base` takes to store `encoded`
/// keyed by u64 big-endian, one `apply_batch` per `batch` records, flushed as `flush` says.
pub(crate) fn raw_write(
    base: &Path,
    encoded: &[Vec<u8>],
    batch: usize,
    flush: Flush,
) -> BenchResult<Duration> {
    let dir = tempfile::tempdir_in(base)?;
    let db = sled::Config::new().path(dir.path().join("sled")).open()?;
    let tree = db.open_tree("events")?;
    let start = Instant::now();
    for (number, chunk) in encoded.chunks(batch).enumerate() {
        let mut writes = sled::Batch::default();
        for (offset, bytes) in chunk.iter().enumerate() {
            let seq = (number * batch + offset) as u64;
            let leaf = pbr_log::hash::leaf_hash(bytes);
            std::hint::black_box(pbr_log::hash::node_hash(&leaf, &leaf));
            writes.insert(&seq.to_be_bytes(), bytes.as_slice());
        }
        tree.apply_batch(writes)?;
        if flush == Flush::EachBatch {
            db.flush()?;
        }
    }
    if flush == Flush::AtEnd {
        db.flush()?;
    }
    let elapsed = start.elapsed();
    drop((tree, db));
    Ok(elapsed)
}
