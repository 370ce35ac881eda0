//! The agent runtime: real Claude Code processes on the workspace's tasks.
//!
//! `stream` reads Claude Code's stream-json, `prompts` fills the prompt templates,
//! `command` builds the command lines, `process` runs one agent and ends everything
//! it started, `worktrees` (over `git`) gives each task a branch of its own and
//! merges it back, `gate` takes finished work through verification to the
//! integration branch, `review` has a reviewer read it, `snapshot` sees what a task
//! changed in a shared workspace, `secrets` keeps the agents' keys out of what is
//! written, and
//! `runtime` carries out the run the core decides: dispatch, the leader, the
//! summary. `mcp_config` writes the MCP configuration each agent starts with;
//! `report` writes each run's markdown report when it ends, and `attempt_log` the
//! line closing each attempt in its task's log.

mod agent;
mod attempt_log;
mod claude_config;
mod command;
mod gate;
mod git;
mod mcp_config;
mod process;
mod prompts;
mod report;
mod review;
mod runtime;
mod secrets;
mod snapshot;
mod stream;
pub mod worktrees;

pub use runtime::Runtime;

use std::path::Path;

/// Ends every process any agent of `workspace` started, wherever it went: what a
/// daemon that died outright leaves behind.
pub fn end_agents_of(workspace: &Path) -> usize {
    process::kill_marked(process::WORKSPACE_MARKER, &workspace.display().to_string())
}
