//! A full disk: a small tmpfs, filled to the last block after a ledger was made on it.
//!
//! A command that writes fails with exit 6 and a plain message, leaving the ledger as it was;
//! the commands that only read (verify, log, balance, settle without --issue, the audit
//! report) still work; once space is freed, writing works again. Mounting a tmpfs needs
//! root: where the test cannot, it says so and passes without checking anything.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Run, pbr, pbr_ok};

const NO_SPACE: i32 = 6;

/// A mounted tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes a file until the file system refuses another byte.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 4096];
    while file.write_all(&block).is_ok() {}
    // What is left is smaller than a block: take it byte by byte.
    while file.write_all(&[0]).is_ok() {}
    let _ = file.sync_all();
}

fn costs(path: &Path, count: u32, cents: u32) {
    let mut csv = String::from("kind,contract,date,author,party,amount,id\n");
    for i in 0..count {
        csv.push_str(&format!(
            "cost-recorded,impact60-demo,2025-{:02}-{:02},fokus-provider,fokus-provider,{}.{cents:02},cost-{cents}-{i}\n",
            1 + i % 12,
            1 + i % 28,
            100 + i % 977
        ));
    }
    std::fs::write(path, csv).unwrap();
}

fn records(ledger: &str) -> u64 {
    let out: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", ledger, "verify", "--json"])).unwrap();
    out["records"].as_u64().unwrap()
}

fn one_error_line(run: &Run) -> String {
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("pbr: note: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    errors[0].to_owned()
}

#[test]
fn a_full_disk_refuses_writes_plainly_and_reading_goes_on() {
    let tmpfs = match Tmpfs::mount("16m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            eprintln!("skipped: cannot mount a tmpfs here (it needs root): {why}");
            return;
        }
    };
    let work = tempfile::tempdir().unwrap();
    let ledger: PathBuf = tmpfs.path().join("ledger");
    let l = ledger.to_str().unwrap();
    pbr_ok(&["demo", l]);
    let key = work.path().join("fokus-provider.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("fokus-provider").to_text(),
    )
    .unwrap();
    let key = key.to_str().unwrap();
    let first = work.path().join("first.csv");
    costs(&first, 2_000, 0);
    pbr_ok(&[
        "--ledger",
        l,
        "import",
        first.to_str().unwrap(),
        "--key",
        key,
    ]);
    let before = records(l);
    assert_eq!(before, 2_618);

    fill(&tmpfs.path().join("filler"));
    let second = work.path().join("second.csv");
    costs(&second, 3_000, 50);
    let run = pbr(&[
        "--ledger",
        l,
        "import",
        second.to_str().unwrap(),
        "--key",
        key,
    ]);
    assert_eq!(run.code, NO_SPACE, "{}", run.stderr);
    assert_eq!(
        one_error_line(&run),
        format!("pbr: error: no space left on device writing {l}")
    );

    // Reading needs no space: every reading command answers, about the ledger as it was.
    assert_eq!(records(l), before);
    for args in [
        vec!["log", "--from-seq", "2617"],
        vec!["balance"],
        vec!["settle", "--period", "2026-Q1"],
        vec!["report", "audit", "--format", "json"],
        vec!["audit"],
    ] {
        let mut all = vec!["--ledger", l];
        all.extend(args.iter());
        let run = pbr(&all);
        assert_eq!(run.code, 0, "{args:?} on a full disk: {}", run.stderr);
    }

    // Space freed, the same import goes through.
    std::fs::remove_file(tmpfs.path().join("filler")).unwrap();
    pbr_ok(&[
        "--ledger",
        l,
        "import",
        second.to_str().unwrap(),
        "--key",
        key,
    ]);
    assert_eq!(records(l), before + 3_000);
    assert!(
        ledger.join("RESERVE").is_file(),
        "the reserve is made again"
    );
}
