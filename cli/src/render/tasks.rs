//! Tasks and discoveries: `baton tasks`, `baton show`, `baton discoveries`.

use std::collections::HashSet;

use super::{count, id_list, one_line, pad, status_style, time, Fields};
use crate::printable;
use baton_protocol::{Discovery, Task, TaskId, TaskStatus};
use console::{measure_text_width, style, truncate_str};

/// How wide a description may be in `baton tasks` when the output is no terminal.
const DESCRIPTION_WIDTH: usize = 60;

/// A description never shrinks below this, however narrow the terminal.
const MIN_DESCRIPTION_WIDTH: usize = 20;

/// One line per task: id, status, priority, description, dependencies, claimer.
/// `width` is the terminal's, when there is one: lines are cut to fit it.
pub fn task_list(tasks: &[Task], width: Option<usize>) -> String {
    let id_width = tasks
        .iter()
        .map(|task| measure_text_width(task.id.as_str()))
        .max()
        .unwrap_or(0);
    let status_width = TaskStatus::ALL
        .iter()
        .map(|status| status.as_str().len())
        .max()
        .unwrap_or(0);
    let priority_width = "p10".len();
    let done: HashSet<&TaskId> = tasks
        .iter()
        .filter(|task| task.status == TaskStatus::Done)
        .map(|task| &task.id)
        .collect();
    let suffixes: Vec<String> = tasks.iter().map(|task| task_suffix(task, &done)).collect();
    let suffix_width = suffixes
        .iter()
        .map(|suffix| measure_text_width(suffix))
        .max()
        .unwrap_or(0);
    let description_width = match width {
        Some(width) => {
            let taken = id_width + status_width + priority_width + 3 * 2 + suffix_width + 2;
            width.saturating_sub(taken).max(MIN_DESCRIPTION_WIDTH)
        }
        None => DESCRIPTION_WIDTH,
    };
    let descriptions: Vec<String> = tasks
        .iter()
        .map(|task| truncate_str(&one_line(&task.description), description_width, "…").into_owned())
        .collect();
    let column = if suffix_width == 0 {
        0
    } else {
        descriptions
            .iter()
            .map(|text| measure_text_width(text))
            .max()
            .unwrap_or(0)
    };

    let mut out = String::new();
    for ((task, description), suffix) in tasks.iter().zip(&descriptions).zip(&suffixes) {
        let line = format!(
            "{}  {}  {}  {}  {}",
            pad(task.id.as_str(), id_width),
            pad(
                &status_style(task.status, task.status.as_str()).to_string(),
                status_width
            ),
            pad(&format!("p{}", task.priority), priority_width),
            pad(description, column),
            style(suffix).dim(),
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What `baton tasks` adds after a description: what a task not started or ended
/// without being done still needs (its dependencies not `done`), who has a task.
fn task_suffix(task: &Task, done: &HashSet<&TaskId>) -> String {
    let mut parts = Vec::new();
    let needs: Vec<TaskId> = match task.status {
        TaskStatus::Available | TaskStatus::Failed | TaskStatus::Cancelled => task
            .dependencies
            .iter()
            .filter(|dependency| !done.contains(dependency))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    if !needs.is_empty() {
        parts.push(format!("needs {}", id_list(&needs)));
    }
    match (&task.claimed_by, task.stage) {
        (Some(agent), Some(stage)) if task.status.is_held() => {
            parts.push(format!("by {agent}, {stage}"))
        }
        (Some(agent), _) => parts.push(format!("by {agent}")),
        _ => {}
    }
    parts.join("  ")
}

/// Everything about one task, its result included, for `baton show`. It is long
/// because it has one field per part of a task.
pub fn task(task: &Task) -> String {
    let mut fields = Fields::default();
    fields.add("id", task.id.as_str());
    fields.add("description", &task.description);
    fields.add("status", status_style(task.status, task.status.as_str()));
    fields.add("priority", task.priority);
    if !task.dependencies.is_empty() {
        fields.add("dependencies", id_list(&task.dependencies));
    }
    if let Some(id) = &task.failed_dependency {
        fields.add(
            "failed because",
            format!("dependency {id} failed or was cancelled"),
        );
    }
    if let Some(agent) = &task.claimed_by {
        fields.add("claimed by", agent);
    }
    if let Some(stage) = task.stage {
        fields.add("stage", stage);
    }
    if let Some(model) = &task.model {
        fields.add("model", model);
    }
    if task.attempts > 0 {
        fields.add("attempts", task.attempts);
    }
    if task.usage.turns > 0 || task.usage.cost_usd > 0.0 {
        let usage = &task.usage;
        // Claude Code reports how long its processes ran in their results; an
        // attempt cut off (stopped, timed out) has none to report.
        let ran = match usage.duration_ms {
            0 => String::new(),
            ms => format!(", {:.1}s in Claude Code", ms as f64 / 1000.0),
        };
        fields.add(
            "spent",
            format!(
                "${:.4}, {}, {} tokens in, {} out{ran}",
                usage.cost_usd,
                count(usage.turns as usize, "turn", "turns"),
                usage.input_tokens,
                usage.output_tokens,
            ),
        );
    }
    if !task.permission_denials.is_empty() {
        fields.add(
            "refused tools",
            style(task.permission_denials.join("\n")).yellow(),
        );
    }
    if !task.context.files.is_empty() {
        fields.add("files", names(&task.context.files));
    }
    if !task.context.hints.is_empty() {
        fields.add("hints", &task.context.hints);
    }
    if let Some(parent) = &task.context.parent_task {
        fields.add("parent task", parent.as_str());
    }
    fields.add("created", time(task.created_at));
    if let Some(at) = task.claimed_at {
        fields.add("claimed", time(at));
    }
    if let Some(at) = task.completed_at {
        let label = match task.status {
            TaskStatus::Done => "completed",
            _ => "ended",
        };
        fields.add(label, time(at));
    }
    if let Some(result) = &task.result {
        if let Some(error) = &result.error {
            fields.add("error", style(error).red());
        }
        if !result.output.is_empty() {
            fields.add("output", &result.output);
        }
        if !result.files_modified.is_empty() {
            fields.add("files modified", names(&result.files_modified));
        }
        if !result.files_created.is_empty() {
            fields.add("files created", names(&result.files_created));
        }
        if !result.discoveries.is_empty() {
            fields.add("discoveries", result.discoveries.join("\n"));
        }
        if !result.subtasks_created.is_empty() {
            fields.add("subtasks created", id_list(&result.subtasks_created));
        }
    }
    fields.render()
}

/// One discovery: who found it, for which task, its tags, then what was found.
pub fn discovery(discovery: &Discovery) -> String {
    let mut who = discovery.agent_id.clone();
    if let Some(task) = &discovery.related_task {
        who.push_str(&format!(" on {task}"));
    }
    if !discovery.tags.is_empty() {
        who.push_str(&format!(" [{}]", discovery.tags.join(", ")));
    }
    format!("{}: {}", style(who).bold(), discovery.content)
}

/// Every discovery with its time, for `baton discoveries`.
pub fn discovery_list(discoveries: &[Discovery]) -> String {
    discoveries
        .iter()
        .map(|found| {
            let text = discovery(found).replace('\n', "\n  ");
            format!("{}  {text}\n", style(time(found.created_at)).dim())
        })
        .collect()
}

/// File names, one a line, each kept to its line.
fn names(files: &[String]) -> String {
    let names: Vec<_> = files.iter().map(|file| printable::name(file)).collect();
    names.join("\n")
}
