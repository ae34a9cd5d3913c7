//! A local stand-in for every server the lab talks to at tcpip.epfl.ch, so
//! that every part runs, and is tested, offline on loopback. Out of the box
//! it behaves like the course's servers (as recovered from the teaching
//! staff's own servers); every one of those defaults is a flag.
//!
//! - TCP PMU (Part 2), port 5003: `CMD_short:<d>` sends `--messages` (20)
//!   messages `This is PMU data <i>` from `--first-index` (0), one `send()`
//!   each, `d` seconds apart, then closes; `CMD_floodme` sends an excerpt
//!   of *Hamlet* (public domain, [`HAMLET`], 57,320 bytes from `ACT I` /
//!   `SCENE I. Elsinore. A platform before the castle.`) in one `send()`
//!   and closes (`--flood-bytes` sets another size, repeating the text);
//!   anything else gets `Wrong command.`.
//! - UDP reset (Part 3), port 5004: answers exactly `RESET:<n>` for its
//!   `--reset-n` (20) with `OFFSET:X` (X uniform in 0..=n; `OFFSET=X` with
//!   `--offset-sep =`), anything else with `Wrong command.`; drops every
//!   datagram, answer or not, with probability `--loss` (0.5). It serves
//!   IPv4 for 10 s, then IPv6 for 10 s, for ever (`--udp-family
//!   alternate:10`; `v4` or `v6` pins one family). The family that is not
//!   serving has **no socket bound**, as with the course's supervisor, so a
//!   datagram to it draws the kernel's ICMP "port unreachable" (a connected
//!   client sees `ECONNREFUSED`). The IPv6 socket sets `IPV6_V6ONLY` and
//!   ignores v4-mapped senders.
//! - Multicast TV channel (Part 4), group 224.1.1.1 port 5005 on interface
//!   127.0.0.1: plays *Romeo and Juliet* (public domain, [`TV_TEXT`]), one
//!   line per datagram after the ID `swcmTV` (an empty line is a bare
//!   `swcmTV`) every `--tv-interval`, from an unbound socket (an ephemeral
//!   source port, as the course's bot), and starts over at the end. A
//!   subscriber's opinion longer than 300 characters is answered to the
//!   group, shorter ones are not (see the `tv` module).
//! - WebSocket PMU (Part 5), port 5006: the TCP PMU's commands, one
//!   WebSocket message per PMU message (binary frames, or text with
//!   `--ws-text`), floodme as one message, then the close handshake with
//!   status 1000 (normal closure).
//!
//! Tests start it in-process with [`Config::ephemeral`] (port 0 on 127.0.0.1
//! and ::1, the same port on both, the course's defaults otherwise) and
//! read the ports back; a test sets what it relies on (no loss, one family,
//! a message count) itself. The TV channel is off there: a test that wants
//! it sets `mcast_port` to `Some(0)`.
//!
//! # Choices where the course server is not documented
//! - A command is taken when what has arrived parses as one (the course
//!   server takes its first `recv()`); the server keeps reading only while
//!   the bytes are a proper prefix of a command, such as `CMD_sho`.
//! - The `CMD_floodme` text is built once, at start-up, and shared by every
//!   connection.
//! - Admission (`netserve::accept`): each TCP service has
//!   `--max-connections` places, half of them at most for one IP address;
//!   when none is free, a newcomer takes the place of the oldest connection
//!   still waiting for its command (or WebSocket handshake), which is
//!   closed, and is itself closed on arrival only when every place is being
//!   answered. A crowd of idle connections thus never locks a client out.
//! - `CMD_short:<d>` with `d` × `--messages` over 60 s is a wrong command;
//!   a client that closes or resets during the sleeps between messages
//!   frees its place at once (`netserve::accept::PeerWatch`; a FIN within
//!   0.2 s of the command counts as a half-close, and that client gets its
//!   whole answer).
//! - The stderr log (`netserve::log`) quotes at most 64 of a peer's bytes,
//!   escaped; logs at most 20 lines per source per 10 s and sums up the
//!   rest; and never blocks a service: lines go through a bounded queue to
//!   a thread that writes them, and are dropped (and counted) when stderr
//!   is a pipe nobody reads.
//! - After answering, the server half-closes, then reads and discards what
//!   the client may still send for up to a second before closing, so that
//!   unread bytes never turn the close into a reset that would destroy
//!   the answer in the client's receive buffer.
//! - The TV channel's multicast interface defaults to 127.0.0.1 and its
//!   TTL to 1, so that a `make server` never multicasts beyond the machine
//!   unless `--mcast-interface` says otherwise (the course's bot uses TTL
//!   10 on the campus network).
//! - Just before closing a TCP or WebSocket PMU connection, the server
//!   reads the kernel's `TCP_INFO` counters of its socket (data segments
//!   sent, for the lab's questions on segmentation), logs them, and keeps
//!   the last [`RECORDS_KEPT`] for [`LabServer::connections`].

mod net;
mod pmu;
mod reset;
mod tcp_info;
mod tv;
mod ws;

use netserve::accept::{ConnectionLimit, Event, Slot};
use netserve::log::Logger;
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use common::reset::OffsetSep;
pub use multicast::Interface;
pub use netserve::pmu::flood_text;
pub use pmu::{HAMLET, hamlet_flood};
pub use tcp_info::{ConnectionRecord, RECORDS_KEPT, Service, TcpCounts};
pub use tv::{JOKE, MIN_OPINION, TEXT as TV_TEXT, answer_to};

/// The kind of WebSocket frame the WebSocket PMU sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsFrames {
    /// Binary frames, as the course server.
    Binary,
    /// Text frames (the PMU's messages are ASCII).
    Text,
}

/// Which family the UDP reset service listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpFamily {
    /// IPv4 only; IPv6 requests meet a closed port.
    V4,
    /// IPv6 only; IPv4 requests meet a closed port.
    V6,
    /// IPv4 for the given time, then IPv6, and so on, for ever; the family
    /// not serving has no socket bound (the course's supervisor).
    Alternate(Duration),
}

impl UdpFamily {
    /// The course's schedule: IPv4 for 10 s, then IPv6 for 10 s.
    pub const COURSE: UdpFamily = UdpFamily::Alternate(Duration::from_secs(10));
}

impl std::str::FromStr for UdpFamily {
    type Err = String;

    fn from_str(s: &str) -> Result<UdpFamily, String> {
        match s {
            "v4" => Ok(UdpFamily::V4),
            "v6" => Ok(UdpFamily::V6),
            _ => match s.strip_prefix("alternate:").map(common::cli::seconds) {
                Some(Ok(period)) if !period.is_zero() => Ok(UdpFamily::Alternate(period)),
                _ => Err(format!(
                    "'{s}' is not v4, v6 or alternate:SECONDS (such as alternate:60)"
                )),
            },
        }
    }
}

/// How the server runs. [`Config::default`] is the course's: its ports
/// (5003 to 5006) on 127.0.0.1 and ::1, 20 messages from 0, the *Hamlet*
/// flood, `RESET:20` with loss 0.5 and the families alternating every 10 s.
#[derive(Debug, Clone)]
pub struct Config {
    /// Addresses to listen on.
    pub bind: Vec<IpAddr>,
    /// TCP PMU port; `None` turns the service off, 0 picks a free port.
    pub tcp_port: Option<u16>,
    /// UDP reset port; `None` turns the service off, 0 picks a free port.
    pub udp_port: Option<u16>,
    /// Messages sent for `CMD_short`.
    pub messages: u64,
    /// The number of the first message (the course server uses 0).
    pub first_index: u64,
    /// Size of the `CMD_floodme` text: [`HAMLET`]'s length, or any other
    /// size by repeating it.
    pub flood_bytes: u64,
    /// Probability that a datagram to the UDP reset service is dropped.
    pub loss: f64,
    /// The only `RESET:<n>` the UDP reset service answers.
    pub reset_n: u32,
    /// The UDP service's family.
    pub udp_family: UdpFamily,
    /// `OFFSET=X` or `OFFSET:X`.
    pub offset_sep: OffsetSep,
    /// TCP connections served at once, per service (see the crate's
    /// documentation for who gets a place when none is free).
    pub max_connections: usize,
    /// How long a client may take to send its command.
    pub read_timeout: Duration,
    /// How long a send may block on a client that does not read.
    pub write_timeout: Duration,
    /// One line on stderr per connection and request.
    pub log: bool,
    /// WebSocket PMU port; `None` turns the service off, 0 picks a free port.
    pub ws_port: Option<u16>,
    /// Binary or text frames for the WebSocket PMU's messages.
    pub ws_frames: WsFrames,
    /// The TV channel's multicast group.
    pub mcast_group: IpAddr,
    /// The TV channel's port; `None` turns the channel off, 0 picks a free
    /// port.
    pub mcast_port: Option<u16>,
    /// The interface the TV channel joins the group on and sends through.
    pub mcast_interface: Interface,
    /// The TV channel's `IP_MULTICAST_TTL`.
    pub mcast_ttl: u32,
    /// Time between two lines of the TV channel.
    pub tv_interval: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            tcp_port: Some(5003),
            udp_port: Some(5004),
            messages: 20,
            first_index: 0,
            flood_bytes: HAMLET.len() as u64,
            loss: 0.5,
            reset_n: 20,
            udp_family: UdpFamily::COURSE,
            offset_sep: OffsetSep::Colon,
            max_connections: 256,
            read_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            log: true,
            ws_port: Some(5006),
            ws_frames: WsFrames::Binary,
            mcast_group: Ipv4Addr::new(224, 1, 1, 1).into(),
            mcast_port: Some(5005),
            mcast_interface: Interface::V4(Ipv4Addr::LOCALHOST),
            mcast_ttl: 1,
            tv_interval: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// Every service on a free port of 127.0.0.1 and ::1, silent, with the
    /// course's defaults otherwise: for tests, which set what they rely on.
    /// The TV channel stays off: it multicasts, which a test asks for
    /// explicitly (`mcast_port: Some(0)`).
    pub fn ephemeral() -> Config {
        Config {
            tcp_port: Some(0),
            udp_port: Some(0),
            ws_port: Some(0),
            mcast_port: None,
            log: false,
            ..Config::default()
        }
    }
}

/// State every service thread shares.
#[derive(Debug)]
struct Shared {
    config: Config,
    stop: AtomicBool,
    /// What the TCP and WebSocket PMUs send.
    pmu: netserve::pmu::PmuSettings,
    /// stderr, rate-limited and never blocking (off with `log: false`).
    logger: Logger,
    /// The last answered connections, with their TCP_INFO counters.
    connections: Mutex<VecDeque<ConnectionRecord>>,
}

impl Shared {
    /// A line about the server itself.
    fn log(&self, line: std::fmt::Arguments<'_>) {
        self.logger.line(None, line);
    }

    /// A line caused by `peer`: rate-limited per source address.
    fn log_from(&self, peer: SocketAddr, line: std::fmt::Arguments<'_>) {
        self.logger
            .line(Some(peer.ip()), format_args!("{peer}: {line}"));
    }

    /// Reads the socket's `TCP_INFO` just before the server closes it, logs
    /// the data segments sent and keeps the record.
    fn record(
        &self,
        service: Service,
        peer: SocketAddr,
        request: &[u8],
        stream: &std::net::TcpStream,
    ) {
        let record = tcp_info::record(service, peer, request, stream);
        match &record.counts {
            Some(c) => self.log_from(
                peer,
                format_args!(
                    "{} data segments sent ({} segments in all, MSS {})",
                    c.data_segs_out, c.segs_out, c.snd_mss
                ),
            ),
            None => self.log_from(peer, format_args!("no TCP_INFO counters on this system")),
        }
        // A poisoned lock only means another connection's thread panicked
        // while pushing: the queue itself is sound.
        let mut kept = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == RECORDS_KEPT {
            kept.pop_front();
        }
        kept.push_back(record);
    }

    fn flood(&self) -> &Arc<[u8]> {
        &self.pmu.flood
    }
}

/// A running server; dropping it stops the listeners.
#[derive(Debug)]
pub struct LabServer {
    shared: Arc<Shared>,
    tcp: Vec<SocketAddr>,
    udp: Vec<SocketAddr>,
    ws: Vec<SocketAddr>,
    tv: Option<SocketAddr>,
    threads: Vec<JoinHandle<()>>,
}

impl LabServer {
    /// Binds every configured service and starts serving in background
    /// threads.
    pub fn start(config: Config) -> io::Result<LabServer> {
        if config.bind.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no address to listen on",
            ));
        }
        let pmu = netserve::pmu::PmuSettings {
            messages: config.messages,
            first_index: config.first_index,
            flood: hamlet_flood(config.flood_bytes as usize).into(),
        };
        let logger = if config.log {
            Logger::stderr("lab_server")
        } else {
            Logger::off()
        };
        let shared = Arc::new(Shared {
            config,
            stop: AtomicBool::new(false),
            pmu,
            logger,
            connections: Mutex::new(VecDeque::new()),
        });
        let mut server = LabServer {
            shared: shared.clone(),
            tcp: Vec::new(),
            udp: Vec::new(),
            ws: Vec::new(),
            tv: None,
            threads: Vec::new(),
        };
        if let Some(port) = shared.config.tcp_port {
            // One cap for the service, whichever address a client comes to.
            let limit = ConnectionLimit::new(shared.config.max_connections);
            for listener in net::bind_tcp(&shared.config.bind, port)? {
                server.tcp.push(listener.local_addr()?);
                let (shared, limit) = (shared.clone(), limit.clone());
                server.threads.push(spawn("pmu-accept", move || {
                    accept_loop(&listener, &limit, "pmu-conn", shared, pmu::serve)
                })?);
            }
        }
        if let Some(port) = shared.config.udp_port {
            let ips = reset::bound_ips(&shared.config);
            if ips.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "--udp-family names a family none of the --bind addresses has",
                ));
            }
            // Every address is bound once, so that port 0 picks a port
            // free on both families; the reset module then keeps only the
            // sockets of the family that serves first.
            let sockets = net::bind_udp(&ips, port)?;
            for socket in &sockets {
                server.udp.push(socket.local_addr()?);
            }
            let shared = shared.clone();
            server.threads.push(spawn("reset-udp", move || {
                reset::supervise(sockets, shared)
            })?);
        }
        if let Some(port) = shared.config.ws_port {
            let limit = ConnectionLimit::new(shared.config.max_connections);
            for listener in net::bind_tcp(&shared.config.bind, port)? {
                server.ws.push(listener.local_addr()?);
                let (shared, limit) = (shared.clone(), limit.clone());
                server.threads.push(spawn("ws-accept", move || {
                    accept_loop(&listener, &limit, "ws-conn", shared, ws::serve)
                })?);
            }
        }
        if let Some(port) = shared.config.mcast_port {
            let (group, threads) = tv::start(&shared, port).map_err(|err| {
                io::Error::new(
                    err.kind(),
                    format!(
                        "starting the TV channel on {}: {err}",
                        shared.config.mcast_group
                    ),
                )
            })?;
            server.tv = Some(group);
            server.threads.extend(threads);
        }
        Ok(server)
    }

    /// Where the WebSocket PMU listens.
    pub fn ws_addrs(&self) -> &[SocketAddr] {
        &self.ws
    }

    /// The WebSocket PMU port (the same on every address).
    pub fn ws_port(&self) -> Option<u16> {
        self.ws.first().map(SocketAddr::port)
    }

    /// The TV channel's group and port.
    pub fn tv_group(&self) -> Option<SocketAddr> {
        self.tv
    }

    /// Where the TCP PMU listens.
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// Where the UDP reset service listens (with `--udp-family alternate`,
    /// the addresses of both families; one of them is bound at a time).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// The TCP PMU port (the same on every address).
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp.first().map(SocketAddr::port)
    }

    /// The UDP reset port (the same on every address).
    pub fn udp_port(&self) -> Option<u16> {
        self.udp.first().map(SocketAddr::port)
    }

    /// The TCP and WebSocket PMU connections answered so far (the last
    /// [`RECORDS_KEPT`]), oldest first, each with the kernel's counters
    /// read just before the server closed it: a connection shows once its
    /// client has closed (or a second after the answer).
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        let kept = self
            .shared
            .connections
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        kept.iter().cloned().collect()
    }

    /// The exact bytes `CMD_floodme` sends.
    pub fn flood(&self) -> Arc<[u8]> {
        self.shared.flood().clone()
    }

    /// Blocks until the server is stopped from another thread (the binary
    /// runs until killed).
    pub fn wait(mut self) {
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    /// Stops accepting and answering; connections in progress finish on
    /// their own time-outs.
    pub fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for addr in self.tcp.iter().chain(&self.ws) {
            // Wakes the accept() that blocks the listener's thread.
            let _ = std::net::TcpStream::connect_timeout(
                &net::reachable(*addr),
                Duration::from_secs(1),
            );
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Serves a TCP service's connections with `serve`, one thread each under
/// `limit`, until the server stops; every failure is one log line.
fn accept_loop<E: std::fmt::Display + 'static>(
    listener: &std::net::TcpListener,
    limit: &ConnectionLimit,
    thread_name: &str,
    shared: Arc<Shared>,
    serve: fn(std::net::TcpStream, SocketAddr, &Slot, &Shared) -> Result<(), E>,
) {
    let log = shared.clone();
    netserve::accept::accept_loop(
        listener,
        limit,
        thread_name,
        || log.stop.load(Ordering::SeqCst),
        |event| match event {
            Event::AcceptFailed(err) => log.log(format_args!("accept failed: {err}")),
            Event::Refused { peer, why } => log.log_from(peer, format_args!("refused: {why}")),
            Event::Evicted { peer, evicted } => log.log_from(
                peer,
                format_args!("took the place of {evicted}, which had sent no command"),
            ),
            Event::NoThread { peer, error } => {
                log.log_from(peer, format_args!("no thread to serve it: {error}"))
            }
        },
        move |stream, peer, slot| {
            if let Err(err) = serve(stream, peer, slot, &shared) {
                shared.log_from(peer, format_args!("{err}"));
            }
        },
    );
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(f)
}
