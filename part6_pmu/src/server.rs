//! The TLS PMU server: listeners, a thread per connection under a cap,
//! time-outs, and the PMU answer over TLS.
//!
//! What it does, and the choices where docs/SPEC.md is silent:
//! - listens on `0.0.0.0:5003` and `[::]:5003` (IPv4 and IPv6, as the
//!   course's grader may use either; `IPV6_V6ONLY` keeps them apart);
//!   `--listen` replaces both and may be repeated;
//! - TLS 1.2 and 1.3 only, forward-secret suites only (rustls, `ring`);
//! - refuses at start-up a key or certificate it could not use (RSA under
//!   2048 bits, key not matching, expired or not-yet-valid, unreadable,
//!   non-PEM or encrypted), saying what to do;
//! - per connection a thread (512 KiB of stack), at most
//!   `--max-connections` at once, half of them at most for one IP address;
//!   when none is free, a newcomer takes the place of the oldest connection
//!   still in its TLS handshake or waiting for its command, which is closed
//!   (`netserve::accept`); a client has `--handshake-timeout` (10 s) from
//!   connecting to sending its command, and a send blocked for
//!   `--idle-timeout` (30 s) ends the connection: a silent, half-open or
//!   half-sent (ClientHello) client never locks another out;
//! - `CMD_short:<d>` with `d` × messages over 60 s gets `Wrong command.`,
//!   and a client that closes or resets during the sleeps between messages
//!   frees its place at once;
//! - answers like the course server: messages `This is PMU data <i>` from
//!   0, one TLS record and one TCP send each; the flood in one write; then
//!   close_notify and close, whether or not the client closes;
//! - `--client-ca` requires a client certificate from that CA (mutual TLS),
//!   `--allow-cn` restricts its common name (refused with `access_denied`);
//! - one line per connection on stderr (`-q` silences them); `-v` adds the
//!   negotiated version, suite, key-exchange group and the client's
//!   certificate.
//! - Default listeners: the wildcard addresses, as the course's prototype
//!   binds every interface; a host without IPv6 keeps the IPv4 listener
//!   (with a note); `--listen` replaces both. `serve` takes CERT KEY
//!   positionally too, or `--cert`/`--key`, not both.
//! - Answers: 10 messages from index 0 (`--messages`), a 56 KiB flood of
//!   numbered 64-byte lines (generated at start-up and held in memory; it
//!   leaves in one `write()`, as TLS records of 16 KiB sent 96 KiB at a
//!   time), and a partial command that never completes gets no answer.
//! - Time-outs: 10 s from connecting to the command (handshake included,
//!   however slowly the bytes come), 30 s for a blocked send, 1 s of
//!   lingering after close_notify; at most 64 connections (see above for
//!   who gets a place when none is free).
//! - An X.509 v1 certificate (signed without extensions) is served, with
//!   a note: OpenSSL clients such as the grader accept it, rustls clients
//!   do not. So is one without subjectAltName, with a note.
//! - `--allow-cn`: an exact, case-sensitive match against the client's CN;
//!   a subject with more than one CN, or a CN that is neither a UTF8String
//!   nor a PrintableString, is refused whatever `--allow-cn` says
//!   (`tls_common`); a refusal is the `access_denied` alert.

use crate::say;
use anyhow::Context;
use netserve::accept::{ConnectionLimit, Event, PeerWatch, Slot};
use netserve::pmu::{self, PmuSettings};
use rustls::{ServerConfig, ServerConnection};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tls_common::stream::TlsError;
use tls_common::{ClientAuth, HandshakeReport, TlsSocket, TlsVersion};

/// The lab's TLS PMU port.
pub const DEFAULT_PORT: u16 = 5003;

/// How long the server reads what a client still sends after the answer,
/// before it closes (as `lab_server`).
const LINGER: Duration = Duration::from_secs(1);

/// How much one `write()` of the flood encrypts before sending it, in one
/// `writev()` of six 16 KiB records: the more, the fewer system calls
/// (rustls's default is 64 KiB), but not 128 KiB or more: glibc gives
/// freed memory back to the kernel past its 128 KiB trim threshold
/// (`M_TRIM_THRESHOLD`), and faulting the pages in again for every chunk
/// cost a third of the server's time in `make bench`.
const FLOOD_CHUNK: usize = 96 * 1024;

/// The stack of a connection's thread: a TLS handshake (rustls, ring)
/// needs more than plain TCP, far less than Rust's default 2 MiB.
const CONNECTION_STACK: usize = 512 * 1024;

/// Bytes asked of each `recv()`: a server receives a handshake and a
/// command, never a flood.
const RECV_BUFFER: usize = 32 * 1024;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Empty: `0.0.0.0:5003` and `[::]:5003`.
    pub listen: Vec<SocketAddr>,
    pub messages: u64,
    pub first_index: u64,
    pub flood_bytes: usize,
    pub client_ca: Option<PathBuf>,
    pub allow_cn: Vec<String>,
    pub tls_version: Option<TlsVersion>,
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub verbose: bool,
    pub quiet: bool,
}

/// What every connection thread shares.
#[derive(Debug)]
struct Shared {
    config: Arc<ServerConfig>,
    pmu: PmuSettings,
    options: Options,
}

impl Shared {
    fn log(&self, line: std::fmt::Arguments<'_>) {
        if !self.options.quiet {
            say(line);
        }
    }
}

/// Checks the certificate and key, listens, and serves until killed.
pub fn run(options: Options) -> anyhow::Result<()> {
    let provider = tls_common::config::provider();
    let identity = tls_common::load::load_identity(&options.cert, &options.key, &provider)?;
    let client_auth = match &options.client_ca {
        Some(path) => Some(ClientAuth {
            roots: tls_common::load::load_roots(path)?,
            allowed_cns: options.allow_cn.clone(),
        }),
        None => None,
    };
    let config = tls_common::config::server_config(&identity, options.tls_version, client_auth)
        .context("setting up TLS")?;
    let listeners = bind(&options.listen)?;

    let quiet = options.quiet;
    let note = |line: String| {
        if !quiet {
            say(format_args!("{line}"));
        }
    };
    note(format!("certificate: {}", identity.leaf));
    for line in certificate_notes(&identity.leaf) {
        note(format!("note: {line}"));
    }
    note(format!(
        "{}, forward-secret suites only{}",
        match options.tls_version {
            None => "TLS 1.2 and 1.3".to_string(),
            Some(v) => format!("{v} only"),
        },
        match &options.client_ca {
            None => String::new(),
            Some(ca) if options.allow_cn.is_empty() =>
                format!("; mutual TLS: client certificates from {}", ca.display()),
            Some(ca) => format!(
                "; mutual TLS: client certificates from {} with CN {}",
                ca.display(),
                options.allow_cn.join(" or ")
            ),
        }
    ));
    if let Some(path) = tls_common::config::key_log_path() {
        note(format!(
            "SSLKEYLOGFILE is set: TLS secrets go to {} (whoever has it can decrypt a capture)",
            path.display()
        ));
    }
    let shared = Arc::new(Shared {
        config: Arc::new(config),
        pmu: PmuSettings {
            messages: options.messages,
            first_index: options.first_index,
            flood: pmu::flood_text(options.flood_bytes).into(),
        },
        options,
    });
    let limit =
        ConnectionLimit::new(shared.options.max_connections).with_stack_size(CONNECTION_STACK);
    // Printed last and always (even with --quiet): a caller that reads it
    // knows the server is ready, and which port port 0 became.
    for listener in &listeners {
        say(format_args!("listening on {}", listener.local_addr()?));
    }
    let mut threads = Vec::new();
    for listener in listeners {
        let (shared, limit) = (shared.clone(), limit.clone());
        threads.push(
            std::thread::Builder::new()
                .name("tls-accept".into())
                .spawn(move || accept_loop(listener, &limit, shared))
                .context("starting the accept thread")?,
        );
    }
    for thread in threads {
        let _ = thread.join();
    }
    Ok(())
}

/// What a student should know about a certificate the server accepts but
/// some clients will not.
fn certificate_notes(leaf: &tls_common::CertInfo) -> Vec<String> {
    let mut notes = Vec::new();
    if leaf.version < 3 {
        notes.push(format!(
            "the certificate is X.509 version {} (signed without extensions): OpenSSL clients \
             such as the course's Python grader accept it, rustls clients (part6_pmu client) do \
             not; `make test-cert` signs version 3",
            leaf.version
        ));
    }
    if leaf.alt_names.is_empty() {
        notes.push(
            "the certificate lists no subjectAltName: clients that check the host name \
             (part6_pmu client, browsers) refuse it; the course grader does not check it"
                .to_string(),
        );
    }
    notes
}

/// Binds every `--listen` address; with none, `0.0.0.0:5003` and
/// `[::]:5003`, where a host without IPv6 keeps the IPv4 listener.
fn bind(listen: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    netserve::accept::bind_listeners(listen, DEFAULT_PORT, |err| {
        say(format_args!("no IPv6 listener ({err}); serving IPv4 only"))
    })
    .map_err(|(addr, err)| bind_error(addr, err))
}

fn bind_error(addr: SocketAddr, err: io::Error) -> anyhow::Error {
    let hint = netserve::accept::bind_hint(
        &err,
        "choose with --listen ADDR:PORT, such as 127.0.0.1:5003 or [::1]:5003 (lab_server's \
         plain PMU also uses 5003)",
    );
    anyhow::anyhow!("cannot listen on {addr}: {err}; {hint}")
}

/// Accepts for ever under the cap (`netserve::accept`): a connection still
/// in its handshake or waiting for its command gives its place to a
/// newcomer when none is free; one with no place it can take is closed at
/// once, so that a crowd of clients exhausts neither threads nor
/// descriptors.
fn accept_loop(listener: TcpListener, limit: &ConnectionLimit, shared: Arc<Shared>) {
    let log = shared.clone();
    netserve::accept::accept_loop(
        &listener,
        limit,
        "tls-pmu",
        || false,
        |event| match event {
            Event::AcceptFailed(err) => log.log(format_args!("accept failed: {err}")),
            Event::Refused { peer, why } => log.log(format_args!("{peer}: refused: {why}")),
            Event::Evicted { peer, evicted } => log.log(format_args!(
                "{peer}: took the place of {evicted}, still in its handshake or without a command"
            )),
            Event::NoThread { peer, error } => {
                log.log(format_args!("{peer}: no thread to serve it: {error}"))
            }
        },
        move |stream, peer, slot| serve(stream, peer, slot, &shared),
    );
}

/// One connection, from handshake to close; every outcome is one log line.
fn serve(stream: TcpStream, peer: SocketAddr, slot: &Slot, shared: &Shared) {
    let accepted = Instant::now();
    let options = &shared.options;
    let conn = match ServerConnection::new(shared.config.clone()) {
        Ok(conn) => conn,
        Err(err) => {
            shared.log(format_args!("{peer}: {err}"));
            return;
        }
    };
    let mut tls = TlsSocket::with_recv_buffer(conn, stream, RECV_BUFFER);
    // A client has `handshake_timeout` from connecting to sending its
    // command, however slowly it dribbles bytes: a silent or half-open
    // client holds its own thread that long, never another's.
    tls.set_deadline(accepted.checked_add(options.handshake_timeout));
    if let Err(err) = tls.set_write_timeout(Some(options.idle_timeout)) {
        shared.log(format_args!("{peer}: setting SO_SNDTIMEO: {err}"));
        return;
    }
    if let Err(err) = tls.handshake() {
        let during = match err {
            TlsError::TimedOut { .. } => format!(
                "no handshake within {} s (--handshake-timeout); closed",
                options.handshake_timeout.as_secs_f64()
            ),
            TlsError::Tls { .. } => {
                shared.log(format_args!("{peer}: handshake failed: {err}"));
                tls.abort(LINGER);
                return;
            }
            err => format!("handshake failed: {err}"),
        };
        shared.log(format_args!("{peer}: {during}"));
        return;
    }
    let report = HandshakeReport::of(tls.conn(), tls.side());
    if options.verbose {
        for line in report.lines() {
            shared.log(format_args!("{peer}: {line}"));
        }
    }
    let summary = format!("{} {}", report.version, report.suite);
    let request = match pmu::read_request(&mut tls) {
        Ok(Some(request)) => request,
        Ok(None) => {
            shared.log(format_args!("{peer}: {summary}: closed without a command"));
            let _ = tls.close(LINGER);
            return;
        }
        Err(err) => {
            let what = match TlsError::from_io(&err) {
                Some(TlsError::TimedOut { .. }) => format!(
                    "no command within {} s (--handshake-timeout); closed",
                    options.handshake_timeout.as_secs_f64()
                ),
                _ => format!("reading the command: {err}"),
            };
            shared.log(format_args!("{peer}: {summary}: {what}"));
            let _ = tls.close(LINGER);
            return;
        }
    };
    if !slot.serving() {
        shared.log(format_args!(
            "{peer}: {summary}: gave its place to a newer connection"
        ));
        return;
    }
    tls.set_deadline(None);
    tls.set_buffer_limit(Some(FLOOD_CHUNK));
    let mut watch = PeerWatch::new(tls.socket());
    let result = pmu::send_answer(&mut tls, &request, &shared.pmu, |d| watch.sleep(d))
        .and_then(|answer| tls.close(LINGER).map(|()| answer));
    match result {
        Ok(answer) => shared.log(format_args!("{peer}: {summary}: {answer}")),
        Err(err) => shared.log(format_args!(
            "{peer}: {summary}: answering: {err}{}",
            if err.kind() == io::ErrorKind::WouldBlock || err.kind() == io::ErrorKind::TimedOut {
                " (the client stopped reading; --idle-timeout)"
            } else {
                ""
            }
        )),
    }
}
