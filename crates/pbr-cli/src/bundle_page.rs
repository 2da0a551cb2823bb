//! `pbr bundle show`: a dispute bundle as a person reads it (`docs/disputes.md`, "As a page"): what was recorded when and by whom, the statement lines with their arithmetic,
//! and what the proofs establish and what they cannot, after the bundle was verified.
//!
//! A bundle that does not verify is shown as a failure and nothing else: its records and
//! amounts are not shown, so that a tampered bundle can never look like a fine one. The HTML
//! page loads nothing (no script, style sheet, font, image or link), escapes every text from
//! the bundle and holds no time of its own, so the same bundle gives the same bytes.

use std::fmt::Write as _;

use pbr_ledger::bundle::{Bundle, BundleReport, KeysUsed};
use serde_json::Value;

use pbr_report::audit::html::STYLE;
use pbr_report::xlsx::escape;

/// How the bundle verified: its report, or why it failed.
pub(crate) type Checked<'a> = Result<&'a BundleReport, &'a str>;

/// What the bundle is about, in words.
fn subject(bundle: Option<&Bundle>) -> String {
    let Some(bundle) = bundle else {
        return "a file that is not a well-formed bundle".to_owned();
    };
    match (&bundle.request.participant, bundle.request.settlement) {
        (Some(p), _) => format!(
            "participant {} of contract {}",
            short(p),
            bundle.request.contract
        ),
        (None, Some(seq)) => format!(
            "the statement issued at seq {seq} of contract {}",
            bundle.request.contract
        ),
        (None, None) => format!("contract {}", bundle.request.contract),
    }
}

/// The first 12 hex digits of a participant reference, as tables show it.
fn short(reference: &str) -> &str {
    reference.get(..12).unwrap_or(reference)
}

/// The one-line verdict and whether trust is established.
fn verdict(checked: Checked<'_>) -> (&'static str, String) {
    match checked {
        Err(reason) => (
            "fail",
            format!(
                "FAILED: the bundle does not verify: {reason}. Nothing in it can be relied on, \
                 so none of its records or amounts are shown."
            ),
        ),
        Ok(report) => {
            let quorum = match &report.quorum {
                None => String::new(),
                Some((_, missing)) if missing.is_empty() => {
                    format!("; the quorum of {} is met", report.request.contract)
                }
                Some((_, missing)) => format!(
                    "; the quorum of {} is NOT met: missing {}",
                    report.request.contract,
                    missing.join(", ")
                ),
            };
            let quorum_met = report.quorum.as_ref().is_none_or(|(_, m)| m.is_empty());
            match report.keys {
                KeysUsed::Given if quorum_met => (
                    "ok",
                    format!(
                        "Verified: {} records, each signed by its author and included in the \
                         checkpoint of size {}, signed by {} under the keys given{quorum}.",
                        report.records,
                        report.tree_size,
                        report.signed_by.join(", ")
                    ),
                ),
                KeysUsed::Given => (
                    "fail",
                    format!(
                        "FAILED: the records verify, but the checkpoint lacks the contract's \
                         quorum under the keys given{quorum}."
                    ),
                ),
                KeysUsed::Bundle => (
                    "warn",
                    format!(
                        "Trust not established: the {} records verify against the checkpoint \
                         of size {}, but its signatures were checked only against the keys the \
                         bundle carries, which whoever made it chose{quorum}. Give the \
                         contract's policy (--policy) or the parties' keys (--key).",
                        report.records, report.tree_size
                    ),
                ),
            }
        }
    }
}

/// The bundle whose content the page may show: only one that verified, and whose
/// checkpoint, under keys given, carries the quorum.
fn shown<'a>(bundle: Option<&'a Bundle>, checked: Checked<'_>) -> Option<&'a Bundle> {
    let (class, _) = verdict(checked);
    bundle.filter(|_| class != "fail")
}

/// An event's payload as `field value` pairs, the terms' text left out (its hash stays).
fn payload_text(event: &Value) -> String {
    let Some(payload) = event.get("payload").and_then(Value::as_object) else {
        return String::new();
    };
    payload
        .iter()
        .filter(|(key, _)| key.as_str() != "terms")
        .map(|(key, value)| format!("{key} {}", value_text(value)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A payload value as a reader wants it: text as it is, an object as its non-null `field
/// value` pairs.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k} {}", value_text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

fn field<'a>(event: &'a Value, name: &str) -> &'a str {
    event.get(name).and_then(Value::as_str).unwrap_or("")
}

/// Why a record is in the bundle, from the manifest.
fn reasons(bundle: &Bundle, seq: u64) -> String {
    let m = &bundle.manifest;
    let mut why = Vec::new();
    for (list, name) in [
        (&m.contract, "contract"),
        (&m.participant, "participant"),
        (&m.settlements, "statement"),
        (&m.cited, "cited"),
    ] {
        if list.contains(&seq) {
            why.push(name);
        }
    }
    why.join(", ")
}

const ESTABLISHES: [&str; 4] = [
    "Each record was signed by the key its author registered in the contract's terms, and has not changed since.",
    "Each record is in the log at its seq: its inclusion path leads to the root of the checkpoint, which the log key signed (and, under the contract's policy, the quorum's witnesses cosigned).",
    "Each statement is the one its settlement-issued record signs (its hash matches), and each line shown is a line of it, with every record it cites present in the bundle.",
    "The terms in force are the text whose BLAKE3 hash the contract's records carry.",
];

const CANNOT: [&str; 4] = [
    "That the facts recorded are true in the world: a record proves who asserted what and when it was logged, not that the citizen worked those hours.",
    "That nothing else happened: a record about the participant that nothing in the bundle cites could have been left out by whoever made it, and nothing logged after its checkpoint is in it (the export of the whole log settles that).",
    "Who the participant is: the reference is a keyed pseudonym, and only the commissioner's secret links it to a CPR number.",
    "That the money moved: a payment-recorded event is a party's statement that it paid.",
];

/// The bundle as plain text, one fact a line.
pub(crate) fn to_text(bundle: Option<&Bundle>, checked: Checked<'_>) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Dispute bundle: {}", subject(bundle));
    let (_, line) = verdict(checked);
    let _ = writeln!(text, "{line}");
    let Some(bundle) = shown(bundle, checked) else {
        return text;
    };
    let _ = writeln!(text, "ledger {}", bundle.origin);
    if let Ok(report) = checked {
        let _ = writeln!(
            text,
            "checkpoint: size {}, root {}",
            report.tree_size,
            pbr_log::hex::encode(&report.root)
        );
        for (seq, hash) in &report.terms {
            let _ = writeln!(text, "terms at seq {seq}: terms_hash {hash}");
        }
    }
    let _ = writeln!(text, "\nWhat was recorded, in log order:");
    for record in &bundle.records {
        let event = &record.event;
        let _ = writeln!(
            text,
            "  seq {:>6}  {}  {:<26} by {:<20} {}  [{}]",
            record.seq,
            field(event, "date"),
            field(event, "kind"),
            field(event, "author"),
            payload_text(event),
            reasons(bundle, record.seq)
        );
    }
    for statement in &bundle.statements {
        let s = &statement.statement;
        let _ = writeln!(
            text,
            "\nStatement {} (seq {}), {}, hash {}",
            s.get("period").and_then(Value::as_str).unwrap_or(""),
            statement.seq,
            s.get("currency").and_then(Value::as_str).unwrap_or(""),
            s.get("hash").and_then(Value::as_str).unwrap_or("")
        );
        for line in &statement.explanation {
            let _ = writeln!(
                text,
                "  line {}: {} {} {} → {} {}",
                line.line, line.rule, line.accrual, line.from, line.to, line.amount
            );
            let _ = writeln!(text, "    = {}", line.calc);
            let cited: Vec<String> = line
                .events
                .iter()
                .map(|e| format!("seq {} {} {} by {}", e.seq, e.kind, e.date, e.author))
                .collect();
            let _ = writeln!(text, "    from: {}", cited.join("; "));
        }
    }
    let _ = writeln!(text, "\nWhat the proofs establish:");
    for item in ESTABLISHES {
        let _ = writeln!(text, "  - {item}");
    }
    let _ = writeln!(text, "What they cannot establish:");
    for item in CANNOT {
        let _ = writeln!(text, "  - {item}");
    }
    text
}

/// The bundle as one self-contained HTML page.
pub(crate) fn to_html(bundle: Option<&Bundle>, checked: Checked<'_>) -> String {
    let mut html = String::new();
    let (class, line) = verdict(checked);
    let heading = match class {
        "ok" => "Verdict: verified",
        "warn" => "Verdict: trust not established",
        _ => "Verdict: FAILED",
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n\
         <title>Dispute bundle: {0}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>Dispute bundle: {0}</h1>\n</header>\n\
         <section id=\"verdict\" class=\"verdict {class}\">\n<h2>{heading}</h2>\n<p>{1}</p>\n\
         </section>\n",
        escape(&subject(bundle)),
        escape(&line),
    );
    let shown = shown(bundle, checked);
    if let (Some(bundle), Ok(report)) = (shown, checked) {
        let _ = writeln!(
            html,
            "<p>Ledger <code>{}</code>.</p>",
            escape(&bundle.origin)
        );
        let _ = write!(
            html,
            "<section id=\"proof\">\n<h2>The proof</h2>\n<table>\n<tbody>\n\
             <tr><th>checkpoint size</th><td class=\"num\">{}</td></tr>\n\
             <tr><th>Merkle root</th><td class=\"hash\">{}</td></tr>\n\
             <tr><th>signed by</th><td>{}</td></tr>\n",
            report.tree_size,
            pbr_log::hex::encode(&report.root),
            escape(&report.signed_by.join(", ")),
        );
        for (seq, hash) in &report.terms {
            let _ = writeln!(
                html,
                "<tr><th>terms at seq {seq}</th><td class=\"hash\">{}</td></tr>",
                escape(hash)
            );
        }
        html.push_str("</tbody>\n</table>\n</section>\n");
    }
    if let Some(bundle) = shown {
        html.push_str(
            "<section id=\"records\">\n<h2>What was recorded, in log order</h2>\n<table>\n\
             <caption>Every record of the bundle: its business date, kind, author, what it \
             says, and why it is in the bundle</caption>\n<thead><tr><th class=\"num\">seq</th>\
             <th>date</th><th>kind</th><th>by</th><th>what it says</th><th>in the bundle as</th>\
             </tr></thead>\n<tbody>\n",
        );
        for record in &bundle.records {
            let event = &record.event;
            let _ = writeln!(
                html,
                "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td></tr>",
                record.seq,
                escape(field(event, "date")),
                escape(field(event, "kind")),
                escape(field(event, "author")),
                escape(&payload_text(event)),
                escape(&reasons(bundle, record.seq)),
            );
        }
        html.push_str("</tbody>\n</table>\n</section>\n");
        for statement in &bundle.statements {
            let s = &statement.statement;
            let _ = write!(
                html,
                "<section class=\"statement\">\n<h2>Statement {} (seq {})</h2>\n\
                 <p>Currency {}; hash <span class=\"hash\">{}</span>.</p>\n<table>\n\
                 <caption>Its lines in scope, with the arithmetic and the records each comes \
                 from</caption>\n<thead><tr><th class=\"num\">line</th><th>rule</th>\
                 <th>period</th><th>from → to</th><th class=\"num\">amount</th>\
                 <th>arithmetic</th><th>records</th></tr></thead>\n<tbody>\n",
                escape(s.get("period").and_then(Value::as_str).unwrap_or("")),
                statement.seq,
                escape(s.get("currency").and_then(Value::as_str).unwrap_or("")),
                escape(s.get("hash").and_then(Value::as_str).unwrap_or("")),
            );
            for line in &statement.explanation {
                let cited: Vec<String> = line
                    .events
                    .iter()
                    .map(|e| format!("seq {} {} {} by {}", e.seq, e.kind, e.date, e.author))
                    .collect();
                let _ = writeln!(
                    html,
                    "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{} → {}</td>\
                     <td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                    line.line,
                    escape(&line.rule),
                    escape(&line.accrual),
                    escape(&line.from),
                    escape(&line.to),
                    escape(&line.amount),
                    escape(&line.calc),
                    escape(&cited.join("; ")),
                );
            }
            html.push_str("</tbody>\n</table>\n</section>\n");
        }
        html.push_str(
            "<section id=\"meaning\">\n<h2>What the proofs establish, and what they cannot</h2>\n\
             <h3>Established</h3>\n<ul>\n",
        );
        for item in ESTABLISHES {
            let _ = writeln!(html, "<li>{}</li>", escape(item));
        }
        html.push_str("</ul>\n<h3>Not established</h3>\n<ul>\n");
        for item in CANNOT {
            let _ = writeln!(html, "<li>{}</li>", escape(item));
        }
        html.push_str("</ul>\n</section>\n");
    }
    html.push_str(
        "<footer>\n<p>Made by <code>pbr bundle show</code> from the bundle file alone; it holds \
         no time of its own, so the same bundle gives the same page. \
         <code>pbr bundle verify</code> and <code>tools/verify_bundle.py</code> check the same \
         bundle.</p>\n</footer>\n</body>\n</html>\n",
    );
    html
}
