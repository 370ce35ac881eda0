//! A run's report as markdown: the goal and result, the summary, the plan as a Mermaid
//! graph, the timeline, what each task and each agent lane cost, and what failed and
//! why. The daemon writes it when a run ends; `baton report` prints it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::{RunResult, Task, TaskStatus};
use crate::timeline::{AgentKind, AttemptOutcome, AttemptRecord, Timeline};

use super::{count, duration, graph, lanes, one_line, Plain};

/// The width of the timeline drawn in a report.
const TIMELINE_WIDTH: usize = 100;

/// What a report is made from.
pub struct RunReport<'a> {
    pub result: &'a RunResult,
    /// Every task of the plan.
    pub tasks: &'a [Task],
    /// The tasks this run finished.
    pub finished: &'a [Task],
    /// The run's agent runs.
    pub timeline: &'a Timeline,
    /// When the report is written: agent runs still open end here.
    pub now: DateTime<Utc>,
}

/// The report as a markdown document.
pub fn markdown(report: &RunReport<'_>) -> String {
    let result = report.result;
    let attempts = &report.timeline.attempts;
    let mut out = format!("# Run {}: {}\n\n", result.run, cell(&result.goal));
    let started = attempts.iter().map(|record| record.started_at).min();
    let took = started.map_or(String::new(), |started| {
        format!(
            ", started {} UTC, took {}",
            started.format("%Y-%m-%d %H:%M:%S"),
            duration((report.now - started).num_seconds())
        )
    });
    out.push_str(&format!(
        "{} done, {} failed, {} shared; ${:.4}{took}.\n\n",
        count(result.tasks_completed, "task", "tasks"),
        result.tasks_failed,
        count(result.discoveries, "discovery", "discoveries"),
        result.cost_usd,
    ));
    if one_line(&result.goal) != result.goal.trim() {
        // The heading shows the start; the goal is the user's, so it is here whole.
        out.push_str(&format!("## Goal\n\n{}\n\n", result.goal.trim()));
    }
    out.push_str(&format!("## Summary\n\n{}\n\n", result.summary.trim()));
    out.push_str(&format!(
        "## Plan\n\nThick edges are the critical path.\n\n```mermaid\n{}```\n\n",
        graph::mermaid(report.tasks)
    ));
    out.push_str(&format!(
        "## Timeline\n\n```text\n{}```\n\n",
        lanes::lanes(report.timeline, report.now, TIMELINE_WIDTH, &Plain)
    ));
    out.push_str(&task_costs(report));
    out.push_str(&lane_costs(attempts, report.now));
    out.push_str(&failures(report));
    out
}

/// `## Cost per task`: each task this run's agents worked on or finished without
/// an agent (failed for a dependency), its attempts (its workers' runs) and what they
/// and its reviewers cost.
fn task_costs(report: &RunReport<'_>) -> String {
    let mut per_task: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for task in report.finished {
        per_task.entry(task.id.as_str()).or_default();
    }
    for record in &report.timeline.attempts {
        if let Some(task) = &record.task {
            let entry = per_task.entry(task.as_str()).or_default();
            entry.0 += usize::from(record.kind == AgentKind::Worker);
            entry.1 += record.cost_usd;
        }
    }
    if per_task.is_empty() {
        return "## Cost per task\n\nNo task was worked on in this run.\n\n".into();
    }
    let mut out = String::from(
        "## Cost per task\n\n| Task | Status | Attempts | Cost | Description |\n|---|---|---:|---:|---|\n",
    );
    for task in report.tasks {
        let Some((attempts, cost)) = per_task.get(task.id.as_str()) else {
            continue;
        };
        out.push_str(&format!(
            "| {} | {} {} | {attempts} | ${cost:.4} | {} |\n",
            task.id,
            graph::status_mark(task.status),
            task.status.as_str(),
            cell(&one_line(&task.description))
        ));
    }
    out.push('\n');
    out
}

/// `## Cost per agent`: each lane, how many agent runs it had, how long they took.
fn lane_costs(attempts: &[AttemptRecord], now: DateTime<Utc>) -> String {
    let mut per_lane: BTreeMap<(AgentKind, &str), (usize, i64, f64)> = BTreeMap::new();
    for record in attempts {
        let entry = per_lane
            .entry((record.kind, record.lane.as_str()))
            .or_default();
        entry.0 += 1;
        // Summed in milliseconds: runs of under a second add up.
        entry.1 += (record.ended_at.unwrap_or(now) - record.started_at).num_milliseconds();
        entry.2 += record.cost_usd;
    }
    let mut out =
        String::from("## Cost per agent\n\n| Agent | Runs | Busy | Cost |\n|---|---:|---:|---:|\n");
    for ((_, lane), (runs, busy, cost)) in per_lane {
        out.push_str(&format!(
            "| {lane} | {runs} | {} | ${cost:.4} |\n",
            duration((busy + 500) / 1000)
        ));
    }
    let total = attempts
        .iter()
        .fold(0.0, |total, record| total + record.cost_usd);
    out.push_str(&format!(
        "| **all** | {} | | ${total:.4} |\n\n",
        attempts.len()
    ));
    out
}

/// `## What failed`: the tasks the run failed or cancelled, and every agent run that
/// did not end done, each with its reason.
fn failures(report: &RunReport<'_>) -> String {
    let failed: Vec<&Task> = report
        .finished
        .iter()
        .filter(|task| matches!(task.status, TaskStatus::Failed | TaskStatus::Cancelled))
        .collect();
    let not_done: Vec<&AttemptRecord> = report
        .timeline
        .attempts
        .iter()
        .filter(|record| record.outcome.is_some_and(|o| o != AttemptOutcome::Done))
        .collect();
    if failed.is_empty() && not_done.is_empty() {
        return "## What failed\n\nNothing.\n".into();
    }
    let mut out = String::from("## What failed\n\n");
    for task in &failed {
        let why = task
            .result
            .as_ref()
            .and_then(|result| result.error.as_deref())
            .unwrap_or("no reason was given");
        out.push_str(&format!(
            "- **{}** ({}): {}\n",
            task.id,
            task.status.as_str(),
            cell(&one_line(why))
        ));
    }
    if !not_done.is_empty() {
        if !failed.is_empty() {
            out.push('\n');
        }
        out.push_str("Agent runs that did not end done:\n\n| Agent | Task | Outcome | Why |\n|---|---|---|---|\n");
        for record in not_done {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                record.lane,
                record.task.as_ref().map_or("", |task| task.as_str()),
                record.outcome.map_or("", AttemptOutcome::as_str),
                cell(&one_line(record.reason.as_deref().unwrap_or("")))
            ));
        }
    }
    out
}

/// Text that stays inside one markdown table cell or heading.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}
