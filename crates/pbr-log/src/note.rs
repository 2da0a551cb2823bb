//! Checkpoints as C2SP signed notes, and the keys that sign and check them
//! (DESIGN §3 "Keys" and "Checkpoint", format 2).
//!
//! A checkpoint body is a C2SP `tlog-checkpoint`: three lines, each ending in `\n`,
//! `<origin>`, `<tree size>`, `<base64 Merkle root>`, and no extension lines. A blank line
//! follows, then one line per signature, `— <key name> <base64(key_id ‖ signature)>`:
//! - the log key's Ed25519 note signature (type `0x01`) over the body, 64 bytes;
//! - witnesses' `cosignature/v1` (type `0x04`): `u64 BE timestamp ‖ 64-byte Ed25519` over
//!   `"cosignature/v1\ntime <timestamp>\n" ‖ body` (C2SP `tlog-cosignature`).
//!
//! Signature lines of another shape, and lines from keys the verifier does not know, are
//! ignored, as C2SP requires; a line from a known key that is malformed or fails makes the
//! whole note invalid.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::hash::Hash;
use crate::hex;
use crate::record::{sign_raw, verify_signature};

/// The signature type of a plain Ed25519 note key (C2SP signed-note): event keys and the
/// log key.
pub const ALGORITHM_ED25519: u8 = 0x01;
/// The signature type of an Ed25519 `cosignature/v1` key (C2SP tlog-cosignature): witness
/// keys.
pub const ALGORITHM_COSIGNATURE_V1: u8 = 0x04;
/// The header line of the message a `cosignature/v1` signs.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1\n";
/// The largest cosignature timestamp C2SP allows, `2^63 − 1`.
pub const MAX_TIMESTAMP: u64 = (1 << 63) - 1;
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

/// `key_id = SHA-256(key name ‖ 0x0A ‖ type ‖ public key)[0..4]`.
pub fn key_id(name: &str, algorithm: u8, public_key: &[u8; 32]) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', algorithm]);
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

/// A public key that checks notes, written `<name>+<8 hex key_id>+<base64(type ‖ key)>`:
/// type `0x01` for an event key or the log key, `0x04` for a witness key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    /// The key name.
    pub name: String,
    /// The key id, derived from the name, the type and the key.
    pub key_id: [u8; 4],
    /// The signature type: [`ALGORITHM_ED25519`] or [`ALGORITHM_COSIGNATURE_V1`].
    pub algorithm: u8,
    /// The Ed25519 public key.
    pub public_key: [u8; 32],
}

impl VerifierKey {
    /// The verifier key of a named Ed25519 public key (type `0x01`: an event key or a log key).
    pub fn new(name: &str, public_key: [u8; 32]) -> Result<VerifierKey, NoteError> {
        VerifierKey::with_algorithm(name, ALGORITHM_ED25519, public_key)
    }

    /// The verifier key of a named key of the given signature type.
    pub fn with_algorithm(
        name: &str,
        algorithm: u8,
        public_key: [u8; 32],
    ) -> Result<VerifierKey, NoteError> {
        if !valid_key_name(name) {
            return err(format!(
                "key name {name:?} must be non-empty, without whitespace or '+'"
            ));
        }
        if algorithm != ALGORITHM_ED25519 && algorithm != ALGORITHM_COSIGNATURE_V1 {
            return err(format!(
                "key type 0x{algorithm:02x} is neither 0x01 (Ed25519) nor 0x04 (cosignature/v1)"
            ));
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            key_id: key_id(name, algorithm, &public_key),
            algorithm,
            public_key,
        })
    }

    /// Whether this is a witness key (`cosignature/v1`, type `0x04`).
    pub fn is_witness(&self) -> bool {
        self.algorithm == ALGORITHM_COSIGNATURE_V1
    }

    /// Parses `<name>+<hex key_id>+<base64(type ‖ key)>`, splitting on the first two `+`.
    pub fn parse(text: &str) -> Result<VerifierKey, NoteError> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return err("verifier key must be <name>+<key id>+<base64 key>");
        };
        let (algorithm, public_key) = decode_key_material(key)?;
        let vkey = VerifierKey::with_algorithm(name, algorithm, public_key)?;
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
        let mut material = vec![self.algorithm];
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

fn decode_key_material(text: &str) -> Result<(u8, [u8; 32]), NoteError> {
    let bytes = BASE64
        .decode(text)
        .or_else(|_| err("key is not valid base64"))?;
    match bytes.split_first() {
        Some((&algorithm, key))
            if key.len() == 32
                && (algorithm == ALGORITHM_ED25519 || algorithm == ALGORITHM_COSIGNATURE_V1) =>
        {
            // Invariant: the guard above checked that `key` is 32 bytes.
            Ok((algorithm, key.try_into().expect("length checked above")))
        }
        _ => err("key must be base64 of 0x01 or 0x04 followed by 32 key bytes"),
    }
}

/// A private key, written like a Go `note` signer key:
/// `PRIVATE+KEY+<name>+<hex key_id>+<base64(type ‖ 32-byte seed)>`. Type `0x01` signs
/// events or, as the log key, checkpoints; type `0x04` cosigns checkpoints as a witness.
#[derive(Clone)]
pub struct SignerKey {
    name: String,
    algorithm: u8,
    signing_key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        write!(f, "SignerKey({})", self.verifier_key())
    }
}

impl SignerKey {
    /// An Ed25519 key (type `0x01`) from a 32-byte seed; the caller brings the randomness.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<SignerKey, NoteError> {
        SignerKey::with_algorithm(name, ALGORITHM_ED25519, seed)
    }

    /// A witness key (type `0x04`, `cosignature/v1`) from a 32-byte seed.
    pub fn witness_from_seed(name: &str, seed: [u8; 32]) -> Result<SignerKey, NoteError> {
        SignerKey::with_algorithm(name, ALGORITHM_COSIGNATURE_V1, seed)
    }

    /// A key of the given signature type from a 32-byte seed.
    pub fn with_algorithm(
        name: &str,
        algorithm: u8,
        seed: [u8; 32],
    ) -> Result<SignerKey, NoteError> {
        let signing_key = SigningKey::from_bytes(&seed);
        // Checks the name and the type.
        VerifierKey::with_algorithm(name, algorithm, signing_key.verifying_key().to_bytes())?;
        Ok(SignerKey {
            name: name.to_owned(),
            algorithm,
            signing_key,
        })
    }

    /// The signature type.
    pub fn algorithm(&self) -> u8 {
        self.algorithm
    }

    /// Whether this is a witness key (`cosignature/v1`, type `0x04`).
    pub fn is_witness(&self) -> bool {
        self.algorithm == ALGORITHM_COSIGNATURE_V1
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
        let (algorithm, seed) = decode_key_material(key)?;
        let key = SignerKey::with_algorithm(name, algorithm, seed)?;
        if hex::encode(&key.verifier_key().key_id) != id {
            return err(format!(
                "signer key {name}: key id {id} does not match the key"
            ));
        }
        Ok(key)
    }

    /// The text form, with a trailing newline. It holds the secret.
    pub fn to_text(&self) -> String {
        let mut material = vec![self.algorithm];
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
            key_id: key_id(&self.name, self.algorithm, &public_key),
            algorithm: self.algorithm,
            public_key,
        }
    }
}

/// The body of a checkpoint: a C2SP `tlog-checkpoint` with no extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin, which is also its log key's name: non-empty, no whitespace, no `+`.
    pub origin: String,
    /// The number of records the checkpoint covers.
    pub size: u64,
    /// The Merkle root of those records.
    pub root: Hash,
}

impl Checkpoint {
    /// The three body lines, each ending in `\n`: the bytes every signature covers.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses exactly three body lines. Extension lines are refused: a pbr checkpoint has
    /// none, and a note with one is not a pbr checkpoint.
    pub fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        let Some(body) = body.strip_suffix('\n') else {
            return err("checkpoint body must end in a newline");
        };
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root] = lines.as_slice() else {
            return err(format!(
                "checkpoint body must have 3 lines (origin, size, root), not {}",
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
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
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
    /// Signs a checkpoint body with the log key, giving a note with one signature. The log
    /// key is a type-`0x01` key named after the origin (DESIGN §3 "Keys").
    pub fn sign(
        checkpoint: Checkpoint,
        log_key: &SignerKey,
    ) -> Result<SignedCheckpoint, NoteError> {
        if log_key.algorithm != ALGORITHM_ED25519 {
            return err(format!(
                "{} is a witness key; a checkpoint is signed with the log key",
                log_key.name
            ));
        }
        if log_key.name != checkpoint.origin {
            return err(format!(
                "key {} is not the log key of {}: a log key is named after the log's origin",
                log_key.name, checkpoint.origin
            ));
        }
        let signature = sign_raw(log_key.signing_key(), checkpoint.body().as_bytes());
        let vkey = log_key.verifier_key();
        let line = signature_line(&vkey.name, &vkey.key_id, &signature);
        Ok(SignedCheckpoint {
            checkpoint,
            signatures: vec![NoteSignature {
                name: vkey.name,
                key_id: vkey.key_id,
                signature: signature.to_vec(),
            }],
            raw_signature_lines: vec![line],
        })
    }

    /// The `cosignature/v1` message a witness signs: `"cosignature/v1\ntime <t>\n" ‖ body`.
    pub fn cosigned_message(&self, timestamp: u64) -> Vec<u8> {
        cosigned_message(&self.checkpoint.body(), timestamp)
    }

    /// Adds a witness key's `cosignature/v1` over the unchanged body, timestamped
    /// `timestamp` (Unix seconds, 1 … 2^63 − 1). A witness that already cosigned is not
    /// added twice: its first cosignature stays.
    pub fn cosign(&mut self, witness_key: &SignerKey, timestamp: u64) -> Result<(), NoteError> {
        if witness_key.algorithm != ALGORITHM_COSIGNATURE_V1 {
            return err(format!(
                "{} is not a witness key (type 0x04); make one with `pbr party keygen --kind witness`",
                witness_key.name
            ));
        }
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return err(format!(
                "cosignature timestamp {timestamp} is outside 1 … 2^63 − 1"
            ));
        }
        let vkey = witness_key.verifier_key();
        if self
            .signatures
            .iter()
            .any(|s| s.name == vkey.name && s.key_id == vkey.key_id)
        {
            return Ok(());
        }
        let signature = sign_raw(witness_key.signing_key(), &self.cosigned_message(timestamp));
        let mut material = Vec::with_capacity(72);
        material.extend_from_slice(&timestamp.to_be_bytes());
        material.extend_from_slice(&signature);
        let line = format!(
            "{SIGNATURE_PREFIX}{} {}",
            vkey.name,
            BASE64.encode([vkey.key_id.as_slice(), &material].concat())
        );
        self.signatures.push(NoteSignature {
            name: vkey.name,
            key_id: vkey.key_id,
            signature: material,
        });
        self.raw_signature_lines.push(line);
        Ok(())
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

    /// Parses a note. Signatures are not checked here: see [`SignedCheckpoint::signers`].
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

    /// The names of the keys in `keys` that signed (see [`SignedCheckpoint::signers`]).
    pub fn verify(&self, keys: &[VerifierKey]) -> Result<Vec<String>, NoteError> {
        let mut names: Vec<String> = Vec::new();
        for key in self.signers(keys)? {
            if !names.contains(&key.name) {
                names.push(key.name);
            }
        }
        Ok(names)
    }

    /// The keys in `keys` whose signature lines verify, each once, in note order: the key
    /// itself, so that two keys of one name (a real one and a forged one) are never confused.
    /// A type-`0x01` key's line is a note signature over the body; a type-`0x04` key's line is
    /// a `cosignature/v1`. Lines from unknown keys are ignored; a known key's line that is
    /// malformed or fails to verify is an error.
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
            check_line(key, line, &body)?;
            if !signed.contains(key) {
                signed.push(key.clone());
            }
        }
        Ok(signed)
    }

    /// The timestamp of `witness`'s cosignature, if the note carries one that verifies.
    pub fn cosignature_time(&self, witness: &VerifierKey) -> Result<Option<u64>, NoteError> {
        if !witness.is_witness() {
            return Ok(None);
        }
        let body = self.checkpoint.body();
        for line in &self.signatures {
            if line.name == witness.name && line.key_id == witness.key_id {
                return check_line(witness, line, &body).map(Some);
            }
        }
        Ok(None)
    }
}

/// `"cosignature/v1\ntime <timestamp>\n" ‖ body`.
pub fn cosigned_message(body: &str, timestamp: u64) -> Vec<u8> {
    format!("{COSIGNATURE_HEADER}time {timestamp}\n{body}").into_bytes()
}

/// Checks one signature line of a known key; for a cosignature, returns its timestamp
/// (0 for a note signature).
fn check_line(key: &VerifierKey, line: &NoteSignature, body: &str) -> Result<u64, NoteError> {
    if key.is_witness() {
        let Ok(material) = <[u8; 72]>::try_from(line.signature.as_slice()) else {
            return err(format!(
                "cosignature of {} is {} bytes, not 8 + 64",
                key.name,
                line.signature.len()
            ));
        };
        // `material` is 72 bytes: the timestamp, then the signature.
        let mut time = [0u8; 8];
        time.copy_from_slice(&material[..8]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&material[8..]);
        let timestamp = u64::from_be_bytes(time);
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return err(format!(
                "cosignature of {} has timestamp {timestamp}, outside 1 … 2^63 − 1",
                key.name
            ));
        }
        if verify_signature(
            &key.public_key,
            &cosigned_message(body, timestamp),
            &signature,
        )
        .is_err()
        {
            return err(format!("cosignature of {} does not verify", key.name));
        }
        Ok(timestamp)
    } else {
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
        Ok(0)
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
