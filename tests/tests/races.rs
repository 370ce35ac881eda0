//! Requests that change the state, sent at once: the daemon serves up to 32 requests
//! of one connection concurrently, and many connections, so "is a run going?" must be
//! decided inside the change it guards. Whatever the interleaving, the outcome is one
//! of the legal ones.

use baton_protocol::methods::{self as m, Event, StateChangeReason};
use baton_protocol::{Client, ClientError, ErrorCause, ErrorKind, RunMode};
use baton_tests::{add_task, TestWorkspace};
use serde_json::json;

/// How many times each way of sending is tried.
const ROUNDS: usize = 25;

/// A state file with one task and an agent program that cannot start, so that a run
/// ends soon (its task fails, its summary falls back to the plain one) and no model
/// is needed.
fn write_state(workspace: &TestWorkspace) -> String {
    let path = workspace.root().join("loaded.json");
    let state = json!({
        "goal": "the loaded goal",
        "tasks": [{
            "id": "task-001", "description": "a task", "status": "available", "priority": 5,
            "dependencies": [], "created_at": "2025-01-01T00:00:00Z",
        }],
        // A path relative to the agent's checkout: the run starts, its agent cannot.
        "config": { "agent_command": "./no-baton-test-agent", "isolation": "shared" },
    });
    std::fs::write(&path, state.to_string()).expect("the state file is written");
    path.display().to_string()
}

fn refused_as_run_going(answer: &Result<impl std::fmt::Debug, ClientError>) -> bool {
    matches!(answer, Err(ClientError::Baton(err)) if err.cause == Some(ErrorCause::RunGoing))
}

/// The board changed while a load was putting it aside (a run started meanwhile):
/// the load is refused and changes nothing.
fn refused_as_board_changed(answer: &Result<impl std::fmt::Debug, ClientError>) -> bool {
    matches!(answer, Err(ClientError::Baton(err)) if err.kind == ErrorKind::OrchestrationError)
}

/// Reads events until the run that started has finished; answers them.
async fn until_run_finished(watcher: &mut Client) -> Vec<Event> {
    let events = watcher.events().expect("the watcher asked for events");
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
            .await
            .expect("the run finishes")
            .expect("the connection stays open");
        let finished = matches!(event, Event::RunFinished(_));
        seen.push(event);
        if finished {
            return seen;
        }
    }
}

/// Loads the state once before the rounds, and reads the watcher's events until that
/// load was announced, so that the rounds see only their own.
async fn load_first(client: &Client, watcher: &mut Client, state: &str) {
    client
        .request::<m::LoadState>(&m::StateFile {
            path: state.to_owned(),
        })
        .await
        .expect("the state loads");
    let events = watcher.events().expect("the watcher asked for events");
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
            .await
            .expect("the load is announced")
            .expect("the connection stays open");
        if matches!(event, Event::StateChanged(change) if change.reason == StateChangeReason::Load)
        {
            return;
        }
    }
}

/// One round: `load`, `init` and `run` sent at once (on `clients`, one request each
/// in turn), then the outcome checked against the events the daemon published.
async fn round(clients: [&Client; 3], watcher: &mut Client, state: &str) {
    // A task waits, whichever of load and run goes first.
    add_task(clients[0], m::NewTask::new("one more"), &[]).await;
    let load_params = m::StateFile {
        path: state.to_owned(),
    };
    let init_params = m::InitParams {
        goal: "the new goal".into(),
        master_plan: String::new(),
        config: Default::default(),
        keep: true,
    };
    let run_params = m::RunParams {
        mode: RunMode::Predefined,
        goal: None,
        wait: false,
        overrides: None,
        env: None,
    };
    let (load, init, run) = tokio::join!(
        clients[0].request::<m::LoadState>(&load_params),
        clients[1].request::<m::Init>(&init_params),
        clients[2].request::<m::Run>(&run_params),
    );
    assert!(
        init.is_ok() || refused_as_run_going(&init),
        "an init is done, or refused because a run goes for another goal: {init:?}"
    );
    assert!(run.is_ok(), "no other run was going: {run:?}");
    assert!(
        load.is_ok() || refused_as_run_going(&load) || refused_as_board_changed(&load),
        "a load is done, or refused because a run goes or the board changed while it was put aside: {load:?}"
    );
    let events = until_run_finished(watcher).await;
    let position = |wanted: &dyn Fn(&Event) -> bool| events.iter().position(wanted);
    let is_load = |event: &Event| matches!(event, Event::StateChanged(change) if change.reason == StateChangeReason::Load);
    let loaded = position(&is_load);
    let started = position(&|event| matches!(event, Event::RunStarted(_)))
        .expect("the run's start was announced");
    match (load.is_ok(), loaded) {
        (true, Some(at)) => assert!(
            at < started,
            "the state was loaded while the run went: {events:?}"
        ),
        // The load came after the run ended: it was announced before it was answered.
        (true, None) => drop(until(watcher, is_load).await),
        (false, Some(_)) => panic!("a refused load changed the state: {events:?}"),
        (false, None) => {}
    }
    let status = clients[0].request::<m::GetStatus>(&()).await.unwrap();
    assert!(!status.running && status.run.is_none(), "{status:?}");
}

#[tokio::test]
async fn load_init_and_run_at_once_on_one_connection_always_end_legally() {
    let workspace = TestWorkspace::new();
    let state = write_state(&workspace);
    let client = workspace.client(false).await;
    let mut watcher = workspace.client(true).await;
    load_first(&client, &mut watcher, &state).await;
    for _ in 0..ROUNDS {
        round([&client, &client, &client], &mut watcher, &state).await;
    }
}

#[tokio::test]
async fn load_init_and_run_at_once_on_several_connections_always_end_legally() {
    let workspace = TestWorkspace::new();
    let state = write_state(&workspace);
    let clients = [
        workspace.client(false).await,
        workspace.client(false).await,
        workspace.client(false).await,
    ];
    let mut watcher = workspace.client(true).await;
    load_first(&clients[0], &mut watcher, &state).await;
    for _ in 0..ROUNDS {
        round(
            [&clients[0], &clients[1], &clients[2]],
            &mut watcher,
            &state,
        )
        .await;
    }
}

/// Reads events until `wanted` is seen; answers them.
async fn until(watcher: &mut Client, wanted: impl Fn(&Event) -> bool) -> Vec<Event> {
    let events = watcher.events().expect("the watcher asked for events");
    let mut seen = Vec::new();
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(30), events.recv())
            .await
            .expect("the awaited event arrives")
            .expect("the connection stays open");
        let found = wanted(&event);
        seen.push(event);
        if found {
            return seen;
        }
    }
}

/// One round: `reset`, `clean` and `run` sent at once, then the outcome checked
/// against the events the daemon published. A reset that goes first leaves nothing
/// to run; one that comes while the run goes is refused; a clean is done before the
/// run starts or refused while it goes.
async fn reset_round(clients: [&Client; 3], watcher: &mut Client) {
    let added = add_task(clients[0], m::NewTask::new("one more"), &[]).await;
    until(
        watcher,
        |event| matches!(event, Event::TaskCreated(task) if task.id == added),
    )
    .await;
    let run_params = m::RunParams {
        mode: RunMode::Predefined,
        goal: None,
        wait: false,
        overrides: None,
        env: None,
    };
    let (reset, clean, run) = tokio::join!(
        clients[0].request::<m::Reset>(&()),
        clients[1].request::<m::Clean>(&m::CleanParams { all: true }),
        clients[2].request::<m::Run>(&run_params),
    );
    assert!(
        reset.is_ok() || refused_as_run_going(&reset) || refused_as_board_changed(&reset),
        "a reset is done, or refused because a run goes or the board changed while it was put aside: {reset:?}"
    );
    assert!(
        clean.is_ok() || refused_as_run_going(&clean),
        "a clean is done, or refused because a run goes: {clean:?}"
    );
    let is_reset = |event: &Event| matches!(event, Event::StateChanged(change) if change.reason == StateChangeReason::Load);
    if run.is_err() {
        assert!(
            reset.is_ok(),
            "a run is refused only when a reset emptied the board first: {run:?}"
        );
        let events = until(watcher, is_reset).await;
        assert!(
            !events
                .iter()
                .any(|event| matches!(event, Event::RunStarted(_))),
            "a refused run started: {events:?}"
        );
    } else {
        let events = until_run_finished(watcher).await;
        let started = events
            .iter()
            .position(|event| matches!(event, Event::RunStarted(_)))
            .expect("the run's start was announced");
        match (reset.is_ok(), events.iter().position(is_reset)) {
            (true, Some(at)) => assert!(
                at < started,
                "the board was reset while the run went: {events:?}"
            ),
            // The reset came after the run ended.
            (true, None) => drop(until(watcher, is_reset).await),
            (false, Some(_)) => panic!("a refused reset changed the board: {events:?}"),
            (false, None) => {}
        }
    }
    let status = clients[0].request::<m::GetStatus>(&()).await.unwrap();
    assert!(!status.running && status.run.is_none(), "{status:?}");
}

#[tokio::test]
async fn reset_clean_and_run_at_once_on_one_connection_always_end_legally() {
    let workspace = TestWorkspace::new();
    let state = write_state(&workspace);
    let client = workspace.client(false).await;
    let mut watcher = workspace.client(true).await;
    load_first(&client, &mut watcher, &state).await;
    for _ in 0..ROUNDS {
        reset_round([&client, &client, &client], &mut watcher).await;
    }
}

#[tokio::test]
async fn reset_clean_and_run_at_once_on_several_connections_always_end_legally() {
    let workspace = TestWorkspace::new();
    let state = write_state(&workspace);
    let clients = [
        workspace.client(false).await,
        workspace.client(false).await,
        workspace.client(false).await,
    ];
    let mut watcher = workspace.client(true).await;
    load_first(&clients[0], &mut watcher, &state).await;
    for _ in 0..ROUNDS {
        reset_round([&clients[0], &clients[1], &clients[2]], &mut watcher).await;
    }
}
