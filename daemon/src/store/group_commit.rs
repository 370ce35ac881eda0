//! Group commit: one flush (a write of the journal and its sync) makes every write
//! before it durable, so writers that arrive while a flush runs share the next one
//! instead of paying one each.
//!
//! The flush is made by the flusher, started by a writer that finds none running: it
//! flushes everything written so far, and the writers that came meanwhile start the
//! next one when it ends, so each flush covers the writes that came while the last
//! one ran. A writer alone flushes on its own thread; otherwise the flusher lets the
//! requests ready to run write first, then runs on a blocking thread, so that no
//! runtime worker waits on the disk while others wait to be answered. A waiter that
//! gives up before its write is durable leaves a task behind that makes it so.
//!
//! Before a flush is acknowledged, the files the daemon depends on must still be the
//! ones it opened: a state directory deleted under the daemon would otherwise take
//! acknowledged changes with it. When a flush fails or a file is gone, nothing more is
//! acknowledged: every waiter hears why, and the daemon stops.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::watch;

use super::check::CheckFile;
use super::journal::{Journals, Records};
use super::{Write, Written};

/// Hands out tickets for applied writes and resolves them once a flush covers them.
#[derive(Clone)]
pub struct GroupCommit {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    /// Tickets handed out so far: the number of writes applied.
    written: AtomicU64,
    /// How far flushes got, or why they stopped.
    flushed: watch::Sender<Flushed>,
    /// Why the store stopped, apart: what waits only for a stop is not woken by
    /// every flush.
    halted: watch::Sender<Option<Stopped>>,
    /// Held by the flusher while it flushes.
    durability: Mutex<Durability>,
    /// Whether the flusher runs: one at a time.
    flushing: AtomicBool,
    /// How many writers wait for a flush.
    waiting: AtomicUsize,
    /// Told after each flush how far it got, by the thread that flushed.
    after_flush: OnceLock<Box<dyn Fn(Ticket) + Send + Sync>>,
}

#[derive(Clone, Default)]
struct Flushed {
    /// The highest ticket a finished flush covered.
    upto: u64,
    stopped: Option<Stopped>,
}

/// Why the store acknowledges nothing more: the daemon must stop.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}")]
pub struct Stopped {
    reason: Arc<str>,
    /// A file of the store was deleted or replaced: what the daemon holds in memory
    /// is all that is left of some acknowledged changes.
    files_gone: bool,
}

impl Stopped {
    pub fn new(reason: impl Into<String>) -> Stopped {
        Stopped {
            reason: Arc::from(reason.into()),
            files_gone: false,
        }
    }

    /// Whether it stopped because a file of the store was deleted or replaced.
    pub fn files_gone(&self) -> bool {
        self.files_gone
    }
}

/// A write that has been applied and is waiting to be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

/// Files that must stay the ones the daemon opened (same device and inode), some of
/// them no smaller than a size they never shrink below (the journals are made whole
/// at their full size: one truncated has lost records).
pub struct Guard {
    files: Vec<(PathBuf, (u64, u64), u64)>,
}

impl Guard {
    /// Guards `files`, each with the least size it must keep.
    pub fn new(files: &[(PathBuf, u64)]) -> std::io::Result<Guard> {
        let files = files
            .iter()
            .map(|(path, least)| {
                let (identity, _) = stat(path)?;
                Ok((path.clone(), identity, *least))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Guard { files })
    }

    /// The first guarded file that is gone, replaced or cut short.
    fn check(&self) -> Result<(), Stopped> {
        for (path, opened, least) in &self.files {
            let now = stat(path).ok();
            let how = match now {
                Some((identity, _)) if identity != *opened => "deleted or replaced",
                None => "deleted or replaced",
                Some((_, size)) if size < *least => "cut short",
                Some(_) => continue,
            };
            return Err(Stopped {
                files_gone: true,
                ..Stopped::new(format!(
                    "{} was {how} while the daemon ran; it stopped without acknowledging anything more, and a restart refuses the store if changes were lost",
                    path.display()
                ))
            });
        }
        Ok(())
    }
}

/// The device and inode of the file at `path`, and its size, and nothing else:
/// asking for its times too (as `std::fs::metadata` does) has Linux stamp every later
/// write of the file with a fine-grained time, which dirties its inode on each of the
/// journal's writes.
fn stat(path: &Path) -> std::io::Result<((u64, u64), u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut stat = std::mem::MaybeUninit::<libc::statx>::uninit();
    // SAFETY: `path` ends with a NUL byte and `stat` is large enough for what statx
    // writes; both outlive the call.
    let done = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            path.as_ptr(),
            0,
            libc::STATX_INO | libc::STATX_SIZE,
            stat.as_mut_ptr(),
        )
    };
    if done != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statx succeeded, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    let identity = (
        libc::makedev(stat.stx_dev_major, stat.stx_dev_minor),
        stat.stx_ino,
    );
    Ok((identity, stat.stx_size))
}

/// What the flusher needs besides the database.
struct Durability {
    /// The writes since the last flush.
    written: Arc<Mutex<Written>>,
    journals: Journals,
    /// The writes journalled since the database last got them: it gets them when a
    /// journal is full, and as the daemon stops.
    unapplied: Vec<Write>,
    /// The database getting the full journal's writes, on a thread of its own.
    applying: Option<std::thread::JoinHandle<Result<(), Stopped>>>,
    check: CheckFile,
    guard: Guard,
}

impl GroupCommit {
    /// Group commit for `db`, whose writes `journals` make durable. After each
    /// flush, `check` records what `written` said before it, once `guard` holds.
    pub fn new(
        db: sled::Db,
        written: Arc<Mutex<Written>>,
        journals: Journals,
        check: CheckFile,
        guard: Guard,
    ) -> GroupCommit {
        GroupCommit {
            inner: Arc::new(Inner {
                db,
                written: AtomicU64::new(0),
                flushed: watch::channel(Flushed::default()).0,
                halted: watch::channel(None).0,
                durability: Mutex::new(Durability {
                    written,
                    journals,
                    unapplied: Vec::new(),
                    applying: None,
                    check,
                    guard,
                }),
                after_flush: OnceLock::new(),
                flushing: AtomicBool::new(false),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// Has `hook` told, after each flush, the last ticket it made durable (once per
    /// store: for those who act on durable writes, without a thread of their own).
    pub fn after_flush(&self, hook: impl Fn(Ticket) + Send + Sync + 'static) {
        if self.inner.after_flush.set(Box::new(hook)).is_err() {
            panic!("one hook after flushes per store");
        }
    }

    /// The last ticket a flush made durable.
    pub fn durable_upto(&self) -> Ticket {
        Ticket(self.inner.flushed.borrow().upto)
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

    /// Makes the ticket's write durable: starts the flusher unless it runs, and waits
    /// for a flush that covers the write; an error when the store stopped first.
    pub async fn durable(&self, ticket: Ticket) -> Result<(), Stopped> {
        self.inner.waiting.fetch_add(1, Ordering::SeqCst);
        let mut pending = Pending {
            commit: self,
            ticket: Some(ticket),
        };
        let mut flushed = self.inner.flushed.subscribe();
        loop {
            if let Some(answer) = settled(&flushed.borrow_and_update(), ticket) {
                pending.ticket = None;
                return answer;
            }
            self.start_flusher(self.inner.waiting.load(Ordering::SeqCst) == 1);
            // Each flush ends with a change of `flushed`, whether or not it covered
            // this ticket; the next round starts the flusher again if it stopped.
            flushed
                .changed()
                .await
                .expect("the flush state outlives its commits");
        }
    }

    /// Starts the flusher unless one runs already: on this thread for a writer
    /// `alone` (it waits for the disk anyway, and a thread of its own would only add
    /// a hand-over to its latency), else on a blocking thread, never a runtime
    /// worker: a worker waiting on the disk would leave the requests that will share
    /// the next flush unanswered meanwhile.
    ///
    /// A contended flush first goes to the back of the runtime's queue: the requests
    /// ready to run by then write before it and share it, so a flush gathers writes
    /// in proportion to how many are coming, with no fixed wait that a lone request
    /// would pay.
    fn start_flusher(&self, alone: bool) {
        if self.inner.flushing.swap(true, Ordering::SeqCst) {
            return;
        }
        if alone {
            return self.run_flusher();
        }
        let commit = self.clone();
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            tokio::task::spawn_blocking(move || commit.run_flusher());
        });
    }

    /// The flusher: flushes everything written so far and tells who waits how far it
    /// got.
    fn run_flusher(&self) {
        let flushed = self.flush_written();
        // Cleared before the waiters hear of the flush: one whose write it left out
        // starts the next.
        self.inner.flushing.store(false, Ordering::SeqCst);
        match flushed {
            Some((target, Ok(()))) => {
                // The events of the writes go out before their answers.
                if let Some(hook) = self.inner.after_flush.get() {
                    hook(target);
                }
                self.inner
                    .flushed
                    .send_modify(|state| state.upto = state.upto.max(target.0));
            }
            Some((_, Err(stopped))) => self.stop(stopped),
            // A write may have come after this flusher looked and found it running:
            // its waiter looks again.
            None => self.inner.flushed.send_modify(|_| {}),
        }
    }

    /// Flushes what is written, unless it is durable already or the store stopped;
    /// answers the last ticket the flush covered, and how it went.
    fn flush_written(&self) -> Option<(Ticket, Result<(), Stopped>)> {
        let Ok(mut durability) = self.inner.durability.lock() else {
            let stopped = Stopped::new("a flush of the state failed midway");
            return Some((Ticket(0), Err(stopped)));
        };
        let target = self.inner.written.load(Ordering::SeqCst);
        let flushed = self.inner.flushed.borrow().clone();
        if flushed.stopped.is_some() || flushed.upto >= target {
            return None;
        }
        Some((Ticket(target), self.flush(&mut durability)))
    }

    /// Writes everything to the database itself and starts the journals over, as the
    /// daemon stops: a stopped workspace's state is all in the database.
    pub fn checkpoint(&self) -> Result<(), Stopped> {
        let mut durability = self
            .inner
            .durability
            .lock()
            .map_err(|_| Stopped::new("a flush of the state failed midway"))?;
        let (_, expected) = take_written(&mut durability);
        let done = checkpoint(&self.inner.db, &mut durability)
            .and_then(|()| write_check(&durability, &expected));
        if let Err(stopped) = &done {
            self.stop(stopped.clone());
        }
        done
    }

    /// Waits until the database got the writes handed to it on a thread of its own,
    /// for tests that copy its files.
    #[cfg(test)]
    pub fn applied(&self) -> Result<(), Stopped> {
        applied(&mut self.inner.durability.lock().unwrap())
    }

    /// One flush: the journal's records of the writes so far, the files they depend
    /// on, then the check record of what those writes left the database holding.
    ///
    /// When the records do not fit, they go to the other journal, and the database
    /// gets every write up to them on a thread of its own meanwhile; the full journal
    /// is started over only at the next switch, once the database holds them. Records
    /// larger than a journal go to the database at once, with everything before them.
    fn flush(&self, durability: &mut Durability) -> Result<(), Stopped> {
        // The database failing to take a full journal's writes is heard by the next
        // flush, which acknowledges nothing then.
        if durability
            .applying
            .as_ref()
            .is_some_and(|applying| applying.is_finished())
        {
            applied(durability)?;
        }
        let (mut records, expected) = take_written(durability);
        let journal_failed = |durability: &Durability, err: std::io::Error| {
            Stopped::new(format!(
                "writing the journal {} failed ({}); nothing more is acknowledged",
                durability.journals.path().display(),
                describe_io_error(&err)
            ))
        };
        let journalled = durability
            .journals
            .append(&mut records)
            .map_err(|err| journal_failed(durability, err))?;
        if !journalled {
            applied(durability)?;
            durability
                .journals
                .switch()
                .map_err(|err| journal_failed(durability, err))?;
            let switched = durability
                .journals
                .append(&mut records)
                .map_err(|err| journal_failed(durability, err))?;
            if switched {
                self.apply_aside(durability);
            } else {
                checkpoint(&self.inner.db, durability)?;
            }
        }
        durability.guard.check()?;
        write_check(durability, &expected)
    }

    /// Has the database get the writes so far on a thread of its own, with the last
    /// epoch it then holds whole: the one before the journal written now.
    ///
    /// The thread yields to the requests (nice 10): on two cores, sled's batches at
    /// the same priority made the slowest claim+complete pairs of eight clients (p99)
    /// a quarter to a half slower (docs/benchmarks.md). A flush that must wait for it
    /// leaves the cores to it.
    fn apply_aside(&self, durability: &mut Durability) {
        let writes = std::mem::take(&mut durability.unapplied);
        let covered = durability.journals.epoch() - 1;
        let db = self.inner.db.clone();
        durability.applying = Some(std::thread::spawn(move || {
            // SAFETY: setpriority reads and writes no memory of ours; on Linux, 0 names
            // the calling thread.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 10) };
            apply(&db, writes, covered)
        }));
    }

    /// Stops acknowledging: every waiter, now and later, hears `reason`.
    pub fn stop(&self, reason: Stopped) {
        tracing::error!("{reason}");
        let first = self.inner.halted.send_if_modified(|halted| {
            let first = halted.is_none();
            halted.get_or_insert(reason.clone());
            first
        });
        if first {
            super::abandon(&self.inner.db);
        }
        self.inner.flushed.send_if_modified(|state| {
            let first = state.stopped.is_none();
            state.stopped.get_or_insert(reason);
            first
        });
    }

    /// Stops the store, as a flush would, when a file it depends on is gone or
    /// replaced: a workspace deleted while nothing is written must not go on being
    /// served from memory, nor keep its daemon answering for a new directory made at
    /// its path.
    pub fn check_files(&self) {
        // A flush under way checks them itself: never wait for one here.
        let checked = match self.inner.durability.try_lock() {
            Ok(durability) => durability.guard.check(),
            Err(_) => return,
        };
        if let Err(gone) = checked {
            self.stop(gone);
        }
    }

    /// Waits until the store stops acknowledging; answers why.
    pub async fn stopped(&self) -> Stopped {
        let mut halted = self.inner.halted.subscribe();
        let halted = halted
            .wait_for(Option::is_some)
            .await
            .expect("the stop state outlives its commits");
        halted.clone().expect("stopped")
    }
}

/// A ticket whose waiter may give up (its request dropped) while the flush it
/// counted on left its write out: it is then made durable by a task of its own, so
/// that what waits on the write after it (its events) is not held back.
struct Pending<'a> {
    commit: &'a GroupCommit,
    ticket: Option<Ticket>,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.commit.inner.waiting.fetch_sub(1, Ordering::SeqCst);
        let Some(ticket) = self.ticket else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let commit = self.commit.clone();
            runtime.spawn(async move { commit.durable(ticket).await });
        }
    }
}

fn settled(state: &Flushed, ticket: Ticket) -> Option<Result<(), Stopped>> {
    if let Some(stopped) = &state.stopped {
        return Some(Err(stopped.clone()));
    }
    (state.upto >= ticket.0).then_some(Ok(()))
}

/// Takes the records and writes written since the last flush, the writes kept for the
/// database, and answers the records and what the database holds after them.
fn take_written(durability: &mut Durability) -> (Records, super::Expected) {
    let mut written = durability.written.lock().expect("written lock");
    durability.unapplied.append(&mut written.writes);
    (std::mem::take(&mut written.records), written.expected)
}

/// Waits until the database got the writes handed to it last, if it is getting any.
fn applied(durability: &mut Durability) -> Result<(), Stopped> {
    match durability.applying.take().map(|applying| applying.join()) {
        None => Ok(()),
        Some(Ok(applied)) => applied,
        Some(Err(_)) => Err(Stopped::new(
            "writing the state to disk failed midway; nothing more is acknowledged",
        )),
    }
}

/// Gives the database every write taken so far, those of records too large for a
/// journal among them, all at once, and starts the journals over: whatever they held
/// is durable in the database now. A crash before that leaves none of them there, and
/// the journals bring back the state before the large records, which was the last
/// acknowledged.
fn checkpoint(db: &sled::Db, durability: &mut Durability) -> Result<(), Stopped> {
    applied(durability)?;
    let writes = std::mem::take(&mut durability.unapplied);
    super::database::apply_at_once(db, writes, durability.journals.epoch())
        .map_err(write_failed)?;
    durability.journals.start_over().map_err(|err| {
        Stopped::new(format!(
            "starting the journal {} over failed ({}); nothing more is acknowledged",
            durability.journals.path().display(),
            describe_io_error(&err)
        ))
    })
}

/// Gives the database `writes`, which end at a flush's records exactly, so that a
/// crash never leaves it with part of a write the journals do not hold.
fn apply(db: &sled::Db, writes: Vec<Write>, covered: u64) -> Result<(), Stopped> {
    super::database::apply(db, writes, covered).map_err(write_failed)
}

fn write_failed(err: sled::Error) -> Stopped {
    Stopped::new(format!(
        "writing the state to disk failed ({}); nothing more is acknowledged",
        describe_io(&err)
    ))
}

fn write_check(durability: &Durability, expected: &super::Expected) -> Result<(), Stopped> {
    durability.check.write(expected).map_err(|err| {
        Stopped::new(format!(
            "writing the check record {} failed ({err}); nothing more is acknowledged",
            durability.check.path().display()
        ))
    })
}

/// Whether sled failed for want of space.
pub fn is_disk_full(err: &sled::Error) -> bool {
    matches!(err, sled::Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull)
}

/// A sled error in words, naming a full disk as such.
pub fn describe_io(err: &sled::Error) -> String {
    // sled passes I/O errors on as copies that keep only their kind.
    match err {
        sled::Error::Io(io) => describe_io_error(io),
        other => other.to_string(),
    }
}

/// An I/O error in words, naming a full disk and the file size limit as such.
fn describe_io_error(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::StorageFull => "the disk is full".into(),
        std::io::ErrorKind::FileTooLarge => "the file size limit was reached".into(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::FutureExt;

    use super::*;
    use crate::store::Store;

    /// A store's group commit, and a channel that hears each flush's reach.
    fn commit() -> (
        tempfile::TempDir,
        GroupCommit,
        tokio::sync::mpsc::UnboundedReceiver<Ticket>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut store =
            Store::open(&dir.path().join("state"), &dir.path().join("state.check")).unwrap();
        let commit = store.group_commit(&[]).unwrap();
        let (told, heard) = tokio::sync::mpsc::unbounded_channel();
        commit.after_flush(move |ticket| {
            let _ = told.send(ticket);
        });
        (dir, commit, heard)
    }

    #[tokio::test]
    async fn a_writer_alone_is_answered_once_a_flush_covered_its_write() {
        let (_dir, commit, mut heard) = commit();
        let ticket = commit.ticket();
        commit.durable(ticket).await.unwrap();
        assert_eq!(
            heard.try_recv().ok(),
            Some(ticket),
            "flushed before answering"
        );
        assert_eq!(commit.durable_upto(), ticket);
    }

    #[tokio::test]
    async fn a_write_whose_waiter_gave_up_during_another_flush_is_still_made_durable() {
        let (_dir, commit, mut heard) = commit();
        // A flush under way that began before the write.
        commit.inner.flushing.store(true, Ordering::SeqCst);
        let ticket = commit.ticket();
        let mut waiting = Box::pin(commit.durable(ticket));
        assert!(
            waiting.as_mut().now_or_never().is_none(),
            "waits for the flush under way"
        );
        drop(waiting);
        // That flush ends without covering the write.
        commit.inner.flushing.store(false, Ordering::SeqCst);
        commit.inner.flushed.send_modify(|_| {});
        let reached = tokio::time::timeout(Duration::from_secs(10), heard.recv())
            .await
            .expect("a flush covers the abandoned write within 10 s")
            .unwrap();
        assert!(reached >= ticket);
    }

    /// Counts the wakes of a future polled by hand.
    struct Wakes(std::sync::atomic::AtomicUsize);

    impl futures::task::ArcWake for Wakes {
        fn wake_by_ref(wakes: &Arc<Self>) {
            wakes.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn what_waits_for_a_stop_is_woken_by_the_stop_and_not_by_each_flush() {
        let (_dir, commit, _heard) = commit();
        let wakes = Arc::new(Wakes(Default::default()));
        let waker = futures::task::waker(wakes.clone());
        let mut context = std::task::Context::from_waker(&waker);
        let mut stopped = Box::pin(commit.stopped());
        assert!(std::future::Future::poll(stopped.as_mut(), &mut context).is_pending());
        for _ in 0..3 {
            let ticket = commit.ticket();
            commit.durable(ticket).await.unwrap();
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0, "woken by flushes");
        commit.stop(Stopped::new("the disk is full"));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        match std::future::Future::poll(stopped.as_mut(), &mut context) {
            std::task::Poll::Ready(reason) => assert_eq!(reason.to_string(), "the disk is full"),
            std::task::Poll::Pending => panic!("the stop was not heard"),
        }
    }
}
