//! The workspace's daemon: `baton daemon start|status|stop`.

use std::time::Duration;

use baton_protocol::methods::{self, DaemonInfoResult};
use baton_protocol::{client, Client, ClientError, ConnectConfig};

use crate::args::DaemonCommand;
use crate::{printable, render};

use super::{CommandError, Result, Session};

/// How long `baton daemon stop` waits for the daemon to exit: it finishes its
/// agents' shutdown and writes a snapshot first.
const STOP_WAIT: Duration = Duration::from_secs(30);

impl Session {
    pub(super) async fn daemon(&self, command: DaemonCommand) -> Result<()> {
        match command {
            DaemonCommand::Start => {
                let info = self.request::<methods::DaemonInfo>(&()).await?;
                self.show(&info, render::daemon_info)
            }
            DaemonCommand::Status => {
                let Some((_, info)) = self.running_daemon_info().await? else {
                    return self.show(&None::<DaemonInfoResult>, |_| self.no_daemon());
                };
                self.show(&info, render::daemon_info)
            }
            DaemonCommand::Stop => {
                let found = match self.running_daemon_info().await {
                    Err(CommandError::Client(ClientError::NotAnswering { limit })) => {
                        return self.end_stuck_daemon(limit).await;
                    }
                    found => found?,
                };
                let Some((client, info)) = found else {
                    return self.show(&None::<DaemonInfoResult>, |_| self.no_daemon());
                };
                match client.request::<methods::StopDaemon>(&()).await {
                    Ok(()) | Err(ClientError::Closed | ClientError::Stopped) => {}
                    Err(err) => return Err(err.into()),
                }
                drop(client);
                // The daemon lets go of the workspace as it exits: wait for that, so
                // that a command run right after this one starts a new daemon at once.
                client::wait_for_exit(info.pid, STOP_WAIT).await?;
                self.show(&info, |info| {
                    format!(
                        "stopped batond {} (pid {}) for {}",
                        info.version,
                        info.pid,
                        printable::name(&info.workspace)
                    )
                })
            }
        }
    }

    /// Connects to the workspace's daemon without starting one; `None` when none runs,
    /// or when the one found was stopping and closed the connection before the
    /// handshake ended (it ends without us). Any version will do, so that a daemon
    /// left from an older baton can be stopped. With `events`, the connection's end
    /// can be awaited through the event stream.
    pub(super) async fn running_daemon(&self, events: bool) -> Result<Option<Client>> {
        let config = ConnectConfig {
            start: false,
            events,
            any_version: true,
            ..ConnectConfig::default()
        };
        match self.connect_with(config).await {
            Ok(client) => Ok(Some(client)),
            Err(ClientError::Connect { .. } | ClientError::Closed | ClientError::Stopped) => {
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The running daemon and what it says of itself; `None` as for `running_daemon`,
    /// and when the daemon closed the connection instead of answering.
    async fn running_daemon_info(&self) -> Result<Option<(Client, DaemonInfoResult)>> {
        let Some(client) = self.running_daemon(false).await? else {
            return Ok(None);
        };
        match client.request::<methods::DaemonInfo>(&()).await {
            Ok(info) => Ok(Some((client, info))),
            Err(ClientError::Closed | ClientError::Stopped) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// `daemon stop` of a daemon that does not answer: it is ended as a crash would
    /// end it, and the next command starts a new one on the same state.
    async fn end_stuck_daemon(&self, limit: Duration) -> Result<()> {
        let pid = client::end_stuck_daemon(&self.workspace, STOP_WAIT).await?;
        let said = format!(
            "batond (pid {pid}) did not answer within {}s; ended it with SIGKILL, losing \
             nothing it acknowledged (the next command starts a new daemon on the same state)",
            limit.as_secs()
        );
        self.show(&serde_json::json!({ "pid": pid, "killed": true }), |_| said)
    }

    fn no_daemon(&self) -> String {
        let root = self.workspace.root().display().to_string();
        format!("no daemon runs for {}", printable::name(&root))
    }
}
