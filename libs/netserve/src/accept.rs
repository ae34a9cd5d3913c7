//! What every TCP server of the workspace does the same way: bind a
//! listener, and serve each connection on a thread of its own under a cap
//! (lab_server's PMU and WebSocket PMU, part6_pmu, secure_cmd, cbc_msg).
//!
//! A connection over the cap is accepted and closed at once: a crowd of
//! clients then exhausts neither threads nor descriptors, and the kernel's
//! backlog does not fill with connections nobody will serve.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
        Err(err) if err.kind() == io::ErrorKind::AddrInUse => return Err((v6, err)),
        Err(err) => no_ipv6(&err),
    }
    Ok(listeners)
}

/// How many connections are being served, under a maximum.
#[derive(Debug, Clone)]
pub struct ConnectionLimit {
    active: Arc<AtomicUsize>,
    max: usize,
}

impl ConnectionLimit {
    pub fn new(max: usize) -> ConnectionLimit {
        ConnectionLimit {
            active: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    /// A place under the cap, or `None` when every place is taken.
    pub fn try_acquire(&self) -> Option<Slot> {
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(self.active.clone()))
    }

    /// Connections being served now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Acquire)
    }

    /// The cap.
    pub fn max(&self) -> usize {
        self.max
    }
}

/// A connection's place under the cap, given back when dropped, however
/// the connection's thread ends.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the accept loop tells its server, to log as it likes.
#[derive(Debug)]
pub enum Event<'a> {
    /// `accept()` failed (EMFILE, ECONNABORTED…); the loop backs off
    /// briefly and goes on.
    AcceptFailed(&'a io::Error),
    /// A connection over the cap, closed at once.
    OverCap { peer: SocketAddr, max: usize },
    /// No thread could be started for the connection, which is closed.
    NoThread {
        peer: SocketAddr,
        error: &'a io::Error,
    },
}

/// Accepts connections until `stop()` says so (checked after every
/// `accept()`, so a stopping server wakes the loop with a connection of its
/// own), each served by `handle(stream, peer)` on a thread named
/// `thread_name` while it holds a place under `limit`. `peer` is unmapped:
/// an IPv4 client of an IPv6 socket shows as IPv4.
pub fn accept_loop<H>(
    listener: &TcpListener,
    limit: &ConnectionLimit,
    thread_name: &str,
    stop: impl Fn() -> bool,
    mut on_event: impl FnMut(Event<'_>),
    handle: H,
) where
    H: Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
{
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
        let Some(slot) = limit.try_acquire() else {
            on_event(Event::OverCap {
                peer,
                max: limit.max(),
            });
            continue;
        };
        let handle = handle.clone();
        let spawned = std::thread::Builder::new()
            .name(thread_name.to_string())
            .spawn(move || {
                let _slot = slot;
                handle(stream, peer);
            });
        if let Err(error) = spawned {
            on_event(Event::NoThread {
                peer,
                error: &error,
            });
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

    #[test]
    fn slots_are_given_back_when_dropped() {
        let limit = ConnectionLimit::new(2);
        let a = limit.try_acquire().unwrap();
        let _b = limit.try_acquire().unwrap();
        assert!(limit.try_acquire().is_none());
        drop(a);
        assert_eq!(limit.active(), 1);
        assert!(limit.try_acquire().is_some());
    }

    #[test]
    fn over_the_cap_is_closed_and_reported() {
        use std::io::Read;
        let listener = bind_listener("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = ConnectionLimit::new(1);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = std::sync::Mutex::new(rx);
        let (events_tx, events_rx) = std::sync::mpsc::channel();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let server = std::thread::spawn(move || {
            accept_loop(
                &listener,
                &limit,
                "test-conn",
                || stopping.load(Ordering::SeqCst),
                |event| events_tx.send(format!("{event:?}")).unwrap(),
                move |stream, _peer| {
                    // Hold the only place until the test says so.
                    let _keep = stream;
                    let _ = rx.lock().map(|rx| rx.recv());
                },
            )
        });
        let _first = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let mut second = TcpStream::connect(addr).unwrap();
        second
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(second.read(&mut buf).unwrap_or(0), 0, "closed at once");
        let event = events_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(event.starts_with("OverCap"), "{event}");
        stop.store(true, Ordering::SeqCst);
        tx.send(()).unwrap();
        let _wake = TcpStream::connect(addr).unwrap();
        server.join().unwrap();
    }
}
