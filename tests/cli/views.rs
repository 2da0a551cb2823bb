//! The settlement views through the CLI: balances on both time axes, `explain` of one
//! participant, `diff` between two log positions and `what-if` under other terms.

use serde_json::Value;

use crate::scenarios::{import_id, load_scenario, logged_by_id, repo};
use crate::support::pbr_ok;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&pbr_ok(args)).unwrap()
}

fn issue(ledger: &str, key: &str, period: &str) -> Value {
    json(&[
        "--ledger", ledger, "settle", "--period", period, "--issue", "--key", key, "--json",
    ])
}

/// The `accrued` balance of `party` in a `pbr balance --json` answer.
fn accrued(balance: &Value, party: &str) -> String {
    balance["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"] == party)
        .unwrap()["accrued"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn balances_answer_what_was_known_and_what_was_in_effect() {
    let (_dir, ledger, keys) = load_scenario("a");
    issue(&ledger, &keys["dwp"], "2013-Q1");
    let q2 = issue(&ledger, &keys["dwp"], "2013-Q2");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    std::thread::sleep(std::time::Duration::from_millis(20));
    issue(&ledger, &keys["dwp"], "2013-Q3");
    let balance = |extra: &[&str]| {
        let mut args = vec!["--ledger", ledger.as_str(), "balance", "--json"];
        args.extend_from_slice(extra);
        json(&args)
    };
    // A.5: DWP has paid 10,200 after 2013-Q2 and 33,200 after 2013-Q3.
    assert_eq!(accrued(&balance(&[]), "dwp"), "-33200.00");
    let after_q2 = (q2["issued_seq"].as_u64().unwrap() + 1).to_string();
    let known = balance(&["--at-seq", &after_q2]);
    assert_eq!(accrued(&known, "dwp"), "-10200.00");
    assert_eq!(
        known["log_position"].as_u64().unwrap().to_string(),
        after_q2
    );
    assert_eq!(
        accrued(&balance(&["--known-at", &between]), "dwp"),
        "-10200.00"
    );
    assert_eq!(
        accrued(&balance(&["--effective", "2013-06-30"]), "dwp"),
        "-10200.00"
    );
    assert_eq!(
        accrued(&balance(&["--effective", "2013-09-30"]), "dwp"),
        "-33200.00"
    );
    // The investor's 30,000 was disbursed on 2013-01-01, in effect on any later date.
    let early = balance(&["--effective", "2013-03-31"]);
    let investor = early["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"] == "investor")
        .unwrap();
    assert_eq!(investor["invested"], "30000.00");
    assert_eq!(investor["net"], "-30000.00");
}

#[test]
fn explain_shows_one_participants_lines_with_their_arithmetic() {
    let (_dir, ledger, keys) = load_scenario("a");
    for quarter in ["2013-Q1", "2013-Q2", "2013-Q3"] {
        issue(&ledger, &keys["dwp"], quarter);
    }
    let q4 = issue(&ledger, &keys["dwp"], "2013-Q4");
    // P01's O8 (A.4 row 26) is capped by the participant cap: 11,700 − 8,300 = 3,400.
    let logged = logged_by_id(&ledger);
    let p01 = logged[&import_id("A-enrol-P01")].1["participant"]
        .as_str()
        .unwrap()
        .to_owned();
    let seq = q4["issued_seq"].as_u64().unwrap().to_string();
    let explained = json(&[
        "--ledger",
        &ledger,
        "explain",
        &seq,
        "--json",
        "--participant",
        &p01,
    ]);
    let lines = explained["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    let subject = format!("participant:{p01}");
    assert!(
        lines.iter().all(|l| l["subject"] == subject.as_str()),
        "{explained}"
    );
    let o8 = lines.iter().find(|l| l["rule"] == "outcome:O8").unwrap();
    assert_eq!(o8["amount"], "3400.00");
    assert_eq!(o8["cap"], "participant");
    assert_eq!(
        o8["calc"],
        "price 3500.00; participant cap 11700.00 − paid 8300.00 = headroom 3400.00"
    );
    let text = pbr_ok(&["--ledger", &ledger, "explain", &seq, "--participant", &p01]);
    assert!(text.contains("participant cap 11700.00"), "{text}");
}

#[test]
fn diff_names_the_amounts_an_event_changed_and_the_event() {
    let (_dir, ledger, _keys) = load_scenario("a");
    let logged = logged_by_id(&ledger);
    // A.4 row 23: the audit claw-back of P07's O4.
    let clawback = logged[&import_id("A-row-23")].0;
    let diff = json(&[
        "--ledger",
        &ledger,
        "diff",
        "--from-seq",
        &clawback.to_string(),
        "--to-seq",
        &(clawback + 1).to_string(),
        "--json",
    ]);
    let contract = &diff["contracts"][0];
    let changes = contract["changes"].as_array().unwrap();
    let recovered = changes
        .iter()
        .find(|c| c["rule"] == "clawback:O4")
        .unwrap_or_else(|| panic!("{diff}"));
    assert_eq!(recovered["before"], "0.00");
    assert_eq!(recovered["after"], "-3300.00");
    assert_eq!(recovered["accrual"], "2013-Q4");
    assert_eq!(recovered["caused_by"], serde_json::json!([clawback]));
    // Nothing was issued, so balances do not move; an empty range changes nothing.
    assert!(contract["balances"].as_array().unwrap().is_empty());
    let none = json(&[
        "--ledger",
        &ledger,
        "diff",
        "--from-seq",
        "50",
        "--to-seq",
        "50",
        "--json",
    ]);
    assert!(
        none["contracts"][0]["changes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn what_if_settles_other_terms_over_the_same_history_and_writes_nothing() {
    let (dir, ledger, _keys) = load_scenario("a");
    // The same rate card without caps.
    let text = std::fs::read_to_string(repo().join("tests/scenarios/a/contract.toml")).unwrap();
    let start = text.find("[caps]").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let uncapped = dir.path().join("uncapped.toml");
    std::fs::write(&uncapped, format!("{}{}", &text[..start], &text[end + 2..])).unwrap();
    let before = json(&["--ledger", &ledger, "verify", "--json"]);
    let result = json(&[
        "--ledger",
        &ledger,
        "what-if",
        "--terms",
        uncapped.to_str().unwrap(),
        "--period",
        "2014-Q3",
        "--json",
    ]);
    let dwp = result["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"] == "dwp")
        .unwrap();
    // A.5: 50,000 under the programme cap. Uncapped, A.4's rows 26, 30, 31 and 32 pay in
    // full: 100 + 1,000 + 3,500 + 2,000 more.
    assert_eq!(dwp["real"], "-50000.00");
    assert_eq!(dwp["alternative"], "-56600.00");
    let after = json(&["--ledger", &ledger, "verify", "--json"]);
    assert!(before["records"].as_u64().unwrap() > 0);
    assert_eq!(before["records"], after["records"]);
    assert_eq!(before["root"], after["root"]);
}

/// `round-at` end to end. Scenario B's statement shows the arithmetic of its savings
/// (B.2: 12,326 × 70 % = 8,628.20 a month). At 12,326.01 a month (8,628.207 after the
/// attribution) B.3's 100 months save 100 × 8,628.20 = 862,820.00 rounded per month, the
/// default, and 0.66 more rounded once on each quarter's total: B.4's quarters of 3, 5, 8,
/// 10, 13, 11, 12, 12, 8, 9 and 9 months leave 0.02 + 0.03 + 0.05 + 0.07 + 0.09 + 0.07 +
/// 0.08 + 0.08 + 0.05 + 0.06 + 0.06.
#[test]
fn round_at_decides_where_savings_are_rounded() {
    let (dir, ledger, _keys) = load_scenario("b");
    let statement = json(&[
        "--ledger", &ledger, "settle", "--period", "2024-Q3", "--json",
    ]);
    let savings: Vec<&Value> = statement["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["rule"] == "savings")
        .collect();
    assert_eq!(savings.len(), 1, "{statement}");
    assert_eq!(savings[0]["amount"], "25884.60");
    assert_eq!(
        savings[0]["calc"],
        "3 off-benefit months of 2024-Q2 × floor(12326.00 × 7/10) = 8628.20 = 25884.60"
    );
    let text = std::fs::read_to_string(repo().join("tests/scenarios/b/contract.toml")).unwrap();
    for (round_at, expected) in [
        ("", "862820.00"),
        ("round-at = \"unit-price\"\n", "862820.00"),
        ("round-at = \"total\"\n", "862820.66"),
    ] {
        let alternative = dir.path().join("alternative.toml");
        let terms = text
            .replace("monthly-rate = \"12326.00\"", "monthly-rate = \"12326.01\"")
            .replace(
                "rounding = \"floor\"\n",
                &format!("rounding = \"floor\"\n{round_at}"),
            );
        assert!(terms.contains("12326.01") && terms.contains(round_at));
        std::fs::write(&alternative, terms).unwrap();
        let result = json(&[
            "--ledger",
            &ledger,
            "what-if",
            "--terms",
            alternative.to_str().unwrap(),
            "--period",
            "2027-Q1",
            "--json",
        ]);
        let rule = result["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == "savings")
            .unwrap();
        assert_eq!(rule["real"], "862820.00", "{round_at}");
        assert_eq!(rule["alternative"], expected, "{round_at}");
    }
}

#[test]
fn cumulative_counting_pays_a_run_with_a_gap() {
    let (dir, ledger, _keys) = load_scenario("c");
    // C.3: I10 is self-sufficient in 2024-03..04 and 2024-08..10. Counted consecutively
    // (C.4) only the second spell qualifies; counted cumulatively, the first two months join
    // it: 2 × 6,163.00 more. No other participant of C has a gap that cumulative counting
    // closes (I03 and I16 have two months in all).
    let text = std::fs::read_to_string(repo().join("tests/scenarios/c/contract.toml")).unwrap();
    let cumulative = dir.path().join("cumulative.toml");
    std::fs::write(
        &cumulative,
        text.replace(
            "run-months = 3\n",
            "run-months = 3\ncounting = \"cumulative\"\n",
        ),
    )
    .unwrap();
    let result = json(&[
        "--ledger",
        &ledger,
        "what-if",
        "--terms",
        cumulative.to_str().unwrap(),
        "--period",
        "2027-Q1",
        "--json",
    ]);
    let aalborg = result["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["party"] == "aalborg")
        .unwrap();
    assert_eq!(aalborg["real"], "-942939.00");
    assert_eq!(aalborg["alternative"], "-955265.00");
}

#[test]
fn settle_writes_nothing_and_issuing_needs_a_party_that_may_issue() {
    let (_dir, ledger, keys) = load_scenario("a");
    let records = |ledger: &str| json(&["--ledger", ledger, "verify", "--json"])["records"].clone();
    let before = records(&ledger);
    let draft = json(&[
        "--ledger", &ledger, "settle", "--period", "2013-Q2", "--json",
    ]);
    assert_eq!(draft["issued_seq"], Value::Null);
    assert_eq!(records(&ledger), before);
    // docs/validation.md: a provider may not record settlement-issued.
    let run = crate::support::pbr(&[
        "--ledger",
        &ledger,
        "settle",
        "--period",
        "2013-Q2",
        "--issue",
        "--key",
        &keys["provider"],
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("may not record settlement-issued"),
        "{}",
        run.stderr
    );
    assert_eq!(records(&ledger), before);
    // A period the contract does not settle by, and a contract it does not have.
    for (args, message) in [
        (
            vec!["settle", "--period", "2013-07"],
            "does not settle by 2013-07",
        ),
        (vec!["settle", "--period", "2013-Q5"], "is not a period"),
        (
            vec!["balance", "--contract", "nope"],
            "contract nope is not registered",
        ),
    ] {
        let mut full = vec!["--ledger", ledger.as_str()];
        full.extend(args);
        let run = crate::support::pbr(&full);
        assert_eq!(run.code, 3, "{full:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{full:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    }
}

/// A participant is found the way people know one: by a unique prefix of the reference (as
/// tables show 12 digits) or by CPR number with the pseudonym secret, in `log`, `explain` and
/// `bundle`, with the same answer as the full reference; a wrong secret finds no one.
#[test]
fn participants_are_found_by_prefix_or_cpr() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("d");
    let secret = crate::scenarios::repo().join("tests/scenarios/secret");
    let secret = secret.to_str().unwrap();
    let enrolled = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--json",
        "--kind",
        "participant-enrolled",
    ]);
    let first: serde_json::Value = serde_json::from_str(enrolled.lines().next().unwrap()).unwrap();
    let full = first["event"]["participant"].as_str().unwrap().to_owned();
    let by = |args: &[&str]| {
        let mut all = vec!["--ledger", ledger.as_str(), "log", "--json"];
        all.extend_from_slice(args);
        pbr_ok(&all)
    };
    let expected = by(&["--participant", &full]);
    assert!(!expected.is_empty());
    assert_eq!(by(&["--participant", &full[..12]]), expected);
    // D01 is the first enrolment of scenario D.
    assert_eq!(
        by(&["--cpr", "010190-4001", "--secret-file", secret]),
        expected
    );
    let wrong = dir.path().join("wrong.secret");
    std::fs::write(&wrong, "another secret of at least thirty-two bytes\n").unwrap();
    let run = crate::support::pbr(&[
        "--ledger",
        &ledger,
        "log",
        "--cpr",
        "010190-4001",
        "--secret-file",
        wrong.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("no participant with that CPR number"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("010190"),
        "the CPR number is never printed"
    );
    // A one-fact command takes the prefix too: a retention check about D01.
    let check = |p: &str| {
        pbr_ok(&[
            "--ledger",
            &ledger,
            "--json",
            "retention",
            "--contract",
            "scenario-d",
            "--date",
            "2024-06-30",
            "--key",
            &keys["K1"],
            "--participant",
            p,
            "--activity",
            "employment",
            "--from",
            "2024-06-01",
            "--to",
            "2024-06-30",
        ])
    };
    let first_run: serde_json::Value = serde_json::from_str(&check(&full[..10])).unwrap();
    assert_eq!(first_run["appended"], 1);
    // The same fact by its whole reference is the same fact.
    let again: serde_json::Value = serde_json::from_str(&check(&full)).unwrap();
    assert_eq!(again["appended"], 0);
    // Issue a statement and explain it for the participant, by prefix.
    let issued = pbr_ok(&[
        "--ledger",
        &ledger,
        "--json",
        "settle",
        "--contract",
        "scenario-d",
        "--period",
        "2024-Q2",
        "--issue",
        "--key",
        &keys["K1"],
    ]);
    let issued: serde_json::Value = serde_json::from_str(&issued).unwrap();
    let seq = issued["issued_seq"].as_u64().unwrap().to_string();
    let explain = |p: &str| {
        pbr_ok(&[
            "--ledger",
            &ledger,
            "--json",
            "explain",
            &seq,
            "--participant",
            p,
        ])
    };
    assert_eq!(explain(&full[..8]), explain(&full));
    // A bundle by CPR number holds the participant's records.
    crate::support::checkpoint(&ledger, "test/d", &[]);
    let out = dir.path().join("bundle.json");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "bundle",
        "--cpr",
        "010190-4001",
        "--secret-file",
        secret,
        "--out",
        out.to_str().unwrap(),
    ]);
    let bundle = std::fs::read_to_string(&out).unwrap();
    assert!(bundle.contains(&full), "the bundle is about {full}");
}

/// `diff --through` and `what-if --period` take every period form the other commands take,
/// as the contract's own period that ends with it; one that ends inside a period of the
/// contract, before its first, or is no period at all is a one-line input error. (`2025`
/// used to panic, looping through quarters without end; `2025-07` found nothing.)
#[test]
fn diff_and_what_if_take_every_period_form() {
    let (dir, ledger) = crate::support::demo();
    // The demo's own terms, as the other terms of what-if.
    let registered = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--kind",
        "contract-registered",
        "--json",
    ]);
    let registered: Value = serde_json::from_str(registered.lines().next().unwrap()).unwrap();
    let terms = dir.path().join("terms.toml");
    std::fs::write(
        &terms,
        registered["event"]["payload"]["terms"].as_str().unwrap(),
    )
    .unwrap();
    let terms = terms.to_str().unwrap();
    let diff = |period: &str| -> Vec<String> {
        let mut args = vec!["--ledger", ledger.as_str(), "diff", "--from-seq", "100"];
        args.extend(["--through", period, "--json"]);
        args.into_iter().map(str::to_owned).collect()
    };
    let what_if = |period: &str| -> Vec<String> {
        let mut args = vec!["--ledger", ledger.as_str(), "what-if", "--terms", terms];
        args.extend(["--period", period, "--json"]);
        args.into_iter().map(str::to_owned).collect()
    };
    let run =
        |args: &[String]| crate::support::pbr(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let quarter_end = json(
        &diff("2025-Q4")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    for (given, through) in [
        ("2025", "2025-Q4"),
        ("2025-Q4", "2025-Q4"),
        ("2025-Q3", "2025-Q3"),
        ("2025-09", "2025-Q3"),
    ] {
        let out = run(&diff(given));
        assert_eq!(out.code, 0, "diff --through {given}: {}", out.stderr);
        let out: Value = serde_json::from_str(&out.stdout).unwrap();
        let contract = &out["contracts"][0];
        assert_eq!(contract["through"], through, "diff --through {given}");
        assert!(
            !contract["changes"].as_array().unwrap().is_empty(),
            "diff --through {given} found nothing"
        );
        if through == "2025-Q4" {
            assert_eq!(out, quarter_end, "diff --through {given}");
        }
        let out = run(&what_if(given));
        assert_eq!(out.code, 0, "what-if --period {given}: {}", out.stderr);
        let out: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(out["through"], through, "what-if --period {given}");
        let parties = out["parties"].as_array().unwrap();
        assert!(
            parties.iter().any(|p| p["real"] != "0.00"),
            "what-if --period {given} found nothing: {out}"
        );
        // The same terms: the same amounts.
        assert!(
            parties.iter().all(|p| p["real"] == p["alternative"]),
            "{out}"
        );
    }
    for (given, diff_error, what_if_error) in [
        (
            "2025-07",
            "impact60-demo: 2025-07 ends inside 2025-Q3, and the contract settles every quarter: \
             give a period that ends with one of its quarters, such as 2025-Q2 or 2025-Q3",
            "impact60-demo: 2025-07 ends inside 2025-Q3",
        ),
        (
            "2025-Q5",
            "--through: \"2025-Q5\" is not a period (2025, 2025-Q3, 2025-07)",
            "--period: \"2025-Q5\" is not a period (2025, 2025-Q3, 2025-07)",
        ),
        (
            "2023",
            "impact60-demo: 2023 ends before the first settlement period, 2024-Q1",
            "impact60-demo: 2023 ends before the first settlement period, 2024-Q1",
        ),
    ] {
        for (args, expected) in [(diff(given), diff_error), (what_if(given), what_if_error)] {
            let out = run(&args);
            assert_eq!(out.code, 3, "{args:?}: {}", out.stderr);
            assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(expected), "{args:?}: {}", out.stderr);
        }
    }
}
