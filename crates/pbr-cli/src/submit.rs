//! Writing from one's own machine (`--server URL`, DESIGN §7): a write command prepares its
//! records against the party's own ledger (its mirror), signed with the party's own key,
//! submits them to the operator's `POST /add` (`docs/protocol.md`), waits for their indices
//! and keeps each record's receipt. The private key never leaves this process.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use pbr_ledger::{Ledger, VerifierKey};
use pbr_log::Record;
use pbr_log::note::SignedCheckpoint;
use pbr_log::tlog_proof::TlogProof;
use serde_json::json;

use crate::output::{outln, print_json};

/// Where a write command submits, and how it fetches receipts.
#[derive(Clone, Debug)]
pub(crate) struct Server {
    /// The server's base URL, without a trailing `/`.
    pub(crate) url: String,
    /// The party's read credential, for receipts.
    pub(crate) token: Option<String>,
    /// How long to wait for receipts.
    pub(crate) receipt_wait: Duration,
}

/// Receipts are fetched for at most this many records of one submission; the rest can be
/// made on the mirror after a pull (`pbr proof --seq N --format tlog-proof`).
const MAX_RECEIPTS: usize = 100;

/// How often a pending receipt is asked for again.
const RECEIPT_POLL: Duration = Duration::from_millis(250);

/// The largest answer read from the server.
const MAX_ANSWER: u64 = 16 << 20;

impl Server {
    /// The server of `--server URL` (`PBR_SERVER`), with the token of `--token-file`
    /// (`PBR_TOKEN_FILE`), if any.
    pub(crate) fn new(
        url: &str,
        token_file: Option<&Path>,
        receipt_wait: Duration,
    ) -> Result<Server> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(crate::commands::input(format!(
                "--server {url}: the server is an http:// or https:// URL"
            )));
        }
        let token = match token_file {
            None => None,
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| crate::commands::input(format!("{}: {e}", path.display())))?
                    .trim()
                    .to_owned(),
            ),
        };
        Ok(Server {
            url: url.trim_end_matches('/').to_owned(),
            token,
            receipt_wait,
        })
    }

    fn agent(&self) -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into()
    }
}

/// What the server answered for one submitted record.
#[derive(Clone, Debug)]
pub(crate) struct Placed {
    /// The record's index in the operator's log.
    pub(crate) index: u64,
    /// Whether the submission appended it (false: the log already held it).
    pub(crate) new: bool,
    /// Where its verified receipt was kept, if one came in time.
    pub(crate) receipt: Option<PathBuf>,
}

/// The body of `POST /add`: each record as a 2-byte big-endian length and its bytes.
pub(crate) fn frame(records: &[Record]) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    for record in records {
        let bytes = record.encode()?;
        let len = u16::try_from(bytes.len())
            .map_err(|_| anyhow!("a record of {} bytes is over 65,535", bytes.len()))?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(&bytes);
    }
    Ok(body)
}

/// What a submission did.
#[derive(Clone, Debug)]
pub(crate) struct Submitted {
    /// The server's URL.
    pub(crate) server: String,
    /// The operator's log size after the batch (`None` when nothing was submitted).
    pub(crate) size: Option<u64>,
    /// Each submitted record's place, in order.
    pub(crate) placed: Vec<Placed>,
    /// Why receipts are missing, if they are.
    pub(crate) note: Option<String>,
}

impl Submitted {
    /// The answer as JSON fields.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        json!({
            "server": self.server,
            "size": self.size,
            "records": self.placed.iter().map(|p| json!({
                "index": p.index,
                "new": p.new,
                "receipt": p.receipt,
            })).collect::<Vec<_>>(),
            "note": self.note,
        })
    }

    /// Prints what happened, one line per record, or the JSON answer.
    pub(crate) fn print(&self, json: bool) {
        if json {
            let mut value = self.to_json();
            if let Some(object) = value.as_object_mut() {
                object.insert("ok".into(), json!(true));
            }
            print_json(&value);
            return;
        }
        if self.placed.is_empty() {
            outln!("nothing submitted: the mirror already holds these facts");
        }
        for place in &self.placed {
            let what = if place.new {
                "appended"
            } else {
                "already recorded"
            };
            match &place.receipt {
                Some(path) => outln!(
                    "seq {}: {what} by {} (receipt {})",
                    place.index,
                    self.server,
                    path.display()
                ),
                None => outln!("seq {}: {what} by {}", place.index, self.server),
            }
        }
        if let Some(note) = &self.note {
            outln!("{note}");
        }
    }
}

/// Submits `records` (prepared by `ledger`) as one batch, and keeps their receipts in
/// `ledger`'s directory.
pub(crate) fn submit(
    server: &Server,
    ledger: &mut Ledger,
    records: Vec<Record>,
) -> Result<Submitted> {
    if records.is_empty() {
        return Ok(Submitted {
            server: server.url.clone(),
            size: None,
            placed: Vec::new(),
            note: None,
        });
    }
    let body = frame(&records)?;
    let agent = server.agent();
    let url = format!("{}/add", server.url);
    let response = agent
        .post(&url)
        .header("Content-Type", "application/octet-stream")
        .send(&body[..])
        .map_err(|e| unreachable(&server.url, &e))?;
    let status = response.status().as_u16();
    let text = read_text(response)?;
    if status != 200 {
        let line = text.lines().next().unwrap_or("").trim();
        let refused = format!("the server refused the submission ({status}): {line}");
        return Err(if (400..500).contains(&status) {
            crate::commands::input(refused)
        } else {
            ServerError(refused).into()
        });
    }
    let answer: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{url}: the answer is not JSON: {}", first_line(&text)))?;
    let placed = answer["records"]
        .as_array()
        .filter(|list| list.len() == records.len())
        .ok_or_else(|| {
            anyhow!(
                "{url}: the answer names {} records, not the {} submitted",
                answer["records"].as_array().map_or(0, Vec::len),
                records.len()
            )
        })?;
    let mut results = Vec::with_capacity(records.len());
    for entry in placed {
        let (Some(index), Some(new)) = (entry["index"].as_u64(), entry["new"].as_bool()) else {
            return Err(anyhow!("{url}: an answer without index and new: {entry}"));
        };
        results.push(Placed {
            index,
            new,
            receipt: None,
        });
    }
    // The receipts: only with a read credential, and only for a bounded number of records.
    let mut receipt_note = None;
    if server.token.is_none() {
        receipt_note = Some("no receipt fetched: give --token-file to fetch receipts".to_owned());
    } else if records.len() > MAX_RECEIPTS {
        receipt_note = Some(format!(
            "no receipts fetched for a batch of more than {MAX_RECEIPTS} records: pull the \
             mirror and make them with `pbr proof --seq N --format tlog-proof`"
        ));
    } else {
        // The log keys a receipt's checkpoint may be signed by: those the terms in force
        // name, and the one the mirror was cloned with (the terms may not be there yet:
        // the first record registers them).
        let mut log_keys: Vec<VerifierKey> =
            ledger.log_keys()?.into_iter().map(|(_, k)| k).collect();
        if let Some(config) = pbr_mirror::is_mirror(ledger.log().dir()) {
            log_keys.push(
                VerifierKey::parse(&config.log_key)
                    .map_err(|e| anyhow!("{}: log_key: {e}", pbr_mirror::MIRROR_FILE))?,
            );
        }
        let dir = ledger.log().dir().join("receipts");
        let deadline = Instant::now() + server.receipt_wait;
        for (place, record) in results.iter_mut().zip(&records) {
            if !place.new {
                // The log holds this fact already, as the record first submitted for it
                // (another recorded_at, another signature): a receipt proves that record,
                // not the one signed here. The mirror makes it after a pull.
                continue;
            }
            match fetch_receipt(server, &agent, place.index, record, &log_keys, deadline)? {
                Some(text) => {
                    std::fs::create_dir_all(&dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
                    let path = dir.join(format!("{}.tlog-proof", place.index));
                    crate::atomic::write_file(
                        &path,
                        text.as_bytes(),
                        crate::atomic::Existing::forced(true),
                    )?;
                    place.receipt = Some(path);
                }
                None => {
                    receipt_note = Some(format!(
                        "receipts pending: no published checkpoint covered the records within \
                         {} s; pull the mirror later and make them with `pbr proof --seq N \
                         --format tlog-proof`",
                        server.receipt_wait.as_secs()
                    ));
                    break;
                }
            }
        }
    }
    Ok(Submitted {
        server: server.url.clone(),
        size: answer["size"].as_u64(),
        placed: results,
        note: receipt_note,
    })
}

/// Asks for the receipt of the record at `index` until one comes or `deadline` passes;
/// a receipt that comes is checked (the record's leaf, the path, the checkpoint signed by
/// one of `log_keys`) before it is returned.
fn fetch_receipt(
    server: &Server,
    agent: &ureq::Agent,
    index: u64,
    record: &Record,
    log_keys: &[VerifierKey],
    deadline: Instant,
) -> Result<Option<String>> {
    let url = format!("{}/receipt/{index}", server.url);
    let token = server.token.as_deref().unwrap_or_default();
    // Bounded: one request per poll interval until the deadline.
    let polls = (server.receipt_wait.as_millis() / RECEIPT_POLL.as_millis()).max(1) + 1;
    for _ in 0..polls {
        let response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {token}"))
            .call()
            .map_err(|e| unreachable(&server.url, &e))?;
        let status = response.status().as_u16();
        let text = read_text(response)?;
        match status {
            200 => {
                check_receipt(&text, index, record, log_keys)
                    .map_err(|e| anyhow!("{url}: the receipt does not verify: {e}"))?;
                return Ok(Some(text));
            }
            404 if Instant::now() < deadline => std::thread::sleep(RECEIPT_POLL),
            404 => return Ok(None),
            _ => {
                return Err(anyhow!(
                    "{url}: the server answered {status}: {}",
                    first_line(&text)
                ));
            }
        }
    }
    Ok(None)
}

/// Checks a receipt for `record` at `index`: the checkpoint is signed by one of `log_keys`,
/// and the path leads from the record's leaf to its root.
fn check_receipt(text: &str, index: u64, record: &Record, log_keys: &[VerifierKey]) -> Result<()> {
    let receipt = TlogProof::parse(text)?;
    if receipt.index() != index {
        return Err(anyhow!("it is for index {}, not {index}", receipt.index()));
    }
    let note = SignedCheckpoint::parse(receipt.checkpoint())?;
    if log_keys.is_empty() {
        return Err(anyhow!(
            "no log key to check it against: the ledger's terms name none and it is not a \
             mirror"
        ));
    }
    if note.signers(log_keys)?.is_empty() {
        return Err(anyhow!(
            "its checkpoint is not signed by the log key the terms (or the mirror) name"
        ));
    }
    let leaf = pbr_log::hash::leaf_hash(&record.encode()?);
    receipt.verify(&leaf, note.checkpoint.size, &note.checkpoint.root)?;
    Ok(())
}

fn read_text(response: ureq::http::Response<ureq::Body>) -> Result<String> {
    let mut text = String::new();
    response
        .into_body()
        .into_reader()
        .take(MAX_ANSWER)
        .read_to_string(&mut text)
        .context("reading the server's answer")?;
    Ok(text)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim()
}

fn unreachable(url: &str, e: &ureq::Error) -> anyhow::Error {
    ServerError(format!("cannot reach the server {url}: {e}")).into()
}

/// The server could not be reached, or failed (a `5xx`): exit code [`crate::exit_code::NETWORK`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ServerError(pub(crate) String);

/// The server of `--server`, set once by `run`.
pub(crate) static SERVER: std::sync::OnceLock<Option<Server>> = std::sync::OnceLock::new();

/// Before a write command appends to `ledger`: with `--server`, puts it in preparing mode
/// and returns the server to submit to; without, refuses a mirror (whose log is the
/// operator's, so a local append would fork it) and returns `None`.
pub(crate) fn before_writing(ledger: &mut Ledger) -> Result<Option<&'static Server>> {
    if let Some(server) = SERVER.get().and_then(Option::as_ref) {
        ledger.prepare_only();
        return Ok(Some(server));
    }
    let dir = ledger.log().dir();
    if dir.join(pbr_mirror::MIRROR_FILE).exists() {
        return Err(crate::commands::input(format!(
            "ledger {} is a mirror of an operator's log: a write goes to the operator with \
             --server URL (or PBR_SERVER), signed here",
            dir.display()
        )));
    }
    Ok(None)
}
