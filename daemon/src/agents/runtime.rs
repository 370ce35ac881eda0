//! The agent runtime: runs the plan with real Claude Code agents.
//!
//! A run dispatches ready tasks to at most `max_workers` workers (`worker-1`, …),
//! each a `claude` process on one task; in leader mode a `leader` agent plans the goal
//! into tasks first, and workers start on tasks as soon as they are ready, while the
//! leader may still be adding more. When every task has ended the run is summarised
//! and its result announced. Faults end a task, never the run or the daemon.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::methods::{self as m, AgentActivity, ConfigPatch, RunStarted};
use baton_protocol::{
    AgentEnv, AgentStatus, BatonError, Config, ErrorCause, Event, RunMode, RunPhase, RunResult,
    RunStatus, Status, Task, TaskId, TaskResult, TaskStage, TaskStatus, Usage, Workspace,
};
use chrono::{DateTime, Utc};
use tokio::sync::{watch, Notify};

use super::command::{self, Role};
use super::process::{self, Ending, Environment, Launch};
use super::prompts::{self, PromptValues};
use super::snapshot::Snapshot;
use super::stream::{clip, AgentResult, StreamEvent};
use super::worktrees::{Changes, WorktreeError, Worktrees};
use crate::core::pipeline::{self, Step};
use crate::core::{Attempt, Board};
use crate::orchestrator::Orchestrator;

mod gate;

/// Time between two agent starts: Claude Code processes that start at the same moment
/// can corrupt the user's `~/.claude.json`.
const STAGGER: Duration = Duration::from_millis(150);
/// How long the summary at the end of a run may take.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long to pause when a rate limit gives no reset time.
const DEFAULT_PAUSE: Duration = Duration::from_secs(60);

/// Where the run's agents work.
#[derive(Clone)]
enum Isolation {
    /// Each task in its own worktree and branch, merged back when done.
    Worktrees(Arc<Worktrees>),
    /// All in the workspace itself; tasks naming the same files never run at once.
    Shared,
}

/// An agent the daemon runs now.
struct Agent {
    task: Option<TaskId>,
    /// The task's context files, which no other agent in a shared workspace may touch.
    files: Vec<String>,
    since: DateTime<Utc>,
    activity: Option<String>,
    cost_usd: f64,
    stop: watch::Sender<bool>,
}

/// The run in progress.
struct Run {
    mode: RunMode,
    /// The settings the run was started with over the workspace's configuration.
    overrides: ConfigPatch,
    isolation: Isolation,
    /// How each task that had finished before the run ended, and how many
    /// discoveries there were: the run's result counts only what it did.
    finished_before: HashMap<TaskId, TaskStatus>,
    discoveries_before: usize,
    goal: String,
    started_at: DateTime<Utc>,
    cost_usd: f64,
    paused_until: Option<DateTime<Utc>>,
    /// Why dispatch stopped before the work was done.
    stopped: Option<String>,
    leader_running: bool,
    /// Set when the leader failed before adding any task: nothing more will come.
    leader_error: Option<String>,
    finishing: bool,
    /// The variables the client that started the run sent for its agents; kept in
    /// memory only.
    env: Option<AgentEnv>,
    result: watch::Sender<Option<RunResult>>,
}

#[derive(Default)]
struct State {
    run: Option<Run>,
    agents: BTreeMap<String, Agent>,
    /// The result of the last run that ended, for `status` after a detached run.
    last_run: Option<RunResult>,
}

/// The runtime of one workspace.
pub struct Runtime {
    orchestrator: Arc<Orchestrator>,
    workspace: Workspace,
    state: Mutex<State>,
    wake: Notify,
    last_start: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Runtime {
    /// Starts the runtime: ends what a previous daemon's agents left running, puts
    /// their tasks back in the queue, and resumes a run that was going.
    pub async fn start(orchestrator: Arc<Orchestrator>, workspace: &Workspace) -> Arc<Runtime> {
        let left = super::end_agents_of(workspace.root());
        if left > 0 {
            tracing::warn!("ended {left} agent processes left by an earlier daemon");
        }
        if workspace.worktrees_dir().is_dir() {
            let branch = orchestrator.read(|board| board.config().integration_branch.clone());
            let recovered = match Worktrees::open(workspace, &branch).await {
                Ok(worktrees) => worktrees.recover().await,
                Err(err) => Err(err),
            };
            if let Err(err) = recovered {
                tracing::warn!("tidying the worktrees an earlier daemon left: {err}");
            }
        }
        let lost = orchestrator.read(Board::supervised);
        for id in lost {
            let reason = "the daemon stopped while its agent worked; it goes back to the queue";
            let _ = orchestrator
                .apply(|board, now| board.release(&id, reason, now))
                .await;
        }
        let runtime = Arc::new(Runtime {
            orchestrator: orchestrator.clone(),
            workspace: workspace.clone(),
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            last_start: tokio::sync::Mutex::new(tokio::time::Instant::now() - STAGGER),
        });
        tokio::spawn(runtime.clone().dispatch_loop());
        tokio::spawn(runtime.clone().watch_tasks());
        if orchestrator.read(Board::is_running) {
            tracing::info!("resuming the run that was going when the daemon stopped");
            let resumed = runtime
                .begin(RunMode::Predefined, ConfigPatch::default(), None)
                .await;
            if let Err(err) = resumed {
                tracing::warn!("the run that was going does not resume: {err}");
                let _ = orchestrator
                    .apply(|board, now| Ok(((), board.set_running(false, now))))
                    .await;
            }
        }
        runtime
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("runtime lock")
    }

    /// Starts a run with `overrides` over the configuration for this run only, whose
    /// agents get `env` (the daemon's own environment when absent); with `wait`,
    /// answers its result when it ends.
    pub async fn run(
        self: &Arc<Self>,
        mode: RunMode,
        wait: bool,
        overrides: ConfigPatch,
        env: Option<AgentEnv>,
    ) -> Result<Option<RunResult>, BatonError> {
        let mut result = self.begin(mode, overrides, env).await?;
        if !wait {
            return Ok(None);
        }
        let finished = result
            .wait_for(Option::is_some)
            .await
            .map_err(|_| BatonError::orchestration("the daemon stopped before the run ended"))?;
        Ok(finished.clone())
    }

    async fn begin(
        self: &Arc<Self>,
        mode: RunMode,
        overrides: ConfigPatch,
        env: Option<AgentEnv>,
    ) -> Result<watch::Receiver<Option<RunResult>>, BatonError> {
        self.check_overrides(&overrides)?;
        let goal = self.orchestrator.read(|board| board.goal().to_owned());
        if mode.plans() && goal.trim().is_empty() {
            return Err(BatonError::invalid(
                "there is no goal to plan; give one (`baton run \"GOAL\"` or `baton init GOAL`)",
            )
            .with_cause(ErrorCause::NoGoal));
        }
        if self.is_busy() {
            return Err(already_running());
        }
        if mode == RunMode::Predefined && self.orchestrator.read(waiting) == 0 {
            return Err(BatonError::orchestration(
                "nothing to run: no task waits; `baton add` adds one, `baton retry ID` reopens a failed one",
            ));
        }
        let isolation = self.isolation().await?;
        let notes = match &isolation {
            Isolation::Worktrees(worktrees) => worktrees
                .start_from_checkout()
                .await
                .map_err(worktree_error)?,
            Isolation::Shared => Vec::new(),
        };
        let (finished_before, discoveries_before) = self.orchestrator.read(|board| {
            let finished = board
                .tasks(None)
                .into_iter()
                .filter(|task| task.status.is_finished())
                .map(|task| (task.id, task.status))
                .collect();
            (finished, board.discoveries().len())
        });
        let (sender, receiver) = watch::channel(None);
        {
            let mut state = self.state();
            if state.run.is_some() {
                return Err(already_running());
            }
            state.run = Some(Run {
                mode,
                overrides,
                isolation,
                finished_before,
                discoveries_before,
                goal: goal.clone(),
                started_at: Utc::now(),
                cost_usd: 0.0,
                paused_until: None,
                stopped: None,
                leader_running: mode.plans(),
                leader_error: None,
                finishing: false,
                env,
                result: sender,
            });
        }
        // A plan is not resumed by a restarted daemon: that would start workers.
        if mode != RunMode::Plan {
            self.orchestrator
                .apply(|board, now| Ok(((), board.set_running(true, now))))
                .await?;
        }
        self.orchestrator
            .announce(vec![Event::RunStarted(RunStarted { mode, goal, notes })]);
        if mode.plans() {
            tokio::spawn(self.clone().lead());
        }
        self.wake.notify_one();
        Ok(receiver)
    }

    /// Refuses settings for one run that are bad, or that only make sense for the
    /// workspace (its isolation and integration branch outlive a run).
    pub fn check_overrides(&self, overrides: &ConfigPatch) -> Result<(), BatonError> {
        if overrides.isolation.is_some() || overrides.integration_branch.is_some() {
            return Err(BatonError::invalid(
                "isolation and integration_branch cannot be set for one run; they belong to the workspace's configuration",
            ));
        }
        self.orchestrator
            .read(|board| crate::core::patched_config(board.config(), overrides))
            .map(drop)
    }

    /// The configuration the run goes by: the workspace's, with the run's overrides.
    fn config(&self) -> Config {
        let config = self.orchestrator.read(|board| board.config().clone());
        let state = self.state();
        match state.run.as_ref() {
            // Checked when the run began; a later change of the workspace's
            // configuration that clashes with them leaves the workspace's.
            Some(run) => crate::core::patched_config(&config, &run.overrides).unwrap_or(config),
            None => config,
        }
    }

    /// The configuration a task's agent goes by: the run's, with the task's model.
    fn task_config(&self, task: &Task) -> Config {
        let mut config = self.config();
        if let Some(model) = &task.model {
            config.model = model.clone();
        }
        config
    }

    /// The run's isolation, as configured (by default worktrees in a git repository),
    /// checked before anything starts.
    async fn isolation(&self) -> Result<Isolation, BatonError> {
        let config = self.orchestrator.read(|board| board.config().clone());
        let in_git = self.workspace.root().join(".git").exists();
        match config.isolation {
            Some(baton_protocol::Isolation::Shared) => Ok(Isolation::Shared),
            None if !in_git => Ok(Isolation::Shared),
            _ => Worktrees::open(&self.workspace, &config.integration_branch)
                .await
                .map(|worktrees| Isolation::Worktrees(Arc::new(worktrees)))
                .map_err(worktree_error),
        }
    }

    /// Brings the integration branch into the user's current branch; says so when
    /// there is nothing to merge, changing nothing.
    pub async fn merge(&self) -> Result<String, BatonError> {
        let branch = self
            .orchestrator
            .read(|board| board.config().integration_branch.clone());
        if !self.workspace.root().join(".git").exists() {
            return Ok(
                "nothing to merge: this workspace is not a git repository, so agents \
                       work in it directly and their changes are already there"
                    .into(),
            );
        }
        let exists = Worktrees::has_branch(self.workspace.root(), &branch)
            .await
            .map_err(|err| BatonError::invalid(err.to_string()))?;
        if !exists {
            return Ok(format!(
                "nothing to merge: there is no {branch} branch yet; a run makes it"
            ));
        }
        let worktrees = Worktrees::open(&self.workspace, &branch)
            .await
            .map_err(worktree_error)?;
        worktrees
            .merge_into_checkout()
            .await
            .map_err(|err| BatonError::orchestration(err.to_string()))
    }

    /// Removes the branches of merged tasks and the idle checkouts; with `all`, the
    /// branches of failed and cancelled tasks too. A task that has not finished
    /// keeps its branch. Refused while a run goes.
    pub async fn clean(&self, all: bool) -> Result<m::CleanResult, BatonError> {
        if self.is_busy() {
            return Err(already_running());
        }
        let branch = self
            .orchestrator
            .read(|board| board.config().integration_branch.clone());
        let in_git = self.workspace.root().join(".git").exists();
        if !in_git
            || !Worktrees::has_branch(self.workspace.root(), &branch)
                .await
                .map_err(worktree_error)?
        {
            return Ok(m::CleanResult::default());
        }
        let worktrees = Worktrees::open(&self.workspace, &branch)
            .await
            .map_err(worktree_error)?;
        let statuses: HashMap<TaskId, TaskStatus> = self.orchestrator.read(|board| {
            board
                .tasks(None)
                .into_iter()
                .map(|task| (task.id, task.status))
                .collect()
        });
        let removable = |task: &TaskId, merged: bool| match statuses.get(task) {
            Some(TaskStatus::Done) => merged,
            Some(TaskStatus::Failed | TaskStatus::Cancelled) => all,
            Some(_) => false,
            // A task of an archived board.
            None => merged || all,
        };
        let (branches, checkouts) = worktrees
            .clean(removable)
            .await
            .map_err(|err| BatonError::orchestration(err.to_string()))?;
        Ok(m::CleanResult {
            branches,
            checkouts,
        })
    }

    /// Stops the run: no more dispatch, every agent ended, their tasks back in the queue.
    pub async fn stop(&self, why: &str) {
        {
            let mut state = self.state();
            if let Some(run) = state.run.as_mut() {
                run.stopped.get_or_insert_with(|| why.to_owned());
            }
            for agent in state.agents.values() {
                let _ = agent.stop.send(true);
            }
        }
        self.wake.notify_one();
        let _ = self
            .orchestrator
            .apply(|board, now| Ok(((), board.set_running(false, now))))
            .await;
    }

    /// Ends every agent before the daemon goes, and waits until their tasks are back
    /// in the queue.
    pub async fn shut_down(&self) {
        self.stop("the daemon stopped").await;
        let mut waited = 0;
        while !self.state().agents.is_empty() && waited < 100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
    }

    /// Adds what the runtime knows to a status: what each agent does and costs, and
    /// the run.
    pub fn decorate(&self, status: &mut Status) {
        let state = self.state();
        for (id, agent) in &state.agents {
            let shown = AgentStatus {
                id: id.clone(),
                task: agent.task.clone(),
                since: Some(agent.since),
                activity: agent.activity.clone(),
                cost_usd: agent.cost_usd,
            };
            let same = |known: &&mut AgentStatus| &known.id == id && known.task == agent.task;
            match status.agents.iter_mut().find(same) {
                Some(known) => *known = shown,
                None => status.agents.push(shown),
            }
        }
        let workers = state.agents.keys().any(|id| id.starts_with("worker-"));
        status.run = state.run.as_ref().map(|run| RunStatus {
            mode: run.mode,
            phase: match (run.finishing, run.leader_running && !workers) {
                (true, _) => RunPhase::Summarising,
                (false, true) => RunPhase::Planning,
                (false, false) => RunPhase::Working,
            },
            started_at: run.started_at,
            cost_usd: run.cost_usd,
            paused_until: run.paused_until,
            stopped: run.stopped.clone(),
        });
        status.last_run = state.last_run.clone();
    }

    /// How many agents run now.
    pub fn agents_running(&self) -> usize {
        self.state().agents.len()
    }

    /// Whether a run is going, so that loading another state must wait.
    pub fn is_busy(&self) -> bool {
        self.state().run.is_some()
    }

    /// Cancels follow the task: a cancelled task's agent is ended at once. Task
    /// changes also wake the dispatcher.
    async fn watch_tasks(self: Arc<Self>) {
        let mut events = self.orchestrator.subscribe();
        loop {
            let batch = match events.recv().await {
                Ok(batch) => batch,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    self.wake.notify_one();
                    continue;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            for event in batch.iter() {
                // A cancel ends the agent at once; a task its own agent gave up on
                // (fail_task) lets the agent finish its answer.
                if let Event::TaskFailed(task) = event {
                    if task.status != TaskStatus::Cancelled {
                        continue;
                    }
                    let state = self.state();
                    let running = state
                        .agents
                        .values()
                        .find(|agent| agent.task.as_ref() == Some(&task.id));
                    if let Some(agent) = running {
                        let _ = agent.stop.send(true);
                    }
                }
            }
            self.wake.notify_one();
        }
    }

    async fn dispatch_loop(self: Arc<Self>) {
        loop {
            let pause = self.state().run.as_ref().and_then(|run| run.paused_until);
            match pause.map(|until| (until - Utc::now()).to_std().unwrap_or_default()) {
                Some(wait) if !wait.is_zero() => {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = self.wake.notified() => {}
                    }
                }
                _ => self.wake.notified().await,
            }
            self.dispatch().await;
            self.finish_if_done().await;
        }
    }

    /// Hands ready tasks to free workers.
    async fn dispatch(self: &Arc<Self>) {
        loop {
            let max_workers = self.config().max_workers as usize;
            let (worker, busy) = {
                let mut guard = self.state();
                let state = &mut *guard;
                let Some(run) = state.run.as_mut() else {
                    return;
                };
                if run.stopped.is_some() || run.finishing || run.mode == RunMode::Plan {
                    return;
                }
                if let Some(until) = run.paused_until {
                    if until > Utc::now() {
                        return;
                    }
                    run.paused_until = None;
                }
                let working = state
                    .agents
                    .keys()
                    .filter(|id| id.starts_with("worker-"))
                    .count();
                if working >= max_workers {
                    return;
                }
                let busy = match run.isolation {
                    Isolation::Shared => state
                        .agents
                        .values()
                        .flat_map(|agent| agent.files.iter().cloned())
                        .collect(),
                    Isolation::Worktrees(_) => BTreeSet::new(),
                };
                let worker = (1..)
                    .map(|n| format!("worker-{n}"))
                    .find(|id| !state.agents.contains_key(id))
                    .expect("a free worker name");
                (worker, busy)
            };
            let claimed = self
                .orchestrator
                .apply(|board, now| board.claim_supervised(&worker, &busy, now))
                .await;
            let Ok(Some(task)) = claimed else { return };
            let stopped = self.enlist(&worker, Some(&task));
            tokio::spawn(self.clone().work(worker, task, stopped));
        }
    }

    /// Counts an agent as running; answers the signal that stops it, already given
    /// when the run was stopped while the agent was being set up.
    fn enlist(&self, agent_id: &str, task: Option<&Task>) -> watch::Receiver<bool> {
        let mut state = self.state();
        let stopping = state.run.as_ref().is_none_or(|run| run.stopped.is_some());
        let (stop, stopped) = watch::channel(stopping);
        state.agents.insert(
            agent_id.into(),
            Agent {
                task: task.map(|task| task.id.clone()),
                files: task
                    .map(|task| task.context.files.clone())
                    .unwrap_or_default(),
                since: Utc::now(),
                activity: None,
                cost_usd: 0.0,
                stop,
            },
        );
        stopped
    }

    /// One worker on one task, from start to the task's next state.
    async fn work(self: Arc<Self>, agent_id: String, task: Task, stopped: watch::Receiver<bool>) {
        let config = self.task_config(&task);
        let values = self
            .orchestrator
            .read(|board| worker_values(board, &task, &agent_id));
        let template = config.worker_prompt.as_deref().unwrap_or(prompts::WORKER);
        let prompt = prompts::render(template, &values);
        let mcp_path = self.write_mcp_config(&agent_id, Some(task.id.as_str()));
        let isolation = self.state().run.as_ref().map(|run| run.isolation.clone());
        let (cwd, before) = match &isolation {
            Some(Isolation::Worktrees(worktrees)) => match worktrees.prepare(&task.id).await {
                Ok(path) => (path, None),
                Err(err) => {
                    let reason = format!("its worktree could not be made: {err}");
                    let _ = self
                        .orchestrator
                        .apply(|board, now| board.fail(&task.id, &reason, now))
                        .await;
                    self.state().agents.remove(&agent_id);
                    self.wake.notify_one();
                    return;
                }
            },
            _ => (
                self.workspace.root().to_owned(),
                Some(self.snapshot().await),
            ),
        };
        let launch = Launch {
            program: config.agent_command.clone(),
            args: command::arguments(
                &config,
                Role::Worker {
                    resume: task.session_id.as_deref(),
                },
                &prompt,
                mcp_path.as_deref(),
            ),
            cwd,
            env: self.agent_environment(&agent_id, Some(&task.id)),
            log: self.workspace.task_log(&task.id),
            timeout: Duration::from_secs(config.task_timeout),
            run_id: format!(
                "{}:{agent_id}:{}:{}",
                std::process::id(),
                task.id,
                task.attempts
            ),
        };
        let _ = self
            .orchestrator
            .apply(|board, now| board.start_task(&task.id, now))
            .await;
        // A task whose daemon stopped past its agent's work goes on from its stage.
        let resumed = match &isolation {
            Some(Isolation::Worktrees(_)) => pipeline::resume_at(task.stage),
            _ => None,
        };
        let (mut ending, mut session_id) = match resumed {
            Some(_) => (
                Ending::Result {
                    result: AgentResult {
                        output: format!(
                            "(its agent's work was done; it went on from {} after the daemon stopped)",
                            task.stage.map_or("", |stage| stage.as_str())
                        ),
                        session_id: task.session_id.clone(),
                        ..AgentResult::default()
                    },
                    exit_code: Some(0),
                },
                task.session_id.clone(),
            ),
            None => {
                self.stagger().await;
                self.set_stage(&agent_id, &task, TaskStage::Working).await;
                self.activity(&agent_id, Some(&task.id), "started", "");
                self.supervise(&launch, &agent_id, Some(&task.id), stopped.clone())
                    .await
            }
        };
        if resumed.is_none() && task.session_id.is_some() && could_not_resume(&ending) {
            // A session cut off mid-write (its agent was killed) may not load: start
            // the task over rather than spend the attempt on nothing.
            tracing::warn!(
                "{}: its agent's session did not resume; starting over",
                task.id
            );
            let fresh = Launch {
                args: command::arguments(
                    &config,
                    Role::Worker { resume: None },
                    &prompt,
                    mcp_path.as_deref(),
                ),
                ..launch.clone()
            };
            (ending, session_id) = self
                .supervise(&fresh, &agent_id, Some(&task.id), stopped.clone())
                .await;
        }
        // A task its agent gave up on (fail_task), or that was cancelled, is not merged
        // whatever the agent answered last.
        let still_open = self.orchestrator.read(|board| {
            board
                .task(&task.id)
                .is_ok_and(|now| !now.status.is_finished())
        });
        let succeeded =
            still_open && matches!(&ending, Ending::Result { result, .. } if !result.is_error);
        let landed = match (&isolation, before) {
            (Some(Isolation::Worktrees(worktrees)), _) if succeeded => {
                let agent = gate::Resumable {
                    agent_id: &agent_id,
                    launch: &launch,
                    mcp_path: mcp_path.as_deref(),
                    stopped: stopped.clone(),
                };
                let first = resumed.unwrap_or(Step::BringIn);
                let gated = self
                    .gate(worktrees, &task, agent, first, ending, session_id)
                    .await;
                ending = gated.ending;
                session_id = gated.session_id;
                gated.landed
            }
            (Some(Isolation::Worktrees(worktrees)), _) => {
                if let Err(err) = worktrees.set_aside(&task.id).await {
                    tracing::warn!("setting {} aside: {err}", task.id);
                }
                Ok(Changes::default())
            }
            (_, Some(before)) => Ok(self.snapshot().await.changes_since(&before)),
            (_, None) => Ok(Changes::default()),
        };
        let why_stopped = self
            .state()
            .run
            .as_ref()
            .and_then(|run| run.stopped.clone());
        let integration = matches!(isolation, Some(Isolation::Worktrees(_)))
            .then_some(config.integration_branch.as_str());
        if let Some(line) = closing_line(&ending, succeeded, &landed, integration, why_stopped) {
            append_to_log(&launch.log, &line).await;
        }
        self.settle(&agent_id, &task, ending, landed, session_id, &config)
            .await;
        if let Some(path) = mcp_path {
            let _ = std::fs::remove_file(path);
        }
        self.state().agents.remove(&agent_id);
        self.wake.notify_one();
    }

    /// Runs one agent process, keeping its activity and the run's pause up to date.
    async fn supervise(
        &self,
        launch: &Launch,
        agent_id: &str,
        task: Option<&TaskId>,
        stopped: watch::Receiver<bool>,
    ) -> (Ending, Option<String>) {
        let mut session_id = None;
        let ending = process::run(launch, stopped, |event| match event {
            StreamEvent::Init { session_id: id } => session_id = Some(id),
            StreamEvent::Tool { name, detail } => {
                self.activity(agent_id, task, "tool", &format!("{name} {detail}"));
            }
            StreamEvent::Text(text) => self.activity(agent_id, task, "text", &clip(&text, 200)),
            StreamEvent::RateLimited { resets_at } => {
                self.pause(
                    agent_id,
                    task,
                    resets_at.unwrap_or_else(|| Utc::now() + DEFAULT_PAUSE),
                );
            }
            StreamEvent::Throttled { retry_in } => {
                let retry_in = chrono::Duration::from_std(retry_in).unwrap_or_default();
                self.pause(agent_id, task, Utc::now() + retry_in);
            }
            StreamEvent::Result(_) => {}
        })
        .await;
        (ending, session_id)
    }

    /// Holds dispatch until `until` (running agents go on: Claude Code retries for
    /// them), keeping the later of two pauses.
    fn pause(&self, agent_id: &str, task: Option<&TaskId>, until: DateTime<Utc>) {
        let until = {
            let mut state = self.state();
            let Some(run) = state.run.as_mut() else {
                return;
            };
            let until = run.paused_until.map_or(until, |known| known.max(until));
            run.paused_until = Some(until);
            until
        };
        let text = format!(
            "rate limited; no agent starts before {}",
            until.format("%H:%M:%S UTC")
        );
        self.activity(agent_id, task, "rate_limited", &text);
        self.wake.notify_one();
    }

    /// Records the attempt and moves the task on: done, back in the queue, or failed.
    async fn settle(
        &self,
        agent_id: &str,
        task: &Task,
        ending: Ending,
        landed: Result<Changes, String>,
        session_id: Option<String>,
        config: &baton_protocol::Config,
    ) {
        let Some(now_task) = self.record(agent_id, &task.id, &ending, session_id).await else {
            return;
        };
        self.activity(agent_id, Some(&task.id), "finished", "");
        if now_task.status.is_finished() {
            // The agent gave up with fail_task, or the task was cancelled.
            return;
        }
        let reason = match ending {
            Ending::Result { result, .. } if !result.is_error => {
                let changes = match landed {
                    Ok(changes) => changes,
                    Err(conflict) => {
                        let _ = self.orchestrator.apply(|board, now| board.fail(&task.id, &conflict, now)).await;
                        return;
                    }
                };
                let output = TaskResult {
                    output: result.output,
                    files_modified: changes.modified,
                    files_created: changes.created,
                    ..TaskResult::default()
                };
                let _ = self
                    .orchestrator
                    .apply(|board, now| board.complete(&task.id, output, now))
                    .await;
                return;
            }
            Ending::Result { result, .. } => result.failure(),
            Ending::Fault(reason) if reason.contains(".claude.json") => format!(
                "{reason}; Claude Code's ~/.claude.json looks damaged (agents that start at \
                 the same moment can do that): check that it is valid JSON, then retry"
            ),
            Ending::Fault(reason) => reason,
            Ending::TimedOut => format!(
                "TimeoutError: the agent ran past task_timeout ({} s); it and everything it started were ended",
                config.task_timeout
            ),
            Ending::Stopped => {
                let why = self
                    .state()
                    .run
                    .as_ref()
                    .and_then(|run| run.stopped.clone())
                    .unwrap_or_else(|| "the run stopped".into());
                let _ = self
                    .orchestrator
                    .apply(|board, now| board.release(&task.id, &format!("{why} before it finished"), now))
                    .await;
                return;
            }
        };
        let over_budget = config
            .task_budget_usd
            .is_some_and(|budget| now_task.usage.cost_usd >= budget);
        let retry = now_task.attempts < config.max_attempts && !over_budget;
        let _ = if retry {
            self.orchestrator
                .apply(|board, now| board.release(&task.id, &reason, now))
                .await
        } else if over_budget {
            let reason = format!(
                "{reason}; its budget (task_budget_usd ${:.2}) is spent",
                config.task_budget_usd.unwrap_or_default()
            );
            self.orchestrator
                .apply(|board, now| board.fail(&task.id, &reason, now))
                .await
        } else {
            self.orchestrator
                .apply(|board, now| board.fail(&task.id, &reason, now))
                .await
        };
    }

    /// Records what one turn of a task's agent cost and where its session is; answers
    /// the task as it is then.
    async fn record(
        &self,
        agent_id: &str,
        task: &TaskId,
        ending: &Ending,
        session_id: Option<String>,
    ) -> Option<Task> {
        let attempt = match ending {
            Ending::Result { result, .. } => Attempt {
                usage: result.usage.clone(),
                session_id: result.session_id.clone().or(session_id),
                permission_denials: result.permission_denials.clone(),
            },
            _ => Attempt {
                session_id,
                ..Attempt::default()
            },
        };
        self.spend(agent_id, &attempt.usage);
        self.orchestrator
            .apply(|board, now| board.record_attempt(task, attempt, now))
            .await
            .ok()
    }

    /// Adds an attempt's cost to its agent and the run; stops the run at its budget.
    fn spend(&self, agent_id: &str, usage: &Usage) {
        let budget = self.config().run_budget_usd;
        let mut state = self.state();
        if let Some(agent) = state.agents.get_mut(agent_id) {
            agent.cost_usd += usage.cost_usd;
        }
        let Some(run) = state.run.as_mut() else {
            return;
        };
        run.cost_usd += usage.cost_usd;
        if let Some(budget) = budget.filter(|budget| run.cost_usd >= *budget) {
            run.stopped.get_or_insert_with(|| {
                format!("the run's budget (run_budget_usd ${budget:.2}) is spent")
            });
            for agent in state.agents.values() {
                let _ = agent.stop.send(true);
            }
        }
    }

    /// The leader plans the goal into tasks.
    async fn lead(self: Arc<Self>) {
        let agent_id = "leader";
        let config = self.config();
        let values = self.orchestrator.read(|board| PromptValues {
            goal: board.goal().to_owned(),
            master_plan: board.state().master_plan,
            tasks: task_lines(&board.tasks(None)),
            agent_id: agent_id.into(),
            ..PromptValues::default()
        });
        let template = config.leader_prompt.as_deref().unwrap_or(prompts::LEADER);
        let prompt = prompts::render(template, &values);
        let mcp_path = self.write_mcp_config(agent_id, None);
        let stopped = self.enlist(agent_id, None);
        let launch = Launch {
            program: config.agent_command.clone(),
            args: command::arguments(&config, Role::Leader, &prompt, mcp_path.as_deref()),
            cwd: self.workspace.root().to_owned(),
            env: self.agent_environment(agent_id, None),
            log: self.workspace.leader_log(),
            timeout: Duration::from_secs(config.task_timeout),
            run_id: format!(
                "{}:leader:{}",
                std::process::id(),
                Utc::now().timestamp_millis()
            ),
        };
        let tasks_before = self.orchestrator.read(|board| board.counts().total());
        self.stagger().await;
        self.activity(agent_id, None, "started", "planning");
        let (ending, _) = self.supervise(&launch, agent_id, None, stopped).await;
        if let Ending::Result { result, .. } = &ending {
            self.spend(agent_id, &result.usage);
        }
        let failure = match ending {
            Ending::Result { result, .. } if !result.is_error => None,
            Ending::Result { result, .. } => Some(format!("the leader: {}", result.failure())),
            Ending::Fault(reason) => Some(reason),
            Ending::TimedOut => Some("the leader ran past task_timeout".into()),
            Ending::Stopped => None,
        };
        let planned = self.orchestrator.read(|board| board.counts().total()) > tasks_before;
        if let Some(reason) = &failure {
            tracing::warn!("leader: {reason}");
        }
        self.activity(agent_id, None, "finished", "");
        if let Some(path) = mcp_path {
            let _ = std::fs::remove_file(path);
        }
        {
            let mut state = self.state();
            state.agents.remove(agent_id);
            if let Some(run) = state.run.as_mut() {
                run.leader_running = false;
                if !planned {
                    run.leader_error = failure.or(Some("the leader added no tasks".into()));
                }
            }
        }
        self.wake.notify_one();
    }

    /// Ends the run when nothing is left to do: writes the summary, announces the
    /// result and answers whoever waits for it.
    async fn finish_if_done(&self) {
        let counts = self.orchestrator.read(Board::counts);
        let (goal, mode, leader_error, stopped) = {
            let mut state = self.state();
            let agents_running = !state.agents.is_empty();
            let Some(run) = state.run.as_mut() else {
                return;
            };
            let work_left = counts.available + counts.claimed + counts.in_progress > 0;
            let done = !agents_running
                && !run.leader_running
                && !run.finishing
                && (run.stopped.is_some() || !work_left || run.mode == RunMode::Plan);
            if !done {
                return;
            }
            run.finishing = true;
            (
                run.goal.clone(),
                run.mode,
                run.leader_error.clone(),
                run.stopped.clone(),
            )
        };
        let tasks: Vec<Task> = {
            let state = self.state();
            let Some(run) = state.run.as_ref() else {
                return;
            };
            self.orchestrator
                .read(|board| board.tasks(None))
                .into_iter()
                .filter(|task| {
                    task.status.is_finished()
                        && run.finished_before.get(&task.id) != Some(&task.status)
                })
                .collect()
        };
        let summary = match (&stopped, &leader_error) {
            (Some(why), _) => {
                let left = counts.available + counts.claimed + counts.in_progress;
                format!(
                    "Stopped: {why}; {left} task(s) wait for the next run.\n{}",
                    plain_summary(&tasks)
                )
            }
            (None, Some(error)) if tasks.is_empty() => format!("Nothing was done: {error}."),
            _ if mode == RunMode::Plan => {
                let planned = self.orchestrator.read(|board| {
                    board
                        .tasks(None)
                        .into_iter()
                        .filter(|task| !task.status.is_finished())
                        .collect::<Vec<_>>()
                });
                format!(
                    "Planned {} task(s); no worker started. `baton tasks` lists them, `baton edit` \
                     changes one, `baton run --predefined` runs them.\n{}",
                    planned.len(),
                    task_lines(&planned)
                )
            }
            _ => self.summarize(&goal, &tasks).await,
        };
        let discoveries = self.orchestrator.read(|board| board.discoveries().len());
        let _ = self
            .orchestrator
            .apply(|board, now| Ok(((), board.set_running(false, now))))
            .await;
        let mut state = self.state();
        let Some(run) = state.run.take() else { return };
        let result = RunResult {
            goal,
            tasks_completed: count(&tasks, TaskStatus::Done),
            tasks_failed: count(&tasks, TaskStatus::Failed),
            discoveries: discoveries.saturating_sub(run.discoveries_before),
            summary,
            cost_usd: run.cost_usd,
        };
        tracing::info!(
            ?mode,
            completed = result.tasks_completed,
            failed = result.tasks_failed,
            "run finished"
        );
        self.orchestrator
            .announce(vec![Event::RunFinished(result.clone())]);
        state.last_run = Some(result.clone());
        let _ = run.result.send(Some(result));
    }

    /// The leader's summary of the run, or a plain one when that fails.
    async fn summarize(&self, goal: &str, tasks: &[Task]) -> String {
        let config = self.config();
        let values = PromptValues {
            goal: goal.to_owned(),
            tasks: task_lines(tasks),
            ..PromptValues::default()
        };
        let launch = Launch {
            program: config.agent_command.clone(),
            args: command::arguments(
                &config,
                Role::Summary,
                &prompts::render(prompts::SUMMARY, &values),
                None,
            ),
            cwd: self.workspace.root().to_owned(),
            env: self.agent_environment("leader", None),
            log: self.workspace.summary_log(),
            timeout: SUMMARY_TIMEOUT.min(Duration::from_secs(config.task_timeout)),
            run_id: format!(
                "{}:summary:{}",
                std::process::id(),
                Utc::now().timestamp_millis()
            ),
        };
        self.stagger().await;
        let (_, never) = watch::channel(false);
        match process::run(&launch, never, |_| {}).await {
            Ending::Result { result, .. }
                if !result.is_error && !result.output.trim().is_empty() =>
            {
                if let Some(run) = self.state().run.as_mut() {
                    run.cost_usd += result.usage.cost_usd;
                }
                result.output
            }
            ending => {
                tracing::warn!(
                    "the summary agent did not answer ({ending:?}); writing a plain summary"
                );
                plain_summary(tasks)
            }
        }
    }

    /// The workspace's files as they are now, for shared isolation.
    async fn snapshot(&self) -> Snapshot {
        let root = self.workspace.root().to_owned();
        tokio::task::spawn_blocking(move || Snapshot::take(&root))
            .await
            .unwrap_or_default()
    }

    /// Waits so that no two agents start within STAGGER of each other.
    async fn stagger(&self) {
        let mut last = self.last_start.lock().await;
        tokio::time::sleep_until(*last + STAGGER).await;
        *last = tokio::time::Instant::now();
    }

    fn activity(&self, agent_id: &str, task: Option<&TaskId>, kind: &str, text: &str) {
        if matches!(kind, "tool" | "text") {
            if let Some(agent) = self.state().agents.get_mut(agent_id) {
                agent.activity = Some(clip(text, 200));
            }
        }
        self.orchestrator
            .announce(vec![Event::AgentActivity(AgentActivity {
                agent_id: agent_id.into(),
                task_id: task.cloned(),
                kind: kind.into(),
                text: text.into(),
            })]);
    }

    fn write_mcp_config(&self, agent_id: &str, task: Option<&str>) -> Option<PathBuf> {
        let dir = self.workspace.agents_dir();
        let path = self.workspace.mcp_config(agent_id);
        let config =
            command::mcp_config(&command::baton_cli(), self.workspace.root(), agent_id, task);
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            std::fs::write(&path, serde_json::to_vec_pretty(&config).expect("JSON"))
        });
        match written {
            Ok(()) => Some(path),
            Err(err) => {
                tracing::warn!(
                    "cannot write {}: {err}; the agent runs without baton's tools",
                    path.display()
                );
                None
            }
        }
    }

    /// One agent's environment, with the variables the run's client sent.
    fn agent_environment(&self, agent_id: &str, task: Option<&TaskId>) -> Environment {
        let state = self.state();
        let client = state.run.as_ref().and_then(|run| run.env.as_ref());
        command::environment(
            self.workspace.root(),
            agent_id,
            task.map(TaskId::as_str),
            client,
        )
    }

    /// Where a task's agent log is: every attempt's stream, one event per line.
    pub fn task_log(&self, task: &TaskId) -> PathBuf {
        self.workspace.task_log(task)
    }
}

/// The line baton adds to a task's log after an attempt, so that the log says how
/// the attempt ended even when the agent could not (stopped, timed out, killed), and
/// whether its work was merged: `{"type": "baton", "subtype": …, "text": …}`.
fn closing_line(
    ending: &Ending,
    succeeded: bool,
    landed: &Result<Changes, String>,
    integration: Option<&str>,
    why_stopped: Option<String>,
) -> Option<serde_json::Value> {
    let (subtype, text) = match ending {
        Ending::Result { .. } if succeeded => match (landed, integration) {
            (Ok(changes), Some(branch)) => (
                "merged",
                format!(
                    "into {branch}: {} file(s) modified, {} created",
                    changes.modified.len(),
                    changes.created.len()
                ),
            ),
            (Err(conflict), _) => ("conflict", conflict.clone()),
            (Ok(_), None) => return None,
        },
        Ending::Result { .. } => return None,
        Ending::Stopped => (
            "stopped",
            why_stopped.unwrap_or_else(|| "the task was cancelled".to_owned()),
        ),
        Ending::TimedOut => (
            "timed_out",
            "the attempt ran past task_timeout; the agent and everything it started were ended"
                .to_owned(),
        ),
        Ending::Fault(reason) => ("ended", reason.clone()),
    };
    Some(serde_json::json!({ "type": "baton", "subtype": subtype, "text": text }))
}

/// Appends one line to an agent's log; a log that cannot be written loses the line,
/// never the task.
async fn append_to_log(path: &std::path::Path, line: &serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .await;
    let written = match file {
        Ok(mut file) => file.write_all(format!("{line}\n").as_bytes()).await,
        Err(err) => Err(err),
    };
    if let Err(err) = written {
        tracing::warn!("cannot add to the log {}: {err}", path.display());
    }
}

fn worker_values(board: &Board, task: &Task, agent_id: &str) -> PromptValues {
    let dependencies = task
        .dependencies
        .iter()
        .filter_map(|id| board.task(id).ok())
        .map(|dependency| {
            let output = dependency
                .result
                .as_ref()
                .map(|result| result.output.as_str())
                .unwrap_or("");
            format!(
                "- {} {}\n  Result: {}",
                dependency.id,
                dependency.description,
                output.trim()
            )
        })
        .collect::<Vec<_>>();
    let discoveries = board
        .discoveries()
        .iter()
        .map(|found| {
            format!(
                "- {} (by {}): {}",
                found.tags.join(", "),
                found.agent_id,
                found.content
            )
        })
        .collect::<Vec<_>>();
    let state = board.state();
    PromptValues {
        goal: state.goal,
        master_plan: or_none(state.master_plan),
        task_id: task.id.to_string(),
        description: task.description.clone(),
        hints: or_none(task.context.hints.clone()),
        context_files: or_none(task.context.files.join(", ")),
        dependencies: or_none(dependencies.join("\n")),
        discoveries: or_none(discoveries.join("\n")),
        agent_id: agent_id.into(),
        tasks: String::new(),
    }
}

/// Claude Code ended at once with an error, before a single turn: what a session
/// that cannot be resumed looks like.
fn could_not_resume(ending: &Ending) -> bool {
    matches!(ending, Ending::Result { result, .. } if result.is_error && result.usage.turns == 0)
}

/// A worktree error as the client sees it, saying when the workspace is no git
/// repository (so an editor can offer shared isolation rather than a command).
fn worktree_error(err: WorktreeError) -> BatonError {
    let not_git = matches!(err, WorktreeError::NotARepository(_));
    let error = BatonError::invalid(err.to_string());
    if not_git {
        error.with_cause(ErrorCause::NotAGitRepository)
    } else {
        error
    }
}

/// The error for a second run while one goes.
pub fn already_running() -> BatonError {
    BatonError::orchestration(
        "a run is already going; `baton status` shows it, `baton stop` ends it",
    )
    .with_cause(ErrorCause::RunGoing)
}

fn or_none(text: String) -> String {
    if text.trim().is_empty() {
        "(none)".into()
    } else {
        text
    }
}

fn task_lines(tasks: &[Task]) -> String {
    if tasks.is_empty() {
        return "(none)".into();
    }
    tasks
        .iter()
        .map(|task| {
            let outcome = task.result.as_ref().map(|result| match &result.error {
                Some(error) => format!(" — {}", clip(error, 200)),
                None => format!(" — {}", clip(&result.output, 200)),
            });
            format!(
                "- {} [{}] p{} {}{}",
                task.id,
                task.status,
                task.priority,
                clip(&task.description, 200),
                outcome.unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How many tasks have not finished: waiting, claimed or in progress.
pub fn waiting(board: &Board) -> usize {
    let counts = board.counts();
    counts.available + counts.claimed + counts.in_progress
}

fn count(tasks: &[Task], status: TaskStatus) -> usize {
    tasks.iter().filter(|task| task.status == status).count()
}

/// A summary without a model: what was done and what failed.
fn plain_summary(tasks: &[Task]) -> String {
    let done = count(tasks, TaskStatus::Done);
    let failed: Vec<String> = tasks
        .iter()
        .filter(|task| task.status == TaskStatus::Failed)
        .map(|task| {
            let error = task
                .result
                .as_ref()
                .and_then(|result| result.error.as_deref())
                .unwrap_or("no reason given");
            format!("- {}: {}", task.id, clip(error, 200))
        })
        .collect();
    let mut text = format!("{done} task(s) done.");
    if !failed.is_empty() {
        text.push_str(&format!("\nFailed:\n{}", failed.join("\n")));
    }
    text
}
