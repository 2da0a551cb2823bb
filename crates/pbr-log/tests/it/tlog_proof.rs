//! C2SP `tlog-proof@v1` receipts: the spec's example, a golden receipt over the tessera
//! test log, round trips, every malformed variant rejected, and the Merkle verification.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pbr_log::hash::{Hash, leaf_hash};
use pbr_log::merkle::{MemoryTree, inclusion_proof};
use pbr_log::tlog_proof::{MAX_PATH_LEN, TlogProof, TlogProofError};
use proptest::prelude::*;
use proptest::test_runner::Config;

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/interop/specs/tlog-proof.md"
);
const TESSERA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/interop/vectors/tiles/tessera-testdata/log"
);

/// The entries of the tessera test log, in order (interop README).
const TESSERA_WORDS: [&str; 15] = [
    "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf",
    "threeten", "fourten", "fivten",
];

/// The size and root a C2SP checkpoint body names: for tests only, where the note's
/// signatures do not matter. A caller takes them from its own verification of the note.
fn checkpoint_size_and_root(note: &str) -> (u64, Hash) {
    let mut lines = note.split('\n');
    let _origin = lines.next().unwrap();
    let size = lines.next().unwrap().parse().unwrap();
    let root = STANDARD.decode(lines.next().unwrap()).unwrap();
    (size, root.try_into().unwrap())
}

fn tessera_checkpoint() -> String {
    std::fs::read_to_string(format!("{TESSERA}/checkpoint")).unwrap()
}

fn tessera_tree() -> (MemoryTree, Vec<Hash>) {
    let leaves: Vec<Hash> = TESSERA_WORDS
        .iter()
        .map(|w| leaf_hash(w.as_bytes()))
        .collect();
    let mut tree = MemoryTree::new();
    for leaf in &leaves {
        tree.push(*leaf);
    }
    (tree, leaves)
}

/// A receipt for every entry of the tessera log, checked against its signed root.
#[test]
fn receipts_for_every_tessera_entry_round_trip_and_verify() {
    let checkpoint = tessera_checkpoint();
    let (size, root) = checkpoint_size_and_root(&checkpoint);
    let (tree, leaves) = tessera_tree();
    assert_eq!(
        (tree.size(), tree.root()),
        (size, root),
        "pbr's tree is tessera's"
    );
    for (index, leaf) in leaves.iter().enumerate() {
        let index = index as u64;
        let path = inclusion_proof(&tree, index, size).unwrap();
        let proof = TlogProof::new(index, path.clone(), checkpoint.clone()).unwrap();
        assert_eq!(proof.extra(), None);
        assert_eq!(proof.index(), index);
        assert_eq!(proof.path(), path.as_slice());
        assert_eq!(proof.checkpoint(), checkpoint);
        let text = proof.to_text();
        assert!(text.ends_with(&format!("\n\n{checkpoint}")));
        assert_eq!(TlogProof::parse(&text), Ok(proof.clone()));
        assert_eq!(proof.verify(leaf, size, &root), Ok(()));
        let other = leaf_hash(b"zero");
        assert_eq!(
            proof.verify(&other, size, &root),
            Err(TlogProofError::PathMismatch { index })
        );
    }
}

/// The golden receipt for entry 7 (`eit`), byte for byte as the spec lays it out. Rewrite
/// with `PBR_BLESS=1` (`just gen`) after a deliberate change.
#[test]
fn tessera_golden_receipt_is_byte_stable() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors/tessera-entry-7.tlog-proof");
    let (tree, _) = tessera_tree();
    let proof = TlogProof::new(
        7,
        inclusion_proof(&tree, 7, 15).unwrap(),
        tessera_checkpoint(),
    )
    .unwrap();
    let actual = proof.to_text();
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
    let parsed = TlogProof::parse(&expected).unwrap();
    let (size, root) = checkpoint_size_and_root(parsed.checkpoint());
    assert_eq!(parsed.verify(&leaf_hash(b"eit"), size, &root), Ok(()));
}

/// The example of `tlog-proof.md`, read from the spec itself.
fn spec_example() -> String {
    let spec = std::fs::read_to_string(SPEC).unwrap();
    let start = spec.find("```\n").unwrap() + 4;
    let end = start + spec[start..].find("```\n").unwrap();
    spec[start..end].to_owned()
}

#[test]
fn the_spec_example_parses_once_its_elided_signatures_are_filled_in() {
    let example = spec_example();
    assert!(example.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    // Its signatures are elided (`hI2DJw[...]1roloI=`), which is not base64: strictly, the
    // first signature line (line 14) is rejected.
    match TlogProof::parse(&example) {
        Err(TlogProofError::Malformed { line: 14, .. }) => {}
        other => panic!("{other:?}"),
    }
    // With a 4-byte key id and 64 signature bytes in each, the rest is well-formed.
    let signature = STANDARD.encode([0x5a; 68]);
    let filled: String = example
        .lines()
        .map(|line| match line.strip_prefix("\u{2014} ") {
            Some(rest) => format!("\u{2014} {} {signature}\n", rest.split(' ').next().unwrap()),
            None => format!("{line}\n"),
        })
        .collect();
    let proof = TlogProof::parse(&filled).unwrap();
    assert_eq!(
        proof.extra(),
        Some(
            STANDARD
                .decode("YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ")
                .unwrap()
                .as_slice()
        )
    );
    assert!(
        proof
            .extra()
            .unwrap()
            .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz")
    );
    assert_eq!(proof.index(), 73894);
    assert_eq!(proof.path().len(), 5);
    assert_eq!(
        STANDARD.encode(proof.path()[0]),
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
    );
    assert!(
        proof
            .checkpoint()
            .starts_with("example.com/fancylog\n109482\n")
    );
    assert_eq!(proof.checkpoint().lines().count(), 8);
    assert_eq!(proof.to_text(), filled, "an extra line round-trips");
    // The example is illustrative: 5 hashes cannot reach the root of 109,482 entries.
    let (size, root) = checkpoint_size_and_root(proof.checkpoint());
    assert_eq!(
        proof.verify(&[0; 32], size, &root),
        Err(TlogProofError::PathMismatch { index: 73894 })
    );
}

/// A well-formed receipt over the tessera log for entry 7, as text.
fn good() -> String {
    let (tree, _) = tessera_tree();
    TlogProof::new(
        7,
        inclusion_proof(&tree, 7, 15).unwrap(),
        tessera_checkpoint(),
    )
    .unwrap()
    .to_text()
}

/// The error for `text`, which must not parse.
fn rejected(text: &str) -> TlogProofError {
    match TlogProof::parse(text) {
        Ok(proof) => panic!("accepted {text:?} as {proof:?}"),
        Err(error) => error,
    }
}

/// Every malformed variant is rejected, at the line at fault.
#[test]
fn malformed_receipts_are_rejected_at_the_line_at_fault() {
    let good = good();
    assert!(TlogProof::parse(&good).is_ok());
    let lines: Vec<&str> = good.split_inclusive('\n').collect();
    // Line numbers of the good text (from 1): 1 header, 2 index, 3..=6 path (4 hashes for
    // entry 7 of 15), 7 empty, 8..=10 checkpoint body, 11 empty, 12 signature.
    assert_eq!(lines.len(), 12, "{good}");
    let with_line = |number: usize, replacement: &str| -> String {
        let mut text = lines.clone();
        text[number - 1] = replacement;
        text.concat()
    };
    let hash = |bytes: &[u8]| format!("{}\n", STANDARD.encode(bytes));
    let signature = lines[11].to_owned();

    let cases: Vec<(&str, String, usize)> = vec![
        ("empty text", String::new(), 1),
        ("no newline at the end", good.trim_end().to_owned(), 12),
        ("CRLF", good.replace('\n', "\r\n"), 1),
        (
            "a tab in the checkpoint",
            good.replace("example.com/log", "example.com/\tlog"),
            8,
        ),
        ("a NUL", format!("{good}\0"), 13),
        ("other header", with_line(1, "c2sp.org/tlog-proof@v2\n"), 1),
        (
            "header with a space",
            with_line(1, "c2sp.org/tlog-proof@v1 \n"),
            1,
        ),
        ("no header", lines[1..].concat(), 1),
        ("index missing", with_line(2, "\n"), 2),
        ("index capitalised", with_line(2, "Index 7\n"), 2),
        ("index with two spaces", with_line(2, "index  7\n"), 2),
        ("index empty", with_line(2, "index \n"), 2),
        ("index with a leading zero", with_line(2, "index 07\n"), 2),
        ("index negative", with_line(2, "index -7\n"), 2),
        ("index with a plus", with_line(2, "index +7\n"), 2),
        ("index in hex", with_line(2, "index 0x7\n"), 2),
        (
            "index too large",
            with_line(2, "index 18446744073709551616\n"),
            2,
        ),
        ("index with a trailing space", with_line(2, "index 7 \n"), 2),
        (
            "extra after the index",
            [lines[0], lines[1], "extra AAAA\n"].concat() + &lines[2..].concat(),
            3,
        ),
        (
            "extra not base64",
            [lines[0], "extra !!!!\n"].concat() + &lines[1..].concat(),
            2,
        ),
        (
            "extra unpadded",
            [lines[0], "extra AAA\n"].concat() + &lines[1..].concat(),
            2,
        ),
        (
            "extra with stray bits",
            [lines[0], "extra AB==\n"].concat() + &lines[1..].concat(),
            2,
        ),
        (
            "extra without its space",
            [lines[0], "extra\n"].concat() + &lines[1..].concat(),
            2,
        ),
        (
            "two extra lines",
            [lines[0], "extra AAAA\n", "extra AAAA\n"].concat() + &lines[1..].concat(),
            3,
        ),
        ("hash not base64", with_line(3, "not base64 at all\n"), 3),
        ("hash of 31 bytes", with_line(3, &hash(&[7; 31])), 3),
        ("hash of 33 bytes", with_line(3, &hash(&[7; 33])), 3),
        (
            "hash unpadded",
            with_line(3, lines[2].replace('=', "").as_str()),
            3,
        ),
        // 43 base64 digits carry 258 bits: the last two of a canonical encoding are zero.
        (
            "hash with stray bits",
            with_line(3, &format!("{}B=\n", "A".repeat(42))),
            3,
        ),
        (
            "hash in URL-safe base64",
            with_line(
                3,
                &format!(
                    "{}\n",
                    STANDARD
                        .encode([0xfb; 32])
                        .replace('+', "-")
                        .replace('/', "_")
                ),
            ),
            3,
        ),
        (
            "hash with a trailing space",
            with_line(3, &lines[2].replace('\n', " \n")),
            3,
        ),
        (
            "no empty line before the checkpoint",
            [&lines[..6], &lines[7..]].concat().concat(),
            7,
        ),
        (
            "two empty lines before the checkpoint",
            with_line(7, "\n\n"),
            8,
        ),
        ("no checkpoint", lines[..7].concat(), 8),
        ("checkpoint without signatures", lines[..10].concat(), 10),
        (
            "checkpoint without its empty line",
            [&lines[..10], &lines[11..]].concat().concat(),
            11,
        ),
        ("checkpoint empty line only", lines[..11].concat(), 12),
        (
            "checkpoint of two lines",
            [&lines[..9], &lines[10..]].concat().concat(),
            10,
        ),
        (
            "checkpoint size with a leading zero",
            with_line(9, "015\n"),
            9,
        ),
        ("checkpoint size not decimal", with_line(9, "fifteen\n"), 9),
        (
            "checkpoint root of 31 bytes",
            with_line(10, &hash(&[7; 31])),
            10,
        ),
        ("checkpoint root not base64", with_line(10, "root\n"), 10),
        ("checkpoint origin empty", with_line(8, "\n"), 8),
        (
            "checkpoint extension line empty",
            [&lines[..10], &["\n"], &lines[10..]].concat().concat(),
            11,
        ),
        (
            "signature with a hyphen",
            with_line(12, &signature.replacen('\u{2014}', "-", 1)),
            12,
        ),
        (
            "signature without its space",
            with_line(12, &signature.replacen("\u{2014} ", "\u{2014}", 1)),
            12,
        ),
        (
            "signature name with a plus",
            with_line(12, &signature.replacen("testdata", "test+data", 1)),
            12,
        ),
        (
            "signature name empty",
            with_line(
                12,
                "\u{2014}  M9e0luh4jTG+UMBqOUo9/q+yAEvx1ilBEniMvjf1zfcBOhg+CKubMt53MvIt/uEWP6zdkdIQzd/fmwlM/dlPWF74ewI=\n",
            ),
            12,
        ),
        (
            "signature without a signature",
            with_line(12, "\u{2014} example.com/log/testdata\n"),
            12,
        ),
        (
            "signature not base64",
            with_line(12, "\u{2014} example.com/log/testdata M9e0[...]ewI=\n"),
            12,
        ),
        (
            "signature of a key id only",
            with_line(12, "\u{2014} example.com/log/testdata M9e0lg==\n"),
            12,
        ),
        (
            "signature with a trailing space",
            with_line(12, &signature.replace('\n', " \n")),
            12,
        ),
        (
            "garbage after the signatures",
            format!("{good}garbage\n"),
            13,
        ),
        ("garbage without a newline", format!("{good}garbage"), 13),
        // The last empty line ends a note's text (C2SP signed-note), so the real signature
        // falls into the text, whose empty line 11 then breaks the checkpoint body.
        (
            "an empty line after the signatures",
            format!("{good}\n"),
            11,
        ),
        (
            "a second note after the first",
            format!("{good}\n{}", tessera_checkpoint()),
            11,
        ),
    ];
    for (what, text, line) in &cases {
        match rejected(text) {
            TlogProofError::Malformed { line: got, reason } => {
                assert_eq!(got, *line, "{what}: {reason}");
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn at_most_63_path_hashes() {
    let checkpoint = tessera_checkpoint();
    let path = vec![[1; 32]; MAX_PATH_LEN];
    let proof = TlogProof::new(0, path.clone(), checkpoint.clone()).unwrap();
    assert_eq!(TlogProof::parse(&proof.to_text()), Ok(proof));

    let too_long = vec![[1; 32]; MAX_PATH_LEN + 1];
    assert_eq!(
        TlogProof::new(0, too_long.clone(), checkpoint.clone()),
        Err(TlogProofError::PathTooLong { len: 64 })
    );
    let mut text = String::from("c2sp.org/tlog-proof@v1\nindex 0\n");
    for hash in &too_long {
        text.push_str(&STANDARD.encode(hash));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&checkpoint);
    assert_eq!(rejected(&text), TlogProofError::PathTooLong { len: 64 });
}

#[test]
fn new_refuses_a_checkpoint_that_parse_would_refuse() {
    for (what, checkpoint) in [
        ("empty", String::new()),
        (
            "without newline",
            tessera_checkpoint().trim_end().to_owned(),
        ),
        (
            "unsigned",
            "example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n".into(),
        ),
        ("with a CR", tessera_checkpoint().replace('\n', "\r\n")),
    ] {
        assert!(
            matches!(
                TlogProof::new(0, Vec::new(), checkpoint),
                Err(TlogProofError::Malformed { .. })
            ),
            "{what}"
        );
    }
}

#[test]
fn verify_checks_the_callers_checkpoint_the_index_and_the_path() {
    let checkpoint = tessera_checkpoint();
    let (size, root) = checkpoint_size_and_root(&checkpoint);
    let (tree, leaves) = tessera_tree();
    let proof = TlogProof::new(
        3,
        inclusion_proof(&tree, 3, 15).unwrap(),
        checkpoint.clone(),
    )
    .unwrap();
    assert_eq!(proof.verify(&leaves[3], size, &root), Ok(()));

    // Values of another checkpoint than the receipt's.
    let mut other_root = root;
    other_root[0] ^= 1;
    assert_eq!(
        proof.verify(&leaves[3], size, &other_root),
        Err(TlogProofError::CheckpointMismatch {
            size,
            size_in_proof: 15
        })
    );
    assert_eq!(
        proof.verify(&leaves[3], 14, &tree.root()),
        Err(TlogProofError::CheckpointMismatch {
            size: 14,
            size_in_proof: 15
        })
    );
    // Another leaf, and the leaf of another index.
    assert_eq!(
        proof.verify(&leaves[4], size, &root),
        Err(TlogProofError::PathMismatch { index: 3 })
    );
    let moved = TlogProof::new(4, proof.path().to_vec(), checkpoint.clone()).unwrap();
    assert_eq!(
        moved.verify(&leaves[3], size, &root),
        Err(TlogProofError::PathMismatch { index: 4 })
    );
    // An index outside the tree.
    let outside = TlogProof::new(15, Vec::new(), checkpoint.clone()).unwrap();
    assert_eq!(
        outside.verify(&leaves[3], size, &root),
        Err(TlogProofError::IndexOutOfRange {
            index: 15,
            size: 15
        })
    );
    // A flipped bit anywhere in the path.
    for i in 0..proof.path().len() {
        let mut path = proof.path().to_vec();
        path[i][31] ^= 0x80;
        let bad = TlogProof::new(3, path, checkpoint.clone()).unwrap();
        assert_eq!(
            bad.verify(&leaves[3], size, &root),
            Err(TlogProofError::PathMismatch { index: 3 })
        );
    }
    // An `extra` line is ignored.
    let text = proof
        .to_text()
        .replacen("index ", "extra cGJyIHdyaXRlcyBub25l\nindex ", 1);
    let with_extra = TlogProof::parse(&text).unwrap();
    assert_eq!(with_extra.extra(), Some(&b"pbr writes none"[..]));
    assert_eq!(with_extra.verify(&leaves[3], size, &root), Ok(()));
    assert_eq!(with_extra.to_text(), text);
}

proptest! {
    #![proptest_config(Config { cases: 256, ..Config::default() })]

    /// Any index, path of up to 63 hashes and optional extra data round-trips through the
    /// text, byte for byte.
    #[test]
    fn any_receipt_round_trips(
        index in any::<u64>(),
        path in proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_PATH_LEN),
        extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100)),
    ) {
        let proof = TlogProof::new(index, path, tessera_checkpoint()).unwrap();
        let mut text = proof.to_text();
        if let Some(extra) = &extra {
            text = text.replacen("index ", &format!("extra {}\nindex ", STANDARD.encode(extra)), 1);
        }
        let parsed = TlogProof::parse(&text).unwrap();
        prop_assert_eq!(parsed.index(), index);
        prop_assert_eq!(parsed.path(), proof.path());
        prop_assert_eq!(parsed.extra(), extra.as_deref());
        prop_assert_eq!(parsed.to_text(), text);
    }
}

/// Cutting a receipt short at any byte never yields a receipt; nor does cutting it after any
/// whole line (the newline kept), which removes at least its signature line.
#[test]
fn a_truncated_receipt_is_rejected() {
    let good = good();
    for cut in 0..good.len() {
        if good.is_char_boundary(cut) {
            assert!(TlogProof::parse(&good[..cut]).is_err(), "{cut}");
        }
    }
    let lines: Vec<&str> = good.split_inclusive('\n').collect();
    for kept in 0..lines.len() {
        assert!(
            TlogProof::parse(&lines[..kept].concat()).is_err(),
            "{kept} lines"
        );
    }
}
