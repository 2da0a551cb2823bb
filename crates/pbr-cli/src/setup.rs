//! Commands that set things up without a ledger: a pseudonym secret, a check of contract
//! terms, shell completions and manual pages (`docs/cli.md`, "Setting up").

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};
use clap::CommandFactory as _;
use serde_json::json;

use crate::atomic::{Existing, OutFile};
use crate::commands::input;
use crate::output::{outln, print_json};

/// `pbr secret new [FILE]`: 32 random bytes as 64 lowercase hex digits and a newline, in a
/// new file of mode 0600. The whole file is the secret (`docs/format.md`, participant
/// references), so the text form is as strong as the bytes and survives copying.
pub(crate) fn secret_new(file: Option<PathBuf>, json: bool) -> Result<()> {
    let file = file.unwrap_or_else(|| PathBuf::from("pseudonym.secret"));
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("cannot read randomness: {e}"))?;
    let mut text = pbr_core::ids::hex(&bytes);
    text.push('\n');
    // It must be a secret the ledger accepts.
    pbr_core::cpr::PseudonymKey::from_secret(text.as_bytes())
        .map_err(|e| anyhow!("the new secret is refused: {}", e.reason))?;
    // Whole or not at all, mode 0600 from the start, and never over an existing secret:
    // whoever holds one can link references to citizens, and a new one would give every
    // citizen a new reference.
    let mut out = OutFile::create_private(&file, Existing::Never)?;
    out.write_all(text.as_bytes())
        .with_context(|| format!("{}: cannot write the secret", file.display()))?;
    out.commit()?;
    if json {
        print_json(&json!({"ok": true, "file": file}));
    } else {
        outln!(
            "pseudonym secret written to {} (mode 0600): keep it outside the ledger, and give it \
             with --secret-file to commands that take --cpr",
            file.display()
        );
    }
    Ok(())
}

/// `pbr contract check TERMS.toml`: every check a registration makes of the terms
/// themselves (the schema's and the cross-checks of `docs/contracts.md`), without a ledger.
pub(crate) fn contract_check(path: &Path, json: bool) -> Result<()> {
    let text =
        std::fs::read_to_string(path).map_err(|e| input(format!("{}: {e}", path.display())))?;
    let file = path.display().to_string();
    let terms = pbr_core::terms::parse(&file, &text).map_err(|e| input(e.to_string()))?;
    let hash = pbr_core::ids::hex(blake3::hash(text.as_bytes()).as_bytes());
    let c = &terms.contract;
    if json {
        print_json(&json!({
            "ok": true,
            "file": file,
            "contract": c.id,
            "currency": c.currency.to_string(),
            "parties": terms.parties.len(),
            "outcomes": terms.outcomes.len(),
            "terms_hash": hash,
        }));
    } else {
        outln!(
            "ok: {file}: contract {} ({}), {} to {}, {} parties, {} outcomes; terms hash {hash}",
            c.id,
            c.currency,
            c.start.0,
            c.end.0,
            terms.parties.len(),
            terms.outcomes.len()
        );
    }
    Ok(())
}

/// `pbr completions SHELL`: the script on standard output.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut command = crate::cli::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "pbr", &mut script);
    std::io::stdout()
        .write_all(&script)
        .context("cannot write the completion script")?;
    Ok(())
}

/// `pbr man --out DIR`: `pbr.1` and `pbr-<command>.1` for every command, as `clap_mangen`
/// writes them from the same grammar `--help` prints.
pub(crate) fn man(dir: &Path, json: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| input(format!("{}: {e}", dir.display())))?;
    let command = crate::cli::Cli::command();
    clap_mangen::generate_to(command, dir)
        .with_context(|| format!("{}: cannot write the manual pages", dir.display()))?;
    let mut pages: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list the manual pages", dir.display()))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("pbr") && name.ends_with(".1"))
        .collect();
    pages.sort();
    if json {
        print_json(&json!({"ok": true, "dir": dir, "pages": pages}));
    } else {
        outln!("{} manual pages written to {}", pages.len(), dir.display());
    }
    Ok(())
}
