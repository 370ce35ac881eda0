//! The run's progress line through the real CLI, with the real Claude Code binary:
//! `baton watch` shows it as `baton run` does, stages included, from the daemon's
//! `$/progress`, from its start or at once when it starts mid-run; `baton status`
//! counts the held tasks by stage; `--json` stays the event stream.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baton_protocol::methods::{self as m};
use baton_tests::agent_workspace::{add_scripted, bash, say, verify_with, AgentWorkspace};
use serde_json::Value;

/// A CLI command started by the test, whose output lines are read as they come.
struct Following {
    child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    seen: Vec<(Stream, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Stdout,
    Stderr,
}

impl Following {
    fn start(agents: &AgentWorkspace, args: &[&str]) -> Following {
        let mut child = agents
            .baton_command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("baton starts");
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        read_lines(stdout, Stream::Stdout, tx.clone());
        read_lines(stderr, Stream::Stderr, tx);
        Following {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads until a line holds `text`; fails, with what was seen, when none does
    /// within a minute.
    fn until(&mut self, text: &str) {
        if !self.within(text, Duration::from_secs(60)) {
            panic!("no line with {text:?}; seen: {:#?}", self.seen);
        }
    }

    /// Reads until a line holds `text` or `limit` has passed; answers whether one did.
    fn within(&mut self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !self.seen.iter().any(|(_, line)| line.contains(text)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => return false,
            }
        }
        true
    }

    /// Ends the command; answers every line it printed.
    fn stop(mut self) -> Vec<(Stream, String)> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen.extend(self.lines.iter());
        self.seen
    }
}

/// Waits until each watcher hears the daemon: a discovery is shared, then another
/// each second, until every watcher has printed one.
async fn connected<const N: usize>(client: &baton_protocol::Client, watchers: [&mut Following; N]) {
    for watcher in watchers {
        let mut shared = 0;
        loop {
            shared += 1;
            let content = format!("watchers listen {shared}");
            client
                .request::<m::AddDiscovery>(&m::NewDiscovery {
                    agent_id: "test".into(),
                    content: content.clone(),
                    related_task: None,
                    tags: Vec::new(),
                })
                .await
                .expect("the discovery is shared");
            if watcher.within(&content, Duration::from_secs(1)) {
                break;
            }
            assert!(
                shared < 60,
                "the watcher never heard the daemon: {:#?}",
                watcher.seen
            );
        }
    }
}

fn read_lines(out: impl Read + Send + 'static, stream: Stream, tx: mpsc::Sender<(Stream, String)>) {
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((stream, line)).is_err() {
                return;
            }
        }
    });
}

#[tokio::test]
async fn watch_shows_the_runs_progress_line_with_its_stages_as_run_does() {
    let agents = AgentWorkspace::git();
    let client = agents.start(1, 120).await;
    let outside = tempfile::tempdir().unwrap();
    let go = outside.path().join("go");
    // The task stays at its verification until the test says go.
    let check = format!("while [ ! -e {0} ]; do sleep 0.1; done", go.display());
    verify_with(&client, &check).await;
    let mut watch = Following::start(&agents, &["watch"]);
    let mut watch_json = Following::start(&agents, &["watch", "--json"]);
    connected(&client, [&mut watch, &mut watch_json]).await;
    let id = add_scripted(
        &client,
        "answer",
        &[bash("echo 42 > answer.txt"), say("wrote the answer")],
        &[],
    )
    .await;
    watch.until(id.as_str());
    watch_json.until(id.as_str());
    let mut run = Following::start(&agents, &["run", "--predefined"]);

    let verifying = "progress: 0/1 done, 0 working, 1 verifying, 1 agent";
    watch.until(verifying);
    run.until(verifying);

    let status = agents.workspace.json(&["status"]);
    let by_stage = &status["progress"]["by_stage"];
    assert_eq!(by_stage["verifying"], 1, "{status}");
    assert_eq!(by_stage["working"], 0, "{status}");
    assert_eq!(by_stage["resolving"], 0, "{status}");
    assert_eq!(by_stage["reviewing"], 0, "{status}");
    let shown = agents.workspace.ok(&["status"]);
    assert!(
        shown.contains("stages         0 working · 1 verifying · 0 resolving · 0 reviewing"),
        "{shown}"
    );

    // A watcher started while the run goes sees where it is at once, before any
    // task changes.
    let mut late = Following::start(&agents, &["watch"]);
    late.until(verifying);
    late.stop();

    std::fs::write(&go, "").unwrap();
    watch.until("progress: 1/1 done");
    run.until("progress: 1/1 done");
    run.until("run finished");
    let ran = run.child.wait().expect("baton run ends");
    assert!(ran.success(), "{:#?}", run.seen);
    let watched = watch.stop();
    let progress: Vec<&String> = watched
        .iter()
        .filter(|(_, line)| line.starts_with("progress: "))
        .map(|(stream, line)| {
            assert_eq!(*stream, Stream::Stderr, "{line}");
            line
        })
        .collect();
    assert!(
        progress
            .iter()
            .any(|line| line.as_str() == "progress: 0/1 done, 1 working, 1 agent"),
        "the task was at work before its verification: {watched:#?}"
    );

    // `--json` is the daemon's events, a line each, and nothing else.
    let printed = watch_json.stop();
    assert!(
        printed
            .iter()
            .all(|(stream, line)| *stream == Stream::Stdout
                && serde_json::from_str::<Value>(line).is_ok_and(|event| event["method"]
                    .as_str()
                    .is_some_and(|method| method.starts_with("baton/")))),
        "{printed:#?}"
    );
    assert!(
        printed
            .iter()
            .any(|(_, line)| line.contains("\"stage\":\"verifying\"")),
        "{printed:#?}"
    );
}
