//! The server: the only code that knows tower-lsp. It accepts connections on the
//! workspace's local socket and serves each with its own `Connection`, all sharing
//! one orchestrator.

mod archive;
mod connection;
mod hangup;
mod progress;
mod state_file;
mod task_log;
pub mod transport;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ListenerOptions};
use interprocess::os::unix::local_socket::ListenerOptionsExt;
use tokio::sync::watch;

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

/// Serves connections until the daemon is told to shut down.
pub async fn serve(listener: interprocess::local_socket::tokio::Listener, daemon: Arc<Daemon>) {
    let mut shutdown = daemon.shutdown.subscribe();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(stream) => {
                    tokio::spawn(serve_connection(stream, daemon.clone()));
                }
                Err(err) => tracing::warn!("accepting a connection failed: {err}"),
            },
            _ = shutdown.wait_for(|&stop| stop) => break,
        }
    }
}

async fn serve_connection(stream: interprocess::local_socket::tokio::Stream, daemon: Arc<Daemon>) {
    let (service, socket) = connection::build(daemon);
    transport::serve(stream, service, socket, CONCURRENCY).await;
}
