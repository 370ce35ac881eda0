//! A scripted stand-in for the Anthropic Messages API, for running the real Claude
//! Code binary in tests. The test owns the model: the prompt carries the script.
//!
//! # The script
//!
//! The first user message of a request that offers tools may hold a JSON list of
//! steps between `<<script>>` and `<</script>>` ([`script`] writes it). Claude Code
//! puts its own `<system-reminder>` text blocks before the prompt in that message;
//! all its text blocks are searched. Each request answers one step:
//!
//! - `{"tool": NAME, "input": {...}}`: one `tool_use` block, `stop_reason: tool_use`.
//!   `"until_result_contains": "X"` repeats the step while the latest tool result
//!   does not contain X (one agent waiting for another's discovery).
//! - `{"text": "..."}`: the final answer, `stop_reason: end_turn`.
//! - `{"rate_limit": {"reset_in_s": N, "times": K}}`: HTTP 429 for K requests in a
//!   row (default 1), then the next step. It leaves no trace in the conversation, so
//!   the refusals are counted per session (`x-claude-code-session-id`) and position.
//! - On a step: `"prompt_contains": "X"` starts a turn there. When a user message
//!   after the script's own has text (not a tool result) containing X, the latest
//!   such message decides: the steps are counted from this one, over the assistant
//!   messages after it alone. A resumed session's conversation may keep a turn its
//!   agent never finished, or lose one; the turn's prompt still finds its steps.
//!   Placeholders reach only the steps of the turn.
//! - On any step: `"delay_ms": N` waits before answering (thinking time), and
//!   `"usage": {"input_tokens": N, "output_tokens": M}` fixes the reported usage
//!   (otherwise about four characters a token), so a test can predict the cost.
//!
//! Any string in a tool input may hold `{{N.field}}`: that field (a dotted path:
//! `{{0.task.id}}`, `{{1.items.0}}`) of the JSON text of step N's tool result, such
//! as the id `mcp__baton__add_task` answers; `{{N}}` is the whole text. A string
//! that is one placeholder alone takes the field's JSON value (a number stays one).
//! The current step is found by walking the request's messages: every assistant
//! message answered one step, and its `tool_use` is paired with the `tool_result`
//! of the same id. Claude Code appends `<system-reminder>` notes (such as
//! `<total_tokens>14968353 tokens left</total_tokens>`) to some tool results; they
//! are cut off before matching and placeholders. After the last step the answer is
//! the text "done"; a script that does not parse, or a placeholder that does not
//! resolve, is answered as the text "script error: ..." so that the run's result
//! says what went wrong. A request without a script (a summary, a title, anything
//! of Claude Code's own) gets the server's default text.
//!
//! # What Claude Code 2.1.331 asks
//!
//! Run as in [`crate::claude`] (`ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`,
//! `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`, `ENABLE_TOOL_SEARCH=false`,
//! `IS_SANDBOX=1`, a private HOME), `claude -p` sends nothing but
//! `POST /v1/messages?beta=true`, one per turn, always `"stream": true`. Without
//! `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC` it first probes `HEAD /api/hello`.
//! `count_tokens` was never called, MCP servers or not; it is answered anyway, as
//! are `GET /v1/models` and `/api/hello`; any other route gets a 404 error body
//! and is recorded. Headers: `x-api-key`, `anthropic-version: 2023-06-01`,
//! `anthropic-beta` (claude-code-20250219, interleaved-thinking, context-management,
//! ...), `x-claude-code-session-id` (the stream's `session_id`), `user-agent:
//! claude-cli/2.1.331 (external, sdk-cli)`. Body: `model`, `messages`, `system`
//! (three text blocks), `tools` (about 25 built-in, then `mcp__<server>__<tool>`
//! with `input_schema`, none deferred), `metadata.user_id` (a JSON string with
//! `device_id` and `session_id`), `max_tokens: 32000`, `thinking` (enabled, budget
//! 31999), `context_management`, `stream`. About 130 kB a request, hence about
//! 34k input tokens by the estimate, and a realistic `total_cost_usd`.
//!
//! # What Claude Code prints (`--output-format stream-json --verbose`)
//!
//! One JSON object a line; `tests/fixtures/stream-json-sample.jsonl` is a whole run
//! (an MCP call, Write, Bash, a failed Read, a denied WebFetch, a final text).
//!
//! - First `{"type":"system","subtype":"init","session_id","cwd","model",
//!   "permissionMode","tools":[names],"mcp_servers":[{"name","status":"connected",
//!   "source":"dynamic"}],"apiKeySource","claude_code_version","slash_commands",
//!   "agents","skills","plugins","memory_paths","uuid",...}`.
//! - Per content block the model sent, `{"type":"assistant","message":{"id","model",
//!   "role","content":[one block: text or {"type":"tool_use","id","name","input"}],
//!   "stop_reason":null,"usage":{... as of message_start}},"parent_tool_use_id":null,
//!   "session_id","uuid","timestamp","request_id"}`; an MCP call adds
//!   `"tool_use_meta":[{"id","display_name","server_display_name","tool_name"}]`.
//! - Per tool result, `{"type":"user","message":{"role":"user","content":[
//!   {"type":"tool_result","tool_use_id","content": string or text blocks,
//!   "is_error"?}]},"tool_use_result": the tool's own structured result (Write:
//!   {"type":"create","filePath",...}; Bash: {"stdout","stderr","interrupted",...};
//!   MCP: the content blocks; a failure: "Error: ..."),"tool_result_meta":[{"id",
//!   "permission_decision":{"decision":"accept"|"reject","source":"config",...},
//!   "non_execution_kind"?:"user-rejected"}],"session_id","uuid","timestamp"}`.
//!   A tool outside `--allowedTools` is not run: its result is the error "Claude
//!   requested permissions to use WebFetch, but you haven't granted it yet.".
//! - Last `{"type":"result","subtype":"success","is_error":false,"result": the
//!   final text,"stop_reason":"end_turn","terminal_reason":"completed",
//!   "num_turns","duration_ms","duration_api_ms","ttft_ms","total_cost_usd",
//!   "usage":{"input_tokens","output_tokens","cache_creation_input_tokens",
//!   "cache_read_input_tokens",...},"modelUsage":{MODEL:{"inputTokens",
//!   "outputTokens","costUSD","contextWindow",...}},"permission_denials":[{
//!   "tool_name","tool_use_id","tool_input"}],"api_error_status":null,
//!   "session_id","uuid",...}`. `num_turns` counts requests; the cost is the list
//!   price of the usage the server reported (sonnet 4: $3 and $15 a million).
//!
//! # Rate limits
//!
//! A 429 answer carries `retry-after`, `anthropic-ratelimit-requests-{limit,
//! remaining,reset}` and `anthropic-ratelimit-unified-{status: rejected,reset,
//! representative-claim: five_hour}`, and an `error`/`rate_limit_error` body.
//!
//! - With an API key Claude Code waits `retry-after` (seen: 1 s → 1.16 s, 2 s → 2.1 to
//!   2.5 s, 60 s → 61 s; without the header it backs off from about 0.5 s) and tries
//!   again, at most 10 times (`CLAUDE_CODE_MAX_RETRIES`), printing before each wait
//!   `{"type":"system","subtype":"api_retry","attempt","max_retries",
//!   "retry_delay_ms","error_status":429,"error":"rate_limit","session_id","uuid"}`.
//!   A `retry-after` over 60 s is not waited for at all. When it gives up, a
//!   synthetic assistant message (`"model":"<synthetic>"`, `"error":"rate_limit"`,
//!   `"api_error_status":429`, text "API Error: Request rejected (429) · ...")
//!   and a result with `"is_error":true` (yet `"subtype":"success"`),
//!   `"api_error_status":429`, `"api_error_type":"rate_limit_error"`,
//!   `"terminal_reason":"api_error"`, `"result"`: that text; exit status 1.
//! - `rate_limit_event` is emitted only where Claude Code reads the unified
//!   headers: a claude.ai subscription, or a gateway (a bearer token whose audience
//!   is `claude-gateway`, which the tests forge). It is
//!   `{"type":"rate_limit_event","rate_limit_info":{"status":"allowed"|
//!   "allowed_warning"|"rejected","resetsAt": epoch seconds,"rateLimitType":
//!   "five_hour"|"seven_day"|...,"isUsingOverage",...},"uuid","session_id"}`, sent
//!   when the status changes (`allowed` after a first answer without the headers).
//!   Once the retries are spent on a rejection it comes before the synthetic message
//!   "You've hit your 5-hour limit · resets 3:09am (UTC)", and the result adds
//!   `"api_error":"usage_limit_reached"`; `tests/fixtures/stream-json-rate-limited.jsonl`
//!   is such a run.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

/// The markers around a script in the first user message.
pub const SCRIPT_START: &str = "<<script>>";
pub const SCRIPT_END: &str = "<</script>>";

/// The final answer once a script has run out of steps.
pub const AFTER_THE_SCRIPT: &str = "done";

/// A script to put in a prompt: `steps` between the markers.
pub fn script(steps: &[Value]) -> String {
    format!("{SCRIPT_START}{}{SCRIPT_END}", Value::Array(steps.to_vec()))
}

/// A scripted Messages API on 127.0.0.1, serving until dropped.
pub struct ModelServer {
    url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    /// The answer to a request that carries no script.
    default_text: String,
    requests: Mutex<Vec<RecordedRequest>>,
    /// 429s answered so far, by (session, step, messages in the request).
    rate_limited: Mutex<HashMap<(String, usize, usize), u32>>,
    next_id: AtomicU64,
}

impl Shared {
    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

/// One request the server received, and what it answered.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The path with its query, as sent: `/v1/messages?beta=true`.
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON; `Null` when empty, a string when not JSON.
    pub body: Value,
    pub answer: Answer,
}

impl RecordedRequest {
    /// Whether this is a Messages API call (`POST /v1/messages`).
    pub fn is_messages(&self) -> bool {
        self.method == "POST" && route(&self.path) == "/v1/messages"
    }

    /// The names of the tools the request offered the model.
    pub fn tool_names(&self) -> Vec<&str> {
        self.body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|tool| tool["name"].as_str())
            .collect()
    }

    /// The texts of the tool results the request carries, oldest first.
    pub fn tool_results(&self) -> Vec<String> {
        messages(&self.body)
            .iter()
            .flat_map(|message| blocks(message, "tool_result"))
            .map(tool_result_text)
            .collect()
    }
}

/// What the server answered to a request.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// A final text, `end_turn`.
    Text(String),
    /// One `tool_use` block, `stop_reason: tool_use`.
    ToolUse { name: String, input: Value },
    /// HTTP 429 with rate limit headers.
    RateLimited { reset_in_s: u64 },
    /// A route other than the Messages API, answered with this status.
    Status(u16),
}

impl Default for ModelServer {
    fn default() -> Self {
        Self::start()
    }
}

impl ModelServer {
    /// A server answering "ok" to requests without a script.
    pub fn start() -> ModelServer {
        Self::with_default_text("ok")
    }

    /// A server answering `text` to requests without a script.
    pub fn with_default_text(text: impl Into<String>) -> ModelServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("a bound port"));
        let shared = Arc::new(Shared {
            default_text: text.into(),
            requests: Mutex::default(),
            rate_limited: Mutex::default(),
            next_id: AtomicU64::new(1),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("model-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the model server");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("the listener joins the runtime");
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime ends every connection still open.
            })
            .expect("the model server thread starts");
        ModelServer {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL, for `ANTHROPIC_BASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far, in the order received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The Messages API calls so far.
    pub fn messages_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(RecordedRequest::is_messages)
            .collect()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let headers: BTreeMap<String, String> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let bytes = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };

    let (answer, delay, response) = match (&method, route(&path)) {
        (&Method::POST, "/v1/messages") => {
            let session = headers
                .get("x-claude-code-session-id")
                .cloned()
                .unwrap_or_default();
            let decision = decide(&body, &shared.default_text, |step, times| {
                let key = (session.clone(), step, messages(&body).len());
                let mut served = shared.rate_limited.lock().unwrap();
                let served = served.entry(key).or_default();
                *served += 1;
                *served <= times
            });
            let response = messages_response(&shared, &body, &decision);
            (decision.answer, decision.delay, response)
        }
        (&Method::POST, "/v1/messages/count_tokens") => {
            let tokens = estimate_tokens(&body);
            let response = json_response(StatusCode::OK, json!({ "input_tokens": tokens }));
            (Answer::Status(200), Duration::ZERO, response)
        }
        (&Method::GET | &Method::HEAD, "/api/hello") => {
            let response = json_response(StatusCode::OK, json!({ "message": "hello" }));
            (Answer::Status(200), Duration::ZERO, response)
        }
        (&Method::GET, "/v1/models") => {
            let models =
                json!({ "data": [], "has_more": false, "first_id": null, "last_id": null });
            let response = json_response(StatusCode::OK, models);
            (Answer::Status(200), Duration::ZERO, response)
        }
        _ => {
            let error = api_error("not_found_error", &format!("no route {method} {path}"));
            let response = json_response(StatusCode::NOT_FOUND, error);
            (Answer::Status(404), Duration::ZERO, response)
        }
    };
    shared.requests.lock().unwrap().push(RecordedRequest {
        method: method.to_string(),
        path,
        headers,
        body,
        answer,
    });
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    response
}

/// The path without its query.
fn route(path: &str) -> &str {
    path.split_once('?').map_or(path, |(route, _)| route)
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn api_error(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// The answer to one Messages request: what to say, after how long, at what cost.
#[derive(Debug)]
struct Decision {
    answer: Answer,
    delay: Duration,
    usage: Option<Usage>,
}

/// Token counts a step can fix, so that a test can predict the cost.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    tool: Option<String>,
    input: Option<Value>,
    text: Option<String>,
    rate_limit: Option<RateLimit>,
    delay_ms: Option<u64>,
    until_result_contains: Option<String>,
    prompt_contains: Option<String>,
    usage: Option<Usage>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct RateLimit {
    reset_in_s: u64,
    /// How many requests in a row are refused.
    #[serde(default = "once")]
    times: u32,
}

fn once() -> u32 {
    1
}

#[derive(Debug, PartialEq)]
enum Action {
    Tool { name: String, input: Value },
    Text(String),
    RateLimit(RateLimit),
}

#[derive(Debug)]
struct Step {
    action: Action,
    delay: Duration,
    until_result_contains: Option<String>,
    /// The step starts the turn whose prompt holds this text.
    prompt_contains: Option<String>,
    usage: Option<Usage>,
}

impl TryFrom<RawStep> for Step {
    type Error = String;

    fn try_from(raw: RawStep) -> Result<Step, String> {
        let action = match (raw.tool, raw.text, raw.rate_limit) {
            (Some(name), None, None) => Action::Tool {
                name,
                input: raw.input.unwrap_or_else(|| json!({})),
            },
            (None, Some(text), None) => Action::Text(text),
            (None, None, Some(limit)) => Action::RateLimit(limit),
            _ => return Err("a step has exactly one of `tool`, `text` and `rate_limit`".into()),
        };
        if raw.until_result_contains.is_some() && !matches!(action, Action::Tool { .. }) {
            return Err("`until_result_contains` belongs to a `tool` step".into());
        }
        Ok(Step {
            action,
            delay: Duration::from_millis(raw.delay_ms.unwrap_or(0)),
            until_result_contains: raw.until_result_contains,
            prompt_contains: raw.prompt_contains,
            usage: raw.usage,
        })
    }
}

/// The script in the first user message of a request that offers tools: `None`
/// when there is none, an error when it does not parse.
fn find_script(body: &Value) -> Option<Result<Vec<Step>, String>> {
    let offers_tools = body["tools"]
        .as_array()
        .is_some_and(|tools| !tools.is_empty());
    if !offers_tools {
        return None;
    }
    let first = messages(body).iter().find(|m| m["role"] == "user")?;
    let text = content_text(&first["content"]);
    let start = text.find(SCRIPT_START)? + SCRIPT_START.len();
    // The script is one JSON list; scripts nested in its strings (a leader's tasks)
    // stay inside it.
    let steps = serde_json::Deserializer::from_str(&text[start..])
        .into_iter::<Vec<RawStep>>()
        .next()?
        .map_err(|err| format!("the script does not parse: {err}"))
        .and_then(|raw| raw.into_iter().map(Step::try_from).collect());
    Some(steps)
}

/// Decides the answer to a Messages request. `rate_limit(step, times)` says whether
/// the rate limit step `step` still refuses this request (it counts the refusals).
fn decide(
    body: &Value,
    default_text: &str,
    mut rate_limit: impl FnMut(usize, u32) -> bool,
) -> Decision {
    let text = |text: String| Decision {
        answer: Answer::Text(text),
        delay: Duration::ZERO,
        usage: None,
    };
    let steps = match find_script(body) {
        None => return text(default_text.to_owned()),
        Some(Err(err)) => return text(format!("script error: {err}")),
        Some(Ok(steps)) => steps,
    };
    let (mut current, results) = walk(&steps, messages(body));
    loop {
        let Some(step) = steps.get(current) else {
            return text(AFTER_THE_SCRIPT.to_owned());
        };
        let answer = match &step.action {
            Action::RateLimit(limit) => {
                if !rate_limit(current, limit.times) {
                    current += 1;
                    continue;
                }
                Answer::RateLimited {
                    reset_in_s: limit.reset_in_s,
                }
            }
            Action::Text(said) => Answer::Text(said.clone()),
            Action::Tool { name, input } => match fill(input, &results) {
                Ok(input) => Answer::ToolUse {
                    name: name.clone(),
                    input,
                },
                Err(err) => return text(format!("script error in step {current}: {err}")),
            },
        };
        return Decision {
            answer,
            delay: step.delay,
            usage: step.usage,
        };
    }
}

/// Walks the conversation of the current turn: every assistant message answered one
/// step. Answers the step to take now and the latest tool result of each step.
fn walk(steps: &[Step], messages: &[Value]) -> (usize, Vec<Option<String>>) {
    let (first, from) = turn(steps, messages);
    let messages = &messages[from..];
    let results_by_id: HashMap<&str, String> = messages
        .iter()
        .filter(|message| message["role"] == "user")
        .flat_map(|message| blocks(message, "tool_result"))
        .filter_map(|block| Some((block["tool_use_id"].as_str()?, tool_result_text(block))))
        .collect();
    let mut results = vec![None; steps.len()];
    let mut current = first;
    for message in messages
        .iter()
        .filter(|message| message["role"] == "assistant")
    {
        // A rate limit leaves no trace in the conversation.
        while steps
            .get(current)
            .is_some_and(|step| matches!(step.action, Action::RateLimit(_)))
        {
            current += 1;
        }
        let Some(tool_use) = blocks(message, "tool_use").into_iter().next() else {
            current += 1;
            continue;
        };
        let result = tool_use["id"]
            .as_str()
            .and_then(|id| results_by_id.get(id))
            .cloned()
            .unwrap_or_default();
        let done = steps
            .get(current)
            .and_then(|step| step.until_result_contains.as_deref())
            .is_none_or(|wanted| result.contains(wanted));
        if let Some(slot) = results.get_mut(current) {
            *slot = Some(result);
        }
        if done {
            current += 1;
        }
    }
    (current, results)
}

/// Where the current turn starts: the step whose `prompt_contains` the latest user
/// message after the script's own holds, and that message's place; else the first
/// step and the whole conversation.
fn turn(steps: &[Step], messages: &[Value]) -> (usize, usize) {
    let Some(script_at) = messages
        .iter()
        .position(|message| message["role"] == "user")
    else {
        return (0, 0);
    };
    for (at, message) in messages.iter().enumerate().skip(script_at + 1).rev() {
        if message["role"] != "user" {
            continue;
        }
        let said = content_text(&message["content"]);
        let starts = steps.iter().position(|step| {
            step.prompt_contains
                .as_deref()
                .is_some_and(|wanted| said.contains(wanted))
        });
        if let Some(step) = starts {
            return (step, at);
        }
    }
    (0, 0)
}

/// Replaces `{{N.field}}` in every string of `input` with that field of the JSON text
/// of step N's tool result (`{{N}}`: the whole text; `{{N.a.0.b}}`: a path). A string
/// that is one placeholder and nothing else takes the field's JSON value as it is.
fn fill(input: &Value, results: &[Option<String>]) -> Result<Value, String> {
    Ok(match input {
        Value::String(text) => fill_string(text, results)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| fill(item, results))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| Ok((name.clone(), fill(value, results)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

fn fill_string(text: &str, results: &[Option<String>]) -> Result<Value, String> {
    if let Some(inner) = text.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) {
        if !inner.contains("{{") && !inner.contains("}}") {
            return resolve(inner, results);
        }
    }
    let mut filled = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(length) = rest[start..].find("}}") else {
            break;
        };
        filled.push_str(&rest[..start]);
        match resolve(&rest[start + 2..start + length], results)? {
            Value::String(value) => filled.push_str(&value),
            value => filled.push_str(&value.to_string()),
        }
        rest = &rest[start + length + 2..];
    }
    filled.push_str(rest);
    Ok(Value::String(filled))
}

fn resolve(placeholder: &str, results: &[Option<String>]) -> Result<Value, String> {
    let (step, path) = placeholder
        .split_once('.')
        .map_or((placeholder, None), |(step, path)| (step, Some(path)));
    let step: usize = step
        .trim()
        .parse()
        .map_err(|_| format!("`{{{{{placeholder}}}}}` does not start with a step number"))?;
    let text = results
        .get(step)
        .cloned()
        .flatten()
        .ok_or_else(|| format!("step {step} has no tool result yet"))?;
    let Some(path) = path else {
        return Ok(Value::String(text));
    };
    let mut value: Value = serde_json::from_str(&text)
        .map_err(|_| format!("the result of step {step} is not JSON: {text}"))?;
    for field in path.split('.') {
        value = match value {
            Value::Object(mut fields) => fields.remove(field),
            Value::Array(mut items) => field
                .parse::<usize>()
                .ok()
                .filter(|index| *index < items.len())
                .map(|index| items.swap_remove(index)),
            _ => None,
        }
        .ok_or_else(|| format!("the result of step {step} has no `{path}`: {text}"))?;
    }
    Ok(value)
}

fn messages(body: &Value) -> &[Value] {
    body["messages"].as_array().map_or(&[], Vec::as_slice)
}

/// The content blocks of one type in a message.
fn blocks<'a>(message: &'a Value, kind: &str) -> Vec<&'a Value> {
    message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == kind)
        .collect()
}

/// The text of a message's or a tool result's content: a string, or text blocks.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// What a tool answered: the result's text without the `<system-reminder>` notes
/// claude appends to it (they carry numbers, such as the tokens left, that would
/// confuse `until_result_contains` and placeholders).
fn tool_result_text(block: &Value) -> String {
    const OPEN: &str = "<system-reminder>";
    const CLOSE: &str = "</system-reminder>";
    let mut text = content_text(&block["content"]);
    while let Some(start) = text.find(OPEN) {
        let end = text[start..]
            .find(CLOSE)
            .map_or(text.len(), |end| start + end + CLOSE.len());
        text.replace_range(start..end, "");
    }
    text.trim().to_owned()
}

/// About four characters a token, as a rough tokenizer would count.
fn estimate_tokens(body: &Value) -> u64 {
    let characters = body["system"].to_string().len()
        + body["messages"].to_string().len()
        + body["tools"].to_string().len();
    (characters / 4).max(1) as u64
}

fn messages_response(shared: &Shared, body: &Value, decision: &Decision) -> Response {
    let model = body["model"].as_str().unwrap_or("claude-test");
    if let Answer::RateLimited { reset_in_s } = decision.answer {
        return rate_limited(shared, reset_in_s);
    }
    let block = match &decision.answer {
        Answer::ToolUse { name, input } => json!({
            "type": "tool_use",
            "id": format!("toolu_{:024}", shared.id()),
            "name": name,
            "input": input,
        }),
        Answer::Text(text) => json!({ "type": "text", "text": text }),
        Answer::RateLimited { .. } | Answer::Status(_) => unreachable!("not a message"),
    };
    let stop_reason = if block["type"] == "tool_use" {
        "tool_use"
    } else {
        "end_turn"
    };
    let usage = decision.usage.unwrap_or_else(|| Usage {
        input_tokens: estimate_tokens(body),
        output_tokens: (block.to_string().len() / 4).max(1) as u64,
    });
    let id = format!("msg_{:024}", shared.id());
    if body["stream"] != true {
        let message = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": null,
            "usage": {
                "input_tokens": usage.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": usage.output_tokens,
            },
        });
        return json_response(StatusCode::OK, message);
    }
    let mut events = vec![
        (
            "message_start",
            json!({
                "type": "message_start",
                "message": {
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {
                        "input_tokens": usage.input_tokens,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 1,
                    },
                },
            }),
        ),
        ("ping", json!({ "type": "ping" })),
    ];
    match &decision.answer {
        Answer::ToolUse { .. } => {
            let mut start = block.clone();
            start["input"] = json!({});
            events.push((
                "content_block_start",
                json!({ "type": "content_block_start", "index": 0, "content_block": start }),
            ));
            // The input arrives in pieces, as the model writes it.
            let input = block["input"].to_string();
            for piece in std::iter::once("").chain(pieces(&input, 40)) {
                events.push((
                    "content_block_delta",
                    json!({
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": { "type": "input_json_delta", "partial_json": piece },
                    }),
                ));
            }
        }
        _ => {
            events.push((
                "content_block_start",
                json!({
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": { "type": "text", "text": "" },
                }),
            ));
            let text = block["text"].as_str().unwrap_or_default();
            for piece in pieces(text, 40) {
                events.push((
                    "content_block_delta",
                    json!({
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": { "type": "text_delta", "text": piece },
                    }),
                ));
            }
        }
    }
    events.push((
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push((
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": usage.output_tokens },
        }),
    ));
    events.push(("message_stop", json!({ "type": "message_stop" })));
    let stream: String = events
        .iter()
        .map(|(event, data)| format!("event: {event}\ndata: {data}\n\n"))
        .collect();
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("request-id", format!("req_{:024}", shared.id()))
        .body(Body::from(stream))
        .expect("a valid response")
}

/// `text` in pieces of at most `size` bytes, cut at character boundaries.
fn pieces(text: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// A 429 as the API sends it: the standard `retry-after` and request limit headers,
/// and the unified (subscription) limit headers.
fn rate_limited(shared: &Shared, reset_in_s: u64) -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs();
    let reset = now + reset_in_s;
    let body = api_error(
        "rate_limit_error",
        "This request would exceed the rate limit for your organization. Please try again later.",
    );
    let mut response = json_response(StatusCode::TOO_MANY_REQUESTS, body);
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        headers.insert(name, HeaderValue::from_str(&value).expect("a header value"));
    };
    set("retry-after", reset_in_s.to_string());
    set("anthropic-ratelimit-requests-limit", "50".into());
    set("anthropic-ratelimit-requests-remaining", "0".into());
    set("anthropic-ratelimit-requests-reset", rfc3339(reset));
    set("anthropic-ratelimit-unified-status", "rejected".into());
    set("anthropic-ratelimit-unified-reset", reset.to_string());
    set(
        "anthropic-ratelimit-unified-representative-claim",
        "five_hour".into(),
    );
    set("request-id", format!("req_{:024}", shared.id()));
    response
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3600,
        time / 60 % 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prompt: &str, turns: &[Value]) -> Value {
        let mut messages = vec![json!({
            "role": "user",
            "content": [
                { "type": "text", "text": "<system-reminder>context</system-reminder>" },
                { "type": "text", "text": prompt },
            ],
        })];
        messages.extend(turns.iter().cloned());
        json!({ "model": "m", "messages": messages, "tools": [{ "name": "Bash" }], "stream": true })
    }

    fn tool_turn(id: &str, name: &str, result: &str) -> [Value; 2] {
        [
            json!({ "role": "assistant", "content": [
                { "type": "tool_use", "id": id, "name": name, "input": {} },
            ]}),
            json!({ "role": "user", "content": [
                { "type": "tool_result", "tool_use_id": id, "content": format!(
                    "{result}\n\n<system-reminder>\n<total_tokens>14968353 tokens left</total_tokens>\n</system-reminder>"
                ) },
            ]}),
        ]
    }

    fn answer_to(body: &Value) -> Answer {
        decide(body, "default", |_, _| false).answer
    }

    #[test]
    fn a_request_without_a_script_gets_the_default_text() {
        assert_eq!(
            answer_to(&request("Write a title", &[])),
            Answer::Text("default".into())
        );
        let mut no_tools = request(&script(&[json!({ "text": "x" })]), &[]);
        no_tools["tools"] = json!([]);
        assert_eq!(answer_to(&no_tools), Answer::Text("default".into()));
    }

    #[test]
    fn steps_follow_the_conversation_and_end_with_done() {
        let prompt = script(&[
            json!({ "tool": "Bash", "input": { "command": "ls" } }),
            json!({ "text": "finished" }),
        ]);
        assert_eq!(
            answer_to(&request(&prompt, &[])),
            Answer::ToolUse {
                name: "Bash".into(),
                input: json!({ "command": "ls" })
            }
        );
        let turns = tool_turn("t1", "Bash", "a.txt");
        assert_eq!(
            answer_to(&request(&prompt, &turns)),
            Answer::Text("finished".into())
        );
        let mut turns = turns.to_vec();
        turns.push(
            json!({ "role": "assistant", "content": [{ "type": "text", "text": "finished" }] }),
        );
        turns.push(json!({ "role": "user", "content": "and now?" }));
        assert_eq!(
            answer_to(&request(&prompt, &turns)),
            Answer::Text(AFTER_THE_SCRIPT.into())
        );
    }

    #[test]
    fn a_step_repeats_until_its_result_contains_the_text() {
        let prompt = script(&[
            json!({ "tool": "Bash", "input": { "command": "poll" }, "until_result_contains": "ready" }),
            json!({ "text": "finished" }),
        ]);
        let mut turns = tool_turn("t1", "Bash", "waiting").to_vec();
        assert!(matches!(
            answer_to(&request(&prompt, &turns)),
            Answer::ToolUse { .. }
        ));
        turns.extend(tool_turn("t2", "Bash", "ready now"));
        assert_eq!(
            answer_to(&request(&prompt, &turns)),
            Answer::Text("finished".into())
        );
    }

    #[test]
    fn a_turn_s_prompt_finds_its_steps_whatever_the_resumed_conversation_kept() {
        let prompt = script(&[
            json!({ "tool": "Bash", "input": { "command": "work" } }),
            json!({ "text": "worked" }),
            json!({ "tool": "Bash", "input": { "command": "resolve" }, "prompt_contains": "conflicts in" }),
            json!({ "text": "resolved" }),
        ]);
        let worked =
            json!({ "role": "assistant", "content": [{ "type": "text", "text": "worked" }] });
        let resolve = json!({ "role": "user", "content": [
            { "type": "text", "text": "<system-reminder>context</system-reminder>" },
            { "type": "text", "text": "Merging conflicts in README.md" },
        ]});
        let mut turns = tool_turn("t1", "Bash", "ok").to_vec();
        turns.extend([worked, resolve.clone()]);
        let resolving = Answer::ToolUse {
            name: "Bash".into(),
            input: json!({ "command": "resolve" }),
        };
        assert_eq!(answer_to(&request(&prompt, &turns)), resolving);
        // The daemon died while the resolving turn ran: the conversation keeps its
        // unfinished step, interrupted, and the same prompt comes again.
        turns.extend(tool_turn(
            "t2",
            "Bash",
            "[Request interrupted by user for tool use]",
        ));
        turns.push(resolve.clone());
        assert_eq!(answer_to(&request(&prompt, &turns)), resolving);
        turns.extend(tool_turn("t3", "Bash", "resolved README.md"));
        assert_eq!(
            answer_to(&request(&prompt, &turns)),
            Answer::Text("resolved".into())
        );
        // A session that lost the first turn altogether finds the turn all the same.
        assert_eq!(answer_to(&request(&prompt, &[resolve])), resolving);
        // The script's own message names the marker; the first turn is not taken
        // for the resolving one.
        assert!(matches!(
            answer_to(&request(&prompt, &[])),
            Answer::ToolUse { input, .. } if input == json!({ "command": "work" })
        ));
    }

    #[test]
    fn placeholders_take_fields_of_earlier_results() {
        let prompt = script(&[
            json!({ "tool": "mcp__baton__add_task", "input": { "description": "a" } }),
            json!({ "tool": "Bash", "input": {
                "command": "echo {{0.id}} {{0.tags.1}}",
                "task": "{{0.id}}",
                "priority": "{{0.priority}}",
                "raw": "{{0}}",
            }}),
        ]);
        let result = r#"{"id":"task-007","priority":3,"tags":["x","y"]}"#;
        let turns = tool_turn("t1", "mcp__baton__add_task", result);
        assert_eq!(
            answer_to(&request(&prompt, &turns)),
            Answer::ToolUse {
                name: "Bash".into(),
                input: json!({
                    "command": "echo task-007 y",
                    "task": "task-007",
                    "priority": 3,
                    "raw": result,
                }),
            }
        );
    }

    #[test]
    fn an_unresolvable_placeholder_or_a_bad_script_is_reported_as_the_answer() {
        let prompt = script(&[json!({ "tool": "Bash", "input": { "command": "{{0.id}}" } })]);
        let Answer::Text(text) = answer_to(&request(&prompt, &[])) else {
            panic!("a text answer")
        };
        assert!(text.contains("step 0 has no tool result yet"), "{text}");

        let prompt = script(&[json!({ "tool": "Bash", "text": "both" })]);
        let Answer::Text(text) = answer_to(&request(&prompt, &[])) else {
            panic!("a text answer")
        };
        assert!(text.starts_with("script error"), "{text}");
    }

    #[test]
    fn a_rate_limit_refuses_as_often_as_asked_then_gives_way() {
        let prompt = script(&[
            json!({ "rate_limit": { "reset_in_s": 2, "times": 2 } }),
            json!({ "text": "finished" }),
        ]);
        let body = request(&prompt, &[]);
        let mut served = 0;
        let mut next = || {
            decide(&body, "default", |step, times| {
                assert_eq!(step, 0);
                served += 1;
                served <= times
            })
            .answer
        };
        assert_eq!(next(), Answer::RateLimited { reset_in_s: 2 });
        assert_eq!(next(), Answer::RateLimited { reset_in_s: 2 });
        assert_eq!(next(), Answer::Text("finished".into()));
    }

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_007_540), "2026-11-30T02:59:00Z");
    }

    #[test]
    fn pieces_keep_characters_whole() {
        let text = "aé€😀b";
        assert_eq!(pieces(text, 2).collect::<String>(), text);
        assert!(pieces(text, 2).all(|piece| !piece.is_empty()));
    }
}
