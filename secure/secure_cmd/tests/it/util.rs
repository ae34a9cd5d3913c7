//! Helpers shared by secure_cmd's integration tests: certificates from
//! `testkit::pki` (rcgen), a server started on a loopback port 0 through `testkit`, the real
//! client run to completion, and a bare TLS client for checking the wire
//! format byte for byte (and for what the real client never does, such as
//! connecting without a certificate).

use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use testkit::{Output, Proc};
use tls_common::{TlsSocket, TlsVersion};

pub use testkit::pki::{Ca, Pair, TestDir};

pub const BIN: &str = env!("CARGO_BIN_EXE_secure_cmd");

/// A server certificate `<name>` from `ca`, for localhost, 127.0.0.1 and
/// ::1 (serverAuth).
pub fn server_pair(ca: &Ca, dir: &TestDir, name: &str) -> Pair {
    ca.server(dir, name, |params| {
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "secure_cmd test server");
    })
}

/// Everything a test needs: a CA for servers, one for clients, a server
/// certificate and the client `alice`.
pub struct Pki {
    pub dir: TestDir,
    pub server_ca: Ca,
    pub client_ca: Ca,
    pub server: Pair,
    pub alice: Pair,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let dir = TestDir::new_in(env!("CARGO_TARGET_TMPDIR"), &format!("secure_cmd-{name}"));
        let server_ca = dir.ca("server-ca");
        let client_ca = dir.ca("client-ca");
        let server = server_pair(&server_ca, &dir, "server");
        let alice = client_ca.client(&dir, "alice", "alice");
        Pki {
            dir,
            server_ca,
            client_ca,
            server,
            alice,
        }
    }

    /// Where the server of this test logs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path("log/server.log")
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A running `secure_cmd server`; killed when dropped.
pub struct Server {
    pub proc: Proc,
    /// Where it listens, in the order of its `listening on` lines.
    pub addrs: Vec<SocketAddr>,
    pub log: PathBuf,
}

impl Server {
    /// `secure_cmd server` with the test's certificates, its log in the
    /// test's folder, on `127.0.0.1:0` unless `extra` has a `--listen`.
    pub fn start(pki: &Pki, extra: &[&str]) -> Server {
        Server::start_with_env(pki, extra, &[])
    }

    /// [`Server::start`] with extra environment variables.
    pub fn start_with_env(pki: &Pki, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let default_log = pki.log_path();
        let mut args = vec![
            "server",
            "--cert",
            s(&pki.server.cert),
            "--key",
            s(&pki.server.key),
            "--client-ca",
            s(&pki.client_ca.cert),
        ];
        let log = match extra.iter().position(|a| *a == "--log") {
            Some(i) => PathBuf::from(extra[i + 1]),
            None => {
                args.extend(["--log", s(&default_log)]);
                default_log.clone()
            }
        };
        let listeners = extra.iter().filter(|a| **a == "--listen").count();
        if listeners == 0 {
            args.extend(["--listen", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        // The commands' empty working folder goes in the test's folder,
        // removed with it, rather than in /tmp, where a killed server
        // leaves it.
        let tmpdir = s(pki.dir.root());
        let mut vars = vec![("TMPDIR", tmpdir)];
        vars.extend_from_slice(env);
        let proc = testkit::Cmd::new(BIN, &args).envs(&vars).spawn();
        let addrs = proc.listening_addrs(listeners.max(1));
        Server { proc, addrs, log }
    }

    pub fn port(&self) -> String {
        self.addrs[0].port().to_string()
    }

    /// The log file as it is now.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle`; fails the test after 10 s.
    pub fn wait_for_log(&self, needle: &str) -> String {
        testkit::wait_for_text(needle, Duration::from_secs(10), || self.log_text())
    }
}

/// The client's arguments for `server` with `pair`, `--ca` `ca`.
pub fn client_args<'a>(ca: &'a Path, pair: &'a Pair, host: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        "client",
        "--ca",
        s(ca),
        "--cert",
        s(&pair.cert),
        "--key",
        s(&pair.key),
        "--host",
        host,
        "--port",
        port,
    ]
}

/// Runs the real client as `alice` with `commands`, to completion.
pub fn client(pki: &Pki, server: &Server, commands: &[&str]) -> Output {
    let port = server.port();
    let mut args = client_args(&pki.server_ca.cert, &pki.alice, "localhost", &port);
    args.extend_from_slice(commands);
    testkit::run(BIN, &args)
}

/// The one line the server sent first, as the client printed it.
pub fn server_time_line(out: &Output) -> &str {
    out.stderr
        .lines()
        .find(|l| l.starts_with("secure_cmd: server time: "))
        .unwrap_or_else(|| panic!("no server time line: {out:#?}"))
}

/// A bare TLS client, to see the protocol's bytes.
pub struct Raw {
    pub tls: TlsSocket,
}

/// An answer as the bare client reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Ok { status: u8, output: Vec<u8> },
    Err(String),
}

impl Raw {
    /// Connects and handshakes, trusting `ca`, with `identity` as the
    /// client certificate if any. The error is `tls_common`'s words.
    pub fn connect(
        addr: SocketAddr,
        ca: &Path,
        identity: Option<&Pair>,
        version: Option<TlsVersion>,
    ) -> Result<Raw, String> {
        let provider = tls_common::config::provider();
        let roots = tls_common::load::load_roots(ca).unwrap();
        let identity = identity
            .map(|pair| tls_common::load::load_identity(&pair.cert, &pair.key, &provider).unwrap());
        let config = tls_common::config::client_config(roots, version, identity.as_ref()).unwrap();
        let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut tls = TlsSocket::new(conn, sock);
        tls.set_idle_timeout(Some(Duration::from_secs(15)));
        tls.set_write_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        tls.handshake().map_err(|err| err.to_string())?;
        Ok(Raw { tls })
    }

    /// [`Raw::connect`] as alice, trusting the server's CA; panics if refused.
    pub fn alice(pki: &Pki, server: &Server) -> Raw {
        Raw::connect(server.addrs[0], &pki.server_ca.cert, Some(&pki.alice), None).unwrap()
    }

    /// One line, without its `\n`; `Err` with the error's words if the
    /// read fails (a TLS refusal arrives here with TLS 1.3).
    pub fn line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.tls.read(&mut byte) {
                Ok(0) => return Err(format!("end of stream after {line:?}")),
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(err) => {
                    return Err(match tls_common::TlsError::from_io(&err) {
                        Some(tls) => tls.to_string(),
                        None => err.to_string(),
                    });
                }
            }
        }
        Ok(String::from_utf8(line).expect("a UTF-8 line"))
    }

    /// Sends `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).unwrap();
    }

    /// Reads one answer.
    pub fn answer(&mut self) -> Answer {
        let header = self.line().unwrap();
        if let Some(reason) = header.strip_prefix("ERR ") {
            return Answer::Err(reason.to_string());
        }
        let mut words = header.strip_prefix("OK ").expect("OK or ERR").split(' ');
        let status = words.next().unwrap().parse().unwrap();
        let length: usize = words.next().unwrap().parse().unwrap();
        let mut output = vec![0u8; length];
        self.tls.read_exact(&mut output).unwrap();
        Answer::Ok { status, output }
    }

    /// Sends `line` and a newline, and reads the answer.
    pub fn run(&mut self, line: &str) -> Answer {
        self.send(format!("{line}\n").as_bytes());
        self.answer()
    }
}

/// `Answer::Ok` with status 0 and `output`.
pub fn ok(output: &str) -> Answer {
    Answer::Ok {
        status: 0,
        output: output.as_bytes().to_vec(),
    }
}

/// Whether a process whose command line is exactly `words` is running
/// (read from `/proc/*/cmdline`).
pub fn process_running(words: &[&str]) -> bool {
    let wanted: Vec<u8> = words
        .iter()
        .flat_map(|w| [w.as_bytes(), b"\0"].concat())
        .collect();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        cmdline == wanted
    })
}

/// Runs the server with the test PKI and `extra` arguments, for a start
/// expected to fail (it exits at once).
pub fn refused_start(pki: &Pki, extra: &[&str]) -> testkit::Output {
    let mut args = vec![
        "server",
        "--cert",
        pki.server.cert.to_str().unwrap(),
        "--key",
        pki.server.key.to_str().unwrap(),
        "--client-ca",
        pki.client_ca.cert.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    testkit::run(BIN, &args)
}
