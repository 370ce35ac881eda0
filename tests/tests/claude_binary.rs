//! The real Claude Code binary against the scripted Messages API: what baton's agent
//! runtime will see when it runs `claude -p ... --output-format stream-json`.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton_tests::claude::{Run, Sandbox};
use baton_tests::model_server::{script, Answer, ModelServer};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(120);

fn run(sandbox: &Sandbox, server: &ModelServer, prompt: &str, args: &[&str]) -> Run {
    Run::of(sandbox.command(server.url(), prompt).args(args), LIMIT)
}

fn assert_success(run: &Run) {
    assert!(
        run.status.success(),
        "claude failed ({}):\n{}\n{}",
        run.status,
        run.stderr,
        run.stdout
    );
}

#[test]
fn claude_writes_a_file_as_scripted_and_reports_the_final_text_and_cost() {
    let server = ModelServer::start();
    let sandbox = Sandbox::new();
    let prompt = format!(
        "Write hello.txt, then say you are finished.\n{}",
        script(&[
            json!({ "tool": "Write", "input": {
                "file_path": sandbox.dir().join("hello.txt"),
                "content": "Hello from the script\n",
            }, "usage": { "input_tokens": 1000, "output_tokens": 100 } }),
            json!({ "text": "finished", "usage": { "input_tokens": 1500, "output_tokens": 50 } }),
        ])
    );

    let run = run(
        &sandbox,
        &server,
        &prompt,
        &["--allowedTools", "Write", "Bash", "Read"],
    );

    assert_success(&run);
    let written = std::fs::read_to_string(sandbox.dir().join("hello.txt")).unwrap();
    assert_eq!(written, "Hello from the script\n");

    let events = run.events();
    let init = &events[0];
    assert_eq!(
        (&init["type"], &init["subtype"]),
        (&json!("system"), &json!("init"))
    );
    let session = init["session_id"].as_str().expect("a session id");
    let result = run.result();
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false);
    assert_eq!(result["result"], "finished");
    assert_eq!(result["session_id"], session);
    assert_eq!(result["num_turns"], 2);
    assert_eq!(result["permission_denials"], json!([]));
    assert_eq!(result["usage"]["input_tokens"], 2500);
    assert_eq!(result["usage"]["output_tokens"], 150);
    // Sonnet 4's list price: $3 a million tokens in, $15 out.
    let cost = result["total_cost_usd"].as_f64().unwrap();
    assert!(
        (cost - (2500.0 * 3.0 + 150.0 * 15.0) / 1e6).abs() < 1e-9,
        "{cost}"
    );

    let tool_use = events
        .iter()
        .filter(|event| event["type"] == "assistant")
        .flat_map(|event| event["message"]["content"].as_array().unwrap())
        .find(|block| block["type"] == "tool_use")
        .expect("the assistant's Write shows in the stream");
    assert_eq!(tool_use["name"], "Write");
    let tool_result = events
        .iter()
        .filter(|event| event["type"] == "user")
        .flat_map(|event| event["message"]["content"].as_array().unwrap())
        .find(|block| block["type"] == "tool_result")
        .expect("the Write's result shows in the stream");
    assert_eq!(tool_result["tool_use_id"], tool_use["id"]);

    let requests = server.messages_requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(requests[0].path, "/v1/messages?beta=true");
    assert_eq!(requests[0].body["stream"], true);
    for tool in ["Write", "Bash", "Read"] {
        assert!(
            requests[0].tool_names().contains(&tool),
            "{tool} is offered"
        );
    }
    assert_eq!(requests[1].tool_results().len(), 1);
    assert_eq!(requests[1].answer, Answer::Text("finished".into()));
}

/// What baton's MCP bridge will see: with `ENABLE_TOOL_SEARCH=false` the server's
/// tools are offered by name (`mcp__<server>__<tool>`), not deferred behind a tool
/// search, and a call travels to the server and its answer back to the model.
#[test]
fn mcp_tools_are_offered_directly_and_their_calls_reach_the_server() {
    let server = ModelServer::start();
    let sandbox = Sandbox::new();
    let calls = sandbox.home().join("echo-calls.jsonl");
    let config = sandbox.home().join("mcp.json");
    let echo_server = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/echo_mcp_server.py");
    let mcp = json!({ "mcpServers": { "probe": {
        "type": "stdio",
        "command": python(),
        "args": [echo_server, calls],
    }}});
    std::fs::write(&config, mcp.to_string()).unwrap();
    let prompt = format!(
        "Echo ping, then write what came back.\n{}",
        script(&[
            json!({ "tool": "mcp__probe__echo", "input": { "text": "ping" } }),
            json!({ "tool": "Write", "input": {
                "file_path": sandbox.dir().join("echoed.txt"),
                "content": "{{0.echoed}} {{0.id}}",
            }}),
            json!({ "text": "finished" }),
        ])
    );

    let run = run(
        &sandbox,
        &server,
        &prompt,
        &[
            "--mcp-config",
            config.to_str().unwrap(),
            "--allowedTools",
            "mcp__probe__echo",
            "Write",
        ],
    );

    assert_success(&run);
    assert_eq!(run.result()["result"], "finished");
    let init = &run.events()[0];
    assert_eq!(
        init["mcp_servers"],
        json!([{ "name": "probe", "status": "connected", "source": "dynamic" }])
    );
    assert!(init["tools"]
        .as_array()
        .unwrap()
        .contains(&json!("mcp__probe__echo")));

    let requests = server.messages_requests();
    let offered = requests[0].tool_names();
    assert!(offered.contains(&"mcp__probe__echo"), "{offered:?}");
    assert!(
        !offered.iter().any(|name| name.contains("ToolSearch")),
        "no tool search: {offered:?}"
    );
    let echo = requests[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|tool| tool["name"] == "mcp__probe__echo")
        .unwrap();
    assert_eq!(echo["input_schema"]["required"], json!(["text"]));
    assert!(
        echo.get("defer_loading").is_none_or(|defer| defer == false),
        "{echo}"
    );

    let call: Value =
        serde_json::from_str(std::fs::read_to_string(&calls).unwrap().trim()).unwrap();
    assert_eq!(call["name"], "echo");
    assert_eq!(call["arguments"], json!({ "text": "ping" }));
    assert_eq!(
        requests[1].tool_results(),
        [r#"{"echoed": "ping", "id": "echo-1"}"#]
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.dir().join("echoed.txt")).unwrap(),
        "ping echo-1"
    );
}

#[test]
fn a_step_repeats_until_its_tool_result_contains_the_awaited_text() {
    let server = ModelServer::start();
    let sandbox = Sandbox::new();
    let prompt = script(&[
        json!({
            "tool": "Bash",
            "input": { "command": "echo tick >> ticks.txt; wc -l < ticks.txt" },
            "until_result_contains": "3",
        }),
        json!({ "text": "finished" }),
    ]);

    let run = run(&sandbox, &server, &prompt, &["--allowedTools", "Bash"]);

    assert_success(&run);
    for r in server.messages_requests() {
        eprintln!(
            "DEBUG {}",
            serde_json::to_string(&r.body["messages"].as_array().unwrap()[1..]).unwrap()
        );
        eprintln!("DEBUG answer {:?}", r.answer);
    }
    assert_eq!(run.result()["result"], "finished");
    let ticks = std::fs::read_to_string(sandbox.dir().join("ticks.txt")).unwrap();
    assert_eq!(ticks.lines().count(), 3);
    assert_eq!(server.messages_requests().len(), 4);
}

/// With an API key, a 429 shows as `system`/`api_retry` events and the request is
/// tried again after `retry-after`.
#[test]
fn a_rate_limited_request_is_retried_after_the_reset() {
    let server = ModelServer::start();
    let sandbox = Sandbox::new();
    let prompt = script(&[
        json!({ "rate_limit": { "reset_in_s": 1 } }),
        json!({ "text": "finished" }),
    ]);

    let run = run(&sandbox, &server, &prompt, &[]);

    assert_success(&run);
    assert_eq!(run.result()["result"], "finished");
    let retries = run.events_of("system", Some("api_retry"));
    assert_eq!(retries.len(), 1, "{retries:#?}");
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[0]["error_status"], 429);
    assert_eq!(retries[0]["error"], "rate_limit");
    assert!(retries[0]["retry_delay_ms"].as_u64().unwrap() >= 1000);
    assert!(run.duration >= Duration::from_secs(1));
    let answers: Vec<Answer> = server
        .messages_requests()
        .into_iter()
        .map(|request| request.answer)
        .collect();
    assert_eq!(
        answers,
        [
            Answer::RateLimited { reset_in_s: 1 },
            Answer::Text("finished".into())
        ]
    );
}

/// Behind a gateway (and on a Claude subscription) claude reads the
/// `anthropic-ratelimit-unified-*` headers: once its retries are spent it reports
/// a `rate_limit_event` with the reset time, then fails the run.
#[test]
fn a_rate_limit_that_outlasts_the_retries_ends_the_run_with_a_rate_limit_event() {
    let server = ModelServer::start();
    let sandbox = Sandbox::new();
    let prompt = script(&[
        json!({ "rate_limit": { "reset_in_s": 3600, "times": 5 } }),
        json!({ "text": "finished" }),
    ]);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();

    let run = Run::of(
        sandbox
            .command(server.url(), &prompt)
            .env_remove("ANTHROPIC_API_KEY")
            .env("ANTHROPIC_AUTH_TOKEN", gateway_token())
            .env("CLAUDE_CODE_MAX_RETRIES", "0"),
        LIMIT,
    );

    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    let events = run.events_of("rate_limit_event", None);
    assert_eq!(events.len(), 1, "{}", run.stdout);
    let info = &events[0]["rate_limit_info"];
    assert_eq!(info["status"], "rejected");
    assert_eq!(info["rateLimitType"], "five_hour");
    let resets_at = info["resetsAt"].as_u64().unwrap();
    assert!((now + 3600..now + 3700).contains(&resets_at), "{info}");

    let result = run.result();
    assert_eq!(result["is_error"], true);
    assert_eq!(result["api_error_status"], 429);
    assert_eq!(result["terminal_reason"], "api_error");
    assert_eq!(server.messages_requests().len(), 1);
}

/// A bearer token for an LLM gateway: claude only decodes its audience.
fn gateway_token() -> String {
    fn base64url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut text = String::new();
        for chunk in bytes.chunks(3) {
            let bits = chunk.iter().enumerate().fold(0u32, |bits, (i, byte)| {
                bits | u32::from(*byte) << (16 - 8 * i)
            });
            for i in 0..=chunk.len() {
                text.push(ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        text
    }
    let header = json!({ "alg": "none", "typ": "JWT" }).to_string();
    let claims = json!({ "aud": "claude-gateway", "sub": "baton-tests" }).to_string();
    format!(
        "{}.{}.unsigned",
        base64url(header.as_bytes()),
        base64url(claims.as_bytes())
    )
}

/// The Python interpreter itself, not a shim that would look in the private HOME.
fn python() -> String {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "python3 runs");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
