//! The views on small plans and runs, as snapshots.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::graph::{critical_path, dot, mermaid, tree};
use super::lanes::lanes;
use super::progress;
use super::report::{markdown, RunReport};
use super::{fit, Paint, Plain};
use crate::model::{OutsideClaim, RunResult, Task, TaskId, TaskResult, TaskStage, TaskStatus};
use crate::progress::{ByStatus, Progress};
use crate::timeline::{AgentKind, AttemptOutcome, AttemptRecord, Timeline};

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap() + Duration::seconds(seconds)
}

fn task(n: u64, status: TaskStatus, description: &str, deps: &[u64]) -> Task {
    serde_json::from_value(serde_json::json!({
        "id": TaskId::numbered(n),
        "description": description,
        "status": status,
        "priority": 5,
        "dependencies": deps.iter().map(|&d| TaskId::numbered(d)).collect::<Vec<_>>(),
        "created_at": "2026-12-01T09:00:00Z",
    }))
    .unwrap()
}

/// A plan with a diamond: 1 → 2, 1 → 3, 2 + 3 → 4, and 5 on its own; 4 → 6.
fn plan() -> Vec<Task> {
    let mut failed = task(3, TaskStatus::Failed, "Write the endpoints", &[1]);
    failed.result = Some(Box::new(TaskResult {
        error: Some("the tests failed: 2 of 14 | exit 1".into()),
        ..TaskResult::default()
    }));
    vec![
        task(1, TaskStatus::Done, "Design the users table", &[]),
        task(2, TaskStatus::InProgress, "Add the migration", &[1]),
        failed,
        task(
            4,
            TaskStatus::Available,
            "Wire sign-up into the \"shop\" <UI>",
            &[2, 3],
        ),
        task(5, TaskStatus::Cancelled, "Tidy the README\nand more", &[]),
        task(6, TaskStatus::Available, "Release notes", &[4]),
    ]
}

fn record(
    id: u64,
    lane: &str,
    kind: AgentKind,
    task: Option<u64>,
    span: (i64, Option<i64>),
    outcome: Option<AttemptOutcome>,
    cost_usd: f64,
) -> AttemptRecord {
    AttemptRecord {
        id,
        run: 1,
        lane: lane.into(),
        kind,
        task: task.map(TaskId::numbered),
        started_at: at(span.0),
        ended_at: span.1.map(at),
        outcome,
        reason: match outcome {
            Some(AttemptOutcome::Done) | None => None,
            Some(_) => Some("the agent exited without a result".into()),
        },
        cost_usd,
    }
}

/// The leader plans for 20 s; two workers overlap; worker-1's first attempt is
/// requeued, then it idles, then takes task 3 again, which fails; a reviewer reads
/// task 2's work; the summary ends it.
fn run_timeline(going: bool) -> Timeline {
    use AgentKind::*;
    use AttemptOutcome::*;
    let mut attempts = vec![
        record(0, "leader", Leader, None, (0, Some(20)), Some(Done), 0.05),
        record(
            1,
            "worker-1",
            Worker,
            Some(1),
            (21, Some(60)),
            Some(Done),
            0.10,
        ),
        record(
            2,
            "worker-2",
            Worker,
            Some(3),
            (21, Some(50)),
            Some(Requeued),
            0.02,
        ),
        record(
            3,
            "worker-2",
            Worker,
            Some(3),
            (80, Some(120)),
            Some(Failed),
            0.07,
        ),
        record(4, "worker-1", Worker, Some(2), (62, None), None, 0.0),
    ];
    if !going {
        attempts[4] = record(
            4,
            "worker-1",
            Worker,
            Some(2),
            (62, Some(110)),
            Some(Done),
            0.09,
        );
        attempts.push(record(
            5,
            "reviewer-1",
            Reviewer,
            Some(2),
            (110, Some(120)),
            Some(Done),
            0.03,
        ));
        attempts.push(record(
            6,
            "summary",
            Summary,
            None,
            (121, Some(130)),
            Some(Done),
            0.01,
        ));
    }
    Timeline {
        run: 1,
        runs: 1,
        going,
        attempts,
    }
}

/// Marks what each paint call saw, to check what is coloured.
struct Tags;

impl Paint for Tags {
    fn status(&self, status: TaskStatus, text: &str) -> String {
        format!("<{}>{text}</>", status.as_str())
    }
    fn strong(&self, text: &str) -> String {
        format!("<b>{text}</b>")
    }
}

#[test]
fn the_critical_path_is_the_longest_chain() {
    let path: Vec<String> = critical_path(&plan())
        .iter()
        .map(|id| id.to_string())
        .collect();
    assert_eq!(path, ["task-001", "task-002", "task-004", "task-006"]);
}

#[test]
fn the_tree_shows_a_task_of_two_dependencies_once_and_refers_to_it_after() {
    insta::assert_snapshot!("tree", tree(&plan(), None, &Plain));
}

#[test]
fn the_tree_fits_the_width() {
    let narrow = tree(&plan(), Some(30), &Plain);
    for line in narrow.lines() {
        assert!(
            unicode_width::UnicodeWidthStr::width(line) <= 30,
            "{line:?} is wider than 30"
        );
    }
    insta::assert_snapshot!("tree_30_columns", narrow);
}

#[test]
fn the_tree_colours_status_marks_and_the_critical_path() {
    let tagged = tree(&plan()[..2], None, &Tags);
    assert!(
        tagged.starts_with("<done><b>✓*task-001</b></> Design the users table\n"),
        "{tagged}"
    );
}

#[test]
fn an_empty_plan_says_how_to_begin() {
    assert_eq!(
        tree(&[], Some(80), &Plain),
        "No tasks yet; `baton add` adds one, `baton plan GOAL` plans a goal\n"
    );
}

#[test]
fn mermaid_and_dot_draw_every_task_and_dependency() {
    insta::assert_snapshot!("mermaid", mermaid(&plan()));
    insta::assert_snapshot!("dot", dot(&plan()));
}

#[test]
fn the_timeline_draws_a_lane_per_agent_with_gaps_and_outcomes() {
    insta::assert_snapshot!(
        "lanes_ended",
        lanes(&run_timeline(false), at(200), 80, &Plain)
    );
}

#[test]
fn a_run_going_draws_its_open_attempts_up_to_now() {
    insta::assert_snapshot!(
        "lanes_going",
        lanes(&run_timeline(true), at(125), 60, &Plain)
    );
}

#[test]
fn a_timeline_fits_its_width() {
    for width in [40, 80, 132] {
        let drawn = lanes(&run_timeline(false), at(200), width, &Plain);
        let lines: Vec<&str> = drawn.lines().collect();
        for line in &lines[1..6] {
            assert_eq!(
                unicode_width::UnicodeWidthStr::width(*line),
                width,
                "{line:?} at width {width}"
            );
        }
        for line in &lines {
            assert!(
                unicode_width::UnicodeWidthStr::width(*line) <= width,
                "{line:?}"
            );
        }
    }
}

#[test]
fn a_report_counts_short_agent_runs_and_tasks_no_agent_ran() {
    let tasks = [
        task(1, TaskStatus::Done, "Build", &[]),
        task(2, TaskStatus::Failed, "Ship", &[1]),
    ];
    let result = RunResult {
        goal: "Ship it".into(),
        tasks_completed: 1,
        tasks_failed: 1,
        tasks_cancelled: 0,
        discoveries: 0,
        summary: "Half of it.".into(),
        cost_usd: 0.3,
        run: 1,
        report: None,
        stages: Default::default(),
        stopped: None,
    };
    let review = |id, from_ms: i64, to_ms: i64| AttemptRecord {
        started_at: at(0) + Duration::milliseconds(from_ms),
        ended_at: Some(at(0) + Duration::milliseconds(to_ms)),
        ..record(
            id,
            "reviewer-1",
            AgentKind::Reviewer,
            Some(1),
            (0, None),
            Some(AttemptOutcome::Done),
            0.1,
        )
    };
    let timeline = Timeline {
        run: 1,
        runs: 1,
        going: false,
        attempts: vec![
            review(0, 0, 850),
            review(1, 1_000, 1_780),
            review(2, 2_000, 2_790),
        ],
    };
    let report = RunReport {
        result: &result,
        tasks: &tasks,
        finished: &tasks,
        timeline: &timeline,
        now: at(10),
    };
    let written = markdown(&report);
    // Three runs of under a second each are busy for 2.4 s, not 0 s.
    assert!(
        written.contains("| reviewer-1 | 3 | 2s | $0.3000 |"),
        "{written}"
    );
    // A task failed for its dependency ended in the run, with no agent and no cost.
    assert!(
        written.contains("| task-002 | ✗ failed | 0 | $0.0000 | Ship |"),
        "{written}"
    );
}

#[test]
fn a_board_without_runs_says_so() {
    let none = Timeline {
        run: 0,
        runs: 0,
        going: false,
        attempts: Vec::new(),
    };
    assert_eq!(
        lanes(&none, at(0), 80, &Plain),
        "No run yet; `baton run` starts one\n"
    );
}

#[test]
fn the_report_holds_goal_graph_timeline_costs_and_failures() {
    let tasks = plan();
    let result = RunResult {
        goal: "Add user accounts to the shop".into(),
        tasks_completed: 2,
        tasks_failed: 1,
        tasks_cancelled: 0,
        discoveries: 1,
        summary: "Accounts are in; the endpoints failed their tests.".into(),
        cost_usd: 0.34,
        run: 1,
        report: None,
        stages: Default::default(),
        stopped: None,
    };
    let finished = [tasks[0].clone(), tasks[2].clone()];
    let timeline = run_timeline(false);
    let report = RunReport {
        result: &result,
        tasks: &tasks,
        finished: &finished,
        timeline: &timeline,
        now: at(130),
    };
    insta::assert_snapshot!("report", markdown(&report));
}

#[test]
fn fit_cuts_by_columns_with_an_ellipsis() {
    assert_eq!(fit("abcdef", Some(4)), "abc…");
    assert_eq!(fit("abcd", Some(4)), "abcd");
    assert_eq!(fit("日本語です", Some(5)), "日本…");
    assert_eq!(fit("whole", None), "whole");
}

#[test]
fn a_chain_as_long_as_a_large_plan_draws_within_the_width() {
    let tasks: Vec<Task> = (1..=20_000)
        .map(|n| {
            let deps: Vec<u64> = if n > 1 { vec![n - 1] } else { vec![] };
            task(n, TaskStatus::Available, "a step", &deps)
        })
        .collect();
    let drawn = tree(&tasks, Some(80), &Plain);
    // The legend takes two lines at 80 columns.
    assert_eq!(drawn.lines().count(), 20_000 + 2);
    assert!(drawn
        .lines()
        .all(|line| unicode_width::UnicodeWidthStr::width(line) <= 80));
    assert!(drawn.contains("└─ ○*task-20000 a step\n"));
    assert_eq!(critical_path(&tasks).len(), 20_000);
}

#[test]
fn the_progress_line_counts_done_tasks_and_the_held_ones_by_stage() {
    let line = |by_status: ByStatus, stages: &[Option<TaskStage>], agents: usize| {
        progress::line(
            &Progress::of(by_status, stages.iter().copied().collect()),
            agents,
        )
    };
    let going = ByStatus {
        available: 2,
        claimed: 1,
        in_progress: 4,
        done: 3,
        ..ByStatus::default()
    };
    let stages = [
        None,
        Some(TaskStage::Working),
        Some(TaskStage::Working),
        Some(TaskStage::Verifying),
        Some(TaskStage::Reviewing),
    ];
    insta::assert_snapshot!(
        line(going, &stages, 4),
        @"3/10 done, 3 working, 1 verifying, 1 reviewing, 4 agents"
    );
    let resolving = ByStatus {
        in_progress: 1,
        done: 1,
        failed: 1,
        cancelled: 2,
        ..ByStatus::default()
    };
    insta::assert_snapshot!(
        line(resolving, &[Some(TaskStage::Resolving)], 1),
        @"1/5 done, 0 working, 1 resolving, 1 failed, 2 cancelled, 1 agent"
    );
    insta::assert_snapshot!(line(ByStatus::default(), &[], 0), @"0/0 done, 0 working, 0 agents");
}

#[test]
fn a_description_of_a_megabyte_on_one_line_draws_as_a_line_of_its_start() {
    let long = "Refactor the whole billing module carefully; ".repeat(22_000);
    let mut tasks = plan();
    tasks[0].description = long.clone();
    tasks[2].result.as_mut().unwrap().error = Some(long.clone());
    let timeline = run_timeline(false);
    let result = RunResult {
        goal: long.clone(),
        tasks_completed: 1,
        tasks_failed: 1,
        tasks_cancelled: 0,
        discoveries: 0,
        summary: "Billing is refactored.".into(),
        cost_usd: 0.1,
        run: 1,
        report: None,
        stages: Default::default(),
        stopped: None,
    };
    let report = RunReport {
        result: &result,
        tasks: &tasks,
        finished: &tasks,
        timeline: &timeline,
        now: at(130),
    };
    let report = markdown(&report);
    for (view, drawn) in [
        ("tree", tree(&tasks, None, &Plain)),
        ("mermaid", mermaid(&tasks)),
        ("dot", dot(&tasks)),
        // Past the goal, shown whole in a section of its own (below).
        ("report", report.replace(long.trim(), "")),
    ] {
        let widest = drawn.lines().map(|line| line.chars().count()).max();
        assert!(
            widest < Some(1_000),
            "{view}: a line of {widest:?} characters"
        );
        assert!(
            drawn.contains("Refactor the whole billing module"),
            "{view}"
        );
    }
    // The goal, the run's own text, is shown whole under the heading that cuts it.
    assert!(report.contains(&format!("## Goal\n\n{}\n", long.trim())));
}

#[test]
fn a_run_waiting_on_outside_claims_says_for_which_and_until_when() {
    let at = |minute: u32| Utc.with_ymd_and_hms(2026, 12, 5, 5, minute, 0).unwrap();
    let local = |minute: u32| {
        at(minute)
            .with_timezone(&chrono::Local)
            .format("%H:%M")
            .to_string()
    };
    let claim = |task: u64, agent: &str, returns_at| OutsideClaim {
        task_id: TaskId::numbered(task),
        agent_id: agent.into(),
        returns_at,
    };
    assert_eq!(progress::waiting(&[]), None);
    assert_eq!(
        progress::waiting(&[claim(1, "me", Some(at(52)))]).unwrap(),
        format!(
            "waiting for task-001, claimed by me outside this run: back in the queue at {} unless finished first",
            local(52)
        )
    );
    assert_eq!(
        progress::waiting(&[
            claim(1, "me", Some(at(52))),
            claim(3, "bob", Some(at(40))),
        ])
        .unwrap(),
        format!(
            "waiting for task-001 (me), task-003 (bob), claimed outside this run: the first back in the queue at {} unless finished first",
            local(40)
        )
    );
    assert_eq!(
        progress::waiting(&[claim(1, "me", None)]).unwrap(),
        "waiting for task-001, claimed by me outside this run: held until finished"
    );
}
