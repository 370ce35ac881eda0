//! A task's identity, and the one spelling each of the daemon's ids has.

use std::fmt;

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize};

/// A task's identity. Ids the daemon makes read `task-001`, `task-002`, …; a loaded
/// state file may bring ids of any other spelling, so this stays a string.
///
/// A number's padding is not part of the id: `task-1` and `task-0001` name
/// `task-001`, as the reference's own examples write it. Every id that comes in, from
/// the wire, a state file or the command line, takes that one spelling, so a lookup
/// needs no second try.
///
/// The board keeps each id in several places (the task, its map key, creation order,
/// its dependents' and dependencies' lists), so an id up to 24 bytes long is held
/// inline rather than in an allocation of its own: at 100,000 tasks that is half a
/// million allocations fewer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaskId(CompactString);

impl TaskId {
    /// The id the daemon gives its `n`th task.
    pub fn numbered(n: u64) -> Self {
        TaskId(compact_str::format_compact!("task-{n:03}"))
    }

    /// The number in an id the daemon made, so that new ids never reuse a loaded one.
    pub fn number(&self) -> Option<u64> {
        self.0.strip_prefix("task-")?.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn spelled(text: CompactString) -> Self {
        match padded_number(&text) {
            Some(n) => TaskId::numbered(n),
            None => TaskId(text),
        }
    }
}

/// The number of `task-` and digits alone whose padding is not the daemon's: `None`
/// for an id already spelled as the daemon spells it, and for every other name.
fn padded_number(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("task-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let spelled = digits.len() == 3 || (digits.len() > 3 && !digits.starts_with('0'));
    if spelled {
        return None;
    }
    digits.parse().ok()
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TaskId {
    fn from(s: &str) -> Self {
        TaskId::spelled(CompactString::from(s))
    }
}

impl From<String> for TaskId {
    fn from(s: String) -> Self {
        TaskId::spelled(CompactString::from(s))
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CompactString::deserialize(deserializer).map(TaskId::spelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_names_the_same_task_however_it_is_padded() {
        for written in ["task-1", "task-01", "task-001", "task-0001", "task-000001"] {
            assert_eq!(TaskId::from(written).as_str(), "task-001", "{written}");
        }
        assert_eq!(TaskId::from("task-1234").as_str(), "task-1234");
        assert_eq!(TaskId::from("task-01234").as_str(), "task-1234");
        assert_eq!(TaskId::from("task-0").as_str(), "task-000");
        let read: TaskId = serde_json::from_str("\"task-12\"").unwrap();
        assert_eq!(read, TaskId::numbered(12));
    }

    #[test]
    fn other_names_keep_their_spelling() {
        let too_large = "task-099999999999999999999999";
        for name in [
            "Task-1", "task-+1", "task-1x", "task- 1", "task-", "auth", too_large,
        ] {
            assert_eq!(TaskId::from(name).as_str(), name);
        }
    }
}
