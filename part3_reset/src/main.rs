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
//!
//! # Design
//! - **Both families on every attempt.** The course server listens on IPv4
//!   or on IPv6, never both, and which one changes over the day, so every
//!   attempt goes to every address the host resolves to (every A and AAAA
//!   record, see [`common::addr::resolve`]). `-4` / `-6` restrict to one
//!   family.
//! - **One UDP socket per family**, not connected, `send_to` each address:
//!   an `AF_INET` socket and an `AF_INET6` socket with `IPV6_V6ONLY` on
//!   (`man 7 ipv6`). A host without IPv6 then simply has no IPv6 socket (its
//!   creation or its sends fail, a one-time warning on stderr, and the
//!   client goes on over IPv4); a single dual-stack socket would need that
//!   very fallback anyway. Only when no address at all can be sent to is it
//!   an error. Not connecting lets one socket reach several addresses, and
//!   keeps ICMP "port unreachable" from the family the server is not
//!   listening on out of our way (Linux reports ICMP errors only to
//!   connected UDP sockets).
//! - **Blocking reads in threads.** The lab asks for blocking sockets. One
//!   reader thread per socket blocks in `recv_from` and forwards every
//!   datagram over a channel; the main thread waits on the channel with
//!   `recv_timeout` until the attempt's deadline, so a reply is acted on as
//!   soon as it arrives, with no polling and no sleeping. The readers are
//!   scoped threads, woken at the end of a run by `shutdown(SHUT_RD)`
//!   (`man 2 shutdown`), which on Linux wakes a `recv` blocked on a UDP
//!   socket even when it is not connected.
//! - **Only the server's answer counts.** A datagram counts only if it comes
//!   from one of the addresses we sent to (address and port, v4-mapped
//!   addresses unmapped) and is `OFFSET=X` or `OFFSET:X` with `0 <= X <= n`.
//!   Anything else (another sender, `Wrong command.`, garbage, X > n) is
//!   ignored, noted on stderr with `-v`. ICMP errors surfacing as
//!   `ECONNREFUSED` or `ECONNRESET` never stop the client.
//! - **Fresh sockets per run.** UDP has no way to tell a late reply to the
//!   previous run from an answer to this one, so each run uses new sockets,
//!   bound before the previous run's are closed: the kernel cannot give the
//!   new sockets an old port, and a late reply lands on a socket nobody
//!   reads.
//! - **Loss estimate** (the lab's question on how lossy the server is): if
//!   each attempt is dropped independently with probability p, the attempts
//!   a run needs are geometric with mean 1/(1-p), so with A attempts over N
//!   runs p is estimated as 1 - N/A. An attempt counts once, whichever
//!   families it was sent on: the loss is that of the family that answered.

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
