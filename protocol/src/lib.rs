//! baton's protocol: the wire types of the reference's data model, every method and
//! notification, the errors, and the client that finds, starts and talks to a
//! workspace's daemon. The daemon, the CLI, the MCP bridge and the tests share it.

pub mod agent_env;
pub mod agent_result;
pub mod changes;
pub mod client;
pub mod error;
pub mod framing;
pub mod methods;
pub mod model;
#[cfg(unix)]
pub mod printable;
pub mod private;
pub mod progress;
pub mod prompts;
pub mod regular_file;
pub mod review;
pub mod secrets;
pub mod stages;
pub mod task_id;
pub mod timeline;
pub mod timestamp;
pub mod views;
pub mod workspace;

pub use agent_env::AgentEnv;
pub use changes::{ChangedFile, FileChange, TaskChangesResult};
pub use client::{Client, ClientError, ConnectConfig, EXIT_LOCK_HELD, VERSION};
pub use error::{BatonError, ErrorCause, ErrorKind};
pub use methods::Event;
pub use model::*;
pub use progress::{ByStatus, Progress};
pub use review::{ReviewTaskParams, ReviewVerdict};
pub use stages::{ByStage, HeldByStage, StageTally};
pub use timeline::{AgentKind, AttemptOutcome, AttemptRecord, Timeline};
pub use workspace::{RunningDaemon, Workspace};
