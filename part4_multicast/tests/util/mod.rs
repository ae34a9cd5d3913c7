//! Helpers shared by Part 4's integration tests: run the real receiver and
//! sender with time limits, on the loopback interface only.
//!
//! Every datagram of these tests is sent through `IP_MULTICAST_IF`
//! 127.0.0.1 with TTL 0, and every join is on 127.0.0.1: nothing follows
//! the default route, nothing leaves the machine. Whether this kernel
//! delivers multicast over loopback at all is probed once
//! ([`multicast_works`]); where it does not (some sandboxes, such as
//! gVisor, have no multicast), each test says so loudly and skips.

#![allow(dead_code)] // each test file uses its own subset

use common::multicast::{self, Interface};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const RECEIVER: &str = env!("CARGO_BIN_EXE_part4_receiver");
pub const SENDER: &str = env!("CARGO_BIN_EXE_part4_sender");

/// The loopback interface, as `--interface` takes it.
pub const LOOPBACK: &str = "127.0.0.1";

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Kills the child when a test fails or times out.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

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
        if !util::multicast_works() {
            return;
        }
    };
}

/// A running receiver whose header line has been read: it has joined.
pub struct Receiver {
    child: KillOnDrop,
    pub port: u16,
    stderr: JoinHandle<String>,
}

/// Starts `part4_receiver` (through `prefix`, such as `ip netns exec NS`)
/// and waits for its header line, which it prints once it has joined.
pub fn receiver_in(prefix: &[&str], args: &[&str]) -> Receiver {
    let (program, rest) = match prefix.split_first() {
        Some((first, rest)) => (*first, [rest, &[RECEIVER]].concat()),
        None => (RECEIVER, Vec::new()),
    };
    let mut child = KillOnDrop(
        Command::new(program)
            .args(rest)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning part4_receiver"),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut header = String::new();
    stderr.read_line(&mut header).unwrap();
    let port = header
        .split(" port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in the receiver's header {header:?}"));
    let stderr = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        header + &rest
    });
    Receiver {
        child,
        port,
        stderr,
    }
}

/// Starts `part4_receiver` with `args`.
pub fn receiver(args: &[&str]) -> Receiver {
    receiver_in(&[], args)
}

impl Receiver {
    /// Waits for the receiver to end, killing it past `limit`.
    pub fn finish(mut self, limit: Duration) -> Run {
        let out = self.child.0.stdout.take();
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            out.map(|mut out| out.read_to_end(&mut buf));
            String::from_utf8_lossy(&buf).into_owned()
        });
        let status = wait(&mut self.child, limit, "part4_receiver");
        Run {
            status,
            stdout: out_reader.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
        }
    }
}

fn wait(child: &mut KillOnDrop, limit: Duration, name: &str) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `part4_sender` (through `prefix`) with `args` and `stdin`.
pub fn sender_in(prefix: &[&str], args: &[&str], stdin: &[u8]) -> Run {
    let (program, rest) = match prefix.split_first() {
        Some((first, rest)) => (*first, [rest, &[SENDER]].concat()),
        None => (SENDER, Vec::new()),
    };
    let mut child = KillOnDrop(
        Command::new(program)
            .args(rest)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning part4_sender"),
    );
    let mut input = child.0.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.0.stdout.take();
    let err = child.0.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        out.map(|mut out| out.read_to_string(&mut buf));
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = String::new();
        err.map(|mut err| err.read_to_string(&mut buf));
        buf
    });
    let status = wait(&mut child, Duration::from_secs(20), "part4_sender");
    writer.join().unwrap();
    Run {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Runs `part4_sender` with `args` and `stdin`.
pub fn sender(args: &[&str], stdin: &[u8]) -> Run {
    sender_in(&[], args, stdin)
}

/// A raw UDP socket that sends arbitrary bytes to `group` through
/// 127.0.0.1 with TTL 0: the garbage a real network may carry.
pub fn raw_sender(group: IpAddr) -> std::net::UdpSocket {
    multicast::sending_socket(group, Interface::V4(Ipv4Addr::LOCALHOST), 0).unwrap()
}
