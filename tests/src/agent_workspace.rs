//! A workspace whose daemon runs the real Claude Code binary against a scripted model
//! server: the daemon is started with the model server's address and a private HOME,
//! so parallel tests never share either.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baton_protocol::methods::{self as m};
use baton_protocol::{Client, ConnectConfig, RunMode, RunResult, Task, TaskId};
use serde_json::{json, Value};

use crate::claude::{claude_binary, claude_env, TEST_MODEL};
use crate::model_server::{script, ModelServer};
use crate::{bin_dir, wait_until, TestWorkspace};

/// A workspace, its model server and its daemon.
pub struct AgentWorkspace {
    pub workspace: TestWorkspace,
    pub model: ModelServer,
    home: tempfile::TempDir,
    /// The daemons this workspace started, reaped when it goes.
    daemons: std::sync::Mutex<Vec<std::process::Child>>,
}

impl AgentWorkspace {
    /// A workspace that is not a git repository (agents share it).
    pub fn new() -> AgentWorkspace {
        AgentWorkspace {
            workspace: TestWorkspace::new(),
            model: ModelServer::start(),
            home: tempfile::tempdir().expect("a private HOME"),
            daemons: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// A workspace that is a git repository with one commit.
    pub fn git() -> AgentWorkspace {
        let agents = AgentWorkspace::new();
        let root = agents.root();
        init_repository(root);
        std::fs::write(root.join("README.md"), "a project\n").expect("README");
        git_output(root, &["add", "README.md"]);
        git_output(root, &["commit", "--quiet", "-m", "start"]);
        agents
    }

    pub fn root(&self) -> &Path {
        self.workspace.root()
    }

    /// Starts the daemon with the model server and HOME in its environment, and a
    /// client; configures `claude` as the agent with `max_workers` and `task_timeout`.
    pub async fn start(&self, max_workers: u32, task_timeout: u64) -> Client {
        self.start_with(self.model_env(), max_workers, task_timeout)
            .await
    }

    /// Starts the daemon as [`AgentWorkspace::start`] does, with `env` in its
    /// environment instead of [`AgentWorkspace::model_env`].
    pub async fn start_with(
        &self,
        env: Vec<(&'static str, String)>,
        max_workers: u32,
        task_timeout: u64,
    ) -> Client {
        let mut command = Command::new(bin_dir().join("batond"));
        command
            .arg("--workspace")
            .arg(self.root())
            .envs(env)
            .env("BATON_CLI", bin_dir().join("baton"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let daemon = command.spawn().expect("batond starts");
        self.daemons.lock().expect("daemons").push(daemon);
        let socket = self.workspace.workspace().socket_path();
        wait_until(Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        let client = self.client(true).await;
        client
            .request::<m::Configure>(&m::ConfigPatch {
                agent_command: Some(claude_binary().display().to_string()),
                model: Some(TEST_MODEL.into()),
                max_workers: Some(max_workers),
                task_timeout: Some(task_timeout),
                ..Default::default()
            })
            .await
            .expect("the agent is configured");
        client
    }

    /// Runs `baton -C <workspace> ARGS` from a shell that has the model server's
    /// address and key, as a user's shell has theirs: a run sends them to its agents.
    pub fn baton(&self, args: &[&str]) -> std::process::Output {
        self.baton_command(args).output().expect("baton runs")
    }

    /// `baton -C <workspace> ARGS` from such a shell, to be started by the caller.
    pub fn baton_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin_dir().join("baton"));
        command
            .arg("-C")
            .arg(self.root())
            .args(args)
            .envs(self.model_env())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null());
        command
    }

    /// The HOME the daemon and its agents run with, where Claude Code finds the
    /// user's configuration.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// What `claude` needs here, but for IS_SANDBOX: agents get exactly the
    /// permissions baton gives them.
    pub fn model_env(&self) -> Vec<(&'static str, String)> {
        claude_env(self.model.url(), self.home.path())
            .into_iter()
            .filter(|(name, _)| *name != "IS_SANDBOX")
            .collect()
    }

    /// Another client of the running daemon.
    pub async fn client(&self, events: bool) -> Client {
        Client::connect(
            &self.workspace.workspace(),
            &ConnectConfig {
                events,
                ..ConnectConfig::default()
            },
        )
        .await
        .expect("the daemon answers")
    }
}

impl Drop for AgentWorkspace {
    fn drop(&mut self) {
        for mut daemon in self.daemons.lock().expect("daemons").drain(..) {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

impl Default for AgentWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

/// A script step: run a shell command with the Bash tool.
pub fn bash(command: &str) -> Value {
    json!({ "tool": "Bash", "input": { "command": command, "description": "a scripted step", "timeout": 600000 } })
}

/// A script step: call one of baton's MCP tools.
pub fn baton_tool(name: &str, input: Value) -> Value {
    json!({ "tool": format!("mcp__baton__{name}"), "input": input })
}

/// A script step: the agent's final answer.
pub fn say(text: &str) -> Value {
    json!({ "text": text })
}

/// Runs the plan and waits for its result.
pub async fn run(client: &Client, mode: RunMode) -> RunResult {
    tokio::time::timeout(
        Duration::from_secs(180),
        client.request::<m::Run>(&m::RunParams {
            mode,
            goal: None,
            wait: true,
            overrides: None,
            env: None,
        }),
    )
    .await
    .expect("the run ends in time")
    .expect("the run is answered")
    .expect("a waited run has a result")
}

/// Gives workers only their task's description as their prompt, so that a leader's
/// script in the goal stays the leader's own.
pub async fn workers_see_only_their_task(client: &Client) {
    client
        .request::<m::Configure>(&m::ConfigPatch {
            worker_prompt: Some(Some("{description}".into())),
            ..Default::default()
        })
        .await
        .expect("worker_prompt is set");
}

/// A verification that prints the answer in `answer.txt` and passes when it is 42.
pub const CHECK_ANSWER: &str =
    "echo \"answer is $(cat answer.txt)\"; test \"$(cat answer.txt)\" = 42";

/// Verifies with [`CHECK_ANSWER`] and adds a task whose agent answers 41, then, sent
/// back by the gate, 42 ("fixed the answer"): its work lands on the second try.
pub async fn add_answer_right_on_the_second_try(client: &Client) -> TaskId {
    verify_with(client, CHECK_ANSWER).await;
    add_scripted(
        client,
        "answer",
        &[
            bash("echo 41 > answer.txt"),
            say("wrote the answer"),
            bash("echo 42 > answer.txt"),
            say("fixed the answer"),
        ],
        &[],
    )
    .await
}

/// Sets the workspace's `verify_command`: the gate every finished task must pass.
pub async fn verify_with(client: &Client, command: &str) {
    client
        .request::<m::Configure>(&m::ConfigPatch {
            verify_command: Some(Some(command.into())),
            ..Default::default()
        })
        .await
        .expect("verify_command is set");
}

/// Starts running the predefined tasks without waiting.
pub async fn start_run(client: &Client) {
    client
        .request::<m::Run>(&m::RunParams {
            mode: RunMode::Predefined,
            goal: None,
            wait: false,
            overrides: None,
            env: None,
        })
        .await
        .expect("the run starts");
}

/// A task whose agent follows `steps` (see [`crate::model_server`]).
pub fn scripted(description: &str, steps: &[Value]) -> m::NewTask {
    m::NewTask::new(format!("{description}\n{}", script(steps)))
}

/// Adds a scripted task and answers its id.
pub async fn add_scripted(
    client: &Client,
    description: &str,
    steps: &[Value],
    dependencies: &[&TaskId],
) -> TaskId {
    crate::add_task(client, scripted(description, steps), dependencies).await
}

pub async fn task(client: &Client, id: &TaskId) -> Task {
    client
        .request::<m::GetTask>(&m::TaskRef {
            task_id: id.clone(),
        })
        .await
        .expect("the task exists")
}

/// Follows `watcher`'s events until task `id` has finished (a resumed run goes on
/// after a restart); answers the task as it ended.
pub async fn until_finished(client: &Client, watcher: &mut Client, id: &TaskId) -> Task {
    let mut now = task(client, id).await;
    while !now.status.is_finished() {
        let events = watcher.events().expect("the watcher asked for events");
        let _ = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .expect("the resumed run goes on");
        now = task(client, id).await;
    }
    now
}

/// Waits until no run goes and answers the last run's result (a run the daemon
/// resumed after a restart, which no client waits for).
pub async fn last_run(client: &Client) -> RunResult {
    for _ in 0..600 {
        let status = client
            .request::<m::GetStatus>(&())
            .await
            .expect("the status");
        if let (None, Some(last)) = (status.run, status.last_run) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run did not end within a minute");
}

/// Asserts that each of `ids` landed on the integration branch exactly once: one
/// merge names it.
pub fn assert_landed_once(dir: &Path, ids: &[&str]) {
    let merges = integration_merges(dir);
    for id in ids {
        let landed = merges
            .lines()
            .filter(|subject| subject.contains(id))
            .count();
        assert_eq!(landed, 1, "{id} landed once: {merges}");
    }
}

/// The subjects of the merges on the integration branch, newest first: a task landed
/// once when exactly one of them names it.
pub fn integration_merges(dir: &Path) -> String {
    git_output(
        dir,
        &[
            "log",
            "--merges",
            "--first-parent",
            "--format=%s",
            "baton/integration",
        ],
    )
}

/// Makes `root` a git repository on `main`, with a committer of its own.
pub fn init_repository(root: &Path) {
    git_output(root, &["init", "--quiet", "--initial-branch=main"]);
    git_output(root, &["config", "user.email", "dev@example.com"]);
    git_output(root, &["config", "user.name", "Dev"]);
}

/// `git ARGS` in `dir`, answering its output.
pub fn git_output(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
