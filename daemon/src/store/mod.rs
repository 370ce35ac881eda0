//! The store: the only code that touches sled. It persists what the core decided,
//! each operation atomically (one record as one insert, several as one batch), and
//! makes writes durable by group commit: many operations share one flush, and each
//! waits until a flush has covered it. Beside the database, a check record says what
//! it must hold, so that a damaged database is refused at start rather than served.

pub mod check;
pub mod group_commit;
pub mod restore;
pub mod snapshots;

pub use check::Expected;
pub use group_commit::{GroupCommit, Stopped};
pub use snapshots::Snapshot;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use baton_protocol::views::count;
use baton_protocol::{AttemptRecord, Discovery, Task, TaskId};

use crate::core::{Board, Changes, Meta};
use check::CheckFile;
use group_commit::is_disk_full;

const META: &[u8] = b"meta";
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
    #[error(
        "the state database at {path} cannot be opened: the disk is full; free some space and start again (nothing was lost)"
    )]
    DiskFull { path: PathBuf },
}

impl StoreError {
    /// Whether bringing back a snapshot is the way out: not when the store is sound
    /// and only the disk is full.
    pub fn needs_restore(&self) -> bool {
        !matches!(self, StoreError::DiskFull { .. })
    }
}

/// The workspace's sled database.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    /// How many discoveries are stored; they are keyed by their position.
    discoveries: u64,
    /// What the database holds after the last write; group commit records it once
    /// durable.
    written: Arc<Mutex<Expected>>,
    check: Option<CheckFile>,
    /// What the check record said at open.
    expected: Option<Expected>,
    /// The newest snapshot: the store must hold at least its change, whatever the
    /// check record says (a store lost together with its record must not start
    /// empty).
    snapshot: Option<Snapshot>,
    /// What the database held at open, until `load` makes a board of it.
    stored: Option<Stored>,
}

/// Every record of the database, decoded.
struct Stored {
    meta: Meta,
    tasks: Vec<Task>,
    discoveries: Vec<Discovery>,
    attempts: Vec<AttemptRecord>,
    last_change: u64,
    /// The size of the records read.
    bytes: u64,
}

impl Stored {
    fn read(db: &sled::Db) -> Result<Stored, StoreError> {
        // Tasks can be stored before any setting is (a workspace never initialised).
        let mut read = Read::default();
        let meta: Meta = match db.get(META)? {
            Some(bytes) => read.decode("settings", &bytes)?,
            None => Board::default().meta(),
        };
        let tasks = read.prefix(db, TASK, "task")?;
        let discoveries = read.prefix(db, DISCOVERY, "discovery")?;
        let attempts = read.prefix(db, ATTEMPT, "attempt record")?;
        Ok(Stored {
            meta,
            tasks,
            discoveries,
            attempts,
            last_change: read.last_change,
            bytes: read.bytes,
        })
    }
}

/// What reading the records has seen so far.
#[derive(Default)]
struct Read {
    last_change: u64,
    bytes: u64,
}

impl Read {
    fn prefix<T: serde::de::DeserializeOwned>(
        &mut self,
        db: &sled::Db,
        prefix: u8,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        db.scan_prefix([prefix])
            .map(|entry| {
                let (_, bytes) = entry?;
                self.decode(what, &bytes)
            })
            .collect()
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &mut self,
        what: &str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        self.bytes += bytes.len() as u64;
        decode(what, bytes, &mut self.last_change)
    }
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
        let db = open()?;
        let stored = Stored::read(&db)?;
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
            check: Some(check),
            expected,
            snapshot: None,
            stored: Some(stored),
        })
    }

    /// Has the store refused at load if it holds less than `snapshot`, a snapshot
    /// taken of it.
    pub fn expect_snapshot(&mut self, snapshot: Option<Snapshot>) {
        self.snapshot = snapshot;
    }

    /// Group commit for this database: after each flush it records what is durable,
    /// and checks that `guarded` files (the database's own among them) are still the
    /// ones this daemon opened before anything is acknowledged.
    pub fn group_commit(&mut self, guarded: &[PathBuf]) -> Result<GroupCommit, StoreError> {
        let mut guarded = guarded.to_vec();
        guarded.push(self.path.join("db"));
        let check = self.check.take().expect("one group commit per store");
        let guard = group_commit::Guard::new(&guarded).map_err(|source| StoreError::Check {
            path: self.path.clone(),
            source,
        })?;
        Ok(GroupCommit::new(
            self.db.clone(),
            self.written.clone(),
            check,
            guard,
        ))
    }

    /// What the check record said when the store was opened.
    pub fn expected(&self) -> Option<Expected> {
        self.expected
    }

    /// The number of the last change written.
    pub fn change(&self) -> u64 {
        self.written.lock().expect("written lock").change
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
        if let Some(snapshot) = self.snapshot.as_ref().filter(|s| found.change < s.change) {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                found: describe(&found),
                expected: format!(
                    "changes up to {} (as the snapshot {} holds)",
                    snapshot.change,
                    snapshot.path.display()
                ),
            });
        }
        if let Some(expected) = self.expected {
            let behind = found.change < expected.change;
            let differs = found.change == expected.change && found != expected;
            if behind || differs {
                return Err(StoreError::Damaged {
                    path: self.path.clone(),
                    found: describe(&found),
                    expected: describe(&expected),
                });
            }
        }
        self.discoveries = discoveries.len() as u64;
        *self.written.lock().expect("written lock") = found;
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
            written.change = written.change.max(after);
        }
        self.replace_all(board)?;
        self.db.flush()?;
        let written = *self.written.lock().expect("written lock");
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
        let mut writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(changes.tasks.len() + 2);
        for id in &changes.tasks {
            let seq = board.seq(id).expect("a changed task is on the board");
            let task = board.task(id).expect("a changed task is on the board");
            writes.push((key(TASK, seq).to_vec(), encode(change.change, &task)));
        }
        for index in stored - changes.discoveries as u64..stored {
            let discovery = &board.discoveries()[index as usize];
            writes.push((
                key(DISCOVERY, index).to_vec(),
                encode(change.change, discovery),
            ));
        }
        for &id in &changes.attempts {
            let record = &board.attempts()[id as usize];
            writes.push((key(ATTEMPT, id).to_vec(), encode(change.change, record)));
        }
        // The settings change with the goal, plan, configuration, dispatch or a run's
        // start; when they were last active is read back from the tasks.
        if changes.settings {
            writes.push((META.to_vec(), encode(change.change, &board.meta())));
        }
        // One key goes in as one insert; more, atomically as a batch (a batch costs
        // sled two log syncs of its own, an insert none: group commit syncs).
        match writes.len() {
            // No record carries the change's number: it is not one.
            0 => return Ok(()),
            1 => {
                let (key, value) = writes.pop().expect("one write");
                self.db.insert(key, value)?;
            }
            _ => {
                let mut batch = sled::Batch::default();
                for (key, value) in writes {
                    batch.insert(key, value);
                }
                self.db.apply_batch(batch)?;
            }
        }
        self.discoveries = stored;
        *self.written.lock().expect("written lock") = change;
        Ok(())
    }

    /// What the database holds once the next change is written.
    fn next_change(&self, board: &Board) -> Expected {
        Expected {
            change: self.change() + 1,
            tasks: board.counts().total(),
            discoveries: board.discoveries().len(),
        }
    }

    /// Replaces everything stored with `board`, atomically.
    fn replace_all(&mut self, board: &Board) -> Result<(), StoreError> {
        let change = self.next_change(board);
        let mut batch = sled::Batch::default();
        for key in self.db.iter().keys() {
            batch.remove(key?);
        }
        for task in board.tasks(None) {
            put_task(&mut batch, board, &task.id, change.change);
        }
        let stored = board.discoveries().len() as u64;
        for index in 0..stored {
            put_discovery(&mut batch, board, index, change.change);
        }
        for record in board.attempts() {
            batch.insert(&key(ATTEMPT, record.id), encode(change.change, record));
        }
        batch.insert(META, encode(change.change, &board.meta()));
        self.db.apply_batch(batch)?;
        self.discoveries = stored;
        *self.written.lock().expect("written lock") = change;
        Ok(())
    }
}

/// The most sled keeps of the database in memory, in bytes.
const CACHE_CAPACITY: u64 = 8 * 1024 * 1024;

/// How the database at `path` is configured (public so that the bench measures the
/// same database's own durable write).
pub fn database(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_CAPACITY)
        // Durability is ours to decide: group commit flushes when a reply waits.
        .flush_every_ms(None)
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

fn put_task(batch: &mut sled::Batch, board: &Board, id: &TaskId, change: u64) {
    let seq = board.seq(id).expect("a changed task is on the board");
    let task = board.task(id).expect("a changed task is on the board");
    batch.insert(&key(TASK, seq), encode(change, &task));
}

fn put_discovery(batch: &mut sled::Batch, board: &Board, index: u64, change: u64) {
    batch.insert(
        &key(DISCOVERY, index),
        encode(change, &board.discoveries()[index as usize]),
    );
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

/// Reads a value back, raising `last_change` to the change that wrote it. A value
/// written before changes were numbered is bare JSON (it starts with `{`, never a
/// change number's first byte) and counts as change 0.
fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
    last_change: &mut u64,
) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: what.into(),
        reason,
    };
    let json = match bytes.first() {
        Some(b'{') => bytes,
        _ => {
            let (change, json) = bytes
                .split_first_chunk::<8>()
                .ok_or_else(|| corrupt(format!("a record of {} bytes", bytes.len())))?;
            *last_change = (*last_change).max(u64::from_be_bytes(*change));
            json
        }
    };
    serde_json::from_slice(json).map_err(|err| corrupt(err.to_string()))
}
