//! The worked scenarios of `docs/scenarios.md`, loaded through the real CLI: the
//! contract TOML and the import file under `tests/scenarios/`. The expected decisions are
//! transcribed from scenarios.md, never taken from the program's output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pbr_core::ids::EventId;

use crate::support::{pbr, pbr_ok};

pub(crate) fn repo() -> PathBuf {
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

/// Every scenario's terms name the log of the ledger [`scenario_ledger`] makes, `test/<s>`,
/// with the tests' log key of that origin, and give each party of the quorum the tests'
/// witness key, so that the checkpoints the tests sign and cosign count for the contract;
/// every party's event key is its demo key, whose file the tests hand to `pbr`.
#[test]
fn every_scenario_names_its_log_and_the_tests_keys() {
    let vkey = |key: pbr_ledger::SignerKey| key.verifier_key().to_string();
    for scenario in ["a", "b", "c", "c-loss", "d", "drc"] {
        let path = repo().join(format!("tests/scenarios/{scenario}/contract.toml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let terms = pbr_core::terms::parse(scenario, &text).unwrap();
        let origin = format!("test/{scenario}");
        let log = terms.log.as_ref().expect("the terms name [log]");
        assert_eq!(log.origin, origin);
        assert_eq!(
            log.key,
            vkey(crate::support::log_key(&origin)),
            "{scenario}"
        );
        let quorum = &terms.checkpoint.as_ref().expect("a quorum").quorum;
        for party in &terms.parties {
            let id = party.id.as_str();
            assert_eq!(
                party.key,
                vkey(pbr_ledger::sample::demo_key(id)),
                "{scenario} {id}"
            );
            let expected = quorum
                .contains(&party.id)
                .then(|| vkey(crate::support::witness_key(id)));
            assert_eq!(party.witness_key, expected, "{scenario} {id}");
        }
    }
}

/// Every event of the ledger by id, with its seq, as `pbr log --json` prints them.
pub(crate) fn logged_by_id(ledger: &str) -> BTreeMap<String, (u64, serde_json::Value)> {
    pbr_ok(&["--ledger", ledger, "log", "--json"])
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                line["event"]["id"].as_str().unwrap().to_owned(),
                (line["seq"].as_u64().unwrap(), line["event"].clone()),
            )
        })
        .collect()
}

/// Every event of the ledger by id, as `pbr log --json` prints them.
fn events_by_id(ledger: &str) -> BTreeMap<String, serde_json::Value> {
    logged_by_id(ledger)
        .into_iter()
        .map(|(id, (_, event))| (id, event))
        .collect()
}

/// The event id `pbr import` gives a row whose `id` column is the token `client`.
pub(crate) fn import_id(client: &str) -> String {
    EventId::derived(b"pbr import id", client).to_string()
}

/// The decision on row `n` of A.4: `accepted`, `clawed-back` or the rejection reason.
fn decision_of(events: &BTreeMap<String, serde_json::Value>, row: &str) -> String {
    let id = import_id(row);
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

/// The rows of scenario A's import: the investor's disbursement (§5.A.2), 12 enrolments, 33
/// claims and their decisions, and the claw-back (§5.A.4, row 23).
pub(crate) const SCENARIO_A_ROWS: usize = 1 + 12 + 33 * 2 + 1;

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
            "--key",
            &keys["investor"],
            "--secret-file",
            secret.to_str().unwrap(),
        ];
        if json {
            args.push("--json");
        }
        pbr_ok(&args)
    };
    let first: serde_json::Value = serde_json::from_str(&import(true)).unwrap();
    assert_eq!(first["appended"].as_u64().unwrap(), SCENARIO_A_ROWS as u64);
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
    assert_eq!(again["appended"].as_u64().unwrap(), 0);
    assert_eq!(
        again["duplicates"].as_u64().unwrap(),
        SCENARIO_A_ROWS as u64
    );
    // `pbr log` shows every decision with its reason.
    let log = pbr_ok(&["--ledger", &ledger, "log", "--kind", "outcome-rejected"]);
    assert_eq!(log.lines().count(), 7, "{log}");
    assert!(log.contains("\"reason\":\"prerequisite\""), "{log}");
}

#[test]
fn a_bad_row_appends_nothing_and_names_file_line_and_field() {
    let (dir, ledger, keys) = scenario_ledger("a", "dwp", &["dwp", "investor", "provider"]);
    let good = std::fs::read_to_string(repo().join("tests/scenarios/a/events.csv")).unwrap();
    let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
    lines[31] = lines[31].replace("2013-", "2013/");
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
        "--key",
        &keys["investor"],
        "--secret-file",
        secret.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("bad.csv:32: date:"), "{}", run.stderr);
    assert_eq!(
        pbr_ok(&["--ledger", &ledger, "verify", "--json"]),
        before,
        "the ledger is unchanged"
    );
}

/// Imports `tests/scenarios/{scenario}/events.csv` with the keys of `authors` and the
/// scenario secret; returns the `--json` report.
fn import_scenario(
    ledger: &str,
    scenario: &str,
    keys: &BTreeMap<String, String>,
    authors: &[&str],
) -> serde_json::Value {
    let events = repo().join(format!("tests/scenarios/{scenario}/events.csv"));
    let secret = repo().join("tests/scenarios/secret");
    let mut args = vec![
        "--ledger".to_owned(),
        ledger.to_owned(),
        "import".to_owned(),
        events.to_str().unwrap().to_owned(),
        "--secret-file".to_owned(),
        secret.to_str().unwrap().to_owned(),
        "--json".to_owned(),
    ];
    for author in authors {
        args.push("--key".to_owned());
        args.push(keys[*author].clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&pbr_ok(&args)).unwrap()
}

/// How scenario `scenario` loads: the commissioner who registers its terms, the authors of
/// its import file, and the rows that file appends.
pub(crate) fn setup(scenario: &str) -> (&'static str, &'static [&'static str], usize) {
    match scenario {
        "a" => ("dwp", &["dwp", "investor", "provider"], SCENARIO_A_ROWS),
        // 18 enrolments, 18 × 33 monthly statuses, 4 DSI tranches and 4 payments to TUBA
        // (§5.B.2).
        "b" => ("brondby", &["brondby", "dsi"], 18 + 18 * 33 + 8),
        // 24 enrolments, 24 × 36 monthly statuses, the Obelske grant and 13 quarterly costs
        // (the loss variant changes 36 of the statuses).
        "c" | "c-loss" => (
            "aalborg",
            &["aalborg", "fokus", "obelske"],
            24 + 24 * 36 + 1 + 13,
        ),
        // 4 companies, 15 enrolments, 35 claims and their decisions, 15 leavings, 15
        // follow-ups.
        "d" => (
            "K1",
            &["K1", "K2", "K3", "operator"],
            4 + 15 + 35 * 2 + 15 + 15,
        ),
        // 4 enrolments, 4 retention checks, 3 claims and their decisions, 4 × 6 monthly
        // statuses (docs/contracts.md, "A worked case").
        "drc" => (
            "viborg",
            &["viborg", "herning", "drc"],
            4 + 4 + 3 * 2 + 4 * 6,
        ),
        other => panic!("no scenario {other}"),
    }
}

/// Loads a scenario (see [`setup`]): checks the first import appends its rows, the log
/// verifies, and a second import appends nothing. Returns (tempdir, ledger, key file of each
/// author).
pub(crate) fn load_scenario(
    scenario: &str,
) -> (tempfile::TempDir, String, BTreeMap<String, String>) {
    let (commissioner, authors, rows) = setup(scenario);
    let (dir, ledger, keys) = scenario_ledger(scenario, commissioner, authors);
    let first = import_scenario(&ledger, scenario, &keys, authors);
    assert_eq!(first["appended"].as_u64().unwrap(), rows as u64);
    pbr_ok(&["--ledger", &ledger, "verify"]);
    let again = import_scenario(&ledger, scenario, &keys, authors);
    assert_eq!(again["appended"].as_u64().unwrap(), 0);
    assert_eq!(again["duplicates"].as_u64().unwrap(), rows as u64);
    (dir, ledger, keys)
}

/// The monthly statuses of the log: (participant, month, status) per event.
fn monthly_statuses(ledger: &str) -> Vec<(String, String, String)> {
    pbr_ok(&[
        "--ledger",
        ledger,
        "log",
        "--json",
        "--kind",
        "monthly-status-recorded",
    ])
    .lines()
    .map(|line| {
        let line: serde_json::Value = serde_json::from_str(line).unwrap();
        let event = &line["event"];
        assert_eq!(event["kind"], "monthly-status-recorded", "{line}");
        (
            event["participant"].as_str().unwrap().to_owned(),
            event["payload"]["month"].as_str().unwrap().to_owned(),
            event["payload"]["status"].as_str().unwrap().to_owned(),
        )
    })
    .collect()
}

/// The calendar quarter of a `YYYY-MM` month, as `YYYYQn`.
fn quarter_of(month: &str) -> String {
    let (year, month) = month.split_once('-').unwrap();
    let month: u32 = month.parse().unwrap();
    format!("{year}Q{}", (month - 1) / 3 + 1)
}

/// scenarios.md §5.B.4, the "off-benefit months" column by measured quarter.
const SCENARIO_B_OFF_BENEFIT_MONTHS: [(&str, usize); 11] = [
    ("2024Q2", 3),
    ("2024Q3", 5),
    ("2024Q4", 8),
    ("2025Q1", 10),
    ("2025Q2", 13),
    ("2025Q3", 11),
    ("2025Q4", 12),
    ("2026Q1", 12),
    ("2026Q2", 8),
    ("2026Q3", 9),
    ("2026Q4", 9),
];

#[test]
fn scenario_b_loads_and_records_the_off_benefit_months() {
    let (_dir, ledger, _) = load_scenario("b");
    let statuses = monthly_statuses(&ledger);
    assert_eq!(statuses.len(), 18 * 33);
    let full: Vec<_> = statuses.iter().filter(|(_, _, s)| s == "full").collect();
    // §5.B.3: 100 off-benefit months in the window, all others on benefit.
    assert_eq!(full.len(), 100);
    assert!(statuses.iter().all(|(_, _, s)| s == "full" || s == "none"));
    // §5.B.4: the off-benefit months of each measured quarter.
    let mut by_quarter = BTreeMap::new();
    for (_, month, _) in &full {
        *by_quarter.entry(quarter_of(month)).or_insert(0) += 1;
    }
    let expected: BTreeMap<String, usize> = SCENARIO_B_OFF_BENEFIT_MONTHS
        .iter()
        .map(|(q, n)| ((*q).to_owned(), *n))
        .collect();
    assert_eq!(by_quarter, expected);
    // §5.B.3, "months in window" per participant (B01 31, B03 24, B02 12, B07 12, B05 9,
    // B08 6, B10 3, B12 3; ten with none).
    let mut per_participant = BTreeMap::new();
    for (participant, _, _) in &full {
        *per_participant.entry(participant.clone()).or_insert(0) += 1;
    }
    let mut counts: Vec<usize> = per_participant.into_values().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(counts, [31, 24, 12, 12, 9, 6, 3, 3]);
    // The outlay: 4 × 120,000 from DSI to Brøndby and from Brøndby to TUBA.
    let disbursed = pbr_ok(&["--ledger", &ledger, "log", "--kind", "funds-disbursed"]);
    assert_eq!(disbursed.lines().count(), 8, "{disbursed}");
}

#[test]
fn scenario_c_loads_and_records_the_self_sufficient_months() {
    let (_dir, ledger, _) = load_scenario("c");
    let statuses = monthly_statuses(&ledger);
    assert_eq!(statuses.len(), 24 * 36);
    let count = |status: &str| statuses.iter().filter(|(_, _, s)| s == status).count();
    // §5.C.7: 132 F-months and 42 P-months are paid (qualified runs); §5.C.4 adds the three
    // runs of 2 full months that never qualify (I03, I10's first, I16).
    assert_eq!(count("full"), 132 + 3 * 2);
    assert_eq!(count("partial"), 42);
    assert_eq!(count("none"), 24 * 36 - 138 - 42);
    // §5.C.4 "months in window", per participant with any (I10's two runs together):
    // (full, partial).
    let mut per_participant: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (participant, _, status) in &statuses {
        let entry = per_participant.entry(participant.clone()).or_default();
        match status.as_str() {
            "full" => entry.0 += 1,
            "partial" => entry.1 += 1,
            _ => {}
        }
    }
    let mut counts: Vec<(usize, usize)> = per_participant
        .into_values()
        .filter(|c| *c != (0, 0))
        .collect();
    counts.sort_unstable();
    let mut expected = vec![
        (32, 0), // I01
        (22, 6), // I02
        (2, 0),  // I03
        (12, 0), // I05
        (0, 27), // I06
        (3, 0),  // I08, window ends 2026-12
        (5, 0),  // I10: 2 + 3
        (33, 0), // I13
        (0, 6),  // I14
        (2, 0),  // I16
        (12, 0), // I17
        (15, 0), // I19
        (0, 3),  // I21
    ];
    expected.sort_unstable();
    assert_eq!(counts, expected);
    // FOKUS's costs total 1,650,000 over 13 quarters; Obelske's grant is one disbursement.
    let costs = pbr_ok(&["--ledger", &ledger, "log", "--kind", "cost-recorded"]);
    assert_eq!(costs.lines().count(), 13, "{costs}");
    let grants = pbr_ok(&["--ledger", &ledger, "log", "--kind", "funds-disbursed"]);
    assert_eq!(grants.lines().count(), 1, "{grants}");
}

/// scenarios.md §5.D.4, the "expected decision" column: PAID is an acceptance.
const SCENARIO_D_DECISIONS: [(u32, &str); 35] = [
    (1, "accepted"),
    (2, "accepted"),
    (3, "accepted"),
    (4, "accepted"),
    (5, "accepted"),
    (6, "accepted"),
    (7, "accepted"),
    (8, "accepted"),
    (9, "accepted"),
    (10, "accepted"),
    (11, "accepted"),
    (12, "accepted"),
    (13, "enrolment-window"),
    (14, "accepted"),
    (15, "accepted"),
    (16, "mutually-exclusive"),
    (17, "accepted"),
    (18, "accepted"),
    (19, "accepted"),
    (20, "accepted"),
    (21, "accepted"),
    (22, "accepted"),
    (23, "accepted"),
    (24, "accepted"),
    (25, "accepted"),
    (26, "accepted"),
    (27, "prerequisite"),
    (28, "accepted"),
    (29, "accepted"),
    (30, "accepted"),
    (31, "accepted"),
    (32, "accepted"),
    (33, "accepted"),
    (34, "accepted"),
    (35, "outcome-window"),
];

#[test]
fn scenario_d_loads_and_every_claim_decision_matches() {
    let (_dir, ledger, _) = load_scenario("d");
    let events = events_by_id(&ledger);
    let mut wrong = Vec::new();
    for (row, expected) in SCENARIO_D_DECISIONS {
        let actual = decision_of(&events, &format!("D-row-{row}"));
        if actual != expected {
            wrong.push(format!("row {row}: expected {expected}, got {actual}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let log = pbr_ok(&["--ledger", &ledger, "log", "--kind", "outcome-rejected"]);
    assert_eq!(log.lines().count(), 4, "{log}");
    // §5.D.6: all 15 enrolled are ESF participants; each has a leaving and a follow-up record.
    for kind in [
        "participant-enrolled",
        "participant-left",
        "participant-followed-up",
    ] {
        let log = pbr_ok(&["--ledger", &ledger, "log", "--kind", kind]);
        assert_eq!(log.lines().count(), 15, "{kind}: {log}");
    }
}

/// `docs/scenarios.md` and `docs/domain.md` are the steering team's worked scenarios and
/// domain notes, copied into the repository so that the docs and the fixtures cite files a
/// reader has: each must be that text, but for its first line (a comment saying so), whenever
/// the team's copy is at hand.
#[test]
fn the_scenarios_and_domain_notes_in_docs_are_the_teams() {
    for name in ["scenarios.md", "domain.md"] {
        let ours = std::fs::read_to_string(repo().join("docs").join(name)).unwrap();
        let (note, body) = ours.split_once('\n').unwrap();
        assert!(
            note.starts_with("<!--") && note.ends_with("-->"),
            "{name}: {note}"
        );
        let theirs = repo().join("../shared/domain").join(name);
        match std::fs::read_to_string(&theirs) {
            Ok(text) => assert!(
                body == text,
                "docs/{name} differs from {}: copy it again, keeping the first line",
                theirs.display()
            ),
            Err(e) => eprintln!("not compared: {}: {e}", theirs.display()),
        }
    }
}
