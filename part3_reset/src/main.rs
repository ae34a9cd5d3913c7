//! Part 3 of the lab: asks the UDP reset server for an offset. The client
//! sends `RESET:<n>` over IPv4 and IPv6 at once, retransmits until a valid
//! `OFFSET=X` (or `OFFSET:X`) arrives from the server's address, and prints
//! which family answered, from where, when, and after how many attempts.
//! With `--runs N` it repeats the exchange and estimates the server's loss
//! probability.
//!
//! ```text
//! part3_reset [--host tcpip.epfl.ch] [--port 5004] [--reset 20] [--timeout 1]
//!             [--max-tries N] [--runs N] [-4 | -6] [-v]
//! ```
//!
//! On success, one line per run on stdout:
//! `OFFSET=<X> over IPv4|IPv6 from <addr> at <RFC 3339 local time> after <k> attempt(s)`,
//! and with `--runs` one summary line,
//! `runs: N, attempts: A, mean attempts per ack: M, estimated loss probability: P`.

#![forbid(unsafe_code)]

mod client;
mod report;

use anyhow::bail;
use clap::Parser;
use common::Family;
use common::reset::Reset;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::client::{Client, Settings};
use crate::report::Summary;

/// Asks the lab's UDP reset server for an offset, over IPv4 and IPv6 at once.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server's host name or address.
    #[arg(long, default_value = "tcpip.epfl.ch")]
    host: String,

    /// The server's UDP port.
    #[arg(long, default_value_t = 5004, value_parser = clap::value_parser!(u16).range(1..))]
    port: u16,

    /// n in `RESET:<n>`: the server answers with an offset 0 <= X <= n.
    #[arg(long, default_value_t = 20)]
    reset: u32,

    /// Seconds to wait for a reply before sending again (decimals allowed).
    #[arg(long, default_value = "1", value_parser = common::cli::positive_seconds)]
    timeout: Duration,

    /// Attempts per run before giving up (default: retry for ever).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_tries: Option<u32>,

    /// Repeat the exchange N times and print a summary with the estimated
    /// loss probability.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    runs: Option<u32>,

    /// IPv4 only.
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    ipv4: bool,

    /// IPv6 only.
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,

    /// Notes on stderr: each attempt, each ignored datagram.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    common::cli::main("part3_reset", run)
}

fn run(args: Args) -> anyhow::Result<()> {
    let only = match (args.ipv4, args.ipv6) {
        (true, _) => Some(Family::V4),
        (_, true) => Some(Family::V6),
        _ => None,
    };
    let mut servers = common::resolve(&args.host, args.port)?;
    if let Some(family) = only {
        servers.retain(|addr| Family::of(addr) == family);
        if servers.is_empty() {
            bail!(
                "host '{}' has no {family} address; drop -4/-6 to use the other family",
                args.host
            );
        }
    }
    let mut client = Client::new(Settings {
        host: args.host,
        servers,
        reset: Reset(args.reset),
        timeout: args.timeout,
        max_tries: args.max_tries,
        verbose: args.verbose,
    });
    let mut stdout = std::io::stdout().lock();
    let mut summary = Summary::default();
    for _ in 0..args.runs.unwrap_or(1) {
        let ack = client.exchange()?;
        summary.add(&ack);
        writeln!(stdout, "{ack}")?;
        // One line per run, on the screen as soon as the run ends.
        stdout.flush()?;
    }
    if args.runs.is_some() {
        writeln!(stdout, "{summary}")?;
        stdout.flush()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn timeout_must_be_positive() {
        assert_eq!(
            common::cli::positive_seconds("0.2"),
            Ok(Duration::from_millis(200))
        );
        assert!(common::cli::positive_seconds("0").is_err());
        assert!(common::cli::positive_seconds("-1").is_err());
        assert!(common::cli::positive_seconds("soon").is_err());
    }
}
