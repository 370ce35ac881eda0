//! A run's timeline: one record per agent run (a worker's attempt at a task, the
//! leader planning, the summary, a reviewer), on the lane of the agent slot that ran
//! it, so that what ran in parallel, what waited and how each attempt ended can be
//! seen after the fact. The core records them; `baton/timeline` answers them and
//! `baton/attempt` announces each as it starts and ends.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::TaskId;
use crate::timestamp;

/// What kind of agent ran on a lane. Lanes are named `worker-1`…`worker-N`,
/// `leader`, `summary`, `reviewer-1`…: the kind says which without reading the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    Leader,
    Worker,
    Reviewer,
    Summary,
}

/// How an agent run ended, from the run's typed endings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// Its work was done: the task completed, the plan was made, the summary written,
    /// the review given.
    Done,
    /// It ended without its work done and the task went back to the queue, to be
    /// tried again.
    Requeued,
    /// It failed, and so did its task (or the plan, or the summary).
    Failed,
    /// It was told to stop (the run stopped, the daemon shut down) before it ended.
    Stopped,
    /// Its task was cancelled while it worked.
    Cancelled,
    /// It ran past `task_timeout`.
    TimedOut,
    /// A task or run budget was spent and it was stopped.
    Budget,
    /// The daemon stopped (or was killed) while it worked; its end was not seen.
    Lost,
}

impl AttemptOutcome {
    /// The outcome's name as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Done => "done",
            AttemptOutcome::Requeued => "requeued",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Stopped => "stopped",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Budget => "budget",
            AttemptOutcome::Lost => "lost",
        }
    }
}

/// One agent run: who ran it (its lane), on which task, when, how it ended and what
/// it cost. `ended_at` and `outcome` are absent while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttemptRecord {
    /// Its place among the board's records, from 0: a record announced again (at its
    /// end) keeps its id.
    pub id: u64,
    /// The run it belongs to, numbered from 1 on this board.
    pub run: u64,
    /// The agent slot: `worker-2`, `leader`, `summary`, `reviewer-1`.
    pub lane: String,
    pub kind: AgentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskId>,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(default, with = "timestamp::option")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub outcome: Option<AttemptOutcome>,
    /// Why it did not end done, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What it spent, in US dollars.
    #[serde(default)]
    pub cost_usd: f64,
}

impl AttemptRecord {
    /// Whether the agent still runs.
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// Parameters of `baton/timeline`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineParams {
    /// The run, numbered from 1; the last one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u64>,
}

/// The answer of `baton/timeline`: a run's agent runs in the order they started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The run shown; 0 when the board has had none.
    pub run: u64,
    /// How many runs the board has had.
    pub runs: u64,
    /// Whether this run is still going (open records are still running).
    pub going: bool,
    pub attempts: Vec<AttemptRecord>,
}
