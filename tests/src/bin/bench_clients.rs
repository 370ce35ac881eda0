//! `bench_clients`: the same work through each of baton's clients, in one run on one
//! machine — `add_task`, and `claim_task` + `complete_task`, one call after another —
//! through the Rust protocol client (the baseline: one request each), the Python
//! client (`python/bench/bench_client.py`) and the CLI (a process per call). Prints
//! a markdown report for docs/benchmarks.md.
//!
//! It drives the release builds, so build them first, and a Python that has the
//! client installed (`scripts/test.sh` makes one):
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo run --release -p baton-tests --bin bench_clients
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use baton_protocol::methods::{self, ClaimTaskParams, CompleteTaskParams, NewTask};
use baton_protocol::{Client, ConnectConfig, TaskResult};
use baton_tests::TestWorkspace;
use clap::Parser;
use serde_json::Value;

/// Times add_task and claim_task + complete_task through the Rust client, the Python
/// client and the CLI, and prints a markdown report.
#[derive(Debug, Parser)]
struct Args {
    /// Tasks added, then claimed and completed, through each library client
    #[arg(long, default_value_t = 2000)]
    tasks: usize,
    /// Calls of each CLI command (a process each)
    #[arg(long, default_value_t = 200)]
    cli_runs: usize,
    /// The Python with the client installed; by default the tests' virtual environment
    #[arg(long)]
    python: Option<PathBuf>,
    /// Where the release `baton` and `batond` are; by default beside this program
    #[arg(long, env = "BATON_BIN_DIR")]
    bin_dir: Option<PathBuf>,
}

/// Calls made before timing starts, by every client alike.
const WARMUP: usize = 20;

fn main() -> Result<()> {
    let args = Args::parse();
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("this program has a directory")?
            .to_owned(),
    };
    let baton = bin_dir.join("baton");
    let batond = bin_dir.join("batond");
    for binary in [&baton, &batond] {
        ensure!(
            binary.exists(),
            "{} is missing; build the release binaries first (`cargo build --release --workspace --bins`)",
            binary.display()
        );
    }
    let python = args.python.clone().unwrap_or_else(default_python);
    let load_before = load_average();
    let started = Instant::now();

    eprintln!("bench_clients: the Rust client, {} tasks", args.tasks);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rust = runtime.block_on(rust_client(&batond, args.tasks))?;
    eprintln!("bench_clients: the Python client, {} tasks", args.tasks);
    let python = python_client(&python, &baton, args.tasks)?;
    eprintln!("bench_clients: the CLI, {} calls each", args.cli_runs);
    let cli = cli(&baton, args.cli_runs)?;

    let load_after = load_average();
    let rows = [
        ("Rust client (baseline)", &rust),
        ("Python client", &python),
        ("CLI, a process per call", &cli),
    ];
    let mut out = String::new();
    out += &format!(
        "Machine: {}; load average before {load_before}, after {load_after}; \
         run took {:.0} s, {} at {}.\n\n",
        cpu(),
        started.elapsed().as_secs_f64(),
        "release build",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
    );
    out += "| client | operation | calls | calls/s | median | p99 | median ÷ Rust client |\n";
    out += "|---|---|---:|---:|---:|---:|---:|\n";
    for (operation, pick) in [
        ("`add_task`", Timings::adds as fn(&Timings) -> &Samples),
        ("`claim_task` + `complete_task`", Timings::pairs),
    ] {
        let baseline = pick(&rust).median();
        for (client, timings) in rows {
            let samples = pick(timings);
            out += &format!(
                "| {client} | {operation} | {} | {:.0} | {} | {} | {:.1}× |\n",
                samples.len(),
                samples.rate(),
                fmt(samples.median()),
                fmt(samples.percentile(99.0)),
                samples.median().as_secs_f64() / baseline.as_secs_f64(),
            );
        }
    }
    println!("{out}");
    Ok(())
}

/// The samples of one client.
struct Timings {
    adds: Samples,
    pairs: Samples,
}

impl Timings {
    fn adds(&self) -> &Samples {
        &self.adds
    }

    fn pairs(&self) -> &Samples {
        &self.pairs
    }
}

async fn rust_client(batond: &Path, tasks: usize) -> Result<Timings> {
    let workspace = TestWorkspace::new();
    let client = Client::connect(
        &workspace.workspace(),
        &ConnectConfig {
            start: true,
            daemon: Some(batond.to_owned()),
            ..ConnectConfig::default()
        },
    )
    .await?;
    for n in 0..WARMUP {
        client
            .request::<methods::AddTask>(&NewTask::new(format!("warm-up {n}")))
            .await?;
    }
    for _ in 0..WARMUP {
        claim_and_complete(&client).await?;
    }
    let mut adds = Samples::default();
    for n in 0..tasks {
        let start = Instant::now();
        client
            .request::<methods::AddTask>(&NewTask::new(format!("task {n}")))
            .await?;
        adds.push(start.elapsed());
    }
    let mut pairs = Samples::default();
    for _ in 0..tasks {
        let start = Instant::now();
        claim_and_complete(&client).await?;
        pairs.push(start.elapsed());
    }
    client.request::<methods::StopDaemon>(&()).await?;
    Ok(Timings { adds, pairs })
}

/// One claim and the completion of the task it got, through the Rust client.
async fn claim_and_complete(client: &Client) -> Result<()> {
    let task = client
        .request::<methods::ClaimTask>(&ClaimTaskParams {
            agent_id: "bench".into(),
        })
        .await?
        .context("every task added is ready")?;
    client
        .request::<methods::CompleteTask>(&CompleteTaskParams {
            task_id: task.id,
            result: TaskResult {
                output: "ok".into(),
                ..TaskResult::default()
            },
        })
        .await?;
    Ok(())
}

fn python_client(python: &Path, baton: &Path, tasks: usize) -> Result<Timings> {
    let workspace = TestWorkspace::new();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../python/bench/bench_client.py");
    let output = Command::new(python)
        .arg(&script)
        .arg("--workspace")
        .arg(workspace.root())
        .arg("--tasks")
        .arg(tasks.to_string())
        .env("BATON_CLI", baton)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {} {}", python.display(), script.display()))?;
    stop_daemon(baton, workspace.root())?;
    ensure!(
        output.status.success(),
        "{} failed ({}); is the client installed in {}? (`scripts/test.sh` installs it)",
        script.display(),
        output.status,
        python.display()
    );
    let samples: Value = serde_json::from_slice(&output.stdout)?;
    let read = |name: &str| -> Result<Samples> {
        let durations = samples[name]
            .as_array()
            .with_context(|| format!("the Python bench printed no {name}"))?
            .iter()
            .map(|seconds| Duration::from_secs_f64(seconds.as_f64().unwrap_or_default()))
            .collect();
        Ok(Samples { durations })
    };
    Ok(Timings {
        adds: read("add_task")?,
        pairs: read("claim_complete")?,
    })
}

fn cli(baton: &Path, runs: usize) -> Result<Timings> {
    let workspace = TestWorkspace::new();
    let root = workspace.root();
    let baton_in = |args: &[&str]| -> Result<(Duration, Vec<u8>)> {
        let start = Instant::now();
        let output = Command::new(baton)
            .arg("-C")
            .arg(root)
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", baton.display()))?;
        let took = start.elapsed();
        ensure!(
            output.status.success(),
            "baton {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok((took, output.stdout))
    };
    baton_in(&["daemon", "start"])?;
    let pair = || -> Result<Duration> {
        let (claim, out) = baton_in(&["claim", "--agent", "bench", "--json"])?;
        let task: Value = serde_json::from_slice(&out)?;
        let id = task["id"].as_str().context("a task was claimed")?;
        let (complete, _) = baton_in(&["complete", id, "--output", "ok"])?;
        Ok(claim + complete)
    };
    for _ in 0..WARMUP {
        baton_in(&["add", "warm-up"])?;
    }
    for _ in 0..WARMUP {
        pair()?;
    }
    let mut adds = Samples::default();
    for _ in 0..runs {
        adds.push(baton_in(&["add", "task"])?.0);
    }
    let mut pairs = Samples::default();
    for _ in 0..runs {
        pairs.push(pair()?);
    }
    stop_daemon(baton, root)?;
    Ok(Timings { adds, pairs })
}

fn stop_daemon(baton: &Path, root: &Path) -> Result<()> {
    let status = Command::new(baton)
        .arg("-C")
        .arg(root)
        .args(["daemon", "stop"])
        .stdout(Stdio::null())
        .status()?;
    ensure!(status.success(), "baton daemon stop failed: {status}");
    Ok(())
}

/// `${BATON_CACHE_DIR:-$HOME/.cache/baton}/python-venv/bin/python`, made by scripts/test.sh.
fn default_python() -> PathBuf {
    let cache = std::env::var_os("BATON_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/baton")
        });
    cache.join("python-venv/bin/python")
}

fn cpu() -> String {
    let lscpu = Command::new("lscpu")
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    let model = lscpu
        .lines()
        .find_map(|line| line.strip_prefix("Model name:"))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!("{model}, {cores} cores")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// Durations of calls made one after another.
#[derive(Default)]
struct Samples {
    durations: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, duration: Duration) {
        self.durations.push(duration);
    }

    fn len(&self) -> usize {
        self.durations.len()
    }

    /// Calls per second, one after another.
    fn rate(&self) -> f64 {
        self.len() as f64 / self.durations.iter().sum::<Duration>().as_secs_f64()
    }

    fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The nearest-rank percentile.
    fn percentile(&self, percent: f64) -> Duration {
        let mut sorted = self.durations.clone();
        sorted.sort();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

fn fmt(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}
