//! The board: every task, discovery and setting of a workspace, and the rules by
//! which they change. This file holds the state and the whole-state operations;
//! `graph` keeps the links between tasks (dependencies, chains, the indexes),
//! `lifecycle` moves a task from claim to its end (and a failure through its
//! dependents), `editing` changes or deletes a task before its work, `discoveries`
//! records what agents found, `reviews` takes a reviewer's verdict to the gate.
//!
//! Invariants, kept by `update` (the only place a task's status changes):
//! - the ready queue holds exactly the available tasks whose dependencies are all done;
//! - `held` holds exactly the claimed and in-progress tasks;
//! - `counts` counts the tasks of each status;
//! - `waiting` of a task is the number of its dependencies that are not done.

use std::collections::{BTreeSet, HashMap, HashSet};

use baton_protocol::methods::{ConfigPatch, InitParams, StateChange, StateChangeReason};
use baton_protocol::{
    AgentKind, AgentStatus, AttemptRecord, BatonError, ByStatus, Config, CoordinationState,
    Discovery, Event, HeldByStage, Progress, RunResult, RunStatus, Status, Task, TaskId,
    TaskStatus, Usage,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ready_queue::ReadyQueue;
use super::run::Run;
use super::validate;
use super::{Changes, Events};
use node::Node;

mod discoveries;
mod editing;
mod graph;
mod lifecycle;
mod node;
mod reviews;
mod runs;
mod timeline;

pub use reviews::Review;
pub use runs::{already_running, Finished, RunStart};
pub use timeline::{Closing, LostSpending};

/// How many recent discoveries status carries.
const STATUS_DISCOVERIES: usize = 20;

type Now = DateTime<Utc>;

/// What one attempt at a task cost, as its agent reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attempt {
    pub usage: Usage,
    pub session_id: Option<String>,
    pub permission_denials: Vec<String>,
}

/// The settings and goal of a workspace: everything of the state but its tasks and
/// discoveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub goal: String,
    pub master_plan: String,
    pub config: Config,
    pub running: bool,
    pub working_directory: String,
    pub created_at: Option<Now>,
    pub last_activity: Option<Now>,
    /// How many runs the board has had.
    #[serde(default)]
    pub runs: u64,
}

/// The whole state of one workspace.
#[derive(Debug, Clone)]
pub struct Board {
    goal: String,
    master_plan: String,
    config: Config,
    running: bool,
    working_directory: String,
    created_at: Option<Now>,
    last_activity: Option<Now>,
    /// Each task's node is boxed: the map's slots (up to half of them empty, and
    /// twice as many while it grows) then hold a pointer, not a whole task.
    nodes: HashMap<TaskId, Box<Node>>,
    /// Ids in creation order.
    order: Vec<TaskId>,
    ready: ReadyQueue,
    held: BTreeSet<TaskId>,
    counts: ByStatus,
    discoveries: Vec<Discovery>,
    next_number: u64,
    /// What all tasks' agents have spent.
    cost_usd: f64,
    /// The run going, if one is: live only, never stored (a restart resumes
    /// dispatch from `running`).
    run: Option<Run>,
    /// The result of the last run that ended since the daemon started, for status
    /// after a detached run.
    last_run: Option<RunResult>,
    /// Every agent run of the board's runs, in the order they started.
    attempts: Vec<AttemptRecord>,
    /// How many runs the board has had; the last one's number.
    runs: u64,
    /// What changed of the stored records since the store last took it.
    changes: Changes,
    /// Tasks whose chain may be out of date: their dependents changed since the
    /// chains were last settled (`graph::settle_chains`).
    stale_chains: HashSet<TaskId>,
}

impl Default for Board {
    fn default() -> Self {
        Board::from_state(empty_state(), false).expect("the empty state is valid")
    }
}

fn empty_state() -> CoordinationState {
    CoordinationState {
        goal: String::new(),
        master_plan: String::new(),
        working_directory: ".".into(),
        tasks: Vec::new(),
        discoveries: Vec::new(),
        max_parallel_workers: Config::default().max_workers,
        task_timeout_seconds: Config::default().task_timeout,
        created_at: None,
        last_activity: None,
        config: Some(Config::default()),
        attempts: Vec::new(),
    }
}

impl Board {
    /// A board holding `state`, after checking all of it. `running` says whether
    /// dispatch is on.
    pub fn from_state(state: CoordinationState, running: bool) -> Result<Board, BatonError> {
        let order = validate::state(&state)?;
        let config = validate::state_config(&state);
        if let Some((at, record)) = state
            .attempts
            .iter()
            .enumerate()
            .find(|(at, record)| record.id != *at as u64)
        {
            return Err(BatonError::invalid(format!(
                "attempts[{at}] has id {}; attempt ids count from 0 in order",
                record.id
            )));
        }
        let runs = state.attempts.iter().map(|record| record.run).max();
        let mut board = Board {
            goal: state.goal,
            master_plan: state.master_plan,
            config,
            running,
            working_directory: state.working_directory,
            created_at: state.created_at,
            last_activity: state.last_activity,
            nodes: HashMap::with_capacity(state.tasks.len()),
            order: Vec::with_capacity(state.tasks.len()),
            ready: ReadyQueue::default(),
            held: BTreeSet::new(),
            counts: ByStatus::default(),
            discoveries: state.discoveries,
            next_number: 1,
            cost_usd: 0.0,
            run: None,
            last_run: None,
            attempts: state.attempts,
            runs: runs.unwrap_or(0),
            changes: Changes::default(),
            stale_chains: HashSet::new(),
        };
        let ids: Vec<TaskId> = state.tasks.iter().map(|task| task.id.clone()).collect();
        for task in state.tasks {
            board.insert_node(task);
        }
        for id in &ids {
            board.link(id);
        }
        let ordered: Vec<TaskId> = order.iter().map(|&i| ids[i].clone()).collect();
        board.compute_chains(&ordered);
        for id in &ids {
            board.index(id);
        }
        // Inserting the tasks recorded them; a board read from somewhere starts clean.
        board.changes = Changes::default();
        Ok(board)
    }

    /// Rebuilds a board from what the store kept.
    pub fn restore(
        meta: Meta,
        tasks: Vec<Task>,
        discoveries: Vec<Discovery>,
        attempts: Vec<AttemptRecord>,
    ) -> Result<Board, BatonError> {
        // The settings are stored only when they change; the last activity is the
        // latest moment the tasks and discoveries remember.
        let last_activity = tasks
            .iter()
            .flat_map(|task| [Some(task.created_at), task.claimed_at, task.completed_at])
            .chain(discoveries.iter().map(|found| Some(found.created_at)))
            .chain([meta.last_activity])
            .flatten()
            .max();
        let state = CoordinationState {
            goal: meta.goal,
            master_plan: meta.master_plan,
            working_directory: meta.working_directory,
            tasks,
            discoveries,
            max_parallel_workers: meta.config.max_workers,
            task_timeout_seconds: meta.config.task_timeout,
            created_at: meta.created_at,
            last_activity,
            config: Some(meta.config),
            attempts,
        };
        let mut board = Board::from_state(state, meta.running)?;
        board.runs = board.runs.max(meta.runs);
        Ok(board)
    }

    pub fn meta(&self) -> Meta {
        Meta {
            goal: self.goal.clone(),
            master_plan: self.master_plan.clone(),
            config: self.config.clone(),
            running: self.running,
            working_directory: self.working_directory.clone(),
            created_at: self.created_at,
            last_activity: self.last_activity,
            runs: self.runs,
        }
    }

    /// The reference's CoordinationState: what `save` writes.
    pub fn state(&self) -> CoordinationState {
        CoordinationState {
            goal: self.goal.clone(),
            master_plan: self.master_plan.clone(),
            working_directory: self.working_directory.clone(),
            tasks: self.tasks(None),
            discoveries: self.discoveries.clone(),
            max_parallel_workers: self.config.max_workers,
            task_timeout_seconds: self.config.task_timeout,
            created_at: self.created_at,
            last_activity: self.last_activity,
            config: Some(self.config.clone()),
            attempts: self.attempts.clone(),
        }
    }

    // ---- reading ----

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn goal(&self) -> &str {
        &self.goal
    }

    pub fn master_plan(&self) -> &str {
        &self.master_plan
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The whole task, copied: the board keeps tasks in a form of its own.
    pub fn task(&self, id: &TaskId) -> Result<Task, BatonError> {
        self.node(id).map(Node::task)
    }

    fn node(&self, id: &TaskId) -> Result<&Node, BatonError> {
        self.nodes
            .get(id)
            .map(|node| &**node)
            .ok_or_else(|| BatonError::task_not_found(id))
    }

    /// What changed of the stored records since the last call: the store writes it.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// The task's place in creation order, which the store keys it by.
    pub fn seq(&self, id: &TaskId) -> Option<u64> {
        self.nodes.get(id).map(|node| node.seq)
    }

    /// Tasks in creation order, of one status or all.
    pub fn tasks(&self, status: Option<TaskStatus>) -> Vec<Task> {
        self.order
            .iter()
            .map(|id| &self.nodes[id])
            .filter(|node| status.is_none_or(|status| node.status == status))
            .map(|node| node.task())
            .collect()
    }

    pub fn discoveries(&self) -> &[Discovery] {
        &self.discoveries
    }

    pub fn counts(&self) -> ByStatus {
        self.counts
    }

    /// Every task's chain, settled: what the property tests compare with a chain
    /// recomputed from the tasks alone.
    #[cfg(test)]
    pub(crate) fn chains(&mut self) -> HashMap<TaskId, u32> {
        self.settle_chains();
        self.nodes
            .iter()
            .map(|(id, node)| (id.clone(), node.chain))
            .collect()
    }

    /// Ready tasks, most urgent first (settling the chains that order them).
    pub fn ready(&mut self) -> impl Iterator<Item = &TaskId> {
        self.settle_chains();
        self.ready.iter()
    }

    /// The tasks counted by status for progress: while a run goes, the run's own
    /// (not what earlier runs finished); between runs, every task.
    pub fn progress_counts(&self) -> ByStatus {
        self.run_progress().unwrap_or(self.counts)
    }

    /// The run's own tasks by status, while a run goes.
    pub fn run_progress(&self) -> Option<ByStatus> {
        self.run.as_ref().map(|run| run.progress(&self.counts))
    }

    /// What the board's agents have spent over all runs: the tasks' spending and
    /// what the leaders and summaries spent, which their records keep and no task
    /// carries.
    pub fn total_cost_usd(&self) -> f64 {
        let untasked: f64 = self
            .attempts
            .iter()
            .filter(|record| matches!(record.kind, AgentKind::Leader | AgentKind::Summary))
            .map(|record| record.cost_usd)
            .sum();
        self.cost_usd + untasked
    }

    /// The held tasks by the stage they are at.
    pub fn held_by_stage(&self) -> HeldByStage {
        self.held.iter().map(|id| self.nodes[id].stage).collect()
    }

    pub fn status(&self) -> Status {
        let mut agents: Vec<AgentStatus> = self
            .held
            .iter()
            .map(|id| &self.nodes[id])
            .map(|node| AgentStatus {
                id: node
                    .rest()
                    .and_then(|rest| rest.claimed_by.clone())
                    .unwrap_or_default(),
                task: Some(node.id.clone()),
                since: node.claimed_at(),
                activity: None,
                cost_usd: 0.0,
            })
            .collect();
        // The run's own agents: what each has spent, and the leader, who holds no task.
        for (id, seat) in self.run.iter().flat_map(|run| run.seats()) {
            let shown = AgentStatus {
                id: id.clone(),
                task: seat.task.clone(),
                since: Some(seat.since),
                activity: None,
                cost_usd: seat.cost_usd,
            };
            match agents
                .iter_mut()
                .find(|known| &known.id == id && known.task == seat.task)
            {
                Some(known) => *known = shown,
                None => agents.push(shown),
            }
        }
        let recent = self.discoveries.len().saturating_sub(STATUS_DISCOVERIES);
        Status {
            goal: self.goal.clone(),
            master_plan: self.master_plan.clone(),
            running: self.running,
            progress: Progress::of(self.progress_counts(), self.held_by_stage()),
            agents,
            discoveries: self.discoveries[recent..].to_vec(),
            run: self.run.as_ref().map(|run| RunStatus {
                waiting_for: self.outside_claims_waited_for(),
                ..run.status()
            }),
            cost_usd: self.total_cost_usd(),
            last_activity: self.last_activity,
            last_run: self.last_run.clone(),
            crash: None,
        }
    }

    // ---- whole-state changes ----

    pub fn init(&mut self, params: InitParams, now: Now) -> Result<Events, BatonError> {
        validate::goal(&params.goal)?;
        // The run's report and summary are of the goal it started with.
        if self.run.is_some() && params.goal != self.goal {
            return Err(BatonError::orchestration(
                "a run is going for this goal; `baton stop` it, or wait for it to end, before setting another goal",
            )
            .with_cause(baton_protocol::ErrorCause::RunGoing));
        }
        validate::master_plan(&params.master_plan)?;
        self.config = validate::patched_config(&self.config, &params.config)?;
        self.goal = params.goal;
        self.master_plan = params.master_plan;
        self.created_at.get_or_insert(now);
        Ok(self.changed_state(StateChangeReason::Init, now))
    }

    pub fn configure(&mut self, patch: &ConfigPatch, now: Now) -> Result<Events, BatonError> {
        self.config = validate::patched_config(&self.config, patch)?;
        Ok(self.changed_state(StateChangeReason::Configure, now))
    }

    pub fn set_master_plan(&mut self, plan: String, now: Now) -> Result<Events, BatonError> {
        validate::master_plan(&plan)?;
        self.master_plan = plan;
        Ok(self.changed_state(StateChangeReason::Plan, now))
    }

    pub fn set_running(&mut self, running: bool, now: Now) -> Events {
        self.running = running;
        let reason = if running {
            StateChangeReason::Start
        } else {
            StateChangeReason::Stop
        };
        self.changed_state(reason, now)
    }

    /// Replaces everything with `state`, after checking all of it. Dispatch is off
    /// afterwards.
    pub fn load(&mut self, state: CoordinationState, now: Now) -> Result<Events, BatonError> {
        if self.run.is_some() {
            return Err(BatonError::orchestration(
                "a run is going; `baton stop` it before loading another state",
            )
            .with_cause(baton_protocol::ErrorCause::RunGoing));
        }
        validate::claims_dated_by(&state, now)?;
        // Tasks go out by age among equals: a file's tasks are taken in the order they
        // were created, whatever order it lists them in.
        let mut state = state;
        state.tasks.sort_by_key(|task| task.created_at);
        // The board loaded over has gone, its last run with it.
        *self = Board::from_state(state, false)?;
        self.changes.everything = true;
        let mut events = self.changed_state(StateChangeReason::Load, now);
        // A state file from elsewhere may hold tasks behind a failed or cancelled
        // dependency: they could never start, so they fail now and a run still ends.
        for id in self.order.clone() {
            if self.nodes[&id].status != TaskStatus::Available {
                continue;
            }
            if let Some(blocker) = self.unfinishable_dependency(&id).cloned() {
                self.fail_for_dependency(&id, &blocker, now, &mut events);
            }
        }
        // Claims of the daemon's own agents in the file have no agent behind them now.
        for id in self.supervised() {
            let reason = "its agent was not running when the state was loaded";
            let (_, released) = self.release(&id, reason, now)?;
            events.extend(released);
        }
        events.extend(self.end_lost_attempts(&LostSpending::default(), now));
        Ok(events)
    }

    fn changed_state(&mut self, reason: StateChangeReason, now: Now) -> Events {
        self.last_activity = Some(now);
        self.changes.settings = true;
        vec![Event::StateChanged(StateChange { reason })]
    }
}
