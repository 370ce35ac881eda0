//! How many connections the daemon serves at once, and what a client past that
//! hears. Every connection holds a file descriptor; a daemon out of them can accept
//! nothing (not even an agent's bridge) and can open no file, so connections stop
//! well before that, and a client refused is told why instead of waiting for an
//! answer that never comes.

use std::time::{Duration, Instant};

use baton_protocol::framing;
use baton_protocol::BatonError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tower_lsp::jsonrpc::{Id, Response};

/// The most connections served at once when files are plenty.
const MOST_CONNECTIONS: usize = 1_000;

/// How long a refused client's words are read (and dropped) after the refusal, so
/// that closing with them unread does not reset the connection before it reads it.
const REFUSAL_DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How often a failing `accept` is logged, and how long the daemon waits before the
/// next one: it fails again at once while its cause lasts.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(60);
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The connection limit, from the open files the process may have: raised to the
/// hard limit first, then half of it for connections (the rest is for the store,
/// logs, agents' processes and git), and at most [`MOST_CONNECTIONS`].
pub fn connection_limit() -> usize {
    let files = raise_open_files_limit();
    (files / 2).clamp(1, MOST_CONNECTIONS)
}

/// Raises the soft limit on open files to the hard one; answers the limit in force.
fn raise_open_files_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return MOST_CONNECTIONS * 2;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

/// The error a connection past the limit is sent, before it asks anything: a
/// JSON-RPC error without an id, which clients take as the reason the connection
/// ends.
pub fn refusal(limit: usize) -> Vec<u8> {
    let refused = BatonError::orchestration(format!(
        "the baton daemon serves at most {limit} connections at once and all of them are \
         open; close the clients that are done with it (editor windows, `baton watch`, \
         scripts) and try again"
    ));
    let answer = Response::from_error(Id::Null, super::connection::to_rpc(refused));
    framing::frame(&serde_json::to_vec(&answer).expect("a response serializes"))
}

/// Tells a connection past the limit why it is not served, then closes it once its
/// client has had time to read that.
pub async fn refuse(stream: UnixStream, refusal: &[u8]) {
    let (mut read, mut write) = stream.into_split();
    if write.write_all(refusal).await.is_err() {
        return;
    }
    let _ = write.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(REFUSAL_DRAIN_LIMIT, async {
        while matches!(read.read(&mut sink).await, Ok(read) if read > 0) {}
    })
    .await;
}

/// Logs failing `accept`s at most once a minute, with how many there were, and
/// slows the loop that retries them.
#[derive(Default)]
pub struct AcceptErrors {
    last_logged: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    pub async fn failed(&mut self, err: &std::io::Error) {
        let due = self
            .last_logged
            .is_none_or(|at| at.elapsed() >= ACCEPT_ERROR_LOG_EVERY);
        if due {
            match self.unlogged {
                0 => tracing::warn!("accepting a connection failed: {err}"),
                more => tracing::warn!(
                    "accepting a connection failed: {err} ({more} more failures since the last report)"
                ),
            }
            self.last_logged = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
    }
}
