//! The orchestrator: the one owner of a workspace's board and store. Every change
//! goes through `apply`: the core decides under a short lock, the store writes the
//! records the core says changed, and the caller gets its answer once a flush has
//! made it durable. Events reach subscribers in the order they happened, and only
//! once durable.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};

use baton_protocol::{BatonError, CoordinationState, Event};
use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};

use crate::core::{Board, Events};
use crate::store::group_commit::Ticket;
use crate::store::snapshots::{Progress, Take, Taken};
use crate::store::{GroupCommit, Stopped, Store, StoreError};

/// How many operations a subscriber may fall behind by before it misses some. Each
/// connection moves them into an outbox of its own as they come, whose bound in events
/// is the one clients see (`server::forwarding`).
const EVENT_BACKLOG: usize = 1024;

struct Owned {
    board: Board,
    store: Store,
}

/// One operation's events as every subscriber receives them. What clients are sent is
/// encoded once, by the first connection that sends it, for all of them: with many
/// watchers, encoding each event for each was most of a durable write's cost.
pub struct Operation {
    events: Events,
    encoded: OnceLock<Vec<u8>>,
}

impl Operation {
    pub fn new(events: Events) -> Operation {
        Operation {
            events,
            encoded: OnceLock::new(),
        }
    }

    /// The events as `encode` makes them, made by whoever asks first.
    pub fn encoded(&self, encode: impl FnOnce(&Events) -> Vec<u8>) -> &[u8] {
        self.encoded.get_or_init(|| encode(&self.events))
    }
}

impl std::ops::Deref for Operation {
    type Target = Events;

    fn deref(&self) -> &Events {
        &self.events
    }
}

/// One operation's events, sent once the flush that covers `ticket` is done.
struct Published {
    ticket: Ticket,
    events: Events,
    /// The change written and the tasks after it, when the operation stored one.
    stored: Option<(u64, usize)>,
}

/// The workspace's state and its one way to change.
pub struct Orchestrator {
    owned: Mutex<Owned>,
    commit: GroupCommit,
    publishing: Arc<Publishing>,
}

impl Orchestrator {
    /// Opens the store and reads the board back; needs a tokio runtime.
    pub fn open(mut store: Store, commit: GroupCommit) -> Result<Arc<Orchestrator>, StoreError> {
        let board = store.load()?;
        let (events, _) = broadcast::channel(EVENT_BACKLOG);
        let (progress, _) = watch::channel(Progress {
            change: store.change(),
            tasks: board.counts().total(),
            runs_ended: 0,
        });
        let publishing = Arc::new(Publishing {
            queue: Mutex::default(),
            events,
            progress,
            taken: Taken::at(store.change()),
        });
        let after_flush = publishing.clone();
        commit.after_flush(move |durable| after_flush.send(durable));
        Ok(Arc::new(Orchestrator {
            owned: Mutex::new(Owned { board, store }),
            commit,
            publishing,
        }))
    }

    /// Runs one operation of the core. When it changed something, the change is
    /// written and durable before this returns.
    pub async fn apply<T>(
        &self,
        operation: impl FnOnce(&mut Board, DateTime<Utc>) -> Result<(T, Events), BatonError>,
    ) -> Result<T, BatonError> {
        let (value, ticket) = {
            let mut owned = self.owned.lock().expect("state lock");
            let Owned { board, store } = &mut *owned;
            let (value, events) = operation(board, Utc::now())?;
            let changes = board.take_changes();
            if events.is_empty() && changes.is_empty() {
                return Ok(value);
            }
            if let Err(err) = store.persist(board, &changes) {
                // The board is ahead of the disk now; the last durable state is the
                // truth, and a restart goes back to it.
                let stopped = Stopped::new(format!(
                    "{err}; the daemon stops so that a restart serves the durable state"
                ));
                self.commit.stop(stopped.clone());
                return Err(BatonError::orchestration(stopped.to_string()));
            }
            let stored = Some((store.change(), board.counts().total()));
            let ticket = self
                .publishing
                .queue(|| self.commit.ticket(), events, stored);
            (value, ticket)
        };
        self.commit.durable(ticket).await.map_err(|stopped| {
            // The change was written but never confirmed: it may have reached the disk.
            BatonError::orchestration(format!(
                "{stopped}; this change was written but not confirmed, so after a restart `baton tasks` shows whether it was kept (check before making it again)"
            ))
        })?;
        Ok(value)
    }

    /// Sends events that change nothing stored (agent activity, a run's start and
    /// end), in order with the changes before them.
    pub fn announce(&self, events: Events) {
        self.publishing
            .queue(|| self.commit.current(), events, None);
        // Already durable when no write is waiting: then no flush would send them.
        self.publishing.send(self.commit.durable_upto());
    }

    /// Changes what a running run knows and nothing stores (its agents' spending as
    /// it arrives, a pause, that it is finishing), under the same lock as every
    /// other change; a change that must be stored goes through `apply`.
    pub fn note<T>(&self, change: impl FnOnce(&mut Board) -> T) -> T {
        change(&mut self.owned.lock().expect("state lock").board)
    }

    /// Reads the board without changing it.
    pub fn read<T>(&self, reader: impl FnOnce(&Board) -> T) -> T {
        reader(&self.owned.lock().expect("state lock").board)
    }

    /// Every event from now on, one item per operation.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Operation>> {
        self.publishing.events.subscribe()
    }

    /// The last durable change, the tasks and the runs ended, updated as changes
    /// become durable: what the snapshot keeper watches, a burst of changes seen at
    /// once, with no event copied and no lock taken. The keeper moves the `Taken` as
    /// it takes each snapshot, and is told only when a run ended or one is due.
    pub fn progress(&self) -> (watch::Receiver<Progress>, Taken) {
        (
            self.publishing.progress.subscribe(),
            self.publishing.taken.clone(),
        )
    }

    /// How the snapshot keeper reads the state: [`Orchestrator::snapshot`].
    pub fn take(self: &Arc<Self>) -> Take {
        let orchestrator = self.clone();
        Arc::new(move || orchestrator.snapshot())
    }

    /// Waits until everything applied so far is on disk.
    pub async fn flush(&self) -> Result<(), Stopped> {
        let ticket = self.commit.ticket();
        self.commit.durable(ticket).await
    }

    /// The number of the last change written.
    pub fn snapshot_change(&self) -> u64 {
        self.owned.lock().expect("state lock").store.change()
    }

    /// The board as `save` writes it, with the number of the last change it holds
    /// and the ticket that change is durable with. Copied under the state lock, which
    /// writers wait for meanwhile (measured in docs/benchmarks.md: it is a copy of
    /// each task, cheaper than reading the store back and rebuilding a board from it,
    /// which snapshots did before); serializing and writing it is done without the lock.
    pub fn snapshot(&self) -> (u64, CoordinationState, Ticket) {
        let owned = self.owned.lock().expect("state lock");
        (
            owned.store.change(),
            owned.board.state(),
            self.commit.current(),
        )
    }
}

/// Operations waiting for their write to be durable, whose events and progress are
/// sent then, in the order the operations ran, by the thread that flushed.
struct Publishing {
    queue: Mutex<VecDeque<Published>>,
    events: broadcast::Sender<Arc<Operation>>,
    progress: watch::Sender<Progress>,
    /// Where the last snapshot was taken: progress is told only when one is due.
    taken: Taken,
}

impl Publishing {
    /// Queues `events` to be sent once the ticket `take` answers is durable. The
    /// ticket is taken under the queue's lock, so that a flush that covers it finds
    /// the events queued.
    fn queue(
        &self,
        take: impl FnOnce() -> Ticket,
        events: Events,
        stored: Option<(u64, usize)>,
    ) -> Ticket {
        let mut queue = self.queue.lock().expect("publishing lock");
        let ticket = take();
        queue.push_back(Published {
            ticket,
            events,
            stored,
        });
        ticket
    }

    /// Sends every queued operation that `durable` covers, in order.
    fn send(&self, durable: Ticket) {
        let mut queue = self.queue.lock().expect("publishing lock");
        while queue
            .front()
            .is_some_and(|published| published.ticket <= durable)
        {
            let published = queue.pop_front().expect("a queued operation");
            let runs_ended = published
                .events
                .iter()
                .filter(|event| matches!(event, Event::RunFinished(_)))
                .count() as u64;
            let _ = self.events.send(Arc::new(Operation::new(published.events)));
            self.progress.send_if_modified(|progress| {
                if let Some((change, tasks)) = published.stored {
                    progress.change = change;
                    progress.tasks = tasks;
                }
                progress.runs_ended += runs_ended;
                runs_ended > 0 || progress.due(self.taken.get(), false)
            });
        }
    }
}

/// Applies claim expiry once a second, for claims held by agents outside the daemon.
pub async fn expire_claims(orchestrator: Arc<Orchestrator>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let _ = orchestrator
            .apply(|board, now| Ok(((), board.expire_claims(now))))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicBool, Ordering};

    use baton_protocol::methods::NewTask;
    use baton_protocol::{TaskId, TaskStatus};

    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::core::Board;
    use crate::orchestrator::Orchestrator;
    use crate::store::journal::Journals;
    use crate::store::{GroupCommit, Store};

    /// Claims the most urgent ready task for `agent` and completes it; answers its id.
    async fn claim_and_complete(orchestrator: &Orchestrator, agent: &str) -> TaskId {
        let task = orchestrator
            .apply(|board, now| board.claim(agent, now))
            .await
            .unwrap()
            .expect("a ready task");
        orchestrator
            .apply(|board, now| board.complete(&task.id, Default::default(), now))
            .await
            .unwrap();
        task.id
    }

    fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &to.join(entry.file_name()));
            } else {
                std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    }

    /// A daemon's store in a directory of its own: the state directory and the check
    /// record beside it, and copies of them as a crash would leave them.
    struct Workspace {
        dir: tempfile::TempDir,
    }

    impl Workspace {
        fn new() -> Workspace {
            Workspace {
                dir: tempfile::tempdir().unwrap(),
            }
        }

        fn state(&self) -> PathBuf {
            self.dir.path().join("state")
        }

        /// An orchestrator on the store, and its group commit.
        fn open(&self) -> (Arc<Orchestrator>, GroupCommit) {
            let mut store = Store::open(&self.state(), &self.check("state")).unwrap();
            let commit = store.group_commit(&[]).unwrap();
            (Orchestrator::open(store, commit.clone()).unwrap(), commit)
        }

        fn check(&self, name: &str) -> PathBuf {
            self.dir.path().join(format!("{name}.check"))
        }

        /// A copy of the state directory as it is now, named `name`.
        fn copy(&self, name: &str) -> PathBuf {
            let copy = self.dir.path().join(name);
            copy_dir(&self.state(), &copy);
            copy
        }

        /// The board a restart on the copy `name` reads, once the journals and the
        /// check record are as they are now: a crash that left the database as it was
        /// when copied.
        fn restart_on(&self, name: &str) -> Board {
            let database = self.dir.path().join(name);
            for journal in Journals::NAMES {
                std::fs::copy(self.state().join(journal), database.join(journal)).unwrap();
            }
            std::fs::copy(self.check("state"), self.check(name)).unwrap();
            let mut store = Store::open(&database, &self.check(name)).unwrap();
            store.load().expect("the check record holds")
        }
    }

    fn ids(board: &Board) -> Vec<TaskId> {
        board.tasks(None).into_iter().map(|task| task.id).collect()
    }

    /// Adds one task per write; answers their ids.
    async fn add_one_by_one(orchestrator: &Orchestrator, tasks: usize) -> Vec<TaskId> {
        let mut added = Vec::new();
        for i in 0..tasks {
            let tasks = orchestrator
                .apply(|board, now| board.add_tasks(vec![NewTask::new(format!("task {i}"))], now))
                .await
                .unwrap();
            added.push(tasks[0].id.clone());
        }
        added
    }

    #[tokio::test]
    async fn acknowledged_writes_the_database_never_flushed_come_back_from_the_journal() {
        let workspace = Workspace::new();
        let (orchestrator, _) = workspace.open();
        // The database as it was flushed at open, before any write.
        workspace.copy("crashed");

        let added = add_one_by_one(&orchestrator, 300).await;
        for _ in 0..10 {
            claim_and_complete(&orchestrator, "worker").await;
        }
        let board = workspace.restart_on("crashed");
        assert_eq!(ids(&board), added);
        assert_eq!(board.counts().done, 10);
    }

    #[tokio::test]
    async fn the_database_written_when_the_journal_filled_and_the_journal_since_give_every_change()
    {
        let workspace = Workspace::new();
        let (orchestrator, commit) = workspace.open();
        // Enough records to fill a journal: the database gets the writes before them.
        let mut added = add_one_by_one(&orchestrator, 3000).await;
        for _ in 0..10 {
            claim_and_complete(&orchestrator, "worker").await;
        }
        // A crash now: the database as it last got writes, the journals as synced.
        commit.applied().unwrap();
        workspace.copy("crashed");
        let before = workspace.copy("before");
        let alone = workspace.copy("alone");
        for name in Journals::NAMES {
            std::fs::remove_file(alone.join(name)).unwrap();
        }
        let board = workspace.restart_on("crashed");
        assert_eq!(ids(&board), added);
        assert_eq!(board.counts().done, 10);
        // The database alone holds the first tasks, whole, and not the last.
        let mut store = Store::open(&alone, &workspace.check("alone")).unwrap();
        let stored = ids(&store.load().unwrap());
        assert!(
            !stored.is_empty() && stored.len() < added.len(),
            "the journal filled once: {} tasks in the database",
            stored.len()
        );
        assert_eq!(stored[..], added[..stored.len()]);

        // A crash as the database gets the next full journal's writes: it is as it was
        // before them, but for some it got already (the epoch it holds whole not yet
        // said), and the journals are as synced.
        added.extend(add_one_by_one(&orchestrator, 3000).await);
        commit.applied().unwrap();
        let after = workspace.copy("after");
        {
            let newer = crate::store::database(&after).open().unwrap();
            let older = crate::store::database(&before).open().unwrap();
            for entry in newer.iter().step_by(2) {
                let (key, value) = entry.unwrap();
                if key != crate::store::COVERED {
                    older.insert(key, value).unwrap();
                }
            }
            older.flush().unwrap();
        }
        let board = workspace.restart_on("before");
        assert_eq!(ids(&board), added);
        assert_eq!(board.counts().done, 10);
    }

    #[tokio::test]
    async fn a_task_deleted_before_the_database_got_it_is_not_in_the_database_after() {
        let workspace = Workspace::new();
        let (orchestrator, commit) = workspace.open();
        let added = add_one_by_one(&orchestrator, 3).await;
        orchestrator
            .apply(|board, now| board.delete(&added[1], now))
            .await
            .unwrap();
        // As the daemon stops: everything to the database, the journals started over.
        commit.checkpoint().unwrap();
        workspace.copy("stopped");
        let board = workspace.restart_on("stopped");
        assert_eq!(ids(&board), [added[0].clone(), added[2].clone()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_taken_while_tasks_are_claimed_and_completed_is_of_one_moment() {
        const TASKS: usize = 100_000;
        let workspace = Workspace::new();
        let (orchestrator, _) = workspace.open();
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
        while reading.load(Ordering::SeqCst) {
            claimed.push(claim_and_complete(&orchestrator, "writer").await);
        }
        let (change, state, _) = snapshot.await.unwrap();

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
        Board::from_state(state, false).expect("the snapshot restores");
    }
}
