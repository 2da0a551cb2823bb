//! Reading import rows: what a row's fields mean, pinned where a change would break re-imports.

use pbr_core::event::Payload;
use pbr_core::ids::EventId;
use pbr_ledger::Input;
use pbr_ledger::import::{Context, csv_rows, jsonl_rows};

fn context_gbp(check: impl FnOnce(&Context<'_>)) {
    let currency = |_: &str| Some(pbr_core::money::Currency::GBP);
    let context = Context {
        pseudonyms: None,
        currency: &currency,
        modulus_11_warnings: Default::default(),
    };
    check(&context);
}

/// The id a row without one gets is derived from the text of its fields, by name, CSV cells
/// trimmed. Files imported by earlier versions were given ids this way, so the text must never
/// change: a re-import would append again.
#[test]
fn a_row_without_an_id_gets_the_id_of_its_content() {
    let csv = "kind, contract ,date,author,party,amount\n\
               cost-recorded, scenario-a ,2013-09-30,provider,provider, 2.50 \n";
    let text = "amount\u{1f}2.50\u{1e}author\u{1f}provider\u{1e}contract\u{1f}scenario-a\u{1e}\
                date\u{1f}2013-09-30\u{1e}kind\u{1f}cost-recorded\u{1e}party\u{1f}provider\u{1e}";
    context_gbp(|context| {
        let mut rows = csv_rows("costs.csv", csv.as_bytes()).unwrap();
        let (where_, input) = rows.next().unwrap().unwrap().input(context).unwrap();
        assert_eq!(where_, "costs.csv:2");
        let Input::Event(event) = input else {
            panic!("a cost row is an event")
        };
        assert_eq!(event.id, EventId::derived(b"pbr import row", text));
        let Payload::CostRecorded(cost) = event.payload else {
            panic!("a cost row records a cost")
        };
        assert_eq!(cost.amount.minor, 250);
    });
}

/// A row giving a CPR number and no id gets the id of its content with the participant's
/// reference in place of the number: an unkeyed hash of the number would give it back to
/// anyone who tries them all, so the id depends on the pseudonym secret and never on the
/// number alone.
#[test]
fn a_cpr_number_never_enters_a_content_id() {
    let csv = "kind,contract,date,author,cpr\n\
               participant-enrolled,scenario-a,2013-03-04,dwp,010190-1001\n";
    let id_under = |secret: &[u8]| {
        let key = pbr_core::cpr::PseudonymKey::from_secret(secret).unwrap();
        let currency = |_: &str| Some(pbr_core::money::Currency::GBP);
        let context = Context {
            pseudonyms: Some(&key),
            currency: &currency,
            modulus_11_warnings: Default::default(),
        };
        let mut rows = csv_rows("enrol.csv", csv.as_bytes()).unwrap();
        let (_, input) = rows.next().unwrap().unwrap().input(&context).unwrap();
        let Input::Event(event) = input else {
            panic!("an enrolment row is an event")
        };
        (event.id, event.participant.unwrap())
    };
    let (id, reference) = id_under(&[7; 32]);
    let with = |cpr_cell: &str| {
        let text = format!(
            "author\u{1f}dwp\u{1e}contract\u{1f}scenario-a\u{1e}cpr\u{1f}{cpr_cell}\u{1e}\
             date\u{1f}2013-03-04\u{1e}kind\u{1f}participant-enrolled\u{1e}"
        );
        EventId::derived(b"pbr import row", &text)
    };
    assert_eq!(id, with(&reference.to_string()));
    assert_ne!(
        id,
        with("010190-1001"),
        "the id would give the CPR number back"
    );
    assert_ne!(id, with("0101901001"));
    // Another secret, another reference, another id: the number alone decides nothing.
    assert_ne!(id_under(&[8; 32]).0, id);
}

/// A token id is hashed, a hex id (with or without dashes, any case) is taken as it is, in
/// CSV and JSON Lines alike.
#[test]
fn ids_given_as_tokens_or_hex() {
    let hex = "0123456789abcdef0123456789ABCDEF";
    let dashed = "01234567-89ab-cdef-0123-456789abcdef";
    let parsed = EventId::parse(hex).unwrap();
    let cases = [
        ("cost-1", EventId::derived(b"pbr import id", "cost-1")),
        (hex, parsed),
        (dashed, parsed),
        // 31 digits and a dash: a token, not an id.
        ("0123456789abcdef0123456789abcde-", {
            EventId::derived(b"pbr import id", "0123456789abcdef0123456789abcde-")
        }),
    ];
    for (id, expected) in cases {
        let csv = format!(
            "kind,contract,date,author,id,party,amount\n\
             cost-recorded,scenario-a,2013-09-30,provider,{id},provider,1.00\n"
        );
        let jsonl = format!(
            "{{\"kind\":\"cost-recorded\",\"contract\":\"scenario-a\",\"date\":\"2013-09-30\",\
             \"author\":\"provider\",\"id\":\"{id}\",\"party\":\"provider\",\"amount\":\"1.00\"}}\n"
        );
        context_gbp(|context| {
            let from_csv = csv_rows("c.csv", csv.as_bytes()).unwrap().next().unwrap();
            let from_jsonl = jsonl_rows("c.jsonl", jsonl.as_bytes()).next().unwrap();
            for row in [from_csv, from_jsonl] {
                let Input::Event(event) = row.unwrap().input(context).unwrap().1 else {
                    panic!("a cost row is an event")
                };
                assert_eq!(event.id, expected, "{id}");
            }
        });
    }
    // Nor is a JSON value trimmed: its content id reads it as given.
    let padded = "{\"kind\":\"cost-recorded\",\"contract\":\"scenario-a\",\"date\":\"2013-09-30\",\
                  \"author\":\"provider\",\"party\":\"provider\",\"amount\":\" 1.00\"}\n";
    let text = "amount\u{1f} 1.00\u{1e}author\u{1f}provider\u{1e}contract\u{1f}scenario-a\u{1e}\
                date\u{1f}2013-09-30\u{1e}kind\u{1f}cost-recorded\u{1e}party\u{1f}provider\u{1e}";
    context_gbp(|context| {
        let row = jsonl_rows("c.jsonl", padded.as_bytes()).next().unwrap();
        let Input::Event(event) = row.unwrap().input(context).unwrap().1 else {
            panic!("a cost row is an event")
        };
        assert_eq!(event.id, EventId::derived(b"pbr import row", text));
    });
}

/// A column no rule of the row's kind reads is refused, naming the first such by name.
#[test]
fn an_unread_column_is_named() {
    let csv = "kind,contract,date,author,party,amount,zeta,colour\n\
               cost-recorded,scenario-a,2013-09-30,provider,provider,1.00,z,red\n";
    context_gbp(|context| {
        let row = csv_rows("c.csv", csv.as_bytes()).unwrap().next().unwrap();
        let error = row.unwrap().input(context).unwrap_err();
        assert_eq!(
            error.to_string(),
            "c.csv:2: colour: unknown field for this kind"
        );
    });
}

/// A column or key that appears twice is an error naming both, never a silent choice of the
/// last value (as it was: `serde_json::Value` keeps one value a key).
#[test]
fn a_repeated_column_or_key_is_an_error_naming_both() {
    let csv = "kind,contract,date,author,party,amount, amount\n\
               cost-recorded,scenario-a,2013-09-30,provider,provider,1.00,2.50\n";
    let Err(error) = csv_rows("costs.csv", csv.as_bytes()) else {
        panic!("a repeated column is refused")
    };
    assert_eq!(
        error.to_string(),
        "costs.csv:1: amount: the column appears twice (columns 6 and 7)"
    );
    // Empty column names (trailing commas) are no fields, however many.
    let csv = "kind,contract,date,author,party,amount,,\n\
               cost-recorded,scenario-a,2013-09-30,provider,provider,1.00,,\n";
    assert!(csv_rows("costs.csv", csv.as_bytes()).is_ok());

    let jsonl = "{\"kind\":\"cost-recorded\",\"contract\":\"scenario-a\",\"date\":\"2013-09-30\",\
                 \"author\":\"provider\",\"party\":\"provider\",\"amount\":\"1.00\"}\n\
                 {\"kind\":\"cost-recorded\",\"contract\":\"scenario-a\",\"date\":\"2013-09-30\",\
                 \"amount\":\"1.00\",\"author\":\"provider\",\"party\":\"provider\",\"amount\":\"2.50\"}\n";
    let rows: Vec<_> = jsonl_rows("c.jsonl", jsonl.as_bytes()).collect();
    assert!(rows[0].is_ok());
    let Err(error) = &rows[1] else {
        panic!("a repeated key is refused")
    };
    assert_eq!(
        error.to_string(),
        "c.jsonl:2: amount: the key appears twice"
    );
    // Not an object, still said so.
    let Some(Err(error)) = jsonl_rows("c.jsonl", "[1, {\"a\": 2}]\n".as_bytes()).next() else {
        panic!("an array is no row")
    };
    assert_eq!(
        error.to_string(),
        "c.jsonl:1: (json): a row is a JSON object"
    );
}

/// A bad value is quoted short: its first 40 characters, then `…`.
#[test]
fn a_long_bad_value_is_quoted_short() {
    let long = "ø".repeat(5_000);
    for (column, value, reason) in [
        ("amount", long.as_str(), "is not a decimal amount"),
        ("date", long.as_str(), "is not a date (YYYY-MM-DD)"),
        ("kind", long.as_str(), "is not an event kind"),
    ] {
        let mut fields = vec![
            ("kind", "cost-recorded"),
            ("contract", "scenario-a"),
            ("date", "2013-09-30"),
            ("author", "provider"),
            ("party", "provider"),
            ("amount", "1.00"),
        ];
        for field in &mut fields {
            if field.0 == column {
                field.1 = value;
            }
        }
        let header: Vec<&str> = fields.iter().map(|f| f.0).collect();
        let row: Vec<&str> = fields.iter().map(|f| f.1).collect();
        let csv = format!("{}\n{}\n", header.join(","), row.join(","));
        context_gbp(|context| {
            let row = csv_rows("c.csv", csv.as_bytes()).unwrap().next().unwrap();
            let error = row.unwrap().input(context).unwrap_err().to_string();
            let expected = format!("c.csv:2: {column}: \"{}\"… {reason}", "ø".repeat(40));
            assert!(error.starts_with(&expected), "{column}: {error}");
        });
    }
}

/// A leaving record says whether a qualification was gained: `yes` or `no` (or `true`,
/// `false`, `1`, `0`) in CSV, a boolean in JSON Lines. A row that does not say is refused,
/// naming the field, because the event holds yes or no and an unrecorded answer must never
/// become "no" (ESF+ EECR03 would count it as no qualification gained).
#[test]
fn a_leaving_record_must_say_whether_a_qualification_was_gained() {
    let participant = "ab".repeat(32);
    let csv = |cell: &str| {
        format!(
            "kind,contract,date,author,participant,status,qualification_gained\n\
             participant-left,scenario-d,2025-03-04,K1,{participant},employed,{cell}\n"
        )
    };
    let jsonl = |value: &str| {
        format!(
            "{{\"kind\":\"participant-left\",\"contract\":\"scenario-d\",\"date\":\"2025-03-04\",\
             \"author\":\"K1\",\"participant\":\"{participant}\",\"status\":\"employed\"{value}}}\n"
        )
    };
    let gained = |row: pbr_ledger::import::Row, context: &Context<'_>| match row.input(context) {
        Ok((_, Input::Event(event))) => match event.payload {
            Payload::ParticipantLeft(left) => Ok(left.qualification_gained),
            other => panic!("a leaving row records a leaving, not {other:?}"),
        },
        Ok(_) => panic!("a leaving row is an event"),
        Err(rejected) => Err(rejected.to_string()),
    };
    context_gbp(|context| {
        for (cell, expected) in [("yes", true), ("no", false), ("true", true), ("0", false)] {
            let row = csv_rows("l.csv", csv(cell).as_bytes())
                .unwrap()
                .next()
                .unwrap();
            assert_eq!(gained(row.unwrap(), context), Ok(expected), "{cell}");
        }
        for (value, expected) in [
            (",\"qualification_gained\":true", true),
            (",\"qualification_gained\":false", false),
        ] {
            let row = jsonl_rows("l.jsonl", jsonl(value).as_bytes())
                .next()
                .unwrap();
            assert_eq!(gained(row.unwrap(), context), Ok(expected), "{value}");
        }
        let absent = [
            csv_rows("l.csv", csv("").as_bytes())
                .unwrap()
                .next()
                .unwrap(),
            jsonl_rows("l.jsonl", jsonl("").as_bytes()).next().unwrap(),
            jsonl_rows(
                "l.jsonl",
                jsonl(",\"qualification_gained\":null").as_bytes(),
            )
            .next()
            .unwrap(),
        ];
        for row in absent {
            let error = gained(row.unwrap(), context).unwrap_err();
            assert!(
                error.contains(":2: qualification_gained: missing")
                    || error.contains(":1: qualification_gained: missing"),
                "{error}"
            );
        }
    });
}
