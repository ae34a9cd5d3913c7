//! The receiving side: a TCP listener, one thread per connection under a
//! cap, each connection carrying any number of frames, each authentic
//! message printed as one line on stdout.
//!
//! Nothing a peer sends stops the server: a forged or damaged message is
//! reported on stderr and ends that connection (a peer without the key
//! would otherwise hold its place for ever with a junk frame now and
//! then); a bad length prefix, a truncated frame or a silent peer ends
//! that connection too.
//!
//! Admission (`netserve::accept`): at most `--max-connections`, half of
//! them at most for one IP address; a connection counts as waiting until
//! its first authentic message, and when no place is free a newcomer takes
//! the place of the oldest waiting one, which is closed. A connection that
//! has delivered a message keeps its place until it closes or stays silent
//! for `--timeout`.

use crate::frame::{self, ReadError};
use crate::key::Keys;
use anyhow::Context;
use netserve::accept::{ConnectionLimit, DeadlineStream, Event, Slot};
use socket2::{Domain, Protocol, Socket, Type};
use std::borrow::Cow;
use std::io::{self, BufReader, ErrorKind, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a connection may stay silent, between frames or inside
    /// one, before it is closed (`SO_RCVTIMEO`).
    pub idle_timeout: Duration,
    /// Places for connections (see the module's documentation for who
    /// gets one when none is free).
    pub max_connections: usize,
    /// Log every connection and its end to stderr.
    pub verbose: bool,
}

/// The default address: `::` with `IPV6_V6ONLY` off, i.e. every IPv4 and
/// IPv6 address of the machine. Messages are meant to come from another
/// machine, as in the lab's other servers.
pub const DEFAULT_BIND: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

/// A listening socket on `bind`:`port` (`port` 0: one the kernel picks).
///
/// `SO_REUSEADDR` lets a restarted server bind while the old connections
/// sit in `TIME_WAIT`; on an IPv6 address `IPV6_V6ONLY` is turned off, so
/// that `::` takes IPv4 clients too (as v4-mapped addresses). When the
/// machine has no IPv6 at all, the default `::` falls back to `0.0.0.0`.
pub fn listen(bind: Option<IpAddr>, port: u16) -> anyhow::Result<TcpListener> {
    let addr = SocketAddr::new(bind.unwrap_or(DEFAULT_BIND), port);
    match listen_on(addr) {
        Ok(listener) => Ok(listener),
        Err(err) if bind.is_none() && common::addr::no_ipv6(&err) => {
            let v4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
            crate::say!("cbc_msg: no IPv6 here ({err}); listening on IPv4 only");
            listen_on(v4).map_err(|err| bind_error(v4, err))
        }
        Err(err) => Err(bind_error(addr, err)),
    }
}

fn listen_on(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}

fn bind_error(addr: SocketAddr, err: io::Error) -> anyhow::Error {
    let hint = netserve::accept::bind_hint(&err, "pick another PORT, or --bind ADDR");
    anyhow::Error::new(err).context(format!("listening on {addr}; {hint}"))
}

/// What the server prints once it listens: the real address and port, for
/// a person who passed port 0 and for tests.
pub fn listening_line(listener: &TcpListener) -> io::Result<String> {
    let addr = listener.local_addr()?;
    let both = match addr.ip() {
        IpAddr::V6(ip) if ip.is_unspecified() => " (IPv4 and IPv6)",
        _ => "",
    };
    Ok(format!("cbc_msg: listening on {addr}{both}"))
}

/// Accepts connections for ever, one thread each under the cap.
pub fn serve(listener: TcpListener, keys: Keys, options: Options) -> anyhow::Result<()> {
    let limit = ConnectionLimit::new(options.max_connections);
    let (keys, options) = (Arc::new(keys), Arc::new(options));
    netserve::accept::accept_loop(
        &listener,
        &limit,
        "cbc_msg-conn",
        || false,
        |event| match event {
            // EMFILE, ECONNABORTED and the like concern one connection or
            // pass; the listener is still good.
            Event::AcceptFailed(err) => {
                crate::say!("cbc_msg: error: accepting a connection: {err}")
            }
            Event::Refused { peer, why } => crate::say!(
                "cbc_msg: error: connection from {peer} refused: {why} (--max-connections)"
            ),
            Event::Evicted { peer, evicted } => crate::say!(
                "cbc_msg: error: connection from {evicted} closed: it had sent no message, and \
                 {peer} needed its place (--max-connections)"
            ),
            Event::NoThread { peer, error } => {
                crate::say!(
                    "cbc_msg: error: connection from {peer} refused: starting a thread: {error}"
                )
            }
        },
        move |stream, peer, slot| handle(stream, peer, slot, &keys, &options),
    );
    Ok(())
}

/// Serves one connection until the peer closes or misbehaves.
fn handle(stream: TcpStream, peer: SocketAddr, slot: &Slot, keys: &Keys, options: &Options) {
    if options.verbose {
        crate::say!("cbc_msg: connection from {peer}");
    }
    // Each frame must arrive whole within --timeout of the previous one (or
    // of connecting): a per-read time-out alone restarts with every byte,
    // and a peer sending a byte now and then would keep its place for ever.
    let mut reader = BufReader::new(DeadlineStream::new(
        stream,
        Instant::now() + options.idle_timeout,
    ));
    let mut messages = 0u64;
    loop {
        reader
            .get_mut()
            .set_deadline(Instant::now() + options.idle_timeout);
        let body = match frame::read_body(&mut reader) {
            Ok(Some(body)) => body,
            Ok(None) => break,
            Err(err) => {
                let why = match &err {
                    ReadError::Io(io)
                        if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                    {
                        format!(
                            "no whole frame within {} s (--timeout)",
                            options.idle_timeout.as_secs_f64()
                        )
                    }
                    other => other.to_string(),
                };
                crate::say!("cbc_msg: error: connection from {peer} closed: {why}");
                break;
            }
        };
        match frame::open(keys, &body) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    if messages == 0 && !slot.serving() {
                        crate::say!(
                            "cbc_msg: error: message from {peer} dropped: its connection had \
                             given its place to a newer one"
                        );
                        break;
                    }
                    messages += 1;
                    print_message(&text);
                }
                // Authentic, so only a key holder's own program can get
                // here: saying why helps him and tells a forger nothing.
                Err(_) => {
                    crate::say!(
                        "cbc_msg: error: message from {peer} rejected: not UTF-8 text; \
                         connection closed"
                    );
                    break;
                }
            },
            Err(rejected) => {
                crate::say!(
                    "cbc_msg: error: message from {peer} rejected: {rejected}; connection closed"
                );
                break;
            }
        }
    }
    if options.verbose {
        crate::say!("cbc_msg: {peer} closed after {messages} message(s)");
    }
}

/// Prints one message as one line on stdout and flushes it, so that it
/// shows at once. The lock keeps lines from concurrent connections whole.
///
/// A closed stdout (`cbc_msg server … | head -n 3`) ends the server with
/// success, as everywhere in the workspace; any other write error ends it
/// with status 1: a server that cannot show messages has no use.
fn print_message(text: &str) {
    let line = printable(text);
    let mut out = io::stdout().lock();
    let written = writeln!(out, "{line}").and_then(|()| out.flush());
    if let Err(err) = written {
        drop(out);
        let err = anyhow::Error::new(err).context("writing to stdout");
        let status = if common::cli::is_broken_pipe(&err) {
            0
        } else {
            let _ = common::cli::report("cbc_msg", &err);
            1
        };
        std::process::exit(status);
    }
}

/// `text` as one line that is safe to put on a terminal: every control
/// character but the tab (newline, carriage return, escape, …) is shown as
/// a Rust escape (`\n`, `\r`, `\u{1b}`). A newline would otherwise split
/// one message into two lines, and an escape sequence from the peer could
/// rewrite the screen or the window title. Everything else, backslashes
/// included, is printed as sent.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_escaped) {
        return Cow::Borrowed(text);
    }
    let mut line = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_escaped(c) {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    Cow::Owned(line)
}

fn is_escaped(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// Whether `text` (a `--bind` value) is an IP address, with or without
/// brackets.
pub fn parse_bind(text: &str) -> Result<IpAddr, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().map_err(|_| {
        format!("'{text}' is not an IP address (such as 127.0.0.1, ::1, 0.0.0.0 or ::)")
    })
}

/// Listens and serves; what `cbc_msg server` runs.
pub fn run(bind: Option<IpAddr>, port: u16, keys: Keys, options: Options) -> anyhow::Result<()> {
    let listener = listen(bind, port)?;
    crate::say!(
        "{}",
        listening_line(&listener).context("reading the listening address")?
    );
    serve(listener, keys, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_keeps_one_line() {
        assert_eq!(printable("hello, world"), "hello, world");
        assert_eq!(printable("tab\tkept"), "tab\tkept");
        assert_eq!(printable("two\nlines"), "two\\nlines");
        assert_eq!(printable("cr\r"), "cr\\r");
        assert_eq!(printable("\u{1b}[2J"), "\\u{1b}[2J");
        assert_eq!(printable("C:\\temp"), "C:\\temp");
        assert_eq!(printable("héllo ✓"), "héllo ✓");
        assert_eq!(printable("\u{85}"), "\\u{85}");
    }

    #[test]
    fn bind_addresses() {
        assert_eq!(parse_bind("::1"), Ok("::1".parse().unwrap()));
        assert_eq!(parse_bind("[::]"), Ok("::".parse().unwrap()));
        assert_eq!(parse_bind("127.0.0.1"), Ok("127.0.0.1".parse().unwrap()));
        assert!(parse_bind("localhost").is_err());
        assert!(parse_bind("1.2.3").is_err());
    }
}
