//! Tampering at the sled level: open the trees behind the log's back, change, delete, swap
//! or insert values, reopen, and check that `verify` names the first bad seq.

use std::path::Path;

use pbr_log::{Log, VerifyOptions};

use crate::support::{checkpoint, key, ledger, record};

const OPTIONS: VerifyOptions = VerifyOptions {
    threads: 2,
    incremental: false,
};
const LEN: u64 = 30;

/// Builds a ledger with a checkpoint at 20, closes it, lets `tamper` edit the raw sled
/// database, reopens it and returns what `verify` says.
fn verify_after(tamper: impl FnOnce(&sled::Db)) -> pbr_log::VerifyError {
    let (dir, mut log) = ledger(20);
    checkpoint(&mut log, None, 7);
    let alice = key("alice", 1);
    let more: Vec<_> = (20..LEN).map(|n| record(&alice, n)).collect();
    log.append(&more).unwrap();
    log.verify(OPTIONS, None, |_, _| {})
        .expect("the untouched ledger verifies");
    drop(log);
    let path = dir.path().join("ledger");
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        tamper(&db);
        db.flush().unwrap();
    }
    reopen_and_verify(&path).expect_err("tampering went unnoticed")
}

fn reopen_and_verify(path: &Path) -> Result<pbr_log::VerifyReport, pbr_log::VerifyError> {
    let log = Log::open(path).expect("a tampered ledger still opens for verification");
    log.verify(OPTIONS, None, |_, _| {})
}

fn key_of(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[test]
fn a_changed_byte_is_named() {
    for (seq, offset) in [(0u64, 0usize), (12, 11), (12, 110), (29, 50)] {
        let error = verify_after(|db| {
            let events = db.open_tree("events").unwrap();
            let mut value = events.get(key_of(seq)).unwrap().unwrap().to_vec();
            value[offset] ^= 0x01;
            events.insert(key_of(seq), value).unwrap();
        });
        assert_eq!(error.seq, Some(seq), "{error}");
    }
}

#[test]
fn a_missing_record_is_named() {
    for seq in [0u64, 12, 29] {
        let error = verify_after(|db| {
            db.open_tree("events").unwrap().remove(key_of(seq)).unwrap();
        });
        assert_eq!(error.seq, Some(seq), "{error}");
    }
}

#[test]
fn swapped_records_are_named() {
    let error = verify_after(|db| {
        let events = db.open_tree("events").unwrap();
        let a = events.get(key_of(12)).unwrap().unwrap();
        let b = events.get(key_of(13)).unwrap().unwrap();
        events.insert(key_of(12), b).unwrap();
        events.insert(key_of(13), a).unwrap();
    });
    assert_eq!(error.seq, Some(12), "{error}");
}

#[test]
fn an_inserted_record_is_named() {
    // A validly signed record, added past the end without touching the caches.
    let error = verify_after(|db| {
        let bytes = record(&key("alice", 1), 99).encode().unwrap();
        db.open_tree("events")
            .unwrap()
            .insert(key_of(LEN), bytes)
            .unwrap();
    });
    assert_eq!(error.seq, Some(LEN), "{error}");
    // A validly signed record shifted into the middle.
    let error = verify_after(|db| {
        let events = db.open_tree("events").unwrap();
        for seq in (15..LEN).rev() {
            let value = events.get(key_of(seq)).unwrap().unwrap();
            events.insert(key_of(seq + 1), value).unwrap();
        }
        events
            .insert(key_of(15), record(&key("mallory", 9), 15).encode().unwrap())
            .unwrap();
    });
    assert_eq!(error.seq, Some(15), "{error}");
}

#[test]
fn a_replaced_record_is_named_even_with_a_valid_signature() {
    let error = verify_after(|db| {
        let forged = record(&key("mallory", 9), 12).encode().unwrap();
        db.open_tree("events")
            .unwrap()
            .insert(key_of(12), forged)
            .unwrap();
    });
    assert_eq!(error.seq, Some(12), "{error}");
}

#[test]
fn a_malformed_key_is_named() {
    let error = verify_after(|db| {
        db.open_tree("events")
            .unwrap()
            .insert([0, 0, 0, 0, 0, 0, 0, 12, 0], b"x".to_vec())
            .unwrap();
    });
    assert_eq!(error.seq, Some(13), "{error}");
}

#[test]
fn rewriting_history_and_every_cache_is_caught_by_the_checkpoint() {
    let (dir, mut log) = ledger(20);
    checkpoint(&mut log, None, 7);
    drop(log);
    let path = dir.path().join("ledger");
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        let forged = record(&key("alice", 1), 1000).encode().unwrap();
        db.open_tree("events")
            .unwrap()
            .insert(key_of(12), forged)
            .unwrap();
        db.flush().unwrap();
    }
    let mut log = Log::open(&path).unwrap();
    log.rebuild_caches().unwrap();
    let error = log.verify(OPTIONS, None, |_, _| {}).unwrap_err();
    assert!(
        error
            .reason
            .contains("checkpoint of size 20 does not match"),
        "{error}"
    );
    // A partner that kept the old root sees it too: no consistency proof can join them.
    assert!(
        log.check_checkpoint(&log.checkpoints().unwrap()[0].checkpoint)
            .is_err()
    );
}

#[test]
fn a_tampered_cache_is_named() {
    // Hash block 0 holds 64-byte `leaf ‖ chain` entries; flip a bit of seq 7's chain hash.
    let error = verify_after(|db| {
        let hashes = db.open_tree("hashes").unwrap();
        let mut value = hashes.get(key_of(0)).unwrap().unwrap().to_vec();
        value[7 * 64 + 40] ^= 1;
        hashes.insert(key_of(0), value).unwrap();
    });
    assert_eq!(error.seq, Some(7), "{error}");
}

/// Writes records 20..25 into `events` behind the ledger's back, as a batch that a crash
/// interrupted before its commit leaves them, with `meta.pending` if `pending`.
fn interrupted_batch(
    pending: bool,
) -> (
    tempfile::TempDir,
    Result<pbr_log::VerifyReport, pbr_log::VerifyError>,
) {
    let (dir, log) = ledger(20);
    drop(log);
    let path = dir.path().join("ledger");
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        let events = db.open_tree("events").unwrap();
        for n in 20..25u64 {
            events
                .insert(key_of(n), record(&key("alice", 1), n).encode().unwrap())
                .unwrap();
        }
        if pending {
            db.open_tree("meta")
                .unwrap()
                .insert("pending", &20u64.to_be_bytes())
                .unwrap();
        }
        db.flush().unwrap();
    }
    let result = reopen_and_verify(&path);
    (dir, result)
}

#[test]
fn an_uncommitted_batch_is_rolled_back_whole() {
    let (dir, result) = interrupted_batch(true);
    assert_eq!(result.expect("the rolled-back ledger verifies").len, 20);
    let log = Log::open(&dir.path().join("ledger")).unwrap();
    assert_eq!(log.len(), 20);
    assert!(matches!(
        log.read_bytes(20),
        Err(pbr_log::LogError::OutOfRange(_))
    ));
}

#[test]
fn records_past_the_recorded_length_without_a_pending_batch_are_named_as_inserted() {
    let (_dir, result) = interrupted_batch(false);
    let error = result.unwrap_err();
    assert_eq!(error.seq, Some(20), "{error}");
}

/// Review finding: recovering from an interrupted batch must not re-derive cache entries of
/// earlier, committed batches, or an altered record below it would be laundered.
#[test]
fn recovery_does_not_launder_an_altered_earlier_record() {
    let (dir, log) = ledger(20);
    drop(log);
    let path = dir.path().join("ledger");
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        let events = db.open_tree("events").unwrap();
        events
            .insert(key_of(10), record(&key("mallory", 9), 10).encode().unwrap())
            .unwrap();
        for n in 20..25u64 {
            events
                .insert(key_of(n), record(&key("alice", 1), n).encode().unwrap())
                .unwrap();
        }
        db.open_tree("meta")
            .unwrap()
            .insert("pending", &20u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let error = reopen_and_verify(&path).unwrap_err();
    assert_eq!(error.seq, Some(10), "{error}");
}

/// Review finding: rebuilding the caches must not turn records inserted past the recorded
/// length into accepted ones.
#[test]
fn rebuilding_caches_does_not_accept_inserted_records() {
    let (dir, log) = ledger(LEN);
    drop(log);
    let path = dir.path().join("ledger");
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        let bytes = record(&key("alice", 1), 99).encode().unwrap();
        db.open_tree("events")
            .unwrap()
            .insert(key_of(LEN), bytes)
            .unwrap();
        db.flush().unwrap();
    }
    let mut log = Log::open(&path).unwrap();
    assert!(log.damage().is_some());
    assert!(log.rebuild_caches().is_err());
    assert!(
        log.damage().is_some(),
        "still damaged: appends stay refused"
    );
    let error = log.verify(OPTIONS, None, |_, _| {}).unwrap_err();
    assert_eq!(error.seq, Some(LEN), "{error}");
}

/// Review finding: a malformed key at the very end names its position, not seq 0.
#[test]
fn a_malformed_last_key_is_named_at_its_position() {
    let error = verify_after(|db| {
        let mut key = key_of(LEN - 1).to_vec();
        key.push(0);
        db.open_tree("events")
            .unwrap()
            .insert(key, b"x".to_vec())
            .unwrap();
    });
    assert_eq!(error.seq, Some(LEN), "{error}");
}

/// Review finding: a damaged ledger must not sign or store a checkpoint of cached roots
/// that no export could reproduce.
#[test]
fn a_damaged_ledger_refuses_to_checkpoint() {
    let (dir, log) = ledger(LEN);
    drop(log);
    let path = dir.path().join("ledger");
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        db.open_tree("events")
            .unwrap()
            .remove(key_of(LEN - 1))
            .unwrap();
        db.flush().unwrap();
    }
    let log = Log::open(&path).unwrap();
    assert!(log.damage().is_some());
    assert!(log.checkpoint_body().is_err());
}
