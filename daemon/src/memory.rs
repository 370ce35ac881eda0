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

/// Gives back every free page of the heap now: at start, what reading the state
/// freed (a daemon restarted on 100,000 tasks holds about 10 MiB less).
pub fn return_freed() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
