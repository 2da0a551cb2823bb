//! Signed-note checkpoints and the key formats.

use pbr_log::note::{Checkpoint, SignedCheckpoint, SignerKey, VerifierKey, key_id};

use crate::support::key;

fn body() -> Checkpoint {
    Checkpoint {
        origin: "aalborg.example/impact60".into(),
        size: 120,
        root: [7; 32],
        chain: [9; 32],
        time: 1_727_740_800,
    }
}

#[test]
fn body_is_five_lines() {
    assert_eq!(
        body().body(),
        "aalborg.example/impact60\n120\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\
         chain CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\ntime 1727740800\n"
    );
    assert_eq!(Checkpoint::parse_body(&body().body()).unwrap(), body());
}

#[test]
fn malformed_bodies_are_refused() {
    let good = body().body();
    let cases = [
        good.replace("120\n", "0120\n"),
        good.replace("120\n", "-1\n"),
        good.replace("aalborg.example/impact60", "has space"),
        good.replace("aalborg.example/impact60", "has+plus"),
        good.replace("chain ", "chain:"),
        good.replace("time 1727740800", "time 01727740800"),
        good.replace("time 1727740800\n", "time 1727740800"),
        good.replace("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", "Bwc="),
        format!("{good}extension line\n"),
    ];
    for case in cases {
        assert!(Checkpoint::parse_body(&case).is_err(), "accepted {case:?}");
    }
}

#[test]
fn sign_cosign_verify() {
    let (alice, bob, carol) = (key("alice", 1), key("bob", 2), key("carol", 3));
    let mut note = SignedCheckpoint::sign(body(), &alice);
    let text = note.to_text();
    assert!(text.starts_with(&body().body()));
    assert!(text[body().body().len()..].starts_with("\n\u{2014} alice "));
    note.cosign(&bob);
    note.cosign(&bob);
    let again = SignedCheckpoint::parse(&note.to_text()).unwrap();
    assert_eq!(again, note);
    assert_eq!(again.signatures.len(), 2, "a key signs once");
    let trusted = [
        alice.verifier_key(),
        bob.verifier_key(),
        carol.verifier_key(),
    ];
    assert_eq!(
        again.verify(&trusted).unwrap(),
        vec!["alice".to_owned(), "bob".to_owned()]
    );
    assert_eq!(
        again.verify(&[carol.verifier_key()]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn a_forged_key_of_the_same_name_signs_nothing() {
    // A well-formed verifier key with alice's name but another public key: its key id
    // differs, so alice's line is not its line, and it is never reported as alice's.
    let (alice, forged) = (key("alice", 1), key("alice", 66));
    let note = SignedCheckpoint::sign(body(), &alice);
    assert_ne!(alice.verifier_key().key_id, forged.verifier_key().key_id);
    assert_eq!(note.signers(&[forged.verifier_key()]).unwrap(), vec![]);
    assert_eq!(
        note.signers(&[forged.verifier_key(), alice.verifier_key()])
            .unwrap(),
        vec![alice.verifier_key()],
        "the key that verified, not the first of its name"
    );
}

#[test]
fn unknown_and_malformed_signature_lines_are_ignored() {
    let alice = key("alice", 1);
    let text = SignedCheckpoint::sign(body(), &alice).to_text();
    let text = format!("{text}\u{2014} stranger AAAA\nnot a signature line\n");
    let note = SignedCheckpoint::parse(&text).unwrap();
    assert_eq!(
        note.verify(&[alice.verifier_key()]).unwrap(),
        vec!["alice".to_owned()]
    );
    // Co-signing keeps every other line as it was.
    let mut cosigned = note.clone();
    cosigned.cosign(&key("bob", 2));
    assert!(cosigned.to_text().starts_with(&text));
}

#[test]
fn a_known_key_with_a_bad_signature_invalidates_the_note() {
    let alice = key("alice", 1);
    let note = SignedCheckpoint::sign(body(), &alice);
    let mut other = body();
    other.size = 121;
    let forged = note.to_text().replacen("\n120\n", "\n121\n", 1);
    assert!(forged.starts_with(&other.body()));
    let forged = SignedCheckpoint::parse(&forged).unwrap();
    assert!(forged.verify(&[alice.verifier_key()]).is_err());
}

#[test]
fn a_known_key_with_a_short_signature_invalidates_the_note() {
    use base64::Engine as _;
    let alice = key("alice", 1);
    let vkey = alice.verifier_key();
    let short =
        base64::engine::general_purpose::STANDARD.encode([&vkey.key_id[..], &[0u8; 10]].concat());
    let text = format!("{}\n\u{2014} alice {short}\n", body().body());
    let note = SignedCheckpoint::parse(&text).unwrap();
    assert!(note.verify(&[vkey]).is_err());
    assert_eq!(
        note.verify(&[key("bob", 2).verifier_key()]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn names_are_printable_ascii_without_plus() {
    for bad in ["", "a b", "a+b", "tab\t", "caf\u{e9}", "nbsp\u{a0}"] {
        assert!(SignerKey::from_seed(bad, [1; 32]).is_err(), "{bad:?}");
    }
    for good in ["a", "aalborg.example/impact60", "K1", "x_y-z~!"] {
        assert!(SignerKey::from_seed(good, [1; 32]).is_ok(), "{good:?}");
    }
}

#[test]
fn key_texts_round_trip_and_pin_the_key_id() {
    let alice = key("alice", 1);
    let vkey = alice.verifier_key();
    assert_eq!(VerifierKey::parse(&vkey.to_string()).unwrap(), vkey);
    assert_eq!(vkey.key_id, key_id("alice", &vkey.public_key));
    let secret = alice.to_text();
    assert!(secret.starts_with("PRIVATE+KEY+alice+"));
    assert_eq!(SignerKey::parse(&secret).unwrap().verifier_key(), vkey);
    // A wrong key id is refused.
    let text = vkey.to_string();
    let mut parts: Vec<&str> = text.splitn(3, '+').collect();
    parts[1] = "00000000";
    assert!(VerifierKey::parse(&parts.join("+")).is_err());
    assert!(SignerKey::from_seed("has space", [1; 32]).is_err());
    assert!(SignerKey::from_seed("has+plus", [1; 32]).is_err());
    assert!(SignerKey::from_seed("", [1; 32]).is_err());
}
