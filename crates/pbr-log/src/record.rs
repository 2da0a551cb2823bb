//! The record: the unit the log stores, hashes and signs (DESIGN §3 "Record bytes").
//!
//! Wire layout, normative:
//! `u16 LE format_version (= 1) ‖ u64 LE n ‖ event_bytes (n bytes) ‖ 32-byte Ed25519 public key ‖
//! 64-byte signature`, exactly `106 + n` bytes. It is the bincode 2 `legacy()` encoding of
//! [`WireRecord`]; a test pins the layout byte for byte.
//!
//! The log never looks inside `event_bytes`: what an event *means* belongs to `pbr-core`.
//! A signature is Ed25519 over `"pbr-event-v1\n" ‖ event_bytes`, checked strictly (see
//! [`verify_signature`]).

use bincode::{Decode, Encode};
use curve25519_dalek::edwards::CompressedEdwardsY;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use crate::error::RecordError;

/// The only record format version this code writes or accepts.
pub const FORMAT_VERSION: u16 = 1;
/// The domain-separation prefix of an event signature.
pub const EVENT_SIGNING_CONTEXT: &[u8] = b"pbr-event-v1\n";
/// The fixed part of a record: version (2) + length (8) + public key (32) + signature (64).
pub const RECORD_OVERHEAD: usize = 106;
/// The largest record, 65,535 bytes: a tlog-tiles entry bundle prefixes each entry with a
/// u16 length (DESIGN §3 "Record bytes", format 2).
pub const MAX_RECORD_LEN: usize = u16::MAX as usize;
/// The largest `event_bytes` a record may carry, 65,429 bytes. Decoding refuses larger
/// lengths before allocating, so a corrupt length prefix cannot exhaust memory.
pub const MAX_EVENT_LEN: usize = MAX_RECORD_LEN - RECORD_OVERHEAD;

/// The bincode `legacy()` configuration of every signed or hashed byte: little-endian,
/// fixed-width integers, u64 length prefixes, u32 enum tags, 1-byte Option tags.
pub fn wire_config() -> impl bincode::config::Config {
    bincode::config::legacy()
}

fn decode_config() -> impl bincode::config::Config {
    bincode::config::legacy().with_limit::<MAX_RECORD_LEN>()
}

/// The record exactly as it is encoded: field order is the wire order.
#[derive(Encode, Decode)]
struct WireRecord {
    format_version: u16,
    event_bytes: Vec<u8>,
    public_key: [u8; 32],
    signature: [u8; 64],
}

/// A signed record. Holding one does not mean its signature is valid: call
/// [`Record::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The bincode encoding of the event; opaque to the log.
    pub event_bytes: Vec<u8>,
    /// The author's Ed25519 public key.
    pub public_key: [u8; 32],
    /// Ed25519 over `EVENT_SIGNING_CONTEXT ‖ event_bytes`.
    pub signature: [u8; 64],
}

impl Record {
    /// Signs `event_bytes` with `key`.
    pub fn sign(event_bytes: Vec<u8>, key: &SigningKey) -> Result<Record, RecordError> {
        if event_bytes.len() > MAX_EVENT_LEN {
            return Err(RecordError::TooLarge {
                len: event_bytes.len(),
            });
        }
        let signature = key.sign(&signing_message(EVENT_SIGNING_CONTEXT, &event_bytes));
        Ok(Record {
            event_bytes,
            public_key: key.verifying_key().to_bytes(),
            signature: signature.to_bytes(),
        })
    }

    /// The record bytes.
    pub fn encode(&self) -> Result<Vec<u8>, RecordError> {
        if self.event_bytes.len() > MAX_EVENT_LEN {
            return Err(RecordError::TooLarge {
                len: self.event_bytes.len(),
            });
        }
        // The wire struct borrows nothing, so the event bytes are copied once; records are
        // small and this keeps the encoding in one declared place.
        let wire = WireRecord {
            format_version: FORMAT_VERSION,
            event_bytes: self.event_bytes.clone(),
            public_key: self.public_key,
            signature: self.signature,
        };
        let bytes =
            bincode::encode_to_vec(&wire, wire_config()).map_err(|e| RecordError::Malformed {
                reason: e.to_string(),
            })?;
        debug_assert_eq!(bytes.len(), RECORD_OVERHEAD + self.event_bytes.len());
        Ok(bytes)
    }

    /// Decodes record bytes, refusing another version, an over-long event, a truncation and
    /// any trailing byte.
    pub fn decode(bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() >= 2 {
            let version = u16::from_le_bytes([bytes[0], bytes[1]]);
            if version != FORMAT_VERSION {
                return Err(RecordError::Version { version });
            }
        }
        let (wire, read): (WireRecord, usize) = bincode::decode_from_slice(bytes, decode_config())
            .map_err(|e| RecordError::Malformed {
                reason: e.to_string(),
            })?;
        if read != bytes.len() {
            return Err(RecordError::Malformed {
                reason: format!("{} trailing bytes after the record", bytes.len() - read),
            });
        }
        Ok(Record {
            event_bytes: wire.event_bytes,
            public_key: wire.public_key,
            signature: wire.signature,
        })
    }

    /// Checks the signature strictly (see [`verify_signature`]).
    pub fn verify(&self) -> Result<(), RecordError> {
        verify_signature(
            &self.public_key,
            &signing_message(EVENT_SIGNING_CONTEXT, &self.event_bytes),
            &self.signature,
        )
    }
}

fn signing_message(context: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(context.len() + payload.len());
    message.extend_from_slice(context);
    message.extend_from_slice(payload);
    message
}

/// Verifies an Ed25519 signature the strict way DESIGN §3 asks for: RFC 8032 §5.1.7, plus
/// reject a non-canonical `S`, a small-order public key or `R` (as `verify_strict` does), and
/// a public key whose encoding is not canonical (`y >= p`), so that every key has exactly one
/// spelling and an outside verifier has nothing to guess.
pub fn verify_signature(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), RecordError> {
    verify_with_key(&checked_public_key(public_key)?, message, signature)
}

/// Decodes a public key, refusing a non-canonical encoding. Decoding costs about a fifth of
/// a verification, so callers that check many signatures by few keys keep the result.
pub fn checked_public_key(public_key: &[u8; 32]) -> Result<VerifyingKey, RecordError> {
    let canonical = CompressedEdwardsY(*public_key)
        .decompress()
        .map(|point| point.compress().to_bytes() == *public_key)
        .unwrap_or(false);
    if !canonical {
        return Err(RecordError::BadPublicKey);
    }
    VerifyingKey::from_bytes(public_key).map_err(|_| RecordError::BadPublicKey)
}

/// Verifies strictly with a key from [`checked_public_key`].
pub fn verify_with_key(
    key: &VerifyingKey,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), RecordError> {
    let signature = Signature::from_bytes(signature);
    key.verify_strict(message, &signature)
        .map_err(|_| RecordError::BadSignature)
}

/// The message an event signature covers: `"pbr-event-v1\n" ‖ event_bytes`.
pub fn event_signing_message(event_bytes: &[u8]) -> Vec<u8> {
    signing_message(EVENT_SIGNING_CONTEXT, event_bytes)
}

/// Signs `message` with the checkpoint key; used by notes.
pub(crate) fn sign_raw(key: &SigningKey, message: &[u8]) -> [u8; 64] {
    key.sign(message).to_bytes()
}
