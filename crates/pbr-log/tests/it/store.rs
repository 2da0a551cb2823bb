//! The sled-backed log: append, read, reopen, proofs, checkpoints, lock, rebuild.

use pbr_log::error::LogError;
use pbr_log::hash::{EMPTY_CHAIN, chain_hash, empty_root, leaf_hash};
use pbr_log::merkle::MemoryTree;
use pbr_log::{Log, Record, VerifyOptions};

use crate::support::{ORIGIN, checkpoint, key, ledger, log_key, record, witness_key};

const OPTIONS: VerifyOptions = VerifyOptions {
    threads: 2,
    incremental: false,
};

#[test]
fn append_read_reopen() {
    let (dir, log) = ledger(50);
    assert_eq!(log.len(), 50);
    let alice = key("alice", 1);
    let mut tree = MemoryTree::new();
    let mut chain = EMPTY_CHAIN;
    for seq in 0..50 {
        let bytes = log.read_bytes(seq).unwrap();
        assert_eq!(log.read(seq).unwrap(), record(&alice, seq));
        let leaf = leaf_hash(&bytes);
        chain = chain_hash(&chain, &bytes);
        tree.push(leaf);
        assert_eq!(log.cached_hashes(seq).unwrap(), (leaf, chain));
        assert_eq!(log.root_at(seq + 1).unwrap(), tree.root());
    }
    assert_eq!(log.root(), tree.root());
    assert_eq!(log.chain_head(), chain);
    let (root, head) = (log.root(), log.chain_head());
    drop(log);
    let log = Log::open(&dir.path().join("ledger")).unwrap();
    assert_eq!((log.len(), log.root(), log.chain_head()), (50, root, head));
    assert!(matches!(log.read(50), Err(LogError::OutOfRange(_))));
}

#[test]
fn empty_log() {
    let (_dir, log) = ledger(0);
    assert_eq!(log.root(), empty_root());
    assert_eq!(log.chain_head(), EMPTY_CHAIN);
    assert_eq!(log.verify(OPTIONS, None, |_, _| {}).unwrap().len, 0);
}

#[test]
fn a_rejected_batch_writes_nothing() {
    let (_dir, mut log) = ledger(3);
    let alice = key("alice", 1);
    let good = record(&alice, 3);
    let mut huge = record(&alice, 4);
    huge.event_bytes = vec![0; pbr_log::record::MAX_EVENT_LEN + 1];
    let before = (log.len(), log.root());
    assert!(matches!(
        log.append(&[good, huge]),
        Err(LogError::Rejected { index: 1, .. })
    ));
    assert_eq!((log.len(), log.root()), before);
    assert!(log.read_bytes(3).is_err());
}

#[test]
fn second_open_is_refused_at_once() {
    let (dir, _log) = ledger(1);
    let started = std::time::Instant::now();
    let error = Log::open(&dir.path().join("ledger")).unwrap_err();
    assert!(matches!(error, LogError::InUse { .. }), "{error}");
    assert!(error.to_string().starts_with("ledger is in use"));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[test]
fn create_refuses_an_existing_ledger_and_open_refuses_a_non_ledger() {
    let (dir, log) = ledger(1);
    drop(log);
    let path = dir.path().join("ledger");
    assert!(matches!(
        Log::create(&path, "x"),
        Err(LogError::AlreadyExists { .. })
    ));
    assert!(matches!(
        Log::open(dir.path()),
        Err(LogError::NotALedger { .. })
    ));
}

/// A ledger records its format; one without the mark (format 1) or with a later one is
/// refused before anything is read, naming what to run instead.
#[test]
fn open_refuses_a_format_one_ledger_naming_pbr_migrate_and_a_newer_one() {
    let (dir, log) = ledger(3);
    drop(log);
    let path = dir.path().join("ledger");
    let set_format = |format: Option<u64>| {
        let db = crate::support::raw_sled(&path.join("sled"));
        let meta = db.open_tree("meta").unwrap();
        assert_eq!(
            meta.get("format").unwrap().as_deref(),
            Some(&2u64.to_be_bytes()[..]),
            "create records format 2"
        );
        match format {
            None => meta.remove("format").unwrap(),
            Some(format) => meta.insert("format", &format.to_be_bytes()).unwrap(),
        };
        db.flush().unwrap();
    };
    for (format, message) in [
        (
            None,
            format!(
                "ledger {0} is in format 1, which this pbr reads only to migrate it; migrate it \
                 with: pbr migrate {0}",
                path.display()
            ),
        ),
        (
            Some(1),
            format!(
                "ledger {0} is in format 1, which this pbr reads only to migrate it; migrate it \
                 with: pbr migrate {0}",
                path.display()
            ),
        ),
        (
            Some(3),
            format!(
                "ledger {} is in format 3, made by a newer pbr (this one reads format 2); use \
                 that pbr",
                path.display()
            ),
        ),
    ] {
        set_format(format);
        let error = Log::open(&path).unwrap_err();
        assert_eq!(error.to_string(), message);
        assert!(
            matches!(
                error,
                LogError::Format1 { .. } | LogError::NewerFormat { .. }
            ),
            "{error:?}"
        );
        let db = crate::support::raw_sled(&path.join("sled"));
        db.open_tree("meta")
            .unwrap()
            .insert("format", &2u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    assert_eq!(Log::open(&path).unwrap().len(), 3);
}

#[test]
fn proofs_from_the_store_verify() {
    let (_dir, mut log) = ledger(100);
    let alice = key("alice", 1);
    let note = checkpoint(&mut log, None, 1000);
    let trusted = [log_key().verifier_key()];
    for seq in [0, 1, 63, 64, 99] {
        let proof = log.inclusion_proof(seq, None).unwrap();
        assert_eq!(proof.tree_size, 100);
        assert_eq!(proof.checkpoint, note.to_text());
        assert_eq!(proof.verify(&trusted).unwrap(), vec![ORIGIN.to_owned()]);
        let mut bad = proof.clone();
        bad.leaf_hash[0] ^= 1;
        assert!(bad.verify(&trusted).is_err());
    }
    let mut extra: Vec<Record> = (100..130).map(|n| record(&alice, n)).collect();
    log.append(&extra).unwrap();
    checkpoint(&mut log, None, 2000);
    for first in [0, 1, 37, 64, 100, 130] {
        let proof = log.consistency_proof(first, None).unwrap();
        assert_eq!(proof.second, 130);
        proof.verify(&trusted).unwrap();
    }
    // The old checkpoint is still there for proofs of its size.
    let old = log.inclusion_proof(5, Some(100)).unwrap();
    assert_eq!(old.checkpoint, note.to_text());
    assert!(matches!(
        log.inclusion_proof(5, Some(99)),
        Err(LogError::Checkpoint(_))
    ));
    extra.clear();
}

#[test]
fn checkpoints_must_describe_the_log() {
    let (_dir, mut log) = ledger(10);
    let mut body = log.checkpoint_body().unwrap();
    body.root[0] ^= 1;
    let note = pbr_log::SignedCheckpoint::sign(body, &log_key()).unwrap();
    assert!(matches!(
        log.store_checkpoint(&note),
        Err(LogError::Checkpoint(_))
    ));
    let mut body = log.checkpoint_body().unwrap();
    body.origin = "elsewhere".into();
    let note = pbr_log::SignedCheckpoint::sign(body, &key("elsewhere", 1)).unwrap();
    assert!(matches!(
        log.store_checkpoint(&note),
        Err(LogError::Checkpoint(_))
    ));
}

#[test]
fn a_cosigned_checkpoint_supersedes_the_earlier_one_of_its_size() {
    let (_dir, mut log) = ledger(10);
    let bob = witness_key("bob", 2);
    let mut note = checkpoint(&mut log, None, 5);
    log.add_verifier_key(&bob.verifier_key()).unwrap();
    note.cosign(&bob, 5).unwrap();
    log.store_checkpoint(&note).unwrap();
    assert_eq!(log.latest_checkpoint().unwrap().unwrap(), note);
    assert_eq!(log.checkpoints().unwrap(), vec![note]);
}

#[test]
fn verify_passes_and_incremental_starts_at_the_last_checkpoint() {
    let (_dir, mut log) = ledger(40);
    let alice = key("alice", 1);
    checkpoint(&mut log, None, 1);
    let full = log.verify(OPTIONS, None, |_, _| {}).unwrap();
    assert_eq!((full.from_seq, full.len), (0, 40));
    let alice_id = format!(
        "{ORIGIN}+{}",
        pbr_log::hex::encode(&log_key().verifier_key().key_id)
    );
    assert_eq!(full.checkpoints, vec![(40, vec![alice_id.clone()])]);
    assert_eq!(full.keys, pbr_log::KeySource::Ledger);
    // With out-of-band keys the report says so; a stranger's key signed nothing, which is
    // a finding about trust (the checkpoint has no signer), not a bad log.
    let given = log
        .verify(OPTIONS, Some(&[log_key().verifier_key()]), |_, _| {})
        .unwrap();
    assert_eq!(
        (given.keys, given.checkpoints.clone()),
        (pbr_log::KeySource::Given, vec![(40, vec![alice_id])])
    );
    let stranger = key(ORIGIN, 9).verifier_key();
    let unsigned = log.verify(OPTIONS, Some(&[stranger]), |_, _| {}).unwrap();
    assert_eq!(unsigned.checkpoints, vec![(40, vec![])]);
    // Against the ledger's own keys, a checkpoint none of them signed is an inconsistency.
    let body = log.latest_checkpoint().unwrap().unwrap().checkpoint;
    let foreign = pbr_log::SignedCheckpoint::sign(body.clone(), &key(ORIGIN, 9)).unwrap();
    log.store_checkpoint(&foreign).unwrap();
    let error = log.verify(OPTIONS, None, |_, _| {}).unwrap_err();
    assert!(
        error.reason.contains("no signature from a trusted key"),
        "{error}"
    );
    // Alice's checkpoint again, superseding the foreign one.
    log.store_checkpoint(&pbr_log::SignedCheckpoint::sign(body, &log_key()).unwrap())
        .unwrap();
    let more: Vec<Record> = (40..60).map(|n| record(&alice, n)).collect();
    log.append(&more).unwrap();
    let incremental = log
        .verify(
            VerifyOptions {
                incremental: true,
                ..OPTIONS
            },
            None,
            |_, _| {},
        )
        .unwrap();
    assert_eq!((incremental.from_seq, incremental.len), (40, 60));
    assert_eq!(incremental.root, log.root());
}

#[test]
fn rebuilt_caches_equal_the_originals() {
    let (_dir, mut log) = ledger(70);
    let before: Vec<_> = (0..70).map(|s| log.cached_hashes(s).unwrap()).collect();
    let root = log.root();
    let path = log.inclusion_path(13, 70).unwrap();
    log.rebuild_caches().unwrap();
    let after: Vec<_> = (0..70).map(|s| log.cached_hashes(s).unwrap()).collect();
    assert_eq!(before, after);
    assert_eq!(log.root(), root);
    assert_eq!(log.inclusion_path(13, 70).unwrap(), path);
}
