//! What every end-to-end test needs: a private workspace, the real `baton` and
//! `batond` binaries, and a protocol client, with nothing shared between tests so
//! that they run in parallel.

pub mod agent_workspace;
pub mod claude;
pub mod model_server;
pub mod wire;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use baton_protocol::{Client, ConnectConfig, Workspace};
use serde_json::Value;

/// The directory holding the built `baton` and `batond`: `BATON_BIN_DIR`, or the
/// cargo target directory this test binary was built into.
pub fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BATON_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/<profile>/deps/<test binary>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned();
    for binary in ["baton", "batond"] {
        assert!(
            dir.join(binary).exists(),
            "{} is missing; build the binaries first (`cargo build --workspace --bins`)",
            dir.join(binary).display()
        );
    }
    dir
}

/// For a bench program, which sits beside `baton` and `batond` rather than in
/// `deps/`: [`bin_dir`] finds them beside it unless `BATON_BIN_DIR` says otherwise.
/// Call it before any thread starts.
pub fn binaries_beside_this_program() {
    if std::env::var_os("BATON_BIN_DIR").is_none() {
        let exe = std::env::current_exe().expect("the program has a path");
        // SAFETY: called before any thread starts, so no one reads the environment.
        unsafe { std::env::set_var("BATON_BIN_DIR", exe.parent().expect("its directory")) };
    }
}

/// A workspace of one's own. Its daemon's socket is its own too, since the socket's
/// name derives from the workspace path.
pub struct TestWorkspace {
    dir: tempfile::TempDir,
}

impl Default for TestWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

impl TestWorkspace {
    pub fn new() -> TestWorkspace {
        TestWorkspace {
            dir: tempfile::tempdir().expect("a temporary workspace"),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The workspace as clients see it (canonical path).
    pub fn workspace(&self) -> Workspace {
        Workspace::at(self.root()).expect("the workspace exists")
    }

    /// Runs `baton -C <workspace> ARGS` and returns what it did.
    pub fn baton(&self, args: &[&str]) -> Output {
        self.baton_with_input(args, None)
    }

    pub fn baton_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = self
            .spawn_baton(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("baton runs");
        let mut stdin = child.stdin.take().expect("piped stdin");
        if let Some(input) = input {
            stdin
                .write_all(input.as_bytes())
                .expect("baton reads its input");
        }
        drop(stdin);
        child.wait_with_output().expect("baton finishes")
    }

    /// `baton -C <workspace> ARGS`, its standard input and error piped, to be started
    /// by the caller (who may not wait for it).
    pub fn spawn_baton(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin_dir().join("baton"));
        command
            .arg("-C")
            .arg(self.root())
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    }

    /// Runs `baton ARGS` and returns what it did, failing the test when it takes
    /// longer than `limit`: for what must answer rather than hang.
    pub fn baton_within(&self, args: &[&str], limit: std::time::Duration) -> Output {
        let mut child = self
            .spawn_baton(args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("baton runs");
        let started = std::time::Instant::now();
        while child.try_wait().expect("baton can be waited for").is_none() {
            if started.elapsed() > limit {
                let _ = child.kill();
                panic!("baton {args:?} still waited after {limit:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.wait_with_output().expect("baton finishes")
    }

    /// Runs baton and expects success; answers its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.baton(args);
        assert!(
            output.status.success(),
            "baton {args:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("baton prints UTF-8")
    }

    /// Runs baton with `--json` and parses what it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.ok(&args);
        serde_json::from_str(&out)
            .unwrap_or_else(|err| panic!("baton {args:?} printed {out:?}: {err}"))
    }

    /// A protocol client, starting the daemon when none runs.
    pub async fn client(&self, events: bool) -> Client {
        Client::connect(
            &self.workspace(),
            &ConnectConfig {
                start: true,
                daemon: Some(bin_dir().join("batond")),
                events,
                any_version: false,
            },
        )
        .await
        .expect("a client connects")
    }

    /// The running daemon's process id, from its `daemon.json`.
    pub fn daemon_pid(&self) -> Option<u32> {
        let bytes = std::fs::read(self.workspace().daemon_json()).ok()?;
        let running: Value = serde_json::from_slice(&bytes).ok()?;
        running["pid"].as_u64().map(|pid| pid as u32)
    }

    /// kill -9 of the daemon, waiting until it is gone.
    pub fn kill_daemon(&self) {
        let pid = self.daemon_pid().expect("a daemon runs");
        // SAFETY: sending a signal touches no memory of ours.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        wait_until(Duration::from_secs(10), || !process_exists(pid));
    }
}

impl Drop for TestWorkspace {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon_pid() {
            // SAFETY: sending a signal touches no memory of ours.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// Adds `count` tasks without dependencies in one batch, described `"{label} {i}"`,
/// and answers their ids in order.
pub async fn add_tasks(client: &Client, count: usize, label: &str) -> Vec<baton_protocol::TaskId> {
    let tasks = (0..count)
        .map(|i| baton_protocol::methods::NewTask::new(format!("{label} {i}")))
        .collect();
    client
        .request::<baton_protocol::methods::AddTasks>(&baton_protocol::methods::AddTasksParams {
            tasks,
        })
        .await
        .expect("the tasks are added")
        .into_iter()
        .map(|task| task.id)
        .collect()
}

/// Adds `task` depending on `dependencies` and answers its id.
pub async fn add_task(
    client: &Client,
    mut task: baton_protocol::methods::NewTask,
    dependencies: &[&baton_protocol::TaskId],
) -> baton_protocol::TaskId {
    task.dependencies = dependencies.iter().map(|id| (*id).clone()).collect();
    client
        .request::<baton_protocol::methods::AddTask>(&task)
        .await
        .expect("the task is added")
        .id
}

pub fn process_exists(pid: u32) -> bool {
    // A zombie still answers kill(0); read its state instead. The main thread of a
    // killed process can be a zombie while its other threads still exit, holding the
    // process's files (the daemon's socket among them): it is gone when they are.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let zombie = stat.split_whitespace().nth(2) == Some("Z");
            !zombie || threads(pid) > 1
        }
        Err(_) => false,
    }
}

/// How many threads of a process the system still lists.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count)
}

/// Whether the long variants of the reliability tests run (`BATON_LONG_TESTS=1`).
pub fn long_tests() -> bool {
    std::env::var_os("BATON_LONG_TESTS").is_some_and(|value| !value.is_empty())
}

/// A small deterministic generator, so that a failure can be replayed from its seed.
pub struct Random(pub u64);

impl Random {
    /// The next number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Polls `done` until it holds, failing the test after `limit`.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
