//! `pbr demo --network DIR` (`docs/cli.md`): the demo contract run through `pbr serve` on
//! loopback by an operator and four parties, each in a directory of its own, as
//! `tests/cli/deployment.rs` runs scenario A. Every party's line shows the root that
//! `pbr verify` finds on the operator's ledger and on its own mirror; the operator's
//! directory holds no party's private key; no server is left running; and the demo runs
//! again in the same directory, keeping what else was put there.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use pbr_ledger::sample;
use serde_json::Value;

use crate::privacy::{contains, files};
use crate::support::{pbr, pbr_ok};

/// The demo's parties, as `sample::demo_keys` names them.
fn parties() -> Vec<String> {
    sample::demo_keys()
        .iter()
        .map(|key| key.name().to_owned())
        .collect()
}

/// The root `pbr verify --json` finds on the ledger in `dir`.
fn verified_root(dir: &Path) -> String {
    let out: Value = serde_json::from_str(&pbr_ok(&[
        "--ledger",
        dir.to_str().unwrap(),
        "verify",
        "--json",
    ]))
    .unwrap();
    assert_eq!(out["records"], 618, "{}: {out}", dir.display());
    out["root"].as_str().unwrap().to_owned()
}

/// The server the demo started is gone: its port takes no connection, and its process no
/// longer exists.
fn assert_stopped(url: &str, pid: u32) {
    let address: SocketAddr = url.strip_prefix("http://").unwrap().parse().unwrap();
    assert!(
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err(),
        "{url} still accepts connections"
    );
    if cfg!(target_os = "linux") {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pbr serve (pid {pid}) is still running"
        );
    }
}

/// No file under `dir` holds the private key of any party but `owner`.
fn assert_no_private_key_but(dir: &Path, owner: Option<&str>) {
    let keys: Vec<(String, String)> = sample::demo_keys()
        .into_iter()
        .chain(sample::demo_witness_keys())
        .map(|key| {
            let text = key.to_text();
            let secret = text.trim().rsplit('+').next().unwrap().to_owned();
            (key.name().to_owned(), secret)
        })
        .collect();
    for file in files(dir) {
        let bytes = std::fs::read(&file).unwrap();
        for (name, secret) in &keys {
            if Some(name.as_str()) == owner {
                continue;
            }
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} holds the private key of {name}",
                file.display()
            );
        }
    }
}

/// Checks what a run left in `dir` against the roots each party said it sees.
fn check_directories(dir: &Path, said: &[(String, String)]) {
    let operator = verified_root(&dir.join("operator/ledger"));
    assert_eq!(said.len(), 4, "{said:?}");
    for (party, root) in said {
        assert_eq!(root, &operator, "{party}'s line");
        let mirror = dir.join(party).join("mirror");
        assert_eq!(verified_root(&mirror), operator, "{party}'s mirror");
        assert!(dir.join(party).join(format!("{party}.key")).is_file());
        assert_no_private_key_but(&dir.join(party), Some(party));
    }
    // The operator's machine holds the log key and the ledger, and no party's key.
    assert_no_private_key_but(&dir.join("operator"), None);
    let mut held: Vec<String> = std::fs::read_dir(dir.join("operator"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    held.sort();
    assert_eq!(held, ["demo.pbr.example_impact60.key", "ledger"]);
}

#[test]
fn the_network_demo_runs_the_contract_through_the_server_and_every_party_sees_its_root() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("network");
    let dir_arg = dir.to_str().unwrap();

    // The first run, in a new directory: one line per party, each with the same root.
    let out = pbr_ok(&["demo", "--network", dir_arg]);
    let said: Vec<(String, String)> = parties()
        .into_iter()
        .map(|party| {
            let line = out
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{party} ")))
                .unwrap_or_else(|| panic!("no line for {party}: {out}"));
            assert!(line.contains(" 618 records "), "{line}");
            assert!(line.contains(" net "), "{line}");
            let root = line.split_whitespace().skip_while(|w| *w != "root").nth(1);
            (party, root.unwrap().to_owned())
        })
        .collect();
    check_directories(&dir, &said);
    assert!(out.contains("witnesses: "), "{out}");
    let serve = out
        .lines()
        .find_map(|l| l.strip_prefix("operator: pbr serve on "))
        .unwrap();
    let (url, rest) = serve.split_once(' ').unwrap();
    let pid: u32 = rest
        .strip_prefix("(pid ")
        .and_then(|r| r.split(')').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_stopped(url, pid);
    assert!(dir.join("network.log").is_file());

    // A second run in the same directory replaces the first, and keeps what else is there.
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out: Value =
        serde_json::from_str(&pbr_ok(&["demo", "--network", dir_arg, "--json"])).unwrap();
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["records"], 618);
    let said: Vec<(String, String)> = out["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["records"], 618, "{p}");
            assert_eq!(p["root"], out["root"], "{p}");
            (
                p["party"].as_str().unwrap().to_owned(),
                p["root"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    check_directories(&dir, &said);
    assert_stopped(
        out["server"]["url"].as_str().unwrap(),
        u32::try_from(out["server"]["pid"].as_u64().unwrap()).unwrap(),
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "mine"
    );

    // The root is the local demo's: the same records, in the same order.
    let local = root.path().join("local");
    let local_out = pbr_ok(&["demo", local.to_str().unwrap()]);
    assert!(
        local_out.contains(&format!("root {}", said[0].1)),
        "{local_out}"
    );
    // Neither demo takes the other's directory, and neither deletes anything there.
    let again = pbr(&["demo", local.to_str().unwrap(), "--json"]);
    assert_eq!(again.code, 0, "a demo's own directory: {}", again.stderr);
    let refused = pbr(&["demo", "--network", local.to_str().unwrap()]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("was made by `pbr demo`"),
        "{}",
        refused.stderr
    );
    let refused = pbr(&["demo", dir_arg]);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(dir.join("operator/ledger").is_dir());
}
