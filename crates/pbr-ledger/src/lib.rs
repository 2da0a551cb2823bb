//! The one facade over a ledger directory: open, append, verify, prove, checkpoint, export.
//!
//! The CLI talks to this crate only. Today it wraps the event log; the domain (contracts,
//! parties, validated events, projections, settlements) lands here on top of it.
//!
//! Architecture invariant: no clock, no environment, no randomness. Times and seeds are
//! parameters; the CLI reads the clock.

#![warn(clippy::unwrap_used)]

pub mod append;
pub mod bundle;
mod error;
mod id_filter;
mod id_runs;
pub mod import;
mod projection;
pub mod restore;
pub mod sample;
pub mod settlement;

use std::io::Write;
use std::path::Path;

pub use append::{AppendReport, CHUNK, ClaimAction, ClaimRef, Input, REPORT_FIRST, Rejected};
pub use error::LedgerError;
pub use pbr_core::verdict::{Cover, Keys, Outcome, Trust, TrustCheck, Verdict};
pub use pbr_log::notice::take as notices;
pub use pbr_log::{
    ConsistencyProof, InclusionProof, KeySource, Log, LogError, MigrateSummary, SignedCheckpoint,
    SignerKey, VerifierKey, VerifyOptions, VerifyReport, panic_is_contained,
};
pub use settlement::{At, Audited, Change, Diff, WhatIf};

use pbr_core::verdict::{QuorumSigners, SignedBy};

/// An open ledger. Holding one holds the directory's lock.
#[derive(Debug)]
pub struct Ledger {
    log: Log,
    /// The state folded from the log, loaded on first use (see `projection.rs`).
    state: pbr_core::state::State,
    /// Whether `state` is loaded and caught up with the log.
    loaded: bool,
    /// Threads that sign a batch.
    threads: usize,
}

/// A contract's checkpoint quorum: the parties whose signatures make a checkpoint count,
/// each as `name+keyid` of the key the contract gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// The contract.
    pub contract: String,
    /// The quorum's signers, as `name+keyid`.
    pub signers: Vec<String>,
}

impl Quorum {
    /// The quorum signers missing from `signed_by` (`name+keyid` strings, as
    /// [`VerifyReport::checkpoints`] lists them).
    pub fn missing(&self, signed_by: &[String]) -> Vec<String> {
        self.signers
            .iter()
            .filter(|s| !signed_by.contains(s))
            .cloned()
            .collect()
    }
}

/// The result of checking a saved checkpoint against today's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointCheck {
    /// The trusted keys that signed the saved checkpoint.
    pub signed_by: Vec<String>,
    /// The consistency proof from the saved checkpoint to today's log, verified.
    pub proof: ConsistencyProof,
}

impl Ledger {
    /// Creates a ledger in `dir` with the ledger id `origin`.
    pub fn create(dir: &Path, origin: &str) -> Result<Ledger, LedgerError> {
        Ok(Ledger::with_log(Log::create(dir, origin)?))
    }

    /// Opens the ledger in `dir`. A ledger that holds less than, or else than, what it
    /// committed is refused ([`Log::open`]); so is one whose storage opening found damaged
    /// (a record missing below the committed length, records inserted past it, caches that
    /// disagree with the records): everything but verification would read a log that is not
    /// the committed one. [`Ledger::open_to_verify`] opens it to say where the damage is.
    pub fn open(dir: &Path) -> Result<Ledger, LedgerError> {
        let log = Log::open(dir)?;
        if let Some((seq, damage)) = log.damage() {
            return Err(LedgerError::Log(LogError::Lost {
                dir: dir.to_owned(),
                what: format!(
                    "its storage is damaged ({}{damage}); `pbr verify` names the first bad \
                     record",
                    seq.map_or_else(String::new, |seq| format!("seq {seq}: "))
                ),
            }));
        }
        Ok(Ledger::with_log(log))
    }

    /// Opens the ledger in `dir` even when opening found its storage damaged, for `verify`
    /// and the audits to name the first bad record; appends are refused ([`Log::damage`]).
    /// A ledger that holds less than what it committed is still refused.
    pub fn open_to_verify(dir: &Path) -> Result<Ledger, LedgerError> {
        Ok(Ledger::with_log(Log::open(dir)?))
    }

    /// Turns the format-1 ledger in `dir` into a format-2 one in place ([`Log::migrate`]):
    /// the records stay byte for byte, the caches are rebuilt, the format-1 checkpoints are
    /// kept as history, and the ledger needs a new checkpoint. A format-2 ledger is left as
    /// it is. The projections derive from the events alone and are kept.
    pub fn migrate(dir: &Path) -> Result<MigrateSummary, LedgerError> {
        Ok(Log::migrate(dir)?)
    }

    /// Closes the ledger; after a session that wrote, sled settles its files so that the
    /// next reader needs no space on the disk ([`Log::close`]).
    pub fn close(self) -> Result<(), LedgerError> {
        Ok(self.log.close()?)
    }

    fn with_log(log: Log) -> Ledger {
        Ledger {
            log,
            state: pbr_core::state::State::default(),
            loaded: false,
            threads: 1,
        }
    }

    /// The event log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// The event log, for appending.
    pub fn log_mut(&mut self) -> &mut Log {
        &mut self.log
    }

    /// Verifies every record, cache and checkpoint (or, incrementally, what was appended
    /// since the last verified checkpoint). Checkpoint signatures are checked against
    /// `trusted` keys from outside the ledger or, with `None`, against the keys the ledger
    /// stores (a convenience, not a trust anchor; the report says which).
    pub fn verify(
        &self,
        options: VerifyOptions,
        trusted: Option<&[VerifierKey]>,
        progress: impl FnMut(u64, u64),
    ) -> Result<VerifyReport, LedgerError> {
        self.log
            .verify(options, trusted, progress)
            .map_err(|mut error| {
                // A bad record is damaged (or altered) storage: say how to get it back.
                if error.seq.is_some() && !error.reason.contains("pbr restore") {
                    error.reason = format!(
                        "{}; restore it from your latest export with: pbr restore --from \
                         EXPORT.jsonl {}",
                        error.reason,
                        self.log.dir().display()
                    );
                }
                LedgerError::Verify(error)
            })
    }

    /// Signs a checkpoint of the whole log with `key` at `time` (Unix seconds), stores it,
    /// and remembers the key as one whose checkpoint signatures this ledger knows.
    pub fn sign_checkpoint(
        &mut self,
        key: &SignerKey,
        time: u64,
    ) -> Result<SignedCheckpoint, LedgerError> {
        self.log.add_verifier_key(&key.verifier_key())?;
        let note = SignedCheckpoint::sign(self.log.checkpoint_body(time)?, key);
        self.log.store_checkpoint(&note)?;
        Ok(note)
    }

    /// Adds `key`'s signature to the stored checkpoint of `size` (by default the latest),
    /// leaving its body unchanged, and stores the result, which supersedes the original.
    pub fn cosign_checkpoint(
        &mut self,
        key: &SignerKey,
        size: Option<u64>,
    ) -> Result<SignedCheckpoint, LedgerError> {
        let note = match size {
            Some(size) => self.log.checkpoint_of_size(size)?,
            None => self.log.latest_checkpoint()?,
        };
        let Some(mut note) = note else {
            return Err(LedgerError::Mismatch(match size {
                Some(size) => format!("no stored checkpoint of size {size} to co-sign"),
                None => "no checkpoint yet to co-sign (sign one with `pbr checkpoint sign`)".into(),
            }));
        };
        self.log.add_verifier_key(&key.verifier_key())?;
        note.cosign(key);
        self.log.store_checkpoint(&note)?;
        Ok(note)
    }

    /// Checks a checkpoint that a partner kept: its signatures against `trusted` keys, then
    /// a consistency proof from it to the latest stored checkpoint, so any rewrite of the
    /// history it covers is detected.
    pub fn check_checkpoint(
        &self,
        note_text: &str,
        trusted: &[VerifierKey],
    ) -> Result<CheckpointCheck, LedgerError> {
        let note = SignedCheckpoint::parse(note_text).map_err(|source| LedgerError::Note {
            context: "checkpoint".into(),
            source,
        })?;
        let signed_by = note.verify(trusted).map_err(|source| LedgerError::Note {
            context: "checkpoint".into(),
            source,
        })?;
        if signed_by.is_empty() {
            return Err(LedgerError::Mismatch(
                "the checkpoint has no signature from a trusted key".into(),
            ));
        }
        let saved = &note.checkpoint;
        if saved.origin != self.log.origin() {
            return Err(LedgerError::Mismatch(format!(
                "the checkpoint is of ledger {}, not {}",
                saved.origin,
                self.log.origin()
            )));
        }
        let latest = self.log.latest_checkpoint()?.ok_or_else(|| {
            LedgerError::Mismatch("this ledger has no checkpoint to prove consistency to".into())
        })?;
        if saved.size > latest.checkpoint.size {
            return Err(LedgerError::Mismatch(format!(
                "the checkpoint covers {} records but this ledger's latest checkpoint covers \
                 only {}: history was truncated or rolled back",
                saved.size, latest.checkpoint.size
            )));
        }
        let proof = self
            .log
            .consistency_proof(saved.size, Some(latest.checkpoint.size))?;
        let consistent = pbr_log::merkle::verify_consistency(
            saved.size,
            proof.second,
            &saved.root,
            &proof.second_root,
            &proof.path,
        );
        if !consistent || proof.first_root != saved.root {
            return Err(LedgerError::Mismatch(format!(
                "the log is not consistent with the checkpoint of size {}: history was rewritten",
                saved.size
            )));
        }
        if self.log.chain_at(saved.size)? != saved.chain {
            return Err(LedgerError::Mismatch(format!(
                "the chain head at size {} differs from the checkpoint's: history was rewritten",
                saved.size
            )));
        }
        Ok(CheckpointCheck { signed_by, proof })
    }

    /// The checkpoint quorum of every registered contract that names one, from the terms in
    /// force now and the keys they (or later registrations) give the parties.
    pub fn quorums(&mut self) -> Result<Vec<Quorum>, LedgerError> {
        // Terms and parties only: the contracts' money flows stay where they are stored.
        let state = self.state_without_flows()?;
        let mut quorums = Vec::new();
        for (id, contract) in &state.contracts {
            let Some(version) = contract.versions.last() else {
                continue;
            };
            let terms = version
                .terms(id)
                .map_err(|e| LedgerError::Mismatch(e.reason))?;
            let Some(checkpoint) = &terms.checkpoint else {
                continue;
            };
            let signers = checkpoint
                .quorum
                .iter()
                .map(|party| match contract.parties.get(party) {
                    Some((_, key)) => format!(
                        "{party}+{}",
                        pbr_log::hex::encode(&pbr_log::note::key_id(party, key))
                    ),
                    None => format!("{party}+(no key)"),
                })
                .collect();
            quorums.push(Quorum {
                contract: id.clone(),
                signers,
            });
        }
        Ok(quorums)
    }

    /// What a verification that passed says about trust (`pbr_core::verdict`): the latest
    /// checkpoint with its signers under the keys `report` checked against, what it must
    /// `cover`, and every contract's quorum.
    pub fn trust_check(
        &mut self,
        report: &VerifyReport,
        cover: Cover,
    ) -> Result<TrustCheck, LedgerError> {
        let quorums = self
            .quorums()?
            .into_iter()
            .map(|q| QuorumSigners {
                contract: q.contract,
                signers: q.signers,
            })
            .collect();
        Ok(TrustCheck {
            keys: match report.keys {
                KeySource::Given => Keys::Given,
                KeySource::Ledger => Keys::Ledger,
            },
            // The report lists the checkpoints by size: the last is the latest.
            latest: report.checkpoints.last().map(|(size, signers)| SignedBy {
                size: *size,
                signers: signers.clone(),
            }),
            cover,
            quorums,
        })
    }

    /// Writes the export of everything the latest checkpoint covers.
    pub fn export(
        &self,
        out: &mut dyn Write,
        progress: impl FnMut(u64, u64),
    ) -> Result<pbr_log::export::ExportSummary, LedgerError> {
        let decode = |bytes: &[u8]| {
            pbr_core::event::Event::decode(bytes)
                .map(|event| event.to_json())
                .map_err(|e| e.reason)
        };
        Ok(self.log.export(out, &decode, progress)?)
    }
}
