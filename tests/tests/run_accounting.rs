//! What a run counts: its cost (every agent's, the leader's and the summary's
//! included) and its progress (its own tasks, not what earlier runs finished). Real
//! daemon, real CLI, and the real Claude Code against the scripted model.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use baton_protocol::framing::{read_message, write_message};
use baton_protocol::methods::{self as m};
use baton_protocol::RunMode;
use baton_protocol::{Client, TaskResult};
use baton_tests::agent_workspace::{
    add_answer_right_on_the_second_try, add_scripted, bash, baton_tool, run, say, task,
    workers_see_only_their_task, AgentWorkspace,
};
use baton_tests::model_server::script;
use serde_json::{json, Value};
use tokio::io::BufReader;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// What Claude Code reported the agents of these logs cost, each turn once: a
/// session's `result` lines carry its running total (`total_cost_usd`), which a
/// resumed session goes on adding to, so each session counts at its largest.
fn sessions_cost(logs: &[PathBuf]) -> f64 {
    let mut sessions: HashMap<String, f64> = HashMap::new();
    let results = logs
        .iter()
        .filter_map(|log| std::fs::read_to_string(log).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter_map(|line| serde_json::from_str::<Value>(&line).ok())
        .filter(|event| event["type"] == "result");
    for event in results {
        let session = event["session_id"].as_str().unwrap_or_default().to_owned();
        let total = event["total_cost_usd"].as_f64().unwrap_or_default();
        let counted = sessions.entry(session).or_default();
        *counted = counted.max(total);
    }
    sessions.values().sum()
}

/// What every agent reported it cost: the task logs, the leader's and the summary's.
fn reported_cost(agents: &AgentWorkspace) -> f64 {
    let workspace = agents.workspace.workspace();
    let mut logs = vec![workspace.leader_log(), workspace.summary_log()];
    if let Ok(entries) = std::fs::read_dir(workspace.task_logs_dir()) {
        logs.extend(entries.flatten().map(|entry| entry.path()));
    }
    sessions_cost(&logs)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test]
async fn an_agent_resumed_by_the_gate_pays_for_each_turn_once() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let id = add_answer_right_on_the_second_try(&client).await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(result.tasks_completed, 1, "{result:?}");
    let workspace = agents.workspace.workspace();
    let log = workspace.task_log(&id);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.matches("\"type\":\"result\"").count() >= 2,
        "the agent was resumed after the failed verification: {text}"
    );
    let spent = sessions_cost(&[log]);
    let charged = task(&client, &id).await.usage.cost_usd;
    assert!(
        (charged - spent).abs() < 1e-6,
        "the task is charged {charged}, its turns cost {spent}"
    );
    let timeline = client
        .request::<m::GetTimeline>(&Default::default())
        .await
        .unwrap();
    let worker = timeline
        .attempts
        .iter()
        .find(|record| record.task.as_ref() == Some(&id))
        .expect("the worker's record");
    assert!(
        (worker.cost_usd - spent).abs() < 1e-6,
        "the worker's record carries its turns before and after the resume: {worker:?}"
    );
    let everything = reported_cost(&agents);
    assert!(
        (result.cost_usd - everything).abs() < 1e-6,
        "the run is charged {}, its agents' turns cost {everything}",
        result.cost_usd
    );
}

#[tokio::test]
async fn the_cost_shown_is_every_agent_s_reported_cost_leader_and_summary_included() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    workers_see_only_their_task(&client).await;
    let work = script(&[bash("echo made > made.txt"), say("made it")]);
    let plan = [
        baton_tool(
            "add_task",
            json!({ "description": format!("make the file\n{work}") }),
        ),
        say("one task"),
    ];
    let goal = format!("make a file\n{}", script(&plan));

    let ran = agents.baton(&["run", &goal]);

    let printed = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(ran.status.success(), "{ran:?}");
    let spent = reported_cost(&agents);
    let workspace = agents.workspace.workspace();
    for (agent, log) in [
        ("leader", workspace.leader_log()),
        ("summary", workspace.summary_log()),
    ] {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            text.contains("\"total_cost_usd\""),
            "the {agent} reported its cost: {text}"
        );
    }
    assert!(spent > 0.0);
    let final_line = printed.lines().next().unwrap_or_default();
    assert!(
        final_line.ends_with(&format!("${spent:.2}")),
        "baton run's line shows the whole cost ${spent:.4}: {printed}"
    );
    let result = agents.workspace.json(&["status"]);
    let status_cost = result["cost_usd"].as_f64().unwrap();
    assert!(
        close(status_cost, spent),
        "status's cost {status_cost} is every agent's reported cost {spent}"
    );
    let last_run = result["last_run"]["cost_usd"].as_f64().unwrap();
    assert!(
        close(last_run, spent),
        "the run's result {last_run} is every agent's cost {spent}"
    );
    let human = agents.workspace.ok(&["status"]);
    assert!(
        human.contains(&format!("${spent:.2} over all runs")),
        "{human}"
    );

    // Stored: a new daemon shows the same figure.
    let stopped = agents.baton(&["daemon", "stop"]);
    assert!(stopped.status.success(), "{stopped:?}");
    let again = agents.workspace.json(&["status"])["cost_usd"]
        .as_f64()
        .unwrap();
    assert!(
        close(again, spent),
        "after a restart, status's cost {again} is still {spent}"
    );
}

/// A connection that speaks the protocol itself, to see the `$/progress` the daemon
/// sends (the protocol client answers its `create` and drops the rest).
struct ProgressWatch {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl ProgressWatch {
    async fn connect(socket: &Path) -> ProgressWatch {
        let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
        let (read, writer) = stream.into_split();
        let mut watch = ProgressWatch {
            reader: BufReader::new(read),
            writer,
        };
        let initialize = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "capabilities": {}, "initializationOptions": { "events": true } }
        });
        watch.send(&initialize).await;
        while watch.next().await.get("id") != Some(&json!(1)) {}
        watch
            .send(&json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }))
            .await;
        watch
    }

    async fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).unwrap();
        write_message(&mut self.writer, &body).await.unwrap();
    }

    async fn next(&mut self) -> Value {
        let body = tokio::time::timeout(Duration::from_secs(120), read_message(&mut self.reader))
            .await
            .expect("the daemon says something in time")
            .unwrap()
            .expect("the connection stays open");
        serde_json::from_slice(&body).unwrap()
    }

    /// The next `$/progress` value, answering the daemon's `create` on the way.
    async fn progress(&mut self) -> Value {
        loop {
            let message = self.next().await;
            match message["method"].as_str() {
                Some("window/workDoneProgress/create") => {
                    let answer = json!({ "jsonrpc": "2.0", "id": message["id"], "result": null });
                    self.send(&answer).await;
                }
                Some("$/progress") => return message["params"]["value"].clone(),
                _ => {}
            }
        }
    }

    /// Reads progress until one message starts with `prefix`; answers it, or none
    /// when the run ended first.
    async fn until(&mut self, prefix: &str, seen: &mut Vec<String>) -> Option<Value> {
        loop {
            let value = tokio::time::timeout(Duration::from_secs(120), self.progress())
                .await
                .unwrap_or_else(|_| panic!("no progress `{prefix}…` came; seen: {seen:?}"));
            let message = value["message"].as_str().unwrap_or_default().to_owned();
            seen.push(format!(
                "{}: {message}",
                value["kind"].as_str().unwrap_or("?")
            ));
            if message.starts_with(prefix) {
                return Some(value);
            }
            if value["kind"] == "end" {
                return None;
            }
        }
    }
}

/// Finishes `count` tasks as an outside agent would, so the board holds earlier work.
async fn finish_earlier_tasks(client: &Client, count: usize) {
    for n in 0..count {
        baton_tests::add_task(client, m::NewTask::new(format!("earlier {n}")), &[]).await;
        let claimed = client
            .request::<m::ClaimTask>(&m::ClaimTaskParams {
                agent_id: "outside".into(),
            })
            .await
            .unwrap()
            .expect("a task to claim");
        client
            .request::<m::CompleteTask>(&m::CompleteTaskParams {
                task_id: claimed.id,
                result: TaskResult::default(),
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_run_s_progress_counts_its_own_tasks_and_those_added_while_it_goes() {
    let agents = AgentWorkspace::new();
    // A run that ends too early says why: its tasks, with their errors.
    let ended_early = |prefix: &str, seen: &[String]| -> ! {
        let tasks = agents.workspace.json(&["tasks"]);
        panic!("the run ended before `{prefix}…`: {seen:?}\ntasks: {tasks:#}")
    };
    let client = agents.start(1, 120).await;
    finish_earlier_tasks(&client, 17).await;
    let go = agents.root().join("go");
    let steps = [
        baton_tool(
            "add_task",
            json!({ "description": format!("a subtask\n{}", script(&[say("sub done")])) }),
        ),
        bash(&format!(
            "while [ ! -e {} ]; do sleep 0.1; done",
            go.display()
        )),
        say("main done"),
    ];
    add_scripted(&client, "the one task", &steps, &[]).await;
    let mut watch = ProgressWatch::connect(&agents.workspace.workspace().socket_path()).await;

    // The task cannot finish before `go` exists: the run is at its start (its worker
    // may have added the subtask already).
    let detached = agents.baton(&["run", "--predefined", "--detach"]);
    assert!(detached.status.success(), "{detached:?}");
    let printed = String::from_utf8_lossy(&detached.stdout);
    assert!(
        printed.contains("0/1 done") || printed.contains("0/2 done"),
        "baton run --detach counts the run's tasks: {printed}"
    );

    // The worker adds a subtask: it is the run's too. (Progress is read when the
    // daemon sends it, so a busy machine may show the subtask from the beginning.)
    let mut seen = Vec::new();
    let added = watch
        .until("0/2 done", &mut seen)
        .await
        .unwrap_or_else(|| ended_early("0/2 done", &seen));
    assert_eq!(added["percentage"], 0, "{seen:?}");
    assert!(seen[0].starts_with("begin: 0/"), "{seen:?}");
    assert!(
        seen.iter()
            .all(|line| line.contains(": 0/1 done") || line.contains(": 0/2 done")),
        "{seen:?}"
    );
    let status = agents.workspace.json(&["status"]);
    assert_eq!(status["progress"]["total_tasks"], 2, "{status}");
    assert_eq!(status["progress"]["by_status"]["done"], 0, "{status}");
    let shown = agents.workspace.ok(&["status"]);
    assert!(shown.contains("0/2 done"), "{shown}");

    std::fs::write(&go, "").unwrap();
    let finished = watch
        .until("2/2 done", &mut seen)
        .await
        .unwrap_or_else(|| ended_early("2/2 done", &seen));
    assert_eq!(finished["percentage"], 100, "{seen:?}");
    let end = watch
        .until("2 done, 0 failed", &mut seen)
        .await
        .unwrap_or_else(|| ended_early("2 done, 0 failed", &seen));
    assert_eq!(end["kind"], "end", "{seen:?}");
    assert!(
        seen.iter()
            .all(|line| !line.contains("/18") && !line.contains("/19")),
        "no message counts the earlier tasks: {seen:?}"
    );
    // Between runs, status counts the whole board again.
    let status = agents.workspace.json(&["status"]);
    assert_eq!(status["progress"]["total_tasks"], 19, "{status}");
}
