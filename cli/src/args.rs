//! The command line as a user types it: every command, flag and help text. Parsing
//! only; what a command does lives in `commands`.

use std::path::PathBuf;

use baton_protocol::methods::RunAgent;
use baton_protocol::{TaskId, TaskStatus};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

/// Where the flags that every command takes are listed in help.
const GLOBAL: &str = "Global options";

/// baton runs a team of coding agents on one workspace and keeps their plan of tasks.
///
/// Every command talks to the workspace's daemon, starting it in the background
/// when none runs yet.
#[derive(Debug, Parser)]
#[command(name = "baton", version)]
pub struct Cli {
    /// Work in DIR as if run there: the nearest workspace (`.baton`) or git
    /// repository at or above it, else DIR itself (by default the current directory)
    #[arg(short = 'C', value_name = "DIR", global = true, help_heading = GLOBAL)]
    pub workspace: Option<PathBuf>,

    /// Print machine-readable JSON: the same objects the protocol uses
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Say on stderr which workspace and daemon are used
    #[arg(short, long, global = true, help_heading = GLOBAL)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set the goal of this workspace, with an optional master plan and settings
    Init(InitArgs),

    /// Show every setting, show one, or change one (`--help` lists them all)
    #[command(after_help = crate::settings::help())]
    Config {
        /// The setting to show or change, e.g. max_workers
        key: Option<String>,
        /// The new value: a number, text, a list (A,B or several values), or none;
        /// values that start with - go after `--`
        #[arg(value_name = "VALUE", requires = "key")]
        values: Vec<String>,
        /// Print the built-in text of leader_prompt or worker_prompt, to start your own
        #[arg(long, requires = "key", conflicts_with = "values")]
        show_default: bool,
    },

    /// Add a task (prints its id), or many at once with --batch
    Add(AddArgs),

    /// List the tasks
    Tasks {
        /// Only the tasks with this status
        #[arg(short, long, value_name = "STATUS", value_parser = status_parser())]
        status: Option<TaskStatus>,
    },

    /// Show everything about one task, its result included
    Show {
        /// The task's id, e.g. task-003
        #[arg(value_name = "ID", value_parser = task_id)]
        task: TaskId,
    },

    /// Take the most urgent ready task for an agent (prints its id, or nothing
    /// when no task is ready)
    Claim {
        /// The agent that takes the task
        #[arg(long, value_name = "ID")]
        agent: String,
    },

    /// Mark a task done, with what came of it
    Complete(CompleteArgs),

    /// Mark a task failed, saying why
    Fail {
        /// The task's id
        #[arg(value_name = "ID", value_parser = task_id)]
        task: TaskId,
        /// Why it failed
        #[arg(long, value_name = "TEXT")]
        error: String,
    },

    /// Cancel a task that has not finished; the tasks that depend on it fail
    Cancel {
        /// The task's id
        #[arg(value_name = "ID", value_parser = task_id)]
        task: TaskId,
    },

    /// Reopen a failed or cancelled task and the tasks that failed because of it
    /// (prints every reopened id)
    Retry {
        /// The task's id
        #[arg(value_name = "ID", value_parser = task_id)]
        task: TaskId,
    },

    /// Change a task that has not finished: what is given replaces what it had
    Edit(EditArgs),

    /// Delete a task that has not started and that no other task depends on
    Delete {
        /// The task's id
        #[arg(value_name = "ID", value_parser = task_id)]
        task: TaskId,
    },

    /// Share a finding with every agent
    Discover {
        /// What was found
        text: String,
        /// The agent that found it
        #[arg(long, value_name = "ID")]
        agent: String,
        /// The task it concerns
        #[arg(long, value_name = "ID", value_parser = task_id)]
        task: Option<TaskId>,
        /// A tag to find it by (repeat for more)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },

    /// List every discovery
    Discoveries,

    /// Show the goal, progress, agents and recent discoveries
    Status,

    /// Print every change as it happens, and a run's progress line while one goes
    /// (`--json`: the events alone), until the daemon stops or Ctrl-C
    Watch,

    /// Run the plan with agents, show their progress, and print the result (exits 1
    /// when a task failed). Ctrl-C stops the run (its tasks go back to the queue); a
    /// second Ctrl-C leaves at once
    #[command(
        after_help = "Agents get this shell's ANTHROPIC_*, CLAUDE_*, cloud-provider and proxy \
                      variables, sent with the run and never written to disk. In a git \
                      repository the run first brings your current branch into the \
                      integration branch, so agents start from your latest commits."
    )]
    #[command(group = clap::ArgGroup::new("mode").args(["leader", "predefined"]))]
    Run {
        /// The goal; it replaces the current one, and a leader plans it
        goal: Option<String>,
        /// A leader agent plans the goal into tasks first (the default with a goal,
        /// or when no task is waiting)
        #[arg(long)]
        leader: bool,
        /// Run the tasks already added, without planning (says so when none waits)
        #[arg(long)]
        predefined: bool,
        /// Start the run and return at once, leaving it going; `baton status` and
        /// `baton watch` follow it
        #[arg(long)]
        detach: bool,
    },

    /// Plan a goal into tasks with the leader alone: no worker starts. Look at the
    /// plan (`baton tasks`), change it (`baton add`, `baton edit`, `baton cancel`),
    /// then `baton run --predefined` runs it
    Plan {
        /// The goal; it replaces the current one
        goal: String,
        /// Start planning and return at once; `baton status` follows it
        #[arg(long)]
        detach: bool,
    },

    /// Show what a task's agent did: each tool with the start of its output, its
    /// words, how each attempt ended (merged, conflict, stopped, timed out)
    Logs {
        /// The task's id, or `leader` or `summary` for those agents of the runs
        #[arg(value_name = "ID|leader|summary", value_parser = log_source)]
        source: LogSource,
        /// Keep printing as the agent works, until the task (or the run) ends
        #[arg(short, long)]
        follow: bool,
        /// Show each tool's output whole, not only its first lines
        #[arg(long)]
        full: bool,
    },

    /// Bring the integration branch (the finished tasks' work) into your current
    /// branch: a fast-forward when possible, else a merge; says when there is
    /// nothing to merge
    Merge,

    /// Start handing ready tasks to agents and return at once, like `run
    /// --predefined --detach` (agents get this shell's ANTHROPIC_* and the rest)
    Start,

    /// Stop the run: end every agent, their tasks go back to the queue; the daemon
    /// stays (`baton daemon stop` ends the daemon itself)
    Stop,

    /// Write the whole state to a JSON file
    Save {
        /// The file to write
        file: PathBuf,
    },

    /// Remove the branches of merged tasks and the idle checkouts in
    /// .baton/worktrees; failed tasks keep their branches (their work) unless --all.
    /// Each run does this for its own tasks when it ends, unless keep_branches is on
    Clean {
        /// Remove failed and cancelled tasks' branches too
        #[arg(long)]
        all: bool,
    },

    /// List the boards put aside by a new goal or `baton reset`; `baton load PATH`
    /// brings one back
    History,

    /// Show the plan: each task under the tasks it depends on, with its status and
    /// the critical path marked; or as a Mermaid or DOT document (--format)
    Graph(crate::views::GraphArgs),

    /// Show a run's agents over time: a lane per agent, a bar per attempt marked by
    /// how it ended, idle time visible
    Timeline(crate::views::TimelineArgs),

    /// Print a run's markdown report, written when it ended: the goal, the plan, the
    /// timeline, cost per task and per agent, what failed and why
    Report(crate::views::ReportArgs),

    /// Clear the board (tasks, discoveries, goal; the configuration stays), archiving
    /// it first; asks before
    Reset {
        /// Do not ask (for scripts)
        #[arg(long, short = 'y')]
        yes: bool,
    },

    /// Replace the whole state with a JSON file's (nothing changes when the file is
    /// bad); the current board is archived first
    Load {
        /// The file to read
        file: PathBuf,
    },

    /// Bring back the state from the newest snapshot in .baton/snapshots (or a file
    /// `baton save` wrote) when the store is damaged; says which changes are lost
    Restore {
        /// The snapshot or saved file to restore
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
        /// Restore even when the store is not damaged, losing the changes after it
        #[arg(long)]
        yes: bool,
    },

    /// Start, stop or ask about the workspace's daemon
    #[command(subcommand)]
    Daemon(DaemonCommand),

    /// Serve an agent's baton tools over MCP on standard input and output (the
    /// daemon starts this for each agent it runs; not for people)
    #[command(hide = true)]
    Mcp(McpArgs),
}

/// Whose log `baton logs` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    Task(TaskId),
    Agent(RunAgent),
}

/// `baton init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// What the team should achieve
    pub goal: String,

    /// The master plan, as text
    #[arg(long, value_name = "TEXT", conflicts_with = "plan_file")]
    pub plan: Option<String>,

    /// The master plan, read from a file
    #[arg(long, value_name = "FILE")]
    pub plan_file: Option<PathBuf>,

    /// How many agents may work at once, 1 to 64
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_workers: Option<u32>,

    /// The model the agents use
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Seconds an agent may work on one task, 1 to 31536000 (a year)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub task_timeout: Option<u64>,

    /// A command that must pass on each task's work, merged with the other tasks',
    /// before it lands (e.g. "cargo test -q"); a failure goes back to the agent
    #[arg(long, value_name = "CMD")]
    pub verify: Option<String>,

    /// Keep the board's tasks and discoveries under the new goal (by default a board
    /// with finished work is archived first: `baton history`)
    #[arg(long)]
    pub keep: bool,

    /// Make a new workspace in the current directory (or -C DIR) itself, even inside
    /// a repository or workspace that encloses it
    #[arg(long)]
    pub here: bool,
}

/// `baton add`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["description", "batch"]))]
pub struct AddArgs {
    /// What the task is about, in words an agent understands
    pub description: Option<String>,

    /// Priority from 1 (most urgent) to 10 [default: 5]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub priority: Option<u8>,

    /// A task that must be done first (repeat for more)
    #[arg(short = 'd', long = "dependency", value_name = "ID", value_parser = task_id)]
    pub dependencies: Vec<TaskId>,

    /// A file the task concerns (repeat for more)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<String>,

    /// A hint for the agent that takes the task
    #[arg(long, value_name = "TEXT")]
    pub hint: Option<String>,

    /// The model for this task's agent [default: the workspace's model]
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,

    /// Add every task of a JSON file (`-` reads standard input): a list of
    /// {description, priority, dependencies, context_files, hints, parent_task,
    /// model}. A dependency or parent_task may name another task of the same batch
    /// by the id it will have. Prints the new ids.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["priority", "dependencies", "files", "hint", "model"]
    )]
    pub batch: Option<PathBuf>,
}

/// `baton edit`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true).args(
    ["description", "priority", "dependencies", "no_deps", "files", "no_files", "hint", "model"]
))]
pub struct EditArgs {
    /// The task's id
    #[arg(value_name = "ID", value_parser = task_id)]
    pub task: TaskId,

    /// The new description
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// The new priority, from 1 (most urgent) to 10
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub priority: Option<u8>,

    /// A task that must be done first (repeat for more); replaces every dependency
    #[arg(short = 'd', long = "dependency", value_name = "ID", value_parser = task_id)]
    pub dependencies: Vec<TaskId>,

    /// Remove every dependency
    #[arg(long, conflicts_with = "dependencies")]
    pub no_deps: bool,

    /// A file the task concerns (repeat for more); replaces every file
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<String>,

    /// Remove every file
    #[arg(long, conflicts_with = "files")]
    pub no_files: bool,

    /// The new hint for the agent that takes the task
    #[arg(long, value_name = "TEXT")]
    pub hint: Option<String>,

    /// The model for the task's agent from its next attempt; `none`: the workspace's
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
}

/// `baton complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The task's id
    #[arg(value_name = "ID", value_parser = task_id)]
    pub task: TaskId,

    /// What the work produced
    #[arg(long, value_name = "TEXT")]
    pub output: Option<String>,

    /// A file the work changed (repeat for more)
    #[arg(long = "modified", value_name = "FILE")]
    pub modified: Vec<String>,

    /// A file the work created (repeat for more)
    #[arg(long = "created", value_name = "FILE")]
    pub created: Vec<String>,

    /// A finding shared with every agent and kept in the task's result, as `baton
    /// discover --task ID` would share it (repeat for more)
    #[arg(long = "discovery", value_name = "TEXT")]
    pub discoveries: Vec<String>,
}

/// `baton mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The agent the tools act for
    #[arg(long, value_name = "ID", value_parser = agent_id)]
    pub agent: String,

    /// The task the agent works on: its discoveries concern it, the tasks it adds are
    /// its subtasks, and fail_task gives it up
    #[arg(long, value_name = "ID", value_parser = task_id)]
    pub task: Option<TaskId>,
}

/// `baton daemon …`.
#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the workspace's daemon unless it runs, and say where it is
    Start,
    /// End the workspace's daemon, stopping a run first; the next command starts a
    /// new one (`baton stop` stops only the run)
    Stop,
    /// Say whether the workspace's daemon runs, and where
    Status,
}

/// Task ids are free text on the wire; an empty one can only be a typing slip.
fn task_id(text: &str) -> Result<TaskId, String> {
    if text.trim().is_empty() {
        Err("a task id cannot be empty; `baton tasks` lists the ids".into())
    } else {
        Ok(TaskId::from(text))
    }
}

fn log_source(text: &str) -> Result<LogSource, String> {
    match text {
        "leader" => Ok(LogSource::Agent(RunAgent::Leader)),
        "summary" => Ok(LogSource::Agent(RunAgent::Summary)),
        _ => task_id(text).map(LogSource::Task),
    }
}

fn agent_id(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("an agent id cannot be empty; name the agent".into())
    } else {
        Ok(text.to_owned())
    }
}

/// Offers the protocol's own status names, so help and errors list them.
fn status_parser() -> impl TypedValueParser<Value = TaskStatus> {
    PossibleValuesParser::new(TaskStatus::ALL.map(TaskStatus::as_str))
        .try_map(|name| name.parse::<TaskStatus>())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_after_the_command_too() {
        let cli = Cli::try_parse_from(["baton", "tasks", "--json", "-C", "/tmp", "-v"]).unwrap();
        assert!(cli.json && cli.verbose);
        assert_eq!(cli.workspace, Some(PathBuf::from("/tmp")));
    }

    #[test]
    fn add_needs_a_description_or_a_batch_but_not_both() {
        assert!(Cli::try_parse_from(["baton", "add"]).is_err());
        assert!(Cli::try_parse_from(["baton", "add", "x", "--batch", "-"]).is_err());
        assert!(Cli::try_parse_from(["baton", "add", "--batch", "-", "-p", "2"]).is_err());
        assert!(Cli::try_parse_from(["baton", "add", "--batch", "-"]).is_ok());
    }

    #[test]
    fn priorities_outside_one_to_ten_are_bad_usage() {
        let err = Cli::try_parse_from(["baton", "add", "x", "-p", "11"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn mcp_needs_an_agent_and_takes_a_task() {
        assert!(Cli::try_parse_from(["baton", "mcp"]).is_err());
        assert!(Cli::try_parse_from(["baton", "mcp", "--agent", " "]).is_err());
        let cli = Cli::try_parse_from([
            "baton", "-C", "/tmp", "mcp", "--agent", "worker-1", "--task", "task-002",
        ])
        .unwrap();
        let Command::Mcp(args) = cli.command else {
            panic!("not mcp: {:?}", cli.command)
        };
        assert_eq!(args.agent, "worker-1");
        assert_eq!(args.task, Some(TaskId::from("task-002")));
    }

    #[test]
    fn edit_needs_something_to_change_and_one_way_to_set_dependencies() {
        assert_eq!(
            Cli::try_parse_from(["baton", "edit", "task-001"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert!(
            Cli::try_parse_from(["baton", "edit", "task-001", "-d", "task-002", "--no-deps"])
                .is_err()
        );
        assert!(Cli::try_parse_from(["baton", "edit", "task-001", "-p", "0"]).is_err());
        let cli = Cli::try_parse_from(["baton", "edit", "task-001", "--no-deps"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Edit(EditArgs { no_deps: true, .. })
        ));
        let cli = Cli::try_parse_from(["baton", "edit", "task-001", "--no-files"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Edit(EditArgs { no_files: true, .. })
        ));
        assert!(
            Cli::try_parse_from(["baton", "edit", "task-001", "-f", "a.rs", "--no-files"]).is_err()
        );
    }

    #[test]
    fn mcp_is_hidden_from_help_and_only_baton_itself_has_a_version() {
        let help = Cli::command().render_help().to_string();
        assert!(!help.contains("mcp"), "{help}");
        assert!(Cli::try_parse_from(["baton", "mcp", "--agent", "a"]).is_ok());
        let version = Cli::try_parse_from(["baton", "-V"]).unwrap_err();
        assert_eq!(version.kind(), clap::error::ErrorKind::DisplayVersion);
        let err = Cli::try_parse_from(["baton", "tasks", "-V"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn task_status_takes_the_protocol_names() {
        let cli = Cli::try_parse_from(["baton", "tasks", "--status", "in_progress"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Tasks {
                status: Some(TaskStatus::InProgress)
            }
        ));
        assert!(Cli::try_parse_from(["baton", "tasks", "--status", "busy"]).is_err());
    }
}
