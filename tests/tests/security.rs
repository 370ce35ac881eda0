//! What baton keeps is its user's alone: another user can neither reach the daemon's
//! socket nor read `.baton/`, and no secret from the environment ends up in the logs,
//! the state, the answers or a saved file.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use baton_tests::agent_workspace::{bash, baton_tool, say, scripted, AgentWorkspace};
use baton_tests::{bin_dir, TestWorkspace};

/// The second user the tests act as.
const OTHER_USER: &str = "baton-other";

/// The second user's uid and gid, created (as root) when missing.
fn other_user() -> (u32, u32) {
    let id = |flag: &str| {
        Command::new("id")
            .arg(flag)
            .arg(OTHER_USER)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok()?.trim().parse().ok())
    };
    if id("-u").is_none() {
        let created = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(OTHER_USER)
            .status();
        // Another test process may have created it meanwhile.
        assert!(
            created.is_ok() || id("-u").is_some(),
            "this test needs a second user: run it as root, or `useradd {OTHER_USER}`"
        );
    }
    (
        id("-u").expect("the second user exists"),
        id("-g").expect("the second user has a group"),
    )
}

/// Runs `program ARGS` as the second user.
fn as_other(program: &Path, args: &[&str], (uid, gid): (u32, u32)) -> Output {
    Command::new(program)
        .args(args)
        .uid(uid)
        .gid(gid)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .expect("the command starts")
}

#[test]
fn a_second_user_can_neither_reach_the_socket_nor_read_dot_baton() {
    let other = other_user();
    let workspace = TestWorkspace::new();
    // The workspace itself is open to others, as a checkout in a home often is.
    std::fs::set_permissions(workspace.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    workspace.ok(&["init", "the owner's goal"]);
    workspace.ok(&["add", "the owner's task"]);

    let socket = workspace.workspace().socket_path();
    let socket_dir = socket.parent().unwrap();
    let mode = |path: &Path| std::fs::metadata(path).unwrap().mode() & 0o777;
    assert_eq!(mode(&socket), 0o600, "the socket");
    assert_eq!(mode(socket_dir), 0o700, "the socket's directory");
    // Connecting needs the directory's search permission, which the other user lacks.
    let reached = as_other(
        Path::new("/bin/sh"),
        &["-c", &format!("test -e '{}'", socket.display())],
        other,
    );
    assert!(!reached.status.success(), "the other user sees the socket");

    let baton = workspace.root().join(".baton");
    for path in [
        baton.clone(),
        baton.join("state/db"),
        baton.join("logs"),
        baton.join("daemon.json"),
    ] {
        let read = as_other(Path::new("/bin/cat"), &[path.to_str().unwrap()], other);
        assert!(
            !read.status.success() && read.stdout.is_empty(),
            "the other user read {}",
            path.display()
        );
    }
    let listed = as_other(Path::new("/bin/ls"), &[baton.to_str().unwrap()], other);
    assert!(!listed.status.success(), "the other user listed .baton");

    // The other user's own `baton` in the workspace gets nothing of the owner's state
    // (a copy: the build directory may be private to the owner).
    let programs = tempfile::tempdir().unwrap();
    std::fs::set_permissions(programs.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for program in ["baton", "batond"] {
        std::fs::copy(bin_dir().join(program), programs.path().join(program)).unwrap();
    }
    let status = as_other(
        &programs.path().join("baton"),
        &["-C", workspace.root().to_str().unwrap(), "status", "--json"],
        other,
    );
    assert!(!status.status.success());
    assert!(!String::from_utf8_lossy(&status.stdout).contains("the owner's goal"));
    // And the owner's daemon serves on, untouched.
    assert!(workspace.ok(&["status"]).contains("the owner's goal"));
}

/// Every file under `dir`, read whole.
fn every_file(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            found.extend(every_file(&path));
        } else if meta.is_file() {
            if let Ok(bytes) = std::fs::read(&path) {
                found.push((path.display().to_string(), bytes));
            }
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_from_the_environment_reaches_logs_state_answers_or_saved_files() {
    const API_KEY: &str = "sk-ant-api03-SECRETKEY-d41d8cd98f00b204";
    const TOKEN: &str = "ghp_SECRETTOKEN0123456789abcdef";
    // Printed in JSON, a quote and a backslash are escaped: the password as the agent
    // printed it is not the password as the log spells it.
    const PASSWORD: &str = r#"pa"ss\word-SECRET-31415"#;
    // A key of many lines, printed whole, escaped, and line by line.
    const KEY_LINES: [&str; 2] = [
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCSECRET",
        "BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjSECRET",
    ];
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        KEY_LINES.join("\n")
    );
    let agents = AgentWorkspace::git();
    let mut env = agents.model_env();
    env.push(("DB_PASSWORD", PASSWORD.into()));
    env.push(("TLS_KEY", pem));
    let client = agents.start_with(env, 1, 120).await;
    // The agent prints its environment, as a build that echoes its settings does.
    let task = scripted(
        "write a file and report",
        &[
            bash("echo built > built.txt"),
            bash("env; echo \"the key is $ANTHROPIC_API_KEY, the password $DB_PASSWORD\""),
            bash("declare -p DB_PASSWORD TLS_KEY; printf '%s' \"$TLS_KEY\" | cat -n"),
            baton_tool(
                "report_discovery",
                serde_json::json!({ "content": "the build writes built.txt" }),
            ),
            say("built"),
        ],
    );
    baton_tests::add_task(&client, task, &[]).await;

    let mut answers = Vec::new();
    let mut baton = |args: &[&str]| {
        let output = agents
            .baton_command(args)
            .env("ANTHROPIC_API_KEY", API_KEY)
            .env("GITHUB_TOKEN", TOKEN)
            .output()
            .expect("baton runs");
        answers.push((format!("baton {args:?}"), output.stdout.clone()));
        answers.push((format!("baton {args:?} (stderr)"), output.stderr.clone()));
        output
    };
    let run = baton(&["run", "--predefined"]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let saved = agents.root().join("saved.json");
    for args in [
        vec!["status", "--json"],
        vec!["tasks", "--json"],
        vec!["discoveries", "--json"],
        vec!["logs", "task-001"],
        vec!["logs", "task-001", "--json"],
        vec!["config", "--json"],
        vec!["daemon", "status", "--json"],
        vec!["save", saved.to_str().unwrap()],
    ] {
        baton(&args);
    }
    agents.workspace.ok(&["daemon", "stop"]);
    // The agent had the key: it reached the model with it, and printed it.
    assert!(
        agents
            .model
            .messages_requests()
            .iter()
            .any(|request| request.headers.get("x-api-key").map(String::as_str) == Some(API_KEY)),
        "the agent used the key its run was sent"
    );
    let log = std::fs::read_to_string(agents.root().join(".baton/logs/tasks/task-001.log"))
        .expect("the task's log");
    assert!(
        log.contains("the key is [ANTHROPIC_API_KEY hidden], the password [DB_PASSWORD hidden]"),
        "the printed key is hidden by its name: {log}"
    );

    let mut files = every_file(&agents.root().join(".baton"));
    files.push((
        saved.display().to_string(),
        std::fs::read(&saved).expect("the state was saved"),
    ));
    assert!(files.len() > 5, "the state, logs and snapshots are read");
    for (what, bytes) in files.iter().chain(answers.iter()) {
        let escaped = serde_json::to_string(PASSWORD).unwrap();
        let escaped = &escaped[1..escaped.len() - 1];
        for secret in [API_KEY, TOKEN, PASSWORD, escaped, "SECRET-31415"]
            .into_iter()
            .chain(KEY_LINES)
        {
            assert!(!contains(bytes, secret), "{what} holds a secret");
        }
    }
}

/// Every file and directory under `dir` that group or others may use, with its mode;
/// the checkouts in `.baton/worktrees/` are the user's code, so only their
/// directories count.
fn open_to_others(dir: &Path, checkouts: &Path, found: &mut Vec<(String, u32)>, seen: &mut usize) {
    for entry in std::fs::read_dir(dir).expect("a directory under .baton is listed") {
        let path = entry.expect("an entry").path();
        let meta = std::fs::symlink_metadata(&path).expect("an entry's metadata");
        if meta.file_type().is_symlink() {
            continue;
        }
        *seen += 1;
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            found.push((path.display().to_string(), mode));
        }
        if meta.is_dir() && dir != checkouts {
            open_to_others(&path, checkouts, found, seen);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_under_dot_baton_is_private_under_umask_022() {
    // The common umask, which would leave new files readable by everyone; the daemon
    // started below inherits it.
    // SAFETY: umask only swaps this process's file mode mask.
    unsafe { libc::umask(0o022) };
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let task = scripted(
        "write a file and report",
        &[
            bash("echo built > built.txt"),
            baton_tool(
                "report_discovery",
                serde_json::json!({ "content": "the build writes built.txt" }),
            ),
            say("built"),
        ],
    );
    baton_tests::add_task(&client, task, &[]).await;
    let ok = |args: &[&str]| {
        let output = agents.baton(args);
        assert!(
            output.status.success(),
            "baton {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    ok(&["run", "--predefined"]);
    // What lands in the user's checkout has the modes the user's own umask gives.
    ok(&["merge"]);
    let built = std::fs::metadata(agents.root().join("built.txt")).expect("the work landed");
    assert_eq!(built.mode() & 0o777, 0o644, "built.txt in the checkout");
    let dot_baton = agents.root().join(".baton");
    // A snapshot is written after each run.
    let snapshots = dot_baton.join("snapshots");
    baton_tests::wait_until(std::time::Duration::from_secs(30), || {
        std::fs::read_dir(&snapshots).is_ok_and(|mut entries| entries.next().is_some())
    });
    ok(&["save", dot_baton.join("saved.json").to_str().unwrap()]);
    // A reset puts the board and its logs aside in .baton/history.
    ok(&["reset", "--yes"]);
    ok(&["daemon", "stop"]);

    for place in [
        "snapshots",
        "history",
        "logs",
        "state",
        "agents",
        "worktrees",
    ] {
        assert!(dot_baton.join(place).exists(), ".baton/{place} was written");
    }
    let mut found = Vec::new();
    let mode = std::fs::metadata(&dot_baton).unwrap().mode() & 0o777;
    if mode & 0o077 != 0 {
        found.push((dot_baton.display().to_string(), mode));
    }
    let mut seen = 0;
    open_to_others(
        &dot_baton,
        &dot_baton.join("worktrees"),
        &mut found,
        &mut seen,
    );
    let listed: Vec<String> = found
        .iter()
        .map(|(path, mode)| format!("{mode:o} {path}"))
        .collect();
    assert!(
        listed.is_empty(),
        "open to group or others:\n{}",
        listed.join("\n")
    );
    assert!(seen > 15, "only {seen} entries under .baton were checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_an_agent_sends_through_batons_tools_is_hidden_before_it_is_stored_or_sent() {
    const API_KEY: &str = "sk-ant-api03-TOOLSECRET-9e107d9d372bb682";
    const HIDDEN: &str = "[ANTHROPIC_API_KEY hidden]";
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let mut watcher = agents.client(true).await;
    // The agent reads the key from its environment and copies it into a discovery
    // and a new task, as a careless agent would.
    let task = scripted(
        "share what you found",
        &[
            bash("printenv ANTHROPIC_API_KEY"),
            baton_tool(
                "report_discovery",
                serde_json::json!({ "content": "the key is {{0}}", "tags": ["{{0}}"] }),
            ),
            baton_tool(
                "add_task",
                serde_json::json!({ "description": "call the API with {{0}}", "hints": "key {{0}}" }),
            ),
            say("shared"),
        ],
    );
    baton_tests::add_task(&client, task, &[]).await;
    let run = agents
        .baton_command(&["run", "--predefined"])
        .env("ANTHROPIC_API_KEY", API_KEY)
        .output()
        .expect("baton runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    let mut answers = vec![
        ("baton run".to_owned(), run.stdout),
        ("baton run (stderr)".to_owned(), run.stderr),
    ];
    let discoveries = agents.workspace.ok(&["discoveries", "--json"]);
    assert!(
        discoveries.contains(&format!("the key is {HIDDEN}")),
        "the discovery is kept, with the key's name for the key: {discoveries}"
    );
    let shown = agents.workspace.ok(&["show", "task-002"]);
    assert!(
        shown.contains(&format!("call the API with {HIDDEN}")),
        "the new task is kept, with the key's name for the key: {shown}"
    );
    let saved = agents.root().join("saved.json");
    for args in [
        vec!["show", "task-002", "--json"],
        vec!["tasks", "--json"],
        vec!["status", "--json"],
        vec!["save", saved.to_str().unwrap()],
    ] {
        answers.push((
            format!("baton {args:?}"),
            agents.workspace.ok(&args).into_bytes(),
        ));
    }
    answers.push(("baton discoveries".into(), discoveries.into_bytes()));
    answers.push(("baton show".into(), shown.into_bytes()));
    // Every notification the run sent, to the watcher that was there from the start.
    let events = watcher.events().expect("the watcher asked for events");
    let mut sent = Vec::new();
    while let Ok(event) = events.try_recv() {
        sent.push(serde_json::to_string(&event).expect("an event serializes"));
    }
    assert!(
        sent.iter()
            .any(|event| event.contains("baton/discovery") && event.contains(HIDDEN)),
        "the discovery was announced: {sent:#?}"
    );
    answers.push(("the events".into(), sent.join("\n").into_bytes()));
    agents.workspace.ok(&["daemon", "stop"]);
    // The agent had the key and sent it: it was in its tool calls to the model.
    assert!(
        agents
            .model
            .messages_requests()
            .iter()
            .any(|request| request.body.to_string().contains(API_KEY)),
        "the agent's tool calls carried the key"
    );

    let mut files = every_file(&agents.root().join(".baton"));
    files.push((
        saved.display().to_string(),
        std::fs::read(&saved).expect("the state was saved"),
    ));
    for (what, bytes) in files.iter().chain(answers.iter()) {
        assert!(!contains(bytes, API_KEY), "{what} holds the key");
    }
}

#[test]
fn what_agents_left_when_their_daemon_died_is_removed_at_the_next_start() {
    // An agent's own Claude Code configuration holds a copy of the user's
    // `.claude.json` (which may hold a saved key); a daemon killed while the agent
    // worked could not remove it.
    let workspace = TestWorkspace::new();
    workspace.ok(&["status"]);
    workspace.ok(&["daemon", "stop"]);
    let agents = workspace.workspace().agents_dir();
    let left = workspace.workspace().agent_config_dir("worker-7");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(
        left.join(".claude.json"),
        r#"{"primaryApiKey":"sk-left-behind"}"#,
    )
    .unwrap();
    std::fs::write(workspace.workspace().mcp_config("worker-7"), "{}").unwrap();

    workspace.ok(&["status"]);
    let kept: Vec<_> = std::fs::read_dir(&agents)
        .map(|entries| entries.map(|entry| entry.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        kept.is_empty(),
        "{kept:?} outlived the daemon that made them"
    );
}

#[test]
fn a_dot_baton_that_links_elsewhere_is_refused_and_where_it_points_left_alone() {
    // A checkout can carry a `.baton` of its own (a repository may hold links): baton
    // must not write its user's prompts, code and state wherever that points.
    for linked in [".baton", ".baton/logs", ".baton/state", ".baton/logs/tasks"] {
        let elsewhere = tempfile::tempdir().unwrap();
        let workspace = TestWorkspace::new();
        let link = workspace.root().join(linked);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();

        let refused = workspace.baton(&["add", "a task"]);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{linked}: {said}");
        assert!(
            said.contains(&format!("{linked} is a symbolic link"))
                && said.contains("remove the link"),
            "{linked}: {said}"
        );
        let written: Vec<_> = std::fs::read_dir(elsewhere.path()).unwrap().collect();
        assert!(
            written.is_empty(),
            "{linked}: baton wrote {written:?} where it points"
        );
        assert!(
            std::fs::symlink_metadata(&link).unwrap().is_symlink(),
            "{linked}"
        );

        // Once the link is gone, baton starts as in any workspace.
        std::fs::remove_file(&link).unwrap();
        workspace.ok(&["add", "a task"]);
        workspace.ok(&["daemon", "stop"]);
    }
}

#[test]
fn a_dot_baton_of_another_user_is_refused() {
    // Whoever owns the directory could read, replace or remove what baton writes in it.
    let (uid, gid) = other_user();
    let workspace = TestWorkspace::new();
    let theirs = workspace.root().join(".baton");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(uid), Some(gid)).unwrap();

    let refused = workspace.baton(&["status"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{said}");
    assert!(said.contains("belongs to another user"), "{said}");
    assert_eq!(
        std::fs::read_dir(&theirs).unwrap().count(),
        0,
        "baton wrote in it"
    );
    assert_eq!(std::fs::metadata(&theirs).unwrap().uid(), uid);
}

#[test]
fn a_workspace_path_that_holds_a_newline_and_an_escape_keeps_each_log_record_on_one_line() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent
        .path()
        .join("ws\n2026-01-01T00:00:00Z ERROR forged\x1b[2J");
    std::fs::create_dir(&root).unwrap();
    let baton = |args: &[&str]| {
        let output = std::process::Command::new(bin_dir().join("baton"))
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    baton(&["add", "one"]);
    let stopped = baton(&["daemon", "stop"]);
    assert_eq!(stopped.lines().count(), 1, "{stopped:?}");
    let logs = root.join(".baton/logs");
    let log = std::fs::read_dir(&logs)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.is_file())
        .expect("the daemon's log");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("serving workspace=")
            && text.contains("ws\\x0a2026-01-01T00:00:00Z ERROR forged\\x1b[2J"),
        "the path is in its record, escaped: {text}"
    );
    for line in text.lines() {
        assert!(!line.starts_with("2026-01-01"), "a forged record: {line:?}");
        assert!(!line.contains('\x1b'), "{line:?}");
    }
}
