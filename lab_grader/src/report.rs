//! `lab_grader report`: runs the lab's experiments with the built
//! executables against an in-process `lab_server` on loopback and writes
//! the measured answers to the handout's questions as `REPORT.md`, with
//! the histogram of Part 3's attempts as an SVG picture beside it.
//!
//! Every figure in the report comes from a run made for it, none is typed
//! in: the lines the echo programs print (Q6), the data segments the
//! server's kernel sent (`TCP_INFO`'s `tcpi_data_segs_out`, read by
//! `lab_server` on its socket just before closing: Q9, Q12, Q19, Q21), the
//! `recv()` calls `part2_pdc --stats` counts (Q13), the attempts and the
//! loss estimate of `part3_reset --runs` (Q15), and the messages
//! `part5_ws --stats` counts (Q20). Run it again and the figures are
//! measured anew; loopback's MSS of about 64 KiB makes some of them
//! differ from what a capture on the course network would show, which the
//! report says where it matters.

use crate::bins::{Executables, Program};
use crate::part1;
use crate::part3::{OffsetLine, SummaryLine, parse_offset_line, parse_summary};
use crate::proc::{self, Finished};
use anyhow::{Context, anyhow, bail};
use lab_server::{Config, ConnectionRecord, LabServer, Service, UdpFamily};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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

/// The receive buffers Q13 compares (`--bufsize`).
pub const BUFSIZES: [usize; 7] = [16, 64, 256, 1024, 4096, 65536, 1 << 20];

/// `CMD_short:<d>` messages and the flood size: the course server's.
const MESSAGES: u64 = 10;
const FLOOD_BYTES: u64 = 56 * 1024;

/// Runs every experiment and writes the report and its SVG.
pub fn write(options: &Options) -> anyhow::Result<()> {
    let exes = Executables::detect(&options.bin_dir)?;
    let find = |p: Program| -> anyhow::Result<PathBuf> {
        exes.find(p)
            .map_err(|why| anyhow!("{why} (make build first)"))
    };
    let svg_path = svg_path(&options.out);
    eprintln!("lab_grader: report: Q6, the TCP echo of Part 1");
    let echo = q6(&find(Program::Part1Echo)?)?;
    eprintln!(
        "lab_grader: report: Q9, Q12, Q19, Q21, data segments (CMD_short:1 takes 2 x {MESSAGES} s)"
    );
    let segments = segments(&find(Program::Part2Pdc)?, &find(Program::Part5Ws)?)?;
    eprintln!("lab_grader: report: Q13, recv() calls per buffer size");
    let recvs = q13(&find(Program::Part2Pdc)?)?;
    eprintln!(
        "lab_grader: report: Q15, {} runs at {} loss",
        options.runs, options.loss
    );
    let resets = q15(&find(Program::Part3Reset)?, options.runs, options.loss)?;
    eprintln!("lab_grader: report: Q20, WebSocket messages");
    let messages = q20(&find(Program::Part5Ws)?)?;

    let svg_name = svg_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = render(&Rendered {
        bin_dir: &options.bin_dir,
        echo: &echo,
        segments: &segments,
        recvs: &recvs,
        resets: &resets,
        loss: options.loss,
        messages: &messages,
        svg_name: &svg_name,
    });
    std::fs::write(&svg_path, histogram_svg(&resets.histogram()))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    std::fs::write(&options.out, report)
        .with_context(|| format!("writing {}", options.out.display()))?;
    eprintln!(
        "lab_grader: report: wrote {} and {}",
        options.out.display(),
        svg_path.display()
    );
    Ok(())
}

/// The SVG's path: beside the report, `REPORT_q15_attempts.svg` for
/// `REPORT.md`.
pub fn svg_path(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "REPORT".to_string());
    out.with_file_name(format!("{stem}_q15_attempts.svg"))
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Runs `exe ARGS` to completion; an error unless it exits 0.
fn run_ok(exe: &Path, a: &[&str]) -> anyhow::Result<Finished> {
    let run = proc::spawn(exe, &args(a), None)
        .and_then(|child| child.finish(Instant::now() + RUN_LIMIT, 64 << 20))
        .map_err(|why| anyhow!(why))?;
    if !run.status.success() {
        bail!(
            "{} {}: {}",
            exe.display(),
            a.join(" "),
            proc::failed_status(run.status, &run.stderr)
        );
    }
    Ok(run)
}

fn start(tweak: impl FnOnce(&mut Config)) -> anyhow::Result<LabServer> {
    crate::checks::lab_server(tweak).map_err(|why| anyhow!(why))
}

/// Q6: what Codes C and D print.
#[derive(Debug)]
pub struct Echo {
    pub server: Vec<String>,
    pub client: Vec<String>,
}

fn q6(exe: &Path) -> anyhow::Result<Echo> {
    let (server, client) =
        part1::tcp_echo(exe, Instant::now() + RUN_LIMIT).map_err(|why| anyhow!(why))?;
    for (side, run) in [("server", &server), ("client", &client)] {
        crate::checks::success(run).map_err(|why| anyhow!("part1_echo tcp-{side}: {why}"))?;
    }
    Ok(Echo {
        server: server.lines(),
        client: client.lines(),
    })
}

/// One measured connection of Q9, Q12, Q19, Q21.
#[derive(Debug)]
pub struct Segments {
    pub client: &'static str,
    pub command: &'static str,
    pub record: ConnectionRecord,
}

fn segments(pdc: &Path, ws: &Path) -> anyhow::Result<Vec<Segments>> {
    let lab = start(|c| {
        c.tcp_port = Some(0);
        c.ws_port = Some(0);
        c.messages = MESSAGES;
        c.flood_bytes = FLOOD_BYTES;
    })?;
    let tcp = lab.tcp_port().unwrap_or(0).to_string();
    let url = format!("ws://localhost:{}", lab.ws_port().unwrap_or(0));
    let mut out = Vec::new();
    for command in ["CMD_short:0", "CMD_short:1", "CMD_floodme"] {
        let before = lab.connections().len();
        run_ok(pdc, &["--host", "localhost", "--port", &tcp, command])?;
        let record = record_after(&lab, before, Service::TcpPmu)?;
        out.push(Segments {
            client: "part2_pdc (TCP)",
            command,
            record,
        });
    }
    for command in ["CMD_short:0", "CMD_short:1", "CMD_floodme"] {
        let before = lab.connections().len();
        run_ok(ws, &["--url", &url, command])?;
        let record = record_after(&lab, before, Service::WebSocketPmu)?;
        out.push(Segments {
            client: "part5_ws (WebSocket)",
            command,
            record,
        });
    }
    Ok(out)
}

/// The record of the connection a client just made: the server writes it
/// once the client has closed (or its linger ran out), a moment after the
/// client exits.
fn record_after(
    lab: &LabServer,
    before: usize,
    service: Service,
) -> anyhow::Result<ConnectionRecord> {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let records = lab.connections();
        if let Some(record) = records.iter().skip(before).find(|r| r.service == service) {
            if record.counts.is_none() {
                bail!(
                    "this system gives no TCP_INFO data segment count: run `make report` on \
                     Linux 4.6 or later (macOS and Windows have no such counter)"
                );
            }
            return Ok(record.clone());
        }
        if Instant::now() >= until {
            bail!("lab_server recorded no {service:?} connection within 5 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Q13: `recv()` calls for each buffer size, for `CMD_short:0` and
/// `CMD_floodme`.
#[derive(Debug)]
pub struct Recvs {
    pub bufsize: usize,
    pub short: u64,
    pub flood: u64,
    pub flood_bytes: u64,
}

/// The first number of the `--stats` line about `command`: `part2_pdc:
/// CMD_floodme: 3585 recv() calls with data, …` → 3585.
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

fn q13(pdc: &Path) -> anyhow::Result<Vec<Recvs>> {
    let lab = start(|c| {
        c.tcp_port = Some(0);
        c.messages = MESSAGES;
        c.flood_bytes = FLOOD_BYTES;
    })?;
    let port = lab.tcp_port().unwrap_or(0).to_string();
    let mut out = Vec::new();
    for bufsize in BUFSIZES {
        let b = bufsize.to_string();
        let run = run_ok(
            pdc,
            &[
                "--host",
                "localhost",
                "--port",
                &port,
                "--bufsize",
                &b,
                "--stats",
                "CMD_short:0",
                "CMD_floodme",
            ],
        )?;
        let get = |command, after| {
            stat(&run.stderr, command, after).ok_or_else(|| {
                anyhow!(
                    "no `{command}: N recv() calls` line in part2_pdc --stats: {}",
                    run.stderr
                )
            })
        };
        out.push(Recvs {
            bufsize,
            short: get("CMD_short:0", "")?,
            flood: get("CMD_floodme", "")?,
            flood_bytes: get("CMD_floodme", "bytes")?,
        });
    }
    Ok(out)
}

/// Q15: the runs of `part3_reset --runs`.
#[derive(Debug)]
pub struct Resets {
    pub lines: Vec<OffsetLine>,
    pub summary: SummaryLine,
    pub timeout: &'static str,
}

impl Resets {
    /// How many runs took 1, 2, 3 … attempts (index 0: one attempt).
    pub fn histogram(&self) -> Vec<u64> {
        let max = self.lines.iter().map(|l| l.attempts).max().unwrap_or(1) as usize;
        let mut counts = vec![0u64; max.max(1)];
        for line in &self.lines {
            if line.attempts >= 1 {
                counts[line.attempts as usize - 1] += 1;
            }
        }
        counts
    }
}

fn q15(reset: &Path, runs: u64, loss: f64) -> anyhow::Result<Resets> {
    let lab = start(|c| {
        c.udp_port = Some(0);
        c.udp_family = UdpFamily::V4;
        c.loss = loss;
    })?;
    let port = lab.udp_port().unwrap_or(0).to_string();
    // Half the course's second: quick, and still far above loopback's round
    // trip even on a loaded machine, where a shorter wait would count a
    // late reply as a loss.
    let timeout = "0.5";
    let run = run_ok(
        reset,
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "--timeout",
            timeout,
            "--runs",
            &runs.to_string(),
        ],
    )?;
    let lines = run.lines();
    let (summary, offsets) = lines
        .split_last()
        .ok_or_else(|| anyhow!("part3_reset printed nothing"))?;
    let summary = parse_summary(summary).map_err(|why| anyhow!(why))?;
    let lines = offsets
        .iter()
        .map(|l| parse_offset_line(l))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| anyhow!(why))?;
    Ok(Resets {
        lines,
        summary,
        timeout,
    })
}

/// Q20: what `part5_ws --stats` counted.
#[derive(Debug)]
pub struct WsMessages {
    pub command: &'static str,
    pub messages: u64,
    pub bytes: u64,
}

fn q20(ws: &Path) -> anyhow::Result<Vec<WsMessages>> {
    let lab = start(|c| {
        c.ws_port = Some(0);
        c.messages = MESSAGES;
        c.flood_bytes = FLOOD_BYTES;
    })?;
    let url = format!("ws://localhost:{}", lab.ws_port().unwrap_or(0));
    let run = run_ok(
        ws,
        &["--url", &url, "--stats", "CMD_short:0", "CMD_floodme"],
    )?;
    ["CMD_short:0", "CMD_floodme"]
        .into_iter()
        .map(|command| {
            let messages = stat(&run.stderr, command, "");
            let bytes = stat(&run.stderr, command, "bytes");
            match (messages, bytes) {
                (Some(messages), Some(bytes)) => Ok(WsMessages {
                    command,
                    messages,
                    bytes,
                }),
                _ => Err(anyhow!(
                    "no `{command}: N message(s) received` line in part5_ws --stats: {}",
                    run.stderr
                )),
            }
        })
        .collect()
}

/// Everything the report shows.
struct Rendered<'a> {
    bin_dir: &'a Path,
    echo: &'a Echo,
    segments: &'a [Segments],
    recvs: &'a [Recvs],
    resets: &'a Resets,
    loss: f64,
    messages: &'a [WsMessages],
    svg_name: &'a str,
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

fn render(r: &Rendered<'_>) -> String {
    let mut o = String::new();
    let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z");
    let _ = writeln!(o, "# Lab 3: measured answers\n");
    let _ = writeln!(
        o,
        "Written by `make report` (`lab_grader report`) on {now}, Linux {}, with the \
         executables of `{}` against `lab_server` on loopback (127.0.0.1 and ::1). Every \
         figure comes from a run made for this report; `make report` measures them anew.\n",
        kernel(),
        r.bin_dir.display()
    );

    // Q6
    let received = |lines: &[String]| lines.iter().filter(|l| l.starts_with("received: ")).count();
    let _ = writeln!(
        o,
        "## Q6: lines printed by the TCP echo server and client\n"
    );
    let _ = writeln!(
        o,
        "`part1_echo tcp-server --once` (Code C, `recv()` buffer of 16 bytes) and \
         `part1_echo tcp-client` (Code D, 8 bytes), with the handout's message of {} bytes:\n",
        part1::HANDOUT_MESSAGE.len()
    );
    let _ = writeln!(
        o,
        "| program | lines printed | of them `received: …` (one per `recv()`) |"
    );
    let _ = writeln!(o, "|---|---:|---:|");
    let _ = writeln!(
        o,
        "| server (Code C) | {} | {} |",
        r.echo.server.len(),
        received(&r.echo.server)
    );
    let _ = writeln!(
        o,
        "| client (Code D) | {} | {} |\n",
        r.echo.client.len(),
        received(&r.echo.client)
    );
    let _ = writeln!(o, "The server printed:\n");
    code_block(&mut o, &r.echo.server);
    let _ = writeln!(o, "The client printed:\n");
    code_block(&mut o, &r.echo.client);
    let _ = writeln!(
        o,
        "Each `recv()` returns at most the buffer's size, so the count of `received:` lines \
         is the message's length over the buffer, rounded up, on each side: TCP carries a \
         byte stream, and how the sender wrote it does not show.\n"
    );

    // Q9, Q12, Q19, Q21
    let _ = writeln!(o, "## Q9, Q12, Q19, Q21: data segments the server sent\n");
    let mss = r
        .segments
        .iter()
        .find_map(|s| s.record.counts.map(|c| c.snd_mss))
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "Counted by the server's kernel: `lab_server` reads `TCP_INFO` on its socket just \
         before closing it, and `tcpi_data_segs_out` is the number of segments that carried \
         data (retransmissions included). The PMU sends {MESSAGES} messages from index 0 for \
         `CMD_short`, one `send()` each, and a flood of {FLOOD_BYTES} bytes in one `send()`. \
         The server's send MSS on loopback (`tcpi_snd_mss`) was {mss} bytes.\n"
    );
    let _ = writeln!(
        o,
        "| client | command | data segments | all segments sent (with the SYN-ACK, ACKs, FIN) |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|");
    for s in r.segments {
        let (data, all) = s
            .record
            .counts
            .map_or((0, 0), |c| (c.data_segs_out, c.segs_out));
        let _ = writeln!(o, "| {} | `{}` | {data} | {all} |", s.client, s.command);
    }
    let data = |service: Service, command: &str| {
        r.segments
            .iter()
            .find(|s| s.record.service == service && s.command == command)
            .and_then(|s| s.record.counts)
            .map_or(0, |c| c.data_segs_out)
    };
    o.push('\n');
    let short0 = data(Service::TcpPmu, "CMD_short:0");
    let _ = if u64::from(short0) >= MESSAGES {
        writeln!(
            o,
            "- `CMD_short:0`: {MESSAGES} messages, {short0} data segments: each `send()` left \
             in a segment of its own although they follow each other at once. On loopback the \
             client's ACK comes back before the next `send()`, so Nagle's algorithm, which \
             holds a small segment back only while data is unacknowledged, never waits; over \
             the course network, with a round trip of milliseconds, several messages would \
             share a segment."
        )
    } else {
        writeln!(
            o,
            "- `CMD_short:0`: {MESSAGES} messages, {short0} data segments: the `send()`s \
             follow each other at once, and Nagle's algorithm held the small ones back while \
             earlier data was unacknowledged, so several messages shared a segment. The count \
             changes from run to run with the timing of the ACKs."
        )
    };
    let short1 = data(Service::TcpPmu, "CMD_short:1");
    let _ = writeln!(
        o,
        "- `CMD_short:1`: {MESSAGES} messages, {short1} data segments: a second between two \
         `send()`s is far longer than a round trip, so nothing is pending when the next \
         message is written and each leaves alone."
    );
    let flood = data(Service::TcpPmu, "CMD_floodme");
    let _ = writeln!(
        o,
        "- `CMD_floodme`: {FLOOD_BYTES} bytes in one `send()`, {flood} data segment(s): a \
         segment carries at most one MSS ({mss} bytes on loopback here, so at least {} \
         segment(s)); on an Ethernet path (MSS 1448: a 1500-byte MTU less 52 bytes of IPv4 \
         and TCP headers with timestamps) the same bytes would need at least {}.",
        FLOOD_BYTES.div_ceil(u64::from(mss.max(1))),
        FLOOD_BYTES.div_ceil(1448),
    );
    let _ = writeln!(
        o,
        "- WebSocket ({} data segments for `CMD_short:0`, {} for `CMD_short:1`, {} for the \
         flood): the WebSocket PMU sets `TCP_NODELAY`, so every frame leaves at once in a \
         segment of its own, and the connection adds segments of its own: the handshake's \
         HTTP response, the close frame, and for the flood the frame's header, written \
         before the payload.\n",
        data(Service::WebSocketPmu, "CMD_short:0"),
        data(Service::WebSocketPmu, "CMD_short:1"),
        data(Service::WebSocketPmu, "CMD_floodme"),
    );

    // Q13
    let _ = writeln!(o, "## Q13: `recv()` calls and the receive buffer\n");
    let _ = writeln!(
        o,
        "`part2_pdc --bufsize B --stats CMD_short:0 CMD_floodme` against `lab_server` \
         ({MESSAGES} messages; a flood of {FLOOD_BYTES} bytes). The counts are the `recv()` \
         calls that returned data (one more returns 0 at the end).\n"
    );
    let _ = writeln!(
        o,
        "| `--bufsize` (bytes) | `CMD_short:0` recv() calls | `CMD_floodme` recv() calls | flood bytes / buffer, rounded up |"
    );
    let _ = writeln!(o, "|---:|---:|---:|---:|");
    for v in r.recvs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            v.bufsize,
            v.short,
            v.flood,
            v.flood_bytes.div_ceil(v.bufsize as u64)
        );
    }
    let _ = writeln!(
        o,
        "\nWith a small buffer the count is the bytes over the buffer: each `recv()` is \
         filled. With a large one it is how many times the data was found waiting, which \
         depends on how fast it arrives, not on how the server cut it.\n"
    );

    // Q15
    let s = &r.resets.summary;
    let hist = r.resets.histogram();
    let _ = writeln!(o, "## Q15: attempts per acknowledgment and the loss\n");
    let _ = writeln!(
        o,
        "`part3_reset --runs {} --timeout {}` against `lab_server --loss {}` (each `RESET` \
         dropped with probability {}, IPv4 only). Its summary line:\n",
        s.runs, r.resets.timeout, r.loss, r.loss
    );
    let _ = writeln!(
        o,
        "```text\nruns: {}, attempts: {}, mean attempts per ack: {:.2}, estimated loss probability: {:.3}\n```\n",
        s.runs, s.attempts, s.mean, s.loss
    );
    let _ = writeln!(
        o,
        "- mean attempts per acknowledgment: **{:.2}** ({} attempts over {} runs); with \
         independent drops of probability p the attempts are geometric with mean 1/(1-p), \
         {:.2} for the configured p = {};\n\
         - estimated loss probability 1 - N/A: **{:.3}** (configured: {}); counting each \
         attempt as a trial lost with probability p, its standard error is about \
         √(p(1-p)/A) = {:.3}.\n",
        s.mean,
        s.attempts,
        s.runs,
        1.0 / (1.0 - r.loss),
        r.loss,
        s.loss,
        r.loss,
        (s.loss * (1.0 - s.loss) / s.attempts.max(1) as f64).sqrt()
    );
    let _ = writeln!(o, "![Runs by the attempts they took]({})\n", r.svg_name);
    let _ = writeln!(o, "| attempts | runs |");
    let _ = writeln!(o, "|---:|---:|");
    for (i, n) in hist.iter().enumerate() {
        let _ = writeln!(o, "| {} | {n} |", i + 1);
    }
    let _ = writeln!(o);

    // Q20
    let _ = writeln!(o, "## Q20: WebSocket messages received\n");
    let _ = writeln!(
        o,
        "`part5_ws --stats CMD_short:0 CMD_floodme` against `lab_server`'s WebSocket PMU \
         (binary frames, as the course server's):\n"
    );
    let _ = writeln!(o, "| command | messages received | bytes |");
    let _ = writeln!(o, "|---|---:|---:|");
    for m in r.messages {
        let _ = writeln!(o, "| `{}` | {} | {} |", m.command, m.messages, m.bytes);
    }
    let _ = writeln!(
        o,
        "\nA WebSocket message is delivered whole, however TCP cut it: one message per PMU \
         message for `CMD_short`, and one for the whole flood.\n"
    );
    o
}

/// A bar chart of `counts` (runs that took 1, 2, 3 … attempts), as SVG.
pub fn histogram_svg(counts: &[u64]) -> String {
    let (width, height) = (560.0_f64, 320.0_f64);
    let (left, right, top, bottom) = (56.0, 16.0, 40.0, 48.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let bars = counts.len().max(1) as f64;
    let slot = plot_w / bars;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">part3_reset: runs by the attempts they took ({} runs)</text>"#,
        width / 2.0,
        counts.iter().sum::<u64>()
    );
    // The value axis: four ticks.
    for i in 0..=4 {
        let value = max as f64 * i as f64 / 4.0;
        let y = top + plot_h - plot_h * i as f64 / 4.0;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{value:.0}</text>"##,
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    for (i, &n) in counts.iter().enumerate() {
        let h = plot_h * n as f64 / max as f64;
        let x = left + slot * i as f64 + slot * 0.15;
        let y = top + plot_h - h;
        let _ = writeln!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="#4878a8"><title>{} attempt(s): {n} run(s)</title></rect>"##,
            slot * 0.7,
            i + 1
        );
        if n > 0 {
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{n}</text>"#,
                x + slot * 0.35,
                y - 4.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x + slot * 0.35,
            top + plot_h + 16.0,
            i + 1
        );
    }
    let _ = writeln!(
        svg,
        r#"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">attempts until the offset came back</text>"#,
        left + plot_w / 2.0,
        height - 12.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">runs</text>"#,
        top + plot_h / 2.0,
        top + plot_h / 2.0
    );
    svg.push_str("</svg>\n");
    svg
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
    fn the_histogram_is_an_svg_with_a_bar_per_count() {
        let svg = histogram_svg(&[60, 25, 10, 5]);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<rect x=").count(), 4);
        assert!(svg.contains("100 runs"));
        assert_eq!(
            svg_path(Path::new("/tmp/x/REPORT.md")),
            Path::new("/tmp/x/REPORT_q15_attempts.svg")
        );
    }
}
