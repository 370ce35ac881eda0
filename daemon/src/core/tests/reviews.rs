//! A reviewer's verdict: taken only for a task under review, once.

use baton_protocol::methods::{ConfigPatch, NewTask};
use baton_protocol::{ErrorKind, ReviewTaskParams, ReviewVerdict, RunMode, TaskStage};

use super::{at, id};
use crate::core::run::Isolation;
use crate::core::{Board, Review, RunStart};

/// A board with a run going and task-001 held by worker-1.
fn working() -> Board {
    let mut board = Board::default();
    board
        .add_tasks(vec![NewTask::new("parse the header")], at(0))
        .unwrap();
    let start = RunStart {
        mode: RunMode::Predefined,
        goal: None,
        overrides: ConfigPatch::default(),
        isolation: Isolation::Worktrees,
        notes: Vec::new(),
    };
    board.start_run(start, at(0)).unwrap();
    board.dispatch(at(1)).unwrap();
    board
        .set_stage(&id(1), TaskStage::Working, None, at(2))
        .unwrap();
    board
}

fn verdict(verdict: ReviewVerdict, reasons: &str) -> ReviewTaskParams {
    ReviewTaskParams {
        task_id: id(1),
        agent_id: "reviewer-1".into(),
        verdict,
        reasons: reasons.into(),
    }
}

#[test]
fn a_verdict_is_refused_for_a_task_that_is_not_under_review() {
    let mut board = working();
    let err = board
        .review_task(verdict(ReviewVerdict::Approve, ""))
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInputError);
    assert!(
        err.message.contains("not being reviewed"),
        "{}",
        err.message
    );
    assert_eq!(board.take_review(&id(1)), None);
}

#[test]
fn a_verdict_on_a_task_under_review_is_taken_once() {
    let mut board = working();
    board
        .set_stage(&id(1), TaskStage::Reviewing, None, at(3))
        .unwrap();
    let (_, events) = board
        .review_task(verdict(ReviewVerdict::ChangesRequested, "name the error"))
        .unwrap();
    assert!(events.is_empty(), "a verdict changes nothing stored");
    assert_eq!(
        board.take_review(&id(1)),
        Some(Review {
            verdict: ReviewVerdict::ChangesRequested,
            reasons: "name the error".into(),
        })
    );
    assert_eq!(board.take_review(&id(1)), None);
}

#[test]
fn changes_requested_without_reasons_are_refused() {
    let mut board = working();
    board
        .set_stage(&id(1), TaskStage::Reviewing, None, at(3))
        .unwrap();
    let err = board
        .review_task(verdict(ReviewVerdict::ChangesRequested, "  "))
        .unwrap_err();
    assert!(err.message.contains("needs reasons"), "{}", err.message);
    assert_eq!(board.take_review(&id(1)), None);
}
