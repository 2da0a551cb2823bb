//! The tamper-evident event log of a `pbr` ledger.
//!
//! It stores signed records in sled as an append-only, hash-chained, Merkle-committed log,
//! and makes everything an outside auditor needs to check it without our code: inclusion
//! and consistency proofs, co-signed checkpoints, and a streamed export. Every byte it
//! promises is specified in `docs/format.md` (DESIGN §3).
//!
//! Architecture invariant: this crate never knows what an event means. Event bytes are
//! opaque; decoding them for an export is a function the caller passes in.

#![warn(clippy::unwrap_used)]

pub mod account;
mod cache;
mod durable;
pub mod error;
pub mod export;
pub mod hash;
pub mod hex;
pub mod merkle;
pub mod migrate;
pub mod note;
pub mod notice;
pub mod policy;
pub mod proof;
pub mod record;
pub mod restore;
pub mod store;
pub mod tiles;
pub mod tlog_proof;
pub mod verify;
pub mod witness;

pub use error::{LogError, RecordError, TileError};
pub use hash::Hash;
pub use migrate::MigrateSummary;
pub use note::{Checkpoint, SignedCheckpoint, SignerKey, VerifierKey};
pub use proof::{ConsistencyProof, InclusionProof};
pub use record::Record;
pub use store::{Appended, Batch, Log, panic_is_contained};
pub use tlog_proof::{TlogProof, TlogProofError};
pub use verify::{KeySource, VerifyError, VerifyOptions, VerifyReport};
