//! Hostile clients in numbers against `cbc_msg server`: after each attack
//! the real client's message is printed within a second, and the server's
//! threads and descriptors (`/proc/<pid>`) stay under `--max-connections`
//! and come back to idle (docs/HARDENING.md). `hostile_peers.rs` has the
//! one-connection cases (forged frames, hostile lengths, truncation).
//!
//! Bounded in count and time, on 127.0.0.1 only; one test at a time.

// The usage is read from /proc: Linux only.
#![cfg(target_os = "linux")]

mod util;

use cbc_msg::Keys;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use testkit::hostile::{Caps, closed_within, reset_close, serial, silent_connections};
use testkit::limits::{self, Sampler};
use util::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_cbc_msg");
const CAP: usize = 64;
/// Beyond the cap: the connection being closed over the cap, the normal
/// client's, and what is mid-exit when sampled (seen once at cap + 5).
const SLACK: usize = 8;
const PROMPT: Duration = Duration::from_secs(1);

struct Cbc {
    _dir: Scratch,
    key: PathBuf,
    keys: Keys,
    proc: testkit::Proc,
    addr: SocketAddr,
    caps: Caps,
}

impl Cbc {
    fn start() -> Cbc {
        let dir = Scratch::new();
        let (key, keys) = dir.key_file("key");
        let proc = testkit::spawn(
            BIN,
            &[
                "server",
                "0",
                "--bind",
                "127.0.0.1",
                "--key-file",
                key.to_str().unwrap(),
                "--timeout",
                "1",
                "--max-connections",
                "64",
            ],
        );
        let addr = proc.listening_addr();
        let caps = Caps::new(proc.pid(), CAP, SLACK)
            .reported_as("cbc_msg server", "normal client printed");
        let mut cbc = Cbc {
            _dir: dir,
            key,
            keys,
            proc,
            addr,
            caps,
        };
        cbc.answers("at start");
        std::thread::sleep(Duration::from_millis(200));
        cbc.caps.settle();
        cbc
    }

    /// The real client's message is printed by the server within a second
    /// (what else it printed meanwhile, error lines of the attack, is
    /// skipped).
    fn answers(&self, when: &str) -> Duration {
        let start = Instant::now();
        let text = format!("still here {}", start.elapsed().as_nanos());
        let run = util::cbc_msg(
            &[
                "client",
                "127.0.0.1",
                &self.addr.port().to_string(),
                "--key-file",
                self.key.to_str().unwrap(),
                "--message",
                &text,
            ],
            b"",
        );
        assert_eq!(run.status.code(), Some(0), "{when}: {}", run.stderr);
        loop {
            let left = PROMPT.saturating_sub(start.elapsed());
            let line = self
                .proc
                .line_within(left)
                .unwrap_or_else(|| panic!("{when}: the message was not printed within {PROMPT:?}"));
            if line == text {
                return start.elapsed();
            }
        }
    }
}

#[test]
fn a_thousand_silent_connections() {
    let _serial = serial();
    assert!(limits::raise_fd_limit(4096) >= 1100, "RLIMIT_NOFILE");
    let cbc = Cbc::start();
    let sampler = Sampler::start(cbc.caps.pid);
    let silent = silent_connections(cbc.addr, 1000);
    // The idle time-out (1 s) frees the served ones; the attacker still
    // holds its sockets.
    std::thread::sleep(Duration::from_millis(1500));
    let answered = cbc.answers("with 1000 silent sockets open");
    drop(silent);
    let recovered = cbc.caps.assert_recovers("1000 silent connections");
    let peak = sampler.stop();
    cbc.caps.assert_under(peak, "1000 silent connections");
    cbc.caps
        .report("1000 silent connections", peak, recovered, answered);
}

#[test]
fn half_closed_connections_and_resets_mid_frame() {
    let _serial = serial();
    let cbc = Cbc::start();
    let sampler = Sampler::start(cbc.caps.pid);
    let frame = cbc_msg::seal(&cbc.keys, b"cut short").unwrap();
    // Half a frame, then FIN: "truncated frame", that connection only.
    for _ in 0..50 {
        let mut s = TcpStream::connect(cbc.addr).unwrap();
        s.write_all(&frame[..frame.len() / 2]).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        assert!(closed_within(&mut s, Duration::from_secs(2)));
    }
    // Half a frame, then SO_LINGER 0 and close: a reset.
    for _ in 0..200 {
        let mut s = TcpStream::connect(cbc.addr).unwrap();
        s.write_all(&frame[..frame.len() / 2]).unwrap();
        reset_close(s);
    }
    let recovered = cbc.caps.assert_recovers("half-closed and reset");
    let answered = cbc.answers("after 250 cut frames");
    let peak = sampler.stop();
    cbc.caps.assert_under(peak, "half-closed and reset");
    cbc.caps.report(
        "50 half frames + FIN, 200 half frames + RST",
        peak,
        recovered,
        answered,
    );
}

#[test]
fn a_hundred_megabytes_of_forged_frames() {
    let _serial = serial();
    let cbc = Cbc::start();
    let sampler = Sampler::start(cbc.caps.pid);
    // 100 frames of the largest legal length (1 MiB) with a wrong tag: the
    // server reads all 100 MiB, rejects each without decrypting, prints
    // no plaintext, and stays in step with the frame boundaries.
    let mut stream = TcpStream::connect(cbc.addr).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body_len = cbc_msg::frame::MAX_BODY;
    let mut forged = (body_len as u32).to_be_bytes().to_vec();
    forged.resize(4 + body_len, 0x5a);
    let start = Instant::now();
    for _ in 0..100 {
        stream.write_all(&forged).unwrap();
    }
    stream.shutdown(Shutdown::Write).unwrap();
    assert!(closed_within(&mut stream, Duration::from_secs(10)));
    let took = start.elapsed();
    let mut rejected = 0;
    while rejected < 100 {
        let line = cbc
            .proc
            .stderr_line_within(Duration::from_secs(5))
            .expect("one error line per forged frame");
        if line.ends_with("rejected: authentication failed") {
            rejected += 1;
        }
    }
    // And 100 MB that is not even frames: refused after 4 bytes.
    let mut garbage = TcpStream::connect(cbc.addr).unwrap();
    garbage
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let junk = vec![0xa5u8; 1 << 16];
    let mut taken = 0usize;
    while taken < 100 << 20 {
        match garbage.write(&junk) {
            Ok(n) => taken += n,
            Err(_) => break,
        }
    }
    assert!(closed_within(&mut garbage, Duration::from_secs(3)));
    let recovered = cbc.caps.assert_recovers("forged frames and garbage");
    let answered = cbc.answers("after 100 MiB of forged frames and garbage");
    let peak = sampler.stop();
    cbc.caps.assert_under(peak, "forged frames");
    assert!(
        peak.rss_kib < cbc.caps.idle.rss_kib + 8 * 1024,
        "one 1 MiB body at a time: {peak:?} vs {:?}",
        cbc.caps.idle
    );
    cbc.caps.report(
        &format!(
            "100 forged 1 MiB frames on one connection (all read and rejected in {took:.2?}), \
             then 100 MB of 0xa5 (refused after the length prefix; {} KiB taken)",
            taken >> 10
        ),
        peak,
        recovered,
        answered,
    );
}

#[test]
fn a_slow_client_one_byte_every_100_ms() {
    let _serial = serial();
    let cbc = Cbc::start();
    let sampler = Sampler::start(cbc.caps.pid);
    let text = "slowly but surely";
    let frame = cbc_msg::seal(&cbc.keys, text.as_bytes()).unwrap();
    // A 68-byte frame at 1 byte / 100 ms, beside normal clients: the
    // frame's deadline (--timeout 1 s) closes the connection after about
    // 10 bytes, however regularly they come.
    let mut slow = TcpStream::connect(cbc.addr).unwrap();
    slow.set_nodelay(true).unwrap();
    let mut answered = Duration::ZERO;
    let started = std::time::Instant::now();
    for (i, b) in frame.iter().take(30).enumerate() {
        if slow.write_all(&[*b]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if i == 5 {
            answered = cbc.answers("beside a slow client");
        }
    }
    assert!(closed_within(&mut slow, Duration::from_secs(3)));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let recovered = cbc.caps.assert_recovers("slow client");
    let peak = sampler.stop();
    cbc.caps.assert_under(peak, "slow client");
    cbc.caps.report(
        "a frame at 1 byte / 100 ms (cut off by the frame's 1 s deadline)",
        peak,
        recovered,
        answered,
    );
}
