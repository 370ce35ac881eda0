//! Isolation: each task works in its own git worktree, on its own branch, started from
//! the integration branch that holds every finished task; finished work is committed
//! and merged back one task at a time, in the order tasks finish.
//!
//! Checkouts are reused: a task's worktree, once its work is committed, is detached
//! and kept idle, and the next task's worktree is made from it by checking out only
//! what differs — on a large repository that is the difference between writing every
//! file and writing a few.
//!

pub mod history;
mod merge;
mod names;

use std::path::{Path, PathBuf};

use baton_protocol::{private, TaskId, Workspace};

use super::git::{self, GitError};

use merge::{left_markers, merging};
pub use merge::{BroughtIn, Landed};
pub use names::BranchNames;

/// Why a task's worktree could not be made or merged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorktreeError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{} is not a git repository; set isolation to shared (`baton config isolation shared`)", .0.display())]
    NotARepository(PathBuf),
    #[error("the repository has no commit yet; commit once, then run again")]
    NoCommit,
    #[error("the checkout {} has uncommitted changes ({}); commit or stash them, then merge (nothing was changed)", dir.display(), paths.join(", "))]
    DirtyCheckout { dir: PathBuf, paths: Vec<String> },
    #[error("the integration branch {branch} is checked out in {}; switch that checkout to another branch so baton can move it", path.display())]
    CheckedOut { branch: String, path: PathBuf },
    #[error("bringing {branch} into {integration} conflicts in {}; no agent started. Merge {integration} into {branch} in your checkout (`git merge {integration}`), resolve the conflicts and commit, then run again", paths.join(", "))]
    CheckoutConflict {
        branch: String,
        integration: String,
        paths: Vec<String>,
    },
    #[error("merging {task} into {integration} conflicts in {}; its work is kept on branch {branch}", paths.join(", "))]
    Conflict {
        task: TaskId,
        integration: String,
        branch: String,
        paths: Vec<String>,
    },
}

/// Where a task's worktree stands against the integration branch.
struct Heads {
    /// The worktree's branch head, and its tree.
    head: String,
    tree: String,
    /// The integration branch's tip.
    tip: String,
    /// The head's parents.
    parents: Vec<String>,
    /// The reference HEAD is on (`refs/heads/…`), or `HEAD` when it is detached.
    on: String,
}

impl Heads {
    /// Whether the head holds the integration branch's tip, as far as the head and
    /// its parents tell without a walk of the history (the common case: the work
    /// was made on the tip, or merged with it).
    fn holds_tip(&self) -> bool {
        self.head == self.tip || self.parents.contains(&self.tip)
    }
}

/// What a task changed, as git saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub modified: Vec<String>,
    pub created: Vec<String>,
}

/// The worktrees of one repository.
pub struct Worktrees {
    repo: PathBuf,
    dir: PathBuf,
    integration: String,
    names: BranchNames,
    /// Commit identity flags, for repositories with no user configured.
    identity: Vec<String>,
    merging: tokio::sync::Mutex<()>,
    /// Held while worktrees are added, moved or removed: git's worktree commands are
    /// not safe to run at once (one reads the half-made entry of another), and two
    /// tasks must never take the same idle checkout.
    admin: tokio::sync::Mutex<()>,
}

impl Worktrees {
    /// Opens isolation for `repo`: checks git and makes the integration branch from
    /// HEAD when there is none.
    pub async fn open(
        workspace: &Workspace,
        integration: &str,
    ) -> Result<Worktrees, WorktreeError> {
        let repo = workspace.root();
        git::check_version(repo).await?;
        let top = git::run(repo, &["rev-parse", "--show-toplevel"]).await?;
        if !top.ok || Path::new(top.stdout.trim()) != repo {
            return Err(WorktreeError::NotARepository(repo.to_owned()));
        }
        if !git::run(repo, &["rev-parse", "--verify", "--quiet", "HEAD"])
            .await?
            .ok
        {
            return Err(WorktreeError::NoCommit);
        }
        let reference = format!("refs/heads/{integration}");
        if !git::run(repo, &["rev-parse", "--verify", "--quiet", &reference])
            .await?
            .ok
        {
            git::ok(repo, &["branch", integration, "HEAD"]).await?;
        }
        let listed = git::ok(repo, &["worktree", "list", "--porcelain"]).await?;
        let mut path = PathBuf::new();
        for line in listed.lines() {
            if let Some(found) = line.strip_prefix("worktree ") {
                path = PathBuf::from(found);
            } else if line.strip_prefix("branch ") == Some(reference.as_str()) {
                return Err(WorktreeError::CheckedOut {
                    branch: integration.into(),
                    path,
                });
            }
        }
        let configured = git::run(repo, &["config", "user.email"]).await?;
        let identity = if configured.ok && !configured.stdout.trim().is_empty() {
            Vec::new()
        } else {
            ["-c", "user.name=baton", "-c", "user.email=baton@localhost"]
                .map(String::from)
                .to_vec()
        };
        let worktrees = Worktrees {
            repo: repo.to_owned(),
            dir: workspace.worktrees_dir(),
            integration: integration.into(),
            names: BranchNames::of(repo),
            identity,
            merging: tokio::sync::Mutex::new(()),
            admin: tokio::sync::Mutex::new(()),
        };
        Ok(worktrees)
    }

    /// Saves and removes worktrees an interrupted daemon left, so each task starts
    /// clean next time with its work kept on its branch.
    /// Only for a daemon that starts: no agent can be working in them then.
    pub async fn recover(&self) -> Result<(), WorktreeError> {
        git::wait_for_daemon_git(&self.repo, std::time::Duration::from_secs(30)).await;
        git::ok(&self.repo, &["worktree", "prune"]).await?;
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            if is_preparing(&entry.path()) {
                // No agent worked in it yet: there is nothing to keep.
                let _admin = self.admin.lock().await;
                self.remove(&entry.path()).await?;
                continue;
            }
            // Whatever git was doing in there when its agent was ended left its lock.
            clear_index_lock(&entry.path());
            if is_idle(&entry.path()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            self.set_aside(&TaskId::from(name)).await?;
        }
        Ok(())
    }

    /// Whether `repo` has the branch `name` (git or not).
    pub async fn has_branch(repo: &Path, name: &str) -> Result<bool, WorktreeError> {
        let reference = format!("refs/heads/{name}");
        let args = ["rev-parse", "--verify", "--quiet", &reference];
        Ok(git::run(repo, &args).await?.ok)
    }

    /// Whether the task's branch holds work of its own, not yet in the integration
    /// branch: a branch that does not is no work to keep.
    pub async fn holds_work(&self, task: &TaskId) -> Result<bool, WorktreeError> {
        let branch = self.branch(task);
        Ok(Self::has_branch(&self.repo, &branch).await?
            && !merge::is_ancestor(&self.repo, &branch, &self.integration).await?)
    }

    pub fn branch(&self, task: &TaskId) -> String {
        self.names.task(task.as_str())
    }

    fn path(&self, task: &TaskId) -> PathBuf {
        self.dir.join(task.as_str())
    }

    /// The task's worktree at `.baton/worktrees/<task>`, on its branch: the branch an
    /// earlier attempt left, else a new one from the integration branch's tip. An idle
    /// checkout is reused when there is one, so that only what differs is written.
    ///
    /// The checkout is made under a name of its own and takes the task's name only
    /// once whole: a daemon killed while git wrote it leaves a checkout that misses
    /// files, which, under the task's name, would be kept as the task's work (a
    /// commit deleting every file git had not written yet).
    pub async fn prepare(&self, task: &TaskId) -> Result<PathBuf, WorktreeError> {
        let path = self.path(task);
        if path.exists() {
            self.set_aside(task).await?;
        }
        let preparing = self.dir.join(format!("{PREPARING}{task}"));
        if preparing.exists() {
            let _admin = self.admin.lock().await;
            self.remove(&preparing).await?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|err| GitError::Failed {
            command: "worktree add".into(),
            dir: self.dir.clone(),
            message: err.to_string(),
        })?;
        let branch = self.branch(task);
        let reference = format!("refs/heads/{branch}");
        let exists = git::run(
            &self.repo,
            &["rev-parse", "--verify", "--quiet", &reference],
        )
        .await?
        .ok;
        let location = preparing.display().to_string();
        let admin = self.admin.lock().await;
        let idle = self.idle();
        if let Some(idle) = &idle {
            let from = idle.display().to_string();
            git::ok(&self.repo, &["worktree", "move", &from, &location]).await?;
        }
        drop(admin);
        match idle {
            Some(_) => {
                if exists {
                    git::ok(&preparing, &["checkout", "--quiet", "--force", &branch]).await?;
                } else {
                    let start = [
                        "checkout",
                        "--quiet",
                        "--force",
                        "-B",
                        &branch,
                        &self.integration,
                    ];
                    git::ok(&preparing, &start).await?;
                }
                git::ok(&preparing, &["clean", "-fdq"]).await?;
            }
            None => {
                let _admin = self.admin.lock().await;
                let add: &[&str] = if exists {
                    &["worktree", "add", "--quiet", &location, &branch]
                } else {
                    &[
                        "worktree",
                        "add",
                        "--quiet",
                        "-b",
                        &branch,
                        &location,
                        &self.integration,
                    ]
                };
                git::ok(&self.repo, add).await?;
            }
        }
        // git made the checkout's directory with the user's umask: .baton/ is private.
        private::tighten(&preparing, &[&preparing]).map_err(|err| GitError::Failed {
            command: "worktree add".into(),
            dir: preparing.clone(),
            message: err.to_string(),
        })?;
        let _admin = self.admin.lock().await;
        let whole = ["worktree", "move", &location, &path.display().to_string()];
        git::ok(&self.repo, &whole).await?;
        Ok(path)
    }

    /// An idle checkout, if there is one.
    fn idle(&self) -> Option<PathBuf> {
        std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .map(|entry| entry.path())
            .find(|path| is_idle(path))
    }

    /// Keeps a task's checkout for the next task: detached (its branch is free for the
    /// user), moved to an idle name. Past KEEP_IDLE idle checkouts, it is removed.
    /// Cheap on any tree: it neither reads nor writes the checkout's files.
    async fn park(&self, path: &Path) -> Result<(), WorktreeError> {
        let _admin = self.admin.lock().await;
        if !path.join(".git").exists() {
            return self.remove(path).await;
        }
        let idle: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| is_idle(path))
            .collect();
        let slot = (1..)
            .map(|n| self.dir.join(format!("{IDLE}{n}")))
            .find(|slot| !idle.contains(slot))
            .expect("a free name");
        // Detaching moves HEAD alone (no scan of the tree); whatever the task left
        // beside its commits is cleaned away by the next `prepare`.
        let parked = idle.len() < KEEP_IDLE
            && git::run(path, &["update-ref", "--no-deref", "HEAD", "HEAD"])
                .await?
                .ok
            && git::run(
                &self.repo,
                &[
                    "worktree",
                    "move",
                    &path.display().to_string(),
                    &slot.display().to_string(),
                ],
            )
            .await?
            .ok;
        if parked {
            Ok(())
        } else {
            self.remove(path).await
        }
    }

    /// Keeps whatever the task's agent left (committed on its branch) and removes the
    /// worktree, for a task that did not finish well.
    pub async fn set_aside(&self, task: &TaskId) -> Result<(), WorktreeError> {
        let path = self.path(task);
        if path.join(".git").exists() {
            if merging(&path)? {
                // A merge its agent did not finish resolving is done again next time;
                // one without markers left is concluded as the agent resolved it.
                git::ok(&path, &["add", "--all"]).await?;
                if left_markers(&path).await?.is_empty() {
                    let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
                    args.extend(["commit", "--quiet", "--no-verify", "--no-edit"]);
                    git::ok(&path, &args).await?;
                } else {
                    git::ok(&path, &["merge", "--abort"]).await?;
                }
            }
            self.commit_all(task, &format!("{task}: unfinished work, kept by baton"))
                .await?;
        }
        self.park(&path).await
    }

    /// Commits everything in the worktree at `path` (new files too) on its branch,
    /// unless nothing changed; answers the branch's head then and the integration
    /// branch's tip, read at once. Plumbing rather than `git commit`: the tree is
    /// scanned once (by `add`), and no hook of the user's runs on baton's commits.
    ///
    /// An agent that switched its checkout to another branch, or detached it, did its
    /// work there: the task's branch is moved to that work and the checkout put back
    /// on it, so that what lands is what the checkout holds.
    async fn commit_all(&self, task: &TaskId, subject: &str) -> Result<Heads, WorktreeError> {
        let path = &self.path(task);
        git::ok(path, &["add", "--all"]).await?;
        let tree = git::ok(path, &["write-tree"]).await?;
        let mut heads = self.heads(path).await?;
        if tree != heads.tree {
            let head = self
                .commit_tree(path, &tree, &[&heads.head], subject)
                .await?;
            git::ok(
                path,
                &["update-ref", "-m", subject, "HEAD", &head, &heads.head],
            )
            .await?;
            heads = Heads {
                parents: vec![std::mem::take(&mut heads.head)],
                head,
                tree,
                ..heads
            };
        }
        let branch = format!("refs/heads/{}", self.branch(task));
        if heads.on != branch {
            let moved = format!("{subject} (its agent left the checkout on {})", heads.on);
            git::ok(path, &["update-ref", "-m", &moved, &branch, &heads.head]).await?;
            git::ok(path, &["symbolic-ref", "HEAD", &branch]).await?;
            heads.on = branch;
        }
        Ok(heads)
    }

    /// The worktree's head, its tree and parents, and the integration branch's tip:
    /// one `rev-parse`.
    async fn heads(&self, path: &Path) -> Result<Heads, GitError> {
        let reference = format!("refs/heads/{}", self.integration);
        let read = git::ok(
            path,
            &[
                "rev-parse",
                "HEAD",
                "HEAD^{tree}",
                &reference,
                "HEAD^@",
                "--symbolic-full-name",
                "HEAD",
            ],
        )
        .await?;
        let mut lines: Vec<String> = read.lines().map(String::from).collect();
        let on = lines.pop().unwrap_or_default();
        let mut lines = lines.into_iter();
        let mut next = || lines.next().unwrap_or_default();
        Ok(Heads {
            head: next(),
            tree: next(),
            tip: next(),
            parents: lines.collect(),
            on,
        })
    }

    /// Writes a commit of `tree` with `parents` (in the worktree or repository at
    /// `dir`); answers its id.
    async fn commit_tree(
        &self,
        dir: &Path,
        tree: &str,
        parents: &[&str],
        message: &str,
    ) -> Result<String, GitError> {
        let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        args.extend(["commit-tree", tree]);
        for parent in parents {
            args.extend(["-p", parent]);
        }
        args.extend(["-m", message]);
        git::ok(dir, &args).await
    }

    /// Removes every idle checkout, and each task branch `removable` allows (given
    /// the task, `None` for a branch an archived board left, and whether the branch
    /// is merged into the integration branch);
    /// answers the branches removed and how many checkouts. Only between runs: no
    /// agent may be using a checkout.
    pub async fn clean(
        &self,
        removable: impl Fn(Option<&TaskId>, bool) -> bool,
    ) -> Result<(Vec<String>, usize), WorktreeError> {
        let _admin = self.admin.lock().await;
        let idle: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| is_idle(path))
            .collect();
        for path in &idle {
            self.remove(path).await?;
        }
        let pattern = format!("refs/heads/{}", self.names.all());
        let listed = git::ok(
            &self.repo,
            &["for-each-ref", "--format=%(refname:short)", &pattern],
        )
        .await?;
        let mut removed = Vec::new();
        for branch in listed.lines() {
            let archived = self.names.archived_task(branch);
            let Some(task) = archived
                .or_else(|| self.names.task_of(branch))
                .filter(|id| id.starts_with("task-"))
            else {
                continue;
            };
            let current = archived.is_none().then(|| TaskId::from(task));
            let merged = merge::is_ancestor(&self.repo, branch, &self.integration).await?;
            if removable(current.as_ref(), merged)
                && git::run(&self.repo, &["branch", "-D", "--quiet", branch])
                    .await?
                    .ok
            {
                removed.push(branch.to_owned());
            }
        }
        Ok((removed, idle.len()))
    }

    /// Removes a worktree; the caller holds `admin`.
    async fn remove(&self, path: &Path) -> Result<(), WorktreeError> {
        if path.exists() {
            let location = path.display().to_string();
            if !git::run(&self.repo, &["worktree", "remove", "--force", &location])
                .await?
                .ok
            {
                let _ = std::fs::remove_dir_all(path);
            }
        }
        git::ok(&self.repo, &["worktree", "prune"]).await?;
        Ok(())
    }
}

/// Idle checkouts are named `idle-N`; task ids never start so.
const IDLE: &str = "idle-";

/// How many idle checkouts are kept.
const KEEP_IDLE: usize = 16;

/// A task's checkout is made as `.preparing-<task>`; a task id never starts with `.`.
const PREPARING: &str = ".preparing-";

fn is_idle(path: &Path) -> bool {
    named_from(path, IDLE)
}

fn is_preparing(path: &Path) -> bool {
    named_from(path, PREPARING)
}

fn named_from(path: &Path, prefix: &str) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(prefix))
}

/// Removes a worktree's `index.lock`, which a git process ended mid-way leaves (an
/// agent's `git status`, say). Only safe when nothing can be using the worktree.
fn clear_index_lock(worktree: &Path) {
    if let Some(gitdir) = gitdir(worktree) {
        let _ = std::fs::remove_file(gitdir.join("index.lock"));
    }
}

/// A worktree's own git directory (its HEAD, index, MERGE_HEAD), as the `.git` file
/// git writes in the worktree names it.
fn gitdir(worktree: &Path) -> Option<PathBuf> {
    let pointer = std::fs::read_to_string(worktree.join(".git")).ok()?;
    let named = pointer.trim().strip_prefix("gitdir: ")?;
    // A relative name is relative to the worktree; `join` keeps an absolute one.
    Some(worktree.join(named))
}

/// A commit's subject from a task's description: its first line, cut as a subject
/// is read (and as a program's argument must be, at 128 KiB).
fn subject_of(description: &str) -> String {
    crate::core::clip(description, SUBJECT_CHARS)
}

/// The most characters of a description a commit's subject takes.
const SUBJECT_CHARS: usize = 100;

/// Reads `git diff -z --name-status` (a status, then a path, each ended by NUL, so
/// that any path reads as it is): added files are created, anything else modified.
fn changes(name_status: &str) -> Changes {
    let mut changes = Changes::default();
    let mut fields = name_status.split('\0').filter(|field| !field.is_empty());
    while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
        if status.starts_with('A') {
            changes.created.push(path.into());
        } else {
            changes.modified.push(path.into());
        }
    }
    changes
}

#[cfg(test)]
mod tests;
