//! Runs with the real Claude Code binary against a scripted model: the daemon starts
//! real `claude` processes, which call the real `baton mcp` bridge.

use std::collections::BTreeSet;
use std::time::Duration;

use baton_protocol::methods::{self as m, Event};
use baton_protocol::{Client, RunMode, RunPhase, TaskId, TaskStatus};
use baton_tests::agent_workspace::{
    add_scripted, bash, baton_tool, git_output, run, say, scripted, start_run, task,
    until_finished, workers_see_only_their_task, AgentWorkspace,
};
use baton_tests::model_server::script;
use baton_tests::{process_exists, wait_until};
use serde_json::{json, Value};

async fn next_event(client: &mut Client) -> Event {
    let events = client.events().expect("this client asked for events");
    tokio::time::timeout(Duration::from_secs(60), events.recv())
        .await
        .expect("an event arrives")
        .expect("the connection stays open")
}

/// Waits until the task reaches `status`, reading events.
async fn wait_for_status(client: &mut Client, id: &TaskId, status: TaskStatus) {
    loop {
        if let Event::TaskUpdated(task) | Event::TaskCompleted(task) | Event::TaskFailed(task) =
            next_event(client).await
        {
            if &task.id == id && task.status == status {
                return;
            }
        }
    }
}

/// Starts a run whose one task's agent hangs in a shell; answers the task and the
/// shell's pid once the agent is at work.
async fn run_hanging_task(agents: &AgentWorkspace, client: &mut Client) -> (TaskId, u32) {
    run_hanging_task_after(agents, client, &[]).await
}

/// As [`run_hanging_task`], the hanging task waiting for `dependencies`.
async fn run_hanging_task_after(
    agents: &AgentWorkspace,
    client: &mut Client,
    dependencies: &[&TaskId],
) -> (TaskId, u32) {
    let steps = [bash("echo $$ > shell.pid; sleep 600"), say("unreachable")];
    let slow = add_scripted(client, "hang", &steps, dependencies).await;
    start_run(client).await;
    wait_for_status(client, &slow, TaskStatus::InProgress).await;
    (slow, read_pid(&agents.root().join("shell.pid")))
}

fn read_pid(path: &std::path::Path) -> u32 {
    wait_until(Duration::from_secs(60), || {
        std::fs::read_to_string(path).is_ok_and(|text| text.trim().parse::<u32>().is_ok())
    });
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_predefined_graph_runs_in_dependency_order_and_answers_the_reference_result() {
    let agents = AgentWorkspace::new();
    let client = agents.start(3, 120).await;
    let first = add_scripted(
        &client,
        "write the greeting",
        &[bash("echo hello > greeting.txt"), say("wrote it")],
        &[],
    )
    .await;
    let second = add_scripted(
        &client,
        "extend the greeting",
        &[
            bash("test -f greeting.txt && cat greeting.txt > both.txt && echo world >> both.txt"),
            say("extended it"),
        ],
        &[&first],
    )
    .await;
    let third = add_scripted(
        &client,
        "count the words",
        &[bash("wc -w < both.txt > count.txt"), say("counted")],
        &[&second],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    let both = std::fs::read_to_string(agents.root().join("both.txt")).unwrap();
    assert_eq!(
        both, "hello\nworld\n",
        "the second task saw the first one's file"
    );
    assert_eq!(
        std::fs::read_to_string(agents.root().join("count.txt"))
            .unwrap()
            .trim(),
        "2"
    );
    assert_eq!(result.tasks_completed, 3);
    assert_eq!(result.tasks_failed, 0);
    assert!(!result.summary.is_empty());
    let reference: Value = serde_json::to_value(&result).unwrap();
    for key in [
        "goal",
        "tasks_completed",
        "tasks_failed",
        "discoveries",
        "summary",
    ] {
        assert!(
            reference.get(key).is_some(),
            "the run result has the reference's `{key}`"
        );
    }
    let done = task(&client, &third).await;
    assert_eq!(done.status, TaskStatus::Done);
    assert_eq!(done.result.unwrap().output, "counted");
    let first = task(&client, &first).await;
    assert_eq!(first.result.unwrap().files_created, vec!["greeting.txt"]);
    assert!(
        first.session_id.is_some(),
        "the agent's session is kept for a retry"
    );
    assert!(first.usage.turns > 0);
}

#[tokio::test]
async fn the_leader_plans_with_dependencies_by_the_ids_it_got_back() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    workers_see_only_their_task(&client).await;
    let make =
        baton_tests::model_server::script(&[bash("echo made > made.txt").clone(), say("made it")]);
    let check = baton_tests::model_server::script(&[
        bash("test -f made.txt && echo checked > checked.txt"),
        say("checked it"),
    ]);
    let plan = [
        baton_tool(
            "set_master_plan",
            json!({ "plan": "make it, then check it" }),
        ),
        baton_tool(
            "add_task",
            json!({ "description": format!("make the file\n{make}"), "priority": 1 }),
        ),
        baton_tool(
            "add_task",
            json!({ "description": format!("check the file\n{check}"), "priority": 2, "dependencies": ["{{1.id}}"] }),
        ),
        say("two tasks: make, then check"),
    ];
    let goal = format!(
        "make and check a file\n{}",
        baton_tests::model_server::script(&plan)
    );
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        client.request::<m::Run>(&m::RunParams {
            mode: RunMode::Leader,
            goal: Some(goal),
            wait: true,
            overrides: None,
            env: None,
        }),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (2, 0),
        "{result:?}"
    );
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(
        tasks[1].dependencies,
        vec![tasks[0].id.clone()],
        "the dependency is the id add_task returned"
    );
    assert!(agents.root().join("checked.txt").exists());
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert_eq!(status.master_plan, "make it, then check it");

    let leader = agents.baton(&["logs", "leader"]);
    let leader = String::from_utf8_lossy(&leader.stdout);
    assert!(leader.contains("→ mcp__baton__set_master_plan"), "{leader}");
    assert!(leader.contains("two tasks: make, then check"), "{leader}");
    let summary = agents.baton(&["logs", "summary"]);
    let summary = String::from_utf8_lossy(&summary.stdout);
    assert!(summary.contains("finished after"), "{summary}");
    assert!(summary.contains(result.summary.trim()), "{summary}");
}

#[tokio::test]
async fn a_discovery_reaches_an_agent_that_runs_at_the_same_time() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(2, 120).await;
    let teller = add_scripted(
        &client,
        "tell",
        &[
            baton_tool("report_discovery", json!({ "content": "the secret is 42", "tags": ["secret"] })),
            json!({ "tool": "mcp__baton__list_discoveries", "input": {}, "until_result_contains": "B saw it", "delay_ms": 100 }),
            say("told"),
        ],
        &[],
    )
    .await;
    let listener = add_scripted(
        &client,
        "listen",
        &[
            json!({ "tool": "mcp__baton__list_discoveries", "input": {}, "until_result_contains": "secret is 42", "delay_ms": 100 }),
            baton_tool("report_discovery", json!({ "content": "B saw it" })),
            say("heard"),
        ],
        &[],
    )
    .await;
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(
        (result.tasks_completed, result.discoveries),
        (2, 2),
        "{result:?}"
    );

    let discoveries = client.request::<m::ListDiscoveries>(&()).await.unwrap();
    assert_eq!(discoveries[0].content, "the secret is 42");
    assert_eq!(discoveries[0].related_task.as_ref(), Some(&teller));
    assert!(discoveries[0].agent_id.starts_with("worker-"));
    assert_eq!(discoveries[1].related_task.as_ref(), Some(&listener));
    // The discovery also reached clients as a notification.
    let mut notified = false;
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), client.events().unwrap().recv()).await
    {
        notified |= matches!(event, Event::Discovery(found) if found.content == "the secret is 42");
    }
    assert!(notified);
}

#[tokio::test]
async fn a_worker_can_split_off_a_subtask_and_give_up_with_a_reason() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    let sub = baton_tests::model_server::script(&[bash("echo sub > sub.txt"), say("sub done")]);
    let parent = add_scripted(
        &client,
        "split",
        &[
            baton_tool(
                "add_task",
                json!({ "description": format!("the split-off part\n{sub}") }),
            ),
            say("split it"),
        ],
        &[],
    )
    .await;
    let quitter = add_scripted(
        &client,
        "give up",
        &[
            baton_tool("fail_task", json!({ "error": "the API spec is missing" })),
            say("gave up"),
        ],
        &[],
    )
    .await;
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (2, 1),
        "{result:?}"
    );

    let parent = task(&client, &parent).await;
    let subtasks = parent.result.unwrap().subtasks_created;
    assert_eq!(subtasks.len(), 1);
    let sub = task(&client, &subtasks[0]).await;
    assert_eq!(sub.context.parent_task.as_ref(), Some(&parent.id));
    assert_eq!(sub.status, TaskStatus::Done);
    assert!(agents.root().join("sub.txt").exists());
    let quitter = task(&client, &quitter).await;
    assert_eq!(quitter.status, TaskStatus::Failed);
    assert_eq!(
        quitter.result.unwrap().error.as_deref(),
        Some("the API spec is missing")
    );
}

/// A description may hold 1 MiB; one argument of a program at most 128 KiB. The
/// agent's prompt holds the description, and the commits that land its work are
/// named by its first line: both must work with a description of one long line.
#[tokio::test]
async fn a_task_described_at_length_reaches_its_agent_whole_and_lands() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let long = "a detailed spec, all on one line; ".repeat(9_000);
    assert!(long.len() > 300_000);
    // The model's script comes after the description: the agent follows it only if
    // the prompt reached the model whole.
    let steps = [bash("echo done > out.txt"), say("read it all")];
    let id = add_scripted(&client, &long, &steps, &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    let done = task(&client, &id).await;
    assert_eq!(
        done.status,
        TaskStatus::Done,
        "{result:?} {:?}",
        done.result
    );
    let output = done.result.unwrap();
    assert_eq!(output.output, "read it all");
    assert_eq!(output.files_created, vec!["out.txt"]);
    let subjects = git_output(agents.root(), &["log", "--format=%s", "baton/integration"]);
    let landed = subjects.lines().next().unwrap_or_default();
    assert!(
        landed.starts_with(&format!("Merge {id}: a detailed spec")) && landed.len() < 200,
        "{landed}"
    );
}

#[tokio::test]
async fn a_template_that_makes_a_prompt_over_8_mib_fails_its_task_before_any_agent_starts() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 60).await;
    // Each placeholder is short; what it names is not. 100 of them over a 100 KB
    // description is a 10 MB prompt, past what Claude Code reads on its input.
    client
        .request::<m::Configure>(&m::ConfigPatch {
            worker_prompt: Some(Some("{description}\n".repeat(100))),
            ..Default::default()
        })
        .await
        .unwrap();
    let long = "the same long sentence again. ".repeat(3_400);
    let id = add_scripted(&client, &long, &[say("unreachable")], &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(result.tasks_failed, 1, "{result:?}");
    let error = task(&client, &id).await.result.unwrap().error.unwrap();
    assert!(
        error.contains("over 8 MiB") && error.contains("worker_prompt"),
        "{error}"
    );
    // The run's summary names the task, its description cut short; no request
    // carried the description whole.
    let worked_on = agents.model.messages_requests().iter().any(|request| {
        let messages = request.body["messages"].to_string();
        messages.matches("the same long sentence").count() > 100
    });
    assert!(!worked_on, "no agent was started on it");
}

#[tokio::test]
async fn an_agent_that_crashes_fails_its_task_and_the_run_goes_on() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    let crashing = add_scripted(
        &client,
        "crash",
        &[bash("kill -9 $PPID"), say("unreachable")],
        &[],
    )
    .await;
    let fine = add_scripted(&client, "fine", &[say("fine")], &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (1, 1),
        "{result:?}"
    );
    let crashed = task(&client, &crashing).await;
    let error = crashed.result.unwrap().error.unwrap();
    assert!(
        error.contains("signal 9") || error.contains("without a result"),
        "{error}"
    );
    assert_eq!(task(&client, &fine).await.status, TaskStatus::Done);
}

#[tokio::test]
async fn a_timeout_ends_the_agent_and_everything_it_started() {
    let agents = AgentWorkspace::new();
    // Long enough for Claude Code to start and run its first tool on a loaded machine.
    let client = agents.start(1, 20).await;
    let slow = add_scripted(
        &client,
        "hang",
        &[bash("echo $$ > shell.pid; sleep 600"), say("unreachable")],
        &[],
    )
    .await;
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(result.tasks_failed, 1);
    let error = task(&client, &slow).await.result.unwrap().error.unwrap();
    assert!(error.contains("TimeoutError"), "{error}");
    assert!(
        error.contains(&format!(
            "raise task_timeout (`baton config task_timeout N`), then `baton retry {slow}`"
        )),
        "what to do next: {error}"
    );
    let shell = read_pid(&agents.root().join("shell.pid"));
    wait_until(Duration::from_secs(10), || !process_exists(shell));
}

/// Cancels `task` from another client and waits until its agent's `shell` is gone.
async fn cancel_and_see_it_end(agents: &AgentWorkspace, task: &TaskId, shell: u32) {
    let other = agents.client(false).await;
    other
        .request::<m::CancelTask>(&m::TaskRef {
            task_id: task.clone(),
        })
        .await
        .unwrap();
    wait_until(Duration::from_secs(10), || !process_exists(shell));
}

#[tokio::test]
async fn cancel_ends_a_running_agent_and_its_children() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(1, 300).await;
    let (slow, shell) = run_hanging_task(&agents, &mut client).await;

    cancel_and_see_it_end(&agents, &slow, shell).await;
    loop {
        if let Event::RunFinished(result) = next_event(&mut client).await {
            assert_eq!(
                (
                    result.tasks_completed,
                    result.tasks_failed,
                    result.tasks_cancelled
                ),
                (0, 0, 1),
                "the run says what became of its task"
            );
            break;
        }
    }
    assert_eq!(task(&client, &slow).await.status, TaskStatus::Cancelled);
}

#[tokio::test]
async fn cancel_ends_the_agent_of_a_seat_another_agent_just_left() {
    // The seat's first agent ends just as its next task is handed to a new agent
    // under the same name: the stop signal must be the new agent's still.
    let agents = AgentWorkspace::new();
    let mut client = agents.start(1, 300).await;
    let first = add_scripted(&client, "quick", &[say("done at once")], &[]).await;
    let (slow, shell) = run_hanging_task_after(&agents, &mut client, &[&first]).await;

    cancel_and_see_it_end(&agents, &slow, shell).await;
    assert_eq!(task(&client, &slow).await.status, TaskStatus::Cancelled);
}

#[tokio::test]
async fn never_more_agents_than_max_workers_run_at_once() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(2, 120).await;
    let mut ids = BTreeSet::new();
    for i in 0..5 {
        let steps = [json!({ "text": format!("task {i} done"), "delay_ms": 800 })];
        ids.insert(add_scripted(&client, &format!("task {i}"), &steps, &[]).await);
    }
    start_run(&client).await;
    let mut running = BTreeSet::new();
    let mut most = 0;
    loop {
        match next_event(&mut client).await {
            Event::TaskUpdated(task) if task.status == TaskStatus::InProgress => {
                running.insert(task.id);
            }
            Event::TaskCompleted(task) | Event::TaskFailed(task) => {
                running.remove(&task.id);
            }
            Event::RunFinished(result) => {
                assert_eq!(result.tasks_completed, 5);
                break;
            }
            _ => {}
        }
        most = most.max(running.len());
    }
    assert_eq!(most, 2, "two agents ran at once, never three");
}

#[tokio::test]
async fn baton_run_prints_the_result_and_exits_1_when_a_task_failed_and_logs_show_the_agent() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    let good = add_scripted(
        &client,
        "good",
        &[bash("echo ok > ok.txt"), say("all good")],
        &[],
    )
    .await;
    add_scripted(
        &client,
        "bad",
        &[
            baton_tool("fail_task", json!({ "error": "cannot" })),
            say("gave up"),
        ],
        &[],
    )
    .await;

    let output = agents.baton(&["run", "--predefined"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("run finished: 1 completed, 1 failed"),
        "{stdout}"
    );
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains("error: 1 task failed;"),
        "{stderr}"
    );

    let log = agents.workspace.ok(&["logs", good.as_str()]);
    assert!(log.contains("→ Bash"), "{log}");
    assert!(
        log.contains("finished after") && log.contains("all good"),
        "{log}"
    );
    let raw = agents.workspace.ok(&["logs", good.as_str(), "--json"]);
    assert!(
        raw.lines()
            .all(|line| serde_json::from_str::<Value>(line).is_ok()),
        "the raw log is stream-json"
    );
}

#[tokio::test]
async fn baton_logs_shows_a_log_past_a_megabyte_with_a_line_longer_than_one_whole() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    // Each `{{0}}` is the 29,000 characters step 0 printed: the Write's line in the
    // log is over a mebibyte, longer than one read of the log.
    let big = agents.root().join("big.txt");
    let steps = [
        bash("head -c 29000 /dev/zero | tr '\\0' x"),
        json!({ "tool": "Write", "input": {
            "file_path": big.display().to_string(),
            "content": "{{0}}".repeat(40),
        }}),
        bash("echo after the big write"),
        say("finished writing"),
    ];
    let id = add_scripted(&client, "write a big file", &steps, &[]).await;
    run(&client, RunMode::Predefined).await;
    assert_eq!(task(&client, &id).await.status, TaskStatus::Done);
    assert!(std::fs::metadata(&big).unwrap().len() > 1_100_000);

    let shown = agents.baton(&["logs", id.as_str()]);
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains("→ Write"),
        "{}",
        &shown[..shown.len().min(2_000)]
    );
    assert!(shown.contains("after the big write"), "{shown}");
    assert!(shown.contains("finished writing"), "{shown}");

    let full = agents.baton(&["logs", "--full", id.as_str()]);
    let full = String::from_utf8_lossy(&full.stdout);
    assert!(
        full.contains(&"x".repeat(29_000 * 40)),
        "--full shows the Write whole"
    );

    let raw = agents.baton(&["logs", "--json", id.as_str()]);
    let lines: Vec<Value> = String::from_utf8_lossy(&raw.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON event"))
        .collect();
    let log =
        std::fs::read_to_string(agents.root().join(format!(".baton/logs/tasks/{id}.log"))).unwrap();
    assert_eq!(
        lines.len(),
        log.lines().count(),
        "every line of the log, each whole"
    );
}

#[tokio::test]
async fn a_requeued_task_resumes_its_agents_session() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            max_attempts: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    let flaky = add_scripted(
        &client,
        "resume me",
        &[
            bash("test -f crashed-once || { touch crashed-once; kill -TERM $PPID; sleep 5; }"),
            say("second time lucky"),
        ],
        &[],
    )
    .await;
    let result = run(&client, RunMode::Predefined).await;
    let why = task(&client, &flaky)
        .await
        .result
        .and_then(|result| result.error);
    let log = agents.workspace.ok(&["logs", flaky.as_str()]);
    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (1, 0),
        "{result:?}: {why:?}\n{log}"
    );
    let task = task(&client, &flaky).await;
    assert_eq!(task.attempts, 2);
    assert_eq!(task.status, TaskStatus::Done);
    // The resumed session carries the first attempt's conversation: the task's
    // prompt is in it twice (a fresh start would have it once).
    let resumed = agents.model.messages_requests().iter().any(|request| {
        request.body["messages"]
            .to_string()
            .matches("resume me")
            .count()
            >= 2
    });
    assert!(
        resumed,
        "the second attempt resumed the first one's session"
    );
}

#[tokio::test]
async fn nothing_an_agent_started_outlives_a_killed_daemon() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(1, 300).await;
    let (_, shell) = run_hanging_task(&agents, &mut client).await;

    agents.workspace.kill_daemon();
    wait_until(Duration::from_secs(10), || !process_exists(shell));
}

#[tokio::test]
async fn an_agent_that_prints_garbage_or_nothing_fails_its_task_with_the_reason() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 60).await;
    let garbage = add_scripted(&client, "garbage", &[say("unused")], &[]).await;
    let nothing = add_scripted(&client, "nothing", &[say("unused")], &[]).await;
    let script = agents.root().join("fake-agent.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$(cat)\" in *garbage*) echo 'Segmentation fault (core dumped)';; esac\nexit 0\n",
    )
    .unwrap();
    let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&script, executable).unwrap();
    client
        .request::<m::Configure>(&m::ConfigPatch {
            agent_command: Some(script.display().to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(result.tasks_failed, 2, "{result:?}");
    let garbage = task(&client, &garbage).await.result.unwrap().error.unwrap();
    assert!(
        garbage.contains("not stream-json") && garbage.contains("Segmentation fault"),
        "{garbage}"
    );
    let nothing = task(&client, &nothing).await.result.unwrap().error.unwrap();
    assert!(nothing.contains("without a result"), "{nothing}");
}

#[tokio::test]
async fn a_spent_run_budget_stops_dispatch_and_says_why() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            run_budget_usd: Some(Some(0.000_001)),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = add_scripted(&client, "first", &[say("first")], &[]).await;
    let second = add_scripted(&client, "second", &[say("second")], &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    // The budget is a cap: the first model turn crosses it, and the agent is stopped
    // at once rather than allowed to finish.
    assert_eq!(result.tasks_completed, 0, "{result:?}");
    assert_eq!(result.tasks_failed, 1, "{result:?}");
    assert!(result.cost_usd > 0.000_001, "{result:?}");
    assert!(
        result.summary.contains("run_budget_usd"),
        "{}",
        result.summary
    );
    let error = task(&client, &first).await.result.unwrap().error.unwrap();
    assert!(
        error.contains("the run's budget is spent")
            && error.contains(&format!(
                "raise run_budget_usd (`baton config run_budget_usd N`), then `baton retry {first}`"
            )),
        "{error}"
    );
    assert_eq!(
        task(&client, &second).await.status,
        TaskStatus::Available,
        "unspent work stays in the queue"
    );
}

#[tokio::test]
async fn tools_the_agent_was_refused_are_kept_on_the_task() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            allowed_tools: Some(vec!["Read".into()]),
            ..Default::default()
        })
        .await
        .unwrap();
    let command = "python3 -c \"open('hi.txt', 'w').write('hi')\"";
    let refused = add_scripted(&client, "try bash", &[bash(command), say("could not")], &[]).await;
    run(&client, RunMode::Predefined).await;
    let task = task(&client, &refused).await;
    assert!(!agents.root().join("hi.txt").exists());
    assert_eq!(
        task.permission_denials.len(),
        1,
        "{:?}",
        task.permission_denials
    );
    assert!(
        task.permission_denials[0].starts_with("Bash: python3"),
        "{:?}",
        task.permission_denials
    );
}

#[tokio::test]
async fn settings_sent_with_a_run_govern_that_run_and_leave_the_configuration() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    let before = client.request::<m::GetConfig>(&()).await.unwrap();
    let command = "python3 -c \"open('hi.txt', 'w').write('hi')\"";
    let refused = add_scripted(&client, "try bash", &[bash(command), say("could not")], &[]).await;
    let overrides = m::ConfigPatch {
        allowed_tools: Some(vec!["Read".into()]),
        max_workers: Some(2),
        ..Default::default()
    };
    tokio::time::timeout(
        Duration::from_secs(180),
        client.request::<m::Run>(&m::RunParams {
            mode: RunMode::Predefined,
            goal: None,
            wait: true,
            overrides: Some(overrides),
            env: None,
        }),
    )
    .await
    .expect("the run ends in time")
    .expect("the run is answered");
    assert!(
        !agents.root().join("hi.txt").exists(),
        "the run's allowed_tools kept Bash out"
    );
    let denials = task(&client, &refused).await.permission_denials;
    assert!(denials[0].starts_with("Bash: python3"), "{denials:?}");
    let after = client.request::<m::GetConfig>(&()).await.unwrap();
    assert_eq!(after, before, "the workspace's configuration is as it was");

    let again = add_scripted(
        &client,
        "bash again",
        &[bash(command), say("wrote it")],
        &[],
    )
    .await;
    run(&client, RunMode::Predefined).await;
    assert_eq!(task(&client, &again).await.status, TaskStatus::Done);
    assert!(
        agents.root().join("hi.txt").exists(),
        "the next run without overrides has the workspace's tools again"
    );
}

#[tokio::test]
async fn a_rate_limited_agent_pauses_dispatch_without_being_killed() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(2, 120).await;
    let limited = add_scripted(
        &client,
        "limited",
        &[
            json!({ "rate_limit": { "reset_in_s": 4 } }),
            say("after the limit"),
        ],
        &[],
    )
    .await;
    let quick = add_scripted(&client, "quick", &[say("quick")], &[]).await;
    let waiting = add_scripted(&client, "waiting", &[say("waited")], &[]).await;
    start_run(&client).await;
    let mut paused_until = None;
    loop {
        match next_event(&mut client).await {
            Event::AgentActivity(activity)
                if activity.kind == baton_protocol::ActivityKind::RateLimited =>
            {
                let status = client.request::<m::GetStatus>(&()).await.unwrap();
                paused_until = status.run.and_then(|run| run.paused_until);
                assert!(
                    paused_until.is_some_and(|until| until > chrono::Utc::now()),
                    "status says dispatch is paused"
                );
            }
            // A worker is free and a task is ready, but the pause holds it back.
            Event::TaskCompleted(task)
                if task.id == quick
                    && paused_until.is_some_and(|until| {
                        until > chrono::Utc::now() + chrono::Duration::milliseconds(500)
                    }) =>
            {
                assert_eq!(task_status(&client, &waiting).await, TaskStatus::Available);
            }
            Event::RunFinished(result) => {
                assert_eq!(result.tasks_completed, 3, "{result:?}");
                break;
            }
            _ => {}
        }
    }
    assert!(paused_until.is_some(), "the rate limit was seen");
    let limited = task(&client, &limited).await;
    assert_eq!(
        limited.attempts, 1,
        "the limited agent was not killed, it waited"
    );
    assert_eq!(limited.result.unwrap().output, "after the limit");
}

async fn task_status(client: &Client, id: &TaskId) -> TaskStatus {
    task(client, id).await.status
}

#[tokio::test]
async fn a_run_result_counts_what_that_run_did() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    add_scripted(&client, "one", &[say("one")], &[]).await;
    add_scripted(
        &client,
        "two",
        &[baton_tool("fail_task", json!({ "error": "no" })), say("no")],
        &[],
    )
    .await;
    let first = run(&client, RunMode::Predefined).await;
    assert_eq!(
        (first.tasks_completed, first.tasks_failed),
        (1, 1),
        "{first:?}"
    );

    add_scripted(&client, "three", &[say("three")], &[]).await;
    let second = run(&client, RunMode::Predefined).await;
    assert_eq!(
        (second.tasks_completed, second.tasks_failed),
        (1, 0),
        "{second:?}"
    );
}

#[tokio::test]
async fn stop_ends_every_agent_and_their_tasks_wait_for_the_next_run() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(1, 300).await;
    let (slow, shell) = run_hanging_task(&agents, &mut client).await;

    // The answer comes once the run has ended: what it says is what the user finds.
    let answer = agents
        .client(false)
        .await
        .request::<m::Stop>(&())
        .await
        .unwrap();
    assert!(!process_exists(shell), "an agent's shell outlived the stop");
    assert!(
        answer.run.is_none() && !answer.running && answer.agents.is_empty(),
        "{answer:?}"
    );
    assert_eq!(
        (
            answer.progress.by_status.available,
            answer.progress.by_status.in_progress
        ),
        (1, 0),
        "{answer:?}"
    );
    loop {
        if let Event::RunFinished(result) = next_event(&mut client).await {
            assert!(
                result.summary.contains("stopped by the user"),
                "{}",
                result.summary
            );
            break;
        }
    }
    let stopped = task(&client, &slow).await;
    assert_eq!(
        stopped.status,
        TaskStatus::Available,
        "the task waits for the next run"
    );
    assert_eq!(stopped.attempts, 1);
}

#[tokio::test]
async fn ctrl_c_on_a_foreground_run_stops_it_says_so_and_the_log_and_status_keep_the_end() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(1, 120).await;
    let steps = [bash("echo $$ > shell.pid; sleep 600"), say("unreachable")];
    let slow = add_scripted(&client, "hang", &steps, &[]).await;
    let foreground = agents
        .baton_command(&["run", "--predefined"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("baton run starts");
    wait_for_status(&mut client, &slow, TaskStatus::InProgress).await;
    let shell = read_pid(&agents.root().join("shell.pid"));
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    let phase = status.run.expect("a run is going").phase;
    assert_eq!(phase, RunPhase::Working, "a worker works, no leader plans");

    // SAFETY: sending a signal touches no memory of ours.
    unsafe { libc::kill(foreground.id() as i32, libc::SIGINT) };
    let output = tokio::task::spawn_blocking(move || foreground.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{said}");
    assert!(
        said.contains(
            "stopping the run: its agents are ended and their tasks go back to the queue"
        ),
        "{said}"
    );
    assert!(said.contains("the run stopped;"), "{said}");
    assert!(
        printed.contains("Stopped: stopped by the user; 1 task waits for the next run"),
        "{printed}"
    );
    wait_until(Duration::from_secs(10), || !process_exists(shell));
    let back = task(&client, &slow).await;
    assert_eq!(back.status, TaskStatus::Available);
    assert_eq!(back.attempts, 1);

    let logs = agents.workspace.ok(&["logs", slow.as_str()]);
    assert_eq!(
        logs.lines().last(),
        Some("stopped: stopped by the user"),
        "{logs}"
    );
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert!(status.run.is_none());
    let last = status.last_run.expect("status keeps the last run's result");
    assert!(
        last.summary.starts_with("Stopped: stopped by the user"),
        "{last:?}"
    );
    // The board that had the run is archived: its run goes with it.
    agents.workspace.ok(&["reset", "--yes"]);
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert!(status.last_run.is_none(), "{:?}", status.last_run);
}

#[tokio::test]
async fn a_task_s_own_model_is_the_one_its_agent_uses() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    let id = baton_tests::add_task(
        &client,
        m::NewTask {
            model: Some("claude-haiku-4-5".into()),
            ..scripted("small", &[say("small")])
        },
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(result.tasks_completed, 1, "{result:?}");
    assert_eq!(
        task(&client, &id).await.model.as_deref(),
        Some("claude-haiku-4-5")
    );
    let log = agents.workspace.ok(&["logs", id.as_str()]);
    assert!(log.contains("(claude-haiku-4-5)"), "{log}");
}

/// Twelve model turns of a known cost each ($0.0009 at sonnet's list price: 200 tokens
/// in, 20 out), each appending its number to `steps.txt`, then a final answer.
fn twelve_priced_steps() -> Vec<Value> {
    let mut steps: Vec<Value> = (1..=11)
        .map(|n| {
            let mut step = bash(&format!("echo {n} >> steps.txt"));
            step["usage"] = json!({ "input_tokens": 200, "output_tokens": 20 });
            step
        })
        .collect();
    let mut last = say("all twelve steps done");
    last["usage"] = json!({ "input_tokens": 200, "output_tokens": 20 });
    steps.push(last);
    steps
}

/// The most one scripted turn above costs, with room for Claude Code's rounding.
const ONE_TURN_USD: f64 = 0.001;

#[tokio::test]
async fn a_task_budget_is_a_cap_that_stops_its_agent_within_one_model_turn() {
    // Found when it was tried: with task_budget_usd 0.002 one attempt of a 12-step task
    // spent $0.0068 and the task ended done.
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            task_budget_usd: Some(Some(0.002)),
            ..Default::default()
        })
        .await
        .unwrap();
    let id = add_scripted(&client, "twelve steps", &twelve_priced_steps(), &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    let spent = task(&client, &id).await;
    assert_eq!(spent.status, TaskStatus::Failed, "{spent:?}");
    let error = spent.result.clone().unwrap().error.unwrap();
    assert!(error.contains("task_budget_usd"), "{error}");
    assert!(
        spent.usage.cost_usd <= 0.002 + ONE_TURN_USD,
        "spent {} of a 0.002 budget: {error}",
        spent.usage.cost_usd
    );
    assert_eq!(result.tasks_failed, 1, "{result:?}");
    let steps = std::fs::read_to_string(agents.root().join("steps.txt")).unwrap_or_default();
    assert!(
        steps.lines().count() < 11,
        "the agent went on past its budget: {steps:?}"
    );
}

#[tokio::test]
async fn a_run_budget_is_a_cap_that_stops_every_agent_within_one_model_turn() {
    // Found when it was tried: with run_budget_usd 0.004 a run spent $0.0068.
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            run_budget_usd: Some(Some(0.004)),
            ..Default::default()
        })
        .await
        .unwrap();
    let first = add_scripted(&client, "twelve steps", &twelve_priced_steps(), &[]).await;
    let second = add_scripted(&client, "twelve more", &twelve_priced_steps(), &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    assert!(
        result.cost_usd <= 0.004 + ONE_TURN_USD,
        "the run spent {} of a 0.004 budget: {result:?}",
        result.cost_usd
    );
    assert!(
        result.summary.contains("run_budget_usd"),
        "{}",
        result.summary
    );
    let first = task(&client, &first).await;
    assert_eq!(first.status, TaskStatus::Failed, "{first:?}");
    let error = first.result.unwrap().error.unwrap();
    assert!(error.contains("run_budget_usd"), "{error}");
    assert_eq!(
        task(&client, &second).await.status,
        TaskStatus::Available,
        "unspent work stays in the queue"
    );
}

/// A step whose model turn writes `output_tokens` tokens: $1.50 a turn at Sonnet's
/// $15 a million for 100,000.
fn output_heavy(command: &str, output_tokens: u64) -> Value {
    let mut step = bash(command);
    step["usage"] = json!({ "input_tokens": 100, "output_tokens": output_tokens });
    step
}

#[tokio::test]
async fn a_run_budget_counts_each_turn_s_output_as_the_turn_ends() {
    // Found when it was tried: with run_budget_usd 0.5, four turns of 100,000 output
    // tokens each all ran, the task completed and the run spent $6.08: each turn was
    // counted with the one output token Claude Code reports as it starts.
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            run_budget_usd: Some(Some(0.5)),
            ..Default::default()
        })
        .await
        .unwrap();
    let steps: Vec<Value> = (1..=3)
        .map(|n| output_heavy(&format!("echo {n} >> steps.txt"), 100_000))
        .chain([say("all done")])
        .collect();
    let spender = add_scripted(&client, "write a lot", &steps, &[]).await;
    let result = run(&client, RunMode::Predefined).await;
    assert!(
        result.cost_usd < 1.6,
        "the run spent {} of a 0.5 budget: {result:?}",
        result.cost_usd
    );
    let spender = task(&client, &spender).await;
    assert_eq!(spender.status, TaskStatus::Failed, "{spender:?}");
    let error = spender.result.unwrap().error.unwrap();
    assert!(error.contains("run_budget_usd"), "{error}");
    let steps = std::fs::read_to_string(agents.root().join("steps.txt")).unwrap_or_default();
    assert!(steps.lines().count() <= 1, "steps after the cap: {steps:?}");
}

#[tokio::test]
async fn an_attempt_ended_by_its_timeout_is_charged_for_the_output_it_had_written() {
    // Found when it was tried: an attempt whose one turn wrote 100,000 tokens ($1.50),
    // then ran past task_timeout, was charged $0.0003.
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 5).await;
    let slow = add_scripted(
        &client,
        "write a lot, then wait",
        &[
            output_heavy("python3 -c 'import time; time.sleep(60)'", 100_000),
            say("never"),
        ],
        &[],
    )
    .await;
    run(&client, RunMode::Predefined).await;
    let slow = task(&client, &slow).await;
    assert_eq!(slow.status, TaskStatus::Failed, "{slow:?}");
    assert!(
        slow.usage.output_tokens >= 100_000 && slow.usage.cost_usd >= 1.5,
        "{:?}",
        slow.usage
    );
}

#[tokio::test]
async fn a_run_budget_set_below_what_the_run_spent_says_its_agents_stop() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    let mut priced = bash("echo one >> steps.txt");
    priced["usage"] = json!({ "input_tokens": 200, "output_tokens": 20 });
    let waiting = json!({ "tool": "Bash", "delay_ms": 3000, "input": { "command": "echo two >> steps.txt", "description": "a scripted step" } });
    add_scripted(
        &client,
        "spend, then wait",
        &[priced, waiting, say("done")],
        &[],
    )
    .await;
    start_run(&client).await;
    wait_until(Duration::from_secs(60), || {
        agents.root().join("steps.txt").exists()
    });

    let lowered = agents.baton(&["config", "run_budget_usd", "0.000001"]);

    let said = String::from_utf8_lossy(&lowered.stderr);
    assert!(lowered.status.success(), "{said}");
    assert!(
        said.starts_with("the run going has spent $")
            && said.contains("its agents stop at their next model turn"),
        "{said}"
    );
}

#[tokio::test]
async fn a_run_stopped_by_its_budget_while_its_leader_plans_fails_and_says_the_plan_is_partial() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    workers_see_only_their_task(&client).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            run_budget_usd: Some(Some(0.002)),
            ..Default::default()
        })
        .await
        .unwrap();
    let priced_task = |n: usize| {
        let mut step = baton_tool(
            "add_task",
            json!({ "description": format!("part {n}\n{}", script(&[say("done")])) }),
        );
        step["usage"] = json!({ "input_tokens": 200, "output_tokens": 20 });
        step
    };
    let mut plan: Vec<Value> = (1..=6).map(priced_task).collect();
    plan.push(say("planned six parts"));

    let ran = agents.baton(&["run", &format!("six parts\n{}", script(&plan))]);

    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("the run stopped before its work was done: the run's budget is spent")
            && last.contains("its leader was stopped before it finished the plan"),
        "{stderr}"
    );
    let added = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    assert!(added.len() < 6, "the leader was stopped: {added:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_that_start_at_once_each_have_their_own_claude_config_with_the_user_s_setup() {
    let agents = AgentWorkspace::new();
    // The user logged in with `/login`: the key is in their `.claude.json`, not in
    // the environment; their settings give agents a variable.
    let key = "sk-ant-saved-by-login";
    let user_config = agents.home().join(".claude.json");
    let saved = json!({ "primaryApiKey": key, "hasCompletedOnboarding": true }).to_string();
    std::fs::write(&user_config, &saved).unwrap();
    std::fs::create_dir(agents.home().join(".claude")).unwrap();
    std::fs::write(
        agents.home().join(".claude/settings.json"),
        json!({ "env": { "SETTINGS_MARKER": "from the user's settings" } }).to_string(),
    )
    .unwrap();
    let env = agents
        .model_env()
        .into_iter()
        .filter(|(name, _)| *name != "ANTHROPIC_API_KEY")
        .collect();
    let workers = 4;
    let client = agents.start_with(env, workers, 120).await;
    let mut ids = Vec::new();
    for i in 0..workers {
        let steps = [
            bash("echo \"$CLAUDE_CONFIG_DIR | $SETTINGS_MARKER\" > \"$BATON_TASK_ID.seen\""),
            say("seen"),
        ];
        ids.push(add_scripted(&client, &format!("task {i}"), &steps, &[]).await);
    }

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(result.tasks_completed, workers as usize, "{result:?}");
    let mut dirs = BTreeSet::new();
    for id in &ids {
        let seen = std::fs::read_to_string(agents.root().join(format!("{id}.seen"))).unwrap();
        let (dir, marker) = seen.trim().split_once(" | ").expect("what the agent saw");
        assert_eq!(marker, "from the user's settings");
        let dir = std::path::PathBuf::from(dir);
        assert!(
            dir.starts_with(agents.root().join(".baton/agents")),
            "{seen}"
        );
        assert!(!dir.exists(), "{} went with its agent", dir.display());
        dirs.insert(dir);
    }
    assert_eq!(
        dirs.len(),
        workers as usize,
        "each agent had its own: {dirs:?}"
    );
    let keys: BTreeSet<_> = agents
        .model
        .messages_requests()
        .iter()
        .filter_map(|request| request.headers.get("x-api-key").cloned())
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([key.to_owned()]),
        "the saved key was used"
    );
    assert_eq!(
        std::fs::read_to_string(&user_config).unwrap(),
        saved,
        "no agent wrote the user's .claude.json"
    );
    let sessions = std::fs::read_dir(agents.home().join(".claude/projects")).unwrap();
    assert!(
        sessions.count() > 0,
        "sessions are kept where the user's Claude Code keeps them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_s_next_task_finds_its_mcp_bridge_when_the_last_one_just_ended() {
    let agents = AgentWorkspace::new();
    // One seat: each task settled frees it, and the next task starts on it at once.
    let client = agents.start(1, 120).await;
    let tasks = 8;
    for i in 0..tasks {
        let steps = [baton_tool("list_tasks", json!({})), say("listed")];
        add_scripted(&client, &format!("task {i}"), &steps, &[]).await;
    }

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(result.tasks_completed, tasks, "{result:?}");
}

#[tokio::test]
async fn an_agent_s_status_shows_what_it_does_on_its_task_not_on_its_last_one() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    add_scripted(&client, "first", &[say("said on the first task")], &[]).await;
    run(&client, RunMode::Predefined).await;
    let thinking = json!({ "text": "said on the second task", "delay_ms": 3000 });
    let second = add_scripted(&client, "second", &[thinking], &[]).await;
    let mut watcher = agents.client(true).await;

    start_run(&client).await;

    let shown = loop {
        let status = client.request::<m::GetStatus>(&()).await.unwrap();
        if let Some(agent) = status
            .agents
            .into_iter()
            .find(|agent| agent.task.as_ref() == Some(&second))
        {
            break agent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        shown.activity, None,
        "the agent has done nothing on {second} yet"
    );
    until_finished(&client, &mut watcher, &second).await;
}
