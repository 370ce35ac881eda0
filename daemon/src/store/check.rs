//! The check record: what the store must hold, kept beside the database (not in it),
//! so that a database that lost its end, its beginning or a piece of its middle is
//! caught at start instead of served with less state.
//!
//! Every write to the database carries the next change number; after each flush the
//! record says the last change number made durable and how many tasks and discoveries
//! the store held then. At start the database must hold at least that change and, at
//! that change, those counts. The record lags the database by at most one flush (it is
//! written after it), so a database ahead of the record is sound; one behind it lost
//! acknowledged changes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The record's fixed size: it is rewritten in place with one write, never torn
/// across sectors.
const SIZE: usize = 128;

/// What the store held after a change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// The number of the last change written.
    pub change: u64,
    pub tasks: usize,
    pub discoveries: usize,
}

/// The record's file, open for rewriting.
pub struct CheckFile {
    path: PathBuf,
    file: File,
}

impl CheckFile {
    /// Opens (creating, private) the record at `path`; answers what it said, `None`
    /// when there was none yet.
    pub fn open(path: &Path) -> std::io::Result<(CheckFile, Option<Expected>)> {
        let file = super::open_private(path)?;
        let mut bytes = vec![0; SIZE];
        let read = file.read_at(&mut bytes, 0)?;
        bytes.truncate(read);
        let text = String::from_utf8_lossy(&bytes);
        let expected = match text.trim() {
            "" => None,
            text => Some(serde_json::from_str(text).map_err(|err| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} is unreadable: {err}", path.display()),
                )
            })?),
        };
        let check = CheckFile {
            path: path.to_owned(),
            file,
        };
        Ok((check, expected))
    }

    /// Rewrites the record in place (no sync: it may lag the database, never lead it).
    pub fn write(&self, expected: &Expected) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(expected).expect("the record serializes");
        bytes.resize(SIZE - 1, b' ');
        bytes.push(b'\n');
        self.file.write_all_at(&bytes, 0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
