//! Part 4's integration tests (`part4_receiver`, `part4_sender`): run the
//! real receiver and sender with time limits, on the loopback interface
//! only. Each crate's tests need the other's executable too, which
//! [`crate::workspace_bin`] finds (and builds when missing).
//!
//! Every datagram of these tests is sent through `IP_MULTICAST_IF`
//! 127.0.0.1 with TTL 0, and every join is on 127.0.0.1: nothing follows
//! the default route, nothing leaves the machine. Whether this kernel
//! delivers multicast over loopback at all is probed once
//! ([`multicast_works`]); where it does not (some sandboxes, such as
//! gVisor, have no multicast), each test says so loudly and skips.

use crate::{Proc, TIMEOUT};
use multicast::{self, Interface};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;
use std::time::Duration;

pub use crate::Output as Run;

/// The receiver's executable.
pub fn receiver_bin() -> &'static str {
    crate::workspace_bin("part4_receiver")
}

/// The sender's executable.
pub fn sender_bin() -> &'static str {
    crate::workspace_bin("part4_sender")
}

/// The loopback interface, as `--interface` takes it.
pub const LOOPBACK: &str = "127.0.0.1";

/// Whether multicast datagrams sent to a group through 127.0.0.1 reach a
/// socket that joined it on 127.0.0.1. Probed once per test binary.
pub fn multicast_works() -> bool {
    static WORKS: OnceLock<Result<(), String>> = OnceLock::new();
    let probe = WORKS.get_or_init(|| {
        let group: IpAddr = Ipv4Addr::new(239, 255, 77, 77).into();
        let rx = multicast::joined_socket(group, 0, Interface::V4(Ipv4Addr::LOCALHOST))
            .map_err(|err| format!("joining {group} on 127.0.0.1: {err}"))?;
        let port = rx.local_addr().map_err(|err| err.to_string())?.port();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let tx = multicast::sending_socket(group, Interface::V4(Ipv4Addr::LOCALHOST), 0)
            .map_err(|err| format!("setting up a sender through 127.0.0.1: {err}"))?;
        tx.send_to(b"probe!", (group, port))
            .map_err(|err| format!("sending to {group}:{port} through 127.0.0.1: {err}"))?;
        let mut buf = [0u8; 16];
        match rx.recv(&mut buf) {
            Ok(6) if &buf[..6] == b"probe!" => Ok(()),
            Ok(n) => Err(format!("the probe came back as {n} other bytes")),
            Err(err) => Err(format!("the probe datagram never arrived: {err}")),
        }
    });
    match probe {
        Ok(()) => true,
        Err(why) => {
            eprintln!(
                "\n!!!!! SKIPPED: multicast over the loopback interface does not work on this \
                 machine ({why}). This kernel or sandbox (gVisor has no multicast) cannot run \
                 Part 4's integration tests; the unit tests still cover the frame and the \
                 socket set-up. !!!!!\n"
            );
            false
        }
    }
}

/// Skips the test (returns) when multicast over loopback does not work.
#[macro_export]
macro_rules! require_multicast {
    () => {
        if !$crate::mcast::multicast_works() {
            return;
        }
    };
}

/// A running receiver whose header line has been read: it has joined.
#[derive(Debug)]
pub struct Receiver {
    proc: Proc,
    pub port: u16,
}

/// `program ARGS...` for `bin`, run through `prefix` (such as `ip netns
/// exec NS`) if there is one.
fn through<'a>(prefix: &[&'a str], bin: &'a str, args: &[&'a str]) -> (&'a str, Vec<&'a str>) {
    match prefix.split_first() {
        Some((first, rest)) => (first, [rest, &[bin], args].concat()),
        None => (bin, args.to_vec()),
    }
}

/// Starts `part4_receiver` (through `prefix`, such as `ip netns exec NS`)
/// and waits for its header line, which it prints once it has joined.
pub fn receiver_in(prefix: &[&str], args: &[&str]) -> Receiver {
    let (program, args) = through(prefix, receiver_bin(), args);
    let proc = crate::spawn_raw(program, &args);
    let header = proc
        .stderr_line_within(TIMEOUT)
        .expect("the receiver's header line");
    let port = header
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in the receiver's header {header:?}"));
    Receiver { proc, port }
}

/// Starts `part4_receiver` with `args`.
pub fn receiver(args: &[&str]) -> Receiver {
    receiver_in(&[], args)
}

/// A receiver on the loopback interface: `--port port` (`"0"`: a free
/// one), `--count count` unless `None`, `--timeout timeout`.
pub fn loopback_receiver(port: &str, count: Option<&str>, timeout: &str) -> Receiver {
    let mut args = vec!["--interface", LOOPBACK, "--port", port];
    if let Some(count) = count {
        args.extend(["--count", count]);
    }
    args.extend(["--timeout", timeout]);
    receiver(&args)
}

impl Receiver {
    /// Waits for the receiver to end, killing it past `limit`. Its stderr
    /// holds the header line too.
    pub fn finish(self, limit: Duration) -> Run {
        self.proc.output_within(limit)
    }
}

/// Runs `part4_sender` (through `prefix`) with `args` and `stdin`, within
/// [`TIMEOUT`].
pub fn sender_in(prefix: &[&str], args: &[&str], stdin: &[u8]) -> Run {
    let (program, args) = through(prefix, sender_bin(), args);
    crate::run_with_stdin(program, &args, Some(stdin), TIMEOUT)
}

/// Runs `part4_sender` with `args` and `stdin`.
pub fn sender(args: &[&str], stdin: &[u8]) -> Run {
    sender_in(&[], args, stdin)
}

/// Runs `part4_sender --id ID` on the loopback interface with TTL 0 to
/// `port`, with `extra` arguments and `stdin`.
pub fn loopback_sender(id: &str, port: &str, extra: &[&str], stdin: &[u8]) -> Run {
    let args = [
        "--id",
        id,
        "--interface",
        LOOPBACK,
        "--ttl",
        "0",
        "--port",
        port,
    ];
    sender(&[&args[..], extra].concat(), stdin)
}

/// Fails the test unless `run` exited with `code` and printed exactly one
/// stderr line, `NAME: error: ...` with `needle` in it.
pub fn assert_one_error(run: &Run, code: i32, name: &str, needle: &str) {
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    run.expect_code(code).expect_one_line_error(name, needle);
}

/// A raw UDP socket that sends arbitrary bytes to `group` through
/// 127.0.0.1 with TTL 0: the garbage a real network may carry.
pub fn raw_sender(group: IpAddr) -> std::net::UdpSocket {
    multicast::sending_socket(group, Interface::V4(Ipv4Addr::LOCALHOST), 0).unwrap()
}
