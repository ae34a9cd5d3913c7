//! The TLS PMU client: one connection per command, the server verified
//! against `--ca` and its name, the answer printed as `part2_pdc` prints it.
//!
//! It verifies the server against `--ca` and checks its name (the
//! host, or `--servername`); prints each `CMD_short` message on its own
//! line as soon as it is complete, the flood byte for byte; flushes when
//! neither rustls nor the socket holds anything more; explains a refused
//! certificate in plain words.
//!
//! - The name checked is `--servername`, else `--host`; every
//!   address of the host is tried in turn (`localhost`: `::1`, then
//!   `127.0.0.1`); a server that closes without close_notify (Python's
//!   `ssl` on `close()`) has ended its answer all the same (`-v` says so);
//!   the commands of one call resume the first one's TLS session (`-v`
//!   shows it). `--stats`, `--timeout`, `--connect-timeout` as `part2_pdc`;
//!   `--tls-version` as the server.

use crate::say;
use anyhow::Context;
use common::Command;
use common::output::bytes_waiting;
use pdc::print::{Framing, Output};
use pdc::receive::{Event, Source};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use std::fmt;
use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tls_common::stream::TlsError;
use tls_common::{HandshakeReport, TlsSocket, TlsVersion};

/// How long past its interval a `CMD_short:<d>` waits for the next byte.
const SHORT_GRACE: Duration = Duration::from_secs(30);

/// How the client runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub ca: PathBuf,
    pub host: String,
    pub port: u16,
    pub servername: Option<String>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub tls_version: Option<TlsVersion>,
    pub stats: bool,
    pub verbose: bool,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub commands: Vec<Command>,
}

/// What one command took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stats {
    recv_calls: u64,
    tls_bytes: u64,
    bytes: u64,
    messages: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recv() calls with data, {} bytes, {} message(s) ({} bytes of TLS records)",
            self.recv_calls, self.bytes, self.messages, self.tls_bytes
        )
    }
}

/// Everything a connection needs, set up once for every command.
struct Client {
    options: Options,
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

/// Runs every command in order, one connection each.
pub fn run(options: Options) -> anyhow::Result<()> {
    let provider = tls_common::config::provider();
    let roots = tls_common::load::load_roots(&options.ca)?;
    let identity = match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => Some(tls_common::load::load_identity(cert, key, &provider)?),
        _ => None,
    };
    let config = tls_common::config::client_config(roots, options.tls_version, identity.as_ref())
        .context("setting up TLS")?;
    let name = options.servername.as_deref().unwrap_or(&options.host);
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let server_name = ServerName::try_from(bare.to_string()).map_err(|_| {
        common::cli::usage(format!(
            "'{name}' is not a host name or IP address to check the certificate against"
        ))
    })?;
    if let Some(path) = tls_common::config::key_log_path() {
        say(format_args!(
            "SSLKEYLOGFILE is set: TLS secrets go to {} (whoever has it can decrypt a capture)",
            path.display()
        ));
    }
    let client = Client {
        options,
        config: Arc::new(config),
        server_name,
    };
    let mut out = Output::stdout().context("opening stdout")?;
    for command in &client.options.commands {
        let stats = client.run_command(command, &mut out)?;
        if client.options.stats {
            say(format_args!("{command}: {stats}"));
        }
    }
    Ok(())
}

impl Client {
    /// Connects, verifies, sends `command`, prints the answer until the
    /// server closes.
    fn run_command(&self, command: &Command, out: &mut Output) -> anyhow::Result<Stats> {
        let options = &self.options;
        let (sock, addr) =
            common::addr::connect(&options.host, options.port, options.connect_timeout)?;
        let conn = ClientConnection::new(self.config.clone(), self.server_name.clone())
            .context("starting TLS")?;
        let mut tls = TlsSocket::new(conn, sock);
        let idle = match command {
            Command::Short { interval, .. } => options.idle_timeout.max(*interval + SHORT_GRACE),
            Command::Floodme => options.idle_timeout,
        };
        tls.set_idle_timeout(Some(options.idle_timeout));
        tls.set_write_timeout(Some(options.idle_timeout))
            .context("setting SO_SNDTIMEO")?;
        let peer = format!("{} port {} ({addr})", options.host, options.port);
        tls.handshake()
            .map_err(|err| anyhow::anyhow!("{err}"))
            .with_context(|| format!("TLS handshake with {peer}"))?;
        if options.verbose {
            say(format_args!(
                "connected to {peer}, certificate checked for '{}'",
                self.server_name.to_str()
            ));
            for line in HandshakeReport::of(tls.conn(), tls.side()).lines() {
                say(format_args!("{line}"));
            }
        }
        tls.set_idle_timeout(Some(idle));
        if let Err(err) = tls.write_all(&command.to_wire()) {
            // In TLS 1.3 a server checks a client certificate after the
            // client's handshake has ended: its refusal, an alert, may be
            // waiting to be read behind the reset that failed this write.
            let mut probe = [0u8; 1];
            if let Err(read_err) = tls.read(&mut probe)
                && TlsError::from_io(&read_err).is_some_and(|e| matches!(e, TlsError::Tls { .. }))
            {
                return Err(flatten(read_err))
                    .with_context(|| format!("sending {command} to {peer}"));
            }
            return Err(err).with_context(|| format!("sending {command} to {peer}"));
        }

        let mut source = TlsSource {
            tls: &mut tls,
            consumed: 0,
            verbose: options.verbose,
        };
        let answer =
            pdc::receive::receive(&mut source, command, idle, &format!(" from {peer}"), out)?;
        let stats = Stats {
            recv_calls: tls.recv_calls(),
            tls_bytes: tls.bytes_received(),
            bytes: answer.bytes,
            messages: answer.messages,
        };
        tls.close_now();
        Ok(stats)
    }
}

/// The decrypted stream as the shared receive loop reads it: each record's
/// plaintext handed over where rustls holds it, not copied.
struct TlsSource<'a> {
    tls: &'a mut TlsSocket,
    /// Bytes handed over by the last `next`, consumed at the next call.
    consumed: usize,
    verbose: bool,
}

impl Source for TlsSource<'_> {
    const FRAMING: Framing = Framing::Stream;

    fn next(&mut self) -> io::Result<Event<'_>> {
        self.tls.consume(std::mem::take(&mut self.consumed));
        match self.tls.fill_buf() {
            Ok([]) => Ok(Event::End),
            Ok(chunk) => {
                self.consumed = chunk.len();
                Ok(Event::Data(chunk))
            }
            Err(err) if err.kind() == ErrorKind::UnexpectedEof => {
                // Python's ssl server (the course's) closes without
                // close_notify: the end of the answer all the same.
                if self.verbose {
                    say(format_args!(
                        "the server closed without close_notify (a truncated answer \
                         could not be told apart)"
                    ));
                }
                Ok(Event::End)
            }
            Err(err) => Err(match TlsError::from_io(&err) {
                Some(TlsError::TimedOut { .. }) => ErrorKind::TimedOut.into(),
                // The TLS error alone, so that the one-line report does not
                // say it twice.
                Some(tls) => io::Error::new(err.kind(), tls.to_string()),
                None => err,
            }),
        }
    }

    fn drained(&mut self) -> bool {
        // Nothing left in rustls or in our buffer, and nothing in the
        // socket's receive queue: the next read would block.
        self.tls.consume(std::mem::take(&mut self.consumed));
        !self.tls.has_buffered_input() && bytes_waiting(self.tls.socket()).unwrap_or(0) == 0
    }

    fn recv_calls(&self) -> u64 {
        self.tls.recv_calls()
    }
}

/// An io::Error carrying a [`TlsError`] as that error alone, so that the
/// one-line report does not say it twice.
fn flatten(err: io::Error) -> anyhow::Error {
    match TlsError::from_io(&err) {
        Some(tls) => anyhow::anyhow!("{tls}"),
        None => err.into(),
    }
}
