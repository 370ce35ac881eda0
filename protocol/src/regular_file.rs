//! Files that anyone may have put where they are read (a file a user names for
//! `baton load` or `baton restore --from`, `daemon.json`, a task's log): read only
//! when they are regular files of a bounded size. A device such as `/dev/zero` would
//! be read until memory ran out, and opening a named pipe waits for a writer that may
//! never come, with the daemon's request or the command held meanwhile.

use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The largest state file read: a board of 100,000 tasks is written in about 60 MB.
pub const LIMIT: u64 = 1 << 30;

/// The whole of the regular file at `path`, refused when it is something else or
/// over `limit` bytes.
pub fn read(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    // Opening a named pipe without O_NONBLOCK waits for a writer.
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a directory, device or pipe)",
        ));
    }
    if meta.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {} bytes, over the limit of {limit}", meta.len()),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_within_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read(&file, 10).unwrap(), b"{}");
        assert!(read(&file, 1)
            .unwrap_err()
            .to_string()
            .contains("over the limit"));
        for special in [Path::new("/dev/zero"), dir.path()] {
            let err = read(special, LIMIT).unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
        let fifo = dir.path().join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let err = read(&fifo, LIMIT).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
