//! A client that goes away is a normal end of its connection, not an error. Without
//! this, a client that closes while answers or events are on their way (`baton watch
//! | head`, a Ctrl-C) makes the framework log an ERROR for the reset or the broken
//! pipe. Here a reset reads as the end of input, and what is written after the client
//! left is dropped: there is no one to read it.

use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One half of a connection, quiet about the client hanging up.
pub struct Hangup<S> {
    inner: S,
    gone: bool,
}

impl<S> Hangup<S> {
    pub fn new(inner: S) -> Self {
        Hangup { inner, gone: false }
    }
}

fn hung_up(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

impl<S: AsyncRead + Unpin> AsyncRead for Hangup<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.gone {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Err(err)) if hung_up(&err) => {
                tracing::debug!("a client hung up: {err}");
                self.gone = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Hangup<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.gone {
            return Poll::Ready(Ok(buf.len()));
        }
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(Err(err)) if hung_up(&err) => {
                tracing::debug!("a client hung up: {err}");
                self.gone = true;
                Poll::Ready(Ok(buf.len()))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.gone {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(Err(err)) if hung_up(&err) => {
                self.gone = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.gone {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut self.inner).poll_shutdown(cx) {
            Poll::Ready(Err(err)) if hung_up(&err) => Poll::Ready(Ok(())),
            other => other,
        }
    }
}
