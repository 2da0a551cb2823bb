//! Errors of the ledger facade.

use pbr_log::note::NoteError;
use pbr_log::{LogError, VerifyError};

/// What went wrong, in kinds the CLI maps to exit codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The log refused or failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Verification found a bad record, cache or checkpoint.
    #[error("verification failed: {0}")]
    Verify(#[from] VerifyError),
    /// A key or note given by the user is malformed.
    #[error("{context}: {source}")]
    Note {
        /// Which input.
        context: String,
        /// The cause.
        source: NoteError,
    },
    /// A checkpoint given by the user does not match this ledger.
    #[error("{0}")]
    Mismatch(String),
    /// An input that cannot be appended; nothing of its batch was written.
    #[error("{0}")]
    Rejected(#[from] crate::append::Rejected),
    /// A question the domain cannot answer as asked: an unknown contract, a period already
    /// settled, terms that do not settle by that period.
    #[error("{0}")]
    Domain(String),
    /// An event in the log does not decode or fold; the projections cannot be built.
    #[error("event at seq {seq}: {reason}")]
    Projection {
        /// The seq.
        seq: u64,
        /// Why.
        reason: String,
    },
}
