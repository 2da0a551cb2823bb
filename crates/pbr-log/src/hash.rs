//! The hash constructions of the log (DESIGN §3 "Hashes", format 2).
//!
//! The Merkle tree is RFC 6962 / RFC 9162 §2.1 with SHA-256, so that any transparency-log
//! tool can check it: `0x00` tags a leaf, `0x01` an interior node. The hash chain is BLAKE3
//! over the record bytes themselves, tagged `0x02`: the one thing a person recomputes by hand.
//!
//! [`v1`] keeps the retired format-1 constructions, which `pbr migrate` uses to check a
//! format-1 ledger against its own checkpoints before rebuilding it.

use sha2::{Digest, Sha256};

/// A 32-byte digest: SHA-256 in the tree, BLAKE3 in the chain.
pub type Hash = [u8; 32];

/// Domain tag of a Merkle leaf (RFC 9162 §2.1.1).
pub const LEAF_TAG: u8 = 0x00;
/// Domain tag of an interior Merkle node (RFC 9162 §2.1.1).
pub const NODE_TAG: u8 = 0x01;
/// Domain tag of a hash-chain link.
pub const CHAIN_TAG: u8 = 0x02;

/// The chain head of an empty log: `chain_(-1)`, 32 zero bytes.
pub const EMPTY_CHAIN: Hash = [0; 32];

/// The root of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1: `MTH({}) = HASH()`).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `leaf_i = SHA-256(0x00 ‖ record_bytes_i)`.
pub fn leaf_hash(record_bytes: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([LEAF_TAG]);
    hasher.update(record_bytes);
    hasher.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`, an interior node of the Merkle tree.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buffer = [0u8; 65];
    buffer[0] = NODE_TAG;
    buffer[1..33].copy_from_slice(left);
    buffer[33..].copy_from_slice(right);
    Sha256::digest(buffer).into()
}

/// `chain_i = BLAKE3(0x02 ‖ chain_(i−1) ‖ record_bytes_i)`.
pub fn chain_hash(previous: &Hash, record_bytes: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[CHAIN_TAG]);
    hasher.update(previous);
    hasher.update(record_bytes);
    *hasher.finalize().as_bytes()
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash {
    EMPTY_ROOT
}

/// The retired format-1 constructions: BLAKE3 everywhere, the chain over leaf hashes.
pub mod v1 {
    use super::{CHAIN_TAG, Hash, LEAF_TAG, NODE_TAG};

    /// `leaf_i = BLAKE3(0x00 ‖ record_bytes_i)`.
    pub fn leaf_hash(record_bytes: &[u8]) -> Hash {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&[LEAF_TAG]);
        hasher.update(record_bytes);
        *hasher.finalize().as_bytes()
    }

    /// `BLAKE3(0x01 ‖ left ‖ right)`.
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

    /// The root of the empty format-1 tree, `BLAKE3("")`.
    pub fn empty_root() -> Hash {
        *blake3::hash(b"").as_bytes()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_empty_root_is_sha256_of_nothing() {
        use sha2::Digest as _;
        let digest: super::Hash = sha2::Sha256::digest(b"").into();
        assert_eq!(super::EMPTY_ROOT, digest);
    }
}
