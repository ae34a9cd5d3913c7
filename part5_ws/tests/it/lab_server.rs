//! part5_ws against lab_server's WebSocket PMU: the same output as part2_pdc,
//! over IPv4 and IPv6, binary and text frames, a 100 MiB floodme.

use crate::util::{BIN, pmu_lines, server, ws};
use lab_server::WsFrames;
use std::io::Read;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn short_over_ipv4_and_ipv6_in_binary_and_text_frames() {
    for frames in [WsFrames::Binary, WsFrames::Text] {
        for first_index in [0, 1] {
            let lab = server(|c| {
                c.messages = 12;
                c.first_index = first_index;
                c.ws_frames = frames;
            });
            let port = lab.ws_port().unwrap();
            for host in ["127.0.0.1", "[::1]", "localhost"] {
                let url = format!("ws://{host}:{port}");
                let run = ws(&["--url", &url, "--stats", "CMD_short:0"], LIMIT);
                assert!(run.status.success(), "{url}: {}", run.stderr);
                assert_eq!(
                    run.stdout_text(),
                    pmu_lines(first_index, 12),
                    "{url} {frames:?}"
                );
                assert!(
                    run.stderr.contains("12 message(s) received")
                        && run.stderr.contains("closed with the close handshake"),
                    "{}",
                    run.stderr
                );
            }
        }
    }
}

#[test]
fn an_ipv4_only_server_is_reached_from_localhost() {
    let lab = server(|c| {
        c.bind = vec!["127.0.0.1".parse().unwrap()];
        c.messages = 2;
    });
    let url = format!("ws://localhost:{}/", lab.ws_port().unwrap());
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), pmu_lines(0, 2));
}

#[test]
fn several_commands_run_in_order() {
    let lab = server(|c| {
        c.messages = 3;
        // Ends inside a line of the flood text: one newline is added.
        c.flood_bytes = 90;
    });
    let url = format!("ws://127.0.0.1:{}", lab.ws_port().unwrap());
    let run = ws(
        &["--url", &url, "CMD_short:0", "CMD_floodme", "CMD_short:0"],
        LIMIT,
    );
    assert!(run.status.success(), "{}", run.stderr);
    let flood = String::from_utf8(lab.flood().to_vec()).unwrap();
    assert_eq!(
        run.stdout_text(),
        format!("{0}{flood}\n{0}", pmu_lines(0, 3))
    );
}

#[test]
fn a_100_mib_floodme_arrives_byte_for_byte() {
    for frames in [WsFrames::Binary, WsFrames::Text] {
        // 100 MiB + 7: the text ends inside a line, so one newline is added.
        let lab = server(|c| {
            c.flood_bytes = 100 * 1024 * 1024 + 7;
            c.ws_frames = frames;
        });
        let url = format!("ws://[::1]:{}", lab.ws_port().unwrap());
        let run = ws(
            &["--url", &url, "--stats", "CMD_floodme"],
            Duration::from_secs(60),
        );
        assert!(run.status.success(), "{}", run.stderr);
        let flood = lab.flood();
        run.expect_stdout_and_newline(&flood);
        assert!(
            run.stderr
                .contains(&format!("1 message(s) received, {} bytes", flood.len())),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_flood_over_the_size_limit_is_refused_with_a_clear_error() {
    let lab = server(|c| c.flood_bytes = 2 * 1024 * 1024);
    let url = format!("ws://127.0.0.1:{}", lab.ws_port().unwrap());
    let run = ws(
        &["--url", &url, "--max-message-size", "1MiB", "CMD_floodme"],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("over the limit") && run.stderr.contains("--max-message-size"),
        "{}",
        run.stderr
    );
}

#[test]
fn with_cmd_short_1_each_line_shows_when_its_message_arrives() {
    let lab = server(|c| c.messages = 3);
    let url = format!("ws://localhost:{}", lab.ws_port().unwrap());
    let start = Instant::now();
    let client = testkit::spawn(BIN, &["--url", &url, "CMD_short:1"]);
    let arrivals = client.timed_lines(start);
    testkit::expect_paced(
        &arrivals,
        &pmu_lines(0, 3),
        Duration::from_secs(1),
        Duration::from_millis(700),
    );
    assert!(client.finish().status.success());
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let lab = server(|c| c.flood_bytes = 8 * 1024 * 1024);
    let url = format!("ws://127.0.0.1:{}", lab.ws_port().unwrap());
    let mut child = testkit::spawn_raw(BIN, &["--url", &url, "CMD_floodme"]);
    let mut head = [0u8; 10];
    child.raw_stdout().unwrap().read_exact(&mut head).unwrap();
    child.close_stdout();
    let run = child.output_within(LIMIT);
    assert!(run.status.success(), "{:?} {}", run.status, run.stderr);
    assert_eq!(run.stderr, "");
}
