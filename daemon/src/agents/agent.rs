//! One agent's life, from launch to the core's settlement: a worker on a task, the
//! leader planning, the summary at the end. All three start through one launch
//! function, and their streams are watched the same way: activity shown, each model
//! turn priced against the budgets as it arrives, rate limits pausing dispatch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::methods::AgentActivity;
use baton_protocol::{
    ActivityKind, AgentEnv, Config, Event as Notification, RunMode, Task, TaskId, TaskStage,
    Workspace,
};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, watch};

use super::attempt_log::{append_to_log, closing_line, unlanded_line};
use super::claude_config::OwnConfig;
use super::command::{self, Role};
use super::gate;
use super::mcp_config;
use super::process::{self, Ending, Launch};
use super::prompts;
use super::runtime::{Ended, Event, Isolation};
use super::snapshot::Snapshot;
use super::stream::{clip, AgentResult, StreamEvent, Turns};
use super::worktrees::Changes;
use crate::core::pipeline::{self, Step};
use crate::core::run::{self, AttemptEnding, Spending, LEADER};
use crate::core::{Attempt, Board, Finished};
use crate::orchestrator::Orchestrator;

/// How long the summary at the end of a run may take.
const SUMMARY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long to pause when a rate limit gives no reset time.
const DEFAULT_PAUSE: Duration = Duration::from_secs(60);

/// What agents share with the actor: the state's owner, the workspace, and what each
/// agent did last.
pub(super) struct Context {
    pub(super) orchestrator: Arc<Orchestrator>,
    pub(super) workspace: Workspace,
    /// The last thing each agent did, for status.
    pub(super) activity: Mutex<BTreeMap<String, String>>,
    /// The variables the client that started the run sent for its agents, in memory
    /// only, for as long as the run goes.
    pub(super) env: Mutex<Option<AgentEnv>>,
    pub(super) events: mpsc::UnboundedSender<Event>,
}

/// One worker on one task, from start to the task's next state. It is long because
/// it is one attempt in order (prompt, workspace, launch, a fresh start when the
/// session does not resume, the gate or the shared checkout's changes, the log's last
/// line, settling).
pub(super) async fn work(
    context: Arc<Context>,
    isolation: Isolation,
    agent_id: String,
    task: Task,
    stop: watch::Receiver<bool>,
) -> Ended {
    let orchestrator = &context.orchestrator;
    let mut config = orchestrator.read(Board::run_config);
    if let Some(model) = &task.model {
        config.model = model.clone();
    }
    let values = orchestrator.read(|board| prompts::worker_values(board, &task, &agent_id));
    let template = config.worker_prompt.as_deref().unwrap_or(prompts::WORKER);
    let prompt = match prompts::render(template, &values, "worker_prompt") {
        Ok(prompt) => prompt,
        Err(err) => return abandon(orchestrator, &agent_id, &task.id, err.to_string()).await,
    };
    let mcp = mcp_config::write(&context.workspace, &agent_id, Some(task.id.as_str()));
    let (cwd, before) = match &isolation {
        Isolation::Worktrees(worktrees) => match worktrees.prepare(&task.id).await {
            Ok(path) => (path, None),
            Err(err) => {
                remove(mcp);
                let reason = format!("its worktree could not be made: {err}");
                return abandon(orchestrator, &agent_id, &task.id, reason).await;
            }
        },
        Isolation::Shared => (
            context.workspace.root().to_owned(),
            Some(Snapshot::now(context.workspace.root()).await),
        ),
    };
    let budget_usd = orchestrator.read(|board| board.budget_left(&task.id));
    let agent = Agent {
        id: &agent_id,
        task: Some(&task),
        cwd,
        log: context.workspace.task_log(&task.id),
        timeout: Duration::from_secs(config.task_timeout),
        mcp: mcp.as_deref(),
    };
    let role = |resume| Role::Worker { resume, budget_usd };
    let launch = context.launch(&config, role(task.session_id.as_deref()), &prompt, &agent);
    let _ = orchestrator
        .apply(|board, now| board.start_task(&task.id, now))
        .await;
    // A task whose daemon stopped past its agent's work goes on from its stage, with
    // the answer its agent gave.
    let resumed = match &isolation {
        Isolation::Worktrees(_) => pipeline::resume_at(task.stage),
        Isolation::Shared => None,
    };
    let (mut ending, mut session_id) = match resumed {
        Some(_) => (
            Ending::Result {
                result: AgentResult {
                    output: task
                        .result
                        .as_ref()
                        .map(|result| result.output.clone())
                        .filter(|output| !output.is_empty())
                        .unwrap_or_else(|| {
                            format!(
                                "(its agent's work was done; it went on from {} after the daemon stopped)",
                                task.stage.map_or("", |stage| stage.as_str())
                            )
                        }),
                    session_id: task.session_id.clone(),
                    ..AgentResult::default()
                },
                exit_code: Some(0),
            },
            task.session_id.clone(),
        ),
        None => {
            context
                .set_stage(&agent_id, &task, TaskStage::Working, None)
                .await;
            context.activity(&agent_id, Some(&task.id), ActivityKind::Started, "");
            context
                .supervise(&launch, &agent_id, Some(&task.id), stop.clone())
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
        let fresh = context.launch(&config, role(None), &prompt, &agent);
        (ending, session_id) = context
            .supervise(&fresh, &agent_id, Some(&task.id), stop.clone())
            .await;
    }
    // A successful answer goes through the gate (or its changes in the shared
    // checkout are seen) unless its task ended meanwhile or its agent was halted.
    let still_open = orchestrator.read(|board| {
        let open = board
            .task(&task.id)
            .is_ok_and(|now| !now.status.is_finished());
        let halted = board
            .run()
            .and_then(|run| run.seat(&agent_id))
            .is_some_and(|seat| seat.halt.is_some());
        open && !halted
    });
    let succeeded =
        still_open && matches!(&ending, Ending::Result { result, .. } if !result.is_error);
    let landed = match (&isolation, before) {
        (Isolation::Worktrees(worktrees), _) if succeeded => {
            let resumable = gate::Resumable {
                agent_id: &agent_id,
                launch: &launch,
                mcp_path: mcp.as_deref(),
                stopped: stop.clone(),
            };
            let first = resumed.unwrap_or(Step::BringIn);
            let gated = context
                .gate(
                    &config, worktrees, &task, resumable, first, ending, session_id,
                )
                .await;
            ending = gated.ending;
            session_id = gated.session_id;
            gated.landed
        }
        (Isolation::Worktrees(worktrees), _) => {
            if let Err(err) = worktrees.set_aside(&task.id).await {
                tracing::warn!("setting {} aside: {err}", task.id);
            }
            Ok(Changes::default())
        }
        (Isolation::Shared, Some(before)) => Ok(Snapshot::now(context.workspace.root())
            .await
            .changes_since(&before)),
        (Isolation::Shared, None) => Ok(Changes::default()),
    };
    let (attempt, ending) = attempt(ending, landed);
    let halt = orchestrator.read(|board| {
        let seat = board.run().and_then(|run| run.seat(&agent_id));
        seat.and_then(|seat| seat.halt.clone())
    });
    let line = match &ending {
        // An answer the gate never saw: its task ended meanwhile, or its agent was
        // halted. Its branch is named only when it holds work.
        AttemptEnding::Succeeded { .. } if !succeeded => {
            let branch = match &isolation {
                Isolation::Worktrees(worktrees) => worktrees
                    .holds_work(&task.id)
                    .await
                    .unwrap_or(true)
                    .then(|| worktrees.branch(&task.id)),
                Isolation::Shared => None,
            };
            orchestrator
                .read(|board| board.task(&task.id).ok())
                .map(|now| unlanded_line(&now, halt.as_ref(), branch.as_deref()))
        }
        _ => {
            let worktrees = matches!(isolation, Isolation::Worktrees(_));
            let integration = worktrees.then_some(config.integration_branch.as_str());
            closing_line(&ending, halt.as_ref(), integration)
        }
    };
    if let Some(line) = line {
        append_to_log(&agent.log, &line).await;
    }
    // Before the settling frees the seat: the next task on it writes a file of the
    // same name at once.
    remove(mcp);
    let _ = orchestrator
        .apply(|board, now| {
            let attempt = Attempt {
                session_id: attempt.session_id.or(session_id),
                ..attempt
            };
            let (_, events) = board.settle_attempt(&agent_id, &task.id, attempt, ending, now)?;
            Ok(((), events))
        })
        .await;
    context.activity(&agent_id, Some(&task.id), ActivityKind::Finished, "");
    Ended::Agent
}

/// What an attempt cost, and how it ended in the core's terms.
fn attempt(ending: Ending, landed: Result<Changes, String>) -> (Attempt, AttemptEnding) {
    match ending {
        Ending::Result { result, .. } => {
            let attempt = Attempt {
                usage: result.usage.clone(),
                session_id: result.session_id.clone(),
                permission_denials: result.permission_denials.clone(),
            };
            let ending = match landed {
                _ if result.is_error => AttemptEnding::AgentError {
                    reason: result.failure(),
                },
                Ok(changes) => AttemptEnding::Succeeded {
                    output: result.output,
                    files_modified: changes.modified,
                    files_created: changes.created,
                },
                Err(conflict) => AttemptEnding::NotLanded(conflict),
            };
            (attempt, ending)
        }
        Ending::Fault { kind, detail } => {
            (Attempt::default(), AttemptEnding::Fault { kind, detail })
        }
        Ending::TimedOut => (Attempt::default(), AttemptEnding::TimedOut),
        Ending::Stopped => (Attempt::default(), AttemptEnding::Stopped),
    }
}

/// The task fails before its agent started, and `agent_id` leaves its seat.
async fn abandon(
    orchestrator: &Orchestrator,
    agent_id: &str,
    task: &TaskId,
    reason: String,
) -> Ended {
    let _ = orchestrator
        .apply(|board, now| Ok(((), board.abandon(agent_id, task, &reason, now)?)))
        .await;
    Ended::Agent
}

/// The leader plans the goal into tasks.
pub(super) async fn lead(context: Arc<Context>, stop: watch::Receiver<bool>) -> Ended {
    let orchestrator = &context.orchestrator;
    let config = orchestrator.read(Board::run_config);
    let values = orchestrator.read(|board| prompts::leader_values(board, LEADER));
    let template = config.leader_prompt.as_deref().unwrap_or(prompts::LEADER);
    let prompt = match prompts::render(template, &values, "leader_prompt") {
        Ok(prompt) => prompt,
        Err(err) => {
            let failure = format!("the leader: {err}");
            tracing::warn!("{failure}");
            let _ = orchestrator
                .apply(|board, now| Ok(((), board.leader_ended(0.0, false, Some(failure), now))))
                .await;
            return Ended::Agent;
        }
    };
    let mcp = mcp_config::write(&context.workspace, LEADER, None);
    let agent = Agent {
        id: LEADER,
        task: None,
        cwd: context.workspace.root().to_owned(),
        log: context.workspace.leader_log(),
        timeout: Duration::from_secs(config.task_timeout),
        mcp: mcp.as_deref(),
    };
    let launch = context.launch(&config, Role::Leader, &prompt, &agent);
    let tasks_before = orchestrator.read(|board| board.counts().total());
    context.activity(LEADER, None, ActivityKind::Started, "planning");
    let (ending, _) = context.supervise(&launch, LEADER, None, stop).await;
    let cost_usd = ending.reported_cost().unwrap_or_default();
    let failure = match ending {
        Ending::Result { result, .. } if !result.is_error => None,
        Ending::Result { result, .. } => Some(format!("the leader: {}", result.failure())),
        Ending::Fault { detail, .. } => Some(detail),
        Ending::TimedOut => Some("the leader ran past task_timeout".into()),
        Ending::Stopped => None,
    };
    if let Some(reason) = &failure {
        tracing::warn!("leader: {reason}");
    }
    let planned = orchestrator.read(|board| board.counts().total()) > tasks_before;
    let _ = orchestrator
        .apply(|board, now| Ok(((), board.leader_ended(cost_usd, planned, failure, now))))
        .await;
    context.activity(LEADER, None, ActivityKind::Finished, "");
    remove(mcp);
    Ended::Agent
}

/// The run's summary: plain when the run stopped early or the leader failed before
/// any work, else written by an agent (plainly again when that fails).
pub(super) async fn summarise(
    context: Arc<Context>,
    finished: Finished,
    stop: watch::Receiver<bool>,
) -> Ended {
    let summary = match (&finished.plain, finished.mode) {
        (Some(plain), _) => plain.clone(),
        (None, RunMode::Plan) => {
            prompts::plan_summary(&context.orchestrator.read(|board| board.tasks(None)))
        }
        (None, _) => write_summary(&context, &finished, stop).await,
    };
    Ended::Summary { finished, summary }
}

/// The summary written by an agent, or plainly when it gives no answer; what the
/// agent reported it spent counts either way.
async fn write_summary(
    context: &Context,
    finished: &Finished,
    stop: watch::Receiver<bool>,
) -> String {
    let config = context.orchestrator.read(Board::run_config);
    let values = prompts::summary_values(&finished.goal, &finished.tasks);
    // The built-in template names each bounded value once: it stays far below the
    // limit, and a plain summary stands in should it not.
    let Ok(prompt) = prompts::render(prompts::SUMMARY, &values, "summary") else {
        return run::plain_summary(&finished.tasks);
    };
    let agent = Agent {
        id: run::SUMMARY,
        task: None,
        cwd: context.workspace.root().to_owned(),
        log: context.workspace.summary_log(),
        timeout: SUMMARY_TIMEOUT.min(Duration::from_secs(config.task_timeout)),
        mcp: None,
    };
    let launch = context.launch(&config, Role::Summary, &prompt, &agent);
    let orchestrator = &context.orchestrator;
    let _ = orchestrator
        .apply(|board, now| Ok(((), board.summary_started(now))))
        .await;
    let ending = process::run(&launch, stop, |_| {}).await;
    let cost_usd = ending.reported_cost().unwrap_or_default();
    let answer = match ending {
        Ending::Result { result, .. } if !result.is_error && !result.output.trim().is_empty() => {
            Ok(result.output)
        }
        ending => {
            tracing::warn!(
                "the summary agent did not answer ({ending:?}); writing a plain summary"
            );
            Err("the summary agent gave no answer; a plain summary was written".to_owned())
        }
    };
    let failure = answer.as_ref().err().cloned();
    let _ = orchestrator
        .apply(|board, now| Ok(((), board.summary_ended(cost_usd, failure, now))))
        .await;
    answer.unwrap_or_else(|_| run::plain_summary(&finished.tasks))
}

/// One agent to launch: who it is, where it works and logs, for how long.
struct Agent<'a> {
    id: &'a str,
    task: Option<&'a Task>,
    cwd: PathBuf,
    log: PathBuf,
    timeout: Duration,
    mcp: Option<&'a Path>,
}

impl Context {
    /// The one way an agent (worker, leader or summary) is started.
    fn launch(&self, config: &Config, role: Role<'_>, prompt: &str, agent: &Agent<'_>) -> Launch {
        let task = agent.task.map(|task| task.id.as_str());
        // Unique for this process: the marker that finds everything it starts.
        let instance = match agent.task {
            Some(task) => format!("{}:{}", task.id, task.attempts),
            None => Utc::now().timestamp_millis().to_string(),
        };
        let client = self.env.lock().expect("environment lock").clone();
        let own_config = OwnConfig::of_agent(&self.workspace, agent.id, client.as_ref());
        let env = command::environment(
            self.workspace.root(),
            agent.id,
            task,
            client.as_ref(),
            own_config.as_ref(),
        );
        Launch {
            program: config.agent_command.clone(),
            args: command::arguments(config, role, agent.mcp),
            prompt: prompt.to_owned(),
            cwd: agent.cwd.clone(),
            env,
            own_config,
            log: agent.log.clone(),
            timeout: agent.timeout,
            run_id: format!("{}:{}:{instance}", std::process::id(), agent.id),
        }
    }

    /// Runs one agent process: its activity shown, each model turn's cost counted
    /// against the budgets as it arrives, rate limits pausing dispatch.
    pub(super) async fn supervise(
        &self,
        launch: &Launch,
        agent_id: &str,
        task: Option<&TaskId>,
        stop: watch::Receiver<bool>,
    ) -> (Ending, Option<String>) {
        self.supervise_for(launch, agent_id, agent_id, task, stop)
            .await
    }

    /// Runs one agent process shown as `agent_id` whose spending is counted to the
    /// seat of `pays` (a reviewer's, to the worker whose task it reviews).
    pub(super) async fn supervise_for(
        &self,
        launch: &Launch,
        agent_id: &str,
        pays: &str,
        task: Option<&TaskId>,
        stop: watch::Receiver<bool>,
    ) -> (Ending, Option<String>) {
        let mut session_id = None;
        let mut turns = Turns::default();
        let ending = process::run(launch, stop, |event| match event {
            StreamEvent::Init { session_id: id } => session_id = Some(id),
            StreamEvent::Turn { .. } | StreamEvent::TurnOutput { .. } => {
                let Some(spent) = turns.usage_of(&event) else {
                    return;
                };
                let spending = self.orchestrator.note(|board| board.spend(pays, &spent));
                match spending {
                    Spending::Within => {}
                    Spending::StopAgent => {
                        let _ = self.events.send(Event::Halt(Some(pays.to_owned())));
                    }
                    Spending::StopRun => {
                        let _ = self.events.send(Event::Halt(None));
                    }
                }
            }
            StreamEvent::Tool { name, detail } => {
                self.activity(
                    agent_id,
                    task,
                    ActivityKind::Tool,
                    &format!("{name} {detail}"),
                );
            }
            StreamEvent::Text(text) => {
                self.activity(agent_id, task, ActivityKind::Text, &clip(&text, 200))
            }
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

    /// Holds dispatch until `until`, as the core keeps it, and says so.
    fn pause(&self, agent_id: &str, task: Option<&TaskId>, until: DateTime<Utc>) {
        let Some(until) = self.orchestrator.note(|board| board.pause(until)) else {
            return;
        };
        let _ = self.events.send(Event::Timer);
        let text = format!(
            "rate limited; no agent starts before {}",
            until.format("%H:%M:%S UTC")
        );
        self.activity(agent_id, task, ActivityKind::RateLimited, &text);
    }

    pub(super) fn activity(
        &self,
        agent_id: &str,
        task: Option<&TaskId>,
        kind: ActivityKind,
        text: &str,
    ) {
        let mut shown = self.activity.lock().expect("activity lock");
        match kind {
            ActivityKind::Tool | ActivityKind::Text => {
                shown.insert(agent_id.to_owned(), clip(text, 200));
            }
            // What it did on its last task is not what it does now.
            ActivityKind::Started | ActivityKind::Finished => {
                shown.remove(agent_id);
            }
            _ => {}
        }
        drop(shown);
        self.orchestrator
            .announce(vec![Notification::AgentActivity(AgentActivity {
                agent_id: agent_id.into(),
                task_id: task.cloned(),
                kind,
                text: text.into(),
            })]);
    }
}

fn remove(mcp: Option<PathBuf>) {
    if let Some(path) = mcp {
        let _ = std::fs::remove_file(path);
    }
}

/// Claude Code ended at once with an error, before a single turn: what a session
/// that cannot be resumed looks like.
fn could_not_resume(ending: &Ending) -> bool {
    matches!(ending, Ending::Result { result, .. } if result.is_error && result.usage.turns == 0)
}
