//! `part4_receiver`: the lab's Part 4 receiver. It joins the TV channel's
//! multicast group and prints every datagram as `[<ID>] <text>`: the TV
//! channel's lines (`[swcmTV] …`), the subscribers' opinions (`[123456] …`)
//! and the channel's answers to them.
//!
//! ```text
//! part4_receiver [--group 224.1.1.1] [--port 5005] [--interface ADDR] [--count N] [--timeout S]
//! part4_receiver --interface 127.0.0.1 --count 3     # against a local lab_server
//! ```
//!
//! - The socket binds the port on the wildcard address with `SO_REUSEADDR`
//!   and `SO_REUSEPORT`, so several receivers (and `lab_server`) on one
//!   host each get every datagram, and joins the group with
//!   `IP_ADD_MEMBERSHIP` on `--interface` (default: the kernel's choice,
//!   the interface of the route to the group). IPv6 groups (`ff0x::…`,
//!   `IPV6_JOIN_GROUP`, `--interface` by name or index) work too, beyond
//!   the lab.
//! - A datagram shorter than the 6-byte ID is reported on stderr and
//!   skipped; an ID that is not printable ASCII shows in hex, bytes that are
//!   not UTF-8 as `\xNN`, control characters escaped, so each datagram is
//!   one line (`common::frame`). Nothing a peer sends stops the receiver.
//! - `--count N` stops after N datagrams printed (short ones do not count);
//!   `--timeout S` stops after S seconds without a datagram: status 0, or
//!   1 if `--count` was not reached.
//! - stderr gets one header line with the group, the bound port and the
//!   interface; stdout only the datagrams, flushed whenever the socket's
//!   queue is drained.

use anyhow::Context;
use clap::Parser;
use common::multicast::Interface;
mod receiver;
use receiver::Options;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

/// The lab's Part 4 receiver: prints the TV channel's multicast datagrams as [ID] text.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The multicast group (224.0.0.0/4, or ff00::/8 for IPv6)
    #[arg(long, default_value = "224.1.1.1")]
    group: IpAddr,
    /// The UDP port (0: a free one, printed on stderr)
    #[arg(long, default_value_t = 5005)]
    port: u16,
    /// Interface to join on: one of its IPv4 addresses (127.0.0.1: loopback),
    /// or for an IPv6 group its name or index [default: the kernel's choice]
    #[arg(long, default_value = "any", value_name = "ADDR")]
    interface: Interface,
    /// Stop after N datagrams printed
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Stop after S seconds without a datagram
    #[arg(long, value_parser = common::cli::seconds, value_name = "S")]
    timeout: Option<Duration>,
}

fn main() -> ExitCode {
    common::cli::main("part4_receiver", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    common::multicast::check(cli.group, cli.interface).map_err(common::cli::usage)?;
    if cli.timeout.is_some_and(|t| t.is_zero()) {
        return Err(common::cli::usage("--timeout must be more than 0 seconds"));
    }
    let options = Options {
        group: cli.group,
        port: cli.port,
        interface: cli.interface,
        count: cli.count,
        timeout: cli.timeout,
    };
    let mut out = common::output::stdout().context("opening stdout")?;
    receiver::run(&options, &mut out)
}
