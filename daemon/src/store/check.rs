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
use std::io::ErrorKind;
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
    /// when there was none yet. A new record is written whole before it is put in
    /// place, so an empty one was emptied: it is unreadable, not new.
    pub fn open(path: &Path) -> std::io::Result<(CheckFile, Option<Expected>)> {
        if std::fs::symlink_metadata(path).is_err_and(|err| err.kind() == ErrorKind::NotFound) {
            return Ok((CheckFile::create(path)?, None));
        }
        let file = super::open_private(path)?;
        let mut bytes = vec![0; SIZE];
        let read = file.read_at(&mut bytes, 0)?;
        bytes.truncate(read);
        let text = String::from_utf8_lossy(&bytes);
        let unreadable = |why: String| {
            std::io::Error::new(ErrorKind::InvalidData, format!("{} {why}", path.display()))
        };
        let expected = match text.trim() {
            "" => return Err(unreadable("is empty".into())),
            text => serde_json::from_str(text)
                .map_err(|err| unreadable(format!("is unreadable: {err}")))?,
        };
        let check = CheckFile {
            path: path.to_owned(),
            file,
        };
        Ok((check, Some(expected)))
    }

    /// Writes a record of an empty store beside `path`, durably, and renames it into
    /// place: no crash leaves an empty record behind.
    fn create(path: &Path) -> std::io::Result<CheckFile> {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".new");
        let staging = path.with_file_name(name);
        let file = super::open_private(&staging)?;
        file.set_len(0)?;
        let check = CheckFile {
            path: staging,
            file,
        };
        check.write(&Expected::default())?;
        check.file.sync_all()?;
        std::fs::rename(&check.path, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(CheckFile {
            path: path.to_owned(),
            file: check.file,
        })
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
