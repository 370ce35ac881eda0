//! Bringing work together: the integration branch into a task's worktree (`bring_in`),
//! a finished task into the integration branch (`land`), the user's branch in at a
//! run's start and the integration branch out into the user's checkout.
//!
//! Merges are made without a checkout (`git merge-tree --write-tree`, then
//! `commit-tree` and a compare-and-swap `update-ref`), so the integration branch moves
//! atomically: a crash leaves it either before or after a merge, never half-way. The
//! user's own checkout and uncommitted work are never touched, and every task's work
//! stays on its branch `baton/<task>` until it has landed (the run that landed it
//! then removes the branch, unless `keep_branches`) or the user removes it.

use std::path::Path;

use baton_protocol::views::count;
use baton_protocol::TaskId;

use super::git::{self, GitError};

use super::{changes, subject_of, Changes, Heads, WorktreeError, Worktrees};

/// What bringing the integration branch into a task's worktree gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BroughtIn {
    /// The worktree holds the task's work on top of the integration branch, all
    /// committed: the tree that the verification checks and that would land.
    Merged,
    /// The worktree holds the merge with conflict markers in `paths`; `theirs` is
    /// what the integration branch changed in them (a diff), for the agent.
    Conflict { paths: Vec<String>, theirs: String },
    /// A conflict the agent was asked to resolve still has markers in `paths`.
    Unresolved { paths: Vec<String> },
}

/// What landing a verified task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landed {
    /// The integration branch moved to the task's tree; what the task changed.
    Landed(Changes),
    /// The integration branch moved since the task's tree was made (another task
    /// landed): the tree must be brought up to date and checked again.
    Moved,
}

/// What merging two commits without a checkout gave.
enum Merged {
    /// The merged tree's id.
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

impl Worktrees {
    /// Commits the task's work and brings the integration branch into its worktree
    /// (the user's checkout is not touched). A merge left open by an earlier conflict
    /// is concluded with what the agent made of it, unless markers are left.
    ///
    /// The merge is made without the checkout first (`merge-tree`), and the checkout
    /// then moved to it, writing only the files the integration branch changed; a
    /// conflict is merged again for real in the worktree, so that the agent finds the
    /// markers there.
    pub async fn bring_in(
        &self,
        task: &TaskId,
        description: &str,
    ) -> Result<BroughtIn, WorktreeError> {
        let path = self.path(task);
        let subject = format!("{task}: {}", subject_of(description));
        let heads = if merging(&path)? {
            let set_aside = set_aside_copies(&path).await?;
            git::ok(&path, &["add", "--all"]).await?;
            let mut unresolved = left_markers(&path).await?;
            unresolved.extend(set_aside);
            if !unresolved.is_empty() {
                return Ok(BroughtIn::Unresolved { paths: unresolved });
            }
            let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
            args.extend(["commit", "--quiet", "--no-verify", "--no-edit"]);
            git::ok(&path, &args).await?;
            self.heads(&path).await?
        } else {
            self.commit_all(task, &subject).await?
        };
        if heads.holds_tip() {
            return Ok(BroughtIn::Merged);
        }
        let Heads { head, tip, .. } = &heads;
        let message = format!("Merge {} into {task}", self.integration);
        if let Merged::Clean(tree) = self.three_way(head, tip).await? {
            // A merge that changes no file may be one made already, the tip then
            // deeper in the head's history than its parents.
            if tree == heads.tree && is_ancestor(&path, tip, head).await? {
                return Ok(BroughtIn::Merged);
            }
            let merge = self
                .commit_tree(&path, &tree, &[head, tip], &message)
                .await?;
            // The checkout first, then its branch: a crash between the two leaves
            // the merge's files uncommitted on the task's branch, kept as its work,
            // never a branch whose files say otherwise.
            let moved = git::run(&path, &["read-tree", "-m", "-u", head, &merge]).await?;
            if moved.ok {
                git::ok(&path, &["update-ref", "-m", &message, "HEAD", &merge, head]).await?;
                return Ok(BroughtIn::Merged);
            }
            // Files of the integration branch's would overwrite ones git does not
            // track: `git merge` below decides as it always does.
        }
        let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        args.extend([
            "merge",
            "--no-edit",
            "--quiet",
            "--no-verify",
            "-m",
            &message,
            tip,
        ]);
        let merged = git::run(&path, &args).await?;
        if merged.ok {
            return Ok(BroughtIn::Merged);
        }
        let unmerged = git::ok(&path, &["diff", "--name-only", "--diff-filter=U"]).await?;
        let paths: Vec<String> = unmerged.lines().map(String::from).collect();
        if paths.is_empty() {
            let _ = git::run(&path, &["merge", "--abort"]).await;
            return Err(GitError::Failed {
                command: format!("merge {}", self.integration),
                dir: path,
                message: format!("{} {}", merged.stdout.trim(), merged.stderr.trim()),
            }
            .into());
        }
        let base = git::ok(&path, &["merge-base", "HEAD", tip]).await?;
        let mut args = vec!["diff", "--no-color", &base, tip, "--"];
        args.extend(paths.iter().map(String::as_str));
        let theirs = git::ok(&path, &args).await?;
        Ok(BroughtIn::Conflict { paths, theirs })
    }

    /// Moves the integration branch to the task's verified tree, only if the branch
    /// is where that tree was made from (a fast-forward, compare-and-swap); then
    /// frees the worktree for the next task (the branch stays).
    pub async fn land(&self, task: &TaskId, description: &str) -> Result<Landed, WorktreeError> {
        let landed = {
            let _one_at_a_time = self.merging.lock().await;
            let repo = &self.repo;
            let reference = format!("refs/heads/{}", self.integration);
            let branch = format!("refs/heads/{}", self.branch(task));
            let tree = format!("{branch}^{{tree}}");
            let parents = format!("{branch}^@");
            let read = git::ok(repo, &["rev-parse", &reference, &branch, &tree, &parents]).await?;
            let mut lines = read.lines();
            let [tip, work, tree] = [(); 3].map(|()| lines.next().unwrap_or_default());
            // The work made on the tip, or merged with it, has it as a parent.
            let holds_tip = tip == work || lines.any(|parent| parent == tip);
            if !holds_tip && !is_ancestor(repo, tip, work).await? {
                return Ok(Landed::Moved);
            }
            // The work holds the integration branch, so what differs from its tip
            // is what the task changed.
            let changes = changes(
                &git::ok(
                    repo,
                    &["diff", "-z", "--name-status", "--no-renames", tip, work],
                )
                .await?,
            );
            if tip != work {
                // A merge commit of exactly the verified tree: the integration
                // branch's first parents are the trees that passed, one per task.
                let message = format!("Merge {task}: {}", subject_of(description));
                self.commit_merge(tree, tip, work, &message).await?;
            }
            changes
        };
        self.park(&self.path(task)).await?;
        Ok(Landed::Landed(landed))
    }

    /// Merges two commits without a checkout: the merged tree, or the conflicting paths.
    async fn three_way(&self, ours: &str, theirs: &str) -> Result<Merged, GitError> {
        let args = [
            "merge-tree",
            "--write-tree",
            "--name-only",
            "--no-messages",
            ours,
            theirs,
        ];
        let merged = git::run(&self.repo, &args).await?;
        let mut lines = merged.stdout.lines();
        let tree = lines.next().unwrap_or_default().to_owned();
        match merged.code {
            Some(0) => Ok(Merged::Clean(tree)),
            Some(1) => Ok(Merged::Conflict(
                lines
                    .take_while(|line| !line.is_empty())
                    .map(String::from)
                    .collect(),
            )),
            _ => Err(GitError::Failed {
                command: "merge-tree".into(),
                dir: self.repo.clone(),
                message: merged.stderr.trim().into(),
            }),
        }
    }

    /// Commits a merged tree on the integration branch, moving it from `tip` only if
    /// it is still there (compare-and-swap).
    async fn commit_merge(
        &self,
        tree: &str,
        tip: &str,
        work: &str,
        message: &str,
    ) -> Result<(), GitError> {
        let commit = self
            .commit_tree(&self.repo, tree, &[tip, work], message)
            .await?;
        let reference = format!("refs/heads/{}", self.integration);
        git::ok(
            &self.repo,
            &["update-ref", "-m", message, &reference, &commit, tip],
        )
        .await?;
        Ok(())
    }

    /// At a run's start, brings the user's current branch into the integration
    /// branch (a fast-forward when it can, else a merge), so agents start from the
    /// user's latest commits. Answers what it did, and says when the checkout has
    /// uncommitted changes agents will not see, one sentence each. A conflict changes
    /// nothing and is the error.
    pub async fn start_from_checkout(&self) -> Result<Vec<String>, WorktreeError> {
        let _one_at_a_time = self.merging.lock().await;
        let repo = &self.repo;
        let current = git::run(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"]).await?;
        let branch = match current.ok {
            true => current.stdout.trim().to_owned(),
            false => "HEAD".to_owned(),
        };
        let head = git::ok(repo, &["rev-parse", "HEAD"]).await?;
        let reference = format!("refs/heads/{}", self.integration);
        let tip = git::ok(repo, &["rev-parse", &reference]).await?;
        let new = git::ok(repo, &["rev-list", "--count", &format!("{tip}..{head}")])
            .await?
            .parse::<usize>()
            .unwrap_or_default();
        let mut notes = Vec::new();
        let commits = count(new, "new commit", "new commits");
        if new > 0 && git::ok(repo, &["merge-base", &tip, &head]).await? == tip {
            let message = format!("baton: fast-forward to {branch}");
            git::ok(
                repo,
                &["update-ref", "-m", &message, &reference, &head, &tip],
            )
            .await?;
            notes.push(format!(
                "{} fast-forwarded to {branch} ({commits})",
                self.integration
            ));
        } else if new > 0 {
            let tree = match self.three_way(&tip, &head).await? {
                Merged::Clean(tree) => tree,
                Merged::Conflict(paths) => {
                    return Err(WorktreeError::CheckoutConflict {
                        branch,
                        integration: self.integration.clone(),
                        paths,
                    });
                }
            };
            let message = format!("Merge {branch} into {}", self.integration);
            self.commit_merge(&tree, &tip, &head, &message).await?;
            notes.push(format!(
                "{branch} merged into {} ({commits})",
                self.integration
            ));
        }
        // Not trimmed: each line begins with two status letters, the first often a
        // space, and the path follows them.
        let status = git::run(repo, &["status", "--porcelain"]).await?;
        let paths: Vec<&str> = status
            .stdout
            .lines()
            .filter_map(|line| line.get(3..))
            .collect();
        if !paths.is_empty() {
            let shown = paths.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = if paths.len() > 3 { ", …" } else { "" };
            notes.push(format!(
                "the checkout has {} ({shown}{more}) that agents will not see; commit them to include them",
                count(paths.len(), "uncommitted change", "uncommitted changes")
            ));
        }
        Ok(notes)
    }

    /// Brings the integration branch into the user's current branch: a fast-forward
    /// when possible, else a merge. Refuses when the checkout has uncommitted changes
    /// and there is something to merge.
    pub async fn merge_into_checkout(&self) -> Result<String, WorktreeError> {
        let repo = &self.repo;
        let current = git::ok(repo, &["rev-parse", "--abbrev-ref", "HEAD"]).await?;
        if is_ancestor(repo, &self.integration, "HEAD").await? {
            let checkout = match current.as_str() {
                "HEAD" => "the checkout",
                branch => branch,
            };
            return Ok(format!(
                "nothing to merge: {checkout} already has everything on {}",
                self.integration
            ));
        }
        if current == "HEAD" {
            return Err(GitError::Failed {
                command: "merge".into(),
                dir: repo.clone(),
                message: "the checkout is on no branch (a detached HEAD); `git switch BRANCH` \
                          to the branch the work goes into, then merge; nothing was changed"
                    .into(),
            }
            .into());
        }
        // A merge that stopped on a conflict would mix its markers with them.
        let dirty = git::run(repo, &["status", "--porcelain", "--untracked-files=no"]).await?;
        let mut paths: Vec<String> = dirty
            .stdout
            .lines()
            .filter_map(|line| line.get(3..))
            .map(str::to_owned)
            .collect();
        if !paths.is_empty() {
            if paths.len() > 3 {
                paths.truncate(3);
                paths.push("…".into());
            }
            return Err(WorktreeError::DirtyCheckout {
                dir: repo.clone(),
                paths,
            });
        }
        let fast = git::run(repo, &["merge", "--ff-only", "--quiet", &self.integration]).await?;
        if fast.ok {
            return Ok(format!("fast-forwarded {current} to {}", self.integration));
        }
        let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        args.extend(["merge", "--no-edit", "--quiet", &self.integration]);
        let merged = git::run(repo, &args).await?;
        if merged.ok {
            return Ok(format!("merged {} into {current}", self.integration));
        }
        let conflicted = git::ok(repo, &["diff", "--name-only", "--diff-filter=U"])
            .await
            .unwrap_or_default();
        let _ = git::run(repo, &["merge", "--abort"]).await;
        let reason = match conflicted.lines().collect::<Vec<_>>() {
            paths if !paths.is_empty() => format!(
                "it conflicts in {}; merge it yourself (`git merge {}`) and resolve them",
                paths.join(", "),
                self.integration
            ),
            // git's own words (an untracked file in the way, …), on one line.
            _ => format!("{} {}", merged.stderr, merged.stdout)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        };
        Err(GitError::Failed {
            command: format!("merge {}", self.integration),
            dir: repo.clone(),
            message: format!("{reason}; nothing was changed"),
        }
        .into())
    }
}

/// Whether a merge is open in the worktree at `path`: its `MERGE_HEAD` exists, as
/// git itself decides (read from the file, not by starting git, as the gate asks it
/// on every landing).
pub(super) fn merging(path: &Path) -> Result<bool, GitError> {
    let gitdir = super::gitdir(path).ok_or_else(|| GitError::Failed {
        command: "rev-parse MERGE_HEAD".into(),
        dir: path.to_owned(),
        message: "no worktree is there (its .git file is missing)".into(),
    })?;
    Ok(gitdir.join("MERGE_HEAD").exists())
}

/// Whether `ancestor` is in the history of `commit`.
pub(super) async fn is_ancestor(
    dir: &Path,
    ancestor: &str,
    commit: &str,
) -> Result<bool, GitError> {
    let args = ["merge-base", "--is-ancestor", ancestor, commit];
    Ok(git::run(dir, &args).await?.ok)
}

/// The copies git set aside in a merge it could not make, still unmerged and still
/// there: where a file met a directory, git writes the file as `path~HEAD` (or
/// `~<branch>`), which no marker shows and which must never land as it is.
async fn set_aside_copies(path: &Path) -> Result<Vec<String>, GitError> {
    let unmerged = git::ok(path, &["diff", "--name-only", "--diff-filter=U"]).await?;
    Ok(unmerged
        .lines()
        .filter(|name| {
            let last = name.rsplit('/').next().unwrap_or(name);
            last.contains('~') && path.join(name).exists()
        })
        .map(String::from)
        .collect())
}

/// The staged paths that still hold conflict markers.
pub(super) async fn left_markers(path: &Path) -> Result<Vec<String>, GitError> {
    let checked = git::run(path, &["diff", "--cached", "--check", "HEAD"]).await?;
    let mut paths: Vec<String> = checked
        .stdout
        .lines()
        .filter(|line| line.contains("leftover conflict marker"))
        .filter_map(|line| line.split(':').next())
        .map(String::from)
        .collect();
    paths.dedup();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use baton_protocol::{TaskId, Workspace};

    use super::super::tests::git;
    use super::*;

    /// A repository with `a.txt` committed on `main`, and its worktrees; the
    /// directory goes with the first value.
    async fn repository() -> (tempfile::TempDir, std::path::PathBuf, Worktrees) {
        let repo = tempfile::tempdir().unwrap();
        let root = repo.path().canonicalize().unwrap();
        git(&root, &["init", "--quiet", "--initial-branch=main"]);
        git(&root, &["config", "user.email", "test@example.com"]);
        git(&root, &["config", "user.name", "Test"]);
        std::fs::write(root.join("a.txt"), "a\n").unwrap();
        git(&root, &["add", "."]);
        git(&root, &["commit", "--quiet", "-m", "start"]);
        let workspace = Workspace::at(&root).unwrap();
        let worktrees = Worktrees::open(&workspace, "baton/integration")
            .await
            .unwrap();
        (repo, root, worktrees)
    }

    /// How many parents `commit` has.
    fn parents(dir: &Path, commit: &str) -> usize {
        git(dir, &["rev-list", "--parents", "-n1", commit])
            .split_whitespace()
            .count()
            - 1
    }

    #[tokio::test]
    async fn a_branch_merged_already_is_not_merged_again_and_the_work_still_lands() {
        let (_repo, root, worktrees) = repository().await;
        let (first, second) = (TaskId::numbered(1), TaskId::numbered(2));
        let first_path = worktrees.prepare(&first).await.unwrap();
        let second_path = worktrees.prepare(&second).await.unwrap();
        std::fs::write(first_path.join("b.txt"), "b\n").unwrap();
        std::fs::write(second_path.join("c.txt"), "c\n").unwrap();
        assert_eq!(
            worktrees.bring_in(&first, "first").await.unwrap(),
            BroughtIn::Merged
        );
        assert!(matches!(
            worktrees.land(&first, "first").await.unwrap(),
            Landed::Landed(_)
        ));

        // The second task was made before the first landed: the tip is merged in.
        assert_eq!(
            worktrees.bring_in(&second, "second").await.unwrap(),
            BroughtIn::Merged
        );
        assert_eq!(parents(&second_path, "HEAD"), 2, "a merge commit");
        // More work after the merge: the tip is now deeper than the head's parents,
        // and bringing it in again makes no second merge.
        std::fs::write(second_path.join("d.txt"), "d\n").unwrap();
        assert_eq!(
            worktrees.bring_in(&second, "second").await.unwrap(),
            BroughtIn::Merged
        );
        assert_eq!(parents(&second_path, "HEAD"), 1, "no merge made again");
        assert_eq!(
            git(
                &second_path,
                &["log", "--merges", "--first-parent", "--format=%s"]
            )
            .lines()
            .count(),
            1,
            "one merge on the task's branch"
        );
        assert!(matches!(
            worktrees.land(&second, "second").await.unwrap(),
            Landed::Landed(_)
        ));
        let landed = git(&root, &["ls-tree", "--name-only", "baton/integration"]);
        assert_eq!(
            landed.lines().collect::<Vec<_>>(),
            ["a.txt", "b.txt", "c.txt", "d.txt"]
        );
    }

    #[tokio::test]
    async fn the_files_a_task_changed_are_named_as_they_are_whatever_their_characters() {
        // Found when it was tried: git's quoting made `my file é.txt` a task's
        // `"my file \303\251.txt"`, quotes included.
        let (_repo, _, worktrees) = repository().await;
        let task = TaskId::numbered(1);
        let path = worktrees.prepare(&task).await.unwrap();
        std::fs::create_dir(path.join("dir ü")).unwrap();
        for name in [
            "my file é.txt",
            "dir ü/naïve 文件.md",
            "tab\tname",
            "new\nline",
        ] {
            std::fs::write(path.join(name), "x\n").unwrap();
        }
        std::fs::write(path.join("a.txt"), "changed\n").unwrap();
        worktrees.bring_in(&task, "odd names").await.unwrap();
        let Landed::Landed(changes) = worktrees.land(&task, "odd names").await.unwrap() else {
            panic!("the work lands");
        };
        let mut created = changes.created.clone();
        created.sort();
        assert_eq!(
            created,
            [
                "dir ü/naïve 文件.md",
                "my file é.txt",
                "new\nline",
                "tab\tname"
            ]
        );
        assert_eq!(changes.modified, ["a.txt"]);
    }
}
