//! A ledger with scenario A's contract, built through the same paths the CLI uses.

use std::path::{Path, PathBuf};

use pbr_core::cpr::PseudonymKey;
use pbr_core::event::{ContractRegistered, Event, Payload};
use pbr_core::ids::EventId;
use pbr_ledger::import::{Context, csv_rows};
use pbr_ledger::sample::demo_key;
use pbr_ledger::{Input, Ledger, SignerKey};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) const PARTIES: [&str; 4] = ["dwp", "spv", "investor", "provider"];

pub(crate) fn keys() -> Vec<SignerKey> {
    PARTIES.iter().map(|p| demo_key(p)).collect()
}

pub(crate) fn pseudonyms() -> PseudonymKey {
    PseudonymKey::from_secret(&std::fs::read(repo().join("tests/scenarios/secret")).unwrap())
        .unwrap()
}

/// The origin of scenario A's ledger, which its terms name in `[log]`.
pub(crate) const SCENARIO_A_ORIGIN: &str = "test/a";

/// Scenario A's terms, as `tests/scenarios/a/contract.toml` states them.
pub(crate) fn scenario_a_terms() -> String {
    std::fs::read_to_string(repo().join("tests/scenarios/a/contract.toml")).unwrap()
}

/// dwp's registration of scenario A's contract with `terms`, recorded at 0 (so that a copy
/// signed elsewhere is never from the future).
pub(crate) fn registration(terms: String) -> Event {
    Event {
        contract: "scenario-a".into(),
        participant: None,
        business_date: chrono::NaiveDate::from_ymd_opt(2013, 1, 1).unwrap(),
        payload: Payload::ContractRegistered(ContractRegistered {
            terms_hash: *blake3::hash(terms.as_bytes()).as_bytes(),
            terms,
        }),
        author: "dwp".into(),
        recorded_at_micros: 0,
        id: EventId([9; 16]),
    }
}

/// A new ledger of scenario A's origin holding its contract and, if `with_events`, its whole
/// import file.
pub(crate) fn scenario_a(with_events: bool) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::create(&dir.path().join("l"), SCENARIO_A_ORIGIN).unwrap();
    let event = registration(scenario_a_terms());
    ledger
        .append(
            vec![("terms".into(), Input::Event(event))],
            &keys(),
            1,
            |_, _| {},
        )
        .unwrap();
    if with_events {
        let inputs = rows("tests/scenarios/a/events.csv");
        ledger.append(inputs, &keys(), 2, |_, _| {}).unwrap();
    }
    (dir, ledger)
}

/// The inputs of an import file of the repository.
pub(crate) fn rows(path: &str) -> Vec<(String, Input)> {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    let key = pseudonyms();
    let currency = |_: &str| Some(pbr_core::money::Currency::GBP);
    let context = Context {
        pseudonyms: Some(&key),
        currency: &currency,
        modulus_11_warnings: Default::default(),
    };
    csv_rows(path, text.as_bytes())
        .unwrap()
        .map(|row| row.unwrap().input(&context).unwrap())
        .collect()
}

/// Opens a ledger's sled database behind its back, as a tamperer would. sled locks its file;
/// a child process forked by a parallel test holds a copy of that descriptor until it execs,
/// so the lock is retried briefly, as the ledger itself does when it opens sled.
pub(crate) fn raw_sled(path: &std::path::Path) -> sled::Db {
    for _ in 0..60 {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if e.to_string().contains("could not acquire lock") => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    panic!("{}: sled stayed locked", path.display())
}
