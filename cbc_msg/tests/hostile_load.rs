//! Hostile clients in numbers against `cbc_msg server`: after each attack
//! the real client's message is printed within a second, and the server's
//! threads and descriptors (`/proc/<pid>`) stay under `--max-connections`
//! and come back to idle (docs/HARDENING.md). `hostile_peers.rs` has the
//! one-connection cases (forged frames, hostile lengths, truncation).
//!
//! Bounded in count and time, on 127.0.0.1 only; one test at a time.

mod util;

use cbc_msg::Keys;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use testkit::limits::{self, Sampler, Usage};
use util::Scratch;

const BIN: &str = env!("CARGO_BIN_EXE_cbc_msg");
const CAP: usize = 64;
/// Beyond the cap: the connection being closed over the cap, the normal
/// client's, and what is mid-exit when sampled (seen once at cap + 5).
const SLACK: usize = 8;
const PROMPT: Duration = Duration::from_secs(1);

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Cbc {
    _dir: Scratch,
    key: PathBuf,
    keys: Keys,
    proc: testkit::Proc,
    addr: SocketAddr,
    idle: Usage,
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
        let mut cbc = Cbc {
            _dir: dir,
            key,
            keys,
            proc,
            addr,
            idle: Usage::default(),
        };
        cbc.answers("at start");
        std::thread::sleep(Duration::from_millis(200));
        cbc.idle = cbc.usage();
        cbc
    }

    fn usage(&self) -> Usage {
        limits::usage(self.proc.pid())
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

    fn assert_under_cap(&self, peak: Usage, what: &str) {
        let bound = |idle: usize| idle + CAP + SLACK;
        assert!(
            peak.threads <= bound(self.idle.threads) && peak.fds <= bound(self.idle.fds),
            "{what}: peak {peak:?} over the cap (idle {:?}, cap {CAP})",
            self.idle
        );
    }

    fn assert_recovers(&self, what: &str) -> Duration {
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

    fn report(&self, attack: &str, peak: Usage, recovered: Duration, answered: Duration) {
        eprintln!(
            "HARDENING cbc_msg server | {attack} | idle {} threads {} fds {} KiB | peak {} \
             threads {} fds {} KiB | back to idle in {recovered:.2?} | normal client printed in \
             {answered:.2?}",
            self.idle.threads,
            self.idle.fds,
            self.idle.rss_kib,
            peak.threads,
            peak.fds,
            peak.rss_kib,
        );
    }
}

fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
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

#[test]
fn a_thousand_silent_connections() {
    let _serial = serial();
    assert!(limits::raise_fd_limit(4096) >= 1100, "RLIMIT_NOFILE");
    let cbc = Cbc::start();
    let sampler = Sampler::start(cbc.proc.pid());
    let silent: Vec<TcpStream> = (0..1000)
        .map(|_| TcpStream::connect(cbc.addr).unwrap())
        .collect();
    // The idle time-out (1 s) frees the served ones; the attacker still
    // holds its sockets.
    std::thread::sleep(Duration::from_millis(1500));
    let answered = cbc.answers("with 1000 silent sockets open");
    drop(silent);
    let recovered = cbc.assert_recovers("1000 silent connections");
    let peak = sampler.stop();
    cbc.assert_under_cap(peak, "1000 silent connections");
    cbc.report("1000 silent connections", peak, recovered, answered);
}

#[test]
fn half_closed_connections_and_resets_mid_frame() {
    let _serial = serial();
    let cbc = Cbc::start();
    let sampler = Sampler::start(cbc.proc.pid());
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
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
    }
    let recovered = cbc.assert_recovers("half-closed and reset");
    let answered = cbc.answers("after 250 cut frames");
    let peak = sampler.stop();
    cbc.assert_under_cap(peak, "half-closed and reset");
    cbc.report(
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
    let sampler = Sampler::start(cbc.proc.pid());
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
    let recovered = cbc.assert_recovers("forged frames and garbage");
    let answered = cbc.answers("after 100 MiB of forged frames and garbage");
    let peak = sampler.stop();
    cbc.assert_under_cap(peak, "forged frames");
    assert!(
        peak.rss_kib < cbc.idle.rss_kib + 8 * 1024,
        "one 1 MiB body at a time: {peak:?} vs {:?}",
        cbc.idle
    );
    cbc.report(
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
    let sampler = Sampler::start(cbc.proc.pid());
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
    let recovered = cbc.assert_recovers("slow client");
    let peak = sampler.stop();
    cbc.assert_under_cap(peak, "slow client");
    cbc.report(
        "a frame at 1 byte / 100 ms (cut off by the frame's 1 s deadline)",
        peak,
        recovered,
        answered,
    );
}
