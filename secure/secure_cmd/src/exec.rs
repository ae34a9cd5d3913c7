//! Running one command: no shell, a time-out and an output cap, stdout and
//! stderr in one pipe.
//!
//! - `std::process::Command` runs the program (in the server, the path
//!   resolved at start-up, `src/policy.rs`, in the sandbox of
//!   `src/sandbox.rs`) with the request's words as its arguments: no shell ever sees them,
//!   so `;`, `|`, `$(…)`, `*` and quotes are plain characters.
//! - stdin is `/dev/null`: a command that reads stdin gets end of file at
//!   once instead of waiting for input that cannot come.
//! - stdout and stderr are the same pipe (as `2>&1` makes them), so the
//!   output keeps the order in which the command wrote it; reading two
//!   pipes and concatenating would move every error message to the end.
//! - The child leads a process group of its own (`setpgid`, via
//!   `process_group(0)`), so that a time-out or an output over the cap can
//!   kill it *and* whatever it started (`kill(-pgid, SIGKILL)`): killing
//!   the child alone would leave its children running, holding the pipe.
//!   A descendant that leaves the group (`setsid`) escapes; no command of
//!   the default allow-list does.
//! - The answer's header carries the exit status, which is known only at
//!   the end: the output is gathered in memory first, hence the cap.
//!
//! Process groups and `poll(2)` on a pipe are Unix's: on Windows the server
//! runs but answers every command "not on this system" (the lab's Part 6
//! does not need it; Linux and macOS run commands).

use std::io;
#[cfg(unix)]
use std::io::Read;
#[cfg(unix)]
use std::os::fd::{AsFd, AsRawFd};
#[cfg(unix)]
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::ExitStatus;
#[cfg(unix)]
use std::process::{Child, Command, Stdio};
use std::time::Duration;
#[cfg(unix)]
use std::time::Instant;

/// What a command may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From start to exit, output included.
    pub timeout: Duration,
    /// Bytes of combined output.
    pub output_cap: usize,
}

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    /// It exited (or a signal ended it) within the limits.
    Finished {
        /// The exit code, or 128 + the signal's number (as a shell
        /// reports it: `sleep` killed by SIGKILL is 137).
        status: u8,
        /// stdout and stderr, in the order written.
        output: Vec<u8>,
    },
    /// Still running, or its output still open, at the time-out: killed.
    TimedOut,
    /// It wrote more than the cap: killed.
    OverCap,
    /// It could not be started.
    CannotRun(io::Error),
}

/// Runs `program` (looked up on the PATH) with `args` under `limits`, in
/// the server's own environment: for tests; the server uses
/// [`run_command`] with a [`crate::sandbox::Sandbox`]'s command.
pub fn run(program: &str, args: &[String], limits: Limits) -> Outcome {
    run_command(Command::new(program), args, limits)
}

/// Runs `command` (its program, environment, folder and `pre_exec` set)
/// with `args` under `limits`.
pub fn run_command(mut command: Command, args: &[String], limits: Limits) -> Outcome {
    let started = Instant::now();
    let deadline = started.checked_add(limits.timeout);
    let (mut reader, writer) = match io::pipe() {
        Ok(pipe) => pipe,
        Err(err) => return Outcome::CannotRun(err),
    };
    // Both ends are close-on-exec (pipe2 O_CLOEXEC): a command started at
    // the same moment by another connection does not inherit them, and
    // so cannot keep this pipe open.
    let writer2 = match writer.try_clone() {
        Ok(w) => w,
        Err(err) => return Outcome::CannotRun(err),
    };
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let spawned = command.spawn();
    // Our copies of the write end must go, or the read below would never
    // see end of file.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(err) => return Outcome::CannotRun(err),
    };

    let mut output = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match wait_readable(&reader, deadline) {
            Ok(true) => {}
            Ok(false) => return kill(&mut child, Outcome::TimedOut),
            Err(err) => return kill(&mut child, Outcome::CannotRun(err)),
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return kill(&mut child, Outcome::CannotRun(err)),
        };
        if output.len() + n > limits.output_cap {
            return kill(&mut child, Outcome::OverCap);
        }
        output.extend_from_slice(&buf[..n]);
    }
    // The output is closed; the command may still run (it closed its
    // stdout and stderr, or a child of its own took them and left).
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Outcome::Finished {
                    status: status_code(status),
                    output,
                };
            }
            Ok(None) => {}
            Err(err) => return kill(&mut child, Outcome::CannotRun(err)),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return kill(&mut child, Outcome::TimedOut);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The status a shell would report: the exit code, or 128 + the number of
/// the signal that ended the process.
#[cfg(unix)]
pub fn status_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        // The kernel keeps the low 8 bits of exit()'s argument.
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(u8::MAX),
        (None, None) => u8::MAX,
    }
}

/// Kills the child's process group and reaps the child, then answers
/// `outcome`.
#[cfg(unix)]
fn kill(child: &mut Child, outcome: Outcome) -> Outcome {
    // The child has not been reaped (`try_wait` has not returned it), so
    // its pid, and with it the group's id, cannot have been reused.
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) takes plain integers and touches no memory of
        // ours; a negative pid names the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.wait();
    outcome
}

/// Waits with `poll(2)` until the pipe has data or end of file (`true`),
/// or until `deadline` (`false`).
#[cfg(unix)]
fn wait_readable(pipe: &impl AsFd, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let timeout_ms: libc::c_int = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                // Rounded up: a wait of 0 ms would spin until the deadline.
                let ms = left.as_nanos().div_ceil(1_000_000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        let mut fds = [libc::pollfd {
            fd: pipe.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: `fds` is one live pollfd and its length is 1; the
        // descriptor is borrowed, so it stays open during the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, timeout_ms) };
        match rc {
            // POLLHUP or POLLERR also end the wait: read() then reports
            // the end of file or the error.
            1.. => return Ok(true),
            0 => {}
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        timeout: Duration::from_secs(10),
        output_cap: 1 << 20,
    };

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn signals_are_128_plus_their_number() {
        assert_eq!(status_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(status_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(status_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
        assert_eq!(status_code(ExitStatus::from_raw(libc::SIGTERM)), 143);
    }

    #[test]
    fn output_and_status() {
        match run("echo", &args(&["a;b", "$(id)"]), LIMITS) {
            Outcome::Finished { status, output } => {
                assert_eq!(status, 0);
                assert_eq!(output, b"a;b $(id)\n");
            }
            other => panic!("{other:?}"),
        }
        match run("ls", &args(&["/nonexistent-secure-cmd"]), LIMITS) {
            Outcome::Finished { status, output } => {
                assert_eq!(status, 2);
                assert!(String::from_utf8_lossy(&output).contains("nonexistent-secure-cmd"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stdout_and_stderr_keep_their_order() {
        // sh writes to stdout, stderr, stdout: one pipe keeps that order.
        let script = "echo 1; echo 2 >&2; echo 3";
        match run("sh", &args(&["-c", script]), LIMITS) {
            Outcome::Finished { output, .. } => assert_eq!(output, b"1\n2\n3\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_kill_the_whole_group() {
        let limits = Limits {
            timeout: Duration::from_millis(300),
            output_cap: 1000,
        };
        let started = Instant::now();
        // The shell's child holds the pipe after the shell has exited.
        let outcome = run("sh", &args(&["-c", "sleep 30 & exit 0"]), limits);
        assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(run("yes", &[], limits), Outcome::OverCap));
        let exact = args(&["-c", "head -c 1000 /dev/zero"]);
        match run("sh", &exact, limits) {
            Outcome::Finished { output, .. } => assert_eq!(output.len(), 1000),
            other => panic!("{other:?}"),
        }
        // stdin is /dev/null: cat ends at once.
        assert!(matches!(
            run("cat", &[], limits),
            Outcome::Finished { status: 0, .. }
        ));
    }

    #[test]
    fn a_missing_program_cannot_run() {
        match run("no-such-program-secure-cmd", &[], LIMITS) {
            Outcome::CannotRun(err) => assert_eq!(err.kind(), io::ErrorKind::NotFound),
            other => panic!("{other:?}"),
        }
    }
}
