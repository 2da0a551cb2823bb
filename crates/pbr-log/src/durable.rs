//! Durable flushes: what "durable when the command returns" needs beyond sled.
//!
//! sled 0.34.7's `flush` writes its buffers and then calls `sync_file_range` on the ranges it
//! wrote. That starts and waits for the page writes, but it neither flushes the disk's cache
//! nor writes the file's metadata (its size, when it grew), so a power loss can still take
//! back what it flushed; sled calls `fsync` only now and then, and on drop (a trace of one
//! append showed the acknowledgement printed before that `fsync`). After every flush whose
//! result the caller reports, the database file is therefore `fsync`ed too, and the sled
//! directory, whose entries (a new database file, a renamed snapshot) are metadata of their
//! own. `tests/cli/durability.rs` checks the order with `strace`.

use std::fs::File;
use std::path::Path;

use crate::error::LogError;

/// Flushes `db`, whose files are in `sled_dir`, and then makes what it wrote durable:
/// `fsync` of the database file and of the directory.
pub(crate) fn flush(db: &sled::Db, sled_dir: &Path) -> Result<(), LogError> {
    db.flush()?;
    for path in [sled_dir.join("db"), sled_dir.to_owned()] {
        File::open(&path)
            .and_then(|file| file.sync_all())
            .map_err(|source| LogError::Io { path, source })?;
    }
    Ok(())
}
