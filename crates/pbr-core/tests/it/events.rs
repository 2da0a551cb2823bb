//! The event vocabulary's bytes and JSON: one golden example per kind in
//! `tests/vectors/events.json`, quoted by `docs/format.md` §8 and decoded by the Python
//! verifier. Run with `PBR_BLESS=1` (`just gen`) after a deliberate change.

use chrono::NaiveDate;
use pbr_core::event::*;
use pbr_core::ids::{EventId, ParticipantRef};
use pbr_core::money::{Currency, Money};

fn day(text: &str) -> i32 {
    pbr_core::date::to_days(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap())
}

fn dkk(major: i64) -> Money {
    Money::from_minor(major * 100, Currency::DKK)
}

/// One example of every kind, in tag order, with plausible values.
fn examples() -> Vec<Event> {
    let terms = "[contract]\nid = \"impact60\"\n".to_owned();
    let terms_hash = *blake3::hash(terms.as_bytes()).as_bytes();
    let payloads = vec![
        Payload::ContractRegistered(ContractRegistered {
            terms: terms.clone(),
            terms_hash,
        }),
        Payload::ContractAmended(ContractAmended {
            terms,
            terms_hash,
            effective_from: day("2025-01-01"),
        }),
        Payload::PartyRegistered(PartyRegistered {
            party: "dsk".into(),
            role: Role::Guarantor,
            public_key: [0x5a; 32],
        }),
        Payload::ParticipantEnrolled(ParticipantEnrolled {
            attributes: Attributes {
                gender: Some(Gender::Woman),
                age_at_entry: Some(24),
                entry_status: Some(EntryStatus::LongTermUnemployed),
                isced: Some(2),
                home_party: Some("K1".into()),
                disability: None,
                third_country_national: Some(false),
                foreign_background: None,
                minority: None,
                homeless: Some(false),
                rural: None,
            },
        }),
        Payload::ParticipantLeft(ParticipantLeft {
            status: ResultStatus::Employed,
            qualification_gained: true,
        }),
        Payload::ParticipantFollowedUp(ParticipantFollowedUp {
            status: ResultStatus::Employed,
            improved: None,
        }),
        Payload::CompanyRegistered(CompanyRegistered {
            company: "S1".into(),
        }),
        Payload::OutcomeClaimed(OutcomeClaimed {
            outcome: "O8".into(),
            company: None,
            achieved: day("2013-09-30"),
            activity_start: Some(day("2013-07-01")),
            evidence: Some(*blake3::hash(b"employer letter").as_bytes()),
        }),
        Payload::OutcomeVerified(OutcomeVerified { claim_seq: 41 }),
        Payload::OutcomeRejected(OutcomeRejected {
            claim_seq: 42,
            reason: RejectReason::Prerequisite,
        }),
        Payload::OutcomeClawedBack(OutcomeClawedBack {
            claim_seq: 43,
            reason: ClawbackReason::AuditFinding,
        }),
        Payload::RetentionRecorded(RetentionRecorded {
            activity: Activity::Employment,
            hours_per_week: Some(15),
            from: day("2024-10-07"),
            to: day("2025-01-05"),
        }),
        Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
            month: pbr_core::date::Month {
                year: 2024,
                month: 9,
            }
            .index(),
            status: SelfSufficiency::Partial,
        }),
        Payload::FundsCommitted(FundsCommitted {
            from: "dsk".into(),
            to: "fokus".into(),
            amount: dkk(800_000),
            purpose: Purpose::FacilityDraw,
        }),
        Payload::FundsDisbursed(FundsDisbursed {
            from: "obelske".into(),
            to: "fokus".into(),
            amount: dkk(720_000),
            purpose: Purpose::Grant,
        }),
        Payload::CostRecorded(CostRecorded {
            party: "fokus".into(),
            amount: dkk(200_000),
        }),
        Payload::SettlementIssued(SettlementIssued {
            period: "2024-Q3".into(),
            statement_hash: [0xab; 32],
            log_position: 1234,
        }),
        Payload::PaymentRecorded(PaymentRecorded {
            from: "aalborg".into(),
            to: "fokus".into(),
            amount: Money::from_minor(4_930_400, Currency::DKK),
            settlement_seq: Some(1235),
        }),
        Payload::GuaranteeCalled(GuaranteeCalled {
            guarantor: "dsk".into(),
            beneficiary: "fokus".into(),
            amount: dkk(1000),
        }),
        Payload::DisputeOpened(DisputeOpened {
            about_seq: 99,
            reason: DisputeReason::Amount,
        }),
        Payload::DisputeEvidenceAttached(DisputeEvidenceAttached {
            dispute_seq: 1300,
            evidence: [0x01; 32],
        }),
        Payload::DisputeResolved(DisputeResolved {
            dispute_seq: 1300,
            resolution: Resolution::Settled,
        }),
        Payload::Correction(Correction {
            retracts_seq: 99,
            reason: CorrectionReason::WrongDate,
        }),
    ];
    payloads
        .into_iter()
        .enumerate()
        .map(|(n, payload)| {
            let about_citizen = matches!(
                payload,
                Payload::ParticipantEnrolled(_)
                    | Payload::ParticipantLeft(_)
                    | Payload::ParticipantFollowedUp(_)
                    | Payload::OutcomeClaimed(_)
                    | Payload::RetentionRecorded(_)
                    | Payload::MonthlyStatusRecorded(_)
            );
            Event {
                contract: "impact60".into(),
                participant: about_citizen.then_some(ParticipantRef([0x11; 32])),
                business_date: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()
                    + chrono::Days::new(n as u64),
                payload,
                author: "aalborg".into(),
                recorded_at_micros: 1_735_689_600_000_000 + n as i64,
                id: EventId([n as u8; 16]),
            }
        })
        .collect()
}

#[test]
fn every_kind_has_an_example_in_tag_order() {
    let tags: Vec<u32> = examples().iter().map(|e| e.payload.tag()).collect();
    let kinds: Vec<u32> = KINDS.iter().map(|(tag, _)| *tag).collect();
    assert_eq!(tags, kinds, "add an example for the new kind");
    assert_eq!(
        kinds,
        (0..kinds.len() as u32).collect::<Vec<_>>(),
        "tags are dense and ordered"
    );
}

#[test]
fn events_round_trip_and_refuse_truncation_and_trailing_bytes() {
    for event in examples() {
        let bytes = event.encode().unwrap();
        assert_eq!(Event::decode(&bytes).unwrap(), event, "{}", event.kind());
        for cut in 0..bytes.len() {
            assert!(
                Event::decode(&bytes[..cut]).is_err(),
                "{} cut at {cut}",
                event.kind()
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Event::decode(&longer).is_err());
    }
}

#[test]
fn the_envelope_is_in_design_order() {
    let event = &examples()[8]; // outcome-verified: a fixed-size payload.
    let bytes = event.encode().unwrap();
    assert_eq!(&bytes[0..4], &8u32.to_le_bytes(), "kind tag first");
    assert_eq!(&bytes[4..12], &8u64.to_le_bytes(), "contract id length");
    assert_eq!(&bytes[12..20], b"impact60");
    assert_eq!(bytes[20], 0, "no participant");
    assert_eq!(
        &bytes[21..25],
        &pbr_core::date::to_days(event.business_date).to_le_bytes()
    );
    assert_eq!(&bytes[25..33], &41u64.to_le_bytes(), "payload: claim_seq");
    assert_eq!(&bytes[33..41], &7u64.to_le_bytes(), "author length");
    assert_eq!(&bytes[41..48], b"aalborg");
    assert_eq!(&bytes[48..56], &event.recorded_at_micros.to_le_bytes());
    assert_eq!(&bytes[56..72], &event.id.0);
    assert_eq!(bytes.len(), 72);
}

#[test]
fn unknown_kinds_and_bad_enum_tags_are_refused() {
    let mut bytes = examples()[8].encode().unwrap();
    bytes[0..4].copy_from_slice(&999u32.to_le_bytes());
    assert!(Event::decode(&bytes).is_err());
    let mut bytes = examples()[9].encode().unwrap(); // outcome-rejected: reason tag after claim_seq
    bytes[33..37].copy_from_slice(&200u32.to_le_bytes());
    assert!(Event::decode(&bytes).is_err());
}

fn vectors() -> String {
    let mut out = String::from("[\n");
    let examples = examples();
    for (n, event) in examples.iter().enumerate() {
        let line = serde_json::json!({
            "kind": event.kind(),
            "tag": event.payload.tag(),
            "event_hex": pbr_core::ids::hex(&event.encode().unwrap()),
            "event": event.to_json(),
        });
        out.push_str("  ");
        out.push_str(&line.to_string());
        out.push_str(if n + 1 < examples.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

#[test]
fn event_vectors_are_byte_stable() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/events.json");
    let actual = vectors();
    if std::env::var_os("PBR_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `just gen`", path.display()));
    assert!(
        expected == actual,
        "{} moved; if deliberate, run `just gen`",
        path.display()
    );
}
