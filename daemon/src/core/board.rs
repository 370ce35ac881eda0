//! The board: every task, discovery and setting of a workspace, and the rules by
//! which they change.
//!
//! Invariants, kept by `update` (the only place a task's status changes):
//! - the ready queue holds exactly the available tasks whose dependencies are all done;
//! - `held` holds exactly the claimed and in-progress tasks;
//! - `counts` counts the tasks of each status;
//! - `waiting` of a task is the number of its dependencies that are not done.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

use baton_protocol::methods::{
    ConfigPatch, InitParams, NewDiscovery, NewTask, StateChange, StateChangeReason,
};
use baton_protocol::{
    AgentStatus, BatonError, ByStatus, Config, CoordinationState, Discovery, Event, Progress,
    Status, Task, TaskContext, TaskId, TaskResult, TaskStatus, Usage,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ready_queue::{ReadyKey, ReadyQueue};
use super::validate;
use super::Events;

/// How many recent discoveries status carries.
const STATUS_DISCOVERIES: usize = 20;

type Now = DateTime<Utc>;

#[derive(Debug, Clone)]
struct Node {
    task: Task,
    /// Creation order, for age in the ready queue and for listing.
    seq: u64,
    /// The length of the longest chain of tasks that depend on this one, itself
    /// included; 0 until first computed.
    chain: u32,
    waiting: usize,
    dependents: Vec<TaskId>,
}

impl Node {
    fn ready_key(&self) -> ReadyKey {
        ReadyKey {
            priority: self.task.priority,
            chain: Reverse(self.chain),
            seq: self.seq,
            id: self.task.id.clone(),
        }
    }

    fn is_ready(&self) -> bool {
        self.task.status == TaskStatus::Available && self.waiting == 0
    }
}

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
    nodes: HashMap<TaskId, Node>,
    /// Ids in creation order.
    order: Vec<TaskId>,
    ready: ReadyQueue,
    held: BTreeSet<TaskId>,
    counts: ByStatus,
    discoveries: Vec<Discovery>,
    next_number: u64,
    /// What all tasks' agents have spent.
    cost_usd: f64,
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
    }
}

impl Board {
    /// A board holding `state`, after checking all of it. `running` says whether
    /// dispatch is on.
    pub fn from_state(state: CoordinationState, running: bool) -> Result<Board, BatonError> {
        let order = validate::state(&state)?;
        let config = validate::state_config(&state);
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
        Ok(board)
    }

    /// Rebuilds a board from what the store kept.
    pub fn restore(
        meta: Meta,
        tasks: Vec<Task>,
        discoveries: Vec<Discovery>,
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
        };
        Board::from_state(state, meta.running)
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
        }
    }

    // ---- reading ----

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn goal(&self) -> &str {
        &self.goal
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn task(&self, id: &TaskId) -> Result<&Task, BatonError> {
        self.nodes
            .get(id)
            .map(|node| &node.task)
            .ok_or_else(|| BatonError::task_not_found(id))
    }

    /// The task's place in creation order, which the store keys it by.
    pub fn seq(&self, id: &TaskId) -> Option<u64> {
        self.nodes.get(id).map(|node| node.seq)
    }

    /// Tasks in creation order, of one status or all.
    pub fn tasks(&self, status: Option<TaskStatus>) -> Vec<Task> {
        self.order
            .iter()
            .map(|id| &self.nodes[id].task)
            .filter(|task| status.is_none_or(|status| task.status == status))
            .cloned()
            .collect()
    }

    pub fn discoveries(&self) -> &[Discovery] {
        &self.discoveries
    }

    pub fn counts(&self) -> ByStatus {
        self.counts
    }

    /// Ready tasks, most urgent first.
    pub fn ready(&self) -> impl Iterator<Item = &TaskId> {
        self.ready.iter()
    }

    pub fn status(&self) -> Status {
        let total = self.order.len();
        let finished = self.counts.done + self.counts.failed + self.counts.cancelled;
        let percent_complete = (finished * 100).checked_div(total).unwrap_or(0) as u32;
        let agents = self
            .held
            .iter()
            .map(|id| &self.nodes[id].task)
            .map(|task| AgentStatus {
                id: task.claimed_by.clone().unwrap_or_default(),
                task: Some(task.id.clone()),
                since: task.claimed_at,
                activity: None,
                cost_usd: 0.0,
            })
            .collect();
        let recent = self.discoveries.len().saturating_sub(STATUS_DISCOVERIES);
        Status {
            goal: self.goal.clone(),
            master_plan: self.master_plan.clone(),
            running: self.running,
            progress: Progress {
                total_tasks: total,
                percent_complete,
                by_status: self.counts,
            },
            agents,
            discoveries: self.discoveries[recent..].to_vec(),
            run: None,
            cost_usd: self.cost_usd,
            last_activity: self.last_activity,
        }
    }

    // ---- whole-state changes ----

    pub fn init(&mut self, params: InitParams, now: Now) -> Result<Events, BatonError> {
        if params.goal.trim().is_empty() {
            return Err(BatonError::invalid(
                "the goal is empty; say what the team should achieve",
            ));
        }
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

    pub fn set_master_plan(&mut self, plan: String, now: Now) -> Events {
        self.master_plan = plan;
        self.changed_state(StateChangeReason::Plan, now)
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
        *self = Board::from_state(state, false)?;
        let mut events = self.changed_state(StateChangeReason::Load, now);
        // A state file from elsewhere may hold tasks behind a failed or cancelled
        // dependency: they could never start, so they fail now and a run still ends.
        for id in self.order.clone() {
            let task = &self.nodes[&id].task;
            if task.status != TaskStatus::Available {
                continue;
            }
            if let Some(blocker) = self.unfinishable_dependency(task).cloned() {
                self.fail_for_dependency(&id, &blocker, now, &mut events);
            }
        }
        // Claims of the daemon's own agents in the file have no agent behind them now.
        for id in self.supervised() {
            let reason = "its agent was not running when the state was loaded";
            let (_, released) = self.release(&id, reason, now)?;
            events.extend(released);
        }
        Ok(events)
    }

    fn changed_state(&mut self, reason: StateChangeReason, now: Now) -> Events {
        self.last_activity = Some(now);
        vec![Event::StateChanged(StateChange { reason })]
    }

    // ---- tasks ----

    /// Adds tasks, all or none. A dependency may name a task of the same batch.
    pub fn add_tasks(
        &mut self,
        batch: Vec<NewTask>,
        now: Now,
    ) -> Result<(Vec<Task>, Events), BatonError> {
        if self.next_number.checked_add(batch.len() as u64).is_none() {
            return Err(BatonError::orchestration(
                "no task numbers are left after the largest loaded id; load a state whose ids are smaller",
            ));
        }
        let ids: Vec<TaskId> = (self.next_number..)
            .take(batch.len())
            .map(TaskId::numbered)
            .collect();
        let order = validate::new_tasks(&batch, &ids, |id| self.nodes.contains_key(id))?;
        let mut events = Vec::with_capacity(batch.len());
        for (new, id) in batch.into_iter().zip(&ids) {
            let mut dependencies = new.dependencies;
            let mut seen = std::collections::HashSet::new();
            dependencies.retain(|dependency| seen.insert(dependency.clone()));
            self.insert_node(Task {
                id: id.clone(),
                description: new.description,
                status: TaskStatus::Available,
                priority: new.priority,
                claimed_by: None,
                dependencies,
                context: TaskContext {
                    files: new.context_files,
                    hints: new.hints,
                    parent_task: new.parent_task,
                },
                result: None,
                created_at: now,
                claimed_at: None,
                completed_at: None,
                attempts: 0,
                failed_dependency: None,
                usage: Default::default(),
                session_id: None,
                permission_denials: Vec::new(),
                supervised: false,
            });
        }
        for id in &ids {
            self.link(id);
        }
        // New tasks have dependents only in their batch; the tasks they depend on may
        // now head longer chains.
        let ordered: Vec<TaskId> = order.iter().map(|&i| ids[i].clone()).collect();
        self.compute_chains(&ordered);
        for id in &ids {
            self.index(id);
        }
        let new: std::collections::HashSet<&TaskId> = ids.iter().collect();
        let raised: Vec<TaskId> = ids
            .iter()
            .flat_map(|id| self.nodes[id].task.dependencies.iter())
            .filter(|dependency| !new.contains(dependency))
            .cloned()
            .collect();
        self.refresh_chains(raised);
        for id in &ids {
            events.push(Event::TaskCreated(self.nodes[id].task.clone()));
            if let Some(parent) = self.nodes[id].task.context.parent_task.clone() {
                let node = self.nodes.get_mut(&parent).expect("validated parent");
                let result = node.task.result.get_or_insert_with(TaskResult::default);
                result.subtasks_created.push(id.clone());
                events.push(Event::TaskUpdated(node.task.clone()));
            }
        }
        // A task that depends on a failed one can never start: it fails now.
        for &i in &order {
            let id = &ids[i];
            if self.nodes[id].task.status != TaskStatus::Available {
                continue;
            }
            let failed = self.nodes[id].task.dependencies.iter().find(|dependency| {
                matches!(
                    self.nodes[*dependency].task.status,
                    TaskStatus::Failed | TaskStatus::Cancelled
                )
            });
            if let Some(failed) = failed.cloned() {
                self.fail_for_dependency(id, &failed, now, &mut events);
            }
        }
        self.last_activity = Some(now);
        let tasks = ids.iter().map(|id| self.nodes[id].task.clone()).collect();
        Ok((tasks, events))
    }

    /// Hands the most urgent ready task to `agent_id`, an agent outside the daemon.
    pub fn claim(
        &mut self,
        agent_id: &str,
        now: Now,
    ) -> Result<(Option<Task>, Events), BatonError> {
        self.claim_as(agent_id, false, &BTreeSet::new(), now)
    }

    /// Hands the most urgent ready task to an agent the daemon runs, passing over tasks
    /// that name any of the `busy` context files (agents sharing one checkout must not
    /// work on the same files at once).
    pub fn claim_supervised(
        &mut self,
        agent_id: &str,
        busy: &BTreeSet<String>,
        now: Now,
    ) -> Result<(Option<Task>, Events), BatonError> {
        self.claim_as(agent_id, true, busy, now)
    }

    fn claim_as(
        &mut self,
        agent_id: &str,
        supervised: bool,
        busy: &BTreeSet<String>,
        now: Now,
    ) -> Result<(Option<Task>, Events), BatonError> {
        validate::agent_id(agent_id)?;
        let nodes = &self.nodes;
        let free = |id: &TaskId| {
            !nodes[id]
                .task
                .context
                .files
                .iter()
                .any(|file| busy.contains(file))
        };
        let Some(id) = self.ready.pop_first_where(free) else {
            return Ok((None, Vec::new()));
        };
        let task = self.update(&id, |task| {
            task.status = TaskStatus::Claimed;
            task.claimed_by = Some(agent_id.to_owned());
            task.claimed_at = Some(now);
            task.attempts += 1;
            task.supervised = supervised;
        });
        self.last_activity = Some(now);
        Ok((Some(task.clone()), vec![Event::TaskUpdated(task)]))
    }

    /// Records what one attempt at a task cost and where its session is.
    pub fn record_attempt(
        &mut self,
        id: &TaskId,
        attempt: Attempt,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        self.task(id)?;
        self.cost_usd += attempt.usage.cost_usd;
        let node = self.nodes.get_mut(id).expect("checked above");
        node.task.usage.add(&attempt.usage);
        if attempt.session_id.is_some() {
            node.task.session_id = attempt.session_id;
        }
        node.task
            .permission_denials
            .extend(attempt.permission_denials);
        let task = node.task.clone();
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// Puts a held task back in the queue (the attempt stays counted), saying why.
    pub fn release(
        &mut self,
        id: &TaskId,
        reason: &str,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        let status = self.task(id)?.status;
        if !status.is_held() {
            return Err(BatonError::orchestration(format!(
                "task {id} is {status}; only a claimed or in-progress task can go back to the queue"
            )));
        }
        let task = self.update(id, |task| {
            task.status = TaskStatus::Available;
            task.claimed_by = None;
            task.claimed_at = None;
            task.supervised = false;
            task.result.get_or_insert_with(TaskResult::default).error = Some(reason.to_owned());
        });
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    /// Tasks whose agents the daemon ran: at a restart those agents are gone.
    pub fn supervised(&self) -> Vec<TaskId> {
        self.held
            .iter()
            .filter(|id| self.nodes[*id].task.supervised)
            .cloned()
            .collect()
    }

    /// A claimed task is being worked on.
    pub fn start_task(&mut self, id: &TaskId, now: Now) -> Result<(Task, Events), BatonError> {
        let status = self.task(id)?.status;
        if status != TaskStatus::Claimed {
            return Err(BatonError::orchestration(format!(
                "task {id} is {status}; only a claimed task can start"
            )));
        }
        let task = self.update(id, |task| task.status = TaskStatus::InProgress);
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskUpdated(task)]))
    }

    pub fn complete(
        &mut self,
        id: &TaskId,
        result: TaskResult,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        self.check_held(id, "complete")?;
        let task = self.update(id, |task| {
            let earlier = task.result.take().unwrap_or_default();
            task.result = Some(merge_results(earlier, result));
            task.status = TaskStatus::Done;
            task.completed_at = Some(now);
            task.supervised = false;
        });
        self.last_activity = Some(now);
        Ok((task.clone(), vec![Event::TaskCompleted(task)]))
    }

    pub fn fail(
        &mut self,
        id: &TaskId,
        error: &str,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        if error.trim().is_empty() {
            return Err(BatonError::invalid(
                "the error is empty; say why the task failed",
            ));
        }
        self.check_unfinished(id)?;
        let task = self.finish_unsuccessfully(id, TaskStatus::Failed, error.to_owned(), None, now);
        let mut events = vec![Event::TaskFailed(task.clone())];
        self.cascade_failure(id, now, &mut events);
        self.last_activity = Some(now);
        Ok((task, events))
    }

    pub fn cancel(&mut self, id: &TaskId, now: Now) -> Result<(Task, Events), BatonError> {
        self.check_unfinished(id)?;
        let task =
            self.finish_unsuccessfully(id, TaskStatus::Cancelled, "cancelled".into(), None, now);
        let mut events = vec![Event::TaskFailed(task.clone())];
        self.cascade_failure(id, now, &mut events);
        self.last_activity = Some(now);
        Ok((task, events))
    }

    /// Reopens a failed or cancelled task, and every task that failed because of it.
    pub fn retry(&mut self, id: &TaskId, now: Now) -> Result<(Vec<Task>, Events), BatonError> {
        let task = self.task(id)?;
        if !matches!(task.status, TaskStatus::Failed | TaskStatus::Cancelled) {
            return Err(BatonError::orchestration(format!(
                "task {id} is {}; only a failed or cancelled task can be retried",
                task.status
            )));
        }
        if let Some(blocker) = self.unfinishable_dependency(task) {
            let message = if task.failed_dependency.is_some() {
                let root = self.failure_root(id);
                format!(
                    "task {id} failed because {root} {}; retry {root}, which reopens {id} too",
                    how_it_ended(self.nodes[root].task.status)
                )
            } else {
                let root = self.failure_root(blocker);
                format!(
                    "task {id} depends on {blocker}, which is {}; retry {root} first",
                    self.nodes[blocker].task.status
                )
            };
            return Err(BatonError::orchestration(message));
        }
        let mut reopened = Vec::new();
        let mut events = Vec::new();
        let mut pending = vec![id.clone()];
        while let Some(id) = pending.pop() {
            let task = self.update(&id, |task| {
                task.status = TaskStatus::Available;
                task.claimed_by = None;
                task.claimed_at = None;
                task.completed_at = None;
                task.result = None;
                task.failed_dependency = None;
            });
            events.push(Event::TaskUpdated(task.clone()));
            reopened.push(task);
            for dependent in self.nodes[&id].dependents.clone() {
                let failed_for = self.nodes[&dependent].task.failed_dependency.as_ref();
                if failed_for == Some(&id) {
                    pending.push(dependent);
                }
            }
        }
        // A reopened task may still wait on another dependency that failed meanwhile
        // (unless that already failed it again, through a task reopened before it).
        for task in reopened.clone() {
            if self.nodes[&task.id].task.status != TaskStatus::Available {
                continue;
            }
            let blocker = self.unfinishable_dependency(&task).cloned();
            if let Some(blocker) = blocker {
                self.fail_for_dependency(&task.id, &blocker, now, &mut events);
            }
        }
        self.last_activity = Some(now);
        let reopened = reopened
            .iter()
            .map(|task| self.nodes[&task.id].task.clone())
            .collect();
        Ok((reopened, events))
    }

    /// Outside agents' claims older than the task timeout go back to the queue (the
    /// attempt counts). The daemon times out its own agents itself.
    pub fn expire_claims(&mut self, now: Now) -> Events {
        let timeout =
            chrono::Duration::seconds(self.config.task_timeout.min(i64::MAX as u64) as i64);
        let expired: Vec<TaskId> = self
            .held
            .iter()
            .filter(|id| {
                let task = &self.nodes[*id].task;
                !task.supervised && task.claimed_at.is_some_and(|at| now - at > timeout)
            })
            .cloned()
            .collect();
        let mut events = Vec::new();
        for id in expired {
            let task = self.update(&id, |task| {
                task.status = TaskStatus::Available;
                task.claimed_by = None;
                task.claimed_at = None;
            });
            events.push(Event::TaskUpdated(task));
        }
        if !events.is_empty() {
            self.last_activity = Some(now);
        }
        events
    }

    /// When the oldest claim will expire, so the caller knows when to look again.
    pub fn next_claim_expiry(&self) -> Option<Now> {
        let timeout =
            chrono::Duration::seconds(self.config.task_timeout.min(i64::MAX as u64) as i64);
        self.held
            .iter()
            .filter_map(|id| self.nodes[id].task.claimed_at)
            .min()
            .map(|at| at + timeout)
    }

    // ---- discoveries ----

    pub fn add_discovery(
        &mut self,
        new: NewDiscovery,
        now: Now,
    ) -> Result<(Discovery, Events), BatonError> {
        validate::agent_id(&new.agent_id)?;
        if new.content.trim().is_empty() {
            return Err(BatonError::invalid(
                "the discovery is empty; say what was found",
            ));
        }
        if let Some(task) = &new.related_task {
            self.task(task)?;
        }
        let discovery = Discovery {
            agent_id: new.agent_id,
            content: new.content,
            related_task: new.related_task,
            tags: new.tags,
            created_at: now,
        };
        self.discoveries.push(discovery.clone());
        let mut events = vec![Event::Discovery(discovery.clone())];
        if let Some(task) = &discovery.related_task {
            let node = self.nodes.get_mut(task).expect("checked above");
            let result = node.task.result.get_or_insert_with(TaskResult::default);
            result.discoveries.push(discovery.content.clone());
            events.push(Event::TaskUpdated(node.task.clone()));
        }
        self.last_activity = Some(now);
        Ok((discovery, events))
    }

    // ---- the machinery ----

    fn check_held(&self, id: &TaskId, action: &str) -> Result<(), BatonError> {
        let status = self.task(id)?.status;
        match status {
            TaskStatus::Claimed | TaskStatus::InProgress => Ok(()),
            TaskStatus::Available => Err(BatonError::orchestration(format!(
                "task {id} was never claimed, so it cannot {action}; claim it first (`baton claim --agent ID`)"
            ))),
            _ => Err(already_finished(id, status)),
        }
    }

    fn check_unfinished(&self, id: &TaskId) -> Result<(), BatonError> {
        let status = self.task(id)?.status;
        if status.is_finished() {
            return Err(already_finished(id, status));
        }
        Ok(())
    }

    /// The task whose retry would reopen `id`: where the chain of dependencies it
    /// failed for, one after the other, begins.
    fn failure_root<'a>(&'a self, mut id: &'a TaskId) -> &'a TaskId {
        while let Some(dependency) = &self.nodes[id].task.failed_dependency {
            if !matches!(
                self.nodes[dependency].task.status,
                TaskStatus::Failed | TaskStatus::Cancelled
            ) {
                break;
            }
            id = dependency;
        }
        id
    }

    /// A dependency that is failed or cancelled, if any: the task could never start.
    fn unfinishable_dependency<'a>(&self, task: &'a Task) -> Option<&'a TaskId> {
        task.dependencies.iter().find(|dependency| {
            matches!(
                self.nodes[*dependency].task.status,
                TaskStatus::Failed | TaskStatus::Cancelled
            )
        })
    }

    fn finish_unsuccessfully(
        &mut self,
        id: &TaskId,
        status: TaskStatus,
        error: String,
        failed_dependency: Option<TaskId>,
        now: Now,
    ) -> Task {
        self.update(id, |task| {
            let result = task.result.get_or_insert_with(TaskResult::default);
            result.error = Some(error);
            task.status = status;
            task.completed_at = Some(now);
            task.failed_dependency = failed_dependency;
            task.supervised = false;
        })
    }

    fn fail_for_dependency(
        &mut self,
        id: &TaskId,
        dependency: &TaskId,
        now: Now,
        events: &mut Events,
    ) {
        let how = how_it_ended(self.nodes[dependency].task.status);
        let error = format!("dependency {dependency} {how}");
        let task = self.finish_unsuccessfully(
            id,
            TaskStatus::Failed,
            error,
            Some(dependency.clone()),
            now,
        );
        events.push(Event::TaskFailed(task));
        self.cascade_failure(id, now, events);
    }

    /// Fails every unfinished task that depends, directly or not, on `root`, so that
    /// a run always ends.
    fn cascade_failure(&mut self, root: &TaskId, now: Now, events: &mut Events) {
        let mut pending: Vec<(TaskId, TaskId)> = self.nodes[root]
            .dependents
            .iter()
            .map(|dependent| (dependent.clone(), root.clone()))
            .collect();
        while let Some((id, because)) = pending.pop() {
            if self.nodes[&id].task.status.is_finished() {
                continue;
            }
            let how = how_it_ended(self.nodes[&because].task.status);
            let error = format!("dependency {because} {how}");
            let task =
                self.finish_unsuccessfully(&id, TaskStatus::Failed, error, Some(because), now);
            events.push(Event::TaskFailed(task));
            pending.extend(
                self.nodes[&id]
                    .dependents
                    .iter()
                    .map(|dependent| (dependent.clone(), id.clone())),
            );
        }
    }

    /// Changes one task, keeping every index true. Answers the task as it is now.
    fn update(&mut self, id: &TaskId, change: impl FnOnce(&mut Task)) -> Task {
        self.unindex(id);
        let node = self.nodes.get_mut(id).expect("update of a known task");
        let before = node.task.status;
        change(&mut node.task);
        let after = node.task.status;
        let task = node.task.clone();
        *self.counts.get_mut(before) -= 1;
        *self.counts.get_mut(after) += 1;
        if (before == TaskStatus::Done) != (after == TaskStatus::Done) {
            let dependents = self.nodes[id].dependents.clone();
            for dependent in dependents {
                self.unindex(&dependent);
                let node = self.nodes.get_mut(&dependent).expect("known dependent");
                if after == TaskStatus::Done {
                    node.waiting -= 1;
                } else {
                    node.waiting += 1;
                }
                self.index(&dependent);
            }
        }
        self.index(id);
        task
    }

    fn insert_node(&mut self, task: Task) {
        if let Some(number) = task.id.number() {
            self.next_number = self.next_number.max(number.saturating_add(1));
        }
        *self.counts.get_mut(task.status) += 1;
        self.cost_usd += task.usage.cost_usd;
        self.order.push(task.id.clone());
        let node = Node {
            seq: self.order.len() as u64 - 1,
            chain: 0,
            waiting: 0,
            dependents: Vec::new(),
            task,
        };
        self.nodes.insert(node.task.id.clone(), node);
    }

    /// Records a new task as a dependent of its dependencies and counts those not done.
    fn link(&mut self, id: &TaskId) {
        let dependencies = self.nodes[id].task.dependencies.clone();
        let mut waiting = 0;
        for dependency in &dependencies {
            let node = self
                .nodes
                .get_mut(dependency)
                .expect("validated dependency");
            node.dependents.push(id.clone());
            if node.task.status != TaskStatus::Done {
                waiting += 1;
            }
        }
        self.nodes.get_mut(id).expect("linked task").waiting = waiting;
    }

    fn index(&mut self, id: &TaskId) {
        let node = &self.nodes[id];
        if node.is_ready() {
            self.ready.insert(node.ready_key());
        }
        if node.task.status.is_held() {
            self.held.insert(id.clone());
        }
    }

    fn unindex(&mut self, id: &TaskId) {
        let node = &self.nodes[id];
        if node.is_ready() {
            self.ready.remove(&node.ready_key());
        }
        self.held.remove(id);
    }

    /// Recomputes the chains of `pending` (given dependencies first) and, where one
    /// grew, of the tasks they depend on.
    /// Sets the chains of `ids`, given dependencies first, whose dependents' chains
    /// are final (or among `ids`): one pass, dependents before dependencies. The
    /// tasks must not be indexed yet.
    fn compute_chains(&mut self, ids: &[TaskId]) {
        for id in ids.iter().rev() {
            let chain = 1 + self.nodes[id]
                .dependents
                .iter()
                .map(|dependent| self.nodes[dependent].chain)
                .max()
                .unwrap_or(0);
            self.nodes.get_mut(id).expect("known task").chain = chain;
        }
    }

    /// Recomputes the chains of `pending` and, where one grew, of the tasks they
    /// depend on; each task waits in the queue at most once.
    fn refresh_chains(&mut self, pending: Vec<TaskId>) {
        let mut queued: std::collections::HashSet<TaskId> = pending.iter().cloned().collect();
        let mut pending = pending;
        while let Some(id) = pending.pop() {
            queued.remove(&id);
            let chain = 1 + self.nodes[&id]
                .dependents
                .iter()
                .map(|dependent| self.nodes[dependent].chain)
                .max()
                .unwrap_or(0);
            if chain == self.nodes[&id].chain {
                continue;
            }
            self.unindex(&id);
            self.nodes.get_mut(&id).expect("known task").chain = chain;
            self.index(&id);
            for dependency in &self.nodes[&id].task.dependencies {
                if queued.insert(dependency.clone()) {
                    pending.push(dependency.clone());
                }
            }
        }
    }
}

/// How a task that will never be done ended, as its dependents' errors say it.
fn how_it_ended(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Cancelled => "was cancelled",
        _ => "failed",
    }
}

fn already_finished(id: &TaskId, status: TaskStatus) -> BatonError {
    BatonError::orchestration(format!(
        "task {id} is already {status}; `baton retry {id}` reopens a failed or cancelled task"
    ))
}

/// The agent's result, keeping what was recorded on the task while it ran.
fn merge_results(earlier: TaskResult, mut result: TaskResult) -> TaskResult {
    for discovery in earlier.discoveries.into_iter().rev() {
        if !result.discoveries.contains(&discovery) {
            result.discoveries.insert(0, discovery);
        }
    }
    for subtask in earlier.subtasks_created.into_iter().rev() {
        if !result.subtasks_created.contains(&subtask) {
            result.subtasks_created.insert(0, subtask);
        }
    }
    result
}
