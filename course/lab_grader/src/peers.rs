//! Purpose-built servers that misbehave in ways `lab_server` never does,
//! to catch what the course server's luck would let pass:
//!
//! - [`PmuPeer`]: a TCP PMU that sends its stream in randomly cut pieces
//!   (`TCP_NODELAY`, small pauses, so that each piece is a segment of its
//!   own and a `recv()` may end anywhere, inside the prefix or a number),
//!   or whole messages a command's interval apart, noting when each left;
//! - [`ResetPeer`]: a UDP reset server that drops the first requests,
//!   forges a reply from another port, or sends malformed replies first.
//!
//! Every one listens on loopback only, and every wait has a deadline.

use common::Command;
use common::reset::Reset;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a peer waits for the client's command once connected.
const COMMAND_WAIT: Duration = Duration::from_secs(5);

/// A TCP listener on 127.0.0.1 and, where the host has IPv6, ::1, with one
/// port number: a client told `localhost` may try either.
#[derive(Debug)]
pub struct DualListener {
    v4: TcpListener,
    v6: Option<TcpListener>,
}

impl DualListener {
    pub fn bind() -> io::Result<DualListener> {
        let mut last = None;
        for _ in 0..20 {
            let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            let port = v4.local_addr()?.port();
            match TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
                Ok(v6) => return Ok(DualListener { v4, v6: Some(v6) }),
                // The port is taken on ::1: try another.
                Err(err) if err.kind() == io::ErrorKind::AddrInUse => last = Some(err),
                // No IPv6 on this host: IPv4 alone.
                Err(_) => return Ok(DualListener { v4, v6: None }),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::AddrInUse)))
    }

    pub fn port(&self) -> u16 {
        self.v4.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The first connection on either address, by `deadline`.
    pub fn accept(&self, deadline: Instant) -> Result<(TcpStream, SocketAddr), String> {
        let listeners: Vec<&TcpListener> = std::iter::once(&self.v4).chain(&self.v6).collect();
        for l in &listeners {
            l.set_nonblocking(true)
                .map_err(|e| format!("grader: listener: {e}"))?;
        }
        loop {
            for l in &listeners {
                match l.accept() {
                    Ok((stream, peer)) => {
                        stream
                            .set_nonblocking(false)
                            .map_err(|e| format!("grader: accepted socket: {e}"))?;
                        return Ok((stream, peer));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("grader: accept: {e}")),
                }
            }
            if Instant::now() >= deadline {
                return Err("the client never connected".to_string());
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}

/// How the [`PmuPeer`] answers.
#[derive(Debug, Clone)]
pub enum Plan {
    /// `bytes` in pieces of 1 to `max_piece` bytes, 0 to `max_pause`
    /// apart, cut by a generator seeded with `seed`.
    Cut {
        bytes: Vec<u8>,
        max_piece: usize,
        max_pause: Duration,
        seed: u64,
    },
    /// `n` whole messages from `first`, the command's interval apart.
    Timed { n: u64, first: u64 },
}

/// Why a peer gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerError {
    /// The client sent something else than the command: that explains
    /// whatever it printed.
    Command(String),
    /// Anything else (the client went away, never connected): what the
    /// client printed usually explains it better.
    Other(String),
}

impl PeerError {
    /// The explanation to show, given what the client's output showed.
    pub fn or_output(
        result: Result<(), String>,
        peer: Result<PeerLog, PeerError>,
    ) -> Result<PeerLog, String> {
        match (result, peer) {
            (_, Err(PeerError::Command(why))) => Err(why),
            (Err(why), _) => Err(why),
            (Ok(()), Err(PeerError::Other(why))) => Err(why),
            (Ok(()), Ok(log)) => Ok(log),
        }
    }
}

/// What the peer saw and did.
#[derive(Debug)]
pub struct PeerLog {
    /// When each message (or piece) finished leaving.
    pub sent_at: Vec<Instant>,
}

/// A one-connection TCP PMU running on a thread.
#[derive(Debug)]
pub struct PmuPeer {
    pub port: u16,
    thread: JoinHandle<Result<PeerLog, PeerError>>,
}

impl PmuPeer {
    /// Serves one connection that must send exactly `command`, per `plan`,
    /// by `deadline`.
    pub fn start(command: &str, plan: Plan, deadline: Instant) -> Result<PmuPeer, String> {
        let listener = DualListener::bind().map_err(|e| format!("grader: binding a peer: {e}"))?;
        let port = listener.port();
        let command = command.as_bytes().to_vec();
        let thread = thread::Builder::new()
            .name("pmu-peer".into())
            .spawn(move || serve(&listener, &command, plan, deadline))
            .map_err(|e| format!("grader: peer thread: {e}"))?;
        Ok(PmuPeer { port, thread })
    }

    /// What the peer saw, once it is done (it ends by its deadline).
    pub fn join(self) -> Result<PeerLog, PeerError> {
        self.thread.join().unwrap_or_else(|_| {
            Err(PeerError::Other(
                "grader bug: the peer panicked".to_string(),
            ))
        })
    }
}

fn serve(
    listener: &DualListener,
    command: &[u8],
    plan: Plan,
    deadline: Instant,
) -> Result<PeerLog, PeerError> {
    let (mut stream, _) = listener.accept(deadline).map_err(PeerError::Other)?;
    let request = read_command(&mut stream, command, deadline).map_err(PeerError::Command)?;
    if request != command {
        // The course server would answer "Wrong command." or nothing.
        let _ = stream.write_all(b"Wrong command.");
        return Err(PeerError::Command(format!(
            "sent {} instead of exactly {} (no newline, nothing else)",
            crate::proc::snippet(&request, 0),
            crate::proc::snippet(command, 0)
        )));
    }
    // Each write leaves at once as a segment of its own: no Nagle delay
    // gluing the pieces back together.
    stream
        .set_nodelay(true)
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(10))))
        .map_err(|e| PeerError::Other(format!("grader: socket options: {e}")))?;
    let mut sent_at = Vec::new();
    let write = |stream: &mut TcpStream, bytes: &[u8]| {
        stream
            .write_all(bytes)
            .map_err(|e| PeerError::Other(format!("the client stopped reading: {e}")))
    };
    match plan {
        Plan::Cut {
            bytes,
            max_piece,
            max_pause,
            seed,
        } => {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = rng.random_range(1..=max_piece.max(1)).min(rest.len());
                write(&mut stream, &rest[..n])?;
                sent_at.push(Instant::now());
                rest = &rest[n..];
                let pause = rng.random_range(Duration::ZERO..=max_pause);
                if !pause.is_zero() {
                    thread::sleep(pause);
                }
            }
        }
        Plan::Timed { n, first } => {
            let interval = match Command::parse_request(command) {
                Ok(Command::Short { interval, .. }) => interval,
                _ => Duration::ZERO,
            };
            for i in 0..n {
                if i > 0 {
                    thread::sleep(interval);
                }
                write(
                    &mut stream,
                    format!("This is PMU data {}", first + i).as_bytes(),
                )?;
                sent_at.push(Instant::now());
            }
        }
    }
    close_gracefully(stream);
    Ok(PeerLog { sent_at })
}

/// Reads the client's request: until it has `expected.len()` bytes, differs
/// from `expected`, or the client stops sending; then a short look for
/// anything more (a newline after the command, say).
fn read_command(
    stream: &mut TcpStream,
    expected: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    let until = (Instant::now() + COMMAND_WAIT).min(deadline);
    let mut request = Vec::new();
    let mut buf = [0u8; 256];
    while request.len() < expected.len() && expected.starts_with(&request) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "sent {} and nothing more within {} s: expected {}",
                crate::proc::snippet(&request, 0),
                COMMAND_WAIT.as_secs(),
                crate::proc::snippet(expected, 0)
            ));
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("reading the command: {e}")),
        }
    }
    let _ = stream.set_read_timeout(Some(Duration::from_millis(30)));
    if let Ok(n) = stream.read(&mut buf) {
        request.extend_from_slice(&buf[..n]);
    }
    Ok(request)
}

/// Half-closes, then reads what the client may still send for a moment, so
/// that the close is a FIN and not a reset that would destroy the answer
/// in the client's receive buffer.
fn close_gracefully(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 4096];
    while let Ok(n) = stream.read(&mut sink) {
        if n == 0 {
            break;
        }
    }
}

/// How the [`ResetPeer`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetPlan {
    /// Drops the first `n` requests, answers the next with `OFFSET=5`.
    DropFirst(usize),
    /// Answers the first request from another port (`OFFSET=7`), then,
    /// 200 ms later, from its own (`OFFSET=3`).
    ForgedFirst,
    /// Sends `Wrong command.`, `OFFSET=25` (over n = 20), `OFFSET=x` and
    /// `OFFSET=` from its own port, then 100 ms later `OFFSET:4` (the
    /// course server's form).
    MalformedFirst,
}

/// The offset a correct client reports for each plan.
impl ResetPlan {
    pub fn offset(self) -> u32 {
        match self {
            ResetPlan::DropFirst(_) => 5,
            ResetPlan::ForgedFirst => 3,
            ResetPlan::MalformedFirst => 4,
        }
    }
}

/// A UDP reset server on 127.0.0.1 (IPv4 only, as the course server is
/// some of the day), on a thread.
#[derive(Debug)]
pub struct ResetPeer {
    pub port: u16,
    thread: JoinHandle<Result<Vec<Instant>, String>>,
}

impl ResetPeer {
    pub fn start(plan: ResetPlan, deadline: Instant) -> Result<ResetPeer, String> {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("grader: binding a UDP peer: {e}"))?;
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
        let thread = thread::Builder::new()
            .name("reset-peer".into())
            .spawn(move || serve_reset(&socket, plan, deadline))
            .map_err(|e| format!("grader: peer thread: {e}"))?;
        Ok(ResetPeer { port, thread })
    }

    /// When each request arrived, up to the one answered.
    pub fn join(self) -> Result<Vec<Instant>, String> {
        self.thread
            .join()
            .unwrap_or_else(|_| Err("grader bug: the peer panicked".to_string()))
    }
}

fn serve_reset(
    socket: &UdpSocket,
    plan: ResetPlan,
    deadline: Instant,
) -> Result<Vec<Instant>, String> {
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "{} request(s) arrived, the client did not retransmit in time",
                arrivals.len()
            ));
        }
        let _ = socket.set_read_timeout(Some(left));
        let (n, client) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            // An ICMP error for an earlier datagram: not the client's fault.
            Err(_) => continue,
        };
        arrivals.push(Instant::now());
        if Reset::parse(&buf[..n]) != Some(Reset(20)) {
            return Err(format!(
                "sent {} instead of RESET:20",
                crate::proc::snippet(&buf[..n], 0)
            ));
        }
        let send = |s: &UdpSocket, bytes: &[u8]| {
            s.send_to(bytes, client)
                .map_err(|e| format!("grader: answering: {e}"))
        };
        match plan {
            ResetPlan::DropFirst(k) if arrivals.len() <= k => continue,
            ResetPlan::DropFirst(_) => {
                send(socket, b"OFFSET=5")?;
            }
            ResetPlan::ForgedFirst => {
                let forger = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                    .map_err(|e| format!("grader: binding the forger: {e}"))?;
                send(&forger, b"OFFSET=7")?;
                thread::sleep(Duration::from_millis(200));
                send(socket, b"OFFSET=3")?;
            }
            ResetPlan::MalformedFirst => {
                for bad in [
                    &b"Wrong command."[..],
                    b"OFFSET=25",
                    b"OFFSET=x",
                    b"OFFSET=",
                ] {
                    send(socket, bad)?;
                }
                thread::sleep(Duration::from_millis(100));
                send(socket, b"OFFSET:4")?;
            }
        }
        return Ok(arrivals);
    }
}
