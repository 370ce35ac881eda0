//! The gate in front of the integration branch, with the real Claude Code binary: a
//! verification command on each task's work merged with the integration branch, a
//! failure or a conflict sent back to the same agent, bounded.

use baton_protocol::{RunMode, TaskStatus};
use baton_tests::agent_workspace::{
    add_answer_right_on_the_second_try, add_scripted, assert_landed_once, bash, git_output, run,
    say, task, until_finished, verify_with, AgentWorkspace, CHECK_ANSWER,
};
use baton_tests::model_server::Answer;
use serde_json::json;

/// A file as the integration branch has it.
fn integrated(agents: &AgentWorkspace, path: &str) -> String {
    git_output(
        agents.root(),
        &["show", &format!("baton/integration:{path}")],
    )
}

/// Every content of `path` the integration branch ever pointed at, by its reflog.
fn integrated_history(agents: &AgentWorkspace, path: &str) -> Vec<String> {
    let held = git_output(
        agents.root(),
        &["reflog", "show", "--format=%H", "baton/integration"],
    );
    held.lines()
        .map(|commit| {
            let listed = git_output(agents.root(), &["ls-tree", "--name-only", commit]);
            match listed.lines().any(|name| name == path) {
                true => git_output(agents.root(), &["show", &format!("{commit}:{path}")]),
                false => "(none)".to_owned(),
            }
        })
        .collect()
}

#[tokio::test]
async fn work_that_fails_the_verification_goes_back_to_its_agent_and_lands_once_fixed() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let id = add_answer_right_on_the_second_try(&client).await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (1, 0),
        "{result:?}"
    );
    assert_eq!(integrated(&agents, "answer.txt"), "42");
    let history = integrated_history(&agents, "answer.txt");
    assert!(
        history.iter().all(|answer| answer != "41"),
        "the integration branch never held the failing tree: {history:?}"
    );
    assert!(history.contains(&"42".to_owned()), "{history:?}");
    let done = task(&client, &id).await;
    assert_eq!(done.stage, None);
    let output = done.result.unwrap();
    assert_eq!(output.output, "fixed the answer");
    assert_eq!(output.files_created, vec!["answer.txt"]);
    let log = agents.workspace.ok(&["logs", id.as_str()]);
    assert!(log.contains("answer is 41"), "{log}");
    assert!(log.contains("fixed the answer"), "{log}");
}

#[tokio::test]
async fn work_that_never_passes_fails_after_max_verify_attempts_with_the_output_kept() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    verify_with(&client, CHECK_ANSWER).await;
    let id = add_scripted(
        &client,
        "answer",
        &[
            bash("echo 41 > answer.txt"),
            say("wrote the answer"),
            bash("echo 40 > answer.txt"),
            say("changed the answer"),
            bash("echo 39 > answer.txt"),
            say("changed it again"),
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
    assert!(error.contains(CHECK_ANSWER), "names the command: {error}");
    assert!(error.contains("exit status 1"), "{error}");
    assert!(error.contains("answer is 40"), "keeps the output: {error}");
    assert!(
        error.contains(&format!("baton/{id}")),
        "names the branch: {error}"
    );
    // Two attempts (max_verify_attempts), not a third.
    assert_eq!(
        git_output(agents.root(), &["show", &format!("baton/{id}:answer.txt")]),
        "40"
    );
    let on_integration = git_output(
        agents.root(),
        &["ls-tree", "--name-only", "baton/integration"],
    );
    assert!(!on_integration.contains("answer.txt"), "{on_integration}");
    let log = agents.workspace.ok(&["logs", id.as_str()]);
    assert!(log.contains("answer is 41"), "{log}");
    assert!(log.contains("answer is 40"), "{log}");
}

#[tokio::test]
async fn a_verification_that_leaves_a_process_holding_its_output_passes_when_its_shell_exits() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 30).await;
    let outside = tempfile::tempdir().unwrap();
    let pid_file = outside.path().join("left-running");
    let check = format!(
        "sleep 100 & echo $! > {}; echo verified-ok",
        pid_file.display()
    );
    verify_with(&client, &check).await;
    let id = add_scripted(
        &client,
        "answer",
        &[bash("echo 42 > answer.txt"), say("wrote the answer")],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (1, 0),
        "{result:?}"
    );
    assert_eq!(integrated(&agents, "answer.txt"), "42");
    let log = agents.workspace.ok(&["logs", id.as_str()]);
    assert_eq!(log.matches("verified: ").count(), 1, "{log}");
    assert!(!log.contains("timed out"), "{log}");
    // What the command left running is ended with it (a zombie is ended too).
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = format!("/proc/{}/stat", pid.trim());
    baton_tests::wait_until(std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(&stat).map_or(true, |stat| stat.contains(") Z "))
    });
}

/// Two tasks that write the same line of README.md, the second finishing last so
/// that its merge conflicts; its resolving turn runs `resolve`, then answers
/// "resolved". Answers the second task's id.
async fn add_conflicting_pair(
    client: &baton_protocol::Client,
    resolve: serde_json::Value,
) -> baton_protocol::TaskId {
    add_scripted(
        client,
        "first",
        &[bash("echo first > README.md"), say("first")],
        &[],
    )
    .await;
    add_scripted(
        client,
        "second",
        &[
            json!({ "tool": "Bash", "delay_ms": 3000, "input": { "command": "echo second > README.md", "description": "a scripted step" } }),
            say("second"),
            resolve,
            say("resolved"),
        ],
        &[],
    )
    .await
}

#[tokio::test]
async fn the_second_of_two_tasks_changing_the_same_lines_resolves_the_conflict_and_both_land() {
    let agents = AgentWorkspace::git();
    let client = agents.start(2, 120).await;
    let resolve = bash("grep -q '<<<<<<<' README.md && printf 'first\\nsecond\\n' > README.md");
    let second = add_conflicting_pair(&client, resolve).await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (2, 0),
        "{result:?}"
    );
    assert_eq!(integrated(&agents, "README.md"), "first\nsecond");
    let stages = result.stages;
    assert_eq!(stages.resolve.entered, 1, "{stages:?}");
    assert!(stages.resolve.cost_usd > 0.0, "{stages:?}");
    let resolved = task(&client, &second).await.result.unwrap();
    assert_eq!(resolved.output, "resolved");
}

#[tokio::test]
async fn a_file_git_set_aside_where_it_met_a_directory_never_lands_until_resolved() {
    let agents = AgentWorkspace::git();
    let client = agents.start(2, 120).await;
    add_scripted(
        &client,
        "directory",
        &[bash("mkdir d && echo x > d/f"), say("made d/")],
        &[],
    )
    .await;
    let file = add_scripted(
        &client,
        "file",
        &[
            json!({ "tool": "Bash", "delay_ms": 3000, "input": { "command": "echo y > d", "description": "a scripted step" } }),
            say("made d"),
            // Sent back with the conflict, the agent first changes nothing.
            say("nothing to resolve"),
            bash("cat 'd~HEAD' > d-file.txt && rm 'd~HEAD'"),
            say("kept the file as d-file.txt"),
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
    let landed = git_output(
        agents.root(),
        &["ls-tree", "-r", "--name-only", "baton/integration"],
    );
    assert_eq!(
        landed, "README.md\nd-file.txt\nd/f",
        "nothing set aside landed"
    );
    assert_eq!(integrated(&agents, "d-file.txt"), "y");
    let log = agents.workspace.ok(&["logs", file.as_str()]);
    assert!(log.contains("Still unresolved: d~HEAD"), "{log}");
}

/// A task whose first verification hangs until something ends it (the next one
/// passes), with the run started and that verification begun. Answers the task and
/// the directory that marks the verification's start, to be kept while it matters.
async fn verifying_until_cut_short(
    client: &baton_protocol::Client,
) -> (baton_protocol::TaskId, tempfile::TempDir) {
    let outside = tempfile::tempdir().unwrap();
    let started = outside.path().join("verification-started");
    let check = format!(
        "test -e {0} && exit 0; touch {0}; sleep 600",
        started.display()
    );
    verify_with(client, &check).await;
    let id = add_scripted(
        client,
        "answer",
        &[bash("echo 42 > answer.txt"), say("wrote the answer")],
        &[],
    )
    .await;
    baton_tests::agent_workspace::start_run(client).await;
    baton_tests::wait_until(std::time::Duration::from_secs(60), || started.exists());
    (id, outside)
}

#[tokio::test]
async fn a_daemon_killed_during_a_verification_goes_on_verifying_after_a_restart_and_lands_once() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let (id, _outside) = verifying_until_cut_short(&client).await;
    let verifying = task(&client, &id).await;
    assert_eq!(verifying.stage, Some(baton_protocol::TaskStage::Verifying));
    // Its agent's turn is paid for as it ends, before the gate: a crash in the gate
    // must not lose what it spent.
    assert!(
        verifying.usage.turns > 0 && verifying.usage.cost_usd > 0.0,
        "{:?}",
        verifying.usage
    );

    agents.workspace.kill_daemon();
    let client = agents.start(1, 120).await;

    let mut watcher = agents.client(true).await;
    let now = until_finished(&client, &mut watcher, &id).await;
    assert_eq!(now.status, TaskStatus::Done, "{now:?}");
    assert_eq!(
        now.result.as_ref().map(|result| result.output.as_str()),
        Some("wrote the answer"),
        "the agent's answer outlives the daemon"
    );
    assert_eq!(integrated(&agents, "answer.txt"), "42");
    assert_landed_once(agents.root(), &[id.as_str()]);
    let log = agents.workspace.ok(&["logs", id.as_str()]);
    assert_eq!(
        log.matches("started session").count(),
        1,
        "its agent did not run again: {log}"
    );
    assert_eq!(now.usage, verifying.usage, "what its agent spent, once");
    // The run went on as the same run: it verified the task, and paid what its agent
    // spent before the daemon was killed.
    let ended = baton_tests::agent_workspace::last_run(&client).await;
    assert_eq!(ended.run, 1, "{ended:?}");
    assert_eq!(ended.stages.verify.entered, 1, "{ended:?}");
    assert!(
        ended.cost_usd >= verifying.usage.cost_usd,
        "the run spent {} of its task's {}",
        ended.cost_usd,
        verifying.usage.cost_usd
    );
}

#[tokio::test]
async fn a_verification_cut_short_by_stop_is_logged_as_stopped_and_runs_again_in_the_next_run() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let (id, _outside) = verifying_until_cut_short(&client).await;

    agents.workspace.ok(&["stop"]);
    let log = agents.workspace.ok(&["logs", id.as_str()]);
    assert!(log.contains("verification stopped"), "{log}");
    assert!(!log.contains("verification failed"), "{log}");

    let mut watcher = agents.client(true).await;
    baton_tests::agent_workspace::start_run(&client).await;
    let now = until_finished(&client, &mut watcher, &id).await;
    assert_eq!(now.status, TaskStatus::Done, "{now:?}");
    assert_eq!(integrated(&agents, "answer.txt"), "42");
    assert_landed_once(agents.root(), &[id.as_str()]);
}

/// The pair of [`add_conflicting_pair`], whose `resolve` must create `started` once
/// it has begun. The daemon is killed then, and restarted; both tasks must land once.
/// Answers the second task as it ended.
async fn killed_while_resolving(
    agents: &AgentWorkspace,
    started: &std::path::Path,
    resolve: serde_json::Value,
) -> baton_protocol::Task {
    let client = agents.start(2, 120).await;
    let second = add_conflicting_pair(&client, resolve).await;
    baton_tests::agent_workspace::start_run(&client).await;
    baton_tests::wait_until(std::time::Duration::from_secs(90), || started.exists());
    let resolving = task(&client, &second).await;
    assert_eq!(resolving.stage, Some(baton_protocol::TaskStage::Resolving));

    agents.workspace.kill_daemon();
    let client = agents.start(2, 120).await;
    let mut watcher = agents.client(true).await;
    let now = until_finished(&client, &mut watcher, &second).await;
    assert_eq!(now.status, TaskStatus::Done, "{now:?}");
    assert_eq!(integrated(agents, "README.md"), "first\nsecond");
    assert_landed_once(agents.root(), &["task-001", second.as_str()]);
    now
}

#[tokio::test]
async fn a_daemon_killed_during_a_resolution_goes_on_resolving_after_a_restart_and_both_land_once()
{
    let agents = AgentWorkspace::git();
    let outside = tempfile::tempdir().unwrap();
    let started = outside.path().join("resolution-started");
    // The resolving turn resolves the conflict, then hangs until the daemon is killed.
    let resolve_and_hang = format!(
        "grep -q '<<<<<<<' README.md && printf 'first\\nsecond\\n' > README.md; touch {}; sleep 600",
        started.display()
    );
    let second = killed_while_resolving(&agents, &started, bash(&resolve_and_hang)).await;
    let log = agents.workspace.ok(&["logs", second.id.as_str()]);
    assert_eq!(
        log.matches("started session").count(),
        2,
        "its agent worked, was resumed to resolve, and did not run again: {log}"
    );
    assert!(
        log.contains(
            "sent back: Merging baton/integration into your work conflicts in README.md; its agent is resumed"
        ),
        "the log says why its agent was resumed: {log}"
    );
}

#[tokio::test]
async fn a_daemon_killed_while_an_agent_resolves_resumes_that_agent_after_a_restart_and_both_land_once(
) {
    let agents = AgentWorkspace::git();
    let outside = tempfile::tempdir().unwrap();
    let started = outside.path().join("resolution-started");
    // The first resolving turn hangs, its conflict untouched, until the daemon is
    // killed; the turn after the restart resolves it. Both turns are found by their
    // prompt, whatever the resumed conversation kept of the interrupted one.
    let resolve_once_restarted = format!(
        "if test -e {0}; then grep -q '<<<<<<<' README.md && printf 'first\\nsecond\\n' > README.md; \
         else touch {0}; sleep 600; fi",
        started.display()
    );
    let mut resolve = bash(&resolve_once_restarted);
    resolve["prompt_contains"] = json!("Resolve every conflict");
    let now = killed_while_resolving(&agents, &started, resolve).await;
    assert_eq!(
        now.result.as_ref().map(|result| result.output.as_str()),
        Some("resolved")
    );
    // The turn that resolved was the agent's own session resumed: its conversation
    // holds the agent's first answer.
    let requests = agents.model.messages_requests();
    let resolved: Vec<_> = requests
        .iter()
        .filter(|request| request.answer == Answer::Text("resolved".into()))
        .collect();
    assert_eq!(resolved.len(), 1, "one resolving turn ended");
    let messages = resolved[0].body["messages"].as_array().unwrap();
    let answered_first = messages.iter().any(|message| {
        message["role"] == "assistant"
            && message["content"]
                .as_array()
                .is_some_and(|blocks| blocks.iter().any(|block| block["text"] == "second"))
    });
    assert!(
        answered_first,
        "the resumed conversation holds the agent's first answer: {messages:?}"
    );
    let log = agents.workspace.ok(&["logs", now.id.as_str()]);
    assert_eq!(
        log.matches("started session").count(),
        3,
        "its agent worked, was resumed to resolve, and was resumed again after the restart: {log}"
    );
}
