//! `baton run` and `baton logs`: following agents while they work.

use std::io::Write;
use std::time::Duration;

use baton_protocol::methods::{self, AgentLogParams, RunAgent, RunParams, TaskLogParams, TaskRef};
use baton_protocol::{
    ActivityKind, AgentEnv, AttemptOutcome, ByStatus, Client, ConnectConfig, Event, RunMode, Task,
    TaskStatus,
};
use tokio::signal::unix::{signal, SignalKind};

use crate::args::LogSource;
use crate::commands::{CommandError, Session};
use crate::progress::ProgressLine;
use crate::{printable, render};

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// Runs the plan and follows it to its end with the daemon's progress line and the
/// agents' activity; exits 1 when a task failed. It is long because starting,
/// following and ending the run share one progress line and one select loop.
pub async fn run(
    session: &Session,
    goal: Option<String>,
    mode: Option<RunMode>,
    detach: bool,
) -> Result<()> {
    let mut client = session
        .connect_with(ConnectConfig {
            start: true,
            events: !detach,
            ..ConnectConfig::default()
        })
        .await?;
    let mode = match mode {
        Some(mode) => mode,
        None if goal.is_some() => RunMode::Leader,
        None => {
            let status = client.request::<methods::GetStatus>(&()).await?;
            match status.progress.by_status.available {
                0 => RunMode::Leader,
                _ => RunMode::Predefined,
            }
        }
    };
    if mode == RunMode::Predefined {
        let status = client.request::<methods::GetStatus>(&()).await?;
        if status.run.is_none() && waiting(&status.progress.by_status) == 0 {
            return session.show(&status, |_| NOTHING_TO_RUN.into());
        }
    }
    let params = RunParams {
        mode,
        goal,
        wait: !detach,
        overrides: None,
        env: Some(AgentEnv::from_process()),
    };
    if detach {
        client.request::<methods::Run>(&params).await?;
        let status = client.request::<methods::GetStatus>(&()).await?;
        session.note("the run goes on; `baton status` shows it, `baton watch` follows it");
        return session.show(&status, |status| render::progress(&status.progress));
    }

    let mut line = ProgressLine::new(session.json);
    let mut events = client.take_events().expect("asked for events");
    let mut progress = client.take_progress().expect("asked for events");
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut stopping = false;
    let answer = client.request::<methods::Run>(&params);
    tokio::pin!(answer);
    let result = loop {
        tokio::select! {
            answer = &mut answer => break answer?,
            Some(()) = interrupts.recv() => {
                if stopping {
                    line.clear();
                    session.note("left at once; the daemon goes on stopping the run (`baton status` shows it)");
                    return Err(CommandError::Interrupted);
                }
                stopping = true;
                line.suspend(|| session.note(
                    "stopping the run: its agents are ended and their tasks go back to the queue \
                     (Ctrl-C again leaves at once; `baton run --detach` leaves a run going)"
                ));
                client.request::<methods::Stop>(&()).await?;
            }
            Some(value) = progress.recv() => line.follow(&value),
            Some(event) = events.recv() => {
                let event = printable::object(&event).map_err(std::io::Error::from)?;
                if let Some(shown) = worth_printing(&event) {
                    if !session.json {
                        let width = crate::commands::terminal_width(console::Term::stderr());
                        line.suspend(|| eprintln!("{}", render::fit(&shown, width)));
                    }
                }
            }
        }
    };
    line.clear();
    let result = result.ok_or_else(|| CommandError::Input("the daemon gave no result".into()))?;
    session.show(&result, crate::views::finished_run)?;
    if stopping {
        session.note("the run stopped; `baton run --predefined` goes on with the tasks left");
        return Err(CommandError::Interrupted);
    }
    match (result.tasks_failed, result.stopped) {
        (0, None) => Ok(()),
        (0, Some(why)) => Err(CommandError::RunStopped(why)),
        (failed, _) => Err(CommandError::TasksFailed(failed)),
    }
}

/// What `baton run --predefined` says when no task waits.
pub const NOTHING_TO_RUN: &str =
    "nothing to run: no task waits (`baton add` adds one, `baton retry ID` reopens a failed one)";

/// Tasks not finished yet.
pub fn waiting(counts: &ByStatus) -> usize {
    counts.available + counts.claimed + counts.in_progress
}

/// The line `baton run` prints for an event, if it is worth one: a task created,
/// done or failed, an attempt that ended without its task (timed out, or put back in
/// the queue to be tried again), an agent's activity, a discovery, the run's start.
fn worth_printing(event: &Event) -> Option<String> {
    match event {
        Event::TaskCreated(_) | Event::TaskCompleted(_) | Event::TaskFailed(_) => {
            Some(render::event(event))
        }
        Event::Attempt(record)
            if matches!(
                record.outcome,
                Some(AttemptOutcome::Requeued | AttemptOutcome::TimedOut)
            ) =>
        {
            Some(render::event(event))
        }
        Event::AgentActivity(activity) if activity.kind != ActivityKind::Finished => {
            Some(render::event(event))
        }
        Event::Discovery(_) | Event::RunStarted(_) => Some(render::event(event)),
        _ => None,
    }
}

/// What `baton logs` says when there is no log yet.
async fn empty_log(client: &Client, source: &LogSource) -> Result<String> {
    Ok(match source {
        LogSource::Task(task) => {
            let params = TaskRef {
                task_id: task.clone(),
            };
            let task = client.request::<methods::GetTask>(&params).await?;
            let run_going = client
                .request::<methods::GetStatus>(&())
                .await?
                .run
                .is_some();
            empty_task_log(&task, run_going)
        }
        LogSource::Agent(agent) => empty_agent_log(*agent).to_owned(),
    })
}

/// What `baton logs` says when a task has no log: how it ended without an agent and
/// what reopens it, who holds it, or whether a run gives it one.
fn empty_task_log(task: &Task, run_going: bool) -> String {
    let id = &task.id;
    let error = task
        .result
        .as_ref()
        .and_then(|result| result.error.as_deref());
    match (task.status, &task.failed_dependency) {
        (TaskStatus::Failed, Some(dependency)) => format!(
            "no agent worked on {id}: it failed because its dependency {dependency} did; \
             `baton retry {dependency}` reopens both"
        ),
        (TaskStatus::Failed, None) => format!(
            "no agent worked on {id}: it failed ({}); `baton retry {id}` reopens it",
            error.unwrap_or("no reason given")
        ),
        (TaskStatus::Cancelled, _) => {
            format!("no agent worked on {id}: it was cancelled; `baton retry {id}` reopens it")
        }
        (TaskStatus::Done, _) => format!("no agent worked on {id}: it was completed by hand"),
        (status, _) if status.is_held() => {
            let agent = task.claimed_by.as_deref().unwrap_or_default();
            match task.supervised {
                true => format!("{id}'s agent ({agent}) has not written to its log yet"),
                false => format!(
                    "{id} is claimed by {agent} outside a run: baton logs only the agents its runs start"
                ),
            }
        }
        _ if run_going => {
            format!("no agent has worked on {id} yet; the run going gives it one once it is ready")
        }
        _ => format!("no agent has worked on {id} yet; a run (`baton run`) gives it one"),
    }
}

/// What `baton logs` says when there is no log yet of the leader or the summary.
fn empty_agent_log(agent: RunAgent) -> &'static str {
    match agent {
        RunAgent::Leader => {
            "the leader has not run on this board yet; `baton plan GOAL` or `baton run GOAL` starts it"
        }
        RunAgent::Summary => {
            "no run has been summed up on this board yet; a run writes its summary when it ends"
        }
    }
}

/// Prints a task's (or the leader's or summary's) agent log; with `follow`, keeps
/// printing until the task (or the run) ends.
pub async fn logs(
    session: &Session,
    source: LogSource,
    follow: bool,
    detail: render::Detail,
) -> Result<()> {
    let mut client = session
        .connect_with(ConnectConfig {
            start: true,
            events: follow,
            ..ConnectConfig::default()
        })
        .await?;
    let mut events = client.take_events();
    let mut offset = 0;
    // A line longer than one answer comes in pieces: they wait here for its end.
    let mut partial = String::new();
    let mut said_empty = false;
    loop {
        let chunk = match &source {
            LogSource::Task(task) => {
                let params = TaskLogParams {
                    task_id: task.clone(),
                    offset,
                };
                client.request::<methods::TaskLog>(&params).await?
            }
            LogSource::Agent(agent) => {
                let params = AgentLogParams {
                    agent: *agent,
                    offset,
                };
                client.request::<methods::AgentLog>(&params).await?
            }
        };
        if chunk.next_offset == 0 && !said_empty {
            // Said once; a follower then waits for the log to begin.
            session.note(&empty_log(&client, &source).await?);
            said_empty = true;
            if !follow {
                return Ok(());
            }
        }
        offset = chunk.next_offset;
        partial.push_str(&chunk.text);
        print_whole_lines(&mut partial, session.json, detail)?;
        if !chunk.text.is_empty() {
            // More of the log may be there already.
            continue;
        }
        let Some(events) = events.as_mut() else {
            return Ok(());
        };
        let ended = match &source {
            LogSource::Task(task) => {
                let params = TaskRef {
                    task_id: task.clone(),
                };
                let now = client.request::<methods::GetTask>(&params).await?;
                now.status.is_finished()
            }
            LogSource::Agent(_) => {
                let status = client.request::<methods::GetStatus>(&()).await?;
                status.run.is_none()
            }
        };
        if ended {
            return Ok(());
        }
        // Wait for anything to happen (the agent's activity comes as events), or a
        // moment, then read on.
        let _ = tokio::time::timeout(Duration::from_secs(1), events.recv()).await;
    }
}

/// Prints the whole lines of a log read so far (raw with `--json`), leaving in
/// `partial` the start of a line still to come.
fn print_whole_lines(partial: &mut String, json: bool, detail: render::Detail) -> Result<()> {
    let whole = partial.rfind('\n').map_or(0, |end| end + 1);
    let mut stdout = std::io::stdout().lock();
    for line in partial[..whole].lines() {
        let shown = match json {
            true => Some(line.to_owned()),
            false => render::log_line(line, detail),
        };
        if let Some(shown) = shown {
            writeln!(stdout, "{shown}")?;
        }
    }
    partial.drain(..whole);
    stdout.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_protocol::{AgentKind, AttemptRecord, TaskId};

    #[test]
    fn an_attempt_that_ends_without_its_task_is_worth_a_line_of_a_run() {
        console::set_colors_enabled(false);
        let record = |outcome| {
            Event::Attempt(AttemptRecord {
                id: 0,
                run: 1,
                lane: "worker-1".into(),
                kind: AgentKind::Worker,
                task: Some(TaskId::numbered(3)),
                started_at: chrono::Utc::now(),
                ended_at: Some(chrono::Utc::now()),
                outcome,
                reason: Some("the agent ran past task_timeout (8 s)".into()),
                cost_usd: 0.1,
            })
        };
        let timed_out = worth_printing(&record(Some(AttemptOutcome::TimedOut)));
        assert_eq!(
            timed_out.as_deref(),
            Some("agent ended worker-1 on task-003: timed out ($0.1000): the agent ran past task_timeout (8 s)")
        );
        assert!(worth_printing(&record(Some(AttemptOutcome::Requeued))).is_some());
        assert_eq!(worth_printing(&record(Some(AttemptOutcome::Done))), None);
        assert_eq!(worth_printing(&record(None)), None);
    }
}
