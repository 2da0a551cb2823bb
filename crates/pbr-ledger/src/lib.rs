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
    /// In preparing mode ([`Ledger::prepare_only`]), the records that appends validated and
    /// signed but did not commit; `None` when appends commit.
    prepared: Option<Vec<pbr_log::Record>>,
    /// The log key every contract's terms must name, when the caller knows it
    /// ([`Ledger::bind_log_key`]); otherwise the one the terms in force name.
    log_key: Option<VerifierKey>,
    /// Whether a duplicate input is refused instead of skipped ([`Ledger::set_refuse_duplicates`]).
    refuse_duplicates: bool,
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
            prepared: None,
            log_key: None,
            refuse_duplicates: false,
        }
    }

    /// Puts the ledger in preparing mode: from now on every append (an import, a one-fact
    /// command, a statement issued) validates and signs exactly as it would, against this
    /// ledger's state, and then rolls its batch back instead of committing it, keeping the
    /// signed records for [`Ledger::take_prepared`]. A party's mirror prepares what the
    /// party submits to the operator's server, which admits the records again; the mirror
    /// itself stays a copy of the operator's log.
    pub fn prepare_only(&mut self) {
        self.prepared.get_or_insert_with(Vec::new);
    }

    /// Binds the ledger to the log key that signs its checkpoints (the operator's server
    /// does, with its own): terms naming another log key are refused, even in a ledger that
    /// holds no terms yet.
    pub fn bind_log_key(&mut self, key: VerifierKey) {
        self.log_key = Some(key);
    }

    /// The records prepared since the last call, in order (empty when not preparing).
    pub fn take_prepared(&mut self) -> Vec<pbr_log::Record> {
        self.prepared
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
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
        Ok(self
            .checkpoint_trust()?
            .iter()
            .map(CheckpointTrust::quorum)
            .collect())
    }

    /// What every contract's terms in force say about trusting a checkpoint (those that name
    /// a log key or a quorum).
    fn checkpoint_trust(&mut self) -> Result<Vec<CheckpointTrust>, LedgerError> {
        let mut all = Vec::new();
        for (id, terms) in self.terms_in_force()? {
            if terms.log.is_some() || terms.checkpoint.is_some() {
                all.push(CheckpointTrust::of(&id, &terms)?);
            }
        }
        Ok(all)
    }

    /// The C2SP `tlog-policy` of a contract's terms in force: its log key, its quorum's
    /// witness keys (named by party) and the threshold.
    pub fn policy(&mut self, contract: &str) -> Result<pbr_log::policy::Policy, LedgerError> {
        let Some((_, terms)) = self
            .terms_in_force()?
            .into_iter()
            .find(|(id, _)| id == contract)
        else {
            return Err(LedgerError::Mismatch(format!(
                "contract {contract} is not registered"
            )));
        };
        let trust = CheckpointTrust::of(contract, &terms)?;
        let Some(log) = trust.log else {
            return Err(LedgerError::Mismatch(format!(
                "the terms of {contract} name no [log] key: amend them to name one"
            )));
        };
        let mut witnesses = Vec::new();
        for (party, key) in trust.witnesses {
            let Some(key) = key else {
                return Err(LedgerError::Mismatch(format!(
                    "{party} is in the quorum of {contract} but has no witness-key"
                )));
            };
            witnesses.push((party, key));
        }
        Ok(pbr_log::policy::Policy::new(
            log,
            witnesses,
            trust.threshold,
        ))
    }

    /// The checkpoint `pbr export` writes: the latest stored one that carries every
    /// contract's quorum (DESIGN §3 "Readings settled"). When none does, the error names
    /// what the latest lacks, so that nothing is written.
    pub fn exportable_checkpoint(&mut self) -> Result<SignedCheckpoint, LedgerError> {
        let trust = self.checkpoint_trust()?;
        let mut keys: Vec<VerifierKey> = Vec::new();
        for t in &trust {
            for key in t
                .log
                .iter()
                .chain(t.witnesses.iter().filter_map(|w| w.1.as_ref()))
            {
                if !keys.contains(key) {
                    keys.push(key.clone());
                }
            }
        }
        let notes = self.log.checkpoints()?;
        let mut latest_lacks: Option<(u64, Vec<String>)> = None;
        for note in notes.iter().rev() {
            let signed = note.signers(&keys).map_err(|source| LedgerError::Note {
                context: format!("the stored checkpoint of size {}", note.checkpoint.size),
                source,
            })?;
            let mut lacks: Vec<String> = Vec::new();
            for phrase in trust.iter().flat_map(|t| t.lacks(&signed)) {
                if !lacks.contains(&phrase) {
                    lacks.push(phrase);
                }
            }
            if lacks.is_empty() {
                return Ok(note.clone());
            }
            latest_lacks.get_or_insert((note.checkpoint.size, lacks));
        }
        Err(LedgerError::Domain(match latest_lacks {
            None => "no checkpoint yet, so there is nothing signed to export \
                     (sign one with `pbr checkpoint sign`)"
                .into(),
            Some((size, lacks)) => format!(
                "no checkpoint meets every contract's quorum, so nothing was exported: the \
                 latest, of size {size}, lacks {}",
                lacks.join("; ")
            ),
        }))
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

    /// Writes the export of everything the checkpoint `exportable_checkpoint` picks covers.
    pub fn export(
        &mut self,
        out: &mut dyn Write,
        progress: impl FnMut(u64, u64),
    ) -> Result<pbr_log::export::ExportSummary, LedgerError> {
        let note = self.exportable_checkpoint()?;
        let decode = |bytes: &[u8]| {
            pbr_core::event::Event::decode(bytes)
                .map(|event| event.to_json())
                .map_err(|e| e.reason)
        };
        Ok(self.log.export(&note, out, &decode, progress)?)
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(names: &[&str]) -> String {
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// A key as quorums name it: `name+keyid` in hex.
fn signer_id(key: &VerifierKey) -> String {
    format!("{}+{}", key.name, pbr_log::hex::encode(&key.key_id))
}

/// What one contract's terms in force say about trusting a checkpoint.
struct CheckpointTrust {
    contract: String,
    /// The `[log] key`, if the terms name one.
    log: Option<VerifierKey>,
    /// The quorum's parties in order, each with its witness key if the terms give one.
    witnesses: Vec<(String, Option<VerifierKey>)>,
    /// `[checkpoint] threshold`, if given; every witness otherwise.
    threshold: Option<usize>,
}

impl CheckpointTrust {
    fn of(contract: &str, terms: &pbr_core::terms::Terms) -> Result<CheckpointTrust, LedgerError> {
        let parse = |what: String, text: &str| {
            VerifierKey::parse(text).map_err(|source| LedgerError::Note {
                context: format!("contract {contract}: {what}"),
                source,
            })
        };
        let log = match &terms.log {
            Some(log) => Some(parse("[log] key".into(), &log.key)?),
            None => None,
        };
        let mut witnesses = Vec::new();
        let mut threshold = None;
        if let Some(checkpoint) = &terms.checkpoint {
            for party in &checkpoint.quorum {
                let key = match terms
                    .parties
                    .iter()
                    .find(|p| &p.id == party)
                    .and_then(|p| p.witness_key.as_deref())
                {
                    Some(text) => Some(parse(format!("{party}'s witness-key"), text)?),
                    None => None,
                };
                witnesses.push((party.clone(), key));
            }
            threshold = checkpoint.threshold;
        }
        Ok(CheckpointTrust {
            contract: contract.to_string(),
            log,
            witnesses,
            threshold,
        })
    }

    /// What a checkpoint signed by `signed` lacks to meet these terms, each a phrase naming
    /// who must sign and how; empty when it meets them.
    fn lacks(&self, signed: &[VerifierKey]) -> Vec<String> {
        let mut lacks = Vec::new();
        if let Some(log) = &self.log
            && !signed.contains(log)
        {
            lacks.push(format!(
                "the signature of the log key {} (sign it with `pbr checkpoint sign`)",
                signer_id(log)
            ));
        }
        let threshold = self.threshold.unwrap_or(self.witnesses.len());
        let cosigned = self
            .witnesses
            .iter()
            .filter(|(_, key)| key.as_ref().is_some_and(|key| signed.contains(key)))
            .count();
        if cosigned >= threshold {
            return lacks;
        }
        let absent: Vec<&(String, Option<VerifierKey>)> = self
            .witnesses
            .iter()
            .filter(|(_, key)| !key.as_ref().is_some_and(|key| signed.contains(key)))
            .collect();
        let names: Vec<&str> = absent.iter().map(|(party, _)| party.as_str()).collect();
        let whom = if threshold < self.witnesses.len() {
            format!(
                "{} more of the cosignatures of {}",
                threshold - cosigned,
                and_list(&names)
            )
        } else if names.len() == 1 {
            format!("the cosignature of {}", names[0])
        } else {
            format!("the cosignatures of {}", and_list(&names))
        };
        let unkeyed: Vec<&str> = absent
            .iter()
            .filter(|(_, key)| key.is_none())
            .map(|(party, _)| party.as_str())
            .collect();
        let keyed: Vec<String> = absent
            .iter()
            .filter_map(|(_, key)| key.as_ref().map(signer_id))
            .collect();
        let why = if unkeyed.is_empty() {
            format!(
                "{}: have the witnesses cosign it with `pbr witness cosign`",
                keyed.join(", ")
            )
        } else {
            format!(
                "the terms of {} give {} no witness-key: amend the terms to name {}",
                self.contract,
                and_list(&unkeyed),
                if unkeyed.len() == 1 { "one" } else { "them" },
            )
        };
        lacks.push(format!("{whom} ({why})"));
        lacks
    }

    /// The quorum as verdicts count it: a party without a witness key is a signer no
    /// checkpoint can carry.
    fn quorum(&self) -> Quorum {
        Quorum {
            contract: self.contract.clone(),
            log: self.log.as_ref().map(signer_id),
            signers: self
                .witnesses
                .iter()
                .map(|(party, key)| match key {
                    Some(key) => signer_id(key),
                    None => format!("{party}+(no witness key)"),
                })
                .collect(),
            threshold: self.threshold.unwrap_or(self.witnesses.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn witness(name: &str, seed: u8) -> VerifierKey {
        SignerKey::witness_from_seed(name, [seed; 32])
            .unwrap()
            .verifier_key()
    }

    /// A two-of-three quorum with one witness without a key: what a checkpoint lacks is
    /// counted against the threshold, and names who could still cosign.
    #[test]
    fn what_a_checkpoint_lacks_counts_the_threshold() {
        let log = SignerKey::from_seed("test/q", [9; 32])
            .unwrap()
            .verifier_key();
        let (a, b) = (witness("a-witness", 1), witness("b-witness", 2));
        let trust = CheckpointTrust {
            contract: "q".into(),
            log: Some(log.clone()),
            witnesses: vec![
                ("a".into(), Some(a.clone())),
                ("b".into(), Some(b.clone())),
                ("c".into(), None),
            ],
            threshold: Some(2),
        };
        assert!(trust.lacks(&[log.clone(), a.clone(), b.clone()]).is_empty());
        assert_eq!(
            trust.lacks(&[log.clone(), b.clone()]),
            vec![
                "1 more of the cosignatures of a and c (the terms of q give c no witness-key: \
                 amend the terms to name one)"
                    .to_string()
            ]
        );
        let lacks = trust.lacks(&[a.clone(), b.clone()]);
        assert_eq!(lacks.len(), 1);
        assert!(lacks[0].starts_with("the signature of the log key test/q+"));
        assert_eq!(
            trust.lacks(&[log]),
            vec![format!(
                "2 more of the cosignatures of a, b and c (the terms of q give c no \
                 witness-key: amend the terms to name one)"
            )]
        );
        assert_eq!(and_list(&[]), "");
        assert_eq!(and_list(&["x"]), "x");
    }
}
