//! `pbr serve` and `pbr serve token`: the CLI side of the server (`docs/protocol.md`).
//!
//! What only the CLI may do lives here: reading the log key file, the wall clock, the
//! signals that stop the server, randomness for tokens, and the log lines on standard error.
//! The server itself is `pbr-server`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::json;

use crate::atomic::{Existing, OutFile};
use crate::cli::{ServeArgs, ServeCommand};
use crate::commands::{input, ledger_dir, read_signer_key};
use crate::output::{outln, print_json};

pub(crate) fn run(ledger: Option<PathBuf>, args: ServeArgs, json: bool) -> Result<()> {
    let dir = ledger_dir(ledger)?;
    if let Some(ServeCommand::Token { party, operator }) = args.command {
        return token(&dir, &party, operator, json);
    }
    let (Some(listen), Some(log_key)) = (args.listen, args.log_key) else {
        return Err(input("pbr serve needs --listen ADDR and --log-key FILE"));
    };
    let log_key = read_signer_key(&log_key)?;
    let max_body = usize::try_from(args.max_body)
        .map_err(|_| input("--max-body is larger than this machine can address"))?;
    let config = pbr_server::Config {
        ledger: dir,
        listen,
        log_key,
        checkpoint_every: Duration::from_secs(args.checkpoint_every),
        max_body,
        timeout: Duration::from_secs(args.timeout),
        rate: args.rate,
        clock: Arc::new(wall_clock_micros),
    };
    // Log lines go to standard error; standard output carries only the first line.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
    let announced = pbr_server::run(
        config,
        |address| {
            let mut out = std::io::stdout().lock();
            // A reader that went away does not stop the server: its log is on stderr.
            let _ = writeln!(out, "listening on http://{address}").and_then(|()| out.flush());
        },
        stop_signal(),
    );
    match announced {
        Ok(()) => Ok(()),
        Err(pbr_server::ServerError::Ledger(error)) => Err(error.into()),
        Err(error) => Err(input(error.to_string())),
    }
}

/// The wall clock in microseconds since the epoch; a clock before 1970 reads as 0, after
/// year 294,247 as the largest time.
fn wall_clock_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}

/// Completes on SIGTERM or SIGINT.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Issues a token: 32 random bytes as 64 hex digits, printed once; its hash is added to
/// `DIR/server/tokens` (mode 0600, rewritten whole through `atomic.rs`).
fn token(dir: &Path, party: &str, operator: bool, json: bool) -> Result<()> {
    if !dir.join("sled").is_dir() {
        return Err(input(format!(
            "no ledger at {} (create one with `pbr init`)",
            dir.display()
        )));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow!("cannot read randomness: {e}"))?;
    let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let role = if operator {
        pbr_server::Role::Operator
    } else {
        pbr_server::Role::Reader
    };
    let line = pbr_server::token_line(party, role, &token).map_err(input)?;
    let path = pbr_server::tokens_path(dir);
    let server_dir = path
        .parent()
        .ok_or_else(|| anyhow!("{}: no parent directory", path.display()))?;
    std::fs::create_dir_all(server_dir)
        .map_err(|e| input(format!("{}: {e}", server_dir.display())))?;
    let mut text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(input(format!("{}: {error}", path.display()))),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&line);
    let mut out = OutFile::create_private(&path, Existing::Replace)?;
    out.write_all(text.as_bytes())?;
    out.commit()?;
    let role = if operator { "operator" } else { "reader" };
    if json {
        print_json(
            &json!({"ok": true, "party": party, "role": role, "token": token, "tokens_file": path}),
        );
    } else {
        outln!("{token}");
        eprintln!(
            "{role} token for {party} added to {} (only its hash is kept; give the line above \
             to {party} now, it is not shown again)",
            path.display()
        );
    }
    Ok(())
}
