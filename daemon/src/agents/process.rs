//! One agent process: started in a process group of its own, its stream read line by
//! line as it arrives (kept in the task's log), ended with everything it started when
//! it times out or is stopped.
//!
//! Every agent process carries `BATON_AGENT_RUN=<id>` in its environment, and so does
//! everything it starts; that is how stragglers are found even when they left the
//! process group, and how a restarted daemon finds what a killed one left behind.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use super::claude_config::OwnConfig;
use super::secrets;
use super::stream::{self, AgentResult, StreamEvent};
use crate::core::run::FaultKind;

mod verify;

pub use verify::{verify, Verdict};

/// The environment variable that marks an agent's processes.
pub const RUN_MARKER: &str = "BATON_AGENT_RUN";
/// The environment variable that names the workspace an agent works for.
pub const WORKSPACE_MARKER: &str = "BATON_WORKSPACE";

/// How to start one agent.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: String,
    pub args: Vec<String>,
    /// What the agent is asked, written to its standard input: a program's argument
    /// holds at most 128 KiB, and a prompt holds a task's description of up to 1 MiB.
    pub prompt: String,
    pub cwd: PathBuf,
    pub env: Environment,
    /// The agent's own Claude Code configuration directory, made as it starts and
    /// removed as it ends.
    pub own_config: Option<OwnConfig>,
    /// Where the raw stream is appended.
    pub log: PathBuf,
    pub timeout: Duration,
    /// Unique for this process: the value of [`RUN_MARKER`].
    pub run_id: String,
}

/// What an agent's environment changes from the daemon's.
#[derive(Clone, Default)]
pub struct Environment {
    pub set: Vec<(String, String)>,
    /// Variables of the daemon's own environment the agent does not get.
    pub unset: Vec<String>,
}

/// Names only: the client's variables hold keys.
impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field(
                "set",
                &self.set.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("unset", &self.unset)
            .finish()
    }
}

/// How an agent process ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// It gave its final result and exited.
    Result {
        result: AgentResult,
        exit_code: Option<i32>,
    },
    /// It ended without a usable result: `kind` says how, for decisions; `detail`
    /// says it for people.
    Fault {
        kind: FaultKind,
        detail: String,
    },
    TimedOut,
    Stopped,
}

impl Ending {
    /// What the agent's final result says it spent, when it gave one.
    pub fn reported_cost(&self) -> Option<f64> {
        match self {
            Ending::Result { result, .. } => Some(result.usage.cost_usd),
            _ => None,
        }
    }
}

/// Runs the agent to its end, handing each stream event to `on_event` as it arrives,
/// in its own configuration directory for as long as it runs. `stop` turning true
/// ends the agent and all it started.
pub async fn run(
    launch: &Launch,
    stop: watch::Receiver<bool>,
    on_event: impl FnMut(StreamEvent),
) -> Ending {
    let Some(own_config) = &launch.own_config else {
        return run_process(launch, stop, on_event).await;
    };
    if let Err(err) = own_config.prepare() {
        own_config.remove();
        return Ending::Fault {
            kind: FaultKind::Spawn,
            detail: format!(
                "could not make the agent's Claude Code configuration directory: {err}"
            ),
        };
    }
    let ending = run_process(launch, stop, on_event).await;
    own_config.remove();
    ending
}

/// Runs the agent process to its end. It is long because the reading loop and the
/// classification of how the process ended share the child.
async fn run_process(
    launch: &Launch,
    mut stop: watch::Receiver<bool>,
    mut on_event: impl FnMut(StreamEvent),
) -> Ending {
    let mut command = supervised(launch, &launch.program, &launch.args);
    command.stdin(Stdio::piped());
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => {
            return Ending::Fault {
                kind: FaultKind::Spawn,
                detail: format!("could not start `{}`: {err}", launch.program),
            };
        }
    };
    let pid = child.id().unwrap_or_default();
    let mut stdin = child.stdin.take().expect("piped stdin");
    let prompt = launch.prompt.clone();
    // Written beside the reading, so that neither waits on the other, and closed
    // once written, which ends the prompt. The writing ends too when the agent's
    // processes end (the pipe breaks), as they all do before this returns.
    tokio::spawn(async move {
        let _ = stdin.write_all(prompt.as_bytes()).await;
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let stderr_tail = tokio::spawn(async move {
        let text = tail_of(stderr).await;
        let tail: Vec<&str> = text.lines().rev().take(5).collect();
        tail.into_iter()
            .rev()
            .map(clip_line)
            .collect::<Vec<_>>()
            .join(" | ")
    });

    let secrets = secrets::of(&launch.env);
    let mut log = open_log(&launch.log).await;
    let mut lines = PrintedLines::new(stdout, STREAM_LINE_LIMIT);
    let mut result = None;
    let mut garbage = None;
    let deadline = tokio::time::sleep(launch.timeout);
    tokio::pin!(deadline);
    let interrupted = loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(Printed::Line(line)) if !stream::worth_reading(&line) => {}
                Some(Printed::Line(line)) => {
                    let line = secrets.hide_json_line(&line);
                    if let Some(log) = log.as_mut() {
                        let _ = log.write_all(format!("{line}\n").as_bytes()).await;
                    }
                    match stream::parse_line(&line) {
                        Ok(events) => {
                            for event in events {
                                if let StreamEvent::Result(found) = &event {
                                    result = Some(found.clone());
                                }
                                on_event(event);
                            }
                        }
                        Err(reason) => {
                            garbage.get_or_insert(reason);
                        }
                    }
                }
                Some(Printed::TooLong) => {
                    garbage.get_or_insert(format!(
                        "it printed a line of over {STREAM_LINE_LIMIT} bytes, which was left out"
                    ));
                }
                None => break None,
            },
            _ = &mut deadline => break Some(Ending::TimedOut),
            _ = stopped(&mut stop) => break Some(Ending::Stopped),
        }
    };
    if let Some(log) = log.as_mut() {
        let _ = log.flush().await;
    }
    if let Some(ending) = interrupted {
        end_everything(pid, &launch.run_id);
        let _ = child.wait().await;
        return ending;
    }
    let status = child.wait().await;
    // Whatever it started and left running goes with it.
    end_everything(pid, &launch.run_id);
    let stderr_tail = stderr_tail.await.unwrap_or_default();
    let stderr_tail = secrets.hide(&stderr_tail);
    let exit_code = status.as_ref().ok().and_then(|status| status.code());
    match (result, status) {
        (Some(result), Ok(status)) if status.success() || result.is_error => {
            Ending::Result { result, exit_code }
        }
        (Some(_), Ok(status)) => fault(FaultKind::NoResult, describe_exit(status, &stderr_tail)),
        (None, Ok(status)) if !status.success() => {
            fault(FaultKind::NoResult, describe_exit(status, &stderr_tail))
        }
        (None, Ok(_)) => match garbage {
            Some(reason) => fault(FaultKind::Garbage, reason),
            None => fault(
                FaultKind::NoResult,
                with_stderr("the agent exited without a result".into(), &stderr_tail),
            ),
        },
        (_, Err(err)) => fault(
            FaultKind::NoResult,
            format!("waiting for the agent failed: {err}"),
        ),
    }
}

/// A fault of `kind`, unless what the agent said shows Claude Code could not read its
/// own `~/.claude.json`: that is a fault of its own kind, with its own advice. This is
/// the one place the agent's words are read, to name the kind.
fn fault(kind: FaultKind, detail: String) -> Ending {
    let kind = if detail.contains(".claude.json") {
        FaultKind::DamagedClaudeConfig
    } else {
        kind
    };
    Ending::Fault { kind, detail }
}

/// How many bytes of the end of an agent's standard error are looked at for the
/// lines that say why it ended.
const STDERR_KEPT: usize = 16 * 1024;
/// How much of one printed line a task's error quotes.
const LINE_KEPT: usize = 1000;
/// The longest line of an agent's stream-json the daemon holds, in bytes; a longer
/// one is left out.
const STREAM_LINE_LIMIT: usize = 16 * 1024 * 1024;

/// The end of what `pipe` prints, [`STDERR_KEPT`] bytes at most, read to its end: a
/// process may print without end, and why it failed is said last.
pub(super) async fn tail_of(mut pipe: impl AsyncRead + Unpin) -> String {
    let mut text = Vec::new();
    let mut chunk = vec![0; 8192];
    while let Ok(read @ 1..) = pipe.read(&mut chunk).await {
        text.extend_from_slice(&chunk[..read]);
        if text.len() > 2 * STDERR_KEPT {
            text.drain(..text.len() - STDERR_KEPT);
        }
    }
    String::from_utf8_lossy(&text[text.len().saturating_sub(STDERR_KEPT)..]).into_owned()
}

fn clip_line(line: &str) -> String {
    crate::core::excerpt(line, LINE_KEPT)
}

/// A line of what a process printed.
enum Printed {
    Line(String),
    /// A line over the limit, left out rather than held whole.
    TooLong,
}

/// What a process prints, read line by line, each line held to a limit: a process may
/// print without end, or without a newline. Bytes that are not UTF-8 read as U+FFFD.
/// A partial line waits in it, so that a `next` dropped unfinished loses nothing.
struct PrintedLines<R> {
    reader: BufReader<R>,
    limit: usize,
    line: Vec<u8>,
    too_long: bool,
}

impl<R: AsyncRead + Unpin> PrintedLines<R> {
    fn new(pipe: R, limit: usize) -> Self {
        PrintedLines {
            reader: BufReader::new(pipe),
            limit,
            line: Vec::new(),
            too_long: false,
        }
    }

    /// The next line; none at the end of the output, or at a read error.
    async fn next(&mut self) -> Option<Printed> {
        loop {
            let available = self.reader.fill_buf().await.ok()?;
            if available.is_empty() {
                return (!self.line.is_empty() || self.too_long).then(|| self.take());
            }
            let newline = available.iter().position(|&byte| byte == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            if self.too_long {
                // The rest of a line already left out.
            } else if self.line.len() + chunk.len() > self.limit {
                self.too_long = true;
                self.line = Vec::new();
            } else {
                self.line.extend_from_slice(chunk);
            }
            let used = newline.map_or(available.len(), |at| at + 1);
            self.reader.consume(used);
            if newline.is_some() {
                return Some(self.take());
            }
        }
    }

    fn take(&mut self) -> Printed {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.too_long) {
            return Printed::TooLong;
        }
        Printed::Line(
            String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_owned(),
        )
    }
}

/// Resolves once `stop` turns true (never, if its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|&stop| stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

fn describe_exit(status: std::process::ExitStatus, stderr_tail: &str) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("the agent exited with status {code}"),
        (None, Some(signal)) => format!("the agent was killed by signal {signal}"),
        _ => "the agent ended abnormally".into(),
    };
    with_stderr(how, stderr_tail)
}

fn with_stderr(reason: String, stderr_tail: &str) -> String {
    if stderr_tail.trim().is_empty() {
        reason
    } else {
        format!("{reason}: {}", stream::clip(stderr_tail, 400))
    }
}

async fn open_log(path: &std::path::Path) -> Option<tokio::fs::File> {
    if let Some(parent) = path.parent() {
        let _ = tokio::fs::create_dir_all(parent).await;
    }
    super::attempt_log::open_for_append(path)
        .await
        .map_err(|err| tracing::warn!("cannot open the task log {}: {err}", path.display()))
        .ok()
}

/// The agent dies with the daemon, even when the daemon is killed outright.
fn die_with_parent(command: &mut tokio::process::Command) {
    // SAFETY: prctl is async-signal-safe and only sets this child's death signal.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Gives a program the umask the daemon was started with: the daemon's own files are
/// private, but what git, an agent or the verify command writes in the user's
/// checkout (or in the git repository it shares) gets the modes the user's own
/// commands give it. The checkouts under `.baton/worktrees/` stay private through
/// their directory.
pub(crate) fn with_started_umask(command: &mut tokio::process::Command) {
    let Some(mask) = baton_protocol::private::started_umask() else {
        return;
    };
    // SAFETY: umask is async-signal-safe and only sets this child's mask.
    unsafe {
        command.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
}

/// Ends the agent's process group and every process that carries its run marker.
fn end_everything(pid: u32, run_id: &str) {
    if pid != 0 {
        // SAFETY: signals touch no memory of ours; the group is the agent's own.
        unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
    }
    kill_marked(RUN_MARKER, run_id);
}

/// Kills every process of this user whose environment has `key=value`: what agents
/// started, wherever they went. Answers how many there were.
pub fn kill_marked(key: &str, value: &str) -> usize {
    let marked = marked(key, value);
    for pid in &marked {
        // SAFETY: signals touch no memory of ours.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    marked.len()
}

/// The processes of this user, other than this one, whose environment has `key=value`.
pub fn marked(key: &str, value: &str) -> Vec<u32> {
    let needle = format!("{key}={value}");
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            let carries = environ
                .split(|&byte| byte == 0)
                .any(|var| var == needle.as_bytes());
            (carries && pid != me).then_some(pid)
        })
        .collect()
}

/// A command under the rules every process of a run follows: the run's environment
/// and marker (how stragglers are found), its own process group (so a timeout or
/// stop ends all it started), output piped, and death with the daemon.
fn supervised<I, S>(launch: &Launch, program: &str, args: I) -> tokio::process::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = tokio::process::Command::new(program);
    for name in &launch.env.unset {
        command.env_remove(name);
    }
    command
        .args(args)
        .current_dir(&launch.cwd)
        .envs(launch.env.set.iter().map(|(key, value)| (key, value)))
        .env(RUN_MARKER, &launch.run_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    die_with_parent(&mut command);
    with_started_umask(&mut command);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(bytes: &[u8], limit: usize) -> Vec<Option<String>> {
        let mut lines = PrintedLines::new(bytes, limit);
        let mut read = Vec::new();
        while let Some(line) = lines.next().await {
            read.push(match line {
                Printed::Line(line) => Some(line),
                Printed::TooLong => None,
            });
        }
        read
    }

    #[tokio::test]
    async fn a_line_over_the_limit_is_left_out_and_the_lines_after_it_are_read() {
        let mut output = b"first\r\n".to_vec();
        output.extend(vec![b'x'; 10_000]);
        output.extend(b"\nafter\n\xff\xfe\nno newline at the end");
        assert_eq!(
            read_all(&output, 1_000).await,
            [
                Some("first".into()),
                None,
                Some("after".into()),
                Some("\u{fffd}\u{fffd}".into()),
                Some("no newline at the end".into()),
            ]
        );
    }

    #[tokio::test]
    async fn output_without_a_newline_is_never_held_past_the_limit() {
        let endless = vec![b'y'; 1 << 20];
        assert_eq!(read_all(&endless, 4_096).await, [None]);
    }
}
