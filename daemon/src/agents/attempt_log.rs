//! What baton itself writes into a task's agent log, beside the agent's own stream:
//! the line that says how an attempt ended.

use std::path::Path;

use baton_protocol::{Task, TaskStatus};

use crate::core::run::{AttemptEnding, Halt};

/// The line baton adds to a task's log after an attempt, so that the log says how
/// the attempt ended even when the agent could not (stopped, timed out, killed), and
/// whether its work was merged: `{"type": "baton", "subtype": …, "text": …}`.
pub(super) fn closing_line(
    ending: &AttemptEnding,
    halt: Option<&Halt>,
    integration: Option<&str>,
) -> Option<serde_json::Value> {
    let (subtype, text) = match ending {
        AttemptEnding::Succeeded {
            files_modified,
            files_created,
            ..
        } => (
            "merged",
            format!(
                "into {}: {} file(s) modified, {} created",
                integration?,
                files_modified.len(),
                files_created.len()
            ),
        ),
        AttemptEnding::NotLanded(conflict) => ("conflict", conflict.clone()),
        AttemptEnding::AgentError { .. } => return None,
        AttemptEnding::Stopped => (
            "stopped",
            halt.map_or_else(|| "the task was cancelled".to_owned(), Halt::describe),
        ),
        AttemptEnding::TimedOut => (
            "timed_out",
            "the attempt ran past task_timeout; the agent and everything it started were ended"
                .to_owned(),
        ),
        AttemptEnding::Fault { detail, .. } => ("ended", detail.clone()),
    };
    Some(serde_json::json!({ "type": "baton", "subtype": subtype, "text": text }))
}

/// The line after an answer that never reached the gate: its agent was halted, or
/// its task ended meanwhile (the agent failed it, or it was cancelled). `branch` is
/// where the work is kept, with worktrees.
pub(super) fn unlanded_line(
    task: &Task,
    halt: Option<&Halt>,
    branch: Option<&str>,
) -> serde_json::Value {
    let (subtype, why) = match (halt, task.status) {
        (Some(halt), _) => ("stopped", halt.describe()),
        (None, TaskStatus::Cancelled) => ("stopped", "the task was cancelled".to_owned()),
        (None, _) => (
            "failed",
            task.result
                .as_ref()
                .and_then(|result| result.error.clone())
                .unwrap_or_else(|| format!("{} ended before its work was merged", task.id)),
        ),
    };
    let kept = branch.map_or(String::new(), |branch| {
        format!("; its work is kept on {branch}")
    });
    serde_json::json!({ "type": "baton", "subtype": subtype, "text": format!("{why}{kept}") })
}

/// Appends one line to an agent's log; a log that cannot be written loses the line,
/// never the task.
pub(super) async fn append_to_log(path: &Path, line: &serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .await;
    let written = match file {
        Ok(mut file) => file.write_all(format!("{line}\n").as_bytes()).await,
        Err(err) => Err(err),
    };
    if let Err(err) = written {
        tracing::warn!("cannot add to the log {}: {err}", path.display());
    }
}
