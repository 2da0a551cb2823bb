//! The audit report as one self-contained HTML page (`docs/reports.md`, "Audit report",
//! "HTML").
//!
//! The page must stay readable offline for years and must not leak that it was opened, so
//! it loads nothing: no script, no stylesheet, font, image or link of any kind, and no
//! URL at all (the inline SVG charts carry no namespace URL). Its Content-Security-Policy
//! (`default-src 'none'`) forbids every load besides, should a reader's tool add one.
//! Every text from the ledger is escaped. The layout prints on A4 and holds no generation
//! time: the footer says how to make the same bytes again instead.

use std::fmt::Write as _;

use pbr_core::money::{Currency, Money};
use pbr_core::verdict::{Outcome, Trust};

use super::sheets::BALANCE_COLUMNS;
use super::svg::{Chart, Line, Unit};
use super::{
    AuditReport, Charts, Figures, LATE_NOT_ASSESSED, PaymentStatus, Recomputed, Sections,
    TrustBasis, format_minor,
};
use crate::xlsx::escape;

/// The page's style: system fonts only, A4 print layout. The dispute bundle's page
/// (`pbr bundle show`) uses it too.
pub const STYLE: &str = "\
:root { color-scheme: light; }
body { font-family: system-ui, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif; \
max-width: 62rem; margin: 1.5rem auto; padding: 0 1rem; color: #111; background: #fff; \
line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #bbb; padding-bottom: .15rem; \
margin-top: 1.8rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
table { border-collapse: collapse; margin: .4rem 0; font-size: .85rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; caption-side: top; }
th, td { border: 1px solid #c8c8c8; padding: .2rem .4rem; text-align: left; \
vertical-align: top; }
thead th { background: #eee; }
table.facts th { background: #f6f6f6; width: 16rem; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wide { overflow-x: auto; }
code, .hash { font-family: ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace; \
font-size: .8rem; word-break: break-all; }
.verdict { border: 2px solid; border-radius: 4px; padding: .4rem 1rem; margin-top: 1rem; }
.verdict.ok { border-color: #1a7f37; background: #eaf6ec; }
.verdict.fail { border-color: #b42318; background: #fdecea; }
.verdict.warn { border-color: #8a5a00; background: #fdf5e6; }
.bad { color: #b42318; font-weight: bold; }
.good { color: #1a7f37; }
.warn { color: #8a5a00; }
.nowrap { white-space: nowrap; }
figure { margin: 1rem 0 1.6rem; }
svg.chart { display: block; max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #333; margin-top: .3rem; }
details { font-size: .85rem; }
footer { margin-top: 2rem; border-top: 1px solid #bbb; font-size: .85rem; color: #333; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9.5pt; }
  .verdict { background: none; }
  section.table, figure, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  .wide { overflow: visible; }
}
";

/// A checkpoint's time (Unix seconds) as UTC, e.g. `2026-01-15 00:00:00 UTC`; a checkpoint
/// no witness of the quorum cosigned has none.
pub(crate) fn checkpoint_time(seconds: Option<u64>) -> String {
    let Some(seconds) = seconds else {
        return "not cosigned".to_owned();
    };
    i64::try_from(seconds)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map_or_else(
            || format!("Unix time {seconds}"),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// Whether a checkpoint's signers meet the contract's quorum, in words.
pub(crate) fn quorum_text(quorum: Option<&[String]>, signed_by: Option<&[String]>) -> String {
    let Some(signed_by) = signed_by else {
        return "not verified".to_owned();
    };
    let Some(quorum) = quorum else {
        return "the contract names no quorum".to_owned();
    };
    let missing = super::missing(quorum, signed_by);
    if missing.is_empty() {
        "met".to_owned()
    } else {
        format!("not met: missing {}", missing.join(", "))
    }
}

/// A checkpoint's signers in words: `name+keyid, …`, or that none of the keys signed it.
pub(crate) fn signers_text(signers: &[String]) -> String {
    if signers.is_empty() {
        "none of the given keys".to_owned()
    } else {
        signers.join(", ")
    }
}

/// Which keys checked the checkpoint signatures, and what that is worth.
pub(crate) fn trust_text(trust: &TrustBasis) -> String {
    match trust {
        TrustBasis::Given(keys) => format!(
            "verifier keys given with --key, obtained from the parties: {}",
            keys.join(", ")
        ),
        TrustBasis::Ledger => "the verifier keys stored in the ledger, which are not a trust \
                               anchor (whoever can rewrite the ledger can rewrite them); pass \
                               --key with each party's verifier key, obtained from the party, \
                               to check against keys you trust"
            .to_owned(),
    }
}

/// The verdict's first line: `passed: …`, `FAILED: …` or `trust not established: …`.
pub(crate) fn verdict_text(report: &AuditReport) -> String {
    report.verdict().line
}

/// Trust in words, for the summary: established, failed (and why), or not established.
pub(crate) fn trust_state_text(report: &AuditReport) -> String {
    let verdict = report.verdict();
    match (verdict.trust, report.input.trust.as_ref()) {
        (Trust::Established, Some(check)) => {
            format!("established: {}", check.established().unwrap_or_default())
        }
        (Trust::Failed, Some(check)) => {
            format!("FAILED: {}", check.failure().unwrap_or_default())
        }
        _ => match report.input.verification.trust {
            TrustBasis::Ledger => "not established: no --key given".to_owned(),
            TrustBasis::Given(_) => {
                "not established: the verification failed before the checkpoints could be \
                 judged"
                    .to_owned()
            }
        },
    }
}

fn money(minor: i64, currency: Currency) -> String {
    format_minor(i128::from(minor), currency)
}

fn amount(value: Money) -> String {
    format_minor(i128::from(value.minor), value.currency)
}

/// Writes a table row of header cells (`<th>`); a name starting with `#` is numeric.
fn head_row(html: &mut String, names: &[&str]) {
    html.push_str("<thead><tr>");
    for name in names {
        match name.strip_prefix('#') {
            Some(name) => {
                let _ = write!(
                    html,
                    "<th scope=\"col\" class=\"num\">{}</th>",
                    escape(name)
                );
            }
            None => {
                let _ = write!(html, "<th scope=\"col\">{}</th>", escape(name));
            }
        }
    }
    html.push_str("</tr></thead>\n");
}

impl AuditReport {
    /// The report as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        let input = &self.input;
        let mut html = String::new();
        let _ = write!(
            html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'\">\n\
             <title>Audit report: {0} ({1})</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n\
             <header>\n<h1>Audit report: contract {0}</h1>\n\
             <p>Ledger <code>{1}</code>, {2} records. Every figure below is recomputed from the \
             log itself: its records are verified, and its events are replayed from seq 0.</p>\n\
             </header>\n",
            escape(&input.contract),
            escape(&input.origin),
            input.verification.records,
        );
        self.verdict_section(&mut html);
        self.summary_section(&mut html);
        self.checkpoint_section(&mut html);
        match &self.recomputed {
            Ok(recomputed) => {
                terms_section(&mut html, &recomputed.sections, &input.contract);
                statements_section(&mut html, recomputed);
                payments_section(&mut html, &recomputed.sections, recomputed.currency);
                disputes_section(&mut html, &recomputed.sections);
                corrections_section(&mut html, &recomputed.sections);
                match &recomputed.figures {
                    Ok(figures) => {
                        balances_section(&mut html, figures, recomputed);
                        charts_section(&mut html, &figures.charts);
                    }
                    Err(reason) => {
                        let _ = write!(
                            html,
                            "<section id=\"balances\">\n<h2>Balances and charts</h2>\n\
                             <p class=\"bad\">Not available: {}.</p>\n</section>\n",
                            escape(reason)
                        );
                    }
                }
            }
            Err(reason) => {
                let _ = write!(
                    html,
                    "<section id=\"statements\">\n<h2>Statements, balances and charts</h2>\n\
                     <p class=\"bad\">Not available: the log cannot be replayed: {}.</p>\n\
                     </section>\n",
                    escape(reason)
                );
            }
        }
        let _ = write!(
            html,
            "<footer>\n<p>To reproduce this report: <code>{}</code>, with <code>LEDGER</code> \
             the ledger directory (or a copy of it). It holds no generation time, so the same \
             ledger and the same command give the same bytes.</p>\n\
             <p>To check the log without this program: <code>pbr export</code> writes it as JSON \
             Lines with the latest checkpoint, which <code>docs/format.md</code> specifies to \
             the byte.</p>\n<p>Made by {}.</p>\n</footer>\n</body>\n</html>\n",
            escape(&input.command),
            escape(&input.made_by),
        );
        html
    }

    fn verdict_section(&self, html: &mut String) {
        let verdict = self.verdict();
        let (class, word) = match verdict.outcome {
            Outcome::Passed => ("ok", "passed"),
            Outcome::Failed => ("fail", "FAILED"),
            Outcome::TrustNotEstablished => ("warn", "trust not established"),
        };
        // The heading, then the verdict's first line as every command prints it: a failure
        // of trust comes first and names the missing signers.
        let _ = write!(
            html,
            "<section id=\"verdict\" class=\"verdict {class}\">\n<h2>Verdict: {word}</h2>\n\
             <p class=\"verdict-line\">{}</p>\n",
            escape(&verdict.line)
        );
        let failures = self.failures();
        if failures.len() > 1 {
            html.push_str("<ul>\n");
            for failure in failures {
                let _ = writeln!(html, "<li class=\"bad\">{}</li>", escape(&failure));
            }
            html.push_str("</ul>\n");
        }
        if self.input.verification.trust == TrustBasis::Ledger {
            html.push_str(
                "<p>No <code>--key</code> was given: the checkpoint signatures were checked \
                 against the verifier keys stored in the ledger, which whoever can rewrite the \
                 ledger can rewrite too. To establish trust, give each quorum party's verifier \
                 key, obtained from the party, with <code>--key</code>.</p>\n",
            );
        }
        html.push_str("</section>\n");
    }

    fn summary_section(&self, html: &mut String) {
        let input = &self.input;
        let verification = &input.verification;
        html.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"facts\">\n");
        let mut fact = |name: &str, value: String| {
            let _ = writeln!(html, "<tr><th>{}</th><td>{value}</td></tr>", escape(name));
        };
        fact(
            "Ledger origin",
            format!("<code>{}</code>", escape(&input.origin)),
        );
        fact("Contract", escape(&input.contract));
        fact("Records", verification.records.to_string());
        match &verification.outcome {
            Ok(verified) => {
                fact(
                    "Merkle root",
                    format!("<code>{}</code>", pbr_core::ids::hex(&verified.root)),
                );
                fact(
                    "Chain head",
                    format!("<code>{}</code>", pbr_core::ids::hex(&verified.chain_head)),
                );
                fact(
                    "Verification",
                    "<span class=\"good\">verified</span>: every record's signature, every \
                     leaf hash, chain link and Merkle node, and every checkpoint signature"
                        .to_owned(),
                );
            }
            Err(failure) => {
                let seq = failure
                    .first_bad_seq
                    .map_or_else(String::new, |seq| format!(" at seq {seq}"));
                fact(
                    "Verification",
                    format!(
                        "<span class=\"bad\">FAILED{seq}</span>: {}",
                        escape(&failure.reason)
                    ),
                );
            }
        }
        fact(
            "Checkpoint signatures checked against",
            escape(&trust_text(&verification.trust)),
        );
        let trust = trust_state_text(self);
        let class = match self.verdict().trust {
            Trust::Established => "good",
            Trust::Failed => "bad",
            Trust::NotEstablished => "warn",
        };
        let (state, why) = trust.split_once(": ").unwrap_or((&trust, ""));
        fact(
            "Trust",
            format!(
                "<span class=\"{class}\">{}</span>: {}",
                escape(state),
                escape(why)
            ),
        );
        match &self.recomputed {
            Ok(recomputed) => {
                let (issued, matching) = self.statement_counts().unwrap_or_default();
                let class = if issued == matching { "good" } else { "bad" };
                fact(
                    "Issued statements",
                    format!(
                        "{issued} issued, <span class=\"{class}\">{matching} of {issued} \
                         match</span> their recomputation"
                    ),
                );
                let sections = &recomputed.sections;
                fact("Terms in force", escape(&terms_in_force_text(sections)));
                fact("Payments", escape(&payments_summary_text(sections)));
                fact("Disputes", escape(&disputes_summary_text(sections)));
                fact(
                    "Corrections",
                    format!("{} recorded", sections.corrections.len()),
                );
                fact(
                    "Replayed",
                    format!(
                        "{} events, from seq 0; amounts in {}",
                        recomputed.log_position,
                        recomputed.currency.code()
                    ),
                );
            }
            Err(reason) => fact(
                "Replayed",
                format!("<span class=\"bad\">FAILED</span>: {}", escape(reason)),
            ),
        }
        html.push_str("</table>\n</section>\n");
    }

    fn checkpoint_section(&self, html: &mut String) {
        let input = &self.input;
        html.push_str("<section id=\"checkpoints\" class=\"table\">\n<h2>Checkpoints</h2>\n");
        match &input.quorum {
            Some(quorum) => {
                let _ = writeln!(
                    html,
                    "<p>The quorum of {} that makes a checkpoint count: {}.</p>",
                    escape(&input.contract),
                    escape(&quorum.join(", "))
                );
            }
            None => {
                let _ = writeln!(
                    html,
                    "<p>The terms of {} name no checkpoint quorum.</p>",
                    escape(&input.contract)
                );
            }
        }
        if input.checkpoints.is_empty() {
            html.push_str("<p class=\"bad\">The ledger has no checkpoint yet.</p>\n</section>\n");
            return;
        }
        html.push_str("<div class=\"wide\"><table>\n");
        head_row(
            html,
            &["#size", "time (UTC)", "Merkle root", "signed by", "quorum"],
        );
        html.push_str("<tbody>\n");
        for c in &input.checkpoints {
            let signed_by = c.signed_by.as_ref().map_or_else(
                || "<span class=\"bad\">not verified</span>".to_owned(),
                |s| escape(&signers_text(s)),
            );
            let quorum = quorum_text(input.quorum.as_deref(), c.signed_by.as_deref());
            // An earlier checkpoint short of the quorum is no failure (a party keeps one as a
            // witness before the others co-sign), but it does not count as the contract's;
            // the latest is the one the verdict rests on.
            let latest = input.checkpoints.last().is_some_and(|l| l.size == c.size);
            let class = match quorum.as_str() {
                "met" => "good",
                _ if latest && self.verdict().trust == Trust::Failed => "bad",
                _ => "warn",
            };
            let _ = writeln!(
                html,
                "<tr><td class=\"num\">{}</td><td class=\"nowrap\">{}</td><td class=\"hash\">{}</td>\
                 <td>{}</td><td class=\"{class}\">{}</td></tr>",
                c.size,
                checkpoint_time(c.time),
                pbr_core::ids::hex(&c.root),
                signed_by,
                escape(&quorum),
            );
        }
        html.push_str("</tbody></table></div>\n");
        if let Some(latest) = input.checkpoints.last() {
            let _ = writeln!(
                html,
                "<p>The verdict rests on the latest checkpoint, of size {}; an earlier one \
                 short of the quorum is a witness a party kept, not a failure.</p>",
                latest.size
            );
        }
        let covered = input.checkpoints.iter().map(|c| c.size).max().unwrap_or(0);
        let records = input.verification.records;
        if records > covered {
            let _ = writeln!(
                html,
                "<p>The {} records after seq {} are not covered by a checkpoint yet.</p>",
                records - covered,
                covered.saturating_sub(1),
            );
        } else {
            html.push_str("<p>The latest checkpoint covers every record.</p>\n");
        }
        html.push_str("</section>\n");
    }
}

/// The terms in force in words: `seq 0, effective from 2024-01-01, hash …, on 2026-01-14 (the
/// latest business date of the contract's log); 1 amendment`.
pub(crate) fn terms_in_force_text(sections: &Sections) -> String {
    let terms = &sections.terms;
    let amendments = match terms.amendments() {
        1 => "1 amendment".to_owned(),
        n => format!("{n} amendments"),
    };
    match (terms.in_force(), terms.as_of) {
        (Some(v), Some(as_of)) => format!(
            "seq {}, effective from {}, terms hash {}, on {as_of} (the latest business date of \
             the contract's log); {amendments}",
            v.seq,
            v.effective_from,
            v.hash.map_or_else(String::new, |h| pbr_core::ids::hex(&h)),
        ),
        _ => format!("not known; {amendments}"),
    }
}

/// The payment matching in words: `8 issued statements: 6 paid, 1 outstanding, 1 overpaid`.
pub(crate) fn payments_summary_text(sections: &Sections) -> String {
    let payments = &sections.payments;
    let mut parts = Vec::new();
    for status in [
        PaymentStatus::Paid,
        PaymentStatus::Outstanding,
        PaymentStatus::Overpaid,
        PaymentStatus::NothingDue,
        PaymentStatus::NotAssessed,
    ] {
        let count = payments.count(status);
        if count > 0 {
            parts.push(format!("{count} {}", status.as_str()));
        }
    }
    let mut text = format!("{} issued statements", payments.statements.len());
    if !parts.is_empty() {
        text.push_str(": ");
        text.push_str(&parts.join(", "));
    }
    if !payments.unmatched.is_empty() {
        text.push_str(&format!(
            "; {} payments not matched to a statement",
            payments.unmatched.len()
        ));
    }
    text
}

/// The disputes in words: `1 opened, 0 open`.
pub(crate) fn disputes_summary_text(sections: &Sections) -> String {
    let open = sections
        .disputes
        .iter()
        .filter(|d| d.resolution.is_none() && !d.retracted)
        .count();
    format!("{} opened, {open} open", sections.disputes.len())
}

/// Opens a section with its heading and introduction, and a table with its caption.
fn open_table(html: &mut String, caption: &str, names: &[&str]) {
    let _ = write!(
        html,
        "<div class=\"wide\"><table>\n<caption>{}</caption>\n",
        escape(caption)
    );
    head_row(html, names);
    html.push_str("<tbody>\n");
}

fn close_table(html: &mut String) {
    html.push_str("</tbody></table></div>\n");
}

/// A row of cells; a cell starting with `#` is numeric. The cells are HTML already.
fn row(html: &mut String, cells: &[String]) {
    html.push_str("<tr>");
    for cell in cells {
        match cell.strip_prefix('#') {
            Some(cell) => {
                let _ = write!(html, "<td class=\"num\">{cell}</td>");
            }
            None => {
                let _ = write!(html, "<td>{cell}</td>");
            }
        }
    }
    html.push_str("</tr>\n");
}

fn terms_section(html: &mut String, sections: &Sections, contract: &str) {
    let terms = &sections.terms;
    let _ = write!(
        html,
        "<section id=\"terms\" class=\"table\">\n<h2>Terms and amendments</h2>\n\
         <p>The terms in force: {}.</p>\n<p>Each version of the terms of {}, the registration \
         and every amendment, by the date it governs from. A version governs until the day \
         before the next one's effective date; the hash is the one its event records, which \
         the ledger admitted only as the BLAKE3 hash of the text.</p>\n",
        escape(&terms_in_force_text(sections)),
        escape(contract),
    );
    open_table(
        html,
        "Terms versions",
        &[
            "#seq",
            "version",
            "recorded on",
            "recorded by",
            "effective from",
            "governs until",
            "terms hash",
            "status",
        ],
    );
    for v in &terms.versions {
        let status = if v.retracted {
            format!("{} (its event was retracted)", v.status.as_str())
        } else {
            v.status.as_str().to_owned()
        };
        let class = match v.status {
            super::VersionStatus::InForce => "good",
            _ => "",
        };
        row(
            html,
            &[
                format!("#{}", v.seq),
                (if v.amendment {
                    "amendment"
                } else {
                    "registration"
                })
                .to_owned(),
                v.recorded_on.map_or_else(String::new, |d| d.to_string()),
                escape(v.by.as_deref().unwrap_or("")),
                v.effective_from.to_string(),
                v.until.map_or_else(String::new, |d| d.to_string()),
                format!(
                    "<span class=\"hash\">{}</span>",
                    v.hash.map_or_else(String::new, |h| pbr_core::ids::hex(&h))
                ),
                format!("<span class=\"{class}\">{}</span>", escape(&status)),
            ],
        );
    }
    close_table(html);
    html.push_str("</section>\n");
}

fn payments_section(html: &mut String, sections: &Sections, currency: Currency) {
    let payments = &sections.payments;
    let money = |minor: i128| format!("#{}", format_minor(minor, currency));
    let _ = write!(
        html,
        "<section id=\"payments\" class=\"table\">\n<h2>Statements and payments</h2>\n\
         <p>Each issued statement against the payments recorded for it, in {}. A statement \
         calls, per pair of parties, for the net of its lines that move money between them. \
         A <code>payment-recorded</code> that names the statement counts toward it in full; \
         one that names none is allocated oldest statement first, to the statements issued \
         before it that still call for money from its payer to its payee. A statement is paid \
         when every pair got exactly its due, outstanding when some pair got less, overpaid \
         when none got less and some got more. Late: {}.</p>\n",
        currency.code(),
        escape(LATE_NOT_ASSESSED),
    );
    if payments.statements.is_empty() {
        html.push_str("<p>No statement has been issued yet.</p>\n");
    } else {
        open_table(
            html,
            "Issued statements and their payments",
            &[
                "#seq",
                "period",
                "status",
                "#due",
                "#paid",
                "#outstanding",
                "#overpaid",
                "last paid",
                "late",
            ],
        );
        for s in &payments.statements {
            let status = s.status();
            let class = match status {
                PaymentStatus::Paid | PaymentStatus::NothingDue => "good",
                PaymentStatus::Outstanding | PaymentStatus::NotAssessed => "bad",
                PaymentStatus::Overpaid => "warn",
            };
            let status_text = match &s.pairs {
                Err(reason) => format!("{}: {reason}", status.as_str()),
                Ok(_) => status.as_str().to_owned(),
            };
            row(
                html,
                &[
                    format!("#{}", s.seq),
                    s.period.to_string(),
                    format!("<span class=\"{class}\">{}</span>", escape(&status_text)),
                    money(s.due()),
                    money(s.paid()),
                    money(s.outstanding()),
                    money(s.overpaid()),
                    s.last_paid().map_or_else(String::new, |d| d.to_string()),
                    "not assessed".to_owned(),
                ],
            );
        }
        close_table(html);
        open_table(
            html,
            "Per pair of parties",
            &[
                "#statement",
                "period",
                "payer",
                "payee",
                "#due",
                "#paid",
                "#remaining",
                "status",
            ],
        );
        for s in &payments.statements {
            for pair in s.pairs.as_deref().unwrap_or_default() {
                row(
                    html,
                    &[
                        format!("#{}", s.seq),
                        s.period.to_string(),
                        escape(&pair.from),
                        escape(&pair.to),
                        money(pair.due),
                        money(pair.paid),
                        money(pair.remaining()),
                        pair.status().as_str().to_owned(),
                    ],
                );
            }
        }
        close_table(html);
        let matched: Vec<_> = payments
            .statements
            .iter()
            .flat_map(|s| s.payments.iter().map(move |p| (s, p)))
            .collect();
        if matched.is_empty() {
            html.push_str("<p>No payment is matched to a statement.</p>\n");
        } else {
            open_table(
                html,
                "Payments matched to statements",
                &[
                    "#payment seq",
                    "date",
                    "payer",
                    "payee",
                    "#amount",
                    "#statement",
                    "matched",
                ],
            );
            for (s, p) in matched {
                row(
                    html,
                    &[
                        format!("#{}", p.seq),
                        p.date.to_string(),
                        escape(&p.from),
                        escape(&p.to),
                        money(p.amount),
                        format!("#{}", s.seq),
                        (if p.named {
                            "names the statement"
                        } else {
                            "oldest first"
                        })
                        .to_owned(),
                    ],
                );
            }
            close_table(html);
        }
    }
    if payments.unmatched.is_empty() {
        html.push_str("<p>Every payment recorded is matched to a statement.</p>\n");
    } else {
        open_table(
            html,
            "Payments not matched to a statement",
            &["#payment seq", "date", "payer", "payee", "#amount", "why"],
        );
        for u in &payments.unmatched {
            row(
                html,
                &[
                    format!("#{}", u.seq),
                    u.date.to_string(),
                    escape(&u.from),
                    escape(&u.to),
                    format!(
                        "#{} {}",
                        format_minor(u.amount, u.currency),
                        u.currency.code()
                    ),
                    escape(&u.why),
                ],
            );
        }
        close_table(html);
    }
    html.push_str("</section>\n");
}

fn disputes_section(html: &mut String, sections: &Sections) {
    html.push_str(
        "<section id=\"disputes\" class=\"table\">\n<h2>Disputes</h2>\n<p>Each dispute opened \
         in the contract, with the evidence attached to it (by the BLAKE3 hash of the \
         document, which stays outside the ledger) and its resolution.</p>\n",
    );
    if sections.disputes.is_empty() {
        html.push_str("<p>No dispute has been opened.</p>\n</section>\n");
        return;
    }
    open_table(
        html,
        "Disputes",
        &[
            "#seq",
            "opened on",
            "opened by",
            "about",
            "reason",
            "evidence",
            "resolution",
            "status",
        ],
    );
    for d in &sections.disputes {
        let evidence = d
            .evidence
            .iter()
            .map(|e| {
                format!(
                    "seq {}, {}, by {}: <span class=\"hash\">{}</span>",
                    e.seq,
                    e.on,
                    escape(&e.by),
                    pbr_core::ids::hex(&e.hash)
                )
            })
            .collect::<Vec<_>>()
            .join("<br>");
        let resolution = d.resolution.as_ref().map_or_else(String::new, |r| {
            format!(
                "{}: seq {}, {}, by {}",
                escape(&r.resolution),
                r.seq,
                r.on,
                escape(&r.by)
            )
        });
        let class = if d.resolution.is_none() && !d.retracted {
            "warn"
        } else {
            ""
        };
        row(
            html,
            &[
                format!("#{}", d.seq),
                d.opened_on.to_string(),
                escape(&d.by),
                escape(&d.about.text()),
                escape(&d.reason),
                if evidence.is_empty() {
                    "none".to_owned()
                } else {
                    evidence
                },
                resolution,
                format!("<span class=\"{class}\">{}</span>", escape(&d.status())),
            ],
        );
    }
    close_table(html);
    html.push_str("</section>\n");
}

fn corrections_section(html: &mut String, sections: &Sections) {
    html.push_str(
        "<section id=\"corrections\" class=\"table\">\n<h2>Corrections</h2>\n<p>Each event \
         retracted in the contract, and why. A retracted event stays in the log; the replay \
         skips it, and the next statement adjusts what it changed.</p>\n",
    );
    if sections.corrections.is_empty() {
        html.push_str("<p>No correction has been recorded.</p>\n</section>\n");
        return;
    }
    open_table(
        html,
        "Corrections",
        &["#seq", "date", "recorded by", "retracts", "reason"],
    );
    for c in &sections.corrections {
        row(
            html,
            &[
                format!("#{}", c.seq),
                c.on.to_string(),
                escape(&c.by),
                escape(&c.retracts.text()),
                escape(&c.reason),
            ],
        );
    }
    close_table(html);
    html.push_str("</section>\n");
}

fn statements_section(html: &mut String, recomputed: &Recomputed) {
    html.push_str(
        "<section id=\"statements\">\n<h2>Issued statements</h2>\n<p>Each statement issued \
         for the contract, recomputed from the log before its <code>settlement-issued</code> \
         event and the terms in force then, and its hash compared with the one its issuer \
         recorded.</p>\n",
    );
    if recomputed.statements.is_empty() {
        html.push_str("<p>No statement has been issued yet.</p>\n</section>\n");
        return;
    }
    html.push_str("<div class=\"wide\"><table>\n");
    head_row(
        html,
        &[
            "#seq",
            "period",
            "recorded hash",
            "recomputed hash",
            "match",
        ],
    );
    html.push_str("<tbody>\n");
    for s in &recomputed.statements {
        let (recomputed_hash, verdict) = match &s.recomputed {
            Ok(hash) if s.matches() => (
                pbr_core::ids::hex(hash),
                "<span class=\"good\">yes</span>".to_owned(),
            ),
            Ok(hash) => (
                pbr_core::ids::hex(hash),
                "<span class=\"bad\">NO: differs</span>".to_owned(),
            ),
            Err(reason) => (
                String::new(),
                format!(
                    "<span class=\"bad\">NO: cannot be recomputed: {}</span>",
                    escape(reason)
                ),
            ),
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"num\">{}</td><td class=\"nowrap\">{}</td><td class=\"hash\">{}</td>\
             <td class=\"hash\">{}</td><td>{}</td></tr>",
            s.seq,
            s.period,
            pbr_core::ids::hex(&s.recorded),
            recomputed_hash,
            verdict,
        );
    }
    html.push_str("</tbody></table></div>\n</section>\n");
}

fn balances_section(html: &mut String, figures: &Figures, recomputed: &Recomputed) {
    let _ = write!(
        html,
        "<section id=\"balances\" class=\"table\">\n<h2>Balances per party</h2>\n\
         <p>After all {} events, in {}, as <code>pbr balance</code> computes them: by double \
         entry over the issued statements and the recorded money. One column per party, so \
         that the table fits a page.</p>\n\
         <div class=\"wide\"><table>\n",
        recomputed.log_position,
        recomputed.currency.code(),
    );
    let mut names = vec![String::new()];
    names.extend(figures.balances.iter().map(|b| format!("#{}", b.party)));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    head_row(html, &names);
    html.push_str("<tbody>\n");
    for column in &BALANCE_COLUMNS {
        let _ = write!(html, "<tr><th scope=\"row\">{}</th>", escape(column.name));
        for balance in &figures.balances {
            let _ = write!(
                html,
                "<td class=\"num\">{}</td>",
                amount((column.field)(balance))
            );
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n</section>\n");
}

/// A chart's data, as a table under a closed `<details>`.
fn data_table(html: &mut String, periods: &[String], columns: &[(String, Vec<String>)]) {
    html.push_str("<details><summary>The values</summary><div class=\"wide\"><table>\n");
    let mut names = vec!["period".to_owned()];
    names.extend(columns.iter().map(|(name, _)| format!("#{name}")));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    head_row(html, &names);
    html.push_str("<tbody>\n");
    for (i, period) in periods.iter().enumerate() {
        let _ = write!(html, "<tr><td class=\"nowrap\">{}</td>", escape(period));
        for (_, values) in columns {
            let value = values.get(i).map_or("", String::as_str);
            let _ = write!(html, "<td class=\"num\">{}</td>", escape(value));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div></details>\n");
}

fn figure(html: &mut String, chart: &Chart<'_>, caption: &str, data: &[(String, Vec<String>)]) {
    let _ = write!(
        html,
        "<figure>\n<h3>{}</h3>\n{}\n<figcaption>{}</figcaption>\n",
        escape(chart.title),
        chart.render(),
        caption,
    );
    data_table(html, chart.periods, data);
    html.push_str("</figure>\n");
}

fn charts_section(html: &mut String, charts: &Charts) {
    html.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    if charts.periods.is_empty() {
        html.push_str(
            "<p>Nothing has been settled or paid yet, so there is nothing to chart.</p>\n\
             </section>\n",
        );
        return;
    }
    let currency = charts.currency;
    let periods: Vec<String> = charts.periods.iter().map(ToString::to_string).collect();
    let formatted = |values: &[i64]| values.iter().map(|v| money(*v, currency)).collect();
    let code = currency.code();

    // 1. Settled and paid per party; a party keeps its colour in both series.
    let colour_of = |party: &str| {
        charts
            .settled
            .iter()
            .position(|s| s.name == party)
            .unwrap_or(charts.settled.len())
    };
    let mut lines: Vec<Line<'_>> = charts
        .settled
        .iter()
        .map(|s| Line {
            label: format!("{}: settled", s.name),
            values: &s.values,
            dashed: false,
            colour: colour_of(&s.name),
        })
        .collect();
    lines.extend(charts.paid.iter().map(|s| Line {
        label: format!("{}: paid", s.name),
        values: &s.values,
        dashed: true,
        colour: colour_of(&s.name),
    }));
    let title =
        format!("Cumulative settled (solid) and recorded payments (dashed) per party, {code}");
    let chart = Chart {
        id: "chart-settled",
        title: &title,
        unit: Unit::Money(currency),
        periods: &periods,
        lines,
    };
    let payments = if charts.paid.is_empty() {
        "No payment has been recorded (<code>payment-recorded</code> or \
         <code>guarantee-called</code>), so there is no dashed line: every party's paid is \
         0.00."
    } else {
        "Dashed: the <code>payment-recorded</code> and <code>guarantee-called</code> amounts, \
         cumulative by business date, + received and − paid; the last value is the party's \
         paid."
    };
    let caption = format!(
        "Solid: what the issued statements settled for each party (what it receives less what \
         it pays), cumulative at each statement's period; the last value is the party's \
         accrued. {payments}"
    );
    let mut data: Vec<(String, Vec<String>)> = charts
        .settled
        .iter()
        .map(|s| (format!("{} settled", s.name), formatted(&s.values)))
        .collect();
    data.extend(
        charts
            .paid
            .iter()
            .map(|s| (format!("{} paid", s.name), formatted(&s.values))),
    );
    figure(html, &chart, &caption, &data);

    // 2. The facility and the guarantee.
    let title = format!("Facility outstanding (solid) and guarantee exposure (dashed), {code}");
    if charts.facility.is_empty() && charts.exposure.is_empty() {
        let _ = writeln!(
            html,
            "<h3>{}</h3>\n<p>The issued statements settle no facility and state no guarantee \
             exposure.</p>",
            escape(&title)
        );
    } else {
        let labels: Vec<String> = charts
            .facility
            .iter()
            .map(|f| format!("outstanding, {} to {}", f.lender, f.borrower))
            .collect();
        let mut lines: Vec<Line<'_>> = charts
            .facility
            .iter()
            .zip(&labels)
            .enumerate()
            .map(|(i, (f, label))| Line {
                label: label.clone(),
                values: &f.values,
                dashed: false,
                colour: i,
            })
            .collect();
        lines.extend(charts.exposure.iter().enumerate().map(|(i, s)| Line {
            label: format!("exposure of {}", s.name),
            values: &s.values,
            dashed: true,
            colour: charts.facility.len() + i,
        }));
        let chart = Chart {
            id: "chart-facility",
            title: &title,
            unit: Unit::Money(currency),
            periods: &periods,
            lines,
        };
        let caption = "Solid: the facility's balance outstanding at each period's end, the \
                       settled <code>facility:draw</code> less <code>facility:repayment</code> \
                       and <code>facility:write-off</code> amounts by the period they accrue \
                       to, as the issued statements settle them now. Dashed: what each issued \
                       statement says the guarantor stands to lose, until the next one.";
        let mut data: Vec<(String, Vec<String>)> = charts
            .facility
            .iter()
            .zip(labels)
            .map(|(f, label)| (label, formatted(&f.values)))
            .collect();
        data.extend(
            charts
                .exposure
                .iter()
                .map(|s| (format!("exposure of {}", s.name), formatted(&s.values))),
        );
        figure(html, &chart, caption, &data);
    }

    // 3. Achievers.
    let chart = Chart {
        id: "chart-achievers",
        title: "Participants with a paid outcome, cumulative",
        unit: Unit::Count,
        periods: &periods,
        lines: vec![Line {
            label: "participants with a paid outcome".to_owned(),
            values: &charts.achievers,
            dashed: false,
            colour: 2,
        }],
    };
    let caption = "The participants whose settled <code>outcome:*</code>, \
                   <code>clawback:*</code> and <code>sustainment:*</code> amounts through the \
                   period add up to more than zero. An outcome accepted but capped to 0.00 is \
                   not counted here; the INDIGO export counts it.";
    let data = [(
        "participants".to_owned(),
        charts.achievers.iter().map(|n| n.to_string()).collect(),
    )];
    figure(html, &chart, caption, &data);
    html.push_str("</section>\n");
}
