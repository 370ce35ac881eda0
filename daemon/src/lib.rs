//! batond: the per-workspace daemon.
//!
//! `core` holds the state and its rules and does no I/O; `store` persists what the
//! core decided; `orchestrator` owns both and is the one way to change state;
//! `agents` runs Claude Code on the tasks; `server` speaks the protocol to clients;
//! `memory` gives back what the daemon freed; `log_lines` keeps its log one line a
//! record. Dependencies point inward.

pub mod agents;
pub mod core;
pub mod log_lines;
pub mod memory;
pub mod orchestrator;
pub mod server;
pub mod store;
