//! Reading the database back at open: every record decoded, and the newest change
//! that wrote one, which the check record is held against.

use baton_protocol::{AttemptRecord, Discovery, Task};

use super::{StoreError, ATTEMPT, DISCOVERY, META, TASK};
use crate::core::Meta;

/// Every record of the database, decoded.
pub(super) struct Stored {
    /// `None` when no setting was ever stored.
    pub meta: Option<Meta>,
    pub tasks: Vec<Task>,
    pub discoveries: Vec<Discovery>,
    pub attempts: Vec<AttemptRecord>,
    pub last_change: u64,
    /// The size of the records read.
    pub bytes: u64,
}

impl Stored {
    pub fn read(db: &sled::Db) -> Result<Stored, StoreError> {
        // Tasks can be stored before any setting is (a workspace never initialised).
        let mut read = Read::default();
        let meta: Option<Meta> = match db.get(META)? {
            Some(bytes) => Some(read.decode("settings", &bytes)?),
            None => None,
        };
        let tasks = read.prefix(db, TASK, "task")?;
        let discoveries = read.prefix(db, DISCOVERY, "discovery")?;
        let attempts = read.prefix(db, ATTEMPT, "attempt record")?;
        Ok(Stored {
            meta,
            tasks,
            discoveries,
            attempts,
            last_change: read.last_change,
            bytes: read.bytes,
        })
    }
}

/// What reading the records has seen so far.
#[derive(Default)]
struct Read {
    last_change: u64,
    bytes: u64,
}

impl Read {
    fn prefix<T: serde::de::DeserializeOwned>(
        &mut self,
        db: &sled::Db,
        prefix: u8,
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        db.scan_prefix([prefix])
            .map(|entry| {
                let (_, bytes) = entry?;
                self.decode(what, &bytes)
            })
            .collect()
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &mut self,
        what: &str,
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        self.bytes += bytes.len() as u64;
        decode(what, bytes, &mut self.last_change)
    }
}

/// Reads a value back, raising `last_change` to the change that wrote it. A value
/// written before changes were numbered is bare JSON (it starts with `{`, never a
/// change number's first byte) and counts as change 0.
fn decode<T: serde::de::DeserializeOwned>(
    what: &str,
    bytes: &[u8],
    last_change: &mut u64,
) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: what.into(),
        reason,
    };
    let json = match bytes.first() {
        Some(b'{') => bytes,
        _ => {
            let (change, json) = bytes
                .split_first_chunk::<8>()
                .ok_or_else(|| corrupt(format!("a record of {} bytes", bytes.len())))?;
            *last_change = (*last_change).max(u64::from_be_bytes(*change));
            json
        }
    };
    serde_json::from_slice(json).map_err(|err| corrupt(err.to_string()))
}
