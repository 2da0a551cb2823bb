//! The ledger's own account of what it committed: the file `COMMITTED` beside `sled/`
//! (`docs/format.md` §7.1).
//!
//! sled 0.34.7 can come back from a damaged file at an earlier state without saying so: a
//! truncated `db` or one flipped bit has left a ledger of 10,000 records opening as one of 1.
//! So the ledger keeps, outside sled, the size, Merkle root and chain head of the log as the
//! last commit left it, and the latest checkpoint note it stored, and every open compares
//! sled with it ([`crate::Log::open`]).
//!
//! The file is small text with a BLAKE3 checksum over everything before the checksum line:
//!
//! ```text
//! pbr-committed 1
//! origin <ledger id>
//! size <decimal>
//! root <64 hex>
//! chain <64 hex>
//! checkpoint <n, the byte length of the note that follows; 0 for none>
//! <the n bytes of the latest stored checkpoint note, which ends in a newline>
//! blake3 <64 hex of BLAKE3 of every byte above>
//! ```
//!
//! Crash ordering: the file is written after sled's commit is durable (after its flush), to
//! a temporary file that is synced, renamed over `COMMITTED`, and then the directory is
//! synced. A crash in between leaves sled ahead of the file by one commit, never behind it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::error::LogError;
use crate::hash::Hash;
use crate::hex;

/// The file's name in a ledger directory.
pub const ACCOUNT_FILE: &str = "COMMITTED";
/// The temporary file a new account is written to before it is renamed over the old one.
const TEMP_FILE: &str = "COMMITTED.tmp";
/// The first line: the file's name for itself and its version.
const MAGIC: &str = "pbr-committed 1";
/// A note is at most 64 KiB (`docs/format.md` §4); with the lines around it, a file larger
/// than this is not an account.
const MAX_LEN: u64 = 80 * 1024;

/// What the ledger committed, as the last commit or checkpoint store left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The ledger id.
    pub origin: String,
    /// The number of records committed.
    pub size: u64,
    /// The Merkle root of those records.
    pub root: Hash,
    /// The chain head after them.
    pub chain: Hash,
    /// The text of the latest checkpoint note stored, if any.
    pub note: Option<String>,
}

impl Account {
    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let note = self.note.as_deref().unwrap_or("");
        let mut out = format!(
            "{MAGIC}\norigin {}\nsize {}\nroot {}\nchain {}\ncheckpoint {}\n",
            self.origin,
            self.size,
            hex::encode(&self.root),
            hex::encode(&self.chain),
            note.len()
        )
        .into_bytes();
        out.extend_from_slice(note.as_bytes());
        let sum = blake3::hash(&out);
        out.extend_from_slice(format!("blake3 {}\n", hex::encode(sum.as_bytes())).as_bytes());
        out
    }

    /// Parses the file's bytes; an error says why they are not a whole account.
    pub fn parse(bytes: &[u8]) -> Result<Account, String> {
        // The checksum line is the last line: `blake3 ` and 64 hex digits and a newline.
        const SUM_LINE: usize = 7 + 64 + 1;
        let split = bytes
            .len()
            .checked_sub(SUM_LINE)
            .ok_or("shorter than its checksum line")?;
        let (body, sum_line) = bytes.split_at(split);
        let sum_text = std::str::from_utf8(sum_line)
            .ok()
            .and_then(|line| line.strip_prefix("blake3 "))
            .and_then(|line| line.strip_suffix('\n'))
            .and_then(hex::decode_hash)
            .ok_or("its last line is not `blake3 <64 hex>`")?;
        if *blake3::hash(body).as_bytes() != sum_text {
            return Err("its checksum does not match its contents".into());
        }
        let mut rest = body;
        let mut line = |name: &str| -> Result<String, String> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| format!("the line `{name}` is missing"))?;
            let text = std::str::from_utf8(&rest[..end])
                .map_err(|_| format!("the line `{name}` is not UTF-8"))?
                .to_owned();
            rest = &rest[end + 1..];
            Ok(text)
        };
        if line("magic")? != MAGIC {
            return Err(format!("its first line is not `{MAGIC}`"));
        }
        let field = |text: String, name: &str| -> Result<String, String> {
            text.strip_prefix(name)
                .and_then(|t| t.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| format!("expected the line `{name} …`, found {text:?}"))
        };
        let number = |text: String, name: &str| -> Result<u64, String> {
            let value = field(text, name)?;
            if value.len() > 1 && value.starts_with('0') {
                return Err(format!("{name} {value:?} has a leading zero"));
            }
            value
                .parse::<u64>()
                .map_err(|_| format!("{name} {value:?} is not a number"))
        };
        let hash = |text: String, name: &str| -> Result<Hash, String> {
            let value = field(text, name)?;
            hex::decode_hash(&value).ok_or_else(|| format!("{name} {value:?} is not 64 hex"))
        };
        let origin = field(line("origin")?, "origin")?;
        let size = number(line("size")?, "size")?;
        let root = hash(line("root")?, "root")?;
        let chain = hash(line("chain")?, "chain")?;
        let note_len = number(line("checkpoint")?, "checkpoint")?;
        let note_len = usize::try_from(note_len).map_err(|_| "checkpoint length too large")?;
        if rest.len() != note_len {
            return Err(format!(
                "its checkpoint note has {} bytes, not the {note_len} it announces",
                rest.len()
            ));
        }
        let note = match note_len {
            0 => None,
            _ => Some(
                std::str::from_utf8(rest)
                    .map_err(|_| "its checkpoint note is not UTF-8")?
                    .to_owned(),
            ),
        };
        Ok(Account {
            origin,
            size,
            root,
            chain,
            note,
        })
    }
}

/// Reads the account of the ledger in `dir`: `Ok(None)` when there is no file, an error when
/// there is one that cannot be read or is not a whole account.
pub fn read(dir: &Path) -> Result<Option<Account>, LogError> {
    let path = dir.join(ACCOUNT_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(LogError::io(&path, source)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| LogError::io(&path, source))?;
    if bytes.len() as u64 > MAX_LEN {
        return Err(damaged(dir, &path, "it is larger than any account"));
    }
    Account::parse(&bytes)
        .map(Some)
        .map_err(|reason| damaged(dir, &path, &reason))
}

fn damaged(dir: &Path, path: &Path, reason: &str) -> LogError {
    LogError::Lost {
        dir: dir.to_owned(),
        what: format!(
            "the account of what it committed, {}, is damaged ({reason}), so what sled holds \
             cannot be checked",
            path.display()
        ),
    }
}

/// Writes the account of the ledger in `dir` durably and atomically: a temporary file,
/// synced, renamed over `COMMITTED`, then the directory synced.
pub fn write(dir: &Path, account: &Account) -> Result<(), LogError> {
    let temp = dir.join(TEMP_FILE);
    let path = dir.join(ACCOUNT_FILE);
    let result = (|| -> Result<(), LogError> {
        let mut file = File::create(&temp).map_err(|source| LogError::io(&temp, source))?;
        file.write_all(&account.to_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|source| LogError::io(&temp, source))?;
        drop(file);
        std::fs::rename(&temp, &path).map_err(|source| LogError::io(&path, source))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // The old account stands; a partial temporary file is never read.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Syncs a directory, so that a rename or removal in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| LogError::io(dir, source))
}

/// The path of the account file of `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(ACCOUNT_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(note: Option<&str>) -> Account {
        Account {
            origin: "test.example/account".into(),
            size: 10_000,
            root: [7; 32],
            chain: [9; 32],
            note: note.map(str::to_owned),
        }
    }

    #[test]
    fn an_account_reads_back_with_and_without_a_note() {
        for account in [sample(None), sample(Some("a\nnote\n\n— x AAAA\n"))] {
            assert_eq!(Account::parse(&account.to_bytes()), Ok(account));
        }
    }

    #[test]
    fn every_changed_or_missing_byte_is_refused() {
        let bytes = sample(Some("body\n\n— k AAAA\n")).to_bytes();
        for at in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[at] ^= 0x01;
            assert!(Account::parse(&changed).is_err(), "a flip at {at} passed");
            assert!(
                Account::parse(&bytes[..at]).is_err(),
                "a cut at {at} passed"
            );
        }
    }
}
