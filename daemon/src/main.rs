//! batond: serves one workspace until told to stop. Clients start it; users rarely do.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use baton_daemon::agents::worktrees::BranchNames;
use baton_daemon::agents::Runtime;
use baton_daemon::core::Board;
use baton_daemon::memory;
use baton_daemon::orchestrator::{self, Orchestrator};
use baton_daemon::server::{self, Daemon};
use baton_daemon::store::check::CheckFile;
use baton_daemon::store::snapshots::{self, Snapshots};
use baton_daemon::store::{restore, Expected, GroupCommit, Stopped, Store, StoreError};
use baton_protocol::{
    private, workspace, Config, Crash, RunningDaemon, Workspace, EXIT_LOCK_HELD, VERSION,
};
use clap::Parser;

/// The per-workspace baton daemon.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The workspace to serve.
    #[arg(long)]
    workspace: PathBuf,
    /// Run as the daemon's reaper: wait until the daemon is gone (standard input
    /// closes), then end every process its agents left.
    #[arg(long, hide = true)]
    reaper: bool,
    /// Instead of serving, replace the store with the newest snapshot (or `--from`'s
    /// file) and say what is lost; `baton restore` runs this.
    #[arg(long)]
    restore: bool,
    /// The snapshot or `baton save` file to restore.
    #[arg(long, value_name = "FILE", requires = "restore")]
    from: Option<PathBuf>,
    /// Restore even a store that is not damaged, losing the changes after the source.
    #[arg(long, requires = "restore")]
    yes: bool,
}

/// The exit status of a daemon that stopped because its state could not be kept
/// (EX_SOFTWARE): what it acknowledged is on disk, nothing after.
const STOPPED: i32 = 70;

fn main() {
    memory::keep_large_allocations_apart();
    let args = Args::parse();
    private::make_everything_private();
    if args.reaper {
        reap(&args.workspace);
        return;
    }
    let result = if args.restore {
        restore(&args).map(|said| println!("{said}"))
    } else {
        run(&args)
    };
    match result {
        Ok(()) => {}
        Err(err) => match err.downcast_ref::<Stopped>() {
            Some(stopped) => say_and_exit(&format!("stopped: {stopped}"), STOPPED),
            None if err.downcast_ref::<LockHeld>().is_some() => {
                say_and_exit(&format!("{err:#}"), EXIT_LOCK_HELD)
            }
            None => say_and_exit(&format!("{err:#}"), 1),
        },
    }
}

/// Says why the daemon ends on standard error, which the starting client reads, and
/// exits. Standard error may be a file on a full disk: a message that cannot be
/// written is lost, but the exit status still says the daemon failed.
fn say_and_exit(why: &str, code: i32) -> ! {
    let _ = writeln!(std::io::stderr(), "batond: {why}");
    std::process::exit(code)
}

/// `.baton/` and everything in it private, whatever the umask.
fn prepare_state_dir(workspace: &Workspace) -> anyhow::Result<()> {
    workspace.check_state_dir()?;
    let state_dir = workspace.state_dir();
    private::create_dir(&workspace.log_dir())
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    tighten(workspace)
}

/// Takes group and other permissions off everything in `.baton/` but the worktrees'
/// and the agents' contents, and refuses a symbolic link elsewhere in it.
fn tighten(workspace: &Workspace) -> anyhow::Result<()> {
    let state_dir = workspace.state_dir();
    let worktrees = workspace.worktrees_dir();
    let agents = workspace.agents_dir();
    private::tighten(&state_dir, &[&worktrees, &agents])
        .with_context(|| format!("cannot make {} private", state_dir.display()))
}

fn restore(args: &Args) -> anyhow::Result<String> {
    let workspace = Workspace::at(&args.workspace)?;
    prepare_state_dir(&workspace)?;
    let _lock = lock_workspace(&workspace, Holder::Restore)?;
    let paths = restore::Paths {
        state: &workspace.store_dir(),
        check: &workspace.store_check(),
        snapshots: &workspace.snapshots_dir(),
    };
    // Said in one sentence: the error's own words already name its cause.
    let said = restore::restore(&paths, args.from.as_deref(), args.yes)
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    tighten(&workspace)?;
    Ok(said)
}

/// What a store that cannot be served needs said: how to bring it back.
fn restore_hint(workspace: &Workspace) -> String {
    let snapshots = Snapshots::new(&workspace.snapshots_dir());
    match snapshots.newest_whole() {
        Some(snapshot) => format!(
            "`baton restore` brings back the latest snapshot ({}, change {}), losing only the changes after it, or `baton restore --from FILE` a file written by `baton save`",
            snapshot.path.display(),
            snapshot.change
        ),
        None if snapshots.latest().is_some() => format!(
            "no snapshot in {} holds a whole state: `baton restore --from FILE` brings back a file written by `baton save`",
            workspace.snapshots_dir().display()
        ),
        None => "there is no snapshot yet: `baton restore --from FILE` brings back a file written by `baton save`".into(),
    }
}

/// The daemon's life, in order: lock, open the store, serve, shut down. It is long
/// because each step holds what the next needs (the lock, the store, the runtime).
fn run(args: &Args) -> anyhow::Result<()> {
    let workspace = Workspace::at(&args.workspace)?;
    prepare_state_dir(&workspace)?;
    let _lock = lock_workspace(&workspace, Holder::Daemon)?;
    let _reaper = start_reaper(workspace.root())?;
    exclude_from_git(workspace.root());
    let crashed = earlier_crash(&workspace);
    let _log = start_logging(&workspace);
    stop_on_panic(&workspace);

    let socket = workspace.socket_path();
    workspace::ensure_private_dir(socket.parent().expect("the socket has a directory"))?;
    // We hold the workspace lock, so a socket file left here is from a dead daemon.
    let _ = std::fs::remove_file(&socket);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let snapshots_dir = workspace.snapshots_dir();
    let root = identity(workspace.root());
    runtime.block_on(async {
        let refused = |err: StoreError| {
            let err = if err.needs_restore() {
                anyhow::anyhow!("{err}; {}", restore_hint(&workspace))
            } else {
                anyhow::anyhow!("{err}")
            };
            tracing::error!("{err}");
            err
        };
        let mut store =
            Store::open(&workspace.store_dir(), &workspace.store_check()).map_err(refused)?;
        store.expect_snapshots(Snapshots::new(&snapshots_dir).list());
        store.start_unconfigured_with(Config {
            integration_branch: BranchNames::of(workspace.root()).integration(),
            ..Config::default()
        });
        let commit = store
            .group_commit(&[workspace.daemon_lock()])
            .map_err(refused)?;
        let orchestrator = Orchestrator::open(store, commit.clone()).map_err(refused)?;
        memory::return_freed();
        // The database's files are the umask's mode when sled creates them.
        tighten(&workspace)?;
        let crash = crashed.map(|(stopped_at, log_file)| Crash {
            stopped_at,
            log_file,
            run_resumed: orchestrator.read(Board::is_running),
        });
        if let Some(crash) = &crash {
            tracing::warn!(
                "the daemon before this one stopped unexpectedly (last seen at {}, log {})",
                crash.stopped_at,
                crash.log_file
            );
        }
        // Listening before the runtime tidies what a killed daemon left (on a large
        // repository, committing each interrupted agent's work takes a while): a
        // client that connects meanwhile waits for its answer rather than giving up
        // on a daemon that seems not to start.
        let mut listener = server::listen(&socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        let kept = server::settle_pending(&workspace, || orchestrator.read(Board::state));
        let runtime = Runtime::start(orchestrator.clone(), &workspace).await;
        server::finish_pending(&workspace, &runtime, kept).await;
        let running = RunningDaemon {
            pid: std::process::id(),
            socket: socket.clone(),
            version: VERSION.into(),
        };
        write_private(&workspace.daemon_json(), &serde_json::to_vec(&running)?)?;
        tracing::info!(workspace = %workspace.root().display(), socket = %socket.display(), "batond {VERSION} serving");

        let (shutdown, _) = tokio::sync::watch::channel(false);
        let daemon = Arc::new(Daemon {
            orchestrator: orchestrator.clone(),
            runtime: runtime.clone(),
            workspace: workspace.root().to_owned(),
            socket: socket.clone(),
            log_file: workspace.daemon_log(chrono::Utc::now().date_naive()),
            crash,
            shutdown: shutdown.clone(),
        });
        tokio::spawn(orchestrator::expire_claims(orchestrator.clone()));
        let (progress, taken) = orchestrator.progress();
        tokio::spawn(snapshots::keep(
            progress,
            taken,
            orchestrator.take(),
            commit.clone(),
            Snapshots::new(&snapshots_dir),
        ));
        tokio::spawn(stop_on_signal(shutdown));
        tokio::spawn(memory::return_freed_when_quiet(commit.clone()));
        tokio::spawn(watch_files(commit.clone()));
        let mut connections = server::Connections::new(server::connection_limit());
        let stopped = tokio::select! {
            () = server::accept(&mut listener, &daemon, &mut connections) => None,
            stopped = commit.stopped() => Some(stopped),
        };
        // Saved while the socket still stands: once it is gone, the next command
        // starts a daemon, which must find what this one held.
        if stopped.as_ref().is_some_and(Stopped::files_gone) {
            rescue(&workspace, root, &orchestrator);
        }
        drop(listener);
        let _ = std::fs::remove_file(&socket);
        // Shutdown in order: every agent told to end and waited for (a waiting
        // `baton/run` is answered then), then every connection told to close and
        // waited for, so that each answer and event reaches its client first.
        runtime.shut_down().await;
        connections.close().await;
        if let Some(stopped) = stopped {
            let _ = std::fs::remove_file(workspace.daemon_json());
            return Err(stopped.into());
        }
        orchestrator.flush().await?;
        commit.checkpoint()?;
        snapshot_at_stop(&orchestrator, &Snapshots::new(&snapshots_dir));
        let _ = std::fs::remove_file(workspace.daemon_json());
        tracing::info!("batond stopped");
        anyhow::Ok(())
    })
}

/// A snapshot of what changed since the last one, so that a stopped workspace can
/// always be restored to where it stopped.
fn snapshot_at_stop(orchestrator: &Orchestrator, snapshots: &Snapshots) {
    // Everything was flushed before: the snapshot holds only durable changes.
    let (change, state, _) = orchestrator.snapshot();
    let latest = snapshots.latest().map_or(0, |snapshot| snapshot.change);
    if change > latest {
        if let Err(err) = snapshots.write(change, &state) {
            tracing::warn!("writing a snapshot failed: {err}");
        }
    }
}

/// The device and inode of the directory at `path`.
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

/// When files of the store were deleted under the daemon (`git clean -fdx` deletes
/// all of `.baton`) and its workspace, `root`, stays, writes what the daemon held: a
/// snapshot, and a check record saying the store held it where the record is gone
/// too, so that the next start refuses what is left of the store and `baton
/// restore` brings everything back. A workspace deleted whole, or made again at its
/// path, gets nothing.
fn rescue(workspace: &Workspace, root: Option<(u64, u64)>, orchestrator: &Orchestrator) {
    if root.is_none() || identity(workspace.root()) != root {
        return;
    }
    let (change, state, _) = orchestrator.snapshot();
    let expected = Expected {
        change,
        tasks: state.tasks.len(),
        discoveries: state.discoveries.len(),
    };
    let record = !workspace.store_check().exists();
    let written = private::create_dir(&workspace.state_dir())
        .and_then(|()| Snapshots::new(&workspace.snapshots_dir()).write(change, &state))
        .and_then(|snapshot| {
            if record {
                CheckFile::open(&workspace.store_check())?
                    .0
                    .write(&expected)?;
            }
            Ok(snapshot)
        });
    match written {
        Ok(snapshot) => tracing::error!(
            "what the daemon held is saved in {}; `baton restore` brings it back",
            snapshot.path.display()
        ),
        Err(err) => tracing::error!("saving what the daemon held failed: {err}"),
    }
}

/// Writes a file only this user can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = File::options()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// When the daemon before this one stopped without shutting down, and its log
/// (relative to the workspace). A clean stop removes `daemon.json`; one left behind,
/// now that this daemon holds the lock, was left by a daemon that crashed or was
/// killed. It was last seen working when its log or its state was last written.
fn earlier_crash(workspace: &Workspace) -> Option<(chrono::DateTime<chrono::Utc>, String)> {
    let left = std::fs::metadata(workspace.daemon_json()).ok()?;
    let modified = |path: &Path| {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .ok()
    };
    let logs: Vec<PathBuf> = std::fs::read_dir(workspace.log_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with(workspace::DAEMON_LOG))
        })
        .collect();
    let log = logs.iter().max_by_key(|path| modified(path))?;
    let state: Vec<PathBuf> = std::fs::read_dir(workspace.store_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    let last_seen = state
        .iter()
        .chain([log])
        .filter_map(|path| modified(path))
        .chain(left.modified().ok())
        .max()?;
    let log = log.strip_prefix(workspace.root()).unwrap_or(log);
    Some((last_seen.into(), log.display().to_string()))
}

/// Another daemon, or a restore, holds the workspace's lock.
#[derive(Debug, thiserror::Error)]
enum LockHeld {
    #[error("a baton daemon already runs for this workspace (pid {pid}, socket {}); `baton daemon stop` ends it", socket.display())]
    By { pid: u32, socket: PathBuf },
    #[error("a baton daemon already runs for this workspace; `baton daemon stop` ends it")]
    Unknown,
    #[error("`baton restore` is bringing this workspace's state back (pid {pid}); run the command again once it has finished")]
    Restoring { pid: u32 },
}

/// Who holds the workspace's lock, written in the lock file as `<pid> <holder>`.
#[derive(Clone, Copy)]
enum Holder {
    Daemon,
    Restore,
}

impl Holder {
    fn word(self) -> &'static str {
        match self {
            Holder::Daemon => "daemon",
            Holder::Restore => "restore",
        }
    }
}

/// Holds the workspace's lock for the daemon's life, so that a second daemon for the
/// same workspace refuses to start and says which one runs.
fn lock_workspace(workspace: &Workspace, holder: Holder) -> anyhow::Result<File> {
    let path = workspace.daemon_lock();
    use std::os::unix::fs::OpenOptionsExt;
    let mut lock = File::options()
        .mode(0o600)
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if lock.try_lock().is_err() {
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        let restoring = written
            .trim()
            .strip_suffix(Holder::Restore.word())
            .and_then(|pid| pid.trim().parse().ok());
        if let Some(pid) = restoring {
            return Err(LockHeld::Restoring { pid }.into());
        }
        let running = std::fs::read(workspace.daemon_json())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<RunningDaemon>(&bytes).ok());
        return Err(match running {
            Some(running) => LockHeld::By {
                pid: running.pid,
                socket: running.socket,
            },
            None => LockHeld::Unknown,
        }
        .into());
    }
    lock.set_len(0)?;
    writeln!(lock, "{} {}", std::process::id(), holder.word())?;
    Ok(lock)
}

/// Starts the reaper, which outlives this process by design: agents die with the
/// daemon (their parent-death signal), but what they started would not. The reaper
/// holds the read end of a pipe whose write end only this process has.
fn start_reaper(root: &Path) -> anyhow::Result<std::process::Child> {
    let exe = std::env::current_exe().context("cannot find batond itself")?;
    std::process::Command::new(exe)
        .arg("--workspace")
        .arg(root)
        .arg("--reaper")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("cannot start the agents' reaper")
}

/// How often the daemon looks whether its state directory is still there.
const FILES_CHECKED_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Stops the daemon when its state files go while no request comes to find out.
async fn watch_files(commit: GroupCommit) {
    let mut every = tokio::time::interval(FILES_CHECKED_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        commit.check_files();
    }
}

/// The reaper's whole life: wait for the daemon's end, then end what its agents left.
fn reap(root: &Path) {
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    if let Ok(root) = root.canonicalize() {
        baton_daemon::agents::end_agents_of(&root);
    }
}

/// Keeps `.baton/` out of `git status` when the workspace is in a git repository (its
/// top, or a directory in it made a workspace of its own), without touching files the
/// user shares (`info/exclude` is local to the clone). git says where that file is:
/// in a linked worktree or a submodule `.git` is a file naming where the checkout's
/// data is kept.
fn exclude_from_git(root: &Path) {
    let Ok(found) = std::process::Command::new("git")
        .args(["rev-parse", "--show-prefix", "--git-path", "info/exclude"])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    else {
        return;
    };
    let said = String::from_utf8_lossy(&found.stdout);
    let mut lines = said.lines();
    let (Some(prefix), Some(path)) = (lines.next(), lines.next()) else {
        return;
    };
    if !found.status.success() || path.is_empty() {
        return;
    }
    let exclude = root.join(path);
    let current = std::fs::read_to_string(&exclude).unwrap_or_default();
    let pattern = format!("/{prefix}{}/", workspace::STATE_DIR);
    if current.lines().any(|line| line.trim() == pattern) {
        return;
    }
    if let Some(info) = exclude.parent() {
        let _ = std::fs::create_dir_all(info);
    }
    let separator = if current.is_empty() || current.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let _ = std::fs::write(&exclude, format!("{current}{separator}{pattern}\n"));
}

fn start_logging(workspace: &Workspace) -> tracing_appender::non_blocking::WorkerGuard {
    // The appender creates the day's file with the umask's mode: create it private.
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = File::options()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(workspace.daemon_log(chrono::Utc::now().date_naive()));
    }
    let appender = tracing_appender::rolling::daily(workspace.log_dir(), workspace::DAEMON_LOG);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_writer(baton_daemon::log_lines::OneLine(writer))
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    guard
}

/// Ends the daemon at its first panic, saying where in its log and on standard error.
/// A panic may have left the state half changed under its lock, which every request
/// then waits for: the daemon stops instead, and the next command starts one that
/// serves the durable state, as after any crash.
fn stop_on_panic(workspace: &Workspace) {
    use std::os::unix::fs::OpenOptionsExt;
    let workspace = workspace.clone();
    std::panic::set_hook(Box::new(move |panic| {
        let now = chrono::Utc::now();
        // One line, as every record of the log.
        let panic = panic.to_string().replace('\n', " ");
        let line = format!(
            "{} ERROR batond: stopped: {panic}; the next command starts a daemon that serves the durable state\n",
            now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        );
        // Written here, not through the log's writer thread, which exit does not wait for.
        let log = workspace.daemon_log(now.date_naive());
        let opened = File::options()
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&log);
        if let Ok(mut file) = opened {
            let _ = file.write_all(line.as_bytes());
        }
        say_and_exit(&format!("stopped: {panic}"), STOPPED);
    }));
}

async fn stop_on_signal(shutdown: tokio::sync::watch::Sender<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    let _ = shutdown.send(true);
}
