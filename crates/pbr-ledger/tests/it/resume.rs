//! Settling on from the last issued statement's carry, on the demo ledger: the statement is
//! the one a computation from the contract's first period gives, and a fact that reaches
//! back into a settled period makes the next statement start from the beginning again.

use chrono::NaiveDate;
use pbr_core::date::Period;
use pbr_core::event::{CostRecorded, Event, Payload};
use pbr_core::ids::EventId;
use pbr_core::money::{Currency, Money};
use pbr_core::settle::settle;
use pbr_core::state::State;
use pbr_ledger::sample::{SAMPLE_CONTRACT, SAMPLE_ORIGIN, build, demo_key};
use pbr_ledger::{Input, Ledger};

fn demo() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::create(&dir.path().join("ledger"), SAMPLE_ORIGIN).unwrap();
    build(&mut ledger).unwrap();
    (dir, ledger)
}

/// The statement of `period` as the ledger settles it, whether it went on from a carry, and
/// the same statement computed from the first period.
fn both_ways(state: &State, period: Period) -> (Vec<u8>, Option<Period>, Vec<u8>) {
    let at = state.applied;
    let (statement, entitlement) = settle(state, SAMPLE_CONTRACT, period, at).unwrap();
    let mut from_start = state.clone();
    from_start
        .contracts
        .get_mut(SAMPLE_CONTRACT)
        .unwrap()
        .resume = None;
    let (full, full_entitlement) = settle(&from_start, SAMPLE_CONTRACT, period, at).unwrap();
    assert_eq!(full_entitlement.resumed_after, None);
    (
        statement.canonical_bytes().unwrap(),
        entitlement.resumed_after,
        full.canonical_bytes().unwrap(),
    )
}

fn cost_on(date: NaiveDate, id: u8) -> (String, Input) {
    let event = Event {
        contract: SAMPLE_CONTRACT.into(),
        participant: None,
        business_date: date,
        payload: Payload::CostRecorded(CostRecorded {
            party: "fokus-provider".into(),
            amount: Money::from_minor(10_000_000, Currency::DKK),
        }),
        author: "fokus-provider".into(),
        recorded_at_micros: 0,
        id: EventId([id; 16]),
    };
    (format!("cost {id}"), Input::Event(event))
}

#[test]
fn the_next_statement_goes_on_from_the_last_and_equals_one_from_the_start() {
    let (_dir, mut ledger) = demo();
    let state = ledger.state().unwrap().clone();
    let contract = &state.contracts[SAMPLE_CONTRACT];
    let last = contract.issued.last().unwrap().period;
    // The payments and ESF+ records after the last statement do not reach back.
    assert_eq!(contract.resume.as_ref().map(|c| c.through), Some(last));
    let next = last.next();
    let (resumed, after, full) = both_ways(&state, next);
    assert_eq!(after, Some(last), "the ledger did not go on from {last}");
    assert_eq!(resumed, full);
    // The demo's own statements were issued the same way, and each audits from the start.
    let audited = ledger.audit(|_, _| {}).unwrap();
    assert_eq!(audited.len(), contract.issued.len());
    assert!(audited.iter().all(|a| a.matches()), "{audited:?}");
}

#[test]
fn a_fact_dated_in_a_settled_period_drops_the_carry_and_shows_as_adjustment() {
    let (_dir, mut ledger) = demo();
    let last = ledger.state().unwrap().contracts[SAMPLE_CONTRACT]
        .issued
        .last()
        .unwrap()
        .period;
    let key = [demo_key("fokus-provider")];
    // A cost dated after the settled periods leaves the carry alone...
    let later = last.next().first_day();
    ledger
        .append([cost_on(later, 0xa1)], &key, 1, |_, _| {})
        .unwrap();
    let state = ledger.state().unwrap().clone();
    assert!(state.contracts[SAMPLE_CONTRACT].resume.is_some());
    let (resumed, after, full) = both_ways(&state, last.next());
    assert_eq!((after, &resumed), (Some(last), &full));
    // ...and one dated inside them does not: the next statement starts from the beginning.
    ledger
        .append([cost_on(last.first_day(), 0xa2)], &key, 2, |_, _| {})
        .unwrap();
    let state = ledger.state().unwrap().clone();
    assert!(state.contracts[SAMPLE_CONTRACT].resume.is_none());
    let (resumed, after, full) = both_ways(&state, last.next());
    assert_eq!((after, &resumed), (None, &full));
    let statement = ledger.settle(SAMPLE_CONTRACT, last.next()).unwrap();
    assert!(
        statement.lines.iter().any(|l| l.adjustment),
        "the back-dated cost should adjust a settled period"
    );
}

#[test]
fn an_audited_replay_folds_to_the_state_issuing_left() {
    // Issuing went on from carries; the auditor's fold recomputes every statement from the
    // first period. Both must leave the same state, byte for byte: the same settled tables
    // and the same carries.
    let (_dir, mut ledger) = demo();
    let len = ledger.log().len();
    let audited = ledger.audited_state_at(len).unwrap();
    let encoded = bincode::serde::encode_to_vec(&audited, bincode::config::legacy()).unwrap();
    assert_eq!(encoded, ledger.state_bytes().unwrap());
}
