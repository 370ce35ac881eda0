//! The run going on the board: starting and ending it, dispatch, settling an
//! attempt, spending and pauses. Each is one operation, so every precondition ("is a
//! run going?") is checked inside the change it guards.

use baton_protocol::methods::{ConfigPatch, InitParams, RunStarted};
use baton_protocol::{
    AgentKind, AttemptOutcome, BatonError, Config, ErrorCause, Event, RunMode, RunResult, Task,
    TaskId, TaskStage, Usage,
};

use super::timeline::{worker_closing, Closing};
use super::{Attempt, Board, Events, Now};
use crate::core::run::{
    self, AttemptEnding, Isolation, Run, Seat, Settlement, Spending, LEADER, SUMMARY,
};
use crate::core::validate;

/// What a run starts with.
#[derive(Debug, Clone)]
pub struct RunStart {
    pub mode: RunMode,
    /// A new goal, set in the same change (`baton run "GOAL"`).
    pub goal: Option<String>,
    /// Settings for this run only.
    pub overrides: ConfigPatch,
    pub isolation: Isolation,
    /// What the run starts from, one sentence each, for `baton/runStarted`.
    pub notes: Vec<String>,
}

/// A run with nothing more to do, about to be summarised.
#[derive(Debug, Clone)]
pub struct Finished {
    pub goal: String,
    pub mode: RunMode,
    /// The tasks the run finished.
    pub tasks: Vec<Task>,
    /// The summary when no model should write one (the run stopped, or the leader
    /// failed before any work).
    pub plain: Option<String>,
}

/// The error for a second run while one goes.
pub fn already_running() -> BatonError {
    BatonError::orchestration(
        "a run is already going; `baton status` shows it, `baton stop` ends it",
    )
    .with_cause(ErrorCause::RunGoing)
}

/// What a run in one shared checkout leaves out of the configured gate: its work is
/// already where it lands, so there is nothing to verify or review before it does.
fn ungated(config: &Config, isolation: Isolation) -> Option<String> {
    if isolation != Isolation::Shared {
        return None;
    }
    let gate: Vec<&str> = [
        config.verify_command.is_some().then_some("verify_command"),
        config.review.then_some("review"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!gate.is_empty()).then(|| {
        format!(
            "{} need worktrees (a git repository): the agents here share one checkout, so \
             their work is neither verified nor reviewed",
            gate.join(" and ")
        )
    })
}

/// Refuses settings for one run that are bad, or that only make sense for the
/// workspace (its isolation and integration branch outlive a run).
fn check_overrides(config: &Config, overrides: &ConfigPatch) -> Result<(), BatonError> {
    if overrides.isolation.is_some() || overrides.integration_branch.is_some() {
        return Err(BatonError::invalid(
            "isolation and integration_branch cannot be set for one run; they belong to the workspace's configuration",
        ));
    }
    validate::patched_config(config, overrides).map(drop)
}

/// The stage whose share a task's spending is: a held task without one yet is
/// about to work.
fn stage_of(stage: Option<TaskStage>) -> TaskStage {
    stage.unwrap_or(TaskStage::Working)
}

impl Board {
    /// The run going, if one is.
    pub fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    /// The configuration the run goes by: the workspace's, with the run's overrides.
    pub fn run_config(&self) -> Config {
        match &self.run {
            // Checked when the run began; a later change of the workspace's
            // configuration that clashes with them leaves the workspace's.
            Some(run) => validate::patched_config(&self.config, &run.overrides)
                .unwrap_or_else(|_| self.config.clone()),
            None => self.config.clone(),
        }
    }

    /// How many tasks have not finished: waiting, claimed or in progress.
    pub fn unfinished(&self) -> usize {
        self.counts.available + self.counts.claimed + self.counts.in_progress
    }

    /// Whether `start` may start now: not while a run goes, nor with bad settings for
    /// it, nor leader planning without a goal, nor a run of the tasks there are when
    /// none waits.
    pub fn check_start(&self, start: &RunStart) -> Result<(), BatonError> {
        if self.run.is_some() {
            return Err(already_running());
        }
        if let Some(goal) = &start.goal {
            validate::goal(goal)?;
        }
        check_overrides(&self.config, &start.overrides)?;
        let goal = start.goal.as_deref().unwrap_or(&self.goal);
        match start.mode {
            mode if mode.plans() && goal.trim().is_empty() => Err(BatonError::invalid(
                "there is no goal to plan; give one (`baton run \"GOAL\"` or `baton init GOAL`)",
            )
            .with_cause(ErrorCause::NoGoal)),
            // A run resumed with nothing left to do still ends: summary, result, report.
            RunMode::Predefined if self.unfinished() == 0 && !self.resuming() => Err(BatonError::orchestration(
                "nothing to run: no task waits; `baton add` adds one, `baton retry ID` reopens a failed one",
            )
            .with_cause(ErrorCause::NothingToRun)),
            _ => Ok(()),
        }
    }

    /// Starts a run, once `check_start` allows it. Dispatch is on afterwards.
    pub fn start_run(&mut self, start: RunStart, now: Now) -> Result<Events, BatonError> {
        self.check_start(&start)?;
        let goal = start.goal.clone().unwrap_or_else(|| self.goal.clone());
        let mut events = Vec::new();
        if let Some(goal) = start.goal {
            let init = InitParams {
                goal,
                master_plan: self.master_plan.clone(),
                config: ConfigPatch::default(),
                keep: false,
            };
            events.extend(self.init(init, now)?);
        }
        // A run a daemon that stopped left going goes on as the same run, from its
        // start and with what it spent, so that its budget caps all of it and its
        // result and report count all of it.
        let resumed = self.resuming() && start.mode == RunMode::Predefined && self.runs > 0;
        let (started_at, spent) = match resumed {
            true => self.interrupted_run().unwrap_or((now, 0.0)),
            false => (now, 0.0),
        };
        let finished_before = self
            .tasks(None)
            .into_iter()
            .filter(|task| task.status.is_finished())
            .filter(|task| task.completed_at.is_none_or(|at| at < started_at))
            .map(|task| (task.id, task.status))
            .collect();
        let discoveries_before = self
            .discoveries
            .iter()
            .filter(|found| found.created_at < started_at)
            .count();
        if !resumed {
            self.runs = self.runs.saturating_add(1);
        }
        self.changes.settings = true;
        let mut run = Run::new(
            start.mode,
            goal.clone(),
            start.overrides,
            start.isolation,
            finished_before,
            discoveries_before,
            started_at,
        );
        run.spent_before_restart(spent);
        self.run = Some(run);
        // A plan is not resumed by a restarted daemon: that would start workers.
        if start.mode != RunMode::Plan {
            events.extend(self.set_running(true, now));
        }
        let mut notes = start.notes;
        notes.extend(ungated(&self.run_config(), start.isolation));
        events.push(Event::RunStarted(RunStarted {
            mode: start.mode,
            goal,
            notes,
        }));
        if start.mode.plans() {
            if let Some(run) = self.run.as_mut() {
                run.seat_agent(LEADER, None, now);
            }
            events.extend(self.open_attempt(LEADER, AgentKind::Leader, None, now));
        }
        Ok(events)
    }

    /// Dispatch on with no run: a daemon that stopped left a run going, which the
    /// next start resumes.
    fn resuming(&self) -> bool {
        self.running && self.run.is_none()
    }

    /// When the last run started and what its agents spent, by its timeline, if it
    /// has any record.
    fn interrupted_run(&self) -> Option<(Now, f64)> {
        let records = self
            .attempts
            .iter()
            .filter(|record| record.run == self.runs);
        records.fold(None, |seen, record| {
            let (started_at, spent) = seen.unwrap_or((record.started_at, 0.0));
            Some((started_at.min(record.started_at), spent + record.cost_usd))
        })
    }

    /// Stops dispatch: the run (if one goes) ends once its agents have; each is told
    /// to stop and its task goes back to the queue.
    pub fn stop_run(&mut self, why: &str, now: Now) -> Events {
        // Nothing to stop is no change: a daemon started and stopped without one
        // would otherwise write a change, and a snapshot, each time.
        if self.run.is_none() && !self.running {
            return Vec::new();
        }
        if let Some(run) = self.run.as_mut() {
            run.stop(why.to_owned());
        }
        self.set_running(false, now)
    }

    /// Hands ready tasks to free workers, at most `max_workers` at once, never a
    /// task to two agents; answers each worker with its task.
    pub fn dispatch(&mut self, now: Now) -> Result<(Vec<(String, Task)>, Events), BatonError> {
        let max_workers = self.run_config().max_workers;
        let Some(mut run) = self.run.take() else {
            return Ok((Vec::new(), Vec::new()));
        };
        let mut assigned = Vec::new();
        let mut events = Vec::new();
        for worker in run.free_workers(max_workers, now) {
            let busy = run.busy_files();
            match self.claim_supervised(&worker, &busy, now) {
                Ok((Some(task), claimed)) => {
                    run.seat_agent(&worker, Some(&task), now);
                    events.extend(claimed);
                    assigned.push((worker, task));
                }
                // Tasks may have failed on the way (their budget spent).
                Ok((None, failed)) => {
                    events.extend(failed);
                    break;
                }
                Err(err) => {
                    self.run = Some(run);
                    return Err(err);
                }
            }
        }
        self.run = Some(run);
        for (worker, task) in &assigned {
            events.extend(self.open_attempt(worker, AgentKind::Worker, Some(&task.id), now));
        }
        Ok((assigned, events))
    }

    /// Adds what an agent's latest model turn used and decides whether a budget is
    /// spent. Changes nothing stored.
    pub fn spend(&mut self, agent_id: &str, turn: &Usage) -> Spending {
        let config = self.run_config();
        let Some(run) = self.run.as_mut() else {
            return Spending::Within;
        };
        let task = run
            .seat(agent_id)
            .and_then(|seat| seat.task.as_ref())
            .and_then(|id| self.nodes.get(id));
        let task_spent = task.map_or(0.0, |node| node.cost_usd());
        let stage = task.map(|node| stage_of(node.stage));
        run.spend(agent_id, turn, stage, task_spent, &config)
    }

    /// What the task's earlier attempts and its running one have spent, and what is
    /// left of its budget, if it has one.
    pub fn budget_left(&self, id: &TaskId) -> Option<f64> {
        let budget = self.run_config().task_budget_usd?;
        let spent = self.nodes.get(id).map_or(0.0, |node| node.cost_usd());
        Some((budget - spent).max(0.0))
    }

    /// Holds dispatch until `until`; answers the pause in force, if a run goes.
    pub fn pause(&mut self, until: Now) -> Option<Now> {
        self.run.as_mut().map(|run| run.pause(until))
    }

    /// Records an attempt and settles its task: done, back in the queue, or failed,
    /// as `run::settle` decides from the typed ending. The agent leaves its seat.
    pub fn settle_attempt(
        &mut self,
        agent_id: &str,
        id: &TaskId,
        mut attempt: Attempt,
        ending: AttemptEnding,
        now: Now,
    ) -> Result<(Settlement, Events), BatonError> {
        let stage = stage_of(self.node(id)?.stage);
        let config = self.run_config();
        let seat = self.run.as_mut().and_then(|run| {
            attempt.usage = run.settle_usage(agent_id, stage, attempt.usage.clone());
            run.unseat(agent_id)
        });
        // The worker's record carries every turn of the attempt, those before the gate
        // sent its work back included.
        let cost_usd = seat
            .as_ref()
            .map_or(attempt.usage.cost_usd, Seat::own_cost_usd);
        let (task, mut events) = self.record_attempt(id, attempt, now)?;
        let halt = seat.as_ref().and_then(|seat| seat.halt.as_ref());
        let settlement = run::settle(&task, ending.clone(), halt, &config);
        let changed = match &settlement {
            Settlement::Complete(result) => self.complete_with(id, result.clone(), now)?.1,
            Settlement::Requeue(reason) => self.release(id, reason, now)?.1,
            Settlement::Fail(reason) => self.fail(id, reason, now)?.1,
            Settlement::Keep => Vec::new(),
        };
        events.extend(changed);
        let closing = worker_closing(&ending, halt, &settlement, &self.task(id)?, cost_usd);
        events.extend(self.close_attempt(agent_id, closing, now));
        Ok((settlement, events))
    }

    /// Records one turn of a task's agent before it is resumed on the same attempt
    /// (the gate sends work back): the turn's reported cost replaces what was counted
    /// of it.
    pub fn record_turn(
        &mut self,
        agent_id: &str,
        id: &TaskId,
        mut attempt: Attempt,
        now: Now,
    ) -> Result<(Task, Events), BatonError> {
        let stage = stage_of(self.node(id)?.stage);
        if let Some(run) = self.run.as_mut() {
            attempt.usage = run.settle_usage(agent_id, stage, attempt.usage.clone());
        }
        self.record_attempt(id, attempt, now)
    }

    /// An agent that never started its task (its worktree could not be made) leaves
    /// its seat, and the task fails with `reason`.
    pub fn abandon(
        &mut self,
        agent_id: &str,
        id: &TaskId,
        reason: &str,
        now: Now,
    ) -> Result<Events, BatonError> {
        if let Some(run) = self.run.as_mut() {
            run.unseat(agent_id);
        }
        let mut events = self.fail(id, reason, now)?.1;
        let closing = Closing {
            outcome: AttemptOutcome::Failed,
            reason: Some(reason.to_owned()),
            cost_usd: 0.0,
        };
        events.extend(self.close_attempt(agent_id, closing, now));
        Ok(events)
    }

    /// The leader ended, having reported `cost_usd` (0 when it was stopped before its
    /// result: then what the stream showed counts); `planned` says whether it added
    /// any task, `failure` why it failed. Its record keeps what it spent, which no
    /// task carries.
    pub fn leader_ended(
        &mut self,
        cost_usd: f64,
        planned: bool,
        failure: Option<String>,
        now: Now,
    ) -> Events {
        let Some(run) = self.run.as_mut() else {
            return Vec::new();
        };
        let cost_usd = cost_usd.max(run.attempt_spent(LEADER));
        run.settle_spending(LEADER, cost_usd);
        run.unseat(LEADER);
        let outcome = match (&failure, run.stopped()) {
            (Some(_), _) => AttemptOutcome::Failed,
            (None, Some(_)) => AttemptOutcome::Stopped,
            (None, None) => AttemptOutcome::Done,
        };
        let reason = failure.clone().or_else(|| run.stopped().map(str::to_owned));
        run.leader_ended(planned, failure);
        let closing = Closing {
            outcome,
            reason,
            cost_usd,
        };
        self.close_attempt(LEADER, closing, now)
    }

    /// Adds spending no agent of the run carries (the summary's).
    pub fn add_run_cost(&mut self, cost_usd: f64) {
        if let Some(run) = self.run.as_mut() {
            run.add_cost(cost_usd);
        }
    }

    /// The summary agent starts writing the run's summary.
    pub fn summary_started(&mut self, now: Now) -> Events {
        self.open_attempt(SUMMARY, AgentKind::Summary, None, now)
    }

    /// The summary agent ended, having reported `cost_usd` (which counts whether or
    /// not it answered); `failure` says why it gave no answer, when it did not (a
    /// plain summary is written instead).
    pub fn summary_ended(&mut self, cost_usd: f64, failure: Option<String>, now: Now) -> Events {
        self.add_run_cost(cost_usd);
        let closing = Closing {
            outcome: match failure {
                None => AttemptOutcome::Done,
                Some(_) => AttemptOutcome::Failed,
            },
            reason: failure,
            cost_usd,
        };
        self.close_attempt(SUMMARY, closing, now)
    }

    /// The run, once nothing more is left to do in it (then marked finishing, so this
    /// answers it once).
    pub fn finish_run_if_done(&mut self) -> Option<Finished> {
        let counts = self.counts;
        if !self.run.as_mut()?.finish_if_done(&counts) {
            return None;
        }
        // Asked after every change: the tasks are copied only once the run is done.
        let run = self.run.as_ref()?;
        let finished = run.finished_tasks(self.tasks(None));
        Some(Finished {
            goal: run.goal.clone(),
            mode: run.mode,
            plain: run.plain_ending(&counts, &finished),
            tasks: finished,
        })
    }

    /// The result the run going would end with, given its summary; none when no
    /// run goes.
    pub fn closing_result(&self, finished: &Finished, summary: &str) -> Option<RunResult> {
        let run = self.run.as_ref()?;
        let result = run.result(&finished.tasks, self.discoveries.len(), summary.to_owned());
        Some(RunResult {
            run: self.runs,
            ..result
        })
    }

    /// Ends the run with its summary and the path of its report, if one was
    /// written: dispatch is off, and its result is announced.
    pub fn end_run(
        &mut self,
        finished: &Finished,
        summary: String,
        report: Option<String>,
        now: Now,
    ) -> Result<(RunResult, Events), BatonError> {
        let Some(mut result) = self.closing_result(finished, &summary) else {
            return Err(BatonError::orchestration("no run is going"));
        };
        self.run = None;
        result.report = report;
        self.last_run = Some(result.clone());
        let mut events = self.set_running(false, now);
        events.push(Event::RunFinished(result.clone()));
        Ok((result, events))
    }
}
