//! `pbr serve` end to end (`docs/protocol.md`): real servers on 127.0.0.1 with a port the
//! system picks, real HTTP, every child stopped by a guard that runs on failure too.
//!
//! The records submitted are the demo's, signed by the demo's parties: the `record_hex` of
//! an export of a demo ledger, submitted to a server over a fresh ledger of the same origin,
//! exactly as a party's machine would submit records it signed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pbr_ledger::sample;
use pbr_log::tiles::{TileReader, TileSource, tiles_for_size};
use pbr_log::{Record, SignedCheckpoint, TileError, TlogProof};

use crate::support::{key_file, log_key, pbr, pbr_ok};

/// The demo's records, in log order (built once for every test of this module).
pub(crate) fn demo_records() -> &'static [Vec<u8>] {
    static RECORDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let (_dir, ledger) = crate::support::demo();
        let export = pbr_ok(&["--ledger", &ledger, "export"]);
        export
            .lines()
            .filter_map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).ok()?;
                let hex = value.get("record_hex")?.as_str()?.to_owned();
                Some(pbr_core::ids::parse_hex_vec(&hex).unwrap())
            })
            .collect()
    })
}

/// Records framed as a `POST /add` body: u16 BE length, then the bytes, for each.
pub(crate) fn frame(records: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for record in records {
        body.extend_from_slice(&u16::try_from(record.len()).unwrap().to_be_bytes());
        body.extend_from_slice(record);
    }
    body
}

/// A fresh ledger of the demo's origin in `dir`, and the demo log key's file beside it.
pub(crate) fn fresh_ledger(dir: &Path) -> (String, String) {
    let ledger = dir.join("ledger").to_str().unwrap().to_owned();
    pbr_ok(&["init", &ledger, "--origin", sample::SAMPLE_ORIGIN]);
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let key = key_file(&keys, &log_key(sample::SAMPLE_ORIGIN));
    (ledger, key)
}

/// Issues a token for `party` with `pbr serve token`.
pub(crate) fn token(ledger: &str, party: &str, operator: bool) -> String {
    let mut args = vec!["--ledger", ledger, "serve", "token", party, "--json"];
    if operator {
        args.push("--operator");
    }
    let out: serde_json::Value = serde_json::from_str(&pbr_ok(&args)).unwrap();
    out["token"].as_str().unwrap().to_owned()
}

/// A running `pbr serve`, killed (and waited for) when dropped.
pub(crate) struct Server {
    child: Child,
    /// Held open so that the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    address: String,
    agent: ureq::Agent,
    stderr: std::path::PathBuf,
}

/// An HTTP answer: status, headers, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    headers: ureq::http::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

impl Server {
    /// Starts `pbr serve` on `ledger` with `extra` options and reads the port from its first
    /// line of output (within 60 s).
    pub(crate) fn start(ledger: &str, key: &str, extra: &[&str]) -> Server {
        let stderr = Path::new(ledger)
            .parent()
            .unwrap()
            .join(format!("serve-{}.log", std::process::id()));
        let log = std::fs::File::create(&stderr).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pbr"))
            .args(["--ledger", ledger, "serve", "--listen", "127.0.0.1:0"])
            .args(["--log-key", key])
            .args(extra)
            .env_remove("PBR_LEDGER")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("pbr serve starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // The first line arrives within the deadline, or the child is killed, which ends
        // the read.
        let (sender, receiver) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            let _ = sender.send(());
            (read.map(|_| line), stdout)
        });
        if receiver.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
        }
        let (line, stdout) = reader.join().unwrap();
        let line = line.unwrap();
        let Some(address) = line
            .strip_prefix("listening on http://")
            .map(|a| a.trim().to_owned())
        else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "pbr serve printed {line:?}; stderr: {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Server {
            child,
            _stdout: stdout,
            address,
            agent,
            stderr,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = response.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.agent.get(self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Server::answer(request.call())
    }

    pub(crate) fn post(&self, path: &str, token: Option<&str>, body: &[u8]) -> Answer {
        let mut request = self
            .agent
            .post(self.url(path))
            .header("Content-Type", "application/octet-stream");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        Server::answer(request.send(body))
    }

    pub(crate) fn add(&self, records: &[Vec<u8>]) -> Answer {
        self.post("/add", None, &frame(records))
    }

    /// Sends `request` as raw bytes on a new connection and returns what comes back before
    /// the server closes it or `limit` passes.
    fn raw(&self, request: &[u8], limit: Duration) -> String {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream.set_read_timeout(Some(limit)).unwrap();
        stream.write_all(request).unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    }

    /// Sends SIGTERM and waits (at most 60 s) for the exit code.
    pub(crate) fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                Instant::now() < deadline,
                "pbr serve did not stop on SIGTERM; stderr: {}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Server {
    /// Kills the server with SIGKILL, as a crash would, and waits for it: no request in
    /// flight is finished, the ledger is not closed.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("SIGKILL is sent");
        let status = self.child.wait().expect("the server is reaped");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9),
            "pbr serve ended before it was killed: {status}; stderr: {}",
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(index, new)` of each record of a `200` answer, and the size.
pub(crate) fn indices(answer: &Answer) -> (u64, Vec<(u64, bool)>) {
    assert_eq!(answer.status, 200, "{}", answer.text());
    let value: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let records = value["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["new"].as_bool().unwrap()))
        .collect();
    (value["size"].as_u64().unwrap(), records)
}

/// The size of a ledger's log, from `pbr verify --json` (the server must be stopped).
pub(crate) fn verified_size(ledger: &str) -> u64 {
    let out: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", ledger, "verify", "--json"])).unwrap();
    out["records"].as_u64().unwrap()
}

/// A tile tree read over HTTP with a token, for `pbr_log::tiles::TileReader`.
struct HttpTiles<'a> {
    server: &'a Server,
    token: String,
}

impl TileSource for HttpTiles<'_> {
    fn fetch(&self, path: &str) -> Result<Option<Vec<u8>>, TileError> {
        let answer = self.server.get(&format!("/{path}"), Some(&self.token));
        match answer.status {
            200 => Ok(Some(answer.body)),
            404 => Ok(None),
            status => Err(TileError::OutOfRange(format!(
                "{path}: HTTP {status}: {}",
                answer.text()
            ))),
        }
    }
}

#[test]
fn serve_appends_batches_once_publishes_tiles_and_receipts_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, key) = fresh_ledger(dir.path());
    let reader = token(&ledger, "fokus-provider", false);
    let operator = token(&ledger, "operator", true);
    let records = demo_records();
    let server = Server::start(&ledger, &key, &["--checkpoint-every", "3600"]);

    // A batch is accepted with its indices; the same batch again appends nothing.
    let (size, first) = indices(&server.add(&records[..40]));
    assert_eq!(size, 40);
    assert_eq!(first, (0..40).map(|i| (i, true)).collect::<Vec<_>>());
    let (size, again) = indices(&server.add(&records[..40]));
    assert_eq!(size, 40);
    assert_eq!(again, (0..40).map(|i| (i, false)).collect::<Vec<_>>());
    // Old and new in one body, and a record twice: counted once, at its first index.
    let mut mixed = records[30..50].to_vec();
    mixed.push(records[45].clone());
    let (size, answer) = indices(&server.add(&mixed));
    assert_eq!(size, 50);
    let expected: Vec<(u64, bool)> = (30..50)
        .map(|i| (i, i >= 40))
        .chain([(45, false)])
        .collect();
    assert_eq!(answer, expected);

    // Before any checkpoint of the records: the empty log's checkpoint (size 0, published
    // at start, so that parties can clone the log before its first record), and a receipt
    // is not yet there.
    let empty = server.get("/checkpoint", Some(&reader));
    assert_eq!(empty.status, 200, "{}", empty.text());
    let empty = SignedCheckpoint::parse(&empty.text()).unwrap();
    assert_eq!(empty.checkpoint.size, 0);
    assert_eq!(empty.checkpoint.root, pbr_log::hash::EMPTY_ROOT);
    let early = server.get("/receipt/3", Some(&reader));
    assert_eq!(early.status, 404, "{}", early.text());
    assert!(early.header("retry-after").is_some());

    // A reader may not ask for a checkpoint; the operator may.
    assert_eq!(server.post("/checkpoint", Some(&reader), b"").status, 403);
    let signed = server.post("/checkpoint", Some(&operator), b"");
    assert_eq!(signed.status, 200, "{}", signed.text());
    let published = server.get("/checkpoint", Some(&reader));
    assert_eq!(published.status, 200);
    assert_eq!(published.text(), signed.text());
    assert_eq!(
        published.header("cache-control").as_deref(),
        Some("no-cache, max-age=0")
    );
    let note = SignedCheckpoint::parse(&published.text()).unwrap();
    let log_vkey = log_key(sample::SAMPLE_ORIGIN).verifier_key();
    assert!(
        !note
            .verify(std::slice::from_ref(&log_vkey))
            .unwrap()
            .is_empty()
    );
    let (size, root) = (note.checkpoint.size, note.checkpoint.root);
    assert_eq!(size, 50);

    // Every tile the checkpoint needs is served, immutable, and the tiles are a real
    // tlog-tiles tree: a tile reader over HTTP verifies every record against the root.
    for path in tiles_for_size(size) {
        let tile = server.get(&format!("/{path}"), Some(&reader));
        assert_eq!(tile.status, 200, "{path}: {}", tile.text());
        assert_eq!(
            tile.header("cache-control").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
    }
    let tiles = TileReader::new(HttpTiles {
        server: &server,
        token: reader.clone(),
    });
    assert_eq!(tiles.root(size).unwrap(), root);
    let mut read = Vec::new();
    tiles
        .verify_all(size, &root, |seq, bytes| {
            read.push((seq, bytes.to_vec()));
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    assert_eq!(read.len(), 50);
    for (seq, bytes) in &read {
        assert_eq!(bytes, &records[*seq as usize]);
    }
    assert_eq!(tiles.record(7, size, &root).unwrap(), records[7]);

    // A receipt against the published checkpoint verifies.
    let receipt = server.get("/receipt/45", Some(&reader));
    assert_eq!(receipt.status, 200, "{}", receipt.text());
    let proof = TlogProof::parse(&receipt.text()).unwrap();
    assert_eq!(proof.index(), 45);
    proof
        .verify(&pbr_log::hash::leaf_hash(&records[45]), size, &root)
        .unwrap();
    // No record: 404 without Retry-After.
    let none = server.get("/receipt/50", Some(&reader));
    assert_eq!(none.status, 404);
    assert!(none.header("retry-after").is_none());
    // A record after the published checkpoint: 404 with Retry-After.
    let (size, _) = indices(&server.add(&records[50..60]));
    assert_eq!(size, 60);
    let later = server.get("/receipt/55", Some(&reader));
    assert_eq!(later.status, 404);
    assert!(later.header("retry-after").is_some());
    // A tile beyond the published tree is not served.
    assert_eq!(
        server.get("/tile/entries/000.p/51", Some(&reader)).status,
        404
    );

    // SIGTERM: exit 0, and the ledger verifies with every record acknowledged.
    assert_eq!(server.stop(), 0);
    assert_eq!(verified_size(&ledger), 60);

    // Nothing the server wrote holds a CPR number.
    let stored: Vec<(String, Vec<u8>)> = crate::privacy::files(Path::new(&ledger))
        .into_iter()
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    assert!(stored.iter().any(|(path, _)| path.contains("server/tiles")));
    for n in 1..=24 {
        let cpr = sample::demo_cpr(n);
        let compact = cpr.replace('-', "");
        for needle in [cpr.as_bytes(), compact.as_bytes()] {
            for (path, bytes) in &stored {
                assert!(
                    !crate::privacy::contains(bytes, needle),
                    "CPR number of citizen {n} found in {path}"
                );
            }
        }
    }
}

#[test]
fn serve_refuses_bad_bodies_and_credentials_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, key) = fresh_ledger(dir.path());
    let reader = token(&ledger, "fokus-provider", false);
    let records = demo_records();
    let server = Server::start(&ledger, &key, &["--max-body", "4096"]);

    // A signature that does not verify: 403, naming the record.
    let mut forged = Record::decode(&records[0]).unwrap();
    forged.signature[10] ^= 1;
    let answer = server.add(&[forged.encode().unwrap()]);
    assert_eq!(answer.status, 403, "{}", answer.text());
    assert!(
        answer.text().starts_with("record 0: signature"),
        "{}",
        answer.text()
    );

    // Validly signed, but by another party's key than its author's: an admission rule, 422.
    let original = Record::decode(&records[0]).unwrap();
    let other = sample::demo_key("fokus-provider");
    let resigned = Record::sign(original.event_bytes.clone(), other.signing_key()).unwrap();
    let answer = server.add(&[resigned.encode().unwrap()]);
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert!(answer.text().starts_with("record 0: "), "{}", answer.text());
    assert_eq!(answer.text().lines().count(), 1);
    // A record signed by another party than its author, after a good one: 422, and the
    // good one is not appended either (the body is one batch).
    let second = Record::decode(&records[1]).unwrap();
    let resigned = Record::sign(second.event_bytes, other.signing_key()).unwrap();
    let answer = server.add(&[records[0].clone(), resigned.encode().unwrap()]);
    assert_eq!(answer.status, 422, "{}", answer.text());
    assert!(answer.text().starts_with("record 1: "), "{}", answer.text());

    // Framing: empty, truncated, trailing bytes, a record that does not decode: 400.
    for body in [
        Vec::new(),
        vec![0u8],
        vec![0, 200, 1, 2, 3],
        vec![0, 3, 1, 0, 0],
    ] {
        let answer = server.post("/add", None, &body);
        assert_eq!(answer.status, 400, "{body:?}: {}", answer.text());
    }
    // Over the body limit: 413.
    let answer = server.post("/add", None, &vec![0u8; 5000]);
    assert_eq!(answer.status, 413, "{}", answer.text());
    assert!(answer.text().contains("--max-body"), "{}", answer.text());
    // Without a declared length (chunked), the limit still holds. The server may close the
    // connection before it has read all that was sent, which can reset it before its answer
    // is read here: no answer is accepted, any other status is not.
    let mut chunked =
        b"POST /add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n1388\r\n"
            .to_vec();
    chunked.extend_from_slice(&[0u8; 5000]);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let answer = server.raw(&chunked, Duration::from_secs(30));
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 413"),
        "{answer}"
    );

    // Reads need a known token.
    for token in [None, Some("not-a-token")] {
        let answer = server.get("/checkpoint", token);
        assert_eq!(answer.status, 401);
        assert_eq!(answer.header("www-authenticate").as_deref(), Some("Bearer"));
    }
    let answer = server.raw(
        b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nAuthorization: Basic abc\r\nConnection: close\r\n\r\n",
        Duration::from_secs(30),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // Tile paths outside the grammar, traversal included, never reach the disk.
    for path in [
        "/tile/../checkpoint",
        "/tile/entries/../../sled/db",
        "/tile/0/%2e%2e/%2e%2e/COMMITTED",
        "/tile/0/001/../../../LOCK",
        "/tile/00/000",
        "/tile/0/x000/001",
    ] {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {reader}\r\nConnection: close\r\n\r\n"
        );
        let answer = server.raw(request.as_bytes(), Duration::from_secs(30));
        assert!(
            answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 404"),
            "{path}: {answer}"
        );
    }

    // Nothing was appended.
    assert_eq!(server.stop(), 0);
    assert_eq!(verified_size(&ledger), 0);
}

#[test]
fn serve_limits_rate_and_slow_clients_checkpoints_on_schedule_and_is_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, key) = fresh_ledger(dir.path());
    let reader = token(&ledger, "fokus-provider", false);
    let records = demo_records();
    let server = Server::start(
        &ledger,
        &key,
        &["--rate", "1", "--timeout", "1", "--checkpoint-every", "1"],
    );

    // One record per second per key: the second at once is refused, with Retry-After.
    let (size, _) = indices(&server.add(&records[..1]));
    assert_eq!(size, 1);
    let answer = server.add(&records[..1]);
    assert_eq!(answer.status, 429, "{}", answer.text());
    assert!(answer.header("retry-after").is_some());

    // Half a body, then silence: 408 after the time-out, not never.
    let started = Instant::now();
    let answer = server.raw(
        b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n\x00\x10abc",
        Duration::from_secs(30),
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(20));

    // The schedule publishes a checkpoint once the log has grown.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = server.get("/checkpoint", Some(&reader));
        if answer.status == 200
            && SignedCheckpoint::parse(&answer.text())
                .unwrap()
                .checkpoint
                .size
                == 1
        {
            break;
        }
        assert!(Instant::now() < deadline, "no checkpoint was published");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A second server on the same ledger is refused: the ledger's lock.
    let second = pbr(&[
        "--ledger",
        &ledger,
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-key",
        &key,
    ]);
    assert_eq!(second.code, 4, "{}", second.stderr);
    assert!(second.stderr.contains("in use"), "{}", second.stderr);

    assert_eq!(server.stop(), 0);
    assert_eq!(verified_size(&ledger), 1);
}

#[test]
fn serve_token_keeps_only_a_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = fresh_ledger(dir.path());
    let token = token(&ledger, "fokus-provider", false);
    let file = Path::new(&ledger).join("server/tokens");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&token));
    assert_eq!(
        text,
        format!(
            "fokus-provider reader {}\n",
            blake3::hash(token.as_bytes()).to_hex()
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let run = pbr(&["--ledger", "/nonexistent/ledger", "serve", "token", "x"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
}
