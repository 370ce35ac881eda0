//! The plan and the run through the real daemon, the real CLI and real agents:
//! `baton graph` draws the plan; every agent run is recorded on its lane, announced
//! as it starts and ends, kept across a restart and drawn by `baton timeline`; a run
//! that ends writes its report, which `baton run` names and `baton report` prints.

use std::time::Duration;

use baton_protocol::methods::{self as m, Event};
use baton_protocol::timeline::TimelineParams;
use baton_protocol::{AgentKind, AttemptOutcome, AttemptRecord, Client, RunMode};
use baton_tests::agent_workspace::{
    add_scripted, bash, run, say, workers_see_only_their_task, AgentWorkspace,
};
use baton_tests::TestWorkspace;

/// A step that waits (at most a minute) until the other task's agent has started too,
/// so that the two surely ran at the same time.
fn meet(mine: &str, theirs: &str) -> serde_json::Value {
    bash(&format!(
        "touch {mine}; for i in $(seq 600); do [ -f {theirs} ] && exit 0; sleep 0.1; done; exit 1"
    ))
}

async fn timeline(client: &Client, run: Option<u64>) -> baton_protocol::Timeline {
    client
        .request::<m::GetTimeline>(&TimelineParams { run })
        .await
        .expect("the timeline is answered")
}

/// Every `baton/attempt` notification up to the run's end.
async fn announced(client: &mut Client) -> Vec<AttemptRecord> {
    let events = client.events().expect("this client asked for events");
    let mut records = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("the run's end is announced")
            .expect("the connection stays open");
        match event {
            Event::Attempt(record) => records.push(record),
            Event::RunFinished(_) => return records,
            _ => {}
        }
    }
}

#[tokio::test]
async fn two_workers_run_on_two_lanes_at_once_and_the_record_outlives_the_daemon() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(2, 120).await;
    add_scripted(
        &client,
        "left",
        &[meet("left.up", "right.up"), say("left done")],
        &[],
    )
    .await;
    add_scripted(
        &client,
        "right",
        &[meet("right.up", "left.up"), say("right done")],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(result.tasks_completed, 2);
    assert_eq!(result.run, 1);

    let shown = timeline(&client, None).await;
    assert_eq!((shown.run, shown.runs, shown.going), (1, 1, false));
    let workers: Vec<&AttemptRecord> = shown
        .attempts
        .iter()
        .filter(|record| record.kind == AgentKind::Worker)
        .collect();
    let mut lanes: Vec<&str> = workers.iter().map(|record| record.lane.as_str()).collect();
    lanes.sort();
    assert_eq!(lanes, ["worker-1", "worker-2"]);
    for record in &workers {
        assert_eq!(record.outcome, Some(AttemptOutcome::Done), "{record:?}");
        assert!(record.task.is_some());
    }
    let (a, b) = (workers[0], workers[1]);
    let overlap = a.started_at < b.ended_at.unwrap() && b.started_at < a.ended_at.unwrap();
    assert!(
        overlap,
        "the two attempts ran at the same time: {a:?} {b:?}"
    );
    let summary = shown.attempts.last().expect("a summary record");
    assert_eq!(
        (summary.kind, summary.lane.as_str()),
        (AgentKind::Summary, "summary")
    );
    assert!(summary.ended_at.is_some());

    // Each record was announced open, then closed with the same id.
    let records = announced(&mut client).await;
    for record in &shown.attempts {
        let sent: Vec<_> = records.iter().filter(|r| r.id == record.id).collect();
        assert_eq!(sent.len(), 2, "{record:?} announced at its start and end");
        assert!(sent[0].is_open() && !sent[1].is_open());
        assert_eq!(sent[1], record);
    }

    let drawn = agents.baton(&["timeline", "--width", "60"]);
    let drawn = String::from_utf8(drawn.stdout).unwrap();
    let lines: Vec<&str> = drawn.lines().collect();
    assert!(lines[0].starts_with("run 1 of 1 · 3 agents · "), "{drawn}");
    let lane = |name: &str| {
        lines
            .iter()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("a {name} lane in {drawn}"))
            .chars()
            .skip(10)
            .collect::<Vec<char>>()
    };
    let (one, two) = (lane("worker-1"), lane("worker-2"));
    assert_eq!(one.len(), 50, "{drawn}");
    let together = (0..50)
        .filter(|&at| one[at] == '█' && two[at] == '█')
        .count();
    assert!(
        together > 0,
        "the two lanes' bars overlap in time:\n{drawn}"
    );
    assert!(lane("summary").contains(&'█'), "{drawn}");
    assert!(drawn.contains("█ done  · idle"), "{drawn}");

    let path = result.report.clone().expect("the run's report was written");
    assert_eq!(
        std::path::PathBuf::from(&path),
        agents.workspace.workspace().run_report(1)
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the report is private");
    let report = std::fs::read_to_string(&path).unwrap();
    for part in [
        "# Run 1: ",
        "2 tasks done, 0 failed",
        "```mermaid\nflowchart LR\n",
        "## Timeline",
        "## Cost per task",
        "| worker-1 | 1 |",
        "| worker-2 | 1 |",
        "## What failed\n\nNothing.",
    ] {
        assert!(report.contains(part), "{part:?} in the report:\n{report}");
    }
    assert!(
        report.contains("```text\nrun 1 of 1 · 3 agents · "),
        "the report's timeline is of an ended run:\n{report}"
    );
    let printed = agents.baton(&["report"]);
    assert_eq!(
        String::from_utf8(printed.stdout).unwrap().trim_end(),
        report.trim_end()
    );

    agents.workspace.kill_daemon();
    let client = agents.start(2, 120).await;
    let after = timeline(&client, Some(1)).await;
    assert_eq!(
        after.attempts, shown.attempts,
        "the record survives kill -9"
    );
    let missing = client
        .request::<m::GetTimeline>(&TimelineParams { run: Some(2) })
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("runs are 1 to 1"), "{missing}");
}

#[test]
fn baton_graph_draws_the_plan_as_a_tree_mermaid_and_dot() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "Add user accounts"]);
    workspace.ok(&["add", "Design the users table"]);
    workspace.ok(&["add", "Write the endpoints", "-d", "task-001"]);
    workspace.ok(&["add", "Write the tests", "-d", "task-001"]);
    workspace.ok(&[
        "add",
        "Wire sign-up into the shop \u{1b}[2J",
        "-d",
        "task-002",
        "-d",
        "task-003",
    ]);
    workspace.ok(&["cancel", "task-003"]);

    let tree = workspace.ok(&["graph", "--width", "40"]);
    assert_eq!(
        tree,
        "\
○*task-001 Design the users table
├─ ○*task-002 Write the endpoints
│  └─ ✗*task-004 Wire sign-up into the …
└─ ⊘ task-003 Write the tests
   └─ ✗*task-004 (shown above)
○ available  ◔ claimed  ◑ in_progress
✓ done  ✗ failed  ⊘ cancelled
* critical path
"
    );
    let whole = workspace.ok(&["graph"]);
    assert!(
        whole.contains("Wire sign-up into the shop \\x1b[2J") && !whole.contains('\u{1b}'),
        "an escape sequence in a description is shown, not obeyed: {whole:?}"
    );
    let mermaid = workspace.ok(&["graph", "--format", "mermaid"]);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    assert!(mermaid.contains("  t0 ==> t1\n  t0 --> t2\n  t1 ==> t3\n  t2 --> t3\n"));
    let dot = workspace.ok(&["graph", "--format", "dot"]);
    assert!(dot.contains("\"task-003\" [label=\"task-003 · cancelled\\nWrite the tests\""));
    assert!(dot.trim_end().ends_with('}'));
    let json = workspace.json(&["graph"]);
    assert_eq!(
        json["critical_path"],
        serde_json::json!(["task-001", "task-002", "task-004"])
    );
    assert_eq!(json["tasks"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_run_with_a_failure_reports_what_failed_and_why_and_baton_run_names_the_report() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    let crashing = add_scripted(
        &client,
        "crash",
        &[bash("kill -9 $PPID"), say("unreachable")],
        &[],
    )
    .await;
    let behind = add_scripted(
        &client,
        "after the crash \u{1b}[2J",
        &[say("unreachable")],
        &[&crashing],
    )
    .await;

    let output = agents.baton(&["run", "--predefined"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "a task failed: {stdout}");
    let path = agents.workspace.workspace().run_report(1);
    assert!(
        stdout.contains(&format!("report: {}", path.display())),
        "baton run names the report: {stdout}"
    );

    let report = std::fs::read_to_string(&path).unwrap();
    assert!(
        report.contains("after the crash \\x1b[2J") && !report.contains('\u{1b}'),
        "an escape sequence an agent could write is shown, not obeyed: {report:?}"
    );
    let failed = report
        .split("## What failed\n\n")
        .nth(1)
        .expect("a section on what failed");
    let crash_line = failed
        .lines()
        .find(|line| line.starts_with(&format!("- **{crashing}** (failed): ")))
        .unwrap_or_else(|| panic!("the crashed task and its reason:\n{failed}"));
    assert!(
        crash_line.contains("signal 9") || crash_line.contains("without a result"),
        "{crash_line}"
    );
    assert!(
        failed.contains(&format!("- **{behind}** (failed): "))
            && failed.contains(crashing.as_str()),
        "the task behind it fails naming it:\n{failed}"
    );
    assert!(
        failed.contains(&format!("| worker-1 | {crashing} | failed |")),
        "the agent run that failed, on its lane:\n{failed}"
    );

    let drawn = agents.baton(&["timeline", "--run", "1", "--width", "50"]);
    let drawn = String::from_utf8(drawn.stdout).unwrap();
    let worker = drawn
        .lines()
        .find(|line| line.starts_with("worker-1"))
        .unwrap_or_else(|| panic!("a worker lane:\n{drawn}"));
    assert!(
        worker.contains('x'),
        "the failed attempt is marked x:\n{drawn}"
    );
    assert!(drawn.contains("x failed"), "the legend says so:\n{drawn}");

    let json = agents.baton(&["report", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["run"], 1);
    assert_eq!(json["path"], path.display().to_string());
    assert_eq!(json["markdown"], report);
    let missing = agents.baton(&["report", "--run", "2"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr).trim(),
        "error: there is no run 2: this board's runs are 1 to 1"
    );
}

#[tokio::test]
async fn a_planned_run_shows_the_leader_the_worker_and_the_summary_on_their_lanes() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    workers_see_only_their_task(&client).await;
    let make = baton_tests::model_server::script(&[bash("echo made > made.txt"), say("made")]);
    let plan = [
        baton_tests::agent_workspace::baton_tool(
            "add_task",
            serde_json::json!({ "description": format!("make the file\n{make}") }),
        ),
        say("one task"),
    ];
    let goal = format!("make a file\n{}", baton_tests::model_server::script(&plan));

    let ran = agents.baton(&["run", &goal]);
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );

    let shown = timeline(&client, None).await;
    let lanes: Vec<(&str, AgentKind, Option<AttemptOutcome>)> = shown
        .attempts
        .iter()
        .map(|record| (record.lane.as_str(), record.kind, record.outcome))
        .collect();
    let done = Some(AttemptOutcome::Done);
    assert_eq!(
        lanes,
        [
            ("leader", AgentKind::Leader, done),
            ("worker-1", AgentKind::Worker, done),
            ("summary", AgentKind::Summary, done),
        ]
    );
    assert!(shown.attempts[0].started_at <= shown.attempts[1].started_at);
    let drawn = agents.baton(&["timeline", "--width", "50"]);
    let drawn = String::from_utf8(drawn.stdout).unwrap();
    let order: Vec<&str> = drawn
        .lines()
        .skip(1)
        .take(3)
        .map(|line| line.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(order, ["leader", "worker-1", "summary"], "{drawn}");
    let report = agents.baton(&["report"]);
    let report = String::from_utf8(report.stdout).unwrap();
    assert!(report.contains("| leader | 1 |"), "{report}");
}
