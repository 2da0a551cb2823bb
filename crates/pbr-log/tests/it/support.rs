//! Shared helpers: deterministic keys and records.

use pbr_log::{Log, Record, SignerKey};

/// A key from a fixed seed, so tests are reproducible.
pub(crate) fn key(name: &str, seed_byte: u8) -> SignerKey {
    SignerKey::from_seed(name, [seed_byte; 32]).unwrap()
}

/// A signed record whose event bytes say which seq it was made for.
pub(crate) fn record(key: &SignerKey, n: u64) -> Record {
    Record::sign(format!("event {n}").into_bytes(), key.signing_key()).unwrap()
}

/// A new ledger in a temporary directory with `len` records appended in batches of 7.
pub(crate) fn ledger(len: u64) -> (tempfile::TempDir, Log) {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::create(&dir.path().join("ledger"), ORIGIN).unwrap();
    let key = key("alice", 1);
    let records: Vec<Record> = (0..len).map(|n| record(&key, n)).collect();
    for batch in records.chunks(7) {
        log.append(batch).unwrap();
    }
    (dir, log)
}

/// The origin of the test ledgers.
pub(crate) const ORIGIN: &str = "test.example/ledger";

/// The test ledgers' log key.
pub(crate) fn log_key() -> SignerKey {
    key(ORIGIN, 200)
}

/// A witness key from a fixed seed.
pub(crate) fn witness_key(name: &str, seed_byte: u8) -> SignerKey {
    SignerKey::witness_from_seed(name, [seed_byte; 32]).unwrap()
}

/// Signs and stores a checkpoint of the whole log with the log key and, if given, a
/// cosignature of `witness` at `time`, registering the keys.
pub(crate) fn checkpoint(
    log: &mut Log,
    witness: Option<&SignerKey>,
    time: u64,
) -> pbr_log::SignedCheckpoint {
    log.add_verifier_key(&log_key().verifier_key()).unwrap();
    let mut note =
        pbr_log::SignedCheckpoint::sign(log.checkpoint_body().unwrap(), &log_key()).unwrap();
    if let Some(witness) = witness {
        log.add_verifier_key(&witness.verifier_key()).unwrap();
        note.cosign(witness, time).unwrap();
    }
    log.store_checkpoint(&note).unwrap();
    note
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
