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
//!   does not end with one, written as its frames arrive: memory does not
//!   grow with the message (`frames`; on Linux, long binary frames move
//!   with `splice(2)` when stdout is not a terminal). `--max-message-size`
//!   (default 1 GiB) and `--max-frame-size` (default: the same) bound what
//!   is accepted.
//! - Several commands run in order, one connection each.
//! - The server's close handshake ends a command; so does a server that
//!   just closes the TCP connection, with every message already printed
//!   (`--stats` says which it was). A reset, a time-out, a protocol
//!   error, or a close in the middle of a message (`frames`) is an error
//!   (status 1), after what arrived is printed: `CMD_short`'s messages
//!   whole only (each is held until complete, up to 64 KiB), a flood's
//!   bytes as they came.
//! - `--stats`: messages received and bytes per command, on stderr (the
//!   handout's question about `on_message`: one call per message).
//!
//! Design: tungstenite over a `TcpStream` this program connects itself,
//! because tungstenite's own `connect` has no time-outs: every address of
//! the host is tried in turn (IPv6 first) within `--connect-timeout`, and
//! `--timeout` bounds the wait for each read. `wss://` wraps the stream in
//! rustls (TLS 1.2 and 1.3, the ring provider), trusting `--ca FILE` (PEM)
//! or, without it, the system's CA store. tungstenite does the opening
//! handshake; the frames are read here, streamed (`frames`), through the
//! receive loop of `part2_pdc` (`pdc::receive`).

#![forbid(unsafe_code)]

mod client;
mod frames;
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
    let size = |bytes: u64, flag: &str| match bytes {
        0 => Err(common::cli::usage(format!(
            "{flag} must be at least 1 byte"
        ))),
        b => Ok(b),
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
        limits: frames::Limits {
            max_message: max_message_size,
            max_frame: max_frame_size,
        },
    };
    let mut out = pdc::print::Output::stdout().context("opening stdout")?;
    for command in &cli.commands {
        let stats = client::run_command(&options, command, &mut out)?;
        if cli.stats {
            eprintln!("part5_ws: {command}: {stats}");
        }
    }
    Ok(())
}
