//! Commands that need no ledger (`docs/cli.md`, "Setting up"): a pseudonym secret, a check
//! of contract terms, completions and manual pages; and usage errors in the error style of
//! every other error, as JSON with `--json`.

use std::path::Path;

use serde_json::Value;

use crate::scenarios::repo;
use crate::support::{pbr, pbr_ok};

#[test]
fn a_new_secret_is_64_hex_digits_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("aalborg.secret");
    let file = file.to_str().unwrap();
    pbr_ok(&["secret", "new", file]);
    let text = std::fs::read_to_string(file).unwrap();
    assert_eq!(text.len(), 65, "{text:?}");
    assert!(text.ends_with('\n'));
    assert!(
        text.trim_end()
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{text:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Two secrets differ; an existing one is never replaced.
    let other = dir.path().join("other.secret");
    pbr_ok(&["secret", "new", other.to_str().unwrap()]);
    assert_ne!(std::fs::read_to_string(&other).unwrap(), text);
    let again = pbr(&["secret", "new", file]);
    assert_eq!(again.code, 3, "{}", again.stderr);
    assert!(again.stderr.contains("never replaced"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(file).unwrap(), text);
}

/// The expected error a sample of `tests/contracts/invalid/` states on its first line.
fn expected_error(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .next()
        .and_then(|line| line.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{}: no `# expect:` line", path.display()))
        .to_owned()
}

/// Every valid sample and scenario passes with its terms hash; every invalid sample fails
/// with exit 3 and the error its first line expects.
#[test]
fn contract_check_needs_no_ledger() {
    let mut valid: Vec<_> = std::fs::read_dir(repo().join("tests/contracts/valid"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for scenario in ["a", "b", "c", "c-loss", "d"] {
        valid.push(repo().join(format!("tests/scenarios/{scenario}/contract.toml")));
    }
    for path in &valid {
        let json: Value = serde_json::from_str(&pbr_ok(&[
            "--json",
            "contract",
            "check",
            path.to_str().unwrap(),
        ]))
        .unwrap();
        let hash = blake3::hash(&std::fs::read(path).unwrap())
            .to_hex()
            .to_string();
        assert_eq!(json["terms_hash"], hash.as_str(), "{}", path.display());
        assert_eq!(json["ok"], true);
    }
    let invalid = std::fs::read_dir(repo().join("tests/contracts/invalid")).unwrap();
    let mut checked = 0;
    for entry in invalid {
        let path = entry.unwrap().path();
        let run = pbr(&["contract", "check", path.to_str().unwrap()]);
        assert_eq!(run.code, 3, "{}: {}", path.display(), run.stderr);
        let expected = expected_error(&path);
        let name = path.file_name().unwrap().to_str().unwrap();
        // The samples name the file as the test reads it; the command as it was given.
        let tail = expected.strip_prefix(name).unwrap_or(&expected);
        assert!(
            run.stderr.trim_end().ends_with(tail),
            "{}: expected …{tail}, got {}",
            path.display(),
            run.stderr
        );
        checked += 1;
    }
    assert!(checked >= 3, "{checked} invalid samples");
}

#[test]
fn completions_and_manual_pages_come_from_the_grammar() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = pbr_ok(&["completions", shell]);
        assert!(script.contains("pbr"), "{shell}");
        assert!(script.contains("settle"), "{shell}: a command is completed");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    pbr_ok(&["man", "--out", out.to_str().unwrap()]);
    for page in [
        "pbr.1",
        "pbr-settle.1",
        "pbr-contract-check.1",
        "pbr-party-add.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
}

/// Usage errors speak like every other error: `pbr: error: …` and exit 2, and one JSON
/// object with `--json`; help is still help.
#[test]
fn usage_errors_have_the_error_style_and_json() {
    let run = pbr(&["frobnicate"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("pbr: error: unrecognized subcommand"),
        "{}",
        run.stderr
    );
    let run = pbr(&["--json", "pay", "--amount", "1"]);
    assert_eq!(run.code, 2);
    let json: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["exit_code"], 2);
    let error = json["error"].as_str().unwrap();
    assert!(error.contains("--contract <CONTRACT>"), "{error}");
    let help = pbr(&["--json", "pay", "--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("Usage: pbr pay"), "{}", help.stdout);
}

/// `pbr enroll` takes every attribute an enrolment records: each field of the event's
/// `attributes` (as `pbr log --json` shows them) is an option, and given on the command line
/// it is what the log shows.
#[test]
fn enroll_takes_every_enrolment_attribute() {
    let (dir, ledger, keys) = crate::scenarios::load_scenario("d");
    let secret = repo().join("tests/scenarios/secret");
    let help = pbr_ok(&["enroll", "--help"]);
    let given = [
        ("gender", "woman"),
        ("age-at-entry", "44"),
        ("entry-status", "long-term-unemployed"),
        ("isced", "3"),
        ("home-party", "K1"),
        ("disability", "yes"),
        ("third-country-national", "no"),
        ("foreign-background", "yes"),
        ("minority", "no"),
        ("homeless", "yes"),
        ("rural", "no"),
    ];
    let mut args: Vec<String> = [
        "--ledger",
        &ledger,
        "--json",
        "enroll",
        "--contract",
        "scenario-d",
        "--date",
        "2024-06-03",
        "--cpr",
        "010190-4098",
        "--secret-file",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.push(secret.to_str().unwrap().to_owned());
    args.extend(["--key".to_owned(), keys["K1"].clone()]);
    for (option, value) in given {
        args.push(format!("--{option}"));
        args.push(value.to_owned());
    }
    pbr_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let log = pbr_ok(&[
        "--ledger",
        &ledger,
        "log",
        "--json",
        "--kind",
        "participant-enrolled",
    ]);
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let attributes = last["event"]["payload"]["attributes"].as_object().unwrap();
    for (field, value) in attributes {
        let option = format!("--{}", field.replace('_', "-"));
        assert!(help.contains(&option), "pbr enroll has no {option}");
        let (_, text) = given
            .iter()
            .find(|(o, _)| *o == &option[2..])
            .unwrap_or_else(|| panic!("{option} was not given"));
        let shown = match value {
            Value::Bool(true) => "yes".to_owned(),
            Value::Bool(false) => "no".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert_eq!(&shown, text, "{field}");
    }
    drop(dir);
}

/// The demo writes its parties' (public, demo-only) private keys, so a newcomer can append to
/// it with the command it suggests.
#[test]
fn the_demo_writes_keys_a_newcomer_can_append_with() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("demo");
    let ledger = ledger.to_str().unwrap();
    let printed = pbr_ok(&["demo", ledger]);
    let key = dir.path().join("demo/demo-keys/fokus-provider.key");
    let suggested = printed
        .lines()
        .find(|line| line.contains(" cost ") && line.contains(key.to_str().unwrap()))
        .unwrap_or_else(|| panic!("no append suggested with {}: {printed}", key.display()));
    let args: Vec<&str> = suggested.split_whitespace().skip(1).collect();
    let appended = pbr_ok(&args);
    assert!(appended.contains("1 appended"), "{appended}");
    for party in [
        "aalborg-jobcenter",
        "fokus-provider",
        "dsk-investor",
        "obelske-fund",
    ] {
        let path = dir.path().join(format!("demo/demo-keys/{party}.key"));
        assert!(path.is_file(), "{}", path.display());
    }
}

/// `--help` lists only the options a command uses: the participant options belong to the
/// facts about a participant, not to a decision (its claim names one), a correction, a
/// dispute or a new party, where they would be silently ignored.
#[test]
fn help_lists_only_the_options_a_command_uses() {
    let about_a_participant: [&[&str]; 9] = [
        &["enroll"],
        &["leave"],
        &["follow-up"],
        &["claim"],
        &["retention"],
        &["status"],
        &["disburse"],
        &["cost"],
        &["pay"],
    ];
    let about_none: [&[&str]; 6] = [
        &["decide"],
        &["correct"],
        &["dispute", "open"],
        &["dispute", "evidence"],
        &["dispute", "resolve"],
        &["party", "add"],
    ];
    for (commands, expected) in [(&about_a_participant[..], true), (&about_none[..], false)] {
        for command in commands {
            let mut args = command.to_vec();
            args.push("--help");
            let help = pbr_ok(&args);
            for option in ["--participant", "--cpr", "--secret-file"] {
                assert_eq!(help.contains(option), expected, "{command:?} {option}");
            }
            for option in ["--contract", "--date", "--key", "--id"] {
                assert!(help.contains(option), "{command:?} {option}");
            }
        }
    }
    let run = pbr(&["decide", "--participant", "ab12", "--help"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}
