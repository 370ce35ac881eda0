//! The real Claude Code binary, pinned to one version, and a private place to run it:
//! its own HOME, its own working directory, and a model server the test owns
//! ([`crate::model_server`]).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Claude Code release every test runs.
pub const CLAUDE_CODE_VERSION: &str = "2.1.331";

/// The model the tests name; the scripted server answers for any.
pub const TEST_MODEL: &str = "claude-sonnet-4-20250514";

/// The npm package carrying the native `claude` binary for this machine.
fn package() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "@anthropic-ai/claude-code-linux-x64",
        "aarch64" => "@anthropic-ai/claude-code-linux-arm64",
        arch => panic!("no Claude Code package is known for {arch}; set BATON_CLAUDE"),
    }
}

/// The `claude` binary: `$BATON_CLAUDE`, or the pinned release in
/// `${BATON_CACHE_DIR:-$HOME/.cache/baton}/claude`, installed there with npm the first
/// time it is asked for. Parallel tests (and test binaries) wait for one install.
pub fn claude_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BATON_CLAUDE") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "BATON_CLAUDE names {}, which is missing",
            path.display()
        );
        return path;
    }
    let prefix = cache_dir().join("claude");
    let binary = prefix.join("node_modules").join(package()).join("claude");
    if installed_version(&prefix).as_deref() == Some(CLAUDE_CODE_VERSION) && binary.exists() {
        return binary;
    }
    std::fs::create_dir_all(&prefix)
        .unwrap_or_else(|err| panic!("cannot create {}: {err}", prefix.display()));
    let lock_path = prefix.join("install.lock");
    let lock = File::create(&lock_path)
        .unwrap_or_else(|err| panic!("cannot create {}: {err}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|err| panic!("cannot lock {}: {err}", lock_path.display()));
    // Another process may have installed it while this one waited for the lock.
    if installed_version(&prefix).as_deref() != Some(CLAUDE_CODE_VERSION) || !binary.exists() {
        let spec = format!("{}@{CLAUDE_CODE_VERSION}", package());
        let output = Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(&spec)
            .output()
            .unwrap_or_else(|err| panic!("npm, needed to install {spec}, does not run: {err}"));
        assert!(
            output.status.success(),
            "npm install {spec} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            binary.exists(),
            "npm installed {spec} but {} is missing",
            binary.display()
        );
    }
    drop(lock);
    binary
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BATON_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").expect("HOME or BATON_CACHE_DIR is set");
    PathBuf::from(home).join(".cache").join("baton")
}

/// The version of the package installed under `prefix`, from its package.json.
fn installed_version(prefix: &Path) -> Option<String> {
    let manifest = prefix
        .join("node_modules")
        .join(package())
        .join("package.json");
    let manifest: Value = serde_json::from_slice(&std::fs::read(manifest).ok()?).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

/// What `claude` needs to talk to the model server at `model_url` and nothing else,
/// keeping its state in `home`. Variables a developer's own setup could leak in
/// (other credentials, another config directory, another provider) are not
/// inherited: [`Sandbox::command`] starts from an empty environment.
pub fn claude_env(model_url: &str, home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", home.to_str().expect("a UTF-8 HOME")),
        ("ANTHROPIC_BASE_URL", model_url),
        ("ANTHROPIC_API_KEY", "test-key"),
        // No update checks, telemetry or connectivity probes.
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        // MCP tools are offered to the model directly, not behind a search tool.
        ("ENABLE_TOOL_SEARCH", "false"),
        // Running as root is allowed in a sandbox.
        ("IS_SANDBOX", "1"),
    ]
    .into_iter()
    .map(|(name, value)| (name, value.to_string()))
    .collect()
}

/// Variables passed through from the test's own environment.
const INHERITED: &[&str] = &["PATH", "SHELL", "TMPDIR", "LANG", "LC_ALL", "TERM"];

/// A private HOME and working directory for running `claude`.
pub struct Sandbox {
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            home: tempfile::tempdir().expect("a temporary HOME"),
            dir: tempfile::tempdir().expect("a temporary working directory"),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The working directory `claude` runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `claude -p PROMPT` headless: stream-json output, the test model, edits
    /// accepted (baton gives the prompt on standard input; an argument serves here). Add `--allowedTools`, `--mcp-config` and more to taste.
    pub fn command(&self, model_url: &str, prompt: &str) -> Command {
        let mut command = Command::new(claude_binary());
        command
            .current_dir(self.dir())
            .env_clear()
            .envs(
                INHERITED
                    .iter()
                    .filter_map(|name| Some((name, std::env::var_os(name)?))),
            )
            .envs(claude_env(model_url, self.home()))
            .args(["-p", prompt, "--output-format", "stream-json", "--verbose"])
            .args(["--model", TEST_MODEL, "--permission-mode", "acceptEdits"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// What one `claude` run did.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

impl Run {
    /// Runs `command` to its end, killing it after `limit`.
    pub fn of(command: &mut Command, limit: Duration) -> Run {
        let started = Instant::now();
        let mut child = command.spawn().expect("claude starts");
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = wait(&mut child, limit);
        Run {
            status,
            stdout: stdout.join().expect("stdout is read"),
            stderr: stderr.join().expect("stderr is read"),
            duration: started.elapsed(),
        }
    }

    /// The stream-json events, one per line.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("claude printed {line:?}, not JSON: {err}"))
            })
            .collect()
    }

    /// The final `result` event, which must be the last line.
    pub fn result(&self) -> Value {
        let last = self
            .events()
            .pop()
            .unwrap_or_else(|| panic!("claude printed nothing; its stderr: {}", self.stderr));
        assert_eq!(
            last["type"], "result",
            "the last event is the result: {last}"
        );
        last
    }

    /// The events of one `type` (and `subtype`, when given).
    pub fn events_of(&self, kind: &str, subtype: Option<&str>) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|event| event["type"] == kind)
            .filter(|event| subtype.is_none_or(|subtype| event["subtype"] == subtype))
            .collect()
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("claude can be waited for") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("claude ran longer than {limit:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
