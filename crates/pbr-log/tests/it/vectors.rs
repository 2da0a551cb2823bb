//! Golden vectors for `tests/vectors/records.json`: record bytes, their leaf and chain
//! hashes, and the Merkle root of every prefix. `docs/format.md` quotes them; a changed
//! byte fails here. Run with `PBR_BLESS=1` (`just gen`) after a deliberate change.

use std::fmt::Write as _;

use pbr_log::hash::{EMPTY_CHAIN, chain_hash, leaf_hash};
use pbr_log::hex::encode;
use pbr_log::merkle::MemoryTree;
use pbr_log::{Record, SignerKey};

/// Event payloads of assorted lengths, including empty.
fn events() -> Vec<Vec<u8>> {
    let mut events: Vec<Vec<u8>> = vec![Vec::new(), b"a".to_vec(), b"hello, auditor".to_vec()];
    events.extend((3..17u8).map(|n| vec![n; n as usize * 5]));
    events
}

fn vectors() -> String {
    let keys = [
        SignerKey::from_seed("vector-a", [0x11; 32]).unwrap(),
        SignerKey::from_seed("vector-b", [0x22; 32]).unwrap(),
    ];
    let mut tree = MemoryTree::new();
    let mut chain = EMPTY_CHAIN;
    let mut out = String::from("{\n  \"keys\": [\n");
    for (i, key) in keys.iter().enumerate() {
        let comma = if i + 1 < keys.len() { "," } else { "" };
        let _ = writeln!(
            out,
            "    {{\"name\": \"{}\", \"seed_hex\": \"{}\", \"verifier_key\": \"{}\"}}{comma}",
            key.name(),
            encode(key.signing_key().as_bytes()),
            key.verifier_key()
        );
    }
    out.push_str("  ],\n  \"records\": [\n");
    let mut roots = vec![tree.root()];
    let events = events();
    for (seq, event) in events.iter().enumerate() {
        let record = Record::sign(event.clone(), keys[seq % 2].signing_key()).unwrap();
        let bytes = record.encode().unwrap();
        let leaf = leaf_hash(&bytes);
        chain = chain_hash(&chain, &bytes);
        tree.push(leaf);
        roots.push(tree.root());
        let comma = if seq + 1 < events.len() { "," } else { "" };
        let _ = writeln!(
            out,
            "    {{\"seq\": {seq}, \"event_hex\": \"{}\", \"record_hex\": \"{}\", \"leaf_hash\": \"{}\", \"chain_hash\": \"{}\"}}{comma}",
            encode(event),
            encode(&bytes),
            encode(&leaf),
            encode(&chain)
        );
    }
    out.push_str("  ],\n  \"roots\": [\n");
    for (size, root) in roots.iter().enumerate() {
        let comma = if size + 1 < roots.len() { "," } else { "" };
        let _ = writeln!(
            out,
            "    {{\"size\": {size}, \"root\": \"{}\"}}{comma}",
            encode(root)
        );
    }
    out.push_str("  ]\n}\n");
    out
}

#[test]
fn record_and_hash_vectors_are_byte_stable() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors/records.json");
    let actual = vectors();
    if std::env::var_os("PBR_BLESS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `just gen`", path.display()));
    assert!(
        expected == actual,
        "{} moved; if deliberate, run `just gen`",
        path.display()
    );
}

/// `docs/format.md` §1.3 quotes the vectors; this keeps the quotation true.
#[test]
fn format_doc_quotes_the_vectors() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("docs/format.md")).unwrap();
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/vectors/records.json")).unwrap(),
    )
    .unwrap();
    let record = vectors["records"][1]["record_hex"].as_str().unwrap();
    for (field, range) in [
        ("version", 0..4),
        ("length", 4..20),
        ("event", 20..22),
        ("key", 22..86),
        ("R", 86..150),
        ("S", 150..214),
    ] {
        assert!(
            doc.contains(&format!("\n{}", &record[range.clone()])),
            "format.md lacks the {field} bytes"
        );
    }
    for quoted in [
        &vectors["records"][1]["leaf_hash"],
        &vectors["records"][1]["chain_hash"],
        &vectors["records"][0]["leaf_hash"],
        &vectors["records"][0]["chain_hash"],
    ] {
        assert!(
            doc.contains(quoted.as_str().unwrap()),
            "format.md lacks {quoted}"
        );
    }
    for size in 0..4 {
        let root = vectors["roots"][size]["root"].as_str().unwrap();
        assert!(
            doc.contains(&format!("| {size} | `{root}`")),
            "format.md lacks the root of size {size}"
        );
    }
}
