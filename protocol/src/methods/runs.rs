//! Runs and what they leave to read: `baton/run`, the task and agent logs, the
//! daemon's own information.

use serde::{Deserialize, Serialize};

use crate::model::*;
use crate::AgentEnv;

use super::ConfigPatch;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunParams {
    pub mode: RunMode,
    /// Sets the goal first, as `baton/init` would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<String>,
    #[serde(default = "yes")]
    pub wait: bool,
    /// Settings for this run only, over the workspace's configuration, which stays
    /// as it is: an editor's own settings apply to the runs it starts and to no other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<ConfigPatch>,
    /// The variables agents need to reach the model, from the client's environment;
    /// absent, agents get the daemon's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<AgentEnv>,
}

impl RunParams {
    /// The predefined tasks, without waiting: a run started for the tasks there are.
    pub fn predefined() -> RunParams {
        RunParams {
            mode: RunMode::Predefined,
            goal: None,
            wait: false,
            overrides: None,
            env: None,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskLogParams {
    pub task_id: TaskId,
    /// Where to start reading, in bytes; 0 for the beginning.
    #[serde(default)]
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentLogParams {
    pub agent: RunAgent,
    /// Where to start reading, in bytes; 0 for the beginning.
    #[serde(default)]
    pub offset: u64,
}

/// The agents of a run that hold no task, whose logs are kept by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunAgent {
    /// The leader that plans the goal into tasks.
    Leader,
    /// The agent that writes the run's summary.
    Summary,
}

/// A piece of a task's log: Claude Code's stream-json events, one per line, of every
/// attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLogChunk {
    pub text: String,
    /// Where the next read should start.
    pub next_offset: u64,
}

/// What `baton/daemonInfo` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfoResult {
    pub version: String,
    pub pid: u32,
    pub workspace: String,
    pub socket: String,
    pub log_file: String,
}
