//! "Durable when the command returns" (`docs/architecture.md`, "Promises"), checked on the
//! system calls: under `strace -f`, every write to a file of the ledger directory is followed
//! by an `fsync` or `fdatasync` of that file before the command prints its acknowledgement.
//! `sync_file_range`, which sled uses, does not count: it neither flushes the disk's cache
//! nor writes the file's metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::support::pbr_ok;

/// One system call of a trace: its name and the raw line.
struct Call<'a> {
    name: &'a str,
    line: &'a str,
}

/// The calls of an `strace -f` trace, with `<unfinished ...>` and `<... resumed>` halves
/// joined by taking the start (the call's name and arguments) at its start line and the
/// result at its resumption; only what this test reads of them.
fn calls(trace: &str) -> Vec<Call<'_>> {
    trace
        .lines()
        .filter_map(|line| {
            // "PID  name(args) = result" or "PID  <... name resumed>..."
            let rest = line.split_once(char::is_whitespace)?.1.trim_start();
            if rest.starts_with("<...") || rest.starts_with("+++") || rest.starts_with("---") {
                return None;
            }
            let name = rest.split_once('(')?.0;
            Some(Call { name, line: rest })
        })
        .collect()
}

/// The first argument of a call, as a file descriptor.
fn fd_of(call: &Call<'_>) -> Option<u32> {
    let args = call.line.split_once('(')?.1;
    let digits: String = args.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The path an `openat` opened and the descriptor it returned.
fn opened(call: &Call<'_>) -> Option<(String, u32)> {
    let path = call.line.split('"').nth(1)?.to_owned();
    let fd = call
        .line
        .rsplit_once("= ")?
        .1
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((path, fd))
}

/// Checks a trace of a command that wrote to `ledger`: returns the files of the ledger
/// written and not synced before its first write to standard output, which is where its
/// acknowledgement starts (nothing is printed before it).
fn unsynced_before_ack(trace: &str, ledger: &Path) -> Result<Vec<String>, String> {
    let ledger = ledger.to_str().unwrap();
    // Which file each descriptor names now (descriptors are reused after close).
    let mut files: BTreeMap<u32, String> = BTreeMap::new();
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    for call in calls(trace) {
        match call.name {
            "openat" => {
                if let Some((path, fd)) = opened(&call) {
                    files.insert(fd, path);
                }
            }
            "write" | "pwrite64" | "pwritev" | "pwritev2" | "writev" => {
                let Some(fd) = fd_of(&call) else { continue };
                if fd == 1 {
                    return Ok(dirty.into_iter().collect());
                }
                // `LOCK` holds only the holder's process id, a courtesy no one relies on
                // after a crash (the lock is the `flock`).
                if let Some(path) = files.get(&fd)
                    && path.starts_with(ledger)
                    && !path.ends_with("/LOCK")
                {
                    dirty.insert(path.clone());
                }
            }
            "fsync" | "fdatasync" => {
                if let Some(path) = fd_of(&call).and_then(|fd| files.get(&fd)) {
                    dirty.remove(path);
                }
            }
            _ => {}
        }
    }
    Err("nothing was written to standard output".to_owned())
}

fn strace_available() -> bool {
    Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn every_file_an_append_writes_is_synced_before_it_is_acknowledged() {
    if !strace_available() {
        // `.ci/run` installs strace; a machine without it cannot run this check.
        eprintln!("skipped: strace is not installed (apt-get install strace)");
        return;
    }
    let (dir, ledger, keys) = crate::scenarios::load_scenario("c");
    let trace = dir.path().join("trace.txt");
    let log = crate::support::log_key("test/c");
    let log_key = crate::support::key_file(dir.path(), &log);
    let witness = crate::support::key_file(dir.path(), &crate::support::witness_key("aalborg"));
    let state = dir.path().join("aalborg-witness-state");
    let cases: [(&str, Vec<&str>); 4] = [
        (
            "a one-fact append",
            vec![
                "cost",
                "--contract",
                "scenario-c",
                "--date",
                "2027-03-31",
                "--key",
                &keys["fokus"],
                "--party",
                "fokus",
                "--amount",
                "12.34",
            ],
        ),
        (
            "an issued statement",
            vec![
                "settle",
                "--contract",
                "scenario-c",
                "--period",
                "2024-Q1",
                "--issue",
                "--key",
                &keys["aalborg"],
            ],
        ),
        (
            "a checkpoint",
            vec!["checkpoint", "sign", "--key", &log_key],
        ),
        (
            "a witness's cosignature",
            vec![
                "witness",
                "cosign",
                "--key",
                &witness,
                "--state",
                state.to_str().unwrap(),
                "--time",
                "1768435200",
            ],
        ),
    ];
    for (what, args) in cases {
        let mut command = Command::new("strace");
        command
            .args(["-f", "-qq", "-o"])
            .arg(&trace)
            .args([
                "-e",
                "trace=openat,write,pwrite64,pwritev,pwritev2,writev,fsync,fdatasync",
                env!("CARGO_BIN_EXE_pbr"),
                "--ledger",
                &ledger,
            ])
            .args(&args)
            .env_remove("PBR_LEDGER");
        let output = command.output().expect("strace runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{what}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(&trace).unwrap();
        match unsynced_before_ack(&text, Path::new(&ledger)) {
            Ok(unsynced) => assert!(
                unsynced.is_empty(),
                "{what}: acknowledged before these files were synced: {unsynced:?}"
            ),
            Err(e) => panic!("{what}: {e}; stdout: {stdout}"),
        }
    }
    pbr_ok(&["--ledger", &ledger, "verify"]);
}

/// The checker itself: a write not synced before the acknowledgement is found, a synced one
/// is not, `sync_file_range` does not count, and a reused descriptor names its new file.
#[test]
fn the_trace_checker_finds_an_unsynced_write() {
    let ledger = Path::new("/l");
    let trace = |lines: &[&str]| lines.iter().map(|l| format!("7 {l}\n")).collect::<String>();
    let synced = trace(&[
        r#"openat(AT_FDCWD, "/l/sled/db", O_RDWR|O_CREAT|O_CLOEXEC, 0666) = 4"#,
        r#"pwrite64(4, "abc", 3, 0) = 3"#,
        "fsync(4) = 0",
        r#"write(1, "1 appended\n", 11) = 11"#,
    ]);
    assert_eq!(unsynced_before_ack(&synced, ledger), Ok(vec![]));
    let range_only = trace(&[
        r#"openat(AT_FDCWD, "/l/sled/db", O_RDWR|O_CREAT|O_CLOEXEC, 0666) = 4"#,
        r#"pwrite64(4, "abc", 3, 0) = 3"#,
        "sync_file_range(4, 0, 3, SYNC_FILE_RANGE_WRITE) = 0",
        r#"write(1, "1 appended\n", 11) = 11"#,
        "fsync(4) = 0",
    ]);
    assert_eq!(
        unsynced_before_ack(&range_only, ledger),
        Ok(vec!["/l/sled/db".to_owned()])
    );
    let reused = trace(&[
        r#"openat(AT_FDCWD, "/l/sled/db", O_RDWR) = 4"#,
        "fsync(4) = 0",
        r#"openat(AT_FDCWD, "/l/COMMITTED.tmp", O_WRONLY|O_CREAT) = 4"#,
        r#"write(4, "x", 1) = 1"#,
        r#"write(1, "1 appended\n", 11) = 11"#,
    ]);
    assert_eq!(
        unsynced_before_ack(&reused, ledger),
        Ok(vec!["/l/COMMITTED.tmp".to_owned()])
    );
    let silent = trace(&[r#"openat(AT_FDCWD, "/l/sled/db", O_RDWR) = 4"#]);
    assert!(unsynced_before_ack(&silent, ledger).is_err());
}
