//! part5_ws against an independent WebSocket server: Python's `websockets`
//! package (installed with pip by the test if missing), in text, binary and
//! fragmented frames, a 100 MiB floodme, an abrupt close, and wss:// with
//! a CA of the test's own.

use crate::util::{Pki, pmu_lines, python_flood, python_server, ws};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn text_binary_and_fragmented_frames_over_ipv4_and_ipv6() {
    for mode in ["text", "binary", "fragmented"] {
        for host in ["127.0.0.1", "::1"] {
            let peer = python_server(
                host,
                &["--mode", mode, "--messages", "7", "--flood", "1000"],
            );
            let url = if host.contains(':') {
                format!("ws://[{host}]:{}", peer.port)
            } else {
                format!("ws://{host}:{}", peer.port)
            };
            let run = ws(
                &[
                    "--url",
                    &url,
                    "--stats",
                    "CMD_short:0",
                    "CMD_floodme",
                    "CMD_short:0",
                ],
                LIMIT,
            );
            assert!(run.status.success(), "{mode} {url}: {}", run.stderr);
            let flood = String::from_utf8(python_flood(1000)).unwrap();
            assert_eq!(
                run.stdout_text(),
                format!("{0}{flood}\n{0}", pmu_lines(0, 7)),
                "{mode} {url}"
            );
            assert!(
                run.stderr.contains("7 message(s) received")
                    && run.stderr.contains("closed with the close handshake"),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_100_mib_floodme_from_python() {
    let len = 100 * 1024 * 1024;
    let peer = python_server(
        "127.0.0.1",
        &["--mode", "binary", "--flood", &len.to_string()],
    );
    let url = format!("ws://127.0.0.1:{}", peer.port);
    let run = ws(
        &["--url", &url, "--stats", "CMD_floodme"],
        Duration::from_secs(90),
    );
    assert!(run.status.success(), "{}", run.stderr);
    // The pattern ends with a newline every 65 bytes; 100 MiB is not a
    // multiple of 65, so one newline is added.
    run.expect_stdout_and_newline(&python_flood(len));
}

#[test]
fn an_abrupt_close_keeps_every_message_and_exits_0() {
    let peer = python_server("::1", &["--mode", "abrupt", "--messages", "4"]);
    let url = format!("ws://[::1]:{}", peer.port);
    let run = ws(&["--url", &url, "--stats", "CMD_short:0"], LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), pmu_lines(0, 4));
    assert!(
        run.stderr.contains("without a close handshake"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_url_path_and_query_are_sent_as_they_are() {
    let peer = python_server("127.0.0.1", &["--mode", "text", "--messages", "1"]);
    let url = format!("ws://localhost:{}/any/path?x=1", peer.port);
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout_text(), pmu_lines(0, 1));
}

#[test]
fn wss_with_the_right_ca_and_refused_with_another() {
    let pki = Pki::new("interop");
    let peer = python_server(
        "127.0.0.1",
        &[
            "--mode",
            "binary",
            "--messages",
            "3",
            "--cert",
            pki.server_cert(),
            "--key",
            pki.server_key(),
        ],
    );
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("wss://{host}:{}", peer.port);
        let run = ws(
            &["--url", &url, "--ca", pki.ca(), "--stats", "CMD_short:0"],
            LIMIT,
        );
        assert!(run.status.success(), "{url}: {}", run.stderr);
        assert_eq!(run.stdout_text(), pmu_lines(0, 3));
    }
    let url = format!("wss://localhost:{}", peer.port);
    let run = ws(
        &["--url", &url, "--ca", pki.other_ca(), "CMD_short:0"],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("part5_ws: error: WebSocket handshake with wss://")
            && run.stderr.contains("certificate"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}
