//! Where a workspace's daemon lives: its state directory, every file in it, and its
//! socket. Every `.baton/...` path comes from `Workspace`; no caller joins them by hand.
//!
//! The socket sits in a per-user private directory (mode 0700) rather than in the
//! workspace, because Unix socket paths are limited to about 100 bytes and workspaces
//! can be deep. Its name is a hash of the workspace's canonical path, so every client
//! of one workspace finds the same daemon.

use std::hash::Hasher;
use std::io;
use std::path::{Path, PathBuf};

use crate::TaskId;

/// The prefix of the daemon's daily log files in `.baton/logs`.
pub const DAEMON_LOG: &str = "daemon.log";
/// The name of a workspace's state directory, `Workspace::state_dir`.
pub const STATE_DIR: &str = ".baton";

/// The most `daemon.json` is read of: it holds a pid, a path and a version.
const DAEMON_JSON_LIMIT: u64 = 64 * 1024;

/// A workspace: the directory one daemon serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    /// Exactly `dir`, as given with `-C`.
    pub fn at(dir: &Path) -> io::Result<Workspace> {
        let root = dir.canonicalize().map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("workspace {} is not a directory: {err}", dir.display()),
            )
        })?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("workspace {} is not a directory", root.display()),
            ));
        }
        Ok(Workspace { root })
    }

    /// The nearest directory at or above `dir` that is a baton workspace already (has
    /// `.baton`) or a git top-level (has `.git`); `dir` itself when there is none.
    /// Looking upwards costs far less than running git.
    pub fn discover(dir: &Path) -> io::Result<Workspace> {
        let start = Workspace::at(dir)?.root;
        let root = start
            .ancestors()
            .find(|dir| dir.join(STATE_DIR).is_dir() || dir.join(".git").exists())
            .unwrap_or(&start)
            .to_path_buf();
        Ok(Workspace { root })
    }

    /// The workspace's directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<workspace>/.baton`: the database, logs and worktrees.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    /// `.baton/state`: the store's database.
    pub fn store_dir(&self) -> PathBuf {
        self.state_dir().join("state")
    }

    /// `.baton/state.check`: what the store must hold (the last durable change and
    /// the counts), kept outside the database so that a damaged one is caught.
    pub fn store_check(&self) -> PathBuf {
        self.state_dir().join("state.check")
    }

    /// `.baton/snapshots`: the newest snapshots of the whole state, for `restore`.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.state_dir().join("snapshots")
    }

    /// `.baton/daemon.lock`, held by the running daemon for its whole life.
    pub fn daemon_lock(&self) -> PathBuf {
        self.state_dir().join("daemon.lock")
    }

    /// `.baton/daemon.json`: the running daemon's pid, socket and version.
    pub fn daemon_json(&self) -> PathBuf {
        self.state_dir().join("daemon.json")
    }

    /// `.baton/logs`: the daemon's log and the agents' logs.
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    /// The daemon's log of one day: `.baton/logs/daemon.log.<YYYY-MM-DD>`, the name
    /// a daily rolling log with the prefix `DAEMON_LOG` gets.
    pub fn daemon_log(&self, day: chrono::NaiveDate) -> PathBuf {
        self.log_dir()
            .join(format!("{DAEMON_LOG}.{}", day.format("%Y-%m-%d")))
    }

    /// Where a client that starts the daemon keeps the daemon's standard error, one
    /// file per client (`pid`) so racing clients do not overwrite each other's.
    pub fn daemon_start_log(&self, pid: u32) -> PathBuf {
        self.log_dir().join(format!("batond-start-{pid}.stderr"))
    }

    /// `.baton/logs/tasks`: one log per task.
    pub fn task_logs_dir(&self) -> PathBuf {
        self.log_dir().join("tasks")
    }

    /// A task's agent log: every attempt's stream-json, one event per line.
    pub fn task_log(&self, task: &TaskId) -> PathBuf {
        self.task_logs_dir().join(format!("{task}.log"))
    }

    /// The leader's log of the latest run.
    pub fn leader_log(&self) -> PathBuf {
        self.log_dir().join("leader.log")
    }

    /// The log of the latest run's summary.
    pub fn summary_log(&self) -> PathBuf {
        self.log_dir().join("summary.log")
    }

    /// `.baton/logs/reports`: each run's markdown report; it moves with its board's
    /// logs when the board is put aside.
    pub fn reports_dir(&self) -> PathBuf {
        self.log_dir().join("reports")
    }

    /// The markdown report of run `run` of the current board.
    pub fn run_report(&self, run: u64) -> PathBuf {
        self.reports_dir().join(format!("run-{run}.md"))
    }

    /// `.baton/history`: boards put aside for a new goal or a reset, one directory
    /// each, listed by `baton history`.
    pub fn history_dir(&self) -> PathBuf {
        self.state_dir().join("history")
    }

    /// One archived board: its state file and, beside it, its agents' logs.
    pub fn archive_dir(&self, name: &str) -> PathBuf {
        self.history_dir().join(name)
    }

    /// An archived board's state, a state file `baton load` takes.
    pub fn archive_state(&self, name: &str) -> PathBuf {
        self.archive_dir(name).join("state.json")
    }

    /// An archived board's logs: `tasks/`, `leader.log` and `summary.log`, as they
    /// were in `.baton/logs`.
    pub fn archive_logs(&self, name: &str) -> PathBuf {
        self.archive_dir(name).join("logs")
    }

    /// `.baton/agents`: each running agent's MCP configuration and Claude Code
    /// configuration directory.
    pub fn agents_dir(&self) -> PathBuf {
        self.state_dir().join("agents")
    }

    /// The MCP configuration handed to one running agent.
    pub fn mcp_config(&self, agent_id: &str) -> PathBuf {
        self.agents_dir().join(format!("{agent_id}.mcp.json"))
    }

    /// One agent's own Claude Code configuration directory, so that no two agents
    /// share a `.claude.json`.
    pub fn agent_config_dir(&self, agent_id: &str) -> PathBuf {
        self.agents_dir().join(agent_id)
    }

    /// Refuses a `.baton` baton must not write in: a symbolic link (or its `logs`,
    /// which a client writes in before the daemon starts), or a directory another
    /// user owns. A checkout can carry a `.baton` of its own (a repository may hold
    /// links), and what baton keeps there — prompts, code, tool output, the state —
    /// must not go wherever it points, nor where someone else can read, replace or
    /// remove it. Links deeper in are refused as the daemon makes `.baton` private
    /// ([`crate::private::tighten`]).
    pub fn check_state_dir(&self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let state_dir = self.state_dir();
        let Some(meta) = not_a_link(&state_dir)? else {
            return Ok(());
        };
        if !meta.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!(
                    "{} is not a directory; baton keeps its state there: move it away and run again",
                    state_dir.display()
                ),
            ));
        }
        if meta.uid() != current_uid() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} belongs to another user; baton keeps its state only in a directory of \
                     yours: move it away and run again",
                    state_dir.display()
                ),
            ));
        }
        not_a_link(&self.log_dir())?;
        Ok(())
    }

    /// `.baton/worktrees`: one git worktree per running task.
    pub fn worktrees_dir(&self) -> PathBuf {
        self.state_dir().join("worktrees")
    }

    /// The socket the running daemon wrote in `daemon.json`, when it differs from
    /// [`Workspace::socket_path`]: a daemon started from a shell whose runtime
    /// directory (`XDG_RUNTIME_DIR`, `TMPDIR`) is not this one's.
    pub fn socket_elsewhere(&self) -> Option<PathBuf> {
        let running = self.running_daemon()?;
        (running.socket != self.socket_path()).then_some(running.socket)
    }

    /// What `daemon.json` says of the daemon that runs (or ran last, if it crashed).
    pub fn running_daemon(&self) -> Option<RunningDaemon> {
        let bytes = crate::regular_file::read(&self.daemon_json(), DAEMON_JSON_LIMIT).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The daemon's socket. Only the owning user can reach its directory.
    pub fn socket_path(&self) -> PathBuf {
        let mut hasher = fnv::FnvHasher::default();
        hasher.write(self.root.as_os_str().as_encoded_bytes());
        runtime_dir().join(format!("{:016x}.sock", hasher.finish()))
    }
}

/// What `daemon.json` says of the running daemon: for a client whose own runtime
/// directory differs from the daemon's, and for a second daemon to report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunningDaemon {
    pub pid: u32,
    pub socket: PathBuf,
    pub version: String,
}

/// What `path` is, `None` when there is nothing there; refused when it is a symbolic
/// link.
fn not_a_link(path: &Path) -> io::Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(crate::private::link_refused(path)),
        Ok(meta) => Ok(Some(meta)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("cannot read {}: {err}", path.display()),
        )),
    }
}

/// `$XDG_RUNTIME_DIR/baton`, or `<tmp>/baton-<uid>` where there is none.
pub fn runtime_dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("baton"),
        _ => std::env::temp_dir().join(format!("baton-{}", current_uid())),
    }
}

#[cfg(unix)]
fn current_uid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

#[cfg(not(unix))]
fn current_uid() -> u32 {
    0
}

/// Makes `dir` (and its parents) and checks that only this user can enter it, so no
/// one else can reach a socket inside.
#[cfg(unix)]
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let meta = std::fs::metadata(dir)?;
    if meta.uid() != current_uid() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} belongs to another user; set XDG_RUNTIME_DIR to a private directory",
                dir.display()
            ),
        ));
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_finds_the_git_top_level_from_a_subdirectory() {
        let dir = std::env::temp_dir().join(format!("baton-ws-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".git")).unwrap();
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        let found = Workspace::discover(&dir.join("a/b")).unwrap();
        assert_eq!(found.root(), dir.canonicalize().unwrap());
        assert_eq!(
            found.socket_path(),
            Workspace::at(&dir).unwrap().socket_path()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
