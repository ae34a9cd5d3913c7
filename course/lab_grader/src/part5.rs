//! Part 5, the PDC over WebSocket: `EXE --url ws://localhost:P COMMAND...`
//! against lab_server's WebSocket PMU, in binary frames (the course
//! server's) and in text frames: `CMD_short:0` with several n and first
//! indexes, `CMD_short:2` line by line on time, floods compared byte for
//! byte with the final newline rule, two commands in one call.

use crate::bins::Program;
use crate::checks::{
    exact_output, final_newline, lab_server, pmu_lines, stream_equals, timed_lines,
};
use crate::grade::{Case, Ctx};
use crate::part2::size_name;
use crate::proc::secs;
use lab_server::WsFrames;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(15);

/// How late a `CMD_short:2` line may show after its due time (the start,
/// then one interval after the previous): a client that waits for the
/// next message shows each two seconds late, and the margin on both sides
/// is wide enough for a loaded machine.
const ON_TIME: Duration = Duration::from_secs(1);

/// The interval of the timed case, in seconds.
const INTERVAL: u64 = 2;

fn frames_name(frames: WsFrames) -> &'static str {
    match frames {
        WsFrames::Binary => "binary",
        WsFrames::Text => "text",
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for (n, first, frames) in [
        (2u64, 0u64, WsFrames::Binary),
        (17, 1, WsFrames::Binary),
        (105, 0, WsFrames::Binary),
        (15, 1, WsFrames::Text),
    ] {
        cases.push(Case::new(
            5,
            format!(
                "part5: CMD_short:0, {n} messages from {first}, {} frames",
                frames_name(frames)
            ),
            &[Program::Part5Ws],
            LIMIT,
            move |ctx| short(ctx, n, first, frames),
        ));
    }
    cases.push(Case::new(
        5,
        "part5: CMD_short:2, each line as its message arrives",
        &[Program::Part5Ws],
        LIMIT,
        on_time,
    ));
    for (size, frames) in [
        (1usize, WsFrames::Binary),
        (64, WsFrames::Text),
        (56 * 1024, WsFrames::Binary),
        ((1 << 20) + 3, WsFrames::Binary),
        ((32 << 20) + 5, WsFrames::Binary),
    ] {
        cases.push(Case::new(
            5,
            format!(
                "part5: CMD_floodme, {}, {} frame",
                size_name(size),
                frames_name(frames)
            ),
            &[Program::Part5Ws],
            Duration::from_secs(30),
            move |ctx| flood(ctx, size, frames),
        ));
    }
    cases.push(Case::new(
        5,
        "part5: CMD_short:0 then CMD_floodme in one call",
        &[Program::Part5Ws],
        LIMIT,
        two_commands,
    ));
    cases
}

fn ws_args(port: u16, commands: &[&str]) -> Vec<String> {
    let mut args = vec!["--url".to_string(), format!("ws://localhost:{port}")];
    args.extend(commands.iter().map(|c| c.to_string()));
    args
}

fn ws_server(
    tweak: impl FnOnce(&mut lab_server::Config),
) -> Result<(lab_server::LabServer, u16), String> {
    let lab = lab_server(|c| {
        c.ws_port = Some(0);
        tweak(c);
    })?;
    let port = lab.ws_port().unwrap_or(0);
    Ok((lab, port))
}

fn short(ctx: &Ctx, n: u64, first: u64, frames: WsFrames) -> Result<(), String> {
    let (_lab, port) = ws_server(|c| {
        c.messages = n;
        c.first_index = first;
        c.ws_frames = frames;
    })?;
    let run = ctx.run(Program::Part5Ws, &ws_args(port, &["CMD_short:0"]), 1 << 20)?;
    exact_output(&run, &pmu_lines(first, n))
}

fn on_time(ctx: &Ctx) -> Result<(), String> {
    let n = 3;
    let (_lab, port) = ws_server(|c| c.messages = n)?;
    let command = format!("CMD_short:{INTERVAL}");
    let mut child = ctx.spawn(Program::Part5Ws, &ws_args(port, &[&command]), None)?;
    let lines = timed_lines(&mut child, ctx.deadline).map_err(|so_far| {
        format!(
            "still running after {} with {} line(s) printed (killed)",
            secs(child.started().elapsed()),
            so_far.len()
        )
    })?;
    let got: Vec<String> = lines
        .iter()
        .map(|(_, l)| String::from_utf8_lossy(l).into_owned())
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("This is PMU data {i}")).collect();
    if got != expected {
        return Err(format!("printed {got:?} instead of {expected:?}"));
    }
    // The server sends message i about i seconds after the command; the
    // start of the process is the only clock the grader shares with it.
    let start = child.started();
    for (i, (shown, _)) in lines.iter().enumerate() {
        let due = Duration::from_secs(i as u64 * INTERVAL);
        let at = shown.saturating_duration_since(start);
        if at > due + ON_TIME {
            return Err(format!(
                "line {} showed {} after the start, due about {}: \
                 print each message as soon as it arrives",
                i + 1,
                secs(at),
                secs(due)
            ));
        }
    }
    match child.wait_exit(ctx.deadline) {
        Some(status) if status.success() => Ok(()),
        Some(status) => Err(crate::proc::failed_status(status, &child.stderr())),
        None => Err("did not exit after the server closed (killed)".to_string()),
    }
}

fn flood(ctx: &Ctx, size: usize, frames: WsFrames) -> Result<(), String> {
    let (lab, port) = ws_server(|c| {
        c.flood_bytes = size as u64;
        c.ws_frames = frames;
    })?;
    let flood = lab.flood();
    let mut child = ctx.spawn(Program::Part5Ws, &ws_args(port, &["CMD_floodme"]), None)?;
    stream_equals(&mut child, &[&flood, final_newline(&flood)], ctx.deadline)
}

fn two_commands(ctx: &Ctx) -> Result<(), String> {
    let (lab, port) = ws_server(|c| {
        c.messages = 4;
        c.flood_bytes = 1000;
    })?;
    let flood = lab.flood();
    let mut expected = pmu_lines(0, 4);
    expected.extend_from_slice(&flood);
    expected.extend_from_slice(final_newline(&flood));
    let run = ctx.run(
        Program::Part5Ws,
        &ws_args(port, &["CMD_short:0", "CMD_floodme"]),
        1 << 20,
    )?;
    exact_output(&run, &expected)
}
