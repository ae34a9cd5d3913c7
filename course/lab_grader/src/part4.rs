//! Part 4, multicast: the receiver (`EXE --group 224.1.1.1 --port P
//! --interface 127.0.0.1`) and the sender (`EXE --id ID --group 224.1.1.1
//! --port P --interface 127.0.0.1 --ttl 0 [--message TEXT]`).
//!
//! Every multicast socket here, the grader's, lab_server's TV channel and
//! the executables', is pinned to the loopback interface with TTL 0: no
//! datagram follows the default route, none leaves the machine (Linux
//! loops a TTL-0 multicast datagram back to local members and sends it
//! nowhere else).
//!
//! A receiver shares its port with lab_server's TV channel, as several
//! receivers on one host do: it must set `SO_REUSEADDR` (or
//! `SO_REUSEPORT`).

use crate::bins::Program;
use crate::checks::lab_server;
use crate::grade::{Case, Ctx};
use crate::proc::{Next, Running, secs, snippet};
use multicast::{self, Interface};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The course's group.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 1, 1, 1);
/// Loopback: the only interface the grader multicasts on.
pub const LOOPBACK: Interface = Interface::V4(Ipv4Addr::LOCALHOST);

const LIMIT: Duration = Duration::from_secs(15);

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            4,
            "part4: receiver prints the TV channel's lines",
            &[Program::Part4Receiver],
            LIMIT,
            receiver_tv,
        ),
        Case::new(
            4,
            "part4: receiver shows IDs, survives odd datagrams",
            &[Program::Part4Receiver],
            LIMIT,
            receiver_odd,
        ),
        Case::new(
            4,
            "part4: sender sends ID + text (--message)",
            &[Program::Part4Sender],
            LIMIT,
            sender_message,
        ),
        Case::new(
            4,
            "part4: sender sends one datagram per stdin line",
            &[Program::Part4Sender],
            LIMIT,
            sender_lines,
        ),
        Case::new(
            4,
            "part4: sender refuses IDs that are not 6 ASCII bytes",
            &[Program::Part4Sender],
            LIMIT,
            sender_bad_ids,
        ),
        Case::new(
            4,
            "part4: sender's opinion is answered by the TV channel",
            &[Program::Part4Sender],
            LIMIT,
            sender_to_tv,
        ),
    ]
}

fn io_err(what: &str) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("grader: {what}: {e}")
}

/// A socket of the grader's that sends to the group through loopback only.
fn grader_sender(port: u16) -> Result<(UdpSocket, SocketAddr), String> {
    let socket = multicast::sending_socket(GROUP.into(), LOOPBACK, 0)
        .map_err(io_err("multicast sending socket"))?;
    Ok((socket, multicast::destination(GROUP.into(), port, LOOPBACK)))
}

/// A socket of the grader's joined to the group on loopback: on `port`,
/// or on a free port when 0.
fn grader_member(port: u16) -> Result<(UdpSocket, u16), String> {
    let socket = multicast::joined_socket(GROUP.into(), port, LOOPBACK)
        .map_err(io_err("joining the group on loopback"))?;
    let port = socket
        .local_addr()
        .map_err(io_err("multicast socket"))?
        .port();
    Ok((socket, port))
}

/// A port no one uses now (bound and released at once).
fn free_udp_port() -> Result<u16, String> {
    let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io_err("finding a port"))?;
    probe
        .local_addr()
        .map(|a| a.port())
        .map_err(io_err("finding a port"))
}

fn receiver_args(port: u16) -> Vec<String> {
    [
        "--group",
        "224.1.1.1",
        "--port",
        &port.to_string(),
        "--interface",
        "127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Stdout lines until `stop` accepts one or the deadline passes.
fn lines_until(
    child: &mut Running,
    deadline: Instant,
    mut stop: impl FnMut(&str) -> bool,
) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    let mut partial = Vec::new();
    loop {
        match child.next_chunk(deadline) {
            Next::Data(_, bytes) => {
                for b in bytes {
                    if b != b'\n' {
                        partial.push(b);
                        continue;
                    }
                    let line = String::from_utf8_lossy(&std::mem::take(&mut partial)).into_owned();
                    let done = stop(&line);
                    lines.push(line);
                    if done {
                        return Ok(lines);
                    }
                }
            }
            Next::Eof => {
                let status = child.wait_exit(Instant::now() + Duration::from_secs(1));
                let how = status
                    .map(|s| crate::proc::failed_status(s, &child.stderr()))
                    .unwrap_or_default();
                return Err(format!(
                    "{} stopped after printing {} line(s): {how}",
                    child.name(),
                    lines.len()
                ));
            }
            Next::Timeout => {
                return Err(format!(
                    "after {} it had printed {:?} (killed)",
                    secs(child.started().elapsed()),
                    lines
                ));
            }
        }
    }
}

fn receiver_tv(ctx: &Ctx) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.mcast_group = GROUP.into();
        c.mcast_port = Some(0);
        c.mcast_interface = LOOPBACK;
        c.mcast_ttl = 0;
        c.tv_interval = Duration::from_millis(100);
    })?;
    let port = lab.tv_group().map(|g| g.port()).unwrap_or(0);
    let mut child = ctx.spawn(Program::Part4Receiver, &receiver_args(port), None)?;
    let mut count = 0;
    let lines = lines_until(&mut child, ctx.deadline, |_| {
        count += 1;
        count == 4
    })?;
    let text: Vec<&str> = lab_server::TV_TEXT.lines().collect();
    let mut shown = Vec::new();
    for line in &lines {
        // An empty line of the play is a bare `swcmTV`: `[swcmTV] `.
        let Some(t) = line.strip_prefix("[swcmTV] ") else {
            return Err(format!("printed {line:?}, not [swcmTV] <text>"));
        };
        if !text.contains(&t) {
            return Err(format!("printed {line:?}, which the channel never sent"));
        }
        shown.push(t);
    }
    // The play repeats lines ("Romeo.", empty ones): the printed lines must
    // be consecutive lines of it somewhere.
    let consecutive = (0..text.len())
        .any(|start| (0..shown.len()).all(|k| text[(start + k) % text.len()] == shown[k]));
    if !consecutive {
        return Err(format!(
            "lines out of order or lost: {shown:?} are not consecutive lines of the play"
        ));
    }
    Ok(())
}

fn receiver_odd(ctx: &Ctx) -> Result<(), String> {
    let port = free_udp_port()?;
    let (socket, to) = grader_sender(port)?;
    let mut child = ctx.spawn(Program::Part4Receiver, &receiver_args(port), None)?;
    // Probes until the receiver shows one: it has joined by then.
    let probe = b"swcmTVprobe";
    let ready_by = ctx.within(Duration::from_secs(6));
    let mut ready = false;
    while Instant::now() < ready_by && !ready {
        socket.send_to(probe, to).map_err(io_err("sending"))?;
        match child.next_chunk(Instant::now() + Duration::from_millis(100)) {
            Next::Data(..) => ready = true,
            Next::Eof => {
                let status = child.wait_exit(Instant::now() + Duration::from_secs(1));
                return Err(status
                    .map(|s| crate::proc::failed_status(s, &child.stderr()))
                    .unwrap_or_else(|| "closed stdout".to_string()));
            }
            Next::Timeout => {}
        }
    }
    if !ready {
        return Err("printed nothing for 6 s of datagrams to its group and port".to_string());
    }
    let datagrams: [&[u8]; 5] = [
        b"123456Hello, TV channel",
        b"abc",
        b"654321caf\xe9 au lait",
        b"\x01\x02\x03\x04\x05\x06hi",
        b"swcmTVend of the test",
    ];
    for d in datagrams {
        socket.send_to(d, to).map_err(io_err("sending"))?;
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = lines_until(&mut child, ctx.deadline, |l| {
        l == "[swcmTV] end of the test"
    })?;
    let shown: Vec<&String> = lines.iter().filter(|l| !l.contains("probe")).collect();
    type Expected<'a> = (&'a str, &'a dyn Fn(&str) -> bool);
    let checks: [Expected; 4] = [
        ("[123456] Hello, TV channel", &|l| {
            l == "[123456] Hello, TV channel"
        }),
        ("[654321] caf… (not UTF-8, shown escaped)", &|l| {
            l.starts_with("[654321] caf") && l.ends_with(" au lait")
        }),
        ("the ID 010203040506 in hex, then hi", &|l| {
            l.to_ascii_lowercase().contains("010203040506") && l.ends_with("hi")
        }),
        ("[swcmTV] end of the test", &|l| {
            l == "[swcmTV] end of the test"
        }),
    ];
    if shown.len() != checks.len() {
        return Err(format!(
            "printed {shown:?} for 5 datagrams (one 3 bytes long, to be skipped): \
             expected {} lines",
            checks.len()
        ));
    }
    for (line, (what, ok)) in shown.iter().zip(checks) {
        if !ok(line) {
            return Err(format!("printed {line:?}, expected {what}"));
        }
    }
    Ok(())
}

fn sender_args(id: &str, port: u16, message: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = [
        "--id",
        id,
        "--group",
        "224.1.1.1",
        "--port",
        &port.to_string(),
        "--interface",
        "127.0.0.1",
        "--ttl",
        "0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(m) = message {
        args.extend(["--message".to_string(), m.to_string()]);
    }
    args
}

/// Every datagram that reaches `socket` within `wait`.
fn datagrams(socket: &UdpSocket, wait: Duration) -> Result<Vec<Vec<u8>>, String> {
    let until = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(got);
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(io_err("SO_RCVTIMEO"))?;
        match socket.recv_from(&mut buf) {
            Ok((n, _)) => got.push(buf[..n].to_vec()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(format!("grader: receiving: {e}")),
        }
    }
}

fn shown(datagrams: &[Vec<u8>]) -> Vec<String> {
    datagrams.iter().map(|d| snippet(d, 0)).collect()
}

fn sender_message(ctx: &Ctx) -> Result<(), String> {
    let (member, port) = grader_member(0)?;
    let run = ctx.run(
        Program::Part4Sender,
        &sender_args("123456", port, Some("Hello, TV channel")),
        64 * 1024,
    )?;
    crate::checks::success(&run)?;
    let got = datagrams(&member, Duration::from_millis(500))?;
    if got != [b"123456Hello, TV channel".to_vec()] {
        return Err(format!(
            "the group got {:?} instead of \"123456Hello, TV channel\"",
            shown(&got)
        ));
    }
    Ok(())
}

fn sender_lines(ctx: &Ctx) -> Result<(), String> {
    let (member, port) = grader_member(0)?;
    let child = ctx.spawn(
        Program::Part4Sender,
        &sender_args("654321", port, None),
        Some(b"first opinion\nsecond opinion\n".to_vec()),
    )?;
    let run = child.finish(ctx.deadline, 64 * 1024)?;
    crate::checks::success(&run)?;
    let got = datagrams(&member, Duration::from_millis(500))?;
    // The line's ending is not part of the text; a sender that keeps the
    // newline is accepted all the same.
    let trimmed: Vec<&[u8]> = got
        .iter()
        .map(|d| d.strip_suffix(b"\n").unwrap_or(d))
        .collect();
    if trimmed != [&b"654321first opinion"[..], b"654321second opinion"] {
        return Err(format!(
            "the group got {:?} for two lines of stdin",
            shown(&got)
        ));
    }
    Ok(())
}

fn sender_bad_ids(ctx: &Ctx) -> Result<(), String> {
    let (member, port) = grader_member(0)?;
    for id in ["12345", "1234567", "12345é"] {
        let run = ctx.run(
            Program::Part4Sender,
            &sender_args(id, port, Some("Hello")),
            64 * 1024,
        )?;
        let got = datagrams(&member, Duration::from_millis(300))?;
        if !got.is_empty() {
            return Err(format!(
                "--id {id:?} ({} bytes): sent {:?}",
                id.len(),
                shown(&got)
            ));
        }
        if run.status.code() != Some(2) {
            return Err(format!(
                "--id {id:?} ({} bytes): {} instead of a usage error (exit status 2)",
                id.len(),
                crate::proc::failed_status(run.status, &run.stderr)
            ));
        }
    }
    Ok(())
}

fn sender_to_tv(ctx: &Ctx) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.mcast_group = GROUP.into();
        c.mcast_port = Some(0);
        c.mcast_interface = LOOPBACK;
        c.mcast_ttl = 0;
        c.tv_interval = Duration::from_secs(3600);
    })?;
    let port = lab.tv_group().map(|g| g.port()).unwrap_or(0);
    let (member, _) = grader_member(port)?;
    let opinion: String = "An opinion worth airing. ".repeat(14);
    let len = opinion.chars().count();
    let run = ctx.run(
        Program::Part4Sender,
        &sender_args("123456", port, Some(&opinion)),
        64 * 1024,
    )?;
    crate::checks::success(&run)?;
    let got = datagrams(&member, Duration::from_millis(800))?;
    let sent = format!("123456{opinion}");
    if !got.iter().any(|d| d == sent.as_bytes()) {
        return Err(format!(
            "the opinion never reached the group; it got {:?}",
            shown(&got)
        ));
    }
    // The course's listener answers an opinion of more than 300 characters.
    let expected = "swcmTV@123456: Your task is now completed. ";
    let answer = got
        .iter()
        .map(|d| String::from_utf8_lossy(d))
        .find(|t| t.starts_with("swcmTV@"));
    match answer {
        Some(t) if t.starts_with(expected) => Ok(()),
        Some(t) => Err(format!("the channel answered {t:?} to {len} characters")),
        None => Err(format!(
            "the TV channel did not answer {len} characters; the group got {:?}",
            shown(&got)
        )),
    }
}
