//! The receipt a submitter keeps: a C2SP `tlog-proof@v1` text (DESIGN §3 "Proofs").
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64>]
//! index <decimal>
//! <base64 hash>            zero to 63 lines, the RFC 9162 §2.1.3 path, deepest first
//!
//! <checkpoint note>        verbatim, to the end of the text
//! ```
//!
//! This module owns the text form and the Merkle half of verification. It parses strictly:
//! every line ends in a newline, numbers are decimal without leading zeros, base64 is
//! canonical RFC 4648 §4 with padding, hashes are 32 bytes, and the checkpoint must have the
//! shape of a C2SP `tlog-checkpoint` signed note, so that nothing can trail it. It does not
//! judge the checkpoint's signatures, origin or witnesses: the caller verifies the note with
//! its trusted keys (C2SP `tlog-proof` steps 2 and 3) and passes the size and root it
//! verified to [`TlogProof::verify`] (step 4).
//!
//! Invariant: a [`TlogProof`] always has the shape `parse` accepts, so
//! `parse(&proof.to_text()) == Ok(proof)`; the constructors check what `parse` checks.
//! pbr writes no `extra` line (DESIGN §3 "Readings settled"); one that a reader finds is
//! kept, so that the text round-trips, and is ignored by verification.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::hash::Hash;
use crate::merkle;

/// The first line of every receipt.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The most hashes an inclusion path can have: tree sizes are below 2^63 (as in Go's
/// `sumdb/tlog` and C2SP `tlog-tiles`), so a path climbs at most 63 levels.
pub const MAX_PATH_LEN: usize = 63;

/// Why a receipt cannot be parsed or does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlogProofError {
    /// The text does not follow the format; `line` counts from 1.
    #[error("tlog-proof line {line}: {reason}")]
    Malformed {
        /// The line at fault.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The inclusion path is longer than any tree needs.
    #[error("tlog-proof inclusion path has {len} hashes, more than {MAX_PATH_LEN}")]
    PathTooLong {
        /// The number of hashes.
        len: usize,
    },
    /// The size or root the caller verified is not the one the receipt's checkpoint names.
    #[error(
        "tlog-proof checkpoint names size {size_in_proof}, not the verified size {size}, or another root"
    )]
    CheckpointMismatch {
        /// The size the caller passed.
        size: u64,
        /// The size in the receipt's checkpoint.
        size_in_proof: u64,
    },
    /// The index is not inside the tree.
    #[error("tlog-proof index {index} is not below the tree size {size}")]
    IndexOutOfRange {
        /// The receipt's index.
        index: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// The path does not lead from the leaf to the root.
    #[error("tlog-proof inclusion path does not lead from the leaf at index {index} to the root")]
    PathMismatch {
        /// The receipt's index.
        index: u64,
    },
}

/// A parsed C2SP `tlog-proof@v1` receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    path: Vec<Hash>,
    checkpoint: String,
    /// The size and root the checkpoint's body names (unverified; see [`TlogProof::verify`]).
    checkpoint_size: u64,
    checkpoint_root: Hash,
}

impl TlogProof {
    /// A receipt for the leaf at `index`, with its inclusion path and the signed checkpoint
    /// the path leads to (the note text, ending in a newline). No `extra` line.
    ///
    /// Fails if the path is longer than [`MAX_PATH_LEN`] or the checkpoint is not shaped as
    /// a C2SP `tlog-checkpoint` signed note; the `line` of such an error counts within the
    /// checkpoint.
    pub fn new(index: u64, path: Vec<Hash>, checkpoint: String) -> Result<Self, TlogProofError> {
        if path.len() > MAX_PATH_LEN {
            return Err(TlogProofError::PathTooLong { len: path.len() });
        }
        check_no_control_characters(&checkpoint, 1)?;
        let (checkpoint_size, checkpoint_root) = check_checkpoint(&checkpoint, 1)?;
        Ok(TlogProof {
            extra: None,
            index,
            path,
            checkpoint,
            checkpoint_size,
            checkpoint_root,
        })
    }

    /// The opaque, unauthenticated `extra` data, if the text had an `extra` line.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// The zero-based index of the entry in the log.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The RFC 9162 §2.1.3 inclusion path, from the leaf's sibling up to the root's child.
    pub fn path(&self) -> &[Hash] {
        &self.path
    }

    /// The checkpoint's signed note text, verbatim, for the caller to verify.
    pub fn checkpoint(&self) -> &str {
        &self.checkpoint
    }

    /// The receipt as text, byte for byte as the spec lays it out.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(64 + 45 * self.path.len() + self.checkpoint.len());
        text.push_str(HEADER);
        text.push('\n');
        if let Some(extra) = &self.extra {
            text.push_str("extra ");
            text.push_str(&STANDARD.encode(extra));
            text.push('\n');
        }
        text.push_str("index ");
        text.push_str(&self.index.to_string());
        text.push('\n');
        for hash in &self.path {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Parses a receipt strictly (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, TlogProofError> {
        check_no_control_characters(text, 1)?;
        let mut lines = Lines::new(text);

        let (number, header) = lines.next_line()?;
        if header != HEADER {
            return Err(malformed(number, format!("expected `{HEADER}`")));
        }

        let (mut number, mut line) = lines.next_line()?;
        let mut extra = None;
        if let Some(encoded) = line.strip_prefix("extra ") {
            extra = Some(decode_base64(encoded).map_err(|reason| malformed(number, reason))?);
            (number, line) = lines.next_line()?;
        }

        let Some(index) = line.strip_prefix("index ") else {
            return Err(malformed(number, "expected `index <decimal>`".into()));
        };
        let index = parse_decimal(index).map_err(|reason| malformed(number, reason))?;

        let mut path = Vec::new();
        loop {
            let (number, line) = lines.next_line()?;
            if line.is_empty() {
                break;
            }
            if path.len() == MAX_PATH_LEN {
                return Err(TlogProofError::PathTooLong {
                    len: path.len() + 1,
                });
            }
            path.push(decode_hash(line).map_err(|reason| malformed(number, reason))?);
        }

        let first_line = lines.number + 1;
        let checkpoint = lines.rest.to_owned();
        let (checkpoint_size, checkpoint_root) = check_checkpoint(&checkpoint, first_line)?;
        Ok(TlogProof {
            extra,
            index,
            path,
            checkpoint,
            checkpoint_size,
            checkpoint_root,
        })
    }

    /// Checks the Merkle half (C2SP `tlog-proof` step 4): that the path leads from
    /// `leaf_hash` at the receipt's index to `root` in the tree of `size` leaves.
    ///
    /// `size` and `root` must come from the caller's own verification of
    /// [`TlogProof::checkpoint`] against trusted keys: a path alone does not pin the tree
    /// size. As a guard against passing another checkpoint's values, they must also be the
    /// ones the receipt's checkpoint names. The `extra` data plays no part.
    pub fn verify(&self, leaf_hash: &Hash, size: u64, root: &Hash) -> Result<(), TlogProofError> {
        if size != self.checkpoint_size || *root != self.checkpoint_root {
            return Err(TlogProofError::CheckpointMismatch {
                size,
                size_in_proof: self.checkpoint_size,
            });
        }
        if self.index >= size {
            return Err(TlogProofError::IndexOutOfRange {
                index: self.index,
                size,
            });
        }
        if !merkle::verify_inclusion(self.index, size, leaf_hash, &self.path, root) {
            return Err(TlogProofError::PathMismatch { index: self.index });
        }
        Ok(())
    }
}

fn malformed(line: usize, reason: String) -> TlogProofError {
    TlogProofError::Malformed { line, reason }
}

/// The lines of a text, each of which must end in a newline.
struct Lines<'a> {
    rest: &'a str,
    /// The number of the line last returned.
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            rest: text,
            number: 0,
        }
    }

    /// The next line without its newline, and its number.
    fn next_line(&mut self) -> Result<(usize, &'a str), TlogProofError> {
        self.number += 1;
        match self.rest.split_once('\n') {
            Some((line, rest)) => {
                self.rest = rest;
                Ok((self.number, line))
            }
            None if self.rest.is_empty() => {
                Err(malformed(self.number, "the text ends too early".into()))
            }
            None => Err(malformed(
                self.number,
                "the line does not end in a newline".into(),
            )),
        }
    }
}

/// Signed notes "MUST NOT contain any ASCII control characters other than newline" (C2SP
/// `signed-note`); the receipt's own lines are ASCII, so the rule covers the whole text.
fn check_no_control_characters(text: &str, first_line: usize) -> Result<(), TlogProofError> {
    for (offset, line) in text.split('\n').enumerate() {
        if line.chars().any(|c| c.is_ascii_control()) {
            return Err(malformed(
                first_line + offset,
                "control character (only newline ends a line)".into(),
            ));
        }
    }
    Ok(())
}

/// An ASCII decimal without sign or leading zeros (except `0` itself) that fits a u64.
fn parse_decimal(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` is not a decimal number"));
    }
    if text.len() > 1 && text.starts_with('0') {
        return Err(format!("`{text}` has a leading zero"));
    }
    text.parse()
        .map_err(|_| format!("`{text}` does not fit 64 bits"))
}

/// Canonical standard base64 with padding (RFC 4648 §4).
fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("not canonical base64 ({e})"))
}

fn decode_hash(text: &str) -> Result<Hash, String> {
    let bytes = decode_base64(text)?;
    Hash::try_from(bytes.as_slice()).map_err(|_| format!("a hash of {} bytes, not 32", bytes.len()))
}

/// Checks that `note` has the shape of a C2SP `tlog-checkpoint` signed note and returns the
/// size and root its body names. `first_line` is the number of its first line in the
/// receipt. Signatures are decoded, never verified.
fn check_checkpoint(note: &str, first_line: usize) -> Result<(u64, Hash), TlogProofError> {
    if note.is_empty() {
        return Err(malformed(first_line, "the checkpoint is missing".into()));
    }
    if !note.ends_with('\n') {
        let last = first_line + note.matches('\n').count();
        return Err(malformed(last, "the line does not end in a newline".into()));
    }
    // C2SP signed-note: the text is separated from the signatures by the last empty line.
    let Some(split) = note.rfind("\n\n") else {
        let last = first_line + note.matches('\n').count() - 1;
        return Err(malformed(
            last,
            "the checkpoint has no empty line before its signatures".into(),
        ));
    };
    let body = &note[..split + 1];
    let signatures = &note[split + 2..];

    // Both parts end in a newline; `split` keeps the empty line a trailing newline leaves.
    let body_lines: Vec<&str> = body[..body.len() - 1].split('\n').collect();
    if let Some(empty) = body_lines.iter().position(|line| line.is_empty()) {
        return Err(malformed(
            first_line + empty,
            "an empty line in the checkpoint body".into(),
        ));
    }
    if body_lines.len() < 3 {
        return Err(malformed(
            first_line + body_lines.len(),
            "a checkpoint body has at least three lines: origin, size, root".into(),
        ));
    }
    let size = parse_decimal(body_lines[1]).map_err(|reason| malformed(first_line + 1, reason))?;
    let root = decode_hash(body_lines[2]).map_err(|reason| malformed(first_line + 2, reason))?;
    // Lines after the third are extension lines, opaque and non-empty (checked above).

    let signature_first_line = first_line + body_lines.len() + 1;
    if signatures.is_empty() {
        return Err(malformed(
            signature_first_line,
            "the checkpoint has no signature line".into(),
        ));
    }
    for (offset, line) in signatures[..signatures.len() - 1].split('\n').enumerate() {
        check_signature_line(line)
            .map_err(|reason| malformed(signature_first_line + offset, reason))?;
    }
    Ok((size, root))
}

/// `— <key name> <base64(4-byte key id ‖ signature)>` (C2SP `signed-note`).
fn check_signature_line(line: &str) -> Result<(), String> {
    let Some(rest) = line.strip_prefix("\u{2014} ") else {
        return Err("a signature line starts with an em dash and a space".into());
    };
    let Some((name, signature)) = rest.split_once(' ') else {
        return Err("a signature line is `— <key name> <base64 signature>`".into());
    };
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(format!(
            "key name `{name}` is empty or holds a space or `+`"
        ));
    }
    let bytes = decode_base64(signature)?;
    if bytes.len() <= 4 {
        return Err(format!(
            "a signature of {} bytes has nothing after its key id",
            bytes.len()
        ));
    }
    Ok(())
}
