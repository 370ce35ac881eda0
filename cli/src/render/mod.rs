//! Human output: the protocol's objects as short, readable text. Pure functions (no
//! I/O, time passed in), so that every layout is pinned by a snapshot test. Colours
//! come from `console` and switch off by themselves when stdout is not a terminal.

mod activity;
mod config;
mod run;
mod tasks;

use baton_protocol::{TaskId, TaskStatus};
use chrono::{DateTime, Utc};
use console::{pad_str, style, truncate_str, Alignment, StyledObject};

pub use activity::{event, log_line, worth_a_line, Detail};
pub use config::{changed_settings, config, config_value};
pub use run::{crash, daemon_info, history, progress, run_result, saved, status};
pub use tasks::{discovery, discovery_list, task, task_list};

/// A line cut to the terminal's width, when there is a terminal.
pub fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(width) => truncate_str(line, width, "…").into_owned(),
        None => line.to_owned(),
    }
}

pub use baton_protocol::views::count;

/// A status word in its colour: done green, failed red, cancelled dim, held yellow.
fn status_style(status: TaskStatus, text: &str) -> StyledObject<String> {
    let styled = style(text.to_owned());
    match status {
        TaskStatus::Done => styled.green(),
        TaskStatus::Failed => styled.red(),
        TaskStatus::Cancelled => styled.dim(),
        TaskStatus::Claimed | TaskStatus::InProgress => styled.yellow(),
        TaskStatus::Available => styled,
    }
}

/// Labelled values in two aligned columns; a value of many lines stays in its column.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn add(&mut self, label: impl Into<String>, value: impl ToString) {
        self.0.push((label.into(), value.to_string()));
    }

    fn render(&self) -> String {
        let width = self
            .0
            .iter()
            .map(|(label, _)| label.len())
            .max()
            .unwrap_or(0)
            + 2;
        let indent = format!("\n{}", " ".repeat(width));
        self.0
            .iter()
            .map(|(label, value)| {
                let label = style(pad(label, width)).dim();
                format!("{label}{}\n", value.trim_end().replace('\n', &indent))
            })
            .collect()
    }
}

fn pad(text: &str, width: usize) -> String {
    pad_str(text, width, Alignment::Left, None).into_owned()
}

fn id_list(ids: &[TaskId]) -> String {
    ids.iter()
        .map(TaskId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text folded onto one line, for lists and event lines.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A goal on one line, cut to what a line of a listing holds: a goal can be pages.
fn goal_line(goal: &str) -> String {
    console::truncate_str(&one_line(goal), 100, "…").into_owned()
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long ago `at` was, roughly: "12s ago", "5m ago", "3h ago", "2d ago".
fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    match seconds {
        ..=0 => "just now".into(),
        1..60 => format!("{seconds}s ago"),
        60..3600 => format!("{}m ago", seconds / 60),
        3600..86400 => format!("{}h ago", seconds / 3600),
        _ => format!("{}d ago", seconds / 86400),
    }
}
#[cfg(test)]
mod tests;
