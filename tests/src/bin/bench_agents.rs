//! Benchmarks of the agent runtime and of worktree isolation; the results are in
//! docs/benchmarks.md. Run with the release build:
//!
//! ```sh
//! cargo build --release --workspace --bins
//! cargo run --release -p baton-tests --bin bench_agents [-- --quick] [--worktrees]
//! ```
//!
//! Each measurement stands next to a baseline taken in the same run: the cost of
//! starting the same process by hand, the ideal schedule, the same git work by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use baton_daemon::agents::worktrees::{BroughtIn, Landed, Worktrees};
use baton_protocol::methods::{self as m};
use baton_protocol::{RunMode, TaskId, Workspace};
use baton_tests::agent_workspace::{git_output, run, say, scripted, AgentWorkspace};
use serde_json::json;

struct Sizes {
    chain: usize,
    tasks: usize,
    workers: u32,
    files: usize,
    worktree_tasks: usize,
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--quick");
    let sizes = if quick {
        Sizes {
            chain: 10,
            tasks: 8,
            workers: 4,
            files: 1_000,
            worktree_tasks: 5,
        }
    } else {
        Sizes {
            chain: 60,
            tasks: 40,
            workers: 8,
            files: 10_000,
            worktree_tasks: 30,
        }
    };
    baton_tests::binaries_beside_this_program();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("## Agent runtime and isolation\n");
    println!("{}\n", machine());
    // `--worktrees` measures the git side alone (worktrees, the gate, merges).
    if !std::env::args().any(|arg| arg == "--worktrees") {
        runtime.block_on(dispatch_latency(sizes.chain));
        runtime.block_on(parallel_run(sizes.tasks, sizes.workers));
    }
    runtime.block_on(worktree_costs(sizes.files, sizes.worktree_tasks));
}

/// From a task becoming ready (its dependency completed) to its agent process
/// running, over a chain of tasks, next to starting the same process by hand.
async fn dispatch_latency(chain: usize) {
    let agents = AgentWorkspace::new();
    let client = agents.start(1, 60).await;
    let stamps = tempfile::tempdir().expect("a directory for timestamps");
    let agent = fake_agent(agents.root(), stamps.path());
    client
        .request::<m::Configure>(&m::ConfigPatch {
            agent_command: Some(agent.display().to_string()),
            ..Default::default()
        })
        .await
        .expect("configured");
    let mut previous: Option<TaskId> = None;
    for i in 0..chain {
        let mut task = m::NewTask::new(format!("link {i}"));
        task.dependencies = previous.iter().cloned().collect();
        previous = Some(client.request::<m::AddTask>(&task).await.expect("added").id);
    }
    run(&client, RunMode::Predefined).await;
    let tasks = client
        .request::<m::ListTasks>(&Default::default())
        .await
        .expect("listed");
    let mut latencies = Vec::new();
    for pair in tasks.windows(2) {
        let ready = pair[0].completed_at.expect("completed");
        let started = read_stamp(&stamps.path().join(pair[1].id.as_str()));
        latencies.push(started - ready.timestamp_nanos_opt().expect("in range"));
    }
    let mut by_hand = Vec::new();
    for i in 0..chain {
        let name = format!("by-hand-{i}");
        let before = now_nanos();
        let status = Command::new(&agent)
            .env("BATON_TASK_ID", &name)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("the agent runs");
        assert!(status.success());
        by_hand.push(read_stamp(&stamps.path().join(&name)) - before);
    }
    println!(
        "### Ready task to running agent ({} tasks in a chain, one worker)\n",
        chain
    );
    println!("| measurement | median | p99 |\n|---|---|---|");
    row("dependency done → agent process running", &latencies);
    row(
        "baseline: starting the same agent process by hand",
        &by_hand,
    );
    println!();
}

/// A stand-in for `claude` that notes when it started, works 300 ms, and answers.
fn fake_agent(dir: &Path, stamps: &Path) -> PathBuf {
    let path = dir.join("bench-agent.sh");
    let script = format!(
        "#!/bin/sh\ndate +%s%N > '{}'/\"$BATON_TASK_ID\"\nsleep 0.3\n\
         echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"ok\",\"total_cost_usd\":0,\"usage\":{{}},\"num_turns\":1,\"duration_ms\":300}}'\n",
        stamps.display()
    );
    std::fs::write(&path, script).expect("the agent script");
    let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
    std::fs::set_permissions(&path, executable).expect("executable");
    path
}

fn read_stamp(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .trim()
        .parse()
        .expect("nanoseconds")
}

fn now_nanos() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().expect("in range")
}

/// Many scripted tasks with real Claude Code agents and 1 s of model time each,
/// next to the ideal schedule; and what the daemon spends per running agent.
async fn parallel_run(tasks: usize, workers: u32) {
    let agents = AgentWorkspace::new();
    let client = agents.start(workers, 120).await;
    for i in 0..tasks {
        let steps = [
            json!({ "text": format!("task {i} done"), "delay_ms": 1000 }),
            say("unused"),
        ];
        client
            .request::<m::AddTask>(&scripted(&format!("task {i}"), &steps))
            .await
            .expect("added");
    }
    let daemon = agents.workspace.daemon_pid().expect("the daemon runs");
    let idle = sample(daemon);
    let busiest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(idle.rss_kib));
    let sampler = {
        let busiest = busiest.clone();
        tokio::spawn(async move {
            loop {
                busiest.fetch_max(sample(daemon).rss_kib, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let result = run(&client, RunMode::Predefined).await;
    let wall = started.elapsed();
    sampler.abort();
    let end = sample(daemon);
    let busiest = busiest.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(result.tasks_completed, tasks, "{result:?}");
    let ideal = Duration::from_secs((tasks as u64).div_ceil(u64::from(workers)));
    let cpu = Duration::from_millis((end.cpu_ms - idle.cpu_ms) as u64);
    println!("### {tasks} scripted tasks, {workers} workers, 1 s of model time each (real Claude Code)\n");
    println!("| measurement | value |\n|---|---|");
    println!("| wall time of the run | {:.1} s |", wall.as_secs_f64());
    println!(
        "| ideal (model time only: {tasks} × 1 s / {workers}) | {:.1} s |",
        ideal.as_secs_f64()
    );
    println!(
        "| daemon CPU time over the run | {:.2} s ({:.1} ms per task) |",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 1000.0 / tasks as f64
    );
    println!(
        "| daemon memory before the run / at its busiest | {:.1} MiB / {:.1} MiB |",
        idle.rss_kib as f64 / 1024.0,
        busiest as f64 / 1024.0
    );
    println!(
        "| daemon memory per running agent | {:.2} MiB |",
        busiest.saturating_sub(idle.rss_kib) as f64 / 1024.0 / f64::from(workers)
    );
    println!();
}

struct Sample {
    cpu_ms: i64,
    rss_kib: u64,
}

/// The daemon's CPU time and resident memory, from /proc.
fn sample(pid: u32) -> Sample {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: i64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0)
        + fields
            .get(12)
            .and_then(|f| f.parse::<i64>().ok())
            .unwrap_or(0);
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Sample {
        cpu_ms: ticks * 1000 / hz,
        rss_kib,
    }
}

/// Making a task's worktree and merging its work back, on a repository of `files`
/// files, next to the same `git worktree add` by hand and a trivial git command.
async fn worktree_costs(files: usize, tasks: usize) {
    let repo = tempfile::tempdir().expect("a repository");
    let root = repo.path().canonicalize().expect("canonical");
    git(&root, &["init", "--quiet", "--initial-branch=main"]);
    git(&root, &["config", "user.email", "bench@example.com"]);
    git(&root, &["config", "user.name", "Bench"]);
    for i in 0..files {
        let dir = root.join(format!("src/m{}", i % 100));
        std::fs::create_dir_all(&dir).expect("a directory");
        std::fs::write(
            dir.join(format!("f{i}.rs")),
            format!("pub fn f{i}() -> u32 {{ {i} }}\n"),
        )
        .expect("a file");
    }
    git(&root, &["add", "."]);
    git(&root, &["commit", "--quiet", "-m", "many files"]);
    let workspace = Workspace::at(&root).expect("the workspace exists");
    let worktrees = Worktrees::open(&workspace, "baton/integration")
        .await
        .expect("isolation opens");
    let mut prepare = Vec::new();
    let mut gate_current = Vec::new();
    let mut gate_moved = Vec::new();
    // Each gate in its two parts: the commit and merge, then the landing.
    let mut bring_in = Vec::new();
    let mut landing = Vec::new();
    // Tasks in pairs made from the same tip: the first lands onto the tip it started
    // from, the second finds the integration branch moved and merges it in for real.
    for pair in 0..tasks.div_ceil(2) {
        let ids = [2 * pair, 2 * pair + 1].map(|i| (i, TaskId::numbered(i as u64 + 1)));
        for (i, task) in &ids {
            let before = Instant::now();
            let path = worktrees.prepare(task).await.expect("a worktree");
            prepare.push(before.elapsed().as_nanos() as i64);
            std::fs::write(
                path.join(format!("src/m{}/f{i}.rs", i % 100)),
                format!("pub fn f{i}() -> u32 {{ 0 }}\n"),
            )
            .expect("an edit");
            std::fs::write(path.join(format!("new-{i}.rs")), "// new\n").expect("a new file");
        }
        for (n, (i, task)) in ids.iter().enumerate() {
            let before = Instant::now();
            let brought = worktrees
                .bring_in(task, &format!("task {i}"))
                .await
                .expect("brought in");
            assert_eq!(brought, BroughtIn::Merged);
            let brought_at = Instant::now();
            let landed = worktrees
                .land(task, &format!("task {i}"))
                .await
                .expect("landed");
            assert!(matches!(landed, Landed::Landed(_)), "{landed:?}");
            let spent = before.elapsed().as_nanos() as i64;
            bring_in.push((brought_at - before).as_nanos() as i64);
            landing.push(brought_at.elapsed().as_nanos() as i64);
            if n == 0 {
                gate_current.push(spent);
            } else {
                gate_moved.push(spent);
            }
        }
    }
    let mut by_hand = Vec::new();
    let mut trivial = Vec::new();
    // A full checkout is slow on a large tree: a few are enough for a baseline.
    for i in 0..tasks.min(5) {
        let path = workspace.state_dir().join(format!("by-hand-{i}"));
        let location = path.display().to_string();
        let before = Instant::now();
        git(
            &root,
            &["worktree", "add", "--quiet", "--detach", &location, "main"],
        );
        by_hand.push(before.elapsed().as_nanos() as i64);
        git(&root, &["worktree", "remove", "--force", &location]);
        let before = Instant::now();
        git(&root, &["rev-parse", "HEAD"]);
        trivial.push(before.elapsed().as_nanos() as i64);
    }
    println!("### Worktree isolation on a repository of {files} files ({tasks} tasks)\n");
    println!("| measurement | median | p99 |\n|---|---|---|");
    row("make a task's worktree and branch", &prepare);
    row(
        "the gate without the command, integration branch unchanged: commit, land (compare-and-swap), free the worktree",
        &gate_current,
    );
    row(
        "the gate without the command, integration branch moved: commit, merge it into the worktree, land, free the worktree",
        &gate_moved,
    );
    row(
        "— of both: commit the work and merge the integration branch into the worktree",
        &bring_in,
    );
    row(
        "— of both: land (compare-and-swap) and free the worktree",
        &landing,
    );
    row(
        "baseline: `git worktree add` of the same tree by hand",
        &by_hand,
    );
    row(
        "baseline: a trivial git command (`git rev-parse HEAD`)",
        &trivial,
    );
    println!();
}

fn git(dir: &Path, args: &[&str]) {
    git_output(dir, args);
}

fn row(name: &str, nanos: &[i64]) {
    let mut sorted = nanos.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    println!("| {name} | {} | {} |", human(at(0.5)), human(at(0.99)));
}

fn human(nanos: i64) -> String {
    let ms = nanos as f64 / 1e6;
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|line| {
                line.strip_prefix("model name")
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .next()
                .map(|line| line.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|kib| kib.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024 / 1024);
    format!(
        "Machine: {cpu}, {cores} cores, {memory} GiB; {}; measured {}.",
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "?".into(), |r| format!("Linux {}", r.trim())),
        chrono::Utc::now().format("%Y-%m-%d")
    )
}
