//! What a user or a peer can get wrong: one line on stderr and the right
//! exit status, with whatever arrived before the failure printed.

use crate::util::ws;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

fn assert_one_line_error(stderr: &str, needle: &str) {
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("part5_ws: error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} in {stderr}");
}

#[test]
fn a_refused_connection_exits_1() {
    let url = format!("ws://localhost:{}", testkit::unused_port());
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "Connection refused");
    assert!(run.stdout.is_empty());
}

#[test]
fn an_unknown_host_exits_1() {
    let run = ws(
        &["--url", "ws://no-such-host.invalid:5006", "CMD_short:0"],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "no-such-host.invalid");
}

#[test]
fn usage_errors_exit_2() {
    for (args, needle) in [
        (
            &["--url", "ws://localhost:1", "CMD_short"][..],
            "is not a PMU command",
        ),
        (
            &["--url", "ws://localhost:1", "hello"][..],
            "is not a PMU command",
        ),
        (
            &["--url", "http://localhost:1", "CMD_floodme"][..],
            "not a WebSocket URL",
        ),
        (
            &["--url", "localhost:5006", "CMD_floodme"][..],
            "not a WebSocket URL",
        ),
        (
            &["--url", "ws://localhost:1", "--ca", "x.pem", "CMD_floodme"][..],
            "--ca is for wss://",
        ),
        (
            &["--max-message-size", "0", "CMD_floodme"][..],
            "--max-message-size",
        ),
        (
            &["--max-message-size", "lots", "CMD_floodme"][..],
            "byte count",
        ),
    ] {
        let run = ws(args, LIMIT);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert_one_line_error(&run.stderr, needle);
    }
    let run = ws(&["--url", "ws://localhost:1"], LIMIT);
    assert_eq!(run.status.code(), Some(2), "no command");
}

#[test]
fn a_silent_server_times_out_with_a_clear_message() {
    // Accepts, never answers the opening handshake.
    let listener = TcpListener::bind("[::1]:0").unwrap();
    let url = format!("ws://[::1]:{}", listener.local_addr().unwrap().port());
    let run = ws(&["--url", &url, "--timeout", "0.3", "CMD_floodme"], LIMIT);
    drop(listener);
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "no answer for 0.3 s");
}

#[test]
fn a_server_that_is_not_websocket_is_named() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://127.0.0.1:{}/", listener.local_addr().unwrap().port());
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = conn.read(&mut request);
        conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
    });
    let run = ws(&["--url", &url, "CMD_short:0"], LIMIT);
    peer.join().unwrap();
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "HTTP 404");
}

#[test]
fn a_plain_server_behind_a_wss_url_fails_the_tls_handshake() {
    let lab = crate::util::server(|_| {});
    let url = format!("wss://localhost:{}", lab.ws_port().unwrap());
    let pki = crate::util::Pki::new("plain");
    let run = ws(&["--url", &url, "--ca", pki.ca(), "CMD_short:0"], LIMIT);
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "TLS");
}

#[test]
fn a_ca_file_without_certificates_is_refused() {
    let ca = std::env::temp_dir().join(format!("part5_ws-empty-{}.pem", std::process::id()));
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let run = ws(
        &[
            "--url",
            "wss://localhost:1",
            "--ca",
            ca.to_str().unwrap(),
            "CMD_short:0",
        ],
        LIMIT,
    );
    let _ = std::fs::remove_file(&ca);
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "no PEM certificate");
    let run = ws(
        &[
            "--url",
            "wss://localhost:1",
            "--ca",
            "/no/such/ca.pem",
            "CMD_short:0",
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(1));
    assert_one_line_error(&run.stderr, "/no/such/ca.pem");
}
