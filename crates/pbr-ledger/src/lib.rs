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

use pbr_core::verdict::SignedBy;

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

/// A contract's checkpoint quorum: its log key and the witness keys of its quorum's parties,
/// each as `name+keyid`, and how many witnesses must cosign.
pub type Quorum = pbr_core::verdict::QuorumSigners;

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

    /// Signs a checkpoint of the whole log with the log key and stores it. The key must be
    /// named after the ledger's origin and, where registered terms name a log key, be that
    /// key.
    pub fn sign_checkpoint(&mut self, key: &SignerKey) -> Result<SignedCheckpoint, LedgerError> {
        let vkey = key.verifier_key();
        for (contract, named) in self.log_keys()? {
            if named != vkey {
                return Err(LedgerError::Mismatch(format!(
                    "contract {contract} names the log key {named}, not {vkey}"
                )));
            }
        }
        let body = self.log.checkpoint_body()?;
        // Signing the same tree again gives the same signature (Ed25519 is deterministic):
        // keep the stored note, with the cosignatures it already gathered.
        if let Some(stored) = self.log.checkpoint_of_size(body.size)?
            && stored.checkpoint == body
            && stored
                .signers(std::slice::from_ref(&vkey))
                .is_ok_and(|signers| !signers.is_empty())
        {
            return Ok(stored);
        }
        let note = SignedCheckpoint::sign(body, key).map_err(|source| LedgerError::Note {
            context: "checkpoint".into(),
            source,
        })?;
        self.log.add_verifier_key(&vkey)?;
        self.log.store_checkpoint(&note)?;
        Ok(note)
    }

    /// The log keys the registered contracts' terms in force name, by contract.
    pub fn log_keys(&mut self) -> Result<Vec<(String, VerifierKey)>, LedgerError> {
        let mut keys = Vec::new();
        for (id, terms) in self.terms_in_force()? {
            if let Some(log) = &terms.log {
                let key = VerifierKey::parse(&log.key).map_err(|source| LedgerError::Note {
                    context: format!("contract {id}: [log] key"),
                    source,
                })?;
                keys.push((id, key));
            }
        }
        Ok(keys)
    }

    /// Every registered contract's terms in force now, by contract id.
    fn terms_in_force(
        &mut self,
    ) -> Result<Vec<(String, std::sync::Arc<pbr_core::terms::Terms>)>, LedgerError> {
        // Terms and parties only: the contracts' money flows stay where they are stored.
        let state = self.state_without_flows()?;
        let mut all = Vec::new();
        for (id, contract) in &state.contracts {
            let Some(version) = contract.versions.last() else {
                continue;
            };
            let terms = version
                .terms(id)
                .map_err(|e| LedgerError::Mismatch(e.reason))?;
            all.push((id.clone(), terms));
        }
        Ok(all)
    }

    /// Has `witness` cosign the stored checkpoint of `size` (by default the latest) under the
    /// C2SP `tlog-witness` rule: it cosigns only if the checkpoint is consistent with the
    /// last one it cosigned for this log, proven by a consistency proof from this ledger.
    /// The cosigned note supersedes the stored one. `timestamp` is the cosignature's time.
    pub fn witness_checkpoint(
        &mut self,
        witness: &pbr_log::witness::Witness,
        size: Option<u64>,
        timestamp: u64,
    ) -> Result<SignedCheckpoint, LedgerError> {
        let note = match size {
            Some(size) => self.log.checkpoint_of_size(size)?,
            None => self.log.latest_checkpoint()?,
        };
        let Some(note) = note else {
            return Err(LedgerError::Mismatch(match size {
                Some(size) => format!("no stored checkpoint of size {size} to cosign"),
                None => "no checkpoint yet to cosign (sign one with `pbr checkpoint sign`)".into(),
            }));
        };
        let origin = note.checkpoint.origin.clone();
        let old = witness
            .latest(&origin)
            .map_err(|e| LedgerError::Mismatch(e.to_string()))?
            .map_or(0, |c| c.size);
        if old > note.checkpoint.size {
            return Err(LedgerError::Mismatch(format!(
                "this witness already cosigned size {old} of {origin}; it cosigns no smaller size \
                 (the checkpoint is of size {})",
                note.checkpoint.size
            )));
        }
        let proof = if old == 0 {
            Vec::new()
        } else {
            self.log.consistency_path(old, note.checkpoint.size)?
        };
        let request = pbr_log::witness::AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: note.to_text(),
        };
        let cosigned = witness
            .add_checkpoint(&request, timestamp)
            .map_err(|e| LedgerError::Mismatch(format!("the witness refused: {e}")))?;
        self.log.add_verifier_key(&witness.verifier_key())?;
        self.log.store_checkpoint(&cosigned)?;
        Ok(cosigned)
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
        Ok(CheckpointCheck { signed_by, proof })
    }

    /// The checkpoint quorum of every registered contract whose terms in force name a log
    /// key or a quorum: the log key, and the witness keys the terms give the quorum's parties.
    pub fn quorums(&mut self) -> Result<Vec<Quorum>, LedgerError> {
        let mut quorums = Vec::new();
        let id_of =
            |key: &VerifierKey| format!("{}+{}", key.name, pbr_log::hex::encode(&key.key_id));
        for (id, terms) in self.terms_in_force()? {
            if terms.log.is_none() && terms.checkpoint.is_none() {
                continue;
            }
            let parse = |what: String, text: &str| {
                VerifierKey::parse(text).map_err(|source| LedgerError::Note {
                    context: format!("contract {id}: {what}"),
                    source,
                })
            };
            let log = match &terms.log {
                Some(log) => Some(id_of(&parse("[log] key".into(), &log.key)?)),
                None => None,
            };
            let mut signers = Vec::new();
            let mut threshold = 0;
            if let Some(checkpoint) = &terms.checkpoint {
                for party in &checkpoint.quorum {
                    let witness = terms
                        .parties
                        .iter()
                        .find(|p| &p.id == party)
                        .and_then(|p| p.witness_key.as_deref());
                    signers.push(match witness {
                        Some(text) => id_of(&parse(format!("{party}'s witness-key"), text)?),
                        None => format!("{party}+(no witness key)"),
                    });
                }
                threshold = checkpoint.threshold.unwrap_or(signers.len());
            }
            quorums.push(Quorum {
                contract: id.clone(),
                log,
                signers,
                threshold,
            });
        }
        Ok(quorums)
    }

    /// The C2SP `tlog-policy` of a contract's terms in force: its log key, its quorum's
    /// witness keys (named by party) and the threshold.
    pub fn policy(&mut self, contract: &str) -> Result<pbr_log::policy::Policy, LedgerError> {
        let state = self.state_without_flows()?;
        let Some(version) = state
            .contracts
            .get(contract)
            .and_then(|c| c.versions.last())
        else {
            return Err(LedgerError::Mismatch(format!(
                "contract {contract} is not registered"
            )));
        };
        let terms = version
            .terms(contract)
            .map_err(|e| LedgerError::Mismatch(e.reason))?;
        let parse = |what: String, text: &str| {
            VerifierKey::parse(text).map_err(|source| LedgerError::Note {
                context: format!("contract {contract}: {what}"),
                source,
            })
        };
        let Some(log) = &terms.log else {
            return Err(LedgerError::Mismatch(format!(
                "the terms of {contract} name no [log] key: amend them to name one"
            )));
        };
        let log = parse("[log] key".into(), &log.key)?;
        let mut witnesses = Vec::new();
        let mut threshold = None;
        if let Some(checkpoint) = &terms.checkpoint {
            for party in &checkpoint.quorum {
                let Some(text) = terms
                    .parties
                    .iter()
                    .find(|p| &p.id == party)
                    .and_then(|p| p.witness_key.as_deref())
                else {
                    return Err(LedgerError::Mismatch(format!(
                        "{party} is in the quorum of {contract} but has no witness-key"
                    )));
                };
                witnesses.push((
                    party.clone(),
                    parse(format!("{party}'s witness-key"), text)?,
                ));
            }
            threshold = checkpoint.threshold;
        }
        Ok(pbr_log::policy::Policy::new(log, witnesses, threshold))
    }

    /// What a verification that passed says about trust (`pbr_core::verdict`): the latest
    /// checkpoint with its signers under the keys `report` checked against, what it must
    /// `cover`, and every contract's quorum.
    pub fn trust_check(
        &mut self,
        report: &VerifyReport,
        cover: Cover,
    ) -> Result<TrustCheck, LedgerError> {
        let quorums = self.quorums()?;
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
