//! The requests that put a board aside or bring one in: the archiving before a new
//! goal, `reset`, `history`, and the state files of `saveState` and `loadState`.

use baton_protocol::methods as m;
use baton_protocol::{BatonError, CoordinationState, ErrorCause, Status, TaskId};

use super::connection::{blocking, to_rpc, Answer, Connection};
use super::params::Checked;
use super::{archive, state_file};
use crate::core::validate;

impl Connection {
    /// Archives the board before a new goal, when it has finished work.
    pub(super) async fn put_aside_for(&self, goal: &str) -> Answer<Option<m::ArchivedBoard>> {
        self.put_aside(
            |state| state.goal != goal && archive::has_finished_work(state),
            None,
        )
        .await
    }

    /// Archives the board (state and logs, under `.baton/history`) and replaces it
    /// with `next`, or empties it keeping the configuration, when `worth` says so of
    /// it: in one change, so that no request sees a board between the two. Refused
    /// while a run goes; a board that changes meanwhile is left as it is.
    pub(super) async fn put_aside(
        &self,
        worth: impl FnOnce(&CoordinationState) -> bool,
        next: Option<CoordinationState>,
    ) -> Answer<Option<m::ArchivedBoard>> {
        let state = self.daemon.orchestrator.read(|board| board.state());
        if !worth(&state) {
            return Ok(None);
        }
        // Asked here to answer before the archive is written; what counts is the
        // change below, which a run started meanwhile refuses (the board changed, and
        // `load` refuses while a run goes).
        if self.daemon.runtime.is_busy() {
            return Err(to_rpc(
                BatonError::orchestration(
                    "a run is going; `baton stop` it before the board is put aside",
                )
                .with_cause(ErrorCause::RunGoing),
            ));
        }
        let workspace = self.workspace()?;
        let tasks: Vec<TaskId> = state.tasks.iter().map(|task| task.id.clone()).collect();
        let kept = state.clone();
        let archiving = workspace.clone();
        let archived = blocking(move || archive::archive(&archiving, &kept)).await?;
        let next = next.unwrap_or_else(|| archive::emptied(&state));
        let replaced = self
            .apply(move |board, now| {
                if board.state() != state {
                    return Err(BatonError::orchestration(
                        "the board changed while it was being archived; it stays as it is, \
                         with its logs; ask again",
                    ));
                }
                Ok(((), board.load(next, now)?))
            })
            .await;
        match replaced {
            Ok(()) => {}
            Err(refused) => {
                // The board stays: its logs come back beside it, and the copy goes.
                let name = archived.name.clone();
                let undone = blocking(move || archive::restore_logs(&workspace, &name)).await;
                if let Err(err) = undone {
                    tracing::warn!("{}", err.message);
                }
                return Err(refused);
            }
        }
        // Marked until its branches moved aside too: a daemon killed before that
        // moves them as it starts (`finish_pending`).
        let moved = (self.daemon.runtime)
            .put_aside_branches(&tasks, &archived.name)
            .await;
        archive::settled(&workspace, &archived.name);
        moved.map_err(to_rpc)?;
        Ok(Some(archived))
    }

    pub(super) async fn history(&self) -> Answer<Vec<m::ArchivedBoard>> {
        let workspace = self.workspace()?;
        blocking(move || Ok(archive::history(&workspace))).await
    }

    pub(super) async fn reset(&self) -> Answer<m::ResetResult> {
        let archived = self.put_aside(archive::has_work, None).await?;
        if archived.is_none() {
            // Nothing worth archiving: emptied in one change, which a run going refuses.
            self.apply(|board, now| {
                if board.run().is_some() {
                    return Err(crate::core::already_running());
                }
                let empty = archive::emptied(&board.state());
                Ok(((), board.load(empty, now)?))
            })
            .await?;
        }
        Ok(m::ResetResult { archived })
    }

    pub(super) async fn save_state(
        &self,
        Checked(params): Checked<m::StateFile>,
    ) -> Answer<m::SavedState> {
        let path = state_file::resolve(&self.daemon.workspace, &params.path).map_err(to_rpc)?;
        state_file::refuse_daemon_files(&self.daemon.workspace, &path).map_err(to_rpc)?;
        let mut state = self.daemon.orchestrator.read(|board| board.state());
        // The reference writes its orchestrator's directory; the daemon's is its
        // workspace, whatever a loaded file said.
        state.working_directory = self.daemon.workspace.display().to_string();
        let saved = m::SavedState {
            path: path.display().to_string(),
            tasks: state.tasks.len(),
            discoveries: state.discoveries.len(),
        };
        blocking(move || state_file::write(&path, &state)).await?;
        Ok(saved)
    }

    pub(super) async fn load_state(
        &self,
        Checked(params): Checked<m::StateFile>,
    ) -> Answer<Status> {
        let path = state_file::resolve(&self.daemon.workspace, &params.path).map_err(to_rpc)?;
        let state = blocking(move || state_file::read(&path)).await?;
        // Asked here to answer before the board is archived; what counts is the same
        // check inside the load below.
        if self.daemon.runtime.is_busy() {
            return Err(to_rpc(
                BatonError::orchestration(
                    "a run is going; `baton stop` it before loading another state",
                )
                .with_cause(ErrorCause::RunGoing),
            ));
        }
        // Checked whole before the current board is put aside (with its logs), so
        // that a bad file changes nothing.
        crate::core::Board::from_state(state.clone(), false).map_err(to_rpc)?;
        validate::state_texts(&state).map_err(to_rpc)?;
        validate::claims_dated_by(&state, chrono::Utc::now()).map_err(to_rpc)?;
        let replaced = self
            .put_aside(archive::has_work, Some(state.clone()))
            .await?;
        if replaced.is_none() {
            self.apply(|board, now| Ok(((), board.load(state, now)?)))
                .await?;
        }
        let workspace = self.workspace()?;
        let loaded = state_file::resolve(&self.daemon.workspace, &params.path).map_err(to_rpc)?;
        // An archived board brings back its logs and its tasks' branches; other state
        // files have none to bring.
        if let Some(archive) = archive::archive_of(&workspace, &loaded) {
            let name = archive.clone();
            blocking(move || archive::restore_logs(&workspace, &name)).await?;
            self.daemon
                .runtime
                .bring_back_branches(&archive)
                .await
                .map_err(to_rpc)?;
        }
        self.status().await
    }
}

/// Finishes putting aside the boards `settle_pending` kept (replaced by the time a
/// daemon was killed): their tasks' branches move aside, then the mark comes off.
pub async fn finish_pending(
    workspace: &baton_protocol::Workspace,
    runtime: &crate::agents::Runtime,
    kept: Vec<(String, Vec<TaskId>)>,
) {
    for (name, tasks) in kept {
        if let Err(err) = runtime.put_aside_branches(&tasks, &name).await {
            tracing::warn!("{}", err.message);
        }
        archive::settled(workspace, &name);
    }
}
