//! `baton restore`: replace the store with a snapshot or a file `baton save` wrote,
//! keeping the old store aside, and say what is lost.

use std::path::{Path, PathBuf};

use baton_protocol::CoordinationState;

use super::check::Expected;
use super::snapshots::{Snapshot, Snapshots};
use super::{tasks_and_discoveries, Store, StoreError};
use crate::core::Board;

/// Why a restore did not happen; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("there is no snapshot in {0} yet; `baton restore --from FILE` brings back a file written by `baton save`")]
    NoSnapshot(PathBuf),
    #[error("no snapshot in {dir} reads whole (the oldest, {oldest}: {reason}); `baton restore --from FILE` brings back a file written by `baton save`; nothing was changed")]
    NoWholeSnapshot {
        dir: PathBuf,
        oldest: PathBuf,
        reason: String,
    },
    #[error("the state is not damaged: it opens whole, and restoring {from} would lose every change after it; `baton load FILE` brings a saved file back keeping the current board in `baton history`, and `baton restore --yes` restores all the same; nothing was changed")]
    NotDamaged { from: PathBuf },
    #[error("cannot read {path}: {reason}; nothing was changed")]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot keep the old store aside as {path}: {source}; nothing was changed")]
    Aside {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("an unfinished restore left {path}, and it cannot be removed: {source}; nothing was changed")]
    Leftover {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot move the restored store into {path}: {source}; the old store is kept aside, and `baton restore` again finishes the restore")]
    SwapIn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the workspace keeps its store, its check record and its snapshots.
pub struct Paths<'a> {
    /// The sled database directory (`.baton/state`).
    pub state: &'a Path,
    /// Its check record.
    pub check: &'a Path,
    pub snapshots: &'a Path,
}

/// Replaces the store at `paths.state` with `from` (by default the newest snapshot);
/// answers a sentence saying what was restored and what is lost. The caller holds the
/// workspace lock.
pub fn restore(paths: &Paths, from: Option<&Path>, yes: bool) -> Result<String, RestoreError> {
    let snapshots = Snapshots::new(paths.snapshots);
    if from.is_none() && !yes {
        if let Some(said) = rewrite_check_record(paths, &snapshots)? {
            return Ok(said);
        }
    }
    let Chosen {
        source,
        snapshot,
        board,
        passed_over,
    } = match from {
        Some(path) => named(&snapshots, path)?,
        None => newest_whole(&snapshots, paths.snapshots)?,
    };
    // A store that opens whole holds every acknowledged change: replacing it is the
    // user's choice to make, not a repair.
    if opens_whole(paths, &snapshots)? && !yes {
        return Err(RestoreError::NotDamaged { from: source });
    }

    let expected = super::check::CheckFile::open(paths.check)
        .ok()
        .and_then(|(_, expected)| expected);
    // Changes go on numbering after every change known, so that snapshots written
    // from now on sort after the older ones.
    let known = snapshots
        .latest()
        .map(|snapshot| snapshot.change)
        .into_iter()
        .chain(expected.map(|expected| expected.change))
        .max()
        .unwrap_or(0);
    // The new store is written beside the old one and swapped in only once durable:
    // a restore that fails (a full disk) leaves everything as it was.
    let staging = sibling(paths.state, "restoring");
    let staging_check = sibling(paths.check, "restoring");
    remove_leftover(&staging)?;
    remove_leftover(&staging_check)?;
    let restored = {
        let mut store = Store::open(&staging, &staging_check)?;
        store.replace_durably(&board, known)?
    };
    let aside = keep_aside(paths.state)?;
    swap_in(&staging, paths.state)?;
    // A check record that is not a file (unreadable as one) is kept aside too.
    if paths.check.exists() && !paths.check.is_file() {
        keep_aside(paths.check)?;
    }
    swap_in(&staging_check, paths.check)?;
    let mut said = describe(
        &source,
        snapshot.map(|snapshot| snapshot.change),
        &restored,
        expected,
        aside,
    );
    for (snapshot, reason) in passed_over {
        said.push_str(&format!(
            "; the newer snapshot {} was passed over: {reason}",
            snapshot.path.display()
        ));
    }
    Ok(said)
}

/// When only the check record is unreadable and the database opens whole (no less
/// than its newest whole snapshot), the database is kept and the record written
/// again from it: bringing back a snapshot would lose what came after it.
fn rewrite_check_record(
    paths: &Paths,
    snapshots: &Snapshots,
) -> Result<Option<String>, RestoreError> {
    if !paths.state.exists() || super::check::CheckFile::open(paths.check).is_ok() {
        return Ok(None);
    }
    let staging_check = sibling(paths.check, "restoring");
    remove_leftover(&staging_check)?;
    let holds = match Store::open(paths.state, &staging_check) {
        Ok(mut store) => {
            store.expect_snapshots(snapshots.list());
            store.load().ok().map(|_| store.holds())
        }
        Err(held @ StoreError::Held { .. }) => return Err(held.into()),
        Err(_) => None,
    };
    let Some(holds) = holds else {
        remove_leftover(&staging_check)?;
        return Ok(None);
    };
    let (check, _) =
        super::check::CheckFile::open(&staging_check).map_err(|source| StoreError::Check {
            path: staging_check.clone(),
            source,
        })?;
    check.write(&holds).map_err(|source| StoreError::Check {
        path: staging_check.clone(),
        source,
    })?;
    let aside = keep_aside(paths.check)?;
    swap_in(&staging_check, paths.check)?;
    Ok(Some(format!(
        "the check record was unreadable, and the database is whole: it holds {} up to change {}, no less than the newest snapshot; it is kept and the record written again: nothing is lost{}",
        tasks_and_discoveries(holds.tasks, holds.discoveries),
        holds.change,
        aside.map_or_else(String::new, |aside| format!(" (the old record is kept in {})", aside.display()))
    )))
}

/// What a restore brings back.
struct Chosen {
    source: PathBuf,
    /// The snapshot it is, if it is one.
    snapshot: Option<Snapshot>,
    board: Board,
    /// The newer snapshots that did not read whole, and why.
    passed_over: Vec<(Snapshot, String)>,
}

/// The file the user named, a snapshot or a file `baton save` wrote.
fn named(snapshots: &Snapshots, path: &Path) -> Result<Chosen, RestoreError> {
    let snapshot = snapshots
        .list()
        .into_iter()
        .find(|snapshot| same_file(&snapshot.path, path));
    let board = read_board(path, snapshot.as_ref()).map_err(|reason| RestoreError::Unreadable {
        path: path.to_owned(),
        reason,
    })?;
    Ok(Chosen {
        source: path.to_owned(),
        snapshot,
        board,
        passed_over: Vec::new(),
    })
}

/// The newest snapshot that reads whole.
fn newest_whole(snapshots: &Snapshots, dir: &Path) -> Result<Chosen, RestoreError> {
    let mut passed_over = Vec::new();
    for snapshot in snapshots.list().into_iter().rev() {
        match read_board(&snapshot.path, Some(&snapshot)) {
            Ok(board) => {
                return Ok(Chosen {
                    source: snapshot.path.clone(),
                    snapshot: Some(snapshot),
                    board,
                    passed_over,
                })
            }
            Err(reason) => passed_over.push((snapshot, reason)),
        }
    }
    match passed_over.pop() {
        None => Err(RestoreError::NoSnapshot(dir.to_owned())),
        Some((oldest, reason)) => Err(RestoreError::NoWholeSnapshot {
            dir: dir.to_owned(),
            oldest: oldest.path,
            reason,
        }),
    }
}

/// The board a snapshot or a file `baton save` wrote holds; a snapshot's bytes are
/// checked against its checksum first.
fn read_board(path: &Path, snapshot: Option<&Snapshot>) -> Result<Board, String> {
    if let Some(snapshot) = snapshot {
        return snapshot.board();
    }
    let bytes = baton_protocol::regular_file::read(path, baton_protocol::regular_file::LIMIT)
        .map_err(|err| err.to_string())?;
    let state: CoordinationState =
        serde_json::from_slice(&bytes).map_err(|err| format!("not a baton state file: {err}"))?;
    let mut board = Board::default();
    board
        .load(state, chrono::Utc::now())
        .map_err(|err| err.message)?;
    Ok(board)
}

/// Whether the store opens whole, as the daemon's start would find it: no less than
/// its check record and its newest snapshot say was written.
/// A store another process holds is neither: the restore is refused.
fn opens_whole(paths: &Paths, snapshots: &Snapshots) -> Result<bool, RestoreError> {
    if !paths.state.exists() {
        return Ok(false);
    }
    let mut store = match Store::open(paths.state, paths.check) {
        Ok(store) => store,
        Err(held @ StoreError::Held { .. }) => return Err(held.into()),
        Err(_) => return Ok(false),
    };
    store.expect_snapshots(snapshots.list());
    Ok(store.load().is_ok())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// `path` with `.suffix` added to its name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().expect("a file name").to_os_string();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

/// Removes what an earlier restore that failed midway left at `path`: never the
/// store, only its unfinished replacement.
fn remove_leftover(path: &Path) -> Result<(), RestoreError> {
    let removed = match std::fs::symlink_metadata(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    };
    removed.map_err(|source| RestoreError::Leftover {
        path: path.to_owned(),
        source,
    })
}

/// Renames the restored `staging` into `place`.
fn swap_in(staging: &Path, place: &Path) -> Result<(), RestoreError> {
    std::fs::rename(staging, place).map_err(|source| RestoreError::SwapIn {
        path: place.to_owned(),
        source,
    })
}

/// Renames the old store to `state.damaged-<time>`, so that nothing is deleted.
fn keep_aside(state: &Path) -> Result<Option<PathBuf>, RestoreError> {
    if !state.exists() {
        return Ok(None);
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let aside = sibling(state, &format!("damaged-{stamp}"));
    std::fs::rename(state, &aside).map_err(|source| RestoreError::Aside {
        path: aside.clone(),
        source,
    })?;
    Ok(Some(aside))
}

fn describe(
    source: &Path,
    snapshot_change: Option<u64>,
    restored: &Expected,
    expected: Option<Expected>,
    aside: Option<PathBuf>,
) -> String {
    let mut said = format!(
        "restored {} from {}",
        tasks_and_discoveries(restored.tasks, restored.discoveries),
        source.display()
    );
    if let Some(expected) = expected {
        said.push_str(&format!(
            "; the store had written {} up to change {}",
            tasks_and_discoveries(expected.tasks, expected.discoveries),
            expected.change
        ));
        let fewer = tasks_and_discoveries(
            expected.tasks.saturating_sub(restored.tasks),
            expected.discoveries.saturating_sub(restored.discoveries),
        );
        let holds_all =
            restored.tasks >= expected.tasks && restored.discoveries >= expected.discoveries;
        match snapshot_change {
            // A snapshot that says it is as new but holds less (one put there by
            // hand) loses what it lacks, whatever its number.
            Some(change) if change >= expected.change && !holds_all => said.push_str(&format!(
                ", but the snapshot, up to change {change}, holds less: what it lacks is lost ({fewer} fewer)"
            )),
            Some(change) if change == expected.change => {
                said.push_str(", as the snapshot does: nothing is lost")
            }
            // Written by a daemon that saw its store deleted, from what it held.
            Some(change) if change > expected.change => said.push_str(&format!(
                ", and the snapshot holds more, up to change {change}: nothing is lost"
            )),
            Some(change) if change < expected.change => said.push_str(&format!(
                ", the snapshot holds up to change {change}: {} lost ({} fewer)",
                match expected.change - change {
                    1 => "the change after it is".to_owned(),
                    n => format!("the {n} changes after it are"),
                },
                fewer,
            )),
            _ => said.push_str(&format!(
                ": what changed after the file was written is lost ({fewer} fewer)"
            )),
        }
    }
    if let Some(aside) = aside {
        said.push_str(&format!("; the old store is kept in {}", aside.display()));
    }
    said
}
