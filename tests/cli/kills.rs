//! Kills at random moments (`docs/reliability.md`): `pbr` is SIGKILLed while it imports,
//! appends one fact after another, issues a statement, signs a checkpoint and cosigns one as
//! a witness. After every kill the ledger must open and verify (a crash is never damage),
//! hold every append that was acknowledged, hold a batch whole or not at all, and never make
//! a command panic.
//!
//! The moments are drawn from a fixed seed, so a failure can be replayed; each loop is
//! bounded in count, and every child is killed and waited for.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Seeded, pbr, pbr_ok};

fn spawn(ledger: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pbr"))
        .arg("--ledger")
        .arg(ledger)
        .args(args)
        .env_remove("PBR_LEDGER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pbr starts")
}

/// Kills `child` after `delay` unless it ended first; returns whether it exited 0 (its
/// acknowledgement).
pub(crate) fn kill_after(mut child: Child, delay: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < delay {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("the child is reaped");
    assert_ne!(
        output.status.code(),
        Some(101),
        "pbr panicked: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.status.success()
}

/// The ledger's length after a kill: it must open and verify, with no panic and no damage.
fn length_after_kill(ledger: &str, what: &str) -> u64 {
    let run = pbr(&["--ledger", ledger, "verify", "--json"]);
    assert_eq!(
        run.code, 0,
        "{what}: the ledger does not verify after a kill: {}{}",
        run.stdout, run.stderr
    );
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    json["records"].as_u64().unwrap()
}

#[test]
fn a_killed_import_appends_all_of_its_rows_or_none() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("c");
    let mut moments = Seeded(0x5eed_0001);
    let rows = 1_500;
    let (mut whole, mut killed) = (0, 0);
    // Kill moments spread over one and a half times an import's own length on this machine,
    // so that both outcomes occur however fast it is.
    let mut span = 0;
    for trial in 0..17 {
        let file = dir.path().join(format!("costs-{trial}.csv"));
        let mut text = String::from("kind,contract,date,author,party,amount\n");
        for row in 0..rows {
            text.push_str(&format!(
                "cost-recorded,scenario-c,2027-03-31,fokus,fokus,{}.{:02}\n",
                1000 * (trial + 1) + row / 100,
                row % 100
            ));
        }
        std::fs::write(&file, text).unwrap();
        let before = length_after_kill(&ledger, "before");
        let child = spawn(
            &ledger,
            &["import", file.to_str().unwrap(), "--key", &keys["fokus"]],
        );
        let delay = if trial == 0 {
            Duration::from_secs(120)
        } else {
            Duration::from_millis(moments.next_below(span * 3 / 2))
        };
        let started = Instant::now();
        let acknowledged = kill_after(child, delay);
        if trial == 0 {
            span = started.elapsed().as_millis() as u64;
            assert!(acknowledged, "an import left alone finishes");
        }
        let after = length_after_kill(&ledger, &format!("import {trial}"));
        if acknowledged {
            assert_eq!(
                after,
                before + rows,
                "import {trial}: acknowledged, so whole"
            );
            whole += 1;
        } else {
            assert!(
                after == before || after == before + rows,
                "import {trial}: killed after {delay:?}, the ledger went from {before} to \
                 {after} records: a batch is whole or absent"
            );
            killed += 1;
        }
    }
    // The moments must reach both outcomes, or the test proves less than it says.
    assert!(whole > 0 && killed > 0, "{whole} whole, {killed} killed");
}

#[test]
fn every_acknowledged_one_fact_append_survives_a_kill() {
    let (_dir, ledger, keys) = crate::scenarios::load_scenario("c");
    let mut moments = Seeded(0x5eed_0002);
    let mut acknowledged = Vec::new();
    let mut killed = 0;
    let mut span = 0;
    for trial in 0..41u64 {
        let amount = format!("{}.{:02}", 7000 + trial, trial % 100);
        let delay = if trial == 0 {
            Duration::from_secs(60)
        } else {
            Duration::from_millis(moments.next_below(span * 3 / 2))
        };
        let started = Instant::now();
        let id = format!("kill-cost-{trial}");
        let child = spawn(
            &ledger,
            &[
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
                &amount,
                "--id",
                &id,
            ],
        );
        let done = kill_after(child, delay);
        if trial == 0 {
            span = started.elapsed().as_millis() as u64;
        }
        length_after_kill(&ledger, &format!("cost {trial}"));
        if done {
            acknowledged.push((7000 + trial) * 100 + trial % 100);
        } else {
            killed += 1;
        }
    }
    assert!(killed > 0 && !acknowledged.is_empty(), "{killed} killed");
    let log = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--json",
        "--kind",
        "cost-recorded",
    ]);
    for minor in &acknowledged {
        assert!(
            log.contains(&format!("\"minor\":{minor}}}")),
            "the acknowledged cost of {minor} minor units is missing"
        );
    }
}

#[test]
fn a_killed_issue_or_checkpoint_leaves_a_ledger_that_verifies() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("c");
    let mut moments = Seeded(0x5eed_0003);
    let log = crate::support::log_key("test/c");
    let log_key = crate::support::key_file(dir.path(), &log);
    let witness = crate::support::key_file(dir.path(), &crate::support::witness_key("aalborg"));
    let state = dir.path().join("aalborg-witness-state");
    let cosign = [
        "witness",
        "cosign",
        "--key",
        &witness,
        "--state",
        state.to_str().unwrap(),
        "--time",
        "1768435200",
    ];
    let periods = [
        "2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4", "2025-Q1", "2025-Q2",
    ];
    let mut next = 0;
    // One checkpoint left alone gives the span the kill moments spread over.
    let started = Instant::now();
    pbr_ok(&["--ledger", &ledger, "checkpoint", "sign", "--key", &log_key]);
    let span = started.elapsed().as_millis() as u64;
    for trial in 0..16 {
        let delay = Duration::from_millis(moments.next_below(span * 2));
        let before = length_after_kill(&ledger, "before");
        let (acknowledged, what) = if trial % 2 == 0 && next < periods.len() {
            let child = spawn(
                &ledger,
                &[
                    "settle",
                    "--contract",
                    "scenario-c",
                    "--period",
                    periods[next],
                    "--issue",
                    "--key",
                    &keys["aalborg"],
                ],
            );
            (kill_after(child, delay), format!("issue {}", periods[next]))
        } else if trial % 4 == 1 {
            let child = spawn(&ledger, &["checkpoint", "sign", "--key", &log_key]);
            (kill_after(child, delay), "checkpoint".to_owned())
        } else {
            // A witness's cosignature: the witness records what it cosigned, the ledger
            // stores the cosigned note.
            let child = spawn(&ledger, &cosign);
            (
                kill_after(child, delay),
                "checkpoint cosignature".to_owned(),
            )
        };
        let after = length_after_kill(&ledger, &what);
        if what.starts_with("issue") {
            assert!(after == before || after == before + 1, "{what}");
            if after == before + 1 {
                next += 1;
            }
            if acknowledged {
                assert_eq!(after, before + 1, "{what} was acknowledged");
            }
        } else {
            assert_eq!(after, before, "a checkpoint appends no record");
        }
    }
    // Every issued statement still matches its recomputation.
    pbr_ok(&["--ledger", &ledger, "audit"]);
    // Whatever a kill left of the witness's state, it cosigns the whole log again.
    pbr_ok(&["--ledger", &ledger, "checkpoint", "sign", "--key", &log_key]);
    let mut args = vec!["--ledger", ledger.as_str()];
    args.extend(cosign);
    let note = pbr_ok(&args);
    assert!(note.contains("\n\u{2014} aalborg-witness "), "{note}");
}
