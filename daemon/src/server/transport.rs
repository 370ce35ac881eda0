//! One connection's messages in and out, with limits: frames are read with a capped
//! header and body (a peer past either is disconnected), requests whose `params`
//! are not an object are refused with -32602 before any method sees them, and an
//! error never echoes more than a short excerpt of what was sent. Everything else
//! is tower-lsp's `LspService`, driven here instead of by its own codec, which
//! buffers a header without bound and rescans it on every read.

use std::sync::Arc;
use std::time::Duration;

use baton_protocol::framing::{self, FrameError};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::sync::{broadcast, mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tower::{Service, ServiceExt};
use tower_lsp::jsonrpc::{self, ErrorCode, Id};
use tower_lsp::{ClientSocket, LspService};

use super::hangup::Hangup;
use super::parse_room;

/// The longest excerpt of a request an error message quotes.
const EXCERPT: usize = 120;
/// The longest error message or data sent whole: baton's own messages (a sentence or
/// two saying what to do) fit; one that quotes what it was sent at length is cut to
/// an excerpt.
const WHOLE: usize = 1_000;

/// What one incoming body is.
#[derive(Debug)]
pub enum Incoming {
    Request(jsonrpc::Request),
    /// The client's answer to a request of the daemon's.
    Response(jsonrpc::Response),
    /// Refused before any method saw it: the error to send back.
    Refused(jsonrpc::Response),
    /// A malformed notification: nothing to answer.
    Ignored,
}

/// Decodes one message body. Pure, so that it can be fuzzed.
pub fn decode(body: &[u8]) -> Incoming {
    // A well-formed request, nearly every message, is parsed once; anything else is
    // looked at part by part to say what is wrong with it.
    // (A body without a method parses as a request whose method is empty.)
    if let Ok(request) = serde_json::from_slice::<jsonrpc::Request>(body) {
        if !request.method().is_empty()
            && matches!(
                request.params(),
                None | Some(Value::Object(_) | Value::Null)
            )
        {
            return Incoming::Request(request);
        }
    }
    let Ok(message) = serde_json::from_slice::<Value>(body) else {
        return Incoming::Refused(error(
            Id::Null,
            ErrorCode::ParseError,
            "the message is not JSON".into(),
        ));
    };
    if !message.is_object() {
        return Incoming::Refused(error(
            Id::Null,
            ErrorCode::InvalidRequest,
            "a message is one JSON-RPC object; batches (arrays) are not supported".into(),
        ));
    }
    let id = message.get("id").cloned();
    let id_or_null = || {
        id.clone()
            .and_then(|id| serde_json::from_value::<Id>(id).ok())
            .unwrap_or(Id::Null)
    };
    if message.get("method").is_none() {
        return match serde_json::from_value::<jsonrpc::Response>(message) {
            Ok(response) => Incoming::Response(response),
            Err(_) => Incoming::Refused(error(
                id_or_null(),
                ErrorCode::InvalidRequest,
                "a message needs a method, or a result or error answering one".into(),
            )),
        };
    }
    match message.get("params") {
        None | Some(Value::Object(_)) | Some(Value::Null) => {}
        Some(params) => {
            if id.is_none() {
                return Incoming::Ignored;
            }
            return Incoming::Refused(error(
                id_or_null(),
                ErrorCode::InvalidParams,
                format!(
                    "params must be an object of named parameters (docs/protocol.md), not {}",
                    excerpt(&params.to_string())
                ),
            ));
        }
    }
    match serde_json::from_value::<jsonrpc::Request>(message) {
        Ok(request) => Incoming::Request(request),
        Err(_) if id.is_none() => Incoming::Ignored,
        Err(err) => Incoming::Refused(error(
            id_or_null(),
            ErrorCode::InvalidRequest,
            format!("not a JSON-RPC request: {}", excerpt(&err.to_string())),
        )),
    }
}

fn error(id: Id, code: ErrorCode, message: String) -> jsonrpc::Response {
    jsonrpc::Response::from_error(
        id,
        jsonrpc::Error {
            code,
            message: message.into(),
            data: None,
        },
    )
}

fn excerpt(text: &str) -> String {
    crate::core::excerpt(text, EXCERPT)
}

/// An answer as it goes out, serialized: an error's message and data cut to an
/// excerpt (a method's parameter errors quote what they were sent, an unknown
/// method's its name), and an answer larger than a client reads replaced by an
/// error that says so.
fn outgoing(response: jsonrpc::Response) -> Vec<u8> {
    outgoing_within(response, framing::ANSWER_LIMIT)
}

fn outgoing_within(response: jsonrpc::Response, limit: usize) -> Vec<u8> {
    let (id, body) = response.into_parts();
    let answer = excerpted(id.clone(), body);
    within(id, answer, limit)
}

/// `answer`, unless it is larger than a client reads: then an error that says so.
fn within(id: Id, answer: Vec<u8>, limit: usize) -> Vec<u8> {
    if answer.len() <= limit {
        return answer;
    }
    // The client would close the connection at such a frame, and every other answer
    // under way on it would be lost with it.
    let err = baton_protocol::BatonError::orchestration(format!(
        "the request was carried out, but its answer is {} bytes, over the {limit} bytes a \
         client reads, so it was not sent; read the state in parts (`baton tasks --status \
         STATUS`, `baton show ID`) rather than asking again",
        answer.len()
    ));
    let refused = jsonrpc::Response::from_error(id, super::connection::to_rpc(err));
    serde_json::to_vec(&refused).expect("a response serializes")
}

fn excerpted(id: Id, body: jsonrpc::Result<Value>) -> Vec<u8> {
    let body = body.map_err(|mut err| {
        if err.message.len() > WHOLE {
            err.message = excerpt(&err.message).into();
        }
        if let Some(data) = &err.data {
            let text = match data {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            if text.len() > WHOLE {
                err.data = Some(Value::String(excerpt(&text)));
            }
        }
        err
    });
    serde_json::to_vec(&jsonrpc::Response::from_parts(id, body)).expect("a response serializes")
}

/// Whole frames on their way out: answers, and the events a connection's forwarding
/// writes; `written` is told once they are.
pub struct Frames {
    pub bytes: Vec<u8>,
    pub written: Option<oneshot::Sender<()>>,
}

impl From<Vec<u8>> for Frames {
    fn from(bytes: Vec<u8>) -> Frames {
        Frames {
            bytes,
            written: None,
        }
    }
}

/// A connection's way out (`Connection` is given a sender).
pub type Outgoing = (mpsc::Sender<Frames>, mpsc::Receiver<Frames>);

pub fn outgoing_frames() -> Outgoing {
    mpsc::channel(64)
}

/// The most bytes of frames the writer gathers into one write when several are
/// waiting: one system call for many answers under load, not one each.
const GATHER: usize = 64 * 1024;

/// How long a connection closed by the daemon waits, once its last frame went out,
/// for its client to close its side.
const LINGER: Duration = Duration::from_secs(2);

/// How many bytes of unfinished large requests the daemon holds, all connections
/// together (docs/protocol.md): peers that send most of a large request and stall
/// hold at most this much, not what each of them sent.
pub const PENDING_BUDGET: usize = 256 * 1024 * 1024;

/// A body this small is read without taking room from the budget: the connections
/// it could come from are too few for their sum to matter.
const SMALL_BODY: usize = 64 * 1024;

/// How much room a body takes from the budget at a time, as it arrives.
const BODY_CHUNK: usize = 1024 * 1024;

/// How long a body may take to arrive after its header: a peer that stalls inside
/// a request is disconnected, and gives the room it held back.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// How long a header may take once its first byte came: a peer that stops inside
/// one is disconnected, and gives back its place among the daemon's connections.
const HEADER_DEADLINE: Duration = Duration::from_secs(10);

/// How long a connection may take to send `initialize`: every client sends it first,
/// so one that sends nothing only holds a place among the daemon's connections.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);

/// Reads one request: waits as long as it takes for it to begin, then its header
/// within [`HEADER_DEADLINE`] and its body within [`BODY_DEADLINE`], a large body
/// as it arrives, each megabyte once `room` (shared by every connection) has room
/// for it; the room is given back once the body is in.
async fn read_request<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    room: &Semaphore,
) -> Result<Option<Vec<u8>>, FrameError> {
    if reader.fill_buf().await?.is_empty() {
        return Ok(None);
    }
    let header = tokio::time::timeout(
        HEADER_DEADLINE,
        framing::read_header(reader, framing::REQUEST_LIMIT),
    );
    let header = header.await.unwrap_or(Err(FrameError::HeaderStalled {
        seconds: HEADER_DEADLINE.as_secs(),
    }));
    let Some(length) = header? else {
        return Ok(None);
    };
    let read = async {
        let mut body = Vec::with_capacity(length.min(BODY_CHUNK));
        let mut held = Vec::new();
        while body.len() < length {
            let part = (length - body.len()).min(BODY_CHUNK);
            if length > SMALL_BODY {
                let permit = room
                    .acquire_many(part as u32)
                    .await
                    .expect("the budget is never closed");
                held.push(permit);
            }
            let start = body.len();
            body.resize(start + part, 0);
            reader
                .read_exact(&mut body[start..])
                .await
                .map_err(framing::body_error)?;
        }
        Ok(Some(body))
    };
    tokio::time::timeout(BODY_DEADLINE, read)
        .await
        .unwrap_or(Err(FrameError::Stalled {
            length,
            seconds: BODY_DEADLINE.as_secs(),
        }))
}

/// Reads one request as [`read_request`] does, all of it by `by` when given: until
/// a connection made its handshake, the time it may take is bounded too.
async fn read_by<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    room: &Semaphore,
    by: Option<tokio::time::Instant>,
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(by) = by else {
        return read_request(reader, room).await;
    };
    tokio::time::timeout_at(by, read_request(reader, room))
        .await
        .unwrap_or(Err(FrameError::NoInitialize {
            seconds: HANDSHAKE_DEADLINE.as_secs(),
        }))
}

/// Parsing a body is done without taking room from the budget when it holds at
/// most this much: a request of the protocol's own takes a few kilobytes.
const SMALL_PARSE: usize = 1024 * 1024;

/// Takes from `room` the `needed` bytes that parsing `body` may hold, or answers why
/// it is refused unparsed: a body that would need more than the whole budget.
async fn room_for_parsing(
    room: &Arc<Semaphore>,
    body: &[u8],
    needed: usize,
) -> Result<OwnedSemaphorePermit, Vec<u8>> {
    if needed > PENDING_BUDGET {
        /// Only the id, so that the refusal answers the request it refuses; the rest
        /// is skipped, not parsed.
        #[derive(serde::Deserialize)]
        struct Named {
            id: Option<Id>,
        }
        let id = serde_json::from_slice::<Named>(body)
            .ok()
            .and_then(|named| named.id)
            .unwrap_or(Id::Null);
        return Err(outgoing(error(
            id,
            ErrorCode::InvalidRequest,
            format!(
                "this request of {} MiB would take about {} MiB to read, more than the \
                 {} MiB the daemon gives requests (docs/protocol.md); send it in parts, \
                 such as fewer tasks a batch",
                body.len() >> 20,
                needed >> 20,
                PENDING_BUDGET >> 20
            ),
        )));
    }
    Ok(room
        .clone()
        .acquire_many_owned(needed as u32)
        .await
        .expect("the budget is never closed"))
}

/// Serves one connection until the client goes, breaks a limit or sends `exit`, or
/// the daemon stops (`closing` is closed): then it reads no more, sends the answers
/// under way and the events already made, and ends the stream. It is long because
/// reading, answering and forwarding share one select loop.
pub async fn serve<S>(
    stream: S,
    (mut service, socket): (LspService<super::connection::Connection>, ClientSocket),
    (out, mut queued): Outgoing,
    concurrency: usize,
    room: Arc<Semaphore>,
    mut closing: broadcast::Receiver<()>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (read, write) = tokio::io::split(stream);
    let mut reader = BufReader::new(Hangup::new(read));
    let mut write = Hangup::new(write);
    let writer = tokio::spawn(async move {
        while let Some(Frames { mut bytes, written }) = queued.recv().await {
            let mut told = Vec::from_iter(written);
            while bytes.len() < GATHER {
                let Ok(more) = queued.try_recv() else {
                    break;
                };
                bytes.extend_from_slice(&more.bytes);
                told.extend(more.written);
            }
            if write.write_all(&bytes).await.is_err() {
                return;
            }
            for written in told {
                let _ = written.send(());
            }
        }
        let _ = write.shutdown().await;
    });
    let (mut requests, mut responses) = socket.split();
    let notifications = {
        let out = out.clone();
        tokio::spawn(async move {
            while let Some(request) = requests.next().await {
                let body = serde_json::to_vec(&request).expect("a request serializes");
                if out.send(framing::frame(&body).into()).await.is_err() {
                    return;
                }
            }
        })
    };
    let in_flight = Arc::new(Semaphore::new(concurrency));
    let mut closed = false;
    let handshake_by = tokio::time::Instant::now() + HANDSHAKE_DEADLINE;
    let mut initialized = false;
    loop {
        let read = tokio::select! {
            read = read_by(&mut reader, &room, (!initialized).then_some(handshake_by)) => read,
            _ = closing.recv() => {
                closed = true;
                break;
            }
        };
        let body = match read {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(FrameError::Io(_)) | Err(FrameError::Truncated) => break,
            Err(limit) => {
                tracing::warn!("closing a connection: {limit}");
                notifications.abort();
                writer.abort();
                return;
            }
        };
        // A body whose parsing may hold much takes room for it, until its answer.
        let needed = parse_room::room_to_parse(&body);
        let parsing = if needed > SMALL_PARSE {
            match room_for_parsing(&room, &body, needed).await {
                Ok(permit) => Some(permit),
                Err(refused) => {
                    if out.send(framing::frame(&refused).into()).await.is_err() {
                        break;
                    }
                    continue;
                }
            }
        } else {
            None
        };
        let incoming = decode(&body);
        drop(body);
        match incoming {
            Incoming::Request(request) => {
                initialized |= request.method() == "initialize";
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    break;
                };
                let Ok(ready) = service.ready().await else {
                    // The client sent `exit`.
                    break;
                };
                if let Some(answering) = ready.inner().answering(&request) {
                    let id = request.id().cloned().unwrap_or(Id::Null);
                    let out = out.clone();
                    tokio::spawn(async move {
                        let answer = match answering.await {
                            Ok(written) => within(id, written, framing::ANSWER_LIMIT),
                            Err(refused) => outgoing(refused),
                        };
                        let _ = out.send(framing::frame(&answer).into()).await;
                        drop((permit, parsing));
                    });
                    continue;
                }
                let answer = ready.call(request);
                let out = out.clone();
                tokio::spawn(async move {
                    if let Ok(Some(response)) = answer.await {
                        let _ = out.send(framing::frame(&outgoing(response)).into()).await;
                    }
                    drop((permit, parsing));
                });
            }
            Incoming::Response(response) => {
                if responses.send(response).await.is_err() {
                    break;
                }
            }
            Incoming::Refused(response) => {
                if out
                    .send(framing::frame(&outgoing(response)).into())
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Incoming::Ignored => {}
        }
    }
    if closed {
        // Every answer under way, then every event already made, goes out: the
        // notifications end once the service, with its handle to the client, is gone.
        let _ = in_flight.acquire_many_owned(concurrency as u32).await;
        service.inner().events_forwarded().await;
        drop(service);
        let _ = notifications.await;
        // What the client sent after the last request read is not read: it was
        // not acted on, and the client may send it again to the next daemon.
        let closing = serde_json::json!({
            "jsonrpc": "2.0",
            "method": baton_protocol::methods::Closing::METHOD,
            "params": {},
        });
        let _ = out
            .send(framing::frame(closing.to_string().as_bytes()).into())
            .await;
    } else {
        // Answers under way still go out; then the writer ends with the last sender.
        service.inner().stop_forwarding();
        drop(service);
        notifications.abort();
    }
    drop(out);
    let _ = writer.await;
    if closed {
        // Closing with unread input makes the kernel reset the connection, and the
        // client would read a reset where the stream ends: what it still sends is
        // read and dropped until it closes its side too.
        let _ = tokio::time::timeout(LINGER, tokio::io::copy(&mut reader, &mut tokio::io::sink()))
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(response: jsonrpc::Response) -> Value {
        serde_json::from_slice(&outgoing(response)).expect("an answer is JSON")
    }

    fn sent_within(response: jsonrpc::Response, limit: usize) -> Value {
        serde_json::from_slice(&outgoing_within(response, limit)).expect("an answer is JSON")
    }

    fn refused(body: &str) -> Value {
        match decode(body.as_bytes()) {
            Incoming::Refused(response) => sent(response),
            other => panic!("{body} was not refused: {other:?}"),
        }
    }

    #[test]
    fn positional_params_are_refused_with_a_short_excerpt() {
        let long = "x".repeat(100_000);
        let answer = refused(&format!(
            r#"{{"jsonrpc":"2.0","id":7,"method":"baton/addTask","params":["{long}"]}}"#
        ));
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["code"], -32602);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("params must be an object"), "{message}");
        assert!(message.len() < 400, "{message}");
    }

    #[test]
    fn requests_responses_and_junk_are_told_apart() {
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":1,"method":"baton/status"}"#),
            Incoming::Request(_)
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","id":1,"result":null}"#),
            Incoming::Response(_)
        ));
        assert!(matches!(
            decode(br#"{"jsonrpc":"2.0","method":"x","params":[1]}"#),
            Incoming::Ignored
        ));
        assert_eq!(refused("not json")["error"]["code"], -32700);
        assert_eq!(refused(r#"{"id":1}"#)["error"]["code"], -32600);
        for not_one_object in [
            r#"[{"jsonrpc":"2.0","id":5,"method":"baton/status"}]"#,
            "[]",
            "[1,2,3]",
            r#""hello""#,
            "42",
            r#"{"hello":1}"#,
        ] {
            let answer = refused(not_one_object);
            assert_eq!(answer["error"]["code"], -32600, "{not_one_object}");
            assert_eq!(answer["id"], Value::Null, "{not_one_object}");
        }
    }

    #[test]
    fn an_unknown_method_s_name_is_echoed_as_an_excerpt() {
        let long = "m".repeat(100_000);
        let mut err = jsonrpc::Error::method_not_found();
        err.data = Some(Value::String(long));
        let answer = sent(jsonrpc::Response::from_error(Id::Number(1), err));
        let data = answer["error"]["data"].as_str().unwrap();
        assert!(data.len() < 400, "{data}");
        assert!(data.contains("100000 bytes in all"), "{data}");
    }

    #[test]
    fn an_answer_larger_than_a_client_reads_becomes_an_error_for_the_same_request() {
        let small = jsonrpc::Response::from_ok(Id::Number(7), Value::String("x".repeat(100)));
        assert_eq!(sent_within(small.clone(), 1_000), sent(small));
        let large = jsonrpc::Response::from_ok(Id::Number(7), Value::String("x".repeat(2_000)));
        let answer = sent_within(large, 1_000);
        assert_eq!(answer["id"], 7);
        assert_eq!(answer["error"]["data"]["kind"], "OrchestrationError");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("over the 1000 bytes a client reads"),
            "{message}"
        );
        assert!(message.contains("baton tasks --status"), "{message}");
    }

    #[test]
    fn an_error_from_a_method_is_cut_to_an_excerpt() {
        let long = "y".repeat(10_000);
        let response = jsonrpc::Response::from_error(
            Id::Number(1),
            jsonrpc::Error::invalid_params(format!("Unexpected params: {long}")),
        );
        let message = sent(response)["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.len() < 400, "{message}");
        assert!(message.contains("bytes in all"));
    }
}
