//! Deterministic inputs: event bytes from fixed seeds, signed by two fixed keys, and a helper
//! that spreads work over the two cores.

use std::ops::Range;

use ed25519_dalek::SigningKey;
use pbr_log::Record;

/// The threads of every parallel step: the machine has 2 cores, and `pbr verify` uses 2.
pub(crate) const THREADS: usize = 2;
/// The seed of the shared pool of ~200-byte events (append and verify).
pub(crate) const POOL_SEED: u64 = 0x7062_722d_706f_6f6c;
/// The seeds of the two record-signing keys; record `i` is signed by key `i % 2`.
const KEY_SEEDS: [[u8; 32]; 2] = [[0x11; 32], [0x22; 32]];

/// SplitMix64: a tiny, fixed, well-mixed generator, so inputs never depend on a crate version.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound`; the modulo bias is negligible for the bounds used here.
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

/// The two record-signing keys.
pub(crate) fn signing_keys() -> [SigningKey; 2] {
    KEY_SEEDS.map(|seed| SigningKey::from_bytes(&seed))
}

/// The event bytes of record `index`: `len` pseudo-random bytes that depend only on the seed
/// and the index, so any range can be generated on its own.
pub(crate) fn event_bytes(seed: u64, index: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed ^ index.wrapping_mul(0xd1b5_4a32_d192_ed03));
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    bytes
}

/// Signed records for `range`, signed on [`THREADS`] threads, in order.
pub(crate) fn signed_records(seed: u64, range: Range<u64>, event_len: usize) -> Vec<Record> {
    let keys = signing_keys();
    let indices: Vec<u64> = range.collect();
    parallel_chunks(&indices, |part| {
        part.iter()
            .map(|&index| {
                let key = &keys[(index % 2) as usize];
                // `sign` fails only on an event over MAX_EVENT_LEN; bench events are tiny.
                Record::sign(event_bytes(seed, index, event_len), key)
                    .expect("bench event is small")
            })
            .collect::<Vec<_>>()
    })
    .concat()
}

/// The record bytes of each record.
pub(crate) fn encode_all(records: &[Record]) -> Vec<Vec<u8>> {
    records
        .iter()
        // `encode` fails only on an event over MAX_EVENT_LEN; bench events are tiny.
        .map(|record| record.encode().expect("bench event is small"))
        .collect()
}

/// Runs `work` on [`THREADS`] contiguous parts of `items` at once, results in part order.
pub(crate) fn parallel_chunks<T: Sync, U: Send>(
    items: &[T],
    work: impl Fn(&[T]) -> U + Sync,
) -> Vec<U> {
    let part_len = items.len().div_ceil(THREADS).max(1);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(part_len)
            .map(|part| scope.spawn(move || work(part)))
            .collect();
        handles
            .into_iter()
            // A worker panics only on a bug in this tool; let it surface.
            .map(|handle| handle.join().expect("bench worker panicked"))
            .collect()
    })
}
