//! The notifications the daemon sends to every connected client.

use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::timeline::AttemptRecord;

/// A notification the daemon sends to every connected client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params")]
pub enum Event {
    #[serde(rename = "baton/taskCreated")]
    TaskCreated(Task),
    /// Any change to a task that neither created nor finished it.
    #[serde(rename = "baton/taskUpdated")]
    TaskUpdated(Task),
    #[serde(rename = "baton/taskCompleted")]
    TaskCompleted(Task),
    /// A task failed or was cancelled; `result.error` says why.
    #[serde(rename = "baton/taskFailed")]
    TaskFailed(Task),
    /// A task was deleted; the params are the task as it was.
    #[serde(rename = "baton/taskDeleted")]
    TaskDeleted(Task),
    #[serde(rename = "baton/discovery")]
    Discovery(Discovery),
    #[serde(rename = "baton/agentActivity")]
    AgentActivity(AgentActivity),
    #[serde(rename = "baton/runStarted")]
    RunStarted(RunStarted),
    #[serde(rename = "baton/runFinished")]
    RunFinished(RunResult),
    /// An agent run started or ended: a record of `baton/timeline`, sent again with
    /// the same id when it ends.
    #[serde(rename = "baton/attempt")]
    Attempt(AttemptRecord),
    /// The goal, configuration or whole state changed (init, configure, start, stop,
    /// load): clients that mirror the state should fetch it again.
    #[serde(rename = "baton/stateChanged")]
    StateChanged(StateChange),
}

impl Event {
    /// Every notification method name, for documentation and tests.
    pub const METHODS: &'static [&'static str] = &[
        "baton/taskCreated",
        "baton/taskUpdated",
        "baton/taskCompleted",
        "baton/taskFailed",
        "baton/taskDeleted",
        "baton/discovery",
        "baton/agentActivity",
        "baton/runStarted",
        "baton/runFinished",
        "baton/attempt",
        "baton/stateChanged",
    ];

    /// The notification's method name.
    pub fn method(&self) -> &'static str {
        match self {
            Event::TaskCreated(_) => "baton/taskCreated",
            Event::TaskUpdated(_) => "baton/taskUpdated",
            Event::TaskCompleted(_) => "baton/taskCompleted",
            Event::TaskFailed(_) => "baton/taskFailed",
            Event::TaskDeleted(_) => "baton/taskDeleted",
            Event::Discovery(_) => "baton/discovery",
            Event::AgentActivity(_) => "baton/agentActivity",
            Event::RunStarted(_) => "baton/runStarted",
            Event::RunFinished(_) => "baton/runFinished",
            Event::Attempt(_) => "baton/attempt",
            Event::StateChanged(_) => "baton/stateChanged",
        }
    }

    /// The notification's `params`.
    pub fn params(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("events serialize");
        value
            .get_mut("params")
            .map(serde_json::Value::take)
            .unwrap_or_default()
    }

    /// Reads a notification; `None` for a method this version does not know.
    pub fn from_notification(method: &str, params: serde_json::Value) -> Option<Event> {
        serde_json::from_value(serde_json::json!({ "method": method, "params": params })).ok()
    }
}

/// One `$/progress` value of a run's LSP work-done progress (docs/protocol.md,
/// "Progress"): the daemon begins it when a run starts, reports as the run's tasks
/// change and ends it with the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkDoneProgress {
    pub kind: WorkDoneKind,
    /// The run's progress line (`views::progress::line`), or at the end what the run
    /// did.
    #[serde(default)]
    pub message: Option<String>,
    /// The run's finished tasks × 100 / all its tasks; none at the end.
    #[serde(default)]
    pub percentage: Option<u32>,
}

impl WorkDoneProgress {
    /// The notification's method name.
    pub const METHOD: &'static str = "$/progress";

    /// Reads the `params` of a `$/progress` notification; `None` for anything else.
    pub fn from_params(params: &serde_json::Value) -> Option<WorkDoneProgress> {
        serde_json::from_value(params.get("value")?.clone()).ok()
    }
}

/// The daemon's last word on a connection it closes because it stops: every
/// request of that connection still without an answer was not read, and nothing
/// was done for it, so it may be sent again (to the next daemon).
pub struct Closing;

impl Closing {
    /// The notification's method name; its params are `{}`.
    pub const METHOD: &'static str = "baton/closing";
}

/// Where a work-done progress is: begun, reported on, or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkDoneKind {
    Begin,
    Report,
    End,
}

/// What an agent is doing, in a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentActivity {
    pub agent_id: String,
    pub task_id: Option<TaskId>,
    pub kind: ActivityKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub mode: RunMode,
    pub goal: String,
    /// What the run starts from, one sentence each: the user's branch brought into
    /// the integration branch, uncommitted changes agents will not see.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    pub reason: StateChangeReason,
}

/// Which operation changed the state as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateChangeReason {
    Init,
    /// The master plan was set (by the leader, usually).
    Plan,
    Configure,
    Start,
    Stop,
    Load,
    /// This client fell behind and missed events: it should fetch the state again.
    Resync,
}
