//! The run's decisions over random histories: dispatch, spending, pauses, stops and
//! attempt endings in any order. After every step: never more than `max_workers`
//! workers, never a task on two agents, no two agents on one file in a shared
//! checkout, budgets never passed by more than one model turn, a stopped or paused
//! run dispatches nothing; every seated agent has exactly one open attempt record on
//! its lane; and every run finishes, with a result that counts what it did and no
//! record left open.

use std::collections::BTreeSet;

use baton_protocol::methods::{ConfigPatch, NewTask};
use baton_protocol::{ErrorCause, Event, RunMode, TaskStatus, Usage};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::{at, turn};
use crate::core::run::{AttemptEnding, FaultKind, Isolation, Settlement, Spending};
use crate::core::{Attempt, Board, RunStart};

const FILES: [&str; 3] = ["src/a.rs", "src/b.rs", "src/c.rs"];
/// The dearest model turn these histories spend, in dollars.
const MAX_TURN: f64 = 0.01;

#[derive(Debug, Clone)]
enum Ending {
    Success,
    AgentError,
    Fault,
    TimedOut,
    Stopped,
}

#[derive(Debug, Clone)]
enum Op {
    Dispatch,
    /// A seated agent (by index) reports a model turn of this many tenths of a cent.
    Spend(usize, u8),
    /// A seated agent's process ends.
    End(usize, Ending),
    /// A rate limit: no dispatch for this many seconds.
    Pause(i64),
    Wait(i64),
    Cancel(usize),
    Stop,
}

fn ending() -> impl Strategy<Value = Ending> {
    prop_oneof![
        6 => Just(Ending::Success),
        2 => Just(Ending::AgentError),
        1 => Just(Ending::Fault),
        1 => Just(Ending::TimedOut),
        1 => Just(Ending::Stopped),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Dispatch),
        6 => (any::<usize>(), 0u8..=10).prop_map(|(agent, tenths)| Op::Spend(agent, tenths)),
        6 => (any::<usize>(), ending()).prop_map(|(agent, ending)| Op::End(agent, ending)),
        1 => (1i64..120).prop_map(Op::Pause),
        2 => (1i64..60).prop_map(Op::Wait),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => Just(Op::Stop),
    ]
}

#[derive(Debug, Clone)]
struct Setup {
    tasks: Vec<(Vec<usize>, Vec<usize>)>,
    max_workers: u32,
    max_attempts: u32,
    task_budget: Option<u8>,
    run_budget: Option<u8>,
    shared: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    let task = (
        prop::collection::vec(any::<usize>(), 0..2),
        prop::collection::vec(0..FILES.len(), 0..2),
    );
    (
        prop::collection::vec(task, 1..8),
        1u32..4,
        1u32..4,
        prop::option::of(1u8..30),
        prop::option::of(1u8..60),
        any::<bool>(),
    )
        .prop_map(
            |(tasks, max_workers, max_attempts, task_budget, run_budget, shared)| Setup {
                tasks,
                max_workers,
                max_attempts,
                task_budget,
                run_budget,
                shared,
            },
        )
}

/// A board with a run going, and the clock.
struct History {
    board: Board,
    clock: i64,
    setup: Setup,
    paused_until: Option<i64>,
    stopped: bool,
    /// Spending a halted agent would do after its stop is not counted: its process
    /// was ended at once.
    halted: BTreeSet<String>,
    finished_tasks: usize,
}

fn fail(message: String) -> Result<(), TestCaseError> {
    Err(TestCaseError::fail(message))
}

impl History {
    fn new(setup: Setup) -> History {
        let mut board = Board::default();
        let patch = ConfigPatch {
            max_workers: Some(setup.max_workers),
            max_attempts: Some(setup.max_attempts),
            task_budget_usd: Some(setup.task_budget.map(|cents| f64::from(cents) / 1000.0)),
            run_budget_usd: Some(setup.run_budget.map(|cents| f64::from(cents) / 1000.0)),
            ..ConfigPatch::default()
        };
        board.configure(&patch, at(0)).expect("a valid patch");
        for (i, (dependencies, files)) in setup.tasks.iter().enumerate() {
            let existing = board.tasks(None);
            let dependencies = dependencies
                .iter()
                .filter(|_| !existing.is_empty())
                .map(|n| existing[n % existing.len()].id.clone())
                .collect();
            let new = NewTask {
                dependencies,
                context_files: files.iter().map(|&f| FILES[f].to_owned()).collect(),
                ..NewTask::new(format!("task {i}"))
            };
            board.add_tasks(vec![new], at(0)).expect("valid tasks");
        }
        let start = RunStart {
            mode: RunMode::Predefined,
            goal: None,
            overrides: ConfigPatch::default(),
            isolation: if setup.shared {
                Isolation::Shared
            } else {
                Isolation::Worktrees
            },
            notes: Vec::new(),
        };
        board.start_run(start, at(0)).expect("a run starts");
        History {
            board,
            clock: 0,
            setup,
            paused_until: None,
            stopped: false,
            halted: BTreeSet::new(),
            finished_tasks: 0,
        }
    }

    fn seated(&self) -> Vec<String> {
        self.board
            .run()
            .map(|run| run.seats().keys().cloned().collect())
            .unwrap_or_default()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let now = at(self.clock);
        match op {
            Op::Dispatch => {
                let (assigned, _) = self.board.dispatch(now).expect("dispatch");
                let paused = self.paused_until.is_some_and(|until| self.clock < until);
                if (self.stopped || paused) && !assigned.is_empty() {
                    return fail(format!("a stopped or paused run dispatched {assigned:?}"));
                }
            }
            Op::Spend(agent, tenths) => {
                let seated = self.seated();
                if seated.is_empty() {
                    return Ok(());
                }
                let agent = &seated[agent % seated.len()];
                if self.halted.contains(agent) {
                    return Ok(());
                }
                let spending = self.board.spend(agent, &turn(f64::from(*tenths) / 1000.0));
                match spending {
                    Spending::Within => {}
                    Spending::StopAgent => {
                        self.halted.insert(agent.clone());
                    }
                    Spending::StopRun => {
                        self.stopped = true;
                        self.halted.extend(seated);
                    }
                }
            }
            Op::End(agent, ending) => {
                let seated = self.seated();
                if seated.is_empty() {
                    return Ok(());
                }
                let agent = seated[agent % seated.len()].clone();
                self.end(&agent, ending.clone())?;
            }
            Op::Pause(seconds) => {
                self.board.pause(at(self.clock + seconds));
                let until = self.clock + seconds;
                self.paused_until = Some(self.paused_until.map_or(until, |known| known.max(until)));
            }
            Op::Wait(seconds) => self.clock += seconds,
            Op::Cancel(index) => {
                let tasks = self.board.tasks(None);
                if !tasks.is_empty() {
                    let id = tasks[index % tasks.len()].id.clone();
                    let _ = self.board.cancel(&id, now);
                }
            }
            Op::Stop => {
                self.board.stop_run("stopped by the user", now);
                self.stopped = true;
                self.halted.extend(self.seated());
            }
        }
        self.check()
    }

    /// The agent's process ended: a halted agent's always as stopped.
    fn end(&mut self, agent: &str, ending: Ending) -> Result<(), TestCaseError> {
        let now = at(self.clock);
        let task = self
            .board
            .run()
            .and_then(|run| run.seat(agent)?.task.clone());
        let Some(task) = task else {
            return Ok(());
        };
        let ending = if self.halted.remove(agent) {
            AttemptEnding::Stopped
        } else {
            match ending {
                Ending::Success => AttemptEnding::Succeeded {
                    output: "done".into(),
                    files_modified: Vec::new(),
                    files_created: Vec::new(),
                },
                Ending::AgentError => AttemptEnding::AgentError {
                    reason: "the agent stopped (error_during_execution): it broke".into(),
                },
                Ending::Fault => AttemptEnding::Fault {
                    kind: FaultKind::NoResult,
                    detail: "the agent exited without a result".into(),
                },
                Ending::TimedOut => AttemptEnding::TimedOut,
                // A stop no one asked for: what a cancel does.
                Ending::Stopped => AttemptEnding::Stopped,
            }
        };
        let (settlement, _) = self
            .board
            .settle_attempt(agent, &task, Attempt::default(), ending, now)
            .expect("an attempt settles");
        let status = self.board.task(&task).expect("a known task").status;
        let expected = match &settlement {
            Settlement::Complete(_) => TaskStatus::Done,
            Settlement::Requeue(_) => TaskStatus::Available,
            Settlement::Fail(_) => TaskStatus::Failed,
            Settlement::Keep => status,
        };
        if status != expected {
            return fail(format!("{task} settled as {settlement:?} but is {status}"));
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let Some(run) = self.board.run() else {
            return fail("the run ended before it was ended".into());
        };
        let open: BTreeSet<_> = self
            .board
            .attempts()
            .iter()
            .filter(|record| record.is_open())
            .map(|record| (record.lane.clone(), record.task.clone()))
            .collect();
        let seated: BTreeSet<_> = run
            .seats()
            .iter()
            .map(|(agent, seat)| (agent.clone(), seat.task.clone()))
            .collect();
        if open != seated {
            return fail(format!(
                "open attempt records {open:?} are not the seated agents {seated:?}"
            ));
        }
        let config = self.board.run_config();
        let workers: Vec<_> = run
            .seats()
            .iter()
            .filter(|(_, seat)| seat.task.is_some())
            .collect();
        if workers.len() > config.max_workers as usize {
            return fail(format!(
                "{} workers with max_workers {}",
                workers.len(),
                config.max_workers
            ));
        }
        let mut tasks = BTreeSet::new();
        let mut files = BTreeSet::new();
        for (agent, seat) in &workers {
            let id = seat.task.clone().expect("a worker's task");
            if !tasks.insert(id.clone()) {
                return fail(format!("{id} is on two agents"));
            }
            let task = self.board.task(&id).expect("a known task");
            let held_by_it =
                task.status.is_held() && task.claimed_by.as_deref() == Some(agent.as_str());
            if !held_by_it && !task.status.is_finished() {
                return fail(format!("{agent} works on {id}, which is {}", task.status));
            }
            if self.setup.shared {
                for file in &seat.files {
                    if !files.insert(file.clone()) {
                        return fail(format!("two agents work on {file} in one checkout"));
                    }
                }
            }
        }
        if let Some(budget) = config.run_budget_usd {
            if run.cost_usd() > budget + MAX_TURN + 1e-9 {
                return fail(format!(
                    "the run spent {} of a budget of {budget}",
                    run.cost_usd()
                ));
            }
        }
        if let Some(budget) = config.task_budget_usd {
            for (_, seat) in &workers {
                let id = seat.task.as_ref().expect("a worker's task");
                let spent = self.board.task(id).expect("a known task").usage.cost_usd
                    + seat.attempt.cost_usd;
                if spent > budget + MAX_TURN + 1e-9 {
                    return fail(format!("{id} spent {spent} of a budget of {budget}"));
                }
            }
        }
        Ok(())
    }

    /// Lets every agent end and dispatch go on until the run has nothing left to do;
    /// answers whether it finished within a bound.
    fn drain(&mut self) -> Result<(), TestCaseError> {
        let bound = 4 * (self.setup.tasks.len() + 1) * (self.setup.max_attempts as usize + 1);
        for _ in 0..bound {
            self.clock += 200;
            let (assigned, _) = self.board.dispatch(at(self.clock)).expect("dispatch");
            if self.stopped && !assigned.is_empty() {
                return fail(format!("a stopped run dispatched {assigned:?}"));
            }
            for agent in self.seated() {
                self.end(&agent, Ending::AgentError)?;
            }
            self.check()?;
            if let Some(finished) = self.board.finish_run_if_done() {
                self.finished_tasks = finished.tasks.len();
                let counts = self.board.counts();
                if !self.stopped && counts.available + counts.claimed + counts.in_progress > 0 {
                    return fail(format!("the run finished with work left: {counts:?}"));
                }
                let (result, _) = self
                    .board
                    .end_run(&finished, "summary".into(), None, at(self.clock))
                    .expect("the run ends");
                let done = finished
                    .tasks
                    .iter()
                    .filter(|t| t.status == TaskStatus::Done)
                    .count();
                let failed = finished
                    .tasks
                    .iter()
                    .filter(|t| t.status == TaskStatus::Failed)
                    .count();
                if (result.tasks_completed, result.tasks_failed) != (done, failed) {
                    return fail(format!("the result {result:?} miscounts the run"));
                }
                if self.board.run().is_some() || self.board.is_running() {
                    return fail("the run is still going after its end".into());
                }
                if let Some(open) = self.board.attempts().iter().find(|r| r.is_open()) {
                    return fail(format!("{open:?} is still open after the run's end"));
                }
                return Ok(());
            }
        }
        fail(format!("the run did not finish within {bound} rounds"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_run_keeps_its_promises_and_finishes(
        setup in setup(),
        ops in prop::collection::vec(op(), 0..60),
    ) {
        let mut history = History::new(setup);
        for op in &ops {
            history.apply(op)?;
        }
        history.drain()?;
    }
}

#[test]
fn a_second_run_and_a_load_are_refused_while_one_goes() {
    let mut board = Board::default();
    let start = || RunStart {
        mode: RunMode::Predefined,
        goal: None,
        overrides: ConfigPatch::default(),
        isolation: Isolation::Shared,
        notes: Vec::new(),
    };
    board
        .add_tasks(vec![NewTask::new("something to run")], at(0))
        .unwrap();
    board.start_run(start(), at(0)).unwrap();
    let before = board.state();
    let again = board.start_run(start(), at(1)).unwrap_err();
    assert_eq!(again.cause, Some(ErrorCause::RunGoing));
    let load = board.load(before.clone(), at(1)).unwrap_err();
    assert_eq!(load.cause, Some(ErrorCause::RunGoing));
    assert_eq!(board.state(), before, "refused operations change nothing");
}

#[test]
fn a_task_past_its_budget_fails_with_the_figure_and_its_agent_is_stopped() {
    let mut board = Board::default();
    let patch = ConfigPatch {
        task_budget_usd: Some(Some(0.002)),
        ..ConfigPatch::default()
    };
    board.configure(&patch, at(0)).unwrap();
    board
        .add_tasks(vec![NewTask::new("twelve steps")], at(0))
        .unwrap();
    let start = RunStart {
        mode: RunMode::Predefined,
        goal: None,
        overrides: ConfigPatch::default(),
        isolation: Isolation::Worktrees,
        notes: Vec::new(),
    };
    board.start_run(start, at(0)).unwrap();
    let (assigned, _) = board.dispatch(at(0)).unwrap();
    let (agent, task) = assigned.into_iter().next().unwrap();
    let mut decisions = Vec::new();
    for _ in 0..12 {
        decisions.push(board.spend(&agent, &turn(0.000_6)));
        if decisions.last() == Some(&Spending::StopAgent) {
            break;
        }
    }
    assert_eq!(
        decisions.len(),
        4,
        "stopped at the turn that crossed: {decisions:?}"
    );
    let attempt = Attempt {
        usage: Usage::default(),
        ..Attempt::default()
    };
    let (settlement, _) = board
        .settle_attempt(&agent, &task.id, attempt, AttemptEnding::Stopped, at(1))
        .unwrap();
    let Settlement::Fail(reason) = settlement else {
        panic!("{settlement:?}");
    };
    assert!(
        reason.contains("$0.0024") && reason.contains("task_budget_usd $0.0020"),
        "{reason}"
    );
    let task = board.task(&task.id).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(
        (task.usage.cost_usd - 0.0024).abs() < 1e-9,
        "{:?}",
        task.usage
    );
    assert_eq!(
        task.usage.turns, 4,
        "the turns the stream showed count, though no result came: {:?}",
        task.usage
    );

    // Retried with its budget still spent, it fails as it would go out: no agent
    // is started with nothing to spend, and no attempt is counted.
    board.retry(&task.id, at(2)).unwrap();
    let (assigned, events) = board.dispatch(at(3)).unwrap();
    assert!(assigned.is_empty(), "{assigned:?}");
    let again = board.task(&task.id).unwrap();
    assert_eq!(again.status, TaskStatus::Failed);
    assert_eq!(again.attempts, task.attempts);
    let error = again.result.unwrap().error.unwrap();
    assert!(
        error.contains("task_budget_usd $0.0020") && error.contains("no agent was started"),
        "{error}"
    );
    assert!(
        matches!(&events[..], [Event::TaskFailed(failed)] if failed.id == task.id),
        "{events:?}"
    );
}

#[test]
fn the_leader_s_and_the_summary_s_spending_is_in_the_board_s_cost_and_kept() {
    let mut board = Board::default();
    board
        .init(
            baton_protocol::methods::InitParams {
                goal: "plan it".into(),
                master_plan: String::new(),
                config: ConfigPatch::default(),
                keep: false,
            },
            at(0),
        )
        .unwrap();
    let start = RunStart {
        mode: RunMode::Leader,
        goal: None,
        overrides: ConfigPatch::default(),
        isolation: Isolation::Shared,
        notes: Vec::new(),
    };
    board.start_run(start, at(0)).unwrap();
    board.spend("leader", &turn(0.05));
    // Stopped before its result: what the stream showed counts.
    board.leader_ended(0.0, false, None, at(1));
    assert!((board.status().cost_usd - 0.05).abs() < 1e-9);
    let finished = board.finish_run_if_done().expect("nothing left to do");
    board.summary_started(at(2));
    // A summary that gave no usable answer still spent what it reported.
    board.summary_ended(0.02, Some("no answer".into()), at(3));
    let (result, _) = board
        .end_run(&finished, "summary".into(), None, at(3))
        .unwrap();
    assert!((result.cost_usd - 0.07).abs() < 1e-9, "{result:?}");
    assert!((board.status().cost_usd - 0.07).abs() < 1e-9);
    let saved = Board::from_state(board.state(), false).unwrap();
    assert!(
        (saved.status().cost_usd - 0.07).abs() < 1e-9,
        "the figure is kept with the board"
    );
}
