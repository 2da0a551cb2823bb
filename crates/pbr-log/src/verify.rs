//! Full and incremental verification of a stored log (DESIGN §6: `pbr verify` names the first
//! bad sequence number).
//!
//! Verification trusts nothing but the record bytes in `events` and the checkpoint
//! signatures of known keys. It streams the log in chunks (memory is bounded by the chunk
//! size, not the log), checks every signature on `threads` threads, recomputes every leaf,
//! chain link and Merkle node, and compares them with the caches and with every stored
//! checkpoint. A record that was changed, removed, swapped or inserted is reported at its
//! sequence number; a cache that disagrees with the records is reported the same way.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;

use crate::cache::{self, BLOCK_LEN, STORED_LEVEL};
use crate::error::{LogError, RecordError};
use crate::hash::{EMPTY_CHAIN, Hash, chain_hash, leaf_hash};
use crate::hex;
use crate::merkle::Frontier;
use crate::note::{SignedCheckpoint, VerifierKey};
use crate::record::{Record, checked_public_key, event_signing_message, verify_with_key};
use crate::store::Log;

/// How many records are read, checked and hashed together.
const CHUNK: usize = 4096;

/// How to verify.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Threads for signature checks (at least 1; no more are used than the work needs).
    pub threads: usize,
    /// Start from the last checkpoint a previous run verified, instead of seq 0.
    pub incremental: bool,
}

/// Where the keys that checked the checkpoints came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// Given by the caller, from outside the ledger: a trust anchor.
    Given,
    /// The keys stored in the ledger itself: a convenience, never a trust anchor, since
    /// whoever can rewrite the ledger can rewrite them too.
    Ledger,
}

/// What a successful verification covered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// The first seq checked (0 unless incremental).
    pub from_seq: u64,
    /// The number of records in the log.
    pub len: u64,
    /// The Merkle root recomputed from the records.
    pub root: Hash,
    /// The chain head recomputed from the records.
    pub chain_head: Hash,
    /// Each checkpoint checked: its size and the keys that signed it, as `name+keyid`.
    /// With keys given from outside, a checkpoint none of them signed has no signer here.
    pub checkpoints: Vec<(u64, Vec<String>)>,
    /// Where the checking keys came from.
    pub keys: KeySource,
}

/// Why a verification failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", match .seq { Some(seq) => format!("first bad seq {seq}: {}", .reason), None => .reason.clone() })]
pub struct VerifyError {
    /// The first bad sequence number, when one can be named.
    pub seq: Option<u64>,
    /// What is wrong.
    pub reason: String,
}

impl VerifyError {
    fn at(seq: u64, reason: impl Into<String>) -> VerifyError {
        VerifyError {
            seq: Some(seq),
            reason: reason.into(),
        }
    }
    fn general(reason: impl Into<String>) -> VerifyError {
        VerifyError {
            seq: None,
            reason: reason.into(),
        }
    }
}

impl From<LogError> for VerifyError {
    fn from(error: LogError) -> VerifyError {
        VerifyError::general(error.to_string())
    }
}

impl Log {
    /// Verifies the log; `progress(done, total)` is called after each chunk.
    /// Checkpoint signatures are checked against `trusted` keys; with `None`, against the
    /// keys stored in the ledger (reported as [`KeySource::Ledger`]). A checkpoint that no
    /// trusted key signed is listed with no signer; one that no stored key signed is an
    /// error.
    pub fn verify(
        &self,
        options: VerifyOptions,
        trusted: Option<&[VerifierKey]>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<VerifyReport, VerifyError> {
        let len = self.len();
        let (keys, source) = match trusted {
            Some(keys) => (keys.to_vec(), KeySource::Given),
            None => (self.verifier_keys()?, KeySource::Ledger),
        };
        let checkpoints = self.checkpoints()?;
        let mut checked = Vec::new();
        for note in &checkpoints {
            let signers = note.signers(&keys).map_err(|e| {
                VerifyError::general(format!("checkpoint of size {}: {e}", note.checkpoint.size))
            })?;
            // Against the ledger's own keys, a checkpoint none of them signed was not made
            // here: the ledger is inconsistent. Against keys given from outside, who signed
            // is a finding about trust, not a defect of the log: the checkpoint is listed
            // with no signer, and the caller's verdict names whom it misses.
            if signers.is_empty() && source == KeySource::Ledger {
                return Err(VerifyError::general(format!(
                    "checkpoint of size {} has no signature from a trusted key",
                    note.checkpoint.size
                )));
            }
            if note.checkpoint.origin != self.origin() {
                return Err(VerifyError::general(format!(
                    "checkpoint of size {} names origin {}",
                    note.checkpoint.size, note.checkpoint.origin
                )));
            }
            if note.checkpoint.size > len {
                return Err(VerifyError::at(
                    len,
                    format!(
                        "checkpoint of size {} covers records that are missing",
                        note.checkpoint.size
                    ),
                ));
            }
            if note.checkpoint.size == 0 && note.checkpoint.root != crate::hash::EMPTY_ROOT {
                return Err(VerifyError::general(
                    "checkpoint of size 0 does not name the empty tree's root",
                ));
            }
            let signers = signers
                .iter()
                .map(|k| format!("{}+{}", k.name, hex::encode(&k.key_id)))
                .collect();
            checked.push((note.checkpoint.size, signers));
        }

        let (mut frontier, mut chain) = (Frontier::new(), EMPTY_CHAIN);
        let mark = if options.incremental {
            self.verified_mark()?
        } else {
            0
        };
        if mark > 0 {
            let Some(anchor) = checkpoints.iter().find(|n| n.checkpoint.size == mark) else {
                return Err(VerifyError::general(format!(
                    "no stored checkpoint of the verified size {mark}; run a full verify"
                )));
            };
            frontier = Frontier::load(self, mark)?;
            chain = self.chain_at(mark)?;
            if frontier.root() != anchor.checkpoint.root {
                return Err(VerifyError::general(format!(
                    "cached state at the verified checkpoint of size {mark} does not match it; \
                     run a full verify"
                )));
            }
        }
        let mut pending: Vec<&SignedCheckpoint> = checkpoints
            .iter()
            .filter(|n| n.checkpoint.size > mark)
            .collect();
        pending.reverse();

        let threads = options.threads.max(1);
        let mut expected = mark;
        let mut cached = CachedBlock::default();
        let mut records = self.iter_from(mark).peekable();
        while records.peek().is_some() {
            // A structural problem (a gap, a malformed key, a record past the end) ends the
            // chunk; the records before it are still checked first, so that the error named is
            // the first bad seq whatever its kind.
            let mut chunk: Vec<(u64, sled::IVec)> = Vec::with_capacity(CHUNK);
            let mut structural: Option<(u64, VerifyError)> = None;
            for entry in records.by_ref().take(CHUNK) {
                let position = expected + chunk.len() as u64;
                let (seq, bytes) = match entry {
                    Ok(entry) => entry,
                    Err(e) => {
                        structural = Some((
                            position,
                            VerifyError::at(position, e.in_ledger(self.dir()).to_string()),
                        ));
                        break;
                    }
                };
                if seq != position || seq >= len {
                    let error = VerifyError::at(position, missing_or_extra(position, len));
                    structural = Some((position, error));
                    break;
                }
                chunk.push((seq, bytes));
            }
            // Signatures on worker threads while this thread recomputes the hashes.
            let (bad_signature, bad_hash) = std::thread::scope(|scope| {
                let signatures = scope.spawn(|| first_bad_signature(&chunk, threads));
                let hashes =
                    self.check_hashes(&chunk, &mut frontier, &mut chain, &mut cached, &mut pending);
                // A worker only panics on a bug in the checks; surface it, do not hide it.
                (
                    signatures.join().expect("signature checks panicked"),
                    hashes,
                )
            });
            // The error detected at the earliest position wins, whether or not it can name a
            // single seq (a checkpoint mismatch is detected at the checkpoint's last record).
            let first = [
                bad_signature.map(|(i, reason)| (chunk[i].0, VerifyError::at(chunk[i].0, reason))),
                bad_hash,
                structural,
            ]
            .into_iter()
            .flatten()
            .min_by_key(|(position, _)| *position)
            .map(|(_, error)| error);
            if let Some(error) = first {
                return Err(error);
            }
            expected += chunk.len() as u64;
            progress(expected, len);
        }
        if expected != len {
            return Err(VerifyError::at(expected, missing_or_extra(expected, len)));
        }
        if let Some((seq, damage)) = self.damage() {
            return Err(VerifyError {
                seq,
                reason: damage.to_owned(),
            });
        }
        if frontier.root() != self.root() {
            return Err(VerifyError::general(format!(
                "Merkle root {} recomputed from the records differs from the cached {}",
                hex::encode(&frontier.root()),
                hex::encode(&self.root())
            )));
        }
        // What the records recompute to must be what the ledger committed (`COMMITTED`):
        // opening compared sled's caches with it, this compares the records themselves.
        if let Some(account) = crate::account::read(self.dir())?
            && account.size == len
            && (account.root != frontier.root() || account.chain != chain)
        {
            return Err(VerifyError::general(format!(
                "the records recompute to root {} and chain head {}, but the ledger committed \
                 root {} and chain head {} at this size ({})",
                hex::encode(&frontier.root()),
                hex::encode(&chain),
                hex::encode(&account.root),
                hex::encode(&account.chain),
                crate::account::path(self.dir()).display()
            )));
        }
        if let Some(latest) = checkpoints.last() {
            self.set_verified_mark(latest.checkpoint.size)?;
        }
        Ok(VerifyReport {
            from_seq: mark,
            len,
            root: frontier.root(),
            chain_head: chain,
            checkpoints: checked,
            keys: source,
        })
    }
}

/// The hash block the checks are reading, kept while consecutive seqs fall in it.
#[derive(Default)]
struct CachedBlock {
    index: Option<u64>,
    bytes: sled::IVec,
}

impl Log {
    /// Recomputes leaf, chain and upper Merkle nodes for `chunk`, compares them with the
    /// caches and with the checkpoints due, and returns the first mismatch.
    fn check_hashes(
        &self,
        chunk: &[(u64, sled::IVec)],
        frontier: &mut Frontier,
        chain: &mut Hash,
        cached: &mut CachedBlock,
        pending: &mut Vec<&SignedCheckpoint>,
    ) -> Option<(u64, VerifyError)> {
        for (seq, bytes) in chunk {
            let seq = *seq;
            let leaf = leaf_hash(bytes);
            *chain = chain_hash(chain, bytes);
            let block = seq / BLOCK_LEN;
            if cached.index != Some(block) {
                match self.cached_block(block) {
                    Ok(bytes) => {
                        *cached = CachedBlock {
                            index: Some(block),
                            bytes: bytes.unwrap_or_default(),
                        }
                    }
                    Err(e) => {
                        let reason = e.in_ledger(self.dir()).to_string();
                        return Some((seq, VerifyError::at(seq, reason)));
                    }
                }
            }
            if cache::entry(&cached.bytes, seq % BLOCK_LEN) != Some((leaf, *chain)) {
                let reason = "record differs from the hash recorded when it was appended \
                              (changed, reordered or inserted)";
                return Some((seq, VerifyError::at(seq, reason)));
            }
            let mut node_error = None;
            frontier.push(leaf, |level, index, hash| {
                if level < STORED_LEVEL || node_error.is_some() {
                    return;
                }
                match self.cached_node(level, index) {
                    Ok(Some(stored)) if stored == *hash => {}
                    Ok(_) => {
                        node_error = Some(format!(
                            "Merkle cache node ({level}, {index}) differs from the records"
                        ))
                    }
                    Err(e) => node_error = Some(e.in_ledger(self.dir()).to_string()),
                }
            });
            if let Some(reason) = node_error {
                return Some((seq, VerifyError::at(seq, reason)));
            }
            while let Some(note) = pending.last().filter(|n| n.checkpoint.size == seq + 1) {
                if note.checkpoint.root != frontier.root() {
                    return Some((
                        seq,
                        VerifyError::general(format!(
                            "checkpoint of size {} does not match the records before it \
                         (a record before seq {} was rewritten)",
                            note.checkpoint.size, note.checkpoint.size
                        )),
                    ));
                }
                pending.pop();
            }
        }
        None
    }
}

fn missing_or_extra(position: u64, len: u64) -> String {
    if position < len {
        format!("record at seq {position} is missing")
    } else {
        format!("record beyond the recorded length {len} (inserted)")
    }
}

/// Decodes and checks the signature of every record of `chunk` on `threads` threads and
/// returns the first failure by position. Each thread keeps the public keys it has decoded:
/// a ledger has few authors, and decoding a key costs a fifth of a verification.
fn first_bad_signature(chunk: &[(u64, sled::IVec)], threads: usize) -> Option<(usize, String)> {
    let check = |offset: usize, part: &[(u64, sled::IVec)]| {
        let mut keys: HashMap<[u8; 32], Result<VerifyingKey, RecordError>> = HashMap::new();
        part.iter().enumerate().find_map(|(i, (_, bytes))| {
            let problem = match Record::decode(bytes) {
                Err(e) => Some(e.to_string()),
                Ok(record) => {
                    let key = keys
                        .entry(record.public_key)
                        .or_insert_with(|| checked_public_key(&record.public_key));
                    let message = event_signing_message(&record.event_bytes);
                    match key {
                        Err(e) => Some(e.to_string()),
                        Ok(key) => verify_with_key(key, &message, &record.signature)
                            .err()
                            .map(|e| e.to_string()),
                    }
                }
            };
            problem.map(|p| (offset + i, p))
        })
    };
    // At least 64 records a thread, so a large --threads never spawns idle threads.
    let threads = threads.min(chunk.len() / 64).max(1);
    if threads == 1 {
        return check(0, chunk);
    }
    let part_len = chunk.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunk
            .chunks(part_len)
            .enumerate()
            .map(|(n, part)| scope.spawn(move || check(n * part_len, part)))
            .collect();
        handles
            .into_iter()
            // A worker only panics on a bug in the checks above; surface it, do not hide it.
            .filter_map(|handle| handle.join().expect("signature worker panicked"))
            .min_by_key(|(index, _)| *index)
    })
}
