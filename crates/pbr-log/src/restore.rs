//! Putting a rebuilt log in the place of a damaged one (`pbr restore`).
//!
//! The ledger layer rebuilds the log from an export in a staging directory inside the
//! ledger directory (`restoring/`, a ledger of its own); this module claims the damaged
//! ledger's directory first, so that nothing else opens it meanwhile, and then swaps the
//! rebuilt database in. The damaged database is never deleted: it is moved aside to
//! `sled.damaged` (or `sled.damaged.2`, …) for whoever wants to look at it.
//!
//! The swap is a few renames in one directory, ordered so that a crash part-way leaves
//! either the damaged ledger, or the rebuilt one (possibly with the old `COMMITTED`, which
//! the next open compares with it as with any ledger), or no `sled/` at all, which opening
//! reports as missing; running the restore again finishes it.

use std::path::{Path, PathBuf};

use crate::account::{self, Account};
use crate::error::LogError;
use crate::store::{LockGuard, Log, SLED_DIR, io_error, take_lock};

/// The staging directory, inside the ledger directory.
const STAGING_DIR: &str = "restoring";

/// A ledger directory claimed for a restore: its lock is held until the restore ends.
pub struct Target {
    dir: PathBuf,
    account: Option<Account>,
    account_problem: Option<String>,
    _lock: LockGuard,
}

impl Target {
    /// Claims `dir` for a restore: a directory that does not exist yet (it is made), an empty
    /// one, or one holding a ledger that does not open as it committed or does not verify. A
    /// ledger that opens, agrees with its account and verifies is refused: there is nothing
    /// to restore, and a restore would drop what was appended since the export.
    pub fn claim(dir: &Path) -> Result<Target, LogError> {
        let has_ledger = dir.join(SLED_DIR).exists() || account::path(dir).exists();
        if has_ledger {
            let options = crate::VerifyOptions {
                threads: 1,
                incremental: false,
            };
            // Reading a damaged database may make sled panic: that is damage too.
            let healthy = crate::store::contain(|| {
                let log = Log::open(dir)?;
                let verified =
                    log.damage().is_none() && log.verify(options, None, |_, _| {}).is_ok();
                Ok(verified.then(|| log.len()))
            });
            match healthy {
                Ok(Some(len)) => {
                    return Err(LogError::OutOfRange(format!(
                        "ledger {} opens, holds what it committed ({len} records) and verifies: \
                         there is nothing to restore",
                        dir.display()
                    )));
                }
                // In use is reported now, and so is a ledger of another format, which is not
                // damaged (format 1 is migrated, not restored); damaged or lost is what is
                // restored.
                Err(
                    error @ (LogError::InUse { .. }
                    | LogError::Format1 { .. }
                    | LogError::NewerFormat { .. }),
                ) => return Err(error),
                Ok(None) | Err(_) => {}
            }
        } else if dir.exists() {
            let mut entries = std::fs::read_dir(dir).map_err(io_error(dir))?;
            if entries.next().is_some() {
                return Err(LogError::OutOfRange(format!(
                    "{} is neither a ledger nor empty; restore into a new directory",
                    dir.display()
                )));
            }
        }
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock = take_lock(dir)?;
        let (account, account_problem) = match account::read(dir) {
            Ok(account) => (account, None),
            Err(error) => (None, Some(error.to_string())),
        };
        let staging = dir.join(STAGING_DIR);
        if staging.exists() {
            // What an earlier restore left unfinished: ours by name, rebuilt again.
            std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        }
        Ok(Target {
            dir: dir.to_owned(),
            account,
            account_problem,
            _lock: lock,
        })
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the damaged ledger committed, when its `COMMITTED` could be read.
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// Why its `COMMITTED` could not be read, when it could not.
    pub fn account_problem(&self) -> Option<&str> {
        self.account_problem.as_deref()
    }

    /// Where the rebuilt ledger is made: a ledger directory of its own.
    pub fn staging_dir(&self) -> PathBuf {
        self.dir.join(STAGING_DIR)
    }

    /// Puts the rebuilt ledger (closed, in [`Target::staging_dir`]) in the place of the
    /// damaged one, and returns where the damaged database went, if there was one.
    pub fn install(self) -> Result<Option<PathBuf>, LogError> {
        let staging = self.staging_dir();
        let sled = self.dir.join(SLED_DIR);
        let moved = if sled.exists() {
            let aside = (1..)
                .map(|n| match n {
                    1 => self.dir.join("sled.damaged"),
                    n => self.dir.join(format!("sled.damaged.{n}")),
                })
                .find(|path| !path.exists())
                .ok_or_else(|| LogError::OutOfRange("no free name for sled.damaged".into()))?;
            std::fs::rename(&sled, &aside).map_err(io_error(&aside))?;
            Some(aside)
        } else {
            None
        };
        let from = staging.join(SLED_DIR);
        std::fs::rename(&from, &sled).map_err(io_error(&sled))?;
        let committed = account::path(&self.dir);
        std::fs::rename(account::path(&staging), &committed).map_err(io_error(&committed))?;
        account::sync_dir(&self.dir)?;
        std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        Ok(moved)
    }
}
