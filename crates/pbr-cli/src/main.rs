//! `pbr`, the command line of the outcomes-contract ledger.
//!
//! Architecture invariant: this crate holds no business logic. It parses arguments, reads
//! the clock, the environment and key files, calls `pbr-ledger`, and formats the answer as
//! a human table or, with `--json`, as JSON. Errors become one line and an exit code from
//! [`exit_code`].

mod atomic;
mod bundle;
mod bundle_page;
mod cli;
mod commands;
pub mod exit_code;
mod mirror;
mod netdemo;
mod output;
mod record;
mod report;
mod serve;
mod settlement;
mod setup;
mod submit;

use std::io::Write;
use std::path::PathBuf;

use clap::Parser as _;

/// The ledger directory the command works on, if it names one, for messages about it.
fn ledger_of(cli: &cli::Cli) -> Option<PathBuf> {
    match &cli.command {
        cli::Command::Init { dir, .. }
        | cli::Command::Restore { dir, .. }
        | cli::Command::Migrate { dir } => dir.clone().or_else(|| cli.ledger.clone()),
        cli::Command::Clone { dir, .. } => Some(dir.clone()),
        _ => cli.ledger.clone(),
    }
}

/// Any panic that remains becomes one line and an exit code, never exit 101 and a trace:
/// inside sled (which panics on some damaged files) it is damaged storage, exit 5 with the
/// recovery command; anywhere else it is a bug, exit 255. A panic that `pbr-log` turns into
/// an error itself (opening sled) is left to it.
fn set_panic_hook(json: bool, ledger: Option<PathBuf>) {
    std::panic::set_hook(Box::new(move |info| {
        if pbr_ledger::panic_is_contained() {
            return;
        }
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        let (file, line) = info
            .location()
            .map_or(("unknown", 0), |l| (l.file(), l.line()));
        let (code, error) = if file.contains("/sled-") {
            let dir = ledger
                .as_deref()
                .map_or_else(|| "LEDGER".to_owned(), |d| d.display().to_string());
            (
                exit_code::VERIFY_FAILED,
                format!(
                    "ledger {dir}: its storage is damaged (sled failed reading its files: \
                     {message}); restore it from your latest export with: pbr restore --from \
                     EXPORT.jsonl {dir}"
                ),
            )
        } else {
            (
                exit_code::INTERNAL,
                format!("internal error, a bug: {message} ({file}:{line})"),
            )
        };
        let error = error.replace('\n', " ");
        if json {
            output::print_json(&serde_json::json!({
                "ok": false,
                "exit_code": code,
                "error": error,
            }));
        }
        // Never a second panic here (a closed standard error would make one, and abort).
        let _ = writeln!(std::io::stderr(), "pbr: error: {error}");
        std::process::exit(code);
    }));
}

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => usage_error(error),
    };
    let json = cli.json;
    let ledger = ledger_of(&cli);
    set_panic_hook(json, ledger.clone());
    let result = commands::run(cli);
    for notice in pbr_ledger::notices() {
        let _ = writeln!(std::io::stderr(), "pbr: note: {notice}");
    }
    let code = match result {
        Ok(()) => exit_code::OK,
        Err(mut error) => {
            if let Some(dir) = &ledger {
                commands::name_ledger(&mut error, dir);
            }
            let code = commands::exit_code_of(&error);
            if json {
                output::print_json(&serde_json::json!({
                    "ok": false,
                    "exit_code": code,
                    "error": output::one_line(&error),
                }));
            }
            let _ = writeln!(
                std::io::stderr(),
                "pbr: error: {}",
                output::one_line(&error)
            );
            code
        }
    };
    std::process::exit(code);
}

/// A command line clap refuses: `--help` and `--version` print as usual; a usage error is
/// clap's message and exit code 2, or with `--json` anywhere on the line, one JSON object
/// like every other error's (`docs/cli.md`, "Errors").
fn usage_error(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let json = std::env::args_os().skip(1).any(|arg| arg == "--json");
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if informational {
        error.exit()
    }
    // The error style of every other error: `pbr: error: ` and one line; clap's usage and
    // tips follow on their own lines.
    let text = error.to_string();
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    if json {
        // The first paragraph, on one line (a list of missing arguments follows its colon).
        let paragraph: Vec<&str> = std::iter::once(first)
            .chain(
                text.lines()
                    .skip(1)
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim),
            )
            .collect();
        output::print_json(&serde_json::json!({
            "ok": false,
            "exit_code": exit_code::USAGE,
            "error": paragraph.join(" "),
        }));
    }
    eprintln!("pbr: error: {first}");
    for line in lines {
        eprintln!("{line}");
    }
    std::process::exit(exit_code::USAGE)
}
