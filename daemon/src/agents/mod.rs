//! The agent runtime: real Claude Code processes on the workspace's tasks.
//!
//! `stream` reads Claude Code's stream-json, `prompts` fills the prompt templates,
//! `command` builds the command lines, `process` runs one agent and ends everything
//! it started, `worktrees` (over `git`) gives each task a branch of its own and
//! merges it back, `snapshot` sees what a task changed in a shared workspace, and
//! `runtime` runs the plan: dispatch, the leader, the summary.

mod command;
mod git;
mod process;
mod prompts;
mod runtime;
mod snapshot;
mod stream;
mod worktrees;

pub use runtime::Runtime;
