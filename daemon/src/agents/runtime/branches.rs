//! What the runtime does to branches outside a run: bringing the integration branch
//! into the user's checkout, clearing the task branches and idle checkouts that runs
//! leave behind (`baton clean`, and each run for its own merged tasks as it ends), and
//! moving a board's task branches aside with it when it is archived.

use std::collections::HashSet;

use baton_protocol::methods as m;
use baton_protocol::{BatonError, TaskId, TaskStatus};

use tokio::sync::oneshot;

use super::{stopping, worktree_error, Event, Runtime};
use crate::agents::agent::Context;
use crate::agents::worktrees::{history, BranchNames, Worktrees};
use crate::core::Finished;

impl Runtime {
    /// Brings the integration branch into the user's current branch; says so when
    /// there is nothing to merge, changing nothing.
    pub async fn merge(&self) -> Result<String, BatonError> {
        let branch = self
            .context
            .orchestrator
            .read(|board| board.config().integration_branch.clone());
        let Some(root) = self.repository() else {
            return Ok(
                "nothing to merge: this workspace is not a git repository, so agents \
                 work in it directly and their changes are already there"
                    .into(),
            );
        };
        let exists = Worktrees::has_branch(root, &branch)
            .await
            .map_err(|err| BatonError::invalid(err.to_string()))?;
        if !exists {
            return Ok(format!(
                "nothing to merge: there is no {branch} branch yet; a run makes it"
            ));
        }
        let worktrees = Worktrees::open(&self.context.workspace, &branch)
            .await
            .map_err(worktree_error)?;
        worktrees
            .merge_into_checkout()
            .await
            .map_err(|err| BatonError::orchestration(err.to_string()))
    }

    /// The workspace, when it is a git repository (and so has branches).
    fn repository(&self) -> Option<&std::path::Path> {
        let root = self.context.workspace.root();
        root.join(".git").exists().then_some(root)
    }

    /// Moves the branches the tasks of a board just archived as `archive` left
    /// beside it, so that the next board's tasks, numbered from task-001 again, start
    /// from the integration branch.
    pub async fn put_aside_branches(
        &self,
        tasks: &[TaskId],
        archive: &str,
    ) -> Result<(), BatonError> {
        let Some(root) = self.repository() else {
            return Ok(());
        };
        let names = BranchNames::of(root);
        history::put_aside(root, &names, tasks, archive)
            .await
            .map_err(|err| {
                BatonError::orchestration(format!(
                    "the board was archived as {archive}, but its tasks' branches could not \
                     be moved aside ({err}); before a run, `git branch -m {} {}` each, or a \
                     new task starts from the work under its id",
                    names.task("ID"),
                    names.archived(archive, "ID")
                ))
            })
    }

    /// Brings back the task branches of the board archived as `archive`, loaded
    /// again.
    pub async fn bring_back_branches(&self, archive: &str) -> Result<(), BatonError> {
        let Some(root) = self.repository() else {
            return Ok(());
        };
        let names = BranchNames::of(root);
        history::bring_back(root, &names, archive)
            .await
            .map_err(|err| {
                BatonError::orchestration(format!(
                    "the board was loaded, but its tasks' branches stay under {} ({err}); \
                     `git branch -m` brings each back as {}",
                    names.archive(archive),
                    names.task("ID")
                ))
            })
    }

    /// Removes the branches of merged tasks and the idle checkouts; with `all`, the
    /// branches of failed and cancelled tasks too. A task that has not finished
    /// keeps its branch. Refused while a run goes: the actor, which alone starts
    /// runs, cleans, so no run starts until the clean is done.
    pub async fn clean(&self, all: bool) -> Result<m::CleanResult, BatonError> {
        let (reply, answer) = oneshot::channel();
        self.send(Event::Clean { all, reply });
        answer.await.map_err(|_| stopping())?
    }
}

/// `baton clean` in the actor: refused while a run goes, decided in the same loop
/// that starts runs.
pub(super) async fn clean(context: &Context, all: bool) -> Result<m::CleanResult, BatonError> {
    if context.orchestrator.read(|board| board.run().is_some()) {
        return Err(crate::core::already_running());
    }
    let orchestrator = &context.orchestrator;
    let workspace = &context.workspace;
    let branch = orchestrator.read(|board| board.config().integration_branch.clone());
    let in_git = workspace.root().join(".git").exists();
    if !in_git
        || !Worktrees::has_branch(workspace.root(), &branch)
            .await
            .map_err(worktree_error)?
    {
        return Ok(m::CleanResult::default());
    }
    let worktrees = Worktrees::open(workspace, &branch)
        .await
        .map_err(worktree_error)?;
    let statuses: std::collections::HashMap<TaskId, TaskStatus> = orchestrator.read(|board| {
        board
            .tasks(None)
            .into_iter()
            .map(|task| (task.id, task.status))
            .collect()
    });
    let removable =
        |task: Option<&TaskId>, merged: bool| match task.and_then(|task| statuses.get(task)) {
            Some(TaskStatus::Done) => merged,
            Some(TaskStatus::Failed | TaskStatus::Cancelled) => all,
            Some(_) => false,
            // A task of an archived board.
            None => merged || all,
        };
    sweep(&worktrees, removable).await
}

/// What a run that ends leaves of its own work: the branches of the tasks it
/// finished that hold nothing unmerged (those `done`, and those failed or cancelled
/// before any work) go, with the idle checkouts (each was detached once its task's
/// work was committed), unless `keep_branches` keeps them. Failed and cancelled
/// tasks' work, and the branches of tasks not finished, stay.
pub(super) async fn clean_after_run(
    worktrees: &Worktrees,
    finished: &Finished,
    keep_branches: bool,
) -> Result<m::CleanResult, BatonError> {
    if keep_branches {
        return Ok(m::CleanResult::default());
    }
    let ended: HashSet<&TaskId> = finished
        .tasks
        .iter()
        .filter(|task| task.status.is_finished())
        .map(|task| &task.id)
        .collect();
    sweep(worktrees, |task, merged| {
        merged && task.is_some_and(|task| ended.contains(task))
    })
    .await
}

/// Removes the idle checkouts and the task branches `removable` allows, given the
/// task and whether its branch is merged; the one way `baton clean` and a run's end
/// clear branches.
async fn sweep(
    worktrees: &Worktrees,
    removable: impl Fn(Option<&TaskId>, bool) -> bool,
) -> Result<m::CleanResult, BatonError> {
    let (branches, checkouts) = worktrees
        .clean(removable)
        .await
        .map_err(|err| BatonError::orchestration(err.to_string()))?;
    Ok(m::CleanResult {
        branches,
        checkouts,
    })
}
