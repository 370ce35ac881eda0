//! The board's record of agent runs: each worker attempt, the leader, the summary
//! and each review, on the lane of the agent slot that ran it, numbered by run. A
//! record opens when its agent starts and closes when it ends, both as stored
//! changes, so a view can follow it live and a restart keeps it.

use std::collections::{HashMap, HashSet};

use baton_protocol::{
    AgentKind, AttemptOutcome, AttemptRecord, BatonError, Event, Task, TaskId, TaskStatus,
    Timeline, Usage,
};

use super::{Attempt, Board, Events, Now};
use crate::core::run::{AttemptEnding, Halt, Settlement};

/// What the agents a daemon that stopped cut off had spent, as their logs show: a
/// worker's by its task, the leader's and the summary's by their lane.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LostSpending {
    pub by_task: HashMap<TaskId, Usage>,
    pub by_lane: HashMap<String, Usage>,
}

/// How an agent run ended, as its record keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Closing {
    pub outcome: AttemptOutcome,
    /// Why it did not end done.
    pub reason: Option<String>,
    pub cost_usd: f64,
}

impl Closing {
    /// An agent run whose work was done.
    pub fn done(cost_usd: f64) -> Closing {
        Closing {
            outcome: AttemptOutcome::Done,
            reason: None,
            cost_usd,
        }
    }
}

impl Board {
    /// Every agent run on this board, in the order they started.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.attempts
    }

    /// How many runs this board has had; the last one's number.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The agent runs of run `run`, the last run when none is named.
    pub fn timeline(&self, run: Option<u64>) -> Result<Timeline, BatonError> {
        let shown = run.unwrap_or(self.runs);
        if run.is_some() && (shown == 0 || shown > self.runs) {
            return Err(BatonError::invalid(match self.runs {
                0 => format!("there is no run {shown}: this board has had no run yet"),
                runs => format!("there is no run {shown}: this board's runs are 1 to {runs}"),
            }));
        }
        Ok(Timeline {
            run: shown,
            runs: self.runs,
            going: self.run.is_some() && shown == self.runs,
            attempts: self
                .attempts
                .iter()
                .filter(|record| record.run == shown)
                .cloned()
                .collect(),
        })
    }

    /// Opens the record of an agent starting on `lane` now, in the run going.
    /// Reviewers use this too (kind `Reviewer`, lanes `reviewer-1`, …).
    pub fn open_attempt(
        &mut self,
        lane: &str,
        kind: AgentKind,
        task: Option<&TaskId>,
        now: Now,
    ) -> Events {
        let record = AttemptRecord {
            id: self.attempts.len() as u64,
            run: self.runs,
            lane: lane.to_owned(),
            kind,
            task: task.cloned(),
            started_at: now,
            ended_at: None,
            outcome: None,
            reason: None,
            cost_usd: 0.0,
        };
        self.attempts.push(record.clone());
        self.changes.attempts.insert(record.id);
        vec![Event::Attempt(record)]
    }

    /// Closes the open record of `lane`; nothing when none is open.
    pub fn close_attempt(&mut self, lane: &str, closing: Closing, now: Now) -> Events {
        let Some(record) = self
            .attempts
            .iter_mut()
            .rev()
            .find(|record| record.lane == lane && record.is_open())
        else {
            return Vec::new();
        };
        record.ended_at = Some(now);
        record.outcome = Some(closing.outcome);
        record.reason = closing.reason;
        record.cost_usd = closing.cost_usd;
        self.changes.attempts.insert(record.id);
        vec![Event::Attempt(record.clone())]
    }

    /// Closes, as lost, the records of agents no run watches any more (the daemon
    /// stopped while they worked, or a loaded state had them open). `spent` is what
    /// the agents cut off spent, as their logs show: a worker's is paid for on its
    /// task and on the task's newest open record (the agent that last ran on it), the
    /// leader's and the summary's on their own record.
    pub fn end_lost_attempts(&mut self, spent: &LostSpending, now: Now) -> Events {
        if self.run.is_some() {
            return Vec::new();
        }
        let lost: Vec<(String, Option<TaskId>)> = self
            .attempts
            .iter()
            .rev()
            .filter(|record| record.is_open())
            .map(|record| (record.lane.clone(), record.task.clone()))
            .collect();
        let mut paid = HashSet::new();
        let mut events = Vec::new();
        for (lane, task) in lost {
            let untasked = task.is_none();
            let usage = task
                .filter(|task| paid.insert(task.clone()))
                .and_then(|task| Some((spent.by_task.get(&task)?, task)));
            // Paid before the record closes, which it then counts: what its agent
            // was paid for as its turns ended, and what the log shows after.
            if let Some((usage, task)) = usage {
                let attempt = Attempt {
                    usage: usage.clone(),
                    ..Attempt::default()
                };
                if let Ok((_, recorded)) = self.record_attempt(&task, attempt, now) {
                    events.extend(recorded);
                }
            }
            // The leader and the summary are paid on their record alone.
            let unpaid = (spent.by_lane.get(&lane))
                .filter(|_| untasked)
                .map_or(0.0, |usage| usage.cost_usd);
            let closing = Closing {
                outcome: AttemptOutcome::Lost,
                reason: Some("the daemon stopped while its agent worked".into()),
                cost_usd: self.open_record_cost(&lane) + unpaid,
            };
            events.extend(self.close_attempt(&lane, closing, now));
        }
        events
    }

    /// What the open record on `lane` has been paid so far.
    fn open_record_cost(&self, lane: &str) -> f64 {
        (self.attempts.iter().rev())
            .find(|record| record.lane == lane && record.is_open())
            .map_or(0.0, |record| record.cost_usd)
    }

    /// Counts what a task's agent was paid for on the newest record still open for
    /// the task, so that a daemon killed before it closes leaves it there.
    pub(super) fn pay_open_record(&mut self, task: &TaskId, cost_usd: f64) {
        let open = (self.attempts.iter_mut().rev())
            .find(|record| record.task.as_ref() == Some(task) && record.is_open());
        if let Some(record) = open {
            record.cost_usd += cost_usd;
            self.changes.attempts.insert(record.id);
        }
    }
}

/// How a worker's attempt closes, from its typed ending, why its agent was stopped,
/// how it settled and its task after. `cost_usd` is what it spent.
pub fn worker_closing(
    ending: &AttemptEnding,
    halt: Option<&Halt>,
    settlement: &Settlement,
    task: &Task,
    cost_usd: f64,
) -> Closing {
    let (outcome, reason) = match (settlement, ending, halt) {
        (Settlement::Complete(_), _, _) => (AttemptOutcome::Done, None),
        (Settlement::Fail(reason), _, Some(Halt::TaskBudget { .. } | Halt::RunBudget { .. })) => {
            (AttemptOutcome::Budget, Some(reason.clone()))
        }
        (Settlement::Keep, _, _) if task.status == TaskStatus::Cancelled => (
            AttemptOutcome::Cancelled,
            Some("its task was cancelled".into()),
        ),
        (Settlement::Keep, _, _) => (
            AttemptOutcome::Failed,
            task.result.as_ref().and_then(|result| result.error.clone()),
        ),
        (Settlement::Requeue(reason) | Settlement::Fail(reason), AttemptEnding::TimedOut, _) => {
            (AttemptOutcome::TimedOut, Some(reason.clone()))
        }
        (Settlement::Requeue(reason), AttemptEnding::Stopped, _) => {
            (AttemptOutcome::Stopped, Some(reason.clone()))
        }
        (Settlement::Requeue(reason), _, _) => (AttemptOutcome::Requeued, Some(reason.clone())),
        (Settlement::Fail(reason), _, _) => (AttemptOutcome::Failed, Some(reason.clone())),
    };
    Closing {
        outcome,
        reason,
        cost_usd,
    }
}
