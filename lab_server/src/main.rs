//! `lab_server`: the lab's servers on this machine, so that every part runs
//! offline. Loopback only unless `--bind` says otherwise.
//!
//! ```text
//! lab_server [--bind ADDR]... [--tcp-port 5003] [--udp-port 5004]
//!            [--messages N] [--first-index 0] [--flood-bytes B] [--loss P]
//!            [--udp-family v4|v6|alternate:SECS] [--offset-sep =|:]
//!            [--only tcp,udp]
//! ```
//!
//! Runs until killed; one line per connection and request on stderr
//! (`--quiet` turns them off). See the library's documentation for what
//! each service does.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use lab_server::{Config, LabServer, OffsetSep, UdpFamily};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

/// A local stand-in for the lab's servers at tcpip.epfl.ch.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on; repeat for several [default: 127.0.0.1 and ::1]
    #[arg(long, value_name = "ADDR")]
    bind: Vec<IpAddr>,
    /// TCP PMU port (Part 2)
    #[arg(long, default_value_t = 5003)]
    tcp_port: u16,
    /// UDP reset port (Part 3)
    #[arg(long, default_value_t = 5004)]
    udp_port: u16,
    /// Messages sent for CMD_short
    #[arg(long, default_value_t = 10, value_name = "N")]
    messages: u64,
    /// Number of the first message (the course server counts from 0, the handout from 1)
    #[arg(long, default_value_t = 0, value_name = "I")]
    first_index: u64,
    /// Size of the CMD_floodme text, such as 57344, 100MiB or 1GiB
    #[arg(long, default_value = "56KiB", value_parser = common::cli::bytes, value_name = "B")]
    flood_bytes: u64,
    /// Probability that a RESET request is dropped, from 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = probability, value_name = "P")]
    loss: f64,
    /// Family of the UDP reset service: v4, v6 or alternate:SECS
    #[arg(long, default_value = "v4", value_name = "FAMILY")]
    udp_family: UdpFamily,
    /// Separator of the reset answer: '=' (OFFSET=X, the handout) or ':' (OFFSET:X, the course server)
    #[arg(long, default_value = ":", value_parser = offset_sep, value_name = "SEP")]
    offset_sep: OffsetSep,
    /// Run only these services
    #[arg(long, value_delimiter = ',', value_name = "SERVICES")]
    only: Vec<Service>,
    /// TCP connections served at once; more are closed on arrival
    #[arg(long, default_value_t = 256, value_name = "N")]
    max_connections: usize,
    /// Seconds a client may take to send its command
    #[arg(long, default_value = "10", value_parser = common::cli::seconds, value_name = "SECS")]
    read_timeout: Duration,
    /// Seconds a send may wait on a client that does not read
    #[arg(long, default_value = "30", value_parser = common::cli::seconds, value_name = "SECS")]
    write_timeout: Duration,
    /// No line per connection and request
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Service {
    /// The TCP PMU (Part 2)
    Tcp,
    /// The UDP reset service (Part 3)
    Udp,
}

fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "'{text}' is not a probability from 0 to 1 (such as 0.3)"
        )),
    }
}

fn offset_sep(text: &str) -> Result<OffsetSep, String> {
    match text {
        "=" => Ok(OffsetSep::Equals),
        ":" => Ok(OffsetSep::Colon),
        _ => Err(format!("'{text}' is not '=' or ':'")),
    }
}

fn main() -> ExitCode {
    common::cli::main("lab_server", run)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let wants = |service| cli.only.is_empty() || cli.only.contains(&service);
    let mut config = Config {
        tcp_port: wants(Service::Tcp).then_some(cli.tcp_port),
        udp_port: wants(Service::Udp).then_some(cli.udp_port),
        messages: cli.messages,
        first_index: cli.first_index,
        flood_bytes: cli.flood_bytes,
        loss: cli.loss,
        udp_family: cli.udp_family,
        offset_sep: cli.offset_sep,
        max_connections: cli.max_connections,
        read_timeout: cli.read_timeout,
        write_timeout: cli.write_timeout,
        log: !cli.quiet,
        ..Config::default()
    };
    if !cli.bind.is_empty() {
        config.bind = cli.bind;
    }
    usize::try_from(config.flood_bytes)
        .ok()
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| common::cli::usage("--flood-bytes is larger than this machine can hold"))?;
    let server = LabServer::start(config.clone())
        .context("starting the servers (another lab_server running? pick other ports with --tcp-port/--udp-port)")?;
    let list = |addrs: &[std::net::SocketAddr]| {
        addrs
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !server.tcp_addrs().is_empty() {
        eprintln!("lab_server: TCP PMU on {}", list(server.tcp_addrs()));
    }
    if !server.udp_addrs().is_empty() {
        eprintln!(
            "lab_server: UDP reset on {} ({:?}, loss {})",
            list(server.udp_addrs()),
            config.udp_family,
            config.loss
        );
    }
    if config.tcp_port.is_some() {
        // The first floodme would otherwise pay for building the text.
        let flood = server.flood();
        eprintln!("lab_server: floodme text ready, {} bytes", flood.len());
    }
    server.wait();
    Ok(())
}
