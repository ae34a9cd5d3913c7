//! Both forms of the answer, the handout's `OFFSET=X` and the course server's `OFFSET:X`, are accepted and printed as `OFFSET=X`.

use crate::util::{parse_ack, port_of, reset_server, reset_server_for, run};
use lab_server::{OffsetSep, UdpFamily};

fn one_exchange(sep: OffsetSep, family: UdpFamily, expected: &str) {
    let server = reset_server_for(3, family, 0.0, sep);
    let port = port_of(&server);
    let out = run(&["--host", "localhost", "--port", &port, "--reset", "3"]);
    out.expect_code(0);
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "no summary without --runs: {out:#?}");
    let ack = parse_ack(&lines[0]);
    assert!(ack.value <= 3);
    assert_eq!(ack.family, expected);
    assert_eq!(
        ack.attempts, 1,
        "a lossless server answers the first attempt"
    );
    assert_eq!(ack.from.port().to_string(), port);
}

#[test]
fn equals_form() {
    one_exchange(OffsetSep::Equals, UdpFamily::V4, "IPv4");
}

#[test]
fn colon_form() {
    one_exchange(OffsetSep::Colon, UdpFamily::V6, "IPv6");
}

#[test]
fn reset_zero_gets_offset_zero() {
    let server = reset_server_for(0, UdpFamily::V4, 0.0, OffsetSep::Colon);
    let out = run(&[
        "--host",
        "127.0.0.1",
        "--port",
        &port_of(&server),
        "--reset",
        "0",
    ]);
    out.expect_code(0);
    assert_eq!(parse_ack(&out.lines()[0]).value, 0);
}

#[test]
fn v4_mapped_literal_is_reached_over_ipv4() {
    let server = reset_server(UdpFamily::V4, 0.0, OffsetSep::Colon);
    let port = port_of(&server);
    let out = run(&["--host", "::ffff:127.0.0.1", "--port", &port]);
    out.expect_code(0);
    let ack = parse_ack(&out.lines()[0]);
    assert_eq!(ack.family, "IPv4");
    assert_eq!(ack.from.to_string(), format!("127.0.0.1:{port}"));
}
