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

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
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
