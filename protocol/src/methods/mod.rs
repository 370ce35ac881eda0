//! Every request and notification of the protocol: its method name and the types of
//! its parameters and result. The daemon, the CLI and the tests all name methods
//! through these, so a rename cannot leave one side behind.

mod config;
mod events;
mod runs;
mod state;
mod tasks;

use serde::{de::DeserializeOwned, Serialize};

use crate::model::*;
use crate::timeline::{Timeline, TimelineParams};

pub use config::{ConfigPatch, InitParams, MasterPlan};
pub use events::{
    AgentActivity, Closing, Event, RunStarted, StateChange, StateChangeReason, WorkDoneKind,
    WorkDoneProgress,
};
pub use runs::{
    AgentLogParams, DaemonInfoResult, RunAgent, RunParams, TaskLogChunk, TaskLogParams,
};
pub use state::{
    ArchivedBoard, CleanParams, CleanResult, MergeResult, ResetResult, SavedState, StateFile,
};
pub use tasks::{
    AddTasksParams, ClaimTaskParams, CompleteTaskParams, EditTaskParams, FailTaskParams,
    ListTasksParams, NewDiscovery, NewTask, TaskRef,
};

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
    /// A reviewer's verdict on the task it reviews (the MCP tool `review_task`).
    ReviewTask = "baton/reviewTask", crate::ReviewTaskParams => ();
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
    /// What a task changed: the commit it started from, its work, the files.
    TaskChanges = "baton/taskChanges", TaskRef => crate::TaskChangesResult;
    /// Which daemon this is: version, process, workspace, socket, log file.
    DaemonInfo = "baton/daemonInfo", () => DaemonInfoResult;
    /// End the daemon after answering.
    StopDaemon = "baton/stopDaemon", () => ();
}
