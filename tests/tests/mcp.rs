//! `baton mcp`, the agents' bridge to the daemon, as Claude Code meets it: the real
//! `baton` binary as a child process, spoken to by an MCP client over its stdin and
//! stdout, with the real daemon behind it. Each test has a workspace and daemon of
//! its own.

use std::process::Stdio;

use baton_protocol::methods::{self as m, NewTask};
use baton_protocol::{Client, TaskId, TaskStatus};
use baton_tests::{bin_dir, TestWorkspace};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::TokioChildProcess;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

type Bridge = RunningService<RoleClient, ()>;

/// `baton -C <workspace> mcp --agent AGENT [--task TASK]`, as the daemon runs it.
fn bridge_command(
    workspace: &TestWorkspace,
    agent: &str,
    task: Option<&TaskId>,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(bin_dir().join("baton"));
    command
        .arg("-C")
        .arg(workspace.root())
        .args(["mcp", "--agent", agent]);
    if let Some(task) = task {
        command.args(["--task", task.as_str()]);
    }
    command
}

/// Starts the bridge and completes the MCP handshake with it.
async fn bridge(workspace: &TestWorkspace, agent: &str, task: Option<&TaskId>) -> Bridge {
    let transport =
        TokioChildProcess::new(bridge_command(workspace, agent, task)).expect("baton mcp starts");
    ().serve(transport)
        .await
        .expect("baton mcp answers the MCP handshake")
}

async fn call(bridge: &Bridge, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("tool arguments are an object");
    };
    bridge
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|err| panic!("{tool} gets an answer: {err}"))
}

fn text(result: &CallToolResult) -> &str {
    match result.content.as_slice() {
        [content] => &content.as_text().expect("a text answer").text,
        other => panic!("one piece of content, not {other:?}"),
    }
}

/// Calls a tool that must succeed and reads the JSON it answered.
async fn call_ok(bridge: &Bridge, tool: &str, arguments: Value) -> Value {
    let result = call(bridge, tool, arguments).await;
    assert_ne!(result.is_error, Some(true), "{tool}: {}", text(&result));
    serde_json::from_str(text(&result))
        .unwrap_or_else(|err| panic!("{tool} answered {:?}: {err}", text(&result)))
}

/// Calls a tool that must be refused and answers the message.
async fn call_refused(bridge: &Bridge, tool: &str, arguments: Value) -> String {
    let result = call(bridge, tool, arguments).await;
    assert_eq!(result.is_error, Some(true), "{tool}: {}", text(&result));
    text(&result).to_owned()
}

/// A task added through the protocol and held by `agent`, as the daemon's own agents
/// hold theirs.
async fn claimed_task(client: &Client, agent: &str) -> TaskId {
    let task = client
        .request::<m::AddTask>(&NewTask::new("build the importer"))
        .await
        .unwrap();
    let claimed = client
        .request::<m::ClaimTask>(&m::ClaimTaskParams {
            agent_id: agent.into(),
        })
        .await
        .unwrap()
        .expect("the task is ready");
    assert_eq!(claimed.id, task.id);
    task.id
}

async fn task(client: &Client, id: &TaskId) -> baton_protocol::Task {
    client
        .request::<m::GetTask>(&m::TaskRef {
            task_id: id.clone(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn the_bridge_offers_exactly_its_eight_tools_each_with_a_schema() {
    let workspace = TestWorkspace::new();
    let _daemon = workspace.client(false).await;
    let bridge = bridge(&workspace, "leader", None).await;

    let info = bridge.peer_info().expect("the server introduced itself");
    let server = info.server_info.as_ref().expect("server info");
    assert_eq!(server.name, "baton");
    assert_eq!(server.version, baton_protocol::VERSION);
    assert!(info
        .instructions
        .as_deref()
        .is_some_and(|text| !text.is_empty()));

    let tools = bridge.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "add_task",
            "fail_task",
            "get_task",
            "list_discoveries",
            "list_tasks",
            "report_discovery",
            "review_task",
            "set_master_plan",
        ]
    );
    for tool in &tools {
        assert!(tool.description.is_some(), "{} is described", tool.name);
        assert_eq!(tool.input_schema["type"], "object", "{}", tool.name);
    }
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn tasks_a_worker_adds_are_subtasks_of_its_task_and_may_depend_on_each_other() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let parent = claimed_task(&client, "worker-1").await;
    let bridge = bridge(&workspace, "worker-1", Some(&parent)).await;

    let first = call_ok(
        &bridge,
        "add_task",
        json!({ "description": "parse the CSV header", "priority": 2, "hints": "use the csv crate" }),
    )
    .await;
    let first = TaskId::from(first["id"].as_str().expect("an id"));
    let second = call_ok(
        &bridge,
        "add_task",
        json!({
            "description": "map the rows to records",
            "dependencies": [first.as_str()],
            "context_files": ["src/import.rs"],
        }),
    )
    .await;
    assert_eq!(second.as_object().map(|answer| answer.len()), Some(1));
    let second = TaskId::from(second["id"].as_str().expect("an id"));

    let added = task(&client, &first).await;
    assert_eq!(added.description, "parse the CSV header");
    assert_eq!(added.priority, 2);
    assert_eq!(added.context.hints, "use the csv crate");
    assert_eq!(added.context.parent_task.as_ref(), Some(&parent));
    let dependent = task(&client, &second).await;
    assert_eq!(dependent.dependencies, std::slice::from_ref(&first));
    assert_eq!(dependent.priority, 5);
    assert_eq!(dependent.context.files, ["src/import.rs"]);
    assert_eq!(dependent.context.parent_task.as_ref(), Some(&parent));
    let parent = task(&client, &parent).await;
    assert_eq!(
        parent
            .result
            .expect("the parent has a result")
            .subtasks_created,
        [first.clone(), second.clone()]
    );

    // The same tasks, as the model reads them back.
    let listed = call_ok(&bridge, "list_tasks", json!({ "status": "available" })).await;
    let ids: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|task| task["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str(), second.as_str()]);
    assert_eq!(listed[1]["dependencies"], json!([first.as_str()]));
    let shown = call_ok(&bridge, "get_task", json!({ "id": second.as_str() })).await;
    assert_eq!(shown["context"]["parent_task"], parent.id.as_str());
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn a_reported_discovery_names_the_agent_and_its_task() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let own = claimed_task(&client, "worker-1").await;
    let bridge = bridge(&workspace, "worker-1", Some(&own)).await;

    let reported = call_ok(
        &bridge,
        "report_discovery",
        json!({ "content": "the CSV files are Latin-1", "tags": ["encoding"] }),
    )
    .await;
    assert_eq!(reported["agent_id"], "worker-1");
    assert_eq!(reported["related_task"], own.as_str());

    let listed = call_ok(&bridge, "list_discoveries", json!({})).await;
    let [discovery] = listed.as_array().expect("a list").as_slice() else {
        panic!("one discovery: {listed}");
    };
    assert_eq!(discovery["content"], "the CSV files are Latin-1");
    assert_eq!(discovery["agent_id"], "worker-1");
    assert_eq!(discovery["related_task"], own.as_str());
    assert_eq!(discovery["tags"], json!(["encoding"]));
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn fail_task_gives_up_the_bridges_own_task_with_the_reason() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let own = claimed_task(&client, "worker-1").await;
    let bridge = bridge(&workspace, "worker-1", Some(&own)).await;

    let answer = call_ok(
        &bridge,
        "fail_task",
        json!({ "error": "the sample files are missing from the repository" }),
    )
    .await;
    assert_eq!(answer, json!({ "id": own.as_str(), "status": "failed" }));

    let failed = task(&client, &own).await;
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(
        failed.result.and_then(|result| result.error).as_deref(),
        Some("the sample files are missing from the repository")
    );
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn a_worker_cannot_approve_its_own_task_and_the_task_is_unchanged() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let own = claimed_task(&client, "worker-1").await;
    let bridge = bridge(&workspace, "worker-1", Some(&own)).await;
    let before = task(&client, &own).await;

    let refused = call_refused(&bridge, "review_task", json!({ "verdict": "approve" })).await;
    assert!(refused.contains("is not being reviewed"), "{refused}");
    let refused = call_refused(&bridge, "review_task", json!({ "verdict": "fine" })).await;
    assert!(refused.contains("`fine` is no verdict"), "{refused}");

    assert_eq!(task(&client, &own).await, before);
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn an_agent_without_a_task_adds_top_level_tasks_and_has_nothing_to_fail() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let bridge = bridge(&workspace, "leader", None).await;

    let added = call_ok(
        &bridge,
        "add_task",
        json!({ "description": "write the README" }),
    )
    .await;
    let added = TaskId::from(added["id"].as_str().expect("an id"));
    assert_eq!(task(&client, &added).await.context.parent_task, None);

    let refused = call_refused(&bridge, "fail_task", json!({ "error": "too hard" })).await;
    assert!(refused.contains("leader has no task"), "{refused}");
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn a_refused_call_answers_the_daemons_message_as_a_tool_error_and_the_bridge_goes_on() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let bridge = bridge(&workspace, "leader", None).await;

    let mut bad_priority = NewTask::new("tidy up");
    bad_priority.priority = 0;
    let daemon_says = client
        .request::<m::AddTask>(&bad_priority)
        .await
        .expect_err("priority 0 is refused")
        .to_string();
    let refused = call_refused(
        &bridge,
        "add_task",
        json!({ "description": "tidy up", "priority": 0 }),
    )
    .await;
    assert_eq!(refused, daemon_says);
    assert!(refused.contains("priority 0"), "{refused}");

    let unknown = TaskId::from("task-404");
    let daemon_says = client
        .request::<m::GetTask>(&m::TaskRef {
            task_id: unknown.clone(),
        })
        .await
        .expect_err("no such task")
        .to_string();
    let refused = call_refused(&bridge, "get_task", json!({ "id": "task-404" })).await;
    // The daemon names the command a person types; the agent is told its tool.
    assert_eq!(
        refused,
        daemon_says.replace("`baton tasks`", "`list_tasks`")
    );
    assert!(refused.contains("`list_tasks` lists the ids"), "{refused}");

    let refused = call_refused(&bridge, "list_tasks", json!({ "status": "busy" })).await;
    assert!(refused.contains("unknown status `busy`"), "{refused}");

    // Nothing was added, and the bridge still serves.
    assert_eq!(call_ok(&bridge, "list_tasks", json!({})).await, json!([]));
    call_ok(&bridge, "add_task", json!({ "description": "tidy up" })).await;
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn the_leaders_master_plan_shows_in_the_status() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let bridge = bridge(&workspace, "leader", None).await;

    let plan = "1. read the CSV\n2. write the records";
    assert_eq!(
        call_ok(&bridge, "set_master_plan", json!({ "plan": plan })).await,
        json!({ "ok": true })
    );
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert_eq!(status.master_plan, plan);
    bridge.cancel().await.unwrap();
}

#[tokio::test]
async fn a_plan_made_already_is_kept_and_a_worker_never_records_one() {
    // Found when it was tried: one worker's `set_master_plan` replaced the plan the
    // user gave with the goal, which every later prompt reads.
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    workspace.ok(&["init", "read the CSV", "--plan", "the user's plan"]);
    let task = claimed_task(&client, "worker-1").await;
    let worker = bridge(&workspace, "worker-1", Some(&task)).await;
    let refused = call_refused(&worker, "set_master_plan", json!({ "plan": "mine" })).await;
    assert!(refused.contains("only the leader"), "{refused}");
    worker.cancel().await.unwrap();

    let leader = bridge(&workspace, "leader", None).await;
    let refused = call_refused(&leader, "set_master_plan", json!({ "plan": "mine" })).await;
    assert!(refused.contains("has a master plan"), "{refused}");
    leader.cancel().await.unwrap();
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert_eq!(status.master_plan, "the user's plan");
}

#[tokio::test]
async fn the_bridge_writes_only_mcp_to_stdout_and_ends_when_stdin_closes() {
    let workspace = TestWorkspace::new();
    let _daemon = workspace.client(false).await;
    let mut child = bridge_command(&workspace, "worker-1", None)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("baton mcp starts");
    let mut stdin = child.stdin.take().unwrap();
    let initialize = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": { "name": "test", "version": "0" },
        },
    });
    stdin
        .write_all(format!("{initialize}\n").as_bytes())
        .await
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = stdout.next_line().await.unwrap().expect("an answer");
    let answer: Value = serde_json::from_str(&line).expect("the answer is JSON-RPC");
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["result"]["serverInfo"]["name"], "baton");
    assert_eq!(answer["result"]["protocolVersion"], "2025-06-18");

    drop(stdin);
    let rest = stdout.next_line().await.unwrap();
    assert_eq!(rest, None, "nothing more on stdout");
    let status = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait())
        .await
        .expect("baton mcp ends when its stdin closes")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn without_a_daemon_the_bridge_fails_at_once_and_starts_none() {
    let workspace = TestWorkspace::new();
    let output = bridge_command(&workspace, "worker-1", None)
        .stdin(Stdio::null())
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("baton mcp runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "stdout is MCP's alone");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: no baton daemon runs for "),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(workspace.daemon_pid(), None);
}

#[tokio::test]
async fn a_daemon_that_goes_away_makes_tool_errors_not_a_dead_bridge() {
    let workspace = TestWorkspace::new();
    let _daemon = workspace.client(false).await;
    let bridge = bridge(&workspace, "worker-1", None).await;
    call_ok(&bridge, "list_tasks", json!({})).await;

    workspace.kill_daemon();
    let refused = call_refused(&bridge, "list_tasks", json!({})).await;
    assert!(
        refused.contains("connection to the baton daemon closed"),
        "{refused}"
    );
    let refused = call_refused(&bridge, "list_discoveries", json!({})).await;
    assert!(
        refused.contains("connection to the baton daemon closed"),
        "{refused}"
    );
    bridge.cancel().await.unwrap();
}

/// One answer of a list tool, which must fit in what a model reads: its items and,
/// when it was cut, what it said of the rest and the number it named after `next`.
async fn list_part(
    bridge: &Bridge,
    tool: &str,
    arguments: Value,
    items: &str,
    next: &str,
) -> (Vec<Value>, Option<(String, usize)>) {
    let result = call(bridge, tool, arguments).await;
    assert!(
        text(&result).len() < 70_000,
        "{tool}: {} bytes",
        text(&result).len()
    );
    let listed: Value = serde_json::from_str(text(&result)).unwrap();
    let Some(part) = listed.get(items) else {
        return (listed.as_array().unwrap().clone(), None);
    };
    let said = listed["left_out"].as_str().unwrap().to_owned();
    let number = said
        .split(next)
        .nth(1)
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    (part.as_array().unwrap().clone(), Some((said, number)))
}

/// A long run's lists outgrow what a model reads of one tool result: each answer is
/// cut to about 64 KiB and says how to ask for the rest, and asking gives it all.
#[tokio::test]
async fn long_lists_come_in_parts_that_each_fit_and_together_hold_everything() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let bridge = bridge(&workspace, "worker-1", None).await;
    for n in 0..300 {
        client
            .request::<m::AddDiscovery>(&m::NewDiscovery {
                agent_id: "worker-2".into(),
                content: format!("finding {n}: {}", "f".repeat(1_000)),
                related_task: None,
                tags: vec![],
            })
            .await
            .unwrap();
    }
    let batch: Vec<NewTask> = (0..400)
        .map(|n| NewTask::new(format!("step {n}: {}", "s".repeat(2_000))))
        .collect();
    client
        .request::<m::AddTasks>(&m::AddTasksParams { tasks: batch })
        .await
        .unwrap();

    let mut found = Vec::new();
    let mut arguments = json!({});
    loop {
        let (part, rest) = list_part(
            &bridge,
            "list_discoveries",
            arguments,
            "discoveries",
            "before: ",
        )
        .await;
        found.splice(0..0, part);
        let Some((said, before)) = rest else { break };
        assert!(
            said.starts_with(&format!("{before} earlier discoveries")),
            "{said}"
        );
        arguments = json!({ "before": before });
    }
    let contents: Vec<String> = found
        .iter()
        .map(|d| d["content"].as_str().unwrap()[..12].to_owned())
        .collect();
    let expected: Vec<String> = (0..300)
        .map(|n| format!("finding {n}: ffff")[..12].to_owned())
        .collect();
    assert_eq!(contents, expected);

    let mut tasks = Vec::new();
    let mut arguments = json!({ "status": "available" });
    loop {
        let (part, rest) = list_part(&bridge, "list_tasks", arguments, "tasks", "offset: ").await;
        tasks.extend(part);
        let Some((said, offset)) = rest else { break };
        assert_eq!(offset, tasks.len(), "{said}");
        arguments = json!({ "status": "available", "offset": offset });
    }
    assert_eq!(tasks.len(), 400);
    assert_eq!(tasks[399]["id"], TaskId::numbered(400).as_str());
    let description = tasks[0]["description"].as_str().unwrap();
    assert!(
        description.ends_with("… (cut; get_task gives the whole)"),
        "{description}"
    );
    bridge.cancel().await.unwrap();
}
