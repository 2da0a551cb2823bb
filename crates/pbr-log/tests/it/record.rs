//! The record layout, its decoding rules and strict signatures.

use pbr_log::Record;
use pbr_log::error::RecordError;
use pbr_log::record::{MAX_EVENT_LEN, RECORD_OVERHEAD, verify_signature};
use proptest::prelude::*;

use crate::support::key;

#[test]
fn layout_is_version_length_event_key_signature() {
    let key = key("alice", 7);
    let record = Record::sign(b"hello".to_vec(), key.signing_key()).unwrap();
    let bytes = record.encode().unwrap();
    assert_eq!(bytes.len(), RECORD_OVERHEAD + 5);
    assert_eq!(&bytes[0..2], &[1, 0], "u16 LE version 1");
    assert_eq!(&bytes[2..10], &5u64.to_le_bytes(), "u64 LE length");
    assert_eq!(&bytes[10..15], b"hello");
    assert_eq!(&bytes[15..47], &record.public_key);
    assert_eq!(&bytes[47..111], &record.signature);
}

#[test]
fn other_versions_are_refused() {
    let key = key("alice", 7);
    let mut bytes = Record::sign(b"x".to_vec(), key.signing_key())
        .unwrap()
        .encode()
        .unwrap();
    for version in [0u16, 2, 256, u16::MAX] {
        bytes[0..2].copy_from_slice(&version.to_le_bytes());
        assert_eq!(
            Record::decode(&bytes),
            Err(RecordError::Version { version })
        );
    }
}

#[test]
fn oversized_length_prefix_is_refused_before_allocating() {
    let mut bytes = vec![1, 0];
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        Record::decode(&bytes),
        Err(RecordError::Malformed { .. })
    ));
    let too_long = vec![0u8; MAX_EVENT_LEN + 1];
    let key = key("alice", 7);
    assert!(matches!(
        Record::sign(too_long, key.signing_key()),
        Err(RecordError::TooLarge { .. })
    ));
}

#[test]
fn tampered_event_fails_signature() {
    let key = key("alice", 7);
    let mut record = Record::sign(b"pay 100".to_vec(), key.signing_key()).unwrap();
    assert_eq!(record.verify(), Ok(()));
    record.event_bytes[4] = b'9';
    assert_eq!(record.verify(), Err(RecordError::BadSignature));
}

#[test]
fn signature_is_domain_separated() {
    // A signature over the bare event bytes (without "pbr-event-v1\n") must not verify.
    use ed25519_dalek::Signer;
    let key = key("alice", 7);
    let bare = key.signing_key().sign(b"event").to_bytes();
    let record = Record {
        event_bytes: b"event".to_vec(),
        public_key: key.verifier_key().public_key,
        signature: bare,
    };
    assert_eq!(record.verify(), Err(RecordError::BadSignature));
}

/// `L`, the order of the prime-order subgroup, little-endian.
const L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = a[i] as u16 + b[i] as u16 + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    out
}

#[test]
fn non_canonical_s_is_refused() {
    let key = key("alice", 7);
    let record = Record::sign(b"event".to_vec(), key.signing_key()).unwrap();
    let mut signature = record.signature;
    let s: [u8; 32] = signature[32..].try_into().unwrap();
    signature[32..].copy_from_slice(&add_le(&s, &L));
    let message = [b"pbr-event-v1\n".as_slice(), b"event"].concat();
    assert_eq!(
        verify_signature(&record.public_key, &message, &signature),
        Err(RecordError::BadSignature)
    );
}

#[test]
fn small_order_keys_never_verify() {
    // The identity point: with R = identity and S = 0, [S]B = R + [k]A holds for every
    // message, which is exactly the forgery strict verification exists to refuse.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&identity);
    let message = b"pbr-event-v1\nanything";
    assert!(verify_signature(&identity, message, &signature).is_err());
    // A point of order 2: (0, -1).
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    assert!(verify_signature(&order_two, message, &signature).is_err());
}

#[test]
fn non_canonical_public_key_is_refused() {
    // y = p + 1 encodes the identity's y = 1 non-canonically.
    let mut key = [0xffu8; 32];
    key[0] = 0xee;
    key[31] = 0x7f;
    assert_eq!(
        verify_signature(&key, b"m", &[0; 64]),
        Err(RecordError::BadPublicKey)
    );
}

proptest! {
    #[test]
    fn round_trip(event in proptest::collection::vec(any::<u8>(), 0..600), seed in any::<[u8; 32]>()) {
        let key = pbr_log::SignerKey::from_seed("k", seed).unwrap();
        let record = Record::sign(event, key.signing_key()).unwrap();
        let bytes = record.encode().unwrap();
        prop_assert_eq!(bytes.len(), RECORD_OVERHEAD + record.event_bytes.len());
        prop_assert_eq!(Record::decode(&bytes).unwrap(), record.clone());
        prop_assert_eq!(Record::decode(&bytes).unwrap().verify(), Ok(()));
        // Every truncation is refused.
        for cut in 0..bytes.len() {
            prop_assert!(Record::decode(&bytes[..cut]).is_err(), "truncation to {} accepted", cut);
        }
        // Any trailing byte is refused.
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert!(Record::decode(&longer).is_err());
    }

    #[test]
    fn any_flipped_bit_is_caught(event in proptest::collection::vec(any::<u8>(), 1..100), bit in any::<usize>()) {
        let key = crate::support::key("k", 3);
        let bytes = Record::sign(event, key.signing_key()).unwrap().encode().unwrap();
        let mut flipped = bytes.clone();
        let bit = bit % (bytes.len() * 8);
        flipped[bit / 8] ^= 1 << (bit % 8);
        let caught = match Record::decode(&flipped) {
            Err(_) => true,
            Ok(record) => record.verify().is_err(),
        };
        prop_assert!(caught, "flipping bit {} went unnoticed", bit);
    }
}
