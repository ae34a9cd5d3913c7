//! One command, one WebSocket connection: connect (with time-outs), TLS for
//! `wss://`, the opening handshake, the command, the messages, the close.

use crate::frames::Tracked;
use crate::printer::Printer;
use crate::target::Target;
use anyhow::{Context, bail};
use common::Command;
use common::output::bytes_waiting;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tungstenite::error::{CapacityError, ProtocolError};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error as WsError, HandshakeError, Message, WebSocket};

/// How long past its interval a `CMD_short:<d>` waits for the next byte.
const SHORT_GRACE: Duration = Duration::from_secs(30);

/// tungstenite's read size: large enough that a flood costs few `recv()`
/// calls (1 GiB in 1024), small enough that an idle connection costs
/// little.
const READ_BUFFER: usize = 1 << 20;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    /// The TLS set-up, for `wss://`.
    pub tls: Option<Arc<ClientConfig>>,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_message_size: usize,
    pub max_frame_size: usize,
}

/// Standard output, flushed when the socket is drained.
pub type Output = BufWriter<File>;

/// What one command took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub messages: u64,
    pub bytes: u64,
    /// Whether the server ended with the close handshake, or just closed
    /// the TCP connection.
    pub close_handshake: bool,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} message(s) received, {} bytes, {}",
            self.messages,
            self.bytes,
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

/// Connects, sends `command`, prints the answer to `out` until the server
/// closes.
pub fn run_command(
    options: &Options,
    command: &Command,
    out: &mut Output,
) -> anyhow::Result<Stats> {
    let idle = match command {
        Command::Short { interval, .. } => options.idle_timeout.max(*interval + SHORT_GRACE),
        Command::Floodme => options.idle_timeout,
    };
    let mut ws = open(options, idle)?;
    ws.send(Message::text(command.to_string()))
        .with_context(|| format!("sending {command}"))?;

    let mut printer = Printer::new(command);
    let mut close_handshake = false;
    loop {
        let message = match ws.read() {
            Ok(message) => message,
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => break,
            // EOF without a close frame: the server is done all the same,
            // and every complete message has been printed; unless the end
            // came inside a frame, or between the fragments of a message:
            // a truncated answer, which must not pass for a whole one.
            Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                if ws.get_ref().in_the_middle() {
                    out.flush().ok();
                    return Err(cut_short(command));
                }
                break;
            }
            // The same over TLS without close_notify (which many servers,
            // Python's websockets among them, skip after the close
            // handshake).
            Err(WsError::Io(io)) if io.kind() == ErrorKind::UnexpectedEof => {
                if ws.get_ref().in_the_middle() {
                    out.flush().ok();
                    return Err(cut_short(command));
                }
                break;
            }
            Err(err) => {
                out.flush().ok();
                return Err(explain(err, command, idle, options));
            }
        };
        match message {
            Message::Text(text) => printer.message(text.as_bytes(), out),
            Message::Binary(bytes) => printer.message(&bytes, out),
            Message::Close(_) => {
                // tungstenite queued the answering close frame; the next
                // read sends it and returns ConnectionClosed once the
                // server closes the TCP connection.
                close_handshake = true;
                continue;
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
        }
        .context("writing to stdout")?;
        if bytes_waiting(ws.get_ref().inner().tcp()).unwrap_or(0) == 0 {
            out.flush().context("writing to stdout")?;
        }
    }
    printer.finish(out).context("writing to stdout")?;
    out.flush().context("writing to stdout")?;
    Ok(Stats {
        messages: printer.messages(),
        bytes: printer.bytes(),
        close_handshake,
    })
}

/// The answer ended inside a message (see `frames`).
fn cut_short(command: &Command) -> anyhow::Error {
    anyhow::anyhow!(
        "receiving {command}'s answer: the server closed the connection in the middle of a \
         message"
    )
}

/// The error of a failed read, said the way a user can act on it.
fn explain(err: WsError, command: &Command, idle: Duration, options: &Options) -> anyhow::Error {
    match err {
        WsError::Io(io) if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            anyhow::anyhow!(
                "waiting for {command}'s answer: nothing for {} s; the server is silent \
                 (raise --timeout for a slow server)",
                idle.as_secs_f64()
            )
        }
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => anyhow::anyhow!(
            "receiving {command}'s answer: a message or frame of {size} bytes is over the \
             limit of {max_size} bytes (raise --max-message-size, now {}, or --max-frame-size, \
             now {})",
            options.max_message_size,
            options.max_frame_size
        ),
        WsError::Io(io) => anyhow::Error::new(io).context(format!("receiving {command}'s answer")),
        err => anyhow::Error::new(err).context(format!("receiving {command}'s answer")),
    }
}

/// Connects to the first address of the host that answers, then TLS (for
/// `wss://`) and the WebSocket opening handshake.
fn open(options: &Options, idle: Duration) -> anyhow::Result<WebSocket<Tracked<Transport>>> {
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
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(options.max_message_size))
        .max_frame_size(Some(options.max_frame_size));
    let transport = Tracked::new(transport);
    match tungstenite::client::client_with_config(target.url.as_str(), transport, Some(config)) {
        Ok((ws, _response)) => Ok(ws),
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
