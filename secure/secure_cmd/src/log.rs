//! The server's log (`--log`, default `log/server.log`): one line per
//! event, `<RFC 3339 time> <peer> <what>`, and the pieces any server's log
//! needs against a hostile peer, with an API meant to move into a shared
//! crate later: [`escape`] and [`RateLimiter`].
//!
//! - **Escaped, cut:** whatever a peer chose (a command line, a common
//!   name) goes through [`escape`]: `"` and `\` and control characters
//!   (newline, escape sequences, DEL, C1, bidirectional overrides) become
//!   escapes, bytes that are not UTF-8 `\xNN`, and no more than
//!   [`PEER_MAX`] bytes of it appear in a line. A request cannot forge a
//!   second line, close the quotes around itself to fake a status, or
//!   rewrite a terminal that shows the log.
//! - **Rate-limited per source:** at most `--log-rate` lines (100 by
//!   default) per peer address in [`WINDOW`]; past that a source's lines
//!   are counted, not written, and one summary follows: `… and 4,318 more
//!   from 127.0.0.1 in the last 10 s`. The server's own lines (`-`) are
//!   never limited.
//! - **Never stops the service:** connection threads hand lines to a
//!   bounded queue ([`QUEUE`] lines) and go on; one writer thread writes
//!   them. A full queue (a slow disk, a log on a stalled network file
//!   system) or a failed write (a full disk) drops lines and counts them;
//!   the count is written as soon as a write succeeds again, and the first
//!   failure is said once on stderr.
//! - **The file:** created mode 0600 (`O_CREAT` with that mode; an
//!   existing file keeps its own), opened with `O_NOFOLLOW`, so a symbolic
//!   link put in its place is refused at start-up rather than followed to
//!   whatever file it names, and `O_APPEND`: each line is one `write()`,
//!   so two servers sharing a file never mix their lines.

use anyhow::Context;
use chrono::{Local, SecondsFormat};
use netserve::log::thousands;
use std::collections::HashMap;
use std::fs::File;
use std::hash::Hash;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bytes of peer-chosen text in a line, at most.
pub const PEER_MAX: usize = 64;

/// The rate limiter's window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Lines waiting for the writer, at most.
pub const QUEUE: usize = 4096;

/// `bytes` as one line's worth of text: `"`, `\` and control characters
/// escaped, invalid UTF-8 as `\xNN`, and at most `max` bytes of the input
/// shown, the rest counted (`…(+123 bytes)`).
pub fn escape(bytes: &[u8], max: usize) -> String {
    let shown = &bytes[..bytes.len().min(max)];
    let mut out = String::with_capacity(shown.len() + 8);
    for chunk in shown.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if needs_escape(c) => out.extend(c.escape_default()),
                c => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    if bytes.len() > shown.len() {
        out.push_str(&format!("…(+{} bytes)", bytes.len() - shown.len()));
    }
    out
}

/// `"text"`, escaped and cut to [`PEER_MAX`] bytes.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", escape(text.as_bytes(), PEER_MAX))
}

/// Control characters, and the invisible ones that reorder or hide text.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// What [`RateLimiter::admit`] decides for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Write it.
    Yes,
    /// Write it, after a summary of `dropped` lines of the window that
    /// ended `over` ago.
    YesAfter { dropped: u64, window: Duration },
    /// Count it, write nothing.
    No,
}

#[derive(Debug)]
struct Slot {
    started: Instant,
    written: u32,
    dropped: u64,
}

/// At most `burst` lines per key (a source address) in each `window`; the
/// lines dropped in a window are reported once, by [`RateLimiter::admit`]
/// on the key's next line or by [`RateLimiter::expired`].
#[derive(Debug)]
pub struct RateLimiter<K> {
    burst: u32,
    window: Duration,
    slots: HashMap<K, Slot>,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(burst: u32, window: Duration) -> RateLimiter<K> {
        RateLimiter {
            burst,
            window,
            slots: HashMap::new(),
        }
    }

    /// Whether a line from `key` at `now` is written.
    pub fn admit(&mut self, key: &K, now: Instant) -> Admit {
        let window = self.window;
        let slot = self.slots.entry(key.clone()).or_insert(Slot {
            started: now,
            written: 0,
            dropped: 0,
        });
        let mut admit = Admit::Yes;
        if now.saturating_duration_since(slot.started) >= window {
            if slot.dropped > 0 {
                admit = Admit::YesAfter {
                    dropped: slot.dropped,
                    window,
                };
            }
            *slot = Slot {
                started: now,
                written: 0,
                dropped: 0,
            };
        }
        if slot.written >= self.burst {
            slot.dropped += 1;
            return Admit::No;
        }
        slot.written += 1;
        admit
    }

    /// The keys whose window has ended with lines dropped, and how many:
    /// each reported once. Keys whose window ended quietly are forgotten,
    /// so that a crowd of sources costs memory for one window only.
    pub fn expired(&mut self, now: Instant) -> Vec<(K, u64)> {
        let window = self.window;
        let mut out = Vec::new();
        self.slots.retain(|key, slot| {
            if now.saturating_duration_since(slot.started) < window {
                return true;
            }
            if slot.dropped > 0 {
                out.push((key.clone(), slot.dropped));
            }
            false
        });
        out
    }

    /// Every key with lines dropped in its current window, and how many;
    /// all forgotten (at shut-down).
    pub fn take_all(&mut self) -> Vec<(K, u64)> {
        self.slots
            .drain()
            .filter(|(_, slot)| slot.dropped > 0)
            .map(|(key, slot)| (key, slot.dropped))
            .collect()
    }
}

/// `… and 4,318 more from 127.0.0.1 in the last 10 s`.
pub fn summary(source: &impl std::fmt::Display, dropped: u64, window: Duration) -> String {
    format!(
        "… and {} more from {source} in the last {} s",
        thousands(dropped),
        window.as_secs()
    )
}

/// Counters shared by the threads that log and the writer.
#[derive(Debug, Default)]
struct Counters {
    /// Lines the full queue refused.
    queue_full: AtomicU64,
}

/// The log file, shared by every thread.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    sender: Option<SyncSender<String>>,
    writer: Option<JoinHandle<()>>,
    limiter: Arc<Mutex<RateLimiter<IpAddr>>>,
    counters: Arc<Counters>,
}

/// Opens `path` to append to: created 0600, its folders made; a symbolic
/// link is refused.
#[cfg(unix)]
pub fn open_log_file(path: &Path) -> anyhow::Result<File> {
    use std::fs::OpenOptions;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the log folder {}", dir.display()))?;
    }
    match OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => Ok(file),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => Err(anyhow::anyhow!(
            "the log file {} is a symbolic link: refused, since it could point the log at any \
             file; give the real file's path with --log",
            path.display()
        )),
        Err(err) => Err(err).with_context(|| format!("opening the log file {}", path.display())),
    }
}

/// The server runs on Unix only (`crate::server`); its log file too.
#[cfg(not(unix))]
pub fn open_log_file(path: &Path) -> anyhow::Result<File> {
    anyhow::bail!("{}: secure_cmd's log needs a Unix system", path.display())
}

impl Log {
    /// Opens `path` (see [`open_log_file`]) and starts the writer;
    /// `per_source` lines per [`WINDOW`] from each peer address; `echo`
    /// copies every line written to stderr (`-v`).
    pub fn open(path: &Path, echo: bool, per_source: u32) -> anyhow::Result<Log> {
        let file = open_log_file(path)?;
        let (sender, receiver) = std::sync::mpsc::sync_channel(QUEUE);
        let limiter = Arc::new(Mutex::new(RateLimiter::new(per_source, WINDOW)));
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            file,
            path: path.to_path_buf(),
            echo,
            limiter: limiter.clone(),
            counters: counters.clone(),
            failed: 0,
            said: false,
        };
        let writer = std::thread::Builder::new()
            .name("log".into())
            .spawn(move || writer.run(receiver))
            .context("starting the log's thread")?;
        Ok(Log {
            path: path.to_path_buf(),
            sender: Some(sender),
            writer: Some(writer),
            limiter,
            counters,
        })
    }

    /// Where the log goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `<now> <who> <what>`; `who` is the peer's address (its IP
    /// is the rate limiter's key), or `-` for the server itself (never
    /// limited). Never blocks on the file.
    pub fn line(&self, who: &str, what: std::fmt::Arguments<'_>) {
        let now = Instant::now();
        let mut summary_line = None;
        if let Ok(addr) = who.parse::<std::net::SocketAddr>() {
            let ip = addr.ip().to_canonical();
            let admit = self
                .limiter
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .admit(&ip, now);
            match admit {
                Admit::No => return,
                Admit::Yes => {}
                Admit::YesAfter { dropped, window } => {
                    summary_line = Some(stamp("-", &summary(&ip, dropped, window)));
                }
            }
        }
        if let Some(summary) = summary_line {
            self.enqueue(summary);
        }
        self.enqueue(stamp(who, &what.to_string()));
    }

    fn enqueue(&self, line: String) {
        if let Some(sender) = &self.sender {
            match sender.try_send(line) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {}
                Err(TrySendError::Full(_)) => {
                    self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

impl Drop for Log {
    /// Writes what is queued, then ends the writer.
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn stamp(who: &str, what: &str) -> String {
    let now = Local::now().to_rfc3339_opts(SecondsFormat::Millis, false);
    format!("{now} {who} {what}\n")
}

/// The writer thread's side.
struct Writer {
    file: File,
    path: PathBuf,
    echo: bool,
    limiter: Arc<Mutex<RateLimiter<IpAddr>>>,
    counters: Arc<Counters>,
    /// Lines not written since the last successful write.
    failed: u64,
    /// The first failure has been said on stderr.
    said: bool,
}

impl Writer {
    fn run(mut self, receiver: Receiver<String>) {
        loop {
            match receiver.recv_timeout(Duration::from_secs(1)) {
                Ok(line) => {
                    self.report_drops();
                    self.write(&line);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.report_drops();
                    let pending = self
                        .limiter
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take_all();
                    for (ip, dropped) in pending {
                        self.write(&stamp("-", &summary(&ip, dropped, WINDOW)));
                    }
                    return;
                }
            }
            self.summaries();
        }
    }

    /// The summaries of windows that ended with lines dropped.
    fn summaries(&mut self) {
        let expired = self
            .limiter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .expired(Instant::now());
        for (ip, dropped) in expired {
            self.write(&stamp("-", &summary(&ip, dropped, WINDOW)));
        }
    }

    /// A line for the lines dropped by a full queue or failed writes.
    fn report_drops(&mut self) {
        let full = self.counters.queue_full.swap(0, Ordering::Relaxed);
        let failed = std::mem::take(&mut self.failed);
        if full + failed > 0 {
            let what = format!(
                "{} log line(s) dropped: {} with the log too slow, {} not written",
                thousands(full + failed),
                thousands(full),
                thousands(failed)
            );
            self.write(&stamp("-", &what));
        }
    }

    fn write(&mut self, line: &str) {
        match self.file.write_all(line.as_bytes()) {
            Ok(()) => {
                if self.echo {
                    // The line less its time stamp.
                    let rest = line.split_once(' ').map_or(line, |(_, rest)| rest);
                    crate::say(format_args!("{}", rest.trim_end()));
                }
            }
            Err(err) => {
                self.failed += 1;
                if !self.said {
                    self.said = true;
                    crate::say(format_args!(
                        "warning: cannot write to the log {}: {err}; serving on, lines dropped \
                         and counted",
                        self.path.display()
                    ));
                }
            }
        }
    }
}

/// Whether `err` from [`open_log_file`] is the symbolic-link refusal.
pub fn is_symlink_refusal(err: &anyhow::Error) -> bool {
    err.to_string().contains("is a symbolic link")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("secure_cmd-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn concurrent_lines_never_mix_and_the_folder_is_created() {
        let dir = temp("log");
        let path = dir.join("a/b/server.log");
        let log = Arc::new(Log::open(&path, false, 100).unwrap());
        let long = "x".repeat(10_000);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (log, long) = (log.clone(), long.clone());
                std::thread::spawn(move || {
                    for i in 0..50 {
                        log.line(&format!("thread{t}"), format_args!("{i} {long}"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(Arc::into_inner(log).unwrap());
        let text = std::fs::read_to_string(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(text.lines().count(), 400);
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 4, "{}", &line[..80]);
            assert!(chrono::DateTime::parse_from_rfc3339(fields[0]).is_ok());
            assert!(fields[1].starts_with("thread"));
            assert_eq!(fields[3], long);
        }
    }

    #[test]
    fn escape_quotes_controls_and_cuts() {
        assert_eq!(escape(b"date +%s", 64), "date +%s");
        assert_eq!(
            escape(b"echo x\": exit 0\nforged", 64),
            "echo x\\\": exit 0\\nforged"
        );
        assert_eq!(escape(b"a\\b\x1b[2J\x7f", 64), "a\\\\b\\u{1b}[2J\\u{7f}");
        assert_eq!(escape(b"\xff\xfeok", 64), "\\xff\\xfeok");
        assert_eq!(escape("a\u{202e}b".as_bytes(), 64), "a\\u{202e}b");
        let long = vec![b'x'; 10_000];
        let cut = escape(&long, 64);
        assert_eq!(cut, format!("{}…(+9936 bytes)", "x".repeat(64)));
        // A character cut in the middle shows as bytes, never as a panic.
        assert_eq!(escape("é".as_bytes(), 1), "\\xc3…(+1 bytes)");
        assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4318), "4,318");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn rate_limiter_counts_and_summarises_once() {
        let window = Duration::from_secs(10);
        let mut limiter = RateLimiter::new(3, window);
        let t0 = Instant::now();
        let (a, b) = ("a".to_string(), "b".to_string());
        for _ in 0..3 {
            assert_eq!(limiter.admit(&a, t0), Admit::Yes);
        }
        for _ in 0..4318 {
            assert_eq!(limiter.admit(&a, t0), Admit::No);
        }
        // Another source is not affected.
        assert_eq!(limiter.admit(&b, t0), Admit::Yes);
        assert!(limiter.expired(t0 + Duration::from_secs(9)).is_empty());
        let later = t0 + window;
        assert_eq!(
            limiter.admit(&a, later),
            Admit::YesAfter {
                dropped: 4318,
                window
            }
        );
        assert_eq!(limiter.admit(&a, later), Admit::Yes);
        for _ in 0..10 {
            limiter.admit(&b, later);
        }
        let end = later + window;
        // b's window restarts at `later`: 3 of the 10 written.
        assert_eq!(limiter.expired(end), vec![(b.clone(), 7)]);
        assert!(limiter.expired(end).is_empty());
        assert_eq!(
            summary(&"127.0.0.1", 4318, window),
            "… and 4,318 more from 127.0.0.1 in the last 10 s"
        );
    }

    #[test]
    fn a_symbolic_link_is_refused_and_not_followed() {
        let dir = temp("log-link");
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target");
        std::fs::write(&target, "untouched").unwrap();
        let link = dir.join("server.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = Log::open(&link, false, 100).unwrap_err();
        let text = std::fs::read_to_string(&target).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(is_symlink_refusal(&err), "{err:#}");
        assert_eq!(text, "untouched");
    }

    #[test]
    fn lines_over_the_rate_are_dropped_and_summarised() {
        let dir = temp("log-rate");
        let path = dir.join("server.log");
        let log = Log::open(&path, false, 5).unwrap();
        for i in 0..1000 {
            log.line("192.0.2.1:5000", format_args!("line {i}"));
            log.line("[2001:db8::1]:5000", format_args!("line {i}"));
        }
        log.line("-", format_args!("the server's own"));
        drop(log);
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(text.matches(" 192.0.2.1:5000 line ").count(), 5, "{text}");
        assert_eq!(
            text.matches(" [2001:db8::1]:5000 line ").count(),
            5,
            "{text}"
        );
        assert!(text.contains("the server's own"));
        assert!(
            text.contains(" - … and 995 more from 192.0.2.1 in the last 10 s"),
            "{text}"
        );
        assert!(
            text.contains(" - … and 995 more from 2001:db8::1 in the last 10 s"),
            "{text}"
        );
    }
}
