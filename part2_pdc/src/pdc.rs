//! The PDC's connection: one command, one IPv6 TCP connection.

use ::pdc::print::Output;
use ::pdc::receive::{Stats, TcpSource, receive, receive_flood};
use anyhow::Context;
use common::Command;
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{self, Write};
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

/// Where and how to connect: the command line's options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The PMU server (a name, an IPv4 or an IPv6 address)
    #[arg(long, default_value = "tcpip.epfl.ch")]
    pub host: String,
    /// The PMU port
    #[arg(long, default_value_t = 5003)]
    pub port: u16,
    /// Bytes asked of each recv() call
    #[arg(long, default_value_t = DEFAULT_BUFSIZE, value_parser = clap::value_parser!(u32).range(1..=(1 << 30)), value_name = "B")]
    pub bufsize: u32,
    /// Seconds to wait for the connection
    #[arg(long, default_value = "10", value_parser = common::cli::seconds, value_name = "SECS")]
    pub connect_timeout: Duration,
    /// Seconds without a byte from the server before giving up
    /// (CMD_short:<d> waits at least d + 30)
    #[arg(long = "timeout", default_value = "30", value_parser = common::cli::seconds, value_name = "SECS")]
    pub idle_timeout: Duration,
}

/// Connects, sends `command`, prints the answer to `out` until the server
/// closes.
///
/// The receive loop is `pdc::receive`, shared with parts 5 and 6;
/// `CMD_short`'s stream is re-cut into lines by `common::splitter` (one hop
/// from here, through `pdc::print::PmuPrinter`), and a flood goes
/// socket → pipe → stdout with `splice(2)` on Linux when stdout is not a
/// terminal (`pdc::receive::receive_flood`).
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
    match command {
        Command::Floodme => receive_flood(&stream, options.bufsize as usize, command, idle, out),
        Command::Short { .. } => receive(
            &mut TcpSource::new(&stream, options.bufsize as usize),
            command,
            idle,
            "",
            out,
        ),
    }
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
