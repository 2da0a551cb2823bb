//! `pbr export`: the log as JSON Lines that an outsider can verify with `docs/format.md`
//! alone (DESIGN §3 "Export").
//!
//! One line per record `0 .. N−1`, where N is the size of the checkpoint exported:
//! `{"seq","record_hex","leaf_hash","chain_hash","event"}`; then a last line
//! `{"checkpoint","verifier_keys"}`. The export streams: memory does not grow with the log.
//! Hashes are recomputed from the record bytes (never copied from a cache), and the export
//! fails rather than write a log that does not lead to its checkpoint's root.

use std::io::Write;

use serde::Serialize;

use crate::error::LogError;
use crate::hash::{EMPTY_CHAIN, chain_hash, leaf_hash};
use crate::hex;
use crate::merkle::Frontier;
use crate::note::SignedCheckpoint;
use crate::record::Record;
use crate::store::Log;

#[derive(Serialize)]
struct EventLine<'a> {
    seq: u64,
    record_hex: String,
    leaf_hash: String,
    chain_hash: String,
    event: &'a serde_json::Value,
}

#[derive(Serialize)]
struct CheckpointLine {
    /// The format of the export, 2: RFC 6962 SHA-256 tree, C2SP checkpoint.
    format: u32,
    checkpoint: String,
    verifier_keys: Vec<String>,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// The number of event lines, the checkpoint's size.
    pub records: u64,
}

impl Log {
    /// Writes the export of the records `note` covers to `out`; `note` must be a stored
    /// checkpoint of this log (the caller picks which: the ledger picks the latest that meets
    /// every quorum). `decode_event` turns event bytes into the line's `event` object; the
    /// log itself does not know what an event is.
    pub fn export(
        &self,
        note: &SignedCheckpoint,
        out: &mut dyn Write,
        decode_event: &dyn Fn(&[u8]) -> Result<serde_json::Value, String>,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<ExportSummary, LogError> {
        if self.checkpoint_of_size(note.checkpoint.size)?.as_ref() != Some(note) {
            return Err(LogError::Checkpoint(format!(
                "the checkpoint of size {} is not one this log stored",
                note.checkpoint.size
            )));
        }
        let size = note.checkpoint.size;
        let io = |source| LogError::Io {
            path: "export output".into(),
            source,
        };
        let mut frontier = Frontier::new();
        let mut chain = EMPTY_CHAIN;
        for entry in self.iter_from(0) {
            let (seq, bytes) = entry?;
            if seq >= size {
                break;
            }
            if seq != frontier.size() {
                return Err(LogError::Inconsistent(format!(
                    "record at seq {} is missing",
                    frontier.size()
                )));
            }
            let record =
                Record::decode(&bytes).map_err(|source| LogError::BadRecord { seq, source })?;
            let leaf = leaf_hash(&bytes);
            chain = chain_hash(&chain, &bytes);
            frontier.push(leaf, |_, _, _| {});
            let event = decode_event(&record.event_bytes).map_err(|reason| {
                LogError::Inconsistent(format!("event at seq {seq} does not decode: {reason}"))
            })?;
            let line = EventLine {
                seq,
                record_hex: hex::encode(&bytes),
                leaf_hash: hex::encode(&leaf),
                chain_hash: hex::encode(&chain),
                event: &event,
            };
            serde_json::to_writer(&mut *out, &line).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)?;
            if (seq + 1).is_multiple_of(4096) {
                progress(seq + 1, size);
            }
        }
        if frontier.size() != size || frontier.root() != note.checkpoint.root {
            return Err(LogError::Inconsistent(format!(
                "the records do not lead to the checkpoint of size {size}; run `pbr verify`"
            )));
        }
        let line = CheckpointLine {
            format: 2,
            checkpoint: note.to_text(),
            verifier_keys: self
                .verifier_keys()?
                .iter()
                .map(ToString::to_string)
                .collect(),
        };
        serde_json::to_writer(&mut *out, &line).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        out.flush().map_err(io)?;
        progress(size, size);
        Ok(ExportSummary { records: size })
    }
}
