//! The integration tests of `pbr-core`, one binary with a module per area.

// The vector test reads PBR_BLESS to rewrite tests/vectors/; the library is held to the ban.
#![allow(clippy::disallowed_methods)]

mod events;
mod rounding;
mod settle;
mod terms;

/// Every `.rs` file in this directory is a module of this binary.
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
