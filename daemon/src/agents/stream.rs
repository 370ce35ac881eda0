//! Claude Code's `stream-json` output, one JSON event per line, read as it arrives.
//! Pure: a line in, what it means out.

use baton_protocol::{agent_result, Usage};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::core::clip;
use crate::core::price::TurnUsage;

/// What a line of the stream says, in the terms baton cares about.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The session started; `--resume` takes this id.
    Init { session_id: String },
    /// The agent used a tool; `detail` is a short description of the input.
    Tool { name: String, detail: String },
    /// The agent wrote text.
    Text(String),
    /// A model turn's message, with the tokens it used: Claude Code repeats it for
    /// each content block, so the message id tells turns apart.
    Turn {
        message_id: String,
        model: String,
        usage: TurnUsage,
    },
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
        "rate_limit_event" => rate_limit(&event).into_iter().collect(),
        "result" => vec![StreamEvent::Result(result(&event))],
        _ => Vec::new(),
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
    let usage = turn_usage(&event["usage"]);
    AgentResult {
        is_error: event["is_error"].as_bool().unwrap_or(true),
        subtype: event["subtype"].as_str().unwrap_or_default().to_owned(),
        output: event["result"].as_str().unwrap_or_default().to_owned(),
        usage: Usage {
            cost_usd: agent_result::process_cost(event),
            input_tokens: usage.all_input_tokens(),
            output_tokens: usage.output_tokens,
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
