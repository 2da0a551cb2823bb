//! Rebuilding a ledger from an export (`pbr restore --from EXPORT.jsonl DIR`), the recovery
//! that every "storage is damaged" message names.
//!
//! The export (`docs/format.md` §5) is read twice: once to check its shape and take its
//! checkpoint, once to append its records, each re-admitted as it was signed
//! ([`Input::Signed`]: its signature checked, its event decoded and admitted against the
//! state the records before it leave), in one batch, into a new ledger made in a staging
//! directory. The rebuilt log must then recompute to the export's checkpoint, and to what
//! the damaged ledger committed (`COMMITTED`) where that is known: the same root and chain
//! head at the committed size. Only then does it take the damaged ledger's place (which is
//! moved aside, never deleted; `pbr_log::restore`).
//!
//! An export ends at its checkpoint; records committed after it are not in it. Restoring
//! from an export that ends before what was committed is refused, naming the records it
//! lacks, unless the caller accepts that loss.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use pbr_log::restore::Target;
use pbr_log::{Hash, Record, SignedCheckpoint, VerifierKey};

use crate::append::{Input, Rejected};
use crate::{Ledger, LedgerError};

/// What a restore did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// The ledger directory.
    pub dir: PathBuf,
    /// The number of records restored.
    pub records: u64,
    /// The Merkle root of the restored log.
    pub root: Hash,
    /// Its chain head.
    pub chain_head: Hash,
    /// The sizes of the checkpoints stored in it.
    pub checkpoints: Vec<u64>,
    /// How many records the damaged ledger had committed, when its `COMMITTED` said.
    pub committed: Option<u64>,
    /// Where the damaged database was moved, when there was one.
    pub damaged: Option<PathBuf>,
    /// Why the damaged ledger's `COMMITTED` could not be used, when it could not.
    pub account_problem: Option<String>,
}

/// What the first reading of the export found.
struct ExportSummary {
    records: u64,
    note: SignedCheckpoint,
    note_text: String,
    keys: Vec<VerifierKey>,
}

/// Rebuilds the ledger in `dir` from the export at `export`. `accept_loss` lets the restore
/// go on when the export ends before what the damaged ledger committed; `now_micros` is the
/// clock for the "recorded in the future" check of admission.
pub fn restore(
    dir: &Path,
    export: &Path,
    accept_loss: bool,
    now_micros: i64,
    threads: usize,
    progress: impl FnMut(u64, u64),
) -> Result<Restored, LedgerError> {
    let summary = read_summary(export)?;
    let target = Target::claim(dir)?;
    let staging = target.staging_dir();
    let result = rebuild(
        &target,
        export,
        &summary,
        accept_loss,
        now_micros,
        threads,
        progress,
    );
    let result = match result {
        Ok(ledger) => ledger.close(),
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        // Nothing was installed: the damaged ledger is as it was.
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    let committed = target.account().map(|a| a.size);
    let account_problem = target.account_problem().map(str::to_owned);
    let damaged = target.install()?;
    // The ledger opens as any ledger does: compared with the account just installed.
    let ledger = Ledger::open(dir)?;
    let log = ledger.log();
    let restored = Restored {
        dir: dir.to_owned(),
        records: log.len(),
        root: log.root(),
        chain_head: log.chain_head(),
        checkpoints: log
            .checkpoints()?
            .iter()
            .map(|n| n.checkpoint.size)
            .collect(),
        committed,
        damaged,
        account_problem,
    };
    ledger.close()?;
    Ok(restored)
}

fn rebuild(
    target: &Target,
    export: &Path,
    summary: &ExportSummary,
    accept_loss: bool,
    now_micros: i64,
    threads: usize,
    progress: impl FnMut(u64, u64),
) -> Result<Ledger, LedgerError> {
    let origin = &summary.note.checkpoint.origin;
    if let Some(account) = target.account()
        && &account.origin != origin
    {
        return Err(LedgerError::Mismatch(format!(
            "{} is an export of ledger {origin}, but {} is ledger {}",
            export.display(),
            target.dir().display(),
            account.origin
        )));
    }
    if let Some(account) = target.account()
        && account.size > summary.records
        && !accept_loss
    {
        return Err(LedgerError::Mismatch(format!(
            "{} holds {} records, but ledger {} committed {} (root {}): records {} to {} \
             are not in it; restore from a later export, or pass --accept-loss to keep only \
             the export's records",
            export.display(),
            summary.records,
            target.dir().display(),
            account.size,
            pbr_log::hex::encode(&account.root),
            summary.records,
            account.size - 1
        )));
    }
    let mut ledger = Ledger::create(&target.staging_dir(), origin)?;
    ledger.set_threads(threads);
    let inputs = records(export, summary.records)?;
    let report = ledger.append_results(inputs, &[], now_micros, progress)?;
    let log = ledger.log();
    let body = &summary.note.checkpoint;
    if report.duplicates > 0 || log.len() != body.size {
        return Err(LedgerError::Mismatch(format!(
            "{}: {} of its {} records were appended ({} repeated a fact already in it), but \
             its checkpoint covers {}",
            export.display(),
            report.appended,
            summary.records,
            report.duplicates,
            body.size
        )));
    }
    if log.root() != body.root {
        return Err(LedgerError::Mismatch(format!(
            "{}: its records recompute to root {}, but its checkpoint names root {}",
            export.display(),
            pbr_log::hex::encode(&log.root()),
            pbr_log::hex::encode(&body.root)
        )));
    }
    for key in &summary.keys {
        ledger.log_mut().add_verifier_key(key)?;
    }
    ledger.log_mut().store_checkpoint(&summary.note)?;
    if let Some(account) = target.account()
        && account.size <= ledger.log().len()
    {
        let log = ledger.log();
        if log.root_at(account.size)? != account.root
            || log.chain_at(account.size)? != account.chain
        {
            return Err(LedgerError::Mismatch(format!(
                "the records of {} differ from what ledger {} committed: at size {} they have \
                 root {}, not the committed {}",
                export.display(),
                target.dir().display(),
                account.size,
                pbr_log::hex::encode(&log.root_at(account.size)?),
                pbr_log::hex::encode(&account.root)
            )));
        }
        // The checkpoint the damaged ledger stored last (co-signed, perhaps, after the export
        // was made) is kept in its account: it comes back too.
        if let Some(text) = &account.note
            && text != &summary.note_text
        {
            let note = SignedCheckpoint::parse(text).map_err(|source| LedgerError::Note {
                context: format!("the checkpoint in {}'s COMMITTED", target.dir().display()),
                source,
            })?;
            if note.checkpoint.size <= ledger.log().len() {
                ledger.log_mut().store_checkpoint(&note)?;
            }
        }
    }
    Ok(ledger)
}

/// One line of an export: a record, or the closing checkpoint.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordLine {
    seq: u64,
    record_hex: String,
    leaf_hash: String,
    chain_hash: String,
    // The record's own bytes are what is admitted; the decoded event is for readers.
    #[allow(dead_code)]
    event: serde_json::Value,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    /// 2; absent in a format-1 export.
    format: Option<u32>,
    checkpoint: String,
    verifier_keys: Vec<String>,
}

fn open_lines(
    export: &Path,
) -> Result<impl Iterator<Item = (usize, std::io::Result<String>)> + use<>, LedgerError> {
    let file = std::fs::File::open(export).map_err(|e| input(export, 0, e.to_string()))?;
    Ok(BufReader::new(file)
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line)))
}

fn input(export: &Path, line: usize, reason: impl Into<String>) -> LedgerError {
    LedgerError::Rejected(Rejected {
        where_: match line {
            0 => export.display().to_string(),
            line => format!("{}:{line}", export.display()),
        },
        reason: reason.into(),
    })
}

/// Reads the export once: its records count up from seq 0, and it ends with its checkpoint,
/// which covers exactly them.
fn read_summary(export: &Path) -> Result<ExportSummary, LedgerError> {
    let mut records = 0u64;
    let mut closing: Option<(usize, CheckpointLine)> = None;
    for (number, line) in open_lines(export)? {
        let line = line.map_err(|e| input(export, number, e.to_string()))?;
        if let Some((at, _)) = closing {
            return Err(input(
                export,
                number,
                format!("a line after the checkpoint line {at}"),
            ));
        }
        if line.contains("\"checkpoint\"") && !line.contains("\"record_hex\"") {
            let parsed: CheckpointLine = serde_json::from_str(&line)
                .map_err(|e| input(export, number, format!("checkpoint line: {e}")))?;
            if parsed.format != Some(2) {
                return Err(input(
                    export,
                    number,
                    match parsed.format {
                        None => "a format-1 export: restore it with the pbr that wrote it, then \
                                 run `pbr migrate`"
                            .to_owned(),
                        Some(other) => format!("format {other}: this pbr reads format 2"),
                    },
                ));
            }
            closing = Some((number, parsed));
            continue;
        }
        let parsed: RecordLine = serde_json::from_str(&line)
            .map_err(|e| input(export, number, format!("record line: {e}")))?;
        if parsed.seq != records {
            return Err(input(
                export,
                number,
                format!("seq {} where seq {records} was due", parsed.seq),
            ));
        }
        records += 1;
    }
    let Some((number, closing)) = closing else {
        return Err(input(
            export,
            0,
            "no checkpoint line at its end: not a whole export (`pbr export` ends with one)",
        ));
    };
    let note = SignedCheckpoint::parse(&closing.checkpoint)
        .map_err(|e| input(export, number, format!("checkpoint: {e}")))?;
    if note.checkpoint.size != records {
        return Err(input(
            export,
            number,
            format!(
                "the checkpoint covers {} records, but the export holds {records}",
                note.checkpoint.size
            ),
        ));
    }
    let keys = closing
        .verifier_keys
        .iter()
        .map(|k| VerifierKey::parse(k).map_err(|e| input(export, number, format!("{k}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExportSummary {
        records,
        note,
        note_text: closing.checkpoint,
        keys,
    })
}

/// The export's `records` record lines as inputs, each checked against its `leaf_hash` and
/// `chain_hash` on the way (the first reading found them all well-formed and in order).
fn records(
    export: &Path,
    records: u64,
) -> Result<impl Iterator<Item = Result<(String, Input), LedgerError>>, LedgerError> {
    let export = export.to_owned();
    let mut chain = pbr_log::hash::EMPTY_CHAIN;
    let lines = open_lines(&export)?.take(usize::try_from(records).unwrap_or(usize::MAX));
    Ok(lines.map(move |(number, line)| {
        let export = export.as_path();
        let line = line.map_err(|e| input(export, number, e.to_string()))?;
        let parsed: RecordLine = serde_json::from_str(&line)
            .map_err(|e| input(export, number, format!("record line: {e}")))?;
        let bytes = pbr_log::hex::decode(&parsed.record_hex)
            .ok_or_else(|| input(export, number, "record_hex: expected lowercase hex"))?;
        let leaf = pbr_log::hash::leaf_hash(&bytes);
        chain = pbr_log::hash::chain_hash(&chain, &bytes);
        if pbr_log::hex::encode(&leaf) != parsed.leaf_hash
            || pbr_log::hex::encode(&chain) != parsed.chain_hash
        {
            return Err(input(
                export,
                number,
                format!(
                    "seq {}: the record does not hash to its leaf_hash and chain_hash",
                    parsed.seq
                ),
            ));
        }
        let record = Record::decode(&bytes)
            .map_err(|e| input(export, number, format!("seq {}: {e}", parsed.seq)))?;
        Ok((
            format!("{}:{number}", export.display()),
            Input::Signed(record),
        ))
    }))
}
