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

#![forbid(unsafe_code)]

use anyhow::Context;
use clap::Parser;
mod receiver;
use receiver::Options;
use std::process::ExitCode;

/// The lab's Part 4 receiver: prints the TV channel's multicast datagrams as [ID] text.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    options: Options,
}

fn main() -> ExitCode {
    common::cli::main("part4_receiver", run)
}

fn run(Cli { options }: Cli) -> anyhow::Result<()> {
    multicast::check(options.group, options.interface).map_err(common::cli::usage)?;
    if options.timeout.is_some_and(|t| t.is_zero()) {
        return Err(common::cli::usage("--timeout must be more than 0 seconds"));
    }
    let mut out = common::output::stdout().context("opening stdout")?;
    receiver::run(&options, &mut out)
}
