//! Part 3, the reset client: `EXE --host localhost --port P --timeout T
//! [--runs N]` against lab_server listening on IPv4 only, then on IPv6
//! only (the client must try both families on every attempt), with loss,
//! and against a [`ResetPeer`] that drops the first requests, forges a
//! reply from another port, or sends malformed replies first.
//!
//! The output line is checked field by field: `OFFSET=<X> over IPv4|IPv6
//! from <addr> at <RFC 3339 time> after <k> attempt(s)`, and with `--runs`
//! the summary against the lines.
//!
//! `localhost` must reach `::1` for the IPv6-only case: docs/SPEC.md's clients
//! resolve it to both loopback addresses (RFC 6761), as a client of the
//! course server reaches its AAAA record; a client that trusts an
//! `/etc/hosts` listing only 127.0.0.1 fails that case.

use crate::bins::Program;
use crate::checks::{lab_server, success};
use crate::grade::{Case, Ctx};
use crate::peers::{ResetPeer, ResetPlan};
use crate::proc::secs;
use lab_server::UdpFamily;
use std::net::SocketAddr;
use std::time::Duration;

/// One success line of the client.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetLine {
    pub offset: u32,
    pub family: String,
    pub from: SocketAddr,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    pub attempts: u64,
}

/// Parses `OFFSET=<X> over IPv4 from <addr> at <time> after <k> attempt(s)`.
pub fn parse_offset_line(line: &str) -> Result<OffsetLine, String> {
    let bad = |what: &str| {
        format!(
            "{what} in {line:?} (expected OFFSET=<X> over IPv4|IPv6 from <addr> at <RFC 3339 time> after <k> attempt(s))"
        )
    };
    let rest = line
        .strip_prefix("OFFSET=")
        .ok_or_else(|| bad("no OFFSET="))?;
    let (offset, rest) = rest
        .split_once(" over ")
        .ok_or_else(|| bad("no ' over '"))?;
    let (family, rest) = rest
        .split_once(" from ")
        .ok_or_else(|| bad("no ' from '"))?;
    let (from, rest) = rest.split_once(" at ").ok_or_else(|| bad("no ' at '"))?;
    let (at, rest) = rest
        .split_once(" after ")
        .ok_or_else(|| bad("no ' after '"))?;
    let attempts = rest
        .strip_suffix(" attempts")
        .or_else(|| rest.strip_suffix(" attempt"))
        .ok_or_else(|| bad("no ' attempt(s)'"))?;
    if family != "IPv4" && family != "IPv6" {
        return Err(bad("a family other than IPv4 or IPv6"));
    }
    Ok(OffsetLine {
        offset: offset
            .parse()
            .map_err(|_| bad("an offset that is not a number"))?,
        family: family.to_string(),
        from: from
            .parse()
            .map_err(|_| bad("an address that is not ADDR:PORT"))?,
        at: chrono::DateTime::parse_from_rfc3339(at).map_err(|_| bad("a time not in RFC 3339"))?,
        attempts: attempts
            .parse()
            .map_err(|_| bad("an attempt count that is not a number"))?,
    })
}

/// The `--runs` summary line.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryLine {
    pub runs: u64,
    pub attempts: u64,
    pub mean: f64,
    pub loss: f64,
}

/// Parses `runs: N, attempts: A, mean attempts per ack: M, estimated loss probability: P`.
pub fn parse_summary(line: &str) -> Result<SummaryLine, String> {
    let bad = || {
        format!(
            "{line:?} is not `runs: N, attempts: A, mean attempts per ack: M, estimated loss probability: P`"
        )
    };
    let mut fields = line.split(", ");
    let mut field = |name: &str| {
        fields
            .next()
            .and_then(|f| f.strip_prefix(name))
            .map(str::trim)
            .ok_or_else(bad)
    };
    let runs = field("runs:")?.parse().map_err(|_| bad())?;
    let attempts = field("attempts:")?.parse().map_err(|_| bad())?;
    let mean = field("mean attempts per ack:")?
        .parse()
        .map_err(|_| bad())?;
    let loss = field("estimated loss probability:")?
        .parse()
        .map_err(|_| bad())?;
    Ok(SummaryLine {
        runs,
        attempts,
        mean,
        loss,
    })
}

pub fn cases() -> Vec<Case> {
    let limit = Duration::from_secs(15);
    vec![
        Case::new(
            3,
            "part3: IPv4-only server, --host localhost",
            &[Program::Part3Reset],
            limit,
            |ctx| one_family(ctx, UdpFamily::V4),
        ),
        Case::new(
            3,
            "part3: IPv6-only server, --host localhost",
            &[Program::Part3Reset],
            limit,
            |ctx| one_family(ctx, UdpFamily::V6),
        ),
        Case::new(
            3,
            "part3: 50% loss, --runs 20, summary matches the lines",
            &[Program::Part3Reset],
            Duration::from_secs(25),
            lossy,
        ),
        Case::new(
            3,
            "part3: retransmits every --timeout (2 requests dropped)",
            &[Program::Part3Reset],
            limit,
            |ctx| against_peer(ctx, ResetPlan::DropFirst(2)),
        ),
        Case::new(
            3,
            "part3: ignores a forged reply from another port",
            &[Program::Part3Reset],
            limit,
            |ctx| against_peer(ctx, ResetPlan::ForgedFirst),
        ),
        Case::new(
            3,
            "part3: ignores malformed replies, takes OFFSET:X",
            &[Program::Part3Reset],
            limit,
            |ctx| against_peer(ctx, ResetPlan::MalformedFirst),
        ),
    ]
}

fn reset_args(port: u16, timeout: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["--host", "localhost", "--port", &port.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--timeout".to_string(), timeout.to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The one line a single run prints, checked against what the server is.
fn single_line(
    run: &crate::proc::Finished,
    family: &str,
    from: SocketAddr,
) -> Result<OffsetLine, String> {
    success(run)?;
    let lines = run.lines();
    let [line] = lines.as_slice() else {
        return Err(format!(
            "printed {} lines instead of one: {:?}",
            lines.len(),
            lines
        ));
    };
    let parsed = parse_offset_line(line)?;
    if parsed.family != family || parsed.from != from {
        return Err(format!(
            "says {} from {}, but the server is {family} at {from}",
            parsed.family, parsed.from
        ));
    }
    if parsed.offset > 20 {
        return Err(format!(
            "OFFSET={} is over n = 20: that reply should have been ignored",
            parsed.offset
        ));
    }
    let skew = (chrono::Local::now().fixed_offset() - parsed.at)
        .num_seconds()
        .abs();
    if skew > 120 {
        return Err(format!("the time {} is {skew} s off the clock", parsed.at));
    }
    Ok(parsed)
}

fn one_family(ctx: &Ctx, family: UdpFamily) -> Result<(), String> {
    let lab = lab_server(|c| {
        c.udp_port = Some(0);
        c.udp_family = family;
        c.loss = 0.0;
    })?;
    let from = lab.udp_addrs()[0];
    let name = if from.is_ipv4() { "IPv4" } else { "IPv6" };
    let run = ctx.run(
        Program::Part3Reset,
        // The course's second: a lossless server answers at once, and a
        // loaded machine must not turn a slow reply into a second attempt.
        &reset_args(from.port(), "1", &[]),
        64 * 1024,
    )?;
    let line = single_line(&run, name, from)?;
    if line.attempts != 1 {
        return Err(format!(
            "{} attempts against a server that drops nothing",
            line.attempts
        ));
    }
    Ok(())
}

fn lossy(ctx: &Ctx) -> Result<(), String> {
    let runs = 20u64;
    let lab = lab_server(|c| {
        c.udp_port = Some(0);
        c.udp_family = UdpFamily::V4;
        c.loss = 0.5;
    })?;
    let port = lab.udp_port().unwrap_or(0);
    let run = ctx.run(
        Program::Part3Reset,
        &reset_args(port, "0.2", &["--runs", &runs.to_string()]),
        1 << 20,
    )?;
    success(&run)?;
    let lines = run.lines();
    let Some((summary, offsets)) = lines.split_last() else {
        return Err("printed nothing".to_string());
    };
    let summary = parse_summary(summary).map_err(|why| format!("no summary line: {why}"))?;
    if offsets.len() as u64 != runs {
        return Err(format!("{} OFFSET lines for --runs {runs}", offsets.len()));
    }
    let mut attempts = 0;
    for line in offsets {
        attempts += parse_offset_line(line)?.attempts;
    }
    if summary.runs != runs || summary.attempts != attempts {
        return Err(format!(
            "the summary says {} runs and {} attempts, the lines {runs} and {attempts}",
            summary.runs, summary.attempts
        ));
    }
    if attempts == runs {
        // With p = 0.5 this happens once in a million gradings.
        return Err("no attempt was ever lost at 50% loss: are the lines honest?".to_string());
    }
    let mean = attempts as f64 / runs as f64;
    let loss = 1.0 - runs as f64 / attempts as f64;
    if (summary.mean - mean).abs() > 0.006 || (summary.loss - loss).abs() > 0.0006 {
        return Err(format!(
            "mean {} and loss {} in the summary, but {attempts} attempts over {runs} runs \
             give {mean:.2} and 1 - N/A = {loss:.3}",
            summary.mean, summary.loss
        ));
    }
    Ok(())
}

fn against_peer(ctx: &Ctx, plan: ResetPlan) -> Result<(), String> {
    let peer = ResetPeer::start(plan, ctx.deadline)?;
    let from: SocketAddr = ([127, 0, 0, 1], peer.port).into();
    let timeout = match plan {
        ResetPlan::DropFirst(_) => "0.3",
        _ => "1",
    };
    let run = ctx.run(
        Program::Part3Reset,
        &reset_args(peer.port, timeout, &[]),
        64 * 1024,
    );
    let arrivals = peer.join();
    let run = run?;
    let arrivals = arrivals?;
    let line = single_line(&run, "IPv4", from)?;
    if line.offset != plan.offset() {
        return Err(match plan {
            ResetPlan::ForgedFirst => format!(
                "took OFFSET={} from another port: only the server's address and port count",
                line.offset
            ),
            _ => format!("OFFSET={} instead of {}", line.offset, plan.offset()),
        });
    }
    if let ResetPlan::DropFirst(k) = plan {
        let expected = k as u64 + 1;
        if line.attempts != expected {
            return Err(format!(
                "says {} attempts; the server saw {expected}",
                line.attempts
            ));
        }
        for pair in arrivals.windows(2) {
            let gap = pair[1] - pair[0];
            if gap < Duration::from_millis(150) || gap > Duration::from_secs(1) {
                return Err(format!(
                    "retransmitted {} after the previous attempt with --timeout 0.3",
                    secs(gap)
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse() {
        let line = parse_offset_line(
            "OFFSET=17 over IPv6 from [::1]:5004 at 2026-11-21T20:26:28.024+00:00 after 2 attempts",
        )
        .unwrap();
        assert_eq!(line.offset, 17);
        assert_eq!(line.family, "IPv6");
        assert_eq!(line.from, "[::1]:5004".parse().unwrap());
        assert_eq!(line.attempts, 2);
        assert!(
            parse_offset_line("OFFSET=1 over IPv5 from 1.2.3.4:5 at x after 1 attempt").is_err()
        );
        let summary = parse_summary(
            "runs: 5, attempts: 7, mean attempts per ack: 1.40, estimated loss probability: 0.286",
        )
        .unwrap();
        assert_eq!((summary.runs, summary.attempts), (5, 7));
        assert!((summary.loss - 0.286).abs() < 1e-9);
        assert!(parse_summary("runs: 5").is_err());
    }
}
