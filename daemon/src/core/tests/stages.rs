//! A run's result counts each stage its tasks entered and what was spent at it.

use baton_protocol::methods::NewTask;
use baton_protocol::{TaskStage, Usage};

use super::{at, id, run_start, turn, working};
use crate::core::{Attempt, Board};

#[test]
fn a_run_s_result_counts_each_stage_entered_and_what_was_spent_at_it() {
    let mut board = working();
    let stage = |board: &mut Board, stage, seconds| {
        board.set_stage(&id(1), stage, None, at(seconds)).unwrap();
    };
    board.spend("worker-1", &turn(0.25));
    stage(&mut board, TaskStage::Verifying, 3);
    stage(&mut board, TaskStage::Resolving, 4);
    board.spend("worker-1", &turn(0.125));
    // The resolving turn's final figure is a little more than its stream showed.
    let reported = Attempt {
        usage: Usage {
            cost_usd: 0.25 + 0.25,
            ..Usage::default()
        },
        ..Attempt::default()
    };
    board
        .record_turn("worker-1", &id(1), reported, at(5))
        .unwrap();
    stage(&mut board, TaskStage::Verifying, 6);
    stage(&mut board, TaskStage::Reviewing, 7);
    board.spend("worker-1", &turn(0.0625));

    let stages = board.run().unwrap().result(&[], 0, String::new()).stages;

    assert_eq!(
        [
            stages.work.entered,
            stages.verify.entered,
            stages.resolve.entered,
            stages.review.entered
        ],
        [1, 2, 1, 1]
    );
    assert_eq!(stages.work.cost_usd, 0.25);
    assert_eq!(stages.verify.cost_usd, 0.0);
    assert_eq!(stages.resolve.cost_usd, 0.125 + 0.125);
    assert_eq!(stages.review.cost_usd, 0.0625);
    let run_cost = board.run().unwrap().cost_usd();
    let staged = stages.work.cost_usd + stages.resolve.cost_usd + stages.review.cost_usd;
    assert_eq!(run_cost, staged, "every dollar of the task is in a stage");
}

#[test]
fn an_attempt_s_final_figure_corrects_the_stage_its_turns_were_spent_at() {
    let mut board = working();
    board.spend("worker-1", &turn(0.25));
    // The work is brought in and verified before the attempt's turn is settled.
    board
        .set_stage(&id(1), TaskStage::Verifying, None, at(3))
        .unwrap();
    let reported = Attempt {
        usage: Usage {
            cost_usd: 0.25 + 0.125,
            ..Usage::default()
        },
        ..Attempt::default()
    };
    board
        .record_turn("worker-1", &id(1), reported, at(4))
        .unwrap();

    let stages = board.run().unwrap().result(&[], 0, String::new()).stages;
    assert_eq!(stages.work.cost_usd, 0.25 + 0.125);
    assert_eq!(stages.verify.cost_usd, 0.0, "verifying ran no model");
}

#[test]
fn a_stage_set_again_is_entered_once_and_a_task_resumed_in_a_new_run_enters_it_anew() {
    let mut board = working();
    for seconds in [3, 4] {
        board
            .set_stage(&id(1), TaskStage::Verifying, None, at(seconds))
            .unwrap();
    }
    let verified = |board: &Board| {
        let run = board.run().unwrap();
        run.result(&[], 0, String::new()).stages.verify.entered
    };
    assert_eq!(
        verified(&board),
        1,
        "bringing in and verifying are one stage"
    );

    let state = board.state();
    let mut resumed =
        Board::restore(board.meta(), state.tasks, state.discoveries, state.attempts).unwrap();
    resumed.start_run(run_start(), at(10)).unwrap();
    resumed.dispatch(at(11)).unwrap();
    resumed
        .set_stage(&id(1), TaskStage::Verifying, None, at(12))
        .unwrap();
    assert_eq!(verified(&resumed), 1, "the new run verifies the task too");
}

#[test]
fn a_stage_keeps_the_agent_s_answer_for_a_task_resumed_past_its_work() {
    let mut board = Board::default();
    board
        .add_tasks(vec![NewTask::new("parse the header")], at(0))
        .unwrap();
    board.claim("worker-1", at(1)).unwrap();
    board
        .set_stage(&id(1), TaskStage::Working, None, at(2))
        .unwrap();
    assert_eq!(board.task(&id(1)).unwrap().result, None);

    board
        .set_stage(&id(1), TaskStage::Verifying, Some("parsed it"), at(3))
        .unwrap();

    let task = board.state().tasks.remove(0);
    assert_eq!(task.stage, Some(TaskStage::Verifying));
    assert_eq!(task.result.unwrap().output, "parsed it");
}
