//! LSP base framing: a `Content-Length` header, a blank line, then the JSON body.
//!
//! Both ends read with limits, so that a broken or hostile peer cannot make them
//! buffer without bound: the header is at most [`HEADER_LIMIT`] bytes, the body at
//! most the reader's body limit. Each byte is looked at once.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest header (all its lines together) either end accepts.
pub const HEADER_LIMIT: usize = 8 * 1024;

/// The largest message body the daemon accepts (docs/protocol.md).
pub const REQUEST_LIMIT: usize = 64 * 1024 * 1024;

/// The largest message body a client accepts: answers can be bigger than requests
/// (every task of a large board).
pub const ANSWER_LIMIT: usize = 256 * 1024 * 1024;

/// Why a frame could not be read; the connection cannot go on after any of them.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the header is longer than {HEADER_LIMIT} bytes")]
    HeaderTooLong,
    #[error("the header has no valid Content-Length")]
    NoLength,
    /// Two lengths leave the body's end in doubt, and every message after it.
    #[error("the header has more than one Content-Length")]
    TwoLengths,
    #[error("the body of {length} bytes is over the limit of {limit}")]
    BodyTooLarge { length: usize, limit: usize },
    #[error("the stream ended inside a message")]
    Truncated,
    #[error("the body of {length} bytes did not arrive within {seconds} s of its header")]
    Stalled { length: usize, seconds: u64 },
    #[error("the header did not end within {seconds} s of its first byte")]
    HeaderStalled { seconds: u64 },
    #[error("no initialize came within {seconds} s of connecting")]
    NoInitialize { seconds: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl From<FrameError> for io::Error {
    fn from(err: FrameError) -> io::Error {
        match err {
            FrameError::Io(err) => err,
            FrameError::Truncated => io::ErrorKind::UnexpectedEof.into(),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// Reads one message body of at most `body_limit` bytes; `None` at a clean end of
/// stream (before any byte of a message).
pub async fn read_frame<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    body_limit: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let Some(length) = read_header(reader, body_limit).await? else {
        return Ok(None);
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.map_err(body_error)?;
    Ok(Some(body))
}

/// The error of a body that could not be read whole.
pub fn body_error(err: io::Error) -> FrameError {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        FrameError::Truncated
    } else {
        FrameError::Io(err)
    }
}

/// Reads one message's header and answers the length of its body, at most
/// `body_limit`; `None` at a clean end of stream (before any byte of a message). The
/// body is the caller's to read: the daemon reads a large one as it arrives.
pub async fn read_header<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    body_limit: usize,
) -> Result<Option<usize>, FrameError> {
    let mut length = None;
    let mut header_bytes = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let allowed = (HEADER_LIMIT - header_bytes) as u64;
        let read = (&mut *reader)
            .take(allowed)
            .read_until(b'\n', &mut line)
            .await?;
        header_bytes += read;
        if read == 0 {
            return if header_bytes == 0 {
                Ok(None)
            } else if header_bytes >= HEADER_LIMIT {
                Err(FrameError::HeaderTooLong)
            } else {
                Err(FrameError::Truncated)
            };
        }
        if line.last() != Some(&b'\n') {
            return Err(if header_bytes >= HEADER_LIMIT {
                FrameError::HeaderTooLong
            } else {
                FrameError::Truncated
            });
        }
        let header = String::from_utf8_lossy(&line);
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                if length.is_some() {
                    return Err(FrameError::TwoLengths);
                }
                length = Some(value.trim().parse::<usize>().ok());
            }
        }
    }
    let length = length.flatten().ok_or(FrameError::NoLength)?;
    if length > body_limit {
        return Err(FrameError::BodyTooLarge {
            length,
            limit: body_limit,
        });
    }
    Ok(Some(length))
}

/// Reads one answer from the daemon; `None` at a clean end of stream.
pub async fn read_message<R: AsyncBufRead + Unpin>(reader: &mut R) -> io::Result<Option<Vec<u8>>> {
    Ok(read_frame(reader, ANSWER_LIMIT).await?)
}

/// Frames `body` into one buffer, so that it goes out in a single write.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut framed = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    framed.extend_from_slice(body);
    framed
}

pub async fn write_message<W: AsyncWrite + Unpin>(writer: &mut W, body: &[u8]) -> io::Result<()> {
    writer.write_all(&frame(body)).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(mut input: &[u8], limit: usize) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut bodies = Vec::new();
        while let Some(body) = read_frame(&mut input, limit).await? {
            bodies.push(body);
        }
        Ok(bodies)
    }

    #[tokio::test]
    async fn frames_are_read_back_whatever_the_header_case_and_extra_headers() {
        let mut input = frame(b"{\"a\":1}");
        input.extend(b"content-length: 2\r\nContent-Type: application/json\r\n\r\n{}");
        let bodies = read_all(&input, 100).await.unwrap();
        assert_eq!(bodies, vec![b"{\"a\":1}".to_vec(), b"{}".to_vec()]);
    }

    #[tokio::test]
    async fn a_header_that_never_ends_stops_at_the_limit() {
        let input = vec![b'x'; HEADER_LIMIT * 4];
        assert!(matches!(
            read_all(&input, 100).await,
            Err(FrameError::HeaderTooLong)
        ));
        let mut lines = Vec::new();
        while lines.len() < HEADER_LIMIT * 2 {
            lines.extend(b"X-Padding: 1\r\n");
        }
        assert!(matches!(
            read_all(&lines, 100).await,
            Err(FrameError::HeaderTooLong)
        ));
    }

    #[tokio::test]
    async fn a_header_with_two_lengths_is_refused_not_read_by_either() {
        assert!(matches!(
            read_all(b"Content-Length: 2\r\ncontent-length: 5\r\n\r\n{}abc", 100).await,
            Err(FrameError::TwoLengths)
        ));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_and_a_truncated_frame_are_errors() {
        assert!(matches!(
            read_all(b"Content-Length: 101\r\n\r\n", 100).await,
            Err(FrameError::BodyTooLarge { length: 101, .. })
        ));
        assert!(matches!(
            read_all(b"Content-Length: 10\r\n\r\n{}", 100).await,
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_all(b"Content-Length: 10\r\n", 100).await,
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_all(b"Content-Type: x\r\n\r\n{}", 100).await,
            Err(FrameError::NoLength)
        ));
    }
}
