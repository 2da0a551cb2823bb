//! Errors of the log. Every message starts lowercase, has no trailing period and names the
//! sequence number, tree or file it is about.

use std::path::PathBuf;

/// A record that cannot be decoded or whose signature does not hold.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordError {
    /// The format version is not 1.
    #[error("record format version {version} is not supported (only 1)")]
    Version {
        /// The version found.
        version: u16,
    },
    /// The bytes are not a well-formed record.
    #[error("malformed record: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The event is larger than [`crate::record::MAX_EVENT_LEN`].
    #[error("event of {len} bytes exceeds the limit of 1048576 bytes")]
    TooLarge {
        /// The event length.
        len: usize,
    },
    /// The public key is not a canonical encoding of a curve point.
    #[error("public key is not a canonical Ed25519 point")]
    BadPublicKey,
    /// The signature does not verify strictly.
    #[error("signature does not verify")]
    BadSignature,
}

/// An error of the stored log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Another process holds the ledger's `LOCK` file.
    #[error("ledger is in use: {path} is locked by another process")]
    InUse {
        /// The lock file.
        path: PathBuf,
    },
    /// The directory holds no ledger.
    #[error("no ledger at {path} (create one with `pbr init`)")]
    NotALedger {
        /// The directory.
        path: PathBuf,
    },
    /// The directory already holds a ledger.
    #[error("a ledger already exists at {path}")]
    AlreadyExists {
        /// The directory.
        path: PathBuf,
    },
    /// A filesystem error.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// sled found its own files damaged.
    #[error(
        "ledger storage is corrupt ({detail}); to recover, create a new ledger, re-import the \
         last export into it and run `pbr verify`"
    )]
    Corrupt {
        /// What sled reported.
        detail: String,
    },
    /// Any other sled error.
    #[error("ledger storage error: {0}")]
    Storage(String),
    /// A stored record fails its checks on read.
    #[error("record at seq {seq}: {source}")]
    BadRecord {
        /// The sequence number.
        seq: u64,
        /// The cause.
        source: RecordError,
    },
    /// A record offered for appending fails its checks; nothing was written.
    #[error("record {index} of the batch: {source}")]
    Rejected {
        /// The position in the batch.
        index: usize,
        /// The cause.
        source: RecordError,
    },
    /// A stored structure disagrees with another; the log needs `pbr verify`.
    #[error("inconsistent ledger: {0}")]
    Inconsistent(String),
    /// A request outside the log (a seq or tree size beyond the end, for instance).
    #[error("{0}")]
    OutOfRange(String),
    /// A checkpoint note that is malformed or does not match the log.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl From<sled::Error> for LogError {
    fn from(error: sled::Error) -> LogError {
        match error {
            sled::Error::Corruption { at, .. } => LogError::Corrupt {
                detail: match at {
                    Some(at) => format!("sled reports corruption at {at}"),
                    None => "sled reports corruption".to_owned(),
                },
            },
            other => LogError::Storage(other.to_string()),
        }
    }
}
