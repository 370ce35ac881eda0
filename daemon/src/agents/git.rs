//! Running git: the one place baton shells out to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncReadExt;

/// The oldest git with `merge-tree --write-tree`, which merges without a checkout.
const OLDEST: (u32, u32) = (2, 38);

/// Why a git operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed or not on PATH ({0}); install git 2.38 or newer, or set isolation to shared")]
    Missing(String),
    #[error("git {found} is too old; baton needs git 2.38 or newer for worktree isolation (or set isolation to shared)")]
    TooOld { found: String },
    #[error("`git {command}` failed in {}: {message}", dir.display())]
    Failed {
        command: String,
        dir: PathBuf,
        message: String,
    },
}

/// Marks the git commands the daemon runs, so that a daemon that starts can wait for
/// those of a daemon that died to finish (killing git half-way leaves a repository
/// that git itself then refuses to use).
pub const DAEMON_GIT: &str = "BATON_DAEMON_GIT";

/// The marker's value: the repository the command works for. Worktrees live inside
/// `<repo>/.baton`, so the part before it names the repository for them too.
fn dir_marker(dir: &Path) -> String {
    let text = dir.display().to_string();
    match text.find(&format!("/{}/", baton_protocol::workspace::STATE_DIR)) {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Waits (up to `limit`) until no git command the daemon ran for `repo` is running.
pub async fn wait_for_daemon_git(repo: &Path, limit: std::time::Duration) {
    let marker = dir_marker(repo);
    let deadline = tokio::time::Instant::now() + limit;
    while !super::process::marked(DAEMON_GIT, &marker).is_empty()
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// What a git command printed, and whether it succeeded.
pub struct Output {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// `git ARGS` in `dir`, marked as the daemon's, never asking for anything. Paths
/// come out as they are, not quoted with octal escapes (`"caf\303\251.txt"`): they
/// go into tasks' results and the agents' prompts.
fn command(dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .args(["-c", "core.quotePath=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env(DAEMON_GIT, dir_marker(dir))
        .stdin(Stdio::null());
    super::process::with_started_umask(&mut command);
    command
}

/// Runs `git ARGS` in `dir`; a non-zero exit is not an error here.
pub async fn run(dir: &Path, args: &[&str]) -> Result<Output, GitError> {
    let output = command(dir, args)
        .output()
        .await
        .map_err(|err| GitError::Missing(err.to_string()))?;
    Ok(Output {
        ok: output.status.success(),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// Runs `git ARGS` in `dir` and answers its trimmed output, or the failure.
pub async fn ok(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let output = run(dir, args).await?;
    if !output.ok {
        return Err(GitError::Failed {
            command: args.join(" "),
            dir: dir.to_owned(),
            message: output.stderr.trim().to_owned(),
        });
    }
    Ok(output.stdout.trim().to_owned())
}

/// The start of what a read-only `git ARGS` prints, at most `limit` bytes, and whether
/// that is all of it: git is ended once `limit` bytes are read, so that a task's
/// diff of any size costs the daemon no more.
pub async fn ok_at_most(
    dir: &Path,
    args: &[&str],
    limit: usize,
) -> Result<(String, bool), GitError> {
    let failed = |message: String| GitError::Failed {
        command: args.join(" "),
        dir: dir.to_owned(),
        message,
    };
    let mut child = command(dir, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| GitError::Missing(err.to_string()))?;
    // Read beside stdout, so that git never waits on a full pipe.
    let stderr = child.stderr.take().expect("piped stderr");
    let said = tokio::spawn(super::process::tail_of(stderr));
    let mut printed = Vec::new();
    let stdout = child.stdout.take().expect("piped stdout");
    stdout
        .take(limit as u64)
        .read_to_end(&mut printed)
        .await
        .map_err(|err| failed(err.to_string()))?;
    let whole = printed.len() < limit;
    if !whole {
        let _ = child.start_kill();
    }
    let status = child.wait().await.map_err(|err| failed(err.to_string()))?;
    let said = said.await.unwrap_or_default().trim().to_owned();
    if whole && !status.success() {
        return Err(failed(said));
    }
    Ok((String::from_utf8_lossy(&printed).into_owned(), whole))
}

/// Checks that git is there and new enough.
pub async fn check_version(dir: &Path) -> Result<(), GitError> {
    let said = ok(dir, &["--version"]).await?;
    let found = said.trim_start_matches("git version ").to_owned();
    let mut numbers = found
        .split(['.', ' '])
        .map(|part| part.parse::<u32>().unwrap_or(0));
    let version = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    if version < OLDEST {
        return Err(GitError::TooOld { found });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_start_of_a_long_answer_is_read_and_said_to_be_cut() {
        let repo = tempfile::tempdir().unwrap();
        let dir = repo.path();
        for args in [
            &["init", "--quiet"][..],
            &["config", "user.email", "dev@example.com"],
            &["config", "user.name", "Dev"],
        ] {
            ok(dir, args).await.unwrap();
        }
        std::fs::write(dir.join("big.txt"), "line\n".repeat(200_000)).unwrap();
        ok(dir, &["add", "big.txt"]).await.unwrap();
        ok(dir, &["commit", "--quiet", "-m", "big"]).await.unwrap();

        let (start, whole) = ok_at_most(dir, &["show", "HEAD:big.txt"], 1_000)
            .await
            .unwrap();
        assert_eq!((start.len(), whole), (1_000, false));
        let (all, whole) = ok_at_most(dir, &["show", "HEAD:big.txt"], 2_000_000)
            .await
            .unwrap();
        assert_eq!((all.len(), whole), (1_000_000, true));
        let refused = ok_at_most(dir, &["show", "HEAD:missing.txt"], 1_000).await;
        assert!(
            matches!(refused, Err(GitError::Failed { .. })),
            "{refused:?}"
        );
    }
}
