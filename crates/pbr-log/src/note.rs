//! Checkpoints as C2SP signed notes, and the key formats that sign and check them
//! (DESIGN §3 "Checkpoint").
//!
//! A checkpoint body is five lines, each ending in `\n`:
//! `<origin>`, `<tree size>`, `<base64 Merkle root>`, `chain <base64 chain head>`,
//! `time <unix seconds>`. A blank line follows, then one line per signature:
//! `— <key name> <base64(key_id ‖ 64-byte Ed25519 signature over the body bytes)>`.
//!
//! Signature lines of another shape, and lines from keys the verifier does not know, are
//! ignored, as C2SP requires; a line from a known key whose signature is not 64 bytes or
//! fails makes the whole note invalid.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::hash::Hash;
use crate::hex;
use crate::record::{sign_raw, verify_signature};

/// The signature algorithm byte of an Ed25519 key in a note key (C2SP signed-note).
pub const ALGORITHM_ED25519: u8 = 0x01;
/// The signature-line prefix: an em dash and a space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// Notes larger than this are refused before parsing.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// At most this many signature lines are read.
pub const MAX_SIGNATURES: usize = 100;

/// A malformed note, key or checkpoint body.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct NoteError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, NoteError> {
    Err(NoteError(message.into()))
}

/// `key_id = SHA-256(key name ‖ 0x0A ‖ 0x01 ‖ public key)[0..4]`.
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ALGORITHM_ED25519]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Whether `name` may name a key or a ledger: non-empty printable ASCII (0x21..=0x7e) other
/// than `+`. This is C2SP's "no whitespace, no `+`" narrowed to ASCII, so that every language
/// draws the line in the same place.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'+')
}

/// A public key that checks notes, written `<name>+<8 hex key_id>+<base64(0x01 ‖ key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name.
    pub name: String,
    /// The key id, derived from the name and the key.
    pub key_id: [u8; 4],
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
}

impl VerifierKey {
    /// Builds the verifier key of a named public key.
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<VerifierKey, NoteError> {
        if !valid_key_name(name) {
            return err(format!(
                "key name {name:?} must be non-empty, without whitespace or '+'"
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, &public_key),
            public_key,
        })
    }

    /// Parses `<name>+<hex key_id>+<base64(0x01 ‖ key)>`, splitting on the first two `+`.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return err("verifier key must be <name>+<key id>+<base64 key>");
        };
        let public_key = decode_key_material(key)?;
        let vkey = VerifierKey::new(name, public_key)?;
        if hex::encode(&vkey.key_id) != id {
            return err(format!(
                "verifier key {name}: key id {id} does not match the key"
            ));
        }
        Ok(vkey)
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut material = vec![ALGORITHM_ED25519];
        material.extend_from_slice(&self.public_key);
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(&self.key_id),
            BASE64.encode(material)
        )
    }
}

fn decode_key_material(text: &str) -> Result<[u8; 32], NoteError> {
    let bytes = BASE64
        .decode(text)
        .or_else(|_| err("key is not valid base64"))?;
    match bytes.split_first() {
        Some((&ALGORITHM_ED25519, key)) if key.len() == 32 => {
            Ok(key.try_into().expect("length checked above"))
        }
        _ => err("key must be base64 of 0x01 followed by 32 key bytes"),
    }
}

/// A private key that signs events and notes, written like a Go `note` signer key:
/// `PRIVATE+KEY+<name>+<hex key_id>+<base64(0x01 ‖ 32-byte seed)>`.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    signing_key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "SignerKey({})", self.verifier_key())
    }
}

impl SignerKey {
    /// A key from a 32-byte seed; the caller brings the randomness.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<SignerKey, NoteError> {
        if !valid_key_name(name) {
            return err(format!(
                "key name {name:?} must be non-empty, without whitespace or '+'"
            ));
        }
        Ok(SignerKey {
            name: name.to_owned(),
            signing_key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parses the text form (surrounding whitespace allowed).
    pub fn parse(text: &str) -> Result<SignerKey, NoteError> {
        let Some(rest) = text.trim().strip_prefix("PRIVATE+KEY+") else {
            return err("signer key must start with PRIVATE+KEY+");
        };
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return err("signer key must be PRIVATE+KEY+<name>+<key id>+<base64 seed>");
        };
        let key = SignerKey::from_seed(name, decode_key_material(key)?)?;
        if hex::encode(&key.verifier_key().key_id) != id {
            return err(format!(
                "signer key {name}: key id {id} does not match the key"
            ));
        }
        Ok(key)
    }

    /// The text form, with a trailing newline. It holds the secret.
    pub fn to_text(&self) -> String {
        let mut material = vec![ALGORITHM_ED25519];
        material.extend_from_slice(self.signing_key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}\n",
            self.name,
            hex::encode(&self.verifier_key().key_id),
            BASE64.encode(material)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 signing key, for signing event records.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The public half.
    pub fn verifier_key(&self) -> VerifierKey {
        let public_key = self.signing_key.verifying_key().to_bytes();
        VerifierKey {
            name: self.name.clone(),
            key_id: key_id(&self.name, &public_key),
            public_key,
        }
    }
}

/// The body of a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The ledger id: non-empty, no whitespace, no `+`.
    pub origin: String,
    /// The number of records the checkpoint covers.
    pub size: u64,
    /// The Merkle root of those records.
    pub root: Hash,
    /// The chain head after those records.
    pub chain: Hash,
    /// Unix seconds, set by the party that makes the checkpoint.
    pub time: u64,
}

impl Checkpoint {
    /// The five body lines, each ending in `\n`: the bytes every signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\nchain {}\ntime {}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root),
            BASE64.encode(self.chain),
            self.time
        )
    }

    /// Parses exactly five body lines.
    pub fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        let Some(body) = body.strip_suffix('\n') else {
            return err("checkpoint body must end in a newline");
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, chain, time] = lines.as_slice() else {
            return err(format!(
                "checkpoint body must have 5 lines, not {}",
                lines.len()
            ));
        };
        if !valid_key_name(origin) {
            return err(format!(
                "origin {origin:?} must be non-empty, without spaces or '+'"
            ));
        }
        let size =
            parse_decimal(size).ok_or_else(|| NoteError(format!("bad tree size {size:?}")))?;
        let root = decode_hash_base64(root)
            .ok_or_else(|| NoteError(format!("bad Merkle root {root:?}")))?;
        let chain = chain
            .strip_prefix("chain ")
            .and_then(decode_hash_base64)
            .ok_or_else(|| NoteError(format!("bad chain line {chain:?}")))?;
        let time = time
            .strip_prefix("time ")
            .and_then(parse_decimal)
            .ok_or_else(|| NoteError(format!("bad time line {time:?}")))?;
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
            chain,
            time,
        })
    }
}

/// Decimal without sign or leading zeros ("0" itself is fine).
fn parse_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

fn decode_hash_base64(text: &str) -> Option<Hash> {
    BASE64.decode(text).ok()?.try_into().ok()
}

/// One well-formed signature line: `— <name> <base64>` whose base64 holds at least a key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id.
    pub key_id: [u8; 4],
    /// The signature bytes after the key id; 64 for a good Ed25519 signature. Any other
    /// length from a trusted key makes the note invalid, as in C2SP and Go's `note.Open`.
    pub signature: Vec<u8>,
}

/// A parsed signed note: the checkpoint body and its signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The body fields.
    pub checkpoint: Checkpoint,
    /// The well-formed signature lines, in note order.
    pub signatures: Vec<NoteSignature>,
    /// The signature lines exactly as read, including ones of another shape, kept so that a
    /// co-signature never drops anyone else's line.
    raw_signature_lines: Vec<String>,
}

impl SignedCheckpoint {
    /// Signs a checkpoint body, giving a note with one signature.
    pub fn sign(checkpoint: Checkpoint, key: &SignerKey) -> SignedCheckpoint {
        let mut note = SignedCheckpoint {
            checkpoint,
            signatures: Vec::new(),
            raw_signature_lines: Vec::new(),
        };
        note.cosign(key);
        note
    }

    /// Adds `key`'s signature over the unchanged body. A key that already signed is not
    /// added twice.
    pub fn cosign(&mut self, key: &SignerKey) {
        let vkey = key.verifier_key();
        if self
            .signatures
            .iter()
            .any(|s| s.name == vkey.name && s.key_id == vkey.key_id)
        {
            return;
        }
        let signature = sign_raw(key.signing_key(), self.checkpoint.body().as_bytes());
        let line = signature_line(&vkey.name, &vkey.key_id, &signature);
        self.signatures.push(NoteSignature {
            name: vkey.name,
            key_id: vkey.key_id,
            signature: signature.to_vec(),
        });
        self.raw_signature_lines.push(line);
    }

    /// The note text: body, blank line, signature lines.
    pub fn to_text(&self) -> String {
        let mut text = self.checkpoint.body();
        text.push('\n');
        for line in &self.raw_signature_lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note. Signatures are not checked here: see [`SignedCheckpoint::verify`].
    pub fn parse(text: &str) -> Result<SignedCheckpoint, NoteError> {
        if text.len() > MAX_NOTE_LEN {
            return err(format!("note is larger than {MAX_NOTE_LEN} bytes"));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return err("note contains a control character");
        }
        let Some(split) = text.find("\n\n") else {
            return err("note has no blank line before its signatures");
        };
        let (body, signatures) = (&text[..=split], &text[split + 2..]);
        let checkpoint = Checkpoint::parse_body(body)?;
        let Some(signatures) = signatures.strip_suffix('\n') else {
            return err("note must end in a newline");
        };
        if signatures.is_empty() {
            return err("note has no signature lines");
        }
        let raw: Vec<String> = signatures.split('\n').map(str::to_owned).collect();
        if raw.len() > MAX_SIGNATURES {
            return err(format!(
                "note has more than {MAX_SIGNATURES} signature lines"
            ));
        }
        let parsed = raw
            .iter()
            .filter_map(|line| parse_signature_line(line))
            .collect();
        Ok(SignedCheckpoint {
            checkpoint,
            signatures: parsed,
            raw_signature_lines: raw,
        })
    }

    /// Checks the signatures of the keys in `keys` and returns the names of those that
    /// signed. Lines from unknown keys are ignored; a known key's line that fails to verify
    /// is an error.
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<String>, NoteError> {
        let mut names: Vec<String> = Vec::new();
        for key in self.signers(keys)? {
            if !names.contains(&key.name) {
                names.push(key.name);
            }
        }
        Ok(names)
    }

    /// The keys in `keys` whose signatures verify, each once, in note order: the key itself,
    /// so that two keys of one name (a real one and a forged one) are never confused. Lines
    /// from unknown keys are ignored; a known key's line that fails to verify is an error.
    pub fn signers(&self, keys: &[VerifierKey]) -> Result<Vec<VerifierKey>, NoteError> {
        let body = self.checkpoint.body();
        let mut signed: Vec<VerifierKey> = Vec::new();
        for line in &self.signatures {
            let Some(key) = keys
                .iter()
                .find(|k| k.name == line.name && k.key_id == line.key_id)
            else {
                continue;
            };
            let Ok(signature) = <[u8; 64]>::try_from(line.signature.as_slice()) else {
                return err(format!(
                    "signature of {} is {} bytes, not 64",
                    key.name,
                    line.signature.len()
                ));
            };
            if verify_signature(&key.public_key, body.as_bytes(), &signature).is_err() {
                return err(format!("signature of {} does not verify", key.name));
            }
            if !signed.contains(key) {
                signed.push(key.clone());
            }
        }
        Ok(signed)
    }
}

fn signature_line(name: &str, key_id: &[u8; 4], signature: &[u8; 64]) -> String {
    let mut material = Vec::with_capacity(68);
    material.extend_from_slice(key_id);
    material.extend_from_slice(signature);
    format!("{SIGNATURE_PREFIX}{name} {}", BASE64.encode(material))
}

fn parse_signature_line(line: &str) -> Option<NoteSignature> {
    let rest = line.strip_prefix(SIGNATURE_PREFIX)?;
    let (name, material) = rest.split_once(' ')?;
    if !valid_key_name(name) {
        return None;
    }
    let material = BASE64.decode(material).ok()?;
    if material.len() < 4 {
        return None;
    }
    Some(NoteSignature {
        name: name.to_owned(),
        key_id: material[..4].try_into().ok()?,
        signature: material[4..].to_vec(),
    })
}
