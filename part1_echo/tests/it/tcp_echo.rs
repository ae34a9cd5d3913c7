//! The TCP echo server and client over IPv4 and IPv6, one client after the
//! other, and a second client waiting while the first holds the server. The
//! server's end line shows the client as Python's tuple:
//! `No more data from ('127.0.0.1', 50042)`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::util::{HANDOUT_MESSAGE, listening, py_addr, run, spawn};

/// The `No more data from` line for the client whose stderr says
/// `connected to ADDR from LOCAL`.
fn no_more_data_line(client_stderr: &[String], mapped_to_v4: bool) -> String {
    let local: SocketAddr = client_stderr
        .iter()
        .find_map(|l| l.split(" from ").nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no `connected to … from ADDR`: {client_stderr:?}"));
    let local = match local {
        SocketAddr::V6(v6) if mapped_to_v4 => v6
            .ip()
            .to_ipv4_mapped()
            .map_or(local, |ip| SocketAddr::new(ip.into(), v6.port())),
        other => other,
    };
    format!("No more data from {}", py_addr(local))
}

/// Runs one echo of `message` through a server bound to `bind`, the client
/// connecting to `host`; returns the server's last line and the line it
/// should be, from the client's own address.
fn echo_once(bind: &str, host: &str, message: &str) -> (String, String) {
    let (server, addr) = listening(&format!("tcp-server --bind {bind} --port 0 --once"));
    let port = addr.port().to_string();
    let client = run(&[
        "tcp-client",
        "--close",
        "--host",
        host,
        "--port",
        &port,
        message,
    ]);
    assert!(client.status.success(), "client: {client:?}");
    let echoed: String = client
        .stdout
        .iter()
        .filter_map(|l| l.strip_prefix("received: "))
        .collect();
    assert_eq!(echoed, message);
    let server = server.finish();
    assert!(server.status.success(), "server: {server:?}");
    let expected = no_more_data_line(&client.stderr, true);
    (server.stdout.last().cloned().unwrap_or_default(), expected)
}

#[test]
fn echo_over_ipv4() {
    let (last, expected) = echo_once("127.0.0.1", "127.0.0.1", "hello over IPv4");
    assert!(expected.starts_with("No more data from ('127.0.0.1', "));
    assert_eq!(last, expected);
}

#[test]
fn echo_over_ipv6() {
    let (last, expected) = echo_once("::1", "::1", "hello over IPv6");
    assert!(expected.starts_with("No more data from ('::1', "));
    assert!(expected.ends_with(", 0, 0)"));
    assert_eq!(last, expected);
}

#[test]
fn an_ipv4_client_of_an_ipv6_socket_shows_as_ipv4() {
    // The v4-mapped loopback: an IPv6 socket that takes IPv4 peers, as the
    // default dual-stack bind does, without listening beyond loopback.
    let (last, expected) = echo_once("::ffff:127.0.0.1", "127.0.0.1", "mapped");
    assert!(expected.starts_with("No more data from ('127.0.0.1', "));
    assert_eq!(last, expected);
}

#[test]
fn a_second_client_is_served_after_the_first() {
    let (server, addr) = listening("tcp-server --bind 127.0.0.1 --port 0");
    let port = addr.port().to_string();
    for message in ["first client", "second client"] {
        let client = run(&[
            "tcp-client",
            "--close",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            message,
        ]);
        assert!(client.status.success(), "{message}: {client:?}");
        assert_eq!(client.stdout[0], format!("sending: {message}"));
    }
    let server = server.kill();
    let lines: Vec<&str> = server.stdout.iter().map(String::as_str).collect();
    assert_eq!(lines.len(), 4, "server: {server:?}");
    assert_eq!(lines[0], "received: first client");
    assert!(lines[1].starts_with("No more data from ('127.0.0.1', "));
    assert_eq!(lines[2], "received: second client");
    assert!(lines[3].starts_with("No more data from ('127.0.0.1', "));
}

#[test]
fn a_second_client_waits_while_the_first_holds_the_server() {
    let (server, addr) = listening("tcp-server --bind 127.0.0.1 --port 0");
    let port = addr.port().to_string();

    // The default, as Code D's `while True: pass`: hold the connection.
    let first = spawn(&["tcp-client", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(first.line(), format!("sending: {HANDOUT_MESSAGE}"));
    for _ in 0..6 {
        assert!(first.line().starts_with("received: "));
    }

    // The iterative server is busy with the first client: the second one
    // connects (the kernel's accept queue) but gets no echo.
    let second = spawn(&[
        "tcp-client",
        "--close",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
    ]);
    assert_eq!(second.line(), format!("sending: {HANDOUT_MESSAGE}"));
    assert_eq!(second.line_within(Duration::from_millis(500)), None);

    // Once the first client is gone, the second one is served.
    drop(first.kill());
    let second = second.finish();
    assert!(second.status.success(), "second: {second:?}");
    assert_eq!(second.count("received: "), 6, "second: {second:?}");

    let server = server.kill();
    assert_eq!(server.count("received: "), 6, "server: {server:?}");
    assert_eq!(server.count("No more data from"), 2, "server: {server:?}");
}

#[test]
fn hold_ends_when_the_server_closes() {
    let (server, addr) = listening("tcp-server --bind ::1 --port 0");
    let port = addr.port().to_string();
    let client = spawn(&["tcp-client", "--host", "::1", "--port", &port, "x"]);
    assert_eq!(client.line(), "sending: x");
    assert_eq!(client.line(), "received: x");
    drop(server.kill());
    let client = client.finish();
    assert!(client.status.success(), "client: {client:?}");
    assert!(
        client
            .stderr
            .iter()
            .any(|l| l.contains("closed the connection")),
        "client: {client:?}"
    );
}

/// Questions 7 and 8: by default the client holds the connection after the
/// echo, so the server prints no `No more data from` until the client is
/// stopped; then it does.
#[test]
fn the_server_says_no_more_data_only_when_the_holding_client_goes() {
    let (server, addr) = listening("tcp-server --bind 127.0.0.1 --port 0");
    let port = addr.port().to_string();
    let client = spawn(&["tcp-client", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(client.line(), format!("sending: {HANDOUT_MESSAGE}"));
    for _ in 0..6 {
        assert!(client.line().starts_with("received: "));
    }
    for _ in 0..3 {
        assert!(server.line().starts_with("received: "));
    }
    // Q7: the client holds on; the server's recv() blocks.
    assert_eq!(server.line_within(Duration::from_millis(700)), None);
    assert_eq!(client.line_within(Duration::from_millis(10)), None);
    // Q8: the client is killed (as Ctrl+C does); the kernel closes its
    // socket and the server's recv() returns 0 bytes.
    let pid = client.pid();
    let client = client.kill();
    let line = server.line();
    assert!(
        line.starts_with("No more data from ('127.0.0.1', "),
        "server: {line:?}; client {pid}: {client:?}"
    );
}
