//! The words a run says of itself without a model: its plain summary, task counts,
//! clipped lines.

use baton_protocol::views::count as count_of;
use baton_protocol::{Task, TaskStatus};

/// How many of `tasks` are in `status`.
pub(super) fn count(tasks: &[Task], status: TaskStatus) -> usize {
    tasks.iter().filter(|task| task.status == status).count()
}

/// A summary without a model: what was done and what failed.
pub fn plain_summary(tasks: &[Task]) -> String {
    let done = count(tasks, TaskStatus::Done);
    let failed: Vec<String> = tasks
        .iter()
        .filter(|task| task.status == TaskStatus::Failed)
        .map(|task| {
            let error = task
                .result
                .as_ref()
                .and_then(|result| result.error.as_deref())
                .unwrap_or("no reason given");
            format!("- {}: {}", task.id, clip(error, 200))
        })
        .collect();
    let mut text = format!("{} done.", task_count(done));
    if !failed.is_empty() {
        text.push_str(&format!("\nFailed:\n{}", failed.join("\n")));
    }
    text
}

/// `n` tasks, in the singular for one.
pub fn task_count(n: usize) -> String {
    count_of(n, "task", "tasks")
}

/// The first line of `text`, cut at `limit` characters, with an ellipsis when
/// anything was left out.
pub fn clip(text: &str, limit: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &line[..end]),
        None if line.len() < text.trim_end().len() => format!("{line}…"),
        None => line.to_owned(),
    }
}
