//! Binding one service on several addresses with one port number.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

/// How many times a port picked by the kernel for the first address is
/// retried when it is taken on another.
const PORT_RETRIES: usize = 20;

/// A listening TCP socket on each of `ips`, all on `port` (0: one free port
/// chosen for all).
pub fn bind_tcp(ips: &[IpAddr], port: u16) -> io::Result<Vec<TcpListener>> {
    bind_all(ips, port, netserve::accept::bind_listener)
}

/// A UDP socket on each of `ips`, all on `port`.
pub fn bind_udp(ips: &[IpAddr], port: u16) -> io::Result<Vec<UdpSocket>> {
    bind_all(ips, port, |addr| {
        let socket = new_udp_socket(addr)?;
        socket.bind(&addr.into())?;
        Ok(socket.into())
    })
}

/// Where to reach a listener from this host: a wildcard address becomes the
/// loopback address of its family.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, addr.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv6Addr::LOCALHOST, addr.port()).into(),
        _ => addr,
    }
}

/// A UDP socket for `addr` with the options of `netserve::accept::bind_listener`'s
/// TCP listeners.
fn new_udp_socket(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // SO_REUSEADDR: a restarted server binds at once instead of waiting for
    // the previous run's connections to leave TIME_WAIT.
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // IPV6_V6ONLY: `::` and `0.0.0.0` can then be bound side by side,
        // and an IPv6 listener never answers IPv4 by surprise, which would
        // hide an IPv4-only or IPv6-only configuration.
        socket.set_only_v6(true)?;
    }
    Ok(socket)
}

fn bind_all<S>(
    ips: &[IpAddr],
    port: u16,
    bind: impl Fn(SocketAddr) -> io::Result<S>,
) -> io::Result<Vec<S>>
where
    S: HasLocalAddr,
{
    let mut last_err = None;
    for _ in 0..PORT_RETRIES {
        match try_bind_all(ips, port, &bind) {
            Ok(sockets) => return Ok(sockets),
            // The port the kernel gave the first address is taken on another.
            Err(err) if port == 0 && err.kind() == io::ErrorKind::AddrInUse => last_err = Some(err),
            Err(err) => return Err(err),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
}

fn try_bind_all<S: HasLocalAddr>(
    ips: &[IpAddr],
    mut port: u16,
    bind: &impl Fn(SocketAddr) -> io::Result<S>,
) -> io::Result<Vec<S>> {
    let mut sockets = Vec::with_capacity(ips.len());
    for &ip in ips {
        let addr = SocketAddr::new(ip, port);
        let socket = bind(addr)
            .map_err(|err| io::Error::new(err.kind(), format!("binding {addr}: {err}")))?;
        port = socket.local_port()?;
        sockets.push(socket);
    }
    Ok(sockets)
}

trait HasLocalAddr {
    fn local_port(&self) -> io::Result<u16>;
}

impl HasLocalAddr for TcpListener {
    fn local_port(&self) -> io::Result<u16> {
        Ok(self.local_addr()?.port())
    }
}

impl HasLocalAddr for UdpSocket {
    fn local_port(&self) -> io::Result<u16> {
        Ok(self.local_addr()?.port())
    }
}
