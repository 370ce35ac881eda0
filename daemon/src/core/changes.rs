//! What an operation changed of what the store keeps. The board records it as it
//! changes, so that the store writes exactly the records that changed, whatever
//! events the operation sends to clients.

use std::collections::BTreeSet;

use baton_protocol::TaskId;

/// The stored records changed since the store last took them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    /// Tasks created or changed, by id.
    pub tasks: BTreeSet<TaskId>,
    /// How many discoveries were appended at the end.
    pub discoveries: usize,
    /// Attempt records opened or closed, by id.
    pub attempts: BTreeSet<u64>,
    /// The settings changed: the goal, the plan, the configuration, dispatch or the
    /// number of runs.
    pub settings: bool,
    /// Every record must be written again: the board was replaced (a load) or its
    /// tasks renumbered (a delete).
    pub everything: bool,
}

impl Changes {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && self.discoveries == 0
            && self.attempts.is_empty()
            && !self.settings
            && !self.everything
    }
}
