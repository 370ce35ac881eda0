//! Snapshots: the whole state as `baton save` writes it, kept in
//! `.baton/snapshots/` after each run and every few hundred changes, the newest few
//! kept. A damaged store is brought back from one by `baton restore`, losing only
//! the changes after it.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use baton_protocol::CoordinationState;
use tokio::sync::watch;

use super::group_commit::{GroupCommit, Ticket};
use crate::core::Board;

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

/// One snapshot on disk: `<change>-<crc>.json`, the number of the last change it
/// holds and the CRC-32 of its bytes, so that a snapshot damaged on disk is told from a
/// whole one before it is restored (`<change>.json`, without the CRC, was written
/// before snapshots carried one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Snapshot {
    pub change: u64,
    pub path: PathBuf,
    pub checksum: Option<u32>,
}

impl Snapshot {
    /// The snapshot named `name`, if it is one.
    fn named(dir: &Path, name: &str) -> Option<Snapshot> {
        let stem = name.strip_suffix(".json")?;
        let (change, checksum) = match stem.split_once('-') {
            Some((change, checksum)) if checksum.len() == 8 => {
                (change, Some(u32::from_str_radix(checksum, 16).ok()?))
            }
            Some(_) => return None,
            None => (stem, None),
        };
        Some(Snapshot {
            change: change.parse().ok()?,
            path: dir.join(name),
            checksum,
        })
    }

    /// The snapshot's bytes, refusing a link (the directory is the daemon's, and what
    /// it holds is never followed elsewhere) and bytes that are not those written.
    pub fn read(&self) -> Result<Vec<u8>, String> {
        let mut file = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&self.path)
            .map_err(|err| match err.raw_os_error() {
                Some(libc::ELOOP) => "it is a symbolic link, not a snapshot baton wrote".into(),
                _ => err.to_string(),
            })?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|err| err.to_string())?;
        match self.checksum {
            Some(checksum) if crc32fast::hash(&bytes) != checksum => Err(format!(
                "it is damaged: its bytes do not match the checksum {checksum:08x} in its name"
            )),
            Some(_) => Ok(bytes),
            // Written before snapshots carried a checksum: JSON at least.
            None => match serde_json::from_slice::<serde::de::IgnoredAny>(&bytes) {
                Ok(_) => Ok(bytes),
                Err(err) => Err(format!("it is damaged: it is not JSON ({err})")),
            },
        }
    }
}

impl Snapshot {
    /// The board the snapshot holds: its bytes as written, and a state baton takes.
    /// A snapshot that is not one is no evidence of what the store should hold.
    pub fn board(&self) -> Result<Board, String> {
        let bytes = self.read()?;
        let state: CoordinationState = serde_json::from_slice(&bytes)
            .map_err(|err| format!("not a baton state file: {err}"))?;
        let mut board = Board::default();
        board
            .load(state, chrono::Utc::now())
            .map_err(|err| err.message)?;
        Ok(board)
    }
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

    /// Every snapshot, oldest first: the files named as snapshots, not links to them.
    pub fn list(&self) -> Vec<Snapshot> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<Snapshot> = entries
            .filter_map(Result::ok)
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .filter_map(|entry| Snapshot::named(&self.dir, entry.file_name().to_str()?))
            .collect();
        found.sort();
        found
    }

    pub fn latest(&self) -> Option<Snapshot> {
        self.list().pop()
    }

    /// The newest snapshot that holds a board, as `baton restore` would bring back.
    pub fn newest_whole(&self) -> Option<Snapshot> {
        self.list()
            .into_iter()
            .rev()
            .find(|snapshot| snapshot.board().is_ok())
    }

    /// Writes a snapshot (private, synced, renamed into place) and deletes the
    /// oldest beyond the few kept. A snapshot that could not be written whole leaves
    /// nothing behind.
    pub fn write(&self, change: u64, state: &CoordinationState) -> std::io::Result<Snapshot> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        // The directory was checked at start; a link put in its place since is not
        // followed with the whole state.
        if std::fs::symlink_metadata(&self.dir)?.is_symlink() {
            return Err(baton_protocol::private::link_refused(&self.dir));
        }
        let temporary = self.dir.join(format!(".{change:012}.json.partial"));
        let written = write_summed(&temporary, state);
        let checksum = match written {
            Ok(checksum) => checksum,
            Err(err) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(err);
            }
        };
        let name = format!("{change:012}-{checksum:08x}.json");
        let path = self.dir.join(&name);
        std::fs::rename(&temporary, &path)?;
        let all = self.list();
        for old in &all[..all.len().saturating_sub(KEEP)] {
            let _ = std::fs::remove_file(&old.path);
        }
        Ok(Snapshot {
            change,
            path,
            checksum: Some(checksum),
        })
    }
}

/// Writes `state` as JSON to a new private file at `path` (whatever was there is
/// removed first, and a link planted there is not followed) and syncs it; answers
/// the CRC-32 of what it wrote.
fn write_summed(path: &Path, state: &CoordinationState) -> std::io::Result<u32> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    let mut summed = Summed {
        inner: std::io::BufWriter::new(file),
        hasher: crc32fast::Hasher::new(),
    };
    serde_json::to_writer(&mut summed, state)?;
    let file = summed.inner.into_inner().map_err(|err| err.into_error())?;
    file.sync_all()?;
    Ok(summed.hasher.finalize())
}

/// A writer that sums what goes through it.
struct Summed<W> {
    inner: W,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
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
    fn a_link_put_in_place_of_the_directory_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let snapshots = dir.path().join("snapshots");
        std::os::unix::fs::symlink(elsewhere.path(), &snapshots).unwrap();
        let err = Snapshots::new(&snapshots)
            .write(1, &crate::core::Board::default().state())
            .unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

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
