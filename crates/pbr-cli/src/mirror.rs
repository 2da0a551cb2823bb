//! `pbr clone`, `pbr pull` and `pbr fork verify`: reads the arguments, the clock and the
//! files, calls `pbr-mirror`, and prints the answer. No rule lives here.

use std::path::{Path, PathBuf};

use anyhow::Result;
use pbr_mirror::{Evidence, MirrorConfig, MirrorError, PullReport};
use serde_json::json;

use crate::commands::{input, ledger_dir, ledger_exit_code, now_micros};
use crate::exit_code;
use crate::output::{hex, outln, print_json, progress};

/// The exit code of a mirror error (`docs/cli.md`, "Exit codes").
pub(crate) fn exit_code(error: &MirrorError) -> i32 {
    match error {
        MirrorError::Config { .. } | MirrorError::Io { .. } => exit_code::INPUT,
        MirrorError::Network(_) => exit_code::NETWORK,
        MirrorError::Tiles(_)
        | MirrorError::Untrusted(_)
        | MirrorError::Rollback { .. }
        | MirrorError::Audit(_) => exit_code::VERIFY_FAILED,
        MirrorError::Fork { .. } | MirrorError::Rule { .. } => exit_code::FORK,
        MirrorError::Ledger(error) => ledger_exit_code(error),
        _ => exit_code::INTERNAL,
    }
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An absolute path, so that a pull from another directory finds the same file.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| input(format!("{}: {e}", path.display())))
}

pub(crate) fn clone(
    url: &str,
    dir: &Path,
    policy: Option<PathBuf>,
    log_key: Option<String>,
    token_file: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let policy_text = match &policy {
        Some(path) => Some(
            std::fs::read_to_string(path).map_err(|e| input(format!("{}: {e}", path.display())))?,
        ),
        None => None,
    };
    let log_key = match (log_key, &policy_text) {
        (Some(key), _) => key,
        (None, Some(text)) => {
            let parsed = pbr_log::policy::Policy::parse(text).map_err(|e| {
                input(format!(
                    "{}: {e}",
                    policy.as_deref().unwrap_or(Path::new("")).display()
                ))
            })?;
            match parsed.logs() {
                [key] => key.to_string(),
                _ => {
                    return Err(input(
                        "the policy must name exactly one log key to clone its log",
                    ));
                }
            }
        }
        (None, None) => return Err(input("give --log-key VKEY or --policy FILE")),
    };
    let config = MirrorConfig {
        url: url.to_owned(),
        origin: String::new(),
        log_key,
        policy: policy_text,
        token_file: token_file.as_deref().map(absolute).transpose()?,
    };
    let bar = progress(json, "pulling");
    let report = pbr_mirror::clone(
        url,
        dir,
        config,
        now_micros()?,
        threads(),
        &mut |what, done, total| {
            bar.set_message(what.to_owned());
            bar.set_length(total);
            bar.set_position(done);
        },
    )?;
    bar.finish_and_clear();
    print_report(dir, &report, json);
    Ok(())
}

pub(crate) fn pull(dir: Option<PathBuf>, json: bool) -> Result<()> {
    let dir = ledger_dir(dir)?;
    let bar = progress(json, "pulling");
    let report = pbr_mirror::pull(&dir, now_micros()?, threads(), &mut |what, done, total| {
        bar.set_message(what.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    print_report(&dir, &report, json);
    Ok(())
}

fn print_report(dir: &Path, report: &PullReport, json: bool) {
    if json {
        print_json(&json!({
            "ok": true,
            "ledger": dir,
            "from": report.from,
            "to": report.to,
            "appended": report.appended,
            "resumed": report.resumed,
            "bundles_fetched": report.bundles_fetched,
            "root": hex(&report.root),
            "statements_audited": report.statements_audited,
            "checkpoint": report.checkpoint,
        }));
        return;
    }
    if report.appended == 0 {
        outln!(
            "up to date: {} records, root {}",
            report.to,
            hex(&report.root)
        );
    } else {
        outln!(
            "pulled {} records ({} to {}; {} bundles fetched{}), root {}",
            report.appended,
            report.from,
            report.to,
            report.bundles_fetched,
            if report.resumed > 0 {
                format!("; {} from an interrupted pull", report.resumed)
            } else {
                String::new()
            },
            hex(&report.root)
        );
    }
    if let Some(count) = report.statements_audited {
        outln!("every issued statement recomputes ({count})");
    }
}

pub(crate) fn fork_verify(
    file: &Path,
    log_key: Option<String>,
    policy: Option<PathBuf>,
    json: bool,
) -> Result<()> {
    let trust = match (log_key, policy) {
        (Some(key), _) => {
            let key =
                pbr_log::VerifierKey::parse(&key).map_err(|e| input(format!("--log-key: {e}")))?;
            pbr_log::policy::Policy::new(key, Vec::new(), None)
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| input(format!("{}: {e}", path.display())))?;
            pbr_log::policy::Policy::parse(&text)
                .map_err(|e| input(format!("{}: {e}", path.display())))?
        }
        (None, None) => return Err(input("give --log-key VKEY or --policy FILE")),
    };
    let text =
        std::fs::read_to_string(file).map_err(|e| input(format!("{}: {e}", file.display())))?;
    let evidence: Evidence = serde_json::from_str(&text)
        .map_err(|e| input(format!("{}: not fork evidence: {e}", file.display())))?;
    match evidence.verify(&trust) {
        Ok(proves) => {
            if json {
                print_json(&json!({"ok": true, "holds": true, "proves": proves}));
            } else {
                outln!("holds: {proves}");
            }
            Ok(())
        }
        Err(reason) => Err(pbr_ledger::LedgerError::Mismatch(format!(
            "{}: the evidence does not hold: {reason}",
            file.display()
        ))
        .into()),
    }
}
