//! The core: baton's state and every rule about it, with no I/O. Operations take
//! plain data (and the current time as an argument) and return the events that
//! happened, which the server sends to clients; the board records which stored
//! records changed (`Changes`), which the store writes.

mod board;
mod changes;
pub mod pipeline;
pub mod price;
mod ready_queue;
pub mod run;
pub mod validate;

#[cfg(test)]
mod tests;

pub use board::{
    already_running, Attempt, Board, Closing, Finished, LostSpending, Meta, Review, RunStart,
};
pub use changes::Changes;
pub use run::clip;
pub use validate::{excerpt, patched_config};

use baton_protocol::Event;

/// What an operation did, in the order it happened.
pub type Events = Vec<Event>;
