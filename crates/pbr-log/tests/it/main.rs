//! The integration tests of `pbr-log`, one binary with a module per area.

// The tests time the lock, read PBR_BLESS and re-run themselves as the crash child; the
// library they test is held to clippy.toml's ban on the clock and the environment.
#![allow(clippy::disallowed_methods)]

mod account;
mod crash;
mod ecosystem;
mod interop_merkle;
mod merkle;
mod migrate;
mod note;
mod record;
mod store;
mod support;
mod tamper;
mod tiles;
mod tlog_proof;
mod vectors;

/// Every `.rs` file in this directory is a module of this binary; a forgotten file would
/// silently never run.
#[test]
fn test_no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(module) = name.strip_suffix(".rs")
            && module != "main"
        {
            assert!(
                main.contains(&format!("mod {module};")),
                "{name} is not a module"
            );
        }
    }
}
