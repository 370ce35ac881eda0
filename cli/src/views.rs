//! `baton graph`, `baton timeline` and `baton report`: the plan and the runs as the
//! protocol's views draw them (`baton_protocol::views`), coloured for a terminal
//! (console's colours, off with NO_COLOR or without a terminal) and cut to its width;
//! and the line `baton watch` gives an agent run.

use std::io;

use baton_protocol::methods::{self, ListTasksParams};
use baton_protocol::timeline::TimelineParams;
use baton_protocol::views::{graph, lanes, Paint};
use baton_protocol::{AttemptOutcome, AttemptRecord, RunResult, Task, TaskId, TaskStatus};
use clap::{Args, ValueEnum};
use console::style;
use serde::{Deserialize, Serialize};

use crate::commands::{terminal_width, CommandError, Session};
use crate::{printable, render};

/// The width a timeline is drawn in when stdout is no terminal.
const DEFAULT_WIDTH: usize = 80;

/// How `baton graph` draws the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// An indented tree for the terminal
    #[default]
    Tree,
    /// A Mermaid flowchart, for markdown documents
    Mermaid,
    /// A Graphviz DOT digraph
    Dot,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// How to draw it
    #[arg(long, value_enum, default_value_t)]
    pub format: GraphFormat,
    /// Cut the tree's lines to this many columns (by default the terminal's)
    #[arg(long, value_name = "COLUMNS")]
    pub width: Option<usize>,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// The run, numbered from 1 (by default the last)
    #[arg(long, value_name = "N")]
    pub run: Option<u64>,
    /// Draw it this many columns wide (by default the terminal's, else 80)
    #[arg(long, value_name = "COLUMNS")]
    pub width: Option<usize>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run, numbered from 1 (by default the last)
    #[arg(long, value_name = "N")]
    pub run: Option<u64>,
}

/// The plan as `baton graph --json` gives it: the tasks and the critical path.
#[derive(Debug, Serialize, Deserialize)]
struct PlanGraph {
    tasks: Vec<Task>,
    critical_path: Vec<TaskId>,
}

/// `baton graph`: the plan as a tree, or a Mermaid or DOT document.
pub async fn graph(session: &Session, args: GraphArgs) -> Result<(), CommandError> {
    let tasks = session
        .request::<methods::ListTasks>(&ListTasksParams { status: None })
        .await?;
    let plan = PlanGraph {
        critical_path: graph::critical_path(&tasks).into_iter().collect(),
        tasks,
    };
    let width = args
        .width
        .or_else(|| terminal_width(console::Term::stdout()));
    session.show(&plan, |plan| match args.format {
        GraphFormat::Tree => graph::tree(&plan.tasks, width, &Console),
        GraphFormat::Mermaid => graph::mermaid(&plan.tasks),
        GraphFormat::Dot => graph::dot(&plan.tasks),
    })
}

/// `baton timeline`: a run's agents, a lane each, over the run's time.
pub async fn timeline(session: &Session, args: TimelineArgs) -> Result<(), CommandError> {
    let timeline = session
        .request::<methods::GetTimeline>(&TimelineParams { run: args.run })
        .await?;
    let width = args
        .width
        .or_else(|| terminal_width(console::Term::stdout()))
        .unwrap_or(DEFAULT_WIDTH);
    session.show(&timeline, |timeline| {
        lanes::lanes(timeline, chrono::Utc::now(), width, &Console)
    })
}

/// `baton report`: the markdown report the daemon wrote when the run ended.
pub async fn report(session: &Session, args: ReportArgs) -> Result<(), CommandError> {
    let timeline = session
        .request::<methods::GetTimeline>(&TimelineParams { run: args.run })
        .await?;
    if timeline.run == 0 {
        return Err(CommandError::Input(
            "this board has had no run yet; `baton run` starts one".into(),
        ));
    }
    let path = session.workspace.run_report(timeline.run);
    let text = std::fs::read_to_string(&path).map_err(|err| {
        CommandError::Input(match (err.kind(), timeline.going) {
            (io::ErrorKind::NotFound, true) => format!(
                "run {} is still going; its report is written when it ends",
                timeline.run
            ),
            (io::ErrorKind::NotFound, false) => format!(
                "run {} has no report ({} does not exist); `baton timeline --run {}` shows its agents",
                timeline.run,
                path.display(),
                timeline.run
            ),
            _ => format!("cannot read the report {}: {err}", path.display()),
        })
    })?;
    let shown = Report {
        run: timeline.run,
        path: path.display().to_string(),
        markdown: text,
    };
    session.show(&shown, |report| report.markdown.clone())
}

/// A report as `baton report --json` gives it.
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    run: u64,
    path: String,
    markdown: String,
}

/// A finished run as `baton run` prints it: its result, then where its report is.
pub fn finished_run(result: &RunResult) -> String {
    let mut text = render::run_result(result);
    if let Some(path) = &result.report {
        text.push_str(&format!(
            "\n\n{} {}",
            style("report:").dim(),
            printable::text(path)
        ));
    }
    text
}

/// One line for an agent run starting or ending, for `baton watch`.
pub fn event_line(record: &AttemptRecord) -> String {
    let on = record
        .task
        .as_ref()
        .map(|task| format!(" on {task}"))
        .unwrap_or_default();
    match record.outcome {
        None => format!("{} {}{on}", style("agent started").cyan(), record.lane),
        Some(outcome) => {
            let mut line = format!(
                "{} {}{on}: {} (${:.4})",
                style("agent ended").cyan(),
                record.lane,
                Console.outcome(Some(outcome), &outcome.as_str().replace('_', " ")),
                record.cost_usd
            );
            if let Some(reason) = &record.reason {
                line.push_str(&format!(": {}", reason.lines().next().unwrap_or_default()));
            }
            line
        }
    }
}

/// The terminal's colours: done green, failed red, held and requeued yellow,
/// cancelled and idle dim, the critical path bold.
struct Console;

impl Paint for Console {
    fn status(&self, status: TaskStatus, text: &str) -> String {
        let text = style(text);
        match status {
            TaskStatus::Done => text.green(),
            TaskStatus::Failed => text.red(),
            TaskStatus::Cancelled => text.dim(),
            TaskStatus::Claimed | TaskStatus::InProgress => text.yellow(),
            TaskStatus::Available => text,
        }
        .to_string()
    }

    fn outcome(&self, outcome: Option<AttemptOutcome>, text: &str) -> String {
        let text = style(text);
        match outcome {
            None => text.cyan(),
            Some(AttemptOutcome::Done) => text.green(),
            Some(AttemptOutcome::Requeued | AttemptOutcome::Stopped) => text.yellow(),
            Some(AttemptOutcome::Cancelled | AttemptOutcome::Lost) => text.dim(),
            Some(AttemptOutcome::Failed | AttemptOutcome::TimedOut | AttemptOutcome::Budget) => {
                text.red()
            }
        }
        .to_string()
    }

    fn dim(&self, text: &str) -> String {
        style(text).dim().to_string()
    }

    fn strong(&self, text: &str) -> String {
        style(text).bold().to_string()
    }
}

#[cfg(test)]
mod tests {
    use baton_protocol::{AgentKind, AttemptOutcome, AttemptRecord, RunResult, TaskId};
    use chrono::{TimeZone, Utc};

    use super::{event_line, finished_run};

    fn record(outcome: Option<AttemptOutcome>, reason: Option<&str>) -> AttemptRecord {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        AttemptRecord {
            id: 3,
            run: 1,
            lane: "worker-2".into(),
            kind: AgentKind::Worker,
            task: Some(TaskId::numbered(4)),
            started_at: at,
            ended_at: outcome.map(|_| at),
            outcome,
            reason: reason.map(str::to_owned),
            cost_usd: 0.0123,
        }
    }

    #[test]
    fn watch_gives_an_agent_run_a_line_at_its_start_and_its_end() {
        console::set_colors_enabled(false);
        insta::assert_snapshot!(event_line(&record(None, None)), @"agent started worker-2 on task-004");
        insta::assert_snapshot!(
            event_line(&record(Some(AttemptOutcome::TimedOut), Some("ran past task_timeout\nmore"))),
            @"agent ended worker-2 on task-004: timed out ($0.0123): ran past task_timeout"
        );
    }

    #[test]
    fn a_finished_run_names_its_report() {
        console::set_colors_enabled(false);
        let result = RunResult {
            goal: "Ship it".into(),
            tasks_completed: 1,
            tasks_failed: 0,
            tasks_cancelled: 0,
            discoveries: 0,
            summary: "Shipped.".into(),
            cost_usd: 0.5,
            run: 2,
            report: Some("/w/.baton/logs/reports/run-2.md".into()),
            stages: Default::default(),
            stopped: None,
        };
        let text = finished_run(&result);
        assert!(
            text.ends_with("Shipped.\n\nreport: /w/.baton/logs/reports/run-2.md"),
            "{text}"
        );
    }
}
