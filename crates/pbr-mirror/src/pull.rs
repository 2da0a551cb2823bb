//! `clone` and `pull`: the mirror's one way in.
//!
//! A pull, in order (`docs/cli.md`, "pbr pull"):
//! 1. Finish an interrupted pull from its spool, if it left one whole (no network).
//! 2. Fetch the checkpoint; check the log key's signature and, with a policy, the quorum.
//! 3. Compare it with the latest stored checkpoint: smaller and consistent is a rollback;
//!    the same size with another root, or a consistency proof (from the server's hash
//!    tiles) that fails, is a fork, and the evidence is written.
//! 4. Fetch the entry bundles from the mirror's length to the checkpoint's size, spool them
//!    to `DIR/mirror/spool`, and require the Merkle root of the local records plus the new
//!    ones to be the checkpoint's root. Nothing is appended before this holds.
//! 5. Write `DIR/mirror/pending` (the checkpoint), append the spool in chunks as records
//!    signed elsewhere (strict signature, every admission rule, duplicates refused), each
//!    chunk committed, then store the checkpoint and remove the spool.
//! 6. Recompute every issued statement.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use pbr_ledger::{Input, Ledger, LedgerError};
use pbr_log::hash::leaf_hash;
use pbr_log::merkle::{self, Frontier, NodeSource};
use pbr_log::policy::Policy;
use pbr_log::tiles::{TILE_WIDTH, TilePath, TileReader, TileSource, tile_width};
use pbr_log::{Hash, Log, Record, SignedCheckpoint, TileError, VerifierKey, hex};
use serde::{Deserialize, Serialize};

use crate::config::write_atomically;
use crate::evidence::Evidence;
use crate::http::HttpSource;
use crate::{MirrorConfig, MirrorError};

/// Records appended per committed chunk.
const CHUNK_RECORDS: usize = 1024;
/// Record bytes appended per committed chunk, at most (one record may exceed it).
const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// The mirror's working directory inside the ledger directory.
const WORK_DIR: &str = "mirror";
/// The new records of a pull, each as a u16 big-endian length and the record bytes.
const SPOOL: &str = "spool";
/// The checkpoint whose records the spool completes, written once the spool is proven.
const PENDING: &str = "pending";
/// The log length whose issued statements were last recomputed.
const AUDITED: &str = "audited";
/// Where evidence files go.
const FORKS_DIR: &str = "forks";

/// What a pull did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PullReport {
    /// The mirror's length before the pull.
    pub from: u64,
    /// Its length after.
    pub to: u64,
    /// Records appended by finishing an interrupted pull.
    pub resumed: u64,
    /// Entry bundles fetched.
    pub bundles_fetched: u64,
    /// Records appended in all.
    pub appended: u64,
    /// The checkpoint now stored (the server's).
    pub checkpoint: String,
    /// Its root.
    pub root: Hash,
    /// Issued statements recomputed, when the audit ran.
    pub statements_audited: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    /// The mirror's length when the spool was written: the spool's first record's seq.
    from: u64,
    /// The checkpoint note.
    checkpoint: String,
}

/// Creates a mirror of the log at `url` in `dir` and pulls it. `config` gives the trust
/// input (`log_key`, `policy`) and `token_file`; its `url` and `origin` are set here, the
/// origin from the checkpoint, which must be signed by the log key (whose name it is).
pub fn clone(
    url: &str,
    dir: &Path,
    mut config: MirrorConfig,
    now_micros: i64,
    threads: usize,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<PullReport, MirrorError> {
    config.url = url.trim_end_matches('/').to_owned();
    let log_key = VerifierKey::parse(&config.log_key).map_err(|e| MirrorError::Config {
        path: PathBuf::from("--log-key"),
        reason: e.0,
    })?;
    config.origin = log_key.name.clone();
    let trust = config.trust()?;
    let source = HttpSource::new(&config.url, read_token(&config)?);
    let note = fetch_checkpoint(&source, &config, &trust)?;
    drop(note);
    let mut ledger = Ledger::create(dir, &config.origin)?;
    // The keys a verifier of this ledger checks checkpoints with, as the operator's ledger
    // stores them: a convenience for `pbr verify` without --key, never a trust anchor.
    ledger.log_mut().add_verifier_key(&log_key)?;
    for (_, witness) in trust.witnesses() {
        ledger.log_mut().add_verifier_key(witness)?;
    }
    config.write(dir)?;
    ledger.close()?;
    pull(dir, now_micros, threads, progress)
}

/// Pulls the operator's log into the mirror in `dir` (see the module documentation).
pub fn pull(
    dir: &Path,
    now_micros: i64,
    threads: usize,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<PullReport, MirrorError> {
    let config = MirrorConfig::read(dir)?;
    let trust = config.trust()?;
    let mut ledger = Ledger::open(dir)?;
    ledger.set_threads(threads);
    ledger.set_refuse_duplicates(true);
    let work = dir.join(WORK_DIR);
    fs::create_dir_all(&work).map_err(|source| MirrorError::Io {
        path: work.clone(),
        source,
    })?;
    let mut report = PullReport {
        from: ledger.log().len(),
        ..PullReport::default()
    };
    report.resumed = resume(&mut ledger, dir, &trust, now_micros, progress)?;

    let source = HttpSource::new(&config.url, read_token(&config)?);
    let reader = TileReader::new(&source);
    let note = fetch_checkpoint(&source, &config, &trust)?;
    let (size, root) = (note.checkpoint.size, note.checkpoint.root);
    let len = ledger.log().len();
    let old = ledger.log().latest_checkpoint()?;
    // The tiles must lead to the signed root before any of them is used.
    if size > 0 && reader.root(size)? != root {
        return Err(MirrorError::Tiles(TileError::Disagrees {
            path: "checkpoint".to_owned(),
            reason: format!("the hash tiles of size {size} do not lead to its root"),
        }));
    }
    if let Some(old) = &old {
        check_against_stored(&ledger, dir, old, &note, &reader)?;
    }
    if size <= len {
        // Nothing new (a checkpoint below the mirror's length was checked against its
        // records above or is the stored one).
        if ledger.log().root_at(size)? != root {
            return Err(MirrorError::Tiles(TileError::Inconsistent(format!(
                "the checkpoint of size {size} does not match this mirror's records, which no \
                 stored checkpoint covers; run `pbr pull` again"
            ))));
        }
        if old.as_ref().is_none_or(|old| old.checkpoint.size < size) {
            ledger.log_mut().store_checkpoint(&note)?;
        }
    } else {
        let spool = work.join(SPOOL);
        report.bundles_fetched = fetch_to_spool(ledger.log(), &source, &note, &spool, progress)?;
        let pending = Pending {
            from: len,
            checkpoint: note.to_text(),
        };
        let pending_text = serde_json::to_vec(&pending).map_err(|e| MirrorError::Config {
            path: work.join(PENDING),
            reason: e.to_string(),
        })?;
        write_atomically(&work.join(PENDING), &pending_text)?;
        append_spool(
            &mut ledger,
            dir,
            &reader,
            &note,
            len,
            len,
            now_micros,
            progress,
        )?;
        ledger.log_mut().store_checkpoint(&note)?;
        remove_work(&work)?;
    }
    report.to = ledger.log().len();
    report.appended = report.to - report.from;
    report.checkpoint = note.to_text();
    report.root = root;
    report.statements_audited = audit(&ledger, &work, progress)?;
    ledger.close()?;
    Ok(report)
}

fn read_token(config: &MirrorConfig) -> Result<Option<String>, MirrorError> {
    let Some(path) = &config.token_file else {
        return Ok(None);
    };
    let mut text = String::new();
    File::open(path)
        .and_then(|file| file.take(4096).read_to_string(&mut text))
        .map_err(|source| MirrorError::Io {
            path: path.clone(),
            source,
        })?;
    let token = text.trim();
    if token.is_empty() || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MirrorError::Config {
            path: path.clone(),
            reason: "does not hold one token on one line".to_owned(),
        });
    }
    Ok(Some(token.to_owned()))
}

/// The server's checkpoint, signed by the log key, of the mirror's origin, with the quorum
/// when the mirror requires one.
fn fetch_checkpoint(
    source: &HttpSource,
    config: &MirrorConfig,
    trust: &Policy,
) -> Result<SignedCheckpoint, MirrorError> {
    let text = TileReader::new(source).checkpoint_text()?;
    let note = SignedCheckpoint::parse(&text).map_err(|e| MirrorError::Untrusted(e.0))?;
    if note.checkpoint.origin != config.origin {
        return Err(MirrorError::Untrusted(format!(
            "it is of the log {}, not {}",
            note.checkpoint.origin, config.origin
        )));
    }
    let check = trust
        .check(&note)
        .map_err(|e| MirrorError::Untrusted(e.0))?;
    if config.requires_quorum() && !check.quorum_met {
        return Err(MirrorError::Untrusted(format!(
            "size {} lacks the policy's quorum (missing: {})",
            note.checkpoint.size,
            check.missing.join(", ")
        )));
    }
    Ok(note)
}

/// Refuses a checkpoint inconsistent with the mirror's latest stored one `old`: a smaller
/// consistent one is a rollback; anything inconsistent is a fork, whose evidence is written.
fn check_against_stored<S: TileSource>(
    ledger: &Ledger,
    dir: &Path,
    old: &SignedCheckpoint,
    new: &SignedCheckpoint,
    reader: &TileReader<S>,
) -> Result<(), MirrorError> {
    let log = ledger.log();
    let (old_size, new_size) = (old.checkpoint.size, new.checkpoint.size);
    let remote = reader.node_source(new_size);
    let consistent = if new_size < old_size {
        log.root_at(new_size)? == new.checkpoint.root
    } else if new_size == old_size {
        old.checkpoint.root == new.checkpoint.root
    } else {
        // RFC 9162 §2.1.4 from the server's hash tiles; only the two signed roots count.
        let path = merkle::consistency_proof(&remote, old_size, new_size)?;
        merkle::verify_consistency(
            old_size,
            new_size,
            &old.checkpoint.root,
            &new.checkpoint.root,
            &path,
        )
    };
    if consistent {
        if new_size < old_size {
            return Err(MirrorError::Rollback {
                stored: old_size,
                served: new_size,
            });
        }
        return Ok(());
    }
    // Inconsistent: find a leaf on which the two trees differ, and prove each side.
    let shared = old_size.min(new_size);
    let leaves = match first_difference(log, &remote, shared) {
        Ok(Some(k)) => {
            let old_leaf = log.node(0, k)?;
            let old_path = log.inclusion_path(k, old_size)?;
            let new_leaf = remote.node(0, k)?;
            let new_path = merkle::inclusion_proof(&remote, k, new_size)?;
            let holds =
                merkle::verify_inclusion(k, new_size, &new_leaf, &new_path, &new.checkpoint.root)
                    && merkle::verify_inclusion(
                        k,
                        old_size,
                        &old_leaf,
                        &old_path,
                        &old.checkpoint.root,
                    );
            holds.then_some((k, old_leaf, old_path, new_leaf, new_path))
        }
        _ => None,
    };
    let same_size = old_size == new_size;
    if leaves.is_none() && !same_size {
        // The server's tiles do not prove what its note claims: bad tiles, not evidence.
        return Err(MirrorError::Tiles(TileError::Inconsistent(format!(
            "the server's hash tiles give no valid consistency proof from the stored size \
             {old_size} to size {new_size}"
        ))));
    }
    let reason = match &leaves {
        Some((k, ..)) => format!(
            "the server's checkpoint of size {new_size} holds another record at seq {k} than \
             the checkpoint of size {old_size} this mirror verified"
        ),
        None => format!(
            "the server's checkpoint of size {new_size} has another root than the one this \
             mirror verified"
        ),
    };
    let file = write_evidence(dir, &Evidence::fork(old, new, leaves))?;
    Err(MirrorError::Fork { file, reason })
}

/// The first leaf below `size` where the local tree and `remote` differ, by descending from
/// the first complete subtree of `size` whose hashes differ: `O(log size)` node reads.
fn first_difference<R: NodeSource<Error = TileError>>(
    local: &Log,
    remote: &R,
    size: u64,
) -> Result<Option<u64>, MirrorError> {
    let mut start = 0u64;
    for level in (0..64u32).rev() {
        if size & (1u64 << level) == 0 {
            continue;
        }
        let index = start >> level;
        if local.node(level, index)? != remote.node(level, index)? {
            let (mut level, mut index) = (level, index);
            while level > 0 {
                level -= 1;
                index *= 2;
                if local.node(level, index)? == remote.node(level, index)? {
                    index += 1;
                }
            }
            return Ok(Some(index));
        }
        start += 1u64 << level;
    }
    Ok(None)
}

/// Writes `evidence` as `DIR/forks/<n>.json`, `n` one more than the largest there.
fn write_evidence(dir: &Path, evidence: &Evidence) -> Result<PathBuf, MirrorError> {
    let forks = dir.join(FORKS_DIR);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MirrorError::Io { path, source }
    };
    fs::create_dir_all(&forks).map_err(io(&forks))?;
    let mut next = 1u64;
    for entry in fs::read_dir(&forks).map_err(io(&forks))? {
        let name = entry.map_err(io(&forks))?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|name| name.strip_suffix(".json"))
            .and_then(|n| n.parse::<u64>().ok())
        {
            next = next.max(n + 1);
        }
    }
    let file = forks.join(format!("{next:04}.json"));
    let mut text = serde_json::to_string_pretty(evidence).map_err(|e| MirrorError::Config {
        path: file.clone(),
        reason: e.to_string(),
    })?;
    text.push('\n');
    write_atomically(&file, text.as_bytes())?;
    Ok(file)
}

/// Fetches the records from the mirror's length to the checkpoint's size into `spool` and
/// requires the local records plus them to have the checkpoint's root. Returns the number
/// of bundles fetched.
fn fetch_to_spool(
    log: &Log,
    source: &HttpSource,
    note: &SignedCheckpoint,
    spool: &Path,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<u64, MirrorError> {
    let (size, root) = (note.checkpoint.size, note.checkpoint.root);
    let len = log.len();
    let io = |source| MirrorError::Io {
        path: spool.to_owned(),
        source,
    };
    let mut frontier = Frontier::load(log, len)?;
    let mut out = BufWriter::new(File::create(spool).map_err(io)?);
    let reader = TileReader::new(source);
    let remote = reader.node_source(size);
    let mut bundles = 0u64;
    let mut mismatch: Option<(String, u64)> = None;
    for bundle_index in (len >> 8)..size.div_ceil(u64::from(TILE_WIDTH)) {
        let width = tile_width(size, 0, bundle_index)
            .ok_or_else(|| TileError::OutOfRange(format!("bundle {bundle_index}")))?;
        let (path, bytes) = fetch_bundle(source, bundle_index, width)?;
        bundles += 1;
        let first = bundle_index << 8;
        for (offset, entry) in (0u64..).zip(entries(&bytes, &path)?) {
            let seq = first + offset;
            if seq < len || seq >= size {
                continue;
            }
            let leaf = leaf_hash(entry);
            if mismatch.is_none() && remote.node(0, seq)? != leaf {
                mismatch = Some((path.to_string(), seq));
            }
            frontier.push(leaf, |_, _, _| {});
            out.write_all(&(entry.len() as u16).to_be_bytes())
                .and_then(|()| out.write_all(entry))
                .map_err(io)?;
        }
        progress("fetching", (first + 256).min(size) - len, size - len);
    }
    out.into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    if frontier.size() != size || frontier.root() != root {
        let _ = fs::remove_file(spool);
        let reason = match mismatch {
            Some((path, seq)) => format!(
                "{path}: the record at seq {seq} does not hash to its leaf in the hash tiles"
            ),
            None => format!(
                "the {} records fetched after this mirror's {len} do not lead to the \
                 checkpoint's root {}",
                frontier.size().saturating_sub(len),
                hex::encode(&root)
            ),
        };
        return Err(MirrorError::Tiles(TileError::Inconsistent(reason)));
    }
    Ok(bundles)
}

/// Entry bundle `index` of `width` entries, or the full one when the partial one is absent.
fn fetch_bundle<S: TileSource>(
    source: &S,
    index: u64,
    width: u16,
) -> Result<(TilePath, Vec<u8>), MirrorError> {
    let path = TilePath::entries(index, width)?;
    if let Some(bytes) = source.fetch(&path.to_string())? {
        return Ok((path, bytes));
    }
    if path.is_partial()
        && let Some(bytes) = source.fetch(&path.full().to_string())?
    {
        return Ok((path.full(), bytes));
    }
    Err(MirrorError::Tiles(TileError::Missing {
        path: path.to_string(),
    }))
}

/// The entries of a bundle: each a u16 big-endian length and that many bytes, to the end.
fn entries<'a>(bytes: &'a [u8], path: &TilePath) -> Result<Vec<&'a [u8]>, MirrorError> {
    let mut out = Vec::with_capacity(usize::from(path.width()));
    let mut rest = bytes;
    while !rest.is_empty() {
        let [high, low, tail @ ..] = rest else {
            return Err(malformed(path, "ends inside an entry's length"));
        };
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        let (entry, tail) = tail
            .split_at_checked(len)
            .ok_or_else(|| malformed(path, "ends inside an entry"))?;
        out.push(entry);
        rest = tail;
    }
    if out.len() != usize::from(path.width()) {
        return Err(malformed(
            path,
            &format!("holds {} entries, not {}", out.len(), path.width()),
        ));
    }
    Ok(out)
}

fn malformed(path: &TilePath, reason: &str) -> MirrorError {
    MirrorError::Tiles(TileError::Malformed {
        path: path.to_string(),
        reason: reason.to_owned(),
    })
}

/// Reads the spool's records one at a time.
struct SpoolReader {
    file: BufReader<File>,
    path: PathBuf,
}

impl SpoolReader {
    fn open(path: &Path) -> Result<SpoolReader, MirrorError> {
        let file = File::open(path).map_err(|source| MirrorError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(SpoolReader {
            file: BufReader::new(file),
            path: path.to_owned(),
        })
    }

    /// The next record, `None` at the end.
    fn next_record(&mut self) -> Result<Option<Vec<u8>>, MirrorError> {
        let io = |source| MirrorError::Io {
            path: self.path.clone(),
            source,
        };
        let mut length = [0u8; 2];
        match self.file.read_exact(&mut length) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            other => other.map_err(io)?,
        }
        let mut bytes = vec![0u8; usize::from(u16::from_be_bytes(length))];
        self.file.read_exact(&mut bytes).map_err(io)?;
        Ok(Some(bytes))
    }
}

/// Appends the spooled records (the first of which has seq `spool_from`) from seq `len`
/// on, in committed chunks. A record an admission rule refuses is evidence.
#[allow(clippy::too_many_arguments)]
fn append_spool<S: TileSource>(
    ledger: &mut Ledger,
    dir: &Path,
    reader: &TileReader<S>,
    note: &SignedCheckpoint,
    spool_from: u64,
    len: u64,
    now_micros: i64,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<(), MirrorError> {
    let size = note.checkpoint.size;
    let spool_path = dir.join(WORK_DIR).join(SPOOL);
    let mut spool = SpoolReader::open(&spool_path)?;
    for _ in spool_from..len {
        spool.next_record()?;
    }
    let mut seq = len;
    loop {
        let mut chunk: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        while chunk.len() < CHUNK_RECORDS && bytes < CHUNK_BYTES && seq < size {
            let Some(record) = spool.next_record()? else {
                break;
            };
            bytes += record.len();
            chunk.push((seq, record));
            seq += 1;
        }
        if chunk.is_empty() {
            break;
        }
        let first = chunk.first().map_or(seq, |(s, _)| *s);
        let mut inputs = Vec::with_capacity(chunk.len());
        for (seq, bytes) in &chunk {
            match Record::decode(bytes) {
                Ok(record) => inputs.push((format!("seq {seq}"), Input::Signed(record))),
                Err(e) => {
                    return Err(rule_evidence(
                        dir,
                        reader,
                        note,
                        *seq,
                        bytes,
                        &format!("the record does not decode: {e}"),
                    ));
                }
            }
        }
        let count = inputs.len() as u64;
        match ledger.append(inputs, &[], now_micros, |_, _| {}) {
            Ok(report) if report.appended == count && report.seqs.start == first => {}
            Ok(report) => {
                return Err(MirrorError::Ledger(LedgerError::Mismatch(format!(
                    "the mirror appended {} of {count} records at seq {}, not at {first}",
                    report.appended, report.seqs.start
                ))));
            }
            Err(LedgerError::Rejected(rejected)) => {
                let at = rejected
                    .where_
                    .strip_prefix("seq ")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(first);
                let bytes = chunk
                    .iter()
                    .find(|(s, _)| *s == at)
                    .map(|(_, b)| b.as_slice())
                    .unwrap_or_default();
                return Err(rule_evidence(
                    dir,
                    reader,
                    note,
                    at,
                    bytes,
                    &rejected.reason,
                ));
            }
            Err(other) => return Err(other.into()),
        }
        progress("appending", seq - len, size - len);
    }
    if ledger.log().len() != size {
        return Err(MirrorError::Ledger(LedgerError::Mismatch(format!(
            "the spool ended at seq {seq}, before the checkpoint's size {size}"
        ))));
    }
    Ok(())
}

/// Writes the evidence of a record the admission rules refuse, proven included under
/// `note` by the server's hash tiles (or from the spool's own tree when those fail).
fn rule_evidence<S: TileSource>(
    dir: &Path,
    reader: &TileReader<S>,
    note: &SignedCheckpoint,
    seq: u64,
    bytes: &[u8],
    reason: &str,
) -> MirrorError {
    let size = note.checkpoint.size;
    let remote = reader.node_source(size);
    let path = match merkle::inclusion_proof(&remote, seq, size) {
        Ok(path)
            if merkle::verify_inclusion(
                seq,
                size,
                &leaf_hash(bytes),
                &path,
                &note.checkpoint.root,
            ) =>
        {
            path
        }
        _ => {
            return MirrorError::Ledger(LedgerError::Mismatch(format!(
                "record at seq {seq} breaks an admission rule ({reason}), but the server's \
                 hash tiles give no inclusion proof of it to write as evidence"
            )));
        }
    };
    let evidence = Evidence::admission_rule(note, seq, bytes, &path, reason);
    let _ = remove_work(&dir.join(WORK_DIR));
    match write_evidence(dir, &evidence) {
        Ok(file) => MirrorError::Rule {
            seq,
            reason: reason.to_owned(),
            file,
        },
        Err(error) => error,
    }
}

/// Finishes a pull that was interrupted after its spool was proven (`pending` written):
/// the spool is checked again against the pending checkpoint and the rest appended, or, if
/// it is not whole, both are discarded (the next steps fetch again). A spool without
/// `pending` is discarded. Returns the records appended.
fn resume(
    ledger: &mut Ledger,
    dir: &Path,
    trust: &Policy,
    now_micros: i64,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<u64, MirrorError> {
    let work = dir.join(WORK_DIR);
    let pending_path = work.join(PENDING);
    let Ok(text) = fs::read(&pending_path) else {
        remove_work(&work)?;
        return Ok(0);
    };
    let Some((from, note)) = serde_json::from_slice::<Pending>(&text)
        .ok()
        .and_then(|p| Some((p.from, SignedCheckpoint::parse(&p.checkpoint).ok()?)))
        .filter(|(_, note)| trust.check(note).is_ok())
    else {
        remove_work(&work)?;
        return Ok(0);
    };
    let len = ledger.log().len();
    let size = note.checkpoint.size;
    if len < from || !spool_proves(ledger.log(), &work.join(SPOOL), from, &note)? {
        remove_work(&work)?;
        return Ok(0);
    }
    if len < size {
        // The reader is used only for evidence, from the spool's tree then.
        let spool_source = NoTiles;
        let reader = TileReader::new(&spool_source);
        append_spool(ledger, dir, &reader, &note, from, len, now_micros, progress)?;
    }
    if ledger
        .log()
        .latest_checkpoint()?
        .is_none_or(|old| old.checkpoint.size < size)
    {
        ledger.log_mut().store_checkpoint(&note)?;
    }
    remove_work(&work)?;
    Ok(ledger.log().len() - len)
}

/// A tile source with no tiles: evidence found while resuming (without the network) has no
/// inclusion proof and is reported as a plain refusal.
struct NoTiles;

impl TileSource for NoTiles {
    fn fetch(&self, _path: &str) -> Result<Option<Vec<u8>>, TileError> {
        Ok(None)
    }
}

/// Whether the spool, whose first record has seq `from`, holds records that agree with the
/// log's from `from` on and lead with the log's first `from` records to `note`'s root.
fn spool_proves(
    log: &Log,
    spool: &Path,
    from: u64,
    note: &SignedCheckpoint,
) -> Result<bool, MirrorError> {
    if !spool.exists() {
        return Ok(false);
    }
    let len = log.len();
    let mut frontier = Frontier::load(log, from)?;
    let mut reader = SpoolReader::open(spool)?;
    let mut seq = from;
    while let Some(record) = reader.next_record().or_else(|error| match error {
        // A spool cut short is not whole.
        MirrorError::Io { .. } => Ok(None),
        other => Err(other),
    })? {
        let leaf = leaf_hash(&record);
        if seq < len && log.node(0, seq)? != leaf {
            return Ok(false);
        }
        frontier.push(leaf, |_, _, _| {});
        seq += 1;
    }
    Ok(frontier.size() == note.checkpoint.size && frontier.root() == note.checkpoint.root)
}

fn remove_work(work: &Path) -> Result<(), MirrorError> {
    for name in [PENDING, SPOOL] {
        let path = work.join(name);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(MirrorError::Io { path, source: e });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Recomputes every issued statement unless the log has not grown since the last audit.
fn audit(
    ledger: &Ledger,
    work: &Path,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Option<usize>, MirrorError> {
    let len = ledger.log().len();
    let marker = work.join(AUDITED);
    let audited = fs::read_to_string(&marker)
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    if audited == Some(len) {
        return Ok(None);
    }
    let results = ledger.audit(|done, total| progress("auditing", done, total))?;
    let failures: Vec<String> = results
        .iter()
        .filter(|a| !a.matches())
        .map(|a| {
            format!(
                "seq {} ({} {}): recorded {}, recomputed {}",
                a.seq,
                a.contract,
                a.period,
                hex::encode(&a.recorded),
                match &a.recomputed {
                    Ok(hash) => hex::encode(hash),
                    Err(reason) => format!("none ({reason})"),
                }
            )
        })
        .collect();
    if !failures.is_empty() {
        return Err(MirrorError::Audit(format!(
            "{} issued statement(s) do not recompute from the log: {}",
            failures.len(),
            failures.join("; ")
        )));
    }
    write_atomically(&marker, format!("{len}\n").as_bytes())?;
    Ok(Some(results.len()))
}
