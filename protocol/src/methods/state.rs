//! The board kept, cleared and brought back, and the checkouts cleaned: `baton/saveState`,
//! `baton/history`, `baton/reset`, `baton/clean`, `baton/merge`.

use serde::{Deserialize, Serialize};

/// A state file, by absolute path (a relative one is taken from the workspace root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateFile {
    pub path: String,
}

/// What `baton/saveState` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedState {
    pub path: String,
    pub tasks: usize,
    pub discoveries: usize,
}

/// A board put aside: where it is and what it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedBoard {
    /// Its directory under `.baton/history`: when it was archived (to the
    /// microsecond, so names sort as the boards were archived), then its goal.
    pub name: String,
    /// Its state file, which `baton/loadState` takes to bring it back.
    pub path: String,
    pub goal: String,
    pub tasks: usize,
    pub done: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub discoveries: usize,
}

/// Parameters of `baton/clean`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanParams {
    /// Remove failed and cancelled tasks' branches too (their work goes).
    #[serde(default)]
    pub all: bool,
}

/// What `baton/clean` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanResult {
    /// The task branches removed.
    pub branches: Vec<String>,
    /// How many idle checkouts were removed.
    pub checkouts: usize,
}

/// What `baton/reset` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetResult {
    /// The board put aside; `null` when the board was empty.
    pub archived: Option<ArchivedBoard>,
}

/// What `baton/merge` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeResult {
    pub message: String,
}
