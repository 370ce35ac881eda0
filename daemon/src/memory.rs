//! Giving the system back the heap the daemon freed. glibc keeps freed memory for
//! reuse unless told, and the daemon frees the most between the things it keeps:
//! the records read at start before the board took them over, and each request,
//! answer and event of a burst of changes between the tasks they made.

use std::time::Duration;

use crate::store::GroupCommit;

/// How long the store must go without a write before what its last burst of
/// writes freed is given back.
const QUIET: Duration = Duration::from_secs(1);

/// Gives back what a burst of changes freed once the store has been quiet for
/// [`QUIET`] (14 to 29 MiB of a daemon just given 100,000 tasks,
/// docs/benchmarks.md). Quiet is the absence of writes, which only the clock can
/// tell: a counter read once a second costs nothing under load, where a wake-up
/// per change would.
pub async fn return_freed_when_quiet(commit: GroupCommit) {
    let mut ticks = tokio::time::interval(QUIET);
    let mut seen = commit.current();
    let mut given_back = seen;
    loop {
        ticks.tick().await;
        let now = commit.current();
        if now == seen && now != given_back {
            let _ = tokio::task::spawn_blocking(return_freed).await;
            given_back = now;
        }
        seen = now;
    }
}

/// The size from which glibc maps an allocation of its own, which goes back to the
/// system when freed: glibc's default, kept fixed.
const MAP_FROM: usize = 128 * 1024;

/// Keeps large allocations out of the heap. glibc raises the size it maps from to
/// that of each mapped allocation freed, up to 32 MiB: once the store freed one of
/// its 8 MiB buffers, the next ones were made in the heap, between the tasks, where
/// their pages stayed after them (a daemon restarted on 100,000 tasks held 95 MiB,
/// against 79 MiB with the size fixed; docs/benchmarks.md). Called first thing.
pub fn keep_large_allocations_apart() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets a parameter of the allocator, before any thread runs.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MAP_FROM as libc::c_int);
    }
}

/// Gives back every free page of the heap now: at start, what reading the state
/// freed (a daemon restarted on 100,000 tasks holds about 10 MiB less).
pub fn return_freed() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
