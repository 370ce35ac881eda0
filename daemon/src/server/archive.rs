//! Boards put aside: a new goal or a reset archives the board (its state file and
//! its agents' logs) under `.baton/history/<name>/`, so nothing is lost and a new goal
//! starts from an empty board; `baton load` brings an archived board back, logs and
//! all.
//!
//! Task ids start again at task-001 on a new board, so the logs move with their
//! board: `.baton/logs` only ever holds the current board's, and `baton logs task-001`
//! never shows an older board's task-001.

use std::path::Path;

use baton_protocol::methods::ArchivedBoard;
use baton_protocol::{BatonError, CoordinationState, TaskId, TaskStatus, Workspace};

use super::state_file;

/// Writes `state` as a new archive and moves the current logs into it.
pub fn archive(
    workspace: &Workspace,
    state: &CoordinationState,
) -> Result<ArchivedBoard, BatonError> {
    let name = unused_name(workspace, state);
    let failed = |err: std::io::Error| {
        BatonError::orchestration(format!(
            "cannot archive the board in {}: {err}; nothing was changed",
            workspace.archive_dir(&name).display()
        ))
    };
    std::fs::create_dir_all(workspace.archive_logs(&name)).map_err(failed)?;
    // Until the board it was made for is replaced; a daemon killed before that finds
    // the mark at its start and undoes the archive (see `settle_pending`).
    std::fs::write(pending_mark(workspace, &name), b"").map_err(failed)?;
    state_file::write(&workspace.archive_state(&name), state)?;
    move_logs(
        &workspace.log_dir(),
        &workspace.archive_logs(&name),
        workspace,
    )
    .map_err(failed)?;
    Ok(describe(workspace, &name, state))
}

/// Takes the mark off the archive `name` once its board was replaced.
pub fn settled(workspace: &Workspace, name: &str) {
    if let Err(err) = std::fs::remove_file(pending_mark(workspace, name)) {
        tracing::warn!("the archive {name} stays marked as pending: {err}");
    }
}

/// Settles the archives a daemon killed while it put a board aside left marked: the
/// board `current` (as the store kept it) is still the one archived, so its logs come
/// back and the archive goes; or it was replaced, and the archive stays. Answers the
/// archives that stay, each with its tasks, whose branches may not have moved aside
/// yet: the caller moves them, then takes the mark off (`settled`).
pub fn settle_pending(
    workspace: &Workspace,
    current: impl FnOnce() -> CoordinationState,
) -> Vec<(String, Vec<TaskId>)> {
    let Ok(entries) = std::fs::read_dir(workspace.history_dir()) else {
        return Vec::new();
    };
    let pending: Vec<String> = entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .filter(|name| pending_mark(workspace, name).exists())
        .collect();
    if pending.is_empty() {
        // Not read otherwise: a large board's copy is costly.
        return Vec::new();
    }
    let current = current();
    let mut kept = Vec::new();
    for name in pending {
        match state_file::read(&workspace.archive_state(&name)) {
            Ok(archived) if !same_board(&archived, &current) => {
                let tasks = archived.tasks.into_iter().map(|task| task.id).collect();
                kept.push((name, tasks));
            }
            _ => {
                if let Err(err) = restore_logs(workspace, &name) {
                    tracing::warn!("{}", err.message);
                }
            }
        }
    }
    kept
}

/// Whether two states are one board: the same goal, plan, tasks at the same
/// statuses, and discoveries.
fn same_board(one: &CoordinationState, other: &CoordinationState) -> bool {
    let tasks = |state: &CoordinationState| {
        (state.tasks.iter())
            .map(|task| (task.id.clone(), task.status))
            .collect::<Vec<_>>()
    };
    one.goal == other.goal
        && one.master_plan == other.master_plan
        && one.discoveries.len() == other.discoveries.len()
        && tasks(one) == tasks(other)
}

fn pending_mark(workspace: &Workspace, name: &str) -> std::path::PathBuf {
    workspace.archive_dir(name).join(".pending")
}

/// The archive whose state file `loaded` is, if it is one.
pub fn archive_of(workspace: &Workspace, loaded: &Path) -> Option<String> {
    let loaded = loaded.canonicalize().ok()?;
    let history = workspace.history_dir();
    let name = loaded
        .parent()
        .filter(|dir| dir.parent() == Some(history.as_path()))?
        .file_name()?
        .to_str()?;
    (workspace.archive_state(name) == loaded).then(|| name.to_owned())
}

/// Moves the archive `name`'s logs back into `.baton/logs` once its board is loaded,
/// and takes it out of the history: it is the current board again.
pub fn restore_logs(workspace: &Workspace, name: &str) -> Result<(), BatonError> {
    let failed = |err: std::io::Error| {
        BatonError::orchestration(format!(
            "the board was loaded, but its logs could not be brought back from {}: {err}",
            workspace.archive_logs(name).display()
        ))
    };
    let archived = workspace.archive_logs(name);
    std::fs::create_dir_all(workspace.log_dir()).map_err(failed)?;
    move_logs(&archived, &workspace.log_dir(), workspace).map_err(failed)?;
    std::fs::remove_dir_all(workspace.archive_dir(name)).map_err(failed)
}

/// The archived boards, newest first: by name, which starts with when each was
/// archived (see [`unused_name`]). An archive that cannot be read is left out.
pub fn history(workspace: &Workspace) -> Vec<ArchivedBoard> {
    let Ok(entries) = std::fs::read_dir(workspace.history_dir()) else {
        return Vec::new();
    };
    let mut boards: Vec<ArchivedBoard> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_str()?.to_owned();
            if pending_mark(workspace, &name).exists() {
                return None;
            }
            let state = state_file::read(&workspace.archive_state(&name)).ok()?;
            Some(describe(workspace, &name, &state))
        })
        .collect();
    boards.sort_by(|a, b| b.name.cmp(&a.name));
    boards
}

/// Whether a board holds anything worth keeping.
pub fn has_work(state: &CoordinationState) -> bool {
    !state.tasks.is_empty() || !state.discoveries.is_empty()
}

/// Whether a board has finished work, which a new goal archives.
pub fn has_finished_work(state: &CoordinationState) -> bool {
    state.tasks.iter().any(|task| task.status.is_finished())
}

/// The same board, emptied: no goal, plan, task or discovery; the configuration kept.
pub fn emptied(state: &CoordinationState) -> CoordinationState {
    CoordinationState {
        goal: String::new(),
        master_plan: String::new(),
        tasks: Vec::new(),
        discoveries: Vec::new(),
        attempts: Vec::new(),
        created_at: None,
        last_activity: None,
        ..state.clone()
    }
}

fn describe(workspace: &Workspace, name: &str, state: &CoordinationState) -> ArchivedBoard {
    let count = |status: TaskStatus| {
        state
            .tasks
            .iter()
            .filter(|task| task.status == status)
            .count()
    };
    ArchivedBoard {
        name: name.to_owned(),
        path: workspace.archive_state(name).display().to_string(),
        goal: state.goal.clone(),
        tasks: state.tasks.len(),
        done: count(TaskStatus::Done),
        failed: count(TaskStatus::Failed),
        cancelled: count(TaskStatus::Cancelled),
        discoveries: state.discoveries.len(),
    }
}

/// The longest a name's words may be: a directory's name, and a part of the name
/// of each branch the board kept, which git and the file system bound.
const SLUG_LIMIT: usize = 48;

/// `20261201-221500.123456-add-user-accounts`: when, to the microsecond, then the
/// goal's first words; a number is added when that name is taken. The time has a
/// fixed width, so that names sort as their boards were archived, several in one
/// second too; an older name without the microseconds (`20261201-221500-add-…`)
/// sorts before a newer one of the same second, since `-` comes before `.`.
fn unused_name(workspace: &Workspace, state: &CoordinationState) -> String {
    let slug = slug(&state.goal);
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S%.6f");
    let base = match slug.is_empty() {
        true => format!("{stamp}-board"),
        false => format!("{stamp}-{slug}"),
    };
    (1..)
        .map(|n| match n {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .find(|name| !workspace.archive_dir(name).exists())
        .expect("a free name")
}

/// The goal's first words, in lower case, joined by `-`, at most `SLUG_LIMIT` long.
fn slug(goal: &str) -> String {
    let words = goal
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .take(6)
        .collect::<Vec<_>>()
        .join("-")
        .to_ascii_lowercase();
    // ASCII alone: any cut is at a character's end.
    words[..words.len().min(SLUG_LIMIT)]
        .trim_end_matches('-')
        .to_owned()
}

/// Moves the agents' logs (`tasks/`, the leader's and the summary's) and the runs'
/// reports from one logs directory to another; the daemon's own log stays.
fn move_logs(from: &Path, to: &Path, workspace: &Workspace) -> std::io::Result<()> {
    let names = [
        workspace.task_logs_dir(),
        workspace.leader_log(),
        workspace.summary_log(),
        workspace.reports_dir(),
    ];
    for current in names {
        let Some(name) = current.file_name() else {
            continue;
        };
        let source = from.join(name);
        if source.exists() {
            let target = to.join(name);
            if target.is_dir() {
                std::fs::remove_dir_all(&target)?;
            }
            std::fs::rename(&source, &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_lists_the_newest_board_first_when_several_were_archived_in_one_second() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::at(dir.path()).unwrap();
        // Archived in the order their names would sort last.
        let goals = ["c goal", "b goal", "a goal"];
        for goal in goals {
            let state = CoordinationState {
                goal: goal.to_owned(),
                ..crate::core::Board::default().state()
            };
            let archived = archive(&workspace, &state).unwrap();
            settled(&workspace, &archived.name);
        }
        let listed: Vec<String> = history(&workspace)
            .into_iter()
            .map(|board| board.goal)
            .collect();
        assert_eq!(listed, ["a goal", "b goal", "c goal"]);
    }

    #[test]
    fn an_archive_a_killed_daemon_left_pending_is_undone_or_kept_by_the_board_it_finds() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = Workspace::at(dir.path()).unwrap();
        let log = workspace.task_logs_dir().join("task-001.log");
        let board = CoordinationState {
            goal: "the board archived".into(),
            ..crate::core::Board::default().state()
        };
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(&log, "its work\n").unwrap();

        // Killed before the board was replaced: it is still the board found.
        archive(&workspace, &board).unwrap();
        assert!(!log.exists());
        assert!(
            history(&workspace).is_empty(),
            "a pending archive is not listed"
        );
        assert!(settle_pending(&workspace, || board.clone()).is_empty());
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "its work\n");
        assert!(history(&workspace).is_empty());

        // Killed after: another board is found, and the archive is kept.
        let archived = archive(&workspace, &board).unwrap();
        let next = crate::core::Board::default().state();
        let kept = settle_pending(&workspace, || next);
        assert_eq!(kept, [(archived.name.clone(), Vec::new())]);
        settled(&workspace, &archived.name);
        assert!(!log.exists());
        let listed: Vec<String> = history(&workspace).into_iter().map(|b| b.name).collect();
        assert_eq!(listed, std::slice::from_ref(&archived.name));
        assert!(workspace
            .archive_logs(&archived.name)
            .join("tasks/task-001.log")
            .exists());
    }

    #[test]
    fn a_name_holds_the_goal_s_first_words_and_no_more_than_fits() {
        assert_eq!(
            slug("Add user accounts, with JWT!"),
            "add-user-accounts-with-jwt"
        );
        assert_eq!(slug("用户 accounts"), "accounts");
        let long = format!("{} rest", "x".repeat(300));
        assert_eq!(slug(&long), "x".repeat(SLUG_LIMIT));
        let cut_after_a_word = format!("{} {}", "a".repeat(SLUG_LIMIT - 1), "b".repeat(10));
        assert_eq!(slug(&cut_after_a_word), "a".repeat(SLUG_LIMIT - 1));
    }
}
