//! End-to-end tests of the `pbr` binary: the wiring of each command, exit codes, and the
//! golden vectors in `tests/vectors/` exactly as the commands print them.
//!
//! Run with `PBR_BLESS=1` (`just gen`) to rewrite the vectors after a deliberate change.

mod audit;
mod authority;
mod bundle;
mod damage;
mod deployment;
mod drc;
mod durability;
mod full_disk;
mod import_errors;
mod kills;
mod migrate;
mod mirror;
mod network_demo;
mod one_fact;
mod outputs;
mod privacy;
mod report_audit;
mod report_budget;
mod report_esf;
mod report_indigo;
mod scenarios;
mod serve;
mod serve_faults;
mod settlement;
mod setup;
mod support;
mod trust;
mod vectors;
mod views;
mod wiring;

/// Every `.rs` file in this directory is a module of this binary.
#[test]
fn test_no_forgotten_test_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cli");
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
