//! Group commit: one flush (fsync) makes every write before it durable, so writers
//! that arrive while a flush runs share the next one instead of paying one each.
//!
//! Before a flush is acknowledged, the files the daemon depends on must still be the
//! ones it opened: a state directory deleted under the daemon would otherwise take
//! acknowledged changes with it. When a flush fails or a file is gone, nothing more is
//! acknowledged: every waiter hears why, and the daemon stops.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify};

use super::check::{CheckFile, Expected};

/// Hands out tickets for applied writes and resolves them once a flush covers them.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    /// Tickets handed out so far: the number of writes applied.
    written: AtomicU64,
    /// How far flushes got, or why they stopped.
    flushed: watch::Sender<Flushed>,
    wanted: Notify,
}

#[derive(Clone, Default)]
struct Flushed {
    /// The highest ticket a finished flush covered.
    upto: u64,
    stopped: Option<Stopped>,
}

/// Why the store acknowledges nothing more: the daemon must stop.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct Stopped(Arc<str>);

impl Stopped {
    pub fn new(reason: impl Into<String>) -> Stopped {
        Stopped(Arc::from(reason.into()))
    }
}

/// A write that has been applied and is waiting to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// Files that must stay the ones the daemon opened (same device and inode).
pub struct Guard {
    files: Vec<(PathBuf, (u64, u64))>,
}

impl Guard {
    pub fn new(paths: &[PathBuf]) -> std::io::Result<Guard> {
        let files = paths
            .iter()
            .map(|path| Ok((path.clone(), identity(path)?)))
            .collect::<std::io::Result<_>>()?;
        Ok(Guard { files })
    }

    /// The first guarded file that is gone or replaced.
    fn check(&self) -> Result<(), Stopped> {
        for (path, opened) in &self.files {
            if identity(path).ok().as_ref() != Some(opened) {
                return Err(Stopped::new(format!(
                    "{} was deleted or replaced while the daemon ran; it stopped without acknowledging anything more, and a restart refuses the store if changes were lost",
                    path.display()
                )));
            }
        }
        Ok(())
    }
}

fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// What the flusher needs besides the database.
struct Durability {
    db: sled::Db,
    /// What the database holds after the last write.
    written: Arc<Mutex<Expected>>,
    check: CheckFile,
    guard: Guard,
}

impl GroupCommit {
    /// Starts the flusher task for `db` on the current tokio runtime. After each
    /// flush, `check` records what `written` said before it, once `guard` holds.
    pub fn new(
        db: sled::Db,
        written: Arc<Mutex<Expected>>,
        check: CheckFile,
        guard: Guard,
    ) -> GroupCommit {
        let group = GroupCommit {
            inner: Arc::new(Inner {
                written: AtomicU64::new(0),
                flushed: watch::channel(Flushed::default()).0,
                wanted: Notify::new(),
            }),
        };
        let durability = Arc::new(Durability {
            db,
            written,
            check,
            guard,
        });
        tokio::spawn(flusher(durability, group.inner.clone()));
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

    /// Waits until a flush has made the ticket's write durable; an error when the
    /// store stopped first.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), Stopped> {
        let mut flushed = self.inner.flushed.subscribe();
        if let Some(answer) = settled(&flushed.borrow_and_update(), ticket) {
            return answer;
        }
        self.inner.wanted.notify_one();
        // The sender lives in `inner`, which this GroupCommit holds.
        let state = flushed
            .wait_for(|state| settled(state, ticket).is_some())
            .await
            .expect("the flush state outlives its commits")
            .clone();
        settled(&state, ticket).expect("settled")
    }

    /// Stops acknowledging: every waiter, now and later, hears `reason`.
    pub fn stop(&self, reason: Stopped) {
        tracing::error!("{reason}");
        self.inner.flushed.send_if_modified(|state| {
            let first = state.stopped.is_none();
            state.stopped.get_or_insert(reason);
            first
        });
    }

    /// Waits until the store stops acknowledging; answers why.
    pub async fn stopped(&self) -> Stopped {
        let mut flushed = self.inner.flushed.subscribe();
        let state = flushed
            .wait_for(|state| state.stopped.is_some())
            .await
            .expect("the flush state outlives its commits");
        state.stopped.clone().expect("stopped")
    }
}

fn settled(state: &Flushed, ticket: Ticket) -> Option<Result<(), Stopped>> {
    if let Some(stopped) = &state.stopped {
        return Some(Err(stopped.clone()));
    }
    (state.upto >= ticket.0).then_some(Ok(()))
}

async fn flusher(durability: Arc<Durability>, inner: Arc<Inner>) {
    loop {
        inner.wanted.notified().await;
        let target = inner.written.load(Ordering::SeqCst);
        let state = inner.flushed.borrow().clone();
        if state.stopped.is_some() {
            return;
        }
        if state.upto >= target {
            continue;
        }
        let durability = durability.clone();
        let flushed = tokio::task::spawn_blocking(move || flush(&durability)).await;
        match flushed {
            Ok(Ok(())) => {
                inner
                    .flushed
                    .send_modify(|state| state.upto = state.upto.max(target));
            }
            Ok(Err(stopped)) => {
                GroupCommit {
                    inner: inner.clone(),
                }
                .stop(stopped);
                return;
            }
            Err(err) => {
                GroupCommit {
                    inner: inner.clone(),
                }
                .stop(Stopped::new(format!("the flush thread failed: {err}")));
                return;
            }
        }
        if inner.flushed.borrow().upto < inner.written.load(Ordering::SeqCst) {
            inner.wanted.notify_one();
        }
    }
}

/// One flush: the database, the files it depends on, then the check record of what
/// was written before the flush began.
fn flush(durability: &Durability) -> Result<(), Stopped> {
    let written = *durability.written.lock().expect("written lock");
    durability.db.flush().map_err(|err| {
        Stopped::new(format!(
            "writing the state to disk failed ({}); nothing more is acknowledged",
            describe_io(&err)
        ))
    })?;
    durability.guard.check()?;
    durability.check.write(&written).map_err(|err| {
        Stopped::new(format!(
            "writing the check record {} failed ({err}); nothing more is acknowledged",
            durability.check.path().display()
        ))
    })
}

/// A sled error in words, naming a full disk as such.
pub fn describe_io(err: &sled::Error) -> String {
    // sled passes I/O errors on as copies that keep only their kind.
    match err {
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull => {
            "the disk is full".into()
        }
        sled::Error::Io(io) if io.kind() == std::io::ErrorKind::FileTooLarge => {
            "the file size limit was reached".into()
        }
        other => other.to_string(),
    }
}
