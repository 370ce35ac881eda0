//! The `claude` command lines baton runs: a worker on a task, the leader planning,
//! a reviewer reading a task's work, and the summary at the end of a run.

use std::path::Path;

use baton_protocol::{agent_env, AgentEnv, BatonError, Config};

use super::claude_config::{self, OwnConfig};
use super::process::Environment;

/// Tools the leader may use: it explores and plans, it does not change files.
const LEADER_TOOLS: [&str; 3] = ["Read", "Glob", "Grep"];
const LEADER_FORBIDDEN: [&str; 5] = ["Write", "Edit", "MultiEdit", "NotebookEdit", "Bash"];
/// Every tool of the `baton` MCP server.
const BATON_TOOLS: &str = "mcp__baton";
/// Tools a reviewer may use: it reads, and answers with its verdict.
const REVIEWER_TOOLS: [&str; 4] = ["Read", "Grep", "Glob", "mcp__baton__review_task"];

/// What kind of agent a command line is for.
pub enum Role<'a> {
    /// `budget_usd` is what is left of the task's budget: Claude Code's own
    /// `--max-budget-usd`, a second guard beside the daemon's count.
    Worker {
        resume: Option<&'a str>,
        budget_usd: Option<f64>,
    },
    Leader,
    /// Reads a task's work and gives its verdict; it changes nothing. `budget_usd`
    /// is what is left of the task's budget, which its review is paid from.
    Reviewer {
        budget_usd: Option<f64>,
    },
    Summary,
}

/// The arguments of a `claude` run in headless mode. The prompt is not among them:
/// it goes to the agent's standard input (see [`Launch::prompt`]).
///
/// [`Launch::prompt`]: super::process::Launch::prompt
pub fn arguments(config: &Config, role: Role<'_>, mcp_config: Option<&Path>) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-p".into(),
        "--output-format".into(),
        "stream-json".into(),
        "--verbose".into(),
        // Each model turn's output tokens are known only once the turn ends, in the
        // partial messages' `message_delta`: without it a budget counts one token a
        // turn until the agent's final result, which a stopped agent never gives.
        "--include-partial-messages".into(),
        format!("--model={}", config.model),
    ];
    match role {
        Role::Worker { resume, budget_usd } => {
            args.extend(["--permission-mode".into(), config.permission_mode.clone()]);
            args.push("--allowedTools".into());
            args.extend(config.allowed_tools.iter().cloned());
            args.push(BATON_TOOLS.into());
            if let Some(session) = resume {
                // One argument, so that no session id can read as an option of its own.
                args.push(format!("--resume={session}"));
            }
            if let Some(budget) = budget_usd {
                args.extend(["--max-budget-usd".into(), format!("{budget:.6}")]);
            }
        }
        Role::Leader => {
            args.extend(["--permission-mode".into(), "default".into()]);
            args.push("--allowedTools".into());
            args.extend(LEADER_TOOLS.map(String::from));
            args.push(BATON_TOOLS.into());
            args.push("--disallowedTools".into());
            args.extend(LEADER_FORBIDDEN.map(String::from));
        }
        Role::Reviewer { budget_usd } => {
            args.extend(["--permission-mode".into(), "default".into()]);
            args.push("--allowedTools".into());
            args.extend(REVIEWER_TOOLS.map(String::from));
            args.push("--disallowedTools".into());
            args.extend(LEADER_FORBIDDEN.map(String::from));
            if let Some(budget) = budget_usd {
                args.extend(["--max-budget-usd".into(), format!("{budget:.6}")]);
            }
        }
        Role::Summary => {
            args.extend(["--permission-mode".into(), "default".into()]);
            args.push("--disallowedTools".into());
            args.extend(LEADER_FORBIDDEN.map(String::from));
        }
    }
    if let Some(path) = mcp_config {
        args.extend(["--mcp-config".into(), path.display().to_string()]);
    }
    args.extend(config.agent_args.iter().cloned());
    args
}

/// Refuses a run whose agents' program cannot start: each agent would fail the task
/// it took, and the user would reopen them one by one. A program named by a path
/// relative to the agent's checkout is left to the agents to find.
pub fn check_program(program: &str) -> Result<(), BatonError> {
    let by_path = program.contains('/');
    let found = match by_path {
        true => !Path::new(program).is_absolute() || executable(Path::new(program)),
        false => std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| executable(&dir.join(program)))
        }),
    };
    if found {
        return Ok(());
    }
    let looked = match by_path {
        true => "is not a program that can be run",
        false => "was not found in the daemon's PATH",
    };
    Err(BatonError::invalid(format!(
        "the agents' program `{program}` (agent_command) {looked}; install Claude Code \
         (`npm install -g @anthropic-ai/claude-code`) or set agent_command to where it is \
         (`baton config agent_command PATH`); no run was started"
    )))
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// An agent's environment: the daemon's own, with the variables Claude Code reads
/// to reach the model taken from the client that started the run when it sent them
/// (the daemon's own then do not pass), its own configuration directory, and
/// baton's markers.
pub fn environment(
    workspace: &Path,
    agent_id: &str,
    task: Option<&str>,
    client: Option<&AgentEnv>,
    own_config: Option<&OwnConfig>,
) -> Environment {
    let mut set = Vec::new();
    let mut unset = Vec::new();
    if let Some(client) = client {
        unset = std::env::vars()
            .map(|(name, _)| name)
            .filter(|name| agent_env::passes(name) && client.get(name).is_none())
            .collect();
        set.extend(
            client
                .vars()
                .map(|(name, value)| (name.to_owned(), value.to_owned())),
        );
    }
    if let Some(own_config) = own_config {
        set.retain(|(name, _)| !claude_config::names().contains(&name.as_str()));
        set.extend(own_config.vars());
    }
    set.extend([
        (
            super::process::WORKSPACE_MARKER.into(),
            workspace.display().to_string(),
        ),
        ("BATON_AGENT_ID".into(), agent_id.into()),
        // MCP tools stay loaded rather than deferred behind a tool search.
        ("ENABLE_TOOL_SEARCH".into(), "false".into()),
    ]);
    if let Some(task) = task {
        set.push(("BATON_TASK_ID".into(), task.into()));
    }
    Environment { set, unset }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_runs_headless_with_the_configured_model_tools_and_bridge() {
        let config = Config::default();
        let args = arguments(
            &config,
            Role::Worker {
                resume: Some("s-1"),
                budget_usd: Some(0.25),
            },
            Some(Path::new("/w/.baton/agents/worker-1.json")),
        );
        let line = args.join(" ");
        assert!(line.starts_with(
            "-p --output-format stream-json --verbose --include-partial-messages \
             --model=claude-sonnet-4-20250514"
        ));
        assert!(line.contains("--permission-mode acceptEdits"));
        assert!(line.contains("--allowedTools Read Write Edit Glob Grep Bash mcp__baton"));
        assert!(line.contains("--resume=s-1"));
        assert!(line.contains("--max-budget-usd 0.250000"));
        assert!(line.ends_with("--mcp-config /w/.baton/agents/worker-1.json"));
    }

    #[test]
    fn a_reviewer_may_read_and_give_its_verdict_but_not_write() {
        let role = Role::Reviewer {
            budget_usd: Some(0.5),
        };
        let args = arguments(&Config::default(), role, None).join(" ");
        assert!(args.contains("--permission-mode default"));
        assert!(args.contains("--allowedTools Read Grep Glob mcp__baton__review_task --"));
        assert!(args.contains("--disallowedTools Write Edit MultiEdit NotebookEdit Bash"));
        assert!(args.contains("--max-budget-usd 0.500000"));
        assert!(!args.contains("--resume"));
    }

    #[test]
    fn the_leader_may_read_and_plan_but_not_write() {
        let args = arguments(&Config::default(), Role::Leader, None).join(" ");
        assert!(args.contains("--allowedTools Read Glob Grep mcp__baton"));
        assert!(args.contains("--disallowedTools Write Edit MultiEdit NotebookEdit Bash"));
    }
}
