//! The server: listeners, a thread per connection under a cap, mutual TLS,
//! the greeting, then one allow-listed command per request line.

use crate::exec::{self, Limits, Outcome};
use crate::log::Log;
use crate::protocol::{self, BadRequest, Header, LineRead, Request, printable};
use crate::say;
use anyhow::Context;
use common::server::{ConnectionLimit, Event};
use rustls::{ServerConfig, ServerConnection};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls_common::stream::TlsError;
use tls_common::{ClientAuth, HandshakeReport, TlsSocket};

/// Commands allowed without `--allow`: they report on the machine and
/// change nothing when run by an ordinary user. (As root, `date -s` and
/// `hostname NAME` would set the clock and the name: the server warns.)
pub const DEFAULT_ALLOWED: [&str; 9] = [
    "date", "uptime", "whoami", "hostname", "uname", "echo", "ls", "pwd", "df",
];

/// How long the server reads what a client still sends after close_notify.
const LINGER: Duration = Duration::from_secs(1);

/// `SO_SNDTIMEO`: a client that stops reading an answer for this long is
/// dropped, so that it holds its thread no longer.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes asked of each `recv()`: two TLS records; clients send short lines.
const RECV_BUFFER: usize = 32 * 1024;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
    /// Empty: `0.0.0.0:15001` and `[::]:15001`.
    pub listen: Vec<SocketAddr>,
    pub allow_cn: Vec<String>,
    /// Commands allowed besides [`DEFAULT_ALLOWED`].
    pub allow: Vec<String>,
    pub log: PathBuf,
    pub limits: Limits,
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub verbose: bool,
}

/// What every connection thread shares.
#[derive(Debug)]
struct Shared {
    config: Arc<ServerConfig>,
    allowed: BTreeSet<String>,
    log: Log,
    options: Options,
}

/// Checks the certificates, opens the log, listens, and serves until
/// killed.
pub fn run(options: Options) -> anyhow::Result<()> {
    let provider = tls_common::config::provider();
    let identity = tls_common::load::load_identity(&options.cert, &options.key, &provider)?;
    let client_auth = ClientAuth {
        roots: tls_common::load::load_roots(&options.client_ca)?,
        allowed_cns: options.allow_cn.clone(),
    };
    let config = tls_common::config::server_config(&identity, None, Some(client_auth))
        .context("setting up TLS")?;
    let log = Log::open(&options.log, options.verbose)?;
    let listeners = bind(&options.listen)?;

    let allowed: BTreeSet<String> = DEFAULT_ALLOWED
        .iter()
        .map(|s| s.to_string())
        .chain(options.allow.iter().cloned())
        .collect();
    say(format_args!("certificate: {}", identity.leaf));
    say(format_args!(
        "mutual TLS 1.2 and 1.3: client certificates from {}{}",
        options.client_ca.display(),
        if options.allow_cn.is_empty() {
            String::new()
        } else {
            format!(" with CN {}", options.allow_cn.join(" or "))
        }
    ));
    say(format_args!(
        "commands allowed: {}; each for at most {} s and {} bytes of output",
        join(&allowed),
        options.limits.timeout.as_secs_f64(),
        options.limits.output_cap
    ));
    say(format_args!("log: {}", log.path().display()));
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    #[cfg(unix)]
    if unsafe { libc::geteuid() } == 0 {
        say(format_args!(
            "warning: running as root: every client may run the allowed commands as root \
             (date -s and hostname NAME change the clock and the host name); run the server \
             as an unprivileged user"
        ));
    }
    if let Some(path) = tls_common::config::key_log_path() {
        say(format_args!(
            "SSLKEYLOGFILE is set: TLS secrets go to {} (whoever has it can decrypt a capture)",
            path.display()
        ));
    }
    let mut addrs = Vec::new();
    for listener in &listeners {
        addrs.push(listener.local_addr()?.to_string());
    }
    log.line(
        "-",
        format_args!(
            "started: listening on {}; client CA {}; CN {}; commands {}",
            addrs.join(" and "),
            options.client_ca.display(),
            if options.allow_cn.is_empty() {
                "any".to_string()
            } else {
                options.allow_cn.join(",")
            },
            join(&allowed)
        ),
    );
    let shared = Arc::new(Shared {
        config: Arc::new(config),
        allowed,
        log,
        options,
    });
    // One cap for every listener.
    let limit = ConnectionLimit::new(shared.options.max_connections);
    // Printed last: whoever reads it knows the server is ready, and which
    // port port 0 became.
    for addr in &addrs {
        say(format_args!("listening on {addr}"));
    }
    let mut threads = Vec::new();
    for listener in listeners {
        let (shared, limit) = (shared.clone(), limit.clone());
        threads.push(
            std::thread::Builder::new()
                .name("accept".into())
                .spawn(move || accept_loop(listener, &limit, shared))
                .context("starting the accept thread")?,
        );
    }
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds every `--listen` address; with none, `0.0.0.0:15001` and
/// `[::]:15001`, where a host without IPv6 keeps the IPv4 listener.
fn bind(listen: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    common::server::bind_listeners(listen, protocol::DEFAULT_PORT, |err| {
        say(format_args!("no IPv6 listener ({err}); serving IPv4 only"))
    })
    .map_err(|(addr, err)| bind_error(addr, err))
}

fn bind_error(addr: SocketAddr, err: io::Error) -> anyhow::Error {
    let hint = if err.kind() == io::ErrorKind::AddrInUse {
        "; another server has that port: stop it, or choose another with --listen ADDR:PORT"
    } else {
        "; check the address (--listen ADDR:PORT, such as 127.0.0.1:15001 or [::1]:15001)"
    };
    anyhow::anyhow!("cannot listen on {addr}: {err}{hint}")
}

/// Accepts for ever (`common::server::accept_loop`); a connection over
/// the cap is logged and closed at once, so that a crowd of clients
/// exhausts neither threads nor descriptors.
fn accept_loop(listener: TcpListener, limit: &ConnectionLimit, shared: Arc<Shared>) {
    let log = shared.clone();
    common::server::accept_loop(
        &listener,
        limit,
        "secure_cmd",
        || false,
        |event| match event {
            Event::AcceptFailed(err) => log.log.line("-", format_args!("accept failed: {err}")),
            Event::OverCap { peer, max } => log.log.line(
                &peer.to_string(),
                format_args!("refused: {max} connections already (--max-connections)"),
            ),
            Event::NoThread { peer, error } => log.log.line(
                &peer.to_string(),
                format_args!("no thread to serve it: {error}"),
            ),
        },
        move |stream, peer| Connection::new(peer, &shared).serve(stream),
    );
}

/// One client connection.
struct Connection<'a> {
    peer: String,
    shared: &'a Shared,
    /// Request lines answered.
    requests: u64,
}

impl<'a> Connection<'a> {
    fn new(peer: SocketAddr, shared: &'a Shared) -> Connection<'a> {
        Connection {
            peer: peer.to_string(),
            shared,
            requests: 0,
        }
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        self.shared.log.line(&self.peer, what);
    }

    /// From handshake to close; every outcome is logged.
    fn serve(mut self, stream: TcpStream) {
        let accepted = Instant::now();
        let options = &self.shared.options;
        let conn = match ServerConnection::new(self.shared.config.clone()) {
            Ok(conn) => conn,
            Err(err) => return self.log(format_args!("TLS set-up failed: {err}")),
        };
        // TCP_NODELAY: every message leaves in one write() already, and
        // with Nagle's algorithm the greeting, written just after the TLS
        // 1.3 session tickets, would wait for their ACK, which the client
        // delays by 40 ms (delayed ACK, `man 7 tcp`): 40 ms added to every
        // connection.
        if let Err(err) = stream.set_nodelay(true) {
            return self.log(format_args!("setting TCP_NODELAY: {err}"));
        }
        let mut tls = TlsSocket::with_recv_buffer(conn, stream, RECV_BUFFER);
        // The handshake must end within the time-out however slowly its
        // bytes come: a silent or half-open client holds its own thread
        // that long, never another's.
        tls.set_deadline(accepted.checked_add(options.handshake_timeout));
        if let Err(err) = tls.set_write_timeout(Some(SEND_TIMEOUT)) {
            return self.log(format_args!("setting SO_SNDTIMEO: {err}"));
        }
        if let Err(err) = tls.handshake() {
            return match err {
                TlsError::TimedOut { .. } => self.log(format_args!(
                    "handshake failed: none within {} s (--handshake-timeout); closed",
                    options.handshake_timeout.as_secs_f64()
                )),
                TlsError::Tls { .. } => {
                    self.log(format_args!(
                        "handshake failed: {}",
                        printable(&err.to_string())
                    ));
                    // Drains, so that the alert reaches the client.
                    tls.abort(LINGER);
                }
                err => self.log(format_args!(
                    "handshake failed: {}",
                    printable(&err.to_string())
                )),
            };
        }
        let report = HandshakeReport::of(tls.conn(), tls.side());
        let cn = match &report.peer {
            Some(cert) if !cert.common_names.is_empty() => cert
                .common_names
                .iter()
                .map(|cn| printable(cn).into_owned())
                .collect::<Vec<_>>()
                .join("+"),
            _ => "(none)".to_string(),
        };
        self.log(format_args!(
            "connected: client CN={cn}, {}, {}{}",
            report.version,
            report.suite,
            report
                .group
                .as_deref()
                .map(|g| format!(", key exchange {g}"))
                .unwrap_or_default()
        ));
        tls.set_deadline(None);
        tls.set_idle_timeout(Some(options.idle_timeout));
        let greeting = protocol::greeting(chrono::Local::now());
        if let Err(err) = tls.write_all(greeting.as_bytes()) {
            return self.log(format_args!("sending the greeting: {}", describe(&err)));
        }
        if self.requests(&mut tls) {
            // close_notify, then a moment for the client's own.
            let _ = tls.close(LINGER);
        }
    }

    /// Answers request lines until the client closes or fails; `true` when
    /// the connection is still fit for a polite close (close_notify).
    fn requests(&mut self, tls: &mut TlsSocket) -> bool {
        loop {
            let line = match protocol::read_line(tls, protocol::MAX_REQUEST_LINE) {
                Ok(line) => line,
                Err(err) => {
                    let idle = self.shared.options.idle_timeout;
                    match TlsError::from_io(&err) {
                        Some(TlsError::TimedOut { .. }) => {
                            self.log(format_args!(
                                "closed: no request for {} s (--idle-timeout), after {} \
                                 request(s)",
                                idle.as_secs_f64(),
                                self.requests
                            ));
                            return true;
                        }
                        _ if err.kind() == io::ErrorKind::UnexpectedEof => {
                            self.log(format_args!(
                                "closed by the client without close_notify, after {} \
                                 request(s)",
                                self.requests
                            ));
                        }
                        _ => self.log(format_args!(
                            "reading a request: {}; closed after {} request(s)",
                            describe(&err),
                            self.requests
                        )),
                    }
                    return false;
                }
            };
            let request = match line {
                LineRead::Line(bytes) => protocol::parse_request(&bytes),
                LineRead::TooLong => Err(BadRequest::TooLong),
                LineRead::End { partial } => {
                    self.log(format_args!(
                        "closed by the client after {} request(s){}",
                        self.requests,
                        if partial.is_empty() {
                            String::new()
                        } else {
                            format!(" ({} bytes of an unfinished line dropped)", partial.len())
                        }
                    ));
                    return true;
                }
            };
            self.requests += 1;
            let answer = match request {
                Err(bad) => {
                    self.log(format_args!("request refused: ERR {bad}"));
                    error_answer(&bad.to_string())
                }
                Ok(request) => self.run(&request),
            };
            if let Err(err) = tls.write_all(&answer) {
                self.log(format_args!(
                    "sending the answer: {}; closed",
                    describe(&err)
                ));
                return false;
            }
        }
    }

    /// Runs one request if the allow-list has it; logs it, and returns the
    /// answer's bytes.
    fn run(&self, request: &Request) -> Vec<u8> {
        if !self.shared.allowed.contains(&request.program) {
            let reason = format!(
                "not an allowed command (allowed: {})",
                join(&self.shared.allowed)
            );
            self.log(format_args!(
                "command \"{request}\": ERR not an allowed command"
            ));
            return error_answer(&reason);
        }
        let limits = self.shared.options.limits;
        let started = Instant::now();
        let reason = match exec::run(&request.program, &request.args, limits) {
            Outcome::Finished { status, output } => {
                self.log(format_args!(
                    "command \"{request}\": exit {status}, {} bytes of output, {} ms",
                    output.len(),
                    started.elapsed().as_millis()
                ));
                let mut answer = Header::Ok {
                    status,
                    length: output.len() as u64,
                }
                .to_string()
                .into_bytes();
                answer.extend_from_slice(&output);
                return answer;
            }
            Outcome::TimedOut => {
                format!("timed out after {} s; killed", limits.timeout.as_secs_f64())
            }
            Outcome::OverCap => format!("more than {} bytes of output; killed", limits.output_cap),
            Outcome::CannotRun(err) if err.kind() == io::ErrorKind::NotFound => {
                "cannot run it: not found on the server's PATH".to_string()
            }
            Outcome::CannotRun(err) => format!("cannot run it: {err}"),
        };
        self.log(format_args!("command \"{request}\": ERR {reason}"));
        error_answer(&reason)
    }
}

fn error_answer(reason: &str) -> Vec<u8> {
    Header::Err(reason.to_string()).to_string().into_bytes()
}

/// An I/O error from the TLS socket, in words (a TLS refusal explained,
/// not wrapped).
fn describe(err: &io::Error) -> String {
    let text = match TlsError::from_io(err) {
        Some(tls) => tls.to_string(),
        None => err.to_string(),
    };
    printable(&text).into_owned()
}
