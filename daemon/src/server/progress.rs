//! A run as LSP work-done progress (`$/progress`), so that editors show it in their
//! status bar: begun when a run starts, reported as tasks change, ended with the run.
//! It counts the run's tasks (`Board::progress_counts`), not what earlier runs did,
//! and says it in the line `baton run` and `baton watch` show (`views::progress`).

use baton_protocol::views::progress;
use baton_protocol::{Event, Progress};
use tower_lsp::lsp_types::notification::Progress as ProgressNotification;
use tower_lsp::lsp_types::request::WorkDoneProgressCreate;
use tower_lsp::lsp_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressCreateParams, WorkDoneProgressEnd, WorkDoneProgressReport,
};

use super::Daemon;
use crate::core::Board;

/// One client's view of the run's progress.
#[derive(Default)]
pub struct RunProgress {
    token: Option<NumberOrString>,
    runs: u32,
    last: Option<(String, u32)>,
}

impl RunProgress {
    /// Updates the client's progress for one event.
    pub async fn follow(&mut self, client: &tower_lsp::Client, daemon: &Daemon, event: &Event) {
        match event {
            // A task's event may have begun this run's progress already.
            Event::RunStarted(_) if self.token.is_none() => self.begin(client, daemon).await,
            Event::RunFinished(result) => {
                let Some(token) = self.token.take() else {
                    return;
                };
                let message = format!(
                    "{} done, {} failed",
                    result.tasks_completed, result.tasks_failed
                );
                let end = WorkDoneProgress::End(WorkDoneProgressEnd {
                    message: Some(message),
                });
                send(client, token, end).await;
            }
            Event::TaskCreated(_)
            | Event::TaskUpdated(_)
            | Event::TaskCompleted(_)
            | Event::TaskFailed(_)
            | Event::TaskDeleted(_) => {
                let Some(token) = self.token.clone() else {
                    return;
                };
                // Read now, not when the event happened: once the run has ended, the
                // board's counts are no longer the run's, and its end comes next.
                let Some(now) = daemon.orchestrator.read(|board| {
                    let counts = board.run_progress()?;
                    Some(text(board, Progress::of(counts, board.held_by_stage())))
                }) else {
                    return;
                };
                if self.last.as_ref() == Some(&now) {
                    return;
                }
                self.last = Some(now.clone());
                let report = WorkDoneProgress::Report(WorkDoneProgressReport {
                    cancellable: Some(false),
                    message: Some(now.0),
                    percentage: Some(now.1),
                });
                send(client, token, report).await;
            }
            _ => {}
        }
    }

    /// Begins the progress of a run already going when the client connected, so that
    /// it shows where the run is before any task changes.
    pub async fn join(&mut self, client: &tower_lsp::Client, daemon: &Daemon) {
        if daemon.runtime.is_busy() {
            self.begin(client, daemon).await;
        }
    }

    async fn begin(&mut self, client: &tower_lsp::Client, daemon: &Daemon) {
        self.runs += 1;
        let token = NumberOrString::String(format!("baton-run-{}", self.runs));
        let created = client
            .send_request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams {
                token: token.clone(),
            })
            .await;
        if created.is_err() {
            // The client wants no progress; it is asked again at the next run.
            return;
        }
        let (message, percentage) = daemon.orchestrator.read(|board| {
            text(
                board,
                Progress::of(board.progress_counts(), board.held_by_stage()),
            )
        });
        let begin = WorkDoneProgress::Begin(WorkDoneProgressBegin {
            title: "baton run".into(),
            cancellable: Some(false),
            message: Some(message),
            percentage: Some(percentage),
        });
        send(client, token.clone(), begin).await;
        self.token = Some(token);
        self.last = None;
    }
}

async fn send(client: &tower_lsp::Client, token: NumberOrString, value: WorkDoneProgress) {
    client
        .send_notification::<ProgressNotification>(ProgressParams {
            token,
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}

/// The progress line and percentage: the run's finished tasks out of all its
/// tasks, and what it waits for when nothing of its own moves it.
fn text(board: &Board, counts: Progress) -> (String, u32) {
    let agents = board.run().map_or(0, |run| run.seats().len());
    let mut line = progress::line(&counts, agents);
    if let Some(waiting) = progress::waiting(&board.outside_claims_waited_for()) {
        line.push_str("; ");
        line.push_str(&waiting);
    }
    (line, counts.percent_complete)
}
