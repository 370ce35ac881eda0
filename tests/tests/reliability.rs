//! Reliability under load and under crashes, with the real daemon and protocol
//! clients. Short by default; `BATON_LONG_TESTS=1` runs the long variants (more tasks,
//! more clients' work, at least 20 kill -9s).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baton_protocol::methods::{self as m};
use baton_protocol::{Client, ConnectConfig, Event, TaskId, TaskStatus};
use baton_tests::{
    add_tasks, bin_dir, long_tests as long, process_exists, wait_until, wire, Random, TestWorkspace,
};

fn resident_kib(workspace: &TestWorkspace) -> u64 {
    let pid = workspace.daemon_pid().expect("a daemon runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// One round of 100 clients at once: watchers, claimers that complete what they
/// claim, and CLI processes adding and reading. Answers what the watchers saw.
async fn load_round(workspace: &TestWorkspace, tasks: usize, round: usize) -> Vec<Vec<Event>> {
    const WATCHERS: usize = 20;
    const CLAIMERS: usize = 40;
    const COMMANDS: usize = 40;
    let setup = workspace.client(false).await;
    let mut watchers = Vec::new();
    for _ in 0..WATCHERS {
        let mut client = workspace.client(true).await;
        let events = client.take_events().expect("events were asked for");
        watchers.push((client, events));
    }
    add_tasks(&setup, tasks, &format!("round {round} task")).await;

    let mut work = tokio::task::JoinSet::new();
    for claimer in 0..CLAIMERS {
        let client = workspace.client(false).await;
        work.spawn(async move {
            let agent_id = format!("claimer-{claimer}");
            let mut done = Vec::new();
            while let Some(task) = client
                .request::<m::ClaimTask>(&m::ClaimTaskParams {
                    agent_id: agent_id.clone(),
                })
                .await
                .expect("a claim is answered")
            {
                client
                    .request::<m::CompleteTask>(&m::CompleteTaskParams {
                        task_id: task.id.clone(),
                        result: Default::default(),
                    })
                    .await
                    .expect("a claimed task completes");
                done.push(task.id);
            }
            done
        });
    }
    let root = workspace.root().to_owned();
    let commands = tokio::task::spawn_blocking(move || {
        let children: Vec<_> = (0..COMMANDS)
            .map(|i| {
                let args: Vec<String> = if i % 2 == 0 {
                    vec!["status".into(), "--json".into()]
                } else {
                    vec![
                        "tasks".into(),
                        "--status".into(),
                        "claimed".into(),
                        "--json".into(),
                    ]
                };
                std::process::Command::new(bin_dir().join("baton"))
                    .arg("-C")
                    .arg(&root)
                    .args(&args)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("baton starts")
            })
            .collect();
        children
            .into_iter()
            .map(|child| child.wait_with_output().expect("baton ends"))
            .collect::<Vec<_>>()
    });

    let mut completed = BTreeSet::new();
    while let Some(done) = work.join_next().await {
        for id in done.expect("a claimer ends") {
            assert!(completed.insert(id.clone()), "{id} was completed twice");
        }
    }
    assert_eq!(completed.len(), tasks, "every task was completed once");
    for output in commands.await.unwrap() {
        assert!(
            output.status.success(),
            "a CLI call failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Every watcher sees every change, in the same order.
    let mut seen = Vec::new();
    for (_client, mut events) in watchers {
        let mut got = Vec::new();
        let mut finished = 0;
        while finished < tasks {
            let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
                .await
                .expect("a watcher keeps receiving")
                .expect("the watcher's connection stays open");
            match &event {
                Event::TaskCompleted(_) => finished += 1,
                Event::StateChanged(change) if change.reason == m::StateChangeReason::Resync => {
                    panic!("round {round}: a watcher fell behind and missed events")
                }
                _ => {}
            }
            got.push(event);
        }
        seen.push(got);
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_clients_at_once_get_every_answer_and_every_event_in_order() {
    let workspace = TestWorkspace::new();
    let tasks = if long() { 5_000 } else { 500 };
    let rounds = if long() { 6 } else { 3 };
    let bound = Duration::from_secs(if long() { 900 } else { 240 });
    let mut resident = Vec::new();
    tokio::time::timeout(bound, async {
        for round in 0..rounds {
            let seen = load_round(&workspace, tasks, round).await;
            let first = &seen[0];
            let created = first
                .iter()
                .filter(|event| matches!(event, Event::TaskCreated(_)))
                .count();
            assert_eq!(created, tasks, "round {round}: every creation was seen");
            for other in &seen[1..] {
                assert_eq!(other, first, "round {round}: watchers saw different orders");
            }
            resident.push(resident_kib(&workspace));
        }
    })
    .await
    .expect("the load ends within its bound");
    // Flat: after the first round, a round's connections leave nothing behind but its
    // tasks (which stay on the board).
    let growth: Vec<i64> = resident
        .windows(2)
        .map(|pair| pair[1] as i64 - pair[0] as i64)
        .collect();
    eprintln!("the daemon's resident memory after each round: {resident:?} KiB");
    let later = *growth.last().unwrap();
    assert!(
        later <= growth[0].max(0) + 8 * 1024,
        "memory grows round after round: {resident:?} KiB"
    );
}

/// A watcher that reads nothing while thousands of operations are made, more than
/// its socket's buffer holds and more than the daemon publishes at once, then reads:
/// it gets every event, in the order a watcher that kept up got them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_stops_reading_during_a_burst_gets_every_event_once_it_reads() {
    const ADDERS: usize = 8;
    let adds = if long() { 2_000 } else { 400 };
    let workspace = TestWorkspace::new();
    let mut prompt = workspace.client(true).await;
    let mut kept_up = prompt.take_events().expect("events were asked for");
    let mut late = wire::Watcher::connect(&workspace.workspace().socket_path()).await;

    let mut adders = tokio::task::JoinSet::new();
    for adder in 0..ADDERS {
        let client = workspace.client(false).await;
        adders.spawn(async move {
            for i in 0..adds {
                client
                    .request::<m::AddTask>(&m::NewTask::new(format!("adder {adder} task {i}")))
                    .await
                    .expect("the task is added");
            }
        });
    }
    let mut expected = Vec::new();
    while expected.len() < ADDERS * adds {
        match kept_up
            .recv()
            .await
            .expect("the prompt watcher stays connected")
        {
            Event::TaskCreated(task) => expected.push(task.id),
            other => panic!("only creations were made, got {other:?}"),
        }
    }
    while let Some(added) = adders.join_next().await {
        added.expect("an adder ends");
    }

    let mut got = Vec::new();
    while got.len() < expected.len() {
        match late.next_event().await {
            Event::TaskCreated(task) => got.push(task.id),
            other => panic!("the late watcher was sent {other:?}"),
        }
    }
    assert_eq!(got, expected, "the late watcher saw another order");
}

/// A watcher that never reads does not make the daemon keep every event for it: past
/// the documented backlog (65,536 events) it is told it missed some, and what comes
/// after reaches it whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_reads_nothing_is_told_it_missed_events_past_the_backlog() {
    const BATCHES: usize = 5;
    const BATCH: usize = 20_000;
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let mut stuck = wire::Watcher::connect(&workspace.workspace().socket_path()).await;
    let mut last = Vec::new();
    for batch in 0..BATCHES {
        last = add_tasks(&client, BATCH, &format!("batch {batch} task")).await;
    }

    let mut created = Vec::new();
    let mut resyncs = 0;
    while created.last() != last.last() {
        match stuck.next_event().await {
            Event::TaskCreated(task) => created.push(task.id),
            Event::StateChanged(change) if change.reason == m::StateChangeReason::Resync => {
                resyncs += 1;
                created.clear();
            }
            other => panic!("the watcher was sent {other:?}"),
        }
    }
    assert_eq!(
        resyncs, 1,
        "the watcher was told once that it missed events"
    );
    assert!(
        created.ends_with(&last),
        "everything after the resync reached the watcher"
    );
}

/// What the agents were told: acknowledged completions, by task.
type Acknowledged = Arc<Mutex<BTreeMap<TaskId, usize>>>;

async fn connect(workspace: &TestWorkspace) -> Option<Client> {
    Client::connect(
        &workspace.workspace(),
        &ConnectConfig {
            start: true,
            daemon: Some(bin_dir().join("batond")),
            ..ConnectConfig::default()
        },
    )
    .await
    .ok()
}

/// An agent that claims and completes tasks until every task is done, through
/// daemon crashes: after reconnecting it first finishes what the board says it holds.
async fn crash_tolerant_agent(
    workspace: Arc<TestWorkspace>,
    name: String,
    acknowledged: Acknowledged,
) {
    loop {
        let Some(client) = connect(&workspace).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if agent_session(&client, &name, &acknowledged).await.is_ok() {
            return;
        }
        // The daemon went away: connect again, which starts a new one.
    }
}

async fn agent_session(
    client: &Client,
    name: &str,
    acknowledged: &Acknowledged,
) -> Result<(), baton_protocol::ClientError> {
    loop {
        let status = client.request::<m::GetStatus>(&()).await?;
        if status.progress.by_status.done == status.progress.total_tasks {
            return Ok(());
        }
        let mine: Vec<TaskId> = client
            .request::<m::ListTasks>(&m::ListTasksParams {
                status: Some(TaskStatus::Claimed),
            })
            .await?
            .into_iter()
            .filter(|task| task.claimed_by.as_deref() == Some(name))
            .map(|task| task.id)
            .collect();
        let claimed = client
            .request::<m::ClaimTask>(&m::ClaimTaskParams {
                agent_id: name.to_owned(),
            })
            .await?
            .map(|task| task.id);
        if mine.is_empty() && claimed.is_none() {
            // The other agents hold what is left.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        for id in mine.into_iter().chain(claimed) {
            client
                .request::<m::CompleteTask>(&m::CompleteTaskParams {
                    task_id: id.clone(),
                    result: Default::default(),
                })
                .await?;
            *acknowledged.lock().unwrap().entry(id).or_default() += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_at_random_moments_loses_nothing_acknowledged_and_every_task_ends_once() {
    let workspace = Arc::new(TestWorkspace::new());
    let (tasks, kills) = if long() { (10_000, 25) } else { (400, 5) };
    let seed = 0xc0ff_ee00_0000_0001;
    let setup = workspace.client(false).await;
    add_tasks(&setup, tasks, "crash-tested task").await;
    drop(setup);

    let acknowledged: Acknowledged = Arc::default();
    let agents: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(crash_tolerant_agent(
                workspace.clone(),
                format!("agent-{i}"),
                acknowledged.clone(),
            ))
        })
        .collect();
    let killer = {
        let workspace = workspace.clone();
        let acknowledged = acknowledged.clone();
        tokio::task::spawn_blocking(move || {
            let mut random = Random(seed);
            let mut killed = 0;
            while killed < kills && acknowledged.lock().unwrap().len() < tasks {
                std::thread::sleep(Duration::from_millis(30 + random.below(200)));
                let Some(pid) = workspace.daemon_pid().filter(|pid| process_exists(*pid)) else {
                    continue;
                };
                // SAFETY: sending a signal touches no memory of ours.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                wait_until(Duration::from_secs(10), || !process_exists(pid));
                killed += 1;
            }
            killed
        })
    };
    let bound = Duration::from_secs(if long() { 900 } else { 180 });
    tokio::time::timeout(bound, async {
        for agent in agents {
            agent.await.expect("an agent ends");
        }
    })
    .await
    .unwrap_or_else(|_| panic!("seed {seed:#x}: the agents did not finish in {bound:?}"));
    let killed = killer.await.unwrap();
    let least = if long() { 20 } else { 3 };
    assert!(
        killed >= least,
        "seed {seed:#x}: only {killed} kills happened before every task was done"
    );

    let client = connect(&workspace).await.expect("a daemon serves");
    let board = client
        .request::<m::ListTasks>(&m::ListTasksParams { status: None })
        .await
        .unwrap();
    assert_eq!(
        board.len(),
        tasks,
        "seed {seed:#x}: every added task is there"
    );
    let acknowledged = acknowledged.lock().unwrap();
    for task in &board {
        assert_eq!(
            task.status,
            TaskStatus::Done,
            "seed {seed:#x}: {} ended",
            task.id
        );
    }
    for (id, times) in acknowledged.iter() {
        assert_eq!(
            *times, 1,
            "seed {seed:#x}: {id} was completed {times} times"
        );
    }
    eprintln!(
        "{killed} kill -9s; {} of {tasks} completions acknowledged, the rest made durable as the daemon died",
        acknowledged.len()
    );
}
