//! `pbr report audit` (`docs/reports.md`, "Audit report"): on the demo ledger, the report
//! holds what `pbr verify --json`, `pbr audit --json` and `pbr balance --json` print (taken
//! from those commands, never transcribed); each format is byte-identical run to run; a
//! tampered log, a statement that does not match and an untrusted key each show as a failure
//! in the written report, with exit code 5; the HTML loads nothing. The verdict under each
//! kind of key is `tests/cli/trust.rs`.
//!
//! The HTML's rendering in a real browser is checked by `tools/check_report_html.py`.

use std::path::Path;

use serde_json::Value;

use crate::support::{demo, pbr, pbr_ok};

const USAGE: i32 = 2;
const INPUT: i32 = 3;
const VERIFY_FAILED: i32 = 5;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&pbr_ok(args)).unwrap()
}

/// `pbr report audit` on `ledger` with `extra` arguments.
fn run_audit(ledger: &str, extra: &[&str]) -> crate::support::Run {
    let mut args = vec!["--ledger", ledger, "report", "audit"];
    args.extend_from_slice(extra);
    pbr(&args)
}

/// A JSON amount as the HTML shows it: thousands separated by `,`.
fn grouped(decimal: &str) -> String {
    let (sign, digits) = match decimal.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", decimal),
    };
    let (whole, fraction) = digits.split_once('.').unwrap();
    let mut out = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    format!("{sign}{out}.{fraction}")
}

/// Strings that would make the page load something, or run something.
const FORBIDDEN: [&str; 8] = [
    "http:", "https:", "src=", "<link", "@import", "url(", "<script", "href=",
];

fn assert_self_contained(html: &str) {
    for needle in FORBIDDEN {
        assert!(
            !html.to_lowercase().contains(needle),
            "the HTML holds {needle:?}"
        );
    }
}

#[test]
fn the_demo_report_holds_what_verify_audit_and_balance_print() {
    let (_dir, ledger) = demo();
    let verify = json(&["--ledger", &ledger, "verify", "--json"]);
    let audit = json(&["--ledger", &ledger, "audit", "--json"]);
    let balance = json(&["--ledger", &ledger, "balance", "--json"]);

    let run = run_audit(&ledger, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.ends_with('\n') && run.stdout.lines().count() == 1);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["failures"], Value::Array(vec![]));
    assert_eq!(report["contract"], balance["contract"]);
    let verification = &report["verification"];
    assert_eq!(verification["ok"], true);
    for key in ["records", "root", "chain_head", "checkpoint_keys"] {
        assert_eq!(verification[key], verify[key], "{key}");
    }
    let checkpoints = report["checkpoints"].as_array().unwrap();
    let verified = verify["checkpoints"].as_array().unwrap();
    assert_eq!(checkpoints.len(), verified.len());
    for (ours, theirs) in checkpoints.iter().zip(verified) {
        for key in ["size", "signed_by", "quorum"] {
            assert_eq!(ours[key], theirs[key], "{key}");
        }
    }
    // The latest checkpoint is the one `checkpoint show` prints, whose root is verify's. A
    // format-2 checkpoint has no time line: its time is its witnesses' latest cosignature.
    let note = pbr_ok(&["--ledger", &ledger, "checkpoint", "show"]);
    let note = pbr_ledger::SignedCheckpoint::parse(&note).unwrap();
    let time = crate::support::DEMO_QUORUM
        .iter()
        .map(|party| {
            let witness = pbr_ledger::sample::demo_witness_key(party).verifier_key();
            note.cosignature_time(&witness).unwrap().unwrap()
        })
        .max()
        .unwrap();
    assert_eq!(checkpoints.last().unwrap()["time"], time);
    assert_eq!(checkpoints.last().unwrap()["root"], verify["root"]);
    assert_eq!(report["statements"], audit["statements"]);
    assert_eq!(report["balances"], balance["parties"]);
    assert_eq!(report["replay"]["log_position"], balance["log_position"]);

    // The charts end where the balances are.
    let charts = &report["charts"];
    let parties = balance["parties"].as_array().unwrap();
    let last = |series: &Value| series["values"].as_array().unwrap().last().unwrap().clone();
    for (row, series) in parties.iter().zip(charts["settled"].as_array().unwrap()) {
        assert_eq!(series["party"], row["party"]);
        assert_eq!(last(series), row["accrued"], "{}", row["party"]);
    }
    // The demo's treasuries paid what every statement called for: each party's payments
    // end at its balance's `paid`.
    let paid = charts["paid"].as_array().unwrap();
    assert!(!paid.is_empty(), "the demo records payments");
    for series in paid {
        let row = parties
            .iter()
            .find(|r| r["party"] == series["party"])
            .unwrap();
        assert_eq!(last(series), row["paid"], "{}", row["party"]);
    }
    for series in charts["guarantee_exposure"].as_array().unwrap() {
        let row = parties
            .iter()
            .find(|r| r["party"] == series["party"])
            .unwrap();
        assert_eq!(last(series), row["guarantee_exposure"]);
    }
    let facility = &charts["facility_outstanding"][0];
    let lender = parties
        .iter()
        .find(|r| r["party"] == facility["lender"])
        .unwrap();
    assert_eq!(
        last(facility),
        lender["guarantee_exposure"],
        "all of it guaranteed"
    );
    let periods = charts["periods"].as_array().unwrap();
    let statements = audit["statements"].as_array().unwrap();
    assert_eq!(periods.first(), Some(&statements[0]["period"]));
    // The axis runs on to the last recorded payment, paid after the last statement's period.
    assert!(periods.contains(&statements.last().unwrap()["period"]));
    assert_eq!(
        periods.last().unwrap(),
        "2026-Q1",
        "the 2025-Q4 payment is made in 2026"
    );
    let achievers: Vec<i64> = charts["achievers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect();
    assert!(achievers.windows(2).all(|w| w[0] <= w[1]), "{achievers:?}");
    assert!(*achievers.last().unwrap() > 0);

    let run = run_audit(&ledger, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let html = run.stdout;
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert_self_contained(&html);
    // No --key: the ledger's own keys are no trust anchor, so the verdict is not "passed".
    assert!(html.contains("<h2>Verdict: trust not established</h2>"));
    assert!(!html.contains("passed"));
    for key in ["root", "chain_head"] {
        assert!(html.contains(verify[key].as_str().unwrap()), "{key}");
    }
    let count = statements.len();
    assert!(html.contains(&format!(
        "{count} issued, <span class=\"good\">{count} of {count} match"
    )));
    for statement in statements {
        assert!(html.contains(statement["recorded_hash"].as_str().unwrap()));
    }
    for row in parties {
        assert!(html.contains(&format!(">{}</th>", row["party"].as_str().unwrap())));
        for (key, value) in row.as_object().unwrap() {
            if key != "party" {
                let shown = format!(">{}</td>", grouped(value.as_str().unwrap()));
                assert!(html.contains(&shown), "{key} {shown}");
            }
        }
    }
    for signer in verified.last().unwrap()["signed_by"].as_array().unwrap() {
        assert!(html.contains(signer.as_str().unwrap()));
    }
    assert!(html.contains("not a trust anchor"));
    for id in ["chart-settled", "chart-facility", "chart-achievers"] {
        assert!(html.contains(&format!("<svg id=\"{id}\"")), "{id}");
    }
    assert!(
        html.contains("pbr --ledger LEDGER report audit --contract impact60-demo --format html")
    );

    // Privacy: counts of participants, never their references.
    let enrolled = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--kind",
        "participant-enrolled",
        "--json",
    ]);
    let mut references = 0;
    for line in enrolled.lines() {
        let event: Value = serde_json::from_str(line).unwrap();
        let participant = event["event"]["participant"].as_str().unwrap();
        assert!(!html.contains(participant) && !json_contains(&report, participant));
        references += 1;
    }
    assert_eq!(references, 24);
}

fn json_contains(report: &Value, needle: &str) -> bool {
    report.to_string().contains(needle)
}

#[test]
fn each_format_gives_the_same_bytes_twice() {
    let (dir, ledger) = demo();
    let html = run_audit(&ledger, &["--format", "html"]).stdout;
    assert_eq!(run_audit(&ledger, &[]).stdout, html, "html is the default");
    let json = run_audit(&ledger, &["--format", "json"]).stdout;
    assert_eq!(run_audit(&ledger, &["--format", "json"]).stdout, json);
    assert_eq!(
        pbr_ok(&["--ledger", &ledger, "report", "audit", "--json"]),
        json
    );
    assert!(html.len() > 10_000 && json.len() > 1_000);

    let file = |name: &str, format: &str| {
        let path = dir.path().join(name);
        let run = run_audit(
            &ledger,
            &["--format", format, "--out", path.to_str().unwrap()],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.stdout, "", "the report goes to the file only");
        std::fs::read(path).unwrap()
    };
    assert_eq!(file("a.html", "html"), html.as_bytes());
    let xlsx = file("a.xlsx", "xlsx");
    assert_eq!(file("b.xlsx", "xlsx"), xlsx);
    assert!(xlsx.starts_with(b"PK\x03\x04"));
    // The workbook is dated by the latest checkpoint, not the clock.
    let report: Value = serde_json::from_str(&json).unwrap();
    let time = report["checkpoints"].as_array().unwrap().last().unwrap()["time"]
        .as_i64()
        .unwrap();
    let created = chrono::DateTime::from_timestamp(time, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let contains = |needle: &str| xlsx.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains(&format!(">{created}</dcterms:created>")),
        "{created}"
    );
    for sheet in [
        "Audit",
        "Checkpoints",
        "Statements",
        "Balances",
        "Chart data",
    ] {
        assert!(contains(&format!("name=\"{sheet}\"")), "{sheet}");
    }
    for row in report["balances"].as_array().unwrap() {
        assert!(contains(&format!(
            "<v>{}</v>",
            row["net"].as_str().unwrap()
        )));
    }
    // An existing file is never overwritten.
    let path = dir.path().join("a.html");
    let run = report_to(&ledger, &path);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
}

fn report_to(ledger: &str, path: &Path) -> crate::support::Run {
    run_audit(ledger, &["--out", path.to_str().unwrap()])
}

#[test]
fn a_tampered_log_shows_as_failed_and_the_report_is_still_written() {
    let (dir, ledger) = demo();
    {
        let db = crate::support::raw_sled(&Path::new(&ledger).join("sled"));
        let events = db.open_tree("events").unwrap();
        let key = 57u64.to_be_bytes();
        let mut value = events.get(key).unwrap().unwrap().to_vec();
        value[12] ^= 0x20;
        events.insert(key, value).unwrap();
        db.flush().unwrap();
    }
    let path = dir.path().join("audit.html");
    let run = report_to(&ledger, &path);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(
            "pbr: error: the audit failed (the report shows it): verification failed at seq 57"
        ),
        "{}",
        run.stderr
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("Verdict: FAILED"));
    assert!(html.contains("verification failed at seq 57"));
    assert!(html.contains("class=\"verdict fail\""));

    let run = run_audit(&ledger, &["--json"]);
    assert_eq!(run.code, VERIFY_FAILED);
    // The report, then the failure object every `--json` command prints on an error.
    let mut lines = run.stdout.lines();
    let report: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let failure: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(failure["exit_code"], VERIFY_FAILED);
    assert_eq!(report["ok"], false);
    assert_eq!(report["verification"]["ok"], false);
    assert_eq!(report["verification"]["first_bad_seq"], 57);
    assert_eq!(report["verification"]["root"], Value::Null);
    // The flipped byte is in the event's kind tag: the log no longer replays either.
    assert_eq!(report["replay"]["ok"], false);
    assert_eq!(report["statements"], Value::Null);
    // The checkpoints are still listed, unverified.
    for checkpoint in report["checkpoints"].as_array().unwrap() {
        assert_eq!(checkpoint["signed_by"], Value::Null);
    }
}

#[test]
fn a_statement_that_does_not_match_shows_as_failed() {
    let (dir, ledger) = demo();
    let key = dir.path().join("jobcenter.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("aalborg-jobcenter").to_text(),
    )
    .unwrap();
    // An outside system records the 2026-Q1 statement by hash, one digit off.
    let statement = json(&[
        "--ledger", &ledger, "settle", "--period", "2026-Q1", "--json",
    ]);
    let right = statement["hash"].as_str().unwrap();
    let wrong = format!(
        "{}{}",
        if right.starts_with('0') { "1" } else { "0" },
        &right[1..]
    );
    let csv = dir.path().join("issue.csv");
    std::fs::write(
        &csv,
        format!(
            "kind,contract,date,author,id,period,statement_hash,log_position\n\
             settlement-issued,impact60-demo,2026-03-31,aalborg-jobcenter,outside,2026-Q1,{wrong},{}\n",
            statement["log_position"]
        ),
    )
    .unwrap();
    pbr_ok(&[
        "--ledger",
        &ledger,
        "import",
        csv.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let run = run_audit(&ledger, &["--format", "json"]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    let report_json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report_json["ok"], false);
    assert_eq!(
        report_json["verification"]["ok"], true,
        "the log itself is intact"
    );
    let statements = report_json["statements"].as_array().unwrap();
    let bad = statements.last().unwrap();
    assert_eq!(bad["matches"], false);
    assert_eq!(bad["recorded_hash"], wrong.as_str());
    assert_eq!(bad["recomputed_hash"], right);
    assert_eq!(
        report_json["failures"][0],
        format!(
            "1 of {} issued statements do not match their recomputation",
            statements.len()
        )
    );
    let audit = pbr(&["--ledger", &ledger, "audit", "--json"]);
    let audit: Value = serde_json::from_str(audit.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(report_json["statements"], audit["statements"]);

    let run = run_audit(&ledger, &[]);
    assert_eq!(run.code, VERIFY_FAILED);
    assert!(run.stdout.contains("Verdict: FAILED"));
    assert!(run.stdout.contains("NO: differs"));
    assert!(run.stdout.contains(&wrong));
}

#[test]
fn trusted_keys_are_named_and_an_untrusted_signature_fails() {
    let (_dir, ledger) = demo();
    let [log, jobcenter, provider] =
        <[String; 3]>::try_from(crate::support::demo_trusted()).unwrap();
    let fund = pbr_ledger::sample::demo_witness_key("obelske-fund")
        .verifier_key()
        .to_string();
    let run = run_audit(
        &ledger,
        &[
            "--json", "--key", &log, "--key", &jobcenter, "--key", &provider,
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report_json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report_json["verification"]["checkpoint_keys"], "given");
    assert_eq!(
        report_json["verification"]["trusted_keys"],
        serde_json::json!([log, jobcenter, provider])
    );
    let html = run_audit(
        &ledger,
        &["--key", &log, "--key", &jobcenter, "--key", &provider],
    )
    .stdout;
    assert!(html.contains("given with --key"));
    assert!(html.contains(&log) && html.contains(&jobcenter) && html.contains(&provider));
    assert!(!html.contains("not a trust anchor"));

    // The foundation's witness cosigned no checkpoint: the log verifies, but no checkpoint
    // carries a signature of the given key, and the verdict names the log key and both
    // quorum witnesses as missing.
    let run = run_audit(&ledger, &["--format", "json", "--key", &fund]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    let report_json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report_json["verification"]["ok"], true);
    for checkpoint in report_json["checkpoints"].as_array().unwrap() {
        assert_eq!(checkpoint["signed_by"], serde_json::json!([]));
    }
    let id = crate::support::key_id;
    let quorum = [id(&log), id(&jobcenter), id(&provider)];
    assert_eq!(report_json["missing"], serde_json::json!(quorum));
    let failure = report_json["failures"][0].as_str().unwrap();
    assert!(
        failure.starts_with(&format!(
            "quorum not met, missing {}: the latest checkpoint (size 618) carries no signature \
             of the given keys",
            quorum.join(", ")
        )),
        "{failure}"
    );
}

#[test]
fn malformed_requests_are_refused_before_anything_is_written() {
    let (dir, ledger) = demo();
    assert_eq!(
        run_audit(&ledger, &["--json", "--format", "html"]).code,
        USAGE
    );
    assert_eq!(run_audit(&ledger, &["--format", "xlsx"]).code, USAGE);
    assert_eq!(run_audit(&ledger, &["--format", "csv"]).code, USAGE);
    let run = run_audit(&ledger, &["--contract", "nope"]);
    assert_eq!(run.code, INPUT);
    assert!(
        run.stderr.contains("contract nope is not registered"),
        "{}",
        run.stderr
    );
    let run = run_audit(&ledger, &["--key", "not-a-key"]);
    assert_eq!(run.code, INPUT);
    let out = dir.path().join("never.html");
    let run = run_audit(&ledger, &["--key", "x", "--out", out.to_str().unwrap()]);
    assert_eq!(run.code, INPUT);
    assert!(!out.exists());
}
