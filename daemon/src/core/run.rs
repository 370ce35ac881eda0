//! A run's live decisions, with no I/O and the time as an argument: which ready task
//! goes to which free worker, how an attempt's ending settles, whether a budget is
//! spent, whether dispatch is paused, whether the run is finished, and its result.
//! The board holds the run going (`Board::start_run` … `Board::end_run`, in
//! `board/runs.rs`); the agent runtime only carries these decisions out.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use baton_protocol::methods::ConfigPatch;
use baton_protocol::{
    ByStage, ByStatus, Config, RunMode, RunPhase, RunResult, RunStatus, Task, TaskId, TaskStage,
    TaskStatus, Usage,
};
use chrono::{DateTime, Utc};

use super::Review;

mod settlement;
mod summary;

pub use settlement::{settle, spent_before_start, AttemptEnding, FaultKind, Halt, Settlement};
use summary::count;
pub use summary::{clip, plain_summary, task_count};

type Now = DateTime<Utc>;

/// The one agent of a run that plans; workers are `worker-1`, `worker-2`, ….
pub const LEADER: &str = "leader";
/// The agent that writes a run's summary at its end.
pub const SUMMARY: &str = "summary";

/// Where a run's agents work, as far as dispatch cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// Each task in its own worktree: any ready task may go to any free worker.
    Worktrees,
    /// All in one checkout: tasks naming the same context files never run at once.
    Shared,
}

/// An agent of the run and what it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Seat {
    pub task: Option<TaskId>,
    /// The task's context files, which no other agent in a shared checkout may touch.
    pub files: Vec<String>,
    pub since: Now,
    /// What its current attempt has used so far, turn by turn as the stream reported
    /// it: an estimate until the attempt's result reports its own figures.
    pub attempt: Usage,
    /// What it has spent in this run, its task's reviewers included: they are
    /// paid from the seat of the worker whose work they read.
    pub cost_usd: f64,
    /// What its task's reviewers spent, which their own records carry.
    pub reviews_usd: f64,
    pub halt: Option<Halt>,
    /// The stage its task was at when its latest turn was spent: an attempt's final
    /// figure corrects that stage's share, whatever stage the task has reached since.
    pub turn_stage: Option<TaskStage>,
}

impl Seat {
    /// What the agent in the seat spent itself, its reviewers' part left out.
    pub fn own_cost_usd(&self) -> f64 {
        (self.cost_usd - self.reviews_usd).max(0.0)
    }
}

/// Where the leader is.
#[derive(Debug, Clone, PartialEq)]
enum Leader {
    Absent,
    Planning,
    /// It ended without adding a task: nothing more will come.
    Failed(String),
    Done,
}

/// What spending a figure decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Spending {
    Within,
    /// The agent's task crossed its budget: stop that agent.
    StopAgent,
    /// The run crossed its budget: stop every agent.
    StopRun,
}

/// One run in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub mode: RunMode,
    pub goal: String,
    /// Settings for this run only, over the workspace's configuration.
    pub overrides: ConfigPatch,
    pub isolation: Isolation,
    pub started_at: Now,
    /// How each task that had finished before the run ended, and how many
    /// discoveries there were: the run's result counts only what it did.
    finished_before: HashMap<TaskId, TaskStatus>,
    /// `finished_before` counted by status: what the run's progress leaves out.
    before: ByStatus,
    discoveries_before: usize,
    cost_usd: f64,
    paused_until: Option<Now>,
    /// Why dispatch stopped before the work was done.
    stopped: Option<String>,
    leader: Leader,
    /// The summary is being written: nothing more starts.
    finishing: bool,
    seats: BTreeMap<String, Seat>,
    /// Verdicts given by reviewers, not yet taken by the gate.
    reviews: BTreeMap<TaskId, Review>,
    stages: ByStage,
    /// It stopped while its leader was still planning.
    plan_cut_short: bool,
    /// The tasks whose stage this run has set: a task resumed at the stage a daemon
    /// that stopped left it in enters it anew in this run.
    staged: HashSet<TaskId>,
}

impl Run {
    /// Counts what the run's agents spent before the daemon stopped, as the run goes
    /// on under the next one.
    pub fn spent_before_restart(&mut self, cost_usd: f64) {
        self.cost_usd += cost_usd;
    }

    /// A run starting now over a board whose finished tasks and discoveries are
    /// given, so that its result counts only what it did.
    pub fn new(
        mode: RunMode,
        goal: String,
        overrides: ConfigPatch,
        isolation: Isolation,
        finished_before: HashMap<TaskId, TaskStatus>,
        discoveries_before: usize,
        now: Now,
    ) -> Run {
        let mut before = ByStatus::default();
        for status in finished_before.values() {
            *before.get_mut(*status) += 1;
        }
        Run {
            mode,
            goal,
            overrides,
            isolation,
            started_at: now,
            finished_before,
            before,
            discoveries_before,
            cost_usd: 0.0,
            paused_until: None,
            stopped: None,
            leader: if mode.plans() {
                Leader::Planning
            } else {
                Leader::Absent
            },
            finishing: false,
            seats: BTreeMap::new(),
            reviews: BTreeMap::new(),
            stages: ByStage::default(),
            staged: HashSet::new(),
            plan_cut_short: false,
        }
    }

    pub fn seats(&self) -> &BTreeMap<String, Seat> {
        &self.seats
    }

    pub fn seat(&self, agent_id: &str) -> Option<&Seat> {
        self.seats.get(agent_id)
    }

    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    pub fn cost_usd(&self) -> f64 {
        self.cost_usd
    }

    /// The run as status shows it.
    pub fn status(&self) -> RunStatus {
        let workers = self.seats.values().any(|seat| seat.task.is_some());
        RunStatus {
            phase: match (self.finishing, self.leader == Leader::Planning && !workers) {
                (true, _) => RunPhase::Summarising,
                (false, true) => RunPhase::Planning,
                (false, false) => RunPhase::Working,
            },
            mode: self.mode,
            started_at: self.started_at,
            cost_usd: self.cost_usd,
            paused_until: self.paused_until,
            stopped: self.stopped.clone(),
            waiting_for: Vec::new(),
        }
    }

    /// How many more workers may start now, and the name of each: none once the run
    /// is stopped or finishing, or while dispatch is paused.
    pub fn free_workers(&mut self, max_workers: u32, now: Now) -> Vec<String> {
        if self.stopped.is_some() || self.finishing || self.mode == RunMode::Plan {
            return Vec::new();
        }
        match self.paused_until {
            Some(until) if until > now => return Vec::new(),
            Some(_) => self.paused_until = None,
            None => {}
        }
        let working = self.seats.keys().filter(|id| *id != LEADER).count();
        let free = (max_workers as usize).saturating_sub(working);
        (1..)
            .map(|n| format!("worker-{n}"))
            .filter(|id| !self.seats.contains_key(id))
            .take(free)
            .collect()
    }

    /// The context files no task may name now: in a shared checkout, those of the
    /// tasks being worked on.
    pub fn busy_files(&self) -> BTreeSet<String> {
        match self.isolation {
            Isolation::Worktrees => BTreeSet::new(),
            Isolation::Shared => self
                .seats
                .values()
                .flat_map(|seat| seat.files.iter().cloned())
                .collect(),
        }
    }

    /// Seats `agent_id`, on `task` (a worker) or on none (the leader).
    pub fn seat_agent(&mut self, agent_id: &str, task: Option<&Task>, now: Now) {
        self.seats.insert(
            agent_id.to_owned(),
            Seat {
                task: task.map(|task| task.id.clone()),
                files: task
                    .map(|task| task.context.files.clone())
                    .unwrap_or_default(),
                since: now,
                attempt: Usage::default(),
                cost_usd: 0.0,
                reviews_usd: 0.0,
                halt: None,
                turn_stage: None,
            },
        );
    }

    /// `task`, at stage `was`, is now at `stage`: counted as entering it when that
    /// is a change, or the first stage this run gives the task.
    pub fn entered(&mut self, task: &TaskId, was: Option<TaskStage>, stage: TaskStage) {
        let first = self.staged.insert(task.clone());
        if first || was != Some(stage) {
            self.stages.get_mut(stage).entered += 1;
        }
    }

    /// Keeps a reviewer's verdict on `task` for the gate.
    pub fn give_review(&mut self, task: TaskId, review: Review) {
        self.reviews.insert(task, review);
    }

    /// The verdict on `task` not yet taken, if any.
    pub fn take_review(&mut self, task: &TaskId) -> Option<Review> {
        self.reviews.remove(task)
    }

    /// The agent is gone; answers its seat.
    pub fn unseat(&mut self, agent_id: &str) -> Option<Seat> {
        self.seats.remove(agent_id)
    }

    /// Adds what an agent's latest model turn used (`turn`) to it and its cost to the
    /// run and to the `stage` its task is at, and decides whether a budget is now
    /// spent. `task_spent` is what the agent's task spent in its earlier attempts.
    pub fn spend(
        &mut self,
        agent_id: &str,
        turn: &Usage,
        stage: Option<TaskStage>,
        task_spent: f64,
        config: &Config,
    ) -> Spending {
        let Some(seat) = self.seats.get_mut(agent_id) else {
            return Spending::Within;
        };
        let cost_usd = turn.cost_usd;
        if let Some(stage) = stage {
            self.stages.get_mut(stage).cost_usd += cost_usd;
            seat.turn_stage = Some(stage);
        }
        seat.attempt.add(turn);
        seat.cost_usd += cost_usd;
        self.cost_usd += cost_usd;
        if seat.halt.is_some() {
            return Spending::Within;
        }
        let task_total = task_spent + seat.attempt.cost_usd;
        if let Some(budget) = config
            .run_budget_usd
            .filter(|&budget| self.cost_usd >= budget)
        {
            if seat.task.is_some() {
                seat.halt = Some(Halt::RunBudget {
                    spent: self.cost_usd,
                    budget,
                });
            }
            self.stop(format!(
                "the run's budget is spent: ${:.4} of run_budget_usd ${budget:.4}",
                self.cost_usd
            ));
            return Spending::StopRun;
        }
        match config.task_budget_usd {
            Some(budget) if seat.task.is_some() && task_total >= budget => {
                seat.halt = Some(Halt::TaskBudget {
                    spent: task_total,
                    budget,
                });
                Spending::StopAgent
            }
            _ => Spending::Within,
        }
    }

    /// Corrects an attempt's spending to the figure its final result reports (the
    /// stream's per-turn figures are estimates); answers the difference it made.
    pub fn settle_spending(&mut self, agent_id: &str, reported_usd: f64) -> f64 {
        let Some(seat) = self.seats.get_mut(agent_id) else {
            return 0.0;
        };
        let difference = reported_usd - seat.attempt.cost_usd;
        seat.attempt = Usage::default();
        seat.turn_stage = None;
        seat.cost_usd += difference;
        self.cost_usd += difference;
        difference
    }

    /// Settles an attempt's (or a turn's) spending at the figures it ends with (see
    /// [`Run::final_usage`]), counting the correction to the stage of its last turn,
    /// or to `stage`, where its task is, when it streamed none; answers them.
    pub fn settle_usage(&mut self, agent_id: &str, stage: TaskStage, reported: Usage) -> Usage {
        let usage = self.final_usage(agent_id, reported);
        let stage = self
            .seats
            .get(agent_id)
            .and_then(|seat| seat.turn_stage)
            .unwrap_or(stage);
        let difference = self.settle_spending(agent_id, usage.cost_usd);
        self.stages.get_mut(stage).cost_usd += difference;
        usage
    }

    /// Notes that a reviewer of the task in `agent_id`'s seat spent `cost_usd`.
    pub fn reviewed(&mut self, agent_id: &str, cost_usd: f64) {
        if let Some(seat) = self.seats.get_mut(agent_id) {
            seat.reviews_usd += cost_usd;
        }
    }

    /// What this agent's current attempt has spent, as counted so far.
    pub fn attempt_spent(&self, agent_id: &str) -> f64 {
        self.seats
            .get(agent_id)
            .map_or(0.0, |seat| seat.attempt.cost_usd)
    }

    /// An attempt's final figures: what its result reported, at no lower a cost than
    /// the stream showed, and the stream's turns and tokens when it ended without a
    /// result (stopped, timed out, killed by a budget).
    pub fn final_usage(&self, agent_id: &str, reported: Usage) -> Usage {
        let Some(seat) = self.seats.get(agent_id) else {
            return reported;
        };
        let counted = &seat.attempt;
        let mut usage = match reported.turns {
            0 => Usage {
                cost_usd: reported.cost_usd,
                duration_ms: reported.duration_ms,
                ..counted.clone()
            },
            _ => reported,
        };
        usage.cost_usd = usage.cost_usd.max(counted.cost_usd);
        usage
    }

    /// Adds spending that no seat carries (the summary's).
    pub fn add_cost(&mut self, cost_usd: f64) {
        self.cost_usd += cost_usd;
    }

    /// Holds dispatch until `until` (running agents go on: Claude Code retries for
    /// them), keeping the later of two pauses. Answers the pause now in force.
    pub fn pause(&mut self, until: Now) -> Now {
        let until = self.paused_until.map_or(until, |known| known.max(until));
        self.paused_until = Some(until);
        until
    }

    /// Stops dispatch, keeping the first reason; every seated agent is to stop.
    pub fn stop(&mut self, why: String) {
        self.plan_cut_short |= self.stopped.is_none() && self.leader == Leader::Planning;
        self.stopped.get_or_insert(why);
        for seat in self.seats.values_mut() {
            if seat.task.is_some() {
                let why = self.stopped.clone().expect("set above");
                seat.halt.get_or_insert(Halt::RunStopped(why));
            }
        }
    }

    /// The leader ended; `planned` says whether it added any task.
    pub fn leader_ended(&mut self, planned: bool, failure: Option<String>) {
        self.leader = if planned {
            Leader::Done
        } else {
            Leader::Failed(failure.unwrap_or_else(|| "the leader added no tasks".into()))
        };
    }

    /// Whether the run has nothing more to do: no agent works, the leader is done,
    /// and either dispatch stopped or no task is left to do. Marks it finishing.
    pub fn finish_if_done(&mut self, counts: &ByStatus) -> bool {
        let work_left = counts.available + counts.claimed + counts.in_progress > 0;
        let done = self.seats.is_empty()
            && self.leader != Leader::Planning
            && !self.finishing
            && (self.stopped.is_some() || !work_left || self.mode == RunMode::Plan);
        if done {
            self.finishing = true;
        }
        done
    }

    /// A task that had finished before the run began was opened again in it (a
    /// retry): from now on it is the run's.
    pub fn reopened(&mut self, id: &TaskId) {
        if let Some(status) = self.finished_before.remove(id) {
            *self.before.get_mut(status) -= 1;
        }
    }

    /// The run's own tasks by status, from the board's `counts`: those that were
    /// waiting when it began, those added while it goes and those it reopened, not
    /// what earlier runs finished.
    pub fn progress(&self, counts: &ByStatus) -> ByStatus {
        let mut own = *counts;
        for status in TaskStatus::ALL {
            let own_count = own.get_mut(status);
            *own_count = own_count.saturating_sub(self.before.get(status));
        }
        own
    }

    /// The tasks this run finished (or finished differently than before it began).
    pub fn finished_tasks(&self, tasks: Vec<Task>) -> Vec<Task> {
        tasks
            .into_iter()
            .filter(|task| {
                task.status.is_finished()
                    && self.finished_before.get(&task.id) != Some(&task.status)
            })
            .collect()
    }

    /// How the summary begins when no model writes it: the run stopped early, or the
    /// leader failed before any work. `None` means the work was done and a summary
    /// agent may write it.
    pub fn plain_ending(&self, counts: &ByStatus, finished: &[Task]) -> Option<String> {
        match (&self.stopped, &self.leader) {
            (Some(why), _) => {
                let left = counts.available + counts.claimed + counts.in_progress;
                let wait = if left == 1 { "waits" } else { "wait" };
                Some(format!(
                    "Stopped: {why}; {} {wait} for the next run.\n{}",
                    task_count(left),
                    plain_summary(finished)
                ))
            }
            (None, Leader::Failed(error)) if finished.is_empty() => {
                Some(format!("Nothing was done: {error}."))
            }
            _ => None,
        }
    }

    /// The run's result, from the tasks it finished and the board's discoveries.
    pub fn result(&self, finished: &[Task], discoveries: usize, summary: String) -> RunResult {
        RunResult {
            goal: self.goal.clone(),
            tasks_completed: count(finished, TaskStatus::Done),
            tasks_failed: count(finished, TaskStatus::Failed),
            tasks_cancelled: count(finished, TaskStatus::Cancelled),
            discoveries: discoveries.saturating_sub(self.discoveries_before),
            summary,
            cost_usd: self.cost_usd,
            run: 0,
            report: None,
            stages: self.stages,
            stopped: match (&self.stopped, &self.leader) {
                (Some(why), _) if self.plan_cut_short => Some(format!(
                    "{why}; its leader was stopped before it finished the plan, so the tasks \
                     it added are only part of it"
                )),
                (Some(why), _) => Some(why.clone()),
                // No plan was made and nothing was done: the goal was not worked on.
                // (Tasks that waited on the board and were done make it a run that did
                // its work; its summary says the leader planned nothing.)
                (None, Leader::Failed(error)) if finished.is_empty() => {
                    Some(format!("its leader made no plan: {error}"))
                }
                (None, _) => None,
            },
        }
    }
}
