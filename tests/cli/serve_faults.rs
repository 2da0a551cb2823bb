//! `pbr serve` under faults (`docs/protocol.md`, "Operation"; `docs/reliability.md`, "The
//! server"): killed with SIGKILL while clients submit, under a bounded load, and replaced by
//! a dishonest operator who drops or swaps a record it had acknowledged and receipted.
//!
//! Real servers on 127.0.0.1, real HTTP, the real binary. Every loop is bounded in count and
//! time; every server is a [`Server`], killed and waited for when dropped, on failure too.
//! Kill moments are drawn from a fixed seed ([`Seeded`]), so a failure can be replayed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pbr_core::event::{Event, Payload};
use pbr_core::ids::EventId;
use pbr_core::money::{Currency, Money};
use pbr_ledger::sample;
use pbr_log::hash::leaf_hash;
use pbr_log::{Record, SignedCheckpoint, TlogProof};
use serde_json::Value;

use crate::serve::{Server, demo_records, frame, fresh_ledger, indices, token, verified_size};
use crate::support::{Seeded, log_key, pbr, pbr_ok};

/// A client of its own for a submitter thread: statuses are answers, not errors, and no
/// request outlives 30 s.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// What became of one `POST /add`.
enum Posted {
    /// A `200`: `(index, new)` per record of the body.
    Acknowledged(Vec<(u64, bool)>),
    /// Another status, with its line.
    Refused(u16, String),
    /// No answer: the connection failed or was cut (the server is gone).
    NoAnswer,
}

fn post_add(agent: &ureq::Agent, url: &str, body: &[u8]) -> Posted {
    let response = agent
        .post(url)
        .header("Content-Type", "application/octet-stream")
        .send(body);
    let Ok(mut response) = response else {
        return Posted::NoAnswer;
    };
    let status = response.status().as_u16();
    // A body cut off by the kill is no acknowledgement.
    let Ok(text) = response.body_mut().read_to_string() else {
        return Posted::NoAnswer;
    };
    if status != 200 {
        return Posted::Refused(status, text);
    }
    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        return Posted::NoAnswer;
    };
    let records = value["records"]
        .as_array()
        .expect("a 200 lists the records")
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["new"].as_bool().unwrap()))
        .collect();
    Posted::Acknowledged(records)
}

/// The records of a stopped ledger's log, in order, read through [`pbr_ledger::Ledger::open`]
/// as every command opens it (`pbr export` would write only what a quorum-cosigned
/// checkpoint covers, and these ledgers have no witnesses).
fn logged(ledger: &str) -> Vec<Vec<u8>> {
    let ledger = pbr_ledger::Ledger::open(Path::new(ledger)).unwrap();
    let log: Vec<Vec<u8>> = (0..ledger.log().len())
        .map(|seq| ledger.log().read_bytes(seq).unwrap())
        .collect();
    ledger.close().unwrap();
    log
}

/// `pbr verify --json` of a stopped ledger: its size and root (hex). It must pass.
fn verified(ledger: &str, what: &str) -> (u64, String) {
    let run = pbr(&["--ledger", ledger, "verify", "--json"]);
    assert_eq!(
        run.code, 0,
        "{what}: the ledger does not verify: {}{}",
        run.stdout, run.stderr
    );
    let value: Value = serde_json::from_str(&run.stdout).unwrap();
    (
        value["records"].as_u64().unwrap(),
        value["root"].as_str().unwrap().to_owned(),
    )
}

/// The checkpoint a server publishes, read with `reader`'s token, checked against the log key.
fn published(server: &Server, reader: &str) -> SignedCheckpoint {
    let answer = server.get("/checkpoint", Some(reader));
    assert_eq!(answer.status, 200, "{}", answer.text());
    let note = SignedCheckpoint::parse(&answer.text()).unwrap();
    let log_vkey = log_key(sample::SAMPLE_ORIGIN).verifier_key();
    assert!(
        !note
            .verify(std::slice::from_ref(&log_vkey))
            .unwrap()
            .is_empty(),
        "the published checkpoint is not signed by the log key"
    );
    note
}

/// Submitter threads per crash run.
const CLIENTS: usize = 3;
/// Crash runs, each on a fresh ledger.
const CRASH_RUNS: usize = 4;

/// The crash test. The demo's 618 records, in log order, are cut into batches of 1 to 20
/// (seeded). Records depend on earlier ones (a status needs its enrolment), so every client
/// submits every batch, in order, each once, and sends a batch only after its previous one
/// was acknowledged: a batch is then appended by whichever client is first, always after
/// the batch before it, and the others are answered `new: false` with the same indices.
/// So the log is always a prefix of the batches, cut at a batch's end, and batch `j` is at
/// the indices `offset(j)..offset(j + 1)` whoever appended it. Three clients keep several
/// requests in flight at the sequencer when the server is SIGKILLed (after 50 to 400 ms);
/// the server publishes a checkpoint every second, so kills land while publishing too.
#[test]
fn serve_killed_while_submitting_keeps_every_acknowledged_record_and_no_partial_batch() {
    let records = demo_records();
    let mut seeds = Seeded(0x5eed_0020);
    let mut batches: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    while start < records.len() {
        let end = (start + 1 + seeds.next_below(20) as usize).min(records.len());
        batches.push(start..end);
        start = end;
    }
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        batches
            .iter()
            .map(|range| frame(&records[range.clone()]))
            .collect(),
    );
    let ends: Vec<u64> = std::iter::once(0)
        .chain(batches.iter().map(|r| r.end as u64))
        .collect();
    let (mut cut_short, mut acknowledged_runs) = (0, 0);
    for run in 0..CRASH_RUNS {
        let dir = tempfile::tempdir().unwrap();
        let (ledger, key) = fresh_ledger(dir.path());
        let reader = token(&ledger, "fokus-provider", false);
        let server = Server::start(
            &ledger,
            &key,
            &["--checkpoint-every", "1", "--rate", "1000000"],
        );
        let url = server.url("/add");
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                let (bodies, url) = (bodies.clone(), url.clone());
                std::thread::spawn(move || {
                    let agent = agent();
                    let mut acknowledged = Vec::new();
                    for (batch, body) in bodies.iter().enumerate() {
                        match post_add(&agent, &url, body) {
                            Posted::Acknowledged(answer) => acknowledged.push((batch, answer)),
                            Posted::Refused(status, line) => {
                                return Err(format!("batch {batch}: {status} {line}"));
                            }
                            Posted::NoAnswer => break,
                        }
                    }
                    Ok(acknowledged)
                })
            })
            .collect();
        let delay = Duration::from_millis(50 + seeds.next_below(351));
        std::thread::sleep(delay);
        server.kill();
        let mut acknowledged: Vec<(usize, Vec<(u64, bool)>)> = Vec::new();
        for client in clients {
            match client.join().expect("a client thread ends") {
                Ok(answers) => acknowledged.extend(answers),
                Err(refusal) => panic!("run {run}: a submission was refused: {refusal}"),
            }
        }

        // Every acknowledged record is at the index its batch has in the demo's order.
        let mut acknowledged_end = 0;
        for (batch, answer) in &acknowledged {
            let expected: Vec<u64> = (ends[*batch]..ends[batch + 1]).collect();
            let got: Vec<u64> = answer.iter().map(|(index, _)| *index).collect();
            assert_eq!(got, expected, "run {run}: batch {batch}'s indices");
            acknowledged_end = acknowledged_end.max(ends[batch + 1]);
        }

        // The killed ledger verifies (a crash is never damage), holds every acknowledged
        // batch, and ends at a batch's end: an unacknowledged batch is wholly there or
        // wholly absent.
        let (size, root) = verified(&ledger, &format!("run {run}, killed after {delay:?}"));
        eprintln!(
            "run {run}: killed after {delay:?}: {} acknowledgements, acknowledged up to {}, \
             the log holds {size} of {} records",
            acknowledged.len(),
            acknowledged_end,
            records.len()
        );
        assert!(
            size >= acknowledged_end,
            "run {run}: {size} records, but {acknowledged_end} were acknowledged"
        );
        assert!(
            ends.contains(&size),
            "run {run}: {size} records is not the end of a batch: a batch was cut"
        );
        let log = logged(&ledger);
        assert_eq!(log.len() as u64, size);
        for (index, record) in log.iter().enumerate() {
            assert!(
                record == &records[index],
                "run {run}: seq {index} is not the record submitted at that index"
            );
        }

        // Restarted on the same ledger: it publishes a checkpoint of everything there, and
        // takes the batches again, answering each that was there (acknowledged or not) with
        // its indices and `new: false`, and appending the rest.
        let server = Server::start(&ledger, &key, &["--checkpoint-every", "3600"]);
        let note = published(&server, &reader);
        assert_eq!(
            (
                note.checkpoint.size,
                pbr_log::hex::encode(&note.checkpoint.root)
            ),
            (size, root),
            "run {run}: the restart's checkpoint"
        );
        for (batch, range) in batches.iter().enumerate() {
            let (_, answer) = indices(&server.add(&records[range.clone()]));
            let there = ends[batch + 1] <= size;
            let expected: Vec<(u64, bool)> = (ends[batch]..ends[batch + 1])
                .map(|index| (index, !there))
                .collect();
            assert_eq!(
                answer, expected,
                "run {run}: batch {batch} after the restart"
            );
        }
        assert_eq!(server.stop(), 0);
        assert_eq!(verified_size(&ledger), records.len() as u64);
        assert_eq!(logged(&ledger), records);

        if !acknowledged.is_empty() {
            acknowledged_runs += 1;
        }
        if size < records.len() as u64 {
            cut_short += 1;
        }
    }
    // The kills must land while the clients submit, or the test proves less than it says.
    assert!(
        acknowledged_runs > 0 && cut_short > 0,
        "{acknowledged_runs} runs with acknowledgements, {cut_short} cut short"
    );
}

/// Concurrent submitters of the load test.
const SUBMITTERS: u64 = 4;
/// How long they submit.
const LOAD_TIME: Duration = Duration::from_secs(5);
/// Records per body.
const LOAD_BATCH: u64 = 50;
/// Bodies per submitter, at most, whatever the machine's speed.
const LOAD_MAX_BATCHES: u64 = 2_000;

/// A cost of the demo contract by the provider, signed with its demo key, distinct for each
/// `(submitter, n)`: an amount and an id of its own. Costs depend on nothing but the
/// contract, so the submitters' streams are independent of each other.
fn cost(template: &Event, submitter: u64, n: u64) -> Vec<u8> {
    let mut event = template.clone();
    let Payload::CostRecorded(cost) = &mut event.payload else {
        panic!("the template is a cost");
    };
    cost.amount = Money::from_minor(
        i64::try_from(1_000_000 * (submitter + 1) + n).unwrap(),
        Currency::DKK,
    );
    event.id = EventId::derived(b"serve-faults load", &format!("{submitter}/{n}"));
    let key = sample::demo_key("fokus-provider");
    Record::sign(event.encode().unwrap(), key.signing_key())
        .unwrap()
        .encode()
        .unwrap()
}

/// The load test: four submitters on loopback, each sending its own stream of new costs in
/// bodies of 50 for five seconds (at most 2,000 bodies each); every record acknowledged must
/// then be in the log at its index, byte for byte, and nothing else. The rate is printed,
/// never asserted.
#[test]
fn serve_under_load_loses_no_acknowledged_record() {
    let records = demo_records();
    let dir = tempfile::tempdir().unwrap();
    let (ledger, key) = fresh_ledger(dir.path());
    let server = Server::start(
        &ledger,
        &key,
        &["--checkpoint-every", "1", "--rate", "1000000"],
    );
    // The contract, which every cost needs.
    let (size, _) = indices(&server.add(&records[..1]));
    assert_eq!(size, 1);
    let template = records
        .iter()
        .map(|bytes| Event::decode(&Record::decode(bytes).unwrap().event_bytes).unwrap())
        .find(|event| matches!(event.payload, Payload::CostRecorded(_)))
        .expect("the demo records a cost");
    let template = Arc::new(template);
    let url = server.url("/add");
    let started = Instant::now();
    let deadline = started + LOAD_TIME;
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|submitter| {
            let (template, url) = (template.clone(), url.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut acknowledged: Vec<(u64, Vec<u8>)> = Vec::new();
                let mut n = 0;
                for _ in 0..LOAD_MAX_BATCHES {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let batch: Vec<Vec<u8>> = (n..n + LOAD_BATCH)
                        .map(|k| cost(&template, submitter, k))
                        .collect();
                    n += LOAD_BATCH;
                    match post_add(&agent, &url, &frame(&batch)) {
                        Posted::Acknowledged(answer) => {
                            assert_eq!(answer.len(), batch.len());
                            for ((index, new), record) in answer.into_iter().zip(batch) {
                                assert!(new, "submitter {submitter}: a new cost was not new");
                                acknowledged.push((index, record));
                            }
                        }
                        Posted::Refused(status, line) => {
                            panic!("submitter {submitter}: {status} {line}")
                        }
                        Posted::NoAnswer => panic!("submitter {submitter}: no answer"),
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged: Vec<(u64, Vec<u8>)> = Vec::new();
    for submitter in submitters {
        acknowledged.extend(submitter.join().expect("a submitter ends"));
    }
    let elapsed = started.elapsed();
    assert_eq!(server.stop(), 0);
    let count = acknowledged.len() as u64;
    eprintln!(
        "serve under load: {count} records acknowledged to {SUBMITTERS} submitters in bodies \
         of {LOAD_BATCH} in {:.2} s: {:.0} records/s",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );
    assert!(count > 0, "nothing was acknowledged");

    // Zero lost: the log is the contract and exactly the acknowledged records, each at the
    // index its answer gave.
    let (size, _) = verified(&ledger, "after the load");
    assert_eq!(size, 1 + count);
    let log = logged(&ledger);
    acknowledged.sort_by_key(|(index, _)| *index);
    for (expected, (index, record)) in (1..).zip(&acknowledged) {
        assert_eq!(
            *index, expected,
            "two acknowledgements share an index, or one is missing"
        );
        assert!(
            &log[*index as usize] == record,
            "seq {index} is not the record acknowledged there"
        );
    }
}

/// How the dishonest operator rewrites what it acknowledged.
#[derive(Clone, Copy, Debug)]
enum Dishonesty {
    /// Drops the record at [`TARGET`] and appends the next one, so that the log keeps its size.
    Drop,
    /// Swaps the record at [`TARGET`] with one five places later.
    Swap,
}

/// Records the honest operator acknowledges and receipts.
const HONEST: usize = 40;
/// The record the dishonest operator moves: a January status, which no other of the first
/// 41 records depends on.
const TARGET: usize = 31;

/// A party keeps a receipt and a mirror; the operator then serves, under the same log key,
/// a history of the same origin and size without the receipted record at its index (dropped,
/// or swapped with another). The mirror refuses it as a fork (exit 7) with evidence that
/// `pbr fork verify` accepts, and the kept receipt, which verifies against the checkpoint it
/// came with, does not verify against the new server's checkpoint.
#[test]
fn serve_that_drops_or_swaps_an_acknowledged_record_is_caught_by_mirror_and_receipt() {
    let records = demo_records();
    let log_vkey = log_key(sample::SAMPLE_ORIGIN).verifier_key().to_string();
    for dishonesty in [Dishonesty::Drop, Dishonesty::Swap] {
        let dir = tempfile::tempdir().unwrap();
        let honest = dir.path().join("honest");
        std::fs::create_dir_all(&honest).unwrap();
        let (ledger, key) = fresh_ledger(&honest);
        let reader = token(&ledger, "fokus-provider", false);
        let operator = token(&ledger, "operator", true);
        let server = Server::start(&ledger, &key, &["--checkpoint-every", "3600"]);
        for range in [0..25, 25..HONEST] {
            let (_, answer) = indices(&server.add(&records[range.clone()]));
            let expected: Vec<(u64, bool)> = range.map(|i| (i as u64, true)).collect();
            assert_eq!(answer, expected);
        }
        let signed = server.post("/checkpoint", Some(&operator), b"");
        assert_eq!(signed.status, 200, "{}", signed.text());

        // The party: its token, the receipt of the target record, a mirror.
        let party = dir.path().join("party");
        std::fs::create_dir_all(party.join("receipts")).unwrap();
        let token_file = party.join("token");
        std::fs::write(&token_file, &reader).unwrap();
        let receipt = server.get(&format!("/receipt/{TARGET}"), Some(&reader));
        assert_eq!(receipt.status, 200, "{}", receipt.text());
        let receipt_file = party.join(format!("receipts/{TARGET}.tlog-proof"));
        std::fs::write(&receipt_file, &receipt.body).unwrap();
        let mirror = party.join("mirror").to_str().unwrap().to_owned();
        pbr_ok(&[
            "--token-file",
            token_file.to_str().unwrap(),
            "clone",
            &server.url(""),
            &mirror,
            "--log-key",
            &log_vkey,
        ]);
        let mirrored = verified(&mirror, "the clone");
        assert_eq!(mirrored.0, HONEST as u64);
        assert_eq!(server.stop(), 0);

        // The dishonest operator: a new ledger of the same origin, the tokens it issued, the
        // same log key, the acknowledged records but one out of place.
        let forged_dir = dir.path().join("dishonest");
        std::fs::create_dir_all(&forged_dir).unwrap();
        let (forged_ledger, forged_key) = fresh_ledger(&forged_dir);
        let tokens = pbr_server::tokens_path(Path::new(&forged_ledger));
        std::fs::create_dir_all(tokens.parent().unwrap()).unwrap();
        std::fs::copy(pbr_server::tokens_path(Path::new(&ledger)), &tokens).unwrap();
        let mut forged: Vec<Vec<u8>> = records[..HONEST].to_vec();
        match dishonesty {
            Dishonesty::Drop => {
                forged.remove(TARGET);
                forged.push(records[HONEST].clone());
            }
            Dishonesty::Swap => forged.swap(TARGET, TARGET + 5),
        }
        assert_ne!(forged[TARGET], records[TARGET]);
        let server = Server::start(&forged_ledger, &forged_key, &["--checkpoint-every", "3600"]);
        let (size, _) = indices(&server.add(&forged));
        assert_eq!(size, HONEST as u64);
        let signed = server.post("/checkpoint", Some(&operator), b"");
        assert_eq!(signed.status, 200, "{}", signed.text());
        // The party's mirror reads the operator's URL; the new server is there now.
        let config_file = Path::new(&mirror).join("MIRROR.json");
        let mut config: Value =
            serde_json::from_str(&std::fs::read_to_string(&config_file).unwrap()).unwrap();
        config["url"] = Value::from(server.url(""));
        std::fs::write(&config_file, config.to_string()).unwrap();

        // (a) The mirror refuses the new history as a fork, changes nothing, and keeps
        // evidence that holds offline.
        let run = pbr(&["--ledger", &mirror, "pull"]);
        assert_eq!(run.code, 7, "{dishonesty:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains("fork"), "{}", run.stderr);
        assert_eq!(verified(&mirror, "after the fork"), mirrored);
        let forks: Vec<_> = std::fs::read_dir(Path::new(&mirror).join("forks"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(forks.len(), 1, "{dishonesty:?}");
        let evidence = forks[0].to_str().unwrap();
        let holds = pbr_ok(&["fork", "verify", evidence, "--log-key", &log_vkey]);
        assert!(holds.starts_with("holds: fork"), "{holds}");
        assert!(holds.contains(&format!("at seq {TARGET}")), "{holds}");

        // (b) The kept receipt verifies against the checkpoint it came with, signed by the log
        // key; against the new server's checkpoint of the same size, signed by the same key,
        // it does not: the two signed checkpoints contradict each other.
        let leaf = leaf_hash(&records[TARGET]);
        let kept = TlogProof::parse(&std::fs::read_to_string(&receipt_file).unwrap()).unwrap();
        assert_eq!(kept.index(), TARGET as u64);
        let then = SignedCheckpoint::parse(kept.checkpoint()).unwrap();
        let vkey = log_key(sample::SAMPLE_ORIGIN).verifier_key();
        assert!(!then.verify(std::slice::from_ref(&vkey)).unwrap().is_empty());
        kept.verify(&leaf, then.checkpoint.size, &then.checkpoint.root)
            .expect("the kept receipt verifies against its own checkpoint");
        let now = published(&server, &reader);
        assert_eq!(now.checkpoint.size, then.checkpoint.size);
        assert_ne!(now.checkpoint.root, then.checkpoint.root);
        assert!(
            kept.verify(&leaf, now.checkpoint.size, &now.checkpoint.root)
                .is_err(),
            "{dishonesty:?}: the kept receipt verifies against the rewritten log"
        );
        // What the new server proves at that index is another record.
        let answer = server.get(&format!("/receipt/{TARGET}"), Some(&reader));
        assert_eq!(answer.status, 200, "{}", answer.text());
        let other = TlogProof::parse(&answer.text()).unwrap();
        other
            .verify(
                &leaf_hash(&forged[TARGET]),
                now.checkpoint.size,
                &now.checkpoint.root,
            )
            .unwrap();
        assert!(
            other
                .verify(&leaf, now.checkpoint.size, &now.checkpoint.root)
                .is_err()
        );
        assert_eq!(server.stop(), 0);
    }
}
