//! What baton itself writes into a task's agent log, beside the agent's own stream:
//! the line that says how an attempt ended; and what the log tells of an agent the
//! daemon's stop cut off.

use std::path::Path;

use baton_protocol::{Task, TaskId, TaskStatus, Usage, Workspace};

use super::stream::{self, Turns};
use crate::core::run::{AttemptEnding, Halt, LEADER};
use crate::core::{Board, LostSpending};
use crate::orchestrator::Orchestrator;

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

/// The line after an answer the gate sends back to its agent (a conflict to
/// resolve, a failed verification, a reviewer's changes), so that the log says why
/// the agent was resumed: what it was asked, by its first sentence.
pub(super) fn sent_back_line(message: &str) -> serde_json::Value {
    let first = message.split_once(". ").map_or(message, |(first, _)| first);
    let text = format!("{}; its agent is resumed", first.trim_end_matches('.'));
    serde_json::json!({ "type": "baton", "subtype": "sent_back", "text": text })
}

/// Appends one line to an agent's log; a log that cannot be written loses the line,
/// never the task.
pub(super) async fn append_to_log(path: &Path, line: &serde_json::Value) {
    use tokio::io::AsyncWriteExt;
    let written = async {
        let mut file = open_for_append(path).await?;
        file.write_all(format!("{line}\n").as_bytes()).await?;
        // tokio writes on another thread: the line is in the file once flushed.
        file.flush().await
    }
    .await;
    if let Err(err) = written {
        tracing::warn!("cannot add to the log {}: {err}", path.display());
    }
}

/// Opens an agent's log to add to it, creating it private. Only a file of the
/// daemon's own: a link put in its place is not followed, and a named pipe is not
/// waited on (the log would be lost, the task not).
pub(super) async fn open_for_append(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .await
}

/// The largest task log read for what a lost agent spent.
const LOG_READ: u64 = 64 * 1024 * 1024;

/// What the agents a stopped daemon left working on each task had spent: their
/// turns were counted as they came, but only in the daemon's memory. Each task's log
/// says it: its last agent process, when no result or closing line followed it.
pub(super) fn spent_by_lost_agents(
    orchestrator: &Orchestrator,
    workspace: &Workspace,
) -> LostSpending {
    let open: Vec<(String, Option<TaskId>)> = orchestrator.read(|board: &Board| {
        (board.attempts().iter())
            .filter(|record| record.is_open())
            .map(|record| (record.lane.clone(), record.task.clone()))
            .collect()
    });
    // A log that is not a regular file (a pipe would be waited on for ever) or is
    // past the limit is not read.
    let spent = |path: &Path| {
        let log = baton_protocol::regular_file::read(path, LOG_READ).ok()?;
        cut_off(&String::from_utf8_lossy(&log))
    };
    let mut lost = LostSpending::default();
    for (lane, task) in open {
        match task {
            Some(task) => {
                if let Some(usage) = spent(&workspace.task_log(&task)) {
                    lost.by_task.insert(task, usage);
                }
            }
            None => {
                let log = match lane.as_str() {
                    LEADER => workspace.leader_log(),
                    _ => workspace.summary_log(),
                };
                if let Some(usage) = spent(&log) {
                    lost.by_lane.insert(lane, usage);
                }
            }
        }
    }
    lost
}

/// The turns of the last agent process in `log`, when it was cut off: nothing came
/// after them, neither its result nor the line baton writes once it has counted an
/// attempt.
fn cut_off(log: &str) -> Option<Usage> {
    let lines: Vec<(&str, serde_json::Value)> = log
        .lines()
        .filter_map(|line| Some((line, serde_json::from_str(line).ok()?)))
        .collect();
    let start = lines
        .iter()
        .rposition(|(_, line)| line["type"] == "system" && line["subtype"] == "init")?;
    let last = &lines[start..];
    if last
        .iter()
        .any(|(_, line)| line["type"] == "result" || line["type"] == "baton")
    {
        return None;
    }
    let mut turns = Turns::default();
    let mut usage = Usage::default();
    for (line, _) in last {
        for event in stream::parse_line(line).unwrap_or_default() {
            if let Some(spent) = turns.usage_of(&event) {
                usage.add(&spent);
            }
        }
    }
    (usage.turns > 0).then_some(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_log_is_added_to_only_as_a_file_of_the_daemon_s_own() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("task-001.log");
        for line in ["{\"n\":1}", "{\"n\":2}"] {
            append_to_log(&log, &serde_json::from_str(line).unwrap()).await;
        }
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, "").unwrap();
        let link = dir.path().join("task-002.log");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let fifo = dir.path().join("task-003.log");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `name` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        for planted in [&link, &fifo] {
            // Neither followed nor waited on: the call returns, with an error.
            assert!(open_for_append(planted).await.is_err(), "{planted:?}");
        }
        assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "");
    }

    #[test]
    fn a_cut_off_process_s_turns_are_counted_and_forged_figures_do_not_overflow() {
        let turn = |id: &str, tokens: u64| {
            serde_json::json!({ "type": "assistant", "message": {
                "id": id, "model": "claude-sonnet-4-20250514",
                "content": [{ "type": "text", "text": "x" }],
                "usage": { "input_tokens": tokens, "cache_read_input_tokens": tokens, "output_tokens": 1 },
            }})
            .to_string()
        };
        let init = r#"{"type":"system","subtype":"init","session_id":"s"}"#;
        let log = [
            init,
            &turn("m1", 100),
            &turn("m1", 100),
            &turn("m2", u64::MAX),
        ]
        .join("\n");
        let usage = cut_off(&log).expect("the process was cut off");
        assert_eq!((usage.turns, usage.input_tokens), (2, u64::MAX));
        let ended = format!("{log}\n{}", r#"{"type":"result","is_error":false}"#);
        assert_eq!(cut_off(&ended), None, "a process that ended was counted");
    }
}
