//! Task branches beside archived boards. Task ids start again at task-001 on a new
//! board, so a board put aside takes its tasks' branches with it, to
//! `baton/history/<archive>/<task>` (under the workspace's prefix: see `names`)
//! beside `.baton/history/<archive>`, and loading it
//! brings them back: a new board's task never starts from, nor lands, the work an
//! older board left under its id.

use std::collections::HashSet;
use std::path::Path;

use baton_protocol::TaskId;

use super::{BranchNames, WorktreeError, Worktrees};
use crate::agents::git;

/// Moves the branches `tasks` left beside the board archived as `archive`.
pub async fn put_aside(
    repo: &Path,
    names: &BranchNames,
    tasks: &[TaskId],
    archive: &str,
) -> Result<(), WorktreeError> {
    let ids: HashSet<&str> = tasks.iter().map(TaskId::as_str).collect();
    for branch in branches(repo, &names.all()).await? {
        let Some(task) = names.task_of(&branch).filter(|task| ids.contains(task)) else {
            continue;
        };
        let aside = names.archived(archive, task);
        git::ok(repo, &["branch", "-m", &branch, &aside]).await?;
    }
    Ok(())
}

/// Brings the branches of the board archived as `archive` back under their tasks'
/// names, but where a branch has that name now (it is left as it is, and the
/// archived one stays).
pub async fn bring_back(
    repo: &Path,
    names: &BranchNames,
    archive: &str,
) -> Result<(), WorktreeError> {
    let prefix = names.archive(archive);
    for branch in branches(repo, &prefix).await? {
        let Some(task) = branch.strip_prefix(&prefix) else {
            continue;
        };
        let name = names.task(task);
        if Worktrees::has_branch(repo, &name).await? {
            continue;
        }
        git::ok(repo, &["branch", "-m", &branch, &name]).await?;
    }
    Ok(())
}

/// The branches whose names start with `prefix`.
async fn branches(repo: &Path, prefix: &str) -> Result<Vec<String>, WorktreeError> {
    let pattern = format!("refs/heads/{prefix}");
    let listed = git::ok(repo, &["for-each-ref", "--format=%(refname)", &pattern]).await?;
    Ok(listed
        .lines()
        .filter_map(|reference| reference.strip_prefix("refs/heads/"))
        .map(str::to_owned)
        .collect())
}
