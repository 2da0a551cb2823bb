//! Running `pbr` and comparing against golden files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pbr_ledger::SignerKey;
use pbr_ledger::sample;

/// The output of one `pbr` run.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `pbr` with `args`, with no `PBR_LEDGER` from the outside.
pub(crate) fn pbr(args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_pbr"))
        .args(args)
        .env_remove("PBR_LEDGER")
        .output()
        .expect("pbr runs");
    Run {
        code: output.status.code().expect("pbr exits with a code"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `pbr` and insists on success.
pub(crate) fn pbr_ok(args: &[&str]) -> String {
    let run = pbr(args);
    assert_eq!(run.code, 0, "pbr {args:?} failed: {}", run.stderr);
    run.stdout
}

/// The repository's `tests/vectors/` directory.
pub(crate) fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// Compares `actual` with the golden file `name`, or rewrites it under `PBR_BLESS=1`.
pub(crate) fn golden(name: &str, actual: &str) {
    let path = vectors_dir().join(name);
    if std::env::var_os("PBR_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `just gen`", path.display()));
    assert!(
        expected == actual,
        "{} differs from what the program produces now; if the change is deliberate, run \
         `just gen` and review the diff",
        path.display()
    );
}

/// A demo ledger in a fresh temporary directory.
pub(crate) fn demo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo");
    let ledger = ledger.to_str().unwrap().to_owned();
    pbr_ok(&["demo", &ledger]);
    (dir, ledger)
}

/// The log key of a ledger of `origin`, named after the origin as a log key must be: the
/// demo's own for the demo's origin (its terms name it), else one derived from the origin,
/// so that every run signs the same bytes. Tests only: the seed is public.
pub(crate) fn log_key(origin: &str) -> SignerKey {
    if origin == sample::SAMPLE_ORIGIN {
        return sample::demo_log_key();
    }
    let seed = blake3::derive_key("pbr test log key v1", origin.as_bytes());
    SignerKey::from_seed(origin, seed).expect("test origins are valid key names")
}

/// The witness key of `party`, `<party>-witness`, derived from the party's id as the demo
/// derives its witnesses' keys ([`sample::demo_witness_key`]), so that every run cosigns the
/// same bytes: the `witness-key` of each quorum party in `tests/scenarios/*/contract.toml`.
/// Tests only: the seed is public.
pub(crate) fn witness_key(party: &str) -> SignerKey {
    sample::demo_witness_key(party)
}

/// Writes the private key `key` to `DIR/<name>.key` (a `/` of an origin made `_`, as
/// `pbr demo` names the log key's file) and returns the path.
pub(crate) fn key_file(dir: &Path, key: &SignerKey) -> String {
    let path = dir.join(format!("{}.key", key.name().replace('/', "_")));
    std::fs::write(&path, key.to_text()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// When the tests' witnesses cosign (Unix seconds): a day after the demo's last checkpoint,
/// fixed so that a checkpoint the tests cosign is the same bytes on every run.
pub(crate) const COSIGN_TIME: u64 = sample::SAMPLE_TIME + 86_400;

/// The state directory of `witness` (a key name) for `ledger`: the demo's own for a witness
/// the demo ran, so that it cosigns only what a consistency proof shows extends what it
/// cosigned there; else a directory beside the ledger, outside it, as a witness keeps it.
fn witness_state(ledger: &Path, witness: &str) -> PathBuf {
    let demo = ledger.join(sample::DEMO_WITNESS_DIR).join(witness);
    if demo.is_dir() {
        return demo;
    }
    let name = ledger.file_name().unwrap().to_str().unwrap();
    ledger
        .parent()
        .unwrap()
        .join(format!("{name}-witnesses"))
        .join(witness)
}

/// Where a test writes its key files for `ledger`: beside it, never inside it.
fn keys_dir(ledger: &str) -> PathBuf {
    let keys = Path::new(ledger).parent().unwrap().join("test-keys");
    std::fs::create_dir_all(&keys).unwrap();
    keys
}

/// Signs a checkpoint of the whole log of `ledger` with the log key of its `origin`
/// (`pbr checkpoint sign`), then has the witness of each party of `witnesses` cosign it
/// ([`cosign`]). Returns the note as the last command printed it.
pub(crate) fn checkpoint(ledger: &str, origin: &str, witnesses: &[&str]) -> String {
    let key = key_file(&keys_dir(ledger), &log_key(origin));
    let mut note = pbr_ok(&["--ledger", ledger, "checkpoint", "sign", "--key", &key]);
    for party in witnesses {
        note = cosign(ledger, origin, party);
    }
    note
}

/// Has the witness of `party` ([`witness_key`]) cosign the latest checkpoint of `ledger`
/// (`pbr witness cosign`, at [`COSIGN_TIME`]), which it does only if a consistency proof
/// shows it extends the last size it cosigned. For a ledger of another origin than the
/// demo's, the log key of its `origin` is given with `--log-key`, so that a ledger holding
/// no terms yet (or a migrated one, whose terms name no `[log]`) is cosigned too; the demo's
/// witnesses find it in the terms. Returns the cosigned note.
pub(crate) fn cosign(ledger: &str, origin: &str, party: &str) -> String {
    let witness = witness_key(party);
    let state = witness_state(Path::new(ledger), witness.name());
    let key = key_file(&keys_dir(ledger), &witness);
    let log_vkey = log_key(origin).verifier_key().to_string();
    let time = COSIGN_TIME.to_string();
    let mut args = vec![
        "--ledger",
        ledger,
        "witness",
        "cosign",
        "--key",
        &key,
        "--state",
        state.to_str().unwrap(),
        "--time",
        &time,
    ];
    if origin != sample::SAMPLE_ORIGIN {
        args.extend(["--log-key", &log_vkey]);
    }
    pbr_ok(&args)
}

/// The parties of the demo contract's checkpoint quorum, whose witnesses cosign.
pub(crate) const DEMO_QUORUM: [&str; 2] = ["aalborg-jobcenter", "fokus-provider"];

/// Signs a checkpoint of the whole demo ledger with the demo log key and has the quorum's
/// witnesses cosign it; returns the note.
pub(crate) fn demo_checkpoint(ledger: &str) -> String {
    checkpoint(ledger, sample::SAMPLE_ORIGIN, &DEMO_QUORUM)
}

/// The verifier keys an outside verifier of the demo trusts: the log key, then the quorum's
/// witness keys, as `pbr demo` prints them.
pub(crate) fn demo_trusted() -> Vec<String> {
    std::iter::once(sample::demo_log_key())
        .chain(DEMO_QUORUM.map(sample::demo_witness_key))
        .map(|key| key.verifier_key().to_string())
        .collect()
}

/// `name+keyid` of a verifier key `name+keyid+base64` (whose base64 may hold `+`), as
/// verdicts and quorums name signers.
pub(crate) fn key_id(vkey: &str) -> String {
    vkey.splitn(3, '+').take(2).collect::<Vec<_>>().join("+")
}

/// Opens a ledger's sled database behind its back, as a tamperer would. sled locks its file;
/// a child process forked by a parallel test holds a copy of that descriptor until it execs,
/// so the lock is retried briefly, as the ledger itself does when it opens sled.
pub(crate) fn raw_sled(path: &std::path::Path) -> sled::Db {
    for _ in 0..60 {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    panic!("{}: sled stayed locked", path.display())
}

/// Issues each of `quarters` in turn with `key` (a key file) and returns the seqs of their
/// `settlement-issued` events.
pub(crate) fn issue_quarters(ledger: &str, key: &str, quarters: &[&str]) -> Vec<u64> {
    quarters
        .iter()
        .map(|quarter| {
            let out: serde_json::Value = serde_json::from_str(&pbr_ok(&[
                "--ledger", ledger, "settle", "--period", quarter, "--issue", "--key", key,
                "--json",
            ]))
            .unwrap();
            out["issued_seq"].as_u64().unwrap()
        })
        .collect()
}

/// A small deterministic generator (SplitMix64), so that every trial of the fault suites
/// can be named and rerun.
pub(crate) struct Seeded(pub(crate) u64);

impl Seeded {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub(crate) fn next_below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// A test double of the operator's read API (`docs/protocol.md`, "Reads"): HTTP/1.1 `GET`
/// of the files of a tile directory behind `Authorization: Bearer <token>`, on 127.0.0.1
/// with a port the OS picks. The directory can be switched atomically ([`TileServer::serve`])
/// and every path asked for is remembered. One connection at a time, each closed after its
/// answer; the thread stops on drop.
pub(crate) struct TileServer {
    pub(crate) url: String,
    dir: std::sync::Arc<std::sync::Mutex<PathBuf>>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TileServer {
    pub(crate) fn start(dir: &Path, token: &str) -> TileServer {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared_dir = Arc::new(Mutex::new(dir.to_owned()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, r, s) = (shared_dir.clone(), requests.clone(), stop.clone());
        let token = token.to_owned();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = answer(stream, &d, &r, &token);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    Err(_) => break,
                }
            }
        });
        TileServer {
            url,
            dir: shared_dir,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// Serves `dir` from the next request on.
    pub(crate) fn serve(&self, dir: &Path) {
        *self.dir.lock().unwrap() = dir.to_owned();
    }

    /// The paths asked for since the last call.
    pub(crate) fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

impl Drop for TileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answers one request on `stream`.
fn answer(
    mut stream: std::net::TcpStream,
    dir: &std::sync::Mutex<PathBuf>,
    requests: &std::sync::Mutex<Vec<String>>,
    token: &str,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let request: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
    let authorised = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, value)| {
            name.eq_ignore_ascii_case("authorization") && value.trim() == format!("Bearer {token}")
        })
    });
    let reply = |stream: &mut std::net::TcpStream, status: &str, extra: &str, body: &[u8]| {
        write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        )?;
        stream.write_all(body)
    };
    let [method, target, _] = request[..] else {
        return reply(&mut stream, "400 Bad Request", "", b"bad request line\n");
    };
    if method != "GET" {
        return reply(&mut stream, "405 Method Not Allowed", "", b"GET only\n");
    }
    if !authorised {
        return reply(
            &mut stream,
            "401 Unauthorized",
            "WWW-Authenticate: Bearer\r\n",
            b"missing or unknown token\n",
        );
    }
    let path = target.trim_start_matches('/');
    requests.lock().unwrap().push(path.to_owned());
    let file = dir.lock().unwrap().join(path);
    if path.split('/').any(|part| part.is_empty() || part == "..") || !file.is_file() {
        return reply(&mut stream, "404 Not Found", "", b"not found\n");
    }
    let body = std::fs::read(&file)?;
    reply(&mut stream, "200 OK", "", &body)
}
