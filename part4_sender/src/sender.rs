//! The sender: one datagram `ID + text` per line of stdin, or `--message`.

use anyhow::{Context, anyhow, bail};
use common::frame::{Frame, ID_LEN, Id};
use multicast::{self, Interface};
use std::io::{BufRead, ErrorKind, IsTerminal};
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// The most a UDP datagram can carry over IPv4: 65535 minus the 20-byte IP
/// and 8-byte UDP headers (RFC 768, RFC 791).
const MAX_UDP_PAYLOAD_V4: usize = 65_507;

/// The most a UDP datagram can carry over IPv6 without jumbograms: the
/// 16-bit payload length counts the 8-byte UDP header but not the IPv6
/// header (RFC 8200 §3).
const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// Who sends, to which group, through which interface: the command
/// line's options.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The sender's ID: exactly 6 ASCII characters, such as a CAMIPRO number
    #[arg(long)]
    pub id: Id,
    /// The multicast group (224.0.0.0/4, or ff00::/8 for IPv6)
    #[arg(long, default_value = "224.1.1.1")]
    pub group: IpAddr,
    /// The UDP port
    #[arg(long, default_value_t = 5005)]
    pub port: u16,
    /// Interface to send through: one of its IPv4 addresses (127.0.0.1: loopback),
    /// or for an IPv6 group its name or index [default: the kernel's choice]
    #[arg(long, default_value = "any", value_name = "ADDR")]
    pub interface: Interface,
    /// Routers the datagrams may cross: 0 this host only, 1 the local network
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=255))]
    pub ttl: u32,
}

/// The longest text one datagram carries after the ID.
pub fn max_text(group: IpAddr) -> usize {
    let payload = match group {
        IpAddr::V4(_) => MAX_UDP_PAYLOAD_V4,
        IpAddr::V6(_) => MAX_UDP_PAYLOAD_V6,
    };
    payload - ID_LEN
}

/// An open sender.
#[derive(Debug)]
pub struct Sender {
    socket: UdpSocket,
    to: SocketAddr,
    id: Id,
    max_text: usize,
}

/// Why one text was not sent.
#[derive(Debug)]
pub enum SendError {
    /// The text does not fit in one datagram: the caller may go on.
    TooLong { len: usize, max: usize },
    /// The network refused the datagram.
    Io(std::io::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::TooLong { len, max } => write!(
                f,
                "{len} bytes do not fit in one UDP datagram (at most {max} bytes of text \
                 after the {ID_LEN}-byte ID)"
            ),
            SendError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for SendError {}

impl Sender {
    pub fn open(options: &Options) -> anyhow::Result<Sender> {
        let socket = multicast::sending_socket(options.group, options.interface, options.ttl)
            .context("setting up the multicast socket")?;
        Ok(Sender {
            socket,
            to: multicast::destination(options.group, options.port, options.interface),
            id: options.id,
            max_text: max_text(options.group),
        })
    }

    /// Sends `text` as one datagram.
    pub fn send(&self, text: &[u8]) -> Result<(), SendError> {
        if text.len() > self.max_text {
            return Err(SendError::TooLong {
                len: text.len(),
                max: self.max_text,
            });
        }
        let wire = Frame { id: self.id, text }.to_wire();
        match self.socket.send_to(&wire, self.to) {
            Ok(_) => Ok(()),
            // EMSGSIZE: a limit below the protocol's (a smaller buffer).
            Err(err) if err.raw_os_error() == Some(libc::EMSGSIZE) => Err(SendError::TooLong {
                len: text.len(),
                max: self.max_text,
            }),
            Err(err) => Err(SendError::Io(err)),
        }
    }

    pub fn destination(&self) -> SocketAddr {
        self.to
    }
}

/// Sends each line of `input` (without its line ending) as one datagram.
/// A line too long for a datagram is reported on stderr and skipped; the
/// run then ends with an error that counts them.
pub fn send_lines(sender: &Sender, mut input: impl BufRead) -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() {
        eprintln!(
            "part4_sender: each line goes to {} as one datagram from {}; Ctrl-D ends",
            sender.destination(),
            sender.id
        );
    }
    let mut line = Vec::new();
    let (mut number, mut refused) = (0u64, 0u64);
    loop {
        line.clear();
        match input.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::Interrupted => continue,
            Err(err) => return Err(err).context("reading stdin"),
        }
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        match sender.send(text) {
            Ok(()) => {}
            Err(err @ SendError::TooLong { .. }) => {
                refused += 1;
                eprintln!("part4_sender: error: line {number} not sent: {err}");
            }
            Err(SendError::Io(err)) => {
                return Err(err).with_context(|| format!("sending line {number} to {}", sender.to));
            }
        }
    }
    if refused > 0 {
        bail!("{refused} of {number} line(s) were too long and not sent");
    }
    Ok(())
}

/// Sends one `--message`.
pub fn send_message(sender: &Sender, message: &str) -> anyhow::Result<()> {
    sender
        .send(message.as_bytes())
        .map_err(|err| anyhow!(err))
        .with_context(|| format!("sending the message to {}", sender.to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_text_fits_the_largest_datagram() {
        assert_eq!(max_text("224.1.1.1".parse().unwrap()), 65_501);
        assert_eq!(max_text("ff02::1".parse().unwrap()), 65_521);
    }
}
