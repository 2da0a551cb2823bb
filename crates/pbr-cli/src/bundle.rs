//! `pbr bundle` writes a dispute bundle and `pbr bundle verify` checks one
//! (`docs/format.md` §10, `docs/disputes.md`).
//!
//! Verifying opens no ledger: a bundle is checked from its own text and the keys given with
//! `--key`. A bundle that does not hold is exit code 5 with its first failure; a file that
//! cannot be read as a bundle is exit code 3.

use std::path::{Path, PathBuf};

use anyhow::Result;
use pbr_ledger::bundle::{Bundle, BundleAbout, BundleError, BundleReport, KeysUsed};
use pbr_ledger::{LedgerError, SignedCheckpoint};
use serde_json::json;

use crate::atomic::{Existing, write_file};
use crate::cli::{BundleArgs, BundleCommand};
use crate::commands::{input, open, parse_verifier_keys};
use crate::output::{hex, outln, print_json};

pub(crate) fn run(ledger_dir: Option<PathBuf>, args: BundleArgs, json: bool) -> Result<()> {
    match args.command {
        Some(BundleCommand::Verify { file, keys, policy }) => {
            verify(&file, &crate::commands::with_policy(keys, policy)?, json)
        }
        Some(BundleCommand::Show {
            file,
            format,
            out,
            force,
            keys,
            policy,
        }) => show(
            &file,
            &crate::commands::with_policy(keys, policy)?,
            format,
            out.map(|path| (path, Existing::forced(force))),
        ),
        None => write(ledger_dir, args, json),
    }
}

/// `pbr bundle (--participant P | --settlement S) --out FILE`.
fn write(ledger_dir: Option<PathBuf>, args: BundleArgs, json: bool) -> Result<()> {
    // clap requires --out and one of --participant and --settlement without a subcommand.
    let out = args
        .out
        .ok_or_else(|| input("pbr bundle needs --out FILE"))?;
    let mut ledger = open(ledger_dir)?;
    let participant = crate::commands::participant_of(&mut ledger, &args.who)?;
    let about = match (participant, args.settlement) {
        (Some(participant), _) => BundleAbout::Participant {
            contract: crate::report::contract_of(ledger.state()?, args.contract)?,
            participant,
        },
        (None, Some(seq)) => BundleAbout::Settlement {
            seq,
            contract: args.contract,
        },
        (None, None) => return Err(input("give --participant P or --settlement SEQ")),
    };
    let bundle = ledger.bundle(&about)?;
    let (tree_size, signers) = checkpoint_of(&bundle)?;
    write_file(
        &out,
        bundle.to_text()?.as_bytes(),
        Existing::forced(args.force),
    )?;
    let size = bundle.records.len();
    if json {
        print_json(&json!({
            "ok": true,
            "out": out,
            "records": size,
            "statements": bundle.statements.iter().map(|s| s.seq).collect::<Vec<_>>(),
            "checkpoint": {"size": tree_size, "signed_by": signers},
        }));
    } else {
        outln!(
            "wrote the dispute bundle of {} to {}: {size} records, {} statement(s), proven \
             against the checkpoint of size {} signed by {}",
            describe(&bundle.request),
            out.display(),
            bundle.statements.len(),
            tree_size,
            signers.join(", ")
        );
        outln!(
            "check it with: pbr bundle verify {} --policy <the contract's tlog-policy, from the parties>",
            out.display()
        );
    }
    Ok(())
}

/// The checkpoint's size and signers as `name+keyid`, as the note names them (unverified
/// here: the builder verified the bundle before handing it over).
fn checkpoint_of(bundle: &Bundle) -> Result<(u64, Vec<String>)> {
    let note = SignedCheckpoint::parse(&bundle.checkpoint)
        .map_err(|e| anyhow::anyhow!("the bundle's own checkpoint does not parse: {}", e.0))?;
    let signers = note
        .signatures
        .iter()
        .map(|s| format!("{}+{}", s.name, pbr_log::hex::encode(&s.key_id)))
        .collect();
    Ok((note.checkpoint.size, signers))
}

/// "participant <hex> of contract C" or "the statement issued at seq S of contract C".
fn describe(request: &pbr_ledger::bundle::Request) -> String {
    match (&request.participant, request.settlement) {
        (Some(p), _) => format!("participant {p} of contract {}", request.contract),
        (None, Some(seq)) => format!(
            "the statement issued at seq {seq} of contract {}",
            request.contract
        ),
        (None, None) => format!("contract {}", request.contract),
    }
}

/// `pbr bundle show FILE [--format text|html] [--out FILE]`: verifies, then renders; a
/// bundle that fails is rendered as a failure (and written, with --out) and exits 5.
fn show(
    file: &Path,
    keys: &[String],
    format: crate::cli::ShowFormat,
    out: Option<(PathBuf, Existing)>,
) -> Result<()> {
    let trusted = parse_verifier_keys(keys)?;
    if let Some((path, existing)) = &out {
        crate::atomic::check_target(path, *existing)?;
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| input(format!("{}: cannot read: {e}", file.display())))?;
    let verified = pbr_ledger::bundle::verify(&text, (!trusted.is_empty()).then_some(&trusted));
    let failure = match &verified {
        Ok(_) => None,
        Err(BundleError::Unreadable(reason)) => {
            return Err(input(format!("{}: {reason}", file.display())));
        }
        Err(BundleError::Failed(reason)) => Some(reason.clone()),
    };
    // The page names what the bundle says it is about; it shows its content only if it
    // verified (`bundle_page`).
    let bundle: Option<Bundle> = serde_json::from_str(&text).ok();
    let checked = match (&verified, &failure) {
        (Ok(report), _) => Ok(report),
        (_, Some(reason)) => Err(reason.as_str()),
        // A bundle either verified or failed: `failure` is set exactly when it failed.
        (Err(_), None) => Err("the bundle did not verify"),
    };
    let page = match format {
        crate::cli::ShowFormat::Text => crate::bundle_page::to_text(bundle.as_ref(), checked),
        crate::cli::ShowFormat::Html => crate::bundle_page::to_html(bundle.as_ref(), checked),
    };
    match &out {
        Some((path, existing)) => write_file(path, page.as_bytes(), *existing)?,
        None => crate::output::out!("{page}"),
    }
    let quorum_missing = verified
        .as_ref()
        .ok()
        .filter(|report| report.keys == KeysUsed::Given)
        .and_then(|report| report.quorum.as_ref())
        .is_some_and(|(_, missing)| !missing.is_empty());
    if let Some(reason) = failure {
        return Err(LedgerError::Mismatch(format!("{}: {reason}", file.display())).into());
    }
    if quorum_missing {
        return Err(LedgerError::Mismatch(format!(
            "{}: the checkpoint lacks the contract's quorum under the keys given",
            file.display()
        ))
        .into());
    }
    Ok(())
}

/// `pbr bundle verify FILE [--key VKEY …]`.
fn verify(file: &Path, keys: &[String], json: bool) -> Result<()> {
    let trusted = parse_verifier_keys(keys)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| input(format!("{}: cannot read: {e}", file.display())))?;
    let report = pbr_ledger::bundle::verify(&text, (!trusted.is_empty()).then_some(&trusted))
        .map_err(|e| match e {
            BundleError::Unreadable(reason) => input(format!("{}: {reason}", file.display())),
            BundleError::Failed(reason) => {
                LedgerError::Mismatch(format!("{}: {reason}", file.display())).into()
            }
        })?;
    if json {
        print_json(&report_json(&report));
    } else {
        print_report(&report);
    }
    Ok(())
}

fn report_json(report: &BundleReport) -> serde_json::Value {
    json!({
        "ok": true,
        "request": {
            "contract": report.request.contract,
            "participant": report.request.participant,
            "settlement": report.request.settlement,
        },
        "origin": report.origin,
        "records": report.records,
        "checkpoint": {
            "size": report.tree_size,
            "root": hex(&report.root),
            "signed_by": report.signed_by,
        },
        "checkpoint_keys": match report.keys {
            KeysUsed::Given => "given",
            KeysUsed::Bundle => "bundle",
        },
        "quorum": report.quorum.as_ref().map(|(signers, missing)| json!({
            "signers": signers, "met": missing.is_empty(), "missing": missing,
        })),
        "terms": report.terms.iter().map(|(seq, hash)| json!({
            "seq": seq, "terms_hash": hash,
        })).collect::<Vec<_>>(),
        "statements": report.statements.iter().map(|s| json!({
            "seq": s.seq,
            "period": s.period,
            "hash": s.hash,
            "lines_explained": s.lines_explained,
            "cited": s.cited,
        })).collect::<Vec<_>>(),
    })
}

fn print_report(report: &BundleReport) {
    outln!(
        "ok: the dispute bundle of {} (ledger {})",
        describe(&report.request),
        report.origin
    );
    outln!(
        "  {} records, each signed by its author's key and included in the checkpoint of \
         size {} (root {})",
        report.records,
        report.tree_size,
        hex(&report.root)
    );
    outln!("  checkpoint signed by {}", report.signed_by.join(", "));
    if let Some((_, missing)) = &report.quorum {
        if missing.is_empty() {
            outln!("  quorum of {} met", report.request.contract);
        } else {
            outln!(
                "  quorum of {} not met: missing {}",
                report.request.contract,
                missing.join(", ")
            );
        }
    }
    for (seq, hash) in &report.terms {
        outln!("  terms at seq {seq}: terms_hash {hash} is the BLAKE3 hash of the terms");
    }
    for s in &report.statements {
        outln!(
            "  statement {} (seq {}): hash {} is the one its record signs; {} line(s) \
             explained, {} cited record(s) present",
            s.period,
            s.seq,
            s.hash,
            s.lines_explained,
            s.cited
        );
    }
    if report.keys == KeysUsed::Bundle {
        outln!(
            "note: the checkpoint's signatures were checked against the keys inside the bundle, \
             which are not a trust anchor; pass --policy (or --key with the log key and the \
             quorum's witness keys) to check against keys you got from the parties"
        );
    }
}
