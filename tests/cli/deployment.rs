//! The deployment of `docs/deployment.md`, on loopback with real processes: an operator runs
//! `pbr serve` holding only its log key; each party has a directory of its own (its "machine")
//! with its own event key and a mirror cloned from the server; every record of scenario A is
//! signed at its party and submitted with `--server`, and every statement is issued from the
//! commissioner's mirror. At the end the operator's directory holds no party's private key,
//! every mirror holds the operator's log byte for byte, and the balances are those of
//! `docs/scenarios.md` §5.A.5 (`tests/scenarios/a/expected.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pbr_core::cpr::{Cpr, PseudonymKey};
use serde_json::Value;

use crate::scenarios::repo;
use crate::serve::Server;
use crate::support::{Run, key_file, log_key, pbr, pbr_ok};

const ORIGIN: &str = "test/a";
/// The parties of scenario A that sign records, the commissioner first.
const PARTIES: [&str; 3] = ["dwp", "investor", "provider"];

/// One party's machine: its directory, its private key file, its token file and its mirror.
struct Party {
    name: &'static str,
    key: String,
    token: String,
    mirror: String,
}

impl Party {
    /// Runs `pbr --ledger MIRROR ARGS`.
    fn run(&self, args: &[&str]) -> Run {
        let mut all = vec!["--ledger", self.mirror.as_str()];
        all.extend_from_slice(args);
        pbr(&all)
    }

    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "{} {args:?}: {}", self.name, run.stderr);
        run.stdout
    }

    fn pull(&self) {
        self.ok(&["pull"]);
    }

    /// Runs a write command against the server, signed here; waits for the receipts.
    fn submit(&self, server: &str, args: &[&str]) -> String {
        let mut all = vec!["--server", server, "--receipt-wait", "60"];
        all.extend_from_slice(args);
        self.ok(&all)
    }
}

/// The rows of scenario A's import file, each as (author, CSV line), with the CPR numbers of
/// the parties other than the commissioner replaced by the participant's reference: only
/// the commissioner holds the pseudonym secret.
fn rows() -> (String, Vec<(String, String)>) {
    let text = std::fs::read_to_string(repo().join("tests/scenarios/a/events.csv")).unwrap();
    let secret = std::fs::read(repo().join("tests/scenarios/secret")).unwrap();
    let key = PseudonymKey::from_secret(&secret).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let columns: Vec<&str> = header.split(',').collect();
    let cpr = columns.iter().position(|c| *c == "cpr").unwrap();
    let author = columns.iter().position(|c| *c == "author").unwrap();
    let header = format!("{header},participant");
    let mut out = Vec::new();
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
        let who = cells[author].clone();
        let mut reference = String::new();
        if who != "dwp" && !cells[cpr].is_empty() {
            let (number, _) = Cpr::parse(&cells[cpr]).unwrap();
            reference = number.participant_ref(&key).to_string();
            cells[cpr].clear();
        }
        cells.push(reference);
        out.push((who, cells.join(",")));
    }
    (header, out)
}

/// Every file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    crate::privacy::files(dir)
}

#[test]
fn four_machines_run_scenario_a_through_the_server_and_every_mirror_is_the_operators_log() {
    let root = tempfile::tempdir().unwrap();
    // The operator's machine: the ledger and the log key, nothing else.
    let operator = root.path().join("operator");
    std::fs::create_dir_all(&operator).unwrap();
    let ledger = operator.join("ledger").to_str().unwrap().to_owned();
    pbr_ok(&["init", &ledger, "--origin", ORIGIN]);
    let log = log_key(ORIGIN);
    let log_file = key_file(&operator, &log);
    let mut tokens = BTreeMap::new();
    for party in PARTIES {
        let out: Value = serde_json::from_str(&pbr_ok(&[
            "--ledger", &ledger, "serve", "token", party, "--json",
        ]))
        .unwrap();
        tokens.insert(party, out["token"].as_str().unwrap().to_owned());
    }
    let server = Server::start(&ledger, &log_file, &["--checkpoint-every", "1"]);
    let url = server.url("");

    // Each party's machine: its own key, the token the operator gave it, a mirror.
    let parties: Vec<Party> = PARTIES
        .iter()
        .map(|&name| {
            let home = root.path().join(name);
            std::fs::create_dir_all(&home).unwrap();
            let key = key_file(&home, &pbr_ledger::sample::demo_key(name));
            let token = home.join("token");
            std::fs::write(&token, &tokens[name]).unwrap();
            let mirror = home.join("mirror").to_str().unwrap().to_owned();
            pbr_ok(&[
                "--token-file",
                token.to_str().unwrap(),
                "clone",
                &url,
                &mirror,
                "--log-key",
                &log.verifier_key().to_string(),
            ]);
            Party {
                name,
                key,
                token: token.to_str().unwrap().to_owned(),
                mirror,
            }
        })
        .collect();
    let party = |name: &str| parties.iter().find(|p| p.name == name).unwrap();
    let dwp = party("dwp");

    // The commissioner registers the terms; the receipt is kept in its mirror.
    let terms = repo().join("tests/scenarios/a/contract.toml");
    let out = dwp.submit(
        &url,
        &[
            "contract",
            "register",
            terms.to_str().unwrap(),
            "--key",
            &dwp.key,
        ],
    );
    assert!(out.starts_with("seq 0: appended by "), "{out}");
    assert!(
        Path::new(&dwp.mirror)
            .join("receipts/0.tlog-proof")
            .is_file()
    );
    // Submitted again before the mirror pulled it: the same fact, signed anew (another
    // recorded_at), is already in the log at seq 0, and that is not an error.
    let out = dwp.submit(
        &url,
        &[
            "contract",
            "register",
            terms.to_str().unwrap(),
            "--key",
            &dwp.key,
        ],
    );
    assert!(out.starts_with("seq 0: already recorded by "), "{out}");

    // Every row signed by its author on its own machine, in the file's order: each run of
    // rows by one author is one import, prepared on that party's freshly pulled mirror.
    let (header, rows) = rows();
    let secret = repo().join("tests/scenarios/secret");
    let mut start = 0;
    let mut batches = 0;
    while start < rows.len() {
        let author = rows[start].0.clone();
        let end = (start..rows.len())
            .find(|&i| rows[i].0 != author)
            .unwrap_or(rows.len());
        let who = party(&author);
        let file = root.path().join(format!("{author}-{start}.csv"));
        let body: Vec<&str> = rows[start..end].iter().map(|(_, l)| l.as_str()).collect();
        std::fs::write(&file, format!("{header}\n{}\n", body.join("\n"))).unwrap();
        who.pull();
        let mut args = vec!["import", file.to_str().unwrap(), "--key", who.key.as_str()];
        if author == "dwp" {
            args.extend(["--secret-file", secret.to_str().unwrap()]);
        }
        let out = who.submit(&url, &args);
        assert_eq!(
            out.lines().filter(|l| l.contains(": appended by ")).count(),
            end - start,
            "{author} rows {start}..{end}: {out}"
        );
        start = end;
        batches += 1;
    }
    assert!(batches > 10, "the rows alternate between authors");

    // The statements, one a quarter, computed on the commissioner's mirror and issued on the
    // operator's log.
    let mut issued = Vec::new();
    for quarter in [
        "2013-Q1", "2013-Q2", "2013-Q3", "2013-Q4", "2014-Q1", "2014-Q2", "2014-Q3",
    ] {
        dwp.pull();
        let out: Value = serde_json::from_str(&dwp.submit(
            &url,
            &[
                "settle", "--period", quarter, "--issue", "--key", &dwp.key, "--json",
            ],
        ))
        .unwrap();
        assert_eq!(
            out["submitted"]["records"][0]["new"], true,
            "{quarter}: {out}"
        );
        issued.push(out["issued_seq"].as_u64().unwrap().to_string());
    }
    for p in &parties {
        p.pull();
    }

    // The operator stops; every mirror is its log, byte for byte in what it says.
    drop(server);
    let operator_says = |args: &[&str]| -> String {
        let mut all = vec!["--ledger", ledger.as_str()];
        all.extend_from_slice(args);
        pbr_ok(&all)
    };
    let verified: Value = serde_json::from_str(&operator_says(&["verify", "--json"])).unwrap();
    let balance = operator_says(&["balance", "--json"]);
    let audit = operator_says(&["audit", "--json"]);
    for p in &parties {
        let mirror: Value = serde_json::from_str(&p.ok(&["verify", "--json"])).unwrap();
        assert_eq!(mirror["root"], verified["root"], "{}", p.name);
        assert_eq!(mirror["records"], verified["records"], "{}", p.name);
        assert_eq!(p.ok(&["balance", "--json"]), balance, "{}", p.name);
        assert_eq!(p.ok(&["audit", "--json"]), audit, "{}", p.name);
        let args = ["log", "--json"];
        assert_eq!(p.ok(&args), operator_says(&args), "{}", p.name);
        for seq in &issued {
            let args = ["explain", seq.as_str(), "--json"];
            assert_eq!(p.ok(&args), operator_says(&args), "{} {seq}", p.name);
        }
    }

    // §5.A.5: DWP −50,000.00; the investor +37,500.00 received on 30,000.00 invested;
    // the provider +12,500.00 (tests/scenarios/a/expected.json, "balances").
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/scenarios/a/expected.json")).unwrap(),
    )
    .unwrap();
    let balance: Value = serde_json::from_str(&balance).unwrap();
    for (party, fields) in expected["balances"]["parties"].as_object().unwrap() {
        let row = balance["parties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["party"] == party.as_str())
            .unwrap_or_else(|| panic!("no balance of {party}: {balance}"));
        for (field, value) in fields.as_object().unwrap() {
            assert_eq!(&row[field], value, "{party} {field}");
        }
    }

    // The operator's machine holds no party's private key, and no machine holds a CPR number.
    let private_keys: Vec<String> = PARTIES
        .iter()
        .map(|p| pbr_ledger::sample::demo_key(p).to_text())
        .collect();
    for file in files(&operator) {
        let bytes = std::fs::read(&file).unwrap();
        for key in &private_keys {
            let secret = key.trim().rsplit('+').next().unwrap();
            assert!(
                !crate::privacy::contains(&bytes, secret.as_bytes()),
                "{} holds a party's private key",
                file.display()
            );
        }
    }
    let cprs: Vec<String> = std::fs::read_to_string(repo().join("tests/scenarios/a/events.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split(',')
                .nth(5)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
        })
        .collect();
    assert!(cprs.len() >= 10);
    for dir in [operator.clone()]
        .into_iter()
        .chain(parties.iter().map(|p| PathBuf::from(&p.mirror)))
    {
        for file in files(&dir) {
            let bytes = std::fs::read(&file).unwrap();
            for cpr in &cprs {
                for form in [cpr.clone(), cpr.replace('-', "")] {
                    assert!(
                        !crate::privacy::contains(&bytes, form.as_bytes()),
                        "{} holds CPR {cpr}",
                        file.display()
                    );
                }
            }
        }
    }
    // Each party's tokens stayed with it: the mirrors keep the path, never the token.
    for p in &parties {
        let config = std::fs::read_to_string(Path::new(&p.mirror).join("MIRROR.json")).unwrap();
        assert!(config.contains(&p.token.replace('\\', "\\\\")), "{config}");
        assert!(!config.contains(&tokens[p.name]), "{config}");
    }
}
