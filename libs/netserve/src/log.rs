//! A server's log lines that no client can turn against the server: what
//! a peer sent is escaped and cut ([`Peer`]); each source gets at most
//! [`LINES_PER_WINDOW`] lines per [`WINDOW`], the rest summed up in one
//! line ("… and 4,318 more from 127.0.0.1 in the last 10 s"); and writing
//! never blocks a service: lines go through a bounded queue to a thread of
//! their own, and when the queue is full (stderr is a pipe nobody reads)
//! they are dropped and counted, the count written once the writer can go
//! on.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How many of a peer's bytes a line quotes at most.
pub const PEER_BYTES: usize = 64;

/// The rate-limiting window of one source.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Lines one source may cause in a [`WINDOW`]; more are counted.
pub const LINES_PER_WINDOW: u32 = 20;

/// Lines waiting for the writer at most.
pub const QUEUE: usize = 1024;

/// Sources followed at once; beyond, lines of new sources share one count
/// ("other sources"), so that spoofed UDP sources cannot grow the table.
const SOURCES: usize = 4096;

/// A peer's bytes in a log line: quoted, quotes, backslashes, control and
/// non-ASCII bytes escaped (`\"`, `\n`, `\x1b`), the first [`PEER_BYTES`]
/// only, then how many there were.
#[derive(Debug, Clone, Copy)]
pub struct Peer<'a>(pub &'a [u8]);

impl fmt::Display for Peer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = &self.0[..self.0.len().min(PEER_BYTES)];
        write!(f, "\"{}\"", shown.escape_ascii())?;
        if shown.len() < self.0.len() {
            write!(f, "… ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// `n` with thousands separators: 4,318.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A source's window.
#[derive(Debug)]
struct Window {
    start: Instant,
    lines: u32,
    suppressed: u64,
}

#[derive(Debug)]
struct Limits {
    window: Duration,
    lines: u32,
}

#[derive(Debug)]
struct Inner {
    limits: Limits,
    /// `None`: the server's own lines, and sources beyond [`SOURCES`].
    windows: Mutex<HashMap<Option<IpAddr>, Window>>,
    dropped: AtomicU64,
}

impl Inner {
    /// The summary of a window that has ended, if it suppressed lines.
    fn summary(source: Option<IpAddr>, w: &Window, now: Instant) -> Option<String> {
        (w.suppressed > 0).then(|| {
            let from = match source {
                Some(ip) => format!("from {ip}"),
                None => "from other sources".to_string(),
            };
            format!(
                "… and {} more {from} in the last {} s",
                thousands(w.suppressed),
                now.duration_since(w.start).as_secs().max(1)
            )
        })
    }

    /// Summaries of the windows that have ended; forgets them.
    fn expired(&self, now: Instant, all: bool) -> Vec<String> {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        windows.retain(|source, w| {
            if all || now.duration_since(w.start) >= self.limits.window {
                out.extend(Inner::summary(*source, w, now));
                false
            } else {
                true
            }
        });
        out
    }
}

/// A rate-limited, never-blocking log; cloning shares it.
#[derive(Debug, Clone)]
pub struct Logger {
    prefix: Arc<str>,
    inner: Option<(Arc<Inner>, SyncSender<String>)>,
}

impl Logger {
    /// Lines to stderr, each after `prefix: `.
    pub fn stderr(prefix: &str) -> Logger {
        Logger::to_writer(prefix, io::stderr(), WINDOW, LINES_PER_WINDOW)
    }

    /// A log that writes nothing.
    pub fn off() -> Logger {
        Logger {
            prefix: Arc::from(""),
            inner: None,
        }
    }

    /// Lines to `out`, at most `lines` per source per `window`.
    pub fn to_writer(
        prefix: &str,
        out: impl Write + Send + 'static,
        window: Duration,
        lines: u32,
    ) -> Logger {
        let inner = Arc::new(Inner {
            limits: Limits { window, lines },
            windows: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
        });
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let writer = inner.clone();
        let prefix: Arc<str> = Arc::from(prefix);
        let thread_prefix = prefix.clone();
        let started = std::thread::Builder::new()
            .name("log".into())
            .stack_size(64 * 1024)
            .spawn(move || write_lines(&thread_prefix, out, rx, &writer));
        Logger {
            prefix,
            // No thread, no log (the server goes on).
            inner: started.ok().map(|_| (inner, tx)),
        }
    }

    /// Logs one line caused by `source` (`None`: the server itself), unless
    /// the source has had its share of this window.
    pub fn line(&self, source: Option<IpAddr>, line: fmt::Arguments<'_>) {
        let Some((inner, tx)) = &self.inner else {
            return;
        };
        let now = Instant::now();
        let mut summary = None;
        {
            let mut windows = inner.windows.lock().unwrap_or_else(|e| e.into_inner());
            let key = if windows.len() >= SOURCES && !windows.contains_key(&source) {
                None
            } else {
                source
            };
            let w = windows.entry(key).or_insert(Window {
                start: now,
                lines: 0,
                suppressed: 0,
            });
            if now.duration_since(w.start) >= inner.limits.window {
                summary = Inner::summary(key, w, now);
                *w = Window {
                    start: now,
                    lines: 0,
                    suppressed: 0,
                };
            }
            if w.lines >= inner.limits.lines {
                w.suppressed += 1;
                drop(windows);
                if let Some(summary) = summary {
                    self.send(inner, tx, summary);
                }
                return;
            }
            w.lines += 1;
        }
        if let Some(summary) = summary {
            self.send(inner, tx, summary);
        }
        self.send(inner, tx, line.to_string());
    }

    fn send(&self, inner: &Inner, tx: &SyncSender<String>, line: String) {
        match tx.try_send(line) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                inner.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Lines dropped so far because the writer could not keep up.
    pub fn dropped(&self) -> u64 {
        self.inner
            .as_ref()
            .map_or(0, |(inner, _)| inner.dropped.load(Ordering::Relaxed))
    }

    /// The prefix of every line.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The writer thread: lines as they come, each window's summary when it
/// ends (checked every second), the count of dropped lines once it can.
fn write_lines(prefix: &str, mut out: impl Write, rx: Receiver<String>, inner: &Inner) {
    let tick = Duration::from_secs(1).min(inner.limits.window);
    let mut write = |line: &str| {
        let _ = writeln!(out, "{prefix}: {line}").and_then(|()| out.flush());
    };
    loop {
        let (lines, done) = match rx.recv_timeout(tick) {
            Ok(line) => (vec![line], false),
            Err(RecvTimeoutError::Timeout) => (inner.expired(Instant::now(), false), false),
            Err(RecvTimeoutError::Disconnected) => (inner.expired(Instant::now(), true), true),
        };
        for line in &lines {
            write(line);
        }
        let dropped = inner.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            write(&format!(
                "… {} log lines dropped: the log was not being read fast enough",
                thousands(dropped)
            ));
        }
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a log wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn eventually(mut done: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn peer_bytes_are_escaped_and_cut() {
        assert_eq!(Peer(b"CMD_short:1").to_string(), "\"CMD_short:1\"");
        assert_eq!(
            Peer(b"a\"b\nc\x1b[2J\\\xff").to_string(),
            "\"a\\\"b\\nc\\x1b[2J\\\\\\xff\""
        );
        let long = vec![b'x'; 2000];
        let line = Peer(&long).to_string();
        assert!(line.ends_with("\"… (2000 bytes)"), "{line}");
        assert!(line.len() < PEER_BYTES + 20, "{}", line.len());
        // Escapes do not let a line grow past four times the cut.
        let controls = vec![0u8; 2000];
        assert!(Peer(&controls).to_string().len() < 4 * PEER_BYTES + 20);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4318), "4,318");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn each_source_is_rate_limited_and_summed_up() {
        let out = Shared::default();
        let log = Logger::to_writer("srv", out.clone(), Duration::from_millis(300), 3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        for i in 0..4321 {
            log.line(Some(a), format_args!("a {i}"));
        }
        log.line(Some(b), format_args!("b 0"));
        assert!(eventually(|| out
            .text()
            .contains("… and 4,318 more from 127.0.0.1 in the last")));
        let text = out.text();
        assert!(text.contains("srv: a 0\nsrv: a 1\nsrv: a 2\n"), "{text}");
        assert!(!text.contains("a 3\n"), "{text}");
        assert!(text.contains("srv: b 0\n"), "{text}");
        assert!(!text.contains("from ::1"), "{text}");
        // A new window: lines again.
        log.line(Some(a), format_args!("a again"));
        assert!(eventually(|| out.text().contains("srv: a again\n")));
    }

    /// A writer that never returns until the test ends: a pipe nobody reads.
    struct Stuck(Arc<Mutex<()>>);

    impl Write for Stuck {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _wait = self.0.lock();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_writer_never_blocks_a_line() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock().unwrap();
        let log = Logger::to_writer(
            "srv",
            Stuck(gate.clone()),
            Duration::from_secs(10),
            u32::MAX,
        );
        let started = Instant::now();
        for i in 0..(QUEUE as u64 * 10) {
            log.line(None, format_args!("line {i}"));
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(log.dropped() >= QUEUE as u64 * 8, "{}", log.dropped());
        drop(held);
    }

    #[test]
    fn an_off_log_is_silent() {
        let log = Logger::off();
        log.line(None, format_args!("nothing"));
        assert_eq!(log.dropped(), 0);
    }
}
