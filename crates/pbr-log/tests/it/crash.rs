//! Crash safety: a child process appending batches is killed with SIGKILL at arbitrary
//! moments; after each kill the log must reopen, verify, be a dense prefix and hold only
//! whole batches.
//!
//! The child is this same test binary, re-run with a filter that selects
//! [`crash_child_appends_until_killed`] and an environment variable naming the ledger.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use pbr_log::{Log, Record, VerifyOptions};

use crate::support::key;

const CHILD_ENV: &str = "PBR_LOG_CRASH_CHILD_LEDGER";

/// The child's body. Without the environment variable it does nothing, so it passes when
/// the suite runs normally.
#[test]
fn crash_child_appends_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut log = match Log::open(dir) {
        Ok(log) => log,
        Err(_) => Log::create(dir, "crash.test/ledger").unwrap(),
    };
    let alice = key("alice", 1);
    let mut batch = log.len();
    let first_batch = batch + 1;
    loop {
        batch += 1;
        let size = 1 + (batch * 7919 % 97);
        let records: Vec<Record> = (0..size)
            .map(|item| {
                let event = format!("batch {batch} size {size} item {item}").into_bytes();
                Record::sign(event, alice.signing_key()).unwrap()
            })
            .collect();
        log.append(&records).unwrap();
        if batch == first_batch {
            // Tell the parent that appends are under way, so its kill lands mid-stream.
            println!("appending");
        }
    }
}

/// Checks that the log holds only whole batches, in order.
fn check_whole_batches(log: &Log) {
    let mut seq = 0;
    while seq < log.len() {
        let first = String::from_utf8(log.read(seq).unwrap().event_bytes).unwrap();
        let fields: Vec<&str> = first.split(' ').collect();
        let size: u64 = fields[3].parse().unwrap();
        assert_eq!(fields[5], "0", "batch starts mid-way at seq {seq}: {first}");
        for item in 0..size {
            assert!(
                seq + item < log.len(),
                "partial batch at seq {seq}: {first}"
            );
            let event = String::from_utf8(log.read(seq + item).unwrap().event_bytes).unwrap();
            assert_eq!(
                event,
                format!(
                    "{} {} {} {} item {item}",
                    fields[0], fields[1], fields[2], fields[3]
                )
            );
        }
        seq += size;
    }
}

#[test]
fn killed_appends_leave_whole_batches() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("ledger");
    let exe = std::env::current_exe().unwrap();
    let mut last_len = 0;
    for round in 0..6u64 {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_child_appends_until_killed",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &ledger)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let announced = lines.any(|line| line.is_ok_and(|l| l.contains("appending")));
        assert!(announced, "the child stopped before appending");
        std::thread::sleep(Duration::from_millis(5 + (round * 137) % 300));
        child.kill().unwrap(); // SIGKILL on Unix.
        child.wait().unwrap();
        let log = Log::open(&ledger).expect("the log reopens after SIGKILL");
        assert_eq!(log.damage(), None);
        let report = log
            .verify(
                VerifyOptions {
                    threads: 2,
                    incremental: false,
                },
                None,
                |_, _| {},
            )
            .expect("the log verifies after SIGKILL");
        assert_eq!(report.len, log.len());
        assert!(log.len() >= last_len, "records disappeared");
        check_whole_batches(&log);
        last_len = log.len();
    }
    assert!(last_len > 0, "the child never appended anything");
}
