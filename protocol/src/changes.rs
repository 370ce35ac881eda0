//! What a task changed, for a client that shows it as diffs: the commit it started
//! from, where its work is (a commit, or its worktree while it works) and the files.
//! The client reads the contents from git itself; the daemon only says where to look.

use serde::{Deserialize, Serialize};

use crate::TaskId;

/// The answer of `baton/taskChanges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChangesResult {
    pub task_id: TaskId,
    /// The commit the task's work started from (for a landed task, the integration
    /// branch just before it landed).
    pub base: String,
    /// The commit holding the task's work; `null` while an agent works on it, when the
    /// work is the worktree's current files.
    pub head: Option<String>,
    /// The task's worktree, absolute, when `head` is `null`.
    pub worktree: Option<String>,
    /// The files that differ between `base` and the work, sorted by path.
    pub files: Vec<ChangedFile>,
}

/// One file a task changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangedFile {
    /// Relative to the repository's root, with `/`.
    pub path: String,
    pub change: FileChange,
}

/// How a file changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileChange {
    Added,
    Modified,
    Deleted,
}
