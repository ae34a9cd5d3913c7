//! The receiver: joins the group and prints every datagram as `[ID] text`.

use anyhow::{Context, bail};
use common::frame::Frame;
use common::output::bytes_waiting;
use multicast::{self, Interface};
use std::io::{ErrorKind, Write};
use std::net::IpAddr;
use std::time::Duration;

/// The receive buffer: larger than any UDP datagram (65,527 bytes of
/// payload at most), so no datagram is ever cut.
const BUFFER: usize = 64 * 1024;

/// What to listen to and for how long: the command line's options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The multicast group (224.0.0.0/4, or ff00::/8 for IPv6)
    #[arg(long, default_value = "224.1.1.1")]
    pub group: IpAddr,
    /// The UDP port (0: a free one, printed on stderr)
    #[arg(long, default_value_t = 5005)]
    pub port: u16,
    /// Interface to join on: one of its IPv4 addresses (127.0.0.1: loopback),
    /// or for an IPv6 group its name or index [default: the kernel's choice]
    #[arg(long, default_value = "any", value_name = "ADDR")]
    pub interface: Interface,
    /// Stop after N datagrams printed
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after S seconds without a datagram
    #[arg(long, value_parser = common::cli::seconds, value_name = "S")]
    pub timeout: Option<Duration>,
}

/// Receives until `count` datagrams are printed, `timeout` passes without
/// one, or an error; prints to `out`, notes to stderr.
///
/// A datagram shorter than the ID is reported on stderr and not counted;
/// any other is printed (`common::frame` says how odd bytes show) and
/// counted. Nothing a peer sends stops the receiver.
pub fn run(options: &Options, out: &mut impl Write) -> anyhow::Result<()> {
    let socket = multicast::joined_socket(options.group, options.port, options.interface)
        .context("setting up the multicast socket")?;
    let port = socket
        .local_addr()
        .context("reading the bound port")?
        .port();
    eprintln!(
        "part4_receiver: listening to {} port {port} on {}",
        options.group, options.interface
    );
    socket
        .set_read_timeout(options.timeout)
        .context("setting SO_RCVTIMEO")?;
    let mut buf = vec![0u8; BUFFER];
    let mut printed = 0u64;
    if options.count == Some(0) {
        return Ok(());
    }
    loop {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                out.flush().context("writing to stdout")?;
                let secs = options.timeout.unwrap_or_default().as_secs_f64();
                if let Some(count) = options.count {
                    bail!(
                        "waiting for datagrams: {printed} of {count} received, then nothing \
                         for {secs} s; is a sender or the TV channel sending to {} port {port}?",
                        options.group
                    );
                }
                eprintln!("part4_receiver: nothing for {secs} s; {printed} datagram(s) received");
                return Ok(());
            }
            Err(err) => return Err(err).context("receiving a datagram"),
        };
        match Frame::parse(&buf[..n]) {
            Ok(frame) => {
                writeln!(out, "{frame}").context("writing to stdout")?;
                printed += 1;
            }
            Err(short) => {
                out.flush().context("writing to stdout")?;
                eprintln!("part4_receiver: ignored a datagram from {from}: {short}");
            }
        }
        if options.count == Some(printed) {
            break;
        }
        // Flush when the queue is drained: a burst costs one write, and a
        // lone datagram shows at once.
        if bytes_waiting(&socket).unwrap_or(0) == 0 {
            out.flush().context("writing to stdout")?;
        }
    }
    out.flush().context("writing to stdout")?;
    Ok(())
}
