//! Identifiers: names of contracts, parties, outcomes and companies; participant references;
//! client event ids.

use std::fmt;

use bincode::{Decode, Encode};

use crate::error::CoreError;

/// Checks a name: 1 to 64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
/// Names appear in signed bytes and in file names, so they stay plain.
pub fn check_name(kind: &str, name: &str) -> Result<(), CoreError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if first_ok && rest_ok && name.len() <= 64 {
        Ok(())
    } else {
        Err(CoreError::invalid(format!(
            "{kind} {} must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit",
            crate::error::quoted(name)
        )))
    }
}

/// A participant's pseudonym: BLAKE3 keyed hash of the CPR number (see [`crate::cpr`]).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Encode,
    Decode,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct ParticipantRef(pub [u8; 32]);

impl ParticipantRef {
    /// Parses 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<ParticipantRef, CoreError> {
        parse_hex::<32>(text)
            .map(ParticipantRef)
            .ok_or_else(|| CoreError::invalid("a participant reference is 64 lowercase hex digits"))
    }
}

impl fmt::Display for ParticipantRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// The client-assigned id of an event: appending an id that exists is a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode)]
pub struct EventId(pub [u8; 16]);

impl EventId {
    /// Parses 32 hex digits, with or without UUID dashes.
    pub fn parse(text: &str) -> Result<EventId, CoreError> {
        let compact: String = text.trim().chars().filter(|c| *c != '-').collect();
        parse_hex::<16>(&compact.to_ascii_lowercase())
            .map(EventId)
            .ok_or_else(|| {
                CoreError::invalid(format!(
                    "{} is not a 128-bit id (32 hex digits)",
                    crate::error::quoted(text)
                ))
            })
    }

    /// A deterministic id from a source and a position, for imports whose rows carry none:
    /// the first 16 bytes of `BLAKE3(source ‖ 0x00 ‖ position)`.
    pub fn derived(source: &[u8], position: &str) -> EventId {
        let mut hasher = blake3::Hasher::new();
        hasher.update(source);
        hasher.update(&[0]);
        hasher.update(position.as_bytes());
        let mut id = [0u8; 16];
        id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        EventId(id)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

/// Parses any even number of lowercase hex digits.
pub fn parse_hex_vec(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Parses exactly `N` bytes of lowercase hex.
pub fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// The name of a verifier key text `<name>+<key id hex>+<base64>`, when it has that shape
/// (8 hex digits of key id and a non-empty key part). The key itself is checked by the log.
pub fn verifier_key_name(text: &str) -> Option<&str> {
    let mut parts = text.splitn(3, '+');
    let (name, id, key) = (parts.next()?, parts.next()?, parts.next()?);
    let id_ok = id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (id_ok && !key.is_empty() && !name.is_empty()).then_some(name)
}

/// The Ed25519 public key inside a verifier key text (`<name>+<id>+<base64(0x01 ‖ key)>`),
/// when it has that shape. Whether the key id matches is the log's check.
pub fn verifier_key_public_key(text: &str) -> Option<[u8; 32]> {
    verifier_key_name(text)?;
    let encoded = text.splitn(3, '+').nth(2)?;
    let bytes = base64_decode(encoded)?;
    match bytes.split_first() {
        Some((1, key)) => key.try_into().ok(),
        _ => None,
    }
}

/// The name, signature type and public key of a verifier key text
/// (`<name>+<id>+<base64(type ‖ key)>`), for types `0x01` (event and log keys) and `0x04`
/// (witness keys). Whether the key id matches is the log's check.
pub fn verifier_key_parts(text: &str) -> Option<(&str, u8, [u8; 32])> {
    let name = verifier_key_name(text)?;
    let encoded = text.splitn(3, '+').nth(2)?;
    let bytes = base64_decode(encoded)?;
    match bytes.split_first() {
        Some((&kind @ (0x01 | 0x04), key)) => Some((name, kind, key.try_into().ok()?)),
        _ => None,
    }
}

/// Whether `name` may name a key or a log: printable ASCII (0x21 to 0x7e) other than `+`,
/// at least one character (DESIGN §3 "Keys").
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'+')
}

/// Standard base64 with padding (RFC 4648 §4), strict: no whitespace, canonical padding bits.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = text.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, quad) in bytes.chunks_exact(4).enumerate() {
        let last = i + 1 == bytes.len() / 4;
        let pad = quad.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        let chunk = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        if pad > 0 && (n & ((1 << (8 * pad)) - 1)) != 0 {
            return None;
        }
        out.extend_from_slice(&chunk[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["impact60", "K1", "O8", "dwp", "aalborg-jobcenter", "a.b_c"] {
            assert!(check_name("party", good).is_ok(), "{good}");
        }
        for bad in ["", "-x", "has space", "æble", "a+b", &"x".repeat(65)] {
            assert!(check_name("party", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_ids() -> Result<(), CoreError> {
        let id = EventId::parse("123e4567-e89b-12d3-a456-426614174000")?;
        assert_eq!(id.to_string(), "123e4567e89b12d3a456426614174000");
        assert!(EventId::parse("123").is_err());
        assert_eq!(EventId::derived(b"f", "1"), EventId::derived(b"f", "1"));
        assert_ne!(EventId::derived(b"f", "1"), EventId::derived(b"f", "2"));
        Ok(())
    }
}
