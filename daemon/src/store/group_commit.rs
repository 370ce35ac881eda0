//! Group commit: one flush (fsync) makes every write before it durable, so writers
//! that arrive while a flush runs share the next one instead of paying one each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{watch, Notify};

/// Hands out tickets for applied writes and resolves them once a flush covers them.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tickets handed out so far: the number of writes applied.
    written: AtomicU64,
    /// The highest ticket a finished flush covered.
    flushed: watch::Sender<u64>,
    wanted: Notify,
}

/// A write that has been applied and is waiting to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

impl GroupCommit {
    /// Starts the flusher task for `db` on the current tokio runtime.
    pub fn new(db: sled::Db) -> GroupCommit {
        let group = GroupCommit {
            inner: Arc::new(Inner {
                written: AtomicU64::new(0),
                flushed: watch::channel(0).0,
                wanted: Notify::new(),
            }),
        };
        tokio::spawn(flusher(db, group.inner.clone()));
        group
    }

    /// Takes a ticket for a write that has just been applied to the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.inner.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// A ticket for what is written so far, without writing anything: waiting on it
    /// orders something after every earlier write.
    pub fn current(&self) -> Ticket {
        Ticket(self.inner.written.load(Ordering::SeqCst))
    }

    /// Waits until a flush has made the ticket's write durable.
    pub async fn durable(&self, ticket: Ticket) {
        let mut flushed = self.inner.flushed.subscribe();
        if *flushed.borrow_and_update() >= ticket.0 {
            return;
        }
        self.inner.wanted.notify_one();
        // The flusher never stops while a GroupCommit lives, so the channel stays open.
        let _ = flushed.wait_for(|&done| done >= ticket.0).await;
    }
}

async fn flusher(db: sled::Db, inner: Arc<Inner>) {
    loop {
        inner.wanted.notified().await;
        let target = inner.written.load(Ordering::SeqCst);
        if *inner.flushed.borrow() >= target {
            continue;
        }
        let db = db.clone();
        match tokio::task::spawn_blocking(move || db.flush()).await {
            Ok(Ok(_)) => {
                inner.flushed.send_replace(target);
            }
            Ok(Err(err)) => {
                // Nothing can be acknowledged any more: end the daemon rather than lie.
                tracing::error!("flushing the state database failed: {err}; stopping");
                std::process::exit(70);
            }
            Err(err) => {
                tracing::error!("the flush thread failed: {err}; stopping");
                std::process::exit(70);
            }
        }
        if *inner.flushed.borrow() < inner.written.load(Ordering::SeqCst) {
            inner.wanted.notify_one();
        }
    }
}
