//! Multicast sockets (Part 4's receiver and sender, and `lab_server`'s TV
//! channel, which both receives and sends; lab_grader and testkit use them
//! to listen and talk on loopback).
//!
//! The socket options are the ones a student looks up in `man 7 ip` and
//! `man 7 ipv6`; each function names the ones it sets. IPv4 groups
//! (`224.0.0.0/4`) take the interface as one of its IPv4 addresses, as
//! `IP_ADD_MEMBERSHIP` and `IP_MULTICAST_IF` do; IPv6 groups (`ff00::/8`)
//! take it as a name or index, as `IPV6_JOIN_GROUP` and
//! `IPV6_MULTICAST_IF` do.

use socket2::{Domain, Protocol, Socket, Type};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6, UdpSocket};
use std::str::FromStr;

/// The interface a group is joined on and sent through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// Let the kernel choose from the routing table (the route to the
    /// group, usually the default route's interface).
    Any,
    /// The IPv4 interface that has this address (`127.0.0.1` is the
    /// loopback interface: nothing leaves the machine).
    V4(Ipv4Addr),
    /// An interface by index (IPv6 groups), as `ip link` numbers them.
    Index(u32),
}

impl FromStr for Interface {
    type Err = String;

    /// `any`, an IPv4 address, an interface index or an interface name.
    fn from_str(s: &str) -> Result<Interface, String> {
        if s.is_empty() || s == "any" {
            return Ok(Interface::Any);
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(if ip.is_unspecified() {
                Interface::Any
            } else {
                Interface::V4(ip)
            });
        }
        if let Ok(index) = s.parse::<u32>() {
            return Ok(if index == 0 {
                Interface::Any
            } else {
                Interface::Index(index)
            });
        }
        if s.parse::<Ipv6Addr>().is_ok() {
            return Err(format!(
                "'{s}': an IPv6 group's interface is given by name or index (such as lo or 1), \
                 not by address"
            ));
        }
        match interface_index(s) {
            Some(index) => Ok(Interface::Index(index)),
            None => Err(format!(
                "'{s}' is neither an IPv4 address, an interface index nor the name of an \
                 interface of this machine (see `ip address`)"
            )),
        }
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interface::Any => f.write_str("the kernel's choice of interface"),
            Interface::V4(ip) => write!(f, "interface {ip}"),
            Interface::Index(i) => write!(f, "interface #{i}"),
        }
    }
}

#[cfg(unix)]
fn interface_index(name: &str) -> Option<u32> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (index != 0).then_some(index)
}

/// Windows names its interfaces by GUID-like NDIS names that nobody types:
/// there an IPv6 group's interface is given by index (`netsh interface ipv6
/// show interfaces`), which `from_str` parses before it looks up a name.
#[cfg(not(unix))]
fn interface_index(_name: &str) -> Option<u32> {
    None
}

/// Checks that `group` is a multicast address and that `interface` suits
/// its family; the message says what to give instead.
pub fn check(group: IpAddr, interface: Interface) -> Result<(), String> {
    if !group.is_multicast() {
        return Err(format!(
            "{group} is not a multicast group address (224.0.0.0 to 239.255.255.255, or ff00::/8)"
        ));
    }
    match (group, interface) {
        (IpAddr::V4(_), Interface::Index(_)) => Err(format!(
            "an IPv4 group's interface is given by one of its IPv4 addresses \
             (such as 127.0.0.1), not by name or index; group {group}"
        )),
        (IpAddr::V6(_), Interface::V4(ip)) => Err(format!(
            "{ip} is an IPv4 address, but group {group} is IPv6: give the interface by \
             name or index (such as lo or 1)"
        )),
        _ => Ok(()),
    }
}

/// A UDP socket bound to `port` on the wildcard address and joined to
/// `group` on `interface`, for receiving.
///
/// - `SO_REUSEADDR` and `SO_REUSEPORT`: several receivers on this host (and
///   `lab_server`'s TV channel) bind the same port, and each gets its own
///   copy of every multicast datagram (Linux load-balances only unicast
///   among `SO_REUSEPORT` sockets).
/// - `IP_MULTICAST_ALL` / `IPV6_MULTICAST_ALL` off: Linux otherwise hands a
///   wildcard-bound socket the datagrams of every group that any socket of
///   the host joined on that port, not only of its own (Linux only; macOS
///   and Windows already filter by the socket's own groups).
/// - `IP_ADD_MEMBERSHIP` (IPv4) or `IPV6_JOIN_GROUP` (IPv6): the join,
///   which makes the kernel accept the group's datagrams on the interface
///   and announce the membership (IGMP, MLD) to the routers.
///
/// Port 0 picks a free port; read it back with `local_addr()`.
pub fn joined_socket(group: IpAddr, port: u16, interface: Interface) -> io::Result<UdpSocket> {
    let socket = udp_socket(group, interface)?;
    socket.set_reuse_address(true)?;
    // Windows has no SO_REUSEPORT: there SO_REUSEADDR alone lets several
    // sockets bind the port, each with its own copy of the group's datagrams.
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    let wildcard: SocketAddr = match group {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, port).into(),
        IpAddr::V6(_) => {
            // IPV6_V6ONLY: an IPv6 receiver does not also take IPv4
            // datagrams sent to the same port.
            socket.set_only_v6(true)?;
            (Ipv6Addr::UNSPECIFIED, port).into()
        }
    };
    socket
        .bind(&wildcard.into())
        .map_err(|err| context(err, format!("binding port {port}")))?;
    match group {
        IpAddr::V4(group) => {
            // Not every kernel has it; the join below is what matters. Only
            // Linux has the option: macOS (BSD) and Windows deliver a group's
            // datagrams only to the sockets that joined it.
            #[cfg(target_os = "linux")]
            let _ = socket.set_multicast_all_v4(false);
            let local = match interface {
                Interface::V4(ip) => ip,
                _ => Ipv4Addr::UNSPECIFIED,
            };
            socket
                .join_multicast_v4(&group, &local)
                .map_err(|err| context(err, format!("joining {group} on {interface}")))?;
        }
        IpAddr::V6(group) => {
            #[cfg(target_os = "linux")]
            let _ = socket.set_multicast_all_v6(false);
            socket
                .join_multicast_v6(&group, index(interface))
                .map_err(|err| context(err, format!("joining {group} on {interface}")))?;
        }
    }
    Ok(socket.into())
}

/// An unbound UDP socket of `group`'s family, set up for sending to it.
pub fn sending_socket(group: IpAddr, interface: Interface, ttl: u32) -> io::Result<UdpSocket> {
    let socket: UdpSocket = udp_socket(group, interface)?.into();
    set_sending(&socket, group, interface, ttl)?;
    Ok(socket)
}

/// A new UDP socket of `group`'s family, once [`check`] has accepted the
/// group and the interface.
fn udp_socket(group: IpAddr, interface: Interface) -> io::Result<Socket> {
    check(group, interface).map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
    Socket::new(
        Domain::for_address((group, 0).into()),
        Type::DGRAM,
        Some(Protocol::UDP),
    )
}

/// Sets how `socket` sends to `group`:
///
/// - `IP_MULTICAST_IF` / `IPV6_MULTICAST_IF`: the interface the datagrams
///   leave by (by default the kernel routes the group like any address,
///   usually out of the default route's interface);
/// - `IP_MULTICAST_TTL` / `IPV6_MULTICAST_HOPS`: how many routers they may
///   cross; 1 keeps them on the local network, 0 on this host;
/// - `IP_MULTICAST_LOOP` / `IPV6_MULTICAST_LOOP` on: receivers on this host
///   get a copy too (Linux's default, set so that it is not left to
///   chance).
pub fn set_sending(
    socket: &UdpSocket,
    group: IpAddr,
    interface: Interface,
    ttl: u32,
) -> io::Result<()> {
    let socket = socket2::SockRef::from(socket);
    match group {
        IpAddr::V4(_) => {
            if let Interface::V4(ip) = interface {
                socket
                    .set_multicast_if_v4(&ip)
                    .map_err(|err| context(err, format!("sending through {interface}")))?;
            }
            socket.set_multicast_ttl_v4(ttl)?;
            socket.set_multicast_loop_v4(true)?;
        }
        IpAddr::V6(_) => {
            if let Interface::Index(i) = interface {
                socket
                    .set_multicast_if_v6(i)
                    .map_err(|err| context(err, format!("sending through {interface}")))?;
            }
            socket.set_multicast_hops_v6(ttl)?;
            socket.set_multicast_loop_v6(true)?;
        }
    }
    Ok(())
}

/// Where to send a group's datagrams: for IPv6 the scope is the interface,
/// which link-local groups (`ff02::…`) need.
pub fn destination(group: IpAddr, port: u16, interface: Interface) -> SocketAddr {
    match group {
        IpAddr::V4(ip) => (ip, port).into(),
        IpAddr::V6(ip) => SocketAddrV6::new(ip, port, 0, index(interface)).into(),
    }
}

fn index(interface: Interface) -> u32 {
    match interface {
        Interface::Index(i) => i,
        _ => 0,
    }
}

fn context(err: io::Error, what: String) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_parse() {
        assert_eq!("any".parse(), Ok(Interface::Any));
        assert_eq!("0.0.0.0".parse(), Ok(Interface::Any));
        assert_eq!("127.0.0.1".parse(), Ok(Interface::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!("3".parse(), Ok(Interface::Index(3)));
        #[cfg(target_os = "linux")]
        assert_eq!(
            "lo".parse::<Interface>(),
            Ok(Interface::Index(interface_index("lo").unwrap()))
        );
        assert!(
            "::1"
                .parse::<Interface>()
                .unwrap_err()
                .contains("name or index")
        );
        assert!(
            "no-such-if0"
                .parse::<Interface>()
                .unwrap_err()
                .contains("ip address")
        );
    }

    #[test]
    fn groups_and_interfaces_must_agree() {
        let v4: IpAddr = "224.1.1.1".parse().unwrap();
        let v6: IpAddr = "ff02::1:2345".parse().unwrap();
        assert!(check(v4, Interface::V4(Ipv4Addr::LOCALHOST)).is_ok());
        assert!(check(v6, Interface::Index(1)).is_ok());
        assert!(check(v4, Interface::Any).is_ok());
        assert!(
            check("127.0.0.1".parse().unwrap(), Interface::Any)
                .unwrap_err()
                .contains("not a multicast")
        );
        assert!(check(v4, Interface::Index(1)).is_err());
        assert!(check(v6, Interface::V4(Ipv4Addr::LOCALHOST)).is_err());
    }

    #[test]
    fn ipv6_destinations_carry_the_interface() {
        let v6: IpAddr = "ff02::1:2345".parse().unwrap();
        assert_eq!(
            destination(v6, 5005, Interface::Index(7)).to_string(),
            "[ff02::1:2345%7]:5005"
        );
        assert_eq!(
            destination("224.1.1.1".parse().unwrap(), 5005, Interface::Any).to_string(),
            "224.1.1.1:5005"
        );
    }
}
