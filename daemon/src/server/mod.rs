//! The server: the only code that knows tower-lsp. It accepts connections on the
//! workspace's local socket and serves each with its own `Connection`, all sharing
//! one orchestrator.

mod admission;
mod archive;
mod boards;
mod bulk;
mod connection;
mod forwarding;
mod hangup;
mod params;
mod parse_room;
mod progress;
mod state_file;
mod task_log;
pub mod transport;

pub use admission::connection_limit;
pub use archive::settle_pending;
pub use boards::finish_pending;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use tokio::sync::{broadcast, watch, Semaphore};
use tokio::task::JoinSet;

use crate::agents::Runtime;
use crate::orchestrator::Orchestrator;

/// Requests one connection may have in flight at once.
const CONCURRENCY: usize = 32;

/// What every connection needs to know about the daemon it belongs to.
pub struct Daemon {
    pub orchestrator: Arc<Orchestrator>,
    pub runtime: Arc<Runtime>,
    pub workspace: PathBuf,
    pub socket: PathBuf,
    pub log_file: PathBuf,
    /// How the daemon before this one ended, when it did not shut down.
    pub crash: Option<baton_protocol::Crash>,
    /// Set to true to end the daemon.
    pub shutdown: watch::Sender<bool>,
}

/// Listens on `socket` (which must not exist) so that only this user can connect.
pub fn listen(socket: &Path) -> std::io::Result<interprocess::local_socket::tokio::Listener> {
    let name = socket.to_fs_name::<GenericFilePath>()?;
    ListenerOptions::new()
        .name(name)
        .mode(0o600)
        .reclaim_name(true)
        .create_tokio()
}

/// How long a stopping daemon waits for its connections to send what they owe (the
/// answers under way, the events already made) and close; a client that reads
/// nothing past it is cut off.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// The daemon's open connections, for its shutdown's two halves: tell each one to
/// close (`close` drops the sender every connection listens on), then wait until
/// each has (the set of their tasks is empty).
pub struct Connections {
    close: broadcast::Sender<()>,
    tasks: JoinSet<()>,
    /// The room unfinished large requests may take, shared by every connection.
    room: Arc<Semaphore>,
    /// The most connections served at once ([`connection_limit`]).
    limit: usize,
    /// Refusals under way: a few at a time, so that refusing holds few files too.
    refusals: Arc<Semaphore>,
    accept_errors: admission::AcceptErrors,
}

/// How many connections past the limit are refused at once with the time to read
/// why; others are told without waiting.
const REFUSALS_AT_ONCE: usize = 16;

impl Connections {
    /// Connections of a daemon that serves at most `limit` at once.
    pub fn new(limit: usize) -> Self {
        Connections {
            close: broadcast::channel(1).0,
            tasks: JoinSet::new(),
            room: Arc::new(Semaphore::new(transport::PENDING_BUDGET)),
            limit,
            refusals: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
            accept_errors: admission::AcceptErrors::default(),
        }
    }

    /// Tells a connection past the limit why it is not served, unless too many are
    /// being told already.
    fn refuse(&self, stream: tokio::net::UnixStream) {
        let refusal = admission::refusal(self.limit);
        let Ok(permit) = self.refusals.clone().try_acquire_owned() else {
            // Said without waiting: a refusal's few hundred bytes fit the socket's buffer.
            let _ = stream.try_write(&refusal);
            return;
        };
        tokio::spawn(async move {
            admission::refuse(stream, &refusal).await;
            drop(permit);
        });
    }

    /// Tells every connection to close and waits until each has: it stops reading,
    /// its answers under way and the events already made go out, then its client
    /// reads the end of the stream.
    pub async fn close(self) {
        let Connections {
            close, mut tasks, ..
        } = self;
        drop(close);
        let drained = tokio::time::timeout(DRAIN_LIMIT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "{} connections did not close within {DRAIN_LIMIT:?}; they are cut off",
                tasks.len()
            );
            tasks.shutdown().await;
        }
    }
}

/// How often the daemon looks whether its socket is still there.
const SOCKET_CHECKED_EVERY: Duration = Duration::from_secs(1);

/// Accepts connections until the daemon is told to shut down, each served in a task
/// of `connections`. A socket deleted under the daemon (a cleaner of temporary
/// files, a user tidying up) is made again within a second: otherwise no command
/// could reach the daemon, nor start another while it holds the workspace.
pub async fn accept(
    listener: &mut interprocess::local_socket::tokio::Listener,
    daemon: &Arc<Daemon>,
    connections: &mut Connections,
) {
    let mut shutdown = daemon.shutdown.subscribe();
    let mut bound = socket_identity(&daemon.socket);
    let mut every = tokio::time::interval(SOCKET_CHECKED_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                if socket_identity(&daemon.socket) != bound && listen_again(&daemon.socket, listener) {
                    bound = socket_identity(&daemon.socket);
                }
            }
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    let stream = match unix_stream(stream) {
                        Ok(stream) => stream,
                        Err(err) => {
                            tracing::warn!("taking an accepted connection failed: {err}");
                            continue;
                        }
                    };
                    // Connections that ended are taken off the set before counting.
                    while connections.tasks.try_join_next().is_some() {}
                    if connections.tasks.len() >= connections.limit {
                        connections.refuse(stream);
                        continue;
                    }
                    let outgoing = transport::outgoing_frames();
                    let service = connection::build(
                        daemon.clone(),
                        connections.close.subscribe(),
                        outgoing.0.clone(),
                    );
                    let closing = connections.close.subscribe();
                    connections.tasks.spawn(transport::serve(
                        stream,
                        service,
                        outgoing,
                        CONCURRENCY,
                        connections.room.clone(),
                        closing,
                    ));
                }
                Err(err) => connections.accept_errors.failed(&err).await,
            },
            _ = shutdown.wait_for(|&stop| stop) => break,
        }
    }
}

/// The socket file's device and inode, `None` when there is none: another file at its
/// path is not the daemon's socket.
fn socket_identity(socket: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let found = std::fs::symlink_metadata(socket).ok()?;
    Some((found.dev(), found.ino()))
}

/// Replaces `listener` with one on `socket` made again, once the one there was
/// deleted or replaced; answers false (said in the log) when it cannot be made, to be
/// tried at the next look.
fn listen_again(socket: &Path, listener: &mut interprocess::local_socket::tokio::Listener) -> bool {
    // What stands at the path is not the daemon's socket, and the path is the
    // daemon's own (in its private runtime directory, itself perhaps deleted).
    if std::fs::remove_file(socket).is_err() {
        // An empty directory made at its path; one that holds something is said below.
        let _ = std::fs::remove_dir(socket);
    }
    if let Some(dir) = socket.parent() {
        let _ = baton_protocol::workspace::ensure_private_dir(dir);
    }
    match listen(socket) {
        Ok(again) => {
            // The old listener must not remove the new socket as it goes.
            listener.do_not_reclaim_name_on_drop();
            *listener = again;
            tracing::warn!(
                "the socket {} was deleted or replaced; the daemon listens on it again",
                socket.display()
            );
            true
        }
        Err(err) => {
            tracing::error!(
                "the socket {} was deleted or replaced and cannot be made again: {err}",
                socket.display()
            );
            false
        }
    }
}

/// An accepted connection as tokio's Unix stream, whose shutdown tells the client
/// that the stream has ended: interprocess's is a no-op, so a closing connection's
/// client saw its end only when the socket was closed, with its last words unread,
/// and the kernel then reset it.
fn unix_stream(
    stream: interprocess::local_socket::tokio::Stream,
) -> std::io::Result<tokio::net::UnixStream> {
    let interprocess::local_socket::tokio::Stream::UdSocket(stream) = stream;
    let stream = std::os::unix::net::UnixStream::from(std::os::fd::OwnedFd::try_from(stream)?);
    stream.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(stream)
}
