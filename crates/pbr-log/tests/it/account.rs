//! The ledger's account of what it committed (`COMMITTED`), against a sled database that
//! went back to an earlier state, lost a checkpoint, or holds another history: what sled
//! 0.34.7 has done after a truncated or bit-flipped file, simulated here by putting an
//! earlier copy of the database back, which is exactly what such a recovery looks like.

use std::path::{Path, PathBuf};

use pbr_log::account::{self, Account};
use pbr_log::{Log, LogError, Record, VerifyOptions};

use crate::support::{checkpoint, key, ledger, record};

const OPTIONS: VerifyOptions = VerifyOptions {
    threads: 2,
    incremental: false,
};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Puts `saved` back as the ledger's sled database, as a recovery to an earlier state does.
fn put_back(ledger: &Path, saved: &Path) {
    let sled = ledger.join("sled");
    std::fs::remove_dir_all(&sled).unwrap();
    copy_dir(saved, &sled);
}

fn more(from: u64, to: u64) -> Vec<Record> {
    let alice = key("alice", 1);
    (from..to).map(|n| record(&alice, n)).collect()
}

fn lost(result: Result<Log, LogError>) -> String {
    match result {
        Err(error @ LogError::Lost { .. }) => error.to_string(),
        Err(other) => panic!("expected the ledger refused as lost, got: {other}"),
        Ok(log) => panic!("the ledger opened with {} records", log.len()),
    }
}

/// A ledger of 20 records, its directory, and a copy of its sled database at that point.
fn saved_at_20() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (dir, log) = ledger(20);
    drop(log);
    let path = dir.path().join("ledger");
    let saved = dir.path().join("saved");
    copy_dir(&path.join("sled"), &saved);
    (dir, path, saved)
}

#[test]
fn a_new_ledger_has_an_account_of_its_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    let log = Log::create(&path, "test.example/ledger").unwrap();
    let account = account::read(&path).unwrap().expect("COMMITTED is written");
    assert_eq!(account.size, 0);
    assert_eq!(account.root, log.root());
    assert_eq!(account.note, None);
}

#[test]
fn every_commit_and_checkpoint_updates_the_account() {
    let (dir, mut log) = ledger(20);
    let path = dir.path().join("ledger");
    let account = account::read(&path).unwrap().unwrap();
    assert_eq!(
        (account.size, account.root, account.chain),
        (20, log.root(), log.chain_head())
    );
    let note = checkpoint(&mut log, None, 7);
    assert_eq!(
        account::read(&path).unwrap().unwrap().note,
        Some(note.to_text())
    );
    log.append(&more(20, 23)).unwrap();
    let account = account::read(&path).unwrap().unwrap();
    assert_eq!((account.size, account.root), (23, log.root()));
    assert_eq!(account.note, Some(note.to_text()));
}

#[test]
fn sled_gone_back_to_an_earlier_state_is_refused_naming_the_missing_records() {
    let (_dir, path, saved) = saved_at_20();
    let mut log = Log::open(&path).unwrap();
    log.append(&more(20, 30)).unwrap();
    let root = log.root();
    drop(log);
    put_back(&path, &saved);
    let message = lost(Log::open(&path));
    assert!(
        message.contains("sled holds 20 records, but 30 records were committed"),
        "{message}"
    );
    assert!(
        message.contains("records 20 to 29 are missing"),
        "{message}"
    );
    assert!(
        message.contains(&pbr_log::hex::encode(&root)[..16]),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "restore it from your latest export with: pbr restore --from EXPORT.jsonl {}",
            path.display()
        )),
        "{message}"
    );
}

#[test]
fn a_lost_checkpoint_is_refused() {
    let (_dir, path, saved) = saved_at_20();
    let mut log = Log::open(&path).unwrap();
    checkpoint(&mut log, None, 7);
    drop(log);
    put_back(&path, &saved);
    let message = lost(Log::open(&path));
    assert!(
        message.contains("sled lacks the checkpoint of size 20 signed by test.example/ledger"),
        "{message}"
    );
}

#[test]
fn a_different_history_of_the_same_length_is_refused() {
    let (_dir, path, _) = saved_at_20();
    let other = tempfile::tempdir().unwrap();
    let other = other.path().join("ledger");
    let mut log = Log::create(&other, "test.example/ledger").unwrap();
    let mallory = key("mallory", 9);
    log.append(&(0..20).map(|n| record(&mallory, n)).collect::<Vec<_>>())
        .unwrap();
    drop(log);
    put_back(&path, &other.join("sled"));
    let message = lost(Log::open(&path));
    assert!(
        message.contains("the records differ from what was committed"),
        "{message}"
    );
}

#[test]
fn sled_one_commit_ahead_of_the_account_is_accepted_and_the_account_caught_up() {
    // A crash after sled's commit and before the account's rename.
    let (_dir, path, _) = saved_at_20();
    let behind = std::fs::read(account::path(&path)).unwrap();
    let mut log = Log::open(&path).unwrap();
    log.append(&more(20, 25)).unwrap();
    let root = log.root();
    drop(log);
    std::fs::write(account::path(&path), behind).unwrap();
    let log = Log::open(&path).expect("sled ahead of its account opens");
    assert_eq!(log.len(), 25);
    let account = account::read(&path).unwrap().unwrap();
    assert_eq!((account.size, account.root), (25, root));
    log.verify(OPTIONS, None, |_, _| {}).unwrap();
}

#[test]
fn a_ledger_without_an_account_is_adopted_once() {
    // A ledger made before COMMITTED existed: no file, and no `accounted` mark in sled.
    let (_dir, path, _) = saved_at_20();
    std::fs::remove_file(account::path(&path)).unwrap();
    {
        let db = crate::support::raw_sled(&path.join("sled"));
        db.open_tree("meta").unwrap().remove("accounted").unwrap();
        db.flush().unwrap();
    }
    let log = Log::open(&path).expect("an old ledger is adopted");
    let account = account::read(&path)
        .unwrap()
        .expect("adoption writes COMMITTED");
    assert_eq!((account.size, account.root), (20, log.root()));
    let notices = pbr_log::notice::take();
    assert!(
        notices.iter().any(|n| n.contains("had no account")),
        "{notices:?}"
    );
    drop(log);
    // From then on it is a ledger like any other: going back is refused.
    let saved = path.parent().unwrap().join("saved");
    let mut log = Log::open(&path).unwrap();
    log.append(&more(20, 22)).unwrap();
    drop(log);
    put_back(&path, &saved);
    let message = lost(Log::open(&path));
    assert!(
        message.contains("records 20 to 21 are missing"),
        "{message}"
    );
}

#[test]
fn a_deleted_account_of_a_ledger_that_kept_one_is_refused() {
    let (_dir, path, _) = saved_at_20();
    std::fs::remove_file(account::path(&path)).unwrap();
    let message = lost(Log::open(&path));
    assert!(message.contains("COMMITTED, is missing"), "{message}");
    assert!(!account::path(&path).exists(), "nothing was adopted");
}

#[test]
fn a_damaged_account_is_refused() {
    let (_dir, path, _) = saved_at_20();
    let mut bytes = std::fs::read(account::path(&path)).unwrap();
    bytes[20] ^= 1;
    std::fs::write(account::path(&path), bytes).unwrap();
    let message = lost(Log::open(&path));
    assert!(message.contains("is damaged (its checksum"), "{message}");
}

#[test]
fn a_missing_database_with_an_account_is_lost_not_absent() {
    let (_dir, path, _) = saved_at_20();
    std::fs::remove_dir_all(path.join("sled")).unwrap();
    let message = lost(Log::open(&path));
    assert!(message.contains("records 0 to 19 are missing"), "{message}");
}

#[test]
fn the_account_file_is_what_docs_format_md_says() {
    let account = Account {
        origin: "o".into(),
        size: 1,
        root: [0xab; 32],
        chain: [0xcd; 32],
        note: Some("o\n1\n…\n\n— k x\n".into()),
    };
    let bytes = account.to_bytes();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let body_len = text.rfind("blake3 ").unwrap();
    assert_eq!(
        &text[..body_len],
        format!(
            "pbr-committed 1\norigin o\nsize 1\nroot {}\nchain {}\ncheckpoint {}\no\n1\n…\n\n— k x\n",
            "ab".repeat(32),
            "cd".repeat(32),
            "o\n1\n…\n\n— k x\n".len()
        )
    );
    assert_eq!(
        &text[body_len..],
        format!(
            "blake3 {}\n",
            pbr_log::hex::encode(blake3::hash(&bytes[..body_len]).as_bytes())
        )
    );
}

#[test]
fn an_unfinished_snapshot_is_removed_before_sled_reads_it() {
    let (_dir, path, _) = saved_at_20();
    // What a crash or a full disk leaves while sled writes a snapshot: an empty file named
    // after the newest snapshot, which sled 0.34.7 reads as corruption.
    let unfinished = path.join("sled/snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&unfinished, b"").unwrap();
    let log = Log::open(&path).expect("opens after removing the unfinished snapshot");
    assert_eq!(log.len(), 20);
    assert!(!unfinished.exists());
    log.verify(OPTIONS, None, |_, _| {}).unwrap();
}

#[test]
fn a_second_opener_under_a_deleted_lock_is_told_the_ledger_is_in_use() {
    let (_dir, path, _) = saved_at_20();
    let held = Log::open(&path).unwrap();
    std::fs::remove_file(path.join("LOCK")).unwrap();
    let started = std::time::Instant::now();
    match Log::open(&path) {
        Err(LogError::InUse { .. }) => {}
        Err(other) => panic!("expected in use, got {other}"),
        Ok(_) => panic!("two logs opened the same database"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(held);
}
