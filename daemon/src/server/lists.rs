//! The answers that can hold a whole board (every task, every discovery, every
//! agent run), written straight from the board's values. Through tower-lsp an
//! answer is a tree of JSON values before it is text: for the 100,000 tasks of a
//! large plan, 57 MB as text, that tree took the daemon from 81 MB to 0.6–1 GB. The
//! rest of such a request is tower-lsp's still: only a connection that is ready for
//! requests answers them here, and parameters these do not read go to tower-lsp,
//! which refuses them with its own error.

use std::sync::Arc;

use baton_protocol::methods::{self as m, Request};
use baton_protocol::BatonError;
use serde::Serialize;
use serde_json::Value;
use tower_lsp::jsonrpc::{self, Id};

use super::connection::to_rpc;
use crate::orchestrator::Orchestrator;

/// An answer still to be made: its body, read from the board and serialized when
/// called, off the connection's reading loop.
pub type Answering = Box<dyn FnOnce() -> Vec<u8> + Send>;

/// The answer to `request` when it asks for one of the lists; `None` for any
/// other request, and for a list asked with parameters it does not read.
pub fn answering(
    orchestrator: &Arc<Orchestrator>,
    request: &jsonrpc::Request,
) -> Option<Answering> {
    let id = request.id()?.clone();
    let orchestrator = orchestrator.clone();
    match request.method() {
        m::ListTasks::METHOD => {
            let params: m::ListTasksParams =
                serde_json::from_value(request.params()?.clone()).ok()?;
            Some(Box::new(move || {
                body(
                    &id,
                    Ok(orchestrator.read(|board| board.tasks(params.status))),
                )
            }))
        }
        m::ListDiscoveries::METHOD if request.params().is_none_or(Value::is_null) => {
            Some(Box::new(move || {
                body(
                    &id,
                    Ok(orchestrator.read(|board| board.discoveries().to_vec())),
                )
            }))
        }
        m::GetTimeline::METHOD => {
            let params: baton_protocol::timeline::TimelineParams =
                serde_json::from_value(request.params()?.clone()).ok()?;
            Some(Box::new(move || {
                body(&id, orchestrator.read(|board| board.timeline(params.run)))
            }))
        }
        _ => None,
    }
}

/// A JSON-RPC answer's body, as tower-lsp would have written it.
fn body<T: Serialize>(id: &Id, read: Result<T, BatonError>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Answer<'a, T> {
        jsonrpc: &'static str,
        result: T,
        id: &'a Id,
    }
    let written = match read {
        Ok(result) => serde_json::to_vec(&Answer {
            jsonrpc: "2.0",
            result,
            id,
        }),
        Err(err) => serde_json::to_vec(&jsonrpc::Response::from_error(id.clone(), to_rpc(err))),
    };
    written.expect("an answer serializes")
}
