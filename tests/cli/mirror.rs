//! `pbr clone`, `pbr pull` and `pbr fork verify` against a test double of the operator's
//! read API ([`TileServer`]) serving directories that `pbr export --tiles` wrote: a mirror
//! reads as the operator's ledger, grows incrementally, and refuses tampered tiles, a
//! rollback, a fork (with evidence that `pbr fork verify` accepts, and a doctored copy it
//! rejects) and a bad token; a pull killed at seeded moments leaves a mirror that verifies
//! and that the next pull completes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pbr_ledger::sample;
use serde_json::Value;

use crate::support::{DEMO_QUORUM, Seeded, TileServer, checkpoint, demo, pbr, pbr_ok};

const TOKEN: &str = "s3cret-token-of-fokus";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    source: String,
    policy: String,
    token_file: String,
    server: TileServer,
}

impl Fixture {
    /// The demo, exported as tiles into `tiles-0` and served.
    fn new() -> Fixture {
        let (dir, source) = demo();
        let root = dir.path().to_owned();
        let tiles = root.join("tiles-0");
        export_tiles(&source, &tiles);
        let token_file = root.join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let server = TileServer::start(&tiles, TOKEN);
        Fixture {
            policy: format!("{source}/demo-keys/policy"),
            token_file: token_file.to_str().unwrap().to_owned(),
            _dir: dir,
            root,
            source,
            server,
        }
    }

    fn path(&self, name: &str) -> String {
        self.root.join(name).to_str().unwrap().to_owned()
    }

    /// Clones the served log into `name` with the demo's policy and the token.
    fn clone(&self, name: &str) -> String {
        let mirror = self.path(name);
        pbr_ok(&[
            "clone",
            &self.server.url,
            &mirror,
            "--policy",
            &self.policy,
            "--token-file",
            &self.token_file,
        ]);
        mirror
    }
}

fn export_tiles(ledger: &str, dir: &Path) {
    pbr_ok(&[
        "--ledger",
        ledger,
        "export",
        "--tiles",
        dir.to_str().unwrap(),
    ]);
}

/// Appends `count` payments of distinct amounts by the jobcentre to `ledger` (a demo or a
/// copy of it) with one import, and signs and cosigns a checkpoint of the whole log.
fn grow(ledger: &str, count: usize, cents_from: usize) {
    let dir = Path::new(ledger).parent().unwrap();
    let file = dir.join(format!("pays-{cents_from}-{count}.csv"));
    let mut text = String::from("kind,contract,date,author,from,to,amount\n");
    for row in 0..count {
        let cents = cents_from + row;
        text.push_str(&format!(
            "payment-recorded,{},2026-01-15,aalborg-jobcenter,aalborg-jobcenter,fokus-provider,\
             {}.{:02}\n",
            sample::SAMPLE_CONTRACT,
            1 + cents / 100,
            cents % 100
        ));
    }
    std::fs::write(&file, text).unwrap();
    let key = format!(
        "{}/demo-keys/aalborg-jobcenter.key",
        sample_keys_ledger(ledger)
    );
    pbr_ok(&[
        "--ledger",
        ledger,
        "import",
        file.to_str().unwrap(),
        "--key",
        &key,
    ]);
    checkpoint(ledger, sample::SAMPLE_ORIGIN, &DEMO_QUORUM);
}

/// The demo directory whose `demo-keys/` holds the demo's key files: the ledger itself, or
/// for a copy beside it, the demo's.
fn sample_keys_ledger(ledger: &str) -> String {
    let own = Path::new(ledger).join("demo-keys");
    if own.is_dir() {
        return ledger.to_owned();
    }
    Path::new(ledger)
        .parent()
        .unwrap()
        .join("demo")
        .to_str()
        .unwrap()
        .to_owned()
}

fn json(args: &[&str]) -> Value {
    let mut line = args.to_vec();
    line.push("--json");
    serde_json::from_str(&pbr_ok(&line)).unwrap()
}

fn root_and_records(ledger: &str) -> (String, u64) {
    let report = json(&["--ledger", ledger, "verify"]);
    (
        report["root"].as_str().unwrap().to_owned(),
        report["records"].as_u64().unwrap(),
    )
}

fn pull(mirror: &str) -> crate::support::Run {
    pbr(&["--ledger", mirror, "pull", "--json"])
}

#[test]
fn a_clone_of_the_demo_reads_as_the_operators_ledger() {
    let fixture = Fixture::new();
    let mirror = fixture.clone("mirror");
    assert_eq!(root_and_records(&mirror), root_and_records(&fixture.source));
    assert!(Path::new(&mirror).join("MIRROR.json").is_file());
    for args in [
        vec!["balance"],
        vec!["balance", "--json"],
        vec!["settle", "--period", "2026-Q1"],
        vec!["audit", "--policy", &fixture.policy],
        vec!["explain", "581"],
        vec!["proof", "--seq", "42", "--json"],
    ] {
        let on = |ledger: &str| {
            let mut line = vec!["--ledger", ledger];
            line.extend(&args);
            pbr_ok(&line)
        };
        assert_eq!(on(&mirror), on(&fixture.source), "pbr {args:?}");
    }
    // The audit report is the operator's but for the list of stored checkpoints: a mirror
    // holds those it pulled (tlog-tiles serves only the latest), not the operator's history.
    let report = |ledger: &str| {
        let mut report = json(&["--ledger", ledger, "report", "audit", "--format", "json"]);
        let checkpoints = report
            .as_object_mut()
            .unwrap()
            .remove("checkpoints")
            .unwrap();
        (report, checkpoints.as_array().unwrap().last().cloned())
    };
    assert_eq!(report(&mirror), report(&fixture.source));
    // Verifying the mirror against the policy passes, as on the operator's ledger.
    pbr_ok(&["--ledger", &mirror, "verify", "--policy", &fixture.policy]);
    // The export of the mirror is the operator's, record for record.
    assert_eq!(
        pbr_ok(&["--ledger", &mirror, "export"]),
        pbr_ok(&["--ledger", &fixture.source, "export"])
    );
}

#[test]
fn a_pull_fetches_only_what_is_new_and_a_second_is_a_no_op() {
    let fixture = Fixture::new();
    let mirror = fixture.clone("mirror");
    let (_, before) = root_and_records(&mirror);
    grow(&fixture.source, 300, 0);
    export_tiles(&fixture.source, &fixture.root.join("tiles-0"));
    fixture.server.take_requests();
    let run = pull(&mirror);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["from"], before);
    assert_eq!(report["appended"], 300);
    assert_eq!(root_and_records(&mirror), root_and_records(&fixture.source));
    // Only the bundles from the mirror's length on: none below its last partial bundle.
    let first_new_bundle = before / 256;
    let bundles: Vec<String> = fixture
        .server
        .take_requests()
        .into_iter()
        .filter(|path| path.starts_with("tile/entries/"))
        .collect();
    assert_eq!(report["bundles_fetched"], bundles.len() as u64);
    for path in &bundles {
        let index: u64 = path
            .trim_start_matches("tile/entries/")
            .split(".p")
            .next()
            .unwrap()
            .replace(['x', '/'], "")
            .parse()
            .unwrap();
        assert!(index >= first_new_bundle, "{path} was fetched again");
    }
    // Nothing new: nothing fetched but the checkpoint and the tiles to check it.
    let run = pull(&mirror);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["appended"], 0);
    assert!(
        !fixture
            .server
            .take_requests()
            .iter()
            .any(|p| p.starts_with("tile/entries/")),
        "a no-op pull fetched entries"
    );
}

/// Copies a tile directory.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn tampered_tiles_and_a_rollback_are_refused_and_leave_the_mirror_as_it_was() {
    let fixture = Fixture::new();
    let old_tiles = fixture.root.join("tiles-old");
    copy_dir(&fixture.root.join("tiles-0"), &old_tiles);
    let mirror = fixture.clone("mirror");
    grow(&fixture.source, 5, 0);
    let grown = fixture.root.join("tiles-grown");
    export_tiles(&fixture.source, &grown);

    // One flipped byte in the last entry bundle, which holds the new records.
    let tampered = fixture.root.join("tiles-tampered");
    copy_dir(&grown, &tampered);
    let (_, size) = root_and_records(&fixture.source);
    let bundle = tampered.join(format!("tile/entries/{:03}.p/{}", size / 256, size % 256));
    let mut bytes = std::fs::read(&bundle).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x01;
    std::fs::write(&bundle, bytes).unwrap();
    fixture.server.serve(&tampered);
    let before = root_and_records(&mirror);
    let run = pull(&mirror);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("does not verify"), "{}", run.stderr);
    assert_eq!(root_and_records(&mirror), before, "the mirror changed");

    // The honest tree is taken.
    fixture.server.serve(&grown);
    assert_eq!(pull(&mirror).code, 0);
    assert_eq!(root_and_records(&mirror), root_and_records(&fixture.source));

    // Then the older checkpoint again: a rollback, refused, nothing changed.
    fixture.server.serve(&old_tiles);
    let before = root_and_records(&mirror);
    let run = pull(&mirror);
    assert_eq!(run.code, 5, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("rollback"), "{}", run.stderr);
    assert_eq!(root_and_records(&mirror), before);
    assert!(!Path::new(&mirror).join("forks").exists());
}

#[test]
fn a_fork_is_refused_with_evidence_that_fork_verify_checks() {
    let fixture = Fixture::new();
    let export = fixture.path("prefix.jsonl");
    pbr_ok(&["--ledger", &fixture.source, "export", "--out", &export]);
    let mirror = fixture.clone("mirror");
    // The operator shows the mirror one history ...
    grow(&fixture.source, 1, 0);
    export_tiles(&fixture.source, &fixture.root.join("tiles-0"));
    assert_eq!(pull(&mirror).code, 0);
    // ... and another, from the same prefix, under the same log key and witnesses.
    let other = fixture.path("other");
    pbr_ok(&["restore", "--from", &export, &other]);
    grow(&other, 2, 500);
    let forked = fixture.root.join("tiles-forked");
    export_tiles(&other, &forked);
    fixture.server.serve(&forked);
    let before = root_and_records(&mirror);
    let run = pull(&mirror);
    assert_eq!(run.code, 7, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("fork"), "{}", run.stderr);
    assert_eq!(root_and_records(&mirror), before, "the mirror changed");

    let forks: Vec<PathBuf> = std::fs::read_dir(Path::new(&mirror).join("forks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(forks.len(), 1);
    let file = forks[0].to_str().unwrap();
    let log_key = sample::demo_log_key().verifier_key().to_string();
    let holds = pbr_ok(&["fork", "verify", file, "--log-key", &log_key]);
    assert!(holds.starts_with("holds: fork"), "{holds}");
    assert!(
        holds.contains(&format!("at seq {}", before.1 - 1)),
        "{holds}"
    );
    pbr_ok(&["fork", "verify", file, "--policy", &fixture.policy]);

    // A doctored copy: the new leaf replaced by the old one.
    let mut evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let old_leaf = evidence["leaves"]["old_leaf_hash"].clone();
    evidence["leaves"]["new_leaf_hash"] = old_leaf;
    let doctored = fixture.path("doctored.json");
    std::fs::write(&doctored, evidence.to_string()).unwrap();
    let run = pbr(&["fork", "verify", &doctored, "--log-key", &log_key]);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("does not hold"), "{}", run.stderr);
    // Another leaf with the new side's proof does not verify either.
    let mut evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    evidence["leaves"]["new_leaf_hash"] = Value::from("00".repeat(32));
    std::fs::write(&doctored, evidence.to_string()).unwrap();
    assert_ne!(
        pbr(&["fork", "verify", &doctored, "--log-key", &log_key]).code,
        0
    );
    // Evidence under another log key proves nothing.
    let stranger = crate::support::log_key("stranger.example/log")
        .verifier_key()
        .to_string();
    assert_ne!(
        pbr(&["fork", "verify", file, "--log-key", &stranger]).code,
        0
    );
}

#[test]
fn a_wrong_or_missing_token_is_one_clear_line() {
    let fixture = Fixture::new();
    let wrong = fixture.path("wrong-token");
    std::fs::write(&wrong, "not-the-token\n").unwrap();
    for (token, expect) in [
        (Some(wrong.as_str()), "refused the token"),
        (None, "needs a token"),
    ] {
        let mirror = fixture.path(&format!("mirror-{}", token.is_some()));
        let mut args = vec![
            "clone",
            fixture.server.url.as_str(),
            &mirror,
            "--policy",
            &fixture.policy,
        ];
        if let Some(token) = token {
            args.extend(["--token-file", token]);
        }
        let run = pbr(&args);
        assert_eq!(run.code, 8, "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(expect), "{}", run.stderr);
        assert!(run.stderr.contains("401"), "{}", run.stderr);
        assert!(
            !Path::new(&mirror).exists(),
            "a refused clone made {mirror}"
        );
    }
}

#[test]
fn a_mirror_holds_no_cpr_number() {
    let fixture = Fixture::new();
    let mirror = fixture.clone("mirror");
    let mut stored = Vec::new();
    let mut pending = vec![PathBuf::from(&mirror)];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                stored.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    assert!(stored.iter().map(|(_, b)| b.len()).sum::<usize>() > 10_000);
    for n in 1..=24 {
        let cpr = sample::demo_cpr(n);
        let compact = cpr.replace('-', "");
        for needle in [cpr.as_bytes(), compact.as_bytes()] {
            for (path, bytes) in &stored {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "CPR number of citizen {n} found in {path}"
                );
            }
        }
    }
}

/// Kills `pbr pull` after `delay` unless it ended first; returns whether it succeeded.
fn pull_killed_after(mirror: &str, delay: Duration) -> bool {
    let child = Command::new(env!("CARGO_BIN_EXE_pbr"))
        .args(["--ledger", mirror, "pull"])
        .env_remove("PBR_LEDGER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pbr starts");
    crate::kills::kill_after(child, delay)
}

#[test]
fn a_killed_pull_leaves_a_mirror_that_verifies_and_the_next_pull_completes() {
    let fixture = Fixture::new();
    let mirrors: Vec<String> = (0..5)
        .map(|n| fixture.clone(&format!("mirror-{n}")))
        .collect();
    grow(&fixture.source, 6_000, 0);
    export_tiles(&fixture.source, &fixture.root.join("tiles-0"));
    let expected = root_and_records(&fixture.source);
    // The span of an uninterrupted pull on this machine, so that kills land inside it.
    let started = Instant::now();
    assert_eq!(pull(&mirrors[0]).code, 0);
    let span = started.elapsed().as_millis() as u64;
    assert_eq!(root_and_records(&mirrors[0]), expected);
    let mut moments = Seeded(0x5eed_0019);
    let mut killed = 0;
    for mirror in &mirrors[1..] {
        let delay = Duration::from_millis(moments.next_below(span.max(1)));
        if !pull_killed_after(mirror, delay) {
            killed += 1;
        }
        // Every record, cache and stored checkpoint verifies; records appended beyond the
        // stored checkpoint are covered by none until the next pull stores it.
        let run = pbr(&["--ledger", mirror, "verify"]);
        assert_eq!(
            run.code, 0,
            "after a kill at {delay:?}: {}{}",
            run.stdout, run.stderr
        );
        let run = pull(mirror);
        assert_eq!(run.code, 0, "after a kill at {delay:?}: {}", run.stderr);
        assert_eq!(
            root_and_records(mirror),
            expected,
            "after a kill at {delay:?}"
        );
        pbr_ok(&["--ledger", mirror, "verify", "--policy", &fixture.policy]);
        assert!(!Path::new(mirror).join("mirror/spool").exists());
    }
    assert!(killed > 0, "no pull was killed (span {span} ms)");
}
