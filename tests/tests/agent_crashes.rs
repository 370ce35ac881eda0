//! Crashes under real agents: the real Claude Code, against the scripted model, runs a
//! plan while the daemon is killed -9 at random moments (seeded, printed) and started
//! again by the next command, until the run ends. Nothing acknowledged is lost (tasks,
//! results, discoveries), no task's work lands twice, every task ends. Short by
//! default; `BATON_LONG_TESTS=1` kills the daemon at least 20 times.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use baton_protocol::methods::{self as m};
use baton_protocol::{Event, TaskId, TaskResult, TaskStatus};
use baton_tests::agent_workspace::{
    add_scripted, bash, baton_tool, git_output, integration_merges, start_run, AgentWorkspace,
};
use baton_tests::{long_tests, Random};
use serde_json::json;

/// What the board held at one moment, once made durable: the finished tasks with
/// their results, and every discovery.
#[derive(Debug, Default)]
struct Kept {
    finished: BTreeMap<TaskId, (TaskStatus, Option<Box<TaskResult>>)>,
    discoveries: BTreeSet<(String, String)>,
    tasks: usize,
}

impl Kept {
    fn all_finished(&self) -> bool {
        self.finished.len() == self.tasks
    }
}

/// Reads the board, then adds a discovery of the observer's own: a change is answered
/// only once it and every change before it are on disk, so all that was read is
/// acknowledged by then.
async fn observe(agents: &AgentWorkspace, mark: usize) -> Kept {
    let client = agents.client(false).await;
    let tasks = client
        .request::<m::ListTasks>(&m::ListTasksParams { status: None })
        .await
        .expect("the tasks are listed");
    let discoveries = client
        .request::<m::ListDiscoveries>(&())
        .await
        .expect("the discoveries are listed");
    let content = format!("observation {mark}");
    client
        .request::<m::AddDiscovery>(&m::NewDiscovery {
            agent_id: "observer".into(),
            content: content.clone(),
            related_task: None,
            tags: Vec::new(),
        })
        .await
        .expect("the observation is recorded");
    Kept {
        finished: tasks
            .iter()
            .filter(|task| task.status.is_finished())
            .map(|task| (task.id.clone(), (task.status, task.result.clone())))
            .collect(),
        discoveries: discoveries
            .into_iter()
            .map(|found| (found.agent_id, found.content))
            .chain([("observer".to_owned(), content)])
            .collect(),
        tasks: tasks.len(),
    }
}

/// Everything `before` acknowledged is still in `now`, unchanged.
fn check_kept(before: &Kept, now: &Kept, seed: u64) {
    for (id, ended) in &before.finished {
        assert_eq!(
            now.finished.get(id),
            Some(ended),
            "seed {seed:#x}: {id} ended as {ended:?}, and a restart lost or changed it"
        );
    }
    let lost: Vec<_> = before.discoveries.difference(&now.discoveries).collect();
    assert!(
        lost.is_empty(),
        "seed {seed:#x}: discoveries lost: {lost:?}"
    );
    assert_eq!(
        now.tasks, before.tasks,
        "seed {seed:#x}: tasks lost or added"
    );
}

/// The steps of task `i`: a file of its own, a discovery, an answer, with some
/// thinking time so that kills land while agents work.
fn steps(i: usize) -> Vec<serde_json::Value> {
    let mut write = bash(&format!("echo {i} > file-{i}.txt"));
    write["delay_ms"] = json!(300);
    vec![
        write,
        baton_tool(
            "report_discovery",
            json!({ "content": format!("task {i} found something") }),
        ),
        json!({ "text": format!("task {i} done"), "delay_ms": 300 }),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_real_agent_runs_loses_nothing_and_lands_each_task_once() {
    // Enough tasks that the kills do not run out of them on a fast machine: about 0.7
    // tasks end between two kills there.
    let (tasks, kills): (usize, usize) = if long_tests() { (40, 24) } else { (6, 3) };
    let seed = 0x6a9e_0000_0000_0012;
    eprintln!("seed {seed:#x}: {tasks} tasks, {kills} kill -9s");
    let agents = AgentWorkspace::git();
    let client = agents.start(2, 120).await;
    // A task whose agent is killed again and again may take many attempts.
    client
        .request::<m::Configure>(&m::ConfigPatch {
            max_attempts: Some(100),
            ..Default::default()
        })
        .await
        .expect("configured");
    // Two chains: task i waits for task i - 2.
    let mut ids: Vec<TaskId> = Vec::new();
    for i in 0..tasks {
        let after: Vec<&TaskId> = i.checked_sub(2).map(|j| &ids[j]).into_iter().collect();
        ids.push(add_scripted(&client, &format!("task {i}"), &steps(i), &after).await);
    }
    start_run(&client).await;
    drop(client);

    let mut random = Random(seed);
    // How many tasks may end between two kills (fewer than this): the kills spread
    // over the run.
    let spread = if long_tests() { 2 } else { 3 };
    let mut kept = Kept {
        tasks,
        ..Kept::default()
    };
    let mut killed = 0;
    while killed < kills {
        // A random moment while the agents work: after a random number of tasks end
        // (unless the run does), and a random while more.
        let mut watcher = agents.client(true).await;
        let status = agents
            .client(false)
            .await
            .request::<m::GetStatus>(&())
            .await
            .expect("status");
        if status.run.is_some() {
            let events = watcher.events().expect("events were asked for");
            let mut left = random.below(spread);
            while left > 0 {
                let event = tokio::time::timeout(Duration::from_secs(120), events.recv())
                    .await
                    .unwrap_or_else(|_| panic!("seed {seed:#x}: the run stood still"));
                match event {
                    None | Some(Event::RunFinished(_)) => break,
                    Some(Event::TaskCompleted(_)) => left -= 1,
                    Some(_) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(random.below(1500))).await;
        }
        drop(watcher);
        let now = observe(&agents, killed).await;
        check_kept(&kept, &now, seed);
        kept = now;
        if kept.all_finished() {
            break;
        }
        agents.workspace.kill_daemon();
        killed += 1;
        eprintln!(
            "kill -9 number {killed}, with {} of {tasks} tasks ended",
            kept.finished.len()
        );
        // The next command starts a daemon again, and the run goes on by itself.
        let status = agents.baton(&["status", "--json"]);
        assert!(
            status.status.success(),
            "seed {seed:#x}: after kill {killed}, status failed: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let least = if long_tests() { 20 } else { 2 };
    assert!(
        killed >= least,
        "seed {seed:#x}: only {killed} kills happened before every task ended"
    );

    // The run ends by itself.
    let mut watcher = agents.client(true).await;
    let bound = Duration::from_secs(if long_tests() { 600 } else { 240 });
    let client = agents.client(false).await;
    tokio::time::timeout(bound, async {
        loop {
            let status = client.request::<m::GetStatus>(&()).await.unwrap();
            let progress = &status.progress;
            let ended = progress.by_status.done + progress.by_status.failed;
            if status.run.is_none() && ended == progress.total_tasks {
                return;
            }
            watcher.events().unwrap().recv().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("seed {seed:#x}: the run did not end in {bound:?}"));

    let last = observe(&agents, killed + 1).await;
    check_kept(&kept, &last, seed);
    for (i, id) in ids.iter().enumerate() {
        let (status, result) = &last.finished[id];
        assert_eq!(
            *status,
            TaskStatus::Done,
            "seed {seed:#x}: {id}: {result:?}"
        );
        // A result, once acknowledged, is checked unchanged by `check_kept`; a task
        // whose daemon was killed while its work was being verified and landed says
        // so in place of its agent's answer.
        assert!(result.is_some(), "seed {seed:#x}: {id} has a result");
        assert!(
            last.discoveries
                .iter()
                .any(|(_, content)| *content == format!("task {i} found something")),
            "seed {seed:#x}: {id}'s discovery was kept"
        );
        // Its work landed once: one merge names it, one commit adds its file.
        let merges = integration_merges(agents.root());
        let landed = merges
            .lines()
            .filter(|subject| subject.starts_with(&format!("Merge {id}:")))
            .count();
        assert_eq!(
            landed, 1,
            "seed {seed:#x}: {id} merged {landed} times: {merges}"
        );
        let file = format!("file-{i}.txt");
        let added = git_output(
            agents.root(),
            &[
                "log",
                "--format=%H",
                "--diff-filter=A",
                "baton/integration",
                "--",
                &file,
            ],
        );
        assert_eq!(
            added.lines().count(),
            1,
            "seed {seed:#x}: {file} was added by more than one commit"
        );
        assert_eq!(
            git_output(
                agents.root(),
                &["show", &format!("baton/integration:{file}")]
            ),
            i.to_string()
        );
    }
    eprintln!("seed {seed:#x}: {killed} kill -9s, {tasks} tasks each landed once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_turns_an_agent_took_before_its_daemon_was_killed_are_paid_for() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let costly = |mut step: serde_json::Value| {
        step["usage"] = json!({ "input_tokens": 100_000, "output_tokens": 10_000 });
        step
    };
    let waiting = agents.home().join("agent-waits");
    let id = add_scripted(
        &client,
        "pays before the crash",
        &[
            costly(bash("echo one")),
            // Waits the first time only: the agent after the restart goes on.
            costly(bash(&format!(
                "test -e {0} || {{ touch {0}; sleep 60; }}",
                waiting.display()
            ))),
            costly(baton_tool(
                "report_discovery",
                json!({ "content": "after the crash" }),
            )),
        ],
        &[],
    )
    .await;
    start_run(&client).await;
    drop(client);
    baton_tests::wait_until(Duration::from_secs(60), || waiting.exists());
    // Two turns are taken and paid for; the agent waits in the second's command.
    agents.workspace.kill_daemon();
    let status = agents.baton(&["status"]);
    assert!(status.status.success(), "{status:?}");

    let client = agents.client(false).await;
    let task = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let task = client
                .request::<m::GetTask>(&m::TaskRef {
                    task_id: id.clone(),
                })
                .await
                .unwrap();
            if task.status == TaskStatus::Done {
                return task;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the task ends after the restart");
    // Each scripted turn read 100,000 input tokens: those of the agent the crash cut
    // off as well as those of the one that did the task after the restart.
    let log =
        std::fs::read_to_string(agents.root().join(format!(".baton/logs/tasks/{id}.log"))).unwrap();
    let served: BTreeSet<String> = log
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| line["message"]["usage"]["input_tokens"] == 100_000)
        .filter_map(|line| Some(line["message"]["id"].as_str()?.to_owned()))
        .collect();
    assert!(served.len() >= 4, "the cut-off agent took two turns: {log}");
    // The unscripted last answer reads fewer.
    let scripted = 100_000 * served.len() as u64;
    assert!(
        (scripted..scripted + 100_000).contains(&task.usage.input_tokens),
        "{} scripted turns, {:?}",
        served.len(),
        task.usage
    );
}
