//! Errors of the log. Every message starts lowercase, has no trailing period and names the
//! sequence number, tree or file it is about.

use std::path::{Path, PathBuf};

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
    #[error(
        "event of {len} bytes exceeds the limit of 65429 bytes (a record is at most 65535 bytes)"
    )]
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
    #[error(
        "ledger is in use: {path} is locked by {} (give --wait SECONDS to wait for it)",
        holder.map_or_else(|| "another process".to_owned(), |pid| format!("process {pid}"))
    )]
    InUse {
        /// The lock file.
        path: PathBuf,
        /// The process id the holder wrote into it, when it did.
        holder: Option<u32>,
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
    /// sled found its own files damaged (or panicked reading them).
    #[error(
        "{} storage is damaged ({detail}); restore it from your latest export with: pbr \
         restore --from EXPORT.jsonl {}",
        whose(.dir.as_deref()), dir_or(.dir.as_deref())
    )]
    Corrupt {
        /// The ledger directory, when known.
        dir: Option<PathBuf>,
        /// What sled reported.
        detail: String,
    },
    /// sled holds less than, or something else than, what the ledger committed
    /// (`COMMITTED`, [`crate::account`]), or the account itself is missing or damaged.
    #[error(
        "ledger {}: {what}; restore it from your latest export with: pbr restore --from \
         EXPORT.jsonl {}",
        .dir.display(), .dir.display()
    )]
    Lost {
        /// The ledger directory.
        dir: PathBuf,
        /// What is missing or different, naming the records.
        what: String,
    },
    /// The file system is full.
    #[error("no space left on device writing {}", dir_or(.path.as_deref()))]
    NoSpace {
        /// The file or directory written, when known.
        path: Option<PathBuf>,
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
    /// The ledger is in format 1, which this version reads only to migrate it
    /// ([`crate::Log::migrate`]).
    #[error(
        "ledger {} is in format 1, which this pbr reads only to migrate it; migrate it with: pbr \
         migrate {}",
        .dir.display(), .dir.display()
    )]
    Format1 {
        /// The ledger directory.
        dir: PathBuf,
    },
    /// The ledger records a format above the one this version writes.
    #[error(
        "ledger {} is in format {format}, made by a newer pbr (this one reads format {}); use \
         that pbr",
        .dir.display(), crate::store::FORMAT
    )]
    NewerFormat {
        /// The ledger directory.
        dir: PathBuf,
        /// The format it records.
        format: u64,
    },
    /// A format-1 ledger that `pbr migrate` refuses: its records do not match its own
    /// format-1 hashes, checkpoints or account. It stays format 1.
    #[error(
        "cannot migrate ledger {}: {}{reason}",
        .dir.display(), .seq.map_or_else(String::new, |seq| format!("record at seq {seq}: "))
    )]
    Migration {
        /// The ledger directory.
        dir: PathBuf,
        /// The first bad sequence number, when one can be named.
        seq: Option<u64>,
        /// What does not match.
        reason: String,
    },
    /// A format-1 record that format 2 cannot hold (DESIGN §3: at most 65,535 bytes).
    #[error(
        "cannot migrate ledger {}: record at seq {seq} is {len} bytes, but a format-2 record is \
         at most 65535 bytes",
        .dir.display()
    )]
    TooLargeForFormat2 {
        /// The ledger directory.
        dir: PathBuf,
        /// The record's sequence number.
        seq: u64,
        /// Its length in bytes.
        len: usize,
    },
}

impl LogError {
    /// A filesystem error on `path`; a full disk is [`LogError::NoSpace`].
    pub fn io(path: &Path, source: std::io::Error) -> LogError {
        if is_no_space(&source) {
            return LogError::NoSpace {
                path: Some(path.to_owned()),
            };
        }
        LogError::Io {
            path: path.to_owned(),
            source,
        }
    }

    /// The same error, naming the ledger directory `dir` where it did not know it.
    pub fn in_ledger(self, dir: &Path) -> LogError {
        match self {
            LogError::Corrupt { dir: None, detail } => LogError::Corrupt {
                dir: Some(dir.to_owned()),
                detail,
            },
            LogError::NoSpace { path: None } => LogError::NoSpace {
                path: Some(dir.to_owned()),
            },
            other => other,
        }
    }
}

fn is_no_space(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::StorageFull || error.raw_os_error() == Some(28)
}

fn whose(dir: Option<&Path>) -> String {
    dir.map_or_else(
        || "the ledger's".to_owned(),
        |dir| format!("ledger {}: its", dir.display()),
    )
}

fn dir_or(path: Option<&Path>) -> String {
    path.map_or_else(|| "LEDGER".to_owned(), |path| path.display().to_string())
}

impl From<sled::Error> for LogError {
    fn from(error: sled::Error) -> LogError {
        match error {
            sled::Error::Corruption { at, .. } => LogError::Corrupt {
                dir: None,
                detail: match at {
                    Some(at) => format!("sled reports corruption at {at}"),
                    None => "sled reports corruption".to_owned(),
                },
            },
            sled::Error::Io(source) if is_no_space(&source) => LogError::NoSpace { path: None },
            // sled creates its own files when it opens; one missing later is a blob (a value
            // or page over 128 KiB) that was deleted: the data in it is gone.
            sled::Error::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
                LogError::Corrupt {
                    dir: None,
                    detail: format!("a file of sled's is missing: {source}"),
                }
            }
            other => LogError::Storage(other.to_string()),
        }
    }
}

/// An error of a C2SP `tlog-tiles` tree ([`crate::tiles`]): a path, a file, or the tree
/// the files make. Paths inside the tree are named as the spec writes them
/// (`tile/0/x001/234.p/5`); files of an export directory by their full path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TileError {
    /// A string that is not a C2SP tile path, or tile parameters that make none.
    #[error("not a tlog-tiles path: {path:?}: {reason}")]
    Path {
        /// The path (or the parameters) given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file the tree of the requested size needs is absent.
    #[error("{path} is missing")]
    Missing {
        /// The tile path.
        path: String,
    },
    /// A file with the wrong length or layout, or over the size limit.
    #[error("{path}: {reason}")]
    Malformed {
        /// The tile path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A well-formed file whose hashes or entries disagree with the tree (with the level
    /// above, the entries, or the root).
    #[error("{path}: {reason}")]
    Disagrees {
        /// The tile path, or the list of tile paths, at fault.
        path: String,
        /// How it disagrees.
        reason: String,
    },
    /// An export directory already holds a file that differs from what the tree gives.
    /// Nothing is overwritten.
    #[error("{}: {reason}; it was left as it is", .path.display())]
    Conflict {
        /// The file.
        path: PathBuf,
        /// How it differs.
        reason: String,
    },
    /// The records being written disagree with the tree they are written from.
    #[error("{0}")]
    Inconsistent(String),
    /// A size or index outside the tree, or too large to handle.
    #[error("{0}")]
    OutOfRange(String),
    /// A filesystem error.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An error of the log the tiles are written from, or of the caller's record callback.
    #[error("{0}")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}
