//! Claude Code's `stream-json` output, one JSON event per line, read as it arrives.
//! Pure: a line in, what it means out.

use baton_protocol::{agent_result, Usage};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::core::clip;
use crate::core::price::{self, TurnUsage};

/// What a line of the stream says, in the terms baton cares about.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The session started; `--resume` takes this id.
    Init { session_id: String },
    /// The agent used a tool; `detail` is a short description of the input.
    Tool { name: String, detail: String },
    /// The agent wrote text.
    Text(String),
    /// A model turn's message, with the tokens it used as it started: Claude Code
    /// repeats it for each content block, so the message id tells turns apart.
    Turn {
        message_id: String,
        model: String,
        usage: TurnUsage,
    },
    /// The output tokens of the turn under way, all of them, once it ended.
    TurnOutput { output_tokens: u64 },
    /// The model's rate limit was reached; nothing should start before `resets_at`.
    RateLimited { resets_at: Option<DateTime<Utc>> },
    /// The API refused a request for its rate limit (HTTP 429) and Claude Code will
    /// retry it after `retry_in`; starting more agents meanwhile would only add load.
    Throttled { retry_in: std::time::Duration },
    /// The final event: the agent's answer and what it cost.
    Result(AgentResult),
}

/// The final `result` event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentResult {
    pub is_error: bool,
    /// `success`, or why it ended (`error_max_turns`, `error_during_execution`, …).
    pub subtype: String,
    pub output: String,
    pub usage: Usage,
    pub session_id: Option<String>,
    pub permission_denials: Vec<String>,
    /// `api_error` when a call to the model failed (`completed` otherwise).
    pub terminal_reason: String,
    /// The model API's HTTP status for such a failure, when there was an answer.
    pub api_error_status: Option<u64>,
}

impl AgentResult {
    /// Why an agent that reported an error failed, naming the cause and what to do.
    pub fn failure(&self) -> String {
        let said = clip(self.output.trim(), 400);
        match (self.terminal_reason.as_str(), self.api_error_status) {
            ("api_error", None | Some(401) | Some(403)) => format!(
                "Claude Code could not use the model API: {said}; agents take ANTHROPIC_API_KEY \
                 and the other variables Claude Code reads from the shell that starts the run: \
                 set them there (or log in with `claude`), then `baton retry` the task"
            ),
            ("api_error", Some(status)) => {
                format!("the model API refused a request (HTTP {status}): {said}")
            }
            _ if !self.subtype.is_empty() && self.subtype != "success" => {
                format!("the agent stopped ({}): {said}", self.subtype)
            }
            _ => format!("the agent ended with an error: {said}"),
        }
    }
}

/// Reads one line. Blank lines mean nothing; a line that is not JSON is an error
/// (the agent printed garbage), and unknown events are passed over.
pub fn parse_line(line: &str) -> Result<Vec<StreamEvent>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Vec::new());
    }
    let event: Value = serde_json::from_str(line).map_err(|err| {
        format!(
            "the agent printed something that is not stream-json ({err}): {}",
            clip(line, 200)
        )
    })?;
    let kind = event["type"].as_str().unwrap_or_default();
    Ok(match kind {
        "system" if event["subtype"] == "init" => event["session_id"]
            .as_str()
            .map(|id| StreamEvent::Init {
                session_id: id.to_owned(),
            })
            .into_iter()
            .collect(),
        "system" if event["subtype"] == "api_retry" && event["error_status"] == 429 => {
            let delay = event["retry_delay_ms"].as_u64().unwrap_or(0);
            vec![StreamEvent::Throttled {
                retry_in: std::time::Duration::from_millis(delay),
            }]
        }
        "assistant" => turn(&event["message"])
            .into_iter()
            .chain(assistant_content(&event["message"]["content"]))
            .collect(),
        "stream_event" => partial(&event["event"]).into_iter().collect(),
        "rate_limit_event" => rate_limit(&event).into_iter().collect(),
        "result" => vec![StreamEvent::Result(result(&event))],
        _ => Vec::new(),
    })
}

/// Whether a line may say anything baton reads: the partial messages' chunks of text
/// and tool input (most of a turn's lines) are passed over before they are parsed,
/// logged or searched for secrets; their turn's start and end are kept.
pub fn worth_reading(line: &str) -> bool {
    !line.contains(r#""type":"stream_event""#)
        || line.contains(r#""type":"message_start""#)
        || line.contains(r#""type":"message_delta""#)
}

/// A partial message's event: a turn's start, with its message, or its end, with
/// the output tokens it wrote.
fn partial(event: &Value) -> Option<StreamEvent> {
    match event["type"].as_str()? {
        "message_start" => turn(&event["message"]),
        "message_delta" => Some(StreamEvent::TurnOutput {
            output_tokens: event["usage"]["output_tokens"].as_u64()?,
        }),
        _ => None,
    }
}

/// Counts each model turn once, as its lines arrive: a turn when its message is
/// first seen, then the output it wrote beyond what was counted once it ends. What
/// an agent stopped midway spent is then counted up to its last finished turn.
#[derive(Debug, Default)]
pub struct Turns {
    /// The turn under way: its message id, model and the output tokens counted.
    current: Option<(String, String, u64)>,
}

impl Turns {
    /// What `event` adds to the agent's spending, if anything.
    pub fn usage_of(&mut self, event: &StreamEvent) -> Option<Usage> {
        match event {
            StreamEvent::Turn {
                message_id,
                model,
                usage,
            } => {
                if self
                    .current
                    .as_ref()
                    .is_some_and(|(id, _, _)| id == message_id)
                {
                    return None;
                }
                self.current = Some((message_id.clone(), model.clone(), usage.output_tokens));
                Some(price::turn(model, usage))
            }
            StreamEvent::TurnOutput { output_tokens } => {
                let (_, model, counted) = self.current.as_mut()?;
                let more = output_tokens
                    .checked_sub(*counted)
                    .filter(|more| *more > 0)?;
                *counted = *output_tokens;
                Some(price::more_output(model, more))
            }
            _ => None,
        }
    }
}

/// A result's input and output tokens: its `usage`, or when that counts none (an
/// agent Claude Code stopped itself), the tokens of each model it used.
fn result_tokens(event: &Value) -> (u64, u64) {
    let usage = turn_usage(&event["usage"]);
    if usage.all_input_tokens() + usage.output_tokens > 0 {
        return (usage.all_input_tokens(), usage.output_tokens);
    }
    let by_model = event["modelUsage"]
        .as_object()
        .into_iter()
        .flat_map(|models| models.values());
    by_model.fold((0, 0), |(input, output), model| {
        let tokens = |key: &str| model[key].as_u64().unwrap_or(0);
        (
            input
                + tokens("inputTokens")
                + tokens("cacheReadInputTokens")
                + tokens("cacheCreationInputTokens"),
            output + tokens("outputTokens"),
        )
    })
}

fn turn(message: &Value) -> Option<StreamEvent> {
    let usage = &message["usage"];
    if !usage.is_object() {
        return None;
    }
    Some(StreamEvent::Turn {
        message_id: message["id"].as_str()?.to_owned(),
        model: message["model"].as_str().unwrap_or_default().to_owned(),
        usage: turn_usage(usage),
    })
}

/// The tokens of a message's or a result's `usage`.
fn turn_usage(usage: &Value) -> TurnUsage {
    let tokens = |key: &str| usage[key].as_u64().unwrap_or(0);
    TurnUsage {
        input_tokens: tokens("input_tokens"),
        cache_creation_input_tokens: tokens("cache_creation_input_tokens"),
        cache_read_input_tokens: tokens("cache_read_input_tokens"),
        output_tokens: tokens("output_tokens"),
    }
}

fn assistant_content(content: &Value) -> Vec<StreamEvent> {
    let Some(blocks) = content.as_array() else {
        return Vec::new();
    };
    blocks
        .iter()
        .filter_map(|block| match block["type"].as_str()? {
            "text" => {
                let text = block["text"].as_str()?.trim();
                (!text.is_empty()).then(|| StreamEvent::Text(text.to_owned()))
            }
            "tool_use" => Some(StreamEvent::Tool {
                name: block["name"].as_str().unwrap_or("tool").to_owned(),
                detail: tool_detail(&block["input"]),
            }),
            _ => None,
        })
        .collect()
}

/// The most telling part of a tool's input: a path, a command, a pattern.
fn tool_detail(input: &Value) -> String {
    for key in [
        "file_path",
        "path",
        "command",
        "pattern",
        "description",
        "url",
        "content",
    ] {
        if let Some(text) = input[key].as_str() {
            return clip(text, 120);
        }
    }
    clip(&input.to_string(), 120)
}

fn rate_limit(event: &Value) -> Option<StreamEvent> {
    let info = &event["rate_limit_info"];
    let status = info["status"].as_str().unwrap_or_default();
    if status != "rejected" {
        return None;
    }
    let resets_at = info["resetsAt"]
        .as_i64()
        .or_else(|| info["resets_at"].as_i64())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
    Some(StreamEvent::RateLimited { resets_at })
}

fn result(event: &Value) -> AgentResult {
    let (input_tokens, output_tokens) = result_tokens(event);
    // An agent stopped by Claude Code itself (its budget spent) has no answer, only
    // the errors that stopped it.
    let output = match event["result"].as_str() {
        Some(answer) => answer.to_owned(),
        None => event["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("; "),
    };
    AgentResult {
        is_error: event["is_error"].as_bool().unwrap_or(true),
        subtype: event["subtype"].as_str().unwrap_or_default().to_owned(),
        output,
        usage: Usage {
            cost_usd: agent_result::process_cost(event),
            input_tokens,
            output_tokens,
            turns: event["num_turns"].as_u64().unwrap_or(0) as u32,
            duration_ms: event["duration_ms"].as_u64().unwrap_or(0),
        },
        session_id: event["session_id"].as_str().map(str::to_owned),
        permission_denials: event["permission_denials"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|denial| {
                let tool = denial["tool_name"].as_str().unwrap_or("a tool");
                format!("{tool}: {}", tool_detail(&denial["tool_input"]))
            })
            .collect(),
        terminal_reason: event["terminal_reason"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        api_error_status: event["api_error_status"].as_u64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines Claude Code prints for one turn with partial messages, as the
    /// pinned version prints them: the turn's start, a chunk, the message (once per
    /// content block), its end with the output written.
    fn one_turn(id: &str, output_tokens: u64) -> Vec<String> {
        let usage = r#"{"input_tokens":100,"cache_read_input_tokens":0,"output_tokens":1}"#;
        let message = format!(
            r#"{{"id":"{id}","model":"claude-sonnet-4-20250514","content":[{{"type":"text","text":"hi"}}],"usage":{usage}}}"#
        );
        vec![
            format!(r#"{{"type":"stream_event","event":{{"type":"message_start","message":{message}}}}}"#),
            r#"{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}}"#.into(),
            format!(r#"{{"type":"assistant","message":{message}}}"#),
            format!(r#"{{"type":"assistant","message":{message}}}"#),
            format!(r#"{{"type":"stream_event","event":{{"type":"message_delta","delta":{{"stop_reason":"end_turn"}},"usage":{{"output_tokens":{output_tokens}}}}}}}"#),
        ]
    }

    #[test]
    fn each_turn_is_counted_once_with_all_the_output_it_wrote() {
        let mut turns = Turns::default();
        let mut spent = Usage::default();
        for line in one_turn("msg-1", 100_000)
            .iter()
            .chain(&one_turn("msg-2", 10))
        {
            if !worth_reading(line) {
                continue;
            }
            for event in parse_line(line).unwrap() {
                if let Some(usage) = turns.usage_of(&event) {
                    spent.add(&usage);
                }
            }
        }
        assert_eq!(spent.turns, 2);
        assert_eq!(spent.input_tokens, 200);
        assert_eq!(spent.output_tokens, 100_010);
        // Sonnet: $3 a million in, $15 a million out.
        assert!(
            (spent.cost_usd - (200.0 * 3.0 + 100_010.0 * 15.0) / 1e6).abs() < 1e-9,
            "{spent:?}"
        );
    }

    #[test]
    fn an_agent_its_own_budget_stopped_says_why_and_what_it_used() {
        let line = r#"{"type":"result","subtype":"error_max_budget_usd","is_error":true,"num_turns":1,"duration_ms":165,"session_id":"s-1","total_cost_usd":1.5003,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0},"modelUsage":{"claude-sonnet-4-20250514":{"inputTokens":100,"outputTokens":100000,"cacheReadInputTokens":20,"cacheCreationInputTokens":3,"costUSD":1.5003}},"permission_denials":[],"terminal_reason":"budget_exhausted","errors":["Reached maximum budget ($0.5)"]}"#;
        let events = parse_line(line).unwrap();
        let [StreamEvent::Result(result)] = events.as_slice() else {
            panic!("one result");
        };
        assert_eq!(result.output, "Reached maximum budget ($0.5)");
        assert_eq!(
            result.failure(),
            "the agent stopped (error_max_budget_usd): Reached maximum budget ($0.5)"
        );
        assert_eq!(
            (result.usage.input_tokens, result.usage.output_tokens),
            (123, 100_000)
        );
    }

    #[test]
    fn the_chunks_of_a_partial_message_are_not_read() {
        let lines = one_turn("msg-1", 5);
        let read: Vec<bool> = lines.iter().map(|line| worth_reading(line)).collect();
        assert_eq!(read, [true, false, true, true, true]);
    }

    #[test]
    fn a_result_event_gives_output_cost_usage_and_denials() {
        let line = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":1200,"num_turns":3,"result":"all done","session_id":"s-1","total_cost_usd":0.0123,"usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":7},"permission_denials":[{"tool_name":"Bash","tool_use_id":"t","tool_input":{"command":"rm -rf /"}}]}"#;
        let events = parse_line(line).unwrap();
        let [StreamEvent::Result(result)] = events.as_slice() else {
            panic!("one result: {events:?}");
        };
        assert!(!result.is_error);
        assert_eq!(result.output, "all done");
        assert_eq!(result.session_id.as_deref(), Some("s-1"));
        assert_eq!(result.usage.cost_usd, 0.0123);
        assert_eq!(result.usage.input_tokens, 15);
        assert_eq!(result.usage.output_tokens, 7);
        assert_eq!(result.usage.turns, 3);
        assert_eq!(
            result.permission_denials,
            vec!["Bash: rm -rf /".to_string()]
        );
    }

    #[test]
    fn a_resumed_session_s_result_costs_what_this_process_spent() {
        let line = r#"{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"again","session_id":"s-1","total_cost_usd":0.3,"model_usage_since_last_result":{"claude-sonnet-4-5":{"costUSD":0.075},"claude-haiku-4-5":{"costUSD":0.025}}}"#;
        let events = parse_line(line).unwrap();
        let [StreamEvent::Result(result)] = events.as_slice() else {
            panic!("one result: {events:?}");
        };
        assert!((result.usage.cost_usd - 0.1).abs() < 1e-12, "{result:?}");
    }

    #[test]
    fn tool_uses_and_text_become_activity() {
        let line = r#"{"type":"assistant","message":{"content":[{"type":"text","text":"Writing it."},{"type":"tool_use","id":"x","name":"Write","input":{"file_path":"/w/a.txt","content":"hi"}}]}}"#;
        assert_eq!(
            parse_line(line).unwrap(),
            vec![
                StreamEvent::Text("Writing it.".into()),
                StreamEvent::Tool {
                    name: "Write".into(),
                    detail: "/w/a.txt".into()
                },
            ]
        );
    }

    #[test]
    fn garbage_is_an_error_and_blank_lines_are_nothing() {
        assert!(parse_line("Segmentation fault").is_err());
        assert_eq!(parse_line("  "), Ok(Vec::new()));
        assert_eq!(parse_line(r#"{"type":"something_new"}"#), Ok(Vec::new()));
    }

    #[test]
    fn a_429_being_retried_says_how_long_until_the_retry() {
        let line = r#"{"type":"system","subtype":"api_retry","attempt":1,"max_retries":10,"retry_delay_ms":2500,"error_status":429,"error":"rate_limit"}"#;
        assert_eq!(
            parse_line(line).unwrap(),
            vec![StreamEvent::Throttled {
                retry_in: std::time::Duration::from_millis(2500)
            }]
        );
        let server_error =
            r#"{"type":"system","subtype":"api_retry","retry_delay_ms":500,"error_status":500}"#;
        assert_eq!(parse_line(server_error), Ok(Vec::new()));
    }

    #[test]
    fn a_rejected_rate_limit_says_when_it_resets() {
        let line = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1767225600}}"#;
        assert_eq!(
            parse_line(line).unwrap(),
            vec![StreamEvent::RateLimited {
                resets_at: DateTime::from_timestamp(1767225600, 0)
            }]
        );
        let allowed = r#"{"type":"rate_limit_event","rate_limit_info":{"status":"allowed","resetsAt":1767225600}}"#;
        assert_eq!(parse_line(allowed), Ok(Vec::new()));
    }
}
