//! The DRC case (`docs/contracts.md`, "A worked case: two municipalities, narrow against
//! broad (DRC)"): two municipalities, Viborg and Herning, refer
//! long-term unemployed men of non-western background to DRC's Business Training. Each
//! municipality pays for its own citizens (`payer = "home-party"`) and is credited its own
//! savings (`[savings] party = "home-party"`); the 13-week job outcome counts only when the
//! retention checks prove 15 hours a week or more; the target group is refused at enrolment;
//! and the narrow model (`tests/scenarios/drc/contract.toml`) is compared with the broad one
//! (`tests/contracts/valid/drc-broad.toml`) by `pbr what-if`.
//!
//! Every expected figure is computed by hand in the comments beside it, from the rows of
//! `tests/scenarios/drc/events.csv`, never taken from the program's output.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::scenarios::{load_scenario, repo};
use crate::support::{pbr, pbr_ok};

/// The events of the ledger by client id, as `pbr log --json` prints them.
fn events(ledger: &str) -> BTreeMap<String, Value> {
    crate::scenarios::logged_by_id(ledger)
        .into_iter()
        .map(|(id, (_, event))| (id, event))
        .collect()
}

/// The client id an import row's `id` cell becomes.
fn decision(events: &BTreeMap<String, Value>, row: &str) -> String {
    let event = &events[&crate::scenarios::import_id(row)];
    match event["kind"].as_str().unwrap() {
        "outcome-verified" => "accepted".to_owned(),
        "outcome-rejected" => event["payload"]["reason"].as_str().unwrap().to_owned(),
        other => panic!("{row} is a {other}"),
    }
}

/// The sum of a statement's lines of `rule` from `from` to `to`, in øre.
fn line_sum(statement: &Value, rule: &str, from: &str, to: &str) -> i64 {
    statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rule"] == rule && l["from"] == from && l["to"] == to)
        .map(|l| øre(&l["amount"]))
        .sum()
}

/// "30000.00" → 3,000,000 øre.
fn øre(amount: &Value) -> i64 {
    let text = amount.as_str().unwrap_or_else(|| panic!("{amount}"));
    let (units, cents) = text.split_once('.').unwrap();
    let sign = if units.starts_with('-') { -1 } else { 1 };
    let units: i64 = units.trim_start_matches('-').parse().unwrap();
    sign * (units * 100 + cents.parse::<i64>().unwrap())
}

/// Issues the statement of `period` with Viborg's key (Viborg issues for both) and returns
/// it: a later period's statement then holds only what that period adds.
fn issue(ledger: &str, period: &str, viborg: &str) -> Value {
    serde_json::from_str(&pbr_ok(&[
        "--ledger", ledger, "settle", "--period", period, "--issue", "--key", viborg, "--json",
    ]))
    .unwrap()
}

#[test]
fn the_drc_contract_settles_as_computed_by_hand() {
    let (_dir, ledger, keys) = load_scenario("drc");
    let events = events(&ledger);

    // Retention: V1 worked 20 hours a week from 2025-02-03 through 2025-05-04, the 91 days
    // (13 × 7) of the milestone; H1 25 hours through 2025-04-30, then 18 through 2025-06-08,
    // 91 days from 2025-03-10; V2 only 10 hours a week, under the 15 the outcome needs.
    assert_eq!(decision(&events, "DRC-decision-V1"), "accepted");
    assert_eq!(decision(&events, "DRC-decision-H1"), "accepted");
    assert_eq!(decision(&events, "DRC-decision-V2"), "retention");

    // 2025-Q2. Outcomes: JOB13 of V1 (decided 2025-05-12) is paid by V1's home, Viborg, and
    // JOB13 of H1 (2025-06-16) by Herning: 30,000.00 each to DRC.
    // Savings, full months only, at round-half-up(11,250.00 × 40 %) = 4,500.00 a month:
    // Viborg: V1 full in April, May and June = 3 × 4,500.00 = 13,500.00 (V2 is partial);
    // Herning: H1 full in May and June = 2 × 4,500.00 = 9,000.00 (partial in April; H2 none
    // or partial).
    let q1 = issue(&ledger, "2025-Q1", &keys["viborg"]);
    assert_eq!(q1["lines"].as_array().unwrap().len(), 0, "{q1}");
    let q2 = issue(&ledger, "2025-Q2", &keys["viborg"]);
    assert_eq!(line_sum(&q2, "outcome:JOB13", "viborg", "drc"), 3_000_000);
    assert_eq!(line_sum(&q2, "outcome:JOB13", "herning", "drc"), 3_000_000);
    assert_eq!(line_sum(&q2, "savings", "viborg", "viborg"), 1_350_000);
    assert_eq!(line_sum(&q2, "savings", "herning", "herning"), 900_000);
    // `explain` names the retention checks that proved H1's milestone: its two checks.
    let logged = crate::scenarios::logged_by_id(&ledger);
    let seq_of = |row: &str| logged[&crate::scenarios::import_id(row)].0;
    let h1 = logged[&crate::scenarios::import_id("DRC-enrol-H1")].1["participant"]
        .as_str()
        .unwrap()
        .to_owned();
    let explained = pbr_ok(&[
        "--ledger",
        &ledger,
        "explain",
        &q2["issued_seq"].to_string(),
        "--participant",
        &h1,
    ]);
    let proof = format!(
        "13 weeks from 2025-03-10 retained by the checks at seq {}, {}",
        seq_of("DRC-retention-H1-1"),
        seq_of("DRC-retention-H1-2")
    );
    assert!(explained.contains(&proof), "{explained}");
    assert!(explained.contains("herning → drc"), "{explained}");
    // 2025-Q3: no outcome; savings of July to September: Viborg V1 3 × 4,500.00 =
    // 13,500.00, Herning H1 3 × 4,500.00 = 13,500.00.
    let q3 = issue(&ledger, "2025-Q3", &keys["viborg"]);
    assert_eq!(line_sum(&q3, "outcome:JOB13", "viborg", "drc"), 0);
    assert_eq!(line_sum(&q3, "savings", "viborg", "viborg"), 1_350_000);
    assert_eq!(line_sum(&q3, "savings", "herning", "herning"), 1_350_000);

    // Narrow against broad, through 2025-Q3 (due to each party, + to it, − from it).
    // Narrow: Viborg −30,000.00, Herning −30,000.00, DRC +60,000.00 (savings are memo lines
    // of each municipality to itself and move nothing).
    // Broad: JOB13 at 20,000.00, and every month of a run of at least three consecutive full
    // (2,000.00) or partial (1,000.00) months:
    //   V1 F F F F F F (April–September): 6 × 2,000.00 = 12,000.00, Viborg;
    //   V2 P P P N N N: a run of 3 partial months = 3 × 1,000.00 = 3,000.00, Viborg;
    //   H1 P F F F F F: 1,000.00 + 5 × 2,000.00 = 11,000.00, Herning;
    //   H2 N N P P N N: a run of 2, which does not qualify: 0.
    // Viborg: 20,000.00 + 12,000.00 + 3,000.00 = 35,000.00; Herning: 20,000.00 + 11,000.00
    // = 31,000.00; DRC receives 66,000.00.
    let broad = repo().join("tests/contracts/valid/drc-broad.toml");
    let what_if: Value = serde_json::from_str(&pbr_ok(&[
        "--ledger",
        &ledger,
        "what-if",
        "--terms",
        broad.to_str().unwrap(),
        "--period",
        "2025-Q3",
        "--json",
    ]))
    .unwrap();
    let due: BTreeMap<&str, (i64, i64)> = what_if["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["party"].as_str().unwrap(),
                (øre(&p["real"]), øre(&p["alternative"])),
            )
        })
        .collect();
    assert_eq!(due["viborg"], (-3_000_000, -3_500_000), "{what_if}");
    assert_eq!(due["herning"], (-3_000_000, -3_100_000), "{what_if}");
    assert_eq!(due["drc"], (6_000_000, 6_600_000), "{what_if}");
    // By rule: outcomes 60,000.00 narrow, 2 × 20,000.00 = 40,000.00 broad; savings the same
    // under both, Viborg 13,500.00 × 2 + Herning 9,000.00 + 13,500.00 = 49,500.00; runs of
    // months 12,000.00 + 3,000.00 + 11,000.00 = 26,000.00, broad only.
    let by_rule: BTreeMap<&str, (i64, i64)> = what_if["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap(),
                (øre(&r["real"]), øre(&r["alternative"])),
            )
        })
        .collect();
    assert_eq!(by_rule["outcome"], (6_000_000, 4_000_000), "{what_if}");
    assert_eq!(by_rule["savings"], (4_950_000, 4_950_000), "{what_if}");
    assert_eq!(by_rule["sustainment"], (0, 2_600_000), "{what_if}");
}

/// The target group is refused when the enrolment is recorded, with the reason, and
/// nothing is appended: a woman, a man aged 24, a man not long-term unemployed, and a man of
/// the target group referred after the window closed (2025-03-31).
#[test]
fn the_drc_target_group_is_refused_at_enrolment() {
    let (dir, ledger, keys) = load_scenario("drc");
    let secret = repo().join("tests/scenarios/secret");
    let before = pbr_ok(&["--ledger", &ledger, "verify", "--json"]);
    let enrol = |cpr: &str, date: &str, extra: &[&str]| {
        let mut args = vec![
            "--ledger",
            &ledger,
            "enroll",
            "--contract",
            "drc-business-training",
            "--date",
            date,
            "--key",
            &keys["viborg"],
            "--cpr",
            cpr,
            "--secret-file",
            secret.to_str().unwrap(),
            "--home-party",
            "viborg",
            "--foreign-background",
            "yes",
        ];
        args.extend_from_slice(extra);
        pbr(&args)
    };
    let target = [
        "--gender",
        "man",
        "--age-at-entry",
        "30",
        "--entry-status",
        "long-term-unemployed",
    ];
    for (cpr, date, extra, reason) in [
        (
            "010190-5011",
            "2025-02-10",
            vec![
                "--gender",
                "woman",
                "--age-at-entry",
                "30",
                "--entry-status",
                "long-term-unemployed",
            ],
            "gender",
        ),
        (
            "010190-5012",
            "2025-02-10",
            vec![
                "--gender",
                "man",
                "--age-at-entry",
                "24",
                "--entry-status",
                "long-term-unemployed",
            ],
            "age",
        ),
        (
            "010190-5013",
            "2025-02-10",
            vec![
                "--gender",
                "man",
                "--age-at-entry",
                "30",
                "--entry-status",
                "unemployed",
            ],
            "entry",
        ),
        ("010190-5014", "2025-04-01", target.to_vec(), "2025-03-31"),
    ] {
        let run = enrol(cpr, date, &extra);
        assert_eq!(run.code, 3, "{cpr}: {}", run.stderr);
        assert!(run.stderr.contains(reason), "{cpr}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
    assert_eq!(pbr_ok(&["--ledger", &ledger, "verify", "--json"]), before);
    // One of the target group, in the window, is taken.
    let run = enrol("010190-5015", "2025-03-03", &target);
    assert_eq!(run.code, 0, "{}", run.stderr);
    drop(dir);
}
