//! A new goal starts from an empty board: the old one is archived (`baton history`),
//! loadable again with its agents' logs, and `baton reset` clears a board on purpose.
//! Real daemon, real CLI, and the real Claude Code against the scripted model.

use std::process::Output;

use baton_protocol::RunMode;
use baton_tests::agent_workspace::{
    add_scripted, bash, baton_tool, git_output, run, say, workers_see_only_their_task,
    AgentWorkspace,
};
use baton_tests::model_server::script;
use serde_json::{json, Value};

fn ok(agents: &AgentWorkspace, args: &[&str]) -> String {
    let output = agents.baton(args);
    assert!(output.status.success(), "baton {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(agents: &AgentWorkspace, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    serde_json::from_str(&ok(agents, &args)).expect("JSON")
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn a_new_goal_archives_the_finished_board_and_loading_it_back_brings_its_logs() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    ok(&agents, &["init", "first goal"]);
    add_scripted(
        &client,
        "first",
        &[
            bash("echo first > first.txt"),
            say("the first board's answer"),
        ],
        &[],
    )
    .await;
    run(&client, RunMode::Predefined).await;
    assert!(ok(&agents, &["logs", "task-001"]).contains("the first board's answer"));

    let output = agents.baton(&["init", "second goal"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the earlier board (1 task) was archived"),
        "it says so: {}",
        text(&output)
    );
    let status = json(&agents, &["status"]);
    assert_eq!(status["goal"], "second goal");
    assert_eq!(status["progress"]["total_tasks"], 0, "{status}");
    ok(&agents, &["add", "second board's task"]);
    let log = ok(&agents, &["logs", "task-001"]);
    assert!(
        !log.contains("the first board's answer"),
        "task-001 of the new board shows no older transcript: {log}"
    );

    let listed = ok(&agents, &["history"]);
    assert!(
        listed.contains("1 task (1 done, 0 failed, 0 cancelled), 0 discoveries  first goal"),
        "{listed}"
    );
    let history = json(&agents, &["history"]);
    let boards = history.as_array().unwrap();
    assert_eq!(boards.len(), 1, "{history}");
    assert_eq!(boards[0]["goal"], "first goal");
    assert_eq!(
        (boards[0]["tasks"].clone(), boards[0]["done"].clone()),
        (1.into(), 1.into())
    );
    let path = boards[0]["path"].as_str().unwrap().to_owned();

    ok(&agents, &["load", &path]);
    let status = json(&agents, &["status"]);
    assert_eq!(status["goal"], "first goal");
    assert_eq!(status["progress"]["by_status"]["done"], 1, "{status}");
    assert!(ok(&agents, &["logs", "task-001"]).contains("the first board's answer"));
    let history = json(&agents, &["history"]);
    let goals: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|board| board["goal"].as_str().unwrap())
        .collect();
    assert_eq!(
        goals,
        ["second goal"],
        "the board that was replaced is kept"
    );
}

#[tokio::test]
async fn keep_keeps_the_board_and_reset_clears_it_only_when_confirmed() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    ok(&agents, &["init", "first goal"]);
    add_scripted(&client, "done", &[say("done")], &[]).await;
    run(&client, RunMode::Predefined).await;

    ok(&agents, &["init", "second goal", "--keep"]);
    let status = json(&agents, &["status"]);
    assert_eq!(
        (
            status["goal"].as_str(),
            status["progress"]["total_tasks"].as_u64()
        ),
        (Some("second goal"), Some(1))
    );
    assert_eq!(json(&agents, &["history"]), Value::Array(Vec::new()));

    // No terminal to confirm at: refused, nothing changes.
    let refused = agents.baton(&["reset"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--yes"),
        "{}",
        text(&refused)
    );
    assert_eq!(json(&agents, &["status"])["progress"]["total_tasks"], 1);

    let reset = json(&agents, &["reset", "--yes"]);
    assert_eq!(reset["archived"]["goal"], "second goal", "{reset}");
    let status = json(&agents, &["status"]);
    assert_eq!(
        (
            status["goal"].as_str(),
            status["progress"]["total_tasks"].as_u64()
        ),
        (Some(""), Some(0))
    );
    assert_eq!(
        json(&agents, &["config"])["max_workers"],
        1,
        "the settings stay"
    );
    assert_eq!(json(&agents, &["history"]).as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_run_with_a_new_goal_says_that_it_archived_the_finished_board() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    workers_see_only_their_task(&client).await;
    ok(&agents, &["init", "first goal"]);
    ok(&agents, &["add", "done by hand"]);
    ok(&agents, &["claim", "--agent", "me"]);
    ok(&agents, &["complete", "task-001", "--output", "done"]);
    ok(&agents, &["add", "never run"]);
    let plan = script(&[
        baton_tool("add_task", json!({ "description": "the new goal's task" })),
        say("planned"),
    ]);

    let ran = agents.baton(&["run", &format!("second goal\n{plan}")]);

    let said = String::from_utf8_lossy(&ran.stderr);
    assert!(
        said.contains("the earlier board (2 tasks, 1 of them not finished) was archived as "),
        "it says so: {}",
        text(&ran)
    );
    let history = json(&agents, &["history"]);
    assert_eq!(history[0]["goal"], "first goal", "{history}");
}

#[tokio::test]
async fn a_run_of_the_same_goal_says_the_tasks_waiting_on_the_board_run_too() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    workers_see_only_their_task(&client).await;
    let plan = script(&[say("nothing more to plan")]);
    let goal = format!("the goal\n{plan}");
    ok(&agents, &["init", &goal]);
    add_scripted(&client, "left from before", &[say("done")], &[]).await;

    let ran = agents.baton(&["run", &goal]);

    let said = String::from_utf8_lossy(&ran.stderr);
    assert!(
        said.contains("1 task already waiting on the board runs too"),
        "it says so: {}",
        text(&ran)
    );
    assert_eq!(
        json(&agents, &["status"])["progress"]["by_status"]["done"],
        1
    );
}

#[test]
fn a_board_put_aside_when_its_daemon_was_killed_has_its_branches_moved_aside_at_the_next_start() {
    // Found when it was tried: killed after a reset replaced the board, before the
    // tasks' branches moved, the daemon left `baton/task-001` in place, and the next
    // board's task-001 started from the old board's work.
    let agents = AgentWorkspace::git();
    let root = agents.root();
    git_output(root, &["branch", "baton/task-001"]);
    // What such a daemon leaves: an archive still marked, and an empty board.
    let name = "20261205-120000.000000-old-board";
    let archive = root.join(".baton/history").join(name);
    std::fs::create_dir_all(archive.join("logs")).unwrap();
    let state = json!({"goal": "old board", "tasks": [{
        "id": "task-001", "description": "old work", "status": "done", "priority": 5,
        "created_at": "2026-12-05T11:00:00Z", "completed_at": "2026-12-05T11:30:00Z",
    }]});
    std::fs::write(archive.join("state.json"), state.to_string()).unwrap();
    std::fs::write(archive.join(".pending"), "").unwrap();

    let history = json(&agents, &["history"]);
    assert_eq!(history[0]["name"], name, "{history}");
    assert!(!archive.join(".pending").exists());
    let branches = git_output(root, &["branch", "--format=%(refname:short)"]);
    assert!(
        branches.contains(&format!("baton/history/{name}/task-001")),
        "{branches}"
    );
    assert!(
        !branches.lines().any(|branch| branch == "baton/task-001"),
        "{branches}"
    );
}
