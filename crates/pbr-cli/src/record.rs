//! The input side: contract registration, one-fact commands and imports. Every one-fact
//! command builds the same named fields an import row has and goes through the same row
//! reader, so a command line and a file get the same checks and the same messages.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use pbr_core::cpr::PseudonymKey;
use pbr_core::event::{ContractAmended, ContractRegistered, Event, Payload};
use pbr_core::ids::EventId;
use pbr_ledger::import::{Context, Row, csv_rows, jsonl_rows_into};
use pbr_ledger::{AppendReport, Input, Ledger, SignerKey};
use serde_json::json;

use crate::cli::{ContractCommand, Fact};
use crate::commands::{input, now_micros, open, read_signer_key};
use crate::output::{counter, outln, print_json, progress};

fn read_keys(paths: &[PathBuf]) -> Result<Vec<SignerKey>> {
    paths.iter().map(|p| read_signer_key(p)).collect()
}

pub(crate) fn read_secret(path: Option<&Path>) -> Result<Option<PseudonymKey>> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    let key = PseudonymKey::from_secret(&bytes)
        .map_err(|e| input(format!("{}: {}", path.display(), e.reason)))?;
    Ok(Some(key))
}

/// Appends and prints what happened.
/// Appends, reports and closes the ledger (which lets sled settle its files, so that a
/// reader after this needs no space on the disk).
fn append_and_report(
    mut ledger: Ledger,
    inputs: Vec<(String, Input)>,
    keys: &[SignerKey],
    json: bool,
) -> Result<()> {
    let server = crate::submit::before_writing(&mut ledger)?;
    let bar = progress(json || inputs.len() < 10_000, "appending");
    let report = ledger.append(inputs, keys, now_micros()?, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let report = report?;
    match server {
        Some(server) => submit_prepared(&mut ledger, server, json)?,
        None => print_report(&report, json),
    }
    Ok(ledger.close()?)
}

/// Submits what `ledger` prepared and prints the server's answer.
fn submit_prepared(ledger: &mut Ledger, server: &crate::submit::Server, json: bool) -> Result<()> {
    let records = ledger.take_prepared();
    crate::submit::submit(server, ledger, records)?.print(json);
    Ok(())
}

/// Appends one fact from the command line and says what happened; a fact the ledger already
/// holds (the same content by the same author, so the same id, or the same `--id`) is
/// appended once, and a second run says so and succeeds.
fn append_one(mut ledger: Ledger, one: (String, Input), key: SignerKey, json: bool) -> Result<()> {
    let kind = match &one.1 {
        Input::Event(event) => event.kind(),
        Input::OnClaim { .. } => "decision",
        Input::Signed(_) => "record",
    };
    let server = crate::submit::before_writing(&mut ledger)?;
    let report = ledger.append(vec![one], &[key], now_micros()?, |_, _| {})?;
    if let Some(server) = server {
        if let Some((_, seq)) = report.already_recorded.first() {
            // The mirror holds the fact already: the operator's log has it at that seq.
            if !json {
                outln!(
                    "already recorded: this {kind} is seq {seq} (the same fact by the same \
                     author, in the mirror); nothing submitted"
                );
                return Ok(ledger.close()?);
            }
        }
        submit_prepared(&mut ledger, server, json)?;
        return Ok(ledger.close()?);
    }
    match report.already_recorded.first() {
        Some((_, seq)) if !json => outln!(
            "already recorded: this {kind} is seq {seq} (the same fact by the same author); \
             nothing appended (give --id to record another fact like it)"
        ),
        _ => print_report(&report, json),
    }
    Ok(ledger.close()?)
}

/// The modulus-11 check is a warning, never an error: said once, on standard error.
fn warn_modulus_11(context: &Context<'_>) {
    let count = context.modulus_11_warnings.get();
    if count > 0 {
        eprintln!(
            "note: {count} CPR number(s) fail the modulus-11 check; accepted, since valid numbers \
             without it have been issued since 2007"
        );
    }
}

fn print_report(report: &AppendReport, json: bool) {
    if json {
        print_json(&json!({
            "ok": true,
            "appended": report.appended,
            "seqs": [report.seqs.start, report.seqs.end],
            "kinds": report.kinds,
            "duplicates": report.duplicates,
            "already_recorded": report.already_recorded.iter().map(|(w, seq)| json!({"where": w, "seq": seq})).collect::<Vec<_>>(),
            "rejected_claims": report.rejections.iter().map(|(w, seq, reason)| json!({"where": w, "claim_seq": seq, "reason": reason})).collect::<Vec<_>>(),
        }));
        return;
    }
    if report.appended <= pbr_ledger::REPORT_FIRST as u64 {
        for (where_, seq, kind) in &report.first {
            outln!("seq {seq}: {kind} ({where_})");
        }
    }
    for (where_, claim, reason) in &report.rejections {
        outln!("claim {claim} rejected: {reason} ({where_})");
    }
    outln!(
        "{} appended, {} already recorded, {} claims rejected",
        report.appended,
        report.duplicates,
        report.rejections.len()
    );
}

pub(crate) fn contract(
    ledger_dir: Option<PathBuf>,
    command: ContractCommand,
    json: bool,
) -> Result<()> {
    let (terms_path, key_path, date, effective) = match &command {
        ContractCommand::Check { terms } => return crate::setup::contract_check(terms, json),
        ContractCommand::Policy { contract } => {
            let mut ledger = crate::commands::open(ledger_dir)?;
            let contract = crate::report::contract_of(ledger.state()?, contract.clone())?;
            let policy = ledger
                .policy(&contract)
                .map_err(|e| crate::commands::input(e.to_string()))?;
            if json {
                crate::output::print_json(&serde_json::json!({
                    "ok": true,
                    "contract": contract,
                    "policy": policy.to_text(),
                }));
            } else {
                crate::output::out!("{}", policy.to_text());
            }
            return Ok(());
        }
        ContractCommand::Register { terms, key, date } => (terms, key, *date, None),
        ContractCommand::Amend {
            terms,
            key,
            effective,
        } => (terms, key, Some(*effective), Some(*effective)),
    };
    let text = std::fs::read_to_string(terms_path)
        .map_err(|e| input(format!("{}: {e}", terms_path.display())))?;
    let file = terms_path.display().to_string();
    let terms = pbr_core::terms::parse(&file, &text).map_err(|e| input(e.to_string()))?;
    let key = read_signer_key(key_path)?;
    let terms_hash = *blake3::hash(text.as_bytes()).as_bytes();
    let payload = match effective {
        None => Payload::ContractRegistered(ContractRegistered {
            terms: text,
            terms_hash,
        }),
        Some(from) => Payload::ContractAmended(ContractAmended {
            terms: text,
            terms_hash,
            effective_from: pbr_core::date::to_days(from),
        }),
    };
    let event = Event {
        contract: terms.contract.id.clone(),
        participant: None,
        business_date: date.unwrap_or(terms.contract.start.0),
        payload,
        author: key.name().to_owned(),
        recorded_at_micros: 0,
        // Registering the same terms text twice is one fact, and so is the same amendment
        // from the same date; amending back to an earlier text is a new one.
        id: match effective {
            None => EventId::derived(b"pbr contract terms", &pbr_core::ids::hex(&terms_hash)),
            Some(from) => EventId::derived(
                b"pbr contract amendment",
                &format!("{} {from}", pbr_core::ids::hex(&terms_hash)),
            ),
        },
    };
    append_and_report(
        open(ledger_dir)?,
        vec![(file, Input::Event(event))],
        &[key],
        json,
    )
}

pub(crate) fn import(
    ledger_dir: Option<PathBuf>,
    files: &[PathBuf],
    keys: &[PathBuf],
    secret: Option<&Path>,
    json: bool,
) -> Result<()> {
    let keys = read_keys(keys)?;
    let pseudonyms = read_secret(secret)?;
    let mut ledger = open(ledger_dir)?;
    let currencies: BTreeMap<String, pbr_core::money::Currency> = ledger
        .state_without_flows()?
        .contracts
        .iter()
        .filter_map(|(id, c)| {
            let text = &c.versions.last()?.text;
            Some((
                id.clone(),
                pbr_core::terms::parse(id, text).ok()?.contract.currency,
            ))
        })
        .collect();
    let currency = |contract: &str| currencies.get(contract).copied();
    let context = Context {
        pseudonyms: pseudonyms.as_ref(),
        currency: &currency,
        modulus_11_warnings: Default::default(),
    };
    // The files stream row by row into the ledger's batch: memory holds one chunk.
    let mut readers: Vec<Box<dyn Iterator<Item = Result<Row, pbr_ledger::Rejected>>>> = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| input(format!("{name}: {e}")))?;
        let reader = std::io::BufReader::new(file);
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => readers.push(Box::new(
                csv_rows(&name, reader).map_err(|e| input(e.to_string()))?,
            )),
            Some("jsonl") => readers.push(Box::new(jsonl_rows_into(
                &name,
                reader,
                Some(ledger.log().origin().to_owned()),
            ))),
            _ => bail!(input(format!(
                "{name}: an import file ends in .csv or .jsonl"
            ))),
        }
    }
    let inputs = readers.into_iter().flatten().map(|row| {
        row.and_then(|row| row.input(&context))
            .map_err(pbr_ledger::LedgerError::Rejected)
    });
    ledger.set_threads(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let server = crate::submit::before_writing(&mut ledger)?;
    // The file streams, so its number of rows is not known until the end.
    let bar = counter(json, "importing", "rows");
    let report = ledger.append_results(inputs, &keys, now_micros()?, |done, _| {
        bar.set_position(done)
    });
    bar.finish_and_clear();
    let report = report?;
    match server {
        Some(server) => submit_prepared(&mut ledger, server, json)?,
        None => print_report(&report, json),
    }
    warn_modulus_11(&context);
    Ok(ledger.close()?)
}

/// One fact from the command line: its fields, as an import row would name them.
pub(crate) fn fact(ledger_dir: Option<PathBuf>, fact: Fact, json: bool) -> Result<()> {
    let (common, kind, mut fields) = fact.into_fields();
    let key = read_signer_key(&common.basic.key)?;
    let pseudonyms = read_secret(common.secret_file.as_deref())?;
    fields.insert("kind".into(), kind.to_owned());
    fields.insert("contract".into(), common.basic.contract.clone());
    fields.insert("date".into(), common.basic.date.to_string());
    fields.insert("author".into(), key.name().to_owned());
    if let Some(id) = &common.basic.id {
        fields.insert("id".into(), id.clone());
    }
    if let Some(c) = &common.cpr {
        fields.insert("cpr".into(), c.clone());
    }
    let mut ledger = open(ledger_dir)?;
    if let Some(p) = &common.participant {
        // A unique prefix names an enrolled participant, as in `log`, `explain` and
        // `bundle`; a whole reference is taken as it is (an enrolment names a new one).
        let reference = if p.len() == 64 {
            p.clone()
        } else {
            ledger
                .state_without_flows()?
                .find_participant(p)
                .map_err(|e| input(format!("--participant: {}", e.reason)))?
                .to_string()
        };
        fields.insert("participant".into(), reference);
    }
    let currency = ledger
        .state_without_flows()?
        .contracts
        .get(&common.basic.contract)
        .and_then(|c| c.versions.last())
        .and_then(|v| pbr_core::terms::parse(&common.basic.contract, &v.text).ok())
        .map(|t| t.contract.currency);
    let currency_of = |_: &str| currency;
    let context = Context {
        pseudonyms: pseudonyms.as_ref(),
        currency: &currency_of,
        modulus_11_warnings: Default::default(),
    };
    let row = Row::new(
        "command line",
        1,
        fields.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
    );
    let one = row.input(&context).map_err(|e| input(e.to_string()))?;
    let one = with_content_id(one, common.basic.id.is_none())?;
    append_one(ledger, one, key, json)?;
    warn_modulus_11(&context);
    Ok(())
}

/// `pbr log`: the events, one line each, with decisions and reasons.
pub(crate) fn log(
    ledger_dir: Option<PathBuf>,
    filter: crate::cli::LogArgs,
    json: bool,
) -> Result<()> {
    let mut ledger = open(ledger_dir)?;
    let participant = crate::commands::participant_of(&mut ledger, &filter.who)?;
    let from = filter.from_seq.unwrap_or(0);
    let to = filter.to_seq.unwrap_or(u64::MAX);
    for entry in ledger.log().iter_from(from) {
        let (seq, bytes) = entry?;
        if seq >= to {
            break;
        }
        let record = pbr_log::Record::decode(&bytes)?;
        let event = Event::decode(&record.event_bytes)
            .map_err(|e| anyhow::anyhow!("event at seq {seq}: {}", e.reason))?;
        if filter.kind.as_deref().is_some_and(|k| k != event.kind())
            || participant.is_some_and(|p| event.participant != Some(p))
        {
            continue;
        }
        if json {
            print_json(&json!({"seq": seq, "event": event.to_json()}));
        } else {
            let who = event
                .participant
                .map_or_else(String::new, |p| p.to_string()[..12].to_owned());
            let mut payload = event.payload.to_json();
            // The terms are long; the hash identifies them (`pbr export` has the text).
            if let Some(object) = payload.as_object_mut() {
                object.remove("terms");
            }
            outln!(
                "{seq:>7}  {}  {:<24} {:<18} {:<12} {payload}",
                event.business_date,
                event.kind(),
                event.author,
                who
            );
        }
    }
    Ok(())
}

/// `pbr party add`: a party joins a registered contract.
pub(crate) fn party_add(
    ledger_dir: Option<PathBuf>,
    id: String,
    role: String,
    vkey: String,
    common: crate::cli::Common,
    json: bool,
) -> Result<()> {
    let fact_fields: BTreeMap<String, String> = [
        ("party".to_owned(), id),
        ("role".to_owned(), role),
        ("key".to_owned(), vkey),
    ]
    .into_iter()
    .collect();
    let key = read_signer_key(&common.basic.key)?;
    let mut fields = fact_fields;
    fields.insert("kind".into(), "party-registered".into());
    fields.insert("contract".into(), common.basic.contract.clone());
    fields.insert("date".into(), common.basic.date.to_string());
    fields.insert("author".into(), key.name().to_owned());
    if let Some(id) = &common.basic.id {
        fields.insert("id".into(), id.clone());
    }
    let none = |_: &str| None;
    let context = Context {
        pseudonyms: None,
        currency: &none,
        modulus_11_warnings: Default::default(),
    };
    let one = Row::new("command line", 1, fields)
        .input(&context)
        .map_err(|e| input(e.to_string()))?;
    let one = with_content_id(one, common.basic.id.is_none())?;
    append_one(open(ledger_dir)?, one, key, json)
}

/// Without `--id`, a one-fact command's id is derived from the fact it records (the event's
/// content, its author included; `Input::with_content_id`), so that running the same command
/// twice records the fact once. The CPR number never enters it: the event holds only the
/// participant's keyed pseudonym.
fn with_content_id((where_, one): (String, Input), derive: bool) -> Result<(String, Input)> {
    if !derive {
        return Ok((where_, one));
    }
    let one = one
        .with_content_id()
        .map_err(|e| input(format!("{where_}: {}", e.reason)))?;
    Ok((where_, one))
}
