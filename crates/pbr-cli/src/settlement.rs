//! The settlement commands: `settle`, `audit`, `balance`, `explain`, `diff`, `what-if`.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use chrono::NaiveDate;
use pbr_core::date::Period;
use pbr_core::error::quoted;
use pbr_core::money::Money;
use pbr_core::settle::Statement;
use pbr_core::settle::balance::{PartyBalance, to_json as balance_json};
use pbr_ledger::{At, Cover, Keys, Ledger, Verdict, VerifyOptions};
use serde_json::{Value, json};

use crate::commands::{
    failed_verdict, input, now_micros, open, parse_verifier_keys, read_signer_key, verdict_json,
};
use crate::output::{hex, outln, print_json, progress};

/// A period option (`2025`, `2025-Q3` or `2025-07`); a bad one is a one-line input error
/// naming the option.
fn period(option: &str, text: &str) -> Result<Period> {
    text.parse()
        .map_err(|e: pbr_core::CoreError| input(format!("{option}: {}", e.reason)))
}

fn amount(money: Money) -> String {
    money.to_decimal().to_string()
}

/// The contract named (which must be registered), or the ledger's only one.
fn contract_id(ledger: &mut Ledger, contract: Option<String>) -> Result<String> {
    crate::report::contract_of(ledger.state()?, contract)
}

pub(crate) fn settle(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    period_text: &str,
    issue_key: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let period = period("--period", period_text)?;
    let mut ledger = open(ledger_dir)?;
    let contract = contract_id(&mut ledger, contract)?;
    let mut submitted = None;
    let (statement, issued) = match issue_key {
        Some(path) => {
            let key = read_signer_key(&path)?;
            let server = crate::submit::before_writing(&mut ledger)?;
            let (statement, seq) = ledger.issue(&contract, period, &key, now_micros()?)?;
            match server {
                // The statement is computed on the mirror and issued on the operator's log:
                // its seq is the one the server gives it.
                Some(server) => {
                    let records = ledger.take_prepared();
                    let answer = crate::submit::submit(server, &mut ledger, records)?;
                    let seq = answer.placed.first().map(|p| p.index);
                    submitted = Some(answer);
                    (statement, seq)
                }
                None => (statement, Some(seq)),
            }
        }
        None => (ledger.settle(&contract, period)?, None),
    };
    if json {
        let mut value = statement.to_json();
        if let Some(object) = value.as_object_mut() {
            object.insert("issued_seq".into(), json!(issued));
            if let Some(answer) = &submitted {
                object.insert("submitted".into(), answer.to_json());
            }
        }
        print_json(&value);
    } else {
        print_statement(&statement, false, None);
        match &submitted {
            Some(answer) => answer.print(false),
            None => {
                if let Some(seq) = issued {
                    outln!("issued: seq {seq}");
                }
            }
        }
    }
    Ok(ledger.close()?)
}

/// A subject as a table shows it: a participant by the first 12 digits of its reference,
/// a company by its id.
fn short_subject(subject: &str) -> &str {
    match subject.split_once(':') {
        Some(("participant", id)) => &id[..12.min(id.len())],
        Some((_, id)) => id,
        None => subject,
    }
}

/// A statement as a table; with `explain`, each line's arithmetic under it.
fn print_statement(statement: &Statement, explain: bool, participant: Option<&str>) {
    outln!(
        "statement {} {} ({} to {}){}, {}, covering seq 0..{}",
        statement.contract,
        statement.period,
        statement.period.first_day(),
        statement.period.last_day(),
        if statement.final_period {
            ", final"
        } else {
            ""
        },
        statement.currency,
        statement.log_position
    );
    if let Some(previous) = &statement.previous {
        outln!(
            "follows the statement of {} (seq {})",
            previous.period,
            previous.seq
        );
    }
    if !statement.decisions.is_empty() {
        outln!("decisions:");
    }
    for d in &statement.decisions {
        let id = short_subject(&d.subject);
        outln!(
            "  {}  claim {:>6}  {:<14} {:<8} {:<20} {:>12}{}",
            d.date,
            d.claim_seq,
            id,
            d.outcome,
            pbr_core::settle::result_text(d.result),
            amount(d.amount),
            d.cap
                .map_or(String::new(), |c| format!("  ({} cap)", c.name()))
        );
    }
    if !statement.lines.is_empty() {
        outln!("lines:");
    }
    for line in &statement.lines {
        if participant
            .is_some_and(|p| line.key.subject.as_deref() != Some(&format!("participant:{p}")))
        {
            continue;
        }
        outln!(
            "{:>4}  {:<26} {:<8}{} {:<14} {:>10} → {:<10} {:>14}{}",
            line.n,
            line.key.rule,
            line.key.accrual.to_string(),
            if line.adjustment { "*" } else { " " },
            line.key.subject.as_deref().map_or("", short_subject),
            line.key.from,
            line.key.to,
            amount(line.amount),
            line.cap
                .map_or(String::new(), |c| format!("  ({} cap)", c.name()))
        );
        if explain {
            outln!("        = {}", line.calc);
            if !line.events.is_empty() {
                let events: Vec<String> = line.events.iter().map(u64::to_string).collect();
                outln!("        events: {}", events.join(", "));
            }
        }
    }
    if statement.lines.iter().any(|l| l.adjustment) {
        outln!("      * adjusts an already-settled period");
    }
    for total in &statement.totals {
        outln!(
            "  {:<16} pays {:>14}  receives {:>14}",
            total.party,
            amount(total.pays),
            amount(total.receives)
        );
    }
    if let Some(f) = statement.facility {
        outln!(
            "  facility: cash {}, outstanding {}, drawn {}",
            amount(f.cash),
            amount(f.outstanding),
            amount(f.drawn)
        );
    }
    outln!("hash {}", hex(&statement.hash));
}

pub(crate) fn audit(ledger_dir: Option<PathBuf>, keys: &[String], json: bool) -> Result<()> {
    let trusted = parse_verifier_keys(keys)?;
    // With keys the log is verified, and a damaged one is opened to say where.
    let mut ledger = if trusted.is_empty() {
        open(ledger_dir)?
    } else {
        crate::commands::open_to_verify(ledger_dir)?
    };
    // With keys, the whole log is verified against them first: the checkpoint the verdict
    // rests on then signs the very records the statements are recomputed from.
    let verified = if trusted.is_empty() {
        None
    } else {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let bar = progress(json, "verifying");
        let report = ledger.verify(
            VerifyOptions {
                threads,
                incremental: false,
            },
            Some(&trusted),
            |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            },
        );
        bar.finish_and_clear();
        Some(report?)
    };
    let bar = progress(json, "recomputing");
    let audited = ledger.audit(|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    // The checkpoint must cover every issued statement, and so every event before it.
    let cover = Cover::Statements {
        last: audited.last().map(|a| a.seq),
    };
    let check = match &verified {
        Some(report) => Some(ledger.trust_check(report, cover)?),
        None => None,
    };
    let differing = audited.iter().filter(|a| !a.matches()).count();
    let failures: Vec<String> = (differing > 0)
        .then(|| {
            format!(
                "{differing} of {} issued statements do not match their recomputation",
                audited.len()
            )
        })
        .into_iter()
        .collect();
    let facts = match audited.len() {
        0 => "no statement has been issued".to_owned(),
        n => format!("all {n} issued statements match their recomputation from the log"),
    };
    let keys = if trusted.is_empty() {
        Keys::Ledger
    } else {
        Keys::Given
    };
    let verdict = Verdict::of(keys, check.as_ref(), &failures, &facts);
    if json {
        let mut out = verdict_json(&verdict, check.as_ref());
        out.insert(
            "statements".into(),
            audited
                .iter()
                .map(|a| {
                    json!({
                        "seq": a.seq,
                        "contract": a.contract,
                        "period": a.period.to_string(),
                        "recorded_hash": hex(&a.recorded),
                        "recomputed_hash": a.recomputed.as_ref().map(hex).ok(),
                        "error": a.recomputed.as_ref().err(),
                        "matches": a.matches(),
                    })
                })
                .collect(),
        );
        print_json(&Value::Object(out));
    } else {
        outln!("{}", verdict.line);
        for a in &audited {
            match &a.recomputed {
                Ok(_) if a.matches() => {
                    outln!("ok        seq {:>7}  {} {}", a.seq, a.contract, a.period)
                }
                Ok(hash) => outln!(
                    "DIFFERS   seq {:>7}  {} {}: recorded {}, recomputed {}",
                    a.seq,
                    a.contract,
                    a.period,
                    hex(&a.recorded),
                    hex(hash)
                ),
                Err(reason) => outln!(
                    "FAILED    seq {:>7}  {} {}: {reason}",
                    a.seq,
                    a.contract,
                    a.period
                ),
            }
        }
        outln!(
            "{} issued statements, {} match",
            audited.len(),
            audited.len() - differing
        );
    }
    failed_verdict(&verdict, "the audit")
}

/// `--known-at`: RFC 3339, or a date meaning the end of that day in UTC.
fn known_at_micros(text: &str) -> Result<i64> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_micros());
    }
    let date: NaiveDate = text.parse().map_err(|_| {
        input(format!(
            "--known-at {}: give RFC 3339 or YYYY-MM-DD",
            quoted(text)
        ))
    })?;
    let end = date
        .and_hms_micro_opt(23, 59, 59, 999_999)
        .ok_or_else(|| input(format!("--known-at {} is out of range", quoted(text))))?;
    Ok(end.and_utc().timestamp_micros())
}

pub(crate) fn balance(
    ledger_dir: Option<PathBuf>,
    contract: Option<String>,
    at_seq: Option<u64>,
    known_at: Option<String>,
    effective: Option<NaiveDate>,
    json: bool,
) -> Result<()> {
    let mut ledger = open(ledger_dir)?;
    let contract = contract_id(&mut ledger, contract)?;
    let at = match (at_seq, known_at) {
        (Some(seq), _) => At::Seq(seq),
        (None, Some(time)) => At::KnownAt(known_at_micros(&time)?),
        (None, None) => At::Head,
    };
    let (position, rows) = ledger.balances(&contract, at, effective)?;
    if json {
        print_json(&json!({
            "contract": contract,
            "log_position": position,
            "effective": effective.map(|d| d.to_string()),
            "parties": rows.iter().map(balance_json).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    outln!(
        "balances of {contract} after seq 0..{position}{}",
        effective.map_or(String::new(), |d| format!(", in effect on {d}"))
    );
    print_balances(&rows);
    Ok(())
}

pub(crate) fn print_balances(rows: &[PartyBalance]) {
    outln!(
        "  {:<14} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
        "party",
        "accrued",
        "paid",
        "outstanding",
        "invested",
        "returned",
        "exposure",
        "net"
    );
    for row in rows {
        outln!(
            "  {:<14} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14} {:>14}",
            row.party,
            amount(row.accrued),
            amount(row.paid),
            amount(row.outstanding),
            amount(row.invested),
            amount(row.returned),
            amount(row.guarantee_exposure),
            amount(row.net)
        );
    }
}

pub(crate) fn explain(
    ledger_dir: Option<PathBuf>,
    seq: u64,
    who: &crate::cli::Who,
    json: bool,
) -> Result<()> {
    let mut ledger = open(ledger_dir)?;
    let participant = crate::commands::participant_of(&mut ledger, who)?.map(|p| p.to_string());
    let statement = ledger.statement_at(seq)?;
    if json {
        let mut value = statement.to_json();
        if let (Some(p), Some(lines)) = (&participant, value.get_mut("lines"))
            && let Some(lines) = lines.as_array_mut()
        {
            let subject = format!("participant:{p}");
            lines.retain(|l| l["subject"] == Value::String(subject.clone()));
        }
        print_json(&value);
    } else {
        print_statement(&statement, true, participant.as_deref());
    }
    Ok(())
}

pub(crate) fn diff(
    ledger_dir: Option<PathBuf>,
    from: u64,
    to: Option<u64>,
    contract: Option<String>,
    through: Option<String>,
    json: bool,
) -> Result<()> {
    let through = through
        .as_deref()
        .map(|text| period("--through", text))
        .transpose()?;
    let mut ledger = open(ledger_dir)?;
    let to = to.unwrap_or(ledger.log().len());
    if to < from {
        bail!(input(format!("--to-seq {to} is before --from-seq {from}")));
    }
    let diffs = ledger.diff(from, to, contract.as_deref(), through)?;
    if json {
        print_json(&json!({
            "from_seq": from,
            "to_seq": to,
            "contracts": diffs.iter().map(|d| json!({
                "contract": d.contract,
                "through": d.through.to_string(),
                "changes": d.changes.iter().map(|c| json!({
                    "rule": c.key.rule,
                    "accrual": c.key.accrual.to_string(),
                    "subject": c.key.subject,
                    "from": c.key.from,
                    "to": c.key.to,
                    "before": amount(c.before),
                    "after": amount(c.after),
                    "caused_by": c.caused_by,
                    "calc": c.calc,
                })).collect::<Vec<_>>(),
                "balances": d.balances.iter().map(|(before, after)| json!({
                    "party": after.party,
                    "before": balance_json(before),
                    "after": balance_json(after),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    for d in &diffs {
        outln!(
            "{}: entitlements through {} between seq {from} and {to}",
            d.contract,
            d.through
        );
        if d.changes.is_empty() {
            outln!("  no amount changed");
        }
        for c in &d.changes {
            let caused: Vec<String> = c.caused_by.iter().map(u64::to_string).collect();
            outln!(
                "  {:<26} {:<8} {:>10} → {:<10} {:>14} → {:>14}  caused by seq {}",
                c.key.rule,
                c.key.accrual.to_string(),
                c.key.from,
                c.key.to,
                amount(c.before),
                amount(c.after),
                if caused.is_empty() {
                    "-".to_owned()
                } else {
                    caused.join(", ")
                }
            );
        }
        for (before, after) in &d.balances {
            outln!(
                "  balance {:<14} accrued {} → {}, net {} → {}",
                after.party,
                amount(before.accrued),
                amount(after.accrued),
                amount(before.net),
                amount(after.net)
            );
        }
    }
    Ok(())
}

pub(crate) fn what_if(
    ledger_dir: Option<PathBuf>,
    terms_path: &Path,
    period_text: &str,
    contract: Option<String>,
    json: bool,
) -> Result<()> {
    let period = period("--period", period_text)?;
    let text = std::fs::read_to_string(terms_path)
        .map_err(|e| input(format!("{}: {e}", terms_path.display())))?;
    let terms = pbr_core::terms::parse(&terms_path.display().to_string(), &text)
        .map_err(|e| input(e.to_string()))?;
    let mut ledger = open(ledger_dir)?;
    let contract = contract_id(&mut ledger, contract)?;
    let result = ledger.what_if(&contract, terms, period)?;
    if json {
        print_json(&json!({
            "contract": contract,
            "through": result.through.to_string(),
            "parties": result.parties.iter().map(|(party, (real, alt))| json!({
                "party": party, "real": amount(*real), "alternative": amount(*alt),
            })).collect::<Vec<_>>(),
            "rules": result.rules.iter().map(|(rule, (real, alt))| json!({
                "rule": rule, "real": amount(*real), "alternative": amount(*alt),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    outln!(
        "{contract} through {}: due to each party (+) or from it (−), real terms beside {}",
        result.through,
        terms_path.display()
    );
    outln!("  {:<26} {:>14} {:>14}", "", "real", "alternative");
    for (party, (real, alt)) in &result.parties {
        outln!("  {:<26} {:>14} {:>14}", party, amount(*real), amount(*alt));
    }
    outln!("  by rule:");
    for (rule, (real, alt)) in &result.rules {
        outln!("  {:<26} {:>14} {:>14}", rule, amount(*real), amount(*alt));
    }
    Ok(())
}
