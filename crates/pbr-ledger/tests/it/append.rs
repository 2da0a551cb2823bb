//! The append path: projections, admission, decisions, ids, signatures, as-of reads.

use pbr_core::event::*;
use pbr_core::ids::EventId;
use pbr_ledger::{Input, LedgerError};

use crate::support::{keys, rows, scenario_a};

fn event(
    kind_payload: Payload,
    author: &str,
    participant: Option<pbr_core::ids::ParticipantRef>,
    id: u8,
) -> Input {
    Input::Event(Event {
        contract: "scenario-a".into(),
        participant,
        business_date: chrono::NaiveDate::from_ymd_opt(2013, 8, 1).unwrap(),
        payload: kind_payload,
        author: author.into(),
        recorded_at_micros: 0,
        id: EventId([id; 16]),
    })
}

fn refusal(result: Result<pbr_ledger::AppendReport, LedgerError>) -> String {
    match result {
        Err(LedgerError::Rejected(r)) => r.reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn rebuilt_projections_equal_the_incremental_ones() {
    let (_dir, mut ledger) = scenario_a(true);
    let incremental = ledger.state_bytes().unwrap();
    assert!(ledger.state().unwrap().applied > 70);
    ledger.rebuild_projections().unwrap();
    assert_eq!(ledger.state_bytes().unwrap(), incremental);
    // A lost snapshot is caught up from the log on the next open.
    let dir = ledger.log().dir().to_owned();
    drop(ledger);
    {
        let db = crate::support::raw_sled(&dir.join("sled"));
        db.drop_tree("projection.state").unwrap();
        db.flush().unwrap();
    }
    let mut reopened = pbr_ledger::Ledger::open(&dir).unwrap();
    assert_eq!(reopened.state_bytes().unwrap(), incremental);
}

#[test]
fn every_kind_is_refused_from_a_role_that_may_not_record_it() {
    let (_dir, mut ledger) = scenario_a(true);
    let participant = ledger.state().unwrap().contracts["scenario-a"]
        .participants
        .keys()
        .next()
        .copied();
    let gbp = |major: i64| {
        pbr_core::money::Money::from_minor(major * 100, pbr_core::money::Currency::GBP)
    };
    // Each kind, authored by a party whose role the defaults do not allow for it.
    let cases: Vec<(&str, Payload, Option<pbr_core::ids::ParticipantRef>)> = vec![
        (
            "provider",
            Payload::PartyRegistered(PartyRegistered {
                party: "x".into(),
                role: Role::Funder,
                public_key: [1; 32],
            }),
            None,
        ),
        (
            "provider",
            Payload::ParticipantEnrolled(ParticipantEnrolled {
                attributes: Attributes::default(),
            }),
            Some(pbr_core::ids::ParticipantRef([7; 32])),
        ),
        (
            "investor",
            Payload::ParticipantLeft(ParticipantLeft {
                status: ResultStatus::Employed,
                qualification_gained: false,
            }),
            participant,
        ),
        (
            "investor",
            Payload::ParticipantFollowedUp(ParticipantFollowedUp {
                status: ResultStatus::Employed,
                improved: None,
            }),
            participant,
        ),
        (
            "provider",
            Payload::CompanyRegistered(CompanyRegistered {
                company: "S9".into(),
            }),
            None,
        ),
        (
            "dwp",
            Payload::OutcomeClaimed(OutcomeClaimed {
                outcome: "O3".into(),
                company: None,
                achieved: 15_900,
                activity_start: None,
                evidence: None,
            }),
            participant,
        ),
        (
            "provider",
            Payload::OutcomeVerified(OutcomeVerified { claim_seq: 14 }),
            participant,
        ),
        (
            "provider",
            Payload::OutcomeRejected(OutcomeRejected {
                claim_seq: 14,
                reason: RejectReason::Evidence,
            }),
            participant,
        ),
        (
            "provider",
            Payload::OutcomeClawedBack(OutcomeClawedBack {
                claim_seq: 14,
                reason: ClawbackReason::AuditFinding,
            }),
            participant,
        ),
        (
            "investor",
            Payload::RetentionRecorded(RetentionRecorded {
                activity: Activity::Employment,
                hours_per_week: None,
                from: 15_900,
                to: 15_910,
            }),
            participant,
        ),
        (
            "provider",
            Payload::MonthlyStatusRecorded(MonthlyStatusRecorded {
                month: 2013 * 12 + 6,
                status: SelfSufficiency::Full,
            }),
            participant,
        ),
        (
            "provider",
            Payload::FundsCommitted(FundsCommitted {
                from: "investor".into(),
                to: "spv".into(),
                amount: gbp(1),
                purpose: Purpose::WorkingCapital,
            }),
            None,
        ),
        (
            "provider",
            Payload::FundsDisbursed(FundsDisbursed {
                from: "investor".into(),
                to: "spv".into(),
                amount: gbp(1),
                purpose: Purpose::WorkingCapital,
            }),
            None,
        ),
        (
            "investor",
            Payload::CostRecorded(CostRecorded {
                party: "provider".into(),
                amount: gbp(1),
            }),
            None,
        ),
        (
            "provider",
            Payload::SettlementIssued(SettlementIssued {
                period: "2013-Q3".into(),
                statement_hash: [0; 32],
                log_position: 1,
            }),
            None,
        ),
        (
            "investor",
            Payload::GuaranteeCalled(GuaranteeCalled {
                guarantor: "investor".into(),
                beneficiary: "provider".into(),
                amount: gbp(1),
            }),
            None,
        ),
    ];
    for (n, (author, payload, subject)) in cases.into_iter().enumerate() {
        let kind = payload.kind_name();
        let reason = refusal(ledger.append(
            vec![(kind.into(), event(payload, author, subject, 100 + n as u8))],
            &keys(),
            3,
            |_, _| {},
        ));
        assert!(
            reason.contains("may not") || reason.contains("claims") || reason.contains("decide"),
            "{kind} by {author}: {reason}"
        );
    }
    // Contract registration: only a commissioner named in the terms, with their key.
    let terms =
        std::fs::read_to_string(crate::support::repo().join("tests/scenarios/a/contract.toml"))
            .unwrap();
    let registration = Payload::ContractAmended(ContractAmended {
        terms_hash: *blake3::hash(terms.as_bytes()).as_bytes(),
        terms,
        effective_from: 15_900,
    });
    let reason = refusal(ledger.append(
        vec![("amend".into(), event(registration, "provider", None, 99))],
        &keys(),
        3,
        |_, _| {},
    ));
    assert!(reason.contains("commissioner"), "{reason}");
}

#[test]
fn a_decision_must_be_the_one_the_rules_give() {
    let (_dir, mut ledger) = scenario_a(true);
    // Row 3 of A.4 (P03's O2, age 17) is claim 16: the rules reject it for eligibility.
    let state = ledger.state().unwrap().clone();
    let (claim_seq, claim) = state.contracts["scenario-a"]
        .claims
        .iter()
        .find(|(_, c)| {
            c.outcome == "O2" && matches!(c.decision, Some((_, _, Err(RejectReason::Eligibility))))
        })
        .unwrap();
    let participant = match claim.subject {
        pbr_core::state::ClaimSubject::Participant(p) => Some(p),
        _ => None,
    };
    // A fresh claim of the same, asserted as accepted, is refused.
    let claim = OutcomeClaimed {
        outcome: "O2".into(),
        company: None,
        achieved: 15_900,
        activity_start: None,
        evidence: None,
    };
    ledger
        .append(
            vec![(
                "claim".into(),
                event(Payload::OutcomeClaimed(claim), "provider", participant, 60),
            )],
            &keys(),
            3,
            |_, _| {},
        )
        .unwrap();
    let new_claim = ledger.log().len() - 1;
    let verified = Payload::OutcomeVerified(OutcomeVerified {
        claim_seq: new_claim,
    });
    let reason = refusal(ledger.append(
        vec![("verify".into(), event(verified, "dwp", participant, 61))],
        &keys(),
        3,
        |_, _| {},
    ));
    assert!(reason.contains("eligibility"), "{reason}");
    let wrong = Payload::OutcomeRejected(OutcomeRejected {
        claim_seq: new_claim,
        reason: RejectReason::Duplicate,
    });
    let reason = refusal(ledger.append(
        vec![("reject".into(), event(wrong, "dwp", participant, 62))],
        &keys(),
        3,
        |_, _| {},
    ));
    assert!(reason.contains("fails eligibility first"), "{reason}");
    // The verifier may always reject for evidence when the earlier rules pass: not here.
    let evidence = Payload::OutcomeRejected(OutcomeRejected {
        claim_seq: new_claim,
        reason: RejectReason::Evidence,
    });
    assert!(
        ledger
            .append(
                vec![("reject".into(), event(evidence, "dwp", participant, 63))],
                &keys(),
                3,
                |_, _| {}
            )
            .is_err()
    );
    assert!(*claim_seq < new_claim);
}

#[test]
fn an_id_names_one_fact() {
    let (_dir, mut ledger) = scenario_a(true);
    let before = ledger.log().len();
    // The same rows again: all duplicates, nothing appended.
    let again = rows("tests/scenarios/a/events.csv");
    let count = again.len() as u64;
    let report = ledger.append(again, &keys(), 9, |_, _| {}).unwrap();
    assert_eq!((report.appended, report.duplicates), (0, count));
    assert_eq!(ledger.log().len(), before);
    // The same id for a different fact: refused, and nothing of its batch is written.
    let mut inputs = rows("tests/scenarios/a/events.csv");
    if let Input::Event(event) = &mut inputs[0].1 {
        event.business_date = event.business_date.succ_opt().unwrap();
    }
    let reason = refusal(ledger.append(inputs, &keys(), 9, |_, _| {}));
    assert!(
        reason.contains("already names a different fact"),
        "{reason}"
    );
    assert_eq!(ledger.log().len(), before);
}

/// DWP disburses 1.00 to the SPV in scenario A, recorded at `recorded_at_micros`, with id
/// `[id; 16]`.
fn dwp_disbursement(recorded_at_micros: i64, id: u8) -> Event {
    Event {
        contract: "scenario-a".into(),
        participant: None,
        business_date: chrono::NaiveDate::from_ymd_opt(2013, 8, 1).unwrap(),
        payload: Payload::FundsDisbursed(FundsDisbursed {
            from: "dwp".into(),
            to: "spv".into(),
            amount: pbr_core::money::Money::from_minor(100, pbr_core::money::Currency::GBP),
            purpose: Purpose::OutcomePayment,
        }),
        author: "dwp".into(),
        recorded_at_micros,
        id: EventId([id; 16]),
    }
}

#[test]
fn records_signed_elsewhere_are_checked() {
    let (_dir, mut ledger) = scenario_a(false);
    let key = pbr_ledger::sample::demo_key("dwp");
    let cost = dwp_disbursement(5, 42);
    let mut record = pbr_log::Record::sign(cost.encode().unwrap(), key.signing_key()).unwrap();
    record.signature[3] ^= 1;
    let reason = refusal(ledger.append(
        vec![("signed".into(), Input::Signed(record.clone()))],
        &[],
        9,
        |_, _| {},
    ));
    assert!(reason.contains("signature"), "{reason}");
    record.signature[3] ^= 1;
    ledger
        .append(
            vec![("signed".into(), Input::Signed(record))],
            &[],
            9,
            |_, _| {},
        )
        .unwrap();
    // Signed by a key that is not the author's.
    let mallory = pbr_ledger::sample::demo_key("mallory");
    let forged = pbr_log::Record::sign(
        Event {
            id: EventId([43; 16]),
            ..cost
        }
        .encode()
        .unwrap(),
        mallory.signing_key(),
    )
    .unwrap();
    let reason = refusal(ledger.append(
        vec![("forged".into(), Input::Signed(forged))],
        &[],
        9,
        |_, _| {},
    ));
    assert!(reason.contains("not signed with dwp's key"), "{reason}");
}

/// `terms` without their `[log]` table (its lines up to the next blank one), as terms
/// registered before format 2 are.
fn without_log(terms: &str) -> String {
    let start = terms.find("[log]\n").expect("the terms name [log]");
    let end = start
        + terms[start..]
            .find("\n\n")
            .expect("a blank line ends [log]")
        + 2;
    let stripped = format!("{}{}", &terms[..start], &terms[end..]);
    assert!(pbr_core::terms::parse("a", &stripped).is_ok(), "{stripped}");
    stripped
}

/// Terms this ledger signs must name its log (`[log] origin` = its origin); terms signed
/// elsewhere without `[log]` (a history made before format 2) are admitted as they are, but
/// terms of another log never, signed or not.
#[test]
fn terms_must_name_this_ledgers_log_unless_they_arrive_signed_without_one() {
    use crate::support::{SCENARIO_A_ORIGIN, registration, scenario_a_terms};
    let dwp = pbr_ledger::sample::demo_key("dwp");
    let signed = |event: &Event| {
        Input::Signed(pbr_log::Record::sign(event.encode().unwrap(), dwp.signing_key()).unwrap())
    };
    let fresh = |origin: &str| {
        let dir = tempfile::tempdir().unwrap();
        let ledger = pbr_ledger::Ledger::create(&dir.path().join("l"), origin).unwrap();
        (dir, ledger)
    };
    let with_log = registration(scenario_a_terms());
    let without = registration(without_log(&scenario_a_terms()));

    // Of another origin: refused, naming both, whether this ledger signs them or not.
    let (_dir, mut other) = fresh("test/b");
    for input in [Input::Event(with_log.clone()), signed(&with_log)] {
        let reason = refusal(other.append(vec![("terms".into(), input)], &keys(), 1, |_, _| {}));
        assert_eq!(
            reason, "the terms are for the log test/a, but this ledger is test/b",
            "{reason}"
        );
    }
    assert_eq!(other.log().len(), 0);

    // Without [log], for this ledger to sign: refused.
    let (_dir, mut ledger) = fresh(SCENARIO_A_ORIGIN);
    let reason = refusal(ledger.append(
        vec![("terms".into(), Input::Event(without.clone()))],
        &keys(),
        1,
        |_, _| {},
    ));
    assert!(
        reason.contains("the terms name no [log]") && reason.contains("this ledger is test/a"),
        "{reason}"
    );
    assert_eq!(ledger.log().len(), 0);

    // Without [log], already signed (a migrated history): admitted as it is.
    let report = ledger
        .append(vec![("terms".into(), signed(&without))], &[], 1, |_, _| {})
        .unwrap();
    assert_eq!(report.appended, 1);

    // With this ledger's own [log]: admitted.
    let (_dir, mut own) = fresh(SCENARIO_A_ORIGIN);
    let report = own
        .append(
            vec![("terms".into(), Input::Event(with_log))],
            &keys(),
            1,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(report.appended, 1);
}

/// A record signed elsewhere may not say it was recorded ahead of the ledger's clock by more
/// than the tolerance (docs/validation.md, `recorded-in-the-future`); at the tolerance it is
/// taken.
#[test]
fn a_record_from_the_future_is_refused() {
    let (_dir, mut ledger) = scenario_a(false);
    let key = pbr_ledger::sample::demo_key("dwp");
    let now = 1_700_000_000_000_000i64;
    let record = |recorded_at_micros: i64, id: u8| {
        let event = dwp_disbursement(recorded_at_micros, id);
        pbr_log::Record::sign(event.encode().unwrap(), key.signing_key()).unwrap()
    };
    let before = ledger.log().len();
    // 2100-01-01T00:00:00Z, and one microsecond past the tolerance.
    for (at, id) in [
        (4_102_444_800_000_000, 50),
        (now + pbr_ledger::append::FUTURE_TOLERANCE_MICROS + 1, 51),
    ] {
        let reason = refusal(ledger.append(
            vec![("signed".into(), Input::Signed(record(at, id)))],
            &[],
            now,
            |_, _| {},
        ));
        assert!(reason.contains("recorded-in-the-future: "), "{reason}");
        assert_eq!(ledger.log().len(), before);
    }
    ledger
        .append(
            vec![(
                "signed".into(),
                Input::Signed(record(
                    now + pbr_ledger::append::FUTURE_TOLERANCE_MICROS,
                    52,
                )),
            )],
            &[],
            now,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(ledger.log().len(), before + 1);
}

#[test]
fn state_as_of_a_log_position_and_a_recorded_time() {
    let (_dir, mut ledger) = scenario_a(true);
    let now = ledger.state().unwrap().clone();
    let early = ledger.state_at(5).unwrap();
    assert_eq!(early.applied, 5);
    assert!(
        early.contracts["scenario-a"].participants.len()
            < now.contracts["scenario-a"].participants.len()
    );
    // The contract was recorded at µs 1, the import at µs 2.
    assert_eq!(ledger.len_known_at(1).unwrap(), 1);
    assert_eq!(ledger.len_known_at(2).unwrap(), ledger.log().len());
}

/// A cost the provider records, with an id of its own.
fn cost(n: u32, id: &str) -> (String, Input) {
    let Input::Event(mut event) = event(
        Payload::CostRecorded(CostRecorded {
            party: "provider".into(),
            amount: pbr_core::money::Money::from_minor(
                i64::from(n) + 1,
                pbr_core::money::Currency::GBP,
            ),
        }),
        "provider",
        None,
        0,
    ) else {
        unreachable!("event() builds an Input::Event")
    };
    event.id = EventId::derived(b"test", id);
    (format!("cost {id}"), Input::Event(event))
}

#[test]
fn ids_a_failed_batch_wrote_are_not_taken_for_appended_facts() {
    // A batch long enough to write its first chunk's records before a bad row makes it
    // fail. (Its ids stay in the index's buffer, a run being 16 chunks; entries that a failed
    // batch did write are the unit test `a_failing_index_write_fails_the_batch_…`'s case.)
    let (_dir, mut ledger) = scenario_a(false);
    let before = ledger.log().len();
    let n = 2 * pbr_ledger::CHUNK as u32 + 10;
    let mut first: Vec<_> = (0..n).map(|i| cost(i, &i.to_string())).collect();
    let (_, Input::Event(mut bad)) = cost(n, "bad") else {
        unreachable!("cost() builds an Input::Event")
    };
    bad.author = "nobody".into();
    first.push(("the bad row".into(), Input::Event(bad)));
    assert!(ledger.append(first, &keys(), 9, |_, _| {}).is_err());
    assert_eq!(ledger.log().len(), before);
    // The same facts after one more: each now lands one seq later than the failed batch
    // gave it, inside the new batch's range, and must still be appended.
    let second: Vec<_> = std::iter::once(cost(0, "extra"))
        .chain((0..n).map(|i| cost(i, &i.to_string())))
        .collect();
    let report = ledger.append(second, &keys(), 9, |_, _| {}).unwrap();
    assert_eq!((report.appended, report.duplicates), (u64::from(n) + 1, 0));
    // And they are known afterwards, after a rebuild too.
    let again: Vec<_> = (0..n).map(|i| cost(i, &i.to_string())).collect();
    let report = ledger.append(again, &keys(), 9, |_, _| {}).unwrap();
    assert_eq!((report.appended, report.duplicates), (0, u64::from(n)));
    ledger.rebuild_projections().unwrap();
    let again: Vec<_> = (0..3).map(|i| cost(i, &i.to_string())).collect();
    let report = ledger.append(again, &keys(), 9, |_, _| {}).unwrap();
    assert_eq!((report.appended, report.duplicates), (0, 3));
}

#[test]
fn an_id_repeated_chunks_later_in_one_batch_is_a_duplicate() {
    // Ids given again several chunks after their first use: the batch finds them in memory
    // while their chunk is in flight and in the index once the index has written it;
    // either way they are duplicates, never appended twice, and a different fact under one
    // of them is refused.
    let (_dir, mut ledger) = scenario_a(false);
    ledger.set_threads(2);
    let before = ledger.log().len();
    let n = 4 * pbr_ledger::CHUNK as u32 + 10;
    let again: Vec<u32> = (0..n).step_by(397).collect();
    let mut inputs: Vec<_> = (0..n).map(|i| cost(i, &i.to_string())).collect();
    inputs.extend(again.iter().map(|&i| cost(i, &i.to_string())));
    let report = ledger.append(inputs, &keys(), 9, |_, _| {}).unwrap();
    assert_eq!(
        (report.appended, report.duplicates),
        (u64::from(n), again.len() as u64)
    );
    assert_eq!(ledger.log().len(), before + u64::from(n));
    let mut inputs: Vec<_> = (0..n).map(|i| cost(i, &format!("new {i}"))).collect();
    inputs.push(cost(7, "0"));
    let reason = refusal(ledger.append(inputs, &keys(), 9, |_, _| {}));
    assert!(
        reason.contains("already names a different fact"),
        "{reason}"
    );
    assert_eq!(ledger.log().len(), before + u64::from(n));
}

#[test]
fn an_index_of_an_older_form_is_rebuilt_from_the_log() {
    // Until 2026-11-24 the index was one key per id: id → seq (and before that seq ‖ fact
    // digest ‖ batch generation, beside a `generation` counter), with no `layout` key. Such
    // an index is dropped and rebuilt, and still makes a re-import all duplicates.
    let (_dir, ledger) = scenario_a(true);
    let dir = ledger.log().dir().to_owned();
    let events = ledger.log().len();
    drop(ledger);
    {
        let db = crate::support::raw_sled(&dir.join("sled"));
        db.drop_tree("projection.ids").unwrap();
        let ids = db.open_tree("projection.ids").unwrap();
        for seq in 0..events {
            let mut old = seq.to_be_bytes().to_vec();
            old.extend_from_slice(&[7; 32]);
            old.extend_from_slice(&3u64.to_be_bytes());
            ids.insert(&blake3::hash(&seq.to_be_bytes()).as_bytes()[..16], old)
                .unwrap();
        }
        ids.insert("generation", &3u64.to_be_bytes()).unwrap();
        ids.insert("indexed", &events.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let mut reopened = pbr_ledger::Ledger::open(&dir).unwrap();
    let before = reopened.log().len();
    let again = rows("tests/scenarios/a/events.csv");
    let count = again.len() as u64;
    let report = reopened.append(again, &keys(), 9, |_, _| {}).unwrap();
    assert_eq!((report.appended, report.duplicates), (0, count));
    assert_eq!(reopened.log().len(), before);
}

/// A party's mirror prepares what the party submits: the records are validated and signed
/// against the mirror's state exactly as an append would, the mirror is left as it was, and
/// the operator's ledger (here, a second copy) admits them as records signed elsewhere,
/// reaching the same log as appending them directly.
#[test]
fn prepared_records_are_what_an_append_would_write_and_leave_the_mirror_unchanged() {
    let (_mirror_dir, mut mirror) = scenario_a(false);
    let (_operator_dir, mut operator) = scenario_a(false);
    let (_direct_dir, mut direct) = scenario_a(false);
    let before = (
        mirror.log().len(),
        mirror.log().root(),
        mirror.state_bytes().unwrap(),
    );

    mirror.prepare_only();
    let inputs = rows("tests/scenarios/a/events.csv");
    let count = inputs.len() as u64;
    let report = mirror.append(inputs, &keys(), 2, |_, _| {}).unwrap();
    assert_eq!(report.appended, count);
    let prepared = mirror.take_prepared();
    assert_eq!(prepared.len() as u64, count);
    assert!(mirror.take_prepared().is_empty());
    assert_eq!(
        (
            mirror.log().len(),
            mirror.log().root(),
            mirror.state_bytes().unwrap()
        ),
        before,
        "preparing changed the mirror"
    );

    let signed: Vec<(String, Input)> = prepared
        .iter()
        .enumerate()
        .map(|(i, record)| (format!("record {i}"), Input::Signed(record.clone())))
        .collect();
    let admitted = operator.append(signed.clone(), &[], 3, |_, _| {}).unwrap();
    assert_eq!(admitted.appended, count);
    direct
        .append(rows("tests/scenarios/a/events.csv"), &keys(), 2, |_, _| {})
        .unwrap();
    assert_eq!(operator.log().root(), direct.log().root());
    assert_eq!(
        operator.state_bytes().unwrap(),
        direct.state_bytes().unwrap()
    );
    // Submitted twice, the same records are the same facts, counted once.
    let again = operator.append(signed, &[], 4, |_, _| {}).unwrap();
    assert_eq!((again.appended, again.duplicates), (0, count));

    // A refusal while preparing is the refusal an append would give, and prepares nothing.
    let claim = event(
        Payload::OutcomeClaimed(OutcomeClaimed {
            outcome: "NO-SUCH-OUTCOME".into(),
            company: None,
            achieved: 15_900,
            activity_start: None,
            evidence: None,
        }),
        "provider",
        None,
        9,
    );
    let reason = refusal(mirror.append(vec![("claim".into(), claim)], &keys(), 5, |_, _| {}));
    assert!(!reason.is_empty());
    assert!(mirror.take_prepared().is_empty());
}

/// Every contract of a log names its one log key: terms naming another key, registered by
/// anyone who can sign terms (a stranger naming themselves commissioner), are refused, so
/// that no one can stop the operator's key from signing checkpoints. A ledger bound to its
/// key (as the operator's server binds it) refuses them before any terms are registered.
#[test]
fn terms_naming_another_log_key_are_refused() {
    let terms = crate::support::scenario_a_terms();
    let real = terms
        .lines()
        .find_map(|line| line.strip_prefix("key = \"test/a+"))
        .map(|rest| format!("test/a+{}", rest.trim_end_matches('"')))
        .expect("scenario A's terms name their log key");
    let stranger = pbr_ledger::SignerKey::from_seed("test/a", [42; 32])
        .unwrap()
        .verifier_key()
        .to_string();
    assert_ne!(real, stranger);
    let other = |id: &str| {
        let text = terms
            .replace("id = \"scenario-a\"", &format!("id = \"{id}\""))
            .replace(&real, &stranger);
        assert!(text.contains(&stranger));
        let mut event = crate::support::registration(text);
        event.contract = id.into();
        event.id = EventId([7; 16]);
        Input::Event(event)
    };

    // A ledger whose terms in force name the real key.
    let (_dir, mut ledger) = scenario_a(false);
    let len = ledger.log().len();
    let reason = refusal(ledger.append(vec![("x".into(), other("hijack"))], &keys(), 5, |_, _| {}));
    assert!(
        reason.contains(&format!(
            "the terms name the log key {stranger}, but this log's checkpoints are signed by {real}"
        )),
        "{reason}"
    );
    assert_eq!(ledger.log().len(), len);

    // An empty ledger bound to the real key refuses them as its first terms.
    let dir = tempfile::tempdir().unwrap();
    let mut empty = pbr_ledger::Ledger::create(&dir.path().join("l"), "test/a").unwrap();
    empty.bind_log_key(pbr_ledger::VerifierKey::parse(&real).unwrap());
    let reason = refusal(empty.append(vec![("x".into(), other("hijack"))], &keys(), 5, |_, _| {}));
    assert!(
        reason.contains("every contract of a log names its one log key"),
        "{reason}"
    );
    assert_eq!(empty.log().len(), 0);
    // The real terms are taken.
    empty
        .append(
            vec![(
                "terms".into(),
                Input::Event(crate::support::registration(terms.clone())),
            )],
            &keys(),
            5,
            |_, _| {},
        )
        .unwrap();
    assert_eq!(empty.log().len(), 1);
}
