//! Running a group's executable with a deadline on every wait: whatever it
//! does, the grader goes on. A child that outlives its case is killed with
//! every process it started (a shell script's pipeline included), and
//! stdout is read as it comes, with the time of each read, so that a case
//! can tell *when* a line appeared and compare a 100 MiB flood without
//! holding it.
//!
//! Not `testkit`'s runner: that one fails the test (panics) when a child
//! misbehaves, where the grader needs a verdict and the time of each read.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How much of a child's stderr is kept for the verdict's explanation.
const STDERR_KEPT: usize = 64 * 1024;

/// A running executable; killed, with its descendants, when dropped.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    stdout: Receiver<(Instant, Vec<u8>)>,
    stdout_done: bool,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The thread that drains stderr: done once the pipe is at its end.
    stderr_reader: thread::JoinHandle<()>,
    started: Instant,
    status: Option<ExitStatus>,
    /// The child leads a process group of its own.
    group: bool,
}

/// What [`Running::next_chunk`] found.
#[derive(Debug)]
pub enum Next {
    /// Bytes from one `read()` of the pipe, and when they came.
    Data(Instant, Vec<u8>),
    /// The child closed stdout (it exited, usually).
    Eof,
    /// Nothing before the deadline.
    Timeout,
}

/// A finished run.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Finished {
    /// Stdout's lines, lossily decoded.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Starts `exe ARGS...` with `stdin` (closed after it; none: `/dev/null`).
pub fn spawn(exe: &Path, args: &[String], stdin: Option<Vec<u8>>) -> Result<Running, String> {
    let name = exe
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| exe.display().to_string());
    let mut cmd = Command::new(exe);
    cmd.args(args);
    spawn_command(cmd, name, stdin, false)
}

/// Starts `cmd`, called `name` in verdicts, with `stdin` as [`spawn`];
/// `group`: the command makes its own process group (a boxed program), and
/// the whole group is killed with it.
pub fn spawn_command(
    mut cmd: Command,
    name: String,
    stdin: Option<Vec<u8>>,
    group: bool,
) -> Result<Running, String> {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot run {name}: {err}"))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A thread, so that a child that does not read its stdin cannot
        // block the grader; a child that exits early closes the pipe.
        thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
    }
    let (tx, stdout) = mpsc::channel();
    let mut out = child.stdout.take().expect("piped stdout");
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match out.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let mut err = child.stderr.take().expect("piped stderr");
    let kept = stderr.clone();
    let stderr_reader = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match err.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                    let room = STDERR_KEPT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
    });
    Ok(Running {
        name,
        child,
        stdout,
        stdout_done: false,
        stderr,
        stderr_reader,
        started: Instant::now(),
        status: None,
        group,
    })
}

impl Running {
    /// The executable's file name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When it was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The next piece of stdout, waiting at most until `deadline`.
    pub fn next_chunk(&mut self, deadline: Instant) -> Next {
        if self.stdout_done {
            return Next::Eof;
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match self.stdout.recv_timeout(wait) {
            Ok((at, bytes)) => Next::Data(at, bytes),
            Err(RecvTimeoutError::Timeout) => Next::Timeout,
            Err(RecvTimeoutError::Disconnected) => {
                self.stdout_done = true;
                Next::Eof
            }
        }
    }

    /// Stdout until it closes, at most `max` bytes kept; `Err` with what
    /// came so far if the deadline passes first.
    pub fn read_stdout(&mut self, deadline: Instant, max: usize) -> Result<Vec<u8>, Vec<u8>> {
        let mut out = Vec::new();
        loop {
            match self.next_chunk(deadline) {
                Next::Data(_, bytes) => {
                    let room = max.saturating_sub(out.len());
                    out.extend_from_slice(&bytes[..bytes.len().min(room)]);
                }
                Next::Eof => return Ok(out),
                Next::Timeout => return Err(out),
            }
        }
    }

    /// The exit status, waiting at most until `deadline`.
    pub fn wait_exit(&mut self, deadline: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.status {
                return Some(status);
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether it is still running (without waiting).
    pub fn is_running(&mut self) -> bool {
        self.wait_exit(Instant::now()).is_none()
    }

    /// Runs to completion: all of stdout (at most `max` bytes kept) and the
    /// exit status, or an error that says how far it got by `deadline`.
    pub fn finish(mut self, deadline: Instant, max: usize) -> Result<Finished, String> {
        let stdout = match self.read_stdout(deadline, max) {
            Ok(out) => out,
            Err(partial) => {
                return Err(format!(
                    "{} still running after {} (killed); it printed {}",
                    self.name,
                    secs(self.started.elapsed()),
                    snippet(&partial, 0)
                ));
            }
        };
        let Some(status) = self.wait_exit(deadline) else {
            return Err(format!(
                "{} closed stdout but did not exit within {} (killed)",
                self.name,
                secs(self.started.elapsed())
            ));
        };
        // The child has exited, but the thread that drains its stderr may
        // not have read the last lines yet (a loaded machine): wait for the
        // pipe's end, for at most a second past the exit (a descendant may
        // hold the pipe open).
        let drained = deadline.min(Instant::now() + Duration::from_secs(1));
        while !self.stderr_reader.is_finished() && Instant::now() < drained {
            thread::sleep(Duration::from_millis(2));
        }
        Ok(Finished {
            status,
            stdout,
            stderr: self.stderr(),
        })
    }

    /// What it wrote to stderr so far (the first 64 KiB).
    pub fn stderr(&self) -> String {
        let kept = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&kept).into_owned()
    }

    /// Waits until stderr contains `needle`; the line that holds it.
    pub fn wait_stderr(&mut self, needle: &str, deadline: Instant) -> Option<String> {
        loop {
            let text = self.stderr();
            if let Some(line) = text.lines().find(|l| l.contains(needle)) {
                return Some(line.to_string());
            }
            if Instant::now() >= deadline || !self.is_running() {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it and everything it started, and reaps it.
    pub fn kill(&mut self) {
        if self.status.is_some() {
            return;
        }
        if self.group {
            // SAFETY: kill(2) of the process group the child leads.
            unsafe {
                libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
            }
        }
        kill_tree(self.child.id());
        let _ = self.child.kill();
        if let Ok(status) = self.child.wait() {
            self.status = Some(status);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// SIGKILLs `pid`'s descendants (found in `/proc/PID/task/*/children`),
/// deepest first, collected before any dies: an orphan is re-parented and
/// could no longer be found. Without `/proc` (macOS) it finds none, and on
/// Windows it is not built: the lab's programs start no children, so
/// killing the program itself is enough there.
#[cfg(unix)]
fn kill_tree(pid: u32) {
    let mut all = Vec::new();
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(children) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                if !all.contains(&child) {
                    all.push(child);
                    todo.push(child);
                }
            }
        }
    }
    for child in all.into_iter().rev() {
        // SAFETY: kill(2) with a pid read just now; at worst it names a
        // process that already exited and the call fails with ESRCH.
        unsafe {
            libc::kill(child as libc::pid_t, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_tree(_pid: u32) {}

/// A short, escaped excerpt of `bytes` from `at`, quoted: what a verdict
/// shows of an output.
pub fn snippet(bytes: &[u8], at: usize) -> String {
    if bytes.is_empty() {
        return "nothing".to_string();
    }
    let at = at.min(bytes.len());
    let end = (at + 48).min(bytes.len());
    let more = if end < bytes.len() { "…" } else { "" };
    format!("\"{}{more}\"", bytes[at..end].escape_ascii())
}

/// A duration as seconds for a verdict: `1.50 s`.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The last non-empty line of a child's stderr, for a verdict.
pub fn last_line(stderr: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let mut line = line.trim().to_string();
    if line.len() > 160 {
        let mut cut = 160;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push('…');
    }
    line
}

/// Explains an exit status that is not success: `exit status 1 (part2_pdc:
/// error: …)`.
pub fn failed_status(status: ExitStatus, stderr: &str) -> String {
    let what = match status.code() {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_string(),
    };
    match last_line(stderr) {
        line if line.is_empty() => what,
        line => format!("{what} ({line})"),
    }
}
