//! Errors of the mirror, in kinds the CLI maps to exit codes.

use std::path::PathBuf;

use pbr_ledger::LedgerError;
use pbr_log::TileError;

use crate::http::HttpError;

/// What went wrong with a clone or a pull. Nothing is appended when any of these is
/// returned before the new records were proven to extend the mirror's; after that, the
/// mirror holds a committed prefix of them and the next pull resumes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MirrorError {
    /// `MIRROR.json`, a policy, a key or a token file is missing or malformed.
    #[error("{}: {reason}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The server could not be reached, refused the token, or answered with an error.
    #[error(transparent)]
    Network(#[from] HttpError),
    /// What the server served does not verify: a checkpoint or tile that is malformed or
    /// disagrees with the signed root. Nothing was appended.
    #[error("the server's log does not verify: {0}")]
    Tiles(TileError),
    /// The checkpoint is not signed by the log key, lacks the quorum, or is of another log.
    #[error("checkpoint refused: {0}")]
    Untrusted(String),
    /// The server's checkpoint is older than the one the mirror stored, and consistent with
    /// it: a replay, not evidence.
    #[error(
        "rollback: the server's checkpoint is of size {served}, smaller than the size {stored} \
         this mirror already verified; nothing was changed"
    )]
    Rollback {
        /// The size of the mirror's latest stored checkpoint.
        stored: u64,
        /// The size the server served.
        served: u64,
    },
    /// Two validly signed, inconsistent checkpoints: the evidence was written to `file`.
    #[error("fork: {reason}; evidence written to {}", .file.display())]
    Fork {
        /// The evidence file.
        file: PathBuf,
        /// What disagrees.
        reason: String,
    },
    /// A validly signed log holds a record that breaks an admission rule: the evidence was
    /// written to `file`; the mirror holds the records before it.
    #[error("record at seq {seq} breaks an admission rule: {reason}; evidence written to {}", .file.display())]
    Rule {
        /// The record's index.
        seq: u64,
        /// The rule's reason.
        reason: String,
        /// The evidence file.
        file: PathBuf,
    },
    /// An issued statement does not recompute from the log.
    #[error("{0}")]
    Audit(String),
    /// The mirror's ledger refused or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A file of the mirror could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<TileError> for MirrorError {
    /// A tile error whose cause is the transport is a network error; any other is a log that
    /// does not verify.
    fn from(error: TileError) -> MirrorError {
        match error {
            TileError::Source(source) => match source.downcast::<HttpError>() {
                Ok(http) => MirrorError::Network(*http),
                Err(other) => MirrorError::Tiles(TileError::Source(other)),
            },
            other => MirrorError::Tiles(other),
        }
    }
}

impl From<pbr_log::LogError> for MirrorError {
    fn from(error: pbr_log::LogError) -> MirrorError {
        MirrorError::Ledger(LedgerError::Log(error))
    }
}
