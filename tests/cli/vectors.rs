//! The golden vectors of the sample ledger: its export, a kept checkpoint, and proofs,
//! exactly as `pbr` prints them. The sample ledger is deterministic, so a byte that moves
//! here is a change of format or of the sample, never noise.

use crate::support::{demo, golden, pbr_ok};

#[test]
fn sample_export_and_proofs_are_byte_stable() {
    let (_dir, ledger) = demo();
    golden(
        "sample-export.jsonl",
        &pbr_ok(&["--ledger", &ledger, "export"]),
    );
    golden(
        "sample-checkpoint-40.note",
        &pbr_ok(&["--ledger", &ledger, "checkpoint", "show", "--size", "40"]),
    );
    golden(
        "sample-inclusion-proof.json",
        &pbr_ok(&["--ledger", &ledger, "proof", "--seq", "42", "--json"]),
    );
    golden(
        "sample-inclusion-proof-at-40.json",
        &pbr_ok(&[
            "--ledger",
            &ledger,
            "proof",
            "--seq",
            "7",
            "--tree-size",
            "40",
            "--json",
        ]),
    );
    golden(
        "sample-consistency-proof.json",
        &pbr_ok(&[
            "--ledger",
            &ledger,
            "proof",
            "--consistency",
            "--from",
            "40",
            "--json",
        ]),
    );
}

#[test]
fn the_sample_export_has_what_the_issue_asks_for() {
    let (_dir, ledger) = demo();
    let export = pbr_ok(&["--ledger", &ledger, "export"]);
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, events) = lines.split_last().unwrap();
    assert!(events.len() >= 100);
    let keys: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| {
            &e["record_hex"].as_str().unwrap()[e["record_hex"].as_str().unwrap().len() - 192..]
                [..64]
        })
        .collect();
    assert!(keys.len() >= 2, "signed by at least two keys");
    let note = last["checkpoint"].as_str().unwrap();
    assert_eq!(note.matches("\n\u{2014} ").count(), 2, "co-signed: {note}");
    assert_eq!(last["verifier_keys"].as_array().unwrap().len(), 2);
}
