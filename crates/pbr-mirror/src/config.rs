//! `MIRROR.json`: what makes a ledger directory a mirror, and whom it trusts.
//!
//! The file is written once, by `pbr clone`, atomically (a temporary file, `fsync`, rename).
//! Its fields (`docs/cli.md`, "pbr clone"): `url` (the tree's prefix), `origin`, `log_key`
//! (the verifier key whose signature a checkpoint needs), `policy` (the text of a C2SP
//! `tlog-policy`, when the mirror requires a quorum) and `token_file` (where the bearer
//! token is read at each pull; the token itself is never copied into the mirror).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use pbr_log::VerifierKey;
use pbr_log::policy::Policy;
use serde::{Deserialize, Serialize};

use crate::MirrorError;

/// The file in a ledger directory that makes it a mirror.
pub const MIRROR_FILE: &str = "MIRROR.json";

/// The largest `MIRROR.json` read (a policy is a few lines).
const MAX_CONFIG_LEN: u64 = 1024 * 1024;

/// A mirror's configuration, as stored in `MIRROR.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorConfig {
    /// The URL prefix of the operator's tile tree (`<url>/checkpoint`, `<url>/tile/…`).
    pub url: String,
    /// The log's origin, which is the log key's name.
    pub origin: String,
    /// The log's verifier key (`<name>+<key id>+<base64>`).
    pub log_key: String,
    /// The C2SP `tlog-policy` text whose quorum every checkpoint must meet, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The file holding the bearer token, if reads need one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

impl MirrorConfig {
    /// The trust policy a checkpoint is checked against: the stored policy, or the log key
    /// alone with no quorum.
    pub fn trust(&self) -> Result<Policy, MirrorError> {
        let config = |reason: String| MirrorError::Config {
            path: PathBuf::from(MIRROR_FILE),
            reason,
        };
        let log_key = VerifierKey::parse(&self.log_key).map_err(|e| config(e.0))?;
        if log_key.name != self.origin {
            return Err(config(format!(
                "the log key {} is not named after the origin {}",
                log_key.name, self.origin
            )));
        }
        match &self.policy {
            None => Ok(Policy::new(log_key, Vec::new(), None)),
            Some(text) => {
                let policy = Policy::parse(text).map_err(|e| config(e.to_string()))?;
                if !policy.logs().contains(&log_key) {
                    return Err(config("the policy does not name the log key".to_owned()));
                }
                Ok(policy)
            }
        }
    }

    /// Whether checkpoints must meet a quorum of witnesses (a policy was given).
    pub fn requires_quorum(&self) -> bool {
        self.policy.is_some()
    }

    /// Reads `DIR/MIRROR.json`.
    pub fn read(dir: &Path) -> Result<MirrorConfig, MirrorError> {
        let path = dir.join(MIRROR_FILE);
        let io = |source| MirrorError::Io {
            path: path.clone(),
            source,
        };
        let file = File::open(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                MirrorError::Config {
                    path: path.clone(),
                    reason: "is missing: this ledger is not a mirror (make one with `pbr clone`)"
                        .to_owned(),
                }
            } else {
                io(source)
            }
        })?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_CONFIG_LEN), &mut text)
            .map_err(io)?;
        serde_json::from_str(&text).map_err(|e| MirrorError::Config {
            path: path.clone(),
            reason: e.to_string(),
        })
    }

    /// Writes `DIR/MIRROR.json` atomically.
    pub fn write(&self, dir: &Path) -> Result<(), MirrorError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| MirrorError::Config {
            path: dir.join(MIRROR_FILE),
            reason: e.to_string(),
        })?;
        text.push('\n');
        write_atomically(&dir.join(MIRROR_FILE), text.as_bytes())
    }
}

/// The mirror configuration of `dir`, if `dir` is a mirror (holds a readable `MIRROR.json`).
/// Write commands use it to refuse to write to a mirror.
pub fn is_mirror(dir: &Path) -> Option<MirrorConfig> {
    MirrorConfig::read(dir).ok()
}

/// Writes `path` whole or not at all: a temporary file beside it, `fsync`, rename, and an
/// `fsync` of the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), MirrorError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| MirrorError::Io { path, source }
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = parent.join(format!(".{name}.tmp"));
    File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        })
        .map_err(io(&temporary))?;
    fs::rename(&temporary, path).map_err(io(path))?;
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io(parent))
}
