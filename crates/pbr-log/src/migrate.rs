//! `pbr migrate`: a format-1 ledger becomes a format-2 one (DESIGN §3 "Format 1").
//!
//! Format 1 hashed the Merkle tree with BLAKE3, chained over leaf hashes ([`crate::hash::v1`])
//! and signed five-line checkpoints. Format 2 keeps the records byte for byte; only what is
//! derived from them changes. A migration therefore:
//!
//! 1. checks the format-1 ledger against its own format-1 evidence: every record decodes,
//!    fits a format-2 record (at most 65,535 bytes) and carries a strictly valid signature;
//!    its format-1 leaf and chain hashes equal the ones cached when it was appended; every
//!    stored format-1 checkpoint is of this ledger, signed by keys the ledger knows (a known
//!    key's signature that fails is refused, as format-1 `pbr verify` did) and has the
//!    format-1 root and chain head of its prefix; and `COMMITTED` agrees (its size, root and
//!    chain head, and its note among the stored ones). The first record that fails is named.
//! 2. copies every format-1 checkpoint note into the tree `checkpoints-v1`, under the same
//!    keys, and flushes; then records `meta.migrating` (the format-1 account it checked:
//!    size, root, chain head, latest note, in the layout of `COMMITTED`) and flushes.
//! 3. clears `checkpoints` and `meta.verified`, and rebuilds `hashes` and `nodes` with the
//!    format-2 hashes ([`Log::rebuild_caches`]); the root and chain head it gives are compared
//!    with the ones computed while checking (a paired assertion).
//! 4. writes `COMMITTED` for the format-2 log (no checkpoint note: the ledger needs a new
//!    checkpoint).
//! 5. last, sets `meta.format` to 2 and removes `meta.migrating` in one atomic write, and
//!    flushes.
//!
//! Invariant: until step 5 the ledger has no `meta.format`, so every other command refuses it
//! as format 1 (naming `pbr migrate`): a ledger never reads as format 2 with format-1 caches
//! or a format-1 account. A crash anywhere leaves a ledger that `pbr migrate` takes up again
//! and brings to the same result. Before `meta.migrating` exists nothing of format 1 has been
//! changed, and the migration starts over. Once it exists, the caches, `checkpoints` and
//! `COMMITTED` may already be format 2, so the records are checked against what
//! `meta.migrating` and `checkpoints-v1` kept of format 1 instead, and steps 3 to 5 run again.
//!
//! The projection trees (`projection.*`) derive from the events alone, never from their
//! hashes, so they are kept as they are. The `keys` tree is kept too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::account::{self, Account};
use crate::error::LogError;
use crate::hash::{self, EMPTY_CHAIN, Hash, v1};
use crate::merkle::Frontier;
use crate::record::{MAX_RECORD_LEN, Record, verify_signature};
use crate::store::{
    CHECKPOINTS_V1_TREE, FORMAT, Log, META_ACCOUNTED, META_FORMAT, META_LEN, META_MIGRATING,
    META_VERIFIED, Opening, read_u64, records, short,
};

/// What a migration did, or found already done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrateSummary {
    /// The ledger directory.
    pub dir: PathBuf,
    /// The ledger was already in format 2: nothing was changed.
    pub already: bool,
    /// This run finished a migration that an earlier one began and did not end.
    pub resumed: bool,
    /// The number of records, kept byte for byte.
    pub records: u64,
    /// The format-1 checkpoint notes kept as history (`checkpoints-v1`): every one stored,
    /// a co-signed note beside the note it extends.
    pub checkpoints_kept: u64,
    /// The sizes of the kept checkpoints, each once, ascending.
    pub checkpoint_sizes: Vec<u64>,
    /// The format-2 Merkle root of the records.
    pub root: Hash,
    /// The format-2 chain head of the records.
    pub chain_head: Hash,
    /// Whether the ledger stores a format-2 checkpoint; never right after a migration, which
    /// leaves the ledger needing a new one.
    pub has_checkpoint: bool,
}

/// Where [`Log::migrate_interrupted`] stops, as a crash would: after the step named, whose
/// writes are durable, and before the next.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// After the checks, before anything is written.
    AfterCheck,
    /// After the format-1 checkpoints were copied to `checkpoints-v1`, before
    /// `meta.migrating`.
    AfterHistory,
    /// After `meta.migrating` was written.
    AfterMarker,
    /// After `checkpoints` and `meta.verified` were cleared.
    AfterClearing,
    /// After the caches were rebuilt in format 2.
    AfterCaches,
    /// After `COMMITTED` was written in format 2, before `meta.format`.
    AfterAccount,
}

impl Log {
    /// Turns the format-1 ledger in `dir` into a format-2 one, in place (see the module
    /// documentation for what is checked and in which order it is written). The records stay
    /// byte for byte; the format-1 checkpoints are kept as history
    /// ([`Log::format_one_checkpoints`]); the ledger has no format-2 checkpoint afterwards and
    /// needs a new one. A ledger already in format 2 is left as it is
    /// ([`MigrateSummary::already`]). After a crash, running it again finishes the migration
    /// with the same result.
    pub fn migrate(dir: &Path) -> Result<MigrateSummary, LogError> {
        migrate(dir, None)?.ok_or_else(|| {
            LogError::Inconsistent("a migration without an interruption stopped early".into())
        })
    }

    /// Runs [`Log::migrate`] up to `at` and stops there, leaving the ledger as a crash at that
    /// point would (every write before it durable), for tests of the restart.
    #[doc(hidden)]
    pub fn migrate_interrupted(dir: &Path, at: Interrupt) -> Result<(), LogError> {
        migrate(dir, Some(at)).map(drop)
    }
}

fn migrate(dir: &Path, stop: Option<Interrupt>) -> Result<Option<MigrateSummary>, LogError> {
    let mut log = Log::open_as(dir, Opening::Migration)?;
    if log.format()? == FORMAT {
        let summary = summary(&log, true, false)?;
        log.close()?;
        return Ok(Some(summary));
    }
    if log.disk_full {
        return Err(LogError::NoSpace {
            path: Some(dir.to_owned()),
        });
    }
    let marker = match log.meta.get(META_MIGRATING)? {
        None => None,
        Some(bytes) => Some(Account::parse(&bytes).map_err(|reason| {
            refused(
                dir,
                None,
                format!(
                    "the record of a migration under way (meta.migrating) is damaged: {reason}"
                ),
            )
        })?),
    };
    let resumed = marker.is_some();
    let checked = check(&log, marker.as_ref())?;
    if stop == Some(Interrupt::AfterCheck) {
        return Ok(None);
    }
    if marker.is_none() {
        // The history first, durably; only then the mark that says it is complete.
        let kept = log.db.open_tree(CHECKPOINTS_V1_TREE)?;
        kept.clear()?;
        let mut batch = sled::Batch::default();
        for entry in log.checkpoints.iter() {
            let (key, value) = entry?;
            batch.insert(key, value);
        }
        kept.apply_batch(batch)?;
        log.flush()?;
        if stop == Some(Interrupt::AfterHistory) {
            return Ok(None);
        }
        log.meta
            .insert(META_MIGRATING, checked.account.to_bytes())?;
        log.flush()?;
    }
    if stop == Some(Interrupt::AfterMarker) {
        return Ok(None);
    }
    log.checkpoints.clear()?;
    log.meta.remove(META_VERIFIED)?;
    log.flush()?;
    if stop == Some(Interrupt::AfterClearing) {
        return Ok(None);
    }
    log.rebuild_caches()?;
    // Paired assertion: the rebuilt caches give what the check computed from the records.
    if log.len() != checked.account.size
        || log.root() != checked.root
        || log.chain_head() != checked.chain_head
        || log.damage().is_some()
    {
        return Err(LogError::Inconsistent(format!(
            "the rebuilt format-2 caches give {} with root {}, but the records give {} with \
             root {}",
            records(log.len()),
            short(&log.root()),
            records(checked.account.size),
            short(&checked.root)
        )));
    }
    if stop == Some(Interrupt::AfterCaches) {
        return Ok(None);
    }
    log.write_account()?;
    log.meta.insert(META_ACCOUNTED, b"1")?;
    log.flush()?;
    if stop == Some(Interrupt::AfterAccount) {
        return Ok(None);
    }
    // Last: from here on the ledger is format 2.
    let mut meta = sled::Batch::default();
    meta.insert(META_FORMAT, &FORMAT.to_be_bytes());
    meta.remove(META_MIGRATING);
    log.meta.apply_batch(meta)?;
    log.flush()?;
    let summary = summary(&log, false, resumed)?;
    log.close()?;
    Ok(Some(summary))
}

fn summary(log: &Log, already: bool, resumed: bool) -> Result<MigrateSummary, LogError> {
    let kept = kept_entries(&log.db)?;
    let mut sizes: Vec<u64> = kept.iter().map(|(size, _)| *size).collect();
    sizes.dedup();
    Ok(MigrateSummary {
        dir: log.dir().to_owned(),
        already,
        resumed,
        records: log.len(),
        checkpoints_kept: kept.len() as u64,
        checkpoint_sizes: sizes,
        root: log.root(),
        chain_head: log.chain_head(),
        has_checkpoint: !log.checkpoints.is_empty(),
    })
}

/// The texts of `checkpoints-v1`, in key order (see [`Log::format_one_checkpoints`]).
pub(crate) fn kept_checkpoints(db: &sled::Db) -> Result<Vec<String>, LogError> {
    Ok(kept_entries(db)?
        .into_iter()
        .map(|(_, text)| text)
        .collect())
}

/// `(size, note text)` of every entry of `checkpoints-v1`, in key order. A ledger that never
/// migrated has no such tree, and none is made (opening a tree writes).
fn kept_entries(db: &sled::Db) -> Result<Vec<(u64, String)>, LogError> {
    let exists = db
        .tree_names()
        .iter()
        .any(|name| name.as_ref() == CHECKPOINTS_V1_TREE.as_bytes());
    if !exists {
        return Ok(Vec::new());
    }
    let tree = db.open_tree(CHECKPOINTS_V1_TREE)?;
    tree.iter()
        .map(|entry| {
            let (key, value) = entry?;
            let size = key
                .get(..8)
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| {
                    LogError::Inconsistent(format!("{CHECKPOINTS_V1_TREE} holds a malformed key"))
                })?;
            let text = String::from_utf8(value.to_vec()).map_err(|_| {
                LogError::Inconsistent(format!("a note in {CHECKPOINTS_V1_TREE} is not UTF-8"))
            })?;
            Ok((size, text))
        })
        .collect()
}

fn refused(dir: &Path, seq: Option<u64>, reason: String) -> LogError {
    LogError::Migration {
        dir: dir.to_owned(),
        seq,
        reason,
    }
}

/// What the check established.
struct Checked {
    /// The format-1 account of the records: size, root, chain head, latest note.
    account: Account,
    /// The format-2 root of the records, computed while checking.
    root: Hash,
    /// The format-2 chain head of the records.
    chain_head: Hash,
}

/// Checks the format-1 ledger against its own format-1 evidence (step 1 of the module
/// documentation). With `marker`, a migration under way: the caches, `checkpoints` and
/// `COMMITTED` may already be rewritten, and the evidence is `marker` and `checkpoints-v1`.
fn check(log: &Log, marker: Option<&Account>) -> Result<Checked, LogError> {
    let dir = log.dir();
    let committed = read_u64(&log.meta, META_LEN)?.unwrap_or(0);
    let notes_tree = match marker {
        None => log.checkpoints.clone(),
        Some(_) => log.db.open_tree(CHECKPOINTS_V1_TREE)?,
    };
    let keys = known_keys(log)?;
    // Each stored note, parsed and its signatures checked; the sizes to compare at.
    let mut texts: Vec<String> = Vec::new();
    let mut at_size: BTreeMap<u64, Vec<(Hash, Hash, String)>> = BTreeMap::new();
    for entry in notes_tree.iter() {
        let (_, value) = entry?;
        let text = String::from_utf8(value.to_vec())
            .map_err(|_| refused(dir, None, "a stored checkpoint is not UTF-8".into()))?;
        let note = NoteV1::parse(&text).map_err(|reason| {
            refused(
                dir,
                None,
                format!("a stored format-1 checkpoint does not parse: {reason}"),
            )
        })?;
        let what = format!("the format-1 checkpoint of size {}", note.size);
        if note.origin != log.origin() {
            return Err(refused(
                dir,
                None,
                format!(
                    "{what} is of ledger {}, not of {}",
                    note.origin,
                    log.origin()
                ),
            ));
        }
        if note.size > committed {
            return Err(refused(
                dir,
                None,
                format!("{what} is beyond the log's {}", records(committed)),
            ));
        }
        note.check_signatures(&keys)
            .map_err(|reason| refused(dir, None, format!("{what}: {reason}")))?;
        at_size
            .entry(note.size)
            .or_default()
            .push((note.root, note.chain, what));
        texts.push(text);
    }
    // What `COMMITTED` says (or, under way, what the migration recorded of it).
    let account = match marker {
        Some(marker) => Some(marker.clone()),
        None => {
            let account = account::read(dir)?;
            if account.is_none() && log.meta.get(META_ACCOUNTED)?.is_some() {
                return Err(refused(
                    dir,
                    None,
                    format!(
                        "its account of what it committed, {}, is missing, though the ledger \
                         kept one",
                        account::path(dir).display()
                    ),
                ));
            }
            account
        }
    };
    if let Some(account) = &account {
        if account.origin != log.origin() {
            return Err(refused(
                dir,
                None,
                format!(
                    "its account {} is of ledger {}, not of {}",
                    account::path(dir).display(),
                    account.origin,
                    log.origin()
                ),
            ));
        }
        if account.size > committed || (marker.is_some() && account.size != committed) {
            return Err(refused(
                dir,
                None,
                format!(
                    "sled holds {}, but {} were committed",
                    records(committed),
                    records(account.size)
                ),
            ));
        }
        if let Some(note) = &account.note
            && !texts.contains(note)
        {
            return Err(refused(
                dir,
                None,
                format!(
                    "the checkpoint note in its account {} is not among the stored ones",
                    account::path(dir).display()
                ),
            ));
        }
        at_size.entry(account.size).or_default().push((
            account.root,
            account.chain,
            format!("the account {}", account::path(dir).display()),
        ));
    }
    // The records, streamed: format-1 hashes checked, format-2 ones computed.
    let mut tree = FrontierV1::default();
    let mut chain = EMPTY_CHAIN;
    let mut tree_2 = Frontier::new();
    let mut chain_2 = EMPTY_CHAIN;
    let compare = |size: u64, root: &Hash, chain: &Hash| -> Result<(), LogError> {
        for (want_root, want_chain, what) in at_size.get(&size).into_iter().flatten() {
            if want_root != root || want_chain != chain {
                return Err(refused(
                    dir,
                    None,
                    format!(
                        "the first {} have format-1 root {} and chain head {}, but {what} says \
                         root {} and chain head {}",
                        records(size),
                        short(root),
                        short(chain),
                        short(want_root),
                        short(want_chain)
                    ),
                ));
            }
        }
        Ok(())
    };
    compare(0, &tree.root(), &chain)?;
    let mut expected = 0u64;
    for entry in log.iter_from(0) {
        let (seq, bytes) = entry?;
        if seq != expected {
            return Err(refused(dir, Some(expected), "it is missing".into()));
        }
        if seq >= committed {
            return Err(refused(
                dir,
                Some(seq),
                format!(
                    "it is beyond the recorded length {committed} (inserted, or left by a batch \
                     that never committed)"
                ),
            ));
        }
        if bytes.len() > MAX_RECORD_LEN {
            return Err(LogError::TooLargeForFormat2 {
                dir: dir.to_owned(),
                seq,
                len: bytes.len(),
            });
        }
        let record = Record::decode(&bytes).map_err(|e| refused(dir, Some(seq), e.to_string()))?;
        record
            .verify()
            .map_err(|e| refused(dir, Some(seq), e.to_string()))?;
        let leaf = v1::leaf_hash(&bytes);
        chain = v1::chain_hash(&chain, &leaf);
        if marker.is_none()
            && let Ok((cached_leaf, cached_chain)) = log.cached_hashes(seq)
            && (cached_leaf != leaf || cached_chain != chain)
        {
            return Err(refused(
                dir,
                Some(seq),
                "it differs from the format-1 hashes recorded when it was appended".into(),
            ));
        }
        tree.push(leaf);
        tree_2.push(hash::leaf_hash(&bytes), |_, _, _| {});
        chain_2 = hash::chain_hash(&chain_2, &bytes);
        expected = seq + 1;
        compare(expected, &tree.root(), &chain)?;
    }
    if expected != committed {
        return Err(refused(
            dir,
            Some(expected),
            format!("it is missing (the ledger recorded {})", records(committed)),
        ));
    }
    Ok(Checked {
        account: Account {
            origin: log.origin().to_owned(),
            size: committed,
            root: tree.root(),
            chain,
            note: match marker {
                Some(marker) => marker.note.clone(),
                None => texts.last().cloned(),
            },
        },
        root: tree_2.root(),
        chain_head: chain_2,
    })
}

/// Public keys by name and key id.
type KnownKeys = BTreeMap<(String, [u8; 4]), [u8; 32]>;

/// The keys of the ledger's `keys` tree as `(name, key id) → public key`. Format-1 keys are
/// `<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte key)>`, the id `SHA-256(name ‖ 0x0a ‖ 0x01
/// ‖ key)[0..4]`; read here rather than with [`crate::note`], which reads format 2.
fn known_keys(log: &Log) -> Result<KnownKeys, LogError> {
    let mut keys = BTreeMap::new();
    for entry in log.keys.iter() {
        let (_, value) = entry?;
        let text = String::from_utf8_lossy(&value).into_owned();
        let (name, key_id, public_key) = parse_key_v1(&text).ok_or_else(|| {
            refused(
                log.dir(),
                None,
                format!("the stored verifier key {text:?} is not a format-1 key"),
            )
        })?;
        keys.insert((name, key_id), public_key);
    }
    Ok(keys)
}

fn parse_key_v1(text: &str) -> Option<(String, [u8; 4], [u8; 32])> {
    let mut parts = text.splitn(3, '+');
    let (name, id, material) = (parts.next()?, parts.next()?, parts.next()?);
    let material = BASE64.decode(material).ok()?;
    let (&0x01, public_key) = material.split_first()? else {
        return None;
    };
    let public_key: [u8; 32] = public_key.try_into().ok()?;
    let key_id = key_id_v1(name, &public_key);
    (crate::hex::encode(&key_id) == id && crate::note::valid_key_name(name))
        .then(|| (name.to_owned(), key_id, public_key))
}

fn key_id_v1(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', 0x01]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A format-1 checkpoint note: a five-line body
/// (`<origin>\n<size>\n<base64 root>\nchain <base64 chain head>\ntime <secs>\n`), a blank line
/// and signature lines `— <name> <base64(key id ‖ Ed25519 signature over the body)>`.
struct NoteV1 {
    body: String,
    origin: String,
    size: u64,
    root: Hash,
    chain: Hash,
    /// The well-formed signature lines: name, key id, signature bytes.
    signatures: Vec<(String, [u8; 4], Vec<u8>)>,
}

impl NoteV1 {
    fn parse(text: &str) -> Result<NoteV1, String> {
        let split = text
            .find("\n\n")
            .ok_or("it has no blank line before its signatures")?;
        let (body, rest) = (&text[..=split], &text[split + 2..]);
        let lines: Vec<&str> = body[..body.len() - 1].split('\n').collect();
        let [origin, size, root, chain, time] = lines.as_slice() else {
            return Err(format!("its body has {} lines, not 5", lines.len()));
        };
        let decimal = |text: &str| -> Option<u64> {
            let canonical = !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
                && (text == "0" || !text.starts_with('0'));
            canonical.then(|| text.parse().ok()).flatten()
        };
        let hash = |text: &str| -> Option<Hash> { BASE64.decode(text).ok()?.try_into().ok() };
        let size = decimal(size).ok_or_else(|| format!("bad tree size {size:?}"))?;
        let root = hash(root).ok_or_else(|| format!("bad root {root:?}"))?;
        let chain = chain
            .strip_prefix("chain ")
            .and_then(hash)
            .ok_or_else(|| format!("bad chain line {chain:?}"))?;
        time.strip_prefix("time ")
            .and_then(decimal)
            .ok_or_else(|| format!("bad time line {time:?}"))?;
        let rest = rest
            .strip_suffix('\n')
            .ok_or("it does not end in a newline")?;
        let signatures = rest
            .split('\n')
            .filter_map(|line| {
                let (name, material) = line.strip_prefix("\u{2014} ")?.split_once(' ')?;
                let material = BASE64.decode(material).ok()?;
                let key_id: [u8; 4] = material.get(..4)?.try_into().ok()?;
                Some((name.to_owned(), key_id, material[4..].to_vec()))
            })
            .collect();
        Ok(NoteV1 {
            body: body.to_owned(),
            origin: (*origin).to_owned(),
            size,
            root,
            chain,
            signatures,
        })
    }

    /// Checks the signatures of the keys the ledger knows: one that fails is refused, and so
    /// is a note that none of them signed (as format-1 `pbr verify` refused it).
    fn check_signatures(&self, keys: &KnownKeys) -> Result<(), String> {
        let mut signed = 0;
        for (name, key_id, signature) in &self.signatures {
            let Some(public_key) = keys.get(&(name.clone(), *key_id)) else {
                continue;
            };
            let good = <[u8; 64]>::try_from(signature.as_slice())
                .is_ok_and(|s| verify_signature(public_key, self.body.as_bytes(), &s).is_ok());
            if !good {
                return Err(format!("the signature of {name} does not verify"));
            }
            signed += 1;
        }
        if signed == 0 {
            return Err("no key the ledger knows signed it".into());
        }
        Ok(())
    }
}

/// The right edge of a format-1 tree (RFC 9162 §2.1's shape with BLAKE3, [`v1::node_hash`]).
#[derive(Default)]
struct FrontierV1 {
    size: u64,
    /// The roots of the complete subtrees, largest first.
    edge: Vec<Hash>,
}

impl FrontierV1 {
    fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        let mut index = self.size;
        while index & 1 == 1 {
            let Some(left) = self.edge.pop() else { break };
            hash = v1::node_hash(&left, &hash);
            index >>= 1;
        }
        self.edge.push(hash);
        self.size += 1;
    }

    fn root(&self) -> Hash {
        let mut nodes = self.edge.iter().rev();
        match nodes.next() {
            None => v1::empty_root(),
            Some(last) => nodes.fold(*last, |right, left| v1::node_hash(left, &right)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(body: &str, name: &str, seed: u8) -> (String, KnownKeys) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let public_key = key.verifying_key().to_bytes();
        let key_id = key_id_v1(name, &public_key);
        let signature = crate::record::sign_raw(&key, body.as_bytes());
        let mut material = key_id.to_vec();
        material.extend_from_slice(&signature);
        let text = format!("{body}\n\u{2014} {name} {}\n", BASE64.encode(material));
        let vkey = format!(
            "{name}+{}+{}",
            crate::hex::encode(&key_id),
            BASE64.encode([&[0x01][..], &public_key].concat())
        );
        let parsed = parse_key_v1(&vkey).expect("a format-1 verifier key");
        (text, KnownKeys::from([((parsed.0, parsed.1), parsed.2)]))
    }

    const BODY: &str = "test.example/l\n5\nQy/8aUNspik236PGLL/m5fXTtM7Ws2uSNipON9wO0jA=\nchain \
                        lWlG6EdpVcDahU5cBLqSab7P/Mu89FPaG0nInG0oPAk=\ntime 1740000000\n";

    #[test]
    fn a_format_one_note_parses_and_its_signatures_are_checked() {
        let (text, keys) = signed(BODY, "dwp", 7);
        let note = NoteV1::parse(&text).expect("parses");
        assert_eq!((note.origin.as_str(), note.size), ("test.example/l", 5));
        assert_eq!(note.body, BODY);
        assert_eq!(note.check_signatures(&keys), Ok(()));
        // A key the ledger does not know signs nothing; a known key's bad signature is refused.
        let (_, other) = signed(BODY, "provider", 8);
        assert_eq!(
            note.check_signatures(&other),
            Err("no key the ledger knows signed it".into())
        );
        let changed = text.replace("time 1740000000", "time 1740000001");
        let note = NoteV1::parse(&changed).expect("parses");
        assert_eq!(
            note.check_signatures(&keys),
            Err("the signature of dwp does not verify".into())
        );
    }

    #[test]
    fn a_malformed_format_one_note_is_refused() {
        let (text, _) = signed(BODY, "dwp", 7);
        for (from, to, why) in [
            ("time 1740000000\n", "", "body has 4 lines"),
            ("\n5\n", "\n05\n", "bad tree size"),
            ("chain ", "chain: ", "bad chain line"),
            ("\n\n", "\n", "no blank line"),
        ] {
            let bad = text.replacen(from, to, 1);
            let error = NoteV1::parse(&bad).err().expect(why);
            assert!(error.contains(why), "{error}");
        }
    }

    #[test]
    fn the_format_one_frontier_gives_the_roots_of_rfc_9162_with_blake3() {
        fn root(leaves: &[Hash]) -> Hash {
            match leaves.len() {
                0 => v1::empty_root(),
                1 => leaves[0],
                n => {
                    let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                    v1::node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
                }
            }
        }
        let leaves: Vec<Hash> = (0u8..70).map(|n| v1::leaf_hash(&[n])).collect();
        let mut frontier = FrontierV1::default();
        assert_eq!(frontier.root(), root(&[]));
        for n in 0..leaves.len() {
            frontier.push(leaves[n]);
            assert_eq!(frontier.root(), root(&leaves[..=n]), "size {}", n + 1);
        }
    }
}
