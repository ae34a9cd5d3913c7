//! One command, one WebSocket connection: connect (with time-outs), TLS for
//! `wss://`, the opening handshake (tungstenite), the command, the
//! messages streamed frame by frame (`frames`) through the receive loop
//! that parts 2 and 6 share (`pdc::receive`), the close. On Linux a
//! flood's long binary frames over plain TCP go socket → pipe → stdout
//! with `splice(2)` when stdout is not a terminal (`Source::direct`).

use crate::frames::{Frames, Limits, Piece, UntilBlankLine};
use crate::target::Target;
use anyhow::{Context, bail};
use common::Command;
use common::output::bytes_waiting;
use pdc::print::{Framing, Output};
use pdc::receive::{Event, Source, Stats};
#[cfg(target_os = "linux")]
use pdc::splice::{Failed, Mover};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tungstenite::{Error as WsError, HandshakeError};

/// How long past its interval a `CMD_short:<d>` waits for the next byte.
const SHORT_GRACE: Duration = Duration::from_secs(30);

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    /// The TLS set-up, for `wss://`.
    pub tls: Option<Arc<ClientConfig>>,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub limits: Limits,
}

/// What one command took, as `--stats` says it: messages, as the
/// handout's question about `on_message` asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub stats: Stats,
    /// Whether the server ended with the close handshake, or just closed
    /// the TCP connection.
    pub close_handshake: bool,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} message(s) received, {} bytes, {}",
            self.stats.messages,
            self.stats.bytes,
            if self.close_handshake {
                "closed with the close handshake"
            } else {
                "closed by the server without a close handshake"
            }
        )
    }
}

/// The trust anchors for `wss://`: the certificates of `ca` (PEM), or the
/// system's CA store.
pub fn tls_config(ca: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading the CA file {}", path.display()))?;
            for cert in certs {
                let cert =
                    cert.with_context(|| format!("reading the CA file {}", path.display()))?;
                roots.add(cert).with_context(|| {
                    format!("using a certificate of {} as a CA", path.display())
                })?;
            }
            if roots.is_empty() {
                bail!(
                    "reading the CA file {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                    path.display()
                );
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                bail!("no trusted CA certificate found on this system; give one with --ca FILE");
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The byte stream under the WebSocket: plain TCP, or TLS over TCP.
#[derive(Debug)]
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(tls) => tls.get_ref(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.read(buf),
            Transport::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(tcp) => tcp.write(buf),
            Transport::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(tcp) => tcp.flush(),
            Transport::Tls(tls) => tls.flush(),
        }
    }
}

impl Source for Frames<Transport> {
    const FRAMING: Framing = Framing::Messages;

    fn next(&mut self) -> io::Result<Event<'_>> {
        Ok(match Frames::next(self)? {
            Piece::Data(data) => Event::Data(data),
            Piece::EndOfMessage => Event::EndOfMessage,
            Piece::End => Event::End,
        })
    }

    fn drained(&mut self) -> bool {
        !self.buffered() && bytes_waiting(self.get_ref().tcp()).unwrap_or(0) == 0
    }

    fn recv_calls(&self) -> u64 {
        Frames::recv_calls(self)
    }

    fn direct(&self) -> u64 {
        match self.get_ref() {
            Transport::Plain(_) => Frames::direct(self),
            Transport::Tls(_) => 0,
        }
    }

    #[cfg(target_os = "linux")]
    fn move_direct(
        &mut self,
        mover: &mut Mover,
        out: &std::fs::File,
        len: u64,
    ) -> Result<u64, Failed> {
        use std::os::fd::AsFd;
        let Transport::Plain(tcp) = self.get_ref() else {
            return Ok(0);
        };
        let calls = mover.calls;
        let moved = mover.transfer(tcp.as_fd(), out, len)?;
        self.moved(moved, mover.calls - calls);
        Ok(moved)
    }
}

/// Connects, sends `command`, prints the answer to `out` until the server
/// closes.
pub fn run_command(
    options: &Options,
    command: &Command,
    out: &mut Output,
) -> anyhow::Result<Report> {
    let idle = match command {
        Command::Short { interval, .. } => options.idle_timeout.max(*interval + SHORT_GRACE),
        Command::Floodme => options.idle_timeout,
    };
    let mut frames = open(options, idle)?;
    frames
        .send_text(&command.to_string())
        .with_context(|| format!("sending {command}"))?;
    let stats = pdc::receive::receive(&mut frames, command, idle, "", out)?;
    Ok(Report {
        stats,
        close_handshake: frames.close_handshake,
    })
}

/// Connects to the first address of the host that answers, then TLS (for
/// `wss://`) and the WebSocket opening handshake.
fn open(options: &Options, idle: Duration) -> anyhow::Result<Frames<Transport>> {
    let target = &options.target;
    let (tcp, _) = common::addr::connect(&target.host, target.port, options.connect_timeout)?;
    tcp.set_read_timeout(Some(idle))
        .context("setting SO_RCVTIMEO")?;
    tcp.set_write_timeout(Some(idle))
        .context("setting SO_SNDTIMEO")?;
    // TCP_NODELAY: the command is one small frame; send it now, not after
    // Nagle's delay.
    tcp.set_nodelay(true).context("setting TCP_NODELAY")?;
    let transport = match &options.tls {
        None => Transport::Plain(tcp),
        Some(config) => {
            let name = ServerName::try_from(target.host.clone())
                .with_context(|| format!("'{}' is not a valid TLS server name", target.host))?;
            let conn = ClientConnection::new(config.clone(), name).context("setting up TLS")?;
            Transport::Tls(Box::new(StreamOwned::new(conn, tcp)))
        }
    };
    let transport = UntilBlankLine::new(transport);
    match tungstenite::client::client(target.url.as_str(), transport) {
        Ok((ws, _response)) => {
            let (transport, read_ahead) = ws.into_inner().into_parts();
            Ok(Frames::new(transport, &read_ahead, options.limits))
        }
        Err(HandshakeError::Failure(err)) => {
            let why = match err {
                WsError::Http(response) => anyhow::anyhow!(
                    "the server answered HTTP {} instead of switching to WebSocket; \
                     is this the PMU's WebSocket URL?",
                    response.status()
                ),
                WsError::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    anyhow::anyhow!("no answer for {} s", idle.as_secs_f64())
                }
                WsError::Io(io) if io.kind() == ErrorKind::UnexpectedEof && target.secure => {
                    anyhow::Error::new(io).context("the server closed the connection during the TLS handshake (does it speak TLS on this port?)")
                }
                WsError::Io(io) => anyhow::Error::new(io),
                err => anyhow::Error::new(err),
            };
            Err(why.context(format!("WebSocket handshake with {}", target.url)))
        }
        Err(HandshakeError::Interrupted(_)) => bail!(
            "WebSocket handshake with {}: no answer for {} s",
            target.url,
            idle.as_secs_f64()
        ),
    }
}
