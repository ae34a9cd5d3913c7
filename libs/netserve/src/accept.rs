//! What every TCP server of the workspace does the same way: bind a
//! listener, and serve each connection on a thread of its own under a cap
//! (lab_server's PMU and WebSocket PMU, part6_pmu, secure_cmd, cbc_msg).
//!
//! # Admission
//!
//! Every accepted connection is registered in its server's
//! [`ConnectionLimit`] as *waiting* (for its request, or for its TLS
//! handshake) until its handler calls [`Slot::serving`]. When a new
//! connection arrives:
//!
//! - if its source (IP address) already holds [`ConnectionLimit::per_source`]
//!   places (three quarters of the cap by default), it takes the place of
//!   one of that source's waiting connections, or is refused (closed at
//!   once) when there is none it may take;
//! - else, if every place is taken, it takes the place of a waiting
//!   connection of any source, or is refused when there is none it may
//!   take;
//! - else it gets a free place.
//!
//! The waiting connection that gives its place is the oldest one whose
//! client has already closed or reset it, else the oldest one with nothing
//! unread in its socket (one `poll(2)` over the candidates). One whose
//! request has arrived but not yet been read by its thread is never taken:
//! it is about to be served.
//!
//! A connection that loses its place is shut down (`shutdown(Both)` on a
//! clone of its socket kept in the registry): its thread's blocking read
//! returns at once, and the thread ends. A crowd of idle or half-sent
//! connections (a "slow loris") therefore never locks a client out: the
//! newcomer, which sends its request at once, displaces the oldest idler,
//! and the crowd cycles through the places while real clients get served.
//! Only a connection that is being answered is safe from eviction; how long
//! it may hold its place is bounded by each server's write time-out and
//! answer size.
//!
//! Threads of evicted connections end within moments; the accept loop
//! waits for them when a crowd would take live threads past twice the cap.
//! Each connection's thread has a small stack ([`DEFAULT_STACK`], raised by
//! the TLS servers with [`ConnectionLimit::stack_size`]), so that the
//! places cost little memory; and [`accept_loop`] raises the soft limit on
//! open files to the hard limit, so that a cap near 1,024 does not meet
//! `EMFILE` first.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::io::{Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

// The `poll(2)` events read here. `POLLRDHUP` (the peer shut down its
// sending side) is Linux's: elsewhere a FIN is noticed at the next read or
// write only. Windows has no `poll(2)` here: nothing is known there, see
// `readiness` and `PeerWatch::poll`.
#[cfg(any(target_os = "linux", target_os = "android"))]
use libc::POLLRDHUP;
#[cfg(unix)]
use libc::{POLLERR, POLLHUP, POLLIN, POLLNVAL, c_short as Events};
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
const POLLRDHUP: Events = 0;
#[cfg(not(unix))]
type Events = i16;
#[cfg(not(unix))]
const POLLIN: Events = 0x1;
#[cfg(not(unix))]
const POLLERR: Events = 0x8;
#[cfg(not(unix))]
const POLLHUP: Events = 0x10;
#[cfg(not(unix))]
const POLLNVAL: Events = 0x20;
#[cfg(not(unix))]
const POLLRDHUP: Events = 0;

/// The stack of a connection's thread unless the server asks for more: a
/// plain-TCP PMU or a WebSocket handshake needs a few KiB; Rust's default
/// (2 MiB) reserves far more address space than a thousand connections
/// need.
pub const DEFAULT_STACK: usize = 256 * 1024;
/// A listening TCP socket on `addr`, with `SO_REUSEADDR` and, for IPv6,
/// `IPV6_V6ONLY` set.
///
/// `SO_REUSEADDR`: a restarted server binds at once instead of waiting for
/// the previous run's connections to leave TIME_WAIT. `IPV6_V6ONLY`: `[::]`
/// and `0.0.0.0` can be bound side by side on one port, and an IPv6
/// listener never answers IPv4 through v4-mapped addresses by surprise,
/// which would hide an IPv4-only or IPv6-only configuration.
pub fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Listeners on every address of `listen`, or, when it is empty, on
/// `0.0.0.0:default_port` and `[::]:default_port`, where a host without
/// IPv6 keeps the IPv4 listener and `no_ipv6` is told why. An error names
/// the address that could not be bound, for the caller's hint.
pub fn bind_listeners(
    listen: &[SocketAddr],
    default_port: u16,
    no_ipv6: impl FnOnce(&io::Error),
) -> Result<Vec<TcpListener>, (SocketAddr, io::Error)> {
    let bind = |addr: SocketAddr| bind_listener(addr).map_err(|err| (addr, err));
    if !listen.is_empty() {
        return listen.iter().map(|addr| bind(*addr)).collect();
    }
    let v4 = SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, default_port));
    let v6 = SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, default_port));
    let mut listeners = vec![bind(v4)?];
    match bind_listener(v6) {
        Ok(listener) => listeners.push(listener),
        Err(err) if common::addr::no_ipv6(&err) => no_ipv6(&err),
        Err(err) => return Err((v6, err)),
    }
    Ok(listeners)
}

/// What to do when binding failed with `err`, for the error line: `choose`
/// says how this program takes another address or port (`--listen
/// ADDR:PORT`, `PORT`).
pub fn bind_hint(err: &io::Error, choose: &str) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => {
            format!("another program has that port: stop it, or {choose}")
        }
        io::ErrorKind::PermissionDenied => {
            format!("ports below 1024 need privileges: {choose}, from 1024 up")
        }
        io::ErrorKind::AddrNotAvailable => {
            format!("that address is not one of this machine's: {choose}")
        }
        _ => format!("check the address: {choose}"),
    }
}

/// The places of a server's connections: at most `max`, at most
/// `per_source` from one IP address, the oldest waiting one given up to a
/// newcomer when none is free (see the module's documentation).
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    registry: Arc<Mutex<Registry>>,
    /// Connection threads not yet joined, evicted ones that have not ended
    /// yet included.
    threads: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
    max: usize,
    per_source: usize,
    stack_size: usize,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    /// Oldest first.
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    peer: SocketAddr,
    /// A clone of the connection's socket while it waits for its request:
    /// what eviction shuts down. `None` once it is being served.
    waiting: Option<TcpStream>,
}

/// The connection that gives its place, among the waiting ones `of`
/// selects: the oldest one its client has already closed or reset (its
/// thread has not seen it yet), else the oldest one with nothing unread in
/// its socket. A waiting connection whose request is in its socket, not
/// yet read by its thread, is never taken: it is about to be served (a
/// storm of connections from the same source would otherwise evict a
/// client between its request's arrival and its thread's first read).
fn victim(entries: &[Entry], of: &dyn Fn(&Entry) -> bool) -> Option<usize> {
    let candidates: Vec<(usize, &TcpStream)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| of(e))
        .filter_map(|(i, e)| e.waiting.as_ref().map(|socket| (i, socket)))
        .collect();
    let ready = readiness(candidates.iter().map(|(_, socket)| *socket));
    let gone = POLLRDHUP | POLLHUP | POLLERR;
    let find = |pick: &dyn Fn(Events) -> bool| {
        candidates
            .iter()
            .zip(&ready)
            .find(|(_, revents)| pick(**revents))
            .map(|((i, _), _)| *i)
    };
    find(&|r| r & gone != 0).or_else(|| find(&|r| r & POLLIN == 0))
}

/// For each socket, what `poll(2)` says of it now (unread bytes, closed,
/// reset), without waiting.
#[cfg(unix)]
#[allow(unsafe_code)]
fn readiness<'a>(sockets: impl Iterator<Item = &'a TcpStream>) -> Vec<Events> {
    use std::os::fd::AsRawFd;
    let mut fds: Vec<libc::pollfd> = sockets
        .map(|socket| libc::pollfd {
            fd: socket.as_raw_fd(),
            events: POLLIN | POLLRDHUP,
            revents: 0,
        })
        .collect();
    // SAFETY: poll reads and writes `fds.len()` pollfd structs of the
    // vector, which lives across the call; timeout 0: it does not block.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    if rc < 0 {
        // Cannot tell: every one counts as idle.
        return vec![0; fds.len()];
    }
    fds.iter().map(|p| p.revents).collect()
}

/// Without `poll(2)` (Windows): nothing is known, so every waiting
/// connection counts as idle and the oldest gives its place.
#[cfg(not(unix))]
fn readiness<'a>(sockets: impl Iterator<Item = &'a TcpStream>) -> Vec<Events> {
    sockets.map(|_| 0).collect()
}

/// What [`ConnectionLimit::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// A place, and the connection that had to give it up, if any.
    Admitted {
        slot: Slot,
        evicted: Option<SocketAddr>,
    },
    /// Every place this connection could take is held by a connection
    /// being served: it is closed at once.
    Refused(Refusal),
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its source holds `per_source` places, all being served.
    PerSource(usize),
    /// All `max` places are being served.
    Full(usize),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::PerSource(n) => {
                write!(f, "its address has {n} connections being served already")
            }
            Refusal::Full(n) => write!(f, "{n} connections already, all being served"),
        }
    }
}

impl Admission {
    /// Why it was refused; `None` when admitted.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Admission::Admitted { .. } => None,
            Admission::Refused(why) => Some(*why),
        }
    }
}

impl ConnectionLimit {
    /// `max` places, three quarters of them (rounded up) for one source at
    /// most.
    pub fn new(max: usize) -> ConnectionLimit {
        ConnectionLimit {
            registry: Arc::new(Mutex::new(Registry::default())),
            threads: Arc::new(Mutex::new(Vec::new())),
            max,
            per_source: (max - max / 4).max(1),
            stack_size: DEFAULT_STACK,
        }
    }

    /// At most `n` places (at least 1) for one IP address.
    pub fn with_per_source(mut self, n: usize) -> ConnectionLimit {
        self.per_source = n.max(1);
        self
    }

    /// The stack size of each connection's thread.
    pub fn with_stack_size(mut self, bytes: usize) -> ConnectionLimit {
        self.stack_size = bytes;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves a sound list behind.
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for `stream`, from `peer`, registered as waiting for its
    /// request; or the refusal.
    pub fn admit(&self, stream: &TcpStream, peer: SocketAddr) -> Admission {
        let mut registry = self.lock();
        let ip = peer.ip();
        let same = |e: &Entry| e.peer.ip() == ip;
        let from_source = registry.entries.iter().filter(|e| same(e)).count();
        let victim = if from_source >= self.per_source {
            match victim(&registry.entries, &same) {
                Some(i) => Some(i),
                None => return Admission::Refused(Refusal::PerSource(self.per_source)),
            }
        } else if registry.entries.len() >= self.max {
            match victim(&registry.entries, &|_| true) {
                Some(i) => Some(i),
                None => return Admission::Refused(Refusal::Full(self.max)),
            }
        } else {
            None
        };
        let evicted = victim.map(|i| {
            let entry = registry.entries.remove(i);
            if let Some(socket) = &entry.waiting {
                let _ = socket.shutdown(Shutdown::Both);
            }
            entry.peer
        });
        registry.next_id += 1;
        let id = registry.next_id;
        registry.entries.push(Entry {
            id,
            peer,
            // Without a clone (no descriptor left), the connection cannot
            // be evicted: it still has its deadline.
            waiting: stream.try_clone().ok(),
        });
        Admission::Admitted {
            slot: Slot {
                registry: self.registry.clone(),
                id,
            },
            evicted,
        }
    }

    /// Connections holding a place now.
    pub fn active(&self) -> usize {
        self.lock().entries.len()
    }

    /// Connections holding a place and still waiting for their request.
    pub fn waiting(&self) -> usize {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.waiting.is_some())
            .count()
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// The cap for one IP address.
    pub fn per_source(&self) -> usize {
        self.per_source
    }

    /// Places held by `ip` now.
    pub fn held_by(&self, ip: IpAddr) -> usize {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.peer.ip() == ip)
            .count()
    }
}

/// A connection's place under the cap, given back when dropped, however
/// the connection's thread ends.
#[derive(Debug)]
pub struct Slot {
    registry: Arc<Mutex<Registry>>,
    id: u64,
}

impl Slot {
    /// The connection has sent its request (or finished its handshake):
    /// from now on it keeps its place until it ends. `false`: it had
    /// already lost its place to a newcomer (and its socket is shut down).
    pub fn serving(&self) -> bool {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        match registry.entries.iter_mut().find(|e| e.id == self.id) {
            Some(entry) => {
                // Drops the clone: a served connection costs one descriptor.
                entry.waiting = None;
                true
            }
            None => false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.entries.retain(|e| e.id != self.id);
    }
}

impl ConnectionLimit {
    /// Joins the connection threads that have finished and returns how many
    /// are still alive. `join` returns once the system's thread is gone: a
    /// counter that a thread decrements on its way out would let a crowd
    /// find the server with threads past its bound, still exiting.
    fn live_threads(&self) -> usize {
        let mut threads = self.threads.lock().unwrap_or_else(|e| e.into_inner());
        let mut i = 0;
        while i < threads.len() {
            if threads[i].is_finished() {
                let _ = threads.swap_remove(i).join();
            } else {
                i += 1;
            }
        }
        threads.len()
    }
}

/// What the accept loop tells its server, to log as it likes.
#[derive(Debug)]
pub enum Event<'a> {
    /// `accept()` failed (EMFILE, ECONNABORTED…); the loop backs off
    /// briefly and goes on.
    AcceptFailed(&'a io::Error),
    /// A connection closed at once: no place it could take.
    Refused { peer: SocketAddr, why: Refusal },
    /// A connection that was still waiting for its request, shut down to
    /// make room for `peer`.
    Evicted {
        peer: SocketAddr,
        evicted: SocketAddr,
    },
    /// No thread could be started for the connection, which is closed.
    NoThread {
        peer: SocketAddr,
        error: &'a io::Error,
    },
}

/// Raises the soft limit on open files (`RLIMIT_NOFILE`) to the hard
/// limit, so that a server's cap is not cut short by a soft limit of 1,024;
/// the limit now in force (0 if it cannot be read).
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the one struct passed
    // by pointer, which lives across the calls.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    limit.rlim_cur
}

/// No `RLIMIT_NOFILE` on this system: nothing to raise (0).
#[cfg(not(unix))]
pub fn raise_fd_limit() -> u64 {
    0
}

/// Accepts connections until `stop()` says so (checked after every
/// `accept()`, so a stopping server wakes the loop with a connection of its
/// own), each served by `handle(stream, peer, slot)` on a thread named
/// `thread_name` while it holds a place under `limit` (see the module's
/// documentation); the handler calls [`Slot::serving`] once the request
/// (or handshake) is in. `peer` is unmapped: an IPv4 client of an IPv6
/// socket shows as IPv4.
pub fn accept_loop<H>(
    listener: &TcpListener,
    limit: &ConnectionLimit,
    thread_name: &str,
    stop: impl Fn() -> bool,
    mut on_event: impl FnMut(Event<'_>),
    handle: H,
) where
    H: Fn(TcpStream, SocketAddr, &Slot) + Send + Sync + 'static,
{
    raise_fd_limit();
    let handle = Arc::new(handle);
    loop {
        let accepted = listener.accept();
        if stop() {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                on_event(Event::AcceptFailed(&err));
                // EMFILE and friends: back off rather than spin on them.
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = common::addr::unmapped(peer);
        // A client gone before its connection was accepted (a connect/close
        // storm) gets no thread: closing it here keeps the loop, and the
        // backlog behind it, moving.
        let revents = readiness(std::iter::once(&stream))[0];
        if revents & (POLLHUP | POLLERR) != 0 || (revents & POLLRDHUP != 0 && revents & POLLIN == 0)
        {
            continue;
        }
        let slot = match limit.admit(&stream, peer) {
            Admission::Admitted { slot, evicted } => {
                if let Some(evicted) = evicted {
                    on_event(Event::Evicted { peer, evicted });
                }
                slot
            }
            Admission::Refused(why) => {
                on_event(Event::Refused { peer, why });
                continue;
            }
        };
        // Evicted connections' threads end within moments of their
        // shutdown; a crowd arriving faster waits for them here, so that
        // threads stay under twice the cap (for at most a second).
        let mut waited = 0;
        while limit.live_threads() >= 2 * limit.max && waited < 1000 {
            std::thread::sleep(Duration::from_millis(1));
            waited += 1;
        }
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name.to_string())
            .stack_size(limit.stack_size)
            .spawn(move || {
                handle(stream, peer, &slot);
                drop(slot);
            });
        match spawned {
            Ok(thread) => limit
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(thread),
            Err(error) => on_event(Event::NoThread {
                peer,
                error: &error,
            }),
        }
    }
}

/// A TCP stream whose reads must all be done by one deadline: `SO_RCVTIMEO`
/// is set to the time left before each read. A per-read time-out alone
/// restarts with every byte, so a client sending a byte now and then (a
/// "slow loris") could hold a connection, and its place under the cap, for
/// ever.
#[derive(Debug)]
pub struct DeadlineStream {
    stream: TcpStream,
    deadline: Option<Instant>,
}

impl DeadlineStream {
    /// `stream`, whose reads end by `deadline`.
    pub fn new(stream: TcpStream, deadline: Instant) -> DeadlineStream {
        DeadlineStream {
            stream,
            deadline: Some(deadline),
        }
    }

    /// Moves the deadline: reads from now on must be done by `deadline`.
    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    /// From now on, reads wait at most `idle` each (`SO_RCVTIMEO`), with no
    /// deadline.
    pub fn clear_deadline(&mut self, idle: Option<Duration>) -> io::Result<()> {
        self.deadline = None;
        self.stream.set_read_timeout(idle)
    }

    pub fn get_ref(&self) -> &TcpStream {
        &self.stream
    }

    pub fn into_inner(self) -> TcpStream {
        self.stream
    }
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client's time is up",
                ));
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        self.stream.read(buf)
    }
}

impl Write for DeadlineStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.stream.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Watches a connection's socket while its server sleeps between two
/// messages of an answer, so that a client that leaves is noticed at once,
/// not at the next write `d` seconds later.
///
/// A reset, at any time, means the client is gone. A FIN (the client
/// closed, or shut down its sending side) means it is gone only if it
/// arrives after [`HALF_CLOSE_GRACE`] from the answer's start: a client such
/// as `ncat` shuts down its side right after its command (it has nothing
/// more to say) and still reads the answer, and the two cannot be told
/// apart on the wire. Such a half-closed client gets its whole answer; a
/// client that closes during the answer frees its place at once.
#[derive(Debug)]
pub struct PeerWatch {
    #[cfg(unix)]
    fd: std::os::fd::RawFd,
    started: Instant,
    half_closed: bool,
}

/// How long after the start of an answer a FIN still counts as a
/// half-close that came with the command (see [`PeerWatch`]).
pub const HALF_CLOSE_GRACE: Duration = Duration::from_millis(200);

impl PeerWatch {
    /// Watches `socket` from now on (the start of the answer).
    #[cfg_attr(not(unix), allow(unused_variables))]
    pub fn new(socket: &TcpStream) -> PeerWatch {
        PeerWatch {
            #[cfg(unix)]
            fd: std::os::fd::AsRawFd::as_raw_fd(socket),
            started: Instant::now(),
            half_closed: false,
        }
    }

    /// Sleeps `interval`, or fails with `ConnectionAborted` as soon as the
    /// client is gone.
    pub fn sleep(&mut self, interval: Duration) -> io::Result<()> {
        let until = Instant::now() + interval;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let events = if self.half_closed { 0 } else { POLLRDHUP };
            let revents = self.poll(events, left)?;
            if revents & (POLLHUP | POLLERR | POLLNVAL) != 0 {
                return Err(gone("reset the connection"));
            }
            if revents & POLLRDHUP != 0 {
                if self.started.elapsed() < HALF_CLOSE_GRACE {
                    self.half_closed = true;
                } else {
                    return Err(gone("closed the connection"));
                }
            }
        }
    }

    /// `poll(2)` on the socket for `events` (errors and hang-ups always
    /// count), at most `timeout`; the events seen (0: none in time).
    #[cfg(unix)]
    #[allow(unsafe_code)]
    fn poll(&self, events: Events, timeout: Duration) -> io::Result<Events> {
        let mut pollfd = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        // At most a minute per call: the caller loops until its time is up.
        let ms = timeout.as_millis().clamp(1, 60_000) as libc::c_int;
        // SAFETY: poll reads and writes the one pollfd passed by pointer,
        // which lives across the call; a stale descriptor gives POLLNVAL.
        let rc = unsafe { libc::poll(&mut pollfd, 1, ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(err);
        }
        Ok(pollfd.revents)
    }

    /// Without `poll(2)` (Windows): sleeps, so a client that leaves is
    /// noticed at the next write, as before `PeerWatch`.
    #[cfg(not(unix))]
    fn poll(&self, _events: Events, timeout: Duration) -> io::Result<Events> {
        std::thread::sleep(timeout.min(Duration::from_secs(60)));
        Ok(0)
    }
}

fn gone(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        format!("the client {what} during the answer"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_is_not_restarted_by_each_byte() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let trickle = std::thread::spawn(move || {
            let mut client = TcpStream::connect(addr).unwrap();
            // A byte every 50 ms for a second: each read is quick, the
            // whole is not.
            for _ in 0..20 {
                if client.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let (stream, _) = listener.accept().unwrap();
        let started = Instant::now();
        let mut reader = DeadlineStream::new(stream, started + Duration::from_millis(300));
        let mut buf = [0u8; 1];
        let err = loop {
            match reader.read(&mut buf) {
                Ok(0) => panic!("the client closed first"),
                Ok(_) => continue,
                Err(err) => break err,
            }
        };
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
        drop(reader);
        trickle.join().unwrap();
    }

    /// A connected pair on loopback: (client, server side).
    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    fn from(ip: &str, port: u16) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), port)
    }

    #[track_caller]
    fn admitted(admission: Admission) -> (Slot, Option<SocketAddr>) {
        match admission {
            Admission::Admitted { slot, evicted } => (slot, evicted),
            Admission::Refused(why) => panic!("refused: {why}"),
        }
    }

    #[test]
    fn slots_are_given_back_when_dropped() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let limit = ConnectionLimit::new(2).with_per_source(3);
        let (_c1, s1) = pair(&listener);
        let (_c2, s2) = pair(&listener);
        let (a, _) = admitted(limit.admit(&s1, from("127.0.0.1", 1)));
        let (b, _) = admitted(limit.admit(&s2, from("127.0.0.1", 2)));
        assert!(a.serving() && b.serving());
        assert_eq!(
            limit.admit(&s1, from("127.0.0.1", 3)).refusal(),
            Some(Refusal::Full(2))
        );
        drop(a);
        assert_eq!(limit.active(), 1);
        assert!(limit.admit(&s1, from("127.0.0.1", 4)).refusal().is_none());
    }

    #[test]
    fn a_newcomer_takes_the_place_of_the_oldest_waiting_connection() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let limit = ConnectionLimit::new(3).with_per_source(3);
        let (mut c1, s1) = pair(&listener);
        let (mut c2, s2) = pair(&listener);
        let (mut c3, s3) = pair(&listener);
        let (_c4, s4) = pair(&listener);
        let (first, _) = admitted(limit.admit(&s1, from("10.0.0.1", 1)));
        let (_second, _) = admitted(limit.admit(&s2, from("10.0.0.2", 1)));
        let (third, _) = admitted(limit.admit(&s3, from("10.0.0.3", 1)));
        // The first is being served: it keeps its place; the second, the
        // oldest still waiting, gives it up and is shut down.
        assert!(first.serving());
        let (_fourth, evicted) = admitted(limit.admit(&s4, from("10.0.0.4", 1)));
        assert_eq!(evicted, Some(from("10.0.0.2", 1)));
        assert_eq!(limit.active(), 3);
        let mut buf = [0u8; 1];
        c2.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(
            c2.read(&mut buf).unwrap(),
            0,
            "the evicted one sees the end"
        );
        // The others were not touched.
        for c in [&mut c1, &mut c3] {
            c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            assert!(c.read(&mut buf).is_err(), "still open");
        }
        assert!(third.serving());
        assert_eq!(limit.waiting(), 1);
    }

    #[test]
    fn a_closed_connection_goes_first_and_an_unread_request_never() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let limit = ConnectionLimit::new(3).with_per_source(3);
        let (mut c1, s1) = pair(&listener);
        let (c2, s2) = pair(&listener);
        let (_c3, s3) = pair(&listener);
        let (_c4, s4) = pair(&listener);
        let (_c5, s5) = pair(&listener);
        let (_a, _) = admitted(limit.admit(&s1, from("10.0.0.1", 1)));
        let (_b, _) = admitted(limit.admit(&s2, from("10.0.0.2", 1)));
        let (_c, _) = admitted(limit.admit(&s3, from("10.0.0.3", 1)));
        // The oldest has its request in its socket; the second has left.
        c1.write_all(b"CMD_short:0").unwrap();
        drop(c2);
        std::thread::sleep(Duration::from_millis(50));
        let (_d, evicted) = admitted(limit.admit(&s4, from("10.0.0.4", 1)));
        assert_eq!(evicted, Some(from("10.0.0.2", 1)), "the closed one");
        let (_e, evicted) = admitted(limit.admit(&s5, from("10.0.0.5", 1)));
        assert_eq!(
            evicted,
            Some(from("10.0.0.3", 1)),
            "the idle one, not the request"
        );
        // Only the request and the newcomers are left: the request stays.
        let (_c6, s6) = pair(&listener);
        let (_f, evicted) = admitted(limit.admit(&s6, from("10.0.0.6", 1)));
        assert_eq!(evicted, Some(from("10.0.0.4", 1)));
        assert_eq!(limit.held_by("10.0.0.1".parse().unwrap()), 1);
    }

    #[test]
    fn a_source_at_its_cap_displaces_only_its_own() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let limit = ConnectionLimit::new(8).with_per_source(2);
        let streams: Vec<_> = (0..5).map(|_| pair(&listener)).collect();
        let (other, _) = admitted(limit.admit(&streams[0].1, from("10.0.0.9", 1)));
        let (a, _) = admitted(limit.admit(&streams[1].1, from("10.0.0.1", 1)));
        let (_b, _) = admitted(limit.admit(&streams[2].1, from("10.0.0.1", 2)));
        assert!(a.serving());
        // The source's third: its own waiting one goes, not the other's.
        let (c, evicted) = admitted(limit.admit(&streams[3].1, from("10.0.0.1", 3)));
        assert_eq!(evicted, Some(from("10.0.0.1", 2)));
        assert_eq!(limit.held_by("10.0.0.1".parse().unwrap()), 2);
        assert!(other.serving(), "the other source's place was not touched");
        // Both of its places served: refused, though places are free.
        let (d, _) = admitted(limit.admit(&streams[4].1, from("10.0.0.1", 4)));
        assert!(d.serving());
        assert!(!c.serving(), "evicted by d");
        assert_eq!(
            limit.admit(&streams[4].1, from("10.0.0.1", 5)).refusal(),
            Some(Refusal::PerSource(2))
        );
    }

    #[test]
    fn an_idle_connection_gives_its_place_to_a_newcomer() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = ConnectionLimit::new(1);
        let (events_tx, events_rx) = std::sync::mpsc::channel();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let server = std::thread::spawn(move || {
            accept_loop(
                &listener,
                &limit,
                "test-conn",
                || stopping.load(std::sync::atomic::Ordering::SeqCst),
                |event| events_tx.send(format!("{event:?}")).unwrap(),
                move |mut stream, _peer, slot| {
                    // Reads one byte (the "request"), answers it, closes.
                    let mut byte = [0u8; 1];
                    if let Ok(1) = stream.read(&mut byte)
                        && slot.serving()
                    {
                        let _ = stream.write_all(&byte);
                    }
                },
            )
        });
        let mut idle = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"x").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"x");
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(idle.read(&mut [0u8; 1]).unwrap_or(0), 0, "idle one closed");
        let event = events_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(event.starts_with("Evicted"), "{event}");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _wake = TcpStream::connect(addr).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn a_sleep_ends_when_the_client_leaves() {
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        // A reset.
        let (client, server) = pair(&listener);
        let mut watch = PeerWatch::new(&server);
        std::thread::sleep(HALF_CLOSE_GRACE);
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
        drop(client);
        let started = Instant::now();
        let err = watch.sleep(Duration::from_secs(30)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
        assert!(started.elapsed() < Duration::from_secs(2));
        // A close after the grace.
        let (client, server) = pair(&listener);
        let mut watch = PeerWatch::new(&server);
        std::thread::sleep(HALF_CLOSE_GRACE);
        drop(client);
        assert!(watch.sleep(Duration::from_secs(30)).is_err());
        assert!(started.elapsed() < Duration::from_secs(4));
        // A half-close with the command, then a client still there.
        let (client, server) = pair(&listener);
        client.shutdown(Shutdown::Write).unwrap();
        let mut watch = PeerWatch::new(&server);
        let started = Instant::now();
        watch.sleep(Duration::from_millis(300)).unwrap();
        watch.sleep(Duration::from_millis(300)).unwrap();
        assert!(started.elapsed() >= Duration::from_millis(600));
    }

    #[test]
    fn the_fd_limit_is_raised_to_the_hard_limit() {
        let now = raise_fd_limit();
        assert!(now >= 1024, "{now}");
    }
}
