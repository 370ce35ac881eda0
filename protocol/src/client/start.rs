//! Starting the workspace's daemon when none answers, and waiting for one to exit.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use interprocess::local_socket::tokio::Stream;

use super::{connect_socket, ClientError, EXIT_LOCK_HELD, START_TIMEOUT};
use crate::private;
use crate::workspace::Workspace;

/// Starts `batond` for the workspace in the background and waits until it answers.
/// Two clients racing to start it are fine: one daemon wins the workspace lock, the
/// other exits, and both clients connect to the winner. A daemon that lost the lock to
/// one that is stopping is started again once the lock is free.
pub(super) async fn start_daemon(
    workspace: &Workspace,
    daemon: Option<&Path>,
) -> Result<Stream, ClientError> {
    let daemon = daemon.map(Path::to_path_buf).unwrap_or_else(daemon_program);
    let start_error = |reason: String| ClientError::Start {
        daemon: daemon.clone(),
        reason,
    };
    workspace
        .check_state_dir()
        .map_err(|err| ClientError::Refused(err.to_string()))?;
    let log_dir = workspace.log_dir();
    private::create_dir(&log_dir)
        .map_err(|err| start_error(format!("cannot create {}: {err}", log_dir.display())))?;
    // One file per starting client: clients racing to start the daemon must not
    // truncate each other's evidence of who won.
    let stderr_path = workspace.daemon_start_log(std::process::id());
    let spawn = || -> Result<std::process::Child, ClientError> {
        let stderr = std::fs::File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&stderr_path)
            .map_err(|err| {
                start_error(format!("cannot create {}: {err}", stderr_path.display()))
            })?;
        let mut command = std::process::Command::new(&daemon);
        command
            .arg("--workspace")
            .arg(workspace.root())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        detach(&mut command);
        command.spawn().map_err(|err| start_error(err.to_string()))
    };
    let mut child = spawn()?;

    let socket = workspace.socket_path();
    let deadline = Instant::now() + START_TIMEOUT;
    let mut delay = Duration::from_millis(2);
    loop {
        if let Ok(stream) = connect_socket(&socket).await {
            let _ = std::fs::remove_file(&stderr_path);
            return Ok(stream);
        }
        if let Ok(Some(status)) = child.try_wait() {
            if status.code() != Some(EXIT_LOCK_HELD) {
                let said = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                let said = said.lines().last().unwrap_or_default();
                let _ = std::fs::remove_file(&stderr_path);
                return Err(match said.strip_prefix("batond: ") {
                    Some(reason) => ClientError::Refused(reason.to_owned()),
                    // On a full disk the daemon cannot write why it stopped.
                    None if disk_full(&log_dir) => start_error(format!(
                        "it exited ({status}): the disk holding {} is full; free some space and try again",
                        log_dir.display()
                    )),
                    None => start_error(format!("it exited ({status}) without saying why")),
                });
            }
            // Another daemon holds the lock: a live one answers soon; one that is
            // stopping lets go of it, and then this client starts its own.
            if !lock_held(workspace) {
                child = spawn()?;
            }
        }
        if Instant::now() > deadline {
            return Err(start_error(format!(
                "it did not answer within {}s; its log is in {}",
                START_TIMEOUT.as_secs(),
                log_dir.display()
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// Whether the file system holding `path` has no space left for this user.
fn disk_full(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a valid C string and `stats` has room for the answer, which
    // is read only when the call succeeded.
    let stats = unsafe {
        if libc::statvfs(path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return false;
        }
        stats.assume_init()
    };
    stats.f_bavail == 0
}

/// Whether a daemon holds the workspace's lock (is running, starting or stopping).
fn lock_held(workspace: &Workspace) -> bool {
    let Ok(lock) = std::fs::File::open(workspace.daemon_lock()) else {
        return false;
    };
    match lock.try_lock_shared() {
        Ok(()) => {
            let _ = lock.unlock();
            false
        }
        Err(_) => true,
    }
}

/// Ends the workspace's daemon when it takes connections but answers nothing: with
/// SIGKILL, as a crash would end it (a stopped process hears no other signal), which
/// loses nothing it acknowledged. Only the workspace's own: the `batond` that
/// `daemon.json` names, while a daemon holds the workspace's lock. Answers its pid
/// once it has gone.
pub async fn end_stuck_daemon(workspace: &Workspace, limit: Duration) -> Result<u32, ClientError> {
    let pid = workspace
        .running_daemon()
        .map(|running| running.pid)
        .filter(|&pid| lock_held(workspace) && is_batond(pid))
        .ok_or_else(|| {
            ClientError::Refused(format!(
                "the daemon does not answer and {} does not name it; end it by hand                  (`pgrep -a batond` lists the daemons)",
                workspace.daemon_json().display()
            ))
        })?;
    // SAFETY: a signal to a process this user owns, checked to be the daemon.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) } != 0 {
        return Err(ClientError::Io(std::io::Error::last_os_error()));
    }
    wait_for_exit(pid, limit).await?;
    Ok(pid)
}

/// Whether process `pid` runs `batond`.
fn is_batond(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|name| name.trim() == "batond")
}

/// Waits until the daemon `pid` has exited: its lock goes with its files, so a
/// command run afterwards starts a new daemon at once. The process is watched rather
/// than the lock: another daemon, started meanwhile by a racing command, may hold the
/// lock by then, and that one is not ours to wait for.
pub async fn wait_for_exit(pid: u32, limit: Duration) -> Result<(), ClientError> {
    let exited = async {
        let mut delay = Duration::from_millis(1);
        while !process_gone(pid) {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    };
    tokio::time::timeout(limit, exited)
        .await
        .map_err(|_| ClientError::StillRunning { pid, limit })
}

/// Whether process `pid` has exited: no longer listed, or a zombie with no thread
/// left holding its files.
fn process_gone(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
    let zombie = state.is_some_and(|rest| rest.starts_with('Z'));
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count);
    zombie && threads <= 1
}

/// Puts the daemon in a session of its own, so that the terminal's signals (Ctrl-C in
/// the shell that ran the first command) do not reach it.
fn detach(command: &mut std::process::Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe and only changes this child's session.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
    }
}

/// The `batond` clients start: `BATON_DAEMON`, then the one beside this program,
/// then `batond` on PATH.
pub fn daemon_program() -> PathBuf {
    if let Some(path) = std::env::var_os("BATON_DAEMON") {
        return PathBuf::from(path);
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join("batond")))
        .filter(|path| path.exists());
    beside.unwrap_or_else(|| PathBuf::from("batond"))
}
