//! A blocking TLS connection over a `TcpStream`.
//!
//! rustls is sans-I/O: it turns bytes from the socket into plaintext and
//! plaintext into records, and the caller moves the bytes. This module
//! moves them the way a lab server and client want:
//!
//! - reads take what the socket has, up to a large buffer, in one `recv()`,
//!   and feed rustls from it (rustls's own `read_tls` asks for 4 KiB at a
//!   time, which would cost a system call per 4 KiB of a flood);
//! - every `write()` encrypts its bytes and sends them before returning, so
//!   a PMU message written alone leaves in a record and a TCP send of its
//!   own, as `send()` would on a plain socket;
//! - reads honour an overall deadline (a handshake that must finish in
//!   10 s, however slowly a client dribbles bytes) as well as an idle
//!   time-out, both with `SO_RCVTIMEO`;
//! - [`TlsSocket::close`] sends close_notify, half-closes, and reads what
//!   the peer still sends for a moment before closing, so that unread
//!   bytes do not turn the close into a reset that destroys the answer in
//!   the peer's receive queue.

use crate::report;
use rustls::Connection;
use std::fmt;
use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// Bytes asked of each `recv()`.
pub const RECV_BUFFER: usize = 256 * 1024;

/// The longest [`TlsSocket::close`] waits for the peer to close.
const MAX_LINGER: Duration = Duration::from_secs(60);

/// The most bytes [`TlsSocket::close`] reads and discards before closing.
const DRAIN_LIMIT: usize = 1 << 20;

/// Which end of the connection this program is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    /// The other end, as a person calls it.
    pub fn peer(self) -> &'static str {
        match self {
            Side::Client => "server",
            Side::Server => "client",
        }
    }
}

/// Why a TLS connection failed.
#[derive(Debug)]
pub enum TlsError {
    /// TLS refused: a certificate, an alert from the peer, a protocol error.
    Tls { error: rustls::Error, side: Side },
    /// The peer closed the TCP connection before the handshake finished.
    ClosedInHandshake { side: Side },
    /// Nothing arrived in time.
    TimedOut { after: Duration },
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Tls { error, side } => f.write_str(&report::explain(error, *side)),
            TlsError::ClosedInHandshake { side: Side::Client } => f.write_str(
                "the server closed the connection during the handshake (is it at its \
                 connection limit? does it speak TLS? did it refuse our certificate without an \
                 alert?)",
            ),
            TlsError::ClosedInHandshake { side: Side::Server } => f.write_str(
                "the client closed the connection during the handshake (it may not trust our \
                 certificate: give it the CA that signed it)",
            ),
            TlsError::TimedOut { after } => {
                write!(f, "nothing from the peer for {} s", after.as_secs_f64())
            }
            TlsError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl TlsError {
    /// As an `io::Error` that still carries this error (downcast with
    /// [`TlsError::from_io`]); an I/O error comes back as itself.
    pub fn into_io(self) -> io::Error {
        let kind = match &self {
            TlsError::Io(_) => None,
            TlsError::Tls { .. } => Some(ErrorKind::InvalidData),
            TlsError::ClosedInHandshake { .. } => Some(ErrorKind::UnexpectedEof),
            TlsError::TimedOut { .. } => Some(ErrorKind::TimedOut),
        };
        match (kind, self) {
            (None, TlsError::Io(err)) => err,
            (Some(kind), err) => io::Error::new(kind, err),
            (None, err) => io::Error::other(err),
        }
    }

    /// The `TlsError` inside an `io::Error` made by [`TlsError::into_io`].
    pub fn from_io(err: &io::Error) -> Option<&TlsError> {
        err.get_ref().and_then(|inner| inner.downcast_ref())
    }
}

/// A TLS connection over a blocking TCP socket; see the module
/// documentation.
#[derive(Debug)]
pub struct TlsSocket {
    conn: Connection,
    sock: TcpStream,
    side: Side,
    inbuf: Box<[u8]>,
    /// `inbuf[pos..end]`: received, not yet given to rustls.
    pos: usize,
    end: usize,
    /// The socket has reported end of stream.
    eof: bool,
    deadline: Option<Instant>,
    idle: Option<Duration>,
    /// The `SO_RCVTIMEO` last set, to skip a system call when it is unchanged.
    applied_timeout: Option<Option<Duration>>,
    recv_calls: u64,
    received: u64,
}

impl TlsSocket {
    /// Wraps a connected socket and a fresh rustls connection.
    pub fn new(conn: impl Into<Connection>, sock: TcpStream) -> TlsSocket {
        TlsSocket::with_recv_buffer(conn, sock, RECV_BUFFER)
    }

    /// [`TlsSocket::new`] with `recv_buffer` bytes asked of each `recv()`.
    pub fn with_recv_buffer(
        conn: impl Into<Connection>,
        sock: TcpStream,
        recv_buffer: usize,
    ) -> TlsSocket {
        let conn = conn.into();
        let side = match conn {
            Connection::Client(_) => Side::Client,
            Connection::Server(_) => Side::Server,
        };
        TlsSocket {
            conn,
            sock,
            side,
            inbuf: vec![0u8; recv_buffer.max(1)].into_boxed_slice(),
            pos: 0,
            end: 0,
            eof: false,
            deadline: None,
            idle: None,
            applied_timeout: None,
            recv_calls: 0,
            received: 0,
        }
    }

    /// Reads fail with [`TlsError::TimedOut`] once `deadline` has passed.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// Reads fail with [`TlsError::TimedOut`] when nothing arrives for
    /// `idle`.
    pub fn set_idle_timeout(&mut self, idle: Option<Duration>) {
        self.idle = idle;
    }

    /// `SO_SNDTIMEO`: a send that cannot progress for `timeout` (a peer that
    /// does not read) fails instead of blocking for ever.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(timeout)
    }

    /// The rustls connection: version, suite, peer certificates.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The TCP socket underneath.
    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }

    /// Which end this is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// `recv()` calls that returned data.
    pub fn recv_calls(&self) -> u64 {
        self.recv_calls
    }

    /// Bytes of TLS records received.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Sets rustls's limit on buffered outgoing bytes, which is also how
    /// much one `write()` encrypts before sending (default 64 KiB).
    pub fn set_buffer_limit(&mut self, limit: Option<usize>) {
        self.conn.set_buffer_limit(limit);
    }

    /// Runs the handshake to its end.
    pub fn handshake(&mut self) -> Result<(), TlsError> {
        let side = self.side;
        // A reset is a close too, only ruder: a server over its connection
        // cap may close before it reads the ClientHello.
        let closed = |err: TlsError| match err {
            TlsError::Io(io)
                if matches!(
                    io.kind(),
                    ErrorKind::ConnectionReset
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::BrokenPipe
                ) =>
            {
                TlsError::ClosedInHandshake { side }
            }
            other => other,
        };
        while self.conn.is_handshaking() {
            self.flush_tls().map_err(|e| closed(TlsError::Io(e)))?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.eof && self.pos == self.end {
                return Err(TlsError::ClosedInHandshake { side });
            }
            self.fill().map_err(closed)?;
        }
        // The client's Finished, or the server's session tickets.
        self.flush_tls().map_err(|e| closed(TlsError::Io(e)))
    }

    /// Whether input is buffered here or in rustls (received but not yet
    /// read as plaintext). With an empty socket queue as well, the next
    /// read would block: time to flush what was printed.
    pub fn has_buffered_input(&mut self) -> bool {
        if self.pos < self.end {
            return true;
        }
        match self.conn.process_new_packets() {
            Ok(state) => state.plaintext_bytes_to_read() > 0,
            Err(_) => false,
        }
    }

    /// Ends the connection politely: close_notify, half-close, then read
    /// and discard what the peer still sends for up to `linger` (see the
    /// module documentation).
    pub fn close(mut self, linger: Duration) -> io::Result<()> {
        self.conn.send_close_notify();
        self.flush_tls()?;
        self.sock.shutdown(Shutdown::Write)?;
        let deadline = Instant::now() + linger.min(MAX_LINGER);
        let mut drained = 0usize;
        while drained < DRAIN_LIMIT {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.sock.set_read_timeout(Some(left))?;
            match self.sock.read(&mut self.inbuf) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
        Ok(())
    }

    /// Ends a connection whose handshake failed (rustls has sent the alert
    /// that says why): half-closes and drains like [`TlsSocket::close`], so
    /// that bytes the peer sent meanwhile do not make the close a reset
    /// that would destroy the alert before the peer reads it.
    pub fn abort(mut self, linger: Duration) {
        let _ = self.flush_tls();
        let _ = self.sock.shutdown(Shutdown::Write);
        let deadline = Instant::now() + linger.min(MAX_LINGER);
        let mut drained = 0usize;
        while drained < DRAIN_LIMIT {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.sock.set_read_timeout(Some(left)).is_err() {
                break;
            }
            match self.sock.read(&mut self.inbuf) {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    }

    /// Sends close_notify and closes at once, ignoring errors: for a client
    /// whose server has already closed.
    pub fn close_now(mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_tls();
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// Sends every pending record.
    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            if self.conn.write_tls(&mut self.sock)? == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
        }
        Ok(())
    }

    /// Gives rustls more bytes, reading the socket when nothing is pending,
    /// and processes them.
    fn fill(&mut self) -> Result<(), TlsError> {
        if self.pos == self.end && !self.eof {
            self.apply_read_timeout()?;
            let n = loop {
                match self.sock.read(&mut self.inbuf) {
                    Ok(n) => break n,
                    Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                    Err(err)
                        if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                    {
                        return Err(TlsError::TimedOut {
                            after: self.applied_timeout.flatten().unwrap_or_default(),
                        });
                    }
                    Err(err) => return Err(TlsError::Io(err)),
                }
            };
            if n == 0 {
                self.eof = true;
                // A zero-byte read tells rustls the stream has ended.
                self.conn.read_tls(&mut io::empty()).map_err(TlsError::Io)?;
            } else {
                self.recv_calls += 1;
                self.received += n as u64;
                self.pos = 0;
                self.end = n;
            }
        }
        if self.pos < self.end {
            let mut pending = &self.inbuf[self.pos..self.end];
            let taken = self.conn.read_tls(&mut pending).map_err(TlsError::Io)?;
            self.pos += taken;
        }
        match self.conn.process_new_packets() {
            Ok(_) => Ok(()),
            Err(error) => {
                // rustls has queued the alert that tells the peer why.
                let _ = self.flush_tls();
                Err(TlsError::Tls {
                    error,
                    side: self.side,
                })
            }
        }
    }

    /// Sets `SO_RCVTIMEO` to what is left of the deadline, or the idle
    /// time-out if that is shorter.
    fn apply_read_timeout(&mut self) -> Result<(), TlsError> {
        let mut timeout = self.idle;
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(TlsError::TimedOut {
                    after: self.idle.unwrap_or_default(),
                });
            }
            timeout = Some(timeout.map_or(left, |idle| idle.min(left)));
        }
        if self.applied_timeout != Some(timeout) {
            self.sock.set_read_timeout(timeout).map_err(TlsError::Io)?;
            self.applied_timeout = Some(timeout);
        }
        Ok(())
    }
}

impl BufRead for TlsSocket {
    /// Plaintext without a copy: what rustls has decrypted (up to a
    /// record), reading the socket when it has nothing. Empty once the peer
    /// has sent close_notify; an `UnexpectedEof` error when it closed
    /// without one (a truncation an attacker could have caused, or a peer
    /// that skips close_notify, such as Python's `ssl` on `close()`).
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            match self.conn.reader().into_first_chunk() {
                Ok(chunk) if !chunk.is_empty() => break,
                Ok(_) => return Ok(&[]),
                Err(err) if err.kind() == ErrorKind::WouldBlock => {}
                Err(err) => return Err(err),
            }
            if self.eof && self.pos == self.end {
                // rustls has seen the end: the next look reports it.
                self.conn.process_new_packets().map_err(|error| {
                    TlsError::Tls {
                        error,
                        side: self.side,
                    }
                    .into_io()
                })?;
                return self.conn.reader().into_first_chunk();
            }
            self.fill().map_err(TlsError::into_io)?;
        }
        self.conn.reader().into_first_chunk()
    }

    fn consume(&mut self, amt: usize) {
        self.conn.reader().consume(amt);
    }
}

impl Read for TlsSocket {
    /// Plaintext, as [`BufRead::fill_buf`] gives it, copied.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = self.fill_buf()?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Write for TlsSocket {
    /// Encrypts up to the buffer limit of `buf` and sends it before
    /// returning.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        self.flush_tls()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}
