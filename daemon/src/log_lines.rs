//! The daemon log, one line per record. A record quotes what others chose: a
//! workspace's path, an agent's error, a task's id. A newline in one would start a
//! line that passes for a record of its own, and an escape sequence would steer the
//! terminal of whoever reads the log; both are written as visible escapes.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

/// Makes writers that escape what would break a record's line.
pub struct OneLine<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for OneLine<M> {
    type Writer = Escaping<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Escaping(self.0.make_writer())
    }
}

/// A writer given one whole record per write, as the formatter writes them.
pub struct Escaping<W>(W);

impl<W: Write> Write for Escaping<W> {
    fn write(&mut self, record: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escaped(record))?;
        Ok(record.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `record` with its one ending newline kept and every other control byte (DEL, and
/// every C0 control but tab) written as `\xNN`.
fn escaped(record: &[u8]) -> Vec<u8> {
    let (body, end) = match record.strip_suffix(b"\n") {
        Some(body) => (body, &b"\n"[..]),
        None => (record, &b""[..]),
    };
    let breaking = |byte: u8| (byte < 0x20 && byte != b'\t') || byte == 0x7f;
    let mut out = Vec::with_capacity(record.len());
    for &byte in body {
        if breaking(byte) {
            out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
        } else {
            out.push(byte);
        }
    }
    out.extend_from_slice(end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_stays_one_line_and_steers_no_terminal() {
        assert_eq!(
            escaped(b"serving workspace=/tmp/a\nFAKE ERROR \x1b[31mred\r\n"),
            b"serving workspace=/tmp/a\\x0aFAKE ERROR \\x1b[31mred\\x0d\n"
        );
        assert_eq!(escaped(b"plain\tline\n"), b"plain\tline\n");
    }
}
