//! The run's timeline through the real daemon and real agents: every agent run is
//! recorded on its lane, announced as it starts and ends, and kept across a restart.

use std::time::Duration;

use baton_protocol::methods::{self as m, Event};
use baton_protocol::timeline::TimelineParams;
use baton_protocol::{AgentKind, AttemptOutcome, AttemptRecord, Client, RunMode};
use baton_tests::agent_workspace::{add_scripted, bash, run, say, AgentWorkspace};

/// A step that waits (at most a minute) until the other task's agent has started too,
/// so that the two surely ran at the same time.
fn meet(mine: &str, theirs: &str) -> serde_json::Value {
    bash(&format!(
        "touch {mine}; for i in $(seq 600); do [ -f {theirs} ] && exit 0; sleep 0.1; done; exit 1"
    ))
}

async fn timeline(client: &Client, run: Option<u64>) -> baton_protocol::Timeline {
    client
        .request::<m::GetTimeline>(&TimelineParams { run })
        .await
        .expect("the timeline is answered")
}

/// Every `baton/attempt` notification up to the run's end.
async fn announced(client: &mut Client) -> Vec<AttemptRecord> {
    let events = client.events().expect("this client asked for events");
    let mut records = Vec::new();
    loop {
        let event = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("the run's end is announced")
            .expect("the connection stays open");
        match event {
            Event::Attempt(record) => records.push(record),
            Event::RunFinished(_) => return records,
            _ => {}
        }
    }
}

#[tokio::test]
async fn two_workers_run_on_two_lanes_at_once_and_the_record_outlives_the_daemon() {
    let agents = AgentWorkspace::new();
    let mut client = agents.start(2, 120).await;
    add_scripted(
        &client,
        "left",
        &[meet("left.up", "right.up"), say("left done")],
        &[],
    )
    .await;
    add_scripted(
        &client,
        "right",
        &[meet("right.up", "left.up"), say("right done")],
        &[],
    )
    .await;

    let result = run(&client, RunMode::Predefined).await;
    assert_eq!(result.tasks_completed, 2);
    assert_eq!(result.run, 1);

    let shown = timeline(&client, None).await;
    assert_eq!((shown.run, shown.runs, shown.going), (1, 1, false));
    let workers: Vec<&AttemptRecord> = shown
        .attempts
        .iter()
        .filter(|record| record.kind == AgentKind::Worker)
        .collect();
    let mut lanes: Vec<&str> = workers.iter().map(|record| record.lane.as_str()).collect();
    lanes.sort();
    assert_eq!(lanes, ["worker-1", "worker-2"]);
    for record in &workers {
        assert_eq!(record.outcome, Some(AttemptOutcome::Done), "{record:?}");
        assert!(record.task.is_some());
    }
    let (a, b) = (workers[0], workers[1]);
    let overlap = a.started_at < b.ended_at.unwrap() && b.started_at < a.ended_at.unwrap();
    assert!(
        overlap,
        "the two attempts ran at the same time: {a:?} {b:?}"
    );
    let summary = shown.attempts.last().expect("a summary record");
    assert_eq!(
        (summary.kind, summary.lane.as_str()),
        (AgentKind::Summary, "summary")
    );
    assert!(summary.ended_at.is_some());

    // Each record was announced open, then closed with the same id.
    let records = announced(&mut client).await;
    for record in &shown.attempts {
        let sent: Vec<_> = records.iter().filter(|r| r.id == record.id).collect();
        assert_eq!(sent.len(), 2, "{record:?} announced at its start and end");
        assert!(sent[0].is_open() && !sent[1].is_open());
        assert_eq!(sent[1], record);
    }

    agents.workspace.kill_daemon();
    let client = agents.start(2, 120).await;
    let after = timeline(&client, Some(1)).await;
    assert_eq!(
        after.attempts, shown.attempts,
        "the record survives kill -9"
    );
    let missing = client
        .request::<m::GetTimeline>(&TimelineParams { run: Some(2) })
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("runs are 1 to 1"), "{missing}");
}
