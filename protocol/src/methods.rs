//! Every request and notification of the protocol: its method name and the types of
//! its parameters and result. The daemon, the CLI and the tests all name methods
//! through these, so a rename cannot leave one side behind.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::model::*;
use crate::timeline::{AttemptRecord, Timeline, TimelineParams};
use crate::AgentEnv;

/// A request: a method name with its parameter and result types.
pub trait Request {
    const METHOD: &'static str;
    /// `()` for a request that takes no parameters (sent without `params`).
    type Params: Serialize + DeserializeOwned + Send + 'static;
    type Result: Serialize + DeserializeOwned + Send + 'static;
}

macro_rules! requests {
    ($($(#[$doc:meta])* $name:ident = $method:literal, $params:ty => $result:ty;)*) => {
        $(
            $(#[$doc])*
            pub enum $name {}
            impl Request for $name {
                const METHOD: &'static str = $method;
                type Params = $params;
                type Result = $result;
            }
        )*
        /// Every request method name, for documentation and tests.
        pub const REQUEST_METHODS: &[&str] = &[$($method),*];
    };
}

requests! {
    /// Set the goal (and optionally the master plan and configuration).
    Init = "baton/init", InitParams => Status;
    /// Change part of the configuration; answers the whole configuration.
    Configure = "baton/configure", ConfigPatch => Config;
    /// Read the configuration.
    GetConfig = "baton/getConfig", () => Config;
    /// Start dispatching ready tasks to agents.
    Start = "baton/start", () => Status;
    /// Stop dispatching and end every running agent; their tasks go back to the queue.
    Stop = "baton/stop", () => Status;
    AddTask = "baton/addTask", NewTask => Task;
    /// Add several tasks at once, all or none.
    AddTasks = "baton/addTasks", AddTasksParams => Vec<Task>;
    /// Hand the most urgent ready task to an agent; `null` when none is ready.
    ClaimTask = "baton/claimTask", ClaimTaskParams => Option<Task>;
    /// Mark a claimed task as being worked on.
    StartTask = "baton/startTask", TaskRef => Task;
    CompleteTask = "baton/completeTask", CompleteTaskParams => Task;
    FailTask = "baton/failTask", FailTaskParams => Task;
    GetTask = "baton/getTask", TaskRef => Task;
    ListTasks = "baton/listTasks", ListTasksParams => Vec<Task>;
    /// Cancel a task that has not finished; its dependents fail.
    CancelTask = "baton/cancelTask", TaskRef => Task;
    /// Reopen a failed or cancelled task and the tasks that failed because of it.
    RetryTask = "baton/retryTask", TaskRef => Vec<Task>;
    /// Change what a task that has not finished asks for; answers the task as it is now.
    EditTask = "baton/editTask", EditTaskParams => Task;
    /// Remove a task that was never claimed and that no task depends on; answers it as
    /// it was.
    DeleteTask = "baton/deleteTask", TaskRef => Task;
    AddDiscovery = "baton/addDiscovery", NewDiscovery => Discovery;
    ListDiscoveries = "baton/listDiscoveries", () => Vec<Discovery>;
    GetStatus = "baton/status", () => Status;
    /// Write the state, in the reference's CoordinationState shape, to a file.
    SaveState = "baton/saveState", StateFile => SavedState;
    /// Replace the whole state with a file's, after checking all of it.
    LoadState = "baton/loadState", StateFile => Status;
    /// Set the master plan (the leader does this when the plan was empty).
    SetMasterPlan = "baton/setMasterPlan", MasterPlan => ();
    /// Run the plan with agents: a leader plans first, or the predefined tasks run.
    /// With `wait`, answers the run's result when it ends; else at once, `null`.
    Run = "baton/run", RunParams => Option<RunResult>;
    /// A part of a task's agent log, from `offset`.
    TaskLog = "baton/taskLog", TaskLogParams => TaskLogChunk;
    /// A part of the log of the agents a run has beside its workers (the leader, the
    /// summary), from `offset`.
    AgentLog = "baton/agentLog", AgentLogParams => TaskLogChunk;
    /// A run's agent runs (the last run's when no run is named), on their lanes.
    GetTimeline = "baton/timeline", TimelineParams => Timeline;
    /// The boards put aside by a new goal or a reset, newest first.
    History = "baton/history", () => Vec<ArchivedBoard>;
    /// Put the board aside (archived, listed by `baton/history`) and start an empty
    /// one with the same configuration.
    Reset = "baton/reset", () => ResetResult;
    /// Remove the branches of merged tasks and the idle checkouts (with `all`, failed
    /// and cancelled tasks' branches too).
    Clean = "baton/clean", CleanParams => CleanResult;
    /// Bring the integration branch into the user's current branch.
    Merge = "baton/merge", () => MergeResult;
    /// Which daemon this is: version, process, workspace, socket, log file.
    DaemonInfo = "baton/daemonInfo", () => DaemonInfoResult;
    /// End the daemon after answering.
    StopDaemon = "baton/stopDaemon", () => ();
}

/// Parameters of `baton/init`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitParams {
    pub goal: String,
    #[serde(default)]
    pub master_plan: String,
    #[serde(default)]
    pub config: ConfigPatch,
    /// Keep the board's tasks and discoveries under the new goal. Otherwise a new
    /// goal on a board with finished work archives that board first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep: bool,
}

/// Part of a configuration: each key given is set, the others stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_workers: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub model: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub task_timeout: Option<u64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_attempts: Option<u32>,
    /// `Some(None)` (JSON `null`) removes the budget.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub task_budget_usd: Option<Option<f64>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub run_budget_usd: Option<Option<f64>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub agent_command: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub agent_args: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub permission_mode: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub allowed_tools: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub isolation: Option<Option<Isolation>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub integration_branch: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub leader_prompt: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub worker_prompt: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub verify_command: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_verify_attempts: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub review: Option<bool>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "double_option"
    )]
    pub reviewer_prompt: Option<Option<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub max_review_rounds: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub keep_branches: Option<bool>,
}

/// A setting that has a value always: absent leaves it, `null` is refused.
fn present<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Tells "absent" (leave as is) from `null` (clear) for optional settings.
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value
            .as_ref()
            .and_then(Option::as_ref)
            .serialize(serializer)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// A task to add: the reference's `add_task` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    pub description: String,
    #[serde(default = "default_priority")]
    pub priority: u8,
    #[serde(default)]
    pub dependencies: Vec<TaskId>,
    #[serde(default)]
    pub context_files: Vec<String>,
    #[serde(default)]
    pub hints: String,
    /// Set when an agent splits its task; the parent lists it in `subtasks_created`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_task: Option<TaskId>,
    /// The model its agent uses; none means the workspace's `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

fn default_priority() -> u8 {
    5
}

impl NewTask {
    pub fn new(description: impl Into<String>) -> Self {
        NewTask {
            description: description.into(),
            priority: default_priority(),
            dependencies: Vec::new(),
            context_files: Vec::new(),
            hints: String::new(),
            parent_task: None,
            model: None,
        }
    }
}

/// Parameters of `baton/addTasks`. A dependency may name the id that another task of
/// the same batch gets: new ids are numbered on from the highest `task-NNN` there is,
/// in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddTasksParams {
    pub tasks: Vec<NewTask>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimTaskParams {
    pub agent_id: String,
}

/// Names one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    pub task_id: TaskId,
}

/// Parameters of `baton/editTask`: each field given replaces the task's, the others
/// stay. `dependencies` replaces the whole list (`[]` removes them all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditTaskParams {
    pub task_id: TaskId,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub description: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub priority: Option<u8>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub dependencies: Option<Vec<TaskId>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub context_files: Option<Vec<String>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub hints: Option<String>,
}

impl EditTaskParams {
    /// An edit of `task_id` that changes nothing yet.
    pub fn new(task_id: TaskId) -> Self {
        EditTaskParams {
            task_id,
            description: None,
            priority: None,
            dependencies: None,
            context_files: None,
            hints: None,
        }
    }

    /// Whether the edit would change nothing at all.
    pub fn is_empty(&self) -> bool {
        let EditTaskParams {
            task_id: _,
            description,
            priority,
            dependencies,
            context_files,
            hints,
        } = self;
        description.is_none()
            && priority.is_none()
            && dependencies.is_none()
            && context_files.is_none()
            && hints.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteTaskParams {
    pub task_id: TaskId,
    #[serde(default)]
    pub result: TaskResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailTaskParams {
    pub task_id: TaskId,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTasksParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
}

/// A discovery to share: the reference's Discovery without its timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDiscovery {
    pub agent_id: String,
    pub content: String,
    #[serde(default)]
    pub related_task: Option<TaskId>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A state file, by absolute path (a relative one is taken from the workspace root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub path: String,
}

/// What `baton/saveState` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    pub path: String,
    pub tasks: usize,
    pub discoveries: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterPlan {
    pub plan: String,
}

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

/// A board put aside: where it is and what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedBoard {
    /// Its directory under `.baton/history`: when it was archived, then its goal.
    pub name: String,
    /// Its state file, which `baton/loadState` takes to bring it back.
    pub path: String,
    pub goal: String,
    pub tasks: usize,
    pub done: usize,
    pub failed: usize,
    pub discoveries: usize,
}

/// Parameters of `baton/clean`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanParams {
    /// Remove failed and cancelled tasks' branches too (their work goes).
    #[serde(default)]
    pub all: bool,
}

/// What `baton/clean` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanResult {
    /// The task branches removed.
    pub branches: Vec<String>,
    /// How many idle checkouts were removed.
    pub checkouts: usize,
}

/// What `baton/reset` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetResult {
    /// The board put aside; `null` when the board was empty.
    pub archived: Option<ArchivedBoard>,
}

/// What `baton/merge` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeResult {
    pub message: String,
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
