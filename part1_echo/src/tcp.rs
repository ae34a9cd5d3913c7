//! Codes C and D: the TCP echo server and its client.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};

use anyhow::{Context, bail};
use common::addr::unmapped;
use socket2::Type;

use crate::net::{self, PyAddr};

/// Code D's message: 41 bytes, echoed in 6 `recv(8)` calls at the client
/// (five of 8 bytes, one of 1) and 3 `recv(16)` calls at the server
/// (16 + 16 + 9).
pub const DEFAULT_MESSAGE: &str = "O Romeo, Romeo! wherefore art thou Romeo?";

/// The handout's `listen(1)`: one connection may wait in the accept queue
/// while the server is busy with another (Linux lets one more in).
const BACKLOG: i32 = 1;

/// Code C: echoes every connection, one after the other, `bufsize` bytes
/// per `recv()`.
pub fn server(bind: Option<IpAddr>, port: u16, bufsize: usize, once: bool) -> anyhow::Result<()> {
    let bound = net::bind(bind, port, Type::STREAM)?;
    bound
        .socket
        .listen(BACKLOG)
        .with_context(|| format!("listening on TCP port {}", bound.local))?;
    let listener = TcpListener::from(bound.socket);
    eprintln!("part1_echo: listening on {} (TCP)", bound.local);
    let mut buf = vec![0u8; bufsize];
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // A connection reset before accept() returned it
            // (ECONNABORTED), or a signal: the next one may be fine.
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::ConnectionAborted
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::Interrupted
                ) =>
            {
                eprintln!("part1_echo: warning: accept failed: {err}");
                continue;
            }
            Err(err) => return Err(err).context("accepting a connection"),
        };
        let peer = unmapped(peer);
        eprintln!("part1_echo: connection from {peer}");
        match echo(stream, peer, &mut buf) {
            Ok(()) => {}
            Err(ConnectionError::Stdout(err)) => {
                return Err(err).context("writing to stdout");
            }
            Err(ConnectionError::Peer(err)) if once => {
                return Err(err).with_context(|| format!("connection from {peer}"));
            }
            Err(ConnectionError::Peer(err)) => {
                eprintln!(
                    "part1_echo: warning: connection from {peer}: {err:#}; waiting for the next one"
                );
            }
        }
        if once {
            return Ok(());
        }
    }
}

/// Why serving one connection stopped early.
#[derive(Debug)]
enum ConnectionError {
    /// The peer or the network failed: report it, serve the next client.
    Peer(anyhow::Error),
    /// stdout failed: the server cannot show anything any more.
    Stdout(io::Error),
}

/// Echoes one connection until the client closes its side.
fn echo(mut stream: TcpStream, peer: SocketAddr, buf: &mut [u8]) -> Result<(), ConnectionError> {
    let mut out = io::stdout().lock();
    loop {
        let n = read(&mut stream, buf)
            .context("receiving")
            .map_err(ConnectionError::Peer)?;
        if n == 0 {
            writeln!(out, "No more data from {}", PyAddr(peer))
                .and_then(|()| out.flush())
                .map_err(ConnectionError::Stdout)?;
            // Dropping the stream closes it: the client's next recv() sees
            // end of file.
            return Ok(());
        }
        net::show(&mut out, "received: ", &buf[..n]).map_err(ConnectionError::Stdout)?;
        stream
            .write_all(&buf[..n])
            .context("sending the echo")
            .map_err(ConnectionError::Peer)?;
    }
}

/// One `recv()`, retried when a signal interrupts it.
fn read(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Code D: sends `message`, then prints the echo `bufsize` bytes per
/// `recv()` until as many bytes came back as were sent. Then, unless
/// `close`, it keeps the connection open as Code D's `while True: pass`
/// does, until it is killed or the server closes.
pub fn client(
    host: &str,
    port: u16,
    bufsize: usize,
    close: bool,
    message: &str,
) -> anyhow::Result<()> {
    let (mut stream, server) = connect(host, port)?;
    let mut out = io::stdout().lock();
    writeln!(out, "sending: {message}")
        .and_then(|()| out.flush())
        .context("writing to stdout")?;
    stream
        .write_all(message.as_bytes())
        .with_context(|| format!("sending to {server}"))?;

    let expected = message.len();
    let mut received = 0;
    let mut buf = vec![0u8; bufsize];
    while received < expected {
        let n = read(&mut stream, &mut buf).with_context(|| format!("receiving from {server}"))?;
        if n == 0 {
            bail!("{server} closed the connection after echoing {received} of {expected} bytes");
        }
        received += n;
        net::show(&mut out, "received: ", &buf[..n]).context("writing to stdout")?;
    }

    if close {
        // Dropping the stream closes it: the server's recv() sees end of
        // file and prints "No more data from".
        return Ok(());
    }
    eprintln!("part1_echo: holding the connection to {server} open; stop with Ctrl-C");
    loop {
        let n = read(&mut stream, &mut buf).with_context(|| format!("receiving from {server}"))?;
        if n == 0 {
            eprintln!("part1_echo: {server} closed the connection");
            return Ok(());
        }
        net::show(&mut out, "received: ", &buf[..n]).context("writing to stdout")?;
    }
}

/// Connects to the first address of `host` that accepts, in the resolver's
/// order (IPv6 first).
fn connect(host: &str, port: u16) -> anyhow::Result<(TcpStream, SocketAddr)> {
    let addrs = common::resolve(host, port)?;
    let mut failures = Vec::new();
    for addr in addrs {
        match TcpStream::connect(addr) {
            Ok(stream) => {
                match stream.local_addr() {
                    Ok(local) => eprintln!("part1_echo: connected to {addr} from {local}"),
                    Err(_) => eprintln!("part1_echo: connected to {addr}"),
                }
                return Ok((stream, addr));
            }
            Err(err) => failures.push(format!("{addr} ({err})")),
        }
    }
    bail!(
        "cannot connect to {host} port {port}: tried {}",
        failures.join(", ")
    )
}
