use baton_protocol::methods::{AgentActivity, DaemonInfoResult, StateChange, StateChangeReason};
use baton_protocol::{
    ActivityKind, AgentStatus, ByStatus, Config, Crash, Discovery, Event, HeldByStage, Progress,
    RunMode, RunPhase, RunResult, RunStatus, Status, Task, TaskContext, TaskId, TaskResult,
    TaskStatus,
};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn plain() {
    console::set_colors_enabled(false);
}

fn task(id: &str, status: TaskStatus, description: &str) -> Task {
    Task {
        id: TaskId::from(id),
        description: description.into(),
        status,
        priority: 5,
        claimed_by: None,
        dependencies: Vec::new(),
        context: TaskContext::default(),
        result: None,
        created_at: at("2025-03-01T09:00:00Z"),
        claimed_at: None,
        completed_at: None,
        attempts: 0,
        failed_dependency: None,
        usage: Default::default(),
        session_id: None,
        permission_denials: Vec::new(),
        supervised: false,
        model: None,
        stage: None,
    }
}

fn finished_task() -> Task {
    Task {
        priority: 2,
        claimed_by: Some("worker-1".into()),
        dependencies: vec![TaskId::from("task-001"), TaskId::from("task-002")],
        context: TaskContext {
            files: vec!["src/parser.rs".into(), "src/lexer.rs".into()],
            hints: "The lexer already handles comments.".into(),
            parent_task: Some(TaskId::from("task-001")),
        },
        result: Some(Box::new(TaskResult {
            output: "Added 14 tests.\nAll pass.".into(),
            files_modified: vec!["src/parser.rs".into()],
            files_created: vec!["tests/parser.rs".into()],
            error: None,
            discoveries: vec!["The parser accepts trailing commas".into()],
            subtasks_created: vec![TaskId::from("task-009")],
        })),
        claimed_at: Some(at("2025-03-01T09:05:00Z")),
        completed_at: Some(at("2025-03-01T09:12:30Z")),
        attempts: 1,
        ..task("task-003", TaskStatus::Done, "Write tests for the parser")
    }
}

fn discovery(agent: &str, task: Option<&str>, content: &str) -> Discovery {
    Discovery {
        agent_id: agent.into(),
        content: content.into(),
        related_task: task.map(TaskId::from),
        tags: Vec::new(),
        created_at: at("2025-03-01T09:10:00Z"),
    }
}

#[test]
fn show_gives_every_field_of_a_task_and_its_result() {
    plain();
    insta::assert_snapshot!(super::task(&finished_task()), @r"
    id                task-003
    description       Write tests for the parser
    status            done
    priority          2
    dependencies      task-001, task-002
    claimed by        worker-1
    attempts          1
    files             src/parser.rs
                      src/lexer.rs
    hints             The lexer already handles comments.
    parent task       task-001
    created           2025-03-01 09:00:00 UTC
    claimed           2025-03-01 09:05:00 UTC
    completed         2025-03-01 09:12:30 UTC
    output            Added 14 tests.
                      All pass.
    files modified    src/parser.rs
    files created     tests/parser.rs
    discoveries       The parser accepts trailing commas
    subtasks created  task-009
    ");
}

#[test]
fn show_says_why_a_task_failed() {
    plain();
    let failed = Task {
        result: Some(Box::new(TaskResult {
            error: Some("dependency task-002 failed".into()),
            ..TaskResult::default()
        })),
        failed_dependency: Some(TaskId::from("task-002")),
        ..task("task-004", TaskStatus::Failed, "Document the parser")
    };
    insta::assert_snapshot!(super::task(&failed), @r"
    id              task-004
    description     Document the parser
    status          failed
    priority        5
    failed because  dependency task-002 failed or was cancelled
    created         2025-03-01 09:00:00 UTC
    error           dependency task-002 failed
    ");
}

#[test]
fn the_task_list_gives_one_line_per_task_cut_to_the_width() {
    plain();
    let tasks = [
        Task {
            priority: 1,
            ..task("task-001", TaskStatus::Done, "Set up the project")
        },
        Task {
            claimed_by: Some("worker-2".into()),
            dependencies: vec![TaskId::from("task-001")],
            stage: Some(baton_protocol::TaskStage::Verifying),
            ..task(
                "task-002",
                TaskStatus::InProgress,
                "Write the parser for the whole\nconfiguration language, comments included",
            )
        },
        Task {
            priority: 10,
            // Only what it still waits for is said.
            dependencies: vec![TaskId::from("task-001"), TaskId::from("task-002")],
            ..task("task-003", TaskStatus::Available, "Write tests")
        },
    ];
    insta::assert_snapshot!(task_list(&tasks, Some(80)), @r"
    task-001  done         p1   Set up the project
    task-002  in_progress  p5   Write the parser for the wh…  by worker-2, verifying
    task-003  available    p10  Write tests                   needs task-002
    ");
    insta::assert_snapshot!(task_list(&tasks, None), @r"
    task-001  done         p1   Set up the project
    task-002  in_progress  p5   Write the parser for the whole configuration language, comm…  by worker-2, verifying
    task-003  available    p10  Write tests                                                   needs task-002
    ");
}

#[test]
fn status_gives_goal_progress_agents_and_recent_discoveries() {
    plain();
    let status = Status {
        goal: "Parse the configuration language".into(),
        master_plan: "1. lexer\n2. parser".into(),
        running: true,
        progress: Progress {
            total_tasks: 10,
            percent_complete: 40,
            by_status: ByStatus {
                available: 4,
                claimed: 1,
                in_progress: 1,
                done: 3,
                failed: 1,
                cancelled: 0,
            },
            by_stage: HeldByStage {
                working: 1,
                verifying: 1,
                ..HeldByStage::default()
            },
        },
        agents: vec![
            AgentStatus {
                id: "worker-1".into(),
                task: Some(TaskId::from("task-004")),
                since: Some(at("2025-03-01T09:58:00Z")),
                activity: None,
                cost_usd: 0.0,
            },
            AgentStatus {
                id: "w2".into(),
                task: None,
                since: None,
                activity: None,
                cost_usd: 0.0,
            },
        ],
        discoveries: vec![
            discovery("worker-1", Some("task-002"), "Comments may nest"),
            Discovery {
                tags: vec!["lexer".into(), "unicode".into()],
                ..discovery("w2", None, "Identifiers are\nUnicode")
            },
        ],
        run: None,
        cost_usd: 0.0,
        last_activity: Some(at("2025-03-01T09:59:48Z")),
        last_run: None,
        crash: None,
    };
    insta::assert_snapshot!(super::status(&status, at("2025-03-01T10:00:00Z")), @r"
    goal           Parse the configuration language
    state          running
    progress       3/10 done · 40% finished · 1 failed · 0 cancelled · 4 available · 1 claimed · 1 in progress
    stages         1 working · 1 verifying · 0 resolving · 0 reviewing
    agents         worker-1  task-004 since 2m ago
                   w2        idle
    discoveries    worker-1 on task-002: Comments may nest
                   w2 [lexer, unicode]: Identifiers are Unicode
    last activity  12s ago
    ");
}

#[test]
fn status_of_a_fresh_workspace_says_how_to_begin() {
    plain();
    let status = Status {
        goal: String::new(),
        master_plan: String::new(),
        running: false,
        progress: Progress {
            total_tasks: 0,
            percent_complete: 0,
            by_status: ByStatus::default(),
            by_stage: HeldByStage::default(),
        },
        agents: Vec::new(),
        discoveries: Vec::new(),
        run: None,
        cost_usd: 0.0,
        last_activity: None,
        last_run: None,
        crash: None,
    };
    insta::assert_snapshot!(super::status(&status, at("2025-03-01T10:00:00Z")), @r"
    goal           none yet; `baton init GOAL` sets one
    state          idle
    progress       0/0 done · 0% finished · 0 failed · 0 cancelled · 0 available · 0 claimed · 0 in progress
    last activity  none
    ");
}

fn idle_status() -> Status {
    Status {
        goal: "Parse it".into(),
        master_plan: String::new(),
        running: false,
        progress: Progress {
            total_tasks: 2,
            percent_complete: 100,
            by_status: ByStatus {
                done: 2,
                ..ByStatus::default()
            },
            by_stage: HeldByStage::default(),
        },
        agents: Vec::new(),
        discoveries: Vec::new(),
        run: None,
        cost_usd: 0.0,
        last_activity: Some(at("2025-03-01T09:59:00Z")),
        last_run: None,
        crash: None,
    }
}

#[test]
fn status_says_what_the_run_is_doing_now() {
    plain();
    let mut runs = Vec::new();
    for (phase, mode) in [
        (RunPhase::Planning, RunMode::Leader),
        (RunPhase::Working, RunMode::Leader),
        (RunPhase::Summarising, RunMode::Predefined),
    ] {
        let status = Status {
            running: true,
            run: Some(RunStatus {
                mode,
                phase,
                started_at: at("2025-03-01T09:58:00Z"),
                cost_usd: 0.25,
                paused_until: None,
                stopped: None,
                waiting_for: Vec::new(),
            }),
            ..idle_status()
        };
        let shown = super::status(&status, at("2025-03-01T10:00:00Z"));
        runs.extend(
            shown
                .lines()
                .find(|line| line.starts_with("run"))
                .map(str::to_owned),
        );
    }
    insta::assert_snapshot!(runs.join("\n"), @r"
    run            planning, started 2m ago, $0.25 so far
    run            working, started 2m ago, $0.25 so far
    run            summarising, started 2m ago, $0.25 so far
    ");
}

#[test]
fn status_after_a_detached_run_gives_its_result_and_summary() {
    plain();
    let status = Status {
        last_run: Some(RunResult {
            goal: "Parse it".into(),
            tasks_completed: 2,
            tasks_failed: 0,
            tasks_cancelled: 0,
            discoveries: 1,
            summary: "The parser is in.\nAll tests pass.".into(),
            cost_usd: 0.42,
            run: 1,
            report: None,
            stages: Default::default(),
            stopped: None,
        }),
        ..idle_status()
    };
    insta::assert_snapshot!(super::status(&status, at("2025-03-01T10:00:00Z")), @r"
    goal           Parse it
    state          idle
    last run       2 completed, 0 failed, 1 discovery, $0.42
                   The parser is in.
                   All tests pass.
    progress       2/2 done · 100% finished · 0 failed · 0 cancelled · 0 available · 0 claimed · 0 in progress
    last activity  1m ago
    ");
}

#[test]
fn status_after_a_crash_says_so_first() {
    plain();
    let status = Status {
        crash: Some(Crash {
            stopped_at: at("2025-03-01T09:14:00Z"),
            log_file: ".baton/logs/daemon.log.2025-03-01".into(),
            run_resumed: true,
        }),
        ..idle_status()
    };
    let shown = super::status(&status, at("2025-03-01T10:00:00Z"));
    let notice = shown.lines().next().unwrap();
    let expected = format!(
        "notice         batond had stopped unexpectedly at {} (see .baton/logs/daemon.log.2025-03-01); restarted, resuming the run",
        at("2025-03-01T09:14:00Z").with_timezone(&chrono::Local).format("%H:%M")
    );
    assert_eq!(notice, expected);
}

#[test]
fn events_read_as_one_line_each() {
    plain();
    let failed = Task {
        result: Some(Box::new(TaskResult {
            error: Some("the agent gave up:\nno test framework".into()),
            ..TaskResult::default()
        })),
        ..task("task-004", TaskStatus::Failed, "Document it")
    };
    let claimed = Task {
        claimed_by: Some("worker-1".into()),
        ..task("task-003", TaskStatus::Claimed, "Write tests")
    };
    let verifying = Task {
        status: TaskStatus::InProgress,
        stage: Some(baton_protocol::TaskStage::Verifying),
        ..claimed.clone()
    };
    let events = [
        Event::TaskCreated(Task {
            priority: 2,
            ..task("task-003", TaskStatus::Available, "Write tests")
        }),
        Event::TaskUpdated(claimed),
        Event::TaskUpdated(verifying),
        Event::TaskCompleted(task("task-003", TaskStatus::Done, "Write tests")),
        Event::TaskFailed(failed),
        Event::TaskFailed(Task {
            result: Some(Box::new(TaskResult {
                error: Some("cancelled".into()),
                ..TaskResult::default()
            })),
            ..task("task-005", TaskStatus::Cancelled, "Polish")
        }),
        Event::TaskDeleted(task("task-006", TaskStatus::Available, "A typo")),
        Event::Discovery(discovery("worker-1", Some("task-003"), "Comments may nest")),
        Event::AgentActivity(AgentActivity {
            agent_id: "worker-1".into(),
            task_id: Some(TaskId::from("task-003")),
            kind: ActivityKind::Tool,
            text: "Edit".into(),
        }),
        Event::AgentActivity(AgentActivity {
            agent_id: "leader".into(),
            task_id: None,
            kind: ActivityKind::Started,
            text: String::new(),
        }),
        Event::RunFinished(RunResult {
            goal: "Parse it".into(),
            tasks_completed: 8,
            tasks_failed: 1,
            tasks_cancelled: 2,
            discoveries: 3,
            summary: "Mostly done.".into(),
            cost_usd: 0.0,
            run: 1,
            report: None,
            stages: Default::default(),
            stopped: None,
        }),
        Event::StateChanged(StateChange {
            reason: StateChangeReason::Load,
        }),
    ];
    let lines: Vec<String> = events.iter().map(event).collect();
    insta::assert_snapshot!(lines.join("\n"), @r"
    created task-003 [p2] Write tests
    updated task-003: claimed by worker-1
    updated task-003: in_progress by worker-1, verifying
    completed task-003
    failed task-004: the agent gave up: no test framework
    cancelled task-005
    deleted task-006 A typo
    discovery by worker-1 on task-003: Comments may nest
    worker-1 on task-003: uses Edit
    leader: started
    run finished: 8 completed, 1 failed, 2 cancelled, 3 discoveries, $0.00
    state loaded
    ");
}

fn agent_log() -> Vec<String> {
    [
        json!({"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-x"}),
        json!({"type": "assistant", "message": {"content": [
            {"type": "text", "text": "Running the tests."},
            {"type": "tool_use", "name": "Bash", "input": {"command": "pytest -q"}},
        ]}}),
        json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "content": "....F\nFAILED test_parse\n1 failed, 4 passed\nline 4\nline 5"},
        ]}}),
        json!({"type": "user", "message": {"content": [
            {"type": "tool_result", "is_error": true, "content": [{"type": "text", "text": "no such file"}]},
        ]}}),
        json!({"type": "result", "is_error": false, "num_turns": 3, "total_cost_usd": 0.0312, "result": "Fixed the parser."}),
        json!({"type": "result", "is_error": false, "num_turns": 1, "total_cost_usd": 0.0412, "model_usage_since_last_result": {"claude-x": {"costUSD": 0.01}}, "result": "Resumed, fixed again."}),
        json!({"type": "baton", "subtype": "merged", "text": "into baton/integration: 1 file(s) modified, 0 created"}),
        json!({"type": "baton", "subtype": "timed_out", "text": "the attempt ran past task_timeout"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect()
}

#[test]
fn a_log_shows_each_tool_with_the_start_of_its_output_and_how_the_attempt_ended() {
    plain();
    let shown: Vec<String> = agent_log()
        .iter()
        .filter_map(|line| log_line(line, Detail::Short))
        .collect();
    insta::assert_snapshot!(shown.join("\n"), @r#"
    started session s-1 (claude-x)
    Running the tests.
    → Bash {"command":"pytest -q"}
      ← ....F
        FAILED test_parse
        1 failed, 4 passed
        … 2 more lines (--full shows them)
      ← no such file
    finished after 3 turns, $0.0312: Fixed the parser.
    finished after 1 turn, $0.0100: Resumed, fixed again.
    merged: into baton/integration: 1 file(s) modified, 0 created
    timed out: the attempt ran past task_timeout
    "#);
}

#[test]
fn a_long_answer_shows_its_start_unless_the_whole_log_is_asked_for() {
    plain();
    let answer: Vec<String> = (1..=500)
        .map(|n| format!("line {n} of the report"))
        .collect();
    let line = json!({"type": "result", "is_error": false, "num_turns": 1, "total_cost_usd": 0.01, "result": answer.join("\n")}).to_string();
    let short = log_line(&line, Detail::Short).unwrap();
    assert_eq!(short.lines().count(), 21, "{short}");
    assert!(
        short.ends_with("… 500 lines in all (--full shows them)"),
        "{short}"
    );
    let one_line = json!({"type": "assistant", "message": {"content": [{"type": "text", "text": "x".repeat(100_000)}]}}).to_string();
    let short = log_line(&one_line, Detail::Short).unwrap();
    assert!(short.chars().count() < 2_100, "{}", short.len());
    assert!(
        short.ends_with("… 100000 characters in all (--full shows them)"),
        "{short}"
    );
    let full = log_line(&line, Detail::Full).unwrap();
    assert!(full.contains("line 500 of the report"));
}

#[test]
fn a_full_log_shows_every_line_of_each_output() {
    plain();
    let shown: Vec<String> = agent_log()
        .iter()
        .filter_map(|line| log_line(line, Detail::Full))
        .collect();
    let output = shown.iter().find(|line| line.contains("FAILED")).unwrap();
    insta::assert_snapshot!(output, @r"
    ← ....F
      FAILED test_parse
      1 failed, 4 passed
      line 4
      line 5
    ");
}

#[test]
fn watch_gives_a_cancel_one_line_not_three() {
    plain();
    let cancelled = Task {
        result: Some(Box::new(TaskResult {
            error: Some("cancelled".into()),
            ..TaskResult::default()
        })),
        ..task("task-005", TaskStatus::Cancelled, "Polish")
    };
    let events = [
        Event::TaskFailed(cancelled.clone()),
        Event::TaskUpdated(cancelled),
        Event::AgentActivity(AgentActivity {
            agent_id: "worker-1".into(),
            task_id: Some(TaskId::from("task-005")),
            kind: ActivityKind::Finished,
            text: String::new(),
        }),
    ];
    let lines: Vec<String> = events
        .iter()
        .filter(|event| worth_a_line(event))
        .map(event)
        .collect();
    assert_eq!(lines, ["cancelled task-005"]);
}

#[test]
fn a_line_is_cut_to_the_terminal_and_left_whole_without_one() {
    plain();
    let line = "worker-1 on task-003: uses Bash pytest -q tests/test_parser.py";
    assert_eq!(fit(line, Some(30)), "worker-1 on task-003: uses Ba…");
    assert_eq!(fit(line, None), line);
}

#[test]
fn counts_of_one_are_singular() {
    assert_eq!(count(1, "discovery", "discoveries"), "1 discovery");
    assert_eq!(count(0, "discovery", "discoveries"), "0 discoveries");
    assert_eq!(count(2, "task", "tasks"), "2 tasks");
}

#[test]
fn a_cancelled_task_ended_rather_than_completed() {
    plain();
    let cancelled = Task {
        completed_at: Some(at("2025-03-01T09:12:30Z")),
        ..task("task-005", TaskStatus::Cancelled, "Polish")
    };
    let shown = super::task(&cancelled);
    assert!(
        shown
            .lines()
            .any(|line| line.starts_with("ended ") && line.ends_with("2025-03-01 09:12:30 UTC")),
        "{shown}"
    );
    assert!(!shown.contains("completed"), "{shown}");
}

#[test]
fn config_shows_every_setting_on_one_line() {
    plain();
    let config = Config {
        run_budget_usd: Some(5.0),
        worker_prompt: Some("You are {agent_id}.\nDo {description}.".into()),
        ..Config::default()
    };
    insta::assert_snapshot!(super::config(&config), @r"
    agent_args           none
    agent_command        claude
    allowed_tools        Read, Write, Edit, Glob, Grep, Bash
    integration_branch   baton/integration
    isolation            automatic (worktree in a git repository, else shared)
    keep_branches        off
    leader_prompt        built-in
    max_attempts         1
    max_review_rounds    2
    max_verify_attempts  2
    max_workers          3
    model                claude-sonnet-4-20250514
    permission_mode      acceptEdits
    review               off
    reviewer_prompt      built-in
    run_budget_usd       5.0
    task_budget_usd      none
    task_timeout         600
    verify_command       none
    worker_prompt        You are {agent_id}. (2 lines)
    ");
    insta::assert_snapshot!(
        config_value("worker_prompt", &serde_json::json!(config.worker_prompt)),
        @r"
    You are {agent_id}.
    Do {description}.
    "
    );
}

#[test]
fn daemon_info_says_where_everything_is() {
    plain();
    let info = DaemonInfoResult {
        version: "0.1.0".into(),
        pid: 4242,
        workspace: "/home/ada/parser".into(),
        socket: "/run/user/1000/baton/1f2e3d4c5b6a7988.sock".into(),
        log_file: "/home/ada/parser/.baton/logs/daemon.log".into(),
    };
    insta::assert_snapshot!(daemon_info(&info), @r"
    daemon     batond 0.1.0 (pid 4242)
    workspace  /home/ada/parser
    socket     /run/user/1000/baton/1f2e3d4c5b6a7988.sock
    log file   /home/ada/parser/.baton/logs/daemon.log
    ");
}

#[test]
fn ages_round_down_to_the_largest_unit() {
    let now = at("2025-03-01T10:00:00Z");
    let ages: Vec<String> = ["10:00:05", "09:59:59", "09:55:00", "07:00:00"]
        .iter()
        .map(|time| ago(at(&format!("2025-03-01T{time}Z")), now))
        .chain([ago(at("2025-02-26T10:00:00Z"), now)])
        .collect();
    assert_eq!(ages, ["just now", "1s ago", "5m ago", "3h ago", "3d ago"]);
}

#[test]
fn a_run_s_result_says_each_stage_its_tasks_went_through_and_its_cost() {
    plain();
    let stages = baton_protocol::ByStage {
        work: baton_protocol::StageTally {
            entered: 3,
            cost_usd: 0.31,
        },
        verify: baton_protocol::StageTally {
            entered: 4,
            cost_usd: 0.0,
        },
        review: baton_protocol::StageTally {
            entered: 2,
            cost_usd: 0.05,
        },
        ..Default::default()
    };
    let result = RunResult {
        goal: "Parse it".into(),
        tasks_completed: 3,
        tasks_failed: 0,
        tasks_cancelled: 0,
        discoveries: 0,
        summary: "All in.".into(),
        cost_usd: 0.36,
        run: 1,
        report: None,
        stages,
        stopped: None,
    };
    insta::assert_snapshot!(run_result(&result), @r"
    run finished: 3 completed, 0 failed, 0 discoveries, $0.36
    stages: work 3 ($0.31) · verify 4 · review 2 ($0.05)

    All in.
    ");
    let without = RunResult {
        stages: Default::default(),
        ..result
    };
    assert!(!run_result(&without).contains("stages"));
}

#[test]
fn show_says_what_a_task_spent_without_a_duration_no_process_reported() {
    plain();
    let cut_off = Task {
        usage: baton_protocol::Usage {
            cost_usd: 0.1048,
            input_tokens: 900,
            output_tokens: 20,
            turns: 1,
            duration_ms: 0,
        },
        ..task("task-001", TaskStatus::Failed, "Hang")
    };
    let shown = super::tasks::task(&cut_off);
    assert!(
        shown.contains("$0.1048, 1 turn, 900 tokens in, 20 out\n"),
        "{shown}"
    );
    let reported = Task {
        usage: baton_protocol::Usage {
            turns: 3,
            duration_ms: 4_200,
            ..cut_off.usage.clone()
        },
        ..cut_off
    };
    let shown = super::tasks::task(&reported);
    assert!(
        shown.contains("3 turns, 900 tokens in, 20 out, 4.2s in Claude Code"),
        "{shown}"
    );
}

#[test]
fn history_shows_a_long_goal_on_one_short_line() {
    plain();
    let board = baton_protocol::methods::ArchivedBoard {
        name: "20261201T090000Z-parse".into(),
        path: "/w/.baton/history/20261201T090000Z-parse/state.json".into(),
        goal: format!("Parse the language\n\n{}", "in every detail ".repeat(100)),
        tasks: 3,
        done: 2,
        failed: 1,
        cancelled: 0,
        discoveries: 1,
    };
    let shown = history(&[board]);
    let first = shown.lines().next().unwrap();
    assert!(first.ends_with("1 discovery  Parse the language in every detail in every detail in every detail in every detail in every detail …"), "{first}");
}
