//! Against a server that drops half the requests, on one family only, the client retransmits until answered and its summary adds up.

use crate::util::{check_runs, port_of, reset_server, reset_server_for, run_within};
use lab_server::{OffsetSep, UdpFamily};
use std::time::Duration;

/// 20 runs at loss 0.5 need about 40 attempts, about 20 of them timing out
/// after 0.2 s: some 4 s, rarely more than 10.
const LIMIT: Duration = Duration::from_secs(60);

/// `--runs 20 --timeout 0.2` against `server`, with `extra` arguments.
fn twenty_runs(server: &lab_server::LabServer, extra: &[&str]) -> (crate::util::Finished, String) {
    let port = port_of(server);
    let mut args = vec![
        "--host",
        "localhost",
        "--port",
        &port,
        "--runs",
        "20",
        "--timeout",
        "0.2",
    ];
    args.extend_from_slice(extra);
    let out = run_within(&args, LIMIT);
    out.expect_code(0);
    (out, port)
}

#[test]
fn ipv4_only_server_answers_over_ipv4() {
    let server = reset_server(UdpFamily::V4, 0.5, OffsetSep::Colon);
    let (out, port) = twenty_runs(&server, &[]);
    let server_addr = format!("127.0.0.1:{port}").parse().unwrap();
    let attempts = check_runs(&out, 20, 20, "IPv4", server_addr);
    assert!(attempts >= 20);
}

#[test]
fn ipv6_only_server_answers_over_ipv6() {
    let server = reset_server_for(5, UdpFamily::V6, 0.5, OffsetSep::Equals);
    let (out, port) = twenty_runs(&server, &["--reset", "5"]);
    let server_addr = format!("[::1]:{port}").parse().unwrap();
    check_runs(&out, 20, 5, "IPv6", server_addr);
}
