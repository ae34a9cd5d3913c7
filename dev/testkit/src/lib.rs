//! Running the workspace's real binaries in integration tests, with bounded
//! waits: every child is killed and reaped when its guard drops, and every
//! wait has a deadline, so that no test can hang (every test stops by
//! itself).
//!
//! Two ways to run a binary:
//! - [`run`] / [`run_within`]: to completion, whole output as bytes
//!   ([`Output`]);
//! - [`spawn`]: in the background, output line by line as it comes
//!   ([`Proc`]), for servers and for tests that time what appears when.
//!
//! [`Cmd`] does either with environment variables or standard input.
//! With the feature `pki`, [`pki`] makes throw-away certificates for TLS
//! tests.
//!
//! [`limits`] measures what a process uses (threads, descriptors, memory)
//! from `/proc`, for the hostile-client and fault tests; [`netns`] runs a
//! test's server and client on a host without IPv6; [`hostile`] is the
//! harness of the hostile-client tests (caps, resets, silent connections);
//! [`mcast`] runs Part 4's receiver and sender on the loopback interface.
//! [`workspace_bin`] finds another package's executable, for tests that
//! need two programs (Part 4's receiver and sender, the grader's parts).

mod cmd;
pub mod hostile;
pub mod limits;
pub mod mcast;
pub mod netns;
#[cfg(feature = "pki")]
pub mod pki;

pub use cmd::Cmd;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, ExitStatus};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a run or a wait may take unless a test says otherwise.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// `127.0.0.1:0`: bind a test server here and read the port back.
pub fn any_local_v4() -> SocketAddr {
    ([127, 0, 0, 1], 0).into()
}

/// `[::1]:0`: bind a test server here and read the port back.
pub fn any_local_v6() -> SocketAddr {
    ([0, 0, 0, 0, 0, 0, 0, 1], 0).into()
}

/// A TCP port of 127.0.0.1 that nobody listens on (bound, read back and
/// let go), for a test of a refused connection; use it at once.
pub fn unused_port() -> u16 {
    std::net::TcpListener::bind(any_local_v4())
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A child that is killed and reaped when dropped.
#[derive(Debug)]
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished run printed, and how long it took.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Stdout as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stdout's lines.
    pub fn lines(&self) -> Vec<String> {
        self.stdout_text().lines().map(str::to_owned).collect()
    }

    /// Fails the test, showing everything, unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Output {
        assert_eq!(self.code(), Some(code), "unexpected exit status: {self:#?}");
        self
    }

    /// Fails the test unless stderr is exactly one line starting with
    /// `NAME: error: ` and containing `needle` (docs/SPEC.md's error convention).
    pub fn expect_one_line_error(&self, name: &str, needle: &str) -> &Output {
        let stderr = self.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "one error line: {self:#?}");
        assert!(stderr.starts_with(&format!("{name}: error: ")), "{self:#?}");
        assert!(stderr.contains(needle), "{needle:?} in {self:#?}");
        self
    }

    /// Fails the test unless stdout is `bytes` and then one newline (what a
    /// printer adds to a text that does not end with one); large outputs
    /// are not shown.
    #[track_caller]
    pub fn expect_stdout_and_newline(&self, bytes: &[u8]) -> &Output {
        assert_eq!(
            self.stdout.len(),
            bytes.len() + 1,
            "stdout's length; stderr: {}",
            self.stderr
        );
        assert!(
            self.stdout[..bytes.len()] == bytes[..],
            "stdout's bytes differ"
        );
        assert_eq!(self.stdout.last(), Some(&b'\n'));
        self
    }
}

/// Runs `bin ARGS...` to completion within [`TIMEOUT`].
pub fn run(bin: &str, args: &[&str]) -> Output {
    run_within(bin, args, TIMEOUT)
}

/// Runs `bin ARGS...` with no stdin; kills it and fails the test if it is
/// still running after `limit`.
pub fn run_within(bin: &str, args: &[&str], limit: Duration) -> Output {
    run_with_stdin(bin, args, None, limit)
}

/// Runs `bin ARGS...` with no stdin and stdout into `file` (a file, an
/// appending file, a pipe's end...), within `limit`.
pub fn run_into(bin: &str, args: &[&str], file: std::fs::File, limit: Duration) -> Output {
    Cmd::new(bin, args).run_into(file, limit)
}

/// Runs `bin ARGS...` with `stdin` as its standard input (closed after it),
/// within `limit`.
pub fn run_with_stdin(bin: &str, args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let cmd = Cmd::new(bin, args);
    match stdin {
        Some(bytes) => cmd.run_with_stdin(bytes, limit),
        None => cmd.run_within(limit),
    }
}

/// Waits for a guarded child whose stdout and stderr are still piped and
/// collects them (stdout may have been taken: it is then empty).
pub fn finish(mut guard: Guard, started: Instant, limit: Duration) -> Output {
    let stdout = guard.0.stdout.take().map(slurp);
    let stderr = guard.0.stderr.take().map(slurp);
    let status = wait_until(&mut guard, started + limit)
        .unwrap_or_else(|| panic!("still running after {limit:?}: {:?}", guard.0));
    let take = |reader: Option<JoinHandle<Vec<u8>>>| {
        reader
            .map(|r| r.join().unwrap_or_default())
            .unwrap_or_default()
    };
    Output {
        status,
        // The pipes close when the process exits: the readers end.
        stdout: take(stdout),
        stderr: String::from_utf8_lossy(&take(stderr)).into_owned(),
        elapsed: started.elapsed(),
    }
}

fn wait_until(guard: &mut Guard, deadline: Instant) -> Option<ExitStatus> {
    loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

fn slurp(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// A binary running in the background, its output read line by line;
/// killed and reaped when dropped.
#[derive(Debug)]
pub struct Proc {
    /// The process, for what the methods do not cover.
    pub child: Guard,
    stdout: Option<Receiver<String>>,
    stderr: Receiver<String>,
    /// Every stderr line so far, each with its newline.
    log: Arc<Mutex<String>>,
    started: Instant,
}

/// What a background run printed, line by line.
#[derive(Debug)]
pub struct Lines {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Lines {
    /// How many stdout lines start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.stdout.iter().filter(|l| l.starts_with(prefix)).count()
    }
}

/// Starts `bin ARGS...` with stdout and stderr read line by line.
pub fn spawn(bin: &str, args: &[&str]) -> Proc {
    Cmd::new(bin, args).spawn()
}

/// Starts `bin ARGS...` with stderr read line by line and stdout left to the
/// test ([`Proc::raw_stdout`]).
pub fn spawn_raw(bin: &str, args: &[&str]) -> Proc {
    Cmd::new(bin, args).spawn_raw()
}

impl Proc {
    /// The child's stdout, for a test that reads it itself ([`spawn_raw`]).
    pub fn raw_stdout(&mut self) -> Option<&mut ChildStdout> {
        self.child.0.stdout.as_mut()
    }

    /// Closes the child's stdout pipe (the reader goes away, as with `| head`).
    pub fn close_stdout(&mut self) {
        self.child.0.stdout.take();
    }

    /// The process's id, to measure it ([`limits::usage`]).
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// When the process was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The next stdout line, or `None` if none came within `wait`.
    pub fn line_within(&self, wait: Duration) -> Option<String> {
        self.stdout.as_ref()?.recv_timeout(wait).ok()
    }

    /// The next stdout line; fails the test if none comes within [`TIMEOUT`].
    pub fn line(&self) -> String {
        self.line_within(TIMEOUT)
            .expect("a stdout line within the time-out")
    }

    /// Every stdout line until stdout ends (waiting at most [`TIMEOUT`]
    /// for each), with when it came after `since`: for tests that time
    /// what appears when.
    pub fn timed_lines(&self, since: Instant) -> Vec<(String, Duration)> {
        std::iter::from_fn(|| self.line_within(TIMEOUT))
            .map(|line| (line, since.elapsed()))
            .collect()
    }

    /// Every stderr line the process has printed so far, each with its
    /// newline, whether or not a wait has taken it.
    pub fn stderr_log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The next stderr line, or `None` if none came within `wait`.
    pub fn stderr_line_within(&self, wait: Duration) -> Option<String> {
        self.stderr.recv_timeout(wait).ok()
    }

    /// Waits for the stderr line that contains `needle` and returns it.
    pub fn wait_for_stderr(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(wait) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!(
                    "no stderr line with {needle:?} within {TIMEOUT:?}; stderr:\n{}",
                    self.stderr_log()
                ),
            }
        }
    }

    /// The address of the first `listening on ADDR` line on stderr: how a
    /// server started on port 0 tells a test its port.
    pub fn listening_addr(&self) -> SocketAddr {
        let line = self.wait_for_stderr("listening on ");
        let rest = line.split("listening on ").nth(1).unwrap_or_default();
        let addr = rest.split([' ', ',']).next().unwrap_or_default();
        addr.parse()
            .unwrap_or_else(|err| panic!("bad address in {line:?}: {err}"))
    }

    /// The addresses of the first `n` `listening on ADDR` lines, in order.
    pub fn listening_addrs(&self, n: usize) -> Vec<SocketAddr> {
        (0..n).map(|_| self.listening_addr()).collect()
    }

    /// Waits for the process to exit by itself (at most [`TIMEOUT`]) and
    /// returns what it printed; a process still running is killed and the
    /// test fails.
    pub fn finish(self) -> Lines {
        self.finish_within(TIMEOUT)
    }

    /// [`Proc::finish`] with another limit.
    pub fn finish_within(mut self, limit: Duration) -> Lines {
        let status = self.exit_within(limit);
        // The pipes close when the process exits; the readers then hang up.
        let grace = Instant::now() + Duration::from_secs(2);
        Lines {
            status,
            stdout: self
                .stdout
                .as_ref()
                .map(|rx| drain(rx, grace))
                .unwrap_or_default(),
            stderr: drain(&self.stderr, grace),
        }
    }

    /// Waits for the process to exit by itself (at most `limit`; past it
    /// the process is killed and the test fails) and returns all it
    /// printed as an [`Output`]: the bytes on stdout that the test left
    /// ([`spawn_raw`]; none once closed, or when read line by line), and
    /// every stderr line ([`Proc::stderr_log`]).
    pub fn output_within(mut self, limit: Duration) -> Output {
        let stdout = self.child.0.stdout.take().map(slurp);
        let status = self.exit_within(limit);
        // The pipes close when the process exits; the readers then end.
        let stdout = stdout.map(|r| r.join().unwrap_or_default());
        drain(&self.stderr, Instant::now() + Duration::from_secs(2));
        Output {
            status,
            stdout: stdout.unwrap_or_default(),
            stderr: self.stderr_log(),
            elapsed: self.started.elapsed(),
        }
    }

    /// Kills the process (SIGKILL) and returns what it printed.
    pub fn kill(mut self) -> Lines {
        let _ = self.child.0.kill();
        self.finish()
    }

    /// Waits for the exit, at most `limit`; past it, kills the process and
    /// fails the test.
    fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let Some(status) = wait_until(&mut self.child, Instant::now() + limit) else {
            let _ = self.child.0.kill();
            let _ = self.child.0.wait();
            let stderr = drain(&self.stderr, Instant::now() + Duration::from_secs(1));
            panic!("did not exit within {limit:?}; stderr: {stderr:?}");
        };
        status
    }
}

/// Fails the test unless `arrivals` ([`Proc::timed_lines`]) are the lines
/// of `expected`, in order, line `i` before `i × interval + slack`: each
/// line shows when its message is sent, not one interval later.
#[track_caller]
pub fn expect_paced(
    arrivals: &[(String, Duration)],
    expected: &str,
    interval: Duration,
    slack: Duration,
) {
    assert_eq!(arrivals.len(), expected.lines().count(), "{arrivals:?}");
    for (i, ((line, at), want)) in arrivals.iter().zip(expected.lines()).enumerate() {
        assert_eq!(line, want);
        let sent = interval * i as u32;
        assert!(*at < sent + slack, "line {i} at {at:?}");
    }
}

/// Reads `text()` every 10 ms until it contains `needle`, and returns it;
/// fails the test, showing the text, if it does not within `limit`. For a
/// log that something else writes (a file, [`Proc::stderr_log`]).
pub fn wait_for_text(needle: &str, limit: Duration, mut text: impl FnMut() -> String) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let now = text();
        if now.contains(needle) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{needle:?} never appeared within {limit:?} in:\n{now}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// Every line the channel yields until its sender hangs up or `deadline`.
fn drain(rx: &Receiver<String>, deadline: Instant) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        out.push(line);
    }
    out
}

/// A thread that sends each line of `pipe` (lossy UTF-8, without its
/// newline) down a channel, and first appends it, with its newline, to
/// `log` if there is one.
fn lines(pipe: impl Read + Send + 'static, log: Option<Arc<Mutex<String>>>) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    let line = String::from_utf8_lossy(&buf).into_owned();
                    if let Some(log) = &log {
                        let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                        log.push_str(&line);
                        log.push('\n');
                    }
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The folder cargo builds the workspace's executables into
/// (`target/debug`): the parent of the test executable's `deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let deps = exe.parent().expect("a test executable lives in a folder");
    deps.parent().expect("deps/ has a parent").to_path_buf()
}

/// The workspace's executables, all of them, built once per test binary,
/// and the folder they are in (the grader's tests run every part).
pub fn workspace_bins() -> PathBuf {
    build_once(&["--workspace"]);
    target_dir()
}

/// The path of the workspace's executable `name`, built once per test
/// binary if need be (its package has the same name): Part 4's receiver
/// tests need the sender, and the other way round.
pub fn workspace_bin(name: &str) -> &'static str {
    build_once(&["-p", name]);
    let path = target_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    Box::leak(path.to_string_lossy().into_owned().into_boxed_str())
}

/// Runs `cargo build --bins` with `which` once per test binary: `cargo test
/// -p NAME` builds only that package's executables. Cargo releases its
/// build lock before it runs the tests, so the nested build only waits for
/// another cargo, never for itself; under `cargo test --workspace` it finds
/// everything built.
fn build_once(which: &[&str]) {
    static BUILT: Mutex<Option<HashMap<String, Result<(), String>>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    let result = built
        .get_or_insert_with(HashMap::new)
        .entry(which.join(" "))
        .or_insert_with(|| cargo_build(which));
    if let Err(why) = result {
        panic!("building the workspace's binaries: {why}");
    }
}

fn cargo_build(which: &[&str]) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut args = vec!["build", "--bins", "--quiet"];
    args.extend_from_slice(which);
    if target_dir().ends_with("release") {
        args.push("--release");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = std::process::Command::new(&cargo);
    child.args(&args).current_dir(root);
    // Fifteen minutes: a fresh clone builds rustls and friends first.
    let out = finish(
        Guard(
            child
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("running {cargo}: {e}"))?,
        ),
        Instant::now(),
        Duration::from_secs(900),
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("cargo {}: {}", args.join(" "), out.stderr))
    }
}
