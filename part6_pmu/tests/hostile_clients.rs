//! Hostile clients against the TLS PMU server: after each attack a normal
//! client (`part6_pmu client`) gets the right answer within a second, and
//! the server's threads and descriptors (`/proc/<pid>`) stay under
//! `--max-connections` and come back to idle (docs/HARDENING.md).
//!
//! Bounded in count and time, on 127.0.0.1 only; one test at a time (a
//! lock), so that one's load does not skew another's timing.

// The usage is read from /proc: Linux only.
#![cfg(target_os = "linux")]

mod util;

use rustls::ClientConnection;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::hostile::{Caps, closed_within, reset_close, serial, silent_connections};
use testkit::limits::{self, Sampler};
use tls_common::TlsSocket;
use util::{Ca, Server, TestDir, part6, pmu_lines};

const CAP: usize = 64;
/// Threads and descriptors beyond the idle count and the cap: a connection
/// over the cap for the moment it takes to close it, and a connection's
/// thread after it has given its place back, until it has exited (under a
/// loaded 2-core CI run, seen at cap + 6 threads).
const SLACK: usize = 8;
const PROMPT: Duration = Duration::from_secs(1);

/// A server with 3 messages, 1 s time-outs, a 16 MiB flood, quiet.
struct Pmu {
    _dir: TestDir,
    ca: Ca,
    /// Kept running until the test ends.
    _server: Server,
    addr: SocketAddr,
    caps: Caps,
}

impl Pmu {
    fn start() -> Pmu {
        let dir = TestDir::new("hostile");
        let ca = dir.ca("ca");
        let pair = ca.server(&dir, "server", |_| {});
        let server = util::server_for(
            &pair,
            &[
                "--messages",
                "3",
                "--max-connections",
                "64",
                "--handshake-timeout",
                "1",
                "--idle-timeout",
                "1",
                "--flood-bytes",
                "16MiB",
                "-q",
            ],
        );
        let addr = server.addrs[0];
        let caps = Caps::new(server.child.0.id(), CAP, SLACK)
            .reported_as("part6_pmu", "normal client answered");
        let mut pmu = Pmu {
            _dir: dir,
            ca,
            _server: server,
            addr,
            caps,
        };
        pmu.answers("at start");
        std::thread::sleep(Duration::from_millis(200));
        pmu.caps.settle();
        pmu
    }

    /// `part6_pmu client CMD_short:0` is answered right within a second.
    fn answers(&self, when: &str) -> Duration {
        let start = Instant::now();
        let run = part6(&[
            "client",
            "--ca",
            self.ca.cert.to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &self.addr.port().to_string(),
            "CMD_short:0",
        ]);
        let took = start.elapsed();
        assert!(run.status.success(), "{when}: {}", run.stderr);
        assert_eq!(run.stdout_text(), pmu_lines(0, 3), "{when}");
        assert!(took < PROMPT, "{when}: answered in {took:?}");
        took
    }

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let roots = tls_common::load::load_roots(Path::new(&self.ca.cert)).unwrap();
        Arc::new(tls_common::config::client_config(roots, None, None).unwrap())
    }

    /// The first flight of a real TLS client: its ClientHello record(s).
    fn client_hello(&self) -> Vec<u8> {
        let mut conn =
            ClientConnection::new(self.client_config(), "localhost".try_into().unwrap()).unwrap();
        let mut hello = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut hello).unwrap();
        }
        hello
    }

    /// A client that has done the handshake.
    fn tls(&self) -> TlsSocket {
        let conn =
            ClientConnection::new(self.client_config(), "localhost".try_into().unwrap()).unwrap();
        let mut tls = TlsSocket::new(conn, TcpStream::connect(self.addr).unwrap());
        tls.set_idle_timeout(Some(Duration::from_secs(5)));
        tls.handshake().unwrap();
        tls
    }
}

#[test]
fn a_thousand_silent_connections() {
    let _serial = serial();
    assert!(limits::raise_fd_limit(4096) >= 1100, "RLIMIT_NOFILE");
    let pmu = Pmu::start();
    let sampler = Sampler::start(pmu.caps.pid);
    let silent = silent_connections(pmu.addr, 1000);
    std::thread::sleep(Duration::from_millis(300));
    // The handshake time-out (1 s) frees the served ones; the attacker
    // still holds its 1000 sockets.
    std::thread::sleep(Duration::from_millis(1200));
    let answered = pmu.answers("with 1000 silent sockets open");
    drop(silent);
    let recovered = pmu.caps.assert_recovers("1000 silent connections");
    let peak = sampler.stop();
    pmu.caps.assert_under(peak, "1000 silent connections");
    pmu.caps
        .report("1000 silent connections", peak, recovered, answered);
}

#[test]
fn half_open_handshakes_and_stalled_readers() {
    let _serial = serial();
    let pmu = Pmu::start();
    let sampler = Sampler::start(pmu.caps.pid);
    let hello = pmu.client_hello();
    // Half a ClientHello, then FIN: the server sees the end in the middle
    // of the handshake.
    for _ in 0..50 {
        let mut s = TcpStream::connect(pmu.addr).unwrap();
        s.write_all(&hello[..hello.len() / 2]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert!(closed_within(&mut s, Duration::from_secs(2)));
    }
    // Half a ClientHello, then silence with the connection open.
    let mut half: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(pmu.addr).unwrap();
            s.write_all(&hello[..hello.len() / 2]).unwrap();
            s
        })
        .collect();
    // A whole handshake, CMD_floodme (16 MiB), then never a read: the
    // server's send blocks until the idle time-out (1 s).
    let stalled: Vec<TlsSocket> = (0..20)
        .map(|_| {
            let mut tls = pmu.tls();
            socket2::SockRef::from(tls.socket())
                .set_recv_buffer_size(4096)
                .unwrap();
            tls.write_all(b"CMD_floodme").unwrap();
            tls
        })
        .collect();
    let answered = pmu.answers("beside 40 half-open or stalled clients");
    for s in &mut half {
        assert!(
            closed_within(s, Duration::from_secs(2)),
            "the handshake time-out closes a half ClientHello"
        );
    }
    let recovered = pmu.caps.assert_recovers("half-open and stalled");
    let peak = sampler.stop();
    drop(stalled);
    pmu.caps.assert_under(peak, "half-open and stalled");
    assert!(
        peak.rss_kib < pmu.caps.idle.rss_kib + 48 * 1024,
        "the flood is not copied per connection: {peak:?} vs {:?}",
        pmu.caps.idle
    );
    pmu.caps.report(
        "50 half ClientHellos + FIN, 20 half ClientHellos left open, 20 stalled 16 MiB floods",
        peak,
        recovered,
        answered,
    );
}

#[test]
fn a_hundred_megabytes_of_garbage() {
    let _serial = serial();
    let pmu = Pmu::start();
    let sampler = Sampler::start(pmu.caps.pid);
    let mut stream = TcpStream::connect(pmu.addr).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut chunk = vec![0u8; 1 << 16];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut total = 0usize;
    let start = Instant::now();
    while total < 100 << 20 && start.elapsed() < Duration::from_secs(10) {
        for b in chunk.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        match stream.write(&chunk) {
            Ok(n) => total += n,
            Err(_) => break,
        }
    }
    assert!(closed_within(&mut stream, Duration::from_secs(3)));
    let recovered = pmu.caps.assert_recovers("garbage");
    let answered = pmu.answers("after 100 MB of garbage");
    let peak = sampler.stop();
    pmu.caps.assert_under(peak, "garbage");
    assert!(peak.rss_kib < pmu.caps.idle.rss_kib + 16 * 1024, "{peak:?}");
    pmu.caps.report(
        &format!(
            "100 MB of random bytes (the server took {} KiB, then the alert and close)",
            total >> 10
        ),
        peak,
        recovered,
        answered,
    );
}

#[test]
fn a_slow_client_gets_no_more_than_the_handshake_time_out() {
    let _serial = serial();
    let pmu = Pmu::start();
    let sampler = Sampler::start(pmu.caps.pid);
    let hello = pmu.client_hello();
    let mut slow = TcpStream::connect(pmu.addr).unwrap();
    slow.set_nodelay(true).unwrap();
    let start = Instant::now();
    let mut answered = Duration::ZERO;
    let mut closed_after = None;
    // One byte every 100 ms, 30 bytes at most (3 s): the server closes at
    // its 1 s deadline however the bytes keep coming.
    for (i, b) in hello.iter().take(30).enumerate() {
        if slow.write_all(&[*b]).is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if i == 5 {
            answered = pmu.answers("beside a slow client");
        }
    }
    let closed_after = closed_after.unwrap_or_else(|| {
        assert!(closed_within(&mut slow, Duration::from_secs(1)));
        start.elapsed()
    });
    assert!(
        closed_after < Duration::from_millis(2500),
        "closed after {closed_after:?}"
    );
    let recovered = pmu.caps.assert_recovers("slow client");
    let peak = sampler.stop();
    pmu.caps.assert_under(peak, "slow client");
    pmu.caps.report(
        &format!(
            "a ClientHello at 1 byte / 100 ms (closed after {closed_after:.2?}, handshake \
             time-out 1 s)"
        ),
        peak,
        recovered,
        answered,
    );
}

#[test]
fn resets_in_the_middle_of_the_handshake() {
    let _serial = serial();
    let pmu = Pmu::start();
    let sampler = Sampler::start(pmu.caps.pid);
    let hello = pmu.client_hello();
    for i in 0..300 {
        let mut s = TcpStream::connect(pmu.addr).unwrap();
        // Cut anywhere in the ClientHello, then SO_LINGER 0 and close: RST.
        let cut = 1 + (i * 37) % (hello.len() - 1);
        s.write_all(&hello[..cut]).unwrap();
        reset_close(s);
    }
    // And after the server's first flight, before the client's Finished.
    for _ in 0..50 {
        let mut s = TcpStream::connect(pmu.addr).unwrap();
        s.write_all(&hello).unwrap();
        let mut flight = [0u8; 512];
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.read(&mut flight);
        reset_close(s);
    }
    let recovered = pmu.caps.assert_recovers("resets");
    let answered = pmu.answers("after 350 resets");
    let peak = sampler.stop();
    pmu.caps.assert_under(peak, "resets");
    pmu.caps.report(
        "350 resets (SO_LINGER 0) in the middle of the TLS handshake",
        peak,
        recovered,
        answered,
    );
}
