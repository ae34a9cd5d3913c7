//! The server's log (`--log`, default `log/server.log`): one line per
//! event, `<RFC 3339 time> <peer> <what>`.
//!
//! Lines come from every connection's thread at once. Each is formatted
//! whole first, then written with one `write()` while a mutex is held, on a
//! file opened with `O_APPEND`: two threads never mix their lines, and
//! neither do two servers that share the file (the kernel appends each
//! `write()` to a regular file as a whole). Peer-controlled text (a
//! command, a common name, a reason) is escaped by the caller with
//! [`crate::protocol::printable`], so it cannot forge a line.

use anyhow::Context;
use chrono::{Local, SecondsFormat};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The log file, shared by every thread.
#[derive(Debug)]
pub struct Log {
    file: Mutex<File>,
    path: PathBuf,
    /// Every line on stderr too (`-v`).
    echo: bool,
    /// A failed write has been reported on stderr (once is enough).
    failed: AtomicBool,
}

impl Log {
    /// Opens `path` for appending, creating it and its folders.
    pub fn open(path: &Path, echo: bool) -> anyhow::Result<Log> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the log folder {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the log file {}", path.display()))?;
        Ok(Log {
            file: Mutex::new(file),
            path: path.to_path_buf(),
            echo,
            failed: AtomicBool::new(false),
        })
    }

    /// Where the log goes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `<now> <who> <what>`; `who` is the peer's address, or `-`
    /// for the server itself.
    pub fn line(&self, who: &str, what: std::fmt::Arguments<'_>) {
        let now = Local::now().to_rfc3339_opts(SecondsFormat::Millis, false);
        let line = format!("{now} {who} {what}\n");
        let written = {
            // A thread that panicked while holding the lock cannot have
            // left half a line: the write is the only thing done under it.
            let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
            file.write_all(line.as_bytes())
        };
        if let Err(err) = written {
            // A full disk must not stop the service; say so once.
            if !self.failed.swap(true, Ordering::Relaxed) {
                crate::say(format_args!(
                    "warning: cannot write to the log {}: {err}; serving on",
                    self.path.display()
                ));
            }
        }
        if self.echo {
            crate::say(format_args!("{who} {what}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_lines_never_mix_and_the_folder_is_created() {
        let dir = std::env::temp_dir().join(format!("secure_cmd-log-{}", std::process::id()));
        let path = dir.join("a/b/server.log");
        let log = std::sync::Arc::new(Log::open(&path, false).unwrap());
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
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(text.lines().count(), 400);
        for line in text.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 4, "{}", &line[..80]);
            assert!(chrono::DateTime::parse_from_rfc3339(fields[0]).is_ok());
            assert!(fields[1].starts_with("thread"));
            assert_eq!(fields[3], long);
        }
    }
}
