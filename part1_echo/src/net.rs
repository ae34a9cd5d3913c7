//! What the receiving programs share: binding a dual-stack socket,
//! printing what a `recv()` returned, and showing a peer's address the way
//! the handout's Python prints it.
//!
//! - `udp-recv` and `tcp-server` bind `[::]` with `IPV6_V6ONLY` off, so IPv4
//!   and IPv6 peers both arrive on one socket; an IPv4 peer then shows as
//!   `::ffff:a.b.c.d`, which is printed as plain IPv4. Without IPv6 they
//!   fall back to `0.0.0.0`. `--bind ADDR` picks one address instead
//!   (`127.0.0.1`, `::1`, or `::ffff:127.0.0.1` for IPv4 peers through an
//!   IPv6 socket).
//! - Received bytes are shown as UTF-8, invalid sequences replaced by U+FFFD,
//!   per `recv()`: a character cut by a buffer boundary shows as two
//!   replacement characters, which is the lab's point about byte streams.

use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context;
use socket2::{Domain, Socket, Type};

/// A bound socket and the address it really has (port 0 resolved).
#[derive(Debug)]
pub struct Bound {
    pub socket: Socket,
    pub local: SocketAddr,
}

/// Binds a `ty` socket (datagram or stream) to `bind:port`, or, without
/// `bind`, to every address of both families (`[::]` with `IPV6_V6ONLY`
/// off), falling back to `0.0.0.0` when the machine has no IPv6.
pub fn bind(bind: Option<IpAddr>, port: u16, ty: Type) -> anyhow::Result<Bound> {
    let what = kind(ty);
    match bind {
        Some(ip) => bind_one(SocketAddr::new(ip, port), ty)
            .with_context(|| format!("binding {what} {}", SocketAddr::new(ip, port))),
        None => {
            let any6 = SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port);
            match bind_one(any6, ty) {
                Ok(bound) => Ok(bound),
                Err(err) if common::addr::no_ipv6(&err) => {
                    eprintln!("part1_echo: no IPv6 here ({err}); listening on IPv4 only");
                    let any4 = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port);
                    bind_one(any4, ty).with_context(|| format!("binding {what} {any4}"))
                }
                Err(err) => Err(err).with_context(|| format!("binding {what} {any6}")),
            }
        }
    }
}

fn bind_one(addr: SocketAddr, ty: Type) -> io::Result<Bound> {
    let socket = Socket::new(Domain::for_address(addr), ty, None)?;
    // SO_REUSEADDR (man 7 socket): a restarted TCP server binds its port at
    // once instead of failing with EADDRINUSE while the previous run's
    // connections sit in TIME_WAIT (2 × MSL, up to a minute or more). On a
    // UDP socket it lets a restarted receiver bind while the old socket is
    // still being torn down. Without it the program still works, so a
    // system that refuses the option only gets a warning.
    if let Err(err) = socket.set_reuse_address(true) {
        eprintln!("part1_echo: warning: cannot set SO_REUSEADDR ({err})");
    }
    if let SocketAddr::V6(v6) = addr {
        // IPV6_V6ONLY (man 7 ipv6) off: the IPv6 socket also takes IPv4
        // peers, as ::ffff:a.b.c.d. Linux's default is off already
        // (net.ipv6.bindv6only = 0) but other systems differ. Binding a
        // v4-mapped address needs it off.
        if (v6.ip().is_unspecified() || v6.ip().to_ipv4_mapped().is_some())
            && let Err(err) = socket.set_only_v6(false)
        {
            eprintln!("part1_echo: cannot turn IPV6_V6ONLY off ({err}); IPv4 peers may not arrive");
        }
    }
    socket.bind(&addr.into())?;
    let local = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no IP address"))?;
    Ok(Bound { socket, local })
}

fn kind(ty: Type) -> &'static str {
    if ty == Type::STREAM {
        "TCP port"
    } else {
        "UDP port"
    }
}

/// Prints one line `label` + the bytes as UTF-8 (invalid sequences
/// replaced) and flushes, so the line shows while the program runs.
pub fn show(out: &mut impl Write, label: &str, data: &[u8]) -> io::Result<()> {
    writeln!(out, "{label}{}", String::from_utf8_lossy(data))?;
    out.flush()
}

/// A peer's address as Python prints the `addr` of `recvfrom()` or
/// `accept()`: the tuple `('127.0.0.1', 38569)` for IPv4, and
/// `('::1', 38569, 0, 0)` (host, port, flow info, scope id) for IPv6. A
/// v4-mapped IPv6 address is shown as the IPv4 peer it is.
#[derive(Debug, Clone, Copy)]
pub struct PyAddr(pub SocketAddr);

impl fmt::Display for PyAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match common::addr::unmapped(self.0) {
            SocketAddr::V4(v4) => write!(f, "('{}', {})", v4.ip(), v4.port()),
            SocketAddr::V6(v6) => write!(
                f,
                "('{}', {}, {}, {})",
                v6.ip(),
                v6.port(),
                v6.flowinfo(),
                v6.scope_id()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PyAddr;

    fn shown(addr: &str) -> String {
        PyAddr(addr.parse().expect("a socket address")).to_string()
    }

    #[test]
    fn addresses_print_as_python_tuples() {
        assert_eq!(shown("127.0.0.1:38569"), "('127.0.0.1', 38569)");
        assert_eq!(shown("[::1]:38569"), "('::1', 38569, 0, 0)");
        assert_eq!(shown("[::ffff:127.0.0.1]:50042"), "('127.0.0.1', 50042)");
        assert_eq!(shown("[fe80::1%2]:7"), "('fe80::1', 7, 0, 2)");
    }
}
