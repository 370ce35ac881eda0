//! Isolation with the real Claude Code binary: each task in its own git worktree and
//! branch, merged back into the integration branch in order.

use std::time::Duration;

use baton_protocol::methods::{self as m};
use baton_protocol::{ClientError, ErrorKind, Isolation, RunMode, TaskId, TaskStatus};
use baton_tests::agent_workspace::{
    add_scripted, bash, git_output, init_repository, run, say, start_run, task, AgentWorkspace,
};
use serde_json::json;

/// A file as the integration branch has it.
fn integrated(agents: &AgentWorkspace, path: &str) -> String {
    git_output(
        agents.root(),
        &["show", &format!("baton/integration:{path}")],
    )
}

#[tokio::test]
async fn parallel_tasks_on_different_files_both_land_and_the_checkout_is_untouched() {
    let agents = AgentWorkspace::git();
    std::fs::write(agents.root().join("notes.txt"), "my uncommitted notes\n").unwrap();
    let client = agents.start(2, 120).await;
    let alpha = add_scripted(
        &client,
        "alpha",
        &[bash("echo alpha > alpha.txt"), say("alpha")],
        &[],
    )
    .await;
    let beta = add_scripted(
        &client,
        "beta",
        &[
            bash("echo beta > beta.txt && echo more >> README.md"),
            say("beta"),
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
    assert_eq!(integrated(&agents, "alpha.txt"), "alpha");
    assert_eq!(integrated(&agents, "beta.txt"), "beta");
    assert_eq!(integrated(&agents, "README.md"), "a project\nmore");
    let beta = task(&client, &beta).await.result.unwrap();
    assert_eq!(beta.files_created, vec!["beta.txt"]);
    assert_eq!(beta.files_modified, vec!["README.md"]);
    assert_eq!(
        task(&client, &alpha).await.result.unwrap().files_created,
        vec!["alpha.txt"]
    );
    // The user's checkout: same branch, same files, uncommitted work still there.
    assert_eq!(
        git_output(agents.root(), &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );
    assert!(!agents.root().join("alpha.txt").exists());
    assert_eq!(
        std::fs::read_to_string(agents.root().join("README.md")).unwrap(),
        "a project\n"
    );
    assert_eq!(
        std::fs::read_to_string(agents.root().join("notes.txt")).unwrap(),
        "my uncommitted notes\n"
    );
    // Finished tasks' worktrees are gone; merged, so are their branches (the run
    // removes them as it ends: keep_branches is off by default).
    let listed = git_output(agents.root(), &["worktree", "list", "--porcelain"]);
    assert!(
        !listed.contains("branch refs/heads/baton/task-"),
        "{listed}"
    );
    assert!(!agents
        .workspace
        .workspace()
        .worktrees_dir()
        .join(alpha.as_str())
        .exists());
    assert_eq!(task_branches(&agents), "");
}

/// The task branches, one a line.
fn task_branches(agents: &AgentWorkspace) -> String {
    git_output(
        agents.root(),
        &[
            "branch",
            "--list",
            "baton/task-*",
            "--format=%(refname:short)",
        ],
    )
}

/// How many idle checkouts `.baton/worktrees` keeps.
fn idle_checkouts(agents: &AgentWorkspace) -> usize {
    std::fs::read_dir(agents.workspace.workspace().worktrees_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| entry.file_name().to_string_lossy().starts_with("idle-"))
                .count()
        })
        .unwrap_or(0)
}

/// Adds a task that lands and, after it, one that gives up with its work half done.
async fn add_good_and_bad(client: &baton_protocol::Client) -> (TaskId, TaskId) {
    let good = add_scripted(
        client,
        "good",
        &[bash("echo good > good.txt"), say("good")],
        &[],
    )
    .await;
    let bad = add_scripted(
        client,
        "bad",
        &[
            bash("echo partial > partial.txt"),
            baton_tests::agent_workspace::baton_tool(
                "fail_task",
                json!({ "error": "cannot finish" }),
            ),
            say("gave up"),
        ],
        &[&good],
    )
    .await;
    (good, bad)
}

#[tokio::test]
async fn a_run_removes_its_merged_tasks_branches_and_idle_checkouts_keeping_failed_work() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let (good, bad) = add_good_and_bad(&client).await;
    // A task that fails having changed nothing: its branch holds nothing to keep.
    let empty = add_scripted(
        &client,
        "empty",
        &[
            baton_tests::agent_workspace::baton_tool(
                "fail_task",
                json!({ "error": "nothing to do here" }),
            ),
            say("gave up"),
        ],
        &[],
    )
    .await;
    // A branch of the user's that looks like nothing of this run's.
    git_output(agents.root(), &["branch", "baton/task-900"]);

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (1, 2),
        "{result:?}"
    );
    assert_eq!(
        task_branches(&agents),
        format!("baton/{bad}\nbaton/task-900"),
        "the merged task's branch and the empty one of a failed task are gone; the failed \
         task's work and a branch that is no task of this run's stay"
    );
    let log = agents.workspace.ok(&["logs", empty.as_str()]);
    assert_eq!(
        log.trim_end().lines().last().unwrap_or_default(),
        "failed: nothing to do here",
        "a branch holding nothing is not said to keep work:\n{log}"
    );
    assert_eq!(integrated(&agents, "good.txt"), "good");
    assert_eq!(
        git_output(
            agents.root(),
            &["show", &format!("baton/{bad}:partial.txt")]
        ),
        "partial"
    );
    assert_eq!(idle_checkouts(&agents), 0, "no idle checkout is left");
    let listed = git_output(agents.root(), &["worktree", "list", "--porcelain"]);
    assert_eq!(
        listed.matches("worktree ").count(),
        1,
        "only the user's checkout: {listed}"
    );
    assert_eq!(
        git_output(agents.root(), &["rev-parse", "--abbrev-ref", "HEAD"]),
        "main"
    );
    assert_eq!(task(&client, &good).await.status, TaskStatus::Done);
    let log = agents.workspace.ok(&["logs", bad.as_str()]);
    let last = log.trim_end().lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("failed: cannot finish; its work is kept on baton/{bad}"),
        "the log ends with how the attempt ended:\n{log}"
    );
}

#[tokio::test]
async fn with_keep_branches_a_run_keeps_every_branch_and_clean_removes_them_later() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let kept = agents.baton(&["config", "keep_branches", "on"]);
    assert!(kept.status.success(), "{kept:?}");
    let (good, bad) = add_good_and_bad(&client).await;
    run(&client, RunMode::Predefined).await;
    assert_eq!(task_branches(&agents), format!("baton/{good}\nbaton/{bad}"));
    assert!(
        idle_checkouts(&agents) > 0,
        "finished tasks leave idle checkouts"
    );

    let cleaned = agents.baton(&["clean"]);
    assert!(cleaned.status.success(), "{cleaned:?}");
    assert_eq!(
        task_branches(&agents),
        format!("baton/{bad}"),
        "the failed task's work stays"
    );
    assert_eq!(idle_checkouts(&agents), 0);
    assert_eq!(integrated(&agents, "good.txt"), "good");

    let all = agents.baton(&["clean", "--all"]);
    assert!(all.status.success(), "{all:?}");
    assert_eq!(task_branches(&agents), "");
    let again = agents.baton(&["clean"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to clean"));
}

#[tokio::test]
async fn of_two_tasks_changing_the_same_lines_one_lands_and_the_other_fails_keeping_its_work() {
    let agents = AgentWorkspace::git();
    let client = agents.start(2, 120).await;
    let first = add_scripted(
        &client,
        "first",
        &[bash("echo first > README.md"), say("first")],
        &[],
    )
    .await;
    let second = add_scripted(
        &client,
        "second",
        &[bash("echo second > README.md"), say("second")],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;

    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (1, 1),
        "{result:?}"
    );
    let (landed, lost) = match task(&client, &first).await.status {
        TaskStatus::Done => (first, second),
        _ => (second, first),
    };
    let failed = task(&client, &lost).await;
    let error = failed.result.unwrap().error.unwrap();
    assert!(error.contains("conflicts in README.md"), "{error}");
    assert!(
        error.contains(&format!("baton/{lost}")),
        "the error names the branch: {error}"
    );
    let winner = if landed.as_str() == "task-001" {
        "first"
    } else {
        "second"
    };
    assert_eq!(integrated(&agents, "README.md"), winner);
    let kept = git_output(agents.root(), &["show", &format!("baton/{lost}:README.md")]);
    assert_ne!(
        kept, winner,
        "the failed task's work is still on its branch"
    );
}

#[tokio::test]
async fn a_dependent_task_starts_from_its_dependency_s_work() {
    let agents = AgentWorkspace::git();
    let client = agents.start(2, 120).await;
    let base = add_scripted(
        &client,
        "base",
        &[bash("echo base > base.txt"), say("base")],
        &[],
    )
    .await;
    add_scripted(
        &client,
        "build on it",
        &[
            bash("cat base.txt > built.txt && echo on top >> built.txt"),
            say("built"),
        ],
        &[&base],
    )
    .await;
    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(
        (result.tasks_completed, result.tasks_failed),
        (2, 0),
        "{result:?}"
    );
    assert_eq!(integrated(&agents, "built.txt"), "base\non top");
}

#[tokio::test]
async fn work_an_agent_did_on_another_branch_or_a_detached_head_lands_whole() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    add_scripted(
        &client,
        "switches branch",
        &[
            bash(
                "echo a > a.txt && git add a.txt && git commit -qm own \
                 && git checkout -q -b rogue && echo b > b.txt",
            ),
            say("wrote a and b"),
        ],
        &[],
    )
    .await;
    add_scripted(
        &client,
        "detaches",
        &[
            bash("git checkout -q --detach && echo c > c.txt"),
            say("wrote c"),
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
    for (file, text) in [("a.txt", "a"), ("b.txt", "b"), ("c.txt", "c")] {
        assert_eq!(integrated(&agents, file), text, "{file} landed");
    }
}

#[tokio::test]
async fn merge_brings_the_integration_branch_into_the_users_branch() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    add_scripted(
        &client,
        "add a file",
        &[bash("echo new > new.txt"), say("added")],
        &[],
    )
    .await;
    run(&client, RunMode::Predefined).await;
    assert!(!agents.root().join("new.txt").exists());
    let merged = client.request::<m::Merge>(&()).await.unwrap();
    assert!(
        merged.message.contains("fast-forwarded main"),
        "{}",
        merged.message
    );
    assert_eq!(
        std::fs::read_to_string(agents.root().join("new.txt")).unwrap(),
        "new\n"
    );
}

#[tokio::test]
async fn worktree_isolation_outside_a_git_repository_is_refused_with_what_to_do() {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 120).await;
    client
        .request::<m::Configure>(&m::ConfigPatch {
            isolation: Some(Some(Isolation::Worktree)),
            ..Default::default()
        })
        .await
        .unwrap();
    add_scripted(&client, "anything", &[say("done")], &[]).await;
    let refused = client
        .request::<m::Run>(&m::RunParams {
            mode: RunMode::Predefined,
            goal: None,
            wait: true,
            overrides: None,
            env: None,
        })
        .await;
    let Err(ClientError::Baton(err)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(err.kind, ErrorKind::InvalidInputError);
    assert!(
        err.message.contains("not a git repository") && err.message.contains("isolation"),
        "{}",
        err.message
    );
    let status = client.request::<m::GetStatus>(&()).await.unwrap();
    assert!(
        status.run.is_none() && status.progress.by_status.available == 1,
        "nothing started"
    );
}

#[tokio::test]
async fn a_daemon_killed_during_a_run_leaves_a_consistent_repository_and_loses_nothing() {
    let agents = AgentWorkspace::git();
    let client = agents.start(3, 120).await;
    for i in 0..6 {
        let steps = [
            bash(&format!("echo {i} > file-{i}.txt")),
            json!({ "text": format!("wrote {i}"), "delay_ms": 100 * i }),
        ];
        add_scripted(&client, &format!("write file {i}"), &steps, &[]).await;
    }
    let mut watcher = agents.client(true).await;
    start_run(&client).await;
    // Kill the daemon as soon as the first task has been merged, while others work.
    loop {
        let events = watcher.events().unwrap();
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(event, baton_protocol::Event::TaskCompleted(_)) {
            break;
        }
    }
    agents.workspace.kill_daemon();

    let client = agents.start(3, 120).await;
    // The run that was going resumes by itself; wait for it to end.
    let mut watcher = agents.client(true).await;
    let mut status = client.request::<m::GetStatus>(&()).await.unwrap();
    while status.run.is_some() {
        let events = watcher.events().unwrap();
        let _ = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("the run goes on");
        status = client.request::<m::GetStatus>(&()).await.unwrap();
    }
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    let unfinished: Vec<_> = tasks
        .iter()
        .filter(|task| task.status != TaskStatus::Done)
        .map(|task| {
            (
                &task.id,
                task.status,
                task.result.as_ref().and_then(|r| r.error.clone()),
            )
        })
        .collect();
    assert!(
        unfinished.is_empty(),
        "every task got done after the restart: {unfinished:?}"
    );
    let history = git_output(
        agents.root(),
        &["log", "--all", "--graph", "--oneline", "--name-status"],
    );
    for i in 0..6 {
        let landed = std::process::Command::new("git")
            .args(["show", &format!("baton/integration:file-{i}.txt")])
            .current_dir(agents.root())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&landed.stdout).trim(),
            i.to_string(),
            "task {i}'s work landed: {tasks:#?}\n{history}"
        );
    }
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .unwrap();
    assert!(
        tasks.iter().any(|task| task.attempts == 2),
        "a task whose agent was lost went back to the queue, its attempt counted"
    );
    git_output(agents.root(), &["fsck", "--no-progress"]);
    assert_eq!(
        git_output(
            agents.root(),
            &["status", "--porcelain", "--untracked-files=no"]
        ),
        ""
    );
}

#[tokio::test]
async fn a_second_run_is_refused_and_leaves_the_running_tasks_alone() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let mut watcher = agents.client(true).await;
    let slow = add_scripted(
        &client,
        "slow",
        &[bash("sleep 2 && echo slow > slow.txt"), say("slow")],
        &[],
    )
    .await;
    start_run(&client).await;
    loop {
        let events = watcher.events().unwrap();
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(&event, baton_protocol::Event::TaskUpdated(task) if task.id == slow && task.status == TaskStatus::InProgress)
        {
            break;
        }
    }
    let refused = client
        .request::<m::Run>(&m::RunParams {
            mode: RunMode::Leader,
            goal: Some("another goal".into()),
            wait: true,
            overrides: None,
            env: None,
        })
        .await;
    let Err(ClientError::Baton(err)) = refused else {
        panic!("{refused:?}")
    };
    assert!(err.message.contains("already going"), "{}", err.message);
    assert!(
        agents
            .workspace
            .workspace()
            .worktrees_dir()
            .join(slow.as_str())
            .exists(),
        "the running task's worktree is intact"
    );
    assert_ne!(
        client.request::<m::GetStatus>(&()).await.unwrap().goal,
        "another goal",
        "a refused run changes nothing"
    );
    loop {
        let events = watcher.events().unwrap();
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        if let baton_protocol::Event::RunFinished(result) = event {
            assert_eq!(result.tasks_completed, 1, "{result:?}");
            break;
        }
    }
    assert_eq!(integrated(&agents, "slow.txt"), "slow");
}

/// A repository whose first run landed one task and left a failed one's work on its
/// branch; answers the workspace, its client and the failed task.
async fn after_a_failed_task() -> (AgentWorkspace, baton_protocol::Client, TaskId) {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let (_, bad) = add_good_and_bad(&client).await;
    run(&client, RunMode::Predefined).await;
    (agents, client, bad)
}

/// Runs a task that does nothing and, after it, one that lists in `seen.txt` the files
/// it starts from; answers the second's id.
async fn list_after_another(client: &baton_protocol::Client) -> TaskId {
    let first = add_scripted(client, "first", &[say("nothing to do")], &[]).await;
    let second = add_scripted(
        client,
        "second",
        &[bash("ls > seen.txt"), say("listed")],
        &[&first],
    )
    .await;
    let result = run(client, RunMode::Predefined).await;
    assert_eq!(result.tasks_completed, 2, "{result:?}");
    second
}

#[tokio::test]
async fn a_new_board_s_task_never_starts_from_the_work_an_archived_board_left_under_its_id() {
    let (agents, client, bad) = after_a_failed_task().await;
    assert_eq!(task_branches(&agents), format!("baton/{bad}"));

    // Ids start again at task-001 on a new board: the failed task's work moves aside
    // with its board.
    let reset = client.request::<m::Reset>(&()).await.unwrap();
    let archive = reset.archived.expect("the board is archived").name;
    let aside = format!("baton/history/{archive}/{bad}");
    assert_eq!(task_branches(&agents), "");
    assert_eq!(
        git_output(agents.root(), &["show", &format!("{aside}:partial.txt")]),
        "partial",
        "the failed work is kept beside its board"
    );

    let second = list_after_another(&client).await;
    assert_eq!(second, bad, "the new board reuses the id");
    let seen = integrated(&agents, "seen.txt");
    assert!(
        !seen.contains("partial.txt"),
        "the new {second} started from the archived board's work: {seen}"
    );
    let landed = git_output(
        agents.root(),
        &["ls-tree", "--name-only", "baton/integration"],
    );
    assert!(!landed.contains("partial.txt"), "{landed}");

    // Loading the archived board brings its branch back under its task's name (the
    // board replaced meanwhile moves aside in turn).
    let path = agents
        .workspace
        .workspace()
        .archive_state(&archive)
        .display()
        .to_string();
    client
        .request::<m::LoadState>(&m::StateFile { path })
        .await
        .unwrap();
    assert_eq!(
        git_output(
            agents.root(),
            &["show", &format!("baton/{bad}:partial.txt")]
        ),
        "partial"
    );
}

#[tokio::test]
async fn two_worktrees_of_one_repository_keep_their_tasks_and_integration_apart() {
    let (main, _client, bad) = after_a_failed_task().await;
    let linked = AgentWorkspace::new();
    let at = linked.root().display().to_string();
    git_output(
        main.root(),
        &["worktree", "add", "--quiet", "-b", "second", &at],
    );

    let other = linked.start(1, 120).await;
    let branch = linked.baton(&["config", "integration_branch", "--json"]);
    let branch: String = serde_json::from_slice(&branch.stdout).expect("the setting");
    assert_ne!(
        branch, "baton/integration",
        "each worktree lands its own work"
    );
    let second = list_after_another(&other).await;
    assert_eq!(second, bad, "the two boards number their tasks alike");

    let seen = git_output(linked.root(), &["show", &format!("{branch}:seen.txt")]);
    assert!(
        !seen.contains("partial.txt") && !seen.contains("good.txt"),
        "{second} of the second worktree started from the first's work: {seen}"
    );
    let landed = git_output(
        main.root(),
        &["ls-tree", "--name-only", "baton/integration"],
    );
    assert!(
        landed.contains("good.txt") && !landed.contains("seen.txt"),
        "{landed}"
    );
    assert_eq!(
        git_output(main.root(), &["show", &format!("baton/{bad}:partial.txt")]),
        "partial",
        "the first worktree's failed work stays on its branch"
    );
}

#[test]
fn merge_says_in_one_line_why_it_could_not_bring_the_work_in() {
    let workspace = baton_tests::TestWorkspace::new();
    let root = workspace.root();
    let git = |args: &[&str]| git_output(root, args);
    init_repository(root);
    let commit = |message: &str| {
        git(&["commit", "--quiet", "-am", message]);
    };
    std::fs::write(root.join("shared.txt"), "first\n").unwrap();
    git(&["add", "shared.txt"]);
    commit("first");
    git(&["switch", "--quiet", "-c", "baton/integration"]);
    std::fs::write(root.join("shared.txt"), "the agents'\n").unwrap();
    std::fs::write(root.join("new.txt"), "the agents'\n").unwrap();
    git(&["add", "new.txt"]);
    commit("the agents' work");
    git(&["switch", "--quiet", "main"]);

    // An untracked file of the user's that the work would overwrite.
    std::fs::write(root.join("new.txt"), "the user's\n").unwrap();
    let blocked = workspace.baton(&["merge"]);
    let said = String::from_utf8_lossy(&blocked.stderr);
    assert_eq!(blocked.status.code(), Some(1), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(
        said.contains("new.txt") && said.contains("nothing was changed"),
        "{said}"
    );
    std::fs::remove_file(root.join("new.txt")).unwrap();

    // A tracked file changed and not committed: baton refuses, saying which.
    std::fs::write(root.join("shared.txt"), "half done\n").unwrap();
    let dirty = workspace.baton(&["merge"]);
    let said = String::from_utf8_lossy(&dirty.stderr);
    assert_eq!(dirty.status.code(), Some(1), "{said}");
    assert!(
        said.contains("has uncommitted changes (shared.txt); commit or stash them")
            && !said.contains("`git merge` failed"),
        "{said}"
    );

    // A change of the user's own to the same lines.
    std::fs::write(root.join("shared.txt"), "the user's\n").unwrap();
    commit("the user's work");
    let conflict = workspace.baton(&["merge"]);
    let said = String::from_utf8_lossy(&conflict.stderr);
    assert_eq!(conflict.status.code(), Some(1), "{said}");
    assert_eq!(said.trim().lines().count(), 1, "{said}");
    assert!(said.contains("conflicts in shared.txt"), "{said}");
    assert_eq!(git(&["status", "--porcelain"]), "", "nothing was changed");
    workspace.ok(&["daemon", "stop"]);
}
