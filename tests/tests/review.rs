//! Review before landing, with the real Claude Code binary: after the gate passes, a
//! reviewer agent with read-only tools reads the task's diff and answers through the
//! MCP tool `review_task`; changes requested go back to the task's agent, bounded by
//! `max_review_rounds`.
//!
//! The reviewer's script is in the diff it reads: each worker writes a file holding
//! the script its reviewer follows, so the verdict follows the work as it changes.

use baton_protocol::methods::{self as m};
use baton_protocol::{AgentKind, AttemptOutcome, RunMode, TaskStage, TaskStatus};
use baton_tests::agent_workspace::{
    add_scripted, assert_landed_once, bash, baton_tool, git_output, run, say, task, until_finished,
    AgentWorkspace,
};
use baton_tests::model_server::script;
use serde_json::{json, Value};

/// The reviewer's prompt in these tests: the diff alone, so that the script a
/// worker wrote is the first its reviewer finds.
const REVIEWER_PROMPT: &str = "Review these changes:\n{diff}";

/// A worker's step that writes `path` holding the script its reviewer will follow.
fn write_for_reviewer(path: &str, reviewer: &[Value]) -> Value {
    bash(&format!("cat > {path} <<'END'\n{}\nEND", script(reviewer)))
}

fn approve() -> Value {
    baton_tool("review_task", json!({ "verdict": "approve" }))
}

fn ask(reasons: &str) -> Value {
    baton_tool(
        "review_task",
        json!({ "verdict": "changes_requested", "reasons": reasons }),
    )
}

async fn review_with(client: &baton_protocol::Client) {
    client
        .request::<m::Configure>(&m::ConfigPatch {
            review: Some(true),
            reviewer_prompt: Some(Some(REVIEWER_PROMPT.into())),
            ..Default::default()
        })
        .await
        .expect("review is on");
}

fn integrated(agents: &AgentWorkspace, path: &str) -> String {
    git_output(
        agents.root(),
        &["show", &format!("baton/integration:{path}")],
    )
}

#[tokio::test]
async fn a_reviewer_approves_one_task_and_sends_another_back_once_and_cannot_write() {
    let agents = AgentWorkspace::git();
    let client = agents.start(2, 120).await;
    review_with(&client).await;
    let outside = tempfile::tempdir().unwrap();
    let written = outside.path().join("written-by-the-reviewer");
    let touched = outside.path().join("touched-by-the-reviewer");
    let approved = add_scripted(
        &client,
        "approved",
        &[
            write_for_reviewer(
                "approved.txt",
                &[
                    json!({ "tool": "Write", "input": { "file_path": written.display().to_string(), "content": "no" } }),
                    bash(&format!("touch {}", touched.display())),
                    approve(),
                    say("approved"),
                ],
            ),
            say("wrote approved.txt"),
        ],
        &[],
    )
    .await;
    let sent_back = add_scripted(
        &client,
        "sent back",
        &[
            write_for_reviewer("fixed.txt", &[ask("name the file fixed"), say("asked")]),
            say("first try"),
            write_for_reviewer("fixed.txt", &[approve(), say("approved")]),
            say("second try"),
        ],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (2, 0),
        "{result:?}"
    );
    assert!(integrated(&agents, "approved.txt").contains("review_task"));
    let fixed = integrated(&agents, "fixed.txt");
    assert!(
        fixed.contains("approve") && !fixed.contains("changes_requested"),
        "the integration branch holds the work as the reviewer approved it: {fixed}"
    );
    let done = task(&client, &sent_back).await;
    assert_eq!(done.result.as_ref().unwrap().output, "second try");
    let log = agents.workspace.ok(&["logs", sent_back.as_str()]);
    assert!(log.contains("name the file fixed"), "{log}");

    // The reviewer could not write: neither its Write nor its Bash ran.
    assert!(!written.exists(), "the reviewer's Write was refused");
    assert!(!touched.exists(), "the reviewer's Bash was refused");
    let reviewers: Vec<_> = agents
        .model
        .messages_requests()
        .into_iter()
        .filter(|request| request.tool_names().contains(&"mcp__baton__review_task"))
        .filter(|request| !request.tool_names().contains(&"Write"))
        .collect();
    assert!(!reviewers.is_empty(), "reviewers ran without Write");
    assert!(reviewers
        .iter()
        .all(|request| !request.tool_names().contains(&"Bash")
            && request.tool_names().contains(&"Read")));

    // The review is paid by its task: the worker's two turns and its reviewer's four.
    let approved = task(&client, &approved).await;
    assert!(approved.usage.turns >= 2 + 4, "{:?}", approved.usage);

    // The run's result says what each stage did and cost.
    let stages = result.stages;
    assert_eq!(stages.review.entered, 3, "{stages:?}");
    assert!(stages.review.cost_usd > 0.0, "{stages:?}");
    assert!(stages.work.cost_usd > 0.0, "{stages:?}");
    assert_eq!(stages.verify.cost_usd, 0.0, "{stages:?}");

    // Each review is on the run's timeline, on a reviewer's lane: three reviews.
    let timeline = client
        .request::<m::GetTimeline>(&Default::default())
        .await
        .unwrap();
    let reviews: Vec<_> = timeline
        .attempts
        .iter()
        .filter(|record| record.kind == AgentKind::Reviewer)
        .collect();
    assert_eq!(reviews.len(), 3, "{reviews:?}");
    for review in &reviews {
        assert!(review.lane.starts_with("reviewer-"), "{review:?}");
        assert_eq!(review.outcome, Some(AttemptOutcome::Done), "{review:?}");
        assert!(review.cost_usd > 0.0, "{review:?}");
    }

    // The records account for every dollar: each task's records (its worker's and
    // its reviewers') are what the task spent, and all of them the run's cost.
    for id in [&approved.id, &sent_back] {
        let spent = task(&client, id).await.usage.cost_usd;
        let records: Vec<_> = timeline
            .attempts
            .iter()
            .filter(|record| record.task.as_ref() == Some(id))
            .collect();
        let worker = records
            .iter()
            .find(|record| record.kind == AgentKind::Worker)
            .expect("a worker's record");
        assert!(
            worker.cost_usd > 0.0,
            "the worker's turns count: {worker:?}"
        );
        let recorded: f64 = records.iter().map(|record| record.cost_usd).sum();
        assert!(
            (recorded - spent).abs() < 1e-6,
            "{id}'s records {recorded} against its cost {spent}: {records:?}"
        );
    }
    let recorded: f64 = timeline.attempts.iter().map(|record| record.cost_usd).sum();
    assert!(
        (recorded - result.cost_usd).abs() < 1e-6,
        "the records {recorded} against the run's cost {}",
        result.cost_usd
    );
    let report = std::fs::read_to_string(result.report.as_deref().expect("a report")).unwrap();
    let total = report
        .lines()
        .find(|line| line.starts_with("| **all** |"))
        .unwrap_or_default();
    assert!(
        total.ends_with(&format!("| ${:.4} |", result.cost_usd)),
        "the report's total is the run's: {report}"
    );
}

#[tokio::test]
async fn a_task_its_reviewer_never_approves_fails_after_max_review_rounds_with_the_last_reasons() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    review_with(&client).await;
    let id = add_scripted(
        &client,
        "never good enough",
        &[
            write_for_reviewer("work.txt", &[ask("first objection"), say("asked")]),
            say("first try"),
            write_for_reviewer("work.txt", &[ask("second objection"), say("asked")]),
            say("second try"),
            write_for_reviewer("work.txt", &[approve(), say("approved")]),
            say("a third try nobody asked for"),
        ],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (0, 1),
        "{result:?}"
    );
    let failed = task(&client, &id).await;
    assert_eq!(failed.status, TaskStatus::Failed);
    let error = failed.result.unwrap().error.unwrap();
    assert!(error.contains("2 time(s) (max_review_rounds)"), "{error}");
    assert!(
        error.contains("second objection"),
        "the last reasons: {error}"
    );
    assert!(
        error.contains(&format!("baton/{id}")),
        "names the branch: {error}"
    );
    let kept = git_output(agents.root(), &["show", &format!("baton/{id}:work.txt")]);
    assert!(kept.contains("second objection"), "{kept}");
    let on_integration = git_output(
        agents.root(),
        &["ls-tree", "--name-only", "baton/integration"],
    );
    assert!(!on_integration.contains("work.txt"), "{on_integration}");
}

#[tokio::test]
async fn a_reviewer_that_gives_no_verdict_is_started_once_more_then_the_task_fails() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    review_with(&client).await;
    let id = add_scripted(
        &client,
        "reviewed by a silent reviewer",
        &[
            write_for_reviewer("work.txt", &[say("looks fine to me")]),
            say("done"),
        ],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(result.tasks_failed, 1, "{result:?}");
    let error = task(&client, &id).await.result.unwrap().error.unwrap();
    assert!(error.contains("without a verdict 2 times"), "{error}");
    assert!(error.contains("without calling review_task"), "{error}");
}

#[tokio::test]
async fn a_daemon_killed_during_a_review_starts_a_new_reviewer_after_a_restart_and_lands_once() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    review_with(&client).await;
    let outside = tempfile::tempdir().unwrap();
    let go = outside.path().join("go");
    // The reviewer reads `go` until it says so (it does not exist before the kill).
    let wait_for_go = json!({
        "tool": "Read",
        "input": { "file_path": go.display().to_string() },
        "until_result_contains": "go ahead",
        "delay_ms": 300,
    });
    let id = add_scripted(
        &client,
        "reviewed across a restart",
        &[
            write_for_reviewer("work.txt", &[wait_for_go, approve(), say("approved")]),
            say("wrote it"),
        ],
        &[],
    )
    .await;
    let is_reviewer = |request: &baton_tests::model_server::RecordedRequest| {
        request.tool_names().contains(&"mcp__baton__review_task")
            && !request.tool_names().contains(&"Write")
    };
    let is_worker = |request: &baton_tests::model_server::RecordedRequest| {
        request.tool_names().contains(&"Write")
    };
    baton_tests::agent_workspace::start_run(&client).await;
    baton_tests::wait_until(std::time::Duration::from_secs(90), || {
        agents.model.messages_requests().iter().any(is_reviewer)
    });
    let reviewing = task(&client, &id).await;
    assert_eq!(reviewing.stage, Some(TaskStage::Reviewing));
    let worker_turns = agents
        .model
        .messages_requests()
        .iter()
        .filter(|request| is_worker(request))
        .count();

    agents.workspace.kill_daemon();
    std::fs::write(&go, "go ahead").unwrap();
    let client = agents.start(1, 120).await;

    let mut watcher = agents.client(true).await;
    let now = until_finished(&client, &mut watcher, &id).await;
    assert_eq!(now.status, TaskStatus::Done, "{now:?}");
    assert!(integrated(&agents, "work.txt").contains("review_task"));
    assert_landed_once(agents.root(), &[id.as_str()]);
    let requests = agents.model.messages_requests();
    assert_eq!(
        requests.iter().filter(|request| is_worker(request)).count(),
        worker_turns,
        "its agent did not run again"
    );
    let read_go = requests
        .iter()
        .filter(|request| is_reviewer(request))
        .any(|request| {
            request
                .tool_results()
                .iter()
                .any(|result| result.contains("go ahead"))
        });
    assert!(read_go, "a new reviewer read the file after the restart");
}

#[tokio::test]
async fn work_that_changes_no_file_lands_without_a_reviewer() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    review_with(&client).await;
    add_scripted(
        &client,
        "look around and change nothing",
        &[bash("ls"), say("nothing needed changing")],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    // A reviewer given an empty diff gave no verdict, twice, and the task failed.
    assert_eq!(result.tasks_completed, 1, "{result:?}");
    let timeline = agents.workspace.json(&["timeline"]);
    let kinds: Vec<&str> = timeline["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|record| record["kind"].as_str())
        .collect();
    assert!(!kinds.contains(&"reviewer"), "{kinds:?}");
    let stages = result.stages;
    assert_eq!(
        (stages.verify.entered, stages.review.entered),
        (1, 0),
        "no review was entered, and verifying once: {stages:?}"
    );
}
