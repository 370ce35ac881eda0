//! The command line as a user drives it: the real `baton`, which starts the real
//! `batond` by itself. Each test has a workspace and daemon of its own. What the
//! daemon does through the protocol is in `protocol.rs`; these tests are about what
//! the commands print, their exit status, and the daemon's life as the CLI sees it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton_tests::{bin_dir, process_exists, wait_until, TestWorkspace};
use serde_json::{json, Value};

/// How long a test waits for the daemon or a watcher before it gives up.
const LIMIT: Duration = Duration::from_secs(10);

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("baton prints UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("baton prints UTF-8")
}

/// Checks that a command failed as an error should: exit status 1, nothing on
/// stdout, one line on stderr that starts with `error:`. Answers that line.
fn error_line(output: &Output, what: &str) -> String {
    let said = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{what}: {said}");
    assert_eq!(stdout(output), "", "{what} printed nothing on stdout");
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines.len(), 1, "{what} says one line: {said:?}");
    assert!(lines[0].starts_with("error: "), "{what}: {said:?}");
    lines[0].to_owned()
}

/// Runs baton and expects an error; answers its one line.
fn fails(workspace: &TestWorkspace, args: &[&str]) -> String {
    error_line(&workspace.baton(args), &format!("baton {args:?}"))
}

/// Runs baton and expects bad usage: exit status 2 and a word on stderr.
fn misused(workspace: &TestWorkspace, args: &[&str]) -> String {
    let output = workspace.baton(args);
    let said = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "baton {args:?}: {said}");
    assert!(said.starts_with("error: "), "baton {args:?}: {said}");
    assert!(!said.contains("panicked"), "baton {args:?}: {said}");
    said
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// Writes a file in the workspace; answers its absolute path.
fn write(workspace: &TestWorkspace, name: &str, text: &str) -> String {
    let path = workspace.root().join(name);
    std::fs::write(&path, text).expect("the file is written");
    path.display().to_string()
}

fn ids(tasks: &Value) -> Vec<&str> {
    tasks
        .as_array()
        .expect("a list of tasks")
        .iter()
        .map(|task| task["id"].as_str().expect("a task has an id"))
        .collect()
}

/// The time stamps in human output (`2025-03-01 09:00:00 UTC`) as `<time>`.
fn redact_times(text: &str) -> String {
    const SHAPE: &[u8] = b"0000-00-00 00:00:00";
    let fits = |bytes: &[u8]| {
        bytes.len() == SHAPE.len()
            && bytes.iter().zip(SHAPE).all(|(byte, shape)| match shape {
                b'0' => byte.is_ascii_digit(),
                _ => byte == shape,
            })
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(" UTC") {
        let start = at.saturating_sub(SHAPE.len());
        if fits(&rest.as_bytes()[start..at]) {
            out.push_str(&rest[..start]);
            out.push_str("<time>");
        } else {
            out.push_str(&rest[..at + " UTC".len()]);
        }
        rest = &rest[at + " UTC".len()..];
    }
    out.push_str(rest);
    out
}

/// `baton watch` running beside the test, its lines read as they come.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watch {
    fn start(workspace: &TestWorkspace, json: bool) -> Watch {
        let mut command = Command::new(bin_dir().join("baton"));
        command
            .arg("-C")
            .arg(workspace.root())
            .arg("watch")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if json {
            command.arg("--json");
        }
        let mut child = command.spawn().expect("baton watch runs");
        let out = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines }
    }

    /// Returns once the watcher prints what a change makes it print. A watcher only
    /// hears of changes made after it has subscribed, so the test changes a setting
    /// (to the value it has) until a line shows that the watcher hears.
    fn listening(&self, workspace: &TestWorkspace) {
        let deadline = Instant::now() + LIMIT;
        loop {
            workspace.ok(&["config", "max_attempts", "1"]);
            if self.lines.recv_timeout(Duration::from_millis(100)).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "the watcher never printed");
        }
    }

    /// The next line that `wanted` accepts; lines before it are passed over.
    fn line(&self, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + LIMIT;
        let mut passed = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(line) => passed.push(line),
                Err(err) => panic!("no wanted line ({err}); the watcher printed {passed:#?}"),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The daemon's life.

#[test]
fn the_first_command_starts_the_daemon_and_later_commands_reuse_it() {
    let workspace = TestWorkspace::new();
    assert_eq!(workspace.daemon_pid(), None);

    workspace.ok(&["add", "start the daemon"]);
    let pid = workspace
        .daemon_pid()
        .expect("the first command started a daemon");
    assert!(process_exists(pid));

    workspace.ok(&["tasks"]);
    workspace.ok(&["claim", "--agent", "a"]);
    let status = workspace.json(&["daemon", "status"]);
    assert_eq!(
        status["pid"],
        json!(pid),
        "the same daemon answers: {status}"
    );
    let root = workspace.workspace().root().display().to_string();
    assert_eq!(status["workspace"], json!(root));
}

#[test]
fn daemon_status_without_a_daemon_says_none_runs_and_starts_none() {
    let workspace = TestWorkspace::new();
    let root = workspace.workspace().root().display().to_string();

    let said = workspace
        .ok(&["daemon", "status"])
        .replace(&root, "<workspace>");
    insta::assert_snapshot!(said, @"no daemon runs for <workspace>");
    assert_eq!(workspace.json(&["daemon", "status"]), Value::Null);
    assert_eq!(workspace.daemon_pid(), None, "asking started no daemon");
}

#[test]
fn daemon_stop_ends_the_daemon_and_the_next_command_starts_a_new_one_with_the_state() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "keep the state"]);
    let first = workspace.ok(&["add", "kept across restarts"]);
    let pid = workspace.daemon_pid().expect("a daemon runs");

    let said = workspace.ok(&["daemon", "stop"]);
    assert!(said.starts_with("stopped batond"), "{said}");
    assert!(said.contains(&format!("(pid {pid})")), "{said}");
    wait_until(LIMIT, || !process_exists(pid));
    let root = workspace.workspace().root().display().to_string();
    assert_eq!(
        workspace.ok(&["daemon", "status"]),
        format!("no daemon runs for {root}\n")
    );

    let tasks = workspace.json(&["tasks"]);
    let restarted = workspace
        .daemon_pid()
        .expect("the command started a daemon");
    assert_ne!(restarted, pid);
    assert_eq!(ids(&tasks), [first.trim()]);
    assert_eq!(workspace.json(&["status"])["goal"], "keep the state");
}

#[test]
fn every_task_added_before_a_kill_9_of_the_daemon_is_there_after() {
    let workspace = TestWorkspace::new();
    for i in 0..5 {
        workspace.ok(&["add", &format!("step {i}")]);
    }
    workspace.ok(&["claim", "--agent", "a"]);
    workspace.ok(&["complete", "task-001", "--output", "done before the crash"]);
    let before = workspace.json(&["tasks"]);
    let pid = workspace.daemon_pid().expect("a daemon runs");

    workspace.kill_daemon();

    assert_eq!(workspace.json(&["tasks"]), before);
    assert_ne!(workspace.daemon_pid(), Some(pid), "a new daemon answered");
    assert_eq!(workspace.ok(&["add", "after the crash"]), "task-006\n");
}

#[test]
fn the_command_after_a_crash_says_the_daemon_had_stopped_and_status_keeps_saying_it() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "survives"]);
    workspace.kill_daemon();

    let output = workspace.baton(&["tasks"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(lines(&stdout(&output)).len(), 1, "the answer is as always");
    let said = stderr(&output);
    assert!(
        said.starts_with("batond had stopped unexpectedly at "),
        "{said}"
    );
    assert!(said.contains(" (see .baton/logs/daemon.log."), "{said}");
    assert!(said.ends_with("); restarted\n"), "{said}");

    let status = workspace.ok(&["status"]);
    assert_eq!(
        lines(&status)[0],
        format!("notice         {}", said.trim_end())
    );
    let crash = workspace.json(&["status"])["crash"].clone();
    assert_eq!(crash["run_resumed"], false, "{crash}");
    let stopped_at: chrono::DateTime<chrono::Utc> =
        crash["stopped_at"].as_str().unwrap().parse().unwrap();
    let ago = chrono::Utc::now() - stopped_at;
    assert!(ago.num_seconds() < 60, "stopped {ago} ago: {crash}");
    let log = workspace.root().join(crash["log_file"].as_str().unwrap());
    assert!(log.is_file(), "{crash}");

    stop_daemon(&workspace);
    let output = workspace.baton(&["tasks"]);
    assert_eq!(stderr(&output), "", "a clean stop is no crash");
    assert!(workspace.json(&["status"])["crash"].is_null());
}

#[test]
fn a_client_that_goes_away_mid_stream_leaves_no_error_in_the_daemon_log() {
    let workspace = TestWorkspace::new();
    let watch = Watch::start(&workspace, true);
    watch.listening(&workspace);
    let batch = json!((0..300)
        .map(|i| json!({ "description": format!("step {i}") }))
        .collect::<Vec<_>>())
    .to_string();
    // The watcher stops reading while events pile up, then is killed with them
    // unread, and the daemon goes on sending: what a `baton watch | head` does.
    let pid = watch.child.id() as i32;
    // SAFETY: sending a signal touches no memory of ours.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    for _ in 0..2 {
        let added = workspace.baton_with_input(&["add", "--batch", "-"], Some(&batch));
        assert!(added.status.success(), "{}", stderr(&added));
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    drop(watch);
    let added = workspace.baton_with_input(&["add", "--batch", "-"], Some(&batch));
    assert!(added.status.success(), "{}", stderr(&added));
    stop_daemon(&workspace);

    let logs = workspace.workspace().log_dir();
    let mut errors = Vec::new();
    for entry in std::fs::read_dir(&logs).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("daemon.log") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            errors.extend(
                text.lines()
                    .filter(|line| line.contains(" ERROR "))
                    .map(str::to_owned),
            );
        }
    }
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn watch_ends_without_error_when_the_daemon_stops() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["daemon", "start"]);
    let mut watch = Watch::start(&workspace, false);
    watch.listening(&workspace);

    workspace.ok(&["daemon", "stop"]);

    let mut ended = None;
    wait_until(LIMIT, || {
        ended = watch
            .child
            .try_wait()
            .expect("the watcher can be waited on");
        ended.is_some()
    });
    let status = ended.expect("watch ended");
    assert!(status.success(), "{status}");
}

// Goal and configuration.

#[test]
fn init_sets_the_goal_the_plan_and_the_settings_that_status_and_config_show() {
    let workspace = TestWorkspace::new();
    let said = workspace.ok(&[
        "init",
        "Parse the configuration language",
        "--plan",
        "1. lexer\n2. parser",
        "--max-workers",
        "5",
        "--model",
        "claude-opus-4",
        "--task-timeout",
        "90",
    ]);
    insta::assert_snapshot!(said, @"goal set: Parse the configuration language");

    let status = workspace.json(&["status"]);
    assert_eq!(status["goal"], "Parse the configuration language");
    assert_eq!(status["master_plan"], "1. lexer\n2. parser");
    let config = workspace.json(&["config"]);
    assert_eq!(config["max_workers"], 5);
    assert_eq!(config["model"], "claude-opus-4");
    assert_eq!(config["task_timeout"], 90);
    assert_eq!(
        config["max_attempts"], 1,
        "the other settings keep defaults"
    );
}

#[test]
fn status_shows_the_goal_the_progress_and_the_latest_discoveries() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "Parse the configuration language"]);
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    workspace.ok(&["add", "docs"]);
    workspace.ok(&["add", "examples"]);
    workspace.ok(&["claim", "--agent", "worker-1"]);
    workspace.ok(&["complete", "task-001"]);
    workspace.ok(&["cancel", "task-003"]);
    workspace.ok(&["discover", "Comments may nest", "--agent", "worker-1"]);

    let status = workspace.ok(&["status"]);
    let (shown, last) = status.trim_end().rsplit_once('\n').expect("several lines");
    assert!(last.starts_with("last activity  "), "{status}");
    insta::assert_snapshot!(shown, @r"
    goal           Parse the configuration language
    state          idle
    progress       1/4 done · 50% finished · 0 failed · 1 cancelled · 2 available · 0 claimed · 0 in progress
    discoveries    worker-1: Comments may nest
    ");
    let progress = &workspace.json(&["status"])["progress"];
    assert_eq!(progress["total_tasks"], 4);
    assert_eq!(progress["by_status"]["done"], 1);
}

#[test]
fn init_reads_the_plan_from_a_file() {
    let workspace = TestWorkspace::new();
    let plan = write(&workspace, "plan.md", "# Plan\n\n1. lexer\n2. parser\n");

    workspace.ok(&["init", "Parse it", "--plan-file", &plan]);

    let status = workspace.json(&["status"]);
    assert_eq!(status["goal"], "Parse it");
    assert_eq!(status["master_plan"], "# Plan\n\n1. lexer\n2. parser\n");
}

#[test]
fn init_takes_the_workers_and_timeout_the_daemon_takes_and_refuses_the_rest_as_bad_usage() {
    let workspace = TestWorkspace::new();
    workspace.ok(&[
        "init",
        "g",
        "--max-workers",
        "64",
        "--task-timeout",
        "31536000",
    ]);
    let config = workspace.json(&["config"]);
    assert_eq!(
        (&config["max_workers"], &config["task_timeout"]),
        (&json!(64), &json!(31_536_000))
    );

    for (flag, value, range) in [
        ("--max-workers", "0", "1..=64"),
        ("--max-workers", "65", "1..=64"),
        ("--max-workers", "99999999999", "1..=64"),
        ("--task-timeout", "0", "1..=31536000"),
        ("--task-timeout", "31536001", "1..=31536000"),
        ("--task-timeout", "99999999999", "1..=31536000"),
    ] {
        let said = misused(&workspace, &["init", "h", flag, value]);
        assert!(
            said.starts_with(&format!("error: invalid value '{value}' for '{flag} <"))
                && said.contains(&format!(": {value} is not in {range}\n")),
            "init {flag} {value}: {said}"
        );
    }
    assert_eq!(workspace.json(&["config"]), config);
    assert_eq!(workspace.json(&["status"])["goal"], "g");
}

#[test]
fn init_without_a_readable_plan_file_or_a_goal_is_refused() {
    let workspace = TestWorkspace::new();
    let missing = workspace.root().join("no-plan.md").display().to_string();

    let said = fails(&workspace, &["init", "Parse it", "--plan-file", &missing]);
    assert!(said.contains(&missing), "{said}");
    let said = fails(&workspace, &["init", "  "]);
    assert!(said.contains("goal is empty"), "{said}");
    assert_eq!(workspace.json(&["status"])["goal"], "");
}

#[test]
fn config_lists_every_setting_with_its_default() {
    let workspace = TestWorkspace::new();
    insta::assert_snapshot!(workspace.ok(&["config"]), @r"
    agent_args           none
    agent_command        claude
    allowed_tools        Read, Write, Edit, Glob, Grep, Bash
    integration_branch   baton/integration
    isolation            automatic (worktree in a git repository, else shared)
    keep_branches        off
    leader_prompt        built-in
    max_attempts         1
    max_review_rounds    2
    max_verify_attempts  2
    max_workers          3
    model                claude-sonnet-4-20250514
    permission_mode      acceptEdits
    review               off
    reviewer_prompt      built-in
    run_budget_usd       none
    task_budget_usd      none
    task_timeout         600
    verify_command       none
    worker_prompt        built-in
    ");
}

#[test]
fn config_sets_prints_and_clears_one_setting() {
    let workspace = TestWorkspace::new();

    assert_eq!(
        workspace.ok(&["config", "max_workers", "7"]),
        "max_workers = 7\n"
    );
    assert_eq!(workspace.ok(&["config", "max_workers"]), "7\n");
    assert_eq!(workspace.json(&["config", "max_workers"]), json!(7));

    assert_eq!(
        workspace.ok(&["config", "allowed_tools", r#"["Read","Grep"]"#]),
        "allowed_tools = Read, Grep\n"
    );
    assert_eq!(
        workspace.json(&["config"])["allowed_tools"],
        json!(["Read", "Grep"])
    );

    workspace.ok(&["config", "task_budget_usd", "2.5"]);
    assert_eq!(workspace.ok(&["config", "task_budget_usd"]), "2.5\n");
    assert_eq!(
        workspace.ok(&["config", "task_budget_usd", "null"]),
        "task_budget_usd = none\n"
    );
    assert_eq!(workspace.ok(&["config", "task_budget_usd"]), "none\n");
    let config = workspace.json(&["config"]);
    assert_eq!(config["task_budget_usd"], Value::Null);
    assert_eq!(config["max_workers"], 7, "other settings stay");
}

#[test]
fn a_bad_setting_or_value_is_refused_in_one_line_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["config", "max_workers", "4"]);
    let before = workspace.json(&["config"]);

    // A name that is no setting is bad usage, as an unknown flag is.
    let said = misused(&workspace, &["config", "workers", "3"]);
    assert!(said.starts_with("error: unknown setting `workers`; the settings are agent_args"));
    let said = misused(&workspace, &["config", "workers"]);
    assert!(
        said.starts_with("error: unknown setting `workers`"),
        "{said}"
    );
    let cases = [
        (
            ["config", "max_workers", "many"],
            "`many` does not fit max_workers",
        ),
        (["config", "max_workers", "0"], "max_workers 0 is outside"),
        (["config", "model", "null"], "model cannot be unset"),
        (
            ["config", "isolation", "bogus"],
            "`bogus` does not fit isolation",
        ),
        (["config", "task_timeout", "0"], "task_timeout"),
        (
            ["config", "max_workers", "99999999999"],
            "`99999999999` does not fit max_workers: max_workers takes a whole number from 1 to 64",
        ),
        (
            ["config", "permission_mode", "weird"],
            "`weird` does not fit permission_mode: permission_mode takes one of default, acceptEdits",
        ),
    ];
    for (args, says) in cases {
        let said = fails(&workspace, &args);
        assert!(
            said.contains(says),
            "baton {args:?}: `{said}` should say `{says}`"
        );
    }
    assert_eq!(workspace.json(&["config"]), before);
}

#[test]
fn a_blank_prompt_template_is_refused_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["config", "worker_prompt", "Do {description}"]);
    for key in ["worker_prompt", "leader_prompt", "reviewer_prompt"] {
        let said = fails(&workspace, &["config", key, " \n "]);
        assert!(
            said.contains(&format!("{key} is empty")) && said.contains("--show-default"),
            "{said}"
        );
    }
    let config = workspace.json(&["config"]);
    assert_eq!(config["worker_prompt"], "Do {description}");
    assert_eq!(config["leader_prompt"], Value::Null);

    // A state an earlier version saved with a blank template still loads, and the
    // template does not stand in the way of changing another setting.
    let file = workspace.root().join("earlier.json");
    workspace.ok(&["save", file.to_str().unwrap()]);
    let mut state: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    state["config"]["leader_prompt"] = json!(" ");
    std::fs::write(&file, state.to_string()).unwrap();
    workspace.ok(&["load", file.to_str().unwrap()]);
    workspace.ok(&["config", "max_workers", "2"]);
    assert_eq!(workspace.json(&["config"])["max_workers"], 2);
}

#[test]
fn editing_a_task_at_work_says_its_agent_goes_on_with_it_as_given() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "write the parser"]);
    let waiting = workspace.baton(&["edit", "task-001", "--description", "write the lexer"]);
    assert_eq!(
        stderr(&waiting),
        "",
        "a waiting task's edit is all it needs"
    );
    workspace.ok(&["claim", "--agent", "me"]);

    let held = workspace.baton(&["edit", "task-001", "--description", "write both"]);

    assert!(held.status.success(), "{}", stderr(&held));
    assert_eq!(
        stderr(&held).trim(),
        "task-001 is being worked on: its agent goes on with the task as it was given; the edit is what a later attempt gets"
    );
}

#[test]
fn load_says_which_settings_the_file_brought_back() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["config", "verify_command", "make check"]);
    workspace.ok(&["add", "one task"]);
    let file = workspace.root().join("saved.json");
    workspace.ok(&["save", file.to_str().unwrap()]);
    workspace.ok(&["config", "verify_command", "none"]);
    workspace.ok(&["config", "keep_branches", "on"]);

    let loaded = workspace.baton(&["load", file.to_str().unwrap()]);

    assert!(loaded.status.success(), "{}", stderr(&loaded));
    assert_eq!(
        stderr(&loaded).trim(),
        "settings as the file has them: keep_branches: on → off; verify_command: none → make check"
    );
    let unchanged = workspace.baton(&["load", file.to_str().unwrap()]);
    assert_eq!(stderr(&unchanged), "", "nothing changed, nothing said");
}

#[test]
fn config_takes_flags_after_a_double_dash_lists_with_commas_and_none_to_unset() {
    let workspace = TestWorkspace::new();
    assert_eq!(
        workspace.ok(&["config", "agent_args", "--", "--verbose", "--debug"]),
        "agent_args = --verbose, --debug\n"
    );
    workspace.ok(&["config", "allowed_tools", "Read,Write"]);
    workspace.ok(&["config", "run_budget_usd", "5"]);
    workspace.ok(&["config", "worker_prompt", "Do {description}"]);
    let config = workspace.json(&["config"]);
    assert_eq!(config["agent_args"], json!(["--verbose", "--debug"]));
    assert_eq!(config["allowed_tools"], json!(["Read", "Write"]));
    assert_eq!(config["run_budget_usd"], 5.0);

    for key in ["run_budget_usd", "worker_prompt", "agent_args"] {
        workspace.ok(&["config", key, "none"]);
    }
    let config = workspace.json(&["config"]);
    assert_eq!(config["run_budget_usd"], Value::Null);
    assert_eq!(config["worker_prompt"], Value::Null);
    assert_eq!(config["agent_args"], json!([]));

    let said = fails(&workspace, &["config", "max_workers", "many"]);
    assert_eq!(
        said,
        "error: `many` does not fit max_workers: max_workers takes a whole number from 1 to 64, e.g. `baton config max_workers 4`"
    );
    assert!(!said.contains("invalid type"), "no serde words: {said}");
}

#[test]
fn a_list_setting_that_starts_as_json_is_json_or_refused_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["config", "agent_args", r#"["--add-dir", "a,b"]"#]);
    let before = workspace.json(&["config"]);
    assert_eq!(before["agent_args"], json!(["--add-dir", "a,b"]));

    for key in ["agent_args", "allowed_tools"] {
        let said = fails(&workspace, &["config", key, r#"["a", 1]"#]);
        assert_eq!(
            said,
            format!(
                r#"error: `["a", 1]` is not a JSON list of strings; write {key} as ["A","B"], each item in double quotes, or as A,B"#
            )
        );
    }
    assert_eq!(workspace.json(&["config"]), before);
}

#[test]
fn config_help_lists_every_setting_with_its_default_and_the_placeholders() {
    let workspace = TestWorkspace::new();
    let help = workspace.ok(&["config", "--help"]);
    for key in workspace.json(&["config"]).as_object().unwrap().keys() {
        assert!(
            help.lines()
                .any(|line| line.trim_start().starts_with(key.as_str())),
            "{key} is not in the help: {help}"
        );
    }
    let workers = help
        .lines()
        .find(|line| line.trim_start().starts_with("max_workers"))
        .unwrap();
    assert!(
        workers.ends_with("how many worker agents run at once (1..64) [3]"),
        "{workers}"
    );
    assert!(help.contains("{dependencies}"), "{help}");
    assert!(
        help.contains("baton config agent_args -- --verbose"),
        "{help}"
    );

    let prompt = workspace.ok(&["config", "worker_prompt", "--show-default"]);
    assert!(prompt.starts_with("You are {agent_id}"), "{prompt}");
    assert!(prompt.contains("{task_id}"), "{prompt}");
}

// Adding tasks.

#[test]
fn add_prints_the_new_id_and_its_flags_land_on_the_task() {
    let workspace = TestWorkspace::new();
    assert_eq!(workspace.ok(&["add", "Write the lexer"]), "task-001\n");
    let id = workspace.ok(&[
        "add",
        "Write the parser",
        "-p",
        "2",
        "-d",
        "task-001",
        "-f",
        "src/parser.rs",
        "-f",
        "src/ast.rs",
        "--hint",
        "The lexer already handles comments.",
    ]);
    assert_eq!(id, "task-002\n");

    let task = workspace.json(&["show", "task-002"]);
    assert_eq!(task["description"], "Write the parser");
    assert_eq!(task["status"], "available");
    assert_eq!(task["priority"], 2);
    assert_eq!(task["dependencies"], json!(["task-001"]));
    assert_eq!(
        task["context"]["files"],
        json!(["src/parser.rs", "src/ast.rs"])
    );
    assert_eq!(
        task["context"]["hints"],
        "The lexer already handles comments."
    );
    assert_eq!(workspace.json(&["show", "task-001"])["priority"], 5);

    insta::assert_snapshot!(redact_times(&workspace.ok(&["show", "task-002"])), @r"
    id            task-002
    description   Write the parser
    status        available
    priority      2
    dependencies  task-001
    files         src/parser.rs
                  src/ast.rs
    hints         The lexer already handles comments.
    created       <time>
    ");
}

#[test]
fn add_refuses_a_dependency_that_does_not_exist() {
    let workspace = TestWorkspace::new();
    let said = fails(&workspace, &["add", "orphan", "-d", "task-404"]);
    assert!(said.contains("task-404"), "{said}");
    assert_eq!(workspace.json(&["tasks"]), json!([]));
}

#[test]
fn a_task_id_may_be_written_without_its_zero_padding() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "Create User model"]);
    // The reference's own example names the first task `task-1`.
    assert_eq!(
        workspace.ok(&["add", "Create login endpoint", "-d", "task-1"]),
        "task-002\n"
    );
    let batch = write(
        &workspace,
        "tasks.json",
        &json!([
            { "description": "Write tests", "dependencies": ["task-02", "task-4"] },
            { "description": "Document it" }
        ])
        .to_string(),
    );
    assert_eq!(
        workspace.ok(&["add", "--batch", &batch]),
        "task-003\ntask-004\n"
    );
    assert_eq!(
        workspace.json(&["show", "task-3"])["dependencies"],
        json!(["task-002", "task-004"])
    );
    assert_eq!(workspace.json(&["show", "task-0001"])["id"], "task-001");
    // Only the number's padding is free: other spellings stay names of their own.
    for other in ["Task-1", "task-+1", "task-1x", "task- 1"] {
        let said = fails(&workspace, &["show", other]);
        assert!(said.contains(other), "{said}");
    }
}

#[test]
fn a_batch_file_adds_every_task_and_one_may_depend_on_an_earlier_one_of_the_batch() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "already there"]);
    let batch = write(
        &workspace,
        "tasks.json",
        &json!([
            { "description": "design the schema", "priority": 2 },
            {
                "description": "write the migration",
                "dependencies": ["task-001", "task-002"],
                "context_files": ["db/schema.sql"],
                "hints": "keep it reversible"
            }
        ])
        .to_string(),
    );

    assert_eq!(
        workspace.ok(&["add", "--batch", &batch]),
        "task-002\ntask-003\n"
    );

    let first = workspace.json(&["show", "task-002"]);
    assert_eq!(first["description"], "design the schema");
    assert_eq!(first["priority"], 2);
    let second = workspace.json(&["show", "task-003"]);
    assert_eq!(second["dependencies"], json!(["task-001", "task-002"]));
    assert_eq!(second["context"]["files"], json!(["db/schema.sql"]));
    assert_eq!(second["context"]["hints"], "keep it reversible");
    assert_eq!(second["priority"], 5);
}

#[test]
fn a_batch_or_a_state_file_that_begins_with_a_byte_order_mark_is_read() {
    // Editors on Windows begin a UTF-8 file with one.
    let workspace = TestWorkspace::new();
    let batch = write(
        &workspace,
        "tasks.json",
        "\u{feff}[{\"description\": \"written in Notepad\"}]",
    );
    assert_eq!(workspace.ok(&["add", "--batch", &batch]), "task-001\n");
    let saved = workspace.root().join("saved.json");
    workspace.ok(&["save", saved.to_str().unwrap()]);
    let text = std::fs::read_to_string(&saved).unwrap();
    let marked = write(&workspace, "marked.json", &format!("\u{feff}{text}"));
    workspace.ok(&["add", "after the save"]);
    workspace.ok(&["load", &marked]);
    assert_eq!(ids(&workspace.json(&["tasks"])), ["task-001"]);
}

#[test]
fn a_batch_on_standard_input_is_added_like_a_file() {
    let workspace = TestWorkspace::new();
    let batch = json!([
        { "description": "one" },
        { "description": "two", "dependencies": ["task-001"] }
    ])
    .to_string();

    let output = workspace.baton_with_input(&["add", "--batch", "-"], Some(&batch));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "task-001\ntask-002\n");

    let output = workspace.baton_with_input(
        &["add", "--batch", "-", "--json"],
        Some(r#"[{"description": "three"}]"#),
    );
    let added: Value = serde_json::from_slice(&output.stdout).expect("a JSON list");
    assert_eq!(ids(&added), ["task-003"]);
    assert_eq!(
        workspace.json(&["show", "task-002"])["dependencies"],
        json!(["task-001"])
    );
}

#[test]
fn a_malformed_batch_is_refused_whole_with_a_clear_message_and_adds_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "already there"]);
    let before = workspace.json(&["tasks"]);

    let wrong_type = write(
        &workspace,
        "wrong-type.json",
        r#"[{"description": "a", "priority": "high"}]"#,
    );
    let said = fails(&workspace, &["add", "--batch", &wrong_type]);
    assert!(
        said.contains(&format!("{wrong_type} is not a JSON list of tasks")),
        "{said}"
    );
    assert!(said.contains("invalid type: string \"high\""), "{said}");

    let not_a_list = write(&workspace, "object.json", r#"{"description": "a"}"#);
    let said = fails(&workspace, &["add", "--batch", &not_a_list]);
    assert!(said.contains("is not a JSON list of tasks"), "{said}");

    let output = workspace.baton_with_input(&["add", "--batch", "-"], Some("not json"));
    let said = error_line(&output, "a batch that is not JSON");
    assert!(said.contains("standard input is not a JSON list"), "{said}");

    let one_bad = write(
        &workspace,
        "one-bad.json",
        r#"[{"description": "fine"}, {"description": ""}]"#,
    );
    let said = fails(&workspace, &["add", "--batch", &one_bad]);
    assert!(said.contains("description is empty"), "{said}");

    let unknown = write(
        &workspace,
        "unknown.json",
        r#"[{"description": "fine"}, {"description": "b", "dependencies": ["task-404"]}]"#,
    );
    let said = fails(&workspace, &["add", "--batch", &unknown]);
    assert!(said.contains("task-404"), "{said}");

    let missing = workspace.root().join("missing.json").display().to_string();
    let said = fails(&workspace, &["add", "--batch", &missing]);
    assert!(said.contains(&format!("cannot read {missing}")), "{said}");

    assert_eq!(workspace.json(&["tasks"]), before);
    assert_eq!(
        workspace.ok(&["add", "numbered on"]),
        "task-002\n",
        "no id was used up"
    );
}

// Reading tasks.

#[test]
fn tasks_lists_every_task_or_the_tasks_of_one_status() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "Set up the project", "-p", "1"]);
    workspace.ok(&["add", "Write the parser", "-d", "task-001"]);
    workspace.ok(&["add", "Write tests", "-p", "10"]);
    workspace.ok(&["claim", "--agent", "worker-1"]);

    insta::assert_snapshot!(workspace.ok(&["tasks"]), @r"
    task-001  claimed      p1   Set up the project  by worker-1
    task-002  available    p5   Write the parser    needs task-001
    task-003  available    p10  Write tests
    ");
    insta::assert_snapshot!(workspace.ok(&["tasks", "--status", "available"]), @r"
    task-002  available    p5   Write the parser  needs task-001
    task-003  available    p10  Write tests
    ");
    assert_eq!(
        ids(&workspace.json(&["tasks"])),
        ["task-001", "task-002", "task-003"]
    );
    let claimed = workspace.json(&["tasks", "--status", "claimed"]);
    assert_eq!(ids(&claimed), ["task-001"]);
    assert_eq!(claimed[0]["claimed_by"], "worker-1");

    let output = workspace.baton(&["tasks", "--status", "done"]);
    assert!(output.status.success());
    assert_eq!(stdout(&output), "", "stdout stays clean for pipes");
    assert_eq!(stderr(&output), "no done tasks\n");
    assert_eq!(workspace.json(&["tasks", "--status", "done"]), json!([]));
}

// Claiming and finishing.

#[test]
fn claim_prints_the_id_of_the_most_urgent_ready_task() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "later", "-p", "7"]);
    workspace.ok(&["add", "now", "-p", "1"]);

    assert_eq!(
        workspace.ok(&["claim", "--agent", "worker-1"]),
        "task-002\n"
    );
    let claimed = workspace.json(&["claim", "--agent", "worker-2"]);
    assert_eq!(claimed["id"], "task-001");
    assert_eq!(claimed["status"], "claimed");
    assert_eq!(claimed["claimed_by"], "worker-2");
    assert_eq!(
        workspace.json(&["show", "task-002"])["claimed_by"],
        "worker-1"
    );
}

#[test]
fn claim_with_nothing_ready_prints_nothing_and_succeeds() {
    let workspace = TestWorkspace::new();
    let output = workspace.baton(&["claim", "--agent", "worker-1"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "");
    assert_eq!(
        workspace.json(&["claim", "--agent", "worker-1"]),
        Value::Null
    );
}

#[test]
fn claim_never_hands_out_a_task_with_unfinished_dependencies() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "foundation", "-p", "9"]);
    workspace.ok(&["add", "walls", "-p", "1", "-d", "task-001"]);
    workspace.ok(&["add", "roof", "-p", "1", "-d", "task-002"]);

    assert_eq!(workspace.ok(&["claim", "--agent", "a"]), "task-001\n");
    assert_eq!(workspace.ok(&["claim", "--agent", "b"]), "", "walls wait");
    workspace.ok(&["complete", "task-001"]);
    assert_eq!(workspace.ok(&["claim", "--agent", "b"]), "task-002\n");
    assert_eq!(
        workspace.ok(&["claim", "--agent", "c"]),
        "",
        "a claimed dependency is not a done one"
    );
}

#[test]
fn complete_records_the_result_that_show_gives_back_and_shares_its_discoveries() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "Write tests for the parser"]);
    workspace.ok(&["claim", "--agent", "worker-1"]);

    let said = workspace.ok(&[
        "complete",
        "task-001",
        "--output",
        "Added 14 tests.",
        "--modified",
        "src/parser.rs",
        "--modified",
        "Cargo.toml",
        "--created",
        "tests/parser.rs",
        "--discovery",
        "The parser accepts trailing commas",
    ]);
    assert_eq!(said, "completed task-001\n");

    let task = workspace.json(&["show", "task-001"]);
    assert_eq!(task["status"], "done");
    assert_eq!(task["claimed_by"], "worker-1");
    assert!(task["completed_at"].is_string(), "{task}");
    assert_eq!(
        task["result"],
        json!({
            "output": "Added 14 tests.",
            "files_modified": ["src/parser.rs", "Cargo.toml"],
            "files_created": ["tests/parser.rs"],
            "error": null,
            "discoveries": ["The parser accepts trailing commas"],
            "subtasks_created": [],
        })
    );
    insta::assert_snapshot!(redact_times(&workspace.ok(&["show", "task-001"])), @r"
    id              task-001
    description     Write tests for the parser
    status          done
    priority        5
    claimed by      worker-1
    attempts        1
    created         <time>
    claimed         <time>
    completed       <time>
    output          Added 14 tests.
    files modified  src/parser.rs
                    Cargo.toml
    files created   tests/parser.rs
    discoveries     The parser accepts trailing commas
    ");
    let shared = workspace.json(&["discoveries"]);
    assert_eq!(shared.as_array().map(Vec::len), Some(1), "{shared}");
    assert_eq!(shared[0]["content"], "The parser accepts trailing commas");
    assert_eq!(shared[0]["agent_id"], "worker-1");
    assert_eq!(shared[0]["related_task"], "task-001");
}

#[test]
fn completing_an_unclaimed_task_says_how_tasks_are_claimed_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "not yet claimed"]);
    let before = workspace.json(&["tasks"]);

    let said = fails(
        &workspace,
        &["complete", "task-001", "--output", "too soon"],
    );
    assert!(said.contains("never claimed"), "{said}");
    assert!(
        said.contains("a claim takes the most urgent ready task (`baton claim --agent ID`)"),
        "{said}"
    );

    assert_eq!(workspace.json(&["tasks"]), before);
}

#[test]
fn a_result_naming_a_blank_file_is_refused_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "Write tests for the parser"]);
    workspace.ok(&["claim", "--agent", "me"]);
    let before = workspace.json(&["tasks"]);

    for (flag, which) in [("--modified", "modified"), ("--created", "created")] {
        let said = fails(&workspace, &["complete", "task-1", flag, ""]);
        assert_eq!(
            said,
            format!(
                "error: a {which} file is blank; name a path in the repository, or leave it out"
            )
        );
    }
    assert_eq!(workspace.json(&["tasks"]), before);
}

#[test]
fn failing_a_task_fails_every_task_that_depends_on_it() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    workspace.ok(&["add", "docs", "-d", "task-002"]);
    workspace.ok(&["add", "unrelated"]);
    workspace.ok(&["claim", "--agent", "worker-1"]);

    let said = workspace.ok(&["fail", "task-001", "--error", "the grammar is ambiguous"]);
    assert_eq!(said, "failed task-001\n");

    let failed = workspace.json(&["tasks", "--status", "failed"]);
    assert_eq!(ids(&failed), ["task-001", "task-002", "task-003"]);
    assert_eq!(failed[0]["result"]["error"], "the grammar is ambiguous");
    assert_eq!(failed[1]["result"]["error"], "dependency task-001 failed");
    assert_eq!(failed[1]["failed_dependency"], "task-001");
    assert_eq!(failed[2]["failed_dependency"], "task-002");
    assert_eq!(workspace.json(&["show", "task-004"])["status"], "available");
    insta::assert_snapshot!(workspace.ok(&["tasks", "--status", "failed"]), @r"
    task-001  failed       p5   lexer   by worker-1
    task-002  failed       p5   parser  needs task-001
    task-003  failed       p5   docs    needs task-002
    ");
}

#[test]
fn cancel_fails_the_dependents_and_retry_reopens_them_all() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    workspace.ok(&["add", "docs", "-d", "task-002"]);

    assert_eq!(
        workspace.ok(&["cancel", "task-001"]),
        "cancelled task-001\n"
    );
    assert_eq!(workspace.json(&["show", "task-001"])["status"], "cancelled");
    assert_eq!(
        ids(&workspace.json(&["tasks", "--status", "failed"])),
        ["task-002", "task-003"]
    );
    let said = fails(&workspace, &["cancel", "task-001"]);
    assert!(said.contains("already cancelled"), "{said}");

    assert_eq!(
        workspace.ok(&["retry", "task-001"]),
        "task-001\ntask-002\ntask-003\n"
    );
    let tasks = workspace.json(&["tasks"]);
    for task in tasks.as_array().unwrap() {
        assert_eq!(task["status"], "available", "{task}");
        assert!(
            task.get("failed_dependency").is_none_or(Value::is_null),
            "{task}"
        );
    }
    assert_eq!(workspace.ok(&["claim", "--agent", "a"]), "task-001\n");
}

#[test]
fn cancel_of_a_finished_task_says_so_and_suggests_only_what_works() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer", "-p", "1"]);
    workspace.ok(&["add", "parser"]);
    workspace.ok(&["add", "docs", "-d", "task-002"]);
    assert_eq!(workspace.ok(&["claim", "--agent", "a"]), "task-001\n");
    workspace.ok(&["complete", "task-001"]);
    workspace.ok(&["fail", "task-002", "--error", "no grammar"]);

    let said = fails(&workspace, &["cancel", "task-001"]);
    assert_eq!(
        said,
        "error: task task-001 is already done, and a finished task stays as it is"
    );
    let said = fails(&workspace, &["cancel", "task-003"]);
    assert_eq!(
        said,
        "error: task task-003 is already failed; `baton retry task-002` reopens it with task-002"
    );
    workspace.ok(&["retry", "task-002"]);
    assert_eq!(workspace.json(&["show", "task-003"])["status"], "available");
}

#[test]
fn retry_of_a_failed_task_reopens_the_dependents_that_failed_because_of_it() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    workspace.ok(&["claim", "--agent", "a"]);
    workspace.ok(&["fail", "task-001", "--error", "flaky disk"]);

    let reopened = workspace.json(&["retry", "task-001"]);
    assert_eq!(ids(&reopened), ["task-001", "task-002"]);
    assert!(workspace.json(&["tasks", "--status", "failed"]) == json!([]));
    let said = fails(&workspace, &["retry", "task-002"]);
    assert!(said.contains("only a failed or cancelled task"), "{said}");
}

// Discoveries.

#[test]
fn stop_with_no_run_going_says_there_was_nothing_to_stop() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "waits"]);
    let said = workspace.ok(&["stop"]);
    assert!(
        said.starts_with("no run is going; nothing to stop"),
        "{said}"
    );
    assert_eq!(workspace.json(&["stop"])["running"], false);
    assert_eq!(workspace.json(&["show", "task-001"])["status"], "available");
}

#[test]
fn history_counts_each_ending_of_an_archived_board() {
    let workspace = TestWorkspace::new();
    for description in ["kept", "dropped", "waits"] {
        workspace.ok(&["add", description]);
    }
    let claimed = workspace.ok(&["claim", "--agent", "me"]);
    workspace.ok(&["complete", claimed.trim(), "--output", "ok"]);
    workspace.ok(&["cancel", "task-002"]);
    workspace.ok(&["reset", "--yes"]);
    let listed = workspace.ok(&["history"]);
    assert!(
        listed.contains("3 tasks (1 done, 0 failed, 1 cancelled), 0 discoveries"),
        "{listed}"
    );
    let boards = workspace.json(&["history"]);
    assert_eq!(
        (
            &boards[0]["done"],
            &boards[0]["failed"],
            &boards[0]["cancelled"]
        ),
        (&json!(1), &json!(0), &json!(1))
    );
}

#[test]
fn a_run_that_waits_on_a_claim_outside_it_says_which_and_until_when() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "held outside"]);
    workspace.ok(&["add", "after it", "-d", "task-001"]);
    workspace.ok(&["claim", "--agent", "me"]);
    // No agent of the run starts; its program need only be found.
    workspace.ok(&["config", "agent_command", "true"]);
    workspace.ok(&["run", "--predefined", "--detach"]);

    let shown = workspace.ok(&["status"]);
    assert!(
        shown
            .contains("waiting for task-001, claimed by me outside this run: back in the queue at"),
        "{shown}"
    );
    let run = &workspace.json(&["status"])["run"];
    assert_eq!(run["waiting_for"][0]["task_id"], "task-001", "{run}");
    let claimed_at = workspace.json(&["show", "task-001"])["claimed_at"].clone();
    let at = |value: &Value| chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
    assert_eq!(
        at(&run["waiting_for"][0]["returns_at"]) - at(&claimed_at),
        chrono::TimeDelta::seconds(600),
        "the claim returns after task_timeout"
    );
    workspace.ok(&["stop"]);
}

#[test]
fn a_daemon_that_does_not_answer_is_said_to_and_daemon_stop_ends_it_keeping_the_state() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "kept"]);
    let pid = workspace.daemon_pid().expect("a daemon runs");
    // SAFETY: a signal to the test's own daemon.
    unsafe { libc::kill(pid as i32, libc::SIGSTOP) };

    let output = workspace.baton_within(&["status"], Duration::from_secs(30));
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains("did not answer"), "{said}");
    assert!(said.contains("baton daemon stop"), "{said}");

    let stopped = workspace.baton_within(&["daemon", "stop"], Duration::from_secs(60));
    let said = String::from_utf8_lossy(&stopped.stderr).into_owned()
        + &String::from_utf8_lossy(&stopped.stdout);
    assert!(stopped.status.success(), "{said}");
    assert!(said.contains(&format!("pid {pid}")), "{said}");
    assert!(!process_exists(pid), "the stuck daemon is gone");
    assert_eq!(workspace.json(&["show", "task-001"])["description"], "kept");
}

/// Stops the workspace's daemon and waits until it has gone, so that the next command
/// starts a new one that reads the state back from disk.
fn stop_daemon(workspace: &TestWorkspace) {
    let pid = workspace.daemon_pid().expect("a daemon runs");
    workspace.ok(&["daemon", "stop"]);
    wait_until(LIMIT, || !process_exists(pid));
}

#[test]
fn edit_changes_what_is_given_and_the_change_outlives_a_restart() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001", "-f", "src/old.rs"]);
    workspace.ok(&["add", "docs"]);

    let said = workspace.ok(&[
        "edit",
        "task-002",
        "--description",
        "parser for nested comments",
        "-p",
        "2",
        "-d",
        "task-003",
        "-f",
        "src/parser.rs",
        "--hint",
        "see the grammar",
    ]);
    assert_eq!(said, "edited task-002\n");
    stop_daemon(&workspace);
    let task = workspace.json(&["show", "task-002"]);
    assert_eq!(task["description"], "parser for nested comments");
    assert_eq!(task["priority"], 2);
    assert_eq!(task["dependencies"], json!(["task-003"]));
    assert_eq!(task["context"]["files"], json!(["src/parser.rs"]));
    assert_eq!(task["context"]["hints"], "see the grammar");

    workspace.ok(&["edit", "task-002", "--no-deps", "--no-files"]);
    let task = workspace.json(&["show", "task-002"]);
    assert_eq!(task["dependencies"], json!([]));
    assert_eq!(task["context"]["files"], json!([]));
    assert_eq!(workspace.ok(&["claim", "--agent", "a"]), "task-002\n");
}

#[test]
fn edit_gives_a_task_its_own_model_and_none_gives_it_the_workspace_s_again() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "rename the flag"]);

    assert_eq!(
        workspace.ok(&["edit", "task-001", "--model", "claude-haiku-4-5"]),
        "edited task-001\n"
    );
    stop_daemon(&workspace);
    assert_eq!(
        workspace.json(&["show", "task-001"])["model"],
        "claude-haiku-4-5"
    );
    let said = fails(&workspace, &["edit", "task-001", "--model", " "]);
    assert!(said.contains("the model is empty"), "{said}");
    assert_eq!(
        workspace.json(&["show", "task-001"])["model"],
        "claude-haiku-4-5",
        "a refused edit changes nothing"
    );

    workspace.ok(&["edit", "task-001", "--model", "none"]);
    assert!(workspace.json(&["show", "task-001"]).get("model").is_none());
}

#[test]
fn edit_refuses_a_cycle_an_unknown_dependency_or_a_finished_task_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    let before = workspace.json(&["tasks"]);

    let said = fails(&workspace, &["edit", "task-001", "-d", "task-002"]);
    assert!(
        said.contains("cycle (task-001 → task-002 → task-001)"),
        "{said}"
    );
    let said = fails(&workspace, &["edit", "task-001", "-d", "task-009"]);
    assert!(
        said.contains("dependency task-009 of task-001 does not exist"),
        "{said}"
    );
    let said = fails(&workspace, &["edit", "task-009", "-p", "1"]);
    assert!(said.contains("task-009"), "{said}");
    assert_eq!(workspace.json(&["tasks"]), before);

    workspace.ok(&["claim", "--agent", "a"]);
    workspace.ok(&["complete", "task-001"]);
    let said = fails(&workspace, &["edit", "task-001", "-p", "1"]);
    assert!(said.contains("task task-001 is done"), "{said}");
    let said = misused(&workspace, &["edit", "task-002"]);
    assert!(said.contains("--description"), "{said}");
}

#[test]
fn delete_removes_a_task_not_started_for_good_and_refuses_one_that_others_need() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    workspace.ok(&["add", "a typo"]);
    workspace.ok(&["add", "docs"]);

    let said = fails(&workspace, &["delete", "task-001"]);
    assert!(said.contains("task task-002 depends on task-001"), "{said}");
    assert!(said.contains("baton edit task-002"), "{said}");
    assert_eq!(workspace.ok(&["delete", "task-003"]), "deleted task-003\n");

    stop_daemon(&workspace);
    assert_eq!(
        ids(&workspace.json(&["tasks"])),
        ["task-001", "task-002", "task-004"]
    );
    workspace.ok(&["edit", "task-004", "-p", "3"]);
    stop_daemon(&workspace);
    let tasks = workspace.json(&["tasks"]);
    assert_eq!(ids(&tasks), ["task-001", "task-002", "task-004"]);
    assert_eq!(tasks[2]["priority"], 3);
    assert_eq!(workspace.ok(&["add", "more"]), "task-005\n");

    assert_eq!(workspace.ok(&["claim", "--agent", "a"]), "task-004\n");
    let said = fails(&workspace, &["delete", "task-004"]);
    assert!(said.contains("task task-004 is claimed"), "{said}");
    assert!(said.contains("`baton cancel task-004`"), "{said}");
}

#[test]
fn a_discovery_is_listed_with_its_agent_task_and_tags() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "build it"]);

    let said = workspace.ok(&[
        "discover",
        "The build needs protoc",
        "--agent",
        "worker-1",
        "--task",
        "task-001",
        "--tag",
        "build",
        "--tag",
        "deps",
    ]);
    assert_eq!(said, "discovery shared\n");
    workspace.ok(&["discover", "Comments may nest", "--agent", "worker-2"]);

    let found = workspace.json(&["discoveries"]);
    assert_eq!(found.as_array().unwrap().len(), 2);
    assert_eq!(found[0]["agent_id"], "worker-1");
    assert_eq!(found[0]["content"], "The build needs protoc");
    assert_eq!(found[0]["related_task"], "task-001");
    assert_eq!(found[0]["tags"], json!(["build", "deps"]));
    assert_eq!(found[1]["related_task"], Value::Null);
    assert_eq!(found[1]["tags"], json!([]));
    insta::assert_snapshot!(redact_times(&workspace.ok(&["discoveries"])), @r"
    <time>  worker-1 on task-001 [build, deps]: The build needs protoc
    <time>  worker-2: Comments may nest
    ");

    let said = fails(
        &workspace,
        &["discover", "x", "--agent", "a", "--task", "task-404"],
    );
    assert!(said.contains("task task-404 not found"), "{said}");
    assert_eq!(workspace.json(&["discoveries"]), found);
}

// Watching.

#[test]
fn watch_json_prints_a_line_for_a_task_created_by_another_command() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["daemon", "start"]);
    let watch = Watch::start(&workspace, true);
    watch.listening(&workspace);

    let id = workspace.ok(&["add", "watched", "-p", "3"]);
    let id = id.trim();

    let line = watch.line(|line| line.contains("baton/taskCreated"));
    let event: Value = serde_json::from_str(&line).expect("each line is one JSON object");
    assert_eq!(event["method"], "baton/taskCreated");
    assert_eq!(event["params"]["id"], id);
    assert_eq!(event["params"]["description"], "watched");
    assert_eq!(event["params"]["priority"], 3);
}

#[test]
fn watch_prints_one_readable_line_per_change() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "lexer"]);
    workspace.ok(&["add", "parser", "-d", "task-001"]);
    let watch = Watch::start(&workspace, false);
    watch.listening(&workspace);

    workspace.ok(&["add", "Write tests", "-p", "2"]);
    workspace.ok(&["claim", "--agent", "worker-1"]);
    workspace.ok(&["complete", "task-003"]);
    workspace.ok(&["fail", "task-001", "--error", "the grammar\nis ambiguous"]);
    workspace.ok(&["discover", "Comments may nest", "--agent", "worker-1"]);

    let mut seen = Vec::new();
    loop {
        let line = watch.line(|line| line != "configuration changed");
        let last = line.starts_with("discovery");
        seen.push(line);
        if last {
            break;
        }
    }
    insta::assert_snapshot!(seen.join("\n"), @r"
    created task-003 [p2] Write tests
    updated task-003: claimed by worker-1
    completed task-003
    failed task-001: the grammar is ambiguous
    failed task-002: dependency task-001 failed
    discovery by worker-1: Comments may nest
    ");
}

// Text that could steer a terminal.

/// What an agent or a state file could put in a task to take over the terminal that
/// prints it: a new window title, a cleared screen, a bell, a NUL, and a carriage
/// return that prints over the line.
const HOSTILE: &str = "fix\u{1b}]0;owned\u{7}\u{1b}[2J\0 it\rnow";

/// The same text as human output shows it.
const SHOWN: &str = r"fix\x1b]0;owned\x07\x1b[2J\0 it\rnow";

fn assert_harmless(what: &str, output: &str) {
    let steering: Vec<char> = output
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(
        steering.is_empty(),
        "{what} printed {steering:?} raw: {output:?}"
    );
}

#[test]
fn human_output_shows_control_characters_as_escapes_and_json_keeps_them() {
    let workspace = TestWorkspace::new();
    let batch = json!([{ "description": HOSTILE, "hints": HOSTILE }]).to_string();
    let added = workspace.baton_with_input(&["add", "--batch", "-"], Some(&batch));
    assert!(added.status.success(), "{}", stderr(&added));
    workspace.ok(&["init", "goal \u{1b}]0;owned\u{7}"]);
    workspace.ok(&[
        "discover",
        "found \u{1b}[2J it",
        "--agent",
        "agent-7",
        "--task",
        "task-001",
    ]);
    // An agent id is shown everywhere its agent goes: one with a control character
    // is refused, and the refusal shows it escaped.
    let refused = fails(
        &workspace,
        &["discover", "found", "--agent", "agent\u{1b}[31m"],
    );
    assert_harmless("a refused agent id", &refused);
    assert!(refused.contains(r"agent\u{1b}[31m"), "{refused}");

    for args in [
        &["tasks"][..],
        &["show", "task-001"],
        &["discoveries"],
        &["status"],
    ] {
        let said = workspace.ok(args);
        assert_harmless(&format!("baton {args:?}"), &said);
        assert!(
            said.contains(SHOWN) || said.contains(r"found \x1b[2J it"),
            "baton {args:?}: {said}"
        );
    }
    let shown = workspace.ok(&["show", "task-001"]);
    assert!(shown.contains(&format!("description  {SHOWN}")), "{shown}");
    let status = workspace.ok(&["status"]);
    assert!(status.contains(r"goal \x1b]0;owned\x07"), "{status}");
    assert!(status.contains("agent-7 on task-001"), "{status}");

    let task = workspace.json(&["show", "task-001"]);
    assert_eq!(task["description"], HOSTILE, "--json is exact");
    assert_eq!(task["context"]["hints"], HOSTILE, "--json is exact");

    let said = fails(&workspace, &["show", "task-\u{1b}[2J"]);
    assert!(said.contains(r"task-\x1b[2J"), "{said}");

    // A setting echoed as it is set, and listed.
    let set = workspace.ok(&["config", "leader_prompt", "plan {goal} \u{1b}]0;owned\u{7}"]);
    assert_harmless("baton config leader_prompt", &set);
    assert!(set.contains(r"\x1b]0;owned\x07"), "{set}");
    assert_harmless("baton config", &workspace.ok(&["config"]));

    let watch = Watch::start(&workspace, false);
    watch.listening(&workspace);
    let added = workspace.baton_with_input(&["add", "--batch", "-"], Some(&batch));
    assert!(added.status.success(), "{}", stderr(&added));
    let line = watch.line(|line| line.starts_with("created"));
    assert_eq!(line, format!("created task-002 [p5] {SHOWN}"));

    let log = workspace.workspace().task_log(&"task-001".into());
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let said_by_agent = json!({
        "type": "assistant",
        "message": { "content": [
            { "type": "text", "text": HOSTILE },
            { "type": "tool_use", "name": "Bash", "input": { "command": "echo \u{1b}[2J" } },
        ] },
    });
    std::fs::write(&log, format!("{said_by_agent}\n")).unwrap();
    let logs = workspace.ok(&["logs", "task-001"]);
    assert_harmless("baton logs", &logs);
    assert!(logs.contains(SHOWN), "{logs}");
}

#[test]
fn logs_show_each_tool_with_the_start_of_its_output_and_full_shows_all() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "run the tests"]);
    let output: Vec<String> = (1..=10).map(|n| format!("line {n}")).collect();
    let agent_said = [
        json!({ "type": "assistant", "message": { "content": [
            { "type": "tool_use", "name": "Bash", "input": { "command": "pytest" } },
        ] } }),
        json!({ "type": "user", "message": { "content": [
            { "type": "tool_result", "content": output.join("\n") },
        ] } }),
    ];
    let log = workspace.workspace().task_log(&"task-001".into());
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let text: String = agent_said.iter().map(|line| format!("{line}\n")).collect();
    std::fs::write(&log, text).unwrap();

    let short = workspace.ok(&["logs", "task-001"]);
    insta::assert_snapshot!(short, @r#"
    → Bash {"command":"pytest"}
      ← line 1
        line 2
        line 3
        … 7 more lines (--full shows them)
    "#);
    let full = workspace.ok(&["logs", "task-001", "--full"]);
    assert!(full.contains("    line 10\n"), "{full}");
    assert!(!full.contains("more lines"), "{full}");
    let nothing = workspace.baton(&["logs", "leader"]);
    assert!(nothing.status.success());
    assert_eq!(nothing.stdout, b"", "no run yet, no leader log");
    assert_eq!(
        String::from_utf8_lossy(&nothing.stderr).trim(),
        "the leader has not run on this board yet; `baton plan GOAL` or `baton run GOAL` starts it"
    );
    workspace.ok(&["add", "not run yet"]);
    let unrun = workspace.baton(&["logs", "task-002"]);
    assert_eq!(
        String::from_utf8_lossy(&unrun.stderr).trim(),
        "no agent has worked on task-002 yet; a run (`baton run`) gives it one"
    );
}

#[test]
fn logs_of_a_task_that_ended_with_no_agent_say_how_it_ended_and_what_reopens_it() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "first"]);
    workspace.ok(&["add", "second", "-d", "task-001"]);
    workspace.ok(&["add", "third"]);
    workspace.ok(&["fail", "task-001", "--error", "the spec is missing"]);
    workspace.ok(&["cancel", "task-003"]);
    for (task, said) in [
        (
            "task-001",
            "no agent worked on task-001: it failed (the spec is missing); `baton retry task-001` reopens it",
        ),
        (
            "task-002",
            "no agent worked on task-002: it failed because its dependency task-001 did; `baton retry task-001` reopens both",
        ),
        (
            "task-003",
            "no agent worked on task-003: it was cancelled; `baton retry task-003` reopens it",
        ),
    ] {
        let logs = workspace.baton(&["logs", task]);
        assert!(logs.status.success(), "{}", stderr(&logs));
        assert_eq!(logs.stdout, b"");
        assert_eq!(String::from_utf8_lossy(&logs.stderr).trim(), said);
    }
}

/// Right after `baton run --detach`, a task's log may not have begun: what `baton
/// logs` says then is what is so, not that a run will come.
#[test]
fn logs_of_a_task_without_a_log_yet_say_whether_a_run_or_an_outside_agent_has_it() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "held outside"]);
    workspace.ok(&["add", "after it", "-d", "task-001"]);
    workspace.ok(&["claim", "--agent", "me"]);
    workspace.ok(&["config", "agent_command", "true"]);
    workspace.ok(&["run", "--predefined", "--detach"]);
    for (task, said) in [
        (
            "task-001",
            "task-001 is claimed by me outside a run: baton logs only the agents its runs start",
        ),
        (
            "task-002",
            "no agent has worked on task-002 yet; the run going gives it one once it is ready",
        ),
    ] {
        let logs = workspace.baton(&["logs", task]);
        assert!(logs.status.success(), "{}", stderr(&logs));
        assert_eq!(String::from_utf8_lossy(&logs.stderr).trim(), said);
    }
    workspace.ok(&["stop"]);
}

#[test]
fn logs_follow_says_when_there_is_no_log_yet_and_ends_with_the_task() {
    let workspace = TestWorkspace::new();
    let nothing = workspace.baton(&["logs", "--follow", "leader"]);
    assert!(nothing.status.success());
    assert_eq!(
        String::from_utf8_lossy(&nothing.stderr).trim(),
        "the leader has not run on this board yet; `baton plan GOAL` or `baton run GOAL` starts it"
    );
    workspace.ok(&["add", "never run"]);
    let follow = workspace
        .spawn_baton(&["logs", "--follow", "task-001"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("baton starts");
    // The follower waits for an agent; the task's end ends it.
    workspace.ok(&["cancel", "task-001"]);
    let followed = follow.wait_with_output().expect("baton finishes");
    assert!(followed.status.success(), "{}", stderr(&followed));
    // Said once, as the task was when the follower first looked.
    let said = String::from_utf8_lossy(&followed.stderr);
    assert!(
        [
            "no agent has worked on task-001 yet; a run (`baton run`) gives it one",
            "no agent worked on task-001: it was cancelled; `baton retry task-001` reopens it"
        ]
        .contains(&said.trim()),
        "{said}"
    );
}

#[test]
fn minus_c_reads_and_writes_the_files_a_command_names_from_its_directory() {
    let workspace = TestWorkspace::new();
    let deep = workspace.root().join("deep");
    std::fs::create_dir(&deep).unwrap();
    std::fs::write(deep.join("plan.txt"), "the plan from deep").unwrap();
    std::fs::write(
        deep.join("batch.json"),
        r#"[{"description": "from the batch in deep"}]"#,
    )
    .unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let baton = |args: &[&str]| {
        let output = Command::new(bin_dir().join("baton"))
            .current_dir(elsewhere.path())
            .arg("-C")
            .arg(&deep)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .expect("baton runs");
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    };

    baton(&["init", "goal", "--plan-file", "plan.txt"]);
    baton(&["add", "--batch", "batch.json"]);
    baton(&["save", "saved.json"]);

    let saved = std::fs::read_to_string(deep.join("saved.json")).expect("saved in deep");
    assert!(saved.contains("the plan from deep"), "{saved}");
    assert!(saved.contains("from the batch in deep"), "{saved}");
    assert!(!elsewhere.path().join("saved.json").exists());
    baton(&["load", "saved.json"]);
}

#[test]
fn a_board_whose_goal_begins_with_a_very_long_word_is_archived_for_a_new_goal() {
    let workspace = TestWorkspace::new();
    let goal = format!("{} and the rest", "x".repeat(300));
    workspace.ok(&["init", &goal]);
    workspace.ok(&["add", "done by hand"]);
    workspace.ok(&["claim", "--agent", "me"]);
    workspace.ok(&["complete", "task-001"]);

    workspace.ok(&["init", "a new goal"]);

    let history = workspace.json(&["history"]);
    assert_eq!(history[0]["goal"], json!(goal), "{history}");
    workspace.ok(&["load", history[0]["path"].as_str().unwrap()]);
}

#[test]
fn a_task_added_on_a_failed_dependency_is_said_to_have_failed_at_once() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "first"]);
    workspace.ok(&["fail", "task-001", "--error", "no spec"]);

    let added = workspace.baton(&["add", "second", "-d", "task-001"]);

    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(String::from_utf8_lossy(&added.stdout), "task-002\n");
    assert_eq!(
        stderr(&added).trim(),
        "task-002 failed at once: dependency task-001 failed; `baton retry task-001` reopens it"
    );
}

#[test]
fn a_command_from_a_shell_with_another_runtime_directory_reaches_the_running_daemon() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "added from the first shell"]);
    let pid = workspace.json(&["daemon", "status"])["pid"].clone();
    let other = tempfile::tempdir().unwrap();
    let baton = |args: &[&str]| {
        Command::new(bin_dir().join("baton"))
            .arg("-C")
            .arg(workspace.root())
            .args(args)
            .env("XDG_RUNTIME_DIR", other.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("baton runs")
    };

    let listed = baton(&["tasks"]);

    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("added from the first shell"),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
    let status = baton(&["--json", "daemon", "status"]);
    let status: Value = serde_json::from_slice(&status.stdout).expect("a status");
    assert_eq!(status["pid"], pid, "the one daemon: {status}");
}

/// A `.baton` copied from another workspace (with the workspace itself, say) names
/// that workspace's daemon: its commands must not reach it.
#[test]
fn a_daemon_json_copied_from_another_workspace_does_not_lead_commands_to_its_daemon() {
    let first = TestWorkspace::new();
    first.ok(&["add", "the first workspace's"]);
    let first_pid = first.json(&["daemon", "status"])["pid"].clone();
    let second = TestWorkspace::new();
    std::fs::create_dir_all(second.root().join(".baton")).unwrap();
    std::fs::copy(
        first.root().join(".baton/daemon.json"),
        second.root().join(".baton/daemon.json"),
    )
    .unwrap();

    second.ok(&["add", "the second workspace's"]);

    let first_tasks = first.json(&["tasks"]);
    assert_eq!(first_tasks.as_array().unwrap().len(), 1, "{first_tasks}");
    let second_tasks = second.json(&["tasks"]);
    assert_eq!(second_tasks[0]["description"], "the second workspace's");
    let status = second.json(&["daemon", "status"]);
    assert_ne!(status["pid"], first_pid, "{status}");
}

#[test]
fn a_batch_too_large_for_one_request_is_refused_saying_so_and_nothing_is_added() {
    let workspace = TestWorkspace::new();
    let description = "d".repeat(1_000_000);
    let tasks: Vec<Value> = (0..70)
        .map(|_| json!({ "description": description }))
        .collect();
    let file = workspace.root().join("huge.json");
    std::fs::write(&file, serde_json::to_vec(&tasks).unwrap()).unwrap();

    let added = workspace.baton(&["add", "--batch", file.to_str().unwrap()]);

    assert_eq!(added.status.code(), Some(1), "{}", stderr(&added));
    let said = stderr(&added);
    assert!(
        said.contains("MiB, over the 64 MiB the daemon takes in one")
            && said.contains("split a batch"),
        "{said}"
    );
    assert_eq!(workspace.json(&["tasks"]), json!([]));
}

#[test]
fn a_usage_error_shows_what_it_echoes_escaped_and_clipped() {
    let workspace = TestWorkspace::new();
    let hostile = "x\u{1b}]0;pwned\u{7}\rover\u{202e}";
    let refused = workspace.baton(&["tasks", "--status", hostile]);
    assert_eq!(refused.status.code(), Some(2));
    let said = stderr(&refused);
    assert!(said.contains("invalid value"), "{said}");
    assert!(
        !said.contains(['\u{1b}', '\u{7}', '\r', '\u{202e}']),
        "{said:?}"
    );

    let long = "S".repeat(100_000);
    let refused = workspace.baton(&["tasks", "--status", &long]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        refused.stderr.len() < 2_000,
        "{} bytes",
        refused.stderr.len()
    );
}

// Saving and loading.

#[test]
fn a_save_that_cannot_be_written_names_the_file_asked_for_and_no_temporary_one() {
    let workspace = TestWorkspace::new();
    let not_a_dir = write(&workspace, "notes.txt", "a file, not a directory");
    let target = format!("{not_a_dir}/state.json");
    let said = fails(&workspace, &["save", &target]);
    assert!(
        said.contains(&format!("cannot write the state to {target}")),
        "{said}"
    );
    assert!(
        !said.contains("notes.txt/.tmp"),
        "no temporary file: {said}"
    );
}

#[test]
fn load_gives_back_the_state_that_save_wrote() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["init", "ship it"]);
    workspace.ok(&["add", "one"]);
    workspace.ok(&["add", "two", "-d", "task-001"]);
    workspace.ok(&["claim", "--agent", "a"]);
    workspace.ok(&["discover", "found it", "--agent", "a"]);
    let tasks = workspace.json(&["tasks"]);
    let discoveries = workspace.json(&["discoveries"]);
    let file = workspace
        .root()
        .join("checkpoint.json")
        .display()
        .to_string();

    let said = workspace.ok(&["save", &file]).replace(&file, "<file>");
    insta::assert_snapshot!(said, @"saved 2 tasks and 1 discovery to <file>");
    assert!(Path::new(&file).exists());

    workspace.ok(&["cancel", "task-001"]);
    workspace.ok(&["add", "three"]);
    workspace.ok(&["discover", "found more", "--agent", "b"]);
    assert_ne!(workspace.json(&["tasks"]), tasks);

    let said = workspace.ok(&["load", &file]);
    assert!(
        said.starts_with(&format!("loaded {file}  0/2 done")),
        "{said}"
    );
    assert_eq!(workspace.json(&["tasks"]), tasks);
    assert_eq!(workspace.json(&["discoveries"]), discoveries);
    assert_eq!(workspace.json(&["status"])["goal"], "ship it");
}

#[test]
fn loading_a_bad_file_names_it_and_changes_nothing() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "one"]);
    workspace.ok(&["discover", "found it", "--agent", "a"]);
    let tasks = workspace.json(&["tasks"]);
    let discoveries = workspace.json(&["discoveries"]);

    let not_json = write(&workspace, "not-json.json", "{ this is not json");
    let other_shape = write(&workspace, "package.json", r#"{"name": "left-pad"}"#);
    let missing = workspace.root().join("missing.json").display().to_string();
    for file in [&not_json, &other_shape, &missing] {
        let said = fails(&workspace, &["load", file]);
        assert!(said.contains(file.as_str()), "`{said}` names {file}");
    }

    assert_eq!(workspace.json(&["tasks"]), tasks);
    assert_eq!(workspace.json(&["discoveries"]), discoveries);
}

/// A state file comes from anywhere; what it says about a task must not become an
/// option of the agent baton starts for it, a sum no answer can carry, a count that
/// overflows when counted on, tasks that can never be deleted, nor a name of a task
/// that is not there.
#[test]
fn a_state_whose_fields_would_be_agent_options_endless_costs_overflowing_counts_or_missing_tasks_is_refused(
) {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "one"]);
    let tasks = workspace.json(&["tasks"]);
    // The board's logs stay beside it: a refused load archives nothing.
    let logs = workspace.root().join(".baton/logs/tasks");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("task-001.log"), "{}\n").unwrap();
    let task = |extra: Value| {
        let mut task = json!({
            "id": "task-001", "description": "a task", "status": "available", "priority": 5,
            "dependencies": [], "created_at": "2025-01-01T00:00:00Z",
        });
        task.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        task
    };
    let cases = [
        (
            json!({"tasks": [task(json!({"session_id": "--dangerously-skip-permissions"}))]}),
            "session_id",
        ),
        (
            json!({"tasks": [task(json!({"model": "--dangerously-skip-permissions"}))]}),
            "model",
        ),
        (
            json!({"tasks": [task(json!({}))], "config": {"model": "-x"}}),
            "model",
        ),
        (
            json!({"tasks": [task(json!({"status": "done", "result": {
                "output": "split it", "files_modified": [], "files_created": [],
                "subtasks_created": ["task-404"],
            }}))]}),
            "task-404",
        ),
        (
            json!({"tasks": [
                task(json!({"usage": {"cost_usd": 1e308}})),
                task(json!({"id": "task-002", "usage": {"cost_usd": 1e308}})),
            ]}),
            "cost_usd",
        ),
        // Counted on from where the file left them, these would overflow.
        (
            json!({"tasks": [task(json!({"attempts": u32::MAX}))]}),
            "attempts",
        ),
        (
            json!({"tasks": [task(json!({}))], "attempts": [{
                "id": 0, "run": u64::MAX, "lane": "worker-1", "kind": "worker",
                "started_at": "2025-01-01T00:00:00Z", "ended_at": "2025-01-01T00:01:00Z",
                "outcome": "done",
            }]}),
            "run",
        ),
        // A task is deleted after its subtasks: these never could be.
        (
            json!({"tasks": [task(json!({"context": {"parent_task": "task-001"}}))]}),
            "parent",
        ),
        (
            json!({"tasks": [
                task(json!({"context": {"parent_task": "task-002"}})),
                task(json!({"id": "task-002", "context": {"parent_task": "task-001"}})),
            ]}),
            "parent",
        ),
        (
            json!({"tasks": [task(json!({
                "permission_denials": vec!["Bash"; 600_000],
            }))]}),
            "permission_denials",
        ),
        (
            json!({"tasks": [task(json!({"id": "task-18446744073709551615"}))]}),
            "numbered after the highest",
        ),
        (
            json!({"tasks": [task(json!({}))], "attempts": [{
                "id": 0, "run": 1, "lane": "worker-1", "kind": "worker",
                "started_at": "2025-01-01T00:01:00Z", "ended_at": "2025-01-01T00:00:00Z",
                "outcome": "done",
            }]}),
            "ended before it started",
        ),
        // A claim dated years ahead would not expire before then.
        (
            json!({"tasks": [task(json!({
                "status": "in_progress", "claimed_by": "w", "claimed_at": "2090-01-01T00:00:00Z",
            }))]}),
            "claimed_at",
        ),
    ];
    for (i, (state, field)) in cases.into_iter().enumerate() {
        let file = write(&workspace, &format!("state-{i}.json"), &state.to_string());
        let said = fails(&workspace, &["load", &file]);
        assert!(said.contains(field), "`{said}` names {field}");
        assert_eq!(workspace.json(&["tasks"]), tasks, "{said}");
        assert_eq!(workspace.json(&["history"]), json!([]), "{said}");
        assert!(logs.join("task-001.log").exists(), "{said}");
    }
}

// Errors and exit status.

/// A script that runs `baton run GOAL` or `baton plan GOAL` goes on only when a plan
/// was made: a leader that could not start made none.
#[test]
fn a_run_or_plan_whose_leader_could_not_start_exits_1_saying_why() {
    let workspace = TestWorkspace::new();
    // A path relative to the agent's checkout is not looked for before the run.
    workspace.ok(&["config", "agent_command", "./no-claude-here"]);
    workspace.ok(&["config", "isolation", "shared"]);
    for command in ["run", "plan"] {
        let output = workspace.baton(&[command, "make a thing"]);
        let said = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "baton {command}: {said}");
        let last = said.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("error: ") && last.contains("could not start `./no-claude-here`"),
            "baton {command}: {said}"
        );
    }
}

/// Agents that cannot start would fail every task they took, each to be reopened by
/// hand: a run whose agents' program is missing is refused before it starts.
#[test]
fn a_run_whose_agent_program_is_missing_is_refused_saying_how_to_fix_it_and_fails_no_task() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["config", "isolation", "shared"]);
    workspace.ok(&["add", "waits for a run"]);
    let not_a_program = workspace.root().join("notes.txt");
    std::fs::write(&not_a_program, "not a program").unwrap();
    for program in [
        "/nonexistent/claude",
        "claude-not-installed-here",
        not_a_program.to_str().unwrap(),
    ] {
        workspace.ok(&["config", "agent_command", program]);
        for args in [
            &["run", "--predefined"][..],
            &["run", "a goal"],
            &["plan", "a goal"],
        ] {
            let said = fails(&workspace, args);
            assert!(
                said.contains(&format!("`{program}` (agent_command)"))
                    && said.contains("baton config agent_command")
                    && said.contains("no run was started"),
                "baton {args:?} with {program}: {said}"
            );
        }
    }
    let tasks = workspace.json(&["tasks"]);
    assert_eq!(tasks[0]["status"], "available", "{tasks}");
    assert_eq!(
        workspace.json(&["status"])["goal"],
        "",
        "a refused run set no goal"
    );
}

#[test]
fn an_error_exits_1_with_one_line_on_stderr_that_says_what_to_do() {
    let workspace = TestWorkspace::new();
    insta::assert_snapshot!(
        fails(&workspace, &["show", "task-404"]),
        @"error: task task-404 not found; `baton tasks` lists the ids"
    );
    for args in [
        &["complete", "task-404"][..],
        &["fail", "task-404", "--error", "x"],
        &["cancel", "task-404"],
        &["retry", "task-404"],
    ] {
        let said = fails(&workspace, args);
        assert!(said.contains("task-404"), "baton {args:?}: {said}");
    }
    let said = fails(&workspace, &["claim", "--agent", ""]);
    assert!(said.contains("agent id is empty"), "{said}");
    let said = fails(&workspace, &["add", "   "]);
    assert!(said.contains("description is empty"), "{said}");
    assert_eq!(workspace.json(&["tasks"]), json!([]));
}

#[test]
fn a_json_error_is_an_object_with_its_kind_on_stderr() {
    let workspace = TestWorkspace::new();
    workspace.ok(&["add", "unclaimed"]);
    let cases = [
        (["show", "task-404"], "TaskNotFoundError"),
        (["complete", "task-001"], "OrchestrationError"),
    ];
    for (args, kind) in cases {
        let mut args = args.to_vec();
        args.push("--json");
        let output = workspace.baton(&args);
        assert_eq!(output.status.code(), Some(1), "baton {args:?}");
        assert_eq!(stdout(&output), "");
        let said = stderr(&output);
        assert_eq!(lines(&said).len(), 1, "{said}");
        let error: Value = serde_json::from_str(&said).expect("the error is JSON");
        assert_eq!(error["error"]["kind"], kind, "{error}");
        assert!(error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("task-"));
    }
    let output = workspace.baton(&["config", "max_workers", "0", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let error: Value = serde_json::from_slice(&output.stderr).expect("the error is JSON");
    assert_eq!(
        error,
        json!({ "error": {
            "kind": "InvalidInputError",
            "message": "max_workers 0 is outside 1..64: it is how many worker agents run at once; give 1 to 64 (3 by default)",
        }})
    );
}

#[test]
fn bad_usage_exits_2_and_sends_nothing() {
    let workspace = TestWorkspace::new();
    let said = misused(&workspace, &["add", "too urgent", "-p", "11"]);
    assert!(said.contains("11 is not in 1..=10"), "{said}");
    misused(&workspace, &["add", "not urgent", "-p", "0"]);
    let said = misused(&workspace, &["frobnicate"]);
    assert!(
        said.contains("unrecognized subcommand 'frobnicate'"),
        "{said}"
    );
    let said = misused(&workspace, &["tasks", "--status", "busy"]);
    assert!(said.contains("possible values: available"), "{said}");
    misused(&workspace, &["add"]);
    misused(&workspace, &["claim"]);
    misused(&workspace, &["fail", "task-001"]);
    misused(
        &workspace,
        &["init", "goal", "--plan", "a", "--plan-file", "b"],
    );
    misused(&workspace, &["init", "goal", "--max-workers", "0"]);
    misused(&workspace, &["show", ""]);
    assert_eq!(workspace.daemon_pid(), None, "no daemon was even started");
}
