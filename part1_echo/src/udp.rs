//! Codes A and B: one UDP datagram, sent and received.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use anyhow::{Context, bail};
use socket2::Type;

use crate::net::{self, PyAddr};

/// What `udp-send` sends when no MESSAGE is given: Code A's 13 bytes,
/// the trailing space included.
pub const DEFAULT_MESSAGE: &str = "Hello, Romeo ";

/// The largest UDP payload (65535 minus the 8-byte UDP header, and over
/// IPv4 the 20-byte IP header); a bigger buffer never truncates a datagram.
const MAX_DATAGRAM: usize = 65536;

/// Code A: sends `message` as one datagram to the first address of `host`
/// whose family this machine can use (see the crate docs).
pub fn send(host: &str, port: u16, message: &str) -> anyhow::Result<()> {
    let addrs = common::resolve(host, port)?;
    let mut failures = Vec::new();
    for addr in addrs {
        match send_to(addr, message.as_bytes()) {
            Ok(local) => {
                eprintln!(
                    "part1_echo: sent {} bytes to {addr} from {local}: {message}",
                    message.len()
                );
                // Code A's only line.
                let mut out = io::stdout().lock();
                writeln!(out, "Message sent")
                    .and_then(|()| out.flush())
                    .context("writing to stdout")?;
                return Ok(());
            }
            Err(err) => failures.push(format!("{addr} ({err})")),
        }
    }
    bail!(
        "cannot send to {host} port {port}: tried {}",
        failures.join(", ")
    )
}

/// One datagram from an ephemeral port of `to`'s family; returns the
/// sender's address.
fn send_to(to: SocketAddr, data: &[u8]) -> io::Result<SocketAddr> {
    let any: IpAddr = match to {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0))?;
    let sent = socket.send_to(data, to)?;
    if sent != data.len() {
        // A datagram is sent whole or not at all; this is only a guard.
        return Err(io::Error::other(format!(
            "only {sent} of {} bytes sent",
            data.len()
        )));
    }
    socket.local_addr()
}

/// Code B: prints every datagram that arrives, `count` of them if given.
pub fn recv(bind: Option<IpAddr>, port: u16, count: Option<u64>) -> anyhow::Result<()> {
    let bound = net::bind(bind, port, Type::DGRAM)?;
    let socket = UdpSocket::from(bound.socket);
    eprintln!("part1_echo: listening on {} (UDP)", bound.local);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = io::stdout().lock();
    let mut received = 0u64;
    while count.is_none_or(|n| received < n) {
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            // An ICMP error from an earlier exchange, or a signal: not fatal.
            Err(err) if transient(&err) => continue,
            Err(err) => {
                return Err(err).with_context(|| format!("receiving on {}", bound.local));
            }
        };
        received += 1;
        // Code B's `print('Received data: ', …)`: print() puts a space
        // between its arguments, hence two after the colon.
        net::show(&mut out, "Received data:  ", &buf[..len])
            .and_then(|()| writeln!(out, "From Address:  {}", PyAddr(from)))
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
    }
    Ok(())
}

/// Errors a receiving UDP socket may report that say nothing about the
/// next datagram: an interrupted call, or `ECONNREFUSED` left by an ICMP
/// "port unreachable".
fn transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused
    )
}
