//! `pbr audit` recomputes every issued statement from the log and the terms in force when it
//! was issued: it names a statement whose recorded hash differs, and an amendment recorded
//! later changes no earlier statement, only adds adjustment lines to the next one.

use serde_json::Value;

use crate::scenarios::{load_scenario, repo};
use crate::support::{pbr, pbr_ok};

const VERIFY_FAILED: i32 = 5;

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&pbr_ok(args)).unwrap()
}

fn issue(ledger: &str, key: &str, period: &str) -> Value {
    json(&[
        "--ledger", ledger, "settle", "--period", period, "--issue", "--key", key, "--json",
    ])
}

#[test]
fn audit_names_an_issued_statement_whose_recorded_hash_differs() {
    let (dir, ledger, keys) = load_scenario("a");
    issue(&ledger, &keys["dwp"], "2013-Q1");
    issue(&ledger, &keys["dwp"], "2013-Q2");
    // An outside system records the 2013-Q3 statement by hash, one digit off.
    let statement = json(&[
        "--ledger", &ledger, "settle", "--period", "2013-Q3", "--json",
    ]);
    let right = statement["hash"].as_str().unwrap().to_owned();
    let wrong = format!(
        "{}{}",
        if right.starts_with('0') { "1" } else { "0" },
        &right[1..]
    );
    let position = statement["log_position"].as_u64().unwrap();
    let row = |hash: &str, position: u64| {
        let csv = dir.path().join(format!("issue-{position}.csv"));
        std::fs::write(
            &csv,
            format!(
                "kind,contract,date,author,id,period,statement_hash,log_position\n\
                 settlement-issued,scenario-a,2013-09-30,dwp,issue-{position},2013-Q3,{hash},{position}\n"
            ),
        )
        .unwrap();
        csv
    };
    let csv = row(&wrong, position);
    pbr_ok(&[
        "--ledger",
        &ledger,
        "import",
        csv.to_str().unwrap(),
        "--key",
        &keys["dwp"],
    ]);
    let run = pbr(&["--ledger", &ledger, "audit", "--json"]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    // The report, then the failure object every `--json` command prints on an error.
    let mut out = run.stdout.lines();
    let audit: Value = serde_json::from_str(out.next().unwrap()).unwrap();
    let failure: Value = serde_json::from_str(out.next().unwrap()).unwrap();
    assert_eq!(failure["exit_code"], VERIFY_FAILED);
    assert_eq!(audit["ok"], false);
    let statements = audit["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 3);
    for s in &statements[..2] {
        assert_eq!(s["matches"], true, "{s}");
    }
    let bad = &statements[2];
    assert_eq!(bad["seq"].as_u64().unwrap(), position);
    assert_eq!(bad["matches"], false);
    assert_eq!(bad["recorded_hash"], wrong.as_str());
    assert_eq!(bad["recomputed_hash"], right.as_str());
    assert!(
        run.stderr.contains("1 of 3 issued statements do not match"),
        "{}",
        run.stderr
    );
    // Balances still come from the engine's recomputation, never from a recorded hash.
    let balance = json(&["--ledger", &ledger, "balance", "--json"]);
    assert_eq!(balance["parties"][0]["party"], "dwp");
    assert_eq!(balance["parties"][0]["accrued"], "-33200.00");
}

#[test]
fn a_statement_recorded_from_outside_with_the_right_hash_audits() {
    let (dir, ledger, keys) = load_scenario("a");
    let statement = json(&[
        "--ledger", &ledger, "settle", "--period", "2013-Q2", "--json",
    ]);
    let position = statement["log_position"].as_u64().unwrap();
    let csv = dir.path().join("issue.csv");
    std::fs::write(
        &csv,
        format!(
            "kind,contract,date,author,id,period,statement_hash,log_position\n\
             settlement-issued,scenario-a,2013-06-30,dwp,outside,2013-Q2,{},{position}\n",
            statement["hash"].as_str().unwrap()
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
    let audit = json(&["--ledger", &ledger, "audit", "--json"]);
    assert_eq!(audit["ok"], true, "{audit}");
    // A second statement of the same period is refused: statements are issued in order.
    let run = pbr(&[
        "--ledger",
        &ledger,
        "settle",
        "--period",
        "2013-Q2",
        "--issue",
        "--key",
        &keys["dwp"],
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("settled up to 2013-Q2"),
        "{}",
        run.stderr
    );
}

/// Scenario A's terms with one outcome's price changed.
fn amended_terms(dir: &std::path::Path, name: &str, code: &str, price: &str) -> String {
    let text = std::fs::read_to_string(repo().join("tests/scenarios/a/contract.toml")).unwrap();
    let marker = format!("code = \"{code}\"");
    let at = text.find(&marker).unwrap();
    let price_at = at + text[at..].find("price = ").unwrap();
    let end = price_at + text[price_at..].find('\n').unwrap();
    let amended = format!("{}price = \"{price}\"{}", &text[..price_at], &text[end..]);
    let path = dir.join(name);
    std::fs::write(&path, amended).unwrap();
    path.to_str().unwrap().to_owned()
}

fn lines(statement: &Value) -> &Vec<Value> {
    statement["lines"].as_array().unwrap()
}

#[test]
fn an_amendment_changes_no_issued_statement_and_only_adds_adjustments() {
    let (dir, ledger, keys) = load_scenario("a");
    let before: Vec<Value> = ["2013-Q1", "2013-Q2", "2013-Q3"]
        .iter()
        .map(|q| issue(&ledger, &keys["dwp"], q))
        .collect();
    // O8 costs 4,000 from 2013-10-01: P10's O8, decided 2013-10-11, is priced under it.
    let terms = amended_terms(dir.path(), "o8.toml", "O8", "4000.00");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "contract",
        "amend",
        &terms,
        "--key",
        &keys["dwp"],
        "--effective",
        "2013-10-01",
    ]);
    let q4 = issue(&ledger, &keys["dwp"], "2013-Q4");
    assert!(lines(&q4).iter().all(|l| l["adjustment"] == false), "{q4}");
    let o8: Vec<&Value> = lines(&q4)
        .iter()
        .filter(|l| l["rule"] == "outcome:O8")
        .collect();
    assert!(o8.iter().any(|l| l["amount"] == "4000.00"), "{q4}");
    // Every earlier statement recomputes to the hash it was issued with.
    for statement in &before {
        let seq = statement["issued_seq"].as_u64().unwrap();
        let again = json(&["--ledger", &ledger, "explain", &seq.to_string(), "--json"]);
        assert_eq!(again["hash"], statement["hash"]);
    }
    // A retroactive amendment (O7 at 1,300 from 2013-07-01) reaches periods already settled:
    // the next statement adjusts them, and nothing issued changes.
    let terms = amended_terms(dir.path(), "o7.toml", "O7", "1300.00");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "contract",
        "amend",
        &terms,
        "--key",
        &keys["dwp"],
        "--effective",
        "2013-07-01",
    ]);
    let q1 = issue(&ledger, &keys["dwp"], "2014-Q1");
    for line in lines(&q1) {
        let accrual = line["accrual"].as_str().unwrap();
        assert_eq!(line["adjustment"] == true, accrual != "2014-Q1", "{line}");
    }
    let o7: Vec<&Value> = lines(&q1)
        .iter()
        .filter(|l| l["rule"] == "outcome:O7" && l["accrual"] == "2013-Q3")
        .collect();
    assert_eq!(o7.len(), 2, "P01's and P08's O7, decided in 2013-Q3: {q1}");
    assert!(o7.iter().all(|l| l["amount"] == "100.00"), "{q1}");
    let audit = json(&["--ledger", &ledger, "audit", "--json"]);
    assert_eq!(audit["ok"], true, "{audit}");
    assert_eq!(audit["statements"].as_array().unwrap().len(), 5);
}

#[test]
fn terms_can_be_amended_back_to_an_earlier_text_and_an_amendment_run_twice_is_one_fact() {
    let (dir, ledger, keys) = load_scenario("a");
    let original = repo().join("tests/scenarios/a/contract.toml");
    let changed = amended_terms(dir.path(), "o8.toml", "O8", "4000.00");
    let amend = |terms: &str, effective: &str| {
        pbr(&[
            "--ledger",
            &ledger,
            "--json",
            "contract",
            "amend",
            terms,
            "--key",
            &keys["dwp"],
            "--effective",
            effective,
        ])
    };
    let appended = |run: &crate::support::Run| -> Value {
        assert_eq!(run.code, 0, "{}", run.stderr);
        serde_json::from_str(&run.stdout).unwrap()
    };
    assert_eq!(appended(&amend(&changed, "2013-10-01"))["appended"], 1);
    // The registered text again, from a later date: a new fact, not the registration.
    let back = amend(original.to_str().unwrap(), "2014-01-01");
    assert_eq!(appended(&back)["appended"], 1);
    // The same amendment again: already recorded.
    let again = appended(&amend(original.to_str().unwrap(), "2014-01-01"));
    assert_eq!(
        (again["appended"].clone(), again["duplicates"].clone()),
        (0.into(), 1.into())
    );
}
