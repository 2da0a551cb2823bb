//! No CPR number ever reaches the ledger's files or its export: only keyed pseudonyms do.

use std::path::Path;

use crate::support::{demo, pbr_ok};

/// Every file under `dir`, recursively.
pub(crate) fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub(crate) fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn no_cpr_digits_in_any_stored_byte_or_the_export() {
    let (_dir, ledger) = demo();
    let export = pbr_ok(&["--ledger", &ledger, "export"]);
    let stored: Vec<(String, Vec<u8>)> = files(Path::new(&ledger))
        .into_iter()
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    assert!(
        stored.iter().map(|(_, bytes)| bytes.len()).sum::<usize>() > 10_000,
        "the scan reads the data"
    );
    for n in 1..=24 {
        let cpr = pbr_ledger::sample::demo_cpr(n);
        let compact = cpr.replace('-', "");
        for needle in [cpr.as_bytes(), compact.as_bytes()] {
            for (path, bytes) in &stored {
                assert!(
                    !contains(bytes, needle),
                    "CPR number of citizen {n} found in {path}"
                );
            }
            assert!(
                !contains(export.as_bytes(), needle),
                "CPR number of citizen {n} in the export"
            );
        }
    }
    // Positive control: the scan does see event contents. Citizen 1 is in the sled files,
    // as the 32 bytes of its keyed pseudonym.
    let (cpr, _) = pbr_core::cpr::Cpr::parse(&pbr_ledger::sample::demo_cpr(1)).unwrap();
    let pseudonym = cpr.participant_ref(&pbr_ledger::sample::demo_pseudonym_key());
    assert!(
        stored
            .iter()
            .any(|(_, bytes)| contains(bytes, &pseudonym.0)),
        "the scan misses event bytes"
    );
    assert!(export.contains(&pseudonym.to_string()));
}
