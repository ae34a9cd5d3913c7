//! `lab_server`: the lab's servers on this machine, so that every part runs
//! offline. Loopback only unless `--bind` says otherwise.
//!
//! ```text
//! lab_server [--bind ADDR]... [--tcp-port 5003] [--udp-port 5004]
//!            [--messages 20] [--first-index 0] [--flood-bytes B] [--loss 0.5]
//!            [--reset-n 20] [--udp-family alternate:10|v4|v6] [--offset-sep :|=]
//!            [--ws-port 5006] [--ws-text] [--mcast-group 224.1.1.1]
//!            [--mcast-port 5005] [--mcast-interface 127.0.0.1] [--mcast-ttl 1]
//!            [--tv-interval 1] [--only tcp,udp,mcast,ws]
//! ```
//!
//! Runs until killed; one line per connection and request on stderr
//! (`--quiet` turns them off). Its defaults are the course's servers' (see
//! the library's documentation for what each service does): 20 messages
//! from 0, an excerpt of *Hamlet* for `CMD_floodme`, `RESET:20` answered
//! with `OFFSET:X`, half the datagrams lost, IPv4 and IPv6 in turns of 10 s,
//! *Romeo and Juliet* on the TV channel.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use lab_server::{Config, Interface, LabServer, OffsetSep, UdpFamily, WsFrames};
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

/// A local stand-in for the lab's servers at tcpip.epfl.ch, with the course servers' behaviour by
/// default (every default below is theirs, but for the TV channel's TTL and interface).
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
    /// Messages sent for CMD_short (the course server sends 20)
    #[arg(long, default_value_t = 20, value_name = "N")]
    messages: u64,
    /// Number of the first message (the course server counts from 0, the handout from 1)
    #[arg(long, default_value_t = 0, value_name = "I")]
    first_index: u64,
    /// Size of the CMD_floodme text, an excerpt of Hamlet from "ACT I" repeated as needed, such as
    /// 1000, 100MiB or 1GiB [default: the excerpt, 57320 bytes]
    #[arg(long, value_parser = common::cli::bytes, value_name = "B")]
    flood_bytes: Option<u64>,
    /// Probability that a datagram to the UDP reset service is dropped, from 0 to 1
    #[arg(long, default_value_t = 0.5, value_parser = probability, value_name = "P")]
    loss: f64,
    /// The n of the only RESET:<n> the UDP reset service answers; anything else gets
    /// "Wrong command."
    #[arg(long, default_value_t = 20, value_name = "N")]
    reset_n: u32,
    /// Family of the UDP reset service: v4, v6, or alternate:SECS (IPv4 for SECS, then IPv6 for
    /// SECS, for ever; the family not serving has no socket bound, so its clients get "port
    /// unreachable")
    #[arg(long, default_value = "alternate:10", value_name = "FAMILY")]
    udp_family: UdpFamily,
    /// Separator of the reset answer: '=' (OFFSET=X, the handout) or ':' (OFFSET:X, the course server)
    #[arg(long, default_value = ":", value_parser = offset_sep, value_name = "SEP")]
    offset_sep: OffsetSep,
    /// WebSocket PMU port (Part 5)
    #[arg(long, default_value_t = 5006)]
    ws_port: u16,
    /// Send the WebSocket PMU's messages in text frames (the course server sends binary ones)
    #[arg(long)]
    ws_text: bool,
    /// The TV channel's multicast group (Part 4)
    #[arg(long, default_value = "224.1.1.1", value_name = "GROUP")]
    mcast_group: IpAddr,
    /// The TV channel's UDP port (it plays Romeo and Juliet, a line every --tv-interval, and answers
    /// opinions longer than 300 characters)
    #[arg(long, default_value_t = 5005)]
    mcast_port: u16,
    /// Interface of the TV channel: an IPv4 address of it, or for an IPv6 group its name or index
    /// (127.0.0.1: loopback, so that nothing leaves the machine; the course's bot sends on the
    /// campus network)
    #[arg(long, default_value = "127.0.0.1", value_name = "ADDR")]
    mcast_interface: Interface,
    /// The TV channel's IP_MULTICAST_TTL (0: this host only). 1, not the course bot's 10: with the
    /// loopback interface nothing leaves this machine, and on another interface the datagrams stay
    /// on the local link, never routed beyond it
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=255), value_name = "TTL")]
    mcast_ttl: u32,
    /// Seconds between two lines of the TV channel
    #[arg(long, default_value = "1", value_parser = common::cli::seconds, value_name = "SECS")]
    tv_interval: Duration,
    /// Run only these services
    #[arg(long, value_delimiter = ',', value_name = "SERVICES")]
    only: Vec<Service>,
    /// TCP connections per service; when all are taken, a newcomer replaces the oldest one still waiting for its command
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
    /// The multicast TV channel (Part 4)
    Mcast,
    /// The WebSocket PMU (Part 5)
    Ws,
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
        flood_bytes: cli.flood_bytes.unwrap_or(lab_server::HAMLET.len() as u64),
        loss: cli.loss,
        reset_n: cli.reset_n,
        udp_family: cli.udp_family,
        offset_sep: cli.offset_sep,
        max_connections: cli.max_connections,
        read_timeout: cli.read_timeout,
        write_timeout: cli.write_timeout,
        log: !cli.quiet,
        ws_port: wants(Service::Ws).then_some(cli.ws_port),
        ws_frames: if cli.ws_text {
            WsFrames::Text
        } else {
            WsFrames::Binary
        },
        mcast_group: cli.mcast_group,
        mcast_port: wants(Service::Mcast).then_some(cli.mcast_port),
        mcast_interface: cli.mcast_interface,
        mcast_ttl: cli.mcast_ttl,
        tv_interval: cli.tv_interval,
        ..Config::default()
    };
    if config.mcast_port.is_some() {
        multicast::check(config.mcast_group, config.mcast_interface)
            .map_err(|why| common::cli::usage(format!("--mcast-group/--mcast-interface: {why}")))?;
        if config.tv_interval.is_zero() {
            return Err(common::cli::usage(
                "--tv-interval must be more than 0 seconds",
            ));
        }
    }
    if !cli.bind.is_empty() {
        config.bind = cli.bind;
    }
    usize::try_from(config.flood_bytes)
        .ok()
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| common::cli::usage("--flood-bytes is larger than this machine can hold"))?;
    let server = LabServer::start(config.clone())
        .context("starting the servers (another lab_server running? pick other ports with --tcp-port/--udp-port/--ws-port, or fewer services with --only)")?;
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
            "lab_server: UDP reset on {} ({}, RESET:{}, loss {})",
            list(server.udp_addrs()),
            match config.udp_family {
                UdpFamily::V4 => "IPv4 only".to_string(),
                UdpFamily::V6 => "IPv6 only".to_string(),
                UdpFamily::Alternate(p) =>
                    format!("IPv4 and IPv6 in turns of {} s", p.as_secs_f64()),
            },
            config.reset_n,
            config.loss
        );
    }
    if !server.ws_addrs().is_empty() {
        eprintln!(
            "lab_server: WebSocket PMU on {} ({:?} frames)",
            list(server.ws_addrs()),
            config.ws_frames
        );
    }
    if let Some(group) = server.tv_group() {
        eprintln!(
            "lab_server: TV channel on {group} through {}, TTL {}, a line every {} s",
            config.mcast_interface,
            config.mcast_ttl,
            config.tv_interval.as_secs_f64()
        );
    }
    if config.tcp_port.is_some() || config.ws_port.is_some() {
        // The first floodme would otherwise pay for building the text.
        let flood = server.flood();
        eprintln!("lab_server: floodme text ready, {} bytes", flood.len());
    }
    server.wait();
    Ok(())
}
