//! One client's connection: the LSP lifecycle, every `baton/*` request, and the
//! forwarding of events to clients that asked for them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use baton_protocol::methods::{self as m, Request};
use baton_protocol::timeline::{Timeline, TimelineParams};
use baton_protocol::views::count;
use baton_protocol::{
    BatonError, Config, Discovery, ErrorCause, RunResult, Status, Task, Workspace, VERSION,
};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tower_lsp::jsonrpc::{self, ErrorCode};
use tower_lsp::lsp_types::{
    InitializeParams, InitializeResult, InitializedParams, ServerCapabilities, ServerInfo,
};
use tower_lsp::{ClientSocket, LanguageServer, LspService};

use super::params::Checked;
use super::transport::Frames;
use super::{bulk, forwarding, task_log, Daemon};
use crate::core::validate;
use crate::orchestrator::Operation;

pub(super) type Answer<T> = jsonrpc::Result<T>;

pub struct Connection {
    client: tower_lsp::Client,
    pub(super) daemon: Arc<Daemon>,
    /// Subscribed while answering `initialize`, so that no change made after the
    /// client's handshake can be missed; forwarded from `initialized` on.
    events: Mutex<Option<broadcast::Receiver<Arc<Operation>>>>,
    /// Closed when the daemon stops: the forwarding of events then sends what is
    /// queued and ends.
    closing: Mutex<Option<broadcast::Receiver<()>>>,
    /// Where the forwarding of events writes its frames.
    out: Mutex<Option<mpsc::Sender<Frames>>>,
    /// The forwarding of events, once the client asked for them.
    forwarder: Mutex<Option<JoinHandle<()>>>,
    /// From the answer to `initialize` until `shutdown`: when tower-lsp takes
    /// requests, and so may the ones answered without it ([`bulk`]).
    ready: AtomicBool,
}

/// The service for one connection, with every request routed; `closing` is closed
/// when the daemon stops; events go out through `out`. The requests [`bulk`]
/// answers are routed too: tower-lsp answers them before the handshake, after
/// `shutdown` and with parameters they do not take, each with its own error.
pub fn build(
    daemon: Arc<Daemon>,
    closing: broadcast::Receiver<()>,
    out: mpsc::Sender<Frames>,
) -> (LspService<Connection>, ClientSocket) {
    LspService::build(|client| Connection {
        client,
        daemon,
        events: Mutex::new(None),
        closing: Mutex::new(Some(closing)),
        out: Mutex::new(Some(out)),
        forwarder: Mutex::new(None),
        ready: AtomicBool::new(false),
    })
    .custom_method(m::Init::METHOD, Connection::init)
    .custom_method(m::Configure::METHOD, Connection::configure)
    .custom_method(m::GetConfig::METHOD, Connection::get_config)
    .custom_method(m::Start::METHOD, Connection::start)
    .custom_method(m::Stop::METHOD, Connection::stop)
    .custom_method(m::AddTask::METHOD, Connection::add_task)
    .custom_method(m::AddTasks::METHOD, Connection::add_tasks)
    .custom_method(m::ClaimTask::METHOD, Connection::claim_task)
    .custom_method(m::StartTask::METHOD, Connection::start_task)
    .custom_method(m::CompleteTask::METHOD, Connection::complete_task)
    .custom_method(m::FailTask::METHOD, Connection::fail_task)
    .custom_method(m::GetTask::METHOD, Connection::get_task)
    .custom_method(m::ListTasks::METHOD, Connection::list_tasks)
    .custom_method(m::CancelTask::METHOD, Connection::cancel_task)
    .custom_method(m::RetryTask::METHOD, Connection::retry_task)
    .custom_method(m::EditTask::METHOD, Connection::edit_task)
    .custom_method(m::DeleteTask::METHOD, Connection::delete_task)
    .custom_method(m::AddDiscovery::METHOD, Connection::add_discovery)
    .custom_method(m::ListDiscoveries::METHOD, Connection::list_discoveries)
    .custom_method(m::GetStatus::METHOD, Connection::status)
    .custom_method(m::SaveState::METHOD, Connection::save_state)
    .custom_method(m::LoadState::METHOD, Connection::load_state)
    .custom_method(m::SetMasterPlan::METHOD, Connection::set_master_plan)
    .custom_method(m::ReviewTask::METHOD, Connection::review_task)
    .custom_method(m::Run::METHOD, Connection::run)
    .custom_method(m::TaskLog::METHOD, Connection::task_log)
    .custom_method(m::AgentLog::METHOD, Connection::agent_log)
    .custom_method(m::Merge::METHOD, Connection::merge)
    .custom_method(m::GetTimeline::METHOD, Connection::timeline)
    .custom_method(m::TaskChanges::METHOD, Connection::task_changes)
    .custom_method(m::History::METHOD, Connection::history)
    .custom_method(m::Reset::METHOD, Connection::reset)
    .custom_method(m::Clean::METHOD, Connection::clean)
    .custom_method(m::DaemonInfo::METHOD, Connection::daemon_info)
    .custom_method(m::StopDaemon::METHOD, Connection::stop_daemon)
    .finish()
}

/// `work` on a thread that may block (files, large copies), its error as an answer.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BatonError> + Send + 'static,
) -> Answer<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| to_rpc(BatonError::orchestration(err.to_string())))?
        .map_err(to_rpc)
}

/// A daemon error as JSON-RPC carries it: a stable code, `data.kind` and, when the
/// error has one, `data.cause`.
pub fn to_rpc(err: BatonError) -> jsonrpc::Error {
    let data = match err.cause {
        Some(cause) => json!({ "kind": err.kind, "cause": cause }),
        None => json!({ "kind": err.kind }),
    };
    jsonrpc::Error {
        code: ErrorCode::ServerError(err.kind.code()),
        message: err.message.into(),
        data: Some(data),
    }
}

#[tower_lsp::async_trait]
impl LanguageServer for Connection {
    async fn initialize(&self, params: InitializeParams) -> Answer<InitializeResult> {
        let wants_events = params
            .initialization_options
            .as_ref()
            .and_then(|options| options.get("events"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if wants_events {
            *self.events.lock().expect("events lock") = Some(self.daemon.orchestrator.subscribe());
        }
        self.ready.store(true, Ordering::SeqCst);
        Ok(InitializeResult {
            capabilities: ServerCapabilities::default(),
            server_info: Some(ServerInfo {
                name: "batond".into(),
                version: Some(VERSION.into()),
            }),
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let events = self.events.lock().expect("events lock").take();
        let closing = self.closing.lock().expect("closing lock").take();
        let out = self.out.lock().expect("out lock").take();
        if let (Some(events), Some(closing), Some(out)) = (events, closing, out) {
            let forwarder = tokio::spawn(forwarding::forward_events(
                self.client.clone(),
                self.daemon.clone(),
                events,
                closing,
                out,
            ));
            *self.forwarder.lock().expect("forwarder lock") = Some(forwarder);
        }
    }

    async fn shutdown(&self) -> Answer<()> {
        self.ready.store(false, Ordering::SeqCst);
        Ok(())
    }
}

impl Connection {
    /// The answer to a request whose answer grows with the board or the batch, made
    /// from baton's values ([`bulk`]) while the connection takes requests; `None`
    /// leaves the request to tower-lsp.
    pub fn answering(&self, request: &jsonrpc::Request) -> Option<bulk::Answering> {
        if !self.ready.load(Ordering::SeqCst) {
            return None;
        }
        bulk::answering(&self.daemon.orchestrator, request)
    }

    /// Waits until the forwarding of events has ended (at once when the client asked
    /// for none); it ends once the daemon stops and what was queued is sent.
    pub async fn events_forwarded(&self) {
        let forwarder = self.forwarder.lock().expect("forwarder lock").take();
        if let Some(forwarder) = forwarder {
            let _ = forwarder.await;
        }
    }

    /// Ends the forwarding of events at once, for a client that went away.
    pub fn stop_forwarding(&self) {
        if let Some(forwarder) = self.forwarder.lock().expect("forwarder lock").take() {
            forwarder.abort();
        }
    }

    pub(super) async fn apply<T>(
        &self,
        operation: impl FnOnce(
            &mut crate::core::Board,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<(T, crate::core::Events), BatonError>,
    ) -> Answer<T> {
        self.daemon
            .orchestrator
            .apply(operation)
            .await
            .map_err(to_rpc)
    }

    fn read<T>(
        &self,
        reader: impl FnOnce(&crate::core::Board) -> Result<T, BatonError>,
    ) -> Answer<T> {
        self.daemon.orchestrator.read(reader).map_err(to_rpc)
    }

    async fn init(&self, Checked(params): Checked<m::InitParams>) -> Answer<Status> {
        // Bad input changes nothing: checked on a copy before the board is put aside.
        let check = params.clone();
        self.read(|board| board.clone().init(check, chrono::Utc::now()).map(drop))?;
        if !params.keep {
            self.put_aside_for(&params.goal).await?;
        }
        self.apply(|board, now| Ok(((), board.init(params, now)?)))
            .await?;
        self.status().await
    }

    pub(super) fn workspace(&self) -> Answer<Workspace> {
        Workspace::at(&self.daemon.workspace).map_err(|err| {
            to_rpc(BatonError::orchestration(format!(
                "the workspace {} cannot be read: {err}",
                self.daemon.workspace.display()
            )))
        })
    }

    async fn clean(&self, Checked(params): Checked<m::CleanParams>) -> Answer<m::CleanResult> {
        self.daemon.runtime.clean(params.all).await.map_err(to_rpc)
    }

    async fn configure(&self, Checked(patch): Checked<m::ConfigPatch>) -> Answer<Config> {
        self.apply(|board, now| {
            let events = board.configure(&patch, now)?;
            Ok((board.config().clone(), events))
        })
        .await
    }

    async fn get_config(&self) -> Answer<Config> {
        self.read(|board| Ok(board.config().clone()))
    }

    /// The reference's `start`: dispatch the tasks there are, without waiting, with the
    /// daemon's own environment (`baton/run` carries the client's).
    async fn start(&self) -> Answer<Status> {
        let waiting = self
            .daemon
            .orchestrator
            .read(crate::core::Board::unfinished);
        if waiting > 0 {
            let started = self
                .daemon
                .runtime
                .run(m::RunParams::predefined(), Vec::new())
                .await;
            match started {
                Err(err) if err.cause != Some(ErrorCause::RunGoing) => return Err(to_rpc(err)),
                _ => {}
            }
        }
        self.status().await
    }

    async fn stop(&self) -> Answer<Status> {
        self.daemon.runtime.stop("stopped by the user").await;
        self.status().await
    }

    /// Starts a run; whether one is going is checked inside the change that starts
    /// it, which also sets the goal when one is given.
    async fn run(&self, Checked(params): Checked<m::RunParams>) -> Answer<Option<RunResult>> {
        let mut notes = Vec::new();
        if let Some(goal) = &params.goal {
            validate::goal(goal).map_err(to_rpc)?;
            // A new goal puts the board with finished work aside first; not while a
            // run goes (the start below refuses then too).
            if !self.daemon.runtime.is_busy() {
                match self.put_aside_for(goal).await? {
                    Some(archived) => {
                        let finished = archived.done + archived.failed + archived.cancelled;
                        let unfinished = archived.tasks.saturating_sub(finished);
                        let left = match unfinished {
                            0 => String::new(),
                            n => format!(", {n} of them not finished"),
                        };
                        notes.push(format!(
                            "the earlier board ({}{left}) was archived as {}: `baton history` \
                             lists it, `baton load` brings it back",
                            count(archived.tasks, "task", "tasks"),
                            archived.name
                        ))
                    }
                    // The same goal keeps the board: what waits on it runs too.
                    None => match self.read(|board| Ok(board.counts().available))? {
                        0 => {}
                        waiting => notes.push(format!(
                            "{} on the board {} too, with what the leader plans \
                             (`baton reset` starts from an empty board)",
                            count(waiting, "task already waiting", "tasks already waiting"),
                            if waiting == 1 { "runs" } else { "run" }
                        )),
                    },
                }
            }
        }
        self.daemon.runtime.run(params, notes).await.map_err(to_rpc)
    }

    async fn merge(&self) -> Answer<m::MergeResult> {
        let message = self.daemon.runtime.merge().await.map_err(to_rpc)?;
        Ok(m::MergeResult { message })
    }

    async fn task_changes(
        &self,
        Checked(params): Checked<m::TaskRef>,
    ) -> Answer<baton_protocol::TaskChangesResult> {
        let changes = self.daemon.runtime.task_changes(&params.task_id).await;
        changes.map_err(to_rpc)
    }

    async fn task_log(
        &self,
        Checked(params): Checked<m::TaskLogParams>,
    ) -> Answer<m::TaskLogChunk> {
        self.read(|board| board.task(&params.task_id).map(|_| ()))?;
        let path = self.daemon.runtime.task_log(&params.task_id);
        blocking(move || task_log::read(&path, params.offset)).await
    }

    async fn agent_log(
        &self,
        Checked(params): Checked<m::AgentLogParams>,
    ) -> Answer<m::TaskLogChunk> {
        let workspace = baton_protocol::Workspace::at(&self.daemon.workspace)
            .map_err(|err| to_rpc(BatonError::orchestration(err.to_string())))?;
        let path = match params.agent {
            m::RunAgent::Leader => workspace.leader_log(),
            m::RunAgent::Summary => workspace.summary_log(),
        };
        blocking(move || task_log::read(&path, params.offset)).await
    }

    async fn add_task(&self, Checked(task): Checked<m::NewTask>) -> Answer<Task> {
        let mut tasks = self
            .apply(|board, now| board.add_tasks(vec![task], now))
            .await?;
        Ok(tasks.remove(0))
    }

    async fn add_tasks(&self, Checked(params): Checked<m::AddTasksParams>) -> Answer<Vec<Task>> {
        self.apply(|board, now| board.add_tasks(params.tasks, now))
            .await
    }

    async fn claim_task(
        &self,
        Checked(params): Checked<m::ClaimTaskParams>,
    ) -> Answer<Option<Task>> {
        self.apply(|board, now| board.claim(&params.agent_id, now))
            .await
    }

    async fn start_task(&self, Checked(params): Checked<m::TaskRef>) -> Answer<Task> {
        self.apply(|board, now| board.start_task(&params.task_id, now))
            .await
    }

    async fn complete_task(&self, Checked(params): Checked<m::CompleteTaskParams>) -> Answer<Task> {
        self.apply(|board, now| board.complete(&params.task_id, params.result, now))
            .await
    }

    async fn fail_task(&self, Checked(params): Checked<m::FailTaskParams>) -> Answer<Task> {
        self.apply(|board, now| board.fail(&params.task_id, &params.error, now))
            .await
    }

    async fn get_task(&self, Checked(params): Checked<m::TaskRef>) -> Answer<Task> {
        self.read(|board| board.task(&params.task_id))
    }

    async fn list_tasks(&self, Checked(params): Checked<m::ListTasksParams>) -> Answer<Vec<Task>> {
        self.read(|board| Ok(board.tasks(params.status)))
    }

    async fn cancel_task(&self, Checked(params): Checked<m::TaskRef>) -> Answer<Task> {
        self.apply(|board, now| board.cancel(&params.task_id, now))
            .await
    }

    async fn retry_task(&self, Checked(params): Checked<m::TaskRef>) -> Answer<Vec<Task>> {
        self.apply(|board, now| board.retry(&params.task_id, now))
            .await
    }

    async fn edit_task(&self, Checked(params): Checked<m::EditTaskParams>) -> Answer<Task> {
        self.apply(|board, now| board.edit(params, now)).await
    }

    async fn delete_task(&self, Checked(params): Checked<m::TaskRef>) -> Answer<Task> {
        self.apply(|board, now| board.delete(&params.task_id, now))
            .await
    }

    async fn add_discovery(&self, Checked(params): Checked<m::NewDiscovery>) -> Answer<Discovery> {
        self.apply(|board, now| board.add_discovery(params, now))
            .await
    }

    async fn list_discoveries(&self) -> Answer<Vec<Discovery>> {
        self.read(|board| Ok(board.discoveries().to_vec()))
    }

    async fn timeline(&self, Checked(params): Checked<TimelineParams>) -> Answer<Timeline> {
        self.read(|board| board.timeline(params.run))
    }

    pub(super) async fn status(&self) -> Answer<Status> {
        let mut status = self.read(|board| Ok(board.status()))?;
        self.daemon.runtime.decorate(&mut status);
        status.crash = self.daemon.crash.clone();
        Ok(status)
    }

    async fn set_master_plan(&self, Checked(params): Checked<m::MasterPlan>) -> Answer<()> {
        self.apply(|board, now| Ok(((), board.set_master_plan(params.plan, now)?)))
            .await
    }

    async fn review_task(
        &self,
        Checked(params): Checked<baton_protocol::ReviewTaskParams>,
    ) -> Answer<()> {
        self.apply(|board, _| board.review_task(params)).await
    }

    async fn daemon_info(&self) -> Answer<m::DaemonInfoResult> {
        Ok(m::DaemonInfoResult {
            version: VERSION.into(),
            pid: std::process::id(),
            workspace: self.daemon.workspace.display().to_string(),
            socket: self.daemon.socket.display().to_string(),
            log_file: self.daemon.log_file.display().to_string(),
        })
    }

    /// Stops the daemon: this answer reaches the client because a stopping daemon
    /// closes each connection only once its answers under way have gone out.
    async fn stop_daemon(&self) -> Answer<()> {
        let _ = self.daemon.shutdown.send(true);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_protocol::ErrorKind;

    #[test]
    fn every_error_kind_keeps_its_code_on_the_wire() {
        for kind in ErrorKind::ALL {
            let err = to_rpc(BatonError::new(kind, "message"));
            assert_eq!(err.code, ErrorCode::ServerError(kind.code()));
            assert_eq!(err.data, Some(json!({ "kind": kind })));
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
    }
}
