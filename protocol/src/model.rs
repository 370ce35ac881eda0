//! The data model of the reference, as it travels on the wire and sits in state files.
//!
//! Field names are the reference's (snake_case). Types here carry no behaviour beyond
//! what keeps them well-formed; the rules live in the daemon's core.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::progress::Progress;
pub use crate::task_id::TaskId;
use crate::timeline::AttemptRecord;
use crate::timestamp;

/// Where a task is in its life. `cancelled` is baton's addition to the reference's five.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Available,
    Claimed,
    InProgress,
    Done,
    Failed,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 6] = [
        TaskStatus::Available,
        TaskStatus::Claimed,
        TaskStatus::InProgress,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// A finished task never changes again unless someone retries it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TaskStatus::Done | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// Held by an agent: claimed or in progress.
    pub fn is_held(self) -> bool {
        matches!(self, TaskStatus::Claimed | TaskStatus::InProgress)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Available => "available",
            TaskStatus::Claimed => "claimed",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown status `{s}`; use one of available, claimed, in_progress, done, failed, cancelled"
                )
            })
    }
}

/// What a worker needs beyond the description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskContext {
    pub files: Vec<String>,
    pub hints: String,
    pub parent_task: Option<TaskId>,
}

/// What came of a task: the agent's output, what really changed, or why it failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskResult {
    pub output: String,
    pub files_modified: Vec<String>,
    pub files_created: Vec<String>,
    pub error: Option<String>,
    pub discoveries: Vec<String>,
    pub subtasks_created: Vec<TaskId>,
}

/// A unit of work in the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub id: TaskId,
    pub description: String,
    pub status: TaskStatus,
    /// 1 is the most urgent, 10 the least.
    pub priority: u8,
    #[serde(default)]
    pub claimed_by: Option<String>,
    #[serde(default)]
    pub dependencies: Vec<TaskId>,
    #[serde(default)]
    pub context: TaskContext,
    /// Boxed: most tasks of a plan have none yet, and a result inline would be a
    /// quarter of every task's size.
    #[serde(default)]
    pub result: Option<Box<TaskResult>>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default, with = "timestamp::option")]
    pub claimed_at: Option<DateTime<Utc>>,
    #[serde(default, with = "timestamp::option")]
    pub completed_at: Option<DateTime<Utc>>,
    /// How many times an agent has taken this task; a retry keeps counting.
    #[serde(default)]
    pub attempts: u32,
    /// Set when this task failed only because a dependency failed or was cancelled:
    /// retrying that dependency reopens this task too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_dependency: Option<TaskId>,
    /// What its agents spent, over all attempts.
    #[serde(default)]
    pub usage: Usage,
    /// The Claude Code session of its last attempt, resumed by the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Tool uses the agent was refused, as Claude Code reported them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permission_denials: Vec<String>,
    /// Held by an agent the daemon runs: its claim does not expire, and it goes back
    /// to the queue if the daemon stops while the agent works.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub supervised: bool,
    /// The model its agent uses; none means the workspace's `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where a held task is on its way to the integration branch; none once it has
    /// ended or before an agent takes it. Kept in the store, so that a task whose
    /// daemon stopped resumes at its stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<TaskStage>,
}

/// The stages of a task's way to the integration branch: its agent works, the
/// verification command checks the merged tree, its agent resolves a conflict with
/// the integration branch, a reviewer reads the diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStage {
    Working,
    Verifying,
    Resolving,
    Reviewing,
}

impl TaskStage {
    /// Every stage, in the order a task meets them.
    pub const ALL: [TaskStage; 4] = [
        TaskStage::Working,
        TaskStage::Verifying,
        TaskStage::Resolving,
        TaskStage::Reviewing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStage::Working => "working",
            TaskStage::Verifying => "verifying",
            TaskStage::Resolving => "resolving",
            TaskStage::Reviewing => "reviewing",
        }
    }
}

impl fmt::Display for TaskStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What agents spent: money, tokens, turns and time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Usage {
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub turns: u32,
    pub duration_ms: u64,
}

impl Usage {
    /// Adds `other`, saturating: the counts come from what agents print.
    pub fn add(&mut self, other: &Usage) {
        self.cost_usd += other.cost_usd;
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.turns = self.turns.saturating_add(other.turns);
        self.duration_ms = self.duration_ms.saturating_add(other.duration_ms);
    }
}

/// A finding one agent shares with all the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discovery {
    pub agent_id: String,
    pub content: String,
    #[serde(default)]
    pub related_task: Option<TaskId>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

/// How tasks of a workspace are run. Persisted with the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub max_workers: u32,
    pub model: String,
    /// Seconds an agent (or an outside claim) may hold a task.
    pub task_timeout: u64,
    pub max_attempts: u32,
    pub task_budget_usd: Option<f64>,
    pub run_budget_usd: Option<f64>,
    pub agent_command: String,
    pub agent_args: Vec<String>,
    pub permission_mode: String,
    pub allowed_tools: Vec<String>,
    /// `worktree` or `shared`; none means "worktree in a git repository, else shared".
    pub isolation: Option<Isolation>,
    /// The branch finished tasks are merged into (made from HEAD when missing).
    pub integration_branch: String,
    /// None means the built-in prompt.
    pub leader_prompt: Option<String>,
    pub worker_prompt: Option<String>,
    /// The command that must pass on a task's work merged with the integration
    /// branch before it lands (`cargo test -q`); none lands work unchecked.
    pub verify_command: Option<String>,
    /// How many times a task's work may fail `verify_command` (its agent resumed
    /// with the output each time) before the task fails.
    pub max_verify_attempts: u32,
    /// Whether a reviewer agent reads each task's diff before it lands.
    pub review: bool,
    /// The reviewer's prompt template (`{diff}` is the task's diff); none means the
    /// built-in one.
    pub reviewer_prompt: Option<String>,
    /// How many times a reviewer may send a task back before the task fails.
    pub max_review_rounds: u32,
    /// Whether a run keeps the branches of its merged tasks (their work is on the
    /// integration branch); off, a run removes them and the idle checkouts when it
    /// ends, and keeps only failed tasks' branches.
    pub keep_branches: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_workers: 3,
            model: "claude-sonnet-4-20250514".into(),
            task_timeout: 600,
            max_attempts: 1,
            task_budget_usd: None,
            run_budget_usd: None,
            agent_command: "claude".into(),
            agent_args: Vec::new(),
            permission_mode: "acceptEdits".into(),
            allowed_tools: ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]
                .map(String::from)
                .to_vec(),
            isolation: None,
            integration_branch: "baton/integration".into(),
            leader_prompt: None,
            worker_prompt: None,
            verify_command: None,
            max_verify_attempts: 2,
            review: false,
            reviewer_prompt: None,
            max_review_rounds: 2,
            keep_branches: false,
        }
    }
}

/// Where a task's agent works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    Worktree,
    Shared,
}

/// The whole state of a workspace, in the reference's shape: what `save` writes and
/// `load` reads. `config` is baton's addition; files without it load with defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoordinationState {
    #[serde(default)]
    pub goal: String,
    #[serde(default)]
    pub master_plan: String,
    #[serde(default = "default_working_directory")]
    pub working_directory: String,
    pub tasks: Vec<Task>,
    #[serde(default)]
    pub discoveries: Vec<Discovery>,
    #[serde(default = "default_max_parallel_workers")]
    pub max_parallel_workers: u32,
    #[serde(default = "default_task_timeout_seconds")]
    pub task_timeout_seconds: u64,
    #[serde(default, with = "timestamp::option")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, with = "timestamp::option")]
    pub last_activity: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    /// Every agent run of the board's runs (baton's addition, like `config`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<AttemptRecord>,
}

fn default_working_directory() -> String {
    ".".into()
}

fn default_max_parallel_workers() -> u32 {
    Config::default().max_workers
}

fn default_task_timeout_seconds() -> u64 {
    Config::default().task_timeout
}

/// One agent as status shows it: who, on what, since when, doing what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    pub id: String,
    pub task: Option<TaskId>,
    #[serde(with = "timestamp::option")]
    pub since: Option<DateTime<Utc>>,
    /// The last thing it did (a tool it used, a line it wrote), for agents baton runs.
    #[serde(default)]
    pub activity: Option<String>,
    /// What it has spent in this run.
    #[serde(default)]
    pub cost_usd: f64,
}

/// How a run plans its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// A leader agent plans the goal into tasks, workers do them.
    Leader,
    /// Workers do the tasks already added.
    Predefined,
    /// A leader agent plans the goal into tasks and no worker starts: the plan waits
    /// to be looked at, edited and run (`predefined`).
    Plan,
}

impl RunMode {
    /// Whether a leader plans the goal first.
    pub fn plans(self) -> bool {
        matches!(self, RunMode::Leader | RunMode::Plan)
    }
}

/// What a run is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// The leader plans and no worker has started yet.
    Planning,
    /// Workers work on tasks (the leader may still be adding some).
    Working,
    /// Every task has ended; the run's summary is being written.
    Summarising,
}

/// What an agent's activity was (docs/protocol.md, `baton/agentActivity`, says what
/// `text` holds for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// The agent began.
    Started,
    /// It used a tool.
    Tool,
    /// It wrote something.
    Text,
    /// The model's rate limit was reached: no agent starts for a while.
    RateLimited,
    /// It ended.
    Finished,
    /// Its task moved to another stage on its way to the integration branch.
    Stage,
    /// The verification command started in its task's worktree.
    Verifying,
    /// Its agent was resumed with what the gate found.
    Resumed,
    /// A kind a later daemon sends that this side does not know: show the text as it is.
    #[serde(other)]
    Other,
}

impl ActivityKind {
    /// The kind as the wire spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Started => "started",
            ActivityKind::Tool => "tool",
            ActivityKind::Text => "text",
            ActivityKind::RateLimited => "rate_limited",
            ActivityKind::Finished => "finished",
            ActivityKind::Stage => "stage",
            ActivityKind::Verifying => "verifying",
            ActivityKind::Resumed => "resumed",
            ActivityKind::Other => "other",
        }
    }
}

/// The run in progress, as status shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub mode: RunMode,
    pub phase: RunPhase,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    pub cost_usd: f64,
    /// Dispatch waits until then: the model's rate limit was reached.
    #[serde(with = "timestamp::option")]
    pub paused_until: Option<DateTime<Utc>>,
    /// Why dispatch stopped early (a budget was spent), if it did.
    pub stopped: Option<String>,
    /// Tasks held by agents outside the run that it waits for: set only when none
    /// of its own agents works and no task is ready, so that nothing else moves it.
    #[serde(default)]
    pub waiting_for: Vec<OutsideClaim>,
}

/// A task an agent outside the run (`baton claim`, an API client) holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideClaim {
    pub task_id: TaskId,
    pub agent_id: String,
    /// When its claim grows older than `task_timeout` and the task goes back to
    /// the queue, unless it is finished first.
    #[serde(with = "timestamp::option")]
    pub returns_at: Option<DateTime<Utc>>,
}

/// The reference's `get_status`, plus whether the orchestrator is started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub goal: String,
    pub master_plan: String,
    pub running: bool,
    pub progress: Progress,
    pub agents: Vec<AgentStatus>,
    /// The most recent discoveries, oldest first; `listDiscoveries` has them all.
    pub discoveries: Vec<Discovery>,
    /// The run in progress, if any.
    #[serde(default)]
    pub run: Option<RunStatus>,
    /// What all tasks' agents have spent, over all runs.
    #[serde(default)]
    pub cost_usd: f64,
    #[serde(with = "timestamp::option")]
    pub last_activity: Option<DateTime<Utc>>,
    /// The result of the last run that ended since the daemon started.
    #[serde(default)]
    pub last_run: Option<RunResult>,
    /// Set when the daemon before this one stopped without shutting down.
    #[serde(default)]
    pub crash: Option<Crash>,
}

/// The daemon before this one stopped unexpectedly (it crashed or was killed), so
/// that clients can say so rather than restart it silently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crash {
    /// The last moment it was seen working (its log or state last written).
    #[serde(with = "timestamp")]
    pub stopped_at: DateTime<Utc>,
    /// Its log, relative to the workspace.
    pub log_file: String,
    /// A run was going; this daemon resumed it.
    pub run_resumed: bool,
}

/// The reference's run result dict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub goal: String,
    pub tasks_completed: usize,
    pub tasks_failed: usize,
    /// *baton:* the tasks cancelled while the run went, which count in neither.
    #[serde(default)]
    pub tasks_cancelled: usize,
    pub discoveries: usize,
    pub summary: String,
    /// What the run's agents spent, leader included.
    #[serde(default)]
    pub cost_usd: f64,
    /// The run's number on this board, from 1 (`baton/timeline` takes it).
    #[serde(default)]
    pub run: u64,
    /// Where the run's markdown report was written, when it could be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    /// Per stage of its tasks: how often they entered it and what was spent there.
    #[serde(default)]
    pub stages: crate::ByStage,
    /// Why the run stopped before its work was done, when it did (`baton/stop`, the
    /// run's budget, a leader that made no plan): a run that did not finish is not a
    /// success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}
