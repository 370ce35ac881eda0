//! A reviewer's verdict, from the MCP tool `review_task` to the gate that waits for
//! it. A verdict lives in the run only: a daemon that stops during a review starts a
//! new reviewer on the task, so nothing of it needs to be stored.

use baton_protocol::{
    AgentKind, BatonError, ReviewTaskParams, ReviewVerdict, Task, TaskId, TaskStage,
};

use super::{Attempt, Board, Closing, Events, Now};
use crate::core::validate;

/// What a reviewer decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    pub verdict: ReviewVerdict,
    pub reasons: String,
}

impl Board {
    /// Takes a reviewer's verdict on a task under review. Refused for a task that is
    /// not being reviewed (a worker cannot approve its own work), and for changes
    /// requested without saying which. A second verdict replaces the first.
    pub fn review_task(&mut self, params: ReviewTaskParams) -> Result<((), Events), BatonError> {
        validate::agent_id(&params.agent_id)?;
        validate::report("review's reasons", &params.reasons)?;
        let task = self.task(&params.task_id)?;
        let reviewing = task.status.is_held() && task.stage == Some(TaskStage::Reviewing);
        let Some(run) = self.run.as_mut().filter(|_| reviewing) else {
            return Err(BatonError::invalid(format!(
                "task {} is not being reviewed; review_task is for the reviewer baton starts \
                 on a task whose work passed the gate",
                params.task_id
            )));
        };
        if params.verdict == ReviewVerdict::ChangesRequested && params.reasons.trim().is_empty() {
            return Err(BatonError::invalid(
                "changes_requested needs reasons: say what to change, e.g. \"parse() swallows \
                 the error; return it\"",
            ));
        }
        run.give_review(
            params.task_id,
            Review {
                verdict: params.verdict,
                reasons: params.reasons,
            },
        );
        Ok(((), Vec::new()))
    }

    /// A reviewer starts on `task`: its record opens on its lane.
    pub fn start_review(
        &mut self,
        reviewer: &str,
        task: &TaskId,
        now: Now,
    ) -> Result<((), Events), BatonError> {
        self.task(task)?;
        Ok((
            (),
            self.open_attempt(reviewer, AgentKind::Reviewer, Some(task), now),
        ))
    }

    /// A reviewer of `task` ended: what it spent (`attempt`) counts to the task, paid
    /// from the seat of `worker`, and its record closes as `closing` says, with that
    /// cost. Answers the task as it is then.
    pub fn end_review(
        &mut self,
        worker: &str,
        reviewer: &str,
        task: &TaskId,
        attempt: Attempt,
        mut closing: Closing,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        closing.cost_usd = attempt.usage.cost_usd;
        if let Some(run) = self.run.as_mut() {
            closing.cost_usd = run.final_usage(worker, attempt.usage.clone()).cost_usd;
            run.reviewed(worker, closing.cost_usd);
        }
        let (task, mut events) = self.record_turn(worker, task, attempt, now)?;
        events.extend(self.close_attempt(reviewer, closing, now));
        Ok((task, events))
    }

    /// The verdict given on `task` since it was last taken, if any; taking it clears
    /// it, so each review round starts without one.
    pub fn take_review(&mut self, task: &TaskId) -> Option<Review> {
        self.run.as_mut()?.take_review(task)
    }
}
