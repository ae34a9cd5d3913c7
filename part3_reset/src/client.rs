//! The reset exchange: send `RESET:<n>` on every family, wait for the
//! server's `OFFSET`, retransmit on time-out. See the design notes in
//! `main.rs`.

use anyhow::{Context, bail};
use chrono::{DateTime, Local};
use common::Family;
use common::addr::unmapped;
use common::reset::{Offset, Reset};
use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::report::Ack;

/// The largest UDP payload: a datagram is read whole, never truncated into
/// something that parses.
const MAX_DATAGRAM: usize = 65_535;

/// How often a reader thread wakes by itself to check whether its run is
/// over. Only a backstop for systems where `shutdown(SHUT_RD)` does not wake
/// a `recv` on an unconnected UDP socket (Linux does wake it at once);
/// replies never wait for it.
const READER_BACKSTOP: Duration = Duration::from_secs(1);

/// What the exchange needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The name given on the command line, for messages.
    pub host: String,
    /// Every address of the server, of the families allowed.
    pub servers: Vec<SocketAddr>,
    pub reset: Reset,
    /// How long to wait for a reply before sending again.
    pub timeout: Duration,
    /// Attempts per run; `None`: for ever.
    pub max_tries: Option<u32>,
    /// Notes on stderr for each attempt and each ignored datagram.
    pub verbose: bool,
}

/// A client that runs the exchange as many times as asked.
#[derive(Debug)]
pub struct Client {
    settings: Settings,
    /// The addresses still sent to: one that cannot be sent to (its family
    /// is missing on this host) is dropped, with a warning, for good.
    destinations: Vec<SocketAddr>,
    /// The previous run's sockets, closed only once the next run's are
    /// bound so that the kernel cannot hand the same port out again.
    retired: Vec<FamilySocket>,
}

/// One socket of one family, bound to the wildcard address and an
/// ephemeral port.
#[derive(Debug)]
struct FamilySocket {
    family: Family,
    socket: UdpSocket,
}

/// What a reader thread reports.
#[derive(Debug)]
enum Event {
    Datagram {
        from: SocketAddr,
        bytes: Vec<u8>,
        at: SystemTime,
    },
    /// The socket failed for good; its reader has ended.
    Failed(Family, io::Error),
}

impl Client {
    pub fn new(mut settings: Settings) -> Client {
        // `::ffff:a.b.c.d` is IPv4: it goes out on the IPv4 socket, which
        // only takes the plain form.
        for server in &mut settings.servers {
            *server = unmapped(*server);
        }
        Client {
            destinations: settings.servers.clone(),
            settings,
            retired: Vec::new(),
        }
    }

    /// One exchange: sends `RESET:<n>` until a valid `OFFSET` arrives from
    /// the server, or `--max-tries` attempts went unanswered.
    pub fn exchange(&mut self) -> anyhow::Result<Ack> {
        let sockets = self.open_sockets()?;
        // Bound: the old ports may be released now.
        self.retired.clear();
        let stop = AtomicBool::new(false);
        let result = thread::scope(|scope| {
            // Declared before the readers start: dropped last, it stops them
            // on every way out, errors and panics included, so that the
            // scope's join never waits on a blocked recv.
            let _stop = StopReaders {
                sockets: &sockets,
                stop: &stop,
            };
            let (tx, rx) = mpsc::channel();
            for socket in &sockets {
                let tx = tx.clone();
                let stop = &stop;
                thread::Builder::new()
                    .name(format!("reset-{}", socket.family))
                    .spawn_scoped(scope, move || read_replies(socket, stop, tx))
                    .context("starting a reader thread")?;
            }
            // The readers hold the only senders: when every one has ended,
            // the channel says so.
            drop(tx);
            self.attempts(&sockets, &rx)
        });
        self.retired = sockets;
        result
    }

    /// A socket for each family that still has a destination. A family
    /// whose socket cannot be made (IPv6 disabled: `EAFNOSUPPORT`,
    /// `EADDRNOTAVAIL`) is dropped with a warning.
    fn open_sockets(&mut self) -> anyhow::Result<Vec<FamilySocket>> {
        let mut sockets = Vec::new();
        let mut last_err = None;
        for family in [Family::V6, Family::V4] {
            if !self.destinations.iter().any(|a| Family::of(a) == family) {
                continue;
            }
            match open_socket(family) {
                Ok(socket) => sockets.push(FamilySocket { family, socket }),
                Err(err) => {
                    warn(format_args!(
                        "skipping {family}: cannot open a UDP socket: {err}"
                    ));
                    self.destinations.retain(|a| Family::of(a) != family);
                    last_err = Some(err);
                }
            }
        }
        if sockets.is_empty() {
            let err = last_err.unwrap_or_else(|| io::Error::other("no address left"));
            return Err(err).with_context(|| {
                format!(
                    "cannot open a UDP socket toward {} on any address family",
                    self.settings.host
                )
            });
        }
        Ok(sockets)
    }

    /// Sends and waits, attempt after attempt, until an answer is accepted.
    fn attempts(
        &mut self,
        sockets: &[FamilySocket],
        replies: &Receiver<Event>,
    ) -> anyhow::Result<Ack> {
        let mut attempt: u32 = 0;
        loop {
            if let Some(max) = self.settings.max_tries {
                if attempt >= max {
                    bail!(
                        "no answer from {} ({}) after {attempt} {} of {} s each; check the \
                         host name, the port, and that no firewall drops UDP port {}",
                        self.settings.host,
                        list(&self.settings.servers),
                        if attempt == 1 { "attempt" } else { "attempts" },
                        self.settings.timeout.as_secs_f64(),
                        self.settings.servers[0].port(),
                    );
                }
            }
            attempt += 1;
            self.send(sockets, attempt)?;
            // Far-off deadlines (a huge --timeout) simply mean no deadline.
            let deadline = Instant::now().checked_add(self.settings.timeout);
            loop {
                let wait = deadline.map_or(Duration::MAX, |d| {
                    d.saturating_duration_since(Instant::now())
                });
                match replies.recv_timeout(wait) {
                    Ok(Event::Datagram { from, bytes, at }) => {
                        if let Some(offset) = self.accept(from, &bytes) {
                            return Ok(Ack {
                                offset,
                                from: unmapped(from),
                                at: DateTime::<Local>::from(at),
                                attempts: attempt,
                            });
                        }
                    }
                    Ok(Event::Failed(family, err)) => {
                        warn(format_args!("no longer receiving over {family}: {err}"))
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        bail!("every socket failed: no reply can be received")
                    }
                }
            }
        }
    }

    /// Sends attempt `attempt` to every destination. Fails only when no
    /// destination is left.
    fn send(&mut self, sockets: &[FamilySocket], attempt: u32) -> anyhow::Result<()> {
        let wire = self.settings.reset.to_wire();
        if self.settings.verbose {
            note(format_args!(
                "attempt {attempt}: RESET:{} to {}",
                self.settings.reset.0,
                list(&self.destinations)
            ));
        }
        let mut last_err = None;
        for socket in sockets {
            let targets: Vec<SocketAddr> = self
                .destinations
                .iter()
                .copied()
                .filter(|a| Family::of(a) == socket.family)
                .collect();
            for target in targets {
                match send_to(&socket.socket, &wire, target) {
                    Ok(()) => {}
                    // ICMP echoes and the like: this attempt is lost on
                    // this address, the next one may go through.
                    Err(err) if transient(&err) => {
                        if self.settings.verbose {
                            note(format_args!("sending to {target}: {err}"));
                        }
                    }
                    // ENETUNREACH, EADDRNOTAVAIL, EHOSTUNREACH, EPERM…: this
                    // host cannot reach that address, typically IPv6 without
                    // an IPv6 route. The other family may still answer.
                    Err(err) => {
                        warn(format_args!(
                            "skipping {} address {target}: cannot send to it: {err}",
                            socket.family
                        ));
                        self.destinations.retain(|a| *a != target);
                        last_err = Some(err);
                    }
                }
            }
        }
        if self.destinations.is_empty() {
            let err = last_err.unwrap_or_else(|| io::Error::other("no address left"));
            return Err(err).with_context(|| {
                format!(
                    "cannot send to any address of {} ({})",
                    self.settings.host,
                    list(&self.settings.servers)
                )
            });
        }
        Ok(())
    }

    /// The offset in `bytes` if it is a valid answer from the server: sent
    /// by one of its addresses, `OFFSET=X` or `OFFSET:X`, `0 <= X <= n`.
    fn accept(&self, from: SocketAddr, bytes: &[u8]) -> Option<Offset> {
        let from = unmapped(from);
        // IP and port only: a link-local source carries a scope id that the
        // resolved address may lack.
        let ours = self.settings.servers.iter().any(|server| {
            let server = unmapped(*server);
            server.ip() == from.ip() && server.port() == from.port()
        });
        let why = if !ours {
            "not from the server"
        } else {
            match Offset::parse(bytes) {
                Some(offset) if offset.answers(self.settings.reset) => return Some(offset),
                Some(_) => "offset larger than the RESET asked for",
                None => "not an OFFSET reply",
            }
        };
        if self.settings.verbose {
            note(format_args!(
                "ignored {} bytes from {from} ({why}): {:?}",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
            ));
        }
        None
    }
}

/// Wakes and ends the reader threads of a run when dropped.
struct StopReaders<'a> {
    sockets: &'a [FamilySocket],
    stop: &'a AtomicBool,
}

impl Drop for StopReaders<'_> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for socket in self.sockets {
            // shutdown(SHUT_RD) (`man 2 shutdown`) wakes a recv blocked on
            // the socket. On an unconnected UDP socket Linux still does so
            // but returns ENOTCONN, which is of no interest here.
            let _ = SockRef::from(&socket.socket).shutdown(Shutdown::Read);
        }
    }
}

/// A UDP socket of `family` bound to the wildcard address and an ephemeral
/// port.
fn open_socket(family: Family) -> io::Result<UdpSocket> {
    let (domain, any): (Domain, SocketAddr) = match family {
        Family::V4 => (Domain::IPV4, (Ipv4Addr::UNSPECIFIED, 0).into()),
        Family::V6 => (Domain::IPV6, (Ipv6Addr::UNSPECIFIED, 0).into()),
    };
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if family == Family::V6 {
        // IPV6_V6ONLY (`man 7 ipv6`): the IPv6 socket carries IPv6 only, so
        // a reply reports the family the server really answered on, and the
        // IPv4 socket alone speaks IPv4.
        socket.set_only_v6(true)?;
    }
    // SO_RCVTIMEO (`man 7 socket`): see READER_BACKSTOP.
    socket.set_read_timeout(Some(READER_BACKSTOP))?;
    // Bound now, not on the first send, so that the reader's recv waits on
    // the port the requests leave from.
    socket.bind(&SockAddr::from(any))?;
    Ok(socket.into())
}

/// One datagram to `target`. A pending ICMP error (`ECONNREFUSED`) or a
/// signal may make the call fail without sending: it is tried once more.
fn send_to(socket: &UdpSocket, wire: &[u8], target: SocketAddr) -> io::Result<()> {
    match socket.send_to(wire, target) {
        Err(err) if transient(&err) => socket.send_to(wire, target).map(drop),
        sent => sent.map(drop),
    }
}

/// Errors after which the socket is still good: ICMP errors of earlier
/// datagrams reported late (`ECONNREFUSED`, `ECONNRESET`), a signal, a
/// time-out, a full send buffer (`ENOBUFS`).
fn transient(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    ) || err.raw_os_error() == Some(libc::ENOBUFS)
}

/// Reads datagrams from `socket` and forwards them until the run is over.
fn read_replies(socket: &FamilySocket, stop: &AtomicBool, replies: Sender<Event>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let received = socket.socket.recv_from(&mut buf);
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let event = match received {
            Ok((len, from)) => Event::Datagram {
                from,
                bytes: buf[..len].to_vec(),
                at: SystemTime::now(),
            },
            Err(err) if transient(&err) => continue,
            Err(err) => {
                let _ = replies.send(Event::Failed(socket.family, err));
                return;
            }
        };
        if replies.send(event).is_err() {
            return;
        }
    }
}

/// `a, b, c` for messages.
fn list(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A warning on stderr that does not stop the client.
fn warn(message: std::fmt::Arguments<'_>) {
    common::cli::eprint_line(format_args!("part3_reset: warning: {message}"));
}

/// A `-v` note on stderr.
fn note(message: std::fmt::Arguments<'_>) {
    common::cli::eprint_line(format_args!("part3_reset: {message}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(servers: &[&str]) -> Client {
        Client::new(Settings {
            host: "test".into(),
            servers: servers.iter().map(|s| s.parse().unwrap()).collect(),
            reset: Reset(20),
            timeout: Duration::from_secs(1),
            max_tries: Some(1),
            verbose: false,
        })
    }

    #[test]
    fn only_valid_offsets_from_the_server_count() {
        let client = client(&["127.0.0.1:5004", "[::1]:5004"]);
        let v4: SocketAddr = "127.0.0.1:5004".parse().unwrap();
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:5004".parse().unwrap();
        let v6: SocketAddr = "[::1]:5004".parse().unwrap();
        assert_eq!(client.accept(v4, b"OFFSET=3").map(|o| o.value), Some(3));
        assert_eq!(
            client.accept(mapped, b"OFFSET:20").map(|o| o.value),
            Some(20)
        );
        assert_eq!(client.accept(v6, b"OFFSET:0\n").map(|o| o.value), Some(0));
        for bad in [&b"OFFSET=21"[..], b"Wrong command.", b"OFFSET=", b"", b"x"] {
            assert_eq!(client.accept(v4, bad), None, "{bad:?}");
        }
        let other_port: SocketAddr = "127.0.0.1:5005".parse().unwrap();
        let other_host: SocketAddr = "127.0.0.2:5004".parse().unwrap();
        assert_eq!(client.accept(other_port, b"OFFSET=3"), None);
        assert_eq!(client.accept(other_host, b"OFFSET=3"), None);
    }

    #[test]
    fn icmp_echoes_are_transient() {
        assert!(transient(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
        assert!(transient(&io::Error::from_raw_os_error(libc::ENOBUFS)));
        assert!(!transient(&io::Error::from(
            io::ErrorKind::NetworkUnreachable
        )));
        assert!(!transient(&io::Error::from(
            io::ErrorKind::AddrNotAvailable
        )));
    }
}
