//! The journals: what makes a write durable at the disk's own cost. Every change the
//! store makes is encoded as one record, and a flush writes the records gathered since
//! the last one and syncs them: one write and one sync, where a flush of sled costs
//! twice the disk's sync and more (docs/benchmarks.md). There are two journal files:
//! when one is full, records go to the other while sled gets the full one's writes,
//! on a thread of its own; a file is started over only once sled holds its records.
//! A request thus does not wait on sled's own work, and a task claimed and completed
//! between two switches is written to sled once. At open, the records sled does not
//! hold whole are applied to it before it is read, the older journal's first: each
//! sets or removes whole values, in the order they were written, so applying one that
//! sled already holds changes nothing.
//!
//! The file is written out to its full size when made, so that syncing records
//! written into it changes neither its size nor its blocks: no metadata to sync, the
//! same `sync_file_range` as sled's own log. A header names the journal's epoch, which
//! each start-over raises, and each record carries the epoch and a checksum: records of
//! an earlier epoch left beyond the last one, and a record torn by a crash, end the
//! journal rather than being taken for changes.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::Write;

/// A journal's size: records of about 500 bytes (a task) fill it every two thousand
/// changes or so, each time for sled to take and flush, and a small disk still has
/// room for two.
pub const CAPACITY: u64 = 1 << 20;
/// The header takes the first sector, records follow.
const HEADER: u64 = 512;
const MAGIC: &[u8; 8] = b"batonjl1";
/// A record's length, checksum and epoch come before its operations.
const FRAME: usize = 16;

const PUT: u8 = b'p';
const REMOVE: u8 = b'r';

/// One journal file, open for writing records.
struct Journal {
    file: File,
    path: PathBuf,
    epoch: u64,
    /// Where the next record goes.
    end: u64,
}

/// Records encoded as the store writes them, waiting for a flush to make them durable.
#[derive(Default)]
pub struct Records {
    bytes: Vec<u8>,
    /// More than the journal holds: sled gets them at once instead, so they are not
    /// kept.
    overflowed: bool,
}

/// One operation of a record, as applied to sled.
pub enum Operation<'a> {
    Put(&'a [u8], &'a [u8]),
    Remove(&'a [u8]),
}

impl Records {
    /// Appends one record: operations that are read back together or not at all.
    pub fn push<'a>(&mut self, operations: impl IntoIterator<Item = Operation<'a>>) {
        if self.overflowed {
            return;
        }
        let start = self.bytes.len();
        // Length, checksum and epoch are filled in when the record is written.
        self.bytes.extend_from_slice(&[0; FRAME]);
        for operation in operations {
            match operation {
                Operation::Put(key, value) => {
                    self.bytes.push(PUT);
                    self.chunk(key);
                    self.chunk(value);
                }
                Operation::Remove(key) => {
                    self.bytes.push(REMOVE);
                    self.chunk(key);
                }
            }
            if self.bytes.len() as u64 > CAPACITY {
                self.bytes = Vec::new();
                self.overflowed = true;
                return;
            }
        }
        let length = (self.bytes.len() - start - FRAME) as u32;
        self.bytes[start..start + 4].copy_from_slice(&length.to_le_bytes());
    }

    fn chunk(&mut self, bytes: &[u8]) {
        self.bytes
            .extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(bytes);
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty() && !self.overflowed
    }

    /// Stamps every record with `epoch` and its checksum.
    fn seal(&mut self, epoch: u64) {
        let mut at = 0;
        while at < self.bytes.len() {
            let length = u32::from_le_bytes(self.bytes[at..at + 4].try_into().unwrap()) as usize;
            self.bytes[at + 8..at + FRAME].copy_from_slice(&epoch.to_le_bytes());
            let sum = crc32fast::hash(&self.bytes[at + 8..at + FRAME + length]);
            self.bytes[at + 4..at + 8].copy_from_slice(&sum.to_le_bytes());
            at += FRAME + length;
        }
    }
}

impl Journal {
    /// Opens the journal at `path`, making it when there is none (or none readable);
    /// answers it and the writes its records hold, oldest first, for sled to apply
    /// before it is read. The journal is not started over here: the caller does that
    /// once sled holds the writes durably.
    fn open(path: &Path) -> io::Result<(Journal, Vec<Write>)> {
        let file = super::open_private(path)?;
        let mut bytes = Vec::with_capacity(CAPACITY as usize);
        let read = (&file).take(CAPACITY).read_to_end(&mut bytes)?;
        let mut journal = Journal {
            file,
            path: path.to_owned(),
            epoch: 0,
            end: HEADER,
        };
        match header(&bytes) {
            Some(epoch) if read as u64 == CAPACITY => {
                journal.epoch = epoch;
                let writes = replay(&bytes, epoch).map_err(|reason| corrupt(path, &reason))?;
                Ok((journal, writes))
            }
            // Never made whole (a crash as it was made): nothing was journalled in it.
            _ => {
                journal.make()?;
                Ok((journal, Vec::new()))
            }
        }
    }

    /// Writes `records` after the last ones and syncs them; answers false, writing
    /// nothing, when they do not fit.
    fn append(&mut self, records: &mut Records) -> io::Result<bool> {
        if records.is_empty() {
            return Ok(true);
        }
        let length = records.bytes.len() as u64;
        if records.overflowed || self.end + length > CAPACITY {
            return Ok(false);
        }
        records.seal(self.epoch);
        self.file.write_all_at(&records.bytes, self.end)?;
        sync_range(&self.file, self.end, length)?;
        self.end += length;
        Ok(true)
    }

    /// Starts the journal over, empty, once sled holds everything it did, in `epoch`
    /// (a new one), so that the records of the last are never read again.
    fn start_over(&mut self, epoch: u64) -> io::Result<()> {
        self.epoch = epoch;
        self.file.write_all_at(&header_bytes(self.epoch), 0)?;
        sync_range(&self.file, 0, HEADER)?;
        self.end = HEADER;
        Ok(())
    }

    /// Writes the whole file out, zeros after a header, and syncs it with its size.
    fn make(&mut self) -> io::Result<()> {
        self.epoch = 1;
        let mut bytes = vec![0; CAPACITY as usize];
        bytes[..HEADER as usize].copy_from_slice(&header_bytes(self.epoch));
        self.file.set_len(0)?;
        self.file.write_all_at(&bytes, 0)?;
        self.file.sync_all()?;
        self.end = HEADER;
        Ok(())
    }
}

/// The journal's two files: records go to one until it is full, then to the other
/// while sled gets the first one's writes; the first is started over only once sled
/// holds them. Their epochs order them at open. sled itself records the highest
/// epoch all of whose records it holds, in the same batch as those writes, so that a
/// journal it holds whole is never applied over newer state.
pub struct Journals {
    files: [Journal; 2],
    active: usize,
    /// The highest epoch given out or held by sled: a new one is above it.
    highest: u64,
}

impl Journals {
    /// The files' names, in the database's directory: a restore moves them aside with
    /// it.
    pub const NAMES: [&str; 2] = ["journal", "journal-2"];

    /// Opens the journals in `dir` (making those there are not) and answers the
    /// writes of the records sled does not hold whole (`covered`: the highest epoch it
    /// does), oldest first, for sled to apply before it is read. Nothing is started
    /// over here: the caller does that once sled holds the writes durably.
    pub fn open(dir: &Path, covered: u64) -> io::Result<(Journals, Vec<Write>)> {
        let opened = [
            Journal::open(&dir.join(Self::NAMES[0]))?,
            Journal::open(&dir.join(Self::NAMES[1]))?,
        ];
        let active = usize::from(opened[1].0.epoch > opened[0].0.epoch);
        let [(first, first_writes), (second, second_writes)] = opened;
        let highest = covered.max(first.epoch).max(second.epoch);
        let (older, newer) = match active {
            0 => ((&second, second_writes), (&first, first_writes)),
            _ => ((&first, first_writes), (&second, second_writes)),
        };
        let writes = [older, newer]
            .into_iter()
            .filter(|(journal, _)| journal.epoch > covered)
            .flat_map(|(_, writes)| writes)
            .collect();
        let journals = Journals {
            files: [first, second],
            active,
            highest,
        };
        Ok((journals, writes))
    }

    /// The epoch records are written in now.
    pub fn epoch(&self) -> u64 {
        self.files[self.active].epoch
    }

    /// The file records are written to now, for messages.
    pub fn path(&self) -> &Path {
        &self.files[self.active].path
    }

    /// Both files, for the guard that stops acknowledging when one is deleted or
    /// replaced under the daemon.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|journal| journal.path.as_path())
    }

    /// Writes `records` after the last ones and syncs them; answers false, writing
    /// nothing, when they do not fit: then either `switch` (once sled holds the other
    /// file's records) or give sled everything and `start_over`.
    pub fn append(&mut self, records: &mut Records) -> io::Result<bool> {
        self.files[self.active].append(records)
    }

    /// Writes to the other file from now on, started over in a new epoch: only once
    /// sled holds every record it had.
    pub fn switch(&mut self) -> io::Result<()> {
        self.highest += 1;
        self.active = 1 - self.active;
        self.files[self.active].start_over(self.highest)
    }

    /// Starts both files over, once sled holds everything either had (and says so).
    pub fn start_over(&mut self) -> io::Result<()> {
        self.switch()?;
        self.switch()
    }
}

fn header_bytes(epoch: u64) -> [u8; HEADER as usize] {
    let mut bytes = [0; HEADER as usize];
    bytes[..8].copy_from_slice(MAGIC);
    bytes[8..16].copy_from_slice(&epoch.to_le_bytes());
    let sum = crc32fast::hash(&bytes[..16]);
    bytes[16..20].copy_from_slice(&sum.to_le_bytes());
    bytes
}

/// The epoch a header names, if it is one.
fn header(bytes: &[u8]) -> Option<u64> {
    let header = bytes.get(..20)?;
    let sum = u32::from_le_bytes(header[16..20].try_into().unwrap());
    (&header[..8] == MAGIC && crc32fast::hash(&header[..16]) == sum)
        .then(|| u64::from_le_bytes(header[8..16].try_into().unwrap()))
}

/// The writes of the records of `epoch`, in order, up to the first record that is not
/// one of them. A record whose checksum holds but whose operations do not read was not
/// written by this code: that is an error, not the journal's end.
fn replay(bytes: &[u8], epoch: u64) -> Result<Vec<Write>, String> {
    let mut writes = Vec::new();
    let mut at = HEADER as usize;
    while let Some(frame) = bytes.get(at..at + FRAME) {
        let length = u32::from_le_bytes(frame[..4].try_into().unwrap()) as usize;
        let sum = u32::from_le_bytes(frame[4..8].try_into().unwrap());
        let stamped = u64::from_le_bytes(frame[8..16].try_into().unwrap());
        let Some(sealed) = bytes.get(at + 8..at + FRAME + length) else {
            break;
        };
        if length == 0 || stamped != epoch || crc32fast::hash(sealed) != sum {
            break;
        }
        operations(&sealed[8..], &mut writes)
            .ok_or_else(|| format!("the record at byte {at} holds operations that do not read"))?;
        at += FRAME + length;
    }
    Ok(writes)
}

/// Reads the operations of one record into `writes`.
fn operations(mut operations: &[u8], writes: &mut Vec<Write>) -> Option<()> {
    fn chunk<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
        let (length, rest) = bytes.split_first_chunk::<4>()?;
        let length = u32::from_le_bytes(*length) as usize;
        let (chunk, rest) = (rest.get(..length)?, rest.get(length..)?);
        *bytes = rest;
        Some(chunk)
    }
    while let Some((&tag, rest)) = operations.split_first() {
        operations = rest;
        let key = chunk(&mut operations)?.to_vec();
        let value = match tag {
            PUT => Some(chunk(&mut operations)?.to_vec()),
            REMOVE => None,
            _ => return None,
        };
        writes.push((key, value));
    }
    Some(())
}

fn corrupt(path: &Path, reason: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} is damaged: {reason}", path.display()),
    )
}

/// Makes `length` bytes from `offset` durable, as sled's log does: the file's size and
/// blocks do not change, so its data is all there is to sync.
fn sync_range(file: &File, offset: u64, length: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: the descriptor is open for the whole call; no memory is passed.
    let done =
        unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, length as i64, flags) };
    if done == 0 {
        return Ok(());
    }
    match io::Error::last_os_error() {
        // A filesystem without it syncs the whole file's data instead.
        err if err.raw_os_error() == Some(libc::ENOSYS) => file.sync_data(),
        err => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(values: &[(&str, Option<&str>)]) -> Records {
        let mut records = Records::default();
        for (key, value) in values {
            records.push([match value {
                Some(value) => Operation::Put(key.as_bytes(), value.as_bytes()),
                None => Operation::Remove(key.as_bytes()),
            }]);
        }
        records
    }

    /// What a fresh database holds once `writes` are applied to it, in order.
    fn applied(writes: Vec<Write>) -> Vec<(String, String)> {
        let db = sled::Config::new().temporary(true).open().unwrap();
        db.insert("kept", "from before").unwrap();
        for (key, value) in writes {
            match value {
                Some(value) => db.insert(key, value).map(drop),
                None => db.remove(key).map(drop),
            }
            .unwrap();
        }
        db.iter()
            .map(|entry| {
                let (key, value) = entry.unwrap();
                (
                    String::from_utf8(key.to_vec()).unwrap(),
                    String::from_utf8(value.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    fn pairs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn records_appended_are_read_back_in_order_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut journal, batches) = Journal::open(&path).unwrap();
        assert!(batches.is_empty());
        assert!(journal
            .append(&mut records(&[("a", Some("1")), ("b", Some("2"))]))
            .unwrap());
        assert!(journal
            .append(&mut records(&[("a", Some("3")), ("kept", None)]))
            .unwrap());
        drop(journal);
        let (_, batches) = Journal::open(&path).unwrap();
        assert_eq!(batches.len(), 4);
        assert_eq!(applied(batches), pairs(&[("a", "3"), ("b", "2")]));
    }

    #[test]
    fn a_record_torn_by_a_crash_ends_the_journal_and_those_before_it_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.append(&mut records(&[("a", Some("1"))])).unwrap();
        let torn_at = journal.end;
        journal.append(&mut records(&[("b", Some("2"))])).unwrap();
        journal.append(&mut records(&[("c", Some("3"))])).unwrap();
        drop(journal);
        let file = File::options().write(true).open(&path).unwrap();
        file.write_all_at(b"garbage", torn_at + FRAME as u64)
            .unwrap();
        let (_, batches) = Journal::open(&path).unwrap();
        assert_eq!(
            applied(batches),
            pairs(&[("a", "1"), ("kept", "from before")])
        );
    }

    #[test]
    fn records_of_an_epoch_before_the_journal_started_over_are_never_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        for n in 0..5 {
            journal
                .append(&mut records(&[("old", Some(&n.to_string()))]))
                .unwrap();
        }
        journal.start_over(journal.epoch + 1).unwrap();
        journal.append(&mut records(&[("new", Some("1"))])).unwrap();
        drop(journal);
        let (mut journal, batches) = Journal::open(&path).unwrap();
        assert_eq!(
            applied(batches),
            pairs(&[("kept", "from before"), ("new", "1")])
        );
        // Started over again, nothing at all is read back.
        journal.start_over(journal.epoch + 1).unwrap();
        drop(journal);
        assert!(Journal::open(&path).unwrap().1.is_empty());
    }

    #[test]
    fn records_that_do_not_fit_are_refused_and_a_batch_larger_than_the_journal_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journal, _) = Journal::open(&dir.path().join("journal")).unwrap();
        let half = "x".repeat(CAPACITY as usize / 2);
        assert!(journal.append(&mut records(&[("a", Some(&half))])).unwrap());
        assert!(!journal.append(&mut records(&[("b", Some(&half))])).unwrap());
        journal.start_over(journal.epoch + 1).unwrap();
        assert!(journal.append(&mut records(&[("b", Some(&half))])).unwrap());

        let mut large = Records::default();
        let value = vec![b'y'; 1024];
        large.push((0..2_000).map(|_| Operation::Put(b"k", &value)));
        assert!(large.bytes.is_empty(), "not kept past the journal's size");
        assert!(!journal.append(&mut large).unwrap());
    }

    #[test]
    fn a_journal_cut_short_or_with_an_unreadable_header_is_made_again_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.append(&mut records(&[("a", Some("1"))])).unwrap();
        drop(journal);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(CAPACITY / 2)
            .unwrap();
        assert!(Journal::open(&path).unwrap().1.is_empty());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), CAPACITY);

        let (mut journal, _) = Journal::open(&path).unwrap();
        journal.append(&mut records(&[("a", Some("1"))])).unwrap();
        drop(journal);
        let file = File::options().write(true).open(&path).unwrap();
        file.write_all_at(b"not a journal", 0).unwrap();
        assert!(Journal::open(&path).unwrap().1.is_empty());
    }

    #[test]
    fn the_older_journal_is_read_first_and_one_the_database_holds_whole_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let (mut journals, batches) = Journals::open(dir.path(), 0).unwrap();
        assert!(batches.is_empty());
        journals.start_over().unwrap();
        let older = journals.epoch();
        assert!(journals
            .append(&mut records(&[("a", Some("1")), ("c", Some("1"))]))
            .unwrap());
        journals.switch().unwrap();
        assert!(journals.append(&mut records(&[("a", Some("2"))])).unwrap());
        drop(journals);

        let (_, batches) = Journals::open(dir.path(), 0).unwrap();
        assert_eq!(
            applied(batches),
            pairs(&[("a", "2"), ("c", "1"), ("kept", "from before")])
        );
        let (mut journals, batches) = Journals::open(dir.path(), older).unwrap();
        assert_eq!(
            applied(batches),
            pairs(&[("a", "2"), ("kept", "from before")])
        );
        // Switched back, the first journal's records are gone.
        journals.switch().unwrap();
        drop(journals);
        let (_, batches) = Journals::open(dir.path(), 0).unwrap();
        assert_eq!(
            applied(batches),
            pairs(&[("a", "2"), ("kept", "from before")])
        );
    }
}
