//! Files that a command writes (`--out`): whole or not at all.
//!
//! Every file `pbr` writes for the user goes through [`OutFile`]: the bytes go to a new
//! temporary file in the target's directory (so that moving it stays on one file system),
//! which is synced and then moved into place, and the directory is synced so that the new
//! name survives a crash too. A command killed at any moment leaves the target as it was
//! (absent, or the earlier file) and at most a temporary `.NAME.XXXXXXXX.tmp` beside it,
//! never a partial target.
//!
//! By default an existing target is refused: before any work, and again when the file is
//! moved into place, by a hard link that fails if the name has been taken since (a file
//! system without hard links falls back to checking, then renaming). With `force` the file
//! is renamed over the target, which replaces it in one step.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::commands::input;

/// Whether an existing target is replaced (`--force`) or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Refuse to write over a file (the default).
    Refuse,
    /// Replace it (`--force`).
    Replace,
    /// Never replace it, whatever the flags: a private key file replaced by mistake is a
    /// key lost for good.
    Never,
}

impl Existing {
    /// From a `--force` flag.
    pub(crate) fn forced(force: bool) -> Existing {
        if force {
            Existing::Replace
        } else {
            Existing::Refuse
        }
    }
}

/// A file being written to a temporary name, moved to its target by [`OutFile::commit`];
/// dropped uncommitted, it removes its temporary file.
pub(crate) struct OutFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<BufWriter<File>>,
    existing: Existing,
    /// Whether the temporary file has been moved to the target.
    moved: bool,
}

/// An error about `path` as a one-line input error (exit code 3).
fn failed(path: &Path, what: &str, error: &std::io::Error) -> anyhow::Error {
    input(format!("{}: {what}: {error}", path.display()))
}

/// The target's directory: `.` for a bare file name.
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Refuses a target that exists, unless `existing` replaces it; a directory is never
/// replaced.
pub(crate) fn check_target(target: &Path, existing: Existing) -> Result<()> {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => Err(input(format!(
            "{}: is a directory; give a file name",
            target.display()
        ))),
        Ok(_) => match existing {
            Existing::Replace => Ok(()),
            Existing::Refuse => Err(input(format!(
                "{}: the file exists; give --force to replace it",
                target.display()
            ))),
            Existing::Never => Err(input(format!(
                "{}: the file exists; a private key or secret is never replaced (move it away first)",
                target.display()
            ))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(failed(target, "cannot look at it", &e)),
    }
}

impl OutFile {
    /// Starts writing `target`, refusing at once a target that exists (unless `existing`
    /// replaces it).
    pub(crate) fn create(target: &Path, existing: Existing) -> Result<OutFile> {
        OutFile::create_with_mode(target, existing, None)
    }

    /// [`OutFile::create`] for a private file: readable and writable by its owner only
    /// (mode 0600), from the moment it exists.
    pub(crate) fn create_private(target: &Path, existing: Existing) -> Result<OutFile> {
        OutFile::create_with_mode(target, existing, Some(0o600))
    }

    fn create_with_mode(target: &Path, existing: Existing, mode: Option<u32>) -> Result<OutFile> {
        check_target(target, existing)?;
        let name = target
            .file_name()
            .ok_or_else(|| input(format!("{}: not a file name", target.display())))?;
        let mut options = File::options();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        // A random suffix: two commands writing the same target never share a temporary
        // file, and one left by a killed command is never reused.
        for _ in 0..8 {
            let mut suffix = [0u8; 4];
            getrandom::fill(&mut suffix)
                .map_err(|e| anyhow::anyhow!("cannot read randomness: {e}"))?;
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".{}.tmp", pbr_log::hex::encode(&suffix)));
            let temp = directory_of(target).join(temp_name);
            match options.open(&temp) {
                Ok(file) => {
                    return Ok(OutFile {
                        target: target.to_owned(),
                        temp,
                        writer: Some(BufWriter::with_capacity(1 << 16, file)),
                        existing,
                        moved: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(failed(
                        target,
                        "cannot create a temporary file beside it",
                        &e,
                    ));
                }
            }
        }
        Err(input(format!(
            "{}: cannot find a free temporary name beside it",
            target.display()
        )))
    }

    /// Syncs the written bytes, moves them to the target and syncs the directory. Only
    /// now does the target change.
    pub(crate) fn commit(mut self) -> Result<()> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| anyhow::anyhow!("{}: committed twice", self.target.display()))?;
        let file = writer
            .into_inner()
            .map_err(|e| failed(&self.temp, "cannot write", e.error()))?;
        file.sync_all()
            .map_err(|e| failed(&self.temp, "cannot sync", &e))?;
        drop(file);
        match self.existing {
            Existing::Replace => {
                check_target(&self.target, Existing::Replace)?;
                std::fs::rename(&self.temp, &self.target)
                    .map_err(|e| failed(&self.target, "cannot move the new file into place", &e))?;
            }
            Existing::Refuse | Existing::Never => self.link_into_place()?,
        }
        self.moved = true;
        // The file now has its name; what is left is to make the name durable.
        let directory = directory_of(&self.target);
        File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(|e| {
                failed(
                    directory,
                    &format!(
                        "{} was written, but syncing its directory failed",
                        self.target.display()
                    ),
                    &e,
                )
            })
    }

    /// Gives the temporary file the target's name unless that name exists, then removes the
    /// temporary name.
    fn link_into_place(&mut self) -> Result<()> {
        match std::fs::hard_link(&self.temp, &self.target) {
            Ok(()) => {
                self.moved = true;
                std::fs::remove_file(&self.temp)
                    .map_err(|e| failed(&self.temp, "cannot remove the temporary name", &e))
            }
            // The name was taken while this command ran.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(check_target(&self.target, self.existing)
                    .err()
                    .unwrap_or_else(|| {
                        failed(&self.target, "cannot link the new file into place", &e)
                    }))
            }
            // A file system without hard links: check, then rename (a file created in
            // between would be replaced).
            Err(_) => {
                check_target(&self.target, self.existing)?;
                std::fs::rename(&self.temp, &self.target)
                    .map_err(|e| failed(&self.target, "cannot move the new file into place", &e))
            }
        }
    }
}

impl Write for OutFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match &mut self.writer {
            Some(writer) => writer.write(bytes),
            None => Err(std::io::Error::other("the file was already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.writer {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for OutFile {
    /// An uncommitted file (the command failed) leaves nothing behind: the target is as it
    /// was, and the temporary file is removed.
    fn drop(&mut self) {
        if self.moved {
            return;
        }
        // Close the file before removing it; its unwritten bytes no longer matter.
        if let Some(writer) = self.writer.take() {
            drop(writer.into_parts());
        }
        if let Err(e) = std::fs::remove_file(&self.temp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            eprintln!(
                "pbr: note: cannot remove the temporary file {}: {e}",
                self.temp.display()
            );
        }
    }
}

/// Writes `bytes` to `target` through an [`OutFile`].
pub(crate) fn write_file(target: &Path, bytes: &[u8], existing: Existing) -> Result<()> {
    let mut file = OutFile::create(target, existing)?;
    file.write_all(bytes)
        .map_err(|e| failed(target, "cannot write", &e))?;
    file.commit()
}
