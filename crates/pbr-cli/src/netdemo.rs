//! `pbr demo --network DIR`: the demo contract run through the network on loopback, as
//! `docs/deployment.md` deploys it and `tests/cli/deployment.rs` tests it.
//!
//! The operator (`DIR/operator`: the ledger and the demo log key, nothing else) runs
//! `pbr serve` as a child process of this binary; each of the demo's four parties has a
//! directory of its own (`DIR/<party>`: its demo key, the read token the operator issued it,
//! and a mirror made with `pbr clone`). The records are the local demo's (`pbr demo`,
//! `sample::build`), each signed with its author's demo key: they are built in a scratch
//! ledger and exported, and each party submits the records it authored, in log order, one
//! run of consecutive records by one author at a time, as one `POST /add` from a `pbr`
//! process of its own (`pbr --ledger DIR/<party>/mirror --server URL import RUN.jsonl`),
//! after pulling its mirror up to the run's first seq. At the end every mirror is pulled and
//! each party says, from its own mirror, how many records it holds, their root and its own
//! balance; the server is stopped, and the operator's ledger is verified.
//!
//! Every process started here is stopped on success and on error ([`Child`] kills and
//! waits for it when dropped), and every wait is bounded ([`WAIT`]). Children's standard
//! error is appended to `DIR/network.log`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use pbr_ledger::{Ledger, sample};
use serde_json::{Value, json};

use crate::atomic::{Existing, OutFile};
use crate::commands::{
    DEMO_MARKER, DemoKind, DemoState, dir_entries, input, prepare_demo_dir, write_demo_marker,
    write_private_key,
};
use crate::exit_code;
use crate::output::{hex, outln, print_json};

/// The longest wait for any one step: a child's exit, the server's first line, a mirror
/// reaching a size.
const WAIT: Duration = Duration::from_secs(60);

/// How long the server has to stop after `SIGTERM` before it is killed.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// How often a child's exit, or a mirror's size, is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// How often a mirror that is behind is pulled again.
const PULL_AGAIN: Duration = Duration::from_millis(250);

/// The file under `DIR` that children's standard error is appended to.
const LOG_FILE: &str = "network.log";

/// The most of a child's standard output that is read.
const MAX_OUTPUT: u64 = 16 << 20;

/// The operator's ledger inside a network demo's directory.
pub(crate) fn operator_ledger(dir: &Path) -> PathBuf {
    dir.join("operator").join("ledger")
}

/// A step of the demo that failed: a child that exited with an error, or did not finish in
/// time. The demo exits with the child's code (or [`exit_code::NETWORK`] for a time-out).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct StepFailed {
    pub(crate) message: String,
    pub(crate) code: i32,
}

/// A child process, killed and waited for when dropped unless it was waited for already.
struct Child {
    child: std::process::Child,
    done: bool,
}

impl Child {
    /// Waits for the child until `deadline`; kills it then.
    fn wait_until(&mut self, deadline: Instant) -> Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.done = true;
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }

    fn kill(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.done = true;
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The operator's running `pbr serve`: stopped with `SIGTERM` (then killed, if it does not
/// stop in time) by [`Server::stop`] or when dropped.
struct Server {
    child: Child,
    /// Held open, so that the server never writes into a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
    url: String,
    pid: u32,
}

impl Server {
    /// Asks the server to stop as `docs/protocol.md` says (`SIGTERM`: it finishes the
    /// requests in flight and closes the ledger), and waits for it; kills it if it does
    /// not stop within [`STOP_WAIT`], or if it cannot be signalled.
    fn stop(&mut self) -> Result<ExitStatus> {
        if !self.child.done {
            #[cfg(unix)]
            {
                let signalled = Command::new("kill")
                    .args(["-TERM", &self.pid.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|status| status.success());
                if signalled
                    && let Some(status) = self.child.wait_until(Instant::now() + STOP_WAIT)?
                {
                    return Ok(status);
                }
            }
            self.child.kill();
        }
        Ok(self.child.child.wait()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Starts children of this binary, with their standard error appended to the demo's log.
struct Runner {
    exe: PathBuf,
    log: PathBuf,
}

impl Runner {
    /// `pbr ARGS` with none of the environment's `PBR_*` settings (each step names all it
    /// uses) and no standard input.
    fn command(&self, args: &[String]) -> Command {
        let mut command = Command::new(&self.exe);
        command
            .args(args)
            .env_remove("PBR_LEDGER")
            .env_remove("PBR_SERVER")
            .env_remove("PBR_TOKEN_FILE")
            .stdin(Stdio::null());
        command
    }

    /// Appends `text` to the log.
    fn note(&self, text: &str) -> Result<()> {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| input(format!("{}: {e}", self.log.display())))?;
        log.write_all(text.as_bytes())
            .map_err(|e| input(format!("{}: {e}", self.log.display())))
    }

    /// Runs `pbr ARGS` for `who` to its end (within [`WAIT`]) and returns its standard
    /// output; its standard error goes to the log, and its last line, an error's, into the
    /// error when it fails.
    fn run(&self, who: &str, args: &[String]) -> Result<String> {
        let shown = format!("pbr {}", args.join(" "));
        self.note(&format!("[{who}] $ {shown}\n"))?;
        let spawned = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        let mut child = Child {
            child: spawned,
            done: false,
        };
        let stdout = child.child.stdout.take();
        let stderr = child.child.stderr.take();
        // Both pipes are drained while the child runs, so that it never blocks on a full
        // one; each read ends when the child does (or is killed).
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                if let Some(pipe) = pipe {
                    let _ = pipe.take(MAX_OUTPUT).read_to_string(&mut text);
                }
                text
            })
        };
        let out = drain(stdout.map(|p| Box::new(p) as Box<dyn Read + Send>));
        let err = drain(stderr.map(|p| Box::new(p) as Box<dyn Read + Send>));
        let status = child.wait_until(Instant::now() + WAIT)?;
        let out = out
            .join()
            .map_err(|_| anyhow!("reading the output of `{shown}` failed"))?;
        let err = err
            .join()
            .map_err(|_| anyhow!("reading the errors of `{shown}` failed"))?;
        self.note(&err)?;
        let failed =
            |message: String, code: i32| -> anyhow::Error { StepFailed { message, code }.into() };
        match status {
            None => Err(failed(
                format!(
                    "{who}: `{shown}` did not finish within {} s; see {}",
                    WAIT.as_secs(),
                    self.log.display()
                ),
                exit_code::NETWORK,
            )),
            Some(status) if status.success() => Ok(out),
            Some(status) => {
                let code = status.code().unwrap_or(exit_code::INTERNAL);
                let reason = err
                    .lines()
                    .rev()
                    .find(|line| line.starts_with("pbr: error: "))
                    .unwrap_or("killed")
                    .trim_start_matches("pbr: error: ")
                    .to_owned();
                Err(failed(
                    format!(
                        "{who}: `{shown}` failed (exit {code}): {reason} (see {})",
                        self.log.display()
                    ),
                    if code == 0 { exit_code::INTERNAL } else { code },
                ))
            }
        }
    }

    /// Runs `pbr ARGS --json` for `who` and parses its answer.
    fn json(&self, who: &str, args: &[String]) -> Result<Value> {
        let mut args = args.to_vec();
        args.push("--json".into());
        let out = self.run(who, &args)?;
        serde_json::from_str(&out).with_context(|| {
            format!(
                "{who}: `pbr {}` did not answer JSON: {}",
                args.join(" "),
                out.lines().next().unwrap_or("")
            )
        })
    }

    /// Starts `pbr serve` on `ledger` with the log key in `key` on a port the system picks,
    /// and reads its address from its first line (within [`WAIT`]).
    fn serve(&self, ledger: &Path, key: &Path) -> Result<Server> {
        let args = vec![
            "--ledger".to_owned(),
            path_arg(ledger),
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--log-key".into(),
            path_arg(key),
            // A checkpoint every second, so that receipts and pulls come quickly.
            "--checkpoint-every".into(),
            "1".into(),
        ];
        self.note(&format!("[operator] $ pbr {}\n", args.join(" ")))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| input(format!("{}: {e}", self.log.display())))?;
        let spawned = self
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))?;
        let pid = spawned.id();
        let mut server = Server {
            child: Child {
                child: spawned,
                done: false,
            },
            _stdout: None,
            url: String::new(),
            pid,
        };
        let stdout = server
            .child
            .child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("pbr serve has no standard output"))?;
        // The first line arrives within the wait, or the server is killed (when `server` is
        // dropped), which ends the read.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let _ = sender.send((read.map(|_| line), reader));
        });
        let not_listening = |why: String| -> anyhow::Error {
            StepFailed {
                message: format!("pbr serve {why}; see {}", self.log.display()),
                code: exit_code::NETWORK,
            }
            .into()
        };
        let (line, reader) = match receiver.recv_timeout(WAIT) {
            Ok((Ok(line), reader)) => (line, reader),
            Ok((Err(e), _)) => return Err(not_listening(format!("could not be read: {e}"))),
            Err(_) => {
                return Err(not_listening(format!(
                    "did not say where it listens within {} s",
                    WAIT.as_secs()
                )));
            }
        };
        server._stdout = Some(reader);
        let Some(address) = line.trim().strip_prefix("listening on ") else {
            let status = server.stop()?;
            return Err(not_listening(format!(
                "stopped before it listened ({status})"
            )));
        };
        server.url = address.to_owned();
        Ok(server)
    }
}

/// A path as a command-line argument.
fn path_arg(path: &Path) -> String {
    path.display().to_string()
}

/// One of the demo's parties: its directory (its machine), and what is in it.
struct Party {
    name: String,
    home: PathBuf,
    key: PathBuf,
    token: PathBuf,
    mirror: PathBuf,
}

impl Party {
    /// `--ledger MIRROR` and `args`.
    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all = vec!["--ledger".to_owned(), path_arg(&self.mirror)];
        all.extend(args.iter().map(|&a| a.to_owned()));
        all
    }

    /// Pulls the mirror until it holds at least `size` records (within [`WAIT`]): the
    /// server publishes a checkpoint every second once the log has grown. Returns the
    /// pull's answer.
    fn pull_to(&self, runner: &Runner, size: u64) -> Result<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer = runner.json(&self.name, &self.args(&["pull"]))?;
            let held = answer["to"].as_u64().unwrap_or(0);
            if held >= size {
                return Ok(answer);
            }
            if Instant::now() >= deadline {
                return Err(StepFailed {
                    message: format!(
                        "{}: the mirror holds {held} records after pulling for {} s, not {size}: \
                         the server published no checkpoint that covers them; see {}",
                        self.name,
                        WAIT.as_secs(),
                        runner.log.display()
                    ),
                    code: exit_code::NETWORK,
                }
                .into());
            }
            std::thread::sleep(PULL_AGAIN);
        }
    }
}

/// One record of the local demo, as its export line, with its author.
struct Row {
    author: String,
    line: String,
}

/// What the demo ended with.
struct Outcome {
    url: String,
    pid: u32,
    records: u64,
    root: String,
    batches: usize,
    operator_root: String,
    log_key_file: PathBuf,
    /// Each party, with its records, its root and its own balance row, from its mirror.
    seen: Vec<(Party, u64, String, Value)>,
}

pub(crate) fn run(dir: &Path, json: bool) -> Result<()> {
    let kept = prepare_demo_dir(dir, DemoKind::Network)?;
    write_demo_marker(dir, DemoKind::Network, DemoState::Building, &[])?;
    let result = network(dir);
    // Whether or not it succeeded, what is there now (but what was kept) is the demo's.
    let created: Vec<String> = dir_entries(dir)?
        .into_iter()
        .filter(|name| name != DEMO_MARKER && !kept.contains(name))
        .collect();
    write_demo_marker(dir, DemoKind::Network, DemoState::Built, &created)?;
    let outcome = result?;
    print(dir, &outcome, json);
    Ok(())
}

/// The local demo's records, in log order, as export lines with their authors, and the
/// root of the whole log; built in `scratch`, which is removed after.
fn local_demo(scratch: &Path) -> Result<(Vec<Row>, String)> {
    let mut ledger = Ledger::create(scratch, sample::SAMPLE_ORIGIN)?;
    let note = sample::build(&mut ledger)?;
    let mut export = Vec::new();
    ledger.export(&mut export, |_, _| {})?;
    ledger.close()?;
    std::fs::remove_dir_all(scratch)
        .map_err(|e| input(format!("{}: cannot remove it: {e}", scratch.display())))?;
    let text = String::from_utf8(export).context("the demo's export is not UTF-8")?;
    let mut rows = Vec::new();
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).context("a line of the demo's export")?;
        if value.get("record_hex").is_none() {
            // The checkpoint line: the local demo's to sign, not the operator's.
            continue;
        }
        let author = value["event"]["author"]
            .as_str()
            .ok_or_else(|| anyhow!("a line of the demo's export names no author"))?;
        rows.push(Row {
            author: author.to_owned(),
            line: line.to_owned(),
        });
    }
    if rows.len() as u64 != note.checkpoint.size {
        return Err(anyhow!(
            "the demo's export holds {} records, its checkpoint {}",
            rows.len(),
            note.checkpoint.size
        ));
    }
    Ok((rows, hex(&note.checkpoint.root)))
}

fn network(dir: &Path) -> Result<Outcome> {
    let runner = Runner {
        exe: std::env::current_exe().context("cannot find this program's own file")?,
        log: dir.join(LOG_FILE),
    };
    let (rows, root) = local_demo(&dir.join("scratch"))?;

    // The operator's machine: the ledger and the log key, nothing else.
    let operator = dir.join("operator");
    std::fs::create_dir(&operator)
        .map_err(|e| input(format!("{}: cannot create it: {e}", operator.display())))?;
    let ledger = operator_ledger(dir);
    runner.run(
        "operator",
        &[
            "init".into(),
            path_arg(&ledger),
            "--origin".into(),
            sample::SAMPLE_ORIGIN.into(),
        ],
    )?;
    let log_key = sample::demo_log_key();
    let log_key_file = operator.join(format!("{}.key", log_key.name().replace('/', "_")));
    write_private_key(&log_key_file, &log_key)?;
    let mut parties = Vec::new();
    for key in sample::demo_keys() {
        let name = key.name().to_owned();
        let home = dir.join(&name);
        std::fs::create_dir(&home)
            .map_err(|e| input(format!("{}: cannot create it: {e}", home.display())))?;
        let key_file = home.join(format!("{name}.key"));
        write_private_key(&key_file, &key)?;
        // The operator issues the party's read token; the party keeps it at home.
        let issued = runner.json(
            "operator",
            &[
                "--ledger".into(),
                path_arg(&ledger),
                "serve".into(),
                "token".into(),
                name.clone(),
            ],
        )?;
        let token = issued["token"]
            .as_str()
            .ok_or_else(|| anyhow!("pbr serve token answered no token: {issued}"))?;
        let token_file = home.join("token");
        let mut file = OutFile::create_private(&token_file, Existing::Never)?;
        file.write_all(format!("{token}\n").as_bytes())
            .map_err(|e| input(format!("{}: cannot write: {e}", token_file.display())))?;
        file.commit()?;
        parties.push(Party {
            mirror: home.join("mirror"),
            name,
            home,
            key: key_file,
            token: token_file,
        });
    }
    let mut server = runner.serve(&ledger, &log_key_file)?;
    let url = server.url.clone();

    // Each party clones the log, trusting the log key the terms will name.
    for party in &parties {
        runner.run(
            &party.name,
            &[
                "--token-file".into(),
                path_arg(&party.token),
                "clone".into(),
                url.clone(),
                path_arg(&party.mirror),
                "--log-key".into(),
                log_key.verifier_key().to_string(),
            ],
        )?;
    }

    // Every record submitted by its author, in log order: each run of records by one author
    // is one import from that party's directory, prepared on its freshly pulled mirror.
    let mut start = 0;
    let mut batches = 0;
    while start < rows.len() {
        let author = rows[start].author.as_str();
        let end = rows[start..]
            .iter()
            .position(|row| row.author != author)
            .map_or(rows.len(), |n| start + n);
        let party = parties
            .iter()
            .find(|p| p.name == author)
            .ok_or_else(|| anyhow!("record {start} is by {author}, not a demo party"))?;
        let runs = party.home.join("runs");
        std::fs::create_dir_all(&runs)
            .map_err(|e| input(format!("{}: cannot create it: {e}", runs.display())))?;
        let file = runs.join(format!("{start:03}-{:03}.jsonl", end - 1));
        let mut body = String::new();
        for row in &rows[start..end] {
            body.push_str(&row.line);
            body.push('\n');
        }
        crate::atomic::write_file(&file, body.as_bytes(), Existing::Refuse)?;
        party.pull_to(&runner, start as u64)?;
        let answer = runner.json(
            &party.name,
            &party.args(&[
                "--server",
                &url,
                "--receipt-wait",
                &WAIT.as_secs().to_string(),
                "import",
                &path_arg(&file),
            ]),
        )?;
        let placed = answer["records"].as_array().map_or(&[][..], Vec::as_slice);
        if placed.len() != end - start {
            return Err(anyhow!(
                "{author}: the server placed {} of the {} records {start} to {}",
                placed.len(),
                end - start,
                end - 1
            ));
        }
        for (seq, place) in (start..end).zip(placed) {
            if place["index"].as_u64() != Some(seq as u64) || place["new"] != json!(true) {
                return Err(pbr_ledger::LedgerError::Mismatch(format!(
                    "{author}: the operator's log placed the demo's record {seq} as {place}, \
                     not as a new record at {seq}"
                ))
                .into());
            }
        }
        start = end;
        batches += 1;
    }

    // Every party pulls, and says what it sees in its own mirror.
    let records = rows.len() as u64;
    let mut seen = Vec::new();
    for party in parties {
        party.pull_to(&runner, records)?;
        let verified = runner.json(&party.name, &party.args(&["verify"]))?;
        let balances = runner.json(&party.name, &party.args(&["balance"]))?;
        let own = balances["parties"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["party"] == party.name.as_str()))
            .cloned()
            .unwrap_or(Value::Null);
        let held = verified["records"].as_u64().unwrap_or(0);
        let party_root = verified["root"].as_str().unwrap_or("").to_owned();
        seen.push((party, held, party_root, own));
    }

    // The operator stops; its ledger, read again, is the same log.
    let pid = server.pid;
    let status = server.stop()?;
    if !status.success() {
        return Err(StepFailed {
            message: format!(
                "pbr serve (pid {pid}) stopped with {status}; see {}",
                runner.log.display()
            ),
            code: status.code().unwrap_or(exit_code::INTERNAL),
        }
        .into());
    }
    drop(server);
    let verified = runner.json(
        "operator",
        &["--ledger".into(), path_arg(&ledger), "verify".into()],
    )?;
    let operator_root = verified["root"].as_str().unwrap_or("").to_owned();
    let differ: Vec<String> = seen
        .iter()
        .filter(|(_, held, r, _)| *held != records || *r != root)
        .map(|(p, held, r, _)| format!("{} holds {held} records with root {r}", p.name))
        .chain(
            (operator_root != root)
                .then(|| format!("the operator's ledger has root {operator_root}")),
        )
        .collect();
    if !differ.is_empty() {
        return Err(pbr_ledger::LedgerError::Mismatch(format!(
            "the local demo's {records} records have root {root}, but {}",
            differ.join("; ")
        ))
        .into());
    }
    Ok(Outcome {
        url,
        pid,
        records,
        root,
        batches,
        operator_root,
        log_key_file,
        seen,
    })
}

/// The line that says what the network demo leaves out.
const WITNESSES: &str = "witnesses: not part of the network demo yet: the server's checkpoints \
     carry the log key's signature alone, and the mirrors were cloned trusting that key \
     (`pbr demo` shows the witnesses' cosignatures)";

fn print(dir: &Path, outcome: &Outcome, json: bool) {
    let log = dir.join(LOG_FILE);
    let money = |row: &Value, field: &str| row[field].as_str().unwrap_or("").to_owned();
    if json {
        print_json(&json!({
            "ok": true,
            "dir": dir,
            "server": {"url": outcome.url, "pid": outcome.pid, "stopped": true},
            "operator": {
                "ledger": operator_ledger(dir),
                "log_key_file": outcome.log_key_file,
                "root": outcome.operator_root,
            },
            "records": outcome.records,
            "root": outcome.root,
            "batches": outcome.batches,
            "parties": outcome.seen.iter().map(|(p, held, root, balance)| json!({
                "party": p.name,
                "dir": p.home,
                "key_file": p.key,
                "token_file": p.token,
                "mirror": p.mirror,
                "records": held,
                "root": root,
                "balance": balance,
            })).collect::<Vec<_>>(),
            "witnesses": WITNESSES,
            "log": log,
        }));
        return;
    }
    outln!("network demo at {}", dir.display());
    outln!(
        "operator: pbr serve on {} (pid {}) over {}, holding only the demo log key ({})",
        outcome.url,
        outcome.pid,
        operator_ledger(dir).display(),
        outcome.log_key_file.display()
    );
    outln!(
        "parties: {}, each in {} with its demo key, its read token and its mirror",
        outcome
            .seen
            .iter()
            .map(|(p, ..)| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        dir.join("<party>").display()
    );
    outln!(
        "submitted the demo's {} records in {} batches, in log order: each run of records by \
         one party, signed with its demo key, imported with --server from its own directory",
        outcome.records,
        outcome.batches
    );
    outln!("\nwhat each party sees in its own mirror (its balance in DKK):");
    for (party, held, root, balance) in &outcome.seen {
        outln!(
            "  {:<18} {held} records  root {root}  net {} (accrued {}, paid {}, outstanding {})",
            party.name,
            money(balance, "net"),
            money(balance, "accrued"),
            money(balance, "paid"),
            money(balance, "outstanding"),
        );
    }
    outln!(
        "\nthe same root on every mirror, on the operator's ledger and in the local demo (pbr demo): {}",
        outcome.root
    );
    outln!("{WITNESSES}");
    outln!(
        "stopped pbr serve (pid {}) and every process the demo started; their standard error is in {}",
        outcome.pid,
        log.display()
    );
    let fokus = dir.join("fokus-provider").join("mirror");
    outln!("\ntry:");
    outln!("  pbr --ledger {} balance", fokus.display());
    outln!(
        "  pbr --ledger {} log --kind settlement-issued",
        fokus.display()
    );
    outln!("  pbr --ledger {} verify", operator_ledger(dir).display());
}
