//! The damage suite: a ledger of a few thousand records, its sled files damaged the ways a
//! disk, a crash or a person damages them, and `pbr` run on each copy as an operator would.
//!
//! Every run must either open and report every committed record, or refuse with exit 5 and
//! one line that names what is missing and the command that recovers it; never exit 101
//! (a panic), never report fewer records as "ok". A refused run then follows its own printed
//! words (`pbr restore --from EXPORT.jsonl DIR`, with the export taken before the damage) and
//! must get every record back: the same count, root and chain head. The counts are in
//! `docs/reliability.md`.
//!
//! Deterministic: bit positions and cut points come from a fixed seed, so a failure names a
//! trial that can be run again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::support::{Run, pbr, pbr_ok};

const VERIFY_FAILED: i32 = 5;

/// The undamaged ledger, built once: the demo (618 records, two checkpoints) and 2,000 costs
/// imported after it, then a checkpoint of the whole log signed by the log key and cosigned by
/// the quorum's witnesses, and an export of it. Every acknowledged record is in the export.
struct Base {
    _dir: tempfile::TempDir,
    ledger: PathBuf,
    export: PathBuf,
    records: u64,
    root: String,
    chain_head: String,
}

const COSTS: u64 = 2_000;

fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let ledger = dir.path().join("base");
        let l = ledger.to_str().unwrap();
        pbr_ok(&["demo", l]);
        let provider = crate::support::key_file(
            dir.path(),
            &pbr_ledger::sample::demo_key("fokus-provider"),
        );
        let mut csv = String::from("kind,contract,date,author,party,amount,id\n");
        for i in 0..COSTS {
            csv.push_str(&format!(
                "cost-recorded,impact60-demo,2025-{:02}-{:02},fokus-provider,fokus-provider,{}.00,cost-{i}\n",
                1 + i % 12,
                1 + i % 28,
                100 + i % 977
            ));
        }
        let costs = dir.path().join("costs.csv");
        std::fs::write(&costs, csv).unwrap();
        pbr_ok(&[
            "--ledger",
            l,
            "import",
            costs.to_str().unwrap(),
            "--key",
            &provider,
        ]);
        crate::support::demo_checkpoint(l);
        let export = dir.path().join("export.jsonl");
        pbr_ok(&["--ledger", l, "export", "--out", export.to_str().unwrap()]);
        let verified: serde_json::Value =
            serde_json::from_str(&pbr_ok(&["--ledger", l, "verify", "--json"])).unwrap();
        let records = verified["records"].as_u64().unwrap();
        assert_eq!(records, 618 + COSTS);
        Base {
            ledger,
            export,
            records,
            root: verified["root"].as_str().unwrap().to_owned(),
            chain_head: verified["chain_head"].as_str().unwrap().to_owned(),
            _dir: dir,
        }
    })
}

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

/// The lines of standard error that are not notes.
fn error_lines(run: &Run) -> Vec<&str> {
    run.stderr
        .lines()
        .filter(|line| !line.starts_with("pbr: note: "))
        .collect()
}

/// How a trial ended, for the counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Opened and verified every committed record.
    Whole,
    /// Refused at open: sled holds less than, or else than, what was committed.
    Lost,
    /// Refused at open: sled reports its files damaged (or panicked reading them).
    Damaged,
    /// Opened, and verification named the first bad record.
    BadRecord,
}

/// Checks one damaged copy: `pbr verify` and a reading command, then, if refused, the
/// restore its message prints. Returns how it ended.
fn check(ledger: &Path, what: &str) -> Outcome {
    let base = base();
    let l = ledger.to_str().unwrap();
    let run = pbr(&["--ledger", l, "verify", "--json"]);
    assert_ne!(run.code, 101, "{what}: a panic\n{}", run.stderr);
    let mut printed = None;
    let outcome = match run.code {
        0 => {
            let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
            assert_eq!(
                out["records"].as_u64(),
                Some(base.records),
                "{what}: verify said ok with fewer records: {}",
                run.stdout
            );
            assert_eq!(out["root"].as_str(), Some(base.root.as_str()), "{what}");
            Outcome::Whole
        }
        VERIFY_FAILED => {
            let errors = error_lines(&run);
            assert_eq!(errors.len(), 1, "{what}: not one line:\n{}", run.stderr);
            let error = errors[0];
            let command = printed_recovery(error, what);
            assert_eq!(
                command[4..],
                [l],
                "{what}: the command names another ledger"
            );
            printed = Some(command);
            // A lost record, or a lost checkpoint note (say, the cosigned note that
            // superseded the log key's own of the same size): a committed write is missing.
            if error.contains("were committed")
                || error.contains("is missing")
                || error.contains("lacks the checkpoint")
            {
                Outcome::Lost
            } else if error.contains("storage is damaged") {
                Outcome::Damaged
            } else {
                assert!(error.contains("first bad seq"), "{what}: {error}");
                Outcome::BadRecord
            }
        }
        other => panic!("{what}: exit {other}\n{}", run.stderr),
    };
    // A reading command: every record, or a refusal, never a silently shorter log.
    let last = (base.records - 1).to_string();
    let run = pbr(&["--ledger", l, "log", "--from-seq", &last]);
    assert_ne!(run.code, 101, "{what}: log panicked\n{}", run.stderr);
    match run.code {
        0 => assert_eq!(run.stdout.lines().count(), 1, "{what}: log: {}", run.stdout),
        VERIFY_FAILED => assert_eq!(error_lines(&run).len(), 1, "{what}: {}", run.stderr),
        other => panic!("{what}: log exit {other}\n{}", run.stderr),
    }
    if let Some(command) = printed {
        restore_as_printed(&command, what);
    }
    outcome
}

/// The recovery command a refusal prints, as arguments: the words after "with: ", which
/// must be `pbr restore --from EXPORT.jsonl DIR`.
fn printed_recovery(error: &str, what: &str) -> Vec<String> {
    let (_, command) = error
        .split_once("restore it from your latest export with: ")
        .unwrap_or_else(|| panic!("{what}: no recovery command: {error}"));
    let words: Vec<String> = command.split(' ').map(str::to_owned).collect();
    assert_eq!(
        words[..4],
        ["pbr", "restore", "--from", "EXPORT.jsonl"],
        "{what}: {error}"
    );
    words
}

/// Follows the recovery printed by the refusal word for word, with the export taken before
/// the damage in the place of `EXPORT.jsonl`, and checks that every acknowledged record is
/// back.
fn restore_as_printed(command: &[String], what: &str) {
    let base = base();
    let export = base.export.to_str().unwrap();
    let args: Vec<&str> = command[1..]
        .iter()
        .map(|word| match word.as_str() {
            "EXPORT.jsonl" => export,
            word => word,
        })
        .collect();
    let run = pbr(&args);
    assert_eq!(run.code, 0, "{what}: {args:?} failed\n{}", run.stderr);
    let l = command.last().unwrap();
    let out: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", l, "verify", "--json"])).unwrap();
    assert_eq!(out["records"].as_u64(), Some(base.records), "{what}");
    assert_eq!(out["root"].as_str(), Some(base.root.as_str()), "{what}");
    assert_eq!(
        out["chain_head"].as_str(),
        Some(base.chain_head.as_str()),
        "{what}"
    );
}

/// A fresh copy of the base ledger, optionally without sled's snapshot (so that sled
/// replays its whole log on opening, which is when it has silently gone back in time).
fn copy(dir: &Path, name: &str, snapshot: bool) -> PathBuf {
    let ledger = dir.join(name);
    copy_dir(&base().ledger, &ledger);
    if !snapshot {
        for entry in std::fs::read_dir(ledger.join("sled")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().starts_with("snap.") {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }
    ledger
}

fn report(name: &str, counts: &BTreeMap<Outcome, u32>) {
    let total: u32 = counts.values().sum();
    eprintln!("{name}: {total} trials: {counts:?}");
}

#[test]
fn truncating_the_database_never_loses_records_silently() {
    let dir = tempfile::tempdir().unwrap();
    let len = std::fs::metadata(base().ledger.join("sled/db"))
        .unwrap()
        .len();
    let mut counts = BTreeMap::new();
    for snapshot in [true, false] {
        for eighth in 0..8u64 {
            let cut = len * eighth / 8 + len / 17;
            let name = format!("cut-{cut}-snapshot-{snapshot}");
            let ledger = copy(dir.path(), &name, snapshot);
            let db = std::fs::OpenOptions::new()
                .write(true)
                .open(ledger.join("sled/db"))
                .unwrap();
            db.set_len(cut).unwrap();
            drop(db);
            *counts.entry(check(&ledger, &name)).or_insert(0) += 1;
        }
    }
    report("truncations", &counts);
    assert_eq!(counts.values().sum::<u32>(), 16);
    // A cut loses committed records: most trials must be refused, not "ok".
    assert!(
        counts.get(&Outcome::Whole).copied().unwrap_or(0) < 8,
        "{counts:?}"
    );
}

/// Flips one bit at each of `trials` seeded offsets of sled's `db` file.
fn flip_bits(seed: u64, trials: u64, snapshot: bool) -> BTreeMap<Outcome, u32> {
    let dir = tempfile::tempdir().unwrap();
    let len = std::fs::metadata(base().ledger.join("sled/db"))
        .unwrap()
        .len();
    let mut seeded = crate::support::Seeded(seed);
    let flips: Vec<(u64, u64)> = (0..trials)
        .map(|_| (seeded.next() % len, seeded.next() % 8))
        .collect();
    // Two at a time: each trial is a few short runs of the binary.
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let workers: Vec<_> = flips
            .chunks(flips.len().div_ceil(2))
            .map(|part| {
                let dir = dir.path();
                scope.spawn(move || {
                    part.iter()
                        .map(|&(offset, bit)| {
                            let name = format!("flip-{offset}-{bit}-snapshot-{snapshot}");
                            let ledger = copy(dir, &name, snapshot);
                            let path = ledger.join("sled/db");
                            let mut bytes = std::fs::read(&path).unwrap();
                            bytes[usize::try_from(offset).unwrap()] ^= 1 << bit;
                            std::fs::write(&path, bytes).unwrap();
                            let outcome = check(&ledger, &name);
                            std::fs::remove_dir_all(&ledger).unwrap();
                            outcome
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut counts = BTreeMap::new();
    for outcome in outcomes {
        *counts.entry(outcome).or_insert(0) += 1;
    }
    report(&format!("bit flips, snapshot {snapshot}"), &counts);
    assert_eq!(u64::from(counts.values().sum::<u32>()), trials);
    counts
}

#[test]
fn flipping_one_bit_never_panics_and_never_loses_records_silently() {
    flip_bits(17, 32, true);
}

/// Without sled's snapshot, sled reads its whole log on opening: that is where a flipped bit
/// made it panic ("tried to serialize Uninitialized") or go back to an earlier state.
#[test]
fn flipping_one_bit_without_sleds_snapshot_never_panics_nor_loses_records_silently() {
    let counts = flip_bits(18, 32, false);
    assert!(
        counts.get(&Outcome::Damaged).copied().unwrap_or(0) > 0,
        "no trial met sled's damage: the trials do not test what they claim ({counts:?})"
    );
}

/// Deletes something from a ledger directory.
type Delete = fn(&Path);

#[test]
fn deleting_files_beside_the_account_is_refused_or_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let mut counts = BTreeMap::new();
    let cases: [(&str, Delete); 6] = [
        ("sled/db", |l| {
            std::fs::remove_file(l.join("sled/db")).unwrap()
        }),
        ("sled/conf", |l| {
            std::fs::remove_file(l.join("sled/conf")).unwrap()
        }),
        ("sled/snap.*", |l| {
            for entry in std::fs::read_dir(l.join("sled")).unwrap() {
                let entry = entry.unwrap();
                if entry.file_name().to_string_lossy().starts_with("snap.") {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
        }),
        ("sled/", |l| {
            std::fs::remove_dir_all(l.join("sled")).unwrap()
        }),
        ("COMMITTED", |l| {
            std::fs::remove_file(l.join("COMMITTED")).unwrap()
        }),
        ("LOCK and RESERVE", |l| {
            std::fs::remove_file(l.join("LOCK")).unwrap();
            std::fs::remove_file(l.join("RESERVE")).unwrap();
        }),
    ];
    for (what, delete) in cases {
        let name = format!("deleted-{}", what.replace(['/', '*', ' '], "_"));
        let ledger = copy(dir.path(), &name, true);
        delete(&ledger);
        let outcome = check(&ledger, &name);
        if what == "COMMITTED" {
            assert_eq!(outcome, Outcome::Lost, "losing the account is never silent");
        }
        *counts.entry(outcome).or_insert(0) += 1;
    }
    report("deleted files", &counts);
}

#[test]
fn an_empty_unfinished_snapshot_is_removed_and_the_ledger_opens() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = copy(dir.path(), "generating", true);
    // Named after the newest snapshot, as sled names the one it is writing.
    let unfinished = ledger.join("sled/snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&unfinished, b"").unwrap();
    let l = ledger.to_str().unwrap();
    let run = pbr(&["--ledger", l, "log", "--from-seq", "0", "--to-seq", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("removed") && run.stderr.contains("unfinished sled snapshot"),
        "the removal is said: {}",
        run.stderr
    );
    assert!(!unfinished.exists());
    assert_eq!(check(&ledger, "generating"), Outcome::Whole);
}

#[test]
fn a_deleted_blobs_directory_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = copy(dir.path(), "blobs", true);
    std::fs::remove_dir_all(ledger.join("sled/blobs")).unwrap();
    assert_eq!(check(&ledger, "blobs"), Outcome::Whole);
    assert!(ledger.join("sled/blobs").is_dir());
}

#[test]
fn terms_larger_than_a_record_may_be_are_refused_and_nothing_is_written() {
    // Format 2 caps a record at 65,535 bytes (a tlog-tiles entry bundle's u16 length), so no
    // record reaches sled's blob threshold (128 KiB); terms that would are refused whole.
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let l = ledger.to_str().unwrap();
    let key = dir.path().join("aalborg-jobcenter.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("aalborg-jobcenter").to_text(),
    )
    .unwrap();
    let mut terms = pbr_ledger::sample::sample_terms();
    for line in 0..1_000 {
        terms.push_str(&format!("# a long explanation, line {line:05} ...................................................\n"));
    }
    let terms_path = dir.path().join("terms.toml");
    std::fs::write(&terms_path, terms).unwrap();
    // The sample terms name their log: only a ledger of that origin takes them.
    pbr_ok(&["init", l, "--origin", pbr_ledger::sample::SAMPLE_ORIGIN]);
    let run = pbr(&[
        "--ledger",
        l,
        "contract",
        "register",
        terms_path.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    let errors = error_lines(&run);
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].contains("exceeds the limit of 65429 bytes"),
        "{}",
        errors[0]
    );
    let out: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", l, "verify", "--json"])).unwrap();
    assert_eq!(out["records"], 0);
}

#[test]
fn a_ledger_whose_account_says_more_than_sled_holds_exits_5() {
    // sled put back to the state before the import, as a recovery to an earlier state does.
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let l = ledger.to_str().unwrap();
    pbr_ok(&["demo", l]);
    let saved = dir.path().join("saved");
    copy_dir(&ledger.join("sled"), &saved);
    let key = dir.path().join("fokus-provider.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("fokus-provider").to_text(),
    )
    .unwrap();
    pbr_ok(&[
        "--ledger",
        l,
        "cost",
        "--contract",
        "impact60-demo",
        "--date",
        "2025-05-05",
        "--party",
        "fokus-provider",
        "--amount",
        "12.00",
        "--key",
        key.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(ledger.join("sled")).unwrap();
    copy_dir(&saved, &ledger.join("sled"));
    for args in [
        vec!["verify"],
        vec!["balance"],
        vec!["log", "--from-seq", "617"],
    ] {
        let mut all = vec!["--ledger", l];
        all.extend(args.iter());
        let run = pbr(&all);
        assert_eq!(run.code, VERIFY_FAILED, "{args:?}: {}", run.stderr);
        let errors = error_lines(&run);
        assert_eq!(
            errors,
            [format!(
                "pbr: error: ledger {l}: sled holds 618 records, but 619 records were committed \
                 (root {}…): record 618 is missing; restore it from your latest export with: \
                 pbr restore --from EXPORT.jsonl {l}",
                &committed_root(&ledger)[..16]
            )
            .as_str()],
            "{args:?}"
        );
    }
}

fn committed_root(ledger: &Path) -> String {
    let text = std::fs::read_to_string(ledger.join("COMMITTED")).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("root "))
        .unwrap()
        .to_owned()
}

#[test]
fn a_ledger_without_an_account_is_adopted_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    let l = ledger.to_str().unwrap();
    pbr_ok(&["demo", l]);
    // What a ledger made before COMMITTED existed looks like.
    std::fs::remove_file(ledger.join("COMMITTED")).unwrap();
    {
        let db = crate::support::raw_sled(&ledger.join("sled"));
        db.open_tree("meta").unwrap().remove("accounted").unwrap();
        db.flush().unwrap();
    }
    let run = pbr(&["--ledger", l, "verify"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("pbr: note: this ledger had no account of what it committed"),
        "{}",
        run.stderr
    );
    assert!(ledger.join("COMMITTED").is_file());
    // Said once.
    let run = pbr(&["--ledger", l, "verify"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
}

#[test]
fn restore_refuses_a_healthy_ledger_and_an_export_that_ends_early() {
    let base = base();
    let dir = tempfile::tempdir().unwrap();
    let ledger = copy(dir.path(), "healthy", true);
    let l = ledger.to_str().unwrap();
    let export = base.export.to_str().unwrap();
    let run = pbr(&["restore", "--from", export, l]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to restore"), "{}", run.stderr);
    // An export of the first 618 records cannot restore a ledger that committed more.
    let short = dir.path().join("short.jsonl");
    let demo = dir.path().join("demo");
    pbr_ok(&["demo", demo.to_str().unwrap()]);
    pbr_ok(&[
        "--ledger",
        demo.to_str().unwrap(),
        "export",
        "--out",
        short.to_str().unwrap(),
    ]);
    std::fs::remove_dir_all(ledger.join("sled")).unwrap();
    let run = pbr(&["restore", "--from", short.to_str().unwrap(), l]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "holds 618 records, but ledger {l} committed {}",
            base.records
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "records 618 to {} are not in it",
            base.records - 1
        )),
        "{}",
        run.stderr
    );
    assert!(!ledger.join("sled").exists(), "nothing was installed");
    // Accepting the loss is explicit.
    let run = pbr(&[
        "restore",
        "--from",
        short.to_str().unwrap(),
        l,
        "--accept-loss",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", l, "verify", "--json"])).unwrap();
    assert_eq!(out["records"], 618);
}

#[test]
fn a_deleted_lock_under_a_running_writer_is_still_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = copy(dir.path(), "lock", true);
    let l = ledger.to_str().unwrap();
    // This process is the writer; someone deletes its LOCK file under it.
    let held = pbr_ledger::Ledger::open(&ledger).unwrap();
    std::fs::remove_file(ledger.join("LOCK")).unwrap();
    let started = std::time::Instant::now();
    let run = pbr(&["--ledger", l, "verify"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("pbr: error: ledger is in use"),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(held);
    assert_eq!(check(&ledger, "lock"), Outcome::Whole);
}

#[test]
fn a_record_altered_inside_a_consistent_sled_is_named_and_restored() {
    // sled's own checks pass (the value was written through sled): only verify sees it.
    let dir = tempfile::tempdir().unwrap();
    let ledger = copy(dir.path(), "altered", true);
    {
        let db = crate::support::raw_sled(&ledger.join("sled"));
        let events = db.open_tree("events").unwrap();
        let key = 1_234u64.to_be_bytes();
        let mut value = events.get(key).unwrap().unwrap().to_vec();
        value[30] ^= 0x01;
        events.insert(key, value).unwrap();
        db.flush().unwrap();
    }
    assert_eq!(check(&ledger, "altered"), Outcome::BadRecord);
}
