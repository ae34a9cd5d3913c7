//! Running the real `part3_reset` binary against servers on loopback, with
//! bounded waits: a child is killed when its guard drops or its time is up,
//! and every purpose-built peer stops when dropped, so no test can hang.

use chrono::{DateTime, FixedOffset};
use lab_server::{Config, LabServer, OffsetSep, UdpFamily};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use testkit::Output as Finished;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_part3_reset");

/// Runs `part3_reset ARGS...` to completion, within [`TIMEOUT`].
pub fn run(args: &[&str]) -> Finished {
    testkit::run(BIN, args)
}

/// Runs `part3_reset ARGS...`; kills it and fails the test if it is still
/// running after `limit`.
pub fn run_within(args: &[&str], limit: Duration) -> Finished {
    testkit::run_within(BIN, args, limit)
}

/// Runs `program ARGS...` (a wrapper that ends by exec'ing [`BIN`]) within
/// `limit`.
pub fn run_program(program: &str, args: &[&str], limit: Duration) -> Finished {
    testkit::run_within(program, args, limit)
}

/// An in-process `lab_server` whose UDP reset service listens on `family`
/// only, on a free port of 127.0.0.1 or ::1, and answers `RESET:20` (the
/// course's n, part3_reset's default).
pub fn reset_server(family: UdpFamily, loss: f64, sep: OffsetSep) -> LabServer {
    reset_server_for(20, family, loss, sep)
}

/// [`reset_server`] answering `RESET:<n>` only (the course server answers
/// one n, anything else gets `Wrong command.`).
pub fn reset_server_for(n: u32, family: UdpFamily, loss: f64, sep: OffsetSep) -> LabServer {
    LabServer::start(Config {
        tcp_port: None,
        udp_family: family,
        loss,
        offset_sep: sep,
        reset_n: n,
        ..Config::ephemeral()
    })
    .expect("start lab_server")
}

/// The UDP port of `server`, as a command-line argument.
pub fn port_of(server: &LabServer) -> String {
    server.udp_port().expect("UDP service").to_string()
}

/// One parsed line `OFFSET=<X> over <family> from <addr> at <time> after
/// <k> attempt(s)`.
#[derive(Debug)]
pub struct AckLine {
    pub value: u32,
    pub family: String,
    pub from: SocketAddr,
    pub at: DateTime<FixedOffset>,
    pub attempts: u64,
}

/// Parses an acknowledgement line, failing the test if it is malformed.
pub fn parse_ack(line: &str) -> AckLine {
    let words: Vec<&str> = line.split(' ').collect();
    let fail = |why: &str| -> ! { panic!("bad acknowledgement line ({why}): {line:?}") };
    let [
        offset,
        "over",
        family,
        "from",
        from,
        "at",
        at,
        "after",
        k,
        unit,
    ] = words[..]
    else {
        fail("not 10 words in the expected order")
    };
    let value = offset
        .strip_prefix("OFFSET=")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| fail("OFFSET=<X>"));
    if family != "IPv4" && family != "IPv6" {
        fail("family");
    }
    let from: SocketAddr = from.parse().unwrap_or_else(|_| fail("address"));
    let at = DateTime::parse_from_rfc3339(at).unwrap_or_else(|_| fail("RFC 3339 time"));
    let attempts: u64 = k.parse().unwrap_or_else(|_| fail("attempt count"));
    let expected_unit = if attempts == 1 { "attempt" } else { "attempts" };
    if unit != expected_unit || attempts == 0 {
        fail("attempt(s)");
    }
    AckLine {
        value,
        family: family.to_string(),
        from,
        at,
        attempts,
    }
}

/// Checks a `--runs` output: `runs` acknowledgement lines, each over
/// `family` from `server` with `X <= n`, then a summary whose numbers agree
/// with them. Returns the total attempts.
pub fn check_runs(out: &Finished, runs: u64, n: u32, family: &str, server: SocketAddr) -> u64 {
    let lines = out.lines();
    assert_eq!(lines.len() as u64, runs + 1, "{out:#?}");
    let mut attempts = 0;
    let mut previous = None;
    for line in &lines[..lines.len() - 1] {
        let ack = parse_ack(line);
        assert!(ack.value <= n, "{line}");
        assert_eq!(ack.family, family, "{line}");
        assert_eq!(ack.from, server, "{line}");
        if let Some(previous) = previous {
            assert!(ack.at >= previous, "time goes backwards: {line}");
        }
        previous = Some(ack.at);
        attempts += ack.attempts;
    }
    let mean = attempts as f64 / runs as f64;
    let loss = 1.0 - runs as f64 / attempts as f64;
    assert_eq!(
        lines[lines.len() - 1],
        format!(
            "runs: {runs}, attempts: {attempts}, mean attempts per ack: {mean:.2}, \
             estimated loss probability: {loss:.3}"
        ),
        "{out:#?}"
    );
    attempts
}

/// A purpose-built UDP peer on 127.0.0.1: calls `handle(socket, datagram,
/// sender)` for every datagram it receives, until dropped.
pub struct Peer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    pub fn start(mut handle: impl FnMut(&UdpSocket, &[u8], SocketAddr) + Send + 'static) -> Peer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind peer");
        // The test peer may poll: it only decides how soon it notices the
        // end of its test.
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("SO_RCVTIMEO");
        let addr = socket.local_addr().expect("local_addr");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stopped.load(Ordering::SeqCst) {
                if let Ok((len, from)) = socket.recv_from(&mut buf) {
                    handle(&socket, &buf[..len], from);
                }
            }
        });
        Peer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
