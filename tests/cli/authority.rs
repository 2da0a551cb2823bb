//! Authority by party (`docs/validation.md`, "Who may assert what"): one case per row of the
//! table, through the real CLI on scenario D's ledger (three municipalities K1–K3 paying
//! their own citizens' outcomes and splitting company milestones, an operator that claims,
//! the ESF as funder). In each case the allowed party succeeds, and every other party is
//! refused with the documented reason code while the ledger stays exactly as it was.
//!
//! A ledger's own authority over terms closes the file: it registers only terms that name
//! its log, and never those of another log.

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

/// Every party of scenario D.
const PARTIES: [&str; 5] = ["K1", "K2", "K3", "esf", "operator"];

/// How a case records its fact.
enum How<'a> {
    /// A one-fact command, without `--key`.
    Command(Vec<String>),
    /// An import of one CSV row (header first), `{author}` standing for the author.
    Import(&'a str),
}

/// One row of the table: how the fact is recorded, the parties that may record it, and for
/// every other party of the contract the reason code its refusal must carry.
struct Case<'a> {
    what: &'a str,
    how: How<'a>,
    allowed: &'a [&'a str],
    refused: &'a [(&'a str, &'a str)],
}

/// The arguments that record `case` as `party`.
fn args_for(
    case: &Case<'_>,
    party: &str,
    dir: &std::path::Path,
    keys: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut args = match &case.how {
        How::Command(args) => args.clone(),
        How::Import(rows) => {
            let file = dir.join(format!("{}-{party}.csv", case.what));
            std::fs::write(&file, rows.replace("{author}", party)).unwrap();
            let secret = repo().join("tests/scenarios/secret");
            strings(&[
                "import",
                file.to_str().unwrap(),
                "--secret-file",
                secret.to_str().unwrap(),
            ])
        }
    };
    args.extend(strings(&["--key", &keys[party]]));
    if let How::Import(_) = case.how {
        // A row may name another author (a batch's earlier fact): its key is at hand too,
        // as on an operator's machine; the row's author is still the one that signs it.
        for other in PARTIES.iter().filter(|p| **p != party) {
            args.extend(strings(&["--key", &keys[*other]]));
        }
    }
    args
}

/// Records `case`'s fact as `party`.
fn run_as(
    ledger: &str,
    case: &Case<'_>,
    party: &str,
    dir: &std::path::Path,
    keys: &BTreeMap<String, String>,
) -> crate::support::Run {
    let mut args = strings(&["--ledger", ledger]);
    args.extend(args_for(case, party, dir, keys));
    pbr(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Runs `case`: first every refused party (each leaves the ledger as it was), then each
/// allowed one, which must append one event.
fn check(ledger: &str, dir: &std::path::Path, keys: &BTreeMap<String, String>, case: &Case<'_>) {
    let mut covered: Vec<&str> = case.allowed.to_vec();
    covered.extend(case.refused.iter().map(|(party, _)| *party));
    covered.sort_unstable();
    let mut all = PARTIES.to_vec();
    all.sort_unstable();
    // A batch whose one allowed author is run apart (it appends more than one event) names
    // every other party.
    if !(case.allowed.is_empty() && case.refused.len() == PARTIES.len() - 1) {
        assert_eq!(
            covered, all,
            "{}: every party is allowed or refused",
            case.what
        );
    }
    for (party, code) in case.refused {
        let before = fingerprint(ledger);
        let run = run_as(ledger, case, party, dir, keys);
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
    for party in case.allowed {
        let before = fingerprint(ledger);
        let run = run_as(ledger, case, party, dir, keys);
        assert_eq!(
            run.code, 0,
            "{}: {party} must be allowed: {}",
            case.what, run.stderr
        );
        assert_eq!(
            fingerprint(ledger).0,
            before.0 + 1,
            "{}: {party} appends one event",
            case.what
        );
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// The header of the import rows below.
const HEADER: &str =
    "kind,contract,date,author,cpr,from,to,amount,purpose,guarantor,beneficiary,status";

#[test]
fn only_the_entitled_party_may_assert_each_fact() {
    let (dir, ledger, keys) = ledger();
    let dir = dir.path();
    let base =
        |kind: &str, date: &str| strings(&[kind, "--contract", "scenario-d", "--date", date]);
    let run = |case: Case<'_>| check(&ledger, dir, &keys, &case);

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
    run(Case {
        what: "outcome-claimed",
        how: How::Command(claim),
        allowed: &["operator"],
        refused: &[
            ("K1", "role-not-allowed"),
            ("K2", "role-not-allowed"),
            ("K3", "role-not-allowed"),
            ("esf", "role-not-allowed"),
        ],
    });
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
    decide.extend(strings(&["--id", "authority-decide"]));
    let deciders = [
        ("K1", "not-the-payer"),
        ("K3", "not-the-payer"),
        ("operator", "role-not-allowed"),
        ("esf", "role-not-allowed"),
    ];
    run(Case {
        what: "outcome-verified",
        how: How::Command(decide),
        allowed: &["K2"],
        refused: &deciders,
    });

    // D07's claw-back: likewise only K2. Its CO1 was accepted in the import, so the new
    // claim was a duplicate, rejected; claw back the accepted one.
    let accepted = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--json",
        "--kind",
        "outcome-verified",
    ]);
    let d07_claim = accepted
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["event"]["author"] == "K2")
        .map(|line| line["event"]["payload"]["claim_seq"].as_u64().unwrap())
        .next()
        .expect("K2 accepted a claim in scenario D");
    let clawback = format!(
        "{HEADER},claim,reason\noutcome-clawed-back,scenario-d,2025-11-12,{{author}},,,,,,,,,{d07_claim},audit-finding\n"
    );
    run(Case {
        what: "outcome-clawed-back",
        how: How::Import(&clawback),
        allowed: &["K2"],
        refused: &deciders,
    });

    // A payment: the payer or the payee, never a third party.
    let mut pay = base("pay", "2025-11-20");
    pay.extend(strings(&[
        "--from", "K2", "--to", "operator", "--amount", "8000.00",
    ]));
    run(Case {
        what: "payment-recorded",
        how: How::Command(pay),
        allowed: &["K2", "operator"],
        refused: &[
            ("K1", "not-a-side"),
            ("K3", "not-a-side"),
            ("esf", "not-a-side"),
        ],
    });

    // Money moves one way only: a negative or zero amount is refused, even from a side.
    for amount in ["-1000000.00", "0.00"] {
        let mut negative = base("pay", "2025-11-22");
        let amount = format!("--amount={amount}");
        negative.extend(strings(&["--from", "K1", "--to", "operator", &amount]));
        run(Case {
            what: "payment-recorded, not positive",
            how: How::Command(negative),
            allowed: &[],
            refused: &[
                ("K1", "not-positive"),
                ("operator", "not-positive"),
                ("K2", "not-a-side"),
                ("K3", "not-a-side"),
                ("esf", "not-a-side"),
            ],
        });
    }

    // A disbursement and a commitment: the ESF pays K1; only they may record it.
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
    ]));
    run(Case {
        what: "funds-disbursed",
        how: How::Command(disburse),
        allowed: &["esf", "K1"],
        refused: &[
            ("K2", "not-a-side"),
            ("K3", "not-a-side"),
            ("operator", "role-not-allowed"),
        ],
    });
    let committed = format!(
        "{HEADER}\nfunds-committed,scenario-d,2025-11-25,{{author}},,esf,K1,5000.00,co-financing,,,\n"
    );
    run(Case {
        what: "funds-committed",
        how: How::Import(&committed),
        allowed: &["esf", "K1"],
        refused: &[
            ("K2", "not-a-side"),
            ("K3", "not-a-side"),
            ("operator", "role-not-allowed"),
        ],
    });

    // A guarantee call: the guarantor (here K3) or the beneficiary (the operator).
    let called = format!(
        "{HEADER}\nguarantee-called,scenario-d,2025-11-26,{{author}},,,,700.00,,K3,operator,\n"
    );
    run(Case {
        what: "guarantee-called",
        how: How::Import(&called),
        allowed: &["K3", "operator"],
        refused: &[
            ("K1", "not-a-side"),
            ("K2", "not-a-side"),
            ("esf", "role-not-allowed"),
        ],
    });

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
    run(Case {
        what: "cost-recorded",
        how: How::Command(cost),
        allowed: &["operator"],
        refused: &[
            ("K1", "role-not-allowed"),
            ("K2", "role-not-allowed"),
            ("K3", "role-not-allowed"),
            ("esf", "role-not-allowed"),
        ],
    });

    // An enrolment: a municipality enrols its own citizens.
    let mut enrol = base("enroll", "2024-06-03");
    enrol.extend(cpr_args("010190-4099"));
    enrol.extend(strings(&["--home-party", "K3", "--id", "authority-enrol"]));
    run(Case {
        what: "participant-enrolled",
        how: How::Command(enrol),
        allowed: &["K3"],
        refused: &[
            ("K1", "not-the-home-party"),
            ("K2", "not-the-home-party"),
            ("operator", "role-not-allowed"),
            ("esf", "role-not-allowed"),
        ],
    });

    // About a participant (D07, home K2): its home municipality, or the provider where its
    // role may record the kind.
    let mut status = base("status", "2025-11-30");
    status.extend(cpr_args("010190-4007"));
    status.extend(strings(&["--month", "2025-11", "--status", "full"]));
    run(Case {
        what: "monthly-status-recorded",
        how: How::Command(status),
        allowed: &["K2"],
        refused: &[
            ("K1", "not-the-home-party"),
            ("K3", "not-the-home-party"),
            ("operator", "role-not-allowed"),
            ("esf", "role-not-allowed"),
        ],
    });
    let mut retention = base("retention", "2025-11-30");
    retention.extend(cpr_args("010190-4007"));
    retention.extend(strings(&[
        "--activity",
        "employment",
        "--from",
        "2025-09-01",
        "--to",
        "2025-11-30",
    ]));
    run(Case {
        what: "retention-recorded",
        how: How::Command(retention),
        allowed: &["K2", "operator"],
        refused: &[
            ("K1", "not-the-home-party"),
            ("K3", "not-the-home-party"),
            ("esf", "role-not-allowed"),
        ],
    });

    // A correction: only the author of what it retracts (here the operator's cost above);
    // then, in one batch, a payment and its correction, by the payer only.
    let cost_seq = fingerprint(&ledger).0 - 1;
    let mut correct = base("correct", "2025-12-01");
    correct.extend(strings(&[
        "--retracts-seq",
        &cost_seq.to_string(),
        "--reason",
        "data-entry",
    ]));
    run(Case {
        what: "correction",
        how: How::Command(correct),
        allowed: &["operator"],
        refused: &[
            ("K1", "not-the-author"),
            ("K2", "not-the-author"),
            ("K3", "not-the-author"),
            ("esf", "not-the-author"),
        ],
    });
    let next = fingerprint(&ledger).0;
    let in_batch = format!(
        "{HEADER},retracts_seq,reason\n\
         payment-recorded,scenario-d,2025-12-02,K2,,K2,operator,10.00,,,,,,\n\
         correction,scenario-d,2025-12-02,{{author}},,,,,,,,,{next},data-entry\n"
    );
    let batch = Case {
        what: "correction in the same batch",
        how: How::Import(&in_batch),
        allowed: &[],
        refused: &[
            ("K1", "not-the-author"),
            ("K3", "not-the-author"),
            ("operator", "not-the-author"),
            ("esf", "not-the-author"),
        ],
    };
    check(&ledger, dir, &keys, &batch);
    let own = run_as(&ledger, &batch, "K2", dir, &keys);
    assert_eq!(
        own.code, 0,
        "the payer corrects its own payment: {}",
        own.stderr
    );
    assert_eq!(fingerprint(&ledger).0, next + 2);

    // A new party: a commissioner registers it (the grammar of `party add` once clashed
    // with `--id` and could not run at all).
    let keygen = dir.join("evaluator.key");
    let vkey = pbr_ok(&[
        "party",
        "keygen",
        "aarhus-evaluator",
        "--out",
        keygen.to_str().unwrap(),
    ]);
    let mut add = strings(&["party", "add", "aarhus-evaluator", "--role", "evaluator"]);
    add.extend(strings(&[
        "--vkey",
        vkey.trim(),
        "--contract",
        "scenario-d",
        "--date",
        "2025-12-03",
    ]));
    let party_add = Case {
        what: "party-registered",
        how: How::Command(add),
        allowed: &[],
        refused: &[],
    };
    for party in ["operator", "esf"] {
        let refused = run_as(&ledger, &party_add, party, dir, &keys);
        assert_eq!(refused.code, 3, "{party}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(": role-not-allowed: "),
            "{}",
            refused.stderr
        );
    }
    let added = run_as(&ledger, &party_add, "K3", dir, &keys);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let log = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--kind",
        "party-registered",
        "--json",
    ]);
    assert!(log.contains("aarhus-evaluator"), "{log}");

    // A statement: the party the terms name as issuer (K1), not another municipality.
    let issue = strings(&[
        "settle",
        "--contract",
        "scenario-d",
        "--period",
        "2024-Q1",
        "--issue",
    ]);
    run(Case {
        what: "settlement-issued",
        how: How::Command(issue),
        allowed: &["K1"],
        refused: &[
            ("K2", "not-an-issuer"),
            ("K3", "not-an-issuer"),
            ("operator", "role-not-allowed"),
            ("esf", "role-not-allowed"),
        ],
    });
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

/// A fresh ledger of `origin` beside dwp's key file; returns (tempdir, ledger, key file).
fn empty_ledger(origin: &str) -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger").to_str().unwrap().to_owned();
    pbr_ok(&["init", &ledger, "--origin", origin]);
    let key = dir.path().join("dwp.key");
    std::fs::write(&key, pbr_ledger::sample::demo_key("dwp").to_text()).unwrap();
    (dir, ledger, key.to_str().unwrap().to_owned())
}

/// Writes `terms` to `DIR/name` and returns the path.
fn terms_file(dir: &std::path::Path, name: &str, terms: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, terms).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Scenario A's terms, which name their log, `test/a`.
fn scenario_a_terms() -> String {
    std::fs::read_to_string(repo().join("tests/scenarios/a/contract.toml")).unwrap()
}

/// `pbr contract register TERMS` with dwp's key.
fn register(ledger: &str, terms: &str, key: &str) -> crate::support::Run {
    pbr(&[
        "--ledger", ledger, "contract", "register", terms, "--key", key,
    ])
}

/// `pbr contract amend TERMS` with dwp's key, effective 2014-01-01.
fn amend(ledger: &str, terms: &str, key: &str) -> crate::support::Run {
    pbr(&[
        "--ledger",
        ledger,
        "contract",
        "amend",
        terms,
        "--key",
        key,
        "--effective",
        "2014-01-01",
    ])
}

/// Asserts `run` was refused as input (exit 3) in one line ending with `reason`.
fn assert_refused(run: &crate::support::Run, reason: &str) {
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.trim_end().ends_with(reason),
        "expected …{reason}, got {}",
        run.stderr
    );
}

/// Terms that name `[log]` bind the contract to that log: a ledger of another origin
/// refuses to register them, or to take them as an amendment, naming both origins, and
/// records nothing; so the contract's records cannot be replayed into another log.
#[test]
fn a_ledger_refuses_terms_of_another_origin() {
    let terms = scenario_a_terms();
    let (dir, ledger, key) = empty_ledger("test.example/other");
    let file = terms_file(dir.path(), "a.toml", &terms);
    let before = fingerprint(&ledger);
    assert_refused(
        &register(&ledger, &file, &key),
        "a.toml: the terms are for the log test/a, but this ledger is test.example/other",
    );
    assert_eq!(fingerprint(&ledger), before);
    assert_eq!(before.0, 0);

    // In a's own ledger, an amendment naming another log (with that log's key, so the
    // terms themselves are valid) is refused too.
    let (dir, ledger, key) = empty_ledger("test/a");
    let file = terms_file(dir.path(), "a.toml", &terms);
    assert_eq!(register(&ledger, &file, &key).code, 0);
    let other = crate::support::log_key("test/b").verifier_key().to_string();
    let own = crate::support::log_key("test/a").verifier_key().to_string();
    assert!(terms.contains(&own), "scenario A's terms name its log key");
    let moved = terms
        .replace("origin = \"test/a\"", "origin = \"test/b\"")
        .replace(&own, &other);
    let moved = terms_file(dir.path(), "moved.toml", &moved);
    pbr_ok(&["contract", "check", &moved]);
    let before = fingerprint(&ledger);
    assert_refused(
        &amend(&ledger, &moved, &key),
        "moved.toml: the terms are for the log test/b, but this ledger is test/a",
    );
    assert_eq!(fingerprint(&ledger), before);
}

/// Terms this ledger would sign must name its log: a registration or an amendment without
/// `[log]` is refused (exit 3) and records nothing. (Terms without `[log]` that arrive
/// already signed, a history made before format 2, are admitted: `tests/cli/migrate.rs`.)
#[test]
fn a_ledger_refuses_terms_without_log_that_it_would_sign() {
    let terms = scenario_a_terms();
    let start = terms.find("[log]\n").unwrap();
    let end = start + terms[start..].find("\n\n").unwrap() + 2;
    let unbound = format!("{}{}", &terms[..start], &terms[end..]);
    assert!(!unbound.contains("[log]") && !unbound.contains("test/a+"));
    let (dir, ledger, key) = empty_ledger("test/a");
    let file = terms_file(dir.path(), "unbound.toml", &unbound);
    // The terms are valid: only this ledger's rule refuses them.
    pbr_ok(&["contract", "check", &file]);
    let reason = "unbound.toml: the terms name no [log] (the origin and log key of the ledger \
                  they belong to); this ledger is test/a";
    assert_refused(&register(&ledger, &file, &key), reason);
    assert_eq!(fingerprint(&ledger).0, 0);

    // Registered with [log], the contract cannot be amended to terms without it.
    let bound = terms_file(dir.path(), "a.toml", &terms);
    assert_eq!(register(&ledger, &bound, &key).code, 0);
    let before = fingerprint(&ledger);
    assert_refused(&amend(&ledger, &file, &key), reason);
    assert_eq!(fingerprint(&ledger), before);
}
