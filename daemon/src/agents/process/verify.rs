//! A task's verification command: run in the task's checkout as an agent is, with
//! its output kept for the agent and the task's log, and judged by its shell's exit.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::{
    clip_line, end_everything, open_log, secrets, stopped, supervised, Launch, Printed,
    PrintedLines,
};

/// How a task's verification command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It exited 0.
    Passed,
    /// It exited otherwise: its exit status (none when a signal ended it) and the
    /// tail of what it printed (stdout and stderr together).
    Failed {
        status: Option<i32>,
        tail: String,
    },
    TimedOut {
        tail: String,
    },
    Stopped,
    /// It could not be started.
    Fault(String),
}

/// How many lines of a failing verification's output are kept.
const VERIFY_TAIL_LINES: usize = 60;
/// How long a verification's output is read after its shell exited: what the shell
/// printed is in the pipe already, so this only bounds the wait on what something it
/// left running prints.
const VERIFY_OUTPUT_GRACE: Duration = Duration::from_secs(1);
/// The longest line of a verification's output the daemon reads, in bytes: it quotes
/// [`LINE_KEPT`] of each.
const VERIFY_LINE_LIMIT: usize = 64 * 1024;

/// Runs a verification command (`sh -c COMMAND`) under the same rules as an agent:
/// its own process group, the run marker, the task's timeout, the daemon's death or
/// `stop` ending it and all it started. Everything it prints is appended to `log`.
///
/// It is done when its shell exits, not when its output ends: a test suite or a build
/// may leave a helper (a daemon, a watcher) holding the output open. What it printed
/// is read for [`VERIFY_OUTPUT_GRACE`] more at most, then whatever it left running is
/// ended.
pub async fn verify(launch: &Launch, command: &str, mut stop: watch::Receiver<bool>) -> Verdict {
    let mut child = match supervised(launch, "sh", ["-c", command]).spawn() {
        Ok(child) => child,
        Err(err) => return Verdict::Fault(format!("could not start `sh -c {command}`: {err}")),
    };
    let pid = child.id().unwrap_or_default();
    // Dropped when this returns, which ends the reading of a pipe still held by a
    // process that escaped both its group and its marker.
    let (_readers, mut lines_read) = read_output(&mut child);
    let secrets = secrets::of(&launch.env);
    let mut tail = std::collections::VecDeque::with_capacity(VERIFY_TAIL_LINES);
    let mut keep = |line: String| {
        if tail.len() == VERIFY_TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(clip_line(&secrets.hide(&line)));
    };
    let mut printing = true;
    let deadline = tokio::time::sleep(launch.timeout);
    tokio::pin!(deadline);
    let ended = loop {
        tokio::select! {
            line = lines_read.recv(), if printing => match line {
                Some(line) => keep(line),
                None => printing = false,
            },
            status = child.wait() => break Ok(status.ok()),
            _ = &mut deadline => break Err(false),
            _ = stopped(&mut stop) => break Err(true),
        }
    };
    if ended.is_ok() {
        let grace = tokio::time::sleep(VERIFY_OUTPUT_GRACE);
        tokio::pin!(grace);
        while printing {
            tokio::select! {
                line = lines_read.recv() => match line {
                    Some(line) => keep(line),
                    None => printing = false,
                },
                _ = &mut grace => break,
            }
        }
    }
    end_everything(pid, &launch.run_id);
    let _ = child.wait().await;
    let tail = Vec::from(tail).join("\n");
    let verdict = match ended {
        Err(true) => Verdict::Stopped,
        Err(false) => Verdict::TimedOut { tail },
        Ok(Some(status)) if status.success() => Verdict::Passed,
        Ok(status) => Verdict::Failed {
            status: status.and_then(|status| status.code()),
            tail,
        },
    };
    log_verdict(&launch.log, command, &verdict).await;
    verdict
}

/// Reads the lines `child` prints on both its outputs, as they come, until both end
/// or the readers answered are dropped.
fn read_output(
    child: &mut tokio::process::Child,
) -> (
    tokio::task::JoinSet<()>,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (sender, lines_read) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut readers = tokio::task::JoinSet::new();
    for pipe in [
        Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(stderr),
    ] {
        let sender = sender.clone();
        readers.spawn(async move {
            let mut lines = PrintedLines::new(pipe, VERIFY_LINE_LIMIT);
            while let Some(line) = lines.next().await {
                let line = match line {
                    Printed::Line(line) => line,
                    Printed::TooLong => format!("(a line of over {VERIFY_LINE_LIMIT} bytes)"),
                };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
    }
    (readers, lines_read)
}

/// Appends a verification's outcome to the task's log, as one JSON line beside the
/// agent's stream (`baton logs ID` shows it).
async fn log_verdict(path: &std::path::Path, command: &str, verdict: &Verdict) {
    let (outcome, status, output) = match verdict {
        Verdict::Passed => ("passed", Some(0), ""),
        Verdict::Failed { status, tail } => ("failed", *status, tail.as_str()),
        Verdict::TimedOut { tail } => ("timed_out", None, tail.as_str()),
        Verdict::Stopped => ("stopped", None, ""),
        Verdict::Fault(reason) => ("not_run", None, reason.as_str()),
    };
    // `outcome` tells a check that failed from one that was stopped, timed out or
    // could not start; `passed` stays for readers of older logs.
    let line = serde_json::json!({
        "type": "baton_verify",
        "command": command,
        "passed": outcome == "passed",
        "outcome": outcome,
        "status": status,
        "output": output,
    });
    if let Some(mut log) = open_log(path).await {
        let _ = log.write_all(format!("{line}\n").as_bytes()).await;
        let _ = log.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{marked, Environment, RUN_MARKER};
    use super::*;

    /// A launch of a verification in a directory of its own, with a timeout of
    /// `timeout_secs`.
    fn verifying(dir: &tempfile::TempDir, timeout_secs: u64) -> Launch {
        Launch {
            program: String::new(),
            args: Vec::new(),
            prompt: String::new(),
            cwd: dir.path().to_owned(),
            env: Environment::default(),
            own_config: None,
            log: dir.path().join("log"),
            timeout: Duration::from_secs(timeout_secs),
            run_id: format!("verify-test-{}", dir.path().display()),
        }
    }

    /// Verifies `command` as the gate does, answering how it ended and how long it took.
    async fn verify_timed(launch: &Launch, command: &str) -> (Verdict, Duration) {
        let (_stop, stop) = watch::channel(false);
        let started = std::time::Instant::now();
        let verdict = verify(launch, command, stop).await;
        (verdict, started.elapsed())
    }

    #[tokio::test]
    async fn a_command_that_leaves_a_process_holding_its_output_is_done_when_its_shell_exits() {
        let dir = tempfile::tempdir().unwrap();
        let launch = verifying(&dir, 30);

        let (verdict, took) = verify_timed(&launch, "sleep 100 & echo verified-ok").await;

        assert_eq!(verdict, Verdict::Passed);
        assert!(took < Duration::from_secs(10), "took {took:?}");
        // What it left running goes with it (a killed process may take a moment to die).
        let given_up = std::time::Instant::now() + Duration::from_secs(5);
        while !marked(RUN_MARKER, &launch.run_id).is_empty() {
            assert!(
                std::time::Instant::now() < given_up,
                "the sleep is left running"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_failing_command_that_leaves_a_process_behind_fails_at_once_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let launch = verifying(&dir, 30);

        let (verdict, took) =
            verify_timed(&launch, "sleep 100 & echo one; echo two >&2; exit 3").await;

        let Verdict::Failed { status, tail } = verdict else {
            panic!("{verdict:?}");
        };
        assert_eq!(status, Some(3));
        let mut lines: Vec<&str> = tail.lines().collect();
        lines.sort();
        assert_eq!(lines, ["one", "two"]);
        assert!(took < Duration::from_secs(10), "took {took:?}");
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_ended_at_the_timeout_with_its_output() {
        let dir = tempfile::tempdir().unwrap();
        let launch = verifying(&dir, 1);

        let (verdict, _) = verify_timed(&launch, "echo started; sleep 100").await;

        assert_eq!(
            verdict,
            Verdict::TimedOut {
                tail: "started".into()
            }
        );
    }

    #[tokio::test]
    async fn a_command_that_closes_its_output_still_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let launch = verifying(&dir, 1);

        let (verdict, took) = verify_timed(&launch, "exec >&- 2>&-; sleep 100").await;

        assert_eq!(
            verdict,
            Verdict::TimedOut {
                tail: String::new()
            }
        );
        assert!(took < Duration::from_secs(10), "took {took:?}");
    }
}
