//! The store: the only code that touches sled. It persists what the core decided,
//! each operation atomically as one record of the journal, and makes writes durable by
//! group commit: many operations share one flush of the journal, and each waits until
//! a flush has covered it. sled gets the journalled writes together, on a thread of
//! its own once a journal is full, and as the daemon stops, so that a request does not
//! wait on sled's own work.
//! Beside the database, a check record says what it must hold, so that a damaged
//! database is refused at start rather than served.

pub mod check;
mod database;
pub mod group_commit;
pub mod journal;
pub mod restore;
pub mod snapshots;
mod stored;

pub use check::Expected;
pub use database::database;
use database::{apply, apply_at_once};
pub use group_commit::{GroupCommit, Stopped};
pub use snapshots::Snapshot;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baton_protocol::views::count;
use baton_protocol::Config;

use crate::core::{Board, Changes};
use check::CheckFile;
use group_commit::is_disk_full;
use journal::{Journals, Operation, Records};
use stored::Stored;

const META: &[u8] = b"meta";
/// The highest epoch of the journals whose records the database holds all of.
pub(crate) const COVERED: &[u8] = b"journal";
const TASK: u8 = b't';
const DISCOVERY: u8 = b'd';
const ATTEMPT: u8 = b'a';

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state database at {path} cannot be used: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("writing the state failed: {}", group_commit::describe_io(.0))]
    Write(#[from] sled::Error),
    #[error("the state database holds an unreadable {what}: {reason}")]
    Corrupt { what: String, reason: String },
    #[error(
        "the state database at {path} is damaged: it holds {found}, but {expected} were written"
    )]
    Damaged {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("the check record {path} cannot be used: {source}")]
    Check {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the journals in {path} cannot be used: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the state database at {path} cannot be opened: the disk is full; free some space and start again (nothing was lost)"
    )]
    DiskFull { path: PathBuf },
    #[error(
        "the state database at {path} is in use by another process: a batond whose lock file was deleted holds it until it notices, within a second, and stops; run the command again (nothing was changed)"
    )]
    Held { path: PathBuf },
}

impl StoreError {
    /// Whether bringing back a snapshot is the way out: not when the store is sound
    /// and only the disk is full.
    pub fn needs_restore(&self) -> bool {
        match self {
            StoreError::DiskFull { .. } | StoreError::Held { .. } => false,
            StoreError::Write(err) => !is_disk_full(err),
            _ => true,
        }
    }
}

/// The workspace's sled database.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    /// How many discoveries are stored; they are keyed by their position.
    discoveries: u64,
    /// What was written since the last flush; group commit makes it durable.
    written: Arc<Mutex<Written>>,
    /// How far each kind of record's positions were written since open: a write of
    /// everything removes what the database holds and what it will hold once the
    /// journalled writes reach it.
    reach: Reach,
    check: Option<CheckFile>,
    journals: Option<Journals>,
    /// What the check record said at open.
    expected: Option<Expected>,
    /// The snapshots, newest first: the store must hold at least the change of the
    /// newest that reads whole, whatever the check record says (a store lost
    /// together with its record must not start empty).
    snapshots: Vec<Snapshot>,
    /// The configuration of a workspace that was never configured; `None` is
    /// baton's defaults.
    first_config: Option<Config>,
    /// What the database held at open, until `load` makes a board of it.
    stored: Option<Stored>,
}

/// The writes group commit has yet to make durable.
#[derive(Default)]
pub struct Written {
    /// The journal's records of the writes since the last flush.
    pub records: Records,
    /// The same writes, for the database once the journal is full.
    pub writes: Vec<Write>,
    /// What the database holds after the last write; the check record says it once
    /// durable.
    pub expected: Expected,
}

/// One past the highest position written, for each kind of record kept by position.
#[derive(Default)]
struct Reach {
    tasks: u64,
    discoveries: u64,
    attempts: u64,
}

impl Store {
    /// Opens the database at `path` and its check record at `check_path`.
    pub fn open(path: &Path, check_path: &Path) -> Result<Store, StoreError> {
        let (check, expected) =
            CheckFile::open(check_path).map_err(|source| StoreError::Check {
                path: check_path.to_owned(),
                source,
            })?;
        let open = || {
            database(path).open().map_err(|source| match expected {
                _ if is_disk_full(&source) => StoreError::DiskFull {
                    path: path.to_owned(),
                },
                Some(expected) => StoreError::Damaged {
                    path: path.to_owned(),
                    found: format!("nothing readable ({source})"),
                    expected: describe(&expected),
                },
                None => StoreError::Open {
                    path: path.to_owned(),
                    source,
                },
            })
        };
        if held_elsewhere(path) {
            return Err(StoreError::Held {
                path: path.to_owned(),
            });
        }
        let db = open()?;
        let (journals, stored) = replay_journals(&db, path)
            .and_then(|journals| Ok((journals, Stored::read(&db)?)))
            .inspect_err(|_| abandon(&db))?;
        // sled keeps every page it read in memory until far more accesses than one
        // read of each cause it to evict (it counts them in 256 queues of 64). The
        // board holds all of it, so a database larger than the cache is opened again
        // with nothing read.
        let db = if stored.bytes > CACHE_CAPACITY {
            drop(db);
            open()?
        } else {
            db
        };
        Ok(Store {
            db,
            path: path.to_owned(),
            discoveries: 0,
            written: Arc::default(),
            reach: Reach::default(),
            check: Some(check),
            journals: Some(journals),
            expected,
            snapshots: Vec::new(),
            first_config: None,
            stored: Some(stored),
        })
    }

    /// Has the store refused at load if it holds less than one of `snapshots`
    /// (taken of it, oldest first) that reads whole.
    pub fn expect_snapshots(&mut self, mut snapshots: Vec<Snapshot>) {
        snapshots.reverse();
        self.snapshots = snapshots;
    }

    /// Has a workspace that was never configured start with `config` rather than
    /// baton's defaults (a linked worktree's own branch names).
    pub fn start_unconfigured_with(&mut self, config: Config) {
        self.first_config = Some(config);
    }

    /// Group commit for this database: after each flush it records what is durable,
    /// and checks that `guarded` files (the database's own among them) are still the
    /// ones this daemon opened before anything is acknowledged.
    pub fn group_commit(&mut self, guarded: &[PathBuf]) -> Result<GroupCommit, StoreError> {
        let mut guarded: Vec<(PathBuf, u64)> =
            guarded.iter().map(|path| (path.clone(), 0)).collect();
        guarded.push((self.path.join("db"), 0));
        let check = self.check.take().expect("one group commit per store");
        guarded.push((check.path().to_owned(), 0));
        let journals = self.journals.take().expect("one group commit per store");
        guarded.extend(
            journals
                .paths()
                .map(|path| (path.to_owned(), journal::CAPACITY)),
        );
        let guard = group_commit::Guard::new(&guarded).map_err(|source| StoreError::Check {
            path: self.path.clone(),
            source,
        })?;
        Ok(GroupCommit::new(
            self.db.clone(),
            self.written.clone(),
            journals,
            check,
            guard,
        ))
    }

    /// The number of the last change written.
    pub fn change(&self) -> u64 {
        self.written.lock().expect("written lock").expected.change
    }

    /// What the store holds: its last change and its counts, once loaded.
    pub fn holds(&self) -> Expected {
        self.written.lock().expect("written lock").expected
    }

    /// Reads the whole board back, refusing a database that holds less than its check
    /// record says was written. An empty database gives an empty board.
    pub fn load(&mut self) -> Result<Board, StoreError> {
        let Stored {
            meta,
            tasks,
            discoveries,
            attempts,
            last_change,
            ..
        } = self.stored.take().expect("a store is loaded once");
        let found = Expected {
            change: last_change,
            tasks: tasks.len(),
            discoveries: discoveries.len(),
        };
        // What the store lacks, by its check record or by a snapshot ahead of it, the
        // most it lacks said; a snapshot is read only when the store is behind it, and
        // one damaged, not baton's or holding no valid board is passed over.
        let lacking = self
            .expected
            .filter(|expected| {
                found.change < expected.change
                    || (found.change == expected.change && found != *expected)
            })
            .map(|expected| (expected.change, describe(&expected)));
        let snapshot = self
            .snapshots
            .iter()
            .filter(|snapshot| found.change < snapshot.change)
            .filter(|snapshot| {
                lacking
                    .as_ref()
                    .is_none_or(|(change, _)| *change < snapshot.change)
            })
            .find(|snapshot| snapshot.board().is_ok())
            .map(|snapshot| {
                let said = format!(
                    "changes up to {} (as the snapshot {} holds)",
                    snapshot.change,
                    snapshot.path.display()
                );
                (snapshot.change, said)
            });
        if let Some((_, expected)) = snapshot.or(lacking) {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                found: describe(&found),
                expected,
            });
        }
        self.discoveries = discoveries.len() as u64;
        self.written.lock().expect("written lock").expected = found;
        let meta = meta.unwrap_or_else(|| {
            let mut meta = Board::default().meta();
            meta.config = self.first_config.take().unwrap_or_default();
            meta
        });
        Board::restore(meta, tasks, discoveries, attempts).map_err(|err| StoreError::Corrupt {
            what: "state".into(),
            reason: err.message,
        })
    }

    /// Replaces everything stored with `board` as a change numbered after `after`,
    /// and makes it durable (for `restore`, before group commit begins).
    pub fn replace_durably(&mut self, board: &Board, after: u64) -> Result<Expected, StoreError> {
        {
            let mut written = self.written.lock().expect("written lock");
            written.expected.change = written.expected.change.max(after);
        }
        self.replace_all(board)?;
        let (writes, written) = {
            let mut written = self.written.lock().expect("written lock");
            // In the database now, durably: the journal starts over without them.
            written.records = Records::default();
            (std::mem::take(&mut written.writes), written.expected)
        };
        let covered = self.journals.as_ref().map_or(0, Journals::epoch);
        apply_at_once(&self.db, writes, covered)?;
        if let Some(journals) = &mut self.journals {
            journals
                .start_over()
                .map_err(|source| StoreError::Journal {
                    path: self.path.clone(),
                    source,
                })?;
        }
        if let Some(check) = &self.check {
            check.write(&written).map_err(|source| StoreError::Check {
                path: check.path().to_owned(),
                source,
            })?;
        }
        Ok(written)
    }

    /// Writes, atomically, the records of `board` that `changes` names.
    pub fn persist(&mut self, board: &Board, changes: &Changes) -> Result<(), StoreError> {
        // Tasks are keyed by their place in creation order: when the board was replaced
        // or its tasks renumbered (a delete), everything is written again.
        if changes.everything {
            return self.replace_all(board);
        }
        let stored = board.discoveries().len() as u64;
        let change = self.next_change(board);
        let mut writes = Vec::with_capacity(changes.tasks.len() + 2);
        for id in &changes.tasks {
            let seq = board.seq(id).expect("a changed task is on the board");
            let task = board.task(id).expect("a changed task is on the board");
            self.reach.tasks = self.reach.tasks.max(seq + 1);
            writes.push(put(key(TASK, seq), encode(change.change, &task)));
        }
        for index in stored - changes.discoveries as u64..stored {
            let discovery = &board.discoveries()[index as usize];
            writes.push(put(key(DISCOVERY, index), encode(change.change, discovery)));
        }
        self.reach.discoveries = self.reach.discoveries.max(stored);
        for &id in &changes.attempts {
            let record = &board.attempts()[id as usize];
            self.reach.attempts = self.reach.attempts.max(id + 1);
            writes.push(put(key(ATTEMPT, id), encode(change.change, record)));
        }
        // The settings change with the goal, plan, configuration, dispatch or a run's
        // start; when they were last active is read back from the tasks.
        if changes.settings {
            writes.push(put(META, encode(change.change, &board.meta())));
        }
        // No record carries the change's number: it is not one.
        if writes.is_empty() {
            return Ok(());
        }
        self.write(writes, change);
        self.discoveries = stored;
        Ok(())
    }

    /// Journals `writes` (a value, or none to remove the key) as one record, as
    /// `change`; the database gets them once the journal is full.
    fn write(&mut self, writes: Vec<Write>, change: Expected) {
        let mut written = self.written.lock().expect("written lock");
        written
            .records
            .push(writes.iter().map(|(key, value)| match value {
                Some(value) => Operation::Put(key, value),
                None => Operation::Remove(key),
            }));
        written.writes.extend(writes);
        written.expected = change;
    }

    /// What the database holds once the next change is written.
    fn next_change(&self, board: &Board) -> Expected {
        Expected {
            change: self.change() + 1,
            tasks: board.counts().total(),
            discoveries: board.discoveries().len(),
        }
    }

    /// Replaces everything stored with `board`, atomically: every key the database
    /// holds, or will once the writes journalled reach it, is removed first.
    fn replace_all(&mut self, board: &Board) -> Result<(), StoreError> {
        let change = self.next_change(board);
        let mut removed = std::collections::BTreeSet::new();
        for key in self.db.iter().keys() {
            let key = key?;
            if key != COVERED {
                removed.insert(key.to_vec());
            }
        }
        let reach = std::mem::take(&mut self.reach);
        for (prefix, reach) in [
            (TASK, reach.tasks),
            (DISCOVERY, reach.discoveries),
            (ATTEMPT, reach.attempts),
        ] {
            removed.extend((0..reach).map(|position| key(prefix, position).to_vec()));
        }
        let mut writes: Vec<Write> = removed.into_iter().map(|key| (key, None)).collect();
        for task in board.tasks(None) {
            let seq = board.seq(&task.id).expect("a listed task is on the board");
            self.reach.tasks = self.reach.tasks.max(seq + 1);
            writes.push(put(key(TASK, seq), encode(change.change, &task)));
        }
        let stored = board.discoveries().len() as u64;
        for (index, discovery) in board.discoveries().iter().enumerate() {
            writes.push(put(
                key(DISCOVERY, index as u64),
                encode(change.change, discovery),
            ));
        }
        self.reach.discoveries = stored;
        for record in board.attempts() {
            self.reach.attempts = self.reach.attempts.max(record.id + 1);
            writes.push(put(key(ATTEMPT, record.id), encode(change.change, record)));
        }
        writes.push(put(META, encode(change.change, &board.meta())));
        self.write(writes, change);
        self.discoveries = stored;
        Ok(())
    }
}

/// The most sled keeps of the database in memory, in bytes.
const CACHE_CAPACITY: u64 = 8 * 1024 * 1024;

/// Whether another process holds the lock sled takes on the database's file (sled
/// says only that it could not take it, which a damaged file would say too).
fn held_elsewhere(path: &Path) -> bool {
    std::fs::File::open(path.join("db"))
        .is_ok_and(|file| matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

fn describe(expected: &Expected) -> String {
    format!(
        "{} up to change {}",
        tasks_and_discoveries(expected.tasks, expected.discoveries),
        expected.change
    )
}

/// "1 task and 2 discoveries", for messages about what a store holds.
fn tasks_and_discoveries(tasks: usize, discoveries: usize) -> String {
    format!(
        "{} and {}",
        count(tasks, "task", "tasks"),
        count(discoveries, "discovery", "discoveries")
    )
}

/// One key's new value, or `None` when it is removed.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

fn put(key: impl AsRef<[u8]>, value: Vec<u8>) -> Write {
    (key.as_ref().to_vec(), Some(value))
}

/// Opens the database's journals and applies to `db`, durably, the records it does
/// not hold whole, then starts the journals over. A journal unreadable is made again:
/// if it held acknowledged changes, the database is behind the check record, which
/// refuses it.
fn replay_journals(db: &sled::Db, dir: &Path) -> Result<Journals, StoreError> {
    let failed = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::StorageFull => StoreError::DiskFull {
            path: dir.to_owned(),
        },
        _ => StoreError::Journal {
            path: dir.to_owned(),
            source,
        },
    };
    let covered = match db.get(COVERED)? {
        Some(epoch) => {
            u64::from_be_bytes(epoch.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                what: "journal epoch".into(),
                reason: format!("{} bytes", epoch.len()),
            })?)
        }
        None => 0,
    };
    let (mut journals, writes) = Journals::open(dir, covered).map_err(failed)?;
    if !writes.is_empty() {
        apply(db, writes, journals.epoch()).map_err(|err| match err {
            _ if is_disk_full(&err) => StoreError::DiskFull {
                path: dir.to_owned(),
            },
            err => err.into(),
        })?;
    }
    journals.start_over().map_err(failed)?;
    Ok(journals)
}

/// Opens (creating, private to the user) one of the store's own files beside sled's,
/// for reading and rewriting in place.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Keeps `db` from being flushed as its last handle drops: sled's flush can wait
/// forever once a write of its log failed (a full disk), and what was acknowledged is
/// in the journal already.
fn abandon(db: &sled::Db) {
    std::mem::forget(db.clone());
}

/// A prefix byte, then the position big-endian, so that keys sort in creation order.
fn key(prefix: u8, position: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

/// A value as stored: the number of the change that wrote it (8 bytes, big-endian),
/// then its JSON.
fn encode<T: serde::Serialize>(change: u64, value: &T) -> Vec<u8> {
    let mut bytes = change.to_be_bytes().to_vec();
    serde_json::to_writer(&mut bytes, value).expect("state types serialize");
    bytes
}
