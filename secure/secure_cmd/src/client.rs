//! The client: one mutual-TLS connection, the server verified against
//! `--ca` and its name, the greeting shown, then each command line sent as
//! one request and its output printed exactly.
//!
//! The choices where docs/SPEC.md is silent:
//! - The server's time on stderr (`secure_cmd: server time: …`,
//!   stdout is for the commands' output); outputs on stdout byte for byte;
//!   an `ERR` is one line `secure_cmd: error: LINE: reason` on stderr and
//!   counts as status 1, and the next command still runs; the exit status
//!   is the last command's (so 1 or 2 may be the command's own). Without
//!   COMMAND LINE, lines from stdin, with a `secure_cmd> ` prompt on
//!   stderr when stdin is a terminal, until end of file, `exit` or `quit`.
//!   The server's certificate must name `--host`; `--timeout` (30 s) is
//!   how long the client waits for a byte of an answer.

use crate::protocol::{self, Header, LineRead, printable};
use crate::say;
use anyhow::{Context, anyhow, bail};
use rustls::ClientConnection;
use rustls::pki_types::ServerName;
use std::fs::File;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tls_common::TlsSocket;
use tls_common::stream::TlsError;

/// The status a refused or failed command (`ERR`) gives: what a shell
/// gives for a command that fails.
pub const ERR_STATUS: u8 = 1;

/// How the client runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub host: String,
    pub port: u16,
    pub connect_timeout: Duration,
    /// How long to wait for a byte from the server.
    pub timeout: Duration,
    /// Empty: read command lines from stdin.
    pub commands: Vec<String>,
}

/// Connects, shows the server's time, runs every command (or those read
/// from stdin) and returns the last one's status.
pub fn run(options: Options) -> anyhow::Result<u8> {
    let provider = tls_common::config::provider();
    let roots = tls_common::load::load_roots(&options.ca)?;
    let identity = tls_common::load::load_identity(&options.cert, &options.key, &provider)?;
    let config = tls_common::config::client_config(roots, None, Some(&identity))
        .context("setting up TLS")?;
    let bare = options
        .host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(&options.host);
    let server_name = ServerName::try_from(bare.to_string()).map_err(|_| {
        common::cli::usage(format!(
            "'{}' is not a host name or IP address to check the certificate against",
            options.host
        ))
    })?;
    if let Some(path) = tls_common::config::key_log_path() {
        say(format_args!(
            "SSLKEYLOGFILE is set: TLS secrets go to {} (whoever has it can decrypt a capture)",
            path.display()
        ));
    }

    let (sock, addr) = common::addr::connect(&options.host, options.port, options.connect_timeout)?;
    let peer = format!("{} port {} ({addr})", options.host, options.port);
    // TCP_NODELAY: each request leaves in one write(); Nagle's algorithm
    // would hold one back behind the ACK of the previous bytes, which the
    // server may delay by 40 ms (`man 7 tcp`).
    sock.set_nodelay(true).context("setting TCP_NODELAY")?;
    let conn = ClientConnection::new(Arc::new(config), server_name).context("starting TLS")?;
    let mut tls = TlsSocket::new(conn, sock);
    tls.set_idle_timeout(Some(options.timeout));
    tls.set_write_timeout(Some(options.timeout))
        .context("setting SO_SNDTIMEO")?;
    tls.handshake()
        .map_err(|err| anyhow!("{err}"))
        .with_context(|| format!("TLS handshake with {peer}"))?;
    let mut session = Session {
        tls,
        peer,
        timeout: options.timeout,
        out: common::output::stdout().context("opening stdout")?,
    };
    let time = session.greeting()?;
    say(format_args!("server time: {time}"));

    let mut status = 0;
    if options.commands.is_empty() {
        status = session.interactive()?;
    } else {
        for command in &options.commands {
            status = session.request(command.as_bytes())?;
        }
    }
    session.tls.close_now();
    Ok(status)
}

/// A connection past its greeting.
struct Session {
    tls: TlsSocket,
    peer: String,
    timeout: Duration,
    out: BufWriter<File>,
}

impl Session {
    /// Reads the `TIME` line and returns the time as the server wrote it.
    fn greeting(&mut self) -> anyhow::Result<String> {
        let line = match protocol::read_line(&mut self.tls, protocol::MAX_HEADER_LINE) {
            Ok(LineRead::Line(line)) => line,
            Ok(LineRead::TooLong) => bail!(
                "{} sent a line over {} bytes where its greeting belongs: is it a secure_cmd \
                 server?",
                self.peer,
                protocol::MAX_HEADER_LINE
            ),
            Ok(LineRead::End { .. }) => bail!(
                "{} closed the connection before its greeting (is it at its connection limit, \
                 --max-connections?)",
                self.peer
            ),
            Err(err) => {
                // With TLS 1.3 the server checks our certificate after our
                // side of the handshake has ended: its refusal arrives
                // here, and is a handshake failure all the same.
                if let Some(tls @ TlsError::Tls { .. }) = TlsError::from_io(&err) {
                    bail!("TLS handshake with {}: {tls}", self.peer);
                }
                return Err(self.read_error(err, "reading the greeting"));
            }
        };
        protocol::parse_greeting(&line).with_context(|| {
            format!("the greeting of {}: is it a secure_cmd server?", self.peer)
        })?;
        let text = String::from_utf8_lossy(&line);
        Ok(text["TIME ".len()..].trim_end().to_string())
    }

    /// Reads command lines from stdin until end of file or `exit`; a
    /// `secure_cmd> ` prompt on stderr when stdin is a terminal.
    fn interactive(&mut self) -> anyhow::Result<u8> {
        let stdin = io::stdin();
        let prompt = stdin.is_terminal();
        let mut input = stdin.lock();
        let mut status = 0;
        loop {
            if prompt {
                let mut stderr = io::stderr();
                let _ = stderr.write_all(b"secure_cmd> ");
                let _ = stderr.flush();
            }
            let mut last = false;
            let line = match protocol::read_line(&mut input, protocol::MAX_REQUEST_LINE)
                .context("reading standard input")?
            {
                LineRead::Line(line) => line,
                // A last line without its newline is still a line typed.
                LineRead::End { partial } if !partial.is_empty() => {
                    last = true;
                    partial
                }
                LineRead::End { .. } => {
                    if prompt {
                        // Ctrl-D leaves the cursor after the prompt.
                        let _ = io::stderr().write_all(b"\n");
                    }
                    break;
                }
                LineRead::TooLong => {
                    say(format_args!(
                        "error: the line is longer than the {} bytes a request may have; not \
                         sent",
                        protocol::MAX_REQUEST_LINE
                    ));
                    status = ERR_STATUS;
                    continue;
                }
            };
            let words = String::from_utf8_lossy(&line);
            match words.trim() {
                "exit" | "quit" => break,
                "" => {}
                _ => status = self.request(&line)?,
            }
            if last {
                break;
            }
        }
        Ok(status)
    }

    /// Sends one request line and prints its answer: the output on stdout,
    /// exactly; an `ERR` as one error line on stderr. Returns the status.
    fn request(&mut self, line: &[u8]) -> anyhow::Result<u8> {
        let shown = printable(&String::from_utf8_lossy(line)).into_owned();
        let mut wire = Vec::with_capacity(line.len() + 1);
        wire.extend_from_slice(line);
        wire.push(b'\n');
        if let Err(err) = self.tls.write_all(&wire) {
            let why = match TlsError::from_io(&err) {
                Some(tls) => tls.to_string(),
                None => err.to_string(),
            };
            bail!("'{shown}': sending it to {}: {why}", self.peer);
        }
        let header = match protocol::read_line(&mut self.tls, protocol::MAX_HEADER_LINE) {
            Ok(LineRead::Line(header)) => header,
            Ok(LineRead::TooLong) => bail!(
                "'{shown}': the answer's first line is over {} bytes",
                protocol::MAX_HEADER_LINE
            ),
            Ok(LineRead::End { .. }) => bail!(
                "'{shown}': {} closed the connection without an answer (after its \
                 --idle-timeout?)",
                self.peer
            ),
            Err(err) => {
                return Err(self.read_error(err, "reading the answer"))
                    .with_context(|| format!("'{shown}'"));
            }
        };
        let header = protocol::parse_header(&header)
            .with_context(|| format!("'{shown}': a malformed answer from {}", self.peer))?;
        match header {
            Header::Ok { status, length } => {
                self.copy_output(length)
                    .with_context(|| format!("'{shown}'"))?;
                Ok(status)
            }
            Header::Err(reason) => {
                // Output printed so far stays before the error line.
                self.out.flush().context("writing to stdout")?;
                say(format_args!("error: {shown}: {}", printable(&reason)));
                Ok(ERR_STATUS)
            }
        }
    }

    /// Copies exactly `length` bytes of output to stdout as they arrive,
    /// without holding them (the server's cap is the server's).
    fn copy_output(&mut self, length: u64) -> anyhow::Result<()> {
        let mut left = length;
        while left > 0 {
            let chunk = match self.tls.fill_buf() {
                Ok(chunk) => chunk,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(self.read_error(err, "reading the output")),
            };
            if chunk.is_empty() {
                bail!(
                    "{} closed the connection after {} of the {length} bytes of output",
                    self.peer,
                    length - left
                );
            }
            let n = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.out
                .write_all(&chunk[..n])
                .context("writing to stdout")?;
            self.tls.consume(n);
            left -= n as u64;
            // Output reaches the screen as it arrives: flush whenever
            // nothing more is waiting, not only at the end.
            if left > 0
                && !self.tls.has_buffered_input()
                && common::output::bytes_waiting(self.tls.socket()).unwrap_or(0) == 0
            {
                self.out.flush().context("writing to stdout")?;
            }
        }
        self.out.flush().context("writing to stdout")
    }

    /// A failed read or write, in words: `what` is what was being done
    /// (`reading the answer`); a time-out says so, a TLS error is
    /// explained.
    fn read_error(&self, err: io::Error, what: &str) -> anyhow::Error {
        let peer = &self.peer;
        match TlsError::from_io(&err) {
            Some(TlsError::TimedOut { .. }) => anyhow!(
                "{what} from {peer}: nothing for {} s (--timeout)",
                self.timeout.as_secs_f64()
            ),
            Some(tls) => anyhow!("{what} from {peer}: {tls}"),
            None if err.kind() == io::ErrorKind::UnexpectedEof => {
                anyhow!("{what} from {peer}: the connection ended without close_notify")
            }
            None => anyhow::Error::new(err).context(format!("{what} ({peer})")),
        }
    }
}
