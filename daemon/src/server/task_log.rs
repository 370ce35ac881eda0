//! Reading a task's agent log in pieces, so `baton logs --follow` can keep up with it.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use baton_protocol::methods::TaskLogChunk;
use baton_protocol::BatonError;

/// The most one answer carries.
const CHUNK: u64 = 1024 * 1024;

/// The log from `offset` on, up to a chunk, ending at a line's end. A task whose agent
/// has not started yet has an empty log.
pub fn read(path: &Path, offset: u64) -> Result<TaskLogChunk, BatonError> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(TaskLogChunk {
                text: String::new(),
                next_offset: 0,
            });
        }
        Err(err) => {
            return Err(BatonError::orchestration(format!(
                "cannot read {}: {err}",
                path.display()
            )));
        }
    };
    let failed = |err: std::io::Error| {
        BatonError::orchestration(format!("cannot read {}: {err}", path.display()))
    };
    file.seek(SeekFrom::Start(offset)).map_err(failed)?;
    let mut bytes = Vec::new();
    file.take(CHUNK).read_to_end(&mut bytes).map_err(failed)?;
    // Only whole lines: a line still being written comes with the next read.
    let whole = bytes
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |end| end + 1);
    bytes.truncate(whole);
    Ok(TaskLogChunk {
        next_offset: offset + bytes.len() as u64,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    })
}
