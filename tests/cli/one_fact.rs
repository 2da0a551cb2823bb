//! One-fact commands derive their client id from the fact they record, so that running one
//! twice records its fact once (and says so); a different fact, another author or an
//! explicit `--id` records another.

use std::path::Path;

use serde_json::Value;

use crate::support::{demo, pbr, pbr_ok};

/// The number of records in the ledger.
fn len(ledger: &str) -> u64 {
    pbr_ledger::Ledger::open(Path::new(ledger))
        .unwrap()
        .log()
        .len()
}

/// Writes the demo key of `party` to a file and returns its path.
fn key(dir: &Path, party: &str) -> String {
    let path = dir.join(format!("{party}.key"));
    std::fs::write(&path, pbr_ledger::sample::demo_key(party).to_text()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `pbr --ledger LEDGER ARGS… --json` and returns its answer.
fn json(ledger: &str, args: &[&str]) -> Value {
    let mut all = vec!["--ledger", ledger];
    all.extend_from_slice(args);
    all.push("--json");
    serde_json::from_str(&pbr_ok(&all)).unwrap()
}

#[test]
fn a_one_fact_command_run_twice_records_its_fact_once() {
    let (dir, ledger) = demo();
    let fund = key(dir.path(), "obelske-fund");
    let grant = |amount: &str| -> Vec<String> {
        [
            "--ledger",
            &ledger,
            "disburse",
            "--contract",
            "impact60-demo",
            "--date",
            "2025-06-02",
            "--key",
            &fund,
            "--from",
            "obelske-fund",
            "--to",
            "fokus-provider",
            "--purpose",
            "grant",
            "--amount",
            amount,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let run = |args: &[String]| pbr(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let start = len(&ledger);
    let first = run(&grant("1000"));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.stdout.contains("1 appended"), "{}", first.stdout);
    assert_eq!(len(&ledger), start + 1);

    // The same command again: one grant, not two, and it says so.
    let again = run(&grant("1000"));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again.stdout.starts_with(&format!(
            "already recorded: this funds-disbursed is seq {start}"
        )),
        "{}",
        again.stdout
    );
    assert_eq!(len(&ledger), start + 1);
    // The same amount written otherwise is the same fact.
    let mut args = grant("1000.00");
    args.push("--json".into());
    let out: Value = serde_json::from_str(&run(&args).stdout).unwrap();
    assert_eq!(out["appended"], 0, "{out}");
    assert_eq!(out["duplicates"], 1, "{out}");
    assert_eq!(out["already_recorded"][0]["seq"], start, "{out}");
    assert_eq!(len(&ledger), start + 1);

    // Another fact: another amount.
    let other = run(&grant("2000"));
    assert_eq!(other.code, 0, "{}", other.stderr);
    assert!(other.stdout.contains("1 appended"), "{}", other.stdout);
    assert_eq!(len(&ledger), start + 2);

    // An explicit --id names a fact of its own, once.
    let mut named = grant("1000");
    named.extend(["--id".to_owned(), "second-grant".to_owned()]);
    assert!(run(&named).stdout.contains("1 appended"));
    assert!(run(&named).stdout.starts_with("already recorded"));
    assert_eq!(len(&ledger), start + 3);
}

#[test]
fn the_same_content_by_two_parties_is_two_facts() {
    // A payment may be recorded by either side; the author is part of the fact.
    let (dir, ledger) = demo();
    let start = len(&ledger);
    for (author, appended) in [
        ("aalborg-jobcenter", 1),
        ("fokus-provider", 1),
        ("aalborg-jobcenter", 0),
        ("fokus-provider", 0),
    ] {
        let key = key(dir.path(), author);
        let out = json(
            &ledger,
            &[
                "pay",
                "--contract",
                "impact60-demo",
                "--date",
                "2025-06-03",
                "--key",
                &key,
                "--from",
                "aalborg-jobcenter",
                "--to",
                "fokus-provider",
                "--amount",
                "100",
            ],
        );
        assert_eq!(out["appended"], appended, "{author}: {out}");
    }
    assert_eq!(len(&ledger), start + 2);
}

#[test]
fn a_cpr_number_and_its_reference_name_one_fact() {
    let (dir, ledger) = demo();
    let provider = key(dir.path(), "fokus-provider");
    let secret = dir.path().join("secret");
    std::fs::write(
        &secret,
        blake3::derive_key("pbr demo key v1", b"pseudonym secret"),
    )
    .unwrap();
    let cpr = pbr_ledger::sample::demo_cpr(1);
    let (parsed, _) = pbr_core::cpr::Cpr::parse(&cpr).unwrap();
    let reference = parsed
        .participant_ref(&pbr_ledger::sample::demo_pseudonym_key())
        .to_string();
    let retention = |who: [&str; 2]| {
        let mut args = vec![
            "retention",
            "--contract",
            "impact60-demo",
            "--date",
            "2025-04-02",
            "--key",
            &provider,
            "--activity",
            "employment",
            "--from",
            "2025-01-01",
            "--to",
            "2025-03-31",
            "--hours-per-week",
            "30",
        ];
        args.extend(who);
        if who[0] == "--cpr" {
            args.extend(["--secret-file", secret.to_str().unwrap()]);
        }
        json(&ledger, &args)
    };
    let start = len(&ledger);
    assert_eq!(retention(["--cpr", &cpr])["appended"], 1);
    assert_eq!(retention(["--cpr", &cpr])["appended"], 0);
    assert_eq!(retention(["--participant", &reference])["appended"], 0);
    assert_eq!(len(&ledger), start + 1);
}
