//! The worked scenarios of `shared/domain/scenarios.md`, loaded through the real CLI: the
//! contract TOML and the import file under `tests/scenarios/`. The expected decisions are
//! transcribed from scenarios.md, never taken from the program's output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pbr_core::ids::EventId;

use crate::support::{pbr, pbr_ok};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh ledger with the scenario's contract registered and its parties' demo keys in
/// files; returns (tempdir, ledger, key file of each party).
fn scenario_ledger(
    scenario: &str,
    commissioner: &str,
    parties: &[&str],
) -> (tempfile::TempDir, String, BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger").to_str().unwrap().to_owned();
    let mut keys = BTreeMap::new();
    for party in parties {
        let path = dir.path().join(format!("{party}.key"));
        std::fs::write(&path, pbr_ledger::sample::demo_key(party).to_text()).unwrap();
        keys.insert((*party).to_owned(), path.to_str().unwrap().to_owned());
    }
    pbr_ok(&["init", &ledger, "--origin", &format!("test/{scenario}")]);
    let terms = repo().join(format!("tests/scenarios/{scenario}/contract.toml"));
    pbr_ok(&[
        "--ledger",
        &ledger,
        "contract",
        "register",
        terms.to_str().unwrap(),
        "--key",
        &keys[commissioner],
    ]);
    (dir, ledger, keys)
}

/// Every event of the ledger by client id, as `pbr log --json` prints them.
fn events_by_id(ledger: &str) -> BTreeMap<String, serde_json::Value> {
    pbr_ok(&["--ledger", ledger, "log", "--json"])
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                line["event"]["id"].as_str().unwrap().to_owned(),
                line["event"].clone(),
            )
        })
        .collect()
}

/// The decision on row `n` of A.4: `accepted`, `clawed-back` or the rejection reason.
fn decision_of(events: &BTreeMap<String, serde_json::Value>, row: &str) -> String {
    let id = EventId::derived(b"pbr import id", row).to_string();
    let event = events
        .get(&id)
        .unwrap_or_else(|| panic!("no event for {row}"));
    match event["kind"].as_str().unwrap() {
        "outcome-verified" => "accepted".to_owned(),
        "outcome-rejected" => event["payload"]["reason"].as_str().unwrap().to_owned(),
        "outcome-clawed-back" => "clawed-back".to_owned(),
        other => panic!("{row} is a {other}"),
    }
}

/// scenarios.md §5.A.4, the "expected decision" column: PAID, PAID PARTIAL and ACCEPTED
/// (0 paid) are acceptances (caps limit payment at settlement, not the decision).
const SCENARIO_A_DECISIONS: [(u32, &str); 34] = [
    (1, "accepted"),
    (2, "accepted"),
    (3, "eligibility"),
    (4, "accepted"),
    (5, "accepted"),
    (6, "accepted"),
    (7, "accepted"),
    (8, "evidence"),
    (9, "accepted"),
    (10, "accepted"),
    (11, "accepted"),
    (12, "accepted"),
    (13, "accepted"),
    (14, "accepted"),
    (15, "accepted"),
    (16, "accepted"),
    (17, "accepted"),
    (18, "accepted"),
    (19, "duplicate"),
    (20, "accepted"),
    (21, "enrolment-window"),
    (22, "prerequisite"),
    (23, "clawed-back"),
    (24, "accepted"),
    (25, "accepted"),
    (26, "accepted"),
    (27, "accepted"),
    (28, "accepted"),
    (29, "accepted"),
    (30, "accepted"),
    (31, "accepted"),
    (32, "accepted"),
    (33, "outcome-window"),
    (34, "claim-deadline"),
];

#[test]
fn scenario_a_loads_and_every_claim_decision_matches() {
    let (_dir, ledger, keys) = scenario_ledger("a", "dwp", &["dwp", "spv", "investor", "provider"]);
    let events = repo().join("tests/scenarios/a/events.csv");
    let secret = repo().join("tests/scenarios/secret");
    let import = |json: bool| {
        let mut args = vec![
            "--ledger",
            &ledger,
            "import",
            events.to_str().unwrap(),
            "--key",
            &keys["dwp"],
            "--key",
            &keys["provider"],
            "--secret-file",
            secret.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        pbr_ok(&args)
    };
    let first: serde_json::Value = serde_json::from_str(&import(true)).unwrap();
    assert_eq!(first["appended"].as_array().unwrap().len(), 79);
    let events = events_by_id(&ledger);
    let mut wrong = Vec::new();
    for (row, expected) in SCENARIO_A_DECISIONS {
        let actual = decision_of(&events, &format!("A-row-{row}"));
        if actual != expected {
            wrong.push(format!("row {row}: expected {expected}, got {actual}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The log verifies, and importing the same file again appends nothing.
    pbr_ok(&["--ledger", &ledger, "verify"]);
    let again: serde_json::Value = serde_json::from_str(&import(true)).unwrap();
    assert_eq!(again["appended"].as_array().unwrap().len(), 0);
    assert_eq!(again["duplicates"].as_array().unwrap().len(), 79);
    // `pbr log` shows every decision with its reason.
    let log = pbr_ok(&["--ledger", &ledger, "log", "--kind", "outcome-rejected"]);
    assert_eq!(log.lines().count(), 7, "{log}");
    assert!(log.contains("\"reason\":\"prerequisite\""), "{log}");
}

#[test]
fn a_bad_row_appends_nothing_and_names_file_line_and_field() {
    let (dir, ledger, keys) = scenario_ledger("a", "dwp", &["dwp", "provider"]);
    let good = std::fs::read_to_string(repo().join("tests/scenarios/a/events.csv")).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines[30] = lines[30].replace("2013-", "2013/");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let before = pbr_ok(&["--ledger", &ledger, "verify", "--json"]);
    let secret = repo().join("tests/scenarios/secret");
    let run = pbr(&[
        "--ledger",
        &ledger,
        "import",
        bad.to_str().unwrap(),
        "--key",
        &keys["dwp"],
        "--key",
        &keys["provider"],
        "--secret-file",
        secret.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("bad.csv:31: date:"), "{}", run.stderr);
    assert_eq!(
        pbr_ok(&["--ledger", &ledger, "verify", "--json"]),
        before,
        "the ledger is unchanged"
    );
}
