//! A daemon told to stop during a run, with the real Claude Code binary at work: it
//! answers the stop, ends its agents, sends every watcher what that changed, closes
//! each connection at a frame's end, and the next command starts a new daemon. A
//! client still sending as the daemon stops sees the same clean end, and a watcher
//! that reads nothing does not keep the daemon from stopping.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use baton_protocol::framing;
use baton_protocol::methods::{self as m, Request};
use baton_protocol::{Event, TaskStatus, Workspace};
use baton_tests::agent_workspace::{add_scripted, bash, say, start_run, AgentWorkspace};
use baton_tests::wire::Watcher;
use baton_tests::{add_tasks, process_exists, wait_until, TestWorkspace};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_daemon_stopped_during_a_run_answers_tells_every_watcher_and_closes_cleanly() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(1, 120).await;
    let steps = [bash("sleep 600"), say("unreachable")];
    let hanging = add_scripted(&client, "hang", &steps, &[]).await;
    start_run(&client).await;
    let events = client.events().expect("the first client asked for events");
    tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(event) = events.recv().await {
            if let Event::TaskUpdated(task) = event {
                if task.id == hanging && task.status == TaskStatus::InProgress {
                    return;
                }
            }
        }
        panic!("the connection closed before the agent was at work");
    })
    .await
    .expect("the agent starts work within a minute");

    let socket = Workspace::at(agents.root()).unwrap().socket_path();
    let mut watchers = Vec::new();
    for _ in 0..3 {
        watchers.push(tokio::spawn(
            Watcher::connect(&socket).await.until_the_end(),
        ));
    }
    let stopper = agents.client(false).await;
    let before = stopper.request::<m::DaemonInfo>(&()).await.unwrap();
    stopper
        .request::<m::StopDaemon>(&())
        .await
        .expect("the stop is answered before the daemon goes");

    for watcher in watchers {
        let messages = tokio::time::timeout(Duration::from_secs(60), watcher)
            .await
            .expect("the daemon closes every connection within a minute")
            .unwrap()
            .expect("the stream ends at a frame's end, not in the middle or by a reset");
        let requeued = messages.iter().any(|message| {
            message["method"] == "baton/taskUpdated"
                && message["params"]["id"] == hanging.as_str()
                && message["params"]["status"] == "available"
        });
        assert!(
            requeued,
            "each watcher hears that the stopped agent's task went back to the queue before the end: {messages:#?}"
        );
    }

    let started = agents.baton(&["daemon", "start", "--json"]);
    assert!(
        started.status.success(),
        "the next command starts a new daemon: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let after: m::DaemonInfoResult = serde_json::from_slice(&started.stdout).unwrap();
    assert_ne!(
        after.pid, before.pid,
        "the next command started a new daemon"
    );
    let task = agents.baton(&["show", hanging.as_str(), "--json"]);
    assert!(task.status.success());
    let task: Value = serde_json::from_slice(&task.stdout).unwrap();
    assert_eq!(
        task["status"], "available",
        "the task waits for the next run"
    );
    let stopped = agents.baton(&["daemon", "stop"]);
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
}

#[tokio::test]
async fn a_client_still_sending_as_the_daemon_stops_reads_a_clean_end() {
    // What the client sends after the daemon stops reading must not turn the end of
    // its stream into a reset: the kernel resets a connection closed with unread
    // input, and the client then loses the clean end (and on some systems the
    // answers before it).
    for round in 0..5 {
        let workspace = TestWorkspace::new();
        let stopper = workspace.client(false).await;
        let socket = workspace.workspace().socket_path();
        let Watcher {
            mut reader,
            mut writer,
        } = Watcher::connect(&socket).await;
        let ended = Arc::new(AtomicBool::new(false));
        let sending = {
            let ended = ended.clone();
            tokio::spawn(async move {
                let mut id = 100;
                while !ended.load(Ordering::Relaxed) {
                    id += 1;
                    let status =
                        json!({ "jsonrpc": "2.0", "id": id, "method": m::GetStatus::METHOD });
                    let body = serde_json::to_vec(&status).unwrap();
                    if writer.write_all(&framing::frame(&body)).await.is_err() {
                        return Err(id);
                    }
                }
                Ok(())
            })
        };
        let (first, answered) = tokio::sync::oneshot::channel();
        let reading = tokio::spawn(async move {
            let mut first = Some(first);
            loop {
                match framing::read_frame(&mut reader, framing::ANSWER_LIMIT).await {
                    Ok(Some(_)) => {
                        if let Some(first) = first.take() {
                            let _ = first.send(());
                        }
                    }
                    Ok(None) => return Ok(()),
                    Err(err) => return Err(err),
                }
            }
        });
        // The stop comes while the client is being answered, not before it was read.
        tokio::time::timeout(Duration::from_secs(30), answered)
            .await
            .expect("the client is answered")
            .expect("an answer before the stream ends");
        stopper
            .request::<m::StopDaemon>(&())
            .await
            .expect("the stop is answered before the daemon goes");
        let end = tokio::time::timeout(Duration::from_secs(30), reading)
            .await
            .expect("the daemon ends the stream within 30 s")
            .unwrap();
        ended.store(true, Ordering::Relaxed);
        end.unwrap_or_else(|err| {
            panic!("round {round}: the stream ends at a frame's end, not by a reset: {err}")
        });
        let _ = sending.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_reads_nothing_does_not_keep_a_stopped_daemon_alive() {
    let workspace = TestWorkspace::new();
    let client = workspace.client(false).await;
    let _stuck = Watcher::connect(&workspace.workspace().socket_path()).await;
    // Far more events than the socket's buffer holds: the daemon's writes to the
    // watcher wait on it.
    for batch in 0..2 {
        add_tasks(&client, 20_000, &format!("batch {batch} task")).await;
    }
    let pid = workspace.daemon_pid().expect("a daemon runs");
    client
        .request::<m::StopDaemon>(&())
        .await
        .expect("the stop is answered");
    drop(client);
    // The daemon gives a connection 10 s to take what it owes, then cuts it off.
    tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(30), || !process_exists(pid));
    })
    .await
    .unwrap();
    let next = workspace.client(false).await;
    let status = next.request::<m::GetStatus>(&()).await.unwrap();
    assert_eq!(
        status.progress.total_tasks, 40_000,
        "every task is still there"
    );
}

#[test]
fn adds_racing_a_daemon_stop_are_each_kept_once_or_said_not_done() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "race the stop"]);
    let limit = Duration::from_secs(25);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    for round in 0..3 {
        workspace.ok(&["daemon", "start"]);
        let mut children = Vec::new();
        for i in 0..40 {
            let description = format!("round {round} add {i}");
            children.push((
                Some(description.clone()),
                workspace
                    .spawn_baton(&["add", &description])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("baton starts"),
            ));
            if i == 10 || i == 25 {
                let stop = workspace
                    .spawn_baton(&["daemon", "stop"])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("baton starts");
                children.push((None, stop));
            }
        }
        let started = std::time::Instant::now();
        for (description, mut child) in children {
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                if started.elapsed() > limit {
                    let _ = child.kill();
                    panic!("`baton {description:?}` still waits after {limit:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let mut said = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut said).unwrap();
            match (description, status.success()) {
                (Some(description), true) => acknowledged.push(description),
                (_, true) => {}
                (description, false) => {
                    assert!(
                        said.starts_with("error: ") && said.lines().count() == 1,
                        "a failure says why in one line: {said:?}"
                    );
                    // A daemon that stops says so before it closes: a request it
                    // did not answer was not done, and the client can say that.
                    assert!(
                        said.contains("nothing was done"),
                        "a request cut off by a clean stop is known not done: {said:?}"
                    );
                    refused.extend(description);
                }
            }
        }
    }
    let tasks = workspace.json(&["tasks"]);
    let described: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|task| task["description"].as_str().unwrap())
        .collect();
    for description in &acknowledged {
        let kept = described.iter().filter(|kept| *kept == description).count();
        assert_eq!(kept, 1, "{description} was kept, once");
    }
    for description in &refused {
        assert!(
            !described.contains(&description.as_str()),
            "{description} was said not done, and was added"
        );
    }
    // An add the stopping daemon never read is sent again to the next one.
    assert!(
        acknowledged.len() >= 114,
        "nearly every add went through: {} of 120",
        acknowledged.len()
    );
}

#[test]
fn daemon_stop_and_status_meeting_a_daemon_that_closes_as_it_stops_say_none_runs() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "a daemon on its way out"]);
    workspace.ok(&["daemon", "stop"]);
    // A daemon that stops as a client connects takes the connection into its
    // backlog and closes it unanswered with its listener.
    let socket = workspace.workspace().socket_path();
    std::fs::create_dir_all(socket.parent().unwrap()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let closing = std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            drop(stream.unwrap());
        }
    });
    for command in [["daemon", "stop"], ["daemon", "status"]] {
        let said = workspace.ok(&command);
        assert!(said.contains("no daemon runs"), "{command:?}: {said:?}");
    }
    closing.join().unwrap();
}

#[test]
fn a_socket_deleted_under_the_daemon_is_made_again_and_every_command_reaches_it() {
    // Found when it was tried: with its socket deleted (as cleaners of temporary
    // files do), every command waited 10 s and failed, and `baton daemon stop` said
    // no daemon ran while it held the workspace.
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "kept"]);
    let pid = workspace.daemon_pid().expect("a daemon runs");
    let socket = workspace.workspace().socket_path();
    std::fs::remove_file(&socket).expect("the socket is there to delete");
    wait_until(Duration::from_secs(10), || socket.exists());
    let output = workspace.baton_within(&["tasks"], Duration::from_secs(5));
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("kept"));
    assert_eq!(workspace.daemon_pid(), Some(pid), "the same daemon serves");
    // A directory made in its place goes the same way.
    std::fs::remove_file(&socket).expect("the socket is there to delete");
    std::fs::create_dir(&socket).expect("a directory where the socket was");
    wait_until(Duration::from_secs(10), || {
        !socket.is_dir() && socket.exists()
    });
    workspace.ok(&["tasks"]);
    let stopped = workspace.ok(&["daemon", "stop"]);
    assert!(stopped.contains(&format!("pid {pid}")), "{stopped}");
    assert!(!process_exists(pid));
}
