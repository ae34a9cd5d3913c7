//! Part 1, the echo examples (optional: the course does not collect them;
//! graded only for a build folder's `part1_echo`, or with `--part 1`):
//! Codes C and D with the handout's message and buffer sizes (the lab's
//! question 6: how many lines each side prints), and Codes A and B.
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

/// The handout's message: 42 bytes, two spaces after the period.
pub const HANDOUT_MESSAGE: &str = "This is the message.  It will be repeated.";

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
/// (`tcp-client`, buffer 8) with the handout's message; what each printed.
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
             bytes for 42 bytes)"
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
    let lines = server.lines();
    if !lines
        .last()
        .is_some_and(|l| l.starts_with("No more data from "))
    {
        return Err(format!(
            "the server's last line is {:?}, not `No more data from <addr>`",
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
    let message = "Hello from the grader";
    let sent = ctx.run(
        Program::Part1Echo,
        &[
            "udp-send",
            "--host",
            "127.0.0.1",
            "--port",
            &addr.port().to_string(),
            message,
        ],
        64 * 1024,
    )?;
    success(&sent).map_err(|why| format!("udp-send: {why}"))?;
    let got = receiver.finish(ctx.deadline, 64 * 1024)?;
    success(&got).map_err(|why| format!("udp-recv: {why}"))?;
    let lines = got.lines();
    if lines.first().map(String::as_str) != Some(&format!("Received data: {message}")) {
        return Err(format!("udp-recv printed {lines:?}"));
    }
    if !lines.iter().any(|l| l.starts_with("From Address: ")) {
        return Err(format!(
            "udp-recv printed no `From Address:` line: {lines:?}"
        ));
    }
    Ok(())
}
