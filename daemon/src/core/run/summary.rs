//! The words a run says of itself without a model: its plain summary, task counts,
//! clipped lines.

use baton_protocol::views::count as count_of;
use baton_protocol::{Task, TaskStatus};

/// How many of `tasks` are in `status`.
pub(super) fn count(tasks: &[Task], status: TaskStatus) -> usize {
    tasks.iter().filter(|task| task.status == status).count()
}

/// The most failed tasks a plain summary names one by one.
const FAILURES_LISTED: usize = 20;

/// A summary without a model: what was done and what failed (the first failures
/// by name, the rest counted: a run can fail hundreds of tasks).
pub fn plain_summary(tasks: &[Task]) -> String {
    let done = count(tasks, TaskStatus::Done);
    let failures = count(tasks, TaskStatus::Failed);
    let mut failed: Vec<String> = tasks
        .iter()
        .filter(|task| task.status == TaskStatus::Failed)
        .take(FAILURES_LISTED)
        .map(|task| {
            let error = task
                .result
                .as_ref()
                .and_then(|result| result.error.as_deref())
                .unwrap_or("no reason given");
            format!("- {}: {}", task.id, clip(error, 200))
        })
        .collect();
    if failures > FAILURES_LISTED {
        failed.push(format!(
            "- and {} more (`baton tasks --status failed` lists them)",
            failures - FAILURES_LISTED
        ));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_summary_names_the_first_failures_and_counts_the_rest() {
        let failed = |n: u64| -> Task {
            serde_json::from_value(serde_json::json!({
                "id": baton_protocol::TaskId::numbered(n),
                "description": "d",
                "status": "failed",
                "priority": 5,
                "created_at": "2026-12-01T09:00:00Z",
                "result": { "output": "", "error": "broke" },
            }))
            .unwrap()
        };
        let tasks: Vec<Task> = (1..=25).map(failed).collect();
        let summary = plain_summary(&tasks);
        assert_eq!(
            summary.lines().count(),
            2 + FAILURES_LISTED + 1,
            "{summary}"
        );
        assert!(summary.contains("- task-020: broke"), "{summary}");
        assert!(!summary.contains("task-021"), "{summary}");
        assert!(summary.ends_with("- and 5 more (`baton tasks --status failed` lists them)"));
    }
}
