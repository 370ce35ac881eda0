//! The agent runtime: real Claude Code processes on the workspace's tasks.
//!
//! `stream` reads Claude Code's stream-json, `prompts` fills the prompt templates,
//! `command` builds the command lines, `process` runs one agent and ends everything
//! it started, and `runtime` runs the plan: dispatch, the leader, the summary.

mod command;
mod process;
mod prompts;
mod runtime;
mod stream;

pub use runtime::Runtime;
