//! Q13: how many `recv()` calls `part2_pdc` needs, for each receive
//! buffer size, and whether that is the number of packets (Q12) — on the
//! same network as Q9–Q21.

use super::network::Network;
use super::q9_segments::{self, Segments};
use super::{FLOOD_BYTES, MESSAGES, stat};
use anyhow::anyhow;
use lab_server::Service;
use std::fmt::Write as _;
use std::path::Path;

/// The receive buffers compared (`--bufsize`).
pub const BUFSIZES: [usize; 7] = [16, 64, 256, 1024, 4096, 65536, 1 << 20];

/// `recv()` calls for one buffer size.
#[derive(Debug)]
pub struct Recvs {
    pub bufsize: usize,
    pub short: u64,
    pub flood: u64,
    pub flood_bytes: u64,
}

pub fn measure(net: &Network, pdc: &Path) -> anyhow::Result<Vec<Recvs>> {
    let mut out = Vec::new();
    for bufsize in BUFSIZES {
        let mut args = net.pdc_target();
        args.extend(
            [
                "--bufsize",
                &bufsize.to_string(),
                "--stats",
                "CMD_short:0",
                "CMD_floodme",
            ]
            .map(String::from),
        );
        let run = net.run(pdc, &args)?;
        let get = |command, after| {
            stat(&run.stderr, command, after).ok_or_else(|| {
                anyhow!(
                    "part2_pdc {}: no `{command}: N recv() calls` line in its --stats output; \
                     exit status {}, stderr: {}",
                    args.join(" "),
                    run.status,
                    super::stderr_text(&run.stderr)
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

pub fn render(o: &mut String, recvs: &[Recvs], segments: &[Segments], on_path: bool) {
    let _ = writeln!(o, "## Q13: `recv()` calls and the receive buffer\n");
    let _ = writeln!(
        o,
        "`part2_pdc --bufsize B --stats CMD_short:0 CMD_floodme`, {} ({MESSAGES} messages; a \
         flood of {FLOOD_BYTES} bytes). The counts are the `recv()` calls that returned data \
         (one more returns 0 at the end).\n",
        if on_path {
            "across the same simulated path"
        } else {
            "on loopback"
        }
    );
    let _ = writeln!(
        o,
        "| `--bufsize` (bytes) | `CMD_short:0` recv() calls | `CMD_floodme` recv() calls | flood bytes / buffer, rounded up |"
    );
    let _ = writeln!(o, "|---:|---:|---:|---:|");
    for v in recvs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            v.bufsize,
            v.short,
            v.flood,
            v.flood_bytes.div_ceil(v.bufsize as u64)
        );
    }
    let packets = q9_segments::data(segments, Service::TcpPmu, "CMD_floodme");
    let default_recvs = segments
        .iter()
        .find(|s| s.service == Service::TcpPmu && s.command == "CMD_floodme")
        .map_or(0, |s| s.reads);
    let _ = writeln!(
        o,
        "\n**Answer:** 1. with `part2_pdc`'s default 64 KiB buffer, {default_recvs} `recv()` \
         calls for the flood (Q12's run). 2. Not the number of packets ({packets} in Q12) but \
         for chance: a `recv()` returns whatever has arrived, up to its buffer, so one call can \
         take several packets and a small buffer splits one packet into several calls. 3. The \
         buffer size (with a small buffer every call is filled: the bytes over the buffer), \
         and with a large one how fast the data arrives compared with how fast the client \
         reads: the network's round trip and rate, the sender's window, the load of the \
         machine.\n"
    );
}
