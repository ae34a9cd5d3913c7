//! Part 1, the echo examples (optional: the course does not collect them;
//! graded only for a build folder's `part1_echo`, or with `--part 1`):
//! Codes C and D with the handout's message and buffer sizes (the lab's
//! question 6: how many lines each side prints), and Codes A and B. The
//! lines are checked as the handout's Python prints them: `Message sent`,
//! `Received data:  Hello, Romeo `, `From Address:  ('127.0.0.1', 38569)`,
//! `received: O Romeo,` …, `No more data from ('127.0.0.1', 50042)`.
//!
//! The servers bind 127.0.0.1 on port 0 and say their port on stderr
//! (`listening on ADDR`), which is `part1_echo`'s own convention.

use crate::bins::Program;
use crate::checks::success;
use crate::grade::{Case, Ctx};
use crate::proc::{self, Finished, Running};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// Code D's message: 41 bytes (6 `recv(8)` at the client, 3 `recv(16)` at
/// the server).
pub const HANDOUT_MESSAGE: &str = "O Romeo, Romeo! wherefore art thou Romeo?";

/// Code A's datagram: 13 bytes, the trailing space included.
pub const HANDOUT_DATAGRAM: &str = "Hello, Romeo ";

/// Whether `text` is a Python tuple `('127.0.0.1', <port>)`, as Code B and
/// Code C print an IPv4 peer.
fn is_py_v4_loopback(text: &str) -> bool {
    text.strip_prefix("('127.0.0.1', ")
        .and_then(|rest| rest.strip_suffix(')'))
        .is_some_and(|port| port.parse::<u16>().is_ok_and(|p| p != 0))
}

/// The `received: …` lines a reader with a `bufsize`-byte buffer prints for
/// `message`, when each `recv()` fills the buffer.
fn chunks(message: &str, bufsize: usize) -> Vec<String> {
    message
        .as_bytes()
        .chunks(bufsize)
        .map(|c| format!("received: {}", String::from_utf8_lossy(c)))
        .collect()
}

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            1,
            "part1: TCP echo, 3 server and 6 client recv() lines",
            &[Program::Part1Echo],
            Duration::from_secs(15),
            tcp_case,
        ),
        Case::new(
            1,
            "part1: UDP datagram from Code A to Code B",
            &[Program::Part1Echo],
            Duration::from_secs(15),
            udp_case,
        ),
    ]
}

/// Where a server started on port 0 listens, from its stderr.
fn listening(server: &mut Running, deadline: Instant) -> Result<SocketAddr, String> {
    let line = server
        .wait_stderr("listening on ", deadline)
        .ok_or_else(|| {
            format!(
                "no `listening on ADDR` line on stderr; stderr: {}",
                proc::last_line(&server.stderr())
            )
        })?;
    let rest = line.split("listening on ").nth(1).unwrap_or_default();
    rest.split([' ', ','])
        .next()
        .unwrap_or_default()
        .parse()
        .map_err(|_| format!("no address in {line:?}"))
}

/// Runs Code C (`tcp-server --once`, buffer 16) and Code D
/// (`tcp-client --close`, buffer 8) with the handout's message; what each
/// printed.
pub fn tcp_echo(exe: &Path, deadline: Instant) -> Result<(Finished, Finished), String> {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut server = proc::spawn(
        exe,
        &args(&["tcp-server", "--bind", "127.0.0.1", "--port", "0", "--once"]),
        None,
    )?;
    let addr = listening(&mut server, deadline)?;
    let client = proc::spawn(
        exe,
        &args(&[
            "tcp-client",
            "--close",
            "--host",
            "127.0.0.1",
            "--port",
            &addr.port().to_string(),
            HANDOUT_MESSAGE,
        ]),
        None,
    )?
    .finish(deadline, 1 << 20)?;
    let server = server.finish(deadline, 1 << 20)?;
    Ok((server, client))
}

fn tcp_case(ctx: &Ctx) -> Result<(), String> {
    let (server, client) = tcp_echo(&ctx.exe(Program::Part1Echo)?, ctx.deadline)?;
    success(&server).map_err(|why| format!("server: {why}"))?;
    success(&client).map_err(|why| format!("client: {why}"))?;
    let count = |run: &Finished| {
        run.lines()
            .iter()
            .filter(|l| l.starts_with("received: "))
            .count()
    };
    let (s, c) = (count(&server), count(&client));
    if (s, c) != (3, 6) {
        return Err(format!(
            "{s} server and {c} client `received:` lines, expected 3 and 6 (buffers of 16 and 8 \
             bytes for {} bytes)",
            HANDOUT_MESSAGE.len()
        ));
    }
    let mut expected = vec![format!("sending: {HANDOUT_MESSAGE}")];
    expected.extend(chunks(HANDOUT_MESSAGE, 8));
    if client.lines() != expected {
        return Err(format!(
            "the client printed {:?}, expected Code D's {expected:?}",
            client.lines()
        ));
    }
    let lines = server.lines();
    if lines.get(..3) != Some(&chunks(HANDOUT_MESSAGE, 16)[..]) {
        return Err(format!(
            "the server printed {lines:?}, expected Code C's {:?}",
            chunks(HANDOUT_MESSAGE, 16)
        ));
    }
    let echoed: String = client
        .lines()
        .iter()
        .filter_map(|l| l.strip_prefix("received: "))
        .collect();
    if echoed != HANDOUT_MESSAGE {
        return Err(format!("the client got back {echoed:?}"));
    }
    if !lines.last().is_some_and(|l| {
        l.strip_prefix("No more data from ")
            .is_some_and(is_py_v4_loopback)
    }) {
        return Err(format!(
            "the server's last line is {:?}, not `No more data from ('127.0.0.1', <port>)`",
            lines.last()
        ));
    }
    Ok(())
}

fn udp_case(ctx: &Ctx) -> Result<(), String> {
    let mut receiver = ctx.spawn(
        Program::Part1Echo,
        &[
            "udp-recv",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--count",
            "1",
        ],
        None,
    )?;
    let addr = listening(&mut receiver, ctx.deadline)?;
    // No MESSAGE: Code A's own datagram.
    let sent = ctx.run(
        Program::Part1Echo,
        &[
            "udp-send",
            "--host",
            "127.0.0.1",
            "--port",
            &addr.port().to_string(),
        ],
        64 * 1024,
    )?;
    success(&sent).map_err(|why| format!("udp-send: {why}"))?;
    if sent.lines() != ["Message sent"] {
        return Err(format!(
            "udp-send printed {:?}, expected Code A's only line `Message sent`",
            sent.lines()
        ));
    }
    let got = receiver.finish(ctx.deadline, 64 * 1024)?;
    success(&got).map_err(|why| format!("udp-recv: {why}"))?;
    let lines = got.lines();
    let data = format!("Received data:  {HANDOUT_DATAGRAM}");
    let from_ok = lines.get(1).is_some_and(|l| {
        l.strip_prefix("From Address:  ")
            .is_some_and(is_py_v4_loopback)
    });
    if lines.len() != 2 || lines[0] != data || !from_ok {
        return Err(format!(
            "udp-recv printed {lines:?}, expected Code B's {data:?} and \
             \"From Address:  ('127.0.0.1', <port>)\""
        ));
    }
    Ok(())
}
