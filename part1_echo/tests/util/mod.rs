//! Running the real `part1_echo` binary with bounded waits: every child is
//! killed when its guard drops, and every wait has a deadline, so no test
//! can hang.

#![allow(dead_code)] // each test file uses its own part of the helpers

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The handout's default TCP message (42 bytes).
pub const HANDOUT_MESSAGE: &str = "This is the message.  It will be repeated.";

/// A running `part1_echo`; killed and reaped when dropped.
pub struct Proc {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

/// What a finished process printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Finished {
    /// The stdout lines that start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.stdout.iter().filter(|l| l.starts_with(prefix)).count()
    }
}

/// Starts `part1_echo ARGS...` with stdout and stderr read line by line.
pub fn spawn(args: &[&str]) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_part1_echo"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn part1_echo");
    let stdout = lines(child.stdout.take().expect("piped stdout"));
    let stderr = lines(child.stderr.take().expect("piped stderr"));
    Proc {
        child,
        stdout,
        stderr,
    }
}

/// Runs `part1_echo ARGS...` to completion (at most [`TIMEOUT`]).
pub fn run(args: &[&str]) -> Finished {
    spawn(args).finish()
}

/// Starts a receiving subcommand (`tcp-server` or `udp-recv` with
/// `--port 0`, the arguments split on white space) and returns it with the
/// address from its `listening on` line.
pub fn listening(command_line: &str) -> (Proc, SocketAddr) {
    let args: Vec<&str> = command_line.split_whitespace().collect();
    let proc = spawn(&args);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let line = proc
            .stderr_line_until(deadline)
            .unwrap_or_else(|| panic!("no 'listening on' line from {args:?}"));
        if let Some(rest) = line.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            let addr: SocketAddr = addr
                .parse()
                .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}"));
            return (proc, addr);
        }
    }
}

impl Proc {
    /// The next stdout line, or `None` if none came within `wait`.
    pub fn line_within(&self, wait: Duration) -> Option<String> {
        self.stdout.recv_timeout(wait).ok()
    }

    /// The next stdout line; fails the test if none comes in time.
    pub fn line(&self) -> String {
        self.line_within(TIMEOUT)
            .expect("a stdout line within the time-out")
    }

    fn stderr_line_until(&self, deadline: Instant) -> Option<String> {
        let wait = deadline.saturating_duration_since(Instant::now());
        self.stderr.recv_timeout(wait).ok()
    }

    /// Waits for the process to exit by itself (at most [`TIMEOUT`]) and
    /// returns what it printed; a process still running is killed and the
    /// test fails.
    pub fn finish(mut self) -> Finished {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = drain(&self.stderr, Instant::now() + Duration::from_secs(1));
                    panic!("part1_echo did not exit within {TIMEOUT:?}; stderr: {stderr:?}");
                }
                None => thread::sleep(Duration::from_millis(10)),
            }
        };
        // The pipes close when the process exits; the reader threads then
        // hang up.
        let stdout = drain(&self.stdout, deadline + Duration::from_secs(1));
        let stderr = drain(&self.stderr, deadline + Duration::from_secs(1));
        Finished {
            status,
            stdout,
            stderr,
        }
    }

    /// Kills the process (SIGKILL) and returns what it printed.
    pub fn kill(mut self) -> Finished {
        let _ = self.child.kill();
        self.finish()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// A thread that sends each line of `pipe` (lossy UTF-8) down a channel.
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
