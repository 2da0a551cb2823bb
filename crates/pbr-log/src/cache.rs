//! The caches beside `events`: packed hash blocks and the stored upper Merkle nodes.
//!
//! - `hashes`: block index (u64 BE) → up to [`BLOCK_LEN`] (64) entries of `leaf_i ‖ chain_i`
//!   (64 bytes each) for the seqs `block · 64 ..`. One key per 64 records, so an append
//!   writes a cache key per 64 records instead of one per record.
//! - `nodes`: `level (u8) ‖ index (u64 BE)` → the hash of the complete subtree of height
//!   `level ≥` [`STORED_LEVEL`] (6). Lower subtrees lie inside one hash block (64 = 2⁶ is
//!   block-aligned), so they are folded from its leaf hashes on demand: at most 63 SHA-256
//!   calls, where a stored copy would cost a sled key per record.
//!
//! Invariant: both trees are derivable from `events` alone; nothing here is a source of
//! truth.

use crate::hash::{Hash, chain_hash, leaf_hash, node_hash};
use crate::merkle::Frontier;

/// Records per hash block.
pub(crate) const BLOCK_LEN: u64 = 64;
/// The lowest level of Merkle node kept in the `nodes` tree.
pub(crate) const STORED_LEVEL: u32 = 6;
/// Bytes per hash-block entry: `leaf ‖ chain`.
pub(crate) const ENTRY_LEN: usize = 64;

/// The `hashes` key of a block.
pub(crate) fn block_key(block: u64) -> [u8; 8] {
    block.to_be_bytes()
}

/// The `nodes` key of a subtree.
pub(crate) fn node_key(level: u32, index: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    // Levels are below 64 because sizes are u64.
    key[0] = level as u8;
    key[1..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The `(leaf, chain)` pair at `offset` of a block value, if present.
pub(crate) fn entry(block: &[u8], offset: u64) -> Option<(Hash, Hash)> {
    let start = usize::try_from(offset).ok()? * ENTRY_LEN;
    let entry = block.get(start..start + ENTRY_LEN)?;
    let (leaf, chain) = entry.split_at(32);
    Some((leaf.try_into().ok()?, chain.try_into().ok()?))
}

/// The number of entries in a block value, or `None` if its length is not whole entries.
pub(crate) fn entries(block: &[u8]) -> Option<u64> {
    block
        .len()
        .is_multiple_of(ENTRY_LEN)
        .then_some((block.len() / ENTRY_LEN) as u64)
}

/// The root of the complete subtree over `leaves` (a power of two of them).
pub(crate) fn fold(mut level: Vec<Hash>) -> Hash {
    debug_assert!(level.len().is_power_of_two());
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// The cache writes for a run of records, staged before anything is written.
pub(crate) struct Staged {
    pub(crate) frontier: Frontier,
    pub(crate) chain: Hash,
    /// The first seq staged; entries before it in its block are in `prefix`.
    first: u64,
    /// The existing entries of the first block, before `first`.
    prefix: Vec<u8>,
    /// One entry per staged record.
    entries: Vec<u8>,
    pub(crate) nodes: sled::Batch,
}

impl Staged {
    /// Stages from `frontier` (of `frontier.size()` records) and its chain head, with the
    /// existing entries of the block that holds the next seq.
    pub(crate) fn new(frontier: Frontier, chain: Hash, prefix: Vec<u8>) -> Staged {
        debug_assert_eq!(
            prefix.len() as u64,
            (frontier.size() % BLOCK_LEN) * ENTRY_LEN as u64
        );
        let first = frontier.size();
        Staged {
            frontier,
            chain,
            first,
            prefix,
            entries: Vec::new(),
            nodes: sled::Batch::default(),
        }
    }

    /// Stages the next record.
    pub(crate) fn add(&mut self, record_bytes: &[u8]) {
        let leaf = leaf_hash(record_bytes);
        self.chain = chain_hash(&self.chain, record_bytes);
        self.entries.extend_from_slice(&leaf);
        self.entries.extend_from_slice(&self.chain);
        let nodes = &mut self.nodes;
        self.frontier.push(leaf, |level, index, hash| {
            if level >= STORED_LEVEL {
                nodes.insert(&node_key(level, index), &hash[..]);
            }
        });
    }

    /// The `hashes` batch: every block the staged records touch, written whole.
    pub(crate) fn hashes_batch(&self) -> sled::Batch {
        let mut batch = sled::Batch::default();
        let mut seq = self.first;
        let mut rest = self.entries.as_slice();
        let mut prefix = self.prefix.as_slice();
        while !rest.is_empty() {
            let room = (BLOCK_LEN - seq % BLOCK_LEN) as usize * ENTRY_LEN;
            let (this, next) = rest.split_at(room.min(rest.len()));
            let mut value = Vec::with_capacity(prefix.len() + this.len());
            value.extend_from_slice(prefix);
            value.extend_from_slice(this);
            batch.insert(&block_key(seq / BLOCK_LEN), value);
            seq += (this.len() / ENTRY_LEN) as u64;
            rest = next;
            prefix = &[];
        }
        batch
    }

    /// Continues staging after the staged writes were applied: the same frontier and chain,
    /// and as prefix the entries already written to the block that holds the next seq.
    pub(crate) fn rebase(self) -> Staged {
        let in_block = (self.frontier.size() % BLOCK_LEN) as usize * ENTRY_LEN;
        let mut written = self.prefix;
        written.extend_from_slice(&self.entries);
        let prefix = written[written.len().saturating_sub(in_block)..].to_vec();
        Staged::new(self.frontier, self.chain, prefix)
    }
}
