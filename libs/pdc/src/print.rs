//! How a PMU client prints what it receives (Parts 2, 5 and 6; docs/SPEC.md,
//! "Client output"), and when it flushes.
//!
//! - `CMD_short`: each message on its own line, exactly as sent, re-cut
//!   from the stream by `common::splitter`.
//! - `CMD_floodme`: the bytes exactly, plus one final newline if the text
//!   does not end with one; streamed, so memory does not depend on the size.
//! - [`Output`] gathers the lines of a receive in one buffer and the caller
//!   flushes it, in one `write()`, whenever the receive queue is empty
//!   (`common::output::bytes_waiting`). The receive loop is `crate::receive`.

use common::command::Command;
use common::output::OUTPUT_BUFFER;
use common::splitter::PmuSplitter;
use std::fs::File;
use std::io::{self, Write};
#[cfg(unix)]
use std::os::fd::AsFd;
#[cfg(windows)]
use std::os::windows::io::AsHandle;

/// Standard output for a PMU client: what is printed gathers in one
/// buffer, written with one `write()` when the caller flushes (the socket
/// is drained) or when it holds [`FLUSH_AT`] bytes. A large piece of a
/// flood with nothing before it goes straight out, without a copy.
#[derive(Debug)]
pub struct Output {
    file: File,
    buf: Vec<u8>,
}

/// The most bytes [`Output`] holds before writing them.
pub const FLUSH_AT: usize = 256 * 1024;

/// The most bytes of a receive [`Output::split_lines`] re-cuts before it
/// checks whether to write.
const SPLIT_PIECE: usize = 64 * 1024;

impl Output {
    /// Standard output (a private duplicate of file descriptor 1).
    #[cfg(unix)]
    pub fn stdout() -> io::Result<Output> {
        let fd = io::stdout().as_fd().try_clone_to_owned()?;
        Ok(Output::new(File::from(fd)))
    }

    /// Standard output (a duplicate of its handle).
    #[cfg(windows)]
    pub fn stdout() -> io::Result<Output> {
        let handle = io::stdout().as_handle().try_clone_to_owned()?;
        Ok(Output::new(File::from(handle)))
    }

    /// Output to `file`.
    pub fn new(file: File) -> Output {
        Output {
            file,
            buf: Vec::with_capacity(FLUSH_AT + OUTPUT_BUFFER),
        }
    }

    /// The file written to (for `splice`).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Prints `message` and a newline.
    pub fn line(&mut self, message: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(message);
        self.buf.push(b'\n');
        self.flush_if_full()
    }

    /// Prints the messages `splitter` re-cuts from `data`, a line each,
    /// written straight into the buffer (`PmuSplitter::feed_lines`); fed
    /// [`SPLIT_PIECE`] bytes at a time, so that the buffer stays near
    /// [`FLUSH_AT`] whatever `--bufsize`. Returns how many were printed.
    pub fn split_lines(&mut self, splitter: &mut PmuSplitter, data: &[u8]) -> io::Result<u64> {
        let mut count = 0;
        for piece in data.chunks(SPLIT_PIECE) {
            count += splitter.feed_lines(piece, &mut self.buf);
            self.flush_if_full()?;
        }
        Ok(count)
    }

    /// Prints what `splitter` holds at the end of the stream, as a line;
    /// returns how many were printed (0 or 1).
    pub fn finish_lines(&mut self, splitter: &mut PmuSplitter) -> io::Result<u64> {
        let count = splitter.finish_lines(&mut self.buf);
        self.flush_if_full()?;
        Ok(count)
    }

    /// Prints `data` as it is.
    pub fn bytes(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.is_empty() && data.len() >= OUTPUT_BUFFER {
            return self.file.write_all(data);
        }
        self.buf.extend_from_slice(data);
        self.flush_if_full()
    }

    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes what is waiting, in one `write()`.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let result = self.file.write_all(&self.buf);
            self.buf.clear();
            result?;
        }
        Ok(())
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }
}

/// The longest WebSocket message held until it is complete.
pub const MAX_HELD: usize = 64 * 1024;

/// How the answer's bytes come: as a stream that the splitter re-cuts into
/// messages (TCP, TLS), or as messages the transport delimits (WebSocket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Stream,
    Messages,
}

/// Prints the answer to one command from the bytes that carry it.
#[derive(Debug)]
pub struct PmuPrinter {
    mode: Mode,
    bytes: u64,
    messages: u64,
}

#[derive(Debug)]
enum Mode {
    /// `CMD_short` over a stream: re-cut, a line per message.
    Split(PmuSplitter),
    /// `CMD_short` over WebSocket: a line per message. A message is held
    /// until it is complete, so that a line shows whole or not at all, up to
    /// [`MAX_HELD`] bytes; the rest of a longer one is printed as it comes.
    Lines { held: Vec<u8>, streaming: bool },
    /// `CMD_floodme`: the bytes as they are, and the last one, for the
    /// final-newline rule.
    Flood { last: Option<u8> },
}

impl PmuPrinter {
    /// A printer for the answer to `command`.
    pub fn new(command: &Command, framing: Framing) -> PmuPrinter {
        let mode = match (command, framing) {
            (Command::Short { .. }, Framing::Stream) => Mode::Split(PmuSplitter::new()),
            (Command::Short { .. }, Framing::Messages) => Mode::Lines {
                held: Vec::new(),
                streaming: false,
            },
            (Command::Floodme, _) => Mode::Flood { last: None },
        };
        PmuPrinter {
            mode,
            bytes: 0,
            messages: 0,
        }
    }

    /// Prints what `data` completes (with [`Framing::Messages`], the next
    /// bytes of the current message).
    pub fn feed(&mut self, data: &[u8], out: &mut Output) -> io::Result<()> {
        self.bytes += data.len() as u64;
        match &mut self.mode {
            Mode::Split(splitter) => {
                self.messages += out.split_lines(splitter, data)?;
                Ok(())
            }
            Mode::Lines { held, streaming } => {
                if !*streaming && held.len() + data.len() <= MAX_HELD {
                    held.extend_from_slice(data);
                    return Ok(());
                }
                *streaming = true;
                if !held.is_empty() {
                    out.bytes(held)?;
                    held.clear();
                }
                out.bytes(data)
            }
            Mode::Flood { last } => {
                if let Some(&b) = data.last() {
                    *last = Some(b);
                }
                out.bytes(data)
            }
        }
    }

    /// Whether the answer is printed byte for byte (`CMD_floodme`), so that
    /// bytes may go to the output unseen ([`PmuPrinter::moved`]).
    pub fn floods(&self) -> bool {
        matches!(self.mode, Mode::Flood { .. })
    }

    /// `len` bytes of a flood went to the output without passing through
    /// here (`splice`); the last byte of the message still comes through
    /// [`PmuPrinter::feed`], for the final-newline rule.
    pub fn moved(&mut self, len: u64) {
        debug_assert!(self.floods());
        self.bytes += len;
    }

    /// The current message is complete ([`Framing::Messages`]).
    pub fn end_message(&mut self, out: &mut Output) -> io::Result<()> {
        self.messages += 1;
        match &mut self.mode {
            Mode::Lines { held, streaming } => {
                *streaming = false;
                let printed = out.line(held);
                held.clear();
                printed
            }
            _ => Ok(()),
        }
    }

    /// Prints what is left once the server has closed.
    pub fn finish(&mut self, out: &mut Output) -> io::Result<()> {
        match &mut self.mode {
            Mode::Split(splitter) => {
                self.messages += out.finish_lines(splitter)?;
                Ok(())
            }
            Mode::Lines { .. } => Ok(()),
            Mode::Flood { last } => {
                if self.messages == 0 && last.is_some() {
                    // A stream's flood is one message.
                    self.messages = 1;
                }
                match last {
                    Some(b) if *b != b'\n' => out.bytes(b"\n"),
                    _ => Ok(()),
                }
            }
        }
    }

    /// Bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Messages printed so far (a stream's flood counts as one).
    pub fn messages(&self) -> u64 {
        self.messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the printer writes, through a real file.
    fn printed(
        framing: Framing,
        command: &str,
        run: impl FnOnce(&mut PmuPrinter, &mut Output),
    ) -> Vec<u8> {
        let mut printer = PmuPrinter::new(&command.parse().unwrap(), framing);
        let file = tempfile();
        let mut out = Output::new(file.try_clone().unwrap());
        run(&mut printer, &mut out);
        printer.finish(&mut out).unwrap();
        out.flush().unwrap();
        read_back(file)
    }

    fn tempfile() -> File {
        let path = std::env::temp_dir().join(format!(
            "common-output-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file
    }

    fn read_back(mut file: File) -> Vec<u8> {
        use std::io::{Read, Seek};
        file.rewind().unwrap();
        let mut all = Vec::new();
        file.read_to_end(&mut all).unwrap();
        all
    }

    fn print(command: &str, chunks: &[&[u8]]) -> Vec<u8> {
        printed(Framing::Stream, command, |printer, out| {
            for chunk in chunks {
                printer.feed(chunk, out).unwrap();
            }
        })
    }

    /// Messages, each given as its pieces, over WebSocket.
    fn print_messages(command: &str, messages: &[&[&[u8]]]) -> Vec<u8> {
        printed(Framing::Messages, command, |printer, out| {
            for pieces in messages {
                for piece in *pieces {
                    printer.feed(piece, out).unwrap();
                }
                printer.end_message(out).unwrap();
            }
        })
    }

    #[test]
    fn websocket_messages_are_lines_whatever_their_pieces() {
        assert_eq!(
            print_messages(
                "CMD_short:0",
                &[
                    &[b"This is PMU ", b"data 0"],
                    &[b"Wrong", b"", b" command."],
                    &[]
                ]
            ),
            b"This is PMU data 0\nWrong command.\n\n"
        );
        assert_eq!(print_messages("CMD_short:0", &[]), b"");
        assert_eq!(
            print_messages("CMD_floodme", &[&[b"ab", b"c"], &[b"d"]]),
            b"abcd\n"
        );
        assert_eq!(print_messages("CMD_floodme", &[&[b"ab", b"c\n"]]), b"abc\n");
    }

    #[test]
    fn long_websocket_messages_stream_past_max_held() {
        let piece = vec![b'p'; MAX_HELD / 2 + 1];
        let got = print_messages("CMD_short:0", &[&[&piece, &piece, &piece], &[b"x"]]);
        assert_eq!(got.len(), 3 * piece.len() + 1 + 2);
        assert!(got.ends_with(b"p\nx\n"));
    }

    #[test]
    fn large_pieces_go_straight_out_in_order() {
        let big = vec![b'x'; 3 * OUTPUT_BUFFER];
        let got = print("CMD_floodme", &[b"a", &big, &big, b"b"]);
        assert_eq!(got.len(), 2 * big.len() + 3);
        assert_eq!(
            (got[0], got[got.len() - 2], got[got.len() - 1]),
            (b'a', b'b', b'\n')
        );
    }

    #[test]
    fn short_prints_a_line_per_message() {
        assert_eq!(
            print(
                "CMD_short:0",
                &[b"This is PMU data 0This is", b" PMU data 1"]
            ),
            b"This is PMU data 0\nThis is PMU data 1\n"
        );
    }

    #[test]
    fn flood_adds_only_a_missing_final_newline() {
        assert_eq!(print("CMD_floodme", &[b"ab", b"c"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"abc\n"]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[b"abc\n", b""]), b"abc\n");
        assert_eq!(print("CMD_floodme", &[]), b"");
    }
}
