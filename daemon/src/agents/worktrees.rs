//! Isolation: each task works in its own git worktree, on its own branch, started from
//! the integration branch that holds every finished task; finished work is committed
//! and merged back one task at a time, in the order tasks finish.
//!
//! Checkouts are reused: a task's worktree, once its work is committed, is detached
//! and kept idle, and the next task's worktree is made from it by checking out only
//! what differs — on a large repository that is the difference between writing every
//! file and writing a few.
//!
//! Merges are made without a checkout (`git merge-tree --write-tree`, then
//! `commit-tree` and a compare-and-swap `update-ref`), so the integration branch moves
//! atomically: a crash leaves it either before or after a merge, never half-way. The
//! user's own checkout and uncommitted work are never touched, and every task's work
//! stays on its branch `baton/<task>` until the user removes it.

use std::path::{Path, PathBuf};

use baton_protocol::{private, TaskId, Workspace};

use super::git::{self, GitError};

/// Why a task's worktree could not be made or merged.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WorktreeError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("{} is not a git repository; set isolation to shared (`baton config isolation shared`)", .0.display())]
    NotARepository(PathBuf),
    #[error("the repository has no commit yet; commit once, then run again")]
    NoCommit,
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
            // Whatever git was doing in there when its agent was ended left its lock.
            clear_index_lock(&entry.path());
            if is_idle(&entry.path()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            self.set_aside(&TaskId(name)).await?;
        }
        Ok(())
    }

    /// Whether `repo` has the branch `name` (git or not).
    pub async fn has_branch(repo: &Path, name: &str) -> Result<bool, WorktreeError> {
        let reference = format!("refs/heads/{name}");
        let args = ["rev-parse", "--verify", "--quiet", &reference];
        Ok(git::run(repo, &args).await?.ok)
    }

    pub fn branch(&self, task: &TaskId) -> String {
        format!("baton/{task}")
    }

    fn path(&self, task: &TaskId) -> PathBuf {
        self.dir.join(task.as_str())
    }

    /// The task's worktree at `.baton/worktrees/<task>`, on its branch: the branch an
    /// earlier attempt left, else a new one from the integration branch's tip. An idle
    /// checkout is reused when there is one, so that only what differs is written.
    pub async fn prepare(&self, task: &TaskId) -> Result<PathBuf, WorktreeError> {
        let path = self.path(task);
        if path.exists() {
            self.set_aside(task).await?;
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
        let location = path.display().to_string();
        let admin = self.admin.lock().await;
        let idle = self.idle();
        if let Some(idle) = &idle {
            let from = idle.display().to_string();
            git::ok(&self.repo, &["worktree", "move", &from, &location]).await?;
            drop(admin);
        }
        match idle {
            Some(_) => {
                if exists {
                    git::ok(&path, &["checkout", "--quiet", "--force", &branch]).await?;
                } else {
                    let start = [
                        "checkout",
                        "--quiet",
                        "--force",
                        "-B",
                        &branch,
                        &self.integration,
                    ];
                    git::ok(&path, &start).await?;
                }
                git::ok(&path, &["clean", "-fdq"]).await?;
            }
            None if exists => {
                git::ok(
                    &self.repo,
                    &["worktree", "add", "--quiet", &location, &branch],
                )
                .await?;
            }
            None => {
                let add = [
                    "worktree",
                    "add",
                    "--quiet",
                    "-b",
                    &branch,
                    &location,
                    &self.integration,
                ];
                git::ok(&self.repo, &add).await?;
            }
        }
        // git made the checkout's directory with the user's umask: .baton/ is private.
        private::tighten(&path, &[&path]).map_err(|err| GitError::Failed {
            command: "worktree add".into(),
            dir: path.clone(),
            message: err.to_string(),
        })?;
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
        let parked = idle.len() < KEEP_IDLE
            && git::run(path, &["checkout", "--quiet", "--detach"])
                .await?
                .ok
            && git::run(path, &["clean", "-fdq"]).await?.ok
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

    /// Commits the task's work and brings the integration branch into its worktree
    /// with a real merge there (the user's checkout is not touched). A merge left
    /// open by an earlier conflict is concluded with what the agent made of it, unless
    /// markers are left.
    pub async fn bring_in(
        &self,
        task: &TaskId,
        description: &str,
    ) -> Result<BroughtIn, WorktreeError> {
        let path = self.path(task);
        let subject = format!("{task}: {}", first_line(description));
        if merging(&path).await? {
            git::ok(&path, &["add", "--all"]).await?;
            let markers = left_markers(&path).await?;
            if !markers.is_empty() {
                return Ok(BroughtIn::Unresolved { paths: markers });
            }
            let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
            args.extend(["commit", "--quiet", "--no-verify", "--no-edit"]);
            git::ok(&path, &args).await?;
        } else {
            self.commit_all(&path, &subject).await?;
        }
        let reference = format!("refs/heads/{}", self.integration);
        let tip = git::ok(&path, &["rev-parse", &reference]).await?;
        if git::run(&path, &["merge-base", "--is-ancestor", &tip, "HEAD"])
            .await?
            .ok
        {
            return Ok(BroughtIn::Merged);
        }
        let message = format!("Merge {} into {task}", self.integration);
        let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        args.extend([
            "merge",
            "--no-edit",
            "--quiet",
            "--no-verify",
            "-m",
            &message,
            &tip,
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
        let base = git::ok(&path, &["merge-base", "HEAD", &tip]).await?;
        let mut args = vec!["diff", "--no-color", &base, &tip, "--"];
        args.extend(paths.iter().map(String::as_str));
        let theirs = git::ok(&path, &args).await?;
        Ok(BroughtIn::Conflict { paths, theirs })
    }

    /// Moves the integration branch to the task's verified tree, only if the branch
    /// is where that tree was made from (a fast-forward, compare-and-swap); then
    /// takes the worktree away (the branch stays).
    pub async fn land(&self, task: &TaskId, description: &str) -> Result<Landed, WorktreeError> {
        let landed = {
            let _one_at_a_time = self.merging.lock().await;
            let repo = &self.repo;
            let reference = format!("refs/heads/{}", self.integration);
            let tip = git::ok(repo, &["rev-parse", &reference]).await?;
            let branch = self.branch(task);
            let work = git::ok(repo, &["rev-parse", &format!("refs/heads/{branch}")]).await?;
            if !git::run(repo, &["merge-base", "--is-ancestor", &tip, &work])
                .await?
                .ok
            {
                return Ok(Landed::Moved);
            }
            // The work holds the integration branch, so what differs from its tip
            // is what the task changed.
            let changes = changes(
                &git::ok(
                    repo,
                    &["diff", "--name-status", "--no-renames", &tip, &work],
                )
                .await?,
            );
            if tip != work {
                // A merge commit of exactly the verified tree: the integration
                // branch's first parents are the trees that passed, one per task.
                let tree = git::ok(repo, &["rev-parse", &format!("{work}^{{tree}}")]).await?;
                let message = format!("Merge {task}: {}", first_line(description));
                self.commit_merge(&tree, &tip, &work, &message).await?;
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
        let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        args.extend(["commit-tree", tree, "-p", tip, "-p", work, "-m", message]);
        let commit = git::ok(&self.repo, &args).await?;
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
        let commits = plural(new, "new commit");
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
        let status = git::ok(repo, &["status", "--porcelain"]).await?;
        let paths: Vec<&str> = status.lines().filter_map(|line| line.get(3..)).collect();
        if !paths.is_empty() {
            let shown = paths.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            let more = if paths.len() > 3 { ", …" } else { "" };
            notes.push(format!(
                "the checkout has {} ({shown}{more}) that agents will not see; commit them to include them",
                plural(paths.len(), "uncommitted change")
            ));
        }
        Ok(notes)
    }

    /// Keeps whatever the task's agent left (committed on its branch) and removes the
    /// worktree, for a task that did not finish well.
    pub async fn set_aside(&self, task: &TaskId) -> Result<(), WorktreeError> {
        let path = self.path(task);
        if path.join(".git").exists() {
            if merging(&path).await? {
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
            self.commit_all(&path, &format!("{task}: unfinished work, kept by baton"))
                .await?;
        }
        self.park(&path).await
    }

    async fn commit_all(&self, path: &Path, subject: &str) -> Result<(), WorktreeError> {
        git::ok(path, &["add", "--all"]).await?;
        if git::run(path, &["diff", "--cached", "--quiet"]).await?.ok {
            return Ok(());
        }
        let mut args: Vec<&str> = self.identity.iter().map(String::as_str).collect();
        args.extend(["commit", "--quiet", "--no-verify", "-m", subject]);
        git::ok(path, &args).await?;
        Ok(())
    }

    /// Removes every idle checkout, and each task branch `removable` allows (given
    /// the task and whether its branch is merged into the integration branch);
    /// answers the branches removed and how many checkouts. Only between runs: no
    /// agent may be using a checkout.
    pub async fn clean(
        &self,
        removable: impl Fn(&TaskId, bool) -> bool,
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
        let listed = git::ok(
            &self.repo,
            &[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/baton/",
            ],
        )
        .await?;
        let mut removed = Vec::new();
        for branch in listed.lines() {
            let Some(task) = branch
                .strip_prefix("baton/")
                .filter(|id| id.starts_with("task-"))
            else {
                continue;
            };
            let merged = ["merge-base", "--is-ancestor", branch, &self.integration];
            let merged = git::run(&self.repo, &merged).await?.ok;
            if removable(&TaskId(task.to_owned()), merged)
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

    /// Brings the integration branch into the user's current branch: a fast-forward
    /// when possible, else a merge. Refuses when the checkout has uncommitted changes.
    pub async fn merge_into_checkout(&self) -> Result<String, WorktreeError> {
        let repo = &self.repo;
        let dirty = git::ok(repo, &["status", "--porcelain", "--untracked-files=no"]).await?;
        if !dirty.is_empty() {
            return Err(GitError::Failed {
                command: "merge".into(),
                dir: repo.clone(),
                message: "the checkout has uncommitted changes; commit or stash them first".into(),
            }
            .into());
        }
        let current = git::ok(repo, &["rev-parse", "--abbrev-ref", "HEAD"]).await?;
        let merged_already = ["merge-base", "--is-ancestor", &self.integration, "HEAD"];
        if git::run(repo, &merged_already).await?.ok {
            return Ok(format!(
                "nothing to merge: {current} already has everything on {}",
                self.integration
            ));
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
        let _ = git::run(repo, &["merge", "--abort"]).await;
        Err(GitError::Failed {
            command: format!("merge {}", self.integration),
            dir: repo.clone(),
            message: format!("{}; nothing was changed", merged.stdout.trim()),
        }
        .into())
    }
}

/// Whether a merge is open in the worktree at `path`.
async fn merging(path: &Path) -> Result<bool, GitError> {
    Ok(
        git::run(path, &["rev-parse", "--verify", "--quiet", "MERGE_HEAD"])
            .await?
            .ok,
    )
}

/// The staged paths that still hold conflict markers.
async fn left_markers(path: &Path) -> Result<Vec<String>, GitError> {
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

/// What merging two commits without a checkout gave.
enum Merged {
    /// The merged tree's id.
    Clean(String),
    /// The paths that conflict.
    Conflict(Vec<String>),
}

/// "1 new commit", "2 new commits".
fn plural(count: usize, noun: &str) -> String {
    match count {
        1 => format!("1 {noun}"),
        _ => format!("{count} {noun}s"),
    }
}

/// Idle checkouts are named `idle-N`; task ids never start so.
const IDLE: &str = "idle-";
/// How many idle checkouts are kept.
const KEEP_IDLE: usize = 16;

fn is_idle(path: &Path) -> bool {
    path.file_name()
        .and_then(|name| name.to_str())
        .is_some_and(|name| name.starts_with(IDLE))
}

/// Removes a worktree's `index.lock`, which a git process ended mid-way leaves (an
/// agent's `git status`, say). Only safe when nothing can be using the worktree.
fn clear_index_lock(worktree: &Path) {
    let Ok(pointer) = std::fs::read_to_string(worktree.join(".git")) else {
        return;
    };
    if let Some(gitdir) = pointer.trim().strip_prefix("gitdir: ") {
        let _ = std::fs::remove_file(Path::new(gitdir).join("index.lock"));
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// Reads `git diff --name-status`: added files are created, anything else modified.
fn changes(name_status: &str) -> Changes {
    let mut changes = Changes::default();
    for line in name_status.lines() {
        let Some((status, path)) = line.split_once('\t') else {
            continue;
        };
        if status.starts_with('A') {
            changes.created.push(path.into());
        } else {
            changes.modified.push(path.into());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn added_files_are_created_and_the_rest_modified() {
        let changes = changes("A\tsrc/new.rs\nM\tsrc/lib.rs\nD\told.txt\n");
        assert_eq!(changes.created, vec!["src/new.rs"]);
        assert_eq!(changes.modified, vec!["src/lib.rs", "old.txt"]);
    }
}
