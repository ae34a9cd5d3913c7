//! Hostile clients against `secure_cmd server` (docs/HARDENING.md): after
//! each attack the real client (alice) runs `echo` within a second, and the
//! server's threads and descriptors (`/proc/<pid>`) stay under
//! `--max-connections` and come back to idle. Bounded in count and time,
//! on 127.0.0.1 only; one test at a time.

// The usage is read from /proc: Linux only.
#![cfg(target_os = "linux")]

mod util;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use testkit::hostile::{Caps, closed_within, reset_close, serial, silent_connections};
use testkit::limits::{self, Sampler};
use util::{Pki, Raw, Server};

const CAP: usize = 64;
/// Threads and descriptors beyond the idle count and the cap: a connection
/// over the cap for the moment it takes to close it, and a connection's
/// thread after it has given its place back, until it has exited (under a
/// loaded 2-core CI run, seen at cap + 6 threads).
const SLACK: usize = 8;
const PROMPT: Duration = Duration::from_secs(1);

struct Secure {
    pki: Pki,
    server: Server,
    caps: Caps,
}

impl Secure {
    fn start(name: &str) -> Secure {
        let pki = Pki::new(name);
        let server = Server::start(
            &pki,
            &[
                "--allow",
                "echo",
                "--max-connections",
                "64",
                "--handshake-timeout",
                "1",
                "--idle-timeout",
                "1",
            ],
        );
        // Each served connection may run one command (a child, plus a
        // thread reading its output) besides its own thread.
        let caps = Caps {
            threads: 2 * CAP + SLACK,
            fds: 2 * CAP + SLACK + CAP,
            ..Caps::new(server.proc.pid(), CAP, SLACK)
                .reported_as("secure_cmd server", "normal client answered")
        };
        let mut secure = Secure { pki, server, caps };
        secure.answers("at start");
        std::thread::sleep(Duration::from_millis(200));
        secure.caps.settle();
        secure
    }

    /// The real client runs `echo hardened` within a second.
    fn answers(&self, when: &str) -> Duration {
        let start = Instant::now();
        let out = util::client(&self.pki, &self.server, &["echo hardened"]);
        let took = start.elapsed();
        out.expect_code(0);
        assert_eq!(out.stdout_text(), "hardened\n", "{when}");
        assert!(took < PROMPT, "{when}: answered in {took:?}");
        took
    }

    /// The start of a real ClientHello (alice's).
    fn client_hello(&self) -> Vec<u8> {
        let provider = tls_common::config::provider();
        let roots = tls_common::load::load_roots(&self.pki.server_ca.cert).unwrap();
        let identity =
            tls_common::load::load_identity(&self.pki.alice.cert, &self.pki.alice.key, &provider)
                .unwrap();
        let config = tls_common::config::client_config(roots, None, Some(&identity)).unwrap();
        let mut conn = rustls::ClientConnection::new(
            std::sync::Arc::new(config),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        let mut hello = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut hello).unwrap();
        }
        hello
    }
}

#[test]
fn a_thousand_silent_connections() {
    let _serial = serial();
    assert!(limits::raise_fd_limit(4096) >= 1100, "RLIMIT_NOFILE");
    let secure = Secure::start("hostile-silent");
    let sampler = Sampler::start(secure.caps.pid);
    let silent = silent_connections(secure.server.addrs[0], 1000);
    // The handshake time-out (1 s) frees the served ones.
    std::thread::sleep(Duration::from_millis(1500));
    let answered = secure.answers("with 1000 silent sockets open");
    drop(silent);
    let recovered = secure.caps.assert_recovers("1000 silent connections");
    let peak = sampler.stop();
    secure.caps.assert_under(peak, "1000 silent connections");
    secure
        .caps
        .report("1000 silent connections", peak, recovered, answered);
}

#[test]
fn half_open_handshakes_resets_and_a_slow_client() {
    let _serial = serial();
    let secure = Secure::start("hostile-handshakes");
    let addr = secure.server.addrs[0];
    let sampler = Sampler::start(secure.caps.pid);
    let hello = secure.client_hello();
    for i in 0..300 {
        let mut s = TcpStream::connect(addr).unwrap();
        let cut = 1 + (i * 37) % (hello.len() - 1);
        s.write_all(&hello[..cut]).unwrap();
        if i % 3 == 0 {
            // Half a ClientHello, then FIN.
            s.shutdown(Shutdown::Write).unwrap();
            assert!(closed_within(&mut s, Duration::from_secs(3)));
        } else {
            // SO_LINGER 0 and close: a reset mid-handshake.
            reset_close(s);
        }
    }
    // A ClientHello at one byte every 100 ms (30 bytes): closed at the 1 s
    // handshake deadline however the bytes keep coming.
    let mut slow = TcpStream::connect(addr).unwrap();
    let start = Instant::now();
    let mut closed_after = None;
    for b in hello.iter().take(30) {
        if slow.write_all(&[*b]).is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let closed_after = closed_after.unwrap_or_else(|| {
        assert!(closed_within(&mut slow, Duration::from_secs(1)));
        start.elapsed()
    });
    assert!(
        closed_after < Duration::from_millis(2500),
        "{closed_after:?}"
    );
    let recovered = secure.caps.assert_recovers("handshake attacks");
    let answered = secure.answers("after handshake attacks");
    let peak = sampler.stop();
    secure.caps.assert_under(peak, "handshake attacks");
    secure.caps.report(
        &format!(
            "100 half ClientHellos + FIN, 200 resets mid-handshake, a ClientHello at 1 byte / \
             100 ms (closed after {closed_after:.2?})"
        ),
        peak,
        recovered,
        answered,
    );
}

#[test]
fn a_hundred_megabytes_of_garbage_before_and_after_the_handshake() {
    let _serial = serial();
    let secure = Secure::start("hostile-garbage");
    let sampler = Sampler::start(secure.caps.pid);
    // Before: not TLS at all.
    let mut stream = TcpStream::connect(secure.server.addrs[0]).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let junk = vec![0x5au8; 1 << 16];
    let mut taken = 0usize;
    while taken < 100 << 20 {
        match stream.write(&junk) {
            Ok(n) => taken += n,
            Err(_) => break,
        }
    }
    assert!(closed_within(&mut stream, Duration::from_secs(3)));
    // After: an authenticated client sends 100 MiB without a newline; the
    // server keeps at most the 4096-byte line cap of it.
    let mut raw = Raw::alice(&secure.pki, &secure.server);
    raw.line().expect("the TIME line");
    let chunk = vec![b'a'; 1 << 20];
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < 100 << 20 && start.elapsed() < Duration::from_secs(20) {
        if raw.tls.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = raw.tls.write_all(b"\n");
    let answer = raw.line();
    let peak_mid = secure.caps.usage();
    drop(raw);
    let recovered = secure.caps.assert_recovers("garbage");
    let answered = secure.answers("after 200 MB of garbage");
    let peak = sampler.stop().max(peak_mid);
    secure.caps.assert_under(peak, "garbage");
    assert!(
        peak.rss_kib < secure.caps.idle.rss_kib + 16 * 1024,
        "the line cap bounds memory: {peak:?} vs {:?}",
        secure.caps.idle
    );
    secure.caps.report(
        &format!(
            "100 MB of bytes before TLS ({} KiB taken), 100 MiB line after the handshake ({} MiB \
             sent in {:.2?}; answer {:?})",
            taken >> 10,
            sent >> 20,
            start.elapsed(),
            answer
        ),
        peak,
        recovered,
        answered,
    );
}
