//! The forwarding of events to one client, in two halves: one takes each operation's
//! events off the daemon's broadcast as soon as they are published, the other writes
//! what has gathered, one write at a time. Between them is the connection's outbox,
//! bounded in events.
//!
//! Under a storm of writes every watcher falls behind for a while. Measured in
//! operations on the broadcast, a burst of a few thousand claims left twenty watchers
//! missing events; measured in events in each outbox, a watcher that reads misses
//! nothing unless it is [`BACKLOG`] events (or [`BACKLOG_BYTES`] of them) behind,
//! and a client that reads nothing holds at most that much in the daemon's memory,
//! besides the write it is stuck on.
//! An operation's notifications are encoded once for every client
//! ([`Operation::encoded`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use baton_protocol::framing;
use baton_protocol::methods::{StateChange, StateChangeReason};
use baton_protocol::Event;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::{mpsc, oneshot, Notify};
use tower_lsp::jsonrpc;

use super::progress::RunProgress;
use super::transport::Frames;
use super::Daemon;
use crate::core::Events;
use crate::orchestrator::Operation;

/// How many events a client may fall behind by before it misses some (it is then
/// sent `stateChanged` with reason `resync`). One operation is always taken into an
/// empty outbox, however many events it has.
pub const BACKLOG: usize = 65_536;

/// How many bytes of notifications a client may fall behind by: events carry what
/// clients sent (a description, an output, up to a megabyte each), so a count alone
/// would let a client that reads nothing hold gigabytes.
pub const BACKLOG_BYTES: usize = 64 * 1024 * 1024;

/// Sends every event to one client until it goes away or the daemon stops; then the
/// events already made still go out, without the progress reports (whose start
/// waits on the client's answer, which a closing connection no longer reads).
pub async fn forward_events(
    client: tower_lsp::Client,
    daemon: Arc<Daemon>,
    events: broadcast::Receiver<Arc<Operation>>,
    closing: broadcast::Receiver<()>,
    out: mpsc::Sender<Frames>,
) {
    let outbox = Outbox::default();
    let taking = take(events, closing.resubscribe(), &outbox);
    let writing = write(client, daemon, closing, out, &outbox);
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
    operations: VecDeque<Arc<Operation>>,
    /// The events of `operations`, and the bytes of their notifications.
    events: usize,
    bytes: usize,
    /// Whether events were dropped since the last written: the client is told so.
    missed: bool,
    /// Whether nothing more comes.
    ended: bool,
}

impl Queue {
    /// Drops what waits: the client is told it missed events before anything later,
    /// and nothing older may follow that, or it would undo what it reads again.
    fn miss(&mut self) {
        self.operations.clear();
        self.events = 0;
        self.bytes = 0;
        self.missed = true;
    }
}

/// What the writing half does next.
enum Next {
    /// Every operation queued, oldest first.
    Operations(Vec<Arc<Operation>>),
    Missed,
    Ended,
}

impl Outbox {
    fn push(&self, operation: Arc<Operation>) {
        // Encoded here, once for every client, as writing it would.
        let bytes = operation.encoded(frames).len();
        let mut queue = self.queue.lock().expect("outbox lock");
        if !queue.operations.is_empty()
            && (queue.events + operation.len() > BACKLOG || queue.bytes + bytes > BACKLOG_BYTES)
        {
            tracing::warn!(
                "a client fell {} events ({} bytes) behind; it missed them",
                queue.events,
                queue.bytes
            );
            queue.miss();
        }
        queue.events += operation.len();
        queue.bytes += bytes;
        queue.operations.push_back(operation);
        drop(queue);
        self.filled.notify_one();
    }

    fn missed(&self) {
        self.queue.lock().expect("outbox lock").miss();
        self.filled.notify_one();
    }

    fn end(&self) {
        self.queue.lock().expect("outbox lock").ended = true;
        self.filled.notify_one();
    }

    /// What to write next, once there is something.
    async fn next(&self) -> Next {
        loop {
            // Registered before looking, so that a push after the look wakes it.
            let filled = self.filled.notified();
            {
                let mut queue = self.queue.lock().expect("outbox lock");
                if std::mem::take(&mut queue.missed) {
                    return Next::Missed;
                }
                if !queue.operations.is_empty() {
                    queue.events = 0;
                    queue.bytes = 0;
                    return Next::Operations(queue.operations.drain(..).collect());
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
    mut events: broadcast::Receiver<Arc<Operation>>,
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
    client: tower_lsp::Client,
    daemon: Arc<Daemon>,
    mut closing: broadcast::Receiver<()>,
    out: mpsc::Sender<Frames>,
    outbox: &Outbox,
) {
    let mut following = RunProgress::default();
    let mut progress = tokio::select! {
        () = following.join(&client, &daemon) => Some(following),
        _ = closing.recv() => None,
    };
    let resync = Arc::new(Operation::new(vec![Event::StateChanged(StateChange {
        reason: StateChangeReason::Resync,
    })]));
    loop {
        let operations = match outbox.next().await {
            Next::Operations(operations) => operations,
            Next::Missed => vec![resync.clone()],
            Next::Ended => return,
        };
        let mut bytes = Vec::new();
        for operation in &operations {
            bytes.extend_from_slice(operation.encoded(frames));
        }
        // Until they are written, what comes next stays in the outbox, where it counts
        // against the client's backlog.
        let (written, sent) = oneshot::channel();
        let frames = Frames {
            bytes,
            written: Some(written),
        };
        if out.send(frames).await.is_err() || sent.await.is_err() {
            return;
        }
        if let Some(following) = &mut progress {
            'follow: for event in operations.iter().flat_map(|operation| operation.iter()) {
                tokio::select! {
                    () = following.follow(&client, &daemon, event) => {}
                    _ = closing.recv() => {
                        progress = None;
                        break 'follow;
                    }
                }
            }
        }
    }
}

/// An operation's events as the frames of their notifications.
fn frames(events: &Events) -> Vec<u8> {
    let mut frames = Vec::new();
    for event in events {
        let notification = jsonrpc::Request::build(event.method())
            .params(event.params())
            .finish();
        let body = serde_json::to_vec(&notification).expect("a notification serializes");
        frames.extend_from_slice(&framing::frame(&body));
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operation(events: usize) -> Arc<Operation> {
        let event = Event::StateChanged(StateChange {
            reason: StateChangeReason::Init,
        });
        Arc::new(Operation::new(vec![event; events]))
    }

    fn sizes(next: Next) -> Vec<usize> {
        match next {
            Next::Operations(operations) => operations.iter().map(|op| op.len()).collect(),
            Next::Missed => vec![0],
            Next::Ended => vec![],
        }
    }

    #[tokio::test]
    async fn what_gathered_is_written_at_once_in_order() {
        let outbox = Outbox::default();
        outbox.push(operation(1));
        outbox.push(operation(2));
        outbox.push(operation(3));
        assert_eq!(sizes(outbox.next().await), [1, 2, 3]);
        outbox.end();
        assert!(matches!(outbox.next().await, Next::Ended));
    }

    #[tokio::test]
    async fn past_the_backlog_the_client_is_told_it_missed_what_waited() {
        let outbox = Outbox::default();
        outbox.push(operation(BACKLOG / 2));
        outbox.push(operation(BACKLOG / 2));
        outbox.push(operation(1));
        assert_eq!(sizes(outbox.next().await), [0], "missed first");
        assert_eq!(sizes(outbox.next().await), [1], "then what came after");
    }

    #[tokio::test]
    async fn what_waited_before_operations_were_missed_is_dropped_with_them() {
        let outbox = Outbox::default();
        outbox.push(operation(2));
        outbox.missed();
        outbox.push(operation(1));
        assert_eq!(sizes(outbox.next().await), [0], "missed first");
        assert_eq!(sizes(outbox.next().await), [1], "then only what came after");
    }

    #[tokio::test]
    async fn past_the_backlog_s_bytes_the_client_is_told_it_missed_what_waited() {
        let outbox = Outbox::default();
        let large = || {
            Arc::new(Operation::new(vec![Event::AgentActivity(
                baton_protocol::methods::AgentActivity {
                    agent_id: "worker-1".into(),
                    task_id: None,
                    kind: baton_protocol::ActivityKind::Tool,
                    text: "x".repeat(1 << 20),
                },
            )]))
        };
        // Three times the bytes allowed, far fewer events than the count allowed.
        for _ in 0..3 * (BACKLOG_BYTES >> 20) {
            outbox.push(large());
        }
        let held = outbox.queue.lock().unwrap().bytes;
        assert!(held <= BACKLOG_BYTES, "{held} bytes held");
        assert_eq!(sizes(outbox.next().await), [0], "missed first");
        let after = sizes(outbox.next().await).len();
        assert!((1..BACKLOG_BYTES >> 20).contains(&after), "{after}");
    }

    #[tokio::test]
    async fn one_operation_larger_than_the_backlog_still_goes_whole() {
        let outbox = Outbox::default();
        outbox.push(operation(BACKLOG * 2));
        assert_eq!(sizes(outbox.next().await), [BACKLOG * 2]);
    }
}
