//! Helpers shared by part6_pmu's integration tests: certificates from
//! `testkit::pki` (rcgen, or openssl where rcgen cannot, such as RSA-1024),
//! the real binary run with a time limit and a server started on a loopback
//! port 0 (both through `testkit`), and `openssl s_server` as a peer.

use std::io::Read;
use std::net::SocketAddr;
use std::ops::Deref;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::{Cmd, Guard, Proc};

pub use testkit::pki::{Ca, Pair};

pub const BIN: &str = env!("CARGO_BIN_EXE_part6_pmu");

/// Enough for any single run of these tests on a loaded two-core machine.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A folder for one test's files, removed when the test ends
/// (`testkit::pki::TestDir` under this crate's `CARGO_TARGET_TMPDIR`).
pub struct TestDir(testkit::pki::TestDir);

impl TestDir {
    pub fn new(name: &str) -> TestDir {
        TestDir(testkit::pki::TestDir::new_in(
            env!("CARGO_TARGET_TMPDIR"),
            &format!("part6-{name}"),
        ))
    }
}

impl Deref for TestDir {
    type Target = testkit::pki::TestDir;

    fn deref(&self) -> &testkit::pki::TestDir {
        &self.0
    }
}

/// What a finished run printed (a `testkit::Output`).
#[derive(Debug)]
pub struct Run(pub testkit::Output);

impl Deref for Run {
    type Target = testkit::Output;

    fn deref(&self) -> &testkit::Output {
        &self.0
    }
}

impl Run {
    /// Asserts a failure with exit status `code` and one error line that
    /// contains every needle.
    pub fn assert_error(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.status.code(), Some(code), "{}", self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "one line: {}", self.stderr);
        assert!(
            self.stderr.starts_with("part6_pmu: error: "),
            "{}",
            self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{needle:?} in {}",
                self.stderr
            );
        }
    }
}

/// Runs `program` with `args` and `stdin`; fails the test past `limit`.
pub fn run_program(program: &str, args: &[&str], stdin: &[u8], limit: Duration) -> Run {
    run_with_env(program, args, stdin, &[], limit)
}

/// [`run_program`] with extra environment variables.
pub fn run_with_env(
    program: &str,
    args: &[&str],
    stdin: &[u8],
    env: &[(&str, &str)],
    limit: Duration,
) -> Run {
    // The program may never read its input (or close it late): the pipe
    // stays open until the program ends, as a grader's terminal would.
    Run(Cmd::new(program, args)
        .envs(env)
        .run_with_open_stdin(stdin, limit))
}

/// Runs part6_pmu with `args`; fails the test past [`LIMIT`].
pub fn part6(args: &[&str]) -> Run {
    run_program(BIN, args, b"", LIMIT)
}

/// Runs `part6_pmu client --ca CA --port PORT REST...` against `server`.
pub fn client(ca: &Ca, server: &Server, rest: &[&str]) -> Run {
    let port = server.port();
    let ca = ca.cert.to_str().unwrap();
    part6(&[&["client", "--ca", ca, "--port", &port], rest].concat())
}

/// A running `part6_pmu` server (a `testkit::Proc`: its process is
/// `child`); killed when dropped.
pub struct Server {
    proc: Proc,
    /// Where it listens, in the order of its `listening on` lines.
    pub addrs: Vec<SocketAddr>,
}

impl Deref for Server {
    type Target = Proc;

    fn deref(&self) -> &Proc {
        &self.proc
    }
}

impl Server {
    /// Starts `part6_pmu ARGS` and waits for a `listening on` line per
    /// `--listen` (two without any).
    pub fn start(args: &[&str]) -> Server {
        Server::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let expected = args.iter().filter(|a| **a == "--listen").count().max(1);
        let proc = Cmd::new(BIN, args).envs(env).spawn();
        let addrs = proc.listening_addrs(expected);
        Server { proc, addrs }
    }

    /// The port of the first listener.
    pub fn port(&self) -> String {
        self.addrs[0].port().to_string()
    }

    /// Everything it has logged so far.
    pub fn log(&self) -> String {
        self.proc.stderr_log()
    }

    /// Waits until the log contains `needle`; fails the test after 10 s.
    pub fn wait_for_log(&self, needle: &str) -> String {
        testkit::wait_for_text(needle, Duration::from_secs(10), || self.log())
    }
}

/// `serve --cert CERT --key KEY --listen LISTEN EXTRA...` with `pair`.
pub fn serve_args<'a>(pair: &'a Pair, listen: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let cert = pair.cert.to_str().unwrap();
    let key = pair.key.to_str().unwrap();
    let args = ["serve", "--cert", cert, "--key", key, "--listen", listen];
    [&args[..], extra].concat()
}

/// A server on 127.0.0.1:0 with the usual test certificate, `extra` flags.
pub fn server_for(pair: &Pair, extra: &[&str]) -> Server {
    Server::start(&serve_args(pair, "127.0.0.1:0", extra))
}

/// `openssl s_server` with `pair` on a free loopback port, for one
/// connection, with `extra` flags (such as a TLS version). Returns it and
/// its port; its stdin is piped and its stdout left to read.
pub fn s_server(pair: &Pair, extra: &[&str]) -> (Guard, String) {
    let mut child = Guard(
        Command::new("openssl")
            .args(["s_server", "-accept", "127.0.0.1:0", "-naccept", "1"])
            .args(extra)
            .arg("-cert")
            .arg(&pair.cert)
            .arg("-key")
            .arg(&pair.key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server"),
    );
    let port = read_until(&mut child, |out| {
        let text = String::from_utf8_lossy(out);
        // A whole line: a read may end in the middle of the port.
        let line = text
            .split_inclusive('\n')
            .find(|l| l.starts_with("ACCEPT ") && l.ends_with('\n'))?;
        Some(line.trim_end().rsplit(':').next()?.to_string())
    });
    (child, port)
}

/// Reads the child's stdout until `found` finds something in all of it.
pub fn read_until<T>(child: &mut Guard, mut found: impl FnMut(&[u8]) -> Option<T>) -> T {
    let stdout = child.0.stdout.as_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(value) = found(&seen) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&seen)
        );
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "s_server ended: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
}

/// The lines `CMD_short` prints for `n` messages from `first`.
pub fn pmu_lines(first: u64, n: u64) -> String {
    (first..first + n)
        .map(|i| format!("This is PMU data {i}\n"))
        .collect()
}

/// `pmu_lines` as the server sends them: no separator.
pub fn pmu_stream(first: u64, n: u64) -> String {
    pmu_lines(first, n).replace('\n', "")
}

/// Runs a Python 3 script with `args`.
pub fn python(script: &str, args: &[&str], limit: Duration) -> Run {
    let mut full = vec!["-c", script];
    full.extend_from_slice(args);
    run_program("python3", &full, b"", limit)
}
