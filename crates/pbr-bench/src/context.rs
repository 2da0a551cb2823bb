//! Context lines: the raw speed of the primitives the log is built on, measured in this run.

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek::Signer;

use crate::data::{self, SplitMix64, THREADS};
use crate::report::Report;

const SIGN_COUNT: u64 = 20_000;
const SIGN_SEED: u64 = 0x7369_676e;
const BULK_LEN: usize = 64 << 20;
const BULK_ROUNDS: usize = 8;
const BULK_SEED: u64 = 0x626c_616b_6533;
/// The size of a record with a 200-byte event, the append and verify record size.
const RECORD_LEN: usize = 306;
const RECORD_HASHES: usize = 1_000_000;
const BYTES_PER_MB: f64 = 1_000_000.0;

pub(crate) fn run(report: &mut Report) {
    report.section("context: raw primitives");
    report.context(
        "ed25519_sign_per_s",
        &format!("Ed25519 sign, {THREADS} threads (sig/s)"),
        sign_rate(),
        "sig/s",
    );
    report.context(
        "blake3_bulk_mb_per_s",
        "BLAKE3 (the chain), 64 MiB buffers, 1 thread",
        blake3_bulk_rate(),
        "MB/s",
    );
    report.context(
        "sha256_leaf_mb_per_s",
        &format!("SHA-256 leaf hash (RFC 6962), {RECORD_LEN}-byte records, 1 thread"),
        leaf_hash_rate(),
        "MB/s",
    );
}

/// Signatures per second over `"pbr-event-v1\n" ‖ 200-byte event`, on [`THREADS`] threads.
fn sign_rate() -> f64 {
    let keys = data::signing_keys();
    let messages: Vec<Vec<u8>> = (0..SIGN_COUNT)
        .map(|index| {
            let mut message = pbr_log::record::EVENT_SIGNING_CONTEXT.to_vec();
            message.extend(data::event_bytes(SIGN_SEED, index, 200));
            message
        })
        .collect();
    let start = Instant::now();
    let signed: usize = data::parallel_chunks(&messages, |part| {
        for (index, message) in part.iter().enumerate() {
            black_box(keys[index % 2].sign(message));
        }
        part.len()
    })
    .into_iter()
    .sum();
    signed as f64 / start.elapsed().as_secs_f64()
}

/// MB/s of one thread hashing large buffers (BLAKE3's SIMD fast path).
fn blake3_bulk_rate() -> f64 {
    let mut buffer = vec![0u8; BULK_LEN];
    let mut rng = SplitMix64::new(BULK_SEED);
    for chunk in buffer.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let start = Instant::now();
    for _ in 0..BULK_ROUNDS {
        black_box(blake3::hash(black_box(&buffer)));
    }
    (BULK_LEN * BULK_ROUNDS) as f64 / start.elapsed().as_secs_f64() / BYTES_PER_MB
}

/// MB/s of one thread computing RFC 6962 SHA-256 leaf hashes of record-sized inputs, the shape
/// the log hashes.
fn leaf_hash_rate() -> f64 {
    let record = data::event_bytes(BULK_SEED, 0, RECORD_LEN);
    let start = Instant::now();
    for _ in 0..RECORD_HASHES {
        black_box(pbr_log::hash::leaf_hash(black_box(&record)));
    }
    (RECORD_LEN * RECORD_HASHES) as f64 / start.elapsed().as_secs_f64() / BYTES_PER_MB
}
