//! `pbr bundle` and `pbr bundle verify` (docs/format.md §10): bundles of the demo ledger and
//! of scenario A verify against the parties' keys, are byte-identical when built twice, and
//! each kind of tampering (a flipped byte, a missing record, a forged checkpoint signature,
//! a changed amount, an edited explanation) is rejected with exit code 5 and a message
//! naming what failed; bad requests are input errors that write nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use pbr_ledger::{SignerKey, sample};

use crate::support::{Run, demo, golden, key_id, pbr, pbr_ok};

const INPUT: i32 = 3;
const VERIFY_FAILED: i32 = 5;

/// The demo's log key and its quorum's witness keys, which sign and cosign its checkpoint:
/// the keys a partner would have from the terms and the other parties.
fn demo_signers() -> Vec<String> {
    crate::support::demo_trusted()
}

/// `pbr --ledger L bundle ARGS --out DIR/NAME`, which must succeed; returns the file.
fn bundle(ledger: &str, dir: &Path, name: &str, about: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec!["--ledger", ledger, "bundle"];
    args.extend_from_slice(about);
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    pbr_ok(&args);
    out
}

/// `pbr bundle verify FILE --key K …` (with `--json` when asked).
fn verify(file: &Path, keys: &[String], json: bool) -> Run {
    let mut args: Vec<&str> = Vec::new();
    if json {
        args.push("--json");
    }
    args.extend_from_slice(&["bundle", "verify", file.to_str().unwrap()]);
    for key in keys {
        args.extend_from_slice(&["--key", key]);
    }
    pbr(&args)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The seqs of the demo's issued statements, in order.
fn issued_seqs(ledger: &str) -> Vec<u64> {
    let audit: Value =
        serde_json::from_str(&pbr_ok(&["--ledger", ledger, "audit", "--json"])).unwrap();
    audit["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seq"].as_u64().unwrap())
        .collect()
}

/// A participant with sustainment lines in the demo's last statement.
fn demo_participant(ledger: &str, last: u64) -> String {
    let statement: Value = serde_json::from_str(&pbr_ok(&[
        "--ledger",
        ledger,
        "explain",
        &last.to_string(),
        "--json",
    ]))
    .unwrap();
    let subject = statement["lines"][0]["subject"].as_str().unwrap();
    subject.strip_prefix("participant:").unwrap().to_owned()
}

fn seqs(value: &Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

#[test]
fn settlement_and_participant_bundles_of_the_demo_verify() {
    let (dir, ledger) = demo();
    let issued = issued_seqs(&ledger);
    let last = *issued.last().unwrap();
    let keys = demo_signers();

    let file = bundle(
        &ledger,
        dir.path(),
        "s.json",
        &["--settlement", &last.to_string()],
    );
    let run = verify(&file, &keys, true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["checkpoint_keys"], "given");
    // The demo's last checkpoint covers the whole log, and is cosigned by the quorum.
    let len = pbr_ledger::Ledger::open(std::path::Path::new(&ledger))
        .unwrap()
        .log()
        .len();
    assert_eq!(report["checkpoint"]["size"], len);
    assert_eq!(report["quorum"]["met"], true, "{report}");
    assert_eq!(report["request"]["settlement"], last);
    assert_eq!(report["statements"][0]["seq"], last);
    let b = read_json(&file);
    assert_eq!(b["format"], "pbr bundle v1");
    // The statement is the one `pbr explain` prints, and every line is explained.
    let explained: Value = serde_json::from_str(&pbr_ok(&[
        "--ledger",
        &ledger,
        "explain",
        &last.to_string(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(b["statements"][0]["statement"], explained);
    let lines = explained["lines"].as_array().unwrap();
    assert_eq!(
        b["statements"][0]["explanation"].as_array().unwrap().len(),
        lines.len()
    );
    // Every event a line cites, the previous statement and the contract are in it.
    let records = b["records"].as_array().unwrap();
    let bundled: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    for line in lines {
        for seq in seqs(&line["events"]) {
            assert!(bundled.contains(&seq), "seq {seq} cited but not bundled");
        }
    }
    assert!(
        bundled.contains(&issued[issued.len() - 2]),
        "the previous statement"
    );
    assert_eq!(seqs(&b["manifest"]["contract"]), vec![0]);
    assert_eq!(records[0]["event"]["kind"], "contract-registered");
    assert_eq!(report["records"].as_u64().unwrap(), bundled.len() as u64);

    // A participant bundle: every event that names them, and the statements that pay them.
    let participant = demo_participant(&ledger, last);
    let file = bundle(
        &ledger,
        dir.path(),
        "p.json",
        &["--participant", &participant],
    );
    let run = verify(&file, &keys, false);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("ok: the dispute bundle of participant"),
        "{}",
        run.stdout
    );
    let b = read_json(&file);
    let logged: Vec<u64> = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--participant",
        &participant,
        "--json",
    ])
    .lines()
    .map(|l| {
        serde_json::from_str::<Value>(l).unwrap()["seq"]
            .as_u64()
            .unwrap()
    })
    .collect();
    assert!(logged.len() > 10);
    assert_eq!(seqs(&b["manifest"]["participant"]), logged);
    let subject = format!("participant:{participant}");
    let statements = b["statements"].as_array().unwrap();
    assert!(statements.len() >= 2);
    for s in statements {
        let explanation = s["explanation"].as_array().unwrap();
        assert!(!explanation.is_empty());
        assert!(explanation.iter().all(|e| e["subject"] == subject.as_str()));
    }
    // Exactly the issued statements with a line about them.
    let with_lines: Vec<u64> = issued
        .iter()
        .copied()
        .filter(|seq| {
            let s: Value = serde_json::from_str(&pbr_ok(&[
                "--ledger",
                &ledger,
                "explain",
                &seq.to_string(),
                "--participant",
                &participant,
                "--json",
            ]))
            .unwrap();
            !s["lines"].as_array().unwrap().is_empty()
        })
        .collect();
    assert_eq!(seqs(&b["manifest"]["settlements"]), with_lines);
}

#[test]
fn a_bundle_is_byte_identical_when_built_twice() {
    let (dir, ledger) = demo();
    let third = issued_seqs(&ledger)[2].to_string();
    let first = bundle(&ledger, dir.path(), "1.json", &["--settlement", &third]);
    let second = bundle(&ledger, dir.path(), "2.json", &["--settlement", &third]);
    let (other_dir, other) = demo();
    let third_again = bundle(
        &other,
        other_dir.path(),
        "3.json",
        &["--settlement", &third],
    );
    let bytes = std::fs::read(&first).unwrap();
    assert!(bytes.ends_with(b"}\n"));
    assert_eq!(bytes, std::fs::read(&second).unwrap());
    assert_eq!(bytes, std::fs::read(&third_again).unwrap());
    // The outside verifier's test vector: the 2024-Q3 statement, two lines.
    golden(
        "bundle-demo-settlement.json",
        &String::from_utf8(bytes).unwrap(),
    );
    let participant = demo_participant(&ledger, *issued_seqs(&ledger).last().unwrap());
    let p1 = bundle(
        &ledger,
        dir.path(),
        "p1.json",
        &["--participant", &participant],
    );
    let p2 = bundle(
        &other,
        other_dir.path(),
        "p2.json",
        &["--participant", &participant],
    );
    assert_eq!(std::fs::read(p1).unwrap(), std::fs::read(p2).unwrap());
}

/// One hex digit of `text` at `at` changed.
fn flip(text: &str, at: usize) -> String {
    let digit = if &text[at..=at] == "0" { "1" } else { "0" };
    format!("{}{digit}{}", &text[..at], &text[at + 1..])
}

/// Removes the record of `seq` from a bundle; with `from_manifest`, from its manifest too.
fn remove(b: &mut Value, seq: u64, from_manifest: bool) {
    b["records"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["seq"] != seq);
    if from_manifest {
        for list in ["contract", "participant", "settlements", "cited"] {
            b["manifest"][list]
                .as_array_mut()
                .unwrap()
                .retain(|s| *s != seq);
        }
    }
}

#[test]
fn each_kind_of_tampering_is_rejected_naming_what_failed() {
    let (dir, ledger) = demo();
    let s = issued_seqs(&ledger)[2];
    let file = bundle(
        &ledger,
        dir.path(),
        "b.json",
        &["--settlement", &s.to_string()],
    );
    let original = read_json(&file);
    let cited = seqs(&original["statements"][0]["statement"]["lines"][0]["events"])[0];
    let index = original["records"]
        .as_array()
        .unwrap()
        .iter()
        .position(|r| r["seq"] == cited)
        .unwrap();
    let keys = demo_signers();
    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, String)> = vec![
        (
            "a flipped byte in a record",
            Box::new(move |b| {
                let hex = b["records"][index]["record_hex"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                b["records"][index]["record_hex"] = Value::from(flip(&hex, 60));
            }),
            format!("seq {cited}: the record bytes do not hash to its leaf_hash"),
        ),
        (
            "a flipped byte with its leaf hash recomputed",
            Box::new(move |b| {
                let hex = flip(b["records"][index]["record_hex"].as_str().unwrap(), 60);
                let bytes = pbr_core::ids::parse_hex_vec(&hex).unwrap();
                let leaf = pbr_log::hash::leaf_hash(&bytes);
                b["records"][index]["leaf_hash"] = Value::from(pbr_log::hex::encode(&leaf));
                b["records"][index]["record_hex"] = Value::from(hex);
            }),
            format!("seq {cited}: the inclusion path does not lead to the checkpoint's root"),
        ),
        (
            "a missing record",
            Box::new(move |b| remove(b, cited, false)),
            format!("manifest.cited lists seq {cited}, but the bundle has no record of it"),
        ),
        (
            "a missing record, left out of the manifest too",
            Box::new(move |b| remove(b, cited, true)),
            format!("seq {cited}, cited by line 1 of the statement issued at seq {s}, is missing"),
        ),
        (
            "a missing contract record",
            Box::new(|b| remove(b, 0, true)),
            "no bundled contract record before it gives aalborg-jobcenter a key".to_owned(),
        ),
        (
            "a forged witness cosignature",
            Box::new(|b| {
                let note = b["checkpoint"].as_str().unwrap().to_owned();
                let at = note.rfind(' ').unwrap() + 40;
                let forged = if &note[at..=at] == "A" { "B" } else { "A" };
                b["checkpoint"] =
                    Value::from(format!("{}{forged}{}", &note[..at], &note[at + 1..]));
            }),
            "checkpoint: cosignature of fokus-provider-witness does not verify".to_owned(),
        ),
        (
            "a forged log key signature",
            Box::new(|b| {
                let note = b["checkpoint"].as_str().unwrap().to_owned();
                let line = note.find("\n\n\u{2014} ").unwrap() + 2;
                let at = line + note[line..].find(' ').unwrap() + 1;
                let at = at + note[at..].find(' ').unwrap() + 40;
                let forged = if &note[at..=at] == "A" { "B" } else { "A" };
                b["checkpoint"] =
                    Value::from(format!("{}{forged}{}", &note[..at], &note[at + 1..]));
            }),
            "checkpoint: signature of demo.pbr.example/impact60 does not verify".to_owned(),
        ),
        (
            "a changed statement amount",
            Box::new(|b| {
                b["statements"][0]["statement"]["lines"][0]["amount"] = Value::from("99999.00");
                b["statements"][0]["explanation"][0]["amount"] = Value::from("99999.00");
            }),
            format!("the statement issued at seq {s}: its canonical bytes hash to"),
        ),
        (
            "a decoded event that is not its bytes",
            Box::new(move |b| b["records"][index]["event"]["date"] = Value::from("2024-01-01")),
            format!("seq {cited}: event.date does not match the record's event bytes"),
        ),
        (
            "an edited explanation",
            Box::new(|b| b["statements"][0]["explanation"][1]["calc"] = Value::from("= 0.00")),
            format!("the statement issued at seq {s}: explanation.calc of line 2 does not match"),
        ),
        (
            "a dropped explanation line",
            Box::new(|b| {
                b["statements"][0]["explanation"]
                    .as_array_mut()
                    .unwrap()
                    .pop();
            }),
            "the explanation covers lines [1], but the lines in scope are [1, 2]".to_owned(),
        ),
    ];
    for (what, tamper, expected) in cases {
        let mut b = original.clone();
        tamper(&mut b);
        let path = dir.path().join("tampered.json");
        std::fs::write(&path, serde_json::to_string_pretty(&b).unwrap() + "\n").unwrap();
        let run = verify(&path, &keys, false);
        assert_eq!(
            run.code, VERIFY_FAILED,
            "{what}: {}{}",
            run.stdout, run.stderr
        );
        assert!(
            run.stderr
                .starts_with(&format!("pbr: error: {}: ", path.display()))
                && run.stderr.contains(&expected),
            "{what}: expected {expected:?} in {}",
            run.stderr
        );
        std::fs::remove_file(&path).unwrap();
    }
    // Untampered, it still verifies: the cases failed for what they changed.
    assert_eq!(verify(&file, &keys, false).code, 0);
}

#[test]
fn verify_trusts_only_the_keys_it_is_given() {
    let (dir, ledger) = demo();
    let s = issued_seqs(&ledger)[2].to_string();
    let file = bundle(&ledger, dir.path(), "b.json", &["--settlement", &s]);
    // Without --key: the bundle's own keys, with a warning that they prove nothing.
    let run = verify(&file, &[], false);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("not a trust anchor"), "{}", run.stdout);
    // The investor's witness did not cosign; an impostor's witness key under the jobcentre
    // witness's name, and an impostor's log key under the origin's name, match no line.
    let investor = sample::demo_witness_key("dsk-investor")
        .verifier_key()
        .to_string();
    let seed = blake3::derive_key("pbr test impostor", b"");
    let impostor_witness = SignerKey::witness_from_seed("aalborg-jobcenter-witness", seed)
        .unwrap()
        .verifier_key()
        .to_string();
    let impostor_log = SignerKey::from_seed(sample::SAMPLE_ORIGIN, seed)
        .unwrap()
        .verifier_key()
        .to_string();
    for keys in [vec![investor], vec![impostor_witness], vec![impostor_log]] {
        let run = verify(&file, &keys, false);
        assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("checkpoint: no signature by any of the given keys"),
            "{}",
            run.stderr
        );
    }
    // The log key and the provider's witness: they signed, but the contract's quorum needs
    // the jobcentre's witness too.
    let [log, jobcentre, provider] = <[String; 3]>::try_from(demo_signers()).unwrap();
    let run = verify(&file, &[log, provider.clone()], true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["quorum"]["met"], false, "{report}");
    assert_eq!(
        report["quorum"]["missing"],
        serde_json::json!([key_id(&jobcentre)])
    );
    // Every witness but not the log key: witnesses' cosignatures add to the log's signature,
    // never replace it, so the checkpoint counts for nothing.
    let run = verify(&file, &[jobcentre, provider], false);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "checkpoint: no signature by a given log key of {}",
            sample::SAMPLE_ORIGIN
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_requests_and_unreadable_files_are_input_errors_that_write_nothing() {
    let (dir, ledger) = demo();
    let s = issued_seqs(&ledger)[2].to_string();
    let out = dir.path().join("exists.json");
    std::fs::write(&out, "keep me").unwrap();
    let out_text = out.to_str().unwrap();
    let run = pbr(&[
        "--ledger",
        &ledger,
        "bundle",
        "--settlement",
        &s,
        "--out",
        out_text,
    ]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");

    let nobody = "ab".repeat(32);
    let fresh = dir.path().join("fresh.json");
    let fresh_text = fresh.to_str().unwrap();
    for (about, expected) in [
        (
            vec!["--participant", nobody.as_str()],
            "--participant: no enrolled participant's reference starts with abab",
        ),
        (
            vec!["--participant", "AB"],
            "--participant: \"ab\" is not a participant reference or a prefix of one",
        ),
        (
            vec!["--settlement", "10"],
            "seq 10 is a participant-enrolled, not a settlement-issued",
        ),
        (
            vec!["--settlement", "9999"],
            "seq 9999 is beyond the end of the log",
        ),
        (vec!["--settlement", &s, "--contract", "other"], "not other"),
    ] {
        let mut args = vec!["--ledger", ledger.as_str(), "bundle"];
        args.extend_from_slice(&about);
        args.extend_from_slice(&["--out", fresh_text]);
        let run = pbr(&args);
        assert_eq!(run.code, INPUT, "{about:?}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{about:?}: {}", run.stderr);
        assert!(!fresh.exists(), "{about:?} wrote a file");
    }

    for (text, expected) in [
        ("not json", "not JSON"),
        (
            "{\"format\": \"pbr bundle v0\"}",
            "format \"pbr bundle v0\" is not \"pbr bundle v1\"",
        ),
        ("[]", "not a dispute bundle"),
    ] {
        std::fs::write(&fresh, text).unwrap();
        let run = verify(&fresh, &[], false);
        assert_eq!(run.code, INPUT, "{text}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{text}: {}", run.stderr);
    }
    let run = verify(&dir.path().join("missing.json"), &[], false);
    assert_eq!(run.code, INPUT);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    let run = verify(&out, &["not-a-key".to_owned()], false);
    assert_eq!(run.code, INPUT);
}

/// Scenario A's claw-back, disputed and resolved: a participant bundle holds the claim, its
/// decision, the claw-back and the dispute records (which name no participant, only the seq
/// they are about), and the statements that pay and recover the outcome.
#[test]
fn a_participant_bundle_follows_claims_decisions_and_disputes() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("a");
    let issued = crate::support::issue_quarters(
        &ledger,
        &keys["dwp"],
        &["2013-Q1", "2013-Q2", "2013-Q3", "2013-Q4"],
    );
    let clawback: Value = serde_json::from_str(
        pbr_ok(&[
            "--ledger",
            &ledger,
            "log",
            "--kind",
            "outcome-clawed-back",
            "--json",
        ])
        .lines()
        .next()
        .unwrap(),
    )
    .unwrap();
    let clawback_seq = clawback["seq"].as_u64().unwrap();
    let participant = clawback["event"]["participant"]
        .as_str()
        .unwrap()
        .to_owned();
    let claim = clawback["event"]["payload"]["claim_seq"].as_u64().unwrap();
    let fact = |args: &[&str]| -> u64 {
        let mut all = vec!["--ledger", ledger.as_str(), "--json"];
        all.extend_from_slice(args);
        let out: Value = serde_json::from_str(&pbr_ok(&all)).unwrap();
        out["seqs"][0].as_u64().unwrap()
    };
    let about = clawback_seq.to_string();
    let dispute = fact(&[
        "dispute",
        "open",
        "--contract",
        "scenario-a",
        "--date",
        "2013-12-02",
        "--key",
        &keys["provider"],
        "--about-seq",
        &about,
        "--reason",
        "outcome",
    ]);
    let dispute_text = dispute.to_string();
    let resolved = fact(&[
        "dispute",
        "resolve",
        "--contract",
        "scenario-a",
        "--date",
        "2013-12-20",
        "--key",
        &keys["dwp"],
        "--dispute-seq",
        &dispute_text,
        "--resolution",
        "dismissed",
    ]);

    // Nothing is signed yet: no checkpoint covers the participant.
    let out = dir.path().join("p.json");
    let out_text = out.to_str().unwrap();
    let run = pbr(&[
        "--ledger",
        &ledger,
        "bundle",
        "--participant",
        &participant,
        "--out",
        out_text,
    ]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains("no checkpoint covers seq"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());

    // Scenario A's terms name its log, test/a, and the quorum parties' witness keys: the log
    // key signs and both witnesses cosign.
    crate::support::checkpoint(&ledger, "test/a", &["dwp", "investor"]);
    pbr_ok(&[
        "--ledger",
        &ledger,
        "bundle",
        "--participant",
        &participant,
        "--out",
        out_text,
    ]);
    let trusted: Vec<String> = std::iter::once(crate::support::log_key("test/a"))
        .chain(["dwp", "investor"].map(crate::support::witness_key))
        .map(|key| key.verifier_key().to_string())
        .collect();
    let run = verify(&out, &trusted, true);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["quorum"]["met"], true, "{report}");

    let b = read_json(&out);
    let about_them = seqs(&b["manifest"]["participant"]);
    for seq in [claim, clawback_seq, dispute, resolved] {
        assert!(about_them.contains(&seq), "seq {seq} not in {about_them:?}");
    }
    let record = |seq: u64| {
        b["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["seq"] == seq)
            .unwrap()
            .clone()
    };
    assert_eq!(record(dispute)["event"]["participant"], Value::Null);
    // The statement whose decisions include the claw-back cites the claim and the claw-back.
    let cited = seqs(&b["manifest"]["cited"]);
    assert!(
        cited.contains(&claim) && cited.contains(&clawback_seq),
        "{cited:?}"
    );
    let subject = format!("participant:{participant}");
    let settled = seqs(&b["manifest"]["settlements"]);
    assert!(settled.contains(&issued[3]), "{settled:?}");
    for s in b["statements"].as_array().unwrap() {
        let st = &s["statement"];
        let about = st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["subject"] == subject.as_str())
            || st["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["subject"] == subject.as_str());
        assert!(about, "statement {} is not about them", s["seq"]);
    }

    // The settlement bundle of 2013-Q4 (decisions, a rejection, the claw-back) verifies too.
    let q4 = dir.path().join("q4.json");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "bundle",
        "--settlement",
        &issued[3].to_string(),
        "--out",
        q4.to_str().unwrap(),
    ]);
    let run = verify(&q4, &trusted, false);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A statement recorded by hash that the log does not reproduce cannot be bundled: the
/// bundle would not verify. `pbr audit` names it.
#[test]
fn a_statement_that_does_not_match_its_recomputation_is_refused() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("a");
    let statement: Value = serde_json::from_str(&pbr_ok(&[
        "--ledger", &ledger, "settle", "--period", "2013-Q1", "--json",
    ]))
    .unwrap();
    let position = statement["log_position"].as_u64().unwrap();
    let csv = dir.path().join("issue.csv");
    std::fs::write(
        &csv,
        format!(
            "kind,contract,date,author,id,period,statement_hash,log_position\n\
             settlement-issued,scenario-a,2013-03-31,dwp,issue-q1,2013-Q1,{},{position}\n",
            "00".repeat(32)
        ),
    )
    .unwrap();
    pbr_ok(&[
        "--ledger",
        &ledger,
        "import",
        csv.to_str().unwrap(),
        "--key",
        &keys["dwp"],
    ]);
    crate::support::checkpoint(&ledger, "test/a", &[]);
    let out = dir.path().join("b.json");
    let run = pbr(&[
        "--ledger",
        &ledger,
        "bundle",
        "--settlement",
        &position.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not match its recomputation"),
        "{}",
        run.stderr
    );
    assert!(!out.exists());
}

/// `pbr bundle show FORMAT FILE` under the demo's signers, with `extra` arguments.
fn show(file: &Path, format: &str, extra: &[&str]) -> Run {
    let keys = demo_signers();
    let mut args = vec!["bundle", "show", file.to_str().unwrap(), "--format", format];
    for key in &keys {
        args.extend(["--key", key.as_str()]);
    }
    args.extend_from_slice(extra);
    pbr(&args)
}

/// `pbr bundle show` verifies first, then shows every record (seq, date, kind, author) and
/// every statement line (rule, amount, arithmetic) of the bundle, the same bytes each time;
/// the HTML page loads nothing. A tampered bundle shows only its failure and exits 5.
#[test]
fn bundle_show_renders_a_verified_bundle_and_only_the_failure_of_a_tampered_one() {
    let (dir, ledger) = demo();
    let last = *issued_seqs(&ledger).last().unwrap();
    let participant = demo_participant(&ledger, last);
    let file = bundle(
        &ledger,
        dir.path(),
        "p.json",
        &["--participant", &participant],
    );
    let data = read_json(&file);

    let text = show(&file, "text", &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("Verified: "),
        "{}",
        text.stdout
    );
    for record in data["records"].as_array().unwrap() {
        let event = &record["event"];
        let row = format!(
            "seq {:>6}  {}  {:<26} by {:<20}",
            record["seq"].as_u64().unwrap(),
            event["date"].as_str().unwrap(),
            event["kind"].as_str().unwrap(),
            event["author"].as_str().unwrap()
        );
        assert!(text.stdout.contains(&row), "{row}\n{}", text.stdout);
    }
    let mut lines = 0;
    for statement in data["statements"].as_array().unwrap() {
        for line in statement["explanation"].as_array().unwrap() {
            let amount = line["amount"].as_str().unwrap();
            let calc = format!("    = {}", line["calc"].as_str().unwrap());
            assert!(text.stdout.contains(amount), "{amount}");
            assert!(text.stdout.contains(&calc), "{calc}");
            lines += 1;
        }
    }
    assert!(lines > 0, "the bundle explains no line");
    assert_eq!(show(&file, "text", &[]).stdout, text.stdout);

    let page = dir.path().join("p.html");
    let run = show(&file, "html", &["--out", page.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h2>Verdict: verified</h2>"));
    for forbidden in [
        "http:", "https:", "src=", "href=", "<link", "<script", "@import", "url(",
    ] {
        assert!(!html.to_lowercase().contains(forbidden), "{forbidden}");
    }
    let again = dir.path().join("again.html");
    show(&file, "html", &["--out", again.to_str().unwrap()]);
    assert_eq!(std::fs::read(&again).unwrap(), html.as_bytes());
    // An existing page is not replaced without --force.
    let run = show(&file, "html", &["--out", page.to_str().unwrap()]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);

    // One monthly status changed in the bundle: shown as a failure, and nothing else.
    let mut tampered = data.clone();
    let status = tampered["records"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["event"]["kind"] == "monthly-status-recorded")
        .unwrap();
    let was = status["event"]["payload"]["status"]
        .as_str()
        .unwrap()
        .to_owned();
    status["event"]["payload"]["status"] = Value::from(if was == "full" { "none" } else { "full" });
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, serde_json::to_string_pretty(&tampered).unwrap()).unwrap();
    let run = show(&bad, "text", &[]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("FAILED: the bundle does not verify: seq "),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    let bad_page = dir.path().join("bad.html");
    let run = show(&bad, "html", &["--out", bad_page.to_str().unwrap()]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    let html = std::fs::read_to_string(&bad_page).unwrap();
    assert!(html.contains("<h2>Verdict: FAILED</h2>"));
    assert!(!html.contains("<tr>"), "a failure page shows a table");
    for statement in data["statements"].as_array().unwrap() {
        for line in statement["explanation"].as_array().unwrap() {
            assert!(!html.contains(line["calc"].as_str().unwrap()));
        }
    }
}
