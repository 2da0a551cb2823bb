//! ESF+ micro-records and indicators: unknown is not "no" (a missing attribute is unknown in
//! every indicator that needs it, and the completeness rule names the record), one category
//! per participant, corrections, re-entry, optional data that is not collected, periods and
//! rendering.

use chrono::NaiveDate;
use pbr_core::event::*;
use pbr_core::ids::{EventId, ParticipantRef};
use pbr_report::DateRange;
use pbr_report::esf::{INDICATORS, Records, Report, Rule, retracted_seqs};
use std::collections::BTreeSet;

const CONTRACT: &str = "op";

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn person(n: u8) -> ParticipantRef {
    ParticipantRef([n; 32])
}

fn event(participant: Option<u8>, day: &str, payload: Payload) -> Event {
    Event {
        contract: CONTRACT.into(),
        participant: participant.map(person),
        business_date: date(day),
        payload,
        author: "K1".into(),
        recorded_at_micros: 0,
        id: EventId([0; 16]),
    }
}

/// A complete entry: the gender, and the other required attributes of a 30-year-old
/// unemployed participant with ISCED 3.
fn complete(gender: Gender) -> Attributes {
    Attributes {
        gender: Some(gender),
        age_at_entry: Some(30),
        entry_status: Some(EntryStatus::Unemployed),
        isced: Some(3),
        ..Attributes::default()
    }
}

fn enrol(n: u8, day: &str, attributes: Attributes) -> Event {
    event(
        Some(n),
        day,
        Payload::ParticipantEnrolled(ParticipantEnrolled { attributes }),
    )
}

fn left(n: u8, day: &str, status: ResultStatus, qualification_gained: bool) -> Event {
    event(
        Some(n),
        day,
        Payload::ParticipantLeft(ParticipantLeft {
            status,
            qualification_gained,
        }),
    )
}

fn followed_up(n: u8, day: &str, status: ResultStatus, improved: Option<bool>) -> Event {
    event(
        Some(n),
        day,
        Payload::ParticipantFollowedUp(ParticipantFollowedUp { status, improved }),
    )
}

fn correction(retracts_seq: u64) -> Event {
    event(
        None,
        "2025-12-31",
        Payload::Correction(Correction {
            retracts_seq,
            reason: CorrectionReason::DataEntry,
        }),
    )
}

/// Folds `events` (seq = position) as the CLI does, with the retracted seqs of the whole log.
fn fold(events: &[Event]) -> Records {
    let mut records = Records::new(CONTRACT, retracted_seqs(events));
    for (seq, event) in events.iter().enumerate() {
        records.push(seq as u64, event);
    }
    records
}

/// Counts by (women, men, non-binary, total).
type Counts = (u64, u64, u64, u64);

/// The counts of `code`, `None` when not collected.
fn counts(report: &Report, code: &str) -> Option<Counts> {
    let row = report.indicators.iter().find(|r| r.code == code).unwrap();
    let cells = [
        row.women,
        row.men,
        row.non_binary,
        row.gender_unknown,
        row.total,
        row.unknown,
    ];
    match cells {
        [Some(w), Some(m), Some(n), Some(g), Some(t), Some(_)] => {
            assert_eq!(
                w + m + n + g,
                t,
                "{code}: the gender cells add up to the total"
            );
            Some((w, m, n, t))
        }
        [None, None, None, None, None, None] => None,
        other => panic!("{code}: a row is all numbers or all empty, not {other:?}"),
    }
}

/// The (gender unknown, unknown) cells of `code`, `None` when not collected.
fn unknowns(report: &Report, code: &str) -> Option<(u64, u64)> {
    let row = report.indicators.iter().find(|r| r.code == code).unwrap();
    row.gender_unknown.zip(row.unknown)
}

/// Checks every listed code of the all-time report of `events`.
fn check(events: &[Event], expected: &[(&str, Option<Counts>)]) -> Report {
    let report = fold(events).report("operation", None);
    for (code, want) in expected {
        assert_eq!(counts(&report, code), *want, "{code}");
    }
    report
}

/// Unknown is not "no": a participant whose attribute is not recorded counts as unknown in
/// the indicators that need it, and where it is not needed counts as usual (a participant
/// without a gender in the gender-unknown column). The expected counts are worked out by
/// hand from the five records below.
#[test]
fn test_a_missing_attribute_is_unknown_where_it_is_needed() {
    let events = [
        // 1: a complete woman, 30, unemployed, ISCED 3, without disabilities.
        enrol(
            1,
            "2024-03-04",
            Attributes {
                disability: Some(false),
                ..complete(Gender::Woman)
            },
        ),
        // 2: a woman whose education level is not recorded, with disabilities.
        enrol(
            2,
            "2024-03-04",
            Attributes {
                isced: None,
                disability: Some(true),
                ..complete(Gender::Woman)
            },
        ),
        // 3: a complete man; disability not asked.
        enrol(3, "2024-03-04", complete(Gender::Man)),
        // 4: gender not recorded.
        enrol(
            4,
            "2024-03-04",
            Attributes {
                gender: None,
                ..complete(Gender::Man)
            },
        ),
        // 5: a woman whose age and labour-market status are not recorded.
        enrol(
            5,
            "2024-03-04",
            Attributes {
                age_at_entry: None,
                entry_status: None,
                ..complete(Gender::Woman)
            },
        ),
        left(1, "2025-03-04", ResultStatus::Employed, true),
        left(2, "2025-03-04", ResultStatus::Employed, true),
        left(4, "2025-03-04", ResultStatus::Employed, true),
        left(5, "2025-03-04", ResultStatus::JobSearching, false),
        followed_up(2, "2025-09-04", ResultStatus::Employed, None),
        followed_up(4, "2025-09-04", ResultStatus::Employed, Some(false)),
        followed_up(5, "2025-09-04", ResultStatus::Employed, Some(true)),
    ];
    let records = fold(&events);
    assert_eq!(records.get(&person(2)).unwrap().missing(), ["isced"]);
    assert_eq!(records.get(&person(4)).unwrap().missing(), ["gender"]);
    assert_eq!(
        records.get(&person(5)).unwrap().missing(),
        ["age_at_entry", "entry_status"]
    );
    assert!(records.get(&person(1)).unwrap().is_complete());
    let report = check(
        &events,
        &[
            // Everyone, by gender: 4's in the gender-unknown column.
            ("EECO11", Some((3, 1, 0, 5))),
            // 1, 2, 3 and 4 are unemployed (2 lacks only ISCED); 5 is unknown.
            ("EECO01", Some((2, 1, 0, 4))),
            ("EECO03", Some((0, 0, 0, 0))),
            ("EECO06", Some((0, 0, 0, 0))),
            // 1, 3, 4 and 5 have ISCED 3; 2 is unknown.
            ("EECO08", Some((0, 0, 0, 0))),
            ("EECO09", Some((2, 1, 0, 4))),
            // 2 yes, 1 no, 3, 4 and 5 not asked: unknown, not "no".
            ("EECO12", Some((1, 0, 0, 1))),
            ("EECO13", None),
            // Results need no entry attribute: 5 counts though her record is incomplete.
            ("EECR01", Some((1, 0, 0, 1))),
            ("EECR03", Some((2, 0, 0, 3))),
            ("EECR04", Some((2, 0, 0, 3))),
            ("EECR05", Some((2, 0, 0, 3))),
            // 2 and 4 were not employed at entry: no, whatever the follow-up says; 5's
            // status at entry is unknown, so her improvement is unknown.
            ("EECR06", Some((0, 0, 0, 0))),
        ],
    );
    for (code, want) in [
        ("EECO11", (1, 0)),
        ("EECO01", (1, 1)),
        ("EECO03", (0, 1)),
        ("EECO06", (0, 1)),
        ("EECO08", (0, 1)),
        ("EECO09", (1, 1)),
        ("EECO12", (0, 3)),
        ("EECR01", (0, 0)),
        ("EECR03", (1, 0)),
        ("EECR04", (1, 0)),
        ("EECR05", (1, 0)),
        ("EECR06", (0, 1)),
    ] {
        assert_eq!(
            unknowns(&report, code),
            Some(want),
            "{code}: gender unknown, unknown"
        );
    }
    assert_eq!(report.participants, 5);
    // The completeness rule names the incomplete records and what they lack.
    let named: Vec<(ParticipantRef, Vec<&str>)> = report
        .incomplete
        .iter()
        .map(|i| (i.participant, i.missing.clone()))
        .collect();
    assert_eq!(
        named,
        [
            (person(2), vec!["isced"]),
            (person(4), vec!["gender"]),
            (person(5), vec!["age_at_entry", "entry_status"]),
        ]
    );
    assert_eq!(report.incomplete[0].short(), "020202020202");
}

/// Every attribute, left out of one participant's records in turn, makes that participant
/// unknown in exactly the indicators that need it (a second, fully recorded participant
/// keeps every indicator collected). The codes each attribute feeds are transcribed from
/// docs/reports.md's indicator table.
#[test]
fn test_each_attribute_is_unknown_in_every_indicator_that_needs_it() {
    let full = |gender| Attributes {
        gender: Some(gender),
        age_at_entry: Some(30),
        entry_status: Some(EntryStatus::Employed),
        isced: Some(3),
        home_party: None,
        disability: Some(true),
        third_country_national: Some(true),
        foreign_background: Some(true),
        minority: Some(true),
        homeless: Some(true),
        rural: Some(true),
    };
    type Drop = fn(&mut Attributes, &mut Option<bool>);
    let cases: [(&str, Drop, &[&str]); 12] = [
        ("gender", |a, _| a.gender = None, &[]),
        (
            "age_at_entry",
            |a, _| a.age_at_entry = None,
            &["EECO05", "EECO06", "EECO07"],
        ),
        (
            "entry_status",
            |a, _| a.entry_status = None,
            &["EECO01", "EECO02", "EECO03", "EECO04", "EECR06"],
        ),
        (
            "isced",
            |a, _| a.isced = None,
            &["EECO08", "EECO09", "EECO10"],
        ),
        ("disability", |a, _| a.disability = None, &["EECO12"]),
        (
            "third_country_national",
            |a, _| a.third_country_national = None,
            &["EECO13"],
        ),
        (
            "foreign_background",
            |a, _| a.foreign_background = None,
            &["EECO14"],
        ),
        ("minority", |a, _| a.minority = None, &["EECO15"]),
        ("homeless", |a, _| a.homeless = None, &["EECO16"]),
        ("rural", |a, _| a.rural = None, &["EECO17"]),
        ("improved", |_, improved| *improved = None, &["EECR06"]),
        ("nothing", |_, _| {}, &[]),
    ];
    for (attribute, drop, needs) in cases {
        let mut attributes = full(Gender::Woman);
        let mut improved = Some(true);
        drop(&mut attributes, &mut improved);
        let events = [
            enrol(1, "2024-01-01", attributes),
            enrol(2, "2024-01-01", full(Gender::Man)),
            left(1, "2024-06-01", ResultStatus::Employed, true),
            left(2, "2024-06-01", ResultStatus::Employed, true),
            followed_up(1, "2024-12-01", ResultStatus::Employed, improved),
            followed_up(2, "2024-12-01", ResultStatus::Employed, Some(true)),
        ];
        let report = fold(&events).report("op", None);
        let needs: BTreeSet<&str> = needs.iter().copied().collect();
        for indicator in INDICATORS {
            let code = indicator.code;
            if let Rule::Entity(_) = indicator.rule {
                assert_eq!(unknowns(&report, code), None, "{attribute}: {code}");
                continue;
            }
            let (gender_unknown, unknown) = unknowns(&report, code)
                .unwrap_or_else(|| panic!("{attribute}: {code} is collected"));
            let (_, _, _, total) = counts(&report, code).unwrap();
            assert_eq!(
                unknown,
                u64::from(needs.contains(code)),
                "{attribute}: {code} unknown"
            );
            // Participant 1 is in the gender-unknown column exactly when her gender is not
            // recorded and she is in the category, as participant 2, recorded alike, then is.
            let counted = total + unknown == 2;
            let expect_gender_unknown = attribute == "gender" && counted;
            assert_eq!(
                gender_unknown,
                u64::from(expect_gender_unknown),
                "{attribute}: {code} gender unknown"
            );
        }
        let missing: Vec<&str> = report
            .incomplete
            .iter()
            .flat_map(|i| i.missing.clone())
            .collect();
        let required = ["gender", "age_at_entry", "entry_status", "isced"];
        if required.contains(&attribute) {
            assert_eq!(missing, [attribute], "the completeness rule names 1");
            assert_eq!(report.incomplete[0].participant, person(1));
        } else {
            assert!(
                missing.is_empty(),
                "{attribute}: optional data is not required"
            );
        }
    }
}

#[test]
fn test_one_category_per_participant() {
    let with = |status, gender| Attributes {
        entry_status: Some(status),
        ..complete(gender)
    };
    let events = [
        enrol(
            1,
            "2024-01-01",
            with(EntryStatus::Unemployed, Gender::Woman),
        ),
        enrol(
            2,
            "2024-01-01",
            with(EntryStatus::LongTermUnemployed, Gender::Man),
        ),
        enrol(
            3,
            "2024-01-01",
            with(EntryStatus::Inactive, Gender::NonBinary),
        ),
        enrol(4, "2024-01-01", with(EntryStatus::Employed, Gender::Woman)),
        // Enrolled again: the first participation's entry data stand.
        enrol(1, "2024-06-01", with(EntryStatus::Inactive, Gender::Woman)),
    ];
    let report = check(
        &events,
        &[
            ("EECO01", Some((1, 1, 0, 2))),
            ("EECO02", Some((0, 1, 0, 1))),
            ("EECO03", Some((0, 0, 1, 1))),
            ("EECO04", Some((1, 0, 0, 1))),
            ("EECO11", Some((2, 1, 1, 4))),
        ],
    );
    // EECO01 (which includes EECO02), EECO03 and EECO04 partition the complete records.
    let total = |code| counts(&report, code).unwrap().3;
    assert_eq!(
        total("EECO01") + total("EECO03") + total("EECO04"),
        total("EECO11")
    );
}

#[test]
fn test_age_and_education_bands() {
    let aged = |n, age, isced| {
        enrol(
            n,
            "2024-01-01",
            Attributes {
                age_at_entry: Some(age),
                isced: Some(isced),
                ..complete(Gender::Man)
            },
        )
    };
    check(
        &[
            aged(1, 17, 0),
            aged(2, 18, 2),
            aged(3, 29, 3),
            aged(4, 30, 4),
            aged(5, 54, 5),
            aged(6, 55, 8),
        ],
        &[
            ("EECO05", Some((0, 1, 0, 1))),
            ("EECO06", Some((0, 2, 0, 2))),
            ("EECO07", Some((0, 1, 0, 1))),
            ("EECO08", Some((0, 2, 0, 2))),
            ("EECO09", Some((0, 2, 0, 2))),
            ("EECO10", Some((0, 2, 0, 2))),
        ],
    );
}

#[test]
fn test_corrections_retract_records() {
    let events = [
        enrol(1, "2024-01-01", complete(Gender::Woman)),
        enrol(2, "2024-01-01", complete(Gender::Man)),
        left(1, "2025-01-01", ResultStatus::JobSearching, false),
        left(1, "2025-01-02", ResultStatus::Employed, true),
        left(2, "2025-01-01", ResultStatus::Employed, true),
        // seq 5 retracts participant 1's second leaving record, seq 6 participant 2's
        // enrolment: the first leaving record stands, and participant 2 is gone with the
        // leaving record that followed the enrolment.
        correction(3),
        correction(1),
    ];
    let report = check(
        &events,
        &[
            ("EECO11", Some((1, 0, 0, 1))),
            ("EECR01", Some((1, 0, 0, 1))),
            ("EECR03", Some((0, 0, 0, 0))),
            ("EECR04", Some((0, 0, 0, 0))),
        ],
    );
    assert_eq!(report.participants, 1);
    assert_eq!(
        retracted_seqs(&events).into_iter().collect::<Vec<_>>(),
        [1, 3]
    );
}

#[test]
fn test_final_exit_and_its_follow_up_count() {
    let events = [
        enrol(1, "2024-01-01", complete(Gender::Woman)),
        left(1, "2024-06-01", ResultStatus::Employed, true),
        followed_up(1, "2024-12-01", ResultStatus::Employed, None),
        // Re-entered and left again: the exit and its results are updated, and the
        // follow-up of the earlier exit no longer counts.
        left(1, "2025-03-01", ResultStatus::JobSearching, false),
        enrol(2, "2024-01-01", complete(Gender::Man)),
        // A follow-up without a leaving record counts nowhere.
        followed_up(2, "2024-12-01", ResultStatus::Employed, None),
    ];
    check(
        &events,
        &[
            ("EECR01", Some((1, 0, 0, 1))),
            ("EECR03", Some((0, 0, 0, 0))),
            ("EECR04", Some((0, 0, 0, 0))),
            ("EECR05", Some((0, 0, 0, 0))),
        ],
    );
}

#[test]
fn test_optional_data_is_null_when_not_collected() {
    let employed = |gender, disability| Attributes {
        entry_status: Some(EntryStatus::Employed),
        disability,
        ..complete(gender)
    };
    let events = [
        enrol(1, "2024-01-01", employed(Gender::Woman, Some(true))),
        enrol(2, "2024-01-01", employed(Gender::Man, None)),
        enrol(3, "2024-01-01", employed(Gender::Man, Some(false))),
        left(1, "2024-06-01", ResultStatus::Employed, false),
        followed_up(1, "2024-12-01", ResultStatus::Employed, Some(true)),
    ];
    let report = check(
        &events,
        &[
            // Recorded for some: the ones recorded as yes count; unrecorded is unknown.
            ("EECO12", Some((1, 0, 0, 1))),
            // Recorded for none: not collected, never 0.
            ("EECO13", None),
            ("EECO17", None),
            ("EECO18", None),
            ("EECO19", None),
            ("EECR06", Some((1, 0, 0, 1))),
        ],
    );
    // Participant 2's disability is not recorded: unknown, never counted as "no".
    assert_eq!(unknowns(&report, "EECO12"), Some((0, 1)));
    // 2 and 3 left no follow-up, so EECR06 does not count them at all.
    assert_eq!(unknowns(&report, "EECR06"), Some((0, 0)));
    assert!(report.incomplete.is_empty());
    assert_eq!(
        report.not_collected,
        [
            "EECO13", "EECO14", "EECO15", "EECO16", "EECO17", "EECO18", "EECO19"
        ]
    );
    // Without any improvement recorded, EECR06 is not collected either.
    let unknown = [
        events[0].clone(),
        left(1, "2024-06-01", ResultStatus::Employed, false),
        followed_up(1, "2024-12-01", ResultStatus::Employed, None),
    ];
    check(&unknown, &[("EECR06", None)]);
}

#[test]
fn test_period_selects_by_the_date_each_indicator_measures() {
    let events = [
        enrol(1, "2024-12-31", complete(Gender::Woman)),
        enrol(2, "2025-01-01", complete(Gender::Man)),
        left(1, "2025-06-30", ResultStatus::Employed, true),
        followed_up(1, "2025-12-31", ResultStatus::Employed, None),
        left(2, "2026-01-01", ResultStatus::Employed, true),
    ];
    let records = fold(&events);
    let report = records.report("op", Some(DateRange::parse("2025").unwrap()));
    assert_eq!(report.period.as_deref(), Some("2025-01-01..2025-12-31"));
    assert_eq!(report.participants, 1);
    assert_eq!(counts(&report, "EECO11"), Some((0, 1, 0, 1)));
    assert_eq!(counts(&report, "EECR04"), Some((1, 0, 0, 1)));
    assert_eq!(counts(&report, "EECR05"), Some((1, 0, 0, 1)));
    let q1 = records.report("op", Some(DateRange::parse("2025-Q1").unwrap()));
    assert_eq!(counts(&q1, "EECR04"), Some((0, 0, 0, 0)));
    assert_eq!(counts(&q1, "EECR05"), Some((0, 0, 0, 0)));
}

#[test]
fn test_other_contracts_and_kinds_are_ignored() {
    let mut other = enrol(1, "2024-01-01", complete(Gender::Woman));
    other.contract = "other".into();
    let events = [
        other,
        enrol(2, "2024-01-01", complete(Gender::Man)),
        event(
            None,
            "2024-01-01",
            Payload::CompanyRegistered(CompanyRegistered {
                company: "S1".into(),
            }),
        ),
    ];
    let records = fold(&events);
    assert_eq!(records.len(), 1);
    assert!(records.get(&person(1)).is_none());
}

#[test]
fn test_renderings() {
    let report = fold(&[enrol(1, "2024-01-01", complete(Gender::NonBinary))]).report(
        "Vækst \"A\"",
        Some(DateRange::parse("2024-01-01..2024-12-31").unwrap()),
    );
    let csv = report.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + INDICATORS.len());
    assert_eq!(
        lines[0],
        "code,indicator,women,men,non_binary,gender_unknown,total,unknown"
    );
    assert_eq!(
        lines[1],
        "EECO01,\"unemployed, including long-term unemployed\",0,0,1,0,1,0"
    );
    assert_eq!(lines[12], "EECO12,participants with disabilities,,,,,,");
    assert!(csv.ends_with('\n') && !csv.contains('\r'));

    let json = report.to_json().unwrap();
    assert!(json.starts_with(
        r#"{"operation":"Vækst \"A\"","contract":"op","period":"2024-01-01..2024-12-31","participants":1,"indicators":[{"code":"EECO01","name":"unemployed, including long-term unemployed","women":0,"men":0,"non_binary":1,"gender_unknown":0,"total":1,"unknown":0},"#
    ));
    assert!(json.contains(
        r#"{"code":"EECO12","name":"participants with disabilities","women":null,"men":null,"non_binary":null,"gender_unknown":null,"total":null,"unknown":null}"#
    ));
    assert!(json.ends_with(r#""not_collected":["EECO12","EECO13","EECO14","EECO15","EECO16","EECO17","EECO18","EECO19","EECR06"],"incomplete":[]}"#));
    assert!(!json.contains('\n'));

    // An incomplete record: named in JSON by its full reference, in the sheet by the first
    // twelve hex digits, as text.
    let no_isced = Attributes {
        isced: None,
        ..complete(Gender::Woman)
    };
    let report = fold(&[enrol(7, "2024-01-01", no_isced)]).report("op", None);
    let json = report.to_json().unwrap();
    assert!(
        json.ends_with(&format!(
            r#""incomplete":[{{"participant":"{}","missing":["isced"]}}]}}"#,
            "07".repeat(32)
        )),
        "{json}"
    );
    use pbr_report::xlsx::Cell;
    assert_eq!(
        report.incomplete_rows(),
        [
            vec![Cell::text("participant"), Cell::text("missing")],
            vec![Cell::text("070707070707"), Cell::text("isced")],
        ]
    );
}

#[test]
fn test_periods_parse() {
    for (text, from, to) in [
        ("2025", "2025-01-01", "2025-12-31"),
        ("2025-Q2", "2025-04-01", "2025-06-30"),
        ("2024-02", "2024-02-01", "2024-02-29"),
        ("2024-03-04..2024-03-04", "2024-03-04", "2024-03-04"),
    ] {
        let range = DateRange::parse(text).unwrap();
        assert_eq!((range.from, range.to), (date(from), date(to)), "{text}");
    }
    for bad in [
        "",
        "25",
        "2025-Q5",
        "2025-02-01..2025-01-31",
        "2025-01-01..",
        "x..y",
    ] {
        assert!(DateRange::parse(bad).is_err(), "{bad:?}");
    }
}

/// The reference table: codes in order, unique, and each documented in docs/reports.md.
#[test]
fn test_indicator_table() {
    let codes: Vec<&str> = INDICATORS.iter().map(|i| i.code).collect();
    let mut expected: Vec<String> = (1..=19).map(|n| format!("EECO{n:02}")).collect();
    expected.extend((1..=6).map(|n| format!("EECR{n:02}")));
    assert_eq!(codes, expected);
    assert_eq!(
        INDICATORS
            .iter()
            .filter(|i| i.rule == Rule::Participants)
            .count(),
        1
    );
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/reports.md"),
    )
    .unwrap();
    for indicator in INDICATORS {
        assert!(
            docs.contains(&format!("| {} |", indicator.code)),
            "docs/reports.md does not list {}",
            indicator.code
        );
    }
}
