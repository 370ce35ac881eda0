//! Snapshots: the whole state as `baton save` writes it, kept in
//! `.baton/snapshots/` after each run and every few hundred changes, the newest few
//! kept. A damaged store is brought back from one by `baton restore`, losing only
//! the changes after it.

use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use baton_protocol::CoordinationState;
use tokio::sync::watch;

use super::group_commit::{GroupCommit, Ticket};

/// The fewest changes between two snapshots: a damaged store loses at most this many
/// on a small board.
pub const EVERY: u64 = 500;

/// Changes between two snapshots of a board of `tasks`. A snapshot costs time in
/// proportion to the tasks (a copy of each under the state lock, then its JSON), so on a
/// large board snapshots are spaced by as many changes as it has tasks: each change
/// then pays a constant share (about one task's worth of snapshot, as much as a claim
/// writes) whatever the board's size. Spaced by a tenth of the tasks, snapshots took
/// about half the daemon's CPU in claim+complete pairs on 40,000 tasks.
pub fn every(tasks: usize) -> u64 {
    EVERY.max(tasks as u64)
}

/// How many snapshots are kept; older ones are deleted.
const KEEP: usize = 5;

/// One snapshot on disk: `<change>.json`, the number of the last change it holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Snapshot {
    pub change: u64,
    pub path: PathBuf,
}

/// The workspace's snapshot directory.
pub struct Snapshots {
    dir: PathBuf,
}

impl Snapshots {
    pub fn new(dir: &Path) -> Snapshots {
        Snapshots {
            dir: dir.to_owned(),
        }
    }

    /// Every snapshot, oldest first.
    pub fn list(&self) -> Vec<Snapshot> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<Snapshot> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                let name = path.file_name()?.to_str()?;
                let change = name.strip_suffix(".json")?.parse().ok()?;
                Some(Snapshot { change, path })
            })
            .collect();
        found.sort();
        found
    }

    pub fn latest(&self) -> Option<Snapshot> {
        self.list().pop()
    }

    /// Writes a snapshot (private, synced, renamed into place) and deletes the
    /// oldest beyond the few kept.
    pub fn write(&self, change: u64, state: &CoordinationState) -> std::io::Result<Snapshot> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let path = self.dir.join(format!("{change:012}.json"));
        let temporary = self.dir.join(format!(".{change:012}.json.partial"));
        let mut file = std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        serde_json::to_writer(std::io::BufWriter::new(&mut file), state)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        let all = self.list();
        for old in &all[..all.len().saturating_sub(KEEP)] {
            let _ = std::fs::remove_file(&old.path);
        }
        Ok(Snapshot { change, path })
    }
}

/// What the keeper hears after each durable operation: enough to tell whether a
/// snapshot is due without reading the state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The number of the last change written.
    pub change: u64,
    /// The tasks on the board after it.
    pub tasks: usize,
    /// How many runs have ended since the daemon started.
    pub runs_ended: u64,
}

impl Progress {
    /// Whether a snapshot is due at `self`, the last one having been taken at
    /// change `taken`: something changed since, and a run ended (`run_ended`) or
    /// [`every`] changes went by.
    pub fn due(&self, taken: u64, run_ended: bool) -> bool {
        self.change != taken && (run_ended || self.change >= taken + every(self.tasks))
    }
}

/// The change the last snapshot holds, written by the keeper and read by whoever
/// tells it of progress, so that the keeper is woken when a snapshot is due rather
/// than by every flush: a wake per flush cost about a tenth of the durable writes a
/// second with one request in flight per client.
#[derive(Clone)]
pub struct Taken(Arc<AtomicU64>);

impl Taken {
    /// As if a snapshot had been taken at `change`.
    pub fn at(change: u64) -> Taken {
        Taken(Arc::new(AtomicU64::new(change)))
    }

    /// The change the last snapshot holds.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, change: u64) {
        self.0.store(change, Ordering::Relaxed);
    }
}

/// Copies the whole state as `save` writes it, with the number of the last change it
/// holds and the ticket that change is durable with; the state's owner gives it, so
/// the keeper depends on nothing outside the store.
pub type Take = Arc<dyn Fn() -> (u64, CoordinationState, Ticket) + Send + Sync>;

/// Writes a snapshot after each run and every [`every`] changes, for the daemon's
/// life, as `progress` tells of them (it is told when one may be due, from `taken`,
/// which the keeper moves as it takes each); a burst of changes while it looks is
/// one look. A snapshot holds only durable changes: it is written once `commit` has
/// made its last one durable. A snapshot that cannot be written is logged; the store
/// itself is unharmed.
pub async fn keep(
    mut progress: watch::Receiver<Progress>,
    taken: Taken,
    take: Take,
    commit: GroupCommit,
    snapshots: Snapshots,
) {
    let snapshots = Arc::new(snapshots);
    let mut runs_ended = progress.borrow_and_update().runs_ended;
    while progress.changed().await.is_ok() {
        let now = *progress.borrow_and_update();
        let run_ended = now.runs_ended != runs_ended;
        runs_ended = now.runs_ended;
        if !now.due(taken.get(), run_ended) {
            continue;
        }
        taken.set(now.change);
        let started = std::time::Instant::now();
        let take = take.clone();
        let Ok((change, state, ticket)) = tokio::task::spawn_blocking(move || take()).await else {
            tracing::warn!("the snapshot thread failed");
            continue;
        };
        let copied = started.elapsed();
        if commit.durable(ticket).await.is_err() {
            return;
        }
        let writing = snapshots.clone();
        let written = tokio::task::spawn_blocking(move || writing.write(change, &state)).await;
        match written {
            Ok(Ok(snapshot)) => tracing::info!(
                "snapshot {} written in {:?} (the board copied under the state lock in {copied:?})",
                snapshot.path.display(),
                started.elapsed()
            ),
            Ok(Err(err)) => tracing::warn!("writing a snapshot failed: {err}"),
            Err(err) => tracing::warn!("the snapshot thread failed: {err}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_spaced_by_500_changes_or_as_many_as_the_tasks() {
        assert_eq!(every(0), 500);
        assert_eq!(every(500), 500);
        assert_eq!(every(5_000), 5_000);
        assert_eq!(every(100_000), 100_000);
    }

    #[test]
    fn a_snapshot_is_due_after_a_run_or_every_few_hundred_changes_never_for_nothing() {
        let at = |change, tasks| Progress {
            change,
            tasks,
            runs_ended: 0,
        };
        assert!(!at(499, 10).due(0, false), "499 changes on a small board");
        assert!(at(500, 10).due(0, false), "500 changes on a small board");
        assert!(
            !at(100_999, 100_000).due(1_000, false),
            "100,000 tasks, fewer changes"
        );
        assert!(
            at(101_000, 100_000).due(1_000, false),
            "100,000 tasks, as many changes"
        );
        assert!(at(1, 10).due(0, true), "a run ended after one change");
        assert!(
            !at(7, 10).due(7, true),
            "a run ended with nothing changed since"
        );
    }
}
