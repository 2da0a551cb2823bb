//! Money flows stored in blocks outside the state (`projection.flows`): what settles, what
//! balances and what a rebuild gives do not depend on which blocks left memory when.

use chrono::NaiveDate;
use pbr_core::event::{CorrectionReason, CostRecorded, Event, Payload};
use pbr_core::ids::EventId;
use pbr_core::money::{Currency, Money};
use pbr_core::settle::settle;
use pbr_ledger::sample::{SAMPLE_CONTRACT, SAMPLE_ORIGIN, build, demo_key};
use pbr_ledger::{Input, Ledger};

/// More costs than one chunk of an append (4,096), so that blocks leave memory during the
/// batch as well as at its end.
const COSTS: u32 = 4_500;

fn event(date: NaiveDate, author: &str, payload: Payload, n: u32) -> (String, Input) {
    let mut id = [0xf1; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    let event = Event {
        contract: SAMPLE_CONTRACT.into(),
        participant: None,
        business_date: date,
        payload,
        author: author.into(),
        recorded_at_micros: 0,
        id: EventId(id),
    };
    (format!("row {n}"), Input::Event(event))
}

fn cost(date: NaiveDate, n: u32) -> (String, Input) {
    let payload = Payload::CostRecorded(CostRecorded {
        party: "fokus-provider".into(),
        amount: Money::from_minor(1_000 + i64::from(n % 977) * 100, Currency::DKK),
    });
    event(date, "fokus-provider", payload, n)
}

fn flow_blocks(dir: &std::path::Path) -> usize {
    let db = crate::support::raw_sled(&dir.join("sled"));
    db.open_tree("projection.flows").unwrap().len()
}

#[test]
fn flows_stored_in_blocks_settle_balance_and_rebuild_as_a_fold_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::create(&dir.path().join("ledger"), SAMPLE_ORIGIN).unwrap();
    build(&mut ledger).unwrap();
    let last = ledger.state().unwrap().contracts[SAMPLE_CONTRACT]
        .issued
        .last()
        .unwrap()
        .period;
    let next = last.next();
    let provider = [demo_key("fokus-provider")];
    // Costs in the next period and, so that the carry is dropped, some in a settled one.
    let first_seq = ledger.log().len();
    let costs = (0..COSTS).map(|n| {
        let date = if n % 1_000 == 7 {
            last.first_day()
        } else {
            next.first_day()
        };
        cost(date, n)
    });
    let report = ledger.append(costs, &provider, 1, |_, _| {}).unwrap();
    assert_eq!(report.appended, u64::from(COSTS));
    // The batch stored every full block, before any reader asked for the flows.
    let ledger_dir = ledger.log().dir().to_owned();
    drop(ledger);
    let blocks = flow_blocks(&ledger_dir);
    assert_eq!(blocks, (COSTS / 128) as usize, "blocks of flows stored");
    let mut ledger = Ledger::open(&ledger_dir).unwrap();
    // Retract a cost whose block left memory long ago, and one in the open block.
    let early = first_seq + 3;
    let recent = first_seq + u64::from(COSTS) - 2;
    let corrections = [early, recent].into_iter().enumerate().map(|(i, seq)| {
        let payload = Payload::Correction(pbr_core::event::Correction {
            retracts_seq: seq,
            reason: CorrectionReason::DataEntry,
        });
        event(
            next.first_day(),
            "fokus-provider",
            payload,
            COSTS + i as u32,
        )
    });
    ledger.append(corrections, &provider, 2, |_, _| {}).unwrap();
    let commissioner = demo_key("aalborg-jobcenter");
    let (issued, issue_seq) = ledger
        .issue(SAMPLE_CONTRACT, next, &commissioner, 3)
        .unwrap();

    let state = ledger.state().unwrap().clone();
    let flows = state.contracts[SAMPLE_CONTRACT].flows.loaded().unwrap();
    assert!(flows.get(early).is_none() && flows.get(recent).is_none());
    assert!(flows.get(early + 1).is_some());
    // The statement, the balances and the whole state equal those of an auditor's fold,
    // which never stores a block.
    let len = ledger.log().len();
    let folded = ledger.audited_state_at(len).unwrap();
    let fold_bytes = bincode::serde::encode_to_vec(&folded, bincode::config::legacy()).unwrap();
    assert_eq!(ledger.state_bytes().unwrap(), fold_bytes);
    // Recomputed from the fold of the log before it.
    let again = ledger.statement_at(issue_seq).unwrap();
    assert_eq!(
        again.canonical_bytes().unwrap(),
        issued.canonical_bytes().unwrap()
    );
    let audited = ledger.audit(|_, _| {}).unwrap();
    assert!(audited.iter().all(|a| a.matches()), "{audited:?}");
    let head = ledger
        .balances(SAMPLE_CONTRACT, pbr_ledger::At::Head, None)
        .unwrap();
    // At a seq: folded from the log, no block stored.
    let at_len = ledger
        .balances(SAMPLE_CONTRACT, pbr_ledger::At::Seq(len), None)
        .unwrap();
    assert_eq!(format!("{head:?}"), format!("{at_len:?}"));

    // Rebuilt from the log, stored again in blocks: the same state.
    ledger.rebuild_projections().unwrap();
    assert_eq!(ledger.state_bytes().unwrap(), fold_bytes);
    drop(ledger);
    let blocks = flow_blocks(&ledger_dir);
    assert!(
        blocks >= (COSTS / 128) as usize,
        "{blocks} blocks of flows stored"
    );

    // A block lost from the cache: the state is folded again from the log.
    {
        let db = crate::support::raw_sled(&ledger_dir.join("sled"));
        let tree = db.open_tree("projection.flows").unwrap();
        let (key, _) = tree.first().unwrap().unwrap();
        tree.remove(key).unwrap();
        db.flush().unwrap();
    }
    let mut reopened = Ledger::open(&ledger_dir).unwrap();
    assert_eq!(reopened.state_bytes().unwrap(), fold_bytes);
    let statement = reopened.settle(SAMPLE_CONTRACT, next.next()).unwrap();
    let (from_fold, _) = settle(&folded, SAMPLE_CONTRACT, next.next(), len).unwrap();
    assert_eq!(
        statement.canonical_bytes().unwrap(),
        from_fold.canonical_bytes().unwrap()
    );
}
