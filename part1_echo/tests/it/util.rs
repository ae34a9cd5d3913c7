//! Running the real `part1_echo` binary with bounded waits (see `testkit`).

use std::net::SocketAddr;

pub use testkit::{Lines as Finished, Proc, TIMEOUT};

/// Code D's message (41 bytes), tcp-client's default.
pub const HANDOUT_MESSAGE: &str = "O Romeo, Romeo! wherefore art thou Romeo?";

/// Code A's datagram (13 bytes, the trailing space included), udp-send's
/// default.
pub const HANDOUT_DATAGRAM: &str = "Hello, Romeo ";

/// `addr` as the handout's Python prints a peer: `('127.0.0.1', 38569)`, or
/// `('::1', 38569, 0, 0)` for IPv6.
pub fn py_addr(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(v4) => format!("('{}', {})", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("('{}', {}, 0, 0)", v6.ip(), v6.port()),
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_part1_echo");

/// Starts `part1_echo ARGS...` with stdout and stderr read line by line.
pub fn spawn(args: &[&str]) -> Proc {
    testkit::spawn(BIN, args)
}

/// Runs `part1_echo ARGS...` to completion (at most [`TIMEOUT`]).
pub fn run(args: &[&str]) -> Finished {
    spawn(args).finish()
}

/// Starts a receiving subcommand (`tcp-server` or `udp-recv` with
/// `--port 0`, the arguments split on white space) and returns it with the
/// address from its `listening on` line.
pub fn listening(command_line: &str) -> (Proc, SocketAddr) {
    let args: Vec<&str> = command_line.split_whitespace().collect();
    let proc = spawn(&args);
    let addr = proc.listening_addr();
    (proc, addr)
}
