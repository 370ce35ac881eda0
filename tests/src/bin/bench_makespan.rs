//! Makespan of seeded random task graphs, run by real Claude Code agents whose
//! scripted model answers after a known delay, next to a lower bound for this
//! machine and next to the schedule plain priority order gives the same tasks. The
//! results are in docs/benchmarks.md. Run with the release build:
//!
//! ```sh
//! cargo build --release --workspace --bins
//! cargo run --release -p baton-tests --bin bench_makespan [-- --seed 1 --graphs 3 --tasks 24 --workers 4]
//! ```
//!
//! The lower bound is the largest of: the critical path of the known durations; the
//! total of the known durations over the workers; and the agents' starts times the
//! CPU one start measurably takes (the daemon's reaped children's CPU over the run,
//! per agent process) over the cores. A second bound takes the same critical path
//! and work over the workers with each task as long as it took in the run (its
//! agent's start included, as slow as the machine's load made it): what any order
//! could do with those tasks, so its ratio is the scheduler's own. Plain priority order (priority, then the older
//! task) is replayed as a list schedule with each task taking exactly as long as it
//! took in the measured run, beside baton's own rule replayed the same way, so the
//! two orders are compared on the same task times and the replay is checked against
//! the measurement. Last, each graph is replayed on its model times alone, in
//! baton's order, in plain priority order, longest chain first with priorities set
//! aside, and in baton's order with each task as urgent as the most urgent task
//! waiting on it: how near the bound an order could come if an agent cost nothing
//! else (`--orders-only` prints that alone, without running agents).

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::Duration;

use baton_protocol::methods::{self as m};
use baton_protocol::{RunMode, TaskId};
use baton_tests::agent_workspace::{run, scripted, task, AgentWorkspace};
use clap::Parser;
use serde_json::json;

/// Makespan against a lower bound and plain priority order.
#[derive(Debug, Parser)]
struct Args {
    /// The first graph's seed; graph k uses seed + k
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many graphs
    #[arg(long, default_value_t = 3)]
    graphs: u64,
    /// Tasks per graph
    #[arg(long, default_value_t = 24)]
    tasks: usize,
    /// The run's max_workers
    #[arg(long, default_value_t = 4)]
    workers: u32,
    /// Only the orders on the model times alone: no agent runs
    #[arg(long)]
    orders_only: bool,
}

/// One task of a generated graph.
struct Spec {
    /// How long its model takes to answer.
    duration: Duration,
    priority: u8,
    /// Earlier tasks of the graph it waits for.
    dependencies: Vec<usize>,
}

/// What one run of a graph measured.
struct Measured {
    makespan: Duration,
    /// Each task from its claim to its completion, in the graph's order.
    task_times: Vec<Duration>,
    /// CPU of one agent process, from its start to its end.
    cpu_per_agent: Duration,
}

fn main() {
    let args = Args::parse();
    if args.orders_only {
        return print_orders_alone(&args);
    }
    baton_tests::binaries_beside_this_program();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("## Makespan\n");
    println!(
        "{} scripted tasks a graph (model time 0.5 to 4 s, priorities 1 to 3, up to two \
         dependencies on earlier tasks), {} workers, {cores} cores, real Claude Code.\n",
        args.tasks, args.workers
    );
    println!(
        "| seed | load before | makespan | lower bound (critical path / work ÷ workers / \
         starts' CPU ÷ cores) | makespan ÷ bound | bound on the run's task times (mean task) | \
         makespan ÷ that bound | baton's order replayed | plain priority order replayed | \
         plain ÷ baton |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for k in 0..args.graphs {
        let seed = args.seed + k;
        let graph = generate(seed, args.tasks);
        let load = load_average();
        let measured = runtime.block_on(measure(&graph, args.workers));
        let (path, work) = path_and_work(&graph, &model_times(&graph), args.workers);
        let cpu = measured.cpu_per_agent * graph.len() as u32 / cores as u32;
        let bound = path.max(work).max(cpu);
        // The same bound with each task taking as long as it took in this run.
        let (run_path, run_work) = path_and_work(&graph, &measured.task_times, args.workers);
        let as_run = run_path.max(run_work);
        let ours = replay(&graph, &measured.task_times, args.workers, Order::Baton);
        let plain = replay(&graph, &measured.task_times, args.workers, Order::Priority);
        println!(
            "| {seed} | {load} | {} | {} ({} / {} / {}) | {:.2} | {} ({} a task) | {:.2} | {} | {} | {:.2} |",
            secs(measured.makespan),
            secs(bound),
            secs(path),
            secs(work),
            secs(cpu),
            measured.makespan.as_secs_f64() / bound.as_secs_f64(),
            secs(as_run),
            secs(measured.task_times.iter().sum::<Duration>() / graph.len() as u32),
            measured.makespan.as_secs_f64() / as_run.as_secs_f64(),
            secs(ours),
            secs(plain),
            plain.as_secs_f64() / ours.as_secs_f64(),
        );
    }
    println!("\nLoad after: {}.", load_average());
    print_orders_alone(&args);
}

/// The same graphs scheduled on their model times alone, as if an agent cost nothing
/// else: how close each order can come to the bound at best, and what putting
/// priorities first costs.
fn print_orders_alone(args: &Args) {
    println!("\n### The orders on the model times alone\n");
    println!(
        "| seed | bound (critical path / work ÷ workers) | baton's order ÷ bound | plain \
         priority order ÷ bound | longest chain first, priorities set aside ÷ bound | \
         baton's order, priorities inherited from the tasks waiting ÷ bound |"
    );
    println!("|---|---|---|---|---|---|");
    for k in 0..args.graphs {
        let seed = args.seed + k;
        let graph = generate(seed, args.tasks);
        let durations = model_times(&graph);
        let (path, work) = path_and_work(&graph, &durations, args.workers);
        let bound = path.max(work).as_secs_f64();
        let ratio = |order| replay(&graph, &durations, args.workers, order).as_secs_f64() / bound;
        println!(
            "| {seed} | {} ({} / {}) | {:.2} | {:.2} | {:.2} | {:.2} |",
            secs(path.max(work)),
            secs(path),
            secs(work),
            ratio(Order::Baton),
            ratio(Order::Priority),
            ratio(Order::Chain),
            ratio(Order::Inherited),
        );
    }
}

/// A seeded random graph: dependencies point to earlier tasks only.
fn generate(seed: u64, tasks: usize) -> Vec<Spec> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..tasks)
        .map(|i| {
            let wanted = rng.usize(0..=2).min(i);
            let mut dependencies: Vec<usize> = Vec::new();
            while dependencies.len() < wanted {
                let dependency = rng.usize(0..i);
                if !dependencies.contains(&dependency) {
                    dependencies.push(dependency);
                }
            }
            Spec {
                duration: Duration::from_millis(rng.u64(5..=40) * 100),
                priority: rng.u8(1..=3),
                dependencies,
            }
        })
        .collect()
}

/// Runs the graph with `workers` and measures it.
async fn measure(graph: &[Spec], workers: u32) -> Measured {
    let agents = AgentWorkspace::new();
    let client = agents.start(workers, 300).await;
    let mut ids: Vec<TaskId> = Vec::new();
    for (i, spec) in graph.iter().enumerate() {
        let steps = [
            json!({ "text": format!("task {i} done"), "delay_ms": spec.duration.as_millis() as u64 }),
        ];
        let mut new = scripted(&format!("task {i}"), &steps);
        new.priority = spec.priority;
        new.dependencies = spec.dependencies.iter().map(|d| ids[*d].clone()).collect();
        ids.push(
            client
                .request::<m::AddTask>(&new)
                .await
                .expect("the task is added")
                .id,
        );
    }
    let daemon = agents.workspace.daemon_pid().expect("the daemon runs");
    let cpu_before = children_cpu(daemon);
    let started = chrono::Utc::now();
    let result = run(&client, RunMode::Predefined).await;
    if result.tasks_completed != graph.len() {
        for id in &ids {
            let failed = task(&client, id).await;
            if let Some(error) = failed.result.and_then(|result| result.error) {
                eprintln!("{id}: {error}");
            }
        }
        panic!("not every task completed: {result:?}");
    }
    // The run's end waited for the summary's agent too: one more process.
    let cpu = children_cpu(daemon) - cpu_before;
    let mut task_times = Vec::new();
    let mut last = started;
    for id in &ids {
        let done = task(&client, id).await;
        let claimed = done.claimed_at.expect("claimed");
        let completed = done.completed_at.expect("completed");
        last = last.max(completed);
        task_times.push((completed - claimed).to_std().unwrap_or_default());
    }
    Measured {
        makespan: (last - started).to_std().unwrap_or_default(),
        task_times,
        cpu_per_agent: cpu / (graph.len() as u32 + 1),
    }
}

/// Each task's model time: how long it takes when its agent costs nothing else.
fn model_times(graph: &[Spec]) -> Vec<Duration> {
    graph.iter().map(|spec| spec.duration).collect()
}

/// The two parts of the bound with each task taking `times[i]`: the critical path, and
/// the total work over the workers.
fn path_and_work(graph: &[Spec], times: &[Duration], workers: u32) -> (Duration, Duration) {
    let work = times.iter().sum::<Duration>() / workers;
    (critical_path(graph, times), work)
}

/// The longest chain of the graph with each task taking `times[i]`.
fn critical_path(graph: &[Spec], times: &[Duration]) -> Duration {
    let mut finish: Vec<Duration> = Vec::new();
    for (spec, time) in graph.iter().zip(times) {
        let start = spec
            .dependencies
            .iter()
            .map(|d| finish[*d])
            .max()
            .unwrap_or_default();
        finish.push(start + *time);
    }
    finish.into_iter().max().unwrap_or_default()
}

/// Which ready task a free worker takes.
#[derive(Clone, Copy)]
enum Order {
    /// Priority, then the longest chain of tasks waiting on it, then the older.
    Baton,
    /// Priority, then the older.
    Priority,
    /// The longest chain of tasks waiting on it, then the older: priorities set aside.
    Chain,
    /// baton's order with each task as urgent as the most urgent task waiting on it:
    /// what the order would be if a priority also reached the tasks it waits for.
    Inherited,
}

/// The makespan of a list schedule of the graph on `workers`, each task taking
/// `times[i]`, free workers taking ready tasks in `order`.
fn replay(graph: &[Spec], times: &[Duration], workers: u32, order: Order) -> Duration {
    let chains = chain_lengths(graph);
    let inherited = inherited_priorities(graph);
    let key = |i: usize| match order {
        Order::Baton => (graph[i].priority, Reverse(chains[i]), i),
        Order::Priority => (graph[i].priority, Reverse(0), i),
        Order::Chain => (0, Reverse(chains[i]), i),
        Order::Inherited => (inherited[i], Reverse(chains[i]), i),
    };
    let mut waiting: Vec<usize> = graph.iter().map(|spec| spec.dependencies.len()).collect();
    let mut ready: Vec<usize> = (0..graph.len()).filter(|i| waiting[*i] == 0).collect();
    // Running tasks by the time they end.
    let mut running: BTreeMap<(Duration, usize), ()> = BTreeMap::new();
    let mut now = Duration::ZERO;
    let mut done = 0;
    while done < graph.len() {
        while running.len() < workers as usize && !ready.is_empty() {
            ready.sort_by_key(|i| key(*i));
            let next = ready.remove(0);
            running.insert((now + times[next], next), ());
        }
        let ((end, finished), ()) = running.pop_first().expect("a task runs");
        now = end;
        done += 1;
        for (i, spec) in graph.iter().enumerate() {
            if spec.dependencies.contains(&finished) {
                waiting[i] -= 1;
                if waiting[i] == 0 {
                    ready.push(i);
                }
            }
        }
    }
    now
}

/// For each task, the most urgent priority among itself and the tasks that wait on it.
fn inherited_priorities(graph: &[Spec]) -> Vec<u8> {
    let mut priorities: Vec<u8> = graph.iter().map(|spec| spec.priority).collect();
    for i in (0..graph.len()).rev() {
        for dependency in &graph[i].dependencies {
            priorities[*dependency] = priorities[*dependency].min(priorities[i]);
        }
    }
    priorities
}

/// For each task, the longest path of tasks that depend on it, itself included.
fn chain_lengths(graph: &[Spec]) -> Vec<usize> {
    let mut lengths = vec![1; graph.len()];
    for i in (0..graph.len()).rev() {
        for dependency in &graph[i].dependencies {
            lengths[*dependency] = lengths[*dependency].max(lengths[i] + 1);
        }
    }
    lengths
}

/// The CPU time of the process's children it has waited for, from /proc.
fn children_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(13)
        .take(2)
        .filter_map(|field| field.parse().ok())
        .collect();
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(fields.iter().sum::<u64>() * 1000 / hz)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn secs(duration: Duration) -> String {
    format!("{:.1} s", duration.as_secs_f64())
}
