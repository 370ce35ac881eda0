//! The run and the board as a whole: `baton status`, the progress line, the run's
//! result, the daemon, saved and archived boards.

use super::{ago, count, discovery, goal_line, one_line, pad, status_style, time, Fields};
use crate::printable;
use baton_protocol::methods::{ArchivedBoard, DaemonInfoResult, SavedState};
use baton_protocol::{
    ByStage, Crash, HeldByStage, Progress, RunPhase, RunResult, Status, TaskStage, TaskStatus,
};
use chrono::{DateTime, Utc};
use console::{measure_text_width, style};

/// How many of the latest discoveries `baton status` shows.
const STATUS_DISCOVERIES: usize = 5;

/// The workspace at a glance, for `baton status`; `now` dates the last activity. It
/// is long because it has one field per part of the status.
pub fn status(status: &Status, now: DateTime<Utc>) -> String {
    let mut fields = Fields::default();
    if let Some(found) = &status.crash {
        fields.add("notice", style(crash(found)).yellow());
    }
    if status.goal.is_empty() {
        fields.add("goal", style("none yet; `baton init GOAL` sets one").dim());
    } else {
        fields.add("goal", &status.goal);
    }
    let state = if status.running {
        style("running").green()
    } else {
        style("idle").dim()
    };
    fields.add("state", state);
    if let Some(run) = &status.run {
        let mut line = match run.phase {
            RunPhase::Planning => "planning",
            RunPhase::Working => "working",
            RunPhase::Summarising => "summarising",
        }
        .to_string();
        line.push_str(&format!(
            ", started {}, ${:.2} so far",
            ago(run.started_at, now),
            run.cost_usd
        ));
        if let Some(until) = run.paused_until {
            line.push_str(&format!(
                ", {} until {}",
                style("paused by the rate limit").yellow(),
                time(until)
            ));
        }
        if let Some(why) = &run.stopped {
            line.push_str(&format!(", {}: {why}", style("stopping").yellow()));
        }
        if let Some(waiting) = baton_protocol::views::progress::waiting(&run.waiting_for) {
            line.push_str(&format!("\n{}", style(waiting).yellow()));
        }
        fields.add("run", line);
    } else if let Some(result) = &status.last_run {
        fields.add(
            "last run",
            format!("{}\n{}", run_counts(result), result.summary.trim()),
        );
    }
    fields.add("progress", progress(&status.progress));
    if status.progress.by_stage != HeldByStage::default() {
        fields.add("stages", held_by_stage(&status.progress.by_stage));
    }
    if status.cost_usd > 0.0 {
        fields.add("cost", format!("${:.2} over all runs", status.cost_usd));
    }
    if !status.agents.is_empty() {
        let id_width = status
            .agents
            .iter()
            .map(|agent| measure_text_width(&agent.id))
            .max()
            .unwrap_or(0);
        let agents: Vec<String> = status
            .agents
            .iter()
            .map(|agent| {
                let mut doing = match (&agent.task, agent.since) {
                    (Some(task), Some(since)) => format!("{task} since {}", ago(since, now)),
                    (Some(task), None) => task.to_string(),
                    (None, Some(since)) => format!("planning since {}", ago(since, now)),
                    (None, None) => style("idle").dim().to_string(),
                };
                if let Some(activity) = &agent.activity {
                    doing.push_str(&format!("  {}", style(one_line(activity)).dim()));
                }
                format!("{}  {doing}", pad(&agent.id, id_width))
            })
            .collect();
        fields.add("agents", agents.join("\n"));
    }
    let latest = status.discoveries.len().saturating_sub(STATUS_DISCOVERIES);
    if !status.discoveries.is_empty() {
        let discoveries: Vec<String> = status.discoveries[latest..]
            .iter()
            .map(|found| one_line(&discovery(found)))
            .collect();
        fields.add("discoveries", discoveries.join("\n"));
    }
    let last_activity = match status.last_activity {
        Some(at) => ago(at, now),
        None => "none".into(),
    };
    fields.add("last activity", last_activity);
    fields.render()
}

/// What a daemon that replaced a crashed one says, in one line.
pub fn crash(crash: &Crash) -> String {
    let then = crash
        .stopped_at
        .with_timezone(&chrono::Local)
        .format("%H:%M");
    let resumed = if crash.run_resumed {
        "restarted, resuming the run"
    } else {
        "restarted"
    };
    format!(
        "batond had stopped unexpectedly at {then} (see {}); {resumed}",
        crash.log_file
    )
}

/// How far the plan has got, in one line.
pub fn progress(progress: &Progress) -> String {
    let by = &progress.by_status;
    let count = |status: TaskStatus| {
        let text = format!("{} {}", by.get(status), status.as_str().replace('_', " "));
        if by.get(status) == 0 {
            style(text).dim().to_string()
        } else {
            status_style(status, &text).to_string()
        }
    };
    [
        format!(
            "{}/{} done",
            status_style(TaskStatus::Done, &by.done.to_string()),
            progress.total_tasks
        ),
        format!("{}% finished", progress.percent_complete),
        count(TaskStatus::Failed),
        count(TaskStatus::Cancelled),
        count(TaskStatus::Available),
        count(TaskStatus::Claimed),
        count(TaskStatus::InProgress),
    ]
    .join(" · ")
}

/// The held tasks by the stage they are at, in one line, each stage named.
fn held_by_stage(held: &HeldByStage) -> String {
    TaskStage::ALL
        .into_iter()
        .map(|stage| {
            let text = format!("{} {stage}", held.get(stage));
            match held.get(stage) {
                0 => style(text).dim().to_string(),
                _ => status_style(TaskStatus::InProgress, &text).to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

pub(super) fn run_finished(result: &RunResult) -> String {
    format!("{}: {}", style("run finished").bold(), run_counts(result))
}

/// What a run did and cost, in one line.
fn run_counts(result: &RunResult) -> String {
    let cancelled = match result.tasks_cancelled {
        0 => String::new(),
        cancelled => format!(", {cancelled} cancelled"),
    };
    format!(
        "{} completed, {} failed{cancelled}, {}, ${:.2}",
        result.tasks_completed,
        result.tasks_failed,
        count(result.discoveries, "discovery", "discoveries"),
        result.cost_usd
    )
}

/// A run's result as `baton run` prints it: the counts, the stages, then the
/// summary.
pub fn run_result(result: &RunResult) -> String {
    let stages = stages(&result.stages)
        .map(|line| format!("\n{line}"))
        .unwrap_or_default();
    format!(
        "{}{stages}

{}",
        run_finished(result),
        result.summary.trim()
    )
}

/// What the run did at each stage its tasks went through, with what was spent
/// there; none when no task entered a stage.
fn stages(stages: &ByStage) -> Option<String> {
    let parts: Vec<String> = [
        ("work", TaskStage::Working),
        ("verify", TaskStage::Verifying),
        ("resolve", TaskStage::Resolving),
        ("review", TaskStage::Reviewing),
    ]
    .into_iter()
    .filter_map(|(name, stage)| {
        let tally = stages.get(stage);
        match (tally.entered, tally.cost_usd) {
            (0, 0.0) => None,
            (entered, 0.0) => Some(format!("{name} {entered}")),
            (entered, cost) => Some(format!("{name} {entered} (${cost:.2})")),
        }
    })
    .collect();
    (!parts.is_empty()).then(|| format!("stages: {}", parts.join(" · ")))
}

/// Which daemon serves the workspace, for `baton daemon start|status`.
pub fn daemon_info(info: &DaemonInfoResult) -> String {
    let mut fields = Fields::default();
    fields.add(
        "daemon",
        format!("batond {} (pid {})", info.version, info.pid),
    );
    fields.add("workspace", printable::name(&info.workspace));
    fields.add("socket", printable::name(&info.socket));
    fields.add("log file", printable::name(&info.log_file));
    fields.render()
}

/// What `baton save` wrote.
pub fn saved(saved: &SavedState) -> String {
    format!(
        "saved {} and {} to {}\n",
        count(saved.tasks, "task", "tasks"),
        count(saved.discoveries, "discovery", "discoveries"),
        saved.path
    )
}

/// `baton history`: one line per archived board, newest first.
pub fn history(boards: &[ArchivedBoard]) -> String {
    boards
        .iter()
        .map(|board| {
            format!(
                "{}  {} ({} done, {} failed, {} cancelled), {}  {}\n  {}",
                board.name,
                count(board.tasks, "task", "tasks"),
                board.done,
                board.failed,
                board.cancelled,
                count(board.discoveries, "discovery", "discoveries"),
                goal_line(&board.goal),
                board.path
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
