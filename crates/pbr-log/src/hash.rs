//! The three BLAKE3 hash constructions of the log (DESIGN §3 "Hashes").
//!
//! Each construction starts with its own one-byte domain tag, so a leaf can never be
//! mistaken for an interior node or a chain link:
//! `0x00` leaf, `0x01` interior Merkle node, `0x02` chain link.

/// A 32-byte BLAKE3 digest.
pub type Hash = [u8; 32];

/// Domain tag of a Merkle leaf (RFC 9162 §2.1.1).
pub const LEAF_TAG: u8 = 0x00;
/// Domain tag of an interior Merkle node (RFC 9162 §2.1.1).
pub const NODE_TAG: u8 = 0x01;
/// Domain tag of a hash-chain link.
pub const CHAIN_TAG: u8 = 0x02;

/// The chain head of an empty log: `chain_(-1)`, 32 zero bytes.
pub const EMPTY_CHAIN: Hash = [0; 32];

/// `leaf_i = BLAKE3(0x00 ‖ record_bytes_i)`.
pub fn leaf_hash(record_bytes: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[LEAF_TAG]);
    hasher.update(record_bytes);
    *hasher.finalize().as_bytes()
}

/// `BLAKE3(0x01 ‖ left ‖ right)`, an interior node of the Merkle tree.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buffer = [0u8; 65];
    buffer[0] = NODE_TAG;
    buffer[1..33].copy_from_slice(left);
    buffer[33..].copy_from_slice(right);
    *blake3::hash(&buffer).as_bytes()
}

/// `chain_i = BLAKE3(0x02 ‖ chain_(i−1) ‖ leaf_i)`.
pub fn chain_hash(previous: &Hash, leaf: &Hash) -> Hash {
    let mut buffer = [0u8; 65];
    buffer[0] = CHAIN_TAG;
    buffer[1..33].copy_from_slice(previous);
    buffer[33..].copy_from_slice(leaf);
    *blake3::hash(&buffer).as_bytes()
}

/// The root of the empty tree, `BLAKE3("")` (RFC 9162 §2.1.1: `MTH({}) = HASH()`).
pub fn empty_root() -> Hash {
    *blake3::hash(b"").as_bytes()
}
