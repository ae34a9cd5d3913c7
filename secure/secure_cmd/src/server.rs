//! The server: listeners, a thread per connection under a cap, mutual TLS,
//! the greeting, then one allow-listed command per request line.
//!
//! The choices where docs/SPEC.md is silent:
//! - Listeners: `0.0.0.0:15001` and `[::]:15001` (IPv4 and IPv6, as
//!   `part6_pmu`; mutual TLS is what keeps strangers out, not the
//!   address); `--listen` replaces both and may be repeated.
//! - Commands: an allow-list of names (default date, uptime, whoami,
//!   hostname, uname, echo, ls, pwd, df; `--allow` adds, never a path),
//!   each resolved once at start-up on `/usr/local/bin:/usr/bin:/bin`
//!   (`--command-path`) and logged, each default one with an argument
//!   policy (`date`: `+FORMAT` and printing flags; `hostname`, `whoami`,
//!   `uptime`, `pwd`: none; src/policy.rs). `--allow` of a program that
//!   runs others (a shell, `env`, `find`…) needs `--allow-risky-commands`.
//!   Run without a shell, stdin `/dev/null`, in an empty environment and
//!   an empty folder, under rlimits (256 MiB, `--command-memory`), and as
//!   `nobody` (`--run-as`) when the server is root, unless
//!   `--allow-root-commands` (src/sandbox.rs; README.md, "Threat model").
//! - Output: stdout and stderr share one pipe (`2>&1`), so the bytes keep
//!   the order the command wrote them in. A command killed by signal n
//!   reports status 128 + n, as a shell does.
//! - Limits: 10 s per command (`--command-timeout`) and 1 MiB of output
//!   (`--output-cap`), past which the command and its process group are
//!   killed and the answer is `ERR`; request lines of at most 4096 bytes
//!   (a longer one is answered `ERR`, skipped to its end, and the
//!   connection goes on); a line that is not UTF-8, holds a NUL or is
//!   blank is answered `ERR` too: every line gets one answer. A last line
//!   without its newline when the client closes is dropped.
//! - Connections: at most 64 at once (`--max-connections`), 32 from one
//!   IP address; when none is free, a newcomer takes the place of the
//!   oldest connection still in its TLS handshake (closed and logged), and
//!   is closed on arrival only when every place is held by an
//!   authenticated client (`netserve::accept`); 10 s from connecting to the end of the
//!   handshake (`--handshake-timeout`); 300 s without a request
//!   (`--idle-timeout`) and 30 s of a blocked send end a connection.
//! - Log: one line per event, `<RFC 3339 time> <peer> <what>`, appended
//!   with one `write()` by one writer thread from a bounded queue (a slow
//!   or full disk drops lines, counted, never stops the service); peer
//!   text escaped and cut to 64 bytes; 100 lines per client address per
//!   10 s (`--log-rate`), then one summary line. Created 0600; a symbolic
//!   link is refused. The folder is created. `-v` copies every line to
//!   stderr.
//! - Certificates: without `--allow-cn`, the server says at start-up that
//!   any certificate of the client CA is accepted; a subject with two CNs
//!   or a CN that is not a UTF8String or PrintableString is refused.

use crate::exec::{self, Limits, Outcome};
use crate::log::{self, Log, PEER_MAX, escape};
use crate::policy::AllowList;
use crate::protocol::{self, BadRequest, Header, LineRead, Request};
use crate::sandbox::{self, Sandbox};
use crate::say;
use anyhow::Context;
use netserve::accept::{ConnectionLimit, Event, Slot};
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls_common::stream::TlsError;
use tls_common::{ClientAuth, HandshakeReport, TlsSocket};

pub use crate::policy::DEFAULT_ALLOWED;

/// How long the server reads what a client still sends after close_notify.
const LINGER: Duration = Duration::from_secs(1);

/// `SO_SNDTIMEO`: a client that stops reading an answer for this long is
/// dropped, so that it holds its thread no longer.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The stack of a connection's thread: a TLS handshake (rustls, ring)
/// needs more than plain TCP, far less than Rust's default 2 MiB.
const CONNECTION_STACK: usize = 512 * 1024;

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
    /// `--allow` may name a program that runs others.
    pub allow_risky_commands: bool,
    /// Where commands are looked up (absolute folders, `:`-separated).
    pub command_path: String,
    /// The user commands run as when the server is root.
    pub run_as: String,
    /// As root, run commands as root.
    pub allow_root_commands: bool,
    /// RLIMIT_AS of a command, bytes.
    pub command_memory: u64,
    pub log: PathBuf,
    /// Log lines per source address per 10 s.
    pub log_rate: u32,
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
    allowed: AllowList,
    sandbox: Sandbox,
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
    let (allowed, missing) = AllowList::build(
        &options.allow,
        &options.command_path,
        options.allow_risky_commands,
    )
    .map_err(|err| common::cli::usage(err.to_string()))?;
    let run_as = if !sandbox::is_root() || options.allow_root_commands {
        None
    } else {
        Some(sandbox::lookup_user(&options.run_as).map_err(|err| {
            anyhow::anyhow!(
                "cannot run commands as {}: {err}; name an existing unprivileged user with                  --run-as USER",
                options.run_as
            )
        })?)
    };
    if run_as.as_ref().is_some_and(|user| user.uid == 0) {
        return Err(common::cli::usage(format!(
            "--run-as {} is root: name an unprivileged user, or give --allow-root-commands",
            options.run_as
        )));
    }
    let workdir = sandbox::make_workdir().context("making the commands' working folder")?;
    let sandbox = Sandbox {
        path_var: options.command_path.clone(),
        workdir,
        tz: std::env::var_os("TZ"),
        run_as,
        memory: options.command_memory,
        cpu_seconds: Sandbox::cpu_for(options.limits.timeout),
    };
    let log = Log::open(&options.log, options.verbose, options.log_rate)?;
    let listeners = bind(&options.listen)?;

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
        allowed.names(),
        options.limits.timeout.as_secs_f64(),
        options.limits.output_cap
    ));
    say(format_args!("log: {}", log.path().display()));
    let any_cert = options.allow_cn.is_empty().then(|| {
        format!(
            "warning: no --allow-cn: any certificate {} signed is accepted (with a course CA, \
             every student's); restrict with --allow-cn CN",
            options.client_ca.display()
        )
    });
    if let Some(warning) = &any_cert {
        say(format_args!("{warning}"));
    }
    let runs_as = match &sandbox.run_as {
        Some(user) => format!("user {} (uid {}, gid {})", user.name, user.uid, user.gid),
        None if sandbox::is_root() => "root (--allow-root-commands)".to_string(),
        // SAFETY: getuid(2) cannot fail and touches no memory.
        None => format!("the server's own user (uid {})", unsafe { libc::getuid() }),
    };
    say(format_args!(
        "commands run as {runs_as}, in {}, with an empty environment and limits",
        sandbox.workdir.display()
    ));
    if sandbox::is_root() && sandbox.run_as.is_none() {
        say(format_args!(
            "warning: --allow-root-commands: every client may run the allowed commands as root"
        ));
    }
    for name in &missing {
        say(format_args!(
            "warning: {name} is not in {}: left out of the allow-list",
            options.command_path
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
            allowed.names()
        ),
    );
    for (name, resolved) in &allowed.0 {
        log.line(
            "-",
            format_args!(
                "command {name}: {} ({})",
                resolved.path.display(),
                match resolved.policy {
                    crate::policy::ArgPolicy::None => "no arguments",
                    crate::policy::ArgPolicy::Date => "+FORMAT and printing flags only",
                    crate::policy::ArgPolicy::Uname => "its flags only",
                    crate::policy::ArgPolicy::Any => "any arguments",
                }
            ),
        );
    }
    log.line(
        "-",
        format_args!(
            "commands run as {runs_as}, in {}",
            sandbox.workdir.display()
        ),
    );
    if let Some(warning) = &any_cert {
        log.line("-", format_args!("{warning}"));
    }
    let shared = Arc::new(Shared {
        config: Arc::new(config),
        allowed,
        sandbox,
        log,
        options,
    });
    // One cap for every listener.
    let limit =
        ConnectionLimit::new(shared.options.max_connections).with_stack_size(CONNECTION_STACK);
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

/// Binds every `--listen` address; with none, `0.0.0.0:15001` and
/// `[::]:15001`, where a host without IPv6 keeps the IPv4 listener.
fn bind(listen: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    netserve::accept::bind_listeners(listen, protocol::DEFAULT_PORT, |err| {
        say(format_args!("no IPv6 listener ({err}); serving IPv4 only"))
    })
    .map_err(|(addr, err)| bind_error(addr, err))
}

fn bind_error(addr: SocketAddr, err: io::Error) -> anyhow::Error {
    let hint = netserve::accept::bind_hint(
        &err,
        "choose with --listen ADDR:PORT, such as 127.0.0.1:15001 or [::1]:15001",
    );
    anyhow::anyhow!("cannot listen on {addr}: {err}; {hint}")
}

/// Accepts for ever (`netserve::accept::accept_loop`). A connection waits
/// for its place until its mutual-TLS handshake is done: until then a
/// newcomer may take its place when none is free. An authenticated client
/// keeps its place between requests (up to `--idle-timeout`): it holds a
/// certificate of the CA, and the log names it. A connection with no place
/// it can take is logged and closed at once, so that a crowd of clients
/// exhausts neither threads nor descriptors.
fn accept_loop(listener: TcpListener, limit: &ConnectionLimit, shared: Arc<Shared>) {
    let log = shared.clone();
    netserve::accept::accept_loop(
        &listener,
        limit,
        "secure_cmd",
        || false,
        |event| match event {
            Event::AcceptFailed(err) => log.log.line("-", format_args!("accept failed: {err}")),
            Event::Refused { peer, why } => log.log.line(
                &peer.to_string(),
                format_args!("refused: {why} (--max-connections)"),
            ),
            Event::Evicted { peer, evicted } => log.log.line(
                &evicted.to_string(),
                format_args!(
                    "closed: still in its handshake when {peer} needed its place \
                     (--max-connections)"
                ),
            ),
            Event::NoThread { peer, error } => log.log.line(
                &peer.to_string(),
                format_args!("no thread to serve it: {error}"),
            ),
        },
        move |stream, peer, slot| Connection::new(peer, &shared).serve(stream, slot),
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
    fn serve(mut self, stream: TcpStream, slot: &Slot) {
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
                        escape(err.to_string().as_bytes(), OWN_MAX)
                    ));
                    // Drains, so that the alert reaches the client.
                    tls.abort(LINGER);
                }
                err => self.log(format_args!(
                    "handshake failed: {}",
                    escape(err.to_string().as_bytes(), OWN_MAX)
                )),
            };
        }
        if !slot.serving() {
            return self.log(format_args!(
                "closed: its place went to a newer connection during the handshake"
            ));
        }
        let report = HandshakeReport::of(tls.conn(), tls.side());
        let cn = match &report.peer {
            Some(cert) if !cert.common_names.is_empty() => cert
                .common_names
                .iter()
                .map(|cn| escape(cn.as_bytes(), PEER_MAX))
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
        let shown = log::quote(&request.words());
        let Some(resolved) = self.shared.allowed.get(&request.program) else {
            let reason = format!(
                "not an allowed command (allowed: {})",
                self.shared.allowed.names()
            );
            self.log(format_args!("command {shown}: ERR not an allowed command"));
            return error_answer(&reason);
        };
        if let Err(reason) = resolved.policy.check(&request.program, &request.args) {
            self.log(format_args!("command {shown}: ERR {reason}"));
            return error_answer(&reason);
        }
        let limits = self.shared.options.limits;
        let started = Instant::now();
        let command = self
            .shared
            .sandbox
            .command(&resolved.path, &request.program);
        let reason = match exec::run_command(command, &request.args, limits) {
            Outcome::Finished { status, output } => {
                self.log(format_args!(
                    "command {shown}: exit {status}, {} bytes of output, {} ms",
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
                "cannot run it: its program is gone from the server".to_string()
            }
            Outcome::CannotRun(err) => format!("cannot run it: {err}"),
        };
        self.log(format_args!("command {shown}: ERR {reason}"));
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
    escape(text.as_bytes(), OWN_MAX)
}

/// Bytes of an error's text in a log line: ours, but it may quote a peer.
const OWN_MAX: usize = 256;
