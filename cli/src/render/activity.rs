//! What happens as it happens: `baton watch`'s event lines and `baton logs`' transcript.

use super::run::run_finished;
use super::{discovery, goal_line, one_line, status_style};
use baton_protocol::methods::{AgentActivity, StateChange, StateChangeReason};
use baton_protocol::{agent_result, ActivityKind, Event, RunMode, TaskStatus};
use console::{style, truncate_str};
use serde_json::Value;

/// One line per event, for `baton watch`. It is long because it has one arm per kind
/// of event.
pub fn event(event: &Event) -> String {
    match event {
        Event::TaskCreated(task) => format!(
            "{} {} [p{}] {}",
            style("created").cyan(),
            task.id,
            task.priority,
            one_line(&task.description)
        ),
        Event::TaskUpdated(task) => {
            let mut line = format!(
                "{} {}: {}",
                style("updated").yellow(),
                task.id,
                status_style(task.status, task.status.as_str())
            );
            if let (true, Some(agent)) = (task.status.is_held(), &task.claimed_by) {
                line.push_str(&format!(" by {agent}"));
                // A held task's updates are mostly its way through the stages.
                if let Some(stage) = task.stage {
                    line.push_str(&format!(", {stage}"));
                }
            }
            line
        }
        Event::TaskCompleted(task) => format!("{} {}", style("completed").green(), task.id),
        Event::TaskFailed(task) => {
            let verb = match task.status {
                TaskStatus::Cancelled => style("cancelled").dim(),
                _ => style("failed").red(),
            };
            let reason = task
                .result
                .as_ref()
                .and_then(|result| result.error.as_deref())
                .filter(|error| *error != task.status.as_str());
            match reason {
                Some(error) => format!("{verb} {}: {}", task.id, one_line(error)),
                None => format!("{verb} {}", task.id),
            }
        }
        Event::TaskDeleted(task) => format!(
            "{} {} {}",
            style("deleted").dim(),
            task.id,
            one_line(&task.description)
        ),
        Event::Discovery(found) => format!(
            "{} by {}",
            style("discovery").magenta(),
            one_line(&discovery(found))
        ),
        Event::AgentActivity(activity) => agent_activity(activity),
        Event::RunStarted(started) => {
            let mut line = format!(
                "{} ({}) {}",
                style("run started").bold(),
                match started.mode {
                    RunMode::Leader => "leader planning",
                    RunMode::Predefined => "predefined tasks",
                    RunMode::Plan => "planning only",
                },
                goal_line(&started.goal)
            );
            for note in &started.notes {
                line.push_str(&format!("\n  {}", one_line(note)));
            }
            line
        }
        Event::RunFinished(result) => run_finished(result),
        Event::Attempt(record) => crate::views::event_line(record),
        Event::StateChanged(StateChange { reason }) => {
            let what = match reason {
                StateChangeReason::Init => "goal set",
                StateChangeReason::Plan => "master plan set",
                StateChangeReason::Resync => "events were missed; run `baton status`",
                StateChangeReason::Configure => "configuration changed",
                StateChangeReason::Start => "dispatch started",
                StateChangeReason::Stop => "dispatch stopped",
                StateChangeReason::Load => "state loaded",
            };
            style(what).bold().to_string()
        }
    }
}

/// Whether `baton watch` gives an event a line. A task's end has its own line, so
/// the update recording its last attempt and its agent's `finished` would only
/// repeat it (a cancel would take three lines).
pub fn worth_a_line(event: &Event) -> bool {
    match event {
        Event::TaskUpdated(task) => !task.status.is_finished(),
        Event::AgentActivity(activity) => activity.kind != ActivityKind::Finished,
        _ => true,
    }
}

fn agent_activity(activity: &AgentActivity) -> String {
    let mut who = activity.agent_id.clone();
    if let Some(task) = &activity.task_id {
        who.push_str(&format!(" on {task}"));
    }
    let text = one_line(&activity.text);
    let what = match activity.kind {
        ActivityKind::Tool => format!("uses {text}"),
        ActivityKind::Text | ActivityKind::Other => text,
        kind if text.is_empty() => kind.as_str().to_owned(),
        kind => format!("{}: {text}", kind.as_str()),
    };
    format!("{} {what}", style(format!("{who}:")).dim())
}

/// One line of a task's agent log (Claude Code's stream-json), for people; `None`
/// for lines that say nothing worth showing. It is long because it has one arm per
/// kind of line in the stream.
pub fn log_line(line: &str, detail: Detail) -> Option<String> {
    let mut event: Value = serde_json::from_str(line).ok()?;
    crate::printable::json(&mut event);
    let text = match event["type"].as_str()? {
        "system" if event["subtype"] == "init" => format!(
            "{} session {} ({})",
            style("started").cyan(),
            event["session_id"].as_str().unwrap_or("?"),
            event["model"].as_str().unwrap_or("?")
        ),
        "assistant" => event["message"]["content"]
            .as_array()?
            .iter()
            .filter_map(|block| match block["type"].as_str()? {
                "text" => Some(agent_text(block["text"].as_str()?, detail)),
                "tool_use" => {
                    // Compact JSON is one line already, however long.
                    let input = block["input"].to_string();
                    let input = match detail {
                        Detail::Short => {
                            truncate_str(&one_line(&input), TOOL_INPUT_WIDTH, "…").into_owned()
                        }
                        Detail::Full => input,
                    };
                    Some(format!(
                        "{} {} {}",
                        style("→").cyan(),
                        block["name"].as_str().unwrap_or("tool"),
                        style(input).dim()
                    ))
                }
                _ => None,
            })
            .filter(|text| !text.is_empty())
            .collect::<Vec<_>>()
            .join("\n"),
        // The tools' answers come back to the agent as the user's message.
        "user" => event["message"]["content"]
            .as_array()?
            .iter()
            .filter(|block| block["type"] == "tool_result")
            .map(|block| tool_output(block, detail))
            .collect::<Vec<_>>()
            .join("\n"),
        // How an attempt ended, as baton adds it after the agent's own lines.
        "baton" => {
            let text = event["text"].as_str().unwrap_or_default();
            let label = match event["subtype"].as_str().unwrap_or_default() {
                "merged" => style("merged").green(),
                "conflict" => style("not merged").red(),
                "timed_out" => style("timed out").red(),
                "stopped" => style("stopped").yellow(),
                "sent_back" => style("sent back").yellow(),
                other => style(other).red(),
            };
            format!("{label}: {text}")
        }
        "result" => {
            let verdict = if event["is_error"].as_bool() == Some(false) {
                style("finished").green()
            } else {
                style("failed").red()
            };
            let turns = event["num_turns"].as_u64().unwrap_or(0);
            format!(
                "{verdict} after {turns} {}, ${:.4}: {}",
                if turns == 1 { "turn" } else { "turns" },
                agent_result::process_cost(&event),
                agent_text(event["result"].as_str().unwrap_or_default(), detail)
            )
        }
        "baton_verify" => {
            let command = event["command"].as_str().unwrap_or_default();
            let outcome = event["outcome"].as_str();
            let verdict = match (event["passed"].as_bool(), outcome, event["status"].as_i64()) {
                (Some(true), _, _) => style("verified").green().to_string(),
                (_, Some("stopped"), _) => style("verification stopped").yellow().to_string(),
                (_, Some("timed_out"), _) => style("verification timed out").red().to_string(),
                (_, Some("not_run"), _) => style("verification could not run").red().to_string(),
                (_, _, Some(status)) => format!(
                    "{} (exit status {status})",
                    style("verification failed").red()
                ),
                _ => style("verification failed").red().to_string(),
            };
            let output = event["output"].as_str().unwrap_or_default().trim_end();
            match output.is_empty() {
                true => format!("{verdict}: {command}"),
                false => format!("{verdict}: {command}\n{output}"),
            }
        }
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// How much of each tool's output `baton logs` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The first lines, each cut to the width of a line.
    Short,
    /// All of it.
    Full,
}

/// How many lines of a tool's output `Detail::Short` shows.
const TOOL_OUTPUT_LINES: usize = 3;

/// How wide a tool's input or a line of its output may be with `Detail::Short`.
const TOOL_INPUT_WIDTH: usize = 160;

/// How many lines of an agent's own text `Detail::Short` shows, and how many
/// characters at most: an answer may be a whole report.
const AGENT_TEXT_LINES: usize = 20;
const AGENT_TEXT_CHARS: usize = 2_000;

/// What an agent wrote: the start of it, saying how much more there is, or all of it.
fn agent_text(text: &str, detail: Detail) -> String {
    let text = text.trim();
    let lines: Vec<&str> = text.lines().collect();
    let short = lines.len() <= AGENT_TEXT_LINES && text.chars().count() <= AGENT_TEXT_CHARS;
    if detail == Detail::Full || short {
        return text.to_owned();
    }
    let start = lines[..lines.len().min(AGENT_TEXT_LINES)].join("\n");
    let start = truncate_str(&start, AGENT_TEXT_CHARS, "…");
    let whole = match lines.len() {
        1 => format!("{} characters", text.chars().count()),
        n => format!("{n} lines"),
    };
    format!(
        "{start}\n{}",
        style(format!("… {whole} in all (--full shows them)")).dim()
    )
}

/// A tool's answer, indented under the call: the start of it, or all of it.
fn tool_output(block: &Value, detail: Detail) -> String {
    let text = match &block["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|part| part["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    };
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let shown: Vec<String> = match detail {
        Detail::Full => lines.iter().map(|line| (*line).to_owned()).collect(),
        Detail::Short => lines
            .iter()
            .take(TOOL_OUTPUT_LINES)
            .map(|line| truncate_str(line, TOOL_INPUT_WIDTH, "…").into_owned())
            .collect(),
    };
    let mut out = if shown.is_empty() {
        format!("  {}", style("← (no output)").dim())
    } else {
        let arrow = if block["is_error"] == Value::Bool(true) {
            style("←").red()
        } else {
            style("←").dim()
        };
        shown
            .iter()
            .enumerate()
            .map(|(i, line)| match i {
                0 => format!("  {arrow} {line}"),
                _ => format!("    {line}"),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let hidden = lines.len() - shown.len();
    if hidden > 0 {
        let more = if hidden == 1 { "line" } else { "lines" };
        out.push_str(&format!(
            "\n    {}",
            style(format!("… {hidden} more {more} (--full shows them)")).dim()
        ));
    }
    out
}
