//! What a run starts from: the environment of the shell that starts it, the user's
//! current branch, and something to do. Real daemon, real CLI, and for agents the
//! real Claude Code against the scripted model.

use std::path::Path;
use std::process::{Command, Output};

use baton_protocol::methods::{self as m, Event};
use baton_protocol::{ErrorKind, RunMode, TaskStatus};
use baton_tests::agent_workspace::{add_scripted, bash, git_output, run, say, AgentWorkspace};
use baton_tests::claude::{claude_binary, TEST_MODEL};
use baton_tests::model_server::{script, ModelServer};
use baton_tests::{bin_dir, TestWorkspace};

/// `baton -C ROOT ARGS` in a shell whose environment is `PATH`, `HOME` and `env`
/// only: nothing of the test's own environment leaks in.
fn baton_in_shell(root: &Path, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(bin_dir().join("baton"))
        .arg("-C")
        .arg(root)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("baton runs")
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every file under `dir` that holds `needle`, binary files included.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|window| window == needle))
        {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn a_daemon_started_without_the_key_runs_agents_with_the_key_of_the_shell_that_runs() {
    let workspace = TestWorkspace::new();
    let root = workspace.root();
    let model = ModelServer::start();
    let home = tempfile::tempdir().unwrap();
    let secret = format!("sk-test-{}", std::process::id());
    let claude = claude_binary().display().to_string();
    let no_key = [("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")];
    let with_key = [
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("ANTHROPIC_BASE_URL", model.url()),
        ("ANTHROPIC_API_KEY", secret.as_str()),
    ];
    let steps = [bash("echo hello > greeting.txt"), say("wrote it")];
    let description = format!("greet\n{}", script(&steps));
    // The daemon starts from a shell that has no key.
    for args in [
        vec!["config", "agent_command", &claude],
        vec!["config", "model", TEST_MODEL],
        vec!["add", &description],
    ] {
        let output = baton_in_shell(root, home.path(), &no_key, &args);
        assert!(output.status.success(), "{}", text(&output));
    }

    let without = baton_in_shell(root, home.path(), &no_key, &["run", "--predefined"]);
    assert_eq!(without.status.code(), Some(1), "{}", text(&without));
    let failed = workspace.json(&["show", "task-001"]);
    let error = failed["result"]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Not logged in") && error.contains("ANTHROPIC_API_KEY"),
        "the error names the cause and what to do: {error}"
    );
    assert!(!error.contains("(success)"), "{error}");

    let retried = baton_in_shell(root, home.path(), &no_key, &["retry", "task-001"]);
    assert!(retried.status.success(), "{}", text(&retried));
    let with = baton_in_shell(root, home.path(), &with_key, &["run", "--predefined"]);
    assert!(with.status.success(), "{}", text(&with));
    assert_eq!(
        std::fs::read_to_string(root.join("greeting.txt")).unwrap(),
        "hello\n"
    );
    assert!(
        model
            .messages_requests()
            .iter()
            .any(|request| request.headers.get("x-api-key") == Some(&secret)),
        "the model was called with the key of the shell that ran"
    );
    // Nothing under .baton (state, logs, agents' files) holds the key.
    let leaked = files_holding(&root.join(".baton"), secret.as_bytes());
    assert!(leaked.is_empty(), "the key was written to {leaked:?}");
}

#[test]
fn an_environment_with_other_variables_is_refused() {
    let workspace = TestWorkspace::new();
    let answer = workspace.baton(&["--json", "status"]);
    assert!(answer.status.success());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let refused = runtime.block_on(async {
        let client = workspace.client(false).await;
        client
            .call(
                "baton/run",
                serde_json::json!({ "mode": "predefined", "env": { "LD_PRELOAD": "/x.so" } }),
            )
            .await
            .unwrap_err()
    });
    assert_eq!(refused.kind(), ErrorKind::InvalidInputError, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("LD_PRELOAD not passed to agents"),
        "{refused}"
    );
}

#[test]
fn run_predefined_with_nothing_to_do_says_so_and_starts_no_agent() {
    let workspace = TestWorkspace::new();
    // An agent that would leave a mark if anything started one.
    let marker = workspace.root().join("agent-started");
    let agent = workspace.root().join("agent.sh");
    std::fs::write(
        &agent,
        format!("#!/bin/sh\ntouch {}\nexit 1\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    workspace.ok(&["config", "agent_command", agent.to_str().unwrap()]);

    for args in [["run", "--predefined"], ["start", "--json"]] {
        let output = workspace.baton(&args);
        assert!(output.status.success(), "{}", text(&output));
        if args[0] == "run" {
            assert!(
                String::from_utf8_lossy(&output.stdout).contains("nothing to run"),
                "{}",
                text(&output)
            );
        }
    }
    let status = workspace.json(&["status"]);
    assert!(status["run"].is_null(), "no run is going: {status}");
    assert!(!marker.exists(), "no agent started");
    assert!(!workspace.root().join(".baton/logs/summary.log").exists());
}

#[tokio::test]
async fn the_daemon_refuses_a_predefined_run_with_nothing_to_do() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let refused = client
        .request::<m::Run>(&m::RunParams {
            mode: RunMode::Predefined,
            goal: None,
            wait: true,
            overrides: None,
            env: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::OrchestrationError, "{refused}");
    assert!(refused.to_string().contains("nothing to run"), "{refused}");
}

/// The `baton/runStarted` the client has heard, the first one.
fn run_started(events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>) -> Vec<String> {
    while let Ok(event) = events.try_recv() {
        if let Event::RunStarted(started) = event {
            return started.notes;
        }
    }
    panic!("no run started")
}

#[tokio::test]
async fn each_run_starts_from_the_users_latest_commit_and_merge_then_fast_forwards() {
    let agents = AgentWorkspace::git();
    let root = agents.root();
    let mut client = agents.start(1, 120).await;
    add_scripted(
        &client,
        "first",
        &[bash("echo first > first.txt"), say("first")],
        &[],
    )
    .await;
    run(&client, RunMode::Predefined).await;
    let merged = client.request::<m::Merge>(&()).await.unwrap();
    assert!(
        merged.message.contains("fast-forwarded main"),
        "{}",
        merged.message
    );

    // The user commits on main, and leaves changes uncommitted: a file of their own
    // and an edit of a tracked one.
    std::fs::write(root.join("README.md"), "a project, version 2\n").unwrap();
    git_output(root, &["commit", "--quiet", "-am", "version 2"]);
    std::fs::write(root.join("notes.txt"), "mine\n").unwrap();
    std::fs::write(root.join("README.md"), "a project, version 3 maybe\n").unwrap();
    let events = client.events().unwrap();
    while events.try_recv().is_ok() {}
    add_scripted(
        &client,
        "second",
        &[bash("cp README.md seen.txt"), say("second")],
        &[],
    )
    .await;
    let result = run(&client, RunMode::Predefined).await;

    assert_eq!((result.tasks_completed, result.tasks_failed), (1, 0));
    let notes = run_started(client.events().unwrap());
    assert!(
        notes
            .iter()
            .any(|note| note.contains("baton/integration fast-forwarded to main (1 new commit)")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|note| note.contains("2 uncommitted changes (README.md, notes.txt)")),
        "{notes:?}"
    );
    git_output(root, &["checkout", "--quiet", "README.md"]);
    assert_eq!(
        git_output(root, &["show", "baton/integration:seen.txt"]),
        "a project, version 2",
        "the agent saw the user's new commit"
    );
    let merged = client.request::<m::Merge>(&()).await.unwrap();
    assert!(
        merged.message.contains("fast-forwarded main"),
        "{}",
        merged.message
    );
    assert_eq!(
        git_output(root, &["rev-parse", "main"]),
        git_output(root, &["rev-parse", "baton/integration"]),
        "main is the integration branch: no merge commit of its own"
    );
    let merges = git_output(root, &["log", "--merges", "--format=%s", "main"]);
    assert!(
        merges
            .lines()
            .all(|subject| subject.starts_with("Merge task-")),
        "only the tasks' merges, no merge of main or of baton/integration: {merges}"
    );
    let again = client.request::<m::Merge>(&()).await.unwrap();
    assert!(
        again.message.starts_with("nothing to merge"),
        "{}",
        again.message
    );
}

#[tokio::test]
async fn a_run_whose_start_conflicts_with_the_users_branch_is_refused_before_any_agent() {
    let agents = AgentWorkspace::git();
    let root = agents.root();
    let client = agents.start(1, 120).await;
    add_scripted(
        &client,
        "theirs",
        &[bash("echo theirs > README.md"), say("changed")],
        &[],
    )
    .await;
    run(&client, RunMode::Predefined).await;
    std::fs::write(root.join("README.md"), "mine\n").unwrap();
    git_output(root, &["commit", "--quiet", "-am", "mine"]);
    let integration = git_output(root, &["rev-parse", "baton/integration"]);
    let waiting = add_scripted(&client, "next", &[say("never")], &[]).await;

    let refused = client
        .request::<m::Run>(&m::RunParams {
            mode: RunMode::Predefined,
            goal: None,
            wait: true,
            overrides: None,
            env: None,
        })
        .await
        .unwrap_err()
        .to_string();

    assert!(
        refused.contains("bringing main into baton/integration conflicts in README.md"),
        "{refused}"
    );
    assert!(refused.contains("git merge baton/integration"), "{refused}");
    let task = baton_tests::agent_workspace::task(&client, &waiting).await;
    assert_eq!((task.status, task.attempts), (TaskStatus::Available, 0));
    assert_eq!(
        git_output(root, &["rev-parse", "baton/integration"]),
        integration,
        "the integration branch did not move"
    );
}

#[test]
fn merge_with_nothing_to_merge_says_so_and_creates_no_branch() {
    let workspace = TestWorkspace::new();
    let merged = workspace.ok(&["merge"]);
    assert!(
        merged.contains("nothing to merge") && merged.contains("not a git repository"),
        "{merged}"
    );
    assert!(!merged.contains("isolation"), "{merged}");

    let repo = TestWorkspace::new();
    let root = repo.root();
    git_output(root, &["init", "--quiet", "--initial-branch=main"]);
    git_output(root, &["config", "user.email", "dev@example.com"]);
    git_output(root, &["config", "user.name", "Dev"]);
    std::fs::write(root.join("README.md"), "a project\n").unwrap();
    git_output(root, &["add", "README.md"]);
    git_output(root, &["commit", "--quiet", "-m", "start"]);
    let merged = repo.ok(&["merge"]);
    assert!(merged.contains("nothing to merge"), "{merged}");
    assert_eq!(git_output(root, &["branch", "--list", "baton/*"]), "");

    // Work in progress in the checkout is no reason to refuse a merge that has
    // nothing to bring, before a run or after one that landed nothing new.
    std::fs::write(root.join("README.md"), "a project, being edited\n").unwrap();
    for _ in ["before any run", "after a run"] {
        let merged = repo.ok(&["merge"]);
        assert!(merged.contains("nothing to merge"), "{merged}");
        git_output(root, &["branch", "--force", "baton/integration"]);
    }
    assert_eq!(
        std::fs::read_to_string(root.join("README.md")).unwrap(),
        "a project, being edited\n"
    );
}
