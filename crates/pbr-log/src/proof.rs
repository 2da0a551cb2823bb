//! Inclusion and consistency proofs in their JSON form (DESIGN §3 "Proofs").
//!
//! A proof is always made against a stored checkpoint of exactly its tree size, and embeds
//! that checkpoint's note, so whoever holds the proof holds the signed root it leads to.
//! Hashes are lowercase hex.

use serde::{Deserialize, Serialize};

use crate::error::LogError;
use crate::hash::Hash;
use crate::merkle;
use crate::note::{SignedCheckpoint, VerifierKey};
use crate::store::Log;

/// Serde adapters for hashes as lowercase hex.
pub mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::hash::Hash;

    /// Serializes a hash as hex.
    pub fn serialize<S: Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&crate::hex::encode(hash))
    }

    /// Deserializes a hash from 64 lowercase hex digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::hex::decode_hash(&text)
            .ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex digits"))
    }

    /// The same for a list of hashes.
    pub mod list {
        use serde::ser::SerializeSeq;
        use serde::{Deserialize, Deserializer, Serializer};

        use crate::hash::Hash;

        /// Serializes hashes as a list of hex strings.
        pub fn serialize<S: Serializer>(hashes: &[Hash], serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(hashes.len()))?;
            for hash in hashes {
                seq.serialize_element(&crate::hex::encode(hash))?;
            }
            seq.end()
        }

        /// Deserializes a list of hex strings.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<Hash>, D::Error> {
            let texts = Vec::<String>::deserialize(deserializer)?;
            texts
                .iter()
                .map(|t| {
                    crate::hex::decode_hash(t)
                        .ok_or_else(|| serde::de::Error::custom("expected 64 lowercase hex digits"))
                })
                .collect()
        }
    }
}

/// Why a proof does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

/// An inclusion proof, `pbr proof --seq N --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The seq of the record.
    pub leaf_index: u64,
    /// The tree size of the checkpoint.
    pub tree_size: u64,
    /// `leaf_i = SHA-256(0x00 ‖ record bytes)`.
    #[serde(with = "hex_hash")]
    pub leaf_hash: Hash,
    /// The RFC 9162 §2.1.3 path, deepest sibling first.
    #[serde(with = "hex_hash::list")]
    pub path: Vec<Hash>,
    /// The root the path leads to.
    #[serde(with = "hex_hash")]
    pub root: Hash,
    /// The signed note of the checkpoint of `tree_size`.
    pub checkpoint: String,
}

/// A consistency proof, `pbr proof --consistency --from A --to B --json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// The smaller tree size.
    pub first: u64,
    /// The larger tree size, that of the checkpoint.
    pub second: u64,
    /// The root of the first `first` records.
    #[serde(with = "hex_hash")]
    pub first_root: Hash,
    /// The root of the first `second` records.
    #[serde(with = "hex_hash")]
    pub second_root: Hash,
    /// The RFC 9162 §2.1.4 path.
    #[serde(with = "hex_hash::list")]
    pub path: Vec<Hash>,
    /// The signed note of the checkpoint of size `second`.
    pub checkpoint: String,
}

/// Parses the embedded note, checks it against `keys` and that it names `size` and `root`;
/// returns the names of the keys that signed.
fn check_embedded(
    note: &str,
    size: u64,
    root: &Hash,
    keys: &[VerifierKey],
) -> Result<Vec<String>, ProofError> {
    let note = SignedCheckpoint::parse(note).map_err(|e| ProofError(format!("checkpoint: {e}")))?;
    if note.checkpoint.size != size || note.checkpoint.root != *root {
        return Err(ProofError(
            "the embedded checkpoint is of another size or root".into(),
        ));
    }
    let signers = note
        .verify(keys)
        .map_err(|e| ProofError(format!("checkpoint: {e}")))?;
    if signers.is_empty() {
        return Err(ProofError(
            "the checkpoint has no signature from a trusted key".into(),
        ));
    }
    Ok(signers)
}

impl InclusionProof {
    /// Checks the path and the embedded checkpoint; returns who signed the checkpoint.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<String>, ProofError> {
        if !merkle::verify_inclusion(
            self.leaf_index,
            self.tree_size,
            &self.leaf_hash,
            &self.path,
            &self.root,
        ) {
            return Err(ProofError(
                "the inclusion path does not lead to the root".into(),
            ));
        }
        check_embedded(&self.checkpoint, self.tree_size, &self.root, keys)
    }
}

impl ConsistencyProof {
    /// Checks the path and the embedded checkpoint; returns who signed the checkpoint.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<String>, ProofError> {
        if !merkle::verify_consistency(
            self.first,
            self.second,
            &self.first_root,
            &self.second_root,
            &self.path,
        ) {
            return Err(ProofError(
                "the consistency path does not join the two roots".into(),
            ));
        }
        check_embedded(&self.checkpoint, self.second, &self.second_root, keys)
    }
}

impl Log {
    fn checkpoint_for(&self, size: Option<u64>) -> Result<SignedCheckpoint, LogError> {
        let note = match size {
            Some(size) => self.checkpoint_of_size(size)?,
            None => self.latest_checkpoint()?,
        };
        note.ok_or_else(|| {
            LogError::Checkpoint(match size {
                Some(size) => format!(
                    "no stored checkpoint of size {size}; proofs are made against a checkpoint \
                     (sign one with `pbr checkpoint sign`)"
                ),
                None => "no checkpoint yet (sign one with `pbr checkpoint sign`)".to_owned(),
            })
        })
    }

    /// The inclusion proof of `seq` against the checkpoint of `tree_size` (by default the
    /// latest checkpoint).
    pub fn inclusion_proof(
        &self,
        seq: u64,
        tree_size: Option<u64>,
    ) -> Result<InclusionProof, LogError> {
        let note = self.checkpoint_for(tree_size)?;
        let tree_size = note.checkpoint.size;
        let path = self.inclusion_path(seq, tree_size)?;
        let leaf_hash = crate::hash::leaf_hash(&self.read_bytes(seq)?);
        Ok(InclusionProof {
            leaf_index: seq,
            tree_size,
            leaf_hash,
            path,
            root: note.checkpoint.root,
            checkpoint: note.to_text(),
        })
    }

    /// The consistency proof from `first` to the checkpoint of size `second` (by default the
    /// latest checkpoint).
    pub fn consistency_proof(
        &self,
        first: u64,
        second: Option<u64>,
    ) -> Result<ConsistencyProof, LogError> {
        let note = self.checkpoint_for(second)?;
        let second = note.checkpoint.size;
        let path = self.consistency_path(first, second)?;
        Ok(ConsistencyProof {
            first,
            second,
            first_root: self.root_at(first)?,
            second_root: note.checkpoint.root,
            path,
            checkpoint: note.to_text(),
        })
    }
}
