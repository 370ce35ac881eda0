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
    let length = file.metadata().map_err(failed)?.len();
    if offset > length {
        return Err(BatonError::invalid(format!(
            "offset {offset} is past the end of the log ({length} bytes); read from 0, or from the next_offset an answer gave"
        )));
    }
    file.seek(SeekFrom::Start(offset)).map_err(failed)?;
    let mut bytes = Vec::new();
    file.take(CHUNK).read_to_end(&mut bytes).map_err(failed)?;
    // Only whole lines: a line still being written comes with the next read. A line
    // longer than a chunk (an agent's Write of a large file is one line) comes in
    // pieces, each ending at a character's end, for the reader to join.
    let whole = match bytes.iter().rposition(|&byte| byte == b'\n') {
        Some(end) => end + 1,
        None if bytes.len() as u64 == CHUNK => whole_characters(&bytes),
        None => 0,
    };
    bytes.truncate(whole);
    Ok(TaskLogChunk {
        next_offset: offset + bytes.len() as u64,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// How much of `bytes` holds whole characters: all of it, or up to the last one when
/// the chunk cut it. Bytes that are not UTF-8 count as characters of their own.
fn whole_characters(bytes: &[u8]) -> usize {
    let lead = (bytes.len().saturating_sub(4)..bytes.len())
        .rev()
        .find(|&at| bytes[at] & 0b1100_0000 != 0b1000_0000);
    let Some(lead) = lead else {
        return bytes.len();
    };
    let width = match bytes[lead] {
        byte if byte >= 0b1111_0000 => 4,
        byte if byte >= 0b1110_0000 => 3,
        byte if byte >= 0b1100_0000 => 2,
        _ => 1,
    };
    if lead + width > bytes.len() {
        lead
    } else {
        bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_longer_than_a_chunk_comes_in_pieces_cut_between_characters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task-001.log");
        // "é" is two bytes: one of them falls on the chunk's end.
        let line = format!("x{}", "é".repeat(CHUNK as usize));
        std::fs::write(&path, format!("{{}}\n{line}\n{{}}\n")).unwrap();
        let mut text = String::new();
        let mut offset = 0;
        loop {
            let chunk = read(&path, offset).unwrap();
            if chunk.text.is_empty() {
                break;
            }
            assert!(!chunk.text.contains('\u{fffd}'), "no character was split");
            text.push_str(&chunk.text);
            offset = chunk.next_offset;
        }
        assert_eq!(text, format!("{{}}\n{line}\n{{}}\n"));
    }

    #[test]
    fn a_last_line_still_being_written_waits_for_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task-001.log");
        std::fs::write(&path, "{}\n{\"type\":").unwrap();
        let chunk = read(&path, 0).unwrap();
        assert_eq!((chunk.text.as_str(), chunk.next_offset), ("{}\n", 3));
        assert_eq!(read(&path, 3).unwrap().text, "");
    }

    #[test]
    fn an_offset_past_the_end_is_refused_saying_where_the_end_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("task-001.log");
        std::fs::write(&path, "{}\n").unwrap();
        assert_eq!(read(&path, 3).unwrap().next_offset, 3);
        for offset in [4, 1 << 63, u64::MAX] {
            let err = read(&path, offset).unwrap_err();
            assert_eq!(err.kind, baton_protocol::ErrorKind::InvalidInputError);
            assert!(
                err.message.contains("past the end of the log (3 bytes)"),
                "{err}"
            );
        }
    }
}
