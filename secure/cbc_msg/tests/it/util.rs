//! Helpers shared by the integration tests: run the real binary under a
//! time limit, start a server on loopback and read what it prints, and
//! scratch directories with key files.

use cbc_msg::Keys;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cbc_msg");

/// Enough for any run here; a hung binary fails the test instead of
/// hanging it.
pub const LIMIT: Duration = Duration::from_secs(20);

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit status `code` and one `cbc_msg: error: ` line that
    /// contains every needle.
    pub fn assert_error(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.status.code(), Some(code), "{self:?}");
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| !l.starts_with("cbc_msg: warning"))
            .collect();
        assert_eq!(errors.len(), 1, "one error line: {self:?}");
        assert!(errors[0].starts_with("cbc_msg: error: "), "{self:?}");
        for needle in needles {
            assert!(errors[0].contains(needle), "{needle:?} in {self:?}");
        }
    }
}

/// Kills the child when a test fails or times out.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs cbc_msg with `args` and `stdin`, failing the test past `LIMIT`.
pub fn cbc_msg(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning cbc_msg"),
    );
    let mut input = child.0.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // A child that exits without reading closes the pipe: not an error.
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    finish(child)
}

/// Collects a spawned child's output, killing it past `LIMIT`.
fn finish(mut child: KillOnDrop) -> Run {
    let out_reader = read_all(child.0.stdout.take());
    let err_reader = read_all(child.0.stderr.take());
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "cbc_msg did not finish within {LIMIT:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Reads a pipe to its end on a thread of its own, so that neither pipe
/// can fill up and stall the child.
fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A scratch directory under the target directory, removed on drop.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "cbc_msg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// A key file `name` (mode 0600) holding fresh keys.
    pub fn key_file(&self, name: &str) -> (PathBuf, Keys) {
        let keys = Keys::generate().unwrap();
        let path = self.path(name);
        keys.save(&path, false).unwrap();
        (path, keys)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `cbc_msg server`, its stdout and stderr read line by line.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    child: KillOnDrop,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Server {
    /// Starts `cbc_msg server 0 --bind BIND --key-file KEY EXTRA...` and
    /// waits for its `listening on` line.
    pub fn start(bind: &str, key: &Path, extra: &[&str]) -> Server {
        let mut child = KillOnDrop(
            Command::new(BIN)
                .args(["server", "0", "--bind", bind, "--key-file"])
                .arg(key)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawning cbc_msg server"),
        );
        let stdout = lines(child.0.stdout.take().unwrap());
        let stderr = lines(child.0.stderr.take().unwrap());
        let first = stderr
            .recv_timeout(LIMIT)
            .expect("the server's 'listening on' line");
        let addr = first
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        Server {
            addr,
            child,
            stdout,
            stderr,
        }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// The next stdout line, or a failure after `LIMIT`.
    pub fn line(&self) -> String {
        self.stdout
            .recv_timeout(LIMIT)
            .unwrap_or_else(|err| panic!("no stdout line from the server: {err}"))
    }

    /// The next stderr line, or a failure after `LIMIT`.
    pub fn error_line(&self) -> String {
        self.stderr
            .recv_timeout(LIMIT)
            .unwrap_or_else(|err| panic!("no stderr line from the server: {err}"))
    }

    /// The next stderr line if one comes within `wait`.
    pub fn error_line_within(&self, wait: Duration) -> Option<String> {
        self.stderr.recv_timeout(wait).ok()
    }

    /// Asserts that the server prints nothing on stdout for `wait`.
    pub fn assert_quiet(&self, wait: Duration) {
        match self.stdout.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("unexpected stdout from the server: {other:?}"),
        }
    }

    /// Whether the server process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.0.try_wait().unwrap().is_none()
    }
}

fn lines(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A TCP connection to `addr` with a bounded wait.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, LIMIT).expect("connecting to the server");
    stream.set_write_timeout(Some(LIMIT)).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    stream
}

/// Sends `message` with the real client; asserts it succeeded.
pub fn send(host: &str, port: &str, key: &Path, message: &str) -> Run {
    let key = key.to_str().unwrap();
    let run = cbc_msg(
        &[
            "client",
            host,
            port,
            "--key-file",
            key,
            "--message",
            message,
        ],
        b"",
    );
    assert!(run.status.success(), "{run:?}");
    run
}
