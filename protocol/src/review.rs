//! A reviewer's verdict on a task's work, as the reviewer agent gives it through the
//! MCP tool `review_task` (`baton/reviewTask`): typed, so that nothing reads prose to
//! learn whether work may land.

use serde::{Deserialize, Serialize};

use crate::model::TaskId;

/// What a reviewer decided about a task's diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    /// The work may land.
    Approve,
    /// The work goes back to its agent with the reasons.
    ChangesRequested,
}

impl ReviewVerdict {
    /// The verdict as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Approve => "approve",
            ReviewVerdict::ChangesRequested => "changes_requested",
        }
    }
}

/// Parameters of `baton/reviewTask`: the verdict of the reviewer `agent_id` on the
/// task it was asked to review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewTaskParams {
    pub task_id: TaskId,
    pub agent_id: String,
    pub verdict: ReviewVerdict,
    /// Why: what to change when changes are requested (required then), or a note.
    #[serde(default)]
    pub reasons: String,
}
