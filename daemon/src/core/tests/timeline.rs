//! The record of agent runs: each run's attempts on their lanes, opened when an agent
//! starts and closed with how it ended, numbered by run, kept with the board.

use std::collections::HashMap;

use baton_protocol::methods::{ConfigPatch, NewTask};
use baton_protocol::{AgentKind, AttemptOutcome, ErrorKind, RunMode, TaskId, TaskStatus, Usage};

use super::at;
use crate::core::run::{AttemptEnding, FaultKind, Isolation, LEADER, SUMMARY};
use crate::core::{Attempt, Board, Closing, LostSpending, RunStart};

fn start(mode: RunMode) -> RunStart {
    RunStart {
        mode,
        goal: Some("ship it".into()),
        overrides: ConfigPatch {
            max_workers: Some(2),
            ..ConfigPatch::default()
        },
        isolation: Isolation::Worktrees,
        notes: Vec::new(),
    }
}

fn spent(cost_usd: f64) -> Attempt {
    Attempt {
        usage: Usage {
            cost_usd,
            ..Usage::default()
        },
        ..Attempt::default()
    }
}

fn succeeded() -> AttemptEnding {
    AttemptEnding::Succeeded {
        output: "done".into(),
        files_modified: Vec::new(),
        files_created: Vec::new(),
    }
}

/// A board with two independent tasks, a predefined run going, both dispatched.
fn two_workers() -> (Board, Vec<(String, baton_protocol::TaskId)>) {
    let mut board = Board::default();
    board
        .add_tasks(vec![NewTask::new("one"), NewTask::new("two")], at(0))
        .unwrap();
    board.start_run(start(RunMode::Predefined), at(0)).unwrap();
    let (assigned, _) = board.dispatch(at(1)).unwrap();
    let assigned = assigned
        .into_iter()
        .map(|(agent, task)| (agent, task.id))
        .collect();
    (board, assigned)
}

#[test]
fn each_dispatched_worker_opens_a_record_on_its_own_lane() {
    let (board, assigned) = two_workers();
    let timeline = board.timeline(None).unwrap();
    assert_eq!((timeline.run, timeline.runs, timeline.going), (1, 1, true));
    let lanes: Vec<_> = timeline
        .attempts
        .iter()
        .map(|record| {
            (
                record.lane.as_str(),
                record.kind,
                record.task.clone().unwrap(),
                record.is_open(),
            )
        })
        .collect();
    assert_eq!(
        lanes,
        [
            ("worker-1", AgentKind::Worker, assigned[0].1.clone(), true),
            ("worker-2", AgentKind::Worker, assigned[1].1.clone(), true),
        ]
    );
    assert!(timeline.attempts.iter().all(|r| r.started_at == at(1)));
}

#[test]
fn an_attempt_closes_with_its_outcome_cost_and_reason() {
    let (mut board, assigned) = two_workers();
    let (worker, task) = &assigned[0];
    board
        .settle_attempt(worker, task, spent(0.25), succeeded(), at(5))
        .unwrap();
    let (worker, task) = &assigned[1];
    let fault = AttemptEnding::Fault {
        kind: FaultKind::NoResult,
        detail: "the agent exited without a result".into(),
    };
    board
        .settle_attempt(worker, task, spent(0.5), fault, at(7))
        .unwrap();
    let attempts = board.timeline(None).unwrap().attempts;
    assert_eq!(attempts[0].ended_at, Some(at(5)));
    assert_eq!(attempts[0].outcome, Some(AttemptOutcome::Done));
    assert_eq!(attempts[0].cost_usd, 0.25);
    assert_eq!(attempts[0].reason, None);
    assert_eq!(attempts[1].outcome, Some(AttemptOutcome::Failed));
    assert_eq!(
        attempts[1].reason.as_deref(),
        Some("the agent exited without a result")
    );
    assert_eq!(board.task(task).unwrap().status, TaskStatus::Failed);
}

#[test]
fn a_requeued_attempt_and_its_retry_are_two_records_on_the_lanes_that_ran_them() {
    let mut board = Board::default();
    board
        .configure(
            &ConfigPatch {
                max_attempts: Some(2),
                ..ConfigPatch::default()
            },
            at(0),
        )
        .unwrap();
    board.add_tasks(vec![NewTask::new("flaky")], at(0)).unwrap();
    board.start_run(start(RunMode::Predefined), at(0)).unwrap();
    let (assigned, _) = board.dispatch(at(1)).unwrap();
    let (worker, task) = assigned.into_iter().next().unwrap();
    board
        .settle_attempt(
            &worker,
            &task.id,
            spent(0.1),
            AttemptEnding::TimedOut,
            at(2),
        )
        .unwrap();
    let (again, _) = board.dispatch(at(3)).unwrap();
    let (worker, task) = again.into_iter().next().unwrap();
    board
        .settle_attempt(&worker, &task.id, spent(0.2), succeeded(), at(4))
        .unwrap();
    let outcomes: Vec<_> = board
        .timeline(None)
        .unwrap()
        .attempts
        .iter()
        .map(|r| (r.lane.clone(), r.outcome, r.started_at, r.ended_at))
        .collect();
    assert_eq!(
        outcomes,
        [
            (
                "worker-1".to_owned(),
                Some(AttemptOutcome::TimedOut),
                at(1),
                Some(at(2))
            ),
            (
                "worker-1".to_owned(),
                Some(AttemptOutcome::Done),
                at(3),
                Some(at(4))
            ),
        ]
    );
}

#[test]
fn a_stopped_run_closes_its_attempts_as_stopped() {
    let (mut board, assigned) = two_workers();
    board.stop_run("stopped by the user", at(3));
    for (worker, task) in &assigned {
        board
            .settle_attempt(worker, task, spent(0.0), AttemptEnding::Stopped, at(4))
            .unwrap();
    }
    let attempts = board.timeline(None).unwrap().attempts;
    assert!(attempts
        .iter()
        .all(|r| r.outcome == Some(AttemptOutcome::Stopped)));
    assert!(attempts[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("stopped by the user"));
}

#[test]
fn the_leader_and_the_summary_have_lanes_of_their_own() {
    let mut board = Board::default();
    board.start_run(start(RunMode::Leader), at(0)).unwrap();
    board
        .add_tasks(vec![NewTask::new("planned")], at(1))
        .unwrap();
    board.leader_ended(0.3, true, None, at(2));
    board.open_attempt(SUMMARY, AgentKind::Summary, None, at(3));
    board.close_attempt(SUMMARY, Closing::done(0.05), at(4));
    let attempts = board.timeline(None).unwrap().attempts;
    let seen: Vec<_> = attempts
        .iter()
        .map(|r| (r.lane.as_str(), r.kind, r.outcome, r.cost_usd))
        .collect();
    assert_eq!(
        seen,
        [
            (LEADER, AgentKind::Leader, Some(AttemptOutcome::Done), 0.3),
            (
                SUMMARY,
                AgentKind::Summary,
                Some(AttemptOutcome::Done),
                0.05
            ),
        ]
    );
}

#[test]
fn a_leader_that_fails_says_why() {
    let mut board = Board::default();
    board.start_run(start(RunMode::Leader), at(0)).unwrap();
    board.leader_ended(0.0, false, Some("the leader: it broke".into()), at(2));
    let record = &board.timeline(None).unwrap().attempts[0];
    assert_eq!(record.outcome, Some(AttemptOutcome::Failed));
    assert_eq!(record.reason.as_deref(), Some("the leader: it broke"));
}

#[test]
fn runs_are_numbered_and_each_timeline_holds_its_own_attempts() {
    let (mut board, assigned) = two_workers();
    for (worker, task) in &assigned {
        board
            .settle_attempt(worker, task, spent(0.1), succeeded(), at(2))
            .unwrap();
    }
    let finished = board.finish_run_if_done().expect("the run is done");
    let (result, _) = board
        .end_run(&finished, "done".into(), Some("r.md".into()), at(3))
        .unwrap();
    assert_eq!((result.run, result.report.as_deref()), (1, Some("r.md")));
    board.add_tasks(vec![NewTask::new("three")], at(4)).unwrap();
    board.start_run(start(RunMode::Predefined), at(4)).unwrap();
    board.dispatch(at(5)).unwrap();
    let second = board.timeline(None).unwrap();
    assert_eq!((second.run, second.runs, second.attempts.len()), (2, 2, 1));
    assert_eq!(second.attempts[0].id, 2);
    let first = board.timeline(Some(1)).unwrap();
    assert!(!first.going);
    assert_eq!(first.attempts.len(), 2);
    let missing = board.timeline(Some(3)).unwrap_err();
    assert_eq!(missing.kind, ErrorKind::InvalidInputError);
    assert!(missing.message.contains("runs are 1 to 2"), "{missing}");
}

#[test]
fn the_record_survives_a_save_and_a_restore_and_lost_agents_close_as_lost() {
    let (board, _) = two_workers();
    let state = board.state();
    assert_eq!(state.attempts.len(), 2);
    let json = serde_json::to_string(&state).unwrap();
    let read: baton_protocol::CoordinationState = serde_json::from_str(&json).unwrap();
    let mut restored =
        Board::restore(board.meta(), read.tasks, read.discoveries, read.attempts).unwrap();
    assert_eq!(restored.runs(), 1);
    assert_eq!(restored.attempts(), board.attempts());
    restored.end_lost_attempts(&LostSpending::default(), at(9));
    let attempts = restored.timeline(None).unwrap().attempts;
    assert!(attempts
        .iter()
        .all(|r| r.outcome == Some(AttemptOutcome::Lost) && r.ended_at == Some(at(9))));
}

/// What a worker cut off on `task` spent, as its log shows.
fn by_task(task: &TaskId, spent: &Usage) -> LostSpending {
    LostSpending {
        by_task: HashMap::from([(task.clone(), spent.clone())]),
        ..LostSpending::default()
    }
}

/// The board a daemon that stopped leaves: restored from what was stored, with no
/// run going.
fn restarted(before: &Board) -> Board {
    let state = before.state();
    Board::restore(
        before.meta(),
        state.tasks,
        state.discoveries,
        state.attempts,
    )
    .unwrap()
}

#[test]
fn what_a_lost_agent_spent_is_paid_on_its_task_and_its_record() {
    let (before, assigned) = two_workers();
    let (_, first) = &assigned[0];
    let (_, second) = &assigned[1];
    let mut board = restarted(&before);
    let spent = Usage {
        cost_usd: 0.25,
        input_tokens: 1_000,
        output_tokens: 100,
        turns: 2,
        duration_ms: 0,
    };
    board.end_lost_attempts(&by_task(first, &spent), at(3));
    let records = board.timeline(None).unwrap().attempts;
    let cost_of = |task: &TaskId| {
        records
            .iter()
            .find(|record| record.task.as_ref() == Some(task))
            .unwrap()
            .cost_usd
    };
    assert_eq!((cost_of(first), cost_of(second)), (0.25, 0.0));
    assert_eq!(board.task(first).unwrap().usage, spent);
    assert_eq!(board.task(second).unwrap().usage, Usage::default());
    assert_eq!(board.total_cost_usd(), 0.25);
}

#[test]
fn a_run_a_restarted_daemon_resumes_is_the_same_run_with_what_it_spent() {
    // Found when it was tried: resumed after kill -9, a run began again at $0 as
    // run 2, so run_budget_usd capped only what was spent after the restart.
    let (before, assigned) = two_workers();
    let (_, first) = &assigned[0];
    let mut board = restarted(&before);
    let spent = Usage {
        cost_usd: 0.25,
        turns: 2,
        ..Usage::default()
    };
    board.end_lost_attempts(&by_task(first, &spent), at(3));
    for id in board.supervised() {
        board.release(&id, "the daemon stopped", at(3)).unwrap();
    }
    board.start_run(start(RunMode::Predefined), at(4)).unwrap();
    // From its first agent's start, as its timeline tells it.
    let run = board.status().run.unwrap();
    assert_eq!((run.started_at, run.cost_usd), (at(1), 0.25));
    let timeline = board.timeline(None).unwrap();
    assert_eq!((timeline.run, timeline.runs), (1, 1));
}

#[test]
fn a_run_resumed_with_nothing_left_to_do_ends_and_one_without_records_keeps_its_number() {
    // Found when it was tried: the run's only task was done before the daemon was
    // killed, so the resumed run was refused (nothing to run) and never had a result,
    // a summary or a report.
    let (mut before, assigned) = two_workers();
    for (agent, task) in &assigned {
        let attempt = Attempt::default();
        let ending = crate::core::run::AttemptEnding::Succeeded {
            output: "done".into(),
            files_modified: Vec::new(),
            files_created: Vec::new(),
        };
        before
            .settle_attempt(agent, task, attempt, ending, at(2))
            .unwrap();
    }
    let mut board = restarted(&before);
    assert!(board.is_running());
    board.start_run(start(RunMode::Predefined), at(4)).unwrap();
    assert_eq!(board.timeline(None).unwrap().run, 1);
    assert!(board.finish_run_if_done().is_some(), "it ends at once");

    // Dispatch on and no agent ever started: still the run that was going.
    let mut waiting = Board::default();
    waiting.add_tasks(vec![NewTask::new("one")], at(0)).unwrap();
    let mut blocked = NewTask::new("two");
    blocked.dependencies = vec![TaskId::numbered(1)];
    waiting.add_tasks(vec![blocked], at(0)).unwrap();
    waiting.claim("outsider", at(0)).unwrap();
    waiting
        .start_run(start(RunMode::Predefined), at(1))
        .unwrap();
    let mut board = restarted(&waiting);
    board.start_run(start(RunMode::Predefined), at(5)).unwrap();
    assert_eq!(board.runs(), 1);
}

#[test]
fn what_a_leader_cut_off_spent_is_paid_on_its_record_and_in_the_board_s_cost() {
    // Found when it was tried: a leader killed mid-plan after $0.30 of turns closed as
    // lost with $0, and the board's cost left it out.
    let mut before = Board::default();
    let goal = baton_protocol::methods::InitParams {
        goal: "plan it".into(),
        master_plan: String::new(),
        config: ConfigPatch::default(),
        keep: false,
    };
    before.init(goal, at(0)).unwrap();
    before.start_run(start(RunMode::Leader), at(0)).unwrap();
    let mut board = restarted(&before);
    let spent = Usage {
        cost_usd: 0.3,
        turns: 1,
        ..Usage::default()
    };
    let lost = LostSpending {
        by_lane: HashMap::from([(LEADER.to_owned(), spent)]),
        ..LostSpending::default()
    };
    board.end_lost_attempts(&lost, at(3));
    let leader = board.timeline(None).unwrap().attempts.remove(0);
    assert_eq!(
        (leader.outcome, leader.cost_usd),
        (Some(AttemptOutcome::Lost), 0.3)
    );
    assert!((board.total_cost_usd() - 0.3).abs() < 1e-9);
}

#[test]
fn a_state_whose_attempt_ids_are_out_of_order_is_refused() {
    let (board, _) = two_workers();
    let mut state = board.state();
    state.attempts[1].id = 7;
    let err = Board::default().load(state, at(3)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInputError);
    assert!(err.message.contains("attempts[1] has id 7"), "{err}");
}
