//! The gate in front of the integration branch, carried out: the core's pipeline
//! (`core::pipeline`) says each step, this does it in the task's worktree — bring the
//! integration branch in, run the verification command, have a reviewer read the work
//! (`review`), resume the task's agent with what failed — and answers how the task's
//! way ended. Only a tree that passed moves the integration branch.

use std::path::Path;

use baton_protocol::{ActivityKind, Config, Task, TaskStage};
use tokio::sync::watch;

use super::agent::Context;
use super::attempt_log::{append_to_log, sent_back_line};
use super::command::{self, Role};
use super::process::{self, Ending, Launch, Verdict};
use super::review::Reviewed;
use super::stream::clip;
use super::worktrees::{BroughtIn, Changes, Landed, Worktrees};
use crate::core::pipeline::{self, Check, Rounds, Step};
use crate::core::Attempt;

/// How a task's way through the gate ended.
pub(super) struct Gated {
    /// The agent's last ending: its output becomes the task's.
    pub ending: Ending,
    pub session_id: Option<String>,
    /// What landed, or why the task fails with its work kept on its branch.
    pub landed: Result<Changes, String>,
}

/// What the gate needs of the task's agent to resume it.
pub(super) struct Resumable<'a> {
    pub agent_id: &'a str,
    pub launch: &'a Launch,
    pub mcp_path: Option<&'a Path>,
    pub stopped: watch::Receiver<bool>,
}

impl Context {
    /// Takes a task whose agent ended its turn (`ending`) from `first` to the
    /// integration branch, or back to its agent, as the pipeline decides. It is long
    /// because each step of the pipeline is carried out here, in the pipeline's order.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn gate(
        &self,
        config: &Config,
        worktrees: &Worktrees,
        task: &Task,
        agent: Resumable<'_>,
        first: Step,
        mut ending: Ending,
        mut session_id: Option<String>,
    ) -> Gated {
        let branch = worktrees.branch(&task.id);
        let mut rounds = Rounds::default();
        let mut step = first;
        // Each turn of the agent is paid for as it ends: a crash in a step of the
        // gate (a verification may take minutes) must not lose what it spent.
        ending = self.pay(agent.agent_id, task, ending, &session_id).await;
        loop {
            // A review's stage is entered once there is a diff to review.
            if let Some(stage) = pipeline::stage_of(&step).filter(|_| step != Step::Review) {
                self.set_stage(agent.agent_id, task, stage, answer(&ending))
                    .await;
            }
            let check = match step {
                Step::BringIn => match worktrees.bring_in(&task.id, &task.description).await {
                    Ok(BroughtIn::Merged) => Check::BroughtIn,
                    Ok(BroughtIn::Conflict { paths, theirs }) => Check::Conflict { paths, theirs },
                    Ok(BroughtIn::Unresolved { paths }) => Check::Unresolved { paths },
                    Err(err) => {
                        let reason = format!(
                            "bringing {} into its work: {err}",
                            config.integration_branch
                        );
                        return self
                            .set_aside(worktrees, task, ending, session_id, Err(reason))
                            .await;
                    }
                },
                Step::Verify => {
                    let command = config.verify_command.clone().unwrap_or_default();
                    self.activity(
                        agent.agent_id,
                        Some(&task.id),
                        ActivityKind::Verifying,
                        &command,
                    );
                    let verifying = Launch {
                        run_id: format!("{}:verify", agent.launch.run_id),
                        ..agent.launch.clone()
                    };
                    match process::verify(&verifying, &command, agent.stopped.clone()).await {
                        Verdict::Passed => Check::Verified,
                        Verdict::Failed { status, tail } => Check::VerifyFailed { status, tail },
                        Verdict::TimedOut { tail } => Check::VerifyFailed { status: None, tail },
                        Verdict::Stopped => {
                            return self
                                .set_aside(
                                    worktrees,
                                    task,
                                    Ending::Stopped,
                                    session_id,
                                    Ok(Changes::default()),
                                )
                                .await;
                        }
                        Verdict::Fault(reason) => {
                            return self
                                .set_aside(worktrees, task, ending, session_id, Err(reason))
                                .await;
                        }
                    }
                }
                Step::Review => match self.review(config, task, &agent).await {
                    Reviewed::Check(check) => check,
                    Reviewed::Stopped => {
                        return self
                            .set_aside(
                                worktrees,
                                task,
                                Ending::Stopped,
                                session_id,
                                Ok(Changes::default()),
                            )
                            .await;
                    }
                },
                Step::Land => match worktrees.land(&task.id, &task.description).await {
                    Ok(Landed::Landed(changes)) => {
                        return Gated {
                            ending,
                            session_id,
                            landed: Ok(changes),
                        };
                    }
                    Ok(Landed::Moved) => Check::Moved,
                    Err(err) => {
                        let reason = format!("landing its work: {err}");
                        return self
                            .set_aside(worktrees, task, ending, session_id, Err(reason))
                            .await;
                    }
                },
                Step::SendBack { message, .. } => {
                    let resume = match &ending {
                        Ending::Result { result, .. } => {
                            result.session_id.clone().or(session_id.clone())
                        }
                        _ => session_id.clone(),
                    };
                    append_to_log(&agent.launch.log, &sent_back_line(&message)).await;
                    let budget_usd = self.orchestrator.read(|board| board.budget_left(&task.id));
                    let launch = Launch {
                        args: command::arguments(
                            config,
                            Role::Worker {
                                resume: resume.as_deref(),
                                budget_usd,
                            },
                            agent.mcp_path,
                        ),
                        prompt: message.clone(),
                        ..agent.launch.clone()
                    };
                    self.activity(
                        agent.agent_id,
                        Some(&task.id),
                        ActivityKind::Resumed,
                        &clip(&message, 200),
                    );
                    let (next, next_session) = self
                        .supervise(
                            &launch,
                            agent.agent_id,
                            Some(&task.id),
                            agent.stopped.clone(),
                        )
                        .await;
                    session_id = next_session.or(resume);
                    ending = self.pay(agent.agent_id, task, next, &session_id).await;
                    let open = self.orchestrator.read(|board| {
                        board
                            .task(&task.id)
                            .is_ok_and(|now| !now.status.is_finished())
                    });
                    let worked =
                        matches!(&ending, Ending::Result { result, .. } if !result.is_error);
                    if !open || !worked {
                        return self
                            .set_aside(worktrees, task, ending, session_id, Ok(Changes::default()))
                            .await;
                    }
                    Check::Worked
                }
                Step::Fail(reason) => {
                    return self
                        .set_aside(worktrees, task, ending, session_id, Err(reason))
                        .await;
                }
            };
            step = pipeline::next(
                check,
                &mut rounds,
                config,
                &config.integration_branch,
                &branch,
            );
        }
    }

    /// Records what a turn of the task's agent that just ended cost, and where its
    /// session is; answers the ending with nothing left to pay.
    async fn pay(
        &self,
        agent_id: &str,
        task: &Task,
        ending: Ending,
        session_id: &Option<String>,
    ) -> Ending {
        let attempt = match &ending {
            Ending::Result { result, .. } => Attempt {
                usage: result.usage.clone(),
                session_id: result.session_id.clone().or(session_id.clone()),
                permission_denials: result.permission_denials.clone(),
            },
            _ => Attempt {
                session_id: session_id.clone(),
                ..Attempt::default()
            },
        };
        let _ = self
            .orchestrator
            .apply(|board, now| board.record_turn(agent_id, &task.id, attempt, now))
            .await;
        paid(ending)
    }

    /// Keeps the task's work on its branch and frees its worktree.
    async fn set_aside(
        &self,
        worktrees: &Worktrees,
        task: &Task,
        ending: Ending,
        session_id: Option<String>,
        landed: Result<Changes, String>,
    ) -> Gated {
        if let Err(err) = worktrees.set_aside(&task.id).await {
            tracing::warn!("setting {} aside: {err}", task.id);
        }
        Gated {
            ending,
            session_id,
            landed,
        }
    }

    /// Moves a held task to `stage`, keeping its agent's last `answer`, saying so
    /// in its agent's activity.
    pub(super) async fn set_stage(
        &self,
        agent_id: &str,
        task: &Task,
        stage: TaskStage,
        answer: Option<&str>,
    ) {
        let current = self.orchestrator.read(|board| {
            board
                .task(&task.id)
                .ok()
                .map(|task| (task.status, task.stage))
        });
        // Told to the board even when the task is at `stage` already: a task resumed
        // there after a restart enters it in the run all the same.
        let was = match current {
            Some((status, was)) if status.is_held() => was,
            _ => return,
        };
        let answer = answer.filter(|_| was != Some(stage));
        let _ = self
            .orchestrator
            .apply(|board, now| board.set_stage(&task.id, stage, answer, now))
            .await;
        if was == Some(stage) {
            return;
        }
        self.activity(
            agent_id,
            Some(&task.id),
            ActivityKind::Stage,
            stage.as_str(),
        );
    }
}

/// What the agent answered, when it answered.
fn answer(ending: &Ending) -> Option<&str> {
    match ending {
        Ending::Result { result, .. } => Some(&result.output),
        _ => None,
    }
}

/// An ending whose cost and refusals are recorded already: it still says how the
/// agent ended and what it answered, but counts nothing more when settled.
fn paid(ending: Ending) -> Ending {
    match ending {
        Ending::Result {
            mut result,
            exit_code,
        } => {
            result.usage = Default::default();
            result.permission_denials.clear();
            Ending::Result { result, exit_code }
        }
        other => other,
    }
}
