//! A filter of client ids in front of the id index, for large appends.
//!
//! Every input of a batch has its client id looked up in `projection.ids`, a sled tree keyed by
//! ids that are mostly random. On a large import almost every id is new and the lookups are
//! pure cost: a quarter of the validating thread's time on a million rows
//! (`docs/performance.md`, "Import"). This filter answers "certainly not in the index" for
//! nearly every new id from memory, so that only possible hits reach sled.
//!
//! It never answers "present": a "maybe" is settled by the index, so a false positive costs
//! one sled lookup and nothing else, and correctness never depends on the filter.
//!
//! It is a blocked Bloom filter: each id sets [`BITS_SET`] bits of one 512-bit block (one
//! cache line), at [`BITS_PER_ID`] bits per id, which gives about 0.02 % false positives in a
//! full part. When the last part is full a part of twice its capacity is added, so the memory
//! is under `2 × BITS_PER_ID` bits per id whatever the number of ids: at most 5 MB for a
//! million.
//!
//! Why so many bits: every false positive is a lookup that reads one block of each run of the
//! index from sled, and those reads stay in sled's page cache. At 12 bits an id (1 % false
//! positives across a million-row import, parts included) they were the largest part of the
//! import's memory growth with the file's length (`docs/performance.md`, "Import: id filter
//! at 20 bits an id; money flows leave the state a block at a time").
//! The hash is fixed (no random seed): the domain crates use no randomness, and an id chosen
//! to collide can only cost lookups.

use pbr_core::ids::EventId;

/// Bits of filter per id at a part's capacity.
const BITS_PER_ID: u64 = 20;
/// Bits set (and tested) per id, all in one block.
const BITS_SET: u32 = 10;
/// The 64-bit words of a block: 512 bits, one cache line.
const BLOCK_WORDS: usize = 8;
const BLOCK_BITS: u64 = 64 * BLOCK_WORDS as u64;
/// The smallest part, so that a small batch does not grow part by part.
const MIN_CAPACITY: u64 = 1 << 16;

/// A growable Bloom filter of client ids (see the module documentation).
pub(crate) struct IdFilter {
    parts: Vec<Part>,
}

/// One fixed-size blocked Bloom filter.
struct Part {
    blocks: Vec<[u64; BLOCK_WORDS]>,
    /// How many ids it takes before the next id goes to a new part.
    capacity: u64,
    len: u64,
}

impl IdFilter {
    /// An empty filter sized for about `ids` ids (it grows past that).
    pub(crate) fn with_capacity(ids: u64) -> IdFilter {
        IdFilter {
            parts: vec![Part::new(ids.max(MIN_CAPACITY))],
        }
    }

    /// Adds `id`.
    pub(crate) fn insert(&mut self, id: &EventId) {
        let full = self
            .parts
            .last()
            .is_none_or(|part| part.len >= part.capacity);
        if full {
            let capacity = self
                .parts
                .last()
                .map_or(MIN_CAPACITY, |part| part.capacity.saturating_mul(2));
            self.parts.push(Part::new(capacity));
        }
        if let Some(part) = self.parts.last_mut() {
            part.insert(hash(id));
        }
    }

    /// Whether `id` may have been added: `false` means it certainly was not.
    pub(crate) fn may_contain(&self, id: &EventId) -> bool {
        let hash = hash(id);
        self.parts.iter().any(|part| part.may_contain(hash))
    }
}

impl Part {
    fn new(capacity: u64) -> Part {
        let blocks = capacity
            .saturating_mul(BITS_PER_ID)
            .div_ceil(BLOCK_BITS)
            .max(1);
        Part {
            // A part of more blocks than memory can hold cannot be asked for: capacities
            // start at the ids of a ledger and double from there.
            blocks: vec![[0; BLOCK_WORDS]; usize::try_from(blocks).unwrap_or(usize::MAX)],
            capacity,
            len: 0,
        }
    }

    /// The block of a hash: multiply-shift maps the hash onto the blocks without a division.
    fn block(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.blocks.len() as u128) >> 64) as usize
    }

    fn insert(&mut self, hash: u64) {
        let block = self.block(hash);
        let words = &mut self.blocks[block];
        for (word, mask) in bits(hash) {
            words[word] |= mask;
        }
        self.len += 1;
    }

    fn may_contain(&self, hash: u64) -> bool {
        let words = &self.blocks[self.block(hash)];
        bits(hash).all(|(word, mask)| words[word] & mask != 0)
    }
}

/// Positions of nine bits (a word and a bit in it) that one 64-bit mix yields.
const POSITIONS_PER_MIX: u32 = 7;
const _: () = assert!(BITS_SET <= 2 * POSITIONS_PER_MIX, "bits() has two mixes");

/// The bits of a hash within its block, as (word, mask) pairs: nine bits per position from
/// further mixes, independent of the bits that chose the block.
fn bits(hash: u64) -> impl Iterator<Item = (usize, u64)> {
    let mixes = [
        mix(hash ^ 0x9e37_79b9_7f4a_7c15),
        mix(hash ^ 0x3c6e_f372_fe94_f82a),
    ];
    (0..BITS_SET).map(move |n| {
        let mixed = mixes[(n / POSITIONS_PER_MIX) as usize];
        let position = ((mixed >> (9 * (n % POSITIONS_PER_MIX))) & 0x1ff) as usize;
        (position / 64, 1u64 << (position % 64))
    })
}

/// A 64-bit hash of an id. Ids given by users need not be random (`0…01`, `0…02`, …), so
/// both halves are mixed.
fn hash(id: &EventId) -> u64 {
    let (low, high) = id.0.split_at(8);
    let word = |bytes: &[u8]| {
        let mut word = [0u8; 8];
        word.copy_from_slice(bytes);
        u64::from_le_bytes(word)
    };
    mix(word(low) ^ mix(word(high)))
}

/// SplitMix64's finaliser: every input bit moves about half the output bits.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> EventId {
        EventId::derived(b"id filter test", &n.to_string())
    }

    /// Sequential ids, as a user may give them.
    fn counted(n: u64) -> EventId {
        let mut id = [0u8; 16];
        id[8..].copy_from_slice(&n.to_be_bytes());
        EventId(id)
    }

    fn false_positives(filter: &IdFilter, absent: impl Iterator<Item = EventId>) -> usize {
        absent.filter(|id| filter.may_contain(id)).count()
    }

    #[test]
    fn every_id_added_is_found_across_parts() {
        // Started small, the filter grows into several parts; none may forget an id.
        let mut filter = IdFilter::with_capacity(0);
        for n in 0..300_000 {
            filter.insert(&id(n));
        }
        assert!(filter.parts.len() >= 3, "{} parts", filter.parts.len());
        assert!((0..300_000).all(|n| filter.may_contain(&id(n))));
    }

    #[test]
    fn few_absent_ids_pass() {
        for make in [id, counted] {
            let mut filter = IdFilter::with_capacity(100_000);
            for n in 0..100_000 {
                filter.insert(&make(n));
            }
            let passed = false_positives(&filter, (1_000_000..1_100_000).map(make));
            // About 0.02 % (20) is expected; 0.1 % leaves room without hiding a broken hash.
            assert!(passed < 100, "{passed} of 100000 absent ids passed");
        }
    }

    #[test]
    fn few_new_ids_pass_while_the_filter_grows() {
        // As in an import into an empty ledger: each id is looked up, then added, and the
        // filter grows part by part from its smallest size.
        let mut filter = IdFilter::with_capacity(0);
        let mut passed = 0;
        for n in 0..400_000 {
            let id = id(n);
            passed += usize::from(filter.may_contain(&id));
            filter.insert(&id);
        }
        assert!(filter.parts.len() >= 3, "{} parts", filter.parts.len());
        // About 0.03 % (106) pass; 12 bits an id let 1 % (over 4,000) through.
        assert!(passed < 200, "{passed} of 400000 new ids passed");
    }

    #[test]
    fn an_empty_filter_passes_nothing() {
        let filter = IdFilter::with_capacity(10);
        assert_eq!(false_positives(&filter, (0..10_000).map(id)), 0);
    }
}
