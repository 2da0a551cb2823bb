//! The body of `POST /add`: records in the framing of an entry bundle (`docs/protocol.md`,
//! "Writes"), each a 2-byte big-endian length and the record's bytes, nothing after the last.
//!
//! Invariant: a body is split, decoded and its signatures checked here, before anything
//! reaches the sequencer, so that a refusal for framing (400) or a signature (403) is
//! decided from the bytes alone, never by matching an append's error text.

use pbr_core::event::Event;
use pbr_core::ids::EventId;
use pbr_log::Record;

/// One record of a body, decoded and with a verified signature.
#[derive(Clone, Debug)]
pub(crate) struct Submitted {
    /// The record as submitted.
    pub(crate) record: Record,
    /// The client id of its event, to find its index after the append.
    pub(crate) id: EventId,
}

/// Why a body was refused before the ledger saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The body is empty, badly framed, or a record or its event does not decode (400).
    Malformed(String),
    /// A record's signature does not verify (403).
    Signature(String),
}

/// Splits `body` into records, decodes each and its event, and verifies each signature.
/// Refusals name the record's position (from 0) in the body.
pub(crate) fn parse_body(body: &[u8]) -> Result<Vec<Submitted>, Refusal> {
    if body.is_empty() {
        return Err(Refusal::Malformed(
            "the body is empty: send one or more records, each as a 2-byte big-endian length \
             and the record's bytes"
                .to_owned(),
        ));
    }
    let mut records = Vec::new();
    let mut rest = body;
    let mut position = 0usize;
    while !rest.is_empty() {
        let [high, low, tail @ ..] = rest else {
            return Err(Refusal::Malformed(format!(
                "record {position}: one byte where a 2-byte length is expected"
            )));
        };
        let len = usize::from(u16::from_be_bytes([*high, *low]));
        let Some((bytes, tail)) = tail.split_at_checked(len) else {
            return Err(Refusal::Malformed(format!(
                "record {position}: its length says {len} bytes but only {} follow",
                tail.len()
            )));
        };
        let record = Record::decode(bytes)
            .map_err(|e| Refusal::Malformed(format!("record {position}: {e}")))?;
        let event = Event::decode(&record.event_bytes).map_err(|e| {
            Refusal::Malformed(format!(
                "record {position}: its event does not decode: {}",
                e.reason
            ))
        })?;
        record
            .verify()
            .map_err(|e| Refusal::Signature(format!("record {position}: signature: {e}")))?;
        records.push(Submitted {
            record,
            id: event.id,
        });
        rest = tail;
        position += 1;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_errors_are_malformed() {
        assert!(matches!(parse_body(b""), Err(Refusal::Malformed(_))));
        assert!(matches!(parse_body(&[0]), Err(Refusal::Malformed(_))));
        assert!(
            matches!(parse_body(&[0, 5, 1, 2]), Err(Refusal::Malformed(m)) if m.contains("only 2 follow"))
        );
        assert!(
            matches!(parse_body(&[0, 2, 1, 0]), Err(Refusal::Malformed(m)) if m.starts_with("record 0:"))
        );
    }
}
