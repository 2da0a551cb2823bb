//! The bad-input corpus of `pbr import`: each case gives one line naming the file, the line
//! and the field, exit code 3, and leaves the ledger exactly as it was (same length, same
//! Merkle root and chain head, which cover every byte of every record).

use std::path::Path;

use crate::support::{pbr, pbr_ok};

const INPUT: i32 = 3;
const HEADER: &str =
    "kind,contract,date,author,id,cpr,age_at_entry,outcome,achieved,claim_id,evidence,party,amount";

/// A ledger with scenario A's contract and its import, plus the key files.
fn base() -> (tempfile::TempDir, String, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ledger = dir.path().join("l").to_str().unwrap().to_owned();
    let mut args = vec![];
    for party in ["dwp", "provider", "investor"] {
        let path = dir.path().join(format!("{party}.key"));
        std::fs::write(&path, pbr_ledger::sample::demo_key(party).to_text()).unwrap();
        args.push("--key".to_owned());
        args.push(path.to_str().unwrap().to_owned());
    }
    args.push("--secret-file".to_owned());
    args.push(
        repo.join("tests/scenarios/secret")
            .to_str()
            .unwrap()
            .to_owned(),
    );
    // Scenario A's terms name their log, test/a: only a ledger of that origin takes them.
    pbr_ok(&["init", &ledger, "--origin", "test/a"]);
    let terms = repo.join("tests/scenarios/a/contract.toml");
    pbr_ok(&[
        "--ledger",
        &ledger,
        "contract",
        "register",
        terms.to_str().unwrap(),
        "--key",
        &args[1],
    ]);
    let events = repo.join("tests/scenarios/a/events.csv");
    let mut import = vec!["--ledger", &ledger, "import", events.to_str().unwrap()];
    import.extend(args.iter().map(String::as_str));
    pbr_ok(&import);
    (dir, ledger, args)
}

/// Imports `content` as `name` and returns (exit code, stderr).
fn import(dir: &Path, ledger: &str, keys: &[String], name: &str, content: &str) -> (i32, String) {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    let mut args = vec!["--ledger", ledger, "import", path.to_str().unwrap()];
    args.extend(keys.iter().map(String::as_str));
    let run = pbr(&args);
    (run.code, run.stderr)
}

/// The record bytes of the first event of the ledger, hex, with one bit of its signature
/// flipped when `tamper`.
fn signed_record(ledger: &str, tamper: bool) -> String {
    let export_free = pbr_ok(&["--ledger", ledger, "log", "--json", "--to-seq", "1"]);
    assert!(!export_free.is_empty());
    let log = pbr_ledger::Ledger::open(Path::new(ledger)).unwrap();
    let mut bytes = log.log().read_bytes(0).unwrap();
    drop(log);
    if tamper {
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
    }
    pbr_log::hex::encode(&bytes)
}

#[test]
fn each_bad_input_names_file_line_and_field_and_changes_nothing() {
    let (dir, ledger, keys) = base();
    let before = pbr_ok(&["--ledger", &ledger, "verify", "--json"]);
    let good_cost = "cost-recorded,scenario-a,2013-09-30,provider,c-1,,,,,,,provider,100.00";
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong-type.csv",
            format!(
                "{HEADER}\n{good_cost}\nparticipant-enrolled,scenario-a,2013-02-01,dwp,e-1,010190-1099,abc,,,,,,\n"
            ),
            "wrong-type.csv:3: age_at_entry: \"abc\" is not a whole number",
        ),
        (
            "unknown-party.csv",
            format!(
                "{HEADER}\ncost-recorded,scenario-a,2013-09-30,nobody,c-2,,,,,,,provider,100.00\n"
            ),
            "unknown-party.csv:2: not-a-party: nobody is not a party of contract scenario-a",
        ),
        (
            "unknown-participant.csv",
            format!(
                "{HEADER}\noutcome-claimed,scenario-a,2013-09-30,provider,c-3,010190-1999,,O3,2013-09-01,,,,\n"
            ),
            "unknown-participant.csv:2: participant",
        ),
        (
            "date-out-of-range.csv",
            format!(
                "{HEADER}\ncost-recorded,scenario-a,2013-02-30,provider,c-4,,,,,,,provider,100.00\n"
            ),
            "date-out-of-range.csv:2: date: \"2013-02-30\" is not a date",
        ),
        (
            "year-zero.csv",
            format!(
                "{HEADER}\ncost-recorded,scenario-a,0000-01-01,provider,c-5,,,,,,,provider,100.00\n"
            ),
            "year-zero.csv:2:",
        ),
        (
            "wrong-currency-precision.csv",
            format!(
                "{HEADER}\ncost-recorded,scenario-a,2013-09-30,provider,c-6,,,,,,,provider,100.005\n"
            ),
            "wrong-currency-precision.csv:2: amount: \"100.005\" has more than 2 decimals",
        ),
        (
            "duplicate-ids.csv",
            format!(
                "{HEADER}\n{good_cost}\ncost-recorded,scenario-a,2013-09-30,provider,c-1,,,,,,,provider,200.00\n"
            ),
            "duplicate-ids.csv:3: id ",
        ),
        (
            "unknown-kind.csv",
            format!("{HEADER}\noutcome-paid,scenario-a,2013-09-30,provider,c-7,,,,,,,,\n"),
            "unknown-kind.csv:2: kind: \"outcome-paid\" is not an event kind",
        ),
        (
            "wrong-role.csv",
            format!("{HEADER}\ncost-recorded,scenario-a,2013-09-30,dwp,c-8,,,,,,,provider,1.00\n"),
            "wrong-role.csv:2: role-not-allowed: a commissioner may not record cost-recorded",
        ),
        (
            "bad-json.jsonl",
            "{\"kind\": \"cost-recorded\", \"contract\": \"scenario-a\"\n".to_owned(),
            "bad-json.jsonl:1: (json):",
        ),
        (
            "bad-signature.jsonl",
            format!("{{\"record_hex\": \"{}\"}}\n", signed_record(&ledger, true)),
            "bad-signature.jsonl:1: signature",
        ),
        (
            "unknown-column.csv",
            format!("{HEADER},colour\n{good_cost},blue\n"),
            "unknown-column.csv:2: colour: unknown field for this kind",
        ),
        // The last value used to win, silently.
        (
            "duplicate-column.csv",
            format!("{HEADER}, amount\n{good_cost},200.00\n"),
            "duplicate-column.csv:1: amount: the column appears twice (columns 13 and 14)",
        ),
        (
            "duplicate-key.jsonl",
            [
                r#"{"kind": "cost-recorded", "contract": "scenario-a", "date": "2013-09-30", "author": "provider", "id": "k-1", "party": "provider", "amount": "1.00"}"#,
                r#"{"kind": "cost-recorded", "contract": "scenario-a", "date": "2013-09-30", "author": "provider", "id": "k-2", "amount": "1.00", "party": "provider", "amount": "2.00"}"#,
                "",
            ]
            .join("\n"),
            "duplicate-key.jsonl:2: amount: the key appears twice",
        ),
        // A megabyte of a bad value is quoted by its first 40 characters.
        (
            "long-value.csv",
            format!(
                "{HEADER}\n{good_cost}\nparticipant-enrolled,scenario-a,2013-02-01,dwp,e-1,010190-1099,{},,,,,,\n",
                "9".repeat(1 << 20)
            ),
            "long-value.csv:3: age_at_entry: \"9999999999999999999999999999999999999999\"… is not a whole number",
        ),
        (
            "long-name.csv",
            format!(
                "{HEADER}\ncost-recorded,scenario-a,2013-09-30,provider,c-9,,,,,,,{},1.00\n",
                "p".repeat(1 << 20)
            ),
            "long-name.csv:2: party: the name \"pppppppppppppppppppppppppppppppppppppppp\"… must be",
        ),
    ];
    for (name, content, expected) in cases {
        let (code, stderr) = import(dir.path(), &ledger, &keys, name, &content);
        assert_eq!(code, INPUT, "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.len() < 300, "{name}: a long error: {stderr}");
        assert!(
            stderr.contains(expected),
            "{name}: expected {expected:?} in {stderr:?}"
        );
        assert_eq!(
            pbr_ok(&["--ledger", &ledger, "verify", "--json"]),
            before,
            "{name} changed the ledger"
        );
    }
    // A record signed elsewhere and intact is accepted as the fact it already is.
    let (code, stderr) = import(
        dir.path(),
        &ledger,
        &keys,
        "resigned.jsonl",
        &format!(
            "{{\"record_hex\": \"{}\"}}\n",
            signed_record(&ledger, false)
        ),
    );
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_bad_row_at_line_9999_of_10000_appends_nothing() {
    let (dir, ledger, keys) = base();
    let before = pbr_ok(&["--ledger", &ledger, "verify", "--json"]);
    let mut csv = String::from(HEADER);
    csv.push('\n');
    for n in 2..=10_000 {
        let amount = if n == 9_999 {
            "12,50".to_owned()
        } else {
            format!("{}.00", n % 500 + 1)
        };
        csv.push_str(&format!(
            "cost-recorded,scenario-a,2013-09-30,provider,cost-{n},,,,,,,provider,\"{amount}\"\n"
        ));
    }
    let (code, stderr) = import(dir.path(), &ledger, &keys, "costs.csv", &csv);
    assert_eq!(code, INPUT, "{stderr}");
    assert!(
        stderr.contains("costs.csv:9999: amount: \"12,50\" is not a decimal amount"),
        "{stderr}"
    );
    assert_eq!(pbr_ok(&["--ledger", &ledger, "verify", "--json"]), before);
    // Without the bad row, all 9,998 rows append in one batch.
    let fixed = csv.replace("\"12,50\"", "\"12.50\"");
    let (code, stderr) = import(dir.path(), &ledger, &keys, "costs.csv", &fixed);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_failed_modulus_11_check_is_a_warning_never_an_error() {
    let (dir, ledger, keys) = base();
    // 080761-4286 is a real date with a weighted digit sum not divisible by 11; 010165-1234
    // fails too but is a 1 January birth date, which never warns (domain.md §4.1).
    let csv = format!(
        "{HEADER}\nparticipant-enrolled,scenario-a,2013-03-01,dwp,m-1,080761-4286,15,,,,,,\n\
         participant-enrolled,scenario-a,2013-03-01,dwp,m-2,010165-1234,15,,,,,,\n"
    );
    let path = dir.path().join("mod11.csv");
    std::fs::write(&path, csv).unwrap();
    let mut args = vec![
        "--ledger",
        ledger.as_str(),
        "import",
        path.to_str().unwrap(),
    ];
    args.extend(keys.iter().map(String::as_str));
    let run = pbr(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("2 appended"), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("note: 1 CPR number(s) fail the modulus-11 check"),
        "{}",
        run.stderr
    );
}
