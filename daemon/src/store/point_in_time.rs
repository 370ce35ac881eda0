//! A read of the whole store as it was at one change, made without the state lock: a
//! snapshot of a large board reads for seconds, and writers must not wait for it.
//! While a read runs, each write first keeps the records it replaces (one lookup per
//! written key, under the lock the write holds anyway); the read then puts those back
//! over what it found, and so sees the database as it was when it began.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::core::Board;

use super::{decode, StoreError, ATTEMPT, DISCOVERY, META, TASK};

/// What one read needs kept: the records as they were before the writes since it
/// began (`None`: the record did not exist).
#[derive(Default)]
struct Before {
    records: HashMap<Vec<u8>, Option<sled::IVec>>,
    /// Everything was written again (a load, a delete): the read is no longer of
    /// one moment.
    replaced: bool,
}

/// The reads under way.
#[derive(Default)]
pub(super) struct Reads(Vec<Arc<Mutex<Before>>>);

impl Reads {
    /// Keeps, for each read under way, the records `keys` hold now, before a write
    /// replaces them.
    pub(super) fn keep<'a>(
        &self,
        db: &sled::Db,
        keys: impl Iterator<Item = &'a [u8]> + Clone,
    ) -> Result<(), sled::Error> {
        for read in &self.0 {
            let mut before = read.lock().expect("read lock");
            for key in keys.clone() {
                if !before.records.contains_key(key) {
                    let record = db.get(key)?;
                    before.records.insert(key.to_vec(), record);
                }
            }
        }
        Ok(())
    }

    /// Every record is about to be written again.
    pub(super) fn replaced(&self) {
        for read in &self.0 {
            read.lock().expect("read lock").replaced = true;
        }
    }

    pub(super) fn begin(&mut self, db: &sled::Db, change: u64) -> PointInTime {
        let before = Arc::<Mutex<Before>>::default();
        self.0.push(before.clone());
        PointInTime {
            db: db.clone(),
            before,
            change,
        }
    }

    pub(super) fn end(&mut self, read: &PointInTime) {
        self.0.retain(|other| !Arc::ptr_eq(other, &read.before));
    }
}

/// A read of the store as it was at one change.
pub struct PointInTime {
    db: sled::Db,
    before: Arc<Mutex<Before>>,
    change: u64,
}

impl PointInTime {
    /// The number of the last change the read holds.
    pub fn change(&self) -> u64 {
        self.change
    }

    /// The board as it was stored at [`PointInTime::change`].
    pub fn read(&self) -> Result<Board, StoreError> {
        let mut records = BTreeMap::new();
        for entry in self.db.iter() {
            let (key, value) = entry?;
            records.insert(key.to_vec(), value);
        }
        {
            let before = self.before.lock().expect("read lock");
            if before.replaced {
                return Err(StoreError::Overtaken);
            }
            for (key, record) in &before.records {
                match record {
                    Some(value) => records.insert(key.clone(), value.clone()),
                    None => records.remove(key),
                };
            }
        }
        let mut last_change = 0;
        let mut meta = None;
        let (mut tasks, mut discoveries, mut attempts) = (Vec::new(), Vec::new(), Vec::new());
        for (key, value) in &records {
            match key.first() {
                _ if key.as_slice() == META => {
                    meta = Some(decode("settings", value, &mut last_change)?);
                }
                Some(&TASK) => tasks.push(decode("task", value, &mut last_change)?),
                Some(&DISCOVERY) => discoveries.push(decode("discovery", value, &mut last_change)?),
                Some(&ATTEMPT) => attempts.push(decode("attempt record", value, &mut last_change)?),
                _ => {}
            }
        }
        let meta = meta.unwrap_or_else(|| Board::default().meta());
        Board::restore(meta, tasks, discoveries, attempts).map_err(|err| StoreError::Corrupt {
            what: "state".into(),
            reason: err.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};

    use baton_protocol::methods::NewTask;
    use baton_protocol::TaskStatus;

    use crate::core::Board;
    use crate::orchestrator::Orchestrator;
    use crate::store::Store;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_go_on_while_a_snapshot_reads_100k_tasks_and_it_is_of_one_moment() {
        const TASKS: usize = 100_000;
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            Store::open(&dir.path().join("state"), &dir.path().join("state.check")).unwrap();
        let commit = store.group_commit(&[]).unwrap();
        let orchestrator = Orchestrator::open(store, commit).unwrap();
        let batch: Vec<NewTask> = (0..TASKS)
            .map(|i| NewTask::new(format!("task {i}")))
            .collect();
        orchestrator
            .apply(|board, now| board.add_tasks(batch, now))
            .await
            .unwrap();
        let start = orchestrator.snapshot_change();

        let reading = std::sync::Arc::new(AtomicBool::new(true));
        let snapshot = {
            let orchestrator = orchestrator.clone();
            let reading = reading.clone();
            tokio::task::spawn_blocking(move || {
                let taken = orchestrator.snapshot();
                reading.store(false, Ordering::SeqCst);
                taken
            })
        };
        // One writer claims and completes tasks, one change at a time, meanwhile.
        let mut claimed = Vec::new();
        let mut during = 0;
        while reading.load(Ordering::SeqCst) {
            let task = orchestrator
                .apply(|board, now| board.claim("writer", now))
                .await
                .unwrap()
                .expect("a ready task");
            orchestrator
                .apply(|board, now| board.complete(&task.id, Default::default(), now))
                .await
                .unwrap();
            claimed.push(task.id);
            if reading.load(Ordering::SeqCst) {
                during += 2;
            }
        }
        let (change, state) = snapshot.await.unwrap().expect("the snapshot is read");
        assert!(during > 0, "writes waited for the snapshot");

        // Of one moment: every change up to its number and none after.
        let changes = (change - start) as usize;
        let done: BTreeSet<_> = state
            .tasks
            .iter()
            .filter(|task| task.status == TaskStatus::Done)
            .map(|task| task.id.clone())
            .collect();
        let expected: BTreeSet<_> = claimed[..changes / 2].iter().cloned().collect();
        assert_eq!(done, expected, "the tasks done by change {change}");
        let held = state
            .tasks
            .iter()
            .filter(|task| task.status == TaskStatus::Claimed)
            .count();
        assert_eq!(held, changes % 2, "the tasks held at change {change}");
        assert_eq!(state.tasks.len(), TASKS);
        eprintln!(
            "{during} changes were written while the snapshot read {TASKS} tasks; it holds {changes}"
        );
        Board::from_state(state, false).expect("the snapshot restores");
    }
}
