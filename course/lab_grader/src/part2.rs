//! Part 2, the PDC: `EXE --host H --port P COMMAND...` against lab_server
//! and against a [`PmuPeer`] that cuts the stream where TCP may.
//!
//! - `CMD_short:0` with n of 2, 15, 17 and 105 (the index grows a digit at
//!   10 and at 100), each from index 0 (the course server) and 1 (the
//!   handout): every message on its own line, nothing else.
//! - `CMD_short:1`: each line on stdout within [`ON_TIME`] of its message
//!   leaving the peer; a PDC that prints a message only when the next one
//!   starts shows it a whole interval late.
//! - Streams cut at random points, and one byte per segment.
//! - `CMD_floodme` of 1 byte to 32 MiB, compared byte for byte, with the
//!   final newline rule; and a flood cut at random points.
//! - Two commands in one call, an IPv4-only server reached through
//!   `localhost`, and an IPv6 server at `::1`.

use crate::Settings;
use crate::bins::Program;
use crate::checks::{
    exact_output, final_newline, lab_server, pmu_lines, pmu_wire, stream_equals, timed_lines,
};
use crate::grade::{Case, Ctx};
use crate::peers::{PeerError, Plan, PmuPeer};
use crate::proc::secs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How late after its message a `CMD_short:1` line may show.
/// A PDC that waits for the next message prints each a whole interval
/// (one second) late; a loaded machine delays a right one far less.
pub const ON_TIME: Duration = Duration::from_millis(700);

/// The floods graded: sizes that end inside a line (a newline to add) and
/// on a line's end (none), from one byte to beyond any receive buffer.
pub const FLOODS: [usize; 5] = [1, 64, 56 * 1024, (1 << 20) + 3, (32 << 20) + 5];

const SHORT: Duration = Duration::from_secs(15);

pub fn cases(settings: &Settings) -> Vec<Case> {
    let mut cases = Vec::new();
    for n in [2u64, 15, 17, 105] {
        for first in [0u64, 1] {
            cases.push(Case::new(
                2,
                format!("part2: CMD_short:0, {n} messages from {first}"),
                &[Program::Part2Pdc],
                SHORT,
                move |ctx| short_from_lab_server(ctx, n, first),
            ));
        }
    }
    cases.push(Case::new(
        2,
        "part2: CMD_short:1, each line as its message arrives",
        &[Program::Part2Pdc],
        SHORT,
        on_time,
    ));
    let seed = settings.seed;
    for (n, first, max_piece, label) in [
        (17u64, 0u64, 12usize, "cut at random points, 17 messages"),
        (105, 1, 40, "cut at random points, 105 messages"),
        (15, 0, 1, "one byte per segment, 15 messages"),
    ] {
        cases.push(Case::new(
            2,
            format!("part2: CMD_short:0 {label}"),
            &[Program::Part2Pdc],
            SHORT,
            move |ctx| {
                let plan = Plan::Cut {
                    bytes: pmu_wire(first, n),
                    max_piece,
                    max_pause: Duration::from_millis(2),
                    seed: seed ^ n,
                };
                let expected = pmu_lines(first, n);
                cut_stream(ctx, "CMD_short:0", plan, &expected)
                    .map_err(|why| format!("{why} (seed {})", seed ^ n))
            },
        ));
    }
    for size in FLOODS {
        cases.push(Case::new(
            2,
            format!("part2: CMD_floodme, {}", size_name(size)),
            &[Program::Part2Pdc],
            Duration::from_secs(30),
            move |ctx| flood_from_lab_server(ctx, size),
        ));
    }
    cases.push(Case::new(
        2,
        "part2: CMD_floodme cut at random points, 200 KiB + 7",
        &[Program::Part2Pdc],
        SHORT,
        move |ctx| {
            let flood = lab_server::flood_text(200 * 1024 + 7);
            let mut expected = flood.clone();
            expected.extend_from_slice(final_newline(&flood));
            let plan = Plan::Cut {
                bytes: flood,
                max_piece: 8192,
                max_pause: Duration::from_millis(1),
                seed,
            };
            cut_stream(ctx, "CMD_floodme", plan, &expected)
                .map_err(|why| format!("{why} (seed {seed})"))
        },
    ));
    cases.push(Case::new(
        2,
        "part2: CMD_short:0 then CMD_floodme in one call",
        &[Program::Part2Pdc],
        SHORT,
        two_commands,
    ));
    cases.push(Case::new(
        2,
        "part2: IPv4-only server, --host localhost",
        &[Program::Part2Pdc],
        SHORT,
        |ctx| one_family(ctx, Ipv4Addr::LOCALHOST.into(), "localhost"),
    ));
    cases.push(Case::new(
        2,
        "part2: IPv6-only server, --host ::1",
        &[Program::Part2Pdc],
        SHORT,
        |ctx| one_family(ctx, Ipv6Addr::LOCALHOST.into(), "::1"),
    ));
    cases
}

/// `1 byte`, `64 bytes`, `56 KiB`, `1 MiB + 3`.
pub fn size_name(size: usize) -> String {
    let (mib, kib) = (size >> 20, size >> 10);
    match size {
        1 => "1 byte".to_string(),
        _ if mib > 0 && size - (mib << 20) < 1024 => match size - (mib << 20) {
            0 => format!("{mib} MiB"),
            rest => format!("{mib} MiB + {rest}"),
        },
        _ if kib > 0 && size % 1024 == 0 => format!("{kib} KiB"),
        _ => format!("{size} bytes"),
    }
}

fn pdc_args(host: &str, port: u16, commands: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--host".to_string(),
        host.to_string(),
        "--port".to_string(),
        port.to_string(),
    ];
    args.extend(commands.iter().map(|c| c.to_string()));
    args
}

fn run_pdc(
    ctx: &Ctx,
    host: &str,
    port: u16,
    commands: &[&str],
) -> Result<crate::proc::Finished, String> {
    let args = pdc_args(host, port, commands);
    ctx.run(Program::Part2Pdc, &args, 1 << 20)
}

fn short_from_lab_server(ctx: &Ctx, n: u64, first: u64) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.tcp_port = Some(0);
        c.messages = n;
        c.first_index = first;
    })?;
    let port = lab.tcp_port().unwrap_or(0);
    let run = run_pdc(ctx, "localhost", port, &["CMD_short:0"])?;
    exact_output(&run, &pmu_lines(first, n))
}

fn on_time(ctx: &Ctx) -> Result<(), String> {
    let (n, first) = (3, 1);
    let peer = PmuPeer::start("CMD_short:1", Plan::Timed { n, first }, ctx.deadline)?;
    let args = pdc_args("localhost", peer.port, &["CMD_short:1"]);
    let mut child = ctx.spawn(Program::Part2Pdc, &args, None)?;
    let expected: Vec<String> = (first..first + n)
        .map(|i| format!("This is PMU data {i}"))
        .collect();
    let lines = timed_lines(&mut child, ctx.deadline)
        .map_err(|so_far| {
            format!(
                "still running after {} with {} line(s) printed (killed)",
                secs(child.started().elapsed()),
                so_far.len()
            )
        })
        .and_then(|lines| {
            let got: Vec<String> = lines
                .iter()
                .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
                .collect();
            if got == expected {
                Ok(lines)
            } else {
                Err(format!("printed {got:?} instead of {expected:?}"))
            }
        });
    let log = PeerError::or_output(
        lines.as_ref().map(|_| ()).map_err(Clone::clone),
        peer.join(),
    )?;
    let lines = lines?;
    for (i, ((shown, _), sent)) in lines.iter().zip(&log.sent_at).enumerate() {
        let late = shown.saturating_duration_since(*sent);
        if late > ON_TIME {
            return Err(format!(
                "line {} showed {} after its message arrived (at most {}): \
                 print each message as soon as it is complete",
                i + 1,
                secs(late),
                secs(ON_TIME)
            ));
        }
    }
    match child.wait_exit(ctx.deadline) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(crate::proc::failed_status(status, &child.stderr())),
        None => Err("did not exit after the server closed (killed)".to_string()),
    }
}

fn cut_stream(ctx: &Ctx, command: &str, plan: Plan, expected: &[u8]) -> Result<(), String> {
    let peer = PmuPeer::start(command, plan, ctx.deadline)?;
    let args = pdc_args("localhost", peer.port, &[command]);
    let mut child = ctx.spawn(Program::Part2Pdc, &args, None)?;
    let compared = stream_equals(&mut child, &[expected], ctx.deadline);
    PeerError::or_output(compared, peer.join()).map(|_| ())
}

fn flood_from_lab_server(ctx: &Ctx, size: usize) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.tcp_port = Some(0);
        c.flood_bytes = size as u64;
    })?;
    let port = lab.tcp_port().unwrap_or(0);
    let flood = lab.flood();
    let args = pdc_args("localhost", port, &["CMD_floodme"]);
    let mut child = ctx.spawn(Program::Part2Pdc, &args, None)?;
    stream_equals(&mut child, &[&flood, final_newline(&flood)], ctx.deadline)
}

fn two_commands(ctx: &Ctx) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.tcp_port = Some(0);
        c.messages = 4;
        c.flood_bytes = 1000;
    })?;
    let port = lab.tcp_port().unwrap_or(0);
    let flood = lab.flood();
    let mut expected = pmu_lines(0, 4);
    expected.extend_from_slice(&flood);
    expected.extend_from_slice(final_newline(&flood));
    let run = run_pdc(ctx, "localhost", port, &["CMD_short:0", "CMD_floodme"])?;
    exact_output(&run, &expected)
}

fn one_family(ctx: &Ctx, ip: IpAddr, host: &str) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.bind = vec![ip];
        c.tcp_port = Some(0);
        c.messages = 3;
    })?;
    let port = lab.tcp_port().unwrap_or(0);
    let run = run_pdc(ctx, host, port, &["CMD_short:0"])?;
    exact_output(&run, &pmu_lines(0, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_name(1), "1 byte");
        assert_eq!(size_name(64), "64 bytes");
        assert_eq!(size_name(56 * 1024), "56 KiB");
        assert_eq!(size_name((1 << 20) + 3), "1 MiB + 3");
        assert_eq!(size_name(32 << 20), "32 MiB");
    }
}
