//! The PMU clients' receive loop (Parts 2, 5 and 6): receive, print, flush
//! when the socket is drained, until the server closes; its [`Stats`] and
//! its errors, written once for the three clients.
//!
//! Each client brings its transport as a [`Source`]: part2_pdc a TCP
//! socket ([`TcpSource`]), part6_pmu a TLS stream, part5_ws the payloads
//! of WebSocket frames. What is printed and how is `crate::print`.
//!
//! - The bytes go to an [`Output`] that gathers a receive's lines and is
//!   flushed, in one `write()`, when the next receive would wait for the
//!   network ([`Source::drained`]) or when it holds `FLUSH_AT` bytes.
//! - Nothing for the idle time-out (`SO_RCVTIMEO`): "the server is silent",
//!   after printing what had come.
//! - Any other receive error: printed what had come, then the error.
//! - On Linux, a `CMD_floodme` from a plain TCP socket to an output that is
//!   not a terminal moves the bytes with `splice(2)` ([`receive_flood`],
//!   `crate::splice`), without copying them through this process; so do
//!   the long binary frames of a WebSocket flood ([`Source::direct`]).

use crate::print::{Framing, Output, PmuPrinter};
use anyhow::Context;
use common::command::Command;
use common::output::bytes_waiting;
use std::fmt;
use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

/// What one command took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Receive calls that returned data (`recv()`, `splice()`, or TLS
    /// records read).
    pub recv_calls: u64,
    /// Bytes of the answer (the PMU's bytes, not TLS's or WebSocket's).
    pub bytes: u64,
    /// Messages printed (a flood over a stream counts as one).
    pub messages: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recv() calls with data, {} bytes, {} message(s)",
            self.recv_calls, self.bytes, self.messages
        )
    }
}

/// What a [`Source`] has next.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The next bytes of the answer.
    Data(&'a [u8]),
    /// The end of a message ([`Framing::Messages`] sources only).
    EndOfMessage,
    /// The server is done.
    End,
}

/// A transport as the receive loop sees it.
pub trait Source {
    /// How the answer's bytes are delimited.
    const FRAMING: Framing;

    /// The next event; blocks for at most the idle time-out, after which
    /// the error is `TimedOut` or `WouldBlock`.
    fn next(&mut self) -> io::Result<Event<'_>>;

    /// Whether the next call to [`Source::next`] would wait for the
    /// network: the moment to flush.
    fn drained(&mut self) -> bool;

    /// Receive calls with data so far.
    fn recv_calls(&self) -> u64;

    /// Bytes of the current message that may go from the socket straight
    /// to the output with `splice(2)`, unseen ([`Source::move_direct`]):
    /// part5_ws's binary frames over plain TCP. None by default.
    fn direct(&self) -> u64 {
        0
    }

    /// Moves up to `len` of the [`Source::direct`] bytes to `out` with
    /// `mover`; returns how many moved (0: `splice` cannot be used here).
    #[cfg(target_os = "linux")]
    fn move_direct(
        &mut self,
        _mover: &mut crate::splice::Mover,
        _out: &std::fs::File,
        _len: u64,
    ) -> Result<u64, crate::splice::Failed> {
        Ok(0)
    }
}

/// The fewest [`Source::direct`] bytes worth a `splice`: below, copying
/// costs less than the system calls.
#[cfg(target_os = "linux")]
const DIRECT_MIN: u64 = 64 * 1024;

/// Prints the answer to `command` from `source` to `out` until the server
/// is done. `idle` is the time-out the source was given, for the message;
/// `from` ends the error context (" from HOST", or "").
pub fn receive<S: Source>(
    source: &mut S,
    command: &Command,
    idle: Duration,
    from: &str,
    out: &mut Output,
) -> anyhow::Result<Stats> {
    let mut printer = PmuPrinter::new(command, S::FRAMING);
    // A flood's long binary frames go socket → pipe → output (Linux, an
    // output that is not a terminal); the pipe is made when the first such
    // frame comes.
    #[cfg(target_os = "linux")]
    let mut splicing = printer.floods() && crate::splice::worth_trying(out.file());
    #[cfg(target_os = "linux")]
    let mut mover = None;
    loop {
        #[cfg(target_os = "linux")]
        let len = if splicing { source.direct() } else { 0 };
        #[cfg(target_os = "linux")]
        if len >= DIRECT_MIN {
            if mover.is_none() {
                mover = crate::splice::Mover::new();
            }
            let Some(m) = &mut mover else {
                splicing = false; // No pipe to be had: the ordinary loop.
                continue;
            };
            out.flush().context("writing to stdout")?;
            match source.move_direct(m, out.file(), len) {
                Ok(0) => splicing = false,
                Ok(moved) => printer.moved(moved),
                Err(crate::splice::Failed::Receive(err)) => {
                    return Err(failed(err, command, idle, from));
                }
                Err(crate::splice::Failed::Write(err)) => {
                    return Err(err).context("writing to stdout");
                }
            }
            continue;
        }
        let printed = match source.next() {
            Ok(Event::Data(data)) => printer.feed(data, out),
            Ok(Event::EndOfMessage) => printer.end_message(out),
            Ok(Event::End) => break,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => {
                out.flush().ok();
                return Err(failed(err, command, idle, from));
            }
        };
        printed.context("writing to stdout")?;
        if out.pending() > 0 && source.drained() {
            out.flush().context("writing to stdout")?;
        }
    }
    printer.finish(out).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(Stats {
        recv_calls: source.recv_calls(),
        bytes: printer.bytes(),
        messages: printer.messages(),
    })
}

/// A receive error, said the way a user can act on it.
fn failed(err: io::Error, command: &Command, idle: Duration, from: &str) -> anyhow::Error {
    if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
        return anyhow::anyhow!(
            "waiting for {command}'s answer: nothing for {} s; the server is silent \
             (raise --timeout for a slow server)",
            idle.as_secs_f64()
        );
    }
    anyhow::Error::new(err).context(format!("receiving {command}'s answer{from}"))
}

/// A plain TCP socket read `bufsize` bytes at a time.
#[derive(Debug)]
pub struct TcpSource<'a> {
    stream: &'a TcpStream,
    buf: Vec<u8>,
    last_read: usize,
    recv_calls: u64,
}

impl<'a> TcpSource<'a> {
    pub fn new(stream: &'a TcpStream, bufsize: usize) -> TcpSource<'a> {
        TcpSource {
            stream,
            buf: vec![0; bufsize.max(1)],
            last_read: 0,
            recv_calls: 0,
        }
    }
}

impl Source for TcpSource<'_> {
    const FRAMING: Framing = Framing::Stream;

    fn next(&mut self) -> io::Result<Event<'_>> {
        let n = self.stream.read(&mut self.buf)?;
        self.last_read = n;
        if n == 0 {
            return Ok(Event::End);
        }
        self.recv_calls += 1;
        Ok(Event::Data(&self.buf[..n]))
    }

    fn drained(&mut self) -> bool {
        // A short read drained the queue; a full one may have left bytes.
        self.last_read < self.buf.len() || bytes_waiting(self.stream).unwrap_or(0) == 0
    }

    fn recv_calls(&self) -> u64 {
        self.recv_calls
    }
}

/// Prints a `CMD_floodme` answer from a plain TCP socket: with `splice(2)`
/// where it can (Linux, an output that is not a terminal), else through
/// [`receive`]. `bufsize` is what each receive asks for.
pub fn receive_flood(
    stream: &TcpStream,
    bufsize: usize,
    command: &Command,
    idle: Duration,
    out: &mut Output,
) -> anyhow::Result<Stats> {
    #[cfg(target_os = "linux")]
    if crate::splice::worth_trying(out.file()) {
        out.flush().context("writing to stdout")?;
        match crate::splice::flood(stream, out.file(), bufsize) {
            Ok(Some(stats)) => return Ok(stats),
            Ok(None) => {} // No pipe to be had: the ordinary loop.
            Err(crate::splice::Failed::Receive(err)) => {
                return Err(failed(err, command, idle, ""));
            }
            Err(crate::splice::Failed::Write(err)) => {
                return Err(err).context("writing to stdout");
            }
        }
    }
    receive(&mut TcpSource::new(stream, bufsize), command, idle, "", out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn stats_read_as_before() {
        let stats = Stats {
            recv_calls: 3,
            bytes: 60,
            messages: 2,
        };
        assert_eq!(
            stats.to_string(),
            "3 recv() calls with data, 60 bytes, 2 message(s)"
        );
    }

    #[test]
    fn a_silent_server_is_named() {
        let err = failed(
            ErrorKind::WouldBlock.into(),
            &Command::Floodme,
            Duration::from_millis(1500),
            "",
        );
        assert_eq!(
            err.to_string(),
            "waiting for CMD_floodme's answer: nothing for 1.5 s; the server is silent \
             (raise --timeout for a slow server)"
        );
    }

    #[test]
    fn a_tcp_source_counts_its_receives() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(&[b'x'; 10]).unwrap();
        });
        let stream = TcpStream::connect(addr).unwrap();
        server.join().unwrap();
        let mut source = TcpSource::new(&stream, 4);
        let mut got = 0;
        while let Event::Data(d) = source.next().unwrap() {
            got += d.len();
        }
        assert_eq!((got, source.recv_calls()), (10, 3));
    }
}
