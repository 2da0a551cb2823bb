//! Read credentials (`docs/protocol.md`, "Credentials"): `DIR/server/tokens`, one line per
//! token, `PARTY operator|reader BLAKE3-HEX`, where the hash is of the token's text.
//!
//! Invariant: the server never holds a token, only its BLAKE3 hash; a request's token is
//! hashed and the hash looked up, so comparing secrets never happens and a comparison that
//! leaks timing leaks nothing about a token. The file is read again whenever its length or
//! modification time changes, so deleting a line revokes its token without a restart.
//! Making tokens (randomness) is the CLI's; this module only formats and reads lines.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Read the log: checkpoint, tiles, receipts.
    Reader,
    /// Read, and ask for a checkpoint (`POST /checkpoint`).
    Operator,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Operator => "operator",
        }
    }
}

/// The holder of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The party the token was issued to.
    pub party: String,
    /// What it may do.
    pub role: Role,
}

/// The tokens file of a ledger: `DIR/server/tokens`.
pub fn tokens_path(ledger: &Path) -> PathBuf {
    ledger.join(crate::SERVER_DIR).join("tokens")
}

/// The hash a tokens file keeps for `token`: BLAKE3 of its text, in lowercase hex.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// The line of the tokens file for `token` issued to `party`, with its newline.
pub fn token_line(party: &str, role: Role, token: &str) -> Result<String, String> {
    if party.is_empty() || !party.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "party {party:?} must be a non-empty name without spaces or control characters"
        ));
    }
    Ok(format!("{party} {} {}\n", role.as_str(), token_hash(token)))
}

/// Reads a tokens file's lines into `(hash, holder)`; a malformed line is an error naming it.
fn parse(text: &str, path: &Path) -> Result<Vec<(blake3::Hash, Holder)>, String> {
    let mut tokens = Vec::new();
    for (number, line) in (1..).zip(text.lines()) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |why: &str| format!("{}:{number}: {why}", path.display());
        let mut fields = line.split_ascii_whitespace();
        let (Some(party), Some(role), Some(hash), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(bad("expected `PARTY operator|reader BLAKE3-HEX`"));
        };
        let role = match role {
            "operator" => Role::Operator,
            "reader" => Role::Reader,
            _ => return Err(bad("the role is neither operator nor reader")),
        };
        let hash =
            blake3::Hash::from_hex(hash).map_err(|_| bad("the hash is not 64 hex digits"))?;
        tokens.push((
            hash,
            Holder {
                party: party.to_owned(),
                role,
            },
        ));
    }
    Ok(tokens)
}

/// The tokens file, cached and read again when it changes.
#[derive(Debug)]
pub(crate) struct Tokens {
    path: PathBuf,
    cache: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    /// Length and modification time of the file when it was read; `None` if it was absent.
    stamp: Option<(u64, Option<SystemTime>)>,
    read: bool,
    tokens: Vec<(blake3::Hash, Holder)>,
}

impl Tokens {
    pub(crate) fn new(path: PathBuf) -> Tokens {
        Tokens {
            path,
            cache: Mutex::new(Cached::default()),
        }
    }

    /// The holder of `token`, if the file lists its hash. A file that cannot be read or
    /// parsed admits nobody (and the error says why, for the log).
    pub(crate) fn holder(&self, token: &str) -> Result<Option<Holder>, String> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Some((meta.len(), meta.modified().ok())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(format!("{}: {error}", self.path.display())),
        };
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !cache.read || cache.stamp != stamp {
            let tokens = match stamp {
                None => Vec::new(),
                Some(_) => {
                    let text = std::fs::read_to_string(&self.path)
                        .map_err(|e| format!("{}: {e}", self.path.display()))?;
                    parse(&text, &self.path)?
                }
            };
            *cache = Cached {
                stamp,
                read: true,
                tokens,
            };
        }
        let hash = blake3::hash(token.as_bytes());
        Ok(cache
            .tokens
            .iter()
            .find(|(kept, _)| *kept == hash)
            .map(|(_, holder)| holder.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_reads_back() {
        let line = token_line("fokus-provider", Role::Reader, "secret").unwrap_or_default();
        let parsed = parse(&line, Path::new("tokens")).unwrap_or_default();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].0, blake3::hash(b"secret"));
        assert_eq!(parsed[0].1.role, Role::Reader);
        assert!(token_line("two words", Role::Reader, "x").is_err());
        assert!(parse("a reader zz\n", Path::new("t")).is_err());
    }
}
