//! What a process uses, read from `/proc` (Linux): threads
//! (`/proc/<pid>/task`), open file descriptors (`/proc/<pid>/fd`) and
//! memory (`VmRSS`, and `VmHWM`, the peak resident set, in
//! `/proc/<pid>/status`), for the hostile-client and fault tests
//! (docs/HARDENING.md) that check a server or client stays under its caps.

use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// What a process uses at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub threads: usize,
    pub fds: usize,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Peak resident memory since the process started, KiB.
    pub hwm_kib: u64,
}

impl Usage {
    /// The larger of each field.
    pub fn max(self, other: Usage) -> Usage {
        Usage {
            threads: self.threads.max(other.threads),
            fds: self.fds.max(other.fds),
            rss_kib: self.rss_kib.max(other.rss_kib),
            hwm_kib: self.hwm_kib.max(other.hwm_kib),
        }
    }
}

/// Entries of a `/proc` folder (0 once the process is gone).
fn entries(path: String) -> usize {
    std::fs::read_dir(path).map_or(0, |dir| dir.count())
}

/// A `kB` line of `/proc/<pid>/status`, such as `VmHWM`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// What `pid` uses now (zeros once it has exited).
pub fn usage(pid: u32) -> Usage {
    Usage {
        threads: entries(format!("/proc/{pid}/task")),
        fds: entries(format!("/proc/{pid}/fd")),
        rss_kib: status_kib(pid, "VmRSS"),
        hwm_kib: status_kib(pid, "VmHWM"),
    }
}

/// Samples a process every few milliseconds in a thread and keeps the
/// peaks, until [`Sampler::stop`].
#[derive(Debug)]
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Usage>>,
}

impl Sampler {
    pub fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = thread::spawn(move || {
            let mut peak = usage(pid);
            while !stopped.load(Ordering::SeqCst) {
                peak = peak.max(usage(pid));
                thread::sleep(Duration::from_millis(2));
            }
            peak.max(usage(pid))
        });
        Sampler {
            stop,
            thread: Some(thread),
        }
    }

    /// The peaks seen since [`Sampler::start`].
    pub fn stop(mut self) -> Usage {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `done` every 10 ms until it holds or `limit` has passed; whether
/// it held.
pub fn eventually(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Raises this process's soft `RLIMIT_NOFILE` as the servers do
/// (`netserve::accept::raise_fd_limit`: to the hard limit), for a test that
/// opens many connections itself; the limit now in force, or `want` where
/// the system has no such limit (Windows).
pub fn raise_fd_limit(want: u64) -> u64 {
    match netserve::accept::raise_fd_limit() {
        0 if cfg!(not(unix)) => want,
        now => now,
    }
}

/// A run of a program whose stdout went to `/dev/null`, measured.
#[derive(Debug)]
pub struct Measured {
    pub status: ExitStatus,
    pub stderr: String,
    /// The peaks sampled while it ran (`hwm_kib`: its peak RSS).
    pub peak: Usage,
    pub elapsed: Duration,
}

/// Runs `bin ARGS...` with stdout to `/dev/null` (a client may print
/// gigabytes), sampling its threads, descriptors and memory until it
/// exits; kills it and fails the test past `limit`.
pub fn run_measured(bin: &str, args: &[&str], limit: Duration) -> Measured {
    let started = Instant::now();
    let mut guard = crate::Guard(
        Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {bin}: {err}")),
    );
    let pid = guard.0.id();
    let mut stderr = guard.0.stderr.take().expect("piped stderr");
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut peak = usage(pid);
    let status = loop {
        // VmHWM only grows: the last sample before the exit is the peak
        // but for what the last 2 ms added.
        peak = peak.max(usage(pid));
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            started.elapsed() < limit,
            "{bin} {args:?} still running after {limit:?}"
        );
        thread::sleep(Duration::from_millis(2));
    };
    Measured {
        status,
        stderr: reader.join().unwrap_or_default(),
        peak,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_measured() {
        let now = usage(std::process::id());
        assert!(now.threads >= 1 && now.fds >= 3, "{now:?}");
        assert!(now.rss_kib > 0 && now.hwm_kib >= now.rss_kib, "{now:?}");
        assert_eq!(usage(u32::MAX).threads, 0);
        assert!(raise_fd_limit(256) >= 256);
    }
}
