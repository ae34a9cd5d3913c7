//! Dual-stack address resolution.
//!
//! The lab's hosts answer on IPv4 only, IPv6 only or both, and that changes
//! over the day (Part 3), so a client asks for every A and AAAA record and
//! decides per family. An IPv6 socket reaches an IPv4-only host through the
//! host's IPv4-mapped address `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), which
//! is how Part 2's IPv6-only client talks to an IPv4 server.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream, ToSocketAddrs};

/// An address family, named the way the lab prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// The family a peer really speaks: a v4-mapped IPv6 address is IPv4.
    pub fn of(addr: &SocketAddr) -> Family {
        match unmapped(*addr) {
            SocketAddr::V4(_) => Family::V4,
            SocketAddr::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// Why a host name gave no address.
#[derive(Debug)]
pub struct ResolveError {
    host: String,
    source: Option<io::Error>,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot resolve host '{}'", self.host)?;
        match &self.source {
            Some(err) => write!(f, " ({err})")?,
            None => f.write_str(" (no address records)")?,
        }
        f.write_str("; check the name or give an IP address")
    }
}

impl std::error::Error for ResolveError {}

/// Every address `host` resolves to for `port`, IPv6 first, without
/// duplicates.
///
/// `host` may be a name, an IPv4 literal, or an IPv6 literal with or without
/// brackets (`::1`, `[::1]`). `localhost` and names under `.localhost` are
/// always both `::1` and `127.0.0.1`, whatever `/etc/hosts` says: RFC 6761
/// §6.3 reserves them for loopback, curl resolves them the same way, and
/// many systems (this project's CI among them) list only `127.0.0.1`, which
/// would hide the IPv6 half of every dual-stack exchange.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lower = bare.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    if lower == "localhost" || lower.ends_with(".localhost") {
        return Ok(vec![
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        ]);
    }
    let found = (bare, port).to_socket_addrs().map_err(|err| ResolveError {
        host: host.to_string(),
        source: Some(err),
    })?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in found {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(ResolveError {
            host: host.to_string(),
            source: None,
        });
    }
    // Stable: keeps the resolver's preference within a family.
    addrs.sort_by_key(|a| Family::of(a) == Family::V4);
    Ok(addrs)
}

/// A TCP connection to the first of `host`'s addresses that accepts within
/// `timeout` (`localhost`: `::1`, then `127.0.0.1`), and the address it
/// reached.
pub fn connect(
    host: &str,
    port: u16,
    timeout: std::time::Duration,
) -> anyhow::Result<(TcpStream, SocketAddr)> {
    connect_with(host, port, |addr| {
        TcpStream::connect_timeout(&addr, timeout)
    })
}

/// Like [`connect`], with the connection made by `connect` (Part 2 makes
/// an `AF_INET6` socket for every address). When no address accepts, the
/// error lists each with its reason: a refused IPv6 and a timed-out IPv4
/// tell different stories.
pub fn connect_with<S>(
    host: &str,
    port: u16,
    mut connect: impl FnMut(SocketAddr) -> io::Result<S>,
) -> anyhow::Result<(S, SocketAddr)> {
    let addrs = resolve(host, port)?;
    let mut failures = Vec::new();
    for addr in addrs {
        match connect(addr) {
            Ok(stream) => return Ok((stream, addr)),
            Err(err) => failures.push(format!("{addr}: {err}")),
        }
    }
    anyhow::bail!(
        "connecting to {host} port {port}: {}; is the server running and the port right?",
        failures.join("; ")
    )
}

/// The address an `AF_INET6` socket uses to reach `addr`: itself for IPv6,
/// the IPv4-mapped `::ffff:a.b.c.d` for IPv4.
pub fn v6_mapped(addr: SocketAddr) -> SocketAddrV6 {
    match addr {
        SocketAddr::V6(v6) => v6,
        SocketAddr::V4(v4) => SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0),
    }
}

/// Whether a socket call failed because this machine cannot do IPv6 at
/// all (`EAFNOSUPPORT` from `socket(AF_INET6, …)` on a kernel without IPv6,
/// `EADDRNOTAVAIL` for `[::]` on a host with IPv6 off), not because of the
/// port or a permission: the one rule by which a dual-stack server falls
/// back to IPv4 only (part1_echo, netserve's listeners, cbc_msg).
pub fn no_ipv6(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::Unsupported
    ) || err.raw_os_error() == Some(libc::EAFNOSUPPORT)
}

/// The address as a person would write it: a v4-mapped IPv6 address
/// (what a dual-stack socket reports for an IPv4 peer) becomes IPv4.
pub fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_resolve_to_themselves() {
        let v4: SocketAddr = "192.0.2.7:5004".parse().unwrap();
        assert_eq!(resolve("192.0.2.7", 5004).unwrap(), vec![v4]);
        let v6: SocketAddr = "[2001:db8::1]:5003".parse().unwrap();
        assert_eq!(resolve("2001:db8::1", 5003).unwrap(), vec![v6]);
        assert_eq!(resolve("[2001:db8::1]", 5003).unwrap(), vec![v6]);
    }

    #[test]
    fn localhost_is_both_loopbacks_ipv6_first() {
        for name in ["localhost", "LOCALHOST", "localhost.", "pmu.localhost"] {
            let addrs = resolve(name, 7).unwrap();
            assert_eq!(
                addrs,
                vec![
                    "[::1]:7".parse::<SocketAddr>().unwrap(),
                    "127.0.0.1:7".parse().unwrap()
                ],
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_host_names_the_host() {
        let err = resolve("no-such-host.invalid", 1).unwrap_err().to_string();
        assert!(err.contains("no-such-host.invalid"), "{err}");
        assert!(err.contains("check the name"), "{err}");
    }

    #[test]
    fn connect_tries_every_address_and_names_each_failure() {
        // Nobody listens on a port that was free a moment ago.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = connect("localhost", port, std::time::Duration::from_secs(2))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&format!("[::1]:{port}")), "{err}");
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_stream, reached) =
            connect("localhost", port, std::time::Duration::from_secs(2)).unwrap();
        assert_eq!(
            reached,
            SocketAddr::from(([127, 0, 0, 1], port)),
            "IPv6 refused, IPv4 reached"
        );
    }

    #[test]
    fn mapping_round_trips() {
        let v4: SocketAddr = "10.1.2.3:80".parse().unwrap();
        let mapped = v6_mapped(v4);
        assert_eq!(mapped.to_string(), "[::ffff:10.1.2.3]:80");
        assert_eq!(unmapped(mapped.into()), v4);
        assert_eq!(Family::of(&mapped.into()), Family::V4);
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        assert_eq!(unmapped(v6), v6);
        assert_eq!(Family::of(&v6), Family::V6);
    }
}
