//! The names of a workspace's branches. The worktrees of one repository share its
//! branches, and every board numbers its tasks from task-001: a workspace in a linked
//! worktree keeps its branches under a prefix of its own, so that its task-001 never
//! starts from, nor lands in, the work of a workspace in another worktree.

use std::path::Path;

/// The branch names of one workspace: its tasks', its archived boards', its default
/// integration branch, all under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchNames {
    prefix: String,
}

impl BranchNames {
    /// The names of the workspace at `root`: `baton/…` in a repository's main
    /// worktree (and outside git), `baton-<worktree>/…` in a linked worktree, by the
    /// name git gives the worktree (unique in its repository, kept when it moves).
    pub fn of(root: &Path) -> BranchNames {
        let prefix = match linked_worktree(root) {
            Some(name) => format!("baton-{}", ref_safe(&name)),
            None => "baton".to_owned(),
        };
        BranchNames { prefix }
    }

    /// The branch of the current board's task `task`.
    pub fn task(&self, task: &str) -> String {
        format!("{}/{task}", self.prefix)
    }

    /// The task of the current board whose branch `branch` would be (a loaded id
    /// may be spelled any way, so the integration branch's last part answers too).
    pub fn task_of<'a>(&self, branch: &'a str) -> Option<&'a str> {
        self.under(branch).filter(|task| !task.contains('/'))
    }

    /// The branch `task` of the board archived as `archive` left.
    pub fn archived(&self, archive: &str, task: &str) -> String {
        format!("{}{task}", self.archive(archive))
    }

    /// Where the branches of the board archived as `archive` are.
    pub fn archive(&self, archive: &str) -> String {
        format!("{}/history/{archive}/", self.prefix)
    }

    /// The task whose branch `branch` is, if it is one an archived board left.
    pub fn archived_task<'a>(&self, branch: &'a str) -> Option<&'a str> {
        self.under(branch)?
            .strip_prefix("history/")?
            .split_once('/')
            .map(|(_, task)| task)
    }

    /// What every one of these branches begins with.
    pub fn all(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// The integration branch a workspace starts with.
    pub fn integration(&self) -> String {
        format!("{}/integration", self.prefix)
    }

    fn under<'a>(&self, branch: &'a str) -> Option<&'a str> {
        branch.strip_prefix(&self.prefix)?.strip_prefix('/')
    }
}

/// The name git gives the linked worktree at `root`: its `.git` is a file that
/// points into the repository's `worktrees/<name>` (a submodule's points elsewhere).
fn linked_worktree(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join(".git")).ok()?;
    let gitdir = Path::new(text.strip_prefix("gitdir:")?.trim());
    if gitdir.parent()?.file_name()? != "worktrees" {
        return None;
    }
    gitdir.file_name()?.to_str().map(str::to_owned)
}

/// `name` as one component of a branch name: letters, digits, `-` and `_` kept,
/// anything else a `-`.
fn ref_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_git_file(text: Option<&str>) -> (tempfile::TempDir, BranchNames) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = text {
            std::fs::write(dir.path().join(".git"), text).unwrap();
        }
        let names = BranchNames::of(dir.path());
        (dir, names)
    }

    #[test]
    fn a_linked_worktree_keeps_its_branches_under_its_own_prefix() {
        let (_dir, names) = with_git_file(Some("gitdir: /src/shop/.git/worktrees/-tmp Q.1\n"));
        assert_eq!(names.task("task-001"), "baton--tmp-Q-1/task-001");
        assert_eq!(names.integration(), "baton--tmp-Q-1/integration");
        assert_eq!(
            names.archived("20261204-board", "task-002"),
            "baton--tmp-Q-1/history/20261204-board/task-002"
        );
        assert_eq!(names.task_of("baton--tmp-Q-1/task-003"), Some("task-003"));
        assert_eq!(names.task_of("baton/task-003"), None, "another worktree's");
    }

    #[test]
    fn a_main_worktree_a_submodule_and_a_plain_directory_keep_baton_s_names() {
        for git_file in [
            None,
            Some("gitdir: ../.git/modules/lib\n"),
            Some("not a pointer"),
        ] {
            let (_dir, names) = with_git_file(git_file);
            assert_eq!(names.task("task-001"), "baton/task-001", "{git_file:?}");
            assert_eq!(names.integration(), "baton/integration");
        }
    }

    #[test]
    fn archived_and_current_tasks_are_told_apart() {
        let (_dir, names) = with_git_file(None);
        assert_eq!(names.task_of("baton/task-001"), Some("task-001"));
        assert_eq!(names.task_of("baton/history/b/task-001"), None);
        assert_eq!(
            names.archived_task("baton/history/b/task-001"),
            Some("task-001")
        );
        assert_eq!(names.archived_task("baton/task-001"), None);
        assert_eq!(names.archive("b"), "baton/history/b/");
    }
}
