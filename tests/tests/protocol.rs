//! The daemon through the protocol client: notifications, durability, state files,
//! bad input, concurrency, single instance. Each test has a workspace and daemon of
//! its own.

use std::collections::HashSet;
use std::time::Duration;

use baton_protocol::methods::{self as m, Event, Request};
use baton_protocol::{
    Client, ClientError, ErrorCause, ErrorKind, RunMode, RunResult, TaskId, TaskResult, TaskStatus,
};
use baton_tests::{add_task, bin_dir, wait_until, TestWorkspace};
use serde_json::{json, Value};

async fn add(client: &Client, description: &str, dependencies: &[&TaskId]) -> TaskId {
    add_task(client, m::NewTask::new(description), dependencies).await
}

/// Everything a client can read back, minus timestamps of reading.
async fn snapshot(client: &Client) -> Value {
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    let discoveries = client.request::<m::ListDiscoveries>(&()).await.unwrap();
    let config = client.request::<m::GetConfig>(&()).await.unwrap();
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    json!({
        "tasks": tasks,
        "discoveries": discoveries,
        "config": config,
        "goal": status.goal,
        "master_plan": status.master_plan,
        "progress": status.progress,
    })
}

async fn next_event(client: &mut Client) -> Event {
    let events = client.events().expect("this client asked for events");
    tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event arrives")
        .expect("the connection stays open")
}

#[tokio::test]
async fn a_watching_client_sees_every_change_another_client_makes_in_order() {
    let workspace = TestWorkspace::new();
    let mut watcher = workspace.client(true).await;
    let changer = workspace.client(false).await;

    let first = add(&changer, "design the schema", &[]).await;
    let second = add(&changer, "write the migration", &[&first]).await;
    let claimed = changer
        .request::<m::ClaimTask>(&m::ClaimTaskParams {
            agent_id: "outside-1".into(),
        })
        .await
        .unwrap()
        .expect("the first task is ready");
    assert_eq!(claimed.id, first);
    changer
        .request::<m::CompleteTask>(&m::CompleteTaskParams {
            task_id: first.clone(),
            result: TaskResult {
                output: "schema.sql".into(),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    changer
        .request::<m::AddDiscovery>(&m::NewDiscovery {
            agent_id: "outside-1".into(),
            content: "ids are UUIDs".into(),
            related_task: Some(first.clone()),
            tags: vec!["schema".into()],
        })
        .await
        .unwrap();

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(match next_event(&mut watcher).await {
            Event::TaskCreated(task) => format!("created {}", task.id),
            Event::TaskUpdated(task) => format!("updated {} {}", task.id, task.status),
            Event::TaskCompleted(task) => format!("completed {}", task.id),
            Event::Discovery(discovery) => format!("discovery {}", discovery.content),
            other => format!("{other:?}"),
        });
    }
    assert_eq!(
        seen,
        [
            format!("created {first}"),
            format!("created {second}"),
            format!("updated {first} claimed"),
            format!("completed {first}"),
            "discovery ids are UUIDs".to_string(),
            format!("updated {first} done"),
        ]
    );
}

#[tokio::test]
async fn every_acknowledged_change_survives_kill_9_of_the_daemon() {
    let workspace = TestWorkspace::new();
    let before = {
        let client = workspace.client(false).await;
        client
            .request::<m::Init>(&m::InitParams {
                goal: "ship it".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut previous: Option<TaskId> = None;
        for i in 0..40 {
            let dependencies: Vec<&TaskId> = previous.iter().filter(|_| i % 3 == 0).collect();
            previous = Some(add(&client, &format!("step {i}"), &dependencies).await);
        }
        for agent in ["a", "b", "c"] {
            let task = client
                .request::<m::ClaimTask>(&m::ClaimTaskParams {
                    agent_id: agent.into(),
                })
                .await
                .unwrap()
                .unwrap();
            if agent != "c" {
                client
                    .request::<m::CompleteTask>(&m::CompleteTaskParams {
                        task_id: task.id,
                        result: TaskResult {
                            output: format!("done by {agent}"),
                            ..Default::default()
                        },
                    })
                    .await
                    .unwrap();
            }
        }
        client
            .request::<m::AddDiscovery>(&m::NewDiscovery {
                agent_id: "a".into(),
                content: "the build needs protoc".into(),
                related_task: None,
                tags: vec![],
            })
            .await
            .unwrap();
        snapshot(&client).await
    };
    workspace.kill_daemon();

    let client = workspace.client(false).await;
    assert_eq!(
        snapshot(&client).await,
        before,
        "the restarted daemon serves the same state"
    );
    let next = add(&client, "after the crash", &[]).await;
    assert_eq!(
        next,
        TaskId::numbered(41),
        "ids continue where they stopped"
    );
}

#[tokio::test]
async fn save_then_load_gives_back_the_saved_state() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let first = add(&client, "one", &[]).await;
    add(&client, "two", &[&first]).await;
    let saved = snapshot(&client).await;
    let path = workspace.root().join("checkpoint.json");
    let written = client
        .request::<m::SaveState>(&m::StateFile {
            path: path.display().to_string(),
        })
        .await
        .unwrap();
    assert_eq!(written.tasks, 2);

    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for key in [
        "goal",
        "master_plan",
        "working_directory",
        "tasks",
        "discoveries",
        "max_parallel_workers",
        "task_timeout_seconds",
        "created_at",
        "last_activity",
    ] {
        assert!(
            file.get(key).is_some(),
            "the state file has the reference's `{key}`"
        );
    }

    client
        .request::<m::CancelTask>(&m::TaskRef { task_id: first })
        .await
        .unwrap();
    add(&client, "three", &[]).await;
    assert_ne!(snapshot(&client).await, saved);

    client
        .request::<m::LoadState>(&m::StateFile {
            path: path.display().to_string(),
        })
        .await
        .unwrap();
    assert_eq!(snapshot(&client).await, saved);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let done = add(&client, "finished work", &[]).await;
    client
        .request::<m::ClaimTask>(&m::ClaimTaskParams {
            agent_id: "a".into(),
        })
        .await
        .unwrap();
    client
        .request::<m::CompleteTask>(&m::CompleteTaskParams {
            task_id: done.clone(),
            result: Default::default(),
        })
        .await
        .unwrap();
    let open = add(&client, "open work", &[]).await;
    let held = add_task(
        &client,
        m::NewTask {
            priority: 1,
            ..m::NewTask::new("held work")
        },
        &[],
    )
    .await;
    let claimed = client
        .request::<m::ClaimTask>(&m::ClaimTaskParams {
            agent_id: "a".into(),
        })
        .await
        .unwrap();
    assert_eq!(claimed.map(|task| task.id), Some(held.clone()));
    // Over the 1 MiB a task's texts may hold, each on its own or all together.
    let huge = "x".repeat((1 << 20) + 1);
    let half = "x".repeat((1 << 19) + 1);

    let write = |name: &str, text: &str| {
        let path = workspace.root().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let not_json = write("not-json.json", "{ this is not json");
    let other_shape = write("other-shape.json", r#"{"name": "a package.json"}"#);
    let a_list = write("a-list.json", "[]");
    let cyclic = write(
        "cyclic.json",
        &json!({ "tasks": [
            { "id": "a", "description": "A", "status": "available", "priority": 1, "dependencies": ["b"], "created_at": "2026-01-01T00:00:00" },
            { "id": "b", "description": "B", "status": "available", "priority": 1, "dependencies": ["a"], "created_at": "2026-01-01T00:00:00" },
        ]})
        .to_string(),
    );
    let long_name = "n".repeat(257);
    let long_path = "p".repeat(4097);
    let many_files = vec!["f".repeat(600); 2000];
    let claimed_by_a_long_name = write(
        "claimed-by-a-long-name.json",
        &json!({ "tasks": [
            { "id": "a", "description": "A", "status": "claimed", "priority": 1, "claimed_by": long_name, "claimed_at": "2026-01-01T00:00:00", "created_at": "2026-01-01T00:00:00" },
        ]})
        .to_string(),
    );
    let missing = workspace
        .root()
        .join("no-such-file.json")
        .display()
        .to_string();

    let task = |description: &str, priority: u8, dependencies: &[&str]| json!({ "description": description, "priority": priority, "dependencies": dependencies });
    let next = TaskId::numbered(4);
    let after = TaskId::numbered(5);
    let cases: Vec<(&str, Value, ErrorKind, &str)> = vec![
        (
            "baton/addTask",
            task("x", 0, &[]),
            ErrorKind::InvalidInputError,
            "priority 0 is outside 1..10",
        ),
        (
            "baton/addTask",
            task("x", 11, &[]),
            ErrorKind::InvalidInputError,
            "priority 11 is outside 1..10",
        ),
        (
            "baton/addTask",
            task("   ", 5, &[]),
            ErrorKind::InvalidInputError,
            "description is empty",
        ),
        (
            "baton/addTask",
            task("x", 5, &["task-099"]),
            ErrorKind::InvalidInputError,
            "dependency task-099",
        ),
        (
            "baton/addTask",
            json!({ "description": "x", "priority": "high" }),
            ErrorKind::InvalidInputError,
            "invalid type",
        ),
        (
            "baton/addTasks",
            json!({ "tasks": [task("a", 5, &[after.as_str()]), task("b", 5, &[next.as_str()])] }),
            ErrorKind::InvalidInputError,
            "cycle",
        ),
        (
            "baton/addTasks",
            json!({ "tasks": [task("fine", 5, &[]), task("", 5, &[])] }),
            ErrorKind::InvalidInputError,
            "description is empty",
        ),
        (
            "baton/getTask",
            json!({ "task_id": "task-404" }),
            ErrorKind::TaskNotFoundError,
            "task task-404 not found",
        ),
        (
            "baton/completeTask",
            json!({ "task_id": "task-404" }),
            ErrorKind::TaskNotFoundError,
            "task-404",
        ),
        (
            "baton/cancelTask",
            json!({ "task_id": "task-404" }),
            ErrorKind::TaskNotFoundError,
            "task-404",
        ),
        (
            "baton/retryTask",
            json!({ "task_id": "task-404" }),
            ErrorKind::TaskNotFoundError,
            "task-404",
        ),
        (
            "baton/completeTask",
            json!({ "task_id": open }),
            ErrorKind::OrchestrationError,
            "never claimed",
        ),
        (
            "baton/completeTask",
            json!({ "task_id": done }),
            ErrorKind::OrchestrationError,
            "already done",
        ),
        (
            "baton/failTask",
            json!({ "task_id": done, "error": "late" }),
            ErrorKind::OrchestrationError,
            "already done",
        ),
        (
            "baton/retryTask",
            json!({ "task_id": done }),
            ErrorKind::OrchestrationError,
            "only a failed or cancelled task",
        ),
        (
            "baton/editTask",
            json!({ "task_id": done, "priority": 1 }),
            ErrorKind::OrchestrationError,
            "can no longer be edited",
        ),
        (
            "baton/editTask",
            json!({ "task_id": open, "dependencies": [open] }),
            ErrorKind::InvalidInputError,
            "cycle",
        ),
        (
            "baton/deleteTask",
            json!({ "task_id": done }),
            ErrorKind::OrchestrationError,
            "only a task that has not started can be deleted",
        ),
        (
            "baton/deleteTask",
            json!({ "task_id": "task-404" }),
            ErrorKind::TaskNotFoundError,
            "task-404",
        ),
        (
            "baton/completeTask",
            json!({ "task_id": held, "result": { "output": huge } }),
            ErrorKind::InvalidInputError,
            "over the limit of 1 MiB",
        ),
        (
            "baton/completeTask",
            json!({ "task_id": held, "result": { "output": half, "discoveries": [half] } }),
            ErrorKind::InvalidInputError,
            "over the limit of 1 MiB",
        ),
        (
            "baton/failTask",
            json!({ "task_id": held, "error": huge }),
            ErrorKind::InvalidInputError,
            "over the limit of 1 MiB",
        ),
        (
            "baton/addDiscovery",
            json!({ "agent_id": "a", "content": huge, "related_task": held }),
            ErrorKind::InvalidInputError,
            "over the limit of 1 MiB",
        ),
        // Names and lists are bounded too: every listing carries them.
        (
            "baton/claimTask",
            json!({ "agent_id": long_name }),
            ErrorKind::InvalidInputError,
            "agent id is 257 bytes, over the limit of 256",
        ),
        (
            "baton/addTask",
            json!({ "description": "x", "model": long_name }),
            ErrorKind::InvalidInputError,
            "model is 257 bytes",
        ),
        (
            "baton/addTask",
            json!({ "description": "x", "context_files": [long_path] }),
            ErrorKind::InvalidInputError,
            "context file's path is 4097 bytes",
        ),
        (
            "baton/addTask",
            json!({ "description": "x", "context_files": many_files }),
            ErrorKind::InvalidInputError,
            "context files together",
        ),
        (
            "baton/editTask",
            json!({ "task_id": open, "context_files": many_files }),
            ErrorKind::InvalidInputError,
            "context files together",
        ),
        (
            "baton/addDiscovery",
            json!({ "agent_id": long_name, "content": "found" }),
            ErrorKind::InvalidInputError,
            "agent id is 257 bytes",
        ),
        (
            "baton/addDiscovery",
            json!({ "agent_id": "a", "content": "found", "tags": [long_name] }),
            ErrorKind::InvalidInputError,
            "tag is 257 bytes",
        ),
        (
            "baton/addDiscovery",
            json!({ "agent_id": "a", "content": "found", "tags": ["api", " "] }),
            ErrorKind::InvalidInputError,
            "a tag is blank",
        ),
        (
            "baton/addTask",
            json!({ "description": "x", "context_files": ["src/a.rs", ""] }),
            ErrorKind::InvalidInputError,
            "a context file is blank",
        ),
        (
            "baton/init",
            json!({ "goal": huge }),
            ErrorKind::InvalidInputError,
            "goal is 1048577 bytes",
        ),
        (
            "baton/setMasterPlan",
            json!({ "plan": huge }),
            ErrorKind::InvalidInputError,
            "master plan is 1048577 bytes",
        ),
        (
            "baton/configure",
            json!({ "leader_prompt": huge }),
            ErrorKind::InvalidInputError,
            "leader_prompt is 1048577 bytes",
        ),
        (
            "baton/configure",
            json!({ "model": long_name }),
            ErrorKind::InvalidInputError,
            "model is 257 bytes",
        ),
        // A branch name git would take as an option, or refuse.
        (
            "baton/configure",
            json!({ "integration_branch": "--orphan" }),
            ErrorKind::InvalidInputError,
            "not a name git takes for a branch",
        ),
        (
            "baton/configure",
            json!({ "integration_branch": "release/..x" }),
            ErrorKind::InvalidInputError,
            "not a name git takes for a branch",
        ),
        // What is passed on to a program as one argument: no program could be
        // started with it, and every agent or verification would fail.
        (
            "baton/configure",
            json!({ "verify_command": "cargo test\0" }),
            ErrorKind::InvalidInputError,
            "verify_command holds a NUL byte",
        ),
        (
            "baton/configure",
            json!({ "agent_args": ["--append-system-prompt", "x".repeat(200_000)] }),
            ErrorKind::InvalidInputError,
            "an agent_args entry is 200000 bytes",
        ),
        (
            "baton/addTask",
            json!({ "description": "x", "model": "opus\0" }),
            ErrorKind::InvalidInputError,
            "model holds a NUL byte",
        ),
        // Refused before the finished board would be put aside for the new goal.
        (
            "baton/run",
            json!({ "mode": "predefined", "goal": huge, "wait": false }),
            ErrorKind::InvalidInputError,
            "goal is 1048577 bytes",
        ),
        (
            "baton/run",
            json!({ "mode": "predefined", "goal": " ", "wait": false }),
            ErrorKind::InvalidInputError,
            "goal is empty",
        ),
        (
            "baton/loadState",
            json!({ "path": long_path }),
            ErrorKind::InvalidInputError,
            "path is 4097 bytes",
        ),
        (
            "baton/loadState",
            json!({ "path": claimed_by_a_long_name }),
            ErrorKind::InvalidInputError,
            "agent id is 257 bytes",
        ),
        (
            "baton/claimTask",
            json!({ "agent_id": "" }),
            ErrorKind::InvalidInputError,
            "agent id is empty",
        ),
        // An agent id is shown on every task it holds, in logs and terminals.
        (
            "baton/claimTask",
            json!({ "agent_id": "a\u{0}b" }),
            ErrorKind::InvalidInputError,
            "agent id \"a\\0b\" holds a control character",
        ),
        (
            "baton/addDiscovery",
            json!({ "agent_id": "a\nb", "content": "found" }),
            ErrorKind::InvalidInputError,
            "agent id \"a\\nb\" holds a control character",
        ),
        (
            "baton/addDiscovery",
            json!({ "agent_id": "a", "content": "" }),
            ErrorKind::InvalidInputError,
            "discovery is empty",
        ),
        (
            "baton/configure",
            json!({ "max_workers": 0 }),
            ErrorKind::InvalidInputError,
            "max_workers 0",
        ),
        (
            "baton/configure",
            json!({ "task_budget_usd": -1.0 }),
            ErrorKind::InvalidInputError,
            "task_budget_usd",
        ),
        (
            "baton/configure",
            json!({ "no_such_key": 1 }),
            ErrorKind::InvalidInputError,
            "no_such_key",
        ),
        (
            "baton/init",
            json!({ "goal": "" }),
            ErrorKind::InvalidInputError,
            "goal is empty",
        ),
        (
            "baton/loadState",
            json!({ "path": not_json }),
            ErrorKind::InvalidInputError,
            "not a baton state file",
        ),
        (
            "baton/loadState",
            json!({ "path": other_shape }),
            ErrorKind::InvalidInputError,
            "not a baton state file",
        ),
        (
            "baton/loadState",
            json!({ "path": a_list }),
            ErrorKind::InvalidInputError,
            "not a baton state file",
        ),
        (
            "baton/loadState",
            json!({ "path": cyclic }),
            ErrorKind::InvalidInputError,
            "cycle",
        ),
        (
            "baton/loadState",
            json!({ "path": missing }),
            ErrorKind::InvalidInputError,
            "cannot read",
        ),
    ];

    let before = snapshot(&client).await;
    for (method, params, kind, says) in cases {
        let err = match client.call(method, params.clone()).await {
            Err(baton_protocol::ClientError::Baton(err)) => err,
            other => panic!("{method} {params} answered {other:?}"),
        };
        assert_eq!(err.kind, kind, "{method} {params}: {}", err.message);
        assert!(
            err.message.contains(says),
            "{method} {params}: `{}` should say `{says}`",
            err.message
        );
        // What was sent is quoted, if at all, by an excerpt.
        assert!(
            err.message.len() < 1000,
            "{method}: a message of {} bytes",
            err.message.len()
        );
        assert_eq!(
            snapshot(&client).await,
            before,
            "{method} {params} changed the state"
        );
    }
    assert_eq!(add(&client, "still numbered in order", &[]).await, next);
}

#[tokio::test]
async fn bad_settings_for_a_run_are_refused_before_anything_changes() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    workspace.ok(&["init", "the old goal"]);
    let before = snapshot(&client).await;
    for overrides in [
        json!({ "max_workers": 0 }),
        json!({ "task_budget_usd": -1 }),
        json!({ "isolation": "shared" }),
        json!({ "integration_branch": "elsewhere" }),
        json!({ "no_such_setting": 1 }),
    ] {
        let refused = client
            .call(
                m::Run::METHOD,
                json!({ "mode": "leader", "goal": "a new goal", "wait": false, "overrides": overrides }),
            )
            .await
            .expect_err("bad settings are refused");
        let ClientError::Baton(err) = refused else {
            panic!("a daemon error: {refused}");
        };
        assert_eq!(err.kind, ErrorKind::InvalidInputError, "{overrides}: {err}");
        assert_eq!(
            snapshot(&client).await,
            before,
            "{overrides} changed nothing"
        );
    }
    // Variables no agent process could be started with: each agent of the run would
    // have failed to start, and its task with it.
    for env in [
        json!({ "ANTHROPIC_API_KEY": "sk\0" }),
        json!({ "ANTHROPIC_A=B": "k" }),
    ] {
        let refused = client
            .call(
                m::Run::METHOD,
                json!({ "mode": "leader", "goal": "a new goal", "wait": false, "env": env }),
            )
            .await
            .expect_err("a variable no process takes is refused");
        let ClientError::Baton(err) = refused else {
            panic!("a daemon error: {refused}");
        };
        assert_eq!(err.kind, ErrorKind::InvalidInputError, "{env}: {err}");
        assert!(err.message.contains("cannot be passed to agents"), "{err}");
        assert_eq!(snapshot(&client).await, before, "{env} changed nothing");
    }
}

#[tokio::test]
async fn errors_an_editor_offers_its_own_remedy_for_say_what_they_are_about() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let leader = m::RunParams {
        mode: RunMode::Leader,
        goal: None,
        wait: false,
        overrides: None,
        env: None,
    };
    let cause = |result: Result<Option<RunResult>, ClientError>| match result {
        Err(ClientError::Baton(err)) => err.cause,
        other => panic!("a daemon error: {other:?}"),
    };
    let no_goal = client.request::<m::Run>(&leader).await;
    assert_eq!(cause(no_goal), Some(ErrorCause::NoGoal));

    workspace.ok(&["config", "isolation", "worktree"]);
    add(&client, "work", &[]).await;
    let predefined = m::RunParams {
        mode: RunMode::Predefined,
        ..leader
    };
    let not_git = client.request::<m::Run>(&predefined).await;
    assert_eq!(cause(not_git), Some(ErrorCause::NotAGitRepository));
}

#[tokio::test]
async fn a_frame_that_is_not_json_rpc_is_answered_with_an_error_and_changes_nothing() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    add(&client, "existing", &[]).await;
    let before = snapshot(&client).await;

    let socket = workspace.workspace().socket_path();
    let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let (read, mut write) = stream.into_split();
    let garbage = b"this is not json";
    write
        .write_all(format!("Content-Length: {}\r\n\r\n", garbage.len()).as_bytes())
        .await
        .unwrap();
    write.write_all(garbage).await.unwrap();
    let mut reader = BufReader::new(read);
    let mut header = String::new();
    reader.read_line(&mut header).await.unwrap();
    let length: usize = header
        .trim()
        .trim_start_matches("Content-Length:")
        .trim()
        .parse()
        .unwrap();
    reader.read_line(&mut String::new()).await.unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(answer["error"]["code"], -32700, "a parse error: {answer}");

    assert_eq!(snapshot(&client).await, before);
}

#[tokio::test]
async fn concurrent_claims_never_hand_one_task_to_two_agents() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let tasks: Vec<m::NewTask> = (0..300)
        .map(|i| m::NewTask::new(format!("task {i}")))
        .collect();
    client
        .request::<m::AddTasks>(&m::AddTasksParams { tasks })
        .await
        .unwrap();

    let mut claimers = Vec::new();
    for agent in 0..8 {
        let claimer = workspace.client(false).await;
        claimers.push(tokio::spawn(async move {
            let mut claimed = Vec::new();
            while let Some(task) = claimer
                .request::<m::ClaimTask>(&m::ClaimTaskParams {
                    agent_id: format!("agent-{agent}"),
                })
                .await
                .unwrap()
            {
                assert_eq!(
                    task.claimed_by.as_deref(),
                    Some(format!("agent-{agent}").as_str())
                );
                claimed.push(task.id);
            }
            claimed
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 300, "every task was handed out");
    assert_eq!(distinct.len(), 300, "no task was handed out twice");
}

#[tokio::test]
async fn an_outside_claim_older_than_the_task_timeout_goes_back_to_the_queue() {
    let workspace = TestWorkspace::new();
    let mut client = workspace.client(true).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            task_timeout: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = add(&client, "abandoned by its agent", &[]).await;
    client
        .request::<m::ClaimTask>(&m::ClaimTaskParams {
            agent_id: "gone".into(),
        })
        .await
        .unwrap();
    loop {
        if let Event::TaskUpdated(task) = next_event(&mut client).await {
            if task.id == id && task.status == TaskStatus::Available {
                assert_eq!(task.claimed_by, None);
                assert_eq!(task.attempts, 1, "the lost attempt counts");
                break;
            }
        }
    }
    let again = client
        .request::<m::ClaimTask>(&m::ClaimTaskParams {
            agent_id: "next".into(),
        })
        .await
        .unwrap()
        .expect("the task is ready again");
    assert_eq!(again.id, id);
}

#[tokio::test]
async fn a_second_daemon_for_the_same_workspace_refuses_and_says_which_one_runs() {
    let workspace = TestWorkspace::new();
    let _client = workspace.client(false).await;
    let pid = workspace.daemon_pid().expect("the first daemon runs");
    let output = std::process::Command::new(bin_dir().join("batond"))
        .arg("--workspace")
        .arg(workspace.root())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(baton_protocol::EXIT_LOCK_HELD),
        "a distinct status says the lock is held"
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("already runs") && said.contains(&format!("pid {pid}")),
        "{said}"
    );
    assert_eq!(
        workspace.daemon_pid(),
        Some(pid),
        "the first daemon still runs"
    );
}

#[tokio::test]
async fn only_the_owning_user_can_reach_the_socket() {
    use std::os::unix::fs::PermissionsExt;
    let workspace = TestWorkspace::new();
    let _client = workspace.client(false).await;
    let socket = workspace.workspace().socket_path();
    let directory = std::fs::metadata(socket.parent().unwrap()).unwrap();
    assert_eq!(directory.permissions().mode() & 0o777, 0o700);
    let file = std::fs::metadata(&socket).unwrap();
    assert_eq!(
        file.permissions().mode() & 0o077,
        0,
        "no group or other access"
    );
}

#[tokio::test]
async fn a_daemon_that_is_told_to_stop_goes_and_the_next_client_starts_a_new_one() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    add(&client, "kept across restarts", &[]).await;
    let pid = workspace.daemon_pid().unwrap();
    client.request::<m::StopDaemon>(&()).await.unwrap();
    wait_until(Duration::from_secs(10), || {
        !baton_tests::process_exists(pid)
    });

    let client = workspace.client(false).await;
    assert_ne!(workspace.daemon_pid(), Some(pid));
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    assert_eq!(tasks.len(), 1);
}
