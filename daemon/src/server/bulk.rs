//! The requests whose answers grow with the board or the batch (every task, every
//! discovery, every agent run; the tasks a batch added), answered straight from
//! baton's values. Through tower-lsp an answer is a tree of JSON values before it is
//! text: for a list of 100,000 tasks, 57 MB as text, that tree took the daemon from
//! 81 MB to 0.6–1 GB, and the trees of a burst of batches left the heap scattered
//! with what they freed. The rest of such a request is tower-lsp's still: only a
//! connection that is ready for requests answers them here, and parameters these do
//! not read go to tower-lsp, which refuses them with its own error.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use baton_protocol::methods::{self as m, Request};
use baton_protocol::timeline::TimelineParams;
use baton_protocol::BatonError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower_lsp::jsonrpc::{self, Id};

use super::connection::to_rpc;
use crate::orchestrator::Orchestrator;

/// An answer being made: its body once the board was read (off the runtime's
/// workers, a list being long to write) or changed, or the error, which goes out as
/// every error does.
pub type Answering = Pin<Box<dyn Future<Output = Result<Vec<u8>, jsonrpc::Response>> + Send>>;

/// The answer to `request` when it is one of these; `None` for any other request,
/// and for one with parameters it does not read.
pub fn answering(
    orchestrator: &Arc<Orchestrator>,
    request: &jsonrpc::Request,
) -> Option<Answering> {
    let id = request.id()?.clone();
    let orchestrator = orchestrator.clone();
    // Read from the request's own values, not a copy of them.
    let params = || request.params().filter(|params| params.is_object());
    match request.method() {
        m::ListTasks::METHOD => {
            let params: m::ListTasksParams = Deserialize::deserialize(params()?).ok()?;
            Some(read(id, move || {
                Ok(orchestrator.read(|board| board.tasks(params.status)))
            }))
        }
        m::ListDiscoveries::METHOD if request.params().is_none_or(Value::is_null) => {
            Some(read(id, move || {
                Ok(orchestrator.read(|board| board.discoveries().to_vec()))
            }))
        }
        m::GetTimeline::METHOD => {
            let params: TimelineParams = Deserialize::deserialize(params()?).ok()?;
            Some(read(id, move || {
                orchestrator.read(|board| board.timeline(params.run))
            }))
        }
        m::AddTasks::METHOD => {
            let params: m::AddTasksParams = Deserialize::deserialize(params()?).ok()?;
            Some(Box::pin(async move {
                let added = orchestrator
                    .apply(|board, now| board.add_tasks(params.tasks, now))
                    .await;
                answer(id, added)
            }))
        }
        _ => None,
    }
}

/// An answer read from the board and written on a blocking thread.
fn read<T: Serialize>(
    id: Id,
    reading: impl FnOnce() -> Result<T, BatonError> + Send + 'static,
) -> Answering {
    Box::pin(async move {
        let read_id = id.clone();
        tokio::task::spawn_blocking(move || answer(read_id, reading()))
            .await
            .unwrap_or_else(|err| {
                answer::<()>(
                    id,
                    Err(BatonError::orchestration(format!(
                        "answering failed: {err}"
                    ))),
                )
            })
    })
}

/// A JSON-RPC answer's body, as tower-lsp would have written it; an error as the
/// response tower-lsp would have made of it.
fn answer<T: Serialize>(
    id: Id,
    answer: Result<T, BatonError>,
) -> Result<Vec<u8>, jsonrpc::Response> {
    #[derive(Serialize)]
    struct Answer<'a, T> {
        jsonrpc: &'static str,
        result: T,
        id: &'a Id,
    }
    match answer {
        Ok(result) => Ok(serde_json::to_vec(&Answer {
            jsonrpc: "2.0",
            result,
            id: &id,
        })
        .expect("an answer serializes")),
        Err(err) => Err(jsonrpc::Response::from_error(id, to_rpc(err))),
    }
}
