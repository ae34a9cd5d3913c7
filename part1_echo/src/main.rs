//! Part 1 of the lab: the four socket programs of the handout (Codes A–D,
//! the classic PyMOTW echo examples), one subcommand each, to see what UDP
//! and TCP do with a message: a datagram arrives whole, a TCP byte stream is
//! cut wherever the reader's buffer ends.
//!
//! ```text
//! part1_echo udp-send   [--host localhost] [--port 5001] [MESSAGE]             (Code A)
//! part1_echo udp-recv   [--port 5001] [--bind ADDR] [--count N]                (Code B)
//! part1_echo tcp-server [--port 5002] [--bind ADDR] [--bufsize 16] [--once]    (Code C)
//! part1_echo tcp-client [--host localhost] [--port 5002] [--bufsize 8] [--close] [MESSAGE]
//!                                                                              (Code D)
//! ```
//!
//! With no arguments they print the handout's lines: `udp-send` sends
//! `Hello, Romeo ` (13 bytes, the trailing space included) and prints
//! `Message sent`; `udp-recv` prints `Received data:  Hello, Romeo ` and
//! `From Address:  ('127.0.0.1', 38569)` (Python's `print(a, b)` puts a
//! space between its arguments, hence two after each colon, and prints the
//! address as a tuple, `('::1', 38569, 0, 0)` for IPv6); `tcp-server` ends a
//! connection with `No more data from ('127.0.0.1', 50042)`.
//!
//! With the defaults, the server prints 3 `received:` lines for the client's
//! 41-byte `O Romeo, Romeo! wherefore art thou Romeo?` (16 + 16 + 9 bytes)
//! and the client 6 (five of 8 bytes and one of 1): the number of `recv()`
//! calls depends on the reader's buffer, not on how the data was sent (the
//! lab's question 6). Like Code D's `while True: pass`, the client then
//! keeps the connection open, so the server prints no `No more data from`
//! until the client is stopped with Ctrl+C (questions 7 and 8) or the server
//! closes; `--close` ends it after the echo instead (for scripts).
//!
//! Design choices:
//!
//! - `udp-send` resolves the host with [`common::resolve`] (IPv6 first;
//!   `localhost` is `::1` then `127.0.0.1`) and sends the datagram once, to
//!   the first address whose family works here: the socket can be created
//!   and the local stack accepts the datagram. It does not send to every
//!   address, because a dual-stack receiver would then print the message
//!   twice. UDP has no handshake, so nothing tells the sender whether anyone
//!   listens; give `--host 127.0.0.1` to reach an IPv4-only receiver.
//! - `udp-recv` and `tcp-server` bind `[::]` with `IPV6_V6ONLY` off, so IPv4
//!   and IPv6 peers both arrive on one socket; an IPv4 peer then shows as
//!   `::ffff:a.b.c.d`, which is printed as plain IPv4. Without IPv6 they
//!   fall back to `0.0.0.0`. `--bind ADDR` picks one address instead
//!   (`127.0.0.1`, `::1`, or `::ffff:127.0.0.1` for IPv4 peers through an
//!   IPv6 socket).
//! - `tcp-server` is iterative like the handout's: one connection at a time.
//!   A second client's connection completes in the kernel's accept queue,
//!   but its message waits until the first client leaves (the lab's
//!   question on concurrent clients). A client that resets or sends garbage
//!   is reported on stderr and the server waits for the next one; with
//!   `--once`, that one connection's failure is the exit status.
//! - Received bytes are shown as UTF-8, invalid sequences replaced by U+FFFD,
//!   per `recv()`: a character cut by a buffer boundary shows as two
//!   replacement characters, which is the lab's point about byte streams.
//! - stdout carries only the handout's lines and is flushed after each one;
//!   progress goes to stderr.

mod net;
mod tcp;
mod udp;

use std::net::IpAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Codes A–D of the lab's Part 1: UDP and TCP echo examples.
#[derive(Debug, Parser)]
#[command(name = "part1_echo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Code A: send MESSAGE as one UDP datagram and print `Message sent`.
    UdpSend {
        /// Host to send to (name or IP address).
        #[arg(long, default_value = "localhost")]
        host: String,
        /// UDP port to send to.
        #[arg(long, default_value_t = 5001)]
        port: u16,
        /// The datagram's text.
        #[arg(default_value = udp::DEFAULT_MESSAGE)]
        message: String,
    },
    /// Code B: print every UDP datagram received on a port
    /// (`Received data:  …`, `From Address:  ('127.0.0.1', 38569)`).
    UdpRecv {
        /// UDP port to listen on (0: any free port, shown on stderr).
        #[arg(long, default_value_t = 5001)]
        port: u16,
        /// Address to bind (default: every IPv4 and IPv6 address).
        #[arg(long, value_name = "ADDR")]
        bind: Option<IpAddr>,
        /// Exit after N datagrams (default: run until killed).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Code C: iterative TCP echo server, one connection at a time.
    TcpServer {
        /// TCP port to listen on (0: any free port, shown on stderr).
        #[arg(long, default_value_t = 5002)]
        port: u16,
        /// Address to bind (default: every IPv4 and IPv6 address).
        #[arg(long, value_name = "ADDR")]
        bind: Option<IpAddr>,
        /// Bytes asked of each recv().
        #[arg(long, default_value_t = 16, value_parser = bufsize_parser())]
        bufsize: u32,
        /// Exit after the first connection.
        #[arg(long)]
        once: bool,
    },
    /// Code D: send MESSAGE over TCP, print the echo recv() by recv(), then
    /// hold the connection open until Ctrl+C or the server closes.
    TcpClient {
        /// Host to connect to (name or IP address).
        #[arg(long, default_value = "localhost")]
        host: String,
        /// TCP port to connect to.
        #[arg(long, default_value_t = 5002)]
        port: u16,
        /// Bytes asked of each recv().
        #[arg(long, default_value_t = 8, value_parser = bufsize_parser())]
        bufsize: u32,
        /// Close the connection and exit once the echo is back, instead of
        /// holding it open like Code D's `while True: pass`.
        #[arg(long)]
        close: bool,
        /// Hold the connection open after the echo (the default; kept for
        /// older scripts).
        #[arg(long, hide = true, conflicts_with = "close")]
        hold: bool,
        /// The message to send.
        #[arg(default_value = tcp::DEFAULT_MESSAGE)]
        message: String,
    },
}

/// A recv() size: at least one byte, at most 16 MiB (the buffer is
/// allocated up front).
fn bufsize_parser() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=16 * 1024 * 1024)
}

fn main() -> ExitCode {
    common::cli::main("part1_echo", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::UdpSend {
            host,
            port,
            message,
        } => udp::send(&host, port, &message),
        Command::UdpRecv { port, bind, count } => udp::recv(bind, port, count),
        Command::TcpServer {
            port,
            bind,
            bufsize,
            once,
        } => tcp::server(bind, port, bufsize as usize, once),
        Command::TcpClient {
            host,
            port,
            bufsize,
            close,
            hold: _,
            message,
        } => tcp::client(&host, port, bufsize as usize, close, &message),
    }
}
