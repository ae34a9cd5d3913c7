//! Q9, Q10, Q12, Q19, Q21: how many segments with a payload the PMU sends
//! for `CMD_short:0`, `CMD_short:1` and `CMD_floodme`, over TCP
//! (`part2_pdc`) and over WebSocket (`part5_ws`), measured on the
//! [`Network`]: across the simulated path when it could be built, where
//! the delay line counts them as Wireshark would, or on loopback.
//!
//! Before the answers rely on the path, [`Verdict`] checks that it
//! reproduces what the campus network showed (a 2016 group: 2 segments for
//! 20 messages at `d = 0`, 20 at `d = 1`): `d = 0` must coalesce (fewer
//! segments than messages) and `d = 1` must not (one per message). When it
//! does not, or on loopback, the report says so instead of giving the
//! figures as the campus network's.

use super::network::{Counted, Network};
use super::{FLOOD_BYTES, MESSAGES, stat};
use anyhow::anyhow;
use lab_server::Service;
use std::fmt::Write as _;
use std::path::Path;

/// The commands, in the order they run.
pub const COMMANDS: [&str; 3] = ["CMD_short:0", "CMD_short:1", "CMD_floodme"];

/// The payload of a TCP segment on a 1500-byte MTU over IPv6: 1500 less
/// 40 bytes of IPv6 header, 20 of TCP header and 12 of timestamps.
pub const ETHERNET_V6_PAYLOAD: u64 = 1428;

/// One measured connection.
#[derive(Debug, Clone)]
pub struct Segments {
    pub service: Service,
    pub command: &'static str,
    pub counted: Counted,
    /// `recv()` calls with data (`part2_pdc --stats`) or messages
    /// received (`part5_ws --stats`).
    pub reads: u64,
    /// Bytes the client received.
    pub bytes: u64,
}

impl Segments {
    pub fn client(&self) -> &'static str {
        match self.service {
            Service::WebSocketPmu => "part5_ws (WebSocket)",
            _ => "part2_pdc (TCP)",
        }
    }
}

/// Runs the six connections, one at a time.
pub fn measure(net: &Network, pdc: &Path, ws: &Path) -> anyhow::Result<Vec<Segments>> {
    let mut out = Vec::new();
    for service in [Service::TcpPmu, Service::WebSocketPmu] {
        for command in COMMANDS {
            let (exe, mut args) = match service {
                Service::WebSocketPmu => (ws, vec!["--url".to_string(), net.ws_url()]),
                _ => (pdc, net.pdc_target()),
            };
            args.extend(["--stats".to_string(), command.to_string()]);
            let (run, counted) = net.measure(service, || net.run(exe, &args))?;
            let missing = || {
                anyhow!(
                    "{} {}: no `{command}: N …` line in its --stats output; exit status {}, \
                     stderr: {}",
                    exe.display(),
                    args.join(" "),
                    run.status,
                    super::stderr_text(&run.stderr)
                )
            };
            out.push(Segments {
                service,
                command,
                counted,
                reads: stat(&run.stderr, command, "").ok_or_else(missing)?,
                bytes: stat(&run.stderr, command, "bytes").ok_or_else(missing)?,
            });
        }
    }
    Ok(out)
}

/// What the path's `CMD_short` counts say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `d = 0` coalesced, `d = 1` did not: as on the campus network.
    Reproduced { short0: u64, short1: u64 },
    /// The path did not behave as the campus network.
    NotReproduced { short0: u64, short1: u64 },
    /// Measured on loopback, for this reason.
    Loopback(String),
}

impl Verdict {
    pub fn of(net: &Network, segments: &[Segments]) -> Verdict {
        if let Network::Loopback { why, .. } = net {
            return Verdict::Loopback(why.clone());
        }
        let short0 = data(segments, Service::TcpPmu, "CMD_short:0");
        let short1 = data(segments, Service::TcpPmu, "CMD_short:1");
        Verdict::judge(short0, short1)
    }

    /// `d = 0` must take fewer segments than messages, `d = 1` one per
    /// message (or more: a retransmission).
    pub fn judge(short0: u64, short1: u64) -> Verdict {
        if short0 < MESSAGES && short1 >= MESSAGES {
            Verdict::Reproduced { short0, short1 }
        } else {
            Verdict::NotReproduced { short0, short1 }
        }
    }
}

/// Data segments of one connection.
pub fn data(segments: &[Segments], service: Service, command: &str) -> u64 {
    find(segments, service, command).map_or(0, |s| s.counted.data)
}

fn find<'a>(segments: &'a [Segments], service: Service, command: &str) -> Option<&'a Segments> {
    segments
        .iter()
        .find(|s| s.service == service && s.command == command)
}

/// Where the figures come from, and whether they answer the questions: the
/// opening of the report's Part 2 section.
pub fn render_where(o: &mut String, verdict: &Verdict, path: Option<&str>) {
    match verdict {
        Verdict::Reproduced { short0, short1 } => {
            let _ = writeln!(
                o,
                "Measured across a simulated path, not loopback: {}. `lab_server` runs in the \
                 server namespace, `part2_pdc` and `part5_ws` in the client's (`ip netns exec`), \
                 and the delay line counts the segments the server sends, with their payload, \
                 as Wireshark on the path would (retransmissions included).\n",
                path.unwrap_or("?")
            );
            let _ = writeln!(
                o,
                "Checked before relying on it: `CMD_short:0` crossed in {short0} segment(s) and \
                 `CMD_short:1` in {short1} for {MESSAGES} messages, so the path coalesces as the \
                 campus network did (a 2016 group measured 2 and 20).\n"
            );
        }
        Verdict::NotReproduced { short0, short1 } => {
            let _ = writeln!(
                o,
                "Measured across a simulated path: {}.\n",
                path.unwrap_or("?")
            );
            let _ = writeln!(
                o,
                "**This path did not reproduce the campus network**: `CMD_short:0` crossed in \
                 {short0} segment(s) and `CMD_short:1` in {short1} for {MESSAGES} messages, where \
                 the campus network coalesces the first (a 2016 group measured 2 segments) and \
                 not the second (20). The tables below are what this machine measured, not the \
                 answers a capture on the campus network gives; the handout's answers are: few \
                 segments (often 2) at `d = 0`, one per message at `d = 1`.\n"
            );
        }
        Verdict::Loopback(why) => {
            let _ = writeln!(
                o,
                "**Measured on loopback, not across a network path**, because {why}. The counts \
                 are the server kernel's (`TCP_INFO`'s `tcpi_data_segs_out`, read just before \
                 it closes). Loopback has no round trip, so Nagle's algorithm never holds a \
                 segment back, and its MSS is about 64 KiB: these are **not** the figures \
                 Wireshark shows on the campus network, where `CMD_short:0` coalesces into few \
                 segments (a 2016 group measured 2 for 20 messages), `CMD_short:1` takes one per \
                 message and the flood one per {ETHERNET_V6_PAYLOAD} bytes or so. Run `make \
                 report` as root to measure across a simulated path.\n"
            );
        }
    }
}

pub fn render(o: &mut String, segments: &[Segments], verdict: &Verdict) {
    let on_path = !matches!(verdict, Verdict::Loopback(_));
    let campus = matches!(verdict, Verdict::Reproduced { .. });
    let tcp = |command| find(segments, Service::TcpPmu, command);
    let ws = |command| find(segments, Service::WebSocketPmu, command);
    let all_label = if on_path {
        "all packets from the server (SYN-ACK, ACKs, FIN too)"
    } else {
        "all segments the server sent (SYN-ACK, ACKs, FIN too)"
    };

    // Q9
    let _ = writeln!(
        o,
        "### Q9: packets with a payload from the TCP server (`part2_pdc`)\n"
    );
    let _ = writeln!(
        o,
        "| command | messages | packets with payload > 0 | {all_label} | payload bytes | client `recv()` calls |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
    for command in ["CMD_short:0", "CMD_short:1"] {
        if let Some(s) = tcp(command) {
            let _ = writeln!(
                o,
                "| `{command}` | {MESSAGES} | **{}** | {} | {} | {} |",
                s.counted.data, s.counted.all, s.bytes, s.reads
            );
        }
    }
    let short0 = data(segments, Service::TcpPmu, "CMD_short:0");
    let short1 = data(segments, Service::TcpPmu, "CMD_short:1");
    let _ = writeln!(
        o,
        "\n**Answer{}:** {short0} packet(s) with a payload at `d = 0`, {short1} at `d = 1` \
         ({MESSAGES} messages, numbered from 0).\n",
        if campus {
            ""
        } else {
            " (this machine's, see above)"
        }
    );

    // Q10
    let _ = writeln!(o, "### Q10: why they differ\n");
    let _ = writeln!(
        o,
        "Nagle's algorithm (on by default; the TCP PMU does not set `TCP_NODELAY`) sends a \
         small segment only when no data is waiting for an acknowledgment. At `d = 0` the PMU's \
         {MESSAGES} `send()`s follow each other within microseconds: the first message leaves \
         alone, and the next ones wait in the send buffer until its ACK comes back a round trip \
         later, then leave together{}. At `d = 1` a second between two `send()`s is far longer \
         than the round trip: nothing is waiting when the next message is written, so each \
         leaves in a segment of its own.{}\n",
        if on_path {
            format!(
                " ({} bytes in {short0} segment(s) here)",
                tcp("CMD_short:0").map_or(0, |s| s.bytes)
            )
        } else {
            String::new()
        },
        if on_path {
            ""
        } else {
            " On loopback the ACK is back before the next `send()`, so nothing waits and even \
             `d = 0` takes a segment per message."
        }
    );

    // Q12
    let _ = writeln!(
        o,
        "### Q12: packets with a payload for `CMD_floodme` (`part2_pdc`)\n"
    );
    let mss_label = if on_path {
        "largest payload seen (the MSS)"
    } else {
        "send MSS (`tcpi_snd_mss`)"
    };
    let _ = writeln!(
        o,
        "| command | bytes sent in one `send()` | packets with payload > 0 | {all_label} | {mss_label} | client `recv()` calls |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
    if let Some(s) = tcp("CMD_floodme") {
        let _ = writeln!(
            o,
            "| `CMD_floodme` | {FLOOD_BYTES} | **{}** | {} | {} | {} |",
            s.counted.data, s.counted.all, s.counted.mss, s.reads
        );
        let mss = s.counted.mss.max(1);
        let _ = writeln!(
            o,
            "\n**Answer:** many: {} packets with a payload for one `send()` of {FLOOD_BYTES} \
             bytes. A segment carries at most one MSS ({} bytes here{}), so the flood needs at \
             least {FLOOD_BYTES} / {} = {} segments; more when the sender pushes a \
             partly filled segment at the end of a window.\n",
            s.counted.data,
            s.counted.mss,
            if on_path {
                ": the 1500-byte MTU less 40 bytes of IPv6 header, 20 of TCP header and 12 of \
                 timestamps"
            } else {
                ", loopback's; on an Ethernet path it would be 1428 over IPv6"
            },
            s.counted.mss,
            FLOOD_BYTES.div_ceil(mss)
        );
    }

    // Q19 and Q21
    let _ = writeln!(
        o,
        "### Q19, Q21: the same commands over WebSocket (`part5_ws`)\n"
    );
    let _ = writeln!(
        o,
        "| command | TCP: packets with payload | WebSocket: packets with payload | WebSocket: {all_label} | WebSocket: `on_message` calls (messages received) |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|");
    for command in COMMANDS {
        if let (Some(t), Some(w)) = (tcp(command), ws(command)) {
            let _ = writeln!(
                o,
                "| `{command}` | {} | **{}** | {} | {} |",
                t.counted.data, w.counted.data, w.counted.all, w.reads
            );
        }
    }
    let w0 = data(segments, Service::WebSocketPmu, "CMD_short:0");
    let wf = data(segments, Service::WebSocketPmu, "CMD_floodme");
    let tf = data(segments, Service::TcpPmu, "CMD_floodme");
    let _ = writeln!(
        o,
        "\n**Q19:** {w0} packets with a payload for `CMD_short:0` over WebSocket, against \
         {short0} over TCP{}. The WebSocket PMU sets `TCP_NODELAY`, so Nagle's algorithm does \
         not hold its small frames back: each leaves at once while the congestion window \
         allows (Linux starts with 10 segments){}. The connection also adds packets of its \
         own: the handshake's HTTP response and the close frame.\n",
        match w0.cmp(&short0) {
            std::cmp::Ordering::Greater => ": more",
            std::cmp::Ordering::Equal => ": as many",
            std::cmp::Ordering::Less => ": fewer",
        },
        if on_path && w0 < MESSAGES + 2 {
            "; the frames written once the window was full waited a round trip for its ACKs \
             and shared segments"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "**Q21:** {wf} packets with a payload for the flood over WebSocket, against {tf} over \
         TCP: about the same, the same bytes cut into MSS-sized segments, plus the handshake, \
         the frame's header and the close frame. `on_message` fires {} time(s) for the whole \
         flood, where `part2_pdc` needed {} `recv()` calls: WebSocket delivers messages, TCP a \
         stream.\n",
        ws("CMD_floodme").map_or(0, |s| s.reads),
        tcp("CMD_floodme").map_or(0, |s| s.reads),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(service: Service, command: &'static str, data: u64) -> Segments {
        Segments {
            service,
            command,
            counted: Counted {
                data,
                all: data + 3,
                mss: 1428,
            },
            reads: data,
            bytes: 370,
        }
    }

    fn all(short0: u64) -> Vec<Segments> {
        let mut v = Vec::new();
        for service in [Service::TcpPmu, Service::WebSocketPmu] {
            v.push(seg(service, "CMD_short:0", short0));
            v.push(seg(service, "CMD_short:1", MESSAGES));
            v.push(seg(service, "CMD_floodme", 41));
        }
        v
    }

    #[test]
    fn the_path_is_trusted_only_when_d0_coalesces_and_d1_does_not() {
        assert_eq!(
            Verdict::judge(2, MESSAGES),
            Verdict::Reproduced {
                short0: 2,
                short1: MESSAGES
            }
        );
        assert!(matches!(
            Verdict::judge(MESSAGES, MESSAGES),
            Verdict::NotReproduced { .. }
        ));
        assert!(matches!(
            Verdict::judge(2, 3),
            Verdict::NotReproduced { .. }
        ));
    }

    #[test]
    fn loopback_says_why_and_that_it_is_not_the_campus_network() {
        let mut o = String::new();
        render_where(
            &mut o,
            &Verdict::Loopback("the report does not run as root".into()),
            None,
        );
        assert!(o.contains("Measured on loopback"), "{o}");
        assert!(o.contains("because the report does not run as root"), "{o}");
        assert!(o.contains("**not** the figures"), "{o}");
        assert!(o.contains("as root"), "{o}");
    }

    #[test]
    fn a_path_that_does_not_coalesce_is_not_given_as_the_answer() {
        let mut o = String::new();
        render_where(
            &mut o,
            &Verdict::judge(MESSAGES, MESSAGES),
            Some("the path"),
        );
        assert!(o.contains("did not reproduce the campus network"), "{o}");
        render(&mut o, &all(MESSAGES), &Verdict::judge(MESSAGES, MESSAGES));
        assert!(o.contains("this machine's, see above"), "{o}");
    }

    #[test]
    fn a_reproducing_path_states_its_check_and_answers() {
        let mut o = String::new();
        let verdict = Verdict::judge(2, MESSAGES);
        render_where(&mut o, &verdict, Some("two namespaces"));
        render(&mut o, &all(2), &verdict);
        assert!(o.contains("Measured across a simulated path, not loopback: two namespaces"));
        assert!(o.contains("`CMD_short:0` crossed in 2 segment(s)"), "{o}");
        assert!(
            o.contains("**Answer:** 2 packet(s) with a payload at `d = 0`, 20 at `d = 1`"),
            "{o}"
        );
        assert!(o.contains("| `CMD_floodme` | 57344 | **41** |"), "{o}");
        assert!(!o.contains("loopback's"), "{o}");
    }
}
