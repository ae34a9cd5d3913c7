//! Q6: in how many lines Code C (the echo server, `recv(16)`) and Code D
//! (the client, `recv(8)`) print the handout's message.
//!
//! The message is given on the command line, not left to `part1_echo`'s
//! default, and the client is told to close after the echo (`--close`)
//! when it has that flag (a client that holds the connection open, as
//! Code D's `while True: pass` does, is the default then); without the
//! flag it closes by itself.

use super::{RUN_LIMIT, code_block, failure};
use crate::proc::{self, Finished, Running};
use anyhow::{Context, anyhow, bail};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// What Code D sends in the handout.
pub const MESSAGE: &str = "O Romeo, Romeo! wherefore art thou Romeo?";
/// Code C's and Code D's `recv()` sizes.
pub const SERVER_BUF: usize = 16;
pub const CLIENT_BUF: usize = 8;

/// What Codes C and D printed.
#[derive(Debug)]
pub struct Echo {
    pub server: Vec<String>,
    pub client: Vec<String>,
}

/// `received:` lines: one per `recv()` that returned data.
pub fn received(lines: &[String]) -> usize {
    lines.iter().filter(|l| l.starts_with("received:")).count()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Whether `part1_echo tcp-client` has `--close` (ends after the echo).
fn client_has_close(exe: &Path) -> bool {
    proc::spawn(exe, &args(&["tcp-client", "--help"]), None)
        .and_then(|child| child.finish(Instant::now() + Duration::from_secs(10), 1 << 16))
        .is_ok_and(|run| String::from_utf8_lossy(&run.stdout).contains("--close"))
}

/// Where a server started on port 0 listens: the whole `listening on
/// ADDR` line on stderr (a line read in part would give a cut address).
fn listening(server: &mut Running, deadline: Instant) -> anyhow::Result<SocketAddr> {
    loop {
        let text = server.stderr();
        if let Some(line) = complete_line(&text, "listening on ") {
            let rest = line.split("listening on ").nth(1).unwrap_or_default();
            return rest
                .split([' ', ','])
                .next()
                .unwrap_or_default()
                .parse()
                .with_context(|| format!("no address in {line:?}"));
        }
        if Instant::now() >= deadline || !server.is_running() {
            bail!(
                "part1_echo tcp-server printed no `listening on ADDR` line; stderr: {}",
                super::stderr_text(&text)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The first line of `text` holding `needle`, once its newline has come.
pub fn complete_line<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    let at = text.find(needle)?;
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = at + text[at..].find('\n')?;
    Some(&text[start..end])
}

pub fn measure(exe: &Path) -> anyhow::Result<Echo> {
    let deadline = Instant::now() + RUN_LIMIT;
    let mut server = proc::spawn(
        exe,
        &args(&[
            "tcp-server",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--bufsize",
            &SERVER_BUF.to_string(),
            "--once",
        ]),
        None,
    )
    .map_err(|why| anyhow!(why))?;
    let addr = listening(&mut server, deadline)?;
    let port = addr.port().to_string();
    let bufsize = CLIENT_BUF.to_string();
    let mut client_args = vec![
        "tcp-client",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--bufsize",
        &bufsize,
    ];
    if client_has_close(exe) {
        client_args.push("--close");
    }
    client_args.push(MESSAGE);
    let client = proc::spawn(exe, &args(&client_args), None)
        .and_then(|child| child.finish(deadline, 1 << 20))
        .map_err(|why| anyhow!("part1_echo tcp-client: {why}"))?;
    let server = server
        .finish(deadline, 1 << 20)
        .map_err(|why| anyhow!("part1_echo tcp-server: {why}"))?;
    for (side, run) in [("tcp-server", &server), ("tcp-client", &client)] {
        ok(side, run)?;
    }
    Ok(Echo {
        server: server.lines(),
        client: client.lines(),
    })
}

fn ok(side: &str, run: &Finished) -> anyhow::Result<()> {
    if run.status.success() {
        Ok(())
    } else {
        Err(failure(&format!("part1_echo {side}"), run))
    }
}

pub fn render(o: &mut String, echo: &Echo) {
    let (server, client) = (received(&echo.server), received(&echo.client));
    let len = MESSAGE.len();
    let _ = writeln!(
        o,
        "## Q6: lines printed by the TCP echo server and client\n"
    );
    let _ = writeln!(
        o,
        "`part1_echo tcp-server --bufsize {SERVER_BUF} --once` (Code C) and `part1_echo \
         tcp-client --bufsize {CLIENT_BUF} '{MESSAGE}'` (Code D, the handout's message of \
         {len} bytes), on loopback:\n"
    );
    let _ = writeln!(
        o,
        "| program | `recv()` size | `received: …` lines (one per `recv()`) | the message's bytes over the size, rounded up |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|");
    let _ = writeln!(
        o,
        "| server (Code C) | {SERVER_BUF} | {server} | {} |",
        len.div_ceil(SERVER_BUF)
    );
    let _ = writeln!(
        o,
        "| client (Code D) | {CLIENT_BUF} | {client} | {} |\n",
        len.div_ceil(CLIENT_BUF)
    );
    let _ = writeln!(o, "The server printed:\n");
    code_block(o, &echo.server);
    let _ = writeln!(o, "The client printed:\n");
    code_block(o, &echo.client);
    let _ = writeln!(
        o,
        "**Answer:** the server prints the message in {server} lines and the client in \
         {client}{}. Each `recv()` returns at most its buffer's size, and the bytes were \
         waiting, so each side needs the message's length over its buffer, rounded up: {len} \
         bytes are {} × 16 and {} × 8. TCP carries a byte stream, and how the sender wrote it \
         does not show.\n",
        if (server, client) == (len.div_ceil(SERVER_BUF), len.div_ceil(CLIENT_BUF)) {
            ""
        } else {
            " (not the handout's 3 and 6: see the lines above)"
        },
        len.div_ceil(SERVER_BUF),
        len.div_ceil(CLIENT_BUF),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handout_message_takes_3_and_6_receives() {
        assert_eq!(MESSAGE.len(), 41);
        assert_eq!(MESSAGE.len().div_ceil(SERVER_BUF), 3);
        assert_eq!(MESSAGE.len().div_ceil(CLIENT_BUF), 6);
        let lines: Vec<String> = ["sending: x", "received: O Romeo,", "received:  Romeo!"]
            .map(String::from)
            .to_vec();
        assert_eq!(received(&lines), 2);
    }

    #[test]
    fn only_a_whole_line_is_taken() {
        let text = "part1_echo: note\npart1_echo: listening on 127";
        assert_eq!(complete_line(text, "listening on "), None);
        let text = "part1_echo: note\npart1_echo: listening on 127.0.0.1:5002 (TCP)\n";
        assert_eq!(
            complete_line(text, "listening on "),
            Some("part1_echo: listening on 127.0.0.1:5002 (TCP)")
        );
    }
}
