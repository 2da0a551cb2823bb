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

/// The stored entry `name` of a workbook: pbr writes its ZIP entries STORED, so each local
/// header is followed by the entry's bytes as they are.
fn zip_entry(zip: &[u8], name: &str) -> String {
    let mut at = 0;
    while zip[at..].starts_with(b"PK\x03\x04") {
        let u16_at = |i: usize| usize::from(u16::from_le_bytes([zip[at + i], zip[at + i + 1]]));
        let size = u32::from_le_bytes(zip[at + 18..at + 22].try_into().unwrap()) as usize;
        let (name_len, extra) = (u16_at(26), u16_at(28));
        let start = at + 30 + name_len + extra;
        if &zip[at + 30..at + 30 + name_len] == name.as_bytes() {
            return String::from_utf8(zip[start..start + size].to_vec()).unwrap();
        }
        at = start + size;
    }
    panic!("no entry {name} in the workbook");
}

/// The rows of the workbook's sheet `sheet`, each as the texts and numbers of its cells.
fn sheet_rows(xlsx: &[u8], sheet: &str) -> Vec<Vec<String>> {
    let workbook = zip_entry(xlsx, "xl/workbook.xml");
    let names: Vec<&str> = workbook
        .split("<sheet name=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    let index = names.iter().position(|n| *n == sheet).unwrap() + 1;
    let xml = zip_entry(xlsx, &format!("xl/worksheets/sheet{index}.xml"));
    xml.split("<row ")
        .skip(1)
        .map(|row| {
            row.split("<c ")
                .skip(1)
                .map(|cell| {
                    let value = cell
                        .split_once("<v>")
                        .or_else(|| cell.split_once("preserve\">"))
                        .map_or("", |(_, rest)| rest.split('<').next().unwrap());
                    value.replace("&amp;", "&")
                })
                .collect()
        })
        .collect()
}

/// The demo, then what an auditor looks for first: a correction with its reason (seq 618,
/// which retracts a monthly status the 2025-Q4 statement paid for), an amendment effective
/// 2026-01-01 (619), a dispute about a payment with evidence, dismissed (620–622), a payment
/// of 100.00 more than the 2025-Q3 statement called for (623), and the 2026-Q1 statement
/// (624), whose adjustment lines call for payments that nobody records.
fn ledger_with_findings() -> (tempfile::TempDir, String, String) {
    let (dir, ledger) = demo();
    let key = |party: &str| {
        let path = dir.path().join(format!("{party}.key"));
        std::fs::write(&path, pbr_ledger::sample::demo_key(party).to_text()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (jobcenter, provider) = (key("aalborg-jobcenter"), key("fokus-provider"));
    let run = |args: &[&str]| {
        let mut all = vec!["--ledger", &ledger];
        all.extend_from_slice(args);
        pbr_ok(&all);
    };
    let common = |date: &'static str, key: &str| -> Vec<String> {
        ["--contract", "impact60-demo", "--date", date, "--key", key]
            .map(str::to_owned)
            .to_vec()
    };
    let with = |head: &[&str], tail: &[String], rest: &[&str]| {
        let mut all: Vec<&str> = head.to_vec();
        all.extend(tail.iter().map(String::as_str));
        all.extend_from_slice(rest);
        run(&all);
    };
    with(
        &["correct"],
        &common("2026-02-02", &jobcenter),
        &["--retracts-seq", "512", "--reason", "data-entry"],
    );
    let registered = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--kind",
        "contract-registered",
        "--json",
    ]);
    let registered: Value = serde_json::from_str(registered.lines().next().unwrap()).unwrap();
    let terms = registered["event"]["payload"]["terms"]
        .as_str()
        .unwrap()
        .replacen(
            "name = \"IMPACT60-style demo contract\"",
            "name = \"IMPACT60-style demo contract, amended\"",
            1,
        );
    let terms_path = dir.path().join("amended.toml");
    std::fs::write(&terms_path, terms).unwrap();
    run(&[
        "contract",
        "amend",
        terms_path.to_str().unwrap(),
        "--key",
        &jobcenter,
        "--effective",
        "2026-01-01",
    ]);
    with(
        &["dispute", "open"],
        &common("2026-02-03", &provider),
        &["--about-seq", "592", "--reason", "amount"],
    );
    let evidence = blake3::hash(b"the provider's bank statement")
        .to_hex()
        .to_string();
    with(
        &["dispute", "evidence"],
        &common("2026-02-04", &provider),
        &["--dispute-seq", "620", "--evidence", &evidence],
    );
    with(
        &["dispute", "resolve"],
        &common("2026-02-10", &jobcenter),
        &["--dispute-seq", "620", "--resolution", "dismissed"],
    );
    with(
        &["pay"],
        &common("2026-02-11", &jobcenter),
        &[
            "--from",
            "aalborg-jobcenter",
            "--to",
            "fokus-provider",
            "--amount",
            "100",
            "--settlement-seq",
            "507",
        ],
    );
    run(&[
        "settle", "--period", "2026-Q1", "--issue", "--key", &jobcenter,
    ]);
    (dir, ledger, evidence)
}

#[test]
fn amendments_disputes_corrections_and_payments_appear_in_all_three_formats() {
    let (dir, ledger, evidence) = ledger_with_findings();
    let run = run_audit(&ledger, &["--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run_audit(&ledger, &["--format", "json"]).stdout,
        run.stdout,
        "the same bytes twice"
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();

    // The terms: the registration, superseded by the amendment, which is in force.
    let amended = json(&[
        "--ledger",
        &ledger,
        "log",
        "--kind",
        "contract-amended",
        "--json",
    ]);
    let terms = &report["terms"];
    assert_eq!(terms["in_force_seq"], 619);
    let versions = terms["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["kind"], "contract-registered");
    assert_eq!(versions[0]["status"], "superseded");
    assert_eq!(versions[0]["until"], "2025-12-31");
    assert_eq!(versions[1]["kind"], "contract-amended");
    assert_eq!(versions[1]["effective_from"], "2026-01-01");
    assert_eq!(versions[1]["status"], "in force");
    let amended_hash = amended["event"]["payload"]["terms_hash"].as_str().unwrap();
    assert_eq!(versions[1]["terms_hash"], amended_hash);

    // The dispute, from its opening to its resolution.
    let disputes = report["disputes"].as_array().unwrap();
    assert_eq!(disputes.len(), 1);
    let dispute = &disputes[0];
    assert_eq!(dispute["seq"], 620);
    assert_eq!(dispute["opened_by"], "fokus-provider");
    assert_eq!(dispute["about_seq"], 592);
    assert_eq!(dispute["about_kind"], "payment-recorded");
    assert_eq!(dispute["reason"], "amount");
    assert_eq!(dispute["evidence"][0]["hash"], evidence.as_str());
    assert_eq!(dispute["evidence"][0]["seq"], 621);
    assert_eq!(dispute["resolution"]["resolution"], "dismissed");
    assert_eq!(dispute["resolution"]["seq"], 622);
    assert_eq!(dispute["status"], "resolved: dismissed");

    // The correction, with its reason and what it retracted.
    let corrections = report["corrections"].as_array().unwrap();
    assert_eq!(corrections.len(), 1);
    assert_eq!(corrections[0]["seq"], 618);
    assert_eq!(corrections[0]["retracts_seq"], 512);
    assert_eq!(corrections[0]["retracts_kind"], "monthly-status-recorded");
    assert_eq!(corrections[0]["reason"], "data-entry");

    // The payments: each statement against what `pbr log` says was paid for it.
    let payments = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--kind",
        "payment-recorded",
        "--json",
    ]);
    let paid_for = |seq: u64| -> i64 {
        payments
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).unwrap())
            .filter(|p| p["event"]["payload"]["settlement_seq"] == seq)
            .map(|p| p["event"]["payload"]["amount"]["minor"].as_i64().unwrap())
            .sum()
    };
    let minor =
        |decimal: &Value| -> i64 { decimal.as_str().unwrap().replace('.', "").parse().unwrap() };
    let statements = report["payments"]["statements"].as_array().unwrap();
    let statement = |seq: u64| statements.iter().find(|s| s["seq"] == seq).unwrap();
    assert_eq!(
        statements.len(),
        report["statements"].as_array().unwrap().len()
    );
    let paid = statement(581);
    assert_eq!(paid["status"], "paid");
    assert_eq!(minor(&paid["paid"]), paid_for(581));
    assert_eq!(paid["due"], paid["paid"]);
    assert_eq!(paid["outstanding"], "0.00");
    let overpaid = statement(507);
    assert_eq!(overpaid["status"], "overpaid");
    assert_eq!(minor(&overpaid["paid"]), paid_for(507));
    assert_eq!(overpaid["overpaid"], "100.00");
    assert_eq!(minor(&overpaid["paid"]) - minor(&overpaid["due"]), 10000);
    let unpaid = statement(624);
    assert_eq!(unpaid["period"], "2026-Q1");
    assert_eq!(unpaid["status"], "outstanding");
    assert_eq!(unpaid["paid"], "0.00");
    assert_eq!(unpaid["payments"], serde_json::json!([]));
    assert_ne!(unpaid["due"], "0.00");
    assert_eq!(unpaid["outstanding"], unpaid["due"]);
    assert_eq!(unpaid["late"], "not assessed");
    assert!(
        unpaid["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["status"] == "outstanding")
    );
    assert_eq!(report["payments"]["unmatched"], serde_json::json!([]));

    // The page: each section, as accessible tables with captions.
    let html = run_audit(&ledger, &[]).stdout;
    assert_eq!(run_audit(&ledger, &[]).stdout, html, "the same bytes twice");
    assert_self_contained(&html);
    for section in ["terms", "payments", "disputes", "corrections"] {
        assert!(
            html.contains(&format!("<section id=\"{section}\"")),
            "{section}"
        );
    }
    for caption in [
        "Terms versions",
        "Issued statements and their payments",
        "Per pair of parties",
        "Payments matched to statements",
        "Disputes",
        "Corrections",
    ] {
        assert!(
            html.contains(&format!("<caption>{caption}</caption>")),
            "{caption}"
        );
    }
    assert!(html.contains(amended_hash));
    assert!(
        html.contains("<td>2026-01-01</td><td></td>"),
        "the amendment governs on"
    );
    assert!(html.contains("<span class=\"good\">in force</span>"));
    assert!(html.contains(&evidence));
    assert!(html.contains("dismissed: seq 622, 2026-02-10, by aalborg-jobcenter"));
    assert!(html.contains("seq 512 (monthly-status-recorded, 2025-10-31, by aalborg-jobcenter)"));
    assert!(html.contains("<td>data-entry</td>"));
    let row = |seq: u64, period: &str, status: &str, class: &str| {
        format!(
            "<tr><td class=\"num\">{seq}</td><td>{period}</td><td><span class=\"{class}\">{status}</span></td>"
        )
    };
    assert!(html.contains(&row(581, "2025-Q4", "paid", "good")));
    assert!(html.contains(&row(507, "2025-Q3", "overpaid", "warn")));
    assert!(html.contains(&row(624, "2026-Q1", "outstanding", "bad")));
    assert!(html.contains(&format!(
        "<td class=\"num\">{}</td><td class=\"num\">0.00</td><td class=\"num\">{}</td>",
        grouped(unpaid["due"].as_str().unwrap()),
        grouped(unpaid["due"].as_str().unwrap())
    )));
    assert!(html.contains("Disputes</th><td>1 opened, 0 open"));

    // The workbook: a sheet per section, the same figures.
    let xlsx = |name: &str| {
        let path = dir.path().join(name);
        let run = run_audit(
            &ledger,
            &["--format", "xlsx", "--out", path.to_str().unwrap()],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        std::fs::read(path).unwrap()
    };
    let book = xlsx("a.xlsx");
    assert_eq!(xlsx("b.xlsx"), book, "the same bytes twice");
    let find = |rows: &[Vec<String>], first: &str| -> Vec<String> {
        rows.iter()
            .find(|r| r.first().map(String::as_str) == Some(first))
            .unwrap_or_else(|| panic!("no row {first}"))
            .clone()
    };
    let terms = sheet_rows(&book, "Terms");
    assert_eq!(terms[0][..4], ["seq", "kind", "recorded_on", "recorded_by"]);
    let amendment = find(&terms, "619");
    assert_eq!(amendment[1], "contract-amended");
    assert_eq!(amendment[4], "2026-01-01");
    assert!(
        amendment.contains(&amended_hash.to_owned()) && amendment.contains(&"in force".to_owned())
    );
    let sheet = sheet_rows(&book, "Payments");
    assert_eq!(
        sheet[0],
        [
            "seq",
            "period",
            "status",
            "due",
            "paid",
            "outstanding",
            "overpaid",
            "last_paid",
            "late",
            "error"
        ]
    );
    let decimals = |s: &Value, keys: &[&str]| -> Vec<String> {
        keys.iter()
            .map(|k| s[*k].as_str().unwrap().to_owned())
            .collect()
    };
    for (seq, status) in [(581, "paid"), (507, "overpaid"), (624, "outstanding")] {
        let row = find(&sheet, &seq.to_string());
        assert_eq!(row[2], status, "{seq}");
        assert_eq!(
            row[3..7],
            decimals(statement(seq), &["due", "paid", "outstanding", "overpaid"])[..],
            "{seq}"
        );
    }
    let pairs = sheet_rows(&book, "Payment pairs");
    assert!(pairs.iter().any(|r| r[0] == "624" && r[7] == "outstanding"));
    let matched = sheet_rows(&book, "Payments matched");
    let extra = find(&matched, "623");
    assert_eq!(extra[4..], ["100.00", "507", "named"]);
    let disputes = sheet_rows(&book, "Disputes");
    assert_eq!(
        disputes.len(),
        4,
        "the opening, the evidence and the resolution"
    );
    assert_eq!(disputes[2][1], "evidence");
    assert_eq!(disputes[2][5], evidence);
    assert_eq!(disputes[3][1..3], ["resolved", "622"]);
    let corrections = sheet_rows(&book, "Corrections");
    assert_eq!(
        corrections[1][..4],
        ["618", "2026-02-02", "aalborg-jobcenter", "512"]
    );
    assert_eq!(corrections[1][5], "data-entry");
}

#[test]
fn a_statement_without_its_payment_is_outstanding_and_a_payment_pays_it() {
    // The demo's last statement is paid; once the 2026-Q1 statement is issued it is
    // outstanding until its payments are recorded, oldest statement first when they name none.
    let (dir, ledger, _) = ledger_with_findings();
    let report = |ledger: &str| -> Value {
        serde_json::from_str(&run_audit(ledger, &["--json"]).stdout).unwrap()
    };
    let before = report(&ledger);
    let q1 = |r: &Value| {
        r["payments"]["statements"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone()
    };
    assert_eq!(q1(&before)["status"], "outstanding");
    let pairs = q1(&before)["pairs"].as_array().unwrap().clone();
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    let key = |party: &str| {
        let path = dir.path().join(format!("{party}.key"));
        std::fs::write(&path, pbr_ledger::sample::demo_key(party).to_text()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    for pair in &pairs {
        let from = pair["from"].as_str().unwrap();
        let out = pbr_ok(&[
            "--ledger",
            &ledger,
            "pay",
            "--contract",
            "impact60-demo",
            "--date",
            "2026-04-14",
            "--key",
            &key(from),
            "--from",
            from,
            "--to",
            pair["to"].as_str().unwrap(),
            "--amount",
            pair["due"].as_str().unwrap(),
        ]);
        assert!(out.contains("1 appended"), "{out}");
    }
    let after = report(&ledger);
    let q1 = q1(&after);
    assert_eq!(q1["status"], "paid", "{q1}");
    assert_eq!(q1["outstanding"], "0.00");
    assert_eq!(q1["last_paid"], "2026-04-14");
    for payment in q1["payments"].as_array().unwrap() {
        assert_eq!(payment["matched"], "oldest-first");
    }
    assert_eq!(after["payments"]["unmatched"], serde_json::json!([]));
}
