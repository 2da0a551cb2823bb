//! Evidence against an operator (`docs/format.md` §11): a file anyone can check offline
//! with the log's verifier key, and nothing else.
//!
//! - A **fork**: two notes validly signed by the log key that cannot both describe one
//!   append-only log. Conclusive form: for one index `k` below both sizes, the old tree's
//!   leaf hash at `k` with its inclusion proof against the old note's root, and the new
//!   tree's with its proof against the new note's root, the two leaves differing. Two notes
//!   of the same size with different roots are conclusive alone.
//! - An **admission rule** broken: a note, a record included under it (bytes, index,
//!   inclusion proof) whose signature verifies, and the rule's one-line reason. The
//!   inclusion and the signature are checked here; the rule itself needs the records before
//!   it, which the operator must produce to dispute it.

use pbr_log::hash::leaf_hash;
use pbr_log::merkle::verify_inclusion;
use pbr_log::policy::Policy;
use pbr_log::{Hash, Record, SignedCheckpoint, hex};
use serde::{Deserialize, Serialize};

/// A leaf pair before it is written: `(k, old leaf, old path, new leaf, new path)`.
pub type ProvenLeaves = (u64, Hash, Vec<Hash>, Hash, Vec<Hash>);

/// The format version of an evidence file.
pub const EVIDENCE_FORMAT: u32 = 1;

/// One index's leaf in two trees, each with its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeafPair {
    /// The index `k`, below both tree sizes.
    pub leaf_index: u64,
    /// The old tree's leaf hash at `k` (hex).
    pub old_leaf_hash: String,
    /// Its inclusion proof against the old note's root (hex, deepest sibling first).
    pub old_path: Vec<String>,
    /// The new tree's leaf hash at `k` (hex).
    pub new_leaf_hash: String,
    /// Its inclusion proof against the new note's root.
    pub new_path: Vec<String>,
}

/// An evidence file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// Two validly signed, inconsistent checkpoints.
    Fork {
        /// [`EVIDENCE_FORMAT`].
        format: u32,
        /// The note the mirror held.
        old_checkpoint: String,
        /// The note the server served.
        new_checkpoint: String,
        /// A leaf on which they differ, when one was found.
        leaves: Option<LeafPair>,
    },
    /// A record in a validly signed log that breaks an admission rule.
    AdmissionRule {
        /// [`EVIDENCE_FORMAT`].
        format: u32,
        /// The note whose tree includes the record.
        checkpoint: String,
        /// The record's index.
        leaf_index: u64,
        /// The record bytes (hex).
        record_hex: String,
        /// Its inclusion proof against the note's root.
        path: Vec<String>,
        /// The rule, as the mirror's admission check named it.
        reason: String,
    },
}

fn hashes_hex(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| hex::encode(h)).collect()
}

fn hashes_of(hexes: &[String], what: &str) -> Result<Vec<Hash>, String> {
    hexes
        .iter()
        .map(|h| hex::decode_hash(h).ok_or_else(|| format!("{what}: {h:?} is not a hash")))
        .collect()
}

impl Evidence {
    /// A fork of `old` and `new`, with the leaf pair when one was found.
    pub fn fork(
        old: &SignedCheckpoint,
        new: &SignedCheckpoint,
        leaves: Option<ProvenLeaves>,
    ) -> Evidence {
        Evidence::Fork {
            format: EVIDENCE_FORMAT,
            old_checkpoint: old.to_text(),
            new_checkpoint: new.to_text(),
            leaves: leaves.map(
                |(leaf_index, old_leaf, old_path, new_leaf, new_path)| LeafPair {
                    leaf_index,
                    old_leaf_hash: hex::encode(&old_leaf),
                    old_path: hashes_hex(&old_path),
                    new_leaf_hash: hex::encode(&new_leaf),
                    new_path: hashes_hex(&new_path),
                },
            ),
        }
    }

    /// A record at `leaf_index` of `note`'s tree that breaks a rule for `reason`.
    pub fn admission_rule(
        note: &SignedCheckpoint,
        leaf_index: u64,
        record: &[u8],
        path: &[Hash],
        reason: &str,
    ) -> Evidence {
        Evidence::AdmissionRule {
            format: EVIDENCE_FORMAT,
            checkpoint: note.to_text(),
            leaf_index,
            record_hex: hex::encode(record),
            path: hashes_hex(path),
            reason: reason.to_owned(),
        }
    }

    /// Checks the evidence against `trust` (whose log key must have signed every note) and
    /// says what it proves, or why it proves nothing.
    pub fn verify(&self, trust: &Policy) -> Result<String, String> {
        let note = |text: &str, which: &str| -> Result<SignedCheckpoint, String> {
            let note = SignedCheckpoint::parse(text).map_err(|e| format!("{which}: {}", e.0))?;
            trust
                .check(&note)
                .map_err(|e| format!("{which}: {}", e.0))?;
            Ok(note)
        };
        match self {
            Evidence::Fork {
                format,
                old_checkpoint,
                new_checkpoint,
                leaves,
            } => {
                check_format(*format)?;
                let old = note(old_checkpoint, "old_checkpoint")?;
                let new = note(new_checkpoint, "new_checkpoint")?;
                let (old_body, new_body) = (&old.checkpoint, &new.checkpoint);
                if old_body.origin != new_body.origin {
                    return Err(format!(
                        "the notes are of two logs ({} and {})",
                        old_body.origin, new_body.origin
                    ));
                }
                let sizes = format!(
                    "the log {} signed a tree of size {} (root {}) and a tree of size {} \
                     (root {})",
                    old_body.origin,
                    old_body.size,
                    hex::encode(&old_body.root),
                    new_body.size,
                    hex::encode(&new_body.root)
                );
                match leaves {
                    Some(pair) => {
                        let k = pair.leaf_index;
                        let old_leaf = hex::decode_hash(&pair.old_leaf_hash)
                            .ok_or("old_leaf_hash is not a hash")?;
                        let new_leaf = hex::decode_hash(&pair.new_leaf_hash)
                            .ok_or("new_leaf_hash is not a hash")?;
                        let old_path = hashes_of(&pair.old_path, "old_path")?;
                        let new_path = hashes_of(&pair.new_path, "new_path")?;
                        if old_leaf == new_leaf {
                            return Err(format!("the two leaves at seq {k} are the same"));
                        }
                        if !verify_inclusion(k, old_body.size, &old_leaf, &old_path, &old_body.root)
                        {
                            return Err(format!(
                                "the old leaf at seq {k} is not included under the old root"
                            ));
                        }
                        if !verify_inclusion(k, new_body.size, &new_leaf, &new_path, &new_body.root)
                        {
                            return Err(format!(
                                "the new leaf at seq {k} is not included under the new root"
                            ));
                        }
                        Ok(format!(
                            "fork: {sizes}, which hold different records at seq {k} (leaf {} and \
                             leaf {}): no append-only log has both",
                            pair.old_leaf_hash, pair.new_leaf_hash
                        ))
                    }
                    None if old_body.size == new_body.size && old_body.root != new_body.root => {
                        Ok(format!(
                            "fork: {sizes}: two roots for one size, so no append-only log has both"
                        ))
                    }
                    None => Err(
                        "without a leaf pair, only two notes of one size with different roots \
                         prove a fork"
                            .to_owned(),
                    ),
                }
            }
            Evidence::AdmissionRule {
                format,
                checkpoint,
                leaf_index,
                record_hex,
                path,
                reason,
            } => {
                check_format(*format)?;
                let note = note(checkpoint, "checkpoint")?;
                let body = &note.checkpoint;
                let bytes = hex::decode(record_hex).ok_or("record_hex is not hex")?;
                let path = hashes_of(path, "path")?;
                if !verify_inclusion(
                    *leaf_index,
                    body.size,
                    &leaf_hash(&bytes),
                    &path,
                    &body.root,
                ) {
                    return Err(format!(
                        "the record is not included at seq {leaf_index} under the note's root"
                    ));
                }
                let signature = match Record::decode(&bytes).map(|record| record.verify()) {
                    Ok(Ok(())) => "its author's signature verifies".to_owned(),
                    Ok(Err(e)) => format!("its signature does not verify ({e})"),
                    Err(e) => format!("it does not decode as a record ({e})"),
                };
                Ok(format!(
                    "admission rule: the log {} included at seq {leaf_index} of its tree of \
                     size {} a record that the mirror refused ({reason}); {signature}; the rule \
                     is checked by replaying the records before it",
                    body.origin, body.size
                ))
            }
        }
    }
}

fn check_format(format: u32) -> Result<(), String> {
    if format == EVIDENCE_FORMAT {
        Ok(())
    } else {
        Err(format!(
            "evidence format {format} is not {EVIDENCE_FORMAT}, the one this pbr reads"
        ))
    }
}
