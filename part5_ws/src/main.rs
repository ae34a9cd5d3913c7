//! `part5_ws`: the lab's Part 5 client, the PDC over WebSocket. It sends
//! each PMU command as one WebSocket message and prints the PMU messages
//! that come back, with the same output as `part2_pdc`.
//!
//! ```text
//! part5_ws [--url ws://tcpip.epfl.ch:5006] [--stats] COMMAND...
//! part5_ws --url ws://localhost:5006 --stats CMD_short:1 CMD_floodme
//! part5_ws --url wss://pmu.example:5443 --ca ca.pem CMD_short:0
//! ```
//!
//! - `CMD_short:<d>`: each PMU message on its own line as soon as it has
//!   arrived, exactly as sent (binary or text frames alike).
//! - `CMD_floodme`: the message's bytes exactly, plus one newline if it
//!   does not end with one. tungstenite hands over whole messages, so a
//!   flood is held in memory once (about its size in RSS) before it is
//!   written; `--max-message-size` (default 1 GiB, tungstenite's own
//!   default of 64 MiB being too small for floodme) bounds it, and
//!   `--max-frame-size` (default: the same) bounds one frame.
//! - Several commands run in order, one connection each.
//! - The server's close handshake ends a command; so does a server that
//!   just closes the TCP connection, with every message already printed
//!   (`--stats` says which it was). A reset, a time-out, a protocol
//!   error, or a close in the middle of a message (`frames`) is an error
//!   (status 1), after the messages that arrived whole are printed.
//! - `--stats`: messages received and bytes per command, on stderr (the
//!   handout's question about `on_message`: one call per message).
//!
//! Design: tungstenite over a `TcpStream` this program connects itself,
//! because tungstenite's own `connect` has no time-outs: every address of
//! the host is tried in turn (IPv6 first) within `--connect-timeout`, and
//! `--timeout` bounds the wait for each read. `wss://` wraps the stream in
//! rustls (TLS 1.2 and 1.3, the ring provider), trusting `--ca FILE` (PEM)
//! or, without it, the system's CA store. Output is flushed whenever the
//! socket's receive queue is empty, as in `part2_pdc`. Large blocks (the
//! flood) are backed by transparent huge pages where the kernel allows,
//! which saves most of the page faults of a 256 MiB message (`alloc`).

mod alloc;
mod client;
mod frames;
mod printer;
mod target;

use anyhow::Context;
use clap::Parser;
use common::Command;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The lab's Part 5 PDC: sends PMU commands over WebSocket and prints the messages.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// The PMU's WebSocket URL: ws://HOST[:PORT][/PATH] or wss://…
    #[arg(long, default_value = "ws://tcpip.epfl.ch:5006")]
    url: String,
    /// Print messages and bytes per command to stderr
    #[arg(long)]
    stats: bool,
    /// CA certificate(s) (PEM) to trust for a wss:// URL [default: the system's]
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Seconds to wait for the connection
    #[arg(long, default_value = "10", value_parser = common::cli::seconds, value_name = "SECS")]
    connect_timeout: Duration,
    /// Seconds without a byte from the server before giving up
    /// (CMD_short:<d> waits at least d + 30)
    #[arg(long, default_value = "30", value_parser = common::cli::seconds, value_name = "SECS")]
    timeout: Duration,
    /// Largest message accepted, such as 1GiB or 64MiB
    #[arg(long, default_value = "1GiB", value_parser = common::cli::bytes, value_name = "B")]
    max_message_size: u64,
    /// Largest frame accepted [default: --max-message-size]
    #[arg(long, value_parser = common::cli::bytes, value_name = "B")]
    max_frame_size: Option<u64>,
    /// CMD_short:<seconds> or CMD_floodme; several run in order
    #[arg(required = true, value_name = "COMMAND")]
    commands: Vec<Command>,
}

#[global_allocator]
static ALLOCATOR: alloc::HugePageHint = alloc::HugePageHint;

fn main() -> ExitCode {
    common::cli::main("part5_ws", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let target = target::Target::parse(&cli.url).map_err(common::cli::usage)?;
    if cli.ca.is_some() && !target.secure {
        return Err(common::cli::usage(
            "--ca is for wss:// URLs; a ws:// URL has no certificate to check",
        ));
    }
    let size = |bytes: u64, flag: &str| {
        usize::try_from(bytes)
            .ok()
            .filter(|&b| b > 0 && b <= isize::MAX as usize)
            .ok_or_else(|| {
                common::cli::usage(format!(
                    "{flag} must be from 1 byte to what this machine can address"
                ))
            })
    };
    let max_message_size = size(cli.max_message_size, "--max-message-size")?;
    let max_frame_size = size(
        cli.max_frame_size.unwrap_or(cli.max_message_size),
        "--max-frame-size",
    )?;
    let tls = match target.secure {
        true => Some(client::tls_config(cli.ca.as_deref())?),
        false => None,
    };
    let options = client::Options {
        target,
        tls,
        connect_timeout: cli.connect_timeout,
        idle_timeout: cli.timeout,
        max_message_size,
        max_frame_size,
    };
    let mut out = common::output::stdout().context("opening stdout")?;
    for command in &cli.commands {
        let stats = client::run_command(&options, command, &mut out)?;
        if cli.stats {
            eprintln!("part5_ws: {command}: {stats}");
        }
    }
    Ok(())
}
