//! One function per command: read inputs, call the ledger, print the answer.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use pbr_ledger::{
    Cover, KeySource, Keys, Ledger, LedgerError, LogError, Outcome, SignerKey, TrustCheck, Verdict,
    VerifierKey, VerifyOptions,
};
use serde_json::json;

use crate::atomic::{Existing, OutFile};
use crate::cli::{
    CheckpointCommand, Cli, Command, ForkCommand, KeyKind, PartyCommand, ProofArgs, ReportCommand,
    SecretCommand, WitnessCommand,
};
use crate::exit_code;
use crate::output::{hex, out, outln, print_json, progress};

/// Maps an error to its documented exit code.
pub(crate) fn exit_code_of(error: &anyhow::Error) -> i32 {
    if let Some(error) = error.downcast_ref::<pbr_mirror::MirrorError>() {
        return crate::mirror::exit_code(error);
    }
    if let Some(error) = error.downcast_ref::<LedgerError>() {
        return ledger_exit_code(error);
    }
    if let Some(error) = error.downcast_ref::<LogError>() {
        return log_exit_code(error);
    }
    if error.downcast_ref::<InputError>().is_some() {
        return exit_code::INPUT;
    }
    if error.downcast_ref::<crate::submit::ServerError>().is_some() {
        return exit_code::NETWORK;
    }
    if let Some(step) = error.downcast_ref::<crate::netdemo::StepFailed>() {
        return step.code;
    }
    exit_code::INTERNAL
}

/// The exit code of a ledger error.
pub(crate) fn ledger_exit_code(error: &LedgerError) -> i32 {
    {
        match error {
            LedgerError::Log(log) => log_exit_code(log),
            LedgerError::Verify(_) | LedgerError::Mismatch(_) => exit_code::VERIFY_FAILED,
            LedgerError::Note { .. } | LedgerError::Rejected(_) | LedgerError::Domain(_) => {
                exit_code::INPUT
            }
            LedgerError::Projection { .. } => exit_code::VERIFY_FAILED,
            _ => exit_code::INTERNAL,
        }
    }
}

pub(crate) fn log_exit_code(error: &LogError) -> i32 {
    match error {
        LogError::InUse { .. } => exit_code::LEDGER_IN_USE,
        LogError::Corrupt { .. }
        | LogError::Lost { .. }
        | LogError::Inconsistent(_)
        | LogError::BadRecord { .. } => exit_code::VERIFY_FAILED,
        LogError::NoSpace { .. } => exit_code::NO_SPACE,
        // The records do not match the ledger's own format-1 hashes or checkpoints.
        LogError::Migration { .. } => exit_code::VERIFY_FAILED,
        // A ledger of another format is the wrong input for the command: like "no ledger",
        // the message says what to run instead (`pbr migrate`, or a newer pbr).
        LogError::Format1 { .. }
        | LogError::NewerFormat { .. }
        | LogError::TooLargeForFormat2 { .. }
        | LogError::NotALedger { .. }
        | LogError::AlreadyExists { .. }
        | LogError::OutOfRange(_)
        | LogError::Checkpoint(_)
        | LogError::Rejected { .. }
        | LogError::Io { .. } => exit_code::INPUT,
        _ => exit_code::INTERNAL,
    }
}

/// Bad input that is not the ledger's: a missing file, a malformed key, a missing option.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct InputError(String);

pub(crate) fn input(message: impl Into<String>) -> anyhow::Error {
    InputError(message.into()).into()
}

pub(crate) fn run(cli: Cli) -> Result<()> {
    let _ = WAIT.set(std::time::Duration::from_secs(cli.wait));
    let server = match &cli.server {
        Some(url) => {
            // The read credential for receipts: the one given, or the mirror's own.
            let mirror_token = ledger_dir(cli.ledger.clone())
                .ok()
                .and_then(|dir| pbr_mirror::is_mirror(&dir))
                .and_then(|config| config.token_file);
            Some(crate::submit::Server::new(
                url,
                cli.token_file.as_deref().or(mirror_token.as_deref()),
                std::time::Duration::from_secs(cli.receipt_wait),
            )?)
        }
        None => None,
    };
    let _ = crate::submit::SERVER.set(server);
    let json = cli.json;
    match cli.command {
        Command::Init { dir, origin } => init(dir.or(cli.ledger), origin, json),
        Command::Verify {
            incremental,
            threads,
            keys,
            policy,
        } => verify(
            &mut open_to_verify(cli.ledger)?,
            incremental,
            threads,
            &with_policy(keys, policy)?,
            json,
        ),
        Command::Export {
            tiles: Some(dir), ..
        } => export_tiles(&mut open(cli.ledger)?, &dir, json),
        Command::Export { out, force, .. } => {
            export(&mut open(cli.ledger)?, out, Existing::forced(force), json)
        }
        Command::Proof(args) => proof(&open(cli.ledger)?, args, json),
        Command::Checkpoint(command) => checkpoint(cli.ledger, command, json),
        Command::Party(PartyCommand::Keygen { name, kind, out }) => keygen(&name, kind, out, json),
        Command::Witness(command) => witness(cli.ledger, command, json),
        Command::Party(PartyCommand::Add {
            party,
            role,
            vkey,
            basic,
        }) => crate::record::party_add(cli.ledger, party, role, vkey, basic.into(), json),
        Command::Contract(command) => crate::record::contract(cli.ledger, command, json),
        Command::Import {
            files,
            keys,
            secret_file,
        } => crate::record::import(cli.ledger, &files, &keys, secret_file.as_deref(), json),
        Command::Log(args) => crate::record::log(cli.ledger, args, json),
        Command::Fact(fact) => crate::record::fact(cli.ledger, fact, json),
        Command::Settle {
            contract,
            period,
            issue,
            key,
        } => crate::settlement::settle(
            cli.ledger,
            contract,
            &period,
            issue.then_some(key).flatten(),
            json,
        ),
        Command::Audit { keys, policy } => {
            crate::settlement::audit(cli.ledger, &with_policy(keys, policy)?, json)
        }
        Command::Balance {
            contract,
            at_seq,
            known_at,
            effective,
        } => crate::settlement::balance(cli.ledger, contract, at_seq, known_at, effective, json),
        Command::Explain { settlement, who } => {
            crate::settlement::explain(cli.ledger, settlement, &who, json)
        }
        Command::Diff {
            from_seq,
            to_seq,
            contract,
            through,
        } => crate::settlement::diff(cli.ledger, from_seq, to_seq, contract, through, json),
        Command::WhatIf {
            terms,
            period,
            contract,
        } => crate::settlement::what_if(cli.ledger, &terms, &period, contract, json),
        Command::Report(ReportCommand::Esf {
            contract,
            operation,
            period,
            format,
            out,
            force,
        }) => crate::report::esf(
            cli.ledger,
            contract,
            operation,
            period,
            format,
            out.map(|out| (out, Existing::forced(force))),
            json,
        ),
        Command::Report(ReportCommand::Indigo { contract, through }) => {
            crate::report::indigo(cli.ledger, contract, through)
        }
        Command::Report(ReportCommand::Budget {
            party,
            contract,
            year,
            layout,
            format,
            out,
            force,
        }) => crate::report::budget(
            cli.ledger,
            contract,
            party,
            year,
            layout,
            format,
            out.map(|out| (out, Existing::forced(force))),
            json,
        ),
        Command::Report(ReportCommand::Audit {
            contract,
            format,
            out,
            force,
            keys,
            policy,
        }) => crate::report::audit(
            cli.ledger,
            contract,
            format,
            out.map(|out| (out, Existing::forced(force))),
            &with_policy(keys, policy)?,
            json,
        ),
        Command::Bundle(args) => crate::bundle::run(cli.ledger, args, json),
        Command::Serve(args) => crate::serve::run(cli.ledger, args, json),
        Command::Demo {
            network: Some(dir), ..
        } => crate::netdemo::run(&dir, json),
        Command::Demo { dir, network: None } => demo(dir, json),
        Command::Secret(SecretCommand::New { file }) => crate::setup::secret_new(file, json),
        Command::Completions { shell } => crate::setup::completions(shell),
        Command::Man { out } => crate::setup::man(&out, json),
        Command::Restore {
            from,
            dir,
            accept_loss,
        } => restore(dir.or(cli.ledger), &from, accept_loss, json),
        Command::Migrate { dir } => migrate(dir.or(cli.ledger), json),
        Command::Clone {
            url,
            dir,
            policy,
            log_key,
        } => crate::mirror::clone(&url, &dir, policy, log_key, cli.token_file, json),
        Command::Pull => crate::mirror::pull(cli.ledger, json),
        Command::Fork(ForkCommand::Verify {
            file,
            log_key,
            policy,
        }) => crate::mirror::fork_verify(&file, log_key, policy, json),
    }
}

/// Names the ledger directory in an error from storage that could not name it itself (a
/// full disk, damage sled reported while reading), so that its recovery command is whole.
pub(crate) fn name_ledger(error: &mut anyhow::Error, dir: &Path) {
    let name = |log: &mut LogError| {
        let taken = std::mem::replace(log, LogError::OutOfRange(String::new()));
        *log = taken.in_ledger(dir);
    };
    if let Some(LedgerError::Log(log)) = error.downcast_mut::<LedgerError>() {
        name(log);
    } else if let Some(log) = error.downcast_mut::<LogError>() {
        name(log);
    }
}

fn restore(dir: Option<PathBuf>, from: &Path, accept_loss: bool, json: bool) -> Result<()> {
    let dir = ledger_dir(dir)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bar = progress(json, "restoring");
    let restored = pbr_ledger::restore::restore(
        &dir,
        from,
        accept_loss,
        now_micros()?,
        threads,
        |done, _| bar.set_position(done),
    );
    bar.finish_and_clear();
    let restored = restored?;
    if json {
        print_json(&json!({
            "ok": true,
            "ledger": restored.dir,
            "records": restored.records,
            "root": hex(&restored.root),
            "chain_head": hex(&restored.chain_head),
            "checkpoints": restored.checkpoints,
            "committed": restored.committed,
            "damaged_moved_to": restored.damaged,
            "account_problem": restored.account_problem,
        }));
        return Ok(());
    }
    outln!(
        "restored {} records into {} from {}, root {}, chain head {}",
        restored.records,
        restored.dir.display(),
        from.display(),
        hex(&restored.root),
        hex(&restored.chain_head)
    );
    match restored.committed {
        Some(committed) if committed <= restored.records => outln!(
            "the damaged ledger had committed {committed} records: every one is back, with the same root and chain head"
        ),
        Some(committed) => outln!(
            "the damaged ledger had committed {committed} records: records {} to {} were not in the export and are lost (--accept-loss)",
            restored.records,
            committed - 1
        ),
        None => outln!(
            "the damaged ledger's account of what it committed was not available{}: check the restored ledger against a checkpoint the parties kept (pbr checkpoint check)",
            restored
                .account_problem
                .as_deref()
                .map_or_else(String::new, |p| format!(" ({p})"))
        ),
    }
    let sizes: Vec<String> = restored.checkpoints.iter().map(u64::to_string).collect();
    outln!("checkpoints stored: size {}", sizes.join(", size "));
    if let Some(damaged) = &restored.damaged {
        outln!(
            "the damaged database was moved to {}; remove it once you no longer need it",
            damaged.display()
        );
    }
    outln!(
        "next: pbr --ledger {} verify --policy FILE (the contract's log key and quorum)",
        restored.dir.display()
    );
    Ok(())
}

fn migrate(dir: Option<PathBuf>, json: bool) -> Result<()> {
    let dir = ledger_dir(dir)?;
    let migrated = waiting(|| Ledger::migrate(&dir))?;
    if json {
        print_json(&json!({
            "ok": true,
            "ledger": migrated.dir,
            "already": migrated.already,
            "resumed": migrated.resumed,
            "format": 2,
            "records": migrated.records,
            "format_one_checkpoints": migrated.checkpoints_kept,
            "format_one_checkpoint_sizes": migrated.checkpoint_sizes,
            "root": hex(&migrated.root),
            "chain_head": hex(&migrated.chain_head),
            "needs_checkpoint": !migrated.has_checkpoint,
        }));
        return Ok(());
    }
    let d = migrated.dir.display();
    if migrated.already {
        outln!(
            "ledger {d} is already format 2 ({} records, root {}); nothing to do",
            migrated.records,
            hex(&migrated.root)
        );
        return Ok(());
    }
    let sizes: Vec<String> = migrated
        .checkpoint_sizes
        .iter()
        .map(u64::to_string)
        .collect();
    outln!(
        "migrated ledger {d} to format 2{}: {} records kept byte for byte, {} format-1 checkpoint notes kept as history{}, new root {}",
        if migrated.resumed {
            " (finishing an interrupted migration)"
        } else {
            ""
        },
        migrated.records,
        migrated.checkpoints_kept,
        if sizes.is_empty() {
            String::new()
        } else {
            format!(" (sizes {})", sizes.join(", "))
        },
        hex(&migrated.root)
    );
    outln!(
        "the ledger has no format-2 checkpoint yet: sign one with: pbr --ledger {d} checkpoint sign --key KEY"
    );
    Ok(())
}

pub(crate) fn ledger_dir(dir: Option<PathBuf>) -> Result<PathBuf> {
    dir.ok_or_else(|| input("no ledger given: pass --ledger DIR or set PBR_LEDGER"))
}

pub(crate) fn open(dir: Option<PathBuf>) -> Result<Ledger> {
    let dir = ledger_dir(dir)?;
    waiting(|| Ledger::open(&dir))
}

/// Opens a ledger whose storage may be damaged, for the commands that verify it and name
/// the first bad record.
pub(crate) fn open_to_verify(dir: Option<PathBuf>) -> Result<Ledger> {
    let dir = ledger_dir(dir)?;
    waiting(|| Ledger::open_to_verify(&dir))
}

/// How long `--wait` lets a command wait for a ledger another process holds.
pub(crate) static WAIT: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();

/// Runs `open`, and while the ledger is in use tries again every 100 ms for as long as
/// `--wait` allows (none by default), then says who holds it.
fn waiting<T>(open: impl Fn() -> Result<T, LedgerError>) -> Result<T> {
    let wait = WAIT.get().copied().unwrap_or_default();
    let started = std::time::Instant::now();
    loop {
        match open() {
            Err(LedgerError::Log(LogError::InUse { .. })) if started.elapsed() < wait => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            result => return Ok(result?),
        }
    }
}

fn init(dir: Option<PathBuf>, origin: Option<String>, json: bool) -> Result<()> {
    let dir = ledger_dir(dir)?;
    let origin = match origin {
        Some(origin) => origin,
        None => {
            let name = dir
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| input(format!("{}: cannot derive a ledger id", dir.display())))?;
            format!("pbr.local/{name}")
        }
    };
    let ledger = Ledger::create(&dir, &origin)?;
    if json {
        print_json(&json!({"ok": true, "ledger": dir, "origin": ledger.log().origin()}));
    } else {
        outln!(
            "created ledger {} at {}",
            ledger.log().origin(),
            dir.display()
        );
    }
    Ok(ledger.close()?)
}

/// The `--key` values, followed by the log and witness keys of the `--policy` file.
pub(crate) fn with_policy(mut keys: Vec<String>, policy: Option<PathBuf>) -> Result<Vec<String>> {
    if let Some(path) = policy {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| input(format!("{}: {e}", path.display())))?;
        let policy = pbr_log::policy::Policy::parse(&text)
            .map_err(|e| input(format!("{}: {e}", path.display())))?;
        keys.extend(policy.logs().iter().map(ToString::to_string));
        keys.extend(policy.witnesses().iter().map(|(_, key)| key.to_string()));
    }
    Ok(keys)
}

pub(crate) fn parse_verifier_keys(keys: &[String]) -> Result<Vec<VerifierKey>> {
    keys.iter()
        .map(|k| {
            VerifierKey::parse(k)
                .map_err(|e| input(format!("--key {}: {e}", pbr_core::error::quoted(k))))
        })
        .collect()
}

fn verify(
    ledger: &mut Ledger,
    incremental: bool,
    threads: Option<usize>,
    keys: &[String],
    json: bool,
) -> Result<()> {
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let trusted = parse_verifier_keys(keys)?;
    let bar = progress(json, "verifying");
    let report = ledger.verify(
        VerifyOptions {
            threads,
            incremental,
        },
        (!trusted.is_empty()).then_some(trusted.as_slice()),
        |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    );
    bar.finish_and_clear();
    let report = report?;
    // Whether each checkpoint carries its contracts' quorum, and the verdict, which rests on
    // the latest checkpoint: it must cover the whole log.
    let quorums = ledger.quorums()?;
    let check = ledger.trust_check(
        &report,
        Cover::Log {
            records: report.len,
        },
    )?;
    let verified = format!(
        "{} records verified (seq {}..{})",
        report.len - report.from_seq,
        report.from_seq,
        report.len
    );
    let verdict = Verdict::of(check.keys, Some(&check), &[], &verified);
    let quorum_of = |signers: &[String]| -> Vec<serde_json::Value> {
        quorums
            .iter()
            .map(|q| json!({"contract": q.contract, "met": q.missing(signers).is_empty(), "missing": q.missing(signers)}))
            .collect()
    };
    let checkpoints: Vec<_> = report
        .checkpoints
        .iter()
        .map(|(size, signers)| json!({"size": size, "signed_by": signers, "quorum": quorum_of(signers)}))
        .collect();
    if json {
        let mut out = verdict_json(&verdict, Some(&check));
        out.extend([
            ("from_seq".into(), json!(report.from_seq)),
            ("records".into(), json!(report.len)),
            ("root".into(), json!(hex(&report.root))),
            ("chain_head".into(), json!(hex(&report.chain_head))),
            ("checkpoints".into(), json!(checkpoints)),
            (
                "checkpoint_keys".into(),
                json!(match report.keys {
                    KeySource::Given => "given",
                    KeySource::Ledger => "ledger",
                }),
            ),
        ]);
        print_json(&serde_json::Value::Object(out));
    } else {
        outln!("{}", verdict.line);
        outln!(
            "{verified}, root {}, chain head {}",
            hex(&report.root),
            hex(&report.chain_head)
        );
        for (size, signers) in &report.checkpoints {
            if signers.is_empty() {
                outln!("checkpoint of size {size} signed by none of the given keys");
            } else {
                outln!("checkpoint of size {size} signed by {}", signers.join(", "));
            }
            for quorum in &quorums {
                let missing = quorum.missing(signers);
                if missing.is_empty() {
                    outln!("  quorum of {} met", quorum.contract);
                } else {
                    outln!(
                        "  quorum of {} not met: missing {}",
                        quorum.contract,
                        missing.join(", ")
                    );
                }
            }
        }
    }
    failed_verdict(&verdict, "the verification")
}

/// The JSON fields of a verdict, first in every answer that gives one: `ok` (false when it
/// failed), `verdict` (its first line), `trust`, `trust_checkpoint` (the size of the latest
/// checkpoint, which the verdict rests on) and `missing` (the quorum signers it lacks under
/// the given keys); those two are `null` when no key was given or the checkpoints were not
/// judged.
pub(crate) fn verdict_json(
    verdict: &Verdict,
    check: Option<&TrustCheck>,
) -> serde_json::Map<String, serde_json::Value> {
    let judged = check.filter(|c| c.keys == Keys::Given);
    let mut out = serde_json::Map::new();
    out.insert("ok".into(), json!(verdict.outcome != Outcome::Failed));
    out.insert("verdict".into(), json!(verdict.line));
    out.insert("trust".into(), json!(verdict.trust.as_str()));
    out.insert(
        "trust_checkpoint".into(),
        json!(judged.and_then(|c| c.latest.as_ref()).map(|c| c.size)),
    );
    out.insert("missing".into(), json!(judged.map(TrustCheck::missing)));
    out
}

/// A failed verdict as the command's error (exit 5), after its output has shown it.
pub(crate) fn failed_verdict(verdict: &Verdict, what: &str) -> Result<()> {
    match verdict.outcome {
        Outcome::Failed => Err(LedgerError::Mismatch(format!(
            "{what} failed (the output shows it): {}",
            verdict
                .line
                .strip_prefix("FAILED: ")
                .unwrap_or(&verdict.line)
        ))
        .into()),
        Outcome::Passed | Outcome::TrustNotEstablished => Ok(()),
    }
}

fn export(ledger: &mut Ledger, out: Option<PathBuf>, existing: Existing, json: bool) -> Result<()> {
    let bar = progress(json || out.is_none(), "exporting");
    let summary = match &out {
        Some(path) => {
            // Whole or not at all: a killed export leaves no partial file.
            let mut file = OutFile::create(path, existing)?;
            let summary = ledger.export(&mut file, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })?;
            file.commit()?;
            summary
        }
        None => {
            let stdout = std::io::stdout();
            let mut writer = BufWriter::new(stdout.lock());
            let summary = ledger.export(&mut writer, |_, _| {})?;
            writer.flush()?;
            summary
        }
    };
    bar.finish_and_clear();
    if let Some(path) = out {
        if json {
            print_json(&json!({"ok": true, "records": summary.records, "out": path}));
        } else {
            outln!("exported {} records to {}", summary.records, path.display());
        }
    }
    Ok(())
}

/// Writes the log up to the checkpoint `pbr export` writes (the latest that meets every
/// contract's quorum) as C2SP tiles.
fn export_tiles(ledger: &mut Ledger, dir: &Path, json: bool) -> Result<()> {
    let note = ledger.exportable_checkpoint()?;
    let log = ledger.log();
    // The stored note was checked against the log when it was stored; check again that it
    // names this prefix before any file is written.
    log.check_checkpoint(&note.checkpoint)?;
    let size = note.checkpoint.size;
    let summary = log
        .write_tiles(dir, size, &note.to_text())
        .map_err(|e| anyhow!("{}: {e}", dir.display()))?;
    if json {
        print_json(&json!({
            "ok": true,
            "dir": dir,
            "size": size,
            "root": hex(&note.checkpoint.root),
            "written": summary.written,
            "unchanged": summary.unchanged,
            "bytes_written": summary.bytes_written,
        }));
    } else {
        outln!(
            "wrote the tiles of {size} records to {} ({} files written, {} already there)",
            dir.display(),
            summary.written,
            summary.unchanged
        );
    }
    Ok(())
}

fn proof(ledger: &Ledger, args: ProofArgs, json: bool) -> Result<()> {
    let log = ledger.log();
    let text = if let Some(seq) = args.seq {
        let proof = log.inclusion_proof(seq, args.tree_size)?;
        if args.format.is_some() {
            let receipt = pbr_log::tlog_proof::TlogProof::new(
                proof.leaf_index,
                proof.path.clone(),
                proof.checkpoint.clone(),
            )
            .map_err(|e| anyhow!("the receipt of seq {seq}: {e}"))?;
            out!("{}", receipt.to_text());
            return Ok(());
        }
        if !json {
            outln!(
                "record {} is in the tree of size {} with root {} ({} path hashes)",
                proof.leaf_index,
                proof.tree_size,
                hex(&proof.root),
                proof.path.len()
            );
            return Ok(());
        }
        serde_json::to_string_pretty(&proof)?
    } else {
        let from = args
            .from
            .ok_or_else(|| input("--consistency needs --from"))?;
        let proof = log.consistency_proof(from, args.to)?;
        if !json {
            outln!(
                "the tree of size {} (root {}) extends the tree of size {} (root {}) ({} path hashes)",
                proof.second,
                hex(&proof.second_root),
                proof.first,
                hex(&proof.first_root),
                proof.path.len()
            );
            return Ok(());
        }
        serde_json::to_string_pretty(&proof)?
    };
    // Proofs are documents to keep: pretty-printed, keys in the order of DESIGN §3.
    outln!("{text}");
    Ok(())
}

pub(crate) fn read_signer_key(path: &Path) -> Result<SignerKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input(format!("{}: cannot read key file: {e}", path.display())))?;
    SignerKey::parse(&text).map_err(|e| input(format!("{}: {e}", path.display())))
}

/// The clock, in microseconds since the epoch: every event's `recorded_at`.
pub(crate) fn now_micros() -> Result<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?;
    i64::try_from(now.as_micros()).context("the system clock is out of range")
}

fn now_unix_seconds() -> Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs())
}

fn checkpoint(ledger: Option<PathBuf>, command: CheckpointCommand, json: bool) -> Result<()> {
    let note = match command {
        CheckpointCommand::Sign { key } => {
            let key = read_signer_key(&key)?;
            let mut ledger = open(ledger)?;
            let note = ledger.sign_checkpoint(&key)?;
            ledger.close()?;
            note
        }
        CheckpointCommand::Show { size } => {
            let ledger = open(ledger)?;
            let note = match size {
                Some(size) => ledger.log().checkpoint_of_size(size)?,
                None => ledger.log().latest_checkpoint()?,
            };
            note.ok_or_else(|| input("no such checkpoint (sign one with `pbr checkpoint sign`)"))?
        }
        CheckpointCommand::Check { note, keys, policy } => {
            let keys = with_policy(keys, policy)?;
            let text = std::fs::read_to_string(&note)
                .map_err(|e| input(format!("{}: {e}", note.display())))?;
            let keys = parse_verifier_keys(&keys)?;
            let check = open(ledger)?
                .check_checkpoint(&text, &keys)
                .with_context(|| note.display().to_string())?;
            if json {
                print_json(&json!({
                    "ok": true,
                    "signed_by": check.signed_by,
                    "size": check.proof.first,
                    "checked_against_size": check.proof.second,
                    "proof": check.proof,
                }));
            } else {
                outln!(
                    "ok: the checkpoint of size {} (signed by {}) is consistent with the \
                     checkpoint of size {}",
                    check.proof.first,
                    check.signed_by.join(", "),
                    check.proof.second
                );
            }
            return Ok(());
        }
    };
    print_note(&note, json);
    Ok(())
}

/// The participant `who` names, if any: a reference or a unique prefix of one, or a CPR
/// number under the pseudonym secret; it must be enrolled in the ledger. The CPR number is
/// never printed, not even in an error.
pub(crate) fn participant_of(
    ledger: &mut Ledger,
    who: &crate::cli::Who,
) -> Result<Option<pbr_core::ids::ParticipantRef>> {
    let state = ledger.state_without_flows()?;
    match (&who.participant, &who.cpr) {
        (Some(prefix), _) => state
            .find_participant(prefix)
            .map(Some)
            .map_err(|e| input(format!("--participant: {}", e.reason))),
        (None, Some(cpr)) => {
            let key = crate::record::read_secret(who.secret_file.as_deref())?
                .ok_or_else(|| input("--cpr needs --secret-file, the commissioner's secret"))?;
            let (cpr, _) = pbr_core::cpr::Cpr::parse(cpr)
                .map_err(|e| input(format!("--cpr: {}", e.reason)))?;
            let reference = cpr.participant_ref(&key);
            if state
                .contracts
                .values()
                .any(|c| c.participants.contains_key(&reference))
            {
                Ok(Some(reference))
            } else {
                Err(input(
                    "--cpr: no participant with that CPR number is enrolled under this secret \
                     (a different secret gives different references)",
                ))
            }
        }
        (None, None) => Ok(None),
    }
}

/// Whether `path` would land inside a ledger directory (one holding `LOCK` and `sled/`).
fn inside_a_ledger(path: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    absolute
        .ancestors()
        .skip(1)
        .find(|dir| dir.join("LOCK").is_file() && dir.join("sled").is_dir())
        .map(Path::to_owned)
}

/// A checkpoint note: as it is, or its size, root and text as JSON.
fn print_note(note: &pbr_log::SignedCheckpoint, json: bool) {
    if json {
        print_json(&json!({
            "ok": true,
            "size": note.checkpoint.size,
            "root": hex(&note.checkpoint.root),
            "checkpoint": note.to_text(),
        }));
    } else {
        out!("{}", note.to_text());
    }
}

fn witness(ledger: Option<PathBuf>, command: WitnessCommand, json: bool) -> Result<()> {
    let WitnessCommand::Cosign {
        key,
        state,
        log_key,
        size,
        time,
    } = command;
    let key = read_signer_key(&key)?;
    if !key.is_witness() {
        bail!(input(format!(
            "{} is not a witness key: make one with `pbr party keygen NAME --kind witness`",
            key.name()
        )));
    }
    // Whoever runs the ledger could roll back a witness's memory kept inside it; only the
    // demo, whose keys are public anyway, keeps its witnesses there.
    if let Some(inside) = inside_a_ledger(&state.join("state"))
        && !inside.join(DEMO_MARKER).is_file()
    {
        bail!(input(format!(
            "{}: refusing to keep a witness's state inside the ledger {}: keep it with the witness key",
            state.display(),
            inside.display()
        )));
    }
    let time = match time {
        Some(time) => time,
        None => now_unix_seconds()?,
    };
    let mut ledger = open(ledger)?;
    let logs = match log_key {
        Some(text) => {
            vec![VerifierKey::parse(&text).map_err(|e| input(format!("--log-key: {e}")))?]
        }
        None => {
            let named: Vec<VerifierKey> = ledger.log_keys()?.into_iter().map(|(_, k)| k).collect();
            if named.is_empty() {
                bail!(input(
                    "no registered terms name a [log] key: give the log key with --log-key VKEY"
                ));
            }
            named
        }
    };
    let witness =
        pbr_log::witness::Witness::open(key, logs, &state).map_err(|e| input(e.to_string()))?;
    let note = ledger.witness_checkpoint(&witness, size, time)?;
    ledger.close()?;
    print_note(&note, json);
    Ok(())
}

fn keygen(name: &str, kind: KeyKind, out: Option<PathBuf>, json: bool) -> Result<()> {
    // A log key is named after its origin, which may hold a `/`.
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{}.key", name.replace('/', "_"))));
    if let Some(ledger) = inside_a_ledger(&out) {
        bail!(input(format!(
            "{}: refusing to write a private key inside the ledger {}",
            out.display(),
            ledger.display()
        )));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("cannot read randomness: {e}"))?;
    let key = match kind {
        KeyKind::Event | KeyKind::Log => SignerKey::from_seed(name, seed),
        KeyKind::Witness => SignerKey::witness_from_seed(name, seed),
    }
    .map_err(|e| input(e.to_string()))?;
    write_private_key(&out, &key)?;
    let vkey = key.verifier_key().to_string();
    if json {
        print_json(&json!({"ok": true, "name": name, "verifier_key": vkey, "file": out}));
    } else {
        outln!("{vkey}");
        eprintln!(
            "private key written to {} (mode 0600); share the line above",
            out.display()
        );
    }
    Ok(())
}

/// Writes a private key file: mode 0600 from the start, whole or not at all, and never over
/// an existing file (a key replaced by mistake is lost for good).
pub(crate) fn write_private_key(path: &Path, key: &SignerKey) -> Result<()> {
    let mut file = OutFile::create_private(path, Existing::Never)?;
    file.write_all(key.to_text().as_bytes())
        .map_err(|e| input(format!("{}: cannot write: {e}", path.display())))?;
    file.commit()
}

fn demo(dir: Option<PathBuf>, json: bool) -> Result<()> {
    use pbr_ledger::sample;
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join("pbr-demo"));
    let kept = prepare_demo_dir(&dir, DemoKind::Local)?;
    write_demo_marker(&dir, DemoKind::Local, DemoState::Building, &[])?;
    let built = Ledger::create(&dir, sample::SAMPLE_ORIGIN)
        .and_then(|mut ledger| sample::build(&mut ledger).map(|note| (ledger, note)));
    // The demo parties' private keys, so that a newcomer can append to the demo; their seeds
    // are public, which is why only the demo ever writes a key inside a ledger directory.
    let wrote_keys = match &built {
        Ok(_) => write_demo_keys(&dir.join(DEMO_KEYS)),
        Err(_) => Ok(()),
    };
    // Whether or not it succeeded, what is there now (but what was kept) is the demo's.
    let created: Vec<String> = dir_entries(&dir)?
        .into_iter()
        .filter(|name| name != DEMO_MARKER && !kept.contains(name))
        .collect();
    write_demo_marker(&dir, DemoKind::Local, DemoState::Built, &created)?;
    let (mut ledger, note) = built?;
    wrote_keys?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The demo knows its own log and witness keys: check against them, not the ledger's copy.
    let trusted: Vec<VerifierKey> = std::iter::once(sample::demo_log_key())
        .chain(sample::demo_witness_keys())
        .map(|key| key.verifier_key())
        .collect();
    let report = ledger.verify(
        VerifyOptions {
            threads,
            incremental: false,
        },
        Some(&trusted),
        |_, _| {},
    )?;
    // The demo's own verdict, by the rule `pbr verify --key` applies: its latest checkpoint
    // must cover the log and carry the contract's quorum under the demo keys.
    let check = ledger.trust_check(
        &report,
        Cover::Log {
            records: report.len,
        },
    )?;
    let verdict = Verdict::of(
        check.keys,
        Some(&check),
        &[],
        &format!("{} signed records verified", report.len),
    );
    if verdict.outcome != Outcome::Passed {
        return Err(LedgerError::Mismatch(format!("the demo ledger: {}", verdict.line)).into());
    }
    // The log key first, then the witness keys: a verifier's trust input.
    let keys: Vec<String> = trusted.iter().map(ToString::to_string).collect();
    let policy = ledger.policy(sample::SAMPLE_CONTRACT)?.to_text();
    let policy_file = dir.join(DEMO_KEYS).join("policy");
    std::fs::write(&policy_file, &policy)
        .map_err(|e| input(format!("{}: {e}", policy_file.display())))?;
    // The trust input of the commands suggested below: the contract's log key and quorum.
    let quorum_keys = format!(" --policy {}", policy_file.display());
    let audited = ledger.audit(|_, _| {})?;
    let (_, balances) = ledger.balances(sample::SAMPLE_CONTRACT, pbr_ledger::At::Head, None)?;
    ledger.close()?;
    if json {
        print_json(&json!({
            "ok": true,
            "ledger": dir,
            "records": report.len,
            "verdict": verdict.line,
            "root": hex(&report.root),
            "checkpoint": note.to_text(),
            "verifier_keys": keys,
            "policy": policy,
            "statements": audited.iter().map(|a| json!({
                "seq": a.seq, "period": a.period.to_string(), "matches": a.matches(),
            })).collect::<Vec<_>>(),
            "balances": balances.iter().map(pbr_core::settle::balance::to_json).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    outln!("demo ledger at {}", dir.display());
    outln!("{} (demo keys)", verdict.line);
    outln!("root {}", hex(&report.root));
    outln!(
        "{} quarterly statements issued ({} to {}); {} of them match their recomputation from the log",
        audited.len(),
        audited
            .first()
            .map_or(String::new(), |a| a.period.to_string()),
        audited
            .last()
            .map_or(String::new(), |a| a.period.to_string()),
        audited.iter().filter(|a| a.matches()).count()
    );
    outln!("\nbalances of {} (DKK):", sample::SAMPLE_CONTRACT);
    crate::settlement::print_balances(&balances);
    outln!(
        "\ncheckpoint (signed by the demo log key, cosigned by the jobcentre's and the provider's witnesses):\n"
    );
    out!("{}", note.to_text());
    outln!("\ndemo log and witness keys (demo only: their seeds are public):");
    for key in &keys {
        outln!("  {key}");
    }
    let d = dir.display();
    let last = audited.last().map_or(0, |a| a.seq);
    outln!("\ntry:");
    outln!("  pbr --ledger {d} verify{quorum_keys}");
    outln!("  pbr --ledger {d} explain {last}");
    outln!("  pbr --ledger {d} settle --period 2026-Q1");
    outln!("  pbr --ledger {d} balance --effective 2024-12-31");
    outln!("  pbr --ledger {d} audit{quorum_keys}");
    outln!("  pbr --ledger {d} report audit --out audit.html{quorum_keys}");
    outln!("  pbr --ledger {d} proof --seq 42 --json");
    outln!("  pbr --ledger {d} bundle --settlement {last} --out bundle.json");
    outln!("  pbr bundle verify bundle.json{quorum_keys}");
    let provider_key = dir.join(DEMO_KEYS).join("fokus-provider.key");
    outln!(
        "  pbr --ledger {d} cost --contract {} --date 2025-12-31 --party fokus-provider --amount 1000.00 --key {}",
        sample::SAMPLE_CONTRACT,
        provider_key.display()
    );
    outln!("  pbr --ledger {d} export > demo.jsonl");
    outln!(
        "  python3 tools/verify_export.py export demo.jsonl --policy {}",
        dir.join(DEMO_KEYS).join("policy").display()
    );
    Ok(())
}

/// Where the demo writes its parties' private keys, inside the demo directory.
const DEMO_KEYS: &str = "demo-keys";

/// Writes each demo key to `dir/<name>.key` (mode 0600), replacing none: the parties' event
/// keys, their witness keys and the log key (`<origin>` with `/` as `_`). The demo adds the
/// contract's C2SP tlog-policy as `dir/policy`.
fn write_demo_keys(dir: &Path) -> Result<()> {
    use pbr_ledger::sample;
    std::fs::create_dir(dir).map_err(|e| input(format!("{}: {e}", dir.display())))?;
    let keys = sample::demo_keys()
        .into_iter()
        .chain(sample::demo_witness_keys())
        .chain([sample::demo_log_key()]);
    for key in keys {
        let file = format!("{}.key", key.name().replace('/', "_"));
        write_private_key(&dir.join(file), &key)?;
    }
    Ok(())
}

/// The file that marks a directory as made by `pbr demo`: its first line `pbr demo` (or
/// `pbr demo --network`), then `building` while the demo is being built and `built` once it
/// is, then the names of the entries the demo created there, one a line. Only those are
/// ever removed.
pub(crate) const DEMO_MARKER: &str = ".pbr-demo";

/// What the entries of a ledger directory were before demos kept a marker.
const LEGACY_DEMO_ENTRIES: [&str; 2] = ["LOCK", "sled"];

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DemoState {
    Building,
    Built,
}

/// Which demo made a directory: `pbr demo` (a ledger) or `pbr demo --network` (an operator
/// and four parties). Each replaces only an earlier demo of its own kind.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum DemoKind {
    Local,
    Network,
}

impl DemoKind {
    /// The marker's first line, which is also the command that makes the directory.
    fn command(self) -> &'static str {
        match self {
            DemoKind::Local => "pbr demo",
            DemoKind::Network => "pbr demo --network",
        }
    }
}

/// The names of the entries of `dir`, sorted.
pub(crate) fn dir_entries(dir: &Path) -> Result<Vec<String>> {
    let cannot =
        |e: std::io::Error| input(format!("{}: cannot read the directory: {e}", dir.display()));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let name = entry.map_err(cannot)?.file_name();
        names.push(name.to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}

pub(crate) fn write_demo_marker(
    dir: &Path,
    kind: DemoKind,
    state: DemoState,
    created: &[String],
) -> Result<()> {
    let mut text = format!("{}\n", kind.command());
    text.push_str(match state {
        DemoState::Building => "building\n",
        DemoState::Built => "built\n",
    });
    for name in created {
        text.push_str(name);
        text.push('\n');
    }
    crate::atomic::write_file(&dir.join(DEMO_MARKER), text.as_bytes(), Existing::Replace)
}

/// The marker of `dir`, if it has one: the demo that made it, its state and the entries it
/// names.
fn read_demo_marker(dir: &Path) -> Result<Option<(DemoKind, DemoState, Vec<String>)>> {
    let path = dir.join(DEMO_MARKER);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(input(format!("{}: {e}", path.display()))),
    };
    let mut lines = text.lines();
    let kind = match lines.next() {
        Some("pbr demo") => Some(DemoKind::Local),
        Some("pbr demo --network") => Some(DemoKind::Network),
        _ => None,
    };
    let (kind, state) = match (kind, lines.next()) {
        (Some(kind), Some("building")) => (kind, DemoState::Building),
        (Some(kind), Some("built")) => (kind, DemoState::Built),
        _ => {
            return Err(input(format!(
                "{}: not a marker that `pbr demo` wrote; give a new or empty directory",
                path.display()
            )));
        }
    };
    Ok(Some((kind, state, lines.map(str::to_owned).collect())))
}

/// Makes `dir` ready for a demo of `kind`, deleting only what an earlier demo of that kind
/// created there: creates it if it is missing, takes it as it is if it is empty, and
/// removes an earlier demo's entries (keeping anything else, which it returns). Refuses,
/// deleting nothing, a directory that is not empty and was not made by a demo of `kind`, or
/// whose demo was interrupted (what it created is then not known for sure).
pub(crate) fn prepare_demo_dir(dir: &Path, kind: DemoKind) -> Result<Vec<String>> {
    let entries = match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir)
                .map_err(|e| input(format!("{}: cannot create it: {e}", dir.display())))?;
            return Ok(Vec::new());
        }
        Err(e) => return Err(input(format!("{}: {e}", dir.display()))),
        Ok(meta) if !meta.is_dir() => {
            return Err(input(format!(
                "{} exists and is not a directory; give a new or empty directory",
                dir.display()
            )));
        }
        Ok(_) => dir_entries(dir)?,
    };
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let created = match read_demo_marker(dir)? {
        Some((made_by, _, _)) if made_by != kind => bail!(input(format!(
            "{} was made by `{}`, not `{}`; give a new or empty directory",
            dir.display(),
            made_by.command(),
            kind.command()
        ))),
        Some((_, DemoState::Built, created)) => created,
        // Interrupted before it made anything.
        Some((_, DemoState::Building, _)) if entries == [DEMO_MARKER] => Vec::new(),
        Some((_, DemoState::Building, _)) => bail!(input(format!(
            "{}: an earlier `{}` there did not finish, so what it made is not known for \
             sure; delete the directory or give another one",
            dir.display(),
            kind.command()
        ))),
        // A demo from before the marker: exactly a ledger directory, of the demo's origin.
        None if kind == DemoKind::Local
            && entries == LEGACY_DEMO_ENTRIES
            && Ledger::open(dir)
                .is_ok_and(|old| old.log().origin() == pbr_ledger::sample::SAMPLE_ORIGIN) =>
        {
            LEGACY_DEMO_ENTRIES.map(str::to_owned).to_vec()
        }
        None => bail!(input(format!(
            "{} is not empty and was not made by `{}` (it holds {}); give a new or empty \
             directory",
            dir.display(),
            kind.command(),
            entries[0]
        ))),
    };
    // Another process using the earlier demo's ledger (a server still running, for the
    // network demo) keeps it (exit 4); a damaged one is replaced.
    let ledger = match kind {
        DemoKind::Local => dir.to_owned(),
        DemoKind::Network => crate::netdemo::operator_ledger(dir),
    };
    if (kind == DemoKind::Local || ledger.join("sled").is_dir())
        && let Err(LedgerError::Log(error @ LogError::InUse { .. })) = Ledger::open(&ledger)
    {
        return Err(error.into());
    }
    for name in &created {
        let path = dir.join(name);
        let removed = match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path),
            Ok(_) => std::fs::remove_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        removed.map_err(|e| {
            input(format!(
                "{}: cannot remove the earlier demo's {name}: {e}",
                dir.display()
            ))
        })?;
    }
    let marker = dir.join(DEMO_MARKER);
    match std::fs::remove_file(&marker) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(input(format!("{}: {e}", marker.display())));
        }
        Ok(()) | Err(_) => {}
    }
    Ok(entries
        .into_iter()
        .filter(|name| name != DEMO_MARKER && !created.contains(name))
        .collect())
}
