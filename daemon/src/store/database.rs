//! sled's configuration for the workspace's store.

use std::path::Path;

use super::CACHE_CAPACITY;

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
