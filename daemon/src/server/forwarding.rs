//! The forwarding of events to one client, in two halves: one takes each operation's
//! events off the daemon's broadcast as soon as they are published, the other writes
//! them to the client. Between them is the connection's outbox, bounded in events.
//!
//! Writing a notification costs far more than publishing it (it is serialized and
//! written for each client), so under a storm of writes every watcher falls behind
//! for a while. Measured in operations on the broadcast, a burst of a few thousand
//! claims left twenty watchers missing events; measured in events in each outbox,
//! a watcher that reads misses nothing unless it is [`BACKLOG`] events behind, and a
//! client that reads nothing holds at most that many in the daemon's memory.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use baton_protocol::methods::{StateChange, StateChangeReason};
use baton_protocol::Event;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::Notify;
use tower::Service;
use tower_lsp::jsonrpc;

use super::progress::RunProgress;
use super::Daemon;
use crate::core::Events;

/// How many events a client may fall behind by before it misses some (it is then
/// sent `stateChanged` with reason `resync`). One operation is always taken into an
/// empty outbox, however many events it has.
pub const BACKLOG: usize = 65_536;

/// Sends every event to one client until it goes away or the daemon stops; then the
/// events already made still go out, without the progress reports (whose start
/// waits on the client's answer, which a closing connection no longer reads).
pub async fn forward_events(
    client: tower_lsp::Client,
    daemon: Arc<Daemon>,
    events: broadcast::Receiver<Arc<Events>>,
    closing: broadcast::Receiver<()>,
) {
    let outbox = Outbox::default();
    let taking = take(events, closing.resubscribe(), &outbox);
    let writing = write(client, daemon, closing, &outbox);
    tokio::pin!(writing);
    // The writing half ends first when the client goes away; otherwise it writes
    // what the taking half left in the outbox.
    tokio::select! {
        () = taking => writing.await,
        () = &mut writing => {}
    }
}

/// The events taken off the broadcast and not yet written.
#[derive(Default)]
struct Outbox {
    queue: Mutex<Queue>,
    /// Told when an operation is queued or nothing more will be.
    filled: Notify,
}

#[derive(Default)]
struct Queue {
    operations: VecDeque<Arc<Events>>,
    /// The events of `operations`.
    events: usize,
    /// Whether events were dropped since the last written: the client is told so.
    missed: bool,
    /// Whether nothing more comes.
    ended: bool,
}

/// What the writing half does next.
enum Next {
    Operation(Arc<Events>),
    Missed,
    Ended,
}

impl Outbox {
    fn push(&self, operation: Arc<Events>) {
        let mut queue = self.queue.lock().expect("outbox lock");
        if !queue.operations.is_empty() && queue.events + operation.len() > BACKLOG {
            tracing::warn!(
                "a client fell {} events behind; it missed them",
                queue.events
            );
            queue.operations.clear();
            queue.events = 0;
            queue.missed = true;
        }
        queue.events += operation.len();
        queue.operations.push_back(operation);
        drop(queue);
        self.filled.notify_one();
    }

    fn missed(&self) {
        self.queue.lock().expect("outbox lock").missed = true;
        self.filled.notify_one();
    }

    fn end(&self) {
        self.queue.lock().expect("outbox lock").ended = true;
        self.filled.notify_one();
    }

    /// The next thing to write, once there is one.
    async fn next(&self) -> Next {
        loop {
            // Registered before looking, so that a push after the look wakes it.
            let filled = self.filled.notified();
            {
                let mut queue = self.queue.lock().expect("outbox lock");
                if std::mem::take(&mut queue.missed) {
                    return Next::Missed;
                }
                if let Some(operation) = queue.operations.pop_front() {
                    queue.events -= operation.len();
                    return Next::Operation(operation);
                }
                if queue.ended {
                    return Next::Ended;
                }
            }
            filled.await;
        }
    }
}

/// The taking half: moves each operation's events into the outbox as it is
/// published, until the daemon stops; then what was published before goes too.
async fn take(
    mut events: broadcast::Receiver<Arc<Events>>,
    mut closing: broadcast::Receiver<()>,
    outbox: &Outbox,
) {
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Ok(operation) => outbox.push(operation),
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!("a client fell {missed} operations behind; it missed their events");
                    outbox.missed();
                }
                Err(RecvError::Closed) => break,
            },
            _ = closing.recv() => {
                loop {
                    match events.try_recv() {
                        Ok(operation) => outbox.push(operation),
                        Err(TryRecvError::Lagged(_)) => outbox.missed(),
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                break;
            }
        }
    }
    outbox.end();
}

/// The writing half: writes what the outbox holds, in order, and follows the run's
/// progress until the daemon stops.
async fn write(
    mut client: tower_lsp::Client,
    daemon: Arc<Daemon>,
    mut closing: broadcast::Receiver<()>,
    outbox: &Outbox,
) {
    let mut following = RunProgress::default();
    let mut progress = tokio::select! {
        () = following.join(&client, &daemon) => Some(following),
        _ = closing.recv() => None,
    };
    let resync = Arc::new(vec![Event::StateChanged(StateChange {
        reason: StateChangeReason::Resync,
    })]);
    loop {
        let operation = match outbox.next().await {
            Next::Operation(operation) => operation,
            Next::Missed => resync.clone(),
            Next::Ended => return,
        };
        for event in operation.iter() {
            let notification = jsonrpc::Request::build(event.method())
                .params(event.params())
                .finish();
            if client.call(notification).await.is_err() {
                return;
            }
            if let Some(following) = &mut progress {
                tokio::select! {
                    () = following.follow(&client, &daemon, event) => {}
                    _ = closing.recv() => progress = None,
                }
            }
        }
    }
}
