//! `bench`: how fast baton is on this machine. Every number is measured next to a
//! baseline taken in the same run (exec of `/bin/true`, the disk's sync rate, the
//! system's round trip over a Unix socket, a request that touches no state), and the
//! whole report is printed as markdown for docs/benchmarks.md.
//!
//! It drives the release builds of `baton` and `batond`, so build them first:
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo run --release -p baton-tests --bin bench            # about 3 minutes
//! cargo run --release -p baton-tests --bin bench -- --quick # seconds
//! ```
//!
//! Each benchmark gets its own temporary workspace and daemon, started through the
//! protocol client and stopped with `baton/stopDaemon`.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use baton_daemon::core::Board;
use baton_protocol::methods::{
    self, AddTasksParams, ClaimTaskParams, CompleteTaskParams, NewTask, StateChangeReason, TaskRef,
};
use baton_protocol::{Client, ConnectConfig, Event, Task, TaskId, TaskResult};
use baton_tests::{process_exists, TestWorkspace};
use clap::{Parser, ValueEnum};

/// Measures baton against baselines taken in the same run and prints a markdown report.
#[derive(Debug, Parser)]
struct Args {
    /// Small sizes, to check that everything runs (the numbers mean little)
    #[arg(long)]
    quick: bool,
    /// Only these benchmarks (comma-separated); all by default
    #[arg(long, value_delimiter = ',')]
    only: Vec<Benchmark>,
    /// Where the release `baton` and `batond` are; by default beside this program
    #[arg(long, env = "BATON_BIN_DIR")]
    bin_dir: Option<PathBuf>,
    /// Runs of each CLI command [default: 300; quick: 30]
    #[arg(long)]
    cli_runs: Option<usize>,
    /// Tasks for claim+complete with many requests in flight [default: 40000; quick: 4000]
    #[arg(long)]
    pairs_tasks: Option<usize>,
    /// Tasks for claim+complete with one request in flight per client [default: 8000; quick: 800]
    #[arg(long)]
    serial_tasks: Option<usize>,
    /// Client connections for claim+complete
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Requests in flight per client connection for claim+complete
    #[arg(long, default_value_t = 16)]
    in_flight: usize,
    /// Tasks (with dependencies) for the benchmark at scale [default: 100000; quick: 10000]
    #[arg(long)]
    scale_tasks: Option<usize>,
    /// Tasks per `baton/addTasks` batch
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// A task depends on tasks among the this many created just before it
    #[arg(long, default_value_t = 1000)]
    window: usize,
    /// Requests timed for each latency at scale [default: 2000; quick: 200]
    #[arg(long)]
    samples: Option<usize>,
    /// Write+sync operations timed for the disk baseline [default: 2000; quick: 200]
    #[arg(long)]
    sync_ops: Option<usize>,
    /// Connections watching every event while claim+complete pairs run
    #[arg(long, default_value_t = 20)]
    watchers: usize,
    /// Tasks for claim+complete under watchers [default: 10000; quick: 1000]
    #[arg(long)]
    watched_tasks: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Benchmark {
    Cli,
    Throughput,
    Scale,
    Memory,
    Watchers,
}

/// The sizes of one run, after `--quick` and the flags.
struct Sizes {
    cli_runs: usize,
    pairs_tasks: usize,
    serial_tasks: usize,
    clients: usize,
    in_flight: usize,
    scale_tasks: usize,
    batch: usize,
    window: usize,
    samples: usize,
    sync_ops: usize,
    watchers: usize,
    watched_tasks: usize,
}

impl Sizes {
    fn from(args: &Args) -> Sizes {
        let pick = |flag: Option<usize>, full: usize, quick: usize| {
            flag.unwrap_or(if args.quick { quick } else { full })
        };
        Sizes {
            cli_runs: pick(args.cli_runs, 300, 30),
            pairs_tasks: pick(args.pairs_tasks, 40_000, 4_000),
            serial_tasks: pick(args.serial_tasks, 8_000, 800),
            clients: args.clients.max(1),
            in_flight: args.in_flight.max(1),
            scale_tasks: pick(args.scale_tasks, 100_000, 10_000),
            batch: args.batch.max(1),
            window: args.window.max(1),
            samples: pick(args.samples, 2_000, 200),
            sync_ops: pick(args.sync_ops, 2_000, 200),
            watchers: args.watchers,
            watched_tasks: pick(args.watched_tasks, 10_000, 1_000),
        }
    }
}

/// Set in the environment of the bench run as the other end of the socket baseline.
const ECHO: &str = "BATON_BENCH_ECHO";

fn main() -> Result<()> {
    if std::env::var_os(ECHO).is_some() {
        return echo();
    }
    let args = Args::parse();
    let sizes = Sizes::from(&args);
    let bins = Binaries::find(args.bin_dir.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let selected = |benchmark| args.only.is_empty() || args.only.contains(&benchmark);

    let load_before = load_average();
    let busy_before = machine_busy();
    let started = Instant::now();
    let mut report = Vec::new();
    let mut memory_at_scale = None;
    // The disk baseline serves the throughput and the claim latency at scale.
    let disk = (selected(Benchmark::Throughput) || selected(Benchmark::Scale))
        .then(|| {
            progress("disk: write+sync baselines");
            DiskBaseline::measure(sizes.sync_ops)
        })
        .transpose()?;
    if selected(Benchmark::Cli) {
        report.push(runtime.block_on(cli_latency(&bins, &sizes))?);
    }
    if let (true, Some(disk)) = (selected(Benchmark::Throughput), &disk) {
        report.push(runtime.block_on(throughput(&bins, &sizes, disk))?);
    }
    if let (true, Some(disk)) = (selected(Benchmark::Scale), &disk) {
        let (section, memory) = runtime.block_on(at_scale(&bins, &sizes, disk))?;
        report.push(section);
        memory_at_scale = Some(memory);
    }
    if selected(Benchmark::Memory) {
        report.push(runtime.block_on(memory(&bins, &sizes, memory_at_scale))?);
    }
    if selected(Benchmark::Watchers) {
        report.push(runtime.block_on(watched(&bins, &sizes))?);
    }
    let load_after = load_average();
    let others = machine_busy()
        .saturating_sub(busy_before)
        .saturating_sub(own_cpu());

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        machine(
            &args,
            [&load_before, &load_after],
            others,
            started.elapsed()
        )
    )?;
    for section in report {
        writeln!(out, "{section}")?;
    }
    Ok(())
}

fn progress(what: &str) {
    eprintln!("bench: {what}");
}

// ---- the binaries and daemons under test ----

struct Binaries {
    baton: PathBuf,
    batond: PathBuf,
}

impl Binaries {
    /// `--bin-dir`, or the directory of this program (target/release).
    fn find(dir: Option<PathBuf>) -> Result<Binaries> {
        let dir = match dir {
            Some(dir) => dir,
            None => std::env::current_exe()?
                .parent()
                .context("this program has a directory")?
                .to_owned(),
        };
        let bins = Binaries {
            baton: dir.join("baton"),
            batond: dir.join("batond"),
        };
        for binary in [&bins.baton, &bins.batond] {
            ensure!(
                binary.exists(),
                "{} is missing; build the release binaries first (`cargo build --release --workspace --bins`)",
                binary.display()
            );
        }
        Ok(bins)
    }
}

/// A daemon of its own, on a temporary workspace.
struct Daemon {
    workspace: TestWorkspace,
    client: Arc<Client>,
    pid: u32,
}

impl Daemon {
    async fn start(bins: &Binaries) -> Result<Daemon> {
        Daemon::start_in(TestWorkspace::new(), bins).await
    }

    /// Starts the daemon of a workspace that may hold state already.
    async fn start_in(workspace: TestWorkspace, bins: &Binaries) -> Result<Daemon> {
        let client = connect(&workspace, Some(bins)).await?;
        let pid = client.request::<methods::DaemonInfo>(&()).await?.pid;
        Ok(Daemon {
            workspace,
            client: Arc::new(client),
            pid,
        })
    }

    /// Another connection to the same daemon.
    async fn connect(&self) -> Result<Client> {
        connect(&self.workspace, None).await
    }

    /// Another connection to the same daemon, sent every event.
    async fn watch(&self) -> Result<Client> {
        let config = ConnectConfig {
            events: true,
            ..ConnectConfig::default()
        };
        Client::connect(&self.workspace.workspace(), &config)
            .await
            .context("connecting a watcher")
    }

    /// Stops the daemon and waits until its process is gone; keeps the workspace.
    async fn stop(self) -> Result<TestWorkspace> {
        DAEMONS_CPU.fetch_add(self.cpu().as_nanos() as u64, Ordering::Relaxed);
        self.client.request::<methods::StopDaemon>(&()).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while process_exists(self.pid) {
            ensure!(
                Instant::now() < deadline,
                "batond {} did not stop within 30 s",
                self.pid
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(self.workspace)
    }

    fn memory(&self) -> Result<Memory> {
        Memory::of(self.pid)
    }

    /// CPU time the daemon has used so far, all its threads.
    fn cpu(&self) -> Duration {
        cpu_time(self.pid)
    }

    async fn add(&self, tasks: Vec<NewTask>) -> Result<Vec<Task>> {
        Ok(self
            .client
            .request::<methods::AddTasks>(&AddTasksParams { tasks })
            .await?)
    }
}

/// Connects to the workspace's daemon; with `bins`, starts it when none runs.
async fn connect(workspace: &TestWorkspace, start: Option<&Binaries>) -> Result<Client> {
    let config = ConnectConfig {
        start: start.is_some(),
        daemon: start.map(|bins| bins.batond.clone()),
        ..ConnectConfig::default()
    };
    Client::connect(&workspace.workspace(), &config)
        .await
        .with_context(|| format!("connecting to the daemon of {}", workspace.root().display()))
}

// ---- 1. the CLI ----

async fn cli_latency(bins: &Binaries, sizes: &Sizes) -> Result<String> {
    progress(&format!(
        "cli: {} runs each of /bin/true, baton --version, baton status, baton add",
        sizes.cli_runs
    ));
    let daemon = Daemon::start(bins).await?;
    let root = daemon.workspace.root().to_owned();
    let baton = bins.baton.clone();
    let runs = sizes.cli_runs;
    let samples = tokio::task::spawn_blocking(move || -> Result<[Samples; 4]> {
        let root = root.as_os_str();
        let commands: [(&Path, Vec<&OsStr>); 4] = [
            (Path::new("/bin/true"), vec![]),
            (&baton, vec!["--version".as_ref()]),
            (&baton, vec!["-C".as_ref(), root, "status".as_ref()]),
            (
                &baton,
                vec!["-C".as_ref(), root, "add".as_ref(), "x".as_ref()],
            ),
        ];
        let mut samples: [Samples; 4] = Default::default();
        // Interleaved, so that a burst of load elsewhere hits every command alike.
        let warmup = 10.min(runs);
        for run in 0..warmup + runs {
            for (index, (program, args)) in commands.iter().enumerate() {
                let took = exec(program, args)?;
                if run >= warmup {
                    samples[index].push(took);
                }
            }
        }
        Ok(samples)
    })
    .await??;
    daemon.stop().await?;

    let [truth, version, status, add] = samples;
    let baseline = truth.median();
    let ratio = |samples: &Samples| {
        format!(
            "{:.1}×",
            samples.median().as_secs_f64() / baseline.as_secs_f64()
        )
    };
    let mut out = String::new();
    out += "## 1. A whole CLI call against a running daemon\n\n";
    out += &format!(
        "Each command spawned {runs} times (after 10 unmeasured runs), interleaved, \
         output to /dev/null, timed from spawn to exit. `baton add` includes its durable write.\n\n"
    );
    out += "| command | median | p99 | median ÷ `/bin/true` | aim |\n";
    out += "|---|---:|---:|---:|---|\n";
    out += &format!(
        "| `/bin/true` (baseline) | {} | {} | 1.0× | |\n",
        fmt(truth.median()),
        fmt(truth.p99())
    );
    out += &format!(
        "| `baton --version` (no daemon contact) | {} | {} | {} | |\n",
        fmt(version.median()),
        fmt(version.p99()),
        ratio(&version)
    );
    for (name, samples) in [("`baton status`", &status), ("`baton add \"x\"`", &add)] {
        out += &format!(
            "| {name} | {} | {} | {} | < 3× |\n",
            fmt(samples.median()),
            fmt(samples.p99()),
            ratio(samples)
        );
    }
    Ok(out)
}

/// Spawns `program args`, waits for it and answers how long that took.
fn exec(program: &Path, args: &[&OsStr]) -> Result<Duration> {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {}", program.display()))?;
    let took = start.elapsed();
    ensure!(
        status.success(),
        "{} {args:?} failed: {status}",
        program.display()
    );
    Ok(took)
}

// ---- the disk ----

/// How fast this disk makes a small write durable, measured on the filesystem that
/// holds the temporary workspaces.
struct DiskBaseline {
    /// write + fsync
    fsync: Samples,
    /// write + sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER): what sled's flush
    /// does on Linux
    range: Samples,
    /// a 400-byte record inserted in sled, configured as the daemon's store, then
    /// flushed: the store library's own durable write, below which no durable
    /// request can go
    store: Samples,
    /// The CPU time one write + sync_file_range takes: on a virtual machine the disk's
    /// notifications cost the caller's CPU, as they do the daemon's.
    range_cpu: Duration,
    /// Where the workspaces live: mount point, filesystem and device.
    filesystem: String,
}

impl DiskBaseline {
    fn measure(ops: usize) -> Result<DiskBaseline> {
        let dir = tempfile::tempdir()?;
        let fsync = sync_loop(dir.path(), ops, |file| Ok(file.sync_all()?))?;
        let cpu_before = thread_cpu();
        let range = sync_loop(dir.path(), ops, sync_file_range)?;
        let range_cpu = (thread_cpu() - cpu_before) / ops.max(1) as u32;
        let store = store_loop(dir.path(), ops)?;
        Ok(DiskBaseline {
            fsync,
            range,
            store,
            range_cpu,
            filesystem: filesystem_of(dir.path()),
        })
    }

    fn describe(&self) -> String {
        format!(
            "| write 512 B + fsync | {}/s | {} | {} |\n\
             | write 512 B + sync_file_range (what sled's flush does on Linux) | {}/s | {} | {} |\n\
             | sled insert 400 B + flush (the store library's own durable write) | {}/s | {} | {} |\n",
            thousands(self.fsync.rate() as u64),
            fmt(self.fsync.median()),
            fmt(self.fsync.p99()),
            thousands(self.range.rate() as u64),
            fmt(self.range.median()),
            fmt(self.range.p99()),
            thousands(self.store.rate() as u64),
            fmt(self.store.median()),
            fmt(self.store.p99()),
        )
    }
}

/// Appends 512 bytes and syncs, `ops` times, on a fresh file in `dir`.
fn sync_loop(
    dir: &Path,
    ops: usize,
    sync: impl Fn(&std::fs::File) -> Result<()>,
) -> Result<Samples> {
    let mut file = tempfile::tempfile_in(dir)?;
    let block = [b'x'; 512];
    let mut samples = Samples::default();
    for _ in 0..ops {
        let start = Instant::now();
        file.write_all(&block)?;
        sync(&file)?;
        samples.push(start.elapsed());
    }
    Ok(samples)
}

/// Inserts a 400-byte record and flushes, `ops` times, in a fresh sled database in
/// `dir` configured as the daemon's store. Each record differs from the last: sled
/// writes nothing for a value it already holds.
fn store_loop(dir: &Path, ops: usize) -> Result<Samples> {
    let db = baton_daemon::store::database(&dir.join("sled")).open()?;
    let mut record = [b'x'; 400];
    let mut samples = Samples::default();
    for n in 0..ops as u64 {
        record[..8].copy_from_slice(&n.to_be_bytes());
        let start = Instant::now();
        db.insert((n % 1000).to_be_bytes(), &record[..])?;
        db.flush()?;
        samples.push(start.elapsed());
    }
    Ok(samples)
}

fn sync_file_range(file: &std::fs::File) -> Result<()> {
    use std::os::unix::io::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    // SAFETY: the descriptor is open for the whole call; no memory is passed.
    let done = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, flags) };
    ensure!(
        done == 0,
        "sync_file_range: {}",
        std::io::Error::last_os_error()
    );
    Ok(())
}

/// The CPU time this thread has used, to the nanosecond.
fn thread_cpu() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `now`, which outlives the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// "ext4 on /dev/vda (/)": the mount that holds `path`.
fn filesystem_of(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    mounts
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 3 && path.starts_with(fields[1]))
                .then(|| (fields[1], fields[2], fields[0]))
        })
        .max_by_key(|(point, _, _)| point.len())
        .map(|(point, kind, device)| format!("{kind} on {device} (mounted at {point})"))
        .unwrap_or_else(|| "unknown filesystem".into())
}

// ---- 2. claim+complete throughput ----

/// One claim+complete run: who took part and what came of it.
struct PairsRun {
    clients: usize,
    in_flight: usize,
    tasks: usize,
    elapsed: Duration,
    pairs: Samples,
    daemon_cpu: Duration,
    /// Write system calls the daemon made during the run (socket replies and disk).
    daemon_writes: u64,
    /// How long after the last reply the last watcher had every event.
    delivered: Option<Duration>,
    /// Watchers told they missed events.
    missed: usize,
}

impl PairsRun {
    fn rate(&self) -> f64 {
        self.tasks as f64 / self.elapsed.as_secs_f64()
    }
}

async fn throughput(bins: &Binaries, sizes: &Sizes, disk: &DiskBaseline) -> Result<String> {
    let runs = [
        (sizes.clients, sizes.in_flight, sizes.pairs_tasks),
        (sizes.clients, 1, sizes.serial_tasks),
        (1, 1, sizes.serial_tasks / 4),
    ];
    let mut results = Vec::new();
    for (clients, in_flight, tasks) in runs {
        progress(&format!(
            "throughput: {tasks} claim+complete pairs, {clients} clients × {in_flight} in flight"
        ));
        results.push(claim_complete(bins, clients, in_flight, tasks, sizes.batch, 0).await?);
    }

    let mut out = String::new();
    out += "## 2. Durable claim+complete pairs through the socket\n\n";
    out += "Every reply comes after its write is flushed. The tasks (no dependencies) are \
            added first in batches; then each client connection runs its requests in flight \
            as concurrent tasks, each claiming a task and completing it until the queue is \
            empty. A pair's latency runs from sending the claim to the completion's reply.\n\n";
    out += "Baseline, the same disk, one small write made durable at a time:\n\n";
    out += "| operation | rate | median | p99 |\n|---|---:|---:|---:|\n";
    out += &disk.describe();
    out += &format!(
        "\nThe temporary workspaces live on {}.\n\n",
        disk.filesystem
    );
    out += "| clients × in flight | pairs | pairs/s | pair median | pair p99 | daemon CPU per pair | daemon write calls per pair | aim |\n";
    out += "|---|---:|---:|---:|---:|---:|---:|---|\n";
    for run in &results {
        let aim = if run.in_flight > 1 {
            "20,000/s on 2 cores"
        } else {
            ""
        };
        out += &format!(
            "| {} × {} | {} | {} | {} | {} | {} | {:.1} | {aim} |\n",
            run.clients,
            run.in_flight,
            thousands(run.tasks as u64),
            thousands(run.rate() as u64),
            fmt(run.pairs.median()),
            fmt(run.pairs.p99()),
            fmt(run.daemon_cpu / run.tasks.max(1) as u32),
            run.daemon_writes as f64 / run.tasks.max(1) as f64,
        );
    }
    out += "\nA pair is two durable writes (claim, complete) and two replies. The write \
            calls are the daemon's `write`-family system calls (`syscw` in /proc/PID/io): \
            its writes to the state database, and the eventfd writes by which its threads \
            wake each other, which add up when it is not busy. Replies leave through \
            `sendto`, which `syscw` does not count.\n";
    Ok(out)
}

async fn watched(bins: &Binaries, sizes: &Sizes) -> Result<String> {
    let tasks = sizes.watched_tasks;
    let mut out = String::new();
    out += "## 5. Durable claim+complete pairs with watchers\n\n";
    out += &format!(
        "{} × {} pairs of {tasks} tasks as in section 2, without watchers (the baseline) \
         and with connections sent every event, each counting the completions. The \
         delivery is how long after the last reply the last watcher had every event.\n\n",
        sizes.clients, sizes.in_flight
    );
    out += "| watchers | pairs/s | pair median | daemon CPU per pair | every event delivered after the last reply | watchers that missed events |\n";
    out += "|---:|---:|---:|---:|---:|---:|\n";
    for watchers in [0, sizes.watchers] {
        progress(&format!(
            "watchers: {tasks} claim+complete pairs, {watchers} watchers"
        ));
        let run = claim_complete(
            bins,
            sizes.clients,
            sizes.in_flight,
            tasks,
            sizes.batch,
            watchers,
        )
        .await?;
        out += &format!(
            "| {watchers} | {} | {} | {} | {} | {} |\n",
            thousands(run.rate() as u64),
            fmt(run.pairs.median()),
            fmt(run.daemon_cpu / run.tasks.max(1) as u32),
            run.delivered.map(fmt).unwrap_or_else(|| "-".into()),
            run.missed,
        );
    }
    Ok(out)
}

async fn claim_complete(
    bins: &Binaries,
    clients: usize,
    in_flight: usize,
    tasks: usize,
    batch: usize,
    watchers: usize,
) -> Result<PairsRun> {
    let daemon = Daemon::start(bins).await?;
    let mut added = 0;
    while added < tasks {
        let size = batch.min(tasks - added);
        let batch = (added..added + size)
            .map(|n| NewTask::new(format!("task {n}")))
            .collect();
        daemon.add(batch).await?;
        added += size;
    }
    let mut connections = Vec::new();
    for _ in 0..clients {
        connections.push(Arc::new(daemon.connect().await?));
    }
    let mut watching = tokio::task::JoinSet::new();
    for _ in 0..watchers {
        watching.spawn(watch_completions(daemon.watch().await?, tasks));
    }

    let cpu_before = daemon.cpu();
    let writes_before = write_calls(daemon.pid);
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for (client_index, client) in connections.iter().enumerate() {
        for worker in 0..in_flight {
            let client = client.clone();
            let agent = format!("agent-{client_index}-{worker}");
            workers.spawn(claim_until_empty(client, agent));
        }
    }
    let mut pairs = Samples::default();
    while let Some(done) = workers.join_next().await {
        pairs.extend(done??);
    }
    let elapsed = start.elapsed();
    let replied = Instant::now();
    let mut delivered = Vec::new();
    let mut missed = 0;
    while let Some(watched) = tokio::time::timeout(Duration::from_secs(120), watching.join_next())
        .await
        .context("a watcher was sent nothing for 2 minutes")?
    {
        match watched?? {
            Some(at) => delivered.push(at.saturating_duration_since(replied)),
            None => missed += 1,
        }
    }
    let daemon_cpu = daemon.cpu().saturating_sub(cpu_before);
    let daemon_writes = write_calls(daemon.pid).saturating_sub(writes_before);

    let status = daemon.client.request::<methods::GetStatus>(&()).await?;
    ensure!(
        status.progress.by_status.done == tasks && pairs.len() == tasks,
        "expected {tasks} tasks done, the daemon says {} and the clients counted {}",
        status.progress.by_status.done,
        pairs.len()
    );
    drop(connections);
    daemon.stop().await?;
    Ok(PairsRun {
        clients,
        in_flight,
        tasks,
        elapsed,
        pairs,
        daemon_cpu,
        daemon_writes,
        delivered: delivered.into_iter().max(),
        missed,
    })
}

/// Reads a watcher's events until it has seen `tasks` completions; answers when, or
/// `None` when it was told it missed some.
async fn watch_completions(mut client: Client, tasks: usize) -> Result<Option<Instant>> {
    let mut events = client.take_events().context("events were asked for")?;
    let mut completed = 0;
    while completed < tasks {
        match events
            .recv()
            .await
            .context("a watcher's connection closed")?
        {
            Event::TaskCompleted(_) => completed += 1,
            Event::StateChanged(change) if change.reason == StateChangeReason::Resync => {
                return Ok(None)
            }
            _ => {}
        }
    }
    Ok(Some(Instant::now()))
}

/// Claims and completes tasks until none is ready; answers each pair's latency.
async fn claim_until_empty(client: Arc<Client>, agent: String) -> Result<Samples> {
    let mut pairs = Samples::default();
    loop {
        let start = Instant::now();
        let claim = ClaimTaskParams {
            agent_id: agent.clone(),
        };
        let Some(task) = client.request::<methods::ClaimTask>(&claim).await? else {
            return Ok(pairs);
        };
        let complete = CompleteTaskParams {
            task_id: task.id,
            result: TaskResult::default(),
        };
        client.request::<methods::CompleteTask>(&complete).await?;
        pairs.push(start.elapsed());
    }
}

// ---- 3. at scale ----

/// Requests sent one at a time: each one's latency, and the daemon's CPU time for all.
struct Latency {
    samples: Samples,
    cpu: Duration,
}

impl Latency {
    fn start(daemon: &Daemon) -> Latency {
        Latency {
            samples: Samples::default(),
            cpu: daemon.cpu(),
        }
    }

    fn push(&mut self, began: Instant) {
        self.samples.push(began.elapsed());
    }

    fn stop(mut self, daemon: &Daemon) -> Latency {
        self.cpu = daemon.cpu().saturating_sub(self.cpu);
        self
    }

    fn cpu_per_request(&self) -> Duration {
        self.cpu / self.samples.len().max(1) as u32
    }
}

/// What the daemon holds after the benchmark at scale, for the memory report.
struct MemoryAtScale {
    /// The core's board with all the tasks, in this process.
    board_bytes: u64,
    tasks: usize,
    after_adding: Memory,
    /// The same daemon once it has been quiet for a while.
    settled: Memory,
    /// The daemon started again on the same store.
    restarted: Restarted,
    /// The tasks as the daemon stores them (JSON), in bytes.
    json_bytes: usize,
    /// Every task asked for at once.
    listing: Listing,
}

/// What answering `baton/listTasks` for every task cost the daemon and the client
/// (this process), as the growth of each one's peak.
#[derive(Debug, Clone, Copy)]
struct Listing {
    answer_bytes: u64,
    daemon_grew: u64,
    client_grew: u64,
}

/// Every task asked for at once, each process's peak reset first (`clear_refs`).
async fn listing(daemon: &Daemon) -> Result<Listing> {
    let reset = |pid: u32| std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    reset(daemon.pid).context("resetting the daemon's peak")?;
    reset(std::process::id()).context("resetting this process's peak")?;
    let (daemon_before, client_before) = (daemon.memory()?, Memory::of(std::process::id())?);
    let tasks = daemon
        .client
        .request::<methods::ListTasks>(&methods::ListTasksParams { status: None })
        .await?;
    let client_grew = Memory::of(std::process::id())?
        .hwm
        .saturating_sub(client_before.rss);
    let daemon_grew = daemon.memory()?.hwm.saturating_sub(daemon_before.rss);
    Ok(Listing {
        answer_bytes: serde_json::to_vec(&tasks)?.len() as u64,
        daemon_grew,
        client_grew,
    })
}

async fn at_scale(
    bins: &Binaries,
    sizes: &Sizes,
    disk: &DiskBaseline,
) -> Result<(String, MemoryAtScale)> {
    let batches = dependent_batches(sizes.scale_tasks, sizes.batch, sizes.window);
    let daemon = Daemon::start(bins).await?;

    progress(&format!(
        "scale: adding {} tasks with dependencies in batches of {}",
        sizes.scale_tasks, sizes.batch
    ));
    let mut adding = Samples::default();
    let mut json_bytes = 0;
    let cpu_before = daemon.cpu();
    let start = Instant::now();
    for batch in &batches {
        let began = Instant::now();
        let added = daemon.add(batch.clone()).await?;
        adding.push(began.elapsed());
        json_bytes += json_size(&added);
    }
    let adding_total = start.elapsed();
    let adding_cpu = daemon.cpu().saturating_sub(cpu_before);
    let after_adding = daemon.memory()?;
    let settled = settled(&daemon).await?;
    let listing = listing(&daemon).await?;

    progress(&format!(
        "scale: {} × baton/status and baton/daemonInfo",
        sizes.samples
    ));
    let round_trips = socket_round_trips(sizes.samples)?;
    let client = &daemon.client;
    let mut info = Latency::start(&daemon);
    for _ in 0..sizes.samples {
        let began = Instant::now();
        client.request::<methods::DaemonInfo>(&()).await?;
        info.push(began);
    }
    let info = info.stop(&daemon);
    let mut status = Latency::start(&daemon);
    for _ in 0..sizes.samples {
        let began = Instant::now();
        let answer = client.request::<methods::GetStatus>(&()).await?;
        status.push(began);
        ensure!(answer.progress.total_tasks == sizes.scale_tasks);
    }
    let status = status.stop(&daemon);
    let mut get_task = Latency::start(&daemon);
    for n in 0..sizes.samples {
        let task_id = TaskId::numbered((n * 7919 % sizes.scale_tasks) as u64 + 1);
        let began = Instant::now();
        client
            .request::<methods::GetTask>(&TaskRef { task_id })
            .await?;
        get_task.push(began);
    }
    let get_task = get_task.stop(&daemon);

    progress(&format!(
        "scale: {} × claim, then as many × complete, one at a time",
        sizes.samples
    ));
    let mut claims = Latency::start(&daemon);
    let mut claimed = Vec::new();
    for _ in 0..sizes.samples {
        let claim = ClaimTaskParams {
            agent_id: "agent-1".into(),
        };
        let began = Instant::now();
        let task = client.request::<methods::ClaimTask>(&claim).await?;
        claims.push(began);
        let task = task.context("the ready queue ran dry; use fewer --samples")?;
        claimed.push(task.id);
    }
    let claims = claims.stop(&daemon);
    let mut completes = Latency::start(&daemon);
    for task_id in claimed {
        let complete = CompleteTaskParams {
            task_id,
            result: TaskResult::default(),
        };
        let began = Instant::now();
        client.request::<methods::CompleteTask>(&complete).await?;
        completes.push(began);
    }
    let completes = completes.stop(&daemon);

    progress("scale: restarting the daemon on the full database");
    let restarted = restart(daemon, bins, sizes.scale_tasks).await?;

    progress("scale: the same work in-process, on the core alone");
    let core = core_only(&batches, sizes.samples)?;

    let tasks = thousands(sizes.scale_tasks as u64);
    let tenth = (adding.len() / 10).max(1);
    let mut out = String::new();
    out += &format!("## 3. At scale: {tasks} tasks with dependencies\n\n");
    out += &format!(
        "Tasks are added in batches of {} through `baton/addTasks`. One task in ten has no \
         dependency; the others depend on one or two tasks picked at random among the {} \
         created just before. Requests are then sent one at a time on one connection. \
         \"Core only\" repeats the same operations in this process on the daemon's \
         `Board`, with no socket, serialization or disk: the in-memory part.\n\n",
        thousands(sizes.batch as u64),
        thousands(sizes.window as u64)
    );
    out += "| adding | per batch median | per batch p99 | first tenth median | last tenth median | total | daemon CPU |\n";
    out += "|---|---:|---:|---:|---:|---:|---:|\n";
    out += &format!(
        "| through the daemon (durable) | {} | {} | {} | {} | {} | {} |\n",
        fmt(adding.median()),
        fmt(adding.p99()),
        fmt(adding.first(tenth).median()),
        fmt(adding.last(tenth).median()),
        fmt(adding_total),
        fmt(adding_cpu),
    );
    for (name, samples) in [
        ("core only", &core.adding),
        (
            "core only, each batch then one claim (which settles the chains)",
            &core.adding_then_claiming,
        ),
        (
            "core only, the same tasks without dependencies (baseline)",
            &core.adding_independent,
        ),
    ] {
        out += &format!(
            "| {name} | {} | {} | {} | {} | {} | |\n",
            fmt(samples.median()),
            fmt(samples.p99()),
            fmt(samples.first(tenth).median()),
            fmt(samples.last(tenth).median()),
            fmt(samples.total()),
        );
    }
    out += &format!(
        "\n| request at {tasks} tasks | median | p99 | daemon CPU per request | aim |\n\
         |---|---:|---:|---:|---|\n"
    );
    out += &format!(
        "| 150 B echoed by another process over a Unix socket (baseline: the system's round \
         trip, which no daemon beats) | {} | {} | | |\n",
        fmt(round_trips.median()),
        fmt(round_trips.p99())
    );
    let rows = [
        (
            "`baton/daemonInfo` (baseline: a round trip that reads no state)",
            &info,
            "",
        ),
        ("`baton/getTask` (one task)", &get_task, ""),
        ("`baton/status`", &status, "< 1 ms"),
        ("`baton/claimTask`, durable", &claims, "< 100 µs"),
        ("`baton/completeTask`, durable", &completes, ""),
    ];
    for (name, latency, aim) in rows {
        out += &format!(
            "| {name} | {} | {} | {} | {aim} |\n",
            fmt(latency.samples.median()),
            fmt(latency.samples.p99()),
            fmt(latency.cpu_per_request()),
        );
    }
    out += &format!(
        "| claim, core only (`Board::claim`, in memory) | {} | {} | | < 100 µs |\n",
        fmt(core.claims.median()),
        fmt(core.claims.p99())
    );
    out += &format!(
        "| the first claim after the {tasks} adds, core only (settles the chains they changed) | {} | | | |\n",
        fmt(core.first_claim)
    );
    out += &format!(
        "| a snapshot's copy of the {tasks} tasks, core only (`Board::state`, the state lock held meanwhile) | {} | {} | | |\n",
        fmt(core.snapshot_copies.median()),
        fmt(core.snapshot_copies.p99())
    );
    out += &format!(
        "| write 512 B + sync_file_range (baseline: the disk's part of a durable write; CPU: the writer's own) | {} | {} | {} | |\n\
         | sled insert 400 B + flush (baseline: the store library's own durable write) | {} | {} | | |\n",
        fmt(disk.range.median()),
        fmt(disk.range.p99()),
        fmt(disk.range_cpu),
        fmt(disk.store.median()),
        fmt(disk.store.p99())
    );
    out += "\nEvery claim that hands out a task waits for its flush; there is no non-durable \
            claim to time (one that finds no ready task writes nothing, but that is other \
            work). The in-memory part of a claim is therefore shown by the core alone and by \
            the daemon's CPU time. CPU times come from /proc/PID/stat in 10 ms ticks, so a \
            per-request figure is good to about 10 ms divided by the number of requests.\n";

    let memory = MemoryAtScale {
        board_bytes: core.board_bytes,
        tasks: sizes.scale_tasks,
        after_adding,
        settled,
        restarted,
        json_bytes,
        listing,
    };
    Ok((out, memory))
}

/// The system's part of any request: `count` messages of 150 bytes, about a claim's,
/// each sent to another process over a Unix socket and read back.
fn socket_round_trips(count: usize) -> Result<Samples> {
    let (mut ours, theirs) = UnixStream::pair()?;
    let mut echo = Command::new(std::env::current_exe()?)
        .env(ECHO, "1")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .context("starting the echo process")?;
    let message = [b'x'; 150];
    let mut back = [0; 150];
    let mut samples = Samples::default();
    for _ in 0..count {
        let began = Instant::now();
        ours.write_all(&message)?;
        ours.read_exact(&mut back)?;
        samples.push(began.elapsed());
    }
    drop(ours);
    echo.wait()?;
    Ok(samples)
}

/// The other end of `socket_round_trips`: sends back what it reads on its standard
/// input, a socket, until the socket closes.
fn echo() -> Result<()> {
    let mut socket = UnixStream::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let mut buffer = [0; 4096];
    loop {
        let read = socket.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        socket.write_all(&buffer[..read])?;
    }
}

/// The tasks' size as the JSON the daemon stores.
fn json_size(tasks: &[Task]) -> usize {
    tasks
        .iter()
        .map(|task| serde_json::to_vec(task).map_or(0, |bytes| bytes.len()))
        .sum()
}

/// A daemon started again on the state another left.
struct Restarted {
    memory: Memory,
    /// From the start until the daemon answered.
    took: Duration,
    /// The state database on disk, in bytes.
    disk_bytes: u64,
}

/// Stops `daemon`, starts another on its workspace and checks it serves `tasks` tasks.
async fn restart(daemon: Daemon, bins: &Binaries, tasks: usize) -> Result<Restarted> {
    let workspace = daemon.stop().await?;
    let disk_bytes = directory_size(&workspace.workspace().store_dir());
    let began = Instant::now();
    let restarted = Daemon::start_in(workspace, bins).await?;
    let took = began.elapsed();
    let answer = restarted.client.request::<methods::GetStatus>(&()).await?;
    ensure!(answer.progress.total_tasks == tasks);
    let memory = restarted.memory()?;
    restarted.stop().await?;
    Ok(Restarted {
        memory,
        took,
        disk_bytes,
    })
}

/// The daemon's memory at scale on its own, when the benchmark at scale does not
/// run: the same batches added through the protocol, then a restart.
async fn memory_at_scale(bins: &Binaries, sizes: &Sizes) -> Result<MemoryAtScale> {
    let batches = dependent_batches(sizes.scale_tasks, sizes.batch, sizes.window);
    let daemon = Daemon::start(bins).await?;
    progress(&format!(
        "memory: adding {} tasks with dependencies in batches of {}",
        sizes.scale_tasks, sizes.batch
    ));
    let mut json_bytes = 0;
    for batch in &batches {
        json_bytes += json_size(&daemon.add(batch.clone()).await?);
    }
    let after_adding = daemon.memory()?;
    let settled = settled(&daemon).await?;
    progress("memory: every task asked for at once");
    let listing = listing(&daemon).await?;
    progress("memory: restarting the daemon on the full database");
    let restarted = restart(daemon, bins, sizes.scale_tasks).await?;
    progress("memory: the same tasks on the core alone");
    let rss_before = Memory::of(std::process::id())?.rss;
    let (_, board) = fill_board(&batches)?;
    let board_bytes = Memory::of(std::process::id())?
        .rss
        .saturating_sub(rss_before);
    drop(board);
    Ok(MemoryAtScale {
        board_bytes,
        tasks: sizes.scale_tasks,
        after_adding,
        settled,
        restarted,
        json_bytes,
        listing,
    })
}

/// The daemon's memory once it has had no request for 2.5 s: what it keeps, rather
/// than what its last requests left to be given back (it does so after a second
/// without a write).
async fn settled(daemon: &Daemon) -> Result<Memory> {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    daemon.memory()
}

/// `tasks` new tasks in batches: one in ten without dependencies, the others on one
/// or two of the `window` tasks created just before. Ids are predicted as the daemon
/// gives them (task-001 first).
fn dependent_batches(tasks: usize, batch: usize, window: usize) -> Vec<Vec<NewTask>> {
    let mut random = SplitMix(0x5eed);
    let all: Vec<NewTask> = (1..=tasks as u64)
        .map(|number| {
            let mut task = NewTask::new(format!("task number {number}"));
            if number > 1 && random.below(10) != 0 {
                let earliest = number.saturating_sub(window as u64).max(1);
                let span = number - earliest;
                for _ in 0..1 + random.below(2) {
                    let dependency = TaskId::numbered(earliest + random.below(span));
                    if !task.dependencies.contains(&dependency) {
                        task.dependencies.push(dependency);
                    }
                }
            }
            task
        })
        .collect();
    all.chunks(batch).map(<[NewTask]>::to_vec).collect()
}

struct CoreOnly {
    adding: Samples,
    /// The same number of tasks in the same batches, without dependencies.
    adding_independent: Samples,
    claims: Samples,
    /// The first claim after all the batches: it settles the chains they changed.
    first_claim: Duration,
    /// Copies of the whole board as a snapshot takes them.
    snapshot_copies: Samples,
    /// Each batch followed by one claim, which settles the chains every time.
    adding_then_claiming: Samples,
    /// What this process's resident memory grew by while the board filled up.
    board_bytes: u64,
}

/// The same batches and claims on a `Board` in this process: no socket, no JSON, no disk.
fn core_only(batches: &[Vec<NewTask>], samples: usize) -> Result<CoreOnly> {
    let independent: Vec<Vec<NewTask>> = batches
        .iter()
        .map(|batch| {
            let mut batch = batch.clone();
            batch.iter_mut().for_each(|task| task.dependencies.clear());
            batch
        })
        .collect();
    let (adding_independent, _) = fill_board(&independent)?;
    let rss_before = Memory::of(std::process::id())?.rss;
    let (adding, mut board) = fill_board(batches)?;
    let board_bytes = Memory::of(std::process::id())?
        .rss
        .saturating_sub(rss_before);
    let mut claims = Samples::default();
    for _ in 0..samples {
        let now = chrono::Utc::now();
        let began = Instant::now();
        let (task, _) = board.claim("agent-1", now)?;
        claims.push(began.elapsed());
        let task = task.context("the ready queue ran dry")?;
        board.complete(&task.id, TaskResult::default(), now)?;
    }
    let first_claim = claims.durations.first().copied().unwrap_or_default();
    // What a snapshot holds the state lock for: a copy of the whole board.
    let mut snapshot_copies = Samples::default();
    for _ in 0..5 {
        let began = Instant::now();
        let state = board.state();
        snapshot_copies.push(began.elapsed());
        drop(state);
    }
    drop(board);
    let mut board = Board::default();
    let mut adding_then_claiming = Samples::default();
    for batch in batches {
        let now = chrono::Utc::now();
        let batch = batch.clone();
        let began = Instant::now();
        board.add_tasks(batch, now)?;
        board.claim("agent-1", now)?;
        adding_then_claiming.push(began.elapsed());
    }
    Ok(CoreOnly {
        adding,
        adding_independent,
        claims,
        first_claim,
        snapshot_copies,
        adding_then_claiming,
        board_bytes,
    })
}

/// A board with `batches` added one after another, and how long each batch took.
fn fill_board(batches: &[Vec<NewTask>]) -> Result<(Samples, Board)> {
    let mut board = Board::default();
    let mut adding = Samples::default();
    for batch in batches {
        let batch = batch.clone();
        let now = chrono::Utc::now();
        let began = Instant::now();
        board.add_tasks(batch, now)?;
        adding.push(began.elapsed());
    }
    Ok((adding, board))
}

/// A small, fixed pseudo-random sequence, so every run builds the same graph.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

// ---- 4. memory ----

/// The idle daemon's memory, and the daemon's with the tasks of the benchmark at
/// scale (measured here when that benchmark did not run), against their JSON.
async fn memory(bins: &Binaries, sizes: &Sizes, at_scale: Option<MemoryAtScale>) -> Result<String> {
    let scale = match at_scale {
        Some(measured) => measured,
        None => memory_at_scale(bins, sizes).await?,
    };
    progress("memory: an idle daemon");
    let daemon = Daemon::start(bins).await?;
    // Let start-up work (logging, the first flush) settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = daemon.memory()?;
    daemon.stop().await?;

    let mut out = String::new();
    out += "## 4. Daemon memory\n\n";
    out += "From /proc/PID/status: VmRSS (resident now) and VmHWM (the peak). The state \
            database is sled, configured with an 8 MiB cache.\n\n";
    out += "| daemon | VmRSS | VmHWM | aim |\n|---|---:|---:|---|\n";
    out += &format!(
        "| idle, 0.5 s after start | {} | {} | < 15 MB (14.3 MiB) |\n",
        mb(idle.rss),
        mb(idle.hwm)
    );
    let tasks = thousands(scale.tasks as u64);
    out += &format!(
        "| {tasks} tasks, after adding them | {} | {} | |\n",
        mb(scale.after_adding.rss),
        mb(scale.after_adding.hwm)
    );
    out += &format!(
        "| {tasks} tasks, 2.5 s later | {} | {} | |\n",
        mb(scale.settled.rss),
        mb(scale.settled.hwm)
    );
    out += &format!(
        "| {tasks} tasks, restarted (state read back from disk) | {} | {} | |\n",
        mb(scale.restarted.memory.rss),
        mb(scale.restarted.memory.hwm)
    );
    out += &format!(
        "| {tasks} tasks, answering `baton/listTasks` for every task ({} of JSON) | | {} above the RSS before ({:.1}× the answer) | |\n",
        mb(scale.listing.answer_bytes),
        mb(scale.listing.daemon_grew),
        scale.listing.daemon_grew as f64 / scale.listing.answer_bytes.max(1) as f64
    );
    out += &format!(
        "| the client reading that answer (this program, the Rust client) | | {} above its RSS before ({:.1}×) | |\n",
        mb(scale.listing.client_grew),
        scale.listing.client_grew as f64 / scale.listing.answer_bytes.max(1) as f64
    );
    let per_task =
        |memory: &Memory| memory.rss.saturating_sub(idle.rss) / scale.tasks.max(1) as u64;
    let json_per_task = (scale.json_bytes / scale.tasks.max(1)).max(1) as u64;
    out += &format!(
        "\nBaselines: the {tasks} tasks are {} as the JSON the daemon stores \
         ({json_per_task} bytes a task), the core's `Board` holding them grew this process \
         by {}, and the state database is {} on disk. Resident memory above idle is {} \
         bytes a task after adding them ({:.1}× the JSON), {} bytes 2.5 s later ({:.1}×) \
         and {} bytes a task after the restart ({:.1}×); the aim is 2×. A restart on that \
         database, until the daemon answered, took {}.\n",
        mb(scale.json_bytes as u64),
        mb(scale.board_bytes),
        mb(scale.restarted.disk_bytes),
        per_task(&scale.after_adding),
        per_task(&scale.after_adding) as f64 / json_per_task as f64,
        per_task(&scale.settled),
        per_task(&scale.settled) as f64 / json_per_task as f64,
        per_task(&scale.restarted.memory),
        per_task(&scale.restarted.memory) as f64 / json_per_task as f64,
        fmt(scale.restarted.took)
    );
    Ok(out)
}

/// A process's resident memory, in bytes.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    hwm: u64,
}

impl Memory {
    fn of(pid: u32) -> Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .with_context(|| format!("/proc/{pid}/status has no {name}"))?;
            let kb: u64 = line
                .trim_start_matches(name)
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()?;
            Ok(kb * 1024)
        };
        Ok(Memory {
            rss: field("VmRSS:")?,
            hwm: field("VmHWM:")?,
        })
    }
}

/// The write-family system calls `pid` has made so far (`syscw` of /proc/PID/io).
fn write_calls(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            let line = io.lines().find(|line| line.starts_with("syscw:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// CPU time used by `pid`: utime + stime, which count its exited threads too.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name may hold spaces; the fields after it are plain.
    let Some((_, fields)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&index| fields.get(index)?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(ticks * 1_000_000_000 / clock_ticks_per_second())
}

// ---- the machine ----

fn machine(args: &Args, load: [&str; 2], others: Duration, took: Duration) -> String {
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
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|release| release.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into());
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    let mode = if args.quick { " (--quick)" } else { "" };
    format!(
        "## Machine\n\n\
         | | |\n|---|---|\n\
         | CPU | {model}, {cores} cores |\n\
         | memory | {memory} |\n\
         | kernel | Linux {kernel} |\n\
         | date | {date} |\n\
         | run | release build{mode}, {:.0} s |\n\
         | load average (1, 5, 15 min) before | {} |\n\
         | load average (1, 5, 15 min) after | {} |\n\
         | CPU used by other processes during the run | {:.1} s of {:.0} s ({cores} cores × run) |\n",
        took.as_secs_f64(),
        load[0],
        load[1],
        others.as_secs_f64(),
        took.as_secs_f64() * cores as f64,
    )
}

/// CPU time of every daemon this run stopped, for telling the run's own load from others'.
static DAEMONS_CPU: AtomicU64 = AtomicU64::new(0);

/// CPU time the whole machine has spent busy so far (/proc/stat).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .filter(|line| line.starts_with("cpu "))
        .map(|line| {
            // user nice system idle iowait irq softirq steal: all but idle and iowait.
            line.split_whitespace()
                .skip(1)
                .take(8)
                .enumerate()
                .filter(|(index, _)| *index != 3 && *index != 4)
                .filter_map(|(_, ticks)| ticks.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_nanos(ticks * 1_000_000_000 / clock_ticks_per_second())
}

/// CPU time of this run: this process, the commands it waited for, and its daemons.
fn own_cpu() -> Duration {
    let usage = |who| {
        // SAFETY: rusage is plain integers, for which all zeroes is a valid value, and
        // getrusage writes only into the struct it is given.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut usage);
            usage
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        time(usage.ru_utime) + time(usage.ru_stime)
    };
    usage(libc::RUSAGE_SELF)
        + usage(libc::RUSAGE_CHILDREN)
        + Duration::from_nanos(DAEMONS_CPU.load(Ordering::Relaxed))
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf reads a constant of the system.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|load| {
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

// ---- numbers ----

/// Durations of one kind of operation.
#[derive(Debug, Default, Clone)]
struct Samples {
    durations: Vec<Duration>,
}

impl Samples {
    fn push(&mut self, duration: Duration) {
        self.durations.push(duration);
    }

    fn extend(&mut self, other: Samples) {
        self.durations.extend(other.durations);
    }

    fn len(&self) -> usize {
        self.durations.len()
    }

    fn first(&self, count: usize) -> Samples {
        Samples {
            durations: self.durations[..count.min(self.len())].to_vec(),
        }
    }

    fn last(&self, count: usize) -> Samples {
        Samples {
            durations: self.durations[self.len().saturating_sub(count)..].to_vec(),
        }
    }

    fn total(&self) -> Duration {
        self.durations.iter().sum()
    }

    /// Operations per second, one after another.
    fn rate(&self) -> f64 {
        self.len() as f64 / self.total().as_secs_f64()
    }

    /// The nearest-rank percentile.
    fn percentile(&self, percent: f64) -> Duration {
        if self.durations.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    fn p99(&self) -> Duration {
        self.percentile(99.0)
    }
}

fn fmt(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    match micros {
        m if m < 10.0 => format!("{m:.1} µs"),
        m if m < 1_000.0 => format!("{m:.0} µs"),
        m if m < 10_000.0 => format!("{:.2} ms", m / 1e3),
        m if m < 1_000_000.0 => format!("{:.1} ms", m / 1e3),
        m => format!("{:.2} s", m / 1e6),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
