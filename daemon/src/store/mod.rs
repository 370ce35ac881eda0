//! The store: the only code that touches sled. It persists what the core decided,
//! each operation atomically (one record as one insert, several as one batch), and
//! makes writes durable by group commit: many operations share one flush, and each
//! waits until a flush has covered it.

pub mod group_commit;

pub use group_commit::GroupCommit;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use baton_protocol::methods::{StateChange, StateChangeReason};
use baton_protocol::{Discovery, Event, Task, TaskId};

use crate::core::{Board, Meta};

const META: &[u8] = b"meta";
const TASK: u8 = b't';
const DISCOVERY: u8 = b'd';

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state database at {path} cannot be used: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("writing the state failed: {0}")]
    Write(#[from] sled::Error),
    #[error("the state database holds an unreadable {what}: {reason}")]
    Corrupt { what: String, reason: String },
}

/// The workspace's sled database.
pub struct Store {
    db: sled::Db,
    /// How many discoveries are stored; they are keyed by their position.
    discoveries: u64,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(8 * 1024 * 1024)
            // Durability is ours to decide: group commit flushes when a reply waits.
            .flush_every_ms(None)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        Ok(Store { db, discoveries: 0 })
    }

    /// The flusher for this database.
    pub fn group_commit(&self) -> GroupCommit {
        GroupCommit::new(self.db.clone())
    }

    /// Reads the whole board back. An empty database gives an empty board.
    pub fn load(&mut self) -> Result<Board, StoreError> {
        // Tasks can be stored before any setting is (a workspace never initialised).
        let meta: Meta = match self.db.get(META)? {
            Some(bytes) => decode("settings", &bytes)?,
            None => Board::default().meta(),
        };
        let tasks: Vec<Task> = self.read_prefix(TASK, "task")?;
        let discoveries: Vec<Discovery> = self.read_prefix(DISCOVERY, "discovery")?;
        self.discoveries = discoveries.len() as u64;
        Board::restore(meta, tasks, discoveries).map_err(|err| StoreError::Corrupt {
            what: "state".into(),
            reason: err.message,
        })
    }

    fn read_prefix<T: serde::de::DeserializeOwned>(
        &self,
        prefix: u8,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.db
            .scan_prefix([prefix])
            .map(|entry| {
                let (_, bytes) = entry?;
                decode(what, &bytes)
            })
            .collect()
    }

    /// Writes, atomically, everything `events` changed on `board`.
    pub fn persist(&mut self, board: &Board, events: &[Event]) -> Result<(), StoreError> {
        // A deleted task moves every later task up one place, and tasks are keyed by
        // their place: like a load, that rewrites everything (deletes are rare).
        let rewritten = events.iter().any(|event| {
            matches!(
                event,
                Event::StateChanged(StateChange {
                    reason: StateChangeReason::Load
                }) | Event::TaskDeleted(_)
            )
        });
        if rewritten {
            return self.replace_all(board);
        }
        let mut tasks = BTreeSet::new();
        let mut new_discoveries = 0;
        let mut settings = false;
        for event in events {
            match event {
                Event::TaskCreated(task)
                | Event::TaskUpdated(task)
                | Event::TaskCompleted(task)
                | Event::TaskFailed(task) => {
                    tasks.insert(&task.id);
                }
                Event::Discovery(_) => new_discoveries += 1,
                Event::StateChanged(_) => settings = true,
                // Rewritten above.
                Event::TaskDeleted(_)
                | Event::AgentActivity(_)
                | Event::RunStarted(_)
                | Event::RunFinished(_) => {}
            }
        }
        let stored = board.discoveries().len() as u64;
        let mut writes: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(tasks.len() + 2);
        for id in tasks {
            let seq = board.seq(id).expect("a changed task is on the board");
            let task = board.task(id).expect("a changed task is on the board");
            writes.push((key(TASK, seq).to_vec(), encode(task)));
        }
        for index in stored - new_discoveries..stored {
            let discovery = &board.discoveries()[index as usize];
            writes.push((key(DISCOVERY, index).to_vec(), encode(discovery)));
        }
        // The settings change only with the goal, the plan, the configuration or
        // dispatch; when they were last active is read back from the tasks.
        if settings {
            writes.push((META.to_vec(), encode(&board.meta())));
        }
        // One key goes in as one insert; more, atomically as a batch (a batch costs
        // sled two log syncs of its own, an insert none: group commit syncs).
        match writes.len() {
            0 => {}
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
        Ok(())
    }

    /// Replaces everything stored with `board`, atomically.
    fn replace_all(&mut self, board: &Board) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for key in self.db.iter().keys() {
            batch.remove(key?);
        }
        for task in board.tasks(None) {
            put_task(&mut batch, board, &task.id);
        }
        let stored = board.discoveries().len() as u64;
        for index in 0..stored {
            put_discovery(&mut batch, board, index);
        }
        batch.insert(META, encode(&board.meta()));
        self.db.apply_batch(batch)?;
        self.discoveries = stored;
        Ok(())
    }
}

fn put_task(batch: &mut sled::Batch, board: &Board, id: &TaskId) {
    let seq = board.seq(id).expect("a changed task is on the board");
    let task = board.task(id).expect("a changed task is on the board");
    batch.insert(&key(TASK, seq), encode(task));
}

fn put_discovery(batch: &mut sled::Batch, board: &Board, index: u64) {
    batch.insert(
        &key(DISCOVERY, index),
        encode(&board.discoveries()[index as usize]),
    );
}

/// A prefix byte, then the position big-endian, so that keys sort in creation order.
fn key(prefix: u8, position: u64) -> [u8; 9] {
    let mut key = [prefix; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("state types serialize")
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|err| StoreError::Corrupt {
        what: what.into(),
        reason: err.to_string(),
    })
}
