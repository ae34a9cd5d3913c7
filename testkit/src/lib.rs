//! Running the workspace's real binaries in integration tests, with bounded
//! waits: every child is killed and reaped when its guard drops, and every
//! wait has a deadline, so that no test can hang (DEVELOPERS.md: every test
//! stops by itself).
//!
//! Two ways to run a binary:
//! - [`run`] / [`run_within`]: to completion, whole output as bytes
//!   ([`Output`]);
//! - [`spawn`]: in the background, output line by line as it comes
//!   ([`Proc`]), for servers and for tests that time what appears when.
//!
//! [`limits`] measures what a process uses (threads, descriptors, memory)
//! from `/proc`, for the hostile-client and fault tests; [`netns`] runs a
//! test's server and client on a host without IPv6.

pub mod limits;
pub mod netns;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
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
    /// `NAME: error: ` and containing `needle` (SPEC.md's error convention).
    pub fn expect_one_line_error(&self, name: &str, needle: &str) -> &Output {
        let stderr = self.stderr.trim_end();
        assert_eq!(stderr.lines().count(), 1, "one error line: {self:#?}");
        assert!(stderr.starts_with(&format!("{name}: error: ")), "{self:#?}");
        assert!(stderr.contains(needle), "{needle:?} in {self:#?}");
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

/// Runs `bin ARGS...` with `stdin` as its standard input (closed after it),
/// within `limit`.
pub fn run_with_stdin(bin: &str, args: &[&str], stdin: Option<&[u8]>, limit: Duration) -> Output {
    let started = Instant::now();
    let mut guard = Guard(
        Command::new(bin)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {bin}: {err}")),
    );
    if let (Some(bytes), Some(mut pipe)) = (stdin, guard.0.stdin.take()) {
        // A child that exits without reading closes the pipe: not an error.
        let _ = pipe.write_all(bytes);
    }
    finish(guard, started, limit)
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
    guard: Guard,
    stdout: Option<Receiver<String>>,
    stderr: Receiver<String>,
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
    let mut proc = spawn_raw(bin, args);
    proc.stdout = proc.guard.0.stdout.take().map(lines);
    proc
}

/// Starts `bin ARGS...` with stderr read line by line and stdout left to the
/// test ([`Proc::raw_stdout`]).
pub fn spawn_raw(bin: &str, args: &[&str]) -> Proc {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawn {bin}: {err}"));
    let stderr = lines(child.stderr.take().expect("piped stderr"));
    Proc {
        guard: Guard(child),
        stdout: None,
        stderr,
        started: Instant::now(),
    }
}

impl Proc {
    /// The child's stdout, for a test that reads it itself ([`spawn_raw`]).
    pub fn raw_stdout(&mut self) -> Option<&mut ChildStdout> {
        self.guard.0.stdout.as_mut()
    }

    /// Closes the child's stdout pipe (the reader goes away, as with `| head`).
    pub fn close_stdout(&mut self) {
        self.guard.0.stdout.take();
    }

    /// The process's id, to measure it ([`limits::usage`]).
    pub fn pid(&self) -> u32 {
        self.guard.0.id()
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
                Err(_) => panic!("no stderr line with {needle:?} within {TIMEOUT:?}"),
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

    /// Waits for the process to exit by itself (at most [`TIMEOUT`]) and
    /// returns what it printed; a process still running is killed and the
    /// test fails.
    pub fn finish(self) -> Lines {
        self.finish_within(TIMEOUT)
    }

    /// [`Proc::finish`] with another limit.
    pub fn finish_within(mut self, limit: Duration) -> Lines {
        let deadline = Instant::now() + limit;
        let Some(status) = wait_until(&mut self.guard, deadline) else {
            let _ = self.guard.0.kill();
            let _ = self.guard.0.wait();
            let stderr = drain(&self.stderr, Instant::now() + Duration::from_secs(1));
            panic!("did not exit within {limit:?}; stderr: {stderr:?}");
        };
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

    /// Kills the process (SIGKILL) and returns what it printed.
    pub fn kill(mut self) -> Lines {
        let _ = self.guard.0.kill();
        self.finish()
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
/// newline) down a channel.
fn lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
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
                    if tx.send(String::from_utf8_lossy(&buf).into_owned()).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}
