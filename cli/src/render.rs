//! Human output: the protocol's objects as short, readable text. Pure functions (no
//! I/O, time passed in), so that every layout is pinned by a snapshot test. Colours
//! come from `console` and switch off by themselves when stdout is not a terminal.

use baton_protocol::methods::{
    AgentActivity, ArchivedBoard, DaemonInfoResult, SavedState, StateChange, StateChangeReason,
};
use baton_protocol::{
    ActivityKind, Config, Crash, Discovery, Event, Progress, RunMode, RunPhase, RunResult, Status,
    Task, TaskId, TaskStatus,
};
use chrono::{DateTime, Utc};
use console::{measure_text_width, pad_str, style, truncate_str, Alignment, StyledObject};
use serde_json::Value;

/// How wide a description may be in `baton tasks` when the output is no terminal.
const DESCRIPTION_WIDTH: usize = 60;

/// A description never shrinks below this, however narrow the terminal.
const MIN_DESCRIPTION_WIDTH: usize = 20;

/// How many of the latest discoveries `baton status` shows.
const STATUS_DISCOVERIES: usize = 5;

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
    let suffixes: Vec<String> = tasks.iter().map(task_suffix).collect();
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

/// What `baton tasks` adds after a description: what the task waits for, who has it.
fn task_suffix(task: &Task) -> String {
    let mut parts = Vec::new();
    if !task.dependencies.is_empty() {
        parts.push(format!("needs {}", id_list(&task.dependencies)));
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

/// Everything about one task, its result included, for `baton show`.
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
        fields.add(
            "spent",
            format!(
                "${:.4}, {} turns, {} tokens in, {} out, {:.1}s",
                usage.cost_usd,
                usage.turns,
                usage.input_tokens,
                usage.output_tokens,
                usage.duration_ms as f64 / 1000.0
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
        fields.add("files", task.context.files.join("\n"));
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
            fields.add("files modified", result.files_modified.join("\n"));
        }
        if !result.files_created.is_empty() {
            fields.add("files created", result.files_created.join("\n"));
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

/// The workspace at a glance, for `baton status`; `now` dates the last activity.
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
        fields.add("run", line);
    } else if let Some(result) = &status.last_run {
        fields.add(
            "last run",
            format!("{}\n{}", run_counts(result), result.summary.trim()),
        );
    }
    fields.add("progress", progress(&status.progress));
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

/// One line per event, for `baton watch`.
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
                one_line(&started.goal)
            );
            for note in &started.notes {
                line.push_str(&format!("\n  {}", one_line(note)));
            }
            line
        }
        Event::RunFinished(result) => run_finished(result),
        Event::Attempt(record) => crate::timeline::event_line(record),
        Event::StateChanged(StateChange { reason }) => {
            let what = match reason {
                StateChangeReason::Init => "goal set",
                StateChangeReason::Plan => "master plan set",
                StateChangeReason::Resync => "events were missed; run `baton status`",
                StateChangeReason::Configure => "configuration changed",
                StateChangeReason::Start => "started",
                StateChangeReason::Stop => "stopped",
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

/// A line cut to the terminal's width, when there is a terminal.
pub fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(width) => truncate_str(line, width, "…").into_owned(),
        None => line.to_owned(),
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

fn run_finished(result: &RunResult) -> String {
    format!("{}: {}", style("run finished").bold(), run_counts(result))
}

/// What a run did and cost, in one line.
fn run_counts(result: &RunResult) -> String {
    format!(
        "{} completed, {} failed, {}, ${:.2}",
        result.tasks_completed,
        result.tasks_failed,
        count(result.discoveries, "discovery", "discoveries"),
        result.cost_usd
    )
}

/// `n` things, in the singular for one.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A run's result as `baton run` prints it: the counts, then the summary.
pub fn run_result(result: &RunResult) -> String {
    format!(
        "{}

{}",
        run_finished(result),
        result.summary.trim()
    )
}

/// One line of a task's agent log (Claude Code's stream-json), for people; `None`
/// for lines that say nothing worth showing.
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
                "text" => Some(block["text"].as_str()?.trim().to_owned()),
                "tool_use" => {
                    let input = one_line(&block["input"].to_string());
                    let input = match detail {
                        Detail::Short => truncate_str(&input, TOOL_INPUT_WIDTH, "…").into_owned(),
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
            format!(
                "{verdict} after {} turns, ${:.4}: {}",
                event["num_turns"].as_u64().unwrap_or(0),
                event["total_cost_usd"].as_f64().unwrap_or(0.0),
                event["result"].as_str().unwrap_or_default().trim()
            )
        }
        "baton_verify" => {
            let command = event["command"].as_str().unwrap_or_default();
            let verdict = match (event["passed"].as_bool(), event["status"].as_i64()) {
                (Some(true), _) => style("verified").green().to_string(),
                (_, Some(status)) => format!(
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

/// Every setting, one per line, for `baton config`.
pub fn config(config: &Config) -> String {
    let Ok(Value::Object(settings)) = serde_json::to_value(config) else {
        return String::new();
    };
    let mut fields = Fields::default();
    for (key, value) in &settings {
        fields.add(key.clone(), one_line_value(key, value));
    }
    fields.render()
}

/// One setting's value in full, for `baton config KEY`.
pub fn config_value(key: &str, value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => unset_setting(key).to_owned(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// A setting's value cut to one line, so that long prompts do not flood the list.
fn one_line_value(key: &str, value: &Value) -> String {
    let full = config_value(key, value);
    let lines = full.lines().count();
    if lines > 1 {
        let first = truncate_str(full.lines().next().unwrap_or_default(), 50, "…");
        format!("{first} {}", style(format!("({lines} lines)")).dim())
    } else if value.is_null() {
        style(full).dim().to_string()
    } else {
        full
    }
}

/// What an unset optional setting means.
fn unset_setting(key: &str) -> &'static str {
    match key {
        "isolation" => "automatic (worktree in a git repository, else shared)",
        "leader_prompt" | "worker_prompt" | "reviewer_prompt" => "built-in",
        _ => "none",
    }
}

/// Which daemon serves the workspace, for `baton daemon start|status`.
pub fn daemon_info(info: &DaemonInfoResult) -> String {
    let mut fields = Fields::default();
    fields.add(
        "daemon",
        format!("batond {} (pid {})", info.version, info.pid),
    );
    fields.add("workspace", &info.workspace);
    fields.add("socket", &info.socket);
    fields.add("log file", &info.log_file);
    fields.render()
}

/// What `baton save` wrote.
pub fn saved(saved: &SavedState) -> String {
    format!(
        "saved {} tasks and {} discoveries to {}\n",
        saved.tasks, saved.discoveries, saved.path
    )
}

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

/// `baton history`: one line per archived board, newest first.
pub fn history(boards: &[ArchivedBoard]) -> String {
    boards
        .iter()
        .map(|board| {
            format!(
                "{}  {} tasks ({} done, {} failed), {} discoveries  {}\n  {}",
                board.name,
                board.tasks,
                board.done,
                board.failed,
                board.discoveries,
                one_line(&board.goal),
                board.path
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use baton_protocol::methods::{AgentActivity, StateChange, StateChangeReason};
    use baton_protocol::{AgentStatus, ByStatus, RunStatus, TaskContext, TaskResult};
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn plain() {
        console::set_colors_enabled(false);
    }

    fn task(id: &str, status: TaskStatus, description: &str) -> Task {
        Task {
            id: TaskId::from(id),
            description: description.into(),
            status,
            priority: 5,
            claimed_by: None,
            dependencies: Vec::new(),
            context: TaskContext::default(),
            result: None,
            created_at: at("2025-03-01T09:00:00Z"),
            claimed_at: None,
            completed_at: None,
            attempts: 0,
            failed_dependency: None,
            usage: Default::default(),
            session_id: None,
            permission_denials: Vec::new(),
            supervised: false,
            model: None,
            stage: None,
        }
    }

    fn finished_task() -> Task {
        Task {
            priority: 2,
            claimed_by: Some("worker-1".into()),
            dependencies: vec![TaskId::from("task-001"), TaskId::from("task-002")],
            context: TaskContext {
                files: vec!["src/parser.rs".into(), "src/lexer.rs".into()],
                hints: "The lexer already handles comments.".into(),
                parent_task: Some(TaskId::from("task-001")),
            },
            result: Some(TaskResult {
                output: "Added 14 tests.\nAll pass.".into(),
                files_modified: vec!["src/parser.rs".into()],
                files_created: vec!["tests/parser.rs".into()],
                error: None,
                discoveries: vec!["The parser accepts trailing commas".into()],
                subtasks_created: vec![TaskId::from("task-009")],
            }),
            claimed_at: Some(at("2025-03-01T09:05:00Z")),
            completed_at: Some(at("2025-03-01T09:12:30Z")),
            attempts: 1,
            ..task("task-003", TaskStatus::Done, "Write tests for the parser")
        }
    }

    fn discovery(agent: &str, task: Option<&str>, content: &str) -> Discovery {
        Discovery {
            agent_id: agent.into(),
            content: content.into(),
            related_task: task.map(TaskId::from),
            tags: Vec::new(),
            created_at: at("2025-03-01T09:10:00Z"),
        }
    }

    #[test]
    fn show_gives_every_field_of_a_task_and_its_result() {
        plain();
        insta::assert_snapshot!(super::task(&finished_task()), @r"
        id                task-003
        description       Write tests for the parser
        status            done
        priority          2
        dependencies      task-001, task-002
        claimed by        worker-1
        attempts          1
        files             src/parser.rs
                          src/lexer.rs
        hints             The lexer already handles comments.
        parent task       task-001
        created           2025-03-01 09:00:00 UTC
        claimed           2025-03-01 09:05:00 UTC
        completed         2025-03-01 09:12:30 UTC
        output            Added 14 tests.
                          All pass.
        files modified    src/parser.rs
        files created     tests/parser.rs
        discoveries       The parser accepts trailing commas
        subtasks created  task-009
        ");
    }

    #[test]
    fn show_says_why_a_task_failed() {
        plain();
        let failed = Task {
            result: Some(TaskResult {
                error: Some("dependency task-002 failed".into()),
                ..TaskResult::default()
            }),
            failed_dependency: Some(TaskId::from("task-002")),
            ..task("task-004", TaskStatus::Failed, "Document the parser")
        };
        insta::assert_snapshot!(super::task(&failed), @r"
        id              task-004
        description     Document the parser
        status          failed
        priority        5
        failed because  dependency task-002 failed or was cancelled
        created         2025-03-01 09:00:00 UTC
        error           dependency task-002 failed
        ");
    }

    #[test]
    fn the_task_list_gives_one_line_per_task_cut_to_the_width() {
        plain();
        let tasks = [
            Task {
                priority: 1,
                ..task("task-001", TaskStatus::Done, "Set up the project")
            },
            Task {
                claimed_by: Some("worker-2".into()),
                dependencies: vec![TaskId::from("task-001")],
                stage: Some(baton_protocol::TaskStage::Verifying),
                ..task(
                    "task-002",
                    TaskStatus::InProgress,
                    "Write the parser for the whole\nconfiguration language, comments included",
                )
            },
            Task {
                priority: 10,
                ..task("task-003", TaskStatus::Available, "Write tests")
            },
        ];
        insta::assert_snapshot!(task_list(&tasks, Some(80)), @r"
        task-001  done         p1   Set up the project
        task-002  in_progress  p5   Write the parser fo…  needs task-001  by worker-2, verifying
        task-003  available    p10  Write tests
        ");
        insta::assert_snapshot!(task_list(&tasks, None), @r"
        task-001  done         p1   Set up the project
        task-002  in_progress  p5   Write the parser for the whole configuration language, comm…  needs task-001  by worker-2, verifying
        task-003  available    p10  Write tests
        ");
    }

    #[test]
    fn status_gives_goal_progress_agents_and_recent_discoveries() {
        plain();
        let status = Status {
            goal: "Parse the configuration language".into(),
            master_plan: "1. lexer\n2. parser".into(),
            running: true,
            progress: Progress {
                total_tasks: 10,
                percent_complete: 40,
                by_status: ByStatus {
                    available: 4,
                    claimed: 1,
                    in_progress: 1,
                    done: 3,
                    failed: 1,
                    cancelled: 0,
                },
            },
            agents: vec![
                AgentStatus {
                    id: "worker-1".into(),
                    task: Some(TaskId::from("task-004")),
                    since: Some(at("2025-03-01T09:58:00Z")),
                    activity: None,
                    cost_usd: 0.0,
                },
                AgentStatus {
                    id: "w2".into(),
                    task: None,
                    since: None,
                    activity: None,
                    cost_usd: 0.0,
                },
            ],
            discoveries: vec![
                discovery("worker-1", Some("task-002"), "Comments may nest"),
                Discovery {
                    tags: vec!["lexer".into(), "unicode".into()],
                    ..discovery("w2", None, "Identifiers are\nUnicode")
                },
            ],
            run: None,
            cost_usd: 0.0,
            last_activity: Some(at("2025-03-01T09:59:48Z")),
            last_run: None,
            crash: None,
        };
        insta::assert_snapshot!(super::status(&status, at("2025-03-01T10:00:00Z")), @r"
        goal           Parse the configuration language
        state          running
        progress       3/10 done · 40% finished · 1 failed · 0 cancelled · 4 available · 1 claimed · 1 in progress
        agents         worker-1  task-004 since 2m ago
                       w2        idle
        discoveries    worker-1 on task-002: Comments may nest
                       w2 [lexer, unicode]: Identifiers are Unicode
        last activity  12s ago
        ");
    }

    #[test]
    fn status_of_a_fresh_workspace_says_how_to_begin() {
        plain();
        let status = Status {
            goal: String::new(),
            master_plan: String::new(),
            running: false,
            progress: Progress {
                total_tasks: 0,
                percent_complete: 0,
                by_status: ByStatus::default(),
            },
            agents: Vec::new(),
            discoveries: Vec::new(),
            run: None,
            cost_usd: 0.0,
            last_activity: None,
            last_run: None,
            crash: None,
        };
        insta::assert_snapshot!(super::status(&status, at("2025-03-01T10:00:00Z")), @r"
        goal           none yet; `baton init GOAL` sets one
        state          idle
        progress       0/0 done · 0% finished · 0 failed · 0 cancelled · 0 available · 0 claimed · 0 in progress
        last activity  none
        ");
    }

    fn idle_status() -> Status {
        Status {
            goal: "Parse it".into(),
            master_plan: String::new(),
            running: false,
            progress: Progress {
                total_tasks: 2,
                percent_complete: 100,
                by_status: ByStatus {
                    done: 2,
                    ..ByStatus::default()
                },
            },
            agents: Vec::new(),
            discoveries: Vec::new(),
            run: None,
            cost_usd: 0.0,
            last_activity: Some(at("2025-03-01T09:59:00Z")),
            last_run: None,
            crash: None,
        }
    }

    #[test]
    fn status_says_what_the_run_is_doing_now() {
        plain();
        let mut runs = Vec::new();
        for (phase, mode) in [
            (RunPhase::Planning, RunMode::Leader),
            (RunPhase::Working, RunMode::Leader),
            (RunPhase::Summarising, RunMode::Predefined),
        ] {
            let status = Status {
                running: true,
                run: Some(RunStatus {
                    mode,
                    phase,
                    started_at: at("2025-03-01T09:58:00Z"),
                    cost_usd: 0.25,
                    paused_until: None,
                    stopped: None,
                }),
                ..idle_status()
            };
            let shown = super::status(&status, at("2025-03-01T10:00:00Z"));
            runs.extend(
                shown
                    .lines()
                    .find(|line| line.starts_with("run"))
                    .map(str::to_owned),
            );
        }
        insta::assert_snapshot!(runs.join("\n"), @r"
        run            planning, started 2m ago, $0.25 so far
        run            working, started 2m ago, $0.25 so far
        run            summarising, started 2m ago, $0.25 so far
        ");
    }

    #[test]
    fn status_after_a_detached_run_gives_its_result_and_summary() {
        plain();
        let status = Status {
            last_run: Some(RunResult {
                goal: "Parse it".into(),
                tasks_completed: 2,
                tasks_failed: 0,
                discoveries: 1,
                summary: "The parser is in.\nAll tests pass.".into(),
                cost_usd: 0.42,
                run: 1,
                report: None,
            }),
            ..idle_status()
        };
        insta::assert_snapshot!(super::status(&status, at("2025-03-01T10:00:00Z")), @r"
        goal           Parse it
        state          idle
        last run       2 completed, 0 failed, 1 discovery, $0.42
                       The parser is in.
                       All tests pass.
        progress       2/2 done · 100% finished · 0 failed · 0 cancelled · 0 available · 0 claimed · 0 in progress
        last activity  1m ago
        ");
    }

    #[test]
    fn status_after_a_crash_says_so_first() {
        plain();
        let status = Status {
            crash: Some(Crash {
                stopped_at: at("2025-03-01T09:14:00Z"),
                log_file: ".baton/logs/daemon.log.2025-03-01".into(),
                run_resumed: true,
            }),
            ..idle_status()
        };
        let shown = super::status(&status, at("2025-03-01T10:00:00Z"));
        let notice = shown.lines().next().unwrap();
        let expected = format!(
            "notice         batond had stopped unexpectedly at {} (see .baton/logs/daemon.log.2025-03-01); restarted, resuming the run",
            at("2025-03-01T09:14:00Z").with_timezone(&chrono::Local).format("%H:%M")
        );
        assert_eq!(notice, expected);
    }

    #[test]
    fn events_read_as_one_line_each() {
        plain();
        let failed = Task {
            result: Some(TaskResult {
                error: Some("the agent gave up:\nno test framework".into()),
                ..TaskResult::default()
            }),
            ..task("task-004", TaskStatus::Failed, "Document it")
        };
        let claimed = Task {
            claimed_by: Some("worker-1".into()),
            ..task("task-003", TaskStatus::Claimed, "Write tests")
        };
        let events = [
            Event::TaskCreated(Task {
                priority: 2,
                ..task("task-003", TaskStatus::Available, "Write tests")
            }),
            Event::TaskUpdated(claimed),
            Event::TaskCompleted(task("task-003", TaskStatus::Done, "Write tests")),
            Event::TaskFailed(failed),
            Event::TaskFailed(Task {
                result: Some(TaskResult {
                    error: Some("cancelled".into()),
                    ..TaskResult::default()
                }),
                ..task("task-005", TaskStatus::Cancelled, "Polish")
            }),
            Event::TaskDeleted(task("task-006", TaskStatus::Available, "A typo")),
            Event::Discovery(discovery("worker-1", Some("task-003"), "Comments may nest")),
            Event::AgentActivity(AgentActivity {
                agent_id: "worker-1".into(),
                task_id: Some(TaskId::from("task-003")),
                kind: ActivityKind::Tool,
                text: "Edit".into(),
            }),
            Event::AgentActivity(AgentActivity {
                agent_id: "leader".into(),
                task_id: None,
                kind: ActivityKind::Started,
                text: String::new(),
            }),
            Event::RunFinished(RunResult {
                goal: "Parse it".into(),
                tasks_completed: 8,
                tasks_failed: 1,
                discoveries: 3,
                summary: "Mostly done.".into(),
                cost_usd: 0.0,
                run: 1,
                report: None,
            }),
            Event::StateChanged(StateChange {
                reason: StateChangeReason::Load,
            }),
        ];
        let lines: Vec<String> = events.iter().map(event).collect();
        insta::assert_snapshot!(lines.join("\n"), @r"
        created task-003 [p2] Write tests
        updated task-003: claimed by worker-1
        completed task-003
        failed task-004: the agent gave up: no test framework
        cancelled task-005
        deleted task-006 A typo
        discovery by worker-1 on task-003: Comments may nest
        worker-1 on task-003: uses Edit
        leader: started
        run finished: 8 completed, 1 failed, 3 discoveries, $0.00
        state loaded
        ");
    }

    fn agent_log() -> Vec<String> {
        [
            json!({"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-x"}),
            json!({"type": "assistant", "message": {"content": [
                {"type": "text", "text": "Running the tests."},
                {"type": "tool_use", "name": "Bash", "input": {"command": "pytest -q"}},
            ]}}),
            json!({"type": "user", "message": {"content": [
                {"type": "tool_result", "content": "....F\nFAILED test_parse\n1 failed, 4 passed\nline 4\nline 5"},
            ]}}),
            json!({"type": "user", "message": {"content": [
                {"type": "tool_result", "is_error": true, "content": [{"type": "text", "text": "no such file"}]},
            ]}}),
            json!({"type": "result", "is_error": false, "num_turns": 3, "total_cost_usd": 0.0312, "result": "Fixed the parser."}),
            json!({"type": "baton", "subtype": "merged", "text": "into baton/integration: 1 file(s) modified, 0 created"}),
            json!({"type": "baton", "subtype": "timed_out", "text": "the attempt ran past task_timeout"}),
        ]
        .iter()
        .map(Value::to_string)
        .collect()
    }

    #[test]
    fn a_log_shows_each_tool_with_the_start_of_its_output_and_how_the_attempt_ended() {
        plain();
        let shown: Vec<String> = agent_log()
            .iter()
            .filter_map(|line| log_line(line, Detail::Short))
            .collect();
        insta::assert_snapshot!(shown.join("\n"), @r#"
        started session s-1 (claude-x)
        Running the tests.
        → Bash {"command":"pytest -q"}
          ← ....F
            FAILED test_parse
            1 failed, 4 passed
            … 2 more lines (--full shows them)
          ← no such file
        finished after 3 turns, $0.0312: Fixed the parser.
        merged: into baton/integration: 1 file(s) modified, 0 created
        timed out: the attempt ran past task_timeout
        "#);
    }

    #[test]
    fn a_full_log_shows_every_line_of_each_output() {
        plain();
        let shown: Vec<String> = agent_log()
            .iter()
            .filter_map(|line| log_line(line, Detail::Full))
            .collect();
        let output = shown.iter().find(|line| line.contains("FAILED")).unwrap();
        insta::assert_snapshot!(output, @r"
        ← ....F
          FAILED test_parse
          1 failed, 4 passed
          line 4
          line 5
        ");
    }

    #[test]
    fn watch_gives_a_cancel_one_line_not_three() {
        plain();
        let cancelled = Task {
            result: Some(TaskResult {
                error: Some("cancelled".into()),
                ..TaskResult::default()
            }),
            ..task("task-005", TaskStatus::Cancelled, "Polish")
        };
        let events = [
            Event::TaskFailed(cancelled.clone()),
            Event::TaskUpdated(cancelled),
            Event::AgentActivity(AgentActivity {
                agent_id: "worker-1".into(),
                task_id: Some(TaskId::from("task-005")),
                kind: ActivityKind::Finished,
                text: String::new(),
            }),
        ];
        let lines: Vec<String> = events
            .iter()
            .filter(|event| worth_a_line(event))
            .map(event)
            .collect();
        assert_eq!(lines, ["cancelled task-005"]);
    }

    #[test]
    fn a_line_is_cut_to_the_terminal_and_left_whole_without_one() {
        plain();
        let line = "worker-1 on task-003: uses Bash pytest -q tests/test_parser.py";
        assert_eq!(fit(line, Some(30)), "worker-1 on task-003: uses Ba…");
        assert_eq!(fit(line, None), line);
    }

    #[test]
    fn counts_of_one_are_singular() {
        assert_eq!(count(1, "discovery", "discoveries"), "1 discovery");
        assert_eq!(count(0, "discovery", "discoveries"), "0 discoveries");
        assert_eq!(count(2, "task", "tasks"), "2 tasks");
    }

    #[test]
    fn a_cancelled_task_ended_rather_than_completed() {
        plain();
        let cancelled = Task {
            completed_at: Some(at("2025-03-01T09:12:30Z")),
            ..task("task-005", TaskStatus::Cancelled, "Polish")
        };
        let shown = super::task(&cancelled);
        assert!(
            shown
                .lines()
                .any(|line| line.starts_with("ended ") && line.ends_with("2025-03-01 09:12:30 UTC")),
            "{shown}"
        );
        assert!(!shown.contains("completed"), "{shown}");
    }

    #[test]
    fn config_shows_every_setting_on_one_line() {
        plain();
        let config = Config {
            run_budget_usd: Some(5.0),
            worker_prompt: Some("You are {agent_id}.\nDo {description}.".into()),
            ..Config::default()
        };
        insta::assert_snapshot!(super::config(&config), @r"
        agent_args           none
        agent_command        claude
        allowed_tools        Read, Write, Edit, Glob, Grep, Bash
        integration_branch   baton/integration
        isolation            automatic (worktree in a git repository, else shared)
        keep_branches        false
        leader_prompt        built-in
        max_attempts         1
        max_review_rounds    2
        max_verify_attempts  2
        max_workers          3
        model                claude-sonnet-4-20250514
        permission_mode      acceptEdits
        review               false
        reviewer_prompt      built-in
        run_budget_usd       5.0
        task_budget_usd      none
        task_timeout         600
        verify_command       none
        worker_prompt        You are {agent_id}. (2 lines)
        ");
        insta::assert_snapshot!(
            config_value("worker_prompt", &serde_json::json!(config.worker_prompt)),
            @r"
        You are {agent_id}.
        Do {description}.
        "
        );
    }

    #[test]
    fn daemon_info_says_where_everything_is() {
        plain();
        let info = DaemonInfoResult {
            version: "0.1.0".into(),
            pid: 4242,
            workspace: "/home/ada/parser".into(),
            socket: "/run/user/1000/baton/1f2e3d4c5b6a7988.sock".into(),
            log_file: "/home/ada/parser/.baton/logs/daemon.log".into(),
        };
        insta::assert_snapshot!(daemon_info(&info), @r"
        daemon     batond 0.1.0 (pid 4242)
        workspace  /home/ada/parser
        socket     /run/user/1000/baton/1f2e3d4c5b6a7988.sock
        log file   /home/ada/parser/.baton/logs/daemon.log
        ");
    }

    #[test]
    fn ages_round_down_to_the_largest_unit() {
        let now = at("2025-03-01T10:00:00Z");
        let ages: Vec<String> = ["10:00:05", "09:59:59", "09:55:00", "07:00:00"]
            .iter()
            .map(|time| ago(at(&format!("2025-03-01T{time}Z")), now))
            .chain([ago(at("2025-02-26T10:00:00Z"), now)])
            .collect();
        assert_eq!(ages, ["just now", "1s ago", "5m ago", "3h ago", "3d ago"]);
    }
}
