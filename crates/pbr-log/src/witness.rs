//! A C2SP `tlog-witness`: cosign a checkpoint only if it is consistent with the last one
//! this witness cosigned for the same log (DESIGN §3 "Checkpoint", §7 "Every party is a
//! witness").
//!
//! [`Witness::add_checkpoint`] is the whole rule of the protocol's `add-checkpoint` call, with
//! its outcomes as the HTTP statuses the spec gives them, so the local command
//! (`pbr witness cosign`) and a network witness serve the same rule. The witness's memory is
//! a directory holding, per origin, the size and root it last cosigned; checking the old size
//! and recording the new one happen under an exclusive lock, so two requests can never roll
//! each other back.
//!
//! Invariant: a cosignature is returned only after the new size and root are durably
//! recorded.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::hash::{EMPTY_ROOT, Hash};
use crate::merkle::verify_consistency;
use crate::note::{SignedCheckpoint, SignerKey, VerifierKey};

/// The most consistency proof lines a request may carry (C2SP tlog-witness).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest `add-checkpoint` request body read.
pub const MAX_REQUEST_LEN: usize = 64 * 1024;

/// Why a witness refused to cosign, with the HTTP status `tlog-witness` gives it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum WitnessError {
    /// 400: the request is malformed, or its old size is above the checkpoint's.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404: the witness does not know the checkpoint's origin.
    #[error("unknown log {0}")]
    UnknownLog(String),
    /// 403: no valid signature from the log's key, or a signature from it that fails.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 409: the old size is not the size this witness last cosigned for the log.
    #[error("old size {given} is not the last size this witness cosigned ({latest})")]
    Conflict {
        /// The old size the request gave.
        given: u64,
        /// The size this witness last cosigned (0 if none).
        latest: u64,
    },
    /// 422: the checkpoint is not consistent with what the witness cosigned before.
    #[error("inconsistent: {0}")]
    Inconsistent(String),
    /// 500: the witness's own state could not be read or written.
    #[error("witness state {path}: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl WitnessError {
    /// The HTTP status of this refusal in C2SP `tlog-witness`.
    pub fn status(&self) -> u16 {
        match self {
            WitnessError::BadRequest(_) => 400,
            WitnessError::Forbidden(_) => 403,
            WitnessError::UnknownLog(_) => 404,
            WitnessError::Conflict { .. } => 409,
            WitnessError::Inconsistent(_) => 422,
            WitnessError::State { .. } => 500,
        }
    }
}

/// An `add-checkpoint` request: old size, consistency proof, checkpoint note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the last checkpoint the client believes the witness cosigned.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The checkpoint note text, with at least the log's signature.
    pub checkpoint: String,
}

impl AddCheckpoint {
    /// The request body: `old <size>\n`, one base64 hash per line, a blank line, the note.
    pub fn to_text(&self) -> String {
        let mut text = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            text.push_str(&BASE64.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a request body strictly.
    pub fn parse(body: &str) -> Result<AddCheckpoint, WitnessError> {
        let bad = |m: &str| WitnessError::BadRequest(m.to_owned());
        if body.len() > MAX_REQUEST_LEN {
            return Err(bad("request body is too large"));
        }
        let Some((head, checkpoint)) = body.split_once("\n\n") else {
            return Err(bad("no blank line between the proof and the checkpoint"));
        };
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .and_then(parse_decimal)
            .ok_or_else(|| bad("the first line must be `old <size>`"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let hash: Hash = BASE64
                .decode(line)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| bad("a proof line is not a base64 SHA-256 hash"))?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }
}

fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// A witness: its key, the logs it witnesses, and the directory that remembers what it
/// cosigned.
#[derive(Debug)]
pub struct Witness {
    key: SignerKey,
    logs: Vec<VerifierKey>,
    dir: PathBuf,
}

/// What a witness last cosigned for one origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The tree size.
    pub size: u64,
    /// The root at that size.
    pub root: Hash,
}

impl Witness {
    /// A witness with `key` (a type-`0x04` key) for the logs whose keys are `logs` (each
    /// named after its origin), remembering what it cosigned in `dir` (created if missing).
    pub fn open(
        key: SignerKey,
        logs: Vec<VerifierKey>,
        dir: &Path,
    ) -> Result<Witness, WitnessError> {
        if !key.is_witness() {
            return Err(WitnessError::BadRequest(format!(
                "{} is not a witness key (type 0x04)",
                key.name()
            )));
        }
        std::fs::create_dir_all(dir).map_err(|e| state_error(dir, &e))?;
        Ok(Witness {
            key,
            logs,
            dir: dir.to_owned(),
        })
    }

    /// The witness's verifier key (type `0x04`).
    pub fn verifier_key(&self) -> VerifierKey {
        self.key.verifier_key()
    }

    /// The state file of an origin: `<hex SHA-256(origin)>`.
    fn file(&self, origin: &str) -> PathBuf {
        self.dir
            .join(crate::hex::encode(&Sha256::digest(origin.as_bytes())))
    }

    /// What this witness last cosigned for `origin`, if anything.
    pub fn latest(&self, origin: &str) -> Result<Option<Cosigned>, WitnessError> {
        let path = self.file(origin);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(state_error(&path, &e)),
        };
        let corrupt = || WitnessError::State {
            path: path.clone(),
            reason: "not `<origin>\\n<size>\\n<base64 root>\\n`".into(),
        };
        let mut lines = text.split('\n');
        let (Some(stored), Some(size), Some(root), Some(""), None) = (
            lines.next(),
            lines.next(),
            lines.next(),
            lines.next(),
            lines.next(),
        ) else {
            return Err(corrupt());
        };
        if stored != origin {
            return Err(corrupt());
        }
        let size = parse_decimal(size).ok_or_else(corrupt)?;
        let root: Hash = BASE64
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(corrupt)?;
        Ok(Some(Cosigned { size, root }))
    }

    /// The `add-checkpoint` rule: verify the log's signature, check the old size against
    /// what this witness last cosigned, check consistency, record the new size and root,
    /// and return the cosigned note. `timestamp` is the cosignature's time (Unix seconds,
    /// from the caller: this crate reads no clock).
    pub fn add_checkpoint(
        &self,
        request: &AddCheckpoint,
        timestamp: u64,
    ) -> Result<SignedCheckpoint, WitnessError> {
        let mut note = SignedCheckpoint::parse(&request.checkpoint)
            .map_err(|e| WitnessError::BadRequest(format!("checkpoint: {e}")))?;
        let origin = note.checkpoint.origin.clone();
        let logs: Vec<VerifierKey> = self
            .logs
            .iter()
            .filter(|k| k.name == origin && !k.is_witness())
            .cloned()
            .collect();
        if logs.is_empty() {
            return Err(WitnessError::UnknownLog(origin));
        }
        match note.signers(&logs) {
            Ok(signers) if !signers.is_empty() => {}
            Ok(_) => {
                return Err(WitnessError::Forbidden(format!(
                    "no signature from the log key of {origin}"
                )));
            }
            Err(e) => return Err(WitnessError::Forbidden(e.to_string())),
        }
        let (size, root) = (note.checkpoint.size, note.checkpoint.root);
        if request.old_size > size {
            return Err(WitnessError::BadRequest(format!(
                "old size {} is above the checkpoint's size {size}",
                request.old_size
            )));
        }
        // Check and record under one lock: no interleaving request can roll the size back.
        let lock = self.lock()?;
        let latest = self.latest(&origin)?;
        let latest_size = latest.map_or(0, |c| c.size);
        if request.old_size != latest_size {
            return Err(WitnessError::Conflict {
                given: request.old_size,
                latest: latest_size,
            });
        }
        if size == 0 && root != EMPTY_ROOT {
            return Err(WitnessError::Inconsistent(
                "a checkpoint of size 0 must have the empty tree's root".into(),
            ));
        }
        match latest {
            None => {
                if !request.proof.is_empty() {
                    return Err(WitnessError::Inconsistent(
                        "the proof from size 0 must be empty".into(),
                    ));
                }
            }
            Some(before) if before.size == size => {
                if before.root != root {
                    return Err(WitnessError::Inconsistent(format!(
                        "size {size} was cosigned with another root: the log forked"
                    )));
                }
            }
            Some(before) => {
                let consistent = if before.size == 0 {
                    request.proof.is_empty()
                } else {
                    verify_consistency(before.size, size, &before.root, &root, &request.proof)
                };
                if !consistent {
                    return Err(WitnessError::Inconsistent(format!(
                        "the proof does not show size {size} extends the cosigned size {}",
                        before.size
                    )));
                }
            }
        }
        self.record(&origin, size, &root)?;
        drop(lock);
        note.cosign(&self.key, timestamp)
            .map_err(|e| WitnessError::BadRequest(e.to_string()))?;
        Ok(note)
    }

    fn lock(&self) -> Result<File, WitnessError> {
        let path = self.dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| state_error(&path, &e))?;
        file.lock().map_err(|e| state_error(&path, &e))?;
        Ok(file)
    }

    /// Writes `<origin>\n<size>\n<base64 root>\n` durably: a temporary file, synced, renamed
    /// over the old one, and the directory synced.
    fn record(&self, origin: &str, size: u64, root: &Hash) -> Result<(), WitnessError> {
        let path = self.file(origin);
        let temporary = path.with_extension("tmp");
        let text = format!("{origin}\n{size}\n{}\n", BASE64.encode(root));
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| state_error(&path, &e))
    }
}

fn state_error(path: &Path, error: &std::io::Error) -> WitnessError {
    WitnessError::State {
        path: path.to_owned(),
        reason: error.to_string(),
    }
}
