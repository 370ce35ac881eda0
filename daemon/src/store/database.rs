//! sled's configuration for the workspace's store, and how writes reach it.

use std::path::Path;

use super::{Write, CACHE_CAPACITY, COVERED};

/// How the database at `path` is configured (public so that the bench measures the
/// same database's own durable write).
pub fn database(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_CAPACITY)
        // Durability is ours to decide: group commit flushes when a reply waits.
        .flush_every_ms(None)
        .segment_size(segment_size(path))
}

/// sled's segment size for a new store. sled keeps a write of up to about a quarter
/// of a segment in its log, whose space it reuses; a larger one goes to a file of its
/// own under `blobs/`, which sled 0.34 does not remove when the record is written
/// again (spacejam/sled#786). A task is written at every step of its way, and one with
/// a long description or output (up to a few MiB) left a copy at each: 300 edits of a
/// task of 900 KB kept 270 MB. With 8 MiB segments every task stays in the log.
const SEGMENT_SIZE: usize = 8 << 20;

/// The segment size of the store at `path`, as it was made (sled opens a store with
/// no other), or [`SEGMENT_SIZE`] for a new one.
fn segment_size(path: &Path) -> usize {
    let Ok(conf) = std::fs::read(path.join("conf")) else {
        return SEGMENT_SIZE;
    };
    String::from_utf8_lossy(&conf)
        .lines()
        .find_map(|line| line.strip_prefix("segment_size:")?.trim().parse().ok())
        .unwrap_or(SEGMENT_SIZE)
}

/// How many keys sled gets in one batch when the journalled writes reach it. sled
/// frees what a batch replaced only once the batch is over: one batch of a whole
/// journal's writes left the daemon 14–15 MiB larger after adding 100,000 tasks
/// (docs/benchmarks.md).
const APPLIED_AT_ONCE: usize = 256;

/// Applies `writes` to `db` (a key written twice gets its last value) in batches, then
/// records `covered`, the highest journal epoch `db` now holds whole, and flushes it.
/// A crash before that leaves some keys at their new values and the epoch as it was:
/// the journals above it are applied again at open, in order, which brings every key
/// to its last value.
pub(super) fn apply(db: &sled::Db, writes: Vec<Write>, covered: u64) -> sled::Result<()> {
    let mut keys = last_values(writes).into_iter().peekable();
    while keys.peek().is_some() {
        let mut batch = sled::Batch::default();
        for write in keys.by_ref().take(APPLIED_AT_ONCE) {
            put_in(&mut batch, write);
        }
        db.apply_batch(batch)?;
    }
    db.insert(COVERED, &covered.to_be_bytes())?;
    db.flush().map(drop)
}

/// Applies `writes` to `db` as one batch that also records `covered`, then flushes:
/// for writes no journal holds (a change larger than a journal, a restore), which a
/// crash midway must leave all there or not at all. sled recovers a batch whole or
/// not at all; the journals, still there until the batch is durable, then bring back
/// the state before them.
pub(super) fn apply_at_once(db: &sled::Db, writes: Vec<Write>, covered: u64) -> sled::Result<()> {
    let mut batch = sled::Batch::default();
    for write in last_values(writes) {
        put_in(&mut batch, write);
    }
    batch.insert(COVERED, &covered.to_be_bytes());
    db.apply_batch(batch)?;
    db.flush().map(drop)
}

/// Each key's last value among `writes`, in key order.
fn last_values(writes: Vec<Write>) -> std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    writes.into_iter().collect()
}

/// Adds one write to `batch`: a value, or none to remove the key.
fn put_in(batch: &mut sled::Batch, (key, value): Write) {
    match value {
        Some(value) => batch.insert(key, value),
        None => batch.remove(key),
    }
}
