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
    // A three-line C2SP checkpoint, signed by the log key and cosigned by the quorum's two
    // witnesses; the export names exactly those keys.
    let note = last["checkpoint"].as_str().unwrap();
    let (body, signatures) = note.split_once("\n\n").unwrap();
    assert_eq!(body.lines().count(), 3, "{note}");
    let signers: Vec<&str> = signatures
        .lines()
        .map(|line| {
            line.strip_prefix("\u{2014} ")
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        signers,
        [
            pbr_ledger::sample::SAMPLE_ORIGIN,
            "aalborg-jobcenter-witness",
            "fokus-provider-witness"
        ],
        "cosigned: {note}"
    );
    let mut exported: Vec<String> = last["verifier_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key.as_str().unwrap().to_owned())
        .collect();
    let mut trusted = crate::support::demo_trusted();
    exported.sort();
    trusted.sort();
    assert_eq!(exported, trusted);
}

/// A statement as `pbr explain --json` prints it, with the canonical bytes the ledger hashes
/// (docs/format.md §9), for the outside verifier to rebuild from the JSON alone.
fn statement_vector(ledger: &str, seq: u64) -> String {
    let statement: serde_json::Value = serde_json::from_str(&pbr_ok(&[
        "--ledger",
        ledger,
        "explain",
        &seq.to_string(),
        "--json",
    ]))
    .unwrap();
    let canonical = pbr_ledger::Ledger::open(std::path::Path::new(ledger))
        .unwrap()
        .statement_at(seq)
        .unwrap()
        .canonical_bytes()
        .unwrap();
    let hash = blake3::hash(&canonical).to_hex().to_string();
    assert_eq!(
        statement["hash"],
        hash.as_str(),
        "the hash covers the canonical bytes"
    );
    let vector = serde_json::json!({
        "statement": statement,
        "canonical_hex": pbr_core::ids::hex(&canonical),
        "hash": hash,
    });
    let mut text = serde_json::to_string_pretty(&vector).unwrap();
    text.push('\n');
    text
}

#[test]
fn statements_and_their_canonical_bytes_are_byte_stable() {
    // The demo's last statement: sustainment runs and the facility.
    let (_dir, ledger) = demo();
    let audit: serde_json::Value =
        serde_json::from_str(&pbr_ok(&["--ledger", &ledger, "audit", "--json"])).unwrap();
    let last = audit["statements"].as_array().unwrap().last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    golden("statement-demo.json", &statement_vector(&ledger, last));
    // Scenario A's 2013-Q4: decisions, rejections, a claw-back, a cap and the waterfall.
    let (_dir, ledger, keys) = crate::scenarios::load_scenario("a");
    let issued = crate::support::issue_quarters(
        &ledger,
        &keys["dwp"],
        &["2013-Q1", "2013-Q2", "2013-Q3", "2013-Q4"],
    );
    let seq = *issued.last().unwrap();
    golden("statement-a-2013-Q4.json", &statement_vector(&ledger, seq));
}
