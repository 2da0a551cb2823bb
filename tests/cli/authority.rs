//! Authority by party (`docs/validation.md`, "Who may assert what"): one case per row of the
//! table, through the real CLI on scenario D's ledger (three municipalities K1–K3 paying
//! their own citizens' outcomes and splitting company milestones, an operator that claims,
//! the ESF as funder). In each case the allowed party succeeds, and every other party is
//! refused with the documented reason code while the ledger stays exactly as it was.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::scenarios::{load_scenario, repo};
use crate::support::{pbr, pbr_ok};

/// What identifies a ledger's content: its length and Merkle root.
fn fingerprint(ledger: &str) -> (u64, String) {
    let json: Value =
        serde_json::from_str(&pbr_ok(&["--ledger", ledger, "verify", "--json"])).unwrap();
    (
        json["records"].as_u64().unwrap(),
        json["root"].as_str().unwrap().to_owned(),
    )
}

/// Scenario D's ledger, with a key file for every party (the ESF's too).
fn ledger() -> (tempfile::TempDir, String, BTreeMap<String, String>) {
    let (dir, ledger, mut keys) = load_scenario("d");
    let esf = dir.path().join("esf.key");
    std::fs::write(&esf, pbr_ledger::sample::demo_key("esf").to_text()).unwrap();
    keys.insert("esf".to_owned(), esf.to_str().unwrap().to_owned());
    (dir, ledger, keys)
}

/// The reference of scenario D's citizen `cpr` under the scenario's pseudonym secret.
fn cpr_args(cpr: &str) -> Vec<String> {
    let secret = repo().join("tests/scenarios/secret");
    vec![
        "--cpr".to_owned(),
        cpr.to_owned(),
        "--secret-file".to_owned(),
        secret.to_str().unwrap().to_owned(),
    ]
}

/// One row of the table: a command without `--key`, the party that may run it, and for every
/// other party the reason code its refusal must carry.
struct Case<'a> {
    what: &'a str,
    args: Vec<String>,
    allowed: &'a str,
    refused: &'a [(&'a str, &'a str)],
}

/// Runs `case`: first every refused party (each leaves the ledger as it was), then the
/// allowed one, which must append.
fn check(ledger: &str, keys: &BTreeMap<String, String>, case: &Case<'_>) {
    for (party, code) in case.refused {
        let before = fingerprint(ledger);
        let mut args: Vec<&str> = vec!["--ledger", ledger];
        args.extend(case.args.iter().map(String::as_str));
        args.extend(["--key", keys[*party].as_str()]);
        let run = pbr(&args);
        assert_eq!(
            run.code, 3,
            "{}: {party} must be refused, got exit {}: {}{}",
            case.what, run.code, run.stdout, run.stderr
        );
        assert!(
            run.stderr.contains(&format!(": {code}: ")),
            "{}: {party} must be refused with {code}: {}",
            case.what,
            run.stderr
        );
        assert_eq!(
            run.stderr.trim_end().lines().count(),
            1,
            "{}: one line: {}",
            case.what,
            run.stderr
        );
        assert_eq!(
            fingerprint(ledger),
            before,
            "{}: {party} changed the ledger",
            case.what
        );
    }
    let before = fingerprint(ledger);
    let mut args: Vec<&str> = vec!["--ledger", ledger];
    args.extend(case.args.iter().map(String::as_str));
    args.extend(["--key", keys[case.allowed].as_str()]);
    let run = pbr(&args);
    assert_eq!(
        run.code, 0,
        "{}: {} must be allowed: {}",
        case.what, case.allowed, run.stderr
    );
    assert_eq!(
        fingerprint(ledger).0,
        before.0 + 1,
        "{}: {} appends one event",
        case.what,
        case.allowed
    );
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn only_the_entitled_party_may_assert_each_fact() {
    let (_dir, ledger, keys) = ledger();
    let base =
        |kind: &str, date: &str| strings(&[kind, "--contract", "scenario-d", "--date", date]);

    // A claim: the operator, the payee that claims; no municipality, not the ESF.
    let mut claim = base("claim", "2025-11-03");
    claim.extend(cpr_args("010190-4007")); // D07, whose home party is K2
    claim.extend(strings(&[
        "--outcome",
        "CO1",
        "--achieved",
        "2025-11-03",
        "--id",
        "authority-claim",
    ]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "outcome-claimed",
            args: claim,
            allowed: "operator",
            refused: &[("K1", "role-not-allowed"), ("esf", "role-not-allowed")],
        },
    );
    let claim_seq = fingerprint(&ledger).0 - 1;

    // Its decision: K2, which pays D07's outcomes; not K1 or K3 (commissioners that do not
    // pay it), not the operator or the ESF.
    let mut decide = base("decide", "2025-11-10");
    decide.extend(strings(&[
        "--claim",
        &claim_seq.to_string(),
        "--evidence",
        "valid",
    ]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "outcome-verified",
            args: decide,
            allowed: "K2",
            refused: &[
                ("K1", "not-the-payer"),
                ("K3", "not-the-payer"),
                ("operator", "role-not-allowed"),
                ("esf", "role-not-allowed"),
            ],
        },
    );

    // A payment: the payer or the payee, never a third party; K1 pays here, the operator is
    // paid.
    let mut pay = base("pay", "2025-11-20");
    pay.extend(strings(&[
        "--from",
        "K2",
        "--to",
        "operator",
        "--amount",
        "8000.00",
        "--id",
        "authority-pay",
    ]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "payment-recorded by the payer",
            args: pay,
            allowed: "K2",
            refused: &[
                ("K1", "not-a-side"),
                ("K3", "not-a-side"),
                ("esf", "not-a-side"),
            ],
        },
    );
    let mut paid = base("pay", "2025-11-21");
    paid.extend(strings(&[
        "--from",
        "K3",
        "--to",
        "operator",
        "--amount",
        "100.00",
        "--id",
        "authority-paid",
    ]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "payment-recorded by the payee",
            args: paid,
            allowed: "operator",
            refused: &[("K1", "not-a-side"), ("K2", "not-a-side")],
        },
    );

    // Money moves one way only: a negative or zero amount is refused, even from a side.
    for amount in ["-1000000.00", "0.00"] {
        let mut negative = base("pay", "2025-11-22");
        let amount = format!("--amount={amount}");
        negative.extend(strings(&["--from", "K1", "--to", "operator", &amount]));
        let before = fingerprint(&ledger);
        let mut args: Vec<&str> = vec!["--ledger", &ledger];
        args.extend(negative.iter().map(String::as_str));
        args.extend(["--key", keys["operator"].as_str()]);
        let run = pbr(&args);
        assert_eq!(run.code, 3, "{amount}: {}", run.stderr);
        assert!(
            run.stderr.contains(": not-positive: "),
            "{amount}: {}",
            run.stderr
        );
        assert_eq!(fingerprint(&ledger), before);
    }

    // A disbursement: the ESF pays K1; K2 may not record it.
    let mut disburse = base("disburse", "2025-11-25");
    disburse.extend(strings(&[
        "--from",
        "esf",
        "--to",
        "K1",
        "--amount",
        "5000.00",
        "--purpose",
        "co-financing",
        "--id",
        "authority-disburse",
    ]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "funds-disbursed",
            args: disburse,
            allowed: "esf",
            refused: &[("K2", "not-a-side"), ("K3", "not-a-side")],
        },
    );

    // A cost: only the party whose cost it is.
    let mut cost = base("cost", "2025-11-26");
    cost.extend(strings(&[
        "--party",
        "operator",
        "--amount",
        "250.00",
        "--id",
        "authority-cost",
    ]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "cost-recorded",
            args: cost,
            allowed: "operator",
            refused: &[("K1", "role-not-allowed")],
        },
    );

    // An enrolment: a municipality enrols its own citizens.
    let mut enrol = base("enroll", "2024-06-03");
    enrol.extend(cpr_args("010190-4099"));
    enrol.extend(strings(&["--home-party", "K3", "--id", "authority-enrol"]));
    check(
        &ledger,
        &keys,
        &Case {
            what: "participant-enrolled",
            args: enrol,
            allowed: "K3",
            refused: &[
                ("K1", "not-the-home-party"),
                ("K2", "not-the-home-party"),
                ("operator", "role-not-allowed"),
            ],
        },
    );

    // A statement: the party the terms name as issuer (K1), not another municipality.
    let issue = strings(&[
        "settle",
        "--contract",
        "scenario-d",
        "--period",
        "2024-Q1",
        "--issue",
    ]);
    check(
        &ledger,
        &keys,
        &Case {
            what: "settlement-issued",
            args: issue,
            allowed: "K1",
            refused: &[
                ("K2", "not-an-issuer"),
                ("K3", "not-an-issuer"),
                ("operator", "role-not-allowed"),
            ],
        },
    );
}

/// Registering an already registered contract with another party's key says so; the
/// party that registered it repeating the command records nothing (the same fact).
#[test]
fn registering_a_contract_twice_says_it_is_registered() {
    let (_dir, ledger, keys) = ledger();
    let terms = repo().join("tests/scenarios/d/contract.toml");
    let before = fingerprint(&ledger);
    pbr_ok(&[
        "--ledger",
        &ledger,
        "contract",
        "register",
        terms.to_str().unwrap(),
        "--key",
        &keys["K1"],
    ]);
    assert_eq!(fingerprint(&ledger), before);
    for party in ["K2", "K3"] {
        let before = fingerprint(&ledger);
        let run = pbr(&[
            "--ledger",
            &ledger,
            "contract",
            "register",
            terms.to_str().unwrap(),
            "--key",
            &keys[party],
        ]);
        assert_eq!(run.code, 3, "{party}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("contract scenario-d is already registered (seq 0)"),
            "{party}: {}",
            run.stderr
        );
        assert_eq!(fingerprint(&ledger), before);
    }
}
