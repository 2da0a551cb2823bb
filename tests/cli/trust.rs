//! A failed trust check is never "passed" (`docs/cli.md`, "Verdicts"; DESIGN §6): the demo
//! ledger checked by `pbr verify`, `pbr audit` and `pbr report audit` (text, JSON, HTML and
//! XLSX) with (a) the log key and one quorum witness's key only, the witnesses' keys without
//! the log key, or the log key with the quorum parties' event keys (which cosign nothing),
//! (b) the log key, the jobcentre's witness key and a forged witness key in the provider
//! witness's name, (c) the log key and every quorum witness's key, and (d) no key.
//!
//! (a) and (b) fail with exit code 5 and name the missing signer in the verdict's first line
//! and in its JSON fields; (c) passes with exit code 0; (d) exits 0, and its first line says
//! that trust was not established.

use std::path::Path;

use pbr_ledger::sample;
use serde_json::Value;

use crate::support::{Run, demo, pbr};

const OK: i32 = 0;
const VERIFY_FAILED: i32 = 5;

/// The demo's log key and its quorum's witness keys, a forged witness key in the provider
/// witness's name, a witness outside the quorum (which cosigned nothing), and the quorum
/// parties' event keys (no witness keys), as verifier keys.
struct Keys {
    log: String,
    jobcentre: String,
    provider: String,
    forged_provider: String,
    investor: String,
    jobcentre_event: String,
    provider_event: String,
}

impl Keys {
    fn of(dir: &Path) -> Keys {
        let vkey = |key: pbr_ledger::SignerKey| key.verifier_key().to_string();
        // A well-formed witness key with the provider witness's name and another public
        // key, made as anyone would make one.
        let file = dir.join("forged.key");
        let run = pbr(&[
            "party",
            "keygen",
            "fokus-provider-witness",
            "--kind",
            "witness",
            "--out",
            file.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(run.code, OK, "{}", run.stderr);
        let made: Value = serde_json::from_str(&run.stdout).unwrap();
        let forged_provider = made["verifier_key"].as_str().unwrap().to_owned();
        let keys = Keys {
            log: vkey(sample::demo_log_key()),
            jobcentre: vkey(sample::demo_witness_key("aalborg-jobcenter")),
            provider: vkey(sample::demo_witness_key("fokus-provider")),
            forged_provider,
            investor: vkey(sample::demo_witness_key("dsk-investor")),
            jobcentre_event: vkey(sample::demo_key("aalborg-jobcenter")),
            provider_event: vkey(sample::demo_key("fokus-provider")),
        };
        assert!(keys.forged_provider.starts_with("fokus-provider-witness+"));
        assert_ne!(id(&keys.forged_provider), id(&keys.provider));
        keys
    }
}

/// `name+keyid` of a verifier key `name+keyid+base64`, as verdicts name signers.
fn id(vkey: &str) -> String {
    let mut parts = vkey.splitn(3, '+');
    format!("{}+{}", parts.next().unwrap(), parts.next().unwrap())
}

/// What a check must say.
#[derive(Clone, Debug)]
enum Expect {
    /// Exit 5, naming these quorum signers as missing (`name+keyid`).
    Failed(Vec<String>),
    /// Exit 0, passed.
    Passed,
    /// Exit 0, trust not established: no key was given.
    NotEstablished,
}

fn with_keys<'a>(args: &[&'a str], keys: &'a [&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    for key in keys {
        all.extend(["--key", key]);
    }
    all
}

/// Checks a verdict's first line against what is expected.
fn assert_line(line: &str, expect: &Expect, what: &str) {
    match expect {
        Expect::Failed(missing) => {
            let head = format!("FAILED: quorum not met, missing {}:", missing.join(", "));
            assert!(line.starts_with(&head), "{what}: {line:?} is not {head:?}…");
        }
        Expect::Passed => assert!(line.starts_with("passed: "), "{what}: {line:?}"),
        Expect::NotEstablished => assert!(
            line.starts_with("trust not established: no --key given"),
            "{what}: {line:?}"
        ),
    }
}

fn expected_code(expect: &Expect) -> i32 {
    match expect {
        Expect::Failed(_) => VERIFY_FAILED,
        Expect::Passed | Expect::NotEstablished => OK,
    }
}

/// Nothing that fails reads as passed, in any form.
fn assert_never_passed(text: &str, expect: &Expect, what: &str) {
    if let Expect::Failed(_) | Expect::NotEstablished = expect {
        assert!(
            !text.to_lowercase().contains("passed"),
            "{what} says passed:\n{text}"
        );
    }
}

/// The verdict fields of a JSON answer: `ok`, `verdict`, `trust`, `trust_checkpoint`,
/// `missing`.
fn assert_json(answer: &Value, expect: &Expect, what: &str) {
    assert_line(answer["verdict"].as_str().unwrap(), expect, what);
    match expect {
        Expect::Failed(missing) => {
            assert_eq!(answer["ok"], false, "{what}");
            assert_eq!(answer["trust"], "failed", "{what}");
            assert_eq!(answer["missing"], serde_json::json!(missing), "{what}");
            assert_eq!(answer["trust_checkpoint"], 618, "{what}");
        }
        Expect::Passed => {
            assert_eq!(answer["ok"], true, "{what}");
            assert_eq!(answer["trust"], "established", "{what}");
            assert_eq!(answer["missing"], serde_json::json!([]), "{what}");
            assert_eq!(answer["trust_checkpoint"], 618, "{what}");
        }
        Expect::NotEstablished => {
            assert_eq!(answer["ok"], true, "{what}");
            assert_eq!(answer["trust"], "not established", "{what}");
            assert_eq!(answer["missing"], Value::Null, "{what}");
            assert_eq!(answer["trust_checkpoint"], Value::Null, "{what}");
        }
    }
}

/// A `--json` run: the answer, then on failure the error object of every `--json` command.
fn json_answer(run: &Run, expect: &Expect, what: &str) -> Value {
    assert_eq!(run.code, expected_code(expect), "{what}: {}", run.stderr);
    let mut lines = run.stdout.lines();
    let answer: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    if let Expect::Failed(_) = expect {
        let failure: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(failure["exit_code"], VERIFY_FAILED, "{what}");
        assert!(
            run.stderr.contains("quorum not met, missing"),
            "{what}: {}",
            run.stderr
        );
    }
    assert_never_passed(&run.stdout, expect, what);
    answer
}

/// `pbr verify` and `pbr audit`, as text and as JSON.
fn check_command(ledger: &str, command: &str, keys: &[&str], expect: &Expect) {
    let what = format!("{command} {keys:?}");
    let run = pbr(&with_keys(&["--ledger", ledger, command], keys));
    assert_eq!(run.code, expected_code(expect), "{what}: {}", run.stderr);
    let first = run.stdout.lines().next().unwrap_or_default();
    assert_line(first, expect, &what);
    assert_never_passed(&run.stdout, expect, &what);

    let run = pbr(&with_keys(&["--ledger", ledger, command, "--json"], keys));
    let answer = json_answer(&run, expect, &what);
    assert_json(&answer, expect, &what);
    assert_eq!(
        answer["verdict"], first,
        "{what}: the same line in text and JSON"
    );
}

/// `pbr report audit` as JSON, HTML and XLSX: each written, showing the verdict.
fn check_report(dir: &Path, ledger: &str, keys: &[&str], expect: &Expect, name: &str) {
    let what = format!("report audit {keys:?}");
    let run = pbr(&with_keys(
        &["--ledger", ledger, "report", "audit", "--format", "json"],
        keys,
    ));
    assert_eq!(run.code, expected_code(expect), "{what}: {}", run.stderr);
    let report: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    assert_json(&report, expect, &what);
    assert_never_passed(&run.stdout, expect, &what);
    if let Expect::Failed(_) = expect {
        assert!(
            report["failures"][0]
                .as_str()
                .unwrap()
                .starts_with("quorum not met, missing"),
            "{report}"
        );
    }

    let run = pbr(&with_keys(&["--ledger", ledger, "report", "audit"], keys));
    assert_eq!(run.code, expected_code(expect), "{what}: {}", run.stderr);
    let html = run.stdout;
    assert_never_passed(&html, expect, &what);
    // The verdict section itself names what failed, not only a table cell.
    let start = html.find("<section id=\"verdict\"").unwrap();
    let verdict = &html[start..start + html[start..].find("</section>").unwrap()];
    let heading = match expect {
        Expect::Failed(_) => "<h2>Verdict: FAILED</h2>",
        Expect::Passed => "<h2>Verdict: passed</h2>",
        Expect::NotEstablished => "<h2>Verdict: trust not established</h2>",
    };
    assert!(verdict.contains(heading), "{what}: {verdict}");
    let line = verdict
        .split("<p class=\"verdict-line\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap();
    assert_line(line, expect, &what);
    assert_eq!(
        line,
        report["verdict"].as_str().unwrap(),
        "{what}: the same line in HTML and JSON"
    );

    let path = dir.join(format!("{name}.xlsx"));
    let run = pbr(&with_keys(
        &[
            "--ledger",
            ledger,
            "report",
            "audit",
            "--format",
            "xlsx",
            "--out",
            path.to_str().unwrap(),
        ],
        keys,
    ));
    assert_eq!(run.code, expected_code(expect), "{what}: {}", run.stderr);
    // The writer stores its entries uncompressed: the cells are in the bytes.
    let xlsx = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    assert!(
        xlsx.contains(report["verdict"].as_str().unwrap()),
        "{what}: the workbook's verdict"
    );
    assert_never_passed(&xlsx, expect, &what);
}

fn check_all(dir: &Path, ledger: &str, keys: &[&str], expect: Expect, name: &str) {
    check_command(ledger, "verify", keys, &expect);
    check_command(ledger, "audit", keys, &expect);
    check_report(dir, ledger, keys, &expect, name);
}

#[test]
fn one_quorum_witness_or_the_log_key_alone_is_not_passed() {
    let (dir, ledger) = demo();
    let keys = Keys::of(dir.path());
    check_all(
        dir.path(),
        &ledger,
        &[&keys.log, &keys.jobcentre],
        Expect::Failed(vec![id(&keys.provider)]),
        "jobcentre",
    );
    check_all(
        dir.path(),
        &ledger,
        &[&keys.log, &keys.provider],
        Expect::Failed(vec![id(&keys.jobcentre)]),
        "provider",
    );
    // Every witness, but not the log key: the log key's signature is part of the quorum.
    check_all(
        dir.path(),
        &ledger,
        &[&keys.jobcentre, &keys.provider],
        Expect::Failed(vec![id(&keys.log)]),
        "witnesses",
    );
    // The quorum parties' event keys are no witness keys: they cosigned nothing.
    check_all(
        dir.path(),
        &ledger,
        &[&keys.log, &keys.jobcentre_event, &keys.provider_event],
        Expect::Failed(vec![id(&keys.jobcentre), id(&keys.provider)]),
        "event keys",
    );
    // A witness outside the quorum, which cosigned nothing: each checkpoint is listed as
    // signed by none of the given keys, and the verdict names the whole quorum.
    check_all(
        dir.path(),
        &ledger,
        &[&keys.investor],
        Expect::Failed(vec![id(&keys.log), id(&keys.jobcentre), id(&keys.provider)]),
        "investor",
    );
    let run = pbr(&["--ledger", &ledger, "verify", "--key", &keys.investor]);
    assert!(
        run.stdout
            .contains("checkpoint of size 40 signed by none of the given keys\n"),
        "{}",
        run.stdout
    );
    let run = pbr(&[
        "--ledger",
        &ledger,
        "report",
        "audit",
        "--key",
        &keys.investor,
    ]);
    assert!(
        run.stdout.contains("<td class=\"num\">40</td>")
            && run.stdout.contains("<td>none of the given keys</td>"),
        "the report's checkpoint table"
    );
}

#[test]
fn a_forged_witness_key_in_a_quorum_partys_name_signs_nothing() {
    let (dir, ledger) = demo();
    let keys = Keys::of(dir.path());
    let forged = [
        keys.log.as_str(),
        keys.jobcentre.as_str(),
        keys.forged_provider.as_str(),
    ];
    check_all(
        dir.path(),
        &ledger,
        &forged,
        Expect::Failed(vec![id(&keys.provider)]),
        "forged",
    );
    let run = pbr(&with_keys(
        &["--ledger", &ledger, "verify", "--json"],
        &forged,
    ));
    let answer: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    let latest = answer["checkpoints"].as_array().unwrap().last().unwrap();
    assert_eq!(
        latest["signed_by"],
        serde_json::json!([id(&keys.log), id(&keys.jobcentre)])
    );

    // Given beside the real key, and before it, the forged key changes nothing: the real
    // key's cosignature is the one reported.
    let both = [
        keys.forged_provider.as_str(),
        keys.provider.as_str(),
        keys.jobcentre.as_str(),
        keys.log.as_str(),
    ];
    let run = pbr(&with_keys(
        &["--ledger", &ledger, "verify", "--json"],
        &both,
    ));
    let answer = json_answer(&run, &Expect::Passed, "forged and real");
    assert_json(&answer, &Expect::Passed, "forged and real");
    let latest = answer["checkpoints"].as_array().unwrap().last().unwrap();
    assert!(
        latest["signed_by"]
            .as_array()
            .unwrap()
            .contains(&Value::from(id(&keys.provider))),
        "{latest}"
    );
}

#[test]
fn the_log_key_and_every_quorum_witness_pass() {
    let (dir, ledger) = demo();
    let keys = Keys::of(dir.path());
    check_all(
        dir.path(),
        &ledger,
        &[&keys.log, &keys.jobcentre, &keys.provider],
        Expect::Passed,
        "quorum",
    );
}

#[test]
fn without_a_key_trust_is_not_established() {
    let (dir, ledger) = demo();
    check_all(dir.path(), &ledger, &[], Expect::NotEstablished, "none");
}

#[test]
fn a_checkpoint_that_does_not_cover_the_log_is_not_passed() {
    // One event recorded after the quorum's checkpoint: the log's last record is signed by no
    // checkpoint, so `verify` and the report fail; every issued statement is still covered,
    // so `audit` passes.
    let (dir, ledger) = demo();
    let keys = Keys::of(dir.path());
    let key = dir.path().join("jobcenter.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("aalborg-jobcenter").to_text(),
    )
    .unwrap();
    let run = pbr(&[
        "--ledger",
        &ledger,
        "status",
        "--contract",
        "impact60-demo",
        "--date",
        "2026-02-02",
        "--participant",
        &first_participant(&ledger),
        "--month",
        "2026-01",
        "--status",
        "none",
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(run.code, OK, "{}", run.stderr);
    let quorum = [
        keys.log.as_str(),
        keys.jobcentre.as_str(),
        keys.provider.as_str(),
    ];
    for args in [
        vec!["--ledger", &ledger, "verify", "--json"],
        vec!["--ledger", &ledger, "report", "audit", "--json"],
    ] {
        let run = pbr(&with_keys(&args, &quorum));
        assert_eq!(run.code, VERIFY_FAILED, "{args:?}: {}", run.stderr);
        let answer: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
        assert_eq!(
            answer["verdict"],
            "FAILED: the latest checkpoint (size 618) does not cover the whole log (619 records)"
        );
        assert_eq!(answer["trust"], "failed");
        assert_eq!(answer["missing"], serde_json::json!([]));
    }
    let run = pbr(&with_keys(
        &["--ledger", &ledger, "audit", "--json"],
        &quorum,
    ));
    let answer = json_answer(&run, &Expect::Passed, "audit");
    assert_json(&answer, &Expect::Passed, "audit");
}

/// The reference of the demo's first enrolled participant.
fn first_participant(ledger: &str) -> String {
    let run = pbr(&[
        "--ledger",
        ledger,
        "log",
        "--kind",
        "participant-enrolled",
        "--json",
    ]);
    let first: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    first["event"]["participant"].as_str().unwrap().to_owned()
}
