//! Files the commands write (`--out`) are whole or absent, never partial; an existing file
//! is replaced only with `--force`; `pbr demo DIR` deletes nothing it did not create.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{demo, pbr, pbr_ok};

const INPUT: i32 = 3;

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The temporary files an interrupted write may leave in `dir`.
fn temporaries(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
        .collect()
}

/// Appends `rows` cost records of the provider to the demo ledger and has the log key sign,
/// and the quorum's witnesses cosign, a checkpoint of the whole log, so that an export has
/// that many more lines to write.
fn grow(dir: &Path, ledger: &str, rows: usize) {
    let key = dir.join("fokus.key");
    std::fs::write(
        &key,
        pbr_ledger::sample::demo_key("fokus-provider").to_text(),
    )
    .unwrap();
    let mut csv = String::from("kind,contract,date,author,party,amount\n");
    for n in 0..rows {
        csv.push_str(&format!(
            "cost-recorded,impact60-demo,2025-06-{:02},fokus-provider,fokus-provider,{}.00\n",
            1 + n % 28,
            1 + n
        ));
    }
    let file = dir.join("costs.csv");
    std::fs::write(&file, csv).unwrap();
    let key = key.to_str().unwrap();
    pbr_ok(&[
        "--ledger",
        ledger,
        "import",
        file.to_str().unwrap(),
        "--key",
        key,
    ]);
    crate::support::demo_checkpoint(ledger);
}

/// Whether `text` is a whole export like `expected`: as many lines, the last one the
/// checkpoint's JSON object, and the same bytes. Returns what is wrong.
fn whole(text: &str, expected: &str) -> Result<(), String> {
    let (lines, want) = (text.lines().count(), expected.lines().count());
    if lines != want {
        return Err(format!("{lines} lines of {want}"));
    }
    let last = text.lines().last().unwrap_or_default();
    let parsed: Result<serde_json::Value, _> = serde_json::from_str(last);
    if !parsed.is_ok_and(|v| v.get("checkpoint").is_some()) {
        return Err("the last line is not the checkpoint's JSON".into());
    }
    if text != expected {
        return Err("the bytes differ".into());
    }
    Ok(())
}

/// Runs `pbr export --out target` and kills it (SIGKILL) after `delay`.
fn kill_export_after(ledger: &str, target: &Path, force: bool, delay: Duration) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pbr"));
    command
        .args(["--ledger", ledger, "export", "--out"])
        .arg(target)
        .env_remove("PBR_LEDGER")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if force {
        command.arg("--force");
    }
    let mut child = command.spawn().unwrap();
    std::thread::sleep(delay);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_killed_export_leaves_its_file_whole_or_absent() {
    let (dir, ledger) = demo();
    // About 5,000 records: an export takes a few hundred milliseconds in a debug build.
    grow(dir.path(), &ledger, 4_400);

    // A clean run, timed; it leaves the file and nothing else.
    let clean = dir.path().join("clean");
    std::fs::create_dir(&clean).unwrap();
    let reference = clean.join("export.jsonl");
    let started = Instant::now();
    pbr_ok(&[
        "--ledger",
        &ledger,
        "export",
        "--out",
        reference.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    assert_eq!(names(&clean), ["export.jsonl"], "a clean run left more");
    let expected = std::fs::read_to_string(&reference).unwrap();
    assert_eq!(
        expected.lines().count(),
        5_019,
        "618 + 4,400 records and the checkpoint"
    );

    // Kills spread over the whole run, from before the file is opened to after it is
    // renamed, each into a file of its own; bounded in count and in time.
    let kills = dir.path().join("kills");
    std::fs::create_dir(&kills).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut runs, mut absent, mut mid_write) = (0u32, 0u32, 0u32);
    for n in 0..40u32 {
        if Instant::now() > deadline {
            break;
        }
        let target = kills.join(format!("export-{n}.jsonl"));
        let before = temporaries(&kills).len();
        kill_export_after(&ledger, &target, false, took * n / 32);
        runs += 1;
        match std::fs::read_to_string(&target) {
            Ok(text) => {
                if let Err(wrong) = whole(&text, &expected) {
                    panic!(
                        "kill {n} after {:?} left a partial file: {wrong}",
                        took * n / 32
                    );
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => absent += 1,
            Err(e) => panic!("{}: {e}", target.display()),
        }
        if temporaries(&kills).len() > before {
            mid_write += 1;
        }
    }
    eprintln!(
        "{runs} kills over an export of {took:?}: {mid_write} while it wrote, {absent} left no file"
    );
    assert!(runs >= 20, "only {runs} kills in the time allowed");
    // The test means something only if kills landed while the file was being written.
    assert!(
        mid_write >= 3,
        "only {mid_write} of {runs} kills landed while the export wrote ({absent} absent)"
    );

    // With --force over a whole file: it stays whole (the old or the new one), whenever the
    // kill lands.
    let target = kills.join("forced.jsonl");
    std::fs::copy(&reference, &target).unwrap();
    for n in 0..10u32 {
        kill_export_after(&ledger, &target, true, took * (4 * n + 1) / 32);
        let text = std::fs::read_to_string(&target).unwrap();
        if let Err(wrong) = whole(&text, &expected) {
            panic!("a forced export killed at {n} broke the file: {wrong}");
        }
    }
}

#[test]
fn an_export_that_fails_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("l");
    pbr_ok(&["init", ledger.to_str().unwrap()]);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // No checkpoint yet: the export fails after it has opened its temporary file.
    let run = pbr(&[
        "--ledger",
        ledger.to_str().unwrap(),
        "export",
        "--out",
        out.join("e.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(run.stderr.contains("pbr checkpoint sign"), "{}", run.stderr);
    assert_eq!(
        names(&out),
        Vec::<String>::new(),
        "a failed export left files"
    );
}

/// The `--out` arguments of every command that writes a file, for `target`.
fn writers(ledger: &str, target: &Path, seq: &str) -> Vec<Vec<String>> {
    let target = target.to_str().unwrap();
    let with = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--ledger", ledger];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", target]);
        all.into_iter().map(str::to_owned).collect()
    };
    vec![
        with(&["export"]),
        with(&["bundle", "--settlement", seq]),
        with(&["report", "esf", "--format", "json"]),
        with(&["report", "budget", "--party", "aalborg-jobcenter"]),
        with(&["report", "audit", "--format", "json"]),
    ]
}

#[test]
fn out_refuses_an_existing_file_and_force_replaces_it() {
    let (dir, ledger) = demo();
    let log: serde_json::Value = serde_json::from_str(
        pbr_ok(&[
            "--ledger",
            &ledger,
            "log",
            "--kind",
            "settlement-issued",
            "--json",
        ])
        .lines()
        .last()
        .unwrap(),
    )
    .unwrap();
    let seq = log["seq"].to_string();
    let target: PathBuf = dir.path().join("out").join("file");
    std::fs::create_dir(target.parent().unwrap()).unwrap();
    for args in writers(&ledger, &target, &seq) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        std::fs::write(&target, "keep me").unwrap();
        let run = pbr(&args);
        assert_eq!(run.code, INPUT, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("the file exists; give --force to replace it"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

        let mut forced = args.clone();
        forced.push("--force");
        pbr_ok(&forced);
        let written = std::fs::read(&target).unwrap();
        assert!(
            written.len() > 100,
            "{args:?} wrote {} bytes",
            written.len()
        );
        assert_eq!(
            names(target.parent().unwrap()),
            ["file"],
            "{args:?} left a temporary file"
        );
    }
    // A private key is never replaced, and there is no flag to do it.
    let key = dir.path().join("eve.key");
    std::fs::write(&key, "keep me").unwrap();
    let run = pbr(&["party", "keygen", "eve", "--out", key.to_str().unwrap()]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert!(run.stderr.contains("never replaced"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "keep me");
    let run = pbr(&["party", "keygen", "eve", "--force"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn demo_refuses_a_directory_it_did_not_make_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Someone's directory: refused in one line, left exactly as it was.
    let theirs = dir.path().join("theirs");
    std::fs::create_dir_all(theirs.join("sub")).unwrap();
    std::fs::write(theirs.join("notes.txt"), "mine").unwrap();
    std::fs::write(theirs.join("sub").join("more.txt"), "mine too").unwrap();
    let run = pbr(&["demo", theirs.to_str().unwrap()]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is not empty and was not made by `pbr demo`"),
        "{}",
        run.stderr
    );
    assert_eq!(names(&theirs), ["notes.txt", "sub"]);
    assert_eq!(names(&theirs.join("sub")), ["more.txt"]);
    assert_eq!(
        std::fs::read_to_string(theirs.join("notes.txt")).unwrap(),
        "mine"
    );

    // A ledger that is not a demo is not one to replace either.
    let ledger = dir.path().join("ledger");
    pbr_ok(&["init", ledger.to_str().unwrap()]);
    let before = names(&ledger);
    let run = pbr(&["demo", ledger.to_str().unwrap()]);
    assert_eq!(run.code, INPUT, "{}", run.stderr);
    assert_eq!(names(&ledger), before);
    pbr_ok(&["--ledger", ledger.to_str().unwrap(), "verify"]);

    // An empty directory is taken as it is.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    pbr_ok(&["demo", empty.to_str().unwrap()]);

    // Run again, a demo replaces its own ledger and keeps what someone put beside it.
    std::fs::write(empty.join("notes.txt"), "mine").unwrap();
    pbr_ok(&["demo", empty.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(empty.join("notes.txt")).unwrap(),
        "mine"
    );
    pbr_ok(&["--ledger", empty.to_str().unwrap(), "verify"]);
}
