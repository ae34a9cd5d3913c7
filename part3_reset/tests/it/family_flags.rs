//! `-4` and `-6` restrict the requests to one family.

use crate::util::{parse_ack, port_of, reset_server, run};
use lab_server::{OffsetSep, UdpFamily};

#[test]
fn ipv6_only_reaches_an_ipv6_server() {
    let server = reset_server(UdpFamily::V6, 0.0, OffsetSep::Colon);
    let out = run(&["--host", "localhost", "--port", &port_of(&server), "-6"]);
    out.expect_code(0);
    assert_eq!(parse_ack(&out.lines()[0]).family, "IPv6");
}

#[test]
fn ipv4_only_does_not_reach_an_ipv6_server() {
    let server = reset_server(UdpFamily::V6, 0.0, OffsetSep::Colon);
    let out = run(&[
        "--host",
        "localhost",
        "--port",
        &port_of(&server),
        "-4",
        "--max-tries",
        "2",
        "--timeout",
        "0.2",
    ]);
    out.expect_code(1);
    assert!(out.stderr.contains("after 2 attempts"), "{out:#?}");
}

#[test]
fn ipv4_only_reaches_an_ipv4_server() {
    let server = reset_server(UdpFamily::V4, 0.0, OffsetSep::Colon);
    let out = run(&["--host", "localhost", "--port", &port_of(&server), "--ipv4"]);
    out.expect_code(0);
    assert_eq!(parse_ack(&out.lines()[0]).family, "IPv4");
}

#[test]
fn a_host_without_the_family_is_an_error() {
    let out = run(&["--host", "127.0.0.1", "--port", "9", "-6"]);
    out.expect_code(1);
    assert!(out.stderr.starts_with("part3_reset: error: "), "{out:#?}");
    assert!(out.stderr.contains("no IPv6 address"), "{out:#?}");
}
