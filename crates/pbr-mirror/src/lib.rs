//! A verified mirror of an operator's log (DESIGN §7 "Every party keeps a verified mirror").
//!
//! A mirror is an ordinary ledger directory plus `MIRROR.json` ([`config`]): it is created
//! with the operator's origin ([`clone`]) and filled by [`pull`], which reads the operator's
//! C2SP `tlog-tiles` over HTTP ([`http`]) and believes nothing until it has checked it:
//! the checkpoint's log signature (and quorum, with a policy), its consistency with the
//! last checkpoint the mirror stored, the Merkle root of the local records plus the new
//! ones, and then every record again as a local append checks it (strict signature, every
//! admission rule), and every issued statement recomputed.
//!
//! Two validly signed checkpoints that disagree, or a signed log that holds a record breaking
//! an admission rule, are evidence against the operator: the mirror writes a file anyone can
//! check offline ([`evidence`], `docs/format.md` §11) and refuses the checkpoint.
//!
//! Architecture invariants:
//! - This crate is the only one that knows HTTP; nothing below it does.
//! - No clock, no environment: the caller passes the time (for the admission rule that
//!   refuses records from the future) and every path.
//! - Nothing is appended before the new records are proven to extend the local ones to the
//!   checkpoint's root; each appended chunk is a committed prefix, so a killed pull leaves a
//!   ledger that verifies, and the next pull resumes.
//! - Memory is bounded in the log's length: the new records are spooled to a file in the
//!   mirror's directory, then appended a chunk at a time.

#![warn(clippy::unwrap_used)]

pub mod config;
mod error;
pub mod evidence;
pub mod http;
mod pull;

pub use config::{MIRROR_FILE, MirrorConfig, is_mirror};
pub use error::MirrorError;
pub use evidence::{Evidence, LeafPair};
pub use http::{HttpError, HttpSource};
pub use pull::{PullReport, clone, pull};
