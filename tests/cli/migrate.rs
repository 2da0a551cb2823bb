//! `pbr migrate` on the format-1 fixture (`tests/fixtures/format1/`, made by the last
//! format-1 `pbr`): every other command refuses a format-1 ledger with one line naming
//! `pbr migrate`; the migration keeps the records byte for byte and the format-1 checkpoints
//! as history, rebuilds the caches in format 2 and leaves a ledger that needs a new
//! checkpoint; it refuses a ledger whose records do not match its own format-1 evidence,
//! naming the first bad seq; and a migration interrupted at any point (at each step, or by
//! SIGKILL at seeded moments) is finished by running it again, with the same result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pbr_log::hash::{self, Hash, v1};
use pbr_log::merkle::MemoryTree;
use pbr_log::migrate::Interrupt;
use serde_json::Value;

use crate::support::{Run, Seeded, pbr, pbr_ok, raw_sled};

/// The exit code of a ledger in another format (`docs/cli.md`).
const INPUT: i32 = 3;
const VERIFY_FAILED: i32 = 5;

/// The fixture's records and stored format-1 notes.
const RECORDS: u64 = 9;
const NOTES: usize = 4;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/format1")
}

/// The fixture's ledger unpacked into a new temporary directory, with the system's `tar`.
fn unpack() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(fixture().join("ledger.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar runs");
    assert!(status.success(), "tar -xzf failed");
    let ledger = dir.path().join("ledger").to_str().unwrap().to_owned();
    (dir, ledger)
}

fn key_file(name: &str) -> String {
    fixture()
        .join(format!("keys/{name}.key"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The verifier keys of the fixture's parties, from its contract.
fn verifier_keys() -> Vec<String> {
    let terms = std::fs::read_to_string(fixture().join("contract.toml")).unwrap();
    terms
        .lines()
        .filter_map(|line| line.strip_prefix("key = \""))
        .map(|key| key.trim_end_matches('"').to_owned())
        .collect()
}

/// The record bytes of the fixture's export (`record_hex`), and its checkpoint note.
fn exported() -> (Vec<Vec<u8>>, String) {
    let text = std::fs::read_to_string(fixture().join("export.jsonl")).unwrap();
    let mut records = Vec::new();
    let mut note = String::new();
    for line in text.lines() {
        let line: Value = serde_json::from_str(line).unwrap();
        match line["record_hex"].as_str() {
            Some(hex) => {
                assert_eq!(line["seq"], records.len() as u64);
                records.push(pbr_log::hex::decode(hex).unwrap());
            }
            None => note = line["checkpoint"].as_str().unwrap().to_owned(),
        }
    }
    (records, note)
}

/// The format-2 root and chain head of `records`, computed here from `docs/format.md` §3
/// rather than by the ledger.
fn format_two(records: &[Vec<u8>]) -> (Hash, Hash) {
    let mut tree = MemoryTree::new();
    let mut chain = hash::EMPTY_CHAIN;
    for bytes in records {
        tree.push(hash::leaf_hash(bytes));
        chain = hash::chain_hash(&chain, bytes);
    }
    (tree.root(), chain)
}

/// The trees of the log (`docs/format.md` §7; not the projections, which reading commands
/// write) and `COMMITTED`, to compare two ledgers by.
type Dump = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

fn dump(ledger: &str) -> Dump {
    let db = raw_sled(&Path::new(ledger).join("sled"));
    let mut dump = Dump::new();
    for name in db.tree_names() {
        let name = String::from_utf8(name.to_vec()).unwrap();
        if name.starts_with("projection.") || name == "__sled__default" {
            continue;
        }
        let tree = db.open_tree(&name).unwrap();
        let entries = tree
            .iter()
            .map(|entry| {
                let (key, value) = entry.unwrap();
                (key.to_vec(), value.to_vec())
            })
            .collect();
        dump.insert(name, entries);
    }
    drop(db);
    let committed = std::fs::read(Path::new(ledger).join("COMMITTED")).unwrap();
    dump.insert("COMMITTED".into(), vec![(Vec::new(), committed)]);
    dump
}

/// A ledger migrated without interruption, as every interrupted one must end.
fn reference() -> &'static Dump {
    static REFERENCE: std::sync::OnceLock<(tempfile::TempDir, Dump)> = std::sync::OnceLock::new();
    &REFERENCE
        .get_or_init(|| {
            let (dir, ledger) = unpack();
            pbr_ok(&["migrate", &ledger]);
            let dump = dump(&ledger);
            (dir, dump)
        })
        .1
}

/// Asserts that `run` is the one-line refusal of a format-1 ledger.
fn assert_refused_as_format_one(run: &Run, ledger: &str, what: &str) {
    assert_eq!(run.code, INPUT, "{what}: {}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stderr,
        format!(
            "pbr: error: ledger {ledger} is in format 1, which this pbr reads only to migrate \
             it; migrate it with: pbr migrate {ledger}\n"
        ),
        "{what}"
    );
}

#[test]
fn every_command_refuses_a_format_one_ledger_in_one_line_naming_pbr_migrate() {
    let (dir, ledger) = unpack();
    let export = fixture().join("export.jsonl");
    let out = dir.path().join("out.jsonl");
    let dwp = key_file("dwp");
    let commands: Vec<Vec<&str>> = vec![
        vec!["verify"],
        vec!["verify", "--incremental"],
        vec!["log"],
        vec!["settle", "--period", "2025-04"],
        vec!["balance"],
        vec!["audit"],
        vec!["export", "--out", out.to_str().unwrap()],
        vec!["proof", "--seq", "0"],
        vec!["checkpoint", "show"],
        vec!["checkpoint", "sign", "--key", &dwp],
        vec!["report", "audit"],
        vec![
            "bundle",
            "--settlement",
            "7",
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "pay",
            "--contract",
            "f1",
            "--date",
            "2025-05-01",
            "--key",
            &dwp,
            "--from",
            "dwp",
            "--to",
            "provider",
            "--amount",
            "1",
        ],
    ];
    for args in &commands {
        let mut line = vec!["--ledger", ledger.as_str()];
        line.extend(args);
        assert_refused_as_format_one(&pbr(&line), &ledger, &args.join(" "));
    }
    // A restore is no way around it: the ledger is not damaged, only older. The fixture's own
    // export is format 1, and refused as such before the ledger is looked at; a format-2
    // export of the same log (a migrated copy, signed by its log key) reaches the ledger,
    // and is refused for it.
    let run = pbr(&["restore", "--from", export.to_str().unwrap(), &ledger]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "export.jsonl:10: a format-1 export: restore it with the pbr that wrote it, then run \
             `pbr migrate`"
        ),
        "{}",
        run.stderr
    );
    let (_copy_dir, copy) = unpack();
    pbr_ok(&["migrate", &copy]);
    bind_and_checkpoint(&copy, dir.path());
    let format_two_export = dir.path().join("format2.jsonl");
    let format_two_export = format_two_export.to_str().unwrap();
    pbr_ok(&["--ledger", &copy, "export", "--out", format_two_export]);
    let run = pbr(&["restore", "--from", format_two_export, &ledger]);
    assert_refused_as_format_one(&run, &ledger, "restore");
    let run = pbr(&["--ledger", &ledger, "verify", "--json"]);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["exit_code"], INPUT);
    assert!(
        json["error"]
            .as_str()
            .unwrap()
            .ends_with(&format!("pbr migrate {ledger}")),
        "{json}"
    );
    assert!(!out.exists());
    // Refusing wrote nothing of ours: the ledger migrates as if untouched.
    pbr_ok(&["migrate", &ledger]);
    assert_eq!(&dump(&ledger), reference());
}

#[test]
fn migrate_keeps_the_records_byte_for_byte_and_the_format_one_checkpoints_as_history() {
    let (_dir, ledger) = unpack();
    let notes_before: Vec<Vec<u8>> = {
        let db = raw_sled(&Path::new(&ledger).join("sled"));
        let tree = db.open_tree("checkpoints").unwrap();
        tree.iter().map(|e| e.unwrap().1.to_vec()).collect()
    };
    assert_eq!(notes_before.len(), NOTES);
    let out = pbr_ok(&["migrate", &ledger]);
    let (records, exported_note) = exported();
    assert_eq!(records.len() as u64, RECORDS);
    let (root, chain) = format_two(&records);
    let root_hex = pbr_log::hex::encode(&root);
    assert_eq!(
        out,
        format!(
            "migrated ledger {ledger} to format 2: 9 records kept byte for byte, 4 format-1 \
             checkpoint notes kept as history (sizes 5, 9), new root {root_hex}\nthe ledger has \
             no format-2 checkpoint yet: sign one with: pbr --ledger {ledger} checkpoint sign \
             --key KEY\n"
        )
    );

    // The records are the export's, byte for byte; the history is every stored note.
    {
        let log = pbr_log::Log::open(Path::new(&ledger)).unwrap();
        assert_eq!(log.len(), RECORDS);
        for (seq, bytes) in records.iter().enumerate() {
            assert_eq!(&log.read_bytes(seq as u64).unwrap(), bytes, "seq {seq}");
        }
        let kept = log.format_one_checkpoints().unwrap();
        let kept: Vec<Vec<u8>> = kept.into_iter().map(String::into_bytes).collect();
        assert_eq!(kept, notes_before);
        assert_eq!(kept.last().unwrap(), exported_note.as_bytes());
        assert_eq!(log.root(), root);
        assert_eq!(log.chain_head(), chain);
        assert!(log.latest_checkpoint().unwrap().is_none());
    }
    // `COMMITTED` is the format-2 account, with no checkpoint note.
    let account = pbr_log::account::read(Path::new(&ledger)).unwrap().unwrap();
    assert_eq!(
        (account.size, account.root, account.chain, account.note),
        (RECORDS, root, chain, None)
    );

    // `verify` checks all 9 records and finds the format-2 root; under the parties' keys the
    // verdict fails for want of a checkpoint, which signing a new one gives.
    let json: Value =
        serde_json::from_str(&pbr_ok(&["--ledger", &ledger, "verify", "--json"])).unwrap();
    assert_eq!(json["records"], RECORDS);
    assert_eq!(json["root"], root_hex.as_str());
    assert_eq!(json["chain_head"], pbr_log::hex::encode(&chain).as_str());
    assert_eq!(json["checkpoints"], serde_json::json!([]));
    let mut line = vec!["--ledger", ledger.as_str(), "verify"];
    let keys = verifier_keys();
    for key in &keys {
        line.extend(["--key", key.as_str()]);
    }
    let run = pbr(&line);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("FAILED: quorum not met")
            && run.stdout.contains("the ledger has no checkpoint"),
        "{}",
        run.stdout
    );
    // The domain reads the migrated log as before.
    let run = pbr(&["--ledger", &ledger, "settle", "--period", "2025-03"]);
    assert!(
        run.stderr
            .contains("f1 is settled up to 2025-03 (statement seq 7)"),
        "{}",
        run.stderr
    );
    let balances = pbr_ok(&["--ledger", &ledger, "balance", "--json"]);
    assert!(balances.contains("provider"), "{balances}");
}

/// The fixture's terms amended to name the log (`[log]`, the tests' log key of its origin)
/// and the witness keys of the quorum's parties, as a format-2 contract must.
fn bound_terms() -> String {
    let origin = "test.example/format1";
    let terms = std::fs::read_to_string(fixture().join("contract.toml")).unwrap();
    let log = crate::support::log_key(origin).verifier_key();
    let mut bound = String::new();
    for line in terms.lines() {
        if line == "[[parties]]" && !bound.contains("[log]") {
            bound.push_str(&format!(
                "[log]\norigin = \"{origin}\"\nkey = \"{log}\"\n\n"
            ));
        }
        bound.push_str(line);
        bound.push('\n');
        for party in ["dwp", "provider"] {
            if line.starts_with(&format!("key = \"{party}+")) {
                let witness = crate::support::witness_key(party).verifier_key();
                bound.push_str(&format!("witness-key = \"{witness}\"\n"));
            }
        }
    }
    bound
}

/// Amends the terms of the migrated `ledger` to [`bound_terms`] and has the log key sign and
/// the quorum's witnesses cosign a checkpoint of it, so that it exports.
fn bind_and_checkpoint(ledger: &str, scratch: &Path) {
    let path = scratch.join("bound.toml");
    std::fs::write(&path, bound_terms()).unwrap();
    pbr_ok(&[
        "--ledger",
        ledger,
        "contract",
        "amend",
        path.to_str().unwrap(),
        "--key",
        &key_file("dwp"),
        "--effective",
        "2025-07-01",
    ]);
    crate::support::checkpoint(ledger, "test.example/format1", &["dwp", "provider"]);
}

/// A migrated ledger's terms are those registered before format 2, without `[log]`, and
/// their quorum's parties have no witness keys: no checkpoint can carry that quorum, so the
/// ledger exports nothing until the contract's next terms name the log and the witness keys;
/// this pbr signs no terms without `[log]`. Once they are amended and the witnesses cosign,
/// the export (the history before format 2 as it was signed, and the amendment) is admitted
/// into a new ledger of its origin, and refused by a ledger of another.
#[test]
fn a_migrated_history_exports_once_its_terms_name_the_log_and_imports_as_signed() {
    let origin = "test.example/format1";
    let (dir, ledger) = unpack();
    pbr_ok(&["migrate", &ledger]);
    crate::support::checkpoint(&ledger, origin, &[]);
    let export = dir.path().join("migrated.jsonl");
    let export = export.to_str().unwrap();
    let run = pbr(&["--ledger", &ledger, "export", "--out", export]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(
        run.stderr,
        "pbr: error: no checkpoint meets every contract's quorum, so nothing was exported: the \
         latest, of size 9, lacks the cosignatures of dwp and provider (the terms of f1 give \
         dwp and provider no witness-key: amend the terms to name them)\n"
    );
    assert!(!Path::new(export).exists());

    let verified = |ledger: &str| -> Value {
        serde_json::from_str(&pbr_ok(&["--ledger", ledger, "verify", "--json"])).unwrap()
    };
    // The same terms, amended by this pbr (a comment makes them a new text): refused.
    let terms = std::fs::read_to_string(fixture().join("contract.toml")).unwrap();
    assert!(!terms.contains("[log]"));
    let amend = |ledger: &str, name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        pbr(&[
            "--ledger",
            ledger,
            "contract",
            "amend",
            path.to_str().unwrap(),
            "--key",
            &key_file("dwp"),
            "--effective",
            "2025-07-01",
        ])
    };
    let run = amend(
        &ledger,
        "unbound.toml",
        &format!("{terms}# Amended in format 2.\n"),
    );
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "unbound.toml: the terms name no [log] (the origin and log key of the ledger they \
             belong to); this ledger is test.example/format1"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(verified(&ledger)["records"], RECORDS);

    // Naming the log, its key and the quorum's witness keys, they are taken.
    let run = amend(&ledger, "bound.toml", &bound_terms());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(verified(&ledger)["records"], RECORDS + 1);
    // The log key alone does not meet the quorum; with both witnesses it does.
    crate::support::checkpoint(&ledger, origin, &["dwp"]);
    let run = pbr(&["--ledger", &ledger, "export", "--out", export]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the latest, of size 10, lacks the cosignature of provider (provider-witness+"
        ),
        "{}",
        run.stderr
    );
    crate::support::cosign(&ledger, origin, "provider");
    pbr_ok(&["--ledger", &ledger, "export", "--out", export]);

    let copy = dir.path().join("copy");
    let copy = copy.to_str().unwrap();
    pbr_ok(&["init", copy, "--origin", origin]);
    let imported: Value =
        serde_json::from_str(&pbr_ok(&["--ledger", copy, "import", export, "--json"])).unwrap();
    assert_eq!(imported["appended"], RECORDS + 1, "{imported}");
    assert_eq!(verified(copy)["root"], verified(&ledger)["root"]);
    // The copy, too, signs no terms without `[log]`.
    let run = amend(copy, "unbound.toml", &format!("{terms}# Amended again.\n"));
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(verified(copy)["records"], RECORDS + 1);

    // Into a ledger of another origin the same export is refused whole, at the amendment
    // that names the log; and an export that holds no terms naming its log (here, of an empty
    // log) is refused too: its checkpoint names its log.
    let other = dir.path().join("other");
    let other = other.to_str().unwrap();
    pbr_ok(&["init", other, "--origin", "test.example/other"]);
    let run = pbr(&["--ledger", other, "import", export]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "{export}:10: the terms are for the log test.example/format1, but this ledger is \
             test.example/other"
        )),
        "{}",
        run.stderr
    );
    let empty = dir.path().join("empty");
    let empty = empty.to_str().unwrap();
    pbr_ok(&["init", empty, "--origin", origin]);
    crate::support::checkpoint(empty, origin, &[]);
    let empty_export = dir.path().join("empty.jsonl");
    let empty_export = empty_export.to_str().unwrap();
    pbr_ok(&["--ledger", empty, "export", "--out", empty_export]);
    let run = pbr(&["--ledger", other, "import", empty_export]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "checkpoint: an export of the log test.example/format1, but this ledger is \
             test.example/other"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(verified(other)["records"], 0);
}

#[test]
fn a_second_migrate_says_already_format_two_and_changes_nothing() {
    let (_dir, ledger) = unpack();
    pbr_ok(&["migrate", &ledger]);
    let before = dump(&ledger);
    let (records, _) = exported();
    let root = pbr_log::hex::encode(&format_two(&records).0);
    let out = pbr_ok(&["--ledger", &ledger, "migrate"]);
    assert_eq!(
        out,
        format!("ledger {ledger} is already format 2 (9 records, root {root}); nothing to do\n")
    );
    let json: Value = serde_json::from_str(&pbr_ok(&["migrate", &ledger, "--json"])).unwrap();
    assert_eq!(json["already"], true);
    assert_eq!(json["records"], RECORDS);
    assert_eq!(json["format_one_checkpoints"], NOTES);
    assert_eq!(dump(&ledger), before);
    assert_eq!(&before, reference());
}

#[test]
fn a_ledger_of_a_newer_format_is_refused_by_every_command_and_by_migrate() {
    let (_dir, ledger) = unpack();
    pbr_ok(&["migrate", &ledger]);
    {
        let db = raw_sled(&Path::new(&ledger).join("sled"));
        let meta = db.open_tree("meta").unwrap();
        meta.insert("format", &3u64.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    for args in [vec!["verify"], vec!["migrate"]] {
        let mut line = vec!["--ledger", ledger.as_str()];
        line.extend(&args);
        let run = pbr(&line);
        assert_eq!(run.code, INPUT, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "pbr: error: ledger {ledger} is in format 3, made by a newer pbr (this one reads \
                 format 2); use that pbr\n"
            )
        );
    }
}

/// Changes the fixture's `events` (and, with `caches`, rewrites its format-1 hash cache to
/// match, as someone covering their tracks would) through sled.
fn tamper(ledger: &str, change: impl FnOnce(&mut Vec<Vec<u8>>), caches: bool) {
    let db = raw_sled(&Path::new(ledger).join("sled"));
    let events = db.open_tree("events").unwrap();
    let mut records: Vec<Vec<u8>> = events.iter().map(|e| e.unwrap().1.to_vec()).collect();
    change(&mut records);
    for (seq, bytes) in records.iter().enumerate() {
        events
            .insert((seq as u64).to_be_bytes(), bytes.as_slice())
            .unwrap();
    }
    if caches {
        // One hash block of `leaf ‖ chain` per 64 records (`docs/format.md` §7), format 1.
        let mut block = Vec::new();
        let mut chain = hash::EMPTY_CHAIN;
        for bytes in &records {
            let leaf = v1::leaf_hash(bytes);
            chain = v1::chain_hash(&chain, &leaf);
            block.extend_from_slice(&leaf);
            block.extend_from_slice(&chain);
        }
        db.open_tree("hashes")
            .unwrap()
            .insert(0u64.to_be_bytes(), block)
            .unwrap();
    }
    db.flush().unwrap();
}

#[test]
fn a_changed_record_is_refused_naming_its_seq_and_the_ledger_stays_format_one() {
    for (what, at) in [("a byte of the event", 40), ("a byte of the signature", 1)] {
        let (_dir, ledger) = unpack();
        tamper(
            &ledger,
            |records| {
                let record = &mut records[4];
                let index = if at == 1 { record.len() - 1 } else { at };
                record[index] ^= 0x01;
            },
            false,
        );
        let run = pbr(&["migrate", &ledger]);
        assert_eq!(run.code, VERIFY_FAILED, "{what}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!(
                "pbr: error: cannot migrate ledger {ledger}: record at seq 4: "
            )),
            "{what}: {}",
            run.stderr
        );
        assert_refused_as_format_one(&pbr(&["--ledger", &ledger, "log"]), &ledger, what);
    }
}

#[test]
fn records_reordered_with_their_caches_rewritten_are_refused_by_the_format_one_checkpoints() {
    let (_dir, ledger) = unpack();
    tamper(&ledger, |records| records.swap(1, 2), false);
    let run = pbr(&["migrate", &ledger]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("record at seq 1: it differs from the format-1 hashes recorded"),
        "{}",
        run.stderr
    );
    // With the caches made to agree, the format-1 checkpoint of size 5 still disagrees.
    let (_dir, ledger) = unpack();
    tamper(&ledger, |records| records.swap(1, 2), true);
    let run = pbr(&["migrate", &ledger]);
    assert_eq!(run.code, VERIFY_FAILED, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the first 5 records have format-1 root")
            && run
                .stderr
                .contains("but the format-1 checkpoint of size 5 says root"),
        "{}",
        run.stderr
    );
    assert_refused_as_format_one(&pbr(&["--ledger", &ledger, "verify"]), &ledger, "verify");
}

#[test]
fn a_migration_interrupted_after_any_step_is_finished_by_the_next_with_the_same_result() {
    let steps = [
        Interrupt::AfterCheck,
        Interrupt::AfterHistory,
        Interrupt::AfterMarker,
        Interrupt::AfterClearing,
        Interrupt::AfterCaches,
        Interrupt::AfterAccount,
    ];
    for step in steps {
        let (_dir, ledger) = unpack();
        pbr_log::Log::migrate_interrupted(Path::new(&ledger), step).unwrap();
        // Until it is finished, the ledger is format 1 to every other command.
        assert_refused_as_format_one(
            &pbr(&["--ledger", &ledger, "verify"]),
            &ledger,
            &format!("{step:?}"),
        );
        let json: Value = serde_json::from_str(&pbr_ok(&["migrate", &ledger, "--json"])).unwrap();
        assert_eq!(json["records"], RECORDS, "{step:?}");
        assert_eq!(json["format_one_checkpoints"], NOTES, "{step:?}");
        let resumed = !matches!(step, Interrupt::AfterCheck | Interrupt::AfterHistory);
        assert_eq!(json["resumed"], resumed, "{step:?}");
        assert_eq!(&dump(&ledger), reference(), "{step:?}");
        let verified: Value =
            serde_json::from_str(&pbr_ok(&["--ledger", &ledger, "verify", "--json"])).unwrap();
        assert_eq!(verified["records"], RECORDS, "{step:?}");
    }
}

/// Starts `pbr migrate LEDGER`, kills it after `delay` unless it ended first, and returns
/// whether it acknowledged (exited 0) and how long it ran.
fn migrate_killed_after(ledger: &str, delay: Duration) -> (bool, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pbr"))
        .args(["migrate", ledger])
        .env_remove("PBR_LEDGER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pbr starts");
    let started = Instant::now();
    while started.elapsed() < delay && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let ran = started.elapsed();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert_ne!(
        output.status.code(),
        Some(101),
        "a panic: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), ran)
}

#[test]
fn a_migration_killed_at_any_moment_is_finished_by_the_next_with_the_same_result() {
    // A migration's length on this machine, the shortest of three left alone: its time varies
    // by half from run to run (fsyncs), and moments drawn below the shortest reach its end
    // (closing, after the format flag) as well as every step before.
    let mut span = Duration::MAX;
    for _ in 0..3 {
        let (_dir, ledger) = unpack();
        let (acknowledged, ran) = migrate_killed_after(&ledger, Duration::from_secs(120));
        assert!(acknowledged, "a migration left alone finishes");
        assert_eq!(&dump(&ledger), reference());
        span = span.min(ran);
    }
    let span = span.as_millis() as u64;
    let mut moments = Seeded(0x5eed_0f01);
    let (mut finished, mut killed) = (0, 0);
    for trial in 0..16 {
        let (_dir, ledger) = unpack();
        let delay = Duration::from_millis(moments.next_below(span));
        let (acknowledged, _) = migrate_killed_after(&ledger, delay);
        // Format 2 only when whole; otherwise format 1 to every command.
        let run = pbr(&["--ledger", &ledger, "verify", "--json"]);
        if run.code == 0 {
            finished += 1;
            assert_eq!(
                &dump(&ledger),
                reference(),
                "trial {trial}: format 2 but not whole"
            );
        } else {
            assert!(
                !acknowledged,
                "trial {trial}: acknowledged, yet not format 2"
            );
            killed += 1;
            let json: Value = serde_json::from_str(&run.stdout).unwrap();
            assert_eq!(json["exit_code"], INPUT, "trial {trial}: {json}");
            assert!(
                json["error"].as_str().unwrap().contains("pbr migrate"),
                "trial {trial}: {json}"
            );
            let json: Value =
                serde_json::from_str(&pbr_ok(&["migrate", &ledger, "--json"])).unwrap();
            assert_eq!(json["already"], false, "trial {trial}");
            assert_eq!(
                &dump(&ledger),
                reference(),
                "trial {trial}: after the restart"
            );
        }
    }
    // The kills must interrupt some migrations, or the test proves less than it says.
    assert!(
        killed > 0,
        "{finished} finished, {killed} killed after {span} ms or less"
    );
}
