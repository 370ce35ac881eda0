//! A client that speaks the wire itself, for what the protocol client hides: how a
//! connection ends, and a client that stops reading.

use std::path::Path;
use std::time::Duration;

use baton_protocol::framing::{self, FrameError};
use baton_protocol::Event;
use serde_json::{json, Value};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

/// A client that speaks the wire itself, so that how its connection ends is seen (at
/// a frame's end, in the middle of one, or by a reset), and so that it can stop
/// reading: the daemon's writes to it then wait on the socket.
pub struct Watcher {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
}

impl Watcher {
    /// Connects and shakes hands, asking for events.
    pub async fn connect(socket: &Path) -> Watcher {
        let (read, writer) = UnixStream::connect(socket)
            .await
            .expect("the daemon's socket accepts")
            .into_split();
        let mut watcher = Watcher {
            reader: BufReader::new(read),
            writer,
        };
        watcher
            .send(json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": { "capabilities": {}, "initializationOptions": { "events": true } },
            }))
            .await;
        loop {
            let message = watcher
                .next()
                .await
                .ok()
                .flatten()
                .expect("the handshake is answered");
            if message["id"] == 1 {
                break;
            }
        }
        watcher
            .send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }))
            .await;
        watcher
    }

    pub async fn send(&mut self, message: Value) {
        let body = serde_json::to_vec(&message).unwrap();
        self.writer
            .write_all(&framing::frame(&body))
            .await
            .expect("the daemon reads");
    }

    /// The next message; `None` at a clean end of stream.
    pub async fn next(&mut self) -> Result<Option<Value>, FrameError> {
        let body = framing::read_frame(&mut self.reader, framing::ANSWER_LIMIT).await?;
        Ok(body.map(|body| serde_json::from_slice(&body).expect("a JSON message")))
    }

    /// The next message, which must be an event and come within a minute.
    pub async fn next_event(&mut self) -> Event {
        let message = tokio::time::timeout(Duration::from_secs(60), self.next())
            .await
            .expect("the watcher is sent its next event within a minute")
            .expect("a whole frame")
            .expect("the connection stays open");
        serde_json::from_value(message).expect("an event")
    }

    /// Every message until the daemon ends the stream, answering the daemon's own
    /// requests (progress reports) as an editor would; an error if the stream ends
    /// in any other way.
    pub async fn until_the_end(mut self) -> Result<Vec<Value>, FrameError> {
        let mut messages = Vec::new();
        while let Some(message) = self.next().await? {
            if let (Some(id), Some(_)) = (message.get("id"), message.get("method")) {
                let answer = json!({ "jsonrpc": "2.0", "id": id, "result": null });
                // The daemon may stop reading first; its answer is not needed then.
                let body = serde_json::to_vec(&answer).unwrap();
                let _ = self.writer.write_all(&framing::frame(&body)).await;
            }
            messages.push(message);
        }
        Ok(messages)
    }
}
