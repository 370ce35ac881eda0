//! The core's promises, one test each, and property tests over random histories
//! (in `properties`).

mod properties;
mod reviews;
mod runs;
mod stages;
mod timeline;

use std::collections::BTreeSet;

use baton_protocol::methods::{ConfigPatch, EditTaskParams, InitParams, NewDiscovery, NewTask};
use baton_protocol::{
    BatonError, Config, CoordinationState, ErrorKind, Event, Task, TaskId, TaskResult, TaskStage,
    TaskStatus, Usage,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

use super::{validate, Attempt, Board};

/// A board with a run going and task-001 held by worker-1.
/// A predefined run in worktrees.
fn run_start() -> crate::core::RunStart {
    crate::core::RunStart {
        mode: baton_protocol::RunMode::Predefined,
        goal: None,
        overrides: baton_protocol::methods::ConfigPatch::default(),
        isolation: crate::core::run::Isolation::Worktrees,
        notes: Vec::new(),
    }
}

fn working() -> Board {
    let mut board = Board::default();
    board
        .add_tasks(vec![NewTask::new("parse the header")], at(0))
        .unwrap();
    board.start_run(run_start(), at(0)).unwrap();
    board.dispatch(at(1)).unwrap();
    board
        .set_stage(&id(1), baton_protocol::TaskStage::Working, None, at(2))
        .unwrap();
    board
}

/// A fixed moment, plus `seconds`.
/// One model turn that cost `cost_usd`, as the stream reports it.
fn turn(cost_usd: f64) -> Usage {
    Usage {
        cost_usd,
        turns: 1,
        ..Usage::default()
    }
}

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn id(n: u64) -> TaskId {
    TaskId::numbered(n)
}

fn new_task(description: &str, priority: u8, dependencies: &[u64]) -> NewTask {
    NewTask {
        priority,
        dependencies: dependencies.iter().map(|&n| id(n)).collect(),
        ..NewTask::new(description)
    }
}

/// Adds one task and answers its id.
fn add(board: &mut Board, priority: u8, dependencies: &[u64]) -> TaskId {
    let description = format!("task {}", board.tasks(None).len() + 1);
    let (tasks, _) = board
        .add_tasks(vec![new_task(&description, priority, dependencies)], at(0))
        .expect("a valid task");
    tasks[0].id.clone()
}

fn claim(board: &mut Board, agent: &str) -> Option<TaskId> {
    let (task, _) = board.claim(agent, at(1)).expect("a valid agent id");
    task.map(|task| task.id)
}

fn status(board: &Board, n: u64) -> TaskStatus {
    board.task(&id(n)).unwrap().status
}

fn error_of(task: &Task) -> &str {
    task.result
        .as_ref()
        .and_then(|result| result.error.as_deref())
        .unwrap_or("")
}

/// Claims tasks one by one until none is ready, completing each; answers the order.
fn claim_order(board: &mut Board) -> Vec<TaskId> {
    std::iter::from_fn(|| {
        let id = claim(board, "agent-1")?;
        board.complete(&id, TaskResult::default(), at(2)).unwrap();
        Some(id)
    })
    .collect()
}

/// Runs `operation`, expects it to be refused with `kind`, and checks that the board
/// is as it was, down to the id the next task would get.
fn assert_refused<T: std::fmt::Debug>(
    board: &mut Board,
    kind: ErrorKind,
    operation: impl FnOnce(&mut Board) -> Result<T, BatonError>,
) -> BatonError {
    let before = board.state();
    let ready_before: Vec<TaskId> = board.ready().cloned().collect();
    let err = operation(board).expect_err("the operation should be refused");
    assert_eq!(err.kind, kind, "{err}");
    assert_eq!(
        board.state(),
        before,
        "a refused operation changed the state"
    );
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), ready_before);
    let next = before.tasks.len() as u64 + 1;
    let mut probe = board.clone();
    assert_eq!(add(&mut probe, 5, &[]), id(next), "the next id moved");
    err
}

// ---- the ready order ----

#[test]
fn ready_tasks_go_out_most_urgent_priority_first() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 1, &[]);
    add(&mut board, 10, &[]);
    add(&mut board, 3, &[]);
    assert_eq!(claim_order(&mut board), [2, 4, 1, 3].map(id));
}

#[test]
fn among_equal_priorities_the_task_with_the_longest_chain_waiting_on_it_goes_first() {
    let mut board = Board::default();
    add(&mut board, 5, &[]); // 1: nothing waits on it
    add(&mut board, 5, &[]); // 2: 3 and then 4 wait on it
    add(&mut board, 5, &[2]);
    add(&mut board, 5, &[3]);
    add(&mut board, 5, &[]); // 5: one task waits on it
    add(&mut board, 5, &[5]);
    assert_eq!(
        board.ready().cloned().collect::<Vec<_>>(),
        [2, 5, 1].map(id)
    );
}

#[test]
fn among_equal_priority_and_chain_the_oldest_task_goes_first() {
    let mut board = Board::default();
    for _ in 0..4 {
        add(&mut board, 5, &[]);
    }
    assert_eq!(claim_order(&mut board), [1, 2, 3, 4].map(id));
}

#[test]
fn priority_outranks_a_longer_chain() {
    let mut board = Board::default();
    add(&mut board, 2, &[]);
    add(&mut board, 2, &[1]);
    add(&mut board, 2, &[2]);
    add(&mut board, 1, &[]);
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), [4, 1].map(id));
}

#[test]
fn a_chain_grows_when_work_is_added_behind_a_task_later() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), [1, 2].map(id));
    add(&mut board, 5, &[2]);
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), [2, 1].map(id));
}

// ---- claim ----

#[test]
fn claim_never_hands_out_a_task_with_unfinished_dependencies() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 1, &[1]);
    assert_eq!(claim(&mut board, "agent-1"), Some(id(1)));
    assert_eq!(
        claim(&mut board, "agent-2"),
        None,
        "task-002 waits on task-001"
    );
    board.start_task(&id(1), at(1)).unwrap();
    assert_eq!(
        claim(&mut board, "agent-2"),
        None,
        "task-001 is not done yet"
    );
    board
        .complete(&id(1), TaskResult::default(), at(2))
        .unwrap();
    assert_eq!(claim(&mut board, "agent-2"), Some(id(2)));
}

#[test]
fn claim_with_nothing_ready_answers_none_and_changes_nothing() {
    let mut board = Board::default();
    assert_eq!(board.claim("agent-1", at(1)).unwrap(), (None, vec![]));
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1]);
    claim(&mut board, "agent-1");
    let before = board.state();
    assert_eq!(board.claim("agent-2", at(5)).unwrap(), (None, vec![]));
    assert_eq!(board.state(), before);
}

#[test]
fn stopping_when_nothing_runs_is_no_change() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    board.take_changes();
    let before = board.state();
    assert_eq!(board.stop_run("the daemon stopped", at(5)), vec![]);
    assert!(board.take_changes().is_empty(), "nothing to store");
    assert_eq!(board.state(), before);
}

#[test]
fn claim_records_the_agent_the_time_and_the_attempt() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let (task, events) = board.claim("agent-7", at(30)).unwrap();
    let task = task.unwrap();
    assert_eq!(task.status, TaskStatus::Claimed);
    assert_eq!(task.claimed_by.as_deref(), Some("agent-7"));
    assert_eq!(task.claimed_at, Some(at(30)));
    assert_eq!(task.attempts, 1);
    assert_eq!(events, vec![Event::TaskUpdated(task.clone())]);
    assert_eq!(board.task(&id(1)).unwrap(), task);
}

#[test]
fn claim_refuses_an_empty_agent_id() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.claim(" ", at(1))
    });
}

// ---- start, complete, fail ----

#[test]
fn complete_of_a_task_never_claimed_is_refused_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.complete(&id(1), TaskResult::default(), at(1))
    });
    assert!(err.message.contains("never claimed"), "{err}");
}

#[test]
fn complete_and_fail_of_a_finished_task_are_refused_and_change_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    for n in 1..=3 {
        assert_eq!(claim(&mut board, "agent-1"), Some(id(n)));
    }
    board
        .complete(&id(1), TaskResult::default(), at(2))
        .unwrap();
    board.fail(&id(2), "it broke", at(2)).unwrap();
    board.cancel(&id(3), at(2)).unwrap();
    for n in 1..=3 {
        let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
            board.complete(&id(n), TaskResult::default(), at(3))
        });
        assert!(err.message.contains("already"), "{err}");
        assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
            board.fail(&id(n), "again", at(3))
        });
        assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
            board.cancel(&id(n), at(3))
        });
        assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
            board.start_task(&id(n), at(3))
        });
    }
}

#[test]
fn an_unknown_id_is_answered_with_task_not_found() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let unknown = TaskId::from("task-404");
    let kind = ErrorKind::TaskNotFoundError;
    assert_eq!(board.task(&unknown).unwrap_err().kind, kind);
    assert_refused(&mut board, kind, |board| board.start_task(&unknown, at(1)));
    assert_refused(&mut board, kind, |board| {
        board.complete(&unknown, TaskResult::default(), at(1))
    });
    assert_refused(&mut board, kind, |board| board.fail(&unknown, "no", at(1)));
    assert_refused(&mut board, kind, |board| board.cancel(&unknown, at(1)));
    assert_refused(&mut board, kind, |board| board.retry(&unknown, at(1)));
    assert_refused(&mut board, kind, |board| {
        board.add_discovery(
            NewDiscovery {
                agent_id: "agent-1".into(),
                content: "found it".into(),
                related_task: Some(unknown.clone()),
                tags: vec![],
            },
            at(1),
        )
    });
}

#[test]
fn only_a_claimed_task_can_start() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.start_task(&id(1), at(1))
    });
    claim(&mut board, "agent-1");
    let (task, _) = board.start_task(&id(1), at(2)).unwrap();
    assert_eq!(task.status, TaskStatus::InProgress);
    assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.start_task(&id(1), at(3))
    });
    board
        .complete(&id(1), TaskResult::default(), at(4))
        .unwrap();
    assert_eq!(status(&board, 1), TaskStatus::Done);
}

#[test]
fn fail_needs_a_reason() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.fail(&id(1), "  ", at(2))
    });
}

#[test]
fn complete_keeps_what_was_recorded_while_the_task_ran() {
    let mut board = Board::default();
    let parent = add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    let mut subtask = new_task("a piece of it", 5, &[]);
    subtask.parent_task = Some(parent.clone());
    board.add_tasks(vec![subtask], at(2)).unwrap();
    let discovery = NewDiscovery {
        agent_id: "agent-1".into(),
        content: "the tests use port 8080".into(),
        related_task: Some(parent.clone()),
        tags: vec![],
    };
    board.add_discovery(discovery, at(3)).unwrap();
    let result = TaskResult {
        output: "did it".into(),
        ..TaskResult::default()
    };
    let (task, events) = board.complete(&parent, result, at(4)).unwrap();
    let result = task.result.clone().unwrap();
    assert_eq!(result.output, "did it");
    assert_eq!(result.subtasks_created, vec![id(2)]);
    assert_eq!(
        result.discoveries,
        vec!["the tests use port 8080".to_owned()]
    );
    assert_eq!(task.completed_at, Some(at(4)));
    assert_eq!(events, vec![Event::TaskCompleted(task)]);
}

#[test]
fn discoveries_a_result_brings_are_shared_as_the_board_s_once() {
    let mut board = Board::default();
    let task = add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    let reported = NewDiscovery {
        agent_id: "agent-1".into(),
        content: "the tests use port 8080".into(),
        related_task: Some(task.clone()),
        tags: vec![],
    };
    board.add_discovery(reported, at(3)).unwrap();
    let result = TaskResult {
        output: "did it".into(),
        discoveries: vec![
            "the tests use port 8080".into(),
            "the schema lives in db/".into(),
        ],
        ..TaskResult::default()
    };
    let (done, events) = board.complete(&task, result, at(4)).unwrap();
    let shared: Vec<&str> = board
        .discoveries()
        .iter()
        .map(|found| found.content.as_str())
        .collect();
    assert_eq!(
        shared,
        ["the tests use port 8080", "the schema lives in db/"]
    );
    let brought = board.discoveries()[1].clone();
    assert_eq!(brought.agent_id, "agent-1");
    assert_eq!(brought.related_task, Some(task));
    assert_eq!(brought.created_at, at(4));
    assert_eq!(
        done.result.unwrap().discoveries,
        ["the tests use port 8080", "the schema lives in db/"]
    );
    assert!(
        matches!(&events[..], [Event::Discovery(found), Event::TaskCompleted(_)] if *found == brought)
    );
}

/// Completes a claimed task with `result`, which must be refused as invalid input
/// changing nothing; answers why.
fn refused_result(result: TaskResult) -> String {
    let mut board = Board::default();
    let task = add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    let before = board.state();
    let err = board.complete(&task, result, at(4)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidInputError, "{err}");
    assert_eq!(board.state(), before);
    err.message
}

#[test]
fn a_result_naming_a_subtask_that_does_not_exist_is_refused_and_changes_nothing() {
    let said = refused_result(TaskResult {
        output: "did it".into(),
        subtasks_created: vec![TaskId::from("task-999")],
        ..TaskResult::default()
    });
    assert!(said.contains("task-999"), "{said}");
}

#[test]
fn a_result_with_an_empty_discovery_is_refused_and_changes_nothing() {
    let said = refused_result(TaskResult {
        output: "did it".into(),
        discoveries: vec!["a finding".into(), " ".into()],
        ..TaskResult::default()
    });
    assert!(said.contains("discovery 2"), "{said}");
}

#[test]
fn a_client_s_result_naming_a_blank_file_is_refused_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    let results = [
        (
            TaskResult {
                files_modified: vec!["src/a.rs".into(), String::new()],
                ..TaskResult::default()
            },
            "modified",
        ),
        (
            TaskResult {
                files_created: vec![" \t".into()],
                ..TaskResult::default()
            },
            "created",
        ),
    ];
    for (result, which) in results {
        let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
            board.complete(&id(1), result, at(2))
        });
        assert_eq!(
            err.message,
            format!("a {which} file is blank; name a path in the repository, or leave it out")
        );
    }
}

#[test]
fn an_agent_s_work_lands_with_every_file_git_saw_even_one_named_by_blanks() {
    let mut board = working();
    let ending = crate::core::run::AttemptEnding::Succeeded {
        output: "done".into(),
        files_modified: vec![" ".into()],
        files_created: vec!["src/new.rs".into()],
    };
    board
        .settle_attempt("worker-1", &id(1), Attempt::default(), ending, at(3))
        .unwrap();
    let task = board.task(&id(1)).unwrap();
    assert_eq!(task.status, TaskStatus::Done);
    let result = task.result.as_ref().unwrap();
    assert_eq!(
        (&result.files_modified[..], &result.files_created[..]),
        (
            [" ".to_owned()].as_slice(),
            ["src/new.rs".to_owned()].as_slice()
        )
    );
}

#[test]
fn a_client_s_result_error_or_discovery_over_a_mebibyte_is_refused_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    let huge = "x".repeat(validate::TEXT_LIMIT + 1);
    let half = "x".repeat(validate::TEXT_LIMIT / 2 + 1);
    let results = [
        TaskResult {
            output: huge.clone(),
            ..TaskResult::default()
        },
        // Together over the limit, each under it.
        TaskResult {
            output: half.clone(),
            discoveries: vec![half],
            ..TaskResult::default()
        },
    ];
    for result in results {
        let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
            board.complete(&id(1), result, at(2))
        });
        assert!(err.message.contains("1 MiB"), "{err}");
    }
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.fail(&id(1), &huge, at(2))
    });
    assert!(err.message.contains("error"), "{err}");
    let discovery = NewDiscovery {
        agent_id: "agent-1".into(),
        content: huge,
        related_task: Some(id(1)),
        tags: vec![],
    };
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_discovery(discovery, at(2))
    });
    assert!(err.message.contains("discovery"), "{err}");
}

#[test]
fn names_lists_goals_and_settings_past_their_limits_are_refused_and_change_nothing() {
    let mut board = Board::default();
    let open = add(&mut board, 5, &[]);
    let long_name = "n".repeat(validate::NAME_LIMIT + 1);
    let huge = "x".repeat(validate::TEXT_LIMIT + 1);
    // Each path within its limit, all of them together over the text's.
    let many_files = vec!["f".repeat(600); validate::TEXT_LIMIT / 600];
    let mut with_model = new_task("fine", 5, &[]);
    with_model.model = Some(long_name.clone());
    let mut with_files = new_task("fine", 5, &[]);
    with_files.context_files = many_files.clone();
    let mut edit = EditTaskParams::new(open.clone());
    edit.context_files = Some(many_files);
    let tagged = NewDiscovery {
        agent_id: "agent-1".into(),
        content: "found".into(),
        related_task: None,
        tags: vec![long_name.clone()],
    };
    let init = InitParams {
        goal: huge.clone(),
        master_plan: String::new(),
        config: ConfigPatch::default(),
        keep: false,
    };
    let prompt = ConfigPatch {
        leader_prompt: Some(Some(huge.clone())),
        ..ConfigPatch::default()
    };

    let refusals = [
        (
            "agent id is 257 bytes",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.claim(&long_name, at(1))
            }),
        ),
        (
            "model is 257 bytes",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.add_tasks(vec![with_model], at(1))
            }),
        ),
        (
            "context files together",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.add_tasks(vec![with_files], at(1))
            }),
        ),
        (
            "context files together",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.edit(edit, at(1))
            }),
        ),
        (
            "tag is 257 bytes",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.add_discovery(tagged, at(1))
            }),
        ),
        (
            "goal is 1048577 bytes",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.init(init, at(1))
            }),
        ),
        (
            "master plan is 1048577 bytes",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.set_master_plan(huge.clone(), at(1))
            }),
        ),
        (
            "leader_prompt is 1048577 bytes",
            assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
                board.configure(&prompt, at(1))
            }),
        ),
    ];
    for (says, err) in refusals {
        assert!(err.message.contains(says), "`{err}` should say `{says}`");
    }
}

#[test]
fn a_store_keeps_what_earlier_versions_let_in_but_a_state_file_is_held_to_the_limits() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let mut state = board.state();
    state.tasks[0].context.hints = "x".repeat(validate::TEXT_LIMIT + 1);
    state.config.as_mut().unwrap().leader_prompt = Some("x".repeat(validate::TEXT_LIMIT + 1));
    assert!(Board::from_state(state.clone(), false).is_ok());
    let err = validate::state_texts(&state).unwrap_err();
    assert!(
        err.message.contains("leader_prompt is 1048577 bytes"),
        "{err}"
    );
    state.config = None;
    let err = validate::state_texts(&state).unwrap_err();
    assert!(
        err.message
            .contains("task-001: the task's hints is 1048577 bytes"),
        "{err}"
    );
}

#[test]
fn an_agent_s_answer_over_a_mebibyte_is_kept_cut_with_where_the_whole_is() {
    let mut board = working();
    let answer = "é".repeat(validate::TEXT_LIMIT);
    let ending = crate::core::run::AttemptEnding::Succeeded {
        output: answer.clone(),
        files_modified: Vec::new(),
        files_created: Vec::new(),
    };
    board
        .settle_attempt("worker-1", &id(1), Attempt::default(), ending, at(3))
        .unwrap();
    let task = board.task(&id(1)).unwrap();
    assert_eq!(task.status, TaskStatus::Done);
    let output = &task.result.as_ref().unwrap().output;
    assert!(output.len() <= validate::TEXT_LIMIT, "{}", output.len());
    assert!(answer.starts_with(output.split('\n').next().unwrap()));
    assert!(
        output.ends_with(&format!(
            "of {} bytes; the whole is in the task's log: `baton logs task-001`)",
            answer.len()
        )),
        "{}",
        &output[output.len() - 200..]
    );
}

// ---- add_tasks ----

#[test]
fn add_tasks_refuses_an_empty_description_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let batch = vec![new_task("fine", 5, &[]), new_task(" \n", 5, &[])];
    assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
}

#[test]
fn add_tasks_refuses_a_description_or_hints_over_a_mebibyte_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let huge = "x".repeat(validate::TEXT_LIMIT + 1);
    let mut hinted = new_task("fine", 5, &[]);
    hinted.hints = huge.clone();
    for (what, batch) in [
        ("description", vec![new_task(&huge, 5, &[])]),
        ("hints", vec![new_task("fine", 5, &[]), hinted]),
    ] {
        let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
            board.add_tasks(batch, at(1))
        });
        assert!(err.message.contains(what), "{err}");
        assert!(err.message.contains("1 MiB"), "{err}");
    }
    let mut edit = EditTaskParams::new(id(1));
    edit.hints = Some(huge);
    assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.edit(edit, at(2))
    });
}

#[test]
fn a_lone_task_refused_is_not_named_by_the_id_it_would_have_had() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(vec![new_task(" ", 5, &[])], at(1))
    });
    assert!(!err.message.contains("task-002"), "{err}");
    let batch = vec![new_task("fine", 5, &[]), new_task(" ", 5, &[])];
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
    assert!(err.message.starts_with("task 2 of the batch: "), "{err}");
}

#[test]
fn add_tasks_refuses_a_priority_outside_1_to_10_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    for priority in [0, 11, 255] {
        let batch = vec![new_task("fine", 5, &[]), new_task("urgent?", priority, &[])];
        let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
            board.add_tasks(batch, at(1))
        });
        assert!(
            err.message.contains(&format!("priority {priority}")),
            "{err}"
        );
    }
    for priority in [1, 10] {
        add(&mut board, priority, &[]);
    }
}

#[test]
fn add_tasks_refuses_an_unknown_dependency_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let batch = vec![new_task("fine", 5, &[1]), new_task("lost", 5, &[9])];
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
    assert!(err.message.contains("task-009"), "{err}");
    // Named by its place: the id it would have got was never given.
    assert!(err.message.starts_with("task 2 of the batch: "), "{err}");
    assert!(!err.message.contains("task-003"), "{err}");
}

#[test]
fn add_tasks_refuses_a_cycle_within_one_batch_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    // The first item names the id the second will get, the second the first's.
    let batch = vec![new_task("first", 5, &[1, 3]), new_task("second", 5, &[2])];
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
    assert!(err.message.contains("cycle"), "{err}");
    assert!(
        err.message.contains("task-002") && err.message.contains("task-003"),
        "{err}"
    );
}

#[test]
fn add_tasks_refuses_a_self_dependency_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let batch = vec![new_task("myself first", 5, &[2])];
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
    assert!(
        err.message.contains("task-002 would depend on itself")
            && err
                .message
                .contains("remove task-002 from its dependencies"),
        "{err}"
    );
}

#[test]
fn add_tasks_refuses_a_batch_over_the_limit_and_changes_nothing() {
    let mut board = Board::default();
    let batch = vec![new_task("one of many", 5, &[]); validate::MAX_BATCH + 1];
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
    assert!(err.message.contains("at most 100000 tasks"), "{err}");
    let full = vec![new_task("one of many", 5, &[]); validate::MAX_BATCH];
    assert_eq!(
        board.add_tasks(full, at(2)).unwrap().0.len(),
        validate::MAX_BATCH
    );
}

#[test]
fn add_tasks_refuses_an_unknown_parent_and_changes_nothing() {
    let mut board = Board::default();
    let mut orphan = new_task("orphan", 5, &[]);
    orphan.parent_task = Some(id(7));
    assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(vec![orphan], at(1))
    });
}

/// A task is deleted only after its subtasks: tasks that are each other's parents could
/// never be deleted.
#[test]
fn a_batch_whose_tasks_are_each_others_parents_is_refused() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let part = |description: &str, parent: u64| NewTask {
        parent_task: Some(id(parent)),
        ..NewTask::new(description)
    };
    let batch = vec![part("a", 4), part("b", 2), part("c", 3)]; // task-002..004
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(batch, at(1))
    });
    assert!(
        err.message
            .contains("task-002 → task-004 → task-003 → task-002"),
        "{err}"
    );
}

#[test]
fn a_batch_parent_may_be_a_task_of_the_same_batch_but_not_the_task_itself() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let part = |description: &str, parent: u64| NewTask {
        parent_task: Some(id(parent)),
        ..NewTask::new(description)
    };
    let batch = vec![
        part("first part", 4),         // task-002, before its parent
        part("second part", 1),        // task-003, of a task already there
        new_task("the whole", 5, &[]), // task-004
        part("third part", 4),         // task-005, after its parent
    ];
    let (tasks, events) = board.add_tasks(batch, at(1)).unwrap();
    let subtasks = |task: &Task| task.result.as_ref().map(|r| r.subtasks_created.clone());
    assert_eq!(subtasks(&tasks[2]), Some(vec![id(2), id(5)]));
    assert_eq!(subtasks(&board.task(&id(1)).unwrap()), Some(vec![id(3)]));
    // Each new task is announced once, as it is after the whole batch; the task
    // already there is updated.
    let created: Vec<&Task> = events
        .iter()
        .filter_map(|event| match event {
            Event::TaskCreated(task) => Some(task),
            _ => None,
        })
        .collect();
    assert_eq!(created.len(), 4);
    assert_eq!(subtasks(created[2]), Some(vec![id(2), id(5)]));
    let updated: Vec<&TaskId> = events
        .iter()
        .filter_map(|event| match event {
            Event::TaskUpdated(task) => Some(&task.id),
            _ => None,
        })
        .collect();
    assert_eq!(updated, [&id(1)]);
    assert_sound(&board);

    let own = part("its own part", 7); // task-007
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        board.add_tasks(vec![new_task("x", 5, &[]), own], at(2))
    });
    assert!(err.message.contains("own parent"), "{err}");
}

#[test]
fn a_batch_dependency_may_name_an_id_made_earlier_or_later_in_the_same_batch() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let batch = vec![
        new_task("tests", 5, &[3]),    // task-002, after the later task-003
        new_task("model", 5, &[1]),    // task-003
        new_task("endpoint", 5, &[3]), // task-004, after the earlier task-003
    ];
    let (tasks, events) = board.add_tasks(batch, at(1)).unwrap();
    let ids: Vec<TaskId> = tasks.iter().map(|task| task.id.clone()).collect();
    assert_eq!(ids, [2, 3, 4].map(id));
    assert_eq!(tasks[0].dependencies, vec![id(3)]);
    assert_eq!(events.len(), 3);
    assert_eq!(
        claim_order(&mut board),
        [1, 3, 2, 4].map(id),
        "task-003 as soon as task-001 is done, then the others by age"
    );
}

#[test]
fn a_repeated_dependency_is_kept_once() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1, 1]);
    assert_eq!(board.task(&id(2)).unwrap().dependencies, vec![id(1)]);
    assert_eq!(claim_order(&mut board), [1, 2].map(id));
}

#[test]
fn new_tasks_are_available_and_say_so_in_events() {
    let mut board = Board::default();
    let (tasks, events) = board
        .add_tasks(vec![new_task("a", 3, &[]), new_task("b", 4, &[1])], at(9))
        .unwrap();
    assert!(tasks.iter().all(|task| task.status == TaskStatus::Available
        && task.created_at == at(9)
        && task.attempts == 0));
    assert_eq!(
        events,
        tasks
            .iter()
            .cloned()
            .map(Event::TaskCreated)
            .collect::<Vec<_>>()
    );
}

// ---- failure and cancellation cascade ----

/// 1 ← 2 ← 3, and 4 on 2 and 5; 5 alone; 6 alone.
fn chain_board() -> Board {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1]);
    add(&mut board, 5, &[2]);
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[2, 4]);
    add(&mut board, 5, &[]);
    board
}

#[test]
fn fail_cascades_to_every_dependent_naming_the_dependency() {
    let mut board = chain_board();
    assert_eq!(claim(&mut board, "agent-1"), Some(id(1)));
    let (task, events) = board.fail(&id(1), "it broke", at(3)).unwrap();
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(error_of(&task), "it broke");
    assert_eq!(task.failed_dependency, None);
    for (n, because) in [(2, 1), (3, 2), (5, 2)] {
        let task = board.task(&id(n)).unwrap();
        assert_eq!(task.status, TaskStatus::Failed, "{n}");
        assert_eq!(task.failed_dependency, Some(id(because)));
        assert_eq!(
            error_of(&task),
            format!("dependency {} failed", id(because))
        );
        assert!(events.contains(&Event::TaskFailed(task.clone())));
    }
    assert_eq!(events.len(), 4);
    assert_eq!(status(&board, 4), TaskStatus::Available);
    assert_eq!(status(&board, 6), TaskStatus::Available);
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), [4, 6].map(id));
}

#[test]
fn cancel_cascades_to_every_dependent_naming_the_dependency() {
    let mut board = chain_board();
    let (task, events) = board.cancel(&id(4), at(3)).unwrap();
    assert_eq!(task.status, TaskStatus::Cancelled);
    let dependent = board.task(&id(5)).unwrap();
    assert_eq!(dependent.status, TaskStatus::Failed);
    assert_eq!(dependent.failed_dependency, Some(id(4)));
    assert_eq!(error_of(&dependent), "dependency task-004 was cancelled");
    assert_eq!(events.len(), 2);

    let (_, events) = board.cancel(&id(1), at(4)).unwrap();
    assert_eq!(status(&board, 2), TaskStatus::Failed);
    assert_eq!(status(&board, 3), TaskStatus::Failed);
    assert_eq!(status(&board, 5), TaskStatus::Failed, "already failed");
    assert_eq!(
        board.task(&id(5)).unwrap().failed_dependency,
        Some(id(4)),
        "a finished dependent keeps its first reason"
    );
    assert_eq!(events.len(), 3);
}

#[test]
fn a_held_task_can_be_cancelled_and_leaves_its_agent() {
    let mut board = chain_board();
    claim(&mut board, "agent-1");
    board.start_task(&id(1), at(2)).unwrap();
    board.cancel(&id(1), at(3)).unwrap();
    assert!(board.status().agents.is_empty());
    assert_eq!(board.counts().in_progress, 0);
}

#[test]
fn a_new_task_depending_on_a_failed_or_cancelled_task_fails_at_once() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    board.fail(&id(1), "it broke", at(1)).unwrap();
    board.cancel(&id(2), at(1)).unwrap();
    let batch = vec![
        new_task("behind the failed one", 5, &[1]),
        new_task("behind that", 5, &[3]),
        new_task("behind the cancelled one", 5, &[2]),
    ];
    let (tasks, events) = board.add_tasks(batch, at(2)).unwrap();
    assert!(tasks.iter().all(|task| task.status == TaskStatus::Failed));
    assert_eq!(error_of(&tasks[0]), "dependency task-001 failed");
    assert_eq!(tasks[1].failed_dependency, Some(id(3)));
    assert_eq!(error_of(&tasks[2]), "dependency task-002 was cancelled");
    let failed = events
        .iter()
        .filter(|event| matches!(event, Event::TaskFailed(_)))
        .count();
    assert_eq!(failed, 3);
    assert_eq!(board.ready().count(), 0);
}

// ---- retry ----

#[test]
fn retry_reopens_a_failed_task_and_the_tasks_that_failed_because_of_it() {
    let mut board = chain_board();
    claim(&mut board, "agent-1");
    board.fail(&id(1), "it broke", at(3)).unwrap();
    let (reopened, events) = board.retry(&id(1), at(4)).unwrap();
    let mut ids: Vec<TaskId> = reopened.iter().map(|task| task.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, [1, 2, 3, 5].map(id));
    for task in &reopened {
        assert_eq!(task.status, TaskStatus::Available);
        assert_eq!(task.failed_dependency, None);
        assert_eq!(task.result, None);
        assert_eq!(task.claimed_by, None);
        assert!(events.contains(&Event::TaskUpdated(task.clone())));
    }
    assert_eq!(
        board.task(&id(1)).unwrap().attempts,
        1,
        "attempts keep counting"
    );
    assert_eq!(board.counts().failed, 0);
    assert_eq!(claim_order(&mut board), [1, 2, 4, 3, 5, 6].map(id));
}

#[test]
fn retry_reopens_a_cancelled_task_and_its_dependents() {
    let mut board = chain_board();
    board.cancel(&id(2), at(1)).unwrap();
    let (reopened, _) = board.retry(&id(2), at(2)).unwrap();
    assert_eq!(reopened.len(), 3);
    assert_eq!(board.counts().available, 6);
}

#[test]
fn retrying_a_cascaded_task_directly_is_refused_naming_the_root() {
    let mut board = chain_board();
    board.fail(&id(1), "it broke", at(1)).unwrap();
    for n in [2, 3, 5] {
        let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
            board.retry(&id(n), at(2))
        });
        assert!(
            err.message.contains("retry task-001"),
            "retrying {} should point at task-001: {err}",
            id(n)
        );
    }
}

#[test]
fn retrying_a_task_that_failed_on_its_own_behind_a_failed_chain_names_the_root() {
    let mut board = chain_board();
    board.fail(&id(3), "it broke by itself", at(1)).unwrap();
    board.fail(&id(1), "and so did this", at(2)).unwrap(); // 2 fails because of 1
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.retry(&id(3), at(3))
    });
    assert!(err.message.contains("task-002"), "{err}");
    assert!(err.message.contains("retry task-001 first"), "{err}");
    board.retry(&id(1), at(4)).unwrap();
    assert_eq!(
        status(&board, 3),
        TaskStatus::Failed,
        "it failed for its own reason"
    );
    board.retry(&id(3), at(5)).unwrap();
    assert_eq!(status(&board, 3), TaskStatus::Available);
}

#[test]
fn retry_of_a_task_that_has_not_failed_is_refused() {
    let mut board = chain_board();
    claim(&mut board, "agent-1");
    assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.retry(&id(1), at(2))
    });
    board
        .complete(&id(1), TaskResult::default(), at(2))
        .unwrap();
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.retry(&id(1), at(3))
    });
    assert!(err.message.contains("done"), "{err}");
    assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.retry(&id(2), at(3))
    });
}

#[test]
fn a_reopened_task_still_behind_another_failed_dependency_fails_again_once() {
    let mut board = chain_board();
    board.fail(&id(2), "first", at(1)).unwrap(); // 3 and 5 fail because of 2
    board.fail(&id(4), "second", at(2)).unwrap(); // 5 is already failed
    let (reopened, events) = board.retry(&id(2), at(3)).unwrap();
    let task = |n| board.task(&id(n)).unwrap();
    assert_eq!(task(2).status, TaskStatus::Available);
    assert_eq!(task(3).status, TaskStatus::Available);
    assert_eq!(
        task(5).status,
        TaskStatus::Failed,
        "task-004 is still failed"
    );
    assert_eq!(task(5).failed_dependency, Some(id(4)));
    assert!(
        reopened.contains(&task(5)),
        "the answer shows the task as it is now"
    );
    let failures_of_5 = events
        .iter()
        .filter(|event| matches!(event, Event::TaskFailed(t) if t.id == id(5)))
        .count();
    assert_eq!(failures_of_5, 1);
    board.retry(&id(4), at(4)).unwrap();
    assert_eq!(status(&board, 5), TaskStatus::Available);
}

#[test]
fn a_retried_task_whose_dependents_fail_again_sends_each_failure_once() {
    // 3 depends on 1 and 2; 4 on 3; 5 on 4.
    let mut board = Board::default();
    add(&mut board, 5, &[]); // 1
    add(&mut board, 5, &[]); // 2
    add(&mut board, 5, &[1, 2]); // 3
    add(&mut board, 5, &[3]); // 4
    add(&mut board, 5, &[4]); // 5
    board.fail(&id(1), "first", at(1)).unwrap(); // 3, then 4, then 5 fail
    board.fail(&id(2), "second", at(2)).unwrap(); // 3 has failed already
                                                  // Retrying 1 reopens 3, 4 and 5, but 3 still waits on the failed 2.
    let (_, events) = board.retry(&id(1), at(3)).unwrap();
    for n in [3, 4, 5] {
        let task = board.task(&id(n)).unwrap();
        assert_eq!(task.status, TaskStatus::Failed, "{}", id(n));
        let failures = events
            .iter()
            .filter(|event| matches!(event, Event::TaskFailed(t) if t.id == id(n)))
            .count();
        assert_eq!(
            failures,
            1,
            "{} failed {failures} times in one retry",
            id(n)
        );
        let last = events
            .iter()
            .rev()
            .find_map(|event| match event {
                Event::TaskFailed(t) | Event::TaskUpdated(t) if t.id == id(n) => Some(t),
                _ => None,
            })
            .unwrap();
        assert_eq!(*last, task, "the last event carries the task as it is");
    }
    assert_eq!(board.task(&id(3)).unwrap().failed_dependency, Some(id(2)));
}

// ---- edit and delete ----

fn edit_of(n: u64) -> EditTaskParams {
    EditTaskParams::new(id(n))
}

fn assert_sound(board: &Board) {
    properties::check_board(board).expect("the board keeps its invariants");
}

#[test]
fn edit_changes_only_what_is_given_and_says_so() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let edit = EditTaskParams {
        description: Some("Parse the header".into()),
        context_files: Some(vec!["src/header.rs".into()]),
        ..edit_of(1)
    };
    let (task, events) = board.edit(edit, at(3)).unwrap();
    assert_eq!(task.description, "Parse the header");
    assert_eq!(task.context.files, ["src/header.rs"]);
    assert_eq!(task.priority, 5, "the priority stays");
    assert_eq!(task.status, TaskStatus::Available);
    assert_eq!(events, vec![Event::TaskUpdated(task)]);
    assert_sound(&board);
}

#[test]
fn an_edited_model_is_set_and_given_back_to_the_workspace_s_and_a_blank_one_is_refused() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let set = EditTaskParams {
        model: Some(Some("claude-haiku-4-5".into())),
        ..edit_of(1)
    };
    let (task, _) = board.edit(set, at(3)).unwrap();
    assert_eq!(task.model.as_deref(), Some("claude-haiku-4-5"));
    let blank = EditTaskParams {
        model: Some(Some(" ".into())),
        ..edit_of(1)
    };
    assert!(board.edit(blank, at(4)).is_err());
    assert_eq!(
        board.task(&id(1)).unwrap().model.as_deref(),
        Some("claude-haiku-4-5"),
        "a refused edit changes nothing"
    );
    let back = EditTaskParams {
        model: Some(None),
        ..edit_of(1)
    };
    let (task, _) = board.edit(back, at(5)).unwrap();
    assert_eq!(task.model, None);
}

#[test]
fn an_edited_priority_reorders_the_ready_queue() {
    let mut board = Board::default();
    add(&mut board, 3, &[]);
    add(&mut board, 5, &[]);
    let edit = EditTaskParams {
        priority: Some(1),
        ..edit_of(2)
    };
    board.edit(edit, at(3)).unwrap();
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), [id(2), id(1)]);
    assert_sound(&board);
}

#[test]
fn edited_dependencies_replace_the_old_ones_and_the_queue_follows() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1]);
    let edit = EditTaskParams {
        dependencies: Some(vec![id(2), id(2)]),
        ..edit_of(3)
    };
    let (task, _) = board.edit(edit, at(3)).unwrap();
    assert_eq!(
        task.dependencies,
        [id(2)],
        "a repeated dependency is kept once"
    );
    assert_eq!(claim_order(&mut board), [id(2), id(1), id(3)]);
    assert_sound(&board);
}

#[test]
fn removing_every_dependency_makes_a_task_ready() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1]);
    let edit = EditTaskParams {
        dependencies: Some(Vec::new()),
        ..edit_of(2)
    };
    board.edit(edit, at(3)).unwrap();
    assert!(board.ready().any(|ready| *ready == id(2)));
    assert_sound(&board);
}

#[test]
fn edit_refuses_a_cycle_naming_it_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1]);
    add(&mut board, 5, &[2]);
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        let edit = EditTaskParams {
            dependencies: Some(vec![id(3)]),
            ..edit_of(1)
        };
        board.edit(edit, at(3))
    });
    assert!(
        err.message
            .contains("task-001 → task-003 → task-002 → task-001"),
        "{err}"
    );
    let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
        let edit = EditTaskParams {
            dependencies: Some(vec![id(2)]),
            ..edit_of(2)
        };
        board.edit(edit, at(3))
    });
    assert!(
        err.message.contains("task-002 would depend on itself"),
        "{err}"
    );
}

#[test]
fn edit_refuses_bad_input_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let cases: Vec<(EditTaskParams, ErrorKind, &str)> = vec![
        (
            EditTaskParams {
                dependencies: Some(vec![TaskId::from("task-404")]),
                ..edit_of(1)
            },
            ErrorKind::InvalidInputError,
            "dependency task-404 of task-001 does not exist",
        ),
        (
            EditTaskParams {
                priority: Some(0),
                ..edit_of(1)
            },
            ErrorKind::InvalidInputError,
            "outside 1..10",
        ),
        (
            EditTaskParams {
                description: Some(" ".into()),
                ..edit_of(1)
            },
            ErrorKind::InvalidInputError,
            "description is empty",
        ),
        (
            edit_of(1),
            ErrorKind::InvalidInputError,
            "nothing to change",
        ),
        (
            EditTaskParams {
                priority: Some(2),
                ..edit_of(9)
            },
            ErrorKind::TaskNotFoundError,
            "task-009",
        ),
    ];
    for (edit, kind, says) in cases {
        let err = assert_refused(&mut board, kind, |board| board.edit(edit, at(3)));
        assert!(err.message.contains(says), "{err}");
    }
}

#[test]
fn a_finished_task_cannot_be_edited() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    claim_order(&mut board);
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        let edit = EditTaskParams {
            priority: Some(1),
            ..edit_of(1)
        };
        board.edit(edit, at(3))
    });
    assert!(err.message.contains("task task-001 is done"), "{err}");
}

#[test]
fn edit_refuses_a_dependency_that_can_never_be_done() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    board.cancel(&id(1), at(2)).unwrap();
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        let edit = EditTaskParams {
            dependencies: Some(vec![id(1)]),
            ..edit_of(2)
        };
        board.edit(edit, at(3))
    });
    assert!(
        err.message.contains("task-001 of task-002 was cancelled"),
        "{err}"
    );
}

#[test]
fn a_held_task_keeps_working_and_may_gain_only_finished_dependencies() {
    let mut board = Board::default();
    add(&mut board, 1, &[]);
    add(&mut board, 5, &[]);
    add(&mut board, 9, &[]);
    assert_eq!(claim(&mut board, "agent-1"), Some(id(1)));
    board
        .complete(&id(1), TaskResult::default(), at(2))
        .unwrap();
    assert_eq!(claim(&mut board, "agent-1"), Some(id(2)));
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        let edit = EditTaskParams {
            dependencies: Some(vec![id(3)]),
            ..edit_of(2)
        };
        board.edit(edit, at(3))
    });
    assert!(err.message.contains("claimed by agent-1"), "{err}");
    let edit = EditTaskParams {
        dependencies: Some(vec![id(1)]),
        hints: Some("mind the tests".into()),
        ..edit_of(2)
    };
    let (task, _) = board.edit(edit, at(3)).unwrap();
    assert_eq!(task.status, TaskStatus::Claimed);
    assert_eq!(task.context.hints, "mind the tests");
    assert_sound(&board);
}

#[test]
fn delete_removes_a_task_never_started_and_later_tasks_keep_their_order() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[1]);
    add(&mut board, 5, &[]);
    let (task, events) = board.delete(&id(2), at(3)).unwrap();
    assert_eq!(task.id, id(2));
    assert_eq!(events, vec![Event::TaskDeleted(task)]);
    let left: Vec<TaskId> = board.tasks(None).into_iter().map(|task| task.id).collect();
    assert_eq!(left, [id(1), id(3), id(4)]);
    assert_eq!(board.seq(&id(4)), Some(2), "no gap in creation order");
    assert_eq!(add(&mut board, 5, &[]), id(5), "ids are not reused");
    assert_sound(&board);
    assert_eq!(claim_order(&mut board), [id(1), id(3), id(4), id(5)]);
}

#[test]
fn deleting_a_subtask_takes_it_off_its_parents_list() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    claim(&mut board, "agent-1");
    let subtask = NewTask {
        parent_task: Some(id(1)),
        ..NewTask::new("a part of it")
    };
    board.add_tasks(vec![subtask], at(2)).unwrap();
    let (_, events) = board.delete(&id(2), at(3)).unwrap();
    let parent = board.task(&id(1)).unwrap();
    assert_eq!(
        parent.result.as_ref().unwrap().subtasks_created,
        Vec::<TaskId>::new()
    );
    assert_eq!(events.last(), Some(&Event::TaskUpdated(parent.clone())));
    assert_sound(&board);
}

#[test]
fn delete_refuses_a_task_others_depend_on_or_that_started() {
    let mut board = Board::default();
    add(&mut board, 1, &[]);
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[2]);
    add(&mut board, 5, &[]);
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.delete(&id(2), at(3))
    });
    assert!(
        err.message.contains("task task-003 depends on task-002"),
        "{err}"
    );
    claim(&mut board, "agent-1");
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.delete(&id(1), at(3))
    });
    assert!(err.message.contains("task task-001 is claimed"), "{err}");
    assert!(err.message.contains("`baton cancel task-001`"), "{err}");
    board.release(&id(1), "the agent was lost", at(3)).unwrap();
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.delete(&id(1), at(3))
    });
    assert!(err.message.contains("has already been worked on"), "{err}");
    board.cancel(&id(4), at(3)).unwrap();
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.delete(&id(4), at(3))
    });
    assert!(err.message.contains("is cancelled"), "{err}");
    assert!(!err.message.contains("baton cancel"), "{err}");
    let err = assert_refused(&mut board, ErrorKind::TaskNotFoundError, |board| {
        board.delete(&id(9), at(3))
    });
    assert!(err.message.contains("task-009"), "{err}");
}

// ---- claims that expire ----

#[test]
fn an_expired_claim_goes_back_to_the_queue_with_its_attempt_counted() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    let timeout = board.config().task_timeout as i64;
    board.claim("outsider", at(0)).unwrap();
    board.start_task(&id(1), at(1)).unwrap();
    assert_eq!(board.next_claim_expiry(), Some(at(timeout)));
    let events = board.expire_claims(at(timeout + 1));
    let task = board.task(&id(1)).unwrap().clone();
    assert_eq!(events, vec![Event::TaskUpdated(task.clone())]);
    assert_eq!(task.status, TaskStatus::Available);
    assert_eq!(task.claimed_by, None);
    assert_eq!(task.claimed_at, None);
    assert_eq!(task.attempts, 1);
    assert_eq!(board.next_claim_expiry(), None);
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), vec![id(1)]);
    let (again, _) = board.claim("agent-2", at(timeout + 2)).unwrap();
    assert_eq!(again.unwrap().attempts, 2);
}

#[test]
fn a_claim_younger_than_the_timeout_stays() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    board
        .configure(
            &ConfigPatch {
                task_timeout: Some(60),
                ..ConfigPatch::default()
            },
            at(0),
        )
        .unwrap();
    board.claim("old", at(0)).unwrap();
    board.claim("young", at(30)).unwrap();
    let before = board.state();
    assert!(
        board.expire_claims(at(60)).is_empty(),
        "exactly the timeout is not older"
    );
    assert_eq!(board.state(), before);
    let events = board.expire_claims(at(61));
    assert_eq!(events.len(), 1);
    assert_eq!(status(&board, 1), TaskStatus::Available);
    assert_eq!(status(&board, 2), TaskStatus::Claimed);
    assert_eq!(board.next_claim_expiry(), Some(at(90)));
}

#[test]
fn a_model_with_a_space_or_a_control_character_is_refused() {
    let mut board = Board::default();
    for model in ["m\u{1b}[31m", "claude sonnet", "claude-opus-4\n"] {
        let patch = ConfigPatch {
            model: Some(model.into()),
            ..ConfigPatch::default()
        };
        let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
            board.configure(&patch, at(0))
        });
        assert!(
            err.message.contains("a space or a control character"),
            "{err}"
        );
        assert!(
            !err.message.contains('\u{1b}'),
            "the refusal shows it escaped: {err}"
        );
    }
}

#[test]
fn a_failed_or_cancelled_dependent_is_no_work_waiting() {
    for end in ["fail", "cancel"] {
        let mut board = Board::default();
        let older = add(&mut board, 5, &[]);
        let newer = add(&mut board, 5, &[]);
        let child = add(&mut board, 5, &[2]);
        add(&mut board, 5, &[3]);
        add(&mut board, 5, &[1]);
        assert_eq!(
            board.ready().next(),
            Some(&newer),
            "three tasks wait on the newer one"
        );
        match end {
            "fail" => board.fail(&child, "gave up", at(1)).map(drop),
            _ => board.cancel(&child, at(1)).map(drop),
        }
        .unwrap();
        assert_eq!(
            board.ready().next(),
            Some(&older),
            "after {end}, one task waits on the older one and none on the newer"
        );
        board.retry(&child, at(2)).unwrap();
        assert_eq!(
            board.ready().next(),
            Some(&newer),
            "retried, its chain counts again"
        );
    }
}

#[test]
fn a_task_timeout_too_long_to_count_is_refused_and_one_stored_never_expires() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    for too_long in [31_536_001, 9_223_372_036_854_776, u64::MAX] {
        let patch = ConfigPatch {
            task_timeout: Some(too_long),
            ..ConfigPatch::default()
        };
        let err = assert_refused(&mut board, ErrorKind::InvalidInputError, |board| {
            board.configure(&patch, at(0))
        });
        assert!(err.message.contains("one year"), "{err}");
    }
    // A state that earlier versions let in keeps its timeout, and a claim under it
    // never expires: nothing overflows.
    let mut state = board.state();
    state.config.as_mut().unwrap().task_timeout = u64::MAX;
    let mut board = Board::from_state(state, false).unwrap();
    board.claim("outsider", at(0)).unwrap();
    assert_eq!(board.next_claim_expiry(), None);
    assert!(board.expire_claims(at(1_000_000_000)).is_empty());
    assert_eq!(status(&board, 1), TaskStatus::Claimed);
}

#[test]
fn finishing_an_expired_claim_is_refused() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    board.claim("outsider", at(0)).unwrap();
    board.expire_claims(at(10_000));
    let err = assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.complete(&id(1), TaskResult::default(), at(10_001))
    });
    assert!(
        err.message.contains("went back to the queue") && !err.message.contains("never claimed"),
        "{err}"
    );
}

// ---- the daemon's own agents ----

#[test]
fn release_puts_a_held_task_back_in_the_queue_with_its_attempt_counted() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    board
        .claim_supervised("worker-1", &BTreeSet::new(), at(1))
        .unwrap();
    board.start_task(&id(1), at(2)).unwrap();
    board
        .set_stage(&id(1), TaskStage::Working, None, at(2))
        .unwrap();
    let (task, events) = board.release(&id(1), "the daemon stopped", at(3)).unwrap();
    assert_eq!(task.status, TaskStatus::Available);
    assert_eq!(
        task.stage, None,
        "its work is entered again by the next attempt"
    );
    assert_eq!((task.claimed_by.as_deref(), task.claimed_at), (None, None));
    assert!(!task.supervised);
    assert_eq!(task.attempts, 1);
    assert_eq!(error_of(&task), "the daemon stopped");
    assert_eq!(events, vec![Event::TaskUpdated(task)]);
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), vec![id(1)]);
    let (again, _) = board.claim("agent-2", at(4)).unwrap();
    assert_eq!(again.unwrap().attempts, 2);
}

#[test]
fn release_of_a_task_not_held_is_refused_and_changes_nothing() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    assert_refused(&mut board, ErrorKind::OrchestrationError, |board| {
        board.release(&id(1), "why", at(1))
    });
    assert_refused(&mut board, ErrorKind::TaskNotFoundError, |board| {
        board.release(&id(9), "why", at(1))
    });
}

#[test]
fn a_supervised_claim_passes_over_tasks_that_touch_busy_files() {
    let mut board = Board::default();
    let mut batch = vec![
        new_task("edit a", 1, &[]),
        new_task("edit b", 2, &[]),
        new_task("edit nothing", 3, &[]),
    ];
    batch[0].context_files = vec!["src/a.rs".into()];
    batch[1].context_files = vec!["src/a.rs".into(), "src/b.rs".into()];
    board.add_tasks(batch, at(0)).unwrap();
    let busy: BTreeSet<String> = ["src/a.rs".to_owned()].into();
    let (task, _) = board.claim_supervised("worker-1", &busy, at(1)).unwrap();
    let task = task.unwrap();
    assert_eq!(task.id, id(3));
    assert!(task.supervised);
    let (none, _) = board.claim_supervised("worker-2", &busy, at(1)).unwrap();
    assert_eq!(none, None, "every other ready task touches src/a.rs");
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), [1, 2].map(id));
    assert_eq!(
        claim(&mut board, "outsider"),
        Some(id(1)),
        "outside claims ignore files"
    );
}

#[test]
fn expire_claims_leaves_the_daemons_own_agents_alone() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    board
        .claim_supervised("worker-1", &BTreeSet::new(), at(0))
        .unwrap();
    board.claim("outsider", at(0)).unwrap();
    assert_eq!(board.supervised(), vec![id(1)]);
    let events = board.expire_claims(at(100_000));
    assert_eq!(events.len(), 1);
    assert_eq!(status(&board, 1), TaskStatus::Claimed);
    assert_eq!(status(&board, 2), TaskStatus::Available);
    board
        .complete(&id(1), TaskResult::default(), at(100_001))
        .unwrap();
    assert!(board.supervised().is_empty());
    assert!(!board.task(&id(1)).unwrap().supervised);
}

#[test]
fn recorded_attempts_add_up_per_task_and_for_the_board() {
    let mut board = Board::default();
    add(&mut board, 5, &[]);
    add(&mut board, 5, &[]);
    let attempt = |cost_usd, session: &str| Attempt {
        usage: Usage {
            cost_usd,
            turns: 2,
            ..Usage::default()
        },
        session_id: Some(session.into()),
        permission_denials: vec![],
    };
    board
        .record_attempt(&id(1), attempt(0.25, "s-1"), at(1))
        .unwrap();
    let (task, events) = board
        .record_attempt(&id(1), attempt(0.5, "s-2"), at(2))
        .unwrap();
    board
        .record_attempt(&id(2), attempt(1.0, "s-3"), at(3))
        .unwrap();
    assert_eq!(task.usage.cost_usd, 0.75);
    assert_eq!(task.usage.turns, 4);
    assert_eq!(
        task.session_id.as_deref(),
        Some("s-2"),
        "the last session is resumed"
    );
    assert_eq!(events, vec![Event::TaskUpdated(task)]);
    assert_eq!(board.status().cost_usd, 1.75);
    let rebuilt = Board::from_state(board.state(), false).unwrap();
    assert_eq!(
        rebuilt.status().cost_usd,
        1.75,
        "the total survives a restart"
    );
    assert_refused(&mut board, ErrorKind::TaskNotFoundError, |board| {
        board.record_attempt(&id(9), attempt(1.0, "s-4"), at(4))
    });
}

// ---- status ----

#[test]
fn status_counts_tasks_per_status_and_the_share_finished() {
    let mut board = Board::default();
    for _ in 0..7 {
        add(&mut board, 5, &[]);
    }
    for n in 1..=5 {
        assert_eq!(claim(&mut board, "agent-1"), Some(id(n)));
    }
    board.start_task(&id(2), at(2)).unwrap();
    board
        .complete(&id(3), TaskResult::default(), at(2))
        .unwrap();
    board.fail(&id(4), "no", at(2)).unwrap();
    board.cancel(&id(5), at(2)).unwrap();
    let progress = board.status().progress;
    assert_eq!(progress.total_tasks, 7);
    let by = progress.by_status;
    assert_eq!(
        [
            by.available,
            by.claimed,
            by.in_progress,
            by.done,
            by.failed,
            by.cancelled
        ],
        [2, 1, 1, 1, 1, 1]
    );
    assert_eq!(
        progress.percent_complete, 42,
        "3 of 7 finished, rounded down"
    );
    assert_eq!(by, board.counts());
    assert_eq!(Board::default().status().progress.percent_complete, 0);
}

#[test]
fn status_lists_the_agents_holding_tasks() {
    let mut board = Board::default();
    for _ in 0..3 {
        add(&mut board, 5, &[]);
    }
    board.claim("agent-a", at(5)).unwrap();
    board.claim("agent-b", at(6)).unwrap();
    board.start_task(&id(2), at(7)).unwrap();
    let mut agents: Vec<_> = board
        .status()
        .agents
        .into_iter()
        .map(|agent| (agent.id, agent.task, agent.since))
        .collect();
    agents.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        agents,
        vec![
            ("agent-a".to_owned(), Some(id(1)), Some(at(5))),
            ("agent-b".to_owned(), Some(id(2)), Some(at(6))),
        ]
    );
    board
        .complete(&id(1), TaskResult::default(), at(8))
        .unwrap();
    assert_eq!(board.status().agents.len(), 1);
}

#[test]
fn status_carries_the_most_recent_discoveries() {
    let mut board = Board::default();
    for n in 0..25 {
        let discovery = NewDiscovery {
            agent_id: "agent-1".into(),
            content: format!("finding {n}"),
            related_task: None,
            tags: vec![],
        };
        board.add_discovery(discovery, at(n)).unwrap();
    }
    let discoveries = board.status().discoveries;
    assert_eq!(discoveries.len(), 20);
    assert_eq!(discoveries[0].content, "finding 5");
    assert_eq!(discoveries[19].content, "finding 24");
    assert_eq!(board.discoveries().len(), 25);
}

// ---- whole state: save, load, configure ----

/// A board with a bit of everything: every status, a subtask, a discovery.
fn busy_board() -> Board {
    let mut board = Board::default();
    let init = InitParams {
        goal: "ship the login page".into(),
        master_plan: "model, endpoint, tests".into(),
        config: ConfigPatch {
            max_workers: Some(2),
            ..ConfigPatch::default()
        },
        ..InitParams::default()
    };
    board.init(init, at(0)).unwrap();
    for _ in 0..4 {
        add(&mut board, 3, &[]);
    }
    add(&mut board, 1, &[1, 2]);
    add(&mut board, 5, &[3]);
    claim(&mut board, "agent-1"); // 1
    claim(&mut board, "agent-2"); // 2
    board
        .complete(&id(1), TaskResult::default(), at(2))
        .unwrap();
    board.start_task(&id(2), at(2)).unwrap();
    board.fail(&id(3), "it broke", at(3)).unwrap(); // and 6
    board.cancel(&id(4), at(3)).unwrap();
    let mut subtask = new_task("a piece of task-002", 2, &[1]);
    subtask.parent_task = Some(id(2));
    board.add_tasks(vec![subtask], at(4)).unwrap();
    let discovery = NewDiscovery {
        agent_id: "agent-2".into(),
        content: "the schema lives in db/".into(),
        related_task: Some(id(2)),
        tags: vec!["db".into()],
    };
    board.add_discovery(discovery, at(5)).unwrap();
    board
}

#[test]
fn a_state_rebuilds_an_equal_board() {
    let mut board = busy_board();
    let state = board.state();
    let mut rebuilt = Board::from_state(state.clone(), false).unwrap();
    assert_eq!(rebuilt.state(), state);
    assert_eq!(rebuilt.counts(), board.counts());
    assert_eq!(
        rebuilt.ready().collect::<Vec<_>>(),
        board.ready().collect::<Vec<_>>()
    );
    assert_eq!(rebuilt.status(), board.status());
    assert_eq!(rebuilt.next_claim_expiry(), board.next_claim_expiry());

    let json = serde_json::to_string(&state).unwrap();
    let read: CoordinationState = serde_json::from_str(&json).unwrap();
    assert_eq!(read, state, "the state survives JSON");

    let restored = Board::restore(
        board.meta(),
        board.tasks(None),
        board.discoveries().to_vec(),
        board.attempts().to_vec(),
    );
    assert_eq!(restored.unwrap().state(), state);
}

#[test]
fn new_ids_never_reuse_a_loaded_id() {
    let mut board = busy_board();
    let mut state = board.state();
    state.tasks.retain(|task| task.id != id(7));
    state.tasks[0].id = TaskId::from("task-41");
    for task in &mut state.tasks {
        let subtasks = task.result.iter_mut().flat_map(|result| {
            result.subtasks_created.retain(|subtask| *subtask != id(7));
            &mut result.subtasks_created
        });
        for named in task.dependencies.iter_mut().chain(subtasks) {
            if *named == id(1) {
                *named = TaskId::from("task-41");
            }
        }
    }
    board.load(state, at(10)).unwrap();
    assert_eq!(add(&mut board, 5, &[]), id(42));
}

#[test]
fn a_loaded_id_that_leaves_no_number_for_new_tasks_is_refused() {
    // Loading used to overflow; then every add failed, as no number was left.
    assert_load_refused("a task numbered u64::MAX", |state| {
        let mut last = state.tasks[0].clone();
        last.id = TaskId::from(format!("task-{}", u64::MAX));
        state.tasks.push(last);
    });
    let mut board = busy_board();
    let mut state = board.state();
    let mut last = state.tasks[0].clone();
    last.id = TaskId::from("task-1000000000000");
    state.tasks.push(last);
    board.load(state, at(10)).unwrap();
    let (added, _) = board
        .add_tasks(vec![new_task("one more", 5, &[])], at(11))
        .unwrap();
    assert_eq!(added[0].id.as_str(), "task-1000000000001");
}

#[test]
fn a_loaded_file_s_tasks_go_out_oldest_first_whatever_order_it_lists_them_in() {
    let mut board = Board::default();
    let mut state = board.state();
    for (n, created) in [(1, 300), (2, 200), (10, 100)] {
        let mut task: Task = serde_json::from_value(serde_json::json!({
            "id": format!("task-{n:03}"), "description": format!("created at {created}"),
            "status": "available", "priority": 5, "created_at": at(created),
        }))
        .unwrap();
        task.dependencies.clear();
        state.tasks.push(task);
    }
    board.load(state, at(400)).unwrap();
    assert_eq!(claim_order(&mut board), [id(10), id(2), id(1)]);
}

#[test]
fn load_replaces_everything_and_turns_dispatch_off() {
    let mut board = Board::default();
    board.set_running(true, at(0));
    let state = busy_board().state();
    let events = board.load(state.clone(), at(10)).unwrap();
    assert!(!board.is_running());
    assert_eq!(events.len(), 1);
    let mut expected = state;
    expected.last_activity = Some(at(10));
    assert_eq!(board.state(), expected);
}

/// Loads `change`d copies of a good state into a busy board: each is refused, as
/// invalid input, and the board stays as it was.
fn assert_load_refused(what: &str, change: impl FnOnce(&mut CoordinationState)) {
    let mut board = busy_board();
    let mut state = board.state();
    change(&mut state);
    let before = board.state();
    let err = board
        .load(state, at(10))
        .expect_err(&format!("a state with {what} should be refused"));
    assert_eq!(err.kind, ErrorKind::InvalidInputError, "{what}: {err}");
    assert_eq!(board.state(), before, "{what}: the board changed");
}

#[test]
fn load_refuses_a_bad_state_and_changes_nothing() {
    assert_load_refused("a duplicate id", |state| {
        state.tasks[1].id = state.tasks[0].id.clone();
    });
    assert_load_refused("an empty id", |state| state.tasks[3].id = TaskId::from(""));
    for unsafe_id in [
        "../../victim",
        "/tmp/x",
        "a b",
        ".hidden",
        "-x",
        "a:b",
        "x\n",
        "a..b",
        "x.lock",
    ] {
        assert_load_refused(unsafe_id, |state| {
            state.tasks[6].id = TaskId::from(unsafe_id)
        });
    }
    assert_load_refused("an unknown dependency", |state| {
        state.tasks[5].dependencies.push(TaskId::from("task-999"));
    });
    assert_load_refused("a cycle", |state| {
        state.tasks[0].status = TaskStatus::Available;
        state.tasks[0].dependencies.push(id(5));
    });
    assert_load_refused("a self-dependency", |state| {
        state.tasks[3].dependencies.push(id(4));
    });
    assert_load_refused("priority 0", |state| state.tasks[2].priority = 0);
    assert_load_refused("a negative cost", |state| {
        state.tasks[2].usage.cost_usd = -1.0
    });
    assert_load_refused("priority 11", |state| state.tasks[2].priority = 11);
    assert_load_refused("an empty description", |state| {
        state.tasks[2].description = "".into();
    });
    assert_load_refused("a done task whose dependency is not done", |state| {
        state.tasks[4].status = TaskStatus::Done;
    });
    assert_load_refused("a claimed task whose dependency is not done", |state| {
        state.tasks[5].status = TaskStatus::Claimed;
        state.tasks[5].claimed_by = Some("agent-1".into());
        state.tasks[5].claimed_at = Some(at(1));
    });
    assert_load_refused("a held task without an agent", |state| {
        state.tasks[1].claimed_by = None;
    });
    assert_load_refused("a held task without a claim time", |state| {
        state.tasks[1].claimed_at = None;
    });
    assert_load_refused("a repeated dependency", |state| {
        state.tasks[4].dependencies.push(id(1));
    });
    assert_load_refused("an unknown parent", |state| {
        state.tasks[6].context.parent_task = Some(TaskId::from("task-999"));
    });
    assert_load_refused("a discovery about an unknown task", |state| {
        state.discoveries[0].related_task = Some(TaskId::from("task-999"));
    });
    assert_load_refused("a failed dependency that is not a dependency", |state| {
        state.tasks[5].failed_dependency = Some(id(1));
    });
    assert_load_refused("a bad configuration", |state| {
        state.config.as_mut().unwrap().max_workers = 0;
    });
    assert_load_refused("no configuration and zero workers", |state| {
        state.config = None;
        state.max_parallel_workers = 0;
    });
    assert_load_refused("no configuration and a zero timeout", |state| {
        state.config = None;
        state.task_timeout_seconds = 0;
    });
}

#[test]
fn a_state_without_configuration_takes_workers_and_timeout_from_the_reference_fields() {
    let mut state = busy_board().state();
    state.config = None;
    state.max_parallel_workers = 7;
    state.task_timeout_seconds = 42;
    let board = Board::from_state(state, false).unwrap();
    assert_eq!(board.config().max_workers, 7);
    assert_eq!(board.config().task_timeout, 42);
    assert_eq!(board.config().model, Config::default().model);
}

#[test]
fn load_fails_the_tasks_stuck_behind_a_failed_dependency() {
    // A state file from elsewhere may hold a failed task with open dependents.
    let mut state = chain_board().state();
    state.tasks[0].status = TaskStatus::Failed;
    state.tasks[3].status = TaskStatus::Cancelled;
    let mut board = Board::default();
    let events = board.load(state, at(5)).unwrap();
    for (n, because) in [(2, 1), (3, 2), (5, 2)] {
        let task = board.task(&id(n)).unwrap();
        assert_eq!(task.status, TaskStatus::Failed, "{}", id(n));
        assert!(task.failed_dependency.is_some(), "{}", id(n));
        if n != 5 {
            assert_eq!(task.failed_dependency, Some(id(because)));
        }
        assert!(events.contains(&Event::TaskFailed(task.clone())));
    }
    assert_eq!(board.ready().cloned().collect::<Vec<_>>(), vec![id(6)]);
    let mut drained = board.clone();
    claim_order(&mut drained);
    assert!(drained
        .tasks(None)
        .iter()
        .all(|task| task.status.is_finished()));
}

#[test]
fn configure_refuses_a_bad_value_and_changes_nothing() {
    let bad = [
        ConfigPatch {
            max_workers: Some(0),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            task_budget_usd: Some(Some(-1.0)),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            run_budget_usd: Some(Some(f64::NAN)),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            permission_mode: Some("yolo".into()),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            task_timeout: Some(0),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            model: Some(" ".into()),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            allowed_tools: Some(vec!["Read".into(), " ".into()]),
            ..ConfigPatch::default()
        },
        ConfigPatch {
            // A good value beside a bad one: neither is taken.
            max_workers: Some(5),
            max_attempts: Some(0),
            ..ConfigPatch::default()
        },
    ];
    // Names git refuses for a branch.
    let branches = [
        "HEAD", "a b", "a..b", "a@{1}", "-a", "a/", "a.", "a//b", "a/.b", "a.lock", "@", "a~1",
    ];
    let bad = bad.into_iter().chain(branches.map(|name| ConfigPatch {
        integration_branch: Some(name.into()),
        ..ConfigPatch::default()
    }));
    let mut board = busy_board();
    for patch in bad {
        let before = board.state();
        let err = board.configure(&patch, at(9)).expect_err("a bad value");
        assert_eq!(err.kind, ErrorKind::InvalidInputError, "{patch:?}");
        assert_eq!(board.state(), before, "{patch:?} changed the state");
    }
    let before = board.state();
    let init = InitParams {
        goal: "another goal".into(),
        master_plan: String::new(),
        config: ConfigPatch {
            max_workers: Some(0),
            ..ConfigPatch::default()
        },
        ..InitParams::default()
    };
    assert!(board.init(init, at(9)).is_err());
    assert_eq!(
        board.state(),
        before,
        "init with a bad value changed the state"
    );
}

#[test]
fn configure_sets_only_the_keys_given() {
    let mut board = Board::default();
    let patch = ConfigPatch {
        max_workers: Some(5),
        task_budget_usd: Some(Some(2.5)),
        ..ConfigPatch::default()
    };
    board.configure(&patch, at(1)).unwrap();
    let expected = Config {
        max_workers: 5,
        task_budget_usd: Some(2.5),
        ..Config::default()
    };
    assert_eq!(board.config(), &expected);
    let clear = ConfigPatch {
        task_budget_usd: Some(None),
        ..ConfigPatch::default()
    };
    board.configure(&clear, at(2)).unwrap();
    assert_eq!(board.config().task_budget_usd, None);
    assert_eq!(board.config().max_workers, 5);
}

#[test]
fn loading_a_state_releases_claims_of_agents_the_daemon_no_longer_runs() {
    let mut board = Board::default();
    board
        .add_tasks(
            vec![new_task("worked on by the daemon's agent", 5, &[])],
            at(0),
        )
        .unwrap();
    board
        .claim_supervised("worker-1", &BTreeSet::new(), at(1))
        .unwrap();
    let saved = board.state();

    let mut loaded = Board::default();
    loaded.load(saved, at(2)).unwrap();
    let task = loaded.task(&id(1)).unwrap();
    assert_eq!(task.status, TaskStatus::Available);
    assert!(!task.supervised);
    assert_eq!(task.attempts, 1, "the lost attempt counts");
    assert_eq!(loaded.ready().collect::<Vec<_>>(), vec![&id(1)]);
}

#[test]
fn another_goal_is_refused_while_a_run_goes() {
    let mut board = working();
    let goal = board.state().goal;
    let init = |goal: &str| InitParams {
        goal: goal.into(),
        master_plan: String::new(),
        config: ConfigPatch::default(),
        keep: false,
    };
    let refused = board.init(init("another goal"), at(5)).unwrap_err();
    assert!(refused.to_string().contains("`baton stop`"), "{refused}");
    assert_eq!(board.state().goal, goal, "the run's goal stays");
}

#[test]
fn a_run_in_one_shared_checkout_says_its_work_is_neither_verified_nor_reviewed() {
    let notes = |patch: ConfigPatch, isolation| {
        let mut board = Board::default();
        board.add_tasks(vec![NewTask::new("one")], at(0)).unwrap();
        board.configure(&patch, at(0)).unwrap();
        let start = crate::core::RunStart {
            isolation,
            ..run_start()
        };
        let events = board.start_run(start, at(1)).unwrap();
        events
            .into_iter()
            .find_map(|event| match event {
                Event::RunStarted(started) => Some(started.notes),
                _ => None,
            })
            .unwrap()
    };
    let gated = ConfigPatch {
        verify_command: Some(Some("cargo test".into())),
        review: Some(true),
        ..ConfigPatch::default()
    };
    let shared = notes(gated.clone(), crate::core::run::Isolation::Shared);
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert!(
        shared[0].starts_with("verify_command and review need worktrees"),
        "{shared:?}"
    );
    assert!(notes(gated, crate::core::run::Isolation::Worktrees).is_empty());
    assert!(notes(ConfigPatch::default(), crate::core::run::Isolation::Shared).is_empty());
}
