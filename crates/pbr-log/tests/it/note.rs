//! Signed-note checkpoints (C2SP tlog-checkpoint), cosignatures (cosignature/v1) and the
//! key formats.

use pbr_log::note::{Checkpoint, SignedCheckpoint, SignerKey, VerifierKey, key_id};

use crate::support::key;

const ORIGIN: &str = "aalborg.example/impact60";

fn body() -> Checkpoint {
    Checkpoint {
        origin: ORIGIN.into(),
        size: 120,
        root: [7; 32],
    }
}

fn log_key() -> SignerKey {
    key(ORIGIN, 1)
}

fn witness(name: &str, seed: u8) -> SignerKey {
    SignerKey::witness_from_seed(name, [seed; 32]).unwrap()
}

#[test]
fn body_is_three_lines() {
    assert_eq!(
        body().body(),
        "aalborg.example/impact60\n120\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
    );
    assert_eq!(Checkpoint::parse_body(&body().body()).unwrap(), body());
}

#[test]
fn malformed_bodies_are_refused() {
    let good = body().body();
    let cases = [
        good.replace("120\n", "0120\n"),
        good.replace("120\n", "-1\n"),
        good.replace("120\n", "18446744073709551616\n"),
        good.replace(ORIGIN, "has space"),
        good.replace(ORIGIN, "has+plus"),
        good.replace(ORIGIN, ""),
        good.replace("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "Bwc="),
        good.replace(
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        ),
        format!("{good}extension line\n"),
        "aalborg.example/impact60\n120\n".to_owned(),
    ];
    for case in cases {
        assert!(Checkpoint::parse_body(&case).is_err(), "accepted {case:?}");
    }
}

#[test]
fn the_log_key_signs_and_witnesses_cosign() {
    let (w1, w2, w3) = (witness("w1", 2), witness("w2", 3), witness("w3", 4));
    let mut note = SignedCheckpoint::sign(body(), &log_key()).unwrap();
    let text = note.to_text();
    assert!(text.starts_with(&body().body()));
    assert!(text[body().body().len()..].starts_with(&format!("\n\u{2014} {ORIGIN} ")));
    note.cosign(&w1, 1_767_139_200).unwrap();
    note.cosign(&w2, 1_767_139_201).unwrap();
    note.cosign(&w2, 1_767_139_999).unwrap();
    let again = SignedCheckpoint::parse(&note.to_text()).unwrap();
    assert_eq!(again, note);
    assert_eq!(again.signatures.len(), 3, "a witness cosigns once");
    let trusted = [
        log_key().verifier_key(),
        w1.verifier_key(),
        w2.verifier_key(),
        w3.verifier_key(),
    ];
    assert_eq!(
        again.verify(&trusted).unwrap(),
        vec![ORIGIN.to_owned(), "w1".to_owned(), "w2".to_owned()]
    );
    assert_eq!(
        again.cosignature_time(&w2.verifier_key()).unwrap(),
        Some(1_767_139_201)
    );
    assert_eq!(again.cosignature_time(&w3.verifier_key()).unwrap(), None);
}

#[test]
fn a_cosignature_is_over_the_cosignature_v1_message() {
    // The signed message is "cosignature/v1\ntime <t>\n" ‖ body (C2SP tlog-cosignature),
    // and the line holds key id ‖ u64 BE time ‖ signature.
    use base64::Engine as _;
    use ed25519_dalek::Verifier as _;
    let w1 = witness("w1", 2);
    let mut note = SignedCheckpoint::sign(body(), &log_key()).unwrap();
    note.cosign(&w1, 1_679_315_147).unwrap();
    let line = note.to_text().lines().last().unwrap().to_owned();
    let material = base64::engine::general_purpose::STANDARD
        .decode(line.rsplit(' ').next().unwrap())
        .unwrap();
    assert_eq!(material.len(), 4 + 8 + 64);
    let vkey = w1.verifier_key();
    assert_eq!(material[..4], vkey.key_id);
    assert_eq!(material[4..12], 1_679_315_147u64.to_be_bytes());
    let message = format!("cosignature/v1\ntime 1679315147\n{}", body().body());
    let signature = ed25519_dalek::Signature::from_bytes(&material[12..].try_into().unwrap());
    ed25519_dalek::VerifyingKey::from_bytes(&vkey.public_key)
        .unwrap()
        .verify(message.as_bytes(), &signature)
        .unwrap();
    // The key id of a witness key commits to type 0x04.
    assert_eq!(vkey.key_id, key_id("w1", 0x04, &vkey.public_key));
    assert!(vkey.to_string().starts_with("w1+"));
}

#[test]
fn keys_of_the_wrong_kind_are_refused() {
    // A witness key cannot sign a checkpoint, a log key cannot cosign, and the log key is
    // named after the origin.
    assert!(SignedCheckpoint::sign(body(), &witness(ORIGIN, 2)).is_err());
    assert!(SignedCheckpoint::sign(body(), &key("someone-else", 1)).is_err());
    let mut note = SignedCheckpoint::sign(body(), &log_key()).unwrap();
    assert!(note.cosign(&key("w1", 2), 5).is_err());
    assert!(note.cosign(&witness("w1", 2), 0).is_err(), "time 0");
    assert!(
        note.cosign(&witness("w1", 2), 1 << 63).is_err(),
        "time 2^63"
    );
}

#[test]
fn the_same_public_key_as_event_key_and_witness_key_has_two_ids() {
    let event = key("alice", 9).verifier_key();
    let witness = witness("alice", 9).verifier_key();
    assert_eq!(event.public_key, witness.public_key);
    assert_ne!(event.key_id, witness.key_id);
    // A plain note signature does not pass for a cosignature of the same public key.
    let mut note = SignedCheckpoint::sign(body(), &log_key()).unwrap();
    note.cosign(&witness_key_as(&event), 10).unwrap_err();
}

fn witness_key_as(event: &VerifierKey) -> SignerKey {
    // An event key (type 0x01) offered as a witness: refused by cosign.
    SignerKey::from_seed(&event.name, [9; 32]).unwrap()
}

#[test]
fn a_forged_key_of_the_same_name_signs_nothing() {
    // A well-formed witness key with w1's name but another public key: its key id differs,
    // so w1's line is not its line, and it is never reported as w1's.
    let (real, forged) = (witness("w1", 2), witness("w1", 66));
    let mut note = SignedCheckpoint::sign(body(), &log_key()).unwrap();
    note.cosign(&real, 7).unwrap();
    assert_ne!(real.verifier_key().key_id, forged.verifier_key().key_id);
    assert_eq!(note.signers(&[forged.verifier_key()]).unwrap(), vec![]);
    assert_eq!(
        note.signers(&[forged.verifier_key(), real.verifier_key()])
            .unwrap(),
        vec![real.verifier_key()],
        "the key that verified, not the first of its name"
    );
}

#[test]
fn unknown_and_malformed_signature_lines_are_ignored() {
    let text = SignedCheckpoint::sign(body(), &log_key())
        .unwrap()
        .to_text();
    let text = format!("{text}\u{2014} stranger AAAA\nnot a signature line\n");
    let note = SignedCheckpoint::parse(&text).unwrap();
    assert_eq!(
        note.verify(&[log_key().verifier_key()]).unwrap(),
        vec![ORIGIN.to_owned()]
    );
    // Cosigning keeps every other line as it was.
    let mut cosigned = note.clone();
    cosigned.cosign(&witness("w1", 2), 3).unwrap();
    assert!(cosigned.to_text().starts_with(&text));
}

#[test]
fn a_known_key_with_a_bad_signature_invalidates_the_note() {
    let mut note = SignedCheckpoint::sign(body(), &log_key()).unwrap();
    note.cosign(&witness("w1", 2), 3).unwrap();
    let forged = note.to_text().replacen("\n120\n", "\n121\n", 1);
    let forged = SignedCheckpoint::parse(&forged).unwrap();
    assert!(forged.verify(&[log_key().verifier_key()]).is_err());
    assert!(forged.verify(&[witness("w1", 2).verifier_key()]).is_err());
    // A changed timestamp breaks the cosignature too.
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let text = note.to_text();
    let line = text.lines().last().unwrap();
    let mut material = b64.decode(line.rsplit(' ').next().unwrap()).unwrap();
    material[11] ^= 1;
    let retimed = text.replace(line, &format!("\u{2014} w1 {}", b64.encode(&material)));
    let retimed = SignedCheckpoint::parse(&retimed).unwrap();
    assert!(retimed.verify(&[witness("w1", 2).verifier_key()]).is_err());
}

#[test]
fn a_known_key_with_a_short_signature_invalidates_the_note() {
    use base64::Engine as _;
    let vkey = witness("w1", 2).verifier_key();
    let short =
        base64::engine::general_purpose::STANDARD.encode([&vkey.key_id[..], &[0u8; 64]].concat());
    let log = SignedCheckpoint::sign(body(), &log_key())
        .unwrap()
        .to_text();
    let text = format!("{log}\u{2014} w1 {short}\n");
    let note = SignedCheckpoint::parse(&text).unwrap();
    assert!(
        note.verify(&[vkey]).is_err(),
        "a cosignature is 8 + 64 bytes"
    );
    assert_eq!(
        note.verify(&[witness("w2", 3).verifier_key()]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn names_are_printable_ascii_without_plus() {
    for bad in ["", "a b", "a+b", "tab\t", "caf\u{e9}", "nbsp\u{a0}"] {
        assert!(SignerKey::from_seed(bad, [1; 32]).is_err(), "{bad:?}");
        assert!(
            SignerKey::witness_from_seed(bad, [1; 32]).is_err(),
            "{bad:?}"
        );
    }
    for good in ["a", "aalborg.example/impact60", "K1", "x_y-z~!"] {
        assert!(SignerKey::from_seed(good, [1; 32]).is_ok(), "{good:?}");
    }
}

#[test]
fn key_texts_round_trip_and_pin_the_key_id() {
    for signer in [key("alice", 1), witness("alice-witness", 1)] {
        let vkey = signer.verifier_key();
        assert_eq!(VerifierKey::parse(&vkey.to_string()).unwrap(), vkey);
        assert_eq!(
            vkey.key_id,
            key_id(&vkey.name, vkey.algorithm, &vkey.public_key)
        );
        let secret = signer.to_text();
        assert!(secret.starts_with(&format!("PRIVATE+KEY+{}+", vkey.name)));
        let parsed = SignerKey::parse(&secret).unwrap();
        assert_eq!(parsed.verifier_key(), vkey);
        assert_eq!(parsed.is_witness(), vkey.is_witness());
        // A wrong key id is refused.
        let text = vkey.to_string();
        let mut parts: Vec<&str> = text.splitn(3, '+').collect();
        parts[1] = "00000000";
        assert!(VerifierKey::parse(&parts.join("+")).is_err());
    }
    // Types other than 0x01 and 0x04 are refused.
    assert!(VerifierKey::parse("a+00000000+BQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
}

#[test]
fn the_vkey_of_another_implementation_parses() {
    // The tessera test log's key (../shared/interop/README.md), written by Go's note package.
    let vkey = VerifierKey::parse(
        "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx",
    )
    .unwrap();
    assert_eq!(vkey.name, "example.com/log/testdata");
    assert!(!vkey.is_witness());
}
