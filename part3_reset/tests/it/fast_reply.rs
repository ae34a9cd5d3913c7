//! A reply is acted on as soon as it arrives, not when the time-out or a polling interval runs out.

use crate::util::{check_runs, port_of, reset_server, run_within};
use lab_server::{OffsetSep, UdpFamily};
use std::time::Duration;

/// Ten exchanges with a 5 s time-out against a lossless server: a client
/// that waited for the time-out would take 50 s, one that polled every
/// 100 ms at least 0.5 s more than it should; the real thing takes
/// milliseconds. The bound is loose so that a loaded machine does not fail
/// it.
fn ten_quick_runs(family: UdpFamily, name: &str, server_ip: &str) {
    let server = reset_server(family, 0.0, OffsetSep::Colon);
    let port = port_of(&server);
    let out = run_within(
        &[
            "--host",
            "localhost",
            "--port",
            &port,
            "--timeout",
            "5",
            "--runs",
            "10",
        ],
        Duration::from_secs(30),
    );
    out.expect_code(0);
    let attempts = check_runs(
        &out,
        10,
        20,
        name,
        format!("{server_ip}:{port}").parse().unwrap(),
    );
    assert_eq!(attempts, 10, "{out:#?}");
    assert!(
        out.elapsed < Duration::from_secs(2),
        "took {:?}",
        out.elapsed
    );
}

#[test]
fn ipv4_replies_are_taken_at_once() {
    ten_quick_runs(UdpFamily::V4, "IPv4", "127.0.0.1");
}

#[test]
fn ipv6_replies_are_taken_at_once() {
    ten_quick_runs(UdpFamily::V6, "IPv6", "[::1]");
}
