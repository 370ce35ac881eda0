//! Plan first, then run: `baton plan` runs the leader alone, the user edits the plan,
//! `baton run --predefined` runs it. The real CLI and Claude Code, the scripted model.

use baton_protocol::methods::{self as m};
use baton_protocol::TaskStatus;
use baton_tests::agent_workspace::{
    bash, baton_tool, say, workers_see_only_their_task, AgentWorkspace,
};
use baton_tests::model_server::script;
use serde_json::json;

#[tokio::test]
async fn baton_plan_creates_tasks_and_starts_no_worker_and_the_edited_plan_runs() {
    let agents = AgentWorkspace::new();
    let client = agents.start(2, 120).await;
    workers_see_only_their_task(&client).await;
    let make = script(&[bash("echo made > made.txt"), say("made it")]);
    let unwanted = script(&[bash("echo unwanted > unwanted.txt"), say("unwanted")]);
    let plan = [
        baton_tool(
            "add_task",
            json!({ "description": format!("make the file\n{make}") }),
        ),
        baton_tool(
            "add_task",
            json!({ "description": format!("an unwanted step\n{unwanted}") }),
        ),
        say("two tasks"),
    ];
    let goal = format!("make a file\n{}", script(&plan));

    let planned = agents.baton(&["plan", &goal]);

    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let said = String::from_utf8_lossy(&planned.stdout);
    assert!(
        said.contains("Planned 2 tasks; no worker started"),
        "{said}"
    );
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    assert_eq!(tasks.len(), 2);
    for task in &tasks {
        assert_eq!(task.status, TaskStatus::Available, "{task:?}");
        assert_eq!(task.attempts, 0, "no worker took {}", task.id);
    }
    assert!(!agents.root().join("made.txt").exists());
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert!(status.run.is_none() && !status.running, "{status:?}");

    agents.workspace.ok(&["cancel", "task-002"]);
    agents
        .workspace
        .ok(&["edit", "task-001", "--model", "claude-haiku-4-5"]);
    let extra = script(&[bash("echo extra > extra.txt"), say("extra")]);
    agents
        .workspace
        .ok(&["add", &format!("an added step\n{extra}")]);
    let ran = agents.baton(&["run", "--predefined"]);

    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(said.contains("stages: work 2 ($"), "{said}");
    assert!(agents.root().join("made.txt").exists());
    assert!(agents.root().join("extra.txt").exists());
    assert!(!agents.root().join("unwanted.txt").exists());
    let log = agents.workspace.ok(&["logs", "task-001"]);
    assert!(
        log.contains("(claude-haiku-4-5)"),
        "the edited model ran: {log}"
    );
}
