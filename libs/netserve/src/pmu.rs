//! The PMU protocol's server side over any byte stream (`Read + Write`),
//! shared by `lab_server`'s TCP PMU and `part6_pmu`'s TLS PMU (docs/SPEC.md,
//! "The PMU protocol"): reading the command, answering it, and the
//! `CMD_floodme` text.
//!
//! A command is taken when what has arrived parses as one (the course
//! server takes its first `recv()`); the server keeps reading only while
//! the bytes are a proper prefix of a command, such as `CMD_sho`.

use common::Command;
use std::io::{self, ErrorKind, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// The longest command a client may send: `CMD_short:` and a 32-character
/// number, with room for trailing white space (as `lab_server`).
pub const MAX_REQUEST: usize = 64;

/// The answer to anything that is not a command (the course server's).
pub const WRONG_COMMAND: &[u8] = b"Wrong command.";

/// What the PMU sends.
#[derive(Debug, Clone)]
pub struct PmuSettings {
    /// Messages sent for `CMD_short`.
    pub messages: u64,
    /// The number of the first message (the course server counts from 0).
    pub first_index: u64,
    /// The `CMD_floodme` text.
    pub flood: Arc<[u8]>,
}

/// What a connection was answered, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Short { messages: u64, interval: Duration },
    Floodme { bytes: usize },
    Wrong { request: Vec<u8> },
}

/// Reads until the bytes parse as a command, can no longer become one, or
/// the client closes. `None`: the client closed without sending anything.
///
/// A TLS client that closes without close_notify (`UnexpectedEof`) has
/// closed all the same.
pub fn read_request(stream: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut request = Vec::with_capacity(MAX_REQUEST);
    let mut buf = [0u8; MAX_REQUEST];
    loop {
        let room = MAX_REQUEST - request.len();
        let n = match stream.read(&mut buf[..room]) {
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => 0,
            Err(err) => return Err(err),
        };
        if n == 0 {
            return Ok((!request.is_empty()).then_some(request));
        }
        request.extend_from_slice(&buf[..n]);
        let trimmed = request.trim_ascii_end();
        let complete = trimmed.len() < request.len() || Command::parse_request(&request).is_ok();
        if complete || !Command::is_partial_request(trimmed) || request.len() == MAX_REQUEST {
            return Ok(Some(request));
        }
    }
}

/// Answers `request`: PMU messages one `write()` each, `d` seconds apart;
/// the flood in one `write()`; or `Wrong command.`.
pub fn send_answer(
    stream: &mut impl Write,
    request: &[u8],
    settings: &PmuSettings,
) -> io::Result<Answer> {
    match Command::parse_request(request) {
        Ok(Command::Short { interval, .. }) => {
            for i in 0..settings.messages {
                if i > 0 && !interval.is_zero() {
                    std::thread::sleep(interval);
                }
                // One write per message, like the course server's one
                // send(): over TLS, one record and one TCP send each.
                let message = format!("This is PMU data {}", settings.first_index + i);
                stream.write_all(message.as_bytes())?;
            }
            Ok(Answer::Short {
                messages: settings.messages,
                interval,
            })
        }
        Ok(Command::Floodme) => {
            stream.write_all(&settings.flood)?;
            Ok(Answer::Floodme {
                bytes: settings.flood.len(),
            })
        }
        Err(_) => {
            stream.write_all(WRONG_COMMAND)?;
            Ok(Answer::Wrong {
                request: request.to_vec(),
            })
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Short { messages, interval } => write!(
                f,
                "CMD_short, {messages} messages {} s apart",
                interval.as_secs_f64()
            ),
            Answer::Floodme { bytes } => write!(f, "CMD_floodme, {bytes} bytes"),
            Answer::Wrong { request } => write!(
                f,
                "wrong command '{}', answered Wrong command.",
                request.escape_ascii()
            ),
        }
    }
}

/// One line of the flood: a 10-digit line number, then filler, 64 bytes in
/// all. The numbers make a lost, doubled or reordered chunk visible in a
/// byte-for-byte comparison.
const LINE: &[u8; 64] = b"floodme 0000000000 The quick brown fox jumps over the lazy dog.\n";
const DIGITS: std::ops::Range<usize> = 8..18;

/// The first `len` bytes of the flood text: 64-byte lines numbered from 0.
/// A length that is a multiple of 64 ends with a newline; any other ends
/// inside a line, as the course server's may.
pub fn flood_text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    let mut line = *LINE;
    let mut number: u64 = 0;
    while out.len() < len {
        let mut n = number;
        for d in line[DIGITS].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        let take = (len - out.len()).min(line.len());
        out.extend_from_slice(&line[..take]);
        number += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client: what it sends, then what the server writes, write by write.
    struct Duplex {
        input: io::Cursor<Vec<u8>>,
        writes: Vec<Vec<u8>>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            // One byte at a time: a command may arrive in pieces.
            let one = buf.len().min(1);
            self.input.read(&mut buf[..one])
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.writes.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn serve(input: &[u8]) -> (Option<Answer>, Vec<Vec<u8>>) {
        let mut duplex = Duplex {
            input: io::Cursor::new(input.to_vec()),
            writes: Vec::new(),
        };
        let settings = PmuSettings {
            messages: 3,
            first_index: 0,
            flood: Arc::from(&b"flood text"[..]),
        };
        let answer = read_request(&mut duplex)
            .unwrap()
            .map(|request| send_answer(&mut duplex, &request, &settings).unwrap());
        (answer, duplex.writes)
    }

    #[test]
    fn short_is_one_write_per_message_from_0() {
        for input in [&b"CMD_short:0"[..], b"CMD_short:0\n", b"CMD_short:0\r\n"] {
            let (answer, writes) = serve(input);
            assert!(matches!(answer, Some(Answer::Short { messages: 3, .. })));
            assert_eq!(
                writes,
                [
                    &b"This is PMU data 0"[..],
                    b"This is PMU data 1",
                    b"This is PMU data 2"
                ]
            );
        }
    }

    #[test]
    fn floodme_is_one_write() {
        let (answer, writes) = serve(b"CMD_floodme");
        assert_eq!(answer, Some(Answer::Floodme { bytes: 10 }));
        assert_eq!(writes, [b"flood text"]);
    }

    #[test]
    fn anything_else_is_a_wrong_command() {
        for input in [&b"hello"[..], b"CMD_short:x", b"CMD_sho"] {
            let (answer, writes) = serve(input);
            assert!(matches!(answer, Some(Answer::Wrong { .. })), "{input:?}");
            assert_eq!(writes, [WRONG_COMMAND]);
        }
        assert_eq!(serve(b""), (None, vec![]));
    }

    #[test]
    fn lines_are_numbered_and_sized() {
        let text = flood_text(64 * 3 + 5);
        assert_eq!(text.len(), 197);
        assert!(text.starts_with(b"floodme 0000000000 The quick"));
        assert_eq!(&text[64..82], b"floodme 0000000001");
        assert_eq!(&text[192..], b"flood");
        assert!(flood_text(128).ends_with(b"dog.\n"));
        assert!(flood_text(0).is_empty());
    }
}
