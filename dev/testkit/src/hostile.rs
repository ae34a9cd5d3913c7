//! The harness of the hostile-client tests (docs/HARDENING.md): a server's
//! caps and its idle usage ([`Caps`]: under the cap during an attack, back
//! to idle after it, one report row), and the attackers' moves: silent
//! connections, resets (`SO_LINGER` 0), waiting for the server to close.
//! Each test keeps its own server start-up and its own normal client.

use crate::limits::{self, Usage};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the lock of the hostile tests of this test binary: one at a time,
/// so that one's load does not skew another's timing.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How far a server's threads and descriptors may go above what it uses
/// when idle, and how its numbers are reported.
#[derive(Debug, Clone)]
pub struct Caps {
    /// The server's process.
    pub pid: u32,
    /// What it uses when idle (see [`Caps::settle`]).
    pub idle: Usage,
    /// Threads allowed above `idle.threads`.
    pub threads: usize,
    /// Descriptors allowed above `idle.fds`.
    pub fds: usize,
    /// The cap in a failure message, e.g. `cap 64`.
    pub cap: String,
    /// The first column of the report row, e.g. `part6_pmu`.
    pub server: &'static str,
    /// Who the last column timed, e.g. `normal client answered`.
    pub normal: &'static str,
}

impl Caps {
    /// `cap` connections of a thread and a descriptor each, and `slack`
    /// more of both; idle usage zero until [`Caps::settle`].
    pub fn new(pid: u32, cap: usize, slack: usize) -> Caps {
        Caps {
            pid,
            idle: Usage::default(),
            threads: cap + slack,
            fds: cap + slack,
            cap: format!("cap {cap}"),
            server: "server",
            normal: "normal client answered",
        }
    }

    /// Names the server and its normal client in [`Caps::report`].
    pub fn reported_as(mut self, server: &'static str, normal: &'static str) -> Caps {
        self.server = server;
        self.normal = normal;
        self
    }

    /// What the server uses now.
    pub fn usage(&self) -> Usage {
        limits::usage(self.pid)
    }

    /// Takes what the server uses now as its idle usage.
    pub fn settle(&mut self) {
        self.idle = self.usage();
    }

    /// Fails unless `peak` is within the caps above idle.
    #[track_caller]
    pub fn assert_under(&self, peak: Usage, what: &str) {
        assert!(
            peak.threads <= self.idle.threads + self.threads
                && peak.fds <= self.idle.fds + self.fds,
            "{what}: peak {peak:?} over the cap (idle {:?}, {})",
            self.idle,
            self.cap
        );
    }

    /// Waits (5 s at most) until threads and descriptors are back to their
    /// idle counts; how long it took.
    #[track_caller]
    pub fn assert_recovers(&self, what: &str) -> Duration {
        let start = Instant::now();
        let back = limits::eventually(Duration::from_secs(5), || {
            let now = self.usage();
            now.threads <= self.idle.threads && now.fds <= self.idle.fds
        });
        assert!(
            back,
            "{what}: not back to idle {:?} after 5 s: {:?}",
            self.idle,
            self.usage()
        );
        start.elapsed()
    }

    /// Prints the numbers of one attack for docs/HARDENING.md.
    pub fn report(&self, attack: &str, peak: Usage, recovered: Duration, answered: Duration) {
        eprintln!(
            "HARDENING {} | {attack} | idle {} threads {} fds {} KiB | peak {} threads {} fds {} \
             KiB | back to idle in {recovered:.2?} | {} in {answered:.2?}",
            self.server,
            self.idle.threads,
            self.idle.fds,
            self.idle.rss_kib,
            peak.threads,
            peak.fds,
            peak.rss_kib,
            self.normal,
        );
    }
}

/// `n` connections to `addr` that will send nothing.
pub fn silent_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

/// `n` connections to `addr` that each send the first 48 bytes of a TLS
/// ClientHello whose record says 512 bytes, and nothing more: a server
/// waits for the rest in its handshake.
pub fn half_client_hellos(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.resize(48, 0x42);
    (0..n)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            // A connection the server already closed (its place went to a
            // newer one) may refuse the write: it still counts.
            let _ = std::io::Write::write_all(&mut stream, &hello);
            stream
        })
        .collect()
}

/// A thread that connects to `addr` and closes at once, again and again
/// (every other close a reset), until `stop` is set; how many pairs it
/// made.
pub fn connect_close_storm(
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut pairs = 0;
        while !stop.load(std::sync::atomic::Ordering::SeqCst) && pairs < 200_000 {
            if let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                if pairs % 2 == 0 {
                    reset_close(stream);
                } else {
                    drop(stream);
                }
                pairs += 1;
            }
        }
        pairs
    })
}

/// Prints how long a legitimate client waited during a crowd, for
/// docs/HARDENING.md (`--nocapture` shows it).
pub fn report_wait(server: &str, crowd: &str, waited: Duration) {
    eprintln!("ADMISSION {server} | {crowd} | legitimate client answered in {waited:.2?}");
}

/// Closes with a reset instead of a FIN (`SO_LINGER` 0).
pub fn reset_close(stream: TcpStream) {
    // socket2: the same SO_LINGER on every system, Windows included.
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
    drop(stream);
}

/// Whether the server closes `stream` (EOF or reset) within `limit`,
/// discarding what it sends.
pub fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 65536];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    #[test]
    fn a_reset_and_a_close_are_seen() {
        let listener = TcpListener::bind(crate::any_local_v4()).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut silent = silent_connections(addr, 2);
        let (mut first, _) = listener.accept().unwrap();
        let (second, _) = listener.accept().unwrap();
        // Nobody closes: not closed within the limit.
        assert!(!closed_within(&mut silent[0], Duration::from_millis(50)));
        // A reset and a FIN are both a close.
        first.write_all(b"discarded").unwrap();
        reset_close(first);
        drop(second);
        assert!(closed_within(&mut silent[0], Duration::from_secs(2)));
        assert!(closed_within(&mut silent[1], Duration::from_secs(2)));
    }

    #[test]
    fn caps_of_this_process() {
        let _serial = serial();
        let mut caps = Caps::new(std::process::id(), 64, 8).reported_as("testkit", "nobody");
        caps.settle();
        // Other tests of this binary run meanwhile: room for their threads.
        caps.idle.threads += 1000;
        caps.idle.fds += 1000;
        caps.assert_under(caps.idle, "idle");
        assert!(caps.assert_recovers("idle") < Duration::from_secs(5));
        caps.report("nothing", caps.idle, Duration::ZERO, Duration::ZERO);
    }
}
