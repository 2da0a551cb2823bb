//! `pbr`, the command line of the outcomes-contract ledger.
//!
//! Architecture invariant: this crate holds no business logic. It parses arguments, reads
//! the clock, the environment and key files, calls `pbr-ledger`, and formats the answer as
//! a human table or, with `--json`, as JSON. Errors become one line and an exit code from
//! [`exit_code`].

mod atomic;
mod bundle;
mod cli;
mod commands;
pub mod exit_code;
mod output;
mod record;
mod report;
mod settlement;
mod setup;

use clap::Parser as _;

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => usage_error(error),
    };
    let json = cli.json;
    let code = match commands::run(cli) {
        Ok(()) => exit_code::OK,
        Err(error) => {
            let code = commands::exit_code_of(&error);
            if json {
                output::print_json(&serde_json::json!({
                    "ok": false,
                    "exit_code": code,
                    "error": output::one_line(&error),
                }));
            }
            eprintln!("pbr: error: {}", output::one_line(&error));
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
