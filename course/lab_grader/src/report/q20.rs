//! Q20: how many times `on_message` fires (messages `part5_ws` received),
//! from the WebSocket runs of Q19 and Q21.

use super::q9_segments::Segments;
use lab_server::Service;
use std::fmt::Write as _;

pub fn render(o: &mut String, segments: &[Segments]) {
    let _ = writeln!(o, "## Q20: WebSocket messages received\n");
    let _ = writeln!(
        o,
        "`part5_ws --stats COMMAND` against `lab_server`'s WebSocket PMU (binary frames, as \
         the course server's), the runs of Q19 and Q21:\n"
    );
    let _ = writeln!(
        o,
        "| command | messages received (`on_message` calls) | bytes | TCP: `recv()` calls of `part2_pdc` |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|");
    for ws in segments
        .iter()
        .filter(|s| s.service == Service::WebSocketPmu)
    {
        let tcp = segments
            .iter()
            .find(|s| s.service == Service::TcpPmu && s.command == ws.command)
            .map_or(0, |s| s.reads);
        let _ = writeln!(
            o,
            "| `{}` | {} | {} | {tcp} |",
            ws.command, ws.reads, ws.bytes
        );
    }
    let _ = writeln!(
        o,
        "\n**Answer:** one `on_message` per PMU message for `CMD_short`, and one for the whole \
         flood: WebSocket is message-oriented and delivers each message whole, however TCP cut \
         it. Part 2's client must cut the stream into messages itself (the PMU's messages have \
         no separator), which needs more complex handling.\n"
    );
}
