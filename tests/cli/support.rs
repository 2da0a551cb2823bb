//! Running `pbr` and comparing against golden files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The output of one `pbr` run.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `pbr` with `args`, with no `PBR_LEDGER` from the outside.
pub(crate) fn pbr(args: &[&str]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_pbr"))
        .args(args)
        .env_remove("PBR_LEDGER")
        .output()
        .expect("pbr runs");
    Run {
        code: output.status.code().expect("pbr exits with a code"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `pbr` and insists on success.
pub(crate) fn pbr_ok(args: &[&str]) -> String {
    let run = pbr(args);
    assert_eq!(run.code, 0, "pbr {args:?} failed: {}", run.stderr);
    run.stdout
}

/// The repository's `tests/vectors/` directory.
pub(crate) fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors")
}

/// Compares `actual` with the golden file `name`, or rewrites it under `PBR_BLESS=1`.
pub(crate) fn golden(name: &str, actual: &str) {
    let path = vectors_dir().join(name);
    if std::env::var_os("PBR_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `just gen`", path.display()));
    assert!(
        expected == actual,
        "{} differs from what the program produces now; if the change is deliberate, run \
         `just gen` and review the diff",
        path.display()
    );
}

/// A demo ledger in a fresh temporary directory.
pub(crate) fn demo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo");
    let ledger = ledger.to_str().unwrap().to_owned();
    pbr_ok(&["demo", &ledger]);
    (dir, ledger)
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

/// Issues each of `quarters` in turn with `key` (a key file) and returns the seqs of their
/// `settlement-issued` events.
pub(crate) fn issue_quarters(ledger: &str, key: &str, quarters: &[&str]) -> Vec<u64> {
    quarters
        .iter()
        .map(|quarter| {
            let out: serde_json::Value = serde_json::from_str(&pbr_ok(&[
                "--ledger", ledger, "settle", "--period", quarter, "--issue", "--key", key,
                "--json",
            ]))
            .unwrap();
            out["issued_seq"].as_u64().unwrap()
        })
        .collect()
}

/// A small deterministic generator (SplitMix64), so that every trial of the fault suites
/// can be named and rerun.
pub(crate) struct Seeded(pub(crate) u64);

impl Seeded {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `bound` (0 when `bound` is 0).
    pub(crate) fn next_below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}
