//! `pbr report esf`: scenario D's ESF+ indicator table (scenarios.md D.6) from the ledger
//! built through the CLI, byte-identical reruns, periods, corrections, a participant whose
//! attributes are not all recorded (unknown, never "no"), `pbr leave` and `pbr follow-up`,
//! and the wiring of the options (`docs/reports.md`).

use std::collections::BTreeMap;

use crate::scenarios::{import_id, load_scenario, logged_by_id};
use crate::support::{pbr, pbr_ok};

/// Counts of one indicator: (women, men, non-binary, total).
type Counts = (u64, u64, u64, u64);

/// scenarios.md D.6, transcribed by hand: every code it lists, with its counts.
const D6: &[(&str, Counts)] = &[
    ("EECO01", (6, 5, 0, 11)),
    ("EECO02", (4, 2, 0, 6)),
    ("EECO03", (2, 2, 0, 4)),
    ("EECO04", (0, 0, 0, 0)),
    ("EECO05", (0, 0, 0, 0)),
    ("EECO06", (3, 3, 0, 6)),
    ("EECO07", (1, 1, 0, 2)),
    ("EECO08", (6, 4, 0, 10)),
    ("EECO09", (1, 3, 0, 4)),
    ("EECO10", (1, 0, 0, 1)),
    ("EECO11", (8, 7, 0, 15)),
    ("EECR01", (2, 2, 0, 4)),
    ("EECR02", (1, 1, 0, 2)),
    ("EECR03", (6, 5, 0, 11)),
    ("EECR04", (3, 3, 0, 6)),
    ("EECR05", (3, 3, 0, 6)),
];

/// The codes D.6 leaves out: scenario D's import records no disability, nationality,
/// background, minority, housing or rural attribute, no kind or size of a supported entity,
/// and no improvement at follow-up, so these are not collected.
const D_NOT_COLLECTED: &[&str] = &[
    "EECO12", "EECO13", "EECO14", "EECO15", "EECO16", "EECO17", "EECO18", "EECO19", "EECR06",
];

/// Every code, in report order.
const CODES: &[&str] = &[
    "EECO01", "EECO02", "EECO03", "EECO04", "EECO05", "EECO06", "EECO07", "EECO08", "EECO09",
    "EECO10", "EECO11", "EECO12", "EECO13", "EECO14", "EECO15", "EECO16", "EECO17", "EECO18",
    "EECO19", "EECR01", "EECR02", "EECR03", "EECR04", "EECR05", "EECR06",
];

/// The count cells: women, men, non-binary, gender unknown, total, unknown; each a number,
/// or absent when not collected.
type Cells = [Option<u64>; 6];

/// The CSV header.
const HEADER: &str = "code,indicator,women,men,non_binary,gender_unknown,total,unknown";

/// The rows of the CSV by code, in order, checking the header. The indicator text may hold
/// quoted commas, so the code is the first field and the counts the last six.
fn csv_rows(csv: &str) -> Vec<(String, Cells)> {
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    assert!(csv.ends_with('\n'), "{csv}");
    lines
        .map(|line| {
            let (code, _) = line.split_once(',').unwrap();
            let mut counts: Vec<Option<u64>> = line
                .rsplitn(7, ',')
                .take(6)
                .map(|cell| (!cell.is_empty()).then(|| cell.parse().unwrap()))
                .collect();
            counts.reverse();
            (code.to_owned(), counts.try_into().unwrap())
        })
        .collect()
}

/// The JSON rows by code, in order.
fn json_rows(json: &serde_json::Value) -> Vec<(String, Cells)> {
    json["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let cell = |key: &str| row[key].as_u64();
            (
                row["code"].as_str().unwrap().to_owned(),
                [
                    cell("women"),
                    cell("men"),
                    cell("non_binary"),
                    cell("gender_unknown"),
                    cell("total"),
                    cell("unknown"),
                ],
            )
        })
        .collect()
}

/// Checks the rows against `expected`, counts of records that are all complete (so no
/// gender and no membership is unknown); every other code must be `not_collected`.
fn check(rows: &[(String, Cells)], expected: &[(&str, Counts)], not_collected: &[&str]) {
    let expected: Vec<(&str, Cells)> = expected
        .iter()
        .map(|&(code, (w, m, n, t))| (code, [w, m, n, 0, t, 0].map(Some)))
        .collect();
    check_cells(rows, &expected, not_collected);
}

/// Checks the rows against `expected`, all six cells; every other code must be
/// `not_collected`, all its cells empty.
fn check_cells(rows: &[(String, Cells)], expected: &[(&str, Cells)], not_collected: &[&str]) {
    let codes: Vec<&str> = rows.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(codes, CODES);
    let expected: BTreeMap<&str, Cells> = expected.iter().copied().collect();
    for (code, cells) in rows {
        if let Some(want) = expected.get(code.as_str()) {
            assert_eq!(
                cells, want,
                "{code}: women, men, non-binary, gender unknown, total, unknown"
            );
        } else {
            assert!(
                not_collected.contains(&code.as_str()),
                "{code} is unexpected"
            );
            assert_eq!(*cells, [None; 6], "{code} is not collected: empty, not 0");
        }
    }
}

/// `expected` with some codes' counts replaced.
fn with(changes: &[(&str, Counts)]) -> Vec<(&'static str, Counts)> {
    D6.iter()
        .map(|&(code, counts)| {
            let changed = changes.iter().find(|(c, _)| *c == code);
            (code, changed.map_or(counts, |&(_, counts)| counts))
        })
        .collect()
}

fn report(ledger: &str, extra: &[&str]) -> String {
    let mut args = vec!["--ledger", ledger, "report", "esf"];
    args.extend_from_slice(extra);
    pbr_ok(&args)
}

#[test]
fn test_report_esf_reproduces_scenario_d_table() {
    let (_dir, ledger, _) = load_scenario("d");

    // CSV: the default format, and explicitly.
    let csv = report(&ledger, &["--format", "csv"]);
    check(&csv_rows(&csv), D6, D_NOT_COLLECTED);
    assert_eq!(report(&ledger, &[]), csv);
    assert!(
        csv.contains("EECO01,\"unemployed, including long-term unemployed\",6,5,0,0,11,0\n"),
        "{csv}"
    );

    // JSON, with --format or --json, keys in the documented order.
    let text = report(&ledger, &["--format", "json"]);
    assert!(text.starts_with(r#"{"operation":"scenario-d","contract":"scenario-d","period":null,"participants":15,"indicators":[{"code":"EECO01","name":"#), "{text}");
    assert!(text.ends_with("}\n"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    check(&json_rows(&json), D6, D_NOT_COLLECTED);
    assert_eq!(json["not_collected"], serde_json::json!(D_NOT_COLLECTED));
    // Every record of scenario D is complete: the completeness rule names none.
    assert_eq!(json["incomplete"], serde_json::json!([]));
    assert_eq!(
        pbr_ok(&["--ledger", &ledger, "--json", "report", "esf"]),
        text
    );
    assert_eq!(
        pbr_ok(&[
            "--ledger", &ledger, "--json", "report", "esf", "--format", "json"
        ]),
        text
    );

    // The same command twice gives the same bytes, in both formats and with a period.
    for args in [
        &["--format", "csv"][..],
        &["--format", "json"],
        &["--format", "csv", "--period", "2025"],
        &["--format", "json", "--period", "2024-03-01..2025-06-30"],
    ] {
        assert_eq!(report(&ledger, args), report(&ledger, args), "{args:?}");
    }

    // The operation's name and the contract.
    let named: serde_json::Value = serde_json::from_str(&report(
        &ledger,
        &[
            "--format",
            "json",
            "--contract",
            "scenario-d",
            "--operation",
            "Vaekstpartnerskaber",
        ],
    ))
    .unwrap();
    assert_eq!(named["operation"], "Vaekstpartnerskaber");
    assert_eq!(named["contract"], "scenario-d");
}

/// Periods: entry indicators count the participants who entered in the period, leaving
/// indicators those who left in it, six-month indicators the follow-ups dated in it. The
/// expected counts are worked out by hand from the D.3 inputs.
#[test]
fn test_report_esf_periods_and_errors() {
    let (_dir, ledger, _) = load_scenario("d");
    let json = |period: &str| -> serde_json::Value {
        serde_json::from_str(&report(&ledger, &["--format", "json", "--period", period])).unwrap()
    };

    // Everyone entered in 2024 (D.3 "Enrolled") and left in 2025 ("Leaves").
    let year_2024 = json("2024");
    assert_eq!(year_2024["period"], "2024-01-01..2024-12-31");
    assert_eq!(year_2024["participants"], 15);
    let none = (0, 0, 0, 0);
    let entry_only = with(&[
        ("EECR01", none),
        ("EECR02", none),
        ("EECR03", none),
        ("EECR04", none),
        ("EECR05", none),
    ]);
    check(&json_rows(&year_2024), &entry_only, D_NOT_COLLECTED);

    // 2025: nobody entered; every leaving; every follow-up but D10's (2026-01-15, unemployed,
    // so EECR05 is unchanged).
    let year_2025 = json("2025");
    assert_eq!(year_2025["participants"], 0);
    let results_only = with(&[
        ("EECO01", none),
        ("EECO02", none),
        ("EECO03", none),
        ("EECO06", none),
        ("EECO07", none),
        ("EECO08", none),
        ("EECO09", none),
        ("EECO10", none),
        ("EECO11", none),
    ]);
    check(&json_rows(&year_2025), &results_only, D_NOT_COLLECTED);

    // March 2025: D01-D05 left on 2025-03-04 (F employed/yes, M employed/yes, F job
    // searching/yes, M education/no, F inactive/no).
    let march = json("2025-03-01..2025-03-31");
    assert_eq!(march["period"], "2025-03-01..2025-03-31");
    let leavers = with(&[
        ("EECO01", none),
        ("EECO02", none),
        ("EECO03", none),
        ("EECO06", none),
        ("EECO07", none),
        ("EECO08", none),
        ("EECO09", none),
        ("EECO10", none),
        ("EECO11", none),
        ("EECR01", (1, 0, 0, 1)),
        ("EECR02", (0, 1, 0, 1)),
        ("EECR03", (2, 1, 0, 3)),
        ("EECR04", (1, 1, 0, 2)),
        ("EECR05", none),
    ]);
    check(&json_rows(&march), &leavers, D_NOT_COLLECTED);
    assert_eq!(json("2025-03"), march);

    // Errors: a bad period or contract is bad input (3); an unknown format or --json with
    // CSV is a malformed command line (2). XLSX is not offered yet.
    for (args, code, message) in [
        (
            &["--period", "2025-13"][..],
            3,
            "period \"2025-13\": give FROM..TO",
        ),
        (
            &["--period", "2025-06-30..2025-01-01"],
            3,
            "it ends before it starts",
        ),
        (&["--period", "2025-01-01..2025-02-30"], 3, "is not a date"),
        (
            &["--contract", "scenario-x"],
            3,
            "contract scenario-x is not registered",
        ),
        (
            &["--format", "xlsx"],
            2,
            "--format xlsx writes a file: give --out FILE",
        ),
    ] {
        let mut all = vec!["--ledger", ledger.as_str(), "report", "esf"];
        all.extend_from_slice(args);
        let run = pbr(&all);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{args:?}");
        if code == 3 {
            assert!(run.stderr.starts_with("pbr: error: "), "{}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        }
    }
    let run = pbr(&[
        "--ledger", &ledger, "--json", "report", "esf", "--format", "csv",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--json"), "{}", run.stderr);
}

/// A correction that retracts an enrolment removes the participant from every indicator.
#[test]
fn test_report_esf_skips_a_retracted_enrolment() {
    let (_dir, ledger, keys) = load_scenario("d");
    let (seq, _) = logged_by_id(&ledger)[&import_id("D-enrol-D15")].clone();
    pbr_ok(&[
        "--ledger",
        &ledger,
        "correct",
        "--contract",
        "scenario-d",
        "--date",
        "2026-03-31",
        "--key",
        &keys["K3"],
        "--retracts-seq",
        &seq.to_string(),
        "--reason",
        "data-entry",
    ]);
    // D15: a woman, unemployed, 38, ISCED 5; job searching with a qualification on leaving,
    // employed six months after.
    let without_d15 = with(&[
        ("EECO01", (5, 5, 0, 10)),
        ("EECO10", (0, 0, 0, 0)),
        ("EECO11", (7, 7, 0, 14)),
        ("EECR01", (1, 2, 0, 3)),
        ("EECR03", (5, 5, 0, 10)),
        ("EECR05", (2, 3, 0, 5)),
    ]);
    let json: serde_json::Value =
        serde_json::from_str(&report(&ledger, &["--format", "json"])).unwrap();
    assert_eq!(json["participants"], 14);
    check(&json_rows(&json), &without_d15, D_NOT_COLLECTED);
    check(
        &csv_rows(&report(&ledger, &["--format", "csv"])),
        &without_d15,
        D_NOT_COLLECTED,
    );
}

/// A participant reference of 64 hex digits, none of them a decimal digit alone, so the
/// 12-digit form tables show is `abababababab`.
const NEW: &str = "abababababababababababababababababababababababababababababababab";

/// Runs a one-fact command on scenario D's contract and insists on success.
fn fact(ledger: &str, key: &str, command: &str, date: &str, args: &[&str]) {
    let mut all = vec![
        "--ledger",
        ledger,
        command,
        "--contract",
        "scenario-d",
        "--date",
        date,
        "--key",
        key,
    ];
    all.extend_from_slice(args);
    pbr_ok(&all);
}

/// Unknown is not "no", end to end: scenario D's import and one more participant, enrolled
/// with `pbr enroll` without her age and education level, who leaves employed and is
/// followed up employed and improved. She counts where her record says enough, is unknown in
/// every indicator that needs an attribute she lacks, and the completeness rule names her;
/// the counts of D.6 stand beside her. Expected cells worked out by hand from D.6 and her
/// record.
#[test]
fn test_report_esf_counts_a_missing_attribute_as_unknown() {
    let (_dir, ledger, keys) = load_scenario("d");
    let k1 = keys["K1"].as_str();
    fact(
        &ledger,
        k1,
        "enroll",
        "2024-06-03",
        &[
            "--participant",
            NEW,
            "--gender",
            "woman",
            "--entry-status",
            "unemployed",
            "--home-party",
            "K1",
            "--disability",
            "yes",
        ],
    );
    fact(
        &ledger,
        k1,
        "leave",
        "2025-06-02",
        &[
            "--participant",
            NEW,
            "--status",
            "employed",
            "--qualification-gained",
            "no",
        ],
    );
    fact(
        &ledger,
        k1,
        "follow-up",
        "2025-12-02",
        &[
            "--participant",
            NEW,
            "--status",
            "employed",
            "--improved",
            "yes",
        ],
    );

    let d6 = |code: &str| D6.iter().find(|(c, _)| *c == code).unwrap().1;
    // D.6's counts, with nobody unknown and every gender known.
    let known = |code: &str| {
        let (w, m, n, t) = d6(code);
        [w, m, n, 0, t, 0].map(Some)
    };
    // D.6's counts, and the new participant unknown.
    let unknown = |code: &str| {
        let (w, m, n, t) = d6(code);
        [w, m, n, 0, t, 1].map(Some)
    };
    // D.6's counts, and the new participant a woman in the category.
    let woman = |code: &str| {
        let (w, m, n, t) = d6(code);
        [w + 1, m, n, 0, t + 1, 0].map(Some)
    };
    let expected: Vec<(&str, Cells)> = vec![
        ("EECO01", woman("EECO01")),
        // Unemployed, not long-term: known, and not in the category.
        ("EECO02", known("EECO02")),
        ("EECO03", known("EECO03")),
        ("EECO04", known("EECO04")),
        // Her age is not recorded: unknown in every age band, never "not in it".
        ("EECO05", unknown("EECO05")),
        ("EECO06", unknown("EECO06")),
        ("EECO07", unknown("EECO07")),
        // Nor her education level.
        ("EECO08", unknown("EECO08")),
        ("EECO09", unknown("EECO09")),
        ("EECO10", unknown("EECO10")),
        ("EECO11", woman("EECO11")),
        // Disability is now recorded for one participant: collected, and D's fifteen, who
        // were never asked, are unknown, not "no".
        ("EECO12", [1, 0, 0, 0, 1, 15].map(Some)),
        ("EECR01", known("EECR01")),
        ("EECR02", known("EECR02")),
        ("EECR03", known("EECR03")),
        ("EECR04", woman("EECR04")),
        ("EECR05", woman("EECR05")),
        // Now collected: she improved but was unemployed at entry, and D's participants
        // were none of them employed at entry (EECO04), so nobody counts and nobody is
        // unknown.
        ("EECR06", [0; 6].map(Some)),
    ];
    let not_collected = [
        "EECO13", "EECO14", "EECO15", "EECO16", "EECO17", "EECO18", "EECO19",
    ];

    let text = report(&ledger, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    check_cells(&json_rows(&json), &expected, &not_collected);
    assert_eq!(json["participants"], 16);
    assert_eq!(json["not_collected"], serde_json::json!(not_collected));
    // The completeness rule names her by full reference in JSON, with what she lacks.
    assert_eq!(
        json["incomplete"],
        serde_json::json!([{"participant": NEW, "missing": ["age_at_entry", "isced"]}])
    );

    // The CSV holds the same cells; standard error names her as tables do.
    let run = pbr(&["--ledger", &ledger, "report", "esf"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    check_cells(&csv_rows(&run.stdout), &expected, &not_collected);
    assert!(
        run.stderr
            .contains("note: 1 participant record(s) lack a required attribute"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("\n  abababababab  lacks age_at_entry, isced\n"),
        "{}",
        run.stderr
    );
    // Byte-identical run to run.
    assert_eq!(report(&ledger, &["--format", "json"]), text);
    assert_eq!(report(&ledger, &[]), run.stdout);
    // The workbook names her on a sheet of its own (its parts are stored uncompressed, so
    // the sheet's strings are in the bytes); tools/check_report_xlsx.py reads it with
    // openpyxl.
    let xlsx = std::path::Path::new(&ledger).with_extension("xlsx");
    let xlsx = xlsx.to_str().unwrap();
    report(&ledger, &["--format", "xlsx", "--out", xlsx]);
    let bytes = String::from_utf8_lossy(&std::fs::read(xlsx).unwrap()).into_owned();
    for text in [
        "Incomplete records",
        ">abababababab<",
        ">age_at_entry isced<",
    ] {
        assert!(bytes.contains(text), "the workbook holds {text}");
    }

    // A period that holds none of her dates does not name her: 2024-Q1 holds D's entries.
    let q1: serde_json::Value = serde_json::from_str(&report(
        &ledger,
        &["--format", "json", "--period", "2024-Q1"],
    ))
    .unwrap();
    assert_eq!(q1["incomplete"], serde_json::json!([]));
    let later: serde_json::Value = serde_json::from_str(&report(
        &ledger,
        &["--format", "json", "--period", "2025-06"],
    ))
    .unwrap();
    assert_eq!(later["incomplete"][0]["participant"], NEW, "she left then");
}

/// `pbr leave` and `pbr follow-up` append the same event an import row with the same fields
/// does: same kind, payload, author, contract and date (`pbr log --json`), for each value
/// the fields can take. A leaving record must say whether a qualification was gained, on the
/// command line and in a file alike: an absent value is never recorded as "no".
#[test]
fn test_leave_and_follow_up_record_what_an_import_row_records() {
    let (dir, ledger, keys) = load_scenario("d");
    let k2 = keys["K2"].as_str();
    // Two new participants, one recorded by commands and one by import.
    let by_command = "cd".repeat(32);
    let by_import = "ef".repeat(32);
    for participant in [&by_command, &by_import] {
        fact(
            &ledger,
            k2,
            "enroll",
            "2024-06-03",
            &[
                "--participant",
                participant,
                "--gender",
                "man",
                "--age-at-entry",
                "40",
                "--entry-status",
                "employed",
                "--isced",
                "4",
                "--home-party",
                "K2",
            ],
        );
    }
    let cases: [(&str, &str, &[&str], &str); 4] = [
        (
            "leave",
            "2025-02-03",
            &["--status", "job-searching", "--qualification-gained", "yes"],
            "participant-left,scenario-d,2025-02-03,K2,{p},job-searching,yes,",
        ),
        (
            "leave",
            "2025-03-03",
            &["--status", "employed", "--qualification-gained", "no"],
            "participant-left,scenario-d,2025-03-03,K2,{p},employed,no,",
        ),
        (
            "follow-up",
            "2025-09-01",
            &["--status", "employed", "--improved", "yes"],
            "participant-followed-up,scenario-d,2025-09-01,K2,{p},employed,,yes",
        ),
        (
            "follow-up",
            "2025-09-02",
            &["--status", "inactive"],
            "participant-followed-up,scenario-d,2025-09-02,K2,{p},inactive,,",
        ),
    ];
    for (n, (command, date, args, row)) in cases.into_iter().enumerate() {
        let mut all = vec!["--participant", by_command.as_str()];
        all.extend_from_slice(args);
        fact(&ledger, k2, command, date, &all);
        let file = dir.path().join(format!("row-{n}.csv"));
        std::fs::write(
            &file,
            format!(
                "kind,contract,date,author,participant,status,qualification_gained,improved\n{}\n",
                row.replace("{p}", &by_import)
            ),
        )
        .unwrap();
        pbr_ok(&[
            "--ledger",
            &ledger,
            "import",
            file.to_str().unwrap(),
            "--key",
            k2,
        ]);
    }
    let kinds = ["participant-left", "participant-followed-up"];
    let events = |participant: &str| -> Vec<serde_json::Value> {
        kinds
            .iter()
            .flat_map(|kind| {
                pbr_ok(&[
                    "--ledger",
                    &ledger,
                    "log",
                    "--json",
                    "--kind",
                    kind,
                    "--participant",
                    participant,
                ])
                .lines()
                .map(|line| {
                    let line: serde_json::Value = serde_json::from_str(line).unwrap();
                    let event = &line["event"];
                    serde_json::json!({
                        "kind": event["kind"],
                        "contract": event["contract"],
                        "date": event["date"],
                        "author": event["author"],
                        "payload": event["payload"],
                    })
                })
                .collect::<Vec<_>>()
            })
            .collect()
    };
    let from_commands = events(&by_command);
    assert_eq!(from_commands.len(), 4, "{from_commands:#?}");
    assert_eq!(from_commands, events(&by_import));
    assert_eq!(
        from_commands[0]["payload"],
        serde_json::json!({"qualification_gained": true, "status": "job-searching"})
    );
    assert_eq!(
        from_commands[3]["payload"],
        serde_json::json!({"improved": null, "status": "inactive"})
    );

    // Without --qualification-gained, the command line is malformed (exit 2) and records
    // nothing; a file row without it is bad input (exit 3) that names the field.
    let before = pbr_ok(&["--ledger", &ledger, "log", "--json"]);
    let run = pbr(&[
        "--ledger",
        &ledger,
        "leave",
        "--contract",
        "scenario-d",
        "--date",
        "2025-04-01",
        "--key",
        k2,
        "--participant",
        &by_command,
        "--status",
        "employed",
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--qualification-gained"),
        "{}",
        run.stderr
    );
    let file = dir.path().join("no-qualification.csv");
    std::fs::write(
        &file,
        format!(
            "kind,contract,date,author,participant,status\nparticipant-left,scenario-d,2025-04-01,K2,{by_import},employed\n"
        ),
    )
    .unwrap();
    let run = pbr(&[
        "--ledger",
        &ledger,
        "import",
        file.to_str().unwrap(),
        "--key",
        k2,
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains(":2: qualification_gained: missing"),
        "{}",
        run.stderr
    );
    assert_eq!(pbr_ok(&["--ledger", &ledger, "log", "--json"]), before);
}
