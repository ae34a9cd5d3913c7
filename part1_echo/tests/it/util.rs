//! Running the real `part1_echo` binary with bounded waits (see `testkit`).

use std::net::SocketAddr;

pub use testkit::{Lines as Finished, Proc, TIMEOUT};

/// The handout's default TCP message (42 bytes).
pub const HANDOUT_MESSAGE: &str = "This is the message.  It will be repeated.";

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
