//! The board as a whole, kept and brought back: `baton history`, `reset`, `save`,
//! `load`, `restore`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use baton_protocol::methods::{self, StateFile};
use baton_protocol::{client, ClientError};

use crate::render;

use super::{CommandError, Result, Session};

impl Session {
    pub(super) async fn save(&self, file: &Path) -> Result<()> {
        let file = state_file(file)?;
        let saved = self.request::<methods::SaveState>(&file).await?;
        self.show(&saved, render::saved)
    }

    pub(super) async fn load(&self, file: &Path) -> Result<()> {
        let file = state_file(file)?;
        let before = self.request::<methods::GetConfig>(&()).await?;
        let status = self.request::<methods::LoadState>(&file).await?;
        self.show(&status, |status| {
            format!(
                "loaded {}  {}",
                file.path,
                render::progress(&status.progress)
            )
        })?;
        if !self.json {
            let after = self.request::<methods::GetConfig>(&()).await?;
            let changed = render::changed_settings(&before, &after);
            if !changed.is_empty() {
                self.note(&format!(
                    "settings as the file has them: {}",
                    changed.join("; ")
                ));
            }
        }
        Ok(())
    }

    pub(super) async fn history(&self) -> Result<()> {
        let boards = self.request::<methods::History>(&()).await?;
        if boards.is_empty() && !self.json {
            self.note("no archived board yet: a new goal or `baton reset` archives one");
        }
        self.show(&boards, |boards| render::history(boards))
    }

    pub(super) async fn reset(&self, yes: bool) -> Result<()> {
        if !yes {
            let status = self.request::<methods::GetStatus>(&()).await?;
            let discoveries = self.request::<methods::ListDiscoveries>(&()).await?.len();
            let question = format!(
                "Clear the board ({}, {})? It is archived first (`baton history`). [y/N] ",
                render::count(status.progress.total_tasks, "task", "tasks"),
                render::count(discoveries, "discovery", "discoveries")
            );
            if !confirmed(&question)? {
                return Err(CommandError::Input(
                    "nothing was changed; `baton reset --yes` clears the board without asking"
                        .into(),
                ));
            }
        }
        let reset = self.request::<methods::Reset>(&()).await?;
        self.show(&reset, |reset| match &reset.archived {
            Some(board) => format!(
                "board cleared; the earlier one is archived as {} (`baton load {}` brings it back)",
                board.name, board.path
            ),
            None => "board cleared; it held nothing to archive".into(),
        })
    }

    /// Replaces a stopped workspace's state with a snapshot or a saved file, through
    /// `batond --restore` (the store is the daemon's to write).
    pub(super) async fn restore(&self, from: Option<&Path>, yes: bool) -> Result<()> {
        if let Some(client) = self.running_daemon(false).await? {
            let info = client.request::<methods::DaemonInfo>(&()).await?;
            return Err(CommandError::Input(format!(
                "batond (pid {}) serves this workspace; `baton daemon stop` it, then restore",
                info.pid
            )));
        }
        let mut command = tokio::process::Command::new(client::daemon_program());
        command
            .arg("--workspace")
            .arg(self.workspace.root())
            .arg("--restore");
        if let Some(from) = from {
            let from = std::path::absolute(from)
                .map_err(|err| CommandError::Input(format!("{}: {err}", from.display())))?;
            command.arg("--from").arg(from);
        }
        if yes {
            command.arg("--yes");
        }
        let output = command
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|err| {
                CommandError::Input(format!(
                    "cannot run {}: {err}",
                    client::daemon_program().display()
                ))
            })?;
        let said = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(bytes);
            let line = text.lines().last().unwrap_or_default();
            line.strip_prefix("batond: ").unwrap_or(line).to_owned()
        };
        if !output.status.success() {
            return Err(ClientError::Refused(said(&output.stderr)).into());
        }
        let message = said(&output.stdout);
        self.show(&serde_json::json!({ "message": message }), |_| {
            message.clone()
        })
    }
}

/// The daemon reads state files from its own directory: give it an absolute path,
/// taken from where the user stands.
fn state_file(file: &Path) -> Result<StateFile> {
    let path: PathBuf = std::path::absolute(file)
        .map_err(|err| CommandError::Input(format!("{}: {err}", file.display())))?;
    let path = path.into_os_string().into_string().map_err(|path| {
        CommandError::Input(format!(
            "{} is not valid UTF-8; choose another file name",
            PathBuf::from(path).display()
        ))
    })?;
    Ok(StateFile { path })
}

/// Asks a yes-or-no question at the terminal; no terminal means no.
fn confirmed(question: &str) -> Result<bool> {
    use std::io::IsTerminal;
    if !io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{question}");
    io::stderr().flush()?;
    let mut answer = String::new();
    io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_are_sent_as_absolute_paths() {
        let file = state_file(Path::new("state.json")).unwrap();
        let expected = std::env::current_dir().unwrap().join("state.json");
        assert_eq!(Path::new(&file.path), expected);
    }
}
