//! Checking a dispute bundle as a stranger would: from its text and the parties' verifier
//! keys alone, without opening a ledger (`docs/format.md` §10.4 lists the checks in this
//! order, and `tools/verify_bundle.py` makes the same ones).
//!
//! The first failure ends the check and is named by seq (or statement, or manifest list)
//! and what failed. An unreadable document (not JSON, not a `pbr bundle v1`) is a
//! [`BundleError::Unreadable`]; anything that claims to be a bundle and does not hold is a
//! [`BundleError::Failed`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use pbr_core::event::{Event, Payload, Role};
use pbr_core::ids::ParticipantRef;
use pbr_core::settle::Statement;
use pbr_core::terms::Terms;
use pbr_log::hash::{Hash, leaf_hash};
use pbr_log::{Record, SignedCheckpoint, VerifierKey};
use serde_json::Value;

use super::statement::{check_double_entry, first_difference, from_json};
use super::{
    BUNDLE_FORMAT, Bundle, ExplainedLine, Request, concerns, explain_line, in_scope,
    is_contract_record, payload_refs, statement_cites, subject_of,
};

/// Why a bundle does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The text is not JSON, or not a `pbr bundle v1` document.
    #[error("{0}")]
    Unreadable(String),
    /// The bundle claims something that does not hold: the first failure found.
    #[error("{0}")]
    Failed(String),
}

fn failed<T>(reason: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError::Failed(reason.into()))
}

/// Which keys the checkpoint's signatures were checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeysUsed {
    /// Keys the caller got from the parties: a trust anchor.
    Given,
    /// The bundle's own `untrusted_verifier_keys`: a convenience, not a trust anchor.
    Bundle,
}

/// One statement of a verified bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementReport {
    /// The seq of its `settlement-issued` record.
    pub seq: u64,
    /// Its period.
    pub period: String,
    /// Its hash, equal to the one its record signs.
    pub hash: String,
    /// The lines explained.
    pub lines_explained: usize,
    /// The seqs it cites, all present.
    pub cited: usize,
}

/// What a verified bundle proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleReport {
    /// What the bundle is about.
    pub request: Request,
    /// The ledger id.
    pub origin: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's Merkle root.
    pub root: Hash,
    /// The keys that signed the checkpoint, as `name+keyid`.
    pub signed_by: Vec<String>,
    /// Which keys those were checked against.
    pub keys: KeysUsed,
    /// The contract's checkpoint quorum (from its latest terms in the bundle), as
    /// `name+keyid`, and those of it that did not sign; `None` when the terms name none.
    pub quorum: Option<(Vec<String>, Vec<String>)>,
    /// The number of records.
    pub records: usize,
    /// The contract's terms records: seq and `terms_hash`.
    pub terms: Vec<(u64, String)>,
    /// The statements.
    pub statements: Vec<StatementReport>,
}

/// A bundled record, checked: its event and the key that signed it.
struct Checked {
    event: Event,
    public_key: [u8; 32],
}

/// Verifies a bundle's text. Checkpoint signatures are checked against `trusted` keys (got
/// from the parties) or, with `None`, against the bundle's own `untrusted_verifier_keys`,
/// which whoever made the bundle chose (the report says which).
pub fn verify(text: &str, trusted: Option<&[VerifierKey]>) -> Result<BundleReport, BundleError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| BundleError::Unreadable(format!("not JSON: {e}")))?;
    match value.get("format").and_then(Value::as_str) {
        Some(BUNDLE_FORMAT) => {}
        Some(other) => {
            return Err(BundleError::Unreadable(format!(
                "format {other:?} is not {BUNDLE_FORMAT:?}"
            )));
        }
        None => {
            return Err(BundleError::Unreadable(format!(
                "not a dispute bundle: no \"format\": {BUNDLE_FORMAT:?}"
            )));
        }
    }
    let bundle: Bundle = match serde_json::from_value(value) {
        Ok(bundle) => bundle,
        Err(e) => return failed(format!("malformed bundle: {e}")),
    };
    let participant = check_request(&bundle.request)?;
    let subject = participant.as_ref().map(subject_of);

    let (note, keys, signed_by) = check_checkpoint(&bundle, trusted)?;
    let events = check_records(&bundle, &note)?;
    let (_, terms) = check_authors(&events)?;
    check_manifest(&bundle, &events, participant.as_ref())?;
    let (statements, cited) = check_statements(&bundle, &events, subject.as_deref())?;
    check_cited(&bundle, &events, cited)?;

    let quorum = quorum_of(&terms, &signed_by);
    Ok(BundleReport {
        request: bundle.request.clone(),
        origin: bundle.origin.clone(),
        tree_size: note.checkpoint.size,
        root: note.checkpoint.root,
        signed_by,
        keys,
        quorum,
        records: events.len(),
        terms: events
            .iter()
            .filter_map(|(seq, c)| match &c.event.payload {
                Payload::ContractRegistered(p) => Some((*seq, pbr_log::hex::encode(&p.terms_hash))),
                Payload::ContractAmended(p) => Some((*seq, pbr_log::hex::encode(&p.terms_hash))),
                _ => None,
            })
            .collect(),
        statements,
    })
}

/// The checkpoint quorum of the contract's latest terms in the bundle (by effective date,
/// then seq): its log key and its quorum's witness keys as `name+keyid`, and those of them
/// missing from `signed_by` (the log key if it did not sign; the witnesses if fewer than the
/// threshold cosigned); `None` when the terms name neither a log key nor a quorum.
fn quorum_of(terms: &TermsRecords, signed_by: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let (_, _, latest) = terms
        .iter()
        .max_by_key(|(seq, effective, _)| (*effective, *seq))?;
    if latest.log.is_none() && latest.checkpoint.is_none() {
        return None;
    }
    let id_of = |text: &str, fallback: String| match VerifierKey::parse(text) {
        Ok(key) => format!("{}+{}", key.name, pbr_log::hex::encode(&key.key_id)),
        Err(_) => fallback,
    };
    let log = latest
        .log
        .as_ref()
        .map(|log| id_of(&log.key, format!("{}+(bad key)", log.origin)));
    let (signers, threshold) = match &latest.checkpoint {
        Some(checkpoint) => {
            let signers: Vec<String> = checkpoint
                .quorum
                .iter()
                .map(|party| {
                    match latest
                        .parties
                        .iter()
                        .find(|p| &p.id == party)
                        .and_then(|p| p.witness_key.as_deref())
                    {
                        Some(text) => id_of(text, format!("{party}+(bad witness key)")),
                        None => format!("{party}+(no witness key)"),
                    }
                })
                .collect();
            let threshold = checkpoint.threshold.unwrap_or(signers.len());
            (signers, threshold)
        }
        None => (Vec::new(), 0),
    };
    let quorum = pbr_core::verdict::QuorumSigners {
        contract: String::new(),
        log,
        signers,
        threshold,
    };
    let missing = quorum.missing(signed_by);
    let mut all: Vec<String> = quorum.log.iter().cloned().collect();
    all.extend(quorum.signers);
    Some((all, missing))
}

/// A request names a contract and exactly one of a participant and a settlement.
fn check_request(request: &Request) -> Result<Option<ParticipantRef>, BundleError> {
    match (&request.participant, request.settlement) {
        (Some(p), None) => match ParticipantRef::parse(p) {
            Ok(p) => Ok(Some(p)),
            Err(e) => failed(format!("request.participant: {}", e.reason)),
        },
        (None, Some(_)) => Ok(None),
        _ => failed("request names neither or both of a participant and a settlement"),
    }
}

/// The checkpoint: a note of the bundle's origin, signed by at least one of the keys.
fn check_checkpoint(
    bundle: &Bundle,
    trusted: Option<&[VerifierKey]>,
) -> Result<(SignedCheckpoint, KeysUsed, Vec<String>), BundleError> {
    let note = SignedCheckpoint::parse(&bundle.checkpoint)
        .or_else(|e| failed(format!("checkpoint: {e}")))?;
    if note.checkpoint.origin != bundle.origin {
        return failed(format!(
            "checkpoint: it is of ledger {}, but the bundle says {}",
            note.checkpoint.origin, bundle.origin
        ));
    }
    let (keys, used) = match trusted {
        Some(keys) => (keys.to_vec(), KeysUsed::Given),
        None => {
            let keys = bundle
                .untrusted_verifier_keys
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    VerifierKey::parse(k)
                        .or_else(|e| failed(format!("untrusted_verifier_keys[{i}]: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            (keys, KeysUsed::Bundle)
        }
    };
    note.verify(&keys)
        .or_else(|e| failed(format!("checkpoint: {e}")))?;
    let mut signed_by: Vec<String> = Vec::new();
    for line in &note.signatures {
        if keys
            .iter()
            .any(|k| k.name == line.name && k.key_id == line.key_id)
        {
            let signer = format!("{}+{}", line.name, pbr_log::hex::encode(&line.key_id));
            if !signed_by.contains(&signer) {
                signed_by.push(signer);
            }
        }
    }
    if signed_by.is_empty() {
        return failed(match used {
            KeysUsed::Given => "checkpoint: no signature by any of the given keys",
            KeysUsed::Bundle => "checkpoint: no signature by any of the bundle's keys",
        });
    }
    // A checkpoint is the log's statement: it counts only with the signature of a log key
    // (type 0x01) named after its origin; witnesses' cosignatures add to it, never replace it.
    let origin = &note.checkpoint.origin;
    let log_signed = note
        .signers(&keys)
        .or_else(|e| failed(format!("checkpoint: {e}")))?
        .iter()
        .any(|k| !k.is_witness() && &k.name == origin);
    if !log_signed {
        return failed(match used {
            KeysUsed::Given => format!(
                "checkpoint: no signature by a given log key of {origin} (a log key is named \
                 after the origin)"
            ),
            KeysUsed::Bundle => {
                format!("checkpoint: no signature by a log key of {origin} among the bundle's keys")
            }
        });
    }
    Ok((note, used, signed_by))
}

/// Each record: in seq order, within the checkpoint, its leaf hash, its inclusion path to
/// the checkpoint's root, its signature, and its event exactly as its bytes decode.
fn check_records(
    bundle: &Bundle,
    note: &SignedCheckpoint,
) -> Result<BTreeMap<u64, Checked>, BundleError> {
    let size = note.checkpoint.size;
    let mut events = BTreeMap::new();
    let mut last: Option<u64> = None;
    for (i, r) in bundle.records.iter().enumerate() {
        let at = format!("seq {}", r.seq);
        if let Some(last) = last
            && r.seq <= last
        {
            return failed(format!(
                "records[{i}]: seq {} is not after seq {last}: records are listed once each, \
                 by seq",
                r.seq
            ));
        }
        last = Some(r.seq);
        if r.seq >= size {
            return failed(format!(
                "{at}: beyond the checkpoint, which covers {size} records"
            ));
        }
        let Some(bytes) = pbr_log::hex::decode(&r.record_hex) else {
            return failed(format!("{at}: record_hex is not lowercase hex"));
        };
        let leaf = leaf_hash(&bytes);
        if pbr_log::hex::decode_hash(&r.leaf_hash) != Some(leaf) {
            return failed(format!(
                "{at}: the record bytes do not hash to its leaf_hash"
            ));
        }
        let mut path = Vec::with_capacity(r.path.len());
        for (j, h) in r.path.iter().enumerate() {
            match pbr_log::hex::decode_hash(h) {
                Some(h) => path.push(h),
                None => return failed(format!("{at}: path[{j}] is not 64 lowercase hex digits")),
            }
        }
        if !pbr_log::merkle::verify_inclusion(r.seq, size, &leaf, &path, &note.checkpoint.root) {
            return failed(format!(
                "{at}: the inclusion path does not lead to the checkpoint's root"
            ));
        }
        let record = Record::decode(&bytes).or_else(|e| failed(format!("{at}: {e}")))?;
        record
            .verify()
            .or_else(|e| failed(format!("{at}: event signature: {e}")))?;
        let event = Event::decode(&record.event_bytes)
            .or_else(|e| failed(format!("{at}: the event bytes do not decode: {}", e.reason)))?;
        if let Some(field) = first_difference(&r.event, &event.to_json(), "event") {
            return failed(format!(
                "{at}: {field} does not match the record's event bytes"
            ));
        }
        if event.contract != bundle.request.contract {
            return failed(format!(
                "{at}: an event of contract {}, not {}",
                event.contract, bundle.request.contract
            ));
        }
        events.insert(
            r.seq,
            Checked {
                event,
                public_key: record.public_key,
            },
        );
    }
    Ok(events)
}

/// The terms of the contract records, each with its seq and the day it governs from.
type TermsRecords = Vec<(u64, NaiveDate, Terms)>;

/// Each record is signed by its author's key as the contract records before it give it
/// (a registration or amendment by a commissioner its own terms name with that key), and
/// each terms record's `terms_hash` is the BLAKE3 of its terms. Returns the parties' keys
/// after the last record and the terms records.
fn check_authors(
    events: &BTreeMap<u64, Checked>,
) -> Result<(BTreeMap<String, [u8; 32]>, TermsRecords), BundleError> {
    let mut keys_of: BTreeMap<String, [u8; 32]> = BTreeMap::new();
    let mut terms_records = Vec::new();
    for (seq, checked) in events {
        let event = &checked.event;
        let at = format!("seq {seq}");
        let terms = match &event.payload {
            Payload::ContractRegistered(p) => Some((
                check_terms(&at, event, &p.terms, &p.terms_hash, &checked.public_key)?,
                None,
            )),
            Payload::ContractAmended(p) => Some((
                check_terms(&at, event, &p.terms, &p.terms_hash, &checked.public_key)?,
                Some(p.effective_from),
            )),
            _ => None,
        };
        if let Some((terms, effective_from)) = terms {
            for party in &terms.parties {
                let Some(key) = pbr_core::ids::verifier_key_public_key(&party.key) else {
                    return failed(format!("{at}: the key of party {} is malformed", party.id));
                };
                keys_of.insert(party.id.clone(), key);
            }
            let effective = match effective_from {
                Some(days) => pbr_core::date::from_days(days)
                    .or_else(|e| failed(format!("{at}: effective_from: {}", e.reason)))?,
                None => terms.contract.start.0,
            };
            terms_records.push((*seq, effective, terms));
            continue;
        }
        match keys_of.get(&event.author) {
            Some(key) if *key == checked.public_key => {}
            Some(_) => {
                return failed(format!(
                    "{at}: signed with a key other than the one the bundled contract records \
                     give {}",
                    event.author
                ));
            }
            None => {
                return failed(format!(
                    "{at}: no bundled contract record before it gives {} a key",
                    event.author
                ));
            }
        }
        if let Payload::PartyRegistered(p) = &event.payload {
            keys_of.insert(p.party.clone(), p.public_key);
        }
    }
    Ok((keys_of, terms_records))
}

/// A terms record: the hash is of the terms, the terms load and are of the event's
/// contract, and its author is a commissioner they name, signing with the key they give it.
fn check_terms(
    at: &str,
    event: &Event,
    text: &str,
    hash: &[u8; 32],
    public_key: &[u8; 32],
) -> Result<Terms, BundleError> {
    if blake3::hash(text.as_bytes()).as_bytes() != hash {
        return failed(format!(
            "{at}: terms_hash is not the BLAKE3 hash of the terms"
        ));
    }
    let terms = pbr_core::terms::parse(&format!("the terms of {at}"), text)
        .or_else(|e| failed(format!("{at}: {e}")))?;
    if terms.contract.id != event.contract {
        return failed(format!(
            "{at}: the terms are of contract {}, not {}",
            terms.contract.id, event.contract
        ));
    }
    let author = terms.parties.iter().find(|p| p.id == event.author);
    match author {
        Some(party)
            if party.role == Role::Commissioner
                && pbr_core::ids::verifier_key_public_key(&party.key).as_ref()
                    == Some(public_key) => {}
        _ => {
            return failed(format!(
                "{at}: not signed by a commissioner of these terms with the key they give it \
                 (author {})",
                event.author
            ));
        }
    }
    Ok(terms)
}

fn increasing(list: &[u64], name: &str) -> Result<(), BundleError> {
    match list.windows(2).find(|w| w[0] >= w[1]) {
        Some(w) => failed(format!(
            "manifest.{name}: seq {} is not after seq {}",
            w[1], w[0]
        )),
        None => Ok(()),
    }
}

/// The manifest lists exactly the bundled records; its `contract` list is exactly the
/// bundled contract records, its `settlements` list the bundled statements, and each seq
/// of its `participant` list names the participant or refers to an earlier one listed.
fn check_manifest(
    bundle: &Bundle,
    events: &BTreeMap<u64, Checked>,
    participant: Option<&ParticipantRef>,
) -> Result<(), BundleError> {
    let m = &bundle.manifest;
    let lists: [(&str, &[u64]); 4] = [
        ("contract", &m.contract),
        ("participant", &m.participant),
        ("settlements", &m.settlements),
        ("cited", &m.cited),
    ];
    let mut listed: BTreeSet<u64> = BTreeSet::new();
    for (name, list) in lists {
        increasing(list, name)?;
        for seq in list {
            if !events.contains_key(seq) {
                return failed(format!(
                    "manifest.{name} lists seq {seq}, but the bundle has no record of it"
                ));
            }
            listed.insert(*seq);
        }
    }
    if let Some(seq) = events.keys().find(|s| !listed.contains(s)) {
        return failed(format!(
            "seq {seq} is in the bundle but not in its manifest"
        ));
    }
    for (seq, checked) in events {
        let is_contract = is_contract_record(&checked.event.payload);
        if is_contract != m.contract.contains(seq) {
            return failed(if is_contract {
                format!(
                    "seq {seq} is a {} record missing from manifest.contract",
                    checked.event.kind()
                )
            } else {
                format!(
                    "manifest.contract lists seq {seq}, a {}",
                    checked.event.kind()
                )
            });
        }
    }
    let statement_seqs: Vec<u64> = bundle.statements.iter().map(|s| s.seq).collect();
    if m.settlements != statement_seqs {
        return failed("manifest.settlements is not the list of the bundled statements' seqs");
    }
    match participant {
        None if !m.participant.is_empty() => {
            failed("manifest.participant must be empty in a settlement bundle")
        }
        None => Ok(()),
        Some(p) => {
            let mut about: BTreeSet<u64> = BTreeSet::new();
            for seq in &m.participant {
                // Every listed seq was found among the records above.
                let event = &events[seq].event;
                let names = event.participant.as_ref() == Some(p);
                let refers = payload_refs(&event.payload)
                    .iter()
                    .any(|r| about.contains(r));
                if !names && !refers {
                    return failed(format!(
                        "seq {seq} is listed as about participant {p} but neither names it nor \
                         refers to a record about it"
                    ));
                }
                about.insert(*seq);
            }
            if m.participant.is_empty() {
                return failed(format!(
                    "manifest.participant lists no record about participant {p}"
                ));
            }
            Ok(())
        }
    }
}

/// Each statement: its `settlement-issued` record is bundled; its JSON is a statement whose
/// canonical bytes hash to the hash that record signs, of the record's contract, period and
/// log position, with a sound double entry and its previous statement's record bundled; its
/// explanation is exactly its lines in scope, each citing bundled records.
fn check_statements(
    bundle: &Bundle,
    events: &BTreeMap<u64, Checked>,
    subject: Option<&str>,
) -> Result<(Vec<StatementReport>, BTreeSet<u64>), BundleError> {
    if let Some(seq) = bundle.request.settlement
        && (bundle.statements.len() != 1 || bundle.statements[0].seq != seq)
    {
        return failed(format!(
            "a settlement bundle holds exactly the statement issued at seq {seq}"
        ));
    }
    let mut reports = Vec::new();
    let mut all_cited = BTreeSet::new();
    for (i, bundled) in bundle.statements.iter().enumerate() {
        let at = format!("the statement issued at seq {}", bundled.seq);
        let Some(checked) = events.get(&bundled.seq) else {
            return failed(format!("{at}: its settlement-issued record is missing"));
        };
        let Payload::SettlementIssued(issued) = &checked.event.payload else {
            return failed(format!(
                "{at}: seq {} is a {}, not a settlement-issued record",
                bundled.seq,
                checked.event.kind()
            ));
        };
        let path = format!("statements[{i}].statement");
        let statement =
            from_json(&bundled.statement, &path).or_else(|e| failed(format!("{at}: {e}")))?;
        let bytes = statement
            .canonical_bytes()
            .or_else(|e| failed(format!("{at}: {}", e.reason)))?;
        let computed = *blake3::hash(&bytes).as_bytes();
        let hex = pbr_log::hex::encode;
        if statement.hash != computed {
            return failed(format!(
                "{at}: its canonical bytes hash to {}, not to its hash {}",
                hex(&computed),
                hex(&statement.hash)
            ));
        }
        if issued.statement_hash != computed {
            return failed(format!(
                "{at}: its hash {} is not the statement_hash {} its record signs",
                hex(&computed),
                hex(&issued.statement_hash)
            ));
        }
        if statement.contract != checked.event.contract
            || statement.period.to_string() != issued.period
            || statement.log_position != issued.log_position
            || statement.log_position != bundled.seq
        {
            return failed(format!(
                "{at}: its contract, period or log position is not its record's"
            ));
        }
        check_double_entry(&statement, &path).or_else(|e| failed(format!("{at}: {e}")))?;
        if let Some(previous) = &statement.previous {
            let matches = events.get(&previous.seq).is_some_and(|c| {
                matches!(&c.event.payload, Payload::SettlementIssued(p)
                    if p.period == previous.period.to_string()
                        && p.log_position == previous.log_position)
            });
            if !matches {
                return failed(format!(
                    "{at}: the previous statement it names (seq {}, {}) is not a bundled \
                     settlement-issued record of that period and log position",
                    previous.seq, previous.period
                ));
            }
        }
        let lines_explained =
            check_explanation(&at, &statement, &bundled.explanation, events, subject)?;
        if let Some(subject) = subject
            && !concerns(&statement, subject)
        {
            return failed(format!("{at}: no line or decision is about {subject}"));
        }
        let cited = statement_cites(&statement, subject);
        if let Some(seq) = cited.iter().find(|s| !events.contains_key(s)) {
            return failed(format!(
                "seq {seq}, cited by {at}, is missing from the bundle"
            ));
        }
        all_cited.extend(cited.iter().copied());
        reports.push(StatementReport {
            seq: bundled.seq,
            period: issued.period.clone(),
            hash: hex(&computed),
            lines_explained,
            cited: cited.len(),
        });
    }
    Ok((reports, all_cited))
}

/// A statement's explanation lists exactly its lines in scope, in order, each as
/// [`explain_line`] makes it from the line and the bundled records it cites (which must all
/// be there); returns how many lines it explains.
fn check_explanation(
    at: &str,
    statement: &Statement,
    explanation: &[ExplainedLine],
    events: &BTreeMap<u64, Checked>,
    subject: Option<&str>,
) -> Result<usize, BundleError> {
    let scope: Vec<u32> = in_scope(&statement.lines, subject).map(|l| l.n).collect();
    let explained: Vec<u32> = explanation.iter().map(|e| e.line).collect();
    if scope != explained {
        return failed(format!(
            "{at}: the explanation covers lines {explained:?}, but the lines in scope are \
             {scope:?}"
        ));
    }
    for (line, given) in in_scope(&statement.lines, subject).zip(explanation) {
        if let Some(seq) = line.events.iter().find(|s| !events.contains_key(s)) {
            return failed(format!(
                "seq {seq}, cited by line {} of {at}, is missing from the bundle",
                line.n
            ));
        }
        let expected = explain_line(line, |seq| events.get(&seq).map(|c| &c.event));
        if expected != *given {
            let field = serde_json::to_value(given)
                .ok()
                .zip(serde_json::to_value(&expected).ok())
                .and_then(|(got, want)| first_difference(&got, &want, "explanation"))
                .unwrap_or_else(|| "explanation".to_owned());
            return failed(format!(
                "{at}: {field} of line {} does not match the statement and its records",
                line.n
            ));
        }
    }
    Ok(scope.len())
}

/// Every seq a bundled record refers to is bundled, and `manifest.cited` is exactly the
/// seqs the statements cite (`cited`) and the records refer to.
fn check_cited(
    bundle: &Bundle,
    events: &BTreeMap<u64, Checked>,
    mut cited: BTreeSet<u64>,
) -> Result<(), BundleError> {
    for (seq, checked) in events {
        for referred in payload_refs(&checked.event.payload) {
            if !events.contains_key(&referred) {
                return failed(format!(
                    "seq {referred}, referred to by seq {seq} ({}), is missing from the bundle",
                    checked.event.kind()
                ));
            }
            cited.insert(referred);
        }
    }
    let listed: BTreeSet<u64> = bundle.manifest.cited.iter().copied().collect();
    if let Some(seq) = cited.difference(&listed).next() {
        return failed(format!(
            "manifest.cited does not list seq {seq}, which is cited"
        ));
    }
    if let Some(seq) = listed.difference(&cited).next() {
        return failed(format!(
            "manifest.cited lists seq {seq}, which nothing in the bundle cites"
        ));
    }
    Ok(())
}
