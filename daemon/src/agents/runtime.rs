//! The agent runtime: carries out the run's decisions (`core::run`, held on the board)
//! with real Claude Code agents.
//!
//! One actor owns the live run. Its loop is fed a closed set of events (`Event`): a
//! run to start, tasks that changed, an agent that ended, the end of a pause, a
//! budget crossed, a stop, the shutdown. Every agent (workers, the leader, the
//! summary) is a task in one `JoinSet`, and the loop hears of each end. Which task
//! goes to which worker, how an attempt settles, whether a budget is spent and when
//! the run is over are the core's decisions; here they become worktrees, processes
//! and files (`agent` is one agent's life). Faults end a task, never the run or the
//! daemon.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use baton_protocol::methods::{self as m, RunParams};
use baton_protocol::{
    AgentEnv, BatonError, ErrorCause, Event as Notification, RunResult, Status, TaskId, TaskStatus,
    Workspace,
};
use chrono::Utc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use super::agent::{lead, summarise, work, Context};
use super::worktrees::{WorktreeError, Worktrees};
use super::{attempt_log, report};
use crate::core::run::{self, LEADER, SUMMARY};
use crate::core::{validate, Board, Events, Finished, RunStart};
use crate::orchestrator::{Operation, Orchestrator};

mod branches;
mod changes;

/// Where the run's agents work.
#[derive(Clone)]
pub(super) enum Isolation {
    /// Each task in its own worktree and branch, merged back when done.
    Worktrees(Arc<Worktrees>),
    /// All in the workspace itself; tasks naming the same files never run at once.
    Shared,
}

impl Isolation {
    fn kind(&self) -> run::Isolation {
        match self {
            Isolation::Worktrees(_) => run::Isolation::Worktrees,
            Isolation::Shared => run::Isolation::Shared,
        }
    }
}

/// The answer to a run's start: its result, once it ends.
type RunEnd = watch::Receiver<Option<RunResult>>;

/// Everything that makes the actor act: a closed set.
pub(super) enum Event {
    Start(Box<StartRequest>),
    /// Tasks changed (none when this actor fell behind and missed some).
    Tasks(Option<Arc<Operation>>),
    AgentEnded(Ended),
    /// A pause was set or is over: dispatch looks again.
    Timer,
    /// A budget was crossed; `None` stops every agent, else only that one.
    Halt(Option<String>),
    Stop {
        why: String,
        reply: oneshot::Sender<()>,
    },
    /// `baton clean`, refused while a run goes.
    Clean {
        all: bool,
        reply: oneshot::Sender<Result<m::CleanResult, BatonError>>,
    },
    Shutdown,
}

/// A run to start, with the isolation already opened for it.
pub(super) struct StartRequest {
    start: RunStart,
    isolation: Isolation,
    /// The variables the client sent for the run's agents; kept in memory only.
    env: Option<AgentEnv>,
    reply: oneshot::Sender<Result<RunEnd, BatonError>>,
}

/// How an agent task ended, as the actor hears it.
pub(super) enum Ended {
    /// A worker or the leader: what it did is on the board already.
    Agent,
    Summary {
        finished: Finished,
        summary: String,
    },
}

/// The runtime of one workspace: a handle on its actor.
pub struct Runtime {
    context: Arc<Context>,
    actor: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Runtime {
    /// Starts the runtime: ends what a previous daemon's agents left running, puts
    /// their tasks back in the queue, and resumes a run that was going.
    pub async fn start(orchestrator: Arc<Orchestrator>, workspace: &Workspace) -> Arc<Runtime> {
        let left = super::end_agents_of(workspace.root());
        if left > 0 {
            tracing::warn!("ended {left} agent processes left by an earlier daemon");
        }
        // Each agent's MCP configuration and own Claude Code configuration (a copy
        // of the user's, which may hold a saved key): an earlier daemon that was
        // killed could not remove them, and no agent runs now to need them.
        match std::fs::remove_dir_all(workspace.agents_dir()) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => tracing::warn!("cannot remove what earlier agents left: {err}"),
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
        let spent = attempt_log::spent_by_lost_agents(&orchestrator, workspace);
        let _ = orchestrator
            .apply(|board, now| Ok(((), board.end_lost_attempts(&spent, now))))
            .await;
        let lost = orchestrator.read(Board::supervised);
        for id in lost {
            let reason = "the daemon stopped while its agent worked; it goes back to the queue";
            let _ = orchestrator
                .apply(|board, now| board.release(&id, reason, now))
                .await;
        }
        let (events, inbox) = mpsc::unbounded_channel();
        let context = Arc::new(Context {
            orchestrator: orchestrator.clone(),
            workspace: workspace.clone(),
            activity: Mutex::new(BTreeMap::new()),
            env: Mutex::new(None),
            events,
        });
        let actor = Actor {
            context: context.clone(),
            inbox,
            tasks: None,
            agents: JoinSet::new(),
            stops: BTreeMap::new(),
            isolation: None,
            result: None,
            stopping: Vec::new(),
            shutting_down: false,
        };
        let runtime = Arc::new(Runtime {
            context,
            actor: tokio::sync::Mutex::new(Some(tokio::spawn(actor.run()))),
        });
        if orchestrator.read(Board::is_running) {
            tracing::info!("resuming the run that was going when the daemon stopped");
            let resumed = runtime.begin(RunParams::predefined(), Vec::new()).await;
            if let Err(err) = resumed {
                tracing::warn!("the run that was going does not resume: {err}");
                let _ = orchestrator
                    .apply(|board, now| Ok(((), board.set_running(false, now))))
                    .await;
            }
        }
        runtime
    }

    /// Starts a run, with a new goal if one is given and overrides over the
    /// configuration for this run only, whose agents get the environment given (the
    /// daemon's own when absent); when asked to wait, answers its result when it
    /// ends. `notes` go first among what its start says (the board a new goal
    /// archived).
    pub async fn run(
        &self,
        params: RunParams,
        notes: Vec<String>,
    ) -> Result<Option<RunResult>, BatonError> {
        let wait = params.wait;
        let mut result = self.begin(params, notes).await?;
        if !wait {
            return Ok(None);
        }
        let finished = result
            .wait_for(Option::is_some)
            .await
            .map_err(|_| BatonError::orchestration("the daemon stopped before the run ended"))?;
        Ok(finished.clone())
    }

    async fn begin(&self, params: RunParams, mut notes: Vec<String>) -> Result<RunEnd, BatonError> {
        let orchestrator = &self.context.orchestrator;
        let env = params.env;
        let start = RunStart {
            mode: params.mode,
            goal: params.goal,
            overrides: params.overrides.unwrap_or_default(),
            isolation: run::Isolation::Shared,
            notes: Vec::new(),
        };
        // Checked here to answer before any git work; what counts is the same check
        // inside the start, in the change that starts the run.
        let program = orchestrator.read(|board| {
            board.check_start(&start)?;
            validate::patched_config(board.config(), &start.overrides)
                .map(|config| config.agent_command)
        })?;
        let isolation = self.isolation().await?;
        super::command::check_program(&program)?;
        if let Isolation::Worktrees(worktrees) = &isolation {
            let checkout = worktrees.start_from_checkout().await;
            notes.extend(checkout.map_err(worktree_error)?);
        }
        let (reply, answer) = oneshot::channel();
        let start = RunStart {
            isolation: isolation.kind(),
            notes,
            ..start
        };
        self.send(Event::Start(Box::new(StartRequest {
            start,
            isolation,
            env,
            reply,
        })));
        answer.await.map_err(|_| stopping())?
    }

    /// The run's isolation, as configured (by default worktrees in a git repository),
    /// checked before anything starts.
    async fn isolation(&self) -> Result<Isolation, BatonError> {
        let config = self
            .context
            .orchestrator
            .read(|board| board.config().clone());
        let workspace = &self.context.workspace;
        let in_git = workspace.root().join(".git").exists();
        match config.isolation {
            Some(baton_protocol::Isolation::Shared) => Ok(Isolation::Shared),
            None if !in_git => Ok(Isolation::Shared),
            _ => Worktrees::open(workspace, &config.integration_branch)
                .await
                .map(|worktrees| Isolation::Worktrees(Arc::new(worktrees)))
                .map_err(worktree_error),
        }
    }

    /// Stops the run: no more dispatch, every agent told to end; answers once they
    /// have and the run has ended, their tasks back in the queue.
    pub async fn stop(&self, why: &str) {
        let (reply, done) = oneshot::channel();
        self.send(Event::Stop {
            why: why.to_owned(),
            reply,
        });
        let _ = done.await;
    }

    /// Ends every agent before the daemon goes, and waits until each has ended and
    /// its task is back in the queue.
    pub async fn shut_down(&self) {
        self.stop("the daemon stopped").await;
        self.send(Event::Shutdown);
        if let Some(actor) = self.actor.lock().await.take() {
            let _ = actor.await;
        }
    }

    /// Adds what the runtime knows to a status: what each agent did last.
    pub fn decorate(&self, status: &mut Status) {
        let activity = self.context.activity.lock().expect("activity lock");
        for agent in &mut status.agents {
            if let Some(last) = activity.get(&agent.id) {
                agent.activity = Some(last.clone());
            }
        }
    }

    /// Whether a run is going.
    pub fn is_busy(&self) -> bool {
        self.context
            .orchestrator
            .read(|board| board.run().is_some())
    }

    /// Where a task's agent log is: every attempt's stream, one event per line.
    pub fn task_log(&self, task: &TaskId) -> PathBuf {
        self.context.workspace.task_log(task)
    }

    fn send(&self, event: Event) {
        // The actor ends only at shutdown; a request after it is answered by the
        // dropped reply.
        let _ = self.context.events.send(event);
    }
}

/// The owner of the live run.
struct Actor {
    context: Arc<Context>,
    inbox: mpsc::UnboundedReceiver<Event>,
    /// The board's changes, heard only while a run goes: between runs nothing here
    /// acts on them, and the actor does not wake for each one.
    tasks: Option<broadcast::Receiver<Arc<Operation>>>,
    agents: JoinSet<Ended>,
    /// Each running agent's stop signal.
    stops: BTreeMap<String, watch::Sender<bool>>,
    isolation: Option<Isolation>,
    result: Option<watch::Sender<Option<RunResult>>>,
    /// Who asked the run to stop, answered once it has ended: what they read next
    /// (no agent, the tasks back in the queue) is then what the user finds.
    stopping: Vec<oneshot::Sender<()>>,
    shutting_down: bool,
}

impl Actor {
    async fn run(mut self) {
        while let Some(event) = self.next_event().await {
            self.handle(event).await;
            if self.shutting_down && self.agents.is_empty() {
                break;
            }
        }
    }

    async fn next_event(&mut self) -> Option<Event> {
        let pause = self.running().then(|| self.pause()).flatten();
        let tasks = &mut self.tasks;
        let tasks = async move {
            match tasks {
                Some(tasks) => tasks.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = self.inbox.recv() => event,
            batch = tasks => Some(match batch {
                Ok(batch) => Event::Tasks(Some(batch)),
                Err(broadcast::error::RecvError::Lagged(_)) => Event::Tasks(None),
                Err(broadcast::error::RecvError::Closed) => Event::Shutdown,
            }),
            Some(ended) = self.agents.join_next(), if !self.agents.is_empty() => match ended {
                Ok(ended) => Some(Event::AgentEnded(ended)),
                Err(err) => {
                    // An agent task that panicked: its seat stays until the run is
                    // stopped; say so rather than lose it silently.
                    tracing::error!("an agent's task ended abnormally: {err}");
                    Some(Event::Timer)
                }
            },
            _ = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => Some(Event::Timer),
        }
    }

    /// Whether a run goes: from its start until its end is stored.
    fn running(&self) -> bool {
        self.result.is_some()
    }

    /// How long dispatch stays paused, when it is.
    fn pause(&self) -> Option<std::time::Duration> {
        self.context.orchestrator.read(|board| {
            board
                .run()
                .and_then(|run| run.status().paused_until)
                .map(|until| (until - Utc::now()).to_std().unwrap_or_default())
        })
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Start(request) => {
                let StartRequest {
                    start,
                    isolation,
                    env,
                    reply,
                } = *request;
                let _ = reply.send(self.start(start, isolation, env).await);
            }
            Event::Tasks(batch) => self.stop_cancelled(batch.as_deref().map(|batch| &**batch)),
            Event::AgentEnded(ended) => self.ended(ended).await,
            Event::Timer => {}
            Event::Halt(None) => self.signal_all(),
            Event::Halt(Some(agent_id)) => {
                if let Some(stop) = self.stops.get(&agent_id) {
                    let _ = stop.send(true);
                }
            }
            Event::Stop { why, reply } => {
                let _ = self
                    .context
                    .orchestrator
                    .apply(|board, now| Ok(((), board.stop_run(&why, now))))
                    .await;
                self.signal_all();
                if self.running() {
                    self.stopping.push(reply);
                } else {
                    let _ = reply.send(());
                }
            }
            Event::Clean { all, reply } => {
                let _ = reply.send(branches::clean(&self.context, all).await);
            }
            Event::Shutdown => self.shutting_down = true,
        }
        if !self.running() {
            return;
        }
        if !self.shutting_down {
            self.dispatch().await;
        }
        self.finish_if_done();
    }

    async fn start(
        &mut self,
        start: RunStart,
        isolation: Isolation,
        env: Option<AgentEnv>,
    ) -> Result<RunEnd, BatonError> {
        if self.shutting_down {
            return Err(stopping());
        }
        let mode = start.mode;
        // Listening from before the start, so that no change of the run is missed.
        let tasks = self.context.orchestrator.subscribe();
        self.context
            .orchestrator
            .apply(|board, now| Ok(((), board.start_run(start, now)?)))
            .await?;
        self.tasks = Some(tasks);
        self.isolation = Some(isolation);
        *self.context.env.lock().expect("environment lock") = env;
        let (sender, receiver) = watch::channel(None);
        self.result = Some(sender);
        if mode.plans() {
            let stop = self.enlist(LEADER);
            self.agents.spawn(lead(self.context.clone(), stop));
        }
        Ok(receiver)
    }

    /// A cancelled task's agent is ended at once; a task its own agent gave up on
    /// (fail_task) lets the agent finish its answer.
    fn stop_cancelled(&self, batch: Option<&Events>) {
        let cancelled = batch.into_iter().flatten().filter_map(|event| match event {
            Notification::TaskFailed(task) if task.status == TaskStatus::Cancelled => {
                Some(&task.id)
            }
            _ => None,
        });
        for id in cancelled {
            let agent = self.context.orchestrator.read(|board| {
                board.run().and_then(|run| {
                    run.seats()
                        .iter()
                        .find(|(_, seat)| seat.task.as_ref() == Some(id))
                        .map(|(agent_id, _)| agent_id.clone())
                })
            });
            if let Some(stop) = agent.and_then(|agent_id| self.stops.get(&agent_id)) {
                let _ = stop.send(true);
            }
        }
    }

    /// Hands ready tasks to free workers, as the core decides.
    async fn dispatch(&mut self) {
        let Some(isolation) = self.isolation.clone() else {
            return;
        };
        let assigned = self
            .context
            .orchestrator
            .apply(|board, now| board.dispatch(now))
            .await;
        for (agent_id, task) in assigned.unwrap_or_default() {
            let stop = self.enlist(&agent_id);
            self.agents.spawn(work(
                self.context.clone(),
                isolation.clone(),
                agent_id,
                task,
                stop,
            ));
        }
    }

    /// Gives an agent its stop signal, already given when the run has stopped.
    fn enlist(&mut self, agent_id: &str) -> watch::Receiver<bool> {
        let stopped = self
            .context
            .orchestrator
            .read(|board| board.run().is_none_or(|run| run.stopped().is_some()));
        let (stop, stopped) = watch::channel(stopped);
        self.stops.insert(agent_id.to_owned(), stop);
        stopped
    }

    fn signal_all(&self) {
        for stop in self.stops.values() {
            let _ = stop.send(true);
        }
    }

    async fn ended(&mut self, ended: Ended) {
        // An agent's stop signal goes with the agent, found by its receiver being
        // gone, not by its name: its seat may already have a new agent of the same
        // name, whose signal this is.
        self.stops.retain(|_, stop| !stop.is_closed());
        match ended {
            Ended::Agent => {}
            Ended::Summary { finished, summary } => {
                // While the run still counts as going, so that no run or `baton
                // clean` starts meanwhile; no agent works in a checkout any more.
                if let Some(Isolation::Worktrees(worktrees)) = &self.isolation {
                    let keep = self
                        .context
                        .orchestrator
                        .read(|board| board.run_config().keep_branches);
                    match branches::clean_after_run(worktrees, &finished, keep).await {
                        Ok(cleaned) if !cleaned.branches.is_empty() => tracing::info!(
                            branches = ?cleaned.branches,
                            checkouts = cleaned.checkouts,
                            "removed the run's merged branches"
                        ),
                        Ok(_) => {}
                        Err(err) => tracing::warn!("removing the run's merged branches: {err}"),
                    }
                }
                let report = report::write(&self.context, &finished, &summary);
                let ended = self
                    .context
                    .orchestrator
                    .apply(|board, now| board.end_run(&finished, summary, report, now))
                    .await;
                self.isolation = None;
                self.tasks = None;
                self.context.env.lock().expect("environment lock").take();
                let result = self.result.take();
                if let (Ok(ended), Some(result)) = (ended, result) {
                    tracing::info!(
                        mode = ?finished.mode,
                        completed = ended.tasks_completed,
                        failed = ended.tasks_failed,
                        "run finished"
                    );
                    let _ = result.send(Some(ended));
                }
                for stopped in self.stopping.drain(..) {
                    let _ = stopped.send(());
                }
            }
        }
    }

    /// When nothing is left to do, the summary is written (by an agent, or plainly
    /// when the run stopped early) and then the run ends.
    fn finish_if_done(&mut self) {
        let Some(finished) = self
            .context
            .orchestrator
            .note(|board| board.finish_run_if_done())
        else {
            return;
        };
        let stop = self.enlist(SUMMARY);
        self.agents
            .spawn(summarise(self.context.clone(), finished, stop));
    }
}

/// The answer to a request the runtime cannot take because the daemon is stopping.
fn stopping() -> BatonError {
    BatonError::orchestration("the daemon is stopping; start it again (`baton daemon start`)")
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
