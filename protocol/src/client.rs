//! The one way to talk to a workspace's daemon: find its socket, start it when none
//! answers, shake hands (checking the version), then send typed requests and receive
//! notifications.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interprocess::local_socket::tokio::{prelude::*, Stream};
use interprocess::local_socket::{ConnectOptions, GenericFilePath};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::io::{AsyncWriteExt, BufReader, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot};

use crate::error::{BatonError, ErrorKind};
use crate::framing::{read_message, write_message, REQUEST_LIMIT};
use crate::methods::{Closing, DaemonInfo, Event, Request, WorkDoneProgress};
use crate::workspace::Workspace;

mod start;

use start::start_daemon;
pub use start::{daemon_program, end_stuck_daemon, wait_for_exit};

/// This build's version; a daemon of another version is refused at the handshake.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The exit status of a daemon that found its workspace's lock held by another one
/// (it lost a start race, or one runs already): a client starting a daemon matches it
/// rather than reading the daemon's words, and connects to the one that runs.
pub const EXIT_LOCK_HELD: i32 = 75;

/// How long a client waits for a daemon it started to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times a handshake cut off by a stopping daemon is tried again.
const HANDSHAKE_ATTEMPTS: u64 = 5;
/// How long a daemon that took the connection has to answer the handshake; it needs
/// no state to, so one that takes longer is stuck or stopped (a SIGSTOP).
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

/// Why a call did not get an answer from the daemon.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered with an error.
    #[error(transparent)]
    Baton(#[from] BatonError),
    #[error("no baton daemon answers at {}: {source}", socket.display())]
    Connect {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("could not start the baton daemon `{}`: {reason}", daemon.display())]
    Start { daemon: PathBuf, reason: String },
    /// The daemon started and refused to serve, saying why.
    #[error("{0}")]
    Refused(String),
    #[error("the baton daemon (pid {pid}) did not exit within {}s; `kill {pid}` ends it", limit.as_secs())]
    StillRunning { pid: u32, limit: Duration },
    #[error("the daemon runs baton {daemon} but this is baton {client}; run `baton daemon stop` and try again")]
    VersionMismatch { daemon: String, client: String },
    #[error("the connection to the baton daemon closed; `baton daemon status` tells whether it still runs")]
    Closed,
    /// The daemon took the connection and answered nothing: it is stuck or stopped.
    #[error("the baton daemon took the connection but did not answer within {}s: it is stuck or stopped (a SIGSTOP); `baton daemon stop` ends it, losing nothing it acknowledged", limit.as_secs())]
    NotAnswering { limit: Duration },
    /// The daemon stopped before it read the request: nothing was done for it.
    #[error("the baton daemon stopped before it read this request, so nothing was done; run it again (a new daemon starts)")]
    Stopped,
    #[error("the baton daemon sent something unreadable: {0}")]
    Protocol(String),
    #[error("talking to the baton daemon failed: {0}")]
    Io(#[from] std::io::Error),
}

impl ClientError {
    /// The reference's exception kind this error stands for.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Baton(err) => err.kind,
            _ => ErrorKind::OrchestrationError,
        }
    }
}

/// How to connect.
#[derive(Debug, Clone, Default)]
pub struct ConnectConfig {
    /// Start the daemon when none answers.
    pub start: bool,
    /// The `batond` to start; by default `BATON_DAEMON`, then the one beside this
    /// program, then `batond` on PATH.
    pub daemon: Option<PathBuf>,
    /// Ask the daemon for notifications (read them with [`Client::events`]).
    pub events: bool,
    /// Accept a daemon of another version (only to ask what it is or to stop it).
    pub any_version: bool,
}

/// Requests waiting for their answers, by id; `None` once the connection's reader
/// has ended, so that a request made after that fails at once instead of waiting for
/// an answer nobody will read.
type Pending = Mutex<Option<HashMap<u64, oneshot::Sender<Result<Box<RawValue>, BatonError>>>>>;

struct Shared {
    writer: tokio::sync::Mutex<WriteHalf<Stream>>,
    pending: Pending,
    /// The daemon said it closes the connection because it stops: what is still
    /// waiting was never read.
    closing: AtomicBool,
    /// The daemon refused the connection (an error without an id), saying why.
    refused: Mutex<Option<BatonError>>,
    events: Mutex<Option<mpsc::UnboundedSender<Event>>>,
    /// Set once someone takes the run's progress: until then it is not kept.
    progress: Mutex<Option<mpsc::UnboundedSender<WorkDoneProgress>>>,
}

/// A connection to a workspace's daemon. Cheap to share: requests may be sent from
/// many tasks at once, and answers are matched to them by id.
pub struct Client {
    shared: Arc<Shared>,
    next_id: AtomicU64,
    events: Option<mpsc::UnboundedReceiver<Event>>,
    daemon_version: String,
    started_daemon: bool,
}

impl Client {
    /// Connects to the workspace's daemon, starting it first when asked to and none runs.
    pub async fn connect(
        workspace: &Workspace,
        config: &ConnectConfig,
    ) -> Result<Client, ClientError> {
        let socket = workspace.socket_path();
        let mut attempts = 0;
        loop {
            let (stream, started_daemon) = match connect_socket(&socket).await {
                Ok(stream) => (stream, false),
                Err(source) => match connect_elsewhere(workspace, config).await? {
                    Some(client) => return Ok(client),
                    None if !config.start => return Err(ClientError::Connect { socket, source }),
                    None => (
                        start_daemon(workspace, config.daemon.as_deref()).await?,
                        true,
                    ),
                },
            };
            match Client::handshake(stream, config).await {
                Ok(mut client) => {
                    client.started_daemon = started_daemon;
                    return Ok(client);
                }
                // A daemon that was stopping as we connected closed the connection
                // before the handshake ended. Nothing was asked of it yet, so asking
                // again (a new daemon, once it is gone) is safe.
                Err(ClientError::Closed | ClientError::Stopped)
                    if config.start && attempts < HANDSHAKE_ATTEMPTS =>
                {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(10 * attempts)).await;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn handshake(stream: Stream, config: &ConnectConfig) -> Result<Client, ClientError> {
        let events = config.events;
        let (recv, send) = tokio::io::split(stream);
        let (events_tx, events_rx) = if events {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let shared = Arc::new(Shared {
            writer: tokio::sync::Mutex::new(send),
            pending: Mutex::new(Some(HashMap::new())),
            closing: AtomicBool::new(false),
            refused: Mutex::new(None),
            events: Mutex::new(events_tx),
            progress: Mutex::new(None),
        });
        tokio::spawn(read_loop(recv, shared.clone()));
        let mut client = Client {
            shared,
            next_id: AtomicU64::new(1),
            events: events_rx,
            daemon_version: String::new(),
            started_daemon: false,
        };
        let initialize = client.call(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": null,
                "capabilities": {},
                "clientInfo": { "name": "baton", "version": VERSION },
                "initializationOptions": { "events": events },
            }),
        );
        let answer = tokio::time::timeout(HANDSHAKE_LIMIT, initialize)
            .await
            .map_err(|_| ClientError::NotAnswering {
                limit: HANDSHAKE_LIMIT,
            })??;
        let daemon_version = answer["serverInfo"]["version"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if daemon_version != VERSION && !config.any_version {
            return Err(ClientError::VersionMismatch {
                daemon: daemon_version,
                client: VERSION.into(),
            });
        }
        client.daemon_version = daemon_version;
        client.notify("initialized", json!({})).await?;
        Ok(client)
    }

    /// Whether this connection started the daemon (none answered before).
    pub fn started_daemon(&self) -> bool {
        self.started_daemon
    }

    /// The daemon's version, as it said at the handshake.
    pub fn daemon_version(&self) -> &str {
        &self.daemon_version
    }

    /// Sends a typed request and waits for its answer.
    pub async fn request<R: Request>(&self, params: &R::Params) -> Result<R::Result, ClientError> {
        let params =
            serde_json::to_value(params).map_err(|err| ClientError::Protocol(err.to_string()))?;
        let answer = self.call_raw(R::METHOD, params).await?;
        serde_json::from_str(answer.get())
            .map_err(|err| ClientError::Protocol(format!("{}: {err}", R::METHOD)))
    }

    /// Sends any request by name; `params` of `null` are left out.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let answer = self.call_raw(method, params).await?;
        serde_json::from_str(answer.get())
            .map_err(|err| ClientError::Protocol(format!("{method}: {err}")))
    }

    /// A request's answer as the daemon wrote it: a typed request reads its result
    /// from the text, never building a tree of JSON values (which took 1.3 GB for
    /// the 57 MB of a list of 100,000 tasks).
    async fn call_raw(&self, method: &str, params: Value) -> Result<Box<RawValue>, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .expect("pending lock")
            .as_mut()
            .ok_or_else(|| self.shared.ended())?
            .insert(id, tx);
        let mut message = json!({ "jsonrpc": "2.0", "id": id, "method": method });
        if !params.is_null() {
            message["params"] = params;
        }
        if let Err(err) = self.send(&message).await {
            if let Some(pending) = self.shared.pending.lock().expect("pending lock").as_mut() {
                pending.remove(&id);
            }
            return Err(err);
        }
        Ok(rx.await.map_err(|_| self.shared.ended())??)
    }

    async fn notify(&self, method: &str, params: Value) -> Result<(), ClientError> {
        self.send(&json!({ "jsonrpc": "2.0", "method": method, "params": params }))
            .await
    }

    async fn send(&self, message: &Value) -> Result<(), ClientError> {
        let body = serde_json::to_vec(message).expect("a JSON value serializes");
        // The daemon would close the connection on it: refused here, saying why.
        if body.len() > REQUEST_LIMIT {
            const MIB: f64 = 1024.0 * 1024.0;
            return Err(BatonError::invalid(format!(
                "this request is {:.1} MiB, over the {} MiB the daemon takes in one; \
                 send less at once (split a batch into smaller ones)",
                body.len() as f64 / MIB,
                REQUEST_LIMIT / (1024 * 1024)
            ))
            .into());
        }
        let mut writer = self.shared.writer.lock().await;
        write_message(&mut *writer, &body)
            .await
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                    self.shared.ended()
                }
                _ => ClientError::Io(err),
            })
    }

    /// The daemon's notifications, in order, when the client asked for them.
    pub fn events(&mut self) -> Option<&mut mpsc::UnboundedReceiver<Event>> {
        self.events.as_mut()
    }

    /// The run's work-done progress (`$/progress`) from now on, when the client
    /// asked for notifications: the daemon sends it beside them.
    pub fn take_progress(&mut self) -> Option<mpsc::UnboundedReceiver<WorkDoneProgress>> {
        self.shared.events.lock().expect("events lock").as_ref()?;
        let (tx, rx) = mpsc::unbounded_channel();
        *self.shared.progress.lock().expect("progress lock") = Some(tx);
        Some(rx)
    }

    /// Takes the notifications out of the client, so that they can be read while
    /// requests are under way.
    pub fn take_events(&mut self) -> Option<mpsc::UnboundedReceiver<Event>> {
        self.events.take()
    }
}

/// One message from the daemon, its result left as text.
#[derive(Deserialize)]
struct Message {
    id: Option<Value>,
    method: Option<String>,
    params: Option<Value>,
    result: Option<Box<RawValue>>,
    error: Option<Value>,
}

async fn read_loop(recv: ReadHalf<Stream>, shared: Arc<Shared>) {
    let mut reader = BufReader::new(recv);
    while let Ok(Some(body)) = read_message(&mut reader).await {
        let Ok(Message {
            id,
            method,
            params,
            result,
            error,
        }) = serde_json::from_slice::<Message>(&body)
        else {
            continue;
        };
        drop(body);
        match (id, method) {
            (Some(id), None) => answer(&shared, id.as_u64(), result, error),
            // The daemon asks something of its client (a progress token): say yes.
            (Some(id), Some(_)) => {
                let reply = json!({ "jsonrpc": "2.0", "id": id, "result": null });
                let body = serde_json::to_vec(&reply).expect("a JSON value serializes");
                let mut writer = shared.writer.lock().await;
                if write_message(&mut *writer, &body).await.is_err() {
                    break;
                }
            }
            (None, Some(method)) => {
                let params = params.unwrap_or(Value::Null);
                if method == Closing::METHOD {
                    shared.closing.store(true, Ordering::SeqCst);
                } else if method == WorkDoneProgress::METHOD {
                    let progress = shared.progress.lock().expect("progress lock");
                    if let (Some(tx), Some(value)) =
                        (progress.as_ref(), WorkDoneProgress::from_params(&params))
                    {
                        let _ = tx.send(value);
                    }
                } else if let Some(event) = Event::from_notification(&method, params) {
                    if let Some(events) = shared.events.lock().expect("events lock").as_ref() {
                        let _ = events.send(event);
                    }
                }
            }
            (None, None) => {
                if let Some(error) = error {
                    *shared.refused.lock().expect("refusal lock") = Some(error_from_wire(&error));
                }
            }
        }
    }
    // Whoever still waits hears that the connection is gone.
    shared.pending.lock().expect("pending lock").take();
    shared.events.lock().expect("events lock").take();
    shared.progress.lock().expect("progress lock").take();
}

impl Shared {
    /// Why a request has no answer once the connection's reader has ended.
    fn ended(&self) -> ClientError {
        if let Some(refused) = self.refused.lock().expect("refusal lock").clone() {
            return ClientError::Baton(refused);
        }
        if self.closing.load(Ordering::SeqCst) {
            ClientError::Stopped
        } else {
            ClientError::Closed
        }
    }
}

fn answer(shared: &Shared, id: Option<u64>, result: Option<Box<RawValue>>, error: Option<Value>) {
    let Some(id) = id else { return };
    let waiter = shared
        .pending
        .lock()
        .expect("pending lock")
        .as_mut()
        .and_then(|pending| pending.remove(&id));
    let Some(waiter) = waiter else {
        return;
    };
    let outcome = match (error, result) {
        (Some(error), _) => Err(error_from_wire(&error)),
        (None, Some(result)) => Ok(result),
        // `null` is read as no result at all.
        (None, None) => Ok(RawValue::NULL.to_owned()),
    };
    let _ = waiter.send(outcome);
}

fn error_from_wire(error: &Value) -> BatonError {
    let code = error["code"].as_i64().unwrap_or_default();
    let kind = error["data"]["kind"]
        .as_str()
        .and_then(|kind| serde_json::from_value(json!(kind)).ok())
        .or_else(|| ErrorKind::from_code(code))
        .unwrap_or(ErrorKind::OrchestrationError);
    let message = error["message"]
        .as_str()
        .unwrap_or("unknown error")
        .to_owned();
    let baton_error = BatonError::new(kind, message);
    match serde_json::from_value(error["data"]["cause"].clone()) {
        Ok(cause) => baton_error.with_cause(cause),
        Err(_) => baton_error,
    }
}

async fn connect_socket(path: &Path) -> std::io::Result<Stream> {
    let name = path.to_fs_name::<GenericFilePath>()?;
    ConnectOptions::new().name(name).connect_tokio().await
}

/// The workspace's daemon at the socket it said it listens on, when that is not the
/// one this client's runtime directory gives. `daemon.json` may have been copied
/// with the workspace, so the daemon there is asked which workspace it serves; one
/// that serves another is no daemon of this workspace's.
async fn connect_elsewhere(
    workspace: &Workspace,
    config: &ConnectConfig,
) -> Result<Option<Client>, ClientError> {
    let Some(socket) = workspace.socket_elsewhere() else {
        return Ok(None);
    };
    let Ok(stream) = connect_socket(&socket).await else {
        return Ok(None);
    };
    let client = Client::handshake(stream, config).await?;
    let info = client.request::<DaemonInfo>(&()).await?;
    if Path::new(&info.workspace) == workspace.root() {
        return Ok(Some(client));
    }
    // Ends the connection (the daemon closes its side when it reads the end).
    let _ = client.shared.writer.lock().await.shutdown().await;
    Ok(None)
}
