//! batond: serves one workspace until told to stop. Clients start it; users rarely do.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use baton_daemon::agents::Runtime;
use baton_daemon::orchestrator::{self, Orchestrator};
use baton_daemon::server::{self, Daemon};
use baton_daemon::store::Store;
use baton_protocol::{workspace, Workspace, VERSION};
use clap::Parser;
use serde::{Deserialize, Serialize};

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
}

/// What `daemon.json` says about the running daemon, for a second one to report.
#[derive(Serialize, Deserialize)]
struct Running {
    pid: u32,
    socket: PathBuf,
    version: String,
}

fn main() {
    let args = Args::parse();
    if args.reaper {
        reap(&args.workspace);
        return;
    }
    if let Err(err) = run(&args) {
        eprintln!("batond: {err:#}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> anyhow::Result<()> {
    let workspace = Workspace::at(&args.workspace)?;
    std::fs::create_dir_all(workspace.log_dir())
        .with_context(|| format!("cannot create {}", workspace.state_dir().display()))?;
    let _lock = lock_workspace(&workspace)?;
    let _reaper = start_reaper(workspace.root())?;
    exclude_from_git(workspace.root());
    let _log = start_logging(&workspace.log_dir());

    let socket = workspace.socket_path();
    workspace::ensure_private_dir(socket.parent().expect("the socket has a directory"))?;
    // We hold the workspace lock, so a socket file left here is from a dead daemon.
    let _ = std::fs::remove_file(&socket);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = Store::open(&workspace.store_dir())?;
        let orchestrator = Orchestrator::open(store)?;
        let runtime = Runtime::start(orchestrator.clone(), &workspace).await;
        let listener = server::listen(&socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        let running = Running {
            pid: std::process::id(),
            socket: socket.clone(),
            version: VERSION.into(),
        };
        std::fs::write(workspace.daemon_json(), serde_json::to_vec(&running)?)?;
        tracing::info!(workspace = %workspace.root().display(), socket = %socket.display(), "batond {VERSION} serving");

        let (shutdown, _) = tokio::sync::watch::channel(false);
        let daemon = Arc::new(Daemon {
            orchestrator: orchestrator.clone(),
            runtime: runtime.clone(),
            workspace: workspace.root().to_owned(),
            socket: socket.clone(),
            log_file: workspace.daemon_log(chrono::Utc::now().date_naive()),
            shutdown: shutdown.clone(),
        });
        tokio::spawn(orchestrator::expire_claims(orchestrator.clone()));
        tokio::spawn(stop_on_signal(shutdown));
        server::serve(listener, daemon).await;

        runtime.shut_down().await;
        orchestrator.flush().await;
        let _ = std::fs::remove_file(&socket);
        let _ = std::fs::remove_file(workspace.daemon_json());
        tracing::info!("batond stopped");
        anyhow::Ok(())
    })
}

/// Holds the workspace's lock for the daemon's life, so that a second daemon for the
/// same workspace refuses to start and says which one runs.
fn lock_workspace(workspace: &Workspace) -> anyhow::Result<File> {
    let path = workspace.daemon_lock();
    let mut lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if lock.try_lock().is_err() {
        let running = std::fs::read(workspace.daemon_json())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Running>(&bytes).ok());
        match running {
            Some(running) => bail!(
                "a baton daemon already runs for this workspace (pid {}, socket {}); `baton daemon stop` ends it",
                running.pid,
                running.socket.display()
            ),
            None => bail!("a baton daemon already runs for this workspace; `baton daemon stop` ends it"),
        }
    }
    lock.set_len(0)?;
    writeln!(lock, "{}", std::process::id())?;
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

/// The reaper's whole life: wait for the daemon's end, then end what its agents left.
fn reap(root: &Path) {
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    if let Ok(root) = root.canonicalize() {
        baton_daemon::agents::end_agents_of(&root);
    }
}

/// Keeps `.baton/` out of `git status` in a git repository, without touching files
/// the user shares (`.git/info/exclude` is local to the clone).
fn exclude_from_git(root: &Path) {
    let info = root.join(".git").join("info");
    if !root.join(".git").is_dir() {
        return;
    }
    let exclude = info.join("exclude");
    let current = std::fs::read_to_string(&exclude).unwrap_or_default();
    let pattern = format!("/{}/", workspace::STATE_DIR);
    if current.lines().any(|line| line.trim() == pattern) {
        return;
    }
    let _ = std::fs::create_dir_all(&info);
    let separator = if current.is_empty() || current.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    let _ = std::fs::write(&exclude, format!("{current}{separator}{pattern}\n"));
}

fn start_logging(dir: &Path) -> tracing_appender::non_blocking::WorkerGuard {
    let appender = tracing_appender::rolling::daily(dir, workspace::DAEMON_LOG);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BATON_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    guard
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
