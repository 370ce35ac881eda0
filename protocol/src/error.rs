//! The errors a daemon answers with: one kind per exception of the reference, plus
//! invalid input. Each kind has a stable JSON-RPC code and travels as `data.kind`.

use serde::{Deserialize, Serialize};

/// Which of the reference's exceptions an error stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The operation is not possible in the current state (the reference's base error).
    OrchestrationError,
    TaskNotFoundError,
    AgentNotFoundError,
    TimeoutError,
    /// The request itself is wrong: nothing was changed; fix the input and ask again.
    InvalidInputError,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::OrchestrationError,
        ErrorKind::TaskNotFoundError,
        ErrorKind::AgentNotFoundError,
        ErrorKind::TimeoutError,
        ErrorKind::InvalidInputError,
    ];

    /// The JSON-RPC error code, in the range JSON-RPC leaves to servers.
    pub fn code(self) -> i64 {
        match self {
            ErrorKind::OrchestrationError => -32010,
            ErrorKind::TaskNotFoundError => -32011,
            ErrorKind::AgentNotFoundError => -32012,
            ErrorKind::TimeoutError => -32013,
            ErrorKind::InvalidInputError => -32014,
        }
    }

    /// The kind a code stands for. JSON-RPC's own "invalid params" is invalid input too.
    pub fn from_code(code: i64) -> Option<ErrorKind> {
        if code == -32602 {
            return Some(ErrorKind::InvalidInputError);
        }
        ErrorKind::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

/// What an error is about, where a client may offer its own way out: the message
/// names a `baton` command, which an editor replaces with a button of its own.
/// Travels as `data.cause`; an error without one has no such remedy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCause {
    /// A run is going: stop it first, or follow it.
    RunGoing,
    /// Leader planning needs a goal: set one first.
    NoGoal,
    /// A run of the tasks there are found none waiting: add one, or retry one.
    NothingToRun,
    /// The workspace is not a git repository, so there are no worktrees or branches.
    NotAGitRepository,
}

/// An error as a daemon reports it: a kind and a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BatonError {
    pub kind: ErrorKind,
    pub message: String,
    pub cause: Option<ErrorCause>,
}

impl BatonError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BatonError {
            kind,
            message: message.into(),
            cause: None,
        }
    }

    /// The same error, saying what it is about.
    pub fn with_cause(self, cause: ErrorCause) -> Self {
        BatonError {
            cause: Some(cause),
            ..self
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        BatonError::new(ErrorKind::InvalidInputError, message)
    }

    pub fn orchestration(message: impl Into<String>) -> Self {
        BatonError::new(ErrorKind::OrchestrationError, message)
    }

    pub fn task_not_found(id: &crate::TaskId) -> Self {
        BatonError::new(
            ErrorKind::TaskNotFoundError,
            format!("task {id} not found; `baton tasks` lists the ids"),
        )
    }
}
