//! The order in which ready tasks go out: priority (1 first), then the longest chain
//! of work waiting on the task, then age.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use baton_protocol::TaskId;

/// Where a ready task stands in the queue. Field order is sort order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReadyKey {
    pub priority: u8,
    /// Longer chains first, so that critical paths start early.
    pub chain: Reverse<u32>,
    /// Creation order: older first.
    pub seq: u64,
    pub id: TaskId,
}

/// The tasks that may be claimed now, most urgent first.
#[derive(Debug, Default, Clone)]
pub struct ReadyQueue {
    keys: BTreeSet<ReadyKey>,
}

impl ReadyQueue {
    pub fn insert(&mut self, key: ReadyKey) {
        self.keys.insert(key);
    }

    pub fn remove(&mut self, key: &ReadyKey) -> bool {
        self.keys.remove(key)
    }

    /// Takes the most urgent task that `accept` takes.
    pub fn pop_first_where(&mut self, accept: impl Fn(&TaskId) -> bool) -> Option<TaskId> {
        let key = self.keys.iter().find(|key| accept(&key.id))?.clone();
        self.keys.remove(&key);
        Some(key.id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &TaskId> {
        self.keys.iter().map(|key| &key.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(priority: u8, chain: u32, seq: u64) -> ReadyKey {
        ReadyKey {
            priority,
            chain: Reverse(chain),
            seq,
            id: TaskId::numbered(seq),
        }
    }

    #[test]
    fn priority_then_longest_chain_then_age() {
        let mut queue = ReadyQueue::default();
        queue.insert(key(2, 9, 1));
        queue.insert(key(1, 1, 2));
        queue.insert(key(1, 3, 3));
        queue.insert(key(1, 3, 4));
        let order: Vec<_> = std::iter::from_fn(|| queue.pop_first_where(|_| true)).collect();
        assert_eq!(
            order,
            [3, 4, 2, 1].map(TaskId::numbered).to_vec(),
            "priority 1 before 2; among those the longer chain; then the older"
        );
    }
}
