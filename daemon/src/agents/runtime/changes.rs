//! What a task changed, for `baton/taskChanges`: found in git, which is only read.
//! A landed task's work is its merge into the integration branch; a task an agent
//! works on is its worktree's current files; any other is its branch.

use std::path::PathBuf;

use baton_protocol::{BatonError, ChangedFile, FileChange, TaskChangesResult, TaskId, TaskStatus};

use super::Runtime;
use crate::agents::git::{self, GitError};

impl Runtime {
    /// The commit a task's work started from, where the work is and which files
    /// differ. An error says why there is nothing to show.
    pub async fn task_changes(&self, task: &TaskId) -> Result<TaskChangesResult, BatonError> {
        let (status, integration) = self.context.orchestrator.read(|board| {
            let status = board.task(task)?.status;
            Ok::<_, BatonError>((status, board.config().integration_branch.clone()))
        })?;
        let root = self.context.workspace.root();
        if !root.join(".git").exists() {
            return Err(BatonError::invalid(
                "this workspace is not a git repository, so agents change its files in place \
                 and no task's changes are kept apart; run `git init` and commit to have them",
            ));
        }
        let place = Place {
            root: root.to_owned(),
            worktree: self.context.workspace.worktrees_dir().join(task.as_str()),
            task: task.clone(),
            branch: format!("refs/heads/baton/{task}"),
            integration: format!("refs/heads/{integration}"),
        };
        let found = place
            .changes(status)
            .await
            .map_err(|err| BatonError::orchestration(err.to_string()))?;
        found.ok_or_else(|| {
            BatonError::invalid(format!(
                "{task} has no changes to show: no agent has worked on it in a branch of its own"
            ))
        })
    }
}

/// Where one task's work may be.
struct Place {
    root: PathBuf,
    worktree: PathBuf,
    task: TaskId,
    /// The task's branch, as a full reference.
    branch: String,
    /// The integration branch, as a full reference.
    integration: String,
}

impl Place {
    async fn changes(&self, status: TaskStatus) -> Result<Option<TaskChangesResult>, GitError> {
        let branch_tip = self.tip(&self.branch).await?;
        if status == TaskStatus::Done {
            if let Some((base, head)) = self.landing(branch_tip.as_deref()).await? {
                return self.committed(base, head).await.map(Some);
            }
        }
        if status.is_held() && self.worktree_on_branch().await? {
            return self.working().await.map(Some);
        }
        let Some(head) = branch_tip else {
            return Ok(None);
        };
        let base = match self.tip(&self.integration).await? {
            Some(_) => git::ok(&self.root, &["merge-base", &head, &self.integration]).await?,
            None => head.clone(),
        };
        self.committed(base, head).await.map(Some)
    }

    /// The commit a reference points at, if it exists.
    async fn tip(&self, reference: &str) -> Result<Option<String>, GitError> {
        let found = git::run(&self.root, &["rev-parse", "--verify", "--quiet", reference]).await?;
        Ok(found.ok.then(|| found.stdout.trim().to_owned()))
    }

    /// The parents of the task's merge into the integration branch: the branch before
    /// it landed, and the work. A merge whose work is not the task's branch (a task of
    /// the same id on a board put aside) is not this task's.
    async fn landing(
        &self,
        branch_tip: Option<&str>,
    ) -> Result<Option<(String, String)>, GitError> {
        if self.tip(&self.integration).await?.is_none() {
            return Ok(None);
        }
        let grep = format!("--grep=Merge {}: ", self.task);
        let args = [
            "log",
            "--first-parent",
            "--merges",
            "--fixed-strings",
            &grep,
            "--format=%P",
            "-n",
            "1",
            &self.integration,
        ];
        let parents = git::ok(&self.root, &args).await?;
        let mut parents = parents.split_whitespace();
        let (Some(base), Some(work)) = (parents.next(), parents.next()) else {
            return Ok(None);
        };
        if branch_tip.is_some_and(|tip| tip != work) {
            return Ok(None);
        }
        Ok(Some((base.to_owned(), work.to_owned())))
    }

    async fn worktree_on_branch(&self) -> Result<bool, GitError> {
        if !self.worktree.is_dir() {
            return Ok(false);
        }
        let head = git::run(&self.worktree, &["symbolic-ref", "--quiet", "HEAD"]).await?;
        Ok(head.ok && head.stdout.trim() == self.branch)
    }

    async fn committed(&self, base: String, head: String) -> Result<TaskChangesResult, GitError> {
        let diff = ["diff", "-z", "--name-status", "--no-renames", &base, &head];
        let files = name_status(&git::ok(&self.root, &diff).await?);
        Ok(TaskChangesResult {
            task_id: self.task.clone(),
            base,
            head: Some(head),
            worktree: None,
            files,
        })
    }

    /// The worktree's files against the integration branch it last took in; read
    /// without the index lock, which the agent's own git may hold.
    async fn working(&self) -> Result<TaskChangesResult, GitError> {
        let dir = &self.worktree;
        let base = git::ok(dir, &["merge-base", "HEAD", &self.integration]).await?;
        let diff = [
            "--no-optional-locks",
            "diff",
            "-z",
            "--name-status",
            "--no-renames",
            &base,
        ];
        let mut files = name_status(&git::ok(dir, &diff).await?);
        let untracked = ["ls-files", "-z", "--others", "--exclude-standard"];
        files.extend(
            git::ok(dir, &untracked)
                .await?
                .split('\0')
                .filter(|path| !path.is_empty())
                .map(|path| ChangedFile {
                    path: path.to_owned(),
                    change: FileChange::Added,
                }),
        );
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        Ok(TaskChangesResult {
            task_id: self.task.clone(),
            base,
            head: None,
            worktree: Some(dir.display().to_string()),
            files,
        })
    }
}

/// `git diff -z --name-status`: a status letter, then the path, each ended by NUL.
fn name_status(output: &str) -> Vec<ChangedFile> {
    let mut fields = output.split('\0').filter(|field| !field.is_empty());
    let mut files = Vec::new();
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        let change = match status.chars().next() {
            Some('A') => FileChange::Added,
            Some('D') => FileChange::Deleted,
            _ => FileChange::Modified,
        };
        files.push(ChangedFile {
            path: path.to_owned(),
            change,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_reads_each_status_and_path_with_odd_characters() {
        let files = name_status("M\0src/a b.rs\0A\0new\tfile\0D\0gone.txt\0T\0link\0");
        let seen: Vec<(&str, FileChange)> = files
            .iter()
            .map(|file| (file.path.as_str(), file.change))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("gone.txt", FileChange::Deleted),
                ("link", FileChange::Modified),
                ("new\tfile", FileChange::Added),
                ("src/a b.rs", FileChange::Modified),
            ]
        );
    }
}
