//! The one writer: a thread that owns the [`Ledger`] and takes commands from a bounded
//! queue (DESIGN §7, `docs/decisions.md` "One sequencer thread").
//!
//! Invariants:
//! - Only this thread touches the ledger, so batches never interleave and the id index is
//!   consistent; it holds the directory's lock for as long as the server runs, and closes
//!   the ledger when it stops.
//! - An append is answered only after [`Ledger::append`] returned, which commits the batch
//!   with a durable flush (`pbr_log::durable`: sled's flush, then `fsync` of the database
//!   file and its directory), so an acknowledged record survives a crash.
//! - Publishing writes the tiles of the signed checkpoint, then the `checkpoint` file last
//!   (`pbr_log::tiles::write_tiles`), and only then tells the readers its size; a reader
//!   never sees a checkpoint whose tiles are not all on disk.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use pbr_ledger::{Input, Ledger, LedgerError, LogError, SignedCheckpoint, SignerKey};
use tokio::sync::{mpsc, oneshot};

use crate::framing::Submitted;

/// The checkpoint readers see, and its text byte for byte as `DIR/server/tiles/checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The tree size.
    pub size: u64,
    /// The signed note.
    pub text: String,
}

/// What the readers share with the sequencer: the published checkpoint.
pub(crate) type Shared = Arc<RwLock<Option<Published>>>;

/// An accepted batch: the log's size after it and, per record of the body, its index and
/// whether it is new.
#[derive(Clone, Debug)]
pub(crate) struct Added {
    pub(crate) size: u64,
    pub(crate) records: Vec<(u64, bool)>,
}

/// Why a command failed.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// An admission rule refused a record: one line, `record I: rule: …` (422).
    Rejected(String),
    /// Storage or another internal failure (500, logged).
    Internal(String),
}

/// The answer to a receipt request.
#[derive(Clone, Debug)]
pub(crate) enum Receipt {
    /// The `tlog-proof@v1` text.
    Proof(String),
    /// The record exists, but no published checkpoint covers it yet.
    NotYet,
    /// There is no record at that index.
    NoRecord,
}

/// A command to the sequencer.
pub(crate) enum Command {
    /// Append the records of one body as one batch.
    Add {
        records: Vec<Submitted>,
        now_micros: i64,
        reply: oneshot::Sender<Result<Added, Failure>>,
    },
    /// Sign and publish a checkpoint of the whole log; with `only_if_grown`, only when the
    /// log is larger than the published checkpoint.
    Checkpoint {
        only_if_grown: bool,
        reply: Option<oneshot::Sender<Result<Published, Failure>>>,
    },
    /// The receipt of the record at `index` against the published checkpoint.
    Receipt {
        index: u64,
        reply: oneshot::Sender<Result<Receipt, Failure>>,
    },
    /// Stop: close the ledger and end the thread.
    Shutdown,
}

/// How many commands may wait; a full queue makes handlers wait, never grow memory.
pub(crate) const QUEUE: usize = 64;

/// The running sequencer.
pub(crate) struct Sequencer {
    pub(crate) sender: mpsc::Sender<Command>,
    pub(crate) thread: std::thread::JoinHandle<Result<(), LedgerError>>,
}

/// Opens the ledger on a new thread and starts taking commands. Returns once the ledger is
/// open (or failed to open: a second server is refused here, by the ledger's lock), and the
/// checkpoint already published in `tiles`, if any, agrees with it.
pub(crate) fn start(
    ledger_dir: PathBuf,
    tiles: PathBuf,
    key: SignerKey,
    shared: Shared,
) -> Result<Sequencer, crate::ServerError> {
    let (sender, mut receiver) = mpsc::channel::<Command>(QUEUE);
    let (opened_tx, opened_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("pbr-sequencer".to_owned())
        .spawn(move || -> Result<(), LedgerError> {
            let state = match Sequencing::open(&ledger_dir, tiles, key, shared) {
                Ok(state) => {
                    let _ = opened_tx.send(Ok(()));
                    state
                }
                Err(error) => {
                    let _ = opened_tx.send(Err(error));
                    return Ok(());
                }
            };
            let mut state = state;
            while let Some(command) = receiver.blocking_recv() {
                match command {
                    Command::Add {
                        records,
                        now_micros,
                        reply,
                    } => {
                        let _ = reply.send(state.add(records, now_micros));
                    }
                    Command::Checkpoint {
                        only_if_grown,
                        reply,
                    } => {
                        let result = state.checkpoint(only_if_grown);
                        if let Err(Failure::Internal(error)) = &result {
                            tracing::error!("publishing a checkpoint: {error}");
                        }
                        if let Some(reply) = reply {
                            let _ = reply.send(result);
                        }
                    }
                    Command::Receipt { index, reply } => {
                        let _ = reply.send(state.receipt(index));
                    }
                    Command::Shutdown => break,
                }
            }
            // Whatever is still queued is refused: the handlers answer 503.
            receiver.close();
            state.ledger.close()
        })
        .map_err(|e| crate::ServerError::Io(format!("cannot start the sequencer thread: {e}")))?;
    match opened_rx.recv() {
        Ok(Ok(())) => Ok(Sequencer { sender, thread }),
        Ok(Err(error)) => {
            let _ = thread.join();
            Err(error)
        }
        Err(_) => {
            let _ = thread.join();
            Err(crate::ServerError::Io(
                "the sequencer thread ended before opening the ledger".to_owned(),
            ))
        }
    }
}

/// The sequencer's state.
struct Sequencing {
    ledger: Ledger,
    tiles: PathBuf,
    key: SignerKey,
    shared: Shared,
}

fn internal(error: impl std::fmt::Display) -> Failure {
    Failure::Internal(error.to_string())
}

impl Sequencing {
    fn open(
        dir: &std::path::Path,
        tiles: PathBuf,
        key: SignerKey,
        shared: Shared,
    ) -> Result<Sequencing, crate::ServerError> {
        let mut ledger = Ledger::open(dir)?;
        let origin = ledger.log().origin().to_owned();
        if key.name() != origin {
            return Err(crate::ServerError::Config(format!(
                "--log-key: key {} is not the log key of {origin}: a log key is named after \
                 the ledger's origin",
                key.name()
            )));
        }
        let vkey = key.verifier_key();
        // Terms naming another log key are refused from now on, even the first ones.
        ledger.bind_log_key(vkey.clone());
        for (contract, named) in ledger.log_keys()? {
            if named != vkey {
                return Err(crate::ServerError::Config(format!(
                    "--log-key: contract {contract} names the log key {named}, not {vkey}"
                )));
            }
        }
        let published = read_published(&ledger, &tiles)?;
        *shared
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = published;
        let mut state = Sequencing {
            ledger,
            tiles,
            key,
            shared,
        };
        // A log with records that no published checkpoint covers is published before the
        // first request is served, so readers never wait for the schedule; so is an empty log
        // that never published one (the checkpoint of size 0, whose root is SHA-256 of
        // nothing), so that the parties can clone it before the first record.
        let grown_only = state.published().is_some();
        match state.checkpoint(grown_only) {
            Ok(_) | Err(Failure::Rejected(_)) => {}
            Err(Failure::Internal(error)) => {
                return Err(crate::ServerError::Io(format!(
                    "publishing a checkpoint: {error}"
                )));
            }
        }
        Ok(state)
    }

    fn published(&self) -> Option<Published> {
        self.shared
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn add(&mut self, records: Vec<Submitted>, now_micros: i64) -> Result<Added, Failure> {
        let ids: Vec<_> = records.iter().map(|submitted| submitted.id).collect();
        let inputs = records
            .into_iter()
            .enumerate()
            .map(|(position, submitted)| {
                (
                    format!("record {position}"),
                    Input::Signed(submitted.record),
                )
            });
        let report = match self.ledger.append(inputs, &[], now_micros, |_, _| {}) {
            Ok(report) => report,
            Err(LedgerError::Rejected(rejected)) => {
                return Err(Failure::Rejected(rejected.to_string()));
            }
            Err(LedgerError::Log(LogError::Rejected { index, source })) => {
                return Err(Failure::Rejected(format!("record {index}: {source}")));
            }
            Err(error) => return Err(internal(error)),
        };
        // Every record of the body is now in the log under its client id: a new one at a
        // seq of this batch, a repeated one where the log first recorded it.
        let mut answered = HashSet::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            let seq = self
                .ledger
                .seq_of_id(id)
                .map_err(internal)?
                .ok_or_else(|| {
                    internal(format!(
                        "the record with id {id} was accepted but is not in the id index"
                    ))
                })?;
            let new = report.seqs.contains(&seq) && answered.insert(seq);
            out.push((seq, new));
        }
        let new = out.iter().filter(|(_, new)| *new).count() as u64;
        if new != report.appended {
            return Err(internal(format!(
                "the batch appended {} records but {new} of the body were found at new seqs",
                report.appended
            )));
        }
        Ok(Added {
            size: self.ledger.log().len(),
            records: out,
        })
    }

    fn checkpoint(&mut self, only_if_grown: bool) -> Result<Published, Failure> {
        let len = self.ledger.log().len();
        let published = self.published();
        if only_if_grown && published.as_ref().map_or(0, |p| p.size) >= len {
            // Nothing new since the last one (or, for an empty log, nothing to publish).
            return published.ok_or_else(|| Failure::Rejected("the log is empty".to_owned()));
        }
        let note: SignedCheckpoint = self.ledger.sign_checkpoint(&self.key).map_err(internal)?;
        let text = note.to_text();
        let size = note.checkpoint.size;
        self.ledger
            .log()
            .write_tiles(&self.tiles, size, &text)
            .map_err(|e| internal(format!("{}: {e}", self.tiles.display())))?;
        let published = Published { size, text };
        *self
            .shared
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(published.clone());
        tracing::info!(size, "published a checkpoint");
        Ok(published)
    }

    fn receipt(&self, index: u64) -> Result<Receipt, Failure> {
        let log = self.ledger.log();
        if index >= log.len() {
            return Ok(Receipt::NoRecord);
        }
        let Some(published) = self.published().filter(|p| index < p.size) else {
            return Ok(Receipt::NotYet);
        };
        let path = log
            .inclusion_path(index, published.size)
            .map_err(internal)?;
        let proof = pbr_log::TlogProof::new(index, path, published.text).map_err(internal)?;
        Ok(Receipt::Proof(proof.to_text()))
    }
}

/// The checkpoint a previous run published in `tiles`, checked against the ledger: it must
/// describe a prefix of this log. `None` when there is none.
fn read_published(
    ledger: &Ledger,
    tiles: &std::path::Path,
) -> Result<Option<Published>, crate::ServerError> {
    let file = tiles.join(pbr_log::tiles::CHECKPOINT_PATH);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(crate::ServerError::Io(format!(
                "{}: {error}",
                file.display()
            )));
        }
    };
    let note = SignedCheckpoint::parse(&text)
        .map_err(|e| crate::ServerError::Config(format!("{}: {e}", file.display())))?;
    ledger
        .log()
        .check_checkpoint(&note.checkpoint)
        .map_err(|e| {
            crate::ServerError::Config(format!(
                "{}: the published checkpoint is not of this ledger: {e}",
                file.display()
            ))
        })?;
    Ok(Some(Published {
        size: note.checkpoint.size,
        text,
    }))
}
