//! One or two end-to-end runs per command: arguments, output shape, exit codes.

use std::path::Path;

use crate::support::{demo, pbr, pbr_ok};

const INPUT: i32 = 3;
const LEDGER_IN_USE: i32 = 4;
const VERIFY_FAILED: i32 = 5;

#[test]
fn init_then_verify_an_empty_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let ledger = ledger.to_str().unwrap();
    let out = pbr_ok(&["init", ledger, "--origin", "test.example/l", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["origin"], "test.example/l");
    let out = pbr_ok(&["--ledger", ledger, "verify", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(out["records"], 0);
    let again = pbr(&["init", ledger]);
    assert_eq!(again.code, INPUT, "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn a_missing_ledger_is_input_error_with_one_line() {
    let run = pbr(&["--ledger", "/nonexistent/pbr/ledger", "verify"]);
    assert_eq!(run.code, INPUT);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("pbr: error: no ledger at /nonexistent/pbr/ledger")
    );
    let run = pbr(&["verify"]);
    assert_eq!(run.code, INPUT);
    assert!(run.stderr.contains("PBR_LEDGER"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(pbr(&["proof"]).code, 2);
    assert_eq!(pbr(&["no-such-command"]).code, 2);
}

#[test]
fn a_second_process_is_told_the_ledger_is_in_use_at_once() {
    let (_dir, ledger) = demo();
    let _held = pbr_ledger::Ledger::open(Path::new(&ledger)).unwrap();
    let started = std::time::Instant::now();
    let run = pbr(&["--ledger", &ledger, "verify"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "it waited"
    );
    assert_eq!(run.code, LEDGER_IN_USE);
    assert!(
        run.stderr.starts_with("pbr: error: ledger is in use"),
        "{}",
        run.stderr
    );
    // It names the holder (this test's process) and how to wait.
    assert!(
        run.stderr
            .contains(&format!("locked by process {}", std::process::id())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--wait"), "{}", run.stderr);
}

/// `--wait SECONDS` waits for the holder to let go, and gives up after that long.
#[test]
fn wait_waits_for_the_ledger_and_gives_up_in_time() {
    let (_dir, ledger) = demo();
    let held = pbr_ledger::Ledger::open(Path::new(&ledger)).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(held);
    });
    let started = std::time::Instant::now();
    let run = pbr(&["--ledger", &ledger, "--wait", "20", "log", "--to-seq", "1"]);
    release.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(started.elapsed() >= std::time::Duration::from_millis(600));
    let _held = pbr_ledger::Ledger::open(Path::new(&ledger)).unwrap();
    let started = std::time::Instant::now();
    let run = pbr(&["--ledger", &ledger, "--wait", "1", "verify"]);
    let waited = started.elapsed();
    assert_eq!(run.code, LEDGER_IN_USE, "{}", run.stderr);
    assert!(
        waited >= std::time::Duration::from_secs(1) && waited < std::time::Duration::from_secs(10),
        "{waited:?}"
    );
}

#[test]
fn verify_names_the_first_bad_seq_of_a_tampered_ledger() {
    let (_dir, ledger) = demo();
    {
        let db = crate::support::raw_sled(&Path::new(&ledger).join("sled"));
        let events = db.open_tree("events").unwrap();
        let key = 57u64.to_be_bytes();
        let mut value = events.get(key).unwrap().unwrap().to_vec();
        value[12] ^= 0x20;
        events.insert(key, value).unwrap();
        db.flush().unwrap();
    }
    let run = pbr(&["--ledger", &ledger, "verify"]);
    assert_eq!(run.code, VERIFY_FAILED);
    assert!(run.stderr.contains("first bad seq 57"), "{}", run.stderr);
    let run = pbr(&["--ledger", &ledger, "verify", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["ok"], false);
    assert_eq!(out["exit_code"], VERIFY_FAILED);
}

#[test]
fn incremental_verify_starts_at_the_last_verified_checkpoint() {
    let (_dir, ledger) = demo();
    let out = pbr_ok(&["--ledger", &ledger, "verify", "--incremental", "--json"]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    // The demo already ran a full verify up to its last checkpoint, of the whole log.
    let len = pbr_ledger::Ledger::open(std::path::Path::new(&ledger))
        .unwrap()
        .log()
        .len();
    assert_eq!(out["from_seq"], len);
}

#[test]
fn keygen_writes_a_private_file_and_never_into_a_ledger() {
    let (dir, ledger) = demo();
    let inside = Path::new(&ledger).join("k.key");
    let run = pbr(&["party", "keygen", "eve", "--out", inside.to_str().unwrap()]);
    assert_eq!(run.code, INPUT);
    assert!(run.stderr.contains("inside the ledger"), "{}", run.stderr);
    assert!(!inside.exists());
    let key = dir.path().join("eve.key");
    let out = pbr_ok(&[
        "party",
        "keygen",
        "eve",
        "--out",
        key.to_str().unwrap(),
        "--json",
    ]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(out["verifier_key"].as_str().unwrap().starts_with("eve+"));
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("PRIVATE+KEY+eve+"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Never overwritten.
    let run = pbr(&["party", "keygen", "eve", "--out", key.to_str().unwrap()]);
    assert_eq!(run.code, INPUT);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);
}

/// The log key signs a checkpoint; a witness cosigns it, keeping what it cosigned; a kept
/// note checks against the keys that signed it and no other. A key of another kind, or a
/// log key the terms do not name, signs nothing.
#[test]
fn sign_witness_and_check_checkpoints() {
    use pbr_ledger::sample;
    let (dir, ledger) = demo();
    let keygen = |name: &str, kind: &str| {
        let path = dir.path().join(format!("{}.key", name.replace('/', "_")));
        let out = pbr_ok(&[
            "party",
            "keygen",
            name,
            "--kind",
            kind,
            "--out",
            path.to_str().unwrap(),
            "--json",
        ]);
        let out: serde_json::Value = serde_json::from_str(&out).unwrap();
        (
            path.to_str().unwrap().to_owned(),
            out["verifier_key"].as_str().unwrap().to_owned(),
        )
    };
    // A record after the demo's last checkpoint, so that there is something new to sign.
    let provider = crate::support::key_file(dir.path(), &sample::demo_key("fokus-provider"));
    pbr_ok(&[
        "--ledger",
        &ledger,
        "cost",
        "--contract",
        sample::SAMPLE_CONTRACT,
        "--date",
        "2025-12-31",
        "--party",
        "fokus-provider",
        "--amount",
        "1.00",
        "--key",
        &provider,
    ]);
    // An event key is no log key, nor is a log key of the right name that the terms do
    // not name.
    let (ann_key, _) = keygen("ann", "event");
    let (other_log, _) = keygen(sample::SAMPLE_ORIGIN, "log");
    for key in [&ann_key, &other_log] {
        let run = pbr(&["--ledger", &ledger, "checkpoint", "sign", "--key", key]);
        assert_eq!(run.code, VERIFY_FAILED, "{key}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("names the log key demo.pbr.example/impact60+"),
            "{}",
            run.stderr
        );
    }
    // Where no terms name a log key, the log key is still the one named after the origin.
    let plain = dir.path().join("plain");
    let plain = plain.to_str().unwrap();
    pbr_ok(&["init", plain, "--origin", "test.example/plain"]);
    let run = pbr(&["--ledger", plain, "checkpoint", "sign", "--key", &ann_key]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("a log key is named after the log's origin"),
        "{}",
        run.stderr
    );
    crate::support::checkpoint(plain, "test.example/plain", &[]);
    let log = crate::support::key_file(dir.path(), &sample::demo_log_key());
    let log_vkey = sample::demo_log_key().verifier_key().to_string();
    let note = pbr_ok(&["--ledger", &ledger, "checkpoint", "sign", "--key", &log]);
    // Three body lines (origin, size, root), then the log key's signature: no chain, no time.
    let (body, signatures) = note.split_once("\n\n").unwrap();
    let body: Vec<&str> = body.lines().collect();
    assert_eq!(body.len(), 3, "{note}");
    assert_eq!(body[0], sample::SAMPLE_ORIGIN);
    assert_eq!(body[1], "619");
    assert!(
        signatures.starts_with("\u{2014} demo.pbr.example/impact60 ")
            && signatures.lines().count() == 1,
        "{note}"
    );
    // A witness cosigns with a witness key, never an event key.
    let (bo_key, bo_vkey) = keygen("bo-witness", "witness");
    let state = dir.path().join("bo-state");
    let state = state.to_str().unwrap();
    let cosign = |key: &str, extra: &[&str]| {
        let mut args = vec![
            "--ledger",
            &ledger,
            "witness",
            "cosign",
            "--key",
            key,
            "--state",
            state,
            "--log-key",
            &log_vkey,
            "--time",
            "1767225600",
        ];
        args.extend_from_slice(extra);
        pbr(&args)
    };
    let run = cosign(&ann_key, &[]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not a witness key"),
        "{}",
        run.stderr
    );
    let run = cosign(&bo_key, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let cosigned = run.stdout;
    assert!(
        cosigned.starts_with(&note),
        "cosigning keeps the body and the log key's signature"
    );
    assert!(
        cosigned[note.len()..].starts_with("\u{2014} bo-witness "),
        "{cosigned}"
    );
    // The cosigned note is the one stored, and the witness remembers the size it cosigned:
    // it cosigns no smaller size after it.
    assert_eq!(
        pbr_ok(&["--ledger", &ledger, "checkpoint", "show"]),
        cosigned
    );
    let run = cosign(&bo_key, &["--size", "40"]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr.contains("already cosigned size 619"),
        "{}",
        run.stderr
    );
    let kept = dir.path().join("kept.note");
    std::fs::write(&kept, &cosigned).unwrap();
    let out = pbr_ok(&[
        "--ledger",
        &ledger,
        "checkpoint",
        "check",
        kept.to_str().unwrap(),
        "--key",
        &log_vkey,
        "--key",
        &bo_vkey,
        "--json",
    ]);
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out["signed_by"],
        serde_json::json!([sample::SAMPLE_ORIGIN, "bo-witness"])
    );
    // A key nobody signed with is not trusted blindly.
    let (_, stranger) = keygen("stranger", "witness");
    let run = pbr(&[
        "--ledger",
        &ledger,
        "checkpoint",
        "check",
        kept.to_str().unwrap(),
        "--key",
        &stranger,
    ]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
}

#[test]
fn a_rewritten_history_fails_the_kept_checkpoint() {
    use pbr_ledger::sample;
    let (dir, ledger) = demo();
    let kept = dir.path().join("kept.note");
    std::fs::write(&kept, pbr_ok(&["--ledger", &ledger, "checkpoint", "show"])).unwrap();
    // The operator rebuilds the ledger with record 5 changed and signs it again.
    let forged = dir.path().join("forged");
    {
        let mut log = pbr_ledger::Log::create(&forged, sample::SAMPLE_ORIGIN).unwrap();
        let keys = sample::demo_keys();
        let len = pbr_ledger::Ledger::open(std::path::Path::new(&ledger))
            .unwrap()
            .log()
            .len();
        let records: Vec<_> = (0..len)
            .map(|n| {
                let key = &keys[(n % 2) as usize];
                let text = if n == 5 {
                    "rewritten".to_owned()
                } else {
                    format!("sample event {n} by {}", key.name())
                };
                pbr_log::Record::sign(text.into_bytes(), key.signing_key()).unwrap()
            })
            .collect();
        log.append(&records).unwrap();
        let note = pbr_log::SignedCheckpoint::sign(
            log.checkpoint_body().unwrap(),
            &sample::demo_log_key(),
        )
        .unwrap();
        log.add_verifier_key(&sample::demo_log_key().verifier_key())
            .unwrap();
        log.store_checkpoint(&note).unwrap();
    }
    let vkey = sample::demo_log_key().verifier_key().to_string();
    let run = pbr(&[
        "--ledger",
        forged.to_str().unwrap(),
        "checkpoint",
        "check",
        kept.to_str().unwrap(),
        "--key",
        &vkey,
    ]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr.contains("history was rewritten"),
        "{}",
        run.stderr
    );
    // The honest ledger passes the same check.
    pbr_ok(&[
        "--ledger",
        &ledger,
        "checkpoint",
        "check",
        kept.to_str().unwrap(),
        "--key",
        &vkey,
    ]);
}

#[test]
fn export_without_a_checkpoint_fails_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    pbr_ok(&["init", ledger.to_str().unwrap()]);
    let run = pbr(&["--ledger", ledger.to_str().unwrap(), "export"]);
    assert_eq!(run.code, INPUT);
    assert!(run.stderr.contains("pbr checkpoint sign"), "{}", run.stderr);
}

/// `pbr export` and `export --tiles` write the latest checkpoint that carries every
/// contract's quorum (DESIGN §3): a newer one the log key alone signed is not exported until
/// the witnesses cosign it, and without any such checkpoint nothing is written.
#[test]
fn export_writes_the_latest_checkpoint_that_meets_the_quorum() {
    let (dir, ledger) = demo();
    let exported_size = |path: &Path| -> u64 {
        let text = std::fs::read_to_string(path).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let note = last["checkpoint"].as_str().unwrap();
        note.lines().nth(1).unwrap().parse().unwrap()
    };
    let log_size = |ledger: &str| -> u64 {
        let out = pbr_ok(&["--ledger", ledger, "verify", "--json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["records"]
            .as_u64()
            .unwrap()
    };
    let cosigned = log_size(&ledger);
    let first = dir.path().join("first.jsonl");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert_eq!(exported_size(&first), cosigned);

    // One more record, and a checkpoint of it that only the log key signed.
    let run = demo_pay(dir.path(), &ledger, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    crate::support::checkpoint(&ledger, pbr_ledger::sample::SAMPLE_ORIGIN, &[]);
    let second = dir.path().join("second.jsonl");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        second.to_str().unwrap(),
    ]);
    assert_eq!(
        exported_size(&second),
        cosigned,
        "the uncosigned checkpoint was exported"
    );
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
    let tiles = dir.path().join("tiles");
    let out = pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--tiles",
        tiles.to_str().unwrap(),
    ]);
    assert!(
        out.contains(&format!("the tiles of {cosigned} records")),
        "{out}"
    );
    let checkpoint = std::fs::read_to_string(tiles.join("checkpoint")).unwrap();
    assert_eq!(checkpoint.lines().nth(1).unwrap(), cosigned.to_string());

    // One witness of two is not the quorum; both are.
    crate::support::cosign(
        &ledger,
        pbr_ledger::sample::SAMPLE_ORIGIN,
        "aalborg-jobcenter",
    );
    let third = dir.path().join("third.jsonl");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        third.to_str().unwrap(),
    ]);
    assert_eq!(exported_size(&third), cosigned);
    crate::support::cosign(&ledger, pbr_ledger::sample::SAMPLE_ORIGIN, "fokus-provider");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        third.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(exported_size(&third), cosigned + 1);
    let out = pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--tiles",
        tiles.to_str().unwrap(),
    ]);
    assert!(
        out.contains(&format!("the tiles of {} records", cosigned + 1)),
        "{out}"
    );
}

/// A ledger whose checkpoints lack the quorum exports nothing, neither as JSON Lines nor as
/// tiles, and says in one line whose cosignature is missing.
#[test]
fn export_without_a_quorum_checkpoint_writes_nothing_and_names_what_is_missing() {
    let (dir, ledger, _keys) = crate::scenarios::load_scenario("d");
    let out = dir.path().join("d.jsonl");
    let tiles = dir.path().join("d-tiles");
    let refused = |witnesses: &str| {
        for args in [
            vec!["export", "--out", out.to_str().unwrap()],
            vec!["export", "--tiles", tiles.to_str().unwrap()],
        ] {
            let mut line = vec!["--ledger", ledger.as_str()];
            line.extend(&args);
            let run = pbr(&line);
            assert_eq!(run.code, 3, "{}", run.stderr);
            let size = run
                .stderr
                .split("the latest, of size ")
                .nth(1)
                .and_then(|rest| rest.split(',').next())
                .unwrap_or_else(|| panic!("{}", run.stderr));
            assert_eq!(
                run.stderr,
                format!(
                    "pbr: error: no checkpoint meets every contract's quorum, so nothing was \
                     exported: the latest, of size {size}, lacks {witnesses}\n"
                ),
            );
            assert!(!out.exists() && !tiles.exists());
        }
    };
    crate::support::checkpoint(&ledger, "test/d", &[]);
    let id = |party: &str| {
        let key = crate::support::witness_key(party).verifier_key();
        format!("{}+{}", key.name, pbr_log::hex::encode(&key.key_id))
    };
    refused(&format!(
        "the cosignatures of K1, K2 and K3 ({}, {}, {}: have the witnesses cosign it with `pbr witness \
         cosign`)",
        id("K1"),
        id("K2"),
        id("K3")
    ));
    crate::support::cosign(&ledger, "test/d", "K1");
    crate::support::cosign(&ledger, "test/d", "K3");
    refused(&format!(
        "the cosignature of K2 ({}: have the witnesses cosign it with `pbr witness cosign`)",
        id("K2")
    ));
    crate::support::cosign(&ledger, "test/d", "K2");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        out.to_str().unwrap(),
    ]);
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--tiles",
        tiles.to_str().unwrap(),
    ]);
}

#[test]
fn demo_runs_twice_in_the_same_place_but_never_replaces_other_data() {
    let (dir, ledger) = demo();
    pbr_ok(&["demo", &ledger]);
    // A directory with someone's file in it is refused, and the file kept.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let run = pbr(&["demo", other.to_str().unwrap()]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(other.join("notes.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn verify_reports_whether_each_checkpoint_meets_the_contract_quorum() {
    // The demo contract's quorum is the log key and the jobcentre's and the provider's
    // witnesses: the demo's checkpoints carry all three.
    use pbr_ledger::sample;
    let (dir, ledger) = demo();
    let quorum = |ledger: &str| -> Vec<serde_json::Value> {
        let out = pbr_ok(&["--ledger", ledger, "verify", "--json"]);
        let out: serde_json::Value = serde_json::from_str(&out).unwrap();
        out["checkpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["quorum"][0].clone())
            .collect()
    };
    let demo_quorums = quorum(&ledger);
    assert_eq!(demo_quorums.len(), 2);
    for q in &demo_quorums {
        assert_eq!(q["met"], true, "{q}");
        assert_eq!(q["missing"], serde_json::json!([]), "{q}");
    }
    // A new checkpoint signed by the log key alone lacks both witnesses; cosigned by the
    // jobcentre's, it lacks the provider's; cosigned by both, it meets the quorum.
    let provider = crate::support::key_file(dir.path(), &sample::demo_key("fokus-provider"));
    pbr_ok(&[
        "--ledger",
        &ledger,
        "cost",
        "--contract",
        sample::SAMPLE_CONTRACT,
        "--date",
        "2025-12-31",
        "--party",
        "fokus-provider",
        "--amount",
        "1.00",
        "--key",
        &provider,
    ]);
    let [jobcentre_witness, provider_witness] = crate::support::DEMO_QUORUM.map(|party| {
        crate::support::key_id(&sample::demo_witness_key(party).verifier_key().to_string())
    });
    crate::support::checkpoint(&ledger, sample::SAMPLE_ORIGIN, &[]);
    for (cosigner, missing) in [
        (
            None,
            vec![jobcentre_witness.clone(), provider_witness.clone()],
        ),
        (Some("aalborg-jobcenter"), vec![provider_witness]),
        (Some("fokus-provider"), vec![]),
    ] {
        if let Some(party) = cosigner {
            crate::support::cosign(&ledger, sample::SAMPLE_ORIGIN, party);
        }
        let quorums = quorum(&ledger);
        assert_eq!(quorums.len(), 3, "the new checkpoint is listed");
        assert_eq!(quorums[..2], demo_quorums[..], "the demo's are unchanged");
        let latest = &quorums[2];
        assert_eq!(
            latest["missing"],
            serde_json::json!(missing),
            "{cosigner:?}"
        );
        assert_eq!(latest["met"], missing.is_empty(), "{cosigner:?}");
    }
}

/// A streamed import does not know its number of rows in advance: on a terminal its counter
/// shows the rows done and the rate, never a bar out of 0 (`249856/0`, `eta 0s`). Run under
/// `script`, which gives the command a terminal.
#[test]
fn an_import_on_a_terminal_counts_rows_and_rate() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("a");
    let file = dir.path().join("costs.csv");
    let mut rows = String::from("kind,contract,date,author,party,amount\n");
    for i in 0..60_000 {
        rows.push_str(&format!(
            "cost-recorded,scenario-a,2013-09-30,provider,provider,{}.{:02}\n",
            1 + i / 100,
            i % 100
        ));
    }
    std::fs::write(&file, rows).unwrap();
    let command = format!(
        "{} --ledger {ledger} import {} --key {}",
        env!("CARGO_BIN_EXE_pbr"),
        file.display(),
        keys["provider"]
    );
    let output = std::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("PBR_LEDGER")
        .output()
        .expect("script (bsdutils) runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("60000 appended"), "{text}");
    assert!(text.contains("importing"), "no counter was drawn: {text}");
    assert!(text.contains(" rows ("), "{text}");
    assert!(text.contains("/s, "), "no rate: {text}");
    assert!(!rate_has_decimals(&text), "{text}");
    assert!(!text.contains("/0 "), "a bar out of 0: {text}");
    assert!(!text.contains("eta"), "{text}");
}

/// Whether a counter line shows a rate with decimals (`40,862.8533/s`).
fn rate_has_decimals(text: &str) -> bool {
    text.split("/s").any(|before| {
        before
            .rsplit('(')
            .next()
            .is_some_and(|rate| rate.contains('.'))
    })
}

/// An export is imported as it is: into a new ledger of the same origin, without keys (its
/// records are signed), giving the same root and chain head; its checkpoint line is skipped,
/// and a leaf hash that is not its record's is refused with the line and field.
#[test]
fn import_takes_an_export_as_it_is() {
    let (dir, ledger) = demo();
    let export = dir.path().join("demo.jsonl");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        export.to_str().unwrap(),
    ]);
    let source: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", &ledger, "verify", "--json"])).unwrap();
    let copy = dir.path().join("copy");
    let copy = copy.to_str().unwrap();
    pbr_ok(&["init", copy, "--origin", "demo.pbr.example/impact60"]);
    let imported = pbr_ok(&["--ledger", copy, "import", export.to_str().unwrap()]);
    assert!(imported.contains("618 appended"), "{imported}");
    let copied: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", copy, "verify", "--json"])).unwrap();
    assert_eq!(copied["root"], source["root"]);
    assert_eq!(copied["chain_head"], source["chain_head"]);
    // A changed leaf hash is caught, and nothing is appended.
    let text = std::fs::read_to_string(&export).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let leaf = first["leaf_hash"].as_str().unwrap();
    let flipped = format!(
        "{}{}",
        if leaf.starts_with('0') { "1" } else { "0" },
        &leaf[1..]
    );
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen(leaf, &flipped, 1)).unwrap();
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    pbr_ok(&["init", other, "--origin", "demo.pbr.example/impact60"]);
    let run = pbr(&["--ledger", other, "import", tampered.to_str().unwrap()]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("tampered.jsonl:1: leaf_hash: is not the leaf hash of record_hex"),
        "{}",
        run.stderr
    );
    let empty: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", other, "verify", "--json"])).unwrap();
    assert_eq!(empty["records"], 0);
}

/// The demo's export cannot be replayed into a ledger of another origin: its terms name the
/// demo's log, so the import is refused at their line, naming both origins, and appends
/// none of the export's records.
#[test]
fn an_export_is_refused_by_a_ledger_of_another_origin() {
    let (dir, ledger) = demo();
    let export = dir.path().join("demo.jsonl");
    let export = export.to_str().unwrap();
    pbr_ok(&["--ledger", &ledger, "export", "--out", export]);
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    pbr_ok(&["init", other, "--origin", "test.example/other"]);
    let run = pbr(&["--ledger", other, "import", export]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "demo.jsonl:1: the terms are for the log demo.pbr.example/impact60, but this \
             ledger is test.example/other"
        ),
        "{}",
        run.stderr
    );
    let empty: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", other, "verify", "--json"])).unwrap();
    assert_eq!(empty["records"], 0);
}

/// The demo's jobcentre records a payment, with `extra` arguments before the command.
fn demo_pay(dir: &Path, ledger: &str, extra: &[&str]) -> crate::support::Run {
    let key = dir.join("jobcenter.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("aalborg-jobcenter").to_text(),
    )
    .unwrap();
    let mut args = vec!["--ledger", ledger];
    args.extend_from_slice(extra);
    args.extend([
        "pay",
        "--contract",
        "impact60-demo",
        "--date",
        "2025-06-03",
        "--key",
        key.to_str().unwrap(),
        "--from",
        "aalborg-jobcenter",
        "--to",
        "fokus-provider",
        "--amount",
        "100",
    ]);
    pbr(&args)
}

/// A mirror's log is the operator's: a write command run on it without `--server` is
/// refused in one line that says where writes go, and nothing is appended.
#[test]
fn a_mirror_refuses_local_writes_and_names_the_server_option() {
    let (dir, ledger) = demo();
    let before = pbr_ok(&["--ledger", &ledger, "verify", "--json"]);
    std::fs::write(Path::new(&ledger).join("MIRROR.json"), "{}").unwrap();
    let run = demo_pay(dir.path(), &ledger, &[]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "is a mirror of an operator's log: a write goes to the operator with --server URL"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(pbr_ok(&["--ledger", &ledger, "verify", "--json"]), before);
}

/// With `--server`, a write that cannot reach the server fails with exit 8 (`SERVER`) in
/// one line, and the local ledger, which only prepared the record, is as it was.
#[test]
fn a_submission_to_an_unreachable_server_fails_and_changes_nothing_here() {
    let (dir, ledger) = demo();
    let before = pbr_ok(&["--ledger", &ledger, "verify", "--json"]);
    // A port nothing listens on: bound, then closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = demo_pay(dir.path(), &ledger, &["--server", &url]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with(&format!("pbr: error: cannot reach the server {url}")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert_eq!(pbr_ok(&["--ledger", &ledger, "verify", "--json"]), before);
    let run = demo_pay(dir.path(), &ledger, &["--server", "ftp://example"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
}
