//! The PDC's connection: one command, one IPv6 TCP connection.

use anyhow::{Context, bail};
use common::Command;
use common::output::{PmuPrinter, bytes_waiting};
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The default `recv()` size. Measured on this project's 2-core VM, a 1 GiB
/// flood over loopback took about 0.28 s with 16 to 64 KiB, 0.5 s with
/// 256 KiB or 1 MiB, and socat's 128 KiB 0.35 s: a reader that drains the
/// socket in smaller bites keeps the sender's window open, while a large
/// `recv()` copies longer before the kernel can announce the freed space.
/// `--bufsize` changes it, as the lab's question on how the number of
/// `recv()` calls depends on the buffer asks.
pub const DEFAULT_BUFSIZE: u32 = 64 * 1024;

/// How long past its interval a `CMD_short:<d>` waits for the next byte.
const SHORT_GRACE: Duration = Duration::from_secs(30);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Options {
    pub host: String,
    pub port: u16,
    pub bufsize: usize,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Standard output, flushed by the client when the socket is drained.
pub type Output = BufWriter<File>;

/// What one command took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub recv_calls: u64,
    pub bytes: u64,
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

/// Connects, sends `command`, prints the answer to `out` until the server
/// closes.
pub fn run_command(
    options: &Options,
    command: &Command,
    out: &mut Output,
) -> anyhow::Result<Stats> {
    // An `AF_INET6` socket for every address, v4-mapped for IPv4.
    let (mut stream, _) = common::addr::connect_with(&options.host, options.port, |addr| {
        connect_v6(addr, options.connect_timeout)
    })?;
    let idle = match command {
        Command::Short { interval, .. } => options.idle_timeout.max(*interval + SHORT_GRACE),
        Command::Floodme => options.idle_timeout,
    };
    stream
        .set_read_timeout(Some(idle))
        .context("setting SO_RCVTIMEO")?;
    stream
        .write_all(&command.to_wire())
        .with_context(|| format!("sending {command}"))?;

    let mut printer = PmuPrinter::new(command);
    let mut buf = vec![0u8; options.bufsize];
    let mut recv_calls = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.flush().ok();
                bail!(
                    "waiting for {command}'s answer: nothing for {} s; the server is silent \
                     (raise --timeout for a slow server)",
                    idle.as_secs_f64()
                );
            }
            Err(err) => {
                out.flush().ok();
                return Err(err).with_context(|| format!("receiving {command}'s answer"));
            }
        };
        if n == 0 {
            break;
        }
        recv_calls += 1;
        printer.feed(&buf[..n], out).context("writing to stdout")?;
        // A short read drained the queue; a full one may have left bytes,
        // and only an empty queue means the next recv() would block.
        if n < buf.len() || bytes_waiting(&stream).unwrap_or(0) == 0 {
            out.flush().context("writing to stdout")?;
        }
    }
    printer.finish(out).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(Stats {
        recv_calls,
        bytes: printer.bytes(),
        messages: printer.messages(),
    })
}

fn connect_v6(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))
        .map_err(|err| io::Error::new(err.kind(), format!("creating an IPv6 socket: {err}")))?;
    // IPV6_V6ONLY off: the socket may then talk to an IPv4-only host
    // through its v4-mapped address (RFC 4291 §2.5.5.2).
    socket.set_only_v6(false)?;
    let target: SocketAddr = common::addr::v6_mapped(addr).into();
    socket.connect_timeout(&target.into(), timeout)?;
    Ok(socket.into())
}
