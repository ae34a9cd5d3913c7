//! `part2_pdc`: the lab's Part 2 client, the PDC (phasor data concentrator).
//! It sends a PMU command over an IPv6 TCP socket and prints what the PMU
//! sends back.
//!
//! ```text
//! part2_pdc [--host tcpip.epfl.ch] [--port 5003] [--bufsize B] [--stats] COMMAND...
//! part2_pdc --host localhost CMD_short:1 CMD_floodme
//! ```
//!
//! - `CMD_short:<d>`: each `This is PMU data <i>` on its own line, as soon
//!   as its last byte arrives, however TCP coalesced or split the messages
//!   (see `common::splitter`).
//! - `CMD_floodme`: the bytes exactly, streamed straight to stdout (memory
//!   does not grow with the flood), plus one newline if the text does not
//!   end with one. An empty answer prints nothing.
//! - Several commands run in order, one connection each.
//! - `--stats`: `recv()` calls and bytes per command, on stderr (the lab's
//!   question on how the number of `recv()` calls depends on the buffer).
//!
//! The socket is always `AF_INET6`; an IPv4-only host is reached through its
//! v4-mapped address `::ffff:a.b.c.d`, which needs `IPV6_V6ONLY` off.
//! Output is flushed whenever the socket's receive queue is empty, so that
//! the screen follows the network without a `write()` per message when the
//! messages arrive faster than they are printed. On Linux a flood to a
//! pipe, a file or `/dev/null` moves with `splice(2)`, never copied through
//! the program (`--stats` then counts the `splice()` calls).

#![forbid(unsafe_code)]

mod pdc;

use anyhow::Context;
use clap::Parser;
use common::Command;
use std::process::ExitCode;

/// The lab's Part 2 PDC: sends PMU commands over IPv6 TCP and prints the messages.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    options: pdc::Options,
    /// Print recv() calls and bytes per command to stderr
    #[arg(long)]
    stats: bool,
    /// CMD_short:<seconds> or CMD_floodme; several run in order
    #[arg(required = true, value_name = "COMMAND")]
    commands: Vec<Command>,
}

fn main() -> ExitCode {
    common::cli::main("part2_pdc", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut out = ::pdc::print::Output::stdout().context("opening stdout")?;
    for command in &cli.commands {
        let stats = pdc::run_command(&cli.options, command, &mut out)?;
        if cli.stats {
            eprintln!("part2_pdc: {command}: {stats}");
        }
    }
    Ok(())
}
