//! A reviewer's verdict: taken only for a task under review, once.

use baton_protocol::{ErrorKind, ReviewTaskParams, ReviewVerdict, TaskStage};

use super::{at, id, working};
use crate::core::Review;

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

#[test]
fn reasons_over_a_mebibyte_are_refused() {
    let mut board = working();
    board
        .set_stage(&id(1), TaskStage::Reviewing, None, at(3))
        .unwrap();
    let huge = "x".repeat(crate::core::validate::TEXT_LIMIT + 1);
    let err = board
        .review_task(verdict(ReviewVerdict::ChangesRequested, &huge))
        .unwrap_err();
    assert!(
        err.message.contains("review's reasons is 1048577 bytes"),
        "{}",
        err.message
    );
    assert_eq!(board.take_review(&id(1)), None);
}
