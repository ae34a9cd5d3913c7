//! `part4_sender`: the lab's Part 4 sender. It sends the subscriber's
//! opinions to the TV channel's multicast group: each line of stdin (or
//! `--message`) becomes one datagram, the 6-byte ID then the text.
//!
//! ```text
//! part4_sender --id ID [--group 224.1.1.1] [--port 5005] [--interface ADDR] [--ttl 1] [--message TEXT]
//! echo "My opinion…" | part4_sender --id 123456 --interface 127.0.0.1
//! ```
//!
//! - The ID must be exactly 6 ASCII bytes (your CAMIPRO number); anything
//!   else is a usage error (status 2) before a byte is sent.
//! - Each line is sent without its line ending (`\n`, `\r\n`), as it is
//!   otherwise (an empty line sends the ID alone). A line longer than one
//!   UDP datagram can carry (65,501 bytes of text over IPv4, 65,521 over
//!   IPv6) is refused with an error line on stderr and the sender goes on
//!   with the next line; the run then exits 1 and says how many were not
//!   sent. Lines are read as bytes: text that is not UTF-8 goes out as is.
//! - `IP_MULTICAST_IF` (`--interface`, default: the kernel's choice),
//!   `IP_MULTICAST_TTL` (`--ttl`, default 1: the datagrams stay on the
//!   local network) and `IP_MULTICAST_LOOP` on, so that a receiver on this
//!   host hears them too. IPv6 groups use `IPV6_MULTICAST_IF` and
//!   `IPV6_MULTICAST_HOPS`.
//! - The socket is not bound: the kernel picks the source port. The TV
//!   channel's answers go to the group, so run `part4_receiver` to see them.

#![forbid(unsafe_code)]

use anyhow::Context;
use clap::Parser;
mod sender;
use sender::{Options, Sender};
use std::process::ExitCode;

/// The lab's Part 4 sender: sends each line of stdin as one multicast datagram ID + text.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    options: Options,
    /// Send this text as one datagram instead of reading stdin
    #[arg(long, value_name = "TEXT")]
    message: Option<String>,
}

fn main() -> ExitCode {
    common::cli::main("part4_sender", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let options = &cli.options;
    multicast::check(options.group, options.interface).map_err(common::cli::usage)?;
    let sender = Sender::open(options)?;
    match &cli.message {
        Some(message) => sender::send_message(&sender, message),
        None => sender::send_lines(&sender, std::io::stdin().lock()).context("sending stdin"),
    }
}
