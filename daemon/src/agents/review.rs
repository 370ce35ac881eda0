//! A task's review, carried out: a reviewer agent with read-only tools reads the
//! task's diff against the integration branch in the task's worktree and gives its
//! verdict through the MCP tool `review_task`; what it said becomes the pipeline's
//! [`Check`]. The review is paid from its task's budget and counted to its task.

use std::path::PathBuf;

use baton_protocol::{ActivityKind, AttemptOutcome, Config, ReviewVerdict, Task, TaskStage};

use super::agent::Context;
use super::claude_config::OwnConfig;
use super::command::{self, Role};
use super::gate::Resumable;
use super::git;
use super::mcp_config;
use super::process::{Ending, Launch};
use super::prompts::{self, PromptTooLong};
use super::stream::clip;
use crate::core::pipeline::{self, Check};
use crate::core::{Attempt, Closing, Review};

/// How a review ended.
pub(super) enum Reviewed {
    /// What the reviewer decided, or that it gave no verdict.
    Check(Check),
    /// The run stopped while it read.
    Stopped,
}

impl Context {
    /// Starts a reviewer on the task whose agent is `agent` and waits for its verdict.
    pub(super) async fn review(
        &self,
        config: &Config,
        task: &Task,
        agent: &Resumable<'_>,
    ) -> Reviewed {
        let diff = match Self::diff_to_review(config, agent).await {
            Ok(diff) => diff,
            Err(check) => return Reviewed::Check(check),
        };
        self.set_stage(agent.agent_id, task, TaskStage::Reviewing, None)
            .await;
        let reviewer = reviewer_of(agent.agent_id);
        let (launch, mcp) = match self.reviewer_launch(config, task, agent, &reviewer, &diff) {
            Ok(launched) => launched,
            Err(err) => {
                return Reviewed::Check(Check::NoVerdict {
                    why: err.to_string(),
                })
            }
        };
        // A verdict left from an earlier round is not this one's.
        self.orchestrator.note(|board| board.take_review(&task.id));
        let _ = self
            .orchestrator
            .apply(|board, now| board.start_review(&reviewer, &task.id, now))
            .await;
        self.activity(
            &reviewer,
            Some(&task.id),
            ActivityKind::Started,
            "reviewing",
        );
        let (ending, _) = self
            .supervise_for(
                &launch,
                &reviewer,
                agent.agent_id,
                Some(&task.id),
                agent.stopped.clone(),
            )
            .await;
        if let Some(path) = mcp {
            let _ = std::fs::remove_file(path);
        }
        let review = self.orchestrator.note(|board| board.take_review(&task.id));
        let usage = match &ending {
            Ending::Result { result, .. } => result.usage.clone(),
            _ => Default::default(),
        };
        let closing = closing(review.as_ref(), &ending);
        let _ = self
            .orchestrator
            .apply(|board, now| {
                let attempt = Attempt {
                    usage,
                    ..Attempt::default()
                };
                board.end_review(agent.agent_id, &reviewer, &task.id, attempt, closing, now)
            })
            .await;
        self.activity(&reviewer, Some(&task.id), ActivityKind::Finished, "");
        let check = match (review, ending) {
            (_, Ending::Stopped) => return Reviewed::Stopped,
            (Some(review), _) => verdict(&reviewer, review, self, task),
            (None, ending) => Check::NoVerdict {
                why: without_verdict(&ending),
            },
        };
        Reviewed::Check(check)
    }

    /// The task's diff against the integration branch, as its reviewer reads it; or the
    /// check when there is no review to hold. Work that changes nothing has nothing to
    /// review (a reviewer given an empty diff gives no verdict, and the task would fail
    /// for it): it is approved as it is.
    async fn diff_to_review(config: &Config, agent: &Resumable<'_>) -> Result<String, Check> {
        let range = format!("refs/heads/{}...HEAD", config.integration_branch);
        let args = ["diff", "--no-color", &range];
        match git::ok_at_most(&agent.launch.cwd, &args, pipeline::REVIEW_DIFF_READ).await {
            Ok((diff, _)) if diff.trim().is_empty() => Err(Check::Approved),
            Ok((diff, whole)) => Ok(pipeline::diff_for_review(&diff, whole)),
            Err(err) => Err(Check::NoVerdict {
                why: format!("its diff could not be read: {err}"),
            }),
        }
    }

    /// The reviewer's process: its prompt with the task's diff, read-only tools, its
    /// MCP configuration (answered too, to be removed after), in the task's worktree.
    fn reviewer_launch(
        &self,
        config: &Config,
        task: &Task,
        agent: &Resumable<'_>,
        reviewer: &str,
        diff: &str,
    ) -> Result<(Launch, Option<PathBuf>), PromptTooLong> {
        let mut values = self
            .orchestrator
            .read(|board| prompts::worker_values(board, task, reviewer));
        values.diff = diff.to_owned();
        let template = config
            .reviewer_prompt
            .as_deref()
            .unwrap_or(prompts::REVIEWER);
        let prompt = prompts::render(template, &values, "reviewer_prompt")?;
        let mcp = mcp_config::write(&self.workspace, reviewer, Some(task.id.as_str()));
        let budget_usd = self.orchestrator.read(|board| board.budget_left(&task.id));
        let env = self.env.lock().expect("environment lock").clone();
        let own_config = OwnConfig::of_agent(&self.workspace, reviewer, env.as_ref());
        let launch = Launch {
            args: command::arguments(config, Role::Reviewer { budget_usd }, mcp.as_deref()),
            prompt,
            env: command::environment(
                self.workspace.root(),
                reviewer,
                Some(task.id.as_str()),
                env.as_ref(),
                own_config.as_ref(),
            ),
            own_config,
            run_id: format!("{}:review", agent.launch.run_id),
            ..agent.launch.clone()
        };
        Ok((launch, mcp))
    }
}

/// The reviewer of a worker's task: `reviewer-N` for `worker-N`.
fn reviewer_of(worker: &str) -> String {
    match worker.strip_prefix("worker-") {
        Some(number) => format!("reviewer-{number}"),
        None => format!("reviewer-{worker}"),
    }
}

/// The reviewer's verdict as the pipeline's check, said in its activity.
fn verdict(reviewer: &str, review: Review, context: &Context, task: &Task) -> Check {
    let said = match review.verdict {
        ReviewVerdict::Approve => ReviewVerdict::Approve.as_str().to_owned(),
        ReviewVerdict::ChangesRequested => format!(
            "{}: {}",
            ReviewVerdict::ChangesRequested.as_str(),
            clip(&review.reasons, 200)
        ),
    };
    context.activity(reviewer, Some(&task.id), ActivityKind::Text, &said);
    match review.verdict {
        ReviewVerdict::Approve => Check::Approved,
        ReviewVerdict::ChangesRequested => Check::ChangesRequested {
            reasons: review.reasons,
        },
    }
}

/// How a review's record closes: done when it gave a verdict.
fn closing(review: Option<&Review>, ending: &Ending) -> Closing {
    let (outcome, reason) = match (review, ending) {
        (_, Ending::Stopped) => (AttemptOutcome::Stopped, None),
        (Some(_), _) => (AttemptOutcome::Done, None),
        (None, Ending::TimedOut) => (AttemptOutcome::TimedOut, Some(without_verdict(ending))),
        (None, _) => (AttemptOutcome::Failed, Some(without_verdict(ending))),
    };
    Closing {
        outcome,
        reason,
        cost_usd: 0.0,
    }
}

/// Why a reviewer that gave no verdict ended, in a sentence.
fn without_verdict(ending: &Ending) -> String {
    match ending {
        Ending::Result { result, .. } if result.is_error => result.failure(),
        Ending::Result { .. } => "it ended its turn without calling review_task".into(),
        Ending::Fault { detail, .. } => detail.clone(),
        Ending::TimedOut => "it ran past task_timeout".into(),
        Ending::Stopped => "it was stopped".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_s_reviewer_takes_its_number() {
        assert_eq!(reviewer_of("worker-3"), "reviewer-3");
        assert_eq!(reviewer_of("agent-x"), "reviewer-agent-x");
    }
}
