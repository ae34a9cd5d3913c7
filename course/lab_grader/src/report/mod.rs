//! `lab_grader report` (`make report`): runs the lab's experiments with the
//! built executables and writes the measured answers to the handout's
//! questions as `REPORT.md`, with the histogram of Part 3's attempts as an
//! SVG picture beside it. One module per question or experiment:
//!
//! - [`q6`]: the lines Codes C and D print for the handout's message.
//! - [`q9_segments`]: Q9, Q10, Q12, Q19, Q21, the segments the PMU sends,
//!   over TCP and WebSocket, measured on the [`network`]: across a
//!   simulated campus path ([`path`], with its [`delay_line`]) when the
//!   report runs as root, on loopback otherwise, which the report says.
//! - [`q13`]: `recv()` calls per receive buffer size, on the same network.
//! - [`q15`]: attempts per acknowledgment and the loss, with the course's
//!   loss of 0.5 by default.
//! - [`q20`]: WebSocket messages received, from Q19's and Q21's runs.
//!
//! Every figure comes from a run made for the report, none is typed in.
//! A measured program that fails stops the report with its exit status
//! and stderr.

pub mod delay_line;
pub mod network;
pub mod path;
pub mod q13;
pub mod q15;
pub mod q20;
pub mod q6;
pub mod q9_segments;

use crate::bins::{Executables, Program};
use crate::proc::{self, Finished};
use anyhow::{Context, anyhow};
use network::Network;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use q13::BUFSIZES;
pub use q15::{COURSE_LOSS, histogram_svg, svg_path};

/// What to measure with, and where to write.
#[derive(Debug, Clone)]
pub struct Options {
    pub bin_dir: PathBuf,
    pub out: PathBuf,
    /// Part 3 runs.
    pub runs: u64,
    /// lab_server's drop probability for Part 3.
    pub loss: f64,
}

/// How long one experiment's run may take.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `CMD_short:<d>` messages and the flood size: the course server's (20
/// messages numbered from 0; about 56 KiB of text).
pub const MESSAGES: u64 = 20;
pub const FLOOD_BYTES: u64 = 56 * 1024;

/// Runs every experiment and writes the report and its SVG.
pub fn write(options: &Options) -> anyhow::Result<()> {
    let exes = Executables::detect(&options.bin_dir)?;
    let find = |p: Program| -> anyhow::Result<PathBuf> {
        exes.find(p)
            .map_err(|why| anyhow!("{why} (make build first)"))
    };
    let (echo_exe, pdc, ws, reset) = (
        find(Program::Part1Echo)?,
        find(Program::Part2Pdc)?,
        find(Program::Part5Ws)?,
        find(Program::Part3Reset)?,
    );
    say("Q6, the TCP echo of Part 1");
    let echo = q6::measure(&echo_exe)?;

    say("building the simulated path (root only)");
    let net = Network::start(&options.bin_dir)?;
    let path = match &net {
        Network::Path { path, .. } => {
            say(&format!(
                "across namespaces {}",
                path.namespaces().join(", ")
            ));
            Some(path.describe())
        }
        Network::Loopback { why, .. } => {
            say(&format!("on loopback: {why}"));
            None
        }
    };
    say(&format!(
        "Q9, Q12, Q19, Q21, segments (CMD_short:1 takes 2 x {MESSAGES} s)"
    ));
    let segments = q9_segments::measure(&net, &pdc, &ws)?;
    let verdict = q9_segments::Verdict::of(&net, &segments);
    say("Q13, recv() calls per buffer size");
    let recvs = q13::measure(&net, &pdc)?;
    let on_path = net.is_path();
    // Deletes the namespaces now rather than after Q15's minute.
    drop(net);

    say(&format!(
        "Q15, {} runs at {} loss",
        options.runs, options.loss
    ));
    let resets = q15::measure(&reset, options.runs, options.loss)?;

    let svg_path = svg_path(&options.out);
    let svg_name = svg_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut o = String::new();
    render_header(&mut o, &options.bin_dir);
    q6::render(&mut o, &echo);
    let _ = writeln!(
        o,
        "## Q9, Q10, Q12, Q19, Q21: segments of the PMU's answers\n"
    );
    q9_segments::render_where(&mut o, &verdict, path.as_deref());
    let _ = writeln!(
        o,
        "The PMU sends {MESSAGES} messages `This is PMU data <i>` from index 0 for \
         `CMD_short:<d>`, one `send()` each, `d` seconds apart, and {FLOOD_BYTES} bytes of text \
         in one `send()` for `CMD_floodme` (`lab_server --messages {MESSAGES} --first-index 0 \
         --flood-bytes {FLOOD_BYTES}`).\n"
    );
    q9_segments::render(&mut o, &segments, &verdict);
    q13::render(&mut o, &recvs, &segments, on_path);
    q15::render(&mut o, &resets, options.loss, &svg_name);
    q20::render(&mut o, &segments);

    std::fs::write(&svg_path, histogram_svg(&resets.histogram()))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    std::fs::write(&options.out, o)
        .with_context(|| format!("writing {}", options.out.display()))?;
    say(&format!(
        "wrote {} and {}",
        options.out.display(),
        svg_path.display()
    ));
    Ok(())
}

fn say(what: &str) {
    eprintln!("lab_grader: report: {what}");
}

/// A failed run as an error: what ran, its exit status and its stderr.
pub fn failure(what: &str, run: &Finished) -> anyhow::Error {
    let status = match run.status.code() {
        Some(code) => format!("exit status {code}"),
        None => format!("killed by a signal ({})", run.status),
    };
    anyhow!("{what}: {status}; stderr: {}", stderr_text(&run.stderr))
}

/// A child's stderr on one line: its non-empty lines joined by ` | `, the
/// last 2,000 characters at most; `(empty)` when there are none.
pub fn stderr_text(stderr: &str) -> String {
    let joined = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if joined.is_empty() {
        return "(empty)".to_string();
    }
    let chars = joined.chars().count();
    if chars <= 2000 {
        return joined;
    }
    let tail: String = joined.chars().skip(chars - 2000).collect();
    format!("…{tail}")
}

/// Runs `exe ARGS` on this machine to completion; an error with its exit
/// status and stderr unless it exits 0.
fn run_ok(exe: &Path, a: &[&str]) -> anyhow::Result<Finished> {
    let args: Vec<String> = a.iter().map(|s| s.to_string()).collect();
    let what = format!(
        "{} {}",
        exe.file_name().unwrap_or_default().to_string_lossy(),
        a.join(" ")
    );
    let run = proc::spawn(exe, &args, None)
        .and_then(|child| child.finish(Instant::now() + RUN_LIMIT, 64 << 20))
        .map_err(|why| anyhow!("{what}: {why}"))?;
    if !run.status.success() {
        return Err(failure(&what, &run));
    }
    Ok(run)
}

/// The first number of the `--stats` line about `command`: `part2_pdc:
/// CMD_floodme: 3585 recv() calls with data, …` → 3585; with `after`, the
/// number before that word (`bytes` → the byte count).
pub fn stat(stderr: &str, command: &str, after: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.contains(&format!(": {command}: ")))?;
    let rest = line.split(&format!("{command}: ")).nth(1)?;
    let mut words = rest.split([' ', ',']).filter(|w| !w.is_empty());
    if after.is_empty() {
        return words.next()?.parse().ok();
    }
    let words: Vec<&str> = words.collect();
    let at = words.iter().position(|w| *w == after)?;
    words.get(at.checked_sub(1)?)?.parse().ok()
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

fn code_block(out: &mut String, lines: &[String]) {
    out.push_str("```text\n");
    for line in lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("```\n\n");
}

fn render_header(o: &mut String, bin_dir: &Path) {
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z");
    let _ = writeln!(o, "# Lab 3: measured answers\n");
    let _ = writeln!(
        o,
        "Written by `make report` (`lab_grader report`) on {now}, Linux {}, with the \
         executables of `{}` against `lab_server`. Every figure comes from a run made for this \
         report; `make report` measures them anew. Where each experiment ran (loopback, or a \
         simulated network path) is said in its section.\n",
        kernel(),
        bin_dir.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_lines_are_read() {
        let stderr = "part2_pdc: CMD_short:0: 3 recv() calls with data, 180 bytes, 10 message(s)\n\
                      part2_pdc: CMD_floodme: 3585 recv() calls with data, 57344 bytes, 1 message(s)\n";
        assert_eq!(stat(stderr, "CMD_short:0", ""), Some(3));
        assert_eq!(stat(stderr, "CMD_floodme", ""), Some(3585));
        assert_eq!(stat(stderr, "CMD_floodme", "bytes"), Some(57344));
        assert_eq!(stat(stderr, "CMD_short:1", ""), None);
        let ws = "part5_ws: CMD_short:0: 10 message(s) received, 180 bytes, closed with the close handshake";
        assert_eq!(stat(ws, "CMD_short:0", ""), Some(10));
        assert_eq!(stat(ws, "CMD_short:0", "bytes"), Some(180));
    }

    #[test]
    fn stderr_is_shown_on_one_line() {
        assert_eq!(stderr_text(""), "(empty)");
        assert_eq!(
            stderr_text("part2_pdc: error: refused\n\n  more\n"),
            "part2_pdc: error: refused | more"
        );
        let long = "x".repeat(5000);
        let shown = stderr_text(&long);
        assert!(shown.starts_with('…') && shown.chars().count() == 2001);
    }

    #[test]
    fn a_failed_run_shows_its_exit_status_and_all_of_its_stderr() {
        // Repeated: the last line of stderr must not be lost to the thread
        // that reads it, even when the program exits at once.
        for _ in 0..20 {
            let err = run_ok(
                Path::new("/bin/sh"),
                &[
                    "-c",
                    "echo first >&2; echo 'part2_pdc: error: refused' >&2; exit 3",
                ],
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("exit status 3; stderr: first | part2_pdc: error: refused"),
                "{err}"
            );
        }
        let run = run_ok(
            Path::new("/bin/sh"),
            &["-c", "echo 'x: CMD_short:0: 7 recv() calls' >&2"],
        )
        .unwrap();
        assert_eq!(stat(&run.stderr, "CMD_short:0", ""), Some(7));
    }
}
