//! `Log::migrate` on format-1 ledgers made here from format-2 ones (their caches, account
//! and format mark rewritten as format 1 kept them): the shapes the CLI fixture
//! (`tests/fixtures/format1/`, tested in `tests/cli/migrate.rs`) does not have, such as a
//! record too large for format 2, an empty log, several hash blocks, a ledger from before
//! `COMMITTED`, and records left past the recorded length.

use std::path::{Path, PathBuf};

use pbr_log::account::{self, Account};
use pbr_log::hash::{self, Hash, v1};
use pbr_log::merkle::MemoryTree;
use pbr_log::{Log, LogError};

use crate::support::{ledger, raw_sled};

const ORIGIN: &str = "test.example/ledger";

/// `MTH` of RFC 9162 §2.1.1 with the format-1 hashes, by its recursive definition.
fn root_v1(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => v1::empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            v1::node_hash(&root_v1(&leaves[..k]), &root_v1(&leaves[k..]))
        }
    }
}

/// A format-1 ledger of `len` records: made in format 2, then given format-1 hash blocks, a
/// format-1 `COMMITTED` and no `meta.format`. Returns the directory and its records.
fn format_one(len: u64) -> (tempfile::TempDir, PathBuf, Vec<Vec<u8>>) {
    let (dir, log) = ledger(len);
    let records: Vec<Vec<u8>> = (0..len).map(|seq| log.read_bytes(seq).unwrap()).collect();
    drop(log);
    let path = dir.path().join("ledger");
    let (leaves, chain) = hashes_v1(&records);
    {
        let db = raw_sled(&path.join("sled"));
        db.open_tree("meta").unwrap().remove("format").unwrap();
        db.open_tree("nodes").unwrap().clear().unwrap();
        let hashes = db.open_tree("hashes").unwrap();
        hashes.clear().unwrap();
        let mut chain = hash::EMPTY_CHAIN;
        for (block, leaves) in leaves.chunks(64).enumerate() {
            let mut value = Vec::new();
            for leaf in leaves {
                chain = v1::chain_hash(&chain, leaf);
                value.extend_from_slice(leaf);
                value.extend_from_slice(&chain);
            }
            hashes.insert((block as u64).to_be_bytes(), value).unwrap();
        }
        db.flush().unwrap();
    }
    account::write(
        &path,
        &Account {
            origin: ORIGIN.into(),
            size: len,
            root: root_v1(&leaves),
            chain,
            note: None,
        },
    )
    .unwrap();
    (dir, path, records)
}

/// The format-1 leaves and chain head of `records`.
fn hashes_v1(records: &[Vec<u8>]) -> (Vec<Hash>, Hash) {
    let leaves: Vec<Hash> = records.iter().map(|r| v1::leaf_hash(r)).collect();
    let chain = leaves.iter().fold(hash::EMPTY_CHAIN, |chain, leaf| {
        v1::chain_hash(&chain, leaf)
    });
    (leaves, chain)
}

/// The format-2 root and chain head of `records`.
fn hashes_v2(records: &[Vec<u8>]) -> (Hash, Hash) {
    let mut tree = MemoryTree::new();
    let mut chain = hash::EMPTY_CHAIN;
    for record in records {
        tree.push(hash::leaf_hash(record));
        chain = hash::chain_hash(&chain, record);
    }
    (tree.root(), chain)
}

fn assert_format_one(path: &Path) {
    match Log::open(path) {
        Err(error @ LogError::Format1 { .. }) => assert!(
            error
                .to_string()
                .ends_with(&format!("migrate it with: pbr migrate {}", path.display())),
            "{error}"
        ),
        other => panic!("not refused as format 1: {other:?}"),
    }
}

fn assert_migrated(path: &Path, records: &[Vec<u8>]) {
    let summary = Log::migrate(path).unwrap();
    let (root, chain) = hashes_v2(records);
    assert!(!summary.already);
    assert_eq!(summary.records, records.len() as u64);
    assert_eq!((summary.root, summary.chain_head), (root, chain));
    assert_eq!(summary.checkpoints_kept, 0);
    assert!(!summary.has_checkpoint);
    let log = Log::open(path).unwrap();
    assert_eq!(
        (log.len(), log.root(), log.chain_head()),
        (records.len() as u64, root, chain)
    );
    for (seq, bytes) in records.iter().enumerate() {
        assert_eq!(&log.read_bytes(seq as u64).unwrap(), bytes);
    }
    let options = pbr_log::VerifyOptions {
        threads: 2,
        incremental: false,
    };
    let report = log.verify(options, None, |_, _| {}).unwrap();
    assert_eq!((report.len, report.root), (records.len() as u64, root));
    assert!(log.format_one_checkpoints().unwrap().is_empty());
    drop(log);
    assert!(Log::migrate(path).unwrap().already);
}

#[test]
fn a_format_one_ledger_of_several_hash_blocks_migrates() {
    let (_dir, path, records) = format_one(150);
    assert_format_one(&path);
    assert_migrated(&path, &records);
}

/// `pbr restore` does not take a format-1 ledger for a damaged one: it is older, not damaged.
#[test]
fn a_restore_refuses_a_format_one_ledger_naming_pbr_migrate() {
    let (_dir, path, records) = format_one(5);
    match pbr_log::restore::Target::claim(&path) {
        Err(LogError::Format1 { dir }) => assert_eq!(dir, path),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("a format-1 ledger was claimed for a restore"),
    }
    assert_migrated(&path, &records);
}

#[test]
fn an_empty_format_one_ledger_migrates_to_the_empty_format_two_root() {
    let (_dir, path, records) = format_one(0);
    assert_format_one(&path);
    assert_migrated(&path, &records);
    let account = account::read(&path).unwrap().unwrap();
    assert_eq!(account.root, hash::EMPTY_ROOT);
}

#[test]
fn a_format_one_ledger_from_before_committed_migrates_and_one_that_lost_it_is_refused() {
    let (_dir, path, records) = format_one(20);
    std::fs::remove_file(account::path(&path)).unwrap();
    match Log::migrate(&path) {
        Err(LogError::Migration {
            seq: None, reason, ..
        }) => {
            assert!(reason.contains("COMMITTED, is missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    {
        let db = raw_sled(&path.join("sled"));
        db.open_tree("meta").unwrap().remove("accounted").unwrap();
        db.flush().unwrap();
    }
    assert_migrated(&path, &records);
}

#[test]
fn a_format_one_account_that_disagrees_is_refused() {
    let (_dir, path, _) = format_one(20);
    let mut account = account::read(&path).unwrap().unwrap();
    account.chain[0] ^= 1;
    account::write(&path, &account).unwrap();
    let error = Log::migrate(&path).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("the first 20 records have format-1 root"),
        "{error}"
    );
    assert_format_one(&path);
}

#[test]
fn a_record_too_large_for_format_two_is_refused_naming_its_seq() {
    let (_dir, path, _) = format_one(10);
    {
        // Format 1 had no limit: a record of 70,000 bytes at seq 10, committed.
        let mut huge = vec![0u8; 70_000];
        huge[..2].copy_from_slice(&1u16.to_le_bytes());
        huge[2..10].copy_from_slice(&(70_000u64 - 106).to_le_bytes());
        let db = raw_sled(&path.join("sled"));
        db.open_tree("events")
            .unwrap()
            .insert(10u64.to_be_bytes(), huge)
            .unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("len", &11u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let error = Log::migrate(&path).unwrap_err();
    assert!(
        matches!(
            error,
            LogError::TooLargeForFormat2 {
                seq: 10,
                len: 70_000,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "cannot migrate ledger {}: record at seq 10 is 70000 bytes, but a format-2 record is \
             at most 65535 bytes",
            path.display()
        )
    );
    assert_format_one(&path);
}

/// Records past `meta.len`: a batch a crash interrupted (with `meta.pending`) is rolled back
/// as format 1 would have rolled it back; without `meta.pending`, they were inserted.
#[test]
fn records_past_the_recorded_length_are_rolled_back_or_named() {
    for pending in [true, false] {
        let (_dir, path, records) = format_one(20);
        {
            let db = raw_sled(&path.join("sled"));
            let events = db.open_tree("events").unwrap();
            for seq in 20..23u64 {
                events
                    .insert(seq.to_be_bytes(), records[0].as_slice())
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
        if pending {
            assert_migrated(&path, &records);
        } else {
            match Log::migrate(&path) {
                Err(LogError::Migration {
                    seq: Some(20),
                    reason,
                    ..
                }) => assert!(reason.contains("beyond the recorded length 20"), "{reason}"),
                other => panic!("{other:?}"),
            }
        }
    }
}
