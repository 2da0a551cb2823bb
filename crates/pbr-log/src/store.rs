//! The stored log: one sled database per ledger directory (DESIGN §3 "Storage").
//!
//! Layout of a ledger directory:
//! - `LOCK`: taken with `File::try_lock` for as long as a [`Log`] is open, so a second
//!   process gets "ledger is in use" at once instead of waiting on sled.
//! - `COMMITTED`: the ledger's own account of what it committed, outside sled
//!   ([`crate::account`]): size, root and chain head after the last commit, and the latest
//!   checkpoint note. Written after every commit and checkpoint store, once sled's write is
//!   durable; every open compares sled with it.
//! - `sled/`: the sled 0.34.7 database, with these trees:
//!   - `events`: seq (u64 big-endian, dense from 0) → record bytes. The only source of truth;
//!     its length is the log's length.
//!   - `hashes` and `nodes`: caches of leaf and chain hashes and of upper Merkle nodes
//!     (see [`crate::cache`]).
//!   - `meta`: `origin` (the ledger id), `format` (u64 BE, [`FORMAT`]; a ledger without it
//!     is in format 1), `len` (u64 BE, the length the last committed batch left), `pending`
//!     (u64 BE, the first seq of a batch under way, present only while one is), `verified`
//!     (u64 BE, the size of the last checkpoint a verification reached), `accounted`
//!     (present once the ledger keeps `COMMITTED`, so that losing the file is noticed) and
//!     `migrating` (present only while `pbr migrate` is under way; [`crate::migrate`]).
//!   - `checkpoints`: `size (u64 BE) ‖ id (u64 BE)` → signed note text. Not events: they
//!     sign the log.
//!   - `checkpoints-v1`: the same layout, the format-1 checkpoints of a migrated ledger,
//!     kept as history ([`Log::format_one_checkpoints`]).
//!   - `keys`: key name → verifier key text, the keys whose checkpoint signatures this ledger
//!     knows.
//!
//! Invariant: a batch (one append, or an import written in chunks so that memory stays
//! bounded) first writes `meta.pending`, then its records and their caches chunk by chunk,
//! then commits by writing `meta.len` and removing `meta.pending` in one atomic meta batch,
//! then flushes. Records past `meta.len` are therefore never committed: opening rolls them
//! back when `meta.pending` says a batch was under way (a crash, or a failure that could not
//! roll back at once), and otherwise reports them as inserted behind the ledger's back.
//! Whatever its size, a batch is all or nothing.
//!
//! Invariant: `COMMITTED` is written only after the sled write it describes is flushed, so
//! after a crash sled is at most one commit ahead of it, never behind. Opening accepts sled
//! ahead (its prefix of the account's size must have the account's root and chain head, and
//! it must still hold the account's checkpoint note) and rewrites the file; sled behind or
//! different is refused ([`LogError::Lost`]), naming what is missing.
//!
//! Opening writes nothing of ours when sled agrees with `COMMITTED` and no batch was
//! interrupted, so reading commands work on a full disk; sled itself writes a snapshot when
//! it opens after writes, which [`Log::close`] does while the writer can still fail.
//!
//! Invariant: a ledger opens only in the format this version writes, [`FORMAT`]: one without
//! `meta.format` (or with 1) is refused naming `pbr migrate` ([`LogError::Format1`]) before
//! anything is read or written but sled's own recovery, and one of a later format is refused
//! as made by a newer pbr. Only [`Log::migrate`] opens a format-1 ledger.

use std::fs::{File, TryLockError};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::account::{self, Account};
use crate::cache::{self, BLOCK_LEN, STORED_LEVEL, Staged};
use crate::error::{LogError, RecordError};
use crate::hash::{EMPTY_CHAIN, Hash, leaf_hash};
use crate::merkle::{self, Frontier, NodeSource};
use crate::note::{Checkpoint, SignedCheckpoint, VerifierKey};
use crate::notice;
use crate::record::Record;

const LOCK_FILE: &str = "LOCK";
pub(crate) const SLED_DIR: &str = "sled";
/// The format this version writes and reads (DESIGN §3; `docs/format.md`).
pub const FORMAT: u64 = 2;
/// The name of the tree of format-1 checkpoints kept by a migration.
pub(crate) const CHECKPOINTS_V1_TREE: &str = "checkpoints-v1";
const META_ORIGIN: &[u8] = b"origin";
pub(crate) const META_FORMAT: &[u8] = b"format";
pub(crate) const META_LEN: &[u8] = b"len";
const META_PENDING: &[u8] = b"pending";
pub(crate) const META_VERIFIED: &[u8] = b"verified";
pub(crate) const META_ACCOUNTED: &[u8] = b"accounted";
pub(crate) const META_MIGRATING: &[u8] = b"migrating";
/// A file of incompressible bytes kept beside `sled/`, released when sled cannot open for
/// want of space (see [`keep_reserve`]).
pub(crate) const RESERVE_FILE: &str = "RESERVE";
/// The reserve is at least this large: a snapshot of a small ledger and the zeroed tail of
/// a sled segment (512 KiB) with room to spare.
const RESERVE_MIN: u64 = 2 * 1024 * 1024;
/// Rebuilds and repairs write their caches every this many records (a multiple of
/// [`BLOCK_LEN`]), so memory stays bounded however long the log is.
const REBUILD_SLICE: u64 = 65_536;
/// sled's page cache. Its default (1 GiB) lets a full scan grow memory with the log.
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// An open ledger log. Holding one holds the directory's lock.
pub struct Log {
    dir: PathBuf,
    pub(crate) db: sled::Db,
    pub(crate) events: sled::Tree,
    hashes: sled::Tree,
    nodes: sled::Tree,
    pub(crate) meta: sled::Tree,
    pub(crate) checkpoints: sled::Tree,
    pub(crate) keys: sled::Tree,
    origin: String,
    /// The number of records in `events`, known even when the caches are damaged.
    len: u64,
    frontier: Frontier,
    chain_head: Hash,
    /// Set when opening found the caches disagreeing with `events` in a way no crash of ours
    /// explains: appends are refused and `verify` reports it (with the seq, when known), but
    /// reading and verifying still work.
    damage: Option<(Option<u64>, String)>,
    /// Whether anything was written to sled since it was opened, so that [`Log::close`]
    /// knows sled will write a snapshot when it is next opened.
    wrote: std::cell::Cell<bool>,
    /// Set when opening had to release the space reserve: the disk is full, and what the
    /// reserve freed is for reading, so appends and checkpoints are refused.
    pub(crate) disk_full: bool,
    // Dropped last: the lock outlives the database handle.
    _lock: LockGuard,
}

/// Holds `LOCK` and releases it explicitly on drop.
///
/// A `flock` belongs to the open file description, which a child forked by another thread
/// of this process shares until it `exec`s; closing our descriptor alone could leave the lock
/// held for that moment. `unlock` releases it at once, whatever copies exist.
pub(crate) struct LockGuard(File);

impl Drop for LockGuard {
    fn drop(&mut self) {
        // Nothing useful can be done if unlocking fails; closing the file follows anyway.
        let _ = self.0.unlock();
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("dir", &self.dir)
            .field("len", &self.len())
            .finish()
    }
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::io(path, source)
}

pub(crate) fn take_lock(dir: &Path) -> Result<LockGuard, LogError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    match file.try_lock() {
        Ok(()) => {
            // Name the holder for whoever finds the ledger locked: the process id, the only
            // thing written into `LOCK`. It is a courtesy (the lock is the `flock`), so a
            // failure to write it, on a full disk say, must not stop the command.
            let mut holder = &file;
            let _ = file.set_len(0).and_then(|()| {
                std::io::Write::write_all(
                    &mut holder,
                    format!("{}\n", std::process::id()).as_bytes(),
                )
            });
            Ok(LockGuard(file))
        }
        Err(TryLockError::WouldBlock) => Err(LogError::InUse {
            holder: lock_holder(&path),
            path,
        }),
        Err(TryLockError::Error(source)) => Err(LogError::Io { path, source }),
    }
}

/// The process id written into a `LOCK` file, if any.
fn lock_holder(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Parses an `events`/`hashes` key.
pub(crate) fn seq_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

pub(crate) fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, LogError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(value) => match <[u8; 8]>::try_from(value.as_ref()) {
            Ok(bytes) => Ok(Some(u64::from_be_bytes(bytes))),
            Err(_) => Err(LogError::Inconsistent(format!(
                "meta {} is not an 8-byte integer",
                String::from_utf8_lossy(key)
            ))),
        },
    }
}

/// What one append wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The sequence numbers given to the batch.
    pub seqs: Range<u64>,
    /// The chain head after the batch.
    pub chain_head: Hash,
    /// The Merkle root after the batch.
    pub root: Hash,
}

impl Log {
    /// Creates a ledger in `dir` (which must not hold one) with the given origin, the ledger
    /// id that every checkpoint names.
    pub fn create(dir: &Path, origin: &str) -> Result<Log, LogError> {
        if !crate::note::valid_key_name(origin) {
            return Err(LogError::Checkpoint(format!(
                "ledger id {origin:?} must be non-empty, without whitespace or '+'"
            )));
        }
        if dir.join(SLED_DIR).exists() {
            return Err(LogError::AlreadyExists {
                path: dir.to_owned(),
            });
        }
        if account::path(dir).exists() {
            return Err(LogError::AlreadyExists {
                path: dir.to_owned(),
            });
        }
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock = take_lock(dir)?;
        let db = open_sled(&dir.join(SLED_DIR)).map_err(|e| e.in_ledger(dir))?;
        let meta = db.open_tree("meta")?;
        meta.insert(META_ORIGIN, origin.as_bytes())?;
        meta.insert(META_FORMAT, &FORMAT.to_be_bytes())?;
        meta.insert(META_LEN, &0u64.to_be_bytes())?;
        crate::durable::flush(&db, &dir.join(SLED_DIR))?;
        drop(meta);
        let log = Log::from_db(dir, db, lock, Opening::Current)?;
        log.write_account()?;
        log.meta.insert(META_ACCOUNTED, b"1")?;
        log.flush()?;
        Ok(log)
    }

    /// Opens the ledger in `dir`, taking its lock, and compares what sled holds with what
    /// the ledger committed (`COMMITTED`): a ledger shorter than, or different from, what it
    /// committed is refused ([`LogError::Lost`]); one without the file (made before it
    /// existed) is adopted, writing the file from sled. Damaged sled files are an error
    /// ([`LogError::Corrupt`]), never a panic.
    ///
    /// Before sled opens, an unfinished snapshot (`sled/snap.*.generating`, which a crash or
    /// a full disk leaves and sled 0.34.7 would read as corruption) is removed, and a
    /// missing `sled/blobs/` is made again (`docs/decisions.md`).
    ///
    /// A ledger in format 1 is refused ([`LogError::Format1`], naming `pbr migrate`), and one
    /// in a later format than [`FORMAT`] too ([`LogError::NewerFormat`]).
    pub fn open(dir: &Path) -> Result<Log, LogError> {
        Log::open_as(dir, Opening::Current)
    }

    /// Opens the ledger in `dir` as [`Log::open`] does; for [`Opening::Migration`], a
    /// format-1 ledger too, without comparing it with its `COMMITTED` (written in format 1,
    /// which [`crate::migrate`] checks itself). Its caches then hold format-1 hashes, which
    /// opening reports as damage: only a migration may use such a log.
    pub(crate) fn open_as(dir: &Path, opening: Opening) -> Result<Log, LogError> {
        let sled_dir = dir.join(SLED_DIR);
        if !sled_dir.is_dir() {
            // A directory that committed records and lost its database is not "no ledger".
            if let Some(account) = account::read(dir)? {
                return Err(LogError::Lost {
                    dir: dir.to_owned(),
                    what: format!(
                        "its sled database ({}) is missing, but {} were committed (root {}): {}",
                        sled_dir.display(),
                        records(account.size),
                        short(&account.root),
                        missing_range(0, account.size)
                    ),
                });
            }
            return Err(LogError::NotALedger {
                path: dir.to_owned(),
            });
        }
        let lock = take_lock(dir)?;
        remove_unfinished_snapshots(&sled_dir)?;
        let blobs = sled_dir.join("blobs");
        if sled_dir.join("db").is_file() && !blobs.is_dir() {
            std::fs::create_dir(&blobs).map_err(io_error(&blobs))?;
            notice::push(format!(
                "{} was missing and was made again (sled keeps values over 128 KiB there; \
                 any that were in it are reported when read)",
                blobs.display()
            ));
        }
        let account = account::read(dir)?;
        let mut disk_full = false;
        let db = match contain(|| open_sled(&sled_dir)) {
            // sled writes a snapshot when it opens after writes it did not settle (a crash, a
            // writer stopped by the full disk itself): the reserve makes room for it.
            Err(LogError::NoSpace { .. }) if dir.join(RESERVE_FILE).exists() => {
                disk_full = true;
                let released = release_reserve(dir)?;
                remove_unfinished_snapshots(&sled_dir)?;
                notice::push(format!(
                    "the disk is full: released the ledger's space reserve ({released} bytes, \
                     {}) so that sled could open for reading; appends are refused until space \
                     is freed, and the next command that writes then makes the reserve again",
                    dir.join(RESERVE_FILE).display()
                ));
                contain(|| open_sled(&sled_dir))
            }
            other => other,
        }
        .map_err(|e| e.in_ledger(dir))?;
        let opened = contain(|| Log::from_db(dir, db, lock, opening));
        let mut log = match (opened, &account) {
            (Err(LogError::NotALedger { .. }), Some(account)) => {
                return Err(LogError::Lost {
                    dir: dir.to_owned(),
                    what: format!(
                        "sled holds no ledger (its meta tree is gone), but {} were committed \
                         (root {}): {}",
                        records(account.size),
                        short(&account.root),
                        missing_range(0, account.size)
                    ),
                });
            }
            (opened, _) => opened.map_err(|e| e.in_ledger(dir))?,
        };
        log.disk_full = disk_full;
        if log.format()? == FORMAT {
            contain(|| log.reconcile(account)).map_err(|e| e.in_ledger(dir))?;
        }
        Ok(log)
    }

    /// Compares sled with the account of what was committed (see [`Log::open`]).
    fn reconcile(&mut self, account: Option<Account>) -> Result<(), LogError> {
        let claimed = read_u64(&self.meta, META_LEN)?.unwrap_or(0);
        let Some(account) = account else {
            if self.meta.get(META_ACCOUNTED)?.is_some() {
                return Err(self.lost(format!(
                    "its account of what it committed, {}, is missing, though the ledger has \
                     kept one, so the {} sled holds cannot be checked against what was \
                     committed",
                    account::path(&self.dir).display(),
                    records(claimed)
                )));
            }
            if self.damage.is_some() {
                // Nothing to adopt until the damage is repaired; `verify` names it.
                return Ok(());
            }
            return self.adopt();
        };
        if account.origin != self.origin {
            return Err(self.lost(format!(
                "its account {} is of ledger {}, not of {}",
                account::path(&self.dir).display(),
                account.origin,
                self.origin
            )));
        }
        if claimed < account.size {
            return Err(self.lost(format!(
                "sled holds {}, but {} were committed (root {}): {}",
                records(claimed),
                records(account.size),
                short(&account.root),
                missing_range(claimed, account.size)
            )));
        }
        // What sled's caches say about the committed prefix. When they cannot say (a cache is
        // damaged), opening has already recorded the damage, which `verify` names and which
        // refuses appends; the records are then checked by `verify` against the account.
        let prefix = merkle::root(self, account.size).and_then(|root| {
            let chain = if account.size == 0 {
                EMPTY_CHAIN
            } else {
                self.cached_hashes(account.size - 1)?.1
            };
            Ok((root, chain))
        });
        match prefix {
            Ok((root, chain)) if root != account.root || chain != account.chain => {
                return Err(self.lost(format!(
                    "the first {} in sled have root {} and chain head {}, but the committed \
                     ones have root {} and chain head {}: the records differ from what was \
                     committed",
                    records(account.size),
                    short(&root),
                    short(&chain),
                    short(&account.root),
                    short(&account.chain)
                )));
            }
            Ok(_) => {}
            Err(_) if self.damage.is_some() => {}
            Err(error) => return Err(error),
        }
        if let Some(text) = &account.note {
            let note = SignedCheckpoint::parse(text).map_err(|e| {
                self.lost(format!(
                    "the checkpoint note in its account {} does not parse ({e})",
                    account::path(&self.dir).display()
                ))
            })?;
            let size = note.checkpoint.size;
            let kept = self
                .checkpoints
                .scan_prefix(size.to_be_bytes())
                .values()
                .map(|value| value.map(|v| v.as_ref() == text.as_bytes()))
                .collect::<Result<Vec<bool>, _>>()?;
            if !kept.contains(&true) {
                let signers: Vec<&str> = note.signatures.iter().map(|s| s.name.as_str()).collect();
                let latest = match self.latest_checkpoint()? {
                    Some(latest) => format!("its latest is of size {}", latest.checkpoint.size),
                    None => "it holds none".to_owned(),
                };
                return Err(self.lost(format!(
                    "sled lacks the checkpoint of size {size} signed by {} that was stored \
                     ({latest}); the note is in {}",
                    signers.join(", "),
                    account::path(&self.dir).display()
                )));
            }
        }
        // sled agrees with the account, or is ahead of it by a commit whose account a crash
        // interrupted: the account is brought up to date.
        if self.damage.is_none() && self.current_account()? != account {
            match self.write_account() {
                Ok(()) => notice::push(format!(
                    "{} was one commit behind sled (a crash between the two writes) and was \
                     brought up to date",
                    account::path(&self.dir).display()
                )),
                // A full disk leaves it behind for now; reading goes on.
                Err(LogError::NoSpace { path }) => notice::push(format!(
                    "{} is behind sled and could not be brought up to date (no space left \
                     on device writing {})",
                    account::path(&self.dir).display(),
                    path.map_or_else(String::new, |p| p.display().to_string())
                )),
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// Writes `COMMITTED` for a ledger made before the file existed, from what sled holds.
    fn adopt(&mut self) -> Result<(), LogError> {
        self.write_account()?;
        self.meta.insert(META_ACCOUNTED, b"1")?;
        self.flush()?;
        notice::push(format!(
            "this ledger had no account of what it committed; {} now records its {} (root \
             {}), and every open compares sled with it",
            account::path(&self.dir).display(),
            records(self.len),
            short(&self.root())
        ));
        Ok(())
    }

    /// The account of the log as it stands.
    fn current_account(&self) -> Result<Account, LogError> {
        Ok(Account {
            origin: self.origin.clone(),
            size: self.len,
            root: self.root(),
            chain: self.chain_head,
            note: match self.checkpoints.last()? {
                Some((_, text)) => Some(String::from_utf8(text.to_vec()).map_err(|_| {
                    LogError::Inconsistent("stored checkpoint is not UTF-8".into())
                })?),
                None => None,
            },
        })
    }

    /// Writes `COMMITTED` from the log as it stands; called once sled's write is durable.
    pub(crate) fn write_account(&self) -> Result<(), LogError> {
        account::write(&self.dir, &self.current_account()?)
    }

    fn lost(&self, what: String) -> LogError {
        LogError::Lost {
            dir: self.dir.clone(),
            what,
        }
    }

    /// Closes the ledger. After a session that wrote, sled is opened once more and closed,
    /// so that it writes the snapshot it would otherwise write when a reading command next
    /// opens it: a reader then needs no space on the disk.
    pub fn close(self) -> Result<(), LogError> {
        let wrote = self.wrote.get();
        let Log {
            dir,
            db,
            events,
            hashes,
            nodes,
            meta,
            checkpoints,
            keys,
            _lock,
            ..
        } = self;
        db.flush()?;
        drop((events, hashes, nodes, meta, checkpoints, keys, db));
        if wrote {
            let sled_dir = dir.join(SLED_DIR);
            contain(|| open_sled(&sled_dir).map(drop)).map_err(|e| e.in_ledger(&dir))?;
            // The command's writes are durable; a reserve that cannot be kept now is said,
            // and tried again by the next command that writes.
            if let Err(error) = keep_reserve(&dir) {
                notice::push(format!(
                    "could not keep the ledger's space reserve {} ({error}); with a full \
                     disk after a crash, sled may not open until space is freed",
                    dir.join(RESERVE_FILE).display()
                ));
            }
        }
        drop(_lock);
        Ok(())
    }

    fn from_db(
        dir: &Path,
        db: sled::Db,
        lock: LockGuard,
        opening: Opening,
    ) -> Result<Log, LogError> {
        let meta = db.open_tree("meta")?;
        let origin = match meta.get(META_ORIGIN)? {
            Some(origin) => String::from_utf8(origin.to_vec())
                .map_err(|_| LogError::Inconsistent("meta origin is not UTF-8".into()))?,
            None => {
                return Err(LogError::NotALedger {
                    path: dir.to_owned(),
                });
            }
        };
        // Before anything is read in a format this version does not write.
        match format_of(&meta)? {
            FORMAT => {}
            1 if opening == Opening::Migration => {}
            1 => {
                return Err(LogError::Format1 {
                    dir: dir.to_owned(),
                });
            }
            format if format > FORMAT => {
                return Err(LogError::NewerFormat {
                    dir: dir.to_owned(),
                    format,
                });
            }
            format => {
                return Err(LogError::Inconsistent(format!(
                    "meta format {format} is no format of pbr"
                )));
            }
        }
        let mut log = Log {
            dir: dir.to_owned(),
            events: db.open_tree("events")?,
            hashes: db.open_tree("hashes")?,
            nodes: db.open_tree("nodes")?,
            checkpoints: db.open_tree("checkpoints")?,
            keys: db.open_tree("keys")?,
            meta,
            db,
            origin,
            len: 0,
            frontier: Frontier::new(),
            chain_head: EMPTY_CHAIN,
            damage: None,
            wrote: std::cell::Cell::new(false),
            disk_full: false,
            _lock: lock,
        };
        if let Err(error) = log.load_head() {
            log.damage = Some(match error {
                LogError::BadRecord { seq, source } => (Some(seq), source.to_string()),
                other => (None, other.to_string()),
            });
        }
        Ok(log)
    }

    /// Finds the length from `events`, rolls back a batch that a crash interrupted before
    /// its commit, and loads the frontier and chain head.
    fn load_head(&mut self) -> Result<(), LogError> {
        let committed = read_u64(&self.meta, META_LEN)?.unwrap_or(0);
        // The recorded length stands until the records are read, so that a damaged ledger
        // still verifies the records it has and names the first bad seq.
        self.len = committed;
        let mut len = match self.events.last()? {
            None => 0,
            Some((key, _)) => match seq_of(&key).and_then(|seq| seq.checked_add(1)) {
                Some(len) => len,
                None => {
                    return Err(missing(
                        committed,
                        "events holds a malformed key at its end".into(),
                    ));
                }
            },
        };
        self.len = len;
        if len < committed {
            return Err(missing(
                len,
                format!("the ledger recorded {committed} records"),
            ));
        }
        if len > committed {
            self.roll_back_uncommitted(committed)?;
            len = committed;
        }
        if self.cache_coverage()? < len {
            return Err(missing(
                len,
                "the hash cache ends before the records".into(),
            ));
        }
        self.frontier = Frontier::load(self, len)?;
        self.chain_head = self.chain_at(len)?;
        if len > 0 {
            // Paired assertion: the last record and its cached leaf agree.
            let (leaf, _) = self.cached_hashes(len - 1)?;
            if leaf != leaf_hash(&self.read_bytes(len - 1)?) {
                return Err(LogError::BadRecord {
                    seq: len - 1,
                    source: RecordError::Malformed {
                        reason: "differs from the hash recorded when it was appended".into(),
                    },
                });
            }
        }
        Ok(())
    }

    /// Records past `meta.len` belong to a batch that never committed if `meta.pending` names
    /// its start; they are rolled back. Otherwise they were inserted behind the ledger's back.
    fn roll_back_uncommitted(&mut self, committed: u64) -> Result<(), LogError> {
        let pending = read_u64(&self.meta, META_PENDING)?;
        if pending != Some(committed) {
            return Err(LogError::BadRecord {
                seq: committed,
                source: RecordError::Malformed {
                    reason: format!("beyond the recorded length {committed} (inserted)"),
                },
            });
        }
        self.roll_back(committed)?;
        self.len = committed;
        Ok(())
    }

    /// Removes every record from `start` on, and the pending mark; caches past `start` are
    /// left as they are (they are overwritten by the next batch and never read before).
    fn roll_back(&mut self, start: u64) -> Result<(), LogError> {
        let mut removals = sled::Batch::default();
        for key in self.events.range(start.to_be_bytes()..).keys() {
            removals.remove(key?);
        }
        self.events.apply_batch(removals)?;
        self.meta.remove(META_PENDING)?;
        self.flush()
    }

    /// The number of records the hash blocks cover.
    fn cache_coverage(&self) -> Result<u64, LogError> {
        let Some((key, value)) = self.hashes.last()? else {
            return Ok(0);
        };
        let block = seq_of(&key)
            .ok_or_else(|| LogError::Inconsistent("hashes holds a malformed key".into()))?;
        let entries = cache::entries(&value).ok_or_else(|| {
            LogError::Inconsistent(format!("hash block {block} is not whole entries"))
        })?;
        block
            .checked_mul(BLOCK_LEN)
            .and_then(|start| start.checked_add(entries))
            .ok_or_else(|| {
                LogError::Inconsistent(format!("hash block key {block} is out of range"))
            })
    }

    /// Stages the records `from .. len` onto `staged` and writes the caches in slices.
    fn restage(&mut self, mut staged: Staged, from: u64, len: u64) -> Result<(), LogError> {
        for entry in self.iter_from(from) {
            let (seq, bytes) = entry?;
            if seq >= len {
                break;
            }
            if seq != staged.frontier.size() {
                return Err(LogError::Inconsistent(format!(
                    "record at seq {} is missing",
                    staged.frontier.size()
                )));
            }
            Record::decode(&bytes).map_err(|source| LogError::BadRecord { seq, source })?;
            staged.add(&bytes);
            if staged.frontier.size().is_multiple_of(REBUILD_SLICE) {
                self.write_caches(&staged)?;
                staged = staged.rebase();
            }
        }
        if staged.frontier.size() != len {
            return Err(LogError::Inconsistent(format!(
                "record at seq {} is missing",
                staged.frontier.size()
            )));
        }
        self.write_caches(&staged)?;
        self.flush()
    }

    fn write_caches(&self, staged: &Staged) -> Result<(), LogError> {
        self.nodes.apply_batch(staged.nodes.clone())?;
        self.hashes.apply_batch(staged.hashes_batch())?;
        Ok(())
    }

    /// The format the ledger records: [`FORMAT`], or 1 for a format-1 ledger that
    /// [`Log::migrate`] opened.
    pub(crate) fn format(&self) -> Result<u64, LogError> {
        format_of(&self.meta)
    }

    /// The format-1 checkpoint notes a migration kept ([`Log::migrate`]), in the order of
    /// the `checkpoints` tree they came from (by size, and of one size in the order they
    /// were stored, a co-signed note after the one it extends); empty for a ledger made in
    /// format 2. Their bodies have five lines and their signatures are plain Ed25519 note
    /// signatures over the body (`docs/format.md`).
    pub fn format_one_checkpoints(&self) -> Result<Vec<String>, LogError> {
        crate::migrate::kept_checkpoints(&self.db)
    }

    /// Why the ledger looked damaged when it was opened, and the seq, when known. A damaged
    /// ledger refuses appends; `pbr verify` tells where the damage is.
    pub fn damage(&self) -> Option<(Option<u64>, &str)> {
        self.damage
            .as_ref()
            .map(|(seq, reason)| (*seq, reason.as_str()))
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ledger id, the origin line of its checkpoints.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The number of records.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Merkle root of the whole log.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    /// The chain head of the whole log.
    pub fn chain_head(&self) -> Hash {
        self.chain_head
    }

    /// Appends a batch atomically and durably: when this returns `Ok`, every record is on
    /// disk; when it returns an error, none is part of the log (a batch that could not be
    /// rolled back at once is rolled back when the ledger is next opened).
    ///
    /// Each record is encoded and decoded again before anything is written (the first half
    /// of the paired assertion around storage; [`Log::read`] is the second). The log does not
    /// check signatures here: the ledger signs or verifies before appending, and
    /// [`Log::verify`] checks every signature after.
    pub fn append(&mut self, records: &[Record]) -> Result<Appended, LogError> {
        self.refuse_if_damaged("append")?;
        let mut encoded = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            encoded.push(checked_bytes(index, record)?);
        }
        self.append_encoded(encoded)
    }

    /// Appends record bytes that the caller has already checked, as one batch.
    fn append_encoded(&mut self, encoded: Vec<Vec<u8>>) -> Result<Appended, LogError> {
        let mut batch = self.begin()?;
        batch.write_encoded(encoded)?;
        batch.commit()
    }

    /// Starts a batch: chunks of records are written with [`Batch::write`] and become part of
    /// the log only at [`Batch::commit`]; a batch dropped or aborted before that leaves the
    /// log as it was.
    pub fn begin(&mut self) -> Result<Batch<'_>, LogError> {
        self.refuse_if_damaged("append")?;
        self.wrote.set(true);
        let start = self.len();
        self.meta.insert(META_PENDING, &start.to_be_bytes())?;
        let prefix = self.block_prefix(start)?;
        let staged = Staged::new(self.frontier.clone(), self.chain_head, prefix);
        Ok(Batch {
            log: self,
            start,
            staged,
            open: true,
        })
    }

    /// The cached entries of the block holding `seq` that come before it.
    fn block_prefix(&self, seq: u64) -> Result<Vec<u8>, LogError> {
        let offset = (seq % BLOCK_LEN) as usize * cache::ENTRY_LEN;
        if offset == 0 {
            return Ok(Vec::new());
        }
        let block = self
            .hashes
            .get(cache::block_key(seq / BLOCK_LEN))?
            .unwrap_or_default();
        block
            .get(..offset)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| LogError::Inconsistent(format!("hash block of seq {seq} is short")))
    }

    /// The raw record bytes at `seq`.
    pub fn read_bytes(&self, seq: u64) -> Result<Vec<u8>, LogError> {
        match self.events.get(seq.to_be_bytes())? {
            Some(bytes) => Ok(bytes.to_vec()),
            None if seq < self.len() => Err(LogError::Inconsistent(format!(
                "record at seq {seq} is missing"
            ))),
            None => Err(LogError::OutOfRange(format!(
                "seq {seq} is beyond the end of the log ({} records)",
                self.len()
            ))),
        }
    }

    /// The record at `seq`, decoded (the second half of the paired assertion).
    pub fn read(&self, seq: u64) -> Result<Record, LogError> {
        let bytes = self.read_bytes(seq)?;
        Record::decode(&bytes).map_err(|source| LogError::BadRecord { seq, source })
    }

    /// Streams `(seq, record bytes)` from `start` in order, without loading the log.
    pub fn iter_from(
        &self,
        start: u64,
    ) -> impl Iterator<Item = Result<(u64, sled::IVec), LogError>> + '_ {
        self.events.range(start.to_be_bytes()..).map(|entry| {
            let (key, value) = entry?;
            let seq = seq_of(&key).ok_or_else(|| {
                LogError::Inconsistent(format!("events holds a malformed key {key:?}"))
            })?;
            Ok((seq, value))
        })
    }

    /// A tree for a layer above the log to keep its projections and indexes in, named
    /// `projection.<name>`. Like every tree but `events`, it must be rebuildable from the
    /// records; the log never reads it.
    pub fn projection_tree(&self, name: &str) -> Result<sled::Tree, LogError> {
        Ok(self.db.open_tree(format!("projection.{name}"))?)
    }

    /// Deletes a projection tree whole (far cheaper than removing its keys one by one); the
    /// next [`Log::projection_tree`] of that name starts empty.
    pub fn drop_projection_tree(&self, name: &str) -> Result<(), LogError> {
        self.wrote.set(true);
        self.db.drop_tree(format!("projection.{name}"))?;
        Ok(())
    }

    /// Flushes every tree to disk. Every write of ours ends with a flush, so this is also
    /// where [`Log::close`] learns that sled was written.
    pub fn flush(&self) -> Result<(), LogError> {
        self.wrote.set(true);
        crate::durable::flush(&self.db, &self.dir.join(SLED_DIR))
    }

    /// The cached hash block `block`, if stored.
    pub(crate) fn cached_block(&self, block: u64) -> Result<Option<sled::IVec>, LogError> {
        Ok(self.hashes.get(cache::block_key(block))?)
    }

    /// The cached `(leaf_i, chain_i)` of `seq`.
    pub fn cached_hashes(&self, seq: u64) -> Result<(Hash, Hash), LogError> {
        let block = self.cached_block(seq / BLOCK_LEN)?.unwrap_or_default();
        cache::entry(&block, seq % BLOCK_LEN)
            .ok_or_else(|| LogError::Inconsistent(format!("hash cache has no entry for seq {seq}")))
    }

    /// The cached hash of a complete subtree of height `level >= STORED_LEVEL`, if stored.
    pub(crate) fn cached_node(&self, level: u32, index: u64) -> Result<Option<Hash>, LogError> {
        match self.nodes.get(cache::node_key(level, index))? {
            None => Ok(None),
            Some(value) => Ok(Some(value.as_ref().try_into().map_err(|_| {
                LogError::Inconsistent(format!("node ({level}, {index}) is not 32 bytes"))
            })?)),
        }
    }

    /// The chain head after the first `size` records.
    pub fn chain_at(&self, size: u64) -> Result<Hash, LogError> {
        if size == 0 {
            Ok(EMPTY_CHAIN)
        } else {
            Ok(self.cached_hashes(size - 1)?.1)
        }
    }

    /// The Merkle root of the first `size` records, from `O(log size)` cached nodes.
    pub fn root_at(&self, size: u64) -> Result<Hash, LogError> {
        self.check_size(size)?;
        merkle::root(self, size)
    }

    fn check_size(&self, size: u64) -> Result<(), LogError> {
        if size > self.len() {
            return Err(LogError::OutOfRange(format!(
                "tree size {size} is beyond the end of the log ({} records)",
                self.len()
            )));
        }
        Ok(())
    }

    /// The RFC 9162 inclusion path of `leaf_index` in the tree of `tree_size`.
    pub fn inclusion_path(&self, leaf_index: u64, tree_size: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(tree_size)?;
        if leaf_index >= tree_size {
            return Err(LogError::OutOfRange(format!(
                "seq {leaf_index} is not in a tree of size {tree_size}"
            )));
        }
        merkle::inclusion_proof(self, leaf_index, tree_size)
    }

    /// The RFC 9162 consistency path from `first` to `second`.
    pub fn consistency_path(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        self.check_size(second)?;
        if first > second {
            return Err(LogError::OutOfRange(format!(
                "first size {first} is larger than second size {second}"
            )));
        }
        merkle::consistency_proof(self, first, second)
    }

    /// The checkpoint body of the whole log as it stands, for signing.
    pub fn checkpoint_body(&self) -> Result<Checkpoint, LogError> {
        self.refuse_if_damaged("sign a checkpoint")?;
        Ok(Checkpoint {
            origin: self.origin.clone(),
            size: self.len(),
            root: self.root(),
        })
    }

    fn refuse_if_damaged(&self, what: &str) -> Result<(), LogError> {
        if self.disk_full {
            // The room the reserve made is kept for reading; a write would take it.
            return Err(LogError::NoSpace {
                path: Some(self.dir.clone()),
            });
        }
        match &self.damage {
            Some((_, damage)) => Err(LogError::Inconsistent(format!(
                "{damage}; refusing to {what} (run `pbr verify`)"
            ))),
            None => Ok(()),
        }
    }

    /// Stores a checkpoint after checking that it describes this log: same origin, a size
    /// within the log, and the root of that prefix. A later note of the same
    /// size (say, with one more co-signature) supersedes the earlier one.
    pub fn store_checkpoint(&mut self, note: &SignedCheckpoint) -> Result<(), LogError> {
        self.refuse_if_damaged("store a checkpoint")?;
        self.check_checkpoint(&note.checkpoint)?;
        let id = self.db.generate_id()?;
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&note.checkpoint.size.to_be_bytes());
        key[8..].copy_from_slice(&id.to_be_bytes());
        self.checkpoints.insert(key, note.to_text().as_bytes())?;
        self.flush()?;
        self.write_account()
    }

    /// Checks that a checkpoint body describes a prefix of this log.
    pub fn check_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), LogError> {
        if checkpoint.origin != self.origin {
            return Err(LogError::Checkpoint(format!(
                "origin {} is not this ledger's ({})",
                checkpoint.origin, self.origin
            )));
        }
        self.check_size(checkpoint.size)?;
        if self.root_at(checkpoint.size)? != checkpoint.root {
            return Err(LogError::Checkpoint(format!(
                "root of size {} does not match the log",
                checkpoint.size
            )));
        }
        Ok(())
    }

    /// The latest stored checkpoint: the largest size, and of that size the last stored.
    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, LogError> {
        match self.checkpoints.last()? {
            None => Ok(None),
            Some((_, text)) => parse_stored_note(&text).map(Some),
        }
    }

    /// The last stored checkpoint of exactly `size`.
    pub fn checkpoint_of_size(&self, size: u64) -> Result<Option<SignedCheckpoint>, LogError> {
        match self.checkpoints.scan_prefix(size.to_be_bytes()).next_back() {
            None => Ok(None),
            Some(entry) => parse_stored_note(&entry?.1).map(Some),
        }
    }

    /// Every stored checkpoint, one per size (the last stored of each), by size.
    pub fn checkpoints(&self) -> Result<Vec<SignedCheckpoint>, LogError> {
        let mut notes: Vec<SignedCheckpoint> = Vec::new();
        for entry in self.checkpoints.iter() {
            let note = parse_stored_note(&entry?.1)?;
            match notes.last_mut() {
                Some(last) if last.checkpoint.size == note.checkpoint.size => *last = note,
                _ => notes.push(note),
            }
        }
        Ok(notes)
    }

    /// Remembers a verifier key (the log key, or a witness key), stored under
    /// `<name>+<key id>`. A key of the same name and type bound to another public key is
    /// refused: two keys named alike would make a checkpoint's lines ambiguous.
    pub fn add_verifier_key(&mut self, key: &VerifierKey) -> Result<(), LogError> {
        if self.disk_full {
            return Err(LogError::NoSpace {
                path: Some(self.dir.clone()),
            });
        }
        if let Some(other) = self
            .verifier_keys()?
            .into_iter()
            .find(|k| k.name == key.name && k.algorithm == key.algorithm)
        {
            if other == *key {
                return Ok(());
            }
            return Err(LogError::Checkpoint(format!(
                "key name {} is already bound to another key in this ledger",
                key.name
            )));
        }
        let id = format!("{}+{}", key.name, crate::hex::encode(&key.key_id));
        self.keys
            .insert(id.as_bytes(), key.to_string().as_bytes())?;
        self.flush()
    }

    /// The verifier keys this ledger knows, by name and key id.
    pub fn verifier_keys(&self) -> Result<Vec<VerifierKey>, LogError> {
        self.keys
            .iter()
            .values()
            .map(|value| {
                let value = value?;
                let text = std::str::from_utf8(&value)
                    .map_err(|_| LogError::Inconsistent("stored key is not UTF-8".into()))?;
                VerifierKey::parse(text)
                    .map_err(|e| LogError::Inconsistent(format!("stored key {text}: {e}")))
            })
            .collect()
    }

    pub(crate) fn verified_mark(&self) -> Result<u64, LogError> {
        Ok(read_u64(&self.meta, META_VERIFIED)?.unwrap_or(0))
    }

    /// Records the size of the last checkpoint a verification reached; writes nothing when
    /// it is already recorded, so that verifying needs no space on the disk.
    pub(crate) fn set_verified_mark(&self, size: u64) -> Result<(), LogError> {
        if self.verified_mark()? == size {
            return Ok(());
        }
        self.meta.insert(META_VERIFIED, &size.to_be_bytes())?;
        self.flush()
    }

    /// Rebuilds `hashes` and `nodes` from `events` alone, streaming, for the records the
    /// ledger recorded (`meta.len`). Used after a cache is lost or suspected; `events` is
    /// never written, and records missing below `meta.len` or present past it stay reported
    /// as damage, as they would be without the rebuild.
    pub fn rebuild_caches(&mut self) -> Result<(), LogError> {
        let committed = read_u64(&self.meta, META_LEN)?.unwrap_or(0);
        self.hashes.clear()?;
        self.nodes.clear()?;
        let available = match self.events.last()? {
            None => 0,
            Some((key, _)) => seq_of(&key)
                .and_then(|seq| seq.checked_add(1))
                .unwrap_or(committed),
        };
        let end = committed.min(available);
        self.damage = None;
        let result = self
            .restage(
                Staged::new(Frontier::new(), EMPTY_CHAIN, Vec::new()),
                0,
                end,
            )
            .and_then(|()| self.load_head());
        if let Err(error) = result {
            self.damage = Some(match error {
                LogError::BadRecord { seq, ref source } => (Some(seq), source.to_string()),
                ref other => (None, other.to_string()),
            });
            return Err(error);
        }
        Ok(())
    }
}

/// How a ledger is opened: as every command opens it, or to migrate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Opening {
    /// In [`FORMAT`] only.
    Current,
    /// In format 1 too ([`Log::migrate`]).
    Migration,
}

/// The format a ledger's `meta` records; a ledger without `meta.format` is in format 1.
pub(crate) fn format_of(meta: &sled::Tree) -> Result<u64, LogError> {
    Ok(read_u64(meta, META_FORMAT)?.unwrap_or(1))
}

/// The error for records missing from `seq` on.
fn missing(seq: u64, why: String) -> LogError {
    LogError::BadRecord {
        seq,
        source: RecordError::Malformed {
            reason: format!("missing: {why}"),
        },
    }
}

/// "1 record", "618 records".
pub(crate) fn records(n: u64) -> String {
    match n {
        1 => "1 record".to_owned(),
        n => format!("{n} records"),
    }
}

/// "record 5 is missing", "records 1 to 9999 are missing" (seqs, inclusive).
pub(crate) fn missing_range(from: u64, to: u64) -> String {
    match to - from {
        0 => "no record is missing".to_owned(),
        1 => format!("record {from} is missing"),
        _ => format!("records {from} to {} are missing", to - 1),
    }
}

/// The first 16 hex digits of a hash, enough to tell two apart in a message.
pub(crate) fn short(hash: &Hash) -> String {
    let mut text = crate::hex::encode(hash);
    text.truncate(16);
    text.push('…');
    text
}

/// Removes `snap.*.generating` files from sled's directory before sled opens. sled 0.34.7
/// writes a snapshot to such a file, syncs it and renames it to `snap.*`, and only then
/// removes older snapshots; a crash or a full disk can leave the file empty or partial, and
/// sled then takes it for the newest snapshot and reports corruption on every open. The
/// file is never the only copy of anything: the previous snapshot and the log it summarises
/// are still there (`docs/decisions.md`).
fn remove_unfinished_snapshots(sled_dir: &Path) -> Result<(), LogError> {
    let entries = std::fs::read_dir(sled_dir).map_err(io_error(sled_dir))?;
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_error(sled_dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("snap.") && name.ends_with(".generating") {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(io_error(&path))?;
            removed.push(path);
        }
    }
    if !removed.is_empty() {
        account::sync_dir(sled_dir)?;
        for path in removed {
            notice::push(format!(
                "removed {}, an unfinished sled snapshot that a crash or a full disk left \
                 (sled rebuilds it from its log)",
                path.display()
            ));
        }
    }
    Ok(())
}

/// The room sled needs to open after writes it did not settle: twice its largest snapshot
/// (it writes a new one before removing the old) and a segment, at least [`RESERVE_MIN`].
fn reserve_needed(dir: &Path) -> Result<u64, LogError> {
    let sled_dir = dir.join(SLED_DIR);
    let mut largest = 0;
    for entry in std::fs::read_dir(&sled_dir).map_err(io_error(&sled_dir))? {
        let entry = entry.map_err(io_error(&sled_dir))?;
        if entry.file_name().to_string_lossy().starts_with("snap.") {
            let len = entry.metadata().map_err(io_error(&entry.path()))?.len();
            largest = largest.max(len);
        }
    }
    Ok((2 * largest + 512 * 1024).max(RESERVE_MIN))
}

/// Makes `RESERVE` as large as [`reserve_needed`] says, of bytes no file system compresses
/// away, synced. sled 0.34.7 writes a snapshot whenever it opens after writes that were not
/// settled by [`Log::close`]; on a full disk that write fails and no command could open the
/// ledger, not even to read it. Releasing the reserve makes room for it.
fn keep_reserve(dir: &Path) -> Result<(), LogError> {
    use std::io::{Read, Seek, Write};
    let needed = reserve_needed(dir)?;
    let path = dir.join(RESERVE_FILE);
    let have = match std::fs::metadata(&path) {
        Ok(meta) => meta.len(),
        Err(_) => 0,
    };
    if have >= needed {
        return Ok(());
    }
    let mut file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_error(&path))?;
    file.seek(std::io::SeekFrom::Start(have))
        .map_err(io_error(&path))?;
    let mut bytes = blake3::Hasher::new_derive_key("pbr space reserve v1").finalize_xof();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut written = have;
    while written < needed {
        let n = usize::try_from((needed - written).min(chunk.len() as u64)).unwrap_or(0);
        bytes.read_exact(&mut chunk[..n]).map_err(io_error(&path))?;
        file.write_all(&chunk[..n]).map_err(io_error(&path))?;
        written += n as u64;
    }
    file.sync_all().map_err(io_error(&path))?;
    Ok(())
}

/// Removes `RESERVE` and returns how many bytes it freed.
fn release_reserve(dir: &Path) -> Result<u64, LogError> {
    let path = dir.join(RESERVE_FILE);
    let len = std::fs::metadata(&path).map_err(io_error(&path))?.len();
    std::fs::remove_file(&path).map_err(io_error(&path))?;
    account::sync_dir(dir)?;
    Ok(len)
}

/// Runs `f`, turning a panic inside it (sled 0.34.7 panics on some damaged files, e.g.
/// "tried to serialize Uninitialized") into [`LogError::Corrupt`]. While it runs,
/// [`panic_is_contained`] is true, so that a panic hook can stay quiet about it.
pub(crate) fn contain<T>(f: impl FnOnce() -> Result<T, LogError>) -> Result<T, LogError> {
    CONTAINED.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(c.get() - 1));
    result.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(LogError::Corrupt {
            dir: None,
            detail: format!("sled failed reading its files: {message}"),
        })
    })
}

thread_local! {
    static CONTAINED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether the current thread is inside a call that turns a panic into an error (opening
/// sled), so that a panic hook need not report or end the process.
pub fn panic_is_contained() -> bool {
    CONTAINED.with(|c| c.get() > 0)
}

/// A batch under way (see [`Log::begin`]).
pub struct Batch<'a> {
    log: &'a mut Log,
    start: u64,
    staged: Staged,
    /// Neither committed nor rolled back yet.
    open: bool,
}

impl Batch<'_> {
    /// The log, for reading what is committed (and the projection trees) while the batch
    /// is under way.
    pub fn log(&self) -> &Log {
        self.log
    }

    /// The number of records the batch holds so far.
    pub fn len(&self) -> u64 {
        self.staged.frontier.size() - self.start
    }

    /// Whether the batch holds no record yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes a chunk of records (checked as [`Log::append`] checks them). Nothing is part of
    /// the log until [`Batch::commit`].
    pub fn write(&mut self, records: &[Record]) -> Result<(), LogError> {
        let mut encoded = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            encoded.push(checked_bytes(index, record)?);
        }
        self.write_encoded(encoded)
    }

    fn write_encoded(&mut self, encoded: Vec<Vec<u8>>) -> Result<(), LogError> {
        let mut events = sled::Batch::default();
        for bytes in &encoded {
            events.insert(&self.staged.frontier.size().to_be_bytes(), bytes.as_slice());
            self.staged.add(bytes);
        }
        self.log.events.apply_batch(events)?;
        self.log.write_caches(&self.staged)?;
        let placeholder = Staged::new(Frontier::new(), EMPTY_CHAIN, Vec::new());
        self.staged = std::mem::replace(&mut self.staged, placeholder).rebase();
        Ok(())
    }

    /// Makes the batch part of the log, durably: `meta.len` and the removal of the pending
    /// mark in one atomic write, then a flush.
    pub fn commit(mut self) -> Result<Appended, LogError> {
        let end = self.staged.frontier.size();
        let mut meta = sled::Batch::default();
        meta.insert(META_LEN, &end.to_be_bytes());
        meta.remove(META_PENDING);
        self.log.meta.apply_batch(meta)?;
        self.log.flush()?;
        self.open = false;
        let frontier = std::mem::take(&mut self.staged.frontier);
        let log = &mut *self.log;
        log.frontier = frontier;
        log.chain_head = self.staged.chain;
        log.len = end;
        let appended = Appended {
            seqs: self.start..end,
            chain_head: log.chain_head,
            root: log.root(),
        };
        // The batch is committed: sled holds it durably. Should the account fail now, the
        // next open finds sled one commit ahead, accepts it and rewrites the account; the
        // caller is told that the batch is in the log.
        if let Err(error) = log.write_account() {
            notice::push(format!(
                "seq {}..{} committed, but {} could not be written ({error}); the next open \
                 brings it up to date",
                appended.seqs.start,
                appended.seqs.end,
                account::path(&log.dir).display()
            ));
        }
        Ok(appended)
    }

    /// Rolls the batch back now: the log is as it was before [`Log::begin`].
    pub fn abort(mut self) -> Result<(), LogError> {
        self.open = false;
        self.log.roll_back(self.start)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.open {
            // A batch neither committed nor aborted (an error, a panic) is rolled back; if even
            // that fails, `meta.pending` makes the next open roll it back.
            if let Err(error) = self.log.roll_back(self.start) {
                self.log.damage = Some((
                    Some(self.start),
                    format!(
                        "a batch from seq {} could not be rolled back ({error}); reopen the ledger",
                        self.start
                    ),
                ));
            }
        }
    }
}

/// Encodes a record and decodes it again: the first half of the paired assertion around
/// storage ([`Log::read`] is the second).
fn checked_bytes(index: usize, record: &Record) -> Result<Vec<u8>, LogError> {
    let bytes = record
        .encode()
        .map_err(|source| LogError::Rejected { index, source })?;
    match Record::decode(&bytes) {
        Ok(ref again) if again == record => Ok(bytes),
        Ok(_) => Err(LogError::Rejected {
            index,
            source: RecordError::Malformed {
                reason: "does not round-trip".into(),
            },
        }),
        Err(source) => Err(LogError::Rejected { index, source }),
    }
}

fn parse_stored_note(text: &[u8]) -> Result<SignedCheckpoint, LogError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| LogError::Inconsistent("stored checkpoint is not UTF-8".into()))?;
    SignedCheckpoint::parse(text)
        .map_err(|e| LogError::Inconsistent(format!("stored checkpoint: {e}")))
}

/// Opens sled under our lock: default features (no compression, no io_uring; CONVENTIONS.md)
/// and a page cache of [`SLED_CACHE_BYTES`].
///
/// sled also locks its own file. Once we hold `LOCK`, no other pbr process can hold that
/// one, but a child forked by another thread of the previous holder may still share its
/// descriptor for a moment (see [`LockGuard`]); so a failure to get sled's lock is retried
/// for up to a second before it is reported.
fn open_sled(path: &Path) -> Result<sled::Db, LogError> {
    let mut attempts = 0;
    loop {
        match sled::Config::new()
            .path(path)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
        {
            Err(sled::Error::Io(error)) if error.to_string().contains("could not acquire lock") => {
                if attempts >= 20 {
                    // Our `LOCK` was ours, yet sled's lock is held: another process has the
                    // database open (its `LOCK` was deleted and made again under it).
                    return Err(LogError::InUse {
                        path: path.join("db"),
                        holder: None,
                    });
                }
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            result => return Ok(result?),
        }
    }
}

impl NodeSource for Log {
    type Error = LogError;

    fn node(&self, level: u32, index: u64) -> Result<Hash, LogError> {
        if level >= STORED_LEVEL {
            return self.cached_node(level, index)?.ok_or_else(|| {
                LogError::Inconsistent(format!("Merkle cache has no node ({level}, {index})"))
            });
        }
        // A lower subtree lies inside one hash block: fold its leaves.
        let first = index << level;
        let block = self.cached_block(first / BLOCK_LEN)?.unwrap_or_default();
        let leaves = (0..1u64 << level)
            .map(|i| cache::entry(&block, first % BLOCK_LEN + i).map(|(leaf, _)| leaf))
            .collect::<Option<Vec<Hash>>>()
            .ok_or_else(|| {
                LogError::Inconsistent(format!(
                    "hash cache lacks the leaves of node ({level}, {index})"
                ))
            })?;
        Ok(cache::fold(leaves))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A duplicate of the lock's descriptor, like the one a child forked by another thread
    /// holds until it execs, must not keep the ledger locked after the log is dropped.
    #[test]
    fn dropping_the_log_releases_the_lock_despite_a_duplicate_descriptor() -> Result<(), LogError> {
        let dir = tempfile::tempdir().map_err(io_error(Path::new("tempdir")))?;
        let path = dir.path().join("ledger");
        let log = Log::create(&path, "test.example/lock")?;
        let duplicate = log._lock.0.try_clone().map_err(io_error(&path))?;
        drop(log);
        let reopened = Log::open(&path);
        drop(duplicate);
        assert!(reopened.is_ok(), "{:?}", reopened.err());
        Ok(())
    }
}
